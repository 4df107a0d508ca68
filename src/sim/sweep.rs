//! The control-quality sweep (docs/simulation.md "The sweep"): a family of
//! generated demand shapes nobody tuned for — steps, ramps, sawtooths,
//! noise, flash crowds, drops to zero, diurnal days — each on a 60-s and on
//! a 20-s stream, both controllers reading the same one, over several
//! seeds; and the comparison of each run's scorecards.
//!
//! Owns: the shapes and the "worse than the baseline" rules. May not touch:
//! files, the clock; running the scenarios is the caller's (the bench).

use super::engine::{Report, Score};
use super::scenario::{Demand, MetricPipeline, Scenario, ServiceModel};

/// The two streams every shape runs on: AWS's standard 60-s ECS metric
/// (readable about 150 s after its minute, docs/simulation.md) and the
/// 20-s high-resolution one.
pub const STREAMS: [MetricPipeline; 2] = [
    MetricPipeline { period_seconds: 60, delay_seconds: 150 },
    MetricPipeline { period_seconds: 20, delay_seconds: 20 },
];

/// Requests one task serves at 100 % CPU, and the target: a task holds
/// 50 requests/s on target.
const REQUESTS_PER_TASK: f64 = 100.0;
const TARGET: f64 = 50.0;

/// One generated run.
#[derive(Clone, Debug)]
pub struct SweepCase {
    /// The shape family (steps, ramps, …).
    pub family: &'static str,
    pub scenario: Scenario,
}

fn case(family: &'static str, name: String, seed: u64, duration: u32, demand: Demand, base: f64) -> Scenario {
    let initial = ((base / (REQUESTS_PER_TASK * TARGET / 100.0)).ceil() as u32).max(2);
    Scenario {
        // The name is the simulated service's: letters, digits, - and _.
        name: format!("{family}-{name}")
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' })
            .collect(),
        description: String::new(),
        duration_seconds: duration,
        seed,
        demand,
        service: ServiceModel {
            requests_per_task: REQUESTS_PER_TASK,
            initial_tasks: initial,
            initial_desired: None,
            task_start_seconds: (20, 40),
            healthy_after_seconds: 0,
            memory: None,
        },
        metrics: None,
        baseline_metrics: None,
        autopilot_metrics: None,
        autopilot_metrics_source: None,
        reaction_from_seconds: None,
        target_cpu_percent: TARGET,
        min_tasks: 2,
        max_tasks: 200,
        autopilot: None,
        scheduled_actions: Vec::new(),
        cluster: None,
        deployment: None,
        custom_metrics: Vec::new(),
    }
}

/// Points of a periodic shape: `shape(phase in [0, 1))` over `period`
/// seconds from `start` until `end`, `base` before.
fn periodic(base: f64, start: u32, end: u32, period: u32, shape: impl Fn(f64) -> f64) -> Demand {
    let mut points = vec![(0, base), (start, base)];
    let step = (period / 24).max(5);
    let mut t = start;
    while t < end {
        let phase = f64::from((t - start) % period) / f64::from(period);
        points.push((t, shape(phase)));
        t += step;
    }
    points.sort_by_key(|p| p.0);
    points.dedup_by_key(|p| p.0);
    Demand::Points { points }
}

/// Every run of the sweep for these seeds: per seed and stream, 5 steps,
/// 4 ramps, 5 sawtooths, 9 noise levels, 10 flash crowds, 2 drops to zero
/// and a diurnal day (36 runs); 3 seeds make 216.
#[must_use]
pub fn cases(seeds: &[u64]) -> Vec<SweepCase> {
    let mut out = Vec::new();
    for &seed in seeds {
        // The seed moves the base load (6 to 14 tasks) and the task start
        // times; noise draws follow it too.
        let base = 300.0 + 100.0 * (seed % 5) as f64 * 1.25;
        for stream in STREAMS {
            let mut push = |family: &'static str, name: String, duration, demand, reaction_from: Option<u32>| {
                let mut s =
                    case(family, format!("{name}-{}s-seed{seed}", stream.period_seconds), seed, duration, demand, base);
                s.metrics = Some(stream);
                s.reaction_from_seconds = reaction_from;
                out.push(SweepCase { family, scenario: s });
            };
            for factor in [1.5, 2.0, 3.0, 5.0, 10.0] {
                push("step", format!("x{factor}"), 3600, Demand::Step { base, factor, at_seconds: 600 }, Some(600));
            }
            for (minutes, factor) in [(10u32, 3.0), (30, 3.0), (60, 5.0), (30, 1.0 / 3.0)] {
                let demand =
                    Demand::Ramp { from: base, to: base * factor, start_seconds: 600, end_seconds: 600 + minutes * 60 };
                let rises = factor > 1.0;
                push(
                    "ramp",
                    format!("{minutes}min-x{factor:.2}"),
                    600 + minutes * 60 + 1800,
                    demand,
                    rises.then_some(600),
                );
            }
            for minutes in [2u32, 4, 8, 15, 30] {
                // Rises linearly from base to 4 × base over the period, then
                // drops back at once.
                let demand = periodic(base, 600, 7200, minutes * 60, |phase| base * (1.0 + 3.0 * phase));
                push("sawtooth", format!("{minutes}min"), 7200, demand, Some(600));
            }
            for level in [0.8, 1.0, 1.2] {
                for spread in [0.05, 0.15, 0.3] {
                    let demand = Demand::Noise { base: base * level, spread, every_seconds: 60 };
                    push("noise", format!("{level}xtarget-spread{spread}"), 7200, demand, None);
                }
            }
            for seconds in [30u32, 60, 90, 180, 300] {
                for height in [2.0, 4.0] {
                    let demand = Demand::Points {
                        points: vec![
                            (0, base),
                            (600, base),
                            (601, base * height),
                            (600 + seconds, base * height),
                            (601 + seconds, base),
                        ],
                    };
                    push("flash-crowd", format!("{seconds}s-x{height}"), 3600, demand, Some(600));
                }
            }
            for minutes in [5u32, 20] {
                let back = 1200 + minutes * 60;
                let demand = Demand::Points {
                    points: vec![(0, base), (1200, base), (1201, 0.0), (back, 0.0), (back + 1, base)],
                };
                push("drop-to-zero", format!("{minutes}min"), back + 2400, demand, Some(back));
            }
            let demand = Demand::Diurnal { mean: base * 2.0, amplitude: base * 1.8, period_seconds: 86_400 };
            push("diurnal", "day".to_owned(), 86_400, demand, None);
        }
    }
    out
}

/// One scorecard row compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Row {
    Reaction,
    UnderProvisioned,
    OverProvisioned,
    TaskHours,
    Actions,
    Flaps,
}

impl Row {
    pub const ALL: [Self; 6] =
        [Self::Reaction, Self::UnderProvisioned, Self::OverProvisioned, Self::TaskHours, Self::Actions, Self::Flaps];

    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            Self::Reaction => "reaction",
            Self::UnderProvisioned => "under-prov task-s",
            Self::OverProvisioned => "over-prov task-s",
            Self::TaskHours => "task-hours",
            Self::Actions => "actions",
            Self::Flaps => "flaps",
        }
    }

    /// The row's value in a scorecard (`None`: not measured, e.g. no
    /// reaction).
    #[must_use]
    pub fn value(self, s: &Score) -> Option<f64> {
        match self {
            Self::Reaction => s.reaction_decision_seconds.map(f64::from),
            Self::UnderProvisioned => Some(s.under_provisioned_task_seconds as f64),
            Self::OverProvisioned => Some(s.over_provisioned_task_seconds as f64),
            Self::TaskHours => Some(s.task_hours),
            Self::Actions => Some(f64::from(s.scaling_actions)),
            Self::Flaps => Some(f64::from(s.flaps)),
        }
    }
}

/// ecs-autopilot ÷ baseline for one row: 1 when both are 0, infinite when
/// only the baseline's is 0; `None` when either is not measured.
#[must_use]
pub fn ratio(row: Row, report: &Report) -> Option<f64> {
    Some(divide(row.value(&report.autopilot.score)?, row.value(&report.baseline.score)?))
}

/// `ours ÷ theirs`: 1 when both are 0, infinite when only `theirs` is.
#[must_use]
pub fn divide(ours: f64, theirs: f64) -> f64 {
    match (ours == 0.0, theirs == 0.0) {
        (true, true) => 1.0,
        (false, true) => f64::INFINITY,
        _ => ours / theirs,
    }
}

/// The bar on every run (docs/simulation.md "The sweep"): under-
/// provisioned task-seconds and flaps no more than the baseline's,
/// task-hours at most 1.05 × the baseline's. Returns the rows that miss it.
#[must_use]
pub fn misses(report: &Report) -> Vec<Row> {
    let (a, b) = (&report.autopilot.score, &report.baseline.score);
    let mut out = Vec::new();
    if a.under_provisioned_task_seconds > b.under_provisioned_task_seconds {
        out.push(Row::UnderProvisioned);
    }
    if a.flaps > b.flaps {
        out.push(Row::Flaps);
    }
    if a.task_hours > b.task_hours * 1.05 {
        out.push(Row::TaskHours);
    }
    out
}

/// Rows where ecs-autopilot's figure is larger than the baseline's (a
/// reaction measured by one controller only counts against the one that
/// never reacted).
#[must_use]
pub fn worse(report: &Report) -> Vec<Row> {
    Row::ALL
        .into_iter()
        .filter(|row| {
            let (a, b) = (row.value(&report.autopilot.score), row.value(&report.baseline.score));
            match (a, b) {
                (Some(a), Some(b)) => a > b + f64::EPSILON,
                (None, Some(_)) => *row == Row::Reaction,
                _ => false,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn three_seeds_make_at_least_two_hundred_runs_each_valid() {
        let all = cases(&[1, 2, 3]);
        assert_eq!(all.len(), 216);
        for c in &all {
            let streams = c.scenario.streams().expect("one stream");
            assert_eq!(streams.fairness, super::super::scenario::Fairness::SameStream, "{}", c.scenario.name);
        }
        let names: std::collections::BTreeSet<_> = all.iter().map(|c| c.scenario.name.clone()).collect();
        assert_eq!(names.len(), all.len(), "names are unique");
    }
}
