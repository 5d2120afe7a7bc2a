//! The recorded timeline of a drill: plain data that every measurement and every report is computed from.
//!
//! All times are [`Nanos`]: nanoseconds since the drill's start on hadrill's monotonic clock. Timestamps that come
//! from elsewhere (the Docker daemon's event times, a command that reports when it took effect) are wall-clock
//! times converted with [`Clock::wall_to_nanos`]; hadrill and the daemon share the host's clock.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// Nanoseconds since the drill started.
pub type Nanos = u64;

pub const SECOND: Nanos = 1_000_000_000;
pub const MILLI: Nanos = 1_000_000;

/// The drill's time origin, on both the monotonic and the wall clock.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    start: Instant,
    /// Unix time of `start`, in nanoseconds.
    start_wall_ns: u128,
}

impl Clock {
    pub fn start() -> Clock {
        let start = Instant::now();
        let wall = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        Clock { start, start_wall_ns: wall.as_nanos() }
    }

    pub fn now(&self) -> Nanos {
        self.at(Instant::now())
    }

    pub fn at(&self, t: Instant) -> Nanos {
        t.saturating_duration_since(self.start).as_nanos() as Nanos
    }

    pub fn instant(&self, n: Nanos) -> Instant {
        self.start + Duration::from_nanos(n)
    }

    /// A unix-epoch time in nanoseconds as drill time (0 if it is before the start).
    pub fn wall_to_nanos(&self, unix_ns: u128) -> Nanos {
        unix_ns.saturating_sub(self.start_wall_ns) as Nanos
    }

    /// Drill time as unix-epoch milliseconds.
    pub fn nanos_to_unix_ms(&self, n: Nanos) -> u64 {
        ((self.start_wall_ns + u128::from(n)) / 1_000_000) as u64
    }

    pub fn start_unix_ms(&self) -> u64 {
        (self.start_wall_ns / 1_000_000) as u64
    }
}

/// What a client request was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Read,
    Write,
}

/// Why a request did not succeed.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Failure {
    /// The server answered with this HTTP status (an error status).
    Status(u16),
    /// No answer within the request timeout.
    Timeout,
    /// The connection was refused: the request never reached a server.
    Refused,
    /// A database answered with an error (e.g. read-only, shutting down): a definite refusal.
    Rejected,
    /// The connection was reset or closed before an answer.
    Reset,
    /// Any other transport error.
    Transport,
    /// The TLS handshake failed (certificate refused, alert, protocol): the request was never sent.
    Tls,
    /// Never sent: the in-flight cap was reached at its intended time (the server was stalling).
    Missed,
}

impl Failure {
    /// True when the request certainly did not take effect (a definite error answer, or never delivered).
    pub fn is_definite(self) -> bool {
        matches!(
            self,
            Failure::Status(_) | Failure::Refused | Failure::Rejected | Failure::Missed | Failure::Tls
        )
    }

    pub fn label(self) -> String {
        match self {
            Failure::Status(s) => format!("http_{s}"),
            Failure::Timeout => "timeout".into(),
            Failure::Refused => "connection_refused".into(),
            Failure::Rejected => "server_error".into(),
            Failure::Reset => "connection_reset".into(),
            Failure::Transport => "transport_error".into(),
            Failure::Tls => "tls_error".into(),
            Failure::Missed => "missed_send".into(),
        }
    }
}

/// One client request, as the load engine saw it, in 24 bytes (in memory and in a spill file,
/// `src/outcomes.rs`): a 10-minute drill at 5k req/s records 3 million of them. The intended send time is kept to the nanosecond; the send lag and the latency are offsets from
/// it in whole microseconds (saturating at 71 minutes); the kind rides in the top bit of the sequence number.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    intended: Nanos,
    lag_us: u32,
    latency_us: u32,
    failure: Option<Failure>,
    /// The write's sequence number, with [`WRITE_BIT`] set for writes.
    seq_kind: u32,
}

const WRITE_BIT: u32 = 1 << 31;

fn offset_us(from: Nanos, to: Nanos) -> u32 {
    u32::try_from(to.saturating_sub(from) / 1000).unwrap_or(u32::MAX)
}

impl Outcome {
    /// `started` and `ended` are rounded down to the microsecond after `intended`; `seq` must be below 2^31
    /// (writes are numbered from 1; reads carry 0).
    pub fn new(
        intended: Nanos,
        started: Nanos,
        ended: Nanos,
        kind: Kind,
        failure: Option<Failure>,
        seq: u32,
    ) -> Outcome {
        debug_assert!(seq < WRITE_BIT, "sequence number {seq} too large");
        let kind_bit = if kind == Kind::Write { WRITE_BIT } else { 0 };
        Outcome {
            intended,
            lag_us: offset_us(intended, started),
            latency_us: offset_us(intended, ended),
            failure,
            seq_kind: (seq & !WRITE_BIT) | kind_bit,
        }
    }

    /// When the open model meant to send it.
    pub fn intended(&self) -> Nanos {
        self.intended
    }

    /// When it was actually sent (`intended` plus the scheduler's lag).
    pub fn started(&self) -> Nanos {
        self.intended + u64::from(self.lag_us) * 1000
    }

    /// When the answer or the error came (equals `started` for a missed send).
    pub fn ended(&self) -> Nanos {
        self.intended + u64::from(self.latency_us) * 1000
    }

    pub fn kind(&self) -> Kind {
        if self.seq_kind & WRITE_BIT != 0 {
            Kind::Write
        } else {
            Kind::Read
        }
    }

    /// `None` when it succeeded.
    pub fn failure(&self) -> Option<Failure> {
        self.failure
    }

    /// The write's sequence number (writes only; 0 for reads).
    pub fn seq(&self) -> u32 {
        self.seq_kind & !WRITE_BIT
    }

    pub fn ok(&self) -> bool {
        self.failure.is_none()
    }

    /// Latency from the intended send time (so a stalled server shows up as latency: no coordinated omission).
    pub fn latency(&self) -> Nanos {
        u64::from(self.latency_us) * 1000
    }

    pub fn set_failure(&mut self, failure: Option<Failure>) {
        self.failure = failure;
    }

    pub fn set_ended(&mut self, ended: Nanos) {
        self.latency_us = offset_us(self.intended, ended);
    }

    /// Makes it a write with this sequence number.
    pub fn set_write(&mut self, seq: u32) {
        self.seq_kind = (seq & !WRITE_BIT) | WRITE_BIT;
    }

    /// Makes it a read.
    pub fn set_read(&mut self) {
        self.seq_kind = 0;
    }
}

/// Bytes of one [`Outcome`] in a spill file ([`Outcome::to_bytes`]).
pub const OUTCOME_BYTES: usize = 24;

impl Outcome {
    /// The outcome as 24 little-endian bytes: intended, lag, latency, sequence and kind, failure code; read
    /// back whole by [`Outcome::from_bytes`].
    pub fn to_bytes(&self) -> [u8; OUTCOME_BYTES] {
        let mut b = [0u8; OUTCOME_BYTES];
        b[..8].copy_from_slice(&self.intended.to_le_bytes());
        b[8..12].copy_from_slice(&self.lag_us.to_le_bytes());
        b[12..16].copy_from_slice(&self.latency_us.to_le_bytes());
        b[16..20].copy_from_slice(&self.seq_kind.to_le_bytes());
        b[20..].copy_from_slice(&failure_code(self.failure).to_le_bytes());
        b
    }

    /// The inverse of [`Outcome::to_bytes`].
    pub fn from_bytes(b: &[u8; OUTCOME_BYTES]) -> Outcome {
        let u32_at = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        let mut intended = [0u8; 8];
        intended.copy_from_slice(&b[..8]);
        Outcome {
            intended: u64::from_le_bytes(intended),
            lag_us: u32_at(8),
            latency_us: u32_at(12),
            seq_kind: u32_at(16),
            failure: failure_of_code(u32_at(20)),
        }
    }

    /// A total order on outcomes, by intended time first: the order a recording is measured in, the same
    /// whether it was sorted in memory or merged from sorted runs (ties on the intended time are broken by
    /// every other field, so the order never depends on the order of arrival).
    pub fn order(&self) -> (Nanos, u32, u32, u32, u32) {
        (self.intended, self.lag_us, self.latency_us, self.seq_kind, failure_code(self.failure))
    }
}

fn failure_code(f: Option<Failure>) -> u32 {
    match f {
        None => 0,
        Some(Failure::Timeout) => 1,
        Some(Failure::Refused) => 2,
        Some(Failure::Rejected) => 3,
        Some(Failure::Reset) => 4,
        Some(Failure::Transport) => 5,
        Some(Failure::Tls) => 6,
        Some(Failure::Missed) => 7,
        Some(Failure::Status(s)) => 0x1_0000 | u32::from(s),
    }
}

fn failure_of_code(c: u32) -> Option<Failure> {
    match c {
        0 => None,
        1 => Some(Failure::Timeout),
        2 => Some(Failure::Refused),
        3 => Some(Failure::Rejected),
        4 => Some(Failure::Reset),
        5 => Some(Failure::Transport),
        6 => Some(Failure::Tls),
        7 => Some(Failure::Missed),
        c => Some(Failure::Status(c as u16)),
    }
}

impl std::fmt::Debug for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outcome")
            .field("intended", &self.intended())
            .field("started", &self.started())
            .field("ended", &self.ended())
            .field("kind", &self.kind())
            .field("failure", &self.failure)
            .field("seq", &self.seq())
            .finish()
    }
}

/// The state a write ended in, from the client's point of view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum WriteState {
    /// 2xx: the service said it was committed.
    Acknowledged,
    /// A definite error answer: the service said it was not done (or it never got it).
    Failed,
    /// Timeout or reset: nobody knows.
    Indeterminate,
}

impl Outcome {
    pub fn write_state(&self) -> Option<WriteState> {
        (self.kind() == Kind::Write).then(|| match self.failure {
            None => WriteState::Acknowledged,
            Some(f) if f.is_definite() => WriteState::Failed,
            Some(_) => WriteState::Indeterminate,
        })
    }
}

/// How a fault's effect time was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum EffectSource {
    /// The Docker daemon's event timestamp (die, pause, network disconnect, ...).
    DockerEvent,
    /// The command reported it (`HADRILL_EFFECT_AT_MS=` on its last output line).
    Reported,
    /// When hadrill's call returned (no daemon timestamp exists, e.g. iptables rules).
    Hadrill,
}

/// Whether an injected fault or step is a fault (measured from) or an operator step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ActionRole {
    Fault,
    Step,
}

/// One fault or operator step as it happened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ActionEvent {
    /// Position in the scenario (faults and steps numbered together, in file order).
    pub index: usize,
    pub role: ActionRole,
    /// `kill`, `stop`, `restart`, `pause`, `disconnect`, `partition`, `exec`.
    pub action: String,
    /// A one-line description, e.g. `kill SIGKILL app2`.
    pub summary: String,
    /// The containers it acted on (service names, `service#n` for extra instances).
    pub targets: Vec<String>,
    /// When the scenario scheduled it.
    pub scheduled: Nanos,
    /// When hadrill started acting.
    pub started: Nanos,
    /// When it took effect, if it did.
    pub effect: Option<Nanos>,
    pub effect_source: Option<EffectSource>,
    /// Whether hadrill checked that it really took effect (container dead, paused, packets dropped, exit 0).
    pub verified: bool,
    /// What the check found, or why the action failed.
    pub detail: String,
    /// When its revert ran (pause -> unpause, partition -> rules removed, ...), if it has one.
    pub reverted: Option<Nanos>,
    /// Each instance a rolling restart or update replaced, in order (empty for other actions).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub replaced: Vec<Replacement>,
}

#[cfg(test)]
impl ActionEvent {
    /// A verified action `action` at place `index`, scheduled and started at `at`, with nothing else set: the
    /// one literal the tests build their events from (`ActionEvent { verified: false, ..ActionEvent::test(..) }`).
    pub fn test(index: usize, action: &str, at: Nanos) -> ActionEvent {
        ActionEvent {
            index,
            role: ActionRole::Fault,
            action: action.into(),
            summary: String::new(),
            targets: vec![],
            scheduled: at,
            started: at,
            effect: None,
            effect_source: None,
            verified: true,
            detail: String::new(),
            reverted: None,
            replaced: Vec::new(),
        }
    }
}

/// One instance's replacement in a rolling restart or update, in drill time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Replacement {
    /// The instance (`app1`, `app1#2`).
    pub instance: String,
    /// When hadrill began replacing it.
    pub began: Nanos,
    /// When the replacement was over (old gone, new healthy), or gave up.
    pub ended: Nanos,
    /// When the old instance died.
    pub out: Option<Nanos>,
    /// When the serving instance was healthy again.
    pub back: Option<Nanos>,
}

/// A Docker event of one of the stack's containers, with the daemon's time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct DockerEvent {
    pub at: Nanos,
    /// `service` or `service#n`.
    pub container: String,
    /// `die`, `start`, `pause`, `unpause`, `kill`, `health_status: healthy`, `network disconnect`, ...
    pub action: String,
}

pub use crate::seq_set::{SeqSet, SeqSetBuilder};

/// What the verifier read back after the drill.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verification {
    /// The sequence numbers of the writes found in the recovered system.
    Read(SeqSet),
    /// Reading back failed: RPO is unknown, never 0.
    Failed(String),
}

/// A change the stack itself reported (HAProxy marking a server down, a PostgreSQL node leaving recovery,
/// Patroni naming a new leader, Sentinel switching masters): from the component's own log line or Pub/Sub
/// message where it has one, else from a poll.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct StackEvent {
    /// When it happened: the log line's own timestamp, the message's arrival, or the poll that first saw it.
    pub at: Nanos,
    /// How the observer learned of it.
    #[serde(default)]
    pub origin: Origin,
    /// How late `at` can be, at most, in microseconds: the polling interval, the timestamp's precision.
    #[serde(default)]
    pub resolution_us: u32,
    /// `haproxy`, `nginx`, `postgres`, `patroni`, `sentinel`.
    pub source: String,
    /// What changed: a server, a node, a cluster.
    pub subject: String,
    /// The new state, e.g. `DOWN`, `UP`, `primary`, `leader pg2`, `master redis-replica:6379`.
    pub state: String,
    /// What kind of change it is for the RTO breakdown.
    pub kind: StackEventKind,
}

/// How an observer learned of a stack event, which bounds the error of its time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// A state polled every interval: at most one interval late.
    #[default]
    Poll,
    /// Pushed by the component as it happened (Redis Sentinel's Pub/Sub): late by the loopback hop.
    Push,
    /// The component's own log line, at the timestamp it wrote (or the daemon's, for a line without one).
    Log,
}

impl Origin {
    pub fn label(self) -> &'static str {
        match self {
            Origin::Poll => "poll",
            Origin::Push => "pub/sub",
            Origin::Log => "log",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum StackEventKind {
    /// The stack noticed the failure (LB marks a server down, Sentinel/Patroni loses the master).
    Detection,
    /// The stack promoted a replica or re-routed to a new primary.
    Promotion,
    /// A component came back (server UP, node back).
    Recovery,
    /// Anything else worth a line on the timeline.
    Info,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_outcome_is_24_bytes_and_round_trips_to_the_microsecond() {
        assert_eq!(std::mem::size_of::<Outcome>(), 24);
        let o = Outcome::new(
            5 * SECOND + 123,
            5 * SECOND + 2_500,
            5 * SECOND + 7 * MILLI + 999,
            Kind::Write,
            None,
            42,
        );
        assert_eq!(
            (o.intended(), o.started(), o.ended()),
            (5 * SECOND + 123, 5 * SECOND + 2_123, 5 * SECOND + 7 * MILLI + 123)
        );
        assert_eq!((o.kind(), o.seq(), o.failure(), o.latency()), (Kind::Write, 42, None, 7 * MILLI));
        let r = Outcome::new(SECOND, SECOND, SECOND, Kind::Read, Some(Failure::Status(503)), 0);
        assert_eq!((r.kind(), r.seq(), r.failure()), (Kind::Read, 0, Some(Failure::Status(503))));
    }

    #[test]
    fn offsets_saturate_instead_of_wrapping() {
        let o = Outcome::new(SECOND, SECOND / 2, 3 * 3600 * SECOND, Kind::Read, Some(Failure::Timeout), 0);
        assert_eq!(o.started(), SECOND, "a start before the intended time is clamped to it");
        assert_eq!(o.latency(), u64::from(u32::MAX) * 1000);
    }
}
