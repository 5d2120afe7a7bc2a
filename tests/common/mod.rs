//! Shared helpers for the end-to-end tests: bring a bundled stack up through the library, and make sure it is
//! removed even when an assertion panics.

#![allow(dead_code)]

use bollard::Docker;
use hadrill::cleanup::{self, Scope};
use hadrill::docker::discover::Container;
use hadrill::stack::compose::ComposeCli;
use hadrill::stack::{resolve, RunningStack, UpOptions};

/// Removes a project's containers, networks and volumes when dropped (also on panic).
pub struct Guard {
    pub project: String,
}

impl Drop for Guard {
    fn drop(&mut self) {
        let project = self.project.clone();
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Runtime::new().expect("runtime");
            rt.block_on(async {
                if let Ok(docker) = hadrill::docker::connect::connect().await {
                    let _ = cleanup::sweep(&docker, &Scope::Project(project)).await;
                }
            });
        })
        .join();
    }
}

/// Builds the images of a bundled stack as needed; returns its spec.
pub async fn images(docker: &Docker, stack: &str) -> hadrill::stack::StackSpec {
    let spec = resolve::resolve(stack).expect("bundled stack");
    let base = hadrill::images::base::DEFAULT_BASE;
    hadrill::images::build::ensure(docker, &spec, base, false, &Default::default())
        .await
        .expect("images build");
    spec
}

/// Builds images as needed and brings `stack` up; returns the handle, its containers and a cleanup guard.
pub async fn up(stack: &str) -> (Docker, RunningStack, Vec<Container>, Guard) {
    let docker = hadrill::docker::connect::connect().await.expect("docker reachable");
    let spec = images(&docker, stack).await;
    let compose = ComposeCli::detect().await.expect("compose found");
    let running = RunningStack::prepare(spec, compose).expect("prepare");
    let guard = Guard { project: running.project.clone() };
    let containers = running.up(&docker, &UpOptions::default()).await.expect("stack healthy");
    (docker, running, containers, guard)
}

pub fn hadrill_bin() -> &'static str {
    env!("CARGO_BIN_EXE_hadrill")
}

/// Drills in one test binary run one at a time: on a 2-core machine, parallel stacks would skew the timings
/// the tests assert on.
pub static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Runs a scenario file (relative to the repository root) in-process and builds its report.
pub async fn drill(file: &str) -> hadrill::report::Report {
    drill_written(file).await.0
}

/// [`drill`], also returning the folder the report was written to.
pub async fn drill_written(file: &str) -> (hadrill::report::Report, std::path::PathBuf) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(file);
    let sc = hadrill::scenario::load(&path).expect("scenario valid");
    let opts = hadrill::drill::run::RunOptions::default();
    let cancel = tokio_util::sync::CancellationToken::new();
    let d = hadrill::drill::run::run(&sc, &opts, cancel).await.expect("drill ran");
    let report = hadrill::report::build::build(&sc, &d, hadrill::usage::Usage::now());
    let out = std::env::temp_dir().join(format!("hadrill-test-reports-{}", std::process::id()));
    let dir = hadrill::report::write::write_all(&out, &report).expect("report written");
    assert_matches_the_committed_schema(&dir.join("report.json"));
    eprintln!("{}\nreport: {}", hadrill::report::markdown::console_verdict(&report), dir.display());
    (report, dir)
}

/// Checks an emitted `report.json` against `reports/schema/report.v1.json`, as a consumer of the JSON would.
pub fn assert_matches_the_committed_schema(report_json: &std::path::Path) {
    let read = |p: &std::path::Path| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
    };
    let schema = read(&hadrill::report::model::schema_path());
    let validator = jsonschema::validator_for(&schema).expect("the committed schema is a JSON schema");
    let json = read(report_json);
    let problems: Vec<String> =
        validator.iter_errors(&json).map(|e| format!("{}: {e}", e.instance_path)).collect();
    assert!(problems.is_empty(), "{} does not match the schema: {problems:?}", report_json.display());
}

/// Runs `hadrill run <scenario> --reports <reports> <extra>`; once a stderr line contains `trigger`, sends
/// SIGINT `signals` times, `gap` apart. Returns the exit code, stderr, and when the trigger was seen.
pub fn run_interrupted(
    scenario: &std::path::Path,
    reports: &std::path::Path,
    extra: &[&str],
    trigger: &str,
    signals: usize,
    gap: std::time::Duration,
) -> (Option<i32>, String, Option<std::time::Instant>) {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    let mut child = Command::new(hadrill_bin())
        .arg("run")
        .arg(scenario)
        .arg("--reports")
        .arg(reports)
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn hadrill");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut log = String::new();
    let mut seen = None;
    for line in rx.iter() {
        log.push_str(&line);
        log.push('\n');
        if seen.is_none() && line.contains(trigger) {
            seen = Some(std::time::Instant::now());
            for _ in 0..signals {
                std::thread::sleep(gap);
                Command::new("kill").args(["-INT", &child.id().to_string()]).status().expect("kill");
            }
        }
    }
    let status = child.wait().expect("wait");
    (status.code(), log, seen)
}

/// The project name `hadrill run` printed.
pub fn project_in(log: &str) -> String {
    log.split_whitespace()
        .find(|w| w.starts_with("hadrill-web-haproxy-pg-"))
        .expect("project in log")
        .to_string()
}

pub mod swarm;
