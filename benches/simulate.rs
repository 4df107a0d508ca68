//! Closed-loop simulation speed (docs/simulation.md): both controllers —
//! the deployed stack's handlers on the simulated AWS, polling included —
//! over a simulated hour (spike, and cold-cluster with EC2 capacity) and a
//! simulated day (diurnal). Goal: an hour under 50 ms, a day under 0.5 s.
//! Reproduce: `cargo bench --bench simulate` (release, one core; prints the
//! best of five runs). Under `cargo test --all-targets` it runs each once.

use ecs_autopilot::sim::{self, Scenario};
use std::path::Path;
use std::time::{Duration, Instant};

fn scenario(name: &str) -> Scenario {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("examples/scenarios/{name}.yaml"));
    serde_yaml_ng::from_str(&std::fs::read_to_string(path).expect("scenario file")).expect("scenario")
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let rounds = if full { 5 } else { 1 };
    println!("| scenario | simulated | invocations' decisions | best of {rounds} | goal |");
    println!("|---|---|---|---|---|");
    for (name, goal) in [("spike", 50), ("cold-cluster", 50), ("diurnal", 500)] {
        let s = scenario(name);
        let mut best = Duration::MAX;
        let mut decisions = 0;
        for _ in 0..rounds {
            let start = Instant::now();
            let report = sim::simulate(&s).expect("scenario runs");
            best = best.min(start.elapsed());
            decisions = report.baseline.decisions.len() + report.autopilot.decisions.len();
        }
        let hours = f64::from(s.duration_seconds) / 3600.0;
        println!("| {name} | {hours} h | {decisions} | {:.1} ms | under {goal} ms |", best.as_secs_f64() * 1000.0);
    }
}
