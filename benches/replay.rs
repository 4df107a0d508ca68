//! Replay throughput (issue 5): one week × 100 services × 10-second CPU
//! datapoints, plus task state-change events, through the open-loop replay
//! (routing, ledger, controller every minute and on every event).
//! Reproduce: `cargo bench --bench replay`. Goal: under 10 s on one core.
//! Under `cargo test --all-targets` it replays one hour as a check.

use ecs_autopilot::config;
use ecs_autopilot::memory::Datapoint;
use ecs_autopilot::replay::{replay_streaming, InitialState, Line, Metrics};
use ecs_autopilot::sim::stack::Stack;
use jiff::Timestamp;
use std::collections::BTreeMap;
use std::time::Instant;

const START: i64 = 1_767_571_200; // 2026-01-05T00:00:00Z

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let (services, seconds) = match (full, std::env::var("REPLAY_SCALE").ok().as_deref()) {
        (true, Some("day")) => (10usize, 86_400i64),
        (true, _) => (100, 7 * 86_400),
        (false, _) => (10, 3_600),
    };
    let mut targets = Vec::new();
    let mut policies = Vec::new();
    for s in 0..services {
        let id = format!("service/bench/svc{s}");
        targets.push(serde_json::json!({"ResourceId": id, "MinCapacity": 2, "MaxCapacity": 200}));
        policies.push(serde_json::json!({"PolicyName": "cpu", "ResourceId": id, "PolicyType": "TargetTrackingScaling",
            "TargetTrackingScalingPolicyConfiguration": {"TargetValue": 60.0, "PredefinedMetricSpecification": {"PredefinedMetricType": "ECSServiceAverageCPUUtilization"}}}));
    }
    let cfg =
        config::load_str(&serde_json::json!({"ScalableTargets": targets, "ScalingPolicies": policies}).to_string())
            .unwrap();
    let template = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/infra/template.yaml")).unwrap();
    let overrides: BTreeMap<String, String> =
        [("ClusterArns".to_owned(), "arn:aws:ecs:us-east-1:123456789012:cluster/bench".to_owned())].into();
    let router = Stack::from_template(&template, &overrides).unwrap();

    // 10-second CPU datapoints: a daily wave with a per-service phase.
    let mut metrics: Metrics = BTreeMap::new();
    let mut points = 0usize;
    for s in 0..services {
        let series: Vec<Datapoint> = (0..seconds / 10)
            .map(|k| {
                let t = k * 10;
                let phase = (t as f64 / 86_400.0 + s as f64 / services as f64) * std::f64::consts::TAU;
                Datapoint { timestamp: Timestamp::from_second(START + t).unwrap(), value: 60.0 + 35.0 * phase.sin() }
            })
            .collect();
        points += series.len();
        metrics
            .entry(format!("service/bench/svc{s}"))
            .or_default()
            .insert(ecs_autopilot::config::MetricId("ECSServiceAverageCPUUtilization".into()), series);
    }
    // Task events: every 30 s per service for the one-day events/s run,
    // every 10 minutes per service for the week-long datapoint run.
    let every = if seconds > 86_400 { 600 } else { 30 };
    let mut lines_text = Vec::new();
    for t in (0..seconds).step_by(every) {
        for s in 0..services {
            let n = (t / every as i64) as usize % 20;
            let time = Timestamp::from_second(START + t).unwrap();
            lines_text.push(format!(
                r#"{{"version":"0","id":"e-{s}-{t}","detail-type":"ECS Task State Change","source":"aws.ecs","account":"123456789012","time":"{time}","region":"us-east-1","resources":[],"detail":{{"taskArn":"arn:aws:ecs:us-east-1:123456789012:task/bench/s{s}t{n}","clusterArn":"arn:aws:ecs:us-east-1:123456789012:cluster/bench","version":{},"lastStatus":"RUNNING","desiredStatus":"RUNNING","group":"service:svc{s}"}}}}"#,
                t / every as i64 + 1
            ));
        }
    }
    let lines: Vec<Line<'_>> = lines_text.iter().enumerate().map(|(i, t)| Line { number: i + 1, text: t }).collect();
    let initial: BTreeMap<String, InitialState> =
        (0..services).map(|s| (format!("service/bench/svc{s}"), InitialState { desired: 20, running: 20 })).collect();
    let start = Instant::now();
    // Records are streamed, as the CLI does: memory stays flat.
    let mut acting = 0u64;
    let mut sink = |record: ecs_autopilot::replay::Streamed<'_>| {
        if let ecs_autopilot::replay::Streamed::Controller { decision, .. } = record {
            acting += u64::from(!decision.actions.is_empty());
        }
    };
    let out = replay_streaming(&cfg, &router, &initial, &metrics, &lines, None, &mut sink, &mut |_, _| {}).unwrap();
    let elapsed = start.elapsed().as_secs_f64();
    assert!(out.decisions.is_empty(), "streamed, not kept");
    assert!(
        out.evaluations as usize >= services * (seconds as usize / 60),
        "one evaluation per service per minute at least"
    );
    assert!(acting > 0, "the services scale");
    assert_eq!(out.events as usize, lines.len());
    if full {
        println!("| services | simulated | datapoints | events | evaluations | wall time | events/s |");
        println!("|---|---|---|---|---|---|---|");
        println!(
            "| {services} | {} days | {points} | {} | {} | {elapsed:.2} s | {:.0} |",
            seconds / 86_400,
            lines.len(),
            out.evaluations,
            lines.len() as f64 / elapsed
        );
    } else {
        println!(
            "replay check: {} events, {} evaluations (test build; run `cargo bench --bench replay` for figures)",
            lines.len(),
            out.evaluations
        );
    }
}
