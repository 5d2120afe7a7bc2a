//! Redis Sentinel's own events, pushed on its Pub/Sub channels (`+sdown`, `+odown`, `+switch-master`, ...)
//! as it logs them: the canonical API for a failover's steps, timed on arrival over loopback rather than by a
//! poll. The same events are read from its log lines too ([`log_line`]): Sentinel sends a `+switch-master`
//! only after rewriting and syncing its configuration file, which took 226 ms on a busy disk, while the line
//! is written before. [`super::sentinel`] keeps polling `get-master-addr-by-name` as the cross-check.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::logs::Parsed;
use super::stack_log::{Reported, StackLog};
use crate::proto::resp::{Conn, Reply};
use crate::timeline::{Origin, StackEventKind};

/// The channels subscribed to: a failover's steps, in the order Sentinel goes through them.
pub const CHANNELS: &[&str] = &[
    "+sdown",
    "-sdown",
    "+odown",
    "-odown",
    "+try-failover",
    "+elected-leader",
    "+selected-slave",
    "+promoted-slave",
    "+failover-end",
    "+switch-master",
];

/// A message arrives over loopback within this of Sentinel publishing it (it publishes as it logs).
pub const RESOLUTION_US: u32 = 1_000;

/// What a `message` push means: its channel and payload, and its kind for the breakdown. Only the master's
/// own down flags are the detection (a replica or another Sentinel going down is not); the switch is the
/// promotion.
pub fn event(r: &Reply) -> Option<(String, String, StackEventKind)> {
    let Reply::Array(Some(v)) = r else { return None };
    if v.len() != 3 || v[0].as_text().as_deref() != Some("message") {
        return None;
    }
    let (channel, payload) = (v[1].as_text()?, v[2].as_text()?);
    let kind = kind_of(&channel, &payload);
    Some((channel, payload, kind))
}

fn kind_of(channel: &str, payload: &str) -> StackEventKind {
    match channel {
        "+sdown" | "+odown" if payload.starts_with("master ") => StackEventKind::Detection,
        "+switch-master" => StackEventKind::Promotion,
        _ => StackEventKind::Info,
    }
}

/// The same events in Sentinel's log (`1:X 25 Nov 2026 20:45:47.338 # +sdown master mymaster ...`), with the
/// state written as the Pub/Sub message's: `channel payload`. Its time has no zone: the daemon's is used.
pub fn log_line(text: &str) -> Option<Parsed> {
    let (at, channel) = CHANNELS.iter().find_map(|c| text.find(&format!(" {c} ")).map(|i| (i + 1, *c)))?;
    let state = text[at..].trim_end();
    let payload = state[channel.len()..].trim_start();
    Some(Parsed::new("", state, kind_of(channel, payload)))
}

/// Subscribes to one Sentinel's events and records each as it arrives, reconnecting until cancelled.
pub async fn run(name: String, addr: SocketAddr, log: Arc<StackLog>, cancel: CancellationToken) {
    loop {
        tokio::select! {
            _ = session(&name, addr, &log) => {}
            _ = cancel.cancelled() => return,
        }
        if !super::stack_log::tick(Duration::from_millis(200), &cancel).await {
            return;
        }
    }
}

/// One connection's subscription, until it fails.
async fn session(name: &str, addr: SocketAddr, log: &StackLog) -> std::io::Result<()> {
    let mut conn = Conn::connect(addr, Duration::from_millis(800)).await?;
    let mut cmd: Vec<&[u8]> = vec![b"SUBSCRIBE"];
    cmd.extend(CHANNELS.iter().map(|c| c.as_bytes()));
    conn.call(&cmd).await?;
    loop {
        let push = conn.next_push().await?;
        let at = log.clock().now();
        if let Some((channel, payload, kind)) = event(&push) {
            let state = format!("{channel} {payload}");
            let what = Reported {
                source: "sentinel",
                subject: name,
                state: &state,
                kind,
                origin: Origin::Push,
                resolution_us: RESOLUTION_US,
            };
            log.reported(at, what);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(channel: &str, payload: &str) -> Reply {
        let bulk = |s: &str| Reply::Bulk(Some(s.as_bytes().to_vec()));
        Reply::Array(Some(vec![bulk("message"), bulk(channel), bulk(payload)]))
    }

    #[test]
    fn the_master_s_down_flags_detect_and_the_switch_promotes() {
        let sdown = event(&msg("+sdown", "master mymaster redis-master 6379")).unwrap();
        assert_eq!(sdown.2, StackEventKind::Detection);
        let replica =
            event(&msg("+sdown", "slave redis-replica:6379 redis-replica 6379 @ mymaster redis-master 6379"));
        assert_eq!(replica.unwrap().2, StackEventKind::Info, "a replica down is not the master's loss");
        let switch = event(&msg("+switch-master", "mymaster redis-master 6379 redis-replica 6379")).unwrap();
        assert_eq!((switch.0.as_str(), switch.2), ("+switch-master", StackEventKind::Promotion));
        assert_eq!(
            event(&msg("+failover-end", "master mymaster redis-master 6379")).unwrap().2,
            StackEventKind::Info
        );
    }

    #[test]
    fn reads_the_same_events_from_log_lines() {
        let l = "1:X 25 Nov 2026 21:20:01.123 # +switch-master mymaster redis-master 6379 redis-replica 6379";
        let p = log_line(l).unwrap();
        assert_eq!(p.state, "+switch-master mymaster redis-master 6379 redis-replica 6379");
        assert_eq!(p.kind, StackEventKind::Promotion);
        let sdown =
            log_line("1:X 25 Nov 2026 21:19:59.001 # +sdown master mymaster redis-master 6379").unwrap();
        assert_eq!(sdown.kind, StackEventKind::Detection);
        assert_eq!(log_line("1:X 25 Nov 2026 21:19:59.001 * Sentinel new configuration saved on disk"), None);
    }

    #[test]
    fn subscribe_confirmations_are_not_events() {
        let bulk = |s: &str| Reply::Bulk(Some(s.as_bytes().to_vec()));
        let confirm = Reply::Array(Some(vec![bulk("subscribe"), bulk("+sdown"), Reply::Int(1)]));
        assert_eq!(event(&confirm), None);
    }
}
