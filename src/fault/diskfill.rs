//! Filling a filesystem inside a target container (seed 002's chaos test: "fill the disk"). A helper container
//! joins the target's PID namespace (`--pid container:<id>`) and reaches the target's files through
//! `/proc/1/root`, so the target needs no tools of its own; it allocates one file, `.hadrill-fill`, in the
//! directory named by the scenario, and the revert deletes it.
//!
//! How much: `size` bytes, or as much as leaves `free` bytes available (as an unprivileged process sees it,
//! `statfs`'s `f_bavail`). Never more than `max_fill`: a path on the host's disk (a named volume) would
//! otherwise fill the host's disk, the Docker daemon's included.
//!
//! If the target dies while the fault is on, the helper dies with it (its PID namespace is gone) and the file
//! stays; the revert says so. The teardown removes it with the stack's volumes.

use bollard::Docker;

use super::helper::{self, Share};
use crate::error::{Error, Result};

/// The file the fault allocates in the target directory.
pub const FILL_FILE: &str = ".hadrill-fill";

pub use crate::scenario::model::Amount;

/// A fill in place: the helper in the target's PID namespace, and what it found.
#[derive(Debug, Clone)]
pub struct Filled {
    pub helper_id: String,
    pub target: String,
    /// The directory, as the target sees it.
    pub path: String,
    /// Bytes allocated.
    pub written: u64,
    /// Bytes available before and after.
    pub avail_before: u64,
    pub avail_after: u64,
    /// The filesystem's size.
    pub total: u64,
}

/// The script that measures the filesystem, allocates the file and measures again. It prints
/// `before=<avail> total=<bytes>`, then `written=<bytes> after=<avail>`; exit 3: no such directory, exit 4: the
/// amount is above `max_fill` (nothing written).
pub fn fill_script(path: &str, amount: Amount, max_fill: u64) -> String {
    let want = match amount {
        Amount::Size(n) => format!("want={n}"),
        Amount::Free(n) => format!("want=$(( avail - {n} ))"),
    };
    format!(
        "d='/proc/1/root{path}'; f=\"$d/{FILL_FILE}\"; \
         [ -d \"$d\" ] || {{ echo 'no directory {path} in the target'; exit 3; }}; \
         set -- $(stat -f -c '%a %S %b' \"$d\"); avail=$(( $1 * $2 )); total=$(( $3 * $2 )); \
         echo \"before=$avail total=$total\"; {want}; \
         if [ \"$want\" -gt {max_fill} ]; then echo \"would write $want bytes, above max_fill ({max_fill})\"; exit 4; fi; \
         if [ \"$want\" -gt 0 ]; then \
           fallocate -l \"$want\" \"$f\" 2>/dev/null || dd if=/dev/zero of=\"$f\" bs=65536 count=$(( want / 65536 + 1 )) 2>/dev/null; \
         fi; \
         written=$(stat -c %s \"$f\" 2>/dev/null || echo 0); \
         set -- $(stat -f -c '%a %S' \"$d\"); echo \"written=$written after=$(( $1 * $2 ))\""
    )
}

/// The script that deletes the file; exits 0 only when it is gone.
pub fn remove_script(path: &str) -> String {
    format!("f='/proc/1/root{path}/{FILL_FILE}'; rm -f \"$f\"; [ ! -e \"$f\" ]")
}

/// Reads `key=<number>` from the script's output.
fn field(output: &str, key: &str) -> Option<u64> {
    output
        .split_whitespace()
        .find_map(|w| w.strip_prefix(key).and_then(|v| v.strip_prefix('=')))
        .and_then(|v| v.parse().ok())
}

/// Whether a fill reached what was asked: the whole size, or no more than `free` (plus 1 MiB or 1% of the
/// filesystem of slack, for metadata and whatever else writes meanwhile) left.
pub fn reached(amount: Amount, written: u64, avail_after: u64, total: u64) -> bool {
    match amount {
        Amount::Size(n) => written >= n,
        Amount::Free(n) => avail_after <= n + (1 << 20).max(total / 100),
    }
}

/// Starts the helper in `target`'s PID namespace and fills `path`.
pub async fn apply(
    docker: &Docker,
    project: &str,
    target_id: &str,
    target: &str,
    path: &str,
    amount: Amount,
    max_fill: u64,
) -> Result<Filled> {
    let helper_id = helper::start(docker, project, target_id, target, Share::Pid, "diskfill").await?;
    let out = match helper::sh(docker, &helper_id, fill_script(path, amount, max_fill)).await {
        Ok(o) => o,
        Err(e) => {
            helper::remove(docker, &helper_id).await;
            return Err(e);
        }
    };
    let text = out.output.trim().to_string();
    if out.exit_code != 0 {
        let _ = helper::sh(docker, &helper_id, remove_script(path)).await;
        helper::remove(docker, &helper_id).await;
        return Err(Error::Other(format!("filling {path} in {target} failed: {text}")));
    }
    let get = |k| field(&text, k).unwrap_or(0);
    Ok(Filled {
        helper_id,
        target: target.to_string(),
        path: path.to_string(),
        written: get("written"),
        avail_before: get("before"),
        avail_after: get("after"),
        total: get("total"),
    })
}

/// Deletes the file, then the helper. Returns whether the file is confirmed gone.
pub async fn revert(docker: &Docker, filled: &Filled) -> Result<bool> {
    let gone =
        helper::sh(docker, &filled.helper_id, remove_script(&filled.path)).await.map(|o| o.exit_code == 0);
    helper::remove(docker, &filled.helper_id).await;
    gone.map_err(|e| {
        Error::Other(format!(
            "{e} (the helper died with {}: {}/{FILL_FILE} stays until the stack's volumes are removed)",
            filled.target, filled.path
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_script_fills_through_the_targets_root_and_refuses_above_the_cap() {
        let s = fill_script("/var/spool/demo", Amount::Free(0), 1 << 30);
        assert!(s.contains("d='/proc/1/root/var/spool/demo'"));
        assert!(s.contains("want=$(( avail - 0 ))"));
        assert!(s.contains("-gt 1073741824"));
        assert!(s.contains("fallocate -l \"$want\" \"$f\""));
        let s = fill_script("/data", Amount::Size(64 << 20), 1 << 30);
        assert!(s.contains("want=67108864"));
        assert!(remove_script("/data").contains("rm -f \"$f\""));
    }

    #[test]
    fn reads_what_the_script_printed() {
        let out = "before=33554432 total=33554432\nwritten=33554432 after=0\n";
        assert_eq!(field(out, "before"), Some(33_554_432));
        assert_eq!(field(out, "written"), Some(33_554_432));
        assert_eq!(field(out, "after"), Some(0));
        assert_eq!(field(out, "missing"), None);
    }

    #[test]
    fn a_fill_is_reached_with_a_little_slack() {
        let gib = 1u64 << 30;
        assert!(reached(Amount::Size(100), 100, 5, gib));
        assert!(!reached(Amount::Size(100), 99, 5, gib));
        assert!(reached(Amount::Free(0), 0, 4096, 32 << 20));
        assert!(reached(Amount::Free(0), 0, (1 << 20) - 1, 32 << 20));
        assert!(!reached(Amount::Free(0), 0, 2 << 20, 32 << 20));
        assert!(reached(Amount::Free(0), 0, 100 << 20, 100 * gib), "1% of a large filesystem");
    }
}
