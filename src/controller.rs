//! The controller: one pure function from (now, configuration, observation,
//! memory) to (decision, memory').
//!
//! ```text
//! observation ─► ingest datapoints ─► scheduled actions (aws-behaviour §5.3) ─► each policy (aws-behaviour §3, §4)
//!   ─► combine (aws-behaviour §3.8) ─► out-of-range rules (aws-behaviour §2.2) ─► suspension / deployment / cooldowns
//!   ─► opt-in limits (stabilization, rate limits, max scale-in) ─► Decision + memory'
//! ```
//!
//! Owns: the order of those steps and every reason recorded. May not touch:
//! I/O or the clock; applying actions is the ports' job.

mod behavior;

use crate::config::extensions::MissingMetrics;
use crate::config::{EvaluationMode, TargetConfig};
use crate::decision::{Action, Block, Decision, PolicyKind, PolicyOutcome, Reason};
use crate::memory::{ScaleRecord, ScheduledBounds, TargetMemory};
use crate::policy::{self, Context, Observation, PolicyResult, Vote};
use jiff::{SignedDuration, Timestamp};

/// Scheduled actions are looked back this far on a target's first evaluation.
const FIRST_SCHEDULE_LOOKBACK: SignedDuration = SignedDuration::from_secs(60);

/// Evaluates one scalable target at `now`.
///
/// Returns the decision record and the memory to store for the next call.
/// The memory passed in is consumed: a caller that fails to apply the
/// decision's actions must keep its previous copy (nothing is half-applied).
pub fn evaluate(
    now: Timestamp,
    cfg: &TargetConfig,
    obs: &Observation,
    mut memory: TargetMemory,
) -> (Decision, TargetMemory) {
    let ext = &cfg.extensions;
    let original = obs.desired_count;
    // `fast` mode counts the primary deployment's tasks (aws-behaviour §16 item 5);
    // `aws` mode the running count across deployments (aws-behaviour §2.4).
    let running = match (ext.mode, obs.primary_running_count) {
        (EvaluationMode::Fast, Some(primary)) => primary,
        _ => obs.running_count,
    };
    let keep = datapoint_retention(cfg);
    for id in cfg.metric_ids() {
        if let Some(points) = obs.metrics.get(&id) {
            memory.ingest(&id, points, now, keep);
        } else if let Some(series) = memory.datapoints.get_mut(&id) {
            let horizon = now.checked_sub(keep).unwrap_or(Timestamp::MIN);
            series.retain(|p| p.timestamp >= horizon);
        }
    }

    let mut blocks = Vec::new();
    let mut actions = Vec::new();
    let (mut min, mut max) = bounds(cfg, &memory);
    let mut desired = original;
    let mut scheduled_reason = None;

    // Scheduled actions (aws-behaviour §5.3): ignore cooldowns; missed ones while
    // suspended are skipped for good (aws-behaviour §2.3).
    let from =
        memory.schedules_checked_until.unwrap_or_else(|| now.checked_sub(FIRST_SCHEDULE_LOOKBACK).unwrap_or(now));
    let mut due: Vec<(Timestamp, &crate::config::ScheduledActionConfig)> = cfg
        .scheduled
        .iter()
        .flat_map(|a| a.schedule.fires_between(from, now, 1_000).into_iter().map(move |t| (t, a)))
        .collect();
    due.sort_by(|x, y| x.0.cmp(&y.0).then_with(|| x.1.name.cmp(&y.1.name)));
    for (at, action) in due {
        if cfg.suspended.scheduled_scaling_suspended {
            blocks.push(Block::ScheduledScalingSuspended { action: action.name.clone(), due: at });
            continue;
        }
        let (new_min, new_max) = (action.min_capacity.unwrap_or(min), action.max_capacity.unwrap_or(max));
        if new_min > new_max {
            blocks.push(Block::InvalidScheduledBounds { action: action.name.clone(), min: new_min, max: new_max });
            continue;
        }
        (min, max) = (new_min, new_max);
        memory.scheduled_bounds =
            Some(ScheduledBounds { min, max, configured_min: cfg.min_capacity, configured_max: cfg.max_capacity });
        actions.push(Action::SetBounds { min, max });
        scheduled_reason = Some(action.name.clone());
    }
    if now > from {
        memory.schedules_checked_until = Some(now);
    }
    // Clamp to the desired count, not the running count (our choice, aws-behaviour §16 item 8).
    if scheduled_reason.is_some() {
        desired = desired.clamp(min, max);
    }

    let ctx = Context { now, resource_id: &cfg.resource_id, running, extensions: ext, observation: obs };
    let cooldown_base = memory.last_scale_out;
    let mut results: Vec<PolicyResult> =
        cfg.target_tracking.iter().map(|p| policy::target_tracking(&ctx, p, &mut memory)).collect();
    for p in &cfg.step {
        let cooldown = SignedDuration::from_secs(i64::from(p.cooldown_seconds));
        let base = cooldown_base.filter(|r| now < r.at.checked_add(cooldown).unwrap_or(r.at)).map(|r| r.from);
        results.push(policy::step(&ctx, p, base, &mut memory));
    }

    let mut outcome = combine(now, cfg, obs, &memory, &mut results, desired, min, max, &mut blocks);
    if let Some(new) = outcome.target {
        // Bounds beat the opt-in limits: out of range, AWS moves straight
        // into [min, max] (aws-behaviour §2.2), so a limit never holds a change outside it.
        let draining = ext.mode == EvaluationMode::Fast
            && results.iter().any(|r| r.kind == PolicyKind::TargetTracking)
            && results.iter().filter(|r| r.kind == PolicyKind::TargetTracking).all(|r| r.draining);
        let limited = behavior::limit(now, ext, &mut memory, desired, new, draining, &mut blocks).clamp(min, max);
        if limited == desired {
            outcome.target = None;
            outcome.reason = Reason::Blocked;
            mark_winner(&mut results, &outcome.winner, PolicyOutcome::Blocked);
        } else {
            outcome.target = Some(limited);
        }
    } else if (outcome.reason == Reason::NoChange || outcome.reason == Reason::AlreadyAtDesiredCapacity)
        && results.iter().any(|r| r.fresh)
    {
        // Only a look at new data recommends, and a re-read of an evaluated
        // datapoint would hold a scale-in forever. A `fast` datapoint inside
        // its band recommends the tasks that produced it; otherwise keeping
        // the desired count is the recommendation.
        let recommendation =
            results.iter().filter(|r| r.fresh).map(|r| r.enough_for_now.unwrap_or(desired)).max().unwrap_or(desired);
        behavior::record_recommendation(now, ext, &mut memory, recommendation);
    }

    let mut reason = outcome.reason;
    if let Some(new) = outcome.target {
        record_change(now, &mut memory, desired, new, &results, &outcome.winner);
        desired = new;
    } else if let (Reason::InsufficientData, MissingMetrics::FixedCount { count }) = (&reason, ext.missing_metrics) {
        let fallback = count.clamp(min, max);
        if fallback != desired {
            desired = fallback;
            reason = Reason::MissingMetricsFallback;
        }
    }
    if let Some(action) =
        scheduled_reason.filter(|_| outcome.target.is_none() && !matches!(reason, Reason::MissingMetricsFallback))
    {
        reason = Reason::ScheduledAction { action };
    }
    if desired != original {
        actions.push(Action::SetDesiredCount { from: original, to: desired });
    }
    let decision = Decision {
        time: now,
        service: cfg.resource_id.clone(),
        mode: ext.mode,
        current: original,
        running: obs.running_count,
        min_capacity: min,
        max_capacity: max,
        computed: outcome.computed,
        desired,
        reason,
        policies: results.into_iter().map(|r| r.evaluation).collect(),
        blocked_by: blocks,
        actions,
        deferred: None,
    };
    (decision, memory)
}

/// The bounds in force: those of the last scheduled action, unless the target
/// was re-registered with other bounds since.
fn bounds(cfg: &TargetConfig, memory: &TargetMemory) -> (u32, u32) {
    match memory.scheduled_bounds {
        Some(b) if b.configured_min == cfg.min_capacity && b.configured_max == cfg.max_capacity => (b.min, b.max),
        _ => (cfg.min_capacity, cfg.max_capacity),
    }
}

/// How far back the policies of `cfg` read datapoints: the longest alarm
/// window with its evaluation range (its periods plus the extra range
/// CloudWatch reads) plus one period, or `fast` mode's staleness limit. A
/// caller that fetches at least this far back on every evaluation need not
/// keep datapoints between evaluations (the handler does not).
#[must_use]
pub fn datapoint_retention(cfg: &TargetConfig) -> SignedDuration {
    let ext = &cfg.extensions;
    let extra = crate::policy::alarm::AlarmWindow::EXTRA_RANGE as u32 + 1;
    let tt = cfg.target_tracking.iter().map(|p| {
        let s = ext.alarm_shape(p.high_resolution());
        s.period_seconds * (s.high_evaluation_periods.max(s.low_evaluation_periods) + extra)
    });
    let step = cfg.step.iter().map(|p| p.alarm.period_seconds * (p.alarm.evaluation_periods + extra));
    let longest = tt.chain(step).max().unwrap_or(0).max(policy::FAST_STALENESS.as_secs() as u32);
    SignedDuration::from_secs(i64::from(longest))
}

struct Combined {
    target: Option<u32>,
    computed: Option<u32>,
    reason: Reason,
    winner: Option<usize>,
}

fn mark_winner(results: &mut [PolicyResult], winner: &Option<usize>, outcome: PolicyOutcome) {
    if let Some(i) = winner {
        results[*i].evaluation.outcome = outcome;
    }
}

/// Combines the policies' votes (aws-behaviour §3.8) and applies bounds (aws-behaviour §2.2),
/// suspension (aws-behaviour §2.3), the deployment guard (aws-behaviour §2.5) and cooldowns (aws-behaviour §3.7, §4.4).
#[allow(clippy::too_many_arguments)]
fn combine(
    now: Timestamp,
    cfg: &TargetConfig,
    obs: &Observation,
    memory: &TargetMemory,
    results: &mut [PolicyResult],
    desired: u32,
    min: u32,
    max: u32,
    blocks: &mut Vec<Block>,
) -> Combined {
    let pick = |want_out: bool, results: &[PolicyResult]| -> Option<(usize, u32)> {
        // Largest capacity wins both ways; ties go to the first policy.
        results
            .iter()
            .enumerate()
            .filter_map(|(i, r)| match (r.vote, want_out) {
                (Vote::Out(c), true) | (Vote::In(c), false) => Some((i, c)),
                _ => None,
            })
            .fold(None, |best: Option<(usize, u32)>, (i, c)| match best {
                Some((_, bc)) if bc >= c => best,
                _ => Some((i, c)),
            })
    };
    let outvote_others = |results: &mut [PolicyResult], winner: usize| {
        for (i, r) in results.iter_mut().enumerate() {
            if i != winner && r.evaluation.proposal.is_some() && r.evaluation.outcome == PolicyOutcome::NoChange {
                r.evaluation.outcome = PolicyOutcome::Outvoted;
            }
        }
    };
    let within = |record: Option<ScaleRecord>, cooldown: SignedDuration| {
        record.and_then(|r| r.at.checked_add(cooldown).ok()).filter(|until| now < *until)
    };

    if let Some((winner, proposal)) = pick(true, results) {
        outvote_others(results, winner);
        let computed = Some(proposal);
        let out_cooldown = results[winner].scale_out_cooldown;
        let mut done = |reason, outcome| {
            results[winner].evaluation.outcome = outcome;
            Combined { target: None, computed, reason, winner: Some(winner) }
        };
        if cfg.suspended.dynamic_scaling_out_suspended {
            blocks.push(Block::DynamicScalingOutSuspended);
            return done(Reason::Blocked, PolicyOutcome::Blocked);
        }
        // Above max, a scale-out does not adjust the desired count (aws-behaviour §2.2).
        if desired >= max {
            return done(Reason::AlreadyAtMaxCapacity, PolicyOutcome::NoChange);
        }
        // Below min, a scale-out first goes to min, then scales out (aws-behaviour §2.2).
        let target = proposal.clamp(min, max);
        if target <= desired {
            // Computed from the running count, the proposal already includes
            // capacity added earlier; during the cooldown only a larger
            // scale-out is applied (aws-behaviour §3.7).
            if let Some(until) = within(memory.last_scale_out, out_cooldown) {
                blocks.push(Block::ScaleOutCooldown { until });
                return done(Reason::Blocked, PolicyOutcome::Blocked);
            }
            return done(Reason::AlreadyAtDesiredCapacity, PolicyOutcome::NoChange);
        }
        results[winner].evaluation.outcome = PolicyOutcome::Won;
        let policy = results[winner].evaluation.policy.clone();
        return Combined { target: Some(target), computed, reason: Reason::ScaledOut { policy }, winner: Some(winner) };
    }

    // Scale-in: target tracking only if every policy with scale-in enabled
    // is ready (its AlarmLow in ALARM); step scale-in is not gated (aws-behaviour §3.8).
    let waiting: Vec<String> = results
        .iter()
        .filter(|r| {
            r.kind == PolicyKind::TargetTracking && r.scale_in_enabled && !matches!(r.vote, Vote::In(_) | Vote::ReadyIn)
        })
        .map(|r| r.evaluation.policy.clone())
        .collect();
    let tt_in_votes = results.iter().any(|r| r.kind == PolicyKind::TargetTracking && matches!(r.vote, Vote::In(_)));
    if tt_in_votes && !waiting.is_empty() {
        for r in results.iter_mut().filter(|r| r.kind == PolicyKind::TargetTracking && matches!(r.vote, Vote::In(_))) {
            r.vote = Vote::Hold;
            r.evaluation.outcome = PolicyOutcome::ScaleInNotUnanimous;
        }
        blocks.push(Block::ScaleInNotUnanimous { waiting });
    }
    if let Some((winner, proposal)) = pick(false, results) {
        outvote_others(results, winner);
        let computed = Some(proposal);
        let (out_cooldown, in_cooldown) = (results[winner].scale_out_cooldown, results[winner].scale_in_cooldown);
        let mut done = |reason, outcome| {
            results[winner].evaluation.outcome = outcome;
            Combined { target: None, computed, reason, winner: Some(winner) }
        };
        // Below min, a scale-in does not adjust the desired count (aws-behaviour §2.2).
        if desired <= min {
            return done(Reason::AlreadyAtMinCapacity, PolicyOutcome::NoChange);
        }
        // Above max, a scale-in first goes to max, then scales in (aws-behaviour §2.2).
        let target = proposal.clamp(min, max);
        if target >= desired {
            return done(Reason::AlreadyAtDesiredCapacity, PolicyOutcome::NoChange);
        }
        let before = blocks.len();
        if cfg.suspended.dynamic_scaling_in_suspended {
            blocks.push(Block::DynamicScalingInSuspended);
        }
        if obs.deployment_in_progress {
            blocks.push(Block::DeploymentInProgress);
        }
        if let Some(until) = within(memory.last_scale_in, in_cooldown) {
            blocks.push(Block::ScaleInCooldown { until });
        }
        // Not documented whether a scale-out cooldown blocks scale-in; we
        // follow our documented choice (aws-behaviour §3.7) in both modes.
        if let Some(until) = within(memory.last_scale_out, out_cooldown) {
            blocks.push(Block::ScaleOutCooldown { until });
        }
        if blocks.len() > before {
            return done(Reason::Blocked, PolicyOutcome::Blocked);
        }
        results[winner].evaluation.outcome = PolicyOutcome::Won;
        let policy = results[winner].evaluation.policy.clone();
        return Combined { target: Some(target), computed, reason: Reason::ScaledIn { policy }, winner: Some(winner) };
    }

    let reason = if results.is_empty() || results.iter().any(|r| r.vote != Vote::NoData) {
        if blocks.iter().any(|b| matches!(b, Block::ScaleInNotUnanimous { .. })) {
            Reason::Blocked
        } else {
            Reason::NoChange
        }
    } else {
        Reason::InsufficientData
    };
    Combined { target: None, computed: None, reason, winner: None }
}

/// Updates cooldown clocks and history after a change of desired count.
fn record_change(
    now: Timestamp,
    memory: &mut TargetMemory,
    from: u32,
    to: u32,
    results: &[PolicyResult],
    winner: &Option<usize>,
) {
    let record = ScaleRecord { at: now, from, to };
    if to > from {
        let cooldown = winner.map(|w| results[w].scale_out_cooldown).unwrap_or_default();
        let open = memory.last_scale_out.filter(|r| r.at.checked_add(cooldown).is_ok_and(|until| now < until));
        // A larger scale-out inside the cooldown keeps the cooldown's start
        // and base (aws-behaviour §3.7, §4.4); otherwise it opens a new cooldown.
        memory.last_scale_out = Some(match open {
            Some(r) => ScaleRecord { to, ..r },
            None => record,
        });
        // "the scale-in cooldown period stops and doesn't complete" (aws-behaviour §3.7).
        memory.last_scale_in = None;
    } else {
        memory.last_scale_in = Some(record);
    }
    memory.changes.push_back(record);
}
