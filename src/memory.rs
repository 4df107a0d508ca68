//! Controller memory: everything the controller remembers between
//! evaluations, as one explicit serde value passed in and returned. Nothing
//! is hidden: cooldown clocks, last actions, recommendation history, alarm
//! datapoints for `aws` mode, the bounds scheduled actions set, processed
//! event ids and last seen task versions.

use crate::config::MetricId;
use crate::event::{Detail, Event};
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, VecDeque};

/// A metric datapoint.
///
/// Stored compactly as `[epoch milliseconds, value]` (controller memory
/// holds many; DynamoDB items and their parsing stay small); read from that
/// or from `{"timestamp": "<RFC 3339>", "value": v}` (observation files and
/// records stored before).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Datapoint {
    pub timestamp: Timestamp,
    pub value: f64,
}

impl Serialize for Datapoint {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        (self.timestamp.as_millisecond(), self.value).serialize(s)
    }
}

impl<'de> Deserialize<'de> for Datapoint {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(DatapointVisitor)
    }
}

/// Reads either form without buffering (stored memory holds many).
struct DatapointVisitor;

impl<'de> serde::de::Visitor<'de> for DatapointVisitor {
    type Value = Datapoint;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[epoch milliseconds, value] or {\"timestamp\": RFC 3339, \"value\": number}")
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Datapoint, A::Error> {
        use serde::de::Error;
        let ms: i64 = seq.next_element()?.ok_or_else(|| A::Error::invalid_length(0, &self))?;
        let value: f64 = seq.next_element()?.ok_or_else(|| A::Error::invalid_length(1, &self))?;
        if seq.next_element::<serde::de::IgnoredAny>()?.is_some() {
            return Err(A::Error::invalid_length(3, &self));
        }
        let timestamp =
            Timestamp::from_millisecond(ms).map_err(|e| A::Error::custom(format!("datapoint time {ms} ms: {e}")))?;
        Ok(Datapoint { timestamp, value })
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Datapoint, A::Error> {
        use serde::de::Error;
        let (mut timestamp, mut value) = (None, None);
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            match key.as_ref() {
                "timestamp" => timestamp = Some(map.next_value::<Timestamp>()?),
                "value" => value = Some(map.next_value::<f64>()?),
                other => return Err(A::Error::unknown_field(other, &["timestamp", "value"])),
            }
        }
        Ok(Datapoint {
            timestamp: timestamp.ok_or_else(|| A::Error::missing_field("timestamp"))?,
            value: value.ok_or_else(|| A::Error::missing_field("value"))?,
        })
    }
}

/// Memory of the whole controller (the file `autopilot evaluate --memory`
/// reads and `--memory-out` writes). Unknown fields are refused: any other
/// JSON object would otherwise read as empty memory.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ControllerMemory {
    #[serde(default)]
    pub targets: BTreeMap<String, TargetMemory>,
    #[serde(default)]
    pub ledger: EventLedger,
}

/// Memory of one scalable target.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TargetMemory {
    /// Bounds set by scheduled actions, with the configured bounds they
    /// replaced: re-registering the target (new configured bounds) wins.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduled_bounds: Option<ScheduledBounds>,
    /// The scale-out that opened the current scale-out cooldown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_scale_out: Option<ScaleRecord>,
    /// The last scale-in (cleared by a scale-out: aws-behaviour §3.7).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_scale_in: Option<ScaleRecord>,
    /// Recent changes, for rate limits (bounded by the longest period).
    #[serde(default, skip_serializing_if = "VecDeque::is_empty")]
    pub changes: VecDeque<ScaleRecord>,
    /// Recent recommendations, for stabilization windows.
    #[serde(default, skip_serializing_if = "VecDeque::is_empty")]
    pub recommendations: VecDeque<Recommendation>,
    /// When the first recommendation was recorded: a scale-in window is
    /// applied only once recommendations span it.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "stored_time::option")]
    pub recommending_since: Option<Timestamp>,
    /// Datapoints per metric, newest last, bounded by the longest alarm window.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub datapoints: BTreeMap<MetricId, Vec<Datapoint>>,
    /// When each alarm last invoked its policy (once a minute in ALARM, aws-behaviour §3.5).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty", with = "stored_time::map")]
    pub alarm_invoked_at: BTreeMap<String, Timestamp>,
    /// Newest datapoint each policy has evaluated (`fast` mode).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty", with = "stored_time::map")]
    pub evaluated_through: BTreeMap<String, Timestamp>,
    /// Per `fast` policy, the load of its recent datapoints (value × tasks
    /// reporting), for the trend (docs/configuration.md "fast mode").
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub loads: BTreeMap<String, Vec<Datapoint>>,
    /// Per `fast` policy, its outstanding probe: a scale-out on a single
    /// datapoint that no datapoint has confirmed yet (docs/configuration.md
    /// "fast mode").
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub probes: BTreeMap<String, Probe>,
    /// Scheduled actions have been handled up to this instant.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "stored_time::option")]
    pub schedules_checked_until: Option<Timestamp>,
}

/// Bounds set by a scheduled action.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduledBounds {
    pub min: u32,
    pub max: u32,
    pub configured_min: u32,
    pub configured_max: u32,
}

/// A change of desired count.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScaleRecord {
    #[serde(with = "stored_time::single")]
    pub at: Timestamp,
    pub from: u32,
    pub to: u32,
}

/// A `fast` scale-out on one unconfirmed datapoint, and the most tasks any
/// datapoint has needed since: when none needed more than `from` for a
/// whole scale-in stabilization window, the probe is withdrawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Probe {
    /// When the probe was proposed.
    #[serde(with = "stored_time::single")]
    pub at: Timestamp,
    /// The tasks that produced the datapoint, and what the probe asked for.
    pub from: u32,
    pub to: u32,
    /// The largest capacity at target of any datapoint since.
    pub needed: u32,
}

/// A recommendation, for stabilization windows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recommendation {
    #[serde(with = "stored_time::single")]
    pub at: Timestamp,
    pub capacity: u32,
}

impl TargetMemory {
    /// Merges new datapoints (any order, duplicates by timestamp replaced)
    /// and forgets those older than `keep` before `now`.
    pub fn ingest(&mut self, metric: &MetricId, points: &[Datapoint], now: Timestamp, keep: SignedDuration) {
        let series = self.datapoints.entry(metric.clone()).or_default();
        for p in points {
            match series.binary_search_by(|q| q.timestamp.cmp(&p.timestamp)) {
                Ok(i) => series[i] = *p,
                Err(i) => series.insert(i, *p),
            }
        }
        let horizon = now.checked_sub(keep).unwrap_or(Timestamp::MIN);
        series.retain(|p| p.timestamp >= horizon);
    }
}

/// Processed event ids and last seen task / container-instance versions:
/// EventBridge delivers at least once and out of order (aws-behaviour §10.2).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct EventLedger {
    /// Recently processed event ids with when they were seen, oldest first.
    #[serde(default, with = "stored_time::processed")]
    pub processed: VecDeque<(String, Timestamp)>,
    /// Highest `detail.version` seen per task or container instance (the
    /// last part of its ARN), with when it was seen (forgotten after
    /// [`Self::ID_RETENTION`]).
    #[serde(default, with = "stored_time::versions")]
    pub versions: BTreeMap<String, (u64, Timestamp)>,
    /// When old entries were last forgotten (at most once a minute).
    #[serde(default, skip_serializing_if = "Option::is_none", with = "stored_time::option")]
    pub pruned_at: Option<Timestamp>,
    /// Lookup index over `processed`, derived (rebuilt after deserialising).
    #[serde(skip)]
    index: IdIndex,
}

/// A derived set of ids; equal to any other (it mirrors `processed`).
#[derive(Clone, Debug, Default)]
struct IdIndex(std::collections::HashSet<String>);

impl PartialEq for IdIndex {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

/// Whether an event should be acted on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Freshness {
    Fresh,
    /// Same event id already processed.
    Duplicate,
    /// A version not newer than one already seen for the same resource.
    Stale {
        seen: u64,
        got: u64,
    },
}

impl EventLedger {
    /// How long ids and versions are remembered. What a ledger must catch
    /// is EventBridge's at-least-once delivery: the same event twice, close
    /// together. Retries after a failure need no memory — a failed
    /// invocation put the previous record back, so its event is not in the
    /// ledger — and an event that slips past the ledger only triggers one
    /// more evaluation, which decides on the same memory (cooldowns, the
    /// datapoints already acted on) and so never acts twice
    /// (docs/lambdas.md). Fifteen minutes keeps busy services' records small.
    pub const ID_RETENTION: SignedDuration = SignedDuration::from_mins(15);
    /// At most this many processed ids are kept (oldest forgotten first).
    pub const MAX_IDS: usize = 400;
    /// At most this many task / container-instance versions are kept
    /// (oldest forgotten first). With [`Self::MAX_IDS`] the ledger stays
    /// near 100 KB, a quarter of DynamoDB's 400 KB item limit.
    pub const MAX_VERSIONS: usize = 600;

    /// Classifies `event` and, when fresh, records it. Stale and duplicate
    /// events change nothing. Versioned events (task and container-instance
    /// changes) are recognised by their version alone: a redelivery carries
    /// the same version, so their ids need not be kept.
    pub fn observe(&mut self, event: &Event, now: Timestamp) -> Freshness {
        self.prune(now);
        if self.index.0.contains(&event.meta.id) {
            return Freshness::Duplicate;
        }
        let horizon = now.checked_sub(Self::ID_RETENTION).unwrap_or(Timestamp::MIN);
        let versioned = match &event.detail {
            Detail::TaskStateChange(t) => Some((t.task_arn.as_str(), t.version)),
            Detail::ContainerInstanceStateChange(c) => Some((c.container_instance_arn.as_str(), c.version)),
            _ => None,
        };
        if let Some((arn, version)) = versioned {
            // The ARN's last part (the task or container-instance id) is
            // unique within a cluster, which is a record's widest scope.
            let arn = arn.rsplit('/').next().unwrap_or(arn);
            match self.versions.get(arn) {
                // Higher means later (aws-behaviour §10.2); the same version is the same
                // state delivered again. An entry past the horizon is
                // forgotten even before the sweep removes it, so the lazy
                // sweep never changes an answer.
                Some(&(seen, at)) if version == seen && at >= horizon => return Freshness::Duplicate,
                Some(&(seen, at)) if version < seen && at >= horizon => return Freshness::Stale { seen, got: version },
                _ => {
                    self.versions.insert(arn.to_owned(), (version, now));
                }
            }
        } else {
            self.processed.push_back((event.meta.id.clone(), now));
            self.index.0.insert(event.meta.id.clone());
        }
        self.enforce_caps();
        Freshness::Fresh
    }

    /// Forgets entries older than [`Self::ID_RETENTION`] (the version map at
    /// most once a minute) and keeps within the caps. The handlers call it
    /// before every write, ticks included, so a stored ledger never grows
    /// past its budget.
    pub fn prune(&mut self, now: Timestamp) {
        if self.index.0.len() != self.processed.len() {
            self.index.0 = self.processed.iter().map(|(id, _)| id.clone()).collect();
        }
        let horizon = now.checked_sub(Self::ID_RETENTION).unwrap_or(Timestamp::MIN);
        // Ids leave from the front: amortised O(1) per event.
        while self.processed.front().is_some_and(|(_, at)| *at < horizon) {
            if let Some((id, _)) = self.processed.pop_front() {
                self.index.0.remove(&id);
            }
        }
        if self.pruned_at.is_none_or(|at| now.duration_since(at) >= SignedDuration::from_mins(1)) {
            self.versions.retain(|_, (_, at)| *at >= horizon);
            self.pruned_at = Some(now);
        }
        self.enforce_caps();
    }

    fn enforce_caps(&mut self) {
        while self.processed.len() > Self::MAX_IDS {
            if let Some((id, _)) = self.processed.pop_front() {
                self.index.0.remove(&id);
            }
        }
        if self.versions.len() > Self::MAX_VERSIONS {
            // Down to nine tenths at once, so the sort runs once per many
            // inserts rather than on each.
            let keep = Self::MAX_VERSIONS * 9 / 10;
            let mut by_age: Vec<(Timestamp, String)> =
                self.versions.iter().map(|(arn, (_, at))| (*at, arn.clone())).collect();
            by_age.sort_unstable();
            for (_, arn) in by_age.into_iter().take(self.versions.len() - keep) {
                self.versions.remove(&arn);
            }
        }
    }
}

/// Times in the stored record (ledger and controller memory): a whole
/// second as an integer (event times and the controller's instants here
/// have no fraction), anything finer as RFC 3339 text; both forms, and the
/// RFC 3339 text of records stored before, are read. Every evaluation reads
/// and writes its target's record, and an integer is several times cheaper
/// to write and parse than the text (BENCHMARKS.md, "Plan").
pub(crate) mod stored_time {
    use jiff::Timestamp;
    use serde::de::{self, Deserializer, Visitor};
    use serde::ser::Serializer;
    use serde::{Deserialize, Serialize};
    use std::fmt;

    struct Compact<'a>(&'a Timestamp);

    impl Serialize for Compact<'_> {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            if self.0.subsec_nanosecond() == 0 {
                s.serialize_i64(self.0.as_second())
            } else {
                self.0.serialize(s)
            }
        }
    }

    struct Loose(Timestamp);

    impl<'de> Deserialize<'de> for Loose {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl Visitor<'_> for V {
                type Value = Loose;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("epoch seconds or an RFC 3339 instant")
                }
                fn visit_i64<E: de::Error>(self, v: i64) -> Result<Loose, E> {
                    Timestamp::from_second(v).map(Loose).map_err(|e| E::custom(format!("ledger time {v} s: {e}")))
                }
                fn visit_u64<E: de::Error>(self, v: u64) -> Result<Loose, E> {
                    let v = i64::try_from(v).map_err(|_| E::custom(format!("ledger time {v} s is out of range")))?;
                    self.visit_i64(v)
                }
                fn visit_str<E: de::Error>(self, v: &str) -> Result<Loose, E> {
                    v.parse::<Timestamp>().map(Loose).map_err(|e| E::custom(format!("ledger time {v:?}: {e}")))
                }
            }
            d.deserialize_any(V)
        }
    }

    pub mod single {
        use super::{Compact, Loose};
        use jiff::Timestamp;
        use serde::{Deserialize, Deserializer, Serialize, Serializer};

        pub fn serialize<S: Serializer>(t: &Timestamp, s: S) -> Result<S::Ok, S::Error> {
            Compact(t).serialize(s)
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Timestamp, D::Error> {
            Loose::deserialize(d).map(|t| t.0)
        }
    }

    pub mod option {
        use super::{Compact, Loose};
        use jiff::Timestamp;
        use serde::{Deserialize, Deserializer, Serializer};

        pub fn serialize<S: Serializer>(t: &Option<Timestamp>, s: S) -> Result<S::Ok, S::Error> {
            match t {
                Some(t) => s.serialize_some(&Compact(t)),
                None => s.serialize_none(),
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Timestamp>, D::Error> {
            Ok(Option::<Loose>::deserialize(d)?.map(|t| t.0))
        }
    }

    pub mod map {
        use super::{Compact, Loose};
        use jiff::Timestamp;
        use serde::{Deserialize, Deserializer, Serializer};
        use std::collections::BTreeMap;

        pub fn serialize<S: Serializer>(v: &BTreeMap<String, Timestamp>, s: S) -> Result<S::Ok, S::Error> {
            s.collect_map(v.iter().map(|(k, t)| (k, Compact(t))))
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, Timestamp>, D::Error> {
            let raw: BTreeMap<String, Loose> = BTreeMap::deserialize(d)?;
            Ok(raw.into_iter().map(|(k, t)| (k, t.0)).collect())
        }
    }

    pub mod processed {
        use super::{Compact, Loose};
        use jiff::Timestamp;
        use serde::{Deserialize, Deserializer, Serializer};
        use std::collections::VecDeque;

        pub fn serialize<S: Serializer>(v: &VecDeque<(String, Timestamp)>, s: S) -> Result<S::Ok, S::Error> {
            s.collect_seq(v.iter().map(|(id, t)| (id, Compact(t))))
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<VecDeque<(String, Timestamp)>, D::Error> {
            let raw: Vec<(String, Loose)> = Vec::deserialize(d)?;
            Ok(raw.into_iter().map(|(id, t)| (id, t.0)).collect())
        }
    }

    pub mod versions {
        use super::{Compact, Loose};
        use jiff::Timestamp;
        use serde::{Deserialize, Deserializer, Serializer};
        use std::collections::BTreeMap;

        pub fn serialize<S: Serializer>(v: &BTreeMap<String, (u64, Timestamp)>, s: S) -> Result<S::Ok, S::Error> {
            s.collect_map(v.iter().map(|(k, (n, t))| (k, (n, Compact(t)))))
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, (u64, Timestamp)>, D::Error> {
            let raw: BTreeMap<String, (u64, Loose)> = BTreeMap::deserialize(d)?;
            Ok(raw.into_iter().map(|(k, (n, t))| (k, (n, t.0))).collect())
        }
    }
}

#[cfg(test)]
mod stored_time_tests {
    use super::*;

    #[test]
    fn whole_seconds_are_stored_as_integers_and_finer_times_exactly() {
        let mut ledger = EventLedger::default();
        let whole = Timestamp::from_second(1_767_571_200).unwrap();
        let fine = Timestamp::new(1_767_571_200, 250_000_000).unwrap();
        ledger.versions.insert("t1".into(), (3, whole));
        ledger.versions.insert("t2".into(), (4, fine));
        ledger.processed.push_back(("e1".into(), whole));
        let text = serde_json::to_string(&ledger).unwrap();
        assert!(text.contains(r#""t1":[3,1767571200]"#), "{text}");
        assert!(text.contains(r#""t2":[4,"2026-01-05T00:00:00.25Z"]"#), "{text}");
        assert!(text.contains(r#"["e1",1767571200]"#), "{text}");
        let back: EventLedger = serde_json::from_str(&text).unwrap();
        assert_eq!(back, ledger);
    }

    #[test]
    fn records_written_with_rfc3339_times_still_read() {
        let old = r#"{"processed":[["e1","2026-01-05T00:00:00Z"]],"versions":{"t1":[3,"2026-01-05T00:00:00Z"]}}"#;
        let ledger: EventLedger = serde_json::from_str(old).unwrap();
        assert_eq!(ledger.versions["t1"], (3, Timestamp::from_second(1_767_571_200).unwrap()));
        assert_eq!(ledger.processed[0].1, Timestamp::from_second(1_767_571_200).unwrap());
        let err = serde_json::from_str::<EventLedger>(r#"{"versions":{"t1":[3,true]}}"#).unwrap_err();
        assert!(err.to_string().contains("epoch seconds or an RFC 3339 instant"), "{err}");
    }
}
