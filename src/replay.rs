//! Open-loop replay of recorded EventBridge events and CloudWatch metrics
//! through the production code path: events are routed by the same rules as
//! `infra/`, sent to their targets, admitted by the ledger and decided on by
//! the very steps the Lambda handler runs ([`handler::targets_of`],
//! [`handler::admit`], [`handler::decide`]), one stored record per target as
//! in DynamoDB. Only the I/O differs: each service's view is folded from the
//! events (running tasks, deployments) instead of read from ECS, and ticks
//! come every minute of event time.
//!
//! Owns: the service view built from events and the replay loop. May not
//! touch: files or the clock — events, metrics and configuration arrive as
//! values, time comes from the events.

use crate::config::{Config, MetricId};
use crate::decision::{Action, Decision};
use crate::event::{self, DeploymentEventName, Detail, Parsed, TaskStatus};
use crate::handler::{self, TargetRecord};
use crate::memory::Datapoint;
use crate::ports::ServiceSnapshot;
use crate::route::Router;
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What the controller knows of one service, built from events.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ServiceView {
    pub desired: u32,
    /// Last known status per task ARN.
    pub tasks: BTreeMap<String, TaskStatus>,
    /// Running tasks before the first task event (from the initial state).
    pub baseline_running: u32,
    pub deployment_in_progress: bool,
}

impl ServiceView {
    fn running(&self) -> u32 {
        let seen = self.tasks.values().filter(|s| **s == TaskStatus::Running).count() as u32;
        if self.tasks.is_empty() {
            self.baseline_running
        } else {
            seen
        }
    }

    fn pending(&self) -> u32 {
        self.tasks
            .values()
            .filter(|s| matches!(s, TaskStatus::Provisioning | TaskStatus::Pending | TaskStatus::Activating))
            .count() as u32
    }
}

/// Folds an ECS event into the view of its service (what DescribeServices
/// would answer in AWS).
fn observe_event(view: &mut ServiceView, detail: &Detail) {
    match detail {
        Detail::TaskStateChange(task) => {
            if view.tasks.is_empty() {
                // Tasks not seen yet keep counting as the initial running tasks.
                for k in 0..view.baseline_running {
                    view.tasks.insert(format!("initial-{k}"), TaskStatus::Running);
                }
            }
            let known = view.tasks.contains_key(&task.task_arn);
            let placeholder = view.tasks.keys().find(|k| k.starts_with("initial-")).cloned();
            // A task first seen RUNNING (or leaving) is one of the initial
            // running tasks: it takes a placeholder's place.
            let was_initial = !known
                && !matches!(task.last_status, TaskStatus::Provisioning | TaskStatus::Pending | TaskStatus::Activating);
            if let (true, Some(k)) = (was_initial, placeholder) {
                view.tasks.remove(&k);
            }
            if task.last_status == TaskStatus::Stopped {
                view.tasks.remove(&task.task_arn);
            } else {
                view.tasks.insert(task.task_arn.clone(), task.last_status.clone());
            }
        }
        Detail::DeploymentStateChange(d) => {
            view.deployment_in_progress = d.event_name == DeploymentEventName::ServiceDeploymentInProgress;
        }
        _ => {}
    }
}

/// Initial state of a service: `{"desired": 4, "running": 4}`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InitialState {
    pub desired: u32,
    pub running: u32,
}

/// One recorded line: its number and text.
pub struct Line<'a> {
    pub number: usize,
    pub text: &'a str,
}

/// Why a replay cannot start or stopped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplayError {
    #[error("line {line}: {message}")]
    Event { line: usize, message: String },
    #[error("{0}")]
    Setup(String),
}

/// What a replay produced.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ReplayOutput {
    /// One record per evaluation, in time order, with what triggered it.
    pub decisions: Vec<(String, Decision)>,
    /// Events not acted on, counted by reason — nothing is dropped silently.
    pub ignored: BTreeMap<String, u64>,
    pub events: u64,
}

/// Recorded metrics: per service, per metric id, datapoints.
pub type Metrics = BTreeMap<String, BTreeMap<MetricId, Vec<Datapoint>>>;

/// Replays `lines` (EventBridge envelopes, one per line).
///
/// # Errors
/// [`ReplayError`] for a malformed line (naming it) or metrics that name a
/// service or metric the configuration does not have.
pub fn replay(
    config: &Config,
    router: &Router,
    initial: &BTreeMap<String, InitialState>,
    metrics: &Metrics,
    lines: &[Line<'_>],
) -> Result<ReplayOutput, ReplayError> {
    replay_with_progress(config, router, initial, metrics, lines, &mut |_, _| {})
}

/// [`replay`], reporting `(events acted on so far, events to act on)` to
/// `progress` as it goes (for a progress bar; called at most ~200 times).
///
/// # Errors
/// As [`replay`].
pub fn replay_with_progress(
    config: &Config,
    router: &Router,
    initial: &BTreeMap<String, InitialState>,
    metrics: &Metrics,
    lines: &[Line<'_>],
    progress: &mut dyn FnMut(usize, usize),
) -> Result<ReplayOutput, ReplayError> {
    for (service, series) in metrics {
        let Some(target) = config.targets.get(service) else {
            return Err(ReplayError::Setup(format!(
                "metrics for {service}, which is not a configured scalable target"
            )));
        };
        let wanted = target.metric_ids();
        for id in series.keys() {
            if !wanted.contains(id) {
                let names: Vec<String> = wanted.iter().map(ToString::to_string).collect();
                return Err(ReplayError::Setup(format!(
                    "metric {id} of {service} is not read by any of its policies (they read: {})",
                    names.join(", ")
                )));
            }
        }
    }
    // First pass: every line is routed and parsed, so a malformed line stops
    // the replay before it starts; only (time, line) is kept.
    let mut out = ReplayOutput::default();
    let mut order: Vec<(Timestamp, usize)> = Vec::new();
    let count = |out: &mut ReplayOutput, reason: &str| *out.ignored.entry(reason.to_owned()).or_default() += 1;
    for (index, line) in lines.iter().enumerate() {
        if line.text.trim().is_empty() {
            continue;
        }
        out.events += 1;
        let routed = !router
            .route(line.text)
            .map_err(|e| ReplayError::Event { line: line.number, message: e.to_string() })?
            .is_empty();
        let parsed = event::parse_event(line.text)
            .map_err(|e| ReplayError::Event { line: line.number, message: e.to_string() })?;
        match (parsed, routed) {
            (_, false) => count(&mut out, "matched no rule"),
            (Parsed::NotOurs { .. }, true) => count(&mut out, "routed but not an event kind the controller consumes"),
            (Parsed::Ours(e), true) => order.push((e.meta.time.instant(), index)),
        }
    }
    // EventBridge may deliver out of order; act in event-time order.
    order.sort_unstable();

    let mut views: BTreeMap<String, ServiceView> = config
        .targets
        .keys()
        .map(|id| {
            let init = initial.get(id).copied().unwrap_or_default();
            (
                id.clone(),
                ServiceView { desired: init.desired, baseline_running: init.running, ..ServiceView::default() },
            )
        })
        .collect();
    // One record (memory + ledger) per target, as the Lambda stores them.
    let mut records: BTreeMap<String, TargetRecord> = BTreeMap::new();
    let mut next_tick: Option<Timestamp> = None;
    let tick = SignedDuration::from_mins(1);
    // Per service, how far each of its metric series (in `metrics` order)
    // has been read.
    let mut cursors: BTreeMap<&str, Vec<usize>> =
        metrics.iter().map(|(service, m)| (service.as_str(), vec![0; m.len()])).collect();
    let mut evaluate = |now: Timestamp,
                        service: &str,
                        trigger: String,
                        views: &mut BTreeMap<String, ServiceView>,
                        records: &mut BTreeMap<String, TargetRecord>,
                        out: &mut ReplayOutput| {
        let (Some(target), Some(view)) = (config.targets.get(service), views.get_mut(service)) else { return };
        // Only the datapoints that became visible since the last evaluation:
        // controller memory keeps what the alarms need, so a week-long
        // replay stays linear.
        let visible: BTreeMap<MetricId, Vec<Datapoint>> = match (metrics.get(service), cursors.get_mut(service)) {
            (Some(m), Some(read)) => m
                .iter()
                .zip(read.iter_mut())
                .map(|((id, points), from)| {
                    let to = *from + points[*from..].partition_point(|p| p.timestamp <= now);
                    let new = points[*from..to].to_vec();
                    *from = to;
                    (id.clone(), new)
                })
                .collect(),
            _ => BTreeMap::new(),
        };
        let snapshot = ServiceSnapshot {
            desired: view.desired,
            running: view.running(),
            pending: view.pending(),
            primary_running: None,
            deployment_in_progress: view.deployment_in_progress,
        };
        // The handler's own decision step (what the Lambda runs between
        // its reads and its writes).
        if !records.contains_key(service) {
            records.insert(service.to_owned(), TargetRecord::default());
        }
        let Some(record) = records.get_mut(service) else { return };
        let decision = handler::decide(now, target, record, &snapshot, visible);
        // Open loop on the world, closed on our own desired count.
        for a in &decision.actions {
            if let Action::SetDesiredCount { to, .. } = a {
                view.desired = *to;
            }
        }
        out.decisions.push((trigger, decision));
    };
    // After the last event, ticks go on while recorded metrics continue.
    let end_of_metrics = metrics
        .values()
        .flat_map(|m| m.values())
        .filter_map(|points| points.last())
        .map(|p| p.timestamp)
        .max()
        .and_then(|t| t.checked_add(tick).ok());
    let total = order.len();
    let report_every = (total / 200).max(1);
    for (done, stop) in order.into_iter().map(Some).chain([None]).enumerate() {
        if done % report_every == 0 || done == total {
            progress(done.min(total), total);
        }
        // One-minute ticks up to this event (or to the end of the metrics).
        let until = match stop {
            Some((time, _)) => Some(time),
            None => end_of_metrics,
        };
        if let Some(until) = until {
            let mut t = *next_tick.get_or_insert_with(|| {
                Timestamp::from_second(until.as_second() - until.as_second().rem_euclid(60) + 60).unwrap_or(until)
            });
            while t <= until {
                let services: Vec<String> = views.keys().cloned().collect();
                for s in services {
                    evaluate(t, &s, "tick".into(), &mut views, &mut records, &mut out);
                }
                t = t.checked_add(tick).unwrap_or(Timestamp::MAX);
            }
            next_tick = Some(t);
        }
        let Some((time, index)) = stop else { break };
        let line = lines[index].number;
        // Parsed once already; a second parse keeps memory flat.
        let Ok(Parsed::Ours(e)) = event::parse_event(lines[index].text) else { continue };
        // The handler's routing to targets and its ledger, per target.
        let targets = match handler::targets_of(config, &e) {
            Ok(targets) => targets,
            Err(reason) => {
                *out.ignored.entry(reason.kind().into()).or_default() += 1;
                continue;
            }
        };
        let trigger = format!("event:{} line {line}", e.meta.id);
        for target in targets {
            let service = target.resource_id.as_str();
            let record = records.entry(service.to_owned()).or_default();
            if let Err(refusal) = handler::admit(&mut record.ledger, &e, time) {
                *out.ignored.entry(refusal.kind().into()).or_default() += 1;
                continue;
            }
            if let Some(view) = views.get_mut(service) {
                observe_event(view, &e.detail);
            }
            evaluate(time, service, trigger.clone(), &mut views, &mut records, &mut out);
        }
    }
    Ok(out)
}

/// Reads `GetMetricData` output (`MetricDataResults` with Id, Timestamps,
/// Values) with a mapping `Id → (service, metric id)`.
///
/// # Errors
/// [`ReplayError::Setup`] naming the Id or field that does not fit.
pub fn metrics_from_get_metric_data(
    output: &serde_json::Value,
    mapping: &BTreeMap<String, MetricMapping>,
) -> Result<Metrics, ReplayError> {
    let results = output.get("MetricDataResults").and_then(|r| r.as_array()).ok_or_else(|| {
        ReplayError::Setup("metrics: no MetricDataResults list (expected GetMetricData output)".into())
    })?;
    let mut out: Metrics = BTreeMap::new();
    let mut seen = Vec::new();
    for (i, r) in results.iter().enumerate() {
        let id = r
            .get("Id")
            .and_then(|v| v.as_str())
            .ok_or_else(|| ReplayError::Setup(format!("metrics: MetricDataResults[{i}].Id missing")))?;
        let Some(map) = mapping.get(id) else {
            return Err(ReplayError::Setup(format!(
                "metrics: MetricDataResults[{i}] has Id {id:?}, which the metric mapping does not name"
            )));
        };
        seen.push(id.to_owned());
        let times = r.get("Timestamps").and_then(|v| v.as_array()).cloned().unwrap_or_default();
        let values = r.get("Values").and_then(|v| v.as_array()).cloned().unwrap_or_default();
        if times.len() != values.len() {
            return Err(ReplayError::Setup(format!(
                "metrics: MetricDataResults[{i}] ({id}) has {} Timestamps but {} Values",
                times.len(),
                values.len()
            )));
        }
        let series = out.entry(map.service.clone()).or_default().entry(MetricId(map.metric.clone())).or_default();
        for (k, (t, v)) in times.iter().zip(&values).enumerate() {
            let timestamp = t.as_str().and_then(|s| crate::event::time::parse_instant(s).ok()).ok_or_else(|| {
                ReplayError::Setup(format!("metrics: MetricDataResults[{i}].Timestamps[{k}] is not a timestamp"))
            })?;
            let value = v.as_f64().ok_or_else(|| {
                ReplayError::Setup(format!("metrics: MetricDataResults[{i}].Values[{k}] is not a number"))
            })?;
            series.push(Datapoint { timestamp, value });
        }
        series.sort_by_key(|p| p.timestamp);
    }
    for id in mapping.keys() {
        if !seen.contains(id) {
            return Err(ReplayError::Setup(format!(
                "metric mapping names Id {id:?}, which the GetMetricData output does not contain"
            )));
        }
    }
    Ok(out)
}

/// Which service and metric a `GetMetricData` Id is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricMapping {
    /// `service/<cluster>/<service>`.
    pub service: String,
    /// The metric id a policy reads (e.g. `ECSServiceAverageCPUUtilization`).
    pub metric: String,
}
