//! The HTML report: one self-contained page (inline CSS and SVG, no script, no external asset) with the
//! verdict, the RTO/RPO table, the charts of the clients' view second by second (`charts`), and the tables
//! of the Markdown report. It lays out the rows of [`View`]; like every view it computes no number.

mod charts;

use std::fmt::Write;

use super::model::{Report, Verdict};
use super::view::{Cell, Row, View};

/// Escapes text for HTML element content and attribute values.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if (c as u32) < 0x20 && c != '\n' && c != '\t' => {}
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:1000px;color:#222;padding:0 1em}\
h1{font-size:1.5em}h2{font-size:1.15em;margin-top:2em;border-bottom:1px solid #ddd}\
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ddd;padding:.25em .6em;text-align:left;vertical-align:top}\
th{background:#f5f5f5}.passed{color:#1a7f37}.failed,.aborted{color:#cf222e}.badge{padding:.1em .5em;border-radius:4px;color:#fff}\
.b-passed{background:#1a7f37}.b-failed,.b-aborted{background:#cf222e}svg{background:#fcfcfc;border:1px solid #eee}\
.legend span{margin-right:1.2em}.sw{display:inline-block;width:.9em;height:.9em;vertical-align:-.1em;margin-right:.3em}\
small{color:#666}";

/// A table of rows under their column headers.
fn table<R: Row>(s: &mut String, rows: &[R]) {
    s.push_str("<table><tr>");
    for h in R::HEADER {
        let _ = write!(s, "<th>{}</th>", esc(h));
    }
    s.push_str("</tr>");
    for r in rows {
        s.push_str("<tr>");
        for c in r.cells() {
            let _ = match c {
                Cell::Text(t) => write!(s, "<td>{}</td>", esc(t)),
                Cell::Strong(t) => write!(s, "<td><b>{}</b></td>", esc(t)),
                Cell::Mark(true) => write!(s, "<td class=\"passed\">✔</td>"),
                Cell::Mark(false) => write!(s, "<td class=\"failed\">✘</td>"),
            };
        }
        s.push_str("</tr>");
    }
    s.push_str("</table>");
}

fn verdict_class(v: Verdict) -> &'static str {
    match v {
        Verdict::Passed => "passed",
        Verdict::Failed => "failed",
        Verdict::Aborted => "aborted",
    }
}

pub fn render(r: &Report) -> String {
    let v = View::of(r);
    let mut s = String::with_capacity(64 * 1024);
    let _ = write!(
        s,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title><style>{STYLE}</style></head><body>",
        esc(&v.title)
    );
    let _ = write!(
        s,
        r#"<h1>{} <span class="badge b-{}">{}</span></h1>"#,
        esc(&v.name),
        verdict_class(v.verdict),
        super::view::verdict_word(v.verdict)
    );
    if !v.description.is_empty() {
        let _ = write!(s, "<p>{}</p>", esc(&v.description));
    }
    if let Some((what, meaning)) = &v.aborted {
        let _ = write!(s, "<p class=\"aborted\"><b>{}</b> {meaning}</p>", esc(what));
    }
    if let Some(rep) = &v.repeat {
        let _ = write!(
            s,
            "<h2>Cycles</h2><p>{} Cycle K alone: <code>{}</code>.</p>",
            esc(&rep.intro),
            esc(&rep.replay)
        );
        charts::strip_plots(&mut s, r);
        table(&mut s, &rep.distributions);
        table(&mut s, &rep.cycles);
        s.push_str("<p>The sections below are those of the last cycle.</p>");
    }
    table(&mut s, &v.summary);
    if !v.expectations.is_empty() {
        s.push_str("<h2>Expectations</h2>");
        table(&mut s, &v.expectations);
    }
    s.push_str("<h2>What the clients saw, second by second</h2>");
    charts::clients(&mut s, r);
    if !v.breakdown.is_empty() {
        s.push_str("<h2>RTO breakdown</h2>");
        charts::breakdown_chart(&mut s, r);
        table(&mut s, &v.breakdown);
    }
    if let Some(lag) = &v.replication_lag {
        let _ = write!(s, "<p>Replication lag just before the fault: {}.</p>", esc(lag));
    }
    s.push_str("<h2>Latency (from the intended send time)</h2>");
    table(&mut s, &v.latency);
    if let Some(kinds) = &v.failures_by_kind {
        let _ = write!(s, "<p>Failures by kind: {}.</p>", esc(kinds));
    }
    s.push_str("<h2>Faults and steps</h2>");
    table(&mut s, &v.actions);
    if !r.replacements.is_empty() {
        s.push_str("<h3>Instances replaced</h3>");
        let rows: Vec<_> = r.replacements.iter().map(super::replacements::ReplacementRow::of).collect();
        table(&mut s, &rows);
    }
    if !v.stack_events.is_empty() {
        s.push_str("<h2>What the stack reported</h2>");
        let _ = write!(s, "<p>Observers: {}.</p>", esc(&v.observers));
        table(&mut s, &v.stack_events);
    }
    let f = &v.footer;
    let _ = writeln!(
        s,
        "<p><small>hadrill {} · stack <code>{}</code> · project <code>{}</code> · started {}{} · RTO and RPO as defined in docs/measurement.md</small></p></body></html>",
        esc(&f.version),
        esc(&f.stack),
        esc(&f.project),
        esc(&f.started_at),
        f.usage
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixture::report;

    #[test]
    fn one_page_with_charts_tables_and_nothing_unescaped() {
        let html = render(&report());
        assert!(html.starts_with("<!DOCTYPE html>") && html.trim_end().ends_with("</html>"));
        assert!(!html.contains("<script"), "the description is escaped");
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; co"));
        assert!(html.contains("kill &lt;app2&gt;"));
        assert_eq!(html.matches("<svg").count(), 3, "throughput, latency, breakdown");
        assert_eq!(html.matches("</svg>").count(), 3);
        assert!(html.contains("<td><b>RTO</b></td><td>2.00 s</td>"), "the RTO is shown");
        assert!(html.contains("b-failed"), "the verdict badge");
        assert!(html.contains("<td class=\"failed\">✘</td><td>rto_max</td>"), "the failed expectation");
        assert!(html.contains("stroke-dasharray"), "the revert is drawn");
        assert!(html.contains("haproxy lb:8404"));
        assert!(html.contains("5.500 s: haproxy app2: DOWN"), "the stack event is marked on the chart");
    }

    #[test]
    fn an_aborted_drill_says_so_and_shows_the_replication_lag() {
        let mut r = report();
        r.verdict = Verdict::Aborted;
        r.aborted = Some("interrupted <ctrl-c>".into());
        r.replication_lag_before_fault.push(crate::observe::postgres::LagSample {
            at_ms: 4000.0,
            node: "pg1".into(),
            standby: "pg2".into(),
            sync_state: "async".into(),
            replay_lag_bytes: 120,
        });
        let html = render(&r);
        assert!(html.contains("<b>The drill was aborted (interrupted &lt;ctrl-c&gt;).</b>"), "{html}");
        assert!(html.contains("b-aborted"));
        assert!(html.contains("pg1 → pg2 (async): 120 bytes behind"));
    }

    #[test]
    fn a_repeated_drill_draws_each_figure_as_a_strip_of_its_cycles_with_the_limit() {
        let r = crate::report::fixture::repeated();
        let html = render(&r);
        let strips = r
            .repeat
            .as_ref()
            .unwrap()
            .distributions
            .iter()
            .filter(|d| d.values.iter().any(Option::is_some))
            .count();
        assert_eq!(
            html.matches("<svg").count(),
            3 + strips,
            "the single drill's charts, then one strip per figure"
        );
        assert!(html.contains("<title>cycle 3: 9.00 s</title>"), "every cycle is a dot");
        assert!(html.contains("<title>limit 10.0 s</title>"), "the RTO limit is drawn");
        assert!(html.contains("--seed 7 --cycle K"), "how to replay a cycle");
        assert!(html.contains("<td>rto_p90_max</td>"));
        assert_eq!(render(&report()).matches("Cycles").count(), 0, "a single drill has no cycles section");
    }

    #[test]
    fn a_report_without_fault_has_no_breakdown_chart() {
        let mut r = report();
        r.measurement.breakdown.clear();
        r.actions.clear();
        r.t_fault_ms = None;
        assert_eq!(render(&r).matches("<svg").count(), 2);
    }
}
