//! The control-quality sweep (docs/simulation.md "The sweep"): 216 runs of
//! generated demand shapes, both controllers on the same stream (60 s and
//! 20 s), three seeds. Prints, per shape family and stream, ecs-autopilot ÷
//! baseline for each scorecard row (median reaction; the others as the
//! ratio of the family's totals), then every run that misses the bar
//! (under-provisioned and flaps ≤ baseline, task-hours ≤ 1.05×) and every
//! run where ecs-autopilot is worse on any row.
//! Reproduce: `cargo bench --bench sweep` (add a word to keep only the runs
//! whose name contains it, e.g. `cargo bench --bench sweep -- sawtooth`).
//! Under `cargo test --all-targets` it runs four cases. `SWEEP_DUMP=dir`
//! also writes the selected runs as scenario files; `SWEEP_TRACE=1` prints
//! their desired-count changes.

use ecs_autopilot::sim::sweep::{self, Row, SweepCase};
use ecs_autopilot::sim::{self, Report};
use std::time::Instant;

/// Which rows of a run to list.
type RowsOf = fn(&Report) -> Vec<Row>;

fn run(case: &SweepCase) -> Report {
    sim::simulate(&case.scenario).unwrap_or_else(|e| panic!("{}: {e}", case.scenario.name))
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    v.retain(|x| x.is_finite());
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    Some(if v.len() % 2 == 1 { v[v.len() / 2] } else { (v[v.len() / 2 - 1] + v[v.len() / 2]) / 2.0 })
}

fn show(x: Option<f64>) -> String {
    match x {
        Some(v) if v.is_infinite() => "∞".to_owned(),
        Some(v) => format!("{v:.2}"),
        None => "-".to_owned(),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let full = args.iter().any(|a| a == "--bench");
    let filter: Vec<&String> = args.iter().filter(|a| !a.starts_with("--")).collect();
    let mut cases = sweep::cases(&[1, 2, 3]);
    cases.retain(|c| filter.iter().all(|f| c.scenario.name.contains(f.as_str())));
    if !full {
        cases =
            cases.into_iter().filter(|c| c.family == "step" || c.family == "flash-crowd").step_by(9).take(4).collect();
    }
    // SWEEP_DUMP=dir writes each selected run as a scenario file, to look
    // at one with `autopilot replay --scenario dir/NAME.yaml --chart …`.
    if let Some(dir) = std::env::var_os("SWEEP_DUMP") {
        let dir = std::path::PathBuf::from(dir);
        std::fs::create_dir_all(&dir).expect("dump directory");
        for c in &cases {
            let text = serde_yaml_ng::to_string(&c.scenario).expect("scenario as YAML");
            std::fs::write(dir.join(format!("{}.yaml", c.scenario.name)), text).expect("write scenario");
        }
    }
    let started = Instant::now();
    // Two workers: the machine has two cores.
    let (left, right) = cases.split_at(cases.len() / 2);
    let reports: Vec<(&SweepCase, Report)> = std::thread::scope(|scope| {
        let a = scope.spawn(|| left.iter().map(|c| (c, run(c))).collect::<Vec<_>>());
        let b = right.iter().map(|c| (c, run(c))).collect::<Vec<_>>();
        let mut all = a.join().expect("worker");
        all.extend(b);
        all
    });
    let elapsed = started.elapsed();
    // SWEEP_TRACE=1 prints each selected run's desired-count changes
    // (t: desired), both controllers, to see why a run misses the bar.
    if std::env::var_os("SWEEP_TRACE").is_some() {
        for (c, r) in &reports {
            for run in [&r.baseline, &r.autopilot] {
                let mut last = None;
                let changes: Vec<String> = run
                    .samples
                    .iter()
                    .filter(|s| last.replace(s.desired) != Some(s.desired))
                    .map(|s| format!("{}:{}", s.t, s.desired))
                    .collect();
                println!("{} {:?}: {}", c.scenario.name, run.controller, changes.join(" "));
            }
            // SWEEP_TRACE=decisions also prints ecs-autopilot's decisions
            // that were held back or changed the count; SWEEP_TRACE=all
            // prints every decision.
            let trace = std::env::var("SWEEP_TRACE").unwrap_or_default();
            if trace == "decisions" || trace == "all" {
                let shown = |d: &&ecs_autopilot::decision::Decision| {
                    trace == "all" || d.desired != d.current || !d.blocked_by.is_empty()
                };
                for d in r.autopilot.decisions.iter().filter(shown) {
                    let value: Vec<String> = d
                        .policies
                        .iter()
                        .map(|p| {
                            format!(
                                "{:?}@{:?}",
                                p.metric_value,
                                p.metric_time.map(|t| t.as_second() - sim::engine::EPOCH_SECONDS)
                            )
                        })
                        .collect();
                    println!(
                        "  t={} {}→{} running {} computed {:?} {:?} blocked {:?} metrics {}",
                        d.time.as_second() - sim::engine::EPOCH_SECONDS,
                        d.current,
                        d.desired,
                        d.running,
                        d.computed,
                        d.reason,
                        d.blocked_by,
                        value.join(",")
                    );
                }
            }
        }
    }
    println!("{} runs in {:.1} s (both controllers each)\n", reports.len(), elapsed.as_secs_f64());
    println!("| family | stream | runs | reaction (median) | under-prov | over-prov | task-hours | actions | flaps | runs missing the bar |");
    println!("|---|---|---|---|---|---|---|---|---|---|");
    let mut families: Vec<&str> = Vec::new();
    for (c, _) in &reports {
        if !families.contains(&c.family) {
            families.push(c.family);
        }
    }
    for family in families {
        for stream in sweep::STREAMS {
            let rows: Vec<&Report> = reports
                .iter()
                .filter(|(c, r)| c.family == family && r.baseline.metrics == stream)
                .map(|(_, r)| r)
                .collect();
            if rows.is_empty() {
                continue;
            }
            let total = |row: Row, of: fn(&Report) -> &sim::Score| -> f64 {
                rows.iter().filter_map(|r| row.value(of(r))).sum()
            };
            let sums =
                |row: Row| Some(sweep::divide(total(row, |r| &r.autopilot.score), total(row, |r| &r.baseline.score)));
            let reaction = median(rows.iter().filter_map(|r| sweep::ratio(Row::Reaction, r)).collect());
            let missing = rows.iter().filter(|r| !sweep::misses(r).is_empty()).count();
            println!(
                "| {family} | {} s | {} | {} | {} | {} | {} | {} | {} | {missing} |",
                stream.period_seconds,
                rows.len(),
                show(reaction),
                show(sums(Row::UnderProvisioned)),
                show(sums(Row::OverProvisioned)),
                show(sums(Row::TaskHours)),
                show(sums(Row::Actions)),
                show(sums(Row::Flaps)),
            );
        }
    }
    for stream in sweep::STREAMS {
        let all: Vec<f64> = reports
            .iter()
            .filter(|(_, r)| r.baseline.metrics == stream)
            .filter_map(|(_, r)| sweep::ratio(Row::Reaction, r))
            .collect();
        println!("\nmedian reaction ratio on the {} s stream: {}", stream.period_seconds, show(median(all)));
    }
    let lists: [(&str, RowsOf); 2] = [
        ("miss the bar (under-prov > baseline, flaps > baseline or task-hours > 1.05×)", sweep::misses),
        ("where ecs-autopilot is worse on some row", sweep::worse),
    ];
    for (title, rows_of) in lists {
        let listed: Vec<_> = reports.iter().filter(|(_, r)| !rows_of(r).is_empty()).collect();
        println!("\n{} runs {title}:", listed.len());
        for (c, r) in &listed {
            let rows: Vec<String> =
                rows_of(r).into_iter().map(|row| format!("{} {}", row.label(), show(sweep::ratio(row, r)))).collect();
            println!("  {}: {}", c.scenario.name, rows.join(", "));
        }
    }
}
