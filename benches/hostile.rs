//! The hostile-input corpus on the release CLI (issue 16): every case of
//! `tests/fixtures/hostile/cases.json` must be refused as the case says
//! within 1 s and 200 MB (the address-space limit each case runs under).
//! Prints each case's time and the slowest; fails past the bound.
//! Reproduce: `cargo bench --bench hostile`. Under `cargo test
//! --all-targets` it runs the cases once without the time bound (the test
//! `tests/hostile.rs` checks the messages on every build).

#[path = "../tests/hostile_cases/mod.rs"]
mod hostile_cases;

use std::time::Duration;

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let binary = env!("CARGO_BIN_EXE_autopilot");
    let cases = hostile_cases::load();
    let bound = Duration::from_secs(1);
    let mut worst = (Duration::ZERO, String::new());
    let mut failures = Vec::new();
    if full {
        println!("| case | time |");
        println!("|---|---|");
    }
    for case in &cases {
        let outcome = hostile_cases::run(binary, case, Duration::from_secs(20));
        if let Err(why) = outcome.check(case) {
            failures.push(format!("{}: {why}", case.name));
        }
        if full {
            println!("| {} | {:.0} ms |", case.name, outcome.elapsed.as_secs_f64() * 1e3);
            if outcome.elapsed > bound {
                failures.push(format!("{}: {:?}, more than {bound:?}", case.name, outcome.elapsed));
            }
        }
        if outcome.elapsed > worst.0 {
            worst = (outcome.elapsed, case.name.clone());
        }
    }
    println!(
        "{} hostile cases, each under {} MiB of address space; slowest: {} ({:.0} ms)",
        cases.len(),
        hostile_cases::MEMORY_LIMIT_KB / 1024,
        worst.1,
        worst.0.as_secs_f64() * 1e3
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
