//! A hand-built report for the renderers' tests: a 20 s drill at 100 req/s whose fault at 5 s causes a 2 s
//! outage, with one stack event, one expectation that fails, and text that must be escaped.

use super::model::{ActionView, Report, RunInfo, ScenarioInfo, StackEventView, Verdict};
use crate::measure::rto::tests::timeline;
use crate::measure::{measure, Params};
use crate::timeline::{ActionRole, EffectSource, StackEventKind, Verification, MILLI, SECOND};

/// A 20 s drill at 100 req/s with a 2 s outage from the fault at 5 s, and a hostile description.
pub fn report() -> Report {
    let tl = timeline(20_000, 10, |t| (5000..7000).contains(&t));
    let events = [crate::timeline::StackEvent {
        at: 5500 * MILLI,
        origin: crate::timeline::Origin::Poll,
        resolution_us: 200_000,
        source: "haproxy".into(),
        subject: "app2".into(),
        state: "DOWN".into(),
        kind: StackEventKind::Detection,
    }];
    let m = measure(
        &tl,
        Some(5000 * MILLI),
        20 * SECOND,
        Some(&Verification::Read(Default::default())),
        &events,
        &Params::default(),
    );
    Report {
        schema_version: 1,
        hadrill_version: "0.1.0".into(),
        verdict: Verdict::Failed,
        scenario: ScenarioInfo {
            name: "kill <app2>".into(),
            description: "a \"hostile\" <script>alert(1)</script> & co".into(),
            file: "scenarios/x.toml".into(),
            stack: "web-haproxy-pg".into(),
            duration_ms: 20_000.0,
            rate_per_s: 100,
            read_ratio: 0.5,
            request_timeout_ms: 2000.0,
            max_in_flight: 512,
            recovery_ratio: 1.0,
            stable_for_ms: 3000.0,
        },
        run: RunInfo {
            project: "hadrill-web-haproxy-pg-000000".into(),
            compose: "docker-compose".into(),
            started_unix_ms: 0,
            started_at: "1970-01-01T00:00:00Z".into(),
            seed: 7,
            key_prefix: "k".into(),
            kept: false,
            peak_rss_bytes: Some(40 << 20),
            cpu_seconds: Some(3.5),
            phases: None,
        },
        t_fault_ms: Some(5000.0),
        actions: vec![ActionView {
            index: 0,
            role: ActionRole::Fault,
            action: "pause".into(),
            summary: "pause app2 for 2s".into(),
            targets: vec!["app2".into()],
            scheduled_ms: 5000.0,
            started_ms: 4999.0,
            effect_ms: Some(5000.0),
            effect_source: Some(EffectSource::DockerEvent),
            verified: true,
            detail: "paused (daemon event)".into(),
            reverted_ms: Some(7000.0),
        }],
        docker_events: vec![],
        stack_events: vec![StackEventView {
            at_ms: 5500.0,
            source: "haproxy".into(),
            subject: "app2".into(),
            state: "DOWN".into(),
            kind: StackEventKind::Detection,
            origin: crate::timeline::Origin::Poll,
            resolution_ms: 200.0,
        }],
        observers: vec!["haproxy lb:8404".into()],
        observers_skipped: vec![],
        replication_lag_before_fault: vec![],
        expectations: crate::measure::expect::evaluate(
            &crate::measure::expect::Expectations {
                rto_max: Some(std::time::Duration::from_secs(1)),
                ..Default::default()
            },
            &m,
        ),
        measurement: m,
        revert_errors: vec![],
        aborted: None,
        replacements: Vec::new(),
        repeat: None,
    }
}

/// A repeated drill of three cycles of [`report`] whose RTOs are 2, 3 and 9 s, with `rto_p90_max = 5s`.
pub fn repeated() -> Report {
    let expect = crate::measure::expect::Expectations {
        rto_max: Some(std::time::Duration::from_secs(10)),
        rto_p90_max: Some(std::time::Duration::from_secs(5)),
        ..Default::default()
    };
    let cycles: Vec<super::cycles::Cycle> = [2000.0, 3000.0, 9000.0]
        .iter()
        .enumerate()
        .map(|(i, rto)| {
            let mut r = report();
            r.measurement.rto.rto_ms = Some(*rto);
            r.expectations = crate::measure::expect::evaluate(&expect, &r.measurement);
            r.verdict = crate::measure::expect::verdict(&r.expectations, false);
            r.run.project = format!("hadrill-web-haproxy-pg-00000{i}");
            super::cycles::Cycle {
                seed: 7 + i as u64,
                dir: format!("cycle-{}", i + 1),
                report: r,
                restarted: Vec::new(),
            }
        })
        .collect();
    let run = super::cycles::Run { expect: &expect, planned: 3, seed: 7, shared: None, aborted: None };
    super::cycles::combine(&run, &cycles)
}

/// `cargo test --lib write_the_fixture -- --ignored` writes the fixture as `report.json` into
/// `$HADRILL_FIXTURE_DIR` (default `target/fixture`), for `hadrill render` and a look at the views.
#[test]
#[ignore = "writes a file for a person to look at"]
fn write_the_fixture() {
    let dir = std::env::var_os("HADRILL_FIXTURE_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/fixture"));
    std::fs::create_dir_all(&dir).unwrap();
    let json = serde_json::to_string_pretty(&report()).unwrap();
    std::fs::write(dir.join("report.json"), json).unwrap();
    let sub = dir.join("repeated");
    std::fs::create_dir_all(&sub).unwrap();
    std::fs::write(sub.join("report.json"), serde_json::to_string_pretty(&repeated()).unwrap()).unwrap();
}
