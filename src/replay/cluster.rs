//! The EC2 cluster of a recording: a capacity snapshot (`autopilot capacity
//! plan`'s input) brought forward by the recorded events — task state
//! changes place, start and stop tasks on their container instances;
//! container-instance changes register instances and update their status
//! and remaining resources — and by our own Auto Scaling actions (open loop
//! on the world, closed on the group's desired count). The capacity handler
//! reads it through [`CapacityPort`](crate::ports::CapacityPort).
//!
//! Owns: that fold. May not touch: planning (the handler's), files, the clock.

use crate::capacity::model::{Instance, Resources, Stage, Task};
use crate::capacity::{CapacityAction, Cluster};
use crate::event::{ContainerInstanceStateChange, Detail, TaskStateChange, TaskStatus};

/// A snapshot cluster folded forward by events.
#[derive(Clone, Debug)]
pub struct RecordedCluster {
    pub cluster: Cluster,
}

impl RecordedCluster {
    /// The cluster of a snapshot.
    #[must_use]
    pub fn new(cluster: Cluster) -> Self {
        Self { cluster }
    }

    /// Folds one ECS event into the cluster.
    pub fn observe(&mut self, detail: &Detail) {
        match detail {
            Detail::TaskStateChange(t) => self.task(t),
            Detail::ContainerInstanceStateChange(c) => self.instance(c),
            _ => {}
        }
    }

    /// What one task of `t`'s group needs: the event's task-definition size,
    /// else the snapshot's service of that group.
    fn need_of(&self, t: &TaskStateChange) -> Resources {
        let parse = |v: &Option<String>| v.as_deref().and_then(|s| s.trim().parse::<u32>().ok());
        let group = t.group.clone().unwrap_or_default();
        let service = self.cluster.services.iter().find(|s| s.group == group).map(|s| s.task_need.clone());
        match (parse(&t.cpu), parse(&t.memory)) {
            (Some(cpu), Some(memory)) => Resources { cpu, memory, ..Resources::default() },
            _ => service.unwrap_or_default(),
        }
    }

    fn task(&mut self, t: &TaskStateChange) {
        // The task leaves wherever it was.
        if let Some(k) = self.cluster.tasks.iter().position(|x| x.id == t.task_arn) {
            let old = self.cluster.tasks.remove(k);
            if let Some(i) =
                old.instance.as_ref().and_then(|id| self.cluster.instances.iter_mut().find(|i| &i.id == id))
            {
                i.free.cpu += old.need.cpu;
                i.free.memory += old.need.memory;
                i.running_tasks = i.running_tasks.saturating_sub(1);
                i.non_daemon_tasks = i.non_daemon_tasks.saturating_sub(1);
                if let Some(n) = i.groups.get_mut(&old.group) {
                    *n = n.saturating_sub(1);
                }
            }
        }
        let stage = match t.last_status {
            TaskStatus::Provisioning => Stage::Provisioning,
            TaskStatus::Pending | TaskStatus::Activating => Stage::Pending,
            TaskStatus::Running => Stage::Running,
            _ => return,
        };
        let need = self.need_of(t);
        let group = t.group.clone().unwrap_or_default();
        let instance = t.container_instance_arn.clone().filter(|_| stage != Stage::Provisioning);
        if let Some(i) = instance.as_ref().and_then(|id| self.cluster.instances.iter_mut().find(|i| &i.id == id)) {
            i.free.cpu = i.free.cpu.saturating_sub(need.cpu);
            i.free.memory = i.free.memory.saturating_sub(need.memory);
            i.running_tasks += 1;
            i.non_daemon_tasks += 1;
            *i.groups.entry(group.clone()).or_default() += 1;
        }
        let placement = self.cluster.services.iter().find(|s| s.group == group).map(|s| s.placement.clone());
        self.cluster.tasks.push(Task {
            id: t.task_arn.clone(),
            group,
            need,
            stage,
            instance,
            daemon: false,
            placement: placement.unwrap_or_default(),
            capacity_provider: t
                .capacity_provider_name
                .clone()
                .or_else(|| Some(self.cluster.capacity_provider.clone())),
            protected_until: None,
        });
    }

    fn instance(&mut self, c: &ContainerInstanceStateChange) {
        let remaining = |name: &str| c.remaining_integer(name).and_then(|v| u32::try_from(v).ok());
        let registered = |name: &str| {
            c.registered_resources
                .iter()
                .find(|r| r.name == name)
                .and_then(|r| r.integer_value)
                .and_then(|v| u32::try_from(v).ok())
        };
        if matches!(c.status.as_str(), "INACTIVE" | "DEREGISTERING") {
            self.cluster.instances.retain(|i| i.id != c.container_instance_arn);
            return;
        }
        let existing = self.cluster.instances.iter_mut().find(|i| i.id == c.container_instance_arn);
        let i = match existing {
            Some(i) => i,
            None => {
                self.cluster.instances.push(Instance {
                    id: c.container_instance_arn.clone(),
                    ec2_instance_id: c.ec2_instance_id.clone(),
                    status: c.status.clone(),
                    agent_connected: c.agent_connected.unwrap_or(true),
                    free: Resources::default(),
                    registered: Resources {
                        cpu: registered("CPU").unwrap_or(0),
                        memory: registered("MEMORY").unwrap_or(0),
                        ..Resources::default()
                    },
                    attributes: c
                        .attributes
                        .iter()
                        .map(|a| (a.name.clone(), a.value.clone().unwrap_or_default()))
                        .collect(),
                    running_tasks: 0,
                    pending_tasks: 0,
                    non_daemon_tasks: 0,
                    groups: Default::default(),
                    launched_at: None,
                    in_asg: true,
                    protected_from_scale_in: false,
                    hypothetical: false,
                });
                let Some(i) = self.cluster.instances.last_mut() else { return };
                i
            }
        };
        i.status = c.status.clone();
        if let Some(connected) = c.agent_connected {
            i.agent_connected = connected;
        }
        if let Some(cpu) = remaining("CPU") {
            i.free.cpu = cpu;
        }
        if let Some(memory) = remaining("MEMORY") {
            i.free.memory = memory;
        }
    }

    /// Our own action, as the Auto Scaling group and ECS take it: the group's
    /// desired count, protection and draining change; the instances a
    /// recording did not show launching do not appear.
    pub fn apply(&mut self, action: &CapacityAction) {
        let c = &mut self.cluster;
        match action {
            CapacityAction::SetDesiredCapacity { to, .. } => c.asg.desired = *to,
            CapacityAction::ProtectFromScaleIn { ec2_instance_ids }
            | CapacityAction::UnprotectFromScaleIn { ec2_instance_ids } => {
                let on = matches!(action, CapacityAction::ProtectFromScaleIn { .. });
                for i in &mut c.instances {
                    if i.ec2_instance_id.as_ref().is_some_and(|id| ec2_instance_ids.contains(id)) {
                        i.protected_from_scale_in = on;
                    }
                }
            }
            CapacityAction::Drain { container_instances } => {
                for i in &mut c.instances {
                    if container_instances.contains(&i.id) {
                        i.status = "DRAINING".into();
                    }
                }
            }
            CapacityAction::TerminateAndDecrement { ec2_instance_ids } => {
                let before = c.instances.len();
                c.instances.retain(|i| !i.ec2_instance_id.as_ref().is_some_and(|id| ec2_instance_ids.contains(id)));
                let gone = u32::try_from(before - c.instances.len()).unwrap_or(u32::MAX);
                c.asg.desired = c.asg.desired.saturating_sub(gone);
            }
        }
    }
}
