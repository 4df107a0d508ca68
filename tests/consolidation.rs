//! Consolidation (docs/capacity.md "Consolidation"): `fast` mode, opt-in,
//! drains a busy instance only when the placement simulation fits every
//! task of it on the other busy instances, within the disruption budget,
//! the group's minimum and `targetCapacity`'s spare room, never a task
//! that protects itself, never a service below its minimum healthy percent.

use ecs_autopilot::capacity::model::*;
use ecs_autopilot::capacity::{plan, CapacityAction, CapacityMemory, CapacityOptions, CapacityReason};
use ecs_autopilot::config::EvaluationMode;
use jiff::Timestamp;

const T0: i64 = 1_796_000_000;

fn at(s: i64) -> Timestamp {
    Timestamp::from_second(T0 + s).unwrap()
}

/// Instance `n` in `zone` running `tasks` tasks of 512 CPU units (of 2048).
fn instance(n: usize, zone: &str, tasks: u32) -> Instance {
    Instance {
        id: format!("ci-{n}"),
        ec2_instance_id: Some(format!("i-{n}")),
        status: "ACTIVE".into(),
        agent_connected: true,
        free: Resources { cpu: 2048 - 512 * tasks, memory: 7680 - 1024 * tasks, gpus: 0, ports: Default::default() },
        registered: Resources { cpu: 2048, memory: 7680, gpus: 0, ports: Default::default() },
        attributes: [("ecs.availability-zone".to_owned(), zone.to_owned())].into(),
        running_tasks: tasks,
        pending_tasks: 0,
        non_daemon_tasks: tasks,
        groups: [("service:web".to_owned(), tasks)].into(),
        launched_at: Some(at(-3600)),
        in_asg: true,
        protected_from_scale_in: true,
        hypothetical: false,
    }
}

fn tasks_on(n: usize, count: u32, placement: &Placement) -> Vec<Task> {
    (0..count)
        .map(|k| Task {
            id: format!("t-{n}-{k}"),
            group: "service:web".into(),
            need: Resources { cpu: 512, memory: 1024, gpus: 0, ports: Default::default() },
            stage: Stage::Running,
            instance: Some(format!("ci-{n}")),
            daemon: false,
            placement: placement.clone(),
            capacity_provider: Some("cp".into()),
            protected_until: None,
        })
        .collect()
}

/// A group of instances with `load[k]` tasks each, one `web` service.
fn cluster(load: &[u32], placement: Placement, service: (u32, u32)) -> Cluster {
    let instances: Vec<Instance> =
        load.iter().enumerate().map(|(n, t)| instance(n, ["a", "b", "c"][n % 3], *t)).collect();
    let tasks = load.iter().enumerate().flat_map(|(n, t)| tasks_on(n, *t, &placement)).collect();
    let running: u32 = load.iter().sum();
    Cluster {
        capacity_provider: "cp".into(),
        managed_scaling: ManagedScaling::default(),
        asg: AutoScalingGroup {
            name: "asg".into(),
            min: 1,
            max: 10,
            desired: load.len() as u32,
            zones: vec!["a".into(), "b".into(), "c".into()],
            instance_types: vec![InstanceType { name: "m5.large".into(), cpu: 2048, memory: 7680, gpus: 0 }],
        },
        instances,
        tasks,
        services: vec![ServiceState {
            name: "web".into(),
            group: "service:web".into(),
            desired: running,
            running,
            pending: 0,
            deployment_in_progress: false,
            maximum_percent: service.0,
            minimum_healthy_percent: service.1,
            strategy: vec![StrategyItem { provider: "cp".into(), base: 0, weight: 1 }],
            task_need: Resources { cpu: 512, memory: 1024, gpus: 0, ports: Default::default() },
            placement,
        }],
    }
}

fn drained(c: &Cluster, options: &CapacityOptions) -> (Vec<String>, CapacityReason) {
    let (d, _) = plan(at(0), c, options, CapacityMemory::default()).unwrap();
    let ids = d
        .actions
        .iter()
        .find_map(|a| match a {
            CapacityAction::Drain { container_instances } => Some(container_instances.clone()),
            _ => None,
        })
        .unwrap_or_default();
    (ids, d.reason)
}

fn on() -> CapacityOptions {
    CapacityOptions {
        mode: EvaluationMode::Fast,
        consolidation: true,
        disruption_percent: 100,
        ..CapacityOptions::default()
    }
}

/// (name, tasks per instance, placement, (maximum %, minimum healthy %),
/// options, drained)
type Case = (&'static str, Vec<u32>, Placement, (u32, u32), CapacityOptions, Vec<String>);

#[test]
fn consolidation_cases_with_the_reason_each_is_what_it_is() {
    let ids = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    let distinct = Placement { distinct_instance: true, ..Placement::default() };
    let cases: Vec<Case> = vec![
        (
            "three quarter-full instances: one empties onto the others; a second would leave less than half an instance free",
            vec![1, 1, 1],
            Placement::default(),
            (200, 100),
            on(),
            ids(&["ci-0"]),
        ),
        ("off by default: nothing", vec![1, 1, 1], Placement::default(), (200, 100), CapacityOptions { consolidation: false, ..on() }, vec![]),
        (
            "aws mode never consolidates",
            vec![1, 1, 1],
            Placement::default(),
            (200, 100),
            CapacityOptions { mode: EvaluationMode::Aws, ..on() },
            vec![],
        ),
        ("full instances: nothing fits elsewhere", vec![4, 4, 3], Placement::default(), (200, 100), on(), vec![]),
        (
            "the least loaded goes first, the fuller ones take its tasks",
            vec![2, 1, 2],
            Placement::default(),
            (200, 100),
            on(),
            ids(&["ci-1"]),
        ),
        (
            "distinctInstance: one task per instance, nowhere to move",
            vec![1, 1, 1],
            distinct,
            (200, 100),
            on(),
            vec![],
        ),
        (
            "maximum 100 % and minimum 100 %: a drain would deadlock",
            vec![1, 1, 1],
            Placement::default(),
            (100, 100),
            on(),
            vec![],
        ),
        (
            "maximum 100 %, minimum 50 %: tasks stop first, one of three may (a second would leave 1 < 2 healthy)",
            vec![1, 1, 1],
            Placement::default(),
            (100, 50),
            on(),
            ids(&["ci-0"]),
        ),
        (
            "the disruption budget bounds it",
            vec![1, 1, 1, 1, 1, 1],
            Placement::default(),
            (200, 100),
            CapacityOptions { disruption_instances: 1, ..on() },
            ids(&["ci-0"]),
        ),
    ];
    for (name, load, placement, service, options, expected) in cases {
        let c = cluster(&load, placement, service);
        let (got, reason) = drained(&c, &options);
        assert_eq!(got, expected, "{name}");
        if !expected.is_empty() {
            assert_eq!(reason, CapacityReason::Consolidate, "{name}");
        }
    }
}

#[test]
fn a_protected_task_or_a_task_the_snapshot_does_not_show_keeps_its_instance() {
    let mut c = cluster(&[1, 1, 1], Placement::default(), (200, 100));
    c.tasks[0].protected_until = Some(at(3600));
    assert_eq!(drained(&c, &on()).0, ["ci-1"], "ci-0's task protects itself: ci-1 goes instead");
    let mut c = cluster(&[1, 1, 1], Placement::default(), (200, 100));
    c.tasks.retain(|t| t.instance.as_deref() != Some("ci-0"));
    assert!(!drained(&c, &on()).0.contains(&"ci-0".to_owned()), "ci-0's tasks are not in the snapshot: never moved");
}

#[test]
fn target_capacity_keeps_its_spare_instances() {
    // targetCapacity 50: N ≥ busy × 2. Three busy instances of one task
    // each: draining one leaves 2 instances for 2 busy ones (needs 4).
    let mut c = cluster(&[1, 1, 1], Placement::default(), (200, 100));
    c.managed_scaling.target_capacity = 50;
    assert!(drained(&c, &on()).0.is_empty());
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(300), ..ProptestConfig::default() })]

        /// No plan drains an instance running a protected task, takes the
        /// service below its minimum healthy percent, moves more tasks than
        /// the staying busy instances can hold, or goes below the group's
        /// minimum.
        #[test]
        fn consolidation_never_breaks_protection_health_room_or_minimum(
            load in prop::collection::vec(0u32..=4, 2..9),
            protected_mask in any::<u16>(),
            maximum in prop::sample::select(vec![100u32, 150, 200]),
            minimum in prop::sample::select(vec![0u32, 50, 100]),
            min_size in 0u32..3,
        ) {
            let mut c = cluster(&load, Placement::default(), (maximum, minimum));
            c.asg.min = min_size.min(load.len() as u32);
            for t in c.tasks.iter_mut() {
                let n: usize = t.instance.as_deref().unwrap()[3..].parse().unwrap();
                if protected_mask & (1 << n) != 0 {
                    t.protected_until = Some(at(600));
                }
            }
            let (ids, _) = drained(&c, &on());
            let busy_drained: Vec<&Instance> = c.instances.iter().filter(|i| ids.contains(&i.id) && i.non_daemon_tasks > 0).collect();
            for i in &busy_drained {
                prop_assert!(!c.tasks.iter().any(|t| t.instance.as_deref() == Some(i.id.as_str()) && t.protected_until.is_some()), "drained {} with a protected task", i.id);
            }
            let moved: u32 = busy_drained.iter().map(|i| i.non_daemon_tasks).sum();
            let s = &c.services[0];
            let room = (s.desired * s.maximum_percent / 100).saturating_sub(s.running);
            let healthy = s.running - moved.saturating_sub(room).min(s.running);
            prop_assert!(moved == 0 || u64::from(healthy) * 100 >= u64::from(s.desired) * u64::from(s.minimum_healthy_percent), "service down to {healthy} of {}", s.desired);
            let free: u32 = c.instances.iter().filter(|i| !ids.contains(&i.id) && i.non_daemon_tasks > 0).map(|i| i.free.cpu / 512).sum();
            prop_assert!(moved <= free, "moved {moved} tasks onto room for {free}");
            prop_assert!(c.instances.len() as u32 - ids.len() as u32 >= c.asg.min.max(1) || ids.is_empty(), "below the group's minimum");
        }
    }
}
