//! The handlers over in-memory ports: the production code path of the
//! Lambdas with fakes that record calls and inject errors. Virtual time only.

use ecs_autopilot::capacity::{snapshot, CapacityAction, CapacityOptions};
use ecs_autopilot::config::{self, EvaluationMode, MetricId};
use ecs_autopilot::handler::capacity::{handle_capacity_event, provider_key};
use ecs_autopilot::handler::{block_on, handle_event, target_key, HandlerError, ServicePorts, Settings, TargetRecord};
use ecs_autopilot::memory::Datapoint;
use ecs_autopilot::ports::memory::{FakeCapacity, FakeServices, InMemoryState, RecordingDecisions, StaticMetrics};
use ecs_autopilot::ports::{PortError, ServiceSnapshot};
use jiff::Timestamp;
use serde_json::{json, Value};

const WEB: &str = "service/c/web";
const CONFIG: &str = "
ScalableTargets:
  - {ResourceId: service/c/web, MinCapacity: 1, MaxCapacity: 20}
ScalingPolicies:
  - PolicyName: cpu50
    ResourceId: service/c/web
    PolicyType: TargetTrackingScaling
    TargetTrackingScalingPolicyConfiguration:
      TargetValue: 50
      PredefinedMetricSpecification: {PredefinedMetricType: ECSServiceAverageCPUUtilization}
Autopilot:
  Defaults: {EvaluationMode: fast}
";

fn now() -> Timestamp {
    "2026-03-02T10:00:00Z".parse().unwrap()
}

fn task_event(id: &str, task: &str, version: u64) -> Value {
    let mut e: Value = serde_json::from_str(include_str!("fixtures/events/ecs-task-state-change.json")).unwrap();
    e["id"] = json!(id);
    e["time"] = json!("2026-03-02T09:59:58Z");
    e["detail"]["group"] = json!("service:web");
    e["detail"]["clusterArn"] = json!("arn:aws:ecs:us-west-2:111122223333:cluster/c");
    e["detail"]["taskArn"] = json!(format!("arn:aws:ecs:us-west-2:111122223333:task/c/{task}"));
    e["detail"]["version"] = json!(version);
    e
}

struct World {
    config: config::Config,
    services: FakeServices,
    metrics: StaticMetrics,
    state: InMemoryState,
    decisions: RecordingDecisions,
}

impl World {
    /// Four running tasks at 90 % CPU: fast mode wants 8.
    fn hot() -> Self {
        let cpu = MetricId("ECSServiceAverageCPUUtilization".into());
        let points = (1..=3)
            .map(|k| Datapoint {
                timestamp: now().checked_sub(jiff::SignedDuration::from_mins(k)).unwrap(),
                value: 90.0, // 4 × 90 / 50 → 8 (uncapped: docs/configuration.md "fast mode")
            })
            .collect();
        Self {
            config: config::load_str(CONFIG).unwrap(),
            services: FakeServices::with(WEB, ServiceSnapshot { desired: 4, running: 4, ..Default::default() }),
            metrics: StaticMetrics::new([(cpu, points)].into()),
            state: InMemoryState::default(),
            decisions: RecordingDecisions::default(),
        }
    }

    fn run(&self, settings: Settings, event: &Value) -> Result<ecs_autopilot::handler::Report, HandlerError> {
        let ports = ServicePorts {
            services: &self.services,
            metrics: &self.metrics,
            state: &self.state,
            decisions: &self.decisions,
        };
        block_on(handle_event(now(), &self.config, settings, &ports, event))
    }

    fn record(&self) -> TargetRecord {
        serde_json::from_str(&self.state.get(&target_key(WEB)).unwrap().body).unwrap()
    }
}

#[test]
fn task_event_scales_out_records_memory_and_publishes_the_decision() {
    let w = World::hot();
    let report = w.run(Settings::default(), &task_event("e1", "t1", 4)).unwrap();
    assert_eq!(w.services.updates(), vec![(WEB.to_owned(), 8)]);
    assert_eq!(report.decisions.len(), 1);
    assert_eq!(report.decisions[0].desired, 8);
    let record = w.record();
    assert_eq!(record.memory.last_scale_out.map(|r| r.to), Some(8), "cooldown clock starts");
    // A task event is remembered by its task's version (docs/lambdas.md).
    assert_eq!(record.ledger.versions.len(), 1);
    let published = w.decisions.published.lock().unwrap();
    assert_eq!(published.len(), 1);
    assert_eq!(published[0].1["desired"], 8);
}

#[test]
fn a_duplicate_event_id_causes_no_second_action() {
    let w = World::hot();
    w.run(Settings::default(), &task_event("e1", "t1", 4)).unwrap();
    // AWS has not started the tasks yet: the same event again must not act.
    w.services.services.lock().unwrap().get_mut(WEB).unwrap().desired = 4;
    let report = w.run(Settings::default(), &task_event("e1", "t1", 4)).unwrap();
    assert_eq!(w.services.updates().len(), 1);
    assert!(report.ignored[0].reason.starts_with("duplicate event id"), "{:?}", report.ignored);
}

#[test]
fn an_older_task_version_is_ignored_spec_10_2() {
    let w = World::hot();
    w.run(Settings::default(), &task_event("e1", "t1", 5)).unwrap();
    let report = w.run(Settings::default(), &task_event("e2", "t1", 4)).unwrap();
    assert_eq!(report.ignored[0].reason, "stale version 4: version 5 already seen");
    assert!(report.decisions.is_empty());
}

#[test]
fn shadow_mode_decides_records_and_publishes_but_applies_nothing() {
    let w = World::hot();
    let report = w.run(Settings { shadow: true, ..Settings::default() }, &task_event("e1", "t1", 4)).unwrap();
    assert!(w.services.updates().is_empty());
    assert!(!report.applied);
    assert_eq!(report.decisions[0].desired, 8);
    assert_eq!(w.decisions.published.lock().unwrap().len(), 1);
}

#[test]
fn a_failed_action_restores_memory_and_is_retryable() {
    let w = World::hot();
    w.services
        .update_errors
        .lock()
        .unwrap()
        .push_back(PortError::retryable("ecs:UpdateService", "ThrottlingException"));
    let err = w.run(Settings::default(), &task_event("e1", "t1", 4)).unwrap_err();
    assert!(err.retryable(), "{err}");
    assert!(matches!(err, HandlerError::ActionFailed { .. }), "{err}");
    let record = w.record();
    assert_eq!(record, TargetRecord::default(), "no cooldown and the event is not marked processed");
    // Lambda's retry of the same event acts.
    w.run(Settings::default(), &task_event("e1", "t1", 4)).unwrap();
    assert_eq!(w.services.updates(), vec![(WEB.to_owned(), 8)]);
}

#[test]
fn sixteen_concurrent_invocations_on_one_service_act_once() {
    let w = World::hot();
    std::thread::scope(|s| {
        for k in 0..16 {
            let w = &w;
            s.spawn(move || {
                w.run(
                    Settings { max_attempts: 64, ..Settings::default() },
                    &task_event(&format!("e{k}"), &format!("t{k}"), 1),
                )
                .unwrap()
            });
        }
    });
    assert_eq!(w.services.updates(), vec![(WEB.to_owned(), 8)], "exactly one action");
    let record = w.record();
    assert_eq!(record.ledger.versions.len(), 16, "no lost memory update");
    assert_eq!(w.state.get(&target_key(WEB)).unwrap().version, 16);
}

/// A store where another writer always wins.
struct AlwaysConflicting;

impl ecs_autopilot::ports::StatePort for AlwaysConflicting {
    async fn load(&self, _key: &str) -> Result<Option<ecs_autopilot::ports::Stored>, PortError> {
        Ok(None)
    }
    async fn save(
        &self,
        _: &str,
        _: &str,
        _: Option<u64>,
        _: Timestamp,
    ) -> Result<ecs_autopilot::ports::SaveOutcome, PortError> {
        Ok(ecs_autopilot::ports::SaveOutcome::Conflict)
    }
}

#[test]
fn writes_that_keep_conflicting_end_in_a_retryable_contention_error_without_acting() {
    let w = World::hot();
    let ports =
        ServicePorts { services: &w.services, metrics: &w.metrics, state: &AlwaysConflicting, decisions: &w.decisions };
    let settings = Settings { max_attempts: 3, ..Settings::default() };
    let err = block_on(handle_event(now(), &w.config, settings, &ports, &task_event("e1", "t1", 1))).unwrap_err();
    assert_eq!(err, HandlerError::Contention { key: target_key(WEB), attempts: 3 });
    assert!(err.retryable());
    assert!(w.services.updates().is_empty(), "no action without a won claim");
}

#[test]
fn unreadable_stored_memory_is_a_permanent_error_naming_the_key() {
    let w = World::hot();
    let corrupt = InMemoryState::default();
    block_on(ecs_autopilot::ports::StatePort::save(&corrupt, &target_key(WEB), "{not json", None, now())).unwrap();
    let ports = ServicePorts { services: &w.services, metrics: &w.metrics, state: &corrupt, decisions: &w.decisions };
    let err =
        block_on(handle_event(now(), &w.config, Settings::default(), &ports, &task_event("e2", "t2", 1))).unwrap_err();
    assert!(!err.retryable());
    assert!(err.to_string().starts_with("stored memory under target#service/c/web is unreadable"), "{err}");
    assert!(w.services.updates().is_empty());
}

#[test]
fn records_carry_their_schema_and_a_newer_one_is_never_rewritten() {
    let w = World::hot();
    // A record from before schemas (no `schema`) is read and upgraded.
    let old = InMemoryState::default();
    block_on(ecs_autopilot::ports::StatePort::save(&old, &target_key(WEB), r#"{"memory":{}}"#, None, now())).unwrap();
    let ports = ServicePorts { services: &w.services, metrics: &w.metrics, state: &old, decisions: &w.decisions };
    block_on(handle_event(now(), &w.config, Settings::default(), &ports, &task_event("e1", "t1", 1))).unwrap();
    let stored: TargetRecord = serde_json::from_str(&old.get(&target_key(WEB)).unwrap().body).unwrap();
    assert_eq!(stored.schema, ecs_autopilot::handler::RECORD_SCHEMA);
    // A record written by a newer build is refused, not rewritten.
    let newer = InMemoryState::default();
    let body = r#"{"schema":99,"memory":{},"future_field":[1,2,3]}"#;
    block_on(ecs_autopilot::ports::StatePort::save(&newer, &target_key(WEB), body, None, now())).unwrap();
    let ports = ServicePorts { services: &w.services, metrics: &w.metrics, state: &newer, decisions: &w.decisions };
    let err =
        block_on(handle_event(now(), &w.config, Settings::default(), &ports, &task_event("e2", "t2", 1))).unwrap_err();
    assert!(matches!(err, HandlerError::NewerRecord { found: 99, .. }), "{err}");
    assert!(!err.retryable());
    assert_eq!(newer.get(&target_key(WEB)).unwrap().body, body, "left as the newer build wrote it");
}

#[test]
fn poison_and_foreign_events_are_acknowledged_with_a_reason() {
    let w = World::hot();
    let report = w.run(Settings::default(), &json!({"id": "x", "detail-type": 3})).unwrap();
    assert!(report.ignored[0].reason.starts_with("malformed event"), "{:?}", report.ignored);
    let mut foreign = task_event("e9", "t9", 1);
    foreign["source"] = json!("aws.s3");
    foreign["detail-type"] = json!("Object Created");
    let report = w.run(Settings::default(), &foreign).unwrap();
    assert!(report.ignored[0].reason.starts_with("not an event the controller consumes"));
    let mut other_service = task_event("e8", "t8", 1);
    other_service["detail"]["group"] = json!("service:other");
    let report = w.run(Settings::default(), &other_service).unwrap();
    assert_eq!(report.ignored[0].reason, "service/c/other is not a configured scalable target");
    assert!(w.services.updates().is_empty());
}

#[test]
fn the_tick_evaluates_every_target() {
    let w = World::hot();
    let tick: Value = serde_json::from_str(include_str!("fixtures/events/scheduled-event.json")).unwrap();
    let report = w.run(Settings::default(), &tick).unwrap();
    assert_eq!(report.decisions.len(), 1);
    assert_eq!(w.services.updates(), vec![(WEB.to_owned(), 8)]);
}

#[test]
fn a_deleted_service_does_not_stop_the_tick_from_evaluating_the_others() {
    // Two targets; `service/c/gone` was deleted from ECS.
    let mut w = World::hot();
    let gone = CONFIG
        .replace("service/c/web", "service/c/gone")
        .replace("cpu50", "cpu50-gone")
        .replace("Autopilot:\n  Defaults: {EvaluationMode: fast}\n", "");
    // Two documents, merged as several configuration files are.
    w.config = config::load_documents(&[("a", CONFIG), ("b", &gone)]).unwrap();
    assert_eq!(w.config.targets.len(), 2);
    let tick: Value = serde_json::from_str(include_str!("fixtures/events/scheduled-event.json")).unwrap();
    let err = w.run(Settings::default(), &tick).unwrap_err();
    let HandlerError::Targets { failures } = &err else { panic!("{err}") };
    assert_eq!(failures.len(), 1);
    assert_eq!(failures[0].0, "service/c/gone");
    assert!(!err.retryable(), "a deleted service is permanent: {err}");
    // The other target was evaluated and acted on.
    assert_eq!(w.services.updates(), vec![(WEB.to_owned(), 8)]);
    assert_eq!(w.record().memory.last_scale_out.map(|r| r.to), Some(8));
}

#[test]
fn emf_line_carries_desired_computed_and_the_metric() {
    let w = World::hot();
    let report = w.run(Settings::default(), &task_event("e1", "t1", 4)).unwrap();
    let doc = ecs_autopilot::handler::emf(&report.decisions[0]);
    assert_eq!(doc["DesiredCount"], 8);
    assert_eq!(doc["MetricValue"], 90.0);
    assert_eq!(doc["_aws"]["CloudWatchMetrics"][0]["Namespace"], "ECSAutopilot");
}

fn placement_failure() -> Value {
    serde_json::from_str(include_str!("fixtures/events/ecs-service-action-service-task-placement-failure-ec2.json"))
        .unwrap()
}

#[test]
fn placement_failure_scales_the_asg_once_and_a_failed_call_restores_memory() {
    let text = std::fs::read_to_string("examples/capacity/snapshot.json").unwrap();
    let doc = snapshot::merge(&[("snapshot.json", &text)]).unwrap();
    let cluster = snapshot::cluster(&doc, None).unwrap();
    let provider = cluster.capacity_provider.clone();
    let fake = FakeCapacity::new(cluster);
    let state = InMemoryState::default();
    let sink = RecordingDecisions::default();
    let options = CapacityOptions { mode: EvaluationMode::Fast, ..CapacityOptions::default() };
    let providers = vec![provider.clone()];
    // The example snapshot: 9 tasks in PROVISIONING need a fourth instance
    // (and the busy instance is protected first).
    fake.apply_errors.lock().unwrap().push_back(PortError::retryable("autoscaling:SetInstanceProtection", "503"));
    let run = || {
        block_on(handle_capacity_event(
            now(),
            &providers,
            &options,
            Settings::default(),
            (&fake, &state, &sink),
            &placement_failure(),
        ))
    };
    let err = run().unwrap_err();
    assert!(err.retryable(), "{err}");
    let stored: ecs_autopilot::handler::capacity::ProviderRecord =
        serde_json::from_str(&state.get(&provider_key(&provider)).unwrap().body).unwrap();
    assert!(stored.ledger.processed.is_empty(), "event not marked processed after a failed action");
    assert!(fake.applied.lock().unwrap().is_empty());
    // Lambda's retry acts.
    let report = run().unwrap();
    let expected = vec![
        CapacityAction::ProtectFromScaleIn { ec2_instance_ids: vec!["i-0b1".into()] },
        CapacityAction::SetDesiredCapacity { from: 3, to: 4 },
    ];
    assert_eq!(report.decisions[0].actions, expected);
    assert_eq!(*fake.applied.lock().unwrap(), expected);
    assert_eq!(fake.cluster.lock().unwrap().asg.desired, 4);
    // At-least-once delivery: the same event again plans nothing more.
    let again = run().unwrap();
    assert!(again.decisions.is_empty(), "duplicate placement failure: no second plan");
    assert_eq!(fake.applied.lock().unwrap().len(), 2);
    assert_eq!(sink.published.lock().unwrap().len(), 1);
}

/// docs/capacity.md "Fargate-only and mixed clusters": the capacity
/// function beside a Fargate provider plans the group provider, says once
/// that Fargate needs nothing, and never fails for it.
#[test]
fn a_fargate_provider_beside_a_group_is_said_once_without_error() {
    let text = std::fs::read_to_string("examples/capacity/snapshot.json").unwrap();
    let doc = snapshot::merge(&[("snapshot.json", &text)]).unwrap();
    let cluster = snapshot::cluster(&doc, None).unwrap();
    let group = cluster.capacity_provider.clone();
    let fake = FakeCapacity::new(cluster);
    let state = InMemoryState::default();
    let sink = RecordingDecisions::default();
    let options = CapacityOptions { mode: EvaluationMode::Fast, ..CapacityOptions::default() };
    let providers = vec!["FARGATE".to_owned(), group.clone()];
    let mut said = Vec::new();
    for k in 0..3 {
        let mut tick: Value = serde_json::from_str(include_str!("fixtures/events/scheduled-event.json")).unwrap();
        tick["id"] = format!("tick-{k}").into();
        let report = block_on(handle_capacity_event(
            now(),
            &providers,
            &options,
            Settings::default(),
            (&fake, &state, &sink),
            &tick,
        ))
        .unwrap();
        let planned: Vec<&str> = report.decisions.iter().map(|d| d.capacity_provider.as_str()).collect();
        assert_eq!(planned, [group.as_str()], "the group provider is planned on every tick");
        said.push(
            report.ignored.iter().map(|i| (i.target.clone().unwrap_or_default(), i.kind.clone())).collect::<Vec<_>>(),
        );
    }
    assert_eq!(said, [vec![("FARGATE".to_owned(), "no auto scaling group".to_owned())], vec![], vec![]]);
}
