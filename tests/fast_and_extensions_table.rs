//! `fast` evaluation mode and the opt-in extensions (docs/configuration.md).

mod common;

use common::*;
use ecs_autopilot::decision::{Block, PolicyOutcome, Reason};
use ecs_autopilot::memory::Datapoint;

fn fast(extra_autopilot: &str) -> ecs_autopilot::config::TargetConfig {
    with_policies(
        1,
        100,
        &tt_policy("cpu", CPU, 50.0, ""),
        &format!("Autopilot:\n  Targets:\n    service/c/web:\n      EvaluationMode: fast\n{extra_autopilot}"),
    )
}

fn points(start: i64, step: i64, values: &[f64]) -> Vec<Datapoint> {
    values.iter().enumerate().map(|(i, v)| Datapoint { timestamp: at(start + step * i as i64), value: *v }).collect()
}

#[test]
fn fast_mode_probes_on_the_first_datapoint_above_target_and_scales_fully_once_confirmed() {
    // docs/configuration.md "fast mode": one datapoint at 80 % with target
    // 50 asks for ceil(10×80/50) = 16, but alone it may be the first
    // datapoint of a flash crowd: it adds at most 10 % of the tasks (a probe).
    let mut h = Harness::new(fast(""));
    let d = h.step(75, &observe(10, 10, &[(CPU, minutes(0, &[50.0, 80.0]))]));
    assert_eq!((d.desired, &d.reason), (11, &Reason::ScaledOut { policy: "cpu".into() }));
    assert_eq!(d.computed, Some(11));
    // The next datapoint is above target too: two datapoints covering a
    // minute or more confirm it, and the scale-out goes to the smaller of
    // their needs (16 and ceil(10×90/50) = 18 → 16).
    let d = h.step(135, &observe(11, 10, &[(CPU, minutes(0, &[50.0, 80.0, 90.0]))]));
    assert_eq!((d.desired, &d.reason), (16, &Reason::ScaledOut { policy: "cpu".into() }));
}

#[test]
fn fast_mode_confirmation_needs_a_minute_of_datapoints() {
    // At 20 s, two datapoints cover 40 s: still a probe; the third confirms
    // (as long as AWS's own 3 × 20-s alarm).
    let mut h = Harness::new(fast(""));
    assert_eq!(h.step(45, &observe(10, 10, &[(CPU, points(0, 20, &[50.0, 80.0]))])).desired, 11);
    assert_eq!(h.step(65, &observe(11, 10, &[(CPU, points(0, 20, &[50.0, 80.0, 80.0]))])).desired, 11);
    assert_eq!(h.step(85, &observe(11, 10, &[(CPU, points(0, 20, &[50.0, 80.0, 80.0, 80.0]))])).desired, 16);
}

#[test]
fn fast_mode_adds_bounded_headroom_on_a_capped_reading() {
    // 100 % is a floor of the demand, not its measure: 10×100/50 = 20 is
    // the least needed, ×1.5 = 30 (docs/configuration.md "fast mode"), once
    // confirmed; a capped reading confirms without bounding the size.
    let d = Harness::new(fast("")).step(135, &observe(10, 10, &[(CPU, minutes(0, &[50.0, 100.0, 100.0]))]));
    assert_eq!(d.desired, 30);
    // Alone it is a probe like any other datapoint.
    let d = Harness::new(fast("")).step(75, &observe(10, 10, &[(CPU, minutes(0, &[50.0, 100.0]))]));
    assert_eq!(d.desired, 11);
    // A reading far above 100 % is tasks bursting past their reservation:
    // measured, so plain proportional (10×200/50 = 40).
    let d = Harness::new(fast("")).step(135, &observe(10, 10, &[(CPU, minutes(0, &[50.0, 200.0, 200.0]))]));
    assert_eq!(d.desired, 40);
}

#[test]
fn a_probe_no_later_datapoint_needed_is_withdrawn_after_the_scale_in_window() {
    // docs/configuration.md "fast mode": 11 tasks on target, one datapoint
    // at 75 % → a probe to 12. Every datapoint measured since shows 11 were
    // enough (12 tasks at 45.8 %: inside the band, so no ordinary scale-in).
    let mut h = Harness::new(fast(""));
    let on_target = |minute: i64| minutes(60 * minute, &[45.83]);
    let d = h.step(75, &observe(11, 11, &[(CPU, minutes(0, &[50.0, 75.0]))]));
    assert_eq!(d.desired, 12);
    assert!(h.memory.probes.contains_key("cpu"));
    for minute in 2..=16 {
        let d = h.step(60 * minute + 15, &observe(12, 12, &[(CPU, on_target(minute))]));
        assert_eq!(d.desired, 12, "held for the window, minute {minute}");
    }
    // Past the 15-minute window (from t=75) but during a deployment: the
    // withdrawal is held back, and the probe kept for the next datapoint.
    let mut deploying = observe(12, 12, &[(CPU, on_target(17))]);
    deploying.deployment_in_progress = true;
    let d = h.step(60 * 17 + 15, &deploying);
    assert_eq!((d.desired, &d.blocked_by), (12, &vec![Block::DeploymentInProgress]));
    assert!(h.memory.probes.contains_key("cpu"));
    // The next datapoint withdraws it, and not as a flap; once the desired
    // count has moved the probe is forgotten.
    let d = h.step(60 * 18 + 15, &observe(12, 12, &[(CPU, on_target(18))]));
    assert_eq!((d.desired, &d.reason), (11, &Reason::ScaledIn { policy: "cpu".into() }));
    assert_eq!(
        d.policies[0].evidence,
        Some(ecs_autopilot::decision::Evidence::ProbeUnneeded { probed_at: at(75), needed: 11 })
    );
    let d = h.step(60 * 19 + 15, &observe(11, 11, &[(CPU, minutes(60 * 19, &[50.0]))]));
    assert_eq!(d.desired, 11);
    assert!(h.memory.probes.is_empty());
}

#[test]
fn a_probe_that_a_later_datapoint_needs_is_kept() {
    let mut h = Harness::new(fast(""));
    assert_eq!(h.step(75, &observe(11, 11, &[(CPU, minutes(0, &[50.0, 75.0]))])).desired, 12);
    // Measured after the probe: 12 tasks at 48 % need ceil(12×48/51) = 12.
    assert_eq!(h.step(135, &observe(12, 12, &[(CPU, minutes(120, &[48.0]))])).desired, 12);
    for minute in 3..=20 {
        let d = h.step(60 * minute + 15, &observe(12, 12, &[(CPU, minutes(60 * minute, &[46.0]))]));
        assert_eq!(d.desired, 12, "minute {minute}");
    }
}

#[test]
fn a_recent_scale_in_is_reversed_only_on_three_datapoints_or_an_unmistakable_one() {
    // docs/configuration.md "fast mode": scaling out within the scale-in
    // window of a scale-in would be a flap, so it needs AWS's own evidence
    // (3 datapoints in a row above target) unless a datapoint is far above
    // any noise around the target (1.5 × target, or a capped reading).
    let mut h = Harness::new(fast("      ScaleIn: {StabilizationWindowSeconds: 0}\n"));
    // With no window the rule is off: the probe goes ahead.
    assert_eq!(h.step(15, &observe(10, 10, &[(CPU, minutes(0, &[30.0]))])).desired, 7);
    assert_eq!(h.step(75, &observe(7, 7, &[(CPU, minutes(60, &[55.0]))])).desired, 8);
    // A ten-minute window: a drop to 30 % scales 10 → 7 once the window
    // has passed over the last on-target reading (t = 15).
    let scaled_in = || {
        let mut h = Harness::new(fast("      ScaleIn: {StabilizationWindowSeconds: 600}\n"));
        assert_eq!(h.step(15, &observe(10, 10, &[(CPU, minutes(0, &[48.0]))])).desired, 10);
        for minute in 2..11 {
            let d = h.step(60 * minute + 15, &observe(10, 10, &[(CPU, minutes(60 * minute, &[30.0]))]));
            assert_eq!(d.desired, 10, "held at minute {minute}");
        }
        assert_eq!(h.step(675, &observe(10, 10, &[(CPU, minutes(660, &[30.0]))])).desired, 7);
        h
    };
    let mut h = scaled_in();
    for (t, value) in [(735, 55.0), (795, 56.0)] {
        let d = h.step(t, &observe(7, 7, &[(CPU, minutes(t - 15, &[value]))]));
        assert_eq!((d.desired, &d.policies[0].outcome), (7, &PolicyOutcome::AwaitingConfirmation), "t={t}");
    }
    // The third in a row confirms: the smallest need of the three, 7 × 55 / 50 → 8.
    let d = h.step(855, &observe(7, 7, &[(CPU, minutes(840, &[57.0]))]));
    assert_eq!((d.desired, &d.reason), (8, &Reason::ScaledOut { policy: "cpu".into() }));
    // 1.5 × target is no noise around it: a probe at once.
    let mut h = scaled_in();
    assert_eq!(h.step(735, &observe(7, 7, &[(CPU, minutes(720, &[80.0]))])).desired, 8);
}

#[test]
fn a_drain_does_not_shorten_the_scale_in_window_within_15_minutes_of_the_newest_scale_out() {
    // docs/configuration.md "fast mode": a larger scale-out inside a
    // scale-out cooldown keeps the cooldown's start, but the 15 minutes
    // that protect against a flap run from it, not from the cooldown's start.
    let mut h = Harness::new(fast(""));
    // A probe at t=75 opens the cooldown; its confirmation at t=135 (inside
    // it) is the newest scale-out.
    assert_eq!(h.step(75, &observe(10, 10, &[(CPU, minutes(0, &[50.0, 80.0]))])).desired, 11);
    assert_eq!(h.step(135, &observe(11, 10, &[(CPU, minutes(0, &[50.0, 80.0, 80.0]))])).desired, 16);
    // Then the load drains steadily, far below the band.
    let mut values = vec![50.0, 80.0, 80.0];
    for minute in 3..=17i64 {
        values.push(40.0 - 2.0 * (minute - 3) as f64);
        let d = h.step(60 * minute + 15, &observe(16, 16, &[(CPU, minutes(0, &values))]));
        assert_eq!(d.desired, 16, "minute {minute}: within 15 minutes of the scale-out at t=135");
    }
}

#[test]
fn fast_mode_scale_in_needs_the_default_ten_percent_band() {
    // Without the default stabilization, to see the band alone.
    let no_window = "      ScaleIn: {StabilizationWindowSeconds: 0}\n";
    // 46 is inside 0.9 × 50 = 45: no change; 40 is below it: scale in, to
    // where the metric sits half-way into the band (10×40/47.5 → 9), not
    // on target (8), so the next small rise does not scale out again.
    let d = Harness::new(fast(no_window)).step(15, &observe(10, 10, &[(CPU, points(10, 10, &[46.0]))]));
    assert_eq!((d.desired, &d.reason), (10, &Reason::NoChange));
    assert_eq!(d.policies[0].outcome, PolicyOutcome::WithinTarget);
    let d = Harness::new(fast(no_window)).step(15, &observe(10, 10, &[(CPU, points(10, 10, &[40.0]))]));
    assert_eq!(d.desired, 9);
    // 44 is below the band, but 10×44/47.5 rounds up to 10: nothing to remove.
    let d = Harness::new(fast(no_window)).step(15, &observe(10, 10, &[(CPU, points(10, 10, &[44.0]))]));
    assert_eq!(d.desired, 10);
}

#[test]
fn fast_mode_default_stabilization_waits_for_five_minutes_of_history_then_holds_fifteen() {
    // A new target knows nothing of the demand before its first look: no
    // scale-in until recommendations span 5 minutes (COLD_START)…
    let mut h = Harness::new(fast(""));
    let d = h.step(15, &observe(10, 10, &[(CPU, points(10, 10, &[20.0]))]));
    assert_eq!((d.desired, &d.reason), (10, &Reason::Blocked));
    assert_eq!(d.blocked_by, vec![Block::StabilizationWindow { recommendation: 5, held_at: 10 }]);
    // …a reading on target at t=200 recommends 10…
    let d = h.step(200, &observe(10, 10, &[(CPU, points(190, 10, &[50.0]))]));
    assert_eq!(d.desired, 10);
    // …so once history spans 5 minutes, the largest recommendation of the
    // last 15 holds the scale-in at 10…
    let d = h.step(400, &observe(10, 10, &[(CPU, points(390, 10, &[20.0]))]));
    assert_eq!((d.desired, &d.reason), (10, &Reason::Blocked));
    assert_eq!(d.blocked_by, vec![Block::StabilizationWindow { recommendation: 5, held_at: 10 }]);
    // …until that 10 is 15 minutes old.
    let d = h.step(1110, &observe(10, 10, &[(CPU, points(1100, 10, &[20.0]))]));
    assert_eq!(d.desired, 5);
}

#[test]
fn fast_mode_acts_once_per_datapoint() {
    let mut h = Harness::new(fast("      Tolerance: 0.05\n      ScaleIn: {StabilizationWindowSeconds: 0}\n"));
    // 10×30/(50×0.975) → 7.
    let d = h.step(15, &observe(10, 10, &[(CPU, points(10, 10, &[30.0]))]));
    assert_eq!(d.desired, 7);
    // The same datapoint again (no new data): not acted on a second time,
    // otherwise the old value would remove tasks again.
    let d = h.step(18, &observe(7, 7, &[]));
    assert_eq!(d.desired, 7);
    assert_eq!(d.policies[0].outcome, PolicyOutcome::AwaitingReinvocation);
}

#[test]
fn fast_mode_stale_metrics_are_insufficient_data_and_fallback_applies() {
    let d = Harness::new(fast("")).step(1000, &observe(10, 10, &[(CPU, points(10, 10, &[100.0]))]));
    assert_eq!((d.desired, &d.reason), (10, &Reason::InsufficientData));
    let d =
        Harness::new(fast("      MissingMetrics: {Action: FixedCount, Count: 7}\n")).step(1000, &observe(10, 10, &[]));
    assert_eq!((d.desired, &d.reason), (7, &Reason::MissingMetricsFallback));
}

#[test]
fn stabilization_window_holds_scale_in_at_the_largest_recent_recommendation() {
    let mut h = Harness::new(fast(
        "      ScaleIn: {StabilizationWindowSeconds: 300}\n      ScaleOut: {StabilizationWindowSeconds: 0}\n",
    ));
    // A recommendation of 10 (on target) at t=20…
    assert_eq!(h.step(20, &observe(10, 10, &[(CPU, points(10, 10, &[50.0]))])).desired, 10);
    // …then a dip: 20 % → 5 recommended (10×20/45), but 10 was
    // recommended 40 s ago.
    let d = h.step(60, &observe(10, 10, &[(CPU, points(50, 10, &[20.0]))]));
    assert_eq!((d.desired, &d.reason), (10, &Reason::Blocked));
    assert_eq!(d.blocked_by, vec![Block::StabilizationWindow { recommendation: 5, held_at: 10 }]);
    // Re-reading the same datapoint is no recommendation: it does not
    // extend the window.
    let d = h.step(200, &observe(10, 10, &[]));
    assert_eq!(d.policies[0].outcome, PolicyOutcome::AwaitingReinvocation);
    // After the window the dip is applied.
    let d = h.step(400, &observe(10, 10, &[(CPU, points(390, 10, &[20.0]))]));
    assert_eq!(d.desired, 5);
}

#[test]
fn rate_limit_caps_scale_out_per_period() {
    let mut h = Harness::new(fast("      ScaleOut: {Policies: [{Type: Tasks, Value: 4, PeriodSeconds: 60}]}\n"));
    let d = h.step(15, &observe(10, 10, &[(CPU, points(-60, 60, &[200.0, 200.0]))]));
    assert_eq!(d.desired, 14);
    assert_eq!(d.blocked_by, vec![Block::RateLimit { limit: 14 }]);
    assert_eq!(d.computed, Some(40));
    // Within the same 60 s the 4 added count against the period: no more.
    let mut newer = points(-60, 60, &[200.0, 200.0]);
    newer.push(Datapoint { timestamp: at(20), value: 200.0 });
    let d = h.step(25, &observe(14, 14, &[(CPU, newer.clone())]));
    assert_eq!((d.desired, &d.reason), (14, &Reason::Blocked));
    // Next period: 4 more.
    newer.push(Datapoint { timestamp: at(70), value: 200.0 });
    let d = h.step(80, &observe(14, 14, &[(CPU, newer)]));
    assert_eq!(d.desired, 18);
}

#[test]
fn percent_rate_limit_and_select_policy() {
    let rules = "      ScaleOut: {Policies: [{Type: Tasks, Value: 2, PeriodSeconds: 60}, {Type: Percent, Value: 50, PeriodSeconds: 60}], SelectPolicy: Max}\n";
    let confirmed = || points(-60, 60, &[200.0, 200.0]);
    let d = Harness::new(fast(rules)).step(15, &observe(10, 10, &[(CPU, confirmed())]));
    assert_eq!(d.desired, 15, "max of +2 and +50 %");
    let rules = rules.replace("Max", "Min");
    let d = Harness::new(fast(&rules)).step(15, &observe(10, 10, &[(CPU, confirmed())]));
    assert_eq!(d.desired, 12, "min of +2 and +50 %");
    let d = Harness::new(fast("      ScaleOut: {SelectPolicy: Disabled}\n"))
        .step(15, &observe(10, 10, &[(CPU, confirmed())]));
    assert_eq!(d.desired, 10);
}

#[test]
fn max_scale_in_per_evaluation() {
    let d = Harness::new(fast("      MaxScaleInPerEvaluation: 2\n      ScaleIn: {StabilizationWindowSeconds: 0}\n"))
        .step(15, &observe(10, 10, &[(CPU, points(10, 10, &[5.0]))]));
    assert_eq!(d.desired, 8);
    assert_eq!(d.blocked_by, vec![Block::MaxScaleInPerEvaluation { limit: 8 }]);
}

#[test]
fn task_warm_up_is_refused_with_its_reason() {
    // Removed: it needed per-task samples that the deployed controller
    // cannot read, so it never applied in Lambda (docs/configuration.md).
    let text = format!(
        "ScalableTargets:\n  - {{ResourceId: service/c/web, MinCapacity: 1, MaxCapacity: 9}}\nScalingPolicies:\n{}\nAutopilot:\n  Defaults:\n    TaskWarmupSeconds: 90\n",
        tt_policy("cpu", CPU, 50.0, "")
    );
    let err = ecs_autopilot::config::load_str(&text).unwrap_err().to_string();
    assert!(err.contains("Autopilot.Defaults.TaskWarmupSeconds"), "{err}");
    assert!(err.contains("per-task metric samples"), "{err}");
}

#[test]
fn fast_mode_uses_the_primary_deployments_running_tasks() {
    let mut obs = observe(10, 14, &[(CPU, minutes(0, &[80.0, 80.0]))]);
    obs.primary_running_count = Some(10);
    assert_eq!(Harness::new(fast("")).step(75, &obs).desired, 16);
}

#[test]
fn an_on_target_datapoint_of_the_tasks_before_a_scale_out_recommends_those_tasks_not_the_new_count() {
    // docs/configuration.md "fast mode": the scale-in stabilization records
    // what each new datapoint says is enough. A datapoint on target that 10
    // tasks produced (SampleCount 10) while 16 run says 10 are enough for
    // that demand; recording 16 would hold a useless scale-out a full
    // window longer (a flash crowd gone before the new tasks served).
    let mut h = Harness::new(fast("      ScaleIn: {StabilizationWindowSeconds: 300}\n"));
    // 10 tasks at 80 %, confirmed → 16.
    assert_eq!(h.step(15, &observe(10, 10, &[(CPU, points(-50, 60, &[80.0, 80.0]))])).desired, 16);
    // The next datapoint, still from the 10 old tasks: 47 %, in the band.
    let mut obs = observe(16, 16, &[(CPU, points(190, 10, &[47.0]))]);
    obs.sample_counts.insert(ecs_autopilot::config::MetricId(CPU.to_owned()), points(190, 10, &[10.0]));
    let d = h.step(200, &obs);
    assert_eq!((d.desired, &d.reason), (16, &Reason::NoChange));
    // 16 tasks at 20 % → 16×20/47.5 → 7; the window's largest recommendation
    // since t=30 is the 10 of t=200, so the scale-in goes to 10, not 16.
    let d = h.step(330, &observe(16, 16, &[(CPU, points(320, 10, &[20.0]))]));
    assert_eq!(d.blocked_by, vec![Block::StabilizationWindow { recommendation: 7, held_at: 10 }]);
    assert_eq!((d.desired, &d.reason), (10, &Reason::ScaledIn { policy: "cpu".into() }));
}

#[test]
fn a_steady_drain_below_the_band_scales_in_to_target_when_half_way_removes_nothing() {
    // docs/configuration.md "fast mode": 8 tasks at 42.5 % is below the
    // band (45), but half-way into it needs ceil(8×42.5/47.5) = 8: nothing
    // to remove. A load falling datapoint after datapoint goes on falling,
    // so the scale-in goes as far as the metric stays on target (7 → 48.6 %).
    let no_window = "      ScaleIn: {StabilizationWindowSeconds: 0}\n";
    let d =
        Harness::new(fast(no_window)).step(255, &observe(8, 8, &[(CPU, minutes(0, &[50.0, 48.0, 46.0, 44.5, 42.5]))]));
    assert_eq!((d.desired, &d.reason), (7, &Reason::ScaledIn { policy: "cpu".into() }));
    // The same reading amid noise (no steady fall) keeps the 8.
    let d =
        Harness::new(fast(no_window)).step(255, &observe(8, 8, &[(CPU, minutes(0, &[42.5, 44.0, 42.5, 44.0, 42.5]))]));
    assert_eq!((d.desired, &d.reason), (8, &Reason::AlreadyAtDesiredCapacity));
}

#[test]
fn a_receding_excess_confirms_nothing() {
    // docs/configuration.md "fast mode": a crowd's first minute reads 99 %,
    // its second (the crowd leaving part-way) 76 %: still above target, but
    // well below the datapoint before, so it is no confirmation — the probe
    // (10 → 11) stands and nothing more is added.
    let mut h = Harness::new(fast(""));
    assert_eq!(h.step(75, &observe(10, 10, &[(CPU, minutes(0, &[50.0, 99.0]))])).desired, 11);
    let d = h.step(135, &observe(11, 10, &[(CPU, minutes(0, &[50.0, 99.0, 76.0]))]));
    assert_eq!(d.desired, 11);
    assert_eq!(d.policies[0].evidence, Some(ecs_autopilot::decision::Evidence::Single { wanted: 16 }));
    // A second minute as high as the first confirms: 10 × 99 / 50 → 20.
    let mut h = Harness::new(fast(""));
    assert_eq!(h.step(75, &observe(10, 10, &[(CPU, minutes(0, &[50.0, 98.0]))])).desired, 11);
    assert_eq!(h.step(135, &observe(11, 10, &[(CPU, minutes(0, &[50.0, 98.0, 98.0]))])).desired, 20);
}
