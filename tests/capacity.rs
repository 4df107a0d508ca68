//! Capacity planner: table cases citing aws-behaviour §7–§9, placement properties, a
//! brute-force reference for small packing problems.

use ecs_autopilot::capacity::model::Strategy as PlacementStrategy;
use ecs_autopilot::capacity::model::*;
use ecs_autopilot::capacity::placement::{estimate, place, PlacementOptions};
use ecs_autopilot::capacity::plan::CapacityBlock;
use ecs_autopilot::capacity::{plan, reservation, CapacityAction, CapacityMemory, CapacityOptions, CapacityReason};
use ecs_autopilot::config::EvaluationMode;
use jiff::Timestamp;
use proptest::prelude::*;

const T0: i64 = 1_767_225_600;
fn at(s: i64) -> Timestamp {
    Timestamp::from_second(T0 + s).unwrap()
}

fn m5() -> InstanceType {
    InstanceType { name: "m5.large".into(), cpu: 2048, memory: 7680, gpus: 0 }
}

fn instance(n: usize, zone: &str, free_cpu: u32, non_daemon: u32, launched: i64) -> Instance {
    Instance {
        id: format!("ci-{n}"),
        ec2_instance_id: Some(format!("i-{n}")),
        status: "ACTIVE".into(),
        agent_connected: true,
        free: Resources { cpu: free_cpu, memory: 7680 * free_cpu / 2048, gpus: 0, ports: Default::default() },
        registered: Resources { cpu: 2048, memory: 7680, gpus: 0, ports: Default::default() },
        attributes: [
            ("ecs.availability-zone".to_owned(), zone.to_owned()),
            ("ecs.instance-type".to_owned(), "m5.large".to_owned()),
        ]
        .into(),
        running_tasks: non_daemon,
        pending_tasks: 0,
        non_daemon_tasks: non_daemon,
        groups: if non_daemon > 0 { [("service:web".to_owned(), non_daemon)].into() } else { Default::default() },
        launched_at: Some(at(launched)),
        in_asg: true,
        protected_from_scale_in: non_daemon > 0,
        hypothetical: false,
    }
}

fn task(n: usize, cpu: u32, placement: Placement) -> Task {
    Task {
        id: format!("t-{n}"),
        group: "service:web".into(),
        need: Resources { cpu, memory: cpu * 2, gpus: 0, ports: Default::default() },
        stage: Stage::Provisioning,
        instance: None,
        daemon: false,
        placement,
        capacity_provider: Some("cp".into()),
        protected_until: None,
    }
}

fn cluster(instances: Vec<Instance>, tasks: Vec<Task>, desired: u32, min: u32, max: u32) -> Cluster {
    Cluster {
        capacity_provider: "cp".into(),
        managed_scaling: ManagedScaling::default(),
        asg: AutoScalingGroup {
            name: "asg".into(),
            min,
            max,
            desired,
            zones: vec!["a".into(), "b".into(), "c".into()],
            instance_types: vec![m5()],
        },
        instances,
        tasks,
        services: Vec::new(),
    }
}

fn run(c: &Cluster, mode: EvaluationMode, now: i64) -> ecs_autopilot::capacity::CapacityDecision {
    plan(at(now), c, &CapacityOptions { mode, ..CapacityOptions::default() }, CapacityMemory::default()).unwrap().0
}

const LONG_AGO: i64 = -3600;

#[test]
fn s7_2_reservation_edge_cases() {
    assert_eq!(reservation(0, 0), 100.0);
    assert_eq!(reservation(3, 0), 200.0);
    assert_eq!(reservation(3, 2), 150.0);
    assert_eq!(reservation(1, 2), 50.0);
}

#[test]
fn s7_2_first_scale_out_from_zero_is_two_instances_in_aws_mode_and_exact_in_fast() {
    let c = cluster(vec![], (0..2).map(|i| task(i, 512, Placement::default())).collect(), 0, 0, 10);
    let d = run(&c, EvaluationMode::Aws, 0);
    assert_eq!((d.m, d.n, d.reservation_percent, d.desired), (1, 0, 200.0, 2));
    assert_eq!(d.reason, CapacityReason::ScaleOutReservationAboveTarget);
    let d = run(&c, EvaluationMode::Fast, 0);
    assert_eq!((d.desired, &d.reason), (1, &CapacityReason::ScaleOutForPendingTasks));
    assert!(d.actions.contains(&CapacityAction::SetDesiredCapacity { from: 0, to: 1 }));
}

#[test]
fn s7_3_step_sizes_bound_the_extra_instances() {
    let mut c = cluster(vec![instance(0, "a", 0, 4, LONG_AGO)], vec![task(0, 512, Placement::default())], 1, 1, 50);
    c.managed_scaling.minimum_scaling_step_size = 3;
    let d = run(&c, EvaluationMode::Fast, 0);
    assert_eq!((d.m, d.desired), (4, 4));
    let mut c = cluster(
        vec![instance(0, "a", 0, 4, LONG_AGO)],
        (0..20).map(|i| task(i, 1024, Placement::default())).collect(),
        1,
        1,
        50,
    );
    c.managed_scaling.maximum_scaling_step_size = 2;
    let d = run(&c, EvaluationMode::Fast, 0);
    assert_eq!((d.m, d.desired), (3, 3));
}

#[test]
fn s7_3_warm_up_blocks_aws_scale_out_but_fast_counts_launching_instances() {
    // One busy instance launched 100 s ago, 4 tasks waiting for 1 more instance.
    let tasks: Vec<Task> = (0..4).map(|i| task(i, 512, Placement::default())).collect();
    let c = cluster(vec![instance(0, "a", 0, 4, -100)], tasks.clone(), 1, 1, 10);
    let d = run(&c, EvaluationMode::Aws, 0);
    assert_eq!((d.desired, &d.reason), (1, &CapacityReason::Blocked));
    assert!(matches!(d.blocked_by[..], [CapacityBlock::InstanceWarmup { .. }]));
    // Fast: scales out at once…
    assert_eq!(run(&c, EvaluationMode::Fast, 0).desired, 2);
    // …and once that instance is ordered (desired 2, not yet registered), the
    // same tasks do not order another.
    let c = cluster(vec![instance(0, "a", 0, 4, -100)], tasks, 2, 1, 10);
    let d = run(&c, EvaluationMode::Fast, 0);
    assert_eq!((d.desired, &d.reason), (2, &CapacityReason::NothingToPlace));
}

#[test]
fn s7_4_aws_scale_in_needs_fifteen_low_minutes_and_removes_under_half() {
    // 10 instances, 2 busy: CPR 20 %.
    let instances: Vec<Instance> = (0..10)
        .map(|i| instance(i, ["a", "b", "c"][i % 3], if i < 2 { 0 } else { 2048 }, if i < 2 { 4 } else { 0 }, LONG_AGO))
        .collect();
    let c = cluster(instances, vec![], 10, 1, 20);
    let options = CapacityOptions { mode: EvaluationMode::Aws, ..CapacityOptions::default() };
    let mut memory = CapacityMemory::default();
    for minute in 0..14 {
        let (d, m) = plan(at(minute * 60), &c, &options, memory).unwrap();
        memory = m;
        assert_eq!(d.desired, 10, "minute {minute}");
        assert!(matches!(d.blocked_by[..], [CapacityBlock::LowAlarmNotYet { .. }]));
    }
    let (d, _) = plan(at(14 * 60), &c, &options, memory).unwrap();
    // ceil(10 × 20 / 100) = 2 wanted, but at most 4 (< 50 %) per step.
    assert_eq!((d.reservation_percent, d.desired, &d.reason), (20.0, 6, &CapacityReason::ScaleIn));
}

#[test]
fn s7_6_fast_scale_in_drains_only_empty_instances_zone_balanced_within_budget() {
    // Zone a: 3 instances (1 busy), zone b: 1 busy, zone c: 1 empty.
    let instances = vec![
        instance(0, "a", 0, 4, LONG_AGO),
        instance(1, "a", 2048, 0, LONG_AGO),
        instance(2, "a", 2048, 0, LONG_AGO),
        instance(3, "b", 0, 4, LONG_AGO),
        instance(4, "c", 2048, 0, LONG_AGO),
    ];
    let c = cluster(instances, vec![], 5, 1, 10);
    let options = CapacityOptions { mode: EvaluationMode::Fast, disruption_instances: 2, ..CapacityOptions::default() };
    let (d, memory) = plan(at(0), &c, &options, CapacityMemory::default()).unwrap();
    assert_eq!(
        d.actions.iter().find(|a| matches!(a, CapacityAction::Drain { .. })),
        Some(&CapacityAction::Drain { container_instances: vec!["ci-1".into(), "ci-2".into()] })
    );
    assert!(d.blocked_by.contains(&CapacityBlock::DisruptionBudget { limit: 2 }));
    // The budget is spent for this window.
    let (d, _) = plan(at(30), &c, &options, memory).unwrap();
    assert!(!d.actions.iter().any(|a| matches!(a, CapacityAction::Drain { .. })));
}

#[test]
fn s7_6_drained_empty_instances_are_terminated_with_decrement() {
    let mut drained = instance(1, "a", 2048, 0, LONG_AGO);
    drained.status = "DRAINING".into();
    drained.running_tasks = 0;
    let c = cluster(vec![instance(0, "a", 0, 4, LONG_AGO), drained], vec![], 2, 1, 10);
    let d = run(&c, EvaluationMode::Fast, 0);
    assert!(d.actions.contains(&CapacityAction::TerminateAndDecrement { ec2_instance_ids: vec!["i-1".into()] }));
    assert_eq!(d.desired, 1);
}

/// aws-behaviour §7.6 (docs/capacity.md): managed termination protection
/// turns protection off for instances whose tasks have all stopped, or the
/// group's scale-in stalls on them.
#[test]
fn s7_6_aws_mode_unprotects_idle_instances_past_their_warm_up() {
    // (name, instance, unprotected in aws mode)
    let mut idle_protected = instance(1, "a", 2048, 0, LONG_AGO);
    idle_protected.protected_from_scale_in = true;
    let mut warming = instance(2, "a", 2048, 0, 0);
    warming.protected_from_scale_in = true;
    let mut pending = instance(3, "a", 2048, 0, LONG_AGO);
    (pending.protected_from_scale_in, pending.pending_tasks) = (true, 1);
    let cases = [
        ("idle and protected: its protection goes", idle_protected, true),
        ("still in its warm-up: kept for the tasks it was launched for", warming, false),
        ("a task is starting on it: kept", pending, false),
        ("busy: protected, never unprotected", instance(4, "a", 0, 4, LONG_AGO), false),
        ("idle and never protected: nothing to do", instance(5, "a", 2048, 0, LONG_AGO), false),
    ];
    for (name, i, expected) in cases {
        let id = i.ec2_instance_id.clone().unwrap();
        let c = cluster(vec![i], vec![], 1, 0, 10);
        let unprotect = CapacityAction::UnprotectFromScaleIn { ec2_instance_ids: vec![id] };
        assert_eq!(run(&c, EvaluationMode::Aws, 60).actions.contains(&unprotect), expected, "{name}");
        // Fast mode drains and terminates idle instances itself.
        assert!(
            !run(&c, EvaluationMode::Fast, 60)
                .actions
                .iter()
                .any(|a| matches!(a, CapacityAction::UnprotectFromScaleIn { .. })),
            "{name}: fast mode"
        );
    }
}

/// A daemon task running on instance `n`, protected until `until` (seconds
/// from T0) when given.
fn daemon_on(n: usize, until: Option<i64>) -> Task {
    Task {
        id: format!("daemon-{n}"),
        group: "service:agent".into(),
        stage: Stage::Running,
        instance: Some(format!("ci-{n}")),
        daemon: true,
        protected_until: until.map(at),
        ..task(1000 + n, 128, Placement::default())
    }
}

/// docs/capacity.md "Task scale-in protection": an instance running a task
/// that protects itself is never drained nor exposed to scale-in, and the
/// decision says why.
#[test]
fn task_scale_in_protection_cases_with_the_reason_each_is_what_it_is() {
    // (name, protection of the daemon task on idle instance 1 (s from T0), drained)
    let cases: [(&str, Option<i64>, bool); 3] = [
        ("no protection: the idle instance is drained", None, true),
        ("protected past now: kept, and the decision says so", Some(3600), false),
        ("protection expired: drained", Some(-60), true),
    ];
    for (name, until, drained) in cases {
        let c = cluster(
            vec![instance(0, "a", 0, 4, LONG_AGO), instance(1, "b", 2048, 0, LONG_AGO)],
            vec![daemon_on(1, until)],
            2,
            0,
            10,
        );
        let d = run(&c, EvaluationMode::Fast, 0);
        let drain = CapacityAction::Drain { container_instances: vec!["ci-1".into()] };
        assert_eq!(d.actions.contains(&drain), drained, "{name}: {d:?}");
        let said = d.blocked_by.contains(&CapacityBlock::ProtectedTasks { container_instances: vec!["ci-1".into()] });
        assert_eq!(said, !drained, "{name}: {d:?}");
        // aws mode: its scale-in protection is not turned off either.
        let mut aws = c.clone();
        aws.instances[1].protected_from_scale_in = true;
        let unprotect = CapacityAction::UnprotectFromScaleIn { ec2_instance_ids: vec!["i-1".into()] };
        assert_eq!(run(&aws, EvaluationMode::Aws, 0).actions.contains(&unprotect), drained, "{name}: aws mode");
    }
}

#[test]
fn asg_bounds_are_never_crossed() {
    let c = cluster(vec![], (0..100).map(|i| task(i, 2048, Placement::default())).collect(), 0, 0, 7);
    assert_eq!(run(&c, EvaluationMode::Fast, 0).desired, 7);
    assert_eq!(run(&c, EvaluationMode::Aws, 0).desired, 2);
    let c = cluster(vec![instance(0, "a", 2048, 0, LONG_AGO), instance(1, "b", 2048, 0, LONG_AGO)], vec![], 2, 2, 7);
    let d = run(&c, EvaluationMode::Fast, 0);
    assert!(
        !d.actions.iter().any(|a| matches!(a, CapacityAction::Drain { .. })),
        "never below ASG min: {:?}",
        d.actions
    );
}

#[test]
fn s8_3_distinct_instance_and_member_of_shape_the_estimate() {
    let distinct = Placement { distinct_instance: true, ..Placement::default() };
    let tasks: Vec<Task> = (0..3).map(|i| task(i, 256, distinct.clone())).collect();
    let refs: Vec<&Task> = tasks.iter().collect();
    // One empty instance takes one of them; two more instances are needed.
    let e = estimate(&refs, &[instance(0, "a", 2048, 0, LONG_AGO)], &m5(), &m5()).unwrap();
    assert_eq!((e.on_existing, e.new_instances), (1, 2));
    let zone_a = Placement { member_of: vec!["attribute:ecs.availability-zone == a".into()], ..Placement::default() };
    let tasks: Vec<Task> = (0..2).map(|i| task(i, 512, zone_a.clone())).collect();
    let refs: Vec<&Task> = tasks.iter().collect();
    let e = estimate(&refs, &[instance(0, "b", 2048, 0, LONG_AGO), instance(1, "a", 512, 3, LONG_AGO)], &m5(), &m5())
        .unwrap();
    assert_eq!((e.on_existing, e.new_instances), (1, 1));
}

/// Named cases (issue 16, outside cases): what AWS does that the planner
/// once did not.
#[test]
fn s8_3_distinct_instance_counts_the_groups_tasks_already_on_an_instance() {
    let distinct = Placement { distinct_instance: true, ..Placement::default() };
    // One instance runs the service's task (with room to spare); one more
    // task of the service waits: it may not go beside the first, so AWS
    // needs a second instance (M = 2), where counting only free room said
    // M = 1 and the task waited for ever.
    let busy = instance(0, "a", 1792, 1, LONG_AGO);
    let waiting = vec![task(1, 256, distinct.clone())];
    let refs: Vec<&Task> = waiting.iter().collect();
    let e = estimate(&refs, std::slice::from_ref(&busy), &m5(), &m5()).unwrap();
    assert_eq!((e.on_existing, e.new_instances), (0, 1), "a new instance for the second task");
    let d = run(&cluster(vec![busy.clone()], waiting, 1, 1, 10), EvaluationMode::Fast, 0);
    assert_eq!((d.m, d.desired), (2, 2), "{d:?}");
    // Another group's task may still use the room.
    let mut other = task(2, 256, distinct);
    other.group = "service:api".into();
    let e = estimate(&[&other], std::slice::from_ref(&busy), &m5(), &m5()).unwrap();
    assert_eq!((e.on_existing, e.new_instances), (1, 0));
}

#[test]
fn s7_3_a_group_larger_than_the_smallest_instance_type_is_incompatible() {
    // The group runs m5.large (2048 CPU) and t3.small (1024 CPU): a
    // 1536-CPU task fits the larger type only, so AWS excludes its group
    // (aws-behaviour §7.3 step 3) and orders nothing for it.
    let small = InstanceType { name: "t3.small".into(), cpu: 1024, memory: 2048, gpus: 0 };
    let tasks = vec![task(0, 1536, Placement::default())];
    let refs: Vec<&Task> = tasks.iter().collect();
    let e = estimate(&refs, &[], &m5(), &small).unwrap();
    assert_eq!((e.incompatible, e.new_instances), (1, 0));
    let mut c = cluster(vec![instance(0, "a", 0, 1, LONG_AGO)], tasks, 1, 1, 10);
    c.asg.instance_types = vec![small, m5()];
    let d = run(&c, EvaluationMode::Fast, 0);
    assert_eq!((d.incompatible_tasks, d.desired), (1, 1), "{d:?}");
}

#[test]
fn s7_3_tasks_larger_than_every_instance_type_are_incompatible() {
    let tasks = vec![task(0, 4096, Placement::default())];
    let c = cluster(vec![instance(0, "a", 2048, 0, LONG_AGO)], tasks, 1, 1, 10);
    let d = run(&c, EvaluationMode::Fast, 0);
    assert_eq!((d.incompatible_tasks, d.desired), (1, 1));
}

#[test]
fn s9_deployment_headroom_is_planned_in_fast_mode() {
    let mut c = cluster(vec![instance(0, "a", 0, 4, LONG_AGO)], vec![], 1, 1, 10);
    c.services.push(ServiceState {
        name: "web".into(),
        group: "service:web".into(),
        desired: 4,
        running: 4,
        pending: 0,
        deployment_in_progress: true,
        maximum_percent: 200,
        minimum_healthy_percent: 100,
        strategy: vec![StrategyItem { provider: "cp".into(), base: 0, weight: 1 }],
        task_need: Resources { cpu: 512, memory: 1024, gpus: 0, ports: Default::default() },
        placement: Placement::default(),
    });
    // 4 more tasks may start (200 % of 4): one more instance.
    assert_eq!(run(&c, EvaluationMode::Fast, 0).desired, 2);
    assert_eq!(run(&c, EvaluationMode::Aws, 0).desired, 1);
}

#[test]
fn s8_4_strategies_binpack_spread_and_seeded_random() {
    let instances = || {
        vec![
            instance(0, "a", 1024, 2, LONG_AGO),
            instance(1, "b", 2048, 0, LONG_AGO),
            instance(2, "a", 1536, 1, LONG_AGO),
        ]
    };
    let options = PlacementOptions { new_type: None, zones: &[], max_new: 0, seed: 7 };
    let binpack = Placement { strategies: vec![PlacementStrategy::Binpack(BinpackField::Cpu)], ..Placement::default() };
    let mut v = instances();
    let r = place(&[task(0, 512, binpack)], &mut v, &options).unwrap();
    assert_eq!(r.placed, vec![("t-0".to_owned(), "ci-0".to_owned())], "least remaining CPU");
    let spread = Placement {
        strategies: vec![PlacementStrategy::Spread("attribute:ecs.availability-zone".into())],
        ..Placement::default()
    };
    let mut v = instances();
    let r = place(&[task(0, 512, spread)], &mut v, &options).unwrap();
    assert_eq!(r.placed[0].1, "ci-1", "zone b has none of the group's tasks");
    let random = Placement { strategies: vec![PlacementStrategy::Random], ..Placement::default() };
    let tasks: Vec<Task> = (0..6).map(|i| task(i, 128, random.clone())).collect();
    let (mut v1, mut v2) = (instances(), instances());
    assert_eq!(
        place(&tasks, &mut v1, &options).unwrap(),
        place(&tasks, &mut v2, &options).unwrap(),
        "same seed, same placement"
    );
}

/// Smallest number of 2048-CPU bins for `sizes` (exhaustive; tiny inputs).
fn brute_force_bins(sizes: &[u32]) -> u32 {
    fn go(i: usize, sizes: &[u32], bins: &mut Vec<u32>, best: &mut u32) {
        if bins.len() as u32 >= *best {
            return;
        }
        if i == sizes.len() {
            *best = bins.len() as u32;
            return;
        }
        for b in 0..bins.len() {
            if bins[b] + sizes[i] <= 2048 {
                bins[b] += sizes[i];
                go(i + 1, sizes, bins, best);
                bins[b] -= sizes[i];
            }
        }
        bins.push(sizes[i]);
        go(i + 1, sizes, bins, best);
        bins.pop();
    }
    let mut best = sizes.len() as u32;
    go(0, sizes, &mut Vec::new(), &mut best);
    best
}

proptest! {
    #![proptest_config(ProptestConfig { cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(300), ..ProptestConfig::default() })]

    #[test]
    fn estimate_is_feasible_and_close_to_the_brute_force_optimum(sizes in prop::collection::vec(prop::sample::select(vec![256u32, 512, 768, 1024, 1536, 2048]), 1..8)) {
        let tasks: Vec<Task> = sizes.iter().enumerate().map(|(i, s)| Task { need: Resources { cpu: *s, memory: 0, gpus: 0, ports: Default::default() }, ..task(i, *s, Placement::default()) }).collect();
        let refs: Vec<&Task> = tasks.iter().collect();
        let e = estimate(&refs, &[], &m5(), &m5()).unwrap();
        let optimum = brute_force_bins(&sizes);
        prop_assert!(e.new_instances >= optimum, "fewer instances than possible: {} < {optimum} for {sizes:?}", e.new_instances);
        // First-fit decreasing is within 11/9 OPT + 6/9.
        prop_assert!(9 * e.new_instances <= 11 * optimum + 6, "{} vs optimum {optimum} for {sizes:?}", e.new_instances);
    }

    #[test]
    fn plans_never_touch_busy_instances_and_stay_in_asg_bounds(
        busy in prop::collection::vec(0u32..4, 1..12),
        waiting in prop_oneof![Just(0usize), 0usize..20],
        min in 0u32..4,
        extra_max in 0u32..10,
        fast in any::<bool>(),
        draining_mask in any::<u16>(),
    ) {
        let instances: Vec<Instance> = busy.iter().enumerate().map(|(i, b)| {
            let mut inst = instance(i, ["a", "b", "c"][i % 3], 2048 - 512 * b, *b, LONG_AGO);
            if draining_mask & (1 << i) != 0 { inst.status = "DRAINING".into(); }
            // Some idle instances kept their protection (aws mode unprotects them).
            if draining_mask & (1 << (i + 4)) != 0 { inst.protected_from_scale_in = true; }
            inst
        }).collect();
        let n = instances.len() as u32;
        let max = n.max(min) + extra_max;
        let mut tasks: Vec<Task> = (0..waiting).map(|i| task(i, 512, Placement::default())).collect();
        // Some instances run a daemon task that protects itself.
        let shielded: Vec<usize> = (0..busy.len()).filter(|i| draining_mask & (1 << ((i + 8) % 16)) != 0).collect();
        tasks.extend(shielded.iter().map(|i| daemon_on(*i, Some(3600))));
        let mut instances = instances;
        for k in &shielded {
            instances[*k].running_tasks += 1;
        }
        let c = cluster(instances.clone(), tasks, n.clamp(min, max), min, max);
        let d = run(&c, if fast { EvaluationMode::Fast } else { EvaluationMode::Aws }, 0);
        prop_assert!((min..=max).contains(&d.desired), "desired {} outside [{min}, {max}]", d.desired);
        let is_shielded = |k: usize| shielded.contains(&k);
        let busy_ids: Vec<&str> = instances.iter().enumerate().filter(|(k, i)| i.non_daemon_tasks > 0 || is_shielded(*k)).map(|(_, i)| i.id.as_str()).collect();
        let busy_ec2: Vec<String> = instances.iter().enumerate().filter(|(k, i)| i.non_daemon_tasks > 0 || i.running_tasks > 0 || is_shielded(*k)).filter_map(|(_, i)| i.ec2_instance_id.clone()).collect();
        for a in &d.actions {
            match a {
                CapacityAction::Drain { container_instances } => prop_assert!(container_instances.iter().all(|c| !busy_ids.contains(&c.as_str())), "drained a busy instance: {a:?}"),
                CapacityAction::TerminateAndDecrement { ec2_instance_ids } => prop_assert!(ec2_instance_ids.iter().all(|e| !busy_ec2.contains(e)), "terminated a busy instance: {a:?}"),
                CapacityAction::UnprotectFromScaleIn { ec2_instance_ids } => prop_assert!(ec2_instance_ids.iter().all(|e| !busy_ec2.contains(e)), "exposed a busy instance to scale-in: {a:?}"),
                _ => {}
            }
        }
    }

    #[test]
    fn placement_never_oversubscribes(sizes in prop::collection::vec((1u32..2048, 1u32..4000, prop::option::of(8000u16..8003)), 1..30), seed in any::<u64>()) {
        let tasks: Vec<Task> = sizes.iter().enumerate().map(|(i, (c, m, port))| Task {
            need: Resources { cpu: *c, memory: *m, gpus: 0, ports: port.iter().copied().collect() },
            placement: Placement { strategies: vec![PlacementStrategy::Random], ..Placement::default() },
            ..task(i, *c, Placement::default())
        }).collect();
        let mut instances = vec![instance(0, "a", 2048, 0, LONG_AGO), instance(1, "b", 1024, 1, LONG_AGO)];
        let before = instances.clone();
        let zones = ["a".to_owned(), "b".to_owned()];
        let r = place(&tasks, &mut instances, &PlacementOptions { new_type: Some(&m5()), zones: &zones, max_new: 5, seed }).unwrap();
        prop_assert_eq!(r.placed.len() + r.unplaced.len(), tasks.len());
        for inst in &instances {
            let on_it: Vec<&Task> = r.placed.iter().filter(|(_, i)| *i == inst.id).map(|(t, _)| tasks.iter().find(|x| x.id == *t).unwrap()).collect();
            let start = before.iter().find(|b| b.id == inst.id).map(|b| b.free.clone()).unwrap_or_else(|| Resources { cpu: 2048, memory: 7680, gpus: 0, ports: Default::default() });
            let cpu: u32 = on_it.iter().map(|t| t.need.cpu).sum();
            let mem: u32 = on_it.iter().map(|t| t.need.memory).sum();
            prop_assert!(cpu <= start.cpu && mem <= start.memory, "oversubscribed {}: cpu {cpu}/{} mem {mem}/{}", inst.id, start.cpu, start.memory);
            let mut ports: Vec<u16> = on_it.iter().flat_map(|t| t.need.ports.iter().copied()).collect();
            let count = ports.len();
            ports.sort_unstable();
            ports.dedup();
            prop_assert_eq!(ports.len(), count, "a host port used twice on {}", inst.id);
        }
    }
}

#[test]
fn snapshots_outside_aws_ranges_are_refused_naming_the_field() {
    use ecs_autopilot::capacity::snapshot;
    let base: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string("examples/capacity/snapshot.json").unwrap()).unwrap();
    let plan = |doc: &serde_json::Value| {
        let text = doc.to_string();
        let merged = snapshot::merge(&[("snapshot.json", text.as_str())]).unwrap();
        snapshot::cluster(&merged, None).map(|_| ()).map_err(|e| e.to_string())
    };
    assert!(plan(&base).is_ok());
    type Change = fn(&mut serde_json::Value);
    let cases: [(&str, Change, &str); 7] = [
        (
            "a target capacity of 0 (would want every instance)",
            |d| d["capacityProviders"][0]["autoScalingGroupProvider"]["managedScaling"]["targetCapacity"] = 0.into(),
            "targetCapacity: 0 must be from 1 to 100",
        ),
        (
            "MinSize above MaxSize",
            |d| d["AutoScalingGroups"][0]["MinSize"] = 30.into(),
            "MinSize: 30 is greater than MaxSize 20",
        ),
        (
            "desired outside the group's sizes",
            |d| d["AutoScalingGroups"][0]["DesiredCapacity"] = 25.into(),
            "DesiredCapacity: 25",
        ),
        (
            "a task listed twice",
            |d| {
                let first = d["tasks"][0].clone();
                d["tasks"].as_array_mut().unwrap().push(first);
            },
            "is listed twice",
        ),
        (
            "negative remaining CPU (was read as 0, a full instance)",
            |d| d["containerInstances"][0]["remainingResources"][0]["integerValue"] = (-5).into(),
            "containerInstances[0].remainingResources[CPU].integerValue: -5 is not between 0 and",
        ),
        (
            "remaining memory past u32 (was wrapped to a small number)",
            |d| d["containerInstances"][0]["remainingResources"][1]["integerValue"] = 4_294_967_301_u64.into(),
            "integerValue: 4294967301 is not between 0 and",
        ),
        (
            "more remaining than registered",
            |d| d["containerInstances"][0]["remainingResources"][0]["integerValue"] = 999_999.into(),
            "remainingResources[CPU]: 999999 remaining is more than the",
        ),
    ];
    for (name, change, expected) in cases {
        let mut doc = base.clone();
        change(&mut doc);
        let err = plan(&doc).unwrap_err();
        assert!(err.contains(expected), "{name}: {err}");
    }
}
