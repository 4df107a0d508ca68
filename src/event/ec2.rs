//! EC2 events about Spot instances at risk (docs/capacity.md "Spot"):
//! `EC2 Spot Instance Interruption Warning` (two minutes before EC2 stops,
//! hibernates or terminates the instance) and `EC2 Instance Rebalance
//! Recommendation` (an elevated risk of interruption, possibly earlier).
//! Both come from `aws.ec2` and name the instance in `detail.instance-id`.

use super::ecs::Extra;
use serde::{Deserialize, Serialize};

/// The detail of an `EC2 Spot Instance Interruption Warning`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SpotInterruption {
    #[serde(rename = "instance-id")]
    pub instance_id: String,
    /// What EC2 will do: `terminate`, `stop` or `hibernate`.
    #[serde(rename = "instance-action")]
    pub instance_action: SpotAction,
    #[serde(flatten)]
    pub other: Extra,
}

/// What EC2 does to an interrupted Spot instance.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SpotAction {
    Terminate,
    Stop,
    Hibernate,
}

/// The detail of an `EC2 Instance Rebalance Recommendation`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RebalanceRecommendation {
    #[serde(rename = "instance-id")]
    pub instance_id: String,
    #[serde(flatten)]
    pub other: Extra,
}
