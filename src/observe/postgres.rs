//! PostgreSQL: per node, whether it is a primary or a standby (`pg_is_in_recovery()`), so a promotion shows
//! up with its time; and replication lag samples (`pg_stat_replication` on the primary,
//! `pg_last_xact_replay_timestamp()` on a standby): the lag just before the fault is the RPO to expect.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio_postgres::NoTls;
use tokio_util::sync::CancellationToken;

use super::logs::Parsed;
use super::stack_log::StackLog;
use crate::stack::resolve::PgLogin;
use crate::timeline::{Clock, Nanos, StackEventKind};

/// A replication lag sample from the primary's point of view.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct LagSample {
    pub at_ms: f64,
    /// The node that reported it (the primary).
    pub node: String,
    /// The standby's application name.
    pub standby: String,
    /// `async`, `sync`, `potential`, `quorum`.
    pub sync_state: String,
    /// WAL the standby has not replayed yet.
    pub replay_lag_bytes: i64,
}

pub struct PgNode {
    pub name: String,
    pub addr: SocketAddr,
    pub login: PgLogin,
}

/// Connection settings for an observer: the node's login (the images' superuser unless the stack or the
/// scenario names another). A `Config` rather than a connection string, so a password needs no quoting.
pub fn config(addr: SocketAddr, login: &PgLogin) -> tokio_postgres::Config {
    let mut c = tokio_postgres::Config::new();
    c.host(addr.ip().to_string())
        .port(addr.port())
        .user(&login.user)
        .password(&login.password)
        .dbname(&login.dbname)
        .connect_timeout(Duration::from_secs(1));
    c
}

/// A node's own account of a failover in its log (`log_line_prefix` starting with `%m`, milliseconds and
/// zone): a standby losing its primary (the WAL receiver's connection ends) is the detection; "selected new
/// timeline ID" is the promotion, the moment it stops replaying and starts its own history; "ready to accept
/// connections" follows it within milliseconds and is kept as information.
pub fn log_line(text: &str) -> Option<Parsed> {
    let (state, kind) = if text.contains("selected new timeline ID") {
        ("promoted (new timeline)", StackEventKind::Promotion)
    } else if text.contains("could not receive data from WAL stream")
        || text.contains("replication terminated by primary server")
    {
        ("lost its primary (WAL stream ended)", StackEventKind::Detection)
    } else if text.contains("received promote request") {
        ("promote requested", StackEventKind::Info)
    } else if text.contains("database system is ready to accept connections") {
        ("ready to accept connections", StackEventKind::Info)
    } else {
        return None;
    };
    Some(Parsed::new("", state, kind))
}

/// Polls one node every `every` until cancelled.
pub async fn run(
    node: PgNode,
    log: Arc<StackLog>,
    lags: Arc<Mutex<Vec<LagSample>>>,
    clock: Clock,
    every: Duration,
    cancel: CancellationToken,
) {
    let mut client: Option<tokio_postgres::Client> = None;
    loop {
        if client.as_ref().is_none_or(|c| c.is_closed()) {
            client = match tokio::time::timeout(
                Duration::from_secs(1),
                config(node.addr, &node.login).connect(NoTls),
            )
            .await
            {
                Ok(Ok((c, conn))) => {
                    tokio::spawn(conn);
                    Some(c)
                }
                _ => None,
            };
        }
        let state = match &client {
            None => "unreachable".to_string(),
            Some(c) => match sample(c, &node.name, clock.now(), &lags).await {
                Some(s) => s,
                None => {
                    client = None;
                    "unreachable".to_string()
                }
            },
        };
        let kind = if state == "primary" { StackEventKind::Promotion } else { StackEventKind::Info };
        log.observe("postgres", &node.name, &state, kind);
        if !super::stack_log::tick(every, &cancel).await {
            return;
        }
    }
}

async fn sample(
    c: &tokio_postgres::Client,
    node: &str,
    now: Nanos,
    lags: &Mutex<Vec<LagSample>>,
) -> Option<String> {
    let q = async {
        let rec: bool = c.query_one("SELECT pg_is_in_recovery()", &[]).await.ok()?.get(0);
        if !rec {
            let rows = c
                .query(
                    "SELECT coalesce(application_name, ''), coalesce(sync_state, ''), \
                     coalesce(pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn), 0)::bigint FROM pg_stat_replication",
                    &[],
                )
                .await
                .ok()?;
            let mut l = lags.lock().expect("lag lock");
            for r in rows {
                l.push(LagSample {
                    at_ms: now as f64 / 1e6,
                    node: node.to_string(),
                    standby: r.get(0),
                    sync_state: r.get(1),
                    replay_lag_bytes: r.get(2),
                });
            }
        }
        Some(if rec { "standby".to_string() } else { "primary".to_string() })
    };
    tokio::time::timeout(Duration::from_secs(1), q).await.ok().flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_failover_from_log_lines() {
        let promo = "2026-11-25 20:45:52.104 UTC [27] LOG:  selected new timeline ID: 2";
        assert_eq!(log_line(promo).map(|p| p.kind), Some(StackEventKind::Promotion));
        let lost =
            "2026-11-25 20:45:47.002 UTC [31] FATAL:  could not receive data from WAL stream: server closed \
                    the connection unexpectedly";
        assert_eq!(log_line(lost).map(|p| p.kind), Some(StackEventKind::Detection));
        let ready = "2026-11-25 20:45:52.110 UTC [1] LOG:  database system is ready to accept connections";
        assert_eq!(log_line(ready).map(|p| p.kind), Some(StackEventKind::Info));
        assert_eq!(log_line("2026-11-25 20:45:52.110 UTC [1] LOG:  checkpoint starting: time"), None);
    }
}
