//! The RTO breakdown: fault, first client error, the stack noticing (LB marks a server down, Sentinel or
//! Patroni loses the master), promotion or re-route, first success, stable recovery; each with the interval
//! since the step before, in the order they happened. Client-side steps come from the requests, stack-side ones from the observers.
//! Each step names its source and resolution: a stack step prefers what the component reported itself (its log
//! line's timestamp, a Pub/Sub message) over a poll of its state.

use std::borrow::Borrow;

use serde::{Deserialize, Serialize};

use super::rto::{ms, Rto};
use crate::timeline::{Nanos, Origin, Outcome, StackEvent, StackEventKind};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct BreakdownStep {
    /// `fault`, `first_client_error`, `stack_detection`, `promotion_or_reroute`, `first_success`, `stable_recovery`.
    pub step: String,
    /// When it happened (ms since the load started); null when it did not happen or was not observed.
    pub at_ms: Option<f64>,
    /// Time since the previous step that happened.
    pub since_previous_ms: Option<f64>,
    /// What marks it: the observer event, or the client-side fact.
    pub evidence: String,
    /// Where `at_ms` came from: `fault effect`, `requests`, or the observer and how it learned
    /// (`sentinel pub/sub`, `haproxy log`, `postgres poll`).
    #[serde(default)]
    pub source: String,
    /// How late `at_ms` can be, at most: the gap to the request before, the polling interval, the log
    /// timestamp's precision; null when it has no bound of its own.
    #[serde(default)]
    pub resolution_ms: Option<f64>,
}

/// How long before `t_fault` a stack event still counts as its consequence: the daemon stamps a `kill` event
/// after the signal is delivered, by when nginx may already have logged the refused connection (5 ms seen).
pub const EARLY: Nanos = 20 * crate::timeline::MILLI;

/// The first event of `kind` from `from` (less [`EARLY`]) on, what a component reported itself first: a poll only when no log
/// line or message says it.
fn first_stack(events: &[StackEvent], kind: StackEventKind, from: Nanos) -> Option<&StackEvent> {
    let from = from.saturating_sub(EARLY);
    events.iter().filter(|e| e.kind == kind && e.at >= from).min_by_key(|e| (e.origin == Origin::Poll, e.at))
}

/// The gap between a request's intended time and the one before it: when the change it marks happened, at
/// most.
fn gap_before(sorted: impl Iterator<Item = Outcome>, o: &Outcome) -> Option<f64> {
    let before = sorted.take_while(|x| x.intended() < o.intended()).last();
    before.map(|p| ms(o.intended() - p.intended()))
}

type Raw = (&'static str, Option<f64>, String, String, Option<f64>);

/// `sorted` is by intended time. Empty when no fault took effect.
pub fn breakdown<I>(sorted: I, t_fault: Option<Nanos>, rto: &Rto, events: &[StackEvent]) -> Vec<BreakdownStep>
where
    I: IntoIterator<IntoIter: Clone>,
    I::Item: Borrow<Outcome>,
{
    let Some(tf) = t_fault else { return Vec::new() };
    let sorted = super::pass(sorted);
    let mut rest = sorted.clone().skip_while(|o| o.intended() < tf || o.ok());
    let first_err = rest.next();
    let first_ok = first_err.and_then(|e| rest.skip_while(|o| o.intended() <= e.intended()).find(|o| o.ok()));
    let (first_err, first_ok) = (first_err.as_ref(), first_ok.as_ref());
    let detection = first_stack(events, StackEventKind::Detection, tf);
    let promotion = first_stack(events, StackEventKind::Promotion, tf);
    let describe = |e: &StackEvent| format!("{} {}: {}", e.source, e.subject, e.state);
    let stack_step = |step: &'static str, e: Option<&StackEvent>| -> Raw {
        (
            step,
            e.map(|e| ms(e.at)),
            e.map(describe).unwrap_or_else(|| "not observed".into()),
            e.map(|e| format!("{} {}", e.source, e.origin.label())).unwrap_or_else(|| "observers".into()),
            e.map(|e| f64::from(e.resolution_us) / 1000.0),
        )
    };
    let recovered = rto.t_recovered_ms.filter(|_| first_err.is_some());
    let raw: Vec<Raw> = vec![
        ("fault", Some(ms(tf)), "the fault took effect".into(), "fault effect".into(), None),
        (
            "first_client_error",
            first_err.map(|o| ms(o.intended())),
            first_err
                .map(|o| o.failure().map(|f| f.label()).unwrap_or_default())
                .unwrap_or_else(|| "clients saw no error".into()),
            "requests".into(),
            first_err.and_then(|o| gap_before(sorted.clone(), o)),
        ),
        stack_step("stack_detection", detection),
        stack_step("promotion_or_reroute", promotion),
        (
            "first_success",
            first_ok.map(|o| ms(o.intended())),
            first_ok
                .map(|o| {
                    format!(
                        "first request (by intended send time) after the first error to succeed; answered at {:.3} s",
                        ms(o.ended()) / 1000.0
                    )
                })
                .unwrap_or_else(|| "—".into()),
            "requests".into(),
            first_ok.and_then(|o| gap_before(sorted.clone(), o)),
        ),
        (
            "stable_recovery",
            recovered,
            if recovered.is_some() { "success ratio held for stable_for".into() } else { "—".into() },
            "requests".into(),
            None,
        ),
    ];
    // In the order things happened (a load balancer may mark a server down after clients already recovered
    // through the others), so no interval is negative; steps that did not happen go last.
    let mut raw = raw;
    raw.sort_by(|a, b| match (a.1, b.1) {
        (Some(x), Some(y)) => x.total_cmp(&y),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => std::cmp::Ordering::Equal,
    });
    let mut prev: Option<f64> = None;
    raw.into_iter()
        .map(|(step, at, evidence, source, resolution_ms)| {
            let since = match (at, prev) {
                (Some(a), Some(p)) => Some(a - p),
                _ => None,
            };
            if at.is_some() {
                prev = at;
            }
            BreakdownStep {
                step: step.into(),
                at_ms: at,
                since_previous_ms: since,
                evidence,
                source,
                resolution_ms,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::measure::rto::{rto, tests::timeline};
    use crate::timeline::{MILLI, SECOND};

    fn ev(at_ms: u64, kind: StackEventKind, state: &str) -> StackEvent {
        StackEvent {
            at: at_ms * MILLI,
            origin: crate::timeline::Origin::Poll,
            resolution_us: 200_000,
            source: "haproxy".into(),
            subject: "apps/app2".into(),
            state: state.into(),
            kind,
        }
    }

    #[test]
    fn steps_in_order_with_intervals() {
        let tl = timeline(20_000, 10, |t| (5000..7000).contains(&t));
        let r = rto(&tl, Some(4990 * MILLI), 20 * SECOND, 1.0, 3 * SECOND);
        let events = vec![
            ev(1000, StackEventKind::Detection, "DOWN"),
            ev(6000, StackEventKind::Detection, "DOWN"),
            ev(6500, StackEventKind::Promotion, "primary"),
        ];
        let b = breakdown(&tl, Some(4990 * MILLI), &r, &events);
        let at: Vec<Option<f64>> = b.iter().map(|s| s.at_ms).collect();
        assert_eq!(
            at,
            vec![Some(4990.0), Some(5000.0), Some(6000.0), Some(6500.0), Some(7000.0), Some(7000.0)]
        );
        assert_eq!(b[2].since_previous_ms, Some(1000.0), "detection before the fault is ignored");
        assert_eq!(b[2].evidence, "haproxy apps/app2: DOWN");
    }

    #[test]
    fn steps_are_in_the_order_they_happened_so_no_interval_is_negative() {
        let tl = timeline(20_000, 10, |t| (5000..5100).contains(&t));
        let r = rto(&tl, Some(5000 * MILLI), 20 * SECOND, 1.0, 3 * SECOND);
        let b = breakdown(&tl, Some(5000 * MILLI), &r, &[ev(6000, StackEventKind::Detection, "DOWN")]);
        let steps: Vec<&str> = b.iter().map(|s| s.step.as_str()).collect();
        assert_eq!(
            &steps[..5],
            ["fault", "first_client_error", "first_success", "stable_recovery", "stack_detection"]
        );
        assert_eq!(b[4].since_previous_ms, Some(900.0), "detection 900 ms after the recovery");
        assert!(b.iter().filter_map(|s| s.since_previous_ms).all(|d| d >= 0.0));
    }

    #[test]
    fn a_component_s_own_report_wins_over_a_poll_and_each_step_names_its_source() {
        let tl = timeline(20_000, 10, |t| (5000..7000).contains(&t));
        let r = rto(&tl, Some(5000 * MILLI), 20 * SECOND, 1.0, 3 * SECOND);
        let mut logged = ev(6010, StackEventKind::Detection, "DOWN");
        (logged.origin, logged.resolution_us) = (Origin::Log, 1);
        let polled = ev(6000, StackEventKind::Detection, "DOWN");
        let mut early = ev(4985, StackEventKind::Promotion, "leader pg2");
        early.origin = Origin::Log;
        let b = breakdown(&tl, Some(5000 * MILLI), &r, &[polled, logged, early]);
        let det = b.iter().find(|s| s.step == "stack_detection").unwrap();
        assert_eq!(
            (det.at_ms, det.source.as_str(), det.resolution_ms),
            (Some(6010.0), "haproxy log", Some(0.001))
        );
        let err = b.iter().find(|s| s.step == "first_client_error").unwrap();
        assert_eq!(
            (err.source.as_str(), err.resolution_ms),
            ("requests", Some(10.0)),
            "one request every 10 ms"
        );
        let promo = b.iter().find(|s| s.step == "promotion_or_reroute").unwrap();
        assert_eq!(promo.at_ms, Some(4985.0), "15 ms before the fault's daemon event: its consequence");
    }

    #[test]
    fn unobserved_steps_are_skipped_in_intervals() {
        let tl = timeline(20_000, 10, |t| (5000..7000).contains(&t));
        let r = rto(&tl, Some(5000 * MILLI), 20 * SECOND, 1.0, 3 * SECOND);
        let b = breakdown(&tl, Some(5000 * MILLI), &r, &[]);
        let steps: Vec<&str> = b.iter().map(|s| s.step.as_str()).collect();
        assert_eq!(
            steps,
            [
                "fault",
                "first_client_error",
                "first_success",
                "stable_recovery",
                "stack_detection",
                "promotion_or_reroute"
            ],
            "unobserved steps go last"
        );
        assert_eq!((b[4].at_ms, b[4].source.as_str(), b[4].resolution_ms), (None, "observers", None));
        assert_eq!(b[2].since_previous_ms, Some(2000.0), "first success measured from the first error");
        assert!(breakdown(&tl, None, &r, &[]).is_empty());
    }
}
