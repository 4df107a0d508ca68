//! The cluster as the capacity planner sees it (aws-behaviour §7, §8): container
//! instances, tasks, services, the Auto Scaling group and the capacity
//! provider's `ManagedScaling` settings.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// CPU units, MiB of memory, GPUs and host ports.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resources {
    pub cpu: u32,
    pub memory: u32,
    #[serde(default)]
    pub gpus: u32,
    /// Host ports in use (remaining resources) or required (a task).
    #[serde(default)]
    pub ports: BTreeSet<u16>,
}

impl Resources {
    /// Whether `need` fits into `self` (free resources).
    #[must_use]
    pub fn fits(&self, need: &Resources) -> bool {
        need.cpu <= self.cpu
            && need.memory <= self.memory
            && need.gpus <= self.gpus
            && need.ports.is_disjoint(&self.ports)
    }

    /// Takes `need` out of free resources (ports become used).
    pub fn take(&mut self, need: &Resources) {
        self.cpu -= need.cpu.min(self.cpu);
        self.memory -= need.memory.min(self.memory);
        self.gpus -= need.gpus.min(self.gpus);
        self.ports.extend(need.ports.iter().copied());
    }
}

/// A container instance (or a hypothetical new one).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Instance {
    /// Container instance ARN (or a placeholder for hypothetical instances).
    pub id: String,
    pub ec2_instance_id: Option<String>,
    /// ACTIVE, DRAINING, REGISTERING, …
    pub status: String,
    pub agent_connected: bool,
    /// Free resources: CPU, memory, GPUs; `ports` are the ports in use.
    pub free: Resources,
    pub registered: Resources,
    /// Attributes incl. `ecs.availability-zone`, `ecs.instance-type`.
    pub attributes: BTreeMap<String, String>,
    pub running_tasks: u32,
    pub pending_tasks: u32,
    /// Tasks that are not daemon tasks: an instance with none is empty (aws-behaviour §7.2).
    pub non_daemon_tasks: u32,
    /// Task groups of the tasks on it (for distinctInstance and spread).
    pub groups: BTreeMap<String, u32>,
    pub launched_at: Option<Timestamp>,
    /// Member of the capacity provider's Auto Scaling group.
    pub in_asg: bool,
    pub protected_from_scale_in: bool,
    /// A planned instance that does not exist yet.
    #[serde(default)]
    pub hypothetical: bool,
}

impl Instance {
    /// Accepts placements: ACTIVE with a connected agent (aws-behaviour §8.1).
    #[must_use]
    pub fn accepts_tasks(&self) -> bool {
        self.status == "ACTIVE" && self.agent_connected
    }

    #[must_use]
    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes.get(name).map(String::as_str)
    }

    #[must_use]
    pub fn zone(&self) -> &str {
        self.attribute("ecs.availability-zone").unwrap_or("")
    }
}

/// Task lifecycle stages the planner distinguishes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Stage {
    Provisioning,
    Pending,
    Running,
    Stopping,
}

/// A task, or a task the scheduler wants to start.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Task {
    pub id: String,
    /// `service:<name>` or `family:<family>`.
    pub group: String,
    pub need: Resources,
    pub stage: Stage,
    pub instance: Option<String>,
    pub daemon: bool,
    pub placement: Placement,
    /// Capacity provider the task uses; `None`: launch type or Fargate.
    pub capacity_provider: Option<String>,
}

/// Placement constraints and strategies (aws-behaviour §8.3, §8.4).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Placement {
    pub distinct_instance: bool,
    /// `memberOf` expressions, all of which must hold.
    pub member_of: Vec<String>,
    pub strategies: Vec<Strategy>,
}

/// A placement strategy rule.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Strategy {
    /// Least remaining `cpu` or `memory` first.
    Binpack(BinpackField),
    /// Evenly over `instanceId` or an attribute (e.g. `attribute:ecs.availability-zone`).
    Spread(String),
    Random,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum BinpackField {
    Cpu,
    Memory,
}

/// An instance type the ASG can launch.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceType {
    pub name: String,
    pub cpu: u32,
    pub memory: u32,
    #[serde(default)]
    pub gpus: u32,
}

/// The Auto Scaling group behind the capacity provider.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AutoScalingGroup {
    pub name: String,
    pub min: u32,
    pub max: u32,
    pub desired: u32,
    pub zones: Vec<String>,
    /// Smallest first (aws-behaviour §7.3 step 3).
    pub instance_types: Vec<InstanceType>,
}

/// `ManagedScaling` in AWS's shape (aws-behaviour §7.1), defaults applied.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ManagedScaling {
    #[serde(default = "default_target")]
    pub target_capacity: u32,
    #[serde(default = "one")]
    pub minimum_scaling_step_size: u32,
    #[serde(default = "max_step")]
    pub maximum_scaling_step_size: u32,
    #[serde(default = "warmup")]
    pub instance_warmup_period: u32,
}

fn default_target() -> u32 {
    100
}
fn one() -> u32 {
    1
}
fn max_step() -> u32 {
    10_000
}
fn warmup() -> u32 {
    300
}

impl Default for ManagedScaling {
    fn default() -> Self {
        Self {
            target_capacity: 100,
            minimum_scaling_step_size: 1,
            maximum_scaling_step_size: 10_000,
            instance_warmup_period: 300,
        }
    }
}

/// A service's deployment state, for rolling-update headroom (aws-behaviour §9).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ServiceState {
    pub name: String,
    pub group: String,
    pub desired: u32,
    pub running: u32,
    pub pending: u32,
    pub deployment_in_progress: bool,
    pub maximum_percent: u32,
    pub capacity_provider: Option<String>,
    /// Resources and placement of one of its tasks (from its task definition).
    pub task_need: Resources,
    pub placement: Placement,
}

/// Everything the planner needs about one capacity provider.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Cluster {
    pub capacity_provider: String,
    pub managed_scaling: ManagedScaling,
    pub asg: AutoScalingGroup,
    pub instances: Vec<Instance>,
    pub tasks: Vec<Task>,
    pub services: Vec<ServiceState>,
}
