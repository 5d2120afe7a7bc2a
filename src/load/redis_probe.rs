//! The Redis write probe: `SET` of sequence-numbered keys on the master as the Sentinels name it. Sentinel
//! answers with a container address (or service name); hadrill translates it into the master's published
//! 127.0.0.1 port through the Docker API, so its traffic never goes to container addresses. Clients ask
//! Sentinel again every 500 ms and after any error, as Sentinel-aware clients do. The master is found and
//! the probe's connections opened when it starts, before the load.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures_util::FutureExt;
use rand::rngs::StdRng;
use tokio::sync::{Mutex, RwLock};
use tokio_util::sync::CancellationToken;

use super::keys::key_for;
use super::probe::{bounded, Mix, Pick, Probe, ReadingBack, Request, Sending, Settings};
use super::ProbeError;
use crate::proto::resp::{Conn, Reply};
use crate::proto::sentinel::master_addr;
use crate::timeline::{Failure, Kind, SeqSet};

const SLOTS: usize = 8;

/// Where the probe asks for the master, and how it reaches the master it is told of.
#[derive(Debug, Clone)]
pub struct Sentinels {
    /// The Sentinels as the stack names them, with their published addresses.
    pub nodes: Vec<(String, SocketAddr)>,
    /// The name the Sentinels monitor the master under.
    pub master_name: String,
    /// `host:port` as a Sentinel may name a node (container IP or service name) -> its published address.
    pub addr_map: HashMap<String, SocketAddr>,
}

pub struct RedisProbe {
    // (Debug is implemented by hand: connections are not Debug.)
    sentinels: Sentinels,
    mix: Mix,
    prefix: String,
    timeout: Duration,
    master: RwLock<Option<SocketAddr>>,
    slots: Vec<Mutex<Option<(SocketAddr, Conn)>>>,
    next: AtomicUsize,
}

impl std::fmt::Debug for RedisProbe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisProbe").field("sentinels", &self.sentinels).finish_non_exhaustive()
    }
}

fn io_failure(e: &std::io::Error) -> Failure {
    super::classify::io_kind(e.kind())
}

impl RedisProbe {
    /// Finds the master through the Sentinels, opens the probe's connections to it, and asks the Sentinels
    /// again every 500 ms until `stop` is cancelled.
    pub async fn start(
        sentinels: Sentinels,
        settings: &Settings,
        stop: CancellationToken,
    ) -> Result<Arc<RedisProbe>, ProbeError> {
        let timeout = settings.timeout;
        let probe = Arc::new(RedisProbe {
            sentinels,
            mix: Mix::new(settings.read_ratio),
            prefix: settings.key_prefix.clone(),
            timeout,
            master: RwLock::new(None),
            slots: (0..SLOTS).map(|_| Mutex::new(None)).collect(),
            next: AtomicUsize::new(0),
        });
        let master = probe.discover().await.ok_or(ProbeError::NoMaster)?;
        for slot in &probe.slots {
            match Conn::connect(master, timeout).await {
                Ok(c) => *slot.lock().await = Some((master, c)),
                Err(_) => break,
            }
        }
        probe.spawn_refresh(stop);
        Ok(probe)
    }

    /// Asks the Sentinels in turn who the master is; returns its published address.
    async fn discover(&self) -> Option<SocketAddr> {
        for (_, s) in &self.sentinels.nodes {
            let Ok(mut c) = Conn::connect(*s, Duration::from_millis(500)).await else { continue };
            let reply = c
                .call(&[b"SENTINEL", b"get-master-addr-by-name", self.sentinels.master_name.as_bytes()])
                .await;
            if let Ok(r) = reply {
                if let Some(named) = master_addr(&r) {
                    if let Some(a) = self.sentinels.addr_map.get(&named) {
                        *self.master.write().await = Some(*a);
                        return Some(*a);
                    }
                    tracing::warn!(
                        "sentinel names master {named}, which is not a published container address"
                    );
                }
            }
        }
        None
    }

    /// Re-asks the Sentinels every 500 ms until cancelled.
    fn spawn_refresh(self: &Arc<Self>, cancel: CancellationToken) {
        let me = self.clone();
        tokio::spawn(async move {
            loop {
                me.discover().await;
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                    _ = cancel.cancelled() => return,
                }
            }
        });
    }

    async fn request(&self, kind: Kind, seq: u32, last_acked: u32) -> Option<Failure> {
        let master = match *self.master.read().await {
            Some(m) => m,
            None => match self.discover().await {
                Some(m) => m,
                None => return Some(Failure::Refused),
            },
        };
        let idx = self.next.fetch_add(1, Ordering::Relaxed) % self.slots.len();
        let mut slot = self.slots[idx].lock().await;
        // The connection is taken out of the pool for the call and put back only after a complete reply:
        // if the caller gives up mid-call, it is dropped with its half-read reply instead of being reused.
        let (addr, mut conn) = match slot.take() {
            Some((a, c)) if a == master => (a, c),
            _ => match Conn::connect(master, self.timeout).await {
                Ok(c) => (master, c),
                Err(_) => {
                    drop(slot);
                    self.discover().await;
                    return Some(Failure::Refused);
                }
            },
        };
        let reply = match kind {
            Kind::Write => {
                let key = key_for(&self.prefix, seq);
                conn.call(&[b"SET", key.as_bytes(), seq.to_string().as_bytes()]).await
            }
            Kind::Read => conn.call(&[b"GET", key_for(&self.prefix, last_acked).as_bytes()]).await,
        };
        match reply {
            Ok(Reply::Error(e)) => {
                tracing::debug!("redis refused: {e}");
                Some(Failure::Rejected)
            }
            Ok(_) => {
                *slot = Some((addr, conn));
                None
            }
            Err(e) => Some(io_failure(&e)),
        }
    }

    async fn read_all(&self, master: SocketAddr, max_seq: u32) -> Result<SeqSet, ProbeError> {
        let mut c = Conn::connect(master, Duration::from_secs(2))
            .await
            .map_err(|source| ProbeError::Io { what: "connecting to the Redis master", source })?;
        let mut found = Vec::new();
        let mut start = 1u32;
        while start <= max_seq {
            let end = (start + 999).min(max_seq);
            let keys: Vec<String> = (start..=end).map(|s| key_for(&self.prefix, s)).collect();
            let mut args: Vec<&[u8]> = vec![b"MGET"];
            args.extend(keys.iter().map(|k| k.as_bytes()));
            match c.call(&args).await.map_err(|source| ProbeError::Io { what: "MGET", source })? {
                Reply::Array(Some(values)) => {
                    for (i, v) in values.iter().enumerate() {
                        if matches!(v, Reply::Bulk(Some(_))) {
                            found.push(start + i as u32);
                        }
                    }
                }
                other => return Err(ProbeError::Answer { what: "MGET", answer: format!("{other:?}") }),
            }
            start = end + 1;
        }
        Ok(found.into())
    }
}

impl Probe for RedisProbe {
    fn next(&self, rng: &mut StdRng) -> Pick {
        self.mix.draw(rng).into()
    }

    fn send<'a>(&'a self, _: &'a mut super::http1::Conn, req: Request, timeout: Duration) -> Sending<'a> {
        bounded(timeout, self.request(req.kind, req.seq, req.last_acked)).boxed()
    }

    /// Reads back keys `1..=max_seq` from the current master with MGET in batches.
    fn read_back(&self, max_seq: u32, limit: Duration) -> ReadingBack<'_> {
        super::verify::retry_until(limit, "Redis", move || async move {
            let master = self.discover().await.ok_or(ProbeError::NoMaster)?;
            self.read_all(master, max_seq).await
        })
        .boxed()
    }

    fn describe(&self) -> String {
        let names: Vec<&str> = self.sentinels.nodes.iter().map(|(n, _)| n.as_str()).collect();
        format!("the Redis master named by {}", names.join(", "))
    }
}
