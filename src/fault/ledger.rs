//! The ledger of reverts. Every fault that leaves state behind (a paused container, a detached network, iptables
//! rules, a stopped container that should come back) registers its revert here; reverts run when the fault's
//! duration ends, and whatever is still pending runs on success, failure, timeout, panic and interrupt alike.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Instant;

use bollard::models::{EndpointSettings, NetworkConnectRequest};
use bollard::query_parameters::StartContainerOptions;
use bollard::Docker;

use super::diskfill::{self, Filled};
use super::netfault::{self, Installed};
use crate::timeline::{ActionEvent, Clock};

/// How to undo one fault on one container.
#[derive(Debug, Clone)]
pub enum Revert {
    Unpause {
        id: String,
        name: String,
    },
    Reconnect {
        id: String,
        name: String,
        network: String,
        aliases: Vec<String>,
    },
    /// Remove a network fault (iptables rules or tc qdiscs) and its helper container.
    NetFault(Installed),
    /// Delete a disk fill's file and its helper container.
    DiskFill(Filled),
    Start {
        id: String,
        name: String,
    },
    /// Set a swarm node back to `active` after a drain.
    Activate {
        node: String,
        name: String,
    },
    /// Scale a swarm service (its full name) back to its replicas before a `scale`.
    SwarmScale {
        service: String,
        replicas: u64,
    },
    /// Swarm's rollback of a service to its spec before a `rolling-update` to another image.
    SwarmRollback {
        service: String,
        to: crate::swarm::service::Want,
    },
}

/// How long a swarm revert may take to converge.
const SWARM_REVERT_LIMIT: std::time::Duration = std::time::Duration::from_secs(120);

impl Revert {
    pub fn describe(&self) -> String {
        match self {
            Revert::Unpause { name, .. } => format!("unpause {name}"),
            Revert::Reconnect { name, network, .. } => format!("reconnect {name} to {network}"),
            Revert::NetFault(n) => format!("remove the network fault in {}", n.target),
            Revert::DiskFill(f) => format!("delete the fill file in {}:{}", f.target, f.path),
            Revert::Start { name, .. } => format!("start {name}"),
            Revert::Activate { name, .. } => format!("set swarm node {name} active"),
            Revert::SwarmScale { service, replicas } => {
                format!("scale swarm service {service} back to {replicas}")
            }
            Revert::SwarmRollback { service, to } => {
                format!("roll swarm service {service} back to {}", to.image)
            }
        }
    }

    async fn run(&self, docker: &Docker) -> Result<(), String> {
        match self {
            Revert::Unpause { id, .. } => docker.unpause_container(id).await.map_err(|e| e.to_string()),
            Revert::Activate { node, .. } => {
                crate::swarm::node::set(docker, node, bollard::models::NodeSpecAvailabilityEnum::ACTIVE).await
            }
            Revert::SwarmScale { service, replicas } => {
                let scaled =
                    crate::swarm::service::scale(docker, service, *replicas, SWARM_REVERT_LIMIT).await?;
                scaled.error.map_or(Ok(()), Err)
            }
            Revert::SwarmRollback { service, to } => {
                crate::swarm::service::rollback(docker, service, to, SWARM_REVERT_LIMIT).await
            }
            Revert::Reconnect { id, network, aliases, .. } => {
                let req = NetworkConnectRequest {
                    container: id.clone(),
                    endpoint_config: Some(EndpointSettings {
                        aliases: Some(aliases.clone()),
                        ..Default::default()
                    }),
                };
                docker.connect_network(network, req).await.map_err(|e| e.to_string())
            }
            Revert::NetFault(n) => {
                confirmed(netfault::revert(docker, n).await, "rules or qdiscs still listed after removal")
            }
            Revert::DiskFill(f) => {
                confirmed(diskfill::revert(docker, f).await, "the fill file is still there after removal")
            }
            Revert::Start { id, .. } => {
                docker.start_container(id, None::<StartContainerOptions>).await.map_err(|e| e.to_string())
            }
        }
    }
}

/// A helper's revert that reports whether it could confirm the fault gone.
fn confirmed(result: crate::error::Result<bool>, still_there: &str) -> Result<(), String> {
    match result {
        Ok(true) => Ok(()),
        Ok(false) => Err(still_there.to_string()),
        Err(e) => Err(e.to_string()),
    }
}

pub struct Ledger {
    docker: Docker,
    pending: Mutex<BTreeMap<usize, Vec<Revert>>>,
    /// Reverts running now (taken from `pending`, not yet done).
    running: Mutex<BTreeMap<usize, Vec<Revert>>>,
    /// When each action's reverts completed.
    done: Mutex<BTreeMap<usize, Instant>>,
    errors: Mutex<Vec<String>>,
}

impl Ledger {
    pub fn new(docker: Docker) -> Ledger {
        Ledger {
            docker,
            pending: Mutex::new(BTreeMap::new()),
            running: Mutex::new(BTreeMap::new()),
            done: Mutex::new(BTreeMap::new()),
            errors: Mutex::new(Vec::new()),
        }
    }

    pub fn register(&self, index: usize, revert: Revert) {
        self.pending.lock().expect("ledger lock").entry(index).or_default().push(revert);
    }

    /// Runs the reverts of one action (when its duration ends). Idempotent.
    pub async fn revert(&self, index: usize) {
        let reverts = self.pending.lock().expect("ledger lock").remove(&index);
        let Some(reverts) = reverts else { return };
        self.running.lock().expect("ledger lock").insert(index, reverts.clone());
        for r in &reverts {
            if let Err(e) = r.run(&self.docker).await {
                tracing::warn!("revert failed: {}: {e}", r.describe());
                self.errors.lock().expect("ledger lock").push(format!("{}: {e}", r.describe()));
            }
        }
        self.running.lock().expect("ledger lock").remove(&index);
        self.done.lock().expect("ledger lock").insert(index, Instant::now());
    }

    /// Runs every pending revert.
    pub async fn revert_all(&self) {
        let indices: Vec<usize> = self.pending.lock().expect("ledger lock").keys().copied().collect();
        for i in indices {
            self.revert(i).await;
        }
    }

    /// Forgets the last cycle's revert facts (its reverts all ran) before the next cycle on the same stack:
    /// action indices start again from 0.
    pub fn next_cycle(&self) {
        self.done.lock().expect("ledger lock").clear();
        self.errors.lock().expect("ledger lock").clear();
    }

    /// The reverts not known to be done (pending or running), in words: what may be left if hadrill stops
    /// waiting for them.
    pub fn may_be_left(&self) -> Vec<String> {
        let pending = self.pending.lock().expect("ledger lock");
        let running = self.running.lock().expect("ledger lock");
        running.values().chain(pending.values()).flatten().map(Revert::describe).collect()
    }

    /// The revert facts of a drill, filled once every revert has run: when each action's reverts completed
    /// (into its event); returns the reverts that failed, with their errors.
    pub fn fill(&self, actions: &mut [ActionEvent], clock: &Clock) -> Vec<String> {
        let done = self.done.lock().expect("ledger lock");
        for a in actions {
            a.reverted = done.get(&a.index).map(|t| clock.at(*t));
        }
        self.errors.lock().expect("ledger lock").clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A client for a port where nothing listens: every revert fails at once.
    fn unreachable() -> Docker {
        Docker::connect_with_http("http://127.0.0.1:1", 2, bollard::API_DEFAULT_VERSION).unwrap()
    }

    fn event(index: usize) -> ActionEvent {
        ActionEvent::test(index, "pause", 0)
    }

    #[tokio::test]
    async fn the_next_cycle_starts_without_the_last_ones_revert_facts() {
        let clock = Clock::start();
        let ledger = Ledger::new(unreachable());
        ledger.register(0, Revert::Start { id: "c0".into(), name: "app1".into() });
        ledger.revert_all().await;
        let mut first = vec![event(0)];
        assert_eq!(ledger.fill(&mut first, &clock).len(), 1, "the failed revert of cycle 1");
        assert!(first[0].reverted.is_some());
        ledger.next_cycle();
        let mut second = vec![event(0)];
        assert!(ledger.fill(&mut second, &clock).is_empty(), "cycle 2 did not inherit cycle 1's failure");
        assert!(second[0].reverted.is_none(), "nor its revert time for action 0");
    }

    #[tokio::test]
    async fn fills_revert_times_and_failures_once_and_lists_what_is_pending() {
        let clock = Clock::start();
        let ledger = Ledger::new(unreachable());
        ledger.register(0, Revert::Unpause { id: "c0".into(), name: "app1".into() });
        ledger.register(2, Revert::Start { id: "c2".into(), name: "app2".into() });
        assert_eq!(ledger.may_be_left(), ["unpause app1", "start app2"]);
        ledger.revert(0).await;
        assert_eq!(ledger.may_be_left(), ["start app2"]);
        let mut actions = vec![event(0), event(1), event(2)];
        let errors = ledger.fill(&mut actions, &clock);
        assert!(actions[0].reverted.is_some(), "a failed revert still ran, and when is recorded");
        assert_eq!((actions[1].reverted, actions[2].reverted), (None, None));
        assert_eq!(errors.len(), 1);
        assert!(errors[0].starts_with("unpause app1: "), "{errors:?}");
    }
}
