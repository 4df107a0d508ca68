//! Our router and the `quamina` crate on Event Ruler's citylots2 rule sets,
//! side by side: for each set both engines are built from the same
//! patterns, their per-rule counts are checked against Event Ruler's, and
//! then timed passes alternate (ours, quamina, ours, …) so that both see the
//! shared machine at the same moments. The ratio of the two is what can be
//! quoted; absolute events/s on this machine vary by 2× or more.
//!
//! Run: `benches/peers/run` (builds in release mode; the data set is the
//! one `cargo bench --bench citylots2` generates under `target/`).
//! `CITYLOTS2_SETS=EXACT,NUMERIC` limits the sets, `CITYLOTS2_PASSES=N`
//! sets the timed passes per engine (default 5).

use ecs_autopilot::route::json::Json;
use ecs_autopilot::route::{compile, Router, Rule, Scratch, Validation};
use quamina::Quamina;
use std::path::{Path, PathBuf};
use std::time::Instant;

type Failure = Box<dyn std::error::Error>;

fn member<'j>(j: &'j Json, key: &str) -> Result<&'j Json, Failure> {
    match j {
        Json::Object(members) => {
            members.iter().find(|(k, _)| k == key).map(|(_, v)| v).ok_or_else(|| format!("missing {key}").into())
        }
        _ => Err(format!("not an object where {key} was expected").into()),
    }
}

fn items(j: &Json) -> Result<&[Json], Failure> {
    match j {
        Json::Array(items) => Ok(items),
        _ => Err("not an array".into()),
    }
}

fn text(j: &Json) -> Result<&str, Failure> {
    match j {
        Json::String(s) => Ok(s),
        _ => Err("not a string".into()),
    }
}

/// One engine under test: routes a line, adding to per-rule counts.
trait Engine {
    fn route(&mut self, line: &str, counts: &mut [u64]) -> Result<(), Failure>;
}

struct Ours<'r> {
    router: &'r Router,
    validation: Validation,
    scratch: Scratch,
    matched: Vec<usize>,
}

impl Engine for Ours<'_> {
    fn route(&mut self, line: &str, counts: &mut [u64]) -> Result<(), Failure> {
        self.router.route_indexes_with(line, self.validation, &mut self.scratch, &mut self.matched)?;
        for i in &self.matched {
            counts[*i] += 1;
        }
        Ok(())
    }
}

struct Peer(Quamina<usize>);

impl Engine for Peer {
    fn route(&mut self, line: &str, counts: &mut [u64]) -> Result<(), Failure> {
        for i in self.0.matches_for_event(line.as_bytes())? {
            counts[i] += 1;
        }
        Ok(())
    }
}

/// Events/s of one pass, with the counts it produced.
fn pass(engine: &mut dyn Engine, lines: &[&str], rules: usize) -> Result<(f64, Vec<u64>), Failure> {
    let mut counts = vec![0u64; rules];
    let start = Instant::now();
    for line in lines {
        engine.route(line, &mut counts)?;
    }
    Ok((lines.len() as f64 / start.elapsed().as_secs_f64(), counts))
}

fn best_and_median(mut rates: Vec<f64>) -> (f64, f64) {
    rates.sort_by(f64::total_cmp);
    match rates.as_slice() {
        [] => (0.0, 0.0),
        all => (all[all.len() - 1], all[all.len() / 2]),
    }
}

fn main() -> Result<(), Failure> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let bench = root.join("benches/citylots2");
    let rules = Json::parse(&std::fs::read_to_string(bench.join("rules.json"))?)?;
    let expected = Json::parse(&std::fs::read_to_string(bench.join("expected_counts.json"))?)?;
    let data_path: PathBuf = root.join("target/citylots2-synth-213068.jsonl");
    let data = std::fs::read_to_string(&data_path).map_err(|e| {
        format!("{}: {e} (run `cargo bench --bench citylots2` once to generate it)", data_path.display())
    })?;
    let lines: Vec<&str> = data.lines().collect();
    if lines.len() != 213_068 {
        return Err(format!("{} has {} lines, not 213068", data_path.display(), lines.len()).into());
    }
    let timed: usize = std::env::var("CITYLOTS2_PASSES").ok().and_then(|p| p.parse().ok()).unwrap_or(5).max(1);
    let only: Option<Vec<String>> =
        std::env::var("CITYLOTS2_SETS").ok().map(|s| s.split(',').map(str::to_owned).collect());

    let sets = member(&rules, "rule_sets")?;
    let mut runs: Vec<(String, Vec<String>)> = Vec::new();
    for name in items(member(&rules, "order")?)? {
        runs.push((text(name)?.to_owned(), vec![text(name)?.to_owned()]));
    }
    if let Json::Object(combos) = member(&rules, "combos")? {
        for (name, sets) in combos {
            runs.push((
                name.clone(),
                items(sets)?.iter().map(|s| text(s).map(str::to_owned)).collect::<Result<_, _>>()?,
            ));
        }
    }
    if let Some(only) = &only {
        runs.retain(|(name, _)| only.contains(name));
    }

    println!("Best of {timed} alternating passes, events/s; in brackets, the median pass. `full` checks every byte of every event (as Event Ruler does), `referenced` only what the router reads (as quamina does).\n");
    println!("| rule set | ours, full | ours, referenced | quamina 0.7.0 | full ÷ quamina | referenced ÷ quamina | counts: ours / quamina |");
    println!("|---|---|---|---|---|---|---|");
    let mut ours_ok = true;
    for (name, members) in &runs {
        let mut compiled = Vec::new();
        let mut want = Vec::new();
        let mut peer = Quamina::<usize>::new();
        let mut peer_error = None;
        for set in members {
            for (i, pattern) in items(member(member(sets, set)?, "rules")?)?.iter().enumerate() {
                let index = compiled.len();
                compiled.push(Rule { name: format!("{set}#{i}"), pattern: compile(pattern)? });
                if peer_error.is_none() {
                    if let Err(e) = peer.add_pattern(index, &pattern.to_string()) {
                        peer_error = Some(format!("rejects {set}#{i}: {e}"));
                    }
                }
            }
            for count in items(member(member(&expected, "counts")?, set)?)? {
                match count {
                    Json::Number(n) => want.push(n.parse::<u64>()?),
                    _ => return Err("expected count is not a number".into()),
                }
            }
        }
        let rules = compiled.len();
        let router = Router::new(compiled);
        let ours = |validation| Ours { router: &router, validation, scratch: Scratch::default(), matched: Vec::new() };
        let mut engines: Vec<Box<dyn Engine + '_>> =
            vec![Box::new(ours(Validation::Full)), Box::new(ours(Validation::Referenced))];
        if peer_error.is_none() {
            engines.push(Box::new(Peer(peer)));
        }
        // A warm-up pass each, which also gives the counts.
        let mut counts = Vec::new();
        for engine in &mut engines {
            counts.push(pass(engine.as_mut(), &lines, rules)?.1);
        }
        let mut rates = vec![Vec::new(); engines.len()];
        for _ in 0..timed {
            for (engine, rates) in engines.iter_mut().zip(&mut rates) {
                rates.push(pass(engine.as_mut(), &lines, rules)?.0);
            }
        }
        let figures: Vec<(f64, f64)> = rates.into_iter().map(best_and_median).collect();
        let ok = counts[0] == want && counts[1] == want;
        ours_ok &= ok;
        let shown = |(best, median): (f64, f64)| format!("{best:.0} ({median:.0})");
        let our_verdict = if ok { "identical" } else { "DIFFER" };
        match &peer_error {
            Some(reason) => println!(
                "| {name} | {} | {} | — | — | — | {our_verdict} / quamina {reason} |",
                shown(figures[0]),
                shown(figures[1])
            ),
            None => {
                let peer_verdict = if counts[2] == want {
                    "identical".to_owned()
                } else {
                    format!("differ: {:?} where Ruler has {want:?}", counts[2])
                };
                let ratio = |ours: (f64, f64)| format!("{:.2}× ({:.2}×)", ours.0 / figures[2].0, ours.1 / figures[2].1);
                println!(
                    "| {name} | {} | {} | {} | {} | {} | {our_verdict} / {peer_verdict} |",
                    shown(figures[0]),
                    shown(figures[1]),
                    shown(figures[2]),
                    ratio(figures[0]),
                    ratio(figures[1]),
                );
            }
        }
    }
    if !ours_ok {
        return Err("our counts differ from Event Ruler's".into());
    }
    Ok(())
}
