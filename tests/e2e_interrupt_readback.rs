//! End-to-end: SIGINT after the load, during the settle pause before the read-back. The drill must stop there
//! (not sleep through the pause and read back), write a report marked aborted with RPO unknown, tear the stack
//! down and exit 130. And a third SIGINT stops waiting for the cleanup: hadrill exits at once with what may be
//! left and the `hadrill clean` line.

mod common;

use std::time::{Duration, Instant};

use hadrill::cleanup::{self, Scope};

/// What one interrupted run of the read-back scenario gave.
struct Interrupted {
    code: Option<i32>,
    log: String,
    /// When the trigger line appeared.
    seen: Instant,
    project: String,
    reports: std::path::PathBuf,
    _guard: common::Guard,
}

/// Runs the scenario and sends `signals` SIGINTs, `gap` apart, once a stderr line contains `trigger`.
fn interrupt(trigger: &str, signals: usize, gap: Duration) -> Interrupted {
    let scenario =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scenarios/readback-interrupt.toml");
    let reports = std::env::temp_dir().join(format!("hadrill-readback-{signals}-{}", std::process::id()));
    let (code, log, seen) = common::run_interrupted(&scenario, &reports, &[], trigger, signals, gap);
    let project = common::project_in(&log);
    let _guard = common::Guard { project: project.clone() };
    let seen = seen.unwrap_or_else(|| panic!("{trigger:?} never appeared:\n{log}"));
    Interrupted { code, log, seen, project, reports, _guard }
}

#[tokio::test(flavor = "multi_thread")]
async fn sigint_during_the_settle_pause_aborts_the_read_back() {
    let _serial = common::SERIAL.lock().await;
    let run = interrupt("settling", 1, Duration::from_secs(1));
    let log = &run.log;
    assert_eq!(run.code, Some(130), "{log}");
    let after = run.seen.elapsed();
    assert!(
        after < Duration::from_secs(50),
        "slept through the 60s pause after the interrupt ({after:?}):\n{log}"
    );
    let dir =
        std::fs::read_dir(run.reports.join("readback-interrupt")).unwrap().flatten().next().unwrap().path();
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("report.json")).unwrap()).unwrap();
    assert_eq!(report["verdict"], "aborted");
    assert_eq!(
        report["measurement"]["writes"]["rpo"]["status"], "unknown",
        "an aborted drill does not claim RPO 0"
    );
    let docker = hadrill::docker::connect::connect().await.unwrap();
    let left = cleanup::count(&docker, &Scope::Project(run.project.clone())).await.unwrap();
    assert_eq!(left.total(), 0, "left behind by {}: {left}\n{log}", run.project);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_third_sigint_exits_with_what_may_be_left_and_the_clean_line() {
    let _serial = common::SERIAL.lock().await;
    let run = interrupt("pause app1", 3, Duration::from_millis(300));
    let log = &run.log;
    assert_eq!(run.code, Some(130), "{log}");
    assert!(log.contains("may be left behind"), "{log}");
    assert!(log.contains(&format!("project {}", run.project)), "names the project: {log}");
    assert!(log.contains("hadrill clean"), "{log}");
}
