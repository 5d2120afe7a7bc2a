//! The latency SLO, "slow is down": with `[measure] slow`, a request that succeeded but took longer than that
//! from its intended send time is bad for availability. Availability is good requests over all requests (the SRE
//! definition; failures are bad too). Degraded windows sit beside the outage windows: the times some client
//! was waiting longer than `slow` for an answer that did come, i.e. the union of the slow requests' waits
//! (intended send to answer). Sparse slow answers among fast ones (one backend of three stalls) still make one
//! window, since each wait is at least `slow` long and they overlap; a lone slow answer is a window as long as
//! its wait.

use std::borrow::Borrow;

use serde::{Deserialize, Serialize};

use super::rto::ms;
use crate::timeline::{Nanos, Outcome};

/// How many degraded windows a report lists (the longest; count and total cover all).
const MAX_WINDOWS: usize = 20;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Slo {
    /// `[measure] slow` in ms; null when not set (then only failures are bad).
    pub slow_ms: Option<f64>,
    /// Requests that succeeded within `slow`.
    pub good: u64,
    /// Requests that succeeded but took longer than `slow`.
    pub slow: u64,
    /// good / all requests, in percent; null when nothing was sent.
    pub availability_pct: Option<f64>,
    pub degraded: Degraded,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Degraded {
    pub count: usize,
    /// The windows' lengths added up: what `degraded_max` limits.
    pub total_ms: f64,
    pub longest_ms: f64,
    /// The windows, longest first (at most 20).
    pub windows: Vec<DegradedWindow>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct DegradedWindow {
    /// The intended send time of its first slow request.
    pub start_ms: f64,
    /// To the last slow answer in it.
    pub length_ms: f64,
    pub slow_requests: u64,
}

/// Availability and degraded windows over `sorted` (by intended time). `slow: None` counts failures only and
/// finds no degraded window.
pub fn slo(sorted: impl IntoIterator<Item = impl Borrow<Outcome>>, slow: Option<Nanos>) -> Slo {
    let is_slow = |o: &Outcome| o.ok() && slow.is_some_and(|s| o.latency() > s);
    let mut spans: Vec<(Nanos, Nanos, u64)> = Vec::new();
    let (mut good, mut total) = (0, 0u64);
    for o in sorted {
        let o = o.borrow();
        total += 1;
        if !is_slow(o) {
            good += u64::from(o.ok());
            continue;
        }
        match spans.last_mut() {
            Some((_, end, n)) if o.intended() <= *end => {
                *end = (*end).max(o.ended());
                *n += 1;
            }
            _ => spans.push((o.intended(), o.ended(), 1)),
        }
    }
    let mut windows: Vec<DegradedWindow> = spans
        .iter()
        .map(|&(s, e, n)| DegradedWindow { start_ms: ms(s), length_ms: ms(e - s), slow_requests: n })
        .collect();
    let total_ms = windows.iter().fold(0.0, |acc, w| acc + w.length_ms);
    windows.sort_by(|a, b| b.length_ms.total_cmp(&a.length_ms));
    let count = windows.len();
    let longest_ms = windows.first().map_or(0.0, |w| w.length_ms);
    windows.truncate(MAX_WINDOWS);
    Slo {
        slow_ms: slow.map(ms),
        good,
        slow: spans.iter().map(|s| s.2).sum(),
        availability_pct: (total > 0).then(|| good as f64 * 100.0 / total as f64),
        degraded: Degraded { count, total_ms, longest_ms, windows },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::measure::rto::tests::timeline;
    use crate::timeline::{MILLI, SECOND};

    /// A request every 10 ms for 10 s, answered in 2 ms, but in 1 s when `slow(t_ms)` says; failing where
    /// `fail(t_ms)` says.
    fn recording(slow: impl Fn(u64) -> bool, fail: impl Fn(u64) -> bool) -> Vec<Outcome> {
        let mut tl = timeline(10_000, 10, fail);
        for o in tl.iter_mut().filter(|o| slow(o.intended() / MILLI)) {
            o.set_ended(o.intended() + SECOND);
        }
        tl
    }

    #[test]
    fn without_slow_availability_is_the_success_rate() {
        let tl = recording(|t| (3000..4000).contains(&t), |t| (5000..5100).contains(&t));
        let s = slo(&tl, None);
        assert_eq!((s.good, s.slow, s.slow_ms), (990, 0, None));
        assert_eq!(s.availability_pct, Some(99.0));
        assert_eq!(s.degraded, Degraded::default());
    }

    #[test]
    fn sparse_slow_answers_make_one_window_to_the_last_slow_answer() {
        // One backend of three stalls for 3 s: every third request takes 1 s.
        let tl = recording(|t| (3000..6000).contains(&t) && t % 30 == 0, |_| false);
        let s = slo(&tl, Some(500 * MILLI));
        assert_eq!((s.good, s.slow), (900, 100));
        assert_eq!(s.availability_pct, Some(90.0));
        assert_eq!(s.degraded.count, 1);
        let w = &s.degraded.windows[0];
        assert_eq!((w.start_ms, w.length_ms, w.slow_requests), (3000.0, 3970.0, 100));
        assert_eq!((s.degraded.total_ms, s.degraded.longest_ms), (3970.0, 3970.0));
    }

    #[test]
    fn answers_at_the_threshold_are_good_and_failures_are_not_degraded() {
        let mut tl = recording(|_| false, |t| (1000..2000).contains(&t));
        tl[500].set_ended(5500 * MILLI);
        tl[150].set_ended(2400 * MILLI);
        let s = slo(&tl, Some(500 * MILLI));
        assert_eq!((s.good, s.slow), (900, 0), "a slow failure is a failure, not a slow answer");
        assert_eq!(s.degraded.count, 0);
        assert_eq!(s.availability_pct, Some(90.0));
    }

    #[test]
    fn separate_stalls_are_separate_windows_longest_first() {
        let tl = recording(|t| t == 1000 || (5000..5500).contains(&t), |_| false);
        let s = slo(&tl, Some(500 * MILLI));
        assert_eq!(s.degraded.count, 2);
        assert_eq!(s.degraded.windows[0].start_ms, 5000.0);
        assert_eq!(s.degraded.windows[0].length_ms, 1490.0);
        assert_eq!((s.degraded.windows[1].length_ms, s.degraded.windows[1].slow_requests), (1000.0, 1));
        assert_eq!(s.degraded.total_ms, 2490.0);
        assert_eq!(s.degraded.longest_ms, 1490.0);
    }

    #[test]
    fn nothing_sent_has_no_availability() {
        let s = slo([] as [Outcome; 0], Some(MILLI));
        assert_eq!((s.availability_pct, s.slow_ms), (None, Some(1.0)));
    }
}
