//! SVG chart of a report: tasks needed, running and desired for both
//! controllers, and their instances when the scenario has a cluster (top),
//! and the CPU metric each could read (bottom).

use super::engine::{Report, Sample};
use super::scenario::{Fairness, MetricPipeline};
use std::fmt::Write;

const WIDTH: f64 = 960.0;
const PANEL: f64 = 260.0;
const LEFT: f64 = 60.0;
const RIGHT: f64 = 20.0;
const TOP: f64 = 40.0;
const GAP: f64 = 50.0;

fn polyline(out: &mut String, points: &[(f64, f64)], color: &str, dash: bool) {
    let coords: Vec<String> = points.iter().map(|(x, y)| format!("{x:.1},{y:.1}")).collect();
    let dash = if dash { " stroke-dasharray=\"6 4\"" } else { "" };
    let _ = writeln!(
        out,
        "<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"1.8\"{dash} points=\"{}\"/>",
        coords.join(" ")
    );
}

/// Renders the report as an SVG document.
#[must_use]
pub fn svg(report: &Report) -> String {
    let height = TOP + 2.0 * PANEL + GAP + 92.0;
    let duration = f64::from(report.duration_seconds.max(1));
    let x = |t: u32| LEFT + (WIDTH - LEFT - RIGHT) * f64::from(t) / duration;
    let all = report.baseline.samples.iter().chain(&report.autopilot.samples);
    let max_tasks = all
        .clone()
        .map(|s| s.needed.max(s.running).max(s.desired).max(s.instances.unwrap_or(0)))
        .max()
        .unwrap_or(1)
        .max(1) as f64
        * 1.1;
    let with_instances = report.baseline.samples.iter().any(|s| s.instances.is_some());
    let y_tasks = |v: f64| TOP + PANEL - PANEL * v / max_tasks;
    let cpu_top = TOP + PANEL + GAP;
    let y_cpu = |v: f64| cpu_top + PANEL - PANEL * v.min(100.0) / 100.0;
    let mut out = String::new();
    let _ = writeln!(out, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{height}\" font-family=\"sans-serif\" font-size=\"12\">");
    let _ = writeln!(out, "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>");
    let _ = writeln!(
        out,
        "<text x=\"{LEFT}\" y=\"22\" font-size=\"15\" font-weight=\"bold\">{} — AWS baseline vs ecs-autopilot</text>",
        escape(&report.scenario)
    );
    for (top, label) in
        [(TOP, format!("tasks (max {:.0})", max_tasks / 1.1)), (cpu_top, "CPU % read by the controller".to_owned())]
    {
        let _ = writeln!(
            out,
            "<rect x=\"{LEFT}\" y=\"{top}\" width=\"{}\" height=\"{PANEL}\" fill=\"none\" stroke=\"#999\"/>",
            WIDTH - LEFT - RIGHT
        );
        let _ = writeln!(out, "<text x=\"{}\" y=\"{}\">{label}</text>", LEFT + 6.0, top + 14.0);
    }
    // Axis values: tasks (0, half, max) and CPU (0, 50, 100 %).
    for (v, y) in
        [(0.0, y_tasks(0.0)), (max_tasks / 2.2, y_tasks(max_tasks / 2.2)), (max_tasks / 1.1, y_tasks(max_tasks / 1.1))]
    {
        let _ = writeln!(out, "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{v:.0}</text>", LEFT - 6.0, y + 4.0);
    }
    for v in [0.0, 50.0, 100.0] {
        let _ = writeln!(
            out,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{v:.0} %</text>",
            LEFT - 6.0,
            y_cpu(v) + 4.0
        );
    }
    let minutes = report.duration_seconds / 60;
    let step = (minutes / 10).max(1);
    for m in (0..=minutes).step_by(step as usize) {
        let xx = x(m * 60);
        let _ = writeln!(
            out,
            "<text x=\"{xx:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{m} min</text>",
            cpu_top + PANEL + 16.0
        );
    }
    let line = |samples: &[Sample], f: &dyn Fn(&Sample) -> Option<f64>, y: &dyn Fn(f64) -> f64| -> Vec<(f64, f64)> {
        samples.iter().filter_map(|s| f(s).map(|v| (x(s.t), y(v)))).collect()
    };
    let b = &report.baseline.samples;
    let a = &report.autopilot.samples;
    polyline(&mut out, &line(b, &|s| Some(f64::from(s.needed)), &y_tasks), "#222", true);
    polyline(&mut out, &line(b, &|s| Some(f64::from(s.running)), &y_tasks), "#d62728", false);
    polyline(&mut out, &line(b, &|s| Some(f64::from(s.desired)), &y_tasks), "#ff9896", true);
    polyline(&mut out, &line(a, &|s| Some(f64::from(s.running)), &y_tasks), "#1f77b4", false);
    polyline(&mut out, &line(a, &|s| Some(f64::from(s.desired)), &y_tasks), "#aec7e8", true);
    if with_instances {
        polyline(&mut out, &line(b, &|s| s.instances.map(f64::from), &y_tasks), "#8c564b", false);
        polyline(&mut out, &line(a, &|s| s.instances.map(f64::from), &y_tasks), "#2ca02c", false);
    }
    polyline(&mut out, &line(b, &|s| s.metric, &y_cpu), "#d62728", false);
    polyline(&mut out, &line(a, &|s| s.metric, &y_cpu), "#1f77b4", false);
    let mut legend = vec![
        ("#222", "tasks needed at target"),
        ("#d62728", "AWS: running / metric"),
        ("#ff9896", "AWS: desired"),
        ("#1f77b4", "ecs-autopilot: running / metric"),
        ("#aec7e8", "ecs-autopilot: desired"),
    ];
    if with_instances {
        legend.push(("#8c564b", "AWS: instances"));
        legend.push(("#2ca02c", "ecs-autopilot: instances"));
    }
    for (i, (color, text)) in legend.iter().enumerate() {
        // Two rows so long labels never overlap.
        let lx = LEFT + 300.0 * (i % 3) as f64;
        let ly = height - 46.0 + 16.0 * (i / 3) as f64;
        let _ = writeln!(out, "<line x1=\"{lx}\" y1=\"{ly}\" x2=\"{}\" y2=\"{ly}\" stroke=\"{color}\" stroke-width=\"3\"/><text x=\"{}\" y=\"{}\">{text}</text>", lx + 18.0, lx + 22.0, ly + 4.0);
    }
    out.push_str("</svg>\n");
    out
}

/// What each controller read, in words: one line when both read the same
/// stream; otherwise both streams and whether production delivers
/// ecs-autopilot's (docs/simulation.md "Fair comparison").
#[must_use]
pub fn stream_lines(report: &Report) -> Vec<String> {
    let (b, a) = (report.baseline.metrics, report.autopilot.metrics);
    let describe = |m: MetricPipeline| format!("{} s datapoints readable {} s after their period", m.period_seconds, m.delay_seconds);
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

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}
