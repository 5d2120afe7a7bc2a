//! Outage windows (maximal runs of failed requests by intended time), the longest gap between two successful
//! responses, and failure counts by kind.

use std::borrow::Borrow;
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};

use serde::{Deserialize, Serialize};

use super::rto::ms;
use crate::timeline::{Nanos, Outcome};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Window {
    pub start_ms: f64,
    pub length_ms: f64,
    pub failed_requests: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Outages {
    pub count: usize,
    pub total_ms: f64,
    /// The windows, longest first (at most 20).
    pub windows: Vec<Window>,
    /// Longest time between two successful responses (by response time), and where it began.
    pub longest_gap_ms: f64,
    pub longest_gap_start_ms: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Counts {
    pub total: u64,
    pub succeeded: u64,
    pub failed: u64,
    /// failed / total (0 when nothing was sent).
    pub error_rate: f64,
    /// Failures by kind: `http_503`, `timeout`, `connection_refused`, `connection_reset`, `missed_send`, ...
    pub failures_by_kind: BTreeMap<String, u64>,
    pub reads: u64,
    pub writes: u64,
}

/// Totals, error rate and failures by [`crate::timeline::Failure::label`]; missed sends are failures.
pub fn counts(outcomes: impl IntoIterator<Item = impl Borrow<Outcome>>) -> Counts {
    let mut c = Counts {
        total: 0,
        succeeded: 0,
        failed: 0,
        error_rate: 0.0,
        failures_by_kind: BTreeMap::new(),
        reads: 0,
        writes: 0,
    };
    for o in outcomes {
        let o = o.borrow();
        c.total += 1;
        match o.kind() {
            crate::timeline::Kind::Read => c.reads += 1,
            crate::timeline::Kind::Write => c.writes += 1,
        }
        match o.failure() {
            None => c.succeeded += 1,
            Some(f) => {
                c.failed += 1;
                *c.failures_by_kind.entry(f.label()).or_default() += 1;
            }
        }
    }
    if c.total > 0 {
        c.error_rate = c.failed as f64 / c.total as f64;
    }
    c
}

/// Outage windows over `sorted` (by intended time), over the whole load and not only after the fault: each from
/// the first failure of a run to the next success; a run still open at the end closes at `load_end`. Also the
/// longest gap between two successive successful responses, by response (`ended`) time.
pub fn outages(sorted: impl IntoIterator<Item = impl Borrow<Outcome>>, load_end: Nanos) -> Outages {
    let mut windows = Vec::new();
    let mut open: Option<(Nanos, u64)> = None;
    let mut gaps = Gaps::default();
    for o in sorted {
        let o = o.borrow();
        gaps.add(o);
        match (o.ok(), open) {
            (false, None) => open = Some((o.intended(), 1)),
            (false, Some((s, n))) => open = Some((s, n + 1)),
            (true, Some((s, n))) => {
                windows.push(Window { start_ms: ms(s), length_ms: ms(o.intended() - s), failed_requests: n });
                open = None;
            }
            (true, None) => {}
        }
    }
    if let Some((s, n)) = open {
        windows.push(Window {
            start_ms: ms(s),
            length_ms: ms(load_end.saturating_sub(s)),
            failed_requests: n,
        });
    }
    let total_ms = windows.iter().fold(0.0, |acc, w| acc + w.length_ms);
    let count = windows.len();
    windows.sort_by(|a, b| b.length_ms.total_cmp(&a.length_ms));
    windows.truncate(20);
    let (gap, at) = gaps.finish().map(|(g, a)| (ms(g), Some(ms(a)))).unwrap_or((0.0, None));
    Outages { count, total_ms, windows, longest_gap_ms: gap, longest_gap_start_ms: at }
}

/// The longest gap between successive successful answers, from outcomes in intended order. Answers come in
/// nearly that order: an answer is never before its own intended time, so once the pass reaches intended
/// time `t`, every answer at or before `t` is final and leaves the heap in order. The heap holds only the
/// answers still ahead of the pass (about the requests in flight), not every answer of the recording.
#[derive(Default)]
struct Gaps {
    ahead: BinaryHeap<Reverse<Nanos>>,
    last: Option<Nanos>,
    /// The longest gap and where it began; the latest of equally long ones.
    longest: Option<(Nanos, Nanos)>,
}

impl Gaps {
    fn add(&mut self, o: &Outcome) {
        self.settle(o.intended());
        if o.ok() {
            self.ahead.push(Reverse(o.ended()));
        }
    }

    /// Takes every answer at or before `t` off the heap, in order.
    fn settle(&mut self, t: Nanos) {
        while let Some(&Reverse(end)) = self.ahead.peek() {
            if end > t {
                break;
            }
            self.ahead.pop();
            if let Some(last) = self.last {
                if self.longest.is_none_or(|(g, _)| end - last >= g) {
                    self.longest = Some((end - last, last));
                }
            }
            self.last = Some(end);
        }
    }

    fn finish(mut self) -> Option<(Nanos, Nanos)> {
        self.settle(Nanos::MAX);
        self.longest
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::measure::rto::tests::timeline;
    use crate::timeline::{Failure, MILLI, SECOND};

    #[test]
    fn windows_and_gaps() {
        let tl = timeline(10_000, 10, |t| (2000..2500).contains(&t) || (7000..8000).contains(&t));
        let o = outages(&tl, 10_000 * MILLI);
        assert_eq!(o.count, 2);
        assert_eq!(o.total_ms, 1500.0);
        assert_eq!(o.windows[0].start_ms, 7000.0);
        assert_eq!(o.windows[0].failed_requests, 100);
        assert_eq!(o.longest_gap_ms, 1010.0);
        assert_eq!(o.longest_gap_start_ms, Some(6992.0));
    }

    #[test]
    fn an_outage_lasting_to_the_end_closes_at_load_end() {
        let tl = timeline(10_000, 10, |t| t >= 9000);
        let o = outages(&tl, 10_000 * MILLI);
        assert_eq!((o.count, o.total_ms), (1, 1000.0));
    }

    #[test]
    fn counts_by_kind() {
        let mut tl = timeline(1000, 10, |t| t < 100);
        tl[0].set_failure(Some(Failure::Timeout));
        let c = counts(&tl);
        assert_eq!((c.total, c.failed, c.succeeded), (100, 10, 90));
        assert_eq!(c.failures_by_kind["http_503"], 9);
        assert_eq!(c.failures_by_kind["timeout"], 1);
        assert!((c.error_rate - 0.1).abs() < 1e-12);
    }

    #[test]
    fn longest_gap_is_between_responses_not_sends() {
        let mut tl = timeline(1000, 100, |_| false);
        // Sent at 300 ms, answered at 900 ms: the answers at 200 and 400 ms are 200 ms apart, not 100.
        tl[3].set_ended(900 * MILLI);
        let o = outages(&tl, 1000 * MILLI);
        assert_eq!((o.count, o.total_ms), (0, 0.0));
        assert_eq!(o.longest_gap_ms, 200.0);
        assert_eq!(o.longest_gap_start_ms, Some(202.0));
        let one = outages(&tl[..1], 1000 * MILLI);
        assert_eq!((one.longest_gap_ms, one.longest_gap_start_ms), (0.0, None));
    }

    #[test]
    fn windows_list_the_longest_first_and_count_all() {
        let tl = timeline(10_000, 10, |t| t % 400 < 10 * (t / 400 % 5 + 1));
        let o = outages(&tl, 10 * SECOND);
        assert_eq!(o.count, 25);
        assert_eq!(o.windows.len(), 20);
        assert_eq!(o.windows[0].length_ms, 50.0);
        assert_eq!(o.windows[19].length_ms, 20.0);
        assert_eq!(o.total_ms, 5.0 * (10.0 + 20.0 + 30.0 + 40.0 + 50.0));
    }

    #[test]
    fn missed_sends_are_failures_and_nothing_sent_is_no_error() {
        let mut tl = timeline(100, 10, |_| false);
        tl[4].set_failure(Some(Failure::Missed));
        let c = counts(&tl);
        assert_eq!((c.failed, c.failures_by_kind["missed_send"]), (1, 1));
        assert_eq!((c.reads, c.writes), (10, 0));
        let none = counts([] as [Outcome; 0]);
        assert_eq!((none.total, none.error_rate), (0, 0.0));
        assert!(none.failures_by_kind.is_empty());
    }
}
