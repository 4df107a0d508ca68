//! The simulator: closed-loop runs of the production controller against an
//! AWS-faithful baseline on the same demand, with a scorecard and charts.
//!
//! Owns: scenarios, the service / metric-pipeline model, scoring, chart
//! rendering to SVG text. May not touch: files or the clock (virtual time).

pub mod alarms;
pub mod chart;
pub mod cloudwatch;
pub mod cluster;
pub mod engine;
pub mod runtime;
pub mod scenario;
pub mod stack;
pub mod sweep;
pub mod tasks;
pub mod world;

pub use engine::{simulate, ControllerKind, Report, Run, Score, SimError};
pub use scenario::Scenario;
