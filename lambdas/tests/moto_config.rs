//! The controller's configuration from SSM Parameter Store (moto): every
//! parameter under the path is one document, merged; an invalid one fails
//! the cold start naming the parameter and the field.

mod support;

use autopilot_lambdas::edge::load_config;
use autopilot_lambdas::settings::ConfigSource;
use aws_sdk_ssm::types::ParameterType;
use support::Moto;

const TARGETS: &str =
    r#"{"ScalableTargets": [{"ResourceId": "service/prod/api", "MinCapacity": 2, "MaxCapacity": 20}]}"#;
const POLICIES: &str = "ScalingPolicies:\n  - PolicyName: cpu60\n    ResourceId: service/prod/api\n    PolicyType: TargetTrackingScaling\n    TargetTrackingScalingPolicyConfiguration:\n      TargetValue: 60\n      PredefinedMetricSpecification: {PredefinedMetricType: ECSServiceAverageCPUUtilization}\n";

async fn put(sdk: &aws_config::SdkConfig, name: &str, value: &str) {
    aws_sdk_ssm::Client::new(sdk)
        .put_parameter()
        .name(name)
        .value(value)
        .r#type(ParameterType::String)
        .overwrite(true)
        .send()
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documents_under_the_parameter_path_are_merged_and_validated() {
    let moto = Moto::start();
    let sdk = support::sdk(&moto).await;
    put(&sdk, "/ecs-autopilot/prod/targets", TARGETS).await;
    put(&sdk, "/ecs-autopilot/prod/policies", POLICIES).await;
    put(&sdk, "/ecs-autopilot/other/targets", "not: [valid").await;
    let source = ConfigSource::ParameterPath("/ecs-autopilot/prod".into());
    let config = load_config(&source, &sdk).await.unwrap();
    let target = &config.targets["service/prod/api"];
    assert_eq!((target.min_capacity, target.max_capacity, target.target_tracking.len()), (2, 20, 1));

    put(&sdk, "/ecs-autopilot/prod/targets", &TARGETS.replace("\"MinCapacity\": 2", "\"MinCapacity\": 30")).await;
    let err = load_config(&source, &sdk).await.unwrap_err().to_string();
    assert!(
        err.contains("/ecs-autopilot/prod/targets: ScalableTargets[0].MinCapacity: 30 is greater than MaxCapacity 20"),
        "{err}"
    );
    let empty = load_config(&ConfigSource::ParameterPath("/nothing/here".into()), &sdk).await.unwrap_err();
    assert_eq!(empty.to_string(), "configuration /nothing/here: no parameters under this path");
}
