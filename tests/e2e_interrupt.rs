//! End-to-end: SIGINT during a partition. The drill must revert the iptables rules, remove its helper, tear the
//! stack down (or keep it, with `--keep`, but without the rules), write a report marked aborted and exit 130.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use hadrill::cleanup::{self, Scope};

fn scenario() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scenarios/partition-interrupt.toml")
}

/// Starts `hadrill run`, waits until the partition is in place, sends SIGINT; returns (exit code, stderr, reports dir).
fn interrupt_during_partition(extra: &[&str]) -> (Option<i32>, String, std::path::PathBuf) {
    let reports = std::env::temp_dir().join(format!("hadrill-int-{}-{}", std::process::id(), extra.len()));
    let mut child = Command::new(common::hadrill_bin())
        .arg("run")
        .arg(scenario())
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
                if !signalled && line.contains("partition app1") {
                    std::thread::sleep(Duration::from_secs(1));
                    Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
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
    assert!(signalled, "the partition never started:\n{log}");
    (status.code(), log, reports)
}

fn project_of(log: &str) -> String {
    log.split_whitespace()
        .find(|w| w.starts_with("hadrill-web-haproxy-pg-"))
        .expect("project in log")
        .to_string()
}

fn read_report(reports: &std::path::Path) -> serde_json::Value {
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
    let helpers = Command::new("docker")
        .args(["ps", "-aq", "--filter"])
        .arg(format!("label=io.hadrill.helper-for={project}"))
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&helpers.stdout).trim().is_empty(), "helper containers left");
    assert_eq!(read_report(&reports)["verdict"], "aborted");
    let down = Command::new(common::hadrill_bin())
        .args(["down", "web-haproxy-pg", "--project", &project])
        .output()
        .unwrap();
    assert!(down.status.success());
    let left = cleanup::count(&docker, &Scope::Project(project.clone())).await.unwrap();
    assert_eq!(left.total(), 0, "left after down: {left}");
}
