//! Capacity decisions for one capacity provider: how many instances the
//! tasks need (CapacityProviderReservation, aws-behaviour §7.2–§7.3), and what to do
//! with the Auto Scaling group — in `aws` mode as cluster auto scaling does
//! (aws-behaviour §7.4–§7.6), in `fast` mode from an exact placement estimate.

use super::consolidate;
use super::model::{split_by_strategy, Cluster, Instance, Stage, Task};
use super::placement::{estimate, Estimate};
use super::query::QueryError;
use crate::config::extensions::{CapacitySection, DISRUPTION_RANGES as RANGES};
use crate::config::EvaluationMode;
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::collections::{BTreeMap, VecDeque};

/// Planner settings beyond AWS's `ManagedScaling`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CapacityOptions {
    pub mode: EvaluationMode,
    /// At most this many instances drained per window (and this percent of
    /// the group, whichever is smaller).
    pub disruption_instances: u32,
    pub disruption_percent: u32,
    pub disruption_window_seconds: u32,
    /// `fast` mode drains busy instances whose tasks fit on the others
    /// (opt-in; docs/capacity.md "Consolidation").
    #[serde(default)]
    pub consolidation: bool,
}

impl Default for CapacityOptions {
    fn default() -> Self {
        Self {
            mode: EvaluationMode::Aws,
            disruption_instances: 10,
            disruption_percent: 50,
            disruption_window_seconds: 60,
            consolidation: false,
        }
    }
}

/// A disruption budget AWS would not recognise as sensible.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {value} must be from {min} to {max}")]
pub struct BudgetError {
    /// `disruption_instances`, `disruption_percent` or
    /// `disruption_window_seconds`.
    pub field: &'static str,
    pub value: u32,
    pub min: u32,
    pub max: u32,
}

impl CapacityOptions {
    /// The disruption budget's accepted ranges, by option name
    /// ([`crate::config::extensions::DISRUPTION_RANGES`]: docs/capacity.md).
    pub const DISRUPTION_RANGES: [(&'static str, u32, u32); 3] = [
        ("disruption_instances", RANGES[0].1, RANGES[0].2),
        ("disruption_percent", RANGES[1].1, RANGES[1].2),
        ("disruption_window_seconds", RANGES[2].1, RANGES[2].2),
    ];

    /// The options for `mode` with the settings of an `Autopilot.Capacity`
    /// section (already overlaid by any environment variables); unset
    /// values keep their defaults.
    #[must_use]
    pub fn with_section(mode: EvaluationMode, section: &CapacitySection) -> Self {
        let d = Self::default();
        let b = section.disruption_budget;
        Self {
            mode,
            disruption_instances: b.instances.unwrap_or(d.disruption_instances),
            disruption_percent: b.percent.unwrap_or(d.disruption_percent),
            disruption_window_seconds: b.window_seconds.unwrap_or(d.disruption_window_seconds),
            consolidation: section.consolidation.unwrap_or(d.consolidation),
        }
    }

    /// Checks the disruption budget.
    ///
    /// # Errors
    /// [`BudgetError`] naming the first value out of its range.
    pub fn check(&self) -> Result<(), BudgetError> {
        let values = [self.disruption_instances, self.disruption_percent, self.disruption_window_seconds];
        for ((field, min, max), value) in Self::DISRUPTION_RANGES.into_iter().zip(values) {
            if !(min..=max).contains(&value) {
                return Err(BudgetError { field, value, min, max });
            }
        }
        Ok(())
    }
}

/// What the planner remembers between evaluations.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CapacityMemory {
    /// One CapacityProviderReservation datapoint per minute (aws mode).
    pub reservation: VecDeque<(Timestamp, f64)>,
    /// Instances drained recently (disruption budget).
    pub drained: VecDeque<(Timestamp, String)>,
}

/// A side effect on the Auto Scaling group or ECS.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum CapacityAction {
    /// `autoscaling:SetDesiredCapacity`.
    SetDesiredCapacity { from: u32, to: u32 },
    /// `autoscaling:SetInstanceProtection` on (busy instances).
    ProtectFromScaleIn { ec2_instance_ids: Vec<String> },
    /// `autoscaling:SetInstanceProtection` off (`aws` mode: instances whose
    /// non-daemon tasks have all stopped, so the group's scale-in can take
    /// them, as managed termination protection does).
    UnprotectFromScaleIn { ec2_instance_ids: Vec<String> },
    /// `ecs:UpdateContainerInstancesState` DRAINING (empty instances).
    Drain { container_instances: Vec<String> },
    /// `autoscaling:TerminateInstanceInAutoScalingGroup` with decrement
    /// (instances drained earlier that are still empty).
    TerminateAndDecrement { ec2_instance_ids: Vec<String> },
}

/// Why the capacity is what it is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "code", rename_all = "PascalCase")]
pub enum CapacityReason {
    ScaleOutForPendingTasks,
    ScaleOutReservationAboveTarget,
    ScaleIn,
    AtTarget,
    Blocked,
    AtMaximum,
    NothingToPlace,
    /// Busy instances drained because their tasks fit on the others
    /// (consolidation, docs/capacity.md).
    Consolidate,
}

/// What held a change back.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CapacityBlock {
    /// An instance is within `instanceWarmupPeriod` (aws mode, aws-behaviour §7.3 step 7).
    InstanceWarmup {
        until: Timestamp,
    },
    /// Fewer than 15 low datapoints (aws mode scale-in).
    LowAlarmNotYet {
        datapoints: u32,
    },
    PendingTasks,
    DisruptionBudget {
        limit: u32,
    },
    AsgMinimum {
        min: u32,
    },
    /// Instances left alone because a task on them protects itself from
    /// scale-in (`UpdateTaskProtection`, docs/capacity.md).
    ProtectedTasks {
        container_instances: Vec<String>,
    },
}

/// One capacity evaluation, as data.
#[must_use = "a capacity decision carries actions that must be applied or recorded"]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CapacityDecision {
    pub time: Timestamp,
    pub capacity_provider: String,
    pub mode: EvaluationMode,
    /// Instances needed (M) and instances in the group (N), aws-behaviour §7.2.
    pub m: u32,
    pub n: u32,
    pub reservation_percent: f64,
    pub target_capacity: u32,
    pub provisioning_tasks: u32,
    pub incompatible_tasks: u32,
    pub current_desired: u32,
    pub desired: u32,
    pub reason: CapacityReason,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub blocked_by: Vec<CapacityBlock>,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub actions: Vec<CapacityAction>,
    /// EC2 instances of this group a Spot event said are at risk
    /// (interruption warning or rebalance recommendation); `fast` mode
    /// drained and replaced them in this plan (docs/capacity.md "Spot").
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub at_risk: Vec<String>,
}

/// `M/N × 100` with AWS's edge cases: 100 when both are 0, 200 when only N
/// is 0 (first scale-out from zero, aws-behaviour §7.2).
#[must_use]
pub fn reservation(m: u32, n: u32) -> f64 {
    match (m, n) {
        (0, 0) => 100.0,
        (_, 0) => 200.0,
        _ => f64::from(m) * 100.0 / f64::from(n),
    }
}

fn is_warming(instance: &Instance, now: Timestamp, warmup: SignedDuration) -> Option<Timestamp> {
    let until = instance.launched_at?.checked_add(warmup).ok()?;
    (now < until).then_some(until)
}

/// Tasks waiting for capacity of this provider: PROVISIONING, plus the
/// extra tasks in-progress deployments may start (maximumPercent headroom,
/// aws-behaviour §9.1) in `fast` mode.
fn waiting_tasks(cluster: &Cluster, with_headroom: bool) -> Vec<Cow<'_, Task>> {
    let mut out: Vec<Cow<'_, Task>> = cluster
        .tasks
        .iter()
        .filter(|t| {
            t.stage == Stage::Provisioning && t.capacity_provider.as_deref() == Some(cluster.capacity_provider.as_str())
        })
        .map(Cow::Borrowed)
        .collect();
    if with_headroom {
        let provider = cluster.capacity_provider.as_str();
        for s in cluster.services.iter().filter(|s| s.deployment_in_progress) {
            let max_total = s.desired * s.maximum_percent / 100;
            let headroom = match s.strategy.as_slice() {
                [one] if one.provider == provider => max_total.saturating_sub(s.running + s.pending),
                [_] | [] => 0,
                strategy => {
                    // Several providers: this one's share of the tasks the
                    // deployment may run, less the tasks already on it
                    // (docs/capacity.md "Several capacity providers").
                    let share = split_by_strategy(max_total, strategy).get(provider).copied().unwrap_or(0);
                    let on_it = cluster
                        .tasks
                        .iter()
                        .filter(|t| t.group == s.group && t.capacity_provider.as_deref() == Some(provider))
                        .filter(|t| t.stage != Stage::Stopping)
                        .count() as u32;
                    share.saturating_sub(on_it)
                }
            };
            for k in 0..headroom {
                out.push(Cow::Owned(Task {
                    id: format!("{}:headroom-{k}", s.name),
                    group: s.group.clone(),
                    need: s.task_need.clone(),
                    stage: Stage::Provisioning,
                    instance: None,
                    daemon: false,
                    placement: s.placement.clone(),
                    capacity_provider: Some(provider.to_owned()),
                    protected_until: None,
                }));
            }
        }
    }
    out
}

/// Plans capacity for `cluster` at `now`.
///
/// # Errors
/// [`QueryError`] for an invalid `memberOf` expression in a task's placement.
pub fn plan(
    now: Timestamp,
    cluster: &Cluster,
    options: &CapacityOptions,
    mut memory: CapacityMemory,
) -> Result<(CapacityDecision, CapacityMemory), QueryError> {
    let ms = cluster.managed_scaling;
    let asg = &cluster.asg;
    let warmup = SignedDuration::from_secs(i64::from(ms.instance_warmup_period));
    let members: Vec<&Instance> = cluster.instances.iter().filter(|i| i.in_asg && !i.hypothetical).collect();
    let n = members.len() as u32;
    let busy = members.iter().filter(|i| i.non_daemon_tasks > 0).count() as u32;
    let largest = asg.instance_types.last();
    let smallest = asg.instance_types.first();
    let fast = options.mode == EvaluationMode::Fast;
    let waiting = waiting_tasks(cluster, fast);
    let waiting_refs: Vec<&Task> = waiting.iter().map(|t| t.as_ref()).collect();

    // Instances ordered but not registered yet count as empty capacity in
    // fast mode, so the same tasks never order twice.
    let launching = asg.desired.saturating_sub(n);
    let mut view: Vec<Instance> = cluster.instances.iter().filter(|i| i.in_asg).cloned().collect();
    let est = match (largest, smallest) {
        (Some(kind), Some(small)) => {
            if fast {
                for k in 0..launching {
                    view.push(super::placement::hypothetical(kind, "", 10_000 + k));
                }
            }
            estimate(&waiting_refs, &view, kind, small)?
        }
        _ => Estimate { incompatible: waiting.len() as u32, ..Estimate::default() },
    };
    // M (aws-behaviour §7.3): busy instances plus the step-size-bounded extra.
    let mut extra = est.new_instances;
    if extra > 0 {
        extra = extra.max(ms.minimum_scaling_step_size).min(ms.maximum_scaling_step_size);
    }
    let m = busy + extra;
    let cpr = reservation(m, n);
    let target = f64::from(ms.target_capacity);
    let provisioning = waiting.iter().filter(|t| !t.id.contains(":headroom-")).count() as u32;
    let mut decision = CapacityDecision {
        time: now,
        capacity_provider: cluster.capacity_provider.clone(),
        mode: options.mode,
        m,
        n,
        reservation_percent: cpr,
        target_capacity: ms.target_capacity,
        provisioning_tasks: provisioning,
        incompatible_tasks: est.incompatible,
        current_desired: asg.desired,
        desired: asg.desired,
        reason: CapacityReason::AtTarget,
        blocked_by: Vec::new(),
        actions: Vec::new(),
        at_risk: Vec::new(),
    };
    let warming_until = members.iter().filter_map(|i| is_warming(i, now, warmup)).max();

    // Managed termination protection: busy instances are protected (aws-behaviour §7.6).
    let unprotected_busy: Vec<String> = members
        .iter()
        .filter(|i| i.non_daemon_tasks > 0 && !i.protected_from_scale_in)
        .filter_map(|i| i.ec2_instance_id.clone())
        .collect();
    if !unprotected_busy.is_empty() {
        decision.actions.push(CapacityAction::ProtectFromScaleIn { ec2_instance_ids: unprotected_busy });
    }
    // ...and off for instances with no task left, or `SetDesiredCapacity`
    // scale-in stalls on protected idle instances (aws-behaviour §7.6).
    // `fast` mode drains and terminates them itself. (ours) An instance
    // still in its warm-up keeps its protection: it was launched for tasks
    // that may not have reached it yet.
    if !fast {
        let shielded = shielded_by_tasks(cluster, now);
        let idle_protected: Vec<String> = members
            .iter()
            .filter(|i| i.non_daemon_tasks == 0 && i.pending_tasks == 0 && i.protected_from_scale_in)
            .filter(|i| !shielded.contains(i.id.as_str()))
            .filter(|i| is_warming(i, now, warmup).is_none())
            .filter_map(|i| i.ec2_instance_id.clone())
            .collect();
        if !idle_protected.is_empty() {
            decision.actions.push(CapacityAction::UnprotectFromScaleIn { ec2_instance_ids: idle_protected });
        }
    }

    if fast {
        plan_fast(now, cluster, options, &mut memory, &mut decision, &est, extra, &members)?;
    } else {
        plan_aws(now, cluster, &mut memory, &mut decision, cpr, target, warming_until, n);
    }
    let to = decision.desired;
    if to != asg.desired {
        decision.actions.push(CapacityAction::SetDesiredCapacity { from: asg.desired, to });
    }
    Ok((decision, memory))
}

/// Container instances running a task that protects itself from scale-in
/// at `now` (task scale-in protection, aws-behaviour §9.5): never drained,
/// never exposed to the group's scale-in.
pub(super) fn shielded_by_tasks(cluster: &Cluster, now: Timestamp) -> std::collections::BTreeSet<&str> {
    cluster.tasks.iter().filter(|t| t.protected_at(now)).filter_map(|t| t.instance.as_deref()).collect()
}

#[allow(clippy::too_many_arguments)]
fn plan_aws(
    now: Timestamp,
    cluster: &Cluster,
    memory: &mut CapacityMemory,
    d: &mut CapacityDecision,
    cpr: f64,
    target: f64,
    warming: Option<Timestamp>,
    n: u32,
) {
    let asg = &cluster.asg;
    // One datapoint per minute (the metric is collected every minute, aws-behaviour §7.2).
    let minute = Timestamp::from_second(now.as_second() - now.as_second().rem_euclid(60)).unwrap_or(now);
    if memory.reservation.back().is_none_or(|(t, _)| *t < minute) {
        memory.reservation.push_back((minute, cpr));
    }
    while memory.reservation.len() > 15 {
        memory.reservation.pop_front();
    }
    // AlarmHigh: 1 of 1 above target. AlarmLow: 15 of 15 below (aws-behaviour §7.4).
    if cpr > target {
        if let Some(until) = warming {
            d.blocked_by.push(CapacityBlock::InstanceWarmup { until });
            d.reason = CapacityReason::Blocked;
            return;
        }
        // EC2 target tracking: capacity × metric / target, rounded up; from
        // zero, one instance's worth (200 % ⇒ two instances, aws-behaviour §7.2).
        let base = n.max(1);
        let wanted = (f64::from(base) * cpr / target).ceil() as u32;
        d.desired = wanted.clamp(asg.min, asg.max).max(asg.desired);
        d.reason = if d.desired > asg.desired {
            CapacityReason::ScaleOutReservationAboveTarget
        } else {
            CapacityReason::AtMaximum
        };
        return;
    }
    let lows = memory.reservation.iter().rev().take(15).filter(|(_, v)| *v < target).count() as u32;
    if cpr < target {
        if lows < 15 || memory.reservation.len() < 15 {
            d.blocked_by.push(CapacityBlock::LowAlarmNotYet { datapoints: lows });
            d.reason = CapacityReason::Blocked;
            return;
        }
        if let Some(until) = warming {
            d.blocked_by.push(CapacityBlock::InstanceWarmup { until });
            d.reason = CapacityReason::Blocked;
            return;
        }
        let wanted = (f64::from(n) * cpr / target).ceil() as u32;
        // At least one instance and less than 50 % per step (aws-behaviour §7.6).
        let most = ((n.saturating_sub(1)) / 2).max(1);
        let remove = n.saturating_sub(wanted).min(most);
        let next = n.saturating_sub(remove).max(asg.min);
        if next < asg.desired {
            d.desired = next;
            d.reason = CapacityReason::ScaleIn;
        } else {
            d.blocked_by.push(CapacityBlock::AsgMinimum { min: asg.min });
            d.reason = CapacityReason::Blocked;
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn plan_fast(
    now: Timestamp,
    cluster: &Cluster,
    options: &CapacityOptions,
    memory: &mut CapacityMemory,
    d: &mut CapacityDecision,
    est: &Estimate,
    extra: u32,
    members: &[&Instance],
) -> Result<(), QueryError> {
    let asg = &cluster.asg;
    if extra > 0 {
        // One step to exactly what the waiting tasks need (aws-behaviour §7.3 step sizes apply).
        let wanted = asg.desired.saturating_add(extra);
        d.desired = wanted.min(asg.max);
        d.reason =
            if d.desired > asg.desired { CapacityReason::ScaleOutForPendingTasks } else { CapacityReason::AtMaximum };
        return Ok(());
    }
    if d.provisioning_tasks > 0 || est.on_existing > 0 {
        // Waiting tasks fit on capacity that exists or is launching.
        d.blocked_by.push(CapacityBlock::PendingTasks);
        d.reason = CapacityReason::NothingToPlace;
        return Ok(());
    }
    // Terminate instances drained earlier that are still empty.
    let drained_empty: Vec<&&Instance> =
        members.iter().filter(|i| i.status == "DRAINING" && i.running_tasks == 0 && i.pending_tasks == 0).collect();
    if !drained_empty.is_empty() {
        let ids: Vec<String> = drained_empty.iter().filter_map(|i| i.ec2_instance_id.clone()).collect();
        d.desired = asg.desired.saturating_sub(ids.len() as u32).max(asg.min);
        d.actions.push(CapacityAction::TerminateAndDecrement { ec2_instance_ids: ids });
        d.reason = CapacityReason::ScaleIn;
    }
    // Keep spare capacity for targetCapacity < 100: N ≥ busy × 100 / target.
    let active: Vec<&&Instance> = members.iter().filter(|i| i.status == "ACTIVE").collect();
    let busy = active.iter().filter(|i| i.non_daemon_tasks > 0).count() as u32;
    let keep = (f64::from(busy) * 100.0 / f64::from(cluster.managed_scaling.target_capacity.max(1))).ceil() as u32;
    let keep = keep.max(asg.min).max(1);
    let warmup = SignedDuration::from_secs(i64::from(cluster.managed_scaling.instance_warmup_period));
    let mut candidates: Vec<&&Instance> = active
        .iter()
        .filter(|i| i.non_daemon_tasks == 0 && i.pending_tasks == 0 && is_warming(i, now, warmup).is_none())
        .copied()
        .collect();
    let shielded = shielded_by_tasks(cluster, now);
    let kept: Vec<String> =
        candidates.iter().filter(|i| shielded.contains(i.id.as_str())).map(|i| i.id.clone()).collect();
    if !kept.is_empty() {
        candidates.retain(|i| !shielded.contains(i.id.as_str()));
        d.blocked_by.push(CapacityBlock::ProtectedTasks { container_instances: kept });
    }
    let removable = (active.len() as u32).saturating_sub(keep);
    // Disruption budget over a sliding window.
    let window = SignedDuration::from_secs(i64::from(options.disruption_window_seconds));
    let horizon = now.checked_sub(window).unwrap_or(now);
    while memory.drained.front().is_some_and(|(t, _)| *t < horizon) {
        memory.drained.pop_front();
    }
    let by_percent = (active.len() as u32 * options.disruption_percent / 100).max(1);
    let budget = options.disruption_instances.min(by_percent).saturating_sub(memory.drained.len() as u32);
    let mut chosen = Vec::new();
    if !candidates.is_empty() && removable == 0 {
        d.blocked_by.push(CapacityBlock::AsgMinimum { min: keep });
    } else if !candidates.is_empty() {
        let count = removable.min(candidates.len() as u32).min(budget);
        if count < removable.min(candidates.len() as u32) {
            d.blocked_by.push(CapacityBlock::DisruptionBudget { limit: budget });
        }
        // Keep zones balanced: take from the zone with the most instances.
        let mut per_zone: BTreeMap<&str, usize> = BTreeMap::new();
        for i in &active {
            *per_zone.entry(i.zone()).or_default() += 1;
        }
        for _ in 0..count {
            candidates.sort_by_key(|i| (std::cmp::Reverse(per_zone.get(i.zone()).copied().unwrap_or(0)), i.id.clone()));
            let Some(pick) = candidates.first().copied() else { break };
            candidates.remove(0);
            if let Some(z) = per_zone.get_mut(pick.zone()) {
                *z -= 1;
            }
            chosen.push(pick.id.clone());
        }
    }
    let mut consolidated = Vec::new();
    if options.consolidation {
        // Never below the group's minimum, nor past the budget.
        let room = (active.len() as u32).saturating_sub(chosen.len() as u32).saturating_sub(asg.min.max(1));
        let limits = consolidate::Limits {
            candidates: active
                .iter()
                .filter(|i| i.non_daemon_tasks > 0 && is_warming(i, now, warmup).is_none())
                .map(|i| **i)
                .collect(),
            active: active.iter().map(|i| **i).collect(),
            draining: chosen.iter().map(String::as_str).collect(),
            budget: budget.saturating_sub(chosen.len() as u32).min(room),
            target_capacity: cluster.managed_scaling.target_capacity.max(1),
        };
        consolidated = consolidate::choose(now, cluster, &limits)?;
    }
    if chosen.is_empty() && consolidated.is_empty() {
        return Ok(());
    }
    if d.reason == CapacityReason::AtTarget {
        d.reason = if chosen.is_empty() { CapacityReason::Consolidate } else { CapacityReason::ScaleIn };
    }
    chosen.extend(consolidated);
    for id in &chosen {
        memory.drained.push_back((now, id.clone()));
    }
    d.actions.push(CapacityAction::Drain { container_instances: chosen });
    Ok(())
}
