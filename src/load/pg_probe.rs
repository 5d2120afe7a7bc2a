//! The PostgreSQL write probe: sequence-numbered rows written straight to the writable node through a
//! multi-host connection over the published 127.0.0.1 ports (`target_session_attrs=read-write`), read back
//! from whichever node is primary after the drill. Feeds the same lost-writes/RPO measurement as HTTP.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio_postgres::{Client, NoTls};

use super::engine::key_for;
use crate::timeline::{Failure, Kind, Verification};

const SLOTS: usize = 8;
/// Minimum time between two connection attempts.
const CONNECT_EVERY: Duration = Duration::from_millis(100);

/// A pooled connection: the client, the task driving its socket (aborted on eviction so the socket closes),
/// and since when it has been timing out without a success.
struct Pooled {
    client: Arc<Client>,
    task: tokio::task::JoinHandle<()>,
    stalled_since: Option<tokio::time::Instant>,
}

impl Drop for Pooled {
    fn drop(&mut self) {
        self.task.abort();
    }
}

type Slot = std::sync::Mutex<Option<Pooled>>;

/// A connection that answers nothing for this long is given up (a paused or unreachable node). A shorter
/// stall is a node that blocks commits (a synchronous standby missing): reconnecting then would only pile up
/// sessions waiting on the same node, until the server runs out of connection slots.
const STALL_LIMIT: Duration = Duration::from_secs(5);

/// Marks the request's connection as stalled if the request is dropped (the caller's timeout) unfinished.
struct StallOnDrop<'a> {
    slot: &'a Slot,
    client: Arc<Client>,
    armed: bool,
}

impl Drop for StallOnDrop<'_> {
    fn drop(&mut self) {
        if self.armed {
            stalled(self.slot, &self.client);
        }
    }
}

/// Records a timeout on `client`; evicts it once it has stalled for [`STALL_LIMIT`].
fn stalled(slot: &Slot, client: &Arc<Client>) {
    let mut s = slot.lock().expect("slot lock");
    let Some(p) = s.as_mut().filter(|p| Arc::ptr_eq(&p.client, client)) else { return };
    let now = tokio::time::Instant::now();
    match p.stalled_since {
        None => p.stalled_since = Some(now),
        Some(t) if now.duration_since(t) >= STALL_LIMIT => *s = None,
        Some(_) => {}
    }
}

fn evict(slot: &Slot, client: &Arc<Client>) {
    let mut s = slot.lock().expect("slot lock");
    if s.as_ref().is_some_and(|p| Arc::ptr_eq(&p.client, client)) {
        *s = None;
    }
}

pub struct PgProbe {
    conn: String,
    prefix: String,
    timeout: Duration,
    slots: Vec<Slot>,
    /// A connection attempt is under way.
    connecting: std::sync::atomic::AtomicBool,
    /// When the last attempt ended.
    last_connect: std::sync::Mutex<Option<std::time::Instant>>,
    next: AtomicUsize,
}

impl std::fmt::Debug for PgProbe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgProbe").field("conn", &self.conn).finish_non_exhaustive()
    }
}

/// `host=127.0.0.1,127.0.0.1 port=p1,p2 ... target_session_attrs=read-write`.
pub fn conn_string(nodes: &[SocketAddr], timeout: Duration) -> String {
    let hosts: Vec<String> = nodes.iter().map(|a| a.ip().to_string()).collect();
    let ports: Vec<String> = nodes.iter().map(|a| a.port().to_string()).collect();
    format!(
        "host={} port={} user=app password=app dbname=app target_session_attrs=read-write connect_timeout={}",
        hosts.join(","),
        ports.join(","),
        timeout.as_secs().max(1)
    )
}

fn classify(e: &tokio_postgres::Error) -> Failure {
    if e.as_db_error().is_some() {
        Failure::Rejected
    } else if e.is_closed() {
        Failure::Reset
    } else {
        let text = e.to_string();
        if text.contains("connect") || text.contains("refused") || text.contains("read-write") {
            Failure::Refused
        } else {
            Failure::Reset
        }
    }
}

impl PgProbe {
    pub async fn new(nodes: &[SocketAddr], prefix: &str, timeout: Duration) -> Result<PgProbe, String> {
        let probe = PgProbe {
            conn: conn_string(nodes, timeout),
            prefix: prefix.to_string(),
            timeout,
            slots: (0..SLOTS).map(|_| std::sync::Mutex::new(None)).collect(),
            connecting: std::sync::atomic::AtomicBool::new(false),
            last_connect: std::sync::Mutex::new(None),
            next: AtomicUsize::new(0),
        };
        let c = probe
            .connect()
            .await
            .map_err(|f| format!("cannot reach a writable PostgreSQL node: {}", f.label()))?;
        c.client
            .batch_execute(
                "CREATE TABLE IF NOT EXISTS hadrill_probe (k text PRIMARY KEY, seq integer NOT NULL, \
             at timestamptz NOT NULL DEFAULT now())",
            )
            .await
            .map_err(|e| format!("cannot create the probe table: {e}"))?;
        Ok(probe)
    }

    /// Whether a new connection may be attempted now: one attempt at a time, at most one per
    /// [`CONNECT_EVERY`]. Without this, every request during an outage would open connections to each node
    /// (a fork per connection on the server), at the load's rate: enough to starve a 2-core machine, and
    /// Patroni with it. A request that finds no connection and may not make one fails as never sent.
    fn may_connect(&self) -> bool {
        let last = self.last_connect.lock().expect("connect lock");
        !self.connecting.load(Ordering::Acquire) && last.is_none_or(|t| t.elapsed() >= CONNECT_EVERY)
    }

    async fn connect_paced(&self) -> Result<Pooled, Failure> {
        if self.connecting.swap(true, Ordering::AcqRel) {
            return Err(Failure::Refused);
        }
        let result = self.connect().await;
        *self.last_connect.lock().expect("connect lock") = Some(std::time::Instant::now());
        self.connecting.store(false, Ordering::Release);
        result
    }

    async fn connect(&self) -> Result<Pooled, Failure> {
        let fut = tokio_postgres::connect(&self.conn, NoTls);
        match tokio::time::timeout(self.timeout, fut).await {
            Ok(Ok((client, conn))) => {
                let task = tokio::spawn(async move {
                    let _ = conn.await;
                });
                Ok(Pooled { client: Arc::new(client), task, stalled_since: None })
            }
            Ok(Err(_)) => Err(Failure::Refused),
            Err(_) => Err(Failure::Refused),
        }
    }

    /// One probe request; `None` on success.
    pub async fn request(&self, kind: Kind, seq: u32, last_acked: u32) -> Option<Failure> {
        let idx = self.next.fetch_add(1, Ordering::Relaxed) % self.slots.len();
        let slot = &self.slots[idx];
        let pooled = slot
            .lock()
            .expect("slot lock")
            .as_ref()
            .filter(|p| !p.client.is_closed())
            .map(|p| p.client.clone());
        let client = match pooled {
            Some(c) => c,
            None if !self.may_connect() => return Some(Failure::Refused),
            None => match self.connect_paced().await {
                Ok(p) => {
                    let c = p.client.clone();
                    *slot.lock().expect("slot lock") = Some(p);
                    c
                }
                // Could not connect: the request was never sent.
                Err(f) => return Some(f),
            },
        };
        let mut guard = StallOnDrop { slot, client: client.clone(), armed: true };
        let q = async {
            match kind {
                Kind::Write => client
                    .execute(
                        "INSERT INTO hadrill_probe (k, seq) VALUES ($1, $2)",
                        &[&key_for(&self.prefix, seq), &(seq as i32)],
                    )
                    .await
                    .map(|_| ()),
                Kind::Read => client
                    .query_opt(
                        "SELECT seq FROM hadrill_probe WHERE k = $1",
                        &[&key_for(&self.prefix, last_acked)],
                    )
                    .await
                    .map(|_| ()),
            }
        };
        // A little less than the caller's own limit, so that this function sees its timeouts itself.
        let limit = self.timeout.saturating_sub(Duration::from_millis(20));
        let result = tokio::time::timeout(limit, q).await;
        guard.armed = false;
        match result {
            Ok(Ok(())) => {
                if let Some(p) =
                    slot.lock().expect("slot lock").as_mut().filter(|p| Arc::ptr_eq(&p.client, &client))
                {
                    p.stalled_since = None;
                }
                None
            }
            Ok(Err(e)) => {
                // A broken connection, or an error such as read-only (a demoted node): reconnect next time.
                evict(slot, &client);
                Some(classify(&e))
            }
            Err(_) => {
                stalled(slot, &client);
                Some(Failure::Timeout)
            }
        }
    }

    /// Reads every probe row of this run from the writable node, retrying until `limit`.
    pub async fn read_back(&self, limit: Duration) -> Verification {
        super::verify::retry_until(limit, "PostgreSQL", || self.read_once()).await
    }

    async fn read_once(&self) -> Result<crate::timeline::SeqSet, String> {
        let p = self.connect().await.map_err(|f| f.label())?;
        let pattern = format!("{}%", self.prefix);
        let rows = p
            .client
            .query("SELECT seq FROM hadrill_probe WHERE k LIKE $1", &[&pattern])
            .await
            .map_err(|e| e.to_string())?;
        Ok(rows.iter().map(|r| r.get::<_, i32>(0) as u32).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multi_host_connection_string() {
        let nodes: Vec<SocketAddr> =
            vec!["127.0.0.1:40001".parse().unwrap(), "127.0.0.1:40002".parse().unwrap()];
        let c = conn_string(&nodes, Duration::from_secs(2));
        assert!(c.starts_with("host=127.0.0.1,127.0.0.1 port=40001,40002 "), "{c}");
        assert!(c.contains("target_session_attrs=read-write"));
    }
}
