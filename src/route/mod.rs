//! EventBridge routing: the event-pattern language (compiled and validated
//! as EventBridge does) and a router that matches many named rules at once.
//!
//! Owns: patterns, matching semantics, rule sets. May not touch: files (rule
//! sources arrive as text) or what a matched handler does.
//!
//! ```text
//! pattern JSON ─compile─► Pattern (conjunctions of leaf conditions)
//! rules ──Router::new──► identical conditions shared; per path: exact-string
//!                        hash → conditions, many prefix/suffix/ignore-case
//!                        patterns → by-length lookup (affix), other matchers
//!                        → conditions; each conjunction keyed by its least
//!                        shared necessary condition
//! event ─scan (only referenced paths, keys followed along the last layout
//!        seen; the rest skipped but validated, 16 bytes per search — or,
//!        with Validation::Referenced, only bracket-matched)─►
//!       fields ─► satisfied conditions
//!       ─► conjunctions keyed by them (+ absence-only ones)
//!       ─► absence + array-consistency check ─► rule names
//! ```
//!
//! Matching cost depends on the event's referenced fields and the matchers
//! on those paths, not on the number of rules: rules that share a condition
//! (`"source": ["aws.ecs"]`) share its test, and only the rules whose
//! rarest condition holds are checked (`benches/route_scaling.rs`).

mod affix;
mod classes;
pub mod json;
mod paths;
pub mod pattern;
pub mod reference;
pub mod scan;
mod shape;
mod skip;
pub mod template;
pub mod value;

pub use pattern::{compile, compile_str, Pattern, PatternError};

use affix::AffixIndex;
use pattern::{Condition, Matcher};
use rustc_hash::FxHashMap;
use scan::{Fields, PathTable, ScanError};
use value::Leaf;

/// A named rule and its pattern.
#[derive(Clone, Debug)]
pub struct Rule {
    pub name: String,
    pub pattern: Pattern,
}

/// A rule that failed to compile.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("rule {rule:?}: {error}")]
pub struct RuleError {
    pub rule: String,
    pub error: PatternError,
}

#[derive(Debug)]
struct Cond {
    path: u32,
    absence_ok: bool,
}

#[derive(Debug)]
struct Conj {
    rule: u32,
    conds: Vec<u32>,
}

#[derive(Debug, Default)]
struct PathIndex {
    exact: FxHashMap<Box<str>, Vec<u32>>,
    /// Prefix, suffix and ASCII ignore-case matchers, looked up by length,
    /// when the path has many (`AffixIndex::INDEX_FROM`).
    affix: Option<Box<AffixIndex>>,
    /// Every other matcher, tried one by one.
    generic: Vec<(Matcher, u32)>,
}

impl PathIndex {
    /// Moves the prefix, suffix and ignore-case matchers into the affix
    /// index once there are enough of them for lookups to pay.
    fn settle(&mut self) {
        let indexable = self.generic.iter().filter(|(m, _)| AffixIndex::takes(m)).count();
        if indexable > AffixIndex::INDEX_FROM {
            let affix = self.affix.get_or_insert_with(Box::default);
            self.generic.retain(|(matcher, condition)| !affix.add(matcher, *condition));
        }
    }
}

/// Many rules compiled together.
#[derive(Debug)]
pub struct Router {
    names: Vec<String>,
    table: PathTable,
    conds: Vec<Cond>,
    conjs: Vec<Conj>,
    /// Per condition, the conjunctions it is the key of: the condition
    /// that must hold and that the fewest conjunctions share. Only a key's
    /// hit makes its conjunctions candidates, so rules that share a common
    /// condition (`"source": ["aws.ecs"]`) are not all checked for every
    /// event that has it.
    key_conjs: Vec<Vec<u32>>,
    by_path: Vec<PathIndex>,
    /// Conjunctions every condition of which absence satisfies: candidates
    /// for every event.
    absence_only: Vec<u32>,
}

/// How much of an event the router checks against the JSON grammar.
///
/// The matching result of a valid event is the same either way; the modes
/// differ on invalid text, and in speed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Validation {
    /// Every byte: an event that is not valid JSON is an error wherever the
    /// fault is, as in EventBridge and Event Ruler (whose JSON parser reads
    /// the whole event).
    #[default]
    Full,
    /// The members the router reads, and the structure around them: values
    /// no rule references are skipped by matching their brackets (outside
    /// strings) without checking what is between them (nor how deep they
    /// nest). For text already known to be valid JSON (delivered by
    /// EventBridge, parsed once before, or written by our own recorder); on
    /// other text a fault inside a skipped value goes unnoticed, and one
    /// that unbalances its brackets or strings gives an error or a result
    /// that means nothing. This is the depth of checking of quamina, whose
    /// skip only counts brackets.
    Referenced,
}

/// Reusable per-event working memory (one per thread). It also remembers
/// the member layouts of the objects it has seen, which makes the next
/// events of the same shape faster to scan (never different in outcome);
/// keep one scratch per router to keep that benefit.
#[derive(Debug, Default)]
pub struct Scratch {
    fields: Fields,
    work: Work,
}

/// The matching half of [`Scratch`]: kept apart from the fields so both can
/// be borrowed at once without moving either.
#[derive(Debug, Default)]
struct Work {
    epoch: u32,
    hit_epoch: Vec<u32>,
    hits: Vec<Vec<u32>>,
    touched: Vec<u32>,
    conj_epoch: Vec<u32>,
    candidates: Vec<u32>,
    path_epoch: Vec<u32>,
    rule_epoch: Vec<u32>,
    chosen: Vec<u32>,
    /// Conditions the affix index found for one value.
    affix_found: Vec<u32>,
}

impl Router {
    /// Compiles named rules (pattern text) into one router.
    ///
    /// # Errors
    /// The first rule whose pattern is invalid.
    pub fn from_patterns<'a>(rules: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<Self, RuleError> {
        let rules = rules
            .into_iter()
            .map(|(name, text)| {
                compile_str(text)
                    .map(|pattern| Rule { name: name.to_owned(), pattern })
                    .map_err(|error| RuleError { rule: name.to_owned(), error })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self::new(rules))
    }

    /// Builds the router from compiled rules.
    #[must_use]
    pub fn new(rules: Vec<Rule>) -> Self {
        let mut router = Self {
            names: Vec::new(),
            table: PathTable::default(),
            conds: Vec::new(),
            conjs: Vec::new(),
            key_conjs: Vec::new(),
            by_path: Vec::new(),
            absence_only: Vec::new(),
        };
        // Identical conditions (same path, same matchers) are one condition,
        // tested once per event however many rules have it.
        let mut known: FxHashMap<(u32, String), u32> = FxHashMap::default();
        let mut cond_conjs: Vec<Vec<u32>> = Vec::new();
        for rule in rules {
            let rule_id = router.names.len() as u32;
            router.names.push(rule.name);
            for conjunction in rule.pattern.conjunctions {
                let conj_id = router.conjs.len() as u32;
                let mut conds: Vec<u32> =
                    conjunction.into_iter().map(|c| router.add_condition(c, &mut known)).collect();
                conds.sort_unstable();
                conds.dedup();
                cond_conjs.resize_with(router.conds.len(), Vec::new);
                conds.iter().for_each(|c| cond_conjs[*c as usize].push(conj_id));
                if conds.iter().all(|c| router.conds[*c as usize].absence_ok) {
                    router.absence_only.push(conj_id);
                }
                router.conjs.push(Conj { rule: rule_id, conds });
            }
        }
        router.key_conjs = vec![Vec::new(); router.conds.len()];
        for (conj_id, conj) in router.conjs.iter().enumerate() {
            let key = conj
                .conds
                .iter()
                .copied()
                .filter(|c| !router.conds[*c as usize].absence_ok)
                .min_by_key(|c| (cond_conjs[*c as usize].len(), *c));
            if let Some(key) = key {
                router.key_conjs[key as usize].push(conj_id as u32);
            }
        }
        router.by_path.iter_mut().for_each(PathIndex::settle);
        router
    }

    /// The id of `condition`: an existing identical one, or a new one.
    fn add_condition(&mut self, condition: Condition, known: &mut FxHashMap<(u32, String), u32>) -> u32 {
        let path = self.table.intern(&condition.path);
        if self.by_path.len() < self.table.len() {
            self.by_path.resize_with(self.table.len(), PathIndex::default);
        }
        // `Debug` spells every field of every matcher (numbers in their
        // shortest round-trip form): equal text, equal matchers.
        let id = *known.entry((path, format!("{:?}", condition.matchers))).or_insert(self.conds.len() as u32);
        if (id as usize) < self.conds.len() {
            return id;
        }
        let absence_ok = condition.satisfied_by_absence();
        let index = &mut self.by_path[path as usize];
        for matcher in condition.matchers {
            match matcher {
                Matcher::String(s) => {
                    let entry = index.exact.entry(s.into_boxed_str()).or_default();
                    if entry.last() != Some(&id) {
                        entry.push(id);
                    }
                }
                Matcher::Exists(false) => {}
                other => index.generic.push((other, id)),
            }
        }
        self.conds.push(Cond { path, absence_ok });
        id
    }

    /// Rule names, in the order they were added.
    #[must_use]
    pub fn rule_names(&self) -> &[String] {
        &self.names
    }

    /// Routes one event (JSON text); returns the indexes of matching rules
    /// in rule order.
    ///
    /// # Errors
    /// [`ScanError`] if the event is not a JSON object.
    pub fn route_indexes(&self, event: &str, scratch: &mut Scratch, out: &mut Vec<usize>) -> Result<(), ScanError> {
        self.route_indexes_with(event, Validation::Full, scratch, out)
    }

    /// [`Self::route_indexes`], checking the event as `validation` says.
    ///
    /// # Errors
    /// [`ScanError`] if the event is not a JSON object, or (with
    /// [`Validation::Full`]) is not valid JSON anywhere.
    pub fn route_indexes_with(
        &self,
        event: &str,
        validation: Validation,
        scratch: &mut Scratch,
        out: &mut Vec<usize>,
    ) -> Result<(), ScanError> {
        out.clear();
        let Scratch { fields, work } = scratch;
        scan::flatten(event, &self.table, validation, fields)?;
        self.match_fields(event, fields, work, out);
        Ok(())
    }

    /// Routes one event and returns the names of the matching rules.
    ///
    /// # Errors
    /// [`ScanError`] if the event is not a JSON object.
    pub fn route(&self, event: &str) -> Result<Vec<&str>, ScanError> {
        let mut out = Vec::new();
        self.route_indexes(event, &mut Scratch::default(), &mut out)?;
        Ok(out.into_iter().map(|i| self.names[i].as_str()).collect())
    }

    fn match_fields(&self, event: &str, fields: &Fields, s: &mut Work, out: &mut Vec<usize>) {
        out.clear();
        s.epoch = s.epoch.wrapping_add(1);
        if s.epoch == 0 {
            // Wrapped: forget every stamp so none collides.
            s.hit_epoch.clear();
            s.conj_epoch.clear();
            s.path_epoch.clear();
            s.rule_epoch.clear();
            s.epoch = 1;
        }
        let epoch = s.epoch;
        s.hit_epoch.resize(self.conds.len(), 0);
        s.hits.resize_with(self.conds.len(), Vec::new);
        s.conj_epoch.resize(self.conjs.len(), 0);
        s.path_epoch.resize(self.table.len(), 0);
        s.rule_epoch.resize(self.names.len(), 0);
        s.touched.clear();
        s.candidates.clear();
        // Apart from `s`, which `hit` below borrows.
        let mut affix_found = std::mem::take(&mut s.affix_found);

        for (i, field) in fields.fields.iter().enumerate() {
            let path = field.path;
            let leaf = fields.leaf(i, event);
            s.path_epoch[path as usize] = epoch;
            let index = &self.by_path[path as usize];
            let mut hit = |cond: u32| {
                let c = cond as usize;
                if s.hit_epoch[c] != epoch {
                    s.hit_epoch[c] = epoch;
                    s.hits[c].clear();
                    s.touched.push(cond);
                }
                if s.hits[c].last() != Some(&(i as u32)) {
                    s.hits[c].push(i as u32);
                }
            };
            if let Leaf::Str(text) = &leaf {
                if let Some(conds) = index.exact.get(text.as_ref()) {
                    conds.iter().for_each(|c| hit(*c));
                }
                if let Some(affix) = &index.affix {
                    affix_found.clear();
                    affix.find(text, &mut affix_found);
                    affix_found.iter().for_each(|c| hit(*c));
                }
            }
            for (matcher, cond) in &index.generic {
                if matcher.matches(&leaf) {
                    hit(*cond);
                }
            }
        }
        s.affix_found = affix_found;
        for &cond in &s.touched {
            for &conj in &self.key_conjs[cond as usize] {
                if s.conj_epoch[conj as usize] != epoch {
                    s.conj_epoch[conj as usize] = epoch;
                    s.candidates.push(conj);
                }
            }
        }
        for &conj in &self.absence_only {
            if s.conj_epoch[conj as usize] != epoch {
                s.conj_epoch[conj as usize] = epoch;
                s.candidates.push(conj);
            }
        }
        for k in 0..s.candidates.len() {
            let conj = &self.conjs[s.candidates[k] as usize];
            if s.rule_epoch[conj.rule as usize] == epoch {
                continue;
            }
            if self.conjunction_holds(conj, fields, s) {
                s.rule_epoch[conj.rule as usize] = epoch;
                out.push(conj.rule as usize);
            }
        }
        out.sort_unstable();
    }

    fn conjunction_holds(&self, conj: &Conj, fields: &Fields, s: &mut Work) -> bool {
        let epoch = s.epoch;
        let mut any_trail = false;
        for &c in &conj.conds {
            let cond = &self.conds[c as usize];
            if s.hit_epoch[c as usize] == epoch {
                any_trail |= s.hits[c as usize].iter().any(|f| fields.fields[*f as usize].trail.1 > 0);
            } else if !(cond.absence_ok && s.path_epoch[cond.path as usize] != epoch) {
                return false;
            }
        }
        if !any_trail {
            return true;
        }
        // Array consistency: one value per satisfied condition, no two in
        // different elements of the same array.
        let lists: Vec<&[u32]> = conj
            .conds
            .iter()
            .filter(|c| s.hit_epoch[**c as usize] == epoch)
            .map(|c| s.hits[*c as usize].as_slice())
            .collect();
        s.chosen.clear();
        choose(&lists, fields, &mut s.chosen)
    }
}

fn choose(lists: &[&[u32]], fields: &Fields, chosen: &mut Vec<u32>) -> bool {
    let Some((first, rest)) = lists.split_first() else { return true };
    for &f in *first {
        let trail = fields.trail(f as usize);
        if chosen.iter().all(|c| reference::consistent(fields.trail(*c as usize), trail)) {
            chosen.push(f);
            if choose(rest, fields, chosen) {
                return true;
            }
            chosen.pop();
        }
    }
    false
}

/// Whether one event matches one pattern, like `aws events
/// test-event-pattern`.
///
/// # Errors
/// [`TestPatternError::Pattern`] for an invalid pattern,
/// [`TestPatternError::Event`] for an event that is not a JSON object.
pub fn test_event_pattern(pattern: &str, event: &str) -> Result<bool, TestPatternError> {
    let pattern = compile_str(pattern).map_err(TestPatternError::Pattern)?;
    let router = Router::new(vec![Rule { name: String::new(), pattern }]);
    router.route(event).map(|m| !m.is_empty()).map_err(TestPatternError::Event)
}

/// The top-level fields EventBridge's `TestEventPattern` API requires of
/// an event (docs/routing.md "test-event-pattern"); routing itself needs
/// none of them.
pub const TEST_EVENT_ENVELOPE: [&str; 6] = ["id", "account", "source", "time", "region", "detail-type"];

/// The first field of [`TEST_EVENT_ENVELOPE`] that `event` (a JSON object)
/// lacks or does not hold as a string; `None` when all are there or the
/// event is not an object (the router reports that).
#[must_use]
pub fn missing_envelope_field(event: &serde_json::Value) -> Option<&'static str> {
    let object = event.as_object()?;
    TEST_EVENT_ENVELOPE.into_iter().find(|name| !object.get(*name).is_some_and(serde_json::Value::is_string))
}

/// Why `test_event_pattern` failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TestPatternError {
    #[error("{0}")]
    Pattern(PatternError),
    #[error("{0}")]
    Event(ScanError),
}
