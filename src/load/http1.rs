//! The load engine's HTTP client: HTTP/1.1 keep-alive connections driven directly with hyper, as oha does,
//! instead of a general-purpose client. The target URL is parsed and its host resolved once; a request is
//! then one write and one read on a connection the caller owns (the closed loop's workers each hold one) or
//! borrows from a [`Pool`] (the open model's request tasks). A connection that failed or timed out is dropped
//! and the next request opens a new one, so every request is bounded by the timeout, connecting included.

use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::header::{HeaderValue, CONTENT_LENGTH, HOST};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;

use super::classify;
use crate::timeline::Failure;

/// Where requests go: the target's socket address, its `Host` header and the path prefix of its URL.
#[derive(Debug, Clone)]
pub struct Target {
    url: String,
    addr: SocketAddr,
    host: HeaderValue,
    /// The URL's path and query, without a trailing `/` when it is only `/`.
    base_path: String,
}

impl Target {
    /// Parses an `http://host[:port][/path]` URL and resolves its host once.
    pub async fn resolve(url: &str) -> Result<Target, String> {
        let uri: hyper::Uri = url.parse().map_err(|e| format!("url {url:?} is not a valid URL: {e}"))?;
        if uri.scheme_str() != Some("http") {
            return Err(format!("url {url:?}: the load engine speaks plain http:// only"));
        }
        let authority = uri.authority().ok_or_else(|| format!("url {url:?} has no host"))?;
        let port = authority.port_u16().unwrap_or(80);
        let host = authority.host().trim_start_matches('[').trim_end_matches(']');
        let addr = tokio::net::lookup_host((host, port))
            .await
            .map_err(|e| format!("url {url:?}: cannot resolve {host}: {e}"))?
            .next()
            .ok_or_else(|| format!("url {url:?}: {host} resolves to no address"))?;
        let host = HeaderValue::from_str(authority.as_str()).map_err(|e| format!("url {url:?}: {e}"))?;
        let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
        let base_path = if path == "/" { String::new() } else { path.to_owned() };
        Ok(Target { url: url.trim_end_matches('/').to_owned(), addr, host, base_path })
    }

    /// The URL as given, without a trailing `/`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The path of `suffix` under the URL (`suffix` empty: the URL itself).
    pub fn path(&self, suffix: &str) -> String {
        match (self.base_path.is_empty(), suffix.is_empty()) {
            (true, true) => "/".to_owned(),
            _ => format!("{}{suffix}", self.base_path),
        }
    }
}

/// One keep-alive connection, opened on first use and again after a failure.
#[derive(Default)]
pub struct Conn {
    sender: Option<SendRequest<Full<Bytes>>>,
    /// The task driving the connection: aborted when the connection is discarded, so a timed-out request's
    /// socket and buffers go at once instead of lingering until the server answers or closes.
    task: Option<tokio::task::AbortHandle>,
}

impl Drop for Conn {
    fn drop(&mut self) {
        self.discard();
    }
}

/// What an answered request returned.
pub type Answer = Result<u16, Failure>;

impl Conn {
    /// Sends one request and reads its whole answer, all within `timeout`. `path` is an absolute path.
    pub async fn request(
        &mut self,
        target: &Target,
        method: Method,
        path: &str,
        body: Bytes,
        timeout: Duration,
    ) -> Answer {
        match tokio::time::timeout(timeout, self.exchange(target, method, path, body, timeout)).await {
            Ok(Ok(code)) => Ok(code),
            Ok(Err(failure)) => {
                self.discard();
                Err(failure)
            }
            Err(_) => {
                // The connection may still carry the late answer: never reuse it.
                self.discard();
                Err(Failure::Timeout)
            }
        }
    }

    fn discard(&mut self) {
        self.sender = None;
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }

    async fn exchange(
        &mut self,
        target: &Target,
        method: Method,
        path: &str,
        body: Bytes,
        timeout: Duration,
    ) -> Answer {
        let sender = match &mut self.sender {
            Some(s) if !s.is_closed() => s,
            _ => {
                self.discard();
                let (sender, task) = connect(target, timeout).await?;
                self.task = Some(task);
                self.sender.insert(sender)
            }
        };
        sender.ready().await.map_err(|e| classify::chain(&e))?;
        let mut req = Request::new(Full::new(body.clone()));
        *req.method_mut() = method;
        *req.uri_mut() = path.parse().map_err(|_| Failure::Transport)?;
        req.headers_mut().insert(HOST, target.host.clone());
        if !body.is_empty() {
            req.headers_mut().insert(CONTENT_LENGTH, HeaderValue::from(body.len()));
        }
        let resp = sender.send_request(req).await.map_err(|e| classify::chain(&e))?;
        let code = resp.status().as_u16();
        // Read the body to its end so the connection can be reused; a body cut short is a reset.
        let mut body = resp.into_body();
        while let Some(frame) = body.frame().await {
            frame.map_err(|e| classify::chain(&e))?;
        }
        Ok(code)
    }
}

/// Opens a connection, bounded by the smaller of `timeout` and one second (a black-holed connect is a
/// timeout either way, and the next request retries sooner).
async fn connect(
    target: &Target,
    timeout: Duration,
) -> Result<(SendRequest<Full<Bytes>>, tokio::task::AbortHandle), Failure> {
    let limit = timeout.min(Duration::from_secs(1));
    let stream = match tokio::time::timeout(limit, tokio::net::TcpStream::connect(target.addr)).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => return Err(classify::io_kind(e.kind())),
        Err(_) => return Err(Failure::Timeout),
    };
    let _ = stream.set_nodelay(true);
    // Load answers are small: a 4 KiB read buffer (hyper's default starts at 8 KiB and adapts) keeps the
    // memory of thousands of in-flight connections down; a longer answer just takes more reads.
    let (sender, conn) = hyper::client::conn::http1::Builder::new()
        .read_buf_exact_size(Some(4096))
        .handshake(TokioIo::new(stream))
        .await
        .map_err(|e| classify::chain(&e))?;
    // The connection task ends when the sender is dropped, the peer closes, or the Conn discards it.
    let task = tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok((sender, task.abort_handle()))
}

/// Idle connections shared by request tasks that come and go (the open model).
#[derive(Default)]
pub struct Pool {
    idle: Mutex<Vec<Conn>>,
}

impl Pool {
    /// An idle connection, or a new (not yet opened) one.
    pub fn take(&self) -> Conn {
        self.idle.lock().expect("pool lock").pop().unwrap_or_default()
    }

    /// Returns a connection for reuse; a failed one (already dropped) is not kept.
    pub fn put(&self, conn: Conn) {
        if conn.sender.is_some() {
            self.idle.lock().expect("pool lock").push(conn);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn targets_parse_once_and_join_paths() {
        let t = Target::resolve("http://127.0.0.1:8080").await.unwrap();
        assert_eq!(t.addr, "127.0.0.1:8080".parse().unwrap());
        assert_eq!(t.host, "127.0.0.1:8080");
        assert_eq!(t.path(""), "/");
        assert_eq!(t.path("/kv/a"), "/kv/a");
        assert_eq!(t.url(), "http://127.0.0.1:8080");
        let t = Target::resolve("http://localhost/api?x=1").await.unwrap();
        assert_eq!(t.addr.port(), 80);
        assert_eq!(t.path(""), "/api?x=1");
        assert!(Target::resolve("https://127.0.0.1/").await.unwrap_err().contains("plain http"));
        assert!(Target::resolve("not a url").await.is_err());
    }

    #[tokio::test]
    async fn a_refused_connection_is_refused_and_the_next_request_reconnects() {
        // A port that was just free: nothing listens on it.
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let t = Target::resolve(&format!("http://127.0.0.1:{port}/")).await.unwrap();
        let mut c = Conn::default();
        let answer = c.request(&t, Method::GET, "/", Bytes::new(), Duration::from_secs(1)).await;
        assert_eq!(answer, Err(Failure::Refused));
        assert!(c.sender.is_none());
    }

    #[tokio::test]
    async fn answers_keep_alive_and_count_statuses() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        // One accepted connection answers three requests: 200, 503, then closes mid-answer.
        let server = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut buf = vec![0u8; 4096];
            for reply in [
                &b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"[..],
                b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\n\r\n",
                b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nok",
            ] {
                let n = s.read(&mut buf).await.unwrap();
                assert!(std::str::from_utf8(&buf[..n]).unwrap().contains("host: 127.0.0.1"));
                s.write_all(reply).await.unwrap();
            }
        });
        let t = Target::resolve(&format!("http://127.0.0.1:{port}")).await.unwrap();
        let mut c = Conn::default();
        let timeout = Duration::from_secs(2);
        assert_eq!(c.request(&t, Method::GET, "/", Bytes::new(), timeout).await, Ok(200));
        let put = c.request(&t, Method::PUT, "/kv/x", Bytes::from_static(b"1"), timeout).await;
        assert_eq!(put, Ok(503));
        assert_eq!(c.request(&t, Method::GET, "/", Bytes::new(), timeout).await, Err(Failure::Reset));
        server.await.unwrap();
    }

    #[tokio::test]
    async fn a_timed_out_connection_is_closed_at_once() {
        use tokio::io::AsyncReadExt;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        // The server reads the request and never answers; it reports how long until the client hung up.
        let server = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut buf = vec![0u8; 4096];
            let _ = s.read(&mut buf).await.unwrap();
            let asked = std::time::Instant::now();
            let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf)).await;
            (n.map(|r| r.unwrap_or(0)), asked.elapsed())
        });
        let t = Target::resolve(&format!("http://127.0.0.1:{port}")).await.unwrap();
        let mut c = Conn::default();
        let answer = c.request(&t, Method::GET, "/", Bytes::new(), Duration::from_millis(200)).await;
        assert_eq!(answer, Err(Failure::Timeout));
        let (read, waited) = server.await.unwrap();
        assert_eq!(read, Ok(0), "the client closed its socket (EOF), not left it open for the late answer");
        assert!(waited < Duration::from_secs(2), "closed {waited:?} after the request");
    }
}
