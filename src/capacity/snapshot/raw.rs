//! The AWS CLI outputs a snapshot is made of, as serde reads them: only
//! the fields the planner uses (AWS adds others; they are ignored).

use super::{err, SnapshotError};
use crate::capacity::model::ManagedScaling;
use serde::Deserialize;
use serde_json::Value;

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub(super) struct RawInstance {
    pub(super) container_instance_arn: String,
    #[serde(default)]
    pub(super) ec2_instance_id: Option<String>,
    #[serde(default)]
    pub(super) status: Option<String>,
    #[serde(default)]
    pub(super) agent_connected: Option<bool>,
    #[serde(default)]
    pub(super) remaining_resources: Vec<RawResource>,
    #[serde(default)]
    pub(super) registered_resources: Vec<RawResource>,
    #[serde(default)]
    pub(super) attributes: Vec<RawAttribute>,
    #[serde(default)]
    pub(super) running_tasks_count: u32,
    #[serde(default)]
    pub(super) pending_tasks_count: u32,
    #[serde(default)]
    pub(super) registered_at: Option<Value>,
    #[serde(default)]
    pub(super) capacity_provider_name: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct RawResource {
    pub(super) name: String,
    #[serde(default)]
    pub(super) integer_value: Option<i64>,
    #[serde(default)]
    pub(super) string_set_value: Option<Vec<String>>,
}

#[derive(Deserialize)]
pub(super) struct RawAttribute {
    pub(super) name: String,
    #[serde(default)]
    pub(super) value: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct RawTask {
    pub(super) task_arn: String,
    #[serde(default)]
    pub(super) group: Option<String>,
    #[serde(default)]
    pub(super) cpu: Option<String>,
    #[serde(default)]
    pub(super) memory: Option<String>,
    pub(super) last_status: String,
    #[serde(default)]
    pub(super) container_instance_arn: Option<String>,
    #[serde(default)]
    pub(super) capacity_provider_name: Option<String>,
    #[serde(default)]
    pub(super) task_definition_arn: Option<String>,
    #[serde(default)]
    pub(super) containers: Vec<RawContainer>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct RawContainer {
    #[serde(default)]
    pub(super) network_bindings: Vec<RawBinding>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct RawBinding {
    #[serde(default)]
    pub(super) host_port: Option<u16>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct RawService {
    pub(super) service_name: String,
    #[serde(default)]
    pub(super) desired_count: u32,
    #[serde(default)]
    pub(super) running_count: u32,
    #[serde(default)]
    pub(super) pending_count: u32,
    #[serde(default)]
    pub(super) task_definition: Option<String>,
    #[serde(default)]
    pub(super) scheduling_strategy: Option<String>,
    #[serde(default)]
    pub(super) capacity_provider_strategy: Vec<RawStrategyItem>,
    #[serde(default)]
    pub(super) launch_type: Option<String>,
    #[serde(default)]
    pub(super) deployments: Vec<RawDeployment>,
    #[serde(default)]
    pub(super) deployment_configuration: Option<RawDeploymentConfiguration>,
    #[serde(default)]
    pub(super) placement_constraints: Vec<RawConstraint>,
    #[serde(default)]
    pub(super) placement_strategy: Vec<RawPlacementStrategy>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct RawStrategyItem {
    pub(super) capacity_provider: String,
    #[serde(default)]
    pub(super) weight: u32,
    #[serde(default)]
    pub(super) base: u32,
}

/// One task of `aws ecs get-task-protection`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct RawTaskProtection {
    pub(super) task_arn: String,
    pub(super) protection_enabled: bool,
    #[serde(default)]
    pub(super) expiration_date: Option<Value>,
}

/// A cluster of `aws ecs describe-clusters`: its default strategy.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct RawCluster {
    #[serde(default)]
    pub(super) default_capacity_provider_strategy: Vec<RawStrategyItem>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct RawDeployment {
    #[serde(default)]
    pub(super) status: Option<String>,
    #[serde(default)]
    pub(super) rollout_state: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct RawDeploymentConfiguration {
    #[serde(default)]
    pub(super) maximum_percent: Option<u32>,
    #[serde(default)]
    pub(super) minimum_healthy_percent: Option<u32>,
}

#[derive(Deserialize)]
pub(super) struct RawConstraint {
    #[serde(rename = "type")]
    pub(super) kind: String,
    #[serde(default)]
    pub(super) expression: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct RawPlacementStrategy {
    #[serde(rename = "type")]
    pub(super) kind: String,
    #[serde(default)]
    pub(super) field: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct RawCapacityProvider {
    pub(super) name: String,
    #[serde(default)]
    pub(super) auto_scaling_group_provider: Option<RawAsgProvider>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct RawAsgProvider {
    pub(super) auto_scaling_group_arn: String,
    #[serde(default)]
    pub(super) managed_scaling: Option<ManagedScaling>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct RawAsg {
    pub(super) auto_scaling_group_name: String,
    pub(super) min_size: u32,
    pub(super) max_size: u32,
    pub(super) desired_capacity: u32,
    #[serde(default)]
    pub(super) availability_zones: Vec<String>,
    #[serde(default)]
    pub(super) instances: Vec<RawAsgInstance>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct RawAsgInstance {
    pub(super) instance_id: String,
    #[serde(default)]
    pub(super) instance_type: Option<String>,
    #[serde(default)]
    pub(super) protected_from_scale_in: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct RawTaskDefinition {
    #[serde(default)]
    pub(super) task_definition_arn: Option<String>,
    #[serde(default)]
    pub(super) cpu: Option<String>,
    #[serde(default)]
    pub(super) memory: Option<String>,
    #[serde(default)]
    pub(super) network_mode: Option<String>,
    #[serde(default)]
    pub(super) container_definitions: Vec<RawContainerDefinition>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct RawContainerDefinition {
    #[serde(default)]
    pub(super) cpu: Option<u32>,
    #[serde(default)]
    pub(super) memory: Option<u32>,
    #[serde(default)]
    pub(super) memory_reservation: Option<u32>,
    #[serde(default)]
    pub(super) port_mappings: Vec<RawPortMapping>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct RawPortMapping {
    #[serde(default)]
    pub(super) host_port: Option<u16>,
}

#[derive(Deserialize, Clone, Copy)]
pub(super) struct RawInstanceType {
    pub(super) cpu: u32,
    pub(super) memory: u32,
    #[serde(default)]
    pub(super) gpus: u32,
}

pub(super) fn list<T: serde::de::DeserializeOwned>(
    doc: &serde_json::Map<String, Value>,
    key: &str,
) -> Result<Vec<T>, SnapshotError> {
    let Some(value) = doc.get(key) else { return Ok(Vec::new()) };
    let Value::Array(items) = value else { return Err(err(key, "expected a list")) };
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            serde_path_to_error::deserialize(item.clone()).map_err(|e| {
                let inner = e.path().to_string();
                let path = if inner == "." { format!("{key}[{i}]") } else { format!("{key}[{i}].{inner}") };
                err(path, e.into_inner().to_string())
            })
        })
        .collect()
}
