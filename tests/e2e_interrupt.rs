//! End-to-end: interrupts. SIGINT during a partition: the drill must revert the iptables rules, remove its
//! helper, tear the stack down (or keep it, with `--keep`, but without the rules), write a report marked aborted
//! and exit 130. SIGKILL at bring-up, during a partition and during the read-back: the reaper must remove every
//! container, network and volume of the project (itself included) within 20 s, with no manual step.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use hadrill::cleanup::{self, Scope};

/// A 20 s partition of app1 in a 30 s drill.
const PARTITION: &str = "partition-interrupt.toml";

fn scenario(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scenarios").join(name)
}

/// When and how a test stops hadrill: after the first stderr line containing `marker`, wait `after`, run
/// `before` with the log so far, send `signal`.
struct Stop<'a> {
    marker: &'a str,
    after: Duration,
    signal: &'a str,
    before: &'a dyn Fn(&str),
}

/// Starts `hadrill run`, stops it as `stop` says; returns (exit status, stderr, reports dir).
fn run_and_stop(file: &str, extra: &[&str], stop: Stop) -> (std::process::ExitStatus, String, PathBuf) {
    let reports = std::env::temp_dir().join(format!(
        "hadrill-int-{}-{}-{}",
        std::process::id(),
        stop.signal,
        extra.len()
    ));
    let mut child = Command::new(common::hadrill_bin())
        .arg("run")
        .arg(scenario(file))
        .arg("--reports")
        .arg(&reports)
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn hadrill");
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut log = String::new();
    let deadline = Instant::now() + Duration::from_secs(240);
    let mut signalled = false;
    while Instant::now() < deadline {
        match rx.recv_timeout(Duration::from_millis(200)) {
            Ok(line) => {
                log.push_str(&line);
                log.push('\n');
                if !signalled && line.contains(stop.marker) {
                    std::thread::sleep(stop.after);
                    (stop.before)(&log);
                    Command::new("kill").args([stop.signal, &child.id().to_string()]).status().unwrap();
                    signalled = true;
                }
            }
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
            }
            Err(_) => break,
        }
    }
    let status = child.wait().unwrap();
    while let Ok(line) = rx.try_recv() {
        log.push_str(&line);
        log.push('\n');
    }
    assert!(signalled, "{:?} never appeared:\n{log}", stop.marker);
    (status, log, reports)
}

/// Starts `hadrill run`, waits until the partition is in place, sends SIGINT; returns (exit code, stderr, reports dir).
fn interrupt_during_partition(extra: &[&str]) -> (Option<i32>, String, PathBuf) {
    let stop =
        Stop { marker: "partition app1", after: Duration::from_secs(1), signal: "-INT", before: &|_| {} };
    let (status, log, reports) = run_and_stop(PARTITION, extra, stop);
    (status.code(), log, reports)
}

fn project_of(log: &str) -> String {
    log.split_whitespace()
        .find(|w| w.starts_with("hadrill-web-haproxy-pg-"))
        .expect("project in log")
        .to_string()
}

/// How many containers (running or not) carry `label` (`key=value`).
fn labelled(label: &str) -> usize {
    let out =
        Command::new("docker").args(["ps", "-aq", "--filter", &format!("label={label}")]).output().unwrap();
    String::from_utf8_lossy(&out.stdout).lines().count()
}

fn read_report(reports: &Path) -> serde_json::Value {
    let dir = reports.join("partition-interrupt");
    let run = std::fs::read_dir(&dir).unwrap().flatten().next().expect("a report folder").path();
    serde_json::from_str(&std::fs::read_to_string(run.join("report.json")).unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn sigint_during_partition_leaves_nothing_behind() {
    let _serial = common::SERIAL.lock().await;
    let (code, log, reports) = interrupt_during_partition(&[]);
    assert_eq!(code, Some(130), "{log}");
    let project = project_of(&log);
    let docker = hadrill::docker::connect::connect().await.unwrap();
    let left = cleanup::count(&docker, &Scope::Project(project.clone())).await.unwrap();
    assert_eq!(left.total(), 0, "left behind by {project}: {left}\n{log}");
    let report = read_report(&reports);
    assert_eq!(report["verdict"], "aborted");
    assert_eq!(
        report["measurement"]["writes"]["rpo"]["status"], "unknown",
        "an aborted drill does not claim RPO 0"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn sigint_with_keep_reverts_the_rules_and_removes_the_helper() {
    let _serial = common::SERIAL.lock().await;
    let (code, log, reports) = interrupt_during_partition(&["--keep"]);
    let project = project_of(&log);
    let _guard = common::Guard { project: project.clone() };
    assert_eq!(code, Some(130), "{log}");
    let docker = hadrill::docker::connect::connect().await.unwrap();
    let containers = hadrill::docker::discover::project_containers(&docker, &project).await.unwrap();
    let app1 = containers.iter().find(|c| c.service == "app1").expect("app1 kept");
    let rules = Command::new("docker")
        .args(["run", "--rm", "--cap-add", "NET_ADMIN", "--network"])
        .arg(format!("container:{}", app1.id))
        .args(["hadrill/nettools:local", "iptables", "-S"])
        .output()
        .unwrap();
    let rules = String::from_utf8_lossy(&rules.stdout);
    assert!(rules.contains("-P INPUT ACCEPT"), "could not list rules: {rules}");
    assert!(!rules.contains("HADRILL"), "partition rules left in app1's namespace:\n{rules}");
    assert_eq!(labelled(&format!("io.hadrill.helper-for={project}")), 0, "helper containers left");
    assert_eq!(read_report(&reports)["verdict"], "aborted");
    // hadrill said goodbye to its reaper on the way out: the kept stack stays, the reaper is gone.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let kept = hadrill::docker::discover::project_containers(&docker, &project).await.unwrap();
    assert_eq!(kept.len(), containers.len(), "the kept stack lost containers after hadrill exited");
    assert_eq!(
        labelled(&format!("io.hadrill.reaper-for={project}")),
        0,
        "the released reaper is still there"
    );
    let down = Command::new(common::hadrill_bin())
        .args(["down", "web-haproxy-pg", "--project", &project])
        .output()
        .unwrap();
    assert!(down.status.success());
    let left = cleanup::count(&docker, &Scope::Project(project.clone())).await.unwrap();
    assert_eq!(left.total(), 0, "left after down: {left}");
}

/// SIGKILLs hadrill `after` the line with `marker` (and `before`), then polls until the reaper has removed every
/// object of the project, itself included; fails after 20 s.
async fn killed_leaves_nothing(file: &str, marker: &str, after: Duration, before: &dyn Fn(&str)) {
    let _serial = common::SERIAL.lock().await;
    let (status, log, _) = run_and_stop(file, &[], Stop { marker, after, signal: "-KILL", before });
    assert_eq!(std::os::unix::process::ExitStatusExt::signal(&status), Some(9), "{log}");
    let killed = Instant::now();
    let project = project_of(&log);
    let _guard = common::Guard { project: project.clone() };
    let reaper_log = Command::new("docker")
        .args(["logs", "-f", &format!("{project}-reaper")])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let docker = hadrill::docker::connect::connect().await.unwrap();
    let mut left = cleanup::count(&docker, &Scope::Project(project.clone())).await.unwrap();
    let at_kill = left;
    assert!(at_kill.total() > 1, "only the reaper (or nothing) was there to remove: {at_kill}\n{log}");
    while left.total() > 0 && killed.elapsed() < Duration::from_secs(20) {
        tokio::time::sleep(Duration::from_millis(250)).await;
        left = cleanup::count(&docker, &Scope::Project(project.clone())).await.unwrap();
    }
    let gone = killed.elapsed();
    let reaper_log = String::from_utf8_lossy(&reaper_log.wait_with_output().unwrap().stderr).to_string();
    assert_eq!(left.total(), 0, "left by {project} 20s after SIGKILL: {left}\n{log}\nreaper:\n{reaper_log}");
    eprintln!("{reaper_log}");
    eprintln!("{project}: {at_kill} at SIGKILL, nothing left {:.1}s after", gone.as_secs_f64());
}

/// Kills once Compose has created three of the stack's containers and is still bringing the rest up: its child
/// process outlives hadrill.
#[tokio::test(flavor = "multi_thread")]
async fn sigkill_during_bring_up_leaves_nothing_behind() {
    let mid_bring_up = |log: &str| {
        let label = format!("com.docker.compose.project={}", project_of(log));
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if labelled(&label) >= 3 {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    killed_leaves_nothing(PARTITION, "bringing up", Duration::from_millis(500), &mid_bring_up).await;
}

/// Also checks that `hadrill clean --dry-run` spares the live drill and says why.
#[tokio::test(flavor = "multi_thread")]
async fn sigkill_during_partition_leaves_nothing_behind() {
    let clean_spares_it = |log: &str| {
        let project = project_of(log);
        let out = Command::new(common::hadrill_bin()).args(["clean", "--dry-run"]).output().unwrap();
        let out = String::from_utf8_lossy(&out.stdout);
        assert!(out.contains(&format!("skipped {project} (")), "live drill not spared:\n{out}");
        assert!(out.contains("a running hadrill holds its reaper"), "{out}");
        assert!(!out.lines().any(|l| l.starts_with("container ") && l.contains(&project)), "{out}");
    };
    killed_leaves_nothing(PARTITION, "partition app1", Duration::from_secs(1), &clean_spares_it).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sigkill_during_read_back_leaves_nothing_behind() {
    killed_leaves_nothing("kill-readback.toml", "reading back", Duration::from_millis(1500), &|_| {}).await;
}
