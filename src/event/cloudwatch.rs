//! `CloudWatch Alarm State Change` detail (aws-behaviour §10.7).

use super::ecs::Extra;
use super::time::AwsTime;
use serde::{Deserialize, Serialize};

/// The detail of an alarm state change.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AlarmStateChange {
    pub alarm_name: String,
    pub state: AlarmStateRecord,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_state: Option<AlarmStateRecord>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub configuration: Option<serde_json::Value>,
    #[serde(flatten)]
    pub other: Extra,
}

/// One side (`state` or `previousState`) of an alarm state change.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AlarmStateRecord {
    pub value: AlarmStateValue,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// A JSON document encoded as a string, as CloudWatch sends it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason_data: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<AwsTime>,
    #[serde(flatten)]
    pub other: Extra,
}

/// CloudWatch alarm states.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AlarmStateValue {
    Ok,
    Alarm,
    InsufficientData,
}
