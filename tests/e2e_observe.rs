//! The RTO breakdown against the components' own records: a drill runs with the stack kept, then every stack
//! step of its breakdown (detection, promotion or re-route) is looked up in the log of the component it names
//! (Sentinel, HAProxy, PostgreSQL, Patroni) and must be within 20 ms of the line the component wrote for the
//! same event, and come from that component's own report (a log line or a Pub/Sub message), not a poll.
//!
//! Two drills run by default (`redis-master-kill`, `app-instance-partition`); the other two are ignored to keep
//! CI time, and run with:
//! `cargo test --test e2e_observe -- --ignored --nocapture`

mod common;

use hadrill::observe::logtime;

/// How far a breakdown step may be from the component's own log line.
const TOLERANCE_MS: f64 = 20.0;

/// Runs the scenario with the stack kept; the guard removes it when the test ends.
async fn drill_kept(file: &str) -> (hadrill::report::Report, common::Guard) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(file);
    let sc = hadrill::scenario::load(&path).expect("scenario valid");
    let opts = hadrill::drill::run::RunOptions { keep: true, ..Default::default() };
    let cancel = tokio_util::sync::CancellationToken::new();
    let d = hadrill::drill::run::run(&sc, &opts, cancel).await.expect("drill ran");
    let guard = common::Guard { project: d.project.clone() };
    let report = hadrill::report::build::build(&sc, &d, hadrill::usage::Usage::now());
    (report, guard)
}

/// A container's whole log (stdout and stderr), by its display name in the project.
async fn log_of(docker: &bollard::Docker, project: &str, name: &str) -> String {
    let cs = hadrill::docker::discover::project_containers(docker, project).await.expect("containers");
    let c = cs.iter().find(|c| c.display_name() == name).unwrap_or_else(|| panic!("no container {name}"));
    let out = std::process::Command::new("docker").args(["logs", &c.id]).output().expect("docker logs");
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// Redis writes `1:X 25 Nov 2026 20:45:47.338 # +sdown ...` in the container's time zone (UTC: none is set).
fn redis_time(line: &str) -> Option<u128> {
    let f: Vec<&str> = line.split_whitespace().collect();
    let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let name = *f.get(2)?;
    let month = months.iter().position(|m| *m == name)? + 1;
    let iso = format!("{}-{month:02}-{:0>2}T{}Z", f.get(3)?, f.get(1)?, f.get(4)?);
    logtime::parse(&iso).map(|s| s.unix_ns)
}

/// The time the component wrote on a line: its own zone when it gives one; Patroni's local time is UTC here.
fn own_time(line: &str) -> Option<u128> {
    if let Some(s) = logtime::parse(line) {
        return Some(s.unix_ns);
    }
    if line.get(19..20) == Some(",") {
        return logtime::parse(&format!("{}Z", &line[..23])).map(|s| s.unix_ns);
    }
    redis_time(line)
}

/// The container and the text of the line that records a step's event, from the step's evidence
/// (`source subject: state`).
fn line_for(evidence: &str) -> (String, Vec<String>) {
    let (who, state) = evidence.split_once(": ").expect("evidence names its event");
    let (source, subject) = who.split_once(' ').expect("source and subject");
    match source {
        "sentinel" => (subject.to_string(), vec![state.to_string()]),
        "haproxy" => {
            let lb = if subject.starts_with("apps/") { "lb" } else { "haproxy" };
            let what =
                if state == "MAINT" { "going DOWN for maintenance".to_string() } else { state.to_string() };
            (lb.to_string(), vec![format!("Server {subject} is {what}")])
        }
        "postgres" => (
            subject.to_string(),
            match state {
                "promoted (new timeline)" => vec!["selected new timeline ID".into()],
                _ => vec![
                    "could not receive data from WAL stream".into(),
                    "replication terminated by primary".into(),
                ],
            },
        ),
        "patroni" => (
            subject.to_string(),
            vec!["promoted self to leader".into(), "acquired session lock as a leader".into()],
        ),
        other => panic!("a step from {other}: no log to check it against"),
    }
}

/// Every observed stack step within [`TOLERANCE_MS`] of its log line; prints the figures.
async fn stack_steps_match_the_logs(file: &str) {
    let _serial = common::SERIAL.lock().await;
    let (report, _guard) = drill_kept(file).await;
    let docker = hadrill::docker::connect::connect().await.expect("docker reachable");
    let origin_ns = u128::from(report.run.started_unix_ms) * 1_000_000;
    let t_fault = report.t_fault_ms.expect("the fault took effect");
    let steps: Vec<_> = report
        .measurement
        .breakdown
        .iter()
        .filter(|s| {
            matches!(s.step.as_str(), "stack_detection" | "promotion_or_reroute") && s.at_ms.is_some()
        })
        .collect();
    assert!(!steps.is_empty(), "{file}: no stack step observed: {:?}", report.measurement.breakdown);
    for s in steps {
        assert!(
            !s.source.ends_with("poll"),
            "{file}: {} came from a poll ({}): {}",
            s.step,
            s.source,
            s.evidence
        );
        let (container, needles) = line_for(&s.evidence);
        let log = log_of(&docker, &report.run.project, &container).await;
        let at = s.at_ms.unwrap();
        let logged: Vec<f64> = log
            .lines()
            .filter(|l| needles.iter().any(|n| l.contains(n.as_str())))
            .filter_map(own_time)
            .map(|ns| (ns as f64 - origin_ns as f64) / 1e6)
            .filter(|ms| *ms >= t_fault - TOLERANCE_MS)
            .collect();
        let nearest = logged.iter().copied().min_by(|a, b| (a - at).abs().total_cmp(&(b - at).abs()));
        let log_ms = nearest.unwrap_or_else(|| panic!("{file}: no line {needles:?} in {container}'s log"));
        let diff = at - log_ms;
        eprintln!(
            "{file}: {:<22} report {at:>10.3} ms  log {log_ms:>10.3} ms  diff {diff:>+8.3} ms  ({}; {})",
            s.step, s.source, s.evidence
        );
        assert!(diff.abs() <= TOLERANCE_MS, "{file}: {} is {diff:.3} ms from {container}'s log line", s.step);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn redis_master_kill_steps_match_the_sentinel_logs() {
    stack_steps_match_the_logs("scenarios/redis-master-kill.toml").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn app_instance_partition_steps_match_the_haproxy_log() {
    stack_steps_match_the_logs("scenarios/app-instance-partition.toml").await;
}

/// `cargo test --test e2e_observe pg_primary_failover -- --ignored --nocapture`
#[tokio::test(flavor = "multi_thread")]
#[ignore = "a 40 s drill; run by hand (see the module doc)"]
async fn pg_primary_failover_steps_match_the_postgres_log() {
    stack_steps_match_the_logs("scenarios/pg-primary-failover.toml").await;
}

/// `cargo test --test e2e_observe patroni_leader_kill -- --ignored --nocapture`
#[tokio::test(flavor = "multi_thread")]
#[ignore = "a Patroni cluster drill; run by hand (see the module doc)"]
async fn patroni_leader_kill_steps_match_the_patroni_and_haproxy_logs() {
    stack_steps_match_the_logs("scenarios/patroni-leader-kill.toml").await;
}
