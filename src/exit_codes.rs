//! Documented exit codes, mapped in one place.

/// Every expectation held (or the command succeeded).
pub const OK: i32 = 0;
/// The drill ran and at least one expectation failed.
pub const EXPECTATION_FAILED: i32 = 1;
/// The scenario, the stack or the environment was unusable (bad input, Docker down, stack never healthy).
pub const UNUSABLE: i32 = 2;
/// Interrupted (Ctrl-C / SIGTERM); faults were reverted and the stack torn down.
pub const INTERRUPTED: i32 = 130;
