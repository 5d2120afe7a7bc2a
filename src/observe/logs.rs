//! Following a container's log through the Docker API and turning the lines a component writes about its own
//! state (HAProxy's "Server apps/app2 is DOWN", PostgreSQL's "selected new timeline ID", ...) into stack
//! events at the time the line carries. A line without a timestamp of its own (or without a zone) is timed
//! by the daemon, which stamps each line as it reads it from the container's output.

use std::sync::Arc;

use bollard::query_parameters::LogsOptions;
use bollard::Docker;
use futures_util::StreamExt;
use tokio_util::sync::CancellationToken;

use super::logtime;
use super::stack_log::{Reported, StackLog};
use crate::timeline::{Origin, StackEventKind};

/// How late the daemon's stamp can be for a line the component wrote without one: the pipe and the
/// daemon's read, well under a millisecond on an idle host (docs/measurement.md).
pub const DAEMON_RESOLUTION_US: u32 = 1_000;

/// What one line says: the subject (empty for the container itself), its new state, and the kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    pub subject: String,
    pub state: String,
    pub kind: StackEventKind,
}

impl Parsed {
    pub fn new(subject: impl Into<String>, state: impl Into<String>, kind: StackEventKind) -> Parsed {
        Parsed { subject: subject.into(), state: state.into(), kind }
    }
}

/// A component's line reader: the source it reports as (`haproxy`, `postgres`, ...) and its parser.
#[derive(Clone, Copy)]
pub struct Reader {
    pub source: &'static str,
    pub parse: fn(&str) -> Option<Parsed>,
}

/// The container to follow and what to read from its lines.
pub struct Followed {
    pub container_id: String,
    /// The container's display name: the subject of events about the container itself.
    pub name: String,
    pub readers: Vec<Reader>,
}

/// One line of `docker logs --timestamps`, as a stack event for each reader that recognises it.
fn record(line: &str, f: &Followed, log: &StackLog) {
    let Some(daemon) = logtime::parse(line) else { return };
    let text = daemon.rest;
    for r in &f.readers {
        let Some(p) = (r.parse)(text) else { continue };
        let (unix_ns, resolution_us) = match logtime::parse(text) {
            Some(own) => (own.unix_ns, own.precision_us),
            None => (daemon.unix_ns, DAEMON_RESOLUTION_US),
        };
        let subject = if p.subject.is_empty() { f.name.as_str() } else { p.subject.as_str() };
        let what = Reported {
            source: r.source,
            subject,
            state: &p.state,
            kind: p.kind,
            origin: Origin::Log,
            resolution_us,
        };
        log.reported(log.clock().wall_to_nanos(unix_ns), what);
    }
}

/// Follows the container's stdout and stderr from `since_unix_s` until cancelled or the log ends.
pub async fn follow(
    docker: Docker,
    f: Followed,
    since_unix_s: i32,
    log: Arc<StackLog>,
    cancel: CancellationToken,
) {
    let opts = LogsOptions {
        follow: true,
        stdout: true,
        stderr: true,
        timestamps: true,
        since: since_unix_s,
        ..Default::default()
    };
    let mut stream = docker.logs(&f.container_id, Some(opts));
    let mut partial = String::new();
    loop {
        let item = tokio::select! {
            i = stream.next() => i,
            _ = cancel.cancelled() => return,
        };
        let Some(Ok(chunk)) = item else { return };
        partial.push_str(&String::from_utf8_lossy(&chunk.into_bytes()));
        while let Some(end) = partial.find('\n') {
            let line: String = partial.drain(..=end).collect();
            record(line.trim_end(), &f, &log);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::timeline::Clock;

    fn down(text: &str) -> Option<Parsed> {
        text.contains("is DOWN").then(|| Parsed::new("", "DOWN", StackEventKind::Detection))
    }

    #[test]
    fn a_line_s_own_timestamp_wins_over_the_daemon_s() {
        let log = StackLog::new(Clock::start(), Duration::from_millis(200));
        let f = Followed {
            container_id: "c1".into(),
            name: "lb".into(),
            readers: vec![Reader { source: "haproxy", parse: down }],
        };
        let start = log.clock().start_unix_ms() / 1000 + 10;
        let stamp = |s: u64, frac: &str, zone: &str| {
            let t = time::OffsetDateTime::from_unix_timestamp(s as i64).unwrap();
            let f = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
            format!("{}{frac}{zone}", t.format(&f).unwrap())
        };
        let daemon = stamp(start, ".500000000", "Z");
        record(&format!("{daemon} {} Server apps/app1 is DOWN", stamp(start, ".250", "+00:00")), &f, &log);
        record(&format!("{daemon} [WARNING] Server apps/app1 is DOWN"), &f, &log);
        record(&format!("{daemon} Server apps/app1 is UP"), &f, &log);
        let ev = log.events();
        assert_eq!(ev.len(), 2, "the UP line is not a DOWN");
        let at = |ms: u64| log.clock().wall_to_nanos(u128::from(start * 1000 + ms) * 1_000_000);
        assert_eq!(
            (ev[0].at, ev[0].resolution_us, ev[0].subject.as_str()),
            (at(250), 1000, "lb"),
            "own time"
        );
        assert_eq!(
            (ev[1].at, ev[1].resolution_us),
            (at(500), DAEMON_RESOLUTION_US),
            "no own time: the daemon's"
        );
        assert!(ev.iter().all(|e| e.origin == Origin::Log));
    }
}
