//! Configuration: AWS's own shapes, unchanged, plus our `Autopilot` key.
//!
//! Owns: decoding YAML or JSON, and validation that reports *every* problem
//! with its field path. May not touch: files (callers pass text) or decisions.
//!
//! A configuration is one or more documents whose top-level keys are the keys
//! of the AWS CLI's describe outputs, so their JSON can be pasted (or merged
//! with `jq -s add`) unchanged:
//!
//! | key | from |
//! |---|---|
//! | `ScalableTargets` | `aws application-autoscaling describe-scalable-targets` (or `RegisterScalableTarget` requests) |
//! | `ScalingPolicies` | `… describe-scaling-policies` (or `PutScalingPolicy` requests) |
//! | `ScheduledActions` | `… describe-scheduled-actions` (or `PutScheduledAction` requests) |
//! | `MetricAlarms` | `aws cloudwatch describe-alarms`: the alarms that drive step policies |
//! | `Autopilot` | our extensions ([`extensions`]) |
//!
//! `NextToken` and `CompositeAlarms` (present in describe output) are accepted
//! and ignored.

pub mod aws;
pub mod extensions;
pub mod model;
pub mod query;
mod validate;

pub use extensions::{EvaluationMode, Extensions};
pub use model::*;
pub use query::MetricQuery;

use crate::event::json_kind;
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::fmt;

/// How serious a configuration issue is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// One problem in a configuration, located by document and field path.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ConfigIssue {
    /// The document's name (a file name) when there are several.
    pub document: Option<String>,
    /// Dotted path with indexes, e.g. `ScalingPolicies[1].StepScalingPolicyConfiguration.Cooldown`.
    pub path: String,
    pub message: String,
    pub severity: Severity,
}

impl fmt::Display for ConfigIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.severity == Severity::Warning {
            f.write_str("warning: ")?;
        }
        if let Some(doc) = &self.document {
            write!(f, "{doc}: ")?;
        }
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

/// Every error found in a configuration (warnings included for context).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid configuration ({} error(s)):\n{}", self.error_count(), render_issues(&self.issues))]
pub struct ConfigError {
    pub issues: Vec<ConfigIssue>,
}

impl ConfigError {
    /// How many issues are errors (not warnings).
    #[must_use]
    pub fn error_count(&self) -> usize {
        self.issues.iter().filter(|i| i.severity == Severity::Error).count()
    }
}

fn render_issues(issues: &[ConfigIssue]) -> String {
    issues.iter().map(|i| format!("  {i}")).collect::<Vec<_>>().join("\n")
}

/// Loads a configuration from one YAML or JSON text.
///
/// # Errors
/// [`ConfigError`] listing every problem with its field path.
pub fn load_str(text: &str) -> Result<Config, ConfigError> {
    load_documents(&[("", text)])
}

/// Loads and merges several documents (`(name, text)`); lists under the same
/// key are concatenated, as if the describe outputs were one.
///
/// # Errors
/// [`ConfigError`] listing every problem with its document and field path.
pub fn load_documents(documents: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let mut collector = Collector::default();
    let mut raw = validate::RawConfig::default();
    for (name, text) in documents {
        collector.document = (!name.is_empty()).then(|| (*name).to_owned());
        if let Some(value) = collector.parse_text(text) {
            collector.decode_document(value, &mut raw);
        }
    }
    collector.document = None;
    let config = validate::build(raw, &mut collector);
    if collector.issues.iter().any(|i| i.severity == Severity::Error) {
        return Err(ConfigError { issues: collector.issues });
    }
    Ok(Config { warnings: collector.issues, ..config })
}

/// Accumulates issues while decoding and validating.
#[derive(Default)]
pub(crate) struct Collector {
    pub(crate) issues: Vec<ConfigIssue>,
    pub(crate) document: Option<String>,
    /// Which document each decoded item came from, so that issues found
    /// later (semantic checks) still name their file.
    /// Keyed by the item's path (`ScalableTargets[3]`): one lookup per issue,
    /// so validation stays linear in the number of issues.
    item_documents: std::collections::HashMap<String, String>,
}

impl Collector {
    pub(crate) fn error(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.push(path.into(), message.into(), Severity::Error);
    }

    pub(crate) fn warning(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.push(path.into(), message.into(), Severity::Warning);
    }

    fn push(&mut self, path: String, message: String, severity: Severity) {
        let document = self.document.clone().or_else(|| {
            // The item is the path up to its first index: `Key[n]`, then
            // nothing or `.field…`.
            let end = path.find(']')? + 1;
            let (item, rest) = path.split_at(end);
            (rest.is_empty() || rest.starts_with('.')).then(|| self.item_documents.get(item).cloned()).flatten()
        });
        self.issues.push(ConfigIssue { document, path, message, severity });
    }

    fn parse_text(&mut self, text: &str) -> Option<Value> {
        match crate::document::parse(text) {
            Ok(value) => Some(value),
            Err(message) => {
                self.error("", message);
                None
            }
        }
    }

    fn decode_document(&mut self, value: Value, raw: &mut validate::RawConfig) {
        let Value::Object(top) = value else {
            let kind = json_kind(&value);
            self.error(
                "",
                format!(
                    "the configuration must be a mapping of keys (ScalableTargets, ScalingPolicies, …), found {kind}"
                ),
            );
            return;
        };
        for (key, value) in top {
            match key.as_str() {
                "ScalableTargets" => self.decode_list(&key, value, &mut raw.targets),
                "ScalingPolicies" => self.decode_list(&key, value, &mut raw.policies),
                "ScheduledActions" => self.decode_list(&key, value, &mut raw.scheduled),
                "MetricAlarms" => self.decode_list(&key, value, &mut raw.alarms),
                "Autopilot" => {
                    if let Some(section) = self.decode_one(&key, value) {
                        if raw.autopilot.replace(section).is_some() {
                            self.error(key, "appears in more than one document; keep one Autopilot section");
                        }
                    }
                }
                "NextToken" | "CompositeAlarms" => {}
                other => self.error(
                    other,
                    "unknown top-level key: expected ScalableTargets, ScalingPolicies, ScheduledActions, MetricAlarms or Autopilot",
                ),
            }
        }
    }

    /// Decodes each list item on its own, so one bad item does not hide the
    /// problems of the others.
    fn decode_list<T: DeserializeOwned>(&mut self, key: &str, value: Value, out: &mut Vec<(String, T)>) {
        let Value::Array(items) = value else {
            let kind = json_kind(&value);
            self.error(key, format!("expected a list, found {kind}"));
            return;
        };
        let base = out.len();
        for (index, item) in items.into_iter().enumerate() {
            // Paths index the merged list, so they stay unique across documents.
            let path = format!("{key}[{}]", base + index);
            if let Some(decoded) = self.decode_one(&path, item) {
                if let Some(doc) = &self.document {
                    self.item_documents.insert(path.clone(), doc.clone());
                }
                out.push((path, decoded));
            }
        }
    }

    fn decode_one<T: DeserializeOwned>(&mut self, path: &str, value: Value) -> Option<T> {
        match serde_path_to_error::deserialize::<_, T>(value) {
            Ok(decoded) => Some(decoded),
            Err(error) => {
                let inner = error.path().to_string();
                let message = error.into_inner().to_string();
                let mut full = if inner == "." { path.to_owned() } else { join_path(path, &inner) };
                if let Some(field) = crate::event::missing_field_name(&message) {
                    full = join_path(&full, field);
                }
                if let Some(field) = unknown_field_name(&message) {
                    if !full.ends_with(field) {
                        full = join_path(&full, field);
                    }
                }
                self.error(full, message);
                None
            }
        }
    }
}

fn unknown_field_name(message: &str) -> Option<&str> {
    message.strip_prefix("unknown field `")?.split('`').next()
}

pub(crate) fn join_path(base: &str, tail: &str) -> String {
    match (base.is_empty(), tail.starts_with('[')) {
        (true, _) => tail.to_owned(),
        (false, true) => format!("{base}{tail}"),
        (false, false) => format!("{base}.{tail}"),
    }
}

#[cfg(test)]
mod document_attribution_tests {
    use super::*;

    #[test]
    fn semantic_issues_name_the_document_of_their_item_among_many() {
        // Items from two documents, merged: a semantic error found after
        // decoding names the file its item came from, whatever its index.
        let first: String = std::iter::once("ScalableTargets:".to_owned())
            .chain((0..300).map(|i| format!("  - {{ResourceId: service/c/a{i}, MinCapacity: 1, MaxCapacity: 2}}")))
            .collect::<Vec<_>>()
            .join("\n");
        let second = "ScalableTargets:\n  - {ResourceId: service/c/b, MinCapacity: 5, MaxCapacity: 1}\n";
        let err = load_documents(&[("first.yaml", &first), ("second.yaml", second)]).unwrap_err();
        let issue = err.issues.iter().find(|i| i.path == "ScalableTargets[300].MinCapacity").expect("the issue");
        assert_eq!(issue.document.as_deref(), Some("second.yaml"), "{issue:?}");
        // A path that only starts like an item ("…[30" vs "…[300]") is not it.
        let mut collector = Collector::default();
        collector.item_documents.insert("ScalableTargets[30]".into(), "first.yaml".into());
        collector.error("ScalableTargets[300]", "x");
        collector.error("ScalableTargets[30].MaxCapacity", "y");
        assert_eq!(collector.issues[0].document, None);
        assert_eq!(collector.issues[1].document.as_deref(), Some("first.yaml"));
    }
}
