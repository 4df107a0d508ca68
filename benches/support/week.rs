//! The week-long recording the replay and plan benches share: `services`
//! services with a target tracking policy on CPU, 10-second CPU datapoints
//! in a daily wave with a per-service phase, and task state-change events
//! (every 10 minutes per service beyond a day, every 30 s otherwise).

use ecs_autopilot::config;
use ecs_autopilot::memory::Datapoint;
use ecs_autopilot::replay::{InitialState, Metrics};
use ecs_autopilot::sim::stack::Stack;
use jiff::Timestamp;
use std::collections::BTreeMap;

pub const START: i64 = 1_767_571_200; // 2026-01-05T00:00:00Z

/// A recording and what replays it.
pub struct Recording {
    pub stack: Stack,
    pub metrics: Metrics,
    pub points: usize,
    pub lines: Vec<String>,
    pub initial: BTreeMap<String, InitialState>,
}

/// The configuration of the recording's services: TargetValue `target`,
/// and `extra` merged into the document's top level (e.g. an `Autopilot` key).
pub fn config(services: usize, target: f64, extra: serde_json::Value) -> config::Config {
    let mut targets = Vec::new();
    let mut policies = Vec::new();
    for s in 0..services {
        let id = format!("service/bench/svc{s}");
        targets.push(serde_json::json!({"ResourceId": id, "MinCapacity": 2, "MaxCapacity": 200}));
        policies.push(serde_json::json!({"PolicyName": "cpu", "ResourceId": id, "PolicyType": "TargetTrackingScaling",
            "TargetTrackingScalingPolicyConfiguration": {"TargetValue": target, "PredefinedMetricSpecification": {"PredefinedMetricType": "ECSServiceAverageCPUUtilization"}}}));
    }
    let mut doc = serde_json::json!({"ScalableTargets": targets, "ScalingPolicies": policies});
    if let (Some(doc), serde_json::Value::Object(extra)) = (doc.as_object_mut(), extra) {
        doc.extend(extra);
    }
    config::load_str(&doc.to_string()).unwrap()
}

pub fn recording(services: usize, seconds: i64) -> Recording {
    let template = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/infra/template.yaml")).unwrap();
    let overrides: BTreeMap<String, String> =
        [("ClusterArns".to_owned(), "arn:aws:ecs:us-east-1:123456789012:cluster/bench".to_owned())].into();
    let stack = Stack::from_template(&template, &overrides).unwrap();

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
    let initial: BTreeMap<String, InitialState> =
        (0..services).map(|s| (format!("service/bench/svc{s}"), InitialState { desired: 20, running: 20 })).collect();
    Recording { stack, metrics, points, lines: lines_text, initial }
}
