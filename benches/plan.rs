//! `autopilot plan` over a week × 100 services (issue 18): the replay
//! bench's recording replayed under the current configuration and a
//! proposed one (TargetValue 60 -> 50), the replays in parallel; once with
//! an AWS-shaped current configuration (its AWS reference is the current
//! run: two replays) and once with a `fast` one (three replays).
//! Reproduce: `cargo bench --bench plan`. Goal: under 10 s.
//! Under `cargo test --all-targets` it plans one hour of 10 services as a check.

#[path = "support/week.rs"]
mod week;

use ecs_autopilot::plan::{plan, History};
use ecs_autopilot::replay::Line;
use std::time::Instant;

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let (services, seconds) = if full { (100usize, 7 * 86_400i64) } else { (10, 3_600) };
    let recording = week::recording(services, seconds);
    let lines: Vec<Line<'_>> =
        recording.lines.iter().enumerate().map(|(i, t)| Line { number: i + 1, text: t }).collect();
    let history =
        History { stack: &recording.stack, initial: &recording.initial, metrics: &recording.metrics, lines: &lines };
    let fast = serde_json::json!({"Autopilot": {"Defaults": {"EvaluationMode": "fast"}}});
    let cases = [
        ("aws-shaped current (2 replays)", week::config(services, 60.0, serde_json::json!({}))),
        ("fast current (3 replays)", week::config(services, 60.0, fast)),
    ];
    let proposed = week::config(services, 50.0, serde_json::json!({}));
    if full {
        println!("| case | services | simulated | datapoints | events | evaluations per run | services differing | wall time |");
        println!("|---|---|---|---|---|---|---|---|");
    }
    // PLAN_CASE=aws or fast runs one case (for profiling).
    let only = std::env::var("PLAN_CASE").ok();
    for (name, current) in &cases {
        if only.as_deref().is_some_and(|o| !name.starts_with(o)) {
            continue;
        }
        let start = Instant::now();
        let p = plan(current, &proposed, history).unwrap();
        let elapsed = start.elapsed().as_secs_f64();
        let differing = p.services.iter().filter(|s| s.differs()).count();
        assert_eq!(p.services.len(), services);
        assert!(differing > 0, "a lower target must change something");
        let evaluations = p.services.iter().filter_map(|s| s.current.as_ref()).map(|r| r.evaluations).sum::<u64>();
        assert!(evaluations as usize >= services * (seconds as usize / 60), "every service every minute");
        if full {
            println!(
                "| {name} | {services} | {} days | {} | {} | {evaluations} | {differing} | {elapsed:.2} s |",
                seconds / 86_400,
                recording.points,
                lines.len()
            );
        } else {
            println!("plan check ({name}): {differing} of {services} services differ (run `cargo bench --bench plan` for figures)");
        }
    }
}
