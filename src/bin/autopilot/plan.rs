//! `autopilot plan`: the recorded history replayed under the current and
//! the proposed configuration (and AWS's behaviour of the current one),
//! printed as a table or JSON, with `--chart` and `--detailed-exitcode`
//! (docs/plan.md).

use super::replay::{initial_states, png, recorded_metrics};
use super::{load_config, load_stack, read, Failure, RecordedWorld};
use ecs_autopilot::plan::{self, History, Plan, RunSummary, ServicePlan};

/// The exit status of `--detailed-exitcode` when a desired count would
/// differ (0 when none would; 1 and 2 keep their meaning: failure, bad input).
pub(super) const DIFFERS: u8 = 3;

/// How many difference stretches the table lists per service (JSON lists
/// them all).
const STRETCHES_LISTED: usize = 10;

/// What `autopilot plan` was given.
pub(super) struct Inputs<'a> {
    pub configs: &'a [String],
    pub proposed: &'a [String],
    pub events: &'a str,
    pub world: &'a RecordedWorld,
    pub format: &'a str,
    pub chart: Option<&'a str>,
    pub detailed_exitcode: bool,
}

pub(super) fn run(inputs: &Inputs<'_>) -> Result<(), Failure> {
    if !matches!(inputs.format, "table" | "json") {
        return Err(Failure::input(format!("--format {:?}: expected table or json", inputs.format)));
    }
    let current = load_config(inputs.configs)?;
    let proposed = load_config(inputs.proposed)?;
    let world = inputs.world;
    let stack = load_stack(&world.rules, &world.params)?;
    let metrics = recorded_metrics(world.metrics.as_deref(), world.metric_map.as_deref())?;
    let initial = initial_states(world.initial.as_deref())?;
    let text = read(inputs.events)?;
    let lines: Vec<ecs_autopilot::replay::Line<'_>> =
        text.lines().enumerate().map(|(i, t)| ecs_autopilot::replay::Line { number: i + 1, text: t }).collect();
    let history = History { stack: &stack, initial: &initial, metrics: &metrics, lines: &lines };
    let plan =
        plan::plan(&current, &proposed, history).map_err(|e| Failure::input(format!("{}: {e}", inputs.events)))?;
    if let Some(out) = inputs.chart {
        let svg = plan::chart::svg(&plan);
        let bytes = if out.ends_with(".png") { png(&svg)? } else { svg.into_bytes() };
        std::fs::write(out, bytes).map_err(|e| Failure::runtime(format!("cannot write {out}: {e}")))?;
    }
    if inputs.format == "json" {
        let text =
            serde_json::to_string_pretty(&plan).map_err(|e| Failure::runtime(format!("cannot encode plan: {e}")))?;
        out!("{text}");
    } else {
        table(&plan)?;
    }
    if inputs.detailed_exitcode && plan.differs() {
        return Err(Failure { code: DIFFERS, message: String::new() });
    }
    Ok(())
}

fn table(plan: &Plan) -> Result<(), Failure> {
    out!("plan: {} to {}", plan.from, plan.to);
    if plan.aws_reference_is_current {
        out!("AWS reference: the current configuration is already AWS's (aws mode, no extensions)");
    }
    for note in &plan.notes {
        out!("note: {note}");
    }
    for service in &plan.services {
        out!("");
        service_table(service)?;
    }
    let differing = plan.services.iter().filter(|s| s.differs()).count();
    out!("");
    out!(
        "{differing} of {} service(s) would differ{}",
        plan.services.len(),
        if differing == 0 { ": the proposed configuration changes nothing on this history" } else { "" }
    );
    Ok(())
}

fn service_table(s: &ServicePlan) -> Result<(), Failure> {
    let changed = if s.configuration_changed { "configuration changed" } else { "configuration unchanged" };
    out!("{}  ({changed})", s.service);
    if let Some(r) = &s.reference {
        out!("  provisioning measured against the current target: {} = {} ({})", r.metric, r.target_value, r.policy);
    }
    let runs = [&s.current, &s.proposed, &s.aws_reference];
    out!("  {:<34} {:>12} {:>12} {:>14}", "", "current", "proposed", "AWS reference");
    let row = |name: &str, f: &dyn Fn(&RunSummary) -> String| -> Result<(), Failure> {
        let cells: Vec<String> = runs.iter().map(|r| r.as_ref().map_or("-".to_owned(), f)).collect();
        out!("  {name:<34} {:>12} {:>12} {:>14}", cells[0], cells[1], cells[2]);
        Ok(())
    };
    let opt = |v: Option<u64>| v.map_or("-".to_owned(), |v| v.to_string());
    row("task-hours", &|r| format!("{:.2}", r.task_hours))?;
    row("under-provisioned task-seconds", &|r| opt(r.under_provisioned_task_seconds))?;
    row("over-provisioned task-seconds", &|r| opt(r.over_provisioned_task_seconds))?;
    row("scaling actions", &|r| r.actions.to_string())?;
    row("flaps (reversals within 15 min)", &|r| r.flaps.to_string())?;
    row("desired min / max / final", &|r| format!("{}/{}/{}", r.min_desired, r.max_desired, r.final_desired))?;
    row("evaluations", &|r| r.evaluations.to_string())?;
    let mut kinds: Vec<&String> = runs.iter().filter_map(|r| r.as_ref()).flat_map(|r| r.blocked.keys()).collect();
    kinds.sort();
    kinds.dedup();
    for kind in kinds {
        row(&format!("blocked: {kind}"), &|r| r.blocked.get(kind).copied().unwrap_or(0).to_string())?;
    }
    match (&s.current, &s.proposed) {
        (Some(_), None) => out!("  the proposed configuration does not scale this service"),
        (None, Some(_)) => out!("  the current configuration does not scale this service"),
        _ => {}
    }
    match (&s.first_difference, &s.largest_difference) {
        (Some(first), Some(largest)) => {
            out!("  first difference:   {}  current {} -> proposed {}", first.time, first.current, first.proposed);
            out!(
                "  largest difference: {}  current {} -> proposed {}",
                largest.time,
                largest.current,
                largest.proposed
            );
            out!("  differs for {} in {} stretch(es):", duration(s.seconds_different), s.differences.len());
            for d in s.differences.iter().take(STRETCHES_LISTED) {
                out!("    {} .. {}  current {:>3}  proposed {:>3}", d.from, d.to, d.current, d.proposed);
            }
            if s.differences.len() > STRETCHES_LISTED {
                out!("    … {} more (--format json lists every one)", s.differences.len() - STRETCHES_LISTED);
            }
        }
        _ => out!("  no difference in the desired count"),
    }
    Ok(())
}

fn duration(seconds: u64) -> String {
    let (h, m, s) = (seconds / 3600, seconds % 3600 / 60, seconds % 60);
    match (h, m) {
        (0, 0) => format!("{s} s"),
        (0, _) => format!("{m} min {s} s"),
        _ => format!("{h} h {m} min"),
    }
}
