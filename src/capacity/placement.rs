//! Task placement on EC2 (aws-behaviour §8): resources and ports → constraints
//! (`distinctInstance`, `memberOf`) → strategies in order (`binpack`,
//! `spread`, seeded `random`), each later rule only breaking ties of the
//! earlier ones (aws-behaviour §8.4 (our choice)). Also the grouped estimator that answers "how
//! many new instances do these tasks need" in time linear in instances.

use super::model::{BinpackField, Instance, InstanceType, Placement, Resources, Strategy, Task};
use super::query::{Expr, QueryError};
use std::collections::BTreeMap;

/// Where each task went, and what could not be placed.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PlacementResult {
    /// (task id, instance id)
    pub placed: Vec<(String, String)>,
    /// (task id, reason)
    pub unplaced: Vec<(String, String)>,
    /// Hypothetical instances opened for the batch.
    pub new_instances: u32,
}

/// Options of a placement run.
#[derive(Clone, Debug)]
pub struct PlacementOptions<'a> {
    /// Instance type for hypothetical new instances (`None`: existing only).
    pub new_type: Option<&'a InstanceType>,
    /// Zones to spread new instances over.
    pub zones: &'a [String],
    /// At most this many new instances.
    pub max_new: u32,
    pub seed: u64,
}

/// A compiled placement (memberOf expressions parsed once).
struct Compiled {
    member_of: Vec<Expr>,
}

fn compile(p: &Placement) -> Result<Compiled, QueryError> {
    Ok(Compiled { member_of: p.member_of.iter().map(|e| Expr::parse(e)).collect::<Result<_, _>>()? })
}

fn eligible(instance: &Instance, task: &Task, compiled: &Compiled) -> bool {
    instance.accepts_tasks()
        && instance.free.fits(&task.need)
        && !(task.placement.distinct_instance && instance.groups.get(&task.group).is_some_and(|n| *n > 0))
        && compiled.member_of.iter().all(|e| e.eval(instance))
}

/// A hypothetical empty instance of `kind` in `zone`.
#[must_use]
pub fn hypothetical(kind: &InstanceType, zone: &str, n: u32) -> Instance {
    Instance {
        id: format!("new-{n}"),
        ec2_instance_id: None,
        status: "ACTIVE".into(),
        agent_connected: true,
        free: Resources { cpu: kind.cpu, memory: kind.memory, gpus: kind.gpus, ports: Default::default() },
        registered: Resources { cpu: kind.cpu, memory: kind.memory, gpus: kind.gpus, ports: Default::default() },
        attributes: [
            ("ecs.availability-zone".to_owned(), zone.to_owned()),
            ("ecs.instance-type".to_owned(), kind.name.clone()),
        ]
        .into(),
        running_tasks: 0,
        pending_tasks: 0,
        non_daemon_tasks: 0,
        groups: BTreeMap::new(),
        launched_at: None,
        in_asg: true,
        protected_from_scale_in: false,
        hypothetical: true,
    }
}

/// Places `tasks` in order on `instances` (updated in place), opening
/// hypothetical instances when allowed.
///
/// # Errors
/// [`QueryError`] for an invalid `memberOf` expression.
pub fn place(
    tasks: &[Task],
    instances: &mut Vec<Instance>,
    options: &PlacementOptions<'_>,
) -> Result<PlacementResult, QueryError> {
    let mut result = PlacementResult::default();
    let mut rng = options.seed | 1;
    for task in tasks {
        let compiled = compile(&task.placement)?;
        let strategies = if task.placement.strategies.is_empty() {
            // Service default: spread over zones, then over instances (aws-behaviour §8.4).
            vec![Strategy::Spread("attribute:ecs.availability-zone".into()), Strategy::Spread("instanceId".into())]
        } else {
            task.placement.strategies.clone()
        };
        let mut candidates: Vec<usize> =
            (0..instances.len()).filter(|i| eligible(&instances[*i], task, &compiled)).collect();
        if candidates.is_empty() {
            if let Some(kind) = options.new_type.filter(|_| result.new_instances < options.max_new) {
                let zone = emptiest_zone(instances, options.zones);
                let fresh = hypothetical(kind, &zone, result.new_instances);
                if eligible(&fresh, task, &compiled) {
                    instances.push(fresh);
                    result.new_instances += 1;
                    candidates.push(instances.len() - 1);
                }
            }
        }
        if candidates.is_empty() {
            let reason = if options.new_type.is_some_and(|k| {
                !(Resources { cpu: k.cpu, memory: k.memory, gpus: k.gpus, ports: Default::default() }).fits(&task.need)
            }) {
                "needs more than an instance of the Auto Scaling group's type"
            } else if result.new_instances >= options.max_new && options.new_type.is_some() {
                "no room: the Auto Scaling group is at its maximum"
            } else {
                "no instance satisfies its resources and constraints"
            };
            result.unplaced.push((task.id.clone(), reason.to_owned()));
            continue;
        }
        // Rank: each strategy's key, then instance order.
        let keys: Vec<Vec<u64>> = candidates
            .iter()
            .map(|&i| {
                strategies
                    .iter()
                    .map(|s| match s {
                        Strategy::Binpack(BinpackField::Cpu) => u64::from(instances[i].free.cpu),
                        Strategy::Binpack(BinpackField::Memory) => u64::from(instances[i].free.memory),
                        Strategy::Spread(field) => spread_count(instances, i, field, &task.group),
                        Strategy::Random => {
                            // xorshift64*: deterministic for a seed.
                            rng ^= rng >> 12;
                            rng ^= rng << 25;
                            rng ^= rng >> 27;
                            rng.wrapping_mul(0x2545_F491_4F6C_DD1D)
                        }
                    })
                    .collect()
            })
            .collect();
        let best = (0..candidates.len())
            .min_by(|a, b| keys[*a].cmp(&keys[*b]).then(candidates[*a].cmp(&candidates[*b])))
            .unwrap_or(0);
        let chosen = &mut instances[candidates[best]];
        chosen.free.take(&task.need);
        *chosen.groups.entry(task.group.clone()).or_default() += 1;
        chosen.running_tasks += 1;
        if !task.daemon {
            chosen.non_daemon_tasks += 1;
        }
        result.placed.push((task.id.clone(), chosen.id.clone()));
    }
    Ok(result)
}

/// Tasks of `group` on instances sharing `instances[i]`'s value of `field`.
fn spread_count(instances: &[Instance], i: usize, field: &str, group: &str) -> u64 {
    let count = |inst: &Instance| u64::from(inst.groups.get(group).copied().unwrap_or(0));
    if field == "instanceId" || field == "host" {
        return count(&instances[i]);
    }
    let name = field.strip_prefix("attribute:").unwrap_or(field);
    let value = instances[i].attribute(name);
    instances.iter().filter(|inst| inst.attribute(name) == value).map(count).sum()
}

/// The zone with the fewest instances (new instances keep zones balanced).
fn emptiest_zone(instances: &[Instance], zones: &[String]) -> String {
    zones
        .iter()
        .min_by_key(|z| instances.iter().filter(|i| i.zone() == z.as_str()).count())
        .cloned()
        .unwrap_or_default()
}

/// Identical requirements: cpu, memory, gpus, host ports, distinctInstance,
/// memberOf expressions, and the task group when distinctInstance applies.
type GroupKey = (u32, u32, u32, Vec<u16>, bool, Vec<String>, String);

/// One instance's room in an estimate: free capacity, attributes, whether
/// the estimate opened it, and the task groups on it (distinctInstance counts
/// the group's running and pending tasks, aws-behaviour §8.3).
type Room = (Resources, BTreeMap<String, String>, bool, BTreeMap<String, u32>);

/// Result of the grouped estimate.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Estimate {
    /// New instances of the ASG's type needed.
    pub new_instances: u32,
    /// Tasks that fit on no instance type of the group (they stay pending).
    pub incompatible: u32,
    /// Tasks that fit on existing (or launching) instances.
    pub on_existing: u32,
}

/// How many instances of `kind` the tasks need beyond `instances`' free
/// capacity (binpack, aws-behaviour §7.3). Tasks are grouped by identical
/// requirements; each group fills existing free capacity in instance order,
/// then new instances. Time: O(groups × (instances + new instances)).
///
/// # Errors
/// [`QueryError`] for an invalid `memberOf` expression.
pub fn estimate(
    tasks: &[&Task],
    instances: &[Instance],
    kind: &InstanceType,
    smallest: &InstanceType,
) -> Result<Estimate, QueryError> {
    // Group identical requirements (resources, constraints, and the task
    // group when distinctInstance makes it matter).
    let mut groups: BTreeMap<GroupKey, u32> = BTreeMap::new();
    for t in tasks {
        let key = (
            t.need.cpu,
            t.need.memory,
            t.need.gpus,
            t.need.ports.iter().copied().collect(),
            t.placement.distinct_instance,
            t.placement.member_of.clone(),
            if t.placement.distinct_instance { t.group.clone() } else { String::new() },
        );
        *groups.entry(key).or_default() += 1;
    }
    // Largest requirements first: fewer instances, like first-fit decreasing.
    let mut ordered: Vec<_> = groups.into_iter().collect();
    ordered.sort_by_key(|g| std::cmp::Reverse((g.0 .0, g.0 .1)));
    let mut free: Vec<Room> = instances
        .iter()
        .filter(|i| i.accepts_tasks())
        .map(|i| (i.free.clone(), i.attributes.clone(), false, i.groups.clone()))
        .collect();
    let mut estimate = Estimate::default();
    for ((cpu, memory, gpus, ports, distinct, member_of, group), count) in ordered {
        let need = Resources { cpu, memory, gpus, ports: ports.iter().copied().collect() };
        let exprs: Vec<Expr> = member_of.iter().map(|e| Expr::parse(e)).collect::<Result<_, _>>()?;
        let per = |r: &Resources| -> u32 {
            if !r.fits(&need) {
                return 0;
            }
            let by = |have: u32, want: u32| have.checked_div(want).unwrap_or(u32::MAX);
            let n = by(r.cpu, cpu).min(by(r.memory, memory)).min(by(r.gpus, gpus));
            if !ports.is_empty() || distinct {
                n.min(1)
            } else {
                n
            }
        };
        let empty_smallest =
            Resources { cpu: smallest.cpu, memory: smallest.memory, gpus: smallest.gpus, ports: Default::default() };
        let empty_kind = Resources { cpu: kind.cpu, memory: kind.memory, gpus: kind.gpus, ports: Default::default() };
        // A group that needs more than the smallest type is incompatible:
        // excluded, its tasks stay PROVISIONING (aws-behaviour §7.3 step 3), even when a
        // larger type of the group could run it.
        if per(&empty_smallest) == 0 {
            estimate.incompatible += count;
            continue;
        }
        let mut left = count;
        for (r, attributes, is_new, groups) in &mut free {
            if left == 0 {
                break;
            }
            // distinctInstance: not beside a task of its own group, whether
            // that one was there already or placed by this estimate.
            if distinct && groups.get(&group).is_some_and(|n| *n > 0) {
                continue;
            }
            if !exprs.is_empty() {
                let probe = Instance { attributes: attributes.clone(), ..hypothetical(kind, "", 0) };
                if !exprs.iter().all(|e| e.eval(&probe)) {
                    continue;
                }
            }
            let n = per(r).min(left);
            if n > 0 {
                for _ in 0..n {
                    r.take(&need);
                }
                if distinct {
                    *groups.entry(group.clone()).or_default() += n;
                }
                left -= n;
                if !*is_new {
                    estimate.on_existing += n;
                }
            }
        }
        let per_new = per(&empty_kind);
        if left > 0 && per_new > 0 {
            let opened = left.div_ceil(per_new);
            estimate.new_instances += opened;
            for k in 0..opened {
                let mut r = empty_kind.clone();
                let n = per_new.min(left - k * per_new);
                for _ in 0..n {
                    r.take(&need);
                }
                let groups = if distinct { [(group.clone(), n)].into() } else { BTreeMap::new() };
                free.push((r, [("ecs.instance-type".to_owned(), kind.name.clone())].into(), true, groups));
            }
        } else if left > 0 {
            estimate.incompatible += left;
        }
    }
    Ok(estimate)
}
