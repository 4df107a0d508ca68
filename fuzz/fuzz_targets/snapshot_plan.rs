//! Fuzz target `snapshot_plan`: see `fuzz/bodies/mod.rs` for what it checks.
//! Run: `cargo +nightly fuzz run snapshot_plan fuzz/corpus/snapshot_plan` from the repository root.
#![no_main]

#[path = "../bodies/mod.rs"]
mod bodies;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    bodies::snapshot_plan(data);
});
