//! Fuzz the event scanner in both validation modes: no input may panic, and
//! on any text the full mode accepts (valid JSON), `Validation::Referenced`
//! must give the same rules.
//! Run: `cargo +nightly fuzz run event` from the repository root.
#![no_main]

use ecs_autopilot::route::{Router, Scratch, Validation};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

fn router() -> &'static Router {
    static ROUTER: OnceLock<Router> = OnceLock::new();
    ROUTER.get_or_init(|| {
        Router::from_patterns([
            ("exists", r#"{"a":[{"exists":true}]}"#),
            ("nested", r#"{"b":{"c":["x", {"prefix":"y"}]}}"#),
            ("absent", r#"{"d":[{"exists":false}],"e":[{"numeric":[">",0]}]}"#),
        ])
        .expect("the fuzz router's patterns are valid")
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let router = router();
    let mut scratch = Scratch::default();
    let (mut full, mut referenced) = (Vec::new(), Vec::new());
    let checked = router.route_indexes_with(text, Validation::Full, &mut scratch, &mut full);
    let trusted = router.route_indexes_with(text, Validation::Referenced, &mut scratch, &mut referenced);
    if checked.is_ok() {
        assert!(trusted.is_ok(), "valid JSON rejected when only referenced values are checked: {text:?}");
        assert_eq!(full, referenced, "{text:?}");
    }
});
