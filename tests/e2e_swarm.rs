//! The Swarm path end to end: `swarm-task-kill` deployed with `docker stack deploy` on a one-node swarm that
//! the guard creates when the daemon has none (and leaves afterwards, networks as found).

mod common;

use common::swarm::{network_names, SwarmGuard};
use hadrill::timeline::StackEventKind;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_task_is_replaced_by_swarm_and_measured() {
    let _serial = common::SERIAL.lock().await;
    let before = network_names();
    {
        let mut swarm = SwarmGuard::ensure();
        swarm.label_node("hadrill.pg-primary");
        swarm.label_node("hadrill.pg-replica");
        let report = common::drill("scenarios/swarm-task-kill.toml").await;
        let events = &report.stack_events;
        let kinds: Vec<_> =
            events.iter().filter(|e| e.source == "swarm").map(|e| (e.kind, e.state.clone())).collect();
        eprintln!("swarm events: {kinds:?}");
        assert!(kinds.iter().any(|(k, _)| *k == StackEventKind::Detection), "task failed seen: {kinds:?}");
        assert!(kinds.iter().any(|(k, _)| *k == StackEventKind::Promotion), "new task seen: {kinds:?}");
        assert!(report.actions.iter().all(|a| a.verified), "{:?}", report.actions);
        let effect = report.actions[0].effect_ms.expect("the kill's effect time");
        let at = |k: StackEventKind| {
            events
                .iter()
                .find(|e| e.source == "swarm" && e.kind == k && e.at_ms >= effect)
                .map(|e| e.at_ms - effect)
        };
        eprintln!(
            "figures: task failed +{:?} ms, replacement running +{:?} ms, healthy +{:?} ms, RTO {:?} ms, breakdown {:?}",
            at(StackEventKind::Detection),
            at(StackEventKind::Promotion),
            at(StackEventKind::Recovery),
            report.measurement.rto.rto_ms,
            report.measurement.breakdown
        );
        assert!(at(StackEventKind::Promotion).is_some_and(|ms| ms < 20_000.0), "replaced within 20 s");
    }
    // Other drills may add or remove their own networks meanwhile: the swarm's are the ones to check.
    let swarmish = |names: &[String]| -> Vec<String> {
        names.iter().filter(|n| ["ingress", "docker_gwbridge"].contains(&n.as_str())).cloned().collect()
    };
    assert_eq!(swarmish(&network_names()), swarmish(&before), "the swarm's networks are as they were");
}

/// `swarm-rolling-update`: hadrill raises `app`'s ForceUpdate counter through the service API 8 s into the
/// load; Swarm replaces the three tasks one at a time as the stack file's `update_config` says (start-first).
/// Each slot's window is in the report with the requests that failed inside it. Long (about 2 minutes):
/// `cargo test --test e2e_swarm rolling -- --ignored --nocapture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn a_rolling_update_through_the_service_api_under_load() {
    let _serial = common::SERIAL.lock().await;
    let mut swarm = SwarmGuard::ensure();
    swarm.label_node("hadrill.pg-primary");
    swarm.label_node("hadrill.pg-replica");
    let report = common::drill("scenarios/swarm-rolling-update.toml").await;
    let m = &report.measurement;
    let a = &report.actions[0];
    let windows: Vec<_> = report.replacements.iter().filter(|r| r.action == a.index).collect();
    let dropped: u64 = windows.iter().map(|r| r.failed).sum();
    let inside: u64 = windows.iter().map(|r| r.requests).sum();
    eprintln!(
        "figures: {} ({}); windows {:?}; dropped inside the windows {dropped} of {inside}; whole drill: {} of {} \
         requests failed ({:?}), RTO {:?} ms",
        a.summary,
        a.detail,
        windows.iter().map(|r| (&r.instance, r.began_ms, r.ended_ms)).collect::<Vec<_>>(),
        m.requests.failed,
        m.requests.total,
        m.requests.failures_by_kind,
        m.rto.rto_ms
    );
    assert_eq!(a.action, "rolling-update");
    assert!(a.verified, "{a:?}");
    let mut names: Vec<&str> = windows.iter().map(|r| r.instance.as_str()).collect();
    names.sort_unstable();
    assert_eq!(names, ["app", "app#2", "app#3"], "every slot replaced once");
    assert!(windows.iter().all(|r| r.old_out_ms.is_some() && r.new_healthy_ms.is_some()), "{windows:?}");
    assert_eq!(m.writes.lost, Some(0));
}

/// `swarm-retarget-scale`: after Swarm replaced a killed task, an exec on every `app` task reaches the three
/// running ones (the replacement, not the dead container); `scale` to 4 through the service API converges and
/// is scaled back when the load ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn later_faults_hit_the_replacement_task_and_scale_is_reverted() {
    let _serial = common::SERIAL.lock().await;
    let mut swarm = SwarmGuard::ensure();
    swarm.label_node("hadrill.pg-primary");
    swarm.label_node("hadrill.pg-replica");
    let report = common::drill("tests/scenarios/swarm-retarget-scale.toml").await;
    for a in &report.actions {
        eprintln!(
            "action {} {}: verified {} reverted {:?}: {}",
            a.index, a.summary, a.verified, a.reverted_ms, a.detail
        );
    }
    let (kill, exec, scale) = (&report.actions[0], &report.actions[1], &report.actions[2]);
    assert!(kill.verified, "{kill:?}");
    assert_eq!(exec.targets.len(), 3, "{exec:?}");
    assert!(exec.verified, "the exec reached the running tasks, the replacement included: {exec:?}");
    assert!(scale.verified && scale.detail.contains("3 -> 4 tasks running"), "{scale:?}");
    assert!(scale.reverted_ms.is_some(), "scaled back to 3: {scale:?}");
    assert!(report.revert_errors.is_empty(), "{:?}", report.revert_errors);
}

/// What a killed hadrill leaves on a swarm (a deployed stack, never removed): `hadrill clean --dry-run` lists
/// its services, and the label sweep the reaper and `hadrill clean` run removes services, task containers and
/// networks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_left_swarm_stack_is_listed_and_swept_by_label() {
    use hadrill::cleanup::{self, Scope};
    let _serial = common::SERIAL.lock().await;
    let _swarm = SwarmGuard::ensure();
    let docker = hadrill::docker::connect::connect().await.expect("docker");
    let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/swarm-one/docker-compose.yml");
    let spec = hadrill::stack::resolve::load(&file).expect("stack file");
    let stack = hadrill::swarm::SwarmStack::prepare(spec).expect("prepare");
    let guard = common::Guard { project: stack.project.clone() };
    let containers = stack.up(&docker, std::time::Duration::from_secs(90)).await.expect("converged");
    assert_eq!(containers.len(), 2, "{containers:?}");
    assert_eq!(containers.iter().map(|c| c.number).collect::<Vec<_>>(), [1, 2], "numbered by slot");
    let out = std::process::Command::new(common::hadrill_bin())
        .args(["clean", "--dry-run", "--all"])
        .output()
        .expect("hadrill clean --dry-run");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(&format!("service {}_idle", stack.project)), "{text}");
    let removed = cleanup::sweep(&docker, &Scope::Project(stack.project.clone())).await.expect("sweep");
    assert_eq!(removed.services, 1, "{removed}");
    // The manager removes a swarm network at once; this node's copy goes a moment later.
    let mut left = Vec::new();
    for _ in 0..40 {
        left = cleanup::list(&docker, &Scope::Project(stack.project.clone())).await.expect("list");
        if left.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    assert!(left.is_empty(), "{left:?}");
    drop(guard);
}

/// `swarm-node-drain` on a one-node swarm: every task is shut down with nowhere to go, and comes back once the
/// node is active again; no acknowledged write is lost. Long (about 100 s): `cargo test --test e2e_swarm
/// drain -- --ignored --nocapture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn draining_the_only_node_is_a_full_outage_then_a_cold_start() {
    let _serial = common::SERIAL.lock().await;
    let mut swarm = SwarmGuard::ensure();
    swarm.label_node("hadrill.pg-primary");
    swarm.label_node("hadrill.pg-replica");
    let report = common::drill("scenarios/swarm-node-drain.toml").await;
    let m = &report.measurement;
    eprintln!(
        "figures: RTO {:?} ms, outages {:?}, lost {:?}",
        m.rto.rto_ms, m.outages.windows, m.writes.lost
    );
    assert!(report.actions[0].verified && report.actions[0].reverted_ms.is_some(), "{:?}", report.actions);
    let shut =
        report.stack_events.iter().filter(|e| e.source == "swarm" && e.kind == StackEventKind::Detection);
    assert!(shut.count() >= 4, "every service's task was shut down");
    assert_eq!(m.writes.lost, Some(0));
}

/// The objects (containers, networks, volumes) a `swarm-web-pg` run would label, one name a line.
fn labelled_swarm_web_pg() -> String {
    let filter = format!("label={}=swarm-web-pg", hadrill::docker::labels::STACK);
    let mut all = String::new();
    for what in [&["ps", "-a"][..], &["network", "ls"], &["volume", "ls"]] {
        let o = std::process::Command::new("docker")
            .args(what)
            .args(["--filter", &filter, "--format", "{{.Names}}{{.Name}}"])
            .output()
            .expect("docker ls");
        all.push_str(&String::from_utf8_lossy(&o.stdout));
    }
    all
}

/// A swarm scenario on a daemon in no swarm stops at once with exit 2 and says how to make one, before any
/// image, container, network or reaper is created; the daemon stays out of any swarm.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_swarm_drill_on_a_daemon_in_no_swarm_exits_2_before_touching_it() {
    let _serial = common::SERIAL.lock().await;
    if common::swarm::swarm_state() != "inactive" {
        eprintln!("skipped: the daemon is in a swarm now ({})", common::swarm::swarm_state());
        return;
    }
    let before = labelled_swarm_web_pg();
    let reports = std::env::temp_dir().join(format!("hadrill-noswarm-{}", std::process::id()));
    let scenario = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/swarm-task-kill.toml");
    let started = std::time::Instant::now();
    let out = std::process::Command::new(common::hadrill_bin())
        .arg("run")
        .arg(&scenario)
        .arg("--reports")
        .arg(&reports)
        .output()
        .expect("hadrill run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("is not in a swarm"), "{stderr}");
    assert!(stderr.contains("docker swarm init --advertise-addr 127.0.0.1"), "{stderr}");
    assert!(stderr.contains("never initialises a swarm itself"), "{stderr}");
    assert!(!stderr.contains("bringing up") && !stderr.contains("images for"), "{stderr}");
    assert!(started.elapsed() < std::time::Duration::from_secs(20), "early: {:?}", started.elapsed());
    assert_eq!(labelled_swarm_web_pg(), before, "nothing created");
    assert!(!reports.exists(), "no report folder");
    assert_eq!(common::swarm::swarm_state(), "inactive");
}

/// This node's name in its swarm (`docker node ls` HOSTNAME).
fn node_name() -> String {
    let o = std::process::Command::new("docker")
        .args(["info", "--format", "{{.Name}}"])
        .output()
        .expect("docker info");
    String::from_utf8_lossy(&o.stdout).trim().to_owned()
}

/// `swarm-task-kill` with a `[nodes]` table, written to a folder of its own; returns the file.
fn task_kill_with_nodes(tag: &str, nodes: &str) -> std::path::PathBuf {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(root.join("scenarios/swarm-task-kill.toml")).expect("scenario");
    let dir = std::env::temp_dir().join(format!("hadrill-nodes-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let file = dir.join("swarm-task-kill-nodes.toml");
    std::fs::write(&file, format!("{text}\n[nodes]\n{nodes}\n")).expect("write");
    file
}

/// A `[nodes]` endpoint that does not answer, or a node the swarm does not have: exit 2 naming the node,
/// before any image, container or network is made.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_or_unknown_node_exits_2_naming_it_before_any_side_effect() {
    let _serial = common::SERIAL.lock().await;
    let _swarm = SwarmGuard::ensure();
    let host = node_name();
    let cases = [
        (
            format!("\"{host}\" = \"tcp://127.0.0.1:1\""),
            format!("cannot reach swarm node {host} at tcp://127.0.0.1:1"),
        ),
        (
            "no-such-node = \"unix:///var/run/docker.sock\"".to_string(),
            "no node of the swarm is named \"no-such-node\"".to_string(),
        ),
    ];
    for (i, (nodes, says)) in cases.iter().enumerate() {
        let before = labelled_swarm_web_pg();
        let file = task_kill_with_nodes(&format!("bad{i}"), nodes);
        let reports = file.parent().expect("dir").join("reports");
        let out = std::process::Command::new(common::hadrill_bin())
            .arg("run")
            .arg(&file)
            .arg("--reports")
            .arg(&reports)
            .output()
            .expect("hadrill run");
        let stderr = String::from_utf8_lossy(&out.stderr);
        eprintln!("{stderr}");
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains(says.as_str()), "{stderr}");
        assert!(!stderr.contains("images for") && !stderr.contains("bringing up"), "{stderr}");
        assert_eq!(labelled_swarm_web_pg(), before, "nothing created");
    }
}

/// `[nodes]` mapping this one node to the local socket: the kill goes through that endpoint's client and is
/// verified, Swarm's replacement observed, as without the table.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_mapping_the_node_to_the_local_socket_drill_as_before() {
    let _serial = common::SERIAL.lock().await;
    let mut swarm = SwarmGuard::ensure();
    swarm.label_node("hadrill.pg-primary");
    swarm.label_node("hadrill.pg-replica");
    let file =
        task_kill_with_nodes("unix", &format!("\"{}\" = \"unix:///var/run/docker.sock\"", node_name()));
    let report = common::drill(file.to_str().expect("utf-8 path")).await;
    assert!(report.actions[0].verified, "{:?}", report.actions);
    let promoted =
        report.stack_events.iter().any(|e| e.source == "swarm" && e.kind == StackEventKind::Promotion);
    assert!(promoted, "the replacement task seen");
}

/// Removes the test's image tag when dropped.
struct Tag(&'static str);

impl Drop for Tag {
    fn drop(&mut self) {
        let _ = std::process::Command::new("docker").args(["rmi", self.0]).output();
    }
}

/// `rolling-update` with `image`: Swarm rolls `app` onto the new reference, and the revert (Swarm's rollback
/// to the previous spec) converges back on `hadrill/demo:local` when the load ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn an_image_update_is_rolled_back_by_swarm_at_the_end() {
    let _serial = common::SERIAL.lock().await;
    let tagged = std::process::Command::new("docker")
        .args(["tag", "hadrill/demo:local", "hadrill/demo:swarm-next"])
        .status()
        .expect("docker tag");
    assert!(tagged.success());
    let _tag = Tag("hadrill/demo:swarm-next");
    let mut swarm = SwarmGuard::ensure();
    swarm.label_node("hadrill.pg-primary");
    swarm.label_node("hadrill.pg-replica");
    let report = common::drill("tests/scenarios/swarm-update-image.toml").await;
    let a = &report.actions[0];
    eprintln!("figures: {} verified {} reverted {:?}: {}", a.summary, a.verified, a.reverted_ms, a.detail);
    assert!(a.verified, "{a:?}");
    assert!(a.reverted_ms.is_some(), "rolled back: {a:?}");
    assert!(report.revert_errors.is_empty(), "{:?}", report.revert_errors);
}
