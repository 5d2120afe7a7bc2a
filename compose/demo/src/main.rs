//! The demo service that hadrill's bundled stacks run behind their load balancers.
//!
//! It stands in for the stateless apps of the seed guides (Egide, Home Registry, PromptForge): an HTTP
//! key-value API whose every write is committed to PostgreSQL before it is acknowledged, reached through a
//! multi-host connection string (`host=pg-primary,pg-replica target_session_attrs=read-write`) so that after a
//! promotion it finds the new primary on its own, without a restart.
//!
//! On SIGTERM it stops gracefully (see `drain`): fails /health, drains, then exits.
//!
//! Subcommands: `serve` (the default), `healthcheck` (used by the image's Docker healthcheck, so the image
//! needs no curl) and `outage` (asks the local instance for a ground-truth outage, for tests).

mod app;
mod db;
mod drain;
mod outage;

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_string())
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let code = match args.first().map(String::as_str) {
        None | Some("serve") => serve().await,
        Some("healthcheck") => healthcheck().await,
        Some("outage") => request_outage(&args[1..]).await,
        Some(other) => {
            eprintln!("hadrill-demo: unknown subcommand {other:?} (serve, healthcheck, outage)");
            2
        }
    };
    std::process::exit(code);
}

async fn serve() -> i32 {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let instance = env_or("INSTANCE", "demo");
    let url = env_or(
        "DATABASE_URL",
        "host=pg-primary,pg-replica user=app password=app dbname=app target_session_attrs=read-write",
    );
    let admin = std::env::var("HADRILL_DEMO_ADMIN").is_ok_and(|v| v == "1");
    let listen: SocketAddr = match env_or("LISTEN", "0.0.0.0:8080").parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("hadrill-demo: bad LISTEN: {e}");
            return 2;
        }
    };
    let db = db::Db::start(url);
    let disk = std::env::var("DATA_DIR").ok().filter(|d| !d.is_empty()).map(|dir| app::DiskCheck {
        dir: dir.into(),
        min_free: env_or("MIN_FREE_BYTES", "1048576").parse().unwrap_or(1 << 20),
    });
    let drain_period = match drain::period(std::env::var("DRAIN_MS").ok().as_deref()) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("hadrill-demo: {e}: milliseconds, e.g. DRAIN_MS=3000");
            return 2;
        }
    };
    let draining = drain::Drain::default();
    let state = app::State::new(instance.clone(), db, admin, disk, draining.clone());
    let listener = match tokio::net::TcpListener::bind(listen).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("hadrill-demo: cannot listen on {listen}: {e}");
            return 1;
        }
    };
    tracing::info!(%instance, %listen, admin, "serving");
    let shutdown = drain::signal(draining, drain_period);
    if let Err(e) = axum::serve(listener, app::router(state)).with_graceful_shutdown(shutdown).await {
        eprintln!("hadrill-demo: server error: {e}");
        return 1;
    }
    0
}

/// Sends one raw HTTP/1.0 request to the local instance and returns its status code.
async fn local_request(method: &str, path: &str) -> Result<(u16, String), String> {
    let port = env_or("LISTEN", "0.0.0.0:8080").rsplit(':').next().unwrap_or("8080").to_string();
    let fut = async {
        let mut s =
            tokio::net::TcpStream::connect(format!("127.0.0.1:{port}")).await.map_err(|e| e.to_string())?;
        s.write_all(format!("{method} {path} HTTP/1.0\r\nContent-Length: 0\r\n\r\n").as_bytes())
            .await
            .map_err(|e| e.to_string())?;
        let mut buf = Vec::new();
        s.read_to_end(&mut buf).await.map_err(|e| e.to_string())?;
        let text = String::from_utf8_lossy(&buf).to_string();
        let code = text
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .ok_or_else(|| format!("bad answer: {text:?}"))?;
        let body = text.split("\r\n\r\n").nth(1).unwrap_or("").to_string();
        Ok((code, body))
    };
    tokio::time::timeout(Duration::from_secs(3), fut).await.map_err(|_| "timed out".to_string())?
}

async fn healthcheck() -> i32 {
    match local_request("GET", "/health").await {
        Ok((200, _)) => 0,
        Ok((code, body)) => {
            eprintln!("unhealthy: {code} {body}");
            1
        }
        Err(e) => {
            eprintln!("unhealthy: {e}");
            1
        }
    }
}

/// `hadrill-demo outage MS [AT_UNIX_MS]`: asks this instance to answer 503 for MS milliseconds, starting now or
/// at the given wall-clock time (all containers share the host clock, so one `AT` synchronises instances).
async fn request_outage(args: &[String]) -> i32 {
    let Some(ms) = args.first() else {
        eprintln!("usage: hadrill-demo outage MS [AT_UNIX_MS]");
        return 2;
    };
    let mut path = format!("/admin/outage?ms={ms}");
    if let Some(at) = args.get(1) {
        path.push_str(&format!("&at={at}"));
    }
    match local_request("POST", &path).await {
        Ok((200, body)) => {
            println!("{body}");
            // The protocol hadrill's exec actions read: when this fault takes effect, by the wall clock.
            let start = body
                .split("\"start_ms\":")
                .nth(1)
                .and_then(|r| r.split(|c: char| !c.is_ascii_digit()).next())
                .unwrap_or("");
            if !start.is_empty() {
                println!("HADRILL_EFFECT_AT_MS={start}");
            }
            0
        }
        Ok((code, body)) => {
            eprintln!("outage refused: {code} {body}");
            1
        }
        Err(e) => {
            eprintln!("outage request failed: {e}");
            1
        }
    }
}
