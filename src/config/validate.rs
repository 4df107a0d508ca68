//! Semantic validation of decoded AWS shapes, following AWS's rules, and their
//! resolution into the [`super::model`] the engine uses. Every problem is
//! collected with its path; nothing is half-built into the result.

use super::aws::{
    CustomizedMetricSpecification, MetricAlarm, ScalableTarget, ScalingPolicy, ScheduledAction, StepAdjustment,
    StepScalingConfiguration, TargetTrackingConfiguration,
};
use super::extensions::{AutopilotSection, DirectionRules, Extensions, TargetExtensions};
use super::model::*;
use super::{join_path, Collector};
use crate::schedule::Schedule;
use std::collections::{BTreeMap, BTreeSet};

/// Default cooldowns for ECS services (aws-behaviour §3.1 and §4.1, R-AAS-API-2021).
pub const DEFAULT_COOLDOWN_SECONDS: u32 = 300;
/// Quotas (aws-behaviour §2.6).
const MAX_POLICIES_PER_TARGET: usize = 50;
const MAX_SCHEDULED_ACTIONS_PER_TARGET: usize = 200;
const MAX_STEP_ADJUSTMENTS: usize = 20;

/// Decoded items, each with its path, before semantic checks.
#[derive(Default)]
pub(crate) struct RawConfig {
    pub(crate) targets: Vec<(String, ScalableTarget)>,
    pub(crate) policies: Vec<(String, ScalingPolicy)>,
    pub(crate) scheduled: Vec<(String, ScheduledAction)>,
    pub(crate) alarms: Vec<(String, MetricAlarm)>,
    pub(crate) autopilot: Option<AutopilotSection>,
}

pub(crate) fn build(raw: RawConfig, c: &mut Collector) -> Config {
    let autopilot = raw.autopilot.unwrap_or_default();
    validate_extensions(&autopilot, c);
    let mut targets = BTreeMap::new();
    // Targets that failed validation: what is attached to them is still
    // checked (against this scratch copy) so no error hides another.
    let mut scratch: BTreeMap<String, TargetConfig> = BTreeMap::new();
    for (path, t) in &raw.targets {
        let Some(target) = scalable_target(path, t, &autopilot, c) else {
            scratch.insert(t.resource_id.clone(), placeholder(&t.resource_id));
            continue;
        };
        {
            if targets.contains_key(&target.resource_id) {
                c.error(
                    join_path(path, "ResourceId"),
                    format!("scalable target {} is registered twice", target.resource_id),
                );
                continue;
            }
            targets.insert(target.resource_id.clone(), target);
        }
    }
    for id in autopilot.targets.keys() {
        if !targets.contains_key(id) {
            c.error(
                format!("Autopilot.Targets.{id}"),
                "no scalable target with this ResourceId is registered under ScalableTargets",
            );
        }
    }
    let alarms_by_name: BTreeMap<&str, (&str, &MetricAlarm)> =
        raw.alarms.iter().map(|(p, a)| (a.alarm_name.as_str(), (p.as_str(), a))).collect();
    let mut tt_metrics: BTreeSet<(String, MetricId)> = BTreeSet::new();
    for (path, p) in &raw.policies {
        let Some(target) = registered(&mut targets, &mut scratch, path, &p.resource_id, c) else { continue };
        check_identity(path, p.service_namespace.as_deref(), p.scalable_dimension.as_deref(), c);
        check_name(&join_path(path, "PolicyName"), &p.policy_name, false, c);
        let duplicate = target
            .target_tracking
            .iter()
            .map(|x| &x.name)
            .chain(target.step.iter().map(|x| &x.name))
            .any(|n| n == &p.policy_name);
        if duplicate {
            c.error(
                join_path(path, "PolicyName"),
                format!("policy {:?} appears twice on {}", p.policy_name, p.resource_id),
            );
            continue;
        }
        match p.policy_type.as_str() {
            "TargetTrackingScaling" => {
                if p.step_scaling_policy_configuration.is_some() {
                    c.error(
                        join_path(path, "StepScalingPolicyConfiguration"),
                        "not allowed with PolicyType TargetTrackingScaling",
                    );
                }
                let Some(cfg) = &p.target_tracking_scaling_policy_configuration else {
                    c.error(
                        join_path(path, "TargetTrackingScalingPolicyConfiguration"),
                        "required when PolicyType is TargetTrackingScaling",
                    );
                    continue;
                };
                let cfg_path = join_path(path, "TargetTrackingScalingPolicyConfiguration");
                if let Some(policy) = target_tracking(&cfg_path, &p.policy_name, cfg, c) {
                    // "provided that each of them uses a different metric" (aws-behaviour §3.1).
                    if !tt_metrics.insert((p.resource_id.clone(), policy.metric.clone())) {
                        c.error(cfg_path, format!("another target tracking policy on {} already tracks {}: each must use a different metric", p.resource_id, policy.metric));
                        continue;
                    }
                    if let Some(query) = super::query::for_target_tracking(&p.resource_id, cfg) {
                        target.queries.insert(policy.metric.clone(), query);
                    }
                    target.target_tracking.push(policy);
                }
            }
            "StepScaling" => {
                if p.target_tracking_scaling_policy_configuration.is_some() {
                    c.error(
                        join_path(path, "TargetTrackingScalingPolicyConfiguration"),
                        "not allowed with PolicyType StepScaling",
                    );
                }
                let Some(cfg) = &p.step_scaling_policy_configuration else {
                    c.error(
                        join_path(path, "StepScalingPolicyConfiguration"),
                        "required when PolicyType is StepScaling",
                    );
                    continue;
                };
                let cfg_path = join_path(path, "StepScalingPolicyConfiguration");
                let alarms = find_alarms(path, p, &alarms_by_name, c);
                if let Some(policy) = step_policy(&cfg_path, &p.policy_name, cfg, c) {
                    // Every alarm that invokes the policy is evaluated, each
                    // on its own metric and threshold (AWS runs the policy
                    // for each alarm in ALARM, aws-behaviour §4.5).
                    for alarm in alarms {
                        if let Some(query) =
                            alarms_by_name.get(alarm.name.as_str()).and_then(|(_, a)| super::query::for_alarm(a))
                        {
                            target.queries.insert(alarm.metric.clone(), query);
                        }
                        target.step.push(StepPolicy { alarm, ..policy.clone() });
                    }
                }
            }
            "PredictiveScaling" => c.warning(
                join_path(path, "PolicyType"),
                "predictive scaling policies are loaded but not evaluated by ecs-autopilot",
            ),
            other => c.error(
                join_path(path, "PolicyType"),
                format!("{other:?} is not one of TargetTrackingScaling, StepScaling, PredictiveScaling"),
            ),
        }
    }
    for (path, a) in &raw.scheduled {
        let Some(target) = registered(&mut targets, &mut scratch, path, &a.resource_id, c) else { continue };
        check_identity(path, a.service_namespace.as_deref(), a.scalable_dimension.as_deref(), c);
        if target.scheduled.iter().any(|s| s.name == a.scheduled_action_name) {
            c.error(
                join_path(path, "ScheduledActionName"),
                format!(
                    "scheduled action {:?} appears twice on {}: names are unique per scalable target",
                    a.scheduled_action_name, a.resource_id
                ),
            );
            continue;
        }
        if let Some(action) = scheduled_action(path, a, c) {
            target.scheduled.push(action);
        }
    }
    for target in targets.values() {
        let policies = target.target_tracking.len() + target.step.len();
        if policies > MAX_POLICIES_PER_TARGET {
            c.error(
                format!("ScalingPolicies ({})", target.resource_id),
                format!("{policies} policies exceed AWS's quota of {MAX_POLICIES_PER_TARGET} per scalable target"),
            );
        }
        if target.scheduled.len() > MAX_SCHEDULED_ACTIONS_PER_TARGET {
            c.error(
                format!("ScheduledActions ({})", target.resource_id),
                format!(
                    "{} scheduled actions exceed AWS's quota of {MAX_SCHEDULED_ACTIONS_PER_TARGET} per scalable target",
                    target.scheduled.len()
                ),
            );
        }
    }
    Config { targets, warnings: Vec::new(), capacity: autopilot.capacity }
}

fn registered<'a>(
    targets: &'a mut BTreeMap<String, TargetConfig>,
    scratch: &'a mut BTreeMap<String, TargetConfig>,
    path: &str,
    id: &str,
    c: &mut Collector,
) -> Option<&'a mut TargetConfig> {
    if let Some(found) = targets.get_mut(id) {
        return Some(found);
    }
    let found = scratch.get_mut(id);
    if found.is_none() {
        c.error(
            join_path(path, "ResourceId"),
            format!("{id:?} is not a registered scalable target (add it under ScalableTargets)"),
        );
    }
    found
}

fn placeholder(resource_id: &str) -> TargetConfig {
    TargetConfig {
        resource_id: resource_id.to_owned(),
        min_capacity: 0,
        max_capacity: 0,
        suspended: Default::default(),
        target_tracking: Vec::new(),
        step: Vec::new(),
        scheduled: Vec::new(),
        extensions: Extensions::default(),
        queries: BTreeMap::new(),
    }
}

fn check_identity(path: &str, namespace: Option<&str>, dimension: Option<&str>, c: &mut Collector) {
    if let Some(ns) = namespace.filter(|ns| *ns != "ecs") {
        c.error(
            join_path(path, "ServiceNamespace"),
            format!("{ns:?}: ecs-autopilot scales ECS services only (\"ecs\")"),
        );
    }
    if let Some(d) = dimension.filter(|d| *d != "ecs:service:DesiredCount") {
        c.error(join_path(path, "ScalableDimension"), format!("{d:?}: expected \"ecs:service:DesiredCount\""));
    }
}

/// Policy and scheduled-action names: 1–256 characters, no control characters;
/// scheduled actions also forbid `:`, `/`, `|` and surrounding spaces (aws-behaviour §5.1).
fn check_name(path: &str, name: &str, scheduled: bool, c: &mut Collector) {
    let length = name.chars().count();
    if !(1..=256).contains(&length) {
        c.error(path, format!("must be 1 to 256 characters, found {length}"));
    } else if name.chars().any(char::is_control) {
        c.error(path, "must not contain control characters");
    } else if scheduled && name.contains([':', '/', '|']) {
        c.error(path, format!("{name:?} must not contain ':', '/' or '|'"));
    } else if scheduled && name.trim() != name {
        c.error(path, format!("{name:?} must not start or end with a space"));
    }
}

fn scalable_target(
    path: &str,
    t: &ScalableTarget,
    autopilot: &AutopilotSection,
    c: &mut Collector,
) -> Option<TargetConfig> {
    let before = c.issues.len();
    check_identity(path, t.service_namespace.as_deref(), t.scalable_dimension.as_deref(), c);
    let parts: Vec<&str> = t.resource_id.split('/').collect();
    if parts.len() != 3 || parts[0] != "service" || parts[1].is_empty() || parts[2].is_empty() {
        c.error(
            join_path(path, "ResourceId"),
            format!("{:?} must be service/<cluster-name>/<service-name>", t.resource_id),
        );
    }
    let min = capacity(&join_path(path, "MinCapacity"), t.min_capacity, c);
    let max = capacity(&join_path(path, "MaxCapacity"), t.max_capacity, c);
    if let (Some(min), Some(max)) = (min, max) {
        if min > max {
            c.error(join_path(path, "MinCapacity"), format!("{min} is greater than MaxCapacity {max}"));
        }
    }
    if c.issues.len() > before {
        return None;
    }
    Some(TargetConfig {
        resource_id: t.resource_id.clone(),
        min_capacity: min?,
        max_capacity: max?,
        suspended: t.suspended_state.unwrap_or_default(),
        target_tracking: Vec::new(),
        step: Vec::new(),
        scheduled: Vec::new(),
        extensions: Extensions::resolve(&autopilot.defaults, autopilot.targets.get(&t.resource_id)),
        queries: BTreeMap::new(),
    })
}

fn capacity(path: &str, value: i64, c: &mut Collector) -> Option<u32> {
    match u32::try_from(value) {
        Ok(v) => Some(v),
        Err(_) => {
            c.error(path, format!("{value} must be a whole number of tasks from 0 to {}", u32::MAX));
            None
        }
    }
}

fn cooldown(path: &str, value: Option<i64>, c: &mut Collector) -> u32 {
    // The API's cooldowns are 32-bit integers.
    match value.map(|v| u32::try_from(v).ok().filter(|v| i32::try_from(*v).is_ok())) {
        None => DEFAULT_COOLDOWN_SECONDS,
        Some(Some(v)) => v,
        Some(None) => {
            c.error(
                path,
                format!("{} must be a whole number of seconds from 0 to {}", value.unwrap_or_default(), i32::MAX),
            );
            DEFAULT_COOLDOWN_SECONDS
        }
    }
}

fn target_tracking(
    path: &str,
    name: &str,
    cfg: &TargetTrackingConfiguration,
    c: &mut Collector,
) -> Option<TargetTrackingPolicy> {
    let before = c.issues.len();
    // AWS accepts ±2^360; the proportional formula (aws-behaviour §3.6) divides by the
    // target, so it must be a positive, finite number.
    if !(cfg.target_value.is_finite() && cfg.target_value > 0.0) {
        c.error(
            join_path(path, "TargetValue"),
            format!("{} must be a positive number (the policy keeps metric / target near 1)", cfg.target_value),
        );
    }
    let scale_out = cooldown(&join_path(path, "ScaleOutCooldown"), cfg.scale_out_cooldown, c);
    let scale_in = cooldown(&join_path(path, "ScaleInCooldown"), cfg.scale_in_cooldown, c);
    let (metric, predefined) = match (&cfg.predefined_metric_specification, &cfg.customized_metric_specification) {
        (Some(_), Some(_)) | (None, None) => {
            c.error(path, "exactly one of PredefinedMetricSpecification and CustomizedMetricSpecification is required");
            return None;
        }
        (Some(p), None) => {
            let p_path = join_path(path, "PredefinedMetricSpecification");
            let Some(kind) = PredefinedMetric::parse(&p.predefined_metric_type) else {
                c.error(join_path(&p_path, "PredefinedMetricType"), format!("{:?} is not an ECS metric type (ECSServiceAverageCPUUtilization, ECSServiceAverageMemoryUtilization, ALBRequestCountPerTarget, or a HighResolution variant)", p.predefined_metric_type));
                return None;
            };
            let label_path = join_path(&p_path, "ResourceLabel");
            let id = match (kind, p.resource_label.as_deref()) {
                (PredefinedMetric::ALBRequestCountPerTarget, Some(label)) => {
                    check_resource_label(&label_path, label, c);
                    format!("ALBRequestCountPerTarget:{label}")
                }
                (PredefinedMetric::ALBRequestCountPerTarget, None) => {
                    c.error(
                        label_path,
                        "required for ALBRequestCountPerTarget (app/<lb-name>/<lb-id>/targetgroup/<tg-name>/<tg-id>)",
                    );
                    return None;
                }
                (_, Some(_)) => {
                    c.error(label_path, "only allowed with ALBRequestCountPerTarget (docs/aws-behaviour.md §3.2)");
                    return None;
                }
                (_, None) => p.predefined_metric_type.clone(),
            };
            (MetricId(id), Some(kind))
        }
        (None, Some(m)) => (customized_metric(&join_path(path, "CustomizedMetricSpecification"), name, m, c)?, None),
    };
    (c.issues.len() == before).then(|| TargetTrackingPolicy {
        name: name.to_owned(),
        metric,
        predefined,
        target_value: cfg.target_value,
        scale_out_cooldown_seconds: scale_out,
        scale_in_cooldown_seconds: scale_in,
        disable_scale_in: cfg.disable_scale_in.unwrap_or(false),
    })
}

fn check_resource_label(path: &str, label: &str, c: &mut Collector) {
    let parts: Vec<&str> = label.split('/').collect();
    let ok = parts.len() == 6 && parts[0] == "app" && parts[3] == "targetgroup" && parts.iter().all(|p| !p.is_empty());
    if !ok || label.len() > 1023 {
        c.error(path, format!("{label:?} must be app/<load-balancer-name>/<load-balancer-id>/targetgroup/<target-group-name>/<target-group-id> (at most 1023 characters)"));
    }
}

const STATISTICS: [&str; 5] = ["Average", "Minimum", "Maximum", "SampleCount", "Sum"];

fn customized_metric(
    path: &str,
    owner: &str,
    m: &CustomizedMetricSpecification,
    c: &mut Collector,
) -> Option<MetricId> {
    if let Some(queries) = &m.metrics {
        if m.metric_name.is_some() || m.namespace.is_some() || m.statistic.is_some() {
            c.error(path, "use either Metrics (metric math) or MetricName/Namespace/Statistic, not both");
            return None;
        }
        return check_queries(&join_path(path, "Metrics"), queries, c).then(|| MetricId(format!("math:{owner}")));
    }
    let (Some(name), Some(namespace), Some(statistic)) = (&m.metric_name, &m.namespace, &m.statistic) else {
        c.error(path, "MetricName, Namespace and Statistic are required (or Metrics for metric math)");
        return None;
    };
    if !STATISTICS.contains(&statistic.as_str()) {
        c.error(
            join_path(path, "Statistic"),
            format!("{statistic:?} is not one of Average, Minimum, Maximum, SampleCount, Sum"),
        );
        return None;
    }
    Some(MetricId::single(namespace, name, m.dimensions.as_deref().unwrap_or_default(), statistic))
}

fn check_queries(path: &str, queries: &[super::aws::MetricDataQuery], c: &mut Collector) -> bool {
    let before = c.issues.len();
    if queries.is_empty() {
        c.error(path, "must hold at least one query");
    }
    for (i, q) in queries.iter().enumerate() {
        let q_path = format!("{path}[{i}]");
        let mut chars = q.id.chars();
        let id_ok = chars.next().is_some_and(|ch| ch.is_ascii_lowercase())
            && chars.all(|ch| ch.is_ascii_alphanumeric() || ch == '_');
        if !id_ok {
            c.error(
                join_path(&q_path, "Id"),
                format!("{:?} must start with a lowercase letter and hold only letters, digits and _", q.id),
            );
        }
        if q.expression.is_some() == q.metric_stat.is_some() {
            c.error(&q_path, "exactly one of Expression and MetricStat is required");
        }
    }
    let returning = queries.iter().filter(|q| q.return_data.unwrap_or(true)).count();
    if queries.len() > 1 && returning != 1 {
        c.error(path, format!("exactly one query must have ReturnData true (the final expression), found {returning}"));
    }
    c.issues.len() == before
}

fn step_policy(path: &str, name: &str, cfg: &StepScalingConfiguration, c: &mut Collector) -> Option<StepPolicy> {
    let before = c.issues.len();
    let adjustment_type = match cfg.adjustment_type.as_deref() {
        Some("ChangeInCapacity") => AdjustmentType::ChangeInCapacity,
        Some("PercentChangeInCapacity") => AdjustmentType::PercentChangeInCapacity,
        Some("ExactCapacity") => AdjustmentType::ExactCapacity,
        Some(other) => {
            c.error(
                join_path(path, "AdjustmentType"),
                format!("{other:?} is not one of ChangeInCapacity, PercentChangeInCapacity, ExactCapacity"),
            );
            return None;
        }
        None => {
            c.error(join_path(path, "AdjustmentType"), "required");
            return None;
        }
    };
    let aggregation = match cfg.metric_aggregation_type.as_deref() {
        None | Some("Average") => Aggregation::Average,
        Some("Minimum") => Aggregation::Minimum,
        Some("Maximum") => Aggregation::Maximum,
        Some(other) => {
            c.error(
                join_path(path, "MetricAggregationType"),
                format!("{other:?} is not one of Average, Minimum, Maximum"),
            );
            Aggregation::Average
        }
    };
    let magnitude = match cfg.min_adjustment_magnitude {
        None => None,
        Some(m) if adjustment_type != AdjustmentType::PercentChangeInCapacity => {
            c.error(
                join_path(path, "MinAdjustmentMagnitude"),
                format!("{m}: only valid with AdjustmentType PercentChangeInCapacity (docs/aws-behaviour.md §4.1)"),
            );
            None
        }
        Some(m) => match u32::try_from(m) {
            Ok(v) if v >= 1 => Some(v),
            _ => {
                c.error(join_path(path, "MinAdjustmentMagnitude"), format!("{m} must be a whole number ≥ 1"));
                None
            }
        },
    };
    let cooldown_seconds = cooldown(&join_path(path, "Cooldown"), cfg.cooldown, c);
    let steps_path = join_path(path, "StepAdjustments");
    let steps = match cfg.step_adjustments.as_deref() {
        None | Some([]) => {
            c.error(&steps_path, "at least one step adjustment is required");
            Vec::new()
        }
        Some(steps) => check_steps(&steps_path, steps, adjustment_type, c),
    };
    (c.issues.len() == before).then(|| StepPolicy {
        name: name.to_owned(),
        adjustment_type,
        steps,
        min_adjustment_magnitude: magnitude,
        cooldown_seconds,
        aggregation,
        // Replaced by the caller with the alarm that drives the policy.
        alarm: AlarmSpec {
            name: String::new(),
            metric: MetricId(String::new()),
            period_seconds: 60,
            evaluation_periods: 1,
            datapoints_to_alarm: 1,
            threshold: 0.0,
            comparison: Comparison::GreaterThanThreshold,
            treat_missing: TreatMissing::Missing,
        },
    })
}

/// Step bounds rules (aws-behaviour §4.2): no overlaps or gaps, at most one open end
/// each side, a negative lower bound needs an open-below step, a positive
/// upper bound needs an open-above step, and never both ends open.
fn check_steps(path: &str, steps: &[StepAdjustment], kind: AdjustmentType, c: &mut Collector) -> Vec<StepInterval> {
    if steps.len() > MAX_STEP_ADJUSTMENTS {
        c.error(path, format!("{} step adjustments exceed AWS's quota of {MAX_STEP_ADJUSTMENTS}", steps.len()));
    }
    let mut intervals = Vec::new();
    for (i, s) in steps.iter().enumerate() {
        let p = format!("{path}[{i}]");
        let (lower, upper) = (s.metric_interval_lower_bound, s.metric_interval_upper_bound);
        match (lower, upper) {
            (None, None) => c.error(&p, "MetricIntervalLowerBound and MetricIntervalUpperBound cannot both be null"),
            (Some(l), Some(u)) if u <= l => c.error(
                join_path(&p, "MetricIntervalUpperBound"),
                format!("{u} must be greater than the lower bound {l}"),
            ),
            _ => {}
        }
        // The API's ScalingAdjustment is a 32-bit integer; a larger value
        // would otherwise wrap in the capacity arithmetic.
        if i32::try_from(s.scaling_adjustment).is_err() {
            c.error(
                join_path(&p, "ScalingAdjustment"),
                format!("{} is outside AWS's range (a 32-bit integer)", s.scaling_adjustment),
            );
        }
        if kind == AdjustmentType::ExactCapacity && s.scaling_adjustment < 0 {
            c.error(
                join_path(&p, "ScalingAdjustment"),
                format!("{} must be ≥ 0 with ExactCapacity", s.scaling_adjustment),
            );
        }
        intervals.push(StepInterval { lower, upper, adjustment: s.scaling_adjustment });
    }
    let open_below = intervals.iter().filter(|s| s.lower.is_none()).count();
    let open_above = intervals.iter().filter(|s| s.upper.is_none()).count();
    if open_below > 1 {
        c.error(path, "at most one step may have a null MetricIntervalLowerBound");
    }
    if open_above > 1 {
        c.error(path, "at most one step may have a null MetricIntervalUpperBound");
    }
    if open_below == 0 && intervals.iter().any(|s| s.lower.is_some_and(|l| l < 0.0)) {
        c.error(path, "a step has a negative lower bound, so one step must have a null MetricIntervalLowerBound");
    }
    if open_above == 0 && intervals.iter().any(|s| s.upper.is_some_and(|u| u > 0.0)) {
        c.error(path, "a step has a positive upper bound, so one step must have a null MetricIntervalUpperBound");
    }
    let mut sorted = intervals.clone();
    sorted.sort_by(|a, b| a.lower.unwrap_or(f64::NEG_INFINITY).total_cmp(&b.lower.unwrap_or(f64::NEG_INFINITY)));
    for pair in sorted.windows(2) {
        let (end, start) = (pair[0].upper.unwrap_or(f64::INFINITY), pair[1].lower.unwrap_or(f64::NEG_INFINITY));
        if end > start {
            c.error(path, format!("step ranges overlap: one ends at {end}, the next starts at {start}"));
        } else if end < start {
            c.error(path, format!("step ranges leave a gap between {end} and {start}"));
        }
    }
    sorted
}

/// Every alarm that drives this policy: those whose AlarmActions name its
/// ARN and those its `Alarms` list names (each once, in that order). An
/// alarm the list names that is not under MetricAlarms is an error: it
/// would otherwise be dropped silently.
fn find_alarms(
    path: &str,
    p: &ScalingPolicy,
    alarms: &BTreeMap<&str, (&str, &MetricAlarm)>,
    c: &mut Collector,
) -> Vec<AlarmSpec> {
    let mut found: Vec<(&str, &MetricAlarm)> = match p.policy_arn.as_deref() {
        Some(arn) => alarms
            .values()
            .filter(|(_, a)| a.alarm_actions.as_deref().unwrap_or_default().iter().any(|x| x == arn))
            .copied()
            .collect(),
        None => Vec::new(),
    };
    for (k, r) in p.alarms.as_deref().unwrap_or_default().iter().enumerate() {
        match alarms.get(r.alarm_name.as_str()) {
            Some(hit) if found.iter().any(|(_, a)| a.alarm_name == hit.1.alarm_name) => {}
            Some(hit) => found.push(*hit),
            None => c.error(
                join_path(&join_path(path, "Alarms"), &format!("[{k}]")),
                format!("alarm {:?} drives step policy {:?} but is not under MetricAlarms: add its `aws cloudwatch describe-alarms` entry", r.alarm_name, p.policy_name),
            ),
        }
    }
    if found.is_empty() && p.alarms.as_deref().unwrap_or_default().is_empty() {
        c.error(join_path(path, "Alarms"), format!("no CloudWatch alarm drives step policy {:?}: add it under MetricAlarms (from `aws cloudwatch describe-alarms`) with the policy ARN in AlarmActions, or name it in the policy's Alarms", p.policy_name));
    }
    found.into_iter().filter_map(|(alarm_path, alarm)| alarm_spec(alarm_path, alarm, c)).collect()
}

fn alarm_spec(path: &str, a: &MetricAlarm, c: &mut Collector) -> Option<AlarmSpec> {
    let before = c.issues.len();
    let period = a
        .period
        .or_else(|| {
            a.metrics.as_ref().and_then(|m| m.iter().find_map(|q| q.metric_stat.as_ref().and_then(|s| s.period)))
        })
        .unwrap_or(60);
    // CloudWatch accepts 10, 20, 30 s or a multiple of 60 (aws-behaviour §16 item 3).
    if !(matches!(period, 10 | 20 | 30) || (period > 0 && period % 60 == 0)) {
        c.error(join_path(path, "Period"), format!("{period} must be 10, 20, 30 or a multiple of 60 seconds"));
    }
    let evaluation_periods = u32::try_from(a.evaluation_periods).ok().filter(|n| *n >= 1);
    if evaluation_periods.is_none() {
        c.error(join_path(path, "EvaluationPeriods"), format!("{} must be ≥ 1", a.evaluation_periods));
    }
    // CloudWatch: an alarm evaluates at most one day of periods
    // (EvaluationPeriods × Period ≤ 86,400 s, docs/configuration.md).
    if let Some(n) = evaluation_periods {
        if i128::from(n) * i128::from(period) > 86_400 {
            c.error(
                join_path(path, "EvaluationPeriods"),
                format!("{n} periods of {period} s exceed CloudWatch's one-day evaluation range (86,400 s)"),
            );
        }
    }
    let datapoints = a.datapoints_to_alarm.unwrap_or(a.evaluation_periods);
    if datapoints < 1 || datapoints > a.evaluation_periods {
        c.error(
            join_path(path, "DatapointsToAlarm"),
            format!("{datapoints} must be from 1 to EvaluationPeriods ({})", a.evaluation_periods),
        );
    }
    let comparison = Comparison::parse(&a.comparison_operator);
    if comparison.is_none() {
        c.error(join_path(path, "ComparisonOperator"), format!("{:?} is not supported: use GreaterThanOrEqualToThreshold, GreaterThanThreshold, LessThanThreshold or LessThanOrEqualToThreshold", a.comparison_operator));
    }
    let threshold = a.threshold;
    if threshold.is_none() {
        c.error(join_path(path, "Threshold"), "required (anomaly-detection alarms are not supported)");
    }
    let treat_missing = match a.treat_missing_data.as_deref() {
        None | Some("missing") => TreatMissing::Missing,
        Some("notBreaching") => TreatMissing::NotBreaching,
        Some("breaching") => TreatMissing::Breaching,
        Some("ignore") => TreatMissing::Ignore,
        Some(other) => {
            c.error(
                join_path(path, "TreatMissingData"),
                format!("{other:?} is not one of missing, notBreaching, breaching, ignore"),
            );
            TreatMissing::Missing
        }
    };
    let metric = match (&a.metrics, &a.metric_name, &a.namespace) {
        (Some(queries), None, None) => {
            check_queries(&join_path(path, "Metrics"), queries, c).then(|| MetricId(format!("math:{}", a.alarm_name)))
        }
        (None, Some(name), Some(ns)) => {
            let stat = a.statistic.clone().or_else(|| a.extended_statistic.clone());
            match stat {
                Some(stat) => Some(MetricId::single(ns, name, a.dimensions.as_deref().unwrap_or_default(), &stat)),
                None => {
                    c.error(join_path(path, "Statistic"), "Statistic or ExtendedStatistic is required");
                    None
                }
            }
        }
        _ => {
            c.error(path, "an alarm needs MetricName and Namespace, or Metrics (metric math), not both");
            None
        }
    };
    if c.issues.len() > before {
        return None;
    }
    Some(AlarmSpec {
        name: a.alarm_name.clone(),
        metric: metric?,
        period_seconds: u32::try_from(period).ok()?,
        evaluation_periods: evaluation_periods?,
        datapoints_to_alarm: u32::try_from(datapoints).ok()?,
        threshold: threshold?,
        comparison: comparison?,
        treat_missing,
    })
}

fn scheduled_action(path: &str, a: &ScheduledAction, c: &mut Collector) -> Option<ScheduledActionConfig> {
    let before = c.issues.len();
    check_name(&join_path(path, "ScheduledActionName"), &a.scheduled_action_name, true, c);
    if a.schedule.chars().count() > 1600 {
        c.error(join_path(path, "Schedule"), "must be at most 1600 characters");
    }
    // The zone is checked on its own so a bad zone and a bad expression are
    // both reported.
    let zone_ok = match crate::schedule::time_zone(a.timezone.as_deref().unwrap_or("UTC")) {
        Ok(_) => true,
        Err(e) => {
            c.error(join_path(path, "Timezone"), e.to_string());
            false
        }
    };
    let schedule = Schedule::new(
        &a.schedule,
        a.timezone.as_deref(),
        a.start_time.as_ref().map(|t| t.instant()),
        a.end_time.as_ref().map(|t| t.instant()),
    );
    let schedule = match schedule {
        Ok(s) => Some(s.anchored_at(a.creation_time.as_ref().map(|t| t.instant()))),
        Err(crate::schedule::ScheduleError::UnknownTimeZone(_)) if !zone_ok => None,
        Err(e) => {
            let field = match e {
                crate::schedule::ScheduleError::UnknownTimeZone(_) => "Timezone",
                crate::schedule::ScheduleError::EndBeforeStart { .. } => "EndTime",
                _ => "Schedule",
            };
            c.error(join_path(path, field), e.to_string());
            None
        }
    };
    let action_path = join_path(path, "ScalableTargetAction");
    let (mut min, mut max) = (None, None);
    match &a.scalable_target_action {
        None | Some(super::aws::ScalableTargetAction { min_capacity: None, max_capacity: None }) => {
            c.error(&action_path, "set MinCapacity, MaxCapacity or both");
        }
        Some(action) => {
            min = action.min_capacity.and_then(|v| capacity(&join_path(&action_path, "MinCapacity"), v, c));
            max = action.max_capacity.and_then(|v| capacity(&join_path(&action_path, "MaxCapacity"), v, c));
            if let (Some(lo), Some(hi)) = (min, max) {
                if lo > hi {
                    c.error(join_path(&action_path, "MinCapacity"), format!("{lo} is greater than MaxCapacity {hi}"));
                }
            }
        }
    }
    if c.issues.len() > before {
        return None;
    }
    Some(ScheduledActionConfig {
        name: a.scheduled_action_name.clone(),
        schedule: schedule?,
        expression: a.schedule.clone(),
        min_capacity: min,
        max_capacity: max,
    })
}

fn validate_extensions(section: &AutopilotSection, c: &mut Collector) {
    let mut check = |path: String, t: &TargetExtensions| {
        if let Some(tol) = t.tolerance {
            if !(0.0..1.0).contains(&tol) {
                c.error(join_path(&path, "Tolerance"), format!("{tol} must be ≥ 0 and < 1"));
            }
        }
        for (name, rules) in [("ScaleOut", &t.scale_out), ("ScaleIn", &t.scale_in)] {
            if let Some(rules) = rules {
                check_direction(&join_path(&path, name), rules, c);
            }
        }
        if t.task_warmup_seconds.is_some() {
            c.error(
                join_path(&path, "TaskWarmupSeconds"),
                "no longer supported: it needs per-task metric samples, which the deployed controller cannot \
                 read (ECS publishes service averages), so it never applied in Lambda; delete the key \
                 (docs/configuration.md)",
            );
        }
        if t.max_scale_in_per_evaluation == Some(0) {
            c.error(
                join_path(&path, "MaxScaleInPerEvaluation"),
                "0 would forbid scale-in: use SuspendedState.DynamicScalingInSuspended instead",
            );
        }
        if let Some(a) = &t.alarm_emulation {
            let p = join_path(&path, "AlarmEmulation");
            if let Some(r) = a.low_threshold_ratio.filter(|r| !(*r > 0.0 && *r <= 1.0)) {
                c.error(join_path(&p, "LowThresholdRatio"), format!("{r} must be > 0 and ≤ 1"));
            }
            for (field, n) in [
                ("PeriodSeconds", a.period_seconds),
                ("HighEvaluationPeriods", a.high_evaluation_periods),
                ("HighDatapointsToAlarm", a.high_datapoints_to_alarm),
                ("LowEvaluationPeriods", a.low_evaluation_periods),
                ("LowDatapointsToAlarm", a.low_datapoints_to_alarm),
            ] {
                if n == Some(0) {
                    c.error(join_path(&p, field), "must be ≥ 1");
                }
            }
        }
    };
    check("Autopilot.Defaults".into(), &section.defaults);
    for (id, t) in &section.targets {
        check(format!("Autopilot.Targets.{id}"), t);
    }
    let budget = section.capacity.disruption_budget.values();
    for ((key, min, max), value) in super::extensions::DISRUPTION_RANGES.into_iter().zip(budget) {
        if let Some(v) = value.filter(|v| !(min..=max).contains(v)) {
            c.error(format!("Autopilot.Capacity.DisruptionBudget.{key}"), format!("{v} must be from {min} to {max}"));
        }
    }
}

fn check_direction(path: &str, rules: &DirectionRules, c: &mut Collector) {
    for (i, p) in rules.policies.iter().enumerate() {
        let pp = format!("{path}.Policies[{i}]");
        if p.value == 0 {
            c.error(join_path(&pp, "Value"), "must be ≥ 1 (use SelectPolicy: Disabled to forbid changes)");
        }
        if p.period_seconds == 0 || p.period_seconds > 1800 {
            c.error(join_path(&pp, "PeriodSeconds"), format!("{} must be from 1 to 1800", p.period_seconds));
        }
    }
    if rules.stabilization_window_seconds.is_some_and(|w| w > 3600) {
        c.error(join_path(path, "StabilizationWindowSeconds"), "must be at most 3600");
    }
}
