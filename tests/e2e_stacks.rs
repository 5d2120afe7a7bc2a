//! End-to-end drills on every other bundled stack (nginx, synchronous replication, Patroni + etcd, Redis
//! Sentinel) and the zone failure: each scenario passes its expectations and its report carries the stack-side
//! breakdown (when the stack noticed, when it promoted or re-routed).

mod common;

use hadrill::measure::rpo::RpoStatus;
use hadrill::report::{Report, Verdict};

async fn passes(name: &str) -> Report {
    let _serial = common::SERIAL.lock().await;
    let r = common::drill(&format!("scenarios/{name}.toml")).await;
    assert!(r.actions.iter().all(|a| a.verified), "every fault verified: {:?}", r.actions);
    assert_eq!(r.verdict, Verdict::Passed, "{}", hadrill::report::markdown::console_verdict(&r));
    assert!(!r.observers.is_empty(), "the stack names observers");
    r
}

fn observed(r: &Report, step: &str) -> Option<f64> {
    r.measurement.breakdown.iter().find(|s| s.step == step).and_then(|s| s.at_ms)
}

#[tokio::test(flavor = "multi_thread")]
async fn nginx_instance_kill() {
    passes("nginx-instance-kill").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn pg_sync_failover_loses_nothing() {
    let r = passes("pg-sync-primary-failover").await;
    assert_eq!(r.measurement.writes.rpo.status, RpoStatus::Measured);
    assert_eq!(r.measurement.writes.lost, Some(0));
    assert!(
        r.replication_lag_before_fault.iter().any(|l| l.sync_state == "sync"),
        "{:?}",
        r.replication_lag_before_fault
    );
    assert!(observed(&r, "promotion_or_reroute").is_some(), "the promotion was observed");
}

#[tokio::test(flavor = "multi_thread")]
async fn patroni_leader_kill_fails_over_by_itself() {
    let r = passes("patroni-leader-kill").await;
    assert!(observed(&r, "promotion_or_reroute").is_some(), "Patroni's new leader was observed");
    assert!(r
        .stack_events
        .iter()
        .any(|e| e.source == "patroni" && e.state.starts_with("leader ") && e.state != "leader pg1"));
}

#[tokio::test(flavor = "multi_thread")]
async fn patroni_leader_partition_acknowledges_nothing_it_loses() {
    let r = passes("patroni-leader-partition").await;
    assert_eq!(r.measurement.writes.lost, Some(0));
}

#[tokio::test(flavor = "multi_thread")]
async fn redis_master_kill_fails_over_by_sentinel() {
    let r = passes("redis-master-kill").await;
    assert!(observed(&r, "promotion_or_reroute").is_some(), "Sentinel's switch was observed");
}

#[tokio::test(flavor = "multi_thread")]
async fn redis_master_partition() {
    let r = passes("redis-master-partition").await;
    assert_eq!(r.measurement.writes.rpo.status, RpoStatus::Measured);
}

#[tokio::test(flavor = "multi_thread")]
async fn zone_failure() {
    let r = passes("zone-failure").await;
    assert_eq!(r.actions[0].targets, vec!["app1".to_string(), "pg-primary".to_string()]);
}
