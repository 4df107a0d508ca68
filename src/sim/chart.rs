//! SVG chart of a report (docs/simulation.md "Charts"): the metric stream
//! each controller read and whether the comparison is fair; a tasks panel
//! (tasks needed at the target, each controller's running and desired
//! tasks, `max_tasks` as a line, instances with a cluster, under-provisioned
//! time shaded); a CPU panel (the utilization the tasks really had, the
//! metric each controller read labelled with its stream, the target); a
//! marker where demand starts to rise; and the scorecard's key rows.
//!
//! Owns: layout and text. May not touch: files (the CLI writes the SVG).

use super::engine::{Report, Run, Sample, Score};
use super::scenario::{Fairness, MetricPipeline};
use std::fmt::Write;

const WIDTH: f64 = 1000.0;
const LEFT: f64 = 80.0;
const RIGHT: f64 = 24.0;
const TASKS_PANEL: f64 = 260.0;
const CPU_PANEL: f64 = 180.0;
const GAP: f64 = 56.0;
const AWS: &str = "#d62728";
const AWS_LIGHT: &str = "#f4a6a6";
const OURS: &str = "#1f77b4";
const OURS_LIGHT: &str = "#9ec9ea";

/// What each controller read, in words: one line when both read the same
/// stream; otherwise both streams and whether production delivers
/// ecs-autopilot's (docs/simulation.md "Fair comparison").
#[must_use]
pub fn stream_lines(report: &Report) -> Vec<String> {
    let (b, a) = (report.baseline.metrics, report.autopilot.metrics);
    match &report.fairness {
        Fairness::SameStream => vec![format!("metric stream (both controllers): {}", describe(b))],
        Fairness::Declared { source } => vec![
            format!("metric stream, AWS baseline: {}", describe(b)),
            format!("metric stream, ecs-autopilot: {} — from {source}", describe(a)),
        ],
        Fairness::Undeclared => vec![
            format!("metric stream, AWS baseline: {}", describe(b)),
            format!("metric stream, ecs-autopilot: {}", describe(a)),
            "NOT A FAIR COMPARISON: ecs-autopilot reads another stream and the scenario does not say how production delivers it (autopilot_metrics_source)".to_owned(),
        ],
    }
}

fn describe(m: MetricPipeline) -> String {
    format!("{} s datapoints readable {} s after their period", m.period_seconds, m.delay_seconds)
}

fn short(m: MetricPipeline) -> String {
    format!("{} s + {} s delay", m.period_seconds, m.delay_seconds)
}

fn polyline(out: &mut String, points: &[(f64, f64)], color: &str, width: f64, dash: Option<&str>) {
    if points.is_empty() {
        return;
    }
    let coords: Vec<String> = points.iter().map(|(x, y)| format!("{x:.1},{y:.1}")).collect();
    let dash = dash.map(|d| format!(" stroke-dasharray=\"{d}\"")).unwrap_or_default();
    let _ = writeln!(
        out,
        "<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"{width}\"{dash} points=\"{}\"/>",
        coords.join(" ")
    );
}

fn text(out: &mut String, x: f64, y: f64, anchor: &str, extra: &str, body: &str) {
    let _ = writeln!(out, "<text x=\"{x:.1}\" y=\"{y:.1}\" text-anchor=\"{anchor}\"{extra}>{}</text>", escape(body));
}

/// A round step for `span` split in about `parts`.
fn nice_step(span: f64, parts: f64) -> f64 {
    let raw = (span / parts).max(1.0);
    let magnitude = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0].iter().map(|m| m * magnitude).find(|s| *s >= raw).unwrap_or(raw)
}

/// Renders the report as an SVG document.
#[must_use]
pub fn svg(report: &Report) -> String {
    let streams = stream_lines(report);
    let header = 34.0 + 16.0 * streams.len() as f64;
    let tasks_top = header + 10.0;
    let cpu_top = tasks_top + TASKS_PANEL + GAP;
    let axis_bottom = cpu_top + CPU_PANEL;
    let legend_top = axis_bottom + 50.0;
    let with_instances = report.baseline.samples.iter().any(|s| s.instances.is_some());
    let legend_rows = if with_instances { 4.0 } else { 3.0 };
    let score_top = legend_top + 18.0 * legend_rows + 14.0;
    let height = score_top + 18.0 * 7.0 + 10.0;
    let plot_width = WIDTH - LEFT - RIGHT;
    let duration = f64::from(report.duration_seconds.max(1));
    let x = |t: u32| LEFT + plot_width * f64::from(t) / duration;

    let runs = [&report.baseline, &report.autopilot];
    let peak = runs
        .iter()
        .flat_map(|r| r.samples.iter())
        .map(|s| s.needed.max(s.running).max(s.desired).max(s.instances.unwrap_or(0)))
        .max()
        .unwrap_or(1);
    // max_tasks is drawn as a line, not taken as the scale: the scale is
    // what was plotted, with max_tasks shown when it is near.
    let top_value = f64::from(peak.max(1)) * 1.15;
    let show_max = f64::from(report.max_tasks) <= top_value * 1.3 && report.max_tasks > 0;
    let top_value = if show_max { top_value.max(f64::from(report.max_tasks) * 1.05) } else { top_value };
    let y_tasks = |v: f64| tasks_top + TASKS_PANEL - TASKS_PANEL * v / top_value;
    let y_cpu = |v: f64| cpu_top + CPU_PANEL - CPU_PANEL * v.clamp(0.0, 100.0) / 100.0;

    let mut out = String::new();
    let _ = writeln!(out, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{height:.0}\" viewBox=\"0 0 {WIDTH} {height:.0}\" font-family=\"sans-serif\" font-size=\"12\">");
    let _ = writeln!(out, "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>");
    text(
        &mut out,
        LEFT,
        22.0,
        "start",
        " font-size=\"16\" font-weight=\"bold\"",
        &format!("{} — AWS baseline vs ecs-autopilot", report.scenario),
    );
    for (i, line) in streams.iter().enumerate() {
        let warn = if line.starts_with("NOT A FAIR") { " fill=\"#b00\" font-weight=\"bold\"" } else { "" };
        text(&mut out, LEFT, 40.0 + 16.0 * i as f64, "start", warn, line);
    }

    // Under-provisioned time, shaded per controller (running < needed).
    for (run, color, band) in [(&report.baseline, AWS_LIGHT, 0.0), (&report.autopilot, OURS_LIGHT, 0.5)] {
        let mut start: Option<u32> = None;
        let last = run.samples.last().map_or(0, |s| s.t + 10);
        let mut shade = |from: u32, to: u32| {
            let _ = writeln!(
                out,
                "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{color}\" fill-opacity=\"0.45\"/>",
                x(from),
                tasks_top + TASKS_PANEL * band,
                (x(to) - x(from)).max(0.5),
                TASKS_PANEL / 2.0
            );
        };
        for s in &run.samples {
            match (start, s.running < s.needed) {
                (None, true) => start = Some(s.t),
                (Some(from), false) => {
                    shade(from, s.t);
                    start = None;
                }
                _ => {}
            }
        }
        if let Some(from) = start {
            shade(from, last);
        }
    }

    // Frames, value ticks and axis titles.
    for (top, panel) in [(tasks_top, TASKS_PANEL), (cpu_top, CPU_PANEL)] {
        let _ = writeln!(
            out,
            "<rect x=\"{LEFT}\" y=\"{top:.1}\" width=\"{plot_width}\" height=\"{panel}\" fill=\"none\" stroke=\"#888\"/>"
        );
    }
    // Grid lines with their values, tasks then CPU.
    let step = nice_step(top_value, 5.0);
    let task_ticks = (0..).map(|i| f64::from(i) * step).take_while(|v| *v <= top_value);
    let ticks = task_ticks
        .map(|v| (y_tasks(v), format!("{v:.0}")))
        .chain([0.0, 25.0, 50.0, 75.0, 100.0].map(|v| (y_cpu(v), format!("{v:.0} %"))));
    for (y, label) in ticks.collect::<Vec<_>>() {
        let _ = writeln!(
            out,
            "<line x1=\"{LEFT}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\" stroke=\"#eee\"/>",
            LEFT + plot_width
        );
        text(&mut out, LEFT - 6.0, y + 4.0, "end", "", &label);
    }
    let vertical = |out: &mut String, top: f64, panel: f64, title: &str| {
        let (cx, cy) = (18.0, top + panel / 2.0);
        let _ = writeln!(
            out,
            "<text x=\"{cx}\" y=\"{cy:.1}\" text-anchor=\"middle\" transform=\"rotate(-90 {cx} {cy:.1})\">{}</text>",
            escape(title)
        );
    };
    vertical(&mut out, tasks_top, TASKS_PANEL, "tasks");
    vertical(&mut out, cpu_top, CPU_PANEL, "CPU utilization (%)");

    // Time ticks: minutes for short runs, hours for long ones.
    let hours = report.duration_seconds > 3 * 3600;
    let unit = if hours { 3600.0 } else { 60.0 };
    let tick = nice_step(duration / unit, 12.0) * unit;
    let mut t = 0.0;
    while t <= duration {
        let xx = x(t as u32);
        let label = if hours { format!("{:.0} h", t / 3600.0) } else { format!("{:.0}", t / 60.0) };
        let _ = writeln!(
            out,
            "<line x1=\"{xx:.1}\" y1=\"{axis_bottom:.1}\" x2=\"{xx:.1}\" y2=\"{:.1}\" stroke=\"#888\"/>",
            axis_bottom + 4.0
        );
        text(&mut out, xx, axis_bottom + 17.0, "middle", "", &label);
        t += tick;
    }
    let axis_title = if hours { "time since start (hours)" } else { "time since start (minutes)" };
    text(&mut out, LEFT + plot_width / 2.0, axis_bottom + 34.0, "middle", "", axis_title);

    // Where demand starts to rise (reaction is measured from here).
    if let Some(at) = report.reaction_from {
        let xx = x(at);
        let _ = writeln!(
            out,
            "<line x1=\"{xx:.1}\" y1=\"{tasks_top:.1}\" x2=\"{xx:.1}\" y2=\"{axis_bottom:.1}\" stroke=\"#555\" stroke-dasharray=\"2 3\"/>"
        );
        text(&mut out, xx + 4.0, tasks_top + 14.0, "start", " fill=\"#555\"", "demand rises");
    }

    // Tasks panel.
    let line = |samples: &[Sample], f: &dyn Fn(&Sample) -> Option<f64>, y: &dyn Fn(f64) -> f64| -> Vec<(f64, f64)> {
        samples.iter().filter_map(|s| f(s).map(|v| (x(s.t), y(v)))).collect()
    };
    let (b, a) = (&report.baseline.samples, &report.autopilot.samples);
    if show_max {
        let y = y_tasks(f64::from(report.max_tasks));
        polyline(&mut out, &[(LEFT, y), (LEFT + plot_width, y)], "#999", 1.2, Some("8 4"));
        text(
            &mut out,
            LEFT + plot_width - 4.0,
            y - 4.0,
            "end",
            " fill=\"#666\"",
            &format!("max_tasks {}", report.max_tasks),
        );
    }
    polyline(&mut out, &line(b, &|s| Some(f64::from(s.needed)), &y_tasks), "#222", 2.0, None);
    polyline(&mut out, &line(b, &|s| Some(f64::from(s.desired)), &y_tasks), AWS_LIGHT, 1.6, Some("6 4"));
    polyline(&mut out, &line(a, &|s| Some(f64::from(s.desired)), &y_tasks), OURS_LIGHT, 1.6, Some("6 4"));
    polyline(&mut out, &line(b, &|s| Some(f64::from(s.running)), &y_tasks), AWS, 1.8, None);
    polyline(&mut out, &line(a, &|s| Some(f64::from(s.running)), &y_tasks), OURS, 1.8, None);
    if with_instances {
        polyline(&mut out, &line(b, &|s| s.instances.map(f64::from), &y_tasks), "#8c564b", 1.6, Some("2 2"));
        polyline(&mut out, &line(a, &|s| s.instances.map(f64::from), &y_tasks), "#2ca02c", 1.6, Some("2 2"));
    }

    // CPU panel: the truth, the target, and what each controller read.
    polyline(&mut out, &line(a, &|s| Some(s.utilization), &y_cpu), "#bbb", 1.2, None);
    let target = report.target_cpu_percent;
    if target > 0.0 {
        let y = y_cpu(target);
        polyline(&mut out, &[(LEFT, y), (LEFT + plot_width, y)], "#2a2", 1.2, Some("8 4"));
        text(&mut out, LEFT + plot_width - 4.0, y - 4.0, "end", " fill=\"#2a2\"", &format!("target {target:.0} %"));
    }
    polyline(&mut out, &line(b, &|s| s.metric, &y_cpu), AWS, 1.6, None);
    polyline(&mut out, &line(a, &|s| s.metric, &y_cpu), OURS, 1.6, Some("5 2"));

    // Legend, two columns.
    let (sb, sa) = (short(report.baseline.metrics), short(report.autopilot.metrics));
    let mut legend: Vec<(&str, String, Option<&str>)> = vec![
        ("#222", "tasks needed at the target (demand)".to_owned(), None),
        ("#bbb", "CPU the tasks really had (ecs-autopilot run)".to_owned(), None),
        (AWS, "AWS baseline: running tasks".to_owned(), None),
        (AWS, format!("AWS baseline: CPU metric read ({sb})"), None),
        (AWS_LIGHT, "AWS baseline: desired count".to_owned(), Some("6 4")),
        (OURS, format!("ecs-autopilot: CPU metric read ({sa})"), Some("5 2")),
        (OURS, "ecs-autopilot: running tasks".to_owned(), None),
        (OURS_LIGHT, "ecs-autopilot: desired count".to_owned(), Some("6 4")),
    ];
    if with_instances {
        legend.push(("#8c564b", "AWS baseline: instances".to_owned(), Some("2 2")));
        legend.push(("#2ca02c", "ecs-autopilot: instances".to_owned(), Some("2 2")));
    }
    for (i, (color, label, dash)) in legend.iter().enumerate() {
        let lx = LEFT + (plot_width / 2.0) * (i % 2) as f64;
        let ly = legend_top + 18.0 * (i / 2) as f64;
        polyline(&mut out, &[(lx, ly), (lx + 26.0, ly)], color, 3.0, *dash);
        text(&mut out, lx + 32.0, ly + 4.0, "start", "", label);
    }
    let ly = legend_top + 18.0 * ((legend.len() as f64 / 2.0).ceil());
    let _ = writeln!(out, "<rect x=\"{LEFT}\" y=\"{:.1}\" width=\"26\" height=\"10\" fill=\"{AWS_LIGHT}\" fill-opacity=\"0.45\"/><rect x=\"{:.1}\" y=\"{:.1}\" width=\"26\" height=\"10\" fill=\"{OURS_LIGHT}\" fill-opacity=\"0.45\"/>", ly - 5.0, LEFT + 30.0, ly - 5.0);
    text(
        &mut out,
        LEFT + 62.0,
        ly + 4.0,
        "start",
        "",
        "under-provisioned time (fewer running tasks than needed): AWS top half, ecs-autopilot bottom half",
    );

    scorecard(&mut out, score_top + 18.0, &report.baseline, &report.autopilot);
    out.push_str("</svg>\n");
    out
}

/// The scorecard's key rows under the chart.
fn scorecard(out: &mut String, top: f64, baseline: &Run, ours: &Run) {
    let (b, a): (&Score, &Score) = (&baseline.score, &ours.score);
    let secs = |v: Option<u32>| v.map_or("-".to_owned(), |s| format!("{s} s"));
    let ratio = |ours: f64, theirs: f64| if theirs > 0.0 { format!("{:.2}×", ours / theirs) } else { "-".to_owned() };
    let rows = [
        (
            "demand rise → first scale-out",
            secs(b.reaction_decision_seconds),
            secs(a.reaction_decision_seconds),
            match (a.reaction_decision_seconds, b.reaction_decision_seconds) {
                (Some(x), Some(y)) => ratio(f64::from(x), f64::from(y)),
                _ => "-".to_owned(),
            },
        ),
        (
            "under-provisioned task-seconds",
            b.under_provisioned_task_seconds.to_string(),
            a.under_provisioned_task_seconds.to_string(),
            ratio(a.under_provisioned_task_seconds as f64, b.under_provisioned_task_seconds as f64),
        ),
        (
            "over-provisioned task-seconds",
            b.over_provisioned_task_seconds.to_string(),
            a.over_provisioned_task_seconds.to_string(),
            ratio(a.over_provisioned_task_seconds as f64, b.over_provisioned_task_seconds as f64),
        ),
        (
            "task-hours",
            format!("{:.2}", b.task_hours),
            format!("{:.2}", a.task_hours),
            ratio(a.task_hours, b.task_hours),
        ),
        (
            "scaling actions / flaps",
            format!("{} / {}", b.scaling_actions, b.flaps),
            format!("{} / {}", a.scaling_actions, a.flaps),
            String::new(),
        ),
    ];
    let columns = [LEFT, LEFT + 320.0, LEFT + 470.0, LEFT + 620.0];
    for (i, head) in ["scorecard", "AWS baseline", "ecs-autopilot", "ratio"].iter().enumerate() {
        text(out, columns[i], top, "start", " font-weight=\"bold\"", head);
    }
    for (r, (name, theirs, mine, ratio)) in rows.iter().enumerate() {
        let y = top + 18.0 * (r + 1) as f64;
        for (i, cell) in [*name, theirs.as_str(), mine.as_str(), ratio.as_str()].iter().enumerate() {
            text(out, columns[i], y, "start", "", cell);
        }
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}
