//! Event flattening for the router: one pass over the event's bytes that
//! materialises only the fields some rule references and skips (while still
//! validating) everything else. Each value carries its *array trail* — which
//! element of which array it sits in — for the array-consistency rule
//! (spec event-patterns §3).

use super::json::{scan_number, scan_string, MAX_DEPTH};
use super::value::{exact_number, Leaf};
use std::collections::HashMap;

/// The paths rules reference: full paths (with their ids) and every dotted
/// prefix of them, so a scan knows whether to descend into a member.
#[derive(Clone, Debug, Default)]
pub struct PathTable {
    ids: HashMap<String, u32>,
    names: Vec<String>,
    /// Dotted prefixes of referenced paths (not the full paths).
    prefixes: HashMap<String, ()>,
}

impl PathTable {
    /// The id of `path`, adding it if new.
    pub fn intern(&mut self, path: &str) -> u32 {
        if let Some(id) = self.ids.get(path) {
            return *id;
        }
        let id = self.names.len() as u32;
        self.ids.insert(path.to_owned(), id);
        self.names.push(path.to_owned());
        let mut end = 0;
        while let Some(dot) = path[end..].find('.') {
            end += dot;
            self.prefixes.insert(path[..end].to_owned(), ());
            end += 1;
        }
        id
    }

    #[must_use]
    pub fn len(&self) -> usize {
        self.names.len()
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    #[must_use]
    pub fn name(&self, id: u32) -> &str {
        &self.names[id as usize]
    }
}

/// One value of a referenced path.
#[derive(Clone, Debug)]
pub struct Field<'a> {
    pub path: u32,
    pub leaf: Leaf<'a>,
    /// Range into [`Fields::trails`].
    pub trail: (u32, u32),
}

/// The fields of one event, reusable across events.
#[derive(Debug, Default)]
pub struct Fields<'a> {
    pub fields: Vec<Field<'a>>,
    /// Concatenated trails: `(array id, element index)` from outermost in.
    pub trails: Vec<(u32, u32)>,
}

impl Fields<'_> {
    /// The trail of field `i`.
    #[must_use]
    pub fn trail(&self, i: usize) -> &[(u32, u32)] {
        let (start, len) = self.fields[i].trail;
        &self.trails[start as usize..(start + len) as usize]
    }
}

/// A malformed event, with its byte offset.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("malformed event JSON at byte {offset}: {message}")]
pub struct ScanError {
    pub offset: usize,
    pub message: &'static str,
}

/// Flattens `text` into `out` (cleared first).
///
/// # Errors
/// [`ScanError`] if the text is not a single JSON object.
pub fn flatten<'a>(text: &'a str, table: &PathTable, out: &mut Fields<'a>) -> Result<(), ScanError> {
    out.fields.clear();
    out.trails.clear();
    let mut s = Scanner { bytes: text.as_bytes(), text, pos: 0, table, out, next_array: 0, trail: Vec::new() };
    s.ws();
    if s.peek() != Some(b'{') {
        return Err(s.error("an event must be a JSON object"));
    }
    let mut path = String::new();
    s.object(0, &mut path, true)?;
    s.ws();
    if s.pos != s.bytes.len() {
        return Err(s.error("unexpected characters after the event"));
    }
    Ok(())
}

struct Scanner<'a, 'o, 't> {
    bytes: &'a [u8],
    text: &'a str,
    pos: usize,
    table: &'t PathTable,
    out: &'o mut Fields<'a>,
    next_array: u32,
    trail: Vec<(u32, u32)>,
}

impl<'a> Scanner<'a, '_, '_> {
    fn error(&self, message: &'static str) -> ScanError {
        ScanError { offset: self.pos, message }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.bytes.get(self.pos) {
            self.pos += 1;
        }
    }

    fn expect(&mut self, byte: u8, message: &'static str) -> Result<(), ScanError> {
        self.ws();
        if self.peek() == Some(byte) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.error(message))
        }
    }

    /// An object whose path is `path`; `descend` says whether any member can
    /// be referenced.
    fn object(&mut self, depth: usize, path: &mut String, descend: bool) -> Result<(), ScanError> {
        if depth > MAX_DEPTH {
            return Err(self.error("nesting deeper than 1100 levels"));
        }
        self.pos += 1;
        self.ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(());
        }
        loop {
            self.ws();
            if self.peek() != Some(b'"') {
                return Err(self.error("expected a member name"));
            }
            let (key, end) =
                scan_string(self.bytes, self.pos).map_err(|(at, m)| ScanError { offset: at, message: m })?;
            self.pos = end;
            self.expect(b':', "expected ':'")?;
            self.ws();
            if descend {
                let saved = path.len();
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(&key);
                let leaf = self.table.ids.get(path.as_str()).copied();
                let deeper = self.table.prefixes.contains_key(path.as_str());
                if leaf.is_some() || deeper {
                    self.value(depth + 1, path, leaf, deeper)?;
                } else {
                    self.skip(depth + 1)?;
                }
                path.truncate(saved);
            } else {
                self.skip(depth + 1)?;
            }
            self.ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(());
                }
                _ => return Err(self.error("expected ',' or '}'")),
            }
        }
    }

    fn value(&mut self, depth: usize, path: &mut String, leaf: Option<u32>, deeper: bool) -> Result<(), ScanError> {
        match self.peek() {
            Some(b'{') => self.object(depth, path, deeper),
            Some(b'[') => {
                if depth > MAX_DEPTH {
                    return Err(self.error("nesting deeper than 1100 levels"));
                }
                self.pos += 1;
                let id = self.next_array;
                self.next_array += 1;
                self.ws();
                if self.peek() == Some(b']') {
                    self.pos += 1;
                    return Ok(());
                }
                let mut index = 0;
                loop {
                    self.ws();
                    self.trail.push((id, index));
                    self.value(depth + 1, path, leaf, deeper)?;
                    self.trail.pop();
                    index += 1;
                    self.ws();
                    match self.peek() {
                        Some(b',') => self.pos += 1,
                        Some(b']') => {
                            self.pos += 1;
                            return Ok(());
                        }
                        _ => return Err(self.error("expected ',' or ']'")),
                    }
                }
            }
            _ => {
                let value = self.scalar()?;
                if let Some(path_id) = leaf {
                    let start = self.out.trails.len() as u32;
                    self.out.trails.extend_from_slice(&self.trail);
                    self.out.fields.push(Field { path: path_id, leaf: value, trail: (start, self.trail.len() as u32) });
                }
                Ok(())
            }
        }
    }

    fn scalar(&mut self) -> Result<Leaf<'a>, ScanError> {
        let rest = &self.bytes[self.pos..];
        match self.peek() {
            Some(b'"') => {
                let (text, end) =
                    scan_string(self.bytes, self.pos).map_err(|(at, m)| ScanError { offset: at, message: m })?;
                self.pos = end;
                Ok(Leaf::Str(text))
            }
            Some(b't') if rest.starts_with(b"true") => {
                self.pos += 4;
                Ok(Leaf::Bool(true))
            }
            Some(b'f') if rest.starts_with(b"false") => {
                self.pos += 5;
                Ok(Leaf::Bool(false))
            }
            Some(b'n') if rest.starts_with(b"null") => {
                self.pos += 4;
                Ok(Leaf::Null)
            }
            Some(b'-' | b'0'..=b'9') => {
                let end = scan_number(self.bytes, self.pos).ok_or_else(|| self.error("invalid number"))?;
                let text = &self.text[self.pos..end];
                self.pos = end;
                Ok(Leaf::Num { text, value: fast_exact_number(text) })
            }
            _ => Err(self.error("expected a JSON value")),
        }
    }

    /// Skips one value, validating it.
    fn skip(&mut self, depth: usize) -> Result<(), ScanError> {
        if depth > MAX_DEPTH {
            return Err(self.error("nesting deeper than 1100 levels"));
        }
        match self.peek() {
            Some(open @ (b'{' | b'[')) => {
                self.pos += 1;
                let close = if open == b'{' { b'}' } else { b']' };
                self.ws();
                if self.peek() == Some(close) {
                    self.pos += 1;
                    return Ok(());
                }
                loop {
                    self.ws();
                    if open == b'{' {
                        if self.peek() != Some(b'"') {
                            return Err(self.error("expected a member name"));
                        }
                        self.pos = skip_string(self.bytes, self.pos).ok_or_else(|| self.error("invalid string"))?;
                        self.expect(b':', "expected ':'")?;
                        self.ws();
                    }
                    self.skip(depth + 1)?;
                    self.ws();
                    match self.peek() {
                        Some(b',') => self.pos += 1,
                        Some(c) if c == close => {
                            self.pos += 1;
                            return Ok(());
                        }
                        _ => return Err(self.error("expected ',' or a closing bracket")),
                    }
                }
            }
            Some(b'"') => {
                self.pos = skip_string(self.bytes, self.pos).ok_or_else(|| self.error("invalid string"))?;
                Ok(())
            }
            Some(b'-' | b'0'..=b'9') => {
                self.pos = scan_number(self.bytes, self.pos).ok_or_else(|| self.error("invalid number"))?;
                Ok(())
            }
            _ => self.scalar().map(|_| ()),
        }
    }
}

/// Skips a string without unescaping; `None` if it is unterminated.
fn skip_string(bytes: &[u8], start: usize) -> Option<usize> {
    let mut i = start + 1;
    loop {
        match bytes.get(i)? {
            b'"' => return Some(i + 1),
            b'\\' => match bytes.get(i + 1)? {
                b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => i += 2,
                b'u' if bytes.get(i + 2..i + 6)?.iter().all(u8::is_ascii_hexdigit) => i += 6,
                _ => return None,
            },
            0..=0x1f => return None,
            _ => i += 1,
        }
    }
}

/// [`exact_number`] with a fast path: a finite decimal of at most 15
/// significant digits in the normal range always round-trips exactly
/// (DBL_DIG = 15), so only longer literals need the exact comparison.
fn fast_exact_number(text: &str) -> Option<f64> {
    let digits = text.bytes().take_while(|b| *b != b'e' && *b != b'E').filter(u8::is_ascii_digit).count();
    if digits <= 15 {
        let value: f64 = text.parse().ok()?;
        if value == 0.0 || (value.is_finite() && value.abs() >= 1e-300 && value.abs() <= 1e300) {
            return Some(value);
        }
    }
    exact_number(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flattens_referenced_paths_with_trails_and_skips_the_rest() {
        let mut table = PathTable::default();
        let a = table.intern("a.b");
        let d = table.intern("d.e");
        let text = r#"{"a": [{"b": 1}, {"b": "x", "c": [1, 2]}], "skip": {"deep": [1, {"z": null}]}, "d.e": true}"#;
        let mut fields = Fields::default();
        flatten(text, &table, &mut fields).unwrap();
        let got: Vec<(u32, Leaf<'_>)> = fields.fields.iter().map(|f| (f.path, f.leaf.clone())).collect();
        assert_eq!(
            got,
            vec![(a, Leaf::Num { text: "1", value: Some(1.0) }), (a, Leaf::Str("x".into())), (d, Leaf::Bool(true))]
        );
        assert_eq!(fields.trail(0), &[(0, 0)]);
        assert_eq!(fields.trail(1), &[(0, 1)]);
        assert!(fields.trail(2).is_empty());
    }

    #[test]
    fn malformed_events_are_rejected_even_in_skipped_parts() {
        let table = PathTable::default();
        let mut fields = Fields::default();
        for bad in
            [r#"{"a": tru}"#, r#"{"a": [1, }"#, r#"["not an object"]"#, r#"{"a": 1} x"#, r#"{"a": "\x"}"#, r#"{"a" 1}"#]
        {
            assert!(flatten(bad, &table, &mut fields).is_err(), "{bad}");
        }
    }

    #[test]
    fn fast_number_path_agrees_with_the_exact_model() {
        for t in
            ["0", "-0", "1.5", "122.4194155", "1e21", "123456789012345", "1234567890123456", "5e-324", "0.1", "1E+2"]
        {
            assert_eq!(fast_exact_number(t), exact_number(t), "{t}");
        }
    }
}
