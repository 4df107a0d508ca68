//! What a function reads from its environment at cold start, validated once:
//! a wrong value fails the init with a message naming the variable.

use ecs_autopilot::capacity::CapacityOptions;
use ecs_autopilot::config::extensions::{CapacitySection, DisruptionBudget, DISRUPTION_RANGES};
use ecs_autopilot::config::EvaluationMode;
use ecs_autopilot::handler::{ApiBudget, Shard, DEFAULT_CONCURRENCY};
use std::collections::HashMap;

/// A bad or missing environment variable, or an invalid configuration.
#[derive(thiserror::Error)]
pub enum InitError {
    #[error("environment variable {name}: {reason}")]
    Env { name: &'static str, reason: String },
    #[error("configuration {source_name}: {reason}")]
    Config { source_name: String, reason: String },
}

/// `main` returns this error and Rust prints it with `Debug`: the message
/// a person reads at a failed init is the `Display` text.
impl std::fmt::Debug for InitError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

/// Where the scaling configuration comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConfigSource {
    /// A YAML or JSON file bundled with the function.
    File(String),
    /// Every parameter under an SSM Parameter Store path (merged).
    ParameterPath(String),
}

/// The controller function's settings.
#[derive(Clone, Debug)]
pub struct ControllerEnv {
    pub config: ConfigSource,
    pub table: String,
    pub shadow: bool,
    pub event_bus: Option<String>,
    /// `AUTOPILOT_POLL_WINDOW_SECONDS` (0 to 50, default 50): how long an
    /// invocation of the tick polls (docs/lambdas.md).
    pub poll_window_seconds: u32,
    /// `AUTOPILOT_CONCURRENCY` (1 to 256, default 32): targets read and
    /// claimed at once in a round (docs/fleet.md).
    pub concurrency: u32,
    /// `AUTOPILOT_BUDGET_DESCRIBE_SERVICES`, `_GET_METRIC_DATA`,
    /// `_UPDATE_SERVICE` (each at least 1): calls per round (docs/fleet.md).
    pub budget: ApiBudget,
    /// `AUTOPILOT_SHARD` as `<index>/<count>` (default `0/1`): the part of
    /// the fleet this function's ticks evaluate (docs/fleet.md, "Fan-out").
    pub shard: Shard,
}

/// The most targets one round claims at once.
pub const MAX_CONCURRENCY: u32 = 256;

/// A whole number in `range` from `name`, or `default` when unset.
fn bounded(
    env: &Env,
    name: &'static str,
    range: std::ops::RangeInclusive<u32>,
    default: u32,
) -> Result<u32, InitError> {
    match optional(env, name) {
        None => Ok(default),
        Some(v) => match v.parse::<u32>() {
            Ok(n) if range.contains(&n) => Ok(n),
            _ => Err(InitError::Env {
                name,
                reason: format!("{v:?} is not a whole number from {} to {}", range.start(), range.end()),
            }),
        },
    }
}

fn budget(env: &Env) -> Result<ApiBudget, InitError> {
    let d = ApiBudget::default();
    Ok(ApiBudget {
        describe_services: bounded(env, "AUTOPILOT_BUDGET_DESCRIBE_SERVICES", 1..=u32::MAX, d.describe_services)?,
        get_metric_data: bounded(env, "AUTOPILOT_BUDGET_GET_METRIC_DATA", 1..=u32::MAX, d.get_metric_data)?,
        update_service: bounded(env, "AUTOPILOT_BUDGET_UPDATE_SERVICE", 1..=u32::MAX, d.update_service)?,
    })
}

fn shard(env: &Env) -> Result<Shard, InitError> {
    const NAME: &str = "AUTOPILOT_SHARD";
    let Some(v) = optional(env, NAME) else { return Ok(Shard::WHOLE) };
    v.parse::<Shard>().map_err(|e| InitError::Env { name: NAME, reason: e.to_string() })
}

/// The longest poll window: the tick comes every minute and the function's
/// timeout (`infra/template.yaml`) must leave room for the last evaluation.
pub const MAX_POLL_WINDOW_SECONDS: u32 = 50;

fn poll_window(env: &Env) -> Result<u32, InitError> {
    const NAME: &str = "AUTOPILOT_POLL_WINDOW_SECONDS";
    match optional(env, NAME) {
        None => Ok(MAX_POLL_WINDOW_SECONDS),
        Some(v) => match v.parse::<u32>() {
            Ok(n) if n <= MAX_POLL_WINDOW_SECONDS => Ok(n),
            _ => Err(InitError::Env {
                name: NAME,
                reason: format!("{v:?} is not a whole number of seconds from 0 to {MAX_POLL_WINDOW_SECONDS}"),
            }),
        },
    }
}

/// The capacity function's settings.
#[derive(Clone, Debug)]
pub struct CapacityEnv {
    pub cluster: String,
    pub providers: Vec<String>,
    pub mode: EvaluationMode,
    /// The planner's options from the environment alone: the mode, the
    /// disruption budget (`AUTOPILOT_DISRUPTION_INSTANCES`, `_PERCENT`,
    /// `_WINDOW_SECONDS`) and `AUTOPILOT_CONSOLIDATION`.
    pub options: CapacityOptions,
    /// What those variables set (the rest unset), to lay over the
    /// configuration's `Autopilot.Capacity`.
    pub overrides: CapacitySection,
    /// The configuration holding `Autopilot.Capacity`, when given
    /// (`AUTOPILOT_CONFIG_PARAMETER_PATH` or `AUTOPILOT_CONFIG_FILE`).
    pub config: Option<ConfigSource>,
    pub instance_types: serde_json::Value,
    pub table: String,
    pub shadow: bool,
    pub event_bus: Option<String>,
}

/// Environment variables as a map (tests pass their own).
pub type Env = HashMap<String, String>;

fn required(env: &Env, name: &'static str) -> Result<String, InitError> {
    match env.get(name).map(|v| v.trim()) {
        Some(v) if !v.is_empty() => Ok(v.to_owned()),
        _ => Err(InitError::Env { name, reason: "required and not set".into() }),
    }
}

fn optional(env: &Env, name: &str) -> Option<String> {
    env.get(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

fn shadow(env: &Env) -> Result<bool, InitError> {
    match optional(env, "AUTOPILOT_SHADOW").as_deref() {
        None | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(other) => {
            Err(InitError::Env { name: "AUTOPILOT_SHADOW", reason: format!("{other:?} is not true or false") })
        }
    }
}

/// Where the configuration comes from, if anywhere.
fn config_source(env: &Env) -> Result<Option<ConfigSource>, InitError> {
    Ok(Some(match (optional(env, "AUTOPILOT_CONFIG_FILE"), optional(env, "AUTOPILOT_CONFIG_PARAMETER_PATH")) {
        (Some(file), None) => ConfigSource::File(file),
        (None, Some(path)) if path.starts_with('/') => ConfigSource::ParameterPath(path),
        (None, Some(path)) => {
            return Err(InitError::Env {
                name: "AUTOPILOT_CONFIG_PARAMETER_PATH",
                reason: format!("{path:?} must start with / (an SSM parameter path)"),
            })
        }
        (Some(_), Some(_)) => {
            return Err(InitError::Env {
                name: "AUTOPILOT_CONFIG_FILE",
                reason: "set either it or AUTOPILOT_CONFIG_PARAMETER_PATH, not both".into(),
            })
        }
        (None, None) => return Ok(None),
    }))
}

impl ControllerEnv {
    /// # Errors
    /// [`InitError::Env`] naming the variable.
    pub fn from_env(env: &Env) -> Result<Self, InitError> {
        let config = config_source(env)?.ok_or_else(|| InitError::Env {
            name: "AUTOPILOT_CONFIG_FILE",
            reason: "set it (a bundled YAML/JSON file) or AUTOPILOT_CONFIG_PARAMETER_PATH".into(),
        })?;
        Ok(Self {
            config,
            table: required(env, "AUTOPILOT_STATE_TABLE")?,
            shadow: shadow(env)?,
            event_bus: optional(env, "AUTOPILOT_EVENT_BUS"),
            poll_window_seconds: poll_window(env)?,
            concurrency: bounded(env, "AUTOPILOT_CONCURRENCY", 1..=MAX_CONCURRENCY, DEFAULT_CONCURRENCY)?,
            budget: budget(env)?,
            shard: shard(env)?,
        })
    }
}

impl CapacityEnv {
    /// # Errors
    /// [`InitError::Env`] naming the variable.
    pub fn from_env(env: &Env) -> Result<Self, InitError> {
        let providers: Vec<String> = required(env, "AUTOPILOT_CAPACITY_PROVIDERS")?
            .split(',')
            .map(|p| p.trim().to_owned())
            .filter(|p| !p.is_empty())
            .collect();
        let mode = match optional(env, "AUTOPILOT_CAPACITY_MODE").as_deref() {
            None | Some("fast") => EvaluationMode::Fast,
            Some("aws") => EvaluationMode::Aws,
            Some(other) => {
                return Err(InitError::Env {
                    name: "AUTOPILOT_CAPACITY_MODE",
                    reason: format!("{other:?} is not fast or aws"),
                })
            }
        };
        let types_text = required(env, "AUTOPILOT_INSTANCE_TYPES")?;
        let instance_types: serde_json::Value = serde_json::from_str(&types_text).map_err(|e| InitError::Env {
            name: "AUTOPILOT_INSTANCE_TYPES",
            reason: format!("not JSON ({e}); expected {{\"m6g.large\": {{\"cpu\": 2048, \"memory\": 7680}}}}"),
        })?;
        let Some(types) = instance_types.as_object().filter(|m| !m.is_empty()) else {
            return Err(InitError::Env {
                name: "AUTOPILOT_INSTANCE_TYPES",
                reason: "must be a non-empty JSON object".into(),
            });
        };
        for (name, t) in types {
            let ok =
                ["cpu", "memory"].iter().all(|k| t.get(k).and_then(serde_json::Value::as_u64).is_some_and(|n| n > 0));
            if !ok {
                return Err(InitError::Env {
                    name: "AUTOPILOT_INSTANCE_TYPES",
                    reason: format!("{name}: needs positive whole cpu (units) and memory (MiB)"),
                });
            }
        }
        let overrides = capacity_overrides(env)?;
        let options = CapacityOptions::with_section(mode, &overrides);
        options.check().map_err(|e| InitError::Env { name: "AUTOPILOT_DISRUPTION_*", reason: e.to_string() })?;
        Ok(Self {
            cluster: required(env, "AUTOPILOT_CLUSTER")?,
            providers,
            mode,
            options,
            overrides,
            config: config_source(env)?,
            instance_types,
            table: required(env, "AUTOPILOT_STATE_TABLE")?,
            shadow: shadow(env)?,
            event_bus: optional(env, "AUTOPILOT_EVENT_BUS"),
        })
    }
}

/// The capacity settings the environment sets: the disruption budget's
/// variables and `AUTOPILOT_CONSOLIDATION`, each optional and checked as
/// the configuration's `Autopilot.Capacity` is.
fn capacity_overrides(env: &Env) -> Result<CapacitySection, InitError> {
    const NAMES: [&str; 3] =
        ["AUTOPILOT_DISRUPTION_INSTANCES", "AUTOPILOT_DISRUPTION_PERCENT", "AUTOPILOT_DISRUPTION_WINDOW_SECONDS"];
    let mut values = [None; 3];
    for ((name, (_, min, max)), value) in NAMES.into_iter().zip(DISRUPTION_RANGES).zip(values.iter_mut()) {
        let Some(text) = optional(env, name) else { continue };
        *value = Some(text.parse().ok().filter(|v| (min..=max).contains(v)).ok_or_else(|| InitError::Env {
            name,
            reason: format!("{text:?} is not a whole number from {min} to {max}"),
        })?);
    }
    let consolidation = match optional(env, "AUTOPILOT_CONSOLIDATION").as_deref() {
        None => None,
        Some("false") => Some(false),
        Some("true") => Some(true),
        Some(other) => {
            return Err(InitError::Env {
                name: "AUTOPILOT_CONSOLIDATION",
                reason: format!("{other:?} is not true or false"),
            })
        }
    };
    let [instances, percent, window_seconds] = values;
    Ok(CapacitySection { disruption_budget: DisruptionBudget { instances, percent, window_seconds }, consolidation })
}

/// The capacity function's options: `section` (the configuration's
/// `Autopilot.Capacity`) with the environment's `overrides` laid over it.
///
/// # Errors
/// [`InitError::Env`] when the result is out of range.
pub fn capacity_options(
    mode: EvaluationMode,
    section: &CapacitySection,
    overrides: &CapacitySection,
) -> Result<CapacityOptions, InitError> {
    let options = CapacityOptions::with_section(mode, &section.overlaid_by(overrides));
    options.check().map_err(|e| InitError::Env { name: "AUTOPILOT_DISRUPTION_*", reason: e.to_string() })?;
    Ok(options)
}

/// Validates configuration documents for the capacity function: as the
/// core does, scalable targets optional (it reads `Autopilot.Capacity`).
///
/// # Errors
/// [`InitError::Config`] with every problem, each naming its field.
pub fn parse_capacity_config(documents: &[(&str, &str)]) -> Result<ecs_autopilot::config::Config, InitError> {
    let names: Vec<&str> = documents.iter().map(|(n, _)| *n).collect();
    ecs_autopilot::config::load_documents(documents)
        .map_err(|e| InitError::Config { source_name: names.join(", "), reason: e.to_string() })
}

/// Validates configuration documents `(name, text)` as the core does.
///
/// # Errors
/// [`InitError::Config`] with every problem, each naming its field.
pub fn parse_config(documents: &[(&str, &str)]) -> Result<ecs_autopilot::config::Config, InitError> {
    let names: Vec<&str> = documents.iter().map(|(n, _)| *n).collect();
    let config = ecs_autopilot::config::load_documents(documents)
        .map_err(|e| InitError::Config { source_name: names.join(", "), reason: e.to_string() })?;
    if config.targets.is_empty() {
        return Err(InitError::Config {
            source_name: names.join(", "),
            reason: "no ScalableTargets: nothing to control".into(),
        });
    }
    Ok(config)
}
