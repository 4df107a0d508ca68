//! The simulated AWS one run lives in: ECS (the service, its tasks one by
//! one, its deployment, the events it sends), the Auto Scaling group
//! ([`SimCluster`]), CloudWatch ([`SimCloudWatch`]) and the clock. It
//! implements the same ports the Lambda adapters implement —
//! [`ServicePort`], [`MetricsPort`], [`CapacityPort`], [`Clock`] — so the
//! production handlers run on it unchanged.
//!
//! Owns: the world's state and its second-by-second evolution under demand.
//! May not touch: decisions (only the handlers, through the ports, change
//! the desired count or the group), the real clock.

use super::alarms::SimAlarms;
use super::cloudwatch::{SimCloudWatch, Source};
use super::cluster::{ServiceCounts, SimCluster, PROVIDER};
use super::scenario::{unit, MetricPipeline, Scenario};
use super::tasks::TaskBook;
use crate::capacity::{CapacityAction, Cluster};
use crate::config::{MetricId, MetricQuery};
use crate::memory::Datapoint;
use crate::ports::{CapacityPort, Clock, MetricsPort, PortError, ServicePort, ServiceSnapshot};
use jiff::Timestamp;
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Mutex, MutexGuard, PoisonError};

/// Simulated time starts here (2026-01-05, a Monday, 00:00 UTC).
pub const EPOCH_SECONDS: i64 = 1_767_571_200;

/// The simulated cluster's name when the scenario's own policy runs.
pub const CLUSTER: &str = "sim";

/// The instant of simulated second `t`.
#[must_use]
pub fn at(t: u32) -> Timestamp {
    Timestamp::from_second(EPOCH_SECONDS + i64::from(t)).unwrap_or(Timestamp::UNIX_EPOCH)
}

/// What one second of the world looked like, for the scorecard.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Second {
    pub demand: f64,
    /// Tasks needed to hold the target at this demand, within the bounds.
    pub needed: u32,
    pub running: u32,
    /// RUNNING tasks past their health checks (receiving traffic).
    pub serving: u32,
    pub provisioning: u32,
    /// The service's average CPU this second, as published (0 with no
    /// running task).
    pub cpu: f64,
}

/// A desired-count change ECS applied: `(second, from, to)`.
pub type Applied = (u32, u32, u32);

struct State {
    t: u32,
    scenario: Scenario,
    resource_id: String,
    desired: u32,
    book: TaskBook,
    deploy_remaining: u32,
    /// Tasks with a larger id belong to the running deployment.
    deployment_boundary: Option<u64>,
    draws: u64,
    placement_reported_at: Option<u32>,
    cluster: Option<SimCluster>,
    cloudwatch: SimCloudWatch,
    /// The configuration's alarms, and the state changes they sent.
    alarms: SimAlarms,
    alarm_events: Vec<serde_json::Value>,
    applied: Vec<Applied>,
    calls: ApiCalls,
}

/// The AWS calls the handlers made on the world (their cost, docs/lambdas.md).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ApiCalls {
    pub describe_services: u64,
    pub update_service: u64,
    pub get_metric_data: u64,
    /// Metrics requested across `GetMetricData` calls (what CloudWatch bills).
    pub metrics_requested: u64,
}

/// The simulated AWS of one run.
pub struct SimWorld {
    state: Mutex<State>,
}

/// Why a world cannot be built from a scenario.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("scenario {field}: {reason}")]
pub struct WorldError {
    pub field: String,
    pub reason: String,
}

impl State {
    fn start_delay(&mut self) -> u32 {
        let (lo, hi) = self.scenario.service.task_start_seconds;
        self.draws += 1;
        let u = unit(self.scenario.seed ^ self.draws.wrapping_mul(0xA24B_AED4_963E_E407));
        (lo + (f64::from(hi - lo + 1) * u) as u32).min(hi)
    }

    fn create(&mut self, n: u32) {
        let (t, now, provisioning) = (self.t, at(self.t), self.cluster.is_some());
        let mut delays: Vec<u32> = (0..n).map(|_| self.start_delay()).collect();
        let mut next = || delays.pop().unwrap_or(0);
        self.book.create(n, t, now, provisioning, &mut next);
    }

    /// ECS applying a new desired count: new tasks start (or wait for an
    /// instance); on scale-in, waiting tasks are cancelled first, then
    /// starting ones, then running ones stop.
    fn set_desired(&mut self, to: u32) {
        let from = self.desired;
        if to == from {
            return;
        }
        let now = at(self.t);
        if to > self.book.in_flight() {
            self.create(to - self.book.in_flight());
        } else {
            let mut excess = self.book.in_flight().saturating_sub(to);
            excess -= self.book.cancel_provisioning(excess, now);
            let freed = self.book.cancel_starting(excess, now);
            excess -= freed;
            let stopped = self.book.stop_running(excess, false, now);
            if let Some(c) = self.cluster.as_mut() {
                c.release(freed + stopped);
            }
        }
        self.desired = to;
        self.applied.push((self.t, from, to));
    }

    fn counts(&self) -> ServiceCounts {
        ServiceCounts {
            desired: self.desired,
            running: self.book.running_count(),
            pending: self.book.starting_count(),
            provisioning: self.book.provisioning_count(),
            deployment_in_progress: self.deploy_remaining > 0,
        }
    }
}

/// The metrics the scenario's service publishes.
fn cloudwatch(s: &Scenario, cluster: &str, service: &str, metrics: MetricPipeline) -> SimCloudWatch {
    let mut cw = SimCloudWatch::new(cluster, service, metrics.period_seconds, metrics.delay_seconds);
    if s.service.memory.is_some() {
        cw.publish(Source::Memory);
    }
    for m in &s.custom_metrics {
        let mut dimensions = m.dimensions.clone();
        dimensions.sort();
        cw.publish(Source::Custom { namespace: m.namespace.clone(), metric_name: m.metric_name.clone(), dimensions });
    }
    cw
}

fn lock(m: &Mutex<State>) -> MutexGuard<'_, State> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl SimWorld {
    /// The world at second 0 of `scenario`: the service `resource_id`
    /// (`service/<cluster>/<service>`), its metrics published as `metrics`
    /// says, its tasks named with `prefix`.
    ///
    /// # Errors
    /// [`WorldError`] when the resource id is not a service's, or the
    /// initial tasks do not fit the initial instances.
    pub fn new(
        scenario: &Scenario,
        metrics: MetricPipeline,
        prefix: &str,
        resource_id: &str,
    ) -> Result<Self, WorldError> {
        let s = scenario;
        let mut parts = resource_id.splitn(3, '/');
        let (Some("service"), Some(cluster_name), Some(service_name)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(WorldError {
                field: "ResourceId".into(),
                reason: format!("{resource_id:?} is not service/<cluster>/<service>"),
            });
        };
        let mut cluster = s
            .cluster
            .as_ref()
            .map(|m| SimCluster::new(m, s.seed).with_relocation_seconds(s.service.task_start_seconds.1));
        let book = TaskBook::new(cluster_name, service_name, s.service.initial_tasks, prefix);
        if let Some(c) = cluster.as_mut() {
            for _ in 0..book.running_count() {
                if !c.place(0) {
                    return Err(WorldError {
                        field: "cluster.initial_instances".into(),
                        reason: format!(
                            "too few instances for the {} initial tasks (service.initial_tasks)",
                            s.service.initial_tasks
                        ),
                    });
                }
            }
        }
        let mut state = State {
            t: 0,
            scenario: s.clone(),
            resource_id: resource_id.to_owned(),
            desired: book.running_count(),
            book,
            deploy_remaining: 0,
            deployment_boundary: None,
            draws: 0,
            placement_reported_at: None,
            cluster,
            cloudwatch: cloudwatch(s, cluster_name, service_name, metrics),
            alarms: SimAlarms::none(),
            alarm_events: Vec::new(),
            applied: Vec::new(),
            calls: ApiCalls::default(),
        };
        // A desired count above the running tasks at the start: the rest
        // start now (a new service on an empty cluster).
        if let Some(desired) = s.service.initial_desired {
            state.set_desired(desired);
            state.applied.clear();
        }
        Ok(Self { state: Mutex::new(state) })
    }

    /// The world with `alarms` in its CloudWatch (the alarms the
    /// configuration names), evaluated from second 0.
    #[must_use]
    pub fn with_alarms(self, alarms: SimAlarms) -> Self {
        lock(&self.state).alarms = alarms;
        self
    }

    /// The scalable target's resource id (`service/sim/<name>`).
    #[must_use]
    pub fn resource_id(&self) -> String {
        lock(&self.state).resource_id.clone()
    }

    /// Moves the world to second `t`: tasks whose start time has come run,
    /// a deployment replaces tasks, waiting tasks are placed, and one second
    /// of the service's metrics is recorded.
    pub fn advance(&self, t: u32) -> Second {
        let mut guard = lock(&self.state);
        let w = &mut *guard;
        w.t = t;
        let now = at(t);
        let started = w.book.start_due(t, now);
        // During a deployment each new RUNNING task replaces an old one.
        let replaced = started.min(w.deploy_remaining);
        if replaced > 0 {
            w.deploy_remaining -= replaced;
            w.book.stop_running(replaced, true, now);
            if let Some(c) = w.cluster.as_mut() {
                c.release(replaced);
            }
        }
        if w.deploy_remaining == 0 {
            w.deployment_boundary = None;
        }
        if w.scenario.deployment.is_some_and(|d| d.at_seconds == t) {
            w.deploy_remaining = w.book.running_count();
            w.deployment_boundary = Some(w.book.last_id());
        }
        if let (Some(d), true) = (w.scenario.deployment, w.deploy_remaining > 0) {
            // New tasks within maximumPercent of the desired count.
            let ceiling = w.desired * d.maximum_percent / 100;
            let not_started = w.deploy_remaining.saturating_sub(w.book.starting_count() + w.book.provisioning_count());
            let new = ceiling.saturating_sub(w.book.in_flight()).min(not_started);
            w.create(new);
        }
        if w.cluster.is_some() {
            if let Some(c) = w.cluster.as_mut() {
                c.advance();
                c.relocate(t);
            }
            while w.book.provisioning_count() > 0 && w.cluster.as_mut().is_some_and(|c| c.place(t)) {
                let delay = w.start_delay();
                w.book.place(t, now, delay);
            }
            if w.book.provisioning_count() > 0 && w.placement_reported_at.is_none_or(|last| t >= last + 60) {
                // ECS reports the failure as a service event, at most once a
                // minute here; the minute counts in the scorecard.
                if let Some(c) = w.cluster.as_mut() {
                    c.placement_failed();
                }
                w.book.placement_failure(now, "RESOURCE:CPU");
                w.placement_reported_at = Some(t);
            }
        }
        let s = &w.scenario;
        let running = w.book.running_count();
        // Traffic reaches only tasks that passed their health checks.
        let serving = w.book.serving_count(t, s.service.healthy_after_seconds);
        let demand = s.demand.at(t, s.seed).max(0.0);
        let rpt = s.service.requests_per_task;
        let per_task = rpt * s.target_cpu_percent / 100.0;
        let needed = ((demand / per_task).ceil().min(f64::from(u32::MAX)) as u32).clamp(s.min_tasks, s.max_tasks);
        // ECS publishes CPU only while tasks run; task-level CPU caps at
        // 100 %; tasks not yet healthy idle, so the service average is the
        // serving tasks' CPU spread over all running ones (docs/simulation.md).
        let second = now.as_second();
        let busy = if serving > 0 { (demand / (f64::from(serving) * rpt) * 100.0).min(100.0) } else { 0.0 };
        let cpu = if running > 0 { busy * f64::from(serving) / f64::from(running) } else { 0.0 };
        if running > 0 {
            w.cloudwatch.record(&Source::Cpu, second, cpu, running);
            if let Some(m) = s.service.memory {
                let memory = m.idle_percent + (m.busy_percent - m.idle_percent) * cpu / 100.0;
                w.cloudwatch.record(&Source::Memory, second, memory, running);
            }
        }
        // The load balancer spreads requests over the healthy targets.
        if serving > 0 {
            w.cloudwatch.record(&Source::RequestsPerTarget, second, demand / f64::from(serving), serving);
        }
        for m in &s.custom_metrics {
            let mut dimensions = m.dimensions.clone();
            dimensions.sort();
            let source =
                Source::Custom { namespace: m.namespace.clone(), metric_name: m.metric_name.clone(), dimensions };
            let value = super::scenario::Demand::Points { points: m.points.clone() }.at(t, s.seed);
            w.cloudwatch.record(&source, second, value, 1);
        }
        w.cloudwatch.close_ended(second + 1);
        if !w.alarms.is_empty() {
            let changes = w.alarms.evaluate(now, &w.cloudwatch);
            w.alarm_events.extend(changes);
        }
        Second { demand, needed, running, serving, provisioning: w.book.provisioning_count(), cpu }
    }

    /// The events ECS and CloudWatch sent since the last call: ECS's in
    /// order, then the alarms' state changes.
    pub fn take_events(&self) -> Vec<serde_json::Value> {
        let mut w = lock(&self.state);
        let mut events = std::mem::take(&mut w.book.pending_events);
        events.append(&mut w.alarm_events);
        events
    }

    /// The desired count now.
    #[must_use]
    pub fn desired(&self) -> u32 {
        lock(&self.state).desired
    }

    /// Instances launched (scenarios with a cluster).
    #[must_use]
    pub fn instances(&self) -> Option<u32> {
        lock(&self.state).cluster.as_ref().map(SimCluster::instance_count)
    }

    /// The newest CPU datapoint readable now, for charts.
    #[must_use]
    pub fn newest_cpu(&self) -> Option<f64> {
        let w = lock(&self.state);
        w.cloudwatch.newest_cpu(at(w.t).as_second())
    }

    /// Desired-count changes applied so far.
    #[must_use]
    pub fn applied(&self) -> Vec<Applied> {
        lock(&self.state).applied.clone()
    }

    /// The calls made so far.
    #[must_use]
    pub fn calls(&self) -> ApiCalls {
        lock(&self.state).calls
    }

    /// `(instance-seconds, placement-failure minutes, group changes)`.
    #[must_use]
    pub fn cluster_figures(&self) -> Option<(u64, u32, u32)> {
        lock(&self.state).cluster.as_ref().map(|c| (c.instance_seconds, c.placement_failures, c.capacity_actions))
    }
}

fn not_found(operation: &str, what: &str) -> PortError {
    PortError::permanent(operation, format!("{what} does not exist in the simulated account"))
}

impl ServicePort for SimWorld {
    async fn describe(&self, resource_id: &str) -> Result<ServiceSnapshot, PortError> {
        let mut w = lock(&self.state);
        w.calls.describe_services += 1;
        if resource_id != w.resource_id {
            return Err(not_found("ecs:DescribeServices", resource_id));
        }
        let in_progress = w.deploy_remaining > 0;
        // DescribeServices lists the PRIMARY deployment's running tasks next
        // to the old one's while a deployment runs.
        let primary_running = w
            .deployment_boundary
            .filter(|_| in_progress)
            .map(|boundary| w.book.running.iter().filter(|(id, _)| *id > boundary).count() as u32);
        Ok(ServiceSnapshot {
            desired: w.desired,
            running: w.book.running_count(),
            pending: w.book.starting_count() + w.book.provisioning_count(),
            primary_running,
            deployment_in_progress: in_progress,
        })
    }

    async fn set_desired_count(&self, resource_id: &str, desired: u32) -> Result<(), PortError> {
        let mut w = lock(&self.state);
        w.calls.update_service += 1;
        if resource_id != w.resource_id {
            return Err(not_found("ecs:UpdateService", resource_id));
        }
        w.set_desired(desired);
        Ok(())
    }
}

impl MetricsPort for SimWorld {
    async fn fetch(
        &self,
        queries: &[(MetricId, MetricQuery)],
        from: Timestamp,
        to: Timestamp,
    ) -> Result<BTreeMap<MetricId, Vec<Datapoint>>, PortError> {
        let mut w = lock(&self.state);
        w.calls.get_metric_data += 1;
        w.calls.metrics_requested += queries.len() as u64;
        let now = at(w.t).as_second();
        queries
            .iter()
            .map(|(id, q)| {
                let points = w
                    .cloudwatch
                    .answer(q, now, from, to)
                    .map_err(|e| PortError::permanent("cloudwatch:GetMetricData", format!("{id}: {e}")))?;
                Ok((id.clone(), points))
            })
            .collect()
    }
}

impl CapacityPort for SimWorld {
    async fn cluster(&self, capacity_provider: &str) -> Result<Option<Cluster>, PortError> {
        let w = lock(&self.state);
        match w.cluster.as_ref() {
            Some(c) if capacity_provider == PROVIDER => Ok(Some(c.view(w.t, at(w.t), w.counts()))),
            _ => Err(not_found("ecs:DescribeCapacityProviders", capacity_provider)),
        }
    }

    async fn apply(&self, _cluster: &Cluster, action: &CapacityAction) -> Result<(), PortError> {
        let mut guard = lock(&self.state);
        let w = &mut *guard;
        let t = w.t;
        match w.cluster.as_mut() {
            Some(c) => {
                c.apply(t, action);
                Ok(())
            }
            None => Err(not_found("autoscaling:SetDesiredCapacity", PROVIDER)),
        }
    }
}

impl Clock for SimWorld {
    fn now(&self) -> Timestamp {
        at(lock(&self.state).t)
    }

    fn sleep_until(&self, until: Timestamp) -> impl Future<Output = ()> + Send {
        super::runtime::sleep_until(self, until)
    }
}
