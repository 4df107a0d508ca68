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

use crate::capacity::AwsCapacity;
use crate::error::port_error;
use aws_sdk_applicationautoscaling::types::{
    CustomizedMetricSpecification, PredictiveScalingPolicyConfiguration, ScalableDimension, ScalableTarget,
    ScalingPolicy, ScheduledAction, ServiceNamespace, StepScalingPolicyConfiguration,
    TargetTrackingScalingPolicyConfiguration,
};
use aws_smithy_types::date_time::Format;
use aws_smithy_types::DateTime;
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

fn time(t: &DateTime) -> Value {
    t.fmt(Format::DateTime).map_or(Value::Null, Value::String)
}

/// Inserts `value` under `key` unless it is `None`.
fn put<T: Into<Value>>(map: &mut Map<String, Value>, key: &str, value: Option<T>) {
    if let Some(v) = value {
        map.insert(key.to_owned(), v.into());
    }
}

fn target_json(t: &ScalableTarget) -> Value {
    let mut v = Map::new();
    v.insert("ServiceNamespace".into(), t.service_namespace().as_str().into());
    v.insert("ResourceId".into(), t.resource_id().into());
    v.insert("ScalableDimension".into(), t.scalable_dimension().as_str().into());
    v.insert("MinCapacity".into(), t.min_capacity().into());
    v.insert("MaxCapacity".into(), t.max_capacity().into());
    put(&mut v, "RoleARN", Some(t.role_arn()).filter(|r| !r.is_empty()));
    v.insert("CreationTime".into(), time(t.creation_time()));
    if let Some(s) = t.suspended_state() {
        v.insert(
            "SuspendedState".into(),
            json!({
                "DynamicScalingInSuspended": s.dynamic_scaling_in_suspended().unwrap_or(false),
                "DynamicScalingOutSuspended": s.dynamic_scaling_out_suspended().unwrap_or(false),
                "ScheduledScalingSuspended": s.scheduled_scaling_suspended().unwrap_or(false),
            }),
        );
    }
    put(&mut v, "ScalableTargetARN", t.scalable_target_arn());
    Value::Object(v)
}

fn policy_json(p: &ScalingPolicy) -> Result<Value, String> {
    let mut v = Map::new();
    v.insert("PolicyARN".into(), p.policy_arn().into());
    v.insert("PolicyName".into(), p.policy_name().into());
    v.insert("ServiceNamespace".into(), p.service_namespace().as_str().into());
    v.insert("ResourceId".into(), p.resource_id().into());
    v.insert("ScalableDimension".into(), p.scalable_dimension().as_str().into());
    v.insert("PolicyType".into(), p.policy_type().as_str().into());
    match (
        p.target_tracking_scaling_policy_configuration(),
        p.step_scaling_policy_configuration(),
        p.predictive_scaling_policy_configuration(),
    ) {
        (Some(c), None, None) => {
            v.insert("TargetTrackingScalingPolicyConfiguration".into(), target_tracking_json(c)?);
        }
        (None, Some(c), None) => {
            v.insert("StepScalingPolicyConfiguration".into(), step_json(c));
        }
        (None, None, Some(c)) => {
            v.insert("PredictiveScalingPolicyConfiguration".into(), predictive_json(c)?);
        }
        _ => return Err("a policy type this version does not know (no single configuration)".into()),
    }
    let alarms: Vec<Value> =
        p.alarms().iter().map(|a| json!({"AlarmName": a.alarm_name(), "AlarmARN": a.alarm_arn()})).collect();
    v.insert("Alarms".into(), alarms.into());
    v.insert("CreationTime".into(), time(p.creation_time()));
    Ok(Value::Object(v))
}

fn target_tracking_json(c: &TargetTrackingScalingPolicyConfiguration) -> Result<Value, String> {
    let mut v = Map::new();
    v.insert("TargetValue".into(), c.target_value().into());
    if let Some(m) = c.predefined_metric_specification() {
        let mut spec = Map::new();
        spec.insert("PredefinedMetricType".into(), m.predefined_metric_type().as_str().into());
        put(&mut spec, "ResourceLabel", m.resource_label());
        v.insert("PredefinedMetricSpecification".into(), Value::Object(spec));
    }
    if let Some(m) = c.customized_metric_specification() {
        v.insert("CustomizedMetricSpecification".into(), customized_json(m));
    }
    put(&mut v, "ScaleOutCooldown", c.scale_out_cooldown());
    put(&mut v, "ScaleInCooldown", c.scale_in_cooldown());
    put(&mut v, "DisableScaleIn", c.disable_scale_in());
    Ok(Value::Object(v))
}

fn customized_json(m: &CustomizedMetricSpecification) -> Value {
    let mut spec = Map::new();
    put(&mut spec, "MetricName", m.metric_name());
    put(&mut spec, "Namespace", m.namespace());
    if !m.dimensions().is_empty() {
        let dims: Vec<Value> = m.dimensions().iter().map(|d| json!({"Name": d.name(), "Value": d.value()})).collect();
        spec.insert("Dimensions".into(), dims.into());
    }
    put(&mut spec, "Statistic", m.statistic().map(|s| s.as_str()));
    put(&mut spec, "Unit", m.unit());
    if !m.metrics().is_empty() {
        let queries: Vec<Value> = m
            .metrics()
            .iter()
            .map(|q| {
                let mut query = Map::new();
                query.insert("Id".into(), q.id().into());
                put(&mut query, "Expression", q.expression());
                put(&mut query, "Label", q.label());
                put(&mut query, "ReturnData", q.return_data());
                if let Some(stat) = q.metric_stat() {
                    let metric = stat.metric().map(|metric| {
                        let dims: Vec<Value> =
                            metric.dimensions().iter().map(|d| json!({"Name": d.name(), "Value": d.value()})).collect();
                        json!({"Namespace": metric.namespace(), "MetricName": metric.metric_name(), "Dimensions": dims})
                    });
                    let mut s = Map::new();
                    put(&mut s, "Metric", metric);
                    s.insert("Stat".into(), stat.stat().into());
                    put(&mut s, "Unit", stat.unit());
                    query.insert("MetricStat".into(), Value::Object(s));
                }
                Value::Object(query)
            })
            .collect();
        spec.insert("Metrics".into(), queries.into());
    }
    Value::Object(spec)
}

fn step_json(c: &StepScalingPolicyConfiguration) -> Value {
    let mut v = Map::new();
    put(&mut v, "AdjustmentType", c.adjustment_type().map(|a| a.as_str()));
    let steps: Vec<Value> = c
        .step_adjustments()
        .iter()
        .map(|s| {
            let mut step = Map::new();
            put(&mut step, "MetricIntervalLowerBound", s.metric_interval_lower_bound());
            put(&mut step, "MetricIntervalUpperBound", s.metric_interval_upper_bound());
            step.insert("ScalingAdjustment".into(), s.scaling_adjustment().into());
            Value::Object(step)
        })
        .collect();
    v.insert("StepAdjustments".into(), steps.into());
    put(&mut v, "MinAdjustmentMagnitude", c.min_adjustment_magnitude());
    put(&mut v, "Cooldown", c.cooldown());
    put(&mut v, "MetricAggregationType", c.metric_aggregation_type().map(|a| a.as_str()));
    Value::Object(v)
}

/// Predictive policies are kept in the file (the configuration accepts and
/// warns about them); their predefined metric specifications are carried,
/// a customized one is refused with its reason.
fn predictive_json(c: &PredictiveScalingPolicyConfiguration) -> Result<Value, String> {
    let mut v = Map::new();
    let mut specs = Vec::new();
    for m in c.metric_specifications() {
        if m.customized_scaling_metric_specification().is_some()
            || m.customized_load_metric_specification().is_some()
            || m.customized_capacity_metric_specification().is_some()
        {
            return Err("a predictive policy with customized metric specifications is not carried over".into());
        }
        let mut spec = Map::new();
        spec.insert("TargetValue".into(), m.target_value().into());
        let label = |t: &str, l: Option<&str>| {
            let mut o = Map::new();
            o.insert("PredefinedMetricType".into(), t.into());
            put(&mut o, "ResourceLabel", l);
            Value::Object(o)
        };
        if let Some(p) = m.predefined_metric_pair_specification() {
            spec.insert(
                "PredefinedMetricPairSpecification".into(),
                label(p.predefined_metric_type(), p.resource_label()),
            );
        }
        if let Some(p) = m.predefined_scaling_metric_specification() {
            spec.insert(
                "PredefinedScalingMetricSpecification".into(),
                label(p.predefined_metric_type(), p.resource_label()),
            );
        }
        if let Some(p) = m.predefined_load_metric_specification() {
            spec.insert(
                "PredefinedLoadMetricSpecification".into(),
                label(p.predefined_metric_type(), p.resource_label()),
            );
        }
        specs.push(Value::Object(spec));
    }
    v.insert("MetricSpecifications".into(), specs.into());
    put(&mut v, "Mode", c.mode().map(|m| m.as_str()));
    put(&mut v, "SchedulingBufferTime", c.scheduling_buffer_time());
    put(&mut v, "MaxCapacityBreachBehavior", c.max_capacity_breach_behavior().map(|b| b.as_str()));
    put(&mut v, "MaxCapacityBuffer", c.max_capacity_buffer());
    Ok(Value::Object(v))
}

fn scheduled_json(a: &ScheduledAction) -> Value {
    let mut v = Map::new();
    v.insert("ScheduledActionName".into(), a.scheduled_action_name().into());
    v.insert("ScheduledActionARN".into(), a.scheduled_action_arn().into());
    v.insert("ServiceNamespace".into(), a.service_namespace().as_str().into());
    v.insert("Schedule".into(), a.schedule().into());
    put(&mut v, "Timezone", a.timezone());
    v.insert("ResourceId".into(), a.resource_id().into());
    put(&mut v, "ScalableDimension", a.scalable_dimension().map(|d| d.as_str()));
    put(&mut v, "StartTime", a.start_time().map(time));
    put(&mut v, "EndTime", a.end_time().map(time));
    if let Some(t) = a.scalable_target_action() {
        let mut action = Map::new();
        put(&mut action, "MinCapacity", t.min_capacity());
        put(&mut action, "MaxCapacity", t.max_capacity());
        v.insert("ScalableTargetAction".into(), Value::Object(action));
    }
    v.insert("CreationTime".into(), time(a.creation_time()));
    Value::Object(v)
}

fn alarm_json(a: &aws_sdk_cloudwatch::types::MetricAlarm) -> Value {
    let mut v = Map::new();
    put(&mut v, "AlarmName", a.alarm_name());
    put(&mut v, "AlarmArn", a.alarm_arn());
    put(&mut v, "ActionsEnabled", a.actions_enabled());
    v.insert("AlarmActions".into(), a.alarm_actions().to_vec().into());
    v.insert("OKActions".into(), a.ok_actions().to_vec().into());
    v.insert("InsufficientDataActions".into(), a.insufficient_data_actions().to_vec().into());
    put(&mut v, "StateValue", a.state_value().map(|s| s.as_str()));
    put(&mut v, "MetricName", a.metric_name());
    put(&mut v, "Namespace", a.namespace());
    put(&mut v, "Statistic", a.statistic().map(|s| s.as_str()));
    put(&mut v, "ExtendedStatistic", a.extended_statistic());
    if !a.dimensions().is_empty() {
        let dims: Vec<Value> = a.dimensions().iter().map(|d| json!({"Name": d.name(), "Value": d.value()})).collect();
        v.insert("Dimensions".into(), dims.into());
    }
    put(&mut v, "Period", a.period());
    put(&mut v, "Unit", a.unit().map(|u| u.as_str()));
    put(&mut v, "EvaluationPeriods", a.evaluation_periods());
    put(&mut v, "DatapointsToAlarm", a.datapoints_to_alarm());
    put(&mut v, "Threshold", a.threshold());
    put(&mut v, "ComparisonOperator", a.comparison_operator().map(|c| c.as_str()));
    put(&mut v, "TreatMissingData", a.treat_missing_data());
    if !a.metrics().is_empty() {
        let queries: Vec<Value> = a
            .metrics()
            .iter()
            .map(|q| {
                let mut query = Map::new();
                put(&mut query, "Id", q.id());
                put(&mut query, "Expression", q.expression());
                put(&mut query, "Label", q.label());
                put(&mut query, "ReturnData", q.return_data());
                put(&mut query, "Period", q.period());
                if let Some(stat) = q.metric_stat() {
                    let metric = stat.metric().map(|m| {
                        let dims: Vec<Value> =
                            m.dimensions().iter().map(|d| json!({"Name": d.name(), "Value": d.value()})).collect();
                        json!({"Namespace": m.namespace(), "MetricName": m.metric_name(), "Dimensions": dims})
                    });
                    let mut s = Map::new();
                    put(&mut s, "Metric", metric);
                    put(&mut s, "Stat", stat.stat());
                    put(&mut s, "Period", stat.period());
                    put(&mut s, "Unit", stat.unit().map(|u| u.as_str()));
                    query.insert("MetricStat".into(), Value::Object(s));
                }
                Value::Object(query)
            })
            .collect();
        v.insert("Metrics".into(), queries.into());
    }
    Value::Object(v)
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

    fn policy(
        kind: aws_sdk_applicationautoscaling::types::PolicyType,
    ) -> aws_sdk_applicationautoscaling::types::builders::ScalingPolicyBuilder {
        ScalingPolicy::builder()
            .policy_arn(
                "arn:aws:autoscaling:us-east-1:123456789012:scalingPolicy:p:resource/ecs/service/c/s:policyName/p",
            )
            .policy_name("p")
            .service_namespace(ServiceNamespace::Ecs)
            .resource_id("service/c/s")
            .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
            .policy_type(kind)
            .creation_time(DateTime::from_secs(1_767_571_200))
    }

    #[test]
    fn a_predictive_policy_is_kept_with_its_fields_and_validates_with_a_warning() {
        use aws_sdk_applicationautoscaling::types::{
            PolicyType, PredictiveScalingMaxCapacityBreachBehavior, PredictiveScalingMetricSpecification,
            PredictiveScalingMode, PredictiveScalingPredefinedMetricPairSpecification,
        };
        let config = PredictiveScalingPolicyConfiguration::builder()
            .metric_specifications(
                PredictiveScalingMetricSpecification::builder()
                    .target_value(40.0)
                    .predefined_metric_pair_specification(
                        PredictiveScalingPredefinedMetricPairSpecification::builder()
                            .predefined_metric_type("ECSServiceCPUUtilization")
                            .build()
                            .unwrap(),
                    )
                    .build()
                    .unwrap(),
            )
            .mode(PredictiveScalingMode::ForecastAndScale)
            .scheduling_buffer_time(300)
            .max_capacity_breach_behavior(PredictiveScalingMaxCapacityBreachBehavior::IncreaseMaxCapacity)
            .max_capacity_buffer(10)
            .build()
            .unwrap();
        let p = policy(PolicyType::PredictiveScaling).predictive_scaling_policy_configuration(config).build().unwrap();
        let v = policy_json(&p).unwrap();
        assert_eq!(
            v["PredictiveScalingPolicyConfiguration"],
            json!({"MetricSpecifications": [{"TargetValue": 40.0,
                    "PredefinedMetricPairSpecification": {"PredefinedMetricType": "ECSServiceCPUUtilization"}}],
                   "Mode": "ForecastAndScale", "SchedulingBufferTime": 300,
                   "MaxCapacityBreachBehavior": "IncreaseMaxCapacity", "MaxCapacityBuffer": 10})
        );
        let doc = json!({"ScalableTargets": [{"ResourceId": "service/c/s", "MinCapacity": 1, "MaxCapacity": 4}],
                         "ScalingPolicies": [v]});
        let cfg = ecs_autopilot::config::load_str(&doc.to_string()).unwrap();
        assert!(!cfg.warnings.is_empty(), "predictive policies load with a warning");
    }

    #[test]
    fn a_policy_with_no_configuration_is_refused_with_its_reason() {
        let p = policy(aws_sdk_applicationautoscaling::types::PolicyType::StepScaling).build().unwrap();
        assert_eq!(policy_json(&p).unwrap_err(), "a policy type this version does not know (no single configuration)");
    }

    #[test]
    fn a_customized_metric_with_math_keeps_every_query() {
        use aws_sdk_applicationautoscaling::types::{
            TargetTrackingMetric, TargetTrackingMetricDataQuery, TargetTrackingMetricDimension,
            TargetTrackingMetricStat,
        };
        let stat = TargetTrackingMetricStat::builder()
            .metric(
                TargetTrackingMetric::builder()
                    .namespace("AWS/SQS")
                    .metric_name("ApproximateNumberOfMessagesVisible")
                    .dimensions(TargetTrackingMetricDimension::builder().name("QueueName").value("q").build().unwrap())
                    .build(),
            )
            .stat("Sum")
            .build()
            .unwrap();
        let spec = CustomizedMetricSpecification::builder()
            .metrics(
                TargetTrackingMetricDataQuery::builder().id("m1").metric_stat(stat).return_data(false).build().unwrap(),
            )
            .metrics(
                TargetTrackingMetricDataQuery::builder()
                    .id("e1")
                    .expression("m1 / 2")
                    .label("per task")
                    .return_data(true)
                    .build()
                    .unwrap(),
            )
            .build();
        assert_eq!(
            customized_json(&spec),
            json!({"Metrics": [
                {"Id": "m1", "ReturnData": false, "MetricStat": {"Metric": {"Namespace": "AWS/SQS",
                    "MetricName": "ApproximateNumberOfMessagesVisible", "Dimensions": [{"Name": "QueueName", "Value": "q"}]}, "Stat": "Sum"}},
                {"Id": "e1", "Expression": "m1 / 2", "Label": "per task", "ReturnData": true}
            ]})
        );
    }
}
