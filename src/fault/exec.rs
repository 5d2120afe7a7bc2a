//! Running a command in a container through the Docker API and collecting its output and exit code.

use bollard::exec::{CreateExecOptions, StartExecResults};
use bollard::Docker;
use futures_util::StreamExt;

use crate::error::{Error, Result};

#[derive(Debug, Clone)]
pub struct ExecOutput {
    pub exit_code: i64,
    /// stdout and stderr, interleaved as they came.
    pub output: String,
}

/// Runs `cmd` in `container` (as `user` if given) with extra environment variables.
pub async fn run(
    docker: &Docker,
    container: &str,
    cmd: &[String],
    user: Option<&str>,
    env: &[String],
) -> Result<ExecOutput> {
    let opts = CreateExecOptions {
        cmd: Some(cmd.to_vec()),
        attach_stdout: Some(true),
        attach_stderr: Some(true),
        env: Some(env.to_vec()),
        user: user.map(str::to_string),
        ..Default::default()
    };
    let created = docker
        .create_exec(container, opts)
        .await
        .map_err(|e| Error::docker(format!("exec {:?} in {container}", cmd.join(" ")), e))?;
    let mut output = String::new();
    match docker
        .start_exec(&created.id, None)
        .await
        .map_err(|e| Error::docker(format!("start exec {:?}", cmd.join(" ")), e))?
    {
        StartExecResults::Attached { output: mut stream, .. } => {
            while let Some(chunk) = stream.next().await {
                match chunk {
                    Ok(c) => output.push_str(&String::from_utf8_lossy(&c.into_bytes())),
                    Err(e) => return Err(Error::docker("read exec output", e)),
                }
            }
        }
        StartExecResults::Detached => {}
    }
    let inspect = docker.inspect_exec(&created.id).await.map_err(|e| Error::docker("inspect exec", e))?;
    Ok(ExecOutput { exit_code: inspect.exit_code.unwrap_or(-1), output })
}

/// The effect time a command reports on a line `HADRILL_EFFECT_AT_MS=<unix ms>` (its last such line).
pub fn reported_effect_ms(output: &str) -> Option<u64> {
    output.lines().rev().find_map(|l| l.trim().strip_prefix("HADRILL_EFFECT_AT_MS=")?.trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_reported_effect_time() {
        assert_eq!(reported_effect_ms("x\nHADRILL_EFFECT_AT_MS=1700000000123\n"), Some(1_700_000_000_123));
        assert_eq!(reported_effect_ms("nothing here"), None);
    }
}
