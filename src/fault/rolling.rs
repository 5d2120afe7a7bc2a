//! Deploy drills: replacing instances one at a time (`rolling-restart`, `rolling-update`) and changing a
//! service's instance count (`scale`), through the Docker API.
//!
//! A restart in `stop-first` order stops the container gracefully and starts it again. Every other replacement
//! (a `start-first` restart, an update) creates a copy of the old container: the same configuration, compose
//! labels, networks and network aliases (so Docker's DNS answers the service name with the new address too),
//! on the new image for an update, or with a compose override file's settings for its service
//! (`override = ...`: image, environment, command, entrypoint, labels). `start-first` starts the copy and waits for it to be healthy before the old
//! one stops; once the old one is removed, the copy takes its name. A load balancer learns about the new address
//! through Docker's DNS (HAProxy `resolvers`, nginx `resolver`): see the README's "Deploy drills".

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bollard::models::{
    ContainerCreateBody, ContainerInspectResponse, EndpointSettings, NetworkConnectRequest,
};
use bollard::query_parameters::{
    CreateContainerOptions, InspectContainerOptions, RemoveContainerOptions, RenameContainerOptions,
    StartContainerOptions, StopContainerOptionsBuilder,
};
use bollard::Docker;

use super::exec;
use crate::docker::labels;
use crate::observe::events::{unix_now_ns, EventLog};
use crate::scenario::candidate::Change;
use crate::scenario::model::{Order, Roll};

/// One instance's replacement, in Unix nanoseconds.
#[derive(Debug, Clone)]
pub struct Replaced {
    /// When hadrill began replacing it.
    pub began: u128,
    /// When the old instance died (its daemon event, else when the stop returned).
    pub out: Option<u128>,
    /// When the serving instance (the restarted one, or the copy) was healthy.
    pub back: Option<u128>,
    /// When the replacement was over (old removed, new healthy).
    pub ended: u128,
    /// What went wrong, if anything did.
    pub error: Option<String>,
}

impl Replaced {
    fn new() -> Replaced {
        Replaced { began: unix_now_ns(), out: None, back: None, ended: 0, error: None }
    }

    fn fail(mut self, e: impl Into<String>) -> Replaced {
        self.error = Some(e.into());
        self.ended = unix_now_ns();
        self
    }
}

/// Replaces one container as `roll` says; `id` is the old container.
pub async fn replace(docker: &Docker, events: &EventLog, id: &str, roll: &Roll) -> Replaced {
    let mut r = Replaced::new();
    let old = match docker.inspect_container(id, None::<InspectContainerOptions>).await {
        Ok(i) => i,
        Err(e) => return r.fail(format!("inspect failed: {e}")),
    };
    if roll.order == Order::StopFirst && !roll.recreates() {
        r.out = match stop(docker, events, id, roll.timeout).await {
            Ok(t) => Some(t),
            Err(e) => return r.fail(e),
        };
        if let Err(e) = docker.start_container(id, None::<StartContainerOptions>).await {
            return r.fail(format!("start failed: {e}"));
        }
        return finish(docker, id, roll, r).await;
    }
    let old_name = old.name.clone().unwrap_or_default().trim_start_matches('/').to_string();
    let next_name = format!("{old_name}_next");
    let service = old
        .config
        .as_ref()
        .and_then(|c| c.labels.as_ref())
        .and_then(|l| l.get(labels::COMPOSE_SERVICE))
        .cloned()
        .unwrap_or_default();
    let change = roll.change_for(&service);
    let new_id = match create_copy(docker, &old, &next_name, change.as_ref(), None).await {
        Ok(n) => n,
        Err(e) => return r.fail(e),
    };
    if roll.order == Order::StopFirst {
        r.out = match stop(docker, events, id, roll.timeout).await {
            Ok(t) => Some(t),
            Err(e) => return r.fail(e),
        };
    }
    if let Err(e) = docker.start_container(&new_id, None::<StartContainerOptions>).await {
        return r.fail(format!("start of the new instance failed: {e}"));
    }
    r = wait_ready(docker, &new_id, roll, r).await;
    if r.error.is_some() {
        // The old instance keeps serving (start-first); the copy that never became healthy goes.
        let _ = remove(docker, &new_id).await;
        return r;
    }
    if roll.order == Order::StartFirst {
        r.out = match stop(docker, events, id, roll.timeout).await {
            Ok(t) => Some(t),
            Err(e) => return r.fail(e),
        };
    }
    if let Err(e) = remove(docker, id).await {
        return r.fail(e);
    }
    let rename = RenameContainerOptions { name: old_name };
    if let Err(e) = docker.rename_container(&new_id, rename).await {
        return r.fail(format!("rename of the new instance failed: {e}"));
    }
    r.ended = unix_now_ns();
    r
}

async fn finish(docker: &Docker, id: &str, roll: &Roll, r: Replaced) -> Replaced {
    let mut r = wait_ready(docker, id, roll, r).await;
    r.ended = unix_now_ns();
    r
}

/// Stops a container gracefully; returns when it died.
async fn stop(docker: &Docker, events: &EventLog, id: &str, timeout: Duration) -> Result<u128, String> {
    let since = unix_now_ns();
    let opts = StopContainerOptionsBuilder::default().t(timeout.as_secs() as i32).build();
    docker.stop_container(id, Some(opts)).await.map_err(|e| format!("stop failed: {e}"))?;
    let died = events.wait_for(id, &["die"], since, Duration::from_secs(5)).await;
    Ok(died.unwrap_or_else(unix_now_ns))
}

async fn remove(docker: &Docker, id: &str) -> Result<(), String> {
    let opts = RemoveContainerOptions { force: true, v: false, link: false };
    docker.remove_container(id, Some(opts)).await.map_err(|e| format!("remove failed: {e}"))
}

/// Creates (does not start) a copy of `old` named `name`, with `change` applied if given (a new image, an
/// override's settings), as compose instance `number` if given; attaches it to every network of the old one
/// with the old one's aliases (minus its own id).
pub async fn create_copy(
    docker: &Docker,
    old: &ContainerInspectResponse,
    name: &str,
    change: Option<&Change>,
    number: Option<u32>,
) -> Result<String, String> {
    let mut cfg = old.config.clone().unwrap_or_default();
    let old_id = old.id.clone().unwrap_or_default();
    let mut labels = cfg.labels.clone().unwrap_or_default();
    let image = change.and_then(|c| c.image.clone());
    if let Some(c) = change {
        labels.extend(c.labels.iter().cloned());
        cfg.env = Some(merged_env(cfg.env.unwrap_or_default(), &c.environment));
    }
    if let Some(n) = number {
        labels.insert(labels::COMPOSE_NUMBER.to_string(), n.to_string());
    }
    let nets = old.network_settings.as_ref().and_then(|n| n.networks.clone()).unwrap_or_default();
    let endpoint = |e: &EndpointSettings| EndpointSettings {
        aliases: Some(
            e.aliases
                .clone()
                .unwrap_or_default()
                .into_iter()
                .filter(|a| !old_id.starts_with(a.as_str()))
                .collect(),
        ),
        ..Default::default()
    };
    let mut sorted: Vec<(&String, &EndpointSettings)> = nets.iter().collect();
    sorted.sort_by_key(|(k, _)| k.as_str());
    let first: HashMap<String, EndpointSettings> =
        sorted.first().map(|(k, e)| ((*k).clone(), endpoint(e))).into_iter().collect();
    // On a new image, what the old image set (user, command, healthcheck, ...) comes from the new one instead.
    let updating = image.is_some();
    let command = change.and_then(|c| c.command.clone());
    let entrypoint = change.and_then(|c| c.entrypoint.clone());
    let body = ContainerCreateBody {
        user: cfg.user.filter(|_| !updating),
        exposed_ports: cfg.exposed_ports,
        env: cfg.env,
        cmd: command.or(cfg.cmd.filter(|_| !updating)),
        healthcheck: cfg.healthcheck.filter(|_| !updating),
        // A restart keeps the very image the instance runs (its id): the tag may have moved since it started.
        image: image.or(old.image.clone()).or(cfg.image),
        working_dir: cfg.working_dir.filter(|_| !updating),
        entrypoint: entrypoint.or(cfg.entrypoint.filter(|_| !updating)),
        labels: Some(labels),
        stop_signal: cfg.stop_signal.filter(|_| !updating),
        stop_timeout: cfg.stop_timeout,
        host_config: old.host_config.clone(),
        networking_config: Some(bollard::models::NetworkingConfig { endpoints_config: Some(first) }),
        ..Default::default()
    };
    let opts = CreateContainerOptions { name: Some(name.to_string()), ..Default::default() };
    let created = docker
        .create_container(Some(opts), body)
        .await
        .map_err(|e| format!("create of {name} failed: {e}"))?;
    // Docker 20.10 attaches a new container to one network only: the others are connected before it starts.
    for (net, e) in sorted.iter().skip(1) {
        let req = NetworkConnectRequest { container: created.id.clone(), endpoint_config: Some(endpoint(e)) };
        if let Err(err) = docker.connect_network(net, req).await {
            let _ = remove(docker, &created.id).await;
            return Err(format!("connect of {name} to {net} failed: {err}"));
        }
    }
    Ok(created.id)
}

/// `env` (`KEY=value` lines) with `set` applied: a key set replaces its line, a new key is appended.
fn merged_env(mut env: Vec<String>, set: &[(String, String)]) -> Vec<String> {
    for (k, v) in set {
        let line = format!("{k}={v}");
        match env.iter_mut().find(|e| e.split_once('=').map_or(e.as_str(), |(ek, _)| ek) == k) {
            Some(e) => *e = line,
            None => env.push(line),
        }
    }
    env
}

/// Waits until the container is running, healthy when it has a healthcheck, and answers `roll.ready`.
async fn wait_ready(docker: &Docker, id: &str, roll: &Roll, mut r: Replaced) -> Replaced {
    match wait_healthy(docker, id, roll.ready.as_deref(), roll.healthy_within).await {
        Ok(t) => r.back = Some(t),
        Err(e) => r.error = Some(e),
    }
    r
}

/// Polls every 200 ms until the container is ready (see [`wait_ready`]); returns when it was.
pub async fn wait_healthy(
    docker: &Docker,
    id: &str,
    ready: Option<&str>,
    within: Duration,
) -> Result<u128, String> {
    let start = Instant::now();
    let mut last = String::from("not inspected");
    while start.elapsed() < within {
        match docker.inspect_container(id, None::<InspectContainerOptions>).await {
            Ok(i) => {
                let state = i.state.clone().unwrap_or_default();
                let health = state.health.as_ref().and_then(|h| h.status).map(|s| s.to_string());
                let healthy = match health.as_deref() {
                    None | Some("") | Some("none") => state.running.unwrap_or(false),
                    Some(h) => h == "healthy",
                };
                last = health.unwrap_or_else(|| format!("running: {}", state.running.unwrap_or(false)));
                if healthy && ready_answers(docker, &i, ready).await {
                    return Ok(unix_now_ns());
                }
            }
            Err(e) => last = format!("inspect failed: {e}"),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Err(format!("not ready within {} ({last})", crate::duration::human(within)))
}

/// Whether `GET path` answers 200 inside the container, on its first exposed TCP port (true with no path).
async fn ready_answers(docker: &Docker, c: &ContainerInspectResponse, path: Option<&str>) -> bool {
    let Some(path) = path else { return true };
    let ports = c.config.as_ref().and_then(|c| c.exposed_ports.clone()).unwrap_or_default();
    let Some(port) = ports.iter().filter_map(|p| p.strip_suffix("/tcp")).min() else { return false };
    let id = c.id.clone().unwrap_or_default();
    exec::run(docker, &id, &ready_command(port, path), None, &[]).await.is_ok_and(|o| o.exit_code == 0)
}

/// A bash one-liner that sends `GET path` to 127.0.0.1:port and succeeds on a 200.
fn ready_command(port: &str, path: &str) -> Vec<String> {
    let script = format!(
        "exec 3<>/dev/tcp/127.0.0.1/{port} && printf 'GET {path} HTTP/1.0\\r\\n\\r\\n' >&3 && \
         head -n1 <&3 | grep -q '^HTTP/1.[01] 200'"
    );
    vec!["bash".into(), "-c".into(), script]
}

/// Scales one service to `count` running instances: starts copies of its highest-numbered instance (numbers
/// after the highest), or stops and removes the highest-numbered ones. Returns what it did, per instance.
pub async fn scale(
    docker: &Docker,
    events: &EventLog,
    project: &str,
    service: &str,
    count: u32,
) -> Result<Vec<String>, String> {
    let all =
        crate::docker::discover::project_containers(docker, project).await.map_err(|e| e.to_string())?;
    let mut mine: Vec<_> = all.into_iter().filter(|c| c.service == service).collect();
    mine.sort_by_key(|c| c.number);
    let running: Vec<_> = mine.iter().filter(|c| c.state == "running").collect();
    let mut done = Vec::new();
    if running.len() as u32 > count {
        for c in running.iter().rev().take(running.len() - count as usize) {
            stop(docker, events, &c.id, Duration::from_secs(10)).await?;
            remove(docker, &c.id).await?;
            done.push(format!("{} removed", c.display_name()));
        }
        return Ok(done);
    }
    let Some(model) = mine.last() else { return Err(format!("no container of {service} to copy")) };
    let old = docker
        .inspect_container(&model.id, None::<InspectContainerOptions>)
        .await
        .map_err(|e| format!("inspect failed: {e}"))?;
    let mut number = model.number;
    let mut started = Vec::new();
    for _ in running.len() as u32..count {
        number += 1;
        let name = format!("{project}_{service}_{number}");
        let id = create_copy(docker, &old, &name, None, Some(number)).await?;
        docker
            .start_container(&id, None::<StartContainerOptions>)
            .await
            .map_err(|e| format!("start failed: {e}"))?;
        started.push((id, number));
    }
    for (id, n) in started {
        wait_healthy(docker, &id, None, Duration::from_secs(60)).await?;
        done.push(format!("{service}#{n} healthy"));
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_override_environment_replaces_its_keys_and_adds_the_new_ones() {
        let env = vec!["INSTANCE=app1".to_string(), "MODE=stable".into(), "PATH=/bin".into()];
        let set = [("MODE".to_string(), "candidate".to_string()), ("NEW".into(), "1".into())];
        assert_eq!(merged_env(env, &set), ["INSTANCE=app1", "MODE=candidate", "PATH=/bin", "NEW=1"]);
    }

    #[test]
    fn the_ready_probe_asks_the_path_on_loopback() {
        let cmd = ready_command("8080", "/health");
        assert_eq!(cmd[0], "bash");
        assert!(cmd[2].contains("/dev/tcp/127.0.0.1/8080"), "{}", cmd[2]);
        assert!(cmd[2].contains("GET /health HTTP/1.0"), "{}", cmd[2]);
    }
}
