//! Fuzz target `wildcard`: see `fuzz/bodies/mod.rs` for what it checks.
//! Run: `cargo +nightly fuzz run wildcard fuzz/corpus/wildcard` from the repository root.
#![no_main]

#[path = "../bodies/mod.rs"]
mod bodies;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    bodies::wildcard(data);
});
