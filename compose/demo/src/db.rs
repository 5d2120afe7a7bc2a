//! A small self-healing pool of PostgreSQL connections.
//!
//! Each slot holds one connection made from the multi-host connection string. A connection that errors or
//! stalls is dropped and the next request on that slot reconnects, so after a promotion (or a restart of the
//! database) the service finds the writable node by itself: `target_session_attrs=read-write` makes libpq-style
//! host lists skip a node that is still in recovery. Every call is bounded by a timeout because a killed
//! container does not reset its TCP connections: without one a request would hang until the kernel gives up.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Mutex;
use tokio_postgres::{Client, NoTls, Statement};

const SLOTS: usize = 4;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
pub const QUERY_TIMEOUT: Duration = Duration::from_secs(3);

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS kv (
    k text PRIMARY KEY,
    v text NOT NULL,
    instance text NOT NULL,
    written_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS health_probe (
    instance text PRIMARY KEY,
    at timestamptz NOT NULL
);";

/// One live connection and the statements prepared on it.
pub struct Conn {
    pub client: Client,
    pub put: Statement,
    pub get: Statement,
    pub scan: Statement,
    pub health: Statement,
}

#[derive(Debug)]
pub enum DbError {
    /// No writable node could be reached.
    Unavailable(String),
    /// The query did not answer in time; the connection was dropped.
    Timeout,
    /// The database answered with an error.
    Query(String),
}

impl std::fmt::Display for DbError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DbError::Unavailable(e) => write!(f, "database unavailable: {e}"),
            DbError::Timeout => write!(f, "database timed out"),
            DbError::Query(e) => write!(f, "database error: {e}"),
        }
    }
}

pub struct Db {
    url: String,
    slots: Vec<Mutex<Option<Arc<Conn>>>>,
    next: AtomicUsize,
}

impl Db {
    pub fn start(url: String) -> Arc<Db> {
        Arc::new(Db { url, slots: (0..SLOTS).map(|_| Mutex::new(None)).collect(), next: AtomicUsize::new(0) })
    }

    async fn connect(&self) -> Result<Conn, DbError> {
        let fut = async {
            let (client, connection) = tokio_postgres::connect(&self.url, NoTls)
                .await
                .map_err(|e| DbError::Unavailable(e.to_string()))?;
            tokio::spawn(async move {
                if let Err(e) = connection.await {
                    tracing::debug!("connection closed: {e}");
                }
            });
            if let Err(e) = client.batch_execute(SCHEMA).await {
                // Two instances creating the same table at once race on the catalog; the loser's error is harmless.
                tracing::debug!("schema: {e}");
            }
            let prep = |sql: &'static str| {
                let client = &client;
                async move { client.prepare(sql).await.map_err(|e| DbError::Query(e.to_string())) }
            };
            let put = prep(
                "INSERT INTO kv (k, v, instance) VALUES ($1, $2, $3) \
                 ON CONFLICT (k) DO UPDATE SET v = excluded.v, instance = excluded.instance, written_at = now()",
            )
            .await?;
            let get = prep("SELECT v FROM kv WHERE k = $1").await?;
            let scan =
                prep("SELECT k, v FROM kv WHERE starts_with(k, $1) AND k > $2 ORDER BY k LIMIT $3").await?;
            let health = prep(
                "INSERT INTO health_probe (instance, at) VALUES ($1, now()) \
                 ON CONFLICT (instance) DO UPDATE SET at = now()",
            )
            .await?;
            Ok(Conn { client, put, get, scan, health })
        };
        tokio::time::timeout(CONNECT_TIMEOUT, fut)
            .await
            .map_err(|_| DbError::Unavailable("connect timed out".into()))?
    }

    /// Runs `f` on a pooled connection, reconnecting the slot first if needed and dropping it on failure.
    pub async fn with<T, F, Fut>(&self, f: F) -> Result<T, DbError>
    where
        F: FnOnce(Arc<Conn>) -> Fut,
        Fut: std::future::Future<Output = Result<T, tokio_postgres::Error>>,
    {
        let idx = self.next.fetch_add(1, Ordering::Relaxed) % self.slots.len();
        let conn = {
            let mut slot = self.slots[idx].lock().await;
            match slot.as_ref() {
                Some(c) if !c.client.is_closed() => c.clone(),
                _ => {
                    *slot = None;
                    let c = Arc::new(self.connect().await?);
                    *slot = Some(c.clone());
                    c
                }
            }
        };
        let result = tokio::time::timeout(QUERY_TIMEOUT, f(conn.clone())).await;
        let drop_slot = || async {
            let mut slot = self.slots[idx].lock().await;
            if slot.as_ref().is_some_and(|c| Arc::ptr_eq(c, &conn)) {
                *slot = None;
            }
        };
        match result {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => {
                if e.is_closed() || e.as_db_error().is_none() {
                    drop_slot().await;
                    Err(DbError::Unavailable(e.to_string()))
                } else {
                    let read_only = e
                        .code()
                        .is_some_and(|c| *c == tokio_postgres::error::SqlState::READ_ONLY_SQL_TRANSACTION);
                    if read_only {
                        // The node we hold was demoted (or is a standby): find the writable one again.
                        drop_slot().await;
                    }
                    Err(DbError::Query(e.to_string()))
                }
            }
            Err(_) => {
                drop_slot().await;
                Err(DbError::Timeout)
            }
        }
    }
}
