//! End to end against a local moto server over the real AWS wire protocol:
//! ECS services, DynamoDB memory with conditional writes, EventBridge
//! publication, the Auto Scaling group, and a built Lambda binary driven by
//! a local Runtime API. CloudWatch is covered by the adapter tests (moto
//! does not speak the current SDK's RPC v2 CBOR): metrics come through the
//! metrics port here, as the issue allows.

mod support;

use autopilot_lambdas::dynamodb::DynamoState;
use autopilot_lambdas::ecs::EcsServices;
use autopilot_lambdas::eventbridge::EventBridgeDecisions;
use ecs_autopilot::config::MetricId;
use ecs_autopilot::handler::{handle_event, target_key, ServicePorts, Settings, TargetRecord};
use ecs_autopilot::memory::Datapoint;
use ecs_autopilot::ports::memory::StaticMetrics;
use ecs_autopilot::ports::{PortError, ServicePort, ServiceSnapshot};
use std::sync::atomic::{AtomicU32, Ordering};
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
      PredefinedMetricSpecification: {PredefinedMetricType: ECSServiceAverageCPUUtilization}
Autopilot:
  Defaults: {EvaluationMode: fast}
";

/// Cluster `prod` with service `api` (2 running tasks) and the state table.
async fn world(sdk: &aws_config::SdkConfig) {
    support::create_api_service(sdk).await;
    support::create_state_table(sdk, TABLE).await;
}

fn hot_metrics() -> StaticMetrics {
    let now = jiff::Timestamp::now();
    let points = (1..=3)
        .map(|k| Datapoint { timestamp: now.checked_sub(jiff::SignedDuration::from_mins(k)).unwrap(), value: 90.0 })
        .collect();
    StaticMetrics::new([(MetricId("ECSServiceAverageCPUUtilization".into()), points)].into())
}

async fn desired_in_moto(sdk: &aws_config::SdkConfig) -> i32 {
    let out = aws_sdk_ecs::Client::new(sdk).describe_services().cluster("prod").services("api").send().await.unwrap();
    out.services()[0].desired_count()
}

async fn record_in_moto(sdk: &aws_config::SdkConfig) -> (TargetRecord, u64) {
    let item = aws_sdk_dynamodb::Client::new(sdk)
        .get_item()
        .table_name(TABLE)
        .key("pk", aws_sdk_dynamodb::types::AttributeValue::S(target_key(SERVICE)))
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item
        .expect("memory item written");
    let body = item["body"].as_s().unwrap();
    let version = item["version"].as_n().unwrap().parse().unwrap();
    (serde_json::from_str(body).unwrap(), version)
}

/// moto with the world, and the controller's ports over it (metrics from
/// the metrics port: 2 tasks at 90 % CPU: 2 × 90 / 50 → 4, uncapped).
struct Fixture {
    _moto: Moto,
    sdk: aws_config::SdkConfig,
    config: ecs_autopilot::config::Config,
    services: Counting,
    metrics: StaticMetrics,
    state: DynamoState,
    bus: EventBridgeDecisions,
}

impl Fixture {
    async fn start() -> Self {
        let moto = Moto::start();
        let sdk = support::sdk(&moto).await;
        world(&sdk).await;
        Self {
            config: ecs_autopilot::config::load_str(CONFIG).unwrap(),
            services: Counting { inner: EcsServices::new(aws_sdk_ecs::Client::new(&sdk)), updates: AtomicU32::new(0) },
            metrics: hot_metrics(),
            state: DynamoState::new(aws_sdk_dynamodb::Client::new(&sdk), TABLE),
            bus: EventBridgeDecisions::new(aws_sdk_eventbridge::Client::new(&sdk), "default"),
            sdk,
            _moto: moto,
        }
    }

    fn ports(&self) -> ServicePorts<'_, Counting, StaticMetrics, DynamoState, EventBridgeDecisions> {
        ServicePorts { services: &self.services, metrics: &self.metrics, state: &self.state, decisions: &self.bus }
    }

    fn updates(&self) -> u32 {
        self.services.updates.load(Ordering::SeqCst)
    }
}

/// Counts `UpdateService` calls that reach moto.
struct Counting {
    inner: EcsServices,
    updates: AtomicU32,
}

impl ServicePort for Counting {
    async fn describe(&self, resource_id: &str) -> Result<ServiceSnapshot, PortError> {
        self.inner.describe(resource_id).await
    }
    async fn set_desired_count(&self, resource_id: &str, desired: u32) -> Result<(), PortError> {
        self.updates.fetch_add(1, Ordering::SeqCst);
        self.inner.set_desired_count(resource_id, desired).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn controller_scales_the_service_in_moto_records_memory_and_ignores_a_duplicate() {
    let f = Fixture::start().await;
    let (sdk, config) = (&f.sdk, &f.config);
    let ports = f.ports();
    let now = jiff::Timestamp::now();

    let report = handle_event(now, config, Settings::default(), &ports, &task_event("e-1", "t1")).await.unwrap();
    assert!(report.publish_errors.is_empty(), "{:?}", report.publish_errors);
    assert_eq!(report.decisions[0].desired, 4, "2 tasks at 90 % for a 50 % target: {:?}", report.decisions[0]);
    assert_eq!(desired_in_moto(sdk).await, 4);
    let (record, version) = record_in_moto(sdk).await;
    assert_eq!(version, 1);
    assert_eq!(record.memory.last_scale_out.map(|r| (r.from, r.to)), Some((2, 4)));
    // A task event is remembered by its task's version (docs/lambdas.md).
    assert!(record.ledger.versions.contains_key("t1"), "kept by task id: {:?}", record.ledger.versions);

    // At-least-once delivery: the same event again changes nothing.
    let again = handle_event(now, config, Settings::default(), &ports, &task_event("e-1", "t1")).await.unwrap();
    assert!(again.ignored[0].reason.starts_with("duplicate event id"));
    assert_eq!(f.updates(), 1);
    assert_eq!(record_in_moto(sdk).await.1, 1, "no write for a duplicate");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn shadow_mode_decides_records_and_publishes_but_leaves_the_service_alone() {
    let f = Fixture::start().await;
    let (sdk, config) = (&f.sdk, &f.config);
    let ports = f.ports();
    let shadow = Settings { shadow: true, ..Settings::default() };
    let report = handle_event(jiff::Timestamp::now(), config, shadow, &ports, &task_event("e-1", "t1")).await.unwrap();
    assert!(!report.applied);
    assert_eq!(report.decisions[0].desired, 4, "the decision is made and recorded");
    assert_eq!(f.updates(), 0);
    assert_eq!(desired_in_moto(sdk).await, 2, "nothing applied");
    assert_eq!(record_in_moto(sdk).await.1, 1, "memory recorded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixteen_parallel_invocations_on_one_service_act_once_with_consistent_memory() {
    let f = Fixture::start().await;
    let (sdk, config) = (&f.sdk, &f.config);
    let now = jiff::Timestamp::now();
    let settings = Settings { max_attempts: 64, ..Settings::default() };
    let ports = f.ports();
    let runs = (0..16).map(|k| {
        let event = task_event(&format!("e-{k}"), &format!("t{k}"));
        let ports = &ports;
        let config = &config;
        async move { handle_event(now, config, settings, ports, &event).await }
    });
    // Interleaved on one task: each await point is a moto round trip, so
    // loads and conditional writes of the 16 invocations overlap.
    let results = futures_join_all(runs).await;
    for r in &results {
        assert!(r.is_ok(), "{r:?}");
    }
    assert_eq!(f.updates(), 1, "exactly one UpdateService");
    assert_eq!(desired_in_moto(sdk).await, 4);
    let (record, version) = record_in_moto(sdk).await;
    assert_eq!(record.ledger.versions.len(), 16, "every invocation's event recorded: no lost update");
    assert_eq!(version, 16, "one successful conditional write per invocation");
}

/// Polls all futures to completion concurrently (no extra crate).
async fn futures_join_all<F: std::future::Future>(futures: impl Iterator<Item = F>) -> Vec<F::Output> {
    let mut pending: Vec<std::pin::Pin<Box<F>>> = futures.map(Box::pin).collect();
    let mut out: Vec<Option<F::Output>> = (0..pending.len()).map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut done = true;
        for (i, f) in pending.iter_mut().enumerate() {
            if out[i].is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => out[i] = Some(v),
                    std::task::Poll::Pending => done = false,
                }
            }
        }
        if done {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await;
    out.into_iter().map(|v| v.expect("completed")).collect()
}
