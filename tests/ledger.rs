//! At-least-once, out-of-order delivery (spec §10.2): a duplicate event id or
//! a task event whose `detail.version` is not newer than one already seen
//! changes nothing.

use ecs_autopilot::event::{self, Parsed};
use ecs_autopilot::memory::{EventLedger, Freshness};
use jiff::{SignedDuration, Timestamp};

fn task_event(id: &str, version: u64) -> event::Event {
    let mut v: serde_json::Value =
        serde_json::from_str(include_str!("fixtures/events/ecs-task-state-change.json")).unwrap();
    v["id"] = id.into();
    v["detail"]["version"] = version.into();
    match event::parse_event_value(v).unwrap() {
        Parsed::Ours(e) => e,
        other => panic!("{other:?}"),
    }
}

#[test]
fn duplicates_and_stale_versions_are_recognised() {
    let now: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
    let mut ledger = EventLedger::default();
    assert_eq!(ledger.observe(&task_event("a", 4), now), Freshness::Fresh);
    assert_eq!(ledger.observe(&task_event("a", 4), now), Freshness::Duplicate);
    // Same task, same version, new id: a redelivery of the same state.
    assert_eq!(ledger.observe(&task_event("b", 4), now), Freshness::Stale { seen: 4, got: 4 });
    // An older version arriving late.
    assert_eq!(ledger.observe(&task_event("c", 3), now), Freshness::Stale { seen: 4, got: 3 });
    assert_eq!(ledger.observe(&task_event("d", 5), now), Freshness::Fresh);
    // Stale events are not recorded as processed.
    assert_eq!(ledger.processed.len(), 2);
}

#[test]
fn ids_and_versions_are_forgotten_after_the_retry_horizon() {
    let now: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
    let mut ledger = EventLedger::default();
    assert_eq!(ledger.observe(&task_event("a", 4), now), Freshness::Fresh);
    let later = now.checked_add(EventLedger::ID_RETENTION + SignedDuration::from_secs(1)).unwrap();
    assert_eq!(
        ledger.observe(&task_event("z", 1), later.checked_sub(SignedDuration::from_secs(1)).unwrap()),
        Freshness::Stale { seen: 4, got: 1 }
    );
    assert_eq!(ledger.observe(&task_event("a", 4), later), Freshness::Fresh);
    assert_eq!(ledger.processed.len(), 1);
}

#[test]
fn service_actions_have_no_version_and_dedupe_by_id_only() {
    let v: serde_json::Value = serde_json::from_str(include_str!("fixtures/events/ecs-service-action.json")).unwrap();
    let Parsed::Ours(e) = event::parse_event_value(v).unwrap() else { panic!() };
    let now: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
    let mut ledger = EventLedger::default();
    assert_eq!(ledger.observe(&e, now), Freshness::Fresh);
    assert_eq!(ledger.observe(&e, now), Freshness::Duplicate);
    assert!(ledger.versions.is_empty());
}
