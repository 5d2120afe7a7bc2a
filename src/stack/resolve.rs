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
}

/// Which published ports the observers poll, each as `service:port` (see `src/observe/`).
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ObserveSpec {
    /// HAProxy stats listeners (`/stats;csv`).
    #[serde(default)]
    pub haproxy: Vec<String>,
    /// PostgreSQL nodes (superuser `postgres`/`postgres`).
    #[serde(default)]
    pub postgres: Vec<String>,
    /// Patroni REST APIs (`/cluster`).
    #[serde(default)]
    pub patroni: Vec<String>,
    /// Redis Sentinels.
    #[serde(default)]
    pub sentinel: Vec<String>,
    /// The Sentinel master name (default `mymaster`).
    #[serde(default)]
    pub sentinel_master: Option<String>,
}

#[derive(Debug, Clone)]
pub struct StackSpec {
    /// The bundled name, or the file's folder name for a user's compose file.
    pub name: String,
    pub compose_file: PathBuf,
    pub meta: StackMeta,
    /// Service names in file order.
    pub services: Vec<String>,
    /// Image references used by the services, by service.
    pub images: BTreeMap<String, String>,
    /// Top-level network and volume names declared in the file.
    pub networks: Vec<String>,
    pub volumes: Vec<String>,
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
    if let Some(svcs) = map.get("services").and_then(|v| v.as_mapping()) {
        for (k, v) in svcs {
            if let (Some(k), Some(img)) = (k.as_str(), v.get("image").and_then(|i| i.as_str())) {
                images.insert(k.to_string(), img.to_string());
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
    Ok(StackSpec {
        name: sanitize(name),
        compose_file: file.to_path_buf(),
        meta,
        services,
        images,
        networks: keys_of("networks"),
        volumes: keys_of("volumes"),
        service_networks,
    })
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
