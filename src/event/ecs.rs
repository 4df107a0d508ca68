//! Typed `detail` payloads of the ECS events the controller consumes
//! (aws-behaviour §10.3–§10.6).
//!
//! Every struct keeps the fields the controller reads as typed values and
//! everything else in `other`, so AWS can add fields without breaking us
//! (ECS "may add other event types, sources, and details", aws-behaviour §12) and a
//! parsed event serialises back to the JSON it came from.

use super::time::AwsTime;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Unknown or untyped members of a JSON object, preserved verbatim.
pub type Extra = Map<String, Value>;

/// `ECS Task State Change` detail (aws-behaviour §10.3).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskStateChange {
    pub task_arn: String,
    pub cluster_arn: String,
    /// Monotonic per task; duplicates share it (aws-behaviour §10.2).
    pub version: u64,
    pub last_status: TaskStatus,
    pub desired_status: TaskStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_definition_arn: Option<String>,
    /// `service:<name>` or `family:<family>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub launch_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity_provider_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_instance_arn: Option<String>,
    /// For service tasks: the deployment id (`ecs-svc/…`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_by: Option<String>,
    /// Task-definition CPU units, as a string in events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<String>,
    /// Task-definition memory in MiB, as a string in events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub availability_zone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<AwsTime>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<AwsTime>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped_at: Option<AwsTime>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<AwsTime>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped_reason: Option<String>,
    #[serde(flatten)]
    pub other: Extra,
}

impl TaskStateChange {
    /// The service name when the task belongs to a service (`group` is
    /// `service:<name>`).
    #[must_use]
    pub fn service_name(&self) -> Option<&str> {
        self.group.as_deref()?.strip_prefix("service:")
    }
}

/// Task lifecycle states (aws-behaviour §10.3, R-ECS-LIFE). Unknown future states are
/// kept as `Other` rather than rejected.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TaskStatus {
    Provisioning,
    Pending,
    Activating,
    Running,
    Deactivating,
    Stopping,
    Deprovisioning,
    Stopped,
    Deleted,
    #[serde(untagged)]
    Other(String),
}

/// `ECS Container Instance State Change` detail (aws-behaviour §10.4).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerInstanceStateChange {
    pub container_instance_arn: String,
    pub cluster_arn: String,
    pub version: u64,
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ec2_instance_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_connected: Option<bool>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub registered_resources: Vec<Resource>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub remaining_resources: Vec<Resource>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attributes: Vec<Attribute>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<AwsTime>,
    #[serde(flatten)]
    pub other: Extra,
}

impl ContainerInstanceStateChange {
    /// The integer value of a named remaining resource (`CPU`, `MEMORY`).
    #[must_use]
    pub fn remaining_integer(&self, name: &str) -> Option<i64> {
        self.remaining_resources.iter().find(|r| r.name == name).and_then(|r| r.integer_value)
    }
}

/// A `registeredResources` / `remainingResources` entry.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Resource {
    pub name: String,
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub integer_value: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub string_set_value: Option<Vec<String>>,
    #[serde(flatten)]
    pub other: Extra,
}

/// A container-instance attribute (`name`, optional `value`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Attribute {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    #[serde(flatten)]
    pub other: Extra,
}

/// `ECS Service Action` detail (aws-behaviour §10.5). Has no detail version.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceAction {
    pub event_type: String,
    pub event_name: ServiceActionName,
    pub cluster_arn: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<AwsTime>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity_provider_arns: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_instance_arns: Option<Vec<String>>,
    #[serde(flatten)]
    pub other: Extra,
}

/// Service action event names (aws-behaviour §10.5). New names are kept, not rejected.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ServiceActionName {
    ServiceSteadyState,
    TasksetSteadyState,
    CapacityProviderSteadyState,
    ServiceDesiredCountUpdated,
    TasksStopped,
    ServiceDeploymentInProgress,
    ServiceDeploymentCompleted,
    ServiceTaskStartImpaired,
    ServiceDiscoveryInstanceUnhealthy,
    VpcLatticeTargetUnhealthy,
    ServiceDaemonPlacementConstraintViolated,
    EcsOperationThrottled,
    ServiceDiscoveryOperationThrottled,
    ServiceTaskPlacementFailure,
    ServiceTaskConfigurationFailure,
    #[serde(untagged)]
    Other(String),
}

/// `ECS Deployment State Change` detail (aws-behaviour §10.6).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentStateChange {
    pub event_type: String,
    pub event_name: DeploymentEventName,
    pub deployment_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<AwsTime>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(flatten)]
    pub other: Extra,
}

/// Deployment event names (aws-behaviour §10.6).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DeploymentEventName {
    ServiceDeploymentInProgress,
    ServiceDeploymentCompleted,
    ServiceDeploymentFailed,
    #[serde(untagged)]
    Other(String),
}

impl DeploymentEventName {
    /// Whether this event opens a deployment window (scale-in is off while a
    /// deployment is in progress, aws-behaviour §2.5).
    #[must_use]
    pub fn starts_deployment(&self) -> bool {
        matches!(self, Self::ServiceDeploymentInProgress)
    }
}
