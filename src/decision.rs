//! Decision records: what every evaluation decided and why. Decisions are
//! data: the controller returns them, adapters apply their `actions`, and the
//! replay prints them (JSON Lines schema in `docs/decision-record.md`).

use crate::config::EvaluationMode;
use crate::config::MetricId;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// The outcome of one evaluation of one scalable target.
#[must_use = "a decision carries actions that must be applied or recorded"]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    pub time: Timestamp,
    /// `service/<cluster>/<service>`.
    pub service: String,
    pub mode: EvaluationMode,
    /// Desired count before this evaluation.
    pub current: u32,
    /// Running tasks: the base of policy arithmetic (aws-behaviour §2.4).
    pub running: u32,
    /// Bounds in force after any scheduled action of this evaluation.
    pub min_capacity: u32,
    pub max_capacity: u32,
    /// The winning policy's capacity before bounds, blocks and limits.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub computed: Option<u32>,
    /// Desired count after this evaluation.
    pub desired: u32,
    pub reason: Reason,
    /// Every policy's evaluation, in configuration order.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub policies: Vec<PolicyEvaluation>,
    /// Everything that held a change back.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub blocked_by: Vec<Block>,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub actions: Vec<Action>,
    /// Set when the invocation's API budget held the actions back: nothing
    /// was applied or recorded, and the next round decides again
    /// (docs/fleet.md, "API budgets").
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub deferred: Option<Deferral>,
}

/// Why an evaluation was put off to the next round.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deferral {
    /// The API whose budget was spent, e.g. `ecs:UpdateService`.
    pub api: String,
    /// Calls of that API one round may make.
    pub budget: u32,
    /// The transient failure (e.g. throttling) left after the SDK's retries
    /// when that, not the budget, put the target off (docs/fleet.md).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub transient: Option<String>,
}

/// Why the desired count is what it is. Codes follow Application Auto
/// Scaling's `NotScaledReason` where one exists (aws-behaviour §2.7).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "code", rename_all = "PascalCase")]
pub enum Reason {
    /// A policy scaled out.
    ScaledOut {
        policy: String,
    },
    /// A policy scaled in.
    ScaledIn {
        policy: String,
    },
    /// A scheduled action changed the bounds and moved capacity into them.
    ScheduledAction {
        action: String,
    },
    /// The desired count was outside new bounds and was moved into them.
    MovedIntoBounds,
    /// No policy asked for a change (metrics within target / alarms OK).
    NoChange,
    /// "calculated the revised capacity to be equal to the current capacity".
    AlreadyAtDesiredCapacity,
    AlreadyAtMaxCapacity,
    AlreadyAtMinCapacity,
    /// A proposed change was held back; see `blocked_by`.
    Blocked,
    /// No policy had data to decide with (aws-behaviour §3.5).
    InsufficientData,
    /// Every metric was missing and the fallback count applied.
    MissingMetricsFallback,
}

/// One policy's view of this evaluation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PolicyEvaluation {
    pub policy: String,
    pub kind: PolicyKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metric: Option<MetricId>,
    /// The value the policy computed with.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metric_value: Option<f64>,
    /// Timestamp of the newest datapoint used.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metric_time: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alarm: Option<AlarmReport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proposal: Option<Proposal>,
    /// `fast` mode: the evidence behind a scale-out or a probe's
    /// withdrawal, and what it sized (docs/configuration.md "fast mode").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence: Option<Evidence>,
    pub outcome: PolicyOutcome,
}

/// What a `fast` scale-out rests on (docs/decision-record.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "basis", rename_all = "snake_case")]
pub enum Evidence {
    /// One datapoint above the band: a probe of at most 10 % of the tasks
    /// (at least one), whatever the datapoint asks for (`wanted`).
    Single { wanted: u32 },
    /// Datapoints covering a minute or more, all above the band: the
    /// smallest of their needs (`wanted`, before any projection).
    Confirmed { wanted: u32 },
    /// A rising load, or capped readings in a row: sized by the projection
    /// or the capped headroom (`wanted`).
    Trend { wanted: u32 },
    /// A probe made at `probed_at` that no datapoint measured since needed
    /// (`needed` at most the tasks before it), withdrawn after the
    /// scale-in window.
    ProbeUnneeded { probed_at: Timestamp, needed: u32 },
}

/// The kind of a policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PolicyKind {
    TargetTracking,
    Step,
}

/// The emulated alarm that drove a policy (aws mode, and step policies).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AlarmReport {
    pub name: String,
    pub state: AlarmState,
    pub breaching: u32,
    pub datapoints: u32,
    pub needed: u32,
    pub threshold: f64,
}

/// CloudWatch alarm states.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AlarmState {
    Ok,
    Alarm,
    InsufficientData,
}

/// A policy's wish.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Proposal {
    pub direction: Direction,
    pub capacity: u32,
}

/// Scaling direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Out,
    In,
}

/// What a policy concluded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PolicyOutcome {
    /// Its proposal is the one applied.
    Won,
    /// It proposed, another policy's larger capacity won (aws-behaviour §3.8).
    Outvoted,
    /// It proposed, but the change was blocked.
    Blocked,
    /// Its proposal equals the current capacity.
    NoChange,
    /// Metric within the tolerance band / between the alarm thresholds.
    WithinTarget,
    /// Its alarm is in ALARM but was invoked less than a minute ago (aws-behaviour §3.5).
    AwaitingReinvocation,
    /// `fast` mode: one datapoint above the band, too soon after a scale-in
    /// to reverse it on a single datapoint; the next datapoint decides
    /// (docs/configuration.md "fast mode").
    AwaitingConfirmation,
    /// Not enough data to evaluate.
    InsufficientData,
    /// Target tracking scale-in held: not every policy is ready (aws-behaviour §3.8).
    ScaleInNotUnanimous,
}

/// What held a change back.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Block {
    ScaleOutCooldown {
        until: Timestamp,
    },
    ScaleInCooldown {
        until: Timestamp,
    },
    DeploymentInProgress,
    DynamicScalingInSuspended,
    DynamicScalingOutSuspended,
    ScheduledScalingSuspended {
        action: String,
        due: Timestamp,
    },
    /// Some target tracking policies with scale-in enabled are not ready.
    ScaleInNotUnanimous {
        waiting: Vec<String>,
    },
    StabilizationWindow {
        recommendation: u32,
        held_at: u32,
    },
    RateLimit {
        limit: u32,
    },
    MaxScaleInPerEvaluation {
        limit: u32,
    },
    /// A scheduled action with MinCapacity > MaxCapacity after merging.
    InvalidScheduledBounds {
        action: String,
        min: u32,
        max: u32,
    },
}

impl Block {
    /// The block's `kind` as the decision record names it.
    #[must_use]
    pub fn kind(&self) -> &'static str {
        match self {
            Self::ScaleOutCooldown { .. } => "scale_out_cooldown",
            Self::ScaleInCooldown { .. } => "scale_in_cooldown",
            Self::DeploymentInProgress => "deployment_in_progress",
            Self::DynamicScalingInSuspended => "dynamic_scaling_in_suspended",
            Self::DynamicScalingOutSuspended => "dynamic_scaling_out_suspended",
            Self::ScheduledScalingSuspended { .. } => "scheduled_scaling_suspended",
            Self::ScaleInNotUnanimous { .. } => "scale_in_not_unanimous",
            Self::StabilizationWindow { .. } => "stabilization_window",
            Self::RateLimit { .. } => "rate_limit",
            Self::MaxScaleInPerEvaluation { .. } => "max_scale_in_per_evaluation",
            Self::InvalidScheduledBounds { .. } => "invalid_scheduled_bounds",
        }
    }
}

/// Side effects to apply, in order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Action {
    /// `ecs:UpdateService(desiredCount)`.
    SetDesiredCount { from: u32, to: u32 },
    /// The scalable target's bounds changed (scheduled action, aws-behaviour §5.3).
    SetBounds { min: u32, max: u32 },
}
