//! RTO: from when the fault took effect to the intended send time of the first successful request from which
//! the success ratio stays at or above `recovery_ratio` for `stable_for`.

use std::borrow::Borrow;

use serde::{Deserialize, Serialize};

use crate::timeline::{Nanos, Outcome};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RtoStatus {
    /// Clients saw failures after the fault and recovered.
    Recovered,
    /// Clients saw no failure after the fault: RTO is 0.
    NoFailure,
    /// Clients saw failures and no stable recovery before the load ended.
    NotRecovered,
    /// No fault took effect: nothing to measure from.
    NoFault,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Rto {
    pub status: RtoStatus,
    /// `t_recovered - t_fault`; 0 for `no_failure`; null when not recovered or no fault.
    pub rto_ms: Option<f64>,
    pub t_fault_ms: Option<f64>,
    pub t_recovered_ms: Option<f64>,
    /// First failed request at or after the fault, minus `t_fault`.
    pub time_to_first_error_ms: Option<f64>,
}

pub fn ms(n: Nanos) -> f64 {
    n as f64 / 1e6
}

/// Outcomes sorted by intended send time, ties by [`Outcome::order`] (a copy; the recorder keeps completion
/// order).
pub fn by_intended(outcomes: &[Outcome]) -> Vec<Outcome> {
    let mut v = outcomes.to_vec();
    v.sort_by_key(Outcome::order);
    v
}

/// The outcomes in [`Outcome::order`], borrowed when they already are.
pub fn sorted_by_intended(outcomes: &[Outcome]) -> std::borrow::Cow<'_, [Outcome]> {
    if outcomes.windows(2).all(|w| w[0].order() <= w[1].order()) {
        std::borrow::Cow::Borrowed(outcomes)
    } else {
        std::borrow::Cow::Owned(by_intended(outcomes))
    }
}

/// Where recovery happened, in drill time: what [`Rto`] reports in milliseconds, kept exact for the figures
/// split at the recovery point (latency phases).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recovery {
    pub status: RtoStatus,
    pub t_fault: Option<Nanos>,
    /// The start of the first stable window after the first failure; `t_fault` itself for `no_failure`.
    pub t_recovered: Option<Nanos>,
    /// Intended send time of the first failed request at or after `t_fault`.
    pub first_error: Option<Nanos>,
}

impl Recovery {
    pub fn to_rto(&self) -> Rto {
        let since_fault = |t: Nanos| self.t_fault.map(|tf| ms(t.saturating_sub(tf)));
        Rto {
            status: self.status,
            rto_ms: match self.status {
                RtoStatus::NoFailure => Some(0.0),
                RtoStatus::Recovered => self.t_recovered.and_then(since_fault),
                RtoStatus::NotRecovered | RtoStatus::NoFault => None,
            },
            t_fault_ms: self.t_fault.map(ms),
            t_recovered_ms: self.t_recovered.map(ms),
            time_to_first_error_ms: self.first_error.and_then(since_fault),
        }
    }
}

/// The recovery point of `sorted` (by intended time) for a fault at `t_fault`.
///
/// Candidates are the successful requests intended after the first failure at or after `t_fault`, in order (a
/// quiet spell between the fault and the first failure is not a recovery: the trouble had not started); the
/// first whose window
/// `[s, s + stable_for)` lies inside the load and holds at least `ratio` successes wins. Two pointers over the
/// window bounds make it O(n): three cursors over one pass of `sorted` (candidate, window start, window end),
/// so a spilled recording is read, never held. The window's left edge is a time, not an index: requests
/// intended at the same instant as the candidate but sorted before it are in its window.
pub fn recovery<I>(
    sorted: I,
    t_fault: Option<Nanos>,
    load_end: Nanos,
    ratio: f64,
    stable_for: Nanos,
) -> Recovery
where
    I: IntoIterator<IntoIter: Clone>,
    I::Item: Borrow<Outcome>,
{
    let Some(tf) = t_fault else {
        return Recovery { status: RtoStatus::NoFault, t_fault: None, t_recovered: None, first_error: None };
    };
    let after = super::pass(sorted).skip_while(|o| o.intended() < tf).skip_while(|o| o.ok());
    let first_error = after.clone().next().map(|o| o.intended());
    let mut r = Recovery { status: RtoStatus::NoFailure, t_fault, t_recovered: Some(tf), first_error };
    if first_error.is_none() {
        return r;
    }
    r.status = RtoStatus::NotRecovered;
    r.t_recovered = None;
    // stable_for = 0 would give empty windows; one nanosecond holds just the candidate.
    let stable_for = stable_for.max(1);
    let (mut lo, mut hi) = (after.clone().peekable(), after.clone().peekable());
    let (mut in_window, mut good) = (0u64, 0u64);
    for s in after.filter(|o| o.ok()) {
        let end = s.intended().saturating_add(stable_for);
        if end > load_end {
            break;
        }
        while let Some(o) = hi.next_if(|o| o.intended() < end) {
            good += u64::from(o.ok());
            in_window += 1;
        }
        while let Some(o) = lo.next_if(|o| o.intended() < s.intended()) {
            good -= u64::from(o.ok());
            in_window -= 1;
        }
        let total = in_window as f64;
        if good as f64 >= ratio * total - 1e-9 * total {
            r.status = RtoStatus::Recovered;
            r.t_recovered = Some(s.intended());
            return r;
        }
    }
    r
}

/// The RTO of `sorted` (by intended time) for a fault at `t_fault`: [`recovery`] in milliseconds.
pub fn rto<I>(sorted: I, t_fault: Option<Nanos>, load_end: Nanos, ratio: f64, stable_for: Nanos) -> Rto
where
    I: IntoIterator<IntoIter: Clone>,
    I::Item: Borrow<Outcome>,
{
    recovery(sorted, t_fault, load_end, ratio, stable_for).to_rto()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::timeline::{Failure, Kind, MILLI, SECOND};

    /// One request every `step` ms from 0 to `end_ms`, failing where `fail(t_ms)` says.
    pub fn timeline(end_ms: u64, step: u64, fail: impl Fn(u64) -> bool) -> Vec<Outcome> {
        (0..end_ms)
            .step_by(step as usize)
            .map(|t| {
                Outcome::new(
                    t * MILLI,
                    t * MILLI,
                    t * MILLI + 2 * MILLI,
                    if t % 2 == 0 { Kind::Read } else { Kind::Write },
                    fail(t).then_some(Failure::Status(503)),
                    0,
                )
            })
            .collect()
    }

    #[test]
    fn outage_of_two_seconds_gives_rto_of_two_seconds() {
        let tl = timeline(20_000, 10, |t| (5000..7000).contains(&t));
        let r = rto(&tl, Some(5000 * MILLI), 20 * SECOND, 1.0, 3 * SECOND);
        assert_eq!(r.status, RtoStatus::Recovered);
        assert_eq!(r.rto_ms, Some(2000.0));
        assert_eq!(r.time_to_first_error_ms, Some(0.0));
    }

    #[test]
    fn a_blip_inside_the_stable_window_delays_recovery() {
        let tl = timeline(20_000, 10, |t| (5000..7000).contains(&t) || t == 8000);
        let r = rto(&tl, Some(5000 * MILLI), 20 * SECOND, 1.0, 3 * SECOND);
        assert_eq!(r.rto_ms, Some(3010.0), "first success after the blip at 8000 ms");
        let lenient = rto(&tl, Some(5000 * MILLI), 20 * SECOND, 0.99, 3 * SECOND);
        assert_eq!(lenient.rto_ms, Some(2000.0), "99% tolerates one failure in 300");
    }

    #[test]
    fn no_failure_is_zero_and_no_fault_is_none() {
        let tl = timeline(10_000, 10, |_| false);
        let r = rto(&tl, Some(3000 * MILLI), 10 * SECOND, 1.0, 3 * SECOND);
        assert_eq!((r.status, r.rto_ms), (RtoStatus::NoFailure, Some(0.0)));
        assert_eq!(rto(&tl, None, 10 * SECOND, 1.0, 3 * SECOND).status, RtoStatus::NoFault);
    }

    #[test]
    fn recovery_needs_a_full_stable_window_before_the_end() {
        let tl = timeline(10_000, 10, |t| (5000..8000).contains(&t));
        let r = rto(&tl, Some(5000 * MILLI), 10 * SECOND, 1.0, 3 * SECOND);
        assert_eq!(r.status, RtoStatus::NotRecovered, "only 2 s of success remain");
        assert_eq!(r.rto_ms, None);
    }

    #[test]
    fn errors_before_the_fault_do_not_count() {
        let tl = timeline(20_000, 10, |t| t < 1000 || (6000..6500).contains(&t));
        let r = rto(&tl, Some(5000 * MILLI), 20 * SECOND, 1.0, 3 * SECOND);
        assert_eq!(r.rto_ms, Some(1500.0));
        assert_eq!(r.time_to_first_error_ms, Some(1000.0));
    }

    fn at(intended_ms: u64, failure: Option<Failure>) -> Outcome {
        Outcome::new(
            intended_ms * MILLI,
            intended_ms * MILLI,
            intended_ms * MILLI + MILLI,
            Kind::Read,
            failure,
            0,
        )
    }

    #[test]
    fn a_failure_sent_at_the_same_instant_as_the_candidate_is_in_its_window() {
        let mut tl = timeline(10_000, 10, |t| (2000..3000).contains(&t));
        tl.insert(300, at(3000, Some(Failure::Reset)));
        let tl = by_intended(&tl);
        assert_eq!((tl[301].intended(), tl[300].ok(), tl[301].ok()), (3000 * MILLI, false, true));
        let r = rto(&tl, Some(2000 * MILLI), 10 * SECOND, 1.0, 3 * SECOND);
        assert_eq!(r.rto_ms, Some(1010.0), "the success at 3000 ms shares its instant with a failure");
    }

    #[test]
    fn missed_sends_are_failures() {
        let mut tl = timeline(10_000, 10, |_| false);
        for o in tl.iter_mut().filter(|o| (4000..4500).contains(&(o.intended() / MILLI))) {
            o.set_failure(Some(Failure::Missed));
            o.set_ended(o.started());
        }
        let r = rto(&tl, Some(4000 * MILLI), 10 * SECOND, 1.0, 3 * SECOND);
        assert_eq!((r.status, r.rto_ms), (RtoStatus::Recovered, Some(500.0)));
    }

    #[test]
    fn a_window_ending_exactly_at_the_end_of_the_load_counts() {
        let tl = timeline(10_000, 10, |t| (5000..7000).contains(&t));
        let r = recovery(&tl, Some(5000 * MILLI), 10 * SECOND, 1.0, 3 * SECOND);
        assert_eq!((r.status, r.t_recovered), (RtoStatus::Recovered, Some(7000 * MILLI)));
        let short = recovery(&tl, Some(5000 * MILLI), 10 * SECOND - 1, 1.0, 3 * SECOND);
        assert_eq!((short.status, short.t_recovered), (RtoStatus::NotRecovered, None));
        assert_eq!(short.first_error, Some(5000 * MILLI));
    }

    #[test]
    fn the_recovery_point_is_a_success_at_or_after_the_fault() {
        let tl = vec![at(0, None), at(10, Some(Failure::Timeout)), at(20, None), at(30, None)];
        let r = rto(&tl, Some(5 * MILLI), 40 * MILLI, 0.5, 20 * MILLI);
        assert_eq!(r.t_recovered_ms, Some(20.0), "the success at 0 ms is before the fault");
        assert_eq!((r.rto_ms, r.time_to_first_error_ms), (Some(15.0), Some(5.0)));
        let instant = rto(&tl, Some(5 * MILLI), 40 * MILLI, 1.0, 0);
        assert_eq!(instant.rto_ms, Some(15.0), "stable_for = 0 accepts the first success");
    }

    #[test]
    fn ratio_counts_successes_over_all_requests_in_the_window() {
        // After the outage every fourth request fails: 75% success.
        let tl = timeline(20_000, 10, |t| (5000..6000).contains(&t) || (t >= 6000 && t % 40 == 0));
        assert_eq!(rto(&tl, Some(5000 * MILLI), 20 * SECOND, 0.75, 3 * SECOND).rto_ms, Some(1010.0));
        assert_eq!(
            rto(&tl, Some(5000 * MILLI), 20 * SECOND, 0.76, 3 * SECOND).status,
            RtoStatus::NotRecovered
        );
    }

    #[test]
    fn a_quiet_spell_before_the_first_failure_is_not_a_recovery() {
        // The fault takes effect at 2 s; clients are fine for 4 s (a degradation that builds up), then fail
        // for 1 s. Recovery is from that failure, not the 3 s of success right after the fault.
        let tl = timeline(20_000, 10, |t| (6000..7000).contains(&t));
        let r = recovery(&tl, Some(2000 * MILLI), 20 * SECOND, 1.0, 3 * SECOND);
        assert_eq!((r.status, r.t_recovered), (RtoStatus::Recovered, Some(7000 * MILLI)));
        assert_eq!(r.first_error, Some(6000 * MILLI));
        assert_eq!(r.to_rto().rto_ms, Some(5000.0));
    }

    #[test]
    fn a_million_requests_with_flapping_recovery() {
        // 100k req/s for 10 s; one failure every 100 ms until 6 s. A window scan per candidate would take ~1e11
        // steps here.
        let tl: Vec<Outcome> = (0..1_000_000u64)
            .map(|i| {
                Outcome::new(
                    i * 10_000,
                    i * 10_000,
                    i * 10_000 + MILLI,
                    Kind::Read,
                    (i % 10_000 == 0 && i < 600_000).then_some(Failure::Reset),
                    0,
                )
            })
            .collect();
        let r = recovery(&tl, Some(0), 10 * SECOND, 1.0, 3 * SECOND);
        assert_eq!(r.t_recovered, Some(5_900_000_000 + 10_000));
    }
}
