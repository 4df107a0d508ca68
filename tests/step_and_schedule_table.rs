//! Named table cases for step scaling (aws-behaviour §4) and scheduled actions (aws-behaviour §5).

mod common;

use common::*;
use ecs_autopilot::decision::{Action, Block, Reason};

const QUEUE: &str = "Custom/App/Load{}:Average";

/// A step policy driven by a 1-of-1 alarm `> 50` on Custom/App Load.
fn step_target(min: u32, max: u32, adjustment: &str, steps: &str, extra: &str) -> ecs_autopilot::config::TargetConfig {
    target(&format!(
        r#"
ScalableTargets:
  - {{ResourceId: service/c/web, MinCapacity: {min}, MaxCapacity: {max}}}
ScalingPolicies:
  - PolicyName: load-out
    ResourceId: service/c/web
    PolicyType: StepScaling
    PolicyARN: arn:policy/load-out
    StepScalingPolicyConfiguration:
      AdjustmentType: {adjustment}
      Cooldown: 300
{extra}      StepAdjustments:
{steps}
MetricAlarms:
  - {{AlarmName: load-high, MetricName: Load, Namespace: Custom/App, Statistic: Average, Period: 60, EvaluationPeriods: 1, Threshold: 50, ComparisonOperator: GreaterThanThreshold, AlarmActions: [arn:policy/load-out]}}
"#
    ))
}

/// The documented worked example (aws-behaviour §4.2): threshold 50, percent steps.
fn documented_example() -> ecs_autopilot::config::TargetConfig {
    let steps = "        - {MetricIntervalLowerBound: 0, MetricIntervalUpperBound: 10, ScalingAdjustment: 0}\n        - {MetricIntervalLowerBound: 10, MetricIntervalUpperBound: 20, ScalingAdjustment: 10}\n        - {MetricIntervalLowerBound: 20, ScalingAdjustment: 30}";
    step_target(1, 100, "PercentChangeInCapacity", steps, "")
}

#[test]
fn s4_2_documented_worked_example_scale_out_steps() {
    // Metric 60 → +10 % of 10 = 1 → 11.
    let d = Harness::new(documented_example()).step(59, &observe(10, 10, &[(QUEUE, minutes(0, &[60.0]))]));
    assert_eq!((d.desired, &d.reason), (11, &Reason::ScaledOut { policy: "load-out".into() }));
    // Metric 70 with 11 running → +30 % of 11 = 3.3 → 3 → 14.
    let d = Harness::new(documented_example()).step(59, &observe(11, 11, &[(QUEUE, minutes(0, &[70.0]))]));
    assert_eq!(d.desired, 14);
    // Metric 55: inside [0, 10) → 0: no change.
    let d = Harness::new(documented_example()).step(59, &observe(10, 10, &[(QUEUE, minutes(0, &[55.0]))]));
    assert_eq!((d.desired, &d.reason), (10, &Reason::NoChange));
}

#[test]
fn s4_2_documented_worked_example_scale_in_steps() {
    // Scale-in alarm `< 50` with the documented negative steps.
    let cfg = target(
        r#"
ScalableTargets:
  - {ResourceId: service/c/web, MinCapacity: 1, MaxCapacity: 100}
ScalingPolicies:
  - PolicyName: load-in
    ResourceId: service/c/web
    PolicyType: StepScaling
    Alarms: [{AlarmName: load-low}]
    StepScalingPolicyConfiguration:
      AdjustmentType: PercentChangeInCapacity
      StepAdjustments:
        - {MetricIntervalLowerBound: -10, MetricIntervalUpperBound: 0, ScalingAdjustment: 0}
        - {MetricIntervalLowerBound: -20, MetricIntervalUpperBound: -10, ScalingAdjustment: -10}
        - {MetricIntervalUpperBound: -20, ScalingAdjustment: -30}
MetricAlarms:
  - {AlarmName: load-low, MetricName: Load, Namespace: Custom/App, Statistic: Average, Period: 60, EvaluationPeriods: 1, Threshold: 50, ComparisonOperator: LessThanThreshold}
"#,
    );
    // 40 with 14 → −10 % of 14 = −1.4 → −1 → 13.
    let d = Harness::new(cfg.clone()).step(59, &observe(14, 14, &[(QUEUE, minutes(0, &[40.0]))]));
    assert_eq!((d.desired, &d.reason), (13, &Reason::ScaledIn { policy: "load-in".into() }));
    // 30 with 13 → −30 % of 13 = −3.9 → −3 → 10.
    let d = Harness::new(cfg.clone()).step(59, &observe(13, 13, &[(QUEUE, minutes(0, &[30.0]))]));
    assert_eq!(d.desired, 10);
    // Exactly −10 below the threshold (40) belongs to (−20, −10]: −10 %.
    let d = Harness::new(cfg).step(59, &observe(20, 20, &[(QUEUE, minutes(0, &[40.0]))]));
    assert_eq!(d.desired, 18);
}

#[test]
fn s4_3_percent_rounding_and_min_adjustment_magnitude() {
    let steps = "        - {MetricIntervalLowerBound: 0, ScalingAdjustment: 25}";
    // 25 % of 4 = 1, MinAdjustmentMagnitude 2 → +2 (documented example).
    let cfg = step_target(1, 100, "PercentChangeInCapacity", steps, "      MinAdjustmentMagnitude: 2\n");
    assert_eq!(Harness::new(cfg).step(59, &observe(4, 4, &[(QUEUE, minutes(0, &[60.0]))])).desired, 6);
    // Without it: 25 % of 2 = 0.5 → 1 (0 < x < 1 rounds to 1).
    let cfg = step_target(1, 100, "PercentChangeInCapacity", steps, "");
    assert_eq!(Harness::new(cfg).step(59, &observe(2, 2, &[(QUEUE, minutes(0, &[60.0]))])).desired, 3);
}

#[test]
fn s4_3_exact_and_change_in_capacity() {
    let exact =
        step_target(1, 100, "ExactCapacity", "        - {MetricIntervalLowerBound: 0, ScalingAdjustment: 12}", "");
    assert_eq!(Harness::new(exact).step(59, &observe(5, 5, &[(QUEUE, minutes(0, &[51.0]))])).desired, 12);
    let change =
        step_target(1, 7, "ChangeInCapacity", "        - {MetricIntervalLowerBound: 0, ScalingAdjustment: 4}", "");
    let d = Harness::new(change).step(59, &observe(5, 5, &[(QUEUE, minutes(0, &[51.0]))]));
    assert_eq!(d.desired, 7, "clamped to MaxCapacity (aws-behaviour §2.2)");
}

#[test]
fn s4_4_during_cooldown_the_earlier_increase_counts_toward_the_next_step() {
    // Documented: +2, then during the cooldown a +3 step adds only 1.
    let steps = "        - {MetricIntervalLowerBound: 0, MetricIntervalUpperBound: 20, ScalingAdjustment: 2}\n        - {MetricIntervalLowerBound: 20, ScalingAdjustment: 3}";
    let mut h = Harness::new(step_target(1, 100, "ChangeInCapacity", steps, ""));
    let d = h.step(59, &observe(10, 10, &[(QUEUE, minutes(0, &[55.0]))]));
    assert_eq!(d.desired, 12);
    // Two of the new tasks are running; the alarm re-fires a minute later at
    // the +3 step: 10 + 3 = 13, one more task.
    let d = h.step(119, &observe(12, 12, &[(QUEUE, minutes(0, &[55.0, 80.0]))]));
    assert_eq!((d.desired, &d.reason), (13, &Reason::ScaledOut { policy: "load-out".into() }));
    // Same step again inside the cooldown: 10 + 3 = 13 ≤ 13, blocked.
    let d = h.step(179, &observe(13, 13, &[(QUEUE, minutes(0, &[55.0, 80.0, 80.0]))]));
    assert_eq!((d.desired, &d.reason), (13, &Reason::Blocked));
    assert!(matches!(d.blocked_by[..], [Block::ScaleOutCooldown { .. }]));
    // After the cooldown the step applies to the running count again.
    let d = h.step(59 + 301, &observe(13, 13, &[(QUEUE, minutes(0, &[55.0, 80.0, 80.0, 80.0, 80.0, 80.0]))]));
    assert_eq!(d.desired, 16);
}

#[test]
fn s3_8_step_scale_in_is_not_gated_by_target_tracking() {
    let cfg = target(&format!(
        r#"
ScalableTargets:
  - {{ResourceId: service/c/web, MinCapacity: 1, MaxCapacity: 100}}
ScalingPolicies:
{}  - PolicyName: load-in
    ResourceId: service/c/web
    PolicyType: StepScaling
    Alarms: [{{AlarmName: load-low}}]
    StepScalingPolicyConfiguration:
      AdjustmentType: ChangeInCapacity
      StepAdjustments: [{{MetricIntervalUpperBound: 0, ScalingAdjustment: -2}}]
MetricAlarms:
  - {{AlarmName: load-low, MetricName: Load, Namespace: Custom/App, Statistic: Average, Period: 60, EvaluationPeriods: 1, Threshold: 50, ComparisonOperator: LessThanThreshold}}
"#,
        tt_policy("cpu", CPU, 70.0, "")
    ));
    // CPU is fine (no AlarmLow), the step alarm says scale in by 2.
    let d = Harness::new(cfg)
        .step(899, &observe(10, 10, &[(CPU, minutes(0, &[66.0; 15])), (QUEUE, minutes(840, &[10.0]))]));
    assert_eq!((d.desired, &d.reason), (8, &Reason::ScaledIn { policy: "load-in".into() }));
}

fn scheduled(actions: &str, suspended: bool) -> ecs_autopilot::config::TargetConfig {
    target(&format!(
        "ScalableTargets:\n  - {{ResourceId: service/c/web, MinCapacity: 2, MaxCapacity: 20, SuspendedState: {{ScheduledScalingSuspended: {suspended}}}}}\nScalingPolicies:\n{}ScheduledActions:\n{actions}",
        tt_policy("cpu", CPU, 70.0, "")
    ))
}

#[test]
fn s5_3_scheduled_min_moves_capacity_into_range_ignoring_cooldowns() {
    // 2026-01-01 is a Thursday; 08:00 New York is 13:00 UTC.
    let actions = "  - {ScheduledActionName: open, ResourceId: service/c/web, Schedule: 'cron(0 8 ? * MON-FRI *)', Timezone: America/New_York, ScalableTargetAction: {MinCapacity: 10}}\n";
    let mut h = Harness::new(scheduled(actions, false));
    // A scale-in just happened: its cooldown would block policies, not this.
    h.memory.last_scale_in = Some(ecs_autopilot::memory::ScaleRecord { at: at(13 * 3600 - 30), from: 5, to: 4 });
    assert_eq!(h.step(13 * 3600 - 10, &observe(4, 4, &[])).desired, 4);
    let d = h.step(13 * 3600 + 20, &observe(4, 4, &[]));
    assert_eq!((d.desired, &d.reason), (10, &Reason::ScheduledAction { action: "open".into() }));
    assert_eq!(d.actions, vec![Action::SetBounds { min: 10, max: 20 }, Action::SetDesiredCount { from: 4, to: 10 }]);
    // The new bounds persist: a later evaluation keeps min 10.
    let d = h.step(14 * 3600, &observe(10, 10, &[]));
    assert_eq!((d.min_capacity, d.max_capacity), (10, 20));
}

#[test]
fn s5_3_scheduled_max_below_desired_scales_in_to_max() {
    let actions = "  - {ScheduledActionName: close, ResourceId: service/c/web, Schedule: 'at(2026-01-01T19:00:00)', ScalableTargetAction: {MinCapacity: 1, MaxCapacity: 3}}\n";
    let mut h = Harness::new(scheduled(actions, false));
    assert_eq!(h.step(19 * 3600 - 30, &observe(12, 12, &[])).desired, 12);
    let d = h.step(19 * 3600 + 30, &observe(12, 12, &[]));
    assert_eq!((d.desired, &d.reason), (3, &Reason::ScheduledAction { action: "close".into() }));
}

#[test]
fn s2_3_actions_missed_while_suspended_are_skipped_not_replayed() {
    let actions = "  - {ScheduledActionName: open, ResourceId: service/c/web, Schedule: 'at(2026-01-01T08:00:00)', ScalableTargetAction: {MinCapacity: 10}}\n";
    let mut h = Harness::new(scheduled(actions, true));
    assert_eq!(h.step(8 * 3600 - 30, &observe(4, 4, &[])).desired, 4);
    let d = h.step(8 * 3600 + 30, &observe(4, 4, &[]));
    assert_eq!(d.desired, 4);
    assert!(matches!(&d.blocked_by[..], [Block::ScheduledScalingSuspended { action, .. }] if action == "open"));
    // Resumed later: the missed action does not run.
    h.cfg.suspended.scheduled_scaling_suspended = false;
    let d = h.step(9 * 3600, &observe(4, 4, &[]));
    assert_eq!((d.desired, d.min_capacity), (4, 2));
}

/// Issue 16 (outside cases), aws-behaviour §4.5: a step policy invoked by two alarms
/// runs for each alarm in ALARM, on that alarm's metric and threshold. The
/// second alarm was once ignored.
#[test]
fn s4_5_every_alarm_that_invokes_a_step_policy_is_evaluated() {
    let cfg = target(
        r#"
ScalableTargets:
  - {ResourceId: service/c/web, MinCapacity: 1, MaxCapacity: 100}
ScalingPolicies:
  - PolicyName: load-out
    ResourceId: service/c/web
    PolicyType: StepScaling
    PolicyARN: arn:policy/load-out
    Alarms: [{AlarmName: load-high}, {AlarmName: queue-high}]
    StepScalingPolicyConfiguration:
      AdjustmentType: ChangeInCapacity
      Cooldown: 300
      StepAdjustments: [{MetricIntervalLowerBound: 0, ScalingAdjustment: 2}]
MetricAlarms:
  - {AlarmName: load-high, MetricName: Load, Namespace: Custom/App, Statistic: Average, Period: 60, EvaluationPeriods: 1, Threshold: 50, ComparisonOperator: GreaterThanThreshold, AlarmActions: [arn:policy/load-out]}
  - {AlarmName: queue-high, MetricName: Queue, Namespace: Custom/App, Statistic: Average, Period: 60, EvaluationPeriods: 1, Threshold: 100, ComparisonOperator: GreaterThanThreshold, AlarmActions: [arn:policy/load-out]}
"#,
    );
    assert_eq!(cfg.step.len(), 2, "one evaluation per alarm");
    const QUEUE_DEPTH: &str = "Custom/App/Queue{}:Average";
    // Load is calm (OK); the queue alarm breaches: the policy runs for it.
    let d = Harness::new(cfg.clone())
        .step(59, &observe(10, 10, &[(QUEUE, minutes(0, &[20.0])), (QUEUE_DEPTH, minutes(0, &[500.0]))]));
    assert_eq!((d.desired, &d.reason), (12, &Reason::ScaledOut { policy: "load-out".into() }), "{d:?}");
    // Both calm: nothing.
    let d = Harness::new(cfg)
        .step(59, &observe(10, 10, &[(QUEUE, minutes(0, &[20.0])), (QUEUE_DEPTH, minutes(0, &[50.0]))]));
    assert_eq!((d.desired, &d.reason), (10, &Reason::NoChange));
}
