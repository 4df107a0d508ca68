//! Rules from an AWS SAM / CloudFormation template (`infra/template.yaml`,
//! the single source of truth for routing) or from a plain rules file.
//!
//! Read from a template:
//! * `AWS::Events::Rule` resources: `EventPattern` (a mapping or a JSON
//!   string), or `ScheduleExpression`;
//! * `AWS::Serverless::Function` events of type `EventBridgeRule`
//!   (`Pattern`), `Schedule` and `ScheduleV2`, named `<Function>.<Event>`.
//!
//! Intrinsics inside patterns are resolved against parameter values
//! (defaults, or overrides): `!Ref` (parameters and `AWS::*` pseudo
//! parameters; a `CommaDelimitedList` becomes a list), `!Sub`, `!Join`.
//! `Conditions` (`!Equals`, `!Not`, `!And`, `!Or`, `!Condition`) are
//! evaluated on the same values: a resource whose `Condition` is false is
//! left out, and a rule target written `!If [condition, target,
//! !Ref AWS::NoValue]` is kept only when the condition holds.
//! A schedule rule has no pattern; locally it is given the pattern of the
//! events schedules deliver (`source` `aws.events` / `aws.scheduler`,
//! `detail-type` `Scheduled Event`).

use super::json::Json;
use super::pattern::{compile, PatternError};
use super::Rule;
use serde_yaml_ng::Value as Yaml;
use std::collections::BTreeMap;

/// A rule read from a template, with the function it targets when known.
#[derive(Clone, Debug)]
pub struct TemplateRule {
    pub rule: Rule,
    /// Logical ids of the functions the rule invokes.
    pub targets: Vec<String>,
    /// The `ScheduleExpression` of a schedule rule (`rate(1 minute)`).
    pub schedule: Option<String>,
}

/// Why rules could not be loaded.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("not valid YAML or JSON: {0}")]
    Syntax(String),
    #[error("{location}: {message}")]
    Invalid { location: String, message: String },
    #[error("{location}: {error}")]
    Pattern { location: String, error: PatternError },
}

/// Pseudo parameter values used when none is given.
const PSEUDO: [(&str, &str); 5] = [
    ("AWS::Partition", "aws"),
    ("AWS::Region", "us-east-1"),
    ("AWS::AccountId", "123456789012"),
    ("AWS::StackName", "ecs-autopilot"),
    ("AWS::URLSuffix", "amazonaws.com"),
];

/// The pattern schedule rules get locally.
const SCHEDULE_PATTERN: &str = r#"{"source": ["aws.events", "aws.scheduler"], "detail-type": ["Scheduled Event"]}"#;

/// Loads rules from template text, with parameter overrides.
///
/// # Errors
/// [`TemplateError`] naming the resource and what is wrong.
pub fn rules_from_template(
    text: &str,
    overrides: &BTreeMap<String, String>,
) -> Result<Vec<TemplateRule>, TemplateError> {
    let doc: Yaml = serde_yaml_ng::from_str(text).map_err(|e| TemplateError::Syntax(e.to_string()))?;
    let mut params: BTreeMap<String, Json> = BTreeMap::new();
    for (k, v) in PSEUDO {
        params.insert(k.to_owned(), Json::String(v.to_owned()));
    }
    if let Some(Yaml::Mapping(declared)) = doc.get("Parameters") {
        for (name, spec) in declared {
            let Some(name) = name.as_str() else { continue };
            let list = spec
                .get("Type")
                .and_then(Yaml::as_str)
                .is_some_and(|t| t.starts_with("CommaDelimitedList") || t.starts_with("List<"));
            let value = overrides.get(name).cloned().or_else(|| spec.get("Default").map(scalar_text));
            if let Some(value) = value {
                let json = if list {
                    Json::Array(value.split(',').map(|s| Json::String(s.trim().to_owned())).collect())
                } else {
                    Json::String(value)
                };
                params.insert(name.to_owned(), json);
            }
        }
    }
    for (name, value) in overrides {
        params.entry(name.clone()).or_insert_with(|| Json::String(value.clone()));
    }
    let Some(Yaml::Mapping(resources)) = doc.get("Resources") else {
        return Err(TemplateError::Invalid {
            location: "Resources".into(),
            message: "the template has no Resources mapping".into(),
        });
    };
    let conditions = Conditions { declared: doc.get("Conditions").and_then(Yaml::as_mapping), params: &params };
    let mut out = Vec::new();
    for (id, resource) in resources {
        let id = id.as_str().unwrap_or_default();
        // A resource whose condition is false is not deployed: its rules
        // route nothing, as in the stack these parameters would create.
        if let Some(name) = resource.get("Condition").and_then(Yaml::as_str) {
            if !conditions.named(name, &format!("Resources.{id}.Condition"), 0)? {
                continue;
            }
        }
        let kind = resource.get("Type").and_then(Yaml::as_str).unwrap_or_default();
        let props = resource.get("Properties");
        match kind {
            "AWS::Events::Rule" => {
                let location = format!("Resources.{id}");
                let mut targets = Vec::new();
                for t in props.and_then(|p| p.get("Targets")).and_then(Yaml::as_sequence).into_iter().flatten() {
                    let Some(t) = conditions.chosen(t, &format!("{location}.Properties.Targets"))? else { continue };
                    targets.extend(t.get("Arn").and_then(referenced_resource));
                }
                if let Some(pattern) = props.and_then(|p| p.get("EventPattern")) {
                    out.push(TemplateRule { rule: rule(id, pattern, &params, &location)?, targets, schedule: None });
                } else if let Some(expression) = props.and_then(|p| p.get("ScheduleExpression")) {
                    let schedule = Some(scalar_text(expression));
                    out.push(TemplateRule { rule: schedule_rule(id, &location)?, targets, schedule });
                }
            }
            "AWS::Serverless::Function" => {
                let Some(Yaml::Mapping(events)) = props.and_then(|p| p.get("Events")) else { continue };
                for (event_id, event) in events {
                    let name = format!("{id}.{}", event_id.as_str().unwrap_or_default());
                    let location =
                        format!("Resources.{id}.Properties.Events.{}", event_id.as_str().unwrap_or_default());
                    let event_props = event.get("Properties");
                    match event.get("Type").and_then(Yaml::as_str) {
                        Some("EventBridgeRule" | "CloudWatchEvent") => {
                            let Some(pattern) = event_props.and_then(|p| p.get("Pattern")) else {
                                return Err(TemplateError::Invalid {
                                    location,
                                    message: "an EventBridgeRule event needs Properties.Pattern".into(),
                                });
                            };
                            out.push(TemplateRule {
                                rule: rule(&name, pattern, &params, &location)?,
                                targets: vec![id.to_owned()],
                                schedule: None,
                            });
                        }
                        Some("Schedule" | "ScheduleV2") => {
                            let schedule = event_props.and_then(|p| p.get("Schedule")).map(scalar_text);
                            out.push(TemplateRule {
                                rule: schedule_rule(&name, &location)?,
                                targets: vec![id.to_owned()],
                                schedule,
                            });
                        }
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    Ok(out)
}

/// Loads rules from a plain rules file: a JSON (or YAML) object mapping rule
/// names to patterns (objects or JSON strings).
///
/// # Errors
/// [`TemplateError`] naming the rule and what is wrong.
pub fn rules_from_file(text: &str) -> Result<Vec<Rule>, TemplateError> {
    let doc = if text.trim_start().starts_with('{') {
        Json::parse(text).map_err(|e| TemplateError::Syntax(e.to_string()))?
    } else {
        let yaml: Yaml = serde_yaml_ng::from_str(text).map_err(|e| TemplateError::Syntax(e.to_string()))?;
        resolve(&yaml, &BTreeMap::new(), "")?
    };
    let Json::Object(members) = doc else {
        return Err(TemplateError::Invalid {
            location: String::new(),
            message: "a rules file maps rule names to patterns".into(),
        });
    };
    members
        .iter()
        .map(|(name, pattern)| {
            let pattern = match pattern {
                Json::String(text) => Json::parse(text).map_err(|e| TemplateError::Invalid {
                    location: name.clone(),
                    message: format!("pattern is not valid JSON: {e}"),
                })?,
                other => other.clone(),
            };
            compile(&pattern)
                .map(|pattern| Rule { name: name.clone(), pattern })
                .map_err(|error| TemplateError::Pattern { location: name.clone(), error })
        })
        .collect()
}

fn rule(name: &str, pattern: &Yaml, params: &BTreeMap<String, Json>, location: &str) -> Result<Rule, TemplateError> {
    let resolved = resolve(pattern, params, location)?;
    // A pattern written as a JSON string.
    let resolved = match resolved {
        Json::String(text) => Json::parse(&text).map_err(|e| TemplateError::Invalid {
            location: location.to_owned(),
            message: format!("EventPattern is not valid JSON: {e}"),
        })?,
        other => other,
    };
    compile(&resolved)
        .map(|pattern| Rule { name: name.to_owned(), pattern })
        .map_err(|error| TemplateError::Pattern { location: location.to_owned(), error })
}

fn schedule_rule(name: &str, location: &str) -> Result<Rule, TemplateError> {
    let pattern = Json::parse(SCHEDULE_PATTERN)
        .map_err(|e| TemplateError::Invalid { location: location.to_owned(), message: e.to_string() })?;
    compile(&pattern)
        .map(|pattern| Rule { name: name.to_owned(), pattern })
        .map_err(|error| TemplateError::Pattern { location: location.to_owned(), error })
}

fn scalar_text(v: &Yaml) -> String {
    match v {
        Yaml::String(s) => s.clone(),
        Yaml::Number(n) => n.to_string(),
        Yaml::Bool(b) => b.to_string(),
        Yaml::Sequence(items) => items.iter().map(scalar_text).collect::<Vec<_>>().join(","),
        _ => String::new(),
    }
}

/// The logical id an `Arn` property points at (`!GetAtt Fn.Arn`, `!Ref Fn`).
fn referenced_resource(v: &Yaml) -> Option<String> {
    match v {
        Yaml::Tagged(t) if t.tag == "GetAtt" || t.tag == "Ref" => {
            t.value.as_str().map(|s| s.split('.').next().unwrap_or(s).to_owned())
        }
        Yaml::Mapping(m) => m
            .get("Fn::GetAtt")
            .and_then(|g| g.as_sequence().and_then(|s| s.first()).and_then(Yaml::as_str).map(str::to_owned))
            .or_else(|| m.get("Ref").and_then(Yaml::as_str).map(str::to_owned)),
        _ => None,
    }
}

/// Resolves a YAML value with intrinsics into JSON.
fn resolve(v: &Yaml, params: &BTreeMap<String, Json>, location: &str) -> Result<Json, TemplateError> {
    let invalid = |message: String| TemplateError::Invalid { location: location.to_owned(), message };
    Ok(match v {
        Yaml::Null => Json::Null,
        Yaml::Bool(b) => Json::Bool(*b),
        Yaml::Number(n) => Json::Number(n.to_string()),
        Yaml::String(s) => Json::String(s.clone()),
        Yaml::Sequence(items) => {
            let mut out = Vec::new();
            for item in items {
                // A list parameter referenced inside a list is spliced in.
                match resolve(item, params, location)? {
                    Json::Array(inner) if is_ref(item) => out.extend(inner),
                    other => out.push(other),
                }
            }
            Json::Array(out)
        }
        Yaml::Mapping(m) => {
            if m.len() == 1 {
                if let Some((Yaml::String(key), arg)) = m.iter().next() {
                    if let Some(function) = key.strip_prefix("Fn::").or((key == "Ref").then_some("Ref")) {
                        return intrinsic(function, arg, params, location);
                    }
                }
            }
            let mut members = Vec::new();
            for (k, value) in m {
                let key = k.as_str().ok_or_else(|| invalid("pattern keys must be strings".into()))?;
                members.push((key.to_owned(), resolve(value, params, location)?));
            }
            Json::Object(members)
        }
        Yaml::Tagged(t) => intrinsic(t.tag.to_string().trim_start_matches('!'), &t.value, params, location)?,
    })
}

fn is_ref(v: &Yaml) -> bool {
    match v {
        Yaml::Tagged(t) => t.tag == "Ref",
        Yaml::Mapping(m) => m.len() == 1 && m.contains_key("Ref"),
        _ => false,
    }
}

fn intrinsic(
    function: &str,
    arg: &Yaml,
    params: &BTreeMap<String, Json>,
    location: &str,
) -> Result<Json, TemplateError> {
    let invalid = |message: String| TemplateError::Invalid { location: location.to_owned(), message };
    match function {
        "Ref" => {
            let name = arg.as_str().ok_or_else(|| invalid("!Ref takes a name".into()))?;
            params.get(name).cloned().ok_or_else(|| {
                invalid(format!("!Ref {name}: no such parameter with a value (give a Default or an override)"))
            })
        }
        "Sub" => {
            let (text, vars) = match arg {
                Yaml::String(s) => (s.clone(), BTreeMap::new()),
                Yaml::Sequence(items) if !items.is_empty() => {
                    let text = items[0].as_str().ok_or_else(|| invalid("!Sub needs a string".into()))?.to_owned();
                    let mut vars = BTreeMap::new();
                    if let Some(Yaml::Mapping(m)) = items.get(1) {
                        for (k, v) in m {
                            vars.insert(k.as_str().unwrap_or_default().to_owned(), resolve(v, params, location)?);
                        }
                    }
                    (text, vars)
                }
                _ => return Err(invalid("!Sub needs a string or [string, variables]".into())),
            };
            let mut out = String::new();
            let mut rest = text.as_str();
            while let Some(start) = rest.find("${") {
                out.push_str(&rest[..start]);
                let after = &rest[start + 2..];
                let end = after.find('}').ok_or_else(|| invalid(format!("!Sub {text:?}: unclosed ${{")))?;
                let name = &after[..end];
                let value = vars
                    .get(name)
                    .or_else(|| params.get(name))
                    .ok_or_else(|| invalid(format!("!Sub {text:?}: unknown variable {name}")))?;
                match value {
                    Json::String(s) => out.push_str(s),
                    other => out.push_str(&other.to_string()),
                }
                rest = &after[end + 1..];
            }
            out.push_str(rest);
            Ok(Json::String(out))
        }
        "Join" => {
            let items = arg
                .as_sequence()
                .filter(|s| s.len() == 2)
                .ok_or_else(|| invalid("!Join takes [separator, list]".into()))?;
            let separator = items[0].as_str().unwrap_or_default();
            let parts = match resolve(&items[1], params, location)? {
                Json::Array(parts) => parts,
                other => vec![other],
            };
            let texts: Vec<String> = parts
                .iter()
                .map(|p| match p {
                    Json::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect();
            Ok(Json::String(texts.join(separator)))
        }
        other => Err(invalid(format!(
            "intrinsic function {other} is not supported in event patterns (use Ref, Sub or Join)"
        ))),
    }
}

/// The template's `Conditions`, evaluated on the parameter values.
struct Conditions<'a> {
    declared: Option<&'a serde_yaml_ng::Mapping>,
    params: &'a BTreeMap<String, Json>,
}

/// Conditions nest at most this deep (a cycle is an error, not a hang).
const CONDITION_DEPTH: usize = 32;

impl Conditions<'_> {
    /// Whether the condition declared as `name` holds.
    fn named(&self, name: &str, location: &str, depth: usize) -> Result<bool, TemplateError> {
        let invalid = |message: String| TemplateError::Invalid { location: location.to_owned(), message };
        if depth > CONDITION_DEPTH {
            return Err(invalid(format!("condition {name} nests more than {CONDITION_DEPTH} deep (a cycle?)")));
        }
        let body = self
            .declared
            .and_then(|c| c.get(name))
            .ok_or_else(|| invalid(format!("condition {name} is not declared under Conditions")))?;
        self.holds(body, &format!("Conditions.{name}"), depth + 1)
    }

    /// Whether a condition function (`!Equals`, `!Not`, `!And`, `!Or`,
    /// `!Condition`) holds.
    fn holds(&self, v: &Yaml, location: &str, depth: usize) -> Result<bool, TemplateError> {
        let invalid = |message: String| TemplateError::Invalid { location: location.to_owned(), message };
        let (function, arg) = function_of(v).ok_or_else(|| invalid("expected a condition function".into()))?;
        let args = || arg.as_sequence().map(Vec::as_slice).unwrap_or_default();
        match function {
            "Equals" => match args() {
                [a, b] => Ok(resolve(a, self.params, location)? == resolve(b, self.params, location)?),
                _ => Err(invalid("!Equals takes [value, value]".into())),
            },
            "Not" => match args() {
                [x] => Ok(!self.holds(x, location, depth + 1)?),
                _ => Err(invalid("!Not takes [condition]".into())),
            },
            "And" | "Or" => {
                let mut results = Vec::new();
                for x in args() {
                    results.push(self.holds(x, location, depth + 1)?);
                }
                Ok(if function == "And" { results.iter().all(|r| *r) } else { results.iter().any(|r| *r) })
            }
            "Condition" => {
                let name = arg.as_str().ok_or_else(|| invalid("!Condition takes a name".into()))?;
                self.named(name, location, depth + 1)
            }
            other => Err(invalid(format!("{other} is not a condition function (Equals, Not, And, Or, Condition)"))),
        }
    }

    /// A list item that may be `!If [condition, item, else]`: the item the
    /// condition chooses, `None` for `!Ref AWS::NoValue`.
    fn chosen<'v>(&self, v: &'v Yaml, location: &str) -> Result<Option<&'v Yaml>, TemplateError> {
        let Some(("If", arg)) = function_of(v) else { return Ok(Some(v)) };
        let invalid = |message: String| TemplateError::Invalid { location: location.to_owned(), message };
        let [name, then, otherwise] = arg.as_sequence().map(Vec::as_slice).unwrap_or_default() else {
            return Err(invalid("!If takes [condition, value if true, value if false]".into()));
        };
        let name = name.as_str().ok_or_else(|| invalid("!If names a condition first".into()))?;
        let picked = if self.named(name, location, 0)? { then } else { otherwise };
        let no_value = matches!(function_of(picked), Some(("Ref", r)) if r.as_str() == Some("AWS::NoValue"));
        Ok((!no_value).then_some(picked))
    }
}

/// The intrinsic function a value is written with (`!Tag arg` or
/// `{"Fn::Tag": arg}` / `{"Ref": arg}`), and its argument.
fn function_of(v: &Yaml) -> Option<(&str, &Yaml)> {
    match v {
        Yaml::Tagged(t) => {
            let tag = t.tag.to_string();
            let name = match tag.trim_start_matches('!') {
                "If" => "If",
                "Equals" => "Equals",
                "Not" => "Not",
                "And" => "And",
                "Or" => "Or",
                "Condition" => "Condition",
                "Ref" => "Ref",
                _ => return None,
            };
            Some((name, &t.value))
        }
        Yaml::Mapping(m) if m.len() == 1 => {
            let (Yaml::String(key), arg) = m.iter().next()? else { return None };
            let name = if key == "Ref" || key == "Condition" { key.as_str() } else { key.strip_prefix("Fn::")? };
            Some((name, arg))
        }
        _ => None,
    }
}
