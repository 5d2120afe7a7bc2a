//! From a stack argument (a bundled name such as `web-haproxy-pg`, or a path to a compose file) to a
//! [`StackSpec`]: the file, its services, the images it needs and hadrill's metadata (`x-hadrill:` in the file).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::paths;

/// hadrill's metadata, read from the `x-hadrill:` extension field of a compose file (Compose ignores it).
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct StackMeta {
    /// One line for `hadrill list`.
    #[serde(default)]
    pub description: String,
    /// The seed guides this stack comes from.
    #[serde(default)]
    pub seeds: Vec<String>,
    /// The client-facing HTTP endpoint, as `service:port` (e.g. `lb:8080`).
    #[serde(default)]
    pub http: Option<String>,
    /// The stack components hadrill's observers poll during a drill.
    #[serde(default)]
    pub observe: ObserveSpec,
    /// The engine the stack is written for (`swarm` for `docker stack deploy`); a scenario may say otherwise.
    #[serde(default)]
    pub orchestrator: Option<crate::swarm::Orchestrator>,
}

/// Which published ports the observers poll, each as `service:port` (see `src/observe/`).
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(try_from = "RawObserveSpec")]
pub struct ObserveSpec {
    /// HAProxy stats listeners (`/stats;csv`).
    pub haproxy: Vec<String>,
    /// PostgreSQL nodes; each one's login is in `postgres_login` (default `postgres`/`postgres`).
    pub postgres: Vec<String>,
    /// The login of a PostgreSQL node named in `postgres`, when it is not the default.
    pub postgres_login: BTreeMap<String, PgLogin>,
    /// Patroni REST APIs (`/cluster`).
    pub patroni: Vec<String>,
    /// Redis Sentinels.
    pub sentinel: Vec<String>,
    /// The Sentinel master name (default `mymaster`).
    pub sentinel_master: Option<String>,
    /// nginx services whose error log is read (`lb`): it has no state to poll.
    pub nginx: Vec<String>,
}

impl ObserveSpec {
    /// The login for the PostgreSQL node `addr` (`service:port`).
    pub fn login_for(&self, addr: &str) -> PgLogin {
        self.postgres_login.get(addr).cloned().unwrap_or_default()
    }

    /// The login a node's entry gives explicitly (the first such node's, in the nodes' order): the
    /// PostgreSQL probe's, which writes through all the nodes with one login.
    pub fn probe_login(&self) -> Option<PgLogin> {
        self.postgres.iter().find_map(|a| self.postgres_login.get(a).cloned())
    }
}

/// How the PostgreSQL observer logs in (the bundled images' superuser by default). Its `Debug` hides the
/// password.
#[derive(Clone, PartialEq, Eq)]
pub struct PgLogin {
    pub user: String,
    pub password: String,
    pub dbname: String,
}

fn postgres() -> String {
    "postgres".into()
}

impl Default for PgLogin {
    fn default() -> Self {
        PgLogin { user: postgres(), password: postgres(), dbname: postgres() }
    }
}

impl std::fmt::Debug for PgLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PgLogin {{ user: {:?}, password: \"***\", dbname: {:?} }}", self.user, self.dbname)
    }
}

/// `x-hadrill.observe` as written: a PostgreSQL node is `"db:5432"` or `{ addr = "db:5432", user = ... }`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawObserveSpec {
    #[serde(default)]
    haproxy: Vec<String>,
    #[serde(default)]
    postgres: Vec<RawPgNode>,
    #[serde(default)]
    patroni: Vec<String>,
    #[serde(default)]
    sentinel: Vec<String>,
    #[serde(default)]
    sentinel_master: Option<String>,
    #[serde(default)]
    nginx: Vec<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawPgNode {
    Addr(String),
    Login {
        addr: String,
        #[serde(default = "postgres")]
        user: String,
        #[serde(default = "postgres")]
        password: String,
        #[serde(default = "postgres")]
        dbname: String,
    },
}

impl TryFrom<RawObserveSpec> for ObserveSpec {
    type Error = String;

    fn try_from(r: RawObserveSpec) -> std::result::Result<Self, String> {
        let mut postgres = Vec::new();
        let mut postgres_login = BTreeMap::new();
        for node in r.postgres {
            match node {
                RawPgNode::Addr(a) => postgres.push(a),
                RawPgNode::Login { addr, user, password, dbname } => {
                    postgres_login.insert(addr.clone(), PgLogin { user, password, dbname });
                    postgres.push(addr);
                }
            }
        }
        Ok(ObserveSpec {
            haproxy: r.haproxy,
            postgres,
            postgres_login,
            patroni: r.patroni,
            sentinel: r.sentinel,
            sentinel_master: r.sentinel_master,
            nginx: r.nginx,
        })
    }
}

#[derive(Debug, Clone)]
pub struct StackSpec {
    /// The bundled name, or the file's folder name for a user's compose file.
    pub name: String,
    pub compose_file: PathBuf,
    pub meta: StackMeta,
    /// The services of the run in file order (those of disabled profiles left out).
    pub services: Vec<String>,
    /// Every service of the file, in file order.
    pub declared: Vec<String>,
    /// Image references used by the services, by service.
    pub images: BTreeMap<String, String>,
    /// Top-level network and volume names declared in the file.
    pub networks: Vec<String>,
    pub volumes: Vec<String>,
    /// Services with a `build:` section: Compose builds them before `up`.
    pub builds: Vec<String>,
    /// Instances per service where the file scales it (`scale:` or `deploy.replicas`).
    pub replicas: BTreeMap<String, u32>,
    /// The `profiles:` of each service that has some; such a service runs only when one is enabled.
    pub service_profiles: BTreeMap<String, Vec<String>>,
    /// The profiles enabled for the run (a scenario's `profiles = [...]`).
    pub active_profiles: Vec<String>,
    /// An env file for Compose; `None` means Compose's own default (`.env` next to the compose file).
    pub env_file: Option<PathBuf>,
    /// The networks each service joins (`default` when it names none; none with a `network_mode`).
    pub service_networks: BTreeMap<String, Vec<String>>,
}

const COMPOSE_NAMES: [&str; 4] = ["docker-compose.yml", "docker-compose.yaml", "compose.yml", "compose.yaml"];

/// Bundled stack names: the folders of `compose/` holding a compose file.
pub fn bundled_names() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(paths::compose_dir())
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| COMPOSE_NAMES.iter().any(|n| e.path().join(n).is_file()))
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    names.sort();
    names
}

/// Resolves a bundled stack name or a compose file (or folder) path.
pub fn resolve(arg: &str) -> Result<StackSpec> {
    let as_path = Path::new(arg);
    let bundled = paths::compose_dir().join(arg);
    let file = if !arg.contains('/') && bundled.is_dir() {
        find_compose_in(&bundled)
    } else if as_path.is_file() {
        Some(as_path.to_path_buf())
    } else if as_path.is_dir() {
        find_compose_in(as_path)
    } else {
        None
    };
    let Some(file) = file else {
        return Err(Error::UnknownStack { name: arg.to_string(), known: bundled_names().join(", ") });
    };
    load(&file)
}

fn find_compose_in(dir: &Path) -> Option<PathBuf> {
    COMPOSE_NAMES.iter().map(|n| dir.join(n)).find(|p| p.is_file())
}

/// Reads a compose file's services, networks, volumes and `x-hadrill` metadata.
pub fn load(file: &Path) -> Result<StackSpec> {
    let file = file.canonicalize().map_err(|e| Error::io(file, e))?;
    let bad = |message: String| Error::ComposeFile { path: file.clone(), message };
    let bytes = crate::limits::read_capped(&file, crate::limits::MAX_COMPOSE_BYTES).map_err(&bad)?;
    let text = String::from_utf8(bytes).map_err(|e| bad(format!("not UTF-8 text: {}", e.utf8_error())))?;
    let name =
        file.parent().and_then(|p| p.file_name()).and_then(|n| n.to_str()).unwrap_or("stack").to_string();
    parse(&name, &file, &text)
}

fn parse(name: &str, file: &Path, text: &str) -> Result<StackSpec> {
    let bad = |message: String| Error::ComposeFile { path: file.to_path_buf(), message };
    crate::limits::check_yaml_nesting(text).map_err(bad)?;
    let mut doc: serde_yaml::Value =
        serde_yaml::from_str(text).map_err(|e| bad(format!("not valid YAML: {e}")))?;
    // Compose files share settings with `<<: *anchor`; serde_yaml leaves merge keys to the caller.
    doc.apply_merge().map_err(|e| bad(format!("YAML merge keys: {e}")))?;
    let map = doc.as_mapping().ok_or_else(|| bad("not a mapping at the top level".into()))?;
    let keys_of = |key: &str| -> Vec<String> {
        map.get(key)
            .and_then(|v| v.as_mapping())
            .map(|m| m.keys().filter_map(|k| k.as_str().map(str::to_string)).collect())
            .unwrap_or_default()
    };
    let services = keys_of("services");
    if services.is_empty() {
        return Err(bad("no services".into()));
    }
    let mut images = BTreeMap::new();
    let (mut builds, mut replicas, mut service_profiles) = (Vec::new(), BTreeMap::new(), BTreeMap::new());
    if let Some(svcs) = map.get("services").and_then(|v| v.as_mapping()) {
        for (k, v) in svcs {
            let Some(k) = k.as_str() else { continue };
            if let Some(img) = v.get("image").and_then(|i| i.as_str()) {
                images.insert(k.to_string(), img.to_string());
            }
            if v.get("build").is_some() {
                builds.push(k.to_string());
            }
            let scale = v.get("scale").or_else(|| v.get("deploy").and_then(|d| d.get("replicas")));
            if let Some(n) = scale.and_then(serde_yaml::Value::as_u64) {
                let n = u32::try_from(n).map_err(|_| bad(format!("service {k}: scale {n} is too large")))?;
                replicas.insert(k.to_string(), n);
            }
            if let Some(p) = v.get("profiles").and_then(|p| p.as_sequence()) {
                let p: Vec<String> = p.iter().filter_map(|x| x.as_str().map(str::to_string)).collect();
                service_profiles.insert(k.to_string(), p);
            }
        }
    }
    let mut service_networks = BTreeMap::new();
    for (k, v) in map.get("services").and_then(|v| v.as_mapping()).into_iter().flatten() {
        if let Some(k) = k.as_str() {
            service_networks.insert(k.to_string(), networks_of(v));
        }
    }
    let meta = match map.get("x-hadrill") {
        Some(v) => serde_yaml::from_value(v.clone()).map_err(|e| bad(format!("x-hadrill: {e}")))?,
        None => StackMeta::default(),
    };
    let mut spec = StackSpec {
        name: sanitize(name),
        compose_file: file.to_path_buf(),
        meta,
        declared: services.clone(),
        services,
        images,
        networks: keys_of("networks"),
        volumes: keys_of("volumes"),
        builds,
        replicas,
        service_profiles,
        active_profiles: Vec::new(),
        env_file: None,
        service_networks,
    };
    spec.with_profiles(&[]);
    Ok(spec)
}

/// A stack name usable inside a Compose project name: lowercase letters, digits and dashes.
pub fn sanitize(name: &str) -> String {
    let s: String =
        name.to_lowercase().chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).collect();
    let s = s.trim_matches('-').to_string();
    if s.is_empty() {
        "stack".into()
    } else {
        s
    }
}

/// The networks a compose service joins: its `networks` list or map, `default` without one, none with a
/// `network_mode`.
fn networks_of(service: &serde_yaml::Value) -> Vec<String> {
    if service.get("network_mode").is_some() {
        return Vec::new();
    }
    match service.get("networks") {
        Some(serde_yaml::Value::Sequence(list)) => {
            list.iter().filter_map(|n| n.as_str().map(str::to_string)).collect()
        }
        Some(serde_yaml::Value::Mapping(map)) => {
            map.keys().filter_map(|n| n.as_str().map(str::to_string)).collect()
        }
        _ => vec!["default".to_string()],
    }
}

impl StackSpec {
    /// The folder holding the compose file (relative paths in it are resolved from here).
    pub fn dir(&self) -> &Path {
        self.compose_file.parent().unwrap_or(Path::new("."))
    }

    pub fn has_service(&self, service: &str) -> bool {
        self.services.iter().any(|s| s == service)
    }

    /// Every profile a service of the file names.
    pub fn profiles(&self) -> std::collections::BTreeSet<String> {
        self.service_profiles.values().flatten().cloned().collect()
    }

    /// Enables `profiles`: the services of the run are those without profiles and those of an enabled one.
    pub fn with_profiles(&mut self, profiles: &[String]) {
        self.active_profiles = profiles.to_vec();
        let sp = &self.service_profiles;
        self.services = self.declared.clone();
        self.services
            .retain(|s| sp.get(s).is_none_or(|p| p.is_empty() || p.iter().any(|x| profiles.contains(x))));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = r#"
version: "2.4"
x-hadrill:
  description: "two apps"
  seeds: ["000"]
  http: lb:8080
x-common: &common
  image: hadrill/demo:local
services:
  lb: { image: hadrill/haproxy:local }
  app: { <<: *common }
networks: { front: {} }
volumes: { data: {} }
"#;

    #[test]
    fn reads_services_images_and_metadata() {
        let s = parse("My_Stack", Path::new("/x/docker-compose.yml"), FILE).unwrap();
        assert_eq!(s.name, "my-stack");
        assert_eq!(s.services, vec!["lb", "app"]);
        assert_eq!(s.images["app"], "hadrill/demo:local");
        assert_eq!(s.meta.http.as_deref(), Some("lb:8080"));
        assert_eq!(s.networks, vec!["front"]);
        assert_eq!(s.volumes, vec!["data"]);
    }

    #[test]
    fn rejects_unknown_metadata_and_empty_files() {
        let bad = FILE.replace("seeds:", "seedz:");
        let e = parse("s", Path::new("/x/c.yml"), &bad).unwrap_err().to_string();
        assert!(e.contains("x-hadrill") && e.contains("seedz"), "{e}");
        let e = parse("s", Path::new("/x/c.yml"), "version: '2.4'\n").unwrap_err().to_string();
        assert!(e.contains("no services"), "{e}");
    }

    #[test]
    fn bundled_stacks_parse() {
        for name in bundled_names() {
            let s = resolve(&name).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(!s.meta.description.is_empty(), "{name} has no description");
        }
    }
}
