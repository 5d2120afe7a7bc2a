//! Starting the observers a stack names in `x-hadrill.observe`, and collecting what they saw: the pollers on
//! published ports, Sentinel's Pub/Sub, and a log follower per container whose component writes its own
//! state changes (HAProxy, PostgreSQL, Patroni, nginx).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use bollard::Docker;

use super::logs::{Followed, Reader};
use super::postgres::{LagSample, PgNode};
use super::stack_log::StackLog;
use super::{haproxy, logs, nginx, patroni, postgres, sentinel, sentinel_events};
use crate::docker::discover::Container;
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
    pub fn start(
        spec: &ObserveSpec,
        endpoints: &[Endpoint],
        clock: Clock,
        docker: &Docker,
        containers: &[Container],
    ) -> Observers {
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
        let since = i32::try_from(clock.start_unix_ms() / 1000).unwrap_or(i32::MAX);
        for (service, readers) in log_readers(spec) {
            let sources: Vec<&str> = readers.iter().map(|r| r.source).collect();
            for c in containers.iter().filter(|c| c.service == service) {
                o.running.push(format!("{} log {}", sources.join("+"), c.display_name()));
                let f =
                    Followed { container_id: c.id.clone(), name: c.display_name(), readers: readers.clone() };
                spawned.push(tokio::spawn(logs::follow(
                    docker.clone(),
                    f,
                    since,
                    o.log.clone(),
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

/// The services whose logs to follow, with the readers for what runs in each (a Patroni node runs PostgreSQL
/// too, and writes both to the same output).
pub fn log_readers(spec: &ObserveSpec) -> BTreeMap<String, Vec<Reader>> {
    let service = |t: &String| t.split(':').next().unwrap_or(t).to_string();
    let named: [(&Vec<String>, Reader); 5] = [
        (&spec.haproxy, Reader { source: "haproxy", parse: haproxy::log_line }),
        (&spec.postgres, Reader { source: "postgres", parse: postgres::log_line }),
        (&spec.patroni, Reader { source: "patroni", parse: patroni::log_line }),
        (&spec.nginx, Reader { source: "nginx", parse: nginx::log_line }),
        (&spec.sentinel, Reader { source: "sentinel", parse: sentinel_events::log_line }),
    ];
    let mut out: BTreeMap<String, Vec<Reader>> = BTreeMap::new();
    for (targets, reader) in named {
        for t in targets {
            let readers = out.entry(service(t)).or_default();
            if !readers.iter().any(|r| r.source == reader.source) {
                readers.push(reader);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_follower_per_service_with_every_reader_it_needs() {
        let spec = ObserveSpec {
            haproxy: vec!["lb:8404".into()],
            postgres: vec!["pg1:5432".into(), "pg2:5432".into()],
            patroni: vec!["pg1:8008".into(), "pg2:8008".into()],
            nginx: vec!["web".into()],
            sentinel: vec!["sentinel1:26379".into()],
            ..Default::default()
        };
        let r = log_readers(&spec);
        let sources = |s: &str| r[s].iter().map(|r| r.source).collect::<Vec<_>>();
        assert_eq!(r.keys().collect::<Vec<_>>(), ["lb", "pg1", "pg2", "sentinel1", "web"]);
        assert_eq!(sources("pg1"), ["postgres", "patroni"]);
        assert_eq!(sources("web"), ["nginx"]);
    }
}
