//! Matching cost against the number of rules on one path: 5 to 5,000
//! `prefix`, `suffix`, `equals-ignore-case` or exact-string rules on
//! `detail.eventName`, each routing the same 1,000 events. The router's
//! promise (issue 3): the cost grows little with the number of rules,
//! because exact strings are hashed and prefix, suffix and ASCII
//! ignore-case patterns are looked up by length (`route::affix`) once a
//! path has more than a few of them.
//!
//! Reproduce: `cargo bench --bench route_scaling`.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use ecs_autopilot::route::{Router, Scratch};
use std::hint::black_box;

/// A deterministic word of 4–11 lowercase letters (a linear congruential
/// generator: the same words on every run).
fn word(seed: &mut u64) -> String {
    let mut next = || {
        *seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (*seed >> 33) as usize
    };
    let len = 4 + next() % 8;
    (0..len).map(|_| char::from(b'a' + (next() % 26) as u8)).collect()
}

fn pattern(kind: &str, word: &str) -> String {
    let matcher = match kind {
        "exact" => format!("\"{word}\""),
        "prefix" => format!(r#"{{"prefix":"{}"}}"#, &word[..3]),
        "suffix" => format!(r#"{{"suffix":"{}"}}"#, &word[word.len() - 3..]),
        _ => format!(r#"{{"equals-ignore-case":"{}"}}"#, word.to_uppercase()),
    };
    format!(r#"{{"source":["aws.ecs"],"detail":{{"eventName":[{matcher}]}}}}"#)
}

fn scaling(c: &mut Criterion) {
    let mut seed = 7;
    let events: Vec<String> = (0..1_000)
        .map(|i| {
            format!(
                r#"{{"version":"0","id":"e{i}","source":"aws.ecs","detail-type":"ECS Task State Change","detail":{{"eventName":"{}","clusterArn":"arn:aws:ecs:us-east-1:123456789012:cluster/prod","desiredStatus":"RUNNING"}}}}"#,
                word(&mut seed)
            )
        })
        .collect();
    let mut group = c.benchmark_group("route_1000_events_by_rules_on_one_path");
    group.throughput(Throughput::Elements(events.len() as u64));
    for kind in ["exact", "prefix", "suffix", "equals-ignore-case"] {
        for rules in [5, 50, 500, 5_000] {
            let mut seed = 11;
            let patterns: Vec<(String, String)> =
                (0..rules).map(|i| (format!("r{i}"), pattern(kind, &word(&mut seed)))).collect();
            let router = Router::from_patterns(patterns.iter().map(|(n, p)| (n.as_str(), p.as_str())))
                .expect("benchmark patterns are valid");
            let mut scratch = Scratch::default();
            let mut matched = Vec::new();
            group.bench_with_input(BenchmarkId::new(kind, rules), &events, |b, events| {
                b.iter(|| {
                    let mut total = 0;
                    for event in events {
                        router.route_indexes(event, &mut scratch, &mut matched).expect("events are valid");
                        total += matched.len();
                    }
                    black_box(total)
                });
            });
        }
    }
    group.finish();
}

criterion_group!(benches, scaling);
criterion_main!(benches);
