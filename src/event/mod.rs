//! The EventBridge event model (aws-behaviour §10).
//!
//! Owns: the envelope (`version, id, detail-type, source, account, time,
//! region, resources, detail`), the typed `detail` of every event the
//! controller consumes, and parsing with errors that name the failing field.
//! May not touch: routing (which handler sees an event is `route`'s job) or any
//! decision logic.
//!
//! ```text
//! JSON text ──parse_event──► Parsed::Ours(Event { meta, detail: Detail::… })
//!                         └─► Parsed::NotOurs { detail-type, source }   (never an error)
//!                         └─► Err(EventError { path: "detail.version", … })
//! ```
//!
//! Parsing is tolerant of fields AWS adds: unknown members are kept and
//! re-emitted, so `Event::to_value` returns the JSON that was received.

pub mod cloudwatch;
pub mod ec2;
pub mod ecs;
pub mod time;

pub use cloudwatch::{AlarmStateChange, AlarmStateRecord, AlarmStateValue};
pub use ec2::{RebalanceRecommendation, SpotAction, SpotInterruption};
pub use ecs::{
    ContainerInstanceStateChange, DeploymentEventName, DeploymentStateChange, ServiceAction, ServiceActionName,
    TaskStateChange, TaskStatus,
};
pub use time::AwsTime;

use ecs::Extra;
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use serde_json::Value;

/// Why an event could not be parsed. `path` is the dotted JSON path of the
/// offending field (`detail.version`, `time`), empty for a syntax error.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{}", render_event_error(.path, .message))]
pub struct EventError {
    pub path: String,
    pub message: String,
}

fn render_event_error(path: &str, message: &str) -> String {
    if path.is_empty() {
        format!("malformed event: {message}")
    } else {
        format!("malformed event: field `{path}`: {message}")
    }
}

/// The envelope fields every EventBridge event carries (aws-behaviour §10.1).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EventMeta {
    pub version: String,
    pub id: String,
    #[serde(rename = "detail-type")]
    pub detail_type: String,
    pub source: String,
    pub account: String,
    pub time: AwsTime,
    pub region: String,
    pub resources: Vec<String>,
    /// Envelope members AWS may add (e.g. `replay-name` on archive replays).
    #[serde(flatten)]
    pub other: Extra,
}

/// A typed event the controller consumes.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    pub meta: EventMeta,
    pub detail: Detail,
}

/// The typed `detail` of each consumed event kind.
#[derive(Clone, Debug, PartialEq)]
pub enum Detail {
    TaskStateChange(Box<TaskStateChange>),
    ContainerInstanceStateChange(Box<ContainerInstanceStateChange>),
    ServiceAction(ServiceAction),
    DeploymentStateChange(DeploymentStateChange),
    AlarmStateChange(Box<AlarmStateChange>),
    Scheduled(ScheduledDetail),
    SpotInterruption(SpotInterruption),
    RebalanceRecommendation(RebalanceRecommendation),
}

impl Detail {
    /// The EC2 instance a Spot event says is at risk.
    #[must_use]
    pub fn instance_at_risk(&self) -> Option<&str> {
        match self {
            Self::SpotInterruption(d) => Some(&d.instance_id),
            Self::RebalanceRecommendation(d) => Some(&d.instance_id),
            _ => None,
        }
    }
}

/// The detail of a `Scheduled Event` (aws-behaviour §10.8).
#[derive(Clone, Debug, PartialEq)]
pub enum ScheduledDetail {
    /// An EventBridge scheduled rule: `detail` is an object (normally `{}`).
    Object(Extra),
    /// EventBridge Scheduler's default notification: `detail` is a *string*
    /// holding JSON (observed `"{}"`, aws-behaviour §10.8 / A.9). Kept verbatim.
    EncodedString(String),
}

/// The outcome of parsing an event that is well-formed JSON with an envelope.
// A transient return value, matched at once: boxing `Ours` would only add an
// allocation to the common case.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq)]
pub enum Parsed {
    Ours(Event),
    /// A well-formed event of a kind the controller does not consume. This is
    /// an outcome, not an error: EventBridge may deliver events we never asked
    /// for, and they must be acknowledged rather than retried.
    NotOurs {
        id: String,
        detail_type: String,
        source: String,
    },
}

/// The kinds of event the controller consumes, by `(source, detail-type)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventKind {
    TaskStateChange,
    ContainerInstanceStateChange,
    ServiceAction,
    DeploymentStateChange,
    AlarmStateChange,
    Scheduled,
    SpotInterruption,
    RebalanceRecommendation,
}

impl EventKind {
    /// Classifies an envelope; `None` for events that are not ours.
    #[must_use]
    pub fn classify(source: &str, detail_type: &str) -> Option<Self> {
        Some(match (source, detail_type) {
            ("aws.ecs", "ECS Task State Change") => Self::TaskStateChange,
            ("aws.ecs", "ECS Container Instance State Change") => Self::ContainerInstanceStateChange,
            ("aws.ecs", "ECS Service Action") => Self::ServiceAction,
            ("aws.ecs", "ECS Deployment State Change") => Self::DeploymentStateChange,
            ("aws.cloudwatch", "CloudWatch Alarm State Change") => Self::AlarmStateChange,
            ("aws.events" | "aws.scheduler", "Scheduled Event") => Self::Scheduled,
            ("aws.ec2", "EC2 Spot Instance Interruption Warning") => Self::SpotInterruption,
            ("aws.ec2", "EC2 Instance Rebalance Recommendation") => Self::RebalanceRecommendation,
            _ => return None,
        })
    }
}

/// Parses one event from JSON text.
///
/// # Errors
/// [`EventError`] naming the field path when the text is not JSON, the
/// envelope is incomplete, or the detail of a consumed kind is malformed.
pub fn parse_event(text: &str) -> Result<Parsed, EventError> {
    let value: Value = serde_json::from_str(text)
        .map_err(|e| EventError { path: String::new(), message: format!("not valid JSON: {e}") })?;
    parse_event_value(value)
}

/// Parses one event from an already-decoded JSON value.
///
/// # Errors
/// As [`parse_event`].
pub fn parse_event_value(value: Value) -> Result<Parsed, EventError> {
    let Value::Object(mut object) = value else {
        return Err(EventError {
            path: String::new(),
            message: format!("expected a JSON object, found {}", json_kind(&value)),
        });
    };
    let detail =
        object.remove("detail").ok_or_else(|| EventError { path: "detail".into(), message: "missing field".into() })?;
    let meta: EventMeta = decode(Value::Object(object), "")?;
    let Some(kind) = EventKind::classify(&meta.source, &meta.detail_type) else {
        return Ok(Parsed::NotOurs { id: meta.id, detail_type: meta.detail_type, source: meta.source });
    };
    let detail = match kind {
        EventKind::TaskStateChange => Detail::TaskStateChange(Box::new(decode(detail, "detail")?)),
        EventKind::ContainerInstanceStateChange => {
            Detail::ContainerInstanceStateChange(Box::new(decode(detail, "detail")?))
        }
        EventKind::ServiceAction => Detail::ServiceAction(decode(detail, "detail")?),
        EventKind::DeploymentStateChange => Detail::DeploymentStateChange(decode(detail, "detail")?),
        EventKind::AlarmStateChange => Detail::AlarmStateChange(Box::new(decode(detail, "detail")?)),
        EventKind::Scheduled => Detail::Scheduled(scheduled_detail(detail)?),
        EventKind::SpotInterruption => Detail::SpotInterruption(decode(detail, "detail")?),
        EventKind::RebalanceRecommendation => Detail::RebalanceRecommendation(decode(detail, "detail")?),
    };
    Ok(Parsed::Ours(Event { meta, detail }))
}

fn scheduled_detail(detail: Value) -> Result<ScheduledDetail, EventError> {
    match detail {
        Value::Object(map) => Ok(ScheduledDetail::Object(map)),
        Value::String(text) => match serde_json::from_str::<Value>(&text) {
            Ok(Value::Object(_)) => Ok(ScheduledDetail::EncodedString(text)),
            _ => Err(EventError {
                path: "detail".into(),
                message: format!(
                    "a string detail must hold a JSON object (EventBridge Scheduler sends \"{{}}\"), found {text:?}"
                ),
            }),
        },
        other => Err(EventError {
            path: "detail".into(),
            message: format!("expected an object or a string holding a JSON object, found {}", json_kind(&other)),
        }),
    }
}

/// Deserialises `value`, reporting failures with the full dotted path.
fn decode<T: DeserializeOwned>(value: Value, prefix: &str) -> Result<T, EventError> {
    serde_path_to_error::deserialize(value).map_err(|error| {
        let inner = error.path().to_string();
        let path = match (prefix.is_empty(), inner.as_str()) {
            (true, ".") => String::new(),
            (true, _) => inner,
            (false, ".") => prefix.to_owned(),
            (false, _) => format!("{prefix}.{inner}"),
        };
        let message = error.into_inner().to_string();
        // serde reports a missing field at the parent path; name the field.
        let path = match missing_field_name(&message) {
            Some(field) if path.is_empty() => field.to_owned(),
            Some(field) => format!("{path}.{field}"),
            None => path,
        };
        EventError { path, message }
    })
}

/// Extracts `x` from serde's "missing field `x`" message.
pub(crate) fn missing_field_name(message: &str) -> Option<&str> {
    let rest = message.strip_prefix("missing field `")?;
    rest.split('`').next()
}

pub(crate) fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

impl Event {
    /// The event as EventBridge delivered it (unknown fields included).
    ///
    /// # Errors
    /// Only if a detail cannot be encoded, which the types here rule out;
    /// reported as an [`EventError`] rather than a panic.
    pub fn to_value(&self) -> Result<Value, EventError> {
        let encode = |r: Result<Value, serde_json::Error>| {
            r.map_err(|e| EventError { path: String::new(), message: format!("cannot encode event: {e}") })
        };
        let mut object = match encode(serde_json::to_value(&self.meta))? {
            Value::Object(map) => map,
            _ => serde_json::Map::new(),
        };
        let detail = match &self.detail {
            Detail::TaskStateChange(d) => encode(serde_json::to_value(d))?,
            Detail::ContainerInstanceStateChange(d) => encode(serde_json::to_value(d))?,
            Detail::ServiceAction(d) => encode(serde_json::to_value(d))?,
            Detail::DeploymentStateChange(d) => encode(serde_json::to_value(d))?,
            Detail::AlarmStateChange(d) => encode(serde_json::to_value(d))?,
            Detail::Scheduled(ScheduledDetail::Object(map)) => Value::Object(map.clone()),
            Detail::Scheduled(ScheduledDetail::EncodedString(s)) => Value::String(s.clone()),
            Detail::SpotInterruption(d) => encode(serde_json::to_value(d))?,
            Detail::RebalanceRecommendation(d) => encode(serde_json::to_value(d))?,
        };
        object.insert("detail".into(), detail);
        Ok(Value::Object(object))
    }

    /// The ARN of the ECS service an event is about, when it names one in
    /// `resources` (service actions and deployment changes do).
    #[must_use]
    pub fn service_arn(&self) -> Option<&str> {
        self.meta.resources.iter().map(String::as_str).find(|r| r.contains(":service/"))
    }
}

/// `service/<cluster>/<service>` from an ECS service ARN
/// (`arn:aws:ecs:<region>:<acct>:service/<cluster>/<service>`; old-format ARNs
/// without the cluster segment yield `None`).
#[must_use]
pub fn resource_id_from_service_arn(arn: &str) -> Option<String> {
    let (_, tail) = arn.split_once(":service/")?;
    let mut parts = tail.split('/');
    let cluster = parts.next().filter(|s| !s.is_empty())?;
    let service = parts.next().filter(|s| !s.is_empty())?;
    Some(format!("service/{cluster}/{service}"))
}

/// The cluster name in a cluster ARN (`…:cluster/<name>`).
#[must_use]
pub fn cluster_name_from_arn(arn: &str) -> Option<&str> {
    arn.split_once(":cluster/").map(|(_, name)| name)
}
