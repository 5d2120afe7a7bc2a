//! End-to-end drills on the web-haproxy-pg stack: the bundled scenarios pass their expectations, and hadrill's
//! RTO and lost-write count match ground truth the demo service and PostgreSQL provide.

mod common;

use hadrill::measure::rpo::RpoStatus;
use hadrill::measure::rto::RtoStatus;
use hadrill::report::Verdict;

/// Tolerance of the RTO against the ground-truth outage at 500 req/s (2 ms between requests): the boundary
/// requests, plus the demo's millisecond clock.
const RTO_TOLERANCE_MS: f64 = 20.0;

#[tokio::test(flavor = "multi_thread")]
async fn groundtruth_outage_rto_matches_the_known_outage() {
    let _serial = common::SERIAL.lock().await;
    let r = common::drill("scenarios/groundtruth-outage.toml").await;
    let rto = &r.measurement.rto;
    assert_eq!(rto.status, RtoStatus::Recovered, "{rto:?}");
    let measured = rto.rto_ms.unwrap();
    eprintln!("ground truth 2000 ms, measured RTO {measured:.3} ms, error {:.3} ms", measured - 2000.0);
    assert!((measured - 2000.0).abs() <= RTO_TOLERANCE_MS, "RTO {measured} ms vs 2000 ms");
    assert_eq!(r.measurement.outages.count, 1, "one outage window");
    assert!((r.measurement.outages.total_ms - 2000.0).abs() <= RTO_TOLERANCE_MS);
    let fault = &r.actions[0];
    assert_eq!(fault.effect_source, Some(hadrill::timeline::EffectSource::Reported));
    assert_eq!(r.verdict, Verdict::Passed);
}

#[tokio::test(flavor = "multi_thread")]
async fn groundtruth_deleted_rows_are_reported_as_lost_writes() {
    let _serial = common::SERIAL.lock().await;
    let r = common::drill("scenarios/groundtruth-lost-writes.toml").await;
    let w = &r.measurement.writes;
    assert_eq!(w.rpo.status, RpoStatus::Measured);
    assert_eq!(w.lost, Some(25), "the step deleted 25 acknowledged rows");
    // The step deletes the 25 smallest keys, and keys sort by sequence number: the lost writes are the
    // 25 first acknowledged ones.
    assert_eq!(w.lost_seqs.len(), 25);
    assert!(w.lost_seqs.windows(2).all(|p| p[0] < p[1]));
    assert!(w.rpo.rpo_ms.unwrap() > 0.0);
    assert_eq!(r.verdict, Verdict::Passed);
}

async fn bundled_passes(name: &str) -> hadrill::report::Report {
    let _serial = common::SERIAL.lock().await;
    let r = common::drill(&format!("scenarios/{name}.toml")).await;
    assert!(r.actions.iter().all(|a| a.verified), "every fault verified: {:?}", r.actions);
    assert_eq!(r.verdict, Verdict::Passed, "{}", hadrill::report::markdown::console_verdict(&r));
    r
}

#[tokio::test(flavor = "multi_thread")]
async fn app_instance_kill_passes() {
    let r = bundled_passes("app-instance-kill").await;
    assert_eq!(r.measurement.writes.lost, Some(0));
}

#[tokio::test(flavor = "multi_thread")]
async fn app_instance_partition_passes() {
    let r = bundled_passes("app-instance-partition").await;
    assert!(r.actions[0].reverted_ms.is_some(), "the network came back");
}

#[tokio::test(flavor = "multi_thread")]
async fn lb_backend_pause_passes() {
    let r = bundled_passes("lb-backend-pause").await;
    assert!(r.actions[0].reverted_ms.is_some(), "unpaused");
}

#[tokio::test(flavor = "multi_thread")]
async fn pg_primary_failover_passes_and_counts_writes() {
    let r = bundled_passes("pg-primary-failover").await;
    assert_eq!(r.measurement.rto.status, RtoStatus::Recovered, "the apps found the promoted replica");
    assert_eq!(r.measurement.writes.rpo.status, RpoStatus::Measured);
}
