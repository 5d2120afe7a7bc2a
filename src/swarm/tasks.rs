//! A stack's services and tasks through the Swarm API: whether every service converged (desired replicas
//! running, each task's container healthy), and, when one did not, its recent tasks' states and errors (what
//! `docker service ps --no-trunc` shows).

use std::collections::HashMap;

use bollard::models::{Service, Task, TaskState};
use bollard::query_parameters::{ListServicesOptions, ListTasksOptions};
use bollard::Docker;

use super::STACK_NAMESPACE;
use crate::error::{Error, Result};

/// One service of a stack, as the readiness check and the observers see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceState {
    pub id: String,
    /// The service name without the stack prefix (`app`, not `hadrill-x-123456_app`).
    pub name: String,
    /// Desired replicas (`None` for a global service).
    pub replicas: Option<u64>,
    pub tasks: Vec<TaskInfo>,
}

/// One task of a service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskInfo {
    pub id: String,
    pub slot: Option<i64>,
    /// `running`, `failed`, `shutdown`, `pending`, ...
    pub state: String,
    pub desired: String,
    pub container: Option<String>,
    pub exit_code: Option<i64>,
    /// The task's status message and error, as Swarm gave them.
    pub message: String,
    pub err: String,
    /// Ports published in `mode: host` on the task's node: `"8080/tcp"` to the host port.
    pub ports: Vec<(String, u16)>,
    /// The spec the task runs: its image and the service's `ForceUpdate` counter when it was made (a
    /// rolling update is over when every running task has the new ones).
    pub image: String,
    pub force_update: u64,
    /// The swarm node it is on (its id).
    pub node: String,
}

impl TaskInfo {
    pub fn of(t: &Task) -> TaskInfo {
        let status = t.status.as_ref();
        let cs = status.and_then(|s| s.container_status.as_ref());
        TaskInfo {
            id: t.id.clone().unwrap_or_default(),
            slot: t.slot,
            state: status.and_then(|s| s.state).map(|s| s.to_string()).unwrap_or_else(|| "unknown".into()),
            desired: t.desired_state.map(|s| s.to_string()).unwrap_or_default(),
            container: cs.and_then(|c| c.container_id.clone()).filter(|c| !c.is_empty()),
            exit_code: cs.and_then(|c| c.exit_code),
            message: status.and_then(|s| s.message.clone()).unwrap_or_default(),
            err: status.and_then(|s| s.err.clone()).unwrap_or_default(),
            ports: status
                .and_then(|s| s.port_status.as_ref())
                .and_then(|p| p.ports.as_ref())
                .into_iter()
                .flatten()
                .filter_map(|p| {
                    let proto = p.protocol.map(|x| x.to_string()).unwrap_or_else(|| "tcp".into());
                    let host = u16::try_from(p.published_port?).ok()?;
                    Some((format!("{}/{proto}", p.target_port?), host))
                })
                .collect(),
            image: t
                .spec
                .as_ref()
                .and_then(|s| s.container_spec.as_ref())
                .and_then(|c| c.image.clone())
                .unwrap_or_default(),
            force_update: t.spec.as_ref().and_then(|s| s.force_update).unwrap_or(0),
            node: t.node_id.clone().unwrap_or_default(),
        }
    }

    pub fn is_running(&self) -> bool {
        self.state == TaskState::RUNNING.to_string()
    }

    /// `app.2 failed (exit 137): task: non-zero exit (137)`, as a timeout error lists it.
    pub fn describe(&self, service: &str) -> String {
        let slot = self.slot.map(|s| format!(".{s}")).unwrap_or_default();
        let exit = self.exit_code.filter(|c| *c != 0).map(|c| format!(" (exit {c})")).unwrap_or_default();
        let why = [self.message.as_str(), self.err.as_str()]
            .iter()
            .filter(|s| !s.is_empty())
            .copied()
            .collect::<Vec<_>>()
            .join(": ");
        format!("{service}{slot} {} (desired {}){exit}: {why}", self.state, self.desired)
    }
}

fn filters(key: &str, value: String) -> Option<HashMap<String, Vec<String>>> {
    Some(HashMap::from([(key.to_string(), vec![value])]))
}

/// The services of stack `project` with their tasks (newest last within a slot is not guaranteed: callers
/// look at states, not order).
pub async fn services(docker: &Docker, project: &str) -> Result<Vec<ServiceState>> {
    let opts = ListServicesOptions {
        filters: filters("label", format!("{STACK_NAMESPACE}={project}")),
        ..Default::default()
    };
    let list: Vec<Service> = docker
        .list_services(Some(opts))
        .await
        .map_err(|e| Error::docker(format!("list the services of stack {project}"), e))?;
    let mut out = Vec::new();
    for s in list {
        let id = s.id.clone().unwrap_or_default();
        let spec = s.spec.as_ref();
        let full = spec.and_then(|s| s.name.clone()).unwrap_or_default();
        let name = full.strip_prefix(&format!("{project}_")).unwrap_or(&full).to_owned();
        let replicas =
            spec.and_then(|s| s.mode.as_ref()).and_then(|m| m.replicated.as_ref()).and_then(|r| r.replicas);
        let opts = ListTasksOptions { filters: filters("service", id.clone()) };
        let tasks = docker
            .list_tasks(Some(opts))
            .await
            .map_err(|e| Error::docker(format!("list the tasks of service {full}"), e))?;
        let tasks = tasks.iter().map(TaskInfo::of).collect();
        out.push(ServiceState { id, name, replicas: replicas.and_then(|r| u64::try_from(r).ok()), tasks });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// The first service of `services` that has fewer running tasks than it wants, with its recent task lines.
pub fn unconverged(services: &[ServiceState]) -> Option<(&ServiceState, Vec<String>)> {
    let s = services.iter().find(|s| {
        let running = s.tasks.iter().filter(|t| t.is_running()).count() as u64;
        s.replicas.is_some_and(|want| running < want) || s.tasks.is_empty()
    })?;
    let lines = s.tasks.iter().rev().take(8).map(|t| t.describe(&s.name)).collect();
    Some((s, lines))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(slot: i64, state: &str, err: &str) -> TaskInfo {
        TaskInfo {
            id: format!("t{slot}{state}"),
            slot: Some(slot),
            state: state.into(),
            desired: "running".into(),
            container: None,
            exit_code: None,
            message: String::new(),
            err: err.into(),
            ports: Vec::new(),
            image: String::new(),
            force_update: 0,
            node: String::new(),
        }
    }

    #[test]
    fn a_service_short_of_replicas_is_named_with_its_task_errors() {
        let ok = ServiceState {
            id: "1".into(),
            name: "app".into(),
            replicas: Some(2),
            tasks: vec![task(1, "running", ""), task(2, "running", "")],
        };
        let short = ServiceState {
            id: "2".into(),
            name: "pg-primary".into(),
            replicas: Some(1),
            tasks: vec![task(
                1,
                "pending",
                "no suitable node (scheduling constraints not satisfied on 1 node)",
            )],
        };
        assert!(unconverged(std::slice::from_ref(&ok)).is_none());
        let all = [ok, short];
        let (s, lines) = unconverged(&all).unwrap();
        assert_eq!(s.name, "pg-primary");
        assert_eq!(lines.len(), 1);
        assert!(
            lines[0].starts_with("pg-primary.1 pending") && lines[0].contains("no suitable node"),
            "{}",
            lines[0]
        );
    }
}
