//! End-to-end drills of a stack hadrill did not write (`tests/userstack/`): no `x-hadrill:` in its compose
//! file, an image built by Compose from the stack's own Dockerfile, instances from `scale:`, a password from
//! `.env` and from `${VAR}`, a profile left off. And targets chosen by role on a bundled stack.

mod common;

use hadrill::report::Verdict;

const SECRET_VAR: &str = "HD_USERSTACK_PGPASSWORD";
/// The database password of `tests/userstack/.env`, passed to the scenario through `${HD_USERSTACK_PGPASSWORD}`.
const SECRET: &str = "Us3rSt4ck-pw-9173";

#[tokio::test(flavor = "multi_thread")]
async fn a_users_own_stack_is_drilled_from_the_scenario_alone() {
    let _serial = common::SERIAL.lock().await;
    std::env::set_var(SECRET_VAR, SECRET);
    let (r, dir) = common::drill_written("tests/userstack/kill-one-api.toml").await;
    let kill = &r.actions[0];
    assert!(kill.verified, "{kill:?}");
    assert!(
        kill.targets == ["api"] || kill.targets == ["api#2"],
        "one of the two scaled instances: {kill:?}"
    );
    assert!(
        r.observers.iter().any(|o| o == "postgres db:5432")
            && r.observers.iter().any(|o| o == "haproxy edge:8404"),
        "the scenario's observers run: {:?} (skipped {:?})",
        r.observers,
        r.observers_skipped
    );
    assert!(
        r.stack_events.iter().any(|e| e.source == "postgres" && e.subject == "db" && e.state == "primary"),
        "the PostgreSQL observer logged in as the scenario's user: {:?}",
        r.stack_events
    );
    assert_eq!(r.measurement.writes.lost, Some(0));
    assert_eq!(r.verdict, Verdict::Passed, "{}", hadrill::report::markdown::console_verdict(&r));
    let mut files = 0;
    for f in std::fs::read_dir(&dir).expect("report folder") {
        let f = f.expect("entry").path();
        let text = std::fs::read_to_string(&f).expect("report file");
        assert!(!text.contains(SECRET), "the secret is in {}", f.display());
        files += 1;
    }
    assert!(files >= 4, "report.json, report.md, report.html, junit.xml");
    let _ = std::fs::remove_dir_all(dir);
}

/// The scenario's own requests (`[[load.request]]`, `[verify] kind = "http"`) on the user's stack: one API
/// instance killed, no acknowledged write lost, RTO measured, the header's `${VAR}` token in no report file.
#[tokio::test(flavor = "multi_thread")]
async fn a_users_own_requests_drive_the_drill_and_their_token_stays_out_of_reports() {
    const TOKEN: &str = "Wl-T0ken-6620-secret";
    let _serial = common::SERIAL.lock().await;
    std::env::set_var("HD_WORKLOAD_TOKEN", TOKEN);
    let (r, dir) = common::drill_written("tests/userstack/workload.toml").await;
    assert!(r.actions[0].verified, "{:?}", r.actions[0]);
    let w = &r.measurement.writes;
    assert!(w.acknowledged > 300, "{w:?}");
    assert_eq!(w.lost, Some(0), "{w:?}");
    assert!(r.measurement.rto.rto_ms.is_some(), "{:?}", r.measurement.rto);
    assert_eq!(r.verdict, Verdict::Passed, "{}", hadrill::report::markdown::console_verdict(&r));
    for f in std::fs::read_dir(&dir).expect("report folder") {
        let f = f.expect("entry").path();
        let text = std::fs::read_to_string(&f).expect("report file");
        assert!(!text.contains(TOKEN), "the token is in {}", f.display());
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread")]
async fn faults_hit_the_primary_and_the_instance_a_command_names() {
    let _serial = common::SERIAL.lock().await;
    let (r, dir) = common::drill_written("tests/userstack/roles.toml").await;
    assert_eq!(r.actions[0].targets, vec!["pg-primary"], "{:?}", r.actions[0]);
    assert_eq!(r.actions[1].targets, vec!["app2"], "{:?}", r.actions[1]);
    assert!(r.actions.iter().all(|a| a.verified), "{:?}", r.actions);
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreachable_registry_fails_the_pull_fast() {
    let docker = hadrill::docker::connect::connect().await.expect("docker reachable");
    let started = std::time::Instant::now();
    let r = hadrill::images::base::pull_as(
        &docker,
        "hadrill-no-such-registry.invalid/base:1",
        "hadrill-test/never:pulled",
        hadrill::images::base::PULL_LIMIT,
    )
    .await;
    assert!(r.is_err(), "{r:?}");
    assert!(started.elapsed() < std::time::Duration::from_secs(10), "took {:?}", started.elapsed());
}

#[tokio::test(flavor = "multi_thread")]
async fn pick_master_hits_the_node_the_sentinels_name() {
    let _serial = common::SERIAL.lock().await;
    let (r, dir) = common::drill_written("tests/userstack/master.toml").await;
    assert_eq!(r.actions[0].targets, vec!["redis-master"], "{:?}", r.actions[0]);
    assert!(r.actions[0].verified, "{:?}", r.actions[0]);
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread")]
async fn pick_leader_hits_the_node_patroni_names() {
    let _serial = common::SERIAL.lock().await;
    let (r, dir) = common::drill_written("tests/userstack/leader.toml").await;
    // In synchronous mode Patroni hands over to the synchronous standby, which is pg2 in one run and pg3 in
    // another: the fault must hit the new leader, whichever it is, and not pg1.
    let hit = &r.actions[1].targets;
    assert!(
        hit == &["pg2"] || hit == &["pg3"],
        "the switchover moved the leadership off pg1: {:?}",
        r.actions
    );
    assert!(r.actions.iter().all(|a| a.verified), "{:?}", r.actions);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_missing_env_file_stops_the_run_before_docker() {
    let out = std::process::Command::new(common::hadrill_bin())
        .args(["run", "tests/userstack/kill-one-api.toml", "--env-file", "/nonexistent/hadrill.env"])
        .env(SECRET_VAR, SECRET)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("hadrill runs");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("/nonexistent/hadrill.env") && !err.contains("bringing up"), "{err}");
}
