//! One `[[fault]]` or `[[step]]` entry: when it runs, what it hits, and the settings of its action, each
//! checked at its place in the file. Checks across entries (two faults at once on one target) are in
//! [`super::schedule`].

use std::ops::Range;
use std::time::Duration;

use serde::Deserialize;

use super::error::{line_col, ScenarioError};
use super::model::{Action, Amount, Planned, Target};
use super::parse::{Ctx, S};
use crate::duration;
use crate::stack::resolve::StackSpec;
use crate::timeline::ActionRole;

/// The most a `fill-disk` writes unless the scenario raises `max_fill`: enough for a service's own volume or
/// tmpfs, too little to fill a host's disk by mistake.
pub const DEFAULT_MAX_FILL: u64 = 4 << 30;

#[derive(Debug, Deserialize)]
#[serde(
    untagged,
    expecting = "target must be a service name or a list of them, e.g. \"app1\" or [\"app1\", \"app2\"]"
)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a [[fault]] or [[step]] table")]
pub(super) struct RawAction {
    at: S<String>,
    action: S<String>,
    target: S<OneOrMany>,
    pub(super) pick: Option<S<String>>,
    duration: Option<S<String>>,
    signal: Option<S<String>>,
    pub(super) timeout: Option<S<String>>,
    network: Option<S<String>>,
    peers: Option<S<Vec<String>>>,
    pub(super) command: Option<S<Vec<String>>>,
    user: Option<S<String>>,
    percent: Option<S<f64>>,
    latency: Option<S<String>>,
    jitter: Option<S<String>>,
    rate: Option<S<String>>,
    path: Option<S<String>>,
    size: Option<S<String>>,
    free: Option<S<String>>,
    max_fill: Option<S<String>>,
    pub(super) order: Option<S<String>>,
    pub(super) pause: Option<S<String>>,
    pub(super) ready: Option<S<String>>,
    pub(super) image: Option<S<String>>,
    #[serde(rename = "override")]
    pub(super) override_file: Option<S<String>>,
    pub(super) healthy_within: Option<S<String>>,
    pub(super) count: Option<S<i64>>,
    #[serde(rename = "where")]
    pub(super) where_cmd: Option<S<Vec<String>>>,
}

const SIGNALS: [&str; 8] =
    ["SIGKILL", "SIGTERM", "SIGINT", "SIGHUP", "SIGQUIT", "SIGSTOP", "SIGUSR1", "SIGUSR2"];

/// The actions that are reverted after a duration, which they therefore need.
const NEED_DURATION: [&str; 8] =
    ["pause", "disconnect", "partition", "loss", "delay", "throttle", "fill-disk", "drain"];

/// Validates one entry; `index` is its place in file order, `total` the length of the load.
pub(super) fn parse_action(
    cx: &Ctx,
    index: usize,
    role: ActionRole,
    raw: &S<RawAction>,
    spec: &StackSpec,
    total: Duration,
) -> Result<Planned, ScenarioError> {
    let a = raw.get_ref();
    let at = cx.dur(&a.at, "at")?;
    if at >= total {
        return Err(cx.err(
            a.at.span(),
            format!(
                "at {} is not before the end of the load (duration {})",
                a.at.get_ref(),
                duration::human(total)
            ),
        ));
    }
    let services = match a.target.get_ref() {
        OneOrMany::One(s) => vec![s.clone()],
        OneOrMany::Many(v) => v.clone(),
    };
    check_services(cx, spec, a.target.span(), &services)?;
    let pick =
        super::pick::parse(cx.file, cx.text, a.pick.as_ref(), a.where_cmd.as_ref(), &spec.meta.observe)?;
    let verb = a.action.get_ref().as_str();
    let duration = parse_duration(cx, raw, verb, at, total)?;
    reject_foreign_settings(cx, a, verb)?;
    let action = match verb {
        "rolling-restart" | "rolling-update" => {
            super::deploy::rolling(cx, raw, verb == "rolling-update", &services)?
        }
        "scale" => super::deploy::scale(cx, raw, a.target.span(), &services, &pick)?,
        _ => action_of(cx, raw, verb, &services, spec)?,
    };
    let place = line_col(cx.text, a.action.span().start);
    Ok(Planned { index, role, at, action, target: Target { services, pick }, duration, place })
}

/// The entry's duration: required by the actions that are reverted, refused by those that cannot be, above
/// zero, and over before the load ends.
fn parse_duration(
    cx: &Ctx,
    raw: &S<RawAction>,
    verb: &str,
    at: Duration,
    total: Duration,
) -> Result<Option<Duration>, ScenarioError> {
    let a = raw.get_ref();
    let Some(ds) = a.duration.as_ref() else {
        if NEED_DURATION.contains(&verb) {
            return Err(cx.err(
                raw.span(),
                format!("action {verb:?} needs a duration (how long until it is reverted)"),
            ));
        }
        return Ok(None);
    };
    let d = cx.dur(ds, "duration")?;
    if matches!(verb, "restart" | "exec" | "rolling-restart" | "rolling-update" | "scale") {
        return Err(not_a_setting(cx, "duration", verb, ds.span()));
    }
    if d.is_zero() {
        return Err(cx.err(ds.span(), format!("duration {:?} must be above 0", ds.get_ref())));
    }
    if at + d > total {
        return Err(cx.err(
            ds.span(),
            format!(
                "{verb} at {} for {} lasts past the end of the load ({})",
                a.at.get_ref(),
                ds.get_ref(),
                duration::human(total)
            ),
        ));
    }
    Ok(Some(d))
}

fn not_a_setting(cx: &Ctx, field: &str, verb: &str, span: Range<usize>) -> ScenarioError {
    cx.err(span, format!("{field} is not a setting of action {verb:?}"))
}

/// A setting's name, its place when the entry has it, and the actions it belongs to.
type Setting<'a> = (&'a str, Option<Range<usize>>, &'a [&'a str]);

/// Refuses a setting that belongs to another action (a `signal` on a pause, a `rate` on a loss).
fn reject_foreign_settings(cx: &Ctx, a: &RawAction, verb: &str) -> Result<(), ScenarioError> {
    let span_of = |o: &Option<S<String>>| o.as_ref().map(|s| s.span());
    const ROLLING: &[&str] = &["rolling-restart", "rolling-update"];
    let settings: [Setting; 21] = [
        ("signal", span_of(&a.signal), &["kill"]),
        ("timeout", span_of(&a.timeout), &["stop", "restart", "rolling-restart", "rolling-update"]),
        ("order", span_of(&a.order), ROLLING),
        ("pause", span_of(&a.pause), ROLLING),
        ("ready", span_of(&a.ready), ROLLING),
        ("image", span_of(&a.image), &["rolling-update"]),
        ("override", span_of(&a.override_file), &["rolling-update"]),
        ("healthy_within", span_of(&a.healthy_within), ROLLING),
        ("count", a.count.as_ref().map(|c| c.span()), &["scale"]),
        ("network", span_of(&a.network), &["disconnect"]),
        ("peers", a.peers.as_ref().map(|p| p.span()), &["partition", "loss"]),
        ("percent", a.percent.as_ref().map(|p| p.span()), &["loss"]),
        ("latency", span_of(&a.latency), &["delay"]),
        ("jitter", span_of(&a.jitter), &["delay"]),
        ("rate", span_of(&a.rate), &["throttle"]),
        ("path", span_of(&a.path), &["fill-disk"]),
        ("size", span_of(&a.size), &["fill-disk"]),
        ("free", span_of(&a.free), &["fill-disk"]),
        ("max_fill", span_of(&a.max_fill), &["fill-disk"]),
        ("command", a.command.as_ref().map(|c| c.span()), &["exec"]),
        ("user", span_of(&a.user), &["exec"]),
    ];
    match settings.into_iter().find(|(_, span, verbs)| span.is_some() && !verbs.contains(&verb)) {
        Some((field, Some(span), _)) => Err(not_a_setting(cx, field, verb, span)),
        _ => Ok(()),
    }
}

/// The action itself, from its settings.
fn action_of(
    cx: &Ctx,
    raw: &S<RawAction>,
    verb: &str,
    services: &[String],
    spec: &StackSpec,
) -> Result<Action, ScenarioError> {
    let a = raw.get_ref();
    let needs = |what: &str| cx.err(raw.span(), format!("action {verb:?} needs {what}"));
    Ok(match verb {
        "kill" => Action::Kill { signal: signal(cx, raw)? },
        "stop" => Action::Stop { timeout: cx.opt_dur(&a.timeout, "timeout", Duration::from_secs(10))? },
        "restart" => Action::Restart { timeout: cx.opt_dur(&a.timeout, "timeout", Duration::from_secs(10))? },
        "pause" => Action::Pause,
        "drain" => Action::Drain,
        "disconnect" => {
            let n = a.network.as_ref().ok_or_else(|| needs("network = \"<compose network>\""))?;
            check_network(cx, n, services, spec)?;
            Action::Disconnect { network: n.get_ref().clone() }
        }
        "partition" => {
            let p = a.peers.as_ref().ok_or_else(|| needs("peers = [\"service\", ...]"))?;
            Action::Partition { peers: peers(cx, p, services, spec)? }
        }
        "loss" => {
            let pct =
                a.percent.as_ref().ok_or_else(|| needs("percent = <share of packets dropped, 0-100>"))?;
            if !(*pct.get_ref() > 0.0 && *pct.get_ref() <= 100.0) {
                return Err(
                    cx.err(pct.span(), format!("percent {} must be above 0 and at most 100", pct.get_ref()))
                );
            }
            let peers = a.peers.as_ref().map(|p| peers(cx, p, services, spec)).transpose()?;
            Action::Loss { percent: *pct.get_ref(), peers: peers.unwrap_or_default() }
        }
        "delay" => {
            let l = a.latency.as_ref().ok_or_else(|| needs("latency = \"<added delay, e.g. 200ms>\""))?;
            delay(cx, l, a.jitter.as_ref())?
        }
        "throttle" => {
            let r = a.rate.as_ref().ok_or_else(|| needs("rate = \"<bandwidth, e.g. 1mbit>\""))?;
            let kbit =
                crate::units::parse_kbit(r.get_ref()).map_err(|e| cx.err(r.span(), format!("rate: {e}")))?;
            Action::Throttle { kbit }
        }
        "fill-disk" => fill_disk(cx, raw)?,
        "exec" => {
            let c = a.command.as_ref().ok_or_else(|| needs("command = [\"program\", \"arg\", ...]"))?;
            match c.get_ref().first() {
                None => return Err(cx.err(c.span(), "command is empty")),
                Some(p) if p.trim().is_empty() => {
                    return Err(cx.err(c.span(), format!("command's program {p:?} is empty")))
                }
                Some(_) => {}
            }
            Action::Exec { command: c.get_ref().clone(), user: a.user.as_ref().map(|u| u.get_ref().clone()) }
        }
        other => {
            return Err(cx.err(
                a.action.span(),
                format!(
                "unknown action {other:?} (kill, stop, restart, pause, disconnect, partition, loss, delay, \
                     throttle, fill-disk, exec, rolling-restart, rolling-update, scale)"
            ),
            ))
        }
    })
}

/// Each service named once, each in the stack.
pub(super) fn check_services(
    cx: &Ctx,
    spec: &StackSpec,
    span: Range<usize>,
    names: &[String],
) -> Result<(), ScenarioError> {
    if names.is_empty() {
        return Err(cx.err(span, "names no service"));
    }
    for (i, n) in names.iter().enumerate() {
        if !spec.has_service(n) {
            return Err(cx.err(
                span,
                format!(
                    "unknown service {n:?} in stack {} (services: {})",
                    spec.name,
                    spec.services.join(", ")
                ),
            ));
        }
        if names[..i].contains(n) {
            return Err(cx.err(span, format!("service {n:?} is named twice")));
        }
    }
    Ok(())
}

fn signal(cx: &Ctx, raw: &S<RawAction>) -> Result<String, ScenarioError> {
    let a = raw.get_ref();
    let signal = a.signal.as_ref().map(|s| s.get_ref().to_uppercase()).unwrap_or_else(|| "SIGKILL".into());
    let signal = if signal.starts_with("SIG") { signal } else { format!("SIG{signal}") };
    if !SIGNALS.contains(&signal.as_str()) {
        let span = a.signal.as_ref().map(|s| s.span()).unwrap_or(raw.span());
        return Err(cx.err(span, format!("unknown signal {signal:?} (one of {})", SIGNALS.join(", "))));
    }
    Ok(signal)
}

/// A network of the stack that every target service is on.
fn check_network(
    cx: &Ctx,
    n: &S<String>,
    services: &[String],
    spec: &StackSpec,
) -> Result<(), ScenarioError> {
    let net = n.get_ref();
    if !spec.networks.contains(net) && net != "default" {
        return Err(cx.err(
            n.span(),
            format!(
                "unknown network {net:?} in stack {} (networks: {})",
                spec.name,
                spec.networks.join(", ")
            ),
        ));
    }
    for svc in services {
        let on = spec.service_networks.get(svc).map(Vec::as_slice).unwrap_or_default();
        if !on.contains(net) {
            let joins = if on.is_empty() { "no network".to_string() } else { on.join(", ") };
            return Err(
                cx.err(n.span(), format!("service {svc:?} is not on network {net:?} (it joins: {joins})"))
            );
        }
    }
    Ok(())
}

/// The peers of a partition or loss: services of the stack, none of them a target.
fn peers(
    cx: &Ctx,
    p: &S<Vec<String>>,
    services: &[String],
    spec: &StackSpec,
) -> Result<Vec<String>, ScenarioError> {
    check_services(cx, spec, p.span(), p.get_ref())?;
    if let Some(both) = p.get_ref().iter().find(|s| services.contains(s)) {
        return Err(cx.err(p.span(), format!("service {both:?} is both a target and a peer")));
    }
    Ok(p.get_ref().clone())
}

fn delay(cx: &Ctx, l: &S<String>, jitter: Option<&S<String>>) -> Result<Action, ScenarioError> {
    let latency = cx.dur(l, "latency")?;
    if latency.is_zero() {
        return Err(cx.err(l.span(), "latency must be above 0"));
    }
    let jitter = match jitter {
        Some(j) if cx.dur(j, "jitter")? > latency => {
            return Err(cx.err(j.span(), "jitter must not exceed latency"))
        }
        Some(j) => cx.dur(j, "jitter")?,
        None => Duration::ZERO,
    };
    Ok(Action::Delay { latency, jitter })
}

fn fill_disk(cx: &Ctx, raw: &S<RawAction>) -> Result<Action, ScenarioError> {
    let a = raw.get_ref();
    let path = a.path.as_ref().ok_or_else(|| {
        cx.err(raw.span(), "action \"fill-disk\" needs path = \"<a directory in the target>\"")
    })?;
    if !path.get_ref().starts_with('/') || path.get_ref().contains('\'') {
        return Err(
            cx.err(path.span(), format!("path {:?} must be absolute (and without quotes)", path.get_ref()))
        );
    }
    let bytes = |v: &S<String>, what: &str| {
        crate::units::parse_bytes(v.get_ref()).map_err(|e| cx.err(v.span(), format!("{what}: {e}")))
    };
    let amount = match (&a.size, &a.free) {
        (Some(v), None) => Amount::Size(bytes(v, "size")?),
        (None, Some(v)) => Amount::Free(bytes(v, "free")?),
        (Some(v), Some(_)) => return Err(cx.err(v.span(), "give size or free, not both")),
        (None, None) => {
            return Err(cx.err(
                raw.span(),
                "action \"fill-disk\" needs size = \"<bytes to write>\" or free = \"<bytes to leave>\"",
            ))
        }
    };
    let max_fill = match &a.max_fill {
        Some(v) => bytes(v, "max_fill")?,
        None => DEFAULT_MAX_FILL,
    };
    if let (Amount::Size(n), Some(v)) = (amount, &a.size) {
        if n > max_fill {
            return Err(cx.err(
                v.span(),
                format!(
                    "size {} is above max_fill ({}): raise max_fill if you mean it",
                    crate::units::human_bytes(n),
                    crate::units::human_bytes(max_fill)
                ),
            ));
        }
    }
    Ok(Action::FillDisk { path: path.get_ref().clone(), amount, max_fill })
}
