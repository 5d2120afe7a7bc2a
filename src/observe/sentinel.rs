//! Redis Sentinel: the master's address as each Sentinel names it (`SENTINEL get-master-addr-by-name`) and its
//! flags (`s_down`, `o_down`) from `SENTINEL master`: a flag is the detection, a new address the switch.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::stack_log::StackLog;
use crate::proto::resp::{Conn, Reply};
use crate::timeline::StackEventKind;

/// The master's `host:port` from a `get-master-addr-by-name` reply.
pub fn master_addr(r: &Reply) -> Option<String> {
    match r {
        Reply::Array(Some(v)) if v.len() == 2 => Some(format!("{}:{}", v[0].as_text()?, v[1].as_text()?)),
        _ => None,
    }
}

/// The `flags` field of a `SENTINEL master` reply (a flat array of field, value).
pub fn flags(r: &Reply) -> Option<String> {
    let Reply::Array(Some(v)) = r else {
        return None;
    };
    v.chunks(2).find(|kv| kv[0].as_text().as_deref() == Some("flags")).and_then(|kv| kv.get(1)?.as_text())
}

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

#[cfg(test)]
mod tests {
    use super::*;

    fn bulk(s: &str) -> Reply {
        Reply::Bulk(Some(s.as_bytes().to_vec()))
    }

    #[test]
    fn reads_master_and_flags() {
        let a = Reply::Array(Some(vec![bulk("redis-replica"), bulk("6379")]));
        assert_eq!(master_addr(&a).as_deref(), Some("redis-replica:6379"));
        let m = Reply::Array(Some(vec![
            bulk("name"),
            bulk("mymaster"),
            bulk("flags"),
            bulk("master,s_down,o_down"),
        ]));
        assert_eq!(flags(&m).as_deref(), Some("master,s_down,o_down"));
    }
}
