//! The fast lane of event scanning: finding where a string, a number or a
//! whole unreferenced value ends, while still validating it as JSON.
//!
//! Owns: byte-level JSON grammar for parts of an event no rule looks at. May
//! not touch: paths, fields or matching (that is [`super::scan`]).
//!
//! Why it exists: on real events most bytes belong to values no rule
//! references (a GeoJSON feature's coordinates are three quarters of a
//! citylots2 event), so this loop sets the router's speed. Digit runs and
//! string ends are found sixteen bytes at a time (module `classes`), nested
//! containers are walked with a bit stack instead of recursion, and objects
//! that repeat the last layout are matched whole (module `shape`).

use super::classes::{bracket_end, digit_mask, digits_end, next_stop, window};
use super::json::MAX_DEPTH;
use super::scan::ScanError;
use super::shape::Shape;

fn error(offset: usize, message: &'static str) -> ScanError {
    ScanError { offset, message }
}

/// An event's text, for the scanning functions below (one slice, so the hot
/// loops keep it in registers).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Text<'a> {
    pub bytes: &'a [u8],
    /// Whether skipped containers are validated
    /// ([`super::Validation::Full`]) or only bracket-matched.
    check_skipped: bool,
}

impl<'a> Text<'a> {
    /// Text whose skipped values are validated in full.
    #[cfg(test)]
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Self::with(bytes, super::Validation::Full)
    }

    /// Text scanned under `validation`.
    pub(crate) fn with(bytes: &'a [u8], validation: super::Validation) -> Self {
        Self { bytes, check_skipped: validation == super::Validation::Full }
    }

    /// The index after the JSON number starting at `start` (RFC 8259
    /// grammar: no leading zeros, digits after `.` and after the exponent),
    /// or `None`.
    #[inline(always)]
    pub(crate) fn number_end(&self, start: usize) -> Option<usize> {
        if let Some(end) = window::<32>(self.bytes, start).and_then(|window| number_in_window(window, 0)) {
            return Some(start + end);
        }
        self.number_end_anywhere(start)
    }

    /// [`Self::number_end`] for any number: near the text's end, long, or
    /// with an exponent.
    #[inline(never)]
    fn number_end_anywhere(&self, start: usize) -> Option<usize> {
        let bytes = self.bytes;
        let mut i = start + usize::from(bytes.get(start) == Some(&b'-'));
        i = match bytes.get(i)? {
            b'0' => i + 1,
            b'1'..=b'9' => digits_end(self.bytes, i + 1),
            _ => return None,
        };
        if bytes.get(i) == Some(&b'.') {
            let end = digits_end(self.bytes, i + 1);
            if end == i + 1 {
                return None;
            }
            i = end;
        }
        if let Some(b'e' | b'E') = bytes.get(i) {
            return self.exponent_end(i + 1);
        }
        Some(i)
    }

    /// The index after an exponent's optional sign and digits.
    #[inline(never)]
    fn exponent_end(&self, mut i: usize) -> Option<usize> {
        if let Some(b'+' | b'-') = self.bytes.get(i) {
            i += 1;
        }
        let end = digits_end(self.bytes, i);
        (end > i).then_some(end)
    }

    /// The closing quote of the string whose opening quote is at `start`,
    /// and whether the string has escapes. Rejects control characters,
    /// invalid escapes and a missing closing quote. The text is already
    /// UTF-8 (`&str`).
    #[inline(always)]
    pub(crate) fn string_end(&self, start: usize) -> Result<(usize, bool), ScanError> {
        let stop = next_stop(self.bytes, start + 1);
        if self.bytes.get(stop) == Some(&b'"') {
            return Ok((stop, false));
        }
        self.string_end_after_stop(stop)
    }

    /// [`Self::string_end`] from a stop that is not the closing quote.
    #[inline(never)]
    fn string_end_after_stop(&self, mut stop: usize) -> Result<(usize, bool), ScanError> {
        let bytes = self.bytes;
        let mut escaped = false;
        loop {
            match bytes.get(stop) {
                Some(b'"') => return Ok((stop, escaped)),
                Some(b'\\') => {
                    escaped = true;
                    let next = match bytes.get(stop + 1) {
                        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => stop + 2,
                        Some(b'u')
                            if bytes.get(stop + 2..stop + 6).is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)) =>
                        {
                            stop + 6
                        }
                        _ => return Err(error(stop, "invalid escape in string")),
                    };
                    stop = next_stop(self.bytes, next);
                }
                Some(_) => return Err(error(stop, "control character in string")),
                None => return Err(error(bytes.len(), "unterminated string")),
            }
        }
    }

    /// After an object's `{` or `,` (whitespace skipped): the member name,
    /// the colon and the whitespace before the member's value.
    #[inline(always)]
    fn member_name(&self, mut i: usize) -> Result<usize, ScanError> {
        // Whitespace is looked for only when the expected byte is not there:
        // minified events then pay one comparison per token.
        let bytes = self.bytes;
        if bytes.get(i) != Some(&b'"') {
            i = skip_ws(bytes, i);
            if bytes.get(i) != Some(&b'"') {
                return Err(error(i, "expected a member name"));
            }
        }
        i = self.string_end(i)?.0 + 1;
        if bytes.get(i) != Some(&b':') {
            i = skip_ws(bytes, i);
            if bytes.get(i) != Some(&b':') {
                return Err(error(i, "expected ':'"));
            }
        }
        // Whitespace before the value is the value loop's business.
        Ok(i + 1)
    }

    /// [`Self::skip_value`] with a short cut for strings, which most skipped
    /// members are: no container walk to set up.
    #[inline(always)]
    pub(crate) fn skip(&self, start: usize, depth: usize, shape: &mut Shape) -> Result<usize, ScanError> {
        if self.bytes.get(start) == Some(&b'"') && depth <= MAX_DEPTH {
            Ok(self.string_end(start)?.0 + 1)
        } else {
            self.skip_value(start, depth, shape)
        }
    }

    /// Skips the value starting at `start` (no leading whitespace), nested
    /// `depth` levels deep in the event, validating it; returns the index after
    /// it. Error messages and offsets are those of the full scanner. Inside
    /// containers whitespace is handled where a token was expected and
    /// something else was found, so minified text never looks for it.
    /// Flat objects that repeat the layout in `shape` are matched as a
    /// whole (module `shape`); `shape` learns the layout of the others.
    pub(crate) fn skip_value(&self, start: usize, depth: usize, shape: &mut Shape) -> Result<usize, ScanError> {
        let bytes = self.bytes;
        if depth > MAX_DEPTH {
            return Err(error(start, NESTING));
        }
        if !matches!(bytes.get(start), Some(b'{' | b'[')) {
            return self.scalar_end(start);
        }
        if !self.check_skipped {
            return bracket_end(bytes, start).ok_or_else(|| error(bytes.len(), UNCLOSED));
        }
        // Open containers, innermost in bit 0 of `objects` (set: an object);
        // words beyond 64 levels spill into a vector, which allocates only then.
        // The walk starts on a container, so `open` is positive inside the
        // loop until the last closer returns.
        let mut objects = 0u64;
        let mut open = 0usize;
        let mut spilled = Vec::new();
        // Levels this value may still open before the nesting limit.
        let room = MAX_DEPTH - depth;
        let mut i = start;
        'value: loop {
            // The branches are ordered by how often skipped data needs them
            // (arrays of records, then scalars); a jump table costs more here.
            let byte = bytes.get(i).copied().unwrap_or(0);
            if byte == b'{' {
                // A flat object in an array is a single value to this walk,
                // when its level is within the nesting limit: arrays are
                // where objects repeat a layout.
                let in_array = open > 0 && objects & 1 == 0;
                match (in_array && open < room).then(|| self.flat_elements_end(i, shape)).flatten() {
                    Some(end) => i = end,
                    None => {
                        i = skip_ws(bytes, i + 1);
                        if bytes.get(i) == Some(&b'}') {
                            i += 1;
                            if open == 0 {
                                return Ok(i);
                            }
                        } else {
                            if open % 64 == 0 && open > 0 {
                                spill(&mut spilled, objects);
                            }
                            objects = (objects << 1) | 1;
                            open += 1;
                            if open > room {
                                return Err(error(i, NESTING));
                            }
                            i = self.member_name(i)?;
                            continue 'value;
                        }
                    }
                }
            } else if byte.wrapping_sub(b'0') < 10 || byte == b'-' {
                i = self.number_end(i).ok_or_else(|| error(i, "invalid number"))?;
            } else if byte == b'"' {
                i = self.string_end(i)?.0 + 1;
            // The same steps as `{` without a member name. The two arms stay
            // apart so neither computes its closer at run time: one of them
            // runs for every container (about 3 % of the walk).
            } else if byte == b'[' {
                i = skip_ws(bytes, i + 1);
                if bytes.get(i) == Some(&b']') {
                    i += 1;
                    if open == 0 {
                        return Ok(i);
                    }
                } else {
                    if open % 64 == 0 && open > 0 {
                        spill(&mut spilled, objects);
                    }
                    objects <<= 1;
                    open += 1;
                    if open > room {
                        return Err(error(i, NESTING));
                    }
                    continue 'value;
                }
            } else if is_ws(byte) {
                i = skip_ws(bytes, i);
                continue 'value;
            } else {
                i = self.literal_end(i)?;
            }
            // After a value, inside at least one container: close containers
            // until one continues.
            loop {
                let byte = bytes.get(i).copied().unwrap_or(0);
                if objects & 1 != 0 {
                    if byte == b',' {
                        i = self.member_name(i + 1)?;
                        continue 'value;
                    }
                    if byte != b'}' {
                        i = after_value_ws(bytes, i, b'}', "expected ',' or '}'")?;
                        continue;
                    }
                } else {
                    if byte == b',' {
                        i += 1;
                        continue 'value;
                    }
                    if byte != b']' {
                        i = after_value_ws(bytes, i, b']', "expected ',' or ']'")?;
                        continue;
                    }
                }
                i += 1;
                objects >>= 1;
                open -= 1;
                if open == 0 {
                    return Ok(i);
                }
                if open % 64 == 0 {
                    objects = unspill(&mut spilled);
                }
            }
        }
    }

    /// The end of a value that is not a container (the walk's first value).
    fn scalar_end(&self, i: usize) -> Result<usize, ScanError> {
        match self.bytes.get(i) {
            Some(b'"') => Ok(self.string_end(i)?.0 + 1),
            Some(b'-' | b'0'..=b'9') => self.number_end(i).ok_or_else(|| error(i, "invalid number")),
            _ => self.literal_end(i),
        }
    }

    /// The end of `true`, `false` or `null` at `i`; anything else is not a
    /// JSON value.
    #[inline(never)]
    pub(crate) fn literal_end(&self, i: usize) -> Result<usize, ScanError> {
        let rest = self.bytes.get(i..).unwrap_or_default();
        for literal in [&b"true"[..], b"false", b"null"] {
            if rest.starts_with(literal) {
                return Ok(i + literal.len());
            }
        }
        Err(error(i, "expected a JSON value"))
    }
}

/// The end (an offset in `window`) of a number without exponent that
/// starts at `at` (≤ 16) and ends, with the byte after it, inside the
/// window: the common number, classified with one 32-byte digit mask.
/// `None` sends every other case (and every malformed number) to the
/// byte-by-byte grammar, which decides.
#[inline(always)]
pub(crate) fn number_in_window(window: &[u8; 32], at: usize) -> Option<usize> {
    if at > 16 {
        return None;
    }
    let start = at + usize::from(window[at] == b'-');
    let others = !digit_mask(window);
    let int_end = match window[start] {
        // A leading zero is the whole integer part.
        b'0' => start + 1,
        b'1'..=b'9' => start + (others >> start).trailing_zeros() as usize,
        _ => return None,
    };
    // At 31 or beyond, the byte after the number is not in the window.
    if int_end >= 31 {
        return None;
    }
    let end = match window[int_end] {
        b'.' => {
            let fraction = int_end + 1;
            let end = fraction + (others >> fraction).trailing_zeros() as usize;
            if end == fraction || end >= 32 {
                return None;
            }
            end
        }
        _ => int_end,
    };
    (window[end] | 0x20 != b'e').then_some(end)
}

const NESTING: &str = "nesting deeper than 1100 levels";
/// The error of a skipped container that is never closed, when only its
/// brackets are matched.
const UNCLOSED: &str = "unclosed object or array";

/// JSON whitespace.
#[inline(always)]
fn is_ws(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\n' | b'\r')
}

/// After a value, where neither `,` nor `closer` is at `i`: the index of
/// the next token if whitespace comes first, else the error `message`.
#[cold]
fn after_value_ws(bytes: &[u8], i: usize, closer: u8, message: &'static str) -> Result<usize, ScanError> {
    let next = skip_ws(bytes, i);
    match bytes.get(next) {
        Some(b) if next > i && (*b == b',' || *b == closer) => Ok(next),
        _ => Err(error(next, message)),
    }
}

/// Where `want` is: at `i`, or after whitespace at `i`; otherwise the first
/// byte that is not whitespace (for the error offset).
#[inline(always)]
pub(crate) fn expect_after_ws(bytes: &[u8], i: usize, want: u8) -> Result<usize, usize> {
    if bytes.get(i) == Some(&want) {
        return Ok(i);
    }
    let i = skip_ws(bytes, i);
    if bytes.get(i) == Some(&want) {
        Ok(i)
    } else {
        Err(i)
    }
}

/// The first index at or after `i` that is not JSON whitespace.
#[inline(always)]
pub(crate) fn skip_ws(bytes: &[u8], i: usize) -> usize {
    // Events are mostly minified: one comparison settles the common case.
    match bytes.get(i) {
        Some(b) if *b > b' ' => i,
        _ => skip_ws_slow(bytes, i),
    }
}

#[inline(never)]
fn skip_ws_slow(bytes: &[u8], mut i: usize) -> usize {
    while let Some(b' ' | b'\t' | b'\n' | b'\r') = bytes.get(i) {
        i += 1;
    }
    i
}

/// Saves a full word of the container bit stack (beyond 64 open levels).
#[cold]
fn spill(spilled: &mut Vec<u64>, word: u64) {
    spilled.push(word);
}

/// Restores the word saved by [`spill`].
#[cold]
fn unspill(spilled: &mut Vec<u64>) -> u64 {
    spilled.pop().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `f` on `text` with its byte classes.
    fn with<R>(text: &[u8], f: impl FnOnce(Text<'_>) -> R) -> R {
        f(Text::new(text))
    }

    fn string_end(text: &[u8], start: usize) -> Result<(usize, bool), ScanError> {
        with(text, |t| t.string_end(start))
    }

    fn number_end(text: &[u8], start: usize) -> Option<usize> {
        with(text, |t| t.number_end(start))
    }

    fn skip_value(text: &[u8], start: usize, depth: usize) -> Result<usize, ScanError> {
        with(text, |t| t.skip_value(start, depth, &mut Shape::default()))
    }

    #[test]
    fn every_byte_value_ends_a_string_or_not_like_the_grammar_says() {
        for at in [0, 7, 15, 16, 62, 63, 64, 65] {
            for b in 0..=255u8 {
                let mut text = vec![b'"'];
                text.extend_from_slice(&[b'a'; 70]);
                text[1 + at] = b;
                text.push(b'"');
                let got = string_end(&text, 0);
                match b {
                    b'"' => assert_eq!(got, Ok((1 + at, false))),
                    b'\\' => assert!(got.is_err() || got.unwrap().1, "{b:#x}"),
                    0..=0x1f => assert_eq!(got, Err(error(1 + at, "control character in string"))),
                    _ => assert_eq!(got, Ok((text.len() - 1, false)), "byte {b:#x} at {at}"),
                }
            }
        }
    }

    #[test]
    fn strings_end_at_the_first_unescaped_quote_across_words_and_tails() {
        for (text, end) in [
            (r#""""#, Ok((1, false))),
            (r#""abc""#, Ok((4, false))),
            (r#""0123456789abcdefghij""#, Ok((21, false))),
            (r#""a\"b\\""#, Ok((7, true))),
            (r#""\u00e9 long enough to need words\n""#, Ok((35, true))),
            (r#""é and more than eight bytes""#, Ok((29, false))),
            (r#""abc"#, Err(error(4, "unterminated string"))),
            (r#""abcdefghijklmnop"#, Err(error(17, "unterminated string"))),
            (r#""a\x""#, Err(error(2, "invalid escape in string"))),
            (r#""a\u12g4 padding padding""#, Err(error(2, "invalid escape in string"))),
            ("\"abcdefghij\tk\"", Err(error(11, "control character in string"))),
        ] {
            assert_eq!(string_end(text.as_bytes(), 0), end, "{text}");
        }
    }

    #[test]
    fn numbers_follow_the_json_grammar() {
        for (text, end) in [
            ("0", Some(1)),
            ("-0", Some(2)),
            ("-122.39222422079885,", Some(19)),
            ("37.80020321792917}", Some(17)),
            ("1e5", Some(3)),
            ("1.5E-3 ", Some(6)),
            ("12345678901234567890123", Some(23)),
            ("01", Some(1)),
            ("-", None),
            ("1.", None),
            ("1.e3", None),
            ("1e", None),
            ("1e+", None),
            (".5", None),
            ("-x", None),
        ] {
            assert_eq!(number_end(text.as_bytes(), 0), end, "{text}");
        }
    }

    /// JSON values of every kind, nested, with optional whitespace.
    fn json_text() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let ws = || prop_oneof![Just(""), Just(" "), Just("\n\t")];
        let leaf = prop_oneof![
            Just("null".to_owned()),
            Just("true".to_owned()),
            Just("false".to_owned()),
            "-?(0|[1-9][0-9]{0,20})(\\.[0-9]{1,20})?([eE][-+]?[0-9]{1,3})?",
            "\"([a-zé {}\\[\\]]|\\\\[nt\"\\\\/]|\\\\u00[0-9a-f]{2}){0,70}\"",
        ];
        leaf.prop_recursive(4, 40, 6, move |inner| {
            prop_oneof![
                (proptest::collection::vec((inner.clone(), ws()), 0..6), ws()).prop_map(|(items, w)| {
                    let body: Vec<String> = items.into_iter().map(|(v, w)| format!("{w}{v}{w}")).collect();
                    format!("[{w}{}]", body.join(","))
                }),
                (proptest::collection::vec(("[a-z]{0,3}", inner, ws()), 0..6)).prop_map(|members| {
                    let body: Vec<String> =
                        members.into_iter().map(|(k, v, w)| format!("{w}\"{k}\"{w}:{w}{v}{w}")).collect();
                    format!("{{{}}}", body.join(","))
                }),
            ]
        })
    }

    proptest::proptest! {
        /// The class lookups agree with the plain grammar of
        /// `json::scan_number` wherever the number sits.
        #[test]
        fn number_end_agrees_with_the_reference_grammar(
            // Up to 60 bytes: numbers with 32 bytes after their start take
            // the one-window path, the others the byte-by-byte grammar.
            body in "[-0-9.eE+x,]{0,60}",
            pad in 0usize..10,
        ) {
            let text = format!("{}{body}", " ".repeat(pad));
            proptest::prop_assert_eq!(
                number_end(text.as_bytes(), pad),
                super::super::json::scan_number(text.as_bytes(), pad),
                "{:?}", text
            );
        }

        /// On JSON-like noise, the skipper accepts exactly the texts the
        /// recursive reference parser (`json::Json`) accepts, never panics,
        /// and its errors point inside the text.
        #[test]
        fn skipper_accepts_exactly_what_the_reference_parser_accepts(
            text in "[\\[\\]{}\",:0-9.eE+\\-a-z\\\\ \t\u{1}é]{1,40}",
        ) {
            let reference = super::super::json::Json::parse(&text).is_ok();
            let ours = skip_value(text.as_bytes(), 0, 1);
            if let Err(e) = &ours {
                proptest::prop_assert!(e.offset <= text.len());
            }
            // A value followed only by whitespace is what `Json::parse` accepts.
            let whole = ours.is_ok_and(|end| skip_ws(text.as_bytes(), end) == text.len());
            let leading_ws = text.starts_with([' ', '\t']);
            if !leading_ws {
                proptest::prop_assert_eq!(whole, reference, "{:?}", text);
            }
        }

        /// Valid JSON values, then the same with one byte changed: the
        /// skipper and the reference parser agree on every one.
        #[test]
        fn skipper_agrees_with_the_reference_parser_on_valid_and_damaged_json(
            text in json_text(),
            at in 0usize..1000,
            byte in proptest::sample::select(b"{}[],:\" \\x0-.eE+".to_vec()),
        ) {
            let whole = |t: &[u8]| skip_value(t, 0, 1).is_ok_and(|end| skip_ws(t, end) == t.len());
            proptest::prop_assert!(whole(text.as_bytes()), "{:?}", text);
            let mut damaged = text.clone().into_bytes();
            let at = at % damaged.len();
            damaged[at] = byte;
            if let Ok(damaged) = String::from_utf8(damaged) {
                if !damaged.starts_with([' ', '\t', '\n']) {
                    let reference = super::super::json::Json::parse(&damaged).is_ok();
                    proptest::prop_assert_eq!(whole(damaged.as_bytes()), reference, "{:?}", damaged);
                }
            }
        }

        /// On valid JSON, the bracket walk of `Validation::Referenced` ends
        /// every value where the full walk does; on damaged text it never
        /// panics and never points past the text.
        #[test]
        fn referenced_skip_ends_where_the_full_skip_ends(
            text in json_text(),
            at in 0usize..1000,
            byte in proptest::sample::select(b"{}[],:\" \\x0-.eE+".to_vec()),
        ) {
            let referenced = |t: &[u8]| {
                Text::with(t, super::super::Validation::Referenced).skip_value(0, 1, &mut Shape::default())
            };
            let full = skip_value(text.as_bytes(), 0, 1);
            proptest::prop_assert!(full.is_ok());
            proptest::prop_assert_eq!(referenced(text.as_bytes()), full, "{:?}", text);
            let mut damaged = text.into_bytes();
            let at = at % damaged.len();
            damaged[at] = byte;
            match referenced(&damaged) {
                Ok(end) => proptest::prop_assert!(end <= damaged.len()),
                Err(e) => proptest::prop_assert!(e.offset <= damaged.len()),
            }
        }

        #[test]
        fn long_numbers_agree_with_the_reference_grammar(
            int in "-?[0-9]{1,30}", fraction in "(\\.[0-9]{0,30})?", exponent in "([eE][-+]?[0-9]{0,3})?", tail in "[,}\\]x0-9.eE]{0,30}",
        ) {
            let text = format!("{int}{fraction}{exponent}{tail}");
            proptest::prop_assert_eq!(
                number_end(text.as_bytes(), 0),
                super::super::json::scan_number(text.as_bytes(), 0),
                "{:?}", text
            );
        }
    }

    #[test]
    fn skips_nested_values_and_rejects_every_malformation_with_its_offset() {
        let ok = r#"[[{"x":-122.4,"y":37.8,"z":0},{"x" : 1e3 , "y":[true,false,null,{}],"z":[]}]] tail"#;
        assert_eq!(skip_value(ok.as_bytes(), 0, 1), Ok(ok.len() - 5));
        for (text, offset, message) in [
            ("[1,]", 3, "expected a JSON value"),
            ("[1 2]", 3, "expected ',' or ']'"),
            (r#"{"a":1,}"#, 7, "expected a member name"),
            (r#"{"a" 1}"#, 5, "expected ':'"),
            (r#"{"a":1]"#, 6, "expected ',' or '}'"),
            ("[tru]", 1, "expected a JSON value"),
            ("[01]", 2, "expected ',' or ']'"),
            ("[-]", 1, "invalid number"),
            ("[[", 2, "expected a JSON value"),
            (r#"{"a":"#, 5, "expected a JSON value"),
        ] {
            assert_eq!(skip_value(text.as_bytes(), 0, 1), Err(error(offset, message)), "{text}");
        }
    }

    #[test]
    fn whitespace_anywhere_between_tokens_is_skipped_and_errors_keep_their_offsets() {
        let spaced = "[ { \"x\" : -1.5 , \"y\" :\t[ 1 ,2\n] } ,\r\n{ } , [ ] , true ] tail";
        assert_eq!(skip_value(spaced.as_bytes(), 0, 1), Ok(spaced.len() - 5));
        for (text, offset, message) in [
            ("[1 , ]", 5, "expected a JSON value"),
            ("[ 1  2]", 5, "expected ',' or ']'"),
            (r#"{ "a" : 1 , }"#, 12, "expected a member name"),
            (r#"{ "a"  1}"#, 7, "expected ':'"),
            (r#"{"a" : 1 ]"#, 9, "expected ',' or '}'"),
        ] {
            assert_eq!(skip_value(text.as_bytes(), 0, 1), Err(error(offset, message)), "{text}");
        }
    }

    #[test]
    fn containers_deeper_than_one_word_of_the_bit_stack_close_in_order() {
        let levels = 200;
        let mut text = String::new();
        for level in 0..levels {
            text.push_str(if level % 3 == 0 { r#"{"k":"# } else { "[" });
        }
        text.push('1');
        let closers: String = (0..levels).rev().map(|level| if level % 3 == 0 { '}' } else { ']' }).collect();
        let good = format!("{text}{closers}");
        assert_eq!(skip_value(good.as_bytes(), 0, 1), Ok(good.len()));
        // Swap one closer at each depth around the word boundaries.
        for wrong_at in [0, 1, 63, 64, 65, 127, 128, 199] {
            let mut bad: Vec<char> = closers.chars().collect();
            bad[wrong_at] = if bad[wrong_at] == '}' { ']' } else { '}' };
            let bad = format!("{text}{}", bad.into_iter().collect::<String>());
            let offset = text.len() + wrong_at;
            let got = skip_value(bad.as_bytes(), 0, 1).unwrap_err();
            assert_eq!(got.offset, offset, "closer {wrong_at}");
        }
    }

    #[test]
    fn nesting_limit_counts_the_levels_above_the_skipped_value() {
        let deep = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        assert!(skip_value(deep(MAX_DEPTH - 1).as_bytes(), 0, 1).is_ok());
        let too_deep = deep(MAX_DEPTH);
        assert_eq!(skip_value(too_deep.as_bytes(), 0, 2), Err(error(MAX_DEPTH - 1, "nesting deeper than 1100 levels")));
    }
}
