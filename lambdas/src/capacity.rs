//! The cluster behind a capacity provider, read through aws-sdk-ecs and
//! aws-sdk-autoscaling, and the capacity actions applied to them.
//!
//! Reading builds the very document `autopilot capacity plan` accepts (the
//! AWS CLI's describe outputs, camelCase for ECS and PascalCase for Auto
//! Scaling) and hands it to the core's snapshot parser, so the Lambda and the
//! CLI plan from one model.

use crate::error::port_error;
use ecs_autopilot::capacity::{snapshot, CapacityAction, Cluster};
use ecs_autopilot::ports::{CapacityPort, PortError};
use serde_json::{json, Map, Value};
use std::collections::BTreeSet;

/// The [`CapacityPort`] over ECS and Auto Scaling for one cluster.
#[derive(Clone, Debug)]
pub struct AwsCapacity {
    ecs: aws_sdk_ecs::Client,
    autoscaling: aws_sdk_autoscaling::Client,
    cluster: String,
    /// `{"m6g.large": {"cpu": 2048, "memory": 7680}}`: what ECS can use of
    /// each instance type the group launches.
    instance_types: Value,
    /// Consolidation is on: task protection is read for every task.
    consolidation: bool,
}

impl AwsCapacity {
    #[must_use]
    pub fn new(
        ecs: aws_sdk_ecs::Client,
        autoscaling: aws_sdk_autoscaling::Client,
        cluster: impl Into<String>,
        instance_types: Value,
    ) -> Self {
        Self { ecs, autoscaling, cluster: cluster.into(), instance_types, consolidation: false }
    }

    /// With consolidation on, busy instances may be drained: the snapshot
    /// reads every task's scale-in protection (docs/capacity.md).
    #[must_use]
    pub fn with_consolidation(mut self, on: bool) -> Self {
        self.consolidation = on;
        self
    }

    /// The AWS CLI-shaped snapshot of the cluster and the provider's group.
    ///
    /// # Errors
    /// [`PortError`] for a failed call.
    pub async fn snapshot(&self, provider: &str) -> Result<Map<String, Value>, PortError> {
        let providers = self.capacity_providers(provider).await?;
        self.snapshot_with(providers).await
    }

    /// [`Self::snapshot`] with the provider already described.
    async fn snapshot_with(&self, providers: Vec<Value>) -> Result<Map<String, Value>, PortError> {
        let mut doc = Map::new();
        let asg_names: Vec<String> = providers
            .iter()
            .filter_map(|p| p["autoScalingGroupProvider"]["autoScalingGroupArn"].as_str())
            .filter_map(|arn| arn.split_once("autoScalingGroupName/").map(|(_, n)| n.to_owned()))
            .collect();
        doc.insert("capacityProviders".into(), Value::Array(providers));
        doc.insert("clusters".into(), Value::Array(self.default_strategy().await?));
        doc.insert("AutoScalingGroups".into(), Value::Array(self.groups(&asg_names).await?));
        doc.insert("containerInstances".into(), Value::Array(self.container_instances().await?));
        doc.insert("tasks".into(), Value::Array(self.tasks().await?));
        let services = self.services().await?;
        let definitions: BTreeSet<String> =
            services.iter().filter_map(|s| s["taskDefinition"].as_str().map(str::to_owned)).collect();
        doc.insert("services".into(), Value::Array(services));
        let mut task_definitions = Vec::new();
        for arn in definitions {
            task_definitions.push(self.task_definition(&arn).await?);
        }
        doc.insert("taskDefinitions".into(), Value::Array(task_definitions));
        doc.insert("instanceTypes".into(), self.instance_types.clone());
        // Task scale-in protection, only where the planner could disrupt a
        // task (the core says which: docs/capacity.md).
        let candidates = snapshot::protection_candidates(&doc, self.consolidation)
            .map_err(|e| PortError::permanent("capacity snapshot", e.to_string()))?;
        doc.insert("protectedTasks".into(), Value::Array(self.task_protection(&candidates).await?));
        Ok(doc)
    }

    /// The snapshot of the whole cluster with every capacity provider it
    /// has (`autopilot-aws import`), or `None` when it has none.
    ///
    /// # Errors
    /// [`PortError`] for a failed call.
    pub async fn cluster_snapshot(&self) -> Result<Option<Map<String, Value>>, PortError> {
        const OP: &str = "ecs:DescribeClusters";
        let out = self.ecs.describe_clusters().clusters(&self.cluster).send().await.map_err(|e| port_error(OP, e))?;
        let names: Vec<String> = out.clusters().iter().flat_map(|c| c.capacity_providers().iter().cloned()).collect();
        if names.is_empty() {
            return Ok(None);
        }
        let providers = self.describe_providers(&names).await?;
        self.snapshot_with(providers).await.map(Some)
    }

    async fn capacity_providers(&self, provider: &str) -> Result<Vec<Value>, PortError> {
        self.describe_providers(&[provider.to_owned()]).await
    }

    async fn describe_providers(&self, names: &[String]) -> Result<Vec<Value>, PortError> {
        const OP: &str = "ecs:DescribeCapacityProviders";
        let out = self
            .ecs
            .describe_capacity_providers()
            .set_capacity_providers(Some(names.to_vec()))
            .send()
            .await
            .map_err(|e| port_error(OP, e))?;
        Ok(out
            .capacity_providers()
            .iter()
            .map(|p| {
                let asg = p.auto_scaling_group_provider().map(|a| {
                    let ms = a.managed_scaling().map(|m| {
                        let mut v = Map::new();
                        put(&mut v, "targetCapacity", m.target_capacity());
                        put(&mut v, "minimumScalingStepSize", m.minimum_scaling_step_size());
                        put(&mut v, "maximumScalingStepSize", m.maximum_scaling_step_size());
                        put(&mut v, "instanceWarmupPeriod", m.instance_warmup_period());
                        Value::Object(v)
                    });
                    json!({"autoScalingGroupArn": a.auto_scaling_group_arn(), "managedScaling": ms})
                });
                json!({"name": p.name(), "autoScalingGroupProvider": asg})
            })
            .collect())
    }

    /// The cluster's default capacity provider strategy (services without
    /// a strategy or a launch type use it), as `describe-clusters` prints it.
    async fn default_strategy(&self) -> Result<Vec<Value>, PortError> {
        const OP: &str = "ecs:DescribeClusters";
        let out = self.ecs.describe_clusters().clusters(&self.cluster).send().await.map_err(|e| port_error(OP, e))?;
        Ok(out
            .clusters()
            .iter()
            .map(|c| {
                json!({
                    "clusterName": c.cluster_name(),
                    "defaultCapacityProviderStrategy": strategy_json(c.default_capacity_provider_strategy()),
                })
            })
            .collect())
    }

    async fn groups(&self, names: &[String]) -> Result<Vec<Value>, PortError> {
        const OP: &str = "autoscaling:DescribeAutoScalingGroups";
        if names.is_empty() {
            return Ok(Vec::new());
        }
        let mut out = Vec::new();
        let mut pages = self
            .autoscaling
            .describe_auto_scaling_groups()
            .set_auto_scaling_group_names(Some(names.to_vec()))
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| port_error(OP, e))?;
            for g in page.auto_scaling_groups() {
                let instances: Vec<Value> = g
                    .instances()
                    .iter()
                    .map(|i| {
                        json!({
                            "InstanceId": i.instance_id(),
                            "InstanceType": i.instance_type(),
                            "ProtectedFromScaleIn": i.protected_from_scale_in(),
                        })
                    })
                    .collect();
                out.push(json!({
                    "AutoScalingGroupName": g.auto_scaling_group_name(),
                    "MinSize": g.min_size(),
                    "MaxSize": g.max_size(),
                    "DesiredCapacity": g.desired_capacity(),
                    "AvailabilityZones": g.availability_zones(),
                    "Instances": instances,
                }));
            }
        }
        Ok(out)
    }

    async fn container_instances(&self) -> Result<Vec<Value>, PortError> {
        let mut arns = Vec::new();
        let mut pages = self.ecs.list_container_instances().cluster(&self.cluster).into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| port_error("ecs:ListContainerInstances", e))?;
            arns.extend(page.container_instance_arns().iter().cloned());
        }
        let mut out = Vec::new();
        for chunk in arns.chunks(100) {
            let page = self
                .ecs
                .describe_container_instances()
                .cluster(&self.cluster)
                .set_container_instances(Some(chunk.to_vec()))
                .send()
                .await
                .map_err(|e| port_error("ecs:DescribeContainerInstances", e))?;
            for c in page.container_instances() {
                let resources = |list: &[aws_sdk_ecs::types::Resource]| -> Vec<Value> {
                    list.iter()
                        .map(|r| {
                            json!({
                                "name": r.name(),
                                "type": r.r#type(),
                                "integerValue": r.integer_value(),
                                "stringSetValue": r.string_set_value(),
                            })
                        })
                        .collect()
                };
                let attributes: Vec<Value> =
                    c.attributes().iter().map(|a| json!({"name": a.name(), "value": a.value()})).collect();
                out.push(json!({
                    "containerInstanceArn": c.container_instance_arn(),
                    "ec2InstanceId": c.ec2_instance_id(),
                    "status": c.status(),
                    "agentConnected": c.agent_connected(),
                    "remainingResources": resources(c.remaining_resources()),
                    "registeredResources": resources(c.registered_resources()),
                    "attributes": attributes,
                    "runningTasksCount": c.running_tasks_count(),
                    "pendingTasksCount": c.pending_tasks_count(),
                    "registeredAt": c.registered_at().map(|t| t.secs()),
                    "capacityProviderName": c.capacity_provider_name(),
                }));
            }
        }
        Ok(out)
    }

    async fn tasks(&self) -> Result<Vec<Value>, PortError> {
        let mut arns = Vec::new();
        let mut pages = self
            .ecs
            .list_tasks()
            .cluster(&self.cluster)
            .desired_status(aws_sdk_ecs::types::DesiredStatus::Running)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| port_error("ecs:ListTasks", e))?;
            arns.extend(page.task_arns().iter().cloned());
        }
        let mut out = Vec::new();
        for chunk in arns.chunks(100) {
            let page = self
                .ecs
                .describe_tasks()
                .cluster(&self.cluster)
                .set_tasks(Some(chunk.to_vec()))
                .send()
                .await
                .map_err(|e| port_error("ecs:DescribeTasks", e))?;
            for t in page.tasks() {
                let containers: Vec<Value> = t
                    .containers()
                    .iter()
                    .map(|c| {
                        let bindings: Vec<Value> =
                            c.network_bindings().iter().map(|b| json!({"hostPort": b.host_port()})).collect();
                        json!({"networkBindings": bindings})
                    })
                    .collect();
                out.push(json!({
                    "taskArn": t.task_arn(),
                    "group": t.group(),
                    "cpu": t.cpu(),
                    "memory": t.memory(),
                    "lastStatus": t.last_status(),
                    "containerInstanceArn": t.container_instance_arn(),
                    "capacityProviderName": t.capacity_provider_name(),
                    "taskDefinitionArn": t.task_definition_arn(),
                    "containers": containers,
                }));
            }
        }
        Ok(out)
    }

    async fn services(&self) -> Result<Vec<Value>, PortError> {
        let mut arns = Vec::new();
        let mut pages = self.ecs.list_services().cluster(&self.cluster).into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| port_error("ecs:ListServices", e))?;
            arns.extend(page.service_arns().iter().cloned());
        }
        let mut out = Vec::new();
        for chunk in arns.chunks(10) {
            let page = self
                .ecs
                .describe_services()
                .cluster(&self.cluster)
                .set_services(Some(chunk.to_vec()))
                .send()
                .await
                .map_err(|e| port_error("ecs:DescribeServices", e))?;
            for s in page.services() {
                let strategy = strategy_json(s.capacity_provider_strategy());
                let deployments: Vec<Value> = s
                    .deployments()
                    .iter()
                    .map(|d| json!({"status": d.status(), "rolloutState": d.rollout_state().map(|r| r.as_str())}))
                    .collect();
                let constraints: Vec<Value> = s
                    .placement_constraints()
                    .iter()
                    .map(|c| json!({"type": c.r#type().map(|t| t.as_str()), "expression": c.expression()}))
                    .collect();
                let strategies: Vec<Value> = s
                    .placement_strategy()
                    .iter()
                    .map(|p| json!({"type": p.r#type().map(|t| t.as_str()), "field": p.field()}))
                    .collect();
                out.push(json!({
                    "serviceName": s.service_name(),
                    "desiredCount": s.desired_count(),
                    "runningCount": s.running_count(),
                    "pendingCount": s.pending_count(),
                    "taskDefinition": s.task_definition(),
                    "schedulingStrategy": s.scheduling_strategy().map(|x| x.as_str()),
                    "launchType": s.launch_type().map(|x| x.as_str()),
                    "capacityProviderStrategy": strategy,
                    "deployments": deployments,
                    "deploymentConfiguration": {
                        "maximumPercent": s.deployment_configuration().and_then(|d| d.maximum_percent()),
                    },
                    "placementConstraints": constraints,
                    "placementStrategy": strategies,
                }));
            }
        }
        Ok(out)
    }

    /// `GetTaskProtection` for `tasks`, ten per call (the API's limit), as
    /// `aws ecs get-task-protection` prints `protectedTasks`.
    ///
    /// # Errors
    /// [`PortError`] for a failed call.
    pub async fn task_protection(&self, tasks: &[String]) -> Result<Vec<Value>, PortError> {
        const OP: &str = "ecs:GetTaskProtection";
        let mut out = Vec::new();
        for chunk in tasks.chunks(10) {
            let page = self
                .ecs
                .get_task_protection()
                .cluster(&self.cluster)
                .set_tasks(Some(chunk.to_vec()))
                .send()
                .await
                .map_err(|e| port_error(OP, e))?;
            for p in page.protected_tasks() {
                out.push(json!({
                    "taskArn": p.task_arn(),
                    "protectionEnabled": p.protection_enabled(),
                    "expirationDate": p.expiration_date().map(|t| t.secs()),
                }));
            }
        }
        Ok(out)
    }

    async fn task_definition(&self, arn: &str) -> Result<Value, PortError> {
        const OP: &str = "ecs:DescribeTaskDefinition";
        let out =
            self.ecs.describe_task_definition().task_definition(arn).send().await.map_err(|e| port_error(OP, e))?;
        let Some(td) = out.task_definition() else {
            return Err(PortError::permanent(OP, format!("{arn}: no task definition returned")));
        };
        let containers: Vec<Value> = td
            .container_definitions()
            .iter()
            .map(|c| {
                let ports: Vec<Value> = c.port_mappings().iter().map(|p| json!({"hostPort": p.host_port()})).collect();
                json!({
                    "cpu": c.cpu(),
                    "memory": c.memory(),
                    "memoryReservation": c.memory_reservation(),
                    "portMappings": ports,
                })
            })
            .collect();
        Ok(json!({
            "taskDefinitionArn": td.task_definition_arn(),
            "cpu": td.cpu(),
            "memory": td.memory(),
            "networkMode": td.network_mode().map(|m| m.as_str()),
            "containerDefinitions": containers,
        }))
    }
}

/// A capacity provider strategy as the AWS CLI prints it.
fn strategy_json(items: &[aws_sdk_ecs::types::CapacityProviderStrategyItem]) -> Vec<Value> {
    items
        .iter()
        .map(|i| json!({"capacityProvider": i.capacity_provider(), "weight": i.weight(), "base": i.base()}))
        .collect()
}

/// Inserts `value` unless it is absent.
fn put<T: Into<Value>>(map: &mut Map<String, Value>, key: &str, value: Option<T>) {
    if let Some(v) = value {
        map.insert(key.to_owned(), v.into());
    }
}

impl CapacityPort for AwsCapacity {
    async fn cluster(&self, capacity_provider: &str) -> Result<Option<Cluster>, PortError> {
        // Fargate's providers have no group to read, nor anything to plan.
        if ecs_autopilot::capacity::model::FARGATE_PROVIDERS.contains(&capacity_provider) {
            return Ok(None);
        }
        let providers = self.capacity_providers(capacity_provider).await?;
        if providers.iter().all(|p| p["autoScalingGroupProvider"].is_null()) && !providers.is_empty() {
            return Ok(None);
        }
        let doc = self.snapshot_with(providers).await?;
        // A snapshot the planner cannot use is a fault of the environment
        // (e.g. an instance type missing from AUTOPILOT_INSTANCE_TYPES).
        snapshot::provider(&doc, capacity_provider)
            .map_err(|e| PortError::permanent("capacity snapshot", e.to_string()))
    }

    async fn apply(&self, cluster: &Cluster, action: &CapacityAction) -> Result<(), PortError> {
        let asg = cluster.asg.name.as_str();
        match action {
            CapacityAction::SetDesiredCapacity { to, .. } => {
                const OP: &str = "autoscaling:SetDesiredCapacity";
                let to = i32::try_from(*to).map_err(|_| PortError::permanent(OP, format!("{to} is too large")))?;
                self.autoscaling
                    .set_desired_capacity()
                    .auto_scaling_group_name(asg)
                    .desired_capacity(to)
                    .honor_cooldown(false)
                    .send()
                    .await
                    .map_err(|e| port_error(OP, e))?;
            }
            CapacityAction::ProtectFromScaleIn { ec2_instance_ids }
            | CapacityAction::UnprotectFromScaleIn { ec2_instance_ids } => {
                self.autoscaling
                    .set_instance_protection()
                    .auto_scaling_group_name(asg)
                    .set_instance_ids(Some(ec2_instance_ids.clone()))
                    .protected_from_scale_in(matches!(action, CapacityAction::ProtectFromScaleIn { .. }))
                    .send()
                    .await
                    .map_err(|e| port_error("autoscaling:SetInstanceProtection", e))?;
            }
            CapacityAction::Drain { container_instances } => {
                self.ecs
                    .update_container_instances_state()
                    .cluster(&self.cluster)
                    .set_container_instances(Some(container_instances.clone()))
                    .status(aws_sdk_ecs::types::ContainerInstanceStatus::Draining)
                    .send()
                    .await
                    .map_err(|e| port_error("ecs:UpdateContainerInstancesState", e))?;
            }
            CapacityAction::TerminateAndDecrement { ec2_instance_ids } => {
                for id in ec2_instance_ids {
                    self.autoscaling
                        .terminate_instance_in_auto_scaling_group()
                        .instance_id(id)
                        .should_decrement_desired_capacity(true)
                        .send()
                        .await
                        .map_err(|e| port_error("autoscaling:TerminateInstanceInAutoScalingGroup", e))?;
                }
            }
        }
        Ok(())
    }
}
