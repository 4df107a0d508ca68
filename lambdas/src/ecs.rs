//! ECS services through aws-sdk-ecs: `DescribeServices` (up to ten
//! services of one cluster a call) and `UpdateService(desiredCount)`.

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

/// What ECS said about one service, as the core reads it.
fn snapshot_of(s: &aws_sdk_ecs::types::Service) -> ServiceSnapshot {
    let deployments = s.deployments();
    let primary = deployments.iter().find(|d| d.status() == Some("PRIMARY"));
    // A deployment is in progress while more than one deployment exists
    // or the primary one has not completed (docs/aws-behaviour.md).
    let in_progress =
        deployments.len() > 1 || primary.and_then(|d| d.rollout_state()).is_some_and(|r| r.as_str() == "IN_PROGRESS");
    ServiceSnapshot {
        desired: count(s.desired_count()),
        running: count(s.running_count()),
        pending: count(s.pending_count()),
        // The primary deployment's tasks matter only while another
        // deployment exists; with one, the service's count is the same
        // figure (and the one every ECS emulator fills in).
        primary_running: primary.filter(|_| deployments.len() > 1).map(|d| count(d.running_count())),
        deployment_in_progress: in_progress,
    }
}

/// The service name an ECS answer names: the last part of an ARN, or the
/// name itself.
fn service_name(arn_or_name: &str) -> &str {
    arn_or_name.rsplit('/').next().unwrap_or(arn_or_name)
}

impl ServicePort for EcsServices {
    async fn describe(&self, resource_id: &str) -> Result<ServiceSnapshot, PortError> {
        let mut answer = self.describe_batch(&[resource_id.to_owned()]).await?;
        answer.pop().unwrap_or_else(|| Err(PortError::permanent("ecs:DescribeServices", "empty answer")))
    }

    /// One call per cluster among `resource_ids` (the handler sends one
    /// cluster's services, at most ten); each service's own failure (e.g.
    /// `MISSING`) fails that service alone.
    async fn describe_batch(
        &self,
        resource_ids: &[String],
    ) -> Result<Vec<Result<ServiceSnapshot, PortError>>, PortError> {
        const OP: &str = "ecs:DescribeServices";
        let parsed: Vec<Result<(&str, &str), PortError>> =
            resource_ids.iter().map(|id| split_resource_id(id)).collect();
        let mut clusters: Vec<&str> = parsed.iter().filter_map(|p| p.as_ref().ok().map(|(c, _)| *c)).collect();
        clusters.sort_unstable();
        clusters.dedup();
        let mut found: std::collections::HashMap<(&str, String), Result<ServiceSnapshot, PortError>> =
            std::collections::HashMap::new();
        for cluster in clusters {
            let names: Vec<&str> =
                parsed.iter().filter_map(|p| p.as_ref().ok()).filter(|(c, _)| *c == cluster).map(|(_, s)| *s).collect();
            for chunk in names.chunks(ecs_autopilot::ports::DESCRIBE_SERVICES_BATCH) {
                let out = self
                    .client
                    .describe_services()
                    .cluster(cluster)
                    .set_services(Some(chunk.iter().map(|s| (*s).to_owned()).collect()))
                    .send()
                    .await
                    .map_err(|e| port_error(OP, e))?;
                for s in out.services() {
                    // AWS names each service; the ARN's last segment is the name too.
                    let name = s.service_name().or(s.service_arn().map(service_name)).unwrap_or_default().to_owned();
                    found.insert((cluster, name), Ok(snapshot_of(s)));
                }
                for f in out.failures() {
                    let name = f.arn().map(service_name).unwrap_or_default().to_owned();
                    let why = f.reason().unwrap_or("service not found");
                    let error = PortError::permanent(OP, format!("service/{cluster}/{name}: {why}"));
                    found.insert((cluster, name), Err(error));
                }
            }
        }
        Ok(resource_ids
            .iter()
            .zip(parsed)
            .map(|(id, p)| {
                let (cluster, service) = p?;
                found
                    .remove(&(cluster, service.to_owned()))
                    .unwrap_or_else(|| Err(PortError::permanent(OP, format!("{id}: no such service"))))
            })
            .collect())
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
