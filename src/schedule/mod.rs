//! Schedule expressions of scheduled actions (aws-behaviour §5): `at(...)`,
//! `rate(...)`, `cron(...)`, an IANA time zone, and StartTime / EndTime.
//!
//! Owns: parsing and next-fire computation. May not touch: what a firing does
//! (`policy::scheduled`) or the clock (every query takes the instant it asks
//! about).
//!
//! Time-zone rules:
//! * `at` and `cron` are wall-clock times in `Timezone` (default UTC);
//!   `rate` is a fixed duration ("days represents a 24-hour duration").
//! * DST gap: a cron time that does not exist that day is skipped; DST fold: a
//!   cron time that occurs twice fires once, at its first occurrence. This is
//!   EventBridge Scheduler's documented behaviour (AWS knowledge-center article
//!   "eventbridge-scheduler-adjust-dst"); Application Auto Scaling only says it
//!   "automatically adjusts for DST" (aws-behaviour §5.2), so we apply the Scheduler's
//!   rule (our choice). A one-time `at` inside a gap is moved forward by the gap's
//!   length instead of being lost (our choice).
//! * StartTime applies to every recurring schedule: the action fires at
//!   StartTime, then on its recurrence (aws-behaviour §16 item 7). No fire after
//!   EndTime (aws-behaviour §5.3). `at` ignores both.
//! * A `rate` without StartTime is anchored at the action's creation time
//!   (aws-behaviour §5.2 (our choice)); without either, at the Unix epoch.

pub mod cron;

pub use cron::{Cron, CronError};

use jiff::civil::DateTime;
use jiff::tz::{AmbiguousOffset, TimeZone};
use jiff::{SignedDuration, Timestamp};

/// A schedule expression without its time zone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expression {
    At(DateTime),
    Rate { value: u32, unit: RateUnit },
    Cron(Box<Cron>),
}

/// The unit of a `rate()` expression.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RateUnit {
    Minute,
    Hour,
    Day,
}

impl RateUnit {
    fn seconds(self) -> i64 {
        match self {
            Self::Minute => 60,
            Self::Hour => 3_600,
            Self::Day => 86_400,
        }
    }
}

/// Why a schedule was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    #[error("schedule {0:?} must be at(yyyy-mm-ddThh:mm:ss), rate(value unit) or cron(fields)")]
    UnknownForm(String),
    #[error("schedule {expr:?}: {reason}")]
    Invalid { expr: String, reason: String },
    #[error("invalid cron in {expr:?}: {source}")]
    Cron { expr: String, source: CronError },
    #[error("unknown time zone {0:?}: expected an IANA name such as America/New_York or Etc/GMT+9")]
    UnknownTimeZone(String),
    #[error("end time {end} is before start time {start}")]
    EndBeforeStart { start: Timestamp, end: Timestamp },
}

impl Expression {
    /// Parses `at(...)`, `rate(...)` or `cron(...)`.
    ///
    /// # Errors
    /// [`ScheduleError`] saying which part is wrong.
    pub fn parse(text: &str) -> Result<Self, ScheduleError> {
        let trimmed = text.trim();
        let inner = |prefix: &str| trimmed.strip_prefix(prefix).and_then(|rest| rest.strip_suffix(')'));
        let invalid = |reason: String| ScheduleError::Invalid { expr: text.to_owned(), reason };
        if let Some(body) = inner("at(") {
            let at: DateTime =
                body.trim().parse().map_err(|_| invalid(format!("at() needs yyyy-mm-ddThh:mm:ss, found {body:?}")))?;
            return Ok(Self::At(at));
        }
        if let Some(body) = inner("rate(") {
            let mut words = body.split_whitespace();
            let (Some(value), Some(unit), None) = (words.next(), words.next(), words.next()) else {
                return Err(invalid("rate() needs `value unit`, e.g. rate(5 minutes)".into()));
            };
            let value: u32 = value
                .parse()
                .ok()
                .filter(|v| *v > 0)
                .ok_or_else(|| invalid(format!("rate value {value:?} must be a positive whole number")))?;
            // Both spellings are accepted for either value (our choice, aws-behaviour §5.2).
            let unit = match unit {
                "minute" | "minutes" => RateUnit::Minute,
                "hour" | "hours" => RateUnit::Hour,
                "day" | "days" => RateUnit::Day,
                other => return Err(invalid(format!("rate unit {other:?} must be minute(s), hour(s) or day(s)"))),
            };
            return Ok(Self::Rate { value, unit });
        }
        if let Some(body) = inner("cron(") {
            let cron = Cron::parse(body).map_err(|source| ScheduleError::Cron { expr: text.to_owned(), source })?;
            return Ok(Self::Cron(Box::new(cron)));
        }
        Err(ScheduleError::UnknownForm(text.to_owned()))
    }
}

/// Looks up an IANA time zone in the embedded database (no file access).
///
/// # Errors
/// [`ScheduleError::UnknownTimeZone`].
pub fn time_zone(name: &str) -> Result<TimeZone, ScheduleError> {
    if name == "UTC" {
        return Ok(TimeZone::UTC);
    }
    jiff::tz::db().get(name).map_err(|_| ScheduleError::UnknownTimeZone(name.to_owned()))
}

/// A complete schedule: expression, zone and bounds.
#[derive(Clone, Debug)]
pub struct Schedule {
    pub expression: Expression,
    pub zone: TimeZone,
    pub start: Option<Timestamp>,
    pub end: Option<Timestamp>,
    /// Where a `rate` without StartTime counts from (creation time).
    pub anchor: Option<Timestamp>,
}

impl Schedule {
    /// Builds a schedule from AWS's fields.
    ///
    /// # Errors
    /// [`ScheduleError`] for a bad expression, zone or bounds.
    pub fn new(
        expression: &str,
        zone: Option<&str>,
        start: Option<Timestamp>,
        end: Option<Timestamp>,
    ) -> Result<Self, ScheduleError> {
        let expression = Expression::parse(expression)?;
        let zone = time_zone(zone.unwrap_or("UTC"))?;
        if let (Some(start), Some(end)) = (start, end) {
            if end < start {
                return Err(ScheduleError::EndBeforeStart { start, end });
            }
        }
        Ok(Self { expression, zone, start, end, anchor: None })
    }

    /// Sets the anchor of a `rate` without StartTime.
    #[must_use]
    pub fn anchored_at(mut self, anchor: Option<Timestamp>) -> Self {
        self.anchor = anchor;
        self
    }

    /// The first fire time strictly after `after`, or `None` if there is none.
    #[must_use]
    pub fn next_after(&self, after: Timestamp) -> Option<Timestamp> {
        let next = match &self.expression {
            Expression::At(at) => {
                let fire = resolve_one_time(&self.zone, *at)?;
                return (fire > after).then_some(fire);
            }
            Expression::Rate { value, unit } => {
                let anchor = self.start.or(self.anchor).unwrap_or(Timestamp::UNIX_EPOCH);
                let period = i64::from(*value) * unit.seconds();
                if after < anchor {
                    Some(anchor)
                } else {
                    let elapsed = after.as_second() - anchor.as_second();
                    let steps = elapsed.div_euclid(period) + 1;
                    anchor.checked_add(SignedDuration::from_secs(steps * period)).ok()
                }
            }
            Expression::Cron(cron) => match self.start {
                // StartTime itself is a fire time (aws-behaviour §16 item 7).
                Some(start) if after < start => Some(start),
                Some(start) => next_cron(cron, &self.zone, after.max(start)),
                None => next_cron(cron, &self.zone, after),
            },
        }?;
        match self.end {
            Some(end) if next > end => None,
            _ => Some(next),
        }
    }

    /// Every fire time in `(after, until]`, oldest first, at most `limit`.
    #[must_use]
    pub fn fires_between(&self, after: Timestamp, until: Timestamp, limit: usize) -> Vec<Timestamp> {
        let mut out = Vec::new();
        let mut cursor = after;
        while out.len() < limit {
            match self.next_after(cursor) {
                Some(t) if t <= until => {
                    out.push(t);
                    cursor = t;
                }
                _ => break,
            }
        }
        out
    }
}

/// Next cron fire strictly after `after`, in `zone`, with the DST rules of the
/// module docs. Civil-to-instant (first occurrence) is monotonic, so walking
/// matching civil minutes upward from `after`'s wall clock finds it.
fn next_cron(cron: &Cron, zone: &TimeZone, after: Timestamp) -> Option<Timestamp> {
    let mut civil = zone.to_datetime(after);
    // Strictly after: move to the next whole minute.
    civil = civil.with().second(0).subsec_nanosecond(0).build().ok()?.checked_add(SignedDuration::from_mins(1)).ok()?;
    loop {
        let candidate = cron.next_civil(civil)?;
        let fire = match zone.to_ambiguous_timestamp(candidate).offset() {
            AmbiguousOffset::Unambiguous { offset } => offset.to_timestamp(candidate).ok(),
            // Fold: the first occurrence only.
            AmbiguousOffset::Fold { before, .. } => before.to_timestamp(candidate).ok(),
            // Gap: this wall-clock time does not exist today; skipped.
            AmbiguousOffset::Gap { .. } => None,
        };
        match fire {
            Some(t) if t > after => return Some(t),
            _ => civil = candidate.checked_add(SignedDuration::from_mins(1)).ok()?,
        }
    }
}

fn resolve_one_time(zone: &TimeZone, at: DateTime) -> Option<Timestamp> {
    // `compatible`: the earlier of a fold, shifted forward out of a gap.
    zone.to_ambiguous_timestamp(at).compatible().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn cron_in_new_york_follows_dst() {
        let s = Schedule::new("cron(0 9 * * ? *)", Some("America/New_York"), None, None).unwrap();
        // Before the 2026-03-08 change: EST (UTC-5); after: EDT (UTC-4).
        assert_eq!(s.next_after(ts("2026-03-07T15:00:00Z")), Some(ts("2026-03-08T13:00:00Z")));
        assert_eq!(s.next_after(ts("2026-03-06T15:00:00Z")), Some(ts("2026-03-07T14:00:00Z")));
    }

    #[test]
    fn dst_gap_skips_and_fold_fires_once() {
        // 02:30 does not exist in New York on 2026-03-08.
        let gap = Schedule::new("cron(30 2 * * ? *)", Some("America/New_York"), None, None).unwrap();
        assert_eq!(gap.next_after(ts("2026-03-08T00:00:00Z")), Some(ts("2026-03-09T06:30:00Z")));
        // 01:30 happens twice on 2026-11-01; it fires at the first (EDT).
        let fold = Schedule::new("cron(30 1 * * ? *)", Some("America/New_York"), None, None).unwrap();
        let first = fold.next_after(ts("2026-11-01T04:00:00Z")).unwrap();
        assert_eq!(first, ts("2026-11-01T05:30:00Z"));
        assert_eq!(fold.next_after(first), Some(ts("2026-11-02T06:30:00Z")));
    }

    #[test]
    fn start_time_fires_first_then_recurrence_until_end() {
        let s = Schedule::new(
            "cron(0 * * * ? *)",
            None,
            Some(ts("2026-01-01T10:17:00Z")),
            Some(ts("2026-01-01T12:00:00Z")),
        )
        .unwrap();
        let fires = s.fires_between(ts("2026-01-01T00:00:00Z"), ts("2026-01-02T00:00:00Z"), 10);
        assert_eq!(fires, vec![ts("2026-01-01T10:17:00Z"), ts("2026-01-01T11:00:00Z"), ts("2026-01-01T12:00:00Z")]);
    }

    #[test]
    fn rate_is_anchored_at_start_time_and_counts_fixed_durations() {
        let s = Schedule::new("rate(1 day)", Some("Europe/London"), Some(ts("2026-03-28T08:00:00Z")), None).unwrap();
        // 24-hour steps straight across the 2026-03-29 DST change.
        assert_eq!(
            s.fires_between(ts("2026-03-28T00:00:00Z"), ts("2026-03-31T00:00:00Z"), 10),
            vec![ts("2026-03-28T08:00:00Z"), ts("2026-03-29T08:00:00Z"), ts("2026-03-30T08:00:00Z")]
        );
    }

    #[test]
    fn at_is_wall_clock_in_its_zone_and_fires_once() {
        let s = Schedule::new("at(2026-07-01T09:00:00)", Some("Europe/London"), None, None).unwrap();
        assert_eq!(s.next_after(ts("2026-01-01T00:00:00Z")), Some(ts("2026-07-01T08:00:00Z")));
        assert_eq!(s.next_after(ts("2026-07-01T08:00:00Z")), None);
    }

    #[test]
    fn bad_schedules_say_what_is_wrong() {
        let cases = [
            ("every day", None, "must be at("),
            ("rate(0 minutes)", None, "must be a positive"),
            ("rate(5 weeks)", None, "minute(s), hour(s) or day(s)"),
            ("at(2026-13-01T00:00:00)", None, "at() needs"),
            ("cron(0 10 * * * *)", None, "exactly one of them must be `?`"),
            ("cron(0 10 * * ? *)", Some("Mars/Olympus"), "unknown time zone"),
        ];
        for (expr, zone, want) in cases {
            let err = Schedule::new(expr, zone, None, None).unwrap_err().to_string();
            assert!(err.contains(want), "{expr}: {err}");
        }
        let err =
            Schedule::new("rate(5 minutes)", None, Some(ts("2026-01-02T00:00:00Z")), Some(ts("2026-01-01T00:00:00Z")))
                .unwrap_err();
        assert!(matches!(err, ScheduleError::EndBeforeStart { .. }));
    }
}
