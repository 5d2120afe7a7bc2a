//! `hadrill doctor`: can a drill run here? One line per check, with what to do when something is missing.
//! Exit 0 only if a drill can run (Docker, Compose, a base image present or buildable); missing network-fault
//! features are warnings, because drills without those faults still run.

use crate::docker::connect;
use crate::drill::console::Reporter;
use crate::fault::helper::HELPER_IMAGE as NETTOOLS;
use crate::images::base::{self, BaseAction};
use crate::stack::compose::ComposeCli;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Ok,
    Warn,
    Fail,
}

#[derive(Debug, Clone)]
pub struct Check {
    pub name: &'static str,
    pub status: Status,
    pub detail: String,
}

impl Check {
    fn new(name: &'static str, status: Status, detail: impl Into<String>) -> Check {
        Check { name, status, detail: detail.into() }
    }
}

impl std::fmt::Display for Check {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let tag = match self.status {
            Status::Ok => "ok  ",
            Status::Warn => "warn",
            Status::Fail => "FAIL",
        };
        write!(f, "{tag} {:<16} {}", self.name, self.detail)
    }
}

/// True when no check failed.
pub fn drill_can_run(checks: &[Check]) -> bool {
    checks.iter().all(|c| c.status != Status::Fail)
}

/// Runs every check, sending each line to `console` as it completes.
pub async fn run_checks(base_image: &str, console: &Reporter) -> Vec<Check> {
    let mut checks = Vec::new();
    let mut emit = |c: Check| {
        console.output(c.to_string());
        checks.push(c);
    };
    let docker = match connect::connect().await {
        Ok(d) => {
            let v = connect::engine_version(&d).await.unwrap_or_else(|e| e.to_string());
            emit(Check::new("docker", Status::Ok, format!("engine {v}")));
            Some(d)
        }
        Err(e) => {
            emit(Check::new(
                "docker",
                Status::Fail,
                format!("{e}; start the daemon (systemctl start docker) or set DOCKER_HOST"),
            ));
            None
        }
    };
    match ComposeCli::detect().await {
        Ok(c) => emit(Check::new(
            "compose",
            Status::Ok,
            format!("{} {} ({})", c.display(), c.version, if c.is_v2() { "v2" } else { "v1" }),
        )),
        Err(e) => emit(Check::new("compose", Status::Fail, e.to_string())),
    }
    let Some(docker) = docker else { return checks };
    match base::decide_here(&docker, base_image).await {
        BaseAction::UsePresent => emit(Check::new("base image", Status::Ok, format!("{base_image} present"))),
        BaseAction::Bootstrap => emit(Check::new(
            "base image",
            Status::Ok,
            format!("{base_image} missing; hadrill will make it with debootstrap on first use"),
        )),
        BaseAction::Pull => emit(Check::new(
            "base image",
            Status::Ok,
            format!("{base_image} missing; docker build will pull it"),
        )),
        BaseAction::Impossible(why) => emit(Check::new("base image", Status::Fail, why)),
    }
    if base::image_id(&docker, NETTOOLS).await.is_none() {
        emit(Check::new(
            "network faults",
            Status::Warn,
            format!("not checked: the helper image {NETTOOLS} is not built yet (`hadrill images web-haproxy-pg` builds it)"),
        ));
        return checks;
    }
    match crate::fault::netfault::kernel_features().await {
        Ok(k) => {
            for c in k.capabilities() {
                let (status, detail) =
                    if c.present { (Status::Ok, c.gives) } else { (Status::Warn, c.missing) };
                emit(Check::new(c.name, status, detail));
            }
        }
        Err(e) => emit(Check::new("network faults", Status::Warn, format!("not checked: {e}"))),
    }
    checks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warnings_do_not_block_a_drill_failures_do() {
        let ok = Check::new("a", Status::Ok, "");
        let warn = Check::new("b", Status::Warn, "");
        let fail = Check::new("c", Status::Fail, "");
        assert!(drill_can_run(&[ok.clone(), warn.clone()]));
        assert!(!drill_can_run(&[ok, warn, fail]));
    }
}
