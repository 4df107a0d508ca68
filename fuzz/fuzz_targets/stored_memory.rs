//! Fuzz target `stored_memory`: see `fuzz/bodies/mod.rs` for what it checks.
//! Run: `cargo +nightly fuzz run stored_memory fuzz/corpus/stored_memory` from the repository root.
#![no_main]

#[path = "../bodies/mod.rs"]
mod bodies;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    bodies::stored_memory(data);
});
