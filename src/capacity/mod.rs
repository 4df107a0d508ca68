//! The capacity planner: placement simulation and EC2 Auto Scaling decisions
//! for ECS capacity providers (aws-behaviour §7–§9).
//!
//! Owns: the cluster model, the cluster query language subset, placement,
//! CapacityProviderReservation and capacity decisions. May not touch: I/O or
//! the clock (`now` is an argument); the ASG and ECS calls are the ports'.
//!
//! ```text
//! snapshot (AWS CLI JSON) ─► Cluster ─► estimate (grouped binpack) ─► M, N, CPR
//!                                    └► plan(now, cluster, options, memory) ─► CapacityDecision + memory'
//! ```
//!
//! Safety invariants: no action terminates an instance that runs a
//! non-daemon task; a busy instance is drained only by consolidation
//! (opt-in, every task placed elsewhere first) or because EC2 is about to
//! interrupt it; no instance running a protected task is drained by
//! choice.

pub mod consolidate;
pub mod model;
pub mod placement;
pub mod plan;
pub mod query;
pub mod snapshot;
pub mod spot;

pub use model::Cluster;
pub use plan::{plan, reservation, CapacityAction, CapacityDecision, CapacityMemory, CapacityOptions, CapacityReason};
pub use spot::plan_at_risk;
