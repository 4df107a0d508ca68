//! How many instances do N pending tasks need over M instances (aws-behaviour §7.3)?
//! Reproduce: `cargo bench --bench capacity`. Goal: under 50 ms at
//! 100k tasks × 5k instances, close to linear growth.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use ecs_autopilot::capacity::model::*;
use ecs_autopilot::capacity::{plan, CapacityMemory, CapacityOptions};
use ecs_autopilot::config::EvaluationMode;
use jiff::Timestamp;
use std::hint::black_box;

fn cluster(tasks: usize, instances: usize) -> Cluster {
    let kind = InstanceType { name: "m5.2xlarge".into(), cpu: 8192, memory: 30720, gpus: 0 };
    let zones = ["us-east-1a", "us-east-1b", "us-east-1c"];
    let instances = (0..instances)
        .map(|i| Instance {
            id: format!("ci-{i}"),
            ec2_instance_id: Some(format!("i-{i}")),
            status: "ACTIVE".into(),
            agent_connected: true,
            // Mostly full instances with a little room left.
            free: Resources {
                cpu: (i % 5) as u32 * 256,
                memory: (i % 7) as u32 * 512,
                gpus: 0,
                ports: Default::default(),
            },
            registered: Resources { cpu: 8192, memory: 30720, gpus: 0, ports: Default::default() },
            attributes: [("ecs.availability-zone".to_owned(), zones[i % 3].to_owned())].into(),
            running_tasks: 8,
            pending_tasks: 0,
            non_daemon_tasks: 8,
            groups: [("service:web".to_owned(), 8)].into(),
            launched_at: Some(Timestamp::from_second(1_700_000_000).unwrap()),
            in_asg: true,
            protected_from_scale_in: true,
            hypothetical: false,
        })
        .collect();
    // Five task sizes, as a handful of services would have.
    let sizes = [(256, 512), (512, 1024), (1024, 2048), (2048, 4096), (512, 4096)];
    let tasks = (0..tasks)
        .map(|i| Task {
            id: format!("t-{i}"),
            group: format!("service:svc{}", i % 5),
            need: Resources { cpu: sizes[i % 5].0, memory: sizes[i % 5].1, gpus: 0, ports: Default::default() },
            stage: Stage::Provisioning,
            instance: None,
            daemon: false,
            placement: Placement::default(),
            capacity_provider: Some("cp".into()),
            protected_until: None,
        })
        .collect();
    Cluster {
        capacity_provider: "cp".into(),
        managed_scaling: ManagedScaling::default(),
        asg: AutoScalingGroup {
            name: "asg".into(),
            min: 0,
            max: 100_000,
            desired: 0,
            zones: zones.iter().map(|z| (*z).to_owned()).collect(),
            instance_types: vec![kind],
        },
        instances,
        tasks,
        services: Vec::new(),
    }
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("capacity/plan-fast");
    group.sample_size(10);
    for (tasks, instances) in [(1_000, 50), (10_000, 500), (100_000, 5_000)] {
        let mut cl = cluster(tasks, instances);
        cl.asg.desired = instances as u32;
        let options = CapacityOptions { mode: EvaluationMode::Fast, ..CapacityOptions::default() };
        let now = Timestamp::from_second(1_767_225_600).unwrap();
        group.bench_with_input(BenchmarkId::from_parameter(format!("{tasks}x{instances}")), &cl, |b, cl| {
            b.iter(|| plan(black_box(now), black_box(cl), &options, CapacityMemory::default()))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
