//! Writes and RPO: which acknowledged writes the recovered system no longer has, and how much acknowledged
//! history that is. Unknown (never 0) when the read-back failed or did not run.

use std::borrow::Borrow;

use serde::{Deserialize, Serialize};

use super::rto::ms;
use crate::timeline::{Nanos, Outcome, Verification, WriteState};

/// The read-back of a probe that never writes (a read-only workload): RPO is then not measured.
pub const NO_WRITES: &str = "no writes: nothing to read back";

/// At most this many lost sequence numbers are listed in a report.
pub const LOST_LISTED: usize = 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RpoStatus {
    Measured,
    /// The read-back did not succeed: nobody knows what was lost.
    Unknown,
    /// Nothing was written (a read-only workload): there is no RPO to measure.
    NotMeasured,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Rpo {
    pub status: RpoStatus,
    /// Acknowledged history lost; 0 when nothing acknowledged was lost; null when unknown.
    pub rpo_ms: Option<f64>,
    /// Why it is unknown.
    pub reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Writes {
    pub sent: u64,
    pub acknowledged: u64,
    pub failed: u64,
    pub indeterminate: u64,
    /// Acknowledged writes absent after recovery (null when unknown).
    pub lost: Option<u64>,
    /// The first lost sequence numbers (at most 1000).
    pub lost_seqs: Vec<u32>,
    pub indeterminate_persisted: Option<u64>,
    pub indeterminate_not_persisted: Option<u64>,
    /// Writes that got a definite error answer and were stored anyway.
    pub failed_but_persisted: Option<u64>,
    pub rpo: Rpo,
}

/// Write counts, lost writes and RPO. Lost = acknowledged and absent from `verification`; RPO = from the oldest
/// lost acknowledgement to the later of `t_fault` and the newest one (0 when none was lost). With a failed or
/// missing read-back the persisted/lost figures are `None` and RPO is `unknown` with the reason.
pub fn writes(
    outcomes: impl IntoIterator<Item = impl Borrow<Outcome>>,
    t_fault: Option<Nanos>,
    verification: Option<&Verification>,
) -> Writes {
    // One pass, nothing collected but the lost writes: this runs over millions of outcomes at the end of a
    // long drill, when memory peaks.
    let found = match verification {
        Some(Verification::Read(found)) => Some(found),
        _ => None,
    };
    let persisted = |o: &Outcome| found.is_some_and(|f| f.contains(&o.seq()));
    let (mut sent, mut acknowledged, mut failed, mut indeterminate) = (0u64, 0u64, 0u64, 0u64);
    let (mut ind_persisted, mut failed_persisted) = (0u64, 0u64);
    let mut lost_seqs: Vec<u32> = Vec::new();
    let (mut oldest, mut newest) = (Nanos::MAX, 0);
    for o in outcomes {
        let o = o.borrow();
        let Some(state) = o.write_state() else { continue };
        sent += 1;
        match state {
            WriteState::Acknowledged => {
                acknowledged += 1;
                if found.is_some() && !persisted(o) {
                    lost_seqs.push(o.seq());
                    oldest = oldest.min(o.ended());
                    newest = newest.max(o.ended());
                }
            }
            WriteState::Failed => {
                failed += 1;
                failed_persisted += u64::from(persisted(o));
            }
            WriteState::Indeterminate => {
                indeterminate += 1;
                ind_persisted += u64::from(persisted(o));
            }
        }
    }
    let mut w = Writes {
        sent,
        acknowledged,
        failed,
        indeterminate,
        lost: None,
        lost_seqs: Vec::new(),
        indeterminate_persisted: None,
        indeterminate_not_persisted: None,
        failed_but_persisted: None,
        rpo: Rpo { status: RpoStatus::Unknown, rpo_ms: None, reason: None },
    };
    // A read-only workload has nothing to read back: its RPO is neither 0 nor unknown.
    if sent == 0 && matches!(verification, Some(Verification::Failed(r)) if r == NO_WRITES) {
        w.rpo = Rpo { status: RpoStatus::NotMeasured, rpo_ms: None, reason: Some("no writes".into()) };
        return w;
    }
    match verification {
        Some(Verification::Read(_)) => {}
        Some(Verification::Failed(why)) => {
            w.rpo.reason = Some(why.clone());
            return w;
        }
        None => {
            w.rpo.reason = Some("the read-back did not run (drill aborted)".into());
            return w;
        }
    }
    w.indeterminate_persisted = Some(ind_persisted);
    w.indeterminate_not_persisted = Some(indeterminate - ind_persisted);
    w.failed_but_persisted = Some(failed_persisted);
    w.lost = Some(lost_seqs.len() as u64);
    lost_seqs.sort_unstable();
    lost_seqs.truncate(LOST_LISTED);
    w.lost_seqs = lost_seqs;
    let rpo_ns = if newest >= oldest { newest.max(t_fault.unwrap_or(newest)) - oldest } else { 0 };
    w.rpo = Rpo { status: RpoStatus::Measured, rpo_ms: Some(ms(rpo_ns)), reason: None };
    w
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timeline::SeqSet;
    use crate::timeline::{Failure, Kind, MILLI};

    fn write(seq: u32, acked_ms: u64, failure: Option<Failure>) -> Outcome {
        Outcome::new(
            acked_ms * MILLI - MILLI,
            acked_ms * MILLI - MILLI,
            acked_ms * MILLI,
            Kind::Write,
            failure,
            seq,
        )
    }

    fn tl() -> Vec<Outcome> {
        vec![
            write(1, 100, None),
            write(2, 200, None),
            write(3, 300, None),
            write(4, 400, Some(Failure::Timeout)),
            write(5, 500, Some(Failure::Status(503))),
            write(6, 600, None),
        ]
    }

    #[test]
    fn nothing_lost_is_rpo_zero() {
        let found: SeqSet = [1, 2, 3, 6].into();
        let w = writes(tl(), Some(450 * MILLI), Some(&Verification::Read(found)));
        assert_eq!((w.acknowledged, w.failed, w.indeterminate), (4, 1, 1));
        assert_eq!(w.lost, Some(0));
        assert_eq!(w.rpo.rpo_ms, Some(0.0));
        assert_eq!(w.indeterminate_not_persisted, Some(1));
    }

    #[test]
    fn rpo_spans_the_lost_acknowledged_history_up_to_the_fault() {
        let found: SeqSet = [1, 4, 5, 6].into();
        let w = writes(tl(), Some(450 * MILLI), Some(&Verification::Read(found)));
        assert_eq!(w.lost, Some(2));
        assert_eq!(w.lost_seqs, vec![2, 3]);
        assert_eq!(w.rpo.rpo_ms, Some(250.0), "from the ack of 2 (200 ms) to the fault (450 ms)");
        assert_eq!(w.indeterminate_persisted, Some(1));
        assert_eq!(w.failed_but_persisted, Some(1));
        let after_fault = writes(tl(), Some(150 * MILLI), Some(&Verification::Read([1, 2].into())));
        assert_eq!(after_fault.rpo.rpo_ms, Some(300.0), "newest lost ack (600 ms) is after the fault");
    }

    #[test]
    fn failed_read_back_is_unknown_never_zero() {
        let w = writes(tl(), Some(0), Some(&Verification::Failed("503".into())));
        assert_eq!(w.rpo.status, RpoStatus::Unknown);
        assert_eq!((w.lost, w.rpo.rpo_ms), (None, None));
        assert_eq!(writes(tl(), None, None).rpo.status, RpoStatus::Unknown);
        let reads = [Outcome::new(0, 0, MILLI, Kind::Read, None, 0)];
        let none = writes(reads, Some(0), Some(&Verification::Failed(NO_WRITES.into())));
        assert_eq!((none.rpo.status, none.rpo.rpo_ms, none.lost), (RpoStatus::NotMeasured, None, None));
    }

    #[test]
    fn without_a_fault_rpo_ends_at_the_newest_lost_ack() {
        let w = writes(tl(), None, Some(&Verification::Read([1, 6].into())));
        assert_eq!((w.lost, w.rpo.rpo_ms), (Some(2), Some(100.0)));
        let one = writes(tl(), None, Some(&Verification::Read([1, 2, 3].into())));
        assert_eq!(one.rpo.rpo_ms, Some(0.0), "one lost write with no fault spans nothing");
        assert_eq!(one.lost_seqs, vec![6]);
    }

    #[test]
    fn lost_seqs_are_capped_but_the_count_is_not() {
        let many: Vec<Outcome> = (1..=1500).rev().map(|seq| write(seq, 10 + u64::from(seq), None)).collect();
        let w = writes(&many, Some(5 * MILLI), Some(&Verification::Read(SeqSet::default())));
        assert_eq!(w.lost, Some(1500));
        assert_eq!(w.lost_seqs.len(), LOST_LISTED);
        assert_eq!((w.lost_seqs[0], w.lost_seqs[999]), (1, 1000));
        assert_eq!(w.rpo.rpo_ms, Some(1499.0));
    }

    #[test]
    fn reads_are_not_writes_and_a_missing_read_back_says_why() {
        let mut t = tl();
        t[0].set_read();
        let w = writes(&t, Some(0), None);
        assert_eq!((w.sent, w.acknowledged), (5, 3));
        assert_eq!((w.indeterminate_persisted, w.failed_but_persisted), (None, None));
        assert_eq!(w.rpo.status, RpoStatus::Unknown);
        assert!(w.rpo.reason.as_deref().is_some_and(|r| r.contains("did not run")), "{:?}", w.rpo);
        let failed = writes(&t, Some(0), Some(&Verification::Failed("bulk read: 503".into())));
        assert_eq!(failed.rpo.reason.as_deref(), Some("bulk read: 503"));
        assert!(failed.lost_seqs.is_empty());
    }
}
