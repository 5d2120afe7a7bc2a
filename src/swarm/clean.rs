//! Removing a swarm stack's services by label, for `cleanup::sweep` (after a run, by the reaper, by `hadrill
//! clean`): a service must go before its task containers, or Swarm starts new ones. A daemon that is not a
//! swarm manager has no services, and that is not an error.

use std::collections::HashMap;

use bollard::query_parameters::ListServicesOptions;
use bollard::Docker;

/// Every service on the daemon, by name, with its labels; none when the daemon is no swarm manager.
pub async fn services(docker: &Docker) -> Vec<(String, HashMap<String, String>)> {
    let Ok(list) = docker.list_services(None::<ListServicesOptions>).await else { return Vec::new() };
    list.into_iter()
        .filter_map(|s| {
            let spec = s.spec?;
            Some((spec.name?, spec.labels.unwrap_or_default()))
        })
        .collect()
}

/// Removes the services whose labels `wanted` accepts; returns how many went.
pub async fn remove_services(
    docker: &Docker,
    wanted: impl Fn(Option<&HashMap<String, String>>) -> bool,
) -> usize {
    let mut removed = 0;
    for (name, labels) in services(docker).await {
        if !wanted(Some(&labels)) {
            continue;
        }
        match docker.delete_service(&name).await {
            Ok(()) => removed += 1,
            Err(e) => tracing::warn!("remove swarm service {name}: {e}"),
        }
    }
    removed
}
