//! Property tests of the controller's invariants over random configurations,
//! observations and sequences of evaluations:
//! * a changed desired count is always within [min, max];
//! * a desired count that starts within [min, max] stays within it;
//! * no scale-in during a deployment or while DynamicScalingInSuspended
//!   (scheduled actions aside: they are not dynamic scaling, aws-behaviour §2.3);
//! * controller memory survives a JSON round trip unchanged;
//! * in `fast` mode one datapoint alone never adds more than a probe (10 %
//!   of the running tasks, at least one), whatever it reads.

mod common;

use common::*;
use ecs_autopilot::config::{self, MetricId};
use ecs_autopilot::controller;
use ecs_autopilot::decision::Action;
use ecs_autopilot::memory::{Datapoint, TargetMemory};
use ecs_autopilot::policy::Observation;
use proptest::prelude::*;

#[derive(Debug, Clone)]
struct Scenario {
    min: u32,
    max: u32,
    fast: bool,
    target: f64,
    second_policy: bool,
    step_policy: bool,
    suspend_in: bool,
    extensions: bool,
    cpu: Vec<f64>,
    mem: Vec<f64>,
    start_desired: u32,
    running_lag: Vec<u32>,
    deployment: Vec<bool>,
}

fn scenario() -> impl Strategy<Value = Scenario> {
    (
        0u32..10,
        0u32..40,
        any::<bool>(),
        10.0f64..95.0,
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        0u32..60,
    )
        .prop_flat_map(|(min, span, fast, target, second, step, suspend_in, ext, start)| {
            let steps = 30usize;
            (
                Just((min, min + span, fast, target, second, step, suspend_in, ext, start)),
                prop::collection::vec(0.0f64..300.0, steps),
                prop::collection::vec(0.0f64..150.0, steps),
                prop::collection::vec(0u32..4, steps),
                prop::collection::vec(prop::bool::weighted(0.3), steps),
            )
        })
        .prop_map(
            |(
                (min, max, fast, target, second_policy, step_policy, suspend_in, extensions, start_desired),
                cpu,
                mem,
                running_lag,
                deployment,
            )| Scenario {
                min,
                max,
                fast,
                target,
                second_policy,
                step_policy,
                suspend_in,
                extensions,
                cpu,
                mem,
                start_desired,
                running_lag,
                deployment,
            },
        )
}

fn build(s: &Scenario) -> config::TargetConfig {
    let mut policies = tt_policy("cpu", CPU, s.target, "      ScaleOutCooldown: 60\n      ScaleInCooldown: 120\n");
    if s.second_policy {
        policies.push_str(&tt_policy("mem", MEM, 60.0, ""));
    }
    if s.step_policy {
        policies.push_str("  - PolicyName: step\n    ResourceId: service/c/web\n    PolicyType: StepScaling\n    Alarms: [{AlarmName: cpu-extreme}]\n    StepScalingPolicyConfiguration:\n      AdjustmentType: PercentChangeInCapacity\n      MinAdjustmentMagnitude: 1\n      Cooldown: 60\n      StepAdjustments: [{MetricIntervalLowerBound: 0, ScalingAdjustment: 50}]\n");
    }
    let alarms = if s.step_policy {
        "MetricAlarms:\n  - {AlarmName: cpu-extreme, MetricName: CPUUtilization, Namespace: AWS/ECS, Statistic: Average, Period: 60, EvaluationPeriods: 2, Threshold: 200, ComparisonOperator: GreaterThanThreshold}\n"
    } else {
        ""
    };
    let mut ext = format!("Autopilot:\n  Defaults:\n    EvaluationMode: {}\n", if s.fast { "fast" } else { "aws" });
    if s.extensions {
        ext.push_str("    ScaleIn: {StabilizationWindowSeconds: 120, Policies: [{Type: Percent, Value: 30, PeriodSeconds: 60}]}\n    ScaleOut: {Policies: [{Type: Tasks, Value: 5, PeriodSeconds: 60}]}\n    MaxScaleInPerEvaluation: 3\n    MissingMetrics: {Action: FixedCount, Count: 4}\n");
    }
    let suspended = if s.suspend_in { ", SuspendedState: {DynamicScalingInSuspended: true}" } else { "" };
    target(&format!(
        "ScalableTargets:\n  - {{ResourceId: service/c/web, MinCapacity: {}, MaxCapacity: {}{suspended}}}\nScalingPolicies:\n{policies}{alarms}{ext}",
        s.min, s.max
    ))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(256), ..ProptestConfig::default() })]

    #[test]
    fn invariants_hold_over_random_sequences(s in scenario()) {
        let cfg = build(&s);
        let custom = MetricId::single("AWS/ECS", "CPUUtilization", &[], "Average");
        let mut memory = TargetMemory::default();
        let mut desired = s.start_desired;
        for (i, (&cpu, &mem)) in s.cpu.iter().zip(&s.mem).enumerate() {
            let now = 60 * i as i64 + 30;
            let point = |v| vec![Datapoint { timestamp: at(60 * i as i64), value: v }];
            let running = desired.saturating_sub(s.running_lag[i]);
            let obs = Observation {
                desired_count: desired,
                running_count: running,
                deployment_in_progress: s.deployment[i],
                metrics: [(MetricId(CPU.into()), point(cpu)), (MetricId(MEM.into()), point(mem)), (custom.clone(), point(cpu))].into_iter().collect(),
                ..Observation::default()
            };
            let (d, next) = controller::evaluate(at(now), &cfg, &obs, memory);
            memory = next;
            let was_in_range = (s.min..=s.max).contains(&desired);
            if d.desired != desired {
                prop_assert!((s.min..=s.max).contains(&d.desired), "changed to {} outside [{}, {}]: {d:?}", d.desired, s.min, s.max);
                let expected = Action::SetDesiredCount { from: desired, to: d.desired };
                prop_assert!(d.actions.contains(&expected), "missing action: {:?}", d.actions);
            } else {
                let sets = d.actions.iter().any(|a| matches!(a, Action::SetDesiredCount { .. }));
                prop_assert!(!sets, "action without a change: {:?}", d.actions);
            }
            if was_in_range {
                prop_assert!((s.min..=s.max).contains(&d.desired));
            }
            if s.deployment[i] || s.suspend_in {
                prop_assert!(d.desired >= desired, "scale-in from {desired} to {} during deployment/suspension: {d:?}", d.desired);
            }
            desired = d.desired;
        }
        let text = serde_json::to_string(&memory).unwrap();
        let back: TargetMemory = serde_json::from_str(&text).unwrap();
        prop_assert_eq!(back, memory);
    }

    #[test]
    fn one_datapoint_alone_adds_at_most_a_probe(
        running in 1u32..400,
        before in 0.0f64..49.0,
        reading in 0.0f64..1000.0,
        gap_minutes in 1i64..4,
    ) {
        // docs/configuration.md "fast mode": a datapoint above target after
        // one on or below it (or after a gap) is a probe, never the full
        // scale-out, however high it reads.
        let cfg = with_policies(
            1,
            10_000,
            &tt_policy("cpu", CPU, 50.0, ""),
            "Autopilot:\n  Targets:\n    service/c/web:\n      EvaluationMode: fast\n",
        );
        let points = vec![
            Datapoint { timestamp: at(0), value: before },
            Datapoint { timestamp: at(60 * gap_minutes), value: reading },
        ];
        let now = 60 * gap_minutes + 15;
        let obs = observe(running, running, &[(CPU, points)]);
        let (d, _) = controller::evaluate(at(now), &cfg, &obs, TargetMemory::default());
        let probe = (running / 10).max(1);
        prop_assert!(d.desired <= running + probe, "{running} tasks, {before} → {reading}: desired {}", d.desired);
        // And a new target does not scale in before its recommendations span
        // the cold start.
        prop_assert!(d.desired >= running, "a scale-in on a first look: {d:?}");
    }

    #[test]
    fn proportional_capacity_never_undershoots(running in 1u32..500, metric in 0.0f64..1000.0, target in 1.0f64..100.0) {
        let c = ecs_autopilot::policy::proportional_capacity(running, metric, target);
        // Enough capacity: the predicted metric is on or below target…
        prop_assert!(f64::from(running) * metric / f64::from(c.max(1)) <= target * (1.0 + 1e-6) || c == 0);
        // …and not more than one task above the exact need.
        prop_assert!(f64::from(c) < f64::from(running) * metric / target + 1.0 + 1e-6);
    }

    #[test]
    fn percent_change_follows_the_documented_rounding(capacity in 0u32..1000, percent in -100i64..300) {
        let d = ecs_autopilot::policy::percent_change(capacity, percent, None);
        let raw = f64::from(capacity) * percent as f64 / 100.0;
        let expected = if raw >= 1.0 { raw.floor() } else if raw > 0.0 { 1.0 } else if raw > -1.0 && raw < 0.0 { -1.0 } else { raw.ceil() } as i64;
        prop_assert_eq!(d, expected);
        prop_assert!(d.abs() as f64 <= raw.abs().max(1.0));
    }
}
