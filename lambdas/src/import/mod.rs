//! `autopilot-aws import`: a live account's Application Auto Scaling setup
//! for ECS services — scalable targets, scaling policies, scheduled actions
//! — with the CloudWatch alarms that invoke its step policies, and each
//! selected cluster's capacity (providers, strategies, Auto Scaling groups,
//! instances, tasks) as a capacity snapshot. The output is the AWS CLI's
//! describe shapes, the files `autopilot validate`, `autopilot replay
//! --config`, `autopilot plan` and the functions read (docs/plan.md).
//!
//! Nothing is dropped without a line in [`Imported::not_carried`].
//!
//! Owns: reading the account and converting the SDK's types to the CLI's
//! JSON. May not touch: files (the binary writes them).

mod convert;

use crate::capacity::AwsCapacity;
use crate::error::port_error;
use aws_sdk_applicationautoscaling::types::{ScalableDimension, ScalableTarget, ServiceNamespace};
use convert::{alarm_json, policy_json, scheduled_json, target_json};
use ecs_autopilot::ports::PortError;
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, BTreeSet};

/// The clients an import reads through, built once from the SDK's default
/// credential and Region chain (or `--profile` / `--region`).
#[derive(Clone, Debug)]
pub struct Clients {
    pub application_autoscaling: aws_sdk_applicationautoscaling::Client,
    pub cloudwatch: aws_sdk_cloudwatch::Client,
    pub ecs: aws_sdk_ecs::Client,
    pub autoscaling: aws_sdk_autoscaling::Client,
}

/// Which services to import: all of the account's ECS scalable targets
/// when both lists are empty.
#[derive(Clone, Debug, Default)]
pub struct Selection {
    /// Cluster names.
    pub clusters: Vec<String>,
    /// Service names or resource ids (`service/<cluster>/<service>`).
    pub services: Vec<String>,
}

impl Selection {
    fn wants(&self, resource_id: &str) -> bool {
        let mut parts = resource_id.splitn(3, '/');
        let (Some("service"), Some(cluster), Some(service)) = (parts.next(), parts.next(), parts.next()) else {
            return false;
        };
        (self.clusters.is_empty() || self.clusters.iter().any(|c| c == cluster))
            && (self.services.is_empty() || self.services.iter().any(|s| s == service || s == resource_id))
    }
}

/// What an import found.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Imported {
    /// One document with `ScalableTargets`, `ScalingPolicies`,
    /// `ScheduledActions` and `MetricAlarms`, as the AWS CLI prints them.
    pub config: Value,
    /// Per cluster with capacity providers: its capacity snapshot.
    pub snapshots: BTreeMap<String, Value>,
    /// What was carried over, one line each.
    pub found: Vec<String>,
    /// What could not be, one line each with the reason.
    pub not_carried: Vec<String>,
}

/// Why an import failed.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{0}")]
    Call(#[from] PortError),
    /// What the account holds does not make a configuration the functions
    /// accept: nothing is written.
    #[error("the imported {file} is not valid, nothing was written: {reason}")]
    Invalid { file: String, reason: String },
}

/// The files of an import, `(name, text)`: `config.json` and one
/// `capacity-<cluster>.json` per cluster with capacity providers, each
/// checked as `autopilot validate` and `autopilot capacity plan` check it.
///
/// # Errors
/// [`ImportError::Invalid`] naming the file and the field.
pub fn files(imported: &Imported) -> Result<Vec<(String, String)>, ImportError> {
    let invalid = |file: &str, reason: String| ImportError::Invalid { file: file.to_owned(), reason };
    let pretty = |file: &str, v: &Value| serde_json::to_string_pretty(v).map_err(|e| invalid(file, e.to_string()));
    let config = pretty("config.json", &imported.config)?;
    ecs_autopilot::config::load_str(&config).map_err(|e| invalid("config.json", e.to_string()))?;
    let mut out = vec![("config.json".to_owned(), config)];
    for (cluster, doc) in &imported.snapshots {
        let name = format!("capacity-{cluster}.json");
        let text = pretty(&name, doc)?;
        let merged = ecs_autopilot::capacity::snapshot::merge(&[(name.as_str(), text.as_str())])
            .map_err(|e| invalid(&name, e.to_string()))?;
        ecs_autopilot::capacity::snapshot::providers(&merged).map_err(|e| invalid(&name, e.to_string()))?;
        out.push((name, text));
    }
    Ok(out)
}

/// Reads the account through `clients`.
///
/// # Errors
/// [`ImportError`] for a failed call (after the SDK's retries).
pub async fn import(clients: &Clients, selection: &Selection) -> Result<Imported, ImportError> {
    let mut out = Imported::default();
    let targets = scalable_targets(clients, selection, &mut out).await?;
    let ids: BTreeSet<String> = targets.iter().map(|t| t.resource_id().to_owned()).collect();
    let (policies, step_arns, named_alarms) = scaling_policies(clients, &ids, &mut out).await?;
    let scheduled = scheduled_actions(clients, &ids, &mut out).await?;
    let (alarms, driven) = alarms(clients, &step_arns, &named_alarms, &mut out).await?;
    // A step policy no alarm invokes never runs in AWS either; the
    // configuration refuses it, so it is left out with a line.
    let policies: Vec<Value> = policies
        .into_iter()
        .filter(|p| {
            let arn = p["PolicyARN"].as_str().unwrap_or_default();
            let keep = !step_arns.contains(arn) || driven.contains(arn);
            if !keep {
                out.not_carried.push(format!(
                    "step policy {} of {}: no CloudWatch alarm invokes it (AWS never runs it either)",
                    p["PolicyName"].as_str().unwrap_or_default(),
                    p["ResourceId"].as_str().unwrap_or_default()
                ));
            }
            keep
        })
        .collect();
    out.config = json!({
        "ScalableTargets": targets.iter().map(target_json).collect::<Vec<_>>(),
        "ScalingPolicies": policies,
        "ScheduledActions": scheduled,
        "MetricAlarms": alarms,
    });
    let clusters: BTreeSet<&str> = ids.iter().filter_map(|id| id.split('/').nth(1)).collect();
    for cluster in clusters {
        let capacity =
            AwsCapacity::new(clients.ecs.clone(), clients.autoscaling.clone(), cluster, Value::Object(Map::new()));
        match capacity.cluster_snapshot().await? {
            None => out.found.push(format!(
                "cluster {cluster}: no capacity provider (Fargate launch type or self-managed instances): no capacity snapshot"
            )),
            Some(mut doc) => {
                let types = instance_types(&doc);
                if types.is_empty() {
                    out.not_carried.push(format!(
                        "cluster {cluster}: no container instance to learn instance types from: add `instanceTypes` to its snapshot by hand (docs/capacity.md)"
                    ));
                }
                let providers: Vec<&str> = doc["capacityProviders"]
                    .as_array()
                    .map(|a| a.iter().filter_map(|p| p["name"].as_str()).collect())
                    .unwrap_or_default();
                out.found.push(format!(
                    "cluster {cluster}: capacity providers {}, {} Auto Scaling group(s), {} container instance(s)",
                    providers.join(", "),
                    doc["AutoScalingGroups"].as_array().map_or(0, Vec::len),
                    doc["containerInstances"].as_array().map_or(0, Vec::len)
                ));
                doc.insert("instanceTypes".into(), Value::Object(types));
                out.snapshots.insert(cluster.to_owned(), Value::Object(doc));
            }
        }
    }
    Ok(out)
}

async fn scalable_targets(
    clients: &Clients,
    selection: &Selection,
    out: &mut Imported,
) -> Result<Vec<ScalableTarget>, ImportError> {
    const OP: &str = "application-autoscaling:DescribeScalableTargets";
    let mut targets = Vec::new();
    let mut pages = clients
        .application_autoscaling
        .describe_scalable_targets()
        .service_namespace(ServiceNamespace::Ecs)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| port_error(OP, e))?;
        for t in page.scalable_targets() {
            if !selection.wants(t.resource_id()) {
                continue;
            }
            if t.scalable_dimension() != &ScalableDimension::EcsServiceDesiredCount {
                out.not_carried.push(format!(
                    "scalable target {} ({}): only ecs:service:DesiredCount is scaled",
                    t.resource_id(),
                    t.scalable_dimension().as_str()
                ));
                continue;
            }
            out.found.push(format!(
                "scalable target {}: MinCapacity {}, MaxCapacity {}",
                t.resource_id(),
                t.min_capacity(),
                t.max_capacity()
            ));
            targets.push(t.clone());
        }
    }
    Ok(targets)
}

/// Alarm name → the ARNs of the step policies whose `Alarms` list names it.
type NamedAlarms = BTreeMap<String, Vec<String>>;

type Policies = (Vec<Value>, BTreeSet<String>, NamedAlarms);

/// The policies of the selected targets, the ARNs of the step policies
/// among them and the alarm names their `Alarms` lists give.
async fn scaling_policies(
    clients: &Clients,
    ids: &BTreeSet<String>,
    out: &mut Imported,
) -> Result<Policies, ImportError> {
    const OP: &str = "application-autoscaling:DescribeScalingPolicies";
    let (mut policies, mut step_arns, mut alarm_names) = (Vec::new(), BTreeSet::new(), NamedAlarms::new());
    let mut pages = clients
        .application_autoscaling
        .describe_scaling_policies()
        .service_namespace(ServiceNamespace::Ecs)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| port_error(OP, e))?;
        for p in page.scaling_policies() {
            if !ids.contains(p.resource_id()) {
                continue;
            }
            let what = format!("{} policy {} of {}", p.policy_type().as_str(), p.policy_name(), p.resource_id());
            match policy_json(p) {
                Ok(v) => {
                    if p.step_scaling_policy_configuration().is_some() {
                        step_arns.insert(p.policy_arn().to_owned());
                        for a in p.alarms() {
                            alarm_names.entry(a.alarm_name().to_owned()).or_default().push(p.policy_arn().to_owned());
                        }
                    }
                    if p.predictive_scaling_policy_configuration().is_some() {
                        out.not_carried.push(format!(
                            "{what}: kept in the file, but predictive scaling is not evaluated yet (`autopilot validate` warns)"
                        ));
                    } else {
                        out.found.push(what);
                    }
                    policies.push(v);
                }
                Err(reason) => out.not_carried.push(format!("{what}: {reason}")),
            }
        }
    }
    Ok((policies, step_arns, alarm_names))
}

async fn scheduled_actions(
    clients: &Clients,
    ids: &BTreeSet<String>,
    out: &mut Imported,
) -> Result<Vec<Value>, ImportError> {
    const OP: &str = "application-autoscaling:DescribeScheduledActions";
    let mut actions = Vec::new();
    let mut pages = clients
        .application_autoscaling
        .describe_scheduled_actions()
        .service_namespace(ServiceNamespace::Ecs)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| port_error(OP, e))?;
        for a in page.scheduled_actions() {
            if !ids.contains(a.resource_id()) {
                continue;
            }
            out.found.push(format!(
                "scheduled action {} of {}: {}{}",
                a.scheduled_action_name(),
                a.resource_id(),
                a.schedule(),
                a.timezone().map(|z| format!(" ({z})")).unwrap_or_default()
            ));
            actions.push(scheduled_json(a));
        }
    }
    Ok(actions)
}

/// The CloudWatch alarms that invoke the step policies (whose AlarmActions
/// name a policy's ARN, or which a policy's `Alarms` list names), and the
/// ARNs of the policies some alarm invokes.
async fn alarms(
    clients: &Clients,
    step_arns: &BTreeSet<String>,
    named: &NamedAlarms,
    out: &mut Imported,
) -> Result<(Vec<Value>, BTreeSet<String>), ImportError> {
    const OP: &str = "cloudwatch:DescribeAlarms";
    let (mut alarms, mut driven) = (Vec::new(), BTreeSet::new());
    if step_arns.is_empty() {
        return Ok((alarms, driven));
    }
    let mut pages = clients.cloudwatch.describe_alarms().into_paginator().send();
    let mut seen = BTreeSet::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| port_error(OP, e))?;
        for a in page.metric_alarms() {
            let name = a.alarm_name().unwrap_or_default();
            let invokes: Vec<&String> = a.alarm_actions().iter().filter(|x| step_arns.contains(*x)).collect();
            if invokes.is_empty() && !named.contains_key(name) {
                continue;
            }
            driven.extend(invokes.into_iter().cloned());
            seen.insert(name.to_owned());
            out.found.push(format!("CloudWatch alarm {name} (invokes a step policy)"));
            alarms.push(alarm_json(a));
        }
    }
    for (name, policies) in named {
        if seen.contains(name) {
            // An alarm a policy names drives that policy.
            driven.extend(policies.iter().cloned());
        } else {
            out.not_carried
                .push(format!("CloudWatch alarm {name}: a step policy names it, but CloudWatch does not have it"));
        }
    }
    Ok((alarms, driven))
}

/// `instanceTypes` learnt from the container instances: the CPU units and
/// memory ECS registered on each instance type (the smallest seen, so a
/// plan never assumes more room than an instance has).
fn instance_types(doc: &Map<String, Value>) -> Map<String, Value> {
    let mut types: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    for ci in doc.get("containerInstances").and_then(Value::as_array).into_iter().flatten() {
        let Some(kind) = ci["attributes"]
            .as_array()
            .and_then(|a| a.iter().find(|x| x["name"] == "ecs.instance-type"))
            .and_then(|x| x["value"].as_str())
        else {
            continue;
        };
        let resource = |name: &str| {
            ci["registeredResources"]
                .as_array()
                .and_then(|r| r.iter().find(|x| x["name"] == name))
                .and_then(|x| x["integerValue"].as_i64())
        };
        if let (Some(cpu), Some(memory)) = (resource("CPU"), resource("MEMORY")) {
            let entry = types.entry(kind.to_owned()).or_insert((cpu, memory));
            *entry = (entry.0.min(cpu), entry.1.min(memory));
        }
    }
    types.into_iter().map(|(k, (cpu, memory))| (k, json!({"cpu": cpu, "memory": memory}))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selection_matches_clusters_and_services_by_name_or_id() {
        let all = Selection::default();
        assert!(all.wants("service/prod/web"));
        assert!(!all.wants("table/prod"));
        let by_cluster = Selection { clusters: vec!["prod".into()], services: vec![] };
        assert!(by_cluster.wants("service/prod/web") && !by_cluster.wants("service/dev/web"));
        let by_service = Selection { clusters: vec![], services: vec!["web".into(), "service/dev/api".into()] };
        assert!(by_service.wants("service/prod/web") && by_service.wants("service/dev/api"));
        assert!(!by_service.wants("service/prod/api"));
    }

    #[test]
    fn instance_types_take_the_smallest_registration_per_type() {
        let doc = json!({"containerInstances": [
            {"attributes": [{"name": "ecs.instance-type", "value": "m5.large"}],
             "registeredResources": [{"name": "CPU", "integerValue": 2048}, {"name": "MEMORY", "integerValue": 7680}]},
            {"attributes": [{"name": "ecs.instance-type", "value": "m5.large"}],
             "registeredResources": [{"name": "CPU", "integerValue": 2048}, {"name": "MEMORY", "integerValue": 7600}]},
            {"attributes": [], "registeredResources": []}
        ]});
        let types = instance_types(doc.as_object().unwrap());
        assert_eq!(Value::Object(types), json!({"m5.large": {"cpu": 2048, "memory": 7600}}));
    }
}
