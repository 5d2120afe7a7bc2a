//! Redis Sentinel: the master's address as each Sentinel names it (`SENTINEL get-master-addr-by-name`) and its
//! flags (`s_down`, `o_down`) from `SENTINEL master`: a flag is the detection, a new address the switch.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::stack_log::StackLog;
use crate::proto::resp::Conn;
use crate::proto::sentinel::{flags, master_addr};
use crate::timeline::StackEventKind;

/// Polls one Sentinel every `every` until cancelled.
pub async fn run(
    name: String,
    addr: SocketAddr,
    master: String,
    log: Arc<StackLog>,
    every: Duration,
    cancel: CancellationToken,
) {
    let mut conn: Option<Conn> = None;
    loop {
        if conn.is_none() {
            conn = Conn::connect(addr, Duration::from_millis(800)).await.ok();
        }
        if let Some(c) = conn.as_mut() {
            let a = c.call(&[b"SENTINEL", b"get-master-addr-by-name", master.as_bytes()]).await;
            let f = c.call(&[b"SENTINEL", b"master", master.as_bytes()]).await;
            match (a, f) {
                (Ok(a), Ok(f)) => {
                    if let Some(m) = master_addr(&a) {
                        log.observe("sentinel", &name, &format!("master {m}"), StackEventKind::Promotion);
                    }
                    if let Some(fl) = flags(&f) {
                        let kind = if fl.contains("o_down") || fl.contains("s_down") {
                            StackEventKind::Detection
                        } else {
                            StackEventKind::Info
                        };
                        log.observe("sentinel", &format!("{name} flags"), &fl, kind);
                    }
                }
                _ => conn = None,
            }
        }
        if !super::stack_log::tick(every, &cancel).await {
            return;
        }
    }
}
