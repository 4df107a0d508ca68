//! Opt-in limits beyond AWS (configured under `Autopilot`): stabilization
//! windows, per-direction rate limits and a maximum scale-in per evaluation.
//! Semantics follow the Kubernetes HPA `behavior` field (R-K8S-TOL, KEP-853):
//! a scale-in applies the largest recommendation of its window, a scale-out
//! the smallest; rate policies bound the change within a sliding period.

use crate::config::extensions::{DirectionRules, RatePolicyType, SelectPolicy};
use crate::config::Extensions;
use crate::decision::Block;
use crate::memory::{Recommendation, TargetMemory};
use jiff::{SignedDuration, Timestamp};

/// The scale-in stabilization while every `fast` policy sees demand drain.
pub const DRAINING_WINDOW: SignedDuration = SignedDuration::from_secs(300);

/// How long recommendations must have been recorded before a scale-in
/// window applies at all.
pub const COLD_START: SignedDuration = SignedDuration::from_secs(300);

/// The longest rate-limit period accepted by validation.
const LONGEST_PERIOD: SignedDuration = SignedDuration::from_secs(1800);

fn seconds(w: Option<u32>) -> Option<SignedDuration> {
    w.filter(|w| *w > 0).map(|w| SignedDuration::from_secs(i64::from(w)))
}

/// Records a recommendation when a stabilization window is configured.
pub(super) fn record_recommendation(now: Timestamp, ext: &Extensions, memory: &mut TargetMemory, capacity: u32) {
    let longest = seconds(ext.scale_in_stabilization_seconds()).max(seconds(ext.scale_out_stabilization_seconds()));
    let Some(longest) = longest else { return };
    memory.recommendations.push_back(Recommendation { at: now, capacity });
    memory.recommending_since.get_or_insert(now);
    let horizon = now.checked_sub(longest).unwrap_or(Timestamp::MIN);
    while memory.recommendations.front().is_some_and(|r| r.at < horizon) {
        memory.recommendations.pop_front();
    }
}

/// Limits a change from `current` to `proposed`; returns the capacity to
/// apply (possibly `current`) and records what limited it.
pub(super) fn limit(
    now: Timestamp,
    ext: &Extensions,
    memory: &mut TargetMemory,
    current: u32,
    proposed: u32,
    draining: bool,
    blocks: &mut Vec<Block>,
) -> u32 {
    record_recommendation(now, ext, memory, proposed);
    let mut result = proposed;

    // Stabilization: scale-out to at most the smallest recommendation of the
    // up window, scale-in to at least the largest of the down window.
    let since = |w: SignedDuration| now.checked_sub(w).unwrap_or(Timestamp::MIN);
    if result > current {
        if let Some(w) = seconds(ext.scale_out_stabilization_seconds()) {
            let floor =
                memory.recommendations.iter().filter(|r| r.at >= since(w)).map(|r| r.capacity).min().unwrap_or(result);
            let held = result.min(floor.max(current));
            if held != result {
                blocks.push(Block::StabilizationWindow { recommendation: result, held_at: held });
                result = held;
            }
        }
    } else if result < current {
        // While demand drains steadily the window is shortened: holding
        // the level of 15 minutes ago through a long decline only idles
        // tasks (docs/configuration.md "fast mode").
        let configured = seconds(ext.scale_in_stabilization_seconds());
        // Not within the full window of a scale-out, though: that would
        // undo it within the window (a flap).
        // The newest scale-out counts, not the one that opened the
        // cooldown: a larger scale-out inside a cooldown keeps the
        // cooldown's start (aws-behaviour §3.7) but is a change of its own.
        let newest_scale_out =
            memory.changes.iter().rev().find(|c| c.to > c.from).map(|c| c.at).max(memory.last_scale_out.map(|r| r.at));
        let recent_scale_out = configured.zip(newest_scale_out).is_some_and(|(w, at)| at >= since(w));
        let window =
            if draining && !recent_scale_out { configured.map(|w| w.min(DRAINING_WINDOW)) } else { configured };
        if let Some(w) = window {
            // Recommendations that do not yet span the window (a new
            // target, or memory lost) say nothing of the demand before
            // them: hold, as AWS's AlarmLow waits for its 15 datapoints.
            let covered = memory.recommending_since.is_some_and(|first| first <= since(w.min(COLD_START)));
            let ceiling = if covered {
                memory.recommendations.iter().filter(|r| r.at >= since(w)).map(|r| r.capacity).max().unwrap_or(result)
            } else {
                current
            };
            let held = result.max(ceiling.min(current));
            if held != result {
                blocks.push(Block::StabilizationWindow { recommendation: result, held_at: held });
                result = held;
            }
        }
    }

    // Rate limits over the changes already made inside each period.
    let horizon = now.checked_sub(LONGEST_PERIOD).unwrap_or(Timestamp::MIN);
    while memory.changes.front().is_some_and(|c| c.at < horizon) {
        memory.changes.pop_front();
    }
    let growing = result > current;
    let rules = if growing { ext.scale_out.as_ref() } else { ext.scale_in.as_ref() };
    if let Some(rules) = rules.filter(|_| result != current) {
        let limit = rate_limit(now, rules, memory, current, growing);
        let limited = if growing { result.min(limit) } else { result.max(limit) };
        if limited != result {
            blocks.push(Block::RateLimit { limit });
            result = limited;
        }
    }

    if let Some(k) = ext.max_scale_in_per_evaluation {
        let floor = current.saturating_sub(k);
        if result < floor {
            blocks.push(Block::MaxScaleInPerEvaluation { limit: floor });
            result = floor;
        }
    }
    result
}

/// The bound the rate policies put on this change (Kubernetes'
/// `calculateScaleUpLimitWithScalingRules` / `…ScaleDown…`).
fn rate_limit(now: Timestamp, rules: &DirectionRules, memory: &TargetMemory, current: u32, growing: bool) -> u32 {
    if rules.select_policy == Some(SelectPolicy::Disabled) {
        return current;
    }
    if rules.policies.is_empty() {
        return if growing { u32::MAX } else { 0 };
    }
    let limits = rules.policies.iter().map(|p| {
        let start = now.checked_sub(SignedDuration::from_secs(i64::from(p.period_seconds))).unwrap_or(Timestamp::MIN);
        let (added, removed) = memory.changes.iter().filter(|c| c.at > start).fold((0i64, 0i64), |(a, r), c| {
            let d = i64::from(c.to) - i64::from(c.from);
            if d > 0 {
                (a + d, r)
            } else {
                (a, r - d)
            }
        });
        let value = i64::from(p.value);
        let limit = if growing {
            let base = (i64::from(current) - added).max(0);
            match p.kind {
                RatePolicyType::Tasks => base + value,
                RatePolicyType::Percent => ((base as f64) * (1.0 + value as f64 / 100.0)).ceil() as i64,
            }
        } else {
            let base = i64::from(current) + removed;
            match p.kind {
                RatePolicyType::Tasks => base - value,
                RatePolicyType::Percent => ((base as f64) * (1.0 - value as f64 / 100.0)).floor() as i64,
            }
        };
        u32::try_from(limit.max(0)).unwrap_or(u32::MAX)
    });
    // "Max" allows the largest change: the highest limit up, the lowest down.
    let select = rules.select_policy.unwrap_or_default();
    let limits: Vec<u32> = limits.collect();
    let (lo, hi) = (limits.iter().copied().min().unwrap_or(current), limits.iter().copied().max().unwrap_or(current));
    match (select, growing) {
        (SelectPolicy::Max, true) | (SelectPolicy::Min, false) => hi,
        _ => lo,
    }
}
