//! Spot instances at risk (docs/capacity.md "Spot"): the EC2 events in
//! AWS's documented shape, the plan that drains and replaces the instance
//! in `fast` mode (and leaves `aws` mode AWS's), and the capacity handler
//! that finds the provider holding it.

use ecs_autopilot::capacity::{plan_at_risk, snapshot, CapacityAction, CapacityMemory, CapacityOptions};
use ecs_autopilot::config::EvaluationMode;
use ecs_autopilot::event::{parse_event, Detail, Parsed, SpotAction};
use ecs_autopilot::handler::block_on;
use ecs_autopilot::handler::capacity::handle_capacity_event;
use ecs_autopilot::handler::Settings;
use ecs_autopilot::ports::memory::{FakeCapacity, InMemoryState, RecordingDecisions};
use serde_json::Value;

const INTERRUPTION: &str = include_str!("fixtures/events/ec2-spot-instance-interruption-warning.json");
const REBALANCE: &str = include_str!("fixtures/events/ec2-instance-rebalance-recommendation.json");

fn example() -> ecs_autopilot::capacity::Cluster {
    let text = std::fs::read_to_string("examples/capacity/snapshot.json").unwrap();
    snapshot::cluster(&snapshot::merge(&[("snapshot.json", &text)]).unwrap(), None).unwrap()
}

fn now() -> jiff::Timestamp {
    "2026-11-22T03:00:00Z".parse().unwrap()
}

fn naming(text: &str, instance: &str) -> Value {
    let mut e: Value = serde_json::from_str(text).unwrap();
    e["detail"]["instance-id"] = instance.into();
    e
}

/// (name, mutation, field named in the error)
type BadEvent = (&'static str, fn(&mut Value), &'static str);

#[test]
fn the_documented_events_parse_and_bad_ones_name_the_field() {
    let Parsed::Ours(e) = parse_event(INTERRUPTION).unwrap() else { panic!("ours") };
    let Detail::SpotInterruption(d) = &e.detail else { panic!("{:?}", e.detail) };
    assert_eq!((d.instance_id.as_str(), d.instance_action), ("i-1234567890abcdef0", SpotAction::Terminate));
    let Parsed::Ours(e) = parse_event(REBALANCE).unwrap() else { panic!("ours") };
    assert_eq!(e.detail.instance_at_risk(), Some("i-1234567890abcdef0"));
    let cases: [BadEvent; 3] = [
        ("an action EC2 never sends", |e| e["detail"]["instance-action"] = "reboot".into(), "detail.instance-action"),
        ("no instance", |e| drop(e["detail"].as_object_mut().unwrap().remove("instance-id")), "detail.instance-id"),
        ("an instance id that is not a string", |e| e["detail"]["instance-id"] = 7.into(), "detail.instance-id"),
    ];
    for (name, mutate, field) in cases {
        let mut e: Value = serde_json::from_str(INTERRUPTION).unwrap();
        mutate(&mut e);
        let err = parse_event(&e.to_string()).unwrap_err();
        assert_eq!(err.path, field, "{name}: {err}");
    }
}

#[test]
fn fast_mode_drains_the_instance_at_once_and_orders_its_replacement() {
    // The example: 9 tasks wait; b1 and c1 take 5, one new instance takes 4.
    // a1 (4 running tasks) is at risk: its 4 tasks wait too, a second new
    // instance, and a1 is drained first.
    let c = example();
    let options = CapacityOptions { mode: EvaluationMode::Fast, ..CapacityOptions::default() };
    let (d, _) = plan_at_risk(now(), &c, &options, CapacityMemory::default(), &["i-0a1".into()]).unwrap();
    assert_eq!(d.actions[0], CapacityAction::Drain { container_instances: vec![c.instances[0].id.clone()] });
    assert!(d.actions.contains(&CapacityAction::SetDesiredCapacity { from: 3, to: 5 }), "{d:?}");
    assert_eq!(d.at_risk, ["i-0a1"]);
    let (without, _) = plan_at_risk(now(), &c, &options, CapacityMemory::default(), &[]).unwrap();
    assert_eq!(without.desired, 4, "no instance at risk: one new instance");
    // aws mode stays AWS's: cluster auto scaling does not act on Spot events.
    let aws = CapacityOptions { mode: EvaluationMode::Aws, ..CapacityOptions::default() };
    let (d, _) = plan_at_risk(now(), &c, &aws, CapacityMemory::default(), &["i-0a1".into()]).unwrap();
    assert!(!d.actions.iter().any(|a| matches!(a, CapacityAction::Drain { .. })), "{d:?}");
    assert_eq!(d.at_risk, ["i-0a1"]);
}

#[test]
fn the_capacity_handler_plans_the_provider_holding_the_instance_and_acknowledges_others() {
    let fake = FakeCapacity::new(example());
    let provider = fake.cluster.lock().unwrap().capacity_provider.clone();
    let (state, sink) = (InMemoryState::default(), RecordingDecisions::default());
    let options = CapacityOptions { mode: EvaluationMode::Fast, ..CapacityOptions::default() };
    let providers = vec!["FARGATE_SPOT".to_owned(), provider.clone()];
    let run = |event: &Value| {
        block_on(handle_capacity_event(now(), &providers, &options, Settings::default(), (&fake, &state, &sink), event))
            .unwrap()
    };
    let report = run(&naming(INTERRUPTION, "i-0a1"));
    assert_eq!(report.decisions.len(), 1);
    assert_eq!(report.decisions[0].at_risk, ["i-0a1"]);
    let applied = fake.applied.lock().unwrap().clone();
    assert!(
        matches!(&applied[0], CapacityAction::Drain { container_instances } if container_instances[0].ends_with("/a1")),
        "{applied:?}"
    );
    assert!(applied.contains(&CapacityAction::SetDesiredCapacity { from: 3, to: 5 }), "{applied:?}");

    // An instance of no managed group: acknowledged, nothing planned.
    let mut other = naming(REBALANCE, "i-0ffffffffffffffff");
    other["id"] = "another-event".into();
    let report = run(&other);
    assert!(report.decisions.is_empty(), "{report:?}");
    let kinds: Vec<&str> = report.ignored.iter().map(|i| i.kind.as_str()).collect();
    assert!(kinds.contains(&"instance not managed"), "{kinds:?}");
}
