//! `autopilot-aws history` (issue 18): the shipped recording's events, as
//! the stack's event log group holds them in moto, and its CPU series, as
//! CloudWatch answers `GetMetricData` (aws-smithy-mocks: moto does not
//! speak CloudWatch's current protocol), are exported; replaying the
//! exported files decides exactly as replaying the shipped ones.

mod support;

use autopilot_lambdas::history::{self, Clients, HistoryRequest};
use aws_sdk_cloudwatch::operation::get_metric_data::{GetMetricDataInput, GetMetricDataOutput};
use aws_sdk_cloudwatch::types::MetricDataResult;
use aws_sdk_cloudwatchlogs::types::InputLogEvent;
use ecs_autopilot::config;
use ecs_autopilot::replay::{metrics_from_get_metric_data, replay, InitialState, Line, MetricMapping};
use ecs_autopilot::sim::stack::Stack;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;
use support::Moto;

fn file(path: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(path)).unwrap()
}

fn sdk_time(t: &str) -> aws_smithy_types::DateTime {
    aws_smithy_types::DateTime::from_secs(t.parse::<jiff::Timestamp>().unwrap().as_second())
}

/// CloudWatch Logs refuses events older than 14 days: the recording is
/// moved forward by whole weeks (same weekday and hour, so scheduled
/// actions see the same times) to end up one to eight days ago.
fn weeks_forward() -> i64 {
    let start = "2026-01-10T10:00:00Z".parse::<jiff::Timestamp>().unwrap().as_second();
    let now = jiff::Timestamp::now().as_second();
    (now - start - 86_400).div_euclid(7 * 86_400) * 7 * 86_400
}

fn shift(t: &str) -> String {
    let t = t.parse::<jiff::Timestamp>().unwrap().as_second() + weeks_forward();
    jiff::Timestamp::from_second(t).unwrap().to_string()
}

/// The shipped recording moved by [`weeks_forward`]: events and metrics.
fn shifted() -> (String, Value) {
    let events: Vec<String> = file("examples/recorded/events.jsonl")
        .lines()
        .map(|line| {
            let mut v: Value = serde_json::from_str(line).unwrap();
            v["time"] = shift(v["time"].as_str().unwrap()).into();
            v.to_string()
        })
        .collect();
    let mut metrics: Value = serde_json::from_str(&file("examples/recorded/metrics.json")).unwrap();
    for t in metrics["MetricDataResults"][0]["Timestamps"].as_array_mut().unwrap() {
        *t = shift(t.as_str().unwrap()).into();
    }
    (events.join("\n"), metrics)
}

/// CloudWatch as it would answer: the recorded CPU series for the web
/// service's CPU query, Container Insights' counts (4 desired, 4 running),
/// nothing for any other metric.
fn cloudwatch() -> (aws_sdk_cloudwatch::Client, aws_smithy_mocks::Rule) {
    let recorded = shifted().1;
    let rule = aws_smithy_mocks::mock!(aws_sdk_cloudwatch::Client::get_metric_data).then_compute_output(
        move |input: &GetMetricDataInput| {
            let results = input
                .metric_data_queries()
                .iter()
                .map(|q| {
                    let metric = q.metric_stat().and_then(|s| s.metric());
                    let name = metric.and_then(|m| m.metric_name()).unwrap_or_default();
                    let namespace = metric.and_then(|m| m.namespace()).unwrap_or_default();
                    let (times, values): (Vec<_>, Vec<_>) = match (namespace, name) {
                        ("AWS/ECS", "CPUUtilization") => {
                            let r = &recorded["MetricDataResults"][0];
                            let start = input.start_time().map_or(0, |t| t.secs());
                            let end = input.end_time().map_or(i64::MAX, |t| t.secs());
                            r["Timestamps"]
                                .as_array()
                                .unwrap()
                                .iter()
                                .zip(r["Values"].as_array().unwrap())
                                .map(|(t, v)| (sdk_time(t.as_str().unwrap()), v.as_f64().unwrap()))
                                .filter(|(t, _)| t.secs() >= start && t.secs() < end)
                                .unzip()
                        }
                        ("ECS/ContainerInsights", "DesiredTaskCount" | "RunningTaskCount") => {
                            (vec![input.start_time().cloned().unwrap()], vec![4.0])
                        }
                        _ => (vec![], vec![]),
                    };
                    MetricDataResult::builder()
                        .id(q.id().unwrap_or_default())
                        .set_timestamps(Some(times))
                        .set_values(Some(values))
                        .build()
                })
                .collect();
            GetMetricDataOutput::builder().set_metric_data_results(Some(results)).build()
        },
    );
    (aws_smithy_mocks::mock_client!(aws_sdk_cloudwatch, aws_smithy_mocks::RuleMode::MatchAny, [&rule]), rule)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exported_history_replays_as_the_recording() {
    let moto = Moto::start();
    let sdk = support::sdk(&moto).await;
    let logs = aws_sdk_cloudwatchlogs::Client::new(&sdk);
    let group = "/aws/events/autopilot";
    logs.create_log_group().log_group_name(group).send().await.unwrap();
    logs.create_log_stream().log_group_name(group).log_stream_name("events").send().await.unwrap();
    // EventBridge writes each event with its own time; out of order here,
    // as the bus may deliver it, plus a line that is no event.
    let (recorded, metrics) = shifted();
    let mut entries: Vec<InputLogEvent> = recorded
        .lines()
        .map(|line| {
            let v: Value = serde_json::from_str(line).unwrap();
            let ms = v["time"].as_str().unwrap().parse::<jiff::Timestamp>().unwrap().as_millisecond();
            InputLogEvent::builder().timestamp(ms).message(line).build().unwrap()
        })
        .collect();
    entries.push(InputLogEvent::builder().timestamp(entries[3].timestamp()).message("not json").build().unwrap());
    entries.sort_by_key(InputLogEvent::timestamp);
    logs.put_log_events()
        .log_group_name(group)
        .log_stream_name("events")
        .set_log_events(Some(entries))
        .send()
        .await
        .unwrap();

    let cfg = config::load_str(&file("examples/config/describe-outputs.json")).unwrap();
    let request = HistoryRequest {
        config: &cfg,
        from: shift("2026-01-10T10:00:00Z").parse().unwrap(),
        to: shift("2026-01-10T11:01:00Z").parse().unwrap(),
        log_group: Some(group),
    };
    let (cloudwatch, get_metric_data) = cloudwatch();
    let exported = history::export(&Clients { cloudwatch, logs }, &request).await.unwrap();
    // Every service's metrics in one request, their initial counts in one more.
    assert_eq!(get_metric_data.num_calls(), 2);
    assert_eq!(exported.events.len(), recorded.lines().count(), "every recorded event");
    assert!(
        exported.notes.iter().any(|n| n.contains("1 message(s) of /aws/events/autopilot are not EventBridge events")),
        "{:?}",
        exported.notes
    );
    assert!(exported.notes.iter().any(|n| n.contains("ApproximateNumberOfMessagesVisible")), "{:?}", exported.notes);
    assert_eq!(exported.initial["service/prod-cluster/web"], InitialState { desired: 4, running: 4 });

    // The exported files, read as `autopilot replay --events` reads them,
    // give the decisions of the shipped recording.
    let files: BTreeMap<String, String> = history::files(&exported).unwrap().into_iter().collect();
    let stack = Stack::from_template(&file("infra/template.yaml"), &BTreeMap::new()).unwrap();
    let lines =
        |text: &str| -> Vec<(usize, String)> { text.lines().enumerate().map(|(i, t)| (i + 1, t.to_owned())).collect() };
    let run = |events: &str, metrics: &str, map: &str, initial: &str| {
        let mapping: BTreeMap<String, MetricMapping> =
            serde_json::from_value(ecs_autopilot::document::parse(map).unwrap()).unwrap();
        let metrics = metrics_from_get_metric_data(&serde_json::from_str(metrics).unwrap(), &mapping).unwrap();
        let initial: BTreeMap<String, InitialState> = serde_json::from_str(initial).unwrap();
        let owned = lines(events);
        let lines: Vec<Line<'_>> = owned.iter().map(|(n, t)| Line { number: *n, text: t }).collect();
        let out = replay(&cfg, &stack, &initial, &metrics, &lines).unwrap();
        out.decisions.into_iter().map(|(_, d)| (d.time, d.current, d.desired, d.reason)).collect::<Vec<_>>()
    };
    let shipped = run(
        &recorded,
        &metrics.to_string(),
        &file("examples/recorded/metric-map.yaml"),
        &file("examples/recorded/initial.json"),
    );
    let exported_run =
        run(&files["events.jsonl"], &files["metrics.json"], &files["metric-map.json"], &files["initial.json"]);
    assert!(shipped.iter().any(|(_, c, d, _)| c != d), "the recording scales");
    assert_eq!(exported_run, shipped);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_refuses_an_empty_or_too_long_range() {
    let moto = Moto::start();
    let sdk = support::sdk(&moto).await;
    let cfg = config::load_str(&file("examples/config/describe-outputs.json")).unwrap();
    let clients = Clients { cloudwatch: cloudwatch().0, logs: aws_sdk_cloudwatchlogs::Client::new(&sdk) };
    let at = |t: &str| t.parse::<jiff::Timestamp>().unwrap();
    for (from, to, expected) in [
        ("2026-01-10T11:00:00Z", "2026-01-10T10:00:00Z", "is not after --from"),
        ("2026-01-01T00:00:00Z", "2026-03-01T00:00:00Z", "longer than the 35 days a replay covers"),
    ] {
        let request = HistoryRequest { config: &cfg, from: at(from), to: at(to), log_group: None };
        let err = history::export(&clients, &request).await.unwrap_err().to_string();
        assert!(err.contains(expected), "{err}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_services_metrics_come_in_one_request() {
    let moto = Moto::start();
    let sdk = support::sdk(&moto).await;
    let targets: Vec<Value> = ["a", "b", "c"]
        .iter()
        .map(|s| serde_json::json!({"ResourceId": format!("service/prod-cluster/{s}"), "MinCapacity": 1, "MaxCapacity": 9}))
        .collect();
    let policies: Vec<Value> = ["a", "b", "c"]
        .iter()
        .map(|s| {
            serde_json::json!({"PolicyName": "cpu", "ResourceId": format!("service/prod-cluster/{s}"),
            "PolicyType": "TargetTrackingScaling", "TargetTrackingScalingPolicyConfiguration": {"TargetValue": 50.0,
            "PredefinedMetricSpecification": {"PredefinedMetricType": "ECSServiceAverageCPUUtilization"}}})
        })
        .collect();
    let cfg =
        config::load_str(&serde_json::json!({"ScalableTargets": targets, "ScalingPolicies": policies}).to_string())
            .unwrap();
    let (cloudwatch, get_metric_data) = cloudwatch();
    let request = HistoryRequest {
        config: &cfg,
        from: shift("2026-01-10T10:00:00Z").parse().unwrap(),
        to: shift("2026-01-10T11:01:00Z").parse().unwrap(),
        log_group: None,
    };
    let clients = Clients { cloudwatch, logs: aws_sdk_cloudwatchlogs::Client::new(&sdk) };
    let exported = history::export(&clients, &request).await.unwrap();
    assert_eq!(get_metric_data.num_calls(), 2, "one request for the metrics, one for the initial counts");
    let services: Vec<&str> = exported.metric_map.values().map(|m| m.service.as_str()).collect();
    assert_eq!(services, ["service/prod-cluster/a", "service/prod-cluster/b", "service/prod-cluster/c"]);
    assert_eq!(exported.initial.len(), 3);
    assert!(exported.metrics["MetricDataResults"].as_array().unwrap().iter().all(|r| r["Values"]
        .as_array()
        .unwrap()
        .len()
        == 60));
}
