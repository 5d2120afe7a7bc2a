//! Injecting one scheduled fault or step: act on each target container through the Docker API, find when it
//! took effect (the daemon's event time, a time the command reported, or when hadrill's call returned), verify
//! it (dead, paused, detached, packets dropped or delayed, disk filled, exit 0), and register its revert in the
//! ledger.
//!
//! The schedule sees only the [`Injector`] trait, so that its timing, cancellation and reverts are unit tested
//! with a fake injector under paused time; [`DockerInjector`] is the real one.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bollard::query_parameters::{
    InspectContainerOptions, KillContainerOptionsBuilder, RestartContainerOptionsBuilder,
    StopContainerOptionsBuilder,
};
use bollard::Docker;
use rand::rngs::StdRng;

use super::ledger::{Ledger, Revert};
use super::netfault::{self, NetFault};
use super::{diskfill, exec, rolling, targets};
use crate::docker::discover::Container;
use crate::observe::events::{unix_now_ns, EventLog};
use crate::scenario::model::{Action, Order, Planned, Roll};
use crate::timeline::{ActionEvent, Clock, EffectSource, Nanos, Replacement};

/// What one container's (or, on Swarm, one service's) part of an action gave.
pub(super) struct Part {
    pub(super) effect: Option<(u128, EffectSource)>,
    pub(super) verified: bool,
    pub(super) detail: String,
}

impl Part {
    pub(super) fn failed(detail: String) -> Part {
        Part { effect: None, verified: false, detail }
    }
}

/// What the schedule needs from whatever injects faults.
pub trait Injector: Send + Sync + 'static {
    /// Applies `p` now, registering its reverts; says what happened (`started` and `effect` in drill time).
    fn apply(&self, p: &Planned) -> impl Future<Output = ActionEvent> + Send;
    /// Runs the reverts of one action now. Idempotent.
    fn revert(&self, index: usize) -> impl Future<Output = ()> + Send;
    /// Runs every revert still pending.
    fn revert_all(&self) -> impl Future<Output = ()> + Send;
}

pub struct DockerInjector {
    pub docker: Docker,
    pub clock: Clock,
    pub project: String,
    pub events: Arc<EventLog>,
    pub containers: Vec<Container>,
    pub rng: Mutex<StdRng>,
    pub ledger: Arc<Ledger>,
    /// Exported to `exec` commands as `HADRILL_KEY_PREFIX`.
    pub key_prefix: String,
    /// The stack's observers: where a role pick (`pick = "primary"`, ...) asks who holds the role.
    pub observe: crate::stack::resolve::ObserveSpec,
    /// A Swarm stack: targets are its running tasks when the action starts (a task Swarm replaced is not hit
    /// again), deploy actions go through the service API.
    pub swarm: bool,
    /// `[nodes]`: the daemon of each swarm node, for faults on the task containers it runs.
    pub nodes: crate::swarm::nodes::Nodes,
    /// The swarm node of each task container seen (container id to node id).
    pub node_of: Mutex<std::collections::HashMap<String, String>>,
}

const EVENT_WAIT: Duration = Duration::from_secs(5);

impl Injector for DockerInjector {
    async fn apply(&self, p: &Planned) -> ActionEvent {
        self.apply_all(p).await
    }

    async fn revert(&self, index: usize) {
        self.ledger.revert(index).await;
    }

    async fn revert_all(&self) {
        self.ledger.revert_all().await;
    }
}

impl DockerInjector {
    async fn apply_all(&self, p: &Planned) -> ActionEvent {
        let roles = targets::RoleSources { docker: &self.docker, observe: &self.observe };
        let all = self.current_containers().await;
        let choice = targets::choose(&roles, &all, &p.target, &self.rng).await;
        let chosen = choice.clone().unwrap_or_default();
        let scheduled = p.at.as_nanos() as Nanos;
        let started = self.clock.now();
        let names: Vec<String> = chosen.iter().map(Container::display_name).collect();
        let summary = summarize(p, &names);
        let mut event = ActionEvent {
            index: p.index,
            role: p.role,
            action: p.action.name().to_string(),
            summary,
            targets: names,
            scheduled,
            started,
            effect: None,
            effect_source: None,
            verified: false,
            detail: String::new(),
            reverted: None,
            replaced: Vec::new(),
        };
        if chosen.is_empty() {
            event.detail = choice
                .err()
                .unwrap_or_else(|| format!("no running container of {}", p.target.services.join(", ")));
            return event;
        }
        let labelled = |parts: Vec<Part>| -> Vec<(String, Part)> {
            chosen.iter().map(Container::display_name).zip(parts).collect()
        };
        let parts = match &p.action {
            Action::Rolling(roll) if self.swarm => {
                let (parts, replaced) = super::swarm_deploy::roll(self, p, roll, &per_service(&chosen)).await;
                event.replaced = replaced;
                parts
            }
            Action::Scale { count } if self.swarm => {
                let svc = &chosen[0].service;
                vec![(svc.clone(), super::swarm_deploy::scale(self, p, svc, *count).await)]
            }
            Action::Rolling(roll) => {
                let (parts, replaced) = self.roll(p, roll, &chosen).await;
                event.replaced = replaced;
                labelled(parts)
            }
            Action::Scale { count } => labelled(vec![self.scale(&chosen[0].service, *count).await]),
            _ => labelled(
                futures_util::future::join_all(chosen.iter().map(|c| self.apply_one(p, c, scheduled))).await,
            ),
        };
        let mut details = Vec::new();
        event.verified = true;
        for (who, part) in parts {
            if let Some((t, src)) = part.effect {
                let n = self.clock.wall_to_nanos(t);
                if event.effect.is_none_or(|e| n < e) {
                    event.effect = Some(n);
                    event.effect_source = Some(src);
                }
            }
            event.verified &= part.verified;
            details.push(format!("{who}: {}", part.detail));
        }
        event.detail = details.join("; ");
        event
    }

    /// The containers an action may target: on Swarm, the tasks running now (Swarm may have replaced some
    /// since the start, and a dead task's container must not be hit again); else those of the start.
    async fn current_containers(&self) -> Vec<Container> {
        if !self.swarm {
            return self.containers.clone();
        }
        let mut now = match crate::swarm::deploy::running_containers(&self.docker, &self.project).await {
            Ok(now) if !now.is_empty() => now,
            _ => self.containers.clone(),
        };
        if let Ok(services) = crate::swarm::tasks::services(&self.docker, &self.project).await {
            let mut map = self.node_of.lock().expect("node map lock");
            for t in services.iter().flat_map(|s| &s.tasks) {
                if let Some(c) = &t.container {
                    map.insert(c.clone(), t.node.clone());
                }
            }
        }
        for node in self.nodes.all() {
            let Ok(theirs) = crate::docker::discover::project_containers(&node.docker, &self.project).await
            else {
                continue;
            };
            for mut c in theirs.into_iter().filter(|c| c.state == "running") {
                if !now.iter().any(|o| o.id == c.id) {
                    c.number = crate::swarm::deploy::slot_of(&c.name).unwrap_or(c.number);
                    now.push(c);
                }
            }
        }
        now
    }

    /// The daemon a fault on `c` goes to: its node's (`[nodes]`), else the one hadrill talks to.
    fn docker_for(&self, c: &Container) -> Docker {
        let node = self.node_of.lock().expect("node map lock").get(&c.id).cloned();
        node.and_then(|n| self.nodes.docker_of(&n).cloned()).unwrap_or_else(|| self.docker.clone())
    }

    async fn apply_one(&self, p: &Planned, c: &Container, scheduled: Nanos) -> Part {
        let docker = self.docker_for(c);
        let d = &docker;
        let since = unix_now_ns();
        let name = c.display_name();
        match &p.action {
            Action::Kill { signal } => {
                let opts = KillContainerOptionsBuilder::default().signal(signal).build();
                if let Err(e) = d.kill_container(&c.id, Some(opts)).await {
                    return Part::failed(format!("kill failed: {e}"));
                }
                let terminating = matches!(signal.as_str(), "SIGKILL" | "SIGTERM" | "SIGINT" | "SIGQUIT");
                // SIGKILL cannot be caught: it takes effect when the daemon delivers it (its `kill` event). The
                // `die` event comes 50-200 ms later, after the daemon's cleanup, when clients have already seen
                // their connections reset. Other terminating signals take effect when the process exits.
                let sigkill = signal == "SIGKILL";
                let wait_action: &[&str] = if sigkill || !terminating { &["kill"] } else { &["die"] };
                let limit = if sigkill { EVENT_WAIT } else { Duration::from_secs(15) };
                let effect = self.events.wait_for(&c.id, wait_action, since, limit).await;
                if sigkill {
                    // Verification must see the death itself.
                    let _ = self.events.wait_for(&c.id, &["die"], since, EVENT_WAIT).await;
                }
                let part = if terminating {
                    self.verify_state(c, |s| !s.running, "dead", effect).await
                } else {
                    Part {
                        effect: effect.map(|t| (t, EffectSource::DockerEvent)),
                        verified: effect.is_some(),
                        detail: format!("{signal} delivered"),
                    }
                };
                if p.duration.is_some() {
                    self.ledger.register(p.index, Revert::Start { id: c.id.clone(), name });
                }
                part
            }
            Action::Stop { timeout } => {
                let opts = StopContainerOptionsBuilder::default().t(timeout.as_secs() as i32).build();
                if let Err(e) = d.stop_container(&c.id, Some(opts)).await {
                    return Part::failed(format!("stop failed: {e}"));
                }
                let effect = self.events.wait_for(&c.id, &["die"], since, EVENT_WAIT).await;
                if p.duration.is_some() {
                    self.ledger.register(p.index, Revert::Start { id: c.id.clone(), name });
                }
                self.verify_state(c, |s| !s.running, "stopped", effect).await
            }
            Action::Restart { timeout } => {
                let opts = RestartContainerOptionsBuilder::default().t(timeout.as_secs() as i32).build();
                if let Err(e) = d.restart_container(&c.id, Some(opts)).await {
                    return Part::failed(format!("restart failed: {e}"));
                }
                let effect = self.events.wait_for(&c.id, &["die"], since, EVENT_WAIT).await;
                self.verify_state(c, |s| s.running, "restarted and running", effect).await
            }
            Action::Pause => {
                if let Err(e) = d.pause_container(&c.id).await {
                    return Part::failed(format!("pause failed: {e}"));
                }
                self.ledger.register(p.index, Revert::Unpause { id: c.id.clone(), name });
                let effect = self.events.wait_for(&c.id, &["pause"], since, EVENT_WAIT).await;
                self.verify_state(c, |s| s.paused, "paused", effect).await
            }
            Action::Disconnect { network } => self.disconnect(p, c, network, since).await,
            Action::Drain => self.drain(p, c).await,
            Action::Partition { peers } => match self.peer_addresses(peers).await {
                Ok(ips) => self.network(p, c, NetFault::Partition { peers: ips }).await,
                Err(e) => Part::failed(e),
            },
            Action::Loss { percent, peers } => match self.peer_addresses(peers).await {
                Ok(ips) => self.network(p, c, NetFault::Loss { percent: *percent, peers: ips }).await,
                Err(e) => Part::failed(e),
            },
            Action::Delay { latency, jitter } => {
                self.network(p, c, NetFault::Delay { latency: *latency, jitter: *jitter }).await
            }
            Action::Throttle { kbit } => self.network(p, c, NetFault::Throttle { kbit: *kbit }).await,
            Action::FillDisk { path, amount, max_fill } => {
                let filled = diskfill::apply(d, &self.project, &c.id, &name, path, *amount, *max_fill).await;
                let filled = match filled {
                    Ok(f) => f,
                    Err(e) => return Part::failed(e.to_string()),
                };
                let effect = unix_now_ns();
                let ok = diskfill::reached(*amount, filled.written, filled.avail_after, filled.total);
                let human = crate::units::human_bytes;
                let detail = format!(
                    "wrote {} to {}/{}: {} of {} available, was {}",
                    human(filled.written),
                    path,
                    diskfill::FILL_FILE,
                    human(filled.avail_after),
                    human(filled.total),
                    human(filled.avail_before)
                );
                self.ledger.register(p.index, Revert::DiskFill(filled));
                Part { effect: Some((effect, EffectSource::Hadrill)), verified: ok, detail }
            }
            Action::Exec { command, user } => {
                let env = vec![
                    format!("HADRILL_AT_MS={}", self.clock.nanos_to_unix_ms(scheduled)),
                    format!("HADRILL_KEY_PREFIX={}", self.key_prefix),
                    format!("HADRILL_PROJECT={}", self.project),
                ];
                match exec::run(d, &c.id, command, user.as_deref(), &env).await {
                    Err(e) => Part::failed(e.to_string()),
                    Ok(out) => {
                        let effect = match exec::reported_effect_ms(&out.output) {
                            Some(ms) => (u128::from(ms) * 1_000_000, EffectSource::Reported),
                            None => (unix_now_ns(), EffectSource::Hadrill),
                        };
                        let text = out.output.trim();
                        let text: String = text.chars().take(400).collect();
                        Part {
                            effect: (out.exit_code == 0).then_some(effect),
                            verified: out.exit_code == 0,
                            detail: format!("exit {}: {text}", out.exit_code),
                        }
                    }
                }
            }
            Action::Rolling(_) | Action::Scale { .. } => {
                Part::failed("applied by the schedule as a whole".into())
            }
        }
    }

    /// Replaces the chosen instances one at a time, `pause` apart, stopping at the first that fails; a
    /// stop-first restart registers a start of the old container in case the drill ends mid-way.
    async fn roll(&self, p: &Planned, roll: &Roll, chosen: &[Container]) -> (Vec<Part>, Vec<Replacement>) {
        let mut parts = Vec::new();
        let mut replaced = Vec::new();
        for (i, c) in chosen.iter().enumerate() {
            if i > 0 && !roll.pause.is_zero() {
                tokio::time::sleep(roll.pause).await;
            }
            if roll.order == Order::StopFirst && !roll.recreates() {
                self.ledger.register(p.index, Revert::Start { id: c.id.clone(), name: c.display_name() });
            }
            let r = rolling::replace(&self.docker, &self.events, &c.id, roll).await;
            let at = |t: u128| self.clock.wall_to_nanos(t) as f64 / 1e9;
            let window = format!("replaced {:.2}s..{:.2}s", at(r.began), at(r.ended.max(r.began)));
            let out = r.out.map(|t| format!("old out {:.2}s", at(t))).unwrap_or_else(|| "old not out".into());
            let back =
                r.back.map(|t| format!("new healthy {:.2}s", at(t))).unwrap_or_else(|| "not healthy".into());
            let failed = r.error.clone();
            let drill = |t: u128| self.clock.wall_to_nanos(t);
            replaced.push(Replacement {
                instance: c.display_name(),
                began: drill(r.began),
                ended: drill(r.ended.max(r.began)),
                out: r.out.map(drill),
                back: r.back.map(drill),
            });
            parts.push(Part {
                effect: r.out.map(|t| (t, EffectSource::DockerEvent)),
                verified: failed.is_none() && r.back.is_some() && r.out.is_some(),
                detail: match &failed {
                    None => format!("{window}: {out}, {back}"),
                    Some(e) => format!("{window}: {out}, {back}: {e}"),
                },
            });
            if failed.is_some() {
                break;
            }
        }
        (parts, replaced)
    }

    async fn scale(&self, service: &str, count: u32) -> Part {
        match rolling::scale(&self.docker, &self.events, &self.project, service, count).await {
            Ok(done) if done.is_empty() => Part {
                effect: Some((unix_now_ns(), EffectSource::Hadrill)),
                verified: true,
                detail: format!("already {count} running"),
            },
            Ok(done) => Part {
                effect: Some((unix_now_ns(), EffectSource::Hadrill)),
                verified: true,
                detail: format!("{count} running: {}", done.join(", ")),
            },
            Err(e) => Part::failed(e),
        }
    }

    /// Inspects the container to check the fault's state, and reports the event time found for it.
    async fn verify_state(
        &self,
        c: &Container,
        check: impl Fn(&State) -> bool,
        what: &str,
        effect: Option<u128>,
    ) -> Part {
        let state = match self.docker_for(c).inspect_container(&c.id, None::<InspectContainerOptions>).await {
            Ok(i) => i
                .state
                .map(|s| State { running: s.running.unwrap_or(false), paused: s.paused.unwrap_or(false) }),
            Err(e) => return Part::failed(format!("inspect failed: {e}")),
        };
        let ok = state.as_ref().is_some_and(&check);
        Part {
            effect: effect.map(|t| (t, EffectSource::DockerEvent)),
            verified: ok && effect.is_some(),
            detail: match (ok, effect.is_some()) {
                (true, true) => format!("{what} (daemon event)"),
                (true, false) => format!("{what}, but no daemon event seen"),
                (false, _) => format!("not {what} after the call"),
            },
        }
    }

    async fn disconnect(&self, p: &Planned, c: &Container, network: &str, since: u128) -> Part {
        let info = match self.docker.inspect_container(&c.id, None::<InspectContainerOptions>).await {
            Ok(i) => i,
            Err(e) => return Part::failed(format!("inspect failed: {e}")),
        };
        let nets = info.network_settings.and_then(|n| n.networks).unwrap_or_default();
        let full = format!("{}_{network}", self.project);
        let Some((net_name, endpoint)) =
            nets.iter().find(|(k, _)| **k == full || k.ends_with(&format!("_{network}")))
        else {
            return Part::failed(format!("not attached to network {network}"));
        };
        let aliases = endpoint.aliases.clone().unwrap_or_else(|| vec![c.service.clone()]);
        let req = bollard::models::NetworkDisconnectRequest { container: c.id.clone(), force: Some(true) };
        if let Err(e) = self.docker.disconnect_network(net_name, req).await {
            return Part::failed(format!("disconnect failed: {e}"));
        }
        self.ledger.register(
            p.index,
            Revert::Reconnect {
                id: c.id.clone(),
                name: c.display_name(),
                network: net_name.clone(),
                aliases,
            },
        );
        let effect = self.events.wait_for(&c.id, &["network disconnect"], since, EVENT_WAIT).await;
        let still = match self.docker.inspect_container(&c.id, None::<InspectContainerOptions>).await {
            Ok(i) => i.network_settings.and_then(|n| n.networks).is_some_and(|n| n.contains_key(net_name)),
            Err(_) => true,
        };
        Part {
            effect: effect.map(|t| (t, EffectSource::DockerEvent)),
            verified: !still && effect.is_some(),
            detail: if still {
                format!("still attached to {net_name}")
            } else {
                format!("detached from {net_name}")
            },
        }
    }

    /// Drains the node running `c` (Swarm's API), registering its return to `active`; verified by the node's
    /// availability read back.
    async fn drain(&self, p: &Planned, c: &Container) -> Part {
        use crate::swarm::node;
        let id = match node::of_container(&self.docker, &c.id).await {
            Ok(id) => id,
            Err(e) => return Part::failed(e),
        };
        let host = node::availability(&self.docker, &id).await.map(|(h, _)| h).unwrap_or_else(|_| id.clone());
        if let Err(e) = node::set(&self.docker, &id, bollard::models::NodeSpecAvailabilityEnum::DRAIN).await {
            return Part::failed(e);
        }
        let effect = unix_now_ns();
        self.ledger.register(p.index, Revert::Activate { node: id.clone(), name: host.clone() });
        let now = node::availability(&self.docker, &id).await.map(|(_, a)| a).unwrap_or_default();
        Part {
            effect: Some((effect, EffectSource::Hadrill)),
            verified: now == "drain",
            detail: format!("node {host} availability {now}"),
        }
    }

    /// The addresses of every container of the peer services, on all their networks; an error when peers are
    /// named and none has an address.
    async fn peer_addresses(&self, peers: &[String]) -> Result<Vec<String>, String> {
        let mut ips = Vec::new();
        for peer in self.containers.iter().filter(|x| peers.contains(&x.service)) {
            ips.extend(netfault::addresses(&self.docker, &peer.id).await.map_err(|e| e.to_string())?);
        }
        if ips.is_empty() && !peers.is_empty() {
            return Err(format!("no address found for {}", peers.join(", ")));
        }
        Ok(ips)
    }

    /// Installs a network fault from a helper in the target's namespace, then verifies it by its counters
    /// (packets dropped, or sent through the qdisc) within 2 s.
    async fn network(&self, p: &Planned, c: &Container, fault: NetFault) -> Part {
        let installed =
            match netfault::apply(&self.docker, &self.project, &c.id, &c.display_name(), fault).await {
                Ok(i) => i,
                Err(e) => return Part::failed(e.to_string()),
            };
        let effect = unix_now_ns();
        self.ledger.register(p.index, Revert::NetFault(installed.clone()));
        let mut affected = 0;
        for _ in 0..20 {
            affected = netfault::affected(&self.docker, &installed).await.unwrap_or(0);
            if affected > 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let what = installed.fault.describe();
        let verb = installed.fault.effect_words(affected);
        Part {
            effect: Some((effect, EffectSource::Hadrill)),
            verified: affected > 0,
            detail: if affected > 0 {
                format!("{what}; {affected} {verb} within 2s")
            } else {
                format!("{what} in place; {verb} within 2s")
            },
        }
    }
}

struct State {
    running: bool,
    paused: bool,
}

/// The services among `chosen`, in order, with how many of their containers were chosen.
fn per_service(chosen: &[Container]) -> Vec<(String, usize)> {
    let mut out: Vec<(String, usize)> = Vec::new();
    for c in chosen {
        match out.iter_mut().find(|(s, _)| *s == c.service) {
            Some((_, n)) => *n += 1,
            None => out.push((c.service.clone(), 1)),
        }
    }
    out
}

/// `kill SIGKILL app2`, `pause app1 for 5s`, `partition app1 from pg-primary, pg-replica for 10s`, ...
fn summarize(p: &Planned, names: &[String]) -> String {
    let who = names.join(", ");
    let dur = p.duration.map(|d| format!(" for {}", crate::duration::human(d))).unwrap_or_default();
    match &p.action {
        Action::Kill { signal } => format!("kill {signal} {who}{dur}"),
        Action::Stop { .. } => format!("stop {who}{dur}"),
        Action::Restart { .. } => format!("restart {who}"),
        Action::Pause => format!("pause {who}{dur}"),
        Action::Disconnect { network } => format!("disconnect {who} from network {network}{dur}"),
        Action::Partition { peers } => format!("partition {who} from {}{dur}", peers.join(", ")),
        Action::Loss { percent, peers } if peers.is_empty() => format!("loss {percent}% on {who}{dur}"),
        Action::Loss { percent, peers } => {
            format!("loss {percent}% between {who} and {}{dur}", peers.join(", "))
        }
        Action::Delay { latency, jitter } if jitter.is_zero() => {
            format!("delay {who} by {}{dur}", crate::duration::human(*latency))
        }
        Action::Delay { latency, jitter } => format!(
            "delay {who} by {} ± {}{dur}",
            crate::duration::human(*latency),
            crate::duration::human(*jitter)
        ),
        Action::Throttle { kbit } => format!("throttle {who} to {kbit} kbit/s{dur}"),
        Action::FillDisk { path, amount, .. } => match amount {
            diskfill::Amount::Size(n) => {
                format!("fill-disk {who}:{path} with {}{dur}", crate::units::human_bytes(*n))
            }
            diskfill::Amount::Free(n) => {
                format!("fill-disk {who}:{path} to {} free{dur}", crate::units::human_bytes(*n))
            }
        },
        Action::Drain => format!("drain the swarm node of {who}{dur}"),
        Action::Exec { command, .. } => format!("exec in {who}: {}", command.join(" ")),
        Action::Rolling(r) => {
            let order = match r.order {
                _ if r.by_swarm => "the file's update_config",
                Order::StartFirst => "start-first",
                Order::StopFirst => "stop-first",
            };
            match (&r.image, &r.candidate) {
                (None, None) if r.force => format!("rolling-update {who} (forced: same spec, {order})"),
                (Some(image), _) => format!("rolling-update {who} to {image} ({order})"),
                (None, Some(c)) => format!("rolling-update {who} with {} ({order})", c.file.display()),
                (None, None) => format!("rolling-restart {who} ({order})"),
            }
        }
        Action::Scale { count } => format!("scale {} to {count}", p.target.services.join(", ")),
    }
}
