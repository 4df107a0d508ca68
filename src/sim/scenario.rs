//! Scenario files for the closed-loop simulator: demand over time, the
//! service, the metric pipeline, and the scaling configuration to test.

use serde::{Deserialize, Serialize};

/// A simulation scenario (YAML or JSON).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub duration_seconds: u32,
    #[serde(default = "default_seed")]
    pub seed: u64,
    pub demand: Demand,
    pub service: ServiceModel,
    /// The metric stream both controllers read (the fair default,
    /// docs/simulation.md "Fair comparison").
    #[serde(default)]
    pub metrics: Option<MetricPipeline>,
    /// Older files: the stream the AWS baseline reads (same as `metrics`;
    /// give one of the two).
    #[serde(default)]
    pub baseline_metrics: Option<MetricPipeline>,
    /// A different stream for ecs-autopilot. Fair only when production
    /// delivers it: `autopilot_metrics_source` says how, and the scorecard
    /// and chart print it; without it the scorecard flags the run unfair.
    #[serde(default)]
    pub autopilot_metrics: Option<MetricPipeline>,
    /// Where production gets `autopilot_metrics` from (e.g. "10-s custom
    /// metric the service publishes with StorageResolution 1").
    #[serde(default)]
    pub autopilot_metrics_source: Option<String>,
    /// The second reaction is measured from (default: a step's or a ramp's
    /// start when demand rises; none otherwise).
    #[serde(default)]
    pub reaction_from_seconds: Option<u32>,
    /// Target tracking target (% CPU) used by both controllers.
    pub target_cpu_percent: f64,
    #[serde(default = "default_min")]
    pub min_tasks: u32,
    pub max_tasks: u32,
    /// Extra `Autopilot` settings for our controller (YAML of the extension key).
    #[serde(default)]
    pub autopilot: Option<serde_json::Value>,
    /// Scheduled actions, in AWS's shape, applied to both controllers.
    #[serde(default)]
    pub scheduled_actions: Vec<serde_json::Value>,
    /// EC2 capacity under the service (absent: tasks always find room, as
    /// on Fargate).
    #[serde(default)]
    pub cluster: Option<ClusterModel>,
    /// A rolling deployment during the run.
    #[serde(default)]
    pub deployment: Option<DeploymentModel>,
    /// Custom metrics the service publishes (for backtested configurations
    /// that read them).
    #[serde(default)]
    pub custom_metrics: Vec<CustomMetric>,
}

/// The Auto Scaling group and capacity provider under the service.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterModel {
    pub instance_type: crate::capacity::model::InstanceType,
    /// CPU units and MiB of one task.
    pub task_cpu: u32,
    pub task_memory: u32,
    #[serde(default = "default_zones")]
    pub zones: Vec<String>,
    pub initial_instances: u32,
    #[serde(default)]
    pub min_instances: u32,
    pub max_instances: u32,
    /// Seconds from a desired-capacity increase to the instance being ACTIVE
    /// in ECS (launch, boot, agent registration): uniform in [min, max].
    pub launch_seconds: (u32, u32),
    /// The capacity provider's `ManagedScaling` (AWS's camelCase shape).
    #[serde(default)]
    pub managed_scaling: crate::capacity::model::ManagedScaling,
    /// The service's deployment `maximumPercent`.
    #[serde(default = "default_maximum_percent")]
    pub maximum_percent: u32,
    /// How the service's tasks are placed and which stop on scale-in.
    #[serde(default)]
    pub task_placement: TaskPlacement,
    /// ecs-autopilot's capacity function consolidates (opt-in,
    /// docs/capacity.md "Consolidation"); the baseline never does: cluster
    /// auto scaling has no consolidation.
    #[serde(default)]
    pub consolidation: bool,
}

/// The service's placement strategy in a cluster scenario.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskPlacement {
    /// `binpack` on CPU: the fullest instance first; scale-in stops tasks
    /// where the fewest run, so instances empty out.
    #[default]
    Binpack,
    /// ECS's default for a service without a strategy (aws-behaviour
    /// §8.4): the emptiest instance first; scale-in stops tasks where the
    /// most run, keeping the balance — instances rarely empty out.
    Spread,
}

fn default_zones() -> Vec<String> {
    vec!["a".into(), "b".into(), "c".into()]
}
fn default_maximum_percent() -> u32 {
    200
}

/// A rolling deployment: from `at_seconds`, every task is replaced; new
/// tasks start within `maximum_percent` of the desired count and an old task
/// stops as each new one runs. Scale-in is blocked meanwhile (aws-behaviour §2.5).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeploymentModel {
    pub at_seconds: u32,
    #[serde(default = "default_maximum_percent")]
    pub maximum_percent: u32,
}

fn default_seed() -> u64 {
    1
}
fn default_min() -> u32 {
    1
}

/// Demand in requests per second over time.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Demand {
    /// `base` until `at_seconds`, then `base × factor`.
    Step { base: f64, factor: f64, at_seconds: u32 },
    /// Linear from `from` to `to` between `start_seconds` and `end_seconds`.
    Ramp { from: f64, to: f64, start_seconds: u32, end_seconds: u32 },
    /// `mean + amplitude × sin` over `period_seconds`, lowest at t = 0.
    Diurnal { mean: f64, amplitude: f64, period_seconds: u32 },
    /// `base` with uniform noise of ± `spread` (fraction), changing every `every_seconds`.
    Noise { base: f64, spread: f64, every_seconds: u32 },
    /// `(second, requests/s)` points, linearly interpolated.
    Points { points: Vec<(u32, f64)> },
    /// A CSV file of `second,requests_per_second` rows (a header row is
    /// allowed), relative to the scenario file; the CLI reads it into
    /// `points` ([`csv_points`]) before the run.
    Csv { path: String },
}

/// Parses CSV demand: `second,requests_per_second` per row, seconds
/// ascending, an optional header row.
///
/// # Errors
/// The 1-based line and what is wrong with it.
pub fn csv_points(text: &str) -> Result<Vec<(u32, f64)>, String> {
    let mut points: Vec<(u32, f64)> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut cells = line.split(',').map(str::trim);
        let (Some(a), Some(b), None) = (cells.next(), cells.next(), cells.next()) else {
            return Err(format!("line {}: expected two columns: second,requests_per_second", i + 1));
        };
        let (Ok(second), Ok(rate)) = (a.parse::<u32>(), b.parse::<f64>()) else {
            if points.is_empty() && i == 0 {
                continue; // the header row
            }
            return Err(format!("line {}: {line:?} is not a whole second and a number", i + 1));
        };
        if !rate.is_finite() || rate < 0.0 {
            return Err(format!("line {}: requests per second must be a non-negative number", i + 1));
        }
        if points.last().is_some_and(|(last, _)| *last >= second) {
            return Err(format!("line {}: seconds must ascend", i + 1));
        }
        points.push((second, rate));
    }
    if points.is_empty() {
        return Err("no rows".into());
    }
    Ok(points)
}

impl Demand {
    /// Requests per second at second `t` (noise drawn from `rng_at`).
    #[must_use]
    pub fn at(&self, t: u32, seed: u64) -> f64 {
        match self {
            Self::Step { base, factor, at_seconds } => {
                if t >= *at_seconds {
                    base * factor
                } else {
                    *base
                }
            }
            Self::Ramp { from, to, start_seconds, end_seconds } => {
                if t <= *start_seconds {
                    *from
                } else if t >= *end_seconds {
                    *to
                } else {
                    from + (to - from) * f64::from(t - start_seconds) / f64::from((end_seconds - start_seconds).max(1))
                }
            }
            Self::Diurnal { mean, amplitude, period_seconds } => {
                let phase = f64::from(t) / f64::from((*period_seconds).max(1)) * std::f64::consts::TAU;
                mean - amplitude * phase.cos()
            }
            Self::Noise { base, spread, every_seconds } => {
                let bucket = u64::from(t / (*every_seconds).max(1));
                let u = unit(seed ^ bucket.wrapping_mul(0x9E37_79B9_7F4A_7C15));
                base * (1.0 + spread * (2.0 * u - 1.0))
            }
            Self::Points { points } => {
                let Some(first) = points.first() else { return 0.0 };
                if t <= first.0 {
                    return first.1;
                }
                for w in points.windows(2) {
                    let ((t0, v0), (t1, v1)) = (w[0], w[1]);
                    if t >= t0 && t <= t1 {
                        return v0 + (v1 - v0) * f64::from(t - t0) / f64::from((t1 - t0).max(1));
                    }
                }
                points.last().map_or(0.0, |p| p.1)
            }
            // Read into `Points` before a run (the engine refuses it).
            Self::Csv { .. } => 0.0,
        }
    }
}

/// A deterministic number in [0, 1) from a seed (splitmix64).
#[must_use]
pub fn unit(seed: u64) -> f64 {
    let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

/// The service under load.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceModel {
    /// Requests per second one task serves at 100 % CPU.
    pub requests_per_task: f64,
    pub initial_tasks: u32,
    /// Desired count at the start when it differs from the running tasks
    /// (e.g. a new service on an empty cluster): the missing tasks start at 0.
    #[serde(default)]
    pub initial_desired: Option<u32>,
    /// Seconds from desired-count increase to RUNNING: uniform in [min, max].
    pub task_start_seconds: (u32, u32),
    /// Seconds after RUNNING before a task passes its health checks and
    /// receives traffic (aws-behaviour §9.2: 40 s without health checks; the load
    /// balancer's checks otherwise). Default 0: traffic at once.
    #[serde(default)]
    pub healthy_after_seconds: u32,
    /// Memory utilization of a task: `idle_percent` at no load, rising
    /// linearly with its CPU to `busy_percent` at 100 % CPU. Needed only
    /// when a backtested configuration reads `MemoryUtilization`.
    #[serde(default)]
    pub memory: Option<MemoryModel>,
}

/// A task's memory utilization as a function of its load.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemoryModel {
    pub idle_percent: f64,
    pub busy_percent: f64,
}

/// A metric the service publishes itself (a CloudWatch custom metric),
/// answered for queries naming the same namespace, name and dimensions.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomMetric {
    pub namespace: String,
    pub metric_name: String,
    /// `{Name, Value}` pairs, as in the configuration.
    #[serde(default)]
    pub dimensions: Vec<crate::config::aws::Dimension>,
    /// `(second, value)` points, linearly interpolated; one value a second
    /// is published.
    pub points: Vec<(u32, f64)>,
}

/// How CPU utilization reaches the controller.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricPipeline {
    /// 60 (standard), 20 (high resolution) or 10 (custom) seconds.
    pub period_seconds: u32,
    /// Seconds from the end of a period until the datapoint can be read.
    pub delay_seconds: u32,
}

/// Whether both controllers read the same metric stream.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Fairness {
    /// One stream for both: the comparison the scorecard headlines.
    SameStream,
    /// ecs-autopilot reads a stream production delivers to it (declared).
    Declared { source: String },
    /// ecs-autopilot reads a different stream with no production source
    /// declared: not a fair comparison (older scenario files).
    Undeclared,
}

/// The streams of a run, resolved from a scenario.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Streams {
    pub baseline: MetricPipeline,
    pub autopilot: MetricPipeline,
    pub fairness: Fairness,
}

impl Scenario {
    /// The metric streams each controller reads.
    ///
    /// # Errors
    /// The field and the reason when `metrics` and `baseline_metrics` are
    /// both given or both missing, or a source is declared with no stream.
    pub fn streams(&self) -> Result<Streams, (String, String)> {
        let baseline = match (self.metrics, self.baseline_metrics) {
            (Some(m), None) | (None, Some(m)) => m,
            (Some(_), Some(_)) => {
                return Err((
                    "baseline_metrics".into(),
                    "give `metrics` (the stream both controllers read) or the older `baseline_metrics`, not both"
                        .into(),
                ))
            }
            (None, None) => {
                return Err(("metrics".into(), "missing: the metric stream both controllers read".into()));
            }
        };
        let source = self.autopilot_metrics_source.as_deref().map(str::trim);
        if source.is_some_and(str::is_empty) {
            return Err(("autopilot_metrics_source".into(), "empty: say how production delivers the stream".into()));
        }
        let (autopilot, fairness) = match (self.autopilot_metrics, source) {
            (None, Some(_)) => {
                return Err((
                    "autopilot_metrics_source".into(),
                    "declares a source for `autopilot_metrics`, which is not given".into(),
                ))
            }
            (None, None) => (baseline, Fairness::SameStream),
            (Some(m), _) if m == baseline => (m, Fairness::SameStream),
            (Some(m), Some(source)) => (m, Fairness::Declared { source: source.to_owned() }),
            (Some(m), None) => (m, Fairness::Undeclared),
        };
        Ok(Streams { baseline, autopilot, fairness })
    }

    /// The second reaction is measured from: `reaction_from_seconds`, else
    /// the start of a rising step or ramp.
    #[must_use]
    pub fn reaction_from(&self) -> Option<u32> {
        self.reaction_from_seconds.or(match self.demand {
            Demand::Step { at_seconds, factor, .. } if factor > 1.0 => Some(at_seconds),
            Demand::Ramp { from, to, start_seconds, .. } if to > from => Some(start_seconds),
            _ => None,
        })
    }
}
