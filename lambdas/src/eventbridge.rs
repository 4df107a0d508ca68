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

impl DecisionPort for EventBridgeDecisions {
    async fn publish<R: Serialize + Sync>(&self, detail_type: &str, record: &R) -> Result<(), PortError> {
        const OP: &str = "events:PutEvents";
        let detail = serde_json::to_string(record)
            .map_err(|e| PortError::permanent(OP, format!("record not serialisable: {e}")))?;
        let entry = PutEventsRequestEntry::builder()
            .event_bus_name(&self.bus)
            .source(SOURCE)
            .detail_type(detail_type)
            .detail(detail)
            .build();
        let out = self.client.put_events().entries(entry).send().await.map_err(|e| port_error(OP, e))?;
        if out.failed_entry_count() > 0 {
            let why = out
                .entries()
                .iter()
                .find_map(|e| e.error_code().map(|c| format!("{c}: {}", e.error_message().unwrap_or(""))))
                .unwrap_or_else(|| "entry rejected".to_owned());
            return Err(PortError::retryable(OP, why));
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
}
