//! Application Auto Scaling and CloudWatch shapes exactly as AWS spells them
//! (PascalCase), so the JSON printed by `aws application-autoscaling
//! describe-scalable-targets / describe-scaling-policies /
//! describe-scheduled-actions` and `aws cloudwatch describe-alarms` loads
//! unchanged. The request shapes of `RegisterScalableTarget`,
//! `PutScalingPolicy` and `PutScheduledAction` are subsets of these.
//!
//! Unknown fields are rejected (with the field's path), so a typo is never
//! silently ignored; output-only fields of the describe calls are accepted and
//! not used.

use crate::event::AwsTime;
use serde::{Deserialize, Serialize};

/// `RegisterScalableTarget` / `describe-scalable-targets` item (aws-behaviour §2).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct ScalableTarget {
    pub resource_id: String,
    #[serde(default)]
    pub service_namespace: Option<String>,
    #[serde(default)]
    pub scalable_dimension: Option<String>,
    pub min_capacity: i64,
    pub max_capacity: i64,
    #[serde(default)]
    pub suspended_state: Option<SuspendedState>,
    // Output-only fields of describe-scalable-targets.
    #[serde(default, rename = "RoleARN")]
    pub role_arn: Option<String>,
    #[serde(default, rename = "ScalableTargetARN")]
    pub scalable_target_arn: Option<String>,
    #[serde(default)]
    pub creation_time: Option<AwsTime>,
    #[serde(default)]
    pub predicted_capacity: Option<i64>,
}

/// `SuspendedState` (aws-behaviour §2.3); every flag defaults to `false`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct SuspendedState {
    #[serde(default)]
    pub dynamic_scaling_in_suspended: bool,
    #[serde(default)]
    pub dynamic_scaling_out_suspended: bool,
    #[serde(default)]
    pub scheduled_scaling_suspended: bool,
}

/// `PutScalingPolicy` / `describe-scaling-policies` item.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct ScalingPolicy {
    pub policy_name: String,
    pub resource_id: String,
    pub policy_type: String,
    #[serde(default)]
    pub service_namespace: Option<String>,
    #[serde(default)]
    pub scalable_dimension: Option<String>,
    #[serde(default)]
    pub target_tracking_scaling_policy_configuration: Option<TargetTrackingConfiguration>,
    #[serde(default)]
    pub step_scaling_policy_configuration: Option<StepScalingConfiguration>,
    /// Loaded so describe output is accepted; predictive policies are not
    /// evaluated (validation warns).
    #[serde(default)]
    pub predictive_scaling_policy_configuration: Option<serde_json::Value>,
    // Output-only fields of describe-scaling-policies.
    #[serde(default, rename = "PolicyARN")]
    pub policy_arn: Option<String>,
    #[serde(default)]
    pub alarms: Option<Vec<AlarmRef>>,
    #[serde(default)]
    pub creation_time: Option<AwsTime>,
}

/// `Alarm` reference in a describe-scaling-policies item.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct AlarmRef {
    pub alarm_name: String,
    #[serde(default, rename = "AlarmARN")]
    pub alarm_arn: Option<String>,
}

/// `TargetTrackingScalingPolicyConfiguration` (aws-behaviour §3.1).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct TargetTrackingConfiguration {
    pub target_value: f64,
    #[serde(default)]
    pub predefined_metric_specification: Option<PredefinedMetricSpecification>,
    #[serde(default)]
    pub customized_metric_specification: Option<CustomizedMetricSpecification>,
    #[serde(default)]
    pub scale_out_cooldown: Option<i64>,
    #[serde(default)]
    pub scale_in_cooldown: Option<i64>,
    #[serde(default)]
    pub disable_scale_in: Option<bool>,
}

/// `PredefinedMetricSpecification` (aws-behaviour §3.2).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct PredefinedMetricSpecification {
    pub predefined_metric_type: String,
    #[serde(default)]
    pub resource_label: Option<String>,
}

/// `CustomizedMetricSpecification` (aws-behaviour §3.3): a single metric or metric math.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct CustomizedMetricSpecification {
    #[serde(default)]
    pub metric_name: Option<String>,
    #[serde(default)]
    pub namespace: Option<String>,
    #[serde(default)]
    pub dimensions: Option<Vec<Dimension>>,
    #[serde(default)]
    pub statistic: Option<String>,
    #[serde(default)]
    pub unit: Option<String>,
    #[serde(default)]
    pub metrics: Option<Vec<MetricDataQuery>>,
}

/// A metric dimension.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Dimension {
    pub name: String,
    pub value: String,
}

/// `TargetTrackingMetricDataQuery` / CloudWatch `MetricDataQuery`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct MetricDataQuery {
    pub id: String,
    #[serde(default)]
    pub expression: Option<String>,
    #[serde(default)]
    pub metric_stat: Option<MetricStat>,
    #[serde(default)]
    pub label: Option<String>,
    #[serde(default)]
    pub return_data: Option<bool>,
    /// CloudWatch alarms' queries may carry a period and an account id.
    #[serde(default)]
    pub period: Option<i64>,
    #[serde(default)]
    pub account_id: Option<String>,
}

/// `MetricStat` of a metric data query.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct MetricStat {
    pub metric: Metric,
    pub stat: String,
    #[serde(default)]
    pub unit: Option<String>,
    #[serde(default)]
    pub period: Option<i64>,
}

/// A CloudWatch metric identity.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Metric {
    pub namespace: String,
    pub metric_name: String,
    #[serde(default)]
    pub dimensions: Option<Vec<Dimension>>,
}

/// `StepScalingPolicyConfiguration` (aws-behaviour §4.1).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct StepScalingConfiguration {
    #[serde(default)]
    pub adjustment_type: Option<String>,
    #[serde(default)]
    pub step_adjustments: Option<Vec<StepAdjustment>>,
    #[serde(default)]
    pub min_adjustment_magnitude: Option<i64>,
    #[serde(default)]
    pub cooldown: Option<i64>,
    #[serde(default)]
    pub metric_aggregation_type: Option<String>,
}

/// `StepAdjustment` (aws-behaviour §4.2): bounds are offsets from the alarm threshold.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct StepAdjustment {
    #[serde(default)]
    pub metric_interval_lower_bound: Option<f64>,
    #[serde(default)]
    pub metric_interval_upper_bound: Option<f64>,
    pub scaling_adjustment: i64,
}

/// `PutScheduledAction` / `describe-scheduled-actions` item (aws-behaviour §5.1).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct ScheduledAction {
    pub scheduled_action_name: String,
    pub resource_id: String,
    pub schedule: String,
    #[serde(default)]
    pub timezone: Option<String>,
    #[serde(default)]
    pub start_time: Option<AwsTime>,
    #[serde(default)]
    pub end_time: Option<AwsTime>,
    #[serde(default)]
    pub scalable_target_action: Option<ScalableTargetAction>,
    #[serde(default)]
    pub service_namespace: Option<String>,
    #[serde(default)]
    pub scalable_dimension: Option<String>,
    // Output-only fields of describe-scheduled-actions.
    #[serde(default, rename = "ScheduledActionARN")]
    pub scheduled_action_arn: Option<String>,
    #[serde(default)]
    pub creation_time: Option<AwsTime>,
}

/// `ScalableTargetAction`: the new bounds a scheduled action sets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct ScalableTargetAction {
    #[serde(default)]
    pub min_capacity: Option<i64>,
    #[serde(default)]
    pub max_capacity: Option<i64>,
}

/// A `describe-alarms` `MetricAlarms` item: the alarm that drives a step
/// policy (aws-behaviour §4, §11.4).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct MetricAlarm {
    pub alarm_name: String,
    #[serde(default)]
    pub metric_name: Option<String>,
    #[serde(default)]
    pub namespace: Option<String>,
    #[serde(default)]
    pub statistic: Option<String>,
    #[serde(default)]
    pub extended_statistic: Option<String>,
    #[serde(default)]
    pub dimensions: Option<Vec<Dimension>>,
    #[serde(default)]
    pub period: Option<i64>,
    #[serde(default)]
    pub unit: Option<String>,
    pub evaluation_periods: i64,
    #[serde(default)]
    pub datapoints_to_alarm: Option<i64>,
    #[serde(default)]
    pub threshold: Option<f64>,
    pub comparison_operator: String,
    #[serde(default)]
    pub treat_missing_data: Option<String>,
    #[serde(default)]
    pub metrics: Option<Vec<MetricDataQuery>>,
    #[serde(default)]
    pub alarm_actions: Option<Vec<String>>,
    // Output-only or unused fields of describe-alarms.
    #[serde(default)]
    pub alarm_arn: Option<String>,
    #[serde(default)]
    pub alarm_description: Option<String>,
    #[serde(default)]
    pub alarm_configuration_updated_timestamp: Option<AwsTime>,
    #[serde(default)]
    pub actions_enabled: Option<bool>,
    #[serde(default, rename = "OKActions")]
    pub ok_actions: Option<Vec<String>>,
    #[serde(default)]
    pub insufficient_data_actions: Option<Vec<String>>,
    #[serde(default)]
    pub state_value: Option<String>,
    #[serde(default)]
    pub state_reason: Option<String>,
    #[serde(default)]
    pub state_reason_data: Option<String>,
    #[serde(default)]
    pub state_updated_timestamp: Option<AwsTime>,
    #[serde(default)]
    pub state_transitioned_timestamp: Option<AwsTime>,
    #[serde(default)]
    pub evaluate_low_sample_count_percentile: Option<String>,
    #[serde(default)]
    pub threshold_metric_id: Option<String>,
    #[serde(default)]
    pub evaluation_state: Option<String>,
}
