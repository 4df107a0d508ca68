//! Consolidation (docs/capacity.md "Consolidation"): in `fast` mode, when
//! the opt-in key is on, drain a busy instance whose every task the
//! placement simulation fits on the other busy instances, so that ECS moves
//! them and the instance empties and goes.
//!
//! Owns: which busy instances may be drained and why. May not touch: the
//! disruption budget's bookkeeping or the actions (the plan's), I/O or the
//! clock (`now` is an argument).

use super::model::{Cluster, Instance, ServiceState, Stage, Task};
use super::placement::{place, PlacementOptions};
use super::query::QueryError;
use jiff::Timestamp;
use std::collections::{BTreeMap, BTreeSet};

/// What may be consolidated, and how far.
pub struct Limits<'a> {
    /// Instances that may be drained at all: ACTIVE, busy, past warm-up.
    pub candidates: Vec<&'a Instance>,
    /// Every ACTIVE member of the group.
    pub active: Vec<&'a Instance>,
    /// Instances already chosen for draining in this plan.
    pub draining: BTreeSet<&'a str>,
    /// At most this many instances.
    pub budget: u32,
    /// `targetCapacity`: the group keeps `busy × 100 / target` instances.
    pub target_capacity: u32,
}

/// The busy instances to drain, least loaded first: every non-daemon task
/// of each one fits, by the placement simulation (resources, constraints,
/// strategies), on the *other busy* instances not being drained (an empty
/// instance is about to go; moving tasks onto it gains nothing), no task of
/// it protects itself, no service falls below its minimum healthy percent
/// while ECS replaces the tasks, and the group keeps the spare capacity
/// `targetCapacity` asks for.
///
/// # Errors
/// [`QueryError`] for an invalid `memberOf` expression.
pub fn choose(now: Timestamp, cluster: &Cluster, limits: &Limits<'_>) -> Result<Vec<String>, QueryError> {
    let mut chosen: Vec<String> = Vec::new();
    if limits.budget == 0 {
        return Ok(chosen);
    }
    let tasks_on = |id: &str| -> Vec<Task> {
        cluster
            .tasks
            .iter()
            .filter(|t| !t.daemon && matches!(t.stage, Stage::Running | Stage::Pending))
            .filter(|t| t.instance.as_deref() == Some(id))
            .cloned()
            .collect()
    };
    let shielded = super::plan::shielded_by_tasks(cluster, now);
    // The instances that keep running, as the simulation fills them.
    let mut view: Vec<Instance> = limits
        .active
        .iter()
        .filter(|i| i.non_daemon_tasks > 0 && !limits.draining.contains(i.id.as_str()))
        .map(|i| (*i).clone())
        .collect();
    let mut candidates = limits.candidates.clone();
    candidates.sort_by_key(|i| (i.non_daemon_tasks, std::cmp::Reverse(i.free.cpu), i.id.clone()));
    let mut moving: BTreeMap<String, u32> = BTreeMap::new();
    // Instances that take moved tasks stay: a task moves once per plan.
    let mut receivers: BTreeSet<String> = BTreeSet::new();
    for candidate in candidates {
        if chosen.len() as u32 >= limits.budget {
            break;
        }
        if shielded.contains(candidate.id.as_str()) || receivers.contains(&candidate.id) {
            continue;
        }
        let tasks = tasks_on(&candidate.id);
        // Tasks the snapshot does not show cannot be planned for: never
        // move what is not seen.
        if tasks.is_empty() || tasks.len() as u32 != candidate.non_daemon_tasks {
            continue;
        }
        let mut groups: BTreeMap<String, u32> = moving.clone();
        for t in &tasks {
            *groups.entry(t.group.clone()).or_default() += 1;
        }
        if !groups.iter().all(|(g, k)| keeps_minimum_healthy(cluster.services.iter().find(|s| &s.group == g), *k)) {
            continue;
        }
        // The group still holds `busy × 100 / target` instances after it.
        let remaining = (limits.active.len() as u32)
            .saturating_sub(limits.draining.len() as u32)
            .saturating_sub(chosen.len() as u32 + 1);
        let busy_after = (view.len() as u32).saturating_sub(1);
        if u64::from(remaining) * u64::from(limits.target_capacity) < u64::from(busy_after) * 100 {
            continue;
        }
        let mut trial: Vec<Instance> = view.iter().filter(|i| i.id != candidate.id).cloned().collect();
        let options = PlacementOptions { new_type: None, zones: &cluster.asg.zones, max_new: 0, seed: 0 };
        let result = place(&tasks, &mut trial, &options)?;
        // Half an instance's worth stays free on the others: a rise is
        // absorbed while a new instance launches (docs/capacity.md
        // "Consolidation": none left added under-provisioning, a whole one
        // saved a third as much).
        let spare =
            trial.iter().fold((0u64, 0u64), |(c, m), i| (c + u64::from(i.free.cpu), m + u64::from(i.free.memory)));
        let one = cluster.asg.instance_types.last().map_or((0, 0), |t| (u64::from(t.cpu) / 2, u64::from(t.memory) / 2));
        if result.unplaced.is_empty() && spare.0 >= one.0 && spare.1 >= one.1 {
            receivers.extend(result.placed.into_iter().map(|(_, instance)| instance));
            view = trial;
            moving = groups;
            chosen.push(candidate.id.clone());
        }
    }
    Ok(chosen)
}

/// Whether moving `k` of a service's tasks keeps it at or above its
/// minimum healthy percent (aws-behaviour §7.6): ECS starts replacements
/// first as far as `maximumPercent` allows; the rest stop before theirs
/// start. Both at 100 % deadlocks a drain: never. A task of no known
/// service (a standalone task) is not replaced by ECS: never moved.
fn keeps_minimum_healthy(service: Option<&ServiceState>, k: u32) -> bool {
    let Some(s) = service else { return false };
    if s.maximum_percent <= 100 && s.minimum_healthy_percent >= 100 {
        return false;
    }
    let ceiling = s.desired * s.maximum_percent / 100;
    let room = ceiling.saturating_sub(s.running + s.pending);
    let stop_first = k.saturating_sub(room);
    let floor = (u64::from(s.desired) * u64::from(s.minimum_healthy_percent)).div_ceil(100);
    u64::from(s.running.saturating_sub(stop_first)) >= floor
}
