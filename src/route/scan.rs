//! Event flattening for the router: one pass over the event's bytes that
//! materialises only the fields some rule references and skips (while still
//! validating) everything else. Each value carries its *array trail* — which
//! element of which array it sits in — for the array-consistency rule
//! (event-patterns §3).
//!
//! Referenced paths form a trie keyed by path segment ([`PathTable`],
//! module `paths`), so a member is looked up by its own key, never by its
//! full path. Each object remembers the member layout of the last object
//! walked at its trie node (module `shape`): an object that repeats it is
//! followed piece by piece, without scanning or looking up its keys.
//! Unreferenced values go to the validating skipper (module `skip`).
//! Fields are stored as offsets into the event text (or into a buffer of
//! unescaped strings), so all storage is reused from one event to the next.

use super::json::{scan_string, MAX_DEPTH};
pub use super::paths::PathTable;
use super::shape::{Layout, Piece, Shape};
use super::skip::{expect_after_ws, skip_ws, Text};
use super::value::{exact_number, Leaf};
use std::borrow::Cow;

/// How a field's value is stored.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Stored {
    /// A string without escapes: bytes `start..end` of the event text.
    Text {
        start: u32,
        end: u32,
    },
    /// An unescaped string: bytes `start..end` of [`Fields::unescaped`].
    Unescaped {
        start: u32,
        end: u32,
    },
    /// A number: its literal is `start..end` of the event text.
    Number {
        start: u32,
        end: u32,
        value: Option<f64>,
    },
    Bool(bool),
    Null,
}

/// One value of a referenced path.
#[derive(Clone, Copy, Debug)]
pub struct Field {
    pub path: u32,
    pub value: Stored,
    /// Range into [`Fields::trails`].
    pub trail: (u32, u32),
}

/// The fields of one event; reused from event to event.
#[derive(Debug, Default)]
pub struct Fields {
    pub fields: Vec<Field>,
    /// Concatenated trails: `(array id, element index)` from outermost in.
    pub trails: Vec<(u32, u32)>,
    pub unescaped: String,
    stack: Vec<(u32, u32)>,
    /// The layout of the last flat object skipped (a guess for the next).
    shape: Shape,
    /// Per trie node, the member layout of the last object walked there,
    /// valid for the path table `layouts_table` only.
    layouts: Vec<Layout>,
    layouts_table: u64,
}

impl Fields {
    /// The trail of field `i`.
    #[must_use]
    pub fn trail(&self, i: usize) -> &[(u32, u32)] {
        let (start, len) = self.fields[i].trail;
        &self.trails[start as usize..(start + len) as usize]
    }

    /// The value of field `i`, borrowing from the event text.
    #[must_use]
    pub fn leaf<'a>(&'a self, i: usize, text: &'a str) -> Leaf<'a> {
        match self.fields[i].value {
            Stored::Text { start, end } => Leaf::Str(Cow::Borrowed(&text[start as usize..end as usize])),
            Stored::Unescaped { start, end } => Leaf::Str(Cow::Borrowed(&self.unescaped[start as usize..end as usize])),
            Stored::Number { start, end, value } => Leaf::Num { text: &text[start as usize..end as usize], value },
            Stored::Bool(b) => Leaf::Bool(b),
            Stored::Null => Leaf::Null,
        }
    }
}

/// A malformed event, with its byte offset.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("malformed event JSON at byte {offset}: {message}")]
pub struct ScanError {
    pub offset: usize,
    pub message: &'static str,
}

/// Flattens `text` into `out` (cleared first), checking the values it
/// skips as `validation` says.
///
/// # Errors
/// [`ScanError`] if the text is not a single JSON object.
pub fn flatten(
    text: &str,
    table: &PathTable,
    validation: super::Validation,
    out: &mut Fields,
) -> Result<(), ScanError> {
    out.fields.clear();
    out.trails.clear();
    out.unescaped.clear();
    out.stack.clear();
    if out.layouts_table != table.id || out.layouts.len() != table.nodes.len() {
        out.layouts.clear();
        out.layouts.resize(table.nodes.len(), Layout::default());
        out.layouts_table = table.id;
    }
    let fast = Text::with(text.as_bytes(), validation);
    let mut s = Scanner { bytes: text.as_bytes(), fast, text, pos: 0, table, out, next_array: 0 };
    s.event()
}

struct Scanner<'a, 'o, 't> {
    bytes: &'a [u8],
    fast: Text<'a>,
    text: &'a str,
    pos: usize,
    table: &'t PathTable,
    out: &'o mut Fields,
    next_array: u32,
}

impl<'a> Scanner<'a, '_, '_> {
    /// The whole event: one object and nothing after it.
    fn event(&mut self) -> Result<(), ScanError> {
        self.ws();
        if self.peek() != Some(b'{') {
            return Err(self.error("an event must be a JSON object"));
        }
        if self.table.nodes[0].children.is_empty() {
            self.pos = self.fast.skip_value(self.pos, 0, &mut self.out.shape)?;
        } else {
            self.object(0, 0)?;
        }
        self.ws();
        if self.pos != self.bytes.len() {
            return Err(self.error("unexpected characters after the event"));
        }
        Ok(())
    }

    fn error(&self, message: &'static str) -> ScanError {
        ScanError { offset: self.pos, message }
    }

    #[inline]
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    #[inline]
    fn ws(&mut self) {
        self.pos = skip_ws(self.bytes, self.pos);
    }

    /// The end of the string at `self.pos` and whether it has escapes;
    /// rejects control characters and invalid escapes.
    #[inline]
    fn string_end(&self) -> Result<(usize, bool), ScanError> {
        self.fast.string_end(self.pos)
    }

    fn fail(&mut self, at: usize, message: &'static str) -> ScanError {
        self.pos = at;
        self.error(message)
    }

    /// An object whose trie node `node` has children (members to look up).
    /// Works on a local position: only referenced values go through `self`.
    fn object(&mut self, depth: usize, node: u32) -> Result<(), ScanError> {
        if depth > MAX_DEPTH {
            return Err(self.error("nesting deeper than 1100 levels"));
        }
        // The layout is taken out for the walk (no allocation) and put back.
        let mut layout = std::mem::take(&mut self.out.layouts[node as usize]);
        let result = self.members(depth, node, &mut layout);
        self.out.layouts[node as usize] = layout;
        result
    }

    /// The members of the object at `self.pos`: first along the layout the
    /// last object at this node had (module `shape`), then member by member
    /// from wherever the text stops following it. A walk from the start
    /// learns the layout for the next object.
    fn members(&mut self, depth: usize, node: u32, layout: &mut Layout) -> Result<(), ScanError> {
        let (bytes, table) = (self.bytes, self.table);
        let mut pos = self.pos;
        let mut followed = 0;
        if let Some(close) = layout.close {
            for (piece, child) in &layout.members {
                if !piece.is_at(bytes, pos) {
                    break;
                }
                pos = self.member_value(pos + piece.len(), depth, *child)?;
                followed += 1;
            }
            if followed == layout.members.len() && close.is_at(bytes, pos) {
                self.pos = pos + close.len();
                return Ok(());
            }
        }
        // Only a walk from the `{` learns; a layout that stopped matching
        // half-way is forgotten until the next object.
        let mut learn = followed == 0;
        layout.members.clear();
        layout.close = None;
        let children = &table.nodes[node as usize].children;
        let mut piece_start = pos;
        if followed == 0 {
            pos = skip_ws(bytes, pos + 1);
            if bytes.get(pos) == Some(&b'}') {
                layout.close = Piece::new(&bytes[piece_start..=pos]);
                self.pos = pos + 1;
                return Ok(());
            }
        }
        let mut after_value = followed > 0;
        loop {
            if !after_value {
                // Whitespace is looked for only where the expected byte is not.
                pos = expect_after_ws(bytes, pos, b'"').map_err(|at| self.fail(at, "expected a member name"))?;
                let (end, escaped) = self.fast.string_end(pos)?;
                let child = if escaped {
                    let (key, _) =
                        scan_string(bytes, pos).map_err(|(at, message)| ScanError { offset: at, message })?;
                    table.step(node, key.as_bytes())
                } else {
                    let key = &bytes[pos + 1..end];
                    if children.may_start(key) {
                        table.step(node, key)
                    } else {
                        None
                    }
                };
                pos = expect_after_ws(bytes, end + 1, b':').map_err(|at| self.fail(at, "expected ':'"))?;
                pos = skip_ws(bytes, pos + 1);
                if learn {
                    match Piece::new(&bytes[piece_start..pos]) {
                        Some(piece) if layout.members.len() < Layout::MAX_MEMBERS => {
                            layout.members.push((piece, child))
                        }
                        _ => learn = false,
                    }
                }
                pos = self.member_value(pos, depth, child)?;
                piece_start = pos;
            }
            after_value = false;
            loop {
                match bytes.get(pos) {
                    Some(b',') => {
                        pos += 1;
                        break;
                    }
                    Some(b'}') => {
                        if learn {
                            layout.close = Piece::new(&bytes[piece_start..=pos]);
                        }
                        self.pos = pos + 1;
                        return Ok(());
                    }
                    Some(b' ' | b'\t' | b'\n' | b'\r') => pos = skip_ws(bytes, pos),
                    _ => return Err(self.fail(pos, "expected ',' or '}'")),
                }
            }
        }
    }

    /// The member value at `pos`: looked at when its key leads to trie node
    /// `child`, skipped otherwise. Returns the index after it.
    #[inline(always)]
    fn member_value(&mut self, pos: usize, depth: usize, child: Option<u32>) -> Result<usize, ScanError> {
        match child {
            Some(c) => {
                self.pos = pos;
                self.value(depth + 1, c)?;
                Ok(self.pos)
            }
            None => self.fast.skip(pos, depth + 1, &mut self.out.shape),
        }
    }

    /// A value at trie node `node` (referenced or on the way to one).
    fn value(&mut self, depth: usize, node: u32) -> Result<(), ScanError> {
        match self.peek() {
            Some(b'{') if !self.table.nodes[node as usize].children.is_empty() => self.object(depth, node),
            Some(b'{') => self.skip(depth),
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
                    self.out.stack.push((id, index));
                    self.value(depth + 1, node)?;
                    self.out.stack.pop();
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
            _ => match self.table.nodes[node as usize].leaf {
                Some(path) => {
                    let value = self.scalar()?;
                    let start = self.out.trails.len() as u32;
                    let len = self.out.stack.len() as u32;
                    self.out.trails.extend_from_slice(&self.out.stack);
                    self.out.fields.push(Field { path, value, trail: (start, len) });
                    Ok(())
                }
                None => self.skip(depth),
            },
        }
    }

    fn scalar(&mut self) -> Result<Stored, ScanError> {
        let rest = &self.bytes[self.pos..];
        match self.peek() {
            Some(b'"') => {
                let (end, escaped) = self.string_end()?;
                let start = self.pos + 1;
                self.pos = end + 1;
                if escaped {
                    let (text, _) =
                        scan_string(self.bytes, start - 1).map_err(|(at, m)| ScanError { offset: at, message: m })?;
                    let from = self.out.unescaped.len() as u32;
                    self.out.unescaped.push_str(&text);
                    Ok(Stored::Unescaped { start: from, end: self.out.unescaped.len() as u32 })
                } else {
                    Ok(Stored::Text { start: start as u32, end: end as u32 })
                }
            }
            Some(b't') if rest.starts_with(b"true") => {
                self.pos += 4;
                Ok(Stored::Bool(true))
            }
            Some(b'f') if rest.starts_with(b"false") => {
                self.pos += 5;
                Ok(Stored::Bool(false))
            }
            Some(b'n') if rest.starts_with(b"null") => {
                self.pos += 4;
                Ok(Stored::Null)
            }
            Some(b'-' | b'0'..=b'9') => {
                let end = self.fast.number_end(self.pos).ok_or_else(|| self.error("invalid number"))?;
                let value = fast_exact_number(&self.text[self.pos..end]);
                let start = self.pos as u32;
                self.pos = end;
                Ok(Stored::Number { start, end: end as u32, value })
            }
            _ => Err(self.error("expected a JSON value")),
        }
    }

    /// Skips one value, validating it.
    #[inline(always)]
    fn skip(&mut self, depth: usize) -> Result<(), ScanError> {
        self.pos = self.fast.skip(self.pos, depth, &mut self.out.shape)?;
        Ok(())
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

    fn leaves(text: &str, table: &PathTable) -> Vec<(u32, String)> {
        let mut fields = Fields::default();
        flatten(text, table, super::super::Validation::Full, &mut fields).unwrap();
        (0..fields.fields.len()).map(|i| (fields.fields[i].path, format!("{:?}", fields.leaf(i, text)))).collect()
    }

    #[test]
    fn flattens_referenced_paths_with_trails_and_skips_the_rest() {
        let mut table = PathTable::default();
        let a = table.intern("a.b");
        let d = table.intern("d.e");
        let text =
            r#"{"a": [{"b": 1}, {"b": "x\u0041", "c": [1, 2]}], "skip": {"deep": [1, {"z": null}]}, "d.e": true}"#;
        let mut fields = Fields::default();
        flatten(text, &table, super::super::Validation::Full, &mut fields).unwrap();
        assert_eq!(fields.fields.len(), 3);
        assert_eq!((fields.fields[0].path, fields.leaf(0, text)), (a, Leaf::Num { text: "1", value: Some(1.0) }));
        assert_eq!((fields.fields[1].path, fields.leaf(1, text)), (a, Leaf::Str("xA".into())));
        assert_eq!((fields.fields[2].path, fields.leaf(2, text)), (d, Leaf::Bool(true)));
        assert_eq!(fields.trail(0), &[(0, 0)]);
        assert_eq!(fields.trail(1), &[(0, 1)]);
        assert!(fields.trail(2).is_empty());
    }

    #[test]
    fn empty_segments_and_dotted_keys_still_match_after_the_first_byte_filter() {
        let mut table = PathTable::default();
        let empty_then_a = table.intern(".a");
        let plain = table.intern("b");
        let found = leaves(r#"{".a": 1, "": {"a": 2}, "c": 3, "b": 4, "b.": 5}"#, &table);
        assert_eq!(found.iter().filter(|(p, _)| *p == empty_then_a).count(), 2);
        assert_eq!(found.iter().filter(|(p, _)| *p == plain).count(), 1);
    }

    #[test]
    fn dotted_keys_and_nested_objects_reach_the_same_path() {
        let mut table = PathTable::default();
        let id = table.intern("a.b.c");
        assert_eq!(
            leaves(r#"{"a": {"b.c": 1}, "a.b": {"c": 2}, "a.b.c": 3}"#, &table)
                .iter()
                .filter(|(p, _)| *p == id)
                .count(),
            3
        );
    }

    #[test]
    fn malformed_events_are_rejected_even_in_skipped_parts() {
        let table = PathTable::default();
        let mut fields = Fields::default();
        for bad in [
            r#"{"a": tru}"#,
            r#"{"a": [1, }"#,
            r#"["not an object"]"#,
            r#"{"a": 1} x"#,
            r#"{"a": "\x"}"#,
            r#"{"a" 1}"#,
            "{\"a\": \"\u{1}\"}",
            r#"{"a": 01}"#,
        ] {
            assert!(flatten(bad, &table, super::super::Validation::Full, &mut fields).is_err(), "{bad}");
        }
    }

    #[test]
    fn fast_number_path_agrees_with_the_exact_model() {
        for t in [
            "0",
            "-0",
            "1.5",
            "122.4194155",
            "1e21",
            "123456789012345",
            "1234567890123456",
            "5e-324",
            "0.1",
            "1E+2",
            "-122.42916360922355",
            "37.729900216217324",
            "0.10000000000000001",
            "9007199254740993",
            "1e400",
            "100.0e-2",
            "0.000",
            "12345678901234567890",
            "1.7976931348623157e308",
        ] {
            assert_eq!(fast_exact_number(t), exact_number(t), "{t}");
        }
    }
}
