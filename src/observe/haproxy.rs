//! HAProxy: per-server status from the stats page's CSV (`/stats;csv`): UP, DOWN, and the transitions
//! between (`UP 1/2` means one failed check of the two that mark it down); and the same changes from its own
//! log lines ("Server apps/app2 is DOWN, reason: ..."), at the time HAProxy wrote them (the bundled
//! configurations log to stdout with `format iso`, microsecond timestamps with their zone).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::logs::Parsed;
use super::stack_log::StackLog;
use crate::timeline::StackEventKind;

/// `(backend, server, status)` for every server line of the CSV.
pub fn parse_csv(csv: &str) -> Vec<(String, String, String)> {
    let mut lines = csv.lines();
    let Some(header) = lines.next() else {
        return Vec::new();
    };
    let cols: Vec<&str> = header.trim_start_matches("# ").split(',').collect();
    let idx = |name: &str| cols.iter().position(|c| *c == name);
    let (Some(px), Some(sv), Some(st)) = (idx("pxname"), idx("svname"), idx("status")) else {
        return Vec::new();
    };
    lines
        .filter_map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            let server = *f.get(sv)?;
            if server == "FRONTEND" || server == "BACKEND" || f.get(px)? == &"stats" {
                return None;
            }
            Some((f[px].to_string(), server.to_string(), f.get(st)?.to_string()))
        })
        .collect()
}

/// What a server's status means for the breakdown: out of rotation (`DOWN`, `MAINT`, and `MAINT (resolution)`
/// when the server's name stopped resolving, as Docker's DNS does for a dead container) is the stack noticing;
/// `UP` is it coming back; the transitions (`UP 1/2`, `DOWN 1/2`) are on their way to one or the other.
pub fn kind_of(status: &str) -> StackEventKind {
    match status {
        "DOWN" | "MAINT" => StackEventKind::Detection,
        s if s.starts_with("MAINT (") => StackEventKind::Detection,
        "UP" => StackEventKind::Recovery,
        _ => StackEventKind::Info,
    }
}

/// A server's state change in a log line: `Server apps/app2 is DOWN` (detection), `is going DOWN for
/// maintenance` (its name stopped resolving: detection), `is UP` (recovery). HAProxy's copy of the message on
/// stderr (`[WARNING]  (8) : Server ...`) carries no time and is left to the timestamped one.
pub fn log_line(text: &str) -> Option<Parsed> {
    if text.starts_with('[') {
        return None;
    }
    let rest = &text[text.find("Server ")? + "Server ".len()..];
    let (server, what) = rest.split_once(" is ")?;
    let (state, kind) = if what.starts_with("going DOWN for maintenance") {
        ("MAINT", StackEventKind::Detection)
    } else if what.starts_with("DOWN") {
        ("DOWN", StackEventKind::Detection)
    } else if what.starts_with("UP") {
        ("UP", StackEventKind::Recovery)
    } else {
        return None;
    };
    server.contains('/').then(|| Parsed::new(server, state, kind))
}

/// Polls the stats page every `every` until cancelled.
pub async fn run(addr: SocketAddr, log: Arc<StackLog>, every: Duration, cancel: CancellationToken) {
    let client = crate::http::client(Duration::from_millis(800), 1);
    let url = format!("http://{addr}/stats;csv");
    loop {
        match client.get(&url).send().await {
            Ok(r) => {
                if let Ok(text) = r.text().await {
                    for (backend, server, status) in parse_csv(&text) {
                        log.observe("haproxy", &format!("{backend}/{server}"), &status, kind_of(&status));
                    }
                }
            }
            Err(_) => log.observe("haproxy", "stats", "unreachable", StackEventKind::Info),
        }
        if !super::stack_log::tick(every, &cancel).await {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_server_statuses() {
        let csv = "# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status,weight\n\
                   app,FRONTEND,,,0,1,4096,3,,,,,,,,,,OPEN,\n\
                   apps,app1,0,0,0,1,,3,,,,,,,,0,0,UP,1\n\
                   apps,app2,0,0,0,1,,3,,,,,,,,0,0,DOWN 1/2,1\n\
                   apps,BACKEND,0,0,0,1,,3,,,,,,,,0,0,UP,2\n\
                   stats,FRONTEND,,,0,1,,3,,,,,,,,,,OPEN,\n";
        let rows = parse_csv(csv);
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[1], ("apps".into(), "app2".into(), "DOWN 1/2".into()));
        assert_eq!(kind_of("DOWN"), StackEventKind::Detection);
        assert_eq!(kind_of("DOWN 1/2"), StackEventKind::Info);
        assert_eq!(kind_of("UP 1/2"), StackEventKind::Info);
        assert_eq!(kind_of("MAINT (resolution)"), StackEventKind::Detection);
        assert_eq!(kind_of("UP"), StackEventKind::Recovery);
    }

    #[test]
    fn reads_server_changes_from_log_lines() {
        let down =
            "2026-11-25T20:45:47.338358+00:00 Server apps/app1 is DOWN, reason: Layer4 connection problem, \
                    info: \"Connection refused\", check duration: 0ms. 2 active and 0 backup servers left.";
        assert_eq!(log_line(down), Some(Parsed::new("apps/app1", "DOWN", StackEventKind::Detection)));
        let up = "2026-11-25T20:46:02.1+00:00 Server apps/app1 is UP, reason: Layer7 check passed, code: 200";
        assert_eq!(log_line(up).map(|p| p.kind), Some(StackEventKind::Recovery));
        let maint =
            "2026-11-25T20:46:02.1+00:00 Server apps/app2 is going DOWN for maintenance (DNS NX status).";
        assert_eq!(log_line(maint).map(|p| p.state), Some("MAINT".to_string()));
        assert_eq!(
            log_line("[WARNING]  (8) : Server apps/app1 is DOWN, reason: Layer4"),
            None,
            "the untimed copy"
        );
        assert_eq!(log_line("2026-11-25T20:45:47.1+00:00 backend apps has no server available!"), None);
    }
}
