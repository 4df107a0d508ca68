//! The SDK's Application Auto Scaling and CloudWatch types as the AWS
//! CLI prints them (PascalCase JSON), field by field: the shapes the
//! configuration reads (docs/configuration.md). What a shape cannot carry is
//! refused with its reason.
//!
//! Owns: the conversions. May not touch: the network or files.

use aws_sdk_applicationautoscaling::types::{
    CustomizedMetricSpecification, PredictiveScalingPolicyConfiguration, ScalableTarget, ScalingPolicy,
    ScheduledAction, StepScalingPolicyConfiguration, TargetTrackingScalingPolicyConfiguration,
};
use aws_smithy_types::date_time::Format;
use aws_smithy_types::DateTime;
use serde_json::{json, Map, Value};

fn time(t: &DateTime) -> Value {
    t.fmt(Format::DateTime).map_or(Value::Null, Value::String)
}

/// Inserts `value` under `key` unless it is `None`.
fn put<T: Into<Value>>(map: &mut Map<String, Value>, key: &str, value: Option<T>) {
    if let Some(v) = value {
        map.insert(key.to_owned(), v.into());
    }
}

pub(super) fn target_json(t: &ScalableTarget) -> Value {
    let mut v = Map::new();
    v.insert("ServiceNamespace".into(), t.service_namespace().as_str().into());
    v.insert("ResourceId".into(), t.resource_id().into());
    v.insert("ScalableDimension".into(), t.scalable_dimension().as_str().into());
    v.insert("MinCapacity".into(), t.min_capacity().into());
    v.insert("MaxCapacity".into(), t.max_capacity().into());
    put(&mut v, "RoleARN", Some(t.role_arn()).filter(|r| !r.is_empty()));
    v.insert("CreationTime".into(), time(t.creation_time()));
    if let Some(s) = t.suspended_state() {
        v.insert(
            "SuspendedState".into(),
            json!({
                "DynamicScalingInSuspended": s.dynamic_scaling_in_suspended().unwrap_or(false),
                "DynamicScalingOutSuspended": s.dynamic_scaling_out_suspended().unwrap_or(false),
                "ScheduledScalingSuspended": s.scheduled_scaling_suspended().unwrap_or(false),
            }),
        );
    }
    put(&mut v, "ScalableTargetARN", t.scalable_target_arn());
    Value::Object(v)
}

pub(super) fn policy_json(p: &ScalingPolicy) -> Result<Value, String> {
    let mut v = Map::new();
    v.insert("PolicyARN".into(), p.policy_arn().into());
    v.insert("PolicyName".into(), p.policy_name().into());
    v.insert("ServiceNamespace".into(), p.service_namespace().as_str().into());
    v.insert("ResourceId".into(), p.resource_id().into());
    v.insert("ScalableDimension".into(), p.scalable_dimension().as_str().into());
    v.insert("PolicyType".into(), p.policy_type().as_str().into());
    match (
        p.target_tracking_scaling_policy_configuration(),
        p.step_scaling_policy_configuration(),
        p.predictive_scaling_policy_configuration(),
    ) {
        (Some(c), None, None) => {
            v.insert("TargetTrackingScalingPolicyConfiguration".into(), target_tracking_json(c)?);
        }
        (None, Some(c), None) => {
            v.insert("StepScalingPolicyConfiguration".into(), step_json(c));
        }
        (None, None, Some(c)) => {
            v.insert("PredictiveScalingPolicyConfiguration".into(), predictive_json(c)?);
        }
        _ => return Err("a policy type this version does not know (no single configuration)".into()),
    }
    let alarms: Vec<Value> =
        p.alarms().iter().map(|a| json!({"AlarmName": a.alarm_name(), "AlarmARN": a.alarm_arn()})).collect();
    v.insert("Alarms".into(), alarms.into());
    v.insert("CreationTime".into(), time(p.creation_time()));
    Ok(Value::Object(v))
}

fn target_tracking_json(c: &TargetTrackingScalingPolicyConfiguration) -> Result<Value, String> {
    let mut v = Map::new();
    v.insert("TargetValue".into(), c.target_value().into());
    if let Some(m) = c.predefined_metric_specification() {
        let mut spec = Map::new();
        spec.insert("PredefinedMetricType".into(), m.predefined_metric_type().as_str().into());
        put(&mut spec, "ResourceLabel", m.resource_label());
        v.insert("PredefinedMetricSpecification".into(), Value::Object(spec));
    }
    if let Some(m) = c.customized_metric_specification() {
        v.insert("CustomizedMetricSpecification".into(), customized_json(m));
    }
    put(&mut v, "ScaleOutCooldown", c.scale_out_cooldown());
    put(&mut v, "ScaleInCooldown", c.scale_in_cooldown());
    put(&mut v, "DisableScaleIn", c.disable_scale_in());
    Ok(Value::Object(v))
}

fn customized_json(m: &CustomizedMetricSpecification) -> Value {
    let mut spec = Map::new();
    put(&mut spec, "MetricName", m.metric_name());
    put(&mut spec, "Namespace", m.namespace());
    if !m.dimensions().is_empty() {
        let dims: Vec<Value> = m.dimensions().iter().map(|d| json!({"Name": d.name(), "Value": d.value()})).collect();
        spec.insert("Dimensions".into(), dims.into());
    }
    put(&mut spec, "Statistic", m.statistic().map(|s| s.as_str()));
    put(&mut spec, "Unit", m.unit());
    if !m.metrics().is_empty() {
        let queries: Vec<Value> = m
            .metrics()
            .iter()
            .map(|q| {
                let mut query = Map::new();
                query.insert("Id".into(), q.id().into());
                put(&mut query, "Expression", q.expression());
                put(&mut query, "Label", q.label());
                put(&mut query, "ReturnData", q.return_data());
                if let Some(stat) = q.metric_stat() {
                    let metric = stat.metric().map(|metric| {
                        let dims: Vec<Value> =
                            metric.dimensions().iter().map(|d| json!({"Name": d.name(), "Value": d.value()})).collect();
                        json!({"Namespace": metric.namespace(), "MetricName": metric.metric_name(), "Dimensions": dims})
                    });
                    let mut s = Map::new();
                    put(&mut s, "Metric", metric);
                    s.insert("Stat".into(), stat.stat().into());
                    put(&mut s, "Unit", stat.unit());
                    query.insert("MetricStat".into(), Value::Object(s));
                }
                Value::Object(query)
            })
            .collect();
        spec.insert("Metrics".into(), queries.into());
    }
    Value::Object(spec)
}

fn step_json(c: &StepScalingPolicyConfiguration) -> Value {
    let mut v = Map::new();
    put(&mut v, "AdjustmentType", c.adjustment_type().map(|a| a.as_str()));
    let steps: Vec<Value> = c
        .step_adjustments()
        .iter()
        .map(|s| {
            let mut step = Map::new();
            put(&mut step, "MetricIntervalLowerBound", s.metric_interval_lower_bound());
            put(&mut step, "MetricIntervalUpperBound", s.metric_interval_upper_bound());
            step.insert("ScalingAdjustment".into(), s.scaling_adjustment().into());
            Value::Object(step)
        })
        .collect();
    v.insert("StepAdjustments".into(), steps.into());
    put(&mut v, "MinAdjustmentMagnitude", c.min_adjustment_magnitude());
    put(&mut v, "Cooldown", c.cooldown());
    put(&mut v, "MetricAggregationType", c.metric_aggregation_type().map(|a| a.as_str()));
    Value::Object(v)
}

/// Predictive policies are kept in the file (the configuration accepts and
/// warns about them); their predefined metric specifications are carried,
/// a customized one is refused with its reason.
fn predictive_json(c: &PredictiveScalingPolicyConfiguration) -> Result<Value, String> {
    let mut v = Map::new();
    let mut specs = Vec::new();
    for m in c.metric_specifications() {
        if m.customized_scaling_metric_specification().is_some()
            || m.customized_load_metric_specification().is_some()
            || m.customized_capacity_metric_specification().is_some()
        {
            return Err("a predictive policy with customized metric specifications is not carried over".into());
        }
        let mut spec = Map::new();
        spec.insert("TargetValue".into(), m.target_value().into());
        let label = |t: &str, l: Option<&str>| {
            let mut o = Map::new();
            o.insert("PredefinedMetricType".into(), t.into());
            put(&mut o, "ResourceLabel", l);
            Value::Object(o)
        };
        if let Some(p) = m.predefined_metric_pair_specification() {
            spec.insert(
                "PredefinedMetricPairSpecification".into(),
                label(p.predefined_metric_type(), p.resource_label()),
            );
        }
        if let Some(p) = m.predefined_scaling_metric_specification() {
            spec.insert(
                "PredefinedScalingMetricSpecification".into(),
                label(p.predefined_metric_type(), p.resource_label()),
            );
        }
        if let Some(p) = m.predefined_load_metric_specification() {
            spec.insert(
                "PredefinedLoadMetricSpecification".into(),
                label(p.predefined_metric_type(), p.resource_label()),
            );
        }
        specs.push(Value::Object(spec));
    }
    v.insert("MetricSpecifications".into(), specs.into());
    put(&mut v, "Mode", c.mode().map(|m| m.as_str()));
    put(&mut v, "SchedulingBufferTime", c.scheduling_buffer_time());
    put(&mut v, "MaxCapacityBreachBehavior", c.max_capacity_breach_behavior().map(|b| b.as_str()));
    put(&mut v, "MaxCapacityBuffer", c.max_capacity_buffer());
    Ok(Value::Object(v))
}

pub(super) fn scheduled_json(a: &ScheduledAction) -> Value {
    let mut v = Map::new();
    v.insert("ScheduledActionName".into(), a.scheduled_action_name().into());
    v.insert("ScheduledActionARN".into(), a.scheduled_action_arn().into());
    v.insert("ServiceNamespace".into(), a.service_namespace().as_str().into());
    v.insert("Schedule".into(), a.schedule().into());
    put(&mut v, "Timezone", a.timezone());
    v.insert("ResourceId".into(), a.resource_id().into());
    put(&mut v, "ScalableDimension", a.scalable_dimension().map(|d| d.as_str()));
    put(&mut v, "StartTime", a.start_time().map(time));
    put(&mut v, "EndTime", a.end_time().map(time));
    if let Some(t) = a.scalable_target_action() {
        let mut action = Map::new();
        put(&mut action, "MinCapacity", t.min_capacity());
        put(&mut action, "MaxCapacity", t.max_capacity());
        v.insert("ScalableTargetAction".into(), Value::Object(action));
    }
    v.insert("CreationTime".into(), time(a.creation_time()));
    Value::Object(v)
}

pub(super) fn alarm_json(a: &aws_sdk_cloudwatch::types::MetricAlarm) -> Value {
    let mut v = Map::new();
    put(&mut v, "AlarmName", a.alarm_name());
    put(&mut v, "AlarmArn", a.alarm_arn());
    put(&mut v, "ActionsEnabled", a.actions_enabled());
    v.insert("AlarmActions".into(), a.alarm_actions().to_vec().into());
    v.insert("OKActions".into(), a.ok_actions().to_vec().into());
    v.insert("InsufficientDataActions".into(), a.insufficient_data_actions().to_vec().into());
    put(&mut v, "StateValue", a.state_value().map(|s| s.as_str()));
    put(&mut v, "MetricName", a.metric_name());
    put(&mut v, "Namespace", a.namespace());
    put(&mut v, "Statistic", a.statistic().map(|s| s.as_str()));
    put(&mut v, "ExtendedStatistic", a.extended_statistic());
    if !a.dimensions().is_empty() {
        let dims: Vec<Value> = a.dimensions().iter().map(|d| json!({"Name": d.name(), "Value": d.value()})).collect();
        v.insert("Dimensions".into(), dims.into());
    }
    put(&mut v, "Period", a.period());
    put(&mut v, "Unit", a.unit().map(|u| u.as_str()));
    put(&mut v, "EvaluationPeriods", a.evaluation_periods());
    put(&mut v, "DatapointsToAlarm", a.datapoints_to_alarm());
    put(&mut v, "Threshold", a.threshold());
    put(&mut v, "ComparisonOperator", a.comparison_operator().map(|c| c.as_str()));
    put(&mut v, "TreatMissingData", a.treat_missing_data());
    if !a.metrics().is_empty() {
        let queries: Vec<Value> = a
            .metrics()
            .iter()
            .map(|q| {
                let mut query = Map::new();
                put(&mut query, "Id", q.id());
                put(&mut query, "Expression", q.expression());
                put(&mut query, "Label", q.label());
                put(&mut query, "ReturnData", q.return_data());
                put(&mut query, "Period", q.period());
                if let Some(stat) = q.metric_stat() {
                    let metric = stat.metric().map(|m| {
                        let dims: Vec<Value> =
                            m.dimensions().iter().map(|d| json!({"Name": d.name(), "Value": d.value()})).collect();
                        json!({"Namespace": m.namespace(), "MetricName": m.metric_name(), "Dimensions": dims})
                    });
                    let mut s = Map::new();
                    put(&mut s, "Metric", metric);
                    put(&mut s, "Stat", stat.stat());
                    put(&mut s, "Period", stat.period());
                    put(&mut s, "Unit", stat.unit().map(|u| u.as_str()));
                    query.insert("MetricStat".into(), Value::Object(s));
                }
                Value::Object(query)
            })
            .collect();
        v.insert("Metrics".into(), queries.into());
    }
    Value::Object(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_applicationautoscaling::types::{ScalableDimension, ServiceNamespace};

    fn policy(
        kind: aws_sdk_applicationautoscaling::types::PolicyType,
    ) -> aws_sdk_applicationautoscaling::types::builders::ScalingPolicyBuilder {
        ScalingPolicy::builder()
            .policy_arn(
                "arn:aws:autoscaling:us-east-1:123456789012:scalingPolicy:p:resource/ecs/service/c/s:policyName/p",
            )
            .policy_name("p")
            .service_namespace(ServiceNamespace::Ecs)
            .resource_id("service/c/s")
            .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
            .policy_type(kind)
            .creation_time(DateTime::from_secs(1_767_571_200))
    }

    #[test]
    fn a_predictive_policy_is_kept_with_its_fields_and_validates_with_a_warning() {
        use aws_sdk_applicationautoscaling::types::{
            PolicyType, PredictiveScalingMaxCapacityBreachBehavior, PredictiveScalingMetricSpecification,
            PredictiveScalingMode, PredictiveScalingPredefinedMetricPairSpecification,
        };
        let config = PredictiveScalingPolicyConfiguration::builder()
            .metric_specifications(
                PredictiveScalingMetricSpecification::builder()
                    .target_value(40.0)
                    .predefined_metric_pair_specification(
                        PredictiveScalingPredefinedMetricPairSpecification::builder()
                            .predefined_metric_type("ECSServiceCPUUtilization")
                            .build()
                            .unwrap(),
                    )
                    .build()
                    .unwrap(),
            )
            .mode(PredictiveScalingMode::ForecastAndScale)
            .scheduling_buffer_time(300)
            .max_capacity_breach_behavior(PredictiveScalingMaxCapacityBreachBehavior::IncreaseMaxCapacity)
            .max_capacity_buffer(10)
            .build()
            .unwrap();
        let p = policy(PolicyType::PredictiveScaling).predictive_scaling_policy_configuration(config).build().unwrap();
        let v = policy_json(&p).unwrap();
        assert_eq!(
            v["PredictiveScalingPolicyConfiguration"],
            json!({"MetricSpecifications": [{"TargetValue": 40.0,
                    "PredefinedMetricPairSpecification": {"PredefinedMetricType": "ECSServiceCPUUtilization"}}],
                   "Mode": "ForecastAndScale", "SchedulingBufferTime": 300,
                   "MaxCapacityBreachBehavior": "IncreaseMaxCapacity", "MaxCapacityBuffer": 10})
        );
        let doc = json!({"ScalableTargets": [{"ResourceId": "service/c/s", "MinCapacity": 1, "MaxCapacity": 4}],
                         "ScalingPolicies": [v]});
        let cfg = ecs_autopilot::config::load_str(&doc.to_string()).unwrap();
        assert!(!cfg.warnings.is_empty(), "predictive policies load with a warning");
    }

    #[test]
    fn a_policy_with_no_configuration_is_refused_with_its_reason() {
        let p = policy(aws_sdk_applicationautoscaling::types::PolicyType::StepScaling).build().unwrap();
        assert_eq!(policy_json(&p).unwrap_err(), "a policy type this version does not know (no single configuration)");
    }

    #[test]
    fn a_customized_metric_with_math_keeps_every_query() {
        use aws_sdk_applicationautoscaling::types::{
            TargetTrackingMetric, TargetTrackingMetricDataQuery, TargetTrackingMetricDimension,
            TargetTrackingMetricStat,
        };
        let stat = TargetTrackingMetricStat::builder()
            .metric(
                TargetTrackingMetric::builder()
                    .namespace("AWS/SQS")
                    .metric_name("ApproximateNumberOfMessagesVisible")
                    .dimensions(TargetTrackingMetricDimension::builder().name("QueueName").value("q").build().unwrap())
                    .build(),
            )
            .stat("Sum")
            .build()
            .unwrap();
        let spec = CustomizedMetricSpecification::builder()
            .metrics(
                TargetTrackingMetricDataQuery::builder().id("m1").metric_stat(stat).return_data(false).build().unwrap(),
            )
            .metrics(
                TargetTrackingMetricDataQuery::builder()
                    .id("e1")
                    .expression("m1 / 2")
                    .label("per task")
                    .return_data(true)
                    .build()
                    .unwrap(),
            )
            .build();
        assert_eq!(
            customized_json(&spec),
            json!({"Metrics": [
                {"Id": "m1", "ReturnData": false, "MetricStat": {"Metric": {"Namespace": "AWS/SQS",
                    "MetricName": "ApproximateNumberOfMessagesVisible", "Dimensions": [{"Name": "QueueName", "Value": "q"}]}, "Stat": "Sum"}},
                {"Id": "e1", "Expression": "m1 / 2", "Label": "per task", "ReturnData": true}
            ]})
        );
    }
}
