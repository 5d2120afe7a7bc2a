//! A node's availability through the Swarm API: `drain` (Swarm moves the node's tasks elsewhere, or leaves them
//! pending when there is nowhere to go) and back to `active`, for the `drain` fault. The node is the one that
//! runs the target task's container (its `com.docker.swarm.node.id` label).

use bollard::models::NodeSpecAvailabilityEnum as Availability;
use bollard::query_parameters::{InspectContainerOptions, UpdateNodeOptions};
use bollard::Docker;

const NODE_LABEL: &str = "com.docker.swarm.node.id";

/// The swarm node running container `id`; an error when it is no swarm task.
pub async fn of_container(docker: &Docker, id: &str) -> Result<String, String> {
    let c = docker
        .inspect_container(id, None::<InspectContainerOptions>)
        .await
        .map_err(|e| format!("inspect failed: {e}"))?;
    c.config
        .and_then(|c| c.labels)
        .and_then(|l| l.get(NODE_LABEL).cloned())
        .ok_or_else(|| "not a swarm task (drain needs orchestrator = \"swarm\")".to_string())
}

/// The node's hostname (for messages) and availability.
pub async fn availability(docker: &Docker, node: &str) -> Result<(String, String), String> {
    let n = docker.inspect_node(node).await.map_err(|e| format!("inspect node {node}: {e}"))?;
    let host = n.description.and_then(|d| d.hostname).unwrap_or_else(|| node.to_owned());
    let avail = n.spec.and_then(|s| s.availability).map(|a| a.to_string()).unwrap_or_default();
    Ok((host, avail))
}

/// Sets the node's availability (`drain` or `active`), keeping the rest of its spec.
pub async fn set(docker: &Docker, node: &str, to: Availability) -> Result<(), String> {
    let n = docker.inspect_node(node).await.map_err(|e| format!("inspect node {node}: {e}"))?;
    let version = n.version.and_then(|v| v.index).ok_or_else(|| format!("node {node} has no version"))?;
    let mut spec = n.spec.unwrap_or_default();
    spec.availability = Some(to);
    let opts = UpdateNodeOptions { version: i64::try_from(version).unwrap_or(i64::MAX) };
    docker.update_node(node, spec, opts).await.map_err(|e| format!("set node {node} {to}: {e}"))
}
