//! Docker events of the stack's containers (die, start, kill, pause, unpause, health_status, network
//! connect/disconnect) with the daemon's own timestamps. Fault injection looks up here when its action took
//! effect, so effect times come from the Docker API, not from when hadrill decided to act.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bollard::query_parameters::EventsOptionsBuilder;
use bollard::Docker;
use futures_util::StreamExt;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::docker::labels;
use crate::timeline::{Clock, DockerEvent};

/// One event as the daemon reported it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawEvent {
    /// Unix time in nanoseconds (the daemon's clock).
    pub unix_ns: u128,
    pub container_id: String,
    pub container: String,
    pub action: String,
}

#[derive(Default)]
pub struct EventLog {
    events: Mutex<Vec<RawEvent>>,
    notify: Notify,
}

pub fn unix_now_ns() -> u128 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_nanos()
}

impl EventLog {
    /// Subscribes to the daemon's events for `project`. `names` maps container ids to display names (for
    /// network events, which name the container only by id). Runs until `cancel`.
    pub async fn start(
        docker: Docker,
        project: String,
        names: HashMap<String, String>,
        cancel: CancellationToken,
    ) -> Arc<EventLog> {
        let log = Arc::new(EventLog::default());
        let since = (SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs()).to_string();
        let mut filters = HashMap::new();
        filters.insert("type".to_string(), vec!["container".to_string(), "network".to_string()]);
        let opts = EventsOptionsBuilder::default().since(&since).filters(&filters).build();
        let mut stream = docker.events(Some(opts));
        let writer = log.clone();
        tokio::spawn(async move {
            loop {
                let item = tokio::select! {
                    i = stream.next() => i,
                    _ = cancel.cancelled() => break,
                };
                let Some(Ok(msg)) = item else { break };
                let attrs = msg.actor.as_ref().and_then(|a| a.attributes.clone()).unwrap_or_default();
                let action = msg.action.clone().unwrap_or_default();
                let (id, name) = match attrs.get("container") {
                    // A network event: the container is an attribute.
                    Some(cid) => match names.get(cid) {
                        Some(n) => (cid.clone(), n.clone()),
                        None => continue,
                    },
                    None => {
                        if attrs.get(labels::COMPOSE_PROJECT) != Some(&project) {
                            continue;
                        }
                        let id = msg.actor.as_ref().and_then(|a| a.id.clone()).unwrap_or_default();
                        let svc = attrs.get(labels::COMPOSE_SERVICE).cloned().unwrap_or_default();
                        let n = attrs
                            .get(labels::COMPOSE_NUMBER)
                            .and_then(|n| n.parse::<u32>().ok())
                            .unwrap_or(1);
                        (id, if n <= 1 { svc } else { format!("{svc}#{n}") })
                    }
                };
                let action = match msg.typ.map(|t| t.to_string()).as_deref() {
                    Some("network") => format!("network {action}"),
                    _ => action,
                };
                if action.starts_with("exec_") {
                    continue;
                }
                let unix_ns = msg.time_nano.map(|t| t as u128).unwrap_or_else(unix_now_ns);
                writer.push(RawEvent { unix_ns, container_id: id, container: name, action });
            }
        });
        log
    }

    fn push(&self, e: RawEvent) {
        self.events.lock().expect("events lock").push(e);
        self.notify.notify_waiters();
    }

    /// Waits up to `limit` for an event of this container with one of `actions`, at or after `since_unix_ns`.
    pub async fn wait_for(
        &self,
        container_id: &str,
        actions: &[&str],
        since_unix_ns: u128,
        limit: Duration,
    ) -> Option<u128> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let notified = self.notify.notified();
            if let Some(t) = self.find(container_id, actions, since_unix_ns) {
                return Some(t);
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return self.find(container_id, actions, since_unix_ns);
            }
        }
    }

    fn find(&self, container_id: &str, actions: &[&str], since: u128) -> Option<u128> {
        self.events
            .lock()
            .expect("events lock")
            .iter()
            .find(|e| {
                e.container_id == container_id
                    && e.unix_ns + 1_000_000 >= since
                    && actions.contains(&e.action.as_str())
            })
            .map(|e| e.unix_ns)
    }

    /// Every event so far, on the drill's timeline.
    pub fn timeline(&self, clock: &Clock) -> Vec<DockerEvent> {
        let mut v: Vec<DockerEvent> = self
            .events
            .lock()
            .expect("events lock")
            .iter()
            .map(|e| DockerEvent {
                at: clock.wall_to_nanos(e.unix_ns),
                container: e.container.clone(),
                action: e.action.clone(),
            })
            .collect();
        v.sort_by_key(|e| e.at);
        v
    }
}
