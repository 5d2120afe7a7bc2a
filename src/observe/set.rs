//! Starting the observers a stack names in `x-hadrill.observe`, and collecting what they saw.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::postgres::{LagSample, PgNode};
use super::stack_log::StackLog;
use super::{haproxy, patroni, postgres, sentinel, sentinel_events};
use crate::stack::lifecycle::{find_endpoint, Endpoint};
use crate::stack::resolve::ObserveSpec;
use crate::timeline::{Clock, StackEvent};

/// How often observers poll: the error bound of every stack-side timestamp.
pub const EVERY: Duration = Duration::from_millis(200);

pub struct Observers {
    log: Arc<StackLog>,
    lags: Arc<Mutex<Vec<LagSample>>>,
    cancel: CancellationToken,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    /// Names of the observers that run (`haproxy lb:8404`, ...), and the ones that could not.
    pub running: Vec<String>,
    pub skipped: Vec<String>,
}

impl Observers {
    pub fn start(spec: &ObserveSpec, endpoints: &[Endpoint], clock: Clock) -> Observers {
        let log = Arc::new(StackLog::new(clock, EVERY));
        let lags: Arc<Mutex<Vec<LagSample>>> = Arc::default();
        let cancel = CancellationToken::new();
        let mut o =
            Observers { log, lags, cancel, tasks: Vec::new(), running: Vec::new(), skipped: Vec::new() };
        let mut resolve = |kind: &str, target: &String| match find_endpoint(endpoints, target) {
            Some(a) => {
                o.running.push(format!("{kind} {target}"));
                Some(a)
            }
            None => {
                o.skipped.push(format!("{kind} {target}: not published"));
                None
            }
        };
        let mut spawned = Vec::new();
        for t in &spec.haproxy {
            if let Some(a) = resolve("haproxy", t) {
                spawned.push(tokio::spawn(haproxy::run(a, o.log.clone(), EVERY, o.cancel.clone())));
            }
        }
        for t in &spec.postgres {
            if let Some(a) = resolve("postgres", t) {
                let name = t.split(':').next().unwrap_or(t).to_string();
                let node = PgNode { name, addr: a, login: spec.login_for(t) };
                spawned.push(tokio::spawn(postgres::run(
                    node,
                    o.log.clone(),
                    o.lags.clone(),
                    clock,
                    EVERY,
                    o.cancel.clone(),
                )));
            }
        }
        let members: Vec<_> = spec.patroni.iter().filter_map(|t| resolve("patroni", t)).collect();
        if !members.is_empty() {
            spawned.push(tokio::spawn(patroni::run(members, o.log.clone(), EVERY, o.cancel.clone())));
        }
        let master = spec.sentinel_master.clone().unwrap_or_else(|| "mymaster".into());
        for t in &spec.sentinel {
            if let Some(a) = resolve("sentinel", t) {
                let name = t.split(':').next().unwrap_or(t).to_string();
                spawned.push(tokio::spawn(sentinel_events::run(
                    name.clone(),
                    a,
                    o.log.clone(),
                    o.cancel.clone(),
                )));
                spawned.push(tokio::spawn(sentinel::run(
                    name,
                    a,
                    master.clone(),
                    o.log.clone(),
                    EVERY,
                    o.cancel.clone(),
                )));
            }
        }
        o.tasks = spawned;
        o
    }

    /// Stops every observer; returns the stack events and the replication lag samples.
    pub async fn finish(self) -> (Vec<StackEvent>, Vec<LagSample>) {
        self.cancel.cancel();
        for t in self.tasks {
            let _ = tokio::time::timeout(Duration::from_secs(3), t).await;
        }
        let lags = std::mem::take(&mut *self.lags.lock().expect("lag lock"));
        (self.log.events(), lags)
    }
}
