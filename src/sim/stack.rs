//! The deployed stack as the simulator sees it: the EventBridge rules of
//! `infra/template.yaml` (embedded at build time, so the simulator and the
//! deployment can never read different templates), which function each rule
//! invokes, and the schedules that invoke them.
//!
//! Owns: the mapping from the template's rules to the two functions. May
//! not touch: files (the template is compiled in) or the clock.

use crate::route::scan::ScanError;
use crate::route::template::{rules_from_template, TemplateError};
use crate::route::{Router, Scratch};
use crate::schedule::{Schedule, ScheduleError};
use jiff::Timestamp;
use std::collections::BTreeMap;

/// The template the stack deploys.
pub const TEMPLATE: &str = include_str!("../../infra/template.yaml");

/// The two functions of the stack.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Function {
    /// `autopilot-controller` (logical id `ControllerFunction`).
    Controller,
    /// `autopilot-capacity` (logical id `CapacityFunction`).
    Capacity,
}

impl Function {
    fn from_logical_id(id: &str) -> Option<Self> {
        match id {
            "ControllerFunction" => Some(Self::Controller),
            "CapacityFunction" => Some(Self::Capacity),
            _ => None,
        }
    }
}

/// Why the stack could not be read from the template.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StackError {
    #[error("infra/template.yaml: {0}")]
    Template(#[from] TemplateError),
    #[error("infra/template.yaml: rule {rule}: {source}")]
    Schedule { rule: String, source: ScheduleError },
    #[error("infra/template.yaml: no schedule rule invokes the controller function")]
    NoTick,
}

/// The deployed rules: a router over the event rules and the schedules.
#[derive(Debug)]
pub struct Stack {
    router: Router,
    /// Per rule of the router, the functions it invokes.
    targets: Vec<Vec<Function>>,
    /// Schedule rules and the functions each invokes.
    schedules: Vec<(String, Schedule, Vec<Function>)>,
}

impl Stack {
    /// The stack `infra/template.yaml` deploys for one cluster (its
    /// `ClusterArns` parameter; the others keep their defaults).
    ///
    /// # Errors
    /// [`StackError`] when the embedded template has no usable rules.
    pub fn deployed_for(cluster_arn: &str) -> Result<Self, StackError> {
        let overrides = [("ClusterArns".to_owned(), cluster_arn.to_owned())].into_iter().collect();
        Self::from_template(TEMPLATE, &overrides)
    }

    /// The stack a template deploys, with parameter overrides.
    ///
    /// # Errors
    /// [`StackError`] naming the rule or resource.
    pub fn from_template(text: &str, overrides: &BTreeMap<String, String>) -> Result<Self, StackError> {
        let mut rules = Vec::new();
        let mut targets = Vec::new();
        let mut schedules = Vec::new();
        for r in rules_from_template(text, overrides)? {
            let functions: Vec<Function> = r.targets.iter().filter_map(|t| Function::from_logical_id(t)).collect();
            match &r.schedule {
                Some(expression) => {
                    let schedule = Schedule::new(expression, None, None, None)
                        .map_err(|source| StackError::Schedule { rule: r.rule.name.clone(), source })?;
                    schedules.push((r.rule.name.clone(), schedule, functions));
                }
                None => {
                    rules.push(r.rule);
                    targets.push(functions);
                }
            }
        }
        if !schedules.iter().any(|(_, _, fs)| fs.contains(&Function::Controller)) {
            return Err(StackError::NoTick);
        }
        Ok(Self { router: Router::new(rules), targets, schedules })
    }

    /// The functions EventBridge invokes with `event` (each once, even when
    /// several rules match). A malformed event invokes none.
    #[must_use]
    pub fn functions_for(&self, event: &str, scratch: &mut Scratch) -> Vec<Function> {
        self.route(event, scratch).unwrap_or_default()
    }

    /// [`Stack::functions_for`], saying why an event is not valid JSON.
    ///
    /// # Errors
    /// [`ScanError`] for text that is not a JSON object.
    pub fn route(&self, event: &str, scratch: &mut Scratch) -> Result<Vec<Function>, ScanError> {
        let mut matched = Vec::new();
        self.router.route_indexes(event, scratch, &mut matched)?;
        let mut out: Vec<Function> = matched.iter().flat_map(|i| self.targets[*i].iter().copied()).collect();
        out.sort_unstable();
        out.dedup();
        Ok(out)
    }

    /// A stack of plain rules (a rules file, no template): every rule
    /// invokes the controller, which the `tick` schedule invokes too.
    ///
    /// # Errors
    /// [`StackError::Schedule`] for an invalid `tick` expression.
    pub fn from_rules(rules: Vec<crate::route::Rule>, tick: &str) -> Result<Self, StackError> {
        let schedule = Schedule::new(tick, None, None, None)
            .map_err(|source| StackError::Schedule { rule: "tick".into(), source })?;
        let targets = vec![vec![Function::Controller]; rules.len()];
        Ok(Self {
            router: Router::new(rules),
            targets,
            schedules: vec![("tick".into(), schedule, vec![Function::Controller])],
        })
    }

    /// Whether the schedule rule named `rule` invokes `function`.
    #[must_use]
    pub fn schedule_invokes(&self, rule: &str, function: Function) -> bool {
        self.schedules.iter().any(|(name, _, fs)| name == rule && fs.contains(&function))
    }

    /// The first schedule firing strictly after `after` that invokes
    /// `function`, with the rule's name.
    #[must_use]
    pub fn next_fire(&self, after: Timestamp, function: Function) -> Option<(Timestamp, &str)> {
        self.schedules
            .iter()
            .filter(|(_, _, fs)| fs.contains(&function))
            .filter_map(|(name, schedule, _)| schedule.next_after(after).map(|t| (t, name.as_str())))
            .min()
    }

    /// The schedule rules that fire in `(after, until]`, with the functions
    /// they invoke and the rule name (for the event's `resources`).
    #[must_use]
    pub fn fires_between(&self, after: Timestamp, until: Timestamp) -> Vec<(Timestamp, &str, &[Function])> {
        let mut out = Vec::new();
        for (name, schedule, functions) in &self.schedules {
            for at in schedule.fires_between(after, until, 10_000) {
                out.push((at, name.as_str(), functions.as_slice()));
            }
        }
        out.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(b.1)));
        out
    }
}

/// The event a schedule rule delivers at `at` (EventBridge's `Scheduled
/// Event` envelope).
#[must_use]
pub fn scheduled_event(rule: &str, at: Timestamp, sequence: u64) -> serde_json::Value {
    serde_json::json!({
        "version": "0",
        "id": format!("tick-{sequence:07}"),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": at.to_string(),
        "region": "us-east-1",
        "resources": [format!("arn:aws:events:us-east-1:123456789012:rule/{rule}")],
        "detail": {},
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_deployed_tick_invokes_both_functions_every_minute() {
        let stack = Stack::deployed_for("arn:aws:ecs:us-east-1:123456789012:cluster/sim").unwrap();
        let t0 = Timestamp::from_second(1_767_571_200).unwrap();
        let t1 = Timestamp::from_second(1_767_571_200 + 180).unwrap();
        let fires = stack.fires_between(t0, t1);
        assert_eq!(fires.len(), 3, "{fires:?}");
        assert_eq!(fires[0].2, &[Function::Controller, Function::Capacity]);
        assert_eq!(fires[1].0.as_second() - fires[0].0.as_second(), 60);
    }

    #[test]
    fn task_events_go_to_both_functions_and_ticks_match_the_schedule_rule() {
        let stack = Stack::deployed_for("arn:aws:ecs:us-east-1:123456789012:cluster/sim").unwrap();
        let mut scratch = Scratch::default();
        let task = serde_json::json!({
            "version": "0", "id": "e1", "detail-type": "ECS Task State Change", "source": "aws.ecs",
            "account": "123456789012", "time": "2026-01-05T00:00:00Z", "region": "us-east-1", "resources": [],
            "detail": {"clusterArn": "arn:aws:ecs:us-east-1:123456789012:cluster/sim", "lastStatus": "RUNNING"}
        });
        let to = stack.functions_for(&task.to_string(), &mut scratch);
        assert_eq!(to, vec![Function::Controller, Function::Capacity]);
        let elsewhere = task.to_string().replace("cluster/sim", "cluster/other");
        assert!(stack.functions_for(&elsewhere, &mut scratch).is_empty());
        assert!(stack.functions_for("{not json", &mut scratch).is_empty());
    }
}
