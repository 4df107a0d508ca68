//! One run of a scenario: the simulated world ([`SimWorld`]) second by
//! second, and the deployed stack's functions invoked on it exactly as AWS
//! invokes them — the tick at the template's schedule, ECS events routed by
//! the template's rules — through the production handlers
//! ([`handler::invoke`], [`handle_capacity_event`]). The engine has no
//! evaluation cadence of its own: when a decision is taken is decided by the
//! invocations and by the handler's polling (docs/simulation.md).
//!
//! Owns: the run loop (each second: the world moves, the invocations due
//! start, and those in flight — [`Invocations`] — are polled; one waiting in
//! [`Clock::sleep_until`] goes on once the world has reached that second) and
//! the scorecard. May not touch: the
//! controller or the planner directly (only the handlers call them), files,
//! the real clock.

use super::alarms::SimAlarms;
use super::cluster::PROVIDER;
use super::runtime::Invocations;
use super::scenario::{MetricPipeline, Scenario};
use super::stack::{scheduled_event, Function, Stack, StackError};
use super::world::{at, Second, SimWorld, WorldError, CLUSTER};
use crate::capacity::{CapacityDecision, CapacityOptions};
use crate::config::{self, ConfigError, TargetConfig};
use crate::decision::Decision;
use crate::handler::capacity::{handle_capacity_event, CapacityReport};
use crate::handler::{self, HandlerError, Report as HandlerReport, ServicePorts, Settings};
use crate::ports::memory::{CountingDecisions, InMemoryState};
use crate::ports::Clock;
use crate::route::Scratch;
use jiff::SignedDuration;
use serde::{Deserialize, Serialize};

pub use super::world::EPOCH_SECONDS;

/// Which controller a run simulates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ControllerKind {
    /// Application Auto Scaling, emulated (`aws` mode).
    AwsBaseline,
    /// ecs-autopilot `fast` mode.
    Autopilot,
}

/// A sample of the run every 10 s, for charts.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    pub t: u32,
    pub demand: f64,
    /// Tasks needed to hold the target at this demand.
    pub needed: u32,
    pub running: u32,
    pub desired: u32,
    /// Latest CPU datapoint the controller could read.
    pub metric: Option<f64>,
    /// The service's CPU utilization at this second (what the tasks really
    /// had, before the metric pipeline's period and delay).
    #[serde(default)]
    pub utilization: f64,
    /// Instances launched (scenarios with a cluster).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instances: Option<u32>,
    /// Tasks waiting in PROVISIONING for an instance.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub provisioning: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// Scorecard of one run.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Score {
    /// Seconds from the spike to the first scale-out decision.
    pub reaction_decision_seconds: Option<u32>,
    /// Seconds from the spike to the first new task RUNNING.
    pub reaction_running_seconds: Option<u32>,
    pub under_provisioned_task_seconds: u64,
    pub over_provisioned_task_seconds: u64,
    pub task_hours: f64,
    pub scaling_actions: u32,
    /// Direction reversals within 15 minutes.
    pub flaps: u32,
    pub seconds_above_100_percent: u32,
    /// Instance-hours (scenarios with a cluster).
    #[serde(default)]
    pub instance_hours: f64,
    /// Minutes with tasks that could not be placed (placement failures).
    #[serde(default)]
    pub placement_failure_minutes: u32,
    /// Task-seconds spent in PROVISIONING, waiting for an instance.
    #[serde(default)]
    pub provisioning_task_seconds: u64,
    /// Changes of the Auto Scaling group's desired capacity.
    #[serde(default)]
    pub capacity_actions: u32,
    /// The AWS calls the service handler made (what the controller costs).
    #[serde(default)]
    pub api_calls: super::world::ApiCalls,
}

/// One controller's run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Run {
    pub controller: ControllerKind,
    pub metrics: MetricPipeline,
    pub score: Score,
    pub samples: Vec<Sample>,
    pub decisions: Vec<Decision>,
    /// Capacity decisions that acted (scenarios with a cluster).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub capacity_decisions: Vec<crate::capacity::CapacityDecision>,
    /// The EventBridge events ECS sent during the run (task state changes,
    /// placement failures), in order: `autopilot replay --events-out`.
    #[serde(skip)]
    pub events: Vec<serde_json::Value>,
}

/// Why a scenario cannot run.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("scenario {field}: {reason}")]
    Scenario { field: String, reason: String },
    #[error("scenario configuration: {0}")]
    Config(#[from] ConfigError),
    #[error("{0}")]
    Stack(#[from] StackError),
    #[error("a handler failed in the simulated world: {0}")]
    Handler(#[from] HandlerError),
}

/// The configuration a controller runs with: one target-tracking CPU policy
/// (the high-resolution metric type when the stream is finer than a minute,
/// for both controllers: that is the query production sends), the scenario's
/// scheduled actions, and for ecs-autopilot its `Autopilot` settings.
///
/// # Errors
/// [`SimError`] when the scenario's settings do not make a valid configuration.
pub fn target_config(s: &Scenario, kind: ControllerKind, metrics: MetricPipeline) -> Result<TargetConfig, SimError> {
    let resource = format!("service/{CLUSTER}/{}", s.name);
    let metric_type = if metrics.period_seconds < 60 {
        "ECSServiceAverageCPUUtilizationHighResolution"
    } else {
        "ECSServiceAverageCPUUtilization"
    };
    let mut doc = serde_json::json!({
        "ScalableTargets": [{"ResourceId": resource, "MinCapacity": s.min_tasks, "MaxCapacity": s.max_tasks}],
        "ScalingPolicies": [{
            "PolicyName": "cpu", "ResourceId": resource, "PolicyType": "TargetTrackingScaling",
            "TargetTrackingScalingPolicyConfiguration": {"TargetValue": s.target_cpu_percent, "PredefinedMetricSpecification": {"PredefinedMetricType": metric_type}}
        }],
    });
    if !s.scheduled_actions.is_empty() {
        let actions: Vec<serde_json::Value> = s
            .scheduled_actions
            .iter()
            .map(|a| {
                let mut a = a.clone();
                if let Some(obj) = a.as_object_mut() {
                    obj.insert("ResourceId".into(), resource.clone().into());
                }
                a
            })
            .collect();
        doc["ScheduledActions"] = actions.into();
    }
    if kind == ControllerKind::Autopilot {
        let mut defaults = serde_json::json!({"EvaluationMode": "fast"});
        if let Some(serde_json::Value::Object(extra)) = &s.autopilot {
            for (k, v) in extra {
                defaults[k] = v.clone();
            }
        }
        doc["Autopilot"] = serde_json::json!({"Defaults": defaults});
    }
    let cfg = config::load_str(&doc.to_string())?;
    cfg.targets
        .into_values()
        .next()
        .ok_or_else(|| SimError::Scenario { field: "name".into(), reason: "no scalable target".into() })
}

/// Seconds the world keeps running after the scenario ends so that
/// invocations still polling finish (their decisions after the end are
/// dropped; nothing after the end is scored).
const DRAIN_SECONDS: u32 = 120;

/// Everything an invocation borrows.
struct Deployed<'a> {
    world: &'a SimWorld,
    config: &'a config::Config,
    settings: Settings,
    ports: ServicePorts<'a, SimWorld, SimWorld, InMemoryState, CountingDecisions>,
    providers: Vec<String>,
    capacity: CapacityOptions,
}

/// What an invocation returned.
enum Outcome {
    Controller(Result<HandlerReport, HandlerError>),
    Capacity(Result<CapacityReport, HandlerError>),
}

impl<'a> Deployed<'a> {
    /// One Lambda invocation of `function` with `event`, as the Lambda edge
    /// runs it.
    async fn invoke(&'a self, function: Function, event: serde_json::Value) -> Outcome {
        match function {
            Function::Controller => {
                Outcome::Controller(handler::invoke(self.world, self.config, self.settings, &self.ports, &event).await)
            }
            Function::Capacity => {
                let ports = (self.world, self.ports.state, self.ports.decisions);
                let now = self.world.now();
                let report =
                    handle_capacity_event(now, &self.providers, &self.capacity, self.settings, ports, &event).await;
                Outcome::Capacity(report)
            }
        }
    }
}

/// The scorecard, accumulated second by second.
struct Scorer {
    score: Score,
    spike: Option<u32>,
    running_at_spike: Option<u32>,
}

impl Scorer {
    fn new(s: &Scenario) -> Self {
        let spike = s.reaction_from();
        Self { score: Score::default(), spike, running_at_spike: None }
    }

    fn second(&mut self, t: u32, s: &Second, requests_per_task: f64) {
        let score = &mut self.score;
        if Some(t) == self.spike {
            self.running_at_spike = Some(s.running);
        }
        if let (Some(sp), Some(r0)) = (self.spike, self.running_at_spike) {
            if t >= sp && s.running > r0 && score.reaction_running_seconds.is_none() {
                score.reaction_running_seconds = Some(t - sp);
            }
        }
        score.under_provisioned_task_seconds += u64::from(s.needed.saturating_sub(s.serving));
        score.over_provisioned_task_seconds += u64::from(s.running.saturating_sub(s.needed));
        score.task_hours += f64::from(s.running) / 3600.0;
        score.provisioning_task_seconds += u64::from(s.provisioning);
        if s.demand > f64::from(s.serving) * requests_per_task {
            score.seconds_above_100_percent += 1;
        }
    }

    /// Actions, flaps and the decision reaction from the desired-count
    /// changes ECS applied.
    fn actions(&mut self, applied: &[super::world::Applied]) {
        let mut last: Option<(bool, u32)> = None;
        for &(t, from, to) in applied {
            self.score.scaling_actions += 1;
            let up = to > from;
            if let Some((was_up, when)) = last {
                if was_up != up && t - when <= 900 {
                    self.score.flaps += 1;
                }
            }
            last = Some((up, t));
            if let (true, Some(sp)) = (up, self.spike) {
                if t >= sp && self.score.reaction_decision_seconds.is_none() {
                    self.score.reaction_decision_seconds = Some(t - sp);
                }
            }
        }
    }
}

/// Runs one controller over the scenario: the deployed stack on a
/// simulated world, every decision taken by the production handlers.
///
/// # Errors
/// [`SimError`] for an invalid scenario, or a handler failure (which a
/// deployment would retry; the simulated world never fails, so it is a bug
/// or a configuration the world cannot answer).
pub fn run(s: &Scenario, kind: ControllerKind) -> Result<Run, SimError> {
    let metrics = stream(s, kind)?;
    check(s, metrics)?;
    run_with(s, kind, target_config(s, kind, metrics)?)
}

/// Runs one controller over the scenario with `target` as its
/// configuration: the simulated service takes the target's identity and
/// the scenario's demand drives every metric its policies read (CPU,
/// memory with `service.memory`, the load balancer's requests per target,
/// `custom_metrics`).
///
/// # Errors
/// As [`run`]; a policy reading a metric the scenario does not model is a
/// [`SimError::Handler`] naming it.
pub fn run_with(s: &Scenario, kind: ControllerKind, target: TargetConfig) -> Result<Run, SimError> {
    let metrics = stream(s, kind)?;
    check(s, metrics)?;
    let resource_id = target.resource_id.clone();
    let cluster_name = resource_id.split('/').nth(1).unwrap_or(CLUSTER).to_owned();
    let config = config::Config {
        targets: [(resource_id.clone(), target)].into_iter().collect(),
        warnings: Vec::new(),
        capacity: config::extensions::CapacitySection::default(),
    };
    let prefix = match kind {
        ControllerKind::AwsBaseline => "aws",
        ControllerKind::Autopilot => "autopilot",
    };
    let alarms = config.targets.get(&resource_id).map_or_else(SimAlarms::none, |t| SimAlarms::of(t, prefix, at(0)));
    let world = SimWorld::new(s, metrics, prefix, &resource_id)
        .map_err(|WorldError { field, reason }| SimError::Scenario { field, reason })?
        .with_alarms(alarms);
    let stack = Stack::deployed_for(&format!("arn:aws:ecs:us-east-1:123456789012:cluster/{cluster_name}"))?;
    let (state, published) = (InMemoryState::default(), CountingDecisions::default());
    // The baseline is Application Auto Scaling and cluster auto scaling:
    // `aws` mode on AWS's cadence (the tick; alarms of sub-minute metrics
    // every 10 s through the handler's polling), deaf to ECS events.
    // ecs-autopilot is the stack as deployed, in `fast` mode.
    let capacity_mode = match kind {
        ControllerKind::AwsBaseline => config::EvaluationMode::Aws,
        ControllerKind::Autopilot => config::EvaluationMode::Fast,
    };
    let deployed = Deployed {
        world: &world,
        config: &config,
        settings: Settings::default(),
        ports: ServicePorts { services: &world, metrics: &world, state: &state, decisions: &published },
        providers: if s.cluster.is_some() { vec![PROVIDER.to_owned()] } else { Vec::new() },
        // The scenario's `cluster.consolidation` is ecs-autopilot's
        // `Autopilot.Capacity.Consolidation`; the baseline never has it.
        capacity: CapacityOptions::with_section(
            capacity_mode,
            &config::extensions::CapacitySection {
                consolidation: Some(
                    kind == ControllerKind::Autopilot && s.cluster.as_ref().is_some_and(|c| c.consolidation),
                ),
                ..config.capacity
            },
        ),
    };
    let mut running: Invocations<'_, Outcome> = Invocations::default();
    let mut scorer = Scorer::new(s);
    let mut samples = Vec::new();
    let mut decisions: Vec<Decision> = Vec::new();
    let mut capacity_decisions: Vec<CapacityDecision> = Vec::new();
    let mut events = Vec::new();
    let mut scratch = Scratch::default();
    let mut ticks = 0u64;
    let one_second = SignedDuration::from_secs(1);
    for t in 0..s.duration_seconds.saturating_add(DRAIN_SECONDS) {
        let scored = t < s.duration_seconds;
        let second = deployed.world.advance(t);
        let now = at(t);
        if scored {
            for (when, rule, functions) in stack.fires_between(now.checked_sub(one_second).unwrap_or(now), now) {
                ticks += 1;
                let event = scheduled_event(rule, when, ticks);
                for f in functions {
                    running.spawn(deployed.invoke(*f, event.clone()));
                }
            }
        }
        for event in deployed.world.take_events() {
            if kind == ControllerKind::Autopilot && scored {
                for f in stack.functions_for(&event.to_string(), &mut scratch) {
                    running.spawn(deployed.invoke(f, event.clone()));
                }
            }
            if scored {
                events.push(event);
            }
        }
        for outcome in running.poll_all() {
            match outcome {
                Outcome::Controller(report) => decisions.extend(report?.decisions),
                Outcome::Capacity(report) => {
                    capacity_decisions.extend(report?.decisions.into_iter().filter(|d| !d.actions.is_empty()));
                }
            }
        }
        if !scored {
            if running.is_empty() {
                break;
            }
            continue;
        }
        scorer.second(t, &second, s.service.requests_per_task);
        if t % 10 == 0 {
            samples.push(Sample {
                t,
                demand: second.demand,
                needed: second.needed,
                running: second.running,
                desired: deployed.world.desired(),
                metric: deployed.world.newest_cpu(),
                utilization: second.cpu,
                instances: deployed.world.instances(),
                provisioning: second.provisioning,
            });
        }
    }
    let end = at(s.duration_seconds);
    let applied: Vec<_> = world.applied().into_iter().filter(|(t, _, _)| *t < s.duration_seconds).collect();
    scorer.actions(&applied);
    let mut score = scorer.score;
    score.api_calls = world.calls();
    if let Some((instance_seconds, failures, actions)) = world.cluster_figures() {
        score.instance_hours = instance_seconds as f64 / 3600.0;
        score.placement_failure_minutes = failures;
        score.capacity_actions = actions;
    }
    decisions.retain(|d| d.time < end);
    decisions.sort_by_key(|d| d.time);
    capacity_decisions.retain(|d| d.time < end);
    capacity_decisions.sort_by_key(|d| d.time);
    Ok(Run { controller: kind, metrics, score, samples, decisions, capacity_decisions, events })
}

/// The stream `kind` reads (docs/simulation.md "Fair comparison").
fn stream(s: &Scenario, kind: ControllerKind) -> Result<MetricPipeline, SimError> {
    let streams = s.streams().map_err(|(field, reason)| SimError::Scenario { field, reason })?;
    Ok(match kind {
        ControllerKind::AwsBaseline => streams.baseline,
        ControllerKind::Autopilot => streams.autopilot,
    })
}

fn check(s: &Scenario, metrics: MetricPipeline) -> Result<(), SimError> {
    if !matches!(metrics.period_seconds, 10 | 20 | 30 | 60) {
        return Err(SimError::Scenario {
            field: "metrics.period_seconds".into(),
            reason: format!("{} must be 10, 20, 30 or 60", metrics.period_seconds),
        });
    }
    if s.service.requests_per_task <= 0.0 || s.service.task_start_seconds.0 > s.service.task_start_seconds.1 {
        return Err(SimError::Scenario {
            field: "service".into(),
            reason: "requests_per_task must be positive and task_start_seconds (min, max) ordered".into(),
        });
    }
    if let super::scenario::Demand::Csv { path } = &s.demand {
        return Err(SimError::Scenario {
            field: "demand.path".into(),
            reason: format!("{path}: CSV demand must be read into points first (the CLI does)"),
        });
    }
    // Sizes the scenario controls are bounded, so a typo cannot make a run
    // allocate without end or run for days (docs/simulation.md).
    let too_large = |field: &str, value: u64, limit: u64, why: &str| {
        (value > limit).then(|| SimError::Scenario {
            field: field.into(),
            reason: format!("{value} is more than {limit} ({why})"),
        })
    };
    let task_limit = "ECS runs at most 5,000 tasks per service";
    let checks = [
        too_large("duration_seconds", u64::from(s.duration_seconds), MAX_DURATION_SECONDS, "31 days"),
        too_large("service.initial_tasks", u64::from(s.service.initial_tasks), MAX_TASKS, task_limit),
        too_large("service.initial_desired", u64::from(s.service.initial_desired.unwrap_or(0)), MAX_TASKS, task_limit),
        too_large("max_tasks", u64::from(s.max_tasks), MAX_TASKS, task_limit),
        too_large("service.task_start_seconds", u64::from(s.service.task_start_seconds.1), 3_600, "an hour"),
        too_large(
            "cluster.max_instances",
            s.cluster.as_ref().map_or(0, |c| u64::from(c.max_instances.max(c.initial_instances))),
            MAX_INSTANCES,
            "the simulated Auto Scaling group's size",
        ),
    ];
    match checks.into_iter().flatten().next() {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// The longest scenario: 31 days.
pub const MAX_DURATION_SECONDS: u64 = 31 * 86_400;
/// The most tasks a scenario's service may have (ECS's per-service quota).
pub const MAX_TASKS: u64 = 5_000;
/// The most instances a scenario's cluster may have.
pub const MAX_INSTANCES: u64 = 2_000;

/// The two configurations a backtest runs from the user's one: the AWS
/// baseline reads its AWS-shaped part alone (no `Autopilot` settings:
/// exactly Application Auto Scaling), ecs-autopilot reads it as written.
///
/// # Errors
/// [`SimError::Scenario`] unless the configuration has exactly one scalable
/// target (the simulated service takes its identity).
pub fn backtest_targets(config: &config::Config) -> Result<(TargetConfig, TargetConfig), SimError> {
    let mut targets = config.targets.values();
    let (Some(target), None) = (targets.next(), targets.next()) else {
        return Err(SimError::Scenario {
            field: "--config".into(),
            reason: format!(
                "a backtest simulates one service: the configuration has {} scalable targets",
                config.targets.len()
            ),
        });
    };
    let baseline = TargetConfig { extensions: crate::config::Extensions::default(), ..target.clone() };
    Ok((baseline, target.clone()))
}

/// Both controllers on the same scenario.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub scenario: String,
    pub description: String,
    pub duration_seconds: u32,
    /// Whether both read the same metric stream, or which other one
    /// production delivers to ecs-autopilot.
    pub fairness: super::scenario::Fairness,
    /// Where the demand starts to rise (reaction is measured from here).
    #[serde(default)]
    pub reaction_from: Option<u32>,
    /// The service's bounds.
    #[serde(default)]
    pub min_tasks: u32,
    #[serde(default)]
    pub max_tasks: u32,
    /// The target (% CPU).
    #[serde(default)]
    pub target_cpu_percent: f64,
    pub baseline: Run,
    pub autopilot: Run,
}

impl Report {
    /// Both runs of `s`, with the scenario's facts the scorecard and the
    /// chart print.
    ///
    /// # Errors
    /// [`SimError::Scenario`] when the scenario's streams are invalid.
    pub fn new(s: &Scenario, baseline: Run, autopilot: Run) -> Result<Self, SimError> {
        let streams = s.streams().map_err(|(field, reason)| SimError::Scenario { field, reason })?;
        Ok(Self {
            scenario: s.name.clone(),
            description: s.description.clone(),
            duration_seconds: s.duration_seconds,
            fairness: streams.fairness,
            reaction_from: s.reaction_from(),
            min_tasks: s.min_tasks,
            max_tasks: s.max_tasks,
            target_cpu_percent: s.target_cpu_percent,
            baseline,
            autopilot,
        })
    }
}

/// Runs the baseline and ecs-autopilot.
///
/// # Errors
/// [`SimError`] for an invalid scenario.
pub fn simulate(s: &Scenario) -> Result<Report, SimError> {
    Report::new(s, run(s, ControllerKind::AwsBaseline)?, run(s, ControllerKind::Autopilot)?)
}
