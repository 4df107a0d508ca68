//! What each fuzz target does with one input. Shared by the `cargo fuzz`
//! targets (`fuzz/fuzz_targets/`, nightly, coverage-guided) and by the
//! stable test `tests/fuzz_bodies.rs`, which runs every body on the checked-in
//! seeds and regression inputs (`fuzz/corpus/<target>/`) and on generated
//! mutations of them in the test command, for a bounded time.
//!
//! Each body may reject its input (an error is the right answer to most
//! bytes); it must never panic, hang or allocate without bound, and where
//! the input is accepted the invariants below hold. Each returns whether
//! the input was accepted (so a test can tell a seed that no longer reaches
//! the code past the parser).

#![allow(dead_code)]

use ecs_autopilot::capacity::{plan, snapshot, CapacityMemory, CapacityOptions};
use ecs_autopilot::config::{self, EvaluationMode};
use ecs_autopilot::controller;
use ecs_autopilot::handler::{self, block_on, target_key, ServicePorts, Settings};
use ecs_autopilot::memory::TargetMemory;
use ecs_autopilot::policy::Observation;
use ecs_autopilot::ports::memory::{CountingDecisions, FakeServices, InMemoryState, StaticMetrics};
use ecs_autopilot::ports::{ServiceSnapshot, StatePort};
use ecs_autopilot::schedule::Schedule;
use jiff::{SignedDuration, Timestamp};

/// 2026-01-05T00:00:00Z: every body runs at fixed instants.
const T0: i64 = 1_767_571_200;

fn at(seconds: i64) -> Timestamp {
    Timestamp::from_second(T0 + seconds).unwrap_or(Timestamp::UNIX_EPOCH)
}

/// Separates the parts of a multi-part input.
pub const SEPARATOR: &str = "\n%%\n";

/// A configuration document (YAML or JSON), then optionally
/// [`SEPARATOR`] and an observation (JSON): the configuration is loaded and
/// validated; when it loads, every target is evaluated three times a minute
/// apart on the observation (or an empty one). Invariants: the memory
/// survives JSON both ways, and a decision's bounds are ordered.
pub fn config_evaluate(data: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(data) else { return false };
    let (config_text, observation_text) = text.split_once(SEPARATOR).unwrap_or((text, ""));
    let Ok(cfg) = config::load_str(config_text) else { return false };
    let observation: Observation = serde_json::from_str(observation_text).unwrap_or_default();
    for target in cfg.targets.values() {
        let mut memory = TargetMemory::default();
        for k in 0..3 {
            let (decision, next) = controller::evaluate(at(60 * k), target, &observation, memory);
            assert!(decision.min_capacity <= decision.max_capacity, "{decision:?}");
            let text = serde_json::to_string(&next).expect("memory encodes");
            let back: TargetMemory = serde_json::from_str(&text).expect("memory decodes");
            assert_eq!(serde_json::to_string(&back).expect("memory encodes"), text, "memory round-trips");
            memory = back;
        }
    }
    true
}

/// A schedule expression, then optionally [`SEPARATOR`] and an IANA zone:
/// when it parses, the next fires from a fixed instant strictly increase,
/// and a day's fires (at most 1,000) are ordered.
pub fn schedule(data: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(data) else { return false };
    let (expression, zone) = match text.split_once(SEPARATOR) {
        Some((e, z)) => (e, Some(z)),
        None => (text, None),
    };
    let Ok(schedule) = Schedule::new(expression, zone, None, None) else { return false };
    let schedule = schedule.anchored_at(Some(at(0)));
    let mut cursor = at(0);
    for _ in 0..5 {
        let Some(next) = schedule.next_after(cursor) else { break };
        assert!(next > cursor, "{expression:?}: {next} after {cursor}");
        cursor = next;
    }
    let day = schedule.fires_between(at(0), at(86_400), 1_000);
    assert!(day.windows(2).all(|w| w[0] < w[1]), "{expression:?}: fires out of order");
    true
}

/// A capacity snapshot (`autopilot capacity plan`'s input, JSON): when it
/// reads, both modes plan; the desired capacity stays within the group's
/// sizes and no busy instance is drained or terminated.
pub fn snapshot_plan(data: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(data) else { return false };
    let Ok(merged) = snapshot::merge(&[("fuzz", text)]) else { return false };
    let Ok(cluster) = snapshot::cluster(&merged, None) else { return false };
    for mode in [EvaluationMode::Aws, EvaluationMode::Fast] {
        let options = CapacityOptions { mode, ..CapacityOptions::default() };
        let Ok((decision, _)) = plan(at(0), &cluster, &options, CapacityMemory::default()) else { return false };
        assert!(
            (cluster.asg.min..=cluster.asg.max).contains(&decision.desired) || decision.desired == cluster.asg.desired,
            "desired {} outside [{}, {}]",
            decision.desired,
            cluster.asg.min,
            cluster.asg.max
        );
        for action in &decision.actions {
            use ecs_autopilot::capacity::CapacityAction;
            let touched: Vec<&str> = match action {
                CapacityAction::Drain { container_instances } => {
                    container_instances.iter().map(String::as_str).collect()
                }
                CapacityAction::TerminateAndDecrement { ec2_instance_ids } => ec2_instance_ids
                    .iter()
                    .filter_map(|id| {
                        cluster.instances.iter().find(|i| i.ec2_instance_id.as_deref() == Some(id.as_str()))
                    })
                    .map(|i| i.id.as_str())
                    .collect(),
                _ => Vec::new(),
            };
            for id in touched {
                let busy = cluster.instances.iter().find(|i| i.id == id).is_some_and(|i| i.running_tasks > 0);
                assert!(!busy, "a busy instance {id} was drained or terminated");
            }
        }
    }
    true
}

/// The configuration the stored-memory body evaluates under.
const MEMORY_CONFIG: &str = "
ScalableTargets:
  - {ResourceId: service/fuzz/web, MinCapacity: 1, MaxCapacity: 20}
ScalingPolicies:
  - PolicyName: cpu50
    ResourceId: service/fuzz/web
    PolicyType: TargetTrackingScaling
    TargetTrackingScalingPolicyConfiguration:
      TargetValue: 50
      PredefinedMetricSpecification: {PredefinedMetricType: ECSServiceAverageCPUUtilization}
ScheduledActions:
  - {ScheduledActionName: night, ResourceId: service/fuzz/web, Schedule: 'cron(0 22 * * ? *)', ScalableTargetAction: {MinCapacity: 1, MaxCapacity: 4}}
";

/// A stored record (the DynamoDB item's body) for one target: the
/// controller handles a tick on it as the Lambda would. An unreadable or
/// newer record is refused (no action, the record left as it was); a
/// readable one is evaluated and written back in a form that reads again.
pub fn stored_memory(data: &[u8]) -> bool {
    let Ok(body) = std::str::from_utf8(data) else { return false };
    let Ok(cfg) = config::load_str(MEMORY_CONFIG) else { panic!("the body's configuration is valid") };
    let resource = "service/fuzz/web";
    let key = target_key(resource);
    let state = InMemoryState::default();
    let services =
        FakeServices::with(resource, ServiceSnapshot { desired: 4, running: 4, ..ServiceSnapshot::default() });
    let metrics = StaticMetrics::new(Default::default());
    let decisions = CountingDecisions::default();
    let ports = ServicePorts { services: &services, metrics: &metrics, state: &state, decisions: &decisions };
    let now = at(120);
    let Ok(ecs_autopilot::ports::SaveOutcome::Saved { version }) =
        block_on(state.save(&key, body, None, now.checked_sub(SignedDuration::from_secs(60)).unwrap_or(now)))
    else {
        panic!("a first write lands")
    };
    let tick = ecs_autopilot::sim::stack::scheduled_event("tick", now, 1);
    let settings = Settings { poll_window_seconds: 0, ..Settings::default() };
    match block_on(handler::handle_event(now, &cfg, settings, &ports, &tick)) {
        Ok(_) => {
            let stored = state.get(&key).expect("the record is still there");
            let record: handler::TargetRecord = serde_json::from_str(&stored.body).expect("a written record reads");
            assert_eq!(record.schema, handler::RECORD_SCHEMA);
            true
        }
        Err(_) => {
            let stored = state.get(&key).expect("the record is still there");
            assert_eq!((stored.body.as_str(), stored.version), (body, version), "a refused record is left as written");
            assert!(services.updates.lock().map(|u| u.is_empty()).unwrap_or(false), "nothing acted on");
            false
        }
    }
}

/// A wildcard (or other matcher) text: the pattern
/// `{"a": [{"wildcard": <text>}]}` compiles or is refused in bounded time,
/// and when it compiles an event whose `a` is the text itself routes
/// without panicking.
pub fn wildcard(data: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(data) else { return false };
    let value = serde_json::Value::from(text);
    let mut compiled = false;
    for matcher in ["wildcard", "prefix", "suffix", "equals-ignore-case"] {
        let pattern = serde_json::json!({"a": [{matcher: value}]}).to_string();
        if ecs_autopilot::route::compile_str(&pattern).is_ok() {
            compiled = true;
            let event = serde_json::json!({
                "id": "1", "account": "1", "source": "s", "time": "2026-01-05T00:00:00Z", "region": "r",
                "detail-type": "d", "a": value,
            });
            let _ = ecs_autopilot::route::test_event_pattern(&pattern, &event.to_string());
        }
    }
    compiled
}
