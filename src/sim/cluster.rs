//! The EC2 side of the simulated world: an Auto Scaling group whose
//! instances launch after a delay and register with ECS, and slots that
//! tasks wait for in PROVISIONING (placement failures). The capacity
//! handler reads it through [`crate::ports::CapacityPort`] ([`SimCluster::view`])
//! and acts on it ([`SimCluster::apply`]) as on the real group.
//!
//! Owns: instances, slots, the group's desired count. May not touch: the
//! service's task lifecycle (the engine's), the clock (`t` is an argument).

use super::scenario::{unit, ClusterModel, TaskPlacement};
use crate::capacity::model::{
    AutoScalingGroup, BinpackField, Instance, Placement, Resources, ServiceState, Stage, Strategy, StrategyItem, Task,
};
use crate::capacity::{CapacityAction, Cluster};
use jiff::Timestamp;
use std::collections::BTreeMap;

/// The simulated capacity provider.
pub const PROVIDER: &str = "sim-capacity";

#[derive(Clone, Debug)]
struct SimInstance {
    id: u32,
    zone: String,
    /// Second at which the instance is ACTIVE in ECS.
    ready_at: u32,
    tasks: u32,
    draining: bool,
    /// When the planner drained it (its tasks move once replacements run).
    draining_since: Option<u32>,
    protected: bool,
}

/// A simulated group of container instances.
#[derive(Clone, Debug)]
pub struct SimCluster {
    model: ClusterModel,
    instances: Vec<SimInstance>,
    desired: u32,
    next_id: u32,
    seed: u64,
    draws: u64,
    /// Instance-seconds of instances launched (running or launching).
    pub instance_seconds: u64,
    /// Minutes in which tasks could not be placed (SERVICE_TASK_PLACEMENT_FAILURE).
    pub placement_failures: u32,
    /// Changes of the group's desired capacity.
    pub capacity_actions: u32,
    /// Seconds from a drain until ECS has replaced a task elsewhere
    /// (replacement started and healthy, then the old one stops).
    relocation_seconds: u32,
}

/// The service as the planner sees it.
#[derive(Clone, Copy, Debug)]
pub struct ServiceCounts {
    pub desired: u32,
    pub running: u32,
    pub pending: u32,
    pub provisioning: u32,
    pub deployment_in_progress: bool,
}

impl SimCluster {
    /// A group with `model.initial_instances` ACTIVE instances.
    #[must_use]
    pub fn new(model: &ClusterModel, seed: u64) -> Self {
        let mut c = Self {
            model: model.clone(),
            instances: Vec::new(),
            desired: model.initial_instances,
            next_id: 0,
            seed,
            draws: 0,
            instance_seconds: 0,
            placement_failures: 0,
            capacity_actions: 0,
            relocation_seconds: 30,
        };
        for _ in 0..model.initial_instances {
            c.launch(0, true);
        }
        c
    }

    fn slots(&self) -> u32 {
        let t = &self.model;
        (t.instance_type.cpu / t.task_cpu.max(1)).min(t.instance_type.memory / t.task_memory.max(1))
    }

    fn launch(&mut self, t: u32, ready_now: bool) {
        let zones = &self.model.zones;
        // The group balances instances over zones.
        let mut per_zone: BTreeMap<&str, usize> = zones.iter().map(|z| (z.as_str(), 0)).collect();
        for i in &self.instances {
            if let Some(n) = per_zone.get_mut(i.zone.as_str()) {
                *n += 1;
            }
        }
        let zone = per_zone.iter().min_by_key(|(z, n)| (**n, **z)).map_or("a", |(z, _)| z).to_owned();
        self.draws += 1;
        let (lo, hi) = self.model.launch_seconds;
        let delay =
            lo + (f64::from(hi - lo + 1) * unit(self.seed ^ self.draws.wrapping_mul(0x6A09_E667_F3BC_C909))) as u32;
        let ready_at = if ready_now { t } else { t + delay.min(hi) };
        self.instances.push(SimInstance {
            id: self.next_id,
            zone,
            ready_at,
            tasks: 0,
            draining: false,
            draining_since: None,
            protected: false,
        });
        self.next_id += 1;
    }

    /// Instances launched (ACTIVE or launching).
    #[must_use]
    pub fn instance_count(&self) -> u32 {
        self.instances.len() as u32
    }

    /// Accounts one second.
    pub fn advance(&mut self) {
        self.instance_seconds += u64::from(self.instance_count());
    }

    /// How long a drained instance's tasks take to move (the service's
    /// slowest task start).
    #[must_use]
    pub fn with_relocation_seconds(mut self, seconds: u32) -> Self {
        self.relocation_seconds = seconds;
        self
    }

    /// The instance a new task goes to: ACTIVE, not draining, a free slot;
    /// the fullest (binpack) or the emptiest (spread) first.
    fn destination(&self, t: u32) -> Option<usize> {
        let slots = self.slots();
        let open = self.instances.iter().enumerate().filter(|(_, i)| i.ready_at <= t && !i.draining && i.tasks < slots);
        match self.model.task_placement {
            TaskPlacement::Binpack => open.max_by_key(|(_, i)| (i.tasks, std::cmp::Reverse(i.id))).map(|(k, _)| k),
            TaskPlacement::Spread => open.min_by_key(|(_, i)| (i.tasks, i.id)).map(|(k, _)| k),
        }
    }

    /// Places one task on an ACTIVE instance with a free slot, as the
    /// scenario's placement asks. `false`: no room.
    pub fn place(&mut self, t: u32) -> bool {
        match self.destination(t) {
            Some(k) => {
                self.instances[k].tasks += 1;
                true
            }
            None => false,
        }
    }

    /// Frees `n` task slots: from draining instances first (those tasks are
    /// leaving anyway), then the emptiest instances (binpack: instances
    /// empty out) or the fullest (spread: the balance is kept).
    pub fn release(&mut self, n: u32) {
        let spread = self.model.task_placement == TaskPlacement::Spread;
        for _ in 0..n {
            let pick = self
                .instances
                .iter_mut()
                .filter(|i| i.tasks > 0)
                .min_by_key(|i| (!i.draining, if spread { u32::MAX - i.tasks } else { i.tasks }, i.id));
            if let Some(i) = pick {
                i.tasks -= 1;
            }
        }
    }

    /// ECS replaces the tasks of instances drained at least
    /// `relocation_seconds` ago on other instances with room (the service
    /// keeps serving meanwhile: a replacement starts before the old task
    /// stops). Tasks with nowhere to go stay where they are.
    pub fn relocate(&mut self, t: u32) {
        let due: Vec<usize> = (0..self.instances.len())
            .filter(|k| {
                let i = &self.instances[*k];
                i.tasks > 0 && i.draining_since.is_some_and(|since| t >= since + self.relocation_seconds)
            })
            .collect();
        for k in due {
            while self.instances[k].tasks > 0 {
                let Some(to) = self.destination(t) else { return };
                self.instances[k].tasks -= 1;
                self.instances[to].tasks += 1;
            }
        }
    }

    /// Tasks could not be placed during this minute.
    pub fn placement_failed(&mut self) {
        self.placement_failures += 1;
    }

    /// What `DescribeContainerInstances`, `DescribeTasks`,
    /// `DescribeServices` and `DescribeAutoScalingGroups` say at second `t`:
    /// the capacity planner's input.
    #[must_use]
    pub fn view(&self, t: u32, at: Timestamp, service: ServiceCounts) -> Cluster {
        let m = &self.model;
        let slots = self.slots();
        let registered = Resources { cpu: m.instance_type.cpu, memory: m.instance_type.memory, ..Resources::default() };
        let instances = self
            .instances
            .iter()
            .filter(|i| i.ready_at <= t)
            .map(|i| Instance {
                id: format!("ci-{}", i.id),
                ec2_instance_id: Some(format!("i-{:05}", i.id)),
                status: if i.draining { "DRAINING".into() } else { "ACTIVE".into() },
                agent_connected: true,
                free: Resources {
                    cpu: (slots - i.tasks.min(slots)) * m.task_cpu,
                    memory: (slots - i.tasks.min(slots)) * m.task_memory,
                    ..Resources::default()
                },
                registered: registered.clone(),
                attributes: [
                    ("ecs.availability-zone".to_owned(), i.zone.clone()),
                    ("ecs.instance-type".to_owned(), m.instance_type.name.clone()),
                ]
                .into(),
                running_tasks: i.tasks,
                pending_tasks: 0,
                non_daemon_tasks: i.tasks,
                groups: [("service:sim".to_owned(), i.tasks)].into(),
                launched_at: Timestamp::from_second(at.as_second() - i64::from(t - i.ready_at)).ok(),
                in_asg: true,
                protected_from_scale_in: i.protected,
                hypothetical: false,
            })
            .collect();
        let need = Resources { cpu: m.task_cpu, memory: m.task_memory, ..Resources::default() };
        let placement = match m.task_placement {
            TaskPlacement::Binpack => {
                Placement { strategies: vec![Strategy::Binpack(BinpackField::Cpu)], ..Placement::default() }
            }
            // A service without a strategy: ECS spreads it (the default).
            TaskPlacement::Spread => Placement::default(),
        };
        let task = |id: String, stage: Stage, instance: Option<String>| Task {
            id,
            group: "service:sim".into(),
            need: need.clone(),
            stage,
            instance,
            daemon: false,
            placement: placement.clone(),
            capacity_provider: Some(PROVIDER.into()),
            protected_until: None,
        };
        // What DescribeTasks lists: the running tasks on each instance
        // (consolidation moves them), then the ones waiting for room.
        let mut tasks: Vec<Task> = self
            .instances
            .iter()
            .filter(|i| i.ready_at <= t)
            .flat_map(|i| (0..i.tasks).map(move |k| (i.id, k)))
            .map(|(id, k)| task(format!("ci-{id}-task-{k}"), Stage::Running, Some(format!("ci-{id}"))))
            .collect();
        tasks.extend((0..service.provisioning).map(|k| task(format!("provisioning-{k}"), Stage::Provisioning, None)));
        Cluster {
            capacity_provider: PROVIDER.into(),
            managed_scaling: m.managed_scaling,
            asg: AutoScalingGroup {
                name: "sim-asg".into(),
                min: m.min_instances,
                max: m.max_instances,
                desired: self.desired,
                zones: m.zones.clone(),
                instance_types: vec![m.instance_type.clone()],
            },
            instances,
            tasks,
            services: vec![ServiceState {
                name: "sim".into(),
                group: "service:sim".into(),
                desired: service.desired,
                running: service.running,
                pending: service.pending,
                deployment_in_progress: service.deployment_in_progress,
                maximum_percent: m.maximum_percent,
                minimum_healthy_percent: 100,
                strategy: vec![StrategyItem { provider: PROVIDER.into(), base: 0, weight: 1 }],
                task_need: need,
                placement,
            }],
        }
    }

    /// Applies one capacity action at second `t` as the Auto Scaling group
    /// and ECS would.
    pub fn apply(&mut self, t: u32, action: &CapacityAction) {
        match action {
            CapacityAction::SetDesiredCapacity { to, .. } => {
                self.capacity_actions += 1;
                let to = (*to).clamp(self.model.min_instances, self.model.max_instances);
                while self.instance_count() < to {
                    self.launch(t, false);
                }
                // Scale-in by desired count: the group terminates unprotected
                // instances without tasks (managed termination protection
                // keeps busy ones, docs/capacity.md).
                while self.instance_count() > to {
                    let Some(k) = self.instances.iter().rposition(|i| i.tasks == 0 && !i.protected) else { break };
                    self.instances.remove(k);
                }
                self.desired = to;
            }
            CapacityAction::ProtectFromScaleIn { ec2_instance_ids }
            | CapacityAction::UnprotectFromScaleIn { ec2_instance_ids } => {
                let on = matches!(action, CapacityAction::ProtectFromScaleIn { .. });
                for i in &mut self.instances {
                    if ec2_instance_ids.contains(&format!("i-{:05}", i.id)) {
                        i.protected = on;
                    }
                }
            }
            CapacityAction::Drain { container_instances } => {
                for i in &mut self.instances {
                    if container_instances.contains(&format!("ci-{}", i.id)) {
                        i.draining = true;
                        i.draining_since.get_or_insert(t);
                    }
                }
            }
            CapacityAction::TerminateAndDecrement { ec2_instance_ids } => {
                let before = self.instance_count();
                self.instances.retain(|i| !(ec2_instance_ids.contains(&format!("i-{:05}", i.id)) && i.tasks == 0));
                self.capacity_actions += 1;
                self.desired = self.desired.saturating_sub(before - self.instance_count());
            }
        }
    }
}
