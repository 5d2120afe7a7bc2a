//! End-to-end: deploy drills on web-haproxy-pg. A start-first rolling restart with a graceful stop (the demo
//! fails /health on SIGTERM and drains with `Connection: close` before it exits) brings each new instance up
//! before the old one goes and drops no request; a stop-first one with SIGKILL leaves each instance down for
//! seconds, and its failures all fall in the replacement windows. Each drill is 30 s of load; run them with
//! `cargo test --test e2e_deploy`.

mod common;

use hadrill::report::{Report, Verdict};

async fn rolled(name: &str) -> Report {
    let _serial = common::SERIAL.lock().await;
    let r = common::drill(&format!("scenarios/{name}.toml")).await;
    assert!(r.actions.iter().all(|a| a.verified), "every step verified: {:?}", r.actions);
    let names: Vec<&str> = r.replacements.iter().map(|x| x.instance.as_str()).collect();
    assert_eq!(names, ["app1", "app2", "app3"], "one at a time, in order");
    for w in r.replacements.windows(2) {
        assert!(w[0].ended_ms + 1900.0 < w[1].began_ms, "2 s pause between instances: {w:?}");
    }
    assert_eq!(r.measurement.writes.lost, Some(0));
    r
}

#[tokio::test(flavor = "multi_thread")]
async fn a_start_first_rolling_restart_keeps_serving() {
    let r = rolled("app-rolling-restart").await;
    for x in &r.replacements {
        let (healthy, out) = (x.new_healthy_ms.unwrap(), x.old_out_ms.unwrap());
        assert!(healthy < out, "the new instance was healthy before the old one stopped: {x:?}");
        assert!(x.requests > 200, "the load ran through the window: {x:?}");
    }
    for x in &r.replacements {
        let (left, out) = (x.lb_left_ms.unwrap(), x.old_out_ms.unwrap());
        assert!(left < out, "HAProxy took the draining instance out before it exited: {x:?}");
    }
    let failed = r.measurement.requests.failed;
    assert_eq!(failed, 0, "{:?} {:?}", r.measurement.requests.failures_by_kind, r.replacements);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stop_first_rolling_restart_loses_only_inside_its_windows() {
    let r = rolled("app-rolling-restart-stop-first").await;
    assert_eq!(r.verdict, Verdict::Passed, "{}", hadrill::report::markdown::console_verdict(&r));
    for x in &r.replacements {
        let (out, healthy) = (x.old_out_ms.unwrap(), x.new_healthy_ms.unwrap());
        assert!(out + 1000.0 < healthy, "down for a while before it was back: {x:?}");
    }
    let in_windows: u64 = r.replacements.iter().map(|x| x.failed).sum();
    assert_eq!(
        in_windows, r.measurement.requests.failed,
        "every failure inside a replacement: {:?}",
        r.replacements
    );
}

/// `rolling-update` with `override = "candidate.yml"`: app1 is recreated start-first with the override's
/// environment and label (kept with `--keep` to look at it), and the update is verified.
#[tokio::test(flavor = "multi_thread")]
async fn a_rolling_update_applies_the_override_files_settings() {
    let _serial = common::SERIAL.lock().await;
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let reports = std::env::temp_dir().join(format!("hadrill-override-test-{}", std::process::id()));
    let out = std::process::Command::new(common::hadrill_bin())
        .args(["run", "--quiet", "--keep", "--reports"])
        .arg(&reports)
        .arg(root.join("tests/scenarios/rolling-override.toml"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    eprintln!("{}\n{stdout}", String::from_utf8_lossy(&out.stderr));
    let dir = std::path::PathBuf::from(stdout.lines().find_map(|l| l.strip_prefix("report: ")).unwrap());
    let r: Report = serde_json::from_str(&std::fs::read_to_string(dir.join("report.json")).unwrap()).unwrap();
    let project = r.run.project.clone();
    let app1 = std::process::Command::new("docker")
        .args(["ps", "-q", "--filter", &format!("label=com.docker.compose.project={project}")])
        .args(["--filter", "label=com.docker.compose.service=app1"])
        .output()
        .unwrap();
    let app1 = String::from_utf8_lossy(&app1.stdout).trim().to_string();
    let inspect = std::process::Command::new("docker")
        .args(["inspect", "--format", "{{json .Config.Env}} {{json .Config.Labels}}", &app1])
        .output()
        .unwrap();
    let seen = String::from_utf8_lossy(&inspect.stdout).to_string();
    let down = std::process::Command::new(common::hadrill_bin())
        .args(["down", "web-haproxy-pg", "--project", &project])
        .output()
        .unwrap();
    assert!(down.status.success(), "{}", String::from_utf8_lossy(&down.stderr));
    let _ = std::fs::remove_dir_all(&reports);
    assert_eq!(out.status.code(), Some(0), "the update passes");
    assert!(r.actions.iter().all(|a| a.verified), "{:?}", r.actions);
    assert_eq!(r.replacements.len(), 1, "{:?}", r.replacements);
    assert!(seen.contains("\"INSTANCE=app1-candidate\""), "the override's environment: {seen}");
    assert!(seen.contains("\"DRAIN_MS=3000\""), "the rest of the environment kept: {seen}");
    assert!(seen.contains("\"hadrill.test.candidate\":\"yes\""), "the override's label: {seen}");
    assert!(seen.contains(&format!("\"com.docker.compose.project\":\"{project}\"")), "compose labels kept");
}
