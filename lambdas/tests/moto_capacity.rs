//! The capacity function's adapters against moto: the cluster snapshot read
//! through ECS and Auto Scaling (capacity provider, group, container
//! instances, services, task definitions) and a capacity action applied;
//! and one path checked against the wire: the same capacity invocations
//! through the in-memory cluster the replay runs on and through the
//! adapters against moto give equal decision records and stored memory.

mod support;

use autopilot_lambdas::capacity::AwsCapacity;
use autopilot_lambdas::dynamodb::DynamoState;
use autopilot_lambdas::eventbridge::Publisher;
use ecs_autopilot::capacity::{CapacityAction, CapacityOptions};
use ecs_autopilot::config::EvaluationMode;
use ecs_autopilot::handler::capacity::handle_capacity_event;
use ecs_autopilot::handler::Settings;
use ecs_autopilot::ports::memory::{InMemoryState, RecordingDecisions};
use ecs_autopilot::ports::{CapacityPort, PortError, StatePort};
use ecs_autopilot::replay::cluster::RecordedCluster;
use serde_json::json;
use std::sync::Mutex;
use support::Moto;

async fn world(sdk: &aws_config::SdkConfig) -> Vec<String> {
    aws_sdk_ecs::Client::new(sdk).create_cluster().cluster_name("prod").send().await.unwrap();
    // No warm-up: the instances registered a moment ago may be scaled in at once.
    let instance_ids = support::asg_capacity_provider(sdk, "prod", ("prod-asg", "prod-ec2"), (2, 4), Some(0)).await;
    support::create_state_table(sdk, "state").await;
    instance_ids
}

/// The capacity function's adapter on the moto cluster `prod`.
fn adapter(sdk: &aws_config::SdkConfig) -> AwsCapacity {
    AwsCapacity::new(
        aws_sdk_ecs::Client::new(sdk),
        aws_sdk_autoscaling::Client::new(sdk),
        "prod",
        json!({"t2.medium": {"cpu": 2048, "memory": 3943}}),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn capacity_reads_the_cluster_from_moto_and_drains_an_empty_instance() {
    let moto = Moto::start();
    let sdk = support::sdk(&moto).await;
    let instance_ids = world(&sdk).await;
    let capacity = adapter(&sdk);
    let cluster = capacity.cluster("prod-ec2").await.unwrap().expect("an Auto Scaling group provider");
    assert_eq!(cluster.asg.name, "prod-asg");
    assert_eq!((cluster.asg.min, cluster.asg.max, cluster.asg.desired), (0, 4, 2));
    let mut seen: Vec<String> = cluster.instances.iter().filter_map(|i| i.ec2_instance_id.clone()).collect();
    seen.sort();
    let mut expected = instance_ids.clone();
    expected.sort();
    assert_eq!(seen, expected, "both container instances, matched to the group's EC2 instances");
    assert!(cluster.instances.iter().all(|i| i.in_asg && i.status == "ACTIVE"));

    let state = DynamoState::new(aws_sdk_dynamodb::Client::new(&sdk), "state");
    let options = CapacityOptions { mode: EvaluationMode::Fast, ..CapacityOptions::default() };
    let tick: serde_json::Value =
        serde_json::from_str(include_str!("../../tests/fixtures/events/scheduled-event.json")).unwrap();
    let report = handle_capacity_event(
        jiff::Timestamp::now(),
        &["prod-ec2".to_owned()],
        &options,
        Settings::default(),
        (&capacity, &state, &Publisher::LogOnly),
        &tick,
    )
    .await
    .unwrap();
    let decision = &report.decisions[0];
    assert_eq!((decision.m, decision.n), (0, 2), "{decision:?}");
    let drained: Vec<&CapacityAction> =
        decision.actions.iter().filter(|a| matches!(a, CapacityAction::Drain { .. })).collect();
    assert_eq!(drained.len(), 1, "one empty instance is drained first (one is kept): {decision:?}");
    let ecs = aws_sdk_ecs::Client::new(&sdk);
    let arns = ecs.list_container_instances().cluster("prod").send().await.unwrap();
    let described = ecs
        .describe_container_instances()
        .cluster("prod")
        .set_container_instances(Some(arns.container_instance_arns().to_vec()))
        .send()
        .await
        .unwrap();
    let mut statuses: Vec<&str> = described.container_instances().iter().filter_map(|c| c.status()).collect();
    statuses.sort_unstable();
    assert_eq!(statuses, ["ACTIVE", "DRAINING"], "UpdateContainerInstancesState reached moto");
}

/// The capacity port the recorded replay runs on: a snapshot brought
/// forward by the function's own actions, as Auto Scaling and ECS take them.
struct Folded(Mutex<RecordedCluster>);

impl CapacityPort for Folded {
    async fn cluster(&self, _capacity_provider: &str) -> Result<Option<ecs_autopilot::capacity::Cluster>, PortError> {
        Ok(Some(self.0.lock().unwrap().cluster.clone()))
    }
    async fn apply(
        &self,
        _cluster: &ecs_autopilot::capacity::Cluster,
        action: &CapacityAction,
    ) -> Result<(), PortError> {
        self.0.lock().unwrap().apply(action);
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_memory_cluster_and_aws_adapters_against_moto_plan_alike() {
    let moto = Moto::start();
    let sdk = support::sdk(&moto).await;
    world(&sdk).await;
    let capacity = adapter(&sdk);
    // The in-memory side starts from the same cluster, as read from moto.
    let folded = Folded(Mutex::new(RecordedCluster::new(capacity.cluster("prod-ec2").await.unwrap().unwrap())));
    let options = CapacityOptions { mode: EvaluationMode::Fast, ..CapacityOptions::default() };
    let t0 = jiff::Timestamp::now();
    let tick = |k: i64| {
        let mut e: serde_json::Value =
            serde_json::from_str(include_str!("../../tests/fixtures/events/scheduled-event.json")).unwrap();
        e["id"] = format!("tick-{k}").into();
        e
    };
    let providers = ["prod-ec2".to_owned()];
    let (memory_state, memory_records) = (InMemoryState::default(), RecordingDecisions::default());
    let dynamo = DynamoState::new(aws_sdk_dynamodb::Client::new(&sdk), "state");
    let wire_records = RecordingDecisions::default();
    let mut reports = (Vec::new(), Vec::new());
    // Three ticks a minute apart: drain an empty instance, then terminate
    // it with a decrement of the group, then nothing left to do.
    for k in 0..3 {
        let now = t0.checked_add(jiff::SignedDuration::from_secs(60 * k)).unwrap();
        let ports = (&folded, &memory_state, &memory_records);
        reports.0.push(
            handle_capacity_event(now, &providers, &options, Settings::default(), ports, &tick(k)).await.unwrap(),
        );
        let ports = (&capacity, &dynamo, &wire_records);
        reports.1.push(
            handle_capacity_event(now, &providers, &options, Settings::default(), ports, &tick(k)).await.unwrap(),
        );
    }
    let json = |r: &[ecs_autopilot::handler::capacity::CapacityReport]| serde_json::to_value(r).unwrap();
    assert_eq!(json(&reports.0), json(&reports.1), "the same reports, decision records included");
    let actions: Vec<&CapacityAction> = reports.0.iter().flat_map(|r| &r.decisions).flat_map(|d| &d.actions).collect();
    assert!(actions.iter().any(|a| matches!(a, CapacityAction::Drain { .. })), "{actions:?}");
    assert_eq!(*memory_records.published.lock().unwrap(), *wire_records.published.lock().unwrap());
    let key = "capacity#prod-ec2";
    let stored = dynamo.load(key).await.unwrap().unwrap();
    let kept = memory_state.get(key).unwrap();
    assert_eq!((stored.body, stored.version), (kept.body, kept.version), "the same stored memory");
    // And the group moto holds is the one the fold arrived at. (moto keeps
    // a terminated instance's container instance registered, outside the
    // group; in AWS its agent stops and ECS deregisters it.)
    let after = capacity.cluster("prod-ec2").await.unwrap().unwrap();
    let folded = folded.0.lock().unwrap().cluster.clone();
    let in_group = |c: &ecs_autopilot::capacity::Cluster| c.instances.iter().filter(|i| i.in_asg).count();
    assert_eq!((after.asg.desired, in_group(&after)), (folded.asg.desired, in_group(&folded)));
    assert_eq!(folded.asg.desired, 1, "one instance drained and terminated with a decrement");
}

/// docs/capacity.md "Fargate-only and mixed clusters": a Fargate provider
/// is planned for nothing, said once (remembered in the state table), with
/// no error and no decision.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fargate_provider_is_said_once_and_never_an_error() {
    let moto = Moto::start();
    let sdk = support::sdk(&moto).await;
    world(&sdk).await;
    let capacity = adapter(&sdk);
    assert_eq!(capacity.cluster("FARGATE").await.unwrap(), None);
    let state = DynamoState::new(aws_sdk_dynamodb::Client::new(&sdk), "state");
    let options = CapacityOptions { mode: EvaluationMode::Fast, ..CapacityOptions::default() };
    let providers = ["FARGATE".to_owned(), "FARGATE_SPOT".to_owned()];
    let mut said = Vec::new();
    for k in 0..3 {
        let mut tick: serde_json::Value =
            serde_json::from_str(include_str!("../../tests/fixtures/events/scheduled-event.json")).unwrap();
        tick["id"] = format!("tick-{k}").into();
        let report = handle_capacity_event(
            jiff::Timestamp::now(),
            &providers,
            &options,
            Settings::default(),
            (&capacity, &state, &Publisher::LogOnly),
            &tick,
        )
        .await
        .unwrap();
        assert!(report.decisions.is_empty(), "{report:?}");
        said.push(report.ignored.iter().map(|i| i.kind.clone()).collect::<Vec<_>>());
    }
    assert_eq!(
        said,
        [vec!["no auto scaling group".to_owned(); 2], vec![], vec![]],
        "each provider said once, then silence"
    );
}
