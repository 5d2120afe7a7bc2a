//! The one interface between the load engine and what it loads: a probe picks its next request (its kind,
//! and which of its requests when it has several, as a weighted workload will), sends a request on a
//! connection, reads the written sequence numbers back after the drill, and describes itself in a line. The
//! engine picks sequence numbers, times and counts; it knows no probe by name. The probes: the demo
//! service's key-value API and the plain GET (`http_probe`), PostgreSQL (`pg_probe`) and Redis
//! (`redis_probe`); a new one is a file implementing [`Probe`] and a line where the drill builds it.
//!
//! A trait object rather than an enum: a call costs one allocation for its future, nothing next to a syscall,
//! and a probe from another module (a user-defined workload) needs no change here.

use std::fmt;
use std::future::Future;
use std::time::Duration;

use futures_util::future::BoxFuture;
use rand::rngs::StdRng;
use rand::Rng;

use super::http1::Conn;
use crate::timeline::{Failure, Kind, Verification};

/// A probe's choice of its next request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pick {
    pub kind: Kind,
    /// Which of the probe's requests, for a probe with several of a kind; 0 otherwise.
    pub which: u16,
}

impl From<Kind> for Pick {
    fn from(kind: Kind) -> Pick {
        Pick { kind, which: 0 }
    }
}

/// One request the engine asks a probe to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Request {
    pub kind: Kind,
    /// As the probe picked it.
    pub which: u16,
    /// The write's sequence number, from 1 in the order the engine schedules writes; 0 for a read.
    pub seq: u32,
    /// The newest write acknowledged when the request starts: what a read asks for.
    pub last_acked: u32,
}

/// A request being sent: `None` on success.
pub type Sending<'a> = BoxFuture<'a, Option<Failure>>;

/// A read-back under way.
pub type ReadingBack<'a> = BoxFuture<'a, Verification>;

/// What the load engine drives.
pub trait Probe: Send + Sync + fmt::Debug {
    /// The next request, drawn from the engine's seeded `rng`; a write then takes the next sequence number.
    fn next(&self, rng: &mut StdRng) -> Pick;

    /// Sends `req` and reads its answer, all within `timeout`: on `conn`, the engine's HTTP/1.1 connection
    /// (the closed-loop or open-model worker's own), or on connections the probe
    /// keeps itself. `None` on success.
    fn send<'a>(&'a self, conn: &'a mut Conn, req: Request, timeout: Duration) -> Sending<'a>;

    /// After the load: which writes of `1..=max_seq` the recovered system holds, retried until `limit`
    /// passes. A read-back that never succeeds is [`Verification::Failed`] (RPO unknown, never 0).
    fn read_back(&self, max_seq: u32, limit: Duration) -> ReadingBack<'_>;

    /// What the load goes to, in a line for the console.
    fn describe(&self) -> String;
}

/// What a probe is made with, from the scenario's `[load]`.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The run-unique prefix of the keys written (see `keys`).
    pub key_prefix: String,
    /// A request slower than this is a timeout; a probe's own connection attempts are bounded by it too.
    pub timeout: Duration,
    /// The fraction of requests that are reads, for the probes that write.
    pub read_ratio: f64,
}

/// The read/write mix of a probe that writes: each request is a read with probability `read_ratio`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Mix {
    read_ratio: f64,
}

impl Mix {
    pub fn new(read_ratio: f64) -> Mix {
        Mix { read_ratio }
    }

    pub fn draw(self, rng: &mut StdRng) -> Kind {
        if rng.gen::<f64>() < self.read_ratio {
            Kind::Read
        } else {
            Kind::Write
        }
    }
}

/// Bounds a request sent on a probe's own connections by `timeout`: an answer later than that is a timeout,
/// as it is for HTTP.
pub async fn bounded(timeout: Duration, request: impl Future<Output = Option<Failure>>) -> Option<Failure> {
    tokio::time::timeout(timeout, request).await.unwrap_or(Some(Failure::Timeout))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn mixes_draw_their_ratio_and_the_extremes_exactly() {
        let mut rng = StdRng::seed_from_u64(7);
        let reads = (0..10_000).filter(|_| Mix::new(0.3).draw(&mut rng) == Kind::Read).count();
        assert!((2_700..3_300).contains(&reads), "{reads} reads of 10000 at 0.3");
        assert!((0..1000).all(|_| Mix::new(0.0).draw(&mut rng) == Kind::Write));
        assert!((0..1000).all(|_| Mix::new(1.0).draw(&mut rng) == Kind::Read));
    }

    #[tokio::test]
    async fn a_late_answer_is_a_timeout() {
        let slow = async {
            tokio::time::sleep(Duration::from_secs(5)).await;
            None
        };
        assert_eq!(bounded(Duration::from_millis(20), slow).await, Some(Failure::Timeout));
        let rejected = bounded(Duration::from_secs(1), async { Some(Failure::Rejected) }).await;
        assert_eq!(rejected, Some(Failure::Rejected));
    }
}
