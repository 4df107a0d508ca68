//! Fan-out: which part of the fleet one function's tick evaluates. A fleet
//! too large for one invocation is split into `count` shards by a stable
//! hash of each target's resource id; shard `index` evaluates the targets
//! that hash to it (docs/fleet.md, "Fan-out"). Events are not sharded: the
//! claim on each target's record keeps concurrent evaluations safe.
//!
//! Owns: the split. May not touch: anything else.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// One part of the fleet: `index` of `count`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

/// Why a shard is not `<index>/<count>` with `index < count`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ShardError {
    #[error("{0:?} is not <index>/<count> (e.g. 0/4)")]
    Shape(String),
    #[error("shard {index} of {count}: the index must be below the count, and the count at least 1")]
    Range { index: u32, count: u32 },
}

impl Shard {
    /// The whole fleet in one shard.
    pub const WHOLE: Self = Self { index: 0, count: 1 };

    /// Shard `index` of `count`.
    ///
    /// # Errors
    /// [`ShardError::Range`] unless `index < count`.
    pub fn new(index: u32, count: u32) -> Result<Self, ShardError> {
        if index < count {
            Ok(Self { index, count })
        } else {
            Err(ShardError::Range { index, count })
        }
    }

    /// Whether this shard's ticks evaluate `resource_id`.
    #[must_use]
    pub fn owns(&self, resource_id: &str) -> bool {
        self.count <= 1 || stable_hash(resource_id) % u64::from(self.count) == u64::from(self.index)
    }
}

impl FromStr for Shard {
    type Err = ShardError;
    fn from_str(s: &str) -> Result<Self, ShardError> {
        let (index, count) = s.split_once('/').ok_or_else(|| ShardError::Shape(s.to_owned()))?;
        let parse = |v: &str| v.trim().parse::<u32>().map_err(|_| ShardError::Shape(s.to_owned()));
        Self::new(parse(index)?, parse(count)?)
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// FNV-1a, 64 bits: the same on every build and platform, unlike std's
/// randomly seeded hasher, so every shard agrees on the split.
fn stable_hash(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_target_belongs_to_exactly_one_shard_and_shards_are_even() {
        let ids: Vec<String> = (0..5000).map(|i| format!("service/c{}/svc-{i}", i % 50)).collect();
        let shards: Vec<Shard> = (0..4).map(|i| Shard::new(i, 4).unwrap()).collect();
        let mut sizes = [0usize; 4];
        for id in &ids {
            let owners: Vec<usize> = (0..4).filter(|&i| shards[i].owns(id)).collect();
            assert_eq!(owners.len(), 1, "{id}");
            sizes[owners[0]] += 1;
        }
        for size in sizes {
            assert!((1100..=1400).contains(&size), "{sizes:?}");
        }
    }

    #[test]
    fn the_split_is_stable_across_builds() {
        // FNV-1a's published test vectors: a changed hash would move targets
        // between deployed shards.
        assert_eq!(stable_hash(""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(stable_hash("a"), 0xaf63_dc4c_8601_ec8c);
    }

    #[test]
    fn bad_shards_are_named() {
        assert_eq!("1/4".parse::<Shard>(), Ok(Shard { index: 1, count: 4 }));
        assert_eq!("4/4".parse::<Shard>(), Err(ShardError::Range { index: 4, count: 4 }));
        assert_eq!("0/0".parse::<Shard>(), Err(ShardError::Range { index: 0, count: 0 }));
        assert!(matches!("x".parse::<Shard>(), Err(ShardError::Shape(_))));
        assert!(Shard::WHOLE.owns("anything"));
    }
}
