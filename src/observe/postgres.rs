//! PostgreSQL: per node, whether it is a primary or a standby (`pg_is_in_recovery()`), so a promotion shows
//! up with its time; and replication lag samples (`pg_stat_replication` on the primary,
//! `pg_last_xact_replay_timestamp()` on a standby): the lag just before the fault is the RPO to expect.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio_postgres::NoTls;
use tokio_util::sync::CancellationToken;

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
