//! Controller memory in DynamoDB: one item per key (`pk`), the memory as a
//! JSON string (`body`), a `version` number for optimistic concurrency, and
//! an `expires_at` TTL attribute so targets no longer evaluated disappear.
//!
//! Reads are strongly consistent; writes are conditional on the version read
//! (`attribute_not_exists(pk)` for the first), so of two concurrent writers
//! one gets [`SaveOutcome::Conflict`] and decides again.

use crate::error::port_error;
use aws_sdk_dynamodb::types::AttributeValue;
use ecs_autopilot::ports::{PortError, SaveOutcome, StatePort, Stored};
use jiff::Timestamp;

/// Items live this long after their last write (the TTL attribute).
pub const RETENTION_SECONDS: i64 = 7 * 24 * 3600;

/// The [`StatePort`] over a DynamoDB table with partition key `pk` (S).
#[derive(Clone, Debug)]
pub struct DynamoState {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

impl DynamoState {
    #[must_use]
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into() }
    }
}

impl StatePort for DynamoState {
    async fn load(&self, key: &str) -> Result<Option<Stored>, PortError> {
        const OP: &str = "dynamodb:GetItem";
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(key.to_owned()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| port_error(OP, e))?;
        let Some(item) = out.item() else { return Ok(None) };
        let body = match item.get("body") {
            Some(AttributeValue::S(s)) => s.clone(),
            _ => return Err(PortError::permanent(OP, format!("item {key}: attribute body is not a string"))),
        };
        let version = match item.get("version") {
            Some(AttributeValue::N(n)) => n.parse::<u64>().ok(),
            _ => None,
        }
        .ok_or_else(|| PortError::permanent(OP, format!("item {key}: attribute version is not a whole number")))?;
        Ok(Some(Stored { body, version }))
    }

    async fn save(
        &self,
        key: &str,
        body: &str,
        expected: Option<u64>,
        now: Timestamp,
    ) -> Result<SaveOutcome, PortError> {
        const OP: &str = "dynamodb:PutItem";
        let version = expected.unwrap_or(0) + 1;
        let mut put = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", AttributeValue::S(key.to_owned()))
            .item("body", AttributeValue::S(body.to_owned()))
            .item("version", AttributeValue::N(version.to_string()))
            .item("expires_at", AttributeValue::N((now.as_second() + RETENTION_SECONDS).to_string()));
        put = match expected {
            None => put.condition_expression("attribute_not_exists(pk)"),
            Some(v) => put
                .condition_expression("#v = :v")
                .expression_attribute_names("#v", "version")
                .expression_attribute_values(":v", AttributeValue::N(v.to_string())),
        };
        match put.send().await {
            Ok(_) => Ok(SaveOutcome::Saved { version }),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_conditional_check_failed_exception()) => {
                Ok(SaveOutcome::Conflict)
            }
            Err(e) => Err(port_error(OP, e)),
        }
    }
}
