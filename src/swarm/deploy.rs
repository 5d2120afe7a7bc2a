//! A stack on Docker Swarm for one run: `docker stack deploy` of the user's file with hadrill's labels (see
//! [`super::overlay`]) as `hadrill-<stack>-<6 hex>`, readiness as "every service converged and every task's
//! container healthy" with a timeout that names the service and shows its tasks' errors, and removal (`docker
//! stack rm`, then a label sweep for the networks and volumes Swarm leaves behind).

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use bollard::Docker;

use super::tasks;
use crate::cleanup::{self, Removed, Scope};
use crate::docker::discover::{self, Container};
use crate::error::{Error, Result};
use crate::reaper::Reaper;
use crate::stack::lifecycle::new_project_name;
use crate::stack::StackSpec;

/// How long `docker stack deploy` and `docker stack rm` may take.
const CLI_LIMIT: Duration = Duration::from_secs(120);

/// A stack deployed (or about to be) on the daemon's swarm.
#[derive(Debug, Clone)]
pub struct SwarmStack {
    pub spec: StackSpec,
    /// The stack name: `hadrill-<stack>-<6 hex>`, prefixed to every service (`<project>_<service>`).
    pub project: String,
    /// The file deployed: the user's with hadrill's labels.
    override_file: PathBuf,
    reaper: Reaper,
    /// `[nodes]`: the daemons of the swarm's nodes, for faults on their task containers.
    pub nodes: super::nodes::Nodes,
}

impl SwarmStack {
    /// Prepares a run of `spec` under a new stack name (writes hadrill's labels file; deploys nothing).
    pub fn prepare(spec: StackSpec) -> Result<SwarmStack> {
        let project = new_project_name(&spec.name);
        let text =
            std::fs::read_to_string(&spec.compose_file).map_err(|e| Error::io(&spec.compose_file, e))?;
        let rendered = super::overlay::render(&text, &spec.name, &project)
            .map_err(|message| Error::ComposeFile { path: spec.compose_file.clone(), message })?;
        let dir = crate::paths::scratch_dir().join(&project);
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        let override_file = dir.join("hadrill.stack.yml");
        std::fs::write(&override_file, rendered).map_err(|e| Error::io(&override_file, e))?;
        Ok(SwarmStack { spec, project, override_file, reaper: Reaper::default(), nodes: Default::default() })
    }

    /// How the report names the engine.
    pub fn display(&self) -> String {
        "docker stack deploy (swarm)".into()
    }

    /// `docker ARGS` in the compose file's folder, `stdin` (a file) as its input.
    async fn cli(&self, args: &[&str], stdin: Option<&std::path::Path>) -> Result<String> {
        let command = format!("docker {}", args.join(" "));
        let mut cmd = tokio::process::Command::new("docker");
        cmd.args(args).kill_on_drop(true);
        if let Some(dir) = self.spec.compose_file.parent() {
            cmd.current_dir(dir);
        }
        if let Some(path) = stdin {
            cmd.stdin(std::fs::File::open(path).map_err(|e| Error::io(path, e))?);
        }
        let out = tokio::time::timeout(CLI_LIMIT, cmd.output())
            .await
            .map_err(|_| Error::Other(format!("{command}: no answer within {}s", CLI_LIMIT.as_secs())))?
            .map_err(|source| Error::Spawn { command: command.clone(), source })?;
        if !out.status.success() {
            return Err(Error::Command {
                command,
                code: out.status.code().unwrap_or(-1),
                stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
            });
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Starts the reaper, deploys the stack and waits until it converged. On failure, removes it.
    pub async fn up(&self, docker: &Docker, timeout: Duration) -> Result<Vec<Container>> {
        if let Err(e) = self.reaper.start(docker, &self.project).await {
            eprintln!(
                "warning: no reaper, so a killed hadrill would leave the stack to `hadrill clean`: {e}"
            );
        }
        let deploy = ["stack", "deploy", "--resolve-image", "never", "-c", "-", &self.project];
        let outcome = match self.cli(&deploy, Some(&self.override_file)).await {
            Ok(_) => self.wait_converged(docker, timeout).await,
            Err(e) => Err(e),
        };
        if outcome.is_err() {
            let _ = self.down(docker).await;
        }
        outcome
    }

    /// Waits until every service has its tasks running and healthy.
    pub async fn wait_converged(&self, docker: &Docker, timeout: Duration) -> Result<Vec<Container>> {
        let deadline = Instant::now() + timeout;
        loop {
            let services = tasks::services(docker, &self.project).await?;
            let containers = running_containers(docker, &self.project).await?;
            let ready = containers.iter().all(Container::is_ready);
            match tasks::unconverged(&services) {
                None if ready && !containers.is_empty() => return Ok(containers),
                _ if Instant::now() < deadline => {}
                Some((s, lines)) => {
                    let running = s.tasks.iter().filter(|t| t.is_running()).count();
                    let want = s.replicas.map(|r| r.to_string()).unwrap_or_else(|| "global".into());
                    return Err(Error::NotHealthy {
                        service: s.name.clone(),
                        state: format!("{running} of {want} tasks running"),
                        timeout_s: timeout.as_secs(),
                        log_tail: format!("tasks (newest first):\n{}", lines.join("\n")),
                    });
                }
                None => {
                    let c = containers.iter().find(|c| !c.is_ready());
                    let (service, state) = match c {
                        Some(c) => (
                            c.display_name(),
                            format!("{}, {}", c.state, c.health.clone().unwrap_or_default()),
                        ),
                        None => (self.project.clone(), "no task containers".into()),
                    };
                    let log_tail = match c {
                        Some(c) => crate::docker::logs::tail(docker, &c.id, 20).await,
                        None => String::new(),
                    };
                    return Err(Error::NotHealthy { service, state, timeout_s: timeout.as_secs(), log_tail });
                }
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    /// `docker stack rm`, the task containers gone, then a label sweep of what is left (networks, volumes).
    pub async fn down(&self, docker: &Docker) -> Result<Removed> {
        if let Err(e) = self.cli(&["stack", "rm", &self.project], None).await {
            tracing::warn!("docker stack rm failed, removing by label instead: {e}");
        }
        self.reaper.release(docker).await;
        let swept = cleanup::sweep(docker, &Scope::Project(self.project.clone())).await?;
        let _ = std::fs::remove_dir_all(crate::paths::scratch_dir().join(&self.project));
        Ok(swept)
    }
}

/// The running task containers of stack `project` (Swarm keeps the stopped ones of earlier tasks around), with
/// their slot as number and their `mode: host` ports (which the task knows, not the container).
pub async fn running_containers(docker: &Docker, project: &str) -> Result<Vec<Container>> {
    let all = discover::project_containers(docker, project).await?;
    let services = tasks::services(docker, project).await?;
    let ports: HashMap<&str, &[(String, u16)]> = services
        .iter()
        .flat_map(|s| &s.tasks)
        .filter_map(|t| Some((t.container.as_deref()?, t.ports.as_slice())))
        .collect();
    let mut running: Vec<Container> = all
        .into_iter()
        .filter(|c| c.state == "running")
        .map(|mut c| {
            c.number = slot_of(&c.name).unwrap_or(c.number);
            c.ports.extend(ports.get(c.id.as_str()).copied().unwrap_or_default().iter().cloned());
            c
        })
        .collect();
    running.sort_by(|a, b| (&a.service, a.number).cmp(&(&b.service, b.number)));
    Ok(running)
}

/// The task slot in a task container's name, `<stack>_<service>.<slot>.<task id>`.
pub fn slot_of(container_name: &str) -> Option<u32> {
    let mut parts = container_name.rsplitn(3, '.');
    let (_task, slot) = (parts.next()?, parts.next()?);
    parts.next()?;
    slot.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_slot_from_a_task_container_name() {
        assert_eq!(slot_of("hadrill-web-abcdef_app.2.qtegg17wlof0035j44yci32hh"), Some(2));
        assert_eq!(slot_of("hadrill-web-abcdef_lb.1.x"), Some(1));
        assert_eq!(slot_of("plain-name"), None);
        assert_eq!(slot_of("global.svc.abc"), None);
    }
}
