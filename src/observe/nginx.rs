//! nginx (open source): no per-upstream state to ask for, only its error log. The lines where it gives up on a
//! backend (`connect() failed ... while connecting to upstream`, `upstream timed out`, `no live upstreams`)
//! are the stack noticing; nginx writes local time to the second, so the daemon's time is used.

use super::logs::Parsed;
use crate::timeline::StackEventKind;

/// The upstream address a line names (`upstream: "http://172.18.0.5:8080/kv"` -> `172.18.0.5:8080`).
fn upstream(text: &str) -> Option<&str> {
    let rest = &text[text.find("upstream: \"")? + "upstream: \"".len()..];
    let rest = rest.split_once("://").map_or(rest, |(_, r)| r);
    rest.split(['/', '"']).next()
}

/// A backend failure in an error-log line.
pub fn log_line(text: &str) -> Option<Parsed> {
    let state = if text.contains("no live upstreams") {
        "no live upstreams"
    } else if text.contains("upstream timed out") {
        "upstream timed out"
    } else if text.contains("while connecting to upstream") || text.contains("upstream prematurely closed") {
        "upstream failed"
    } else {
        return None;
    };
    Some(Parsed::new(upstream(text).unwrap_or("upstream"), state, StackEventKind::Detection))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_backend_failures() {
        let refused =
            "2026/11/25 20:45:47 [error] 22#22: *123 connect() failed (111: Connection refused) while \
                       connecting to upstream, client: 172.18.0.1, server: , request: \"GET /kv HTTP/1.1\", \
                       upstream: \"http://172.18.0.5:8080/kv\", host: \"127.0.0.1\"";
        assert_eq!(
            log_line(refused),
            Some(Parsed::new("172.18.0.5:8080", "upstream failed", StackEventKind::Detection))
        );
        let none = "2026/11/25 20:45:48 [error] 22#22: *130 no live upstreams while connecting to upstream, client: x";
        assert_eq!(
            log_line(none).map(|p| (p.subject, p.state)),
            Some(("upstream".into(), "no live upstreams".into()))
        );
        assert_eq!(log_line("2026/11/25 20:45:48 [notice] 1#1: start worker processes"), None);
    }
}
