//! SVG chart of a plan: for each service whose desired count would differ
//! (the eight with the longest difference when more do), the desired count
//! over time under the current configuration, the proposed one and AWS's
//! behaviour of the current one, with the stretches where they differ
//! shaded, axis titles with units and the service's key figures.
//!
//! Owns: layout and text. May not touch: files (the CLI writes the SVG).

use super::timeline::Steps;
use super::{Plan, RunName, ServicePlan};
use std::fmt::Write;

const WIDTH: f64 = 1000.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 24.0;
const PANEL: f64 = 200.0;
const GAP: f64 = 120.0;
const TOP: f64 = 40.0;
/// Panels drawn at most: a chart of hundreds of services reads as none.
pub const MAX_PANELS: usize = 8;

fn color(run: RunName) -> (&'static str, Option<&'static str>) {
    match run {
        RunName::Current => ("#1f77b4", None),
        RunName::Proposed => ("#d62728", None),
        RunName::AwsReference => ("#7f7f7f", Some("5 4")),
    }
}

/// The chart; a plan where nothing differs gets one line saying so.
#[must_use]
pub fn svg(plan: &Plan) -> String {
    let mut shown: Vec<&ServicePlan> = plan.services.iter().filter(|s| s.differs()).collect();
    shown.sort_by(|a, b| b.seconds_different.cmp(&a.seconds_different).then(a.service.cmp(&b.service)));
    let hidden = shown.len().saturating_sub(MAX_PANELS);
    shown.truncate(MAX_PANELS);
    let panels = shown.len().max(1) as f64;
    let height = TOP + panels * (PANEL + GAP) + 20.0;
    let mut out = String::new();
    let _ = write!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="12"><rect width="100%" height="100%" fill="white"/>"#
    );
    let title = format!(
        "autopilot plan: desired tasks, current vs proposed ({} to {}){}",
        plan.from,
        plan.to,
        if hidden > 0 { format!(" — {hidden} more service(s) differ, see the table") } else { String::new() }
    );
    text(&mut out, LEFT, 22.0, "start", r#"font-size="15" font-weight="bold""#, &title);
    if shown.is_empty() {
        text(&mut out, LEFT, TOP + 40.0, "start", "", "No service's desired count would differ.");
    }
    let (from, to) = (plan.from.as_second(), plan.to.as_second().max(plan.from.as_second() + 1));
    for (i, service) in shown.iter().enumerate() {
        panel(&mut out, service, TOP + i as f64 * (PANEL + GAP) + 20.0, (from, to));
    }
    out.push_str("</svg>\n");
    out
}

fn panel(out: &mut String, service: &ServicePlan, top: f64, (from, to): (i64, i64)) {
    let right = WIDTH - RIGHT;
    let span = (to - from) as f64;
    let x = |t: i64| LEFT + (t - from) as f64 / span * (right - LEFT);
    let top_value = service.curves.values().map(|c| peak(c, from, to)).max().unwrap_or(1).max(1);
    let y_max = f64::from(top_value) * 1.15 + 1.0;
    let y = |v: f64| top + PANEL - v / y_max * PANEL;
    text(out, LEFT, top - 6.0, "start", r#"font-weight="bold""#, &service.service);
    // Where the counts differ.
    for d in &service.differences {
        let (x0, x1) = (x(d.from.as_second()), x(d.to.as_second()));
        let _ = write!(
            out,
            r##"<rect x="{x0:.1}" y="{top:.1}" width="{:.1}" height="{PANEL:.1}" fill="#fdd49e" opacity="0.6"/>"##,
            (x1 - x0).max(0.5)
        );
    }
    // Axes, hour or minute ticks, titles with units.
    let _ = write!(out, r##"<path d="M{LEFT},{top} V{:.1} H{right}" stroke="#333" fill="none"/>"##, top + PANEL);
    let hours = span / 3600.0;
    let (unit, unit_seconds) = if hours > 3.0 { ("hours", 3600.0) } else { ("minutes", 60.0) };
    let step = nice_step(span / unit_seconds, 8.0);
    let mut tick = 0.0;
    while tick <= span / unit_seconds + 1e-9 {
        let tx = x(from + (tick * unit_seconds) as i64);
        let _ = write!(out, r##"<path d="M{tx:.1},{:.1} v5" stroke="#333"/>"##, top + PANEL);
        text(out, tx, top + PANEL + 18.0, "middle", "", &format!("{tick}"));
        tick += step;
    }
    text(
        out,
        (LEFT + right) / 2.0,
        top + PANEL + 34.0,
        "middle",
        "",
        &format!("time since {} ({unit})", plan_start(from)),
    );
    let vstep = nice_step(y_max, 5.0);
    let mut v = 0.0;
    while v <= y_max {
        text(out, LEFT - 6.0, y(v) + 4.0, "end", "", &format!("{v}"));
        let _ = write!(out, r##"<path d="M{LEFT},{:.1} H{right}" stroke="#eee"/>"##, y(v));
        v += vstep;
    }
    let _ = write!(
        out,
        r#"<text transform="translate(18,{:.1}) rotate(-90)" text-anchor="middle">desired tasks</text>"#,
        top + PANEL / 2.0
    );
    // The curves, AWS's first so ours draw over it.
    for run in [RunName::AwsReference, RunName::Current, RunName::Proposed] {
        let Some(steps) = service.curves.get(&run) else { continue };
        let mut d = String::new();
        let mut last_y = None;
        for (s, e, value) in steps.segments(from, to) {
            let vy = y(f64::from(value));
            match last_y {
                None => {
                    let _ = write!(d, "M{:.1},{vy:.1}", x(s));
                }
                Some(_) => {
                    let _ = write!(d, " V{vy:.1}");
                }
            }
            let _ = write!(d, " H{:.1}", x(e));
            last_y = Some(vy);
        }
        let (stroke, dash) = color(run);
        let dash = dash.map_or(String::new(), |d| format!(r#" stroke-dasharray="{d}""#));
        let _ = write!(out, r#"<path d="{d}" stroke="{stroke}" stroke-width="1.8" fill="none"{dash}/>"#);
    }
    // Legend with the key figures.
    let lx = LEFT;
    let mut ly = top + PANEL + 54.0;
    for run in [RunName::Current, RunName::Proposed, RunName::AwsReference] {
        let summary = match run {
            RunName::Current => service.current.as_ref(),
            RunName::Proposed => service.proposed.as_ref(),
            RunName::AwsReference => service.aws_reference.as_ref(),
        };
        let Some(s) = summary else { continue };
        let (stroke, dash) = color(run);
        let dash = dash.map_or(String::new(), |d| format!(r#" stroke-dasharray="{d}""#));
        let _ = write!(out, r#"<path d="M{lx:.1},{:.1} h24" stroke="{stroke}" stroke-width="2"{dash}/>"#, ly - 4.0);
        let under = s.under_provisioned_task_seconds.map_or("-".to_owned(), |u| u.to_string());
        let label = format!(
            "{run}: {:.2} task-hours, {under} under-provisioned task-s, {} actions, {} flaps",
            s.task_hours, s.actions, s.flaps
        );
        text(out, lx + 30.0, ly, "start", "", &label);
        ly += 16.0;
    }
}

fn plan_start(from: i64) -> String {
    jiff::Timestamp::from_second(from).map_or_else(|_| from.to_string(), |t| t.to_string())
}

fn peak(steps: &Steps, from: i64, to: i64) -> u32 {
    steps.segments(from, to).map(|(_, _, v)| v).max().unwrap_or(0)
}

fn nice_step(span: f64, parts: f64) -> f64 {
    let raw = (span / parts).max(1e-9);
    let magnitude = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0].into_iter().map(|m| m * magnitude).find(|s| *s >= raw).unwrap_or(10.0 * magnitude)
}

fn text(out: &mut String, x: f64, y: f64, anchor: &str, extra: &str, body: &str) {
    let body = body.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
    let _ = write!(out, r#"<text x="{x:.1}" y="{y:.1}" text-anchor="{anchor}" {extra}>{body}</text>"#);
}
