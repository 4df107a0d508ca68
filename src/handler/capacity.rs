//! The capacity handler: plans one capacity provider's Auto Scaling group
//! (aws-behaviour §7) from the cluster the [`CapacityPort`] reads, with the same
//! claim-then-act discipline as the service handler.
//!
//! Owns: which events trigger a plan and the memory of each provider. May
//! not touch: the clock or I/O other than through the ports.

use super::claim::{claim_then_act, Claim, Claimed, Work};
use super::{HandlerError, Ignored, Settings};
use crate::capacity::{plan_at_risk, CapacityAction, CapacityDecision, CapacityMemory, CapacityOptions, Cluster};
use crate::event::Detail;
use crate::memory::EventLedger;
use crate::ports::{CapacityPort, DecisionPort, PortError, StatePort};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// Memory of one capacity provider as stored.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ProviderRecord {
    /// [`super::RECORD_SCHEMA`] of the build that wrote it (0: before schemas).
    #[serde(default)]
    pub schema: u32,
    #[serde(default)]
    pub memory: CapacityMemory,
    #[serde(default)]
    pub ledger: EventLedger,
    /// The provider was found to need no instances (Fargate), and the
    /// handler said so once: it stays silent about it from then on.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub without_instances: bool,
}

impl super::Schema for ProviderRecord {
    fn schema(&self) -> u32 {
        self.schema
    }
    fn set_schema(&mut self, schema: u32) {
        self.schema = schema;
    }
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
/// and the one-minute tick all re-plan every managed provider. A Spot
/// interruption warning or rebalance recommendation re-plans the provider
/// whose group holds the instance, draining and replacing it
/// ([`plan_at_risk`]); an instance in none of them is acknowledged as such.
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
            kind: "alarm event".to_owned(),
            reason: "alarm state changes are the service handler's".to_owned(),
        });
        return Ok(report);
    }
    let at_risk = event.detail.instance_at_risk();
    let mut holder_found = false;
    for provider in providers {
        let key = provider_key(provider);
        let work = CapacityWork { provider, options, capacity, at_risk };
        let claim = Claim { key: &key, target: provider, now, event: Some(&event) };
        match claim_then_act(&work, state, claim, settings, None).await? {
            Claimed::Done(Planned::Plan(planned)) => {
                let (_, decision) = *planned;
                holder_found |= !decision.at_risk.is_empty();
                if let Err(e) = super::publish(decisions, CAPACITY_DETAIL_TYPE, &decision).await {
                    report.publish_errors.push(e);
                }
                report.decisions.push(decision);
            }
            Claimed::Done(Planned::WithoutInstances) => report.ignored.push(Ignored {
                event_id: Some(event.meta.id.clone()),
                target: Some(provider.clone()),
                kind: "no auto scaling group".to_owned(),
                reason: crate::capacity::snapshot::no_instances_reason(provider),
            }),
            Claimed::Refused(refusal) => report.ignored.push(Ignored {
                event_id: Some(event.meta.id.clone()),
                target: Some(provider.clone()),
                kind: refusal.kind().to_owned(),
                reason: refusal.to_string(),
            }),
            // The capacity work reserves nothing: it is never deferred.
            Claimed::Nothing | Claimed::Deferred(..) => {}
        }
    }
    if let (Some(instance), false) = (at_risk, holder_found) {
        report.ignored.push(Ignored {
            event_id: Some(event.meta.id.clone()),
            target: Some(instance.to_owned()),
            kind: "instance not managed".to_owned(),
            reason: format!("EC2 instance {instance} is in none of the capacity providers {}", providers.join(", ")),
        });
    }
    Ok(report)
}

/// The capacity handler's unit of work: one capacity provider.
struct CapacityWork<'a, C> {
    provider: &'a str,
    options: &'a CapacityOptions,
    capacity: &'a C,
    /// The EC2 instance a Spot event names: only the provider whose group
    /// holds it plans.
    at_risk: Option<&'a str>,
}

/// What a capacity provider's claim decided.
enum Planned {
    /// The cluster planned on (actions apply to it) and the decision.
    Plan(Box<(Cluster, CapacityDecision)>),
    /// The provider needs no instances, found now for the first time.
    WithoutInstances,
}

impl<C: CapacityPort + Sync> Work for CapacityWork<'_, C> {
    type Record = ProviderRecord;
    type Decision = Planned;

    fn ledger(record: &mut ProviderRecord) -> &mut EventLedger {
        &mut record.ledger
    }

    async fn decide(
        &self,
        now: Timestamp,
        record: &mut ProviderRecord,
    ) -> Result<Option<Self::Decision>, HandlerError> {
        let Some(cluster) = self.capacity.cluster(self.provider).await? else {
            // Said once (the record remembers), then silence: a Fargate
            // provider is a configuration, not a fault (docs/capacity.md).
            if record.without_instances {
                return Ok(None);
            }
            record.without_instances = true;
            return Ok(Some(Planned::WithoutInstances));
        };
        record.without_instances = false;
        let at_risk: Vec<String> = self.at_risk.map(str::to_owned).into_iter().collect();
        if let Some(id) = self.at_risk {
            if !cluster.instances.iter().any(|i| i.in_asg && i.ec2_instance_id.as_deref() == Some(id)) {
                return Ok(None);
            }
        }
        let (decision, next) = plan_at_risk(now, &cluster, self.options, std::mem::take(&mut record.memory), &at_risk)
            .map_err(|e| HandlerError::Planning { provider: self.provider.to_owned(), reason: e.to_string() })?;
        record.memory = next;
        Ok(Some(Planned::Plan(Box::new((cluster, decision)))))
    }

    async fn act(&self, planned: &Self::Decision) -> Result<(), (String, PortError)> {
        let Planned::Plan(plan) = planned else { return Ok(()) };
        let (cluster, decision) = &**plan;
        for action in &decision.actions {
            self.capacity.apply(cluster, action).await.map_err(|e| (describe(action), e))?;
        }
        Ok(())
    }
}

fn describe(action: &CapacityAction) -> String {
    match action {
        CapacityAction::SetDesiredCapacity { to, .. } => format!("autoscaling:SetDesiredCapacity {to}"),
        CapacityAction::ProtectFromScaleIn { ec2_instance_ids } => {
            format!("autoscaling:SetInstanceProtection {}", ec2_instance_ids.join(","))
        }
        CapacityAction::UnprotectFromScaleIn { ec2_instance_ids } => {
            format!("autoscaling:SetInstanceProtection off {}", ec2_instance_ids.join(","))
        }
        CapacityAction::Drain { container_instances } => {
            format!("ecs:UpdateContainerInstancesState DRAINING {}", container_instances.join(","))
        }
        CapacityAction::TerminateAndDecrement { ec2_instance_ids } => {
            format!("autoscaling:TerminateInstanceInAutoScalingGroup {}", ec2_instance_ids.join(","))
        }
    }
}
