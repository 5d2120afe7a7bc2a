//! Checks across a scenario's entries: two faults that cannot both hold on one service at once are refused
//! before anything is brought up, instead of failing (or silently undoing each other) mid-drill.
//!
//! What holds a service, and what it excludes while it holds:
//! - a kill (SIGKILL, SIGTERM, SIGINT, SIGQUIT) or a stop leaves it down, for its duration or until a
//!   `restart` of it: nothing but a restart or a stop may act on it meanwhile;
//! - a pause freezes it: no second pause, no kill, stop, restart or exec (Docker refuses them on a paused
//!   container);
//! - a disconnect holds that network: no second disconnect from the same network;
//! - partition and loss share the target's one iptables chain: one of them at a time;
//! - delay and throttle share the target's root qdisc: one of them at a time.
//!
//! Other overlaps compose and are allowed: a partition during a delay, a pause during a disconnect, a
//! fill-disk during anything. Entries with `pick = "one"` choose their container when they run, so they are
//! not checked against each other here.

use std::time::Duration;

use super::error::ScenarioError;
use super::model::{Action, Pick, Planned};
use crate::duration::human;

/// What an entry holds on its targets, and until when.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Hold {
    Down,
    Paused,
    Disconnected(String),
    Iptables,
    Qdisc,
}

/// Signals after which a container is (normally) gone.
const DOWN_SIGNALS: [&str; 4] = ["SIGKILL", "SIGTERM", "SIGINT", "SIGQUIT"];

fn hold_of(action: &Action) -> Option<Hold> {
    match action {
        Action::Kill { signal } if DOWN_SIGNALS.contains(&signal.as_str()) => Some(Hold::Down),
        Action::Stop { .. } => Some(Hold::Down),
        Action::Pause => Some(Hold::Paused),
        Action::Disconnect { network } => Some(Hold::Disconnected(network.clone())),
        Action::Partition { .. } | Action::Loss { .. } => Some(Hold::Iptables),
        Action::Delay { .. } | Action::Throttle { .. } => Some(Hold::Qdisc),
        _ => None,
    }
}

/// Why `later` cannot run while `hold` holds, if it cannot.
fn excluded(hold: &Hold, later: &Action) -> Option<&'static str> {
    match (hold, hold_of(later), later) {
        (Hold::Down, _, Action::Restart { .. } | Action::Stop { .. }) => None,
        (Hold::Down, _, _) => Some("is down"),
        (
            Hold::Paused,
            _,
            Action::Pause | Action::Kill { .. } | Action::Stop { .. } | Action::Restart { .. },
        )
        | (Hold::Paused, _, Action::Exec { .. }) => {
            Some("is paused (Docker refuses this on a paused container)")
        }
        (Hold::Disconnected(a), Some(Hold::Disconnected(b)), _) if *a == b => {
            Some("is already disconnected from this network")
        }
        (Hold::Iptables, Some(Hold::Iptables), _) => {
            Some("already has a partition or loss (one iptables chain per target)")
        }
        (Hold::Qdisc, Some(Hold::Qdisc), _) => Some("already has a delay or throttle (one qdisc per target)"),
        _ => None,
    }
}

/// Refuses entries that act on a service another entry holds at that time; `total` is the load's length.
pub fn check_overlaps(
    file: &std::path::Path,
    planned: &[Planned],
    total: Duration,
) -> Result<(), ScenarioError> {
    let mut order: Vec<&Planned> = planned.iter().filter(|p| p.target.pick == Pick::All).collect();
    order.sort_by_key(|p| (p.at, p.index));
    for (i, first) in order.iter().enumerate() {
        let Some(hold) = hold_of(&first.action) else { continue };
        let until = end_of(first, &hold, &order[i + 1..], total);
        for later in order[i + 1..].iter().take_while(|p| p.at < until) {
            let Some(shared) = later.target.services.iter().find(|s| first.target.services.contains(s))
            else {
                continue;
            };
            if let Some(why) = excluded(&hold, &later.action) {
                let (line, col) = later.place;
                let message = format!(
                    "{} of {shared:?} at {}: {shared:?} {why}, from the {} at {} (line {}) until {}",
                    later.action.name(),
                    human(later.at),
                    first.action.name(),
                    human(first.at),
                    first.place.0,
                    if until >= total { "the end".to_string() } else { human(until) }
                );
                return Err(ScenarioError { file: file.to_path_buf(), line, col, message });
            }
        }
    }
    Ok(())
}

/// When a hold ends: after its duration; a kill or stop without one, at the first restart of a service it
/// hit, or the end of the load.
fn end_of(first: &Planned, hold: &Hold, after: &[&Planned], total: Duration) -> Duration {
    if let Some(end) = first.ends_at() {
        return end;
    }
    if *hold != Hold::Down {
        return total;
    }
    after
        .iter()
        .find(|p| {
            matches!(p.action, Action::Restart { .. })
                && p.target.services.iter().any(|s| first.target.services.contains(s))
        })
        .map(|p| p.at)
        .unwrap_or(total)
}
