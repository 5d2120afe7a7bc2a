//! The ground-truth outage switch: a window of wall-clock time during which the service answers 503.
//!
//! hadrill's end-to-end tests ask for an outage of exactly N ms and compare the RTO hadrill measures with it.
//! The window is kept as unix-epoch milliseconds so that several instances given the same `at` go dark
//! together (containers share the host's clock). Off unless `HADRILL_DEMO_ADMIN=1`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

pub fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

#[derive(Default)]
pub struct Outage {
    start_ms: AtomicU64,
    end_ms: AtomicU64,
}

impl Outage {
    /// Sets the window `[start, start + ms)`; returns it.
    pub fn set(&self, start_ms: u64, ms: u64) -> (u64, u64) {
        let end = start_ms + ms;
        self.end_ms.store(0, Ordering::SeqCst);
        self.start_ms.store(start_ms, Ordering::SeqCst);
        self.end_ms.store(end, Ordering::SeqCst);
        (start_ms, end)
    }

    pub fn active(&self, now_ms: u64) -> bool {
        let start = self.start_ms.load(Ordering::Relaxed);
        let end = self.end_ms.load(Ordering::Relaxed);
        now_ms >= start && now_ms < end
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_is_half_open() {
        let o = Outage::default();
        assert!(!o.active(5));
        o.set(1000, 500);
        assert!(!o.active(999));
        assert!(o.active(1000));
        assert!(o.active(1499));
        assert!(!o.active(1500));
    }
}
