//! The AWS edge of ecs-autopilot: adapters that implement the core's
//! [ports](ecs_autopilot::ports) over the AWS SDK, and the glue the Lambda
//! `main`s call.
//!
//! ```text
//!  EventBridge ─► Lambda runtime ─► edge::controller / edge::capacity
//!                                     │  (settings and clients built once)
//!                                     ▼
//!                  ecs_autopilot::handler (pure decisions, claim-then-act)
//!                                     │ ports
//!      ┌──────────────┬───────────────┼──────────────┬─────────────────┐
//!  EcsServices  CloudWatchMetrics  DynamoState  EventBridgeDecisions  AwsCapacity
//!  (aws-sdk-ecs) (GetMetricData)  (conditional   (PutEvents)        (ECS + Auto Scaling)
//!                                  writes)
//! ```
//!
//! Owns: SDK calls, error classification (retryable or not), environment
//! settings, logs. May not touch: decisions — those are the core's.

pub mod capacity;
pub mod cloudwatch;
pub mod dynamodb;
pub mod ecs;
pub mod edge;
pub mod error;
pub mod eventbridge;
pub mod history;
pub mod import;
pub mod retry;
pub mod settings;
