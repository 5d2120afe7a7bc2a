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
