//! A drill against a baseline (`hadrill compare`, `hadrill run --baseline`): every figure of two reports side
//! by side with its change, and the gate: a gated figure that got worse beyond the tolerance is a regression.
//!
//! The comparison walks a list of named figures ([`figures`]), each saying whether lower or higher is better
//! and whether it gates; a report with more figures (the distributions of a repeated drill: medians and p90s)
//! adds entries to that list and the table, the gate and the tests follow. A figure is worse beyond the
//! tolerance when it moved the wrong way by more than `tolerance` of the baseline (of what it lacks to 100%
//! for availability) *and* by more than its
//! `slack` (an absolute amount under which a change is noise: 20 ms for times, 0.05 points for percentages), so
//! a baseline of 0 does not make every nanosecond a regression while 0 lost writes to 1 still is one.

use std::path::Path;

use crate::error::{Error, Result};
use crate::report::model::Report;
use crate::report::view::opt_ms;

/// Which way a figure improves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Better {
    Lower,
    Higher,
}

/// How a figure's value reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Ms,
    Count,
    Percent,
}

impl Unit {
    /// The change under which a move is noise, in the figure's unit.
    fn slack(self) -> f64 {
        match self {
            Unit::Ms => 20.0,
            Unit::Count => 0.0,
            Unit::Percent => 0.05,
        }
    }

    fn text(self, v: Option<f64>) -> String {
        match (self, v) {
            (_, None) => "unknown".into(),
            (Unit::Ms, v) => opt_ms(v),
            (Unit::Count, Some(v)) => format!("{v}"),
            (Unit::Percent, Some(v)) => format!("{v:.3}%"),
        }
    }
}

/// One figure of a report: `None` when the report does not know it (not recovered, RPO unknown, no request).
#[derive(Debug, Clone, PartialEq)]
pub struct Figure {
    pub name: String,
    pub unit: Unit,
    pub better: Better,
    /// Whether getting worse fails the comparison (the others are shown for context).
    pub gated: bool,
    pub value: Option<f64>,
}

fn figure(name: &str, unit: Unit, better: Better, gated: bool, value: Option<f64>) -> Figure {
    Figure { name: name.into(), unit, better, gated, value }
}

/// The figures of a report, in the order the table shows them.
pub fn figures(r: &Report) -> Vec<Figure> {
    use Better::{Higher, Lower};
    use Unit::{Count, Ms, Percent};
    let m = &r.measurement;
    let known_rpo = m.writes.rpo.status == crate::measure::rpo::RpoStatus::Measured;
    let rto = match m.rto.status {
        crate::measure::rto::RtoStatus::NoFailure => Some(0.0),
        _ => m.rto.rto_ms,
    };
    vec![
        figure("RTO", Ms, Lower, true, rto),
        figure("RPO", Ms, Lower, true, m.writes.rpo.rpo_ms.filter(|_| known_rpo)),
        figure("lost writes", Count, Lower, true, m.writes.lost.filter(|_| known_rpo).map(|l| l as f64)),
        figure("error rate", Percent, Lower, true, Some(m.requests.error_rate * 100.0)),
        figure("availability", Percent, Higher, true, m.slo.availability_pct),
        figure("degraded (total)", Ms, Lower, true, Some(m.slo.degraded.total_ms)),
        figure("outage (total)", Ms, Lower, true, Some(m.outages.total_ms)),
        figure("p99 latency", Ms, Lower, true, m.latency.overall.p99_ms),
        figure("p50 latency", Ms, Lower, false, m.latency.overall.p50_ms),
        figure("p99 fault to recovery", Ms, Lower, false, m.latency.during.p99_ms),
        figure("time to first error", Ms, Higher, false, m.rto.time_to_first_error_ms),
        figure("longest gap between successes", Ms, Lower, false, Some(m.outages.longest_gap_ms)),
        figure("requests", Count, Higher, false, Some(m.requests.total as f64)),
    ]
}

/// One row of the comparison.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub name: String,
    pub unit: Unit,
    pub gated: bool,
    pub base: Option<f64>,
    pub new: Option<f64>,
    /// Relative change in percent (`None` when either side is unknown or the base is 0).
    pub change_pct: Option<f64>,
    /// Worse beyond the tolerance (a known figure that became unknown is worse).
    pub regressed: bool,
}

/// `new` against `base`, figure by figure (matched by name; a figure only one side has is left out);
/// `tolerance` is a fraction (0.2 for 20%).
pub fn compare(base: &[Figure], new: &[Figure], tolerance: f64) -> Vec<Change> {
    new.iter()
        .filter_map(|n| {
            let b = base.iter().find(|b| b.name == n.name)?;
            let change_pct = match (b.value, n.value) {
                (Some(b), Some(n)) if b != 0.0 => Some((n - b) / b.abs() * 100.0),
                _ => None,
            };
            let regressed = match (b.value, n.value) {
                (Some(_), None) => true,
                (Some(bv), Some(nv)) => {
                    let worse_by = match n.better {
                        Better::Lower => nv - bv,
                        Better::Higher => bv - nv,
                    };
                    worse_by > tolerance * scale(n, bv) && worse_by > n.unit.slack()
                }
                (None, _) => false,
            };
            Some(Change {
                name: n.name.clone(),
                unit: n.unit,
                gated: n.gated,
                base: b.value,
                new: n.value,
                change_pct,
                regressed,
            })
        })
        .collect()
}

/// What the tolerance is a share of: the baseline's value, or for a percentage where higher is better
/// (availability) what it lacks to 100%, so 97.75% to 96.5% is the bad share growing by half, not a 1.3% dip.
fn scale(f: &Figure, base: f64) -> f64 {
    match (f.better, f.unit) {
        (Better::Higher, Unit::Percent) => 100.0 - base,
        _ => base.abs(),
    }
}

/// Whether the comparison fails: a gated figure regressed.
pub fn failed(changes: &[Change]) -> bool {
    changes.iter().any(|c| c.gated && c.regressed)
}

/// The comparison as a Markdown table (also what the console prints), with a closing line that says the
/// outcome.
pub fn markdown(base: &str, new: &str, changes: &[Change], tolerance: f64) -> String {
    let mut s = format!(
        "## Against the baseline\n\nbaseline `{base}`, this run `{new}`; tolerance {:.0}%\n\n\
         | figure | baseline | this run | change | |\n|---|---|---|---|---|\n",
        tolerance * 100.0
    );
    for c in changes {
        let change = match (c.change_pct, c.base, c.new) {
            (Some(p), _, _) => format!("{p:+.1}%"),
            (None, Some(b), Some(n)) if b == n => "=".into(),
            (None, Some(_), Some(n)) => format!("from 0 to {}", c.unit.text(Some(n))),
            _ => String::new(),
        };
        let mark = match (c.gated, c.regressed) {
            (true, true) => "❌ worse",
            (true, false) => "✅",
            (false, true) => "worse (not gated)",
            (false, false) => "",
        };
        s.push_str(&format!(
            "| {} | {} | {} | {change} | {mark} |\n",
            c.name,
            c.unit.text(c.base),
            c.unit.text(c.new)
        ));
    }
    let worse: Vec<&str> =
        changes.iter().filter(|c| c.gated && c.regressed).map(|c| c.name.as_str()).collect();
    if worse.is_empty() {
        s.push_str("\nNo gated figure got worse beyond the tolerance.\n");
    } else {
        s.push_str(&format!("\nREGRESSED beyond the tolerance: {}.\n", worse.join(", ")));
    }
    s
}

/// `20%`, `20` or `0.5%` as a fraction; at most 1000%.
pub fn parse_tolerance(text: &str) -> Result<f64> {
    let number = text.trim().trim_end_matches('%');
    number.parse::<f64>().ok().filter(|t| (0.0..=1000.0).contains(t)).map(|t| t / 100.0).ok_or_else(|| {
        Error::Argument {
            flag: "--tolerance",
            value: text.into(),
            reason: "must be a percentage from 0% to 1000%, like 20%".into(),
        }
    })
}

/// A report.json read back: JSON, of this schema version, a hadrill report; else an error naming the file.
pub fn read(file: &Path) -> Result<Report> {
    let text = std::fs::read_to_string(file).map_err(|e| Error::io(file, e))?;
    let json = |what| move |source| Error::ReportJson { path: file.into(), what, source };
    let value: serde_json::Value = serde_json::from_str(&text).map_err(json("not JSON"))?;
    let version = value.get("schema_version").and_then(serde_json::Value::as_u64);
    if version != Some(u64::from(crate::report::SCHEMA_VERSION)) {
        return Err(Error::ReportVersion {
            path: file.into(),
            found: version.map(|v| v.to_string()).unwrap_or_else(|| "missing".into()),
            expected: crate::report::SCHEMA_VERSION,
        });
    }
    serde_json::from_value(value).map_err(json("not a hadrill report"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixture::report;

    fn change<'a>(changes: &'a [Change], name: &str) -> &'a Change {
        changes.iter().find(|c| c.name == name).unwrap_or_else(|| panic!("no {name} in {changes:?}"))
    }

    #[test]
    fn a_report_against_itself_has_no_change() {
        let f = figures(&report());
        let changes = compare(&f, &f, 0.2);
        assert_eq!(changes.len(), f.len());
        assert!(!failed(&changes));
        assert!(changes.iter().all(|c| !c.regressed && c.change_pct.is_none_or(|p| p == 0.0)), "{changes:?}");
        assert_eq!(change(&changes, "RTO").base, Some(2000.0));
    }

    #[test]
    fn a_slower_recovery_beyond_the_tolerance_fails_and_within_it_passes() {
        let base = report();
        let mut new = report();
        new.measurement.rto.rto_ms = Some(2500.0);
        let c = compare(&figures(&base), &figures(&new), 0.2);
        assert!(failed(&c), "+25% against 20%");
        assert_eq!(change(&c, "RTO").change_pct, Some(25.0));
        assert!(!failed(&compare(&figures(&base), &figures(&new), 0.3)), "+25% against 30%");
        new.measurement.rto.rto_ms = Some(1000.0);
        assert!(!failed(&compare(&figures(&base), &figures(&new), 0.0)), "better is never a regression");
    }

    #[test]
    fn from_zero_any_lost_write_is_a_regression_but_a_few_ms_are_noise() {
        let base = report();
        let mut new = report();
        new.measurement.writes.lost = Some(1);
        new.measurement.outages.total_ms += 15.0;
        let c = compare(&figures(&base), &figures(&new), 0.0);
        assert!(change(&c, "lost writes").regressed);
        assert_eq!(change(&c, "lost writes").change_pct, None);
        assert!(!change(&c, "outage (total)").regressed, "15 ms is under the 20 ms slack");
    }

    #[test]
    fn higher_is_better_figures_regress_when_they_drop() {
        let base = [figure("availability", Unit::Percent, Better::Higher, true, Some(99.9))];
        let drop =
            |v| compare(&base, &[figure("availability", Unit::Percent, Better::Higher, true, Some(v))], 0.0);
        assert!(failed(&drop(99.0)));
        assert!(!failed(&drop(99.88)), "0.02 points is under the slack");
        assert!(!failed(&drop(100.0)));
        let real = [figure("availability", Unit::Percent, Better::Higher, true, Some(97.75))];
        let to =
            |v| compare(&real, &[figure("availability", Unit::Percent, Better::Higher, true, Some(v))], 0.2);
        assert!(failed(&to(96.517)), "the unavailable share grew from 2.25% to 3.48%: +55%");
        assert!(!failed(&to(97.4)), "2.25% to 2.6% unavailable is +16%");
    }

    #[test]
    fn a_figure_that_became_unknown_regresses_and_ungated_ones_do_not_fail() {
        let base = report();
        let mut new = report();
        new.measurement.rto.status = crate::measure::rto::RtoStatus::NotRecovered;
        new.measurement.rto.rto_ms = None;
        new.measurement.latency.overall.p50_ms = Some(500.0);
        let c = compare(&figures(&base), &figures(&new), 0.2);
        assert!(change(&c, "RTO").regressed && change(&c, "RTO").new.is_none());
        assert!(change(&c, "p50 latency").regressed && !change(&c, "p50 latency").gated);
        let md = markdown("a/report.json", "b/report.json", &c, 0.2);
        assert!(md.contains("| RTO | 2.00 s | unknown |  | ❌ worse |"), "{md}");
        assert!(md.contains("| p50 latency | 2.0 ms | 500.0 ms | +24900.0% | worse (not gated) |"), "{md}");
        assert!(md.ends_with("REGRESSED beyond the tolerance: RTO.\n"), "{md}");
    }

    #[test]
    fn figures_only_one_side_has_are_left_out() {
        let base = [figure("RTO", Unit::Ms, Better::Lower, true, Some(1.0))];
        let new = [figure("RTO p90", Unit::Ms, Better::Lower, true, Some(9.0))];
        assert!(compare(&base, &new, 0.2).is_empty());
    }

    #[test]
    fn tolerances() {
        assert_eq!(parse_tolerance("20%").unwrap(), 0.2);
        assert_eq!(parse_tolerance("5").unwrap(), 0.05);
        assert_eq!(parse_tolerance("0%").unwrap(), 0.0);
        for bad in ["", "-1%", "twenty", "2000%", "NaN"] {
            let e = parse_tolerance(bad).unwrap_err().to_string();
            assert!(e.contains("--tolerance") && e.contains("percentage"), "{bad}: {e}");
        }
    }
}
