//! HTTP routes: health (database writable, and optionally disk space), key-value reads and writes, a bulk read
//! for verifiers, `whoami`, and the admin outage.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query, Request, State as AxState};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Serialize;

use crate::db::{Db, DbError};
use crate::outage::{now_ms, Outage};

/// Largest page the bulk read returns.
const MAX_PAGE: i64 = 10_000;

#[derive(Clone)]
pub struct State {
    inner: Arc<Inner>,
}

struct Inner {
    instance: String,
    db: Arc<Db>,
    admin: bool,
    outage: Outage,
    disk: Option<DiskCheck>,
    drain: crate::drain::Drain,
}

/// `/health` fails when the data directory's filesystem has less than `min_free` bytes available, as Home
/// Registry's health check reports `disk_space` (seed 002).
#[derive(Debug, Clone)]
pub struct DiskCheck {
    pub dir: std::path::PathBuf,
    pub min_free: u64,
}

impl State {
    pub fn new(
        instance: String,
        db: Arc<Db>,
        admin: bool,
        disk: Option<DiskCheck>,
        drain: crate::drain::Drain,
    ) -> State {
        State { inner: Arc::new(Inner { instance, db, admin, outage: Outage::default(), disk, drain }) }
    }
}

/// Bytes available to an unprivileged process on the filesystem of `dir` (`statvfs`'s `f_bavail`).
fn available_bytes(dir: &std::path::Path) -> std::io::Result<u64> {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(dir.as_os_str().as_bytes())
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `path` is a NUL-terminated string and `st` a statvfs the call fills in.
    if unsafe { libc::statvfs(path.as_ptr(), &mut st) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(st.f_bavail as u64 * st.f_frsize as u64)
}

pub fn router(state: State) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/whoami", get(whoami))
        .route("/kv", get(scan))
        .route("/kv/{key}", get(get_key).put(put_key))
        .route("/admin/outage", post(outage))
        .layer(middleware::from_fn_with_state(state.clone(), outage_gate))
        .layer(middleware::from_fn_with_state(state.inner.drain.clone(), crate::drain::close_connections))
        .with_state(state)
}

fn db_error(e: DbError) -> Response {
    (StatusCode::SERVICE_UNAVAILABLE, e.to_string()).into_response()
}

/// Answers 503 to everything but `/health` and `/admin` while a ground-truth outage is on. `/health` stays true
/// so that the load balancer keeps the instance: the outage the clients see is exactly the window.
async fn outage_gate(AxState(s): AxState<State>, req: Request, next: Next) -> Response {
    let path = req.uri().path();
    if s.inner.admin && path != "/health" && !path.starts_with("/admin") && s.inner.outage.active(now_ms()) {
        return (StatusCode::SERVICE_UNAVAILABLE, "ground-truth outage").into_response();
    }
    next.run(req).await
}

async fn health(AxState(s): AxState<State>) -> Response {
    if s.inner.drain.active() {
        return (StatusCode::SERVICE_UNAVAILABLE, "draining: stopping").into_response();
    }
    if let Some(d) = &s.inner.disk {
        match available_bytes(&d.dir) {
            Ok(free) if free < d.min_free => {
                let msg =
                    format!("disk full: {free} bytes available in {}, below {}", d.dir.display(), d.min_free);
                return (StatusCode::SERVICE_UNAVAILABLE, msg).into_response();
            }
            Ok(_) => {}
            Err(e) => {
                let msg = format!("disk check of {} failed: {e}", d.dir.display());
                return (StatusCode::SERVICE_UNAVAILABLE, msg).into_response();
            }
        }
    }
    let instance = s.inner.instance.clone();
    let r = s.inner.db.with(|c| async move { c.client.execute(&c.health, &[&instance]).await }).await;
    match r {
        Ok(_) => (StatusCode::OK, "ok").into_response(),
        Err(e) => db_error(e),
    }
}

async fn whoami(AxState(s): AxState<State>) -> String {
    s.inner.instance.clone()
}

async fn put_key(AxState(s): AxState<State>, Path(key): Path<String>, body: String) -> Response {
    let instance = s.inner.instance.clone();
    let r =
        s.inner.db.with(|c| async move { c.client.execute(&c.put, &[&key, &body, &instance]).await }).await;
    match r {
        Ok(_) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => db_error(e),
    }
}

async fn get_key(AxState(s): AxState<State>, Path(key): Path<String>) -> Response {
    let r = s.inner.db.with(|c| async move { c.client.query_opt(&c.get, &[&key]).await }).await;
    match r {
        Ok(Some(row)) => (StatusCode::OK, row.get::<_, String>(0)).into_response(),
        Ok(None) => StatusCode::NOT_FOUND.into_response(),
        Err(e) => db_error(e),
    }
}

#[derive(Serialize)]
struct Entry {
    k: String,
    v: String,
}

#[derive(Serialize)]
struct Page {
    items: Vec<Entry>,
    /// Pass as `after` to get the next page; absent on the last page.
    next: Option<String>,
}

/// `GET /kv?prefix=P&after=K&limit=N`: keys starting with `P`, greater than `K`, in order.
async fn scan(AxState(s): AxState<State>, Query(q): Query<HashMap<String, String>>) -> Response {
    let prefix = q.get("prefix").cloned().unwrap_or_default();
    let after = q.get("after").cloned().unwrap_or_default();
    let limit = match q.get("limit").map(|l| l.parse::<i64>()) {
        None => 1000,
        Some(Ok(n)) if (1..=MAX_PAGE).contains(&n) => n,
        Some(_) => return (StatusCode::BAD_REQUEST, format!("limit must be 1..={MAX_PAGE}")).into_response(),
    };
    let r =
        s.inner.db.with(|c| async move { c.client.query(&c.scan, &[&prefix, &after, &limit]).await }).await;
    match r {
        Ok(rows) => {
            let items: Vec<Entry> = rows.iter().map(|r| Entry { k: r.get(0), v: r.get(1) }).collect();
            let next = (items.len() as i64 == limit).then(|| items[items.len() - 1].k.clone());
            Json(Page { items, next }).into_response()
        }
        Err(e) => db_error(e),
    }
}

/// `POST /admin/outage?ms=N[&at=UNIX_MS]`: answer 503 for N ms from `at` (default now).
async fn outage(AxState(s): AxState<State>, Query(q): Query<HashMap<String, String>>) -> Response {
    if !s.inner.admin {
        return (StatusCode::NOT_FOUND, "admin endpoints are off (set HADRILL_DEMO_ADMIN=1)").into_response();
    }
    let Some(Ok(ms)) = q.get("ms").map(|m| m.parse::<u64>()) else {
        return (StatusCode::BAD_REQUEST, "ms=N required").into_response();
    };
    let at = match q.get("at").map(|a| a.parse::<u64>()) {
        None => now_ms(),
        Some(Ok(a)) => a,
        Some(Err(_)) => return (StatusCode::BAD_REQUEST, "at must be unix milliseconds").into_response(),
    };
    let (start, end) = s.inner.outage.set(at, ms);
    Json(serde_json::json!({ "instance": s.inner.instance, "start_ms": start, "end_ms": end }))
        .into_response()
}
