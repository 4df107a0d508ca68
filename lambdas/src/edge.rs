//! What the Lambda `main`s call: settings and clients built once at cold
//! start, then one handler call per event, with logs and error mapping.
//!
//! Every evaluation logs its decision record as JSON (tracing) and prints a
//! CloudWatch Embedded Metric Format line, so metrics cost no API call.

use crate::capacity::AwsCapacity;
use crate::cloudwatch::CloudWatchMetrics;
use crate::dynamodb::DynamoState;
use crate::ecs::EcsServices;
use crate::eventbridge::{EventBridgeDecisions, Publisher};
use crate::settings::{self, CapacityEnv, ConfigSource, ControllerEnv, Env, InitError};
use ecs_autopilot::capacity::CapacityOptions;
use ecs_autopilot::config::Config;
use ecs_autopilot::handler::capacity::{handle_capacity_event, CapacityReport};
use ecs_autopilot::handler::{self, HandlerError, Report, ServicePorts, Settings};
use ecs_autopilot::ports::Clock;
use lambda_runtime::{Diagnostic, LambdaEvent};
use serde_json::Value;

/// A failed invocation, as Lambda records it (`errorType` says whether a
/// retry can help; both are returned as errors so the dead-letter queue
/// keeps the event once Lambda's retries are spent).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Failure(pub HandlerError);

impl From<Failure> for Diagnostic {
    fn from(f: Failure) -> Self {
        let kind = if f.0.retryable() { "Retryable" } else { "Permanent" };
        Diagnostic { error_type: format!("Autopilot.{kind}"), error_message: f.0.to_string() }
    }
}

/// JSON logs to stdout; level from `RUST_LOG` (`error` … `trace`, default
/// `info`; an unknown value keeps `info`).
pub fn init_tracing() {
    let level = std::env::var("RUST_LOG")
        .ok()
        .and_then(|v| v.parse::<tracing_subscriber::filter::LevelFilter>().ok())
        .unwrap_or(tracing_subscriber::filter::LevelFilter::INFO);
    // A second init (tests) is harmless: the first subscriber stays.
    let _ = tracing_subscriber::fmt()
        .json()
        .with_max_level(level)
        .with_current_span(false)
        .with_target(false)
        .without_time()
        .try_init();
}

/// The process environment as a map.
#[must_use]
pub fn process_env() -> Env {
    std::env::vars().collect()
}

/// The one HTTPS client of every SDK client: hyper 1 with rustls on ring.
#[must_use]
pub fn http_client() -> aws_smithy_runtime_api::client::http::SharedHttpClient {
    use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};
    aws_smithy_http_client::Builder::new().tls_provider(Provider::Rustls(CryptoMode::Ring)).build_https()
}

/// Attempts per call in the SDK's standard retry mode: throttling and 5xx
/// are retried with exponential backoff and full jitter (1 s first, 20 s
/// longest). Five, not the SDK's three, so a tick's burst of calls rides out
/// a throttled second (docs/fleet.md; the fleet bench models the same).
pub const SDK_MAX_ATTEMPTS: u32 = 5;

/// Shared AWS configuration: region, credentials, `AWS_ENDPOINT_URL`, the
/// standard retry mode with [`SDK_MAX_ATTEMPTS`].
pub async fn aws_config() -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(http_client())
        .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(SDK_MAX_ATTEMPTS))
        .load()
        .await
}

/// Loads and validates the scaling configuration.
///
/// # Errors
/// [`InitError`] naming the file, parameter or field.
pub async fn load_config(source: &ConfigSource, sdk: &aws_config::SdkConfig) -> Result<Config, InitError> {
    load_config_with(source, sdk, settings::parse_config).await
}

/// How configuration documents `(name, text)` become a [`Config`].
type ParseConfig = fn(&[(&str, &str)]) -> Result<Config, InitError>;

/// [`load_config`] with the parser given: the capacity function reads only
/// `Autopilot.Capacity` and needs no scalable target.
async fn load_config_with(
    source: &ConfigSource,
    sdk: &aws_config::SdkConfig,
    parse: ParseConfig,
) -> Result<Config, InitError> {
    match source {
        ConfigSource::File(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| InitError::Config { source_name: path.clone(), reason: format!("cannot read: {e}") })?;
            parse(&[(path.as_str(), text.as_str())])
        }
        ConfigSource::ParameterPath(path) => {
            let client = aws_sdk_ssm::Client::new(sdk);
            let mut documents: Vec<(String, String)> = Vec::new();
            let mut pages = client
                .get_parameters_by_path()
                .path(path)
                .recursive(true)
                .with_decryption(true)
                .into_paginator()
                .send();
            while let Some(page) = pages.next().await {
                let page = page.map_err(|e| InitError::Config {
                    source_name: path.clone(),
                    reason: crate::error::port_error("ssm:GetParametersByPath", e).to_string(),
                })?;
                for p in page.parameters() {
                    if let (Some(name), Some(value)) = (p.name(), p.value()) {
                        documents.push((name.to_owned(), value.to_owned()));
                    }
                }
            }
            if documents.is_empty() {
                return Err(InitError::Config {
                    source_name: path.clone(),
                    reason: "no parameters under this path".into(),
                });
            }
            documents.sort();
            let refs: Vec<(&str, &str)> = documents.iter().map(|(n, t)| (n.as_str(), t.as_str())).collect();
            parse(&refs)
        }
    }
}

fn publisher(sdk: &aws_config::SdkConfig, bus: Option<&String>) -> Publisher {
    match bus {
        Some(bus) => Publisher::Bus(EventBridgeDecisions::new(aws_sdk_eventbridge::Client::new(sdk), bus.clone())),
        None => Publisher::LogOnly,
    }
}

/// The real clock: system time, and tokio's timer to wait within an
/// invocation (the tick's polling, docs/lambdas.md).
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> jiff::Timestamp {
        jiff::Timestamp::now()
    }

    async fn sleep_until(&self, at: jiff::Timestamp) {
        let wait = at.duration_since(jiff::Timestamp::now());
        if let Ok(wait) = std::time::Duration::try_from(wait) {
            tokio::time::sleep(wait).await;
        }
    }
}

/// The controller function: ECS events, alarm state changes, the tick.
pub struct Controller {
    pub config: Config,
    pub settings: Settings,
    pub services: EcsServices,
    pub metrics: CloudWatchMetrics,
    pub state: DynamoState,
    pub publisher: Publisher,
}

impl Controller {
    /// Builds everything once, at cold start.
    ///
    /// # Errors
    /// [`InitError`]: the function fails to initialise, naming the cause.
    pub async fn from_env(env: &Env) -> Result<Self, InitError> {
        let settings_env = ControllerEnv::from_env(env)?;
        let sdk = aws_config().await;
        let config = load_config(&settings_env.config, &sdk).await?;
        tracing::info!(targets = config.targets.len(), shadow = settings_env.shadow, "configuration loaded");
        for w in &config.warnings {
            tracing::warn!(warning = %w, "configuration");
        }
        Ok(Self {
            config,
            settings: Settings {
                shadow: settings_env.shadow,
                poll_window_seconds: settings_env.poll_window_seconds,
                concurrency: settings_env.concurrency,
                budget: settings_env.budget,
                shard: settings_env.shard,
                ..Settings::default()
            },
            services: EcsServices::new(aws_sdk_ecs::Client::new(&sdk)),
            metrics: CloudWatchMetrics::new(aws_sdk_cloudwatch::Client::new(&sdk)),
            state: DynamoState::new(aws_sdk_dynamodb::Client::new(&sdk), settings_env.table),
            publisher: publisher(&sdk, settings_env.event_bus.as_ref()),
        })
    }

    /// Handles one event.
    ///
    /// # Errors
    /// [`Failure`] when the event must be retried or dead-lettered.
    pub async fn handle(&self, event: LambdaEvent<Value>) -> Result<Report, Failure> {
        let ports = ServicePorts {
            services: &self.services,
            metrics: &self.metrics,
            state: &self.state,
            decisions: &self.publisher,
        };
        let result = handler::invoke(&SystemClock, &self.config, self.settings, &ports, &event.payload).await;
        match result {
            Ok(report) => {
                log_report(&report);
                Ok(report)
            }
            Err(e) => {
                tracing::error!(error = %e, retryable = e.retryable(), event_id = ?event.payload.get("id"), "invocation failed");
                Err(Failure(e))
            }
        }
    }
}

fn log_report(report: &Report) {
    for d in &report.decisions {
        let record = serde_json::to_string(d).unwrap_or_default();
        tracing::info!(decision = %record, shadow = !report.applied, "decision");
        println!("{}", handler::emf(d));
    }
    for i in &report.ignored {
        tracing::info!(event_id = ?i.event_id, target = ?i.target, reason = %i.reason, "ignored");
    }
    for e in &report.publish_errors {
        tracing::warn!(error = %e, "decision record not published");
    }
}

/// The capacity function: placement failures, task and container instance
/// changes, the tick.
pub struct Capacity {
    pub providers: Vec<String>,
    pub options: CapacityOptions,
    pub settings: Settings,
    pub capacity: AwsCapacity,
    pub state: DynamoState,
    pub publisher: Publisher,
}

impl Capacity {
    /// # Errors
    /// [`InitError`] naming the variable.
    pub async fn from_env(env: &Env) -> Result<Self, InitError> {
        let mut e = CapacityEnv::from_env(env)?;
        let sdk = aws_config().await;
        if let Some(source) = &e.config {
            // `Autopilot.Capacity` of the configuration, the environment's
            // variables laid over it (docs/capacity.md).
            let config = load_config_with(source, &sdk, settings::parse_capacity_config).await?;
            e.options = settings::capacity_options(e.mode, &config.capacity, &e.overrides)?;
        }
        let consolidation = e.options.consolidation;
        Ok(Self {
            providers: e.providers,
            options: e.options,
            settings: Settings { shadow: e.shadow, ..Settings::default() },
            capacity: AwsCapacity::new(
                aws_sdk_ecs::Client::new(&sdk),
                aws_sdk_autoscaling::Client::new(&sdk),
                e.cluster,
                e.instance_types,
            )
            .with_consolidation(consolidation),
            state: DynamoState::new(aws_sdk_dynamodb::Client::new(&sdk), e.table),
            publisher: publisher(&sdk, e.event_bus.as_ref()),
        })
    }

    /// # Errors
    /// [`Failure`] when the event must be retried or dead-lettered.
    pub async fn handle(&self, event: LambdaEvent<Value>) -> Result<CapacityReport, Failure> {
        let now = jiff::Timestamp::now();
        let ports = (&self.capacity, &self.state, &self.publisher);
        match handle_capacity_event(now, &self.providers, &self.options, self.settings, ports, &event.payload).await {
            Ok(report) => {
                for d in &report.decisions {
                    let record = serde_json::to_string(d).unwrap_or_default();
                    tracing::info!(decision = %record, shadow = !report.applied, "capacity decision");
                }
                for i in &report.ignored {
                    tracing::info!(event_id = ?i.event_id, target = ?i.target, reason = %i.reason, "ignored");
                }
                Ok(report)
            }
            Err(e) => {
                tracing::error!(error = %e, retryable = e.retryable(), "invocation failed");
                Err(Failure(e))
            }
        }
    }
}
