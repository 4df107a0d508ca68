//! `autopilot plan`: one recorded history replayed under the current
//! configuration, under a proposed one, and — for reference — under AWS's
//! own behaviour of the current one, and the difference per service: when
//! the desired count would first differ and by how much at most, task-hours,
//! provisioning against the current configuration's target, actions, flaps
//! and what blocked decisions (docs/plan.md).
//!
//! Each replay is [`crate::replay`]'s, so each run is the deployed
//! controller on the recorded world, as `autopilot replay --events` runs it.
//!
//! Owns: running the replays and comparing them. May not touch: files or
//! the clock (the CLI reads the history and prints the plan).

pub mod chart;
pub mod timeline;

use crate::config::{Config, Extensions, MetricId, TargetConfig};
use crate::decision::{Action, Decision};
use crate::replay::{self, InitialState, Line, Metrics, ReplayError, Streamed};
use crate::sim::stack::Stack;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::collections::BTreeMap;
use timeline::{Need, Steps, Stretch};

/// Two desired-count changes in opposite directions this close together
/// are a flap (the simulator's scorecard counts them the same way).
pub const FLAP_WINDOW_SECONDS: i64 = 900;

/// The longest a datapoint's need is held when the next datapoint is late
/// or missing: five minutes, beyond which the need is unknown and counts
/// neither as under- nor as over-provisioning.
pub const NEED_HOLD_SECONDS: i64 = 300;

/// The three replays of a plan.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunName {
    Current,
    Proposed,
    /// The current configuration as Application Auto Scaling runs it
    /// (`aws` mode, none of our extensions).
    AwsReference,
}

impl std::fmt::Display for RunName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Current => "current",
            Self::Proposed => "proposed",
            Self::AwsReference => "AWS reference",
        })
    }
}

/// The recorded history a plan replays (what `autopilot replay --events`
/// reads).
#[derive(Clone, Copy)]
pub struct History<'a> {
    pub stack: &'a Stack,
    pub initial: &'a BTreeMap<String, InitialState>,
    pub metrics: &'a Metrics,
    pub lines: &'a [Line<'a>],
}

/// Why a plan could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("replaying the history under the {run} configuration: {source}")]
    Replay {
        run: RunName,
        #[source]
        source: ReplayError,
    },
}

/// The metric and target value provisioning is measured against.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Reference {
    /// The current configuration's first target tracking policy.
    pub policy: String,
    pub metric: MetricId,
    pub target_value: f64,
}

/// One replay of one service, summed up.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RunSummary {
    pub evaluations: u64,
    pub task_hours: f64,
    /// Task-seconds below the tasks the reference target needed; absent
    /// without a target tracking policy or without its metric in the history.
    pub under_provisioned_task_seconds: Option<u64>,
    pub over_provisioned_task_seconds: Option<u64>,
    /// Desired-count changes.
    pub actions: u32,
    pub flaps: u32,
    pub min_desired: u32,
    pub max_desired: u32,
    pub final_desired: u32,
    /// Decisions held back, by what held them (`blocked_by` kinds).
    pub blocked: BTreeMap<String, u32>,
    /// Evaluations an API budget put off (decided again later).
    #[serde(skip_serializing_if = "is_zero", default)]
    pub deferred: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// The desired count at one moment, under both configurations.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Difference {
    pub time: Timestamp,
    pub current: u32,
    pub proposed: u32,
}

/// A stretch of time where the proposed desired count differs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DifferenceStretch {
    pub from: Timestamp,
    pub to: Timestamp,
    pub current: u32,
    pub proposed: u32,
}

/// One service in the plan.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ServicePlan {
    /// `service/<cluster>/<service>`.
    pub service: String,
    /// Whether the proposed configuration of this service differs from the
    /// current one (policies, bounds, scheduled actions, extensions).
    pub configuration_changed: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference: Option<Reference>,
    /// Absent when the service is not in that configuration.
    pub current: Option<RunSummary>,
    pub proposed: Option<RunSummary>,
    pub aws_reference: Option<RunSummary>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_difference: Option<Difference>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub largest_difference: Option<Difference>,
    /// Seconds during which the desired counts differ.
    pub seconds_different: u64,
    /// Every stretch where they differ, in time order.
    pub differences: Vec<DifferenceStretch>,
    /// Each run's desired count over time (for the chart; not serialized).
    #[serde(skip)]
    pub curves: BTreeMap<RunName, Steps>,
}

impl ServicePlan {
    /// Whether the proposed configuration would have done anything
    /// differently for this service.
    #[must_use]
    pub fn differs(&self) -> bool {
        !self.differences.is_empty() || self.current.is_some() != self.proposed.is_some()
    }
}

/// The whole plan.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// The replayed span: the first evaluation to a minute after the last.
    pub from: Timestamp,
    pub to: Timestamp,
    /// Whether the AWS reference is the current run itself (every current
    /// target already in `aws` mode without extensions): it is not replayed
    /// twice.
    pub aws_reference_is_current: bool,
    pub services: Vec<ServicePlan>,
    /// What a run left out or could not read — nothing is dropped without
    /// a line here.
    pub notes: Vec<String>,
}

impl Plan {
    /// Whether any service's desired count would differ (the CLI's
    /// `--detailed-exitcode`).
    #[must_use]
    pub fn differs(&self) -> bool {
        self.services.iter().any(ServicePlan::differs)
    }
}

/// One replay's traces, per service.
type Traces = BTreeMap<String, Trace>;

/// What one replay left per service.
#[derive(Default)]
struct Trace {
    desired: Vec<(i64, u32)>,
    running: Vec<(i64, u32)>,
    actions: Vec<(i64, u32, u32)>,
    blocked: BTreeMap<String, u32>,
    evaluations: u64,
    deferred: u64,
}

impl Trace {
    fn observe(&mut self, d: &Decision) {
        let t = d.time.as_second();
        self.evaluations += 1;
        self.running.push((t, d.running));
        for b in &d.blocked_by {
            *self.blocked.entry(b.kind().to_owned()).or_default() += 1;
        }
        if d.deferred.is_some() {
            // Nothing was applied: the next round decides again.
            self.deferred += 1;
            return;
        }
        self.desired.push((t, d.desired));
        for a in &d.actions {
            if let Action::SetDesiredCount { from, to } = a {
                self.actions.push((t, *from, *to));
            }
        }
    }
}

/// The configuration `config` as Application Auto Scaling runs it: every
/// target in `aws` mode with none of our extensions.
#[must_use]
pub fn as_aws(config: &Config) -> Config {
    let mut out = config.clone();
    for target in out.targets.values_mut() {
        target.extensions = Extensions::default();
    }
    out
}

/// Replays `history` under `current`, `proposed` and (unless it is the
/// current run itself) AWS's behaviour of `current`, in parallel, and
/// compares them.
///
/// # Errors
/// [`PlanError`] naming the run whose replay failed (a malformed line, a
/// recording too long).
pub fn plan(current: &Config, proposed: &Config, history: History<'_>) -> Result<Plan, PlanError> {
    let aws_is_current = current.targets.values().all(|t| t.extensions == Extensions::default());
    // Replayed only when it is not the current run itself.
    let aws = (!aws_is_current).then(|| as_aws(current));
    let mut notes = Vec::new();
    let mut runs: Vec<(RunName, &Config, Cow<'_, Metrics>)> = Vec::new();
    let configs =
        [(RunName::Current, Some(current)), (RunName::Proposed, Some(proposed)), (RunName::AwsReference, aws.as_ref())];
    for (name, config) in configs {
        if let Some(config) = config {
            runs.push((name, config, metrics_for(name, config, history.metrics, &mut notes)));
        }
    }
    let results: Vec<(RunName, Result<Traces, ReplayError>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = runs
            .iter()
            .map(|(name, config, metrics)| {
                let name = *name;
                scope.spawn(move || (name, trace(config, history, metrics)))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| match h.join() {
                Ok(result) => result,
                // A panic in a replay is a bug: surface it where it happened.
                Err(panic) => std::panic::resume_unwind(panic),
            })
            .collect()
    });
    let mut traces: BTreeMap<RunName, Traces> = BTreeMap::new();
    for (name, result) in results {
        traces.insert(name, result.map_err(|source| PlanError::Replay { run: name, source })?);
    }
    let times = traces.values().flat_map(|m| m.values()).flat_map(|t| t.running.iter().map(|(s, _)| *s));
    let (from, to) = times.fold((i64::MAX, i64::MIN), |(lo, hi), t| (lo.min(t), hi.max(t)));
    let (from, to) = if from <= to { (from, to + 60) } else { (0, 0) };
    let mut services: Vec<String> = current.targets.keys().chain(proposed.targets.keys()).cloned().collect();
    services.sort();
    services.dedup();
    let empty = BTreeMap::new();
    let plans = services
        .into_iter()
        .map(|service| {
            let run = |name: RunName| traces.get(&name).unwrap_or(&empty).get(&service);
            let configs = [current.targets.get(&service), proposed.targets.get(&service)];
            let reference = configs[0].and_then(reference_of);
            let running =
                run(RunName::Current).or(run(RunName::Proposed)).map(|t| Steps::from_points(0, t.running.clone()));
            let needs = match (&reference, &running) {
                (Some(r), Some(running)) => needs(configs[0], r, history.metrics.get(&service), running, (from, to)),
                _ => None,
            };
            let initial = history.initial.get(&service).map_or(0, |i| i.desired);
            let mut curves = BTreeMap::new();
            let mut summaries: BTreeMap<RunName, RunSummary> = BTreeMap::new();
            for name in [RunName::Current, RunName::Proposed, RunName::AwsReference] {
                let in_config = match name {
                    RunName::Proposed => configs[1].is_some(),
                    _ => configs[0].is_some(),
                };
                if let (true, Some(t)) = (in_config, run(name)) {
                    let steps = Steps::from_points(initial, t.desired.clone());
                    summaries.insert(name, summarize(t, &steps, needs.as_deref(), (from, to)));
                    curves.insert(name, steps);
                }
            }
            // The current run is the AWS reference when it was not replayed.
            if aws_is_current {
                if let (Some(summary), Some(curve)) = (summaries.get(&RunName::Current), curves.get(&RunName::Current))
                {
                    let (summary, curve) = (summary.clone(), curve.clone());
                    summaries.insert(RunName::AwsReference, summary);
                    curves.insert(RunName::AwsReference, curve);
                }
            }
            let stretches = match (curves.get(&RunName::Current), curves.get(&RunName::Proposed)) {
                (Some(c), Some(p)) => timeline::differences(c, p, from, to),
                _ => Vec::new(),
            };
            service_plan(service, configs, reference, summaries, curves, &stretches)
        })
        .collect();
    Ok(Plan { from: instant(from), to: instant(to), aws_reference_is_current: aws_is_current, services: plans, notes })
}

fn service_plan(
    service: String,
    configs: [Option<&TargetConfig>; 2],
    reference: Option<Reference>,
    mut summaries: BTreeMap<RunName, RunSummary>,
    curves: BTreeMap<RunName, Steps>,
    stretches: &[Stretch],
) -> ServicePlan {
    let difference = |time: i64, s: &Stretch| Difference { time: instant(time), current: s.left, proposed: s.right };
    let largest = stretches.iter().fold(None::<&Stretch>, |best, s| match best {
        Some(b) if b.left.abs_diff(b.right) >= s.left.abs_diff(s.right) => Some(b),
        _ => Some(s),
    });
    ServicePlan {
        configuration_changed: match configs {
            [Some(a), Some(b)] => !same_target(a, b),
            _ => true,
        },
        reference,
        current: summaries.remove(&RunName::Current),
        proposed: summaries.remove(&RunName::Proposed),
        aws_reference: summaries.remove(&RunName::AwsReference),
        first_difference: stretches.first().map(|s| difference(s.from, s)),
        largest_difference: largest.map(|s| difference(s.from, s)),
        seconds_different: stretches.iter().map(|s| u64::try_from(s.to - s.from).unwrap_or(0)).sum(),
        differences: stretches
            .iter()
            .map(|s| DifferenceStretch { from: instant(s.from), to: instant(s.to), current: s.left, proposed: s.right })
            .collect(),
        curves,
        service,
    }
}

fn instant(seconds: i64) -> Timestamp {
    Timestamp::from_second(seconds).unwrap_or(Timestamp::UNIX_EPOCH)
}

/// The recorded series a run's configuration reads — the recording itself
/// when it reads all of them; a series it does not read is left out of that
/// run with a note (a replay refuses metrics no policy reads), and a series
/// it reads that the history lacks is noted.
fn metrics_for<'a>(name: RunName, config: &Config, recorded: &'a Metrics, notes: &mut Vec<String>) -> Cow<'a, Metrics> {
    let mut left_out = Vec::new();
    for (service, series) in recorded {
        let Some(target) = config.targets.get(service) else {
            notes.push(format!(
                "{name}: the history's metrics of {service} are not replayed: the configuration does not scale it"
            ));
            left_out.push((service, None));
            continue;
        };
        let wanted = target.metric_ids();
        for id in series.keys().filter(|id| !wanted.contains(id)) {
            notes.push(format!(
                "{name}: metric {id} of {service} is not read by the configuration: left out of its replay"
            ));
            left_out.push((service, Some(id)));
        }
    }
    for (service, target) in &config.targets {
        for id in target.metric_ids() {
            if !recorded.get(service).is_some_and(|s| s.contains_key(&id)) {
                notes.push(format!(
                    "{name}: {service} reads metric {id}, which the history does not hold: its policies see no data"
                ));
            }
        }
    }
    if left_out.is_empty() {
        return Cow::Borrowed(recorded);
    }
    let mut kept = recorded.clone();
    for (service, id) in left_out {
        match id {
            None => {
                kept.remove(service);
            }
            Some(id) => {
                if let Some(series) = kept.get_mut(service) {
                    series.remove(id);
                }
            }
        }
    }
    kept.retain(|_, series| !series.is_empty());
    Cow::Owned(kept)
}

fn trace(config: &Config, history: History<'_>, metrics: &Metrics) -> Result<Traces, ReplayError> {
    let mut traces = Traces::new();
    let mut sink = |record: Streamed<'_>| {
        if let Streamed::Controller { decision, .. } = record {
            match traces.get_mut(&decision.service) {
                Some(t) => t.observe(decision),
                None => traces.entry(decision.service.clone()).or_default().observe(decision),
            }
        }
    };
    replay::replay_streaming(
        config,
        history.stack,
        history.initial,
        metrics,
        history.lines,
        None,
        &mut sink,
        &mut |_, _| {},
    )?;
    Ok(traces)
}

/// The current configuration's first target tracking policy.
fn reference_of(target: &TargetConfig) -> Option<Reference> {
    let p = target.target_tracking.first()?;
    Some(Reference { policy: p.name.clone(), metric: p.metric.clone(), target_value: p.target_value })
}

/// Tasks the reference target needed, datapoint by datapoint: the running
/// tasks that produced the datapoint × value ÷ target value, rounded up —
/// the proportionality target tracking itself assumes (aws-behaviour §3.6).
/// Each need holds until the next datapoint, at most a period (or
/// [`NEED_HOLD_SECONDS`]); with no running task the need is unknown.
fn needs(
    target: Option<&TargetConfig>,
    reference: &Reference,
    recorded: Option<&BTreeMap<MetricId, Vec<crate::memory::Datapoint>>>,
    running: &Steps,
    (from, to): (i64, i64),
) -> Option<Vec<Need>> {
    let points = recorded?.get(&reference.metric)?;
    if reference.target_value <= 0.0 {
        return None;
    }
    let period = target
        .and_then(|t| t.queries.get(&reference.metric))
        .map_or(60, |q| i64::from(q.period_seconds()))
        .clamp(1, NEED_HOLD_SECONDS);
    let mut out = Vec::with_capacity(points.len());
    for (i, p) in points.iter().enumerate() {
        let start = p.timestamp.as_second();
        let next = points.get(i + 1).map_or(start + period, |n| n.timestamp.as_second());
        let (start, end) = (start.max(from), next.min(start + period).min(to));
        let tasks = f64::from(running.at(p.timestamp.as_second()));
        if end <= start || tasks == 0.0 || !p.value.is_finite() || p.value < 0.0 {
            continue;
        }
        let needed = (tasks * p.value / reference.target_value).ceil();
        // Saturating: a wild datapoint cannot overflow the count.
        let needed = if needed >= f64::from(u32::MAX) { u32::MAX } else { needed as u32 };
        out.push(Need { from: start, to: end, tasks: needed });
    }
    Some(out)
}

fn summarize(trace: &Trace, steps: &Steps, needs: Option<&[Need]>, (from, to): (i64, i64)) -> RunSummary {
    let (under, over) = needs.map(|n| timeline::provisioning(steps, n)).unzip();
    let mut flaps = 0;
    let mut last: Option<(bool, i64)> = None;
    for &(t, from_count, to_count) in &trace.actions {
        let up = to_count > from_count;
        if let Some((was_up, when)) = last {
            if was_up != up && t - when <= FLAP_WINDOW_SECONDS {
                flaps += 1;
            }
        }
        last = Some((up, t));
    }
    let values = std::iter::once(steps.initial).chain(steps.changes.iter().map(|(_, v)| *v));
    let (min_desired, max_desired) = values.fold((u32::MAX, 0), |(lo, hi), v| (lo.min(v), hi.max(v)));
    RunSummary {
        evaluations: trace.evaluations,
        task_hours: steps.task_seconds(from, to) as f64 / 3600.0,
        under_provisioned_task_seconds: under,
        over_provisioned_task_seconds: over,
        actions: u32::try_from(trace.actions.len()).unwrap_or(u32::MAX),
        flaps,
        min_desired,
        max_desired,
        final_desired: steps.last(),
        blocked: trace.blocked.clone(),
        deferred: trace.deferred,
    }
}

/// Whether two configurations of one target would decide alike: bounds,
/// suspension, policies, scheduled actions, extensions and metric queries.
fn same_target(a: &TargetConfig, b: &TargetConfig) -> bool {
    let scheduled = |t: &TargetConfig| -> Vec<String> {
        t.scheduled
            .iter()
            .map(|s| {
                format!(
                    "{}|{}|{:?}|{:?}|{:?}|{:?}|{:?}",
                    s.name,
                    s.expression,
                    s.min_capacity,
                    s.max_capacity,
                    s.schedule.zone.iana_name(),
                    s.schedule.start,
                    s.schedule.end
                )
            })
            .collect()
    };
    a.min_capacity == b.min_capacity
        && a.max_capacity == b.max_capacity
        && a.suspended == b.suspended
        && a.target_tracking == b.target_tracking
        && a.step == b.step
        && a.extensions == b.extensions
        && a.queries == b.queries
        && scheduled(a) == scheduled(b)
}
