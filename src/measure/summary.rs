//! The top-level measurement: every figure of a report, computed once from the recording.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::latency::{self, LatencyPhases, SecondBucket};
use super::outages::{self, Counts, Outages};
use super::rpo::{self, Writes};
use super::rto::{self, Rto};
use super::slo::{self, Slo};
use crate::timeline::{Nanos, Outcome, Verification};

/// How recovery is judged: the scenario's `[measure]` section.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Params {
    /// The share of requests that must succeed for a second to count as recovered, in (0, 1].
    pub recovery_ratio: f64,
    /// How long the clients must see success before recovery counts as stable.
    pub stable_for: Duration,
    /// `slow`: a successful answer slower than this (from its intended send time) is bad for availability.
    pub slow: Option<Duration>,
}

impl Default for Params {
    fn default() -> Self {
        Params { recovery_ratio: 1.0, stable_for: Duration::from_secs(3), slow: None }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Measurement {
    pub requests: Counts,
    pub rto: Rto,
    pub outages: Outages,
    pub latency: LatencyPhases,
    pub writes: Writes,
    pub per_second: Vec<SecondBucket>,
    /// Fault to stable recovery, step by step (empty when no fault took effect).
    pub breakdown: Vec<super::breakdown::BreakdownStep>,
    /// Availability and degraded windows (`[measure] slow`); reports written before it read as empty.
    #[serde(default)]
    pub slo: Slo,
}

/// Every figure of a report from one recording. `outcomes` may be in any order (the recorder keeps completion
/// order); `t_fault` is when the first fault took effect (`None`: none did); `load_end` is the intended time the
/// load phase ended; `verification` is `None` when the read-back did not run.
pub fn measure(
    outcomes: &[Outcome],
    t_fault: Option<Nanos>,
    load_end: Nanos,
    verification: Option<&Verification>,
    stack_events: &[crate::timeline::StackEvent],
    params: &Params,
) -> Measurement {
    let sorted = rto::sorted_by_intended(outcomes);
    measure_sorted(&*sorted, t_fault, load_end, verification, stack_events, params)
}

/// [`measure`] of outcomes already in [`Outcome::order`], in passes over them: a slice, or a recording
/// spilled to a file and merged back as it is read.
pub fn measure_sorted<I>(
    sorted: I,
    t_fault: Option<Nanos>,
    load_end: Nanos,
    verification: Option<&Verification>,
    stack_events: &[crate::timeline::StackEvent],
    params: &Params,
) -> Measurement
where
    I: IntoIterator<IntoIter: Clone>,
    I::Item: std::borrow::Borrow<Outcome>,
{
    let sorted = super::pass(sorted);
    let recovery = rto::recovery(
        sorted.clone(),
        t_fault,
        load_end,
        params.recovery_ratio,
        params.stable_for.as_nanos() as Nanos,
    );
    let r = recovery.to_rto();
    Measurement {
        requests: outages::counts(sorted.clone()),
        latency: latency::phases(sorted.clone(), t_fault, recovery.t_recovered),
        outages: outages::outages(sorted.clone(), load_end),
        writes: rpo::writes(sorted.clone(), t_fault, verification),
        per_second: latency::per_second(sorted.clone(), load_end),
        breakdown: super::breakdown::breakdown(sorted.clone(), t_fault, &r, stack_events),
        slo: slo::slo(sorted, params.slow.map(|d| d.as_nanos() as Nanos)),
        rto: r,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::measure::rpo::RpoStatus;
    use crate::measure::rto::tests::timeline;
    use crate::measure::rto::RtoStatus;
    use crate::timeline::{Failure, Kind, MILLI, SECOND};

    /// The shared timeline with every odd request a write carrying its own sequence number.
    fn with_writes(fail: impl Fn(u64) -> bool) -> Vec<Outcome> {
        let mut tl = timeline(20_000, 10, fail);
        for (i, o) in tl.iter_mut().enumerate().filter(|(i, _)| i % 2 == 1) {
            o.set_write(i as u32);
        }
        tl
    }

    #[test]
    fn everything_from_one_timeline() {
        let tl = with_writes(|t| (5000..7000).contains(&t));
        let found = tl.iter().filter(|o| o.kind() == Kind::Write && o.ok()).map(|o| o.seq()).collect();
        let m = measure(
            &tl,
            Some(5000 * MILLI),
            20 * SECOND,
            Some(&Verification::Read(found)),
            &[],
            &Params::default(),
        );
        assert_eq!(m.rto.status, RtoStatus::Recovered);
        assert_eq!(m.rto.rto_ms, Some(2000.0));
        assert_eq!(m.outages.count, 1);
        assert_eq!(m.requests.failed, 200);
        assert_eq!(m.per_second.len(), 20);
        assert_eq!((m.latency.before.count, m.latency.during.count, m.latency.after.count), (500, 200, 1300));
        assert_eq!((m.writes.acknowledged, m.writes.failed, m.writes.indeterminate), (900, 100, 0));
        assert_eq!((m.writes.lost, m.writes.rpo.rpo_ms), (Some(0), Some(0.0)));
        assert_eq!(m.breakdown.len(), 6);
    }

    #[test]
    fn order_of_the_recording_does_not_matter() {
        let tl = with_writes(|t| (5000..7000).contains(&t) || t == 8000);
        let mut shuffled = tl.clone();
        shuffled.reverse();
        shuffled.swap(3, 1500);
        let v = Verification::Read(Default::default());
        let a = measure(&tl, Some(5000 * MILLI), 20 * SECOND, Some(&v), &[], &Params::default());
        let b = measure(&shuffled, Some(5000 * MILLI), 20 * SECOND, Some(&v), &[], &Params::default());
        assert_eq!(a, b);
        assert_eq!(b.rto.rto_ms, Some(3010.0));
    }

    #[test]
    fn phases_split_at_the_exact_recovery_nanosecond() {
        // 4_243_530_591 ns does not survive ns -> ms (f64) -> ns: it comes back as ...590, where the last failure
        // is. Splitting on the reported milliseconds would count that failure as after recovery.
        let t_recovered: Nanos = 4_243_530_591;
        let req = |intended: Nanos, failure: Option<Failure>| {
            Outcome::new(intended, intended, intended + 7 * MILLI, Kind::Read, failure, 0)
        };
        let mut tl = vec![req(SECOND, None), req(2 * SECOND, Some(Failure::Reset))];
        tl.push(req(t_recovered - 1, Some(Failure::Timeout)));
        tl.extend((0..5000).map(|i| req(t_recovered + i * MILLI, None)));
        let m = measure(&tl, Some(2 * SECOND), t_recovered + 5 * SECOND, None, &[], &Params::default());
        assert_eq!(m.rto.status, RtoStatus::Recovered);
        assert_eq!(m.rto.t_recovered_ms, Some(t_recovered as f64 / 1e6));
        assert_eq!((m.latency.before.count, m.latency.during.count, m.latency.after.count), (1, 2, 5000));
        assert_eq!(m.writes.rpo.status, RpoStatus::Unknown);
    }

    #[test]
    fn no_fault_puts_every_latency_before() {
        let tl = timeline(5000, 10, |t| t == 2000);
        let m = measure(&tl, None, 5 * SECOND, None, &[], &Params::default());
        assert_eq!(m.rto.status, RtoStatus::NoFault);
        assert_eq!((m.latency.before.count, m.latency.during.count, m.latency.after.count), (500, 0, 0));
        assert_eq!(m.outages.count, 1, "outages are counted over the whole load");
        assert!(m.breakdown.is_empty());
    }
}
