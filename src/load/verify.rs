//! The read-back after a drill: retried until a deadline, the probes share [`retry_until`]; and the demo
//! service's bulk read (`GET /kv?prefix=P&after=K&limit=N`) of every key the key-value probe wrote, on the
//! engine's own connections (an `https://` target reads back with the load's TLS and `Host` settings). A
//! read-back that never succeeds yields [`Verification::Failed`]: RPO unknown, never 0.
//!
//! A read-back in many steps (the bulk read's pages, one GET per key) is held to `verify_timeout` *without
//! progress*, not in total, and resumes where a failed step left off: a soak drill's million keys take longer
//! than any fixed limit, and one slow page at its end must not throw away the pages already read (a 1-hour
//! drill's 905,595 keys did not fit in 60 s at a load average of 40, and RPO came out unknown).

use std::time::{Duration, Instant};

use bytes::Bytes;
use http::Method;
use serde::Deserialize;

use super::http1::{Body, Conn, Target};
use super::keys::seq_of;
use super::ProbeError;
use crate::timeline::{SeqSet, SeqSetBuilder, Verification};

const PAGE: usize = 5000;
/// How long one page of the bulk read may take.
const PAGE_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest page answer read: `PAGE` items of a few hundred bytes each, with room to spare.
const MAX_PAGE_BODY: usize = 16 << 20;

#[derive(Deserialize)]
struct Page {
    items: Vec<Item>,
    next: Option<String>,
}

#[derive(Deserialize)]
struct Item {
    k: String,
}

/// Reads back every key under `prefix` from `target` (the load's own, already checked to be on this
/// machine), page after page; a failed page is asked again every 500 ms, and the read gives up when no page
/// has come back for `limit`.
pub async fn read_back(target: &Target, prefix: &str, limit: Duration) -> Verification {
    let mut conn = Conn::default();
    let mut found = SeqSetBuilder::default();
    let mut after = String::new();
    let mut patience = Patience::new(limit);
    loop {
        match read_page(&mut conn, target, prefix, &after).await {
            Ok(page) => {
                patience.progressed();
                found.extend(page.items.iter().filter_map(|it| seq_of(prefix, &it.k)));
                match page.next {
                    Some(n) if n > after => after = n,
                    Some(n) => {
                        let why = format!("the page after {after:?} ends at {n:?}, not past it");
                        return Verification::Failed(format!(
                            "read-back through the service's bulk read: {why}"
                        ));
                    }
                    None => return Verification::Read(found.build()),
                }
            }
            Err(e) if patience.exhausted() => {
                return Verification::Failed(format!(
                    "read-back through the service's bulk read made no progress for {}s ({} keys read): {e}",
                    limit.as_secs(),
                    found.len()
                ))
            }
            Err(_) => {
                conn = Conn::default();
                tokio::time::sleep(RETRY_EVERY).await;
            }
        }
    }
}

/// How long a read-back waits before asking again after a failure.
pub const RETRY_EVERY: Duration = Duration::from_millis(500);

/// A read-back's limit, counted from its last step forward (a page, a key read), not from its start.
#[derive(Debug)]
pub struct Patience {
    limit: Duration,
    last: Instant,
}

impl Patience {
    pub fn new(limit: Duration) -> Patience {
        Patience { limit, last: Instant::now() }
    }

    /// A step succeeded: the limit starts again.
    pub fn progressed(&mut self) {
        self.last = Instant::now();
    }

    /// Whether `limit` has passed since the last step forward.
    pub fn exhausted(&self) -> bool {
        self.last.elapsed() >= self.limit
    }
}

/// Retries a complete read-back every 500 ms until it succeeds or `limit` has passed; the probes share it.
pub async fn retry_until<F, Fut>(limit: Duration, what: &str, mut attempt: F) -> Verification
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<SeqSet, ProbeError>>,
{
    let patience = Patience::new(limit);
    loop {
        let last_err = match attempt().await {
            Ok(found) => return Verification::Read(found),
            Err(e) => e,
        };
        if patience.exhausted() {
            return Verification::Failed(format!(
                "read-back through {what} did not succeed within {}s: {last_err}",
                limit.as_secs()
            ));
        }
        tokio::time::sleep(RETRY_EVERY).await;
    }
}

/// One page of the bulk read: the keys under `prefix` after `after`.
async fn read_page(conn: &mut Conn, target: &Target, prefix: &str, after: &str) -> Result<Page, ProbeError> {
    let what = "bulk read";
    let query: String = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("prefix", prefix)
        .append_pair("after", after)
        .append_pair("limit", &PAGE.to_string())
        .finish();
    let path = target.path(&format!("/kv?{query}"));
    let mut body = Body::upto(MAX_PAGE_BODY);
    let answer =
        conn.request_with(target, Method::GET, &path, &[], Bytes::new(), Some(&mut body), PAGE_TIMEOUT).await;
    let text = || String::from_utf8_lossy(&body.bytes[..body.bytes.len().min(200)]).into_owned();
    match answer {
        Ok(code) if (200..300).contains(&code) && !body.cut() => {}
        Ok(code) if (200..300).contains(&code) => {
            let most = crate::units::human_bytes(MAX_PAGE_BODY as u64);
            return Err(ProbeError::Answer { what, answer: format!("a page larger than {most}") });
        }
        Ok(code) => return Err(ProbeError::Answer { what, answer: format!("{code}: {}", text()) }),
        Err(f) => return Err(ProbeError::Answer { what, answer: f.label().to_owned() }),
    }
    serde_json::from_slice(&body.bytes)
        .map_err(|e| ProbeError::Answer { what, answer: format!("not a page of keys: {e}") })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A server answering the requests it gets, on any number of connections, with `replies` in turn (the
    /// last one again when they run out), closing the connection after a non-2xx; returns the request lines.
    pub(crate) async fn scripted(replies: Vec<String>) -> (Target, Arc<Mutex<Vec<String>>>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        tokio::spawn(async move {
            let mut n = 0;
            while let Ok((mut s, _)) = listener.accept().await {
                let mut buf = vec![0u8; 8192];
                while let Ok(got) = s.read(&mut buf).await {
                    if got == 0 {
                        break;
                    }
                    let text = String::from_utf8_lossy(&buf[..got]).into_owned();
                    log.lock().unwrap().push(text.lines().next().unwrap_or("").to_owned());
                    let reply = &replies[n.min(replies.len() - 1)];
                    n += 1;
                    s.write_all(reply.as_bytes()).await.unwrap();
                    if !reply.starts_with("HTTP/1.1 2") {
                        break;
                    }
                }
            }
        });
        (Target::resolve(&format!("http://127.0.0.1:{port}")).await.unwrap(), seen)
    }

    fn page(keys: &[&str], next: Option<&str>) -> String {
        let items: Vec<String> = keys.iter().map(|k| format!("{{\"k\":\"{k}\",\"v\":\"1\"}}")).collect();
        let next = next.map_or("null".to_owned(), |n| format!("\"{n}\""));
        let body = format!("{{\"items\":[{}],\"next\":{next}}}", items.join(","));
        format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n{body}", body.len())
    }

    pub(crate) const UNAVAILABLE: &str =
        "HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\nconnection: close\r\n\r\n";

    #[tokio::test]
    async fn a_failed_page_is_asked_again_and_the_pages_already_read_are_kept() {
        let (target, seen) = scripted(vec![
            page(&["p-0000000001", "p-0000000002"], Some("p-0000000002")),
            UNAVAILABLE.into(),
            UNAVAILABLE.into(),
            page(&["p-0000000005"], None),
        ])
        .await;
        let v = read_back(&target, "p-", Duration::from_secs(5)).await;
        assert_eq!(v, Verification::Read(SeqSet::from([1, 2, 5])));
        let seen = seen.lock().unwrap().clone();
        assert_eq!(seen.len(), 4, "{seen:?}");
        assert!(seen[0].contains("after=&"), "{}", seen[0]);
        assert!(
            seen[1..].iter().all(|l| l.contains("after=p-0000000002")),
            "resumed, not restarted: {seen:?}"
        );
    }

    #[tokio::test]
    async fn the_limit_counts_from_the_last_page_read_not_from_the_start() {
        // Every page is slow to come (it fails twice first, 1 s of retries), and the whole read takes longer
        // than the 1.5 s limit, but no stall is that long: the read finishes.
        let mut replies = Vec::new();
        for i in 1..=3u32 {
            replies.push(UNAVAILABLE.to_owned());
            replies.push(UNAVAILABLE.to_owned());
            let key = format!("p-{i:010}");
            replies.push(page(&[&key], (i < 3).then_some(key.as_str())));
        }
        let (target, _) = scripted(replies).await;
        let began = Instant::now();
        let v = read_back(&target, "p-", Duration::from_millis(1500)).await;
        assert!(began.elapsed() > Duration::from_millis(2500), "{:?}", began.elapsed());
        assert_eq!(v, Verification::Read(SeqSet::from([1, 2, 3])));
    }

    #[tokio::test]
    async fn a_stall_as_long_as_the_limit_ends_the_read_with_the_count_so_far() {
        let (target, _) =
            scripted(vec![page(&["p-0000000001"], Some("p-0000000001")), UNAVAILABLE.into()]).await;
        match read_back(&target, "p-", Duration::from_secs(1)).await {
            Verification::Failed(why) => {
                assert!(why.contains("made no progress for 1s (1 keys read)"), "{why}");
                assert!(why.contains("503"), "{why}");
            }
            other => panic!("{other:?}"),
        }
    }
}
