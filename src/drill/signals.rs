//! Ctrl-C and SIGTERM: the first cancels the drill (the load and any read-back stop, faults are reverted, the
//! stack torn down, the report written and marked aborted); a second one says cleanup is still running, since
//! leaving faults in place would be worse than waiting a few seconds more; a third one, or a cleanup still
//! running [`super::run::CLEANUP_BOUND`] after the first, stops waiting: hadrill exits with the list of what may
//! be left and the `hadrill clean` line.

use tokio_util::sync::CancellationToken;

use super::console::{Event, Reporter};

/// What the signal watcher tells the drill.
#[derive(Debug, Clone, Default)]
pub struct Interrupts {
    /// Cancelled by the first signal: stop the drill and clean up.
    pub cancel: CancellationToken,
    /// Cancelled by the third: stop waiting for the cleanup.
    pub abandon: CancellationToken,
}

/// A plain token: cancelling it stops the drill; nothing makes it stop waiting for the cleanup early.
impl From<CancellationToken> for Interrupts {
    fn from(cancel: CancellationToken) -> Interrupts {
        Interrupts { cancel, abandon: CancellationToken::new() }
    }
}

/// Spawns the signal watcher; returns the token the first signal cancels.
pub fn watch() -> CancellationToken {
    watch_drill(Reporter::silent()).cancel
}

/// Spawns the signal watcher of a drill, which tells `console` about each signal.
pub fn watch_drill(console: Reporter) -> Interrupts {
    let interrupts = Interrupts::default();
    let i = interrupts.clone();
    tokio::spawn(async move {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => return,
        };
        let mut count = 0;
        loop {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {},
                _ = term.recv() => {},
            }
            count += 1;
            console.send(Event::Interrupt(count));
            match count {
                1 => i.cancel.cancel(),
                2 => {}
                _ => i.abandon.cancel(),
            }
        }
    });
    interrupts
}
