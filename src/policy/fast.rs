//! `fast` mode's reading of a target-tracking metric beyond one datapoint
//! (docs/configuration.md "fast mode"): the load each datapoint's tasks
//! carried, its trend, and the capacity a scale-out asks for when the
//! reading is capped or demand is climbing.
//!
//! Owns: those three rules and their constants. May not touch: the vote
//! (the policy's) or what is applied (the controller's).

use super::{proportional_capacity, Context};
use crate::config::TargetTrackingPolicy;
use crate::memory::{Datapoint, Probe};
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
/// A single datapoint above the band, not yet confirmed by the one before
/// it, adds at most this fraction of the tasks that produced it (at least
/// one task): the first datapoint of a flash crowd looks exactly like the
/// first datapoint of a step, and tasks added for a crowd that has already
/// left idle for the whole scale-in stabilization (docs/configuration.md
/// "fast mode").
pub const PROBE_FRACTION: f64 = 0.15;
/// Two datapoints confirm each other when no more than this separates
/// them (a missing datapoint in between breaks the confirmation).
pub const CONFIRMATION_GAP: SignedDuration = SignedDuration::from_secs(120);
/// A datapoint this fraction below the one before it shows the excess
/// receding: it does not confirm a scale-out.
pub const RECEDING: f64 = 0.1;
/// Datapoints in a row that confirm a scale-out reversing a recent
/// scale-in (AWS's AlarmHigh: 3 of 3).
pub const WARY_CONFIRMATION: usize = 3;
/// How much time the datapoints confirming a scale-out must cover.
pub const CONFIRMATION_SPAN: SignedDuration = SignedDuration::from_secs(60);

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

/// The capacity one datapoint shows to be needed, without any trend: the
/// proportional capacity from the tasks that produced it, × [`CAPPED_HEADROOM`]
/// on a capped reading.
fn demand_floor(policy: &TargetTrackingPolicy, point: Datapoint, tasks: u32) -> u32 {
    let capacity = proportional_capacity(tasks, point.value, policy.target_value);
    if caps_at_100(policy) && is_capped(point.value) {
        ((f64::from(capacity) * CAPPED_HEADROOM).ceil().min(f64::from(u32::MAX))) as u32
    } else {
        capacity
    }
}

/// The datapoint just before `point` in `series`, when it is close enough
/// to confirm it ([`CONFIRMATION_GAP`]).
pub(super) fn previous(series: &[Datapoint], point: Datapoint) -> Option<Datapoint> {
    let i = series.partition_point(|p| p.timestamp < point.timestamp);
    let before = *series.get(i.checked_sub(1)?)?;
    (point.timestamp.duration_since(before.timestamp) <= CONFIRMATION_GAP && before.value.is_finite()).then_some(before)
}

/// The evidence behind a scale-out: how much one datapoint above the band
/// may add, and how much two in a row may.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Evidence {
    /// Only this datapoint is above the band: a probe of at most
    /// [`PROBE_FRACTION`] of the tasks.
    Single,
    /// The datapoint before was above the band too: at most what the
    /// smaller of the two shows is needed (Kubernetes' scale-up
    /// stabilization over two datapoints), so one outlier never sizes it.
    Confirmed { previous_floor: u32 },
    /// The load climbed for [`CLIMB`] datapoints or more: the trend itself
    /// is the evidence, and its projection is the size.
    Trend,
}

/// What evidence backs a scale-out on `point` (above the band): the run of
/// consecutive datapoints above the band that ends with it confirms it
/// once it holds two datapoints covering at least [`CONFIRMATION_SPAN`]
/// (two at 60 s, three at 20 s: as long as AWS's own 3 × 20-s alarm).
/// `wary` (a scale-out now would reverse a recent scale-in: a flap) asks
/// for more: three datapoints, as AWS's AlarmHigh does, and a sustained
/// climb rather than a short one.
pub(super) fn evidence(
    ctx: &Context<'_>,
    policy: &TargetTrackingPolicy,
    series: &[Datapoint],
    point: Datapoint,
    trend: &Trend,
    band_top: f64,
    wary: bool,
) -> Evidence {
    if trend.rising() && (!wary || trend.sustained()) {
        return Evidence::Trend;
    }
    let needed_count = if wary { WARY_CONFIRMATION } else { 2 };
    let Some(before) = previous(series, point) else { return Evidence::Single };
    if before.value > band_top && point.value < before.value * (1.0 - RECEDING) {
        // Above the band but well below the datapoint before: the excess is
        // receding (a crowd leaving), which confirms nothing.
        return Evidence::Single;
    }
    let spacing = point.timestamp.duration_since(before.timestamp);
    let (mut earliest, mut count, mut floor, mut newest) = (point, 1usize, None::<u32>, point);
    while let Some(p) = previous(series, newest).filter(|p| p.value > band_top) {
        count += 1;
        earliest = p;
        newest = p;
        // A capped reading is a lower bound of the demand, not a
        // measurement: it confirms, but does not bound the size.
        if !(caps_at_100(policy) && is_capped(p.value)) {
            let tasks = reporting_tasks(ctx, policy, p).unwrap_or(ctx.running);
            let f = demand_floor(policy, p, tasks);
            floor = Some(floor.map_or(f, |g: u32| g.min(f)));
        }
        if count >= needed_count && point.timestamp.duration_since(earliest.timestamp) + spacing >= CONFIRMATION_SPAN {
            break;
        }
    }
    if count < needed_count || point.timestamp.duration_since(earliest.timestamp) + spacing < CONFIRMATION_SPAN {
        return Evidence::Single;
    }
    match floor {
        Some(previous_floor) => Evidence::Confirmed { previous_floor },
        None => Evidence::Trend,
    }
}

/// A datapoint this many times the target is not noise around it: even
/// right after a scale-in, it scales out on its own.
pub const UNMISTAKABLE_EXCESS: f64 = 1.5;

/// Whether `value` is far enough above the target to act on alone at any
/// time: [`UNMISTAKABLE_EXCESS`] × target, or a capped reading.
pub(super) fn unmistakable(policy: &TargetTrackingPolicy, value: f64) -> bool {
    value >= policy.target_value * UNMISTAKABLE_EXCESS || (caps_at_100(policy) && is_capped(value))
}

/// Whether the last scale-in is within the scale-in stabilization window:
/// a scale-out now would reverse it within the window (a flap).
pub(super) fn recently_scaled_in(ctx: &Context<'_>, last_scale_in: Option<crate::memory::ScaleRecord>) -> bool {
    let window = SignedDuration::from_secs(i64::from(ctx.extensions.scale_in_stabilization_seconds().unwrap_or(0)));
    last_scale_in.is_some_and(|r| r.at.checked_add(window).is_ok_and(|until| ctx.now < until))
}

/// The decision record's account of `evidence` for a scale-out that
/// wanted `full` before the evidence bounded it.
pub(super) fn record_of(evidence: Evidence, full: u32) -> crate::decision::Evidence {
    use crate::decision::Evidence as Record;
    match evidence {
        Evidence::Single => Record::Single { wanted: full },
        Evidence::Confirmed { previous_floor } => Record::Confirmed { wanted: full.min(previous_floor) },
        Evidence::Trend => Record::Trend { wanted: full },
    }
}

/// Bounds a scale-out to what its evidence allows.
pub(super) fn bounded_by_evidence(capacity: u32, tasks: u32, evidence: Evidence) -> u32 {
    match evidence {
        Evidence::Trend => capacity,
        Evidence::Confirmed { previous_floor } => capacity.min(previous_floor.max(tasks.saturating_add(1))),
        Evidence::Single => {
            let probe = ((f64::from(tasks) * PROBE_FRACTION).floor() as u32).max(1);
            capacity.min(tasks.saturating_add(probe))
        }
    }
}

/// When judging a probe, a datapoint this fraction above the target (or
/// inside the scale-out band, if wider) still counts as on target: a task
/// that starts part-way through a period skews that period's average by
/// about this much.
pub const PROBE_SLACK: f64 = 0.02;

/// The tasks a datapoint shows to be needed, for judging a probe.
pub(super) fn needed_for_probe(policy: &TargetTrackingPolicy, tasks: u32, value: f64, tolerance_out: f64) -> u32 {
    proportional_capacity(tasks, value, policy.target_value * (1.0 + tolerance_out.max(PROBE_SLACK)))
}

/// The policy's probe, if the desired count still stands where it put it
/// (a probe not applied, undone or overtaken is forgotten); a new
/// datapoint's need at target is added to it.
pub(super) fn outstanding_probe(
    ctx: &Context<'_>,
    policy: &TargetTrackingPolicy,
    probes: &mut BTreeMap<String, Probe>,
    point: Datapoint,
    fresh: bool,
    needed: u32,
) -> Option<Probe> {
    let probe = probes.get_mut(&policy.name)?;
    if ctx.observation.desired_count != probe.to {
        probes.remove(&policy.name);
        return None;
    }
    // Only datapoints measured since the probe say whether its tasks were
    // needed: earlier ones show the demand that prompted it.
    if fresh && point.timestamp >= probe.at {
        probe.needed = probe.needed.max(needed);
    }
    Some(*probe)
}

/// Remembers a scale-out bounded to a probe, or forgets the probe once a
/// datapoint measured since it confirms a scale-out (the probe's tasks
/// are then needed). A confirmation from datapoints measured before the
/// probe says nothing of it: they show the demand that prompted it.
pub(super) fn remember_probe(
    ctx: &Context<'_>,
    policy: &TargetTrackingPolicy,
    probes: &mut BTreeMap<String, Probe>,
    point: Datapoint,
    tasks: u32,
    capacity: u32,
    evidence: Evidence,
) {
    if evidence == Evidence::Single {
        if capacity > ctx.observation.desired_count {
            // The datapoint that asked for the probe is not evidence that
            // it is needed: only later datapoints count.
            probes.insert(policy.name.clone(), Probe { at: ctx.now, from: tasks, to: capacity, needed: tasks });
        }
    } else if probes.get(&policy.name).is_some_and(|p| point.timestamp >= p.at) {
        probes.remove(&policy.name);
    }
}

/// Whether a probe can be withdrawn: a whole scale-in stabilization window
/// has passed since it, and no datapoint since needed more than the tasks
/// before it.
pub(super) fn probe_withdrawable(ctx: &Context<'_>, probe: &Probe) -> bool {
    let window = SignedDuration::from_secs(i64::from(ctx.extensions.scale_in_stabilization_seconds().unwrap_or(0)));
    probe.needed <= probe.from && probe.at.checked_add(window).is_ok_and(|until| ctx.now > until)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn loads(values: &[f64], spacing: i64) -> Vec<Datapoint> {
        values
            .iter()
            .enumerate()
            .map(|(i, v)| Datapoint {
                timestamp: Timestamp::from_second(1_700_000_000 + spacing * i as i64).unwrap(),
                value: *v,
            })
            .collect()
    }

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
        let policy = TargetTrackingPolicy {
            name: "cpu".into(),
            metric: crate::config::MetricId("ECSServiceAverageCPUUtilization".into()),
            predefined: Some(crate::config::PredefinedMetric::ECSServiceAverageCPUUtilization),
            target_value: 50.0,
            scale_out_cooldown_seconds: 0,
            scale_in_cooldown_seconds: 0,
            disable_scale_in: false,
        };
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
