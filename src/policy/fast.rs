//! `fast` mode's reading of a target-tracking metric beyond one datapoint
//! (docs/configuration.md "fast mode"): the load each datapoint's tasks
//! carried, its trend, and the capacity a scale-out asks for when the
//! reading is capped or demand is climbing.
//!
//! Owns: those three rules and their constants. May not touch: the vote
//! (the policy's) or what is applied (the controller's).

use super::{proportional_capacity, Context};
use crate::config::TargetTrackingPolicy;
use crate::memory::Datapoint;
use jiff::{SignedDuration, Timestamp};
use std::collections::BTreeMap;

/// How far back the load's trend looks.
pub const TREND_WINDOW: SignedDuration = SignedDuration::from_mins(10);
/// Demand counts as rising when this many newest loads climb one after
/// the other…
pub const CLIMB: usize = 4;
/// A climb this long (loads each above the one before) is a sustained
/// rise, not noise (1 chance in 720 for independent draws): the policy
/// scales out ahead of it even while the metric is still on target.
pub const SUSTAINED_CLIMB: usize = 6;
/// …by this fraction in all.
pub const RISE: f64 = 0.03;
/// From a scale-out decision until its tasks serve (start, health checks):
/// how far past the datapoint's age a rising trend is projected.
pub const START_ALLOWANCE: SignedDuration = SignedDuration::from_secs(30);
/// A trend projects at most this multiple of the newest load.
pub const MAX_PROJECTION: f64 = 1.25;
/// A utilization reading in [`CAPPED_PERCENT`, `CAPPED_CEILING`] is
/// capped: the tasks are saturated at their limit and the demand above is
/// unseen. (A reading well above 100 % is tasks bursting past their
/// reservation: a measurement, not a cap.)
pub const CAPPED_PERCENT: f64 = 99.0;
pub const CAPPED_CEILING: f64 = 100.5;
/// On a capped reading, the proportional capacity (a lower bound of what
/// is needed) is multiplied by this — once per generation of tasks, since
/// the base is the tasks that produced the reading.
pub const CAPPED_HEADROOM: f64 = 1.5;

/// How many tasks produced the datapoint at `point` (CloudWatch
/// `SampleCount`), when the observation carries it.
pub(super) fn reporting_tasks(ctx: &Context<'_>, policy: &TargetTrackingPolicy, point: Datapoint) -> Option<u32> {
    ctx.observation
        .sample_counts
        .get(&policy.metric)
        .and_then(|counts| counts.iter().find(|c| c.timestamp == point.timestamp))
        .map(|c| c.value.round().max(0.0) as u32)
        .filter(|n| *n > 0)
}

/// Adds the load of every datapoint newer than `through` (value × tasks
/// that reported it, else × running) and forgets loads older than the
/// trend window.
pub(super) fn record_loads(
    ctx: &Context<'_>,
    policy: &TargetTrackingPolicy,
    series: &[Datapoint],
    through: Option<Timestamp>,
    loads: &mut BTreeMap<String, Vec<Datapoint>>,
) {
    // A capped reading is a lower bound, not a measurement: it would make
    // a step look like a climb as tasks are added.
    let capped = caps_at_100(policy);
    let new: Vec<Datapoint> = series
        .iter()
        .filter(|p| through.is_none_or(|t| p.timestamp > t) && p.timestamp <= ctx.now && p.value.is_finite())
        .filter(|p| !(capped && is_capped(p.value)))
        .map(|p| {
            let tasks = reporting_tasks(ctx, policy, *p).unwrap_or(ctx.running);
            Datapoint { timestamp: p.timestamp, value: p.value * f64::from(tasks) }
        })
        .collect();
    let loads = loads.entry(policy.name.clone()).or_default();
    loads.extend(new);
    loads.sort_by_key(|p| p.timestamp);
    loads.dedup_by_key(|p| p.timestamp);
    if let Some(newest) = loads.last().map(|p| p.timestamp) {
        let horizon = newest.checked_sub(TREND_WINDOW).unwrap_or(Timestamp::MIN);
        loads.retain(|p| p.timestamp >= horizon);
    }
}

/// The load's trend over the window.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Trend {
    /// Least-squares slope, load per second, when demand is rising.
    slope: Option<f64>,
    /// Seconds between the newest two loads (the stream's period).
    spacing: f64,
    /// The newest loads fell one after the other ([`CLIMB`] of them, by
    /// [`RISE`] in all): demand is draining.
    falling: bool,
    /// How many of the newest loads climbed one after the other.
    climb: usize,
}

impl Trend {
    /// The trend of `loads` (oldest first): rising when the newest
    /// [`CLIMB`] loads each exceed the one before and the newest is
    /// [`RISE`] above the first of them; the slope is fitted over those.
    /// A step is one jump then flat, and noise seldom climbs [`CLIMB`]
    /// times in a row: neither counts.
    #[must_use]
    pub fn of(loads: &[Datapoint]) -> Self {
        let n = loads.len();
        if n < CLIMB {
            return Self::default();
        }
        let climb = 1 + loads.windows(2).rev().take_while(|w| w[1].value > w[0].value).count();
        let fall = 1 + loads.windows(2).rev().take_while(|w| w[1].value < w[0].value).count();
        let loads = &loads[n - CLIMB..];
        let climbing = loads.windows(2).all(|w| w[1].value > w[0].value);
        let (first, last) = (loads[0], loads[CLIMB - 1]);
        if loads.windows(2).all(|w| w[1].value < w[0].value)
            && (last.value <= first.value * (1.0 - RISE) || fall >= SUSTAINED_CLIMB)
        {
            return Self { falling: true, ..Self::default() };
        }
        // A sustained climb counts however gentle (a slow daily rise);
        // a short one must also be steep enough not to be noise.
        let sustained = climb >= SUSTAINED_CLIMB;
        if !sustained && (!climbing || last.value < first.value * (1.0 + RISE)) {
            return Self::default();
        }
        let n = CLIMB;
        let t0 = first.timestamp;
        let xs: Vec<f64> = loads.iter().map(|p| p.timestamp.duration_since(t0).as_secs_f64()).collect();
        let mean_x = xs.iter().sum::<f64>() / n as f64;
        let mean_y = loads.iter().map(|p| p.value).sum::<f64>() / n as f64;
        let (mut sxy, mut sxx) = (0.0, 0.0);
        for (x, p) in xs.iter().zip(loads) {
            sxy += (x - mean_x) * (p.value - mean_y);
            sxx += (x - mean_x) * (x - mean_x);
        }
        let slope = if sxx > 0.0 { sxy / sxx } else { 0.0 };
        let spacing = last.timestamp.duration_since(loads[n - 2].timestamp).as_secs_f64();
        Self { slope: (slope > 0.0 && slope.is_finite()).then_some(slope), spacing, falling: false, climb }
    }

    /// Whether demand is rising.
    #[must_use]
    pub fn rising(self) -> bool {
        self.slope.is_some()
    }

    /// Whether the rise is sustained ([`SUSTAINED_CLIMB`] loads).
    #[must_use]
    pub fn sustained(self) -> bool {
        self.rising() && self.climb >= SUSTAINED_CLIMB
    }

    /// Whether demand is steadily falling.
    #[must_use]
    pub fn falling(self) -> bool {
        self.falling
    }
}

fn is_capped(value: f64) -> bool {
    (CAPPED_PERCENT..=CAPPED_CEILING).contains(&value)
}

/// Whether the policy's metric is a utilization capped at 100 %.
fn caps_at_100(policy: &TargetTrackingPolicy) -> bool {
    policy.predefined.is_some_and(|p| !matches!(p, crate::config::PredefinedMetric::ALBRequestCountPerTarget))
        || (policy.predefined.is_none() && policy.metric.0.contains("Utilization{"))
}

/// What a scale-out asks for: the proportional capacity from the tasks
/// that produced the reading; on a capped reading × [`CAPPED_HEADROOM`];
/// while demand rises, enough for the load projected to when new tasks
/// would serve (at most [`MAX_PROJECTION`] × the newest).
pub(super) fn scale_out_capacity(
    now: Timestamp,
    policy: &TargetTrackingPolicy,
    point: Datapoint,
    tasks: u32,
    trend: &Trend,
) -> u32 {
    let target = policy.target_value;
    let mut capacity = proportional_capacity(tasks, point.value, target);
    if caps_at_100(policy) && is_capped(point.value) {
        capacity = ((f64::from(capacity) * CAPPED_HEADROOM).ceil().min(f64::from(u32::MAX))) as u32;
    }
    if let Some(slope) = trend.slope {
        let load = point.value * f64::from(tasks);
        // Until the next datapoint can be acted on, plus the tasks' start.
        let lead =
            now.duration_since(point.timestamp).as_secs_f64().max(0.0) + trend.spacing + START_ALLOWANCE.as_secs_f64();
        let projected = (load + slope * lead).min(load * MAX_PROJECTION);
        let needed = (projected / target - 1e-9).ceil();
        if needed.is_finite() && needed > f64::from(capacity) {
            capacity = needed.min(f64::from(u32::MAX)) as u32;
        }
    }
    capacity
}
