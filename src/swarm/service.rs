//! Deploy drills on Swarm through the service API: `scale` (the service's replicas) and `rolling-update` (a new
//! image, or the `ForceUpdate` counter raised so that Swarm replaces every task on the same spec). Swarm does the
//! rolling itself, the way the stack file's `update_config` says (order, parallelism, delay, failure action);
//! hadrill changes the spec, follows the tasks until the service converged (as many running tasks as wanted, all
//! on the new spec), and records each slot's replacement window. The ledger undoes them: a scale back to the
//! count before, Swarm's own rollback to the previous spec.

use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant};

use bollard::models::Service;
use bollard::query_parameters::{InspectServiceOptions, ListTasksOptions, UpdateServiceOptions};
use bollard::Docker;

use super::tasks::TaskInfo;
use crate::observe::events::unix_now_ns;

/// How often the tasks are listed while a change rolls.
const EVERY: Duration = Duration::from_millis(200);

/// Update states in which Swarm gave up on an update (`failure_action: pause` or `rollback`).
const GAVE_UP: [&str; 4] = ["paused", "rollback_started", "rollback_paused", "rollback_completed"];

/// What the running tasks of a service must be once a change is over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Want {
    pub image: String,
    pub force_update: u64,
    /// `None` for a global service.
    pub replicas: Option<u64>,
}

/// Whether `tasks` match `want`: as many running as wanted, each on the wanted spec, and no other task meant to
/// run (a replacement still starting, an old task not yet stopped).
pub fn converged(tasks: &[TaskInfo], want: &Want) -> bool {
    let meant: Vec<&TaskInfo> = tasks.iter().filter(|t| t.desired == "running").collect();
    let on_spec = |t: &&TaskInfo| t.image == want.image && t.force_update == want.force_update;
    let running = meant.iter().filter(|t| t.is_running() && on_spec(t)).count() as u64;
    let all_done = meant.iter().all(|t| t.is_running() && on_spec(t));
    let lingering = tasks.iter().any(|t| t.is_running() && !(t.desired == "running" && on_spec(&t)));
    all_done && !lingering && want.replicas.is_none_or(|r| running == r)
}

/// One slot's replacement during a rolling update, in Unix nanoseconds (when hadrill saw each change).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotWindow {
    pub slot: i64,
    /// A new task for the slot appeared (or the old one stopped, whichever came first).
    pub began: u128,
    /// The slot's old task stopped running.
    pub out: Option<u128>,
    /// The new task was running (healthy, for a service with a healthcheck: Swarm keeps it `starting` until).
    pub back: Option<u128>,
}

impl SlotWindow {
    /// When both halves were seen (or the last one seen, for a slot left half done).
    pub fn ended(&self) -> u128 {
        self.out.into_iter().chain(self.back).max().unwrap_or(self.began)
    }
}

/// Follows the slots of one service through a rolling update, from polls of its tasks.
#[derive(Debug, Clone)]
pub struct Tracker {
    /// The tasks running before the update.
    original: HashSet<String>,
    slots: BTreeMap<i64, SlotWindow>,
}

impl Tracker {
    pub fn new(before: &[TaskInfo]) -> Tracker {
        let original = before.iter().filter(|t| t.is_running()).map(|t| t.id.clone()).collect();
        Tracker { original, slots: BTreeMap::new() }
    }

    /// Takes in one listing of the service's tasks, seen at `at`.
    pub fn see(&mut self, now: &[TaskInfo], want: &Want, at: u128) {
        for t in now {
            let Some(slot) = t.slot else { continue };
            let original = self.original.contains(&t.id);
            let new_on_spec = !original
                && t.desired == "running"
                && t.image == want.image
                && t.force_update == want.force_update;
            if !(new_on_spec || (original && !t.is_running())) {
                continue;
            }
            let w = self.slots.entry(slot).or_insert(SlotWindow { slot, began: at, out: None, back: None });
            if original {
                w.out = w.out.or(Some(at));
            } else if t.is_running() {
                w.back = w.back.or(Some(at));
            }
        }
    }

    pub fn windows(&self) -> Vec<SlotWindow> {
        self.slots.values().cloned().collect()
    }
}

async fn inspect(docker: &Docker, name: &str) -> Result<Service, String> {
    docker
        .inspect_service(name, None::<InspectServiceOptions>)
        .await
        .map_err(|e| format!("inspect service {name}: {e}"))
}

async fn tasks(docker: &Docker, service_id: &str) -> Result<Vec<TaskInfo>, String> {
    let filters =
        Some(std::collections::HashMap::from([("service".to_string(), vec![service_id.to_owned()])]));
    let list = docker.list_tasks(Some(ListTasksOptions { filters })).await.map_err(|e| e.to_string())?;
    Ok(list.iter().map(TaskInfo::of).collect())
}

/// The spec's image, `ForceUpdate` counter and replicas.
fn want_of(s: &Service) -> Want {
    let spec = s.spec.clone().unwrap_or_default();
    let task = spec.task_template.unwrap_or_default();
    Want {
        image: task.container_spec.and_then(|c| c.image).unwrap_or_default(),
        force_update: task.force_update.unwrap_or(0),
        replicas: spec
            .mode
            .and_then(|m| m.replicated)
            .and_then(|r| r.replicas)
            .and_then(|r| u64::try_from(r).ok()),
    }
}

/// The service's update state and its start time (to tell this update's from an earlier one's).
fn update_state(s: &Service) -> (String, String) {
    let u = s.update_status.as_ref();
    let state = u.and_then(|u| u.state).map(|s| s.to_string()).unwrap_or_default();
    (state, u.and_then(|u| u.started_at.clone()).unwrap_or_default())
}

/// Sends `change` applied to the service's current spec; returns the service as it was and what is wanted now.
async fn change(
    docker: &Docker,
    name: &str,
    change: impl FnOnce(&mut bollard::models::ServiceSpec),
) -> Result<(Service, Want), String> {
    let before = inspect(docker, name).await?;
    let version =
        before.version.as_ref().and_then(|v| v.index).ok_or(format!("service {name} has no version"))?;
    let mut spec = before.spec.clone().ok_or(format!("service {name} has no spec"))?;
    change(&mut spec);
    let opts =
        UpdateServiceOptions { version: i32::try_from(version).unwrap_or(i32::MAX), ..Default::default() };
    docker
        .update_service(name, spec.clone(), opts, None)
        .await
        .map_err(|e| format!("update service {name}: {e}"))?;
    let after = Service { spec: Some(spec), ..before.clone() };
    Ok((before, want_of(&after)))
}

/// What a rolling update or a scale did.
#[derive(Debug, Clone)]
pub struct Rolled {
    /// When Swarm accepted the new spec.
    pub accepted: u128,
    /// When the service had converged (or hadrill gave up).
    pub ended: u128,
    pub slots: Vec<SlotWindow>,
    /// The replicas and image before.
    pub before: Want,
    /// Why it did not converge, if it did not.
    pub error: Option<String>,
}

/// Follows `name` (service id `id`) until its tasks match `want`, Swarm gives up on the update, or `limit`.
async fn follow(
    docker: &Docker,
    name: &str,
    want: &Want,
    before: &Service,
    limit: Duration,
) -> (Vec<SlotWindow>, Option<String>) {
    let id = before.id.clone().unwrap_or_else(|| name.to_owned());
    let earlier_update = update_state(before).1;
    let mut tracker = Tracker::new(&tasks(docker, &id).await.unwrap_or_default());
    let start = Instant::now();
    loop {
        tokio::time::sleep(EVERY).await;
        let last = match tasks(docker, &id).await {
            Ok(now) => {
                tracker.see(&now, want, unix_now_ns());
                if converged(&now, want) {
                    return (tracker.windows(), None);
                }
                let running = now.iter().filter(|t| t.desired == "running" && t.is_running()).count();
                format!("{running} tasks running")
            }
            Err(e) => e,
        };
        if let Ok(s) = inspect(docker, name).await {
            let (state, started) = update_state(&s);
            if started != earlier_update && GAVE_UP.contains(&state.as_str()) {
                let msg = s.update_status.and_then(|u| u.message).unwrap_or_default();
                return (tracker.windows(), Some(format!("Swarm's update of {name} ended {state}: {msg}")));
            }
        }
        if start.elapsed() >= limit {
            let secs = limit.as_secs();
            return (
                tracker.windows(),
                Some(format!("service {name} did not converge within {secs}s ({last})")),
            );
        }
    }
}

/// Sets service `name` to `count` replicas and waits until that many tasks run.
pub async fn scale(docker: &Docker, name: &str, count: u64, limit: Duration) -> Result<Rolled, String> {
    let (before, want) = change(docker, name, |spec| {
        if let Some(r) = spec.mode.as_mut().and_then(|m| m.replicated.as_mut()) {
            r.replicas = Some(i64::try_from(count).unwrap_or(i64::MAX));
        }
    })
    .await?;
    if want.replicas != Some(count) {
        return Err(format!("service {name} is not replicated: it cannot be scaled"));
    }
    let accepted = unix_now_ns();
    let (slots, error) = follow(docker, name, &want, &before, limit).await;
    Ok(Rolled { accepted, ended: unix_now_ns(), slots, before: want_of(&before), error })
}

/// Rolls service `name` onto `image`, or (none given) raises its `ForceUpdate` counter; waits until every task
/// runs the new spec.
pub async fn update(
    docker: &Docker,
    name: &str,
    image: Option<&str>,
    limit: Duration,
) -> Result<Rolled, String> {
    let (before, want) = change(docker, name, |spec| {
        let task = spec.task_template.get_or_insert_with(Default::default);
        match image {
            Some(i) => task.container_spec.get_or_insert_with(Default::default).image = Some(i.to_owned()),
            None => task.force_update = Some(task.force_update.unwrap_or(0) + 1),
        }
    })
    .await?;
    let accepted = unix_now_ns();
    let (slots, error) = follow(docker, name, &want, &before, limit).await;
    Ok(Rolled { accepted, ended: unix_now_ns(), slots, before: want_of(&before), error })
}

/// Swarm's own rollback of service `name` to its previous spec (`to`, as it was before the update); waits until
/// it converged.
pub async fn rollback(docker: &Docker, name: &str, to: &Want, limit: Duration) -> Result<(), String> {
    let now = inspect(docker, name).await?;
    let version =
        now.version.as_ref().and_then(|v| v.index).ok_or(format!("service {name} has no version"))?;
    let opts = UpdateServiceOptions {
        version: i32::try_from(version).unwrap_or(i32::MAX),
        rollback: Some("previous".into()),
        ..Default::default()
    };
    let spec = now.spec.clone().unwrap_or_default();
    docker
        .update_service(name, spec, opts, None)
        .await
        .map_err(|e| format!("roll back service {name}: {e}"))?;
    let start = Instant::now();
    let id = now.id.clone().unwrap_or_else(|| name.to_owned());
    while start.elapsed() < limit {
        tokio::time::sleep(EVERY).await;
        if tasks(docker, &id).await.is_ok_and(|t| converged(&t, to)) {
            return Ok(());
        }
    }
    Err(format!("service {name} did not converge on its previous spec within {}s", limit.as_secs()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(id: &str, slot: i64, state: &str, desired: &str, force: u64) -> TaskInfo {
        TaskInfo {
            id: id.into(),
            slot: Some(slot),
            state: state.into(),
            desired: desired.into(),
            container: None,
            exit_code: None,
            message: String::new(),
            err: String::new(),
            ports: Vec::new(),
            image: "demo".into(),
            force_update: force,
            node: "n1".into(),
        }
    }

    fn want(force: u64, replicas: u64) -> Want {
        Want { image: "demo".into(), force_update: force, replicas: Some(replicas) }
    }

    #[test]
    fn converged_when_the_wanted_count_runs_the_new_spec_and_nothing_else_is_meant_to() {
        let old = [task("a", 1, "running", "running", 0), task("b", 2, "running", "running", 0)];
        assert!(converged(&old, &want(0, 2)));
        assert!(!converged(&old, &want(1, 2)), "still on the old spec");
        assert!(!converged(&old, &want(0, 3)), "short of a replica");
        let mid = [
            task("a", 1, "shutdown", "shutdown", 0),
            task("c", 1, "running", "running", 1),
            task("b", 2, "running", "running", 0),
            task("d", 2, "starting", "running", 1),
        ];
        assert!(!converged(&mid, &want(1, 2)), "a replacement still starting");
        let old_still_up = [
            task("a", 1, "shutdown", "shutdown", 0),
            task("c", 1, "running", "running", 1),
            task("b", 2, "running", "shutdown", 0),
            task("d", 2, "running", "running", 1),
        ];
        assert!(!converged(&old_still_up, &want(1, 2)), "the last old task told to stop, still running");
        let done = [
            task("a", 1, "shutdown", "shutdown", 0),
            task("c", 1, "running", "running", 1),
            task("b", 2, "shutdown", "shutdown", 0),
            task("d", 2, "running", "running", 1),
        ];
        assert!(converged(&done, &want(1, 2)));
    }

    #[test]
    fn each_slot_s_window_runs_from_its_new_task_to_the_old_one_out() {
        let before = [task("a", 1, "running", "running", 0), task("b", 2, "running", "running", 0)];
        let w = want(1, 2);
        let mut t = Tracker::new(&before);
        t.see(&before, &w, 10);
        assert!(t.windows().is_empty(), "nothing moved yet");
        t.see(&[before[0].clone(), before[1].clone(), task("c", 1, "starting", "running", 1)], &w, 20);
        t.see(&[before[0].clone(), before[1].clone(), task("c", 1, "running", "running", 1)], &w, 30);
        t.see(&[task("a", 1, "shutdown", "shutdown", 0), task("c", 1, "running", "running", 1)], &w, 40);
        let slots = t.windows();
        assert_eq!(slots, vec![SlotWindow { slot: 1, began: 20, out: Some(40), back: Some(30) }]);
        assert_eq!(slots[0].ended(), 40);
    }
}
