//! The control-quality bar on a sample of the sweep's runs
//! (docs/simulation.md "The sweep"): on these, ecs-autopilot's
//! under-provisioned task-seconds and flaps are no more than the AWS
//! baseline's and its task-hours at most 1.05 × — both on the same metric
//! stream. The full sweep (216 runs, with the shapes that cannot be won and
//! why) is the bench: `cargo bench --bench sweep`.

use ecs_autopilot::sim::{self, sweep};

fn report(name: &str) -> sim::Report {
    let case = sweep::cases(&[1, 2, 3])
        .into_iter()
        .find(|c| c.scenario.name == name)
        .unwrap_or_else(|| panic!("no sweep run {name}"));
    sim::simulate(&case.scenario).unwrap()
}

#[test]
fn fast_mode_meets_the_bar_on_a_sample_of_shapes_and_streams() {
    for name in [
        "step-x3-60s-seed1",
        "step-x10-20s-seed2",
        "ramp-30min-x3_00-60s-seed3",
        "ramp-60min-x5_00-20s-seed1",
        "sawtooth-8min-60s-seed2",
        "noise-1xtarget-spread0_15-20s-seed1",
        "noise-0_8xtarget-spread0_3-20s-seed3",
        "drop-to-zero-5min-60s-seed1",
        "drop-to-zero-20min-20s-seed2",
        "flash-crowd-300s-x4-20s-seed1",
    ] {
        let r = report(name);
        assert_eq!(r.baseline.metrics, r.autopilot.metrics, "{name}: one stream");
        let misses = sweep::misses(&r);
        assert!(
            misses.is_empty(),
            "{name} misses the bar on {misses:?}: {:?} vs {:?}",
            r.autopilot.score,
            r.baseline.score
        );
    }
}

#[test]
fn fast_mode_reacts_in_at_most_six_tenths_of_the_baseline_time_on_a_step() {
    for (name, bound) in [("step-x2-60s-seed1", 0.6), ("step-x2-20s-seed1", 0.5)] {
        let ratio = sweep::ratio(sweep::Row::Reaction, &report(name)).unwrap();
        assert!(ratio <= bound, "{name}: reaction ratio {ratio}");
    }
}

#[test]
fn the_bar_names_each_row_it_misses() {
    let mut r = report("step-x3-60s-seed1");
    r.autopilot.score.flaps = r.baseline.score.flaps + 1;
    r.autopilot.score.task_hours = r.baseline.score.task_hours * 1.06;
    r.autopilot.score.under_provisioned_task_seconds = r.baseline.score.under_provisioned_task_seconds + 1;
    assert_eq!(sweep::misses(&r), vec![sweep::Row::UnderProvisioned, sweep::Row::Flaps, sweep::Row::TaskHours]);
}
