//! Shared helpers for integration tests: build configurations from YAML,
//! feed datapoints at virtual times, step the controller. No sleeps, no clock.
#![allow(dead_code)]

use ecs_autopilot::config::{self, MetricId, TargetConfig};
use ecs_autopilot::controller;
use ecs_autopilot::decision::Decision;
use ecs_autopilot::memory::{Datapoint, TargetMemory};
use ecs_autopilot::policy::Observation;
use jiff::Timestamp;

pub const CPU: &str = "ECSServiceAverageCPUUtilization";
pub const MEM: &str = "ECSServiceAverageMemoryUtilization";
pub const T0: i64 = 1_767_225_600; // 2026-01-01T00:00:00Z

pub fn at(seconds: i64) -> Timestamp {
    Timestamp::from_second(T0 + seconds).unwrap()
}

pub fn target(yaml: &str) -> TargetConfig {
    let cfg = config::load_str(yaml).unwrap_or_else(|e| panic!("test configuration invalid: {e}"));
    assert_eq!(cfg.targets.len(), 1, "test configurations hold one target");
    cfg.targets.into_values().next().unwrap()
}

/// A target with `policies` (YAML list items, indented by 2) on service/c/web.
pub fn with_policies(min: u32, max: u32, policies: &str, extra: &str) -> TargetConfig {
    target(&format!(
        "ScalableTargets:\n  - {{ResourceId: service/c/web, MinCapacity: {min}, MaxCapacity: {max}}}\nScalingPolicies:\n{policies}\n{extra}"
    ))
}

pub fn tt_policy(name: &str, metric: &str, target: f64, extra: &str) -> String {
    format!(
        "  - PolicyName: {name}\n    ResourceId: service/c/web\n    PolicyType: TargetTrackingScaling\n    TargetTrackingScalingPolicyConfiguration:\n      TargetValue: {target}\n      PredefinedMetricSpecification: {{PredefinedMetricType: {metric}}}\n{extra}"
    )
}

/// One datapoint per minute, the i-th at `start + 60 i` seconds.
pub fn minutes(start: i64, values: &[f64]) -> Vec<Datapoint> {
    values.iter().enumerate().map(|(i, v)| Datapoint { timestamp: at(start + 60 * i as i64), value: *v }).collect()
}

pub fn observe(desired: u32, running: u32, metrics: &[(&str, Vec<Datapoint>)]) -> Observation {
    Observation {
        desired_count: desired,
        running_count: running,
        metrics: metrics.iter().map(|(m, p)| (MetricId((*m).to_owned()), p.clone())).collect(),
        ..Observation::default()
    }
}

/// A controller under test: keeps memory and the desired count between steps.
pub struct Harness {
    pub cfg: TargetConfig,
    pub memory: TargetMemory,
}

impl Harness {
    pub fn new(cfg: TargetConfig) -> Self {
        Self { cfg, memory: TargetMemory::default() }
    }

    pub fn step(&mut self, now: i64, obs: &Observation) -> Decision {
        let (decision, memory) = controller::evaluate(at(now), &self.cfg, obs, std::mem::take(&mut self.memory));
        self.memory = memory;
        decision
    }
}
