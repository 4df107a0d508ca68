//! Configuration loading: AWS describe output as is, YAML and JSON, merged
//! documents, and one table case per validation rule (field path + reason).

use ecs_autopilot::config::{self, AdjustmentType, EvaluationMode, MetricId};

fn example(name: &str) -> String {
    std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/config").join(name))
        .unwrap()
}

#[test]
fn describe_outputs_load_unchanged_with_defaults_applied() {
    let cfg = config::load_str(&example("describe-outputs.json")).unwrap();
    let t = &cfg.targets["service/prod-cluster/web"];
    assert_eq!((t.min_capacity, t.max_capacity), (2, 40));
    assert_eq!(t.extensions.mode, EvaluationMode::Aws);
    let tt = &t.target_tracking[0];
    assert_eq!((tt.target_value, tt.scale_out_cooldown_seconds, tt.scale_in_cooldown_seconds), (70.0, 60, 300));
    let step = &t.step[0];
    assert_eq!(
        (step.adjustment_type, step.min_adjustment_magnitude, step.cooldown_seconds),
        (AdjustmentType::PercentChangeInCapacity, Some(2), 120)
    );
    assert_eq!(step.alarm.name, "web-queue-depth-high");
    assert_eq!(
        step.alarm.metric,
        MetricId("AWS/SQS/ApproximateNumberOfMessagesVisible{QueueName=web-jobs}:Average".into())
    );
    assert_eq!(t.scheduled.len(), 2);
    assert_eq!(t.metric_ids().len(), 2);
}

#[test]
fn yaml_with_extensions_loads() {
    let cfg = config::load_str(&example("fast-with-extensions.yaml")).unwrap();
    let t = &cfg.targets["service/prod-cluster/api"];
    assert_eq!(t.extensions.mode, EvaluationMode::Fast);
    assert_eq!(t.extensions.tolerance_in(), 0.1);
    assert!(t.target_tracking[0].high_resolution());
    assert_eq!(t.extensions.alarm_shape(true).period_seconds, 20);
}

#[test]
fn documents_merge_and_default_cooldowns_are_300() {
    let targets = r#"{"ScalableTargets": [{"ResourceId": "service/c/s", "MinCapacity": 1, "MaxCapacity": 5}]}"#;
    let policies = "ScalingPolicies:\n  - {PolicyName: p, ResourceId: service/c/s, PolicyType: TargetTrackingScaling, TargetTrackingScalingPolicyConfiguration: {TargetValue: 50, PredefinedMetricSpecification: {PredefinedMetricType: ECSServiceAverageMemoryUtilization}}}\n";
    let cfg = config::load_documents(&[("targets.json", targets), ("policies.yaml", policies)]).unwrap();
    let p = &cfg.targets["service/c/s"].target_tracking[0];
    assert_eq!((p.scale_out_cooldown_seconds, p.scale_in_cooldown_seconds, p.disable_scale_in), (300, 300, false));
}

#[test]
fn predictive_policies_load_with_a_warning() {
    let text = "ScalableTargets: [{ResourceId: service/c/s, MinCapacity: 1, MaxCapacity: 5}]\nScalingPolicies:\n  - {PolicyName: p, ResourceId: service/c/s, PolicyType: PredictiveScaling, PredictiveScalingPolicyConfiguration: {Mode: ForecastOnly}}\n";
    let cfg = config::load_str(text).unwrap();
    assert_eq!(cfg.warnings.len(), 1);
    assert!(cfg.warnings[0].to_string().contains("not evaluated"));
}

const TARGET: &str = "ScalableTargets: [{ResourceId: service/c/s, MinCapacity: 1, MaxCapacity: 10}]\n";

fn tt(config: &str) -> String {
    format!("{TARGET}ScalingPolicies:\n  - PolicyName: p\n    ResourceId: service/c/s\n    PolicyType: TargetTrackingScaling\n    TargetTrackingScalingPolicyConfiguration: {config}\n")
}

fn step(steps: &str, extra: &str) -> String {
    format!("{TARGET}ScalingPolicies:\n  - PolicyName: s\n    ResourceId: service/c/s\n    PolicyType: StepScaling\n    Alarms: [{{AlarmName: a}}]\n    StepScalingPolicyConfiguration: {{AdjustmentType: ChangeInCapacity, StepAdjustments: {steps}{extra}}}\nMetricAlarms:\n  - {{AlarmName: a, MetricName: M, Namespace: N, Statistic: Average, Period: 60, EvaluationPeriods: 1, Threshold: 1, ComparisonOperator: GreaterThanThreshold}}\n")
}

fn scheduled(action: &str) -> String {
    format!("{TARGET}ScheduledActions:\n  - {action}\n")
}

#[test]
fn every_validation_rule_names_the_field_and_the_reason() {
    let cases: Vec<(&str, String, &str, &str)> = vec![
        ("aws-behaviour §2.2 Min ≤ Max", "ScalableTargets: [{ResourceId: service/c/s, MinCapacity: 6, MaxCapacity: 5}]".into(), "ScalableTargets[0].MinCapacity", "greater than MaxCapacity"),
        ("aws-behaviour §2.2 capacities are whole and ≥ 0", "ScalableTargets: [{ResourceId: service/c/s, MinCapacity: -1, MaxCapacity: 5}]".into(), "ScalableTargets[0].MinCapacity", "whole number"),
        ("aws-behaviour §2.1 resource id format", "ScalableTargets: [{ResourceId: cluster/x, MinCapacity: 1, MaxCapacity: 5}]".into(), "ScalableTargets[0].ResourceId", "service/<cluster-name>/<service-name>"),
        ("aws-behaviour §2.1 ECS only", "ScalableTargets: [{ResourceId: service/c/s, ServiceNamespace: dynamodb, MinCapacity: 1, MaxCapacity: 5}]".into(), "ScalableTargets[0].ServiceNamespace", "ECS services only"),
        ("duplicate target", "ScalableTargets: [{ResourceId: service/c/s, MinCapacity: 1, MaxCapacity: 5}, {ResourceId: service/c/s, MinCapacity: 1, MaxCapacity: 5}]".into(), "ScalableTargets[1].ResourceId", "registered twice"),
        ("unknown field", "ScalableTargets: [{ResourceId: service/c/s, MinCapacity: 1, MaxCapacity: 5, MaxCapcity: 3}]".into(), "ScalableTargets[0].MaxCapcity", "unknown field"),
        ("missing field", "ScalableTargets: [{ResourceId: service/c/s, MinCapacity: 1}]".into(), "ScalableTargets[0].MaxCapacity", "missing field"),
        ("unknown top-level key", "ScalableTarget: []".into(), "ScalableTarget", "unknown top-level key"),
        ("wrong type", "ScalableTargets: {}".into(), "ScalableTargets", "expected a list"),
        ("syntax", "ScalableTargets: [".into(), "", "not valid YAML"),
        ("aws-behaviour §3.1 exactly one metric spec", tt("{TargetValue: 5}"), "ScalingPolicies[0].TargetTrackingScalingPolicyConfiguration", "exactly one of PredefinedMetricSpecification"),
        ("aws-behaviour §3.2 metric type", tt("{TargetValue: 5, PredefinedMetricSpecification: {PredefinedMetricType: EC2SpotFleetRequestAverageCPUUtilization}}"), "PredefinedMetricSpecification.PredefinedMetricType", "not an ECS metric type"),
        ("aws-behaviour §3.2 resource label only for ALB", tt("{TargetValue: 5, PredefinedMetricSpecification: {PredefinedMetricType: ECSServiceAverageCPUUtilization, ResourceLabel: x}}"), "PredefinedMetricSpecification.ResourceLabel", "only allowed with ALBRequestCountPerTarget"),
        ("aws-behaviour §3.2 resource label format", tt("{TargetValue: 5, PredefinedMetricSpecification: {PredefinedMetricType: ALBRequestCountPerTarget, ResourceLabel: app/x}}"), "PredefinedMetricSpecification.ResourceLabel", "app/<load-balancer-name>"),
        ("aws-behaviour §3.6 positive target", tt("{TargetValue: -3, PredefinedMetricSpecification: {PredefinedMetricType: ECSServiceAverageCPUUtilization}}"), "TargetValue", "positive number"),
        ("aws-behaviour §3.1 cooldown ≥ 0", tt("{TargetValue: 5, ScaleInCooldown: -5, PredefinedMetricSpecification: {PredefinedMetricType: ECSServiceAverageCPUUtilization}}"), "ScaleInCooldown", "seconds"),
        ("aws-behaviour §3.3 statistic", tt("{TargetValue: 5, CustomizedMetricSpecification: {MetricName: m, Namespace: n, Statistic: p99}}"), "CustomizedMetricSpecification.Statistic", "not one of Average"),
        ("aws-behaviour §3.3 query id", tt("{TargetValue: 5, CustomizedMetricSpecification: {Metrics: [{Id: Q1, Expression: 'a+b'}]}}"), "Metrics[0].Id", "lowercase letter"),
        ("aws-behaviour §3.3 one ReturnData", tt("{TargetValue: 5, CustomizedMetricSpecification: {Metrics: [{Id: a, Expression: 'b', ReturnData: true}, {Id: c, Expression: 'd', ReturnData: true}]}}"), "CustomizedMetricSpecification.Metrics", "exactly one query must have ReturnData"),
        ("aws-behaviour §4.2 gap", step("[{MetricIntervalLowerBound: 0, MetricIntervalUpperBound: 5, ScalingAdjustment: 1}, {MetricIntervalLowerBound: 6, ScalingAdjustment: 2}]", ""), "StepAdjustments", "gap between 5 and 6"),
        ("aws-behaviour §4.2 overlap", step("[{MetricIntervalLowerBound: 0, MetricIntervalUpperBound: 7, ScalingAdjustment: 1}, {MetricIntervalLowerBound: 6, ScalingAdjustment: 2}]", ""), "StepAdjustments", "overlap"),
        ("aws-behaviour §4.2 two open ends above", step("[{MetricIntervalLowerBound: 0, ScalingAdjustment: 1}, {MetricIntervalLowerBound: 6, ScalingAdjustment: 2}]", ""), "StepAdjustments", "at most one step may have a null MetricIntervalUpperBound"),
        ("aws-behaviour §4.2 both bounds null", step("[{ScalingAdjustment: 1}]", ""), "StepAdjustments[0]", "cannot both be null"),
        ("aws-behaviour §4.2 upper > lower", step("[{MetricIntervalLowerBound: 5, MetricIntervalUpperBound: 5, ScalingAdjustment: 1}]", ""), "StepAdjustments[0].MetricIntervalUpperBound", "greater than the lower bound"),
        ("aws-behaviour §4.2 positive upper needs open upper", step("[{MetricIntervalLowerBound: 0, MetricIntervalUpperBound: 5, ScalingAdjustment: 1}]", ""), "StepAdjustments", "one step must have a null MetricIntervalUpperBound"),
        ("aws-behaviour §4.2 negative lower needs open lower", step("[{MetricIntervalLowerBound: -5, MetricIntervalUpperBound: 0, ScalingAdjustment: -1}]", ""), "StepAdjustments", "one step must have a null MetricIntervalLowerBound"),
        ("aws-behaviour §4.1 magnitude only with percent", step("[{MetricIntervalLowerBound: 0, ScalingAdjustment: 1}]", ", MinAdjustmentMagnitude: 2"), "MinAdjustmentMagnitude", "only valid with AdjustmentType PercentChangeInCapacity"),
        ("aws-behaviour §4.1 aggregation", step("[{MetricIntervalLowerBound: 0, ScalingAdjustment: 1}]", ", MetricAggregationType: Median"), "MetricAggregationType", "not one of Average, Minimum, Maximum"),
        ("aws-behaviour §2.6 at most 20 steps", step(&format!("[{}{{MetricIntervalLowerBound: 21, ScalingAdjustment: 1}}]", (0..21).map(|i| format!("{{MetricIntervalLowerBound: {i}, MetricIntervalUpperBound: {}, ScalingAdjustment: 1}}, ", i + 1)).collect::<String>()), ""), "StepAdjustments", "quota of 20"),
        ("aws-behaviour §4 step policy needs its alarm", format!("{TARGET}ScalingPolicies:\n  - {{PolicyName: s, ResourceId: service/c/s, PolicyType: StepScaling, StepScalingPolicyConfiguration: {{AdjustmentType: ChangeInCapacity, StepAdjustments: [{{MetricIntervalLowerBound: 0, ScalingAdjustment: 1}}]}}}}\n"), "ScalingPolicies[0].Alarms", "no CloudWatch alarm drives"),
        ("aws-behaviour §11.4 alarm period", step("[{MetricIntervalLowerBound: 0, ScalingAdjustment: 1}]", "").replace("Period: 60", "Period: 45"), "MetricAlarms[0].Period", "10, 20, 30 or a multiple of 60"),
        ("aws-behaviour §11.4 datapoints ≤ periods", step("[{MetricIntervalLowerBound: 0, ScalingAdjustment: 1}]", "").replace("EvaluationPeriods: 1", "EvaluationPeriods: 1, DatapointsToAlarm: 3"), "MetricAlarms[0].DatapointsToAlarm", "from 1 to EvaluationPeriods"),
        ("aws-behaviour §3.1 different metrics per target", format!("{TARGET}ScalingPolicies:\n  - {{PolicyName: a, ResourceId: service/c/s, PolicyType: TargetTrackingScaling, TargetTrackingScalingPolicyConfiguration: {{TargetValue: 5, PredefinedMetricSpecification: {{PredefinedMetricType: ECSServiceAverageCPUUtilization}}}}}}\n  - {{PolicyName: b, ResourceId: service/c/s, PolicyType: TargetTrackingScaling, TargetTrackingScalingPolicyConfiguration: {{TargetValue: 9, PredefinedMetricSpecification: {{PredefinedMetricType: ECSServiceAverageCPUUtilization}}}}}}\n"), "ScalingPolicies[1].TargetTrackingScalingPolicyConfiguration", "each must use a different metric"),
        ("policy on unknown target", format!("{TARGET}ScalingPolicies:\n  - {{PolicyName: a, ResourceId: service/c/other, PolicyType: StepScaling}}\n"), "ScalingPolicies[0].ResourceId", "not a registered scalable target"),
        ("policy type", format!("{TARGET}ScalingPolicies:\n  - {{PolicyName: a, ResourceId: service/c/s, PolicyType: Simple}}\n"), "ScalingPolicies[0].PolicyType", "not one of TargetTrackingScaling"),
        ("aws-behaviour §5.2 cron day fields", scheduled("{ScheduledActionName: x, ResourceId: service/c/s, Schedule: 'cron(0 8 * * MON *)', ScalableTargetAction: {MinCapacity: 2}}"), "ScheduledActions[0].Schedule", "exactly one of them must be `?`"),
        ("aws-behaviour §5.1 time zone", scheduled("{ScheduledActionName: x, ResourceId: service/c/s, Schedule: 'cron(0 8 * * ? *)', Timezone: Europe/Atlantis, ScalableTargetAction: {MinCapacity: 2}}"), "ScheduledActions[0].Timezone", "unknown time zone"),
        ("aws-behaviour §5.1 end after start", scheduled("{ScheduledActionName: x, ResourceId: service/c/s, Schedule: 'rate(5 minutes)', StartTime: '2026-02-01T00:00:00Z', EndTime: '2026-01-01T00:00:00Z', ScalableTargetAction: {MinCapacity: 2}}"), "ScheduledActions[0].EndTime", "before start time"),
        ("aws-behaviour §5.1 action needs a bound", scheduled("{ScheduledActionName: x, ResourceId: service/c/s, Schedule: 'rate(5 minutes)', ScalableTargetAction: {}}"), "ScheduledActions[0].ScalableTargetAction", "set MinCapacity, MaxCapacity or both"),
        ("aws-behaviour §5.3 action Min ≤ Max", scheduled("{ScheduledActionName: x, ResourceId: service/c/s, Schedule: 'rate(5 minutes)', ScalableTargetAction: {MinCapacity: 5, MaxCapacity: 2}}"), "ScalableTargetAction.MinCapacity", "greater than MaxCapacity"),
        ("aws-behaviour §5.1 action name", scheduled("{ScheduledActionName: ' x', ResourceId: service/c/s, Schedule: 'rate(5 minutes)', ScalableTargetAction: {MinCapacity: 2}}"), "ScheduledActions[0].ScheduledActionName", "must not start or end with a space"),
        ("extension tolerance", format!("{TARGET}Autopilot: {{Defaults: {{Tolerance: 1.5}}}}"), "Autopilot.Defaults.Tolerance", "≥ 0 and < 1"),
        ("extension rate period", format!("{TARGET}Autopilot: {{Defaults: {{ScaleIn: {{Policies: [{{Type: Tasks, Value: 1, PeriodSeconds: 0}}]}}}}}}"), "Autopilot.Defaults.ScaleIn.Policies[0].PeriodSeconds", "from 1 to 1800"),
        ("extension unknown target", format!("{TARGET}Autopilot: {{Targets: {{service/c/nope: {{Tolerance: 0.1}}}}}}"), "Autopilot.Targets.service/c/nope", "no scalable target"),
        ("extension unknown field", format!("{TARGET}Autopilot: {{Defaults: {{Stabilisation: 3}}}}"), "Autopilot.Defaults.Stabilisation", "unknown field"),
    ];
    for (name, text, path, reason) in cases {
        let err = match config::load_str(&text) {
            Ok(_) => panic!("{name}: accepted"),
            Err(e) => e,
        };
        let hit = err.issues.iter().find(|i| i.path.ends_with(path) && i.message.contains(reason));
        assert!(hit.is_some(), "{name}: wanted `{path}`: …{reason}…, got:\n{err}");
    }
}

#[test]
fn metric_queries_resolve_predefined_types_to_cloudwatch_metrics_spec_3_2() {
    use ecs_autopilot::config::{MetricId, MetricQuery};
    let text = std::fs::read_to_string("examples/config/fast-with-extensions.yaml").unwrap();
    let cfg = ecs_autopilot::config::load_str(&text).unwrap();
    let t = &cfg.targets["service/prod-cluster/api"];
    let cpu = &t.queries[&MetricId("ECSServiceAverageCPUUtilizationHighResolution".into())];
    let MetricQuery::Single { namespace, metric_name, dimensions, statistic, period_seconds } = cpu else {
        panic!("{cpu:?}")
    };
    assert_eq!(
        (namespace.as_str(), metric_name.as_str(), statistic.as_str(), *period_seconds),
        ("AWS/ECS", "CPUUtilization", "Average", 20)
    );
    let dims: Vec<(&str, &str)> = dimensions.iter().map(|d| (d.name.as_str(), d.value.as_str())).collect();
    assert_eq!(dims, [("ClusterName", "prod-cluster"), ("ServiceName", "api")]);
    let alb = t.queries.iter().find(|(k, _)| k.0.starts_with("ALBRequestCountPerTarget")).unwrap().1;
    let MetricQuery::Single { namespace, dimensions, .. } = alb else { panic!("{alb:?}") };
    assert_eq!(namespace, "AWS/ApplicationELB");
    assert_eq!(dimensions[0].value, "targetgroup/api-tg/943f017f100becff");
    assert_eq!(t.queries.len(), t.metric_ids().len(), "every metric a policy reads has a query");
}

/// A step policy driven by an alarm, with `{ADJ}`, `{COOLDOWN}`, `{PERIOD}`
/// and `{N}` to fill in.
const STEP: &str = "
ScalableTargets:
  - {ResourceId: service/prod/worker, MinCapacity: 2, MaxCapacity: 40}
ScalingPolicies:
  - PolicyName: backlog
    ResourceId: service/prod/worker
    PolicyType: StepScaling
    StepScalingPolicyConfiguration:
      AdjustmentType: ChangeInCapacity
      Cooldown: {COOLDOWN}
      StepAdjustments: [{MetricIntervalLowerBound: 0, ScalingAdjustment: {ADJ}}]
    Alarms: [{AlarmName: autopilot-backlog}]
MetricAlarms:
  - AlarmName: autopilot-backlog
    Namespace: AWS/SQS
    MetricName: ApproximateNumberOfMessagesVisible
    Dimensions: [{Name: QueueName, Value: jobs}]
    Statistic: Maximum
    Period: {PERIOD}
    EvaluationPeriods: {N}
    Threshold: 1000
    ComparisonOperator: GreaterThanThreshold
";

#[test]
fn numbers_outside_aws_ranges_are_refused_naming_the_field() {
    let fill = |adj: &str, cooldown: &str, period: &str, n: &str| {
        STEP.replace("{ADJ}", adj).replace("{COOLDOWN}", cooldown).replace("{PERIOD}", period).replace("{N}", n)
    };
    assert!(config::load_str(&fill("4", "120", "60", "3")).is_ok(), "the base case is valid");
    let cases = [
        (
            "adjustment past int32 (would wrap)",
            fill("9223372036854775807", "120", "60", "3"),
            "ScalingAdjustment",
            "32-bit",
        ),
        ("negative adjustment past int32", fill("-2147483649", "120", "60", "3"), "ScalingAdjustment", "32-bit"),
        ("cooldown past int32", fill("4", "4294967296", "60", "3"), "Cooldown", "2147483647"),
        ("evaluation periods past one day", fill("4", "120", "60", "4294967295"), "EvaluationPeriods", "86,400"),
        ("period × periods past one day", fill("4", "120", "86400", "60000"), "EvaluationPeriods", "one-day"),
    ];
    for (name, text, field, reason) in cases {
        let err = config::load_str(&text).unwrap_err().to_string();
        assert!(err.contains(field) && err.contains(reason), "{name}: {err}");
    }
}

/// Issue 16: an alarm a step policy's `Alarms` names but that is not under
/// `MetricAlarms` is an error naming it (it was dropped silently when
/// another alarm of the list was found).
#[test]
fn an_alarm_the_policy_names_but_the_configuration_lacks_is_refused() {
    let base = STEP.replace("{ADJ}", "4").replace("{COOLDOWN}", "120").replace("{PERIOD}", "60").replace("{N}", "1");
    let text = base.replace(
        "Alarms: [{AlarmName: autopilot-backlog}]",
        "Alarms: [{AlarmName: autopilot-backlog}, {AlarmName: backlog-age}]",
    );
    let err = config::load_str(&text).unwrap_err().to_string();
    assert!(err.contains("ScalingPolicies[0].Alarms[1]") && err.contains("backlog-age"), "{err}");
}

/// docs/capacity.md: `Autopilot.Capacity` holds the capacity function's
/// disruption budget and consolidation; ranges and unknown keys are named.
#[test]
fn the_capacity_section_loads_and_bad_values_name_their_field() {
    use ecs_autopilot::capacity::CapacityOptions;
    use ecs_autopilot::config::{extensions::CapacitySection, load_documents, EvaluationMode};
    let ok =
        "Autopilot:\n  Capacity:\n    DisruptionBudget: {Instances: 3, WindowSeconds: 300}\n    Consolidation: true\n";
    let config = load_documents(&[("capacity.yaml", ok)]).unwrap();
    let options = CapacityOptions::with_section(EvaluationMode::Fast, &config.capacity);
    assert_eq!(
        (
            options.disruption_instances,
            options.disruption_percent,
            options.disruption_window_seconds,
            options.consolidation
        ),
        (3, 50, 300, true),
        "unset values keep their defaults"
    );
    // What the environment sets wins, field by field.
    let over =
        load_documents(&[("env", "Autopilot:\n  Capacity:\n    DisruptionBudget: {Instances: 7}\n")]).unwrap().capacity;
    let merged = config.capacity.overlaid_by(&over);
    assert_eq!(merged.disruption_budget.instances, Some(7));
    assert_eq!(merged.disruption_budget.window_seconds, Some(300));
    assert_eq!(merged.consolidation, Some(true));
    assert_eq!(CapacitySection::default().overlaid_by(&CapacitySection::default()), CapacitySection::default());

    let bad = "Autopilot:\n  Capacity:\n    DisruptionBudget: {Instances: 0, Percent: 101, WindowSeconds: 59}\n";
    let err = load_documents(&[("bad.yaml", bad)]).unwrap_err().to_string();
    for expected in [
        "Autopilot.Capacity.DisruptionBudget.Instances: 0 must be from 1 to 1000",
        "Autopilot.Capacity.DisruptionBudget.Percent: 101 must be from 1 to 100",
        "Autopilot.Capacity.DisruptionBudget.WindowSeconds: 59 must be from 60 to 3600",
    ] {
        assert!(err.contains(expected), "{expected} in {err}");
    }
    let unknown = "Autopilot:\n  Capacity:\n    Consolidate: true\n";
    let err = load_documents(&[("unknown.yaml", unknown)]).unwrap_err().to_string();
    assert!(err.contains("Autopilot.Capacity.Consolidate: unknown field `Consolidate`"), "{err}");
}
