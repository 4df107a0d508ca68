//! Policy evaluation: what each target-tracking and step policy wants, given
//! the observation and the controller memory (aws-behaviour §3, §4). The combination
//! of proposals, cooldowns, bounds and blocks is `controller`'s job.
//!
//! Owns: the capacity formulas and each policy's alarm logic. May not touch:
//! I/O, the clock, or the decision of what is finally applied.

pub mod alarm;
mod evidence;
mod fast;

use crate::config::{
    AdjustmentType, Aggregation, EvaluationMode, Extensions, MetricId, StepPolicy, TargetTrackingPolicy,
};
use crate::decision::{
    AlarmReport, AlarmState, Direction, Evidence, PolicyEvaluation, PolicyKind, PolicyOutcome, Proposal,
};
use crate::memory::{Datapoint, TargetMemory};
use alarm::AlarmWindow;
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What the controller sees of one service at one instant.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub struct Observation {
    /// The service's desired count now.
    pub desired_count: u32,
    /// RUNNING tasks across all deployments (aws-behaviour §2.4).
    pub running_count: u32,
    #[serde(default)]
    pub pending_count: u32,
    /// RUNNING tasks of the PRIMARY deployment; `fast` mode bases its
    /// arithmetic on it during deployments (aws-behaviour §16 item 5).
    #[serde(default)]
    pub primary_running_count: Option<u32>,
    /// A deployment is in progress: no scale-in (aws-behaviour §2.5).
    #[serde(default)]
    pub deployment_in_progress: bool,
    /// New datapoints per metric (any order; overlap with memory is fine).
    #[serde(default)]
    pub metrics: BTreeMap<MetricId, Vec<Datapoint>>,
    /// How many tasks reported each datapoint: CloudWatch `SampleCount` of
    /// the ECS service `CPUUtilization` is the number of RUNNING tasks
    /// (aws-behaviour §11.1). `fast` mode bases its arithmetic on the tasks that produced
    /// the datapoint rather than on tasks started since, so a late datapoint
    /// does not scale out twice. `aws` mode ignores it (AWS uses the running
    /// count, aws-behaviour §2.4).
    #[serde(default)]
    pub sample_counts: BTreeMap<MetricId, Vec<Datapoint>>,
}

/// A policy's vote, before combination.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Vote {
    Out(u32),
    In(u32),
    /// Ready to scale in (AlarmLow in ALARM) but not invoked this minute.
    ReadyIn,
    /// Ready to scale out but not invoked this minute.
    ReadyOut,
    Hold,
    NoData,
}

/// A policy evaluation plus what the combiner needs.
#[derive(Clone, Debug)]
pub struct PolicyResult {
    pub evaluation: PolicyEvaluation,
    pub vote: Vote,
    pub scale_out_cooldown: SignedDuration,
    pub scale_in_cooldown: SignedDuration,
    pub kind: PolicyKind,
    pub scale_in_enabled: bool,
    /// The policy looked at data it had not acted on before. A `fast`
    /// policy re-reading a datapoint it already evaluated is not fresh: its
    /// "no change" says nothing new and is not a stabilization
    /// recommendation.
    pub fresh: bool,
    /// A `fast` policy saw its load fall steadily: the controller may
    /// shorten the scale-in stabilization (docs/configuration.md).
    pub draining: bool,
    /// A `fast` policy found a new datapoint inside its tolerance band: the
    /// tasks that produced it are enough for that demand. This, not the
    /// desired count (which may count tasks started since), is what the
    /// scale-in stabilization records for it.
    pub enough_for_now: Option<u32>,
}

/// How often an alarm in ALARM re-invokes its policy (aws-behaviour §3.5).
pub const REINVOCATION: SignedDuration = SignedDuration::from_secs(60);
/// In `fast` mode a newest datapoint older than this counts as missing.
/// A `fast` scale-in goes to where the metric sits this far into the
/// tolerance band below target (0: on target; 1: at the band's bottom):
/// half-way leaves room for noise without idling tasks (chosen with the
/// sweep, docs/configuration.md "fast mode").
pub const SCALE_IN_BAND_DEPTH: f64 = 0.5;
pub const FAST_STALENESS: SignedDuration = SignedDuration::from_mins(5);

/// Capacity that puts the metric on target, rounded up both ways (aws-behaviour §3.6
/// our algorithm, as AWS publishes none): adds enough, never removes too much. From zero
/// running tasks it is 1, "the minimum possible amount".
#[must_use]
pub fn proportional_capacity(running: u32, metric: f64, target: f64) -> u32 {
    if running == 0 {
        return 1;
    }
    let exact = f64::from(running) * metric / target;
    // A hair of slack so 10 × 70 / 70 is 10, not 11 through float noise.
    let rounded = (exact - 1e-9).ceil();
    if rounded <= 0.0 {
        0
    } else if rounded >= f64::from(u32::MAX) {
        u32::MAX
    } else {
        rounded as u32
    }
}

/// The step change for `PercentChangeInCapacity` (aws-behaviour §4.3): above 1 floor,
/// in (0, 1) → 1, in (−1, 0) → −1, below −1 ceil; `MinAdjustmentMagnitude`
/// raises the magnitude (applied both ways: our choice).
#[must_use]
pub fn percent_change(capacity: u32, percent: i64, min_magnitude: Option<u32>) -> i64 {
    let raw = f64::from(capacity) * percent as f64 / 100.0;
    let mut delta = if raw >= 1.0 {
        raw.floor()
    } else if raw > 0.0 {
        1.0
    } else if raw > -1.0 && raw < 0.0 {
        -1.0
    } else {
        raw.ceil()
    } as i64;
    if let Some(m) = min_magnitude {
        if delta != 0 && delta.abs() < i64::from(m) {
            delta = i64::from(m) * delta.signum();
        }
    }
    delta
}

fn to_capacity(value: i64) -> u32 {
    u32::try_from(value.max(0)).unwrap_or(u32::MAX)
}

fn latest(series: &[Datapoint], now: Timestamp) -> Option<Datapoint> {
    series.iter().rev().find(|p| p.timestamp <= now).copied()
}

fn is_due(memory: &TargetMemory, alarm: &str, now: Timestamp) -> bool {
    memory.alarm_invoked_at.get(alarm).is_none_or(|at| now.duration_since(*at) >= REINVOCATION)
}

/// Shared inputs of every policy evaluation.
pub struct Context<'a> {
    pub now: Timestamp,
    pub resource_id: &'a str,
    /// Running tasks: the base of the arithmetic.
    pub running: u32,
    pub extensions: &'a Extensions,
    pub observation: &'a Observation,
}

/// Evaluates one target tracking policy (aws-behaviour §3).
pub fn target_tracking(ctx: &Context<'_>, policy: &TargetTrackingPolicy, memory: &mut TargetMemory) -> PolicyResult {
    let series = memory.datapoints.get(&policy.metric).map(Vec::as_slice).unwrap_or_default();
    let newest = latest(series, ctx.now);
    let target = policy.target_value;
    let mut evaluation = PolicyEvaluation {
        policy: policy.name.clone(),
        kind: PolicyKind::TargetTracking,
        metric: Some(policy.metric.clone()),
        metric_value: None,
        metric_time: newest.map(|p| p.timestamp),
        alarm: None,
        proposal: None,
        evidence: None,
        outcome: PolicyOutcome::InsufficientData,
    };
    let result = |evaluation: PolicyEvaluation, vote| PolicyResult {
        evaluation,
        vote,
        scale_out_cooldown: SignedDuration::from_secs(i64::from(policy.scale_out_cooldown_seconds)),
        scale_in_cooldown: SignedDuration::from_secs(i64::from(policy.scale_in_cooldown_seconds)),
        kind: PolicyKind::TargetTracking,
        scale_in_enabled: !policy.disable_scale_in,
        fresh: true,
        draining: false,
        enough_for_now: None,
    };
    let value = newest.map(|p| p.value);
    evaluation.metric_value = value;
    let propose = |value: f64| proportional_capacity(ctx.running, value, target);
    let (tol_out, tol_in) = (ctx.extensions.tolerance_out(), ctx.extensions.tolerance_in());
    match ctx.extensions.mode {
        EvaluationMode::Aws => {
            let shape = ctx.extensions.alarm_shape(policy.high_resolution());
            let high_name = format!("TargetTracking-{}-AlarmHigh-{}", ctx.resource_id, policy.name);
            let low_name = format!("TargetTracking-{}-AlarmLow-{}", ctx.resource_id, policy.name);
            let high = AlarmWindow {
                period_seconds: shape.period_seconds,
                evaluation_periods: shape.high_evaluation_periods,
                datapoints_to_alarm: shape.high_datapoints_to_alarm,
                treat_missing: crate::config::TreatMissing::Missing,
            }
            .evaluate(series, ctx.now, |v| v > target);
            let low_threshold = shape.low_threshold_ratio * target;
            // DisableScaleIn: no AlarmLow at all (our choice, aws-behaviour §3.4).
            let low = (!policy.disable_scale_in).then(|| {
                AlarmWindow {
                    period_seconds: shape.period_seconds,
                    evaluation_periods: shape.low_evaluation_periods,
                    datapoints_to_alarm: shape.low_datapoints_to_alarm,
                    treat_missing: crate::config::TreatMissing::Missing,
                }
                .evaluate(series, ctx.now, |v| v < low_threshold)
            });
            let report = |name: &str, e: &alarm::AlarmEvaluation, needed, threshold| AlarmReport {
                name: name.to_owned(),
                state: e.state,
                breaching: e.breaching,
                datapoints: e.present,
                needed,
                threshold,
            };
            if high.state == AlarmState::Alarm {
                evaluation.alarm = Some(report(&high_name, &high, shape.high_datapoints_to_alarm, target));
                let Some(value) = value else { return result(evaluation, Vote::NoData) };
                if value / target - 1.0 <= tol_out && tol_out > 0.0 {
                    evaluation.outcome = PolicyOutcome::WithinTarget;
                    return result(evaluation, Vote::Hold);
                }
                if !is_due(memory, &high_name, ctx.now) {
                    evaluation.outcome = PolicyOutcome::AwaitingReinvocation;
                    return result(evaluation, Vote::ReadyOut);
                }
                memory.alarm_invoked_at.insert(high_name, ctx.now);
                let capacity = propose(value);
                evaluation.proposal = Some(Proposal { direction: Direction::Out, capacity });
                evaluation.outcome = PolicyOutcome::NoChange;
                return result(evaluation, Vote::Out(capacity));
            }
            if let Some(low) = low.filter(|l| l.state == AlarmState::Alarm) {
                evaluation.alarm = Some(report(&low_name, &low, shape.low_datapoints_to_alarm, low_threshold));
                let Some(value) = value else { return result(evaluation, Vote::NoData) };
                if 1.0 - value / target <= tol_in && tol_in > 0.0 {
                    evaluation.outcome = PolicyOutcome::WithinTarget;
                    return result(evaluation, Vote::Hold);
                }
                if !is_due(memory, &low_name, ctx.now) {
                    evaluation.outcome = PolicyOutcome::AwaitingReinvocation;
                    return result(evaluation, Vote::ReadyIn);
                }
                memory.alarm_invoked_at.insert(low_name, ctx.now);
                let capacity = propose(value);
                evaluation.proposal = Some(Proposal { direction: Direction::In, capacity });
                evaluation.outcome = PolicyOutcome::NoChange;
                return result(evaluation, Vote::In(capacity));
            }
            evaluation.alarm = Some(report(&high_name, &high, shape.high_datapoints_to_alarm, target));
            if high.state == AlarmState::InsufficientData || value.is_none() {
                return result(evaluation, Vote::NoData);
            }
            evaluation.outcome = PolicyOutcome::WithinTarget;
            result(evaluation, Vote::Hold)
        }
        EvaluationMode::Fast => {
            let fresh = newest.filter(|p| ctx.now.duration_since(p.timestamp) <= FAST_STALENESS);
            let (Some(point), Some(value)) = (fresh, value) else {
                return result(evaluation, Vote::NoData);
            };
            // Each datapoint is acted on once: re-using a value measured
            // before the last change would overshoot.
            let through = memory.evaluated_through.get(&policy.name).copied();
            let seen = through.is_some_and(|t| t >= point.timestamp);
            let stale = |mut r: PolicyResult| {
                r.fresh = !seen;
                r
            };
            if !seen {
                memory.evaluated_through.insert(policy.name.clone(), point.timestamp);
                fast::record_loads(ctx, policy, series, through, &mut memory.loads);
            }
            let trend = fast::Trend::of(memory.loads.get(&policy.name).map(Vec::as_slice).unwrap_or_default());
            let result = |evaluation: PolicyEvaluation, vote| PolicyResult {
                draining: trend.falling(),
                ..result(evaluation, vote)
            };
            // The tasks that produced the datapoint: the base of every
            // capacity below.
            let tasks = fast::reporting_tasks(ctx, policy, point).unwrap_or(ctx.running);
            let needed = evidence::needed_for_probe(policy, tasks, value, tol_out);
            let probe = evidence::outstanding_probe(ctx, policy, &mut memory.probes, point, !seen, needed);
            let ratio = value / target;
            let vote = if ratio > 1.0 + tol_out {
                Direction::Out
            } else if ratio < 1.0 - tol_in && !policy.disable_scale_in {
                if trend.rising() {
                    // Demand is climbing: what is idle now is needed soon.
                    evaluation.outcome = PolicyOutcome::WithinTarget;
                    return stale(result(evaluation, Vote::Hold));
                }
                Direction::In
            } else if trend.sustained() && fast::scale_out_capacity(ctx.now, policy, point, tasks, &trend) > ctx.running
            {
                // On target now, but a sustained climb will outgrow the
                // tasks before new ones could serve: scale out ahead of it.
                Direction::Out
            } else if let Some(probe) = probe.filter(|p| !seen && evidence::probe_withdrawable(ctx, p)) {
                // A whole window of datapoints never needed the probe's
                // tasks: withdraw it (no flap: the window has passed). The
                // probe is forgotten once the desired count moves, so a
                // withdrawal held back (a deployment, another policy) is
                // tried again on the next datapoint.
                evaluation.evidence = Some(Evidence::ProbeUnneeded { probed_at: probe.at, needed: probe.needed });
                evaluation.proposal = Some(Proposal { direction: Direction::In, capacity: probe.from });
                evaluation.outcome = PolicyOutcome::NoChange;
                return result(evaluation, Vote::In(probe.from));
            } else {
                evaluation.outcome = PolicyOutcome::WithinTarget;
                // While a probe is outstanding, an in-band datapoint
                // recommends what it needs at target (at least the tasks
                // before the probe), so the probe can be withdrawn.
                let enough = probe.map_or(tasks, |p| needed.max(p.from));
                return stale(PolicyResult { enough_for_now: Some(enough), ..result(evaluation, Vote::Hold) });
            };
            if seen {
                evaluation.outcome = PolicyOutcome::AwaitingReinvocation;
                return stale(result(evaluation, if vote == Direction::Out { Vote::ReadyOut } else { Vote::ReadyIn }));
            }
            let capacity = if !value.is_finite() || tasks == 0 {
                propose(value)
            } else if vote == Direction::Out {
                let full = fast::scale_out_capacity(ctx.now, policy, point, tasks, &trend);
                // Reversing a recent scale-in is a flap: it needs more
                // evidence, unless the datapoint is far above any noise
                // around the target.
                let wary =
                    !evidence::unmistakable(policy, value) && evidence::recently_scaled_in(ctx, memory.last_scale_in);
                let basis = evidence::evidence(ctx, policy, series, point, &trend, target * (1.0 + tol_out), wary);
                if basis == evidence::Evidence::Single && wary {
                    evaluation.outcome = PolicyOutcome::AwaitingConfirmation;
                    return result(evaluation, Vote::Hold);
                }
                let capacity = evidence::bounded_by_evidence(full, tasks, basis);
                evaluation.evidence = Some(evidence::record_of(basis, full));
                evidence::remember_probe(ctx, policy, &mut memory.probes, point, tasks, capacity, basis);
                capacity
            } else {
                // Scale in to where the metric sits half-way into the band,
                // not on target: the next small rise then stays inside it
                // (no scale-out right after a scale-in). A probe no datapoint
                // needed goes whole: the tasks before it were enough (the
                // scale-in stabilization keeps it for its window).
                let mut half_way = proportional_capacity(tasks, value, target * (1.0 - tol_in * SCALE_IN_BAND_DEPTH));
                if half_way >= tasks && trend.falling() {
                    // Rounding up to half-way removes nothing, yet the load
                    // keeps falling below the band: scale in as far as the
                    // metric stays on target (noise is no steady fall).
                    half_way = proportional_capacity(tasks, value, target);
                }
                match probe.filter(|p| p.needed <= p.from && p.from < half_way) {
                    Some(probe) => {
                        evaluation.evidence =
                            Some(Evidence::ProbeUnneeded { probed_at: probe.at, needed: probe.needed });
                        probe.from
                    }
                    None => half_way,
                }
            };
            evaluation.proposal = Some(Proposal { direction: vote, capacity });
            evaluation.outcome = PolicyOutcome::NoChange;
            result(evaluation, if vote == Direction::Out { Vote::Out(capacity) } else { Vote::In(capacity) })
        }
    }
}

/// Evaluates one step scaling policy (aws-behaviour §4). `base_during_cooldown` is the
/// capacity before the scale-out that opened a still-running cooldown of this
/// policy: the earlier increase counts as part of the new step (aws-behaviour §4.4).
pub fn step(
    ctx: &Context<'_>,
    policy: &StepPolicy,
    base_during_cooldown: Option<u32>,
    memory: &mut TargetMemory,
) -> PolicyResult {
    let series = memory.datapoints.get(&policy.alarm.metric).map(Vec::as_slice).unwrap_or_default();
    let alarm = &policy.alarm;
    let e = alarm.evaluate(series, ctx.now);
    let cooldown = SignedDuration::from_secs(i64::from(policy.cooldown_seconds));
    let aggregated = aggregate(&e.values, policy.aggregation);
    let mut evaluation = PolicyEvaluation {
        policy: policy.name.clone(),
        kind: PolicyKind::Step,
        metric: Some(alarm.metric.clone()),
        metric_value: aggregated,
        metric_time: latest(series, ctx.now).map(|p| p.timestamp),
        alarm: Some(AlarmReport {
            name: alarm.name.clone(),
            state: e.state,
            breaching: e.breaching,
            datapoints: e.present,
            needed: alarm.datapoints_to_alarm,
            threshold: alarm.threshold,
        }),
        proposal: None,
        evidence: None,
        outcome: PolicyOutcome::WithinTarget,
    };
    let result = |evaluation, vote| PolicyResult {
        evaluation,
        vote,
        scale_out_cooldown: cooldown,
        scale_in_cooldown: cooldown,
        kind: PolicyKind::Step,
        scale_in_enabled: true,
        fresh: true,
        draining: false,
        enough_for_now: None,
    };
    let vote_when_not_alarm = if e.state == AlarmState::InsufficientData { Vote::NoData } else { Vote::Hold };
    if e.state != AlarmState::Alarm {
        if vote_when_not_alarm == Vote::NoData {
            evaluation.outcome = PolicyOutcome::InsufficientData;
        }
        return result(evaluation, vote_when_not_alarm);
    }
    let Some(value) = aggregated else {
        evaluation.outcome = PolicyOutcome::InsufficientData;
        return result(evaluation, Vote::NoData);
    };
    let Some(adjustment) = step_for(policy, value - alarm.threshold) else {
        // No step covers this value: the alarm fires but nothing applies.
        return result(evaluation, Vote::Hold);
    };
    let grows = match policy.adjustment_type {
        AdjustmentType::ExactCapacity => i64::from(ctx.running) < adjustment,
        _ => adjustment > 0,
    };
    if !is_due(memory, &alarm.name, ctx.now) {
        evaluation.outcome = PolicyOutcome::AwaitingReinvocation;
        return result(evaluation, if grows { Vote::ReadyOut } else { Vote::ReadyIn });
    }
    memory.alarm_invoked_at.insert(alarm.name.clone(), ctx.now);
    let base = match (grows, base_during_cooldown) {
        (true, Some(base)) => base,
        _ => ctx.running,
    };
    let capacity = to_capacity(match policy.adjustment_type {
        AdjustmentType::ChangeInCapacity => i64::from(base) + adjustment,
        AdjustmentType::ExactCapacity => adjustment,
        AdjustmentType::PercentChangeInCapacity => {
            i64::from(base) + percent_change(base, adjustment, policy.min_adjustment_magnitude)
        }
    });
    let direction =
        if capacity > ctx.running || (grows && capacity >= ctx.running) { Direction::Out } else { Direction::In };
    if capacity == ctx.running && !grows && adjustment == 0 {
        evaluation.outcome = PolicyOutcome::NoChange;
        return result(evaluation, Vote::Hold);
    }
    evaluation.proposal = Some(Proposal { direction, capacity });
    evaluation.outcome = PolicyOutcome::NoChange;
    result(evaluation, if direction == Direction::Out { Vote::Out(capacity) } else { Vote::In(capacity) })
}

/// The adjustment of the step containing `offset` (metric − threshold):
/// `[lower, upper)` above the threshold, `(lower, upper]` below (aws-behaviour §4.2).
#[must_use]
pub fn step_for(policy: &StepPolicy, offset: f64) -> Option<i64> {
    policy
        .steps
        .iter()
        .find(|s| {
            let lower = s.lower.unwrap_or(f64::NEG_INFINITY);
            let upper = s.upper.unwrap_or(f64::INFINITY);
            if offset >= 0.0 {
                lower <= offset && offset < upper
            } else {
                lower < offset && offset <= upper
            }
        })
        .map(|s| s.adjustment)
}

fn aggregate(values: &[f64], how: Aggregation) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    Some(match how {
        Aggregation::Average => values.iter().sum::<f64>() / values.len() as f64,
        Aggregation::Minimum => values.iter().copied().fold(f64::INFINITY, f64::min),
        Aggregation::Maximum => values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
    })
}
