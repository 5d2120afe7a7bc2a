//! The PostgreSQL write probe: sequence-numbered rows written straight to the writable node through a
//! multi-host connection over the published 127.0.0.1 ports (`target_session_attrs=read-write`), read back
//! from whichever node is primary after the drill. Feeds the same lost-writes/RPO measurement as HTTP. Its
//! connections are opened when it is made, before the load starts, so the first requests find them open.
//! It logs in as the scenario says (`[observe] postgres` entries, or `x-hadrill`, with `user`, `password`,
//! `dbname`), else as the bundled images' application user (`app`/`app`, database `app`).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures_util::FutureExt;

use crate::stack::resolve::PgLogin;
use rand::rngs::StdRng;
use tokio_postgres::error::SqlState;
use tokio_postgres::{Client, NoTls};

use super::http1::Conn;
use super::keys::key_for;
use super::probe::{bounded, Mix, Pick, Probe, ReadingBack, Request, Sending, Settings};
use super::ProbeError;
use crate::timeline::{Failure, Kind, SeqSet};

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
    /// The nodes as the stack names them, for the description.
    names: Vec<String>,
    mix: Mix,
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
        // Not the connection string: it holds the password.
        f.debug_struct("PgProbe").field("nodes", &self.names).finish_non_exhaustive()
    }
}

/// The login of the bundled images' application user, the probe's when the scenario names none.
pub fn app_login() -> PgLogin {
    PgLogin { user: "app".into(), password: "app".into(), dbname: "app".into() }
}

/// A value of a libpq `key=value` string: quoted, with `\` and `'` escaped (a password may hold anything).
fn quoted(v: &str) -> String {
    format!("'{}'", v.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// `host=127.0.0.1,127.0.0.1 port=p1,p2 user=... target_session_attrs=read-write`.
pub fn conn_string(nodes: &[SocketAddr], login: &PgLogin, timeout: Duration) -> String {
    let hosts: Vec<String> = nodes.iter().map(|a| a.ip().to_string()).collect();
    let ports: Vec<String> = nodes.iter().map(|a| a.port().to_string()).collect();
    format!(
        "host={} port={} user={} password={} dbname={} target_session_attrs=read-write connect_timeout={}",
        hosts.join(","),
        ports.join(","),
        quoted(&login.user),
        quoted(&login.password),
        quoted(&login.dbname),
        timeout.as_secs().max(1)
    )
}

/// The failure an error on an open connection is: the server's SQLSTATE when it answered one, otherwise
/// what became of the connection.
fn classify(e: &tokio_postgres::Error) -> Failure {
    let io =
        std::error::Error::source(e).and_then(|s| s.downcast_ref::<std::io::Error>()).map(|io| io.kind());
    failure_of(e.code(), e.is_closed(), io)
}

fn failure_of(code: Option<&SqlState>, closed: bool, io: Option<std::io::ErrorKind>) -> Failure {
    match (code, io) {
        (Some(code), _) => answered(code),
        _ if closed => Failure::Reset,
        (None, Some(kind)) => super::classify::io_kind(kind),
        (None, None) => Failure::Reset,
    }
}

/// An error answer from the server is a definite failure. A server that cannot take sessions now (starting
/// up, shutting down, in recovery: 57P03) or has no slot left (53300) never ran the statement; any other
/// answer is a rejection: read-only on a demoted node (25006), shutting down (57P01), a conflict. A commit
/// cut short by a shutdown while it waited for a synchronous standby may have committed locally: the
/// read-back finds it, and the report counts it as failed but persisted.
fn answered(code: &SqlState) -> Failure {
    if *code == SqlState::CANNOT_CONNECT_NOW || *code == SqlState::TOO_MANY_CONNECTIONS {
        Failure::Refused
    } else {
        Failure::Rejected
    }
}

impl PgProbe {
    /// Connects as `login` to the writable one of `nodes` (named as the stack names them), creates the probe
    /// table, and opens the probe's connections.
    pub async fn new(
        nodes: &[(String, SocketAddr)],
        login: &PgLogin,
        settings: &Settings,
    ) -> Result<PgProbe, ProbeError> {
        let timeout = settings.timeout;
        let addrs: Vec<SocketAddr> = nodes.iter().map(|(_, a)| *a).collect();
        let probe = PgProbe {
            conn: conn_string(&addrs, login, timeout),
            names: nodes.iter().map(|(n, _)| n.clone()).collect(),
            mix: Mix::new(settings.read_ratio),
            prefix: settings.key_prefix.clone(),
            timeout,
            slots: (0..SLOTS).map(|_| std::sync::Mutex::new(None)).collect(),
            connecting: std::sync::atomic::AtomicBool::new(false),
            last_connect: std::sync::Mutex::new(None),
            next: AtomicUsize::new(0),
        };
        let first = probe.connect().await?;
        first
            .client
            .batch_execute(
                "CREATE TABLE IF NOT EXISTS hadrill_probe (k text PRIMARY KEY, seq integer NOT NULL, \
             at timestamptz NOT NULL DEFAULT now())",
            )
            .await
            .map_err(|source| ProbeError::Postgres { what: "cannot create the probe table", source })?;
        *probe.slots[0].lock().expect("slot lock") = Some(first);
        for slot in &probe.slots[1..] {
            match probe.connect().await {
                Ok(p) => *slot.lock().expect("slot lock") = Some(p),
                // The rest connect during the load, paced.
                Err(_) => break,
            }
        }
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

    /// A new connection, or `None` when another attempt is under way or this one failed: either way the
    /// request is never sent.
    async fn connect_paced(&self) -> Option<Pooled> {
        if self.connecting.swap(true, Ordering::AcqRel) {
            return None;
        }
        let result = self.connect().await.ok();
        *self.last_connect.lock().expect("connect lock") = Some(std::time::Instant::now());
        self.connecting.store(false, Ordering::Release);
        result
    }

    async fn connect(&self) -> Result<Pooled, ProbeError> {
        let what = "cannot reach a writable PostgreSQL node";
        let fut = tokio_postgres::connect(&self.conn, NoTls);
        match tokio::time::timeout(self.timeout, fut).await {
            Ok(Ok((client, conn))) => {
                let task = tokio::spawn(async move {
                    let _ = conn.await;
                });
                Ok(Pooled { client: Arc::new(client), task, stalled_since: None })
            }
            Ok(Err(source)) => Err(ProbeError::Postgres { what, source }),
            Err(_) => Err(ProbeError::TimedOut { what, after: self.timeout }),
        }
    }

    /// One probe request; `None` on success.
    async fn request(&self, kind: Kind, seq: u32, last_acked: u32) -> Option<Failure> {
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
                Some(p) => {
                    let c = p.client.clone();
                    *slot.lock().expect("slot lock") = Some(p);
                    c
                }
                None => return Some(Failure::Refused),
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

    async fn read_once(&self) -> Result<SeqSet, ProbeError> {
        let p = self.connect().await?;
        let pattern = format!("{}%", self.prefix);
        let rows = p
            .client
            .query("SELECT seq FROM hadrill_probe WHERE k LIKE $1", &[&pattern])
            .await
            .map_err(|source| ProbeError::Postgres { what: "reading the probe rows", source })?;
        Ok(rows.iter().map(|r| r.get::<_, i32>(0) as u32).collect())
    }
}

impl Probe for PgProbe {
    fn next(&self, rng: &mut StdRng) -> Pick {
        self.mix.draw(rng).into()
    }

    fn send<'a>(&'a self, _: &'a mut Conn, req: Request, timeout: Duration) -> Sending<'a> {
        bounded(timeout, self.request(req.kind, req.seq, req.last_acked)).boxed()
    }

    /// Reads every probe row of this run from the writable node.
    fn read_back(&self, _max_seq: u32, limit: Duration) -> ReadingBack<'_> {
        super::verify::retry_until(limit, "PostgreSQL", || self.read_once()).boxed()
    }

    fn describe(&self) -> String {
        format!("PostgreSQL ({})", self.names.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multi_host_connection_string() {
        let nodes: Vec<SocketAddr> =
            vec!["127.0.0.1:40001".parse().unwrap(), "127.0.0.1:40002".parse().unwrap()];
        let c = conn_string(&nodes, &app_login(), Duration::from_secs(2));
        assert!(c.starts_with("host=127.0.0.1,127.0.0.1 port=40001,40002 user='app' password='app' "), "{c}");
        assert!(c.contains("target_session_attrs=read-write"));
        let odd =
            PgLogin { user: "orders".into(), password: r"it's a \ pass".into(), dbname: "shop db".into() };
        let c = conn_string(&nodes, &odd, Duration::from_secs(2));
        let config: tokio_postgres::Config = c.parse().expect("a string libpq's grammar reads");
        assert_eq!(config.get_user(), Some("orders"));
        assert_eq!(config.get_password(), Some(r"it's a \ pass".as_bytes()));
        assert_eq!(config.get_dbname(), Some("shop db"));
    }

    #[test]
    fn failures_follow_sqlstate_then_the_connection() {
        use std::io::ErrorKind;
        let code = |c: &str| failure_of(Some(&SqlState::from_code(c)), false, None);
        assert_eq!(code("25006"), Failure::Rejected, "read-only: a demoted node");
        assert_eq!(code("57P01"), Failure::Rejected, "admin shutdown");
        assert_eq!(code("40001"), Failure::Rejected, "serialization failure");
        assert_eq!(code("23505"), Failure::Rejected, "unique violation");
        assert_eq!(code("57P03"), Failure::Refused, "cannot connect now");
        assert_eq!(code("53300"), Failure::Refused, "too many connections");
        let read_only = SqlState::READ_ONLY_SQL_TRANSACTION;
        assert_eq!(
            failure_of(Some(&read_only), true, None),
            Failure::Rejected,
            "an answer wins over the close"
        );
        assert_eq!(failure_of(None, true, None), Failure::Reset);
        assert_eq!(failure_of(None, false, Some(ErrorKind::ConnectionReset)), Failure::Reset);
        assert_eq!(failure_of(None, false, Some(ErrorKind::ConnectionRefused)), Failure::Refused);
        assert_eq!(failure_of(None, false, Some(ErrorKind::TimedOut)), Failure::Timeout);
        assert_eq!(failure_of(None, false, Some(ErrorKind::InvalidInput)), Failure::Transport);
        assert_eq!(failure_of(None, false, None), Failure::Reset);
    }
}
