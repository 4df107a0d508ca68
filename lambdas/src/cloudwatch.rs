//! CloudWatch metrics through aws-sdk-cloudwatch `GetMetricData`: the single
//! metrics of a request in calls of up to 500 queries (ids `m0`, `m1`, …),
//! each metric-math query in its own call (its ids are the user's), every
//! page followed.

use crate::error::{from_sdk_time, port_error, to_sdk_time};
use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricStat};
use ecs_autopilot::config::{MetricId, MetricQuery};
use ecs_autopilot::memory::Datapoint;
use ecs_autopilot::ports::{MetricsPort, PortError};
use jiff::Timestamp;
use std::collections::BTreeMap;

const OP: &str = "cloudwatch:GetMetricData";

/// The [`MetricsPort`] over CloudWatch.
#[derive(Clone, Debug)]
pub struct CloudWatchMetrics {
    client: aws_sdk_cloudwatch::Client,
}

impl CloudWatchMetrics {
    #[must_use]
    pub fn new(client: aws_sdk_cloudwatch::Client) -> Self {
        Self { client }
    }

    /// Sends `queries` and returns the series of each id, every page read.
    async fn get(
        &self,
        queries: Vec<MetricDataQuery>,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<BTreeMap<String, Vec<Datapoint>>, PortError> {
        let mut out: BTreeMap<String, Vec<Datapoint>> = BTreeMap::new();
        let mut token: Option<String> = None;
        loop {
            let page = self
                .client
                .get_metric_data()
                .set_metric_data_queries(Some(queries.clone()))
                .start_time(to_sdk_time(from))
                .end_time(to_sdk_time(to))
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| port_error(OP, e))?;
            for r in page.metric_data_results() {
                let Some(id) = r.id() else { continue };
                let series = out.entry(id.to_owned()).or_default();
                for (t, v) in r.timestamps().iter().zip(r.values()) {
                    let timestamp = from_sdk_time(t)
                        .ok_or_else(|| PortError::permanent(OP, format!("result {id}: timestamp out of range")))?;
                    series.push(Datapoint { timestamp, value: *v });
                }
            }
            match page.next_token() {
                Some(next) if !next.is_empty() => token = Some(next.to_owned()),
                _ => break,
            }
        }
        for series in out.values_mut() {
            series.sort_by_key(|p| p.timestamp);
        }
        Ok(out)
    }
}

fn period(seconds: u32) -> Result<i32, PortError> {
    i32::try_from(seconds).map_err(|_| PortError::permanent(OP, format!("period {seconds} is too large")))
}

fn build_err(e: impl std::fmt::Display) -> PortError {
    PortError::permanent(OP, format!("invalid query: {e}"))
}

/// The CloudWatch query of one configured metric-math query.
fn math_query(
    q: &ecs_autopilot::config::aws::MetricDataQuery,
    period_seconds: u32,
) -> Result<MetricDataQuery, PortError> {
    let mut b = MetricDataQuery::builder().id(&q.id).return_data(q.return_data.unwrap_or(true));
    if let Some(e) = &q.expression {
        b = b.expression(e).period(period(period_seconds)?);
    }
    if let Some(label) = &q.label {
        b = b.label(label);
    }
    if let Some(stat) = &q.metric_stat {
        let mut metric = Metric::builder().namespace(&stat.metric.namespace).metric_name(&stat.metric.metric_name);
        for d in stat.metric.dimensions.as_deref().unwrap_or_default() {
            metric = metric.dimensions(Dimension::builder().name(&d.name).value(&d.value).build());
        }
        let p = stat.period.map_or(Ok(period_seconds), |p| u32::try_from(p).map_err(build_err))?;
        b = b.metric_stat(MetricStat::builder().metric(metric.build()).stat(&stat.stat).period(period(p)?).build());
    }
    Ok(b.build())
}

impl MetricsPort for CloudWatchMetrics {
    async fn fetch(
        &self,
        queries: &[(MetricId, MetricQuery)],
        from: Timestamp,
        to: Timestamp,
    ) -> Result<BTreeMap<MetricId, Vec<Datapoint>>, PortError> {
        let mut out: BTreeMap<MetricId, Vec<Datapoint>> = BTreeMap::new();
        let mut singles = Vec::new();
        let mut single_ids = BTreeMap::new();
        for (id, query) in queries {
            match query {
                MetricQuery::Single { namespace, metric_name, dimensions, statistic, period_seconds } => {
                    let mut metric = Metric::builder().namespace(namespace).metric_name(metric_name);
                    for d in dimensions {
                        metric = metric.dimensions(Dimension::builder().name(&d.name).value(&d.value).build());
                    }
                    let stat = MetricStat::builder()
                        .metric(metric.build())
                        .stat(statistic)
                        .period(period(*period_seconds)?)
                        .build();
                    let key = format!("m{}", singles.len());
                    singles.push(MetricDataQuery::builder().id(&key).metric_stat(stat).return_data(true).build());
                    single_ids.insert(key, id.clone());
                }
                MetricQuery::Math { queries: parts, period_seconds } => {
                    let built = parts.iter().map(|q| math_query(q, *period_seconds)).collect::<Result<Vec<_>, _>>()?;
                    // The returned series: the query with ReturnData (the
                    // validator allows exactly one), else the last.
                    let returned = parts
                        .iter()
                        .rev()
                        .find(|q| q.return_data.unwrap_or(true))
                        .or(parts.last())
                        .map(|q| q.id.clone())
                        .unwrap_or_default();
                    let mut series = self.get(built, from, to).await?;
                    out.insert(id.clone(), series.remove(&returned).unwrap_or_default());
                }
            }
        }
        for chunk in singles.chunks(ecs_autopilot::ports::GET_METRIC_DATA_BATCH) {
            let mut series = self.get(chunk.to_vec(), from, to).await?;
            for q in chunk {
                let Some(key) = q.id() else { continue };
                if let Some(id) = single_ids.remove(key) {
                    out.insert(id, series.remove(key).unwrap_or_default());
                }
            }
        }
        Ok(out)
    }
}
