//! One controller evaluation, as a Lambda invocation or a replay step would
//! run it. Reproduce: `cargo bench --bench evaluate`.

use criterion::{criterion_group, criterion_main, Criterion};
use ecs_autopilot::config::{self, MetricId};
use ecs_autopilot::controller;
use ecs_autopilot::memory::{Datapoint, TargetMemory};
use ecs_autopilot::policy::Observation;
use jiff::Timestamp;
use std::hint::black_box;

const CONFIG: &str = include_str!("../examples/config/describe-outputs.json");

fn minutes(values: impl Iterator<Item = f64>) -> Vec<Datapoint> {
    values
        .enumerate()
        .map(|(i, v)| Datapoint { timestamp: Timestamp::from_second(1_767_225_600 + 60 * i as i64).unwrap(), value: v })
        .collect()
}

fn bench(c: &mut Criterion) {
    let cfg = config::load_str(CONFIG).unwrap();
    let target = &cfg.targets["service/prod-cluster/web"];
    let ids = target.metric_ids();
    let observation = Observation {
        desired_count: 10,
        running_count: 10,
        metrics: ids.iter().map(|id| (id.clone(), minutes((0..16).map(|i| 40.0 + f64::from(i) * 3.0)))).collect(),
        ..Observation::default()
    };
    let now = Timestamp::from_second(1_767_225_600 + 15 * 60 + 30).unwrap();
    // Memory as a long-running controller has it: 15 minutes of history.
    let (_, warm) = controller::evaluate(now, target, &observation, TargetMemory::default());
    c.bench_function("evaluate/aws-mode 2 policies + 2 scheduled actions, warm memory", |b| {
        b.iter(|| controller::evaluate(black_box(now), black_box(target), black_box(&observation), warm.clone()))
    });

    let fast = config::load_str(include_str!("../examples/config/fast-with-extensions.yaml")).unwrap();
    let fast_target = &fast.targets["service/prod-cluster/api"];
    let mut obs = observation.clone();
    obs.metrics = fast_target
        .metric_ids()
        .iter()
        .map(|id: &MetricId| (id.clone(), minutes((0..16).map(|i| 30.0 + f64::from(i) * 4.0))))
        .collect();
    c.bench_function("evaluate/fast-mode with stabilization and rate limits", |b| {
        b.iter(|| {
            controller::evaluate(black_box(now), black_box(fast_target), black_box(&obs), TargetMemory::default())
        })
    });

    c.bench_function("config/load describe outputs (cold start)", |b| b.iter(|| config::load_str(black_box(CONFIG))));
}

criterion_group!(benches, bench);
criterion_main!(benches);
