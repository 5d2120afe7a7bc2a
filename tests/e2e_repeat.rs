//! End-to-end repeated drill: `hadrill run --repeat` (here `repeat = 2` in the file) of a 20 s scenario with a
//! known 2 s outage. Each cycle passes its own `rto_max`, the run fails its `rto_p90_max` (exit 1); the run's
//! report has both cycles, each cycle its own report folder, and JUnit one case per expectation and cycle.
//!
//! The 5-cycle runs of the README are not tests (minutes each):
//! `hadrill run scenarios/pg-primary-failover.toml --repeat 5 --seed 7`.

mod common;

use std::process::Command;

#[tokio::test(flavor = "multi_thread")]
async fn two_cycles_each_within_rto_max_fail_the_p90_limit() {
    let _serial = common::SERIAL.lock().await;
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let reports = std::env::temp_dir().join(format!("hadrill-repeat-test-{}", std::process::id()));
    let out = Command::new(common::hadrill_bin())
        .args(["run", "--quiet", "--seed", "11", "--reports"])
        .arg(&reports)
        .arg(root.join("tests/scenarios/repeat-p90.toml"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    eprintln!("{stderr}\n{stdout}");
    assert_eq!(out.status.code(), Some(1), "the p90 limit fails the run");
    assert!(stderr.contains("── cycle 1 of 2, seed 11 ──"), "the console says which cycle");
    assert!(stderr.contains("after 2 of 2 cycles: RTO "), "and the running distribution");
    let dir = std::path::PathBuf::from(stdout.lines().find_map(|l| l.strip_prefix("report: ")).unwrap());
    common::assert_matches_the_committed_schema(&dir.join("report.json"));
    let r: hadrill::report::Report =
        serde_json::from_str(&std::fs::read_to_string(dir.join("report.json")).unwrap()).unwrap();
    let rep = r.repeat.as_ref().expect("a repeated report");
    assert_eq!(rep.cycles.len(), 2);
    assert_eq!(rep.cycles[0].seed, 11, "cycle 1 is the run's seed");
    assert_eq!(rep.cycles[1].seed, hadrill::drill::repeat::cycle_seed(11, 2));
    for c in &rep.cycles {
        let rto = c.rto_ms.unwrap();
        assert!((1900.0..2500.0).contains(&rto), "cycle {}: RTO {rto} ms for a 2 s outage", c.cycle);
        assert_eq!(c.verdict, hadrill::report::Verdict::Passed, "{:?}", c.expectations);
        assert!(dir.join(&c.dir).join("report.json").is_file());
    }
    let p90 = r.expectations.iter().find(|e| e.name == "rto_p90_max").unwrap();
    assert!(!p90.passed, "{p90:?}");
    assert_eq!(r.verdict, hadrill::report::Verdict::Failed);
    let junit = std::fs::read_to_string(dir.join("junit.xml")).unwrap();
    for case in ["cycle 1: rto_max", "cycle 2: rto_max", "rto_p90_max", "lost_writes_total_max", "flaky_max"]
    {
        assert!(junit.contains(&format!("<testcase name=\"{case}\"")), "{case} in {junit}");
    }
    let _ = std::fs::remove_dir_all(&reports);
}

/// `--repeat 2 --reuse-stack` of a short app-instance-kill: both cycles on one project, the instance cycle 1
/// killed is started again before cycle 2 (and said so), each cycle reads back only its own writes (0 lost),
/// and the one stack is gone afterwards.
#[tokio::test(flavor = "multi_thread")]
async fn two_cycles_share_one_stack_and_the_killed_instance_is_back_for_the_second() {
    let _serial = common::SERIAL.lock().await;
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let reports = std::env::temp_dir().join(format!("hadrill-reuse-test-{}", std::process::id()));
    let out = Command::new(common::hadrill_bin())
        .args(["run", "--quiet", "--seed", "3", "--repeat", "2", "--reuse-stack", "--reports"])
        .arg(&reports)
        .arg(root.join("tests/scenarios/reuse-kill.toml"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    eprintln!("{stderr}\n{stdout}");
    assert_eq!(out.status.code(), Some(0), "both cycles pass");
    assert_eq!(stderr.matches("bringing up web-haproxy-pg").count(), 1, "one bring-up");
    assert!(stderr.contains("── cycle 2 of 2, seed "), "the console says which cycle");
    assert!(stderr.contains("quiet for 2.00s before the next cycle"), "the stated quiet period");
    let dir = std::path::PathBuf::from(stdout.lines().find_map(|l| l.strip_prefix("report: ")).unwrap());
    common::assert_matches_the_committed_schema(&dir.join("report.json"));
    let r: hadrill::report::Report =
        serde_json::from_str(&std::fs::read_to_string(dir.join("report.json")).unwrap()).unwrap();
    let rep = r.repeat.as_ref().expect("a repeated report");
    assert!(rep.reuse_stack);
    let shared = rep.shared.as_ref().expect("how the stack was shared");
    assert_eq!(shared.settle_ms, 2000);
    assert!(shared.roles_may_move, "web-haproxy-pg has a primary and a replica");
    assert_eq!(rep.cycles.len(), 2);
    assert_eq!(rep.cycles[0].project, rep.cycles[1].project, "one stack");
    assert!(rep.cycles[0].restarted.is_empty());
    assert_eq!(rep.cycles[1].restarted.len(), 1, "the app cycle 1 killed: {:?}", rep.cycles[1].restarted);
    assert!(rep.cycles[1].restarted[0].starts_with("app"), "{:?}", rep.cycles[1].restarted);
    for c in &rep.cycles {
        assert_eq!(c.verdict, hadrill::report::Verdict::Passed, "cycle {}: {:?}", c.cycle, c.expectations);
        assert_eq!(c.lost_writes, Some(0), "cycle {}", c.cycle);
    }
    // Cycle 2's ready wait is the restore alone; the quiet period between the cycles is its own phase.
    let phases = |c: &hadrill::report::model::CycleRow| -> serde_json::Value {
        let text = std::fs::read_to_string(dir.join(&c.dir).join("report.json")).unwrap();
        serde_json::from_str::<serde_json::Value>(&text).unwrap()["run"]["phases"].clone()
    };
    let (first, second) = (phases(&rep.cycles[0]), phases(&rep.cycles[1]));
    assert_eq!(first["quiet_ms"], 0.0, "{first}");
    let quiet = second["quiet_ms"].as_f64().unwrap();
    assert!((2000.0..3000.0).contains(&quiet), "the 2 s quiet period: {second}");
    assert!(second["images_ms"] == 0.0 && second["up_ms"] == 0.0, "no second bring-up: {second}");
    let md = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(md.contains("all on one stack"), "{md}");
    let left = Command::new("docker")
        .args([
            "ps",
            "-aq",
            "--filter",
            &format!("label=com.docker.compose.project={}", rep.cycles[0].project),
        ])
        .output()
        .unwrap();
    assert!(left.stdout.is_empty(), "the stack is torn down");
    let _ = std::fs::remove_dir_all(&reports);
}

/// Ctrl-C during cycle 2 writes cycle 1 and the interrupted cycle 2, marked aborted, and exits 130. Ignored in
/// CI (two bring-ups, ~3 min); run it with
/// `cargo test --test e2e_repeat ctrl_c_during_cycle_two -- --ignored`.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "two bring-ups: run by hand"]
async fn ctrl_c_during_cycle_two_reports_both_cycles_and_aborts() {
    let _serial = common::SERIAL.lock().await;
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let reports = std::env::temp_dir().join(format!("hadrill-repeat-int-{}", std::process::id()));
    // The load line of cycle 2 ends with its seed in parentheses (the cycle's own line does not).
    let load_of_cycle_two = format!("(seed {})", hadrill::drill::repeat::cycle_seed(5, 2));
    let (code, log, seen) = common::run_interrupted(
        &root.join("tests/scenarios/repeat-p90.toml"),
        &reports,
        &["--seed", "5"],
        &load_of_cycle_two,
        1,
        std::time::Duration::from_secs(5),
    );
    eprintln!("{log}");
    assert!(seen.is_some(), "cycle 2 started its load");
    assert_eq!(code, Some(130), "interrupted");
    let folder = std::fs::read_dir(reports.join("repeat-p90")).unwrap().next().unwrap().unwrap().path();
    let r: hadrill::report::Report =
        serde_json::from_str(&std::fs::read_to_string(folder.join("report.json")).unwrap()).unwrap();
    assert_eq!(r.verdict, hadrill::report::Verdict::Aborted);
    let rep = r.repeat.unwrap();
    assert_eq!(rep.cycles.len(), 2, "the finished cycle and the interrupted one");
    assert!(rep.cycles[0].aborted.is_none() && rep.cycles[1].aborted.is_some(), "{:?}", rep.cycles);
    assert!(folder.join("cycle-2/report.json").is_file());
    let _ = std::fs::remove_dir_all(&reports);
}
