//! Removing what hadrill created: one project's containers, networks and volumes (after `compose down`, as a
//! sweep that works even when Compose cannot), or everything carrying hadrill's labels (`hadrill clean`).
//!
//! Found by labels: `io.hadrill.managed` (from hadrill's override) and, for anything Compose created without
//! it (e.g. a `default` network), a `com.docker.compose.project` value starting with `hadrill-`, the prefix of
//! every project name hadrill makes.

use std::collections::HashMap;

use bollard::query_parameters::{
    ListContainersOptionsBuilder, ListNetworksOptions, ListVolumesOptions, RemoveContainerOptionsBuilder,
};
use bollard::Docker;

use crate::docker::labels;
use crate::error::{Error, Result};

/// Prefix of every Compose project name hadrill makes.
pub const PROJECT_PREFIX: &str = "hadrill-";

/// What a sweep removed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Removed {
    pub containers: usize,
    pub networks: usize,
    pub volumes: usize,
}

impl Removed {
    pub fn total(&self) -> usize {
        self.containers + self.networks + self.volumes
    }
}

impl std::fmt::Display for Removed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} containers, {} networks, {} volumes", self.containers, self.networks, self.volumes)
    }
}

/// Which objects a sweep takes.
#[derive(Debug, Clone)]
pub enum Scope {
    /// One Compose project (and the helper containers hadrill started for it).
    Project(String),
    /// Everything hadrill ever created on this daemon.
    All,
}

impl Scope {
    fn wants(&self, obj_labels: Option<&HashMap<String, String>>) -> bool {
        let Some(l) = obj_labels else { return false };
        let project = l.get(labels::COMPOSE_PROJECT).map(String::as_str);
        let helper = l.get(labels::HELPER_FOR).map(String::as_str);
        match self {
            Scope::Project(p) => project == Some(p.as_str()) || helper == Some(p.as_str()),
            Scope::All => {
                l.contains_key(labels::MANAGED)
                    || helper.is_some()
                    || project.is_some_and(|p| p.starts_with(PROJECT_PREFIX))
            }
        }
    }
}

fn not_found(e: &bollard::errors::Error) -> bool {
    matches!(e, bollard::errors::Error::DockerResponseServerError { status_code: 404, .. })
}

/// Removes the containers, then networks, then volumes in scope. Objects that vanish meanwhile are fine.
pub async fn sweep(docker: &Docker, scope: &Scope) -> Result<Removed> {
    let mut removed = Removed::default();
    let opts = ListContainersOptionsBuilder::default().all(true).build();
    let containers =
        docker.list_containers(Some(opts)).await.map_err(|e| Error::docker("list containers", e))?;
    for c in containers.into_iter().filter(|c| scope.wants(c.labels.as_ref())) {
        let Some(id) = c.id else { continue };
        let opts = RemoveContainerOptionsBuilder::default().force(true).v(true).build();
        match docker.remove_container(&id, Some(opts)).await {
            Ok(()) => removed.containers += 1,
            Err(e) if not_found(&e) => {}
            Err(e) => return Err(Error::docker(format!("remove container {id}"), e)),
        }
    }
    let networks = docker
        .list_networks(None::<ListNetworksOptions>)
        .await
        .map_err(|e| Error::docker("list networks", e))?;
    for n in networks.into_iter().filter(|n| scope.wants(n.labels.as_ref())) {
        let Some(name) = n.name else { continue };
        match docker.remove_network(&name).await {
            Ok(()) => removed.networks += 1,
            Err(e) if not_found(&e) => {}
            Err(e) => return Err(Error::docker(format!("remove network {name}"), e)),
        }
    }
    let volumes = docker
        .list_volumes(None::<ListVolumesOptions>)
        .await
        .map_err(|e| Error::docker("list volumes", e))?;
    for v in volumes.volumes.unwrap_or_default() {
        if !scope.wants(Some(&v.labels)) {
            continue;
        }
        match docker.remove_volume(&v.name, None::<bollard::query_parameters::RemoveVolumeOptions>).await {
            Ok(()) => removed.volumes += 1,
            Err(e) if not_found(&e) => {}
            Err(e) => return Err(Error::docker(format!("remove volume {}", v.name), e)),
        }
    }
    Ok(removed)
}

/// One object a sweep would remove, as `hadrill clean --dry-run` prints it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Leftover {
    /// `container`, `network` or `volume`.
    pub kind: &'static str,
    /// The object's name (containers without one are shown by id).
    pub name: String,
}

impl std::fmt::Display for Leftover {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.kind, self.name)
    }
}

/// Lists what a sweep of this scope would remove, without removing anything, sorted.
pub async fn list(docker: &Docker, scope: &Scope) -> Result<Vec<Leftover>> {
    let opts = ListContainersOptionsBuilder::default().all(true).build();
    let containers =
        docker.list_containers(Some(opts)).await.map_err(|e| Error::docker("list containers", e))?;
    let networks = docker
        .list_networks(None::<ListNetworksOptions>)
        .await
        .map_err(|e| Error::docker("list networks", e))?;
    let volumes = docker
        .list_volumes(None::<ListVolumesOptions>)
        .await
        .map_err(|e| Error::docker("list volumes", e))?;
    let mut out = Vec::new();
    for c in containers.into_iter().filter(|c| scope.wants(c.labels.as_ref())) {
        let name = c.names.and_then(|n| n.into_iter().next()).map(|n| n.trim_start_matches('/').to_owned());
        let Some(name) = name.or(c.id) else { continue };
        out.push(Leftover { kind: "container", name });
    }
    for n in networks.into_iter().filter(|n| scope.wants(n.labels.as_ref())) {
        let Some(name) = n.name.or(n.id) else { continue };
        out.push(Leftover { kind: "network", name });
    }
    for v in volumes.volumes.unwrap_or_default().into_iter().filter(|v| scope.wants(Some(&v.labels))) {
        out.push(Leftover { kind: "volume", name: v.name });
    }
    out.sort();
    Ok(out)
}

/// Counts what a sweep of this scope would remove.
pub async fn count(docker: &Docker, scope: &Scope) -> Result<Removed> {
    Ok(tally(&list(docker, scope).await?))
}

/// Counts a listing by kind.
pub fn tally(objects: &[Leftover]) -> Removed {
    let n = |k: &str| objects.iter().filter(|o| o.kind == k).count();
    Removed { containers: n("container"), networks: n("network"), volumes: n("volume") }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn l(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn scopes_pick_by_label() {
        let ours = l(&[(labels::COMPOSE_PROJECT, "hadrill-web-1a2b3c"), (labels::MANAGED, "true")]);
        let default_net = l(&[(labels::COMPOSE_PROJECT, "hadrill-web-1a2b3c")]);
        let helper = l(&[(labels::HELPER_FOR, "hadrill-web-1a2b3c")]);
        let foreign = l(&[(labels::COMPOSE_PROJECT, "myapp")]);
        let all = Scope::All;
        assert!(all.wants(Some(&ours)) && all.wants(Some(&default_net)) && all.wants(Some(&helper)));
        assert!(!all.wants(Some(&foreign)) && !all.wants(None));
        let one = Scope::Project("hadrill-web-1a2b3c".into());
        assert!(one.wants(Some(&ours)) && one.wants(Some(&helper)));
        let other = Scope::Project("hadrill-web-ffffff".into());
        assert!(!other.wants(Some(&ours)));
    }
}
