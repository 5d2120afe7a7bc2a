//! Client load: an open-model HTTP load generator (fixed arrival rate, latency from the intended send time,
//! an in-flight cap whose overflow is counted) with a sequence-numbered write probe, and the verifier that reads
//! every written key back after the drill.

pub mod classify;
pub mod engine;
pub mod http1;
pub mod pg_probe;
pub mod redis_probe;
pub mod summary;
pub mod verify;

pub use engine::{Counters, LoadConfig, LoadResult};
