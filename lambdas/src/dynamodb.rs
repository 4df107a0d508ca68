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
use std::collections::{BTreeMap, HashMap};

/// Rounds of `UnprocessedKeys` a batch read retries (with backoff) before
/// it fails as retryable: DynamoDB returns them when a partition is busy.
const UNPROCESSED_ROUNDS: u32 = 6;

/// A stored item as the core reads it.
fn stored_of(op: &str, key: &str, item: &HashMap<String, AttributeValue>) -> Result<Stored, PortError> {
    let body = match item.get("body") {
        Some(AttributeValue::S(s)) => s.clone(),
        _ => return Err(PortError::permanent(op, format!("item {key}: attribute body is not a string"))),
    };
    let version = match item.get("version") {
        Some(AttributeValue::N(n)) => n.parse::<u64>().ok(),
        _ => None,
    }
    .ok_or_else(|| PortError::permanent(op, format!("item {key}: attribute version is not a whole number")))?;
    Ok(Stored { body, version })
}

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
        stored_of(OP, key, item).map(Some)
    }

    /// `BatchGetItem`, strongly consistent, `UnprocessedKeys` asked again
    /// with exponential backoff and jitter (docs/fleet.md).
    async fn load_batch(&self, keys: &[String]) -> Result<BTreeMap<String, Stored>, PortError> {
        const OP: &str = "dynamodb:BatchGetItem";
        let mut out = BTreeMap::new();
        let mut pending: Vec<HashMap<String, AttributeValue>> =
            keys.iter().map(|k| HashMap::from([("pk".to_owned(), AttributeValue::S(k.clone()))])).collect();
        for round in 0..UNPROCESSED_ROUNDS {
            if pending.is_empty() {
                return Ok(out);
            }
            if round > 0 {
                tokio::time::sleep(crate::retry::backoff(round)).await;
            }
            let request = aws_sdk_dynamodb::types::KeysAndAttributes::builder()
                .set_keys(Some(std::mem::take(&mut pending)))
                .consistent_read(true)
                .build()
                .map_err(|e| PortError::permanent(OP, e.to_string()))?;
            let answer = self
                .client
                .batch_get_item()
                .request_items(&self.table, request)
                .send()
                .await
                .map_err(|e| port_error(OP, e))?;
            for item in answer.responses().and_then(|r| r.get(&self.table)).into_iter().flatten() {
                let Some(AttributeValue::S(key)) = item.get("pk") else { continue };
                out.insert(key.clone(), stored_of(OP, key, item)?);
            }
            if let Some(left) = answer.unprocessed_keys().and_then(|u| u.get(&self.table)) {
                pending = left.keys().to_vec();
            }
        }
        if pending.is_empty() {
            Ok(out)
        } else {
            Err(PortError::retryable(
                OP,
                format!("{} keys still unprocessed after {UNPROCESSED_ROUNDS} rounds", pending.len()),
            ))
        }
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
