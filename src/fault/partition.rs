//! Network partitions the way Pumba does them: a helper container joins the target's network namespace
//! (`--network container:<id>`, NET_ADMIN) and installs iptables DROP rules there, so the target needs no tools
//! and no capabilities of its own. Rules live in a chain of their own (`HADRILL`) so the revert removes exactly
//! them. Verification reads the chain's packet counters: the fault counts as verified once packets were dropped.

use std::collections::HashMap;

use bollard::models::{ContainerCreateBody, HostConfig};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, InspectContainerOptions, RemoveContainerOptionsBuilder,
};
use bollard::Docker;

use super::exec;
use crate::docker::labels;
use crate::error::{Error, Result};

pub const HELPER_IMAGE: &str = "hadrill/nettools:local";
const CHAIN: &str = "HADRILL";

/// A partition in place: the helper container sharing the target's namespace.
#[derive(Debug, Clone)]
pub struct Partition {
    pub helper_id: String,
    pub target: String,
}

/// The IPv4 addresses of a container on all its networks.
pub async fn addresses(docker: &Docker, container_id: &str) -> Result<Vec<String>> {
    let i = docker
        .inspect_container(container_id, None::<InspectContainerOptions>)
        .await
        .map_err(|e| Error::docker(format!("inspect {container_id}"), e))?;
    Ok(i.network_settings
        .and_then(|n| n.networks)
        .map(|nets| nets.values().filter_map(|e| e.ip_address.clone()).filter(|ip| !ip.is_empty()).collect())
        .unwrap_or_default())
}

/// The shell script that installs the rules (both directions for every peer address).
pub fn install_script(peers: &[String]) -> String {
    let mut s = format!(
        "set -e; iptables -N {CHAIN}; iptables -I INPUT 1 -j {CHAIN}; iptables -I OUTPUT 1 -j {CHAIN};"
    );
    for ip in peers {
        s.push_str(&format!(" iptables -A {CHAIN} -s {ip} -j DROP; iptables -A {CHAIN} -d {ip} -j DROP;"));
    }
    s
}

/// The shell script that removes them (tolerant: each step may already be undone).
pub fn remove_script() -> String {
    format!(
        "iptables -D INPUT -j {CHAIN} 2>/dev/null; iptables -D OUTPUT -j {CHAIN} 2>/dev/null; \
         iptables -F {CHAIN} 2>/dev/null; iptables -X {CHAIN} 2>/dev/null; \
         ! iptables -S 2>/dev/null | grep -q {CHAIN}"
    )
}

/// Sum of the packet counters of the chain's rules, from `iptables -L CHAIN -v -n -x` output.
pub fn dropped_packets(listing: &str) -> u64 {
    listing
        .lines()
        .filter(|l| l.contains("DROP"))
        .filter_map(|l| l.split_whitespace().next()?.parse::<u64>().ok())
        .sum()
}

/// Starts the helper in `target`'s namespace and installs DROP rules for `peers`.
pub async fn apply(
    docker: &Docker,
    project: &str,
    target_id: &str,
    target: &str,
    peers: &[String],
) -> Result<Partition> {
    let mut helper_labels = HashMap::new();
    helper_labels.insert(labels::HELPER_FOR.to_string(), project.to_string());
    let body = ContainerCreateBody {
        image: Some(HELPER_IMAGE.into()),
        cmd: Some(vec!["sleep".into(), "infinity".into()]),
        labels: Some(helper_labels),
        host_config: Some(HostConfig {
            network_mode: Some(format!("container:{target_id}")),
            cap_add: Some(vec!["NET_ADMIN".into()]),
            init: Some(true),
            ..Default::default()
        }),
        ..Default::default()
    };
    let name = format!("{project}-netfault-{}", &target_id[..12.min(target_id.len())]);
    let opts = CreateContainerOptionsBuilder::default().name(&name).build();
    let created = docker
        .create_container(Some(opts), body)
        .await
        .map_err(|e| Error::docker(format!("create the partition helper for {target}"), e))?;
    let part = Partition { helper_id: created.id, target: target.to_string() };
    let started = docker
        .start_container(&part.helper_id, None::<bollard::query_parameters::StartContainerOptions>)
        .await;
    if let Err(e) = started {
        remove_helper(docker, &part.helper_id).await;
        return Err(Error::docker(format!("start the partition helper for {target}"), e));
    }
    let cmd = vec!["sh".to_string(), "-c".to_string(), install_script(peers)];
    let out = exec::run(docker, &part.helper_id, &cmd, None, &[]).await;
    match out {
        Ok(o) if o.exit_code == 0 => Ok(part),
        Ok(o) => {
            let _ = revert(docker, &part).await;
            Err(Error::Other(format!("iptables in {target}'s namespace failed: {}", o.output.trim())))
        }
        Err(e) => {
            let _ = revert(docker, &part).await;
            Err(e)
        }
    }
}

/// Packets dropped so far by the partition's rules.
pub async fn dropped(docker: &Docker, part: &Partition) -> Result<u64> {
    let cmd: Vec<String> =
        ["iptables", "-L", CHAIN, "-v", "-n", "-x"].iter().map(|s| s.to_string()).collect();
    let out = exec::run(docker, &part.helper_id, &cmd, None, &[]).await?;
    Ok(dropped_packets(&out.output))
}

/// Removes the rules, then the helper. Returns whether the rules are confirmed gone.
pub async fn revert(docker: &Docker, part: &Partition) -> Result<bool> {
    let cmd = vec!["sh".to_string(), "-c".to_string(), remove_script()];
    let gone = exec::run(docker, &part.helper_id, &cmd, None, &[]).await.map(|o| o.exit_code == 0);
    remove_helper(docker, &part.helper_id).await;
    gone
}

async fn remove_helper(docker: &Docker, id: &str) {
    let opts = RemoveContainerOptionsBuilder::default().force(true).build();
    let _ = docker.remove_container(id, Some(opts)).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_cover_both_directions_in_their_own_chain() {
        let s = install_script(&["172.20.0.5".into(), "172.21.0.3".into()]);
        assert!(s.contains("iptables -N HADRILL"));
        assert!(s.contains("-s 172.20.0.5 -j DROP") && s.contains("-d 172.20.0.5 -j DROP"));
        assert!(s.contains("-d 172.21.0.3 -j DROP"));
        assert!(remove_script().contains("iptables -X HADRILL"));
    }

    #[test]
    fn counts_dropped_packets() {
        let listing = "Chain HADRILL (2 references)\n    pkts      bytes target     prot opt in     out     source               destination\n      12      720 DROP       all  --  *      *       172.20.0.5           0.0.0.0/0\n       3      180 DROP       all  --  *      *       0.0.0.0/0            172.20.0.5\n";
        assert_eq!(dropped_packets(listing), 15);
        assert_eq!(dropped_packets("Chain HADRILL (2 references)\n"), 0);
    }
}
