//! How to fetch each metric a policy reads: the CloudWatch `GetMetricData`
//! query behind every [`MetricId`](super::MetricId), resolved when the configuration loads so
//! adapters never parse metric ids.
//!
//! Owns: the mapping from predefined metric types to CloudWatch metrics
//! (aws-behaviour §3.2) and the pass-through of customized metrics and metric math.
//! May not touch: CloudWatch itself (the `lambdas/` adapter sends the query).

use super::aws::{CustomizedMetricSpecification, Dimension, MetricAlarm, MetricDataQuery, TargetTrackingConfiguration};
use super::model::PredefinedMetric;
use serde::{Deserialize, Serialize};

/// One metric series to fetch.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum MetricQuery {
    /// One CloudWatch metric with a statistic.
    Single {
        namespace: String,
        metric_name: String,
        dimensions: Vec<Dimension>,
        statistic: String,
        period_seconds: u32,
    },
    /// Metric math: the queries as configured; the one with `ReturnData`
    /// (or the last) is the series.
    Math { queries: Vec<MetricDataQuery>, period_seconds: u32 },
}

impl MetricQuery {
    /// The datapoint period.
    #[must_use]
    pub fn period_seconds(&self) -> u32 {
        match self {
            Self::Single { period_seconds, .. } | Self::Math { period_seconds, .. } => *period_seconds,
        }
    }
}

/// The query of a target tracking policy on `resource_id`
/// (`service/<cluster>/<service>`). `None` when the policy is invalid (the
/// validator has reported why).
pub(super) fn for_target_tracking(resource_id: &str, cfg: &TargetTrackingConfiguration) -> Option<MetricQuery> {
    if let Some(custom) = &cfg.customized_metric_specification {
        return customized(custom);
    }
    let spec = cfg.predefined_metric_specification.as_ref()?;
    let kind = PredefinedMetric::parse(&spec.predefined_metric_type)?;
    let mut parts = resource_id.splitn(3, '/');
    let (_, cluster, service) = (parts.next()?, parts.next()?, parts.next()?);
    let ecs = |metric: &str, period_seconds: u32| MetricQuery::Single {
        namespace: "AWS/ECS".into(),
        metric_name: metric.into(),
        dimensions: vec![dimension("ClusterName", cluster), dimension("ServiceName", service)],
        statistic: "Average".into(),
        period_seconds,
    };
    // Spec aws-behaviour §3.2: the ECS metrics are CPUUtilization / MemoryUtilization
    // (Average, 60 s, or 20 s for the HighResolution variants).
    Some(match kind {
        PredefinedMetric::ECSServiceAverageCPUUtilization => ecs("CPUUtilization", 60),
        PredefinedMetric::ECSServiceAverageMemoryUtilization => ecs("MemoryUtilization", 60),
        PredefinedMetric::ECSServiceAverageCPUUtilizationHighResolution => ecs("CPUUtilization", 20),
        PredefinedMetric::ECSServiceAverageMemoryUtilizationHighResolution => ecs("MemoryUtilization", 20),
        PredefinedMetric::ALBRequestCountPerTarget => {
            // ResourceLabel = app/<lb>/<id>/targetgroup/<tg>/<id>; the
            // dimension is its target-group half (aws-behaviour §3.2). The statistic
            // is Sum: requests per target per minute (spec is silent on the
            // statistic; Sum is what AWS's console shows for this metric).
            let label = spec.resource_label.as_deref()?;
            let at = label.find("/targetgroup/")?;
            MetricQuery::Single {
                namespace: "AWS/ApplicationELB".into(),
                metric_name: "RequestCountPerTarget".into(),
                dimensions: vec![dimension("TargetGroup", &label[at + 1..])],
                statistic: "Sum".into(),
                period_seconds: 60,
            }
        }
    })
}

/// The query of the alarm that drives a step policy.
pub(super) fn for_alarm(alarm: &MetricAlarm) -> Option<MetricQuery> {
    let period = u32::try_from(alarm.period.unwrap_or(60)).ok()?;
    if let Some(queries) = &alarm.metrics {
        let period = queries
            .iter()
            .find_map(|q| q.metric_stat.as_ref().and_then(|s| s.period))
            .map_or(Some(period), |p| u32::try_from(p).ok())?;
        return Some(MetricQuery::Math { queries: queries.clone(), period_seconds: period });
    }
    Some(MetricQuery::Single {
        namespace: alarm.namespace.clone()?,
        metric_name: alarm.metric_name.clone()?,
        dimensions: alarm.dimensions.clone().unwrap_or_default(),
        statistic: alarm.statistic.clone().or_else(|| alarm.extended_statistic.clone())?,
        period_seconds: period,
    })
}

fn customized(m: &CustomizedMetricSpecification) -> Option<MetricQuery> {
    if let Some(queries) = &m.metrics {
        let period = queries.iter().find_map(|q| q.metric_stat.as_ref().and_then(|s| s.period)).unwrap_or(60);
        return Some(MetricQuery::Math { queries: queries.clone(), period_seconds: u32::try_from(period).ok()? });
    }
    Some(MetricQuery::Single {
        namespace: m.namespace.clone()?,
        metric_name: m.metric_name.clone()?,
        dimensions: m.dimensions.clone().unwrap_or_default(),
        statistic: m.statistic.clone()?,
        period_seconds: 60,
    })
}

fn dimension(name: &str, value: &str) -> Dimension {
    Dimension { name: name.into(), value: value.into() }
}
