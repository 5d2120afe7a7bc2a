//! Building the one [`Report`] every view renders: the measurement, the expectations, the events, in ms.

use crate::drill::run::Drill;
use crate::measure::expect::{self, Expectations};
use crate::measure::{measure, Params};
use crate::scenario::Scenario;
use crate::timeline::{ActionEvent, Nanos};

use super::model::{
    ActionView, EventView, Report, RunInfo, ScenarioInfo, StackEventView, Verdict, SCHEMA_VERSION,
};
use crate::observe::postgres::LagSample;

fn ms(n: Nanos) -> f64 {
    n as f64 / 1e6
}

fn nanos(d: std::time::Duration) -> Nanos {
    d.as_nanos() as Nanos
}

pub fn rfc3339(unix_ms: u64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(unix_ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_else(|| unix_ms.to_string())
}

fn action_view(a: &ActionEvent) -> ActionView {
    ActionView {
        index: a.index,
        role: a.role,
        action: a.action.clone(),
        summary: a.summary.clone(),
        targets: a.targets.clone(),
        scheduled_ms: ms(a.scheduled),
        started_ms: ms(a.started),
        effect_ms: a.effect.map(ms),
        effect_source: a.effect_source,
        verified: a.verified,
        detail: a.detail.clone(),
        reverted_ms: a.reverted.map(ms),
    }
}

/// The last lag sample of each standby before the fault (all of the last round when there was no fault).
fn lag_before(lags: &[LagSample], t_fault_ms: Option<f64>) -> Vec<LagSample> {
    let mut last: std::collections::BTreeMap<(String, String), LagSample> = Default::default();
    for l in lags.iter().filter(|l| t_fault_ms.is_none_or(|t| l.at_ms < t)) {
        last.insert((l.node.clone(), l.standby.clone()), l.clone());
    }
    last.into_values().collect()
}

pub fn build(sc: &Scenario, d: &Drill) -> Report {
    let rec = &d.recording;
    let params =
        Params { recovery_ratio: sc.measure.recovery_ratio, stable_for: nanos(sc.measure.stable_for) };
    let t_fault = rec.t_fault();
    let measurement =
        measure(&rec.outcomes, t_fault, rec.load_end, rec.verification.as_ref(), &rec.stack_events, &params);
    let lag_before_fault = lag_before(&rec.lags, t_fault.map(ms));
    let e = &sc.expect;
    let expectations = expect::evaluate(
        &Expectations {
            rto_max: e.rto_max.map(nanos),
            rpo_max: e.rpo_max.map(nanos),
            lost_writes_max: e.lost_writes_max,
            error_rate_max: e.error_rate_max,
            p99_max: e.p99_max.map(nanos),
            recovered: e.recovered,
        },
        &measurement,
    );
    let mut expectations = expectations;
    for a in rec.actions.iter().filter(|a| !a.verified) {
        expectations.push(crate::measure::expect::ExpectationResult {
            name: format!("action_{}_{}", a.index, a.action),
            limit: "took effect and verified".into(),
            actual: "not verified".into(),
            passed: false,
            detail: format!("{}: {}", a.summary, a.detail),
        });
    }
    let verdict = if rec.aborted.is_some() {
        Verdict::Aborted
    } else if expectations.iter().all(|x| x.passed) {
        Verdict::Passed
    } else {
        Verdict::Failed
    };
    Report {
        schema_version: SCHEMA_VERSION,
        hadrill_version: env!("CARGO_PKG_VERSION").to_string(),
        verdict,
        scenario: ScenarioInfo {
            name: sc.name.clone(),
            description: sc.description.clone(),
            file: sc.file.display().to_string(),
            stack: sc.stack.clone(),
            duration_ms: sc.duration.as_secs_f64() * 1000.0,
            rate_per_s: sc.load.rate,
            read_ratio: sc.load.read_ratio,
            request_timeout_ms: sc.load.timeout.as_secs_f64() * 1000.0,
            max_in_flight: sc.load.max_in_flight,
            recovery_ratio: sc.measure.recovery_ratio,
            stable_for_ms: sc.measure.stable_for.as_secs_f64() * 1000.0,
        },
        run: RunInfo {
            project: d.project.clone(),
            compose: d.compose.clone(),
            started_unix_ms: d.started_unix_ms,
            started_at: rfc3339(d.started_unix_ms),
            seed: d.seed,
            key_prefix: d.key_prefix.clone(),
            kept: d.kept,
            peak_rss_bytes: crate::usage::peak_bytes(),
            cpu_seconds: crate::usage::cpu_seconds(),
        },
        t_fault_ms: t_fault.map(ms),
        actions: rec.actions.iter().map(action_view).collect(),
        docker_events: rec
            .docker_events
            .iter()
            .map(|e| EventView {
                at_ms: e.at / 1_000_000,
                container: e.container.clone(),
                action: e.action.clone(),
            })
            .collect(),
        stack_events: rec
            .stack_events
            .iter()
            .map(|e| StackEventView {
                at_ms: ms(e.at),
                source: e.source.clone(),
                subject: e.subject.clone(),
                state: e.state.clone(),
                kind: e.kind,
            })
            .collect(),
        observers: rec.observers.clone(),
        observers_skipped: rec.observers_skipped.clone(),
        replication_lag_before_fault: lag_before_fault,
        measurement,
        expectations,
        revert_errors: rec.revert_errors.clone(),
        aborted: rec.aborted.clone(),
    }
}
