//! Parsing and validating a scenario file with spans, so every error carries `file:line:col`: unknown keys,
//! bad durations, unknown services and networks (checked against the compose file), impossible schedules.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use super::action::{parse_action, RawAction};
use super::error::ScenarioError;
use super::model::{Load, Probe, Scenario};
use crate::duration;
use crate::limits::{self, MAX_IN_FLIGHT, MAX_RATE, MAX_REQUESTS};
use crate::measure::{expect::Expectations, Params};
use crate::stack::resolve::{self, StackSpec};
use crate::timeline::ActionRole;

pub(super) type S<T> = Spanned<T>;

pub use super::action::DEFAULT_MAX_FILL;

/// The quiet period between the cycles of a repeated drill on a reused stack, when the file gives no `settle`.
pub const DEFAULT_CYCLE_SETTLE: std::time::Duration = std::time::Duration::from_secs(10);

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "the scenario (a TOML table)")]
struct RawScenario {
    name: Option<S<String>>,
    description: Option<S<String>>,
    stack: S<String>,
    duration: S<String>,
    seed: Option<S<u64>>,
    repeat: Option<S<i64>>,
    reuse_stack: Option<S<bool>>,
    settle: Option<S<String>>,
    // Not spanned: `[[load.request]]` without a `[load]` header makes an implicit table, which a span refuses.
    #[serde(default)]
    load: Option<RawLoad>,
    #[serde(default)]
    measure: Option<RawMeasure>,
    #[serde(default)]
    fault: Vec<S<RawAction>>,
    #[serde(default)]
    step: Vec<S<RawAction>>,
    #[serde(default)]
    expect: Option<RawExpect>,
    observe: Option<super::overrides::RawObserve>,
    profiles: Option<S<Vec<String>>>,
    orchestrator: Option<S<String>>,
    nodes: Option<super::nodes::RawNodes>,
    verify: Option<S<super::workload::RawVerify>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a [load] table")]
struct RawLoad {
    probe: Option<S<String>>,
    rate: Option<S<i64>>,
    read_ratio: Option<S<f64>>,
    timeout: Option<S<String>>,
    max_in_flight: Option<S<i64>>,
    target: Option<S<String>>,
    tls_insecure: Option<S<bool>>,
    tls_ca: Option<S<String>>,
    tls_server_name: Option<S<String>>,
    host: Option<S<String>>,
    settle: Option<S<String>>,
    verify_timeout: Option<S<String>>,
    keep_alive: Option<S<bool>>,
    #[serde(default)]
    request: Vec<S<super::workload::RawRequest>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a [measure] table")]
struct RawMeasure {
    recovery_ratio: Option<S<f64>>,
    stable_for: Option<S<String>>,
    slow: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "an [expect] table")]
struct RawExpect {
    rto_max: Option<S<String>>,
    rpo_max: Option<S<String>>,
    lost_writes_max: Option<S<u64>>,
    error_rate_max: Option<S<f64>>,
    p99_max: Option<S<String>>,
    recovered: Option<bool>,
    rto_p50_max: Option<S<String>>,
    rto_p90_max: Option<S<String>>,
    lost_writes_total_max: Option<S<u64>>,
    flaky_max: Option<S<u64>>,
    availability_min: Option<S<f64>>,
    degraded_max: Option<S<String>>,
}

/// Reads and validates a scenario file (no Docker involved).
pub fn load(file: &Path) -> Result<Scenario, ScenarioError> {
    let at_start = |message: String| ScenarioError { file: file.to_path_buf(), line: 1, col: 1, message };
    let bytes = limits::read_capped(file, limits::MAX_SCENARIO_BYTES)
        .map_err(|e| at_start(format!("cannot read: {e}")))?;
    let text = String::from_utf8(bytes).map_err(|e| {
        let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        let text = String::from_utf8_lossy(valid);
        ScenarioError::at(file, &text, Some(valid.len()..valid.len()), "not UTF-8 text (a scenario is TOML)")
    })?;
    parse(file, &text)
}

/// The validation context: the file's text for error places, and the stack for service names.
pub(super) struct Ctx<'a> {
    pub(super) file: &'a Path,
    pub(super) text: &'a str,
    /// The scenario (or its stack's `x-hadrill`) says `orchestrator = "swarm"`: deploy actions go through the
    /// service API and follow the stack file's `update_config`.
    pub(super) swarm: bool,
}

impl Ctx<'_> {
    pub(super) fn err(&self, span: Range<usize>, msg: impl Into<String>) -> ScenarioError {
        ScenarioError::at(self.file, self.text, Some(span), msg)
    }

    pub(super) fn dur(&self, v: &S<String>, what: &str) -> Result<Duration, ScenarioError> {
        duration::parse(v.get_ref()).map_err(|e| self.err(v.span(), format!("{what}: {e}")))
    }

    pub(super) fn opt_dur(
        &self,
        v: &Option<S<String>>,
        what: &str,
        default: Duration,
    ) -> Result<Duration, ScenarioError> {
        v.as_ref().map(|v| self.dur(v, what)).unwrap_or(Ok(default))
    }
}

/// Validates a scenario's text; `file` is used for messages and to resolve relative stack paths.
pub fn parse(file: &Path, text: &str) -> Result<Scenario, ScenarioError> {
    let mut raw: RawScenario = toml::from_str(text)
        .map_err(|e| ScenarioError::at(file, text, e.span(), syntax_message(text, &e)))?;
    let shell: Vec<Range<usize>> = (raw.fault.iter().chain(&raw.step))
        .flat_map(|a| {
            [a.get_ref().command.as_ref().map(S::span), a.get_ref().where_cmd.as_ref().map(S::span)]
        })
        .flatten()
        .collect();
    let vars = super::vars::Vars::read(file, text, &shell, |n| std::env::var(n).ok())?;
    let mut https = false;
    if let Some(t) = raw.load.as_mut().and_then(|l| l.target.as_mut()) {
        https = super::overrides::strip_scheme(file, text, t)?;
    }
    let cx = Ctx { file, text, swarm: false };
    let stack_arg = stack_argument(file, raw.stack.get_ref());
    let spec = resolve::resolve(&stack_arg).map_err(|e| cx.err(raw.stack.span(), e.to_string()))?;
    let orchestrator = match &raw.orchestrator {
        Some(o) => Some(o.get_ref().parse().map_err(|e: String| cx.err(o.span(), e))?),
        None => None,
    };
    let swarm = orchestrator.or(spec.meta.orchestrator) == Some(crate::swarm::Orchestrator::Swarm);
    let cx = Ctx { file, text, swarm };
    let overrides = super::overrides::StackOverrides::read(
        file,
        text,
        &spec,
        &vars,
        raw.observe.as_ref(),
        raw.profiles.as_ref(),
    )?;
    let spec = overrides.apply(spec);
    let duration = cx.dur(&raw.duration, "duration")?;
    if duration < Duration::from_secs(1) {
        let given = raw.duration.get_ref();
        return Err(cx.err(raw.duration.span(), format!("duration {given:?} must be at least 1s")));
    }
    let mut load = parse_load(&cx, raw.load.as_ref(), (&spec, raw.stack.span()), duration)?;
    let raw_load = raw.load.as_ref();
    load.workload = super::workload::read(
        file,
        text,
        &vars,
        raw_load.map(|l| l.request.as_slice()).unwrap_or_default(),
        raw_load.and_then(|l| l.keep_alive.as_ref()),
        raw.verify.as_ref(),
    )?
    .map(std::sync::Arc::new);
    if let Some(l) = raw.load.as_ref() {
        let keys = super::tls::RawTls {
            insecure: l.tls_insecure.clone(),
            ca: l.tls_ca.clone(),
            server_name: l.tls_server_name.clone(),
            host: l.host.clone(),
        };
        load.client = super::tls::read(&cx, https, keys)?;
    }
    let measure = parse_measure(&cx, raw.measure.as_ref(), duration)?;
    let mut actions = Vec::new();
    let entries = raw
        .fault
        .iter()
        .map(|a| (ActionRole::Fault, a))
        .chain(raw.step.iter().map(|a| (ActionRole::Step, a)));
    let mut sorted: Vec<_> = entries.collect();
    sorted.sort_by_key(|(_, a)| a.span().start);
    if let Some((_, extra)) = sorted.get(limits::MAX_ACTIONS) {
        let most = limits::MAX_ACTIONS;
        return Err(
            cx.err(extra.span(), format!("more than {most} faults and steps: a drill takes at most {most}"))
        );
    }
    for (index, (role, a)) in sorted.into_iter().enumerate() {
        actions.push(parse_action(&cx, index, role, a, &spec, duration)?);
    }
    super::schedule::check_overlaps(file, &actions, duration)?;
    let expect = parse_expect(&cx, raw.expect.as_ref(), measure.slow.is_some())?;
    let nodes = super::nodes::read(&cx, raw.nodes.as_ref())?;
    let repeat = match &raw.repeat {
        Some(r) => Some(in_range(&cx, r, "repeat", 1..=limits::MAX_REPEAT, " cycles")?),
        None => None,
    };
    let name = match raw.name {
        Some(n) => n.into_inner(),
        None => file.file_stem().and_then(|s| s.to_str()).unwrap_or("scenario").to_string(),
    };
    Ok(Scenario {
        file: file.to_path_buf(),
        name,
        description: raw.description.map(Spanned::into_inner).unwrap_or_default(),
        stack: stack_arg,
        duration,
        seed: raw.seed.map(Spanned::into_inner),
        repeat,
        reuse_stack: raw.reuse_stack.map(Spanned::into_inner).unwrap_or(false),
        settle: cx.opt_dur(&raw.settle, "settle", DEFAULT_CYCLE_SETTLE)?,
        load,
        measure,
        actions,
        expect,
        overrides,
        orchestrator,
        nodes,
    })
}

/// The `[load]` table; `stack` is the stack and the span of its name, where a missing endpoint is reported.
fn parse_load(
    cx: &Ctx,
    raw: Option<&RawLoad>,
    (spec, stack_span): (&StackSpec, Range<usize>),
    total: Duration,
) -> Result<Load, ScenarioError> {
    let l = raw;
    let span = l.and_then(|l| l.rate.as_ref()).map(|r| r.span()).unwrap_or(0..0);
    let rate = match l.and_then(|l| l.rate.as_ref()) {
        Some(r) => in_range(cx, r, "rate", 1..=MAX_RATE, " per second")?,
        None => 100,
    };
    let requests = u64::from(rate).saturating_mul(total.as_secs().max(1));
    if requests > MAX_REQUESTS {
        return Err(cx.err(
            span,
            format!(
                "rate {rate}/s for {} is {requests} requests: {}",
                duration::human(total),
                limits::requests_bound()
            ),
        ));
    }
    let read_ratio = match l.and_then(|l| l.read_ratio.as_ref()) {
        Some(r) if !(0.0..=1.0).contains(r.get_ref()) => {
            return Err(cx.err(r.span(), format!("read_ratio {} must be between 0 and 1", r.get_ref())))
        }
        Some(r) => *r.get_ref(),
        None => 0.5,
    };
    let max_in_flight = match l.and_then(|l| l.max_in_flight.as_ref()) {
        Some(m) => in_range(cx, m, "max_in_flight", 1..=MAX_IN_FLIGHT, "")?,
        None => 512,
    };
    let probe = match l.and_then(|l| l.probe.as_ref()) {
        None => Probe::Http,
        Some(p) => match p.get_ref().as_str() {
            "http" => Probe::Http,
            "postgres" if !spec.meta.observe.postgres.is_empty() => Probe::Postgres,
            "redis" if !spec.meta.observe.sentinel.is_empty() => Probe::Redis,
            "postgres" | "redis" => {
                return Err(cx.err(
                    p.span(),
                    format!(
                        "probe {:?}: stack {} lists no {} nodes in x-hadrill.observe",
                        p.get_ref(),
                        spec.name,
                        if p.get_ref() == "redis" { "sentinel" } else { "postgres" }
                    ),
                ))
            }
            other => return Err(cx.err(p.span(), format!("unknown probe {other:?} (http, postgres, redis)"))),
        },
    };
    let target = match l.and_then(|l| l.target.as_ref()) {
        Some(t) => {
            let (svc, port) = t
                .get_ref()
                .rsplit_once(':')
                .ok_or_else(|| cx.err(t.span(), format!("target {:?} must be service:port", t.get_ref())))?;
            if !port.parse::<u16>().is_ok_and(|p| p > 0) {
                return Err(cx.err(
                    t.span(),
                    format!("target {:?}: port {port:?} is not a port (1 to 65535)", t.get_ref()),
                ));
            }
            if !spec.has_service(svc) {
                return Err(cx.err(
                    t.span(),
                    format!(
                        "target {:?}: no service {svc:?} in stack {} (services: {})",
                        t.get_ref(),
                        spec.name,
                        spec.services.join(", ")
                    ),
                ));
            }
            Some(t.get_ref().clone())
        }
        None if probe == Probe::Http && spec.meta.http.is_none() => {
            return Err(cx.err(
                stack_span,
                format!("stack {} names no HTTP endpoint: set load.target = \"service:port\"", spec.name),
            ))
        }
        None => None,
    };
    let timeout = cx.opt_dur(&l.and_then(|l| l.timeout.clone()), "timeout", Duration::from_secs(2))?;
    for (v, what) in [
        (l.and_then(|l| l.timeout.as_ref()), "timeout"),
        (l.and_then(|l| l.verify_timeout.as_ref()), "verify_timeout"),
    ] {
        if let Some(v) = v.filter(|v| duration::parse(v.get_ref()).is_ok_and(|d| d.is_zero())) {
            return Err(cx.err(v.span(), format!("{what} {:?} must be above 0", v.get_ref())));
        }
    }
    Ok(Load {
        probe,
        rate,
        read_ratio,
        timeout,
        max_in_flight,
        target,
        client: Default::default(),
        settle: cx.opt_dur(&l.and_then(|l| l.settle.clone()), "settle", Duration::from_secs(3))?,
        verify_timeout: cx.opt_dur(
            &l.and_then(|l| l.verify_timeout.clone()),
            "verify_timeout",
            Duration::from_secs(60),
        )?,
        workload: None,
    })
}

/// A whole number of the file within `range`, or an error at it that gives the range.
fn in_range<T>(
    cx: &Ctx,
    v: &S<i64>,
    what: &str,
    range: std::ops::RangeInclusive<T>,
    unit: &str,
) -> Result<T, ScenarioError>
where
    T: TryFrom<i64> + PartialOrd + std::fmt::Display,
{
    T::try_from(*v.get_ref()).ok().filter(|n| range.contains(n)).ok_or_else(|| {
        let (lo, hi) = (range.start(), range.end());
        cx.err(v.span(), format!("{what} {} must be between {lo} and {hi}{unit}", v.get_ref()))
    })
}

fn parse_measure(cx: &Ctx, raw: Option<&RawMeasure>, total: Duration) -> Result<Params, ScenarioError> {
    let recovery_ratio = match raw.and_then(|m| m.recovery_ratio.as_ref()) {
        Some(r) if !(*r.get_ref() > 0.0 && *r.get_ref() <= 1.0) => {
            return Err(cx.err(r.span(), format!("recovery_ratio {} must be in (0, 1]", r.get_ref())))
        }
        Some(r) => *r.get_ref(),
        None => 1.0,
    };
    let given = raw.and_then(|m| m.stable_for.as_ref());
    let stable_for = cx.opt_dur(&given.cloned(), "stable_for", Duration::from_secs(3))?;
    if let Some(v) = given.filter(|_| stable_for >= total) {
        return Err(cx.err(
            v.span(),
            format!(
                "stable_for {:?} is not shorter than the drill ({}): recovery could never be seen",
                v.get_ref(),
                duration::human(total)
            ),
        ));
    }
    let slow = match raw.and_then(|m| m.slow.as_ref()) {
        Some(v) if cx.dur(v, "slow")?.is_zero() => {
            return Err(cx.err(v.span(), format!("slow {:?} must be above 0", v.get_ref())))
        }
        Some(v) => Some(cx.dur(v, "slow")?),
        None => None,
    };
    Ok(Params { recovery_ratio, stable_for, slow })
}

/// `[expect]`; `slow_set`: whether `[measure] slow` is, without which nothing can be degraded.
fn parse_expect(cx: &Ctx, raw: Option<&RawExpect>, slow_set: bool) -> Result<Expectations, ScenarioError> {
    let Some(e) = raw else {
        return Ok(Expectations::default());
    };
    let opt = |v: &Option<S<String>>, what: &str| v.as_ref().map(|v| cx.dur(v, what)).transpose();
    if let Some(r) = &e.error_rate_max {
        if !(0.0..=1.0).contains(r.get_ref()) {
            return Err(cx.err(r.span(), format!("error_rate_max {} must be between 0 and 1", r.get_ref())));
        }
    }
    if let Some(a) = e.availability_min.as_ref().filter(|a| !(0.0..=100.0).contains(a.get_ref())) {
        let msg = format!("availability_min {} must be a percentage between 0 and 100", a.get_ref());
        return Err(cx.err(a.span(), msg));
    }
    if let Some(d) = e.degraded_max.as_ref().filter(|_| !slow_set) {
        let msg =
            format!("degraded_max {:?} needs [measure] slow: without it nothing is degraded", d.get_ref());
        return Err(cx.err(d.span(), msg));
    }
    Ok(Expectations {
        rto_max: opt(&e.rto_max, "rto_max")?,
        rpo_max: opt(&e.rpo_max, "rpo_max")?,
        lost_writes_max: e.lost_writes_max.as_ref().map(|v| *v.get_ref()),
        error_rate_max: e.error_rate_max.as_ref().map(|v| *v.get_ref()),
        p99_max: opt(&e.p99_max, "p99_max")?,
        recovered: e.recovered,
        rto_p50_max: opt(&e.rto_p50_max, "rto_p50_max")?,
        rto_p90_max: opt(&e.rto_p90_max, "rto_p90_max")?,
        lost_writes_total_max: e.lost_writes_total_max.as_ref().map(|v| *v.get_ref()),
        flaky_max: e.flaky_max.as_ref().map(|v| *v.get_ref()),
        availability_min: e.availability_min.as_ref().map(|v| *v.get_ref()),
        degraded_max: opt(&e.degraded_max, "degraded_max")?,
    })
}

/// A TOML error in words: the parser's own message, or (where it has none) what is at the error's place.
fn syntax_message(text: &str, e: &toml::de::Error) -> String {
    let own = e.message().trim();
    if !own.is_empty() {
        return own.replace('\n', ": ");
    }
    let at = e.span().map(|s| s.start).unwrap_or(0);
    match text.get(at..).and_then(|rest| rest.chars().next()) {
        None => "the file ends where a value is expected".into(),
        Some('\n' | '\r') => "a value is expected before the end of the line".into(),
        Some(c) if c.is_control() => {
            format!("character {c:?} is not allowed in TOML (no control characters, not even in comments)")
        }
        Some(c) => format!("TOML does not allow {c:?} here"),
    }
}

/// A stack written as a path (or a `.yml` file name) is relative to the scenario's folder; a bare name is a
/// bundled stack.
fn stack_argument(file: &Path, stack: &str) -> String {
    let is_file = stack.contains('/') || stack.ends_with(".yml") || stack.ends_with(".yaml");
    if is_file && !Path::new(stack).is_absolute() {
        let base = file.parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("."));
        base.join(stack).to_string_lossy().to_string()
    } else {
        stack.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::model::{Action, Pick};

    const HEAD: &str = "name = \"x\"\nstack = \"web-haproxy-pg\"\nduration = \"30s\"\n";

    fn check(text: &str) -> Result<Scenario, ScenarioError> {
        parse(Path::new("scenarios/t.toml"), text)
    }

    fn err_at(text: &str) -> (usize, usize, String) {
        let e = check(text).unwrap_err();
        (e.line, e.col, e.message)
    }

    #[test]
    fn reuse_stack_and_its_settle_parse_with_a_ten_second_default() {
        let s = check(&format!("{HEAD}repeat = 3\nreuse_stack = true\nsettle = \"4s\"\n")).unwrap();
        assert!(s.reuse_stack);
        assert_eq!(s.settle, Duration::from_secs(4));
        let plain = check(HEAD).unwrap();
        assert!(!plain.reuse_stack);
        assert_eq!(plain.settle, Duration::from_secs(10));
        let (line, col, msg) = err_at(&format!("{HEAD}reuse_stack = true\nsettle = \"soon\"\n"));
        assert_eq!((line, col), (5, 10), "{msg}");
        assert!(msg.contains("settle") && msg.contains("soon"), "{msg}");
        let (line, _, msg) = err_at(&format!("{HEAD}reuse_stack = \"yes\"\n"));
        assert_eq!(line, 4, "{msg}");
    }

    #[test]
    fn repeat_and_the_distribution_expectations_parse_and_are_checked() {
        let s = check(&format!(
            "{HEAD}repeat = 5\n[expect]\nrto_p50_max = \"7s\"\nrto_p90_max = \"10s\"\n\
             lost_writes_total_max = 3\nflaky_max = 1\n"
        ))
        .unwrap();
        assert_eq!(s.repeat, Some(5));
        let e = &s.expect;
        assert_eq!(
            (e.rto_p50_max, e.rto_p90_max),
            (Some(Duration::from_secs(7)), Some(Duration::from_secs(10)))
        );
        assert_eq!((e.lost_writes_total_max, e.flaky_max), (Some(3), Some(1)));
        assert_eq!(check(HEAD).unwrap().repeat, None);
        assert_eq!(
            err_at(&format!("{HEAD}repeat = 0\n")),
            (4, 10, "repeat 0 must be between 1 and 100 cycles".into())
        );
        let (line, col, msg) = err_at(&format!("{HEAD}[expect]\nrto_p90_max = \"soon\"\n"));
        assert_eq!((line, col), (5, 15));
        assert!(msg.starts_with("rto_p90_max: "), "{msg}");
    }

    #[test]
    fn a_full_scenario_parses() {
        let s = check(&format!(
            "{HEAD}seed = 7\n[load]\nrate = 200\nread_ratio = 0.25\n[measure]\nstable_for = \"2s\"\n\
             [[fault]]\nat = \"10s\"\naction = \"kill\"\ntarget = [\"app1\", \"app2\"]\npick = \"one\"\n\
             [[step]]\nat = \"12s\"\naction = \"exec\"\ntarget = \"pg-replica\"\ncommand = [\"pg_ctl\", \"promote\"]\n\
             [[fault]]\nat = \"5s\"\naction = \"pause\"\ntarget = \"app3\"\nduration = \"2s\"\n\
             [expect]\nrto_max = \"5s\"\nlost_writes_max = 0\n"
        ))
        .unwrap();
        assert_eq!(s.duration, Duration::from_secs(30));
        assert_eq!(s.load.rate, 200);
        assert_eq!(s.seed, Some(7));
        assert_eq!(s.actions.len(), 3);
        assert_eq!(s.actions[0].action, Action::Kill { signal: "SIGKILL".into() });
        assert_eq!(s.actions[0].target.pick, Pick::One);
        assert_eq!(s.actions[1].role, ActionRole::Step, "file order: the step comes second");
        assert_eq!(s.actions[2].action, Action::Pause);
        assert_eq!(s.actions[2].ends_at(), Some(Duration::from_secs(7)));
        assert_eq!(s.expect.rto_max, Some(Duration::from_secs(5)));
        assert_eq!(s.measure.stable_for, Duration::from_secs(2));
        assert_eq!(s.measure.slow, None);
    }

    #[test]
    fn a_latency_slo_parses() {
        let s = check(&format!(
            "{HEAD}[measure]\nslow = \"500ms\"\n[expect]\navailability_min = 99.9\ndegraded_max = \"2s\"\n"
        ))
        .unwrap();
        assert_eq!(s.measure.slow, Some(Duration::from_millis(500)));
        assert_eq!(s.expect.availability_min, Some(99.9));
        assert_eq!(s.expect.degraded_max, Some(Duration::from_secs(2)));
    }

    #[test]
    fn unknown_stack_is_reported_at_its_value() {
        let (line, col, msg) = err_at("name = \"x\"\nstack = \"nope\"\nduration = \"3s\"\n");
        assert_eq!((line, col), (2, 9));
        assert!(msg.contains("unknown stack \"nope\""), "{msg}");
    }

    #[test]
    fn syntax_errors_and_unknown_keys_have_places() {
        let (line, _, _) = err_at("stack = \"web-haproxy-pg\"\nrate = = 3\n");
        assert_eq!(line, 2);
        let (line, col, msg) = err_at(&format!("{HEAD}\nbogus = 1\n"));
        assert_eq!((line, col), (5, 1));
        assert!(msg.contains("bogus"), "{msg}");
        let (line, _, msg) = err_at(&format!("{HEAD}[load]\nrat = 3\n"));
        assert_eq!(line, 5);
        assert!(msg.contains("rat"), "{msg}");
    }

    #[test]
    fn unknown_service_is_named_with_its_place() {
        let (line, col, msg) =
            err_at(&format!("{HEAD}[[fault]]\nat = \"1s\"\naction = \"kill\"\ntarget = \"app9\"\n"));
        assert_eq!((line, col), (7, 10));
        assert!(msg.contains("unknown service \"app9\""), "{msg}");
    }

    #[test]
    fn bad_durations_and_impossible_schedules_are_refused() {
        let (line, col, msg) =
            err_at(&format!("{HEAD}[[fault]]\nat = \"10 s\"\naction = \"kill\"\ntarget = \"app1\"\n"));
        assert_eq!((line, col), (5, 6));
        assert!(msg.contains("\"10 s\""), "{msg}");
        let (line, _, msg) =
            err_at(&format!("{HEAD}[[fault]]\nat = \"31s\"\naction = \"kill\"\ntarget = \"app1\"\n"));
        assert_eq!(line, 5);
        assert!(msg.contains("not before the end"), "{msg}");
        let (line, _, msg) = err_at(&format!(
            "{HEAD}[[fault]]\nat = \"25s\"\naction = \"pause\"\ntarget = \"app1\"\nduration = \"10s\"\n"
        ));
        assert_eq!(line, 8);
        assert!(msg.contains("past the end"), "{msg}");
    }

    #[test]
    fn action_settings_are_checked() {
        let (_, _, msg) =
            err_at(&format!("{HEAD}[[fault]]\nat = \"1s\"\naction = \"pause\"\ntarget = \"app1\"\n"));
        assert!(msg.contains("needs a duration"), "{msg}");
        let (line, _, msg) = err_at(&format!(
            "{HEAD}[[fault]]\nat = \"1s\"\naction = \"pause\"\ntarget = \"app1\"\nduration = \"1s\"\nsignal = \"TERM\"\n"
        ));
        assert_eq!(line, 9);
        assert!(msg.contains("signal is not a setting"), "{msg}");
        let (_, _, msg) = err_at(&format!(
            "{HEAD}[[fault]]\nat = \"1s\"\naction = \"disconnect\"\ntarget = \"app1\"\nduration = \"1s\"\nnetwork = \"nope\"\n"
        ));
        assert!(msg.contains("unknown network \"nope\""), "{msg}");
        let (_, _, msg) =
            err_at(&format!("{HEAD}[[fault]]\nat = \"1s\"\naction = \"explode\"\ntarget = \"app1\"\n"));
        assert!(msg.contains("unknown action \"explode\""), "{msg}");
        let (_, _, msg) = err_at(&format!(
            "{HEAD}[[fault]]\nat = \"1s\"\naction = \"partition\"\ntarget = \"app1\"\nduration = \"1s\"\npeers = [\"app1\"]\n"
        ));
        assert!(msg.contains("both a target and a peer"), "{msg}");
    }

    #[test]
    fn network_faults_parse_and_check_their_settings() {
        let s = check(&format!(
            "{HEAD}[[fault]]\nat = \"1s\"\naction = \"loss\"\ntarget = \"app1\"\npercent = 30\npeers = [\"lb\"]\nduration = \"5s\"\n\
             [[fault]]\nat = \"2s\"\naction = \"delay\"\ntarget = \"app2\"\nlatency = \"200ms\"\njitter = \"20ms\"\nduration = \"5s\"\n\
             [[fault]]\nat = \"3s\"\naction = \"throttle\"\ntarget = \"app3\"\nrate = \"2mbit\"\nduration = \"5s\"\n"
        ))
        .unwrap();
        assert_eq!(s.actions[0].action, Action::Loss { percent: 30.0, peers: vec!["lb".into()] });
        assert_eq!(s.actions[0].place, (6, 10));
        assert_eq!(
            s.actions[1].action,
            Action::Delay { latency: Duration::from_millis(200), jitter: Duration::from_millis(20) }
        );
        assert_eq!(s.actions[2].action, Action::Throttle { kbit: 2000 });
        let fault = |body: &str| {
            err_at(&format!("{HEAD}[[fault]]\nat = \"1s\"\ntarget = \"app1\"\nduration = \"2s\"\n{body}"))
        };
        let (line, col, msg) = fault("action = \"loss\"\npercent = 130\n");
        assert_eq!((line, col), (9, 11));
        assert!(msg.contains("percent 130"), "{msg}");
        assert!(fault("action = \"loss\"\n").2.contains("needs percent"));
        assert!(fault("action = \"delay\"\n").2.contains("needs latency"));
        assert!(fault("action = \"delay\"\nlatency = \"10ms\"\njitter = \"20ms\"\n")
            .2
            .contains("jitter must not"));
        assert!(fault("action = \"throttle\"\nrate = \"fast\"\n").2.contains("not a number"));
        assert!(fault("action = \"throttle\"\nrate = \"10mbps\"\n").2.contains("kbit, mbit or gbit"));
        assert!(fault("action = \"pause\"\npercent = 3\n").2.contains("percent is not a setting"));
        assert!(fault("action = \"loss\"\npercent = 3\npeers = [\"app1\"]\n")
            .2
            .contains("both a target and a peer"));
        let (_, _, msg) = err_at(&format!(
            "{HEAD}[[fault]]\nat = \"1s\"\naction = \"loss\"\ntarget = \"app1\"\npercent = 5\n"
        ));
        assert!(msg.contains("needs a duration"), "{msg}");
    }

    #[test]
    fn fill_disk_needs_a_path_and_one_amount_under_the_cap() {
        use crate::scenario::model::Amount;
        let fault = |body: &str| {
            check(&format!(
                "{HEAD}[[fault]]\nat = \"1s\"\ntarget = \"app1\"\nduration = \"2s\"\naction = \"fill-disk\"\n{body}"
            ))
        };
        let s = fault("path = \"/var/spool/demo\"\nfree = \"0\"\n").unwrap();
        assert_eq!(
            s.actions[0].action,
            Action::FillDisk {
                path: "/var/spool/demo".into(),
                amount: Amount::Free(0),
                max_fill: DEFAULT_MAX_FILL
            }
        );
        let s = fault("path = \"/data\"\nsize = \"8GiB\"\nmax_fill = \"10GiB\"\n").unwrap();
        assert_eq!(
            s.actions[0].action,
            Action::FillDisk { path: "/data".into(), amount: Amount::Size(8 << 30), max_fill: 10 << 30 }
        );
        let msg = |body: &str| fault(body).unwrap_err().message;
        assert!(msg("size = \"1MiB\"\n").contains("needs path"));
        assert!(msg("path = \"data\"\nsize = \"1MiB\"\n").contains("must be absolute"));
        assert!(msg("path = \"/d\"\n").contains("needs size"));
        assert!(msg("path = \"/d\"\nsize = \"1MiB\"\nfree = \"0\"\n").contains("not both"));
        assert!(msg("path = \"/d\"\nsize = \"8GiB\"\n").contains("above max_fill"));
        assert!(msg("path = \"/d\"\nsize = \"8\"\n").contains("no unit"));
        let e = fault("path = \"/d\"\nsize = \"8\"\n").unwrap_err();
        assert_eq!((e.line, e.col), (10, 8));
    }

    #[test]
    fn no_message_is_empty_or_speaks_of_hadrills_insides() {
        for (text, place, says) in [
            (format!("{HEAD}# bad\x7f comment\n"), (4, 6), "character '\\u{7f}' is not allowed"),
            (format!("{HEAD}[load]\nrate ="), (5, 7), "the file ends where a value is expected"),
            (format!("{HEAD}[load]\nrate =\nx = 1\n"), (5, 7), "invalid string"),
            (format!("{HEAD}[load]\ntarget = \"lb:99999\"\n"), (5, 10), "port \"99999\" is not a port"),
            (format!("{HEAD}[load]\ntarget = \"lb:0\"\n"), (5, 10), "port \"0\" is not a port"),
            (
                format!("{HEAD}[[fault]]\nat = \"1s\"\naction = \"kill\"\ntarget = 5\n"),
                (7, 10),
                "target must be a service name or a list",
            ),
            (format!("{HEAD}load = 5\n"), (4, 8), "expected a [load] table"),
            (format!("{HEAD}measure = []\n"), (4, 11), "expected a [measure] table"),
            (
                "stack = \"web-haproxy-pg\"\nduration = \"0.5s\"\n".into(),
                (2, 12),
                "duration \"0.5s\" must be",
            ),
            (
                "duration = \"30s\"\nstack = \"redis-sentinel\"\n[load]\nrate = 5\n".into(),
                (2, 9),
                "names no HTTP endpoint",
            ),
            (format!("{HEAD}[load]\nmax_in_flight = 9223372036854775807\n"), (5, 17), "between 1 and 10000"),
            (format!("{HEAD}[load]\nrate = 4294967297\n"), (5, 8), "rate"),
        ] {
            let (line, col, msg) = err_at(&text);
            assert!(msg.contains(says), "{text:?}: {msg}");
            assert_eq!((line, col), place, "{text:?}: {msg}");
            for inside in ["Raw", "OneOrMany", "untagged"] {
                assert!(!msg.contains(inside), "{text:?}: {msg}");
            }
        }
    }

    #[test]
    fn bandwidths_past_the_range_are_refused_not_wrapped() {
        let (line, _, msg) = err_at(&format!(
            "{HEAD}[[fault]]\nat = \"1s\"\naction = \"throttle\"\ntarget = \"app1\"\nduration = \"2s\"\nrate = \"18446744073709552mbit\"\n"
        ));
        assert_eq!(line, 9);
        assert!(msg.contains("out of range"), "{msg}");
    }

    /// A `[[fault]]` entry at `at` on `target` (a TOML value) with `rest` as its other lines.
    fn entry(at: &str, action: &str, target: &str, rest: &str) -> String {
        format!("[[fault]]\nat = \"{at}\"\naction = \"{action}\"\ntarget = {target}\n{rest}")
    }

    #[test]
    fn check_refuses_what_could_only_fail_later() {
        let d = |s: &str| format!("duration = \"{s}\"\n");
        let pause = |at: &str, len: &str| entry(at, "pause", "\"app1\"", &d(len));
        for (body, line, says) in [
            (pause("1s", "5s") + &pause("3s", "2s"), 11, "\"app1\" is paused"),
            (
                entry("1s", "kill", "\"app1\"", "") + &pause("3s", "1s"),
                10,
                "\"app1\" is down, from the kill at 1.00s",
            ),
            (
                entry("1s", "stop", "[\"app1\", \"app2\"]", &d("2s"))
                    + &entry("2s", "exec", "\"app2\"", "command = [\"true\"]\n"),
                11,
                "is down",
            ),
            (
                entry("1s", "disconnect", "\"app1\"", &(d("5s") + "network = \"db\"\n"))
                    + &entry("2s", "disconnect", "\"app1\"", &(d("1s") + "network = \"db\"\n")),
                12,
                "already disconnected",
            ),
            (
                entry("1s", "partition", "\"app1\"", &(d("5s") + "peers = [\"lb\"]\n"))
                    + &entry("2s", "loss", "\"app1\"", &(d("1s") + "percent = 5\n")),
                12,
                "one iptables chain",
            ),
            (
                entry("1s", "throttle", "\"app1\"", &(d("5s") + "rate = \"1mbit\"\n"))
                    + &entry("2s", "throttle", "\"app1\"", &(d("1s") + "rate = \"2mbit\"\n")),
                12,
                "one qdisc",
            ),
            (
                entry("1s", "delay", "\"app1\"", &(d("5s") + "latency = \"100ms\"\n"))
                    + &entry("2s", "throttle", "[\"app2\", \"app1\"]", &(d("1s") + "rate = \"2mbit\"\n")),
                12,
                "one qdisc",
            ),
            (entry("1s", "kill", "[\"app1\", \"app1\"]", ""), 7, "\"app1\" is named twice"),
            (pause("1s", "0s"), 8, "duration \"0s\" must be above 0"),
            ("[measure]\nstable_for = \"1h\"\n".into(), 5, "stable_for \"1h\" is not shorter than the drill"),
            (
                entry("1s", "disconnect", "\"lb\"", &(d("1s") + "network = \"db\"\n")),
                9,
                "\"lb\" is not on network \"db\" (it joins: front)",
            ),
            (
                entry("1s", "disconnect", "\"app1\"", &(d("1s") + "network = \"default\"\n")),
                9,
                "not on network \"default\"",
            ),
            ("[load]\ntimeout = \"0s\"\n".into(), 5, "timeout \"0s\" must be above 0"),
            ("[measure]\nslow = \"0ms\"\n".into(), 5, "slow \"0ms\" must be above 0"),
            ("[measure]\nslow = \"fast\"\n".into(), 5, "slow: "),
            ("[expect]\navailability_min = 100.5\n".into(), 5, "availability_min 100.5 must be a percentage"),
            ("[expect]\ndegraded_max = \"2s\"\n".into(), 5, "degraded_max \"2s\" needs [measure] slow"),
            ("[load]\nverify_timeout = \"0ms\"\n".into(), 5, "verify_timeout \"0ms\" must be above 0"),
            (entry("1s", "exec", "\"app1\"", "command = [\"\"]\n"), 8, "program \"\" is empty"),
        ] {
            let (l, _, msg) = err_at(&format!("{HEAD}{body}"));
            assert!(msg.contains(says), "{body}: {msg}");
            assert_eq!(l, line, "{body}: {msg}");
        }
    }

    #[test]
    fn overlaps_that_compose_are_accepted() {
        let d = |s: &str| format!("duration = \"{s}\"\n");
        for body in [
            entry("1s", "kill", "\"app1\"", "")
                + &entry("2s", "restart", "\"app1\"", "")
                + &entry("3s", "pause", "\"app1\"", &d("1s")),
            entry("1s", "kill", "\"app1\"", &d("2s")) + &entry("3s", "pause", "\"app1\"", &d("1s")),
            entry("1s", "pause", "\"app1\"", &d("2s")) + &entry("1s", "pause", "\"app2\"", &d("2s")),
            entry("1s", "delay", "\"app1\"", &(d("5s") + "latency = \"100ms\"\n"))
                + &entry("2s", "partition", "\"app1\"", &(d("1s") + "peers = [\"lb\"]\n")),
            entry("1s", "disconnect", "\"app1\"", &(d("5s") + "network = \"db\"\n"))
                + &entry("2s", "disconnect", "\"app1\"", &(d("1s") + "network = \"front\"\n"))
                + &entry("2s", "pause", "\"app1\"", &d("1s")),
            entry("1s", "kill", "[\"app1\", \"app2\"]", "pick = \"one\"\n")
                + &entry("2s", "pause", "\"app1\"", &d("1s")),
            entry("1s", "kill", "\"app1\"", "signal = \"HUP\"\n")
                + &entry("2s", "pause", "\"app1\"", &d("1s")),
        ] {
            if let Err(e) = check(&format!("{HEAD}{body}")) {
                panic!("{body}: {e}");
            }
        }
    }

    #[test]
    fn absurd_load_is_refused_before_starting() {
        let (_, _, msg) = err_at("stack = \"web-haproxy-pg\"\nduration = \"1h\"\n[load]\nrate = 200000\n");
        assert!(msg.contains("720000000 requests: above the 400000000") && msg.contains("disk"), "{msg}");
        let day =
            check("name = \"x\"\nstack = \"web-haproxy-pg\"\nduration = \"24h\"\n[load]\nrate = 1000\n");
        assert!(day.is_ok(), "a day at 1,000 req/s (86.4 million requests) runs: {:?}", day.err());
    }
}
