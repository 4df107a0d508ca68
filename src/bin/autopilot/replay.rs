//! `autopilot replay`: a scenario on the simulated cluster (scorecard,
//! chart, decision log, events) or recorded events and metrics, with a
//! progress line on a terminal.

use super::{load_config, load_stack, read, yaml_or_json, Failure};

pub(super) fn scenario(
    path: &str,
    configs: &[String],
    format: &str,
    chart: Option<&str>,
    decisions: Option<&str>,
    events_out: Option<&str>,
) -> Result<(), Failure> {
    use ecs_autopilot::sim::{self, Scenario};
    if !matches!(format, "table" | "json") {
        return Err(Failure::input(format!("--format {format:?}: expected table or json")));
    }
    let text = read(path)?;
    let value = ecs_autopilot::document::parse(&text).map_err(|e| Failure::input(format!("{path}: {e}")))?;
    let mut scenario: Scenario = serde_path_to_error::deserialize(value)
        .map_err(|e| Failure::input(format!("{path}: {}: {}", e.path(), e.inner())))?;
    if let sim::scenario::Demand::Csv { path: csv } = &scenario.demand {
        let file = std::path::Path::new(path).parent().unwrap_or(std::path::Path::new(".")).join(csv);
        let file = file.to_string_lossy().into_owned();
        let points = sim::scenario::csv_points(&read(&file)?).map_err(|e| Failure::input(format!("{file}: {e}")))?;
        scenario.demand = sim::scenario::Demand::Points { points };
    }
    // Your own configuration, or the scenario's built-in CPU policy.
    let targets = if configs.is_empty() {
        None
    } else {
        let config = load_config(configs)?;
        Some(sim::engine::backtest_targets(&config).map_err(|e| Failure::input(e.to_string()))?)
    };
    let run = |kind: sim::ControllerKind| {
        let result = match &targets {
            None => sim::engine::run(&scenario, kind),
            Some((baseline, ours)) => {
                let target = if kind == sim::ControllerKind::AwsBaseline { baseline } else { ours };
                sim::engine::run_with(&scenario, kind, target.clone())
            }
        };
        result.map_err(|e| Failure::input(format!("{path}: {e}")))
    };
    let mut bar = Progress::new("simulating");
    bar.update(0, 2);
    let baseline = run(sim::ControllerKind::AwsBaseline)?;
    bar.update(1, 2);
    let autopilot = run(sim::ControllerKind::Autopilot)?;
    bar.update(2, 2);
    let report =
        sim::Report::new(&scenario, baseline, autopilot).map_err(|e| Failure::input(format!("{path}: {e}")))?;
    if let Some(out) = chart {
        let svg = sim::chart::svg(&report);
        let bytes = if out.ends_with(".png") { png(&svg)? } else { svg.into_bytes() };
        std::fs::write(out, bytes).map_err(|e| Failure::runtime(format!("cannot write {out}: {e}")))?;
    }
    if let Some(out) = events_out {
        let mut lines = String::new();
        for e in &report.baseline.events {
            lines.push_str(&e.to_string());
            lines.push('\n');
        }
        std::fs::write(out, lines).map_err(|e| Failure::runtime(format!("cannot write {out}: {e}")))?;
    }
    if let Some(out) = decisions {
        let mut lines = String::new();
        for (who, run) in [("aws-baseline", &report.baseline), ("ecs-autopilot", &report.autopilot)] {
            for d in &run.decisions {
                let mut v =
                    serde_json::to_value(d).map_err(|e| Failure::runtime(format!("cannot encode decision: {e}")))?;
                v["controller"] = who.into();
                lines.push_str(&v.to_string());
                lines.push('\n');
            }
            // Capacity decisions (scenarios with a cluster) carry
            // `capacity_provider` instead of `service`.
            for d in &run.capacity_decisions {
                let mut v =
                    serde_json::to_value(d).map_err(|e| Failure::runtime(format!("cannot encode decision: {e}")))?;
                v["controller"] = who.into();
                lines.push_str(&v.to_string());
                lines.push('\n');
            }
        }
        std::fs::write(out, lines).map_err(|e| Failure::runtime(format!("cannot write {out}: {e}")))?;
    }
    if format == "json" {
        let summary = serde_json::json!({
            "scenario": report.scenario,
            "fairness": report.fairness,
            "baseline": {"metrics": report.baseline.metrics, "score": report.baseline.score},
            "autopilot": {"metrics": report.autopilot.metrics, "score": report.autopilot.score},
        });
        out!("{}", serde_json::to_string_pretty(&summary).map_err(|e| Failure::runtime(e.to_string()))?);
        return Ok(());
    }
    let (b, a) = (&report.baseline.score, &report.autopilot.score);
    let opt = |v: Option<u32>| v.map_or("-".to_owned(), |s| format!("{s} s"));
    let ratio = |ours: f64, theirs: f64| if theirs > 0.0 { format!("{:.2}", ours / theirs) } else { "-".to_owned() };
    out!("scenario: {}  ({} s simulated)", report.scenario, report.duration_seconds);
    for line in sim::chart::stream_lines(&report) {
        out!("{line}");
    }
    out!("{:<42} {:>14} {:>14} {:>8}", "", "AWS baseline", "ecs-autopilot", "ratio");
    let row = |name: &str, theirs: String, ours: String, r: String| -> Result<(), Failure> {
        out!("{name:<42} {theirs:>14} {ours:>14} {r:>8}");
        Ok(())
    };
    row(
        "spike -> first scale-out decision",
        opt(b.reaction_decision_seconds),
        opt(a.reaction_decision_seconds),
        ratio(f64::from(a.reaction_decision_seconds.unwrap_or(0)), f64::from(b.reaction_decision_seconds.unwrap_or(0))),
    )?;
    row(
        "spike -> new tasks running",
        opt(b.reaction_running_seconds),
        opt(a.reaction_running_seconds),
        ratio(f64::from(a.reaction_running_seconds.unwrap_or(0)), f64::from(b.reaction_running_seconds.unwrap_or(0))),
    )?;
    row(
        "under-provisioned task-seconds",
        b.under_provisioned_task_seconds.to_string(),
        a.under_provisioned_task_seconds.to_string(),
        ratio(a.under_provisioned_task_seconds as f64, b.under_provisioned_task_seconds as f64),
    )?;
    row(
        "over-provisioned task-seconds",
        b.over_provisioned_task_seconds.to_string(),
        a.over_provisioned_task_seconds.to_string(),
        ratio(a.over_provisioned_task_seconds as f64, b.over_provisioned_task_seconds as f64),
    )?;
    row(
        "task-hours",
        format!("{:.2}", b.task_hours),
        format!("{:.2}", a.task_hours),
        ratio(a.task_hours, b.task_hours),
    )?;
    row(
        "scaling actions",
        b.scaling_actions.to_string(),
        a.scaling_actions.to_string(),
        ratio(f64::from(a.scaling_actions), f64::from(b.scaling_actions)),
    )?;
    row("flaps (reversals within 15 min)", b.flaps.to_string(), a.flaps.to_string(), "".to_owned())?;
    row(
        "seconds above 100 % utilization",
        b.seconds_above_100_percent.to_string(),
        a.seconds_above_100_percent.to_string(),
        ratio(f64::from(a.seconds_above_100_percent), f64::from(b.seconds_above_100_percent)),
    )?;
    if report.baseline.samples.iter().any(|x| x.instances.is_some()) {
        row(
            "instance-hours",
            format!("{:.2}", b.instance_hours),
            format!("{:.2}", a.instance_hours),
            ratio(a.instance_hours, b.instance_hours),
        )?;
        row(
            "tasks waiting for an instance (task-s)",
            b.provisioning_task_seconds.to_string(),
            a.provisioning_task_seconds.to_string(),
            ratio(a.provisioning_task_seconds as f64, b.provisioning_task_seconds as f64),
        )?;
        row(
            "minutes with placement failures",
            b.placement_failure_minutes.to_string(),
            a.placement_failure_minutes.to_string(),
            ratio(f64::from(a.placement_failure_minutes), f64::from(b.placement_failure_minutes)),
        )?;
        row(
            "Auto Scaling group changes",
            b.capacity_actions.to_string(),
            a.capacity_actions.to_string(),
            "".to_owned(),
        )?;
    }
    Ok(())
}

/// Rasterises the chart (system fonts for its labels).
#[cfg(feature = "png")]
pub(super) fn png(svg: &str) -> Result<Vec<u8>, Failure> {
    use resvg::{tiny_skia, usvg};
    let mut options = usvg::Options::default();
    options.fontdb_mut().load_system_fonts();
    let tree =
        usvg::Tree::from_str(svg, &options).map_err(|e| Failure::runtime(format!("cannot render chart: {e}")))?;
    let size = tree.size().to_int_size();
    let mut pixmap = tiny_skia::Pixmap::new(size.width(), size.height())
        .ok_or_else(|| Failure::runtime("cannot allocate the chart image"))?;
    resvg::render(&tree, tiny_skia::Transform::default(), &mut pixmap.as_mut());
    pixmap.encode_png().map_err(|e| Failure::runtime(format!("cannot encode PNG: {e}")))
}

#[cfg(not(feature = "png"))]
pub(super) fn png(_: &str) -> Result<Vec<u8>, Failure> {
    Err(Failure::input(
        "PNG charts need the `png` feature: cargo run --release --features png -- replay …; or write an .svg chart",
    ))
}

/// The recorded inputs of `replay --events` besides the events.
pub(super) struct Recorded<'a> {
    pub metrics: Option<&'a str>,
    pub metric_map: Option<&'a str>,
    pub initial: Option<&'a str>,
    pub capacity_snapshot: &'a [String],
    pub capacity_provider: Option<&'a str>,
    pub capacity_mode: &'a str,
}

pub(super) fn recorded(
    events: &str,
    configs: &[String],
    inputs: Recorded<'_>,
    rules: &str,
    params: &[String],
    format: &str,
) -> Result<(), Failure> {
    use ecs_autopilot::replay::{self, Line};
    let Recorded { metrics, metric_map, initial, capacity_snapshot, capacity_provider, capacity_mode } = inputs;
    let capacity = if capacity_snapshot.is_empty() {
        None
    } else {
        use ecs_autopilot::capacity::{snapshot, CapacityOptions};
        let mode = match capacity_mode {
            "aws" => ecs_autopilot::config::EvaluationMode::Aws,
            "fast" => ecs_autopilot::config::EvaluationMode::Fast,
            other => return Err(Failure::input(format!("--capacity-mode {other:?}: expected aws or fast"))),
        };
        let texts =
            capacity_snapshot.iter().map(|f| read(f).map(|t| (f.as_str(), t))).collect::<Result<Vec<_>, _>>()?;
        let docs: Vec<(&str, &str)> = texts.iter().map(|(n, t)| (*n, t.as_str())).collect();
        let merged = snapshot::merge(&docs).map_err(|e| Failure::input(e.to_string()))?;
        let cluster = snapshot::cluster(&merged, capacity_provider).map_err(|e| Failure::input(e.to_string()))?;
        Some(replay::CapacitySetup { cluster, options: CapacityOptions { mode, ..CapacityOptions::default() } })
    };
    if !matches!(format, "table" | "jsonl") {
        return Err(Failure::input(format!("--format {format:?}: expected table or jsonl for --events")));
    }
    let config = load_config(configs)?;
    let stack = load_stack(rules, params)?;
    let metrics = recorded_metrics(metrics, metric_map)?;
    let initial = initial_states(initial)?;
    let text = read(events)?;
    let lines: Vec<Line<'_>> = text.lines().enumerate().map(|(i, t)| Line { number: i + 1, text: t }).collect();
    let mut bar = Progress::new("replaying");
    // Records are printed as their invocations end (memory stays flat on
    // long recordings); the first output error stops the printing.
    let mut failed: Option<Failure> = None;
    let print = |record: replay::Streamed<'_>| -> Result<(), Failure> {
        let (value, line) = match record {
            replay::Streamed::Controller { trigger, decision: d } => {
                let line =
                    (!d.actions.is_empty() || d.reason != ecs_autopilot::decision::Reason::NoChange).then(|| {
                        format!(
                            "{}  {:<28} {:>3} -> {:<3} {:<26} {}",
                            d.time,
                            d.service,
                            d.current,
                            d.desired,
                            serde_json::to_string(&d.reason).unwrap_or_default(),
                            trigger
                        )
                    });
                (
                    serde_json::to_value(d).map(|mut v| {
                        v["trigger"] = trigger.into();
                        v
                    }),
                    line,
                )
            }
            replay::Streamed::Capacity { trigger, decision: d } => {
                let line = (!d.actions.is_empty()).then(|| {
                    format!(
                        "{}  {:<28} {:>3} -> {:<3} instances (M {}, N {})  {}",
                        d.time, d.capacity_provider, d.current_desired, d.desired, d.m, d.n, trigger
                    )
                });
                (
                    serde_json::to_value(d).map(|mut v| {
                        v["trigger"] = trigger.into();
                        v
                    }),
                    line,
                )
            }
        };
        if format == "jsonl" {
            let value = value.map_err(|e| Failure::runtime(format!("cannot encode decision: {e}")))?;
            out!("{value}");
        } else if let Some(line) = line {
            out!("{line}");
        }
        Ok(())
    };
    let mut sink = |record: replay::Streamed<'_>| {
        if failed.is_none() {
            if let Err(f) = print(record) {
                failed = Some(f);
            }
        }
    };
    let out = replay::replay_streaming(
        &config,
        &stack,
        &initial,
        &metrics,
        &lines,
        capacity,
        &mut sink,
        &mut |done, total| {
            bar.update(done, total);
        },
    )
    .map_err(|e| Failure::input(format!("{events}: {e}")))?;
    if let Some(f) = failed {
        return Err(f);
    }
    let ignored: Vec<String> = out.ignored.iter().map(|(k, v)| format!("{v} {k}")).collect();
    eprintln!(
        "{} event(s), {} evaluation(s); ignored: {}",
        out.events,
        out.evaluations,
        if ignored.is_empty() { "none".to_owned() } else { ignored.join(", ") }
    );
    Ok(())
}

/// `--metrics` (GetMetricData output) read with `--metric-map`; none
/// without them.
pub(super) fn recorded_metrics(
    metrics: Option<&str>,
    metric_map: Option<&str>,
) -> Result<ecs_autopilot::replay::Metrics, Failure> {
    use ecs_autopilot::replay::{self, MetricMapping};
    match (metrics, metric_map) {
        (Some(m), Some(map)) => {
            let mapping: std::collections::BTreeMap<String, MetricMapping> =
                serde_path_to_error::deserialize(yaml_or_json(map)?)
                    .map_err(|e| Failure::input(format!("{map}: {}: {}", e.path(), e.inner())))?;
            replay::metrics_from_get_metric_data(&yaml_or_json(m)?, &mapping)
                .map_err(|e| Failure::input(format!("{m}: {e}")))
        }
        (Some(_), None) => Err(Failure::input("--metrics needs --metric-map (which service and metric each Id is)")),
        _ => Ok(Default::default()),
    }
}

/// `--initial`: each service's desired and running count at the start.
pub(super) fn initial_states(
    initial: Option<&str>,
) -> Result<std::collections::BTreeMap<String, ecs_autopilot::replay::InitialState>, Failure> {
    match initial {
        Some(path) => serde_path_to_error::deserialize(yaml_or_json(path)?)
            .map_err(|e| Failure::input(format!("{path}: {}: {}", e.path(), e.inner()))),
        None => Ok(Default::default()),
    }
}

/// A progress line on stderr for long runs; silent when stderr is not a
/// terminal (pipes, CI logs, tests).
struct Progress {
    label: &'static str,
    enabled: bool,
    last_percent: Option<usize>,
}

impl Progress {
    fn new(label: &'static str) -> Self {
        use std::io::IsTerminal;
        Self { label, enabled: std::io::stderr().is_terminal(), last_percent: None }
    }

    fn update(&mut self, done: usize, total: usize) {
        if !self.enabled || total == 0 {
            return;
        }
        let percent = done * 100 / total;
        if self.last_percent == Some(percent) {
            return;
        }
        self.last_percent = Some(percent);
        let filled = percent / 4;
        eprint!("\r{} [{}{}] {percent:>3} % ({done}/{total})", self.label, "#".repeat(filled), " ".repeat(25 - filled));
        if done >= total {
            eprintln!();
        }
    }
}
