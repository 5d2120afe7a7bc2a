//! The report of a repeated drill: each cycle's own [`Report`] in, one report out with every cycle as a row,
//! the distribution of each figure, the expectations on the distribution ([`expect::evaluate_cycles`]) and each
//! cycle's own expectations as `cycle K: name`. Pure, like [`super::build`].

use std::fmt::Write as _;

use super::model::{CycleRow, CycleStep, Distribution, Repeat, Report, SharedStack, Verdict};
use crate::measure::distribution::stats;
use crate::measure::expect::{self, CycleFigures, ExpectationResult, Expectations};

/// One finished (or interrupted) cycle.
#[derive(Debug, Clone)]
pub struct Cycle {
    pub seed: u64,
    /// Its report folder, relative to the run's (`cycle-1`).
    pub dir: String,
    pub report: Report,
    /// On a shared stack, what was started again before it.
    pub restarted: Vec<String>,
}

/// How the run went, besides its cycles.
#[derive(Debug, Clone)]
pub struct Run<'a> {
    pub expect: &'a Expectations,
    pub planned: u32,
    pub seed: u64,
    /// How the cycles shared one stack (`--reuse-stack`); `None`: each had a fresh one.
    pub shared: Option<SharedStack>,
    /// Why the run stopped before its last cycle (an interrupt, a bring-up that failed).
    pub aborted: Option<String>,
}

/// The whole run's report; `cycles` is not empty (the last one's fields are the report's own).
pub fn combine(run: &Run, cycles: &[Cycle]) -> Report {
    let last = cycles.last().expect("a repeated drill reports at least one cycle");
    let mut r = last.report.clone();
    let finished: Vec<&Cycle> = cycles.iter().filter(|c| c.report.aborted.is_none()).collect();
    let figures: Vec<CycleFigures> = finished
        .iter()
        .map(|c| CycleFigures::of(&c.report.measurement, c.report.verdict != Verdict::Passed))
        .collect();
    let overall = expect::evaluate_cycles(run.expect, &figures);
    let tolerated = overall.last().is_some_and(|f| f.passed);
    let mut expectations = Vec::new();
    let mut rows = Vec::new();
    for (i, c) in cycles.iter().enumerate() {
        let k = i + 1;
        let row = row(k as u32, c);
        for e in &row.expectations {
            let mut e = ExpectationResult { name: format!("cycle {k}: {}", e.name), ..e.clone() };
            if !e.passed && tolerated {
                e.passed = true;
                e.detail = format!("failed, tolerated by flaky_max: {}", e.detail);
            }
            expectations.push(e);
        }
        rows.push(row);
    }
    expectations.extend(overall);
    let aborted = run
        .aborted
        .clone()
        .or_else(|| last.report.aborted.clone().map(|a| format!("cycle {}: {a}", cycles.len())));
    r.verdict = expect::verdict(&expectations, aborted.is_some());
    r.expectations = expectations;
    r.aborted = aborted;
    r.run.seed = run.seed;
    r.run.started_at = cycles[0].report.run.started_at.clone();
    r.run.started_unix_ms = cycles[0].report.run.started_unix_ms;
    r.repeat = Some(Repeat {
        planned: run.planned,
        seed: run.seed,
        reuse_stack: run.shared.is_some(),
        shared: run.shared.clone(),
        distributions: distributions(run.expect, &rows),
        cycles: rows,
    });
    r
}

fn row(cycle: u32, c: &Cycle) -> CycleRow {
    let r = &c.report;
    let m = &r.measurement;
    let fault = m.breakdown.iter().find(|b| b.step == "fault").and_then(|b| b.at_ms);
    let steps = m
        .breakdown
        .iter()
        .filter(|b| b.step != "fault")
        .filter_map(|b| Some(CycleStep { step: b.step.clone(), since_fault_ms: b.at_ms? - fault? }))
        .collect();
    CycleRow {
        cycle,
        seed: c.seed,
        verdict: r.verdict,
        project: r.run.project.clone(),
        dir: c.dir.clone(),
        rto_status: m.rto.status,
        rto_ms: m.rto.rto_ms,
        lost_writes: m.writes.lost.filter(|_| m.writes.rpo.status != crate::measure::rpo::RpoStatus::Unknown),
        rpo_ms: m
            .writes
            .rpo
            .rpo_ms
            .filter(|_| m.writes.rpo.status != crate::measure::rpo::RpoStatus::Unknown),
        error_rate: m.requests.error_rate,
        p99_ms: m.latency.overall.p99_ms,
        steps,
        expectations: r.expectations.clone(),
        aborted: r.aborted.clone(),
        restarted: c.restarted.clone(),
    }
}

fn ms(d: Option<std::time::Duration>) -> Option<f64> {
    d.map(|d| d.as_secs_f64() * 1000.0)
}

/// The distributions over the finished cycles (an aborted cycle's value is shown, not counted).
fn distributions(e: &Expectations, rows: &[CycleRow]) -> Vec<Distribution> {
    let dist = |metric: String, values: Vec<Option<f64>>, limit: Option<f64>| {
        let counted = values.iter().zip(rows).filter(|(_, r)| r.aborted.is_none()).filter_map(|(v, _)| *v);
        Distribution { metric, stats: stats(counted), values, limit }
    };
    let col = |f: &dyn Fn(&CycleRow) -> Option<f64>| rows.iter().map(f).collect::<Vec<_>>();
    let mut out = vec![
        dist("rto_ms".into(), col(&|r| r.rto_ms), ms(e.rto_max)),
        dist(
            "lost_writes".into(),
            col(&|r| r.lost_writes.map(|l| l as f64)),
            e.lost_writes_max.map(|l| l as f64),
        ),
        dist("rpo_ms".into(), col(&|r| r.rpo_ms), ms(e.rpo_max)),
        dist("error_rate".into(), col(&|r| Some(r.error_rate)), e.error_rate_max),
        dist("p99_ms".into(), col(&|r| r.p99_ms), ms(e.p99_max)),
    ];
    let mut steps: Vec<&str> = Vec::new();
    for s in rows.iter().flat_map(|r| &r.steps) {
        if !steps.contains(&s.step.as_str()) {
            steps.push(&s.step);
        }
    }
    for step in steps {
        let values = col(&|r| r.steps.iter().find(|s| s.step == step).map(|s| s.since_fault_ms));
        out.push(dist(format!("step.{step}_ms"), values, None));
    }
    out
}

/// The running distribution as one console line: `after 3 of 5 cycles: RTO 6.10 s / 6.50 s / 6.90 s / 6.90 s
/// (min / median / p90 / max), lost writes 1 in all, failed cycles 0`.
pub fn running_line(r: &Report) -> String {
    let Some(rep) = &r.repeat else { return String::new() };
    let find = |m: &str| rep.distributions.iter().find(|d| d.metric == m).and_then(|d| d.stats);
    let mut s = format!("after {} of {} cycles: RTO ", rep.cycles.len(), rep.planned);
    match find("rto_ms") {
        Some(st) => {
            let t = |v: f64| super::view::opt_ms(Some(v));
            let _ = write!(
                s,
                "{} / {} / {} / {} (min / median / p90 / max)",
                t(st.min),
                t(st.median),
                t(st.p90),
                t(st.max)
            );
        }
        None => s.push_str("none measured"),
    }
    let unrecovered =
        rep.cycles.iter().filter(|c| c.rto_status == crate::measure::rto::RtoStatus::NotRecovered).count();
    if unrecovered > 0 {
        let _ = write!(s, " and {unrecovered} not recovered");
    }
    let lost: Vec<u64> = rep.cycles.iter().filter_map(|c| c.lost_writes).collect();
    let failed = rep.cycles.iter().filter(|c| c.verdict != Verdict::Passed).count();
    let _ = write!(s, ", lost writes {} in all, failed cycles {failed}", lost.iter().sum::<u64>());
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixture::{repeated, report};

    #[test]
    fn every_cycle_is_a_row_and_the_p90_gates_the_run() {
        let r = repeated();
        let rep = r.repeat.as_ref().unwrap();
        assert_eq!(rep.cycles.len(), 3);
        assert_eq!(rep.cycles.iter().map(|c| c.seed).collect::<Vec<_>>(), [7, 8, 9]);
        let rto = &rep.distributions[0];
        assert_eq!(rto.metric, "rto_ms");
        assert_eq!(rto.values, [Some(2000.0), Some(3000.0), Some(9000.0)]);
        let st = rto.stats.unwrap();
        assert_eq!((st.min, st.median, st.p90, st.max), (2000.0, 3000.0, 9000.0, 9000.0));
        assert_eq!(rto.limit, Some(10_000.0), "the per-cycle limit is drawn");
        let names: Vec<&str> = r.expectations.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(
            names,
            ["cycle 1: rto_max", "cycle 2: rto_max", "cycle 3: rto_max", "rto_p90_max", "flaky_max"]
        );
        assert!(r.expectations[..3].iter().all(|e| e.passed));
        let p90 = &r.expectations[3];
        assert!(!p90.passed && p90.actual == "9.00s", "{p90:?}");
        assert_eq!(r.verdict, Verdict::Failed);
        assert!(
            rep.distributions.iter().any(|d| d.metric == "step.first_client_error_ms"),
            "{:?}",
            rep.distributions
        );
    }

    #[test]
    fn tolerated_cycles_pass_with_a_note_and_an_interrupted_cycle_aborts_the_run() {
        let expect = Expectations {
            rto_max: Some(std::time::Duration::from_secs(1)),
            flaky_max: Some(1),
            ..Default::default()
        };
        let mut failed = report();
        failed.expectations = expect::evaluate(&expect, &failed.measurement);
        failed.verdict = Verdict::Failed;
        let mut ok = report();
        ok.expectations.clear();
        ok.verdict = Verdict::Passed;
        let cycle = |report: Report| Cycle { seed: 1, dir: "cycle".into(), report, restarted: Vec::new() };
        let run = Run { expect: &expect, planned: 3, seed: 1, shared: None, aborted: None };
        let r = combine(&run, &[cycle(ok.clone()), cycle(failed)]);
        assert_eq!(r.verdict, Verdict::Passed, "{:?}", r.expectations);
        let tolerated = &r.expectations[0];
        assert!(
            tolerated.passed && tolerated.detail.starts_with("failed, tolerated by flaky_max"),
            "{tolerated:?}"
        );
        let mut interrupted = ok.clone();
        interrupted.aborted = Some("interrupted".into());
        interrupted.verdict = Verdict::Aborted;
        let r = combine(&run, &[cycle(ok.clone()), cycle(interrupted)]);
        assert_eq!((r.verdict, r.aborted.as_deref()), (Verdict::Aborted, Some("cycle 2: interrupted")));
        let rep = r.repeat.unwrap();
        assert_eq!(rep.cycles.len(), 2, "the finished cycle and the interrupted one");
        assert_eq!(
            rep.distributions[0].stats.unwrap().samples,
            1,
            "the interrupted cycle is shown, not counted"
        );
        let mut stuck = ok.clone();
        stuck.measurement.rto.status = crate::measure::rto::RtoStatus::NotRecovered;
        stuck.measurement.rto.rto_ms = None;
        let two = combine(&run, &[cycle(ok.clone()), cycle(stuck)]);
        assert!(
            running_line(&two).contains("2.00 s (min / median / p90 / max) and 1 not recovered"),
            "{}",
            running_line(&two)
        );
        let md = crate::report::markdown::render(&two);
        assert!(md.contains("| RTO (1 cycles not recovered) | 1 |"), "{md}");
        let line = running_line(&combine(&run, &[cycle(ok)]));
        assert_eq!(line, "after 1 of 3 cycles: RTO 2.00 s / 2.00 s / 2.00 s / 2.00 s (min / median / p90 / max), lost writes 0 in all, failed cycles 0");
    }

    #[test]
    fn a_repeated_report_satisfies_the_committed_schema_and_a_single_one_has_no_repeat_key() {
        let schema: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(crate::report::model::schema_path()).unwrap())
                .unwrap();
        let v = jsonschema::validator_for(&schema).unwrap();
        let json = serde_json::to_value(repeated()).unwrap();
        assert!(v.is_valid(&json));
        let back: Report = serde_json::from_value(json).unwrap();
        assert_eq!(back, repeated());
        assert!(serde_json::to_value(report()).unwrap().get("repeat").is_none());
    }
}
