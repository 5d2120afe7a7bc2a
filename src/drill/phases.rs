//! How long each phase of a drill took, by the wall clock: the stack's bring-up, the load, the read-back, the
//! teardown. Everything but the load is the drill's overhead, the time a drill costs beyond its scenario's
//! duration; `drill::run` measures it, the report carries it (`run.phases`), the console prints it after the
//! teardown and `bench/run.sh overhead` tabulates it per bundled stack.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// The wall time of each phase, in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Phases {
    /// Images checked, and built when missing.
    pub images_ms: f64,
    /// `compose up -d` until it returned: Compose itself waits there for every `service_healthy` dependency.
    /// Zero on Swarm, whose whole bring-up counts as the ready wait.
    pub up_ms: f64,
    /// From the deploy command's return until every container was running and healthy; on a shared stack
    /// (`--reuse-stack`), a later cycle's: from the previous cycle's end until every service was healthy again.
    pub ready_ms: f64,
    /// A later cycle on a shared stack: the quiet period (`settle`) between healthy again and this cycle's
    /// load; 0 otherwise.
    #[serde(default)]
    pub quiet_ms: f64,
    /// The load, from its first send to its last answer (or timeout).
    pub load_ms: f64,
    /// Pending reverts and the scenario's `settle` pause after the load.
    pub settle_ms: f64,
    /// The read-back of every written key.
    pub read_back_ms: f64,
    /// `compose down` and the label sweep; null when the stack was kept (`--keep`) or the drill was cut short.
    pub teardown_ms: Option<f64>,
}

impl Phases {
    /// Everything but the load: bring-up, ready wait, settle, read-back and teardown.
    pub fn overhead_ms(&self) -> f64 {
        self.images_ms
            + self.up_ms
            + self.ready_ms
            + self.quiet_ms
            + self.settle_ms
            + self.read_back_ms
            + self.teardown_ms.unwrap_or(0.0)
    }

    /// One line for the console: `phases: images 0.1 s · up 9.8 s · ... · overhead 15.2 s`.
    pub fn line(&self) -> String {
        let s = |ms: f64| format!("{:.1} s", ms / 1000.0);
        let teardown = self.teardown_ms.map_or("-".to_string(), s);
        let quiet =
            if self.quiet_ms > 0.0 { format!(" · quiet {}", s(self.quiet_ms)) } else { String::new() };
        format!(
            "phases: images {} · up {} · ready {}{quiet} · load {} · settle {} · read-back {} · teardown {} · \
             overhead (all but the load) {}",
            s(self.images_ms),
            s(self.up_ms),
            s(self.ready_ms),
            s(self.load_ms),
            s(self.settle_ms),
            s(self.read_back_ms),
            teardown,
            s(self.overhead_ms()),
        )
    }
}

/// Milliseconds since `since`.
pub fn ms_since(since: Instant) -> f64 {
    ms(since.elapsed())
}

/// A duration in milliseconds.
pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overhead_is_every_phase_but_the_load() {
        let p = Phases {
            images_ms: 100.0,
            up_ms: 9000.0,
            ready_ms: 500.0,
            quiet_ms: 0.0,
            load_ms: 5000.0,
            settle_ms: 3000.0,
            read_back_ms: 50.0,
            teardown_ms: Some(4000.0),
        };
        assert_eq!(p.overhead_ms(), 16650.0);
        assert_eq!(
            p.line(),
            "phases: images 0.1 s · up 9.0 s · ready 0.5 s · load 5.0 s · settle 3.0 s · read-back 0.1 s · \
             teardown 4.0 s · overhead (all but the load) 16.6 s"
        );
        let kept = Phases { teardown_ms: None, ..p };
        assert_eq!(kept.overhead_ms(), 12650.0);
        assert!(kept.line().contains("teardown - ·"), "{}", kept.line());
        let later = Phases { quiet_ms: 10_000.0, ..p };
        assert_eq!(later.overhead_ms(), 26650.0, "a shared stack's quiet period between cycles is overhead");
        assert!(later.line().contains("ready 0.5 s · quiet 10.0 s · load"), "{}", later.line());
    }
}
