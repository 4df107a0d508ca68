//! The compiled router agrees with the plain recursive reference interpreter
//! on random patterns and events; neither the pattern compiler nor the event
//! scanner panics on arbitrary input.

use ecs_autopilot::route::json::Json;
use ecs_autopilot::route::{compile_str, reference, Router, Rule};
use proptest::prelude::*;

fn scalar() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "\"x\"",
        "\"y\"",
        "\"X\"",
        "\"\"",
        "\"xy\"",
        "\"10.0.0.1\"",
        "\"10.0.0.01\"",
        "1",
        "1.0",
        "2",
        "-0",
        "3e2",
        "300",
        "true",
        "false",
        "null",
        "1e400",
    ])
    .prop_map(str::to_owned)
}

fn event_value() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        4 => scalar(),
        1 => prop::collection::vec(scalar(), 0..3).prop_map(|v| format!("[{}]", v.join(","))),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec((prop::sample::select(vec!["a", "b", "c"]), inner.clone()), 0..3).prop_map(
                |m| format!("{{{}}}", m.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect::<Vec<_>>().join(","))
            ),
            prop::collection::vec(inner, 0..3).prop_map(|v| format!("[{}]", v.join(","))),
        ]
    })
}

fn event() -> impl Strategy<Value = String> {
    prop::collection::vec((prop::sample::select(vec!["a", "b", "c", "a.b"]), event_value()), 0..4)
        .prop_map(|m| format!("{{{}}}", m.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect::<Vec<_>>().join(",")))
}

fn matcher() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "\"x\"",
        "\"X\"",
        "\"\"",
        "1",
        "300",
        "null",
        "true",
        "\"10.0.0.1\"",
        "{\"prefix\":\"x\"}",
        "{\"prefix\":\"\"}",
        "{\"suffix\":\"y\"}",
        "{\"prefix\":{\"equals-ignore-case\":\"X\"}}",
        "{\"equals-ignore-case\":\"xY\"}",
        "{\"wildcard\":\"x*\"}",
        "{\"wildcard\":\"*\"}",
        "{\"anything-but\":\"x\"}",
        "{\"anything-but\":[1,2]}",
        "{\"anything-but\":{\"prefix\":\"x\"}}",
        "{\"numeric\":[\">\",0,\"<=\",2]}",
        "{\"numeric\":[\"=\",300]}",
        "{\"exists\":true}",
        "{\"exists\":false}",
        "{\"cidr\":\"10.0.0.0/24\"}",
    ])
    .prop_map(str::to_owned)
}

fn pattern_object(depth: u32) -> BoxedStrategy<String> {
    let leaf = prop::collection::vec(matcher(), 1..3).prop_map(|v| format!("[{}]", v.join(",")));
    let member: BoxedStrategy<String> =
        if depth == 0 { leaf.boxed() } else { prop_oneof![3 => leaf, 1 => pattern_object(depth - 1)].boxed() };
    let members = prop::collection::vec((prop::sample::select(vec!["a", "b", "c"]), member), 1..3);
    let or = if depth == 0 {
        Just(None).boxed()
    } else {
        prop::option::weighted(0.3, prop::collection::vec(pattern_object(depth - 1), 2..3)).boxed()
    };
    (members, or)
        .prop_map(|(members, or)| {
            let mut parts: Vec<String> = members.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect();
            if let Some(alternatives) = or {
                parts.push(format!("\"$or\":[{}]", alternatives.join(",")));
            }
            format!("{{{}}}", parts.join(","))
        })
        .boxed()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(2000), ..ProptestConfig::default() })]

    #[test]
    fn router_agrees_with_reference(patterns in prop::collection::vec(pattern_object(2), 1..4), events in prop::collection::vec(event(), 1..4)) {
        let compiled: Vec<_> = patterns.iter().filter_map(|p| compile_str(p).ok()).collect();
        let router = Router::new(compiled.iter().enumerate().map(|(i, p)| Rule { name: format!("r{i}"), pattern: p.clone() }).collect());
        for event in &events {
            let routed = router.route(event).unwrap();
            let doc = Json::parse_event(event).unwrap();
            let expected: Vec<String> = compiled.iter().enumerate().filter(|(_, p)| reference::matches(p, &doc)).map(|(i, _)| format!("r{i}")).collect();
            prop_assert_eq!(routed, expected.iter().map(String::as_str).collect::<Vec<_>>(), "event {} patterns {:?}", event, patterns);
        }
    }

    #[test]
    fn compiler_and_scanner_never_panic(text in ".{0,200}", json in event()) {
        let _ = compile_str(&text);
        let _ = compile_str(&json);
        let router = Router::from_patterns([("r", "{\"a\":[{\"exists\":true}],\"b\":{\"c\":[\"x\"]}}")]).unwrap();
        let _ = router.route(&text);
        let _ = router.route(&json);
        // Truncations of a valid event are malformed, never a panic.
        for cut in 0..json.len() {
            if json.is_char_boundary(cut) {
                let _ = router.route(&json[..cut]);
            }
        }
    }
}
