//! Cron next-fire equals a brute-force scan of every minute of a year, in
//! zones with DST: America/New_York (1 h), Europe/London (1 h) and
//! Australia/Lord_Howe (30 min). The brute force applies the rules of
//! `schedule` independently: a wall-clock minute fires when the cron matches
//! it, once, at its first occurrence; minutes skipped by DST never fire
//! (EventBridge Scheduler's documented DST behaviour, aws-behaviour §5.2).

use ecs_autopilot::schedule::{time_zone, Cron, Schedule};
use jiff::{SignedDuration, Timestamp};
use std::collections::HashSet;

const EXPRESSIONS: [&str; 7] = [
    "30 2 * * ? *",      // inside New York's spring gap, Lord Howe's fold
    "*/15 1-3 * * ? *",  // every gap and fold of all three zones
    "0 9 ? * MON-FRI *", // business days
    "45 1 L * ? *",      // last day of month, inside London's fold hour
    "0/7 * ? * 1#1 *",   // first Sundays: Lord Howe changes on them
    "10 1 15W * ? *",    // nearest weekday
    "* * * * ? *",       // every minute: every gap and fold minute
];
const ZONES: [&str; 3] = ["America/New_York", "Europe/London", "Australia/Lord_Howe"];

fn brute_force(cron: &Cron, zone: &jiff::tz::TimeZone, start: Timestamp, end: Timestamp) -> Vec<Timestamp> {
    let mut fired_civil = HashSet::new();
    let mut out = Vec::new();
    let mut t = start;
    while t < end {
        let civil = zone.to_datetime(t);
        if cron.matches(civil) && fired_civil.insert(civil) {
            out.push(t);
        }
        t = t.checked_add(SignedDuration::from_mins(1)).unwrap();
    }
    out
}

#[test]
fn next_fire_matches_a_minute_by_minute_scan_of_2026() {
    let start: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
    let end: Timestamp = "2027-01-01T00:00:00Z".parse().unwrap();
    for zone_name in ZONES {
        let zone = time_zone(zone_name).unwrap();
        for expr in EXPRESSIONS {
            let cron = Cron::parse(expr).unwrap();
            let expected = brute_force(&cron, &zone, start, end);
            let schedule = Schedule::new(&format!("cron({expr})"), Some(zone_name), None, None).unwrap();
            let mut actual = Vec::new();
            // `after` one second before the start so a fire at the start counts.
            let mut cursor = start.checked_sub(SignedDuration::from_secs(1)).unwrap();
            while let Some(next) = schedule.next_after(cursor).filter(|t| *t < end) {
                actual.push(next);
                cursor = next;
            }
            assert!(!expected.is_empty(), "{zone_name} {expr}: the scan found nothing");
            if actual != expected {
                let first_diff = actual.iter().zip(&expected).position(|(a, e)| a != e);
                panic!(
                    "{zone_name} cron({expr}): {} fires vs {} expected; first difference at index {first_diff:?}: {:?} vs {:?}",
                    actual.len(),
                    expected.len(),
                    first_diff.map(|i| actual[i]),
                    first_diff.map(|i| expected[i]),
                );
            }
        }
    }
}

#[test]
fn dst_days_have_the_expected_number_of_minute_fires() {
    // Every-minute cron on New York's spring-forward day: 23 hours of minutes;
    // on fall-back day each wall-clock minute fires once: 24 hours.
    let zone = "America/New_York";
    let s = Schedule::new("cron(* * * * ? *)", Some(zone), None, None).unwrap();
    let count = |from: &str, to: &str| s.fires_between(from.parse().unwrap(), to.parse().unwrap(), 10_000).len();
    assert_eq!(count("2026-03-08T04:59:59Z", "2026-03-09T03:59:59Z"), 23 * 60);
    assert_eq!(count("2026-11-01T03:59:59Z", "2026-11-02T04:59:59Z"), 24 * 60);
}
