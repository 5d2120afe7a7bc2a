//! Per instance of a rolling restart or update: when it was replaced, when the load balancer took it out and
//! back (the HAProxy or nginx observer's server states), and the requests that failed while it was replaced
//! (those intended inside its replacement window).

use serde::{Deserialize, Serialize};

use super::view::{Cell, Row};
use crate::measure::rto::ms;
use crate::outcomes::Outcomes;
use crate::timeline::{ActionEvent, Nanos, StackEvent};

/// One replaced instance, in ms since the load started.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ReplacementView {
    /// The action it belongs to (its `index`).
    pub action: usize,
    pub instance: String,
    pub began_ms: f64,
    pub ended_ms: f64,
    /// When the old instance died.
    pub old_out_ms: Option<f64>,
    /// When the serving instance was healthy.
    pub new_healthy_ms: Option<f64>,
    /// When the load balancer first marked its server down (or draining) during or after the window.
    pub lb_left_ms: Option<f64>,
    /// When the load balancer marked it up again after that.
    pub lb_rejoined_ms: Option<f64>,
    /// Requests intended inside the window, and how many of them failed.
    pub requests: u64,
    pub failed: u64,
}

/// A server state that takes it out of the balancing.
fn is_out(state: &str) -> bool {
    ["DOWN", "MAINT", "DRAIN", "NOLB", "down"].iter().any(|s| state.starts_with(s))
}

/// The replacements of every rolling action. The load balancer's view of an instance is looked for from its
/// window's start to the next instance's start (the end of the load for the last one): a server leaves when the
/// balancer notices, which can be after hadrill's part is over.
pub fn of(
    actions: &[ActionEvent],
    stack: &[StackEvent],
    outcomes: &Outcomes,
    end: Nanos,
) -> Vec<ReplacementView> {
    let mut out = Vec::new();
    for a in actions {
        for (i, r) in a.replaced.iter().enumerate() {
            let until = a.replaced.get(i + 1).map_or(end, |n| n.began);
            let server = r.instance.split('#').next().unwrap_or(&r.instance);
            let mine = |e: &&StackEvent| {
                (e.source == "haproxy" || e.source == "nginx")
                    && e.subject.rsplit('/').next() == Some(server)
                    && (r.began..until.max(r.ended)).contains(&e.at)
            };
            let left = stack.iter().filter(mine).find(|e| is_out(&e.state)).map(|e| e.at);
            let rejoined = left
                .and_then(|l| stack.iter().filter(mine).find(|e| e.at > l && e.state == "UP").map(|e| e.at));
            let inside = outcomes
                .iter()
                .skip_while(|o| o.intended() < r.began)
                .take_while(|o| o.intended() <= r.ended);
            let (requests, failed) = inside.fold((0, 0), |(n, f), o| (n + 1, f + u64::from(!o.ok())));
            out.push(ReplacementView {
                action: a.index,
                instance: r.instance.clone(),
                began_ms: ms(r.began),
                ended_ms: ms(r.ended),
                old_out_ms: r.out.map(ms),
                new_healthy_ms: r.back.map(ms),
                lb_left_ms: left.map(ms),
                lb_rejoined_ms: rejoined.map(ms),
                requests,
                failed,
            });
        }
    }
    out
}

/// A table row: every figure as text, `—` for what did not happen.
pub struct ReplacementRow {
    cells: [String; 7],
}

impl ReplacementRow {
    pub fn of(v: &ReplacementView) -> ReplacementRow {
        let t = |x: Option<f64>| x.map_or_else(|| "—".to_string(), |x| format!("{:.3}", x / 1000.0));
        ReplacementRow {
            cells: [
                v.instance.clone(),
                format!("{:.3}–{:.3}", v.began_ms / 1000.0, v.ended_ms / 1000.0),
                t(v.old_out_ms),
                t(v.new_healthy_ms),
                t(v.lb_left_ms),
                t(v.lb_rejoined_ms),
                format!("{} of {}", v.failed, v.requests),
            ],
        }
    }
}

impl Row for ReplacementRow {
    const HEADER: &'static [&'static str] =
        &["instance", "replaced (s)", "old out", "new healthy", "LB out", "LB back", "failed"];
    fn cells(&self) -> Vec<Cell<'_>> {
        self.cells.iter().map(|c| Cell::Text(c)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timeline::{ActionRole, Failure, Kind, Outcome, Replacement, StackEventKind, SECOND};

    fn event(at: Nanos, subject: &str, state: &str) -> StackEvent {
        StackEvent {
            at,
            origin: Default::default(),
            resolution_us: 0,
            source: "haproxy".into(),
            subject: subject.into(),
            state: state.into(),
            kind: StackEventKind::Info,
        }
    }

    #[test]
    fn each_instance_gets_its_balancer_view_and_the_failures_in_its_window() {
        let replaced = vec![
            Replacement {
                instance: "app1".into(),
                began: 5 * SECOND,
                ended: 7 * SECOND,
                out: Some(6 * SECOND),
                back: Some(7 * SECOND),
            },
            Replacement {
                instance: "app2".into(),
                began: 9 * SECOND,
                ended: 11 * SECOND,
                out: None,
                back: None,
            },
        ];
        let action = ActionEvent {
            role: ActionRole::Step,
            replaced,
            ..ActionEvent::test(0, "rolling-restart", 5 * SECOND)
        };
        let stack = vec![
            event(6 * SECOND, "apps/app2", "DOWN"),
            event(6 * SECOND + SECOND / 2, "apps/app1", "DOWN"),
            event(8 * SECOND, "apps/app1", "UP"),
        ];
        // One request per 100 ms from 0 to 12 s; those intended from 6.0 s to 6.5 s failed.
        let outcomes: Vec<Outcome> = (0..120u64)
            .map(|i| {
                let t = i * SECOND / 10;
                let mut o = Outcome::new(t, t, t + 1_000_000, Kind::Read, None, 0);
                if (6 * SECOND..=6 * SECOND + SECOND / 2).contains(&t) {
                    o.set_failure(Some(Failure::Refused));
                }
                o
            })
            .collect();
        let v = of(&[action], &stack, &outcomes.into(), 12 * SECOND);
        assert_eq!(v.len(), 2);
        assert_eq!((v[0].lb_left_ms, v[0].lb_rejoined_ms), (Some(6500.0), Some(8000.0)));
        assert_eq!((v[0].requests, v[0].failed), (21, 6));
        assert_eq!(v[1].lb_left_ms, None, "app2's DOWN came before its window");
        assert_eq!((v[1].requests, v[1].failed), (21, 0));
        let row = ReplacementRow::of(&v[0]);
        assert_eq!(row.cells[6], "6 of 21");
        assert_eq!(row.cells[1], "5.000–7.000");
    }

    #[test]
    fn the_markdown_and_html_show_the_replacements_only_when_there_are_some() {
        let mut r = crate::report::fixture::report();
        assert!(!crate::report::markdown::render(&r).contains("Instances replaced"));
        r.replacements = vec![ReplacementView {
            action: 0,
            instance: "app2".into(),
            began_ms: 5000.0,
            ended_ms: 7250.0,
            old_out_ms: Some(7100.0),
            new_healthy_ms: Some(7000.0),
            lb_left_ms: None,
            lb_rejoined_ms: None,
            requests: 450,
            failed: 1,
        }];
        let md = crate::report::markdown::render(&r);
        assert!(md.contains("| app2 | 5.000–7.250 | 7.100 | 7.000 | — | — | 1 of 450 |"), "{md}");
        let html = crate::report::html::render(&r);
        assert!(html.contains("<h3>Instances replaced</h3>") && html.contains("1 of 450"));
    }
}
