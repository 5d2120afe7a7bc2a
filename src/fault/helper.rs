//! The helper container some faults run beside their target, as Pumba does: the `hadrill/nettools:local`
//! image (iptables, tc, coreutils) started in one of the target's namespaces, so the target needs no tools and
//! no capabilities of its own. Helpers carry the `io.hadrill.helper-for` label, so `hadrill clean` finds one a
//! crashed run left behind.

use std::collections::HashMap;

use bollard::models::{ContainerCreateBody, HostConfig};
use bollard::query_parameters::{CreateContainerOptionsBuilder, RemoveContainerOptionsBuilder};
use bollard::Docker;

use super::exec;
use crate::docker::labels;
use crate::error::{Error, Result};

pub const HELPER_IMAGE: &str = "hadrill/nettools:local";

/// Which of the target's namespaces the helper joins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Share {
    /// Its network namespace, with NET_ADMIN (iptables and tc act on the target's interfaces).
    Network,
    /// Its PID namespace (the target's files are reachable under `/proc/1/root`); no network of its own.
    Pid,
}

/// Creates and starts a helper for `target_id`; `role` names it (`netfault`, `diskfill`).
pub async fn start(
    docker: &Docker,
    project: &str,
    target_id: &str,
    target: &str,
    share: Share,
    role: &str,
) -> Result<String> {
    let mut helper_labels = HashMap::new();
    helper_labels.insert(labels::HELPER_FOR.to_string(), project.to_string());
    let joined = format!("container:{target_id}");
    let host_config = match share {
        Share::Network => HostConfig {
            network_mode: Some(joined),
            cap_add: Some(vec!["NET_ADMIN".into()]),
            init: Some(true),
            ..Default::default()
        },
        Share::Pid => HostConfig {
            pid_mode: Some(joined),
            network_mode: Some("none".into()),
            init: Some(true),
            ..Default::default()
        },
    };
    let body = ContainerCreateBody {
        image: Some(HELPER_IMAGE.into()),
        cmd: Some(vec!["sleep".into(), "infinity".into()]),
        labels: Some(helper_labels),
        host_config: Some(host_config),
        ..Default::default()
    };
    let name = format!("{project}-{role}-{}", &target_id[..12.min(target_id.len())]);
    let opts = CreateContainerOptionsBuilder::default().name(&name).build();
    let created = docker
        .create_container(Some(opts), body)
        .await
        .map_err(|e| Error::docker(format!("create the {role} helper for {target}"), e))?;
    if let Err(e) =
        docker.start_container(&created.id, None::<bollard::query_parameters::StartContainerOptions>).await
    {
        remove(docker, &created.id).await;
        return Err(Error::docker(format!("start the {role} helper for {target}"), e));
    }
    Ok(created.id)
}

/// Runs a shell script in the helper.
pub async fn sh(docker: &Docker, helper_id: &str, script: String) -> Result<exec::ExecOutput> {
    exec::run(docker, helper_id, &["sh".to_string(), "-c".to_string(), script], None, &[]).await
}

/// Removes the helper (forced; a helper already gone is fine).
pub async fn remove(docker: &Docker, id: &str) {
    let opts = RemoveContainerOptionsBuilder::default().force(true).build();
    let _ = docker.remove_container(id, Some(opts)).await;
}
