//! At-least-once, out-of-order delivery (aws-behaviour §10.2): a duplicate event id or
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
    // Same task, same version, new id: the same state delivered again.
    assert_eq!(ledger.observe(&task_event("b", 4), now), Freshness::Duplicate);
    // An older version arriving late.
    assert_eq!(ledger.observe(&task_event("c", 3), now), Freshness::Stale { seen: 4, got: 3 });
    assert_eq!(ledger.observe(&task_event("d", 5), now), Freshness::Fresh);
    // Versioned events are recognised by version: no id is kept for them.
    assert!(ledger.processed.is_empty());
    assert_eq!(ledger.versions.len(), 1);
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
    assert_eq!(ledger.versions.len(), 1);
}

#[test]
fn a_week_of_a_busy_clusters_events_stays_within_the_ledger_budget() {
    // 1,000 tasks cycling through their versions, 20 task events and a
    // service action a minute: the capacity provider's ledger sees every
    // one of them (about 210,000 events in a week).
    let start: Timestamp = "2026-01-05T00:00:00Z".parse().unwrap();
    let action: serde_json::Value =
        serde_json::from_str(include_str!("fixtures/events/ecs-service-action.json")).unwrap();
    let Parsed::Ours(action) = event::parse_event_value(action).unwrap() else { panic!() };
    let template = task_event("t", 1);
    let mut ledger = EventLedger::default();
    let mut largest = 0;
    for minute in 0..7 * 24 * 60i64 {
        let now = start.checked_add(SignedDuration::from_mins(minute)).unwrap();
        for k in 0..20 {
            let n = minute * 20 + k;
            let mut e = template.clone();
            e.meta.id = format!("t{n}");
            if let event::Detail::TaskStateChange(t) = &mut e.detail {
                t.task_arn = format!("arn:aws:ecs:us-east-1:123456789012:task/c/{:032}", n % 1_000);
                t.version = n as u64 / 1_000 + 1;
            }
            assert_eq!(ledger.observe(&e, now), Freshness::Fresh);
        }
        let mut a = action.clone();
        a.meta.id = format!("action-{minute}");
        assert_eq!(ledger.observe(&a, now), Freshness::Fresh);
        if minute % 60 == 0 {
            largest = largest.max(serde_json::to_string(&ledger).unwrap().len());
        }
    }
    assert!(ledger.processed.len() <= EventLedger::MAX_IDS);
    assert!(ledger.versions.len() <= EventLedger::MAX_VERSIONS);
    assert!(largest < 120_000, "ledger reached {largest} bytes (DynamoDB's item limit is 400 KB)");
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
