//! Fuzz target `config_evaluate`: see `fuzz/bodies/mod.rs` for what it checks.
//! Run: `cargo +nightly fuzz run config_evaluate fuzz/corpus/config_evaluate` from the repository root.
#![no_main]

#[path = "../bodies/mod.rs"]
mod bodies;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    bodies::config_evaluate(data);
});
