//! `autopilot`: the command-line front of the ecs-autopilot core.
//!
//! This file (and only this file, with the Lambda adapters) does I/O: it reads
//! files, the clock and writes to the terminal, then calls the pure core.
//! Exit codes (brief aws-behaviour §3.5): 0 success, 1 runtime failure, 2 usage or input error.

use clap::{Parser, Subcommand};
use ecs_autopilot::config::{self, ConfigError};
use ecs_autopilot::controller;
use ecs_autopilot::memory::ControllerMemory;
use ecs_autopilot::policy::Observation;
use ecs_autopilot::schedule::Schedule;
use jiff::Timestamp;
use std::collections::BTreeMap;
use std::process::ExitCode;

/// Writes a line to standard output. A closed pipe (`autopilot … | head`)
/// or a full disk ends the command through [`Failure::output`] instead of a
/// panic.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock(), $($arg)*).map_err(crate::Failure::output)?
    }};
}

#[path = "autopilot/capacity.rs"]
mod capacity;
#[path = "autopilot/plan.rs"]
mod plan;
#[path = "autopilot/replay.rs"]
mod replay;

#[derive(Parser)]
#[command(
    name = "autopilot",
    version,
    about = "Autoscaling decisions for Amazon ECS services, faithful to Application Auto Scaling"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
// Parsed once per process: the size of the largest variant costs nothing.
#[allow(clippy::large_enum_variant)]
enum Command {
    /// Check a configuration (YAML or JSON; several files are merged) and
    /// print every error with its field path.
    Validate {
        #[arg(required = true)]
        files: Vec<String>,
    },
    /// Schedule expressions of scheduled actions.
    Schedule {
        #[command(subcommand)]
        command: ScheduleCommand,
    },
    /// Test an event against an EventBridge pattern, like `aws events
    /// test-event-pattern`: prints {"Result": true|false}.
    TestEventPattern {
        /// The pattern: JSON text or file://path.
        #[arg(long)]
        event_pattern: String,
        /// The event: JSON text or file://path.
        #[arg(long)]
        event: String,
    },
    /// Route events (JSON Lines) through EventBridge rules; prints one JSON
    /// line per event with its id and the matched rule names.
    Route {
        /// infra/template.yaml (SAM / CloudFormation) or a rules file
        /// (JSON object: rule name -> pattern).
        #[arg(long)]
        rules: String,
        /// Events, one EventBridge envelope per line.
        events: String,
        /// Template parameter values, NAME=VALUE (repeatable).
        #[arg(long = "param")]
        params: Vec<String>,
        /// Also print counts per rule and throughput (to stderr).
        #[arg(long)]
        stats: bool,
    },
    /// Run a scenario on the embedded simulated service: the AWS-faithful
    /// baseline and ecs-autopilot on the same demand, with a scorecard.
    Replay {
        /// Scenario file (YAML or JSON), e.g. examples/scenarios/spike.yaml:
        /// closed-loop simulation of the AWS baseline and ecs-autopilot.
        #[arg(long, conflicts_with = "events")]
        scenario: Option<String>,
        /// Recorded EventBridge events (JSON Lines): open-loop replay through
        /// the rules of --rules and the configuration of --config.
        #[arg(long, requires = "configs")]
        events: Option<String>,
        /// Configuration files (merged): the services' policies for --events;
        /// with --scenario, your own configuration to backtest (one scalable
        /// target: the AWS baseline runs its AWS-shaped part, ecs-autopilot
        /// runs it as written, Autopilot settings included).
        #[arg(long = "config")]
        configs: Vec<String>,
        #[command(flatten)]
        world: RecordedWorld,
        /// With --events: a capacity snapshot (`capacity plan`'s input files,
        /// merged) whose cluster the capacity function plans, brought forward
        /// by the recorded task and container-instance events.
        #[arg(long = "capacity-snapshot", requires = "events")]
        capacity_snapshot: Vec<String>,
        /// The capacity provider of --capacity-snapshot to plan (default: the
        /// snapshot's only one).
        #[arg(long = "capacity-provider", requires = "events")]
        capacity_provider: Option<String>,
        /// How the replayed capacity function plans: fast (default) or aws.
        #[arg(long = "capacity-mode", default_value = "fast")]
        capacity_mode: String,
        /// table, json (scenario scorecard) or jsonl (one decision per line).
        #[arg(long, default_value = "table")]
        format: String,
        /// Write the chart here: PNG when the name ends in .png (needs the
        /// `png` feature), SVG otherwise.
        #[arg(long)]
        chart: Option<String>,
        /// Write both controllers' decision records (JSON Lines) here.
        #[arg(long)]
        decisions: Option<String>,
        /// Write the EventBridge events ECS sent during the AWS baseline run
        /// (JSON Lines of envelopes, as recorded in production) here.
        #[arg(long, requires = "scenario")]
        events_out: Option<String>,
    },
    /// Replay recorded events and metrics under the current configuration,
    /// a proposed one and AWS's own behaviour of the current one, and print
    /// where and how the desired count would differ (docs/plan.md).
    Plan {
        /// The configuration in force (files merged).
        #[arg(long = "config", required = true)]
        configs: Vec<String>,
        /// The configuration to try (files merged).
        #[arg(long = "proposed", required = true)]
        proposed: Vec<String>,
        /// Recorded EventBridge events (JSON Lines).
        #[arg(long)]
        events: String,
        #[command(flatten)]
        world: RecordedWorld,
        /// table or json.
        #[arg(long, default_value = "table")]
        format: String,
        /// Write the capacity curves here (SVG; PNG with the `png` feature).
        #[arg(long)]
        chart: Option<String>,
        /// Exit 3 when any desired count would differ, 0 when none would
        /// (as `terraform plan -detailed-exitcode`; 1 and 2 keep their meaning).
        #[arg(long)]
        detailed_exitcode: bool,
    },
    /// Capacity planning for an ECS capacity provider's Auto Scaling group.
    Capacity {
        #[command(subcommand)]
        command: CapacityCommand,
    },
    /// Evaluate every scalable target once and print the decisions (JSON
    /// Lines) and, with --memory-out, the new controller memory.
    Evaluate {
        /// Configuration files (merged).
        #[arg(long = "config", required = true)]
        configs: Vec<String>,
        /// JSON object: ResourceId → observation.
        #[arg(long)]
        observations: String,
        /// Controller memory from a previous run (JSON); empty when absent.
        #[arg(long)]
        memory: Option<String>,
        /// Where to write the new memory.
        #[arg(long)]
        memory_out: Option<String>,
        /// Evaluation instant (RFC 3339); the system clock when absent.
        #[arg(long)]
        now: Option<String>,
    },
}

/// Where `route` reads its rules from.
/// The deployed stack of a SAM template (its rules, the functions they
/// invoke, its schedules), or of a plain rules file (every rule invokes the
/// controller, ticked every minute as the template deploys).
fn load_stack(path: &str, params: &[String]) -> Result<ecs_autopilot::sim::stack::Stack, Failure> {
    use ecs_autopilot::sim::stack::Stack;
    let text = read(path)?;
    let overrides = parse_params(params)?;
    let is_template = text.contains("Resources:") || text.contains("\"Resources\"");
    let stack = if is_template {
        Stack::from_template(&text, &overrides).map_err(|e| Failure::input(format!("{path}: {e}")))?
    } else {
        let rules = ecs_autopilot::route::template::rules_from_file(&text)
            .map_err(|e| Failure::input(format!("{path}: {e}")))?;
        if rules.is_empty() {
            return Err(Failure::input(format!("{path}: no EventBridge rules found")));
        }
        Stack::from_rules(rules, "rate(1 minute)").map_err(|e| Failure::input(format!("{path}: {e}")))?
    };
    Ok(stack)
}

fn parse_params(params: &[String]) -> Result<std::collections::BTreeMap<String, String>, Failure> {
    let mut overrides = std::collections::BTreeMap::new();
    for p in params {
        let (k, v) = p.split_once('=').ok_or_else(|| Failure::input(format!("--param {p:?}: expected NAME=VALUE")))?;
        overrides.insert(k.to_owned(), v.to_owned());
    }
    Ok(overrides)
}

fn load_rules(path: &str, params: &[String]) -> Result<ecs_autopilot::route::Router, Failure> {
    use ecs_autopilot::route::template;
    let text = read(path)?;
    let overrides = parse_params(params)?;
    let is_template = text.contains("Resources:") || text.contains("\"Resources\"");
    let rules = if is_template {
        template::rules_from_template(&text, &overrides).map(|rs| rs.into_iter().map(|r| r.rule).collect())
    } else {
        template::rules_from_file(&text)
    }
    .map_err(|e| Failure::input(format!("{path}: {e}")))?;
    if rules.is_empty() {
        return Err(Failure::input(format!("{path}: no EventBridge rules found")));
    }
    Ok(ecs_autopilot::route::Router::new(rules))
}

#[derive(Subcommand)]
enum CapacityCommand {
    /// Print the capacity plan (M, N, CapacityProviderReservation, desired
    /// instances, actions, reasons) for a snapshot of AWS CLI output.
    Plan {
        /// Snapshot files (merged): describe-container-instances, describe-tasks,
        /// describe-services, describe-capacity-providers,
        /// describe-auto-scaling-groups output, plus instanceTypes.
        #[arg(required = true)]
        snapshot: Vec<String>,
        /// table or json
        #[arg(long, default_value = "table")]
        format: String,
        /// aws (cluster auto scaling) or fast (exact placement)
        #[arg(long, default_value = "fast")]
        mode: String,
        /// Plan only this capacity provider (else every one the snapshot
        /// lists: each Auto Scaling group provider planned on its own).
        #[arg(long)]
        capacity_provider: Option<String>,
        /// Evaluation instant (RFC 3339); the system clock when absent.
        #[arg(long)]
        now: Option<String>,
        /// Configuration whose `Autopilot.Capacity` section sets the
        /// disruption budget and consolidation (the flags below win).
        #[arg(long = "config")]
        configs: Vec<String>,
        /// Disruption budget (fast mode): instances drained per window (default 10).
        #[arg(long)]
        disruption_instances: Option<u32>,
        /// Disruption budget: percent of the group's ACTIVE instances per window (default 50).
        #[arg(long)]
        disruption_percent: Option<u32>,
        /// Disruption budget: the sliding window, in seconds (default 60).
        #[arg(long)]
        disruption_window_seconds: Option<u32>,
        /// Fast mode: also drain busy instances whose tasks fit on the others.
        #[arg(long)]
        consolidation: bool,
    },
}

#[derive(Subcommand)]
enum ScheduleCommand {
    /// Print the next fire times of an at() / rate() / cron() expression as
    /// RFC 3339 UTC lines.
    Next {
        expression: String,
        /// IANA time zone of at() and cron() (default UTC).
        #[arg(long)]
        timezone: Option<String>,
        /// List fire times after this instant (default: now).
        #[arg(long)]
        after: Option<String>,
        #[arg(long)]
        start_time: Option<String>,
        #[arg(long)]
        end_time: Option<String>,
        /// How many fire times to print.
        #[arg(long, default_value_t = 5)]
        count: usize,
    },
}

/// The recorded world besides the events, as `replay --events` and `plan`
/// read it.
#[derive(clap::Args)]
struct RecordedWorld {
    /// GetMetricData output (JSON) for --events.
    #[arg(long, requires = "metric_map")]
    metrics: Option<String>,
    /// Which service and metric each GetMetricData Id is (YAML or JSON).
    #[arg(long)]
    metric_map: Option<String>,
    /// Initial state per service: {"service/c/s": {"desired": 4, "running": 4}}.
    #[arg(long)]
    initial: Option<String>,
    /// EventBridge rules (SAM template or rules file).
    #[arg(long, default_value = "infra/template.yaml")]
    rules: String,
    /// Template parameter values, NAME=VALUE (repeatable).
    #[arg(long = "param")]
    params: Vec<String>,
}

/// A failure with its exit code.
struct Failure {
    code: u8,
    message: String,
}

impl Failure {
    fn input(message: impl Into<String>) -> Self {
        Self { code: 2, message: message.into() }
    }
    fn runtime(message: impl Into<String>) -> Self {
        Self { code: 1, message: message.into() }
    }
    /// Standard output failed: a closed pipe ends quietly with the status a
    /// shell gives a process killed by SIGPIPE (128 + 13); anything else is a
    /// runtime failure.
    fn output(e: std::io::Error) -> Self {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            Self { code: 141, message: String::new() }
        } else {
            Self::runtime(format!("cannot write to standard output: {e}"))
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Validate { files } => validate(&files),
        Command::Schedule {
            command: ScheduleCommand::Next { expression, timezone, after, start_time, end_time, count },
        } => schedule_next(
            &expression,
            timezone.as_deref(),
            after.as_deref(),
            start_time.as_deref(),
            end_time.as_deref(),
            count,
        ),
        Command::TestEventPattern { event_pattern, event } => test_event_pattern(&event_pattern, &event),
        Command::Route { rules, events, params, stats } => route(&rules, &events, &params, stats),
        Command::Replay { scenario: Some(scenario), configs, format, chart, decisions, events_out, .. } => {
            replay::scenario(
                &scenario,
                &configs,
                &format,
                chart.as_deref(),
                decisions.as_deref(),
                events_out.as_deref(),
            )
        }
        Command::Replay {
            scenario: None,
            events: Some(events),
            configs,
            world: RecordedWorld { metrics, metric_map, initial, rules, params },
            format,
            capacity_snapshot,
            capacity_provider,
            capacity_mode,
            chart: None,
            ..
        } => replay::recorded(
            &events,
            &configs,
            replay::Recorded {
                metrics: metrics.as_deref(),
                metric_map: metric_map.as_deref(),
                initial: initial.as_deref(),
                capacity_snapshot: &capacity_snapshot,
                capacity_provider: capacity_provider.as_deref(),
                capacity_mode: &capacity_mode,
            },
            &rules,
            &params,
            &format,
        ),
        Command::Replay { events: Some(_), chart: Some(_), .. } => Err(Failure::input(
            "--chart draws a scenario run (--scenario): a recorded replay has no simulated demand or second run to draw; use --format jsonl for its decisions",
        )),
        Command::Replay { .. } => {
            Err(Failure::input("replay needs --scenario FILE, or --events FILE with --config FILE"))
        }
        Command::Plan {
            configs,
            proposed,
            events,
            world,
            format,
            chart,
            detailed_exitcode,
        } => plan::run(&plan::Inputs {
            configs: &configs,
            proposed: &proposed,
            events: &events,
            world: &world,
            format: &format,
            chart: chart.as_deref(),
            detailed_exitcode,
        }),
        Command::Capacity {
            command:
                CapacityCommand::Plan {
                    snapshot,
                    format,
                    mode,
                    capacity_provider,
                    now,
                    configs,
                    disruption_instances,
                    disruption_percent,
                    disruption_window_seconds,
                    consolidation,
                },
        } => {
            let flags = ecs_autopilot::config::extensions::CapacitySection {
                disruption_budget: ecs_autopilot::config::extensions::DisruptionBudget {
                    instances: disruption_instances,
                    percent: disruption_percent,
                    window_seconds: disruption_window_seconds,
                },
                consolidation: consolidation.then_some(true),
            };
            let choice = capacity::Choice {
                provider: capacity_provider.as_deref(),
                now: now.as_deref(),
                configs: &configs,
                flags,
            };
            capacity::plan(&snapshot, &format, &mode, &choice)
        }
        Command::Evaluate { configs, observations, memory, memory_out, now } => {
            evaluate(&configs, &observations, memory.as_deref(), memory_out.as_deref(), now.as_deref())
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            if !f.message.is_empty() {
                eprintln!("autopilot: {}", f.message);
            }
            ExitCode::from(f.code)
        }
    }
}

fn read(path: &str) -> Result<String, Failure> {
    std::fs::read_to_string(path).map_err(|e| Failure::input(format!("cannot read {path}: {e}")))
}

/// JSON text, or the contents of `file://path`.
fn inline_or_file(arg: &str) -> Result<String, Failure> {
    match arg.strip_prefix("file://") {
        Some(path) => read(path),
        None => Ok(arg.to_owned()),
    }
}

fn test_event_pattern(pattern: &str, event: &str) -> Result<(), Failure> {
    use ecs_autopilot::route::{self, TestPatternError};
    let (pattern, event) = (inline_or_file(pattern)?, inline_or_file(event)?);
    // AWS's API refuses an event without its envelope (the router, which
    // matches any object, does not care): checked after the pattern, as
    // AWS validates the pattern first.
    if let (Ok(_), Ok(value)) = (route::compile_str(&pattern), serde_json::from_str::<serde_json::Value>(&event)) {
        if let Some(field) = route::missing_envelope_field(&value) {
            return Err(Failure::input(format!(
                "Parameter Event is not valid: `{field}` is missing or not a string (TestEventPattern requires {})",
                route::TEST_EVENT_ENVELOPE.join(", ")
            )));
        }
    }
    match route::test_event_pattern(&pattern, &event) {
        Ok(result) => {
            out!("{{\"Result\": {result}}}");
            Ok(())
        }
        Err(TestPatternError::Pattern(e)) => Err(Failure::input(format!("InvalidEventPatternException: {e}"))),
        Err(TestPatternError::Event(e)) => Err(Failure::input(format!("Parameter Event is not valid: {e}"))),
    }
}

fn route(rules: &str, events: &str, params: &[String], stats: bool) -> Result<(), Failure> {
    use std::io::{BufRead, Write};
    let router = load_rules(rules, params)?;
    let file = std::fs::File::open(events).map_err(|e| Failure::input(format!("cannot read {events}: {e}")))?;
    let mut counts = vec![0u64; router.rule_names().len()];
    let mut scratch = ecs_autopilot::route::Scratch::default();
    let mut matched = Vec::new();
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let started = std::time::Instant::now();
    let mut total = 0u64;
    #[derive(serde::Deserialize)]
    struct Id {
        id: Option<String>,
    }
    for (index, line) in std::io::BufReader::new(file).lines().enumerate() {
        let number = index + 1;
        let line = line.map_err(|e| Failure::input(format!("{events}:{number}: cannot read: {e}")))?;
        if line.trim().is_empty() {
            continue;
        }
        router
            .route_indexes(&line, &mut scratch, &mut matched)
            .map_err(|e| Failure::input(format!("{events}:{number}: {e}")))?;
        let id = serde_json::from_str::<Id>(&line).ok().and_then(|i| i.id);
        let names: Vec<&str> = matched.iter().map(|i| router.rule_names()[*i].as_str()).collect();
        matched.iter().for_each(|i| counts[*i] += 1);
        total += 1;
        let record = serde_json::json!({"line": number, "id": id, "rules": names});
        writeln!(out, "{record}").map_err(|e| Failure::runtime(format!("cannot write output: {e}")))?;
    }
    out.flush().map_err(|e| Failure::runtime(format!("cannot write output: {e}")))?;
    if stats {
        let seconds = started.elapsed().as_secs_f64();
        let per_rule: serde_json::Map<String, serde_json::Value> =
            router.rule_names().iter().zip(&counts).map(|(n, c)| (n.clone(), (*c).into())).collect();
        let rate = if seconds > 0.0 { total as f64 / seconds } else { 0.0 };
        eprintln!(
            "{}",
            serde_json::json!({"events": total, "seconds": seconds, "events_per_second": rate.round(), "matches": per_rule})
        );
    }
    Ok(())
}

fn yaml_or_json(path: &str) -> Result<serde_json::Value, Failure> {
    let text = read(path)?;
    ecs_autopilot::document::parse(&text).map_err(|e| Failure::input(format!("{path}: {e}")))
}

fn load_config(files: &[String]) -> Result<config::Config, Failure> {
    let texts = files.iter().map(|f| read(f).map(|t| (f.as_str(), t))).collect::<Result<Vec<_>, _>>()?;
    let docs: Vec<(&str, &str)> = texts.iter().map(|(n, t)| (*n, t.as_str())).collect();
    config::load_documents(&docs).map_err(|e: ConfigError| Failure::input(e.to_string()))
}

fn validate(files: &[String]) -> Result<(), Failure> {
    let config = load_config(files)?;
    for warning in &config.warnings {
        out!("{warning}");
    }
    let policies: usize = config.targets.values().map(|t| t.target_tracking.len() + t.step.len()).sum();
    let scheduled: usize = config.targets.values().map(|t| t.scheduled.len()).sum();
    out!(
        "ok: {} scalable target(s), {policies} scaling polic(ies), {scheduled} scheduled action(s)",
        config.targets.len()
    );
    Ok(())
}

fn instant(flag: &str, text: &str) -> Result<Timestamp, Failure> {
    ecs_autopilot::event::time::parse_instant(text).map_err(|e| Failure::input(format!("{flag}: {e}")))
}

fn schedule_next(
    expr: &str,
    zone: Option<&str>,
    after: Option<&str>,
    start: Option<&str>,
    end: Option<&str>,
    count: usize,
) -> Result<(), Failure> {
    let start = start.map(|t| instant("--start-time", t)).transpose()?;
    let end = end.map(|t| instant("--end-time", t)).transpose()?;
    let after = match after {
        Some(t) => instant("--after", t)?,
        None => Timestamp::now(),
    };
    let schedule =
        Schedule::new(expr, zone, start, end).map_err(|e| Failure::input(e.to_string()))?.anchored_at(Some(after));
    let mut cursor = after;
    for _ in 0..count {
        let Some(next) = schedule.next_after(cursor) else { break };
        out!("{}", next.strftime("%Y-%m-%dT%H:%M:%SZ"));
        cursor = next;
    }
    Ok(())
}

fn evaluate(
    configs: &[String],
    observations: &str,
    memory: Option<&str>,
    memory_out: Option<&str>,
    now: Option<&str>,
) -> Result<(), Failure> {
    let config = load_config(configs)?;
    let observations: BTreeMap<String, Observation> =
        serde_json::from_str(&read(observations)?).map_err(|e| Failure::input(format!("{observations}: {e}")))?;
    let mut memory: ControllerMemory = match memory {
        Some(path) => serde_json::from_str(&read(path)?).map_err(|e| Failure::input(format!("{path}: {e}")))?,
        None => ControllerMemory::default(),
    };
    let now = match now {
        Some(t) => instant("--now", t)?,
        None => Timestamp::now(),
    };
    for id in observations.keys() {
        if !config.targets.contains_key(id) {
            return Err(Failure::input(format!(
                "{id}: observation for a service that is not a configured scalable target"
            )));
        }
    }
    for (id, target) in &config.targets {
        let Some(observation) = observations.get(id) else {
            return Err(Failure::input(format!("no observation for scalable target {id}")));
        };
        let previous = memory.targets.remove(id).unwrap_or_default();
        let (decision, next) = controller::evaluate(now, target, observation, previous);
        memory.targets.insert(id.clone(), next);
        let line =
            serde_json::to_string(&decision).map_err(|e| Failure::runtime(format!("cannot encode decision: {e}")))?;
        out!("{line}");
    }
    if let Some(path) = memory_out {
        let text = serde_json::to_string_pretty(&memory)
            .map_err(|e| Failure::runtime(format!("cannot encode memory: {e}")))?;
        std::fs::write(path, text).map_err(|e| Failure::runtime(format!("cannot write {path}: {e}")))?;
    }
    Ok(())
}
