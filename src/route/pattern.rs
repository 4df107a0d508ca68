//! EventBridge pattern compiler: parses and validates a pattern exactly as
//! EventBridge does (Event Ruler's strict JSON rule compiler plus the
//! service's limits; event-patterns §2–§6) and expands `$or` into a
//! disjunction of conjunctions of leaf conditions.

use super::json::Json;
use super::value::{exact_number, parse_ip, Cidr, IgnoreCase, Ip, Leaf, Wildcard, MAX_WILDCARD_COMPLEXITY};

/// An invalid pattern: EventBridge's reason text and where it was found.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("Event pattern is not valid. Reason: {reason}{}", if .path.is_empty() { String::new() } else { format!(" (at {})", .path) })]
pub struct PatternError {
    /// The reason text, as EventBridge words it.
    pub reason: String,
    /// Dotted path of the offending member in the pattern.
    pub path: String,
}

/// The longest pattern EventBridge accepts (adjustable service quota; the
/// default is 2048 characters, event-patterns §6).
pub const MAX_PATTERN_CHARS: usize = 4096;
/// The most rule combinations a `$or` expansion may produce (event-patterns §4.11).
pub const MAX_OR_COMBINATIONS: usize = 1000;

/// A compiled pattern: it matches when any conjunction matches.
#[derive(Clone, Debug, PartialEq)]
pub struct Pattern {
    pub conjunctions: Vec<Vec<Condition>>,
}

/// A leaf condition: some value at `path` satisfies some matcher.
#[derive(Clone, Debug, PartialEq)]
pub struct Condition {
    /// Dot-joined key path (arrays are transparent, event-patterns §1).
    pub path: String,
    pub matchers: Vec<Matcher>,
}

impl Condition {
    /// Whether the absence of the field satisfies the condition.
    #[must_use]
    pub fn satisfied_by_absence(&self) -> bool {
        self.matchers.iter().any(|m| matches!(m, Matcher::Exists(false)))
    }
}

/// One match value of a leaf condition (event-patterns §4).
#[derive(Clone, Debug, PartialEq)]
pub enum Matcher {
    String(String),
    /// A string that is an IP literal matches any spelling of the address.
    Ip(Ip),
    Number {
        text: String,
        value: Option<f64>,
    },
    Bool(bool),
    Null,
    Prefix(String),
    PrefixIgnoreCase(IgnoreCase),
    Suffix(String),
    SuffixIgnoreCase(IgnoreCase),
    EqualsIgnoreCase(IgnoreCase),
    Wildcard(Wildcard),
    AnythingBut(AnythingBut),
    Numeric(NumericRange),
    Exists(bool),
    Cidr(Cidr),
}

/// The excluded set of an `anything-but` (event-patterns §4.5).
#[derive(Clone, Debug, PartialEq)]
pub enum AnythingBut {
    Strings(Vec<String>),
    Numbers(Vec<f64>),
    Prefixes(Vec<String>),
    Suffixes(Vec<String>),
    IgnoreCase(Vec<IgnoreCase>),
    Wildcards(Vec<Wildcard>),
}

/// A numeric range; each end is `(bound, inclusive)`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct NumericRange {
    pub low: Option<(f64, bool)>,
    pub high: Option<(f64, bool)>,
}

impl NumericRange {
    #[must_use]
    pub fn contains(&self, x: f64) -> bool {
        let above = match self.low {
            Some((lo, true)) => x >= lo,
            Some((lo, false)) => x > lo,
            None => true,
        };
        let below = match self.high {
            Some((hi, true)) => x <= hi,
            Some((hi, false)) => x < hi,
            None => true,
        };
        above && below
    }
}

impl Matcher {
    /// Whether one event value satisfies this matcher. `Exists` is decided
    /// per path by the caller (`Exists(true)` is satisfied by any value).
    #[must_use]
    pub fn matches(&self, leaf: &Leaf<'_>) -> bool {
        match (self, leaf) {
            (Self::String(s), Leaf::Str(v)) => s == v,
            (Self::Ip(ip), Leaf::Str(v)) => parse_ip(v) == Some(*ip),
            (Self::Number { text, value }, Leaf::Num { text: t, value: v }) => {
                text == t || matches!((value, v), (Some(a), Some(b)) if a == b)
            }
            (Self::Bool(b), Leaf::Bool(v)) => b == v,
            (Self::Null, Leaf::Null) => true,
            (Self::Prefix(p), Leaf::Str(v)) => v.starts_with(p.as_str()),
            (Self::PrefixIgnoreCase(p), Leaf::Str(v)) => p.is_prefix_of(v),
            (Self::Suffix(p), Leaf::Str(v)) => v.ends_with(p.as_str()),
            (Self::SuffixIgnoreCase(p), Leaf::Str(v)) => p.is_suffix_of(v),
            (Self::EqualsIgnoreCase(p), Leaf::Str(v)) => p.equals(v),
            (Self::Wildcard(w), Leaf::Str(v)) => w.matches(v),
            (Self::AnythingBut(ab), leaf) => !ab.excludes(leaf),
            (Self::Numeric(r), Leaf::Num { value: Some(x), .. }) => r.contains(*x),
            (Self::Exists(true), _) => true,
            (Self::Cidr(c), Leaf::Str(v)) => c.contains(v),
            _ => false,
        }
    }
}

impl AnythingBut {
    /// Whether the value is excluded. Only values of the excluded kind can be
    /// excluded: `null`, booleans and the other type satisfy (event-patterns §4.5).
    #[must_use]
    pub fn excludes(&self, leaf: &Leaf<'_>) -> bool {
        match (self, leaf) {
            (Self::Strings(set), Leaf::Str(v)) => set.iter().any(|s| s == v),
            (Self::Numbers(set), Leaf::Num { value: Some(x), .. }) => set.contains(x),
            (Self::Prefixes(set), Leaf::Str(v)) => set.iter().any(|p| v.starts_with(p.as_str())),
            (Self::Suffixes(set), Leaf::Str(v)) => set.iter().any(|p| v.ends_with(p.as_str())),
            (Self::IgnoreCase(set), Leaf::Str(v)) => set.iter().any(|p| p.equals(v)),
            (Self::Wildcards(set), Leaf::Str(v)) => set.iter().any(|w| w.matches(v)),
            _ => false,
        }
    }
}

/// Field names that may not appear inside a `$or` alternative (Ruler's
/// `RESERVED_FIELD_NAMES_IN_OR_RELATIONSHIP`).
const RESERVED_IN_OR: [&str; 24] = [
    "exactly",
    "equals-ignore-case",
    "prefix",
    "suffix",
    "anything-but",
    "exists",
    "wildcard",
    "numeric",
    "cidr",
    "=",
    "<",
    "<=",
    ">",
    ">=",
    "regex",
    "not-wildcard",
    "not-equals-ignore-case",
    "date-after",
    "date-on-or-after",
    "date-before",
    "date-on-or-before",
    "in-date-range",
    "ip-address-in-range",
    "ip-address-not-in-range",
];

fn err(reason: impl Into<String>, path: &str) -> PatternError {
    PatternError { reason: reason.into(), path: path.to_owned() }
}

/// Compiles pattern text.
///
/// # Errors
/// [`PatternError`] with EventBridge's reason text.
pub fn compile_str(text: &str) -> Result<Pattern, PatternError> {
    let chars = text.chars().count();
    if chars > MAX_PATTERN_CHARS {
        return Err(err(format!("Event pattern is {chars} characters long; EventBridge allows at most {MAX_PATTERN_CHARS} (2048 by default)"), ""));
    }
    // Jackson's wording cannot be reproduced exactly; ours names the line
    // and column.
    let value = Json::parse(text).map_err(|e| err(format!("invalid JSON: {e}"), ""))?;
    compile(&value)
}

/// Compiles a pattern already decoded as JSON.
///
/// # Errors
/// [`PatternError`] with EventBridge's reason text.
pub fn compile(value: &Json) -> Result<Pattern, PatternError> {
    let Json::Object(object) = value else {
        return Err(err("Filter is not an object", ""));
    };
    let conjunctions = compile_object(object, "", false)?;
    Ok(Pattern { conjunctions })
}

/// An object at `prefix`: AND of its members, `$or` members OR-ed.
fn compile_object(
    object: &[(String, Json)],
    prefix: &str,
    inside_or: bool,
) -> Result<Vec<Vec<Condition>>, PatternError> {
    if object.is_empty() {
        return Err(err("Empty objects are not allowed", prefix));
    }
    let mut result: Vec<Vec<Condition>> = vec![Vec::new()];
    for (key, member) in object {
        let path = if prefix.is_empty() { key.clone() } else { format!("{prefix}.{key}") };
        let alternatives: Vec<Vec<Condition>> = if key == "$or" {
            compile_or(member, prefix)?
        } else {
            if inside_or && RESERVED_IN_OR.contains(&key.as_str()) {
                return Err(err(format!("{key} is Ruler reserved fieldName which cannot be used inside $or."), &path));
            }
            match member {
                Json::Object(inner) => compile_object(inner, &path, inside_or)?,
                Json::Array(values) => {
                    vec![vec![Condition { path: path.clone(), matchers: compile_values(values, &path)? }]]
                }
                _ => return Err(err(format!("\"{key}\" must be an object or an array"), &path)),
            }
        };
        let combined = result.len().saturating_mul(alternatives.len());
        if combined > MAX_OR_COMBINATIONS {
            return Err(err(
                format!("The $or expansion of this pattern yields more than {MAX_OR_COMBINATIONS} rule combinations"),
                &path,
            ));
        }
        let mut next = Vec::with_capacity(combined);
        for base in &result {
            for alt in &alternatives {
                let mut conj = base.clone();
                conj.extend(alt.iter().cloned());
                next.push(conj);
            }
        }
        result = next;
    }
    Ok(result)
}

fn compile_or(member: &Json, prefix: &str) -> Result<Vec<Vec<Condition>>, PatternError> {
    let path = if prefix.is_empty() { "$or".to_owned() } else { format!("{prefix}.$or") };
    let Json::Array(alternatives) = member else {
        return Err(err("It must be an Array followed with $or.", &path));
    };
    if alternatives.len() < 2 {
        return Err(err("There must have at least 2 Objects in $or relationship.", &path));
    }
    let mut out = Vec::new();
    for alt in alternatives {
        let Json::Object(object) = alt else {
            return Err(err("Only JSON object is allowed in array of $or relationship.", &path));
        };
        out.extend(compile_object(object, prefix, true)?);
        if out.len() > MAX_OR_COMBINATIONS {
            return Err(err(
                format!("The $or expansion of this pattern yields more than {MAX_OR_COMBINATIONS} rule combinations"),
                &path,
            ));
        }
    }
    Ok(out)
}

fn compile_values(values: &[Json], path: &str) -> Result<Vec<Matcher>, PatternError> {
    if values.is_empty() {
        return Err(err("Empty arrays are not allowed", path));
    }
    values.iter().map(|v| compile_value(v, path)).collect()
}

fn compile_value(value: &Json, path: &str) -> Result<Matcher, PatternError> {
    Ok(match value {
        Json::String(s) => match parse_ip(s) {
            Some(ip) => Matcher::Ip(ip),
            None => Matcher::String(s.clone()),
        },
        Json::Number(text) => Matcher::Number { value: exact_number(text), text: text.clone() },
        Json::Bool(b) => Matcher::Bool(*b),
        Json::Null => Matcher::Null,
        Json::Array(_) => return Err(err("Match value must be String, number, true, false, or null", path)),
        Json::Object(object) => {
            let mut members = object.iter();
            let Some((name, operand)) = members.next() else {
                return Err(err("Match expression name not found", path));
            };
            if members.next().is_some() {
                return Err(err("Only one key allowed in match expression", path));
            }
            compile_matcher(name, operand, path)?
        }
    })
}

fn as_str(value: &Json) -> Option<&str> {
    match value {
        Json::String(s) => Some(s),
        _ => None,
    }
}

fn string_operand<'v>(operand: &'v Json, message: &str, path: &str) -> Result<&'v str, PatternError> {
    as_str(operand).ok_or_else(|| err(message, path))
}

fn compile_matcher(name: &str, operand: &Json, path: &str) -> Result<Matcher, PatternError> {
    Ok(match name {
        "prefix" | "suffix" => {
            let message = format!("{name} match pattern must be a string");
            match operand {
                Json::String(s) if name == "prefix" => Matcher::Prefix(s.clone()),
                Json::String(s) => Matcher::Suffix(s.clone()),
                Json::Object(inner) => {
                    let mut members = inner.iter();
                    match (members.next(), members.next()) {
                        (Some((k, v)), None) if k == "equals-ignore-case" => {
                            let s = string_operand(v, "equals-ignore-case match pattern must be a string", path)?;
                            if name == "prefix" {
                                Matcher::PrefixIgnoreCase(IgnoreCase::new(s))
                            } else {
                                Matcher::SuffixIgnoreCase(IgnoreCase::new(s))
                            }
                        }
                        (Some((k, _)), _) => return Err(err(format!("Unsupported {name} pattern: {k}"), path)),
                        (None, _) => return Err(err(message, path)),
                    }
                }
                _ => return Err(err(message, path)),
            }
        }
        "equals-ignore-case" => Matcher::EqualsIgnoreCase(IgnoreCase::new(string_operand(
            operand,
            "equals-ignore-case match pattern must be a string",
            path,
        )?)),
        "exactly" => {
            Matcher::String(string_operand(operand, "exactly match pattern must be a string", path)?.to_owned())
        }
        "wildcard" => Matcher::Wildcard(wildcard(
            string_operand(operand, "wildcard match pattern must be a string", path)?,
            path,
        )?),
        "exists" => match operand {
            Json::Bool(b) => Matcher::Exists(*b),
            _ => return Err(err("exists match pattern must be either true or false.", path)),
        },
        "cidr" => {
            let s = string_operand(operand, "prefix match pattern must be a string", path)?;
            Matcher::Cidr(Cidr::parse(s).map_err(|reason| err(reason, path))?)
        }
        "numeric" => Matcher::Numeric(numeric(operand, path)?),
        "anything-but" => Matcher::AnythingBut(anything_but(operand, path)?),
        other => return Err(err(format!("Unrecognized match type {other}"), path)),
    })
}

fn wildcard(text: &str, path: &str) -> Result<Wildcard, PatternError> {
    let w = Wildcard::parse(text).map_err(|reason| err(reason, path))?;
    if w.complexity_capped(MAX_WILDCARD_COMPLEXITY) > MAX_WILDCARD_COMPLEXITY {
        return Err(err(
            "Rule is too complex - try using fewer wildcard characters or fewer repeating character sequences after a wildcard character",
            path,
        ));
    }
    Ok(w)
}

fn rule_number(value: &Json, op: &str, path: &str) -> Result<f64, PatternError> {
    let name = if op == "=" { "equals" } else { op };
    let Json::Number(text) = value else {
        return Err(err(format!("Value of {name} must be numeric"), path));
    };
    exact_number(text).ok_or_else(|| err(format!("Cannot compare number : {text}"), path))
}

/// `numeric` operand (event-patterns §4.6).
fn numeric(operand: &Json, path: &str) -> Result<NumericRange, PatternError> {
    let Json::Array(items) = operand else {
        return Err(err("Value of numeric must be an array.", path));
    };
    let op_at = |i: usize| -> Result<&str, PatternError> {
        match items.get(i) {
            Some(Json::String(op)) if matches!(op.as_str(), "=" | "<" | "<=" | ">" | ">=") => Ok(op.as_str()),
            Some(Json::String(op)) => Err(err(format!("Unrecognized numeric range operator: {op}"), path)),
            Some(other) => Err(err(format!("Invalid member in numeric match: {other}"), path)),
            None => Err(err("Invalid member in numeric match: ]", path)),
        }
    };
    let first = op_at(0)?;
    let value_at = |i: usize, op: &str| rule_number(items.get(i).unwrap_or(&Json::Null), op, path);
    let x = value_at(1, first)?;
    let mut range = match first {
        "=" => NumericRange { low: Some((x, true)), high: Some((x, true)) },
        "<" => NumericRange { low: None, high: Some((x, false)) },
        "<=" => NumericRange { low: None, high: Some((x, true)) },
        ">" => NumericRange { low: Some((x, false)), high: None },
        _ => NumericRange { low: Some((x, true)), high: None },
    };
    if items.len() == 2 {
        return Ok(range);
    }
    if matches!(first, "=" | "<" | "<=") {
        return Err(err("Too many elements in numeric expression", path));
    }
    let second = op_at(2)?;
    if !matches!(second, "<" | "<=") {
        return Err(err(format!("Bad numeric range operator: {second}"), path));
    }
    let y = value_at(3, second)?;
    if items.len() > 4 {
        return Err(err("Too many terms in numeric range expression", path));
    }
    if x >= y {
        return Err(err("Bottom must be less than top", path));
    }
    range.high = Some((y, second == "<="));
    Ok(range)
}

/// `anything-but` operand (event-patterns §4.5).
fn anything_but(operand: &Json, path: &str) -> Result<AnythingBut, PatternError> {
    const SHAPE: &str = "Value of anything-but must be an array or single string/number value.";
    match operand {
        Json::String(s) => Ok(AnythingBut::Strings(vec![s.clone()])),
        Json::Number(_) => Ok(AnythingBut::Numbers(vec![rule_number(operand, "anything-but", path)?])),
        Json::Array(items) => {
            const MIXED: &str =
                "Inside anything but list, either all values are number or string, mixed type is not supported";
            if items.iter().any(|v| !matches!(v, Json::String(_) | Json::Number(_))) {
                return Err(err("Inside anything but list, start|null|boolean is not supported.", path));
            }
            if items.iter().all(|v| matches!(v, Json::String(_))) && !items.is_empty() {
                Ok(AnythingBut::Strings(items.iter().filter_map(|v| as_str(v).map(str::to_owned)).collect()))
            } else if items.iter().all(|v| matches!(v, Json::Number(_))) && !items.is_empty() {
                items
                    .iter()
                    .map(|v| rule_number(v, "anything-but", path))
                    .collect::<Result<_, _>>()
                    .map(AnythingBut::Numbers)
            } else {
                Err(err(MIXED, path))
            }
        }
        Json::Object(inner) => {
            let mut members = inner.iter();
            let (Some((key, value)), None) = (members.next(), members.next()) else {
                return Err(err(
                    if inner.is_empty() { SHAPE } else { "Too many elements in numeric expression" },
                    path,
                ));
            };
            let strings = |message: &str| -> Result<Vec<String>, PatternError> {
                match value {
                    Json::String(s) => Ok(vec![s.clone()]),
                    Json::Array(items) => {
                        items.iter().map(|v| as_str(v).map(str::to_owned).ok_or_else(|| err(message, path))).collect()
                    }
                    _ => Err(err(message, path)),
                }
            };
            match key.as_str() {
                "prefix" | "suffix" => {
                    if matches!(value, Json::Object(_)) {
                        return Err(err(SHAPE, path));
                    }
                    let list = strings("prefix/suffix match pattern must be a string")?;
                    if list.iter().any(String::is_empty) {
                        return Err(err("Null prefix/suffix not allowed", path));
                    }
                    Ok(if key == "prefix" { AnythingBut::Prefixes(list) } else { AnythingBut::Suffixes(list) })
                }
                "equals-ignore-case" => {
                    let list = strings(
                        "Inside anything-but/equals-ignore-case list, number|start|null|boolean is not supported.",
                    )?;
                    Ok(AnythingBut::IgnoreCase(list.iter().map(|s| IgnoreCase::new(s)).collect()))
                }
                "wildcard" => {
                    let list = strings("wildcard match pattern must be a string")?;
                    list.iter().map(|s| wildcard(s, path)).collect::<Result<_, _>>().map(AnythingBut::Wildcards)
                }
                other => Err(err(format!("Unsupported anything-but pattern: {other}"), path)),
            }
        }
        _ => Err(err(SHAPE, path)),
    }
}
