//! The compiled router agrees with the plain recursive reference interpreter
//! on random patterns and events; neither the pattern compiler nor the event
//! scanner panics on arbitrary input.

use ecs_autopilot::route::json::Json;
use ecs_autopilot::route::{compile_str, reference, Router, Rule, Scratch, Validation};
use proptest::prelude::*;

fn scalar() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "\"x\"",
        "\"y\"",
        "\"X\"",
        "\"\"",
        "\"xy\"",
        "\"XY\"",
        "\"yXy\"",
        "\"É\"",
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
        // Brackets and escaped quotes inside a string: the bracket walk of
        // `Validation::Referenced` must not count them.
        r#""]}\"[{\\""#,
        r#""}]{""#,
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
        // Several lengths and kinds on one path meet in the affix index.
        "{\"prefix\":\"xy\"}",
        "{\"suffix\":\"xy\"}",
        "{\"suffix\":{\"equals-ignore-case\":\"Y\"}}",
        "{\"prefix\":{\"equals-ignore-case\":\"xY\"}}",
        "{\"equals-ignore-case\":\"X\"}",
        "{\"equals-ignore-case\":\"é\"}",
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

/// Events that mostly share one member layout (the router remembers the
/// last layout per object, module `shape`): the same keys in the same order
/// with other values, and variants that drop, add or space out members.
fn same_layout_events() -> impl Strategy<Value = Vec<String>> {
    let keys = prop::collection::vec(prop::sample::select(vec!["a", "b", "c", "a.b", "d"]), 1..5);
    let rows = prop::collection::vec((prop::collection::vec(event_value(), 5), 0usize..6), 1..6);
    (keys, rows).prop_map(|(keys, rows)| {
        rows.into_iter()
            .map(|(values, variant)| {
                let mut members: Vec<String> = keys.iter().zip(&values).map(|(k, v)| format!("\"{k}\":{v}")).collect();
                match variant {
                    1 => drop(members.pop()),
                    2 => members.push("\"e\":1".to_owned()),
                    3 => return format!("{{ {} }}", members.join(" , ")),
                    _ => {}
                }
                format!("{{{}}}", members.join(","))
            })
            .collect()
    })
}

/// The rule indexes `router` gives `event` with `scratch`, and the ones the
/// reference interpreter gives.
fn routed_and_expected(
    router: &Router,
    compiled: &[ecs_autopilot::route::pattern::Pattern],
    event: &str,
    scratch: &mut Scratch,
) -> (Vec<usize>, Vec<usize>) {
    let mut routed = Vec::new();
    router.route_indexes(event, scratch, &mut routed).unwrap();
    let doc = Json::parse_event(event).unwrap();
    let expected = compiled.iter().enumerate().filter(|(_, p)| reference::matches(p, &doc)).map(|(i, _)| i).collect();
    (routed, expected)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(2000), ..ProptestConfig::default() })]

    #[test]
    fn router_agrees_with_reference(patterns in prop::collection::vec(pattern_object(2), 1..4), events in prop::collection::vec(event(), 1..4)) {
        let compiled: Vec<_> = patterns.iter().filter_map(|p| compile_str(p).ok()).collect();
        let router = Router::new(compiled.iter().enumerate().map(|(i, p)| Rule { name: format!("r{i}"), pattern: p.clone() }).collect());
        let mut scratch = Scratch::default();
        for event in &events {
            let routed = router.route(event).unwrap();
            let doc = Json::parse_event(event).unwrap();
            let expected: Vec<String> = compiled.iter().enumerate().filter(|(_, p)| reference::matches(p, &doc)).map(|(i, _)| format!("r{i}")).collect();
            prop_assert_eq!(routed, expected.iter().map(String::as_str).collect::<Vec<_>>(), "event {} patterns {:?}", event, patterns);
            // Valid JSON: checking only what is read gives the same answer.
            let mut referenced = Vec::new();
            router.route_indexes_with(event, Validation::Referenced, &mut scratch, &mut referenced).unwrap();
            let expected: Vec<usize> = compiled.iter().enumerate().filter(|(_, p)| reference::matches(p, &doc)).map(|(i, _)| i).collect();
            prop_assert_eq!(referenced, expected, "referenced, event {} patterns {:?}", event, patterns);
        }
    }

    #[test]
    fn compiler_and_scanner_never_panic(text in ".{0,200}", json in event()) {
        let _ = compile_str(&text);
        let _ = compile_str(&json);
        let router = Router::from_patterns([("r", "{\"a\":[{\"exists\":true}],\"b\":{\"c\":[\"x\"]}}")]).unwrap();
        let _ = router.route(&text);
        let _ = router.route(&json);
        let mut scratch = Scratch::default();
        let mut out = Vec::new();
        let _ = router.route_indexes_with(&text, Validation::Referenced, &mut scratch, &mut out);
        // Truncations of a valid event are malformed, never a panic.
        for cut in 0..json.len() {
            if json.is_char_boundary(cut) {
                let _ = router.route(&json[..cut]);
                let _ = router.route_indexes_with(&json[..cut], Validation::Referenced, &mut scratch, &mut out);
            }
        }
    }

    /// Enough prefix, suffix and ignore-case rules on one path for the
    /// router to index them by length (and hash the bigger groups): every
    /// answer is still the reference's.
    #[test]
    fn many_affix_rules_on_one_path_agree_with_reference(
        rules in prop::collection::vec(
            (0usize..5, "[xyzwXYZW]{0,3}"),
            17..150,
        ),
        values in prop::collection::vec("[xyzwXYZWé]{0,4}", 1..8),
    ) {
        let patterns: Vec<String> = rules
            .iter()
            .map(|(kind, text)| {
                let matcher = match kind {
                    0 => format!(r#"{{"prefix":"{text}"}}"#),
                    1 => format!(r#"{{"suffix":"{text}"}}"#),
                    2 => format!(r#"{{"prefix":{{"equals-ignore-case":"{text}"}}}}"#),
                    3 => format!(r#"{{"suffix":{{"equals-ignore-case":"{text}"}}}}"#),
                    _ => format!(r#"{{"equals-ignore-case":"{text}"}}"#),
                };
                format!(r#"{{"a":[{matcher}]}}"#)
            })
            .collect();
        let compiled: Vec<_> = patterns.iter().filter_map(|p| compile_str(p).ok()).collect();
        let router = Router::new(compiled.iter().enumerate().map(|(i, p)| Rule { name: format!("r{i}"), pattern: p.clone() }).collect());
        let mut scratch = Scratch::default();
        for value in &values {
            let event = format!(r#"{{"a":"{value}"}}"#);
            let (routed, expected) = routed_and_expected(&router, &compiled, &event, &mut scratch);
            prop_assert_eq!(routed, expected, "event {} patterns {:?}", event, patterns);
        }
    }

    /// One scratch reused across events of one layout, events of others and
    /// two routers with different path tables: every answer is the
    /// reference's.
    #[test]
    fn a_reused_scratch_agrees_with_reference(
        patterns in prop::collection::vec(pattern_object(2), 1..4),
        others in prop::collection::vec(pattern_object(1), 1..3),
        events in same_layout_events(),
        unrelated in prop::collection::vec(event(), 0..3),
    ) {
        let build = |patterns: &[String]| {
            let compiled: Vec<_> = patterns.iter().filter_map(|p| compile_str(p).ok()).collect();
            let rules = compiled.iter().enumerate().map(|(i, p)| Rule { name: format!("r{i}"), pattern: p.clone() }).collect();
            (Router::new(rules), compiled)
        };
        let (router, compiled) = build(&patterns);
        let (other, other_compiled) = build(&others);
        let mut scratch = Scratch::default();
        let sequence: Vec<&String> = events.iter().chain(&unrelated).chain(&events).collect();
        // Runs of one router, then the other on the same scratch, and back.
        for (router, compiled, patterns) in
            [(&router, &compiled, &patterns), (&other, &other_compiled, &others), (&router, &compiled, &patterns)]
        {
            for event in &sequence {
                let (routed, expected) = routed_and_expected(router, compiled, event, &mut scratch);
                prop_assert_eq!(routed, expected, "event {} patterns {:?}", event, patterns);
            }
        }
    }
}
