//! Drills on Docker Swarm: the compose file deployed with `docker stack deploy` instead of Compose, readiness as
//! "every service converged", and Swarm's own recovery (a replacement task) observed from the Swarm API.
//!
//! Swarm task containers carry the Compose project and service labels as well (set through the stack's
//! container labels), so every label-based part of hadrill (discovery, the event log, cleanup, the reaper) finds
//! them unchanged; a task's slot (Swarm expands no template in labels) is read from its container name,
//! `<stack>_<service>.<slot>.<task id>`. What is Swarm's own (services, tasks, `stack rm`) lives here. See
//! `docs/swarm.md`.

pub mod clean;
pub mod deploy;
pub mod node;
pub mod overlay;
pub mod tasks;
pub mod watch;

pub use deploy::SwarmStack;

/// Label Docker puts on every object of a stack (`docker stack deploy` namespace).
pub const STACK_NAMESPACE: &str = "com.docker.stack.namespace";

/// Which engine runs a drill's stack.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Orchestrator {
    /// `docker compose up` (the default).
    #[default]
    Compose,
    /// `docker stack deploy` on the daemon's swarm.
    Swarm,
}

impl std::str::FromStr for Orchestrator {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "compose" => Ok(Orchestrator::Compose),
            "swarm" => Ok(Orchestrator::Swarm),
            other => Err(format!("orchestrator {other:?}: expected \"compose\" or \"swarm\"")),
        }
    }
}
