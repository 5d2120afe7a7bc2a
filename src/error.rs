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
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Probe(#[from] crate::load::ProbeError),
    #[error("interrupted")]
    Interrupted,
    #[error("{0}")]
    Other(String),
}

impl Error {
    /// The process exit code this error maps to.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Interrupted => exit_codes::INTERRUPTED,
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

pub type Result<T, E = Error> = std::result::Result<T, E>;
