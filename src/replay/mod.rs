//! Open-loop replay of recorded EventBridge events and CloudWatch metrics
//! through the deployed stack: each event goes to the functions the rules of
//! the template invoke, the tick comes at the template's schedule, and the
//! controller function runs exactly what the Lambda runs
//! ([`handler::invoke`]: parsing, targets, ledger, claim-then-act, the
//! tick's polling) on a [`ReplayWorld`] behind the ports. Only the world
//! differs: each service's view is folded from the recorded events (what
//! `DescribeServices` would have said), the metrics are the recorded
//! `GetMetricData` output, and time is virtual ([`VirtualClock`]).
//!
//! Owns: the world built from a recording and the replay loop. May not
//! touch: files or the clock — events, metrics and configuration arrive as
//! values, time comes from the events.

pub mod cluster;

use crate::capacity::{CapacityAction, CapacityDecision, CapacityOptions, Cluster};
use crate::config::{Config, MetricId, MetricQuery};
use crate::decision::Decision;
use crate::event::{self, DeploymentEventName, Detail, Parsed, TaskStatus};
use crate::handler::capacity::{handle_capacity_event, CapacityReport};
use crate::handler::{self, HandlerError, Report, ServicePorts, Settings};
use crate::memory::Datapoint;
use crate::ports::memory::{CountingDecisions, InMemoryState};
use crate::ports::{CapacityPort, Clock, MetricsPort, PortError, ServicePort, ServiceSnapshot};
use crate::route::Scratch;
use crate::sim::runtime::{Invocations, VirtualClock};
use crate::sim::stack::{scheduled_event, Function, Stack};
use cluster::RecordedCluster;
use jiff::{SignedDuration, Timestamp};
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Mutex, MutexGuard, PoisonError};

/// The longest span of event time a replay covers: every minute of it is a
/// tick, so a recording whose events lie years apart is refused up front.
pub const MAX_SPAN: SignedDuration = SignedDuration::from_hours(24 * 35);

/// What the controller knows of one service, built from events.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ServiceView {
    pub desired: u32,
    /// Last known status and version per task ARN.
    pub tasks: BTreeMap<String, (TaskStatus, u64)>,
    /// Running tasks before the first task event (from the initial state).
    pub baseline_running: u32,
    pub deployment_in_progress: bool,
}

impl ServiceView {
    fn running(&self) -> u32 {
        let seen = self.tasks.values().filter(|(s, _)| *s == TaskStatus::Running).count() as u32;
        if self.tasks.is_empty() {
            self.baseline_running
        } else {
            seen
        }
    }

    fn pending(&self) -> u32 {
        self.tasks
            .values()
            .filter(|(s, _)| matches!(s, TaskStatus::Provisioning | TaskStatus::Pending | TaskStatus::Activating))
            .count() as u32
    }

    /// Folds an ECS event into the view (what ECS itself would now say). A
    /// task event older than one already seen changes nothing.
    fn observe(&mut self, detail: &Detail) {
        match detail {
            Detail::TaskStateChange(task) => {
                if self.tasks.is_empty() {
                    // Tasks not seen yet keep counting as the initial running tasks.
                    for k in 0..self.baseline_running {
                        self.tasks.insert(format!("initial-{k}"), (TaskStatus::Running, 0));
                    }
                }
                let version = task.version;
                let known = self.tasks.get(&task.task_arn).map(|(_, v)| *v);
                if known.is_some_and(|v| v >= version) {
                    return;
                }
                let placeholder = self.tasks.keys().find(|k| k.starts_with("initial-")).cloned();
                // A task first seen RUNNING (or leaving) is one of the initial
                // running tasks: it takes a placeholder's place.
                let was_initial = known.is_none()
                    && !matches!(
                        task.last_status,
                        TaskStatus::Provisioning | TaskStatus::Pending | TaskStatus::Activating
                    );
                if let (true, Some(k)) = (was_initial, placeholder) {
                    self.tasks.remove(&k);
                }
                // A STOPPED task stays known (counted nowhere) so that a late,
                // older event cannot bring it back.
                self.tasks.insert(task.task_arn.clone(), (task.last_status.clone(), version));
            }
            Detail::DeploymentStateChange(d) => {
                self.deployment_in_progress = d.event_name == DeploymentEventName::ServiceDeploymentInProgress;
            }
            _ => {}
        }
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
    #[error("the controller failed on the replayed world: {0}")]
    Handler(#[from] HandlerError),
}

/// What a replay produced.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ReplayOutput {
    /// One record per evaluation, in time order, with what triggered it.
    pub decisions: Vec<(String, Decision)>,
    /// Events not acted on, counted by reason — nothing is dropped silently.
    pub ignored: BTreeMap<String, u64>,
    pub events: u64,
    /// With a capacity snapshot: the capacity function's records, in time
    /// order, with what triggered them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub capacity_decisions: Vec<(String, CapacityDecision)>,
    /// How many decision records the controller produced (also when they
    /// were streamed rather than kept).
    #[serde(default)]
    pub evaluations: u64,
    /// How many capacity plans the capacity function produced.
    #[serde(default)]
    pub capacity_plans: u64,
}

/// A recorded cluster for the capacity function: the snapshot it starts
/// from and how the function plans.
#[derive(Clone, Debug)]
pub struct CapacitySetup {
    pub cluster: Cluster,
    pub options: CapacityOptions,
}

/// Recorded metrics: per service, per metric id, datapoints.
pub type Metrics = BTreeMap<String, BTreeMap<MetricId, Vec<Datapoint>>>;

/// The world of a recording, behind the ports the Lambda adapters implement.
pub struct ReplayWorld {
    clock: VirtualClock,
    views: Mutex<BTreeMap<String, ServiceView>>,
    /// Each configured query → the recorded series it reads,
    /// aggregated once to the query's period: what `GetMetricData` answers.
    answers: FxHashMap<MetricQuery, Vec<Period>>,
    /// The EC2 cluster, when the capacity function is replayed too.
    cluster: Option<Mutex<RecordedCluster>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl ReplayWorld {
    fn new(config: &Config, initial: &BTreeMap<String, InitialState>, metrics: &Metrics, start: Timestamp) -> Self {
        let views = config
            .targets
            .keys()
            .map(|id| {
                let init = initial.get(id).copied().unwrap_or_default();
                (
                    id.clone(),
                    ServiceView { desired: init.desired, baseline_running: init.running, ..Default::default() },
                )
            })
            .collect();
        // A query that several services read (the same metric) answers from
        // the first recording of it.
        let mut answers: FxHashMap<MetricQuery, Vec<Period>> = FxHashMap::default();
        for (service, target) in &config.targets {
            for (id, q) in &target.queries {
                let Some(series) = metrics.get(service).and_then(|m| m.get(id)) else { continue };
                answers.entry(q.clone()).or_insert_with(|| periods(series, q.period_seconds()));
            }
        }
        Self { clock: VirtualClock::at(start), views: Mutex::new(views), answers, cluster: None }
    }

    fn observe(&self, detail: &Detail, service: &str) {
        if let Some(view) = lock(&self.views).get_mut(service) {
            view.observe(detail);
        }
    }
}

impl ServicePort for ReplayWorld {
    async fn describe(&self, resource_id: &str) -> Result<ServiceSnapshot, PortError> {
        let views = lock(&self.views);
        let view = views.get(resource_id).ok_or_else(|| {
            PortError::permanent("ecs:DescribeServices", format!("{resource_id} is not in the recording"))
        })?;
        Ok(ServiceSnapshot {
            desired: view.desired,
            running: view.running(),
            pending: view.pending(),
            primary_running: None,
            deployment_in_progress: view.deployment_in_progress,
        })
    }

    /// Open loop on the world, closed on our own desired count.
    async fn set_desired_count(&self, resource_id: &str, desired: u32) -> Result<(), PortError> {
        match lock(&self.views).get_mut(resource_id) {
            Some(view) => {
                view.desired = desired;
                Ok(())
            }
            None => Err(PortError::permanent("ecs:UpdateService", format!("{resource_id} is not in the recording"))),
        }
    }
}

impl MetricsPort for ReplayWorld {
    /// The recorded datapoints of each query, as `GetMetricData` would have
    /// answered: aggregated to the query's period with its statistic (a
    /// recording finer than the query, such as 10-s points under a 60-s
    /// policy, becomes one datapoint per period), timestamps in
    /// `[from, to)`, and only periods that have ended by now (a recording
    /// does not say when CloudWatch published them; docs/simulation.md). A
    /// query nobody recorded (such as a `SampleCount`) answers an empty
    /// series.
    async fn fetch(
        &self,
        queries: &[(MetricId, MetricQuery)],
        from: Timestamp,
        to: Timestamp,
    ) -> Result<BTreeMap<MetricId, Vec<Datapoint>>, PortError> {
        let now = self.clock.now();
        Ok(queries
            .iter()
            .map(|(id, q)| {
                let recorded = self.answers.get(q);
                let points = recorded.map_or_else(Vec::new, |periods| answer(periods, q, from, to, now));
                (id.clone(), points)
            })
            .collect())
    }
}

/// One period of a recorded series: its start (epoch seconds) and the
/// statistics of the datapoints recorded in it.
#[derive(Clone, Copy, Debug)]
struct Period {
    start: i64,
    count: u32,
    sum: f64,
    maximum: f64,
    minimum: f64,
}

/// A recorded series (sorted by time) in periods of `period_seconds`,
/// periods without a datapoint left out.
fn periods(series: &[Datapoint], period_seconds: u32) -> Vec<Period> {
    let period = i64::from(period_seconds.max(1));
    let mut out: Vec<Period> = Vec::new();
    for p in series {
        let t = p.timestamp.as_second();
        let start = t - t.rem_euclid(period);
        match out.last_mut() {
            Some(last) if last.start == start => {
                last.count += 1;
                last.sum += p.value;
                last.maximum = last.maximum.max(p.value);
                last.minimum = last.minimum.min(p.value);
            }
            _ => out.push(Period { start, count: 1, sum: p.value, maximum: p.value, minimum: p.value }),
        }
    }
    out
}

/// One query's answer from its recorded periods: the periods that start at
/// or after `from` and have ended by `to` and by now, with the query's
/// statistic.
fn answer(periods: &[Period], q: &MetricQuery, from: Timestamp, to: Timestamp, now: Timestamp) -> Vec<Datapoint> {
    let period = i64::from(q.period_seconds().max(1));
    let statistic = match q {
        MetricQuery::Single { statistic, .. } => statistic.as_str(),
        MetricQuery::Math { .. } => "",
    };
    let (from_s, end_s) = (from.as_second(), to.as_second().min(now.as_second()));
    // Recordings mostly have a datapoint every period: the first period
    // wanted is then found by arithmetic, else by bisection.
    let guess = periods.first().map_or(0, |p| usize::try_from((from_s - p.start).div_euclid(period)).unwrap_or(0));
    let first = match periods.get(guess.saturating_sub(1)..=guess) {
        Some([before, at]) if before.start < from_s && at.start >= from_s => guess,
        _ => periods.partition_point(|p| p.start < from_s),
    };
    periods[first..]
        .iter()
        .take_while(|p| p.start + period <= end_s)
        .filter_map(|p| {
            let value = match statistic {
                "Sum" => p.sum,
                "Maximum" => p.maximum,
                "Minimum" => p.minimum,
                "SampleCount" => f64::from(p.count),
                // Average, and metric math: the mean of what was recorded.
                _ => p.sum / f64::from(p.count),
            };
            Timestamp::from_second(p.start).ok().map(|timestamp| Datapoint { timestamp, value })
        })
        .collect()
}

impl CapacityPort for ReplayWorld {
    async fn cluster(&self, capacity_provider: &str) -> Result<Option<Cluster>, PortError> {
        match &self.cluster {
            Some(c) if lock(c).cluster.capacity_provider == capacity_provider => Ok(Some(lock(c).cluster.clone())),
            _ => Err(PortError::permanent(
                "ecs:DescribeCapacityProviders",
                format!("{capacity_provider} is not in the capacity snapshot"),
            )),
        }
    }

    async fn apply(&self, _cluster: &Cluster, action: &CapacityAction) -> Result<(), PortError> {
        match &self.cluster {
            Some(c) => {
                lock(c).apply(action);
                Ok(())
            }
            None => Err(PortError::permanent("autoscaling:SetDesiredCapacity", "no capacity snapshot")),
        }
    }
}

impl Clock for ReplayWorld {
    fn now(&self) -> Timestamp {
        self.clock.now()
    }

    fn sleep_until(&self, at: Timestamp) -> impl Future<Output = ()> + Send {
        self.clock.sleep_until(at)
    }
}

/// Replays `lines` (EventBridge envelopes, one per line).
///
/// # Errors
/// [`ReplayError`] for a malformed line (naming it), metrics that name a
/// service or metric the configuration does not have, or a recording longer
/// than [`MAX_SPAN`].
pub fn replay(
    config: &Config,
    stack: &Stack,
    initial: &BTreeMap<String, InitialState>,
    metrics: &Metrics,
    lines: &[Line<'_>],
) -> Result<ReplayOutput, ReplayError> {
    replay_with_progress(config, stack, initial, metrics, lines, &mut |_, _| {})
}

fn check_metrics(config: &Config, metrics: &Metrics) -> Result<(), ReplayError> {
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
    Ok(())
}

/// [`replay`], reporting `(events acted on so far, events to act on)` to
/// `progress` as it goes (for a progress bar; called at most ~200 times).
///
/// # Errors
/// As [`replay`].
pub fn replay_with_progress(
    config: &Config,
    stack: &Stack,
    initial: &BTreeMap<String, InitialState>,
    metrics: &Metrics,
    lines: &[Line<'_>],
    progress: &mut dyn FnMut(usize, usize),
) -> Result<ReplayOutput, ReplayError> {
    replay_with(config, stack, initial, metrics, lines, None, progress)
}

/// A decision record as a replay streams it, with what triggered it.
pub enum Streamed<'a> {
    Controller { trigger: &'a str, decision: &'a Decision },
    Capacity { trigger: &'a str, decision: &'a CapacityDecision },
}

/// [`replay_with`], keeping no decision: each record goes to `sink` as its
/// invocation ends (the records of a tick's polls when the tick's
/// invocation ends, so up to a minute after records of later events), and
/// memory stays flat however long the recording. The returned output has
/// the counts and no records.
///
/// # Errors
/// As [`replay`].
#[allow(clippy::too_many_arguments)]
pub fn replay_streaming(
    config: &Config,
    stack: &Stack,
    initial: &BTreeMap<String, InitialState>,
    metrics: &Metrics,
    lines: &[Line<'_>],
    capacity: Option<CapacitySetup>,
    sink: &mut dyn FnMut(Streamed<'_>),
    progress: &mut dyn FnMut(usize, usize),
) -> Result<ReplayOutput, ReplayError> {
    run(config, stack, initial, metrics, lines, capacity, Some(sink), progress)
}

/// What one replayed invocation returned, with its trigger.
enum Outcome {
    Controller(String, Result<Report, HandlerError>),
    Capacity(String, Result<CapacityReport, HandlerError>),
}

/// [`replay_with_progress`], and with `capacity` the capacity function too:
/// on the events the rules send it and on the tick, against the snapshot's
/// cluster brought forward by the recorded events ([`RecordedCluster`]).
///
/// # Errors
/// As [`replay`].
pub fn replay_with(
    config: &Config,
    stack: &Stack,
    initial: &BTreeMap<String, InitialState>,
    metrics: &Metrics,
    lines: &[Line<'_>],
    capacity: Option<CapacitySetup>,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<ReplayOutput, ReplayError> {
    run(config, stack, initial, metrics, lines, capacity, None, progress)
}

/// The one replay driver: records go to `sink`, or into the output in time
/// order without one.
#[allow(clippy::too_many_arguments)]
fn run(
    config: &Config,
    stack: &Stack,
    initial: &BTreeMap<String, InitialState>,
    metrics: &Metrics,
    lines: &[Line<'_>],
    capacity: Option<CapacitySetup>,
    mut sink: Option<&mut dyn FnMut(Streamed<'_>)>,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<ReplayOutput, ReplayError> {
    check_metrics(config, metrics)?;
    let with_capacity = capacity.is_some();
    // First pass: every line is routed and parsed, so a malformed line stops
    // the replay before it starts; only (time, line) is kept.
    let mut out = ReplayOutput::default();
    let mut order: Vec<(Timestamp, usize, bool, bool)> = Vec::new();
    let count = |out: &mut ReplayOutput, reason: &str| *out.ignored.entry(reason.to_owned()).or_default() += 1;
    let mut scratch = Scratch::default();
    for (index, line) in lines.iter().enumerate() {
        if line.text.trim().is_empty() {
            continue;
        }
        out.events += 1;
        let functions = stack
            .route(line.text, &mut scratch)
            .map_err(|e| ReplayError::Event { line: line.number, message: e.to_string() })?;
        let parsed = event::parse_event(line.text)
            .map_err(|e| ReplayError::Event { line: line.number, message: e.to_string() })?;
        let to_controller = functions.contains(&Function::Controller);
        let to_capacity = with_capacity && functions.contains(&Function::Capacity);
        match (parsed, to_controller || to_capacity) {
            (_, false) if with_capacity => count(&mut out, "matched no rule"),
            (_, false) => count(&mut out, "matched no rule of the controller"),
            (Parsed::NotOurs { .. }, true) => count(&mut out, "routed but not an event kind the functions consume"),
            (Parsed::Ours(e), true) => order.push((e.meta.time.instant(), index, to_controller, to_capacity)),
        }
    }
    // EventBridge may deliver out of order; act in event-time order.
    order.sort_unstable();
    let end_of_metrics = metrics
        .values()
        .flat_map(|m| m.values())
        .filter_map(|points| points.last())
        .map(|p| p.timestamp)
        .max()
        .and_then(|t| t.checked_add(SignedDuration::from_mins(1)).ok());
    let first = order.first().map(|(t, ..)| *t);
    let last = order.last().map(|(t, ..)| *t).max(end_of_metrics);
    let (Some(first), Some(end)) = (first.or(end_of_metrics), last) else { return Ok(out) };
    if end.duration_since(first) > MAX_SPAN {
        return Err(ReplayError::Setup(format!(
            "the recording spans {first} to {end}, more than the {} days a replay covers: split it",
            MAX_SPAN.as_hours() / 24
        )));
    }
    let mut world = ReplayWorld::new(config, initial, metrics, first);
    let (providers, capacity_options) = match capacity {
        Some(setup) => {
            let provider = setup.cluster.capacity_provider.clone();
            world.cluster = Some(Mutex::new(RecordedCluster::new(setup.cluster)));
            (vec![provider], setup.options)
        }
        None => (Vec::new(), CapacityOptions::default()),
    };
    let (state, published) = (InMemoryState::default(), CountingDecisions::default());
    let ports = ServicePorts { services: &world, metrics: &world, state: &state, decisions: &published };
    // A replay is shadow mode over the recording: decisions are recorded,
    // and our own desired count is applied to the view (closed loop).
    let settings = Settings::default();
    let mut running: Invocations<'_, Outcome> = Invocations::default();
    let (world_ref, ports_ref, providers_ref, options_ref) = (&world, &ports, &providers, &capacity_options);
    let invoke = |function: Function, trigger: String, event: serde_json::Value| async move {
        match function {
            Function::Controller => {
                Outcome::Controller(trigger, handler::invoke(world_ref, config, settings, ports_ref, &event).await)
            }
            Function::Capacity => {
                let ports = (world_ref, ports_ref.state, ports_ref.decisions);
                let now = world_ref.clock.now();
                let report = handle_capacity_event(now, providers_ref, options_ref, settings, ports, &event).await;
                Outcome::Capacity(trigger, report)
            }
        }
    };
    let mut collect = |done: Vec<Outcome>, out: &mut ReplayOutput| {
        for outcome in done {
            match outcome {
                Outcome::Controller(trigger, report) => {
                    let report = report?;
                    for i in report.ignored {
                        *out.ignored.entry(i.kind).or_default() += 1;
                    }
                    out.evaluations += report.decisions.len() as u64;
                    match sink.as_mut() {
                        Some(sink) => {
                            for d in &report.decisions {
                                sink(Streamed::Controller { trigger: &trigger, decision: d });
                            }
                        }
                        None => out.decisions.extend(report.decisions.into_iter().map(|d| (trigger.clone(), d))),
                    }
                }
                Outcome::Capacity(trigger, report) => {
                    let report = report?;
                    out.capacity_plans += report.decisions.len() as u64;
                    match sink.as_mut() {
                        Some(sink) => {
                            for d in &report.decisions {
                                sink(Streamed::Capacity { trigger: &trigger, decision: d });
                            }
                        }
                        None => {
                            out.capacity_decisions.extend(report.decisions.into_iter().map(|d| (trigger.clone(), d)));
                        }
                    }
                }
            }
        }
        Ok::<(), ReplayError>(())
    };
    let mut next_tick = stack.next_fire(first, Function::Controller).filter(|(t, _)| *t <= end);
    let mut ticks = 0u64;
    let (total, report_every) = (order.len(), (order.len() / 200).max(1));
    let mut pending = order.into_iter().peekable();
    let mut done_events = 0usize;
    loop {
        let next_event = pending.peek().map(|(t, ..)| *t);
        let next = [next_event, next_tick.map(|(t, _)| t), world.clock.next_wake()].into_iter().flatten().min();
        let Some(now) = next else { break };
        world.clock.set(now);
        // Sleepers due now (the tick's polls) run first, then the tick,
        // then the events of this instant.
        collect(running.poll_all(), &mut out)?;
        if let Some((at, rule)) = next_tick.filter(|(t, _)| *t == now) {
            ticks += 1;
            let event = scheduled_event(rule, at, ticks);
            if with_capacity && stack.schedule_invokes(rule, Function::Capacity) {
                running.spawn(invoke(Function::Capacity, "tick".into(), event.clone()));
            }
            running.spawn(invoke(Function::Controller, "tick".into(), event));
            next_tick = stack.next_fire(at, Function::Controller).filter(|(t, _)| *t <= end);
            // The tick's first evaluation sees the world before this
            // instant's events change it.
            collect(running.poll_all(), &mut out)?;
        }
        while let Some((_, index, to_controller, to_capacity)) = pending.next_if(|(t, ..)| *t == now) {
            if done_events % report_every == 0 {
                progress(done_events, total);
            }
            done_events += 1;
            let line = &lines[index];
            // Parsed once already; a second parse keeps memory flat.
            let Ok(value) = serde_json::from_str::<serde_json::Value>(line.text) else { continue };
            if let Ok(Parsed::Ours(e)) = event::parse_event_value(value.clone()) {
                // ECS's own state changes whether or not the functions act.
                for target in handler::targets_of(config, &e).unwrap_or_default() {
                    world.observe(&e.detail, &target.resource_id);
                }
                if let Some(c) = &world.cluster {
                    lock(c).observe(&e.detail);
                }
                let trigger = format!("event:{} line {}", e.meta.id, line.number);
                if to_capacity {
                    running.spawn(invoke(Function::Capacity, trigger.clone(), value.clone()));
                }
                if to_controller {
                    running.spawn(invoke(Function::Controller, trigger, value));
                }
            }
        }
        collect(running.poll_all(), &mut out)?;
    }
    progress(total, total);
    // Decisions of a tick's polls arrive when its invocation ends.
    out.decisions.sort_by_key(|(_, d)| d.time);
    out.capacity_decisions.sort_by_key(|(_, d)| d.time);
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
