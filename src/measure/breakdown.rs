//! The RTO breakdown: fault, first client error, the stack noticing (LB marks a server down, Sentinel or
//! Patroni loses the master), promotion or re-route, first success, stable recovery; each with the interval
//! since the step before, in the order they happened. Client-side steps come from the requests, stack-side ones from the observers.

use serde::{Deserialize, Serialize};

use super::rto::{ms, Rto};
use crate::timeline::{Nanos, Outcome, StackEvent, StackEventKind};

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
}

fn first_stack(events: &[StackEvent], kind: StackEventKind, from: Nanos) -> Option<&StackEvent> {
    events.iter().filter(|e| e.kind == kind && e.at >= from).min_by_key(|e| e.at)
}

/// `sorted` is by intended time. Empty when no fault took effect.
pub fn breakdown(
    sorted: &[Outcome],
    t_fault: Option<Nanos>,
    rto: &Rto,
    events: &[StackEvent],
) -> Vec<BreakdownStep> {
    let Some(tf) = t_fault else { return Vec::new() };
    let first_err = sorted.iter().find(|o| o.intended() >= tf && !o.ok());
    let first_ok = first_err.and_then(|e| sorted.iter().find(|o| o.intended() > e.intended() && o.ok()));
    let detection = first_stack(events, StackEventKind::Detection, tf);
    let promotion = first_stack(events, StackEventKind::Promotion, tf);
    let describe = |e: &StackEvent| format!("{} {}: {}", e.source, e.subject, e.state);
    let recovered = rto.t_recovered_ms.filter(|_| first_err.is_some());
    let raw: Vec<(&str, Option<f64>, String)> = vec![
        ("fault", Some(ms(tf)), "the fault took effect".into()),
        (
            "first_client_error",
            first_err.map(|o| ms(o.intended())),
            first_err
                .map(|o| o.failure().map(|f| f.label()).unwrap_or_default())
                .unwrap_or_else(|| "clients saw no error".into()),
        ),
        (
            "stack_detection",
            detection.map(|e| ms(e.at)),
            detection.map(describe).unwrap_or_else(|| "not observed".into()),
        ),
        (
            "promotion_or_reroute",
            promotion.map(|e| ms(e.at)),
            promotion.map(describe).unwrap_or_else(|| "not observed".into()),
        ),
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
        ),
        (
            "stable_recovery",
            recovered,
            if recovered.is_some() { "success ratio held for stable_for".into() } else { "—".into() },
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
        .map(|(step, at, evidence)| {
            let since = match (at, prev) {
                (Some(a), Some(p)) => Some(a - p),
                _ => None,
            };
            if at.is_some() {
                prev = at;
            }
            BreakdownStep { step: step.into(), at_ms: at, since_previous_ms: since, evidence }
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
        assert_eq!(b[4].at_ms, None);
        assert_eq!(b[2].since_previous_ms, Some(2000.0), "first success measured from the first error");
        assert!(breakdown(&tl, None, &r, &[]).is_empty());
    }
}
