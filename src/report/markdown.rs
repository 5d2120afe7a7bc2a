//! The Markdown report: what a person reads in a pull request. Verdict first, then the RTO/RPO table, the
//! expectations, a per-second timeline around the fault, and the fault and step events.

use std::fmt::Write;

use super::model::{Report, Verdict};
use crate::measure::rpo::RpoStatus;
use crate::measure::rto::RtoStatus;

pub(super) fn opt_ms(v: Option<f64>) -> String {
    match v {
        Some(ms) if ms >= 10_000.0 => format!("{:.1} s", ms / 1000.0),
        Some(ms) if ms >= 1000.0 => format!("{:.2} s", ms / 1000.0),
        Some(0.0) => "0".into(),
        Some(ms) => format!("{ms:.1} ms"),
        None => "—".into(),
    }
}

/// The cells of an action's row that need formatting: where its effect time came from, the effect time (s),
/// and when it was reverted.
pub(super) fn action_cells(a: &super::model::ActionView) -> (String, String, String) {
    let src = a
        .effect_source
        .and_then(|e| serde_json::to_value(e).ok())
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    let eff = a.effect_ms.map(|e| format!("{:.3}", e / 1000.0)).unwrap_or_else(|| "—".into());
    let rev = a.reverted_ms.map(|t| format!("; reverted at {:.3} s", t / 1000.0)).unwrap_or_default();
    (src, eff, rev)
}

pub(super) fn verdict_word(v: Verdict) -> &'static str {
    match v {
        Verdict::Passed => "PASSED",
        Verdict::Failed => "FAILED",
        Verdict::Aborted => "ABORTED",
    }
}

/// The RTO as a phrase: `2.01 s`, `0 (no client saw a failure)`, `not recovered`, `no fault`.
pub fn rto_text(r: &Report) -> String {
    let rto = &r.measurement.rto;
    match rto.status {
        RtoStatus::Recovered => opt_ms(rto.rto_ms),
        RtoStatus::NoFailure => "0 (no client saw a failure)".into(),
        RtoStatus::NotRecovered => "not recovered before the load ended".into(),
        RtoStatus::NoFault => "— (no fault took effect)".into(),
    }
}

pub fn rpo_text(r: &Report) -> String {
    let w = &r.measurement.writes;
    match w.rpo.status {
        RpoStatus::Measured => {
            format!("{} ({} acknowledged writes lost)", opt_ms(w.rpo.rpo_ms), w.lost.unwrap_or(0))
        }
        RpoStatus::Unknown => format!("unknown: {}", w.rpo.reason.clone().unwrap_or_default()),
    }
}

/// The few lines printed at the end of `hadrill run`.
pub fn console_verdict(r: &Report) -> String {
    let mut s =
        format!("{} {}: RTO {}, RPO {}", verdict_word(r.verdict), r.scenario.name, rto_text(r), rpo_text(r));
    for e in r.expectations.iter().filter(|e| !e.passed) {
        let _ = write!(s, "\n  failed: {} {} (actual {}) {}", e.name, e.limit, e.actual, e.detail);
    }
    s
}

pub fn render(r: &Report) -> String {
    let m = &r.measurement;
    let mut s = String::new();
    let _ = writeln!(s, "# {} — {}\n", r.scenario.name, verdict_word(r.verdict));
    if !r.scenario.description.is_empty() {
        let _ = writeln!(s, "{}\n", r.scenario.description);
    }
    if let Some(a) = &r.aborted {
        let _ = writeln!(s, "**The drill was aborted ({a}).** The figures cover what ran; RPO is unknown.\n");
    }
    let _ = writeln!(s, "| | |\n|---|---|");
    let _ = writeln!(s, "| **RTO** | {} |", rto_text(r));
    let _ = writeln!(s, "| **RPO** | {} |", rpo_text(r));
    let _ = writeln!(s, "| time to first error | {} |", opt_ms(m.rto.time_to_first_error_ms));
    let _ = writeln!(
        s,
        "| outage windows | {} ({} in total) |",
        m.outages.count,
        opt_ms(Some(m.outages.total_ms))
    );
    let _ = writeln!(s, "| longest gap between successes | {} |", opt_ms(Some(m.outages.longest_gap_ms)));
    let _ = writeln!(
        s,
        "| requests | {} sent, {} failed ({:.2}%) |",
        m.requests.total,
        m.requests.failed,
        m.requests.error_rate * 100.0
    );
    let w = &m.writes;
    let opt = |v: Option<u64>| v.map(|x| x.to_string()).unwrap_or_else(|| "unknown".into());
    let _ = writeln!(
        s,
        "| writes | {} acknowledged, {} failed, {} indeterminate ({} persisted); {} failed but persisted |",
        w.acknowledged,
        w.failed,
        w.indeterminate,
        opt(w.indeterminate_persisted),
        opt(w.failed_but_persisted)
    );
    let _ = writeln!(
        s,
        "| load | {} req/s for {:.0} s, {:.0}% reads, seed {} |\n",
        r.scenario.rate_per_s,
        r.scenario.duration_ms / 1000.0,
        r.scenario.read_ratio * 100.0,
        r.run.seed
    );

    if !r.expectations.is_empty() {
        let _ = writeln!(s, "## Expectations\n\n| | expectation | limit | actual | |\n|---|---|---|---|---|");
        for e in &r.expectations {
            let mark = if e.passed { "✅" } else { "❌" };
            let _ = writeln!(s, "| {mark} | {} | {} | {} | {} |", e.name, e.limit, e.actual, e.detail);
        }
        s.push('\n');
    }

    if !m.breakdown.is_empty() {
        let _ = writeln!(
            s,
            "## RTO breakdown\n\n| step | at (s) | since previous | evidence |\n|---|---|---|---|"
        );
        for b in &m.breakdown {
            let at = b.at_ms.map(|t| format!("{:.3}", t / 1000.0)).unwrap_or_else(|| "—".into());
            let _ = writeln!(
                s,
                "| {} | {at} | {} | {} |",
                b.step.replace('_', " "),
                opt_ms(b.since_previous_ms),
                b.evidence.replace('|', "\\|")
            );
        }
        s.push('\n');
    }
    if !r.replication_lag_before_fault.is_empty() {
        let lags: Vec<String> = r
            .replication_lag_before_fault
            .iter()
            .map(|l| {
                format!("{} → {} ({}): {} bytes behind", l.node, l.standby, l.sync_state, l.replay_lag_bytes)
            })
            .collect();
        let _ = writeln!(s, "Replication lag just before the fault: {}.\n", lags.join("; "));
    }
    let _ = writeln!(s, "## Latency (from the intended send time)\n\n| phase | requests | p50 | p99 | max |\n|---|---|---|---|---|");
    for (name, p) in m.latency.named() {
        let _ = writeln!(
            s,
            "| {name} | {} | {} | {} | {} |",
            p.count,
            opt_ms(p.p50_ms),
            opt_ms(p.p99_ms),
            opt_ms(p.max_ms)
        );
    }
    if !m.requests.failures_by_kind.is_empty() {
        let kinds: Vec<String> =
            m.requests.failures_by_kind.iter().map(|(k, v)| format!("{k}: {v}")).collect();
        let _ = writeln!(s, "\nFailures by kind: {}.", kinds.join(", "));
    }

    let _ = writeln!(
        s,
        "\n## Events\n\n| t (s) | | event | effect (s) | source | detail |\n|---|---|---|---|---|---|"
    );
    for a in &r.actions {
        let mark = if a.verified { "✅" } else { "❌" };
        let (src, eff, rev) = action_cells(a);
        let _ = writeln!(
            s,
            "| {:.3} | {mark} | {:?} {} | {eff} | {src} | {}{rev} |",
            a.started_ms / 1000.0,
            a.role,
            a.summary.replace('|', "\\|"),
            a.detail.replace('|', "\\|").replace('\n', " ")
        );
    }

    let changes: Vec<_> = r
        .stack_events
        .iter()
        .filter(|e| e.kind != crate::timeline::StackEventKind::Info || e.at_ms > 0.0)
        .collect();
    if !changes.is_empty() {
        let _ = writeln!(s, "\n## What the stack reported\n\nObservers: {}.\n", r.observers.join(", "));
        let _ = writeln!(s, "| t (s) | source | subject | state | kind |\n|---|---|---|---|---|");
        for e in changes.iter().take(60) {
            let kind = serde_json::to_value(e.kind)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            let _ = writeln!(
                s,
                "| {:.3} | {} | {} | {} | {kind} |",
                e.at_ms / 1000.0,
                e.source,
                e.subject,
                e.state
            );
        }
        if changes.len() > 60 {
            let _ = writeln!(s, "\n({} more in report.json)", changes.len() - 60);
        }
    }
    let _ = writeln!(s, "\n## Timeline (per second, around the fault)\n");
    let _ = writeln!(s, "| second | ok | failed | p99 | |\n|---|---|---|---|---|");
    let fault_s = r.t_fault_ms.map(|t| (t / 1000.0) as u64);
    let (from, to) = match (fault_s, m.rto.t_recovered_ms) {
        (Some(f), Some(rec)) => (f.saturating_sub(3), (rec / 1000.0) as u64 + 4),
        (Some(f), None) => (f.saturating_sub(3), f + 25),
        (None, _) => (0, 30),
    };
    let peak = m.per_second.iter().map(|b| b.succeeded + b.failed).max().unwrap_or(1).max(1);
    for b in m.per_second.iter().filter(|b| b.second >= from && b.second <= to) {
        let width = 20;
        let ok = (b.succeeded * width / peak) as usize;
        let bad = (b.failed * width / peak) as usize + usize::from(b.failed > 0 && b.failed * width < peak);
        let mark = if Some(b.second) == fault_s { " ← fault" } else { "" };
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | `{}{}`{mark} |",
            b.second,
            b.succeeded,
            b.failed,
            opt_ms(b.p99_ms),
            "█".repeat(ok),
            "░".repeat(bad)
        );
    }
    let memory = r.run.peak_rss_bytes.map(|b| format!(" · {:.0} MiB peak RSS", b as f64 / (1 << 20) as f64));
    let cpu = r.run.cpu_seconds.map(|c| format!(" · {c:.1} s CPU")).unwrap_or_default();
    let _ = writeln!(
        s,
        "\n<sub>hadrill {} · stack `{}` · project `{}` · started {}{}{} · RTO definition: docs/measurement.md</sub>",
        r.hadrill_version,
        r.scenario.stack,
        r.run.project,
        r.run.started_at,
        memory.unwrap_or_default(),
        cpu
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
    fn the_console_verdict_names_what_failed() {
        let v = console_verdict(&report());
        assert!(v.starts_with("FAILED kill <app2>: RTO 2.00 s, RPO 0 (0 acknowledged writes lost)"), "{v}");
        assert!(v.contains("failed: rto_max"), "{v}");
    }
}
