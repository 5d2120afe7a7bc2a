//! Bringing a stack up and down: a unique Compose project per run (so drills can run side by side), images
//! ensured, `compose up -d`, then readiness by Docker healthchecks with a timeout that names the service that
//! never became healthy and shows the tail of its log. A failed `up` tears down what it started.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use bollard::Docker;

use super::compose::ComposeCli;
use super::overlay;
use super::resolve::StackSpec;
use crate::cleanup::{self, Removed, Scope, PROJECT_PREFIX};
use crate::docker::discover::{self, Container};
use crate::docker::{labels, logs};
use crate::error::{Error, Result};
use crate::reaper::Reaper;

/// How often the ready wait asks the daemon for the containers' health: one list call, cheap beside the
/// healthchecks' own 1 s interval, and the last one to pass is seen within this.
const READY_POLL: Duration = Duration::from_millis(100);

/// `compose down`'s stop timeout, in seconds: none. The stack and its volumes are removed right after, so a
/// graceful stop can only cost time: a service that does not exit at once on its stop signal holds the
/// teardown for the whole timeout.
const DOWN_STOP_TIMEOUT: &str = "0";

#[derive(Debug, Clone)]
pub struct UpOptions {
    /// How long every service has to become healthy.
    pub timeout: Duration,
    /// Where `up` says what it does (the missing reaper, a `compose build`).
    pub console: crate::drill::console::Reporter,
}

impl Default for UpOptions {
    fn default() -> Self {
        UpOptions { timeout: Duration::from_secs(180), console: crate::drill::console::Reporter::silent() }
    }
}

/// A stack with its run's project name; created before `up` so an interrupted `up` can still be torn down.
#[derive(Debug, Clone)]
pub struct RunningStack {
    pub spec: StackSpec,
    pub project: String,
    pub compose: ComposeCli,
    override_file: PathBuf,
    /// Removes the project if hadrill dies without a word (see `reaper`).
    reaper: Reaper,
}

/// A published endpoint: `service` (or `service#2`), its container port, the host address on 127.0.0.1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub service: String,
    pub container_port: String,
    pub addr: SocketAddr,
}

/// A fresh project name: `hadrill-<stack>-<6 hex digits>`.
pub fn new_project_name(stack: &str) -> String {
    format!("{PROJECT_PREFIX}{stack}-{:06x}", rand::random::<u32>() & 0xff_ffff)
}

impl RunningStack {
    /// Prepares a run of `spec` under a new project name (writes hadrill's override; starts nothing).
    pub fn prepare(spec: StackSpec, compose: ComposeCli) -> Result<RunningStack> {
        let project = new_project_name(&spec.name);
        Self::attach(spec, compose, project)
    }

    /// A handle on an existing project of `spec` (for `down`).
    pub fn attach(spec: StackSpec, compose: ComposeCli, project: String) -> Result<RunningStack> {
        let override_file = overlay::write(&spec.compose_file, &spec.name, &project)?;
        Ok(RunningStack { spec, project, compose, override_file, reaper: Reaper::default() })
    }

    fn files(&self) -> Vec<PathBuf> {
        vec![self.spec.compose_file.clone(), self.override_file.clone()]
    }

    /// `compose [GLOBALS] ARGS` for this project (env file, profiles).
    async fn compose_run(&self, args: &[String], limit: Duration) -> Result<String> {
        let mut all = super::userfile::global_args(&self.spec);
        all.extend_from_slice(args);
        let all: Vec<&str> = all.iter().map(String::as_str).collect();
        self.compose.run(&self.project, &self.files(), &all, limit).await
    }

    /// Start the reaper, `compose build` the services with a `build:` section, `compose up -d` (scaled as the file says) and
    /// wait until every container is running and healthy. On failure, tears down.
    pub async fn up(&self, docker: &Docker, opts: &UpOptions) -> Result<Vec<Container>> {
        self.up_timed(docker, opts).await.map(|(containers, _)| containers)
    }

    /// [`RunningStack::up`], and how long it took until `compose up` returned (the rest was the ready wait).
    pub async fn up_timed(&self, docker: &Docker, opts: &UpOptions) -> Result<(Vec<Container>, Duration)> {
        let started = Instant::now();
        if let Err(e) = self.reaper.start(docker, &self.project).await {
            opts.console.warn(format!(
                "no reaper, so a killed hadrill would leave the stack to `hadrill clean`: {e}"
            ));
        }
        if let Some(args) = super::userfile::build_args(&self.spec) {
            let (builds, compose) = (self.spec.builds.join(", "), self.compose.display());
            opts.console.phase(format!("building {builds} through {compose}"));
            if let Err(e) = self.compose_run(&args, super::userfile::BUILD_LIMIT).await {
                let _ = self.down(docker).await;
                return Err(e);
            }
        }
        let result = self.compose_run(&super::userfile::up_args(&self.spec), opts.timeout).await;
        let composed = started.elapsed();
        let outcome = match result {
            Ok(_) => {
                let left = opts.timeout.saturating_sub(composed);
                self.wait_ready(docker, left, opts.timeout).await.map(|c| (c, composed))
            }
            Err(compose_err) => match self.first_unready(docker, opts.timeout).await {
                // Compose stops at the first dependency that failed its healthcheck: name it, with its log.
                Some(e) => Err(e),
                None => Err(compose_err),
            },
        };
        if outcome.is_err() {
            let _ = self.down(docker).await;
        }
        outcome
    }

    /// Between the cycles of a drill on one stack: starts what the last cycle left stopped (a `kill` with no
    /// duration), unpauses what it left paused, then waits until every container is running and healthy again.
    /// Returns the ready containers and the names of those it had to start or unpause.
    pub async fn restore(&self, docker: &Docker, limit: Duration) -> Result<(Vec<Container>, Vec<String>)> {
        let mut touched = Vec::new();
        for c in discover::project_containers(docker, &self.project).await? {
            let done = match c.state.as_str() {
                "paused" => docker.unpause_container(&c.id).await,
                "exited" | "created" | "dead" => {
                    docker
                        .start_container(&c.id, None::<bollard::query_parameters::StartContainerOptions>)
                        .await
                }
                _ => continue,
            };
            done.map_err(|e| Error::Other(format!("could not restart {}: {e}", c.display_name())))?;
            touched.push(c.display_name());
        }
        Ok((self.wait_ready(docker, limit, limit).await?, touched))
    }

    async fn wait_ready(&self, docker: &Docker, limit: Duration, total: Duration) -> Result<Vec<Container>> {
        let deadline = Instant::now() + limit;
        loop {
            let containers = discover::project_containers(docker, &self.project).await?;
            let all_ready = !containers.is_empty() && containers.iter().all(Container::is_ready);
            if all_ready {
                return Ok(containers);
            }
            if let Some(dead) = containers.iter().find(|c| c.state == "exited" || c.state == "dead") {
                return Err(self.not_ready_error(docker, dead, total).await);
            }
            if Instant::now() >= deadline {
                return Err(self
                    .first_unready(docker, total)
                    .await
                    .unwrap_or_else(|| Error::Other(format!("stack {} has no containers", self.project))));
            }
            tokio::time::sleep(READY_POLL).await;
        }
    }

    async fn first_unready(&self, docker: &Docker, total: Duration) -> Option<Error> {
        let containers = discover::project_containers(docker, &self.project).await.ok()?;
        let bad = containers.iter().find(|c| !c.is_ready())?;
        Some(self.not_ready_error(docker, bad, total).await)
    }

    async fn not_ready_error(&self, docker: &Docker, c: &Container, total: Duration) -> Error {
        let state = match &c.health {
            Some(h) => format!("{}, {h}", c.state),
            None => c.state.clone(),
        };
        Error::NotHealthy {
            service: c.display_name(),
            state,
            timeout_s: total.as_secs(),
            log_tail: logs::tail(docker, &c.id, 20).await,
        }
    }

    /// `compose down -v`, then a label sweep for anything Compose left (or could not remove).
    pub async fn down(&self, docker: &Docker) -> Result<Removed> {
        let down = ["down", "-v", "--remove-orphans", "--timeout", DOWN_STOP_TIMEOUT].map(String::from);
        let compose = self.compose_run(&down, Duration::from_secs(120)).await;
        if let Err(e) = &compose {
            tracing::warn!("compose down failed, removing by label instead: {e}");
        }
        self.reaper.release(docker).await;
        let swept = cleanup::sweep(docker, &Scope::Project(self.project.clone())).await?;
        let _ = std::fs::remove_dir_all(crate::paths::scratch_dir().join(&self.project));
        Ok(swept)
    }

    /// The published endpoints of the running containers.
    pub async fn endpoints(&self, docker: &Docker) -> Result<Vec<Endpoint>> {
        let containers = discover::project_containers(docker, &self.project).await?;
        Ok(endpoints_of(&containers))
    }
}

/// Every published port of these containers, as 127.0.0.1 addresses.
pub fn endpoints_of(containers: &[Container]) -> Vec<Endpoint> {
    containers
        .iter()
        .flat_map(|c| {
            c.ports.iter().map(move |(cp, hp)| Endpoint {
                service: c.display_name(),
                container_port: cp.clone(),
                addr: SocketAddr::from(([127, 0, 0, 1], *hp)),
            })
        })
        .collect()
}

/// The address of `service:port` (e.g. `lb:8080`) among the endpoints.
pub fn find_endpoint(endpoints: &[Endpoint], target: &str) -> Option<SocketAddr> {
    let (svc, port) = target.rsplit_once(':')?;
    let want = format!("{port}/tcp");
    endpoints.iter().find(|e| e.service == svc && e.container_port == want).map(|e| e.addr)
}

/// The projects currently on the daemon for a stack name (from hadrill's stack label).
pub async fn projects_of(docker: &Docker, stack: &str) -> Result<Vec<String>> {
    discover::label_values(docker, &format!("{}={stack}", labels::STACK), labels::COMPOSE_PROJECT).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn project_names_are_unique_and_prefixed() {
        let a = new_project_name("web-haproxy-pg");
        let b = new_project_name("web-haproxy-pg");
        assert!(a.starts_with("hadrill-web-haproxy-pg-") && a.len() == "hadrill-web-haproxy-pg-".len() + 6);
        assert_ne!(a, b);
    }

    #[test]
    fn finds_service_port_endpoints() {
        let eps = vec![
            Endpoint {
                service: "lb".into(),
                container_port: "8080/tcp".into(),
                addr: "127.0.0.1:32773".parse().unwrap(),
            },
            Endpoint {
                service: "lb".into(),
                container_port: "8404/tcp".into(),
                addr: "127.0.0.1:32772".parse().unwrap(),
            },
        ];
        assert_eq!(find_endpoint(&eps, "lb:8404"), Some("127.0.0.1:32772".parse().unwrap()));
        assert_eq!(find_endpoint(&eps, "lb:9999"), None);
        assert_eq!(find_endpoint(&eps, "nolb"), None);
    }
}
