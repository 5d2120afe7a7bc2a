//! The Swarm observer: polls the stack's tasks and puts Swarm's reactions on the timeline, with the kind the RTO
//! breakdown reads: a running task that stops (`task failed`, detection), a task that was not there at the
//! start reaching `running` (`new task running`, promotion), and its container turning healthy (`healthy`,
//! recovery). Times are when hadrill saw the change: [`EVERY`] bounds their error.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use bollard::query_parameters::InspectContainerOptions;
use bollard::Docker;
use tokio_util::sync::CancellationToken;

use super::tasks::{self, ServiceState};
use crate::timeline::{Clock, StackEvent, StackEventKind};

/// How often the tasks are listed.
pub const EVERY: Duration = Duration::from_millis(200);

/// What the observer knows of one task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    pub state: String,
    /// The task was there when the observer started (not a replacement).
    pub original: bool,
    pub healthy: bool,
}

/// One change worth a line: subject (`app.2`), new state, its kind.
pub type Change = (String, String, StackEventKind);

fn subject(service: &str, slot: Option<i64>) -> String {
    slot.map(|s| format!("{service}.{s}")).unwrap_or_else(|| service.to_owned())
}

/// Updates `seen` from a new listing and says what changed. `healthy` holds the ids of the running tasks whose
/// container is healthy (or has no healthcheck).
pub fn changes(
    seen: &mut BTreeMap<String, Seen>,
    now: &[ServiceState],
    healthy: &HashSet<String>,
) -> Vec<Change> {
    let mut out = Vec::new();
    for s in now {
        for t in &s.tasks {
            let who = subject(&s.name, t.slot);
            let prev = seen.entry(t.id.clone()).or_insert_with(|| Seen {
                state: "new".into(),
                original: false,
                healthy: false,
            });
            if prev.state != t.state {
                if prev.state == "running" && !t.is_running() {
                    let exit =
                        t.exit_code.filter(|c| *c != 0).map(|c| format!(" (exit {c})")).unwrap_or_default();
                    out.push((who.clone(), format!("task {}{exit}", t.state), StackEventKind::Detection));
                } else if t.is_running() && !prev.original {
                    let state = format!("new task running ({})", short(&t.id));
                    out.push((who.clone(), state, StackEventKind::Promotion));
                }
                prev.state = t.state.clone();
            }
            if !prev.original && t.is_running() && healthy.contains(&t.id) && !prev.healthy {
                out.push((who, "healthy".into(), StackEventKind::Recovery));
                prev.healthy = true;
            }
        }
    }
    out
}

fn short(id: &str) -> &str {
    &id[..id.len().min(12)]
}

/// The running tasks whose container is healthy or has no healthcheck.
async fn healthy_tasks(
    docker: &Docker,
    services: &[ServiceState],
    known: &BTreeMap<String, Seen>,
) -> HashSet<String> {
    let mut out = HashSet::new();
    for t in services.iter().flat_map(|s| &s.tasks).filter(|t| t.is_running()) {
        if known.get(&t.id).is_some_and(|s| s.original || s.healthy) {
            out.insert(t.id.clone());
            continue;
        }
        let Some(cid) = &t.container else { continue };
        let Ok(i) = docker.inspect_container(cid, None::<InspectContainerOptions>).await else { continue };
        let health = i.state.and_then(|s| s.health).and_then(|h| h.status).map(|h| h.to_string());
        if health.as_deref().is_none_or(|h| h == "healthy" || h == "none" || h.is_empty()) {
            out.insert(t.id.clone());
        }
    }
    out
}

/// Watches stack `project` until `cancel`; returns what it saw, in time order.
pub async fn run(
    docker: Docker,
    project: String,
    clock: Clock,
    cancel: CancellationToken,
) -> Vec<StackEvent> {
    let mut seen = BTreeMap::new();
    if let Ok(first) = tasks::services(&docker, &project).await {
        for t in first.iter().flat_map(|s| &s.tasks) {
            seen.insert(t.id.clone(), Seen { state: t.state.clone(), original: true, healthy: true });
        }
    }
    let mut events = Vec::new();
    loop {
        tokio::select! {
            _ = tokio::time::sleep(EVERY) => {}
            _ = cancel.cancelled() => break,
        }
        let Ok(now) = tasks::services(&docker, &project).await else { continue };
        let healthy = healthy_tasks(&docker, &now, &seen).await;
        let at = clock.now();
        for (subject, state, kind) in changes(&mut seen, &now, &healthy) {
            events.push(StackEvent {
                at,
                origin: crate::timeline::Origin::Poll,
                resolution_us: EVERY.as_micros() as u32,
                source: "swarm".into(),
                subject,
                state,
                kind,
            });
        }
    }
    events
}

/// A running watcher.
pub struct Watch {
    stop: CancellationToken,
    handle: tokio::task::JoinHandle<Vec<StackEvent>>,
}

impl Watch {
    /// Starts watching stack `project`, under `parent` (the drill's token).
    pub fn start(docker: Docker, project: String, clock: Clock, parent: &CancellationToken) -> Watch {
        let stop = parent.child_token();
        Watch { handle: tokio::spawn(run(docker, project, clock, stop.clone())), stop }
    }

    /// Stops the watcher and merges what it saw into the other observers' events, in time order.
    pub async fn finish(self, events: &mut Vec<StackEvent>) {
        self.stop.cancel();
        let abort = self.handle.abort_handle();
        match tokio::time::timeout(Duration::from_secs(3), self.handle).await {
            Ok(Ok(seen)) => events.extend(seen),
            _ => abort.abort(),
        }
        events.sort_by_key(|e| e.at);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::swarm::tasks::TaskInfo;

    fn task(id: &str, slot: i64, state: &str) -> TaskInfo {
        TaskInfo {
            id: id.into(),
            slot: Some(slot),
            state: state.into(),
            desired: "running".into(),
            container: None,
            exit_code: (state == "failed").then_some(137),
            message: String::new(),
            err: String::new(),
            ports: Vec::new(),
            image: String::new(),
            force_update: 0,
            node: String::new(),
        }
    }

    fn svc(tasks: Vec<TaskInfo>) -> Vec<ServiceState> {
        vec![ServiceState { id: "s".into(), name: "app".into(), replicas: Some(1), tasks }]
    }

    #[test]
    fn a_killed_task_then_its_replacement_running_then_healthy() {
        let mut seen = BTreeMap::new();
        seen.insert("old".to_string(), Seen { state: "running".into(), original: true, healthy: true });
        let none = HashSet::new();
        let c = changes(&mut seen, &svc(vec![task("old", 2, "failed")]), &none);
        assert_eq!(
            c,
            vec![("app.2".to_string(), "task failed (exit 137)".to_string(), StackEventKind::Detection)]
        );
        let c = changes(&mut seen, &svc(vec![task("old", 2, "failed"), task("new", 2, "starting")]), &none);
        assert!(c.is_empty(), "{c:?}");
        let c = changes(&mut seen, &svc(vec![task("old", 2, "failed"), task("new", 2, "running")]), &none);
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].2, StackEventKind::Promotion);
        let healthy = HashSet::from(["new".to_string()]);
        let c = changes(&mut seen, &svc(vec![task("old", 2, "failed"), task("new", 2, "running")]), &healthy);
        assert_eq!(c, vec![("app.2".to_string(), "healthy".to_string(), StackEventKind::Recovery)]);
        let c = changes(&mut seen, &svc(vec![task("old", 2, "failed"), task("new", 2, "running")]), &healthy);
        assert!(c.is_empty(), "said once");
    }
}
