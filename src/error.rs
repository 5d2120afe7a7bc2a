//! hadrill's error type: one variant per thing hadrill was doing, so a message says what failed and where.

use std::path::PathBuf;

use crate::exit_codes;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot reach the Docker daemon ({hint}): {source}")]
    DockerUnreachable {
        hint: String,
        #[source]
        source: bollard::errors::Error,
    },
    #[error("docker: {action}: {source}")]
    Docker {
        action: String,
        #[source]
        source: bollard::errors::Error,
    },
    #[error("no Compose found: tried `docker compose` (v2) and `docker-compose` (v1); install one of them")]
    ComposeMissing,
    #[error("{command} failed (exit {code}):\n{stderr}")]
    Command { command: String, code: i32, stderr: String },
    #[error("cannot run {command}: {source}")]
    Spawn {
        command: String,
        #[source]
        source: std::io::Error,
    },
    #[error("unknown stack {name:?}: not a bundled stack ({known}) nor a compose file path")]
    UnknownStack { name: String, known: String },
    #[error("{path}: {message}")]
    ComposeFile { path: PathBuf, message: String },
    #[error("{0}")]
    Scenario(#[from] crate::scenario::ScenarioError),
    #[error("service {service} did not become healthy within {timeout_s}s (state: {state})\n--- last log lines of {service} ---\n{log_tail}")]
    NotHealthy { service: String, state: String, timeout_s: u64, log_tail: String },
    #[error("image {image}: {message}")]
    Image { image: String, message: String },
    #[error("reaper of {project}: {message}")]
    Reaper { project: String, message: String },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot render {view}: {source}")]
    Render {
        /// The file being rendered (`report.json`, `junit.xml`).
        view: &'static str,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("{path}: {what}: {source}")]
    ReportJson {
        path: PathBuf,
        /// `not JSON`, `not a hadrill report`.
        what: &'static str,
        #[source]
        source: serde_json::Error,
    },
    #[error("{path}: schema_version {found} is not the {expected} this hadrill writes")]
    ReportVersion { path: PathBuf, found: String, expected: u32 },
    #[error("{0}")]
    Url(#[from] crate::target::UrlError),
    #[error("{flag} {value:?}: {reason}")]
    Argument { flag: &'static str, value: String, reason: String },
    #[error("{what} {url}: {detail}")]
    NoSuccess { what: &'static str, url: String, detail: String },
    #[error("{0}")]
    Probe(#[from] crate::load::ProbeError),
    #[error("interrupted")]
    Interrupted,
    #[error("the drill crashed (faults reverted, stack removed): {0}")]
    Crashed(String),
    #[error("cannot probe the kernel's network features: {0}")]
    KernelProbe(String),
    #[error("{}", abandoned_message(left))]
    CleanupAbandoned { left: Vec<String> },
    #[error("cannot run a swarm drill on the Docker daemon at {endpoint}: {reason}")]
    NoSwarmManager { endpoint: String, reason: String },
    #[error("cannot reach swarm node {node} at {endpoint} ([nodes]): {reason}")]
    NodeUnreachable { node: String, endpoint: String, reason: String },
    #[error("{0}")]
    Spill(#[from] crate::outcomes::SpillError),
    #[error("{0}")]
    Other(String),
}

impl Error {
    /// The process exit code this error maps to.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Interrupted | Error::CleanupAbandoned { .. } => exit_codes::INTERRUPTED,
            _ => exit_codes::UNUSABLE,
        }
    }

    pub fn docker(action: impl Into<String>, source: bollard::errors::Error) -> Error {
        Error::Docker { action: action.into(), source }
    }

    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Error {
        Error::Io { path: path.into(), source }
    }
}

/// Where hadrill stopped waiting for its cleanup: what may be left, and the command that removes it.
fn abandoned_message(left: &[String]) -> String {
    let mut s = String::from("stopped waiting for the cleanup; these may be left behind:");
    for l in left {
        s.push_str("\n  - ");
        s.push_str(l);
    }
    s.push_str("\nremove them with: hadrill clean   (hadrill clean --dry-run lists them first)");
    s
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_abandoned_cleanup_lists_what_may_be_left_and_how_to_remove_it() {
        let e = Error::CleanupAbandoned {
            left: vec!["unpause app1".into(), "the containers of project p".into()],
        };
        let text = e.to_string();
        assert!(text.contains("\n  - unpause app1\n  - the containers of project p\n"), "{text}");
        assert!(text.contains("hadrill clean"), "{text}");
        assert_eq!(e.exit_code(), exit_codes::INTERRUPTED);
    }
}
