//! Spot instances at risk (docs/capacity.md "Spot"): the plan when EC2
//! has said an instance of the group will be interrupted.
//!
//! Owns: what a Spot warning changes in the plan. May not touch: the plan
//! itself (the planner's), I/O or the clock (`now` is an argument).

use super::model::{Cluster, Instance, Stage, Task};
use super::plan::{plan, CapacityAction, CapacityDecision, CapacityMemory, CapacityOptions};
use super::query::QueryError;
use crate::config::EvaluationMode;
use jiff::Timestamp;

/// Plans capacity for `cluster` at `now` when EC2 has said the instances
/// `at_risk` (EC2 instance ids) will be interrupted (docs/capacity.md
/// "Spot"). In `fast` mode they are drained at once (outside the disruption
/// budget: EC2 takes them anyway) and their tasks are planned for as if
/// waiting, so their replacement capacity is ordered in the same decision;
/// once drained and empty they are terminated with decrement as any drained
/// instance. In `aws` mode the plan is [`plan`]'s: cluster auto scaling does
/// not act on Spot events (the ECS agent's own Spot draining is a setting
/// of the instance, not of the capacity provider).
///
/// # Errors
/// As [`plan`].
pub fn plan_at_risk(
    now: Timestamp,
    cluster: &Cluster,
    options: &CapacityOptions,
    memory: CapacityMemory,
    at_risk: &[String],
) -> Result<(CapacityDecision, CapacityMemory), QueryError> {
    let hit: Vec<&Instance> = cluster
        .instances
        .iter()
        .filter(|i| i.in_asg && i.ec2_instance_id.as_ref().is_some_and(|id| at_risk.contains(id)))
        .collect();
    let named: Vec<String> = hit.iter().filter_map(|i| i.ec2_instance_id.clone()).collect();
    if options.mode != EvaluationMode::Fast || hit.is_empty() {
        let (mut decision, memory) = plan(now, cluster, options, memory)?;
        decision.at_risk = named;
        return Ok((decision, memory));
    }
    let leaving: Vec<&str> = hit.iter().map(|i| i.id.as_str()).collect();
    let mut view = cluster.clone();
    for i in view.instances.iter_mut().filter(|i| leaving.contains(&i.id.as_str())) {
        // Takes no task and is no longer busy capacity.
        i.status = "DRAINING".into();
        i.non_daemon_tasks = 0;
    }
    let displaced: Vec<Task> = cluster
        .tasks
        .iter()
        .filter(|t| !t.daemon && matches!(t.stage, Stage::Running | Stage::Pending))
        .filter(|t| t.instance.as_deref().is_some_and(|i| leaving.contains(&i)))
        .map(|t| Task {
            id: format!("{}:displaced", t.id),
            stage: Stage::Provisioning,
            instance: None,
            capacity_provider: Some(cluster.capacity_provider.clone()),
            ..t.clone()
        })
        .collect();
    view.tasks.extend(displaced);
    let (mut decision, memory) = plan(now, &view, options, memory)?;
    let to_drain: Vec<String> = hit.iter().filter(|i| i.status == "ACTIVE").map(|i| i.id.clone()).collect();
    if !to_drain.is_empty() {
        decision.actions.insert(0, CapacityAction::Drain { container_instances: to_drain });
    }
    decision.at_risk = named;
    Ok((decision, memory))
}
