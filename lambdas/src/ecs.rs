//! ECS services through aws-sdk-ecs: `DescribeServices` and
//! `UpdateService(desiredCount)`.

use crate::error::port_error;
use ecs_autopilot::ports::{PortError, ServicePort, ServiceSnapshot};

/// The [`ServicePort`] over ECS.
#[derive(Clone, Debug)]
pub struct EcsServices {
    client: aws_sdk_ecs::Client,
}

impl EcsServices {
    #[must_use]
    pub fn new(client: aws_sdk_ecs::Client) -> Self {
        Self { client }
    }
}

/// `(cluster, service)` from `service/<cluster>/<service>`.
pub(crate) fn split_resource_id(resource_id: &str) -> Result<(&str, &str), PortError> {
    let mut parts = resource_id.splitn(3, '/');
    match (parts.next(), parts.next(), parts.next()) {
        (Some("service"), Some(cluster), Some(service)) if !cluster.is_empty() && !service.is_empty() => {
            Ok((cluster, service))
        }
        _ => Err(PortError::permanent("ecs", format!("{resource_id:?} is not service/<cluster>/<service>"))),
    }
}

fn count(n: i32) -> u32 {
    u32::try_from(n).unwrap_or(0)
}

impl ServicePort for EcsServices {
    async fn describe(&self, resource_id: &str) -> Result<ServiceSnapshot, PortError> {
        const OP: &str = "ecs:DescribeServices";
        let (cluster, service) = split_resource_id(resource_id)?;
        let out = self
            .client
            .describe_services()
            .cluster(cluster)
            .services(service)
            .send()
            .await
            .map_err(|e| port_error(OP, e))?;
        if let Some(f) = out.failures().first() {
            return Err(PortError::permanent(
                OP,
                format!("{resource_id}: {}", f.reason().unwrap_or("service not found")),
            ));
        }
        let Some(s) = out.services().first() else {
            return Err(PortError::permanent(OP, format!("{resource_id}: no such service")));
        };
        let deployments = s.deployments();
        let primary = deployments.iter().find(|d| d.status() == Some("PRIMARY"));
        // A deployment is in progress while more than one deployment exists
        // or the primary one has not completed (aws-behaviour §2.5).
        let in_progress = deployments.len() > 1
            || primary.and_then(|d| d.rollout_state()).is_some_and(|r| r.as_str() == "IN_PROGRESS");
        Ok(ServiceSnapshot {
            desired: count(s.desired_count()),
            running: count(s.running_count()),
            pending: count(s.pending_count()),
            // The primary deployment's tasks matter only while another
            // deployment exists; with one, the service's count is the same
            // figure (and the one every ECS emulator fills in).
            primary_running: primary.filter(|_| deployments.len() > 1).map(|d| count(d.running_count())),
            deployment_in_progress: in_progress,
        })
    }

    async fn set_desired_count(&self, resource_id: &str, desired: u32) -> Result<(), PortError> {
        const OP: &str = "ecs:UpdateService";
        let (cluster, service) = split_resource_id(resource_id)?;
        let desired =
            i32::try_from(desired).map_err(|_| PortError::permanent(OP, format!("{desired} is too large")))?;
        self.client
            .update_service()
            .cluster(cluster)
            .service(service)
            .desired_count(desired)
            .send()
            .await
            .map_err(|e| port_error(OP, e))?;
        Ok(())
    }
}
