//! The read-back after a drill: retried until a deadline, the probes share [`retry_until`]; and the demo
//! service's bulk read (`GET /kv?prefix=P&after=K&limit=N`) of every key the key-value probe wrote, on the
//! engine's own connections (an `https://` target reads back with the load's TLS and `Host` settings). A
//! read-back that never succeeds yields [`Verification::Failed`]: RPO unknown, never 0.

use std::time::{Duration, Instant};

use bytes::Bytes;
use http::Method;
use serde::Deserialize;

use super::http1::{Body, Conn, Target};
use super::keys::seq_of;
use super::ProbeError;
use crate::timeline::{SeqSet, Verification};

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
/// machine), retrying the whole read until `limit` has passed.
pub async fn read_back(target: &Target, prefix: &str, limit: Duration) -> Verification {
    retry_until(limit, "the service's bulk read", || read_all(target, prefix)).await
}

/// Retries a complete read-back every 500 ms until it succeeds or `limit` has passed; the probes share it.
pub async fn retry_until<F, Fut>(limit: Duration, what: &str, mut attempt: F) -> Verification
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<SeqSet, ProbeError>>,
{
    let deadline = Instant::now() + limit;
    loop {
        let last_err = match attempt().await {
            Ok(found) => return Verification::Read(found),
            Err(e) => e,
        };
        if Instant::now() >= deadline {
            return Verification::Failed(format!(
                "read-back through {what} did not succeed within {}s: {last_err}",
                limit.as_secs()
            ));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

async fn read_all(target: &Target, prefix: &str) -> Result<SeqSet, ProbeError> {
    let what = "bulk read";
    let mut conn = Conn::default();
    let mut found = Vec::new();
    let mut after = String::new();
    loop {
        let query: String = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("prefix", prefix)
            .append_pair("after", &after)
            .append_pair("limit", &PAGE.to_string())
            .finish();
        let path = target.path(&format!("/kv?{query}"));
        let mut body = Body::upto(MAX_PAGE_BODY);
        let answer = conn
            .request_with(target, Method::GET, &path, &[], Bytes::new(), Some(&mut body), PAGE_TIMEOUT)
            .await;
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
        let page: Page = serde_json::from_slice(&body.bytes)
            .map_err(|e| ProbeError::Answer { what, answer: format!("not a page of keys: {e}") })?;
        for it in &page.items {
            if let Some(seq) = seq_of(prefix, &it.k) {
                found.push(seq);
            }
        }
        match page.next {
            Some(n) => after = n,
            None => return Ok(SeqSet::from(found)),
        }
    }
}
