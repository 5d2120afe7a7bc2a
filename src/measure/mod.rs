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

pub use summary::{measure, measure_sorted, Measurement, Params};

use std::borrow::Borrow;

use crate::timeline::Outcome;

/// The outcomes of `sorted` by value, as a pass that can be cloned to make a second cursor: a slice of
/// outcomes or a spilled recording ([`crate::outcomes::Outcomes`]) alike.
pub fn pass<I>(sorted: I) -> impl Iterator<Item = Outcome> + Clone
where
    I: IntoIterator<IntoIter: Clone>,
    I::Item: Borrow<Outcome>,
{
    sorted.into_iter().map(|o| *o.borrow())
}
