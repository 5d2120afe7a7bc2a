//! The check a swarm drill passes before anything else: the daemon hadrill talks to (`DOCKER_HOST`, or the
//! local socket) must be a manager of an active swarm, since deploys, services and tasks go through it. hadrill
//! never initialises or joins a swarm itself (that would change the user's daemon for good), so the refusal says
//! how to make one and comes before any image is built or any container started.

use bollard::Docker;

use crate::error::{Error, Result};

/// Why the daemon cannot run a swarm drill, from its `docker info` swarm state (`inactive`, `active`,
/// `pending`, `error`, `locked`) and whether it is a manager; `None` when it can.
pub fn refusal(state: &str, manager: bool) -> Option<String> {
    let how = "hadrill never initialises a swarm itself: on one machine run `docker swarm init \
               --advertise-addr 127.0.0.1`, or point DOCKER_HOST at a manager of your swarm";
    match (state, manager) {
        ("active", true) => None,
        ("active", false) => Some(format!(
            "the daemon is a swarm worker, not a manager: a swarm drill deploys and watches its stack \
             through a manager ({how})"
        )),
        ("inactive" | "", _) => Some(format!("the daemon is not in a swarm ({how})")),
        (other, _) => Some(format!("the daemon's swarm state is {other:?}, not an active manager ({how})")),
    }
}

/// Checks that `docker` manages an active swarm; the error (exit 2) says what to do when it does not.
pub async fn require(docker: &Docker, endpoint: &str) -> Result<()> {
    let info = docker.info().await.map_err(|e| Error::docker("read the daemon's swarm state", e))?;
    let swarm = info.swarm.unwrap_or_default();
    let state = swarm.local_node_state.map(|s| s.to_string()).unwrap_or_default();
    match refusal(&state, swarm.control_available.unwrap_or(false)) {
        None => Ok(()),
        Some(reason) => Err(Error::NoSwarmManager { endpoint: endpoint.to_owned(), reason }),
    }
}

#[cfg(test)]
mod tests {
    use super::refusal;

    #[test]
    fn only_an_active_manager_passes_and_the_refusal_says_how_to_get_one() {
        assert_eq!(refusal("active", true), None);
        let none = refusal("inactive", false).unwrap();
        assert!(none.starts_with("the daemon is not in a swarm"), "{none}");
        assert!(none.contains("`docker swarm init --advertise-addr 127.0.0.1`"), "{none}");
        assert!(none.contains("never initialises a swarm itself"), "{none}");
        let worker = refusal("active", false).unwrap();
        assert!(worker.contains("worker, not a manager"), "{worker}");
        assert!(refusal("pending", false).unwrap().contains("\"pending\""));
        assert!(refusal("locked", true).unwrap().contains("\"locked\""));
    }
}
