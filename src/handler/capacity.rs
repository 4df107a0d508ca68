//! The capacity handler: plans one capacity provider's Auto Scaling group
//! (spec §7) from the cluster the [`CapacityPort`] reads, with the same
//! claim-then-act discipline as the service handler.
//!
//! Owns: which events trigger a plan and the memory of each provider. May
//! not touch: the clock or I/O other than through the ports.

use super::{encode, HandlerError, Ignored, Settings};
use crate::capacity::{plan, CapacityAction, CapacityDecision, CapacityMemory, CapacityOptions};
use crate::event::Detail;
use crate::memory::EventLedger;
use crate::ports::{CapacityPort, DecisionPort, SaveOutcome, StatePort};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// Memory of one capacity provider as stored.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ProviderRecord {
    #[serde(default)]
    pub memory: CapacityMemory,
    #[serde(default)]
    pub ledger: EventLedger,
}

/// What one capacity invocation did.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CapacityReport {
    pub decisions: Vec<CapacityDecision>,
    pub ignored: Vec<Ignored>,
    pub applied: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub publish_errors: Vec<String>,
}

/// `detail-type` of published capacity records.
pub const CAPACITY_DETAIL_TYPE: &str = "ECS Autopilot Capacity Decision";

/// The state key of a capacity provider.
#[must_use]
pub fn provider_key(provider: &str) -> String {
    format!("capacity#{provider}")
}

/// Handles one event for the capacity handler: placement failures, task
/// state changes (tasks stuck in PROVISIONING), container instance changes
/// and the one-minute tick all re-plan every managed provider.
///
/// # Errors
/// [`HandlerError`]; [`HandlerError::retryable`] says whether to retry.
pub async fn handle_capacity_event<C, T, D>(
    now: Timestamp,
    providers: &[String],
    options: &CapacityOptions,
    settings: Settings,
    ports: (&C, &T, &D),
    event_json: &serde_json::Value,
) -> Result<CapacityReport, HandlerError>
where
    C: CapacityPort + Sync,
    T: StatePort + Sync,
    D: DecisionPort + Sync,
{
    let (capacity, state, decisions) = ports;
    let mut report = CapacityReport { applied: !settings.shadow, ..CapacityReport::default() };
    let event = match super::parse(event_json) {
        Ok(e) => e,
        Err(ignored) => {
            report.ignored.push(ignored);
            return Ok(report);
        }
    };
    if matches!(event.detail, Detail::AlarmStateChange(_)) {
        report.ignored.push(Ignored {
            event_id: Some(event.meta.id.clone()),
            target: None,
            reason: "alarm state changes are the service handler's".to_owned(),
        });
        return Ok(report);
    }
    'providers: for provider in providers {
        let key = provider_key(provider);
        for _attempt in 0..settings.max_attempts.max(1) {
            let (previous, version) = super::load::<ProviderRecord, _>(state, &key).await?;
            let mut record = previous.clone();
            if let Err(refusal) = super::admit(&mut record.ledger, &event, now) {
                report.ignored.push(Ignored {
                    event_id: Some(event.meta.id.clone()),
                    target: Some(provider.clone()),
                    reason: refusal.to_string(),
                });
                continue 'providers;
            }
            let cluster = capacity.cluster(provider).await?;
            let (decision, next) = plan(now, &cluster, options, record.memory)
                .map_err(|e| HandlerError::Planning { provider: provider.clone(), reason: e.to_string() })?;
            record.memory = next;
            let claimed = match state.save(&key, &encode(&record, &key)?, version, now).await? {
                SaveOutcome::Conflict => continue,
                SaveOutcome::Saved { version } => version,
            };
            if !settings.shadow {
                for action in &decision.actions {
                    if let Err(source) = capacity.apply(&cluster, action).await {
                        let _ = state.save(&key, &encode(&previous, &key)?, Some(claimed), now).await;
                        return Err(HandlerError::ActionFailed {
                            target: provider.clone(),
                            action: describe(action),
                            source,
                        });
                    }
                }
            }
            if let Err(e) = super::publish(decisions, CAPACITY_DETAIL_TYPE, &decision).await {
                report.publish_errors.push(e);
            }
            report.decisions.push(decision);
            continue 'providers;
        }
        return Err(HandlerError::Contention { key, attempts: settings.max_attempts.max(1) });
    }
    Ok(report)
}

fn describe(action: &CapacityAction) -> String {
    match action {
        CapacityAction::SetDesiredCapacity { to, .. } => format!("autoscaling:SetDesiredCapacity {to}"),
        CapacityAction::ProtectFromScaleIn { ec2_instance_ids } => {
            format!("autoscaling:SetInstanceProtection {}", ec2_instance_ids.join(","))
        }
        CapacityAction::Drain { container_instances } => {
            format!("ecs:UpdateContainerInstancesState DRAINING {}", container_instances.join(","))
        }
        CapacityAction::TerminateAndDecrement { ec2_instance_ids } => {
            format!("autoscaling:TerminateInstanceInAutoScalingGroup {}", ec2_instance_ids.join(","))
        }
    }
}
