//! Everything a drill recorded, before any number is computed from it.

use crate::observe::postgres::LagSample;
use crate::outcomes::Outcomes;
use crate::timeline::{ActionEvent, DockerEvent, Nanos, StackEvent, Verification};

#[derive(Debug)]
pub struct Recording {
    /// Every request's outcome, sorted; spilled to an unlinked file past the first run of them.
    pub outcomes: Outcomes,
    /// Intended end of the load phase (earlier when the drill was interrupted).
    pub load_end: Nanos,
    pub actions: Vec<ActionEvent>,
    pub docker_events: Vec<DockerEvent>,
    /// State changes the observers saw (HAProxy, PostgreSQL, Patroni, Sentinel).
    pub stack_events: Vec<StackEvent>,
    /// Replication lag samples from the primary.
    pub lags: Vec<LagSample>,
    /// Observers that ran, and those that could not (with why).
    pub observers: Vec<String>,
    pub observers_skipped: Vec<String>,
    /// `None` when verification did not run (the drill was aborted before it).
    pub verification: Option<Verification>,
    /// Set when the drill stopped early, with the reason.
    pub aborted: Option<String>,
    /// Reverts that failed, with their errors.
    pub revert_errors: Vec<String>,
}

impl Recording {
    /// When the first fault (not an operator step) took effect.
    pub fn t_fault(&self) -> Option<Nanos> {
        self.actions
            .iter()
            .filter(|a| a.role == crate::timeline::ActionRole::Fault)
            .filter_map(|a| a.effect)
            .min()
    }
}
