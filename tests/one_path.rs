//! One path (docs/simulation.md, docs/lambdas.md): the simulator runs the
//! handlers the Lambdas run, invoked as the deployed stack invokes them, and
//! every input the controller uses is one production fetches. Virtual time.

use ecs_autopilot::config::{self, MetricId, MetricQuery};
use ecs_autopilot::handler::{block_on, fetch_queries, invoke, polls, ServicePorts, Settings, SAMPLE_COUNT_SUFFIX};
use ecs_autopilot::memory::Datapoint;
use ecs_autopilot::ports::memory::{FakeServices, InMemoryState, JumpingClock, RecordingDecisions, StaticMetrics};
use ecs_autopilot::ports::ServiceSnapshot;
use ecs_autopilot::sim::{self, Scenario};
use jiff::{SignedDuration, Timestamp};
use serde_json::{json, Value};
use std::path::Path;

const WEB: &str = "service/c/web";

fn config(mode: &str, metric: &str) -> config::Config {
    config::load_str(&format!(
        "
ScalableTargets:
  - {{ResourceId: {WEB}, MinCapacity: 1, MaxCapacity: 20}}
ScalingPolicies:
  - PolicyName: cpu50
    ResourceId: {WEB}
    PolicyType: TargetTrackingScaling
    TargetTrackingScalingPolicyConfiguration:
      TargetValue: 50
      PredefinedMetricSpecification: {{PredefinedMetricType: {metric}}}
Autopilot:
  Defaults: {{EvaluationMode: {mode}}}
"
    ))
    .unwrap()
}

fn start() -> Timestamp {
    "2026-03-02T10:00:00Z".parse().unwrap()
}

fn tick() -> Value {
    let mut e: Value = serde_json::from_str(include_str!("fixtures/events/scheduled-event.json")).unwrap();
    e["time"] = json!(start().to_string());
    e
}

fn task_event() -> Value {
    let mut e: Value = serde_json::from_str(include_str!("fixtures/events/ecs-task-state-change.json")).unwrap();
    e["detail"]["group"] = json!("service:web");
    e["detail"]["clusterArn"] = json!("arn:aws:ecs:us-west-2:111122223333:cluster/c");
    e
}

fn secs(t: Timestamp) -> i64 {
    t.as_second() - start().as_second()
}

/// Runs one invocation; returns (the sleeps, the instants metrics were
/// fetched at, the decisions' instants), all in seconds after the start.
fn invocation(cfg: &config::Config, series: Vec<Datapoint>, event: &Value) -> (Vec<i64>, Vec<i64>, Vec<i64>) {
    let clock = JumpingClock::at(start());
    let services = FakeServices::with(WEB, ServiceSnapshot { desired: 4, running: 4, ..Default::default() });
    let id = cfg.targets[WEB].metric_ids()[0].clone();
    let metrics = StaticMetrics::new([(id, series)].into());
    let (state, decisions) = (InMemoryState::default(), RecordingDecisions::default());
    let ports = ServicePorts { services: &services, metrics: &metrics, state: &state, decisions: &decisions };
    let report = block_on(invoke(&clock, cfg, Settings::default(), &ports, event)).unwrap();
    (
        clock.sleeps().into_iter().map(secs).collect(),
        metrics.fetches().into_iter().map(|(t, _)| secs(t)).collect(),
        report.decisions.iter().map(|d| secs(d.time)).collect(),
    )
}

#[test]
fn fast_mode_fetches_sample_count_next_to_the_average_and_aws_mode_does_not() {
    let fast = config("fast", "ECSServiceAverageCPUUtilization");
    let queries = fetch_queries(&fast.targets[WEB]);
    assert_eq!(queries.len(), 2, "{queries:?}");
    let (id, q) = &queries[1];
    assert_eq!(id.0, format!("ECSServiceAverageCPUUtilization{SAMPLE_COUNT_SUFFIX}"));
    let MetricQuery::Single { statistic, metric_name, period_seconds, .. } = q else { panic!("{q:?}") };
    assert_eq!((statistic.as_str(), metric_name.as_str(), *period_seconds), ("SampleCount", "CPUUtilization", 60));
    let aws = config("aws", "ECSServiceAverageCPUUtilization");
    assert_eq!(fetch_queries(&aws.targets[WEB]).len(), 1);
}

#[test]
fn the_tick_polls_every_ten_seconds_and_reads_only_when_a_datapoint_can_be_new() {
    let cfg = config("fast", "ECSServiceAverageCPUUtilizationHighResolution");
    assert!(polls(&cfg.targets[WEB]));
    // The newest 20-s datapoint covers [−20, 0): the next one ([0, 20))
    // cannot exist before +20 s, so the poll at +10 s reads nothing.
    let series = vec![Datapoint { timestamp: start() - SignedDuration::from_secs(20), value: 50.0 }];
    let (sleeps, fetched, decided) = invocation(&cfg, series, &tick());
    assert_eq!(sleeps, vec![10, 20, 30, 40, 50], "polls within the 50-s window");
    // The tick reads; polls read while a new datapoint can exist: the
    // static series never grows, so every poll from +20 s on reads again.
    assert_eq!(fetched, vec![0, 20, 30, 40, 50]);
    assert_eq!(decided, fetched, "one decision record per evaluation that read");
}

#[test]
fn only_the_tick_polls_and_standard_aws_targets_are_not_polled() {
    let fast = config("fast", "ECSServiceAverageCPUUtilization");
    let (sleeps, fetched, _) = invocation(&fast, Vec::new(), &task_event());
    assert_eq!((sleeps, fetched), (vec![], vec![0]), "an ECS event is one evaluation");
    let aws = config("aws", "ECSServiceAverageCPUUtilization");
    assert!(!polls(&aws.targets[WEB]), "AWS evaluates one-minute alarms once a minute: the tick");
    let (sleeps, fetched, _) = invocation(&aws, Vec::new(), &tick());
    assert_eq!((sleeps, fetched), (vec![], vec![0]));
    let aws_high = config("aws", "ECSServiceAverageCPUUtilizationHighResolution");
    assert!(polls(&aws_high.targets[WEB]), "CloudWatch evaluates sub-minute alarms every 10 s");
}

#[test]
fn no_polling_when_the_window_is_zero() {
    let cfg = config("fast", "ECSServiceAverageCPUUtilization");
    let clock = JumpingClock::at(start());
    let services = FakeServices::with(WEB, ServiceSnapshot { desired: 4, running: 4, ..Default::default() });
    let metrics = StaticMetrics::default();
    let (state, decisions) = (InMemoryState::default(), RecordingDecisions::default());
    let ports = ServicePorts { services: &services, metrics: &metrics, state: &state, decisions: &decisions };
    let settings = Settings { poll_window_seconds: 0, ..Settings::default() };
    block_on(invoke(&clock, &cfg, settings, &ports, &tick())).unwrap();
    assert!(clock.sleeps().is_empty());
}

fn scenario(name: &str) -> Scenario {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("examples/scenarios/{name}.yaml"));
    serde_yaml_ng::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn the_simulator_decides_only_when_the_deployed_stack_invokes() {
    let report = sim::simulate(&scenario("spike-20s")).unwrap();
    // The baseline (aws mode, 20-s alarms) polls within the tick's
    // invocation, as CloudWatch evaluates such alarms: 10-s steps only.
    assert!(!report.baseline.decisions.is_empty());
    for d in &report.baseline.decisions {
        assert_eq!(d.time.as_second() % 10, 0, "the baseline decided off the 10-s polls at {}", d.time);
    }
    // ecs-autopilot polls too, and acts on the ECS events routed to it
    // (an event sent during a second is delivered by the next).
    let event_times: Vec<Timestamp> =
        report.autopilot.events.iter().map(|e| e["time"].as_str().unwrap().parse().unwrap()).collect();
    for d in &report.autopilot.decisions {
        let on_event = event_times.iter().any(|t| (0..=1).contains(&(d.time.as_second() - t.as_second())));
        assert!(d.time.as_second() % 10 == 0 || on_event, "decided at {} on nothing", d.time);
    }
    // On one-minute metrics the baseline decides on the tick alone.
    let report = sim::simulate(&scenario("spike")).unwrap();
    assert!(report.baseline.decisions.iter().all(|d| d.time.as_second() % 60 == 0));
    // ecs-autopilot also evaluates on the ECS events EventBridge routes to
    // it (task state changes at other seconds).
    assert!(report.autopilot.decisions.iter().any(|d| d.time.as_second() % 10 != 0));
}

#[test]
fn the_simulator_and_replay_build_no_observation_of_their_own() {
    // The handlers build the observation from what the ports return; a
    // simulator-only input would need its own Observation or a direct call
    // of the controller or planner.
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<_> = Vec::new();
    for dir in ["src/sim", "src/replay"] {
        files.extend(std::fs::read_dir(root.join(dir)).unwrap().map(|e| e.unwrap().path()));
    }
    assert!(files.len() >= 9, "{files:?}");
    for path in files {
        let text = std::fs::read_to_string(&path).unwrap();
        for forbidden in ["controller::evaluate", "capacity::plan(", "Observation {", "plan(at,", "plan(now,"] {
            assert!(!text.contains(forbidden), "{} contains {forbidden:?}", path.display());
        }
    }
}

#[test]
fn ids_of_sample_counts_never_collide_with_configured_metrics() {
    let cfg = config("fast", "ECSServiceAverageCPUUtilization");
    let ids: Vec<MetricId> = fetch_queries(&cfg.targets[WEB]).into_iter().map(|(id, _)| id).collect();
    let mut unique = ids.clone();
    unique.dedup();
    assert_eq!(ids, unique);
}
