//! The report's data: versioned (`schema_version`), serialised as `report.json` and checked against the
//! committed JSON schema `reports/schema/report.v1.json`. Times are milliseconds since the load started.

use serde::{Deserialize, Serialize};

use crate::measure::expect::ExpectationResult;
use crate::measure::Measurement;
use crate::timeline::{ActionRole, EffectSource};

/// Bumped when a field changes meaning or disappears (adding optional fields keeps the version).
pub const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Every expectation held.
    Passed,
    /// At least one expectation failed.
    Failed,
    /// The drill was interrupted; the figures cover what ran.
    Aborted,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Report {
    pub schema_version: u32,
    pub hadrill_version: String,
    pub verdict: Verdict,
    pub scenario: ScenarioInfo,
    pub run: RunInfo,
    /// When the first fault took effect (ms since the load started); null when none did.
    pub t_fault_ms: Option<f64>,
    pub actions: Vec<ActionView>,
    pub docker_events: Vec<EventView>,
    /// What the stack's own components reported while the drill ran (observers).
    pub stack_events: Vec<StackEventView>,
    /// The observers that ran (`haproxy lb:8404`, ...).
    pub observers: Vec<String>,
    /// Observers named by the stack that could not run, with why.
    pub observers_skipped: Vec<String>,
    /// Replication lag of each standby just before the fault: the RPO to expect from asynchronous replication.
    pub replication_lag_before_fault: Vec<crate::observe::postgres::LagSample>,
    pub measurement: Measurement,
    pub expectations: Vec<ExpectationResult>,
    /// Reverts that failed (a fault that may still be in place if the stack was kept).
    pub revert_errors: Vec<String>,
    pub aborted: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ScenarioInfo {
    pub name: String,
    pub description: String,
    pub file: String,
    pub stack: String,
    pub duration_ms: f64,
    pub rate_per_s: u32,
    pub read_ratio: f64,
    pub request_timeout_ms: f64,
    pub max_in_flight: usize,
    pub recovery_ratio: f64,
    pub stable_for_ms: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RunInfo {
    /// The Compose project of this run.
    pub project: String,
    /// `docker compose` or `docker-compose`.
    pub compose: String,
    /// Unix time of the load's start, ms.
    pub started_unix_ms: u64,
    /// The same, as RFC 3339 UTC.
    pub started_at: String,
    pub seed: u64,
    /// Prefix of every key the write probe wrote.
    pub key_prefix: String,
    /// Whether the stack was left running (`--keep`).
    pub kept: bool,
    /// hadrill's own peak resident memory up to the measurement, in bytes (`VmHWM`; null where unknown).
    #[serde(default)]
    pub peak_rss_bytes: Option<u64>,
    /// hadrill's own CPU time (user + system) up to the measurement, in seconds (null where unknown).
    #[serde(default)]
    pub cpu_seconds: Option<f64>,
}

/// A fault or operator step as it happened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ActionView {
    pub index: usize,
    pub role: ActionRole,
    pub action: String,
    pub summary: String,
    pub targets: Vec<String>,
    pub scheduled_ms: f64,
    pub started_ms: f64,
    pub effect_ms: Option<f64>,
    pub effect_source: Option<EffectSource>,
    pub verified: bool,
    pub detail: String,
    pub reverted_ms: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct StackEventView {
    pub at_ms: f64,
    pub source: String,
    pub subject: String,
    pub state: String,
    pub kind: crate::timeline::StackEventKind,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct EventView {
    pub at_ms: u64,
    pub container: String,
    pub action: String,
}

/// The JSON schema of `report.json`, generated from these types (committed as `reports/schema/report.v1.json`).
pub fn json_schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(Report)).expect("schema serialises")
}

/// Where the committed schema lives.
pub fn schema_path() -> std::path::PathBuf {
    crate::paths::home().join("reports/schema/report.v1.json")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn committed_schema_matches_the_types() {
        let committed =
            std::fs::read_to_string(schema_path()).expect("reports/schema/report.v1.json is committed");
        let committed: serde_json::Value = serde_json::from_str(&committed).unwrap();
        assert_eq!(
            committed,
            json_schema(),
            "the report types changed: run `cargo run -- schema > reports/schema/report.v1.json` \
             (and bump SCHEMA_VERSION if a field changed meaning or went away)"
        );
    }
}
