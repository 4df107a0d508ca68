//! Fleet scale against moto over the real AWS wire protocol (docs/fleet.md):
//! one tick over 200 services in two clusters evaluates every one of them
//! with the batched call counts — DescribeServices 10 services a call per
//! cluster, BatchGetItem 100 keys a call, PutEvents 10 entries a call — each
//! target keeping its own conditional write. An interceptor counts the
//! operations that reach moto. Metrics come through the metrics port, as in
//! `moto.rs` (moto does not speak the current CloudWatch protocol).

mod support;

use autopilot_lambdas::dynamodb::DynamoState;
use autopilot_lambdas::ecs::EcsServices;
use autopilot_lambdas::eventbridge::EventBridgeDecisions;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use ecs_autopilot::config::MetricId;
use ecs_autopilot::handler::{handle_event, target_key, ApiBudget, ServicePorts, Settings};
use ecs_autopilot::memory::Datapoint;
use ecs_autopilot::ports::memory::StaticMetrics;
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use support::Moto;

const TABLE: &str = "autopilot-state";
const CLUSTERS: [&str; 2] = ["fleet-a", "fleet-b"];
const PER_CLUSTER: usize = 100;

/// Operations that reached the server, by operation name.
#[derive(Clone, Debug, Default)]
struct Calls(Arc<Mutex<BTreeMap<String, u32>>>);

impl Intercept for Calls {
    fn name(&self) -> &'static str {
        "Calls"
    }
    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        // JSON protocols name the operation in `X-Amz-Target`, e.g.
        // `DynamoDB_20120810.BatchGetItem` (the SDK's retries are off here,
        // so one transmission is one call).
        let target = context.request().headers().get("x-amz-target").unwrap_or("unknown");
        let operation = target.rsplit('.').next().unwrap_or(target).to_owned();
        *self.0.lock().unwrap().entry(operation).or_default() += 1;
        Ok(())
    }
}

impl Calls {
    fn of(&self, key: &str) -> u32 {
        self.0.lock().unwrap().get(key).copied().unwrap_or(0)
    }
    fn reset(&self) {
        self.0.lock().unwrap().clear();
    }
}

fn service_ids() -> Vec<String> {
    CLUSTERS.iter().flat_map(|c| (0..PER_CLUSTER).map(move |i| format!("service/{c}/svc-{i}"))).collect()
}

/// Two clusters of 100 services, each at 2 tasks.
async fn fleet_in_moto(sdk: &aws_config::SdkConfig) {
    use aws_sdk_ecs::types::ContainerDefinition;
    let ecs = aws_sdk_ecs::Client::new(sdk);
    ecs.register_task_definition()
        .family("app")
        .container_definitions(
            ContainerDefinition::builder().name("app").image("public.ecr.aws/nginx/nginx:latest").memory(256).build(),
        )
        .send()
        .await
        .unwrap();
    for cluster in CLUSTERS {
        ecs.create_cluster().cluster_name(cluster).send().await.unwrap();
        for i in 0..PER_CLUSTER {
            let name = format!("svc-{i}");
            ecs.create_service()
                .cluster(cluster)
                .service_name(&name)
                .task_definition("app")
                .desired_count(2)
                .send()
                .await
                .unwrap();
            // moto runs no tasks; UpdateService copies desired to running.
            ecs.update_service().cluster(cluster).service(&name).desired_count(2).send().await.unwrap();
        }
    }
    support::create_state_table(sdk, TABLE).await;
}

fn config() -> ecs_autopilot::config::Config {
    let ids = service_ids();
    let targets: Vec<_> = ids.iter().map(|id| json!({"ResourceId": id, "MinCapacity": 1, "MaxCapacity": 10})).collect();
    let policies: Vec<_> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| {
            json!({"PolicyName": format!("cpu-{i}"), "ResourceId": id, "PolicyType": "TargetTrackingScaling",
                "TargetTrackingScalingPolicyConfiguration": {"TargetValue": 50,
                "PredefinedMetricSpecification": {"PredefinedMetricType": "ECSServiceAverageCPUUtilization"}}})
        })
        .collect();
    let doc = json!({"ScalableTargets": targets, "ScalingPolicies": policies,
        "Autopilot": {"Defaults": {"EvaluationMode": "fast"}}});
    ecs_autopilot::config::load_str(&doc.to_string()).unwrap()
}

/// Every service at 90 % CPU: 2 × 90 / 50 → 4 (fast mode, uncapped).
fn hot_metrics(now: jiff::Timestamp) -> StaticMetrics {
    let points = (1..=3)
        .map(|k| Datapoint { timestamp: now.checked_sub(jiff::SignedDuration::from_mins(k)).unwrap(), value: 90.0 })
        .collect();
    StaticMetrics::new([(MetricId("ECSServiceAverageCPUUtilization".into()), points)].into())
}

fn tick(now: jiff::Timestamp) -> serde_json::Value {
    json!({"version": "0", "id": format!("tick-{}", now.as_second()), "detail-type": "Scheduled Event",
        "source": "aws.events", "account": "123456789012", "time": now.to_string(), "region": "us-east-1",
        "resources": [], "detail": {}})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_tick_evaluates_200_services_with_batched_calls() {
    let moto = Moto::start();
    let sdk = support::sdk(&moto).await;
    fleet_in_moto(&sdk).await;
    let calls = Calls::default();
    let ecs =
        aws_sdk_ecs::Client::from_conf(aws_sdk_ecs::config::Builder::from(&sdk).interceptor(calls.clone()).build());
    let dynamodb = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(&sdk).interceptor(calls.clone()).build(),
    );
    let events = aws_sdk_eventbridge::Client::from_conf(
        aws_sdk_eventbridge::config::Builder::from(&sdk).interceptor(calls.clone()).build(),
    );
    let (services, state, bus) =
        (EcsServices::new(ecs), DynamoState::new(dynamodb, TABLE), EventBridgeDecisions::new(events, "default"));
    let now = jiff::Timestamp::now();
    let metrics = hot_metrics(now);
    let ports = ServicePorts { services: &services, metrics: &metrics, state: &state, decisions: &bus };
    let config = config();
    // Every service scales, so the round may make 200 UpdateService calls.
    let budget = ApiBudget { update_service: 200, ..ApiBudget::default() };
    let settings = Settings { budget, poll_window_seconds: 0, ..Settings::default() };
    calls.reset();

    let report = handle_event(now, &config, settings, &ports, &tick(now)).await.unwrap();

    assert_eq!(report.decisions.len(), 200, "every target is evaluated: {:?}", report.deferred);
    assert!(report.deferred.is_empty() && report.publish_errors.is_empty());
    assert!(report.decisions.iter().all(|d| d.desired == 4), "2 tasks at 90 % against 50 % → 4");
    assert_eq!(calls.of("DescribeServices"), 20, "10 services a call, per cluster");
    assert_eq!(calls.of("UpdateService"), 200);
    assert_eq!(calls.of("BatchGetItem"), 2, "100 keys a call");
    assert_eq!(calls.of("GetItem"), 0, "no read one target at a time");
    assert_eq!(calls.of("PutItem"), 200, "each target its own conditional write");
    assert_eq!(calls.of("PutEvents"), 20, "10 entries a call");
    assert_eq!(metrics.fetches().len(), 1, "400 queries in one GetMetricData request");
    // What moto now holds: every service at 4, every record written once.
    let check = aws_sdk_ecs::Client::new(&sdk);
    for cluster in CLUSTERS {
        let out = check.describe_services().cluster(cluster).services("svc-7").services("svc-93").send().await.unwrap();
        assert!(out.services().iter().all(|s| s.desired_count() == 4), "{cluster}");
    }
    let item = aws_sdk_dynamodb::Client::new(&sdk)
        .get_item()
        .table_name(TABLE)
        .key("pk", aws_sdk_dynamodb::types::AttributeValue::S(target_key("service/fleet-b/svc-99")))
        .consistent_read(true)
        .send()
        .await
        .unwrap();
    assert_eq!(item.item.unwrap()["version"].as_n().unwrap(), "1");
}
