//! Client load: an open-model load generator (fixed arrival rate, latency from the intended send time, an
//! in-flight cap whose overflow is counted) driving one [`Probe`] (the demo key-value API, a plain GET,
//! PostgreSQL, Redis), and the read-back of every written sequence number after the drill.
//!
//! Imports run one way: `engine` <-> `open` (the open model's dispatch) -> `probe` -> `http1` -> `tls`, `classify`; the probes -> `probe`, `keys`,
//! `verify`, `error`; nothing here imports `observe`.

pub mod answering;
pub mod classify;
pub mod engine;
pub mod error;
pub mod http1;
pub mod http_probe;
pub mod keys;
mod open;
pub mod pg_probe;
pub mod probe;
pub mod redis_probe;
pub mod summary;
pub mod template;
pub mod tls;
pub mod verify;
pub mod workload;

pub use engine::{Counters, LoadConfig, LoadResult};
pub use error::ProbeError;
pub use probe::Probe;
