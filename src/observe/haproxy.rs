//! HAProxy: per-server status from the stats page's CSV (`/stats;csv`): UP, DOWN, and the transitions
//! between (`UP 1/2` means one failed check of the two that mark it down).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

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
}
