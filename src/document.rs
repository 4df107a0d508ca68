//! Reading a YAML or JSON document the user wrote (configurations, capacity
//! snapshots, scenarios) into a JSON value, strictly: a key given twice in
//! one mapping is an error naming the key and where it is (YAML and JSON
//! parsers keep the last silently, so the first would be lost without a
//! word), and nesting deeper than [`MAX_DEPTH`] is refused before parsing.
//!
//! Owns: those two rules. May not touch: files (callers pass the text).

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};
use std::fmt;

/// The deepest nesting of mappings and lists accepted. AWS's documents are
/// a few levels deep; a hostile one thousands of levels deep would make the
/// parser work (and recurse) for nothing.
pub const MAX_DEPTH: usize = 128;

/// Parses `text` as JSON when it starts with `{`, as YAML otherwise.
///
/// # Errors
/// A message saying what is wrong and where: syntax, a duplicate key (with
/// its path), or nesting deeper than [`MAX_DEPTH`].
pub fn parse(text: &str) -> Result<Value, String> {
    let json = text.trim_start().starts_with('{');
    let kind = if json { "JSON" } else { "YAML" };
    if let Some(depth) = flow_depth_over(text, MAX_DEPTH) {
        return Err(format!("not valid {kind}: nested deeper than {MAX_DEPTH} levels (at least {depth})"));
    }
    let located = |path: String, e: String| {
        if path.is_empty() || path == "." {
            format!("not valid {kind}: {e}")
        } else {
            format!("not valid {kind}: {path}: {e}")
        }
    };
    if json {
        let mut de = serde_json::Deserializer::from_str(text);
        let value = serde_path_to_error::deserialize::<_, Strict>(&mut de)
            .map_err(|e| located(e.path().to_string(), e.inner().to_string()))?;
        de.end().map_err(|e| format!("not valid JSON: {e}"))?;
        Ok(value.0)
    } else {
        // serde_yaml_ng's errors already name the path, line and column.
        Strict::deserialize(serde_yaml_ng::Deserializer::from_str(text))
            .map(|v| v.0)
            .map_err(|e| format!("not valid YAML: {e}"))
    }
}

/// The depth of `[`/`{` nesting outside quoted strings, when it passes
/// `limit` (linear, before the parser sees the text). Block-style YAML nests
/// by indentation, which the parser bounds itself.
fn flow_depth_over(text: &str, limit: usize) -> Option<usize> {
    let (mut depth, mut quote, mut escaped) = (0usize, None::<char>, false);
    for c in text.chars() {
        match quote {
            Some(q) => {
                if escaped {
                    escaped = false;
                } else if c == '\\' && q == '"' {
                    escaped = true;
                } else if c == q {
                    quote = None;
                }
            }
            None => match c {
                '"' | '\'' => quote = Some(c),
                '[' | '{' => {
                    depth += 1;
                    if depth > limit {
                        return Some(depth);
                    }
                }
                ']' | '}' => depth = depth.saturating_sub(1),
                _ => {}
            },
        }
    }
    None
}

/// A JSON value that refuses a key given twice in one mapping.
struct Strict(Value);

impl<'de> Deserialize<'de> for Strict {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(StrictVisitor).map(Strict)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a YAML or JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Number::from_f64(v).map(Value::Number).ok_or_else(|| E::custom(format!("{v} is not a finite number")))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        Strict::deserialize(d).map(|s| s.0)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(Strict(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if out.contains_key(&key) {
                return Err(de::Error::custom(format!(
                    "duplicate key `{key}` (given twice in one mapping: which one was meant?)"
                )));
            }
            let Strict(value) = map.next_value()?;
            out.insert(key, value);
        }
        Ok(Value::Object(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_with_the_reason_each_is_refused_or_read() {
        let cases: [(&str, &str, Result<&str, &str>); 7] = [
            ("yaml mapping", "a: 1\nb: [x, y]\n", Ok(r#"{"a":1,"b":["x","y"]}"#)),
            ("json mapping", r#"{"a": {"b": 2.5}}"#, Ok(r#"{"a":{"b":2.5}}"#)),
            (
                "duplicate key in yaml, named with its path",
                "a:\n  b: 1\n  b: 2\n",
                Err("not valid YAML: a: duplicate key `b`"),
            ),
            (
                "duplicate key in a yaml flow list item",
                "l:\n  - {x: 1, x: 2}\n",
                Err("not valid YAML: l[0]: duplicate key `x`"),
            ),
            ("duplicate key in json", r#"{"a": 1, "a": 2}"#, Err("not valid JSON: duplicate key `a`")),
            ("trailing garbage after json", r#"{"a": 1} x"#, Err("not valid JSON: trailing characters")),
            ("brackets inside strings do not count as nesting", "a: '[[[[['\n", Ok(r#"{"a":"[[[[["}"#)),
        ];
        for (name, text, expected) in cases {
            match (parse(text), expected) {
                (Ok(v), Ok(json)) => assert_eq!(v.to_string(), json, "{name}"),
                (Err(e), Err(prefix)) => assert!(e.starts_with(prefix), "{name}: {e}"),
                (got, _) => panic!("{name}: {got:?}"),
            }
        }
    }

    #[test]
    fn deep_nesting_is_refused_before_parsing_in_linear_time() {
        let deep = format!("a: {}{}", "[".repeat(100_000), "]".repeat(100_000));
        let err = parse(&deep).unwrap_err();
        assert!(err.contains("nested deeper than 128 levels"), "{err}");
        let fine = format!("a: {}1{}", "[".repeat(100), "]".repeat(100));
        assert!(parse(&fine).is_ok());
    }
}
