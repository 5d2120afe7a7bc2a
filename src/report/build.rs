//! Building the one [`Report`] every view renders: the measurement, the expectations, the events, in ms. Pure:
//! the scenario, the drill's recording and hadrill's own usage in, the report out.

use crate::drill::run::Drill;
use crate::measure::expect;
use crate::measure::measure_sorted;
use crate::measure::rto::ms;
use crate::observe::postgres::LagSample;
use crate::scenario::Scenario;
use crate::timeline::ActionEvent;
use crate::usage::Usage;

use super::model::{ActionView, EventView, Report, RunInfo, ScenarioInfo, StackEventView, SCHEMA_VERSION};

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

/// The report of a drill. `usage` is hadrill's own peak memory and CPU time up to now ([`Usage::now`]).
pub fn build(sc: &Scenario, d: &Drill, usage: Usage) -> Report {
    let rec = &d.recording;
    let t_fault = rec.t_fault();
    let measurement = measure_sorted(
        &rec.outcomes,
        t_fault,
        rec.load_end,
        rec.verification.as_ref(),
        &rec.stack_events,
        &sc.measure,
    );
    let expectations = expect::check(&sc.expect, &measurement, &rec.actions);
    Report {
        schema_version: SCHEMA_VERSION,
        hadrill_version: env!("CARGO_PKG_VERSION").to_string(),
        verdict: expect::verdict(&expectations, rec.aborted.is_some()),
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
            peak_rss_bytes: usage.peak_rss_bytes,
            cpu_seconds: usage.cpu_seconds,
            phases: Some(d.phases),
        },
        t_fault_ms: t_fault.map(ms),
        actions: rec.actions.iter().map(action_view).collect(),
        docker_events: rec
            .docker_events
            .iter()
            .map(|e| EventView { at_ms: ms(e.at), container: e.container.clone(), action: e.action.clone() })
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
                origin: e.origin,
                resolution_ms: f64::from(e.resolution_us) / 1000.0,
            })
            .collect(),
        observers: rec.observers.clone(),
        observers_skipped: rec.observers_skipped.clone(),
        replication_lag_before_fault: lag_before(&rec.lags, t_fault.map(ms)),
        measurement,
        expectations,
        revert_errors: rec.revert_errors.clone(),
        aborted: rec.aborted.clone(),
        replacements: super::replacements::of(&rec.actions, &rec.stack_events, &rec.outcomes, rec.load_end),
        repeat: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::drill::record::Recording;
    use crate::measure::expect::Verdict;
    use crate::measure::rto::tests::timeline;
    use crate::timeline::{DockerEvent, EffectSource, StackEvent, StackEventKind, Verification};
    use crate::timeline::{MILLI, SECOND};

    /// A 20 s drill at 100 req/s: a pause of app2 at 5 s, a 2 s outage, `rto_max = "5s"`.
    fn scenario() -> Scenario {
        let text = "name = \"pause app2\"\nstack = \"web-haproxy-pg\"\nduration = \"20s\"\nseed = 7\n\
                    [measure]\nstable_for = \"2s\"\n\
                    [[fault]]\nat = \"5s\"\naction = \"pause\"\ntarget = \"app2\"\nduration = \"2s\"\n\
                    [expect]\nrto_max = \"5s\"\n";
        crate::scenario::parse::parse(std::path::Path::new("scenarios/t.toml"), text).unwrap()
    }

    fn lag(at_ms: f64, standby: &str, bytes: i64) -> LagSample {
        LagSample {
            at_ms,
            node: "pg1".into(),
            standby: standby.into(),
            sync_state: "async".into(),
            replay_lag_bytes: bytes,
        }
    }

    fn drill(verified: bool) -> Drill {
        let pause = ActionEvent {
            summary: "pause app2 for 2s".into(),
            targets: vec!["app2".into()],
            started: 4999 * MILLI,
            effect: Some(5 * SECOND),
            effect_source: Some(EffectSource::DockerEvent),
            verified,
            detail: "paused".into(),
            reverted: Some(7 * SECOND + 250_000),
            ..ActionEvent::test(0, "pause", 5 * SECOND)
        };
        Drill {
            recording: Recording {
                outcomes: timeline(20_000, 10, |t| (5000..7000).contains(&t)).into(),
                load_end: 20 * SECOND,
                actions: vec![pause],
                docker_events: vec![DockerEvent {
                    at: 5 * SECOND + 500_000,
                    container: "app2".into(),
                    action: "pause".into(),
                }],
                stack_events: vec![StackEvent {
                    at: 5500 * MILLI,
                    origin: crate::timeline::Origin::Poll,
                    resolution_us: 200_000,
                    source: "haproxy".into(),
                    subject: "app2".into(),
                    state: "DOWN".into(),
                    kind: StackEventKind::Detection,
                }],
                lags: vec![lag(3000.0, "pg2", 10), lag(4000.0, "pg2", 20), lag(6000.0, "pg2", 99)],
                observers: vec!["haproxy lb:8404".into()],
                observers_skipped: vec![],
                verification: Some(Verification::Read(Default::default())),
                aborted: None,
                revert_errors: vec![],
            },
            project: "hadrill-web-haproxy-pg-abc123".into(),
            compose: "docker-compose".into(),
            seed: 7,
            key_prefix: "k".into(),
            started_unix_ms: 1_764_000_000_000,
            kept: false,
            restarted: Vec::new(),
            phases: crate::drill::phases::Phases { load_ms: 20_000.0, ..Default::default() },
        }
    }

    const USAGE: Usage = Usage { peak_rss_bytes: Some(40 << 20), cpu_seconds: Some(1.5) };

    #[test]
    fn a_drill_becomes_its_report_in_milliseconds() {
        let r = build(&scenario(), &drill(true), USAGE);
        assert_eq!(r.verdict, Verdict::Passed, "{:?}", r.expectations);
        assert_eq!(r.t_fault_ms, Some(5000.0));
        assert_eq!(r.measurement.rto.rto_ms, Some(2000.0));
        assert_eq!((r.scenario.duration_ms, r.scenario.stable_for_ms), (20_000.0, 2000.0));
        assert_eq!((r.run.peak_rss_bytes, r.run.cpu_seconds), (Some(40 << 20), Some(1.5)), "usage as given");
        assert_eq!(r.run.started_at, "2025-11-24T16:00:00Z");
        assert_eq!(r.run.phases.map(|p| p.load_ms), Some(20_000.0), "the drill's phases as timed");
        let a = &r.actions[0];
        assert_eq!((a.started_ms, a.effect_ms, a.reverted_ms), (4999.0, Some(5000.0), Some(7000.25)));
        assert_eq!(r.docker_events[0].at_ms, 5000.5, "Docker events in the same fractional ms as the rest");
        assert_eq!(r.stack_events[0].at_ms, 5500.0);
        assert_eq!(r.replication_lag_before_fault, vec![lag(4000.0, "pg2", 20)], "the last sample before");
        assert_eq!(r.expectations.len(), 1);
        assert_eq!((r.expectations[0].name.as_str(), r.expectations[0].passed), ("rto_max", true));
    }

    #[test]
    fn stable_for_from_the_scenario_judges_recovery() {
        let mut sc = scenario();
        let two_s = build(&sc, &drill(true), USAGE);
        sc.measure.stable_for = std::time::Duration::from_secs(14);
        let too_long = build(&sc, &drill(true), USAGE);
        assert_eq!(two_s.measurement.rto.status, crate::measure::rto::RtoStatus::Recovered);
        assert_eq!(too_long.measurement.rto.status, crate::measure::rto::RtoStatus::NotRecovered);
        assert_eq!(too_long.verdict, Verdict::Failed);
    }

    #[test]
    fn an_unverified_action_fails_the_drill_and_an_interrupt_aborts_it() {
        let r = build(&scenario(), &drill(false), USAGE);
        assert_eq!(r.verdict, Verdict::Failed);
        let last = r.expectations.last().unwrap();
        assert_eq!((last.name.as_str(), last.passed), ("action_0_pause", false));
        assert_eq!(last.detail, "pause app2 for 2s: paused");
        let mut d = drill(true);
        d.recording.aborted = Some("interrupted".into());
        assert_eq!(build(&scenario(), &d, USAGE).verdict, Verdict::Aborted);
    }

    #[test]
    fn the_same_drill_gives_the_same_report() {
        assert_eq!(build(&scenario(), &drill(true), USAGE), build(&scenario(), &drill(true), USAGE));
    }
}
