//! Latency percentiles (from the intended send time) for the phases before, during and after the outage, and
//! a per-second view of the whole load.

use std::borrow::Borrow;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::timeline::{Failure, Nanos, Outcome, SECOND};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Percentiles {
    pub count: u64,
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    pub max_ms: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct LatencyPhases {
    pub overall: Percentiles,
    /// Intended before the fault (everything when there is none).
    pub before: Percentiles,
    /// From the fault to recovery (to the end when not recovered).
    pub during: Percentiles,
    /// From recovery on.
    pub after: Percentiles,
}

impl LatencyPhases {
    /// The phases with the names the reports give them, in the order they show them.
    pub fn named(&self) -> [(&'static str, &Percentiles); 4] {
        [
            ("before the fault", &self.before),
            ("fault to recovery", &self.during),
            ("after recovery", &self.after),
            ("overall", &self.overall),
        ]
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SecondBucket {
    pub second: u64,
    pub succeeded: u64,
    pub failed: u64,
    pub p99_ms: Option<f64>,
}

/// Microseconds, 3 significant digits, up to an hour (longer latencies are recorded as an hour).
fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, HOUR_US, 3).expect("histogram bounds")
}

const HOUR_US: u64 = 3_600_000_000;

/// Successes and failures alike: a timeout's latency is the wait the client saw. A missed send has none.
fn record(h: &mut Histogram<u64>, o: &Outcome) {
    if o.failure() != Some(Failure::Missed) {
        h.saturating_record((o.latency() / 1000).clamp(1, HOUR_US));
    }
}

fn summarize(h: &Histogram<u64>) -> Percentiles {
    let n = h.len();
    let q = |p: f64| (n > 0).then(|| h.value_at_quantile(p) as f64 / 1000.0);
    Percentiles {
        count: n,
        p50_ms: q(0.5),
        p99_ms: q(0.99),
        max_ms: (n > 0).then(|| h.max() as f64 / 1000.0),
    }
}

/// Percentiles overall and per phase by intended time: before `t_fault`, from `t_fault` to `t_recovered`, from
/// `t_recovered` on. Everything is before when there is no fault; during runs to the end when not recovered.
pub fn phases(
    outcomes: impl IntoIterator<Item = impl Borrow<Outcome>>,
    t_fault: Option<Nanos>,
    t_recovered: Option<Nanos>,
) -> LatencyPhases {
    let (mut all, mut before, mut during, mut after) = (histogram(), histogram(), histogram(), histogram());
    for o in outcomes {
        let o = o.borrow();
        record(&mut all, o);
        match (t_fault, t_recovered) {
            (None, _) => record(&mut before, o),
            (Some(f), _) if o.intended() < f => record(&mut before, o),
            (Some(_), Some(r)) if o.intended() >= r => record(&mut after, o),
            (Some(_), _) => record(&mut during, o),
        }
    }
    LatencyPhases {
        overall: summarize(&all),
        before: summarize(&before),
        during: summarize(&during),
        after: summarize(&after),
    }
}

/// One bucket per second of intended time, from second 0 to the one holding `load_end` (a partial last second
/// gets a bucket); requests intended at or after that are left out. `p99_ms` is null for a second without latency.
/// `sorted` is in intended order.
pub fn per_second(
    sorted: impl IntoIterator<Item = impl Borrow<Outcome>>,
    load_end: Nanos,
) -> Vec<SecondBucket> {
    // One histogram, reset at each second, over the outcomes in intended order: a histogram per second
    // would cost ~190 KB each (a 10-minute drill: over 100 MB).
    let seconds = load_end.div_ceil(SECOND) as usize;
    let mut buckets: Vec<SecondBucket> = (0..seconds)
        .map(|s| SecondBucket { second: s as u64, succeeded: 0, failed: 0, p99_ms: None })
        .collect();
    let mut h = histogram();
    let mut current: Option<usize> = None;
    for o in sorted {
        let o = o.borrow();
        let s = (o.intended() / SECOND) as usize;
        if s >= seconds {
            break;
        }
        if current != Some(s) {
            if let Some(c) = current {
                buckets[c].p99_ms = summarize(&h).p99_ms;
            }
            h.reset();
            current = Some(s);
        }
        let b = &mut buckets[s];
        if o.ok() {
            b.succeeded += 1;
        } else {
            b.failed += 1;
        }
        record(&mut h, o);
    }
    if let Some(c) = current {
        buckets[c].p99_ms = summarize(&h).p99_ms;
    }
    buckets
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::measure::rto::tests::timeline;
    use crate::timeline::MILLI;

    #[test]
    fn phases_split_at_fault_and_recovery() {
        let mut tl = timeline(9000, 10, |_| false);
        for o in tl.iter_mut().filter(|o| (3000..6000).contains(&(o.intended() / MILLI))) {
            o.set_ended(o.intended() + 500 * MILLI);
        }
        let p = phases(&tl, Some(3000 * MILLI), Some(6000 * MILLI));
        assert_eq!((p.before.count, p.during.count, p.after.count), (300, 300, 300));
        assert!((p.before.p99_ms.unwrap() - 2.0).abs() < 0.01);
        assert!((p.during.p50_ms.unwrap() - 500.0).abs() < 1.0);
        assert_eq!(p.overall.count, 900);
        let none = phases(&tl, None, None);
        assert_eq!((none.before.count, none.during.count), (900, 0));
        assert_eq!(none.during.p99_ms, None);
    }

    #[test]
    fn buckets_per_second() {
        let tl = timeline(3000, 10, |t| (1000..1500).contains(&t));
        let b = per_second(&tl, 3000 * MILLI);
        assert_eq!(b.len(), 3);
        assert_eq!((b[1].succeeded, b[1].failed), (50, 50));
        assert_eq!((b[2].succeeded, b[2].failed), (100, 0));
    }

    #[test]
    fn failures_have_latency_and_missed_sends_do_not() {
        let mut tl = timeline(1000, 10, |t| t >= 500);
        for o in tl.iter_mut().filter(|o| !o.ok()) {
            o.set_ended(o.intended() + 1000 * MILLI);
        }
        for o in tl.iter_mut().skip(90) {
            o.set_failure(Some(Failure::Missed));
            o.set_ended(o.started());
        }
        let p = phases(&tl, Some(500 * MILLI), None);
        assert_eq!((p.before.count, p.during.count, p.after.count), (50, 40, 0));
        assert!((p.during.p50_ms.unwrap() - 1000.0).abs() < 1.0, "timeouts count: {:?}", p.during);
        assert_eq!(p.overall.count, 90);
        assert_eq!(p.after, Percentiles { count: 0, p50_ms: None, p99_ms: None, max_ms: None });
    }

    #[test]
    fn percentiles_have_three_significant_digits() {
        let mut tl = timeline(1000, 10, |_| false);
        for (i, o) in tl.iter_mut().enumerate() {
            o.set_ended(o.intended() + (i as u64 + 1) * MILLI);
        }
        let two_hours = tl[99].intended() + 2 * 3600 * SECOND;
        tl[99].set_ended(two_hours);
        let p = phases(&tl, None, None).overall;
        assert!((p.p50_ms.unwrap() - 50.0).abs() <= 0.05, "{p:?}");
        assert!((p.p99_ms.unwrap() - 99.0).abs() <= 0.1, "{p:?}");
        assert!((p.max_ms.unwrap() - 3_600_000.0).abs() <= 3600.0, "clamped to an hour: {p:?}");
    }

    #[test]
    fn a_partial_last_second_gets_a_bucket_and_empty_seconds_have_no_p99() {
        let mut tl = timeline(2500, 10, |_| false);
        tl.retain(|o| !(1000..2000).contains(&(o.intended() / MILLI)));
        tl[0].set_failure(Some(Failure::Missed));
        let b = per_second(&tl, 2500 * MILLI);
        assert_eq!(b.len(), 3);
        assert_eq!((b[0].succeeded, b[0].failed), (99, 1));
        assert_eq!((b[1].succeeded, b[1].failed, b[1].p99_ms), (0, 0, None));
        assert_eq!((b[2].second, b[2].succeeded), (2, 50));
        assert!((b[2].p99_ms.unwrap() - 2.0).abs() < 0.01);
        assert!(per_second(&tl, 0).is_empty());
    }
}
