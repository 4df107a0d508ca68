//! A service's desired count over time as a step function, and the
//! integrals `autopilot plan` reports over it (task-seconds, differences,
//! provisioning against a need).
//!
//! Owns: the arithmetic of piecewise-constant counts. May not touch:
//! replays or configuration (it receives change points).

use serde::{Deserialize, Serialize};

/// A count that holds from each change point until the next one. Times are
/// epoch seconds.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Steps {
    /// The count before the first change.
    pub initial: u32,
    /// `(time, count from then on)`, in time order; at most one per time.
    pub changes: Vec<(i64, u32)>,
}

impl Steps {
    /// Builds the function from `(time, count)` points in any order; of
    /// several points at one time the last given wins, and points that do
    /// not change the count are dropped.
    #[must_use]
    pub fn from_points(initial: u32, mut points: Vec<(i64, u32)>) -> Self {
        // Stable: points of one instant keep the order they were given in.
        points.sort_by_key(|(t, _)| *t);
        let mut changes: Vec<(i64, u32)> = Vec::with_capacity(points.len() / 8);
        let mut last = initial;
        let mut i = 0;
        while i < points.len() {
            let time = points[i].0;
            let mut value = points[i].1;
            while i < points.len() && points[i].0 == time {
                value = points[i].1;
                i += 1;
            }
            if value != last {
                changes.push((time, value));
                last = value;
            }
        }
        Self { initial, changes }
    }

    /// The count at `time`.
    #[must_use]
    pub fn at(&self, time: i64) -> u32 {
        let after = self.changes.partition_point(|(t, _)| *t <= time);
        after.checked_sub(1).map_or(self.initial, |i| self.changes[i].1)
    }

    /// The count's last value.
    #[must_use]
    pub fn last(&self) -> u32 {
        self.changes.last().map_or(self.initial, |(_, v)| *v)
    }

    /// `(start, end, count)` pieces covering `[from, to)`.
    pub fn segments(&self, from: i64, to: i64) -> impl Iterator<Item = (i64, i64, u32)> + '_ {
        let first = self.changes.partition_point(|(t, _)| *t <= from);
        let start_value = first.checked_sub(1).map_or(self.initial, |i| self.changes[i].1);
        let mut cursor = (from, start_value);
        let mut rest = self.changes[first..].iter().take_while(move |(t, _)| *t < to);
        let mut done = from >= to;
        std::iter::from_fn(move || {
            if done {
                return None;
            }
            let (start, value) = cursor;
            match rest.next() {
                Some(&(t, v)) => {
                    cursor = (t, v);
                    Some((start, t, value))
                }
                None => {
                    done = true;
                    Some((start, to, value))
                }
            }
        })
    }

    /// Count × seconds over `[from, to)`.
    #[must_use]
    pub fn task_seconds(&self, from: i64, to: i64) -> u64 {
        self.segments(from, to).map(|(s, e, v)| u64::from(v) * seconds(s, e)).sum()
    }
}

fn seconds(start: i64, end: i64) -> u64 {
    u64::try_from(end - start).unwrap_or(0)
}

/// One stretch of time where two step functions differ.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stretch {
    pub from: i64,
    pub to: i64,
    pub left: u32,
    pub right: u32,
}

/// The stretches of `[from, to)` where `left` and `right` differ, merged
/// while both values stay the same.
#[must_use]
pub fn differences(left: &Steps, right: &Steps, from: i64, to: i64) -> Vec<Stretch> {
    let mut times: Vec<i64> =
        left.changes.iter().chain(&right.changes).map(|(t, _)| *t).filter(|t| *t > from && *t < to).collect();
    times.push(from);
    times.push(to);
    times.sort_unstable();
    times.dedup();
    let mut out: Vec<Stretch> = Vec::new();
    for pair in times.windows(2) {
        let (start, end) = (pair[0], pair[1]);
        let (l, r) = (left.at(start), right.at(start));
        if l == r {
            continue;
        }
        match out.last_mut() {
            Some(last) if last.to == start && last.left == l && last.right == r => last.to = end,
            _ => out.push(Stretch { from: start, to: end, left: l, right: r }),
        }
    }
    out
}

/// Tasks needed over a stretch of time, from one datapoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Need {
    pub from: i64,
    pub to: i64,
    pub tasks: u32,
}

/// Task-seconds `steps` ran below and above `needs`: (under, over).
#[must_use]
pub fn provisioning(steps: &Steps, needs: &[Need]) -> (u64, u64) {
    let (mut under, mut over) = (0u64, 0u64);
    for need in needs {
        for (s, e, v) in steps.segments(need.from, need.to) {
            let span = seconds(s, e);
            under += u64::from(need.tasks.saturating_sub(v)) * span;
            over += u64::from(v.saturating_sub(need.tasks)) * span;
        }
    }
    (under, over)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn steps() -> Steps {
        // 2 until 100, 5 until 200, 3 from then on.
        Steps::from_points(2, vec![(200, 3), (100, 4), (100, 5), (150, 5)])
    }

    #[test]
    fn the_last_point_of_an_instant_wins_and_repeats_are_dropped() {
        assert_eq!(steps().changes, vec![(100, 5), (200, 3)]);
        assert_eq!((steps().at(99), steps().at(100), steps().at(250)), (2, 5, 3));
    }

    #[test]
    fn segments_cover_the_interval_exactly() {
        let pieces: Vec<_> = steps().segments(50, 250).collect();
        assert_eq!(pieces, vec![(50, 100, 2), (100, 200, 5), (200, 250, 3)]);
        assert_eq!(steps().segments(120, 180).collect::<Vec<_>>(), vec![(120, 180, 5)]);
        assert_eq!(steps().segments(10, 10).count(), 0);
        assert_eq!(steps().task_seconds(50, 250), 2 * 50 + 5 * 100 + 3 * 50);
    }

    #[test]
    fn differences_merge_equal_neighbours() {
        let other = Steps::from_points(2, vec![(100, 4), (200, 4)]);
        let d = differences(&steps(), &other, 0, 300);
        assert_eq!(
            d,
            vec![Stretch { from: 100, to: 200, left: 5, right: 4 }, Stretch { from: 200, to: 300, left: 3, right: 4 }]
        );
        assert!(differences(&steps(), &steps(), 0, 300).is_empty());
    }

    #[test]
    fn provisioning_counts_shortfall_and_excess() {
        let needs = [Need { from: 0, to: 100, tasks: 3 }, Need { from: 100, to: 300, tasks: 4 }];
        // 0-100: 2 vs 3 (under 100); 100-200: 5 vs 4 (over 100); 200-300: 3 vs 4 (under 100).
        assert_eq!(provisioning(&steps(), &needs), (200, 100));
    }
}
