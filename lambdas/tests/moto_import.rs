//! `autopilot-aws import` against moto (issue 18): a cluster with two
//! services — target tracking, step and scheduled actions — and two
//! capacity providers is imported; the files validate, and replaying the
//! shipped recording under the imported configuration decides exactly as
//! under the configuration the account was built from (`autopilot plan`
//! finds no difference). The binary's report and files are checked too.

mod support;

use autopilot_lambdas::import::{self, Clients, Selection};
use aws_sdk_applicationautoscaling::types::{
    PolicyType, PredefinedMetricSpecification, ScalableDimension, ScalableTargetAction, ServiceNamespace,
    StepAdjustment, StepScalingPolicyConfiguration, TargetTrackingScalingPolicyConfiguration,
};
use aws_sdk_ecs::types::ContainerDefinition;
use ecs_autopilot::config;
use ecs_autopilot::plan::{plan, History};
use ecs_autopilot::replay::{metrics_from_get_metric_data, InitialState, Line, MetricMapping};
use ecs_autopilot::sim::stack::Stack;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::Path;
use support::Moto;

fn file(path: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(path)).unwrap()
}

/// The shipped example's web service, plus `api` with a memory target.
fn original() -> Value {
    let mut doc: Value = serde_json::from_str(&file("examples/config/describe-outputs.json")).unwrap();
    doc["ScalableTargets"].as_array_mut().unwrap().push(json!({
        "ServiceNamespace": "ecs", "ResourceId": "service/prod-cluster/api",
        "ScalableDimension": "ecs:service:DesiredCount", "MinCapacity": 1, "MaxCapacity": 10
    }));
    doc["ScalingPolicies"].as_array_mut().unwrap().push(json!({
        "PolicyName": "memory60", "ServiceNamespace": "ecs", "ResourceId": "service/prod-cluster/api",
        "ScalableDimension": "ecs:service:DesiredCount", "PolicyType": "TargetTrackingScaling",
        "TargetTrackingScalingPolicyConfiguration": {"TargetValue": 60.0,
            "PredefinedMetricSpecification": {"PredefinedMetricType": "ECSServiceAverageMemoryUtilization"},
            "ScaleInCooldown": 600}
    }));
    doc
}

async fn capacity(sdk: &aws_config::SdkConfig) {
    let ecs = aws_sdk_ecs::Client::new(sdk);
    let mut providers = Vec::new();
    for (group, provider, desired) in [("prod-asg", "prod-ec2", 2), ("prod-spot-asg", "prod-spot", 1)] {
        support::asg_capacity_provider(sdk, "prod-cluster", (group, provider), (desired, 6), None).await;
        providers.push(provider.to_owned());
    }
    ecs.put_cluster_capacity_providers()
        .cluster("prod-cluster")
        .set_capacity_providers(Some(providers))
        .set_default_capacity_provider_strategy(Some(vec![]))
        .send()
        .await
        .unwrap();
}

/// The account: cluster `prod-cluster` with services web and api, their
/// Application Auto Scaling setup as `original()` says, the step policy's
/// alarm, two capacity providers.
async fn account(sdk: &aws_config::SdkConfig) -> String {
    let ecs = aws_sdk_ecs::Client::new(sdk);
    ecs.create_cluster().cluster_name("prod-cluster").send().await.unwrap();
    for service in ["web", "api"] {
        ecs.register_task_definition()
            .family(service)
            .container_definitions(
                ContainerDefinition::builder().name("app").image("nginx").cpu(256).memory(512).build(),
            )
            .send()
            .await
            .unwrap();
        ecs.create_service()
            .cluster("prod-cluster")
            .service_name(service)
            .task_definition(service)
            .desired_count(2)
            .send()
            .await
            .unwrap();
    }
    capacity(sdk).await;
    let aas = aws_sdk_applicationautoscaling::Client::new(sdk);
    let doc = original();
    let dimension = ScalableDimension::EcsServiceDesiredCount;
    for t in doc["ScalableTargets"].as_array().unwrap() {
        aas.register_scalable_target()
            .service_namespace(ServiceNamespace::Ecs)
            .resource_id(t["ResourceId"].as_str().unwrap())
            .scalable_dimension(dimension.clone())
            .min_capacity(t["MinCapacity"].as_i64().unwrap() as i32)
            .max_capacity(t["MaxCapacity"].as_i64().unwrap() as i32)
            .send()
            .await
            .unwrap();
    }
    let mut step_arn = String::new();
    for p in doc["ScalingPolicies"].as_array().unwrap() {
        let put = aas
            .put_scaling_policy()
            .policy_name(p["PolicyName"].as_str().unwrap())
            .service_namespace(ServiceNamespace::Ecs)
            .resource_id(p["ResourceId"].as_str().unwrap())
            .scalable_dimension(dimension.clone());
        let put = if let Some(c) = p.get("TargetTrackingScalingPolicyConfiguration") {
            let mut b = TargetTrackingScalingPolicyConfiguration::builder()
                .target_value(c["TargetValue"].as_f64().unwrap())
                .predefined_metric_specification(
                    PredefinedMetricSpecification::builder()
                        .predefined_metric_type(
                            c["PredefinedMetricSpecification"]["PredefinedMetricType"].as_str().unwrap().into(),
                        )
                        .build()
                        .unwrap(),
                );
            if let Some(v) = c["ScaleOutCooldown"].as_i64() {
                b = b.scale_out_cooldown(v as i32);
            }
            if let Some(v) = c["ScaleInCooldown"].as_i64() {
                b = b.scale_in_cooldown(v as i32);
            }
            put.policy_type(PolicyType::TargetTrackingScaling)
                .target_tracking_scaling_policy_configuration(b.build().unwrap())
        } else {
            let c = &p["StepScalingPolicyConfiguration"];
            let mut b = StepScalingPolicyConfiguration::builder()
                .adjustment_type(c["AdjustmentType"].as_str().unwrap().into())
                .min_adjustment_magnitude(c["MinAdjustmentMagnitude"].as_i64().unwrap() as i32)
                .cooldown(c["Cooldown"].as_i64().unwrap() as i32)
                .metric_aggregation_type(c["MetricAggregationType"].as_str().unwrap().into());
            for s in c["StepAdjustments"].as_array().unwrap() {
                let mut step =
                    StepAdjustment::builder().scaling_adjustment(s["ScalingAdjustment"].as_i64().unwrap() as i32);
                if let Some(v) = s["MetricIntervalLowerBound"].as_f64() {
                    step = step.metric_interval_lower_bound(v);
                }
                if let Some(v) = s["MetricIntervalUpperBound"].as_f64() {
                    step = step.metric_interval_upper_bound(v);
                }
                b = b.step_adjustments(step.build().unwrap());
            }
            put.policy_type(PolicyType::StepScaling).step_scaling_policy_configuration(b.build())
        };
        let out = put.send().await.unwrap();
        if p["PolicyType"] == "StepScaling" {
            step_arn = out.policy_arn().to_owned();
        }
    }
    for a in doc["ScheduledActions"].as_array().unwrap() {
        let target = &a["ScalableTargetAction"];
        aas.put_scheduled_action()
            .service_namespace(ServiceNamespace::Ecs)
            .scheduled_action_name(a["ScheduledActionName"].as_str().unwrap())
            .resource_id(a["ResourceId"].as_str().unwrap())
            .scalable_dimension(dimension.clone())
            .schedule(a["Schedule"].as_str().unwrap())
            .timezone(a["Timezone"].as_str().unwrap())
            .scalable_target_action(
                ScalableTargetAction::builder()
                    .min_capacity(target["MinCapacity"].as_i64().unwrap() as i32)
                    .max_capacity(target["MaxCapacity"].as_i64().unwrap() as i32)
                    .build(),
            )
            .send()
            .await
            .unwrap();
    }
    step_arn
}

/// moto does not speak CloudWatch's current protocol (rpcv2-cbor), so the
/// alarms come from aws-smithy-mocks: the example's step alarm invoking
/// `step_arn`, and a stray alarm no policy names.
fn cloudwatch(step_arn: Option<String>) -> aws_sdk_cloudwatch::Client {
    use aws_sdk_cloudwatch::operation::describe_alarms::DescribeAlarmsOutput;
    use aws_sdk_cloudwatch::types::{ComparisonOperator, Dimension, MetricAlarm, Statistic};
    let rule = aws_smithy_mocks::mock!(aws_sdk_cloudwatch::Client::describe_alarms).then_output(move || {
        let doc = original();
        let alarm = &doc["MetricAlarms"][0];
        let mut alarms = vec![MetricAlarm::builder()
            .alarm_name("unrelated")
            .metric_name("CPUUtilization")
            .namespace("AWS/EC2")
            .statistic(Statistic::Average)
            .period(60)
            .evaluation_periods(1)
            .threshold(90.0)
            .comparison_operator(ComparisonOperator::GreaterThanThreshold)
            .build()];
        if let Some(arn) = &step_arn {
            alarms.push(
                MetricAlarm::builder()
                    .alarm_name(alarm["AlarmName"].as_str().unwrap())
                    .alarm_actions(arn)
                    .metric_name(alarm["MetricName"].as_str().unwrap())
                    .namespace(alarm["Namespace"].as_str().unwrap())
                    .statistic(Statistic::Average)
                    .dimensions(Dimension::builder().name("QueueName").value("web-jobs").build())
                    .period(60)
                    .evaluation_periods(2)
                    .datapoints_to_alarm(2)
                    .threshold(200.0)
                    .comparison_operator(ComparisonOperator::GreaterThanOrEqualToThreshold)
                    .treat_missing_data("missing")
                    .build(),
            );
        }
        DescribeAlarmsOutput::builder().set_metric_alarms(Some(alarms)).build()
    });
    aws_smithy_mocks::mock_client!(aws_sdk_cloudwatch, aws_smithy_mocks::RuleMode::MatchAny, [&rule])
}

fn clients(sdk: &aws_config::SdkConfig, cloudwatch: aws_sdk_cloudwatch::Client) -> Clients {
    Clients {
        application_autoscaling: aws_sdk_applicationautoscaling::Client::new(sdk),
        cloudwatch,
        ecs: aws_sdk_ecs::Client::new(sdk),
        autoscaling: aws_sdk_autoscaling::Client::new(sdk),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_imported_account_validates_and_replays_as_its_configuration() {
    let moto = Moto::start();
    let sdk = support::sdk(&moto).await;
    let step_arn = account(&sdk).await;
    let imported = import::import(&clients(&sdk, cloudwatch(Some(step_arn))), &Selection::default()).await.unwrap();
    let files = import::files(&imported).unwrap();
    let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["config.json", "capacity-prod-cluster.json"], "{:?}", imported.not_carried);

    // What `autopilot validate` reads: both targets, their three policies,
    // two scheduled actions, the step policy's alarm and nothing else.
    let cfg = config::load_str(&files[0].1).unwrap();
    assert_eq!(cfg.targets.len(), 2);
    let web = &cfg.targets["service/prod-cluster/web"];
    assert_eq!((web.min_capacity, web.max_capacity), (2, 40));
    assert_eq!((web.target_tracking.len(), web.step.len(), web.scheduled.len()), (1, 1, 2));
    assert_eq!(web.step[0].alarm.name, "web-queue-depth-high");
    assert_eq!(imported.config["MetricAlarms"].as_array().unwrap().len(), 1, "the stray alarm is not imported");
    let api = &cfg.targets["service/prod-cluster/api"];
    assert_eq!(api.target_tracking[0].target_value, 60.0);
    assert_eq!(api.target_tracking[0].scale_in_cooldown_seconds, 600);

    // The capacity snapshot holds both providers and their groups.
    let snapshot: Value = serde_json::from_str(&files[1].1).unwrap();
    let mut providers: Vec<&str> =
        snapshot["capacityProviders"].as_array().unwrap().iter().filter_map(|p| p["name"].as_str()).collect();
    providers.sort_unstable();
    assert_eq!(providers, ["prod-ec2", "prod-spot"]);
    assert_eq!(snapshot["AutoScalingGroups"].as_array().unwrap().len(), 2);
    // instanceTypes learnt from the registered container instances.
    let learnt = &snapshot["instanceTypes"]["t2.medium"];
    assert!(learnt["cpu"].as_i64().unwrap_or(0) > 0 && learnt["memory"].as_i64().unwrap_or(0) > 0, "{learnt}");

    // The report names what was found.
    let found = imported.found.join("\n");
    for needle in [
        "scalable target service/prod-cluster/web: MinCapacity 2, MaxCapacity 40",
        "TargetTrackingScaling policy cpu70 of service/prod-cluster/web",
        "StepScaling policy queue-depth-step of service/prod-cluster/web",
        "scheduled action business-hours-start of service/prod-cluster/web: cron(0 8 ? * MON-FRI *) (America/New_York)",
        "CloudWatch alarm web-queue-depth-high",
        "cluster prod-cluster: capacity providers",
    ] {
        assert!(found.contains(needle), "{needle:?} not in:\n{found}");
    }

    // The imported configuration decides as the original on the shipped
    // recording, under AWS's behaviour: no difference at all.
    let original = config::load_str(&original().to_string()).unwrap();
    let stack = Stack::from_template(&file("infra/template.yaml"), &BTreeMap::new()).unwrap();
    let initial: BTreeMap<String, InitialState> =
        serde_json::from_str(&file("examples/recorded/initial.json")).unwrap();
    let mapping: BTreeMap<String, MetricMapping> =
        serde_json::from_value(ecs_autopilot::document::parse(&file("examples/recorded/metric-map.yaml")).unwrap())
            .unwrap();
    let metrics =
        metrics_from_get_metric_data(&serde_json::from_str(&file("examples/recorded/metrics.json")).unwrap(), &mapping)
            .unwrap();
    let events = file("examples/recorded/events.jsonl");
    let lines: Vec<Line<'_>> = events.lines().enumerate().map(|(i, t)| Line { number: i + 1, text: t }).collect();
    let p =
        plan(&original, &cfg, History { stack: &stack, initial: &initial, metrics: &metrics, lines: &lines }).unwrap();
    assert!(!p.differs(), "{:?}", p.services.iter().map(|s| (&s.service, &s.differences)).collect::<Vec<_>>());
    let web_plan = p.services.iter().find(|s| s.service == "service/prod-cluster/web").unwrap();
    assert_eq!(web_plan.current, web_plan.proposed);
    assert!(web_plan.current.as_ref().unwrap().actions >= 4, "the recording scales web: {:?}", web_plan.current);
    assert!(!web_plan.configuration_changed, "imported = original, field by field");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_selects_services_and_says_what_it_cannot_carry() {
    let moto = Moto::start();
    let sdk = support::sdk(&moto).await;
    account(&sdk).await;
    // The binary writes the files and prints the report (api has no step
    // policy yet, so it reads no alarm: moto serves everything it calls).
    let dir = std::env::temp_dir().join(format!("autopilot-import-{}", std::process::id()));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_autopilot-aws"))
        .args(["--region", "us-east-1", "import", "--out", dir.to_str().unwrap(), "--service", "api"])
        .env("AWS_ENDPOINT_URL", &moto.url)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains(&format!("wrote {}", dir.join("config.json").display())), "{stdout}");
    let written = std::fs::read_to_string(dir.join("config.json")).unwrap();
    assert_eq!(config::load_str(&written).unwrap().targets.keys().collect::<Vec<_>>(), ["service/prod-cluster/api"]);
    assert!(
        stdout.contains("found: scalable target service/prod-cluster/api: MinCapacity 1, MaxCapacity 10"),
        "{stdout}"
    );
    assert!(dir.join("capacity-prod-cluster.json").exists());

    // A step policy no alarm invokes is left out with a line.
    aws_sdk_applicationautoscaling::Client::new(&sdk)
        .put_scaling_policy()
        .policy_name("orphan-step")
        .service_namespace(ServiceNamespace::Ecs)
        .resource_id("service/prod-cluster/api")
        .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
        .policy_type(PolicyType::StepScaling)
        .step_scaling_policy_configuration(
            StepScalingPolicyConfiguration::builder()
                .adjustment_type("ChangeInCapacity".into())
                .step_adjustments(
                    StepAdjustment::builder().metric_interval_lower_bound(0.0).scaling_adjustment(1).build().unwrap(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    let selection = Selection { clusters: vec![], services: vec!["api".into()] };
    let imported = import::import(&clients(&sdk, cloudwatch(None)), &selection).await.unwrap();
    let files = import::files(&imported).unwrap();
    let cfg = config::load_str(&files[0].1).unwrap();
    assert_eq!(cfg.targets.keys().collect::<Vec<_>>(), ["service/prod-cluster/api"]);
    assert!(
        imported
            .not_carried
            .iter()
            .any(|l| l.contains("step policy orphan-step of service/prod-cluster/api: no CloudWatch alarm invokes it")),
        "{:?}",
        imported.not_carried
    );
}
