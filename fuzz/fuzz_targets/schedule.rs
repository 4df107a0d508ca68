//! Fuzz target `schedule`: see `fuzz/bodies/mod.rs` for what it checks.
//! Run: `cargo +nightly fuzz run schedule fuzz/corpus/schedule` from the repository root.
#![no_main]

#[path = "../bodies/mod.rs"]
mod bodies;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    bodies::schedule(data);
});
