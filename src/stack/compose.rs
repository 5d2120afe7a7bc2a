//! The Compose CLI: `docker compose` (v2) when present, else `docker-compose` (v1). hadrill drives Compose for
//! up/down because that is what users run; it reads state through the Docker API, never through Compose output.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use crate::error::{Error, Result};

#[derive(Debug, Clone)]
pub struct ComposeCli {
    /// The program and its leading arguments: `["docker", "compose"]` or `["docker-compose"]`.
    argv: Vec<String>,
    /// What `version --short` printed.
    pub version: String,
}

impl ComposeCli {
    /// Finds Compose. `HADRILL_COMPOSE` (e.g. `docker-compose`) forces a choice.
    pub async fn detect() -> Result<ComposeCli> {
        let candidates: Vec<Vec<String>> = match std::env::var("HADRILL_COMPOSE") {
            Ok(v) if !v.trim().is_empty() => {
                vec![v.split_whitespace().map(str::to_string).collect()]
            }
            _ => vec![vec!["docker".into(), "compose".into()], vec!["docker-compose".into()]],
        };
        for argv in candidates {
            let out = tokio::process::Command::new(&argv[0])
                .args(&argv[1..])
                .args(["version", "--short"])
                .stdin(Stdio::null())
                .output()
                .await;
            if let Ok(out) = out {
                if out.status.success() {
                    let version = String::from_utf8_lossy(&out.stdout).trim().to_string();
                    return Ok(ComposeCli { argv, version });
                }
            }
        }
        Err(Error::ComposeMissing)
    }

    pub fn is_v2(&self) -> bool {
        self.argv.len() > 1
    }

    /// `docker compose` or `docker-compose`, for messages.
    pub fn display(&self) -> String {
        self.argv.join(" ")
    }

    /// Runs `compose -p PROJECT -f FILE... ARGS` with a time limit; returns stdout, or the error with stderr.
    pub async fn run(
        &self,
        project: &str,
        files: &[PathBuf],
        args: &[&str],
        limit: Duration,
    ) -> Result<String> {
        let mut cmd = tokio::process::Command::new(&self.argv[0]);
        cmd.args(&self.argv[1..]).arg("-p").arg(project);
        for f in files {
            cmd.arg("-f").arg(f);
        }
        cmd.args(args).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).kill_on_drop(true);
        let shown = format!("{} -p {project} {}", self.display(), args.join(" "));
        let child = cmd.spawn().map_err(|source| Error::Spawn { command: shown.clone(), source })?;
        let out = match tokio::time::timeout(limit, child.wait_with_output()).await {
            Ok(r) => r.map_err(|source| Error::Spawn { command: shown.clone(), source })?,
            Err(_) => {
                return Err(Error::Command {
                    command: shown,
                    code: -1,
                    stderr: format!("no answer within {}s", limit.as_secs()),
                })
            }
        };
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).to_string())
        } else {
            Err(Error::Command {
                command: shown,
                code: out.status.code().unwrap_or(-1),
                stderr: tail_lines(&String::from_utf8_lossy(&out.stderr), 30),
            })
        }
    }
}

/// The last `n` lines of a text.
pub fn tail_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}
