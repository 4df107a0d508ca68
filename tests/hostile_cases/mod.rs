//! Running one hostile-input case (`tests/fixtures/hostile/cases.json`):
//! shared by the test (`tests/hostile.rs`) and the bench
//! (`benches/hostile.rs`, which also enforces the 1-s bound on the release
//! build).

#![allow(dead_code)]

use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The address-space limit each case runs under (`ulimit -v`, KiB).
pub const MEMORY_LIMIT_KB: u64 = 200 * 1024;

/// One case.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    pub name: String,
    /// The CLI's arguments; `{dir}` is the case's directory.
    pub args: Vec<String>,
    /// Texts every one of which the error message must contain.
    pub stderr: Vec<String>,
    #[serde(default)]
    pub files: BTreeMap<String, String>,
    #[serde(default)]
    pub generate: Option<Generate>,
    #[serde(default = "bad_input")]
    pub exit: i32,
}

fn bad_input() -> i32 {
    2
}

/// A large input made at run time.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Generate {
    pub file: String,
    /// `min-above-max` (that many scalable targets, each an error),
    /// `deep-flow` (YAML flow sequences nested that deep), `deep-json`.
    pub kind: String,
    pub count: usize,
}

#[derive(Debug, Deserialize)]
struct Corpus {
    #[allow(dead_code)]
    about: String,
    cases: Vec<Case>,
}

/// The corpus.
pub fn load() -> Vec<Case> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/hostile/cases.json");
    let corpus: Corpus = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    corpus.cases
}

fn generated(g: &Generate) -> String {
    match g.kind.as_str() {
        "min-above-max" => {
            let mut s = String::from("ScalableTargets:\n");
            for i in 0..g.count {
                s.push_str(&format!("  - {{ResourceId: service/c/s{i}, MinCapacity: 5, MaxCapacity: 1}}\n"));
            }
            s
        }
        "deep-flow" => format!("ScalableTargets: {}{}\n", "[".repeat(g.count), "]".repeat(g.count)),
        "deep-json" => format!("{{\"a\": {}{}}}", "[".repeat(g.count), "]".repeat(g.count)),
        other => panic!("unknown generator {other}"),
    }
}

/// What one run did.
#[derive(Debug)]
pub struct Outcome {
    pub status: Option<i32>,
    pub stderr: String,
    pub elapsed: Duration,
    pub timed_out: bool,
}

impl Outcome {
    /// Whether the run is what the case expects.
    pub fn check(&self, case: &Case) -> Result<(), String> {
        if self.timed_out {
            return Err(format!("still running after {:?} (a hang)", self.elapsed));
        }
        if self.status != Some(case.exit) {
            return Err(format!("exit {:?}, expected {}; stderr: {}", self.status, case.exit, self.stderr.trim()));
        }
        if self.stderr.contains("panicked") || self.stderr.contains("memory allocation") {
            return Err(format!("a panic or an abort: {}", self.stderr.trim()));
        }
        let missing: Vec<&String> = case.stderr.iter().filter(|t| !self.stderr.contains(t.as_str())).collect();
        if !missing.is_empty() {
            return Err(format!("message lacks {missing:?}: {}", self.stderr.trim()));
        }
        Ok(())
    }
}

fn case_dir(case: &Case) -> PathBuf {
    let slug: String = case.name.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).collect();
    let dir = std::env::temp_dir().join(format!("autopilot-hostile-{}-{slug}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs `case` with the CLI at `binary` under the memory limit, ending it
/// after `guard`.
pub fn run(binary: &str, case: &Case, guard: Duration) -> Outcome {
    let dir = case_dir(case);
    for (name, text) in &case.files {
        std::fs::write(dir.join(name), text).unwrap();
    }
    if let Some(g) = &case.generate {
        std::fs::write(dir.join(&g.file), generated(g)).unwrap();
    }
    let dir_text = dir.to_string_lossy().into_owned();
    let args: Vec<String> = case.args.iter().map(|a| a.replace("{dir}", &dir_text)).collect();
    // The shell's own `ulimit -v` sets the limit for the CLI it execs.
    let child = Command::new("sh")
        .arg("-c")
        .arg(format!("ulimit -v {MEMORY_LIMIT_KB} && exec \"$0\" \"$@\""))
        .arg(binary)
        .args(&args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The child is waited for on a thread: the guard is a channel timeout,
    // not a polling loop.
    let pid = child.id();
    let start = Instant::now();
    let (done, finished) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(child.wait_with_output());
    });
    let (output, timed_out) = match finished.recv_timeout(guard) {
        Ok(output) => (output, false),
        Err(_) => {
            let _ = Command::new("kill").arg("-9").arg(pid.to_string()).status();
            (finished.recv().unwrap(), true)
        }
    };
    let elapsed = start.elapsed();
    let output = output.unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let status = output.status;
    let _ = std::fs::remove_dir_all(&dir);
    Outcome { status: status.code(), stderr, elapsed, timed_out }
}
