//! Ctrl-C and SIGTERM: the first cancels the drill (faults are reverted, the stack torn down, the report written
//! and marked aborted); a second one while that cleanup runs says so and keeps cleaning up, since leaving faults
//! in place would be worse than waiting a few seconds more.

use tokio_util::sync::CancellationToken;

/// Spawns the signal watcher; returns the token it cancels.
pub fn watch() -> CancellationToken {
    let token = CancellationToken::new();
    let t = token.clone();
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
            if count == 1 {
                eprintln!("\ninterrupted: reverting faults and tearing the stack down (Ctrl-C again to be told again)");
                t.cancel();
            } else {
                eprintln!(
                    "still cleaning up: reverting faults and removing containers; this takes a few seconds"
                );
            }
        }
    });
    token
}
