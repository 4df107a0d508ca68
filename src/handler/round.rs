//! One round of the service handler: every target an event (or a poll
//! within the tick) concerns, read in batches and claimed a bounded number
//! at a time, within the round's API budget (docs/fleet.md).
//!
//! ```text
//! records: BatchGetItem, 100 keys a call ─► polls: which targets can have new data
//!   ─► services: DescribeServices, 10 a call per cluster
//!   ─► metrics: GetMetricData, up to 500 queries a call across targets
//!   ─► per target, `concurrency` at once: decide ─► conditional write ─► UpdateService
//!   ─► decision records: PutEvents, 10 a call
//! ```
//!
//! Each target keeps its own claim (conditional write), so a failed read,
//! write or action fails that target alone. A target whose reads or action
//! the budget cannot pay for is deferred, never dropped: on the tick the next
//! round takes it, and an event whose target is deferred is returned to
//! Lambda as a retryable failure.
//!
//! Owns: batching, the bound on concurrent claims, the budget. May not
//! touch: what a target decides (`decide`), the clock, I/O other than
//! through the ports.

use super::{
    claim, decode, fetch_queries, metric_window, new_data_possible, publish_batches, target_key, HandlerError,
    RecordHead, Report, ServicePorts, ServiceWork, Settings, TargetRecord, Trigger,
};
use crate::config::{MetricId, MetricQuery, TargetConfig};
use crate::decision::{Decision, Deferral};
use crate::event::{Detail, Event};
use crate::memory::Datapoint;
use crate::ports::{
    DecisionPort, MetricsPort, PortError, ServicePort, ServiceSnapshot, StatePort, Stored, BATCH_GET_ITEM_BATCH,
    DESCRIBE_SERVICES_BATCH, GET_METRIC_DATA_BATCH,
};
use futures_util::stream::{self, StreamExt};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;

/// Calls of each rate-limited API one round may make: the tick's first
/// evaluation and each poll within it are rounds. The defaults leave half
/// of each API's documented sustained rate, over a 10-s round, to the
/// account's other callers (docs/fleet.md, "API budgets").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiBudget {
    /// `ecs:DescribeServices` calls (10 services each).
    pub describe_services: u32,
    /// `cloudwatch:GetMetricData` calls (500 queries each).
    pub get_metric_data: u32,
    /// `ecs:UpdateService` calls (one per scaled service).
    pub update_service: u32,
}

impl Default for ApiBudget {
    fn default() -> Self {
        Self { describe_services: 100, get_metric_data: 250, update_service: 25 }
    }
}

/// An API the budget counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Api {
    DescribeServices,
    GetMetricData,
    UpdateService,
}

impl Api {
    fn name(self) -> &'static str {
        match self {
            Self::DescribeServices => "ecs:DescribeServices",
            Self::GetMetricData => "cloudwatch:GetMetricData",
            Self::UpdateService => "ecs:UpdateService",
        }
    }
}

impl ApiBudget {
    /// How soon after a round that deferred targets the next round takes
    /// them: the time DescribeServices' bucket needs to regain the round's
    /// budget (5 s with the defaults), at most [`super::POLL_INTERVAL`]. A
    /// fleet larger than a round is then read as fast as the account's
    /// bucket allows, without the controller throttling itself
    /// (docs/fleet.md, "Sizing the budget").
    #[must_use]
    pub fn deferred_interval(&self) -> jiff::SignedDuration {
        let refill = crate::ports::DESCRIBE_SERVICES_REFILL_PER_SECOND;
        let seconds = i64::from(self.describe_services.div_ceil(refill).max(1));
        jiff::SignedDuration::from_secs(seconds).min(super::POLL_INTERVAL)
    }
}

/// What one round has spent of its [`ApiBudget`].
#[derive(Debug, Default)]
pub(super) struct RoundBudget {
    limits: ApiBudget,
    describe_services: AtomicU32,
    get_metric_data: AtomicU32,
    update_service: AtomicU32,
}

impl RoundBudget {
    /// The budget of one round of one shard: the fleet's budget split
    /// evenly over the shards, which share the account's limits.
    pub(super) fn new(limits: ApiBudget, shards: u32) -> Self {
        let share = |calls: u32| (calls / shards.max(1)).max(1);
        let limits = ApiBudget {
            describe_services: share(limits.describe_services),
            get_metric_data: share(limits.get_metric_data),
            update_service: share(limits.update_service),
        };
        Self { limits, ..Self::default() }
    }

    fn slot(&self, api: Api) -> (&AtomicU32, u32) {
        match api {
            Api::DescribeServices => (&self.describe_services, self.limits.describe_services),
            Api::GetMetricData => (&self.get_metric_data, self.limits.get_metric_data),
            Api::UpdateService => (&self.update_service, self.limits.update_service),
        }
    }

    /// Takes `calls` of `api`, or none when they do not fit.
    pub(super) fn take(&self, api: Api, calls: u32) -> Result<(), Deferral> {
        let (used, limit) = self.slot(api);
        used.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_add(calls).filter(|t| *t <= limit))
            .map(|_| ())
            .map_err(|_| Deferral { api: api.name().to_owned(), budget: limit, transient: None })
    }

    /// What a read that failed with `error` comes to: a transient failure
    /// (throttling left after the SDK's retries, a 5xx, a timeout) defers
    /// the target to the next round, recorded; a permanent one fails it.
    fn after_failure(&self, api: Api, error: PortError) -> Read {
        if error.retryable {
            Read::Deferred(Deferral {
                api: api.name().to_owned(),
                budget: self.slot(api).1,
                transient: Some(error.to_string()),
            })
        } else {
            Read::Failed(error.into())
        }
    }

    /// Counts calls that are made whatever the budget says: the re-reads
    /// after a lost conditional write, which must see the winner's state.
    pub(super) fn count(&self, api: Api, calls: u32) {
        self.slot(api).0.fetch_add(calls, Ordering::SeqCst);
    }
}

/// A target put off to the next round, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deferred {
    /// `service/<cluster>/<service>`.
    pub target: String,
    #[serde(flatten)]
    pub deferral: Deferral,
}

/// What a target's claim came to.
enum Outcome {
    Done(Decision),
    Refused(super::Refusal),
    Nothing,
    /// Put off; the decision when it was the action the budget could not pay.
    Deferred(Option<Decision>, Deferral),
}

/// A target of the round that got past reading its record.
struct Live<'c> {
    /// Position among the round's targets (failures and records keep it).
    index: usize,
    target: &'c TargetConfig,
    record: TargetRecord,
    version: Option<u64>,
}

/// What the reads found for one live target.
enum Read {
    Pending,
    Described(ServiceSnapshot),
    Ready(ServiceSnapshot, BTreeMap<MetricId, Vec<Datapoint>>),
    Deferred(Deferral),
    Failed(HandlerError),
}

/// Evaluates `targets` as one round; the failures, each with its target,
/// come back together (a single target's failure as itself).
pub(super) async fn evaluate_round<S, M, T, D>(
    now: Timestamp,
    targets: &[&TargetConfig],
    settings: Settings,
    ports: &ServicePorts<'_, S, M, T, D>,
    event: &Event,
    trigger: Trigger,
    report: &mut Report,
) -> Result<(), HandlerError>
where
    S: ServicePort + Sync,
    M: MetricsPort + Sync,
    T: StatePort + Sync,
    D: DecisionPort + Sync,
{
    let budget = RoundBudget::new(settings.budget, settings.shard.count);
    let width = settings.concurrency.max(1) as usize;
    let mut failures: Vec<(usize, String, HandlerError)> = Vec::new();

    let stored = load_records(ports.state, targets, width).await;
    let mut live = Vec::new();
    for (index, (target, stored)) in targets.iter().zip(stored).enumerate() {
        let key = target_key(&target.resource_id);
        let decoded = stored.map_err(HandlerError::from).and_then(|stored| {
            // A poll first reads when the datapoints arrived, and stops
            // there when none can be new (RecordHead).
            if trigger == Trigger::Poll {
                let head = RecordHead::read(&key, stored.as_ref())?;
                if !new_data_possible(target, &head.arrivals, now) {
                    return Ok(None);
                }
            }
            decode::<TargetRecord>(&key, stored).map(Some)
        });
        match decoded {
            Err(e) => failures.push((index, target.resource_id.clone(), e)),
            Ok(None) => {}
            Ok(Some((record, version))) => live.push(Live { index, target, record, version }),
        }
    }

    let mut reads: Vec<Read> = live.iter().map(|_| Read::Pending).collect();
    describe_all(ports.services, &live, &mut reads, &budget, width).await;
    fetch_all(ports.metrics, now, &live, &mut reads, &budget, width).await;

    // Claims: each target alone, `width` at once.
    let budget = &budget;
    let claims = stream::iter(live.into_iter().zip(reads))
        .map(|(l, read)| async move {
            let (snapshot, fetched) = match read {
                Read::Ready(snapshot, fetched) => (snapshot, fetched),
                Read::Described(snapshot) => (snapshot, BTreeMap::new()),
                Read::Deferred(d) => return (l.index, l.target, Ok(Outcome::Deferred(None, d))),
                Read::Failed(e) => return (l.index, l.target, Err(e)),
                Read::Pending => return (l.index, l.target, Ok(Outcome::Nothing)),
            };
            let work = ServiceWork {
                target: l.target,
                ports,
                trigger,
                prefetched: Mutex::new(Some((snapshot, fetched))),
                budget,
            };
            let key = target_key(&l.target.resource_id);
            let preloaded = Some((l.record, l.version));
            let claimed = Box::pin(claim::claim_then_act(
                &work,
                ports.state,
                claim::Claim { key: &key, target: &l.target.resource_id, now, event: Some(event) },
                settings,
                preloaded,
            ))
            .await
            .map(|c| match c {
                claim::Claimed::Deferred(decision, d) => Outcome::Deferred(Some(decision), d),
                claim::Claimed::Done(d) => Outcome::Done(d),
                claim::Claimed::Refused(r) => Outcome::Refused(r),
                claim::Claimed::Nothing => Outcome::Nothing,
            });
            (l.index, l.target, claimed)
        })
        .buffer_unordered(width)
        .collect::<Vec<_>>()
        .await;
    let mut claims = claims;
    claims.sort_by_key(|(index, ..)| *index);
    // The claims' order is the targets' order whatever finished first, so
    // records and reports do not depend on the ports' latencies.

    let retry_event = !matches!(event.detail, Detail::Scheduled(_));
    let mut published = Vec::new();
    for (index, target, claimed) in claims {
        match claimed {
            Err(e) => failures.push((index, target.resource_id.clone(), e)),
            Ok(Outcome::Done(decision)) => published.push(decision),
            Ok(Outcome::Refused(refusal)) => report.ignored.push(super::ignored(event, target, refusal)),
            Ok(Outcome::Nothing) => {}
            Ok(Outcome::Deferred(decision, deferral)) => {
                report.deferred.push(Deferred { target: target.resource_id.clone(), deferral: deferral.clone() });
                if retry_event {
                    // An event is not delivered again by itself: Lambda retries it.
                    failures.push((
                        index,
                        target.resource_id.clone(),
                        HandlerError::Deferred { target: target.resource_id.clone(), deferral: deferral.clone() },
                    ));
                }
                if let Some(mut decision) = decision {
                    decision.deferred = Some(deferral);
                    published.push(decision);
                }
            }
        }
    }
    report.publish_errors.extend(publish_batches(ports.decisions, &published, width).await);
    report.decisions.extend(published);

    failures.sort_by_key(|(index, ..)| *index);
    let mut failures: Vec<(String, HandlerError)> = failures.into_iter().map(|(_, id, e)| (id, e)).collect();
    match failures.len() {
        0 => Ok(()),
        1 if targets.len() == 1 => Err(failures.remove(0).1),
        _ => Err(HandlerError::Targets { failures }),
    }
}

/// Every target's stored record, read in batches (`BatchGetItem`), in
/// target order; a failed batch fails its targets.
async fn load_records<T: StatePort + Sync>(
    state: &T,
    targets: &[&TargetConfig],
    width: usize,
) -> Vec<Result<Option<Stored>, PortError>> {
    let keys: Vec<String> = targets.iter().map(|t| target_key(&t.resource_id)).collect();
    let batches = stream::iter(keys.chunks(BATCH_GET_ITEM_BATCH))
        .map(|chunk| async move { (chunk, state.load_batch(chunk).await) })
        .buffered(width)
        .collect::<Vec<_>>()
        .await;
    let mut out = Vec::with_capacity(keys.len());
    for (chunk, answer) in batches {
        match answer {
            Ok(mut found) => out.extend(chunk.iter().map(|k| Ok(found.remove(k)))),
            Err(e) => out.extend(chunk.iter().map(|_| Err(e.clone()))),
        }
    }
    out
}

/// The cluster of `service/<cluster>/<service>` (empty for anything else:
/// the port says what is wrong with it).
fn cluster_of(resource_id: &str) -> &str {
    resource_id.strip_prefix("service/").and_then(|rest| rest.split_once('/')).map_or("", |(cluster, _)| cluster)
}

/// Describes every live target: per cluster, [`DESCRIBE_SERVICES_BATCH`]
/// services a call, each call paid from the budget.
async fn describe_all<S: ServicePort + Sync>(
    services: &S,
    live: &[Live<'_>],
    reads: &mut [Read],
    budget: &RoundBudget,
    width: usize,
) {
    let mut by_cluster: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, l) in live.iter().enumerate() {
        by_cluster.entry(cluster_of(&l.target.resource_id)).or_default().push(i);
    }
    let mut calls = Vec::new();
    for members in by_cluster.values() {
        for chunk in members.chunks(DESCRIBE_SERVICES_BATCH) {
            match budget.take(Api::DescribeServices, 1) {
                Ok(()) => calls.push(chunk.to_vec()),
                Err(d) => chunk.iter().for_each(|&i| reads[i] = Read::Deferred(d.clone())),
            }
        }
    }
    let answers = stream::iter(calls)
        .map(|members| async move {
            let ids: Vec<String> = members.iter().map(|&i| live[i].target.resource_id.clone()).collect();
            let answer = services.describe_batch(&ids).await;
            (members, answer)
        })
        .buffer_unordered(width)
        .collect::<Vec<_>>()
        .await;
    for (members, answer) in answers {
        match answer {
            Ok(snapshots) => {
                for (i, snapshot) in members.into_iter().zip(snapshots) {
                    reads[i] = match snapshot {
                        Ok(s) => Read::Described(s),
                        Err(e) => budget.after_failure(Api::DescribeServices, e),
                    };
                }
            }
            Err(e) => {
                members.into_iter().for_each(|i| reads[i] = budget.after_failure(Api::DescribeServices, e.clone()));
            }
        }
    }
}

/// One `GetMetricData` request: whose queries it carries.
#[derive(Default)]
struct MetricCall {
    members: Vec<usize>,
    queries: Vec<(MetricId, MetricQuery)>,
    singles: usize,
    maths: u32,
    from: Option<Timestamp>,
}

impl MetricCall {
    /// API calls it costs: one for the single metrics, one per metric-math
    /// query (the adapter sends each in its own request).
    fn cost(&self) -> u32 {
        u32::from(self.singles > 0) + self.maths
    }
}

/// The id a target's query travels under in a shared request.
fn shared_id(member: usize, id: &MetricId) -> MetricId {
    MetricId(format!("{member}/{}", id.0))
}

/// Fetches the metrics of every described target: queries of many targets
/// share a request up to [`GET_METRIC_DATA_BATCH`], each request paid from
/// the budget. A request covers the widest window of its targets; each
/// target then sees only its own window, as if it had asked alone.
async fn fetch_all<M: MetricsPort + Sync>(
    metrics: &M,
    now: Timestamp,
    live: &[Live<'_>],
    reads: &mut [Read],
    budget: &RoundBudget,
    width: usize,
) {
    let mut calls: Vec<MetricCall> = Vec::new();
    let mut current = MetricCall::default();
    let mut windows = vec![now; live.len()];
    for (i, l) in live.iter().enumerate() {
        let Read::Described(snapshot) = reads[i] else { continue };
        let queries = fetch_queries(l.target);
        if queries.is_empty() {
            reads[i] = Read::Ready(snapshot, BTreeMap::new());
            continue;
        }
        let from = now.checked_sub(metric_window(l.target)).unwrap_or(Timestamp::MIN);
        windows[i] = from;
        let singles = queries.iter().filter(|(_, q)| matches!(q, MetricQuery::Single { .. })).count();
        if !current.members.is_empty() && current.singles + singles > GET_METRIC_DATA_BATCH {
            calls.push(std::mem::take(&mut current));
        }
        current.members.push(i);
        current.singles += singles;
        current.maths += u32::try_from(queries.len() - singles).unwrap_or(u32::MAX);
        current.from = Some(current.from.map_or(from, |f| f.min(from)));
        current.queries.extend(queries.iter().map(|(id, q)| (shared_id(i, id), q.clone())));
    }
    if !current.members.is_empty() {
        calls.push(current);
    }
    let mut paid = Vec::new();
    for call in calls {
        match budget.take(Api::GetMetricData, call.cost()) {
            Ok(()) => paid.push(call),
            Err(d) => call.members.iter().for_each(|&i| reads[i] = Read::Deferred(d.clone())),
        }
    }
    let answers = stream::iter(paid)
        .map(|call| async move {
            let from = call.from.unwrap_or(now);
            let answer = metrics.fetch(&call.queries, from, now).await;
            (call.members, answer)
        })
        .buffer_unordered(width)
        .collect::<Vec<_>>()
        .await;
    for (members, answer) in answers {
        match answer {
            Ok(series) => {
                let mut per_member: BTreeMap<usize, BTreeMap<MetricId, Vec<Datapoint>>> = BTreeMap::new();
                for (id, points) in series {
                    let Some((member, own)) = id.0.split_once('/') else { continue };
                    let Ok(member) = member.parse::<usize>() else { continue };
                    let from = windows.get(member).copied().unwrap_or(now);
                    let points = points.into_iter().filter(|p| p.timestamp >= from).collect();
                    per_member.entry(member).or_default().insert(MetricId(own.to_owned()), points);
                }
                for i in members {
                    let fetched = per_member.remove(&i).unwrap_or_default();
                    if let Read::Described(snapshot) = reads[i] {
                        reads[i] = Read::Ready(snapshot, fetched);
                    }
                }
            }
            Err(e) => {
                members.into_iter().for_each(|i| reads[i] = budget.after_failure(Api::GetMetricData, e.clone()));
            }
        }
    }
}

/// Whether a target's decision, once claimed, needs an `UpdateService`.
pub(super) fn update_calls(decision: &Decision) -> u32 {
    let n = decision.actions.iter().filter(|a| matches!(a, crate::decision::Action::SetDesiredCount { .. })).count();
    u32::try_from(n).unwrap_or(u32::MAX)
}
