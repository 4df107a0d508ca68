//! A small JSON document model for patterns and reference matching: keeps
//! number literals as written (EventBridge's number model depends on them,
//! event-patterns §1.6, §4.6), keeps members in document order, and lets
//! a duplicate key replace the earlier one ("last one wins", event-patterns §2).

use std::fmt;

/// A JSON value with number literals preserved.
#[derive(Clone, Debug, PartialEq)]
pub enum Json {
    Null,
    Bool(bool),
    /// The literal text of the number.
    Number(String),
    String(String),
    Array(Vec<Json>),
    Object(Vec<(String, Json)>),
}

/// A syntax error with its 1-based line and column.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message} at line {line}, column {column}")]
pub struct JsonError {
    pub message: String,
    pub line: usize,
    pub column: usize,
}

/// Deepest nesting accepted (PutEvents processes 1100 levels, event-patterns §6).
pub const MAX_DEPTH: usize = 1100;

impl Json {
    /// Parses one JSON document.
    ///
    /// # Errors
    /// [`JsonError`] with the position of the first problem.
    pub fn parse(text: &str) -> Result<Self, JsonError> {
        Self::parse_with(text, true)
    }

    /// Parses an event: a duplicate key keeps *every* occurrence, each a value
    /// of the field, as Event Ruler reads events (event-patterns §1.7).
    ///
    /// # Errors
    /// [`JsonError`] with the position of the first problem.
    pub fn parse_event(text: &str) -> Result<Self, JsonError> {
        Self::parse_with(text, false)
    }

    fn parse_with(text: &str, dedupe: bool) -> Result<Self, JsonError> {
        let mut p = Parser { bytes: text.as_bytes(), pos: 0, dedupe };
        p.skip_ws();
        let value = p.value(0)?;
        p.skip_ws();
        if p.pos != p.bytes.len() {
            return Err(p.error("unexpected characters after the JSON value"));
        }
        Ok(value)
    }

    /// Converts a `serde_json::Value` (numbers lose their original spelling).
    #[must_use]
    pub fn from_value(value: &serde_json::Value) -> Self {
        match value {
            serde_json::Value::Null => Self::Null,
            serde_json::Value::Bool(b) => Self::Bool(*b),
            serde_json::Value::Number(n) => Self::Number(n.to_string()),
            serde_json::Value::String(s) => Self::String(s.clone()),
            serde_json::Value::Array(a) => Self::Array(a.iter().map(Self::from_value).collect()),
            serde_json::Value::Object(o) => {
                Self::Object(o.iter().map(|(k, v)| (k.clone(), Self::from_value(v))).collect())
            }
        }
    }

    /// A short name of the value's kind, for messages.
    #[must_use]
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Null => "null",
            Self::Bool(_) => "a boolean",
            Self::Number(_) => "a number",
            Self::String(_) => "a string",
            Self::Array(_) => "an array",
            Self::Object(_) => "an object",
        }
    }
}

impl fmt::Display for Json {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Null => f.write_str("null"),
            Self::Bool(b) => write!(f, "{b}"),
            Self::Number(n) => f.write_str(n),
            Self::String(s) => write!(f, "{}", serde_json::Value::String(s.clone())),
            Self::Array(items) => {
                f.write_str("[")?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    write!(f, "{item}")?;
                }
                f.write_str("]")
            }
            Self::Object(members) => {
                f.write_str("{")?;
                for (i, (k, v)) in members.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    write!(f, "{}:{v}", serde_json::Value::String(k.clone()))?;
                }
                f.write_str("}")
            }
        }
    }
}

struct Parser<'a> {
    bytes: &'a [u8],
    pos: usize,
    dedupe: bool,
}

impl Parser<'_> {
    fn error(&self, message: &str) -> JsonError {
        let before = &self.bytes[..self.pos.min(self.bytes.len())];
        let line = before.iter().filter(|b| **b == b'\n').count() + 1;
        let column = before.iter().rev().take_while(|b| **b != b'\n').count() + 1;
        JsonError { message: message.to_owned(), line, column }
    }

    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.bytes.get(self.pos) {
            self.pos += 1;
        }
    }

    fn value(&mut self, depth: usize) -> Result<Json, JsonError> {
        if depth > MAX_DEPTH {
            return Err(self.error("nesting deeper than 1100 levels"));
        }
        match self.bytes.get(self.pos) {
            Some(b'{') => self.object(depth),
            Some(b'[') => self.array(depth),
            Some(b'"') => self.string().map(Json::String),
            Some(b't') => self.literal("true", Json::Bool(true)),
            Some(b'f') => self.literal("false", Json::Bool(false)),
            Some(b'n') => self.literal("null", Json::Null),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(_) => Err(self.error("expected a JSON value")),
            None => Err(self.error("unexpected end of input")),
        }
    }

    fn literal(&mut self, word: &str, value: Json) -> Result<Json, JsonError> {
        if self.bytes[self.pos..].starts_with(word.as_bytes()) {
            self.pos += word.len();
            Ok(value)
        } else {
            Err(self.error("expected a JSON value"))
        }
    }

    fn number(&mut self) -> Result<Json, JsonError> {
        let end = scan_number(self.bytes, self.pos).ok_or_else(|| self.error("invalid number"))?;
        let text = String::from_utf8_lossy(&self.bytes[self.pos..end]).into_owned();
        self.pos = end;
        Ok(Json::Number(text))
    }

    fn string(&mut self) -> Result<String, JsonError> {
        let (text, end) = scan_string(self.bytes, self.pos).map_err(|(at, msg)| {
            let mut e = self.error(msg);
            e.column += at - self.pos;
            e
        })?;
        self.pos = end;
        Ok(text.into_owned())
    }

    fn array(&mut self, depth: usize) -> Result<Json, JsonError> {
        self.pos += 1;
        let mut items = Vec::new();
        self.skip_ws();
        if self.bytes.get(self.pos) == Some(&b']') {
            self.pos += 1;
            return Ok(Json::Array(items));
        }
        loop {
            self.skip_ws();
            items.push(self.value(depth + 1)?);
            self.skip_ws();
            match self.bytes.get(self.pos) {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(Json::Array(items));
                }
                _ => return Err(self.error("expected ',' or ']'")),
            }
        }
    }

    fn object(&mut self, depth: usize) -> Result<Json, JsonError> {
        self.pos += 1;
        let mut members: Vec<(String, Json)> = Vec::new();
        self.skip_ws();
        if self.bytes.get(self.pos) == Some(&b'}') {
            self.pos += 1;
            return Ok(Json::Object(members));
        }
        loop {
            self.skip_ws();
            if self.bytes.get(self.pos) != Some(&b'"') {
                return Err(self.error("expected a double-quoted member name"));
            }
            let key = self.string()?;
            self.skip_ws();
            if self.bytes.get(self.pos) != Some(&b':') {
                return Err(self.error("expected ':'"));
            }
            self.pos += 1;
            self.skip_ws();
            let value = self.value(depth + 1)?;
            match members.iter_mut().find(|(k, _)| self.dedupe && *k == key) {
                Some(existing) => existing.1 = value,
                None => members.push((key, value)),
            }
            self.skip_ws();
            match self.bytes.get(self.pos) {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(Json::Object(members));
                }
                _ => return Err(self.error("expected ',' or '}'")),
            }
        }
    }
}

/// End of the JSON number starting at `start`, or `None` if it is invalid.
#[inline]
pub(crate) fn scan_number(bytes: &[u8], start: usize) -> Option<usize> {
    let n = bytes.len();
    let digits_from = |mut i: usize| {
        while i < n && bytes[i].is_ascii_digit() {
            i += 1;
        }
        i
    };
    let mut i = start;
    if i < n && bytes[i] == b'-' {
        i += 1;
    }
    if i >= n {
        return None;
    }
    i = match bytes[i] {
        b'0' => i + 1,
        b'1'..=b'9' => digits_from(i + 1),
        _ => return None,
    };
    if i < n && bytes[i] == b'.' {
        let end = digits_from(i + 1);
        if end == i + 1 {
            return None;
        }
        i = end;
    }
    if i < n && (bytes[i] == b'e' || bytes[i] == b'E') {
        i += 1;
        if i < n && (bytes[i] == b'+' || bytes[i] == b'-') {
            i += 1;
        }
        let end = digits_from(i);
        if end == i {
            return None;
        }
        i = end;
    }
    Some(i)
}

/// Scans the string whose opening quote is at `start`; returns its unescaped
/// text (borrowed when there are no escapes) and the index after the closing
/// quote, or the error position and message.
pub(crate) fn scan_string(
    bytes: &[u8],
    start: usize,
) -> Result<(std::borrow::Cow<'_, str>, usize), (usize, &'static str)> {
    let body = start + 1;
    let mut i = body;
    // Fast path: no escapes.
    while let Some(&b) = bytes.get(i) {
        match b {
            b'"' => {
                let text = std::str::from_utf8(&bytes[body..i]).map_err(|_| (i, "invalid UTF-8 in string"))?;
                return Ok((std::borrow::Cow::Borrowed(text), i + 1));
            }
            b'\\' => break,
            0..=0x1f => return Err((i, "control character in string")),
            _ => i += 1,
        }
    }
    let mut out: Vec<u8> = bytes[body..i].to_vec();
    loop {
        match bytes.get(i) {
            None => return Err((i, "unterminated string")),
            Some(b'"') => {
                let text = String::from_utf8(out).map_err(|_| (i, "invalid UTF-8 in string"))?;
                return Ok((std::borrow::Cow::Owned(text), i + 1));
            }
            Some(b'\\') => {
                let escaped = match bytes.get(i + 1) {
                    Some(b'"') => b'"',
                    Some(b'\\') => b'\\',
                    Some(b'/') => b'/',
                    Some(b'b') => 8,
                    Some(b'f') => 12,
                    Some(b'n') => b'\n',
                    Some(b'r') => b'\r',
                    Some(b't') => b'\t',
                    Some(b'u') => {
                        let (c, next) = unicode_escape(bytes, i)?;
                        let mut buf = [0u8; 4];
                        out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                        i = next;
                        continue;
                    }
                    _ => return Err((i, "invalid escape in string")),
                };
                out.push(escaped);
                i += 2;
            }
            Some(0..=0x1f) => return Err((i, "control character in string")),
            Some(&b) => {
                out.push(b);
                i += 1;
            }
        }
    }
}

/// The four hex digits of a `\u` escape. Exactly hex digits: `from_str_radix`
/// alone would also take a sign (`\u+0a0`), which JSON does not allow.
fn hex4(bytes: &[u8], at: usize) -> Option<u32> {
    let digits = bytes.get(at..at + 4)?;
    if !digits.iter().all(u8::is_ascii_hexdigit) {
        return None;
    }
    u32::from_str_radix(std::str::from_utf8(digits).ok()?, 16).ok()
}

fn unicode_escape(bytes: &[u8], at: usize) -> Result<(char, usize), (usize, &'static str)> {
    let high = hex4(bytes, at + 2).ok_or((at, "invalid \\u escape"))?;
    if (0xD800..0xDC00).contains(&high) {
        if bytes.get(at + 6..at + 8) == Some(b"\\u") {
            if let Some(low) = hex4(bytes, at + 8).filter(|l| (0xDC00..0xE000).contains(l)) {
                let c = 0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00);
                return char::from_u32(c).map(|c| (c, at + 12)).ok_or((at, "invalid \\u escape"));
            }
        }
        // A lone surrogate cannot be represented; Java would keep it.
        return Ok(('\u{FFFD}', at + 6));
    }
    if (0xDC00..0xE000).contains(&high) {
        return Ok(('\u{FFFD}', at + 6));
    }
    char::from_u32(high).map(|c| (c, at + 6)).ok_or((at, "invalid \\u escape"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_number_text_order_and_last_duplicate() {
        let j = Json::parse(r#"{"b": 3.0e2, "a": [1, "x\u00e9\ud83d\ude00"], "b": -0}"#).unwrap();
        assert_eq!(
            j,
            Json::Object(vec![
                ("b".into(), Json::Number("-0".into())),
                ("a".into(), Json::Array(vec![Json::Number("1".into()), Json::String("xé😀".into())])),
            ])
        );
    }

    #[test]
    fn errors_have_positions() {
        let e = Json::parse("{\n  'a': 1}").unwrap_err();
        assert_eq!((e.line, e.column), (2, 3));
        assert!(Json::parse("[1, 2").is_err());
        assert!(Json::parse("01").is_err());
        assert!(Json::parse("1.").is_err());
        assert!(Json::parse("\"a\\x\"").is_err());
        assert!(Json::parse("{} x").is_err());
    }

    #[test]
    fn unicode_escapes_take_exactly_four_hex_digits() {
        assert_eq!(Json::parse(r#""\u00e9""#).unwrap(), Json::String("é".into()));
        for bad in [r#""\u+0a0""#, r#""\u-0a0""#, r#""\u0g00""#, r#""\u12""#] {
            assert!(Json::parse(bad).is_err(), "{bad}");
        }
    }
}
