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
    // §2.5: the scale-in due at the 10:15 tick waits for the deployment,
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
