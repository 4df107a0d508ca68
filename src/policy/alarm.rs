//! CloudWatch alarm emulation (aws-behaviour §11.4), used for the target-tracking
//! alarms of `aws` mode (aws-behaviour §3.4) and for the alarms driving step policies.
//!
//! Datapoints are grouped into `period`-second buckets aligned to the epoch
//! (a datapoint's timestamp is the start of its period); the most recent
//! `evaluation_periods` buckets with data, within an evaluation range four
//! periods longer, form the window; a bucket with
//! several datapoints (10-s data under a 60-s alarm) is their average.
//! ALARM when at least `datapoints_to_alarm` buckets breach; missing buckets
//! follow `TreatMissingData`. CloudWatch's "premature alarm" and
//! evaluation-range extension corner cases are not reproduced (our choice).

use crate::config::{AlarmSpec, TreatMissing};
use crate::decision::AlarmState;
use crate::memory::Datapoint;
use jiff::Timestamp;

/// The shape of an alarm's evaluation.
#[derive(Clone, Copy, Debug)]
pub struct AlarmWindow {
    pub period_seconds: u32,
    pub evaluation_periods: u32,
    pub datapoints_to_alarm: u32,
    pub treat_missing: TreatMissing,
}

/// The result of evaluating an alarm at one instant.
#[derive(Clone, Debug, PartialEq)]
pub struct AlarmEvaluation {
    pub state: AlarmState,
    pub breaching: u32,
    /// Buckets with data in the window.
    pub present: u32,
    /// Bucket values in the window, oldest first.
    pub values: Vec<f64>,
}

impl AlarmSpec {
    /// Evaluates this alarm (its window, threshold and comparison) over
    /// `series` at `now`: what the step policy it drives reads, and what the
    /// simulated CloudWatch sends state changes of.
    #[must_use]
    pub fn evaluate(&self, series: &[Datapoint], now: Timestamp) -> AlarmEvaluation {
        let window = AlarmWindow {
            period_seconds: self.period_seconds,
            evaluation_periods: self.evaluation_periods,
            datapoints_to_alarm: self.datapoints_to_alarm,
            treat_missing: self.treat_missing,
        };
        window.evaluate(series, now, |v| self.comparison.breaches(v, self.threshold))
    }
}

impl AlarmWindow {
    /// Extra periods CloudWatch reads beyond `evaluation_periods`: it
    /// "retrieves a number of data points greater than the evaluation
    /// periods" (aws-behaviour §11.4). ECS CPU datapoints arrive two to three minutes
    /// after their period and AWS's own benchmark (363 s from spike to
    /// trigger) shows 3-of-3 alarms still fire on them, so the range must
    /// reach back four periods beyond N (the delay plus the current,
    /// incomplete period) — our choice, calibrated in `tests/sim.rs`.
    pub const EXTRA_RANGE: i64 = 4;

    /// Evaluates the alarm over `series` (sorted by time) at `now`.
    ///
    /// When the evaluation range holds at least N real datapoints, the most
    /// recent N are used, so a late newest datapoint does not flip the alarm;
    /// otherwise the missing ones follow `TreatMissingData`.
    #[must_use]
    pub fn evaluate(&self, series: &[Datapoint], now: Timestamp, breaches: impl Fn(f64) -> bool) -> AlarmEvaluation {
        let period = i64::from(self.period_seconds.max(1));
        let n = i64::from(self.evaluation_periods.max(1));
        let newest_bucket = now.as_second().div_euclid(period);
        let oldest_bucket = newest_bucket - n - Self::EXTRA_RANGE + 1;
        let mut sums = vec![(0.0f64, 0u32); (n + Self::EXTRA_RANGE) as usize];
        for p in series {
            let bucket = p.timestamp.as_second().div_euclid(period);
            if (oldest_bucket..=newest_bucket).contains(&bucket) && p.timestamp <= now {
                let slot = &mut sums[(bucket - oldest_bucket) as usize];
                slot.0 += p.value;
                slot.1 += 1;
            }
        }
        let mut values: Vec<f64> = sums.iter().filter(|(_, k)| *k > 0).map(|(s, k)| s / f64::from(*k)).collect();
        if values.len() > n as usize {
            values.drain(..values.len() - n as usize);
        }
        let present = values.len() as u32;
        let missing = self.evaluation_periods.max(1) - present;
        let mut breaching = values.iter().filter(|v| breaches(**v)).count() as u32;
        if self.treat_missing == TreatMissing::Breaching {
            breaching += missing;
        }
        let state = if breaching >= self.datapoints_to_alarm {
            AlarmState::Alarm
        } else if present == 0 && matches!(self.treat_missing, TreatMissing::Missing | TreatMissing::Ignore) {
            AlarmState::InsufficientData
        } else {
            AlarmState::Ok
        };
        AlarmEvaluation { state, breaching, present, values }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(start: i64, step: i64, values: &[f64]) -> Vec<Datapoint> {
        values
            .iter()
            .enumerate()
            .map(|(i, v)| Datapoint { timestamp: Timestamp::from_second(start + i as i64 * step).unwrap(), value: *v })
            .collect()
    }

    fn window(n: u32, m: u32, treat: TreatMissing) -> AlarmWindow {
        AlarmWindow { period_seconds: 60, evaluation_periods: n, datapoints_to_alarm: m, treat_missing: treat }
    }

    #[test]
    fn three_of_three_needs_three_breaching_minutes() {
        let w = window(3, 3, TreatMissing::Missing);
        let s = series(0, 60, &[80.0, 80.0, 80.0]);
        let at = |sec| Timestamp::from_second(sec).unwrap();
        assert_eq!(w.evaluate(&s[..2], at(150), |v| v > 70.0).state, AlarmState::Ok);
        assert_eq!(w.evaluate(&s, at(150), |v| v > 70.0).state, AlarmState::Alarm);
        // A late newest datapoint does not flip it: the range reaches back.
        assert_eq!(w.evaluate(&s, at(270), |v| v > 70.0).state, AlarmState::Alarm);
        // Once the range holds only two of them, two of three is not enough.
        assert_eq!(w.evaluate(&s, at(450), |v| v > 70.0).state, AlarmState::Ok);
        assert_eq!(w.evaluate(&s, at(600), |v| v > 70.0).state, AlarmState::InsufficientData);
    }

    #[test]
    fn sub_period_datapoints_are_averaged_per_bucket() {
        // Six 10-s points in one minute, average 75 > 70.
        let s = series(60, 10, &[60.0, 70.0, 80.0, 90.0, 70.0, 80.0]);
        let e = window(1, 1, TreatMissing::Missing).evaluate(&s, Timestamp::from_second(119).unwrap(), |v| v > 70.0);
        assert_eq!(e.values, vec![75.0]);
        assert_eq!(e.state, AlarmState::Alarm);
    }

    #[test]
    fn treat_missing_breaching_counts_gaps_as_breaches() {
        let s = series(0, 60, &[90.0]);
        let now = Timestamp::from_second(179).unwrap();
        assert_eq!(window(3, 3, TreatMissing::Breaching).evaluate(&s, now, |v| v > 70.0).state, AlarmState::Alarm);
        assert_eq!(window(3, 3, TreatMissing::NotBreaching).evaluate(&s, now, |v| v > 70.0).state, AlarmState::Ok);
    }
}
