//! `AwsTime`: a timestamp as AWS wrote it.
//!
//! AWS events carry timestamps in more than one spelling: RFC 3339 in ECS
//! details (`2020-01-23T17:57:34.402Z`) and `+0000` offsets without a colon in
//! CloudWatch alarm details (`2019-10-01T13:56:40.987+0000`). `AwsTime`
//! validates the text when an event is parsed (so a malformed timestamp is an
//! error naming its field) and keeps the original text, so a parsed event
//! serialises back to exactly what was received.

use jiff::Timestamp;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// A validated timestamp that remembers its original spelling.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AwsTime {
    instant: Timestamp,
    text: String,
}

impl AwsTime {
    /// Parses RFC 3339 or the CloudWatch `±hhmm` offset form.
    ///
    /// # Errors
    /// Returns a message saying which forms are accepted when `text` is neither.
    pub fn parse(text: &str) -> Result<Self, String> {
        parse_instant(text).map(|instant| Self { instant, text: text.to_owned() })
    }

    /// The instant this timestamp denotes.
    #[must_use]
    pub fn instant(&self) -> Timestamp {
        self.instant
    }

    /// The timestamp exactly as AWS wrote it.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl From<Timestamp> for AwsTime {
    fn from(instant: Timestamp) -> Self {
        Self { instant, text: instant.to_string() }
    }
}

impl fmt::Display for AwsTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// Parses an AWS timestamp into an instant.
///
/// # Errors
/// Returns a lowercase message naming the accepted forms.
pub fn parse_instant(text: &str) -> Result<Timestamp, String> {
    if let Ok(ts) = text.parse::<Timestamp>() {
        return Ok(ts);
    }
    // CloudWatch writes offsets as `+0000`; jiff's strptime understands `%z`.
    for format in ["%Y-%m-%dT%H:%M:%S%.f%z", "%Y-%m-%dT%H:%M:%S%z"] {
        if let Ok(zoned) = jiff::fmt::strtime::parse(format, text).and_then(|p| p.to_timestamp()) {
            return Ok(zoned);
        }
    }
    Err(format!(
        "invalid timestamp {text:?}: expected RFC 3339 (2020-01-23T17:57:34.402Z) or an ISO 8601 time with a ±hhmm offset"
    ))
}

impl Serialize for AwsTime {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for AwsTime {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        AwsTime::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_and_cloudwatch_offsets_parse_to_the_same_instant() {
        let a = AwsTime::parse("2019-10-01T13:56:40.987Z").unwrap();
        let b = AwsTime::parse("2019-10-01T13:56:40.987+0000").unwrap();
        assert_eq!(a.instant(), b.instant());
        assert_eq!(b.as_str(), "2019-10-01T13:56:40.987+0000");
    }

    #[test]
    fn garbage_is_rejected_with_the_accepted_forms() {
        let err = AwsTime::parse("yesterday").unwrap_err();
        assert!(err.contains("\"yesterday\""), "{err}");
        assert!(err.contains("RFC 3339"), "{err}");
    }
}
