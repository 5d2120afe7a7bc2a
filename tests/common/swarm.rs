//! A one-node swarm for a test, left exactly as found: when the daemon is not in a swarm, the guard runs
//! `docker swarm init --advertise-addr 127.0.0.1`; when dropped (also on failure and panic) it leaves the swarm
//! and removes `docker_gwbridge` and `ingress` if the swarm created them. A daemon already in a swarm is used as
//! it is and left alone.

use std::process::Command;

pub struct SwarmGuard {
    /// Whether this guard initialised the swarm (and so must leave it).
    created: bool,
    /// The networks there were before the swarm.
    networks_before: Vec<String>,
    /// Node labels this guard added to a swarm it did not create (removed when dropped).
    labels_added: Vec<String>,
}

fn docker(args: &[&str]) -> (bool, String) {
    match Command::new("docker").args(args).output() {
        Ok(o) => (
            o.status.success(),
            format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr)),
        ),
        Err(e) => (false, e.to_string()),
    }
}

/// The daemon's network names.
pub fn network_names() -> Vec<String> {
    let (_, out) = docker(&["network", "ls", "--format", "{{.Name}}"]);
    let mut names: Vec<String> = out.lines().map(str::to_owned).collect();
    names.sort();
    names
}

/// `inactive`, `active`, `pending`, ... as `docker info` says.
pub fn swarm_state() -> String {
    docker(&["info", "--format", "{{.Swarm.LocalNodeState}}"]).1.trim().to_owned()
}

/// This daemon's node id in its swarm (`docker node update` does not take `self`).
fn node_id() -> String {
    docker(&["info", "--format", "{{.Swarm.NodeID}}"]).1.trim().to_owned()
}

impl SwarmGuard {
    /// A swarm to deploy on; panics when none can be had.
    pub fn ensure() -> SwarmGuard {
        let networks_before = network_names();
        let state = swarm_state();
        if state == "active" {
            return SwarmGuard { created: false, networks_before, labels_added: Vec::new() };
        }
        assert_eq!(state, "inactive", "the daemon's swarm state is {state:?}: neither usable nor free");
        let (ok, out) = docker(&["swarm", "init", "--advertise-addr", "127.0.0.1"]);
        let guard = SwarmGuard { created: true, networks_before, labels_added: Vec::new() };
        assert!(ok, "docker swarm init failed: {out}");
        guard
    }

    /// Adds `key=true` to this node's labels (a placement constraint of a bundled stack), unless it is there.
    pub fn label_node(&mut self, key: &str) {
        let (_, have) = docker(&["node", "inspect", "self", "--format", "{{json .Spec.Labels}}"]);
        if have.contains(&format!("\"{key}\":\"true\"")) {
            return;
        }
        let (ok, out) = docker(&["node", "update", "--label-add", &format!("{key}=true"), &node_id()]);
        assert!(ok, "docker node update --label-add {key}: {out}");
        self.labels_added.push(key.to_owned());
    }
}

impl Drop for SwarmGuard {
    fn drop(&mut self) {
        if !self.created {
            for key in &self.labels_added {
                let _ = docker(&["node", "update", "--label-rm", key, &node_id()]);
            }
            return;
        }
        let (ok, out) = docker(&["swarm", "leave", "--force"]);
        if !ok {
            eprintln!("warning: docker swarm leave failed: {out}");
        }
        for net in ["docker_gwbridge", "ingress"] {
            if self.networks_before.iter().any(|n| n == net) {
                continue;
            }
            for _ in 0..20 {
                if !network_names().iter().any(|n| n == net) {
                    break;
                }
                let _ = docker(&["network", "rm", net]);
                std::thread::sleep(std::time::Duration::from_millis(250));
            }
        }
        for net in ["docker_gwbridge", "ingress"] {
            if network_names().iter().any(|n| n == net) && !self.networks_before.iter().any(|n| n == net) {
                eprintln!("warning: network {net} created by the swarm is still there");
            }
        }
    }
}
