//! ecs-autopilot's own settings, under the top-level `Autopilot` key. Every
//! one is opt-in: with no `Autopilot` key the controller reproduces
//! Application Auto Scaling (evaluation mode `aws`).
//!
//! ```yaml
//! Autopilot:
//!   Defaults:                 # applies to every scalable target
//!     EvaluationMode: fast
//!   Targets:
//!     service/prod/web:       # overrides, field by field
//!       Tolerance: 0.05
//!       ScaleIn: {StabilizationWindowSeconds: 300, Policies: [{Type: Percent, Value: 10, PeriodSeconds: 60}]}
//!   Capacity:                 # the capacity function's (docs/capacity.md)
//!     DisruptionBudget: {Instances: 5, Percent: 20, WindowSeconds: 300}
//!     Consolidation: true
//! ```

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The `Autopilot` section.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct AutopilotSection {
    #[serde(default)]
    pub defaults: TargetExtensions,
    #[serde(default)]
    pub targets: BTreeMap<String, TargetExtensions>,
    #[serde(default)]
    pub capacity: CapacitySection,
}

/// `Autopilot.Capacity`: the capacity function's own settings
/// (docs/capacity.md). Its environment variables, when set, win.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct CapacitySection {
    #[serde(default)]
    pub disruption_budget: DisruptionBudget,
    /// `fast` mode drains busy instances whose tasks fit on the others.
    #[serde(default)]
    pub consolidation: Option<bool>,
}

/// `Autopilot.Capacity.DisruptionBudget`; unset fields keep their defaults.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct DisruptionBudget {
    /// Instances drained per window.
    #[serde(default)]
    pub instances: Option<u32>,
    /// Percent of the group's ACTIVE instances per window.
    #[serde(default)]
    pub percent: Option<u32>,
    /// The sliding window, in seconds.
    #[serde(default)]
    pub window_seconds: Option<u32>,
}

/// Each disruption budget field's key and accepted range: at least one
/// instance, 1–100 % of the group, a window of 1–60 minutes (under a
/// minute, a one-minute tick could drain a second batch before ECS has
/// moved the first batch's tasks).
pub const DISRUPTION_RANGES: [(&str, u32, u32); 3] =
    [("Instances", 1, 1000), ("Percent", 1, 100), ("WindowSeconds", 60, 3600)];

impl DisruptionBudget {
    /// The three values in [`DISRUPTION_RANGES`]' order.
    #[must_use]
    pub fn values(&self) -> [Option<u32>; 3] {
        [self.instances, self.percent, self.window_seconds]
    }
}

impl CapacitySection {
    /// This section with every value `over` sets taking its place.
    #[must_use]
    pub fn overlaid_by(&self, over: &Self) -> Self {
        let (a, b) = (self.disruption_budget, over.disruption_budget);
        Self {
            disruption_budget: DisruptionBudget {
                instances: b.instances.or(a.instances),
                percent: b.percent.or(a.percent),
                window_seconds: b.window_seconds.or(a.window_seconds),
            },
            consolidation: over.consolidation.or(self.consolidation),
        }
    }
}

/// How target-tracking policies are evaluated.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EvaluationMode {
    /// Application Auto Scaling's alarm cadence: AlarmHigh 3 of 3 one-minute
    /// datapoints above target, AlarmLow 15 of 15 below 0.9 × target, the
    /// policy re-invoked once a minute while in ALARM (aws-behaviour §3.4, §3.5).
    #[default]
    Aws,
    /// Every new datapoint, at any resolution, is evaluated at once; a
    /// tolerance band (default 0.1) replaces the alarms' hysteresis.
    Fast,
}

/// `fast` mode's scale-in stabilization when none is configured: a
/// scale-in goes no lower than the largest recommendation of this window,
/// so a scale-out is not undone within it (docs/configuration.md, chosen
/// with the sweep: docs/simulation.md "The sweep").
pub const FAST_SCALE_IN_STABILIZATION_SECONDS: u32 = 900;

/// Per-target extension settings as written; `None` means "inherit".
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct TargetExtensions {
    #[serde(default)]
    pub evaluation_mode: Option<EvaluationMode>,
    /// No change while |metric / target − 1| ≤ Tolerance (both directions).
    /// Unset: `aws` mode has none (the alarms are the hysteresis, aws-behaviour §3.6
    /// note 2); `fast` mode scales out above target and in below 0.9 × target.
    #[serde(default)]
    pub tolerance: Option<f64>,
    #[serde(default)]
    pub scale_out: Option<DirectionRules>,
    #[serde(default)]
    pub scale_in: Option<DirectionRules>,
    /// Removed: accepted only to be refused with a reason at validation
    /// (it needed per-task samples production cannot read).
    #[serde(default, skip_serializing)]
    pub task_warmup_seconds: Option<u32>,
    #[serde(default)]
    pub missing_metrics: Option<MissingMetrics>,
    /// At most this many tasks removed by one evaluation.
    #[serde(default)]
    pub max_scale_in_per_evaluation: Option<u32>,
    /// The shape of the emulated target-tracking alarms (aws-behaviour §16 items 2–3:
    /// observed for the predefined CPU metric, an assumption elsewhere).
    #[serde(default)]
    pub alarm_emulation: Option<AlarmEmulation>,
}

/// Stabilization window and rate limits for one direction (after the
/// Kubernetes HPA `behavior` field, R-K8S-TOL).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct DirectionRules {
    /// Scale-in applies the *largest* recommendation of this window; scale-out
    /// the *smallest*.
    #[serde(default)]
    pub stabilization_window_seconds: Option<u32>,
    #[serde(default)]
    pub policies: Vec<RatePolicy>,
    #[serde(default)]
    pub select_policy: Option<SelectPolicy>,
}

/// At most `Value` tasks (or percent) changed per `PeriodSeconds`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct RatePolicy {
    #[serde(rename = "Type")]
    pub kind: RatePolicyType,
    pub value: u32,
    pub period_seconds: u32,
}

/// Unit of a rate policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RatePolicyType {
    Tasks,
    Percent,
}

/// Which rate policy wins when several apply.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum SelectPolicy {
    /// The policy allowing the largest change.
    #[default]
    Max,
    /// The policy allowing the smallest change.
    Min,
    /// No change at all in this direction.
    Disabled,
}

/// What to do when a policy's metric has no fresh data. AWS does nothing
/// (aws-behaviour §3.5: insufficient data never scales), which is `Hold`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "Action", deny_unknown_fields)]
pub enum MissingMetrics {
    #[default]
    Hold,
    /// Go to this many tasks (within [min, max]) while every metric is missing.
    FixedCount {
        #[serde(rename = "Count")]
        count: u32,
    },
}

/// The emulated target-tracking alarms (aws-behaviour §3.4).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct AlarmEmulation {
    #[serde(default)]
    pub period_seconds: Option<u32>,
    #[serde(default)]
    pub high_evaluation_periods: Option<u32>,
    #[serde(default)]
    pub high_datapoints_to_alarm: Option<u32>,
    #[serde(default)]
    pub low_evaluation_periods: Option<u32>,
    #[serde(default)]
    pub low_datapoints_to_alarm: Option<u32>,
    #[serde(default)]
    pub low_threshold_ratio: Option<f64>,
}

/// Resolved alarm shape used by `aws` mode.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct AlarmShape {
    pub period_seconds: u32,
    pub high_evaluation_periods: u32,
    pub high_datapoints_to_alarm: u32,
    pub low_evaluation_periods: u32,
    pub low_datapoints_to_alarm: u32,
    pub low_threshold_ratio: f64,
}

impl AlarmShape {
    /// Observed for ECS predefined metrics at 60 s (aws-behaviour §3.4).
    pub const STANDARD: Self = Self {
        period_seconds: 60,
        high_evaluation_periods: 3,
        high_datapoints_to_alarm: 3,
        low_evaluation_periods: 15,
        low_datapoints_to_alarm: 15,
        low_threshold_ratio: 0.9,
    };
    /// 20-second high-resolution policies (June 2026): AWS publishes no alarm
    /// shape (aws-behaviour §16 item 3). Assumption: 3 of 3 twenty-second datapoints to
    /// scale out, and the same 15-minute low window (45 of 45).
    pub const HIGH_RESOLUTION: Self = Self {
        period_seconds: 20,
        high_evaluation_periods: 3,
        high_datapoints_to_alarm: 3,
        low_evaluation_periods: 45,
        low_datapoints_to_alarm: 45,
        low_threshold_ratio: 0.9,
    };

    fn overlay(self, o: &AlarmEmulation) -> Self {
        Self {
            period_seconds: o.period_seconds.unwrap_or(self.period_seconds),
            high_evaluation_periods: o.high_evaluation_periods.unwrap_or(self.high_evaluation_periods),
            high_datapoints_to_alarm: o.high_datapoints_to_alarm.unwrap_or(self.high_datapoints_to_alarm),
            low_evaluation_periods: o.low_evaluation_periods.unwrap_or(self.low_evaluation_periods),
            low_datapoints_to_alarm: o.low_datapoints_to_alarm.unwrap_or(self.low_datapoints_to_alarm),
            low_threshold_ratio: o.low_threshold_ratio.unwrap_or(self.low_threshold_ratio),
        }
    }
}

/// Extension settings of one target after merging defaults and overrides.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Extensions {
    pub mode: EvaluationMode,
    /// The tolerance written in the configuration, if any; see
    /// [`Extensions::tolerance_out`] and [`Extensions::tolerance_in`].
    pub tolerance: Option<f64>,
    pub scale_out: Option<DirectionRules>,
    pub scale_in: Option<DirectionRules>,
    pub missing_metrics: MissingMetrics,
    pub max_scale_in_per_evaluation: Option<u32>,
    /// Overrides of the emulated alarm shape, applied over the metric's default.
    pub alarm_emulation: Option<AlarmEmulation>,
}

impl Default for Extensions {
    fn default() -> Self {
        Self::resolve(&TargetExtensions::default(), None)
    }
}

impl Extensions {
    /// Merges a target's overrides over the defaults.
    #[must_use]
    pub fn resolve(defaults: &TargetExtensions, target: Option<&TargetExtensions>) -> Self {
        let pick = |f: fn(&TargetExtensions) -> Option<_>| target.and_then(f).or_else(|| f(defaults));
        let mode = target.and_then(|t| t.evaluation_mode).or(defaults.evaluation_mode).unwrap_or_default();
        let tolerance = target.and_then(|t| t.tolerance).or(defaults.tolerance);
        Self {
            mode,
            tolerance,
            scale_out: target.and_then(|t| t.scale_out.clone()).or_else(|| defaults.scale_out.clone()),
            scale_in: target.and_then(|t| t.scale_in.clone()).or_else(|| defaults.scale_in.clone()),
            missing_metrics: target.and_then(|t| t.missing_metrics).or(defaults.missing_metrics).unwrap_or_default(),
            max_scale_in_per_evaluation: pick(|t| t.max_scale_in_per_evaluation),
            alarm_emulation: target.and_then(|t| t.alarm_emulation).or(defaults.alarm_emulation),
        }
    }

    /// Band above target inside which no scale-out happens. Default 0: like
    /// AlarmHigh, any value above target scales out.
    #[must_use]
    pub fn tolerance_out(&self) -> f64 {
        self.tolerance.unwrap_or(0.0)
    }

    /// Band below target inside which no scale-in happens. Default 0.1 in
    /// `fast` mode (AlarmLow's 0.9 × target, aws-behaviour §3.4), 0 in `aws` mode where
    /// the emulated alarms already provide the hysteresis.
    #[must_use]
    pub fn tolerance_in(&self) -> f64 {
        match (self.tolerance, self.mode) {
            (Some(t), _) => t,
            (None, EvaluationMode::Fast) => 0.1,
            (None, EvaluationMode::Aws) => 0.0,
        }
    }

    /// The scale-in stabilization window: as configured (0 turns it off);
    /// unset, [`FAST_SCALE_IN_STABILIZATION_SECONDS`] in `fast` mode and
    /// none in `aws` mode (the AlarmLow's 15 datapoints are AWS's).
    #[must_use]
    pub fn scale_in_stabilization_seconds(&self) -> Option<u32> {
        let configured = self.scale_in.as_ref().and_then(|r| r.stabilization_window_seconds);
        match (configured, self.mode) {
            (Some(0), _) | (None, EvaluationMode::Aws) => None,
            (Some(w), _) => Some(w),
            (None, EvaluationMode::Fast) => Some(FAST_SCALE_IN_STABILIZATION_SECONDS),
        }
    }

    /// The scale-out stabilization window (none unless configured).
    #[must_use]
    pub fn scale_out_stabilization_seconds(&self) -> Option<u32> {
        self.scale_out.as_ref().and_then(|r| r.stabilization_window_seconds).filter(|w| *w > 0)
    }

    /// The alarm shape for a metric, with this target's overrides applied.
    #[must_use]
    pub fn alarm_shape(&self, high_resolution: bool) -> AlarmShape {
        let base = if high_resolution { AlarmShape::HIGH_RESOLUTION } else { AlarmShape::STANDARD };
        match &self.alarm_emulation {
            Some(o) => base.overlay(o),
            None => base,
        }
    }
}
