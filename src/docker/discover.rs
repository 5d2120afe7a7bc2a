//! Finding a Compose project's containers through the Docker API, by the labels Compose puts on them
//! (`com.docker.compose.project` / `.service`), never by container names: v1 names them `p_svc_1`, v2 `p-svc-1`.

use std::collections::{BTreeMap, HashMap};

use bollard::models::{ContainerInspectResponse, PortMap};
use bollard::query_parameters::{InspectContainerOptions, ListContainersOptionsBuilder};
use bollard::Docker;

use super::labels;
use crate::error::{Error, Result};

/// What hadrill needs to know of one container of a stack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Container {
    pub id: String,
    /// The container name without the leading `/` (for messages only, never for lookups).
    pub name: String,
    pub service: String,
    /// Compose's container number (1 for the first instance of a service).
    pub number: u32,
    /// Docker's state: `running`, `exited`, `paused`, ...
    pub state: String,
    /// `healthy`, `unhealthy`, `starting`, or `None` when the image has no healthcheck.
    pub health: Option<String>,
    /// Container port (`"8080/tcp"`) to the host port published on 127.0.0.1 (or any address).
    pub ports: BTreeMap<String, u16>,
    /// Networks the container is attached to, by their Docker names.
    pub networks: Vec<String>,
}

impl Container {
    /// Reads a container from an inspect answer. `None` when it carries no compose service label.
    pub fn from_inspect(c: &ContainerInspectResponse) -> Option<Container> {
        let cfg_labels = c.config.as_ref()?.labels.as_ref()?;
        let service = cfg_labels.get(labels::COMPOSE_SERVICE)?.clone();
        let number = cfg_labels.get(labels::COMPOSE_NUMBER).and_then(|n| n.parse().ok()).unwrap_or(1);
        let state = c.state.as_ref();
        let ns = c.network_settings.as_ref();
        Some(Container {
            id: c.id.clone().unwrap_or_default(),
            name: c.name.clone().unwrap_or_default().trim_start_matches('/').to_string(),
            service,
            number,
            state: state.and_then(|s| s.status).map(|s| s.to_string()).unwrap_or_else(|| "unknown".into()),
            health: state
                .and_then(|s| s.health.as_ref())
                .and_then(|h| h.status)
                .map(|h| h.to_string())
                .filter(|h| !h.is_empty() && h != "none"),
            ports: ns.and_then(|n| n.ports.as_ref()).map(published_ports).unwrap_or_default(),
            networks: ns
                .and_then(|n| n.networks.as_ref())
                .map(|n| n.keys().cloned().collect())
                .unwrap_or_default(),
        })
    }

    /// Ready for a drill: running, and healthy if it has a healthcheck.
    pub fn is_ready(&self) -> bool {
        self.state == "running" && self.health.as_deref().is_none_or(|h| h == "healthy")
    }

    /// `service` for the first instance, `service#2` for the next ones (as `hadrill up` prints them).
    pub fn display_name(&self) -> String {
        if self.number <= 1 {
            self.service.clone()
        } else {
            format!("{}#{}", self.service, self.number)
        }
    }
}

/// The host ports published for each container port, preferring a binding on 127.0.0.1.
pub fn published_ports(ports: &PortMap) -> BTreeMap<String, u16> {
    let mut out = BTreeMap::new();
    for (container_port, bindings) in ports {
        let Some(bindings) = bindings else { continue };
        let pick = bindings
            .iter()
            .filter(|b| b.host_port.as_deref().is_some_and(|p| !p.is_empty()))
            .min_by_key(|b| match b.host_ip.as_deref() {
                Some("127.0.0.1") => 0,
                Some("0.0.0.0") | Some("") | None => 1,
                Some(_) => 2,
            });
        if let Some(port) = pick.and_then(|b| b.host_port.as_ref()?.parse().ok()) {
            out.insert(container_port.clone(), port);
        }
    }
    out
}

/// Groups containers by service, each service's instances ordered by container number.
pub fn by_service(containers: &[Container]) -> BTreeMap<String, Vec<Container>> {
    let mut map: BTreeMap<String, Vec<Container>> = BTreeMap::new();
    for c in containers {
        map.entry(c.service.clone()).or_default().push(c.clone());
    }
    for v in map.values_mut() {
        v.sort_by_key(|c| c.number);
    }
    map
}

/// Every container (running or not) of a Compose project, inspected.
pub async fn project_containers(docker: &Docker, project: &str) -> Result<Vec<Container>> {
    let mut filters = HashMap::new();
    filters.insert("label".to_string(), vec![format!("{}={project}", labels::COMPOSE_PROJECT)]);
    let opts = ListContainersOptionsBuilder::default().all(true).filters(&filters).build();
    let list = docker
        .list_containers(Some(opts))
        .await
        .map_err(|e| Error::docker(format!("list the containers of project {project}"), e))?;
    let mut out = Vec::new();
    for s in list {
        let Some(id) = s.id else { continue };
        let inspect = match docker.inspect_container(&id, None::<InspectContainerOptions>).await {
            Ok(i) => i,
            // Removed between the list and the inspect: it is no longer part of the stack.
            Err(bollard::errors::Error::DockerResponseServerError { status_code: 404, .. }) => continue,
            Err(e) => return Err(Error::docker(format!("inspect container {id}"), e)),
        };
        if let Some(c) = Container::from_inspect(&inspect) {
            out.push(c);
        }
    }
    out.sort_by(|a, b| (&a.service, a.number).cmp(&(&b.service, b.number)));
    Ok(out)
}

/// Distinct values of one label over the containers carrying another label filter (e.g. the projects of a stack).
pub async fn label_values(docker: &Docker, filter: &str, key: &str) -> Result<Vec<String>> {
    let mut filters = HashMap::new();
    filters.insert("label".to_string(), vec![filter.to_string()]);
    let opts = ListContainersOptionsBuilder::default().all(true).filters(&filters).build();
    let list = docker
        .list_containers(Some(opts))
        .await
        .map_err(|e| Error::docker(format!("list containers with label {filter}"), e))?;
    let mut values: Vec<String> = list.into_iter().filter_map(|c| c.labels?.get(key).cloned()).collect();
    values.sort();
    values.dedup();
    Ok(values)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bollard::models::{
        ContainerConfig, ContainerState, ContainerStateStatusEnum, Health, HealthStatusEnum, NetworkSettings,
        PortBinding,
    };

    fn binding(ip: &str, port: &str) -> PortBinding {
        PortBinding { host_ip: Some(ip.into()), host_port: Some(port.into()) }
    }

    fn inspect(service: &str, number: &str, health: Option<HealthStatusEnum>) -> ContainerInspectResponse {
        let mut labels = HashMap::new();
        labels.insert(labels::COMPOSE_PROJECT.to_string(), "hadrill-x-1".to_string());
        labels.insert(labels::COMPOSE_SERVICE.to_string(), service.to_string());
        labels.insert(labels::COMPOSE_NUMBER.to_string(), number.to_string());
        let mut ports = PortMap::new();
        ports.insert("8080/tcp".into(), Some(vec![binding("127.0.0.1", "32773")]));
        ports.insert("9000/tcp".into(), None);
        ContainerInspectResponse {
            id: Some(format!("id-{service}-{number}")),
            name: Some(format!("/whatever_{service}_{number}")),
            config: Some(ContainerConfig { labels: Some(labels), ..Default::default() }),
            state: Some(ContainerState {
                status: Some(ContainerStateStatusEnum::RUNNING),
                health: health.map(|s| Health { status: Some(s), ..Default::default() }),
                ..Default::default()
            }),
            network_settings: Some(NetworkSettings { ports: Some(ports), ..Default::default() }),
            ..Default::default()
        }
    }

    #[test]
    fn reads_service_number_health_and_ports_from_labels() {
        let c = Container::from_inspect(&inspect("lb", "1", Some(HealthStatusEnum::HEALTHY))).unwrap();
        assert_eq!(c.service, "lb");
        assert_eq!(c.number, 1);
        assert_eq!(c.state, "running");
        assert_eq!(c.health.as_deref(), Some("healthy"));
        assert_eq!(c.ports.get("8080/tcp"), Some(&32773));
        assert!(!c.ports.contains_key("9000/tcp"), "unpublished port is absent");
        assert!(c.is_ready());
    }

    #[test]
    fn container_without_compose_label_is_ignored() {
        let mut i = inspect("lb", "1", None);
        i.config = Some(ContainerConfig::default());
        assert!(Container::from_inspect(&i).is_none());
    }

    #[test]
    fn starting_or_unhealthy_is_not_ready_and_no_healthcheck_is() {
        let starting = Container::from_inspect(&inspect("a", "1", Some(HealthStatusEnum::STARTING))).unwrap();
        assert!(!starting.is_ready());
        let none = Container::from_inspect(&inspect("a", "1", Some(HealthStatusEnum::NONE))).unwrap();
        assert_eq!(none.health, None);
        assert!(none.is_ready());
    }

    #[test]
    fn prefers_the_loopback_binding() {
        let mut ports = PortMap::new();
        ports.insert(
            "5432/tcp".into(),
            Some(vec![binding("0.0.0.0", "40000"), binding("127.0.0.1", "40001"), binding("::", "40002")]),
        );
        assert_eq!(published_ports(&ports).get("5432/tcp"), Some(&40001));
        let mut only_any = PortMap::new();
        only_any.insert("80/tcp".into(), Some(vec![binding("0.0.0.0", "40003")]));
        assert_eq!(published_ports(&only_any).get("80/tcp"), Some(&40003));
    }

    #[test]
    fn groups_by_service_in_number_order() {
        let cs: Vec<Container> = [("app", "2"), ("lb", "1"), ("app", "1")]
            .iter()
            .map(|(s, n)| Container::from_inspect(&inspect(s, n, None)).unwrap())
            .collect();
        let g = by_service(&cs);
        assert_eq!(g.keys().collect::<Vec<_>>(), vec!["app", "lb"]);
        assert_eq!(g["app"].iter().map(|c| c.number).collect::<Vec<_>>(), vec![1, 2]);
        assert_eq!(g["app"][1].display_name(), "app#2");
    }
}
