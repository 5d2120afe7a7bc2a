//! `rolling-update` with `override = "compose.candidate.yml"`: a compose override file (relative to the
//! scenario) whose settings for a service replace the running instance's when it is recreated. The settings a
//! recreated container can take are read: `image`, `environment` (merged over the instance's), `command`,
//! `entrypoint`, `labels` (merged); any other key of a service is refused, naming the file and the key, rather
//! than silently not applied. Every service the action targets must be in the file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The override file, read and checked when the scenario is loaded.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub file: PathBuf,
    pub services: BTreeMap<String, Change>,
}

/// What recreating one instance changes.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Change {
    pub image: Option<String>,
    /// `KEY=value`, set over the instance's environment.
    pub environment: Vec<(String, String)>,
    pub command: Option<Vec<String>>,
    pub entrypoint: Option<Vec<String>>,
    pub labels: Vec<(String, String)>,
}

impl Change {
    /// The change an `image = ...` update makes.
    pub fn image(image: &str) -> Change {
        Change { image: Some(image.to_string()), ..Change::default() }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    #[allow(dead_code)]
    version: Option<serde_yaml::Value>,
    services: BTreeMap<String, RawService>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawService {
    image: Option<String>,
    environment: Option<Pairs>,
    command: Option<Vec<String>>,
    entrypoint: Option<Vec<String>>,
    labels: Option<Pairs>,
}

/// Compose's two spellings of a map: `KEY: value` or `["KEY=value"]`.
#[derive(Deserialize)]
#[serde(untagged)]
enum Pairs {
    Map(BTreeMap<String, Option<serde_yaml::Value>>),
    List(Vec<String>),
}

impl Pairs {
    fn into_vec(self) -> Vec<(String, String)> {
        match self {
            Pairs::Map(m) => m
                .into_iter()
                .map(|(k, v)| {
                    let v = match v {
                        None | Some(serde_yaml::Value::Null) => String::new(),
                        Some(serde_yaml::Value::String(s)) => s,
                        Some(other) => serde_yaml::to_string(&other).unwrap_or_default().trim().to_string(),
                    };
                    (k, v)
                })
                .collect(),
            Pairs::List(l) => l
                .into_iter()
                .map(|kv| match kv.split_once('=') {
                    Some((k, v)) => (k.to_string(), v.to_string()),
                    None => (kv, String::new()),
                })
                .collect(),
        }
    }
}

/// Reads `name` (relative to the scenario file `scenario`) and checks that it covers `services`. The error is
/// a sentence naming the file.
pub fn read(scenario: &Path, name: &str, services: &[String]) -> Result<Candidate, String> {
    let file = scenario.parent().unwrap_or(Path::new(".")).join(name);
    let text = std::fs::read_to_string(&file).map_err(|e| format!("override {}: {e}", file.display()))?;
    let candidate = parse(&file, &text)?;
    if let Some(missing) = services.iter().find(|s| !candidate.services.contains_key(*s)) {
        return Err(format!(
            "override {} has no service {missing:?}, which the update targets",
            file.display()
        ));
    }
    Ok(candidate)
}

/// Parses an override file's text.
pub fn parse(file: &Path, text: &str) -> Result<Candidate, String> {
    let raw: RawFile = serde_yaml::from_str(text).map_err(|e| {
        format!(
            "override {}: {e} (a service may set image, environment, command, entrypoint, labels)",
            file.display()
        )
    })?;
    let services = raw
        .services
        .into_iter()
        .map(|(name, s)| {
            let change = Change {
                image: s.image,
                environment: s.environment.map(Pairs::into_vec).unwrap_or_default(),
                command: s.command,
                entrypoint: s.entrypoint,
                labels: s.labels.map(Pairs::into_vec).unwrap_or_default(),
            };
            (name, change)
        })
        .collect();
    Ok(Candidate { file: file.to_path_buf(), services })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(text: &str) -> Result<Candidate, String> {
        parse(Path::new("c.yml"), text)
    }

    #[test]
    fn reads_both_spellings_of_environment_and_labels() {
        let c = p(
            "services:\n  app1:\n    image: demo:next\n    environment:\n      MODE: candidate\n      N: 3\n\
                   \x20   labels: [\"tier=web\"]\n  app2:\n    environment: [\"MODE=candidate\"]\n    \
                   command: [\"serve\", \"--fast\"]\n",
        )
        .unwrap();
        let a1 = &c.services["app1"];
        assert_eq!(a1.image.as_deref(), Some("demo:next"));
        assert_eq!(a1.environment, [("MODE".into(), "candidate".into()), ("N".into(), "3".into())]);
        assert_eq!(a1.labels, [("tier".into(), "web".into())]);
        let a2 = &c.services["app2"];
        assert_eq!(a2.environment, [("MODE".into(), "candidate".into())]);
        assert_eq!(a2.command.as_deref(), Some(&["serve".to_string(), "--fast".to_string()][..]));
        assert_eq!(a2.image, None);
    }

    #[test]
    fn a_setting_it_cannot_apply_is_refused_by_name() {
        let e = p("services:\n  app1:\n    ports: [\"8080\"]\n").unwrap_err();
        assert!(e.contains("c.yml") && e.contains("ports"), "{e}");
        assert!(p("volumes: {}\nservices: {}\n").unwrap_err().contains("volumes"));
    }

    #[test]
    fn every_targeted_service_must_be_in_the_file() {
        let dir = std::env::temp_dir().join(format!("hadrill-candidate-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("c.yml"), "services:\n  app1:\n    image: x\n").unwrap();
        let sc = dir.join("s.toml");
        assert!(read(&sc, "c.yml", &["app1".into()]).is_ok());
        let e = read(&sc, "c.yml", &["app1".into(), "app2".into()]).unwrap_err();
        assert!(e.contains("no service \"app2\""), "{e}");
        let e = read(&sc, "missing.yml", &["app1".into()]).unwrap_err();
        assert!(e.contains("missing.yml"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
