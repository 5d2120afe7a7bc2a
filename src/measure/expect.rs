//! Expectations and the verdict: the scenario's `[expect]` limits checked against a measurement, the rule that an
//! action that could not be verified fails the drill, and the verdict drawn from both. Unknown figures fail: a
//! drill that could not read its data back has not shown that nothing was lost.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::rpo::RpoStatus;
use super::rto::RtoStatus;
use super::Measurement;
use crate::duration::human;
use crate::timeline::ActionEvent;

/// A scenario's `[expect]` section: the limits that gate a release; `None` checks nothing.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Expectations {
    pub rto_max: Option<Duration>,
    pub rpo_max: Option<Duration>,
    pub lost_writes_max: Option<u64>,
    pub error_rate_max: Option<f64>,
    pub p99_max: Option<Duration>,
    /// Require (or not) that the clients saw recovery.
    pub recovered: Option<bool>,
    /// Repeated drills (`--repeat`): the median and the p90 (nearest rank) of the cycles' RTOs; a cycle that
    /// never recovered counts as longer than any limit.
    pub rto_p50_max: Option<Duration>,
    pub rto_p90_max: Option<Duration>,
    /// Repeated drills: acknowledged writes lost over all cycles.
    pub lost_writes_total_max: Option<u64>,
    /// Repeated drills: cycles allowed to fail their own expectations (0 when unset).
    pub flaky_max: Option<u64>,
    /// Good requests (succeeded, and within `[measure] slow` when set) over all, in percent.
    pub availability_min: Option<f64>,
    /// The degraded windows' total length (needs `[measure] slow`).
    pub degraded_max: Option<Duration>,
}

/// What the distribution expectations read of one cycle.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CycleFigures {
    /// The RTO in ms; infinity when the clients never saw a stable recovery, `None` when no fault took effect.
    pub rto_ms: Option<f64>,
    /// `None` when the written data could not be read back.
    pub lost_writes: Option<u64>,
    /// The cycle failed one of its own expectations, or did not finish.
    pub failed: bool,
}

impl CycleFigures {
    pub fn of(m: &Measurement, failed: bool) -> CycleFigures {
        let rto_ms = match m.rto.status {
            RtoStatus::NoFault => None,
            RtoStatus::NotRecovered => Some(f64::INFINITY),
            _ => m.rto.rto_ms.or(Some(f64::INFINITY)),
        };
        let lost_writes = m.writes.lost.filter(|_| m.writes.rpo.status != RpoStatus::Unknown);
        CycleFigures { rto_ms, lost_writes, failed }
    }
}

/// The expectations on the distribution of a repeated drill, in the order of [`Expectations`]' fields, then
/// always `flaky_max` (how many cycles failed, against 0 when unset). The per-cycle limits (`rto_max`,
/// `lost_writes_max`, ...) are each cycle's own [`check`].
pub fn evaluate_cycles(e: &Expectations, cycles: &[CycleFigures]) -> Vec<ExpectationResult> {
    let mut out = Vec::new();
    let n = cycles.len();
    let rtos: Vec<f64> = cycles.iter().map(|c| c.rto_ms.unwrap_or(f64::INFINITY)).collect();
    let no_fault = cycles.iter().filter(|c| c.rto_ms.is_none()).count();
    for (name, q, max) in [("rto_p50_max", 0.5, e.rto_p50_max), ("rto_p90_max", 0.9, e.rto_p90_max)] {
        let Some(max) = max else { continue };
        let at =
            super::distribution::stats(rtos.iter().copied()).map(|s| if q == 0.5 { s.median } else { s.p90 });
        let actual = match at {
            Some(v) if v.is_finite() => ms_text(v),
            Some(_) => "not recovered".into(),
            None => "no cycle".into(),
        };
        let unrecovered = rtos.iter().filter(|r| r.is_infinite()).count() - no_fault;
        out.push(ExpectationResult {
            name: name.into(),
            limit: format!("<= {}", human(max)),
            actual,
            passed: at.is_some_and(|v| v <= limit_ms(max)),
            detail: format!(
                "nearest rank over {n} cycles ({unrecovered} not recovered, {no_fault} without a fault)"
            ),
        });
    }
    if let Some(max) = e.lost_writes_total_max {
        let total: Option<u64> = cycles.iter().map(|c| c.lost_writes).sum();
        let unknown = cycles.iter().filter(|c| c.lost_writes.is_none()).count();
        out.push(ExpectationResult {
            name: "lost_writes_total_max".into(),
            limit: format!("<= {max}"),
            actual: total.map(|t| t.to_string()).unwrap_or_else(|| "unknown".into()),
            passed: total.is_some_and(|t| t <= max),
            detail: if unknown == 0 {
                format!("over {n} cycles")
            } else {
                format!("unknown: {unknown} of {n} cycles could not read their data back")
            },
        });
    }
    let failed: Vec<String> =
        cycles.iter().enumerate().filter(|(_, c)| c.failed).map(|(i, _)| (i + 1).to_string()).collect();
    let allowed = e.flaky_max.unwrap_or(0);
    out.push(ExpectationResult {
        name: "flaky_max".into(),
        limit: format!("<= {allowed} failed cycles"),
        actual: failed.len().to_string(),
        passed: failed.len() as u64 <= allowed,
        detail: if failed.is_empty() {
            format!("every one of {n} cycles passed")
        } else {
            format!("failed: cycle {}", failed.join(", "))
        },
    });
    out
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ExpectationResult {
    pub name: String,
    pub limit: String,
    pub actual: String,
    pub passed: bool,
    pub detail: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Every expectation held.
    Passed,
    /// At least one expectation failed.
    Failed,
    /// The drill was interrupted; the figures cover what ran.
    Aborted,
}

/// The verdict of a drill: aborted when it was interrupted, else passed when every result passed.
pub fn verdict(results: &[ExpectationResult], aborted: bool) -> Verdict {
    if aborted {
        Verdict::Aborted
    } else if results.iter().all(|x| x.passed) {
        Verdict::Passed
    } else {
        Verdict::Failed
    }
}

/// Every check of a drill: the limits that are set ([`evaluate`]), then one failed result per action that could
/// not be verified ([`unverified`]).
pub fn check(e: &Expectations, m: &Measurement, actions: &[ActionEvent]) -> Vec<ExpectationResult> {
    let mut out = evaluate(e, m);
    out.extend(actions.iter().filter_map(unverified));
    out
}

/// An action that could not be verified fails the drill: a fault that may not have taken effect tested
/// nothing, and a step that did not happen leaves the figures meaningless. `None` for a verified action.
pub fn unverified(a: &ActionEvent) -> Option<ExpectationResult> {
    (!a.verified).then(|| ExpectationResult {
        name: format!("action_{}_{}", a.index, a.action),
        limit: "took effect and verified".into(),
        actual: "not verified".into(),
        passed: false,
        detail: format!("{}: {}", a.summary, a.detail),
    })
}

fn status_name(s: RtoStatus) -> String {
    serde_json::to_value(s).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
}

fn ms_text(ms: f64) -> String {
    human(Duration::from_secs_f64(ms / 1000.0))
}

/// A limit in the milliseconds the measurement uses.
fn limit_ms(d: Duration) -> f64 {
    d.as_nanos() as f64 / 1e6
}

/// One result per limit that is set, in the order of [`Expectations`]' fields. A figure that is unknown or was
/// not measured (RTO of `no_fault`, RPO of `unknown`, p99 without requests) fails its limit.
pub fn evaluate(e: &Expectations, m: &Measurement) -> Vec<ExpectationResult> {
    let mut out = Vec::new();
    let mut push = |name: &str, limit: String, actual: String, passed: bool, detail: String| {
        out.push(ExpectationResult { name: name.into(), limit, actual, passed, detail })
    };
    if let Some(max) = e.rto_max {
        let limit = format!("<= {}", human(max));
        match (m.rto.status, m.rto.rto_ms) {
            (RtoStatus::NotRecovered, _) => push(
                "rto_max",
                limit,
                "not recovered".into(),
                false,
                "clients never saw a stable recovery".into(),
            ),
            (RtoStatus::NoFault, _) => push(
                "rto_max",
                limit,
                "no fault".into(),
                false,
                "no fault took effect: nothing was measured".into(),
            ),
            (_, Some(r)) => push("rto_max", limit, ms_text(r), r <= limit_ms(max), status_name(m.rto.status)),
            (_, None) => push("rto_max", limit, "unknown".into(), false, String::new()),
        }
    }
    let unknown = m.writes.rpo.status == RpoStatus::Unknown;
    let why = match &m.writes.rpo.reason {
        _ if m.writes.rpo.status == RpoStatus::NotMeasured => "not measured: no writes".to_string(),
        Some(r) => format!("unknown: the written data could not be read back ({r})"),
        None => "unknown: the written data could not be read back".to_string(),
    };
    if let Some(max) = e.rpo_max {
        let limit = format!("<= {}", human(max));
        match m.writes.rpo.rpo_ms {
            Some(r) if !unknown => push("rpo_max", limit, ms_text(r), r <= limit_ms(max), String::new()),
            _ => push("rpo_max", limit, "unknown".into(), false, why.clone()),
        }
    }
    if let Some(max) = e.lost_writes_max {
        let limit = format!("<= {max}");
        match m.writes.lost {
            Some(l) if !unknown => push(
                "lost_writes_max",
                limit,
                l.to_string(),
                l <= max,
                format!("of {} acknowledged", m.writes.acknowledged),
            ),
            _ => push("lost_writes_max", limit, "unknown".into(), false, why),
        }
    }
    if let Some(max) = e.error_rate_max {
        let r = m.requests.error_rate;
        push(
            "error_rate_max",
            format!("<= {:.2}%", max * 100.0),
            format!("{:.2}%", r * 100.0),
            r <= max,
            format!("{} of {} requests failed", m.requests.failed, m.requests.total),
        );
    }
    if let Some(max) = e.p99_max {
        let limit = format!("<= {}", human(max));
        match m.latency.overall.p99_ms {
            Some(p) => push(
                "p99_max",
                limit,
                ms_text(p),
                p <= limit_ms(max),
                "latency from the intended send time".into(),
            ),
            None => push("p99_max", limit, "no requests".into(), false, String::new()),
        }
    }
    if let Some(want) = e.recovered {
        let got = matches!(m.rto.status, RtoStatus::Recovered | RtoStatus::NoFailure);
        push("recovered", want.to_string(), got.to_string(), got == want, status_name(m.rto.status));
    }
    let slo = &m.slo;
    let within = slo.slow_ms.map(|s| format!(" within {}", ms_text(s))).unwrap_or_default();
    if let Some(min) = e.availability_min {
        let limit = format!(">= {min}%");
        match slo.availability_pct {
            Some(a) => push(
                "availability_min",
                limit,
                format!("{a:.3}%"),
                a >= min,
                format!("{} of {} requests answered{within}", slo.good, m.requests.total),
            ),
            None => push("availability_min", limit, "no requests".into(), false, String::new()),
        }
    }
    if let Some(max) = e.degraded_max {
        let d = &slo.degraded;
        push(
            "degraded_max",
            format!("<= {}", human(max)),
            ms_text(d.total_ms),
            d.total_ms <= limit_ms(max),
            format!(
                "{} window{}, {} answers slower than {}",
                d.count,
                if d.count == 1 { "" } else { "s" },
                slo.slow,
                slo.slow_ms.map_or(String::new(), ms_text)
            ),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::measure::rto::tests::timeline;
    use crate::measure::{measure, Params};
    use crate::timeline::{Kind, Outcome, Verification, MILLI, SECOND};

    fn m(fail_to: u64, verified: bool) -> Measurement {
        let tl = timeline(20_000, 10, |t| (5000..fail_to).contains(&t));
        let v = if verified {
            Verification::Read(Default::default())
        } else {
            Verification::Failed("503".into())
        };
        measure(&tl, Some(5000 * MILLI), 20 * SECOND, Some(&v), &[], &Params::default())
    }

    /// Three acknowledged writes at 1, 2 and 3 s; the read-back finds only the first. Fault at 2.5 s.
    fn lossy() -> Measurement {
        let w = |seq: u32| {
            Outcome::new(
                u64::from(seq) * SECOND,
                u64::from(seq) * SECOND,
                u64::from(seq) * SECOND,
                Kind::Write,
                None,
                seq,
            )
        };
        let v = Verification::Read([1].into());
        measure(&[w(1), w(2), w(3)], Some(2500 * MILLI), 4 * SECOND, Some(&v), &[], &Params::default())
    }

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    fn only(e: Expectations, m: &Measurement) -> ExpectationResult {
        let mut r = evaluate(&e, m);
        assert_eq!(r.len(), 1, "{r:?}");
        r.remove(0)
    }

    #[test]
    fn nothing_set_checks_nothing() {
        assert!(evaluate(&Expectations::default(), &m(7000, true)).is_empty());
    }

    #[test]
    fn rto_limits() {
        let e = Expectations { rto_max: Some(secs(2)), ..Default::default() };
        let ok = only(e.clone(), &m(7000, true));
        assert!(ok.passed, "{ok:?}");
        assert_eq!(
            (ok.name.as_str(), ok.limit.as_str(), ok.actual.as_str()),
            ("rto_max", "<= 2.00s", "2.00s")
        );
        assert!(!only(e.clone(), &m(7500, true)).passed);
        let r = only(e, &m(19_000, true));
        assert!(!r.passed && r.actual == "not recovered", "{r:?}");
    }

    #[test]
    fn no_failure_is_an_rto_of_zero_and_passes_even_a_zero_limit() {
        let r = only(Expectations { rto_max: Some(Duration::ZERO), ..Default::default() }, &m(0, true));
        assert!(r.passed, "{r:?}");
        assert_eq!((r.actual.as_str(), r.detail.as_str()), ("0ms", "no_failure"));
    }

    #[test]
    fn no_fault_fails_an_rto_limit() {
        let tl = timeline(10_000, 10, |_| false);
        let no_fault = measure(&tl, None, 10 * SECOND, None, &[], &Params::default());
        let r = only(Expectations { rto_max: Some(secs(1)), ..Default::default() }, &no_fault);
        assert!(!r.passed && r.actual == "no fault", "{r:?}");
        let rec = only(Expectations { recovered: Some(true), ..Default::default() }, &no_fault);
        assert!(!rec.passed && rec.detail == "no_fault", "{rec:?}");
    }

    #[test]
    fn unknown_rpo_fails_lost_writes_and_rpo_limits() {
        let e = Expectations { lost_writes_max: Some(0), rpo_max: Some(secs(1)), ..Default::default() };
        let ok = evaluate(&e, &m(7000, true));
        assert!(ok.iter().all(|r| r.passed), "{ok:?}");
        let unknown = evaluate(&e, &m(7000, false));
        assert_eq!(unknown.len(), 2);
        assert!(
            unknown.iter().all(|r| !r.passed && r.actual == "unknown" && r.detail.starts_with("unknown")),
            "{unknown:?}"
        );
        assert!(unknown[0].detail.contains("503"), "{unknown:?}");
    }

    #[test]
    fn measured_losses_against_their_limits() {
        let m = lossy();
        assert_eq!((m.writes.lost, m.writes.rpo.rpo_ms), (Some(2), Some(1000.0)));
        let lost = |max| only(Expectations { lost_writes_max: Some(max), ..Default::default() }, &m);
        assert!(!lost(1).passed);
        assert!(lost(2).passed);
        assert_eq!((lost(1).actual.as_str(), lost(1).detail.as_str()), ("2", "of 3 acknowledged"));
        let rpo = |max| only(Expectations { rpo_max: Some(max), ..Default::default() }, &m);
        assert!(!rpo(Duration::from_millis(999)).passed);
        assert!(rpo(secs(1)).passed);
        assert_eq!(rpo(secs(1)).actual, "1.00s");
    }

    #[test]
    fn error_rate_and_recovered() {
        let e = Expectations { error_rate_max: Some(0.05), recovered: Some(true), ..Default::default() };
        let r = evaluate(&e, &m(7000, true));
        assert!(!r[0].passed, "200 of 2000 failed is 10%");
        assert_eq!((r[0].limit.as_str(), r[0].actual.as_str()), ("<= 5.00%", "10.00%"));
        assert!(r[1].passed);
        assert!(
            only(Expectations { error_rate_max: Some(0.1), ..Default::default() }, &m(7000, true)).passed
        );
        let not = only(Expectations { recovered: Some(false), ..Default::default() }, &m(19_000, true));
        assert!(not.passed && not.actual == "false", "{not:?}");
        assert!(!only(Expectations { recovered: Some(false), ..Default::default() }, &m(7000, true)).passed);
    }

    #[test]
    fn p99_limit_is_the_overall_p99() {
        let m = m(7000, true);
        assert!((m.latency.overall.p99_ms.unwrap() - 2.0).abs() < 0.01);
        assert!(
            only(Expectations { p99_max: Some(Duration::from_millis(2)), ..Default::default() }, &m).passed
        );
        let slow = only(Expectations { p99_max: Some(Duration::from_millis(1)), ..Default::default() }, &m);
        assert!(!slow.passed && slow.actual == "2ms", "{slow:?}");
        let empty = measure(&[], Some(0), SECOND, None, &[], &Params::default());
        let none = only(Expectations { p99_max: Some(secs(1)), ..Default::default() }, &empty);
        assert!(!none.passed && none.actual == "no requests", "{none:?}");
    }

    fn cycle(rto_ms: f64, lost: u64, failed: bool) -> CycleFigures {
        CycleFigures { rto_ms: Some(rto_ms), lost_writes: Some(lost), failed }
    }

    fn by_name<'a>(r: &'a [ExpectationResult], name: &str) -> &'a ExpectationResult {
        r.iter().find(|x| x.name == name).unwrap_or_else(|| panic!("no {name} in {r:?}"))
    }

    #[test]
    fn the_p90_of_the_cycles_gates_and_one_slow_cycle_in_five_fails_it() {
        let e = Expectations {
            rto_p50_max: Some(Duration::from_secs(7)),
            rto_p90_max: Some(Duration::from_secs(8)),
            ..Default::default()
        };
        let steady: Vec<CycleFigures> =
            [6580.0, 6900.0, 6700.0, 7000.0, 6600.0].map(|r| cycle(r, 0, false)).to_vec();
        let ok = evaluate_cycles(&e, &steady);
        assert!(ok.iter().all(|r| r.passed), "{ok:?}");
        assert_eq!(by_name(&ok, "rto_p90_max").actual, "7.00s");
        assert_eq!(by_name(&ok, "rto_p50_max").actual, "6.70s");
        let mut one_slow = steady.clone();
        one_slow[2].rto_ms = Some(12_000.0);
        let r = evaluate_cycles(&e, &one_slow);
        let p90 = by_name(&r, "rto_p90_max");
        assert!(!p90.passed && p90.actual == "12.00s", "nearest rank p90 of 5 is the slowest: {p90:?}");
        assert!(by_name(&r, "rto_p50_max").passed, "the median holds");
        assert_eq!(verdict(&r, false), Verdict::Failed);
    }

    #[test]
    fn a_cycle_that_never_recovered_fails_the_p90_and_ten_cycles_tolerate_one() {
        let e = Expectations { rto_p90_max: Some(Duration::from_secs(8)), ..Default::default() };
        let mut ten: Vec<CycleFigures> = (0..10).map(|_| cycle(6000.0, 0, false)).collect();
        ten[0].rto_ms = Some(f64::INFINITY);
        let r = by_name(&evaluate_cycles(&e, &ten), "rto_p90_max").clone();
        assert!(r.passed, "the 9th of 10 is a recovered cycle: {r:?}");
        assert!(r.detail.contains("1 not recovered"), "{r:?}");
        ten[1].rto_ms = Some(f64::INFINITY);
        let r = by_name(&evaluate_cycles(&e, &ten), "rto_p90_max").clone();
        assert!(!r.passed && r.actual == "not recovered", "{r:?}");
    }

    #[test]
    fn lost_writes_in_all_and_flaky_cycles() {
        let e = Expectations { lost_writes_total_max: Some(2), flaky_max: Some(1), ..Default::default() };
        let cycles = [cycle(1.0, 1, false), cycle(1.0, 1, true), cycle(1.0, 0, false)];
        let r = evaluate_cycles(&e, &cycles);
        assert_eq!(r.len(), 2);
        assert!(by_name(&r, "lost_writes_total_max").passed);
        let flaky = by_name(&r, "flaky_max");
        assert!(flaky.passed && flaky.actual == "1" && flaky.detail == "failed: cycle 2", "{flaky:?}");
        let two_failed = [cycle(1.0, 2, true), cycle(1.0, 1, true)];
        let r = evaluate_cycles(&e, &two_failed);
        assert_eq!(r.iter().filter(|x| !x.passed).count(), 2, "3 lost > 2, 2 failed > 1: {r:?}");
        let unknown = [cycle(1.0, 0, false), CycleFigures { lost_writes: None, ..cycle(1.0, 0, false) }];
        let u = evaluate_cycles(&e, &unknown);
        assert!(!by_name(&u, "lost_writes_total_max").passed);
        let strict = evaluate_cycles(&Expectations::default(), &[cycle(1.0, 0, true)]);
        assert_eq!(strict.len(), 1);
        assert!(!strict[0].passed && strict[0].limit == "<= 0 failed cycles", "no flaky cycle by default");
    }

    fn result(passed: bool) -> ExpectationResult {
        ExpectationResult {
            name: "x".into(),
            limit: String::new(),
            actual: String::new(),
            passed,
            detail: String::new(),
        }
    }

    #[test]
    fn availability_and_degraded_limits() {
        let mut tl = timeline(10_000, 10, |t| (2000..2010).contains(&t));
        for o in tl.iter_mut().filter(|o| (5000..5500).contains(&(o.intended() / MILLI))) {
            o.set_ended(o.intended() + SECOND);
        }
        let params = Params { slow: Some(Duration::from_millis(500)), ..Default::default() };
        let m = measure(&tl, Some(5000 * MILLI), 10 * SECOND, None, &[], &params);
        let e = Expectations {
            availability_min: Some(99.0),
            degraded_max: Some(Duration::from_millis(1490)),
            ..Default::default()
        };
        let r = evaluate(&e, &m);
        assert!(!r[0].passed, "1 failed and 50 slow of 1000 is 94.9%: {r:?}");
        assert_eq!((r[0].limit.as_str(), r[0].actual.as_str()), (">= 99%", "94.900%"));
        assert_eq!(r[0].detail, "949 of 1000 requests answered within 500ms");
        assert!(r[1].passed, "{r:?}");
        assert_eq!(
            (r[1].actual.as_str(), r[1].detail.as_str()),
            ("1.49s", "1 window, 50 answers slower than 500ms")
        );
        let tighter = Expectations { degraded_max: Some(Duration::from_secs(1)), ..Default::default() };
        assert!(!only(tighter, &m).passed);
        let no_slow = measure(&tl, Some(5000 * MILLI), 10 * SECOND, None, &[], &Params::default());
        let plain = only(Expectations { availability_min: Some(99.9), ..Default::default() }, &no_slow);
        assert!(plain.passed && plain.actual == "99.900%", "without slow only the failure counts: {plain:?}");
        let empty = measure(&[], None, SECOND, None, &[], &params);
        let none = only(Expectations { availability_min: Some(0.0), ..Default::default() }, &empty);
        assert!(!none.passed && none.actual == "no requests", "{none:?}");
    }

    #[test]
    fn the_verdict() {
        assert_eq!(verdict(&[], false), Verdict::Passed, "no limit set: nothing failed");
        assert_eq!(verdict(&[result(true), result(false)], false), Verdict::Failed);
        assert_eq!(verdict(&[result(true)], true), Verdict::Aborted, "an interrupt outranks the figures");
        assert_eq!(verdict(&[result(false)], true), Verdict::Aborted);
    }

    #[test]
    fn an_action_that_could_not_be_verified_fails() {
        let action = |index, verified| ActionEvent {
            index,
            role: crate::timeline::ActionRole::Fault,
            action: "partition".into(),
            summary: "partition pg1 from pg2".into(),
            targets: vec!["pg1".into()],
            scheduled: 0,
            started: 0,
            effect: None,
            effect_source: None,
            verified,
            detail: "iptables: permission denied".into(),
            reverted: None,
            replaced: Vec::new(),
        };
        let e = Expectations { rto_max: Some(secs(5)), ..Default::default() };
        let all = check(&e, &m(7000, true), &[action(0, true), action(1, false)]);
        assert_eq!(all.len(), 2, "{all:?}");
        assert!(all[0].passed && all[0].name == "rto_max");
        assert_eq!(
            (all[1].name.as_str(), all[1].actual.as_str(), all[1].passed),
            ("action_1_partition", "not verified", false)
        );
        assert_eq!(all[1].detail, "partition pg1 from pg2: iptables: permission denied");
        assert_eq!(verdict(&all, false), Verdict::Failed);
    }
}
