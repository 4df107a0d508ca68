//! `fast` mode's reading of a target-tracking metric beyond one datapoint
//! (docs/configuration.md "fast mode"): the load each datapoint's tasks
//! carried, its trend, and the capacity a scale-out asks for when the
//! reading is capped or demand is climbing.
//!
//! Owns: those three rules and their constants. May not touch: the vote
//! (the policy's), how much evidence a scale-out needs (`evidence`'s) or
//! what is applied (the controller's).

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
    let new: Vec<Datapoint> = series
        .iter()
        .filter(|p| through.is_none_or(|t| p.timestamp > t) && p.timestamp <= ctx.now && p.value.is_finite())
        .filter(|p| !reads_capped(policy, p.value))
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

/// Whether `value` of the policy's metric is a capped reading: a
/// utilization in [`CAPPED_PERCENT`, `CAPPED_CEILING`], a floor of the
/// demand rather than its measure.
pub(super) fn reads_capped(policy: &TargetTrackingPolicy, value: f64) -> bool {
    caps_at_100(policy) && (CAPPED_PERCENT..=CAPPED_CEILING).contains(&value)
}

/// Whether the policy's metric is a utilization capped at 100 %.
fn caps_at_100(policy: &TargetTrackingPolicy) -> bool {
    policy.predefined.is_some_and(|p| !matches!(p, crate::config::PredefinedMetric::ALBRequestCountPerTarget))
        || (policy.predefined.is_none() && policy.metric.0.contains("Utilization{"))
}

/// The capacity one datapoint shows to be needed, without any trend: the
/// proportional capacity from the tasks that produced it, × [`CAPPED_HEADROOM`]
/// on a capped reading.
pub(super) fn demand_floor(policy: &TargetTrackingPolicy, point: Datapoint, tasks: u32) -> u32 {
    let capacity = proportional_capacity(tasks, point.value, policy.target_value);
    if reads_capped(policy, point.value) {
        ((f64::from(capacity) * CAPPED_HEADROOM).ceil().min(f64::from(u32::MAX))) as u32
    } else {
        capacity
    }
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
    let mut capacity = demand_floor(policy, point, tasks);
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

/// Helpers the policy modules' unit tests share.
#[cfg(test)]
pub(super) mod test_support {
    use crate::config::{MetricId, PredefinedMetric, TargetTrackingPolicy};
    use crate::memory::Datapoint;
    use jiff::Timestamp;

    /// Datapoints `spacing` seconds apart, oldest first.
    pub fn datapoints(values: &[f64], spacing: i64) -> Vec<Datapoint> {
        values
            .iter()
            .enumerate()
            .map(|(i, v)| Datapoint {
                timestamp: Timestamp::from_second(1_700_000_000 + spacing * i as i64).unwrap(),
                value: *v,
            })
            .collect()
    }

    /// A CPU target-tracking policy with target 50 %.
    pub fn cpu_policy() -> TargetTrackingPolicy {
        TargetTrackingPolicy {
            name: "cpu".into(),
            metric: MetricId("ECSServiceAverageCPUUtilization".into()),
            predefined: Some(PredefinedMetric::ECSServiceAverageCPUUtilization),
            target_value: 50.0,
            scale_out_cooldown_seconds: 0,
            scale_in_cooldown_seconds: 0,
            disable_scale_in: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::{cpu_policy, datapoints as loads};
    use super::*;

    #[test]
    fn trend_cases_with_the_reason_each_is_what_it_is() {
        // (name, loads, rising, sustained, falling)
        let cases: [(&str, &[f64], bool, bool, bool); 8] = [
            ("too few to tell", &[100.0, 150.0], false, false, false),
            ("a step: one jump then flat", &[100.0, 100.0, 200.0, 200.0, 200.0], false, false, false),
            ("a ramp: four climbing loads, +30 %", &[100.0, 110.0, 120.0, 130.0], true, false, false),
            ("a climb too small to be more than noise", &[100.0, 100.5, 101.0, 101.5], false, false, false),
            (
                "a gentle but sustained climb (a daily rise)",
                &[100.0, 100.5, 101.0, 101.5, 102.0, 102.5],
                true,
                true,
                false,
            ),
            ("noise: up, down, up", &[100.0, 130.0, 90.0, 140.0], false, false, false),
            ("a drain: four falling loads, −30 %", &[130.0, 120.0, 110.0, 100.0], false, false, true),
            ("a gentle, sustained drain", &[102.5, 102.0, 101.5, 101.0, 100.5, 100.0], false, false, true),
        ];
        for (name, values, rising, sustained, falling) in cases {
            let t = Trend::of(&loads(values, 20));
            assert_eq!((t.rising(), t.sustained(), t.falling()), (rising, sustained, falling), "{name}");
        }
    }

    #[test]
    fn a_rising_trend_projects_to_when_new_tasks_would_serve_at_most_a_quarter_more() {
        let t = Trend::of(&loads(&[100.0, 110.0, 120.0, 130.0], 20));
        // Slope 0.5 load/s; lead = age 40 s + spacing 20 s + start 30 s.
        assert!((t.slope.unwrap() - 0.5).abs() < 1e-9);
        assert_eq!(t.spacing, 20.0);
        let steep = Trend { slope: Some(100.0), spacing: 20.0, falling: false, climb: 4 };
        let policy = cpu_policy();
        let at = |s: i64| Timestamp::from_second(1_700_000_000 + s).unwrap();
        let point = Datapoint { timestamp: at(0), value: 65.0 };
        // 10 tasks at 65 % → 13 proportional; load 650 + 0.5 × 90 = 695 → 14.
        assert_eq!(scale_out_capacity(at(40), &policy, point, 10, &t), 14);
        // A steep slope is bounded: 650 × 1.25 = 812.5 → 17.
        assert_eq!(scale_out_capacity(at(40), &policy, point, 10, &steep), 17);
        // A capped reading: 10 × 100 / 50 = 20, × 1.5 headroom = 30.
        let capped = Datapoint { timestamp: at(0), value: 100.0 };
        assert_eq!(scale_out_capacity(at(40), &policy, capped, 10, &Trend::default()), 30);
    }
}
