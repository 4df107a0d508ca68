//! Decision records published with aws-sdk-eventbridge `PutEvents`, so users
//! can route them (source `ecs-autopilot`, `detail-type` per record kind).

use crate::error::port_error;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use ecs_autopilot::ports::{DecisionPort, PortError};
use serde::Serialize;

/// The `source` of published records.
pub const SOURCE: &str = "ecs-autopilot";

/// The [`DecisionPort`] over an event bus.
#[derive(Clone, Debug)]
pub struct EventBridgeDecisions {
    client: aws_sdk_eventbridge::Client,
    bus: String,
}

impl EventBridgeDecisions {
    #[must_use]
    pub fn new(client: aws_sdk_eventbridge::Client, bus: impl Into<String>) -> Self {
        Self { client, bus: bus.into() }
    }
}

/// Attempts at the entries `PutEvents` rejected (e.g. throttled) before the
/// batch is reported as failed.
const ENTRY_ATTEMPTS: u32 = 4;

impl EventBridgeDecisions {
    fn entry<R: Serialize>(&self, detail_type: &str, record: &R) -> Result<PutEventsRequestEntry, PortError> {
        let detail = serde_json::to_string(record)
            .map_err(|e| PortError::permanent(OP, format!("record not serialisable: {e}")))?;
        Ok(PutEventsRequestEntry::builder()
            .event_bus_name(&self.bus)
            .source(SOURCE)
            .detail_type(detail_type)
            .detail(detail)
            .build())
    }

    /// Sends `entries` (at most ten), asking again for the entries the
    /// answer rejects, with backoff.
    async fn put(&self, mut entries: Vec<PutEventsRequestEntry>) -> Result<(), PortError> {
        let mut why = String::new();
        for attempt in 0..ENTRY_ATTEMPTS {
            if entries.is_empty() {
                return Ok(());
            }
            if attempt > 0 {
                tokio::time::sleep(crate::retry::backoff(attempt)).await;
            }
            let out = self
                .client
                .put_events()
                .set_entries(Some(entries.clone()))
                .send()
                .await
                .map_err(|e| port_error(OP, e))?;
            if out.failed_entry_count() == 0 {
                return Ok(());
            }
            // The answer lists one result per entry, in order; a failed one
            // carries an error code.
            let mut rejected = Vec::new();
            for (entry, result) in entries.into_iter().zip(out.entries()) {
                if let Some(code) = result.error_code() {
                    why = format!("{code}: {}", result.error_message().unwrap_or(""));
                    rejected.push(entry);
                }
            }
            entries = rejected;
        }
        if entries.is_empty() {
            Ok(())
        } else {
            Err(PortError::retryable(OP, format!("{} entries rejected: {why}", entries.len())))
        }
    }
}

const OP: &str = "events:PutEvents";

impl DecisionPort for EventBridgeDecisions {
    async fn publish<R: Serialize + Sync>(&self, detail_type: &str, record: &R) -> Result<(), PortError> {
        self.put(vec![self.entry(detail_type, record)?]).await
    }

    async fn publish_batch<R: Serialize + Sync>(&self, detail_type: &str, records: &[R]) -> Result<(), PortError> {
        for chunk in records.chunks(ecs_autopilot::ports::PUT_EVENTS_BATCH) {
            let entries = chunk.iter().map(|r| self.entry(detail_type, r)).collect::<Result<Vec<_>, _>>()?;
            self.put(entries).await?;
        }
        Ok(())
    }
}

/// Where records go: a bus, or nowhere but the logs (no bus configured).
#[derive(Clone, Debug)]
pub enum Publisher {
    Bus(EventBridgeDecisions),
    LogOnly,
}

impl DecisionPort for Publisher {
    async fn publish<R: Serialize + Sync>(&self, detail_type: &str, record: &R) -> Result<(), PortError> {
        match self {
            Self::Bus(bus) => bus.publish(detail_type, record).await,
            Self::LogOnly => Ok(()),
        }
    }

    async fn publish_batch<R: Serialize + Sync>(&self, detail_type: &str, records: &[R]) -> Result<(), PortError> {
        match self {
            Self::Bus(bus) => bus.publish_batch(detail_type, records).await,
            Self::LogOnly => Ok(()),
        }
    }
}
