//! Replay throughput (issue 5): one week × 100 services × 10-second CPU
//! datapoints, plus task state-change events, through the open-loop replay
//! (routing, ledger, controller every minute and on every event).
//! Reproduce: `cargo bench --bench replay`. Goal: under 10 s on one core.
//! Under `cargo test --all-targets` it replays one hour as a check.

#[path = "support/week.rs"]
mod week;

use ecs_autopilot::replay::{replay_streaming, Line};
use std::time::Instant;

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let (services, seconds) = match (full, std::env::var("REPLAY_SCALE").ok().as_deref()) {
        (true, Some("day")) => (10usize, 86_400i64),
        (true, _) => (100, 7 * 86_400),
        (false, _) => (10, 3_600),
    };
    let cfg = week::config(services, 60.0, serde_json::json!({}));
    let week::Recording { stack: router, metrics, points, lines: lines_text, initial } =
        week::recording(services, seconds);
    let lines: Vec<Line<'_>> = lines_text.iter().enumerate().map(|(i, t)| Line { number: i + 1, text: t }).collect();
    let start = Instant::now();
    // Records are streamed, as the CLI does: memory stays flat.
    let mut acting = 0u64;
    let mut sink = |record: ecs_autopilot::replay::Streamed<'_>| {
        if let ecs_autopilot::replay::Streamed::Controller { decision, .. } = record {
            acting += u64::from(!decision.actions.is_empty());
        }
    };
    let out = replay_streaming(&cfg, &router, &initial, &metrics, &lines, None, &mut sink, &mut |_, _| {}).unwrap();
    let elapsed = start.elapsed().as_secs_f64();
    assert!(out.decisions.is_empty(), "streamed, not kept");
    assert!(
        out.evaluations as usize >= services * (seconds as usize / 60),
        "one evaluation per service per minute at least"
    );
    assert!(acting > 0, "the services scale");
    assert_eq!(out.events as usize, lines.len());
    if full {
        println!("| services | simulated | datapoints | events | evaluations | wall time | events/s |");
        println!("|---|---|---|---|---|---|---|");
        println!(
            "| {services} | {} days | {points} | {} | {} | {elapsed:.2} s | {:.0} |",
            seconds / 86_400,
            lines.len(),
            out.evaluations,
            lines.len() as f64 / elapsed
        );
    } else {
        println!(
            "replay check: {} events, {} evaluations (test build; run `cargo bench --bench replay` for figures)",
            lines.len(),
            out.evaluations
        );
    }
}
