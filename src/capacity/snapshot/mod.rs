//! A cluster snapshot assembled from AWS CLI output users already have, as
//! printed, merged into one document (or several, concatenated like the
//! configuration):
//!
//! | key | from |
//! |---|---|
//! | `containerInstances` | `aws ecs describe-container-instances` |
//! | `tasks` | `aws ecs describe-tasks` |
//! | `services` | `aws ecs describe-services` |
//! | `capacityProviders` | `aws ecs describe-capacity-providers` |
//! | `clusters` | optional: `aws ecs describe-clusters` (the default capacity provider strategy) |
//! | `protectedTasks` | optional: `aws ecs get-task-protection` (task scale-in protection) |
//! | `AutoScalingGroups` | `aws autoscaling describe-auto-scaling-groups` |
//! | `taskDefinitions` | optional: `taskDefinition` objects of `aws ecs describe-task-definition` (ports, service task sizes) |
//! | `instanceTypes` | our addition: `{"m5.large": {"cpu": 2048, "memory": 7680}}` — CPU units and MiB ECS can use |
//!
//! AWS output is read tolerantly (fields AWS adds are ignored); a missing or
//! ill-typed field the planner needs is an error naming its path.

mod raw;

use super::model::*;
use crate::event::AwsTime;
use raw::*;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// Why a snapshot cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("snapshot {path}: {message}")]
pub struct SnapshotError {
    pub path: String,
    pub message: String,
}

fn err(path: impl Into<String>, message: impl Into<String>) -> SnapshotError {
    SnapshotError { path: path.into(), message: message.into() }
}

/// Merges documents (lists under the same key are concatenated).
///
/// # Errors
/// [`SnapshotError`] when a document is not a JSON/YAML mapping.
pub fn merge(documents: &[(&str, &str)]) -> Result<serde_json::Map<String, Value>, SnapshotError> {
    let mut merged = serde_json::Map::new();
    for (name, text) in documents {
        let value: Value = crate::document::parse(text).map_err(|e| err(*name, e))?;
        let Value::Object(map) = value else { return Err(err(*name, "expected a mapping of AWS CLI outputs")) };
        for (k, v) in map {
            match (merged.get_mut(&k), v) {
                (Some(Value::Array(a)), Value::Array(b)) => a.extend(b),
                (Some(Value::Object(a)), Value::Object(b)) => a.extend(b),
                (_, v) => {
                    merged.insert(k, v);
                }
            }
        }
    }
    Ok(merged)
}

fn parse_u32(text: Option<&str>, path: &str) -> Result<Option<u32>, SnapshotError> {
    text.map(|t| t.trim().parse::<u32>().map_err(|_| err(path, format!("{t:?} is not a whole number")))).transpose()
}

fn timestamp(value: &Value) -> Option<jiff::Timestamp> {
    match value {
        Value::String(s) => AwsTime::parse(s).ok().map(|t| t.instant()),
        Value::Number(n) => n.as_f64().and_then(|f| jiff::Timestamp::from_second(f as i64).ok()),
        _ => None,
    }
}

/// Every capacity provider of a snapshot: the cluster view of each one with
/// an Auto Scaling group, and the names of those that need no instances
/// (Fargate's, or any without `autoScalingGroupProvider`).
#[derive(Clone, Debug, PartialEq)]
pub struct Providers {
    pub planned: Vec<Cluster>,
    pub without_instances: Vec<String>,
}

/// Why a provider gets no plan: it has no Auto Scaling group.
#[must_use]
pub fn no_instances_reason(provider: &str) -> String {
    format!("capacity provider {provider} has no Auto Scaling group (Fargate or no autoScalingGroupProvider): nothing to plan")
}

/// `protectedTasks`: the tasks whose protection is enabled, and until when.
fn protections(doc: &serde_json::Map<String, Value>) -> Result<BTreeMap<String, jiff::Timestamp>, SnapshotError> {
    let raw: Vec<RawTaskProtection> = list(doc, "protectedTasks")?;
    let mut out = BTreeMap::new();
    for (i, p) in raw.iter().enumerate().filter(|(_, p)| p.protection_enabled) {
        let until = match &p.expiration_date {
            None | Some(Value::Null) => jiff::Timestamp::MAX,
            Some(v) => timestamp(v).ok_or_else(|| {
                err(
                    format!("protectedTasks[{i}].expirationDate"),
                    format!("{v} is not a time (RFC 3339 or epoch seconds)"),
                )
            })?,
        };
        out.insert(p.task_arn.clone(), until);
    }
    Ok(out)
}

/// The tasks whose scale-in protection the planner needs to know
/// (docs/capacity.md "Task scale-in protection"): those running on an
/// instance the planner may drain. Without consolidation that is an
/// instance that runs no non-daemon task (so only daemon tasks): a busy
/// instance is never drained, whatever its tasks say. With consolidation,
/// any instance may be drained: every task on one.
///
/// # Errors
/// [`SnapshotError`] naming the path and the problem.
pub fn protection_candidates(
    doc: &serde_json::Map<String, Value>,
    consolidation: bool,
) -> Result<Vec<String>, SnapshotError> {
    let services: Vec<RawService> = list(doc, "services")?;
    let tasks: Vec<RawTask> = list(doc, "tasks")?;
    let daemons: BTreeSet<String> = services
        .iter()
        .filter(|s| s.scheduling_strategy.as_deref() == Some("DAEMON"))
        .map(|s| format!("service:{}", s.service_name))
        .collect();
    let is_daemon = |t: &RawTask| t.group.as_ref().is_some_and(|g| daemons.contains(g));
    let mut busy: BTreeSet<&str> = BTreeSet::new();
    for t in tasks.iter().filter(|t| !consolidation && !is_daemon(t)) {
        busy.extend(t.container_instance_arn.as_deref());
    }
    Ok(tasks
        .iter()
        .filter(|t| t.container_instance_arn.as_deref().is_some_and(|i| !busy.contains(i)))
        .map(|t| t.task_arn.clone())
        .collect())
}

/// The raw lists of a snapshot, read once.
struct Raw {
    providers: Vec<RawCapacityProvider>,
    asgs: Vec<RawAsg>,
    instances: Vec<RawInstance>,
    tasks: Vec<RawTask>,
    services: Vec<RawService>,
    task_definitions: Vec<RawTaskDefinition>,
    default_strategy: Vec<RawStrategyItem>,
    types: BTreeMap<String, RawInstanceType>,
    /// Task ARN → protected until (`Timestamp::MAX`: no expiry given).
    protections: BTreeMap<String, jiff::Timestamp>,
}

impl Raw {
    fn read(doc: &serde_json::Map<String, Value>) -> Result<Self, SnapshotError> {
        let clusters: Vec<RawCluster> = list(doc, "clusters")?;
        if clusters.len() > 1 {
            return Err(err("clusters", "a snapshot describes one cluster; found several"));
        }
        Ok(Self {
            providers: list(doc, "capacityProviders")?,
            asgs: list(doc, "AutoScalingGroups")?,
            instances: list(doc, "containerInstances")?,
            tasks: list(doc, "tasks")?,
            services: list(doc, "services")?,
            task_definitions: list(doc, "taskDefinitions")?,
            default_strategy: clusters
                .into_iter()
                .next()
                .map(|c| c.default_capacity_provider_strategy)
                .unwrap_or_default(),
            protections: protections(doc)?,
            types: match doc.get("instanceTypes") {
                Some(v) => serde_path_to_error::deserialize(v.clone())
                    .map_err(|e| err(format!("instanceTypes.{}", e.path()), e.into_inner().to_string()))?,
                None => BTreeMap::new(),
            },
        })
    }

    fn needs_types(&self, doc: &serde_json::Map<String, Value>) -> Result<(), SnapshotError> {
        if doc.contains_key("instanceTypes") {
            Ok(())
        } else {
            Err(err("instanceTypes", "missing: give the CPU units and MiB of the ASG's instance types, e.g. {\"m5.large\": {\"cpu\": 2048, \"memory\": 7680}}"))
        }
    }
}

/// Every capacity provider the snapshot lists, and the Fargate providers
/// its services' strategies use: each one with an Auto Scaling group as a
/// cluster view to plan, the others as needing no instances.
///
/// # Errors
/// [`SnapshotError`] naming the path and the problem.
pub fn providers(doc: &serde_json::Map<String, Value>) -> Result<Providers, SnapshotError> {
    let raw = Raw::read(doc)?;
    let mut planned = Vec::new();
    let mut without_instances = Vec::new();
    for p in &raw.providers {
        if p.auto_scaling_group_provider.is_some() {
            raw.needs_types(doc)?;
            planned.push(build(&raw, p)?);
        } else if !without_instances.contains(&p.name) {
            without_instances.push(p.name.clone());
        }
    }
    let strategies = raw.services.iter().flat_map(|s| &s.capacity_provider_strategy).chain(&raw.default_strategy);
    for item in strategies {
        let name = &item.capacity_provider;
        if FARGATE_PROVIDERS.contains(&name.as_str()) && !without_instances.contains(name) {
            without_instances.push(name.clone());
        }
    }
    if planned.is_empty() && without_instances.is_empty() {
        return Err(err(
            "capacityProviders",
            "no capacity provider listed, nor any in a strategy: give the output of aws ecs describe-capacity-providers",
        ));
    }
    Ok(Providers { planned, without_instances })
}

/// The cluster view of `provider`, or `None` when it needs no instances
/// (Fargate's, or listed without `autoScalingGroupProvider`).
///
/// # Errors
/// [`SnapshotError`] when the snapshot does not list the provider, or
/// naming the path and the problem.
pub fn provider(doc: &serde_json::Map<String, Value>, name: &str) -> Result<Option<Cluster>, SnapshotError> {
    let raw = Raw::read(doc)?;
    match raw.providers.iter().find(|p| p.name == name) {
        Some(p) if p.auto_scaling_group_provider.is_some() => {
            raw.needs_types(doc)?;
            build(&raw, p).map(Some)
        }
        Some(_) => Ok(None),
        None if FARGATE_PROVIDERS.contains(&name) => Ok(None),
        None => Err(err("capacityProviders", format!("no capacity provider named {name:?}"))),
    }
}

/// Builds the cluster view of one capacity provider (the only one with an
/// Auto Scaling group, or `provider` when the snapshot has several).
///
/// # Errors
/// [`SnapshotError`] naming the path and the problem.
pub fn cluster(doc: &serde_json::Map<String, Value>, provider: Option<&str>) -> Result<Cluster, SnapshotError> {
    let raw = Raw::read(doc)?;
    raw.needs_types(doc)?;
    let with_asg: Vec<&RawCapacityProvider> =
        raw.providers.iter().filter(|p| p.auto_scaling_group_provider.is_some()).collect();
    let chosen = match provider {
        Some(name) => with_asg.iter().find(|p| p.name == name).copied().ok_or_else(|| {
            err("capacityProviders", format!("no Auto Scaling group capacity provider named {name:?}"))
        })?,
        None => match with_asg.as_slice() {
            [one] => *one,
            [] => return Err(err("capacityProviders", "no capacity provider with an autoScalingGroupProvider")),
            _ => {
                return Err(err("capacityProviders", "several capacity providers: choose one with --capacity-provider"))
            }
        },
    };
    build(&raw, chosen)
}

/// The cluster view of `chosen`, a provider with an Auto Scaling group.
fn build(raw: &Raw, chosen: &RawCapacityProvider) -> Result<Cluster, SnapshotError> {
    let Raw {
        asgs, instances: raw_instances, tasks: raw_tasks, services: raw_services, task_definitions, types, ..
    } = raw;
    let asg_provider =
        chosen.auto_scaling_group_provider.as_ref().ok_or_else(|| err("capacityProviders", "not an ASG provider"))?;
    let asg_name = asg_provider
        .auto_scaling_group_arn
        .rsplit("autoScalingGroupName/")
        .next()
        .unwrap_or(&asg_provider.auto_scaling_group_arn);
    let raw_asg = asgs.iter().find(|a| a.auto_scaling_group_name == asg_name).ok_or_else(|| {
        err("AutoScalingGroups", format!("the group {asg_name:?} of capacity provider {:?} is missing", chosen.name))
    })?;

    // Instance types of the group: those its instances run, else all given.
    let mut used: BTreeSet<String> = raw_asg.instances.iter().filter_map(|i| i.instance_type.clone()).collect();
    if used.is_empty() {
        used = types.keys().cloned().collect();
    }
    let mut instance_types = Vec::new();
    for name in &used {
        let t =
            types.get(name).ok_or_else(|| err(format!("instanceTypes.{name}"), "missing: the group runs this type"))?;
        instance_types.push(InstanceType { name: name.clone(), cpu: t.cpu, memory: t.memory, gpus: t.gpus });
    }
    instance_types.sort_by_key(|t| (t.cpu, t.memory, t.gpus));

    let definitions: BTreeMap<&str, &RawTaskDefinition> =
        task_definitions.iter().filter_map(|d| d.task_definition_arn.as_deref().map(|a| (a, d))).collect();
    let definition_need = |arn: Option<&str>| -> Option<Resources> {
        let d = definitions.get(arn?)?;
        let cpu = d
            .cpu
            .as_deref()
            .and_then(|c| c.parse().ok())
            .unwrap_or_else(|| d.container_definitions.iter().filter_map(|c| c.cpu).sum());
        let memory =
            d.memory.as_deref().and_then(|m| m.parse().ok()).unwrap_or_else(|| {
                d.container_definitions.iter().filter_map(|c| c.memory_reservation.or(c.memory)).sum()
            });
        let ports = if d.network_mode.as_deref() == Some("awsvpc") {
            BTreeSet::new()
        } else {
            d.container_definitions
                .iter()
                .flat_map(|c| c.port_mappings.iter().filter_map(|p| p.host_port.filter(|h| *h != 0)))
                .collect()
        };
        Some(Resources { cpu, memory, gpus: 0, ports })
    };

    let mut services = Vec::new();
    let mut placement_by_group: BTreeMap<String, (Placement, bool)> = BTreeMap::new();
    for (i, s) in raw_services.iter().enumerate() {
        let group = format!("service:{}", s.service_name);
        let mut placement = Placement::default();
        for c in &s.placement_constraints {
            match (c.kind.as_str(), &c.expression) {
                ("distinctInstance", _) => placement.distinct_instance = true,
                ("memberOf", Some(e)) => placement.member_of.push(e.clone()),
                (other, _) => {
                    return Err(err(
                        format!("services[{i}].placementConstraints"),
                        format!("unsupported constraint type {other:?}"),
                    ))
                }
            }
        }
        for st in &s.placement_strategy {
            placement.strategies.push(match (st.kind.as_str(), st.field.as_deref()) {
                ("binpack", Some("cpu" | "CPU")) => Strategy::Binpack(BinpackField::Cpu),
                ("binpack", Some("memory" | "MEMORY")) => Strategy::Binpack(BinpackField::Memory),
                ("spread", Some(field)) => Strategy::Spread(field.to_owned()),
                ("random", _) => Strategy::Random,
                (kind, field) => {
                    return Err(err(
                        format!("services[{i}].placementStrategy"),
                        format!("unsupported strategy {kind} {field:?}"),
                    ))
                }
            });
        }
        let daemon = s.scheduling_strategy.as_deref() == Some("DAEMON");
        placement_by_group.insert(group.clone(), (placement.clone(), daemon));
        // A launch type excludes a strategy; with neither, the cluster's
        // default strategy applies (aws-behaviour §7.7).
        let raw_strategy = match (&s.launch_type, s.capacity_provider_strategy.is_empty()) {
            (Some(_), _) => &[][..],
            (None, true) => &raw.default_strategy[..],
            (None, false) => &s.capacity_provider_strategy[..],
        };
        let strategy = raw_strategy
            .iter()
            .map(|c| StrategyItem { provider: c.capacity_provider.clone(), base: c.base, weight: c.weight })
            .collect();
        let in_progress = s.deployments.len() > 1
            || s.deployments
                .iter()
                .any(|d| d.status.as_deref() == Some("PRIMARY") && d.rollout_state.as_deref() == Some("IN_PROGRESS"));
        services.push(ServiceState {
            name: s.service_name.clone(),
            group,
            desired: s.desired_count,
            running: s.running_count,
            pending: s.pending_count,
            deployment_in_progress: in_progress,
            maximum_percent: s.deployment_configuration.as_ref().and_then(|c| c.maximum_percent).unwrap_or(200),
            minimum_healthy_percent: s
                .deployment_configuration
                .as_ref()
                .and_then(|c| c.minimum_healthy_percent)
                .unwrap_or(100),
            strategy,
            task_need: definition_need(s.task_definition.as_deref()).unwrap_or_default(),
            placement,
        });
    }

    let mut tasks = Vec::new();
    let mut seen_tasks: BTreeSet<&str> = BTreeSet::new();
    for (i, t) in raw_tasks.iter().enumerate() {
        // A task listed twice (two describe-tasks outputs merged) would be
        // counted twice.
        if !seen_tasks.insert(t.task_arn.as_str()) {
            return Err(err(format!("tasks[{i}].taskArn"), format!("{} is listed twice", t.task_arn)));
        }
        let stage = match t.last_status.as_str() {
            "PROVISIONING" => Stage::Provisioning,
            "PENDING" | "ACTIVATING" => Stage::Pending,
            "RUNNING" => Stage::Running,
            "DEACTIVATING" | "STOPPING" | "DEPROVISIONING" => Stage::Stopping,
            _ => continue,
        };
        let group = t.group.clone().unwrap_or_default();
        let mut need = definition_need(t.task_definition_arn.as_deref()).unwrap_or_default();
        if let Some(cpu) = parse_u32(t.cpu.as_deref(), &format!("tasks[{i}].cpu"))? {
            need.cpu = cpu;
        }
        if let Some(memory) = parse_u32(t.memory.as_deref(), &format!("tasks[{i}].memory"))? {
            need.memory = memory;
        }
        let bound: BTreeSet<u16> =
            t.containers.iter().flat_map(|c| c.network_bindings.iter().filter_map(|b| b.host_port)).collect();
        if !bound.is_empty() {
            need.ports = bound;
        }
        let (placement, daemon) = placement_by_group.get(&group).cloned().unwrap_or_default();
        tasks.push(Task {
            id: t.task_arn.clone(),
            group,
            need,
            stage,
            instance: t.container_instance_arn.clone(),
            daemon,
            placement,
            capacity_provider: t.capacity_provider_name.clone(),
            protected_until: raw.protections.get(&t.task_arn).copied(),
        });
    }

    let asg_members: BTreeMap<&str, &RawAsgInstance> =
        raw_asg.instances.iter().map(|i| (i.instance_id.as_str(), i)).collect();
    let mut instances = Vec::new();
    for (i, r) in raw_instances.iter().enumerate() {
        if r.capacity_provider_name.as_deref().is_some_and(|p| p != chosen.name) {
            continue;
        }
        let resources = |list: &[RawResource], what: &str| -> Result<Resources, SnapshotError> {
            let field = format!("containerInstances[{i}].{what}");
            // ECS reports whole, non-negative amounts: anything else is a
            // corrupt snapshot, not free room (or none) to plan with.
            let int = |name: &str| -> Result<Option<u32>, SnapshotError> {
                match list.iter().find(|x| x.name == name).and_then(|x| x.integer_value) {
                    None => Ok(None),
                    Some(v) => u32::try_from(v).map(Some).map_err(|_| {
                        err(format!("{field}[{name}].integerValue"), format!("{v} is not between 0 and {}", u32::MAX))
                    }),
                }
            };
            let cpu = int("CPU")?.ok_or_else(|| err(field.clone(), "no CPU entry"))?;
            let memory = int("MEMORY")?.ok_or_else(|| err(field.clone(), "no MEMORY entry"))?;
            let ports = list
                .iter()
                .filter(|x| x.name == "PORTS")
                .flat_map(|x| x.string_set_value.iter().flatten())
                .filter_map(|p| p.parse().ok())
                .collect();
            Ok(Resources { cpu, memory, gpus: int("GPU")?.unwrap_or(0), ports })
        };
        let on_it: Vec<&Task> = tasks
            .iter()
            .filter(|t| {
                t.instance.as_deref() == Some(r.container_instance_arn.as_str()) && t.stage != Stage::Provisioning
            })
            .collect();
        let mut groups = BTreeMap::new();
        for t in &on_it {
            *groups.entry(t.group.clone()).or_insert(0) += 1;
        }
        // Without its tasks in the snapshot, count every task as non-daemon:
        // an instance is never taken for empty on missing data.
        let non_daemon = if on_it.is_empty() {
            r.running_tasks_count + r.pending_tasks_count
        } else {
            on_it.iter().filter(|t| !t.daemon).count() as u32
        };
        let member = r.ec2_instance_id.as_deref().and_then(|id| asg_members.get(id));
        let free = resources(&r.remaining_resources, "remainingResources")?;
        let registered = resources(&r.registered_resources, "registeredResources")?;
        for (name, left, total) in [("CPU", free.cpu, registered.cpu), ("MEMORY", free.memory, registered.memory)] {
            if left > total {
                return Err(err(
                    format!("containerInstances[{i}].remainingResources[{name}]"),
                    format!("{left} remaining is more than the {total} registered"),
                ));
            }
        }
        instances.push(Instance {
            id: r.container_instance_arn.clone(),
            ec2_instance_id: r.ec2_instance_id.clone(),
            status: r.status.clone().unwrap_or_else(|| "ACTIVE".into()),
            agent_connected: r.agent_connected.unwrap_or(true),
            free,
            registered,
            attributes: r.attributes.iter().filter_map(|a| a.value.clone().map(|v| (a.name.clone(), v))).collect(),
            running_tasks: r.running_tasks_count,
            pending_tasks: r.pending_tasks_count,
            non_daemon_tasks: non_daemon,
            groups,
            launched_at: r.registered_at.as_ref().and_then(timestamp),
            in_asg: member.is_some(),
            protected_from_scale_in: member.is_some_and(|m| m.protected_from_scale_in),
            hypothetical: false,
        });
    }
    let managed_scaling = asg_provider.managed_scaling.unwrap_or_default();
    check_ranges(&managed_scaling, raw_asg)?;
    Ok(Cluster {
        capacity_provider: chosen.name.clone(),
        managed_scaling,
        asg: AutoScalingGroup {
            name: raw_asg.auto_scaling_group_name.clone(),
            min: raw_asg.min_size,
            max: raw_asg.max_size,
            desired: raw_asg.desired_capacity,
            zones: raw_asg.availability_zones.clone(),
            instance_types,
        },
        instances,
        tasks,
        services,
    })
}

/// AWS's ranges for a capacity provider's managed scaling and its group's
/// sizes (docs/capacity.md): a value outside them would plan nonsense (a
/// target capacity of 0 wants every instance of the group).
fn check_ranges(ms: &ManagedScaling, asg: &RawAsg) -> Result<(), SnapshotError> {
    let managed = "capacityProviders[].autoScalingGroupProvider.managedScaling";
    let within = |field: &str, value: u32, lo: u32, hi: u32| {
        if (lo..=hi).contains(&value) {
            Ok(())
        } else {
            Err(err(format!("{managed}.{field}"), format!("{value} must be from {lo} to {hi}")))
        }
    };
    within("targetCapacity", ms.target_capacity, 1, 100)?;
    within("minimumScalingStepSize", ms.minimum_scaling_step_size, 1, 10_000)?;
    within("maximumScalingStepSize", ms.maximum_scaling_step_size, 1, 10_000)?;
    within("instanceWarmupPeriod", ms.instance_warmup_period, 0, 10_000)?;
    if ms.minimum_scaling_step_size > ms.maximum_scaling_step_size {
        return Err(err(
            format!("{managed}.minimumScalingStepSize"),
            format!(
                "{} is greater than maximumScalingStepSize {}",
                ms.minimum_scaling_step_size, ms.maximum_scaling_step_size
            ),
        ));
    }
    if asg.min_size > asg.max_size {
        return Err(err(
            "AutoScalingGroups[].MinSize",
            format!("{} is greater than MaxSize {}", asg.min_size, asg.max_size),
        ));
    }
    if !(asg.min_size..=asg.max_size).contains(&asg.desired_capacity) {
        return Err(err(
            "AutoScalingGroups[].DesiredCapacity",
            format!("{} is outside MinSize..MaxSize ({}..{})", asg.desired_capacity, asg.min_size, asg.max_size),
        ));
    }
    Ok(())
}
