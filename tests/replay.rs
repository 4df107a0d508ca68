//! Open-loop replay of recorded events and metrics (issue 5): the example
//! recording yields AWS's decisions; duplicates, stale versions and unrouted
//! events are counted, not acted on; bad input is named before the replay runs.

use ecs_autopilot::config;
use ecs_autopilot::decision::{Block, Reason};
use ecs_autopilot::replay::{metrics_from_get_metric_data, replay, InitialState, Line, MetricMapping, ReplayError};
use ecs_autopilot::sim::stack::Stack;
use std::collections::BTreeMap;
use std::path::Path;

fn file(path: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(path)).unwrap()
}

fn setup() -> (config::Config, Stack, BTreeMap<String, InitialState>, ecs_autopilot::replay::Metrics) {
    let cfg = config::load_str(&file("examples/config/describe-outputs.json")).unwrap();
    let router = Stack::from_template(&file("infra/template.yaml"), &BTreeMap::new()).unwrap();
    let initial = serde_json::from_str(&file("examples/recorded/initial.json")).unwrap();
    let mapping: BTreeMap<String, MetricMapping> =
        serde_yaml_ng::from_str(&file("examples/recorded/metric-map.yaml")).unwrap();
    let gmd: serde_json::Value = serde_json::from_str(&file("examples/recorded/metrics.json")).unwrap();
    (cfg, router, initial, metrics_from_get_metric_data(&gmd, &mapping).unwrap())
}

fn lines(text: &str) -> Vec<Line<'_>> {
    text.lines().enumerate().map(|(i, t)| Line { number: i + 1, text: t }).collect()
}

#[test]
fn the_example_recording_replays_to_aws_decisions() {
    let (cfg, router, initial, metrics) = setup();
    let events = file("examples/recorded/events.jsonl");
    let out = replay(&cfg, &router, &initial, &metrics, &lines(&events)).unwrap();
    let changes: Vec<(String, u32, u32, &Reason)> = out
        .decisions
        .iter()
        .filter(|(_, d)| d.current != d.desired)
        .map(|(_, d)| (d.time.to_string()[11..16].to_owned(), d.current, d.desired, &d.reason))
        .collect();
    let cpu = |code: &str| {
        if code == "out" {
            Reason::ScaledOut { policy: "cpu70".into() }
        } else {
            Reason::ScaledIn { policy: "cpu70".into() }
        }
    };
    assert_eq!(
        changes,
        vec![
            ("10:16".to_owned(), 4, 3, &cpu("in")),
            // A datapoint is readable once its minute has ended: the third
            // breaching minute (10:22) is read at 10:23.
            ("10:23".to_owned(), 3, 6, &cpu("out")),
            ("10:25".to_owned(), 6, 14, &cpu("out")),
            ("10:55".to_owned(), 14, 5, &cpu("in")),
        ]
    );
    // aws-behaviour §2.5: the scale-in due at the 10:15 tick waits for the deployment,
    // which completes (dep-2) at that same instant, after the tick's read.
    let at_1015 = out.decisions.iter().find(|(t, d)| t == "tick" && d.time.to_string().contains("T10:15:00")).unwrap();
    assert!(at_1015.1.blocked_by.contains(&Block::DeploymentInProgress), "{:?}", at_1015.1);
    assert_eq!(
        out.ignored,
        // dep-1 twice, and t4's version 1 delivered again under another id
        // (the same state: a duplicate, docs/lambdas.md).
        [("duplicate event id".to_owned(), 2), ("matched no rule of the controller".to_owned(), 1)]
            .into_iter()
            .collect()
    );
    assert_eq!(out.events, 21);
}

#[test]
fn a_malformed_line_is_named_before_anything_runs() {
    let (cfg, router, initial, metrics) = setup();
    let events = format!("{}{{\"id\": broken\n", file("examples/recorded/events.jsonl"));
    let err = replay(&cfg, &router, &initial, &metrics, &lines(&events)).unwrap_err();
    assert!(matches!(&err, ReplayError::Event { line: 22, .. }), "{err}");
}

#[test]
fn metrics_must_match_the_configuration() {
    let (cfg, router, initial, _) = setup();
    let gmd = serde_json::json!({"MetricDataResults": [{"Id": "m", "Timestamps": ["2026-01-10T10:00:00Z"], "Values": [1.0]}]});
    let wrong_metric: BTreeMap<String, MetricMapping> = [(
        "m".to_owned(),
        MetricMapping {
            service: "service/prod-cluster/web".into(),
            metric: "ECSServiceAverageMemoryUtilization".into(),
        },
    )]
    .into();
    let metrics = metrics_from_get_metric_data(&gmd, &wrong_metric).unwrap();
    let err = replay(&cfg, &router, &initial, &metrics, &[]).unwrap_err().to_string();
    assert!(err.contains("not read by any of its policies"), "{err}");
    let wrong_service: BTreeMap<String, MetricMapping> = [(
        "m".to_owned(),
        MetricMapping { service: "service/x/y".into(), metric: "ECSServiceAverageCPUUtilization".into() },
    )]
    .into();
    let metrics = metrics_from_get_metric_data(&gmd, &wrong_service).unwrap();
    assert!(replay(&cfg, &router, &initial, &metrics, &[])
        .unwrap_err()
        .to_string()
        .contains("not a configured scalable target"));
    let unmapped: BTreeMap<String, MetricMapping> = BTreeMap::new();
    assert!(metrics_from_get_metric_data(&gmd, &unmapped).unwrap_err().to_string().contains("does not name"));
    let missing: BTreeMap<String, MetricMapping> =
        [("zz".to_owned(), MetricMapping { service: "s".into(), metric: "m".into() })].into();
    let err =
        metrics_from_get_metric_data(&serde_json::json!({"MetricDataResults": []}), &missing).unwrap_err().to_string();
    assert!(err.contains("does not contain"), "{err}");
}

/// An ECS event envelope for cluster `prod` (the capacity snapshot's).
fn envelope(id: &str, time: &str, detail_type: &str, detail: serde_json::Value) -> String {
    serde_json::json!({"version": "0", "id": id, "detail-type": detail_type, "source": "aws.ecs",
        "account": "123456789012", "time": time, "region": "us-east-1", "resources": [], "detail": detail})
    .to_string()
}

#[test]
fn recorded_events_drive_the_capacity_function_on_a_snapshot_cluster() {
    use ecs_autopilot::capacity::{snapshot, CapacityOptions};
    use ecs_autopilot::replay::{replay_with, CapacitySetup};
    let (cfg, _, initial, metrics) = setup();
    let overrides = [("ClusterArns".to_owned(), "arn:aws:ecs:us-east-1:123456789012:cluster/prod".to_owned())].into();
    let stack = Stack::from_template(&file("infra/template.yaml"), &overrides).unwrap();
    let text = file("examples/capacity/snapshot.json");
    let merged = snapshot::merge(&[("snapshot.json", text.as_str())]).unwrap();
    let cluster = snapshot::cluster(&merged, None).unwrap();
    let snap: serde_json::Value = serde_json::from_str(&text).unwrap();
    let waiting: Vec<String> = snap["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["lastStatus"] == "PROVISIONING")
        .map(|t| t["taskArn"].as_str().unwrap().to_owned())
        .collect();
    let cluster_arn = "arn:aws:ecs:us-east-1:123456789012:cluster/prod";
    let new_instance = "arn:aws:ecs:us-east-1:123456789012:container-instance/prod/d1";
    let mut events = vec![envelope(
        "pf-1",
        "2026-11-22T02:00:05Z",
        "ECS Service Action",
        serde_json::json!({"eventType": "ERROR", "eventName": "SERVICE_TASK_PLACEMENT_FAILURE", "clusterArn": cluster_arn,
            "reason": "RESOURCE:CPU", "createdAt": "2026-11-22T02:00:05Z"}),
    )];
    // The instance the scale-out asked for registers, and four waiting
    // tasks are placed on it.
    let resources = |cpu: i64, memory: i64| {
        serde_json::json!([{"name": "CPU", "type": "INTEGER", "integerValue": cpu},
                           {"name": "MEMORY", "type": "INTEGER", "integerValue": memory}])
    };
    events.push(envelope(
        "ci-1",
        "2026-11-22T02:02:30Z",
        "ECS Container Instance State Change",
        serde_json::json!({"containerInstanceArn": new_instance, "clusterArn": cluster_arn, "version": 1,
            "status": "ACTIVE", "ec2InstanceId": "i-0d1", "agentConnected": true,
            "registeredResources": resources(2048, 7680), "remainingResources": resources(2048, 7680),
            "attributes": [{"name": "ecs.availability-zone", "value": "us-east-1c"}]}),
    ));
    for (k, arn) in waiting.iter().take(4).enumerate() {
        events.push(envelope(
            &format!("placed-{k}"),
            "2026-11-22T02:02:40Z",
            "ECS Task State Change",
            serde_json::json!({"clusterArn": cluster_arn, "taskArn": arn, "group": "service:web", "version": 3,
                "lastStatus": "PENDING", "desiredStatus": "RUNNING", "containerInstanceArn": new_instance,
                "capacityProviderName": "prod-ec2"}),
        ));
    }
    let text = events.join("\n");
    let fast = CapacityOptions { mode: ecs_autopilot::config::EvaluationMode::Fast, ..CapacityOptions::default() };
    let setup = CapacitySetup { cluster, options: fast };
    let out = replay_with(&cfg, &stack, &initial, &metrics, &lines(&text), Some(setup), &mut |_, _| {}).unwrap();
    let acting: Vec<_> = out.capacity_decisions.iter().filter(|(_, d)| !d.actions.is_empty()).collect();
    let (trigger, first) = acting.first().expect("the placement failure scales out");
    assert_eq!(trigger, "event:pf-1 line 1");
    assert_eq!((first.current_desired, first.desired, first.provisioning_tasks), (3, 4, 9));
    // After the placements, the function plans with five tasks waiting.
    let after = out.capacity_decisions.iter().rev().find(|(t, _)| t.starts_with("event:placed-3")).unwrap();
    assert_eq!(after.1.provisioning_tasks, 5, "{after:?}");
    assert_eq!(after.1.current_desired, 4, "our own scale-out is remembered (closed loop on the group)");
}
