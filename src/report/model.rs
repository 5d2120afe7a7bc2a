//! The report's data: versioned (`schema_version`), serialised as `report.json` and checked against the
//! committed JSON schema `reports/schema/report.v1.json`. Times are milliseconds since the load started.

use serde::{Deserialize, Serialize};

use crate::measure::expect::ExpectationResult;
pub use crate::measure::expect::Verdict;
use crate::measure::Measurement;
use crate::timeline::{ActionRole, EffectSource};

/// Bumped when a field changes meaning or disappears (adding optional fields keeps the version).
pub const SCHEMA_VERSION: u32 = 1;

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
    /// Each instance a rolling restart or update replaced: its window, the load balancer's view, its failures.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub replacements: Vec<super::replacements::ReplacementView>,
    /// A repeated drill (`--repeat N`): every cycle and the distributions. Absent from a single drill's report;
    /// in a repeated one the fields above are those of the last cycle that ran, but `verdict`, `expectations`
    /// and `aborted` are the whole run's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repeat: Option<Repeat>,
}

/// The cycles of a repeated drill.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Repeat {
    /// Cycles asked for (`cycles` may hold fewer when the run was interrupted or a bring-up failed).
    pub planned: u32,
    /// The run's seed; cycle k's is derived from it (`hadrill run SCENARIO --seed SEED --cycle K` replays it).
    pub seed: u64,
    /// Whether the cycles shared one stack (`--reuse-stack`) instead of a fresh one each.
    pub reuse_stack: bool,
    /// How the cycles shared their stack; absent when each had a fresh one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shared: Option<SharedStack>,
    pub cycles: Vec<CycleRow>,
    /// One per figure: the RTO, lost writes, RPO, error rate, p99, then each RTO breakdown step (its time since
    /// the fault).
    pub distributions: Vec<Distribution>,
}

/// The cycles of a repeated drill on one stack: between two cycles every fault was reverted, what a cycle left
/// stopped was started again, every service was healthy again, then `settle_ms` of quiet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SharedStack {
    /// The quiet period between two cycles, after every service was healthy again.
    pub settle_ms: u64,
    /// The stack has roles that a fault moves (a primary and its replicas, a Sentinel master): a later cycle
    /// may start with another node in a role. A fault picked by role (`pick = "primary"`) finds it; one aimed
    /// at a fixed service may hit another role than in cycle 1.
    pub roles_may_move: bool,
}

/// One cycle of a repeated drill: its figures and its own expectations. Its full report is in `dir`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CycleRow {
    /// From 1.
    pub cycle: u32,
    pub seed: u64,
    pub verdict: Verdict,
    pub project: String,
    /// The cycle's report folder, relative to the run's.
    pub dir: String,
    pub rto_status: crate::measure::rto::RtoStatus,
    pub rto_ms: Option<f64>,
    /// Null when the written data could not be read back.
    pub lost_writes: Option<u64>,
    pub rpo_ms: Option<f64>,
    pub error_rate: f64,
    pub p99_ms: Option<f64>,
    /// Each RTO breakdown step that happened, ms since the fault.
    pub steps: Vec<CycleStep>,
    pub expectations: Vec<ExpectationResult>,
    pub aborted: Option<String>,
    /// On a shared stack, what had to be started again before this cycle (what the last one left stopped).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub restarted: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CycleStep {
    pub step: String,
    pub since_fault_ms: f64,
}

/// A figure over the cycles that measured it, with the limit that applies to every cycle (or to the
/// distribution) where the scenario sets one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Distribution {
    /// `rto_ms`, `lost_writes`, `rpo_ms`, `error_rate`, `p99_ms`, `step.<breakdown step>_ms`.
    pub metric: String,
    /// Each cycle's value, by cycle (null where that cycle did not measure it).
    pub values: Vec<Option<f64>>,
    /// Null when no cycle measured it.
    pub stats: Option<crate::measure::distribution::Stats>,
    /// The limit in the metric's unit (`rto_max`, `lost_writes_max`, `rpo_max`, `error_rate_max`, `p99_max`).
    pub limit: Option<f64>,
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
    /// The wall time of each phase of the drill: bring-up, load, settle, read-back, teardown (null in reports
    /// written before hadrill measured them).
    #[serde(default)]
    pub phases: Option<crate::drill::phases::Phases>,
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
    /// How the observer learned of it: `log` (the component's own timestamp), `push` (Pub/Sub), `poll`.
    #[serde(default)]
    pub origin: crate::timeline::Origin,
    /// How late `at_ms` can be, at most (the polling interval, the timestamp's precision).
    #[serde(default)]
    pub resolution_ms: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct EventView {
    /// When the daemon reported it (ms since the load started; whole ms in reports written before 2026-11-26).
    pub at_ms: f64,
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

    fn committed_validator() -> jsonschema::Validator {
        let committed: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(schema_path()).unwrap()).unwrap();
        jsonschema::validator_for(&committed).expect("the committed schema is a JSON schema")
    }

    fn problems(v: &jsonschema::Validator, json: &serde_json::Value) -> Vec<String> {
        v.iter_errors(json).map(|e| format!("{}: {e}", e.instance_path)).collect()
    }

    #[test]
    fn an_emitted_report_json_satisfies_the_committed_schema() {
        let v = committed_validator();
        let mut r = crate::report::fixture::report();
        r.docker_events.push(EventView { at_ms: 5000.25, container: "app2".into(), action: "pause".into() });
        let json: serde_json::Value =
            serde_json::from_str(&serde_json::to_string_pretty(&r).unwrap()).unwrap();
        assert_eq!(problems(&v, &json), Vec::<String>::new());
        let mut broken = json.clone();
        broken["verdict"] = "maybe".into();
        broken["measurement"]["rto"]["rto_ms"] = "fast".into();
        assert_eq!(problems(&v, &broken).len(), 2, "the check can fail");
    }

    #[test]
    fn report_v1_files_with_whole_ms_docker_events_still_validate_and_load() {
        let mut json = serde_json::to_value(crate::report::fixture::report()).unwrap();
        json["docker_events"] =
            serde_json::json!([{ "at_ms": 5000, "container": "app2", "action": "pause" }]);
        assert_eq!(problems(&committed_validator(), &json), Vec::<String>::new());
        let r: Report = serde_json::from_value(json).unwrap();
        assert_eq!(r.docker_events[0].at_ms, 5000.0);
    }
}
