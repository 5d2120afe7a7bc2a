//! `rolling-update` (and `rolling-restart`) and `scale` on a Swarm stack: through the service API
//! ([`crate::swarm::service`]) rather than hadrill's own container copies, so Swarm rolls the tasks as the stack
//! file's `update_config` says. Verified when the service converged; each slot's replacement window goes to the
//! report (with the requests that failed inside it); the revert (scale back, Swarm's rollback to the previous
//! image) is registered in the ledger. A forced update (no image) keeps the spec: nothing to revert.

use std::time::Duration;

use super::inject::{DockerInjector, Part};
use super::ledger::Revert;
use crate::scenario::model::{Planned, Roll};
use crate::swarm::service::{self, Rolled};
use crate::timeline::{EffectSource, Replacement};

/// The instance name of a task slot, as the report names containers (`app`, `app#2`).
fn instance(service: &str, slot: i64) -> String {
    if slot <= 1 {
        service.to_owned()
    } else {
        format!("{service}#{slot}")
    }
}

fn took(r: &Rolled) -> String {
    format!("{:.1}s", r.ended.saturating_sub(r.accepted) as f64 / 1e9)
}

/// Rolls each of `services` in turn (`running`: how many tasks each had when the action began, which bounds
/// how long its update may take).
pub(super) async fn roll(
    inj: &DockerInjector,
    p: &Planned,
    roll: &Roll,
    services: &[(String, usize)],
) -> (Vec<(String, Part)>, Vec<Replacement>) {
    let mut parts = Vec::new();
    let mut replaced = Vec::new();
    for (svc, running) in services {
        let full = format!("{}_{svc}", inj.project);
        let limit = roll.healthy_within * (*running as u32 + 1) + Duration::from_secs(30);
        let r = match service::update(&inj.docker, &full, roll.image.as_deref(), limit).await {
            Ok(r) => r,
            Err(e) => {
                parts.push((svc.clone(), Part::failed(e)));
                break;
            }
        };
        if roll.image.is_some() {
            inj.ledger.register(p.index, Revert::SwarmRollback { service: full, to: r.before.clone() });
        }
        let at = |t: u128| inj.clock.wall_to_nanos(t);
        replaced.extend(r.slots.iter().map(|w| Replacement {
            instance: instance(svc, w.slot),
            began: at(w.began),
            ended: at(w.ended()),
            out: w.out.map(at),
            back: w.back.map(at),
        }));
        let how = match &roll.image {
            Some(i) => format!("to {i}"),
            None => "forced (same spec)".to_string(),
        };
        let detail = match (&r.error, r.slots.len()) {
            (Some(e), n) => format!("{n} tasks replaced {how}, then: {e}"),
            (None, 0) => format!("no task replaced {how}: the spec did not change"),
            (None, n) => {
                format!("{n} tasks replaced {how} in {}, as the stack file's update_config says", took(&r))
            }
        };
        let failed = r.error.is_some();
        let verified = !failed && !r.slots.is_empty();
        parts.push((
            svc.clone(),
            Part { effect: Some((r.accepted, EffectSource::Hadrill)), verified, detail },
        ));
        if failed {
            break;
        }
    }
    (parts, replaced)
}

/// Scales `svc` to `count` tasks and registers the scale back.
pub(super) async fn scale(inj: &DockerInjector, p: &Planned, svc: &str, count: u32) -> Part {
    let full = format!("{}_{svc}", inj.project);
    let limit = Duration::from_secs(60 + 20 * u64::from(count));
    let r = match service::scale(&inj.docker, &full, u64::from(count), limit).await {
        Ok(r) => r,
        Err(e) => return Part::failed(e),
    };
    let before = r.before.replicas.unwrap_or(0);
    if before != u64::from(count) {
        inj.ledger.register(p.index, Revert::SwarmScale { service: full, replicas: before });
    }
    let detail = match &r.error {
        None => format!("{before} -> {count} tasks running in {}", took(&r)),
        Some(e) => format!("{before} -> {count}: {e}"),
    };
    Part { effect: Some((r.accepted, EffectSource::Hadrill)), verified: r.error.is_none(), detail }
}
