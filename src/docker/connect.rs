//! Connecting to the Docker daemon, negotiating the API version (Debian's engine speaks 1.41).

use bollard::Docker;

use crate::error::{Error, Result};

/// Connects with the local defaults (`DOCKER_HOST` or the unix socket) and checks the daemon answers.
pub async fn connect() -> Result<Docker> {
    let hint = local_endpoint();
    let docker = Docker::connect_with_local_defaults()
        .map_err(|source| Error::DockerUnreachable { hint: hint.clone(), source })?;
    let docker = tokio::time::timeout(std::time::Duration::from_secs(10), docker.negotiate_version())
        .await
        .map_err(|_| Error::Other(format!("cannot reach the Docker daemon ({hint}): no answer in 10s")))?
        .map_err(|source| Error::DockerUnreachable { hint: hint.clone(), source })?;
    docker.ping().await.map_err(|source| Error::DockerUnreachable { hint, source })?;
    Ok(docker)
}

/// The endpoint [`connect`] uses: `DOCKER_HOST`, else the local socket.
pub fn local_endpoint() -> String {
    std::env::var("DOCKER_HOST").unwrap_or_else(|_| "unix:///var/run/docker.sock".to_string())
}

/// The engine's version string, e.g. `20.10.24+dfsg1 (API 1.41)`.
pub async fn engine_version(docker: &Docker) -> Result<String> {
    let v = docker.version().await.map_err(|e| Error::docker("read the engine version", e))?;
    Ok(format!(
        "{} (API {})",
        v.version.unwrap_or_else(|| "?".into()),
        v.api_version.unwrap_or_else(|| "?".into())
    ))
}
