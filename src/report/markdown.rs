//! The Markdown report: what a person reads in a pull request. Verdict first, then the RTO/RPO table, the
//! expectations, the RTO breakdown, latency, the faults and steps, what the stack reported, and a per-second
//! timeline around the fault. It lays out the rows of [`View`]; like every view it computes no number.

use std::fmt::Write;

use super::model::Report;
use super::view::{rpo_text, rto_text, verdict_word, Cell, Row, SecondRow, View};

/// Stack events shown; the rest are in report.json.
const STACK_EVENTS_SHOWN: usize = 60;

/// The few lines printed at the end of `hadrill run`.
pub fn console_verdict(r: &Report) -> String {
    let mut s = match &r.repeat {
        Some(_) => {
            format!("{} {}: {}", verdict_word(r.verdict), r.scenario.name, super::cycles::running_line(r))
        }
        None => format!(
            "{} {}: RTO {}, RPO {}",
            verdict_word(r.verdict),
            r.scenario.name,
            rto_text(r),
            rpo_text(r)
        ),
    };
    for e in r.expectations.iter().filter(|e| !e.passed) {
        let _ = write!(s, "\n  failed: {} {} (actual {}) {}", e.name, e.limit, e.actual, e.detail);
    }
    s
}

/// A table cell's text: a `|` would end the cell and a newline the row.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

/// A table of rows under their column headers.
fn table<R: Row>(s: &mut String, rows: &[R]) {
    for h in R::HEADER {
        let _ = if h.is_empty() { write!(s, "| ") } else { write!(s, "| {h} ") };
    }
    let _ = writeln!(s, "|\n{}|", "|---".repeat(R::HEADER.len()));
    for r in rows {
        for c in r.cells() {
            let _ = match c {
                Cell::Text(t) => write!(s, "| {} ", cell(t)),
                Cell::Strong(t) => write!(s, "| **{}** ", cell(t)),
                Cell::Mark(passed) => write!(s, "| {} ", if passed { "✅" } else { "❌" }),
            };
        }
        s.push_str("|\n");
    }
}

/// The per-second table with a bar of successes (█) and failures (░) scaled to the busiest second.
fn timeline(s: &mut String, rows: &[SecondRow], peak: u64) {
    let _ = writeln!(s, "| second | ok | failed | p99 | |\n|---|---|---|---|---|");
    let width = 20;
    for b in rows {
        let ok = (b.succeeded * width / peak) as usize;
        let bad = (b.failed * width / peak) as usize + usize::from(b.failed > 0 && b.failed * width < peak);
        let mark = if b.fault { " ← fault" } else { "" };
        let (ok_bar, bad_bar) = ("█".repeat(ok), "░".repeat(bad));
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | `{ok_bar}{bad_bar}`{mark} |",
            b.second, b.succeeded, b.failed, b.p99
        );
    }
}

pub fn render(r: &Report) -> String {
    let v = View::of(r);
    let mut s = String::new();
    let _ = writeln!(s, "# {}\n", v.title);
    if !v.description.is_empty() {
        let _ = writeln!(s, "{}\n", v.description);
    }
    if let Some((what, meaning)) = &v.aborted {
        let _ = writeln!(s, "**{what}** {meaning}\n");
    }
    if let Some(rep) = &v.repeat {
        let _ = writeln!(s, "## Cycles\n\n{} Cycle K alone: `{}`.\n", rep.intro, rep.replay);
        table(&mut s, &rep.distributions);
        s.push('\n');
        table(&mut s, &rep.cycles);
        s.push_str("\nThe sections below are those of the last cycle.\n\n");
    }
    table(&mut s, &v.summary);
    s.push('\n');
    if !v.expectations.is_empty() {
        s.push_str("## Expectations\n\n");
        table(&mut s, &v.expectations);
        s.push('\n');
    }
    if !v.breakdown.is_empty() {
        s.push_str("## RTO breakdown\n\n");
        table(&mut s, &v.breakdown);
        s.push('\n');
    }
    if let Some(lag) = &v.replication_lag {
        let _ = writeln!(s, "Replication lag just before the fault: {lag}.\n");
    }
    s.push_str("## Latency (from the intended send time)\n\n");
    table(&mut s, &v.latency);
    if let Some(kinds) = &v.failures_by_kind {
        let _ = writeln!(s, "\nFailures by kind: {kinds}.");
    }
    s.push_str("\n## Events\n\n");
    table(&mut s, &v.actions);
    if !r.replacements.is_empty() {
        s.push_str("\n### Instances replaced\n\n");
        let rows: Vec<_> = r.replacements.iter().map(super::replacements::ReplacementRow::of).collect();
        table(&mut s, &rows);
    }
    if !v.stack_events.is_empty() {
        let _ = writeln!(s, "\n## What the stack reported\n\nObservers: {}.\n", v.observers);
        table(&mut s, &v.stack_events[..v.stack_events.len().min(STACK_EVENTS_SHOWN)]);
        if let Some(more) = v.stack_events.len().checked_sub(STACK_EVENTS_SHOWN).filter(|n| *n > 0) {
            let _ = writeln!(s, "\n({more} more in report.json)");
        }
    }
    s.push_str("\n## Timeline (per second, around the fault)\n\n");
    timeline(&mut s, &v.timeline, v.timeline_peak);
    let f = &v.footer;
    let _ = writeln!(
        s,
        "\n<sub>hadrill {} · stack `{}` · project `{}` · started {}{} · RTO definition: docs/measurement.md</sub>",
        f.version, f.stack, f.project, f.started_at, f.usage
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixture::report;

    /// The Markdown report is a contract people read in pull requests: a change to it shows up as a change to
    /// the committed snapshot. `UPDATE_SNAPSHOTS=1 cargo test` rewrites it.
    #[test]
    fn matches_the_committed_snapshot() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/report/snapshots/report.md");
        let rendered = render(&report());
        if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &rendered).unwrap();
        }
        let committed = std::fs::read_to_string(&path).expect("src/report/snapshots/report.md is committed");
        assert_eq!(
            rendered, committed,
            "the Markdown report changed: review, then UPDATE_SNAPSHOTS=1 cargo test"
        );
    }

    #[test]
    fn a_repeated_drill_has_its_distributions_and_one_row_per_cycle() {
        let md = render(&crate::report::fixture::repeated());
        assert!(md.contains("## Cycles\n\n3 of 3 cycles, each on a fresh stack; run seed 7."), "{md}");
        assert!(md.contains("| RTO | 3 | 2.00 s | 3.00 s | 9.00 s | 9.00 s | 10.0 s |"), "{md}");
        assert!(md.contains("| ✅ | 3 | PASSED | 9.00 s | 0 | 0 | 10.00% | 2.0 ms | 9 | cycle-3 |"), "{md}");
        assert!(md.contains("| ❌ | rto_p90_max | <= 5.00s | 9.00s |"), "{md}");
        let v = console_verdict(&crate::report::fixture::repeated());
        assert!(
            v.starts_with("FAILED kill <app2>: after 3 of 3 cycles: RTO 2.00 s / 3.00 s / 9.00 s / 9.00 s"),
            "{v}"
        );
        assert!(v.contains("failed: rto_p90_max"), "{v}");
    }

    #[test]
    fn the_console_verdict_names_what_failed() {
        let v = console_verdict(&report());
        assert!(v.starts_with("FAILED kill <app2>: RTO 2.00 s, RPO 0 (0 acknowledged writes lost)"), "{v}");
        assert!(v.contains("failed: rto_max"), "{v}");
    }

    #[test]
    fn cells_cannot_break_the_table_and_long_event_lists_are_cut() {
        let mut r = report();
        r.expectations[0].detail = "a | b\nc".into();
        let event = r.stack_events[0].clone();
        r.stack_events = (0..61)
            .map(|i| crate::report::model::StackEventView { at_ms: 6000.0 + f64::from(i), ..event.clone() })
            .collect();
        let md = render(&r);
        assert!(md.contains("| a \\| b c |"), "{md}");
        assert_eq!(md.matches("| haproxy | app2 | DOWN | detection |").count(), 60);
        assert!(md.contains("\n(1 more in report.json)\n"));
    }
}
