//! The engine a drill's stack runs on: a Compose project ([`RunningStack`]) or a Swarm stack
//! ([`crate::swarm::SwarmStack`]). The drill sees one handle: its name, its spec, up (ready containers), down.

use std::time::Duration;

use bollard::Docker;

use super::compose::ComposeCli;
use super::{RunningStack, StackSpec, UpOptions};
use crate::cleanup::Removed;
use crate::docker::discover::Container;
use crate::error::Result;
use crate::swarm::nodes::Nodes;
use crate::swarm::{Orchestrator, SwarmStack};

#[derive(Debug, Clone)]
pub enum Deployment {
    Compose(RunningStack),
    Swarm(SwarmStack),
}

impl Deployment {
    /// Prepares a run of `spec` on `orchestrator` under a new project name (starts nothing).
    pub fn prepare(spec: StackSpec, compose: ComposeCli, orchestrator: Orchestrator) -> Result<Deployment> {
        Ok(match orchestrator {
            Orchestrator::Compose => Deployment::Compose(RunningStack::prepare(spec, compose)?),
            Orchestrator::Swarm => Deployment::Swarm(SwarmStack::prepare(spec)?),
        })
    }

    /// The daemons of the swarm's nodes (`[nodes]`), kept for the drill's faults (a Compose project has none).
    pub fn with_nodes(self, nodes: Nodes) -> Deployment {
        match self {
            Deployment::Swarm(mut s) => {
                s.nodes = nodes;
                Deployment::Swarm(s)
            }
            compose => compose,
        }
    }

    pub fn nodes(&self) -> Nodes {
        match self {
            Deployment::Swarm(s) => s.nodes.clone(),
            Deployment::Compose(_) => Nodes::default(),
        }
    }

    pub fn spec(&self) -> &StackSpec {
        match self {
            Deployment::Compose(r) => &r.spec,
            Deployment::Swarm(s) => &s.spec,
        }
    }

    /// The Compose project or Swarm stack name, `hadrill-<stack>-<6 hex>`.
    pub fn project(&self) -> &str {
        match self {
            Deployment::Compose(r) => &r.project,
            Deployment::Swarm(s) => &s.project,
        }
    }

    /// What deployed it, for the report.
    pub fn engine(&self) -> String {
        match self {
            Deployment::Compose(r) => r.compose.display(),
            Deployment::Swarm(s) => s.display(),
        }
    }

    /// The command that removes a kept stack.
    pub fn down_command(&self) -> String {
        match self {
            Deployment::Compose(r) => format!("hadrill down {} --project {}", r.spec.name, r.project),
            Deployment::Swarm(s) => format!("docker stack rm {}", s.project),
        }
    }

    pub fn is_swarm(&self) -> bool {
        matches!(self, Deployment::Swarm(_))
    }

    /// Brings the stack up and waits until it is ready; removes it on failure. With the containers, how long
    /// the deploy command took (the rest was the wait for readiness; Swarm's deploy is not split out: zero).
    pub async fn up(&self, docker: &Docker, opts: &UpOptions) -> Result<(Vec<Container>, Duration)> {
        match self {
            Deployment::Compose(r) => r.up_timed(docker, opts).await,
            Deployment::Swarm(s) => s.up(docker, opts.timeout).await.map(|c| (c, Duration::ZERO)),
        }
    }

    /// Between the cycles of a drill on one stack: every service running and healthy again (Compose: what a
    /// cycle left stopped or paused is started; Swarm restarts tasks itself). Returns the ready containers and
    /// what had to be started.
    pub async fn restore(&self, docker: &Docker, limit: Duration) -> Result<(Vec<Container>, Vec<String>)> {
        match self {
            Deployment::Compose(r) => r.restore(docker, limit).await,
            Deployment::Swarm(s) => Ok((s.wait_converged(docker, limit).await?, Vec::new())),
        }
    }

    pub async fn down(&self, docker: &Docker) -> Result<Removed> {
        match self {
            Deployment::Compose(r) => r.down(docker).await,
            Deployment::Swarm(s) => s.down(docker).await,
        }
    }
}
