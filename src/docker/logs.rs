//! The tail of a container's log, for error messages (a service that never became healthy says why).

use bollard::query_parameters::LogsOptions;
use bollard::Docker;
use futures_util::StreamExt;

/// The last `lines` lines of stdout and stderr; an explanation instead when the log cannot be read.
pub async fn tail(docker: &Docker, container_id: &str, lines: usize) -> String {
    let opts = LogsOptions { stdout: true, stderr: true, tail: lines.to_string(), ..Default::default() };
    let mut stream = docker.logs(container_id, Some(opts));
    let mut out = String::new();
    while let Some(item) = stream.next().await {
        match item {
            Ok(chunk) => out.push_str(&String::from_utf8_lossy(&chunk.into_bytes())),
            Err(e) => {
                out.push_str(&format!("(log unreadable: {e})"));
                break;
            }
        }
    }
    if out.trim().is_empty() {
        "(empty log)".into()
    } else {
        out.trim_end().to_string()
    }
}
