//! The validated configuration the policy engine consumes: AWS's fields
//! resolved to concrete values (defaults applied, aws-behaviour §3.1, §4.1), metrics
//! named by a stable [`MetricId`], step policies joined to their alarms.

use super::aws::{Dimension, SuspendedState};
use super::extensions::Extensions;
use crate::schedule::Schedule;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// A validated configuration: one entry per scalable target, by ResourceId.
#[derive(Clone, Debug, Default)]
pub struct Config {
    pub targets: BTreeMap<String, TargetConfig>,
    /// Things that load but deserve attention (e.g. predictive policies,
    /// which are accepted and not evaluated).
    pub warnings: Vec<super::ConfigIssue>,
    /// `Autopilot.Capacity`: the capacity function's settings.
    pub capacity: super::extensions::CapacitySection,
}

/// One ECS service's scalable target and everything attached to it.
#[derive(Clone, Debug)]
pub struct TargetConfig {
    /// `service/<cluster>/<service>`.
    pub resource_id: String,
    pub min_capacity: u32,
    pub max_capacity: u32,
    pub suspended: SuspendedState,
    pub target_tracking: Vec<TargetTrackingPolicy>,
    pub step: Vec<StepPolicy>,
    pub scheduled: Vec<ScheduledActionConfig>,
    pub extensions: Extensions,
    /// How to fetch each metric the policies read (adapters send these).
    pub queries: BTreeMap<MetricId, super::query::MetricQuery>,
}

impl TargetConfig {
    /// Every metric the policies of this target read, deduplicated, so an
    /// adapter knows what to fetch.
    #[must_use]
    pub fn metric_ids(&self) -> Vec<MetricId> {
        let mut ids: Vec<MetricId> = self
            .target_tracking
            .iter()
            .map(|p| p.metric.clone())
            .chain(self.step.iter().map(|p| p.alarm.metric.clone()))
            .collect();
        ids.sort();
        ids.dedup();
        ids
    }
}

/// A stable name for a metric series, used to key observations.
///
/// * predefined: `ECSServiceAverageCPUUtilization`,
///   `ALBRequestCountPerTarget:app/…/targetgroup/…`
/// * one customized metric: `Namespace/MetricName{Dim=Value,…}:Statistic`
/// * metric math: `math:<policy or alarm name>`
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct MetricId(pub String);

impl MetricId {
    /// The id of one CloudWatch metric with a statistic.
    #[must_use]
    pub fn single(namespace: &str, name: &str, dimensions: &[Dimension], statistic: &str) -> Self {
        let mut dims: Vec<&Dimension> = dimensions.iter().collect();
        dims.sort();
        let dims: Vec<String> = dims.iter().map(|d| format!("{}={}", d.name, d.value)).collect();
        Self(format!("{namespace}/{name}{{{}}}:{statistic}", dims.join(",")))
    }
}

impl fmt::Display for MetricId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Predefined metric types for ECS (aws-behaviour §3.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PredefinedMetric {
    ECSServiceAverageCPUUtilization,
    ECSServiceAverageMemoryUtilization,
    ALBRequestCountPerTarget,
    ECSServiceAverageCPUUtilizationHighResolution,
    ECSServiceAverageMemoryUtilizationHighResolution,
}

impl PredefinedMetric {
    /// Parses AWS's name.
    #[must_use]
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "ECSServiceAverageCPUUtilization" => Self::ECSServiceAverageCPUUtilization,
            "ECSServiceAverageMemoryUtilization" => Self::ECSServiceAverageMemoryUtilization,
            "ALBRequestCountPerTarget" => Self::ALBRequestCountPerTarget,
            "ECSServiceAverageCPUUtilizationHighResolution" => Self::ECSServiceAverageCPUUtilizationHighResolution,
            "ECSServiceAverageMemoryUtilizationHighResolution" => {
                Self::ECSServiceAverageMemoryUtilizationHighResolution
            }
            _ => return None,
        })
    }

    /// The 20-second variants (aws-behaviour §3.2, §16 item 3).
    #[must_use]
    pub fn is_high_resolution(self) -> bool {
        matches!(
            self,
            Self::ECSServiceAverageCPUUtilizationHighResolution
                | Self::ECSServiceAverageMemoryUtilizationHighResolution
        )
    }
}

/// A target tracking policy with defaults applied (aws-behaviour §3.1).
#[derive(Clone, Debug, PartialEq)]
pub struct TargetTrackingPolicy {
    pub name: String,
    pub metric: MetricId,
    pub predefined: Option<PredefinedMetric>,
    pub target_value: f64,
    pub scale_out_cooldown_seconds: u32,
    pub scale_in_cooldown_seconds: u32,
    pub disable_scale_in: bool,
}

impl TargetTrackingPolicy {
    /// Whether the metric is published at 20-second resolution.
    #[must_use]
    pub fn high_resolution(&self) -> bool {
        self.predefined.is_some_and(PredefinedMetric::is_high_resolution)
    }
}

/// `AdjustmentType` (aws-behaviour §4.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum AdjustmentType {
    ChangeInCapacity,
    PercentChangeInCapacity,
    ExactCapacity,
}

/// `MetricAggregationType` (aws-behaviour §4.1); `Average` when absent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Aggregation {
    Average,
    Minimum,
    Maximum,
}

/// One step interval; bounds are offsets from the alarm threshold (aws-behaviour §4.2).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepInterval {
    pub lower: Option<f64>,
    pub upper: Option<f64>,
    pub adjustment: i64,
}

/// A step scaling policy joined to the alarm that drives it.
#[derive(Clone, Debug, PartialEq)]
pub struct StepPolicy {
    pub name: String,
    pub adjustment_type: AdjustmentType,
    pub steps: Vec<StepInterval>,
    pub min_adjustment_magnitude: Option<u32>,
    pub cooldown_seconds: u32,
    pub aggregation: Aggregation,
    pub alarm: AlarmSpec,
}

/// `ComparisonOperator` of a CloudWatch alarm.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Comparison {
    GreaterThanOrEqualToThreshold,
    GreaterThanThreshold,
    LessThanThreshold,
    LessThanOrEqualToThreshold,
}

impl Comparison {
    /// Parses AWS's name (anomaly-detection operators are not supported).
    #[must_use]
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "GreaterThanOrEqualToThreshold" => Self::GreaterThanOrEqualToThreshold,
            "GreaterThanThreshold" => Self::GreaterThanThreshold,
            "LessThanThreshold" => Self::LessThanThreshold,
            "LessThanOrEqualToThreshold" => Self::LessThanOrEqualToThreshold,
            _ => return None,
        })
    }

    /// Whether `value` breaches `threshold`.
    #[must_use]
    pub fn breaches(self, value: f64, threshold: f64) -> bool {
        match self {
            Self::GreaterThanOrEqualToThreshold => value >= threshold,
            Self::GreaterThanThreshold => value > threshold,
            Self::LessThanThreshold => value < threshold,
            Self::LessThanOrEqualToThreshold => value <= threshold,
        }
    }
}

/// `TreatMissingData` (aws-behaviour §11.4); `missing` when absent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum TreatMissing {
    Missing,
    NotBreaching,
    Breaching,
    Ignore,
}

/// A CloudWatch alarm, as the emulation needs it.
#[derive(Clone, Debug, PartialEq)]
pub struct AlarmSpec {
    pub name: String,
    pub metric: MetricId,
    pub period_seconds: u32,
    pub evaluation_periods: u32,
    pub datapoints_to_alarm: u32,
    pub threshold: f64,
    pub comparison: Comparison,
    pub treat_missing: TreatMissing,
}

/// A scheduled action (aws-behaviour §5).
#[derive(Clone, Debug)]
pub struct ScheduledActionConfig {
    pub name: String,
    pub schedule: Schedule,
    /// The text of the schedule, for decision records.
    pub expression: String,
    pub min_capacity: Option<u32>,
    pub max_capacity: Option<u32>,
}
