//! Object layouts: the same member names in the same order as the last
//! object of the kind, kept as the literal bytes between values, so that a
//! repeating object is followed with one comparison per member.
//!
//! Owns: [`Piece`] (those bytes), [`Shape`] (the layout of the last flat
//! object skipped) with the walks that record it and match skipped objects
//! against it, and [`Layout`] (a referenced object's layout with the trie
//! child of each key, followed by [`super::scan`]). May not touch:
//! containers inside skipped objects, error reporting (a walk that meets
//! anything unexpected returns `None` and the full walk in [`super::skip`]
//! starts over on the same object and reports exactly).
//!
//! Why: arrays of records (GeoJSON points, log entries, metric samples) are
//! the bulk of many events, every record spells out the same member names,
//! and consecutive events of one source share their layout. A piece
//! (`{"x":`, `,"y":`, …, `}`) is at most 16 bytes, so matching a member name
//! is one masked comparison instead of a string scan, a colon check, a
//! lookup and the container bookkeeping. This is the speculation of Mison
//! (Li et al., VLDB 2017) applied to validation: a wrong guess costs a
//! failed comparison, never a wrong answer, because the bytes compared were
//! themselves validated as JSON when they were recorded and every value is
//! still validated one by one.

use super::classes::window;
use super::skip::{number_in_window, skip_ws, Text};

/// The literal bytes between two values of an object (or before the first,
/// or after the last), little-endian in `bytes`, `len` ≤ 16.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Piece {
    bytes: u128,
    mask: u128,
    len: usize,
}

impl Piece {
    pub(crate) fn new(text: &[u8]) -> Option<Self> {
        let len = text.len();
        let mut padded = [0u8; 16];
        padded.get_mut(..len)?.copy_from_slice(text);
        let mask = if len == 16 { u128::MAX } else { (1u128 << (8 * len)) - 1 };
        Some(Self { bytes: u128::from_le_bytes(padded), mask, len })
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Whether `window` starts with this piece.
    #[inline(always)]
    fn starts(&self, window: &[u8; 32]) -> bool {
        let mut first = [0u8; 16];
        first.copy_from_slice(&window[..16]);
        (u128::from_le_bytes(first) ^ self.bytes) & self.mask == 0
    }

    /// Whether the text at `i` starts with this piece.
    #[inline(always)]
    pub(crate) fn is_at(&self, text: &[u8], i: usize) -> bool {
        match window::<16>(text, i) {
            Some(window) => (u128::from_le_bytes(*window) ^ self.bytes) & self.mask == 0,
            // Within 16 bytes of the end: compare byte by byte.
            None => text.get(i..i + self.len) == self.bytes.to_le_bytes().get(..self.len),
        }
    }
}

/// The member layout of the last object walked at one trie node of the
/// router (module `scan`): each member's piece (from the `{` or the end of
/// the previous value to the start of its value) with the trie child its
/// key leads to, and the closing piece. Following it replaces each key's
/// scan and lookup by one comparison; values are still read one by one.
#[derive(Clone, Debug, Default)]
pub(crate) struct Layout {
    pub members: Vec<(Piece, Option<u32>)>,
    /// `None` while the layout is unknown or incomplete.
    pub close: Option<Piece>,
}

impl Layout {
    /// Objects with more members are walked member by member.
    pub const MAX_MEMBERS: usize = 64;
}

/// The layout of the last flat object recorded, reused from one object (and
/// one event) to the next: it is only ever a guess.
#[derive(Clone, Debug, Default)]
pub(crate) struct Shape {
    /// `members + 1` pieces, or none when no layout is known.
    pieces: Vec<Piece>,
}

impl Shape {
    /// At most this many members are remembered; longer objects are walked
    /// in full.
    const MAX_MEMBERS: usize = 16;
}

impl Text<'_> {
    /// The end of the object at `start` (its `{`) if it is flat: recorded as
    /// the new layout unless it already matches the current one. `None`
    /// when the object holds a container, has more than [`Shape::MAX_MEMBERS`]
    /// members or is malformed; `shape` is then empty or unchanged.
    #[inline]
    pub(crate) fn flat_object_end(&self, start: usize, shape: &mut Shape) -> Option<usize> {
        if !shape.pieces.is_empty() {
            if let Some(end) = self.match_shape(start, shape) {
                return Some(end);
            }
        }
        self.record_shape(start, shape)
    }

    /// [`Self::flat_object_end`] for an array element, then the elements
    /// after it while they follow the same layout: the end of the last one
    /// matched. Kept out of line so this loop has the registers to itself.
    #[inline(never)]
    pub(crate) fn flat_elements_end(&self, start: usize, shape: &mut Shape) -> Option<usize> {
        let mut end = self.flat_object_end(start, shape)?;
        let bytes = self.bytes;
        while bytes.get(end) == Some(&b',') && bytes.get(end + 1) == Some(&b'{') {
            match self.match_shape(end + 1, shape) {
                Some(next) => end = next,
                None => break,
            }
        }
        Some(end)
    }

    /// Walks the object at `start` piece by piece along `shape`.
    #[inline(always)]
    fn match_shape(&self, start: usize, shape: &Shape) -> Option<usize> {
        let bytes = self.bytes;
        let (last, members) = shape.pieces.split_last()?;
        let mut i = start;
        for piece in members {
            // One 32-byte window holds the piece and, most often, the
            // number after it: one load and one digit mask for both.
            i = match window::<32>(bytes, i) {
                Some(window) => {
                    if !piece.starts(window) {
                        return None;
                    }
                    match number_in_window(window, piece.len) {
                        Some(end) => i + end,
                        None => self.plain_value_end(i + piece.len)?,
                    }
                }
                None => {
                    if !piece.is_at(bytes, i) {
                        return None;
                    }
                    self.plain_value_end(i + piece.len)?
                }
            };
        }
        last.is_at(bytes, i).then_some(i + last.len)
    }

    /// Walks the object at `start` in full, keeping its pieces in `shape`.
    #[inline(never)]
    fn record_shape(&self, start: usize, shape: &mut Shape) -> Option<usize> {
        shape.pieces.clear();
        let found = self.record_pieces(start, &mut shape.pieces);
        if found.is_none() {
            shape.pieces.clear();
        }
        found
    }

    fn record_pieces(&self, start: usize, pieces: &mut Vec<Piece>) -> Option<usize> {
        let bytes = self.bytes;
        let mut piece_start = start;
        let mut i = skip_ws(bytes, start + 1);
        if bytes.get(i) == Some(&b'}') {
            pieces.push(Piece::new(bytes.get(start..=i)?)?);
            return Some(i + 1);
        }
        loop {
            if bytes.get(i) != Some(&b'"') || pieces.len() == Shape::MAX_MEMBERS {
                return None;
            }
            i = skip_ws(bytes, self.string_end(i).ok()?.0 + 1);
            if bytes.get(i) != Some(&b':') {
                return None;
            }
            i = skip_ws(bytes, i + 1);
            pieces.push(Piece::new(bytes.get(piece_start..i)?)?);
            i = self.plain_value_end(i)?;
            piece_start = i;
            i = skip_ws(bytes, i);
            match bytes.get(i) {
                Some(b',') => i = skip_ws(bytes, i + 1),
                Some(b'}') => {
                    pieces.push(Piece::new(bytes.get(piece_start..=i)?)?);
                    return Some(i + 1);
                }
                _ => return None,
            }
        }
    }

    /// The end of the string, number or literal at `i`; `None` for anything
    /// else, containers included.
    #[inline(always)]
    fn plain_value_end(&self, i: usize) -> Option<usize> {
        let byte = *self.bytes.get(i)?;
        if byte.wrapping_sub(b'0') < 10 || byte == b'-' {
            self.number_end(i)
        } else if byte == b'"' {
            Some(self.string_end(i).ok()?.0 + 1)
        } else {
            self.literal_end(i).ok()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with<R>(text: &[u8], f: impl FnOnce(Text<'_>) -> R) -> R {
        f(Text::new(text))
    }

    #[test]
    fn a_flat_object_is_recorded_and_a_same_shaped_one_matches_piece_by_piece() {
        let text = br#"[{"x":-122.5,"y":37.8,"z":0},{"x":1,"y":"two","z":null},{"x":1,"y":2}]"#;
        with(text, |t| {
            let mut shape = Shape::default();
            assert_eq!(t.flat_object_end(1, &mut shape), Some(28));
            assert_eq!(shape.pieces.len(), 4);
            // Same names, other scalar kinds: matched without recording.
            assert_eq!(t.match_shape(29, &shape), Some(55));
            // Fewer members: the guess fails, recording takes over.
            assert_eq!(t.match_shape(56, &shape), None);
            assert_eq!(t.flat_object_end(56, &mut shape), Some(text.len() - 1));
            assert_eq!(shape.pieces.len(), 3);
        });
    }

    #[test]
    fn whitespace_escapes_and_long_names_are_part_of_the_pieces() {
        let text = br#"{ "a\"b" : 1 , "fifteen" :2 }{ "a\"b" : 3 , "fifteen" :4 }"#;
        with(text, |t| {
            let mut shape = Shape::default();
            let first = t.flat_object_end(0, &mut shape).unwrap();
            assert_eq!(first, text.len() / 2);
            assert_eq!(t.match_shape(first, &shape), Some(text.len()));
        });
        // A piece longer than 16 bytes is not remembered.
        with(br#"{"a-name-of-seventeen":1}"#, |t| {
            let mut shape = Shape::default();
            assert_eq!(t.flat_object_end(0, &mut shape), None);
            assert!(shape.pieces.is_empty());
        });
    }

    #[test]
    fn containers_malformed_values_and_truncation_are_left_to_the_full_walk() {
        for text in [
            r#"{"x":[1]}"#,
            r#"{"x":{}}"#,
            r#"{"x":01}"#,
            r#"{"x":1,}"#,
            r#"{"x":1"#,
            r#"{"x" 1}"#,
            r#"{"x":tru}"#,
            r#"{"x":"a	b"}"#,
        ] {
            with(text.as_bytes(), |t| {
                let mut shape = Shape::default();
                assert_eq!(t.flat_object_end(0, &mut shape), None, "{text}");
                assert!(shape.pieces.is_empty(), "{text}");
            });
        }
        // A known layout never accepts a bad value or a cut-off object.
        let good = br#"{"x":1,"y":2}"#;
        for bad in [&br#"{"x":-,"y":2}"#[..], br#"{"x":1,"y":2"#, br#"{"x":1,"y":[]}"#, br#"{"x":1,"y":2]"#] {
            let mut text = good.to_vec();
            text.extend_from_slice(bad);
            with(&text, |t| {
                let mut shape = Shape::default();
                assert_eq!(t.flat_object_end(0, &mut shape), Some(good.len()));
                assert_eq!(t.match_shape(good.len(), &shape), None, "{}", String::from_utf8_lossy(bad));
            });
        }
    }

    #[test]
    fn more_than_sixteen_members_are_walked_in_full() {
        let members: Vec<String> = (0..17).map(|k| format!("\"m{k}\":{k}")).collect();
        let text = format!("{{{}}}", members.join(","));
        with(text.as_bytes(), |t| {
            let mut shape = Shape::default();
            assert_eq!(t.flat_object_end(0, &mut shape), None);
        });
    }

    /// Arrays of records sharing one random layout, then the same text
    /// with one byte changed, skipped with the layout learnt from an
    /// earlier text: accepted exactly when the reference parser accepts.
    fn records() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let scalar = prop_oneof![
            Just("null".to_owned()),
            Just("true".to_owned()),
            "-?(0|[1-9][0-9]{0,18})(\\.[0-9]{1,17})?([eE][-+]?[0-9]{1,2})?",
            "\"([a-z ]|\\\\[n\"])*\"",
        ];
        let ws = prop_oneof![Just(""), Just(""), Just(" ")];
        (proptest::collection::vec("[a-z]{0,4}", 0..5), ws, 1usize..6).prop_flat_map(move |(keys, ws, count)| {
            let values = proptest::collection::vec(proptest::collection::vec(scalar.clone(), keys.len()), count);
            values.prop_map(move |rows| {
                let objects: Vec<String> = rows
                    .iter()
                    .map(|row| {
                        let members: Vec<String> =
                            keys.iter().zip(row).map(|(k, v)| format!("{ws}\"{k}\"{ws}:{ws}{v}")).collect();
                        format!("{{{}{ws}}}", members.join(","))
                    })
                    .collect();
                format!("[{}]", objects.join(","))
            })
        })
    }

    proptest::proptest! {
        #[test]
        fn layouts_never_change_what_the_skipper_accepts(
            earlier in records(),
            text in records(),
            at in 0usize..1000,
            byte in proptest::sample::select(b"{}[],:\" \\x0-.eE+tn".to_vec()),
        ) {
            let mut shape = Shape::default();
            let skip = |t: &[u8], shape: &mut Shape| {
                Text::new(t).skip_value(0, 1, shape)
            };
            // The layout of `earlier` is the first guess for `text`.
            proptest::prop_assert_eq!(skip(earlier.as_bytes(), &mut shape), Ok(earlier.len()));
            let mut fresh = Shape::default();
            proptest::prop_assert_eq!(skip(text.as_bytes(), &mut shape.clone()), Ok(text.len()));
            let mut damaged = text.into_bytes();
            let at = at % damaged.len();
            damaged[at] = byte;
            let Ok(damaged) = String::from_utf8(damaged) else { return Ok(()) };
            let reference = super::super::json::Json::parse(&damaged).is_ok();
            let ours = skip(damaged.as_bytes(), &mut shape);
            let whole = ours.as_ref().is_ok_and(|end| skip_ws(damaged.as_bytes(), *end) == damaged.len());
            proptest::prop_assert_eq!(whole, reference, "{:?}", damaged);
            // Errors are the full walk's, whatever the layout guessed.
            proptest::prop_assert_eq!(ours, skip(damaged.as_bytes(), &mut fresh), "{:?}", damaged);
        }
    }
}
