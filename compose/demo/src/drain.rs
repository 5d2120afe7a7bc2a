//! The graceful stop: on SIGTERM the instance first fails `/health` so that its load balancer takes it out of
//! the pool, keeps serving every request for a drain period that covers the balancer's check interval times
//! its fall count (HAProxy `inter 1s fall 2` in the bundled stacks: 2 s; `DRAIN_MS`, 3 s by default), and
//! answers each response in that period with `Connection: close`, so no keep-alive connection stays idle in
//! the balancer's pool to be reused at the moment the process exits. Then the server stops accepting, finishes
//! what is in flight, and exits.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State as AxState};
use axum::http::header::{HeaderValue, CONNECTION};
use axum::middleware::Next;
use axum::response::Response;

/// The drain period when `DRAIN_MS` is not set.
pub const DEFAULT_DRAIN: Duration = Duration::from_secs(3);

/// Whether the instance is draining; shared by the routes and the shutdown signal.
#[derive(Clone, Default)]
pub struct Drain(Arc<AtomicBool>);

impl Drain {
    pub fn start(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    pub fn active(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// While draining, every response closes its connection after it is sent.
pub async fn close_connections(AxState(drain): AxState<Drain>, req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    if drain.active() {
        res.headers_mut().insert(CONNECTION, HeaderValue::from_static("close"));
    }
    res
}

/// The drain period from `DRAIN_MS` (milliseconds), else [`DEFAULT_DRAIN`].
pub fn period(value: Option<&str>) -> Result<Duration, String> {
    match value.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(DEFAULT_DRAIN),
        Some(v) => v.parse::<u64>().map(Duration::from_millis).map_err(|_| format!("bad DRAIN_MS {v:?}")),
    }
}

/// Resolves when the server should stop accepting: at SIGTERM (or Ctrl-C), `drain` is set and the drain period
/// passes first.
pub async fn signal(drain: Drain, period: Duration) {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("install SIGTERM handler");
    tokio::select! {
        _ = term.recv() => {},
        _ = tokio::signal::ctrl_c() => {},
    }
    drain.start();
    tracing::info!(drain_ms = period.as_millis() as u64, "SIGTERM: failing /health, draining");
    tokio::time::sleep(period).await;
    tracing::info!("drained: closing the listener, finishing in-flight requests");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_drain_period_defaults_and_is_checked() {
        assert_eq!(period(None).unwrap(), DEFAULT_DRAIN);
        assert_eq!(period(Some("")).unwrap(), DEFAULT_DRAIN);
        assert_eq!(period(Some("2500")).unwrap(), Duration::from_millis(2500));
        assert!(period(Some("3s")).unwrap_err().contains("\"3s\""));
    }
}
