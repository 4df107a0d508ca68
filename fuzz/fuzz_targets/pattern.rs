//! Fuzz the pattern compiler and the event scanner: no input may panic.
//! Run: `cargo +nightly fuzz run pattern` from the repository root.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = ecs_autopilot::route::compile_str(text);
        let _ = ecs_autopilot::route::test_event_pattern(r#"{"a":[{"exists":true}],"b":{"c":[{"numeric":[">",0]}]}}"#, text);
    }
});
