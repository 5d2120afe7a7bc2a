//! The load engine's HTTP client: HTTP/1.1 keep-alive connections spoken directly on a `TcpStream`, as wrk
//! does, instead of through a general-purpose client. The target URL is parsed and its host resolved once; a
//! request is one write and the reads of its answer on a connection the caller owns (the closed loop's
//! workers and the open model's connection workers each hold one). A connection that
//! failed or timed out is dropped and the next request opens a new one, so every request is bounded by the
//! timeout, connecting included.
//!
//! Why not hyper's client connections (the engine used them before): each one costs a driving task, a
//! dispatch channel and two buffers, about 30 KiB, and a saturated drill holds thousands of them in flight.
//! Here a connection is its socket and one small buffer; answers are parsed with `httparse` and their bodies
//! (Content-Length, chunked, or to the end of the connection) are counted and discarded, unless the caller
//! asks to keep one ([`Body`]: a workload's `body_contains`, a read-back's JSON), decoded and capped.
//! An `https://` target's connections are TLS streams over the same sockets ([`super::tls`]): the probes
//! see no difference.

use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::Method;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;

use super::classify;
use super::tls::{Tls, TlsError, TlsOptions};
use super::ProbeError;
use crate::target::{HttpUrl, Reach, UrlError};
use crate::timeline::Failure;

/// Where requests go: the target's socket address, its `Host` header, the path prefix of its URL, and for an
/// `https://` URL the TLS setup its connections share.
#[derive(Debug, Clone)]
pub struct Target {
    url: String,
    addr: SocketAddr,
    /// The `Host` header's value: the URL's authority unless overridden ([`Target::with_host`]).
    host: String,
    /// The URL's path and query, without a trailing `/` when it is only `/`.
    base_path: String,
    tls: Option<Tls>,
    /// The URL's host, the default TLS server name.
    url_host: String,
}

impl Target {
    /// Parses an `http[s]://host[:port][/path]` URL on this machine (see [`crate::target`]) and fixes its
    /// address; an `https://` one trusts the system's CA bundle (see [`Target::with_tls`]).
    pub async fn resolve(url: &str) -> Result<Target, ProbeError> {
        let checked = HttpUrl::parse(url, Reach::Loopback)?;
        let target = Target::checked(&checked).await?;
        if checked.is_https() {
            return Ok(target.with_tls(&TlsOptions::default())?);
        }
        Ok(target)
    }

    /// The target of a URL already checked: requests go to exactly the address that was checked. An
    /// `https://` URL needs [`Target::with_tls`] before its first request.
    pub async fn checked(url: &HttpUrl) -> Result<Target, UrlError> {
        let addr = url.socket_addr().await?;
        let path = url.path_and_query();
        let base_path = if path == "/" { String::new() } else { path };
        let url_text = url.as_str().trim_end_matches('/').to_owned();
        let url_host = url.host_text();
        Ok(Target { url: url_text, addr, host: url.authority(), base_path, tls: None, url_host })
    }

    /// Speaks TLS on this target's connections, trusted and named as `options` say. Only for `https://`
    /// URLs: a plain `http://` URL keeps plain connections.
    pub fn with_tls(mut self, options: &TlsOptions) -> Result<Target, TlsError> {
        if self.url.starts_with("https://") {
            self.tls = Some(Tls::new(options, &self.url_host)?);
        }
        Ok(self)
    }

    /// Sends `host` as the `Host` header instead of the URL's authority (a virtual host behind the port).
    pub fn with_host(mut self, host: Option<&str>) -> Target {
        if let Some(h) = host {
            self.host = h.to_owned();
        }
        self
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

/// An open connection: the socket itself, or a TLS session over it.
enum Stream {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

impl Stream {
    fn socket(&self) -> &TcpStream {
        match self {
            Stream::Plain(s) => s,
            Stream::Tls(s) => s.get_ref().0,
        }
    }
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// One keep-alive connection, opened on first use and again after a failure. The answer is read through
/// [`AsyncRead`] only, so a TLS stream takes the socket's place for `https://` targets.
#[derive(Default)]
pub struct Conn {
    stream: Option<Stream>,
    /// The request being written, then the answer being read: reused from one request to the next.
    buf: Vec<u8>,
}

/// What an answered request returned.
pub type Answer = Result<u16, Failure>;

/// The most a status line and headers may take; a longer head is not an HTTP answer this engine accepts.
const MAX_HEAD: usize = 64 * 1024;
/// The buffer a connection starts with and keeps: load answers are small, a longer one takes more reads.
const BUF: usize = 2048;
/// The most of an answer's body kept for a workload's `body_contains`.
pub const MAX_CHECKED_BODY: usize = 64 * 1024;

/// An answer's body as the caller keeps it: chunk framing removed, at most `max` bytes; `cut` when more came.
#[derive(Debug, Default)]
pub struct Body {
    pub bytes: Vec<u8>,
    max: usize,
    cut: bool,
}

impl Body {
    /// Keeps at most `max` bytes of the next answer's body.
    pub fn upto(max: usize) -> Body {
        Body { bytes: Vec::new(), max, cut: false }
    }

    /// Whether the body was longer than the bytes kept.
    pub fn cut(&self) -> bool {
        self.cut
    }

    fn push(&mut self, data: &[u8]) {
        let room = self.max.saturating_sub(self.bytes.len());
        self.cut |= data.len() > room;
        self.bytes.extend_from_slice(&data[..data.len().min(room)]);
    }
}

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
        self.request_with(target, method, path, &[], body, None, timeout).await
    }

    /// [`Conn::request`] with `extra` header lines (each ending in CRLF) and, with `sink`, the answer's body
    /// kept there (decoded, up to the sink's cap).
    #[allow(clippy::too_many_arguments)]
    pub async fn request_with(
        &mut self,
        target: &Target,
        method: Method,
        path: &str,
        extra: &[u8],
        body: Bytes,
        sink: Option<&mut Body>,
        timeout: Duration,
    ) -> Answer {
        let exchange = self.exchange(target, &method, path, extra, &body, sink, timeout);
        match tokio::time::timeout(timeout, exchange).await {
            Ok(Ok((code, reusable))) => {
                if !reusable {
                    self.discard();
                }
                Ok(code)
            }
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

    /// Closes the connection: the next request opens a new one.
    pub fn close(&mut self) {
        self.discard();
    }

    /// Closes the socket (at once: a timed-out request's server sees the close) and drops a buffer that a
    /// long answer made large.
    fn discard(&mut self) {
        self.stream = None;
        if self.buf.capacity() > BUF {
            self.buf = Vec::new();
        }
    }

    /// One request and its answer: the status code, and whether the connection can carry another request.
    #[allow(clippy::too_many_arguments)]
    async fn exchange(
        &mut self,
        target: &Target,
        method: &Method,
        path: &str,
        extra: &[u8],
        body: &[u8],
        sink: Option<&mut Body>,
        timeout: Duration,
    ) -> Result<(u16, bool), Failure> {
        if self.stream.as_ref().is_some_and(|s| !idle_and_open(s.socket())) {
            self.stream = None;
        }
        let stream = match &mut self.stream {
            Some(s) => s,
            None => self.stream.insert(connect(target, timeout).await?),
        };
        self.buf.clear();
        self.buf.reserve(BUF);
        write_head(&mut self.buf, target, method, path, body.len());
        // The extra header lines go before the head's closing CRLF.
        self.buf.truncate(self.buf.len() - 2);
        self.buf.extend_from_slice(extra);
        self.buf.extend_from_slice(b"\r\n");
        self.buf.extend_from_slice(body);
        stream.write_all(&self.buf).await.map_err(|e| classify::io_kind(e.kind()))?;
        self.buf.clear();
        read_answer(stream, &mut self.buf, sink).await
    }
}

/// Whether a kept-alive connection can be reused: the server has neither closed it (a read would see the
/// end) nor sent anything unasked. Does not wait.
fn idle_and_open(stream: &TcpStream) -> bool {
    let mut probe = [0u8; 1];
    matches!(stream.try_read(&mut probe), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
}

/// The request line and headers. A body is announced with Content-Length, and so is an empty one on the
/// methods that normally carry one.
fn write_head(buf: &mut Vec<u8>, target: &Target, method: &Method, path: &str, body_len: usize) {
    use std::io::Write;
    let _ = write!(buf, "{method} {path} HTTP/1.1\r\nhost: {}\r\n", target.host);
    if body_len > 0 || matches!(*method, Method::PUT | Method::POST | Method::PATCH) {
        let _ = write!(buf, "content-length: {body_len}\r\n");
    }
    buf.extend_from_slice(b"\r\n");
}

/// Reads more of the answer into `buf`; the connection's end here is a reset (the answer was cut short).
async fn fill<S: AsyncRead + Unpin>(stream: &mut S, buf: &mut Vec<u8>) -> Result<usize, Failure> {
    if buf.capacity() - buf.len() < BUF / 2 {
        buf.reserve(BUF);
    }
    match stream.read_buf(buf).await {
        Ok(0) => Err(Failure::Reset),
        Ok(n) => Ok(n),
        Err(e) => Err(classify::io_kind(e.kind())),
    }
}

/// How an answer's body ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    Empty,
    Length(u64),
    Chunked,
    /// No length given: the body runs to the end of the connection.
    UntilClose,
}

/// An answer's head: its status, how its body ends, whether the connection stays open after it.
#[derive(Debug, PartialEq, Eq)]
struct Head {
    code: u16,
    framing: Framing,
    keep_alive: bool,
    /// Bytes the status line and headers took.
    len: usize,
}

/// Parses a status line and headers; `None` until they are all in `buf`.
fn parse_head(buf: &[u8]) -> Result<Option<Head>, Failure> {
    let mut headers = [httparse::EMPTY_HEADER; 48];
    let mut resp = httparse::Response::new(&mut headers);
    let len = match resp.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) if buf.len() < MAX_HEAD => return Ok(None),
        _ => return Err(Failure::Transport),
    };
    let code = resp.code.ok_or(Failure::Transport)?;
    let mut keep_alive = resp.version == Some(1);
    let (mut length, mut chunked) = (None, false);
    for h in resp.headers.iter() {
        let value = std::str::from_utf8(h.value).map_err(|_| Failure::Transport)?.trim();
        if h.name.eq_ignore_ascii_case("content-length") {
            length = Some(value.parse::<u64>().map_err(|_| Failure::Transport)?);
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = value.rsplit(',').next().is_some_and(|t| t.trim().eq_ignore_ascii_case("chunked"));
        } else if h.name.eq_ignore_ascii_case("connection") {
            if value.split(',').any(|t| t.trim().eq_ignore_ascii_case("close")) {
                keep_alive = false;
            } else if value.split(',').any(|t| t.trim().eq_ignore_ascii_case("keep-alive")) {
                keep_alive = true;
            }
        }
    }
    let framing = match (code, chunked, length) {
        (100..=199 | 204 | 304, _, _) => Framing::Empty,
        (_, true, _) => Framing::Chunked,
        (_, false, Some(n)) => Framing::Length(n),
        (_, false, None) => Framing::UntilClose,
    };
    let keep_alive = keep_alive && framing != Framing::UntilClose;
    Ok(Some(Head { code, framing, keep_alive, len }))
}

/// Reads an answer to its end, its body discarded or kept in `sink`: its status, and whether the connection
/// can be reused.
async fn read_answer<S: AsyncRead + Unpin>(
    stream: &mut S,
    buf: &mut Vec<u8>,
    mut sink: Option<&mut Body>,
) -> Result<(u16, bool), Failure> {
    let keep = |sink: &mut Option<&mut Body>, data: &[u8]| {
        if let Some(out) = sink.as_deref_mut() {
            out.push(data);
        }
    };
    let head = loop {
        match parse_head(buf)? {
            // An interim answer (100 Continue): the real one follows.
            Some(h) if (100..200).contains(&h.code) => {
                if h.code == 101 {
                    return Err(Failure::Transport);
                }
                buf.drain(..h.len);
            }
            Some(h) => break h,
            None => {
                fill(stream, buf).await?;
            }
        }
    };
    let rest = buf.len() - head.len;
    let clean = match head.framing {
        Framing::Empty => rest == 0,
        Framing::Length(n) => {
            let mut have = rest as u64;
            keep(&mut sink, &buf[head.len..]);
            while have < n {
                buf.clear();
                have += fill(stream, buf).await? as u64;
                keep(&mut sink, buf);
            }
            have == n
        }
        Framing::Chunked => {
            let mut decoder = Chunked::default();
            let mut at = head.len;
            loop {
                if let Some(used) = decoder.feed_into(&buf[at..], sink.as_deref_mut())? {
                    break at + used == buf.len();
                }
                buf.clear();
                at = 0;
                fill(stream, buf).await?;
            }
        }
        Framing::UntilClose => {
            keep(&mut sink, &buf[head.len..]);
            loop {
                buf.clear();
                match fill(stream, buf).await {
                    Ok(_) => {
                        keep(&mut sink, buf);
                        continue;
                    }
                    Err(Failure::Reset) => break,
                    Err(other) => return Err(other),
                }
            }
            false
        }
    };
    // Bytes beyond the answer were never asked for: the connection is not trusted with another request.
    Ok((head.code, head.keep_alive && clean))
}

/// Where a chunked body's decoder is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum ChunkState {
    /// In a chunk-size line's hex digits.
    #[default]
    Size,
    /// In a chunk extension, up to the end of the line.
    Extension,
    /// Skipping this many bytes of chunk data.
    Data(u64),
    /// The CR, then the LF, after a chunk's data.
    DataCr,
    DataLf,
    /// In the trailer, after the last (empty) chunk; `true` at the start of a line.
    Trailer(bool),
}

/// Follows a chunked body, keeping its data only when asked.
#[derive(Debug, Default)]
struct Chunked {
    state: ChunkState,
    size: u64,
}

impl Chunked {
    /// Consumes `data`: `Some(n)` when the body ended after its first `n` bytes, `None` when more is needed.
    #[cfg(test)]
    fn feed(&mut self, data: &[u8]) -> Result<Option<usize>, Failure> {
        self.feed_into(data, None)
    }

    /// [`Chunked::feed`], the chunks' data (without their framing) appended to `out`.
    fn feed_into(&mut self, data: &[u8], mut out: Option<&mut Body>) -> Result<Option<usize>, Failure> {
        let mut i = 0;
        while i < data.len() {
            let b = data[i];
            match self.state {
                ChunkState::Size => match b {
                    b'0'..=b'9' | b'a'..=b'f' | b'A'..=b'F' => {
                        let digit = (b as char).to_digit(16).unwrap_or(0) as u64;
                        self.size = self.size.checked_mul(16).ok_or(Failure::Transport)? + digit;
                    }
                    b';' | b' ' | b'\t' => self.state = ChunkState::Extension,
                    b'\r' => {}
                    b'\n' => self.end_of_size_line(),
                    _ => return Err(Failure::Transport),
                },
                ChunkState::Extension => {
                    if b == b'\n' {
                        self.end_of_size_line();
                    }
                }
                ChunkState::Data(left) => {
                    let take = left.min((data.len() - i) as u64);
                    if let Some(out) = out.as_deref_mut() {
                        out.push(&data[i..i + take as usize]);
                    }
                    i += take as usize;
                    self.state =
                        if take == left { ChunkState::DataCr } else { ChunkState::Data(left - take) };
                    continue;
                }
                ChunkState::DataCr if b == b'\r' => self.state = ChunkState::DataLf,
                ChunkState::DataCr | ChunkState::DataLf if b == b'\n' => self.state = ChunkState::Size,
                ChunkState::DataCr | ChunkState::DataLf => return Err(Failure::Transport),
                ChunkState::Trailer(line_start) => match b {
                    b'\n' if line_start => return Ok(Some(i + 1)),
                    b'\n' => self.state = ChunkState::Trailer(true),
                    b'\r' => {}
                    _ => self.state = ChunkState::Trailer(false),
                },
            }
            i += 1;
        }
        Ok(None)
    }

    fn end_of_size_line(&mut self) {
        self.state = if self.size == 0 { ChunkState::Trailer(true) } else { ChunkState::Data(self.size) };
        self.size = 0;
    }
}

/// Opens a connection (and its TLS session), bounded by the smaller of `timeout` and one second (a
/// black-holed connect is a timeout either way, and the next request retries sooner).
async fn connect(target: &Target, timeout: Duration) -> Result<Stream, Failure> {
    let limit = timeout.min(Duration::from_secs(1));
    let open = async {
        let s = TcpStream::connect(target.addr).await.map_err(|e| classify::io_kind(e.kind()))?;
        let _ = s.set_nodelay(true);
        match &target.tls {
            None => Ok(Stream::Plain(s)),
            Some(tls) => Ok(Stream::Tls(Box::new(tls.handshake(s).await?))),
        }
    };
    tokio::time::timeout(limit, open).await.unwrap_or(Err(Failure::Timeout))
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
        assert!(Target::resolve("ftp://127.0.0.1/").await.unwrap_err().to_string().contains("https://"));
        assert!(Target::resolve("https://127.0.0.1/").await.unwrap().tls.is_some());
        assert!(t.tls.is_none());
        assert!(Target::resolve("http://127.0.0.1:80@10.0.0.1/")
            .await
            .unwrap_err()
            .to_string()
            .contains("user"));
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
        assert!(c.stream.is_none());
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

    #[test]
    fn chunked_bodies_end_where_they_end_however_they_are_split() {
        let body = b"4;ext=1\r\nwiki\r\n5\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nx-trailer: 1\r\n\r\n";
        for split in 0..=body.len() {
            let mut d = Chunked::default();
            let first = d.feed(&body[..split]).unwrap();
            let end = match first {
                Some(n) => n,
                None => split + d.feed(&body[split..]).unwrap().expect("the body ends in the second part"),
            };
            assert_eq!(end, body.len(), "split at {split}");
        }
        let mut d = Chunked::default();
        assert_eq!(d.feed(b"0\r\n\r\nHTTP/1.1").unwrap(), Some(5), "bytes after the body are not consumed");
        assert_eq!(Chunked::default().feed(b"zz\r\n"), Err(Failure::Transport));
        assert_eq!(Chunked::default().feed(b"2\r\nokXX"), Err(Failure::Transport));
    }

    #[test]
    fn heads_give_status_framing_and_keep_alive() {
        let head = |s: &str| parse_head(s.as_bytes()).unwrap().unwrap();
        let h = head("HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\nhello");
        assert_eq!((h.code, h.framing, h.keep_alive, h.len), (200, Framing::Length(12), true, 39));
        let h = head("HTTP/1.1 503 Service Unavailable\r\ntransfer-encoding: gzip, chunked\r\nconnection: close\r\n\r\n");
        assert_eq!((h.code, h.framing, h.keep_alive), (503, Framing::Chunked, false));
        assert!(!head("HTTP/1.0 200 OK\r\ncontent-length: 0\r\n\r\n").keep_alive);
        assert!(head("HTTP/1.0 200 OK\r\nconnection: keep-alive\r\ncontent-length: 0\r\n\r\n").keep_alive);
        let h = head("HTTP/1.1 200 OK\r\n\r\n");
        assert_eq!((h.framing, h.keep_alive), (Framing::UntilClose, false));
        assert_eq!(head("HTTP/1.1 204 No Content\r\ncontent-length: 9\r\n\r\n").framing, Framing::Empty);
        assert_eq!(parse_head(b"HTTP/1.1 200 OK\r\ncontent-le").unwrap(), None);
        assert_eq!(parse_head(b"SSH-2.0-OpenSSH\r\n\r\n"), Err(Failure::Transport));
        assert_eq!(parse_head(b"HTTP/1.1 200 OK\r\ncontent-length: x\r\n\r\n"), Err(Failure::Transport));
    }

    #[tokio::test]
    async fn chunked_interim_and_closing_answers_over_a_socket() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        // First connection: a 100 Continue then a chunked 201 sent in pieces, then an answer that closes the
        // connection. Second connection: a body without a length, ended by the close.
        let server = tokio::spawn(async move {
            let mut buf = vec![0u8; 4096];
            let (mut s, _) = listener.accept().await.unwrap();
            let n = s.read(&mut buf).await.unwrap();
            assert!(std::str::from_utf8(&buf[..n]).unwrap().starts_with("PUT /kv/a HTTP/1.1\r\n"));
            assert!(std::str::from_utf8(&buf[..n]).unwrap().contains("content-length: 0\r\n"));
            s.write_all(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\ntransfer-encoding: chunked\r\n\r\n3\r\nab")
                .await
                .unwrap();
            tokio::time::sleep(Duration::from_millis(20)).await;
            s.write_all(b"c\r\n0\r\n\r\n").await.unwrap();
            let _ = s.read(&mut buf).await.unwrap();
            s.write_all(b"HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 2\r\n\r\nok")
                .await
                .unwrap();
            let (mut s, _) = listener.accept().await.unwrap();
            let _ = s.read(&mut buf).await.unwrap();
            s.write_all(b"HTTP/1.1 202 Accepted\r\n\r\nuntil the end").await.unwrap();
        });
        let t = Target::resolve(&format!("http://127.0.0.1:{port}")).await.unwrap();
        let mut c = Conn::default();
        let timeout = Duration::from_secs(2);
        assert_eq!(c.request(&t, Method::PUT, "/kv/a", Bytes::new(), timeout).await, Ok(201));
        assert!(c.stream.is_some(), "a complete chunked answer keeps the connection");
        assert_eq!(c.request(&t, Method::GET, "/", Bytes::new(), timeout).await, Ok(200));
        assert!(c.stream.is_none(), "connection: close is honoured");
        assert_eq!(c.request(&t, Method::GET, "/", Bytes::new(), timeout).await, Ok(202));
        assert!(c.stream.is_none());
        server.await.unwrap();
    }
}

#[cfg(test)]
#[path = "http1_props.rs"]
mod props;
