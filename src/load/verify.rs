//! The read-back after a drill: retried until a deadline, the probes share [`retry_until`]; and the demo
//! service's bulk read (`GET /kv?prefix=P&after=K&limit=N`) of every key the key-value probe wrote. A
//! read-back that never succeeds yields [`Verification::Failed`]: RPO unknown, never 0.

use std::time::{Duration, Instant};

use serde::Deserialize;

use super::keys::seq_of;
use super::ProbeError;
use crate::timeline::{SeqSet, Verification};

const PAGE: usize = 5000;

#[derive(Deserialize)]
struct Page {
    items: Vec<Item>,
    next: Option<String>,
}

#[derive(Deserialize)]
struct Item {
    k: String,
}

/// Reads back every key under `prefix`, retrying the whole read until `deadline` passes.
pub async fn read_back(base_url: &str, prefix: &str, limit: Duration) -> Verification {
    if let Err(e) = crate::target::HttpUrl::parse(base_url, crate::target::Reach::Loopback) {
        return Verification::Failed(format!("read-back refused: {e}"));
    }
    let client = crate::http::client(Duration::from_secs(10), 4);
    retry_until(limit, "the service's bulk read", || read_all(&client, base_url, prefix)).await
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

async fn read_all(client: &reqwest::Client, base_url: &str, prefix: &str) -> Result<SeqSet, ProbeError> {
    let mut found = Vec::new();
    let mut after = String::new();
    loop {
        let resp = client
            .get(format!("{base_url}/kv"))
            .query(&[("prefix", prefix), ("after", after.as_str()), ("limit", &PAGE.to_string())])
            .send()
            .await
            .map_err(|source| ProbeError::Http { what: "bulk read", source })?;
        if !resp.status().is_success() {
            let code = resp.status();
            let answer = format!("{code}: {}", resp.text().await.unwrap_or_default());
            return Err(ProbeError::Answer { what: "bulk read", answer });
        }
        let page: Page =
            resp.json().await.map_err(|source| ProbeError::Http { what: "bulk read", source })?;
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
