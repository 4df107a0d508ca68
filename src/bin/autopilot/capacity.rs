//! `autopilot capacity plan`: plans every Auto Scaling group capacity
//! provider of a snapshot (or the one `--capacity-provider` names) and says
//! which providers need no instances (docs/capacity.md).

use super::{instant, read, Failure};
use ecs_autopilot::capacity::snapshot::{self, Providers};
use ecs_autopilot::capacity::{plan as plan_provider, CapacityDecision, CapacityMemory, CapacityOptions, Cluster};
use ecs_autopilot::config::extensions::CapacitySection;
use ecs_autopilot::config::EvaluationMode;
use jiff::Timestamp;

/// What to plan and how, beside the snapshot and the output.
pub(super) struct Choice<'a> {
    /// Only this provider.
    pub provider: Option<&'a str>,
    /// The evaluation instant (RFC 3339).
    pub now: Option<&'a str>,
    /// Configuration files whose `Autopilot.Capacity` applies.
    pub configs: &'a [String],
    /// What the flags set, laid over that section.
    pub flags: CapacitySection,
}

pub(super) fn plan(files: &[String], format: &str, mode: &str, choice: &Choice<'_>) -> Result<(), Failure> {
    let Choice { provider, now, configs, flags } = *choice;
    let section = if configs.is_empty() { CapacitySection::default() } else { super::load_config(configs)?.capacity };
    let settings = section.overlaid_by(&flags);
    let mode = match mode {
        "aws" => EvaluationMode::Aws,
        "fast" => EvaluationMode::Fast,
        other => return Err(Failure::input(format!("--mode {other:?}: expected aws or fast"))),
    };
    if !matches!(format, "table" | "json") {
        return Err(Failure::input(format!("--format {format:?}: expected table or json")));
    }
    let texts = files.iter().map(|f| read(f).map(|t| (f.as_str(), t))).collect::<Result<Vec<_>, _>>()?;
    let docs: Vec<(&str, &str)> = texts.iter().map(|(n, t)| (*n, t.as_str())).collect();
    let merged = snapshot::merge(&docs).map_err(|e| Failure::input(e.to_string()))?;
    let providers = match provider {
        Some(name) => match snapshot::provider(&merged, name).map_err(|e| Failure::input(e.to_string()))? {
            Some(cluster) => Providers { planned: vec![cluster], without_instances: Vec::new() },
            None => Providers { planned: Vec::new(), without_instances: vec![name.to_owned()] },
        },
        None => snapshot::providers(&merged).map_err(|e| Failure::input(e.to_string()))?,
    };
    let now = match now {
        Some(t) => instant("--now", t)?,
        None => Timestamp::now(),
    };
    let options = CapacityOptions::with_section(mode, &settings);
    options.check().map_err(|e| Failure::input(format!("--{}", e.to_string().replace('_', "-"))))?;
    let mut plans: Vec<(&Cluster, CapacityDecision)> = Vec::new();
    for cluster in &providers.planned {
        let (decision, _) = plan_provider(now, cluster, &options, CapacityMemory::default())
            .map_err(|e| Failure::input(format!("capacity provider {}: {e}", cluster.capacity_provider)))?;
        plans.push((cluster, decision));
    }
    if format == "json" {
        json(&plans, &providers.without_instances)
    } else {
        table(&plans, &providers.without_instances)
    }
}

/// One Auto Scaling group provider: its decision as an object (the shape
/// since the first release); otherwise `{"decisions": [...],
/// "without_instances": [{"capacity_provider", "reason"}]}`.
fn json(plans: &[(&Cluster, CapacityDecision)], without: &[String]) -> Result<(), Failure> {
    let text = match plans {
        [(_, decision)] if without.is_empty() => serde_json::to_string_pretty(decision),
        _ => {
            let decisions: Vec<&CapacityDecision> = plans.iter().map(|(_, d)| d).collect();
            let without: Vec<serde_json::Value> = without
                .iter()
                .map(|p| serde_json::json!({"capacity_provider": p, "reason": snapshot::no_instances_reason(p)}))
                .collect();
            serde_json::to_string_pretty(&serde_json::json!({"decisions": decisions, "without_instances": without}))
        }
    }
    .map_err(|e| Failure::runtime(format!("cannot encode plan: {e}")))?;
    out!("{text}");
    Ok(())
}

fn table(plans: &[(&Cluster, CapacityDecision)], without: &[String]) -> Result<(), Failure> {
    for (k, (cluster, decision)) in plans.iter().enumerate() {
        if k > 0 {
            out!("");
        }
        out!(
            "capacity provider       {} (Auto Scaling group {}, {} mode)",
            decision.capacity_provider,
            cluster.asg.name,
            if decision.mode == EvaluationMode::Fast { "fast" } else { "aws" }
        );
        out!("instances needed (M)    {}", decision.m);
        out!("instances now (N)       {}", decision.n);
        out!("reservation             {:.1} % (target {} %)", decision.reservation_percent, decision.target_capacity);
        out!(
            "provisioning tasks      {} ({} incompatible with every instance type)",
            decision.provisioning_tasks,
            decision.incompatible_tasks
        );
        out!("desired capacity        {} -> {}", decision.current_desired, decision.desired);
        out!("reason                  {}", serde_json::to_string(&decision.reason).unwrap_or_default());
        for b in &decision.blocked_by {
            out!("blocked by              {}", serde_json::to_string(b).unwrap_or_default());
        }
        for a in &decision.actions {
            out!("action                  {}", serde_json::to_string(a).unwrap_or_default());
        }
    }
    if !plans.is_empty() && !without.is_empty() {
        out!("");
    }
    for p in without {
        out!("capacity provider       {p} (no Auto Scaling group: Fargate's, or none attached): nothing to plan");
    }
    Ok(())
}
