//! Before the load starts: wait until the HTTP target answers at all. A container without a healthcheck counts
//! as ready once it runs, and Docker's proxy publishes its port before (or while) the process inside listens:
//! a load balancer still starting, or restarting after a failed first start, would otherwise be measured as an
//! outage at the start of the drill. Any HTTP answer counts (a 404 or a 503 too: the stack decides what its
//! answers mean, the drill measures them); a refused or reset connection, a failed TLS handshake or a timeout
//! does not. The wait is bounded; when it runs out the load starts anyway and the console says so, so the
//! report shows what the clients saw rather than hiding it.

use std::time::{Duration, Instant};

use http::Method;

use super::http1::{Conn, Target};
use crate::timeline::Failure;

/// How long the target has to answer once the stack is healthy.
pub const ANSWER_WITHIN: Duration = Duration::from_secs(30);
/// Pause between two attempts.
const RETRY_EVERY: Duration = Duration::from_millis(200);

/// What [`wait`] found.
#[derive(Debug, PartialEq)]
pub enum Answering {
    /// It answered (with this status) after this long.
    Answered { status: u16, after: Duration },
    /// No answer within the limit; the last failure.
    Silent { last: String },
}

/// Sends `GET <target path>` until the target answers with any status, for at most `within`.
pub async fn wait(target: &Target, within: Duration) -> Answering {
    let started = Instant::now();
    let path = target.path("");
    loop {
        let mut conn = Conn::default();
        let left = within.saturating_sub(started.elapsed()).max(Duration::from_millis(100));
        let attempt = left.min(Duration::from_secs(2));
        let last = match conn.request(target, Method::GET, &path, bytes::Bytes::new(), attempt).await {
            Ok(status) | Err(Failure::Status(status)) => {
                return Answering::Answered { status, after: started.elapsed() }
            }
            Err(failure) => format!("{failure:?}"),
        };
        if started.elapsed() + RETRY_EVERY >= within {
            return Answering::Silent { last };
        }
        tokio::time::sleep(RETRY_EVERY).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    #[tokio::test]
    async fn a_target_that_starts_listening_late_is_waited_for_and_any_status_counts() {
        // Reserve a port, close it (connections are refused), and listen on it again after 600 ms.
        let port = TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap().port();
        let target = Target::resolve(&format!("http://127.0.0.1:{port}")).await.unwrap();
        let server = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(600)).await;
            let l = TcpListener::bind(("127.0.0.1", port)).await.unwrap();
            let (mut s, _) = l.accept().await.unwrap();
            let mut buf = [0u8; 1024];
            let _ = s.read(&mut buf).await;
            s.write_all(b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\n\r\n").await.unwrap();
        });
        match wait(&target, Duration::from_secs(5)).await {
            Answering::Answered { status, after } => {
                assert_eq!(status, 503);
                assert!(after >= Duration::from_millis(500), "{after:?}");
            }
            other => panic!("{other:?}"),
        }
        server.await.unwrap();
    }

    #[tokio::test]
    async fn a_target_that_never_answers_is_reported_silent_within_the_limit() {
        let port = TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap().port();
        let target = Target::resolve(&format!("http://127.0.0.1:{port}")).await.unwrap();
        let started = Instant::now();
        match wait(&target, Duration::from_millis(700)).await {
            Answering::Silent { last } => {
                assert!(last.contains("Refused") || last.contains("refused"), "{last}")
            }
            other => panic!("{other:?}"),
        }
        assert!(started.elapsed() < Duration::from_secs(3));
    }
}
