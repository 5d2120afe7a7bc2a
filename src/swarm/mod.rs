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
pub mod endpoint;
pub mod manager;
pub mod node;
pub mod nodes;
pub mod overlay;
pub mod service;
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

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::Orchestrator;
    use crate::scenario::model::Action;

    const HEAD: &str = "name = \"x\"\nstack = \"swarm-web-pg\"\nduration = \"30s\"\n";

    #[test]
    fn a_scenario_picks_swarm_and_a_bad_word_is_placed_in_the_file() {
        let ok = format!("{HEAD}orchestrator = \"swarm\"\n");
        let sc = crate::scenario::parse(Path::new("scenarios/t.toml"), &ok).unwrap();
        assert_eq!(sc.orchestrator, Some(Orchestrator::Swarm));
        let none = crate::scenario::parse(Path::new("scenarios/t.toml"), HEAD).unwrap();
        assert_eq!(none.orchestrator, None, "the stack's x-hadrill decides then");
        assert_eq!(none.stack_spec().unwrap().meta.orchestrator, Some(Orchestrator::Swarm));
        let bad = format!("{HEAD}orchestrator = \"kubernetes\"\n");
        let e = crate::scenario::parse(Path::new("scenarios/t.toml"), &bad).unwrap_err().to_string();
        assert!(e.contains("scenarios/t.toml:4:") && e.contains("\"kubernetes\""), "{e}");
    }

    #[test]
    fn a_drain_needs_a_duration() {
        let fault = "[[fault]]\nat = \"5s\"\naction = \"drain\"\ntarget = \"app\"\n";
        let e = crate::scenario::parse(Path::new("t.toml"), &format!("{HEAD}{fault}")).unwrap_err();
        assert!(e.to_string().contains("duration"), "{e}");
        let with = format!("{HEAD}{fault}duration = \"5s\"\n");
        let sc = crate::scenario::parse(Path::new("t.toml"), &with).unwrap();
        assert_eq!(sc.actions[0].action, Action::Drain);
    }
}
