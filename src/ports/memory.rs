//! In-memory port implementations: hand-written fakes that record calls and
//! inject errors (Karpenter's style), for tests and local runs. They
//! implement exactly the traits the AWS adapters implement.

use super::{
    CapacityPort, Clock, DecisionPort, MetricsPort, PortError, SaveOutcome, ServicePort, ServiceSnapshot, StatePort,
    Stored,
};
use crate::capacity::{CapacityAction, Cluster};
use crate::config::{MetricId, MetricQuery};
use crate::memory::Datapoint;
use jiff::Timestamp;
use std::collections::{BTreeMap, VecDeque};
use std::sync::{Mutex, MutexGuard, PoisonError};

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panicking test thread must not hide the state from the others.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Versioned documents in a map: conditional writes as DynamoDB does them.
#[derive(Debug, Default)]
pub struct InMemoryState {
    items: Mutex<BTreeMap<String, Stored>>,
    /// Errors returned by the next `save` calls, in order.
    pub save_errors: Mutex<VecDeque<PortError>>,
    /// Keys asked for per batched read, in order.
    pub batch_loads: Mutex<Vec<usize>>,
}

impl InMemoryState {
    #[must_use]
    pub fn get(&self, key: &str) -> Option<Stored> {
        lock(&self.items).get(key).cloned()
    }
}

impl StatePort for InMemoryState {
    async fn load(&self, key: &str) -> Result<Option<Stored>, PortError> {
        Ok(lock(&self.items).get(key).cloned())
    }

    async fn save(
        &self,
        key: &str,
        body: &str,
        expected: Option<u64>,
        _now: Timestamp,
    ) -> Result<SaveOutcome, PortError> {
        if let Some(e) = lock(&self.save_errors).pop_front() {
            return Err(e);
        }
        let mut items = lock(&self.items);
        let current = items.get(key).map(|s| s.version);
        if current != expected {
            return Ok(SaveOutcome::Conflict);
        }
        let version = current.unwrap_or(0) + 1;
        items.insert(key.to_owned(), Stored { body: body.to_owned(), version });
        Ok(SaveOutcome::Saved { version })
    }

    async fn load_batch(&self, keys: &[String]) -> Result<BTreeMap<String, Stored>, PortError> {
        lock(&self.batch_loads).push(keys.len());
        let items = lock(&self.items);
        Ok(keys.iter().filter_map(|k| items.get(k).map(|s| (k.clone(), s.clone()))).collect())
    }
}

/// ECS services in a map; records every `set_desired_count`.
#[derive(Debug, Default)]
pub struct FakeServices {
    pub services: Mutex<BTreeMap<String, ServiceSnapshot>>,
    /// `(resource id, desired)` per successful update, in order.
    pub updates: Mutex<Vec<(String, u32)>>,
    /// Errors returned by the next updates, in order.
    pub update_errors: Mutex<VecDeque<PortError>>,
    /// Services asked for per describe call, in order.
    pub describes: Mutex<Vec<usize>>,
}

impl FakeServices {
    #[must_use]
    pub fn with(resource_id: &str, snapshot: ServiceSnapshot) -> Self {
        let s = Self::default();
        lock(&s.services).insert(resource_id.to_owned(), snapshot);
        s
    }

    #[must_use]
    pub fn updates(&self) -> Vec<(String, u32)> {
        lock(&self.updates).clone()
    }

    fn snapshot(&self, resource_id: &str) -> Result<ServiceSnapshot, PortError> {
        lock(&self.services)
            .get(resource_id)
            .copied()
            .ok_or_else(|| PortError::permanent("ecs:DescribeServices", format!("{resource_id} does not exist")))
    }
}

impl ServicePort for FakeServices {
    async fn describe(&self, resource_id: &str) -> Result<ServiceSnapshot, PortError> {
        lock(&self.describes).push(1);
        self.snapshot(resource_id)
    }

    async fn describe_batch(&self, ids: &[String]) -> Result<Vec<Result<ServiceSnapshot, PortError>>, PortError> {
        lock(&self.describes).push(ids.len());
        Ok(ids.iter().map(|id| self.snapshot(id)).collect())
    }

    async fn set_desired_count(&self, resource_id: &str, desired: u32) -> Result<(), PortError> {
        if let Some(e) = lock(&self.update_errors).pop_front() {
            return Err(e);
        }
        let mut services = lock(&self.services);
        let Some(s) = services.get_mut(resource_id) else {
            return Err(PortError::permanent("ecs:UpdateService", format!("{resource_id} does not exist")));
        };
        s.desired = desired;
        lock(&self.updates).push((resource_id.to_owned(), desired));
        Ok(())
    }
}

/// Fixed metric series; records the instants it was asked at.
#[derive(Debug, Default)]
pub struct StaticMetrics {
    pub series: BTreeMap<MetricId, Vec<Datapoint>>,
    /// `(to, ids asked for)` per fetch, in order.
    pub fetches: Mutex<Vec<(Timestamp, Vec<MetricId>)>>,
}

impl StaticMetrics {
    /// Metrics that answer `series`.
    #[must_use]
    pub fn new(series: BTreeMap<MetricId, Vec<Datapoint>>) -> Self {
        Self { series, fetches: Mutex::default() }
    }

    /// The fetches so far.
    #[must_use]
    pub fn fetches(&self) -> Vec<(Timestamp, Vec<MetricId>)> {
        lock(&self.fetches).clone()
    }
}

/// A clock whose sleeps complete at once by jumping to the instant asked
/// for; records every sleep.
#[derive(Debug)]
pub struct JumpingClock {
    now: Mutex<Timestamp>,
    /// The instants slept until, in order.
    pub sleeps: Mutex<Vec<Timestamp>>,
}

impl JumpingClock {
    /// A clock at `now`.
    #[must_use]
    pub fn at(now: Timestamp) -> Self {
        Self { now: Mutex::new(now), sleeps: Mutex::default() }
    }

    /// The sleeps so far.
    #[must_use]
    pub fn sleeps(&self) -> Vec<Timestamp> {
        lock(&self.sleeps).clone()
    }
}

impl Clock for JumpingClock {
    fn now(&self) -> Timestamp {
        *lock(&self.now)
    }

    async fn sleep_until(&self, at: Timestamp) {
        lock(&self.sleeps).push(at);
        let mut now = lock(&self.now);
        *now = (*now).max(at);
    }
}

impl MetricsPort for StaticMetrics {
    async fn fetch(
        &self,
        queries: &[(MetricId, MetricQuery)],
        from: Timestamp,
        to: Timestamp,
    ) -> Result<BTreeMap<MetricId, Vec<Datapoint>>, PortError> {
        lock(&self.fetches).push((to, queries.iter().map(|(id, _)| id.clone()).collect()));
        Ok(queries
            .iter()
            .map(|(id, _)| {
                // The handler sends several targets' queries in one request
                // under `<n>/<metric id>` (docs/fleet.md); a series answers
                // its metric id whichever target asks.
                let own = id.0.split_once('/').filter(|(n, _)| n.parse::<usize>().is_ok()).map(|(_, own)| own);
                let points = self
                    .series
                    .get(id)
                    .or_else(|| own.and_then(|own| self.series.get(&MetricId(own.to_owned()))))
                    .map(|s| s.iter().filter(|p| p.timestamp >= from && p.timestamp < to).copied().collect())
                    .unwrap_or_default();
                (id.clone(), points)
            })
            .collect())
    }
}

/// Keeps published records.
#[derive(Debug, Default)]
pub struct RecordingDecisions {
    pub published: Mutex<Vec<(String, serde_json::Value)>>,
    /// Records per batched publish, in order.
    pub batches: Mutex<Vec<usize>>,
}

impl DecisionPort for RecordingDecisions {
    async fn publish<R: serde::Serialize + Sync>(&self, detail_type: &str, record: &R) -> Result<(), PortError> {
        let value = serde_json::to_value(record)
            .map_err(|e| PortError::permanent("events:PutEvents", format!("record not serialisable: {e}")))?;
        lock(&self.published).push((detail_type.to_owned(), value));
        Ok(())
    }

    async fn publish_batch<R: serde::Serialize + Sync>(
        &self,
        detail_type: &str,
        records: &[R],
    ) -> Result<(), PortError> {
        lock(&self.batches).push(records.len());
        for record in records {
            self.publish(detail_type, record).await?;
        }
        Ok(())
    }
}

/// Counts published records and keeps none (long simulations and replays
/// keep their decisions in the handlers' reports instead).
#[derive(Debug, Default)]
pub struct CountingDecisions {
    pub published: std::sync::atomic::AtomicU64,
}

impl DecisionPort for CountingDecisions {
    async fn publish<R: serde::Serialize + Sync>(&self, _detail_type: &str, _record: &R) -> Result<(), PortError> {
        self.published.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok(())
    }
}

/// A fixed cluster; records applied actions.
#[derive(Debug)]
pub struct FakeCapacity {
    pub cluster: Mutex<Cluster>,
    pub applied: Mutex<Vec<CapacityAction>>,
    pub apply_errors: Mutex<VecDeque<PortError>>,
}

impl FakeCapacity {
    #[must_use]
    pub fn new(cluster: Cluster) -> Self {
        Self { cluster: Mutex::new(cluster), applied: Mutex::default(), apply_errors: Mutex::default() }
    }
}

impl CapacityPort for FakeCapacity {
    async fn cluster(&self, capacity_provider: &str) -> Result<Option<Cluster>, PortError> {
        let cluster = lock(&self.cluster).clone();
        if crate::capacity::model::FARGATE_PROVIDERS.contains(&capacity_provider) {
            return Ok(None);
        }
        if cluster.capacity_provider != capacity_provider {
            return Err(PortError::permanent(
                "ecs:DescribeCapacityProviders",
                format!("{capacity_provider} does not exist"),
            ));
        }
        Ok(Some(cluster))
    }

    async fn apply(&self, _cluster: &Cluster, action: &CapacityAction) -> Result<(), PortError> {
        if let Some(e) = lock(&self.apply_errors).pop_front() {
            return Err(e);
        }
        if let CapacityAction::SetDesiredCapacity { to, .. } = action {
            lock(&self.cluster).asg.desired = *to;
        }
        lock(&self.applied).push(action.clone());
        Ok(())
    }
}
