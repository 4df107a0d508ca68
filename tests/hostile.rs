//! The hostile-input corpus (`tests/fixtures/hostile/cases.json`, issue 16):
//! every case runs the CLI and must end with its exit status (2: bad input)
//! and a message naming the field or the limit, never a panic, an abort or
//! a hang, within 200 MB of address space. The 1-s bound is measured on the
//! release build by `cargo bench --bench hostile` (BENCHMARKS.md); here
//! each case only has to finish well within a hang guard.

mod hostile_cases;

use hostile_cases::{load, run, MEMORY_LIMIT_KB};
use std::time::Duration;

#[test]
fn every_hostile_input_is_refused_naming_the_field_or_limit() {
    let binary = env!("CARGO_BIN_EXE_autopilot");
    let mut failures = Vec::new();
    let cases = load();
    assert!(cases.len() >= 40, "the corpus has its cases");
    for case in &cases {
        let outcome = run(binary, case, Duration::from_secs(20));
        if let Err(why) = outcome.check(case) {
            failures.push(format!("{}: {why}", case.name));
        }
    }
    assert!(failures.is_empty(), "{} of {} cases failed:\n{}", failures.len(), cases.len(), failures.join("\n"));
    const { assert!(MEMORY_LIMIT_KB <= 200 * 1024) };
}
