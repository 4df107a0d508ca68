//! The handlers: what a Lambda invocation (or a replayed event) does, driven
//! through the [ports](crate::ports). Routing decides which handler sees an
//! event; a handler decides which scalable targets it concerns, and for each:
//!
//! ```text
//! load memory (version v) ─► ledger: duplicate / stale? ─► describe service ─► fetch metrics
//!   ─► controller::evaluate ─► save memory' if still v (conflict: reload, decide again)
//!   ─► apply actions (failure: restore memory v, return a retryable error) ─► publish record
//! ```
//!
//! Memory is claimed *before* acting: of concurrent invocations on one
//! service only the one whose conditional write wins may act, and the others
//! decide again on the winner's memory (its cooldown, its processed event
//! ids), so there is never a double action. A failed action puts the previous
//! memory back, so nothing is recorded as done that was not done.
//!
//! Owns: the order above and the outcome of every event. May not touch: the
//! clock (`now` is an argument) or I/O other than through the ports.

pub mod capacity;
mod claim;
mod executor;
mod round;
mod shard;

pub use executor::block_on;
pub use round::{ApiBudget, Deferred};
pub use shard::{Shard, ShardError};

use crate::config::{Config, MetricId, MetricQuery, TargetConfig};
use crate::controller;
use crate::decision::{Action, Decision};
use crate::event::{self, Detail, Event, Parsed};
use crate::memory::{Datapoint, EventLedger, Freshness, TargetMemory};
use crate::policy::Observation;
use crate::ports::Clock;
use crate::ports::{DecisionPort, MetricsPort, PortError, ServicePort, ServiceSnapshot, StatePort};
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// How a handler behaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settings {
    /// Decide, record and publish, but apply nothing.
    pub shadow: bool,
    /// Conditional-write attempts before giving up (and letting Lambda retry).
    pub max_attempts: u32,
    /// How long an invocation of the tick keeps polling the targets that
    /// [`polls`] names (0: no polling). The function's timeout must exceed
    /// it (`infra/template.yaml`).
    pub poll_window_seconds: u32,
    /// Targets whose reads and claims run at once in a round (docs/fleet.md).
    pub concurrency: u32,
    /// Calls of each rate-limited API one round may make.
    pub budget: ApiBudget,
    /// The part of the fleet this function's ticks evaluate (fan-out,
    /// docs/fleet.md); events are evaluated whatever their target's shard.
    pub shard: Shard,
}

/// Targets claimed at once by default: enough to finish 1,000 services in
/// seconds, few enough that the conditional writes of one round stay far
/// below a DynamoDB partition's 1,000 writes per second (docs/fleet.md).
pub const DEFAULT_CONCURRENCY: u32 = 32;

impl Default for Settings {
    fn default() -> Self {
        Self {
            shadow: false,
            max_attempts: 8,
            poll_window_seconds: 50,
            concurrency: DEFAULT_CONCURRENCY,
            budget: ApiBudget::default(),
            shard: Shard::WHOLE,
        }
    }
}

/// Why an invocation failed. Retryable failures are returned to Lambda so it
/// retries and, in the end, sends the event to the dead-letter queue.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HandlerError {
    #[error("{0}")]
    Port(#[from] PortError),
    #[error("stored memory under {key} is unreadable: {reason}")]
    CorruptMemory { key: String, reason: String },
    #[error("stored memory under {key} has schema {found}, newer than this build's {RECORD_SCHEMA}: deploy the newer build (a rollback must not rewrite it)")]
    NewerRecord { key: String, found: u32 },
    #[error("memory for {key} cannot be encoded: {reason}")]
    Encode { key: String, reason: String },
    #[error("memory of {key} kept changing: {attempts} conditional writes lost, giving up so Lambda retries")]
    Contention { key: String, attempts: u32 },
    #[error("{action} on {target} failed: {source}; {}", if *restored { "the decision was undone, a retry acts again" } else { "the recorded decision could not be undone (a concurrent write or failed restore): the next evaluation decides on it" })]
    ActionFailed { target: String, action: String, source: PortError, restored: bool },
    #[error("capacity planning for {provider} failed: {reason}")]
    Planning { provider: String, reason: String },
    /// The round's API budget could not pay for this event's target; Lambda
    /// retries the event (a tick's targets wait for the next round instead).
    #[error("{target} was deferred: {}; retry the event", deferral_cause(deferral))]
    Deferred { target: String, deferral: crate::decision::Deferral },
    /// Some targets of one event failed; every other target was evaluated.
    #[error("{} of the event's targets failed (the others were evaluated): {}", failures.len(), render_failures(failures))]
    Targets { failures: Vec<(String, HandlerError)> },
}

/// Why a target was deferred: the transient failure when there was one,
/// else the spent budget.
fn deferral_cause(deferral: &crate::decision::Deferral) -> String {
    match &deferral.transient {
        Some(error) => format!("{} failed transiently after the SDK's retries: {error}", deferral.api),
        None => format!("the round's budget of {} {} calls is spent", deferral.budget, deferral.api),
    }
}

fn render_failures(failures: &[(String, HandlerError)]) -> String {
    failures.iter().map(|(target, e)| format!("{target}: {e}")).collect::<Vec<_>>().join("; ")
}

impl HandlerError {
    /// Whether Lambda should retry the event.
    #[must_use]
    pub fn retryable(&self) -> bool {
        match self {
            Self::Port(e) | Self::ActionFailed { source: e, .. } => e.retryable,
            Self::Contention { .. } | Self::Deferred { .. } => true,
            Self::CorruptMemory { .. } | Self::NewerRecord { .. } | Self::Encode { .. } | Self::Planning { .. } => {
                false
            }
            // A retry re-evaluates every target; those that succeeded decide
            // again on their new memory and do not act twice.
            Self::Targets { failures } => failures.iter().any(|(_, e)| e.retryable()),
        }
    }
}

/// What one invocation did.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// Decision records, one per evaluated target.
    pub decisions: Vec<Decision>,
    /// Targets or events not acted on, with the reason (never silent).
    pub ignored: Vec<Ignored>,
    /// Whether actions were applied (false in shadow mode).
    pub applied: bool,
    /// Records that could not be published (the decision stands).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub publish_errors: Vec<String>,
    /// Targets the API budget put off to the next round.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deferred: Vec<Deferred>,
}

/// An event or target not acted on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ignored {
    pub event_id: Option<String>,
    pub target: Option<String>,
    /// A short kind, for counting (e.g. `duplicate event id`).
    #[serde(default)]
    pub kind: String,
    pub reason: String,
}

/// The ports the service handler drives.
pub struct ServicePorts<'a, S, M, T, D> {
    pub services: &'a S,
    pub metrics: &'a M,
    pub state: &'a T,
    pub decisions: &'a D,
}

/// Memory of one scalable target as stored (one document per target).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TargetRecord {
    /// [`RECORD_SCHEMA`] of the build that wrote it (0: before schemas).
    #[serde(default)]
    pub schema: u32,
    #[serde(default)]
    pub memory: TargetMemory,
    #[serde(default)]
    pub ledger: EventLedger,
    /// Per metric, how late its newest datapoint was first read: polls
    /// read CloudWatch only once the next one can be there.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub arrivals: BTreeMap<MetricId, Arrival>,
}

/// When the newest datapoint of a metric was first read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Arrival {
    /// The newest datapoint's timestamp (start of its period).
    #[serde(with = "crate::memory::stored_time::single")]
    pub newest: Timestamp,
    /// Seconds from the end of its period until it was first read: the
    /// publication delay, as seen at the polls' granularity.
    pub lag_seconds: i64,
}

/// The state key of a scalable target.
#[must_use]
pub fn target_key(resource_id: &str) -> String {
    format!("target#{resource_id}")
}

/// `detail-type` of published decision records.
pub const DECISION_DETAIL_TYPE: &str = "ECS Autopilot Decision";

/// Handles one EventBridge event delivered to the service handler: ECS task,
/// service action and deployment events evaluate their service; alarm state
/// changes evaluate the targets whose policies the alarm drives; scheduled
/// events (the one-minute tick) evaluate every target.
///
/// A malformed or foreign event is acknowledged with a reason in
/// [`Report::ignored`], not returned as an error, so it never loops.
///
/// # Errors
/// [`HandlerError`]; [`HandlerError::retryable`] says whether to retry.
pub async fn handle_event<S, M, T, D>(
    now: Timestamp,
    config: &Config,
    settings: Settings,
    ports: &ServicePorts<'_, S, M, T, D>,
    event_json: &serde_json::Value,
) -> Result<Report, HandlerError>
where
    S: ServicePort + Sync,
    M: MetricsPort + Sync,
    T: StatePort + Sync,
    D: DecisionPort + Sync,
{
    let mut report = Report { applied: !settings.shadow, ..Report::default() };
    match parse(event_json).and_then(|event| Ok((sharded(settings, &event)?, event))) {
        Ok((settings, event)) => handle_parsed(now, config, settings, ports, &event, &mut report).await?,
        Err(ignored) => report.ignored.push(ignored),
    }
    Ok(report)
}

/// `settings` with the shard this event's tick evaluates: the one its
/// `detail.shard` names (`"<index>/<count>"`, set by the tick rule's fan-out
/// targets, docs/fleet.md), else the function's own. Other events keep the
/// function's shard, which only ticks use.
///
/// # Errors
/// An [`Ignored`] naming `detail.shard` when it is not a valid shard: the
/// tick rule's input is wrong, and retrying cannot fix it.
fn sharded(settings: Settings, event: &Event) -> Result<Settings, Ignored> {
    let Detail::Scheduled(event::ScheduledDetail::Object(detail)) = &event.detail else { return Ok(settings) };
    let Some(value) = detail.get("shard") else { return Ok(settings) };
    let shard = value
        .as_str()
        .ok_or_else(|| format!("not a string but {value}"))
        .and_then(|text| text.parse::<Shard>().map_err(|e| e.to_string()));
    match shard {
        Ok(shard) => Ok(Settings { shard, ..settings }),
        Err(why) => Err(Ignored {
            event_id: Some(event.meta.id.clone()),
            target: None,
            kind: "malformed event".to_owned(),
            reason: format!("malformed event: detail.shard: {why}"),
        }),
    }
}

/// [`handle_event`] on an event already parsed.
async fn handle_parsed<S, M, T, D>(
    now: Timestamp,
    config: &Config,
    settings: Settings,
    ports: &ServicePorts<'_, S, M, T, D>,
    event: &Event,
    report: &mut Report,
) -> Result<(), HandlerError>
where
    S: ServicePort + Sync,
    M: MetricsPort + Sync,
    T: StatePort + Sync,
    D: DecisionPort + Sync,
{
    let targets = match targets_of(config, event) {
        Ok(targets) => targets,
        Err(reason) => {
            report.ignored.push(Ignored {
                event_id: Some(event.meta.id.clone()),
                target: None,
                kind: reason.kind().to_owned(),
                reason: reason.to_string(),
            });
            return Ok(());
        }
    };
    let targets: Vec<&TargetConfig> = if matches!(event.detail, Detail::Scheduled(_)) {
        targets.into_iter().filter(|t| settings.shard.owns(&t.resource_id)).collect()
    } else {
        targets
    };
    round::evaluate_round(now, &targets, settings, ports, event, Trigger::Event, report).await
}

/// Why an event concerns no configured target.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NoTarget {
    #[error("the event names no ECS service in the cluster/service form")]
    NoService,
    #[error("task {task} does not belong to a service (group {group:?})")]
    NotAServiceTask { task: String, group: Option<String> },
    #[error("{0} is not a configured scalable target")]
    NotConfigured(String),
    #[error("alarm {0:?} drives no configured policy")]
    AlarmDrivesNoPolicy(String),
    #[error("container instance and Spot instance events are the capacity handler's")]
    CapacityEvent,
}

impl NoTarget {
    /// A short kind, for counting ignored events by reason.
    #[must_use]
    pub fn kind(&self) -> &'static str {
        match self {
            Self::NoService | Self::NotAServiceTask { .. } => "not a service's event",
            Self::NotConfigured(_) => "service not configured",
            Self::AlarmDrivesNoPolicy(_) => "alarm drives no configured policy",
            Self::CapacityEvent => "capacity event",
        }
    }
}

/// The configured targets an event concerns.
///
/// # Errors
/// [`NoTarget`]: why no configured target is concerned (the event is
/// acknowledged with it).
pub fn targets_of<'c>(config: &'c Config, event: &Event) -> Result<Vec<&'c TargetConfig>, NoTarget> {
    let configured = |id: Option<String>| -> Result<Vec<&'c TargetConfig>, NoTarget> {
        let id = id.ok_or(NoTarget::NoService)?;
        match config.targets.get(&id) {
            Some(t) => Ok(vec![t]),
            None => Err(NoTarget::NotConfigured(id)),
        }
    };
    match &event.detail {
        Detail::TaskStateChange(task) => {
            let Some(name) = task.service_name() else {
                return Err(NoTarget::NotAServiceTask { task: task.task_arn.clone(), group: task.group.clone() });
            };
            let cluster = event::cluster_name_from_arn(&task.cluster_arn).unwrap_or_default();
            configured(Some(format!("service/{cluster}/{name}")))
        }
        Detail::ServiceAction(_) | Detail::DeploymentStateChange(_) => {
            configured(event.service_arn().and_then(event::resource_id_from_service_arn))
        }
        Detail::AlarmStateChange(alarm) => {
            // Step policies name their alarm; target tracking alarms are
            // named `TargetTracking-<resource id>-AlarmHigh-<uuid>` (or
            // AlarmLow) by Application Auto Scaling.
            let name = &alarm.alarm_name;
            let hit: Vec<&TargetConfig> = config
                .targets
                .values()
                .filter(|t| {
                    t.step.iter().any(|p| &p.alarm.name == name)
                        || (!t.target_tracking.is_empty()
                            && name.starts_with("TargetTracking-")
                            && name.contains(&format!("{}-Alarm", t.resource_id)))
                })
                .collect();
            if hit.is_empty() {
                Err(NoTarget::AlarmDrivesNoPolicy(name.clone()))
            } else {
                Ok(hit)
            }
        }
        Detail::Scheduled(_) => Ok(config.targets.values().collect()),
        Detail::ContainerInstanceStateChange(_) | Detail::SpotInterruption(_) | Detail::RebalanceRecommendation(_) => {
            Err(NoTarget::CapacityEvent)
        }
    }
}

/// How far back metrics are fetched: the longest alarm window plus late
/// datapoints (CloudWatch may publish a period minutes after it ends), and
/// at least everything the policies read
/// ([`controller::datapoint_retention`]): every evaluation sees the whole
/// history it needs, so the stored record keeps no datapoints.
fn metric_window(target: &TargetConfig) -> SignedDuration {
    let longest = target
        .step
        .iter()
        .map(|p| i64::from(p.alarm.period_seconds) * i64::from(p.alarm.evaluation_periods))
        .chain(target.queries.values().map(|q| i64::from(q.period_seconds()) * 15))
        .max()
        .unwrap_or(900);
    SignedDuration::from_secs(longest + 300).max(controller::datapoint_retention(target))
}

/// Suffix of the companion query that fetches a metric's `SampleCount`.
pub const SAMPLE_COUNT_SUFFIX: &str = "#SampleCount";

/// What the handler fetches for a target: every configured query, and for
/// each `fast`-mode target-tracking policy on a single `Average` metric its
/// `SampleCount` too (the number of tasks that reported, docs/lambdas.md),
/// under the id `<metric id>#SampleCount`. One `GetMetricData` call carries
/// them all.
#[must_use]
pub fn fetch_queries(target: &TargetConfig) -> Vec<(MetricId, MetricQuery)> {
    let mut queries: Vec<(MetricId, MetricQuery)> =
        target.queries.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    if target.extensions.mode == crate::config::EvaluationMode::Fast {
        for p in &target.target_tracking {
            if let Some(MetricQuery::Single { namespace, metric_name, dimensions, statistic, period_seconds }) =
                target.queries.get(&p.metric)
            {
                let id = MetricId(format!("{}{SAMPLE_COUNT_SUFFIX}", p.metric));
                if statistic == "Average" && !queries.iter().any(|(k, _)| *k == id) {
                    let q = MetricQuery::Single {
                        namespace: namespace.clone(),
                        metric_name: metric_name.clone(),
                        dimensions: dimensions.clone(),
                        statistic: "SampleCount".into(),
                        period_seconds: *period_seconds,
                    };
                    queries.push((id, q));
                }
            }
        }
    }
    queries
}

/// Splits fetched series into the metrics and their sample counts.
fn split_sample_counts(
    fetched: BTreeMap<MetricId, Vec<Datapoint>>,
) -> (BTreeMap<MetricId, Vec<Datapoint>>, BTreeMap<MetricId, Vec<Datapoint>>) {
    let mut metrics = BTreeMap::new();
    let mut counts = BTreeMap::new();
    for (id, series) in fetched {
        match id.0.strip_suffix(SAMPLE_COUNT_SUFFIX) {
            Some(base) => counts.insert(MetricId(base.to_owned()), series),
            None => metrics.insert(id, series),
        };
    }
    (metrics, counts)
}

/// How often an invocation of the tick re-evaluates a target while it
/// lasts: `fast` mode acts on each datapoint as it becomes readable, and
/// `aws` mode with sub-minute alarms follows CloudWatch, which evaluates
/// them every 10 s (docs/lambdas.md, "Polling within the tick").
pub const POLL_INTERVAL: SignedDuration = SignedDuration::from_secs(10);

/// Whether the tick's invocation polls this target within the minute.
#[must_use]
pub fn polls(target: &TargetConfig) -> bool {
    let ext = &target.extensions;
    match ext.mode {
        crate::config::EvaluationMode::Fast => true,
        crate::config::EvaluationMode::Aws => {
            target.target_tracking.iter().any(|p| ext.alarm_shape(p.high_resolution()).period_seconds < 60)
                || target.step.iter().any(|p| p.alarm.period_seconds < 60)
        }
    }
}

/// Whether a datapoint newer than the newest one read can be readable at
/// `now`: the period after it must have ended and the publication delay
/// last seen must have passed. The delay is seen at the polls' granularity,
/// so with a steady delay the first poll that reads is the first that can
/// see the datapoint; a delay that shrinks costs at most one poll
/// (docs/lambdas.md). A poll that cannot see new data reads
/// nothing (no ECS or CloudWatch call, no DynamoDB write).
fn new_data_possible(target: &TargetConfig, arrivals: &BTreeMap<MetricId, Arrival>, now: Timestamp) -> bool {
    target.queries.iter().any(|(id, q)| {
        let period = i64::from(q.period_seconds().max(1));
        let Some(arrival) = arrivals.get(id) else { return true };
        let (newest, lag) = (arrival.newest, arrival.lag_seconds);
        let wait = 2 * period + lag;
        newest.checked_add(SignedDuration::from_secs(wait)).is_ok_and(|next| now >= next)
    })
}

/// Records when each metric's newest datapoint was first read.
fn note_arrivals(
    target: &TargetConfig,
    record: &mut TargetRecord,
    fetched: &BTreeMap<MetricId, Vec<Datapoint>>,
    now: Timestamp,
) {
    for (id, q) in &target.queries {
        let Some(newest) = fetched.get(id).and_then(|s| s.iter().map(|p| p.timestamp).max()) else { continue };
        if record.arrivals.get(id).is_some_and(|a| a.newest >= newest) {
            continue;
        }
        let period_end = newest.as_second().saturating_add(i64::from(q.period_seconds()));
        let lag_seconds = (now.as_second() - period_end).max(0);
        record.arrivals.insert(id.clone(), Arrival { newest, lag_seconds });
    }
}

/// Whether an evaluation runs on the invocation's event or on a poll within it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Trigger {
    Event,
    Poll,
}

/// A target's service and metric windows as the round's batched reads found them.
type Prefetched = (ServiceSnapshot, BTreeMap<MetricId, Vec<Datapoint>>);

/// The service handler's unit of work: one scalable target.
struct ServiceWork<'p, 'a, S, M, T, D> {
    target: &'p TargetConfig,
    ports: &'p ServicePorts<'a, S, M, T, D>,
    trigger: Trigger,
    /// What the round's batched reads found, for the first attempt; a
    /// conflict's retry reads again.
    prefetched: std::sync::Mutex<Option<Prefetched>>,
    budget: &'p round::RoundBudget,
}

impl<S, M, T, D> claim::Work for ServiceWork<'_, '_, S, M, T, D>
where
    S: ServicePort + Sync,
    M: MetricsPort + Sync,
    T: StatePort + Sync,
    D: DecisionPort + Sync,
{
    type Record = TargetRecord;
    type Decision = Decision;

    fn ledger(record: &mut TargetRecord) -> &mut EventLedger {
        &mut record.ledger
    }

    async fn decide(&self, now: Timestamp, record: &mut TargetRecord) -> Result<Option<Decision>, HandlerError> {
        let target = self.target;
        let prefetched = self.prefetched.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take();
        if let Some((snapshot, fetched)) = prefetched {
            note_arrivals(target, record, &fetched, now);
            return Ok(Some(decide(now, target, record, &snapshot, fetched)));
        }
        if self.trigger == Trigger::Poll && !new_data_possible(target, &record.arrivals, now) {
            return Ok(None);
        }
        self.budget.count(round::Api::DescribeServices, 1);
        let snapshot = self.ports.services.describe(&target.resource_id).await?;
        let queries = fetch_queries(target);
        let from = now.checked_sub(metric_window(target)).unwrap_or(Timestamp::MIN);
        let fetched = if queries.is_empty() {
            BTreeMap::new()
        } else {
            self.budget.count(round::Api::GetMetricData, 1);
            self.ports.metrics.fetch(&queries, from, now).await?
        };
        note_arrivals(target, record, &fetched, now);
        Ok(Some(decide(now, target, record, &snapshot, fetched)))
    }

    fn reserve(&self, decision: &Decision) -> Result<(), crate::decision::Deferral> {
        match round::update_calls(decision) {
            0 => Ok(()),
            calls => self.budget.take(round::Api::UpdateService, calls),
        }
    }

    async fn act(&self, decision: &Decision) -> Result<(), (String, PortError)> {
        for action in &decision.actions {
            // Bounds set by scheduled actions live in our memory; only the
            // desired count is an AWS call.
            let Action::SetDesiredCount { to, .. } = action else { continue };
            self.ports
                .services
                .set_desired_count(&self.target.resource_id, *to)
                .await
                .map_err(|e| (format!("ecs:UpdateService desiredCount={to}"), e))?;
        }
        Ok(())
    }
}

/// Runs one invocation of the controller function as Lambda does: the event
/// is handled at [`Clock::now`]; an invocation of the one-minute tick then
/// stays for [`Settings::poll_window_seconds`], re-evaluating every
/// [`POLL_INTERVAL`] the targets that [`polls`] names, each only when a new
/// datapoint can be readable. The Lambda edge and the simulator both call
/// this, so both poll alike.
///
/// # Errors
/// As [`handle_event`].
pub async fn invoke<C, S, M, T, D>(
    clock: &C,
    config: &Config,
    settings: Settings,
    ports: &ServicePorts<'_, S, M, T, D>,
    event_json: &serde_json::Value,
) -> Result<Report, HandlerError>
where
    C: Clock + Sync,
    S: ServicePort + Sync,
    M: MetricsPort + Sync,
    T: StatePort + Sync,
    D: DecisionPort + Sync,
{
    let start = clock.now();
    let mut report = Report { applied: !settings.shadow, ..Report::default() };
    let (settings, event) = match parse(event_json).and_then(|event| Ok((sharded(settings, &event)?, event))) {
        Ok(parsed) => parsed,
        Err(ignored) => {
            report.ignored.push(ignored);
            return Ok(report);
        }
    };
    handle_parsed(start, config, settings, ports, &event, &mut report).await?;
    if !matches!(event.detail, Detail::Scheduled(_)) || settings.poll_window_seconds == 0 {
        return Ok(report);
    }
    // Each poll takes the polled targets and those a round deferred (the
    // budget or a transient failure put them off), whatever their mode, so
    // a fleet larger than one round's budget is done within the tick
    // (docs/fleet.md, "API budgets").
    // Deferred targets come back sooner than the polls: as soon as the
    // account's DescribeServices bucket has regained a round's budget.
    let mut owed: Vec<String> = report.deferred.iter().map(|d| d.target.clone()).collect();
    let window = SignedDuration::from_secs(i64::from(settings.poll_window_seconds));
    let deadline = start.checked_add(window).unwrap_or(start);
    let later = |t: Timestamp, by: SignedDuration| t.checked_add(by).unwrap_or(Timestamp::MAX);
    let mut next_poll = later(start, POLL_INTERVAL);
    let mut last = start;
    loop {
        let at =
            if owed.is_empty() { next_poll } else { next_poll.min(later(last, settings.budget.deferred_interval())) };
        if at > deadline {
            break;
        }
        let round: Vec<&TargetConfig> = config
            .targets
            .values()
            .filter(|t| settings.shard.owns(&t.resource_id))
            .filter(|t| polls(t) || owed.contains(&t.resource_id))
            .collect();
        if round.is_empty() {
            break;
        }
        clock.sleep_until(at).await;
        let now = clock.now();
        let seen = report.deferred.len();
        round::evaluate_round(now, &round, settings, ports, &event, Trigger::Poll, &mut report).await?;
        owed = report.deferred[seen..].iter().map(|d| d.target.clone()).collect();
        last = at;
        while next_poll <= at {
            next_poll = later(next_poll, POLL_INTERVAL);
        }
    }
    Ok(report)
}

/// Why an event is refused by a ledger.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("duplicate event id: already processed")]
    Duplicate,
    #[error("stale version {got}: version {seen} already seen")]
    Stale { seen: u64, got: u64 },
}

impl Refusal {
    /// A short kind, for counting ignored events by reason.
    #[must_use]
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Duplicate => "duplicate event id",
            Self::Stale { .. } => "stale version",
        }
    }
}

/// Admits an event against a ledger (aws-behaviour §10.2): a processed event id or a
/// task / container-instance version not newer than one seen is refused.
/// The one-minute tick is not recorded: a duplicate tick re-evaluates on the
/// same memory (cooldowns hold any repeat), and recording 1,440 ticks a day
/// would bloat every stored item.
///
/// # Errors
/// [`Refusal`]: why the event is not acted on.
pub fn admit(ledger: &mut EventLedger, event: &Event, now: Timestamp) -> Result<(), Refusal> {
    if matches!(event.detail, Detail::Scheduled(_)) {
        return Ok(());
    }
    match ledger.observe(event, now) {
        Freshness::Fresh => Ok(()),
        Freshness::Duplicate => Err(Refusal::Duplicate),
        Freshness::Stale { seen, got } => Err(Refusal::Stale { seen, got }),
    }
}

/// Evaluates one target on what ECS and CloudWatch said: the pure part of
/// the handler, shared with the replay harness. Updates `record.memory`.
pub fn decide(
    now: Timestamp,
    target: &TargetConfig,
    record: &mut TargetRecord,
    snapshot: &ServiceSnapshot,
    fetched: BTreeMap<MetricId, Vec<Datapoint>>,
) -> Decision {
    let (metrics, sample_counts) = split_sample_counts(fetched);
    let observation = Observation {
        desired_count: snapshot.desired,
        running_count: snapshot.running,
        pending_count: snapshot.pending,
        primary_running_count: snapshot.primary_running,
        deployment_in_progress: snapshot.deployment_in_progress,
        metrics,
        sample_counts,
        // No `..Default::default()`: every input of the controller is named
        // here, filled from what the ports returned, so an input that
        // production does not fetch cannot exist (docs/simulation.md).
    };
    let (decision, mut next) = controller::evaluate(now, target, &observation, std::mem::take(&mut record.memory));
    // Each evaluation fetches all the history its policies read
    // (`metric_window`), so datapoints are not stored: the record stays
    // small (one DynamoDB write unit) and cheap to read and write.
    next.datapoints.clear();
    record.memory = next;
    decision
}

fn ignored(e: &Event, target: &TargetConfig, refusal: Refusal) -> Ignored {
    Ignored {
        event_id: Some(e.meta.id.clone()),
        target: Some(target.resource_id.clone()),
        kind: refusal.kind().to_owned(),
        reason: refusal.to_string(),
    }
}

/// Parses an event delivered to a handler; a malformed or foreign event
/// becomes the [`Ignored`] entry it is acknowledged with.
fn parse(event_json: &serde_json::Value) -> Result<Event, Ignored> {
    match event::parse_event_value(event_json.clone()) {
        Ok(Parsed::Ours(e)) => Ok(e),
        Ok(Parsed::NotOurs { id, detail_type, source }) => Err(Ignored {
            event_id: Some(id),
            target: None,
            kind: "not an event kind the functions consume".to_owned(),
            reason: format!("not an event the controller consumes ({source} / {detail_type})"),
        }),
        Err(e) => Err(Ignored {
            event_id: event_json.get("id").and_then(|v| v.as_str()).map(str::to_owned),
            target: None,
            kind: "malformed event".to_owned(),
            reason: format!("malformed event: {e}"),
        }),
    }
}

/// The schema of the records this build writes. A record stored by an
/// older build (an older or no `schema`) is read and upgraded by the next
/// write; one stored by a newer build is refused, so a rollback never
/// rewrites it without the fields it does not know (docs/lambdas.md).
/// 2: times stored as epoch seconds when whole (a schema-1 build could not
/// read them, and refuses the record by its schema instead).
pub const RECORD_SCHEMA: u32 = 2;

/// A stored record with its schema number.
pub(crate) trait Schema {
    fn schema(&self) -> u32;
    fn set_schema(&mut self, schema: u32);
}

impl Schema for TargetRecord {
    fn schema(&self) -> u32 {
        self.schema
    }
    fn set_schema(&mut self, schema: u32) {
        self.schema = schema;
    }
}

/// Loads the record stored under `key` and its version (a fresh record and
/// no version when there is none yet).
async fn load<R, T>(state: &T, key: &str) -> Result<(R, Option<u64>), HandlerError>
where
    R: serde::de::DeserializeOwned + Default + Schema,
    T: StatePort + Sync,
{
    decode(key, state.load(key).await?)
}

/// What a poll reads of a stored record before anything else: its schema
/// and when each metric's newest datapoint arrived. A poll that finds no
/// datapoint can be new yet stops there, without building the rest of the
/// record (the polls of a `fast` tick read every record five times a
/// minute; docs/lambdas.md). The text is still checked as JSON whole.
#[derive(Default, Deserialize)]
pub(crate) struct RecordHead {
    #[serde(default)]
    schema: u32,
    #[serde(default)]
    pub(crate) arrivals: BTreeMap<MetricId, Arrival>,
}

impl RecordHead {
    /// The head of `stored` (empty when nothing is stored), refused as
    /// [`decode`] refuses the whole record: corrupt, or newer than this build.
    pub(crate) fn read(key: &str, stored: Option<&crate::ports::Stored>) -> Result<Self, HandlerError> {
        match stored {
            Some(s) => parse_stored(key, &s.body, |head: &Self| head.schema),
            None => Ok(Self::default()),
        }
    }
}

/// A stored body parsed as `R`, refused when it is corrupt or was written
/// by a newer build (its schema, read by `schema_of`, above [`RECORD_SCHEMA`]).
fn parse_stored<R: serde::de::DeserializeOwned>(
    key: &str,
    body: &str,
    schema_of: impl Fn(&R) -> u32,
) -> Result<R, HandlerError> {
    let parsed = serde_json::from_str::<R>(body)
        .map_err(|e| HandlerError::CorruptMemory { key: key.to_owned(), reason: e.to_string() })?;
    match schema_of(&parsed) {
        found if found > RECORD_SCHEMA => Err(HandlerError::NewerRecord { key: key.to_owned(), found }),
        _ => Ok(parsed),
    }
}

/// A stored document as a record and its version (a fresh record and no
/// version when nothing is stored).
fn decode<R>(key: &str, stored: Option<crate::ports::Stored>) -> Result<(R, Option<u64>), HandlerError>
where
    R: serde::de::DeserializeOwned + Default + Schema,
{
    match stored {
        Some(s) => Ok((parse_stored(key, &s.body, R::schema)?, Some(s.version))),
        None => Ok((R::default(), None)),
    }
}

/// Publishes records in batches of [`crate::ports::PUT_EVENTS_BATCH`],
/// `width` calls at once; failures are reported, not fatal (the decisions
/// stand).
async fn publish_batches<D: DecisionPort + Sync, R: Serialize + Sync>(
    decisions: &D,
    records: &[R],
    width: usize,
) -> Vec<String> {
    use futures_util::stream::{self, StreamExt};
    stream::iter(records.chunks(crate::ports::PUT_EVENTS_BATCH))
        .map(|chunk| async move { decisions.publish_batch(DECISION_DETAIL_TYPE, chunk).await })
        .buffered(width.max(1))
        .filter_map(|r| async move { r.err().map(|e| e.to_string()) })
        .collect()
        .await
}

/// Publishes a record; a failure is reported, not fatal (the decision stands).
async fn publish<D: DecisionPort + Sync, R: Serialize + Sync>(
    decisions: &D,
    detail_type: &str,
    record: &R,
) -> Result<(), String> {
    decisions.publish(detail_type, record).await.map_err(|e| e.to_string())
}

fn encode<R: Serialize>(record: &R, key: &str) -> Result<String, HandlerError> {
    serde_json::to_string(record).map_err(|e| HandlerError::Encode { key: key.to_owned(), reason: e.to_string() })
}

/// A CloudWatch Embedded Metric Format document for a decision: desired,
/// computed, the metric values and the number of actions, published by the
/// log line alone (no API call).
#[must_use]
pub fn emf(decision: &Decision) -> serde_json::Value {
    let mut metrics = vec![
        serde_json::json!({"Name": "DesiredCount", "Unit": "Count"}),
        serde_json::json!({"Name": "CurrentCount", "Unit": "Count"}),
        serde_json::json!({"Name": "Actions", "Unit": "Count"}),
    ];
    let mut doc = serde_json::json!({
        "Service": decision.service,
        "DesiredCount": decision.desired,
        "CurrentCount": decision.current,
        "Actions": decision.actions.len(),
        "Reason": serde_json::to_value(&decision.reason).ok().and_then(|r| r.get("code").cloned()),
    });
    if let Some(computed) = decision.computed {
        metrics.push(serde_json::json!({"Name": "ComputedCount", "Unit": "Count"}));
        doc["ComputedCount"] = computed.into();
    }
    if let Some(value) = decision.policies.iter().find_map(|p| p.metric_value) {
        metrics.push(serde_json::json!({"Name": "MetricValue", "Unit": "None"}));
        doc["MetricValue"] = value.into();
    }
    doc["_aws"] = serde_json::json!({
        "Timestamp": decision.time.as_millisecond(),
        "CloudWatchMetrics": [{
            "Namespace": "ECSAutopilot",
            "Dimensions": [["Service"]],
            "Metrics": metrics,
        }],
    });
    doc
}
