//! The 157 AWS-validated cases (LocalStack's templates, outcomes recorded
//! from the real `TestEventPattern` API; event-patterns §0): every match,
//! no-match and invalid-pattern reason must agree.

use ecs_autopilot::route::json::Json;
use ecs_autopilot::route::{test_event_pattern, TestPatternError};

fn field<'j>(case: &'j Json, name: &str) -> Option<&'j Json> {
    match case {
        Json::Object(members) => members.iter().find(|(k, _)| k == name).map(|(_, v)| v),
        _ => None,
    }
}

fn text(case: &Json, raw: &str, parsed: &str) -> String {
    match (field(case, raw), field(case, parsed)) {
        (Some(Json::String(s)), _) => s.clone(),
        (_, Some(v)) => v.to_string(),
        _ => panic!("case without {parsed}"),
    }
}

/// AWS's reason: the text between "Reason: " and the Jackson location.
fn aws_reason(message: &str) -> &str {
    let reason = message.split_once("Reason: ").map_or(message, |(_, r)| r);
    reason.split("\n at [Source").next().unwrap_or(reason)
}

#[test]
fn all_aws_validated_cases_agree() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/patterns/aws-validated-cases.json");
    let file = Json::parse(&std::fs::read_to_string(path).unwrap()).unwrap();
    let Some(Json::Array(cases)) = field(&file, "cases") else { panic!("no cases") };
    assert_eq!(cases.len(), 157);
    let mut failures = Vec::new();
    for case in cases {
        let Some(Json::String(name)) = field(case, "name") else { panic!() };
        let Some(Json::String(expected)) = field(case, "expected") else { panic!() };
        let pattern = text(case, "pattern_raw", "pattern");
        let event = text(case, "event_raw", "event");
        let got = test_event_pattern(&pattern, &event);
        let ok = match (expected.as_str(), &got) {
            ("match", Ok(true)) | ("no_match", Ok(false)) => true,
            ("error", Err(TestPatternError::Pattern(e))) => {
                let Some(Json::String(message)) = field(case, "aws_error_message") else { panic!() };
                e.reason == aws_reason(message)
            }
            _ => false,
        };
        if !ok {
            failures
                .push(format!("{name}: expected {expected}, got {got:?}\n    pattern {pattern}\n    event {event}"));
        }
    }
    assert!(failures.is_empty(), "{} of 157 disagree:\n{}", failures.len(), failures.join("\n"));
}

/// Our own cases: the documented operator examples and the edge cases of docs/event-patterns.md
/// (number spellings, Unicode, escaped wildcards, anything-but on arrays and
/// null, exists on [] and null, array consistency, CIDR quirks). Each runs
/// through the router and the reference interpreter.
#[test]
fn edge_case_file_agrees_with_router_and_reference() {
    use ecs_autopilot::route::{compile_str, reference};
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/patterns/edge-cases.json");
    let Json::Array(cases) = Json::parse(&std::fs::read_to_string(path).unwrap()).unwrap() else { panic!() };
    let mut failures = Vec::new();
    for case in &cases {
        let Some(Json::String(name)) = field(case, "name") else { panic!() };
        let Some(Json::String(expected)) = field(case, "expected") else { panic!("{name}") };
        let pattern = text(case, "pattern_raw", "pattern");
        if expected == "error" {
            let Some(Json::String(reason)) = field(case, "reason") else { panic!("{name}") };
            match compile_str(&pattern) {
                Err(e) if &e.reason == reason => {}
                other => failures.push(format!("{name}: expected error {reason:?}, got {other:?}")),
            }
            continue;
        }
        let event = text(case, "event_raw", "event");
        let want = expected == "match";
        let routed = test_event_pattern(&pattern, &event);
        let by_reference = compile_str(&pattern).map(|p| reference::matches(&p, &Json::parse_event(&event).unwrap()));
        if routed != Ok(want) || by_reference != Ok(want) {
            failures.push(format!("{name}: expected {expected}, router {routed:?}, reference {by_reference:?}"));
        }
    }
    assert!(cases.len() >= 100);
    assert!(failures.is_empty(), "{} of {} disagree:\n{}", failures.len(), cases.len(), failures.join("\n"));
}

#[test]
fn a_malformed_event_reports_its_offset_and_leaves_no_stale_matches() {
    use ecs_autopilot::route::{Router, Scratch};
    let router = Router::from_patterns([("a", r#"{"detail": {"n": [1]}}"#)]).unwrap();
    let (mut scratch, mut matched) = (Scratch::default(), Vec::new());
    router.route_indexes(r#"{"detail": {"n": 1, "skip": [{"x": -1.5e3}]}}"#, &mut scratch, &mut matched).unwrap();
    assert_eq!(matched, [0]);
    // The same scratch and output, then an event broken inside a skipped value.
    let error = router
        .route_indexes(r#"{"detail": {"n": 1, "skip": [{"x": -1.5e}]}}"#, &mut scratch, &mut matched)
        .unwrap_err();
    assert_eq!((error.offset, error.message), (35, "invalid number"));
    assert!(matched.is_empty(), "matches of the previous event must not survive an error");
    // And the scratch still works afterwards.
    router.route_indexes(r#"{"detail": {"n": 1}}"#, &mut scratch, &mut matched).unwrap();
    assert_eq!(matched, [0]);
}
