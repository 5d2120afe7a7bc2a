//! The report as a person reads it: typed rows built once from a [`Report`] with the shared formatters (summary,
//! expectations, RTO breakdown, latency phases, faults and steps, stack events, per-second timeline, footer).
//! Markdown and HTML only lay these rows out, so a label, a unit or a rounding is decided here, once; a new
//! view (a terminal table, a Slack message) lays out the same rows.

use super::model::{ActionView, Report, Verdict};
use crate::measure::rpo::RpoStatus;
use crate::measure::rto::RtoStatus;
use crate::timeline::StackEventKind;

/// Milliseconds as a person reads them: `2.00 s`, `12.3 s`, `500.0 ms`, `0`, `—` when unknown.
pub fn opt_ms(v: Option<f64>) -> String {
    match v {
        Some(ms) if ms >= 10_000.0 => format!("{:.1} s", ms / 1000.0),
        Some(ms) if ms >= 1000.0 => format!("{:.2} s", ms / 1000.0),
        Some(0.0) => "0".into(),
        Some(ms) => format!("{ms:.1} ms"),
        None => "—".into(),
    }
}

/// A time since the load started, in seconds with three decimals (`—` when it did not happen).
pub fn seconds(ms: Option<f64>) -> String {
    ms.map(|t| format!("{:.3}", t / 1000.0)).unwrap_or_else(|| "—".into())
}

pub fn verdict_word(v: Verdict) -> &'static str {
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

/// The RPO as a phrase: `0 (0 acknowledged writes lost)`, `unknown: why`.
pub fn rpo_text(r: &Report) -> String {
    let w = &r.measurement.writes;
    match w.rpo.status {
        RpoStatus::Measured => {
            format!("{} ({} acknowledged writes lost)", opt_ms(w.rpo.rpo_ms), w.lost.unwrap_or(0))
        }
        RpoStatus::Unknown => format!("unknown: {}", w.rpo.reason.clone().unwrap_or_default()),
        RpoStatus::NotMeasured => "not measured: no writes".to_string(),
    }
}

/// A serde enum's name as it appears in report.json (`docker_event`, `detection`).
fn wire_name<T: serde::Serialize>(v: T) -> String {
    serde_json::to_value(v).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
}

/// One cell of a table row: text, or a pass/fail mark each layout draws its own way.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Cell<'a> {
    Text(&'a str),
    /// Text a layout may emphasise (the RTO and RPO labels).
    Strong(&'a str),
    Mark(bool),
}

/// A row of one of the report's tables: its column headers, and its cells in that order.
pub trait Row {
    const HEADER: &'static [&'static str];
    fn cells(&self) -> Vec<Cell<'_>>;
}

/// Text cells, in order.
fn texts<'a>(fields: &[&'a str]) -> Vec<Cell<'a>> {
    fields.iter().map(|f| Cell::Text(f)).collect()
}

/// A line of the summary table (`RTO`, `requests`, `load`, ...).
#[derive(Debug, Clone, PartialEq)]
pub struct SummaryRow {
    pub label: &'static str,
    pub value: String,
    /// RTO and RPO: the figures a reader looks for first.
    pub headline: bool,
}

impl Row for SummaryRow {
    const HEADER: &'static [&'static str] = &["", ""];
    fn cells(&self) -> Vec<Cell<'_>> {
        let label = if self.headline { Cell::Strong(self.label) } else { Cell::Text(self.label) };
        vec![label, Cell::Text(&self.value)]
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ExpectationRow {
    pub passed: bool,
    pub name: String,
    pub limit: String,
    pub actual: String,
    pub detail: String,
}

impl Row for ExpectationRow {
    const HEADER: &'static [&'static str] = &["", "expectation", "limit", "actual", ""];
    fn cells(&self) -> Vec<Cell<'_>> {
        let mut cells = vec![Cell::Mark(self.passed)];
        cells.extend(texts(&[&self.name, &self.limit, &self.actual, &self.detail]));
        cells
    }
}

/// A step from the fault to stable recovery.
#[derive(Debug, Clone, PartialEq)]
pub struct BreakdownRow {
    /// `first client error`, `stack detection`, ...
    pub step: String,
    pub at: String,
    pub since_previous: String,
    /// Where the time came from and how late it can be: `sentinel pub/sub (±1 ms)`.
    pub source: String,
    pub evidence: String,
}

impl Row for BreakdownRow {
    const HEADER: &'static [&'static str] = &["step", "at (s)", "since previous", "source", "evidence"];
    fn cells(&self) -> Vec<Cell<'_>> {
        texts(&[&self.step, &self.at, &self.since_previous, &self.source, &self.evidence])
    }
}

/// Latency of one phase (before the fault, fault to recovery, after, overall).
#[derive(Debug, Clone, PartialEq)]
pub struct LatencyRow {
    pub phase: &'static str,
    pub requests: String,
    pub p50: String,
    pub p99: String,
    pub max: String,
}

impl Row for LatencyRow {
    const HEADER: &'static [&'static str] = &["phase", "requests", "p50", "p99", "max"];
    fn cells(&self) -> Vec<Cell<'_>> {
        texts(&[self.phase, &self.requests, &self.p50, &self.p99, &self.max])
    }
}

/// A fault or step as it happened.
#[derive(Debug, Clone, PartialEq)]
pub struct ActionRow {
    pub started: String,
    pub verified: bool,
    /// `Fault pause app2 for 2s`.
    pub event: String,
    pub effect: String,
    /// Where the effect time came from (`docker_event`, `reported`, `hadrill`; empty without an effect).
    pub source: String,
    /// What the check found, and when it was reverted.
    pub detail: String,
}

impl Row for ActionRow {
    const HEADER: &'static [&'static str] = &["t (s)", "", "event", "effect (s)", "source", "detail"];
    fn cells(&self) -> Vec<Cell<'_>> {
        let mut cells = vec![Cell::Text(&self.started), Cell::Mark(self.verified)];
        cells.extend(texts(&[&self.event, &self.effect, &self.source, &self.detail]));
        cells
    }
}

/// What a component of the stack reported (an observer's event).
#[derive(Debug, Clone, PartialEq)]
pub struct StackEventRow {
    pub at: String,
    pub source: String,
    pub subject: String,
    pub state: String,
    pub kind: String,
}

impl Row for StackEventRow {
    const HEADER: &'static [&'static str] = &["t (s)", "source", "subject", "state", "kind"];
    fn cells(&self) -> Vec<Cell<'_>> {
        texts(&[&self.at, &self.source, &self.subject, &self.state, &self.kind])
    }
}

/// One second of the load around the fault, for views that draw it as text.
#[derive(Debug, Clone, PartialEq)]
pub struct SecondRow {
    pub second: u64,
    pub succeeded: u64,
    pub failed: u64,
    pub p99: String,
    /// The second the first fault took effect in.
    pub fault: bool,
}

/// A figure over the cycles of a repeated drill.
#[derive(Debug, Clone, PartialEq)]
pub struct DistributionRow {
    /// `RTO`, `lost writes`, `step: first client error` ...
    pub figure: String,
    pub cycles: String,
    pub min: String,
    pub median: String,
    pub p90: String,
    pub max: String,
    /// The limit every cycle is held to (`—` when none).
    pub limit: String,
}

impl Row for DistributionRow {
    const HEADER: &'static [&'static str] = &["figure", "cycles", "min", "median", "p90", "max", "limit"];
    fn cells(&self) -> Vec<Cell<'_>> {
        texts(&[&self.figure, &self.cycles, &self.min, &self.median, &self.p90, &self.max, &self.limit])
    }
}

/// One cycle of a repeated drill.
#[derive(Debug, Clone, PartialEq)]
pub struct CycleView {
    pub passed: bool,
    pub cycle: String,
    pub verdict: String,
    pub rto: String,
    pub lost_writes: String,
    pub rpo: String,
    pub error_rate: String,
    pub p99: String,
    pub seed: String,
    /// Its report folder.
    pub dir: String,
}

impl Row for CycleView {
    const HEADER: &'static [&'static str] =
        &["", "cycle", "verdict", "RTO", "lost writes", "RPO", "error rate", "p99", "seed", "report"];
    fn cells(&self) -> Vec<Cell<'_>> {
        let mut cells = vec![Cell::Mark(self.passed)];
        cells.extend(texts(&[
            &self.cycle,
            &self.verdict,
            &self.rto,
            &self.lost_writes,
            &self.rpo,
            &self.error_rate,
            &self.p99,
            &self.seed,
            &self.dir,
        ]));
        cells
    }
}

/// The cycles of a repeated drill, ready to lay out.
#[derive(Debug, Clone, PartialEq)]
pub struct RepeatView {
    /// `5 of 5 cycles, each on a fresh stack; seed 7.`
    pub intro: String,
    /// `hadrill run FILE --seed 7 --cycle K` replays cycle K alone.
    pub replay: String,
    pub distributions: Vec<DistributionRow>,
    pub cycles: Vec<CycleView>,
}

/// A distribution's figure in words, and a value of it as a person reads it.
pub fn figure(metric: &str) -> (String, fn(f64) -> String) {
    let ms: fn(f64) -> String = |v| opt_ms(Some(v));
    match metric {
        "rto_ms" => ("RTO".into(), ms),
        "rpo_ms" => ("RPO".into(), ms),
        "p99_ms" => ("p99 latency".into(), ms),
        "lost_writes" => ("lost writes".into(), |v| format!("{v:.0}")),
        "error_rate" => ("error rate".into(), |v| format!("{:.2}%", v * 100.0)),
        m => {
            let step = m.trim_start_matches("step.").trim_end_matches("_ms").replace('_', " ");
            (format!("{step} (after the fault)"), ms)
        }
    }
}

fn repeat_view(r: &Report) -> Option<RepeatView> {
    let rep = r.repeat.as_ref()?;
    let distributions = rep
        .distributions
        .iter()
        .map(|d| {
            let (figure, fmt) = figure(&d.metric);
            let at = |f: fn(&crate::measure::distribution::Stats) -> f64| {
                d.stats.as_ref().map(|s| fmt(f(s))).unwrap_or_else(|| "—".into())
            };
            let unrecovered = rep.cycles.iter().filter(|c| c.rto_status == RtoStatus::NotRecovered).count();
            let figure = match d.metric.as_str() {
                "rto_ms" if unrecovered > 0 => format!("{figure} ({unrecovered} cycles not recovered)"),
                _ => figure,
            };
            DistributionRow {
                figure,
                cycles: d.stats.map(|s| s.samples).unwrap_or(0).to_string(),
                min: at(|s| s.min),
                median: at(|s| s.median),
                p90: at(|s| s.p90),
                max: at(|s| s.max),
                limit: d.limit.map(fmt).unwrap_or_else(|| "—".into()),
            }
        })
        .collect();
    let cycles = rep
        .cycles
        .iter()
        .map(|c| CycleView {
            passed: c.verdict == Verdict::Passed,
            cycle: c.cycle.to_string(),
            verdict: verdict_word(c.verdict).to_string(),
            rto: match c.rto_status {
                RtoStatus::NotRecovered => "not recovered".into(),
                RtoStatus::NoFault => "no fault".into(),
                _ => opt_ms(c.rto_ms),
            },
            lost_writes: c.lost_writes.map(|l| l.to_string()).unwrap_or_else(|| "unknown".into()),
            rpo: opt_ms(c.rpo_ms),
            error_rate: format!("{:.2}%", c.error_rate * 100.0),
            p99: opt_ms(c.p99_ms),
            seed: c.seed.to_string(),
            dir: c.dir.clone(),
        })
        .collect();
    Some(RepeatView {
        intro: format!(
            "{} of {} cycles, {}; run seed {}.",
            rep.cycles.len(),
            rep.planned,
            stack_words(rep),
            rep.seed
        ),
        replay: format!("hadrill run {} --seed {} --cycle K", r.scenario.file, rep.seed),
        distributions,
        cycles,
    })
}

/// How the cycles of a repeated drill got their stack, in words.
fn stack_words(rep: &crate::report::model::Repeat) -> String {
    let Some(shared) = rep.shared.as_ref().filter(|_| rep.reuse_stack) else {
        return "each on a fresh stack".into();
    };
    let settle = crate::duration::human(std::time::Duration::from_millis(shared.settle_ms));
    let mut s = format!(
        "all on one stack (between two cycles: every fault reverted, what a cycle left stopped started again, \
         every service healthy, then {settle} of quiet)"
    );
    let restarted: Vec<String> = rep
        .cycles
        .iter()
        .filter(|c| !c.restarted.is_empty())
        .map(|c| format!("{} before cycle {}", c.restarted.join(", "), c.cycle))
        .collect();
    if !restarted.is_empty() {
        s.push_str(&format!("; started again: {}", restarted.join("; ")));
    }
    if shared.roles_may_move {
        s.push_str(
            "; the stack's roles (primary, replicas) may have moved between cycles: a fault picked by role \
             (`pick = \"primary\"`) finds the node in that role each cycle, one aimed at a fixed service may not",
        );
    }
    s
}

/// The small print: versions, where it ran, what hadrill itself used.
#[derive(Debug, Clone, PartialEq)]
pub struct Footer {
    pub version: String,
    pub stack: String,
    pub project: String,
    pub started_at: String,
    /// ` · 40 MiB peak RSS · 3.5 s CPU` (each part only when known).
    pub usage: String,
}

/// Every section of a report, ready to lay out. Empty sections are empty vectors or `None`.
#[derive(Debug, Clone, PartialEq)]
pub struct View {
    /// `scenario — VERDICT`.
    pub title: String,
    pub name: String,
    pub verdict: Verdict,
    pub description: String,
    /// Why the drill was aborted, as a sentence to stress, and what that means for the figures.
    pub aborted: Option<(String, &'static str)>,
    pub summary: Vec<SummaryRow>,
    pub expectations: Vec<ExpectationRow>,
    pub breakdown: Vec<BreakdownRow>,
    /// `pg1 → pg2 (async): 120 bytes behind; ...`
    pub replication_lag: Option<String>,
    pub latency: Vec<LatencyRow>,
    /// `http_503: 200, timeout: 3`
    pub failures_by_kind: Option<String>,
    pub actions: Vec<ActionRow>,
    /// `haproxy lb:8404, patroni pg1:8008`
    pub observers: String,
    /// Every stack event but the initial states.
    pub stack_events: Vec<StackEventRow>,
    /// The seconds around the fault (3 before to 4 after recovery), and the busiest second's request count.
    pub timeline: Vec<SecondRow>,
    pub timeline_peak: u64,
    /// A repeated drill's cycles and distributions.
    pub repeat: Option<RepeatView>,
    pub footer: Footer,
}

impl View {
    pub fn of(r: &Report) -> View {
        View {
            title: format!("{} — {}", r.scenario.name, verdict_word(r.verdict)),
            name: r.scenario.name.clone(),
            verdict: r.verdict,
            description: r.scenario.description.clone(),
            aborted: r.aborted.as_ref().map(|a| {
                (format!("The drill was aborted ({a})."), "The figures cover what ran; RPO is unknown.")
            }),
            summary: summary(r),
            expectations: r
                .expectations
                .iter()
                .map(|e| ExpectationRow {
                    passed: e.passed,
                    name: e.name.clone(),
                    limit: e.limit.clone(),
                    actual: e.actual.clone(),
                    detail: e.detail.clone(),
                })
                .collect(),
            breakdown: r
                .measurement
                .breakdown
                .iter()
                .map(|b| BreakdownRow {
                    step: b.step.replace('_', " "),
                    at: seconds(b.at_ms),
                    since_previous: opt_ms(b.since_previous_ms),
                    source: match b.resolution_ms {
                        Some(r) if r >= 1.0 => format!("{} (≤ {r:.0} ms)", b.source),
                        Some(r) => format!("{} (≤ {r:.3} ms)", b.source),
                        None => b.source.clone(),
                    },
                    evidence: b.evidence.clone(),
                })
                .collect(),
            replication_lag: joined(
                "; ",
                r.replication_lag_before_fault.iter().map(|l| {
                    format!(
                        "{} → {} ({}): {} bytes behind",
                        l.node, l.standby, l.sync_state, l.replay_lag_bytes
                    )
                }),
            ),
            latency: latency(r),
            failures_by_kind: joined(
                ", ",
                r.measurement.requests.failures_by_kind.iter().map(|(k, v)| format!("{k}: {v}")),
            ),
            actions: r.actions.iter().map(action_row).collect(),
            observers: r.observers.join(", "),
            stack_events: r
                .stack_events
                .iter()
                .filter(|e| e.kind != StackEventKind::Info || e.at_ms > 0.0)
                .map(|e| StackEventRow {
                    at: seconds(Some(e.at_ms)),
                    source: e.source.clone(),
                    subject: e.subject.clone(),
                    state: e.state.clone(),
                    kind: wire_name(e.kind),
                })
                .collect(),
            timeline: timeline(r),
            timeline_peak: r
                .measurement
                .per_second
                .iter()
                .map(|b| b.succeeded + b.failed)
                .max()
                .unwrap_or(1)
                .max(1),
            repeat: repeat_view(r),
            footer: footer(r),
        }
    }
}

/// The parts joined by `sep`; `None` when there are none.
fn joined(sep: &str, parts: impl Iterator<Item = String>) -> Option<String> {
    let parts: Vec<String> = parts.collect();
    (!parts.is_empty()).then(|| parts.join(sep))
}

fn summary(r: &Report) -> Vec<SummaryRow> {
    let m = &r.measurement;
    let w = &m.writes;
    let opt = |v: Option<u64>| v.map(|x| x.to_string()).unwrap_or_else(|| "unknown".into());
    let row = |label, value, headline| SummaryRow { label, value, headline };
    vec![
        row("RTO", rto_text(r), true),
        row("RPO", rpo_text(r), true),
        row("time to first error", opt_ms(m.rto.time_to_first_error_ms), false),
        row(
            "outage windows",
            format!("{} ({} in total)", m.outages.count, opt_ms(Some(m.outages.total_ms))),
            false,
        ),
        row("longest gap between successes", opt_ms(Some(m.outages.longest_gap_ms)), false),
        row(
            "requests",
            format!(
                "{} sent, {} failed ({:.2}%)",
                m.requests.total,
                m.requests.failed,
                m.requests.error_rate * 100.0
            ),
            false,
        ),
        row("availability", availability_text(r), false),
        row("degraded windows", degraded_text(r), false),
        row(
            "writes",
            format!(
                "{} acknowledged, {} failed, {} indeterminate ({} persisted); {} failed but persisted",
                w.acknowledged,
                w.failed,
                w.indeterminate,
                opt(w.indeterminate_persisted),
                opt(w.failed_but_persisted)
            ),
            false,
        ),
        row(
            "load",
            format!(
                "{} req/s for {:.0} s, {:.0}% reads, seed {}",
                r.scenario.rate_per_s,
                r.scenario.duration_ms / 1000.0,
                r.scenario.read_ratio * 100.0,
                r.run.seed
            ),
            false,
        ),
    ]
}

/// `99.912% (answered within 500.0 ms)`, or `99.990% (succeeded)` without `[measure] slow`.
fn availability_text(r: &Report) -> String {
    let slo = &r.measurement.slo;
    let within = match slo.slow_ms {
        Some(s) => format!("answered within {}", opt_ms(Some(s))),
        None => "succeeded; no [measure] slow".into(),
    };
    match slo.availability_pct {
        Some(a) => format!("{a:.3}% ({within})"),
        None => "— (no requests)".into(),
    }
}

/// `2 (3.97 s in total, longest 3.00 s; 100 slow answers)`, or a dash without `[measure] slow`.
fn degraded_text(r: &Report) -> String {
    let slo = &r.measurement.slo;
    let d = &slo.degraded;
    match slo.slow_ms {
        Some(_) => format!(
            "{} ({} in total, longest {}; {} slow answers)",
            d.count,
            opt_ms(Some(d.total_ms)),
            opt_ms(Some(d.longest_ms)),
            slo.slow
        ),
        None => "— (no [measure] slow)".into(),
    }
}

fn latency(r: &Report) -> Vec<LatencyRow> {
    r.measurement
        .latency
        .named()
        .into_iter()
        .map(|(phase, p)| LatencyRow {
            phase,
            requests: p.count.to_string(),
            p50: opt_ms(p.p50_ms),
            p99: opt_ms(p.p99_ms),
            max: opt_ms(p.max_ms),
        })
        .collect()
}

fn action_row(a: &ActionView) -> ActionRow {
    let reverted = a.reverted_ms.map(|t| format!("; reverted at {:.3} s", t / 1000.0)).unwrap_or_default();
    ActionRow {
        started: seconds(Some(a.started_ms)),
        verified: a.verified,
        event: format!("{:?} {}", a.role, a.summary),
        effect: seconds(a.effect_ms),
        source: a.effect_source.map(wire_name).unwrap_or_default(),
        detail: format!("{}{reverted}", a.detail),
    }
}

/// The seconds from 3 before the fault to 4 after recovery (25 after the fault when there was none; the first
/// 30 without a fault).
fn timeline(r: &Report) -> Vec<SecondRow> {
    let fault_s = r.t_fault_ms.map(|t| (t / 1000.0) as u64);
    let (from, to) = match (fault_s, r.measurement.rto.t_recovered_ms) {
        (Some(f), Some(rec)) => (f.saturating_sub(3), (rec / 1000.0) as u64 + 4),
        (Some(f), None) => (f.saturating_sub(3), f + 25),
        (None, _) => (0, 30),
    };
    r.measurement
        .per_second
        .iter()
        .filter(|b| b.second >= from && b.second <= to)
        .map(|b| SecondRow {
            second: b.second,
            succeeded: b.succeeded,
            failed: b.failed,
            p99: opt_ms(b.p99_ms),
            fault: Some(b.second) == fault_s,
        })
        .collect()
}

fn footer(r: &Report) -> Footer {
    let memory = r.run.peak_rss_bytes.map(|b| format!(" · {:.0} MiB peak RSS", b as f64 / (1 << 20) as f64));
    let cpu = r.run.cpu_seconds.map(|c| format!(" · {c:.1} s CPU"));
    Footer {
        version: r.hadrill_version.clone(),
        stack: r.scenario.stack.clone(),
        project: r.run.project.clone(),
        started_at: r.run.started_at.clone(),
        usage: format!("{}{}", memory.unwrap_or_default(), cpu.unwrap_or_default()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixture::report;
    use crate::report::model::StackEventView;

    #[test]
    fn cycles_on_one_stack_say_so_with_the_quiet_period_what_was_restarted_and_moving_roles() {
        let mut r = crate::report::fixture::repeated();
        let fresh = View::of(&r).repeat.unwrap().intro;
        assert_eq!(fresh, "3 of 3 cycles, each on a fresh stack; run seed 7.");
        let rep = r.repeat.as_mut().unwrap();
        rep.reuse_stack = true;
        rep.shared = Some(crate::report::model::SharedStack { settle_ms: 10_000, roles_may_move: false });
        rep.cycles[1].restarted = vec!["app2".into()];
        let shared = View::of(&r).repeat.unwrap().intro;
        assert!(shared.starts_with("3 of 3 cycles, all on one stack (between two cycles"), "{shared}");
        assert!(shared.contains("then 10.00s of quiet)"), "{shared}");
        assert!(shared.contains("started again: app2 before cycle 2"), "{shared}");
        assert!(!shared.contains("roles"), "{shared}");
        r.repeat.as_mut().unwrap().shared.as_mut().unwrap().roles_may_move = true;
        let roles = View::of(&r).repeat.unwrap().intro;
        assert!(roles.contains("roles (primary, replicas) may have moved between cycles"), "{roles}");
    }

    #[test]
    fn milliseconds_read_as_a_person_reads_them() {
        let cases = [
            (Some(12_345.0), "12.3 s"),
            (Some(2004.0), "2.00 s"),
            (Some(500.0), "500.0 ms"),
            (Some(0.0), "0"),
            (None, "—"),
        ];
        for (ms, text) in cases {
            assert_eq!(opt_ms(ms), text);
        }
        assert_eq!((seconds(Some(4999.5)), seconds(None)), ("5.000".to_string(), "—".to_string()));
    }

    #[test]
    fn the_summary_leads_with_rto_and_rpo() {
        let v = View::of(&report());
        assert_eq!(v.title, "kill <app2> — FAILED");
        let labels: Vec<_> = v.summary.iter().map(|r| (r.label, r.headline)).collect();
        assert_eq!(&labels[..3], &[("RTO", true), ("RPO", true), ("time to first error", false)]);
        assert_eq!(v.summary[0].value, "2.00 s");
        assert_eq!(v.summary[5].value, "2000 sent, 200 failed (10.00%)");
        assert_eq!(v.summary[0].cells(), vec![Cell::Strong("RTO"), Cell::Text("2.00 s")]);
        assert_eq!(v.summary.len(), 10);
        assert_eq!(v.summary[6].value, "90.000% (succeeded; no [measure] slow)");
        assert_eq!(v.summary[7].value, "— (no [measure] slow)");
    }

    #[test]
    fn availability_and_degraded_windows_read_as_sentences() {
        let mut r = report();
        let slo = &mut r.measurement.slo;
        slo.slow_ms = Some(500.0);
        slo.availability_pct = Some(99.25);
        slo.slow = 100;
        slo.degraded.count = 2;
        slo.degraded.total_ms = 3970.0;
        slo.degraded.longest_ms = 3000.0;
        let v = View::of(&r);
        assert_eq!(
            (v.summary[6].label, v.summary[6].value.as_str()),
            ("availability", "99.250% (answered within 500.0 ms)")
        );
        assert_eq!(v.summary[7].value, "2 (3.97 s in total, longest 3.00 s; 100 slow answers)");
    }

    #[test]
    fn an_unknown_rpo_and_an_unrecovered_rto_say_so() {
        let mut r = report();
        r.measurement.rto.status = RtoStatus::NotRecovered;
        r.measurement.writes.rpo.status = RpoStatus::Unknown;
        r.measurement.writes.rpo.reason = Some("read-back timed out".into());
        let v = View::of(&r);
        assert_eq!(v.summary[0].value, "not recovered before the load ended");
        assert_eq!(v.summary[1].value, "unknown: read-back timed out");
    }

    #[test]
    fn rows_of_each_section() {
        let v = View::of(&report());
        assert_eq!(v.expectations[0].cells()[0], Cell::Mark(false));
        assert_eq!(v.expectations[0].cells().len(), ExpectationRow::HEADER.len());
        let a = &v.actions[0];
        assert_eq!(
            (a.started.as_str(), a.event.as_str(), a.effect.as_str(), a.source.as_str()),
            ("4.999", "Fault pause app2 for 2s", "5.000", "docker_event")
        );
        assert_eq!(a.detail, "paused (daemon event); reverted at 7.000 s");
        assert_eq!(v.breakdown[2].step, "stack detection");
        assert_eq!(
            (v.breakdown[2].at.as_str(), v.breakdown[2].since_previous.as_str()),
            ("5.500", "500.0 ms")
        );
        assert_eq!(v.latency.last().map(|l| l.phase), Some("overall"));
        assert_eq!(v.failures_by_kind.as_deref(), Some("http_503: 200"));
        assert_eq!(v.replication_lag, None);
        assert_eq!(v.footer.usage, " · 40 MiB peak RSS · 3.5 s CPU");
    }

    #[test]
    fn initial_stack_states_are_left_out() {
        let mut r = report();
        let info = |at_ms| StackEventView {
            at_ms,
            source: "patroni".into(),
            subject: "pg1".into(),
            state: "leader".into(),
            kind: StackEventKind::Info,
            origin: crate::timeline::Origin::Poll,
            resolution_ms: 200.0,
        };
        r.stack_events.extend([info(0.0), info(9000.0)]);
        let v = View::of(&r);
        let at: Vec<_> = v.stack_events.iter().map(|e| (e.at.as_str(), e.kind.as_str())).collect();
        assert_eq!(at, [("5.500", "detection"), ("9.000", "info")]);
    }

    #[test]
    fn the_timeline_runs_from_3_s_before_the_fault_to_4_s_after_recovery() {
        let v = View::of(&report());
        let seconds: Vec<u64> = v.timeline.iter().map(|b| b.second).collect();
        assert_eq!(seconds, (2..=11).collect::<Vec<_>>());
        assert_eq!(v.timeline.iter().filter(|b| b.fault).map(|b| b.second).collect::<Vec<_>>(), [5]);
        assert_eq!(v.timeline_peak, 100);
        let mut no_fault = report();
        no_fault.t_fault_ms = None;
        assert_eq!(View::of(&no_fault).timeline.len(), 20, "the first 30 s of a 20 s load");
    }

    #[test]
    fn unknown_usage_leaves_the_footer_short() {
        let mut r = report();
        r.run.peak_rss_bytes = None;
        r.run.cpu_seconds = None;
        assert_eq!(View::of(&r).footer.usage, "");
    }
}
