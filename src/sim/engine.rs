//! The closed-loop engine: a service under demand, a CloudWatch-like metric
//! pipeline (period, publication delay), and a controller — the production
//! [`crate::controller::evaluate`] — whose desired count starts and stops
//! tasks. Virtual time in whole seconds; every random draw is seeded.

use super::cluster::{ServiceCounts, SimCluster};
use super::scenario::{unit, MetricPipeline, Scenario};
use super::tasks::TaskBook;
use crate::config::{self, ConfigError, MetricId, TargetConfig};
use crate::controller;
use crate::decision::{Action, Decision};
use crate::event::Parsed;
use crate::handler::{self, TargetRecord};
use crate::memory::{Datapoint, TargetMemory};
use crate::policy::Observation;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

/// Simulated time starts here (2026-01-05, a Monday, 00:00 UTC).
pub const EPOCH_SECONDS: i64 = 1_767_571_200;

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
}

fn at(t: u32) -> Timestamp {
    Timestamp::from_second(EPOCH_SECONDS + i64::from(t)).unwrap_or(Timestamp::UNIX_EPOCH)
}

/// The configuration a controller runs with: one target-tracking CPU policy
/// (the high-resolution metric type for 20-second pipelines), the scenario's
/// scheduled actions, and for ecs-autopilot its `Autopilot` settings.
///
/// # Errors
/// [`SimError`] when the scenario's settings do not make a valid configuration.
pub fn target_config(s: &Scenario, kind: ControllerKind, metrics: MetricPipeline) -> Result<TargetConfig, SimError> {
    let resource = format!("service/sim/{}", s.name);
    let metric_type = if metrics.period_seconds < 60 && kind == ControllerKind::AwsBaseline {
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

/// Runs one controller over the scenario.
///
/// # Errors
/// [`SimError`] for an invalid scenario.
pub fn run(s: &Scenario, kind: ControllerKind) -> Result<Run, SimError> {
    let metrics = match kind {
        ControllerKind::AwsBaseline => s.baseline_metrics,
        ControllerKind::Autopilot => s.autopilot_metrics.unwrap_or(s.baseline_metrics),
    };
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
    let cfg = target_config(s, kind, metrics)?;
    // The configuration as the handler routes by (one target).
    let single = config::Config {
        targets: [(cfg.resource_id.clone(), cfg.clone())].into_iter().collect(),
        warnings: Vec::new(),
    };
    let metric_id = cfg.metric_ids().into_iter().next().unwrap_or(MetricId(String::new()));
    let period = metrics.period_seconds;
    // Evaluation cadence: AWS evaluates alarms every minute (every 10 s for
    // sub-minute periods, spec §3.5); ecs-autopilot as datapoints arrive.
    let cadence = match kind {
        ControllerKind::AwsBaseline if period >= 60 => 60,
        _ => 10,
    };
    let target = s.target_cpu_percent;
    let rpt = s.service.requests_per_task;
    let mut memory = TargetMemory::default();
    let mut desired = s.service.initial_desired.unwrap_or(s.service.initial_tasks);
    let prefix = match kind {
        ControllerKind::AwsBaseline => "aws",
        ControllerKind::Autopilot => "autopilot",
    };
    let mut book = TaskBook::new("sim", &s.name, s.service.initial_tasks, prefix);
    let mut bucket_sum = 0.0;
    let mut bucket_n = 0u32;
    let mut bucket_tasks = 0.0;
    let mut counts: Vec<Datapoint> = Vec::new();
    let mut pending_points: VecDeque<(u32, Datapoint)> = VecDeque::new();
    let mut pending_counts: VecDeque<(u32, Datapoint)> = VecDeque::new();
    let mut visible: Vec<Datapoint> = Vec::new();
    let mut score = Score::default();
    let mut samples = Vec::new();
    let mut decisions = Vec::new();
    let mut events = Vec::new();
    let spike = match s.demand {
        super::scenario::Demand::Step { at_seconds, factor, .. } if factor > 1.0 => Some(at_seconds),
        _ => None,
    };
    let mut running_at_spike = None;
    let mut last_direction: Option<(bool, u32)> = None;
    let mut draws = 0u64;
    // EC2 capacity: the baseline plans as cluster auto scaling does (aws
    // mode, on the one-minute metric); ecs-autopilot in fast mode on the
    // events the capacity function receives (placement failures, task state
    // changes) and on the one-minute tick.
    let capacity_mode = match kind {
        ControllerKind::AwsBaseline => config::EvaluationMode::Aws,
        ControllerKind::Autopilot => config::EvaluationMode::Fast,
    };
    let mut cluster = s.cluster.as_ref().map(|m| SimCluster::new(m, capacity_mode, s.seed));
    if let Some(c) = cluster.as_mut() {
        // The initial running tasks sit on the initial instances.
        for _ in 0..book.running_count() {
            if !c.place(0) {
                return Err(SimError::Scenario {
                    field: "cluster.initial_instances".into(),
                    reason: format!(
                        "too few instances for the {} initial tasks (service.initial_tasks)",
                        s.service.initial_tasks
                    ),
                });
            }
        }
    }
    // The handler's ledgers: one for the service, one for the provider.
    let mut service_ledger = TargetRecord::default();
    let mut capacity_ledger = crate::memory::EventLedger::default();
    let mut deploy_remaining = 0u32;
    let start_delay = |draws: &mut u64| {
        let (lo, hi) = s.service.task_start_seconds;
        *draws += 1;
        let delay = lo + ((f64::from(hi - lo + 1)) * unit(s.seed ^ draws.wrapping_mul(0xA24B_AED4_963E_E407))) as u32;
        delay.min(hi)
    };
    // A desired count above the running tasks at the start: the rest start now.
    let missing = desired.saturating_sub(book.running_count());
    book.create(missing, 0, at(0), cluster.is_some(), &mut || start_delay(&mut draws));
    let mut placement_reported_at: Option<u32> = None;
    for t in 0..s.duration_seconds {
        let now = at(t);
        // Tasks whose start time has come are RUNNING; during a deployment
        // each new one replaces an old one, which stops.
        let started = book.start_due(t, now);
        let replaced = started.min(deploy_remaining);
        if replaced > 0 {
            deploy_remaining -= replaced;
            book.stop_running(replaced, true, now);
            if let Some(c) = cluster.as_mut() {
                c.release(replaced);
            }
        }
        if s.deployment.is_some_and(|d| d.at_seconds == t) {
            deploy_remaining = book.running_count();
        }
        if let (Some(d), true) = (s.deployment, deploy_remaining > 0) {
            // New tasks within maximumPercent of the desired count.
            let ceiling = desired * d.maximum_percent / 100;
            let not_started = deploy_remaining.saturating_sub(book.starting_count() + book.provisioning_count());
            let new = ceiling.saturating_sub(book.in_flight()).min(not_started);
            book.create(new, t, now, cluster.is_some(), &mut || start_delay(&mut draws));
        }
        let mut plan_now = t % 60 == 0;
        if let Some(c) = cluster.as_mut() {
            c.advance();
            while book.provisioning_count() > 0 && c.place(t) {
                let delay = start_delay(&mut draws);
                book.place(t, now, delay);
            }
            if book.provisioning_count() > 0 {
                // ECS reports the failure as a service event, at most once
                // a minute here; the minute counts in the scorecard.
                if placement_reported_at.is_none_or(|last| t >= last + 60) {
                    c.placement_failed();
                    book.placement_failure(now, "RESOURCE:CPU");
                    placement_reported_at = Some(t);
                }
            }
            score.provisioning_task_seconds += u64::from(book.provisioning_count());
        }
        // Events reach the controller as EventBridge delivers them: parsed,
        // sent to their target and admitted by the ledger, as the Lambda
        // handlers do. The baseline ignores them (AWS scales on metrics).
        let mut service_event = false;
        for event in book.pending_events.drain(..) {
            if kind == ControllerKind::Autopilot {
                if let Ok(Parsed::Ours(e)) = crate::event::parse_event_value(event.clone()) {
                    let for_service = handler::targets_of(&single, &e).is_ok_and(|ts| !ts.is_empty());
                    if for_service && handler::admit(&mut service_ledger.ledger, &e, now).is_ok() {
                        service_event = true;
                    }
                    if handler::admit(&mut capacity_ledger, &e, now).is_ok() {
                        plan_now = true;
                    }
                }
            }
            events.push(event);
        }
        if let Some(c) = cluster.as_mut() {
            let replan = match kind {
                ControllerKind::AwsBaseline => t % 60 == 0,
                ControllerKind::Autopilot => plan_now,
            };
            if replan {
                let counts = ServiceCounts {
                    desired,
                    running: book.running_count(),
                    pending: book.starting_count(),
                    provisioning: book.provisioning_count(),
                    deployment_in_progress: deploy_remaining > 0,
                };
                c.plan(t, now, counts);
            }
        }
        let running = book.running_count();
        // Traffic reaches only tasks that passed their health checks.
        let serving = book.serving_count(t, s.service.healthy_after_seconds);
        let demand = s.demand.at(t, s.seed).max(0.0);
        if Some(t) == spike {
            running_at_spike = Some(running);
        }
        if let (Some(sp), Some(r0)) = (spike, running_at_spike) {
            if t >= sp && running > r0 && score.reaction_running_seconds.is_none() {
                score.reaction_running_seconds = Some(t - sp);
            }
        }
        let needed = ((demand / (rpt * target / 100.0)).ceil() as u32).clamp(s.min_tasks, s.max_tasks);
        score.under_provisioned_task_seconds += u64::from(needed.saturating_sub(serving));
        score.over_provisioned_task_seconds += u64::from(running.saturating_sub(needed));
        score.task_hours += f64::from(running) / 3600.0;
        if demand > f64::from(serving) * rpt {
            score.seconds_above_100_percent += 1;
        }
        // ECS publishes CPU only while tasks run (spec §3.9); task-level CPU
        // caps at 100 % (§11.1); tasks not yet healthy idle, so the service
        // average is the serving tasks' CPU spread over all running ones.
        if running > 0 {
            let busy = if serving > 0 { (demand / (f64::from(serving) * rpt) * 100.0).min(100.0) } else { 0.0 };
            bucket_sum += busy * f64::from(serving) / f64::from(running);
            bucket_n += 1;
            bucket_tasks += f64::from(running);
        }
        if (t + 1) % period == 0 {
            if bucket_n > 0 {
                let start = t + 1 - period;
                let point = Datapoint { timestamp: at(start), value: bucket_sum / f64::from(bucket_n) };
                let tasks = Datapoint { timestamp: at(start), value: bucket_tasks / f64::from(bucket_n) };
                pending_points.push_back((t + 1 + metrics.delay_seconds, point));
                pending_counts.push_back((t + 1 + metrics.delay_seconds, tasks));
            }
            bucket_sum = 0.0;
            bucket_n = 0;
            bucket_tasks = 0.0;
        }
        while pending_points.front().is_some_and(|(when, _)| *when <= t) {
            if let Some((_, p)) = pending_points.pop_front() {
                visible.push(p);
            }
        }
        while pending_counts.front().is_some_and(|(when, _)| *when <= t) {
            if let Some((_, c)) = pending_counts.pop_front() {
                counts.push(c);
            }
        }
        if t % cadence == 0 || service_event {
            let observation = Observation {
                desired_count: desired,
                running_count: running,
                pending_count: book.starting_count() + book.provisioning_count(),
                deployment_in_progress: deploy_remaining > 0,
                metrics: [(metric_id.clone(), visible.iter().rev().take(64).copied().collect())].into_iter().collect(),
                sample_counts: [(metric_id.clone(), counts.iter().rev().take(8).copied().collect())]
                    .into_iter()
                    .collect(),
                ..Observation::default()
            };
            let (decision, next) = controller::evaluate(now, &cfg, &observation, std::mem::take(&mut memory));
            memory = next;
            for action in &decision.actions {
                let Action::SetDesiredCount { from, to } = *action else { continue };
                score.scaling_actions += 1;
                let up = to > from;
                if let Some((was_up, when)) = last_direction {
                    if was_up != up && t - when <= 900 {
                        score.flaps += 1;
                    }
                }
                last_direction = Some((up, t));
                if up {
                    if let Some(sp) = spike {
                        if t >= sp && score.reaction_decision_seconds.is_none() {
                            score.reaction_decision_seconds = Some(t - sp);
                        }
                    }
                    // With EC2 capacity, new tasks wait in PROVISIONING
                    // until an instance has room.
                    let new = to.saturating_sub(book.in_flight());
                    book.create(new, t, now, cluster.is_some(), &mut || start_delay(&mut draws));
                } else {
                    // Scale-in: waiting tasks are cancelled first, then
                    // starting ones, then running ones stop.
                    let mut excess = book.in_flight().saturating_sub(to);
                    excess -= book.cancel_provisioning(excess, now);
                    let freed = book.cancel_starting(excess, now);
                    excess -= freed;
                    let stopped = book.stop_running(excess, false, now);
                    if let Some(c) = cluster.as_mut() {
                        c.release(freed + stopped);
                    }
                }
                desired = to;
            }
            if !decision.actions.is_empty() || t % 60 == 0 {
                decisions.push(decision);
            }
        }
        if t % 10 == 0 {
            samples.push(Sample {
                t,
                demand,
                needed,
                running: book.running_count(),
                desired,
                metric: visible.last().map(|p| p.value),
                instances: cluster.as_ref().map(SimCluster::instance_count),
                provisioning: book.provisioning_count(),
            });
        }
    }
    // Events of the last second (decisions taken in it) are kept too.
    events.append(&mut book.pending_events);
    let mut capacity_decisions = Vec::new();
    if let Some(c) = cluster {
        score.instance_hours = c.instance_seconds as f64 / 3600.0;
        score.placement_failure_minutes = c.placement_failures;
        score.capacity_actions = c.capacity_actions;
        capacity_decisions = c.decisions;
    }
    Ok(Run { controller: kind, metrics, score, samples, decisions, capacity_decisions, events })
}

/// Both controllers on the same scenario.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub scenario: String,
    pub description: String,
    pub duration_seconds: u32,
    pub baseline: Run,
    pub autopilot: Run,
}

/// Runs the baseline and ecs-autopilot.
///
/// # Errors
/// [`SimError`] for an invalid scenario.
pub fn simulate(s: &Scenario) -> Result<Report, SimError> {
    Ok(Report {
        scenario: s.name.clone(),
        description: s.description.clone(),
        duration_seconds: s.duration_seconds,
        baseline: run(s, ControllerKind::AwsBaseline)?,
        autopilot: run(s, ControllerKind::Autopilot)?,
    })
}
