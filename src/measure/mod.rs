//! Measurement: pure functions from a recorded timeline to the figures in a report. No Docker, no I/O: every
//! input is plain data, so each definition is unit-tested with hand-built timelines. The definitions are the
//! ones in `docs/measurement.md`.

pub mod breakdown;
pub mod distribution;
pub mod expect;
pub mod latency;
pub mod outages;
pub mod rpo;
pub mod rto;
pub mod slo;
pub mod summary;

#[cfg(test)]
mod same_figures;

pub use summary::{measure, Measurement, Params};
