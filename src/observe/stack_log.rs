//! The shared log observers write to: a state per subject, and an event each time that state changes (polls);
//! and the events components report themselves (log lines, Pub/Sub messages), kept as they come.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::timeline::{Clock, Nanos, Origin, StackEvent, StackEventKind};

/// Waits one polling interval; false when the observers were stopped meanwhile.
pub async fn tick(every: Duration, cancel: &CancellationToken) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(every) => true,
        _ = cancel.cancelled() => false,
    }
}

/// An event a component reported itself (a log line, a Pub/Sub message).
#[derive(Debug, Clone, Copy)]
pub struct Reported<'a> {
    pub source: &'a str,
    pub subject: &'a str,
    pub state: &'a str,
    pub kind: StackEventKind,
    pub origin: Origin,
    pub resolution_us: u32,
}

pub struct StackLog {
    clock: Clock,
    /// The pollers' interval: how late a polled state change can be.
    poll_every: Duration,
    last: Mutex<HashMap<(String, String), String>>,
    events: Mutex<Vec<StackEvent>>,
}

impl StackLog {
    pub fn new(clock: Clock, poll_every: Duration) -> StackLog {
        StackLog { clock, poll_every, last: Mutex::default(), events: Mutex::default() }
    }

    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// Records `state` for `source/subject`; adds an event only when it differs from the last one seen.
    /// The first state seen is recorded as `Info` (the starting point).
    pub fn observe(&self, source: &str, subject: &str, state: &str, kind_if_changed: StackEventKind) {
        let key = (source.to_string(), subject.to_string());
        let mut last = self.last.lock().expect("stack log lock");
        let kind = match last.get(&key) {
            Some(prev) if prev == state => return,
            Some(_) => kind_if_changed,
            None => StackEventKind::Info,
        };
        last.insert(key, state.to_string());
        self.events.lock().expect("stack log lock").push(StackEvent {
            at: self.clock.now(),
            source: source.into(),
            subject: subject.into(),
            state: state.into(),
            kind,
            origin: Origin::Poll,
            resolution_us: u32::try_from(self.poll_every.as_micros()).unwrap_or(u32::MAX),
        });
    }

    /// Records an event the component reported itself, at its own time `at`.
    pub fn reported(&self, at: Nanos, what: Reported<'_>) {
        self.events.lock().expect("stack log lock").push(StackEvent {
            at,
            source: what.source.into(),
            subject: what.subject.into(),
            state: what.state.into(),
            kind: what.kind,
            origin: what.origin,
            resolution_us: what.resolution_us,
        });
    }

    pub fn events(&self) -> Vec<StackEvent> {
        let mut v = self.events.lock().expect("stack log lock").clone();
        v.sort_by_key(|e| e.at);
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_changes_only_and_the_first_state_as_info() {
        let log = StackLog::new(Clock::start(), Duration::from_millis(200));
        log.observe("haproxy", "app1", "UP", StackEventKind::Recovery);
        log.observe("haproxy", "app1", "UP", StackEventKind::Recovery);
        log.observe("haproxy", "app1", "DOWN", StackEventKind::Detection);
        log.observe("haproxy", "app2", "UP", StackEventKind::Recovery);
        let ev = log.events();
        assert_eq!(ev.len(), 3);
        assert_eq!(ev[0].kind, StackEventKind::Info);
        assert_eq!((ev[0].origin, ev[0].resolution_us), (Origin::Poll, 200_000));
        assert_eq!(
            (ev[1].subject.as_str(), ev[1].state.as_str(), ev[1].kind),
            ("app1", "DOWN", StackEventKind::Detection)
        );
    }
}
