//! How much evidence a `fast` scale-out needs, and what a probe is
//! (docs/configuration.md "fast mode"): one datapoint above the band is a
//! probe of a few tasks, datapoints covering a minute confirm the full
//! scale-out, a receding excess confirms nothing, a probe no later
//! datapoint needed is withdrawn after the scale-in window, and a recent
//! scale-in is reversed only on more evidence.
//!
//! Owns: those rules, their constants and the probe's memory. May not
//! touch: the size of a scale-out before evidence bounds it (`fast`'s), the
//! vote (the policy's) or what is applied (the controller's).

use super::fast::{demand_floor, reads_capped, reporting_tasks, Trend};
use super::{proportional_capacity, Context};
use crate::config::TargetTrackingPolicy;
use crate::memory::{Datapoint, Probe, ScaleRecord};
use jiff::SignedDuration;
use std::collections::BTreeMap;

/// A single datapoint above the band, not yet confirmed by the one before
/// it, adds at most this fraction of the tasks that produced it (at least
/// one task): the first datapoint of a flash crowd looks exactly like the
/// first datapoint of a step, and tasks added for a crowd that has already
/// left idle for the whole scale-in stabilization (docs/configuration.md
/// "fast mode").
pub const PROBE_FRACTION: f64 = 0.1;
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

/// The datapoint just before `point` in `series`, when it is close enough
/// to confirm it ([`CONFIRMATION_GAP`]).
pub(super) fn previous(series: &[Datapoint], point: Datapoint) -> Option<Datapoint> {
    let i = series.partition_point(|p| p.timestamp < point.timestamp);
    let before = *series.get(i.checked_sub(1)?)?;
    (point.timestamp.duration_since(before.timestamp) <= CONFIRMATION_GAP && before.value.is_finite()).then_some(before)
}

/// The evidence behind a scale-out: how much one datapoint above the band
/// may add, and how much a confirmed run of them may.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Evidence {
    /// Only this datapoint is above the band (or the run is too short): a
    /// probe of at most [`PROBE_FRACTION`] of the tasks.
    Single,
    /// A run above the band covering [`CONFIRMATION_SPAN`]: at most the
    /// smallest need of the datapoints before this one (Kubernetes'
    /// scale-up stabilization over the run), so one outlier never sizes it.
    Confirmed { previous_floor: u32 },
    /// A rising load (the trend is the evidence and its projection the
    /// size), or a confirmed run of capped readings only (floors, which
    /// bound nothing).
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
    let (mut earliest, mut count, mut floor, mut next) = (point, 1usize, None::<u32>, Some(before));
    while let Some(p) = next.filter(|p| p.value > band_top) {
        count += 1;
        earliest = p;
        next = previous(series, p);
        // A capped reading is a lower bound of the demand, not a
        // measurement: it confirms, but does not bound the size.
        if !reads_capped(policy, p.value) {
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
    value >= policy.target_value * UNMISTAKABLE_EXCESS || reads_capped(policy, value)
}

/// Whether the last scale-in is within the scale-in stabilization window:
/// a scale-out now would reverse it within the window (a flap).
pub(super) fn recently_scaled_in(ctx: &Context<'_>, last_scale_in: Option<ScaleRecord>) -> bool {
    last_scale_in.is_some_and(|r| r.at.checked_add(scale_in_window(ctx)).is_ok_and(|until| ctx.now < until))
}

/// The scale-in stabilization window in force (none: zero), the span both
/// a probe and a scale-in are protected against reversal.
fn scale_in_window(ctx: &Context<'_>) -> SignedDuration {
    SignedDuration::from_secs(i64::from(ctx.extensions.scale_in_stabilization_seconds().unwrap_or(0)))
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
    probe.needed <= probe.from && probe.at.checked_add(scale_in_window(ctx)).is_ok_and(|until| ctx.now > until)
}

#[cfg(test)]
mod tests {
    use super::super::fast::test_support::{cpu_policy, datapoints};
    use super::*;
    use crate::config::{EvaluationMode, Extensions};
    use crate::policy::Observation;

    #[test]
    fn evidence_cases_with_the_reason_each_is_what_it_is() {
        let extensions = Extensions { mode: EvaluationMode::Fast, ..Extensions::default() };
        let observation = Observation::default();
        let policy = cpu_policy();
        // (name, spacing, values (newest last), wary, expected)
        let cases: [(&str, i64, &[f64], bool, Evidence); 10] = [
            ("one datapoint above target after one on it", 60, &[50.0, 80.0], false, Evidence::Single),
            ("nothing before it", 60, &[80.0], false, Evidence::Single),
            (
                "two minutes above target: the smaller need bounds it",
                60,
                &[50.0, 70.0, 80.0],
                false,
                Evidence::Confirmed { previous_floor: 14 },
            ),
            ("two 20-s datapoints cover 40 s: not yet", 20, &[50.0, 80.0, 80.0], false, Evidence::Single),
            (
                "three 20-s datapoints cover a minute",
                20,
                &[50.0, 80.0, 80.0, 80.0],
                false,
                Evidence::Confirmed { previous_floor: 16 },
            ),
            ("a receding excess: 99 % then 76 %", 60, &[50.0, 99.0, 76.0], false, Evidence::Single),
            ("capped readings confirm without bounding", 60, &[50.0, 100.0, 100.0], false, Evidence::Trend),
            ("a gap of a missing datapoint breaks the run", 180, &[80.0, 80.0], false, Evidence::Single),
            ("after a scale-in two minutes are not enough", 60, &[50.0, 80.0, 80.0], true, Evidence::Single),
            (
                "after a scale-in three minutes are",
                60,
                &[50.0, 80.0, 80.0, 80.0],
                true,
                Evidence::Confirmed { previous_floor: 16 },
            ),
        ];
        for (name, spacing, values, wary, expected) in cases {
            let points = datapoints(values, spacing);
            let point = *points.last().unwrap();
            let ctx = Context {
                now: point.timestamp,
                resource_id: "service/c/web",
                running: 10,
                extensions: &extensions,
                observation: &observation,
            };
            let got = evidence(&ctx, &policy, &points, point, &Trend::default(), 50.0, wary);
            assert_eq!(got, expected, "{name}");
        }
    }

    #[test]
    fn a_probe_adds_at_most_ten_percent_and_a_confirmation_at_least_one_task() {
        // 10 tasks: 10 % is 1; 25 tasks: 2.5, floored to 2; 5 tasks: at least 1.
        assert_eq!(bounded_by_evidence(16, 10, Evidence::Single), 11);
        assert_eq!(bounded_by_evidence(50, 25, Evidence::Single), 27);
        assert_eq!(bounded_by_evidence(10, 5, Evidence::Single), 6);
        // Never more than asked for.
        assert_eq!(bounded_by_evidence(11, 20, Evidence::Single), 11);
        // Confirmed: the smaller need of the run, but at least one task more.
        assert_eq!(bounded_by_evidence(18, 10, Evidence::Confirmed { previous_floor: 16 }), 16);
        assert_eq!(bounded_by_evidence(18, 10, Evidence::Confirmed { previous_floor: 9 }), 11);
        assert_eq!(bounded_by_evidence(18, 10, Evidence::Trend), 18);
    }
}
