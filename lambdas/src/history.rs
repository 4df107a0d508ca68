//! `autopilot-aws history`: what `autopilot replay --events` and `autopilot
//! plan` need for a time range, read from the account — every metric the
//! configuration's policies read (through the very `GetMetricData` adapter
//! the controller uses), the events the stack recorded in its event log
//! group, and each service's desired and running count at the start (from
//! Container Insights, when the cluster has it) — in the files those
//! commands read (docs/plan.md).
//!
//! Owns: the export and its file shapes. May not touch: files (the binary
//! writes them).

use crate::cloudwatch::CloudWatchMetrics;
use crate::error::port_error;
use ecs_autopilot::config::aws::Dimension;
use ecs_autopilot::config::{Config, MetricId, MetricQuery};
use ecs_autopilot::ports::{MetricsPort, PortError};
use ecs_autopilot::replay::{InitialState, MetricMapping, MAX_SPAN};
use jiff::{SignedDuration, Timestamp};
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// The clients a history export reads through.
#[derive(Clone, Debug)]
pub struct Clients {
    pub cloudwatch: aws_sdk_cloudwatch::Client,
    pub logs: aws_sdk_cloudwatchlogs::Client,
}

/// What to export.
#[derive(Clone, Copy, Debug)]
pub struct HistoryRequest<'a> {
    pub config: &'a Config,
    pub from: Timestamp,
    pub to: Timestamp,
    /// The stack's event log group; without it only metrics are exported.
    pub log_group: Option<&'a str>,
}

/// What was exported.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Exported {
    /// `GetMetricData`-shaped: `{"MetricDataResults": [{Id, Label, Timestamps, Values}]}`.
    pub metrics: Value,
    /// Which service and metric each Id is.
    pub metric_map: BTreeMap<String, MetricMapping>,
    /// EventBridge envelopes, one per line, in event-time order.
    pub events: Vec<String>,
    pub initial: BTreeMap<String, InitialState>,
    /// What is missing or was skipped, one line each.
    pub notes: Vec<String>,
}

/// Why an export failed.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error("{0}")]
    Range(String),
    #[error("{0}")]
    Call(#[from] PortError),
    #[error("cannot encode {file}: {reason}")]
    Encode { file: String, reason: String },
}

/// Reads the range.
///
/// # Errors
/// [`HistoryError::Range`] for an empty or too long range (a replay covers
/// at most [`MAX_SPAN`]); [`HistoryError::Call`] for a failed call.
pub async fn export(clients: &Clients, request: &HistoryRequest<'_>) -> Result<Exported, HistoryError> {
    let (from, to) = (request.from, request.to);
    if to <= from {
        return Err(HistoryError::Range(format!("--to {to} is not after --from {from}")));
    }
    if to.duration_since(from) > MAX_SPAN {
        return Err(HistoryError::Range(format!(
            "{from} to {to} is longer than the {} days a replay covers: export it in parts",
            MAX_SPAN.as_hours() / 24
        )));
    }
    let mut out = Exported::default();
    let metrics = CloudWatchMetrics::new(clients.cloudwatch.clone());
    // Every service's queries in one request (the adapter splits it into
    // GetMetricData calls of 500 queries), each keyed by its export Id.
    let mut queries: Vec<(MetricId, MetricQuery)> = Vec::new();
    let mut owners: Vec<(String, &String, &MetricId)> = Vec::new();
    for (s, (service, target)) in request.config.targets.iter().enumerate() {
        for (m, (metric, q)) in target.queries.iter().enumerate() {
            let id = format!("s{s}m{m}");
            queries.push((MetricId(id.clone()), q.clone()));
            owners.push((id, service, metric));
        }
    }
    let mut series = metrics.fetch(&queries, from, to).await?;
    let mut results = Vec::new();
    for (id, service, metric) in owners {
        let points = series.remove(&MetricId(id.clone())).unwrap_or_default();
        if points.is_empty() {
            out.notes.push(format!("{service}: CloudWatch returned no datapoint of {metric} in the range"));
        }
        results.push(json!({
            "Id": id,
            "Label": metric.0,
            "Timestamps": points.iter().map(|p| p.timestamp.to_string()).collect::<Vec<_>>(),
            "Values": points.iter().map(|p| p.value).collect::<Vec<_>>(),
        }));
        out.metric_map.insert(id, MetricMapping { service: service.clone(), metric: metric.0.clone() });
    }
    let services: Vec<&String> = request.config.targets.keys().collect();
    let mut initial = initial_states(&metrics, &services, from).await?;
    for service in services {
        match initial.remove(service.as_str()) {
            Some(state) => {
                out.initial.insert(service.clone(), state);
            }
            None => out.notes.push(format!(
                "{service}: no Container Insights DesiredTaskCount/RunningTaskCount at {from}: initial.json leaves it out (the replay starts it at 0; add it by hand)"
            )),
        }
    }
    out.metrics = json!({ "MetricDataResults": results });
    match request.log_group {
        Some(group) => out.events = events(clients, group, from, to, &mut out.notes).await?,
        None => out.notes.push("no --log-group: no events exported (the replay then runs on the tick alone)".into()),
    }
    Ok(out)
}

/// The files of an export, `(name, text)`.
///
/// # Errors
/// [`HistoryError::Encode`] if a value cannot be encoded.
pub fn files(exported: &Exported) -> Result<Vec<(String, String)>, HistoryError> {
    let encode = |file: &str, v: Result<String, serde_json::Error>| {
        v.map_err(|e| HistoryError::Encode { file: file.to_owned(), reason: e.to_string() })
    };
    let mut events = exported.events.join("\n");
    if !events.is_empty() {
        events.push('\n');
    }
    Ok(vec![
        ("metrics.json".into(), encode("metrics.json", serde_json::to_string_pretty(&exported.metrics))?),
        ("metric-map.json".into(), encode("metric-map.json", serde_json::to_string_pretty(&exported.metric_map))?),
        ("initial.json".into(), encode("initial.json", serde_json::to_string_pretty(&exported.initial))?),
        ("events.jsonl".into(), events),
    ])
}

/// Each service's desired and running count at `at`, from Container
/// Insights (the first minute at or after it), for the services whose
/// cluster publishes them; one request for all services.
async fn initial_states<'a>(
    metrics: &CloudWatchMetrics,
    services: &[&'a String],
    at: Timestamp,
) -> Result<BTreeMap<&'a str, InitialState>, HistoryError> {
    let query = |cluster: &str, name: &str, metric: &str| MetricQuery::Single {
        namespace: "ECS/ContainerInsights".into(),
        metric_name: metric.into(),
        dimensions: vec![
            Dimension { name: "ClusterName".into(), value: cluster.into() },
            Dimension { name: "ServiceName".into(), value: name.into() },
        ],
        statistic: "Average".into(),
        period_seconds: 60,
    };
    let mut queries = Vec::new();
    for (s, service) in services.iter().enumerate() {
        let mut parts = service.splitn(3, '/');
        let (Some(_), Some(cluster), Some(name)) = (parts.next(), parts.next(), parts.next()) else { continue };
        queries.push((MetricId(format!("d{s}")), query(cluster, name, "DesiredTaskCount")));
        queries.push((MetricId(format!("r{s}")), query(cluster, name, "RunningTaskCount")));
    }
    let until = at.checked_add(SignedDuration::from_mins(5)).unwrap_or(at);
    let found = metrics.fetch(&queries, at, until).await?;
    let first = |id: String| found.get(&MetricId(id)).and_then(|p| p.first()).map(|p| p.value.round().max(0.0) as u32);
    Ok(services
        .iter()
        .enumerate()
        .filter_map(|(s, service)| match (first(format!("d{s}")), first(format!("r{s}"))) {
            (Some(desired), Some(running)) => Some((service.as_str(), InitialState { desired, running })),
            _ => None,
        })
        .collect())
}

/// The recorded events of the range, in event-time order; a message that
/// is not an EventBridge envelope is counted in a note, not dropped silently.
async fn events(
    clients: &Clients,
    group: &str,
    from: Timestamp,
    to: Timestamp,
    notes: &mut Vec<String>,
) -> Result<Vec<String>, HistoryError> {
    const OP: &str = "logs:FilterLogEvents";
    let mut timed: Vec<(Timestamp, String)> = Vec::new();
    let mut skipped = 0usize;
    let mut pages = clients
        .logs
        .filter_log_events()
        .log_group_name(group)
        .start_time(from.as_millisecond())
        .end_time(to.as_millisecond())
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| port_error(OP, e))?;
        for e in page.events() {
            let Some(message) = e.message() else { continue };
            let parsed: Option<(Timestamp, Value)> = serde_json::from_str::<Value>(message).ok().and_then(|v| {
                let time = v.get("time")?.as_str()?.parse::<Timestamp>().ok()?;
                v.get("detail-type")?;
                Some((time, v))
            });
            match parsed {
                Some((time, v)) => timed.push((time, v.to_string())),
                None => skipped += 1,
            }
        }
    }
    if skipped > 0 {
        notes.push(format!("{skipped} message(s) of {group} are not EventBridge events: left out"));
    }
    if timed.is_empty() {
        notes.push(format!("{group} holds no event in the range"));
    }
    timed.sort_by_key(|(t, _)| *t);
    Ok(timed.into_iter().map(|(_, line)| line).collect())
}
