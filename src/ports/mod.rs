//! Ports: the small traits through which the handlers read the world and act
//! on it. The AWS adapters in `lambdas/` and the in-memory implementations in
//! [`crate::ports::memory`] (used by tests and the replay harness) implement
//! the same traits, so a test or a replay drives the production code path.
//!
//! ```text
//!   handler ──► ServicePort   (DescribeServices / UpdateService)
//!           ──► MetricsPort   (GetMetricData)
//!           ──► StatePort     (controller memory, versioned: conditional writes)
//!           ──► DecisionPort  (PutEvents: each decision as an event)
//!           ──► CapacityPort  (ECS + Auto Scaling reads, ASG actions)
//!           ──► Clock         (the invocation's time, and waiting within it)
//! ```
//!
//! Owns: the port contracts and their error type. May not touch: I/O — the
//! traits only describe it; implementations live at the edges.
//!
//! Methods return `impl Future + Send` rather than `async fn` so that callers
//! may run handlers on a multi-threaded runtime.

pub mod memory;

use crate::capacity::{CapacityAction, Cluster};
use crate::config::{MetricId, MetricQuery};
use crate::memory::Datapoint;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::future::Future;

/// A failed call through a port.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{operation} failed: {message}")]
pub struct PortError {
    /// The API or port operation, e.g. `ecs:UpdateService`.
    pub operation: String,
    pub message: String,
    /// Throttling, 5xx, timeouts: worth a retry by Lambda (and then the DLQ).
    pub retryable: bool,
}

impl PortError {
    pub fn retryable(operation: impl Into<String>, message: impl Into<String>) -> Self {
        Self { operation: operation.into(), message: message.into(), retryable: true }
    }

    pub fn permanent(operation: impl Into<String>, message: impl Into<String>) -> Self {
        Self { operation: operation.into(), message: message.into(), retryable: false }
    }
}

/// What ECS says about a service now.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceSnapshot {
    pub desired: u32,
    pub running: u32,
    pub pending: u32,
    /// RUNNING tasks of the PRIMARY deployment.
    pub primary_running: Option<u32>,
    /// More than one deployment, or the primary one not COMPLETED.
    pub deployment_in_progress: bool,
}

/// An ECS service, by resource id `service/<cluster>/<service>`.
pub trait ServicePort {
    /// Reads the service's counts and deployment state.
    fn describe(&self, resource_id: &str) -> impl Future<Output = Result<ServiceSnapshot, PortError>> + Send;
    /// Sets the service's desired count.
    fn set_desired_count(&self, resource_id: &str, desired: u32) -> impl Future<Output = Result<(), PortError>> + Send;

    /// Reads several services of one cluster in one call (ECS answers up to
    /// [`DESCRIBE_SERVICES_BATCH`] per `DescribeServices`): one result per
    /// id, in order, so a missing service fails alone. The default asks
    /// [`ServicePort::describe`] once per id.
    fn describe_batch(
        &self,
        resource_ids: &[String],
    ) -> impl Future<Output = Result<Vec<Result<ServiceSnapshot, PortError>>, PortError>> + Send
    where
        Self: Sync,
    {
        async move {
            let mut out = Vec::with_capacity(resource_ids.len());
            for id in resource_ids {
                out.push(self.describe(id).await);
            }
            Ok(out)
        }
    }
}

/// Services per `DescribeServices` call (ECS API reference, docs/fleet.md).
pub const DESCRIBE_SERVICES_BATCH: usize = 10;
/// Queries per `GetMetricData` call (CloudWatch quotas, docs/fleet.md).
pub const GET_METRIC_DATA_BATCH: usize = 500;
/// Keys per DynamoDB `BatchGetItem` call (docs/fleet.md).
pub const BATCH_GET_ITEM_BATCH: usize = 100;
/// Entries per EventBridge `PutEvents` call (docs/fleet.md).
pub const PUT_EVENTS_BATCH: usize = 10;
/// `DescribeServices` calls the account's bucket regains per second, its
/// documented sustained rate (ECS request throttling, docs/fleet.md).
pub const DESCRIBE_SERVICES_REFILL_PER_SECOND: u32 = 20;

/// CloudWatch metrics.
pub trait MetricsPort {
    /// Datapoints of each query with timestamps in `[from, to)`; a metric
    /// without datapoints maps to an empty list.
    fn fetch(
        &self,
        queries: &[(MetricId, MetricQuery)],
        from: Timestamp,
        to: Timestamp,
    ) -> impl Future<Output = Result<BTreeMap<MetricId, Vec<Datapoint>>, PortError>> + Send;
}

/// A stored document and its version (for the next conditional write).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stored {
    pub body: String,
    pub version: u64,
}

/// Result of a conditional write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SaveOutcome {
    /// Written; this is the new version.
    Saved { version: u64 },
    /// Someone else wrote first: reload and decide again.
    Conflict,
}

/// Controller memory, one document per key, with optimistic concurrency.
pub trait StatePort {
    fn load(&self, key: &str) -> impl Future<Output = Result<Option<Stored>, PortError>> + Send;
    /// Writes `body` if the stored version is still `expected` (`None`: the
    /// key must not exist yet). `now` lets stores set an expiry.
    fn save(
        &self,
        key: &str,
        body: &str,
        expected: Option<u64>,
        now: Timestamp,
    ) -> impl Future<Output = Result<SaveOutcome, PortError>> + Send;

    /// Reads up to [`BATCH_GET_ITEM_BATCH`] keys in one call, as strongly
    /// consistent as [`StatePort::load`]; a key with no document is absent
    /// from the answer. The default asks [`StatePort::load`] once per key.
    fn load_batch(&self, keys: &[String]) -> impl Future<Output = Result<BTreeMap<String, Stored>, PortError>> + Send
    where
        Self: Sync,
    {
        async move {
            let mut out = BTreeMap::new();
            for key in keys {
                if let Some(stored) = self.load(key).await? {
                    out.insert(key.clone(), stored);
                }
            }
            Ok(out)
        }
    }
}

/// Where decision records go besides the logs (EventBridge `PutEvents`).
pub trait DecisionPort {
    /// Publishes one record (`detail-type` names its kind). The record is
    /// handed over as a value: encoding it is the adapter's job (PutEvents
    /// sends it as text, a test keeps it as JSON, a counter needs neither).
    fn publish<R: Serialize + Sync>(
        &self,
        detail_type: &str,
        record: &R,
    ) -> impl Future<Output = Result<(), PortError>> + Send;

    /// Publishes up to [`PUT_EVENTS_BATCH`] records of one kind in one call.
    /// The default asks [`DecisionPort::publish`] once per record.
    fn publish_batch<R: Serialize + Sync>(
        &self,
        detail_type: &str,
        records: &[R],
    ) -> impl Future<Output = Result<(), PortError>> + Send
    where
        Self: Sync,
    {
        async move {
            for record in records {
                self.publish(detail_type, record).await?;
            }
            Ok(())
        }
    }
}

/// The cluster behind a capacity provider, and its Auto Scaling group.
pub trait CapacityPort {
    /// The planner's view of one capacity provider; `None` when it needs no
    /// instances (a Fargate provider, or one without an Auto Scaling group).
    fn cluster(&self, capacity_provider: &str) -> impl Future<Output = Result<Option<Cluster>, PortError>> + Send;
    /// Applies one action to the provider's Auto Scaling group or ECS.
    fn apply(&self, cluster: &Cluster, action: &CapacityAction) -> impl Future<Output = Result<(), PortError>> + Send;
}

/// The time an invocation runs at, and a way to wait within it. The Lambda
/// edge reads the system clock and sleeps on tokio; the simulator answers
/// with virtual time and advances its world while the invocation waits, so
/// a polling invocation runs the same code in both.
pub trait Clock {
    /// The current instant.
    fn now(&self) -> Timestamp;
    /// Completes once [`Clock::now`] has reached `at`.
    fn sleep_until(&self, at: Timestamp) -> impl Future<Output = ()> + Send;
}
