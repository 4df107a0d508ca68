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
    /// Task scale-in protection (`UpdateTaskProtection`): protected until
    /// this instant (docs/capacity.md "Task scale-in protection").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protected_until: Option<Timestamp>,
}

impl Task {
    /// Whether the task protects itself from scale-in at `now`.
    #[must_use]
    pub fn protected_at(&self, now: Timestamp) -> bool {
        self.protected_until.is_some_and(|until| until > now)
    }
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
fn hundred() -> u32 {
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
    /// Its deployment's `minimumHealthyPercent` (100 unless given).
    #[serde(default = "hundred")]
    pub minimum_healthy_percent: u32,
    /// Its capacity provider strategy (its own, else the cluster's default
    /// one); empty for a launch type (EC2, FARGATE, EXTERNAL).
    #[serde(default)]
    pub strategy: Vec<StrategyItem>,
    /// Resources and placement of one of its tasks (from its task definition).
    pub task_need: Resources,
    pub placement: Placement,
}

/// One item of a capacity provider strategy (aws-behaviour §7.7,
/// docs/capacity.md "Several capacity providers").
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StrategyItem {
    pub provider: String,
    #[serde(default)]
    pub base: u32,
    #[serde(default)]
    pub weight: u32,
}

/// Providers that never need instances: Fargate's (aws-behaviour §7.8).
pub const FARGATE_PROVIDERS: [&str; 2] = ["FARGATE", "FARGATE_SPOT"];

/// How ECS spreads `total` tasks over a strategy: the item with a `base`
/// gets up to `base` first, the rest go by weight (weights 1:4 put one
/// task on the first for every four on the second); weight-0 items get
/// nothing beyond their base. Rounding is largest-remainder, ties to the
/// earlier item, so the shares always add up to `total` when any weight is
/// positive.
#[must_use]
pub fn split_by_strategy(total: u32, strategy: &[StrategyItem]) -> BTreeMap<String, u32> {
    let mut shares: BTreeMap<String, u32> = BTreeMap::new();
    let mut left = total;
    for item in strategy {
        let base = item.base.min(left);
        left -= base;
        *shares.entry(item.provider.clone()).or_default() += base;
    }
    let weight: u64 = strategy.iter().map(|i| u64::from(i.weight)).sum();
    if left == 0 || weight == 0 {
        return shares;
    }
    let mut given = 0;
    let mut remainders: Vec<(u64, usize)> = Vec::new();
    for (k, item) in strategy.iter().enumerate() {
        let exact = u64::from(left) * u64::from(item.weight);
        let whole = (exact / weight) as u32;
        given += whole;
        *shares.entry(item.provider.clone()).or_default() += whole;
        if item.weight > 0 {
            remainders.push((exact % weight, k));
        }
    }
    remainders.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    for (_, k) in remainders.into_iter().take((left - given) as usize) {
        *shares.entry(strategy[k].provider.clone()).or_default() += 1;
    }
    shares
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

#[cfg(test)]
mod tests {
    use super::*;

    fn item(provider: &str, base: u32, weight: u32) -> StrategyItem {
        StrategyItem { provider: provider.into(), base, weight }
    }

    /// (name, total, strategy, expected shares)
    type SplitCase = (&'static str, u32, Vec<StrategyItem>, Vec<(&'static str, u32)>);

    /// docs/capacity.md "Several capacity providers": base first, then by
    /// weight, largest remainder.
    #[test]
    fn strategy_split_cases_with_the_reason_each_is_what_it_is() {
        let cases: Vec<SplitCase> = vec![
            ("one provider takes every task", 7, vec![item("od", 0, 1)], vec![("od", 7)]),
            (
                "weights 1:4 put one on the first for every four on the second",
                10,
                vec![item("od", 0, 1), item("spot", 0, 4)],
                vec![("od", 2), ("spot", 8)],
            ),
            (
                "the base is filled first, the rest goes by weight",
                10,
                vec![item("od", 2, 1), item("spot", 0, 1)],
                vec![("od", 6), ("spot", 4)],
            ),
            (
                "fewer tasks than the base: all on the base",
                1,
                vec![item("od", 2, 1), item("spot", 0, 3)],
                vec![("od", 1), ("spot", 0)],
            ),
            (
                "a weight-0 provider gets nothing beyond its base",
                5,
                vec![item("od", 1, 0), item("FARGATE", 0, 1)],
                vec![("od", 1), ("FARGATE", 4)],
            ),
            (
                "a remainder goes to the largest fraction, ties to the earlier item",
                3,
                vec![item("a", 0, 1), item("b", 0, 1)],
                vec![("a", 2), ("b", 1)],
            ),
            ("no positive weight: only the base is placed", 4, vec![item("od", 2, 0)], vec![("od", 2)]),
        ];
        for (name, total, strategy, expected) in cases {
            let shares = split_by_strategy(total, &strategy);
            let expected: BTreeMap<String, u32> = expected.into_iter().map(|(p, n)| (p.to_owned(), n)).collect();
            assert_eq!(shares, expected, "{name}");
            if strategy.iter().any(|i| i.weight > 0) {
                assert_eq!(shares.values().sum::<u32>(), total, "{name}: every task has a provider");
            }
        }
    }
}
