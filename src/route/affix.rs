//! Prefix, suffix and ASCII ignore-case matchers of one path, grouped by
//! pattern length: an event value is cut once per distinct length and looked
//! up in that length's group (a hash map once the group holds more than a
//! few patterns), instead of being compared with every pattern.
//!
//! Owns: [`AffixIndex`]. May not touch: other matchers (they stay in the
//! router's per-path list) or what a hit leads to (the router's business).
//!
//! Why: with hundreds of `prefix` rules on one field (`detail.eventName`,
//! `source`), comparing each event value with every pattern would make the
//! cost grow with the number of rules; Event Ruler walks a byte machine for
//! the same reason. Patterns rarely come in many lengths, so a handful of
//! lookups answer for any number of rules.
//!
//! Equivalence with `Matcher::matches` (property-tested through the router
//! against the reference interpreter): prefixes and suffixes compare bytes
//! (`str::starts_with` / `ends_with`); an ASCII ignore-case pattern matches
//! exactly the values whose bytes equal it after ASCII lowercasing
//! (`[u8]::eq_ignore_ascii_case`, `value::IgnoreCase`'s ASCII rule).
//! Non-ASCII ignore-case patterns, and ones longer than
//! [`AffixIndex::MAX_FOLDED`] bytes, are not indexed.

use super::pattern::Matcher;
use super::value::IgnoreCase;
use rustc_hash::FxHashMap;

/// Patterns of one kind, grouped by byte length (few groups).
#[derive(Debug, Default)]
struct ByLength {
    groups: Vec<(usize, Group)>,
}

/// The patterns of one length: compared one by one while they are few (a
/// short comparison that fails on the first byte costs less than hashing),
/// looked up in a hash map beyond [`Group::FEW`].
#[derive(Debug)]
enum Group {
    Few(Vec<(Box<[u8]>, Vec<u32>)>),
    Many(FxHashMap<Box<[u8]>, Vec<u32>>),
}

impl Group {
    const FEW: usize = 8;

    fn conditions_mut(&mut self, pattern: &[u8]) -> &mut Vec<u32> {
        if let Self::Few(few) = self {
            if few.len() == Self::FEW && !few.iter().any(|(p, _)| **p == *pattern) {
                *self = Self::Many(std::mem::take(few).into_iter().collect());
            }
        }
        match self {
            Self::Few(few) => {
                let at = match few.iter().position(|(p, _)| **p == *pattern) {
                    Some(at) => at,
                    None => {
                        few.push((pattern.into(), Vec::new()));
                        few.len() - 1
                    }
                };
                &mut few[at].1
            }
            Self::Many(many) => many.entry(pattern.into()).or_default(),
        }
    }

    /// The conditions of the pattern equal to `cut` (ASCII case ignored
    /// when `fold`: the stored patterns are lowercase).
    #[inline]
    fn get(&self, cut: &[u8], fold: bool) -> Option<&Vec<u32>> {
        match self {
            Self::Few(few) if fold => few.iter().find(|(p, _)| cut.eq_ignore_ascii_case(p)).map(|(_, c)| c),
            Self::Few(few) => few.iter().find(|(p, _)| **p == *cut).map(|(_, c)| c),
            Self::Many(many) if fold => {
                // Patterns are at most MAX_FOLDED bytes: so is a cut that
                // can equal one.
                let mut lower = [0u8; AffixIndex::MAX_FOLDED];
                let lower = lower.get_mut(..cut.len())?;
                lower.copy_from_slice(cut);
                lower.make_ascii_lowercase();
                many.get(&*lower)
            }
            Self::Many(many) => many.get(cut),
        }
    }
}

impl ByLength {
    fn add(&mut self, pattern: &[u8], condition: u32) {
        let at = match self.groups.iter().position(|(len, _)| *len == pattern.len()) {
            Some(at) => at,
            None => {
                self.groups.push((pattern.len(), Group::Few(Vec::new())));
                self.groups.len() - 1
            }
        };
        let conditions = self.groups[at].1.conditions_mut(pattern);
        if conditions.last() != Some(&condition) {
            conditions.push(condition);
        }
    }

    /// Adds every condition whose pattern is the part of `value` that
    /// `part` cuts for the pattern's length (`None` when the value is
    /// shorter).
    #[inline]
    fn find(&self, value: &[u8], fold: bool, part: impl Fn(&[u8], usize) -> Option<&[u8]>, found: &mut Vec<u32>) {
        for (len, group) in &self.groups {
            if let Some(conditions) = part(value, *len).and_then(|cut| group.get(cut, fold)) {
                found.extend_from_slice(conditions);
            }
        }
    }
}

/// The indexed matchers of one path.
#[derive(Debug, Default)]
pub(crate) struct AffixIndex {
    prefixes: ByLength,
    suffixes: ByLength,
    /// ASCII ignore-case patterns, stored lowercased.
    folded_prefixes: ByLength,
    folded_suffixes: ByLength,
    folded_equals: ByLength,
}

/// Which of the index's groups a matcher goes to.
#[derive(Clone, Copy)]
enum Kind {
    Prefix,
    Suffix,
    FoldedPrefix,
    FoldedSuffix,
    FoldedEquals,
}

fn head(value: &[u8], len: usize) -> Option<&[u8]> {
    value.get(..len)
}

fn tail(value: &[u8], len: usize) -> Option<&[u8]> {
    value.get(value.len().checked_sub(len)?..)
}

fn whole(value: &[u8], len: usize) -> Option<&[u8]> {
    (value.len() == len).then_some(value)
}

impl AffixIndex {
    /// Longer ASCII ignore-case patterns stay with the generic matchers: a
    /// lowercased cut of the value lives in a buffer of this size.
    pub const MAX_FOLDED: usize = 64;

    /// A path with more indexable matchers than this gets an index; with
    /// fewer, comparing each one costs less than the lookups (on
    /// citylots2's five-rule sets the index cost 2–4 % more instructions
    /// per event).
    pub const INDEX_FROM: usize = 16;

    /// Where `matcher` goes and the pattern bytes it is kept as (ASCII
    /// ignore-case patterns lowercased); `None` for a matcher this index
    /// does not take.
    fn placement(matcher: &Matcher) -> Option<(Kind, &str)> {
        fn folded(kind: Kind, pattern: &IgnoreCase) -> Option<(Kind, &str)> {
            let lower = pattern.ascii_lowercase()?;
            (lower.len() <= AffixIndex::MAX_FOLDED).then_some((kind, lower))
        }
        match matcher {
            Matcher::Prefix(p) => Some((Kind::Prefix, p)),
            Matcher::Suffix(p) => Some((Kind::Suffix, p)),
            Matcher::PrefixIgnoreCase(p) => folded(Kind::FoldedPrefix, p),
            Matcher::SuffixIgnoreCase(p) => folded(Kind::FoldedSuffix, p),
            Matcher::EqualsIgnoreCase(p) => folded(Kind::FoldedEquals, p),
            _ => None,
        }
    }

    /// Whether `matcher` is a kind this index takes.
    pub(crate) fn takes(matcher: &Matcher) -> bool {
        Self::placement(matcher).is_some()
    }

    /// Adds `matcher` if it is a kind this index takes; whether it did.
    pub(crate) fn add(&mut self, matcher: &Matcher, condition: u32) -> bool {
        let Some((kind, pattern)) = Self::placement(matcher) else { return false };
        let group = match kind {
            Kind::Prefix => &mut self.prefixes,
            Kind::Suffix => &mut self.suffixes,
            Kind::FoldedPrefix => &mut self.folded_prefixes,
            Kind::FoldedSuffix => &mut self.folded_suffixes,
            Kind::FoldedEquals => &mut self.folded_equals,
        };
        group.add(pattern.as_bytes(), condition);
        true
    }

    /// Adds to `found` every condition a string value satisfies (a
    /// condition may come more than once). Out of line, so that the
    /// router's loop over fields keeps its registers.
    #[inline(never)]
    pub(crate) fn find(&self, value: &str, found: &mut Vec<u32>) {
        let value = value.as_bytes();
        self.prefixes.find(value, false, head, found);
        self.suffixes.find(value, false, tail, found);
        self.folded_prefixes.find(value, true, head, found);
        self.folded_suffixes.find(value, true, tail, found);
        self.folded_equals.find(value, true, whole, found);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prefix(p: &str) -> Matcher {
        Matcher::Prefix(p.into())
    }
    fn suffix(p: &str) -> Matcher {
        Matcher::Suffix(p.into())
    }
    fn folded_prefix(p: &str) -> Matcher {
        Matcher::PrefixIgnoreCase(IgnoreCase::new(p))
    }
    fn folded_suffix(p: &str) -> Matcher {
        Matcher::SuffixIgnoreCase(IgnoreCase::new(p))
    }
    fn folded_equals(p: &str) -> Matcher {
        Matcher::EqualsIgnoreCase(IgnoreCase::new(p))
    }

    fn found(index: &AffixIndex, value: &str) -> Vec<u32> {
        let mut hits = Vec::new();
        index.find(value, &mut hits);
        hits.sort_unstable();
        hits.dedup();
        hits
    }

    #[test]
    fn each_kind_finds_exactly_the_values_its_matcher_accepts() {
        let mut index = AffixIndex::default();
        assert!(index.add(&prefix("AC"), 0));
        assert!(index.add(&prefix(""), 1));
        assert!(index.add(&suffix("ST"), 2));
        assert!(index.add(&suffix("AVE"), 3));
        assert!(index.add(&folded_prefix("bl"), 4));
        assert!(index.add(&folded_suffix("on"), 5));
        assert!(index.add(&folded_equals("hyde"), 6));
        for (value, want) in [
            ("ACME ST", vec![0, 1, 2]),
            ("ac", vec![1]),
            ("BLAKE AVE", vec![1, 3, 4]),
            ("Blon", vec![1, 4, 5]),
            ("HyDe", vec![1, 6]),
            ("HYDE ", vec![1]),
            ("", vec![1]),
            // A pattern's bytes may end inside a multi-byte character of
            // the value only where they cannot match: not ASCII.
            ("éON", vec![1, 5]),
            ("ÉBL", vec![1]),
        ] {
            assert_eq!(found(&index, value), want, "{value:?}");
        }
    }

    #[test]
    fn long_or_non_ascii_folded_patterns_are_refused_and_long_values_still_meet_affixes() {
        let mut index = AffixIndex::default();
        assert!(!index.add(&folded_equals(&"a".repeat(AffixIndex::MAX_FOLDED + 1)), 0));
        assert!(!index.add(&folded_prefix("é"), 0));
        assert!(index.add(&folded_prefix("ab"), 1));
        assert!(index.add(&folded_suffix("yz"), 2));
        assert!(index.add(&folded_equals(&"q".repeat(AffixIndex::MAX_FOLDED)), 3));
        let long = format!("AB{}YZ", "m".repeat(200));
        assert_eq!(found(&index, &long), vec![1, 2]);
        assert_eq!(found(&index, &"Q".repeat(AffixIndex::MAX_FOLDED)), vec![3]);
        assert_eq!(found(&index, &"Q".repeat(AffixIndex::MAX_FOLDED + 1)), Vec::<u32>::new());
    }

    #[test]
    fn groups_past_a_few_patterns_become_hash_maps_and_answer_the_same() {
        for count in [1, Group::FEW, Group::FEW + 1, 50] {
            let mut index = AffixIndex::default();
            for n in 0..count {
                let n32 = u32::try_from(n).unwrap();
                assert!(index.add(&prefix(&format!("p{n:03}")), n32));
                assert!(index.add(&folded_suffix(&format!("S{n:03}")), 1000 + n32));
                assert!(index.add(&folded_equals(&format!("e{n:03}")), 2000 + n32));
                // The same pattern twice keeps one entry with both conditions.
                assert!(index.add(&prefix(&format!("p{n:03}")), 3000 + n32));
            }
            let many = matches!(index.prefixes.groups[0].1, Group::Many(_));
            assert_eq!(many, count > Group::FEW, "{count}");
            let last = count - 1;
            let l32 = u32::try_from(last).unwrap();
            assert_eq!(found(&index, &format!("p{last:03}xS{last:03}")), vec![l32, 1000 + l32, 3000 + l32]);
            assert_eq!(found(&index, &format!("E{last:03}")), vec![2000 + l32]);
            assert_eq!(found(&index, "p99"), Vec::<u32>::new());
        }
    }
}
