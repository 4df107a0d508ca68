//! The capacity function's adapters against moto: the cluster snapshot read
//! through ECS and Auto Scaling (capacity provider, group, container
//! instances, services, task definitions) and a capacity action applied.

mod support;

use autopilot_lambdas::capacity::AwsCapacity;
use autopilot_lambdas::dynamodb::DynamoState;
use autopilot_lambdas::eventbridge::Publisher;
use aws_sdk_ecs::types::{AutoScalingGroupProvider, ManagedScaling, ManagedScalingStatus};
use ecs_autopilot::capacity::{CapacityAction, CapacityOptions};
use ecs_autopilot::config::EvaluationMode;
use ecs_autopilot::handler::capacity::handle_capacity_event;
use ecs_autopilot::handler::Settings;
use ecs_autopilot::ports::CapacityPort;
use serde_json::json;
use support::Moto;

async fn world(sdk: &aws_config::SdkConfig) -> Vec<String> {
    let asg = aws_sdk_autoscaling::Client::new(sdk);
    asg.create_launch_configuration()
        .launch_configuration_name("ecs")
        .image_id("ami-12c6146b")
        .instance_type("t2.medium")
        .send()
        .await
        .unwrap();
    asg.create_auto_scaling_group()
        .auto_scaling_group_name("prod-asg")
        .launch_configuration_name("ecs")
        .min_size(0)
        .max_size(4)
        .desired_capacity(2)
        .availability_zones("us-east-1a")
        .send()
        .await
        .unwrap();
    let group = asg.describe_auto_scaling_groups().auto_scaling_group_names("prod-asg").send().await.unwrap();
    let group = &group.auto_scaling_groups()[0];
    let arn = group.auto_scaling_group_arn().unwrap().to_owned();
    let instance_ids: Vec<String> = group.instances().iter().map(|i| i.instance_id().unwrap().to_owned()).collect();
    let ecs = aws_sdk_ecs::Client::new(sdk);
    ecs.create_cluster().cluster_name("prod").send().await.unwrap();
    ecs.create_capacity_provider()
        .name("prod-ec2")
        .auto_scaling_group_provider(
            AutoScalingGroupProvider::builder()
                .auto_scaling_group_arn(&arn)
                .managed_scaling(
                    // No warm-up: the instances registered a moment ago may
                    // be scaled in at once.
                    ManagedScaling::builder()
                        .status(ManagedScalingStatus::Enabled)
                        .target_capacity(100)
                        .instance_warmup_period(0)
                        .build(),
                )
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    for id in &instance_ids {
        let document = json!({"instanceId": id, "availabilityZone": "us-east-1a", "region": "us-east-1"});
        ecs.register_container_instance()
            .cluster("prod")
            .instance_identity_document(document.to_string())
            .send()
            .await
            .unwrap();
    }
    support::create_state_table(sdk, "state").await;
    instance_ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn capacity_reads_the_cluster_from_moto_and_drains_an_empty_instance() {
    let moto = Moto::start();
    let sdk = support::sdk(&moto).await;
    let instance_ids = world(&sdk).await;
    let capacity = AwsCapacity::new(
        aws_sdk_ecs::Client::new(&sdk),
        aws_sdk_autoscaling::Client::new(&sdk),
        "prod",
        json!({"t2.medium": {"cpu": 2048, "memory": 3943}}),
    );
    let cluster = capacity.cluster("prod-ec2").await.unwrap();
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
