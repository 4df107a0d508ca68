//! One path, checked against the wire: the same invocations of the
//! controller function (a task event, the tick with its polls, a duplicate,
//! a second tick) through the in-memory ports and through the Lambda's AWS
//! adapters against moto (ECS, DynamoDB, EventBridge), with the same metric
//! answers, give equal decision records and equal stored memory.

mod support;

use autopilot_lambdas::dynamodb::DynamoState;
use autopilot_lambdas::ecs::EcsServices;
use autopilot_lambdas::eventbridge::EventBridgeDecisions;
use ecs_autopilot::config::MetricId;
use ecs_autopilot::handler::{invoke, target_key, Report, ServicePorts, Settings};
use ecs_autopilot::memory::Datapoint;
use ecs_autopilot::ports::memory::{InMemoryState, JumpingClock, RecordingDecisions, StaticMetrics};
use ecs_autopilot::ports::{DecisionPort, MetricsPort, PortError, ServicePort, ServiceSnapshot, StatePort};
use jiff::{SignedDuration, Timestamp};
use std::sync::Mutex;
use support::{task_event, Moto};

const SERVICE: &str = "service/prod/api";
const TABLE: &str = "autopilot-state";
const CONFIG: &str = "
ScalableTargets:
  - {ResourceId: service/prod/api, MinCapacity: 1, MaxCapacity: 10}
ScalingPolicies:
  - PolicyName: cpu50
    ResourceId: service/prod/api
    PolicyType: TargetTrackingScaling
    TargetTrackingScalingPolicyConfiguration:
      TargetValue: 50
      PredefinedMetricSpecification: {PredefinedMetricType: ECSServiceAverageCPUUtilizationHighResolution}
Autopilot:
  Defaults: {EvaluationMode: fast}
";

fn start() -> Timestamp {
    // Recent, so the fast mode's five-minute staleness holds for the moto run.
    let now = Timestamp::now().as_second();
    Timestamp::from_second(now - now.rem_euclid(60)).unwrap()
}

fn at(t0: Timestamp, seconds: i64) -> Timestamp {
    t0.checked_add(SignedDuration::from_secs(seconds)).unwrap()
}

/// 20-s CPU datapoints: 100 % for the first minute, then 30 %.
fn metrics(t0: Timestamp) -> StaticMetrics {
    let points =
        (-6..12).map(|k| Datapoint { timestamp: at(t0, 20 * k), value: if k < 3 { 100.0 } else { 30.0 } }).collect();
    StaticMetrics::new([(MetricId("ECSServiceAverageCPUUtilizationHighResolution".into()), points)].into())
}

/// Readable datapoints only: a metrics port over `inner` whose answer at
/// `now` holds periods that have ended (what CloudWatch would answer).
struct Readable<'a, M> {
    inner: &'a M,
}

impl<M: MetricsPort + Sync> MetricsPort for Readable<'_, M> {
    async fn fetch(
        &self,
        queries: &[(MetricId, ecs_autopilot::config::MetricQuery)],
        from: Timestamp,
        to: Timestamp,
    ) -> Result<std::collections::BTreeMap<MetricId, Vec<Datapoint>>, PortError> {
        let mut out = self.inner.fetch(queries, from, to).await?;
        for series in out.values_mut() {
            series.retain(|p| at(p.timestamp, 20) <= to);
        }
        Ok(out)
    }
}

/// ECS as moto answers it: `UpdateService` sets the running count too, and
/// leaves the primary deployment's rollout IN_PROGRESS (moto never
/// completes a rollout).
#[derive(Default)]
struct MotoLikeEcs {
    service: Mutex<ServiceSnapshot>,
}

impl ServicePort for MotoLikeEcs {
    async fn describe(&self, _resource_id: &str) -> Result<ServiceSnapshot, PortError> {
        Ok(*self.service.lock().unwrap())
    }
    async fn set_desired_count(&self, _resource_id: &str, desired: u32) -> Result<(), PortError> {
        let mut s = self.service.lock().unwrap();
        s.desired = desired;
        s.running = desired;
        s.deployment_in_progress = true;
        Ok(())
    }
}

/// Publishes to moto's bus and keeps a copy, to compare what was published.
struct Recording<'a, D> {
    inner: &'a D,
    copy: RecordingDecisions,
}

impl<D: DecisionPort + Sync> DecisionPort for Recording<'_, D> {
    async fn publish<R: serde::Serialize + Sync>(&self, detail_type: &str, record: &R) -> Result<(), PortError> {
        self.inner.publish(detail_type, record).await?;
        self.copy.publish(detail_type, record).await
    }
}

/// The invocations, in order: `(seconds after t0, event)`.
fn invocations(t0: Timestamp) -> Vec<(i64, serde_json::Value)> {
    let tick = |seconds: i64, id: &str| {
        let mut e: serde_json::Value =
            serde_json::from_str(include_str!("../../tests/fixtures/events/scheduled-event.json")).unwrap();
        e["id"] = id.into();
        e["time"] = at(t0, seconds).to_string().into();
        (seconds, e)
    };
    vec![
        (5, task_event("e1", "t1")),
        tick(60, "tick-1"),
        (115, task_event("e2", "t2")),
        (116, task_event("e1", "t1")),
        tick(120, "tick-2"),
    ]
}

async fn run<S, M, T, D>(t0: Timestamp, ports: &ServicePorts<'_, S, M, T, D>) -> Vec<Report>
where
    S: ServicePort + Sync,
    M: MetricsPort + Sync,
    T: StatePort + Sync,
    D: DecisionPort + Sync,
{
    let config = ecs_autopilot::config::load_str(CONFIG).unwrap();
    let mut reports = Vec::new();
    for (seconds, event) in invocations(t0) {
        let clock = JumpingClock::at(at(t0, seconds));
        reports.push(invoke(&clock, &config, Settings::default(), ports, &event).await.unwrap());
    }
    reports
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_memory_ports_and_aws_adapters_against_moto_decide_alike() {
    let t0 = start();
    let static_metrics = metrics(t0);
    let readable = Readable { inner: &static_metrics };

    // In memory.
    let ecs = MotoLikeEcs::default();
    *ecs.service.lock().unwrap() = ServiceSnapshot { desired: 2, running: 2, ..ServiceSnapshot::default() };
    let (state, decisions) = (InMemoryState::default(), RecordingDecisions::default());
    let ports = ServicePorts { services: &ecs, metrics: &readable, state: &state, decisions: &decisions };
    let in_memory = run(t0, &ports).await;

    // Through the adapters, against moto.
    let moto = Moto::start();
    let sdk = support::sdk(&moto).await;
    support::create_api_service(&sdk).await;
    support::create_state_table(&sdk, TABLE).await;
    let services = EcsServices::new(aws_sdk_ecs::Client::new(&sdk));
    let dynamo = DynamoState::new(aws_sdk_dynamodb::Client::new(&sdk), TABLE);
    let bus = EventBridgeDecisions::new(aws_sdk_eventbridge::Client::new(&sdk), "default");
    let published = Recording { inner: &bus, copy: RecordingDecisions::default() };
    let ports = ServicePorts { services: &services, metrics: &readable, state: &dynamo, decisions: &published };
    let through_aws = run(t0, &ports).await;

    let json = |reports: &[Report]| serde_json::to_value(reports).unwrap();
    assert_eq!(json(&in_memory), json(&through_aws), "the same reports, decision records included");
    let decided: usize = in_memory.iter().map(|r| r.decisions.len()).sum();
    let acted = in_memory.iter().flat_map(|r| &r.decisions).filter(|d| !d.actions.is_empty()).count();
    assert!(decided >= 5 && acted >= 2, "a scale-out then a scale-in: {decided} decisions, {acted} acting");
    assert_eq!(in_memory.iter().map(|r| r.ignored.len()).sum::<usize>(), 1, "the duplicate task event");
    assert_eq!(*decisions.published.lock().unwrap(), *published.copy.published.lock().unwrap());
    // The stored memory is the same document.
    let stored = dynamo.load(&target_key(SERVICE)).await.unwrap().unwrap();
    let kept = state.get(&target_key(SERVICE)).unwrap();
    assert_eq!((stored.body, stored.version), (kept.body, kept.version));
}
