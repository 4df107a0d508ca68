//! Named table cases for the policy engine: each states the docs/aws-behaviour.md section it
//! checks, the expected desired count and the expected reason (style of
//! Kubernetes' `TestScalingWithRules`).

mod common;

use common::*;
use ecs_autopilot::decision::{Action, Block, PolicyOutcome, Reason};

fn scaled_out(policy: &str) -> Reason {
    Reason::ScaledOut { policy: policy.into() }
}
fn scaled_in(policy: &str) -> Reason {
    Reason::ScaledIn { policy: policy.into() }
}

/// `runs(&[(3, 50.0), (2, 90.0)])` = [50, 50, 50, 90, 90].
fn runs(parts: &[(usize, f64)]) -> Vec<f64> {
    parts.iter().flat_map(|(n, v)| std::iter::repeat_n(*v, *n)).collect()
}

struct Case {
    name: &'static str,
    min: u32,
    max: u32,
    desired: u32,
    running: u32,
    cpu: Vec<f64>,
    want_desired: u32,
    want_reason: Reason,
}

/// Single CPU target-tracking policy at 70 %, `aws` mode, cooldowns 300 s.
/// The datapoints end at minute 14; evaluation at 14:59.
#[test]
fn target_tracking_aws_mode_table() {
    let cases = [
        Case {
            name:
                "aws-behaviour §3.4 three of three minutes above target scale out; aws-behaviour §3.6 ceil(10×90/70)=13",
            min: 1,
            max: 40,
            desired: 10,
            running: 10,
            cpu: runs(&[(12, 50.0), (3, 90.0)]),
            want_desired: 13,
            want_reason: scaled_out("cpu"),
        },
        Case {
            name: "aws-behaviour §3.4 two minutes above target are not enough",
            min: 1,
            max: 40,
            desired: 10,
            running: 10,
            cpu: runs(&[(13, 65.0), (2, 90.0)]),
            want_desired: 10,
            want_reason: Reason::NoChange,
        },
        Case {
            name: "aws-behaviour §3.4 fifteen minutes below 0.9×target scale in; aws-behaviour §3.6 ceil(10×50/70)=8",
            min: 1,
            max: 40,
            desired: 10,
            running: 10,
            cpu: runs(&[(15, 50.0)]),
            want_desired: 8,
            want_reason: scaled_in("cpu"),
        },
        Case {
            name: "aws-behaviour §3.4 fourteen minutes below 0.9×target are not enough",
            min: 1,
            max: 40,
            desired: 10,
            running: 10,
            cpu: runs(&[(1, 70.0), (14, 50.0)]),
            want_desired: 10,
            want_reason: Reason::NoChange,
        },
        Case {
            name: "aws-behaviour §3.4 between 0.9×target and target nothing happens",
            min: 1,
            max: 40,
            desired: 10,
            running: 10,
            cpu: runs(&[(15, 66.0)]),
            want_desired: 10,
            want_reason: Reason::NoChange,
        },
        Case {
            name: "aws-behaviour §3.6 metric exactly on target: AlarmHigh is strictly greater",
            min: 1,
            max: 40,
            desired: 10,
            running: 10,
            cpu: runs(&[(15, 70.0)]),
            want_desired: 10,
            want_reason: Reason::NoChange,
        },
        Case {
            name: "aws-behaviour §2.2 clamp to MaxCapacity",
            min: 1,
            max: 12,
            desired: 10,
            running: 10,
            cpu: runs(&[(15, 200.0)]),
            want_desired: 12,
            want_reason: scaled_out("cpu"),
        },
        Case {
            name: "aws-behaviour §2.2 already at max",
            min: 1,
            max: 10,
            desired: 10,
            running: 10,
            cpu: runs(&[(15, 200.0)]),
            want_desired: 10,
            want_reason: Reason::AlreadyAtMaxCapacity,
        },
        Case {
            name: "aws-behaviour §2.2 above max, a scale-out does not adjust",
            min: 1,
            max: 8,
            desired: 10,
            running: 10,
            cpu: runs(&[(15, 200.0)]),
            want_desired: 10,
            want_reason: Reason::AlreadyAtMaxCapacity,
        },
        Case {
            name: "aws-behaviour §2.2 above max, a scale-in first goes to max then scales in",
            min: 1,
            max: 8,
            desired: 10,
            running: 10,
            cpu: runs(&[(15, 35.0)]),
            want_desired: 5,
            want_reason: scaled_in("cpu"),
        },
        Case {
            name: "aws-behaviour §2.2 above max, a mild scale-in stops at max",
            min: 1,
            max: 8,
            desired: 10,
            running: 10,
            cpu: runs(&[(15, 60.0)]),
            want_desired: 8,
            want_reason: scaled_in("cpu"),
        },
        Case {
            name: "aws-behaviour §2.2 below min, a scale-out first goes to min",
            min: 6,
            max: 40,
            desired: 2,
            running: 2,
            cpu: runs(&[(15, 90.0)]),
            want_desired: 6,
            want_reason: scaled_out("cpu"),
        },
        Case {
            name: "aws-behaviour §2.2 below min, a scale-out larger than min keeps its size",
            min: 6,
            max: 40,
            desired: 2,
            running: 5,
            cpu: runs(&[(15, 100.0)]),
            want_desired: 8,
            want_reason: scaled_out("cpu"),
        },
        Case {
            name: "aws-behaviour §2.2 below min, a scale-in does not adjust",
            min: 6,
            max: 40,
            desired: 2,
            running: 2,
            cpu: runs(&[(15, 10.0)]),
            want_desired: 2,
            want_reason: Reason::AlreadyAtMinCapacity,
        },
        Case {
            name: "aws-behaviour §2.2 scale-in clamps to MinCapacity",
            min: 7,
            max: 40,
            desired: 10,
            running: 10,
            cpu: runs(&[(15, 10.0)]),
            want_desired: 7,
            want_reason: scaled_in("cpu"),
        },
        Case {
            name: "aws-behaviour §2.4 base is running tasks: ceil(6×90/70)=8 ≤ desired 10 is a no-op",
            min: 1,
            max: 40,
            desired: 10,
            running: 6,
            cpu: runs(&[(15, 90.0)]),
            want_desired: 10,
            want_reason: Reason::AlreadyAtDesiredCapacity,
        },
        Case {
            name: "aws-behaviour §2.4/§3.6 scale-in from 10 running: ceil(10×62/70)=9 is not below desired 8",
            min: 1,
            max: 40,
            desired: 8,
            running: 10,
            cpu: runs(&[(15, 62.0)]),
            want_desired: 8,
            want_reason: Reason::AlreadyAtDesiredCapacity,
        },
        Case {
            name: "aws-behaviour §3.6 scale to zero with MinCapacity 0 when the metric is 0",
            min: 0,
            max: 40,
            desired: 3,
            running: 3,
            cpu: runs(&[(15, 0.0)]),
            want_desired: 0,
            want_reason: scaled_in("cpu"),
        },
        Case {
            name: "aws-behaviour §3.5 no datapoints: insufficient data never scales",
            min: 1,
            max: 40,
            desired: 10,
            running: 10,
            cpu: vec![],
            want_desired: 10,
            want_reason: Reason::InsufficientData,
        },
    ];
    let policy = tt_policy("cpu", CPU, 70.0, "");
    for case in cases {
        let mut h = Harness::new(with_policies(case.min, case.max, &policy, ""));
        let obs = observe(case.desired, case.running, &[(CPU, minutes(0, &case.cpu))]);
        let d = h.step(14 * 60 + 59, &obs);
        assert_eq!((d.desired, &d.reason), (case.want_desired, &case.want_reason), "case: {}\n{d:#?}", case.name);
        let changed = d.actions.iter().any(|a| matches!(a, Action::SetDesiredCount { .. }));
        assert_eq!(changed, case.want_desired != case.desired, "case: {} actions {:?}", case.name, d.actions);
    }
}

#[test]
fn s3_5_alarm_in_alarm_reinvokes_once_a_minute() {
    let mut h = Harness::new(with_policies(1, 100, &tt_policy("cpu", CPU, 70.0, "      ScaleOutCooldown: 0\n"), ""));
    let obs = |desired| observe(desired, desired, &[(CPU, minutes(0, &[140.0; 15]))]);
    let d = h.step(14 * 60 + 1, &obs(10));
    assert_eq!((d.desired, &d.reason), (20, &scaled_out("cpu")));
    // 30 s later the alarm is still in ALARM but is not re-invoked yet.
    let d = h.step(14 * 60 + 31, &obs(20));
    assert_eq!(d.desired, 20);
    assert_eq!(d.policies[0].outcome, PolicyOutcome::AwaitingReinvocation);
    // A minute after the first invocation it fires again, from 20 running.
    let d = h.step(15 * 60 + 1, &observe(20, 20, &[(CPU, minutes(0, &[140.0; 16]))]));
    assert_eq!((d.desired, &d.reason), (40, &scaled_out("cpu")));
}

#[test]
fn s3_7_scale_in_cooldown_blocks_then_expires() {
    let mut h = Harness::new(with_policies(1, 40, &tt_policy("cpu", CPU, 70.0, "      ScaleInCooldown: 300\n"), ""));
    let low = |desired, upto: usize| observe(desired, desired, &[(CPU, minutes(0, &vec![30.0; upto]))]);
    let d = h.step(14 * 60 + 59, &low(20, 15));
    assert_eq!((d.desired, &d.reason), (9, &scaled_in("cpu")));
    let d = h.step(16 * 60 + 59, &low(9, 17));
    assert_eq!((d.desired, &d.reason), (9, &Reason::Blocked));
    assert!(matches!(d.blocked_by[..], [Block::ScaleInCooldown { .. }]), "{:?}", d.blocked_by);
    // 300 s after the scale-in, scale-in works again: ceil(9×30/70)=4.
    let d = h.step(19 * 60 + 59, &low(9, 20));
    assert_eq!((d.desired, &d.reason), (4, &scaled_in("cpu")));
}

#[test]
fn s3_7_scale_out_ends_the_scale_in_cooldown() {
    let mut h = Harness::new(with_policies(1, 40, &tt_policy("cpu", CPU, 70.0, "      ScaleOutCooldown: 0\n"), ""));
    let d = h.step(14 * 60 + 59, &observe(20, 20, &[(CPU, minutes(0, &[30.0; 15]))]));
    assert_eq!(d.desired, 9);
    assert!(h.memory.last_scale_in.is_some());
    let d = h.step(17 * 60 + 59, &observe(9, 9, &[(CPU, minutes(15 * 60, &[95.0; 3]))]));
    assert_eq!((d.desired, &d.reason), (13, &scaled_out("cpu")));
    assert!(h.memory.last_scale_in.is_none(), "the scale-in cooldown stops and doesn't complete");
}

#[test]
fn s3_7_during_scale_out_cooldown_only_a_larger_scale_out_applies() {
    let mut h = Harness::new(with_policies(1, 100, &tt_policy("cpu", CPU, 50.0, ""), ""));
    let d = h.step(14 * 60 + 59, &observe(10, 10, &[(CPU, minutes(0, &[80.0; 15]))]));
    assert_eq!(d.desired, 16);
    // New tasks are still PENDING: running 10, metric unchanged → 16 ≤ 16.
    let d = h.step(15 * 60 + 59, &observe(16, 10, &[(CPU, minutes(0, &[80.0; 16]))]));
    assert_eq!((d.desired, &d.reason), (16, &Reason::Blocked));
    assert!(matches!(d.blocked_by[..], [Block::ScaleOutCooldown { .. }]));
    // Load doubles: a larger scale-out is applied inside the cooldown.
    let d = h.step(
        16 * 60 + 59,
        &observe(16, 10, &[(CPU, minutes(0, &[80.0; 16]).into_iter().chain(minutes(16 * 60, &[160.0])).collect())]),
    );
    assert_eq!((d.desired, &d.reason), (32, &scaled_out("cpu")));
}

#[test]
fn s3_8_any_policy_scales_out_and_all_must_agree_to_scale_in() {
    let policies = format!("{}{}", tt_policy("cpu", CPU, 70.0, ""), tt_policy("mem", MEM, 70.0, ""));
    let cfg = with_policies(1, 40, &policies, "");
    // CPU high, memory normal: scale out on CPU.
    let d = Harness::new(cfg.clone())
        .step(899, &observe(10, 10, &[(CPU, minutes(0, &[92.0; 15])), (MEM, minutes(0, &[66.0; 15]))]));
    // ceil(10 × 92 / 70) = ceil(13.14) = 14.
    assert_eq!((d.desired, &d.reason), (14, &scaled_out("cpu")));
    // CPU low, memory not low: memory's AlarmLow is not in ALARM, no scale-in.
    let d = Harness::new(cfg.clone())
        .step(899, &observe(10, 10, &[(CPU, minutes(0, &[20.0; 15])), (MEM, minutes(0, &[66.0; 15]))]));
    assert_eq!((d.desired, &d.reason), (10, &Reason::Blocked));
    assert_eq!(d.blocked_by, vec![Block::ScaleInNotUnanimous { waiting: vec!["mem".into()] }]);
    assert_eq!(d.policies[0].outcome, PolicyOutcome::ScaleInNotUnanimous);
    // Both low: the largest capacity wins (least aggressive): max(3, 8) = 8.
    let d = Harness::new(cfg)
        .step(899, &observe(10, 10, &[(CPU, minutes(0, &[20.0; 15])), (MEM, minutes(0, &[50.0; 15]))]));
    assert_eq!((d.desired, &d.reason), (8, &scaled_in("mem")));
    assert_eq!(d.policies[0].outcome, PolicyOutcome::Outvoted);
}

#[test]
fn s3_8_disable_scale_in_policies_do_not_vote() {
    let policies =
        format!("{}{}", tt_policy("cpu", CPU, 70.0, ""), tt_policy("mem", MEM, 70.0, "      DisableScaleIn: true\n"));
    let d = Harness::new(with_policies(1, 40, &policies, ""))
        .step(899, &observe(10, 10, &[(CPU, minutes(0, &[20.0; 15])), (MEM, minutes(0, &[66.0; 15]))]));
    assert_eq!((d.desired, &d.reason), (3, &scaled_in("cpu")));
}

#[test]
fn s2_5_no_scale_in_during_a_deployment_but_scale_out_continues() {
    let cfg = with_policies(1, 40, &tt_policy("cpu", CPU, 70.0, ""), "");
    let mut obs = observe(10, 10, &[(CPU, minutes(0, &[20.0; 15]))]);
    obs.deployment_in_progress = true;
    let d = Harness::new(cfg.clone()).step(899, &obs);
    assert_eq!((d.desired, &d.reason, &d.blocked_by[..]), (10, &Reason::Blocked, &[Block::DeploymentInProgress][..]));
    let mut obs = observe(10, 10, &[(CPU, minutes(0, &[140.0; 15]))]);
    obs.deployment_in_progress = true;
    assert_eq!(Harness::new(cfg).step(899, &obs).desired, 20);
}

#[test]
fn s2_3_suspended_states_block_their_direction() {
    let suspended = |flag: &str| {
        target(&format!(
            "ScalableTargets:\n  - {{ResourceId: service/c/web, MinCapacity: 1, MaxCapacity: 40, SuspendedState: {{{flag}: true}}}}\nScalingPolicies:\n{}",
            tt_policy("cpu", CPU, 70.0, "")
        ))
    };
    let d = Harness::new(suspended("DynamicScalingInSuspended"))
        .step(899, &observe(10, 10, &[(CPU, minutes(0, &[20.0; 15]))]));
    assert_eq!((d.desired, &d.blocked_by[..]), (10, &[Block::DynamicScalingInSuspended][..]));
    let d = Harness::new(suspended("DynamicScalingOutSuspended"))
        .step(899, &observe(10, 10, &[(CPU, minutes(0, &[99.0; 15]))]));
    assert_eq!((d.desired, &d.blocked_by[..]), (10, &[Block::DynamicScalingOutSuspended][..]));
    // Out-suspension does not stop scale-in.
    let d = Harness::new(suspended("DynamicScalingOutSuspended"))
        .step(899, &observe(10, 10, &[(CPU, minutes(0, &[20.0; 15]))]));
    assert_eq!(d.desired, 3);
}

#[test]
fn s3_6_scale_out_from_zero_is_one_task_then_clamped_to_min() {
    let alb = "ALBRequestCountPerTarget";
    let policy = "  - PolicyName: rps\n    ResourceId: service/c/web\n    PolicyType: TargetTrackingScaling\n    TargetTrackingScalingPolicyConfiguration:\n      TargetValue: 100\n      PredefinedMetricSpecification: {PredefinedMetricType: ALBRequestCountPerTarget, ResourceLabel: app/a/1/targetgroup/t/2}\n";
    let metric = format!("{alb}:app/a/1/targetgroup/t/2");
    let d = Harness::new(with_policies(0, 10, policy, ""))
        .step(899, &observe(0, 0, &[(&metric, minutes(0, &[5000.0; 15]))]));
    assert_eq!((d.desired, &d.reason, d.computed), (1, &scaled_out("rps"), Some(1)));
}
