//! Patroni: the cluster's leader as its REST API reports it (`GET /cluster` on any member). A new leader name
//! is a promotion; no leader at all is the detection of the old one's loss.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use tokio_util::sync::CancellationToken;

use super::logs::Parsed;
use super::stack_log::StackLog;
use crate::timeline::StackEventKind;

#[derive(Debug, Deserialize)]
pub struct Cluster {
    #[serde(default)]
    pub members: Vec<Member>,
}

#[derive(Debug, Deserialize)]
pub struct Member {
    pub name: String,
    pub role: String,
    #[serde(default)]
    pub state: String,
}

/// The leader's name in a `/cluster` answer.
pub fn leader(c: &Cluster) -> Option<&str> {
    c.members.iter().find(|m| m.role == "leader" || m.role == "standby_leader").map(|m| m.name.as_str())
}

/// A member's own word that it became the leader (`promoted self to leader by acquiring session lock`, or
/// `acquired session lock as a leader`). Patroni writes local time without a zone: the daemon's time is used.
pub fn log_line(text: &str) -> Option<Parsed> {
    (text.contains("promoted self to leader") || text.contains("acquired session lock as a leader"))
        .then(|| Parsed::new("", "became leader", StackEventKind::Promotion))
}

/// Polls the members' REST ports in turn (the first that answers) every `every` until cancelled.
pub async fn run(members: Vec<SocketAddr>, log: Arc<StackLog>, every: Duration, cancel: CancellationToken) {
    let client = crate::http::client(Duration::from_millis(800), 1);
    loop {
        let mut seen = None;
        for addr in &members {
            if let Ok(r) = client.get(format!("http://{addr}/cluster")).send().await {
                if let Ok(c) = r.json::<Cluster>().await {
                    seen = Some(c);
                    break;
                }
            }
        }
        match seen {
            Some(c) => {
                match leader(&c) {
                    Some(l) => {
                        log.observe("patroni", "cluster", &format!("leader {l}"), StackEventKind::Promotion)
                    }
                    None => log.observe("patroni", "cluster", "no leader", StackEventKind::Detection),
                }
                for m in &c.members {
                    log.observe("patroni", &m.name, &format!("{} {}", m.role, m.state), StackEventKind::Info);
                }
            }
            None => log.observe("patroni", "cluster", "unreachable", StackEventKind::Info),
        }
        if !super::stack_log::tick(every, &cancel).await {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_leader() {
        let c: Cluster = serde_json::from_str(
            r#"{"members":[{"name":"pg1","role":"replica","state":"streaming"},{"name":"pg2","role":"leader","state":"running"}]}"#,
        )
        .unwrap();
        assert_eq!(leader(&c), Some("pg2"));
        let none: Cluster = serde_json::from_str(r#"{"members":[{"name":"pg1","role":"replica"}]}"#).unwrap();
        assert_eq!(leader(&none), None);
    }

    #[test]
    fn reads_a_new_leader_from_log_lines() {
        let l = "2026-11-25 20:45:59,880 INFO: promoted self to leader by acquiring session lock";
        assert_eq!(log_line(l).map(|p| p.kind), Some(StackEventKind::Promotion));
        assert_eq!(
            log_line("2026-11-25 20:45:59,880 INFO: no action. I am (pg2), the leader with the lock"),
            None
        );
    }
}
