//! A plain recursive reference interpreter of compiled patterns: flattens the
//! whole event from its JSON document and tries every conjunction by brute
//! force. Slow and simple on purpose — the compiled [`super::Router`] must
//! agree with it (property-tested).

use super::json::Json;
use super::pattern::{Condition, Pattern};
use super::value::{exact_number, Leaf};

type Trail = Vec<(u32, u32)>;

/// Whether `event` matches `pattern`.
#[must_use]
pub fn matches(pattern: &Pattern, event: &Json) -> bool {
    let mut fields = Vec::new();
    let mut next_array = 0;
    collect(event, String::new(), &mut Vec::new(), &mut next_array, &mut fields);
    pattern.conjunctions.iter().any(|conj| conjunction_matches(conj, &fields))
}

fn collect<'e>(
    value: &'e Json,
    path: String,
    trail: &mut Trail,
    next_array: &mut u32,
    out: &mut Vec<(String, Leaf<'e>, Trail)>,
) {
    match value {
        Json::Object(members) => {
            for (key, member) in members {
                let child = if path.is_empty() { key.clone() } else { format!("{path}.{key}") };
                collect(member, child, trail, next_array, out);
            }
        }
        Json::Array(items) => {
            let id = *next_array;
            *next_array += 1;
            for (i, item) in items.iter().enumerate() {
                trail.push((id, i as u32));
                collect(item, path.clone(), trail, next_array, out);
                trail.pop();
            }
        }
        Json::String(s) => out.push((path, Leaf::Str(s.as_str().into()), trail.clone())),
        Json::Number(n) => out.push((path, Leaf::Num { text: n, value: exact_number(n) }, trail.clone())),
        Json::Bool(b) => out.push((path, Leaf::Bool(*b), trail.clone())),
        Json::Null => out.push((path, Leaf::Null, trail.clone())),
    }
}

fn conjunction_matches(conj: &[Condition], fields: &[(String, Leaf<'_>, Trail)]) -> bool {
    // For each condition: the trails of the values satisfying it, or `None`
    // when it is satisfied by the field's absence.
    let mut options: Vec<Vec<&Trail>> = Vec::new();
    for cond in conj {
        let present: Vec<&(String, Leaf<'_>, Trail)> = fields.iter().filter(|f| f.0 == cond.path).collect();
        let hits: Vec<&Trail> =
            present.iter().filter(|f| cond.matchers.iter().any(|m| m.matches(&f.1))).map(|f| &f.2).collect();
        if !hits.is_empty() {
            options.push(hits);
        } else if !(present.is_empty() && cond.satisfied_by_absence()) {
            return false;
        }
    }
    choose(&options, &mut Vec::new())
}

/// Whether one trail per condition can be picked, pairwise consistent.
fn choose<'t>(options: &[Vec<&'t Trail>], chosen: &mut Vec<&'t Trail>) -> bool {
    let Some((first, rest)) = options.split_first() else { return true };
    for trail in first {
        if chosen.iter().all(|c| consistent(c, trail)) {
            chosen.push(trail);
            if choose(rest, chosen) {
                return true;
            }
            chosen.pop();
        }
    }
    false
}

/// Two values are consistent unless they sit in different elements of the
/// same array (event-patterns §3).
pub(crate) fn consistent(a: &[(u32, u32)], b: &[(u32, u32)]) -> bool {
    a.iter().all(|(array, index)| b.iter().all(|(other, other_index)| array != other || index == other_index))
}
