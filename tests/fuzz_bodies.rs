//! The fuzz targets' bodies (`fuzz/bodies/mod.rs`) in the test command, on
//! stable: every checked-in seed and regression input of
//! `fuzz/corpus/<target>/`, then generated mutations of them (bytes flipped,
//! inserted, removed, spliced from another seed), a bounded number per
//! target. Coverage-guided runs use the same bodies:
//! `cargo +nightly fuzz run <target> fuzz/corpus/<target>` (docs/testing.md).

#[path = "../fuzz/bodies/mod.rs"]
mod bodies;

use proptest::prelude::*;
use std::path::Path;

type Body = fn(&[u8]) -> bool;

const TARGETS: [(&str, Body); 5] = [
    ("config_evaluate", bodies::config_evaluate),
    ("schedule", bodies::schedule),
    ("snapshot_plan", bodies::snapshot_plan),
    ("stored_memory", bodies::stored_memory),
    ("wildcard", bodies::wildcard),
];

fn corpus(target: &str) -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus").join(target);
    let mut files: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    let seeds: Vec<Vec<u8>> = files.iter().map(|f| std::fs::read(f).unwrap()).collect();
    assert!(!seeds.is_empty(), "{target}: no seeds in {}", dir.display());
    seeds
}

#[test]
fn every_seed_and_regression_input_passes_its_body() {
    for (target, body) in TARGETS {
        for seed in corpus(target) {
            body(&seed);
        }
    }
    // The valid seeds get past the parsers, so the bodies' invariants run.
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus");
    let accepted = [
        (bodies::config_evaluate as Body, "config_evaluate/backtest-with-observation.txt"),
        (bodies::config_evaluate, "config_evaluate/step.txt"),
        (bodies::config_evaluate, "config_evaluate/describe-outputs.json"),
        (bodies::schedule, "schedule/cron-business-london.txt"),
        (bodies::schedule, "schedule/at-dst-gap.txt"),
        (bodies::snapshot_plan, "snapshot_plan/example.json"),
        (bodies::stored_memory, "stored_memory/record.json"),
        (bodies::stored_memory, "stored_memory/datapoints-old-form.json"),
        (bodies::wildcard, "wildcard/many-stars.txt"),
    ];
    for (body, file) in accepted {
        assert!(body(&std::fs::read(root.join(file)).unwrap()), "{file} is accepted");
    }
    let refused = [
        (bodies::stored_memory as Body, "stored_memory/newer-schema.json"),
        (bodies::stored_memory, "stored_memory/truncated.json"),
        (bodies::schedule, "schedule/cron-reversed-years.txt"),
    ];
    for (body, file) in refused {
        assert!(!body(&std::fs::read(root.join(file)).unwrap()), "{file} is refused");
    }
}

/// One mutation of a seed.
#[derive(Clone, Debug)]
enum Edit {
    Flip { at: usize, byte: u8 },
    Insert { at: usize, bytes: Vec<u8> },
    Remove { at: usize, len: usize },
    Splice { at: usize, from: usize, start: usize, len: usize },
}

fn edit() -> impl Strategy<Value = Edit> {
    let interesting = prop::sample::select(vec![
        b"{".to_vec(),
        b"}".to_vec(),
        b"[".to_vec(),
        b"\"".to_vec(),
        b"-1".to_vec(),
        b"4294967296".to_vec(),
        b"9223372036854775807".to_vec(),
        b"1e309".to_vec(),
        b"NaN".to_vec(),
        b"*".to_vec(),
        b"\\".to_vec(),
        b"\n%%\n".to_vec(),
        b"  - ".to_vec(),
        b": ".to_vec(),
        b"null".to_vec(),
        vec![0xff],
    ]);
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(at, byte)| Edit::Flip { at, byte }),
        (any::<usize>(), interesting).prop_map(|(at, bytes)| Edit::Insert { at, bytes }),
        (any::<usize>(), 1usize..64).prop_map(|(at, len)| Edit::Remove { at, len }),
        (any::<usize>(), any::<usize>(), any::<usize>(), 1usize..256).prop_map(|(at, from, start, len)| Edit::Splice {
            at,
            from,
            start,
            len
        }),
    ]
}

fn mutate(seeds: &[Vec<u8>], pick: usize, edits: &[Edit]) -> Vec<u8> {
    let mut data = seeds[pick % seeds.len()].clone();
    for e in edits {
        let n = data.len().max(1);
        match e {
            Edit::Flip { at, byte } => {
                if !data.is_empty() {
                    data[at % n] = *byte;
                }
            }
            Edit::Insert { at, bytes } => {
                let at = at % (data.len() + 1);
                data.splice(at..at, bytes.iter().copied());
            }
            Edit::Remove { at, len } => {
                let at = at % n;
                let end = (at + len).min(data.len());
                if at < end {
                    data.drain(at..end);
                }
            }
            Edit::Splice { at, from, start, len } => {
                let other = &seeds[from % seeds.len()];
                let start = start % other.len().max(1);
                let end = (start + len).min(other.len());
                let at = at % (data.len() + 1);
                data.splice(at..at, other[start..end].iter().copied());
            }
        }
    }
    data
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, failure_persistence: None, ..ProptestConfig::default() })]

    /// A failure here is a crash the coverage-guided fuzzer would find:
    /// add the shrunk input to `fuzz/corpus/<target>/` as a regression seed.
    #[test]
    fn mutated_seeds_never_break_a_body(target in 0..TARGETS.len(), pick in any::<usize>(), edits in prop::collection::vec(edit(), 1..6)) {
        let (name, body) = TARGETS[target];
        let seeds = corpus(name);
        let _accepted = body(&mutate(&seeds, pick, &edits));
    }
}
