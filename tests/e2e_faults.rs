//! End-to-end: the degraded-network and disk faults on real stacks. Packet loss (iptables statistic), a bandwidth
//! limit (tc tbf) and a full disk (a helper in the target's PID namespace) are injected, verified by their
//! counters and reverted; a delay (tc netem) runs where the kernel has netem and is refused with exit 2, before
//! anything starts, where not.

mod common;

use std::process::Command;

use hadrill::cleanup::{self, Scope};
use hadrill::measure::rpo::RpoStatus;
use hadrill::report::{Report, Verdict};

async fn passes(name: &str) -> Report {
    let _serial = common::SERIAL.lock().await;
    let r = common::drill(&format!("scenarios/{name}.toml")).await;
    assert!(r.actions.iter().all(|a| a.verified), "every fault verified: {:?}", r.actions);
    assert_eq!(r.verdict, Verdict::Passed, "{}", hadrill::report::markdown::console_verdict(&r));
    assert!(r.revert_errors.is_empty(), "{:?}", r.revert_errors);
    assert!(r.actions.iter().all(|a| a.reverted_ms.is_some()), "every fault reverted: {:?}", r.actions);
    r
}

#[tokio::test(flavor = "multi_thread")]
async fn a_full_disk_takes_the_instance_out_of_rotation_and_back() {
    let r = passes("app-disk-full").await;
    let fill = &r.actions[0];
    assert!(fill.detail.contains("0 B of 32.0 MiB available"), "{}", fill.detail);
    let down = r.stack_events.iter().find(|e| e.subject.ends_with("app1") && e.state == "DOWN");
    let down = down.expect("HAProxy marked app1 DOWN on its failing health check");
    let up = r
        .stack_events
        .iter()
        .find(|e| e.subject.ends_with("app1") && e.state == "UP" && e.at_ms > down.at_ms);
    let up = up.expect("and UP again once the space was freed");
    assert!(up.at_ms > fill.reverted_ms.unwrap(), "back only after the revert");
    assert_eq!(r.measurement.writes.lost, Some(0));
}

#[tokio::test(flavor = "multi_thread")]
async fn packet_loss_is_verified_by_dropped_packets_and_costs_latency() {
    let r = passes("app-instance-loss").await;
    assert!(r.actions[0].detail.contains("packets dropped"), "{}", r.actions[0].detail);
    let m = &r.measurement;
    let before = m.latency.before.p99_ms.unwrap();
    let worst = m.per_second.iter().filter_map(|b| b.p99_ms).fold(0.0, f64::max);
    assert!(
        worst > before * 5.0,
        "retransmissions show in the tail: worst second p99 {worst} ms, before {before} ms"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_throttled_instance_is_verified_by_its_qdisc_and_reverted() {
    let r = passes("app-instance-throttle").await;
    assert!(r.actions[0].detail.contains("packets sent through it"), "{}", r.actions[0].detail);
    assert!(r.measurement.latency.overall.max_ms.unwrap() > 100.0, "queued behind 64 kbit/s");
}

#[tokio::test(flavor = "multi_thread")]
async fn loss_on_a_synchronous_standby_slows_commits_and_loses_nothing() {
    let r = passes("pg-sync-replica-loss").await;
    let w = &r.measurement.writes;
    assert_eq!((w.rpo.status, w.lost), (RpoStatus::Measured, Some(0)));
    let before = r.measurement.latency.before.p99_ms.unwrap();
    let overall = r.measurement.latency.overall.p99_ms.unwrap();
    assert!(overall > before * 5.0, "commits waited: p99 {overall} ms overall, {before} ms before");
}

#[tokio::test(flavor = "multi_thread")]
async fn delay_runs_with_netem_and_is_refused_clearly_without() {
    let _serial = common::SERIAL.lock().await;
    let docker = hadrill::docker::connect::connect().await.unwrap();
    // The helper image the kernel probe needs (built with any stack's images).
    common::images(&docker, "pg-sync").await;
    let netem = hadrill::fault::netfault::kernel_features().await.unwrap().netem;
    let reports = std::env::temp_dir().join(format!("hadrill-delay-{}", std::process::id()));
    let before = cleanup::list(&docker, &Scope::All).await.unwrap().len();
    let out = Command::new(common::hadrill_bin())
        .args(["run", "scenarios/pg-sync-replica-delay.toml", "--quiet", "--reports"])
        .arg(&reports)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    if netem {
        assert_eq!(out.status.code(), Some(0), "{stderr}");
    } else {
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(
            stderr.contains("scenarios/pg-sync-replica-delay.toml:") && stderr.contains("sch_netem"),
            "names the file, the place and what is missing: {stderr}"
        );
        assert!(!stderr.contains("bringing up"), "refused before the stack came up: {stderr}");
        assert!(!stderr.contains("images for"), "refused before the stack's images: {stderr}");
        assert!(!reports.exists(), "no report for a drill that did not start");
    }
    let after = cleanup::list(&docker, &Scope::All).await.unwrap().len();
    assert_eq!(after, before, "nothing left behind");
}
