//! The base image: `hadrill/base:bookworm`. When it is missing, `debian:bookworm-slim` is pulled and tagged as
//! it where a registry answers (within [`PULL_LIMIT`]); offline it is made with
//! `debootstrap --variant=minbase bookworm` and `docker import`. One line says which. A user can also pass
//! `--base debian:bookworm-slim`; the Dockerfiles take it as `ARG BASE`.

use std::path::Path;
use std::process::{Command, Stdio};

use bollard::Docker;

use crate::error::{Error, Result};

/// The base image hadrill makes when it is missing.
pub const DEFAULT_BASE: &str = "hadrill/base:bookworm";

/// What to do about the base image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BaseAction {
    /// It is there: use it.
    UsePresent,
    /// Make it with debootstrap + `docker import`.
    Bootstrap,
    /// Another base (e.g. `debian:bookworm-slim`): let `docker build` pull it.
    Pull,
    /// Cannot be had here; the reason says what to do.
    Impossible(String),
}

/// The fallback decision, as a pure function of what the machine has.
pub fn decide(base: &str, present: bool, debootstrap_found: bool, is_root: bool) -> BaseAction {
    if present {
        BaseAction::UsePresent
    } else if base != DEFAULT_BASE {
        BaseAction::Pull
    } else if !debootstrap_found {
        BaseAction::Impossible(
            "debootstrap is not installed: `apt-get install debootstrap`, or pass --base debian:bookworm-slim \
             where a registry is reachable"
                .into(),
        )
    } else if !is_root {
        BaseAction::Impossible("debootstrap needs root: run `hadrill images` once as root".into())
    } else {
        BaseAction::Bootstrap
    }
}

/// Finds a program on PATH (and in /usr/sbin, where Debian puts debootstrap).
pub fn find_program(name: &str) -> Option<std::path::PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin".into(), "/sbin".into()])
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

pub fn is_root() -> bool {
    // SAFETY-free check: the effective uid is in /proc/self/status (`Uid: real effective ...`).
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|u| u == "0"))
        })
        .unwrap_or(false)
}

/// The image's id when it exists locally.
pub async fn image_id(docker: &Docker, image: &str) -> Option<String> {
    docker.inspect_image(image).await.ok().and_then(|i| i.id)
}

/// The decision for this machine now.
pub async fn decide_here(docker: &Docker, base: &str) -> BaseAction {
    let present = image_id(docker, base).await.is_some();
    decide(base, present, find_program("debootstrap").is_some(), is_root())
}

/// The registry image the default base is pulled from.
pub const REGISTRY_BASE: &str = "debian:bookworm-slim";

/// How long the pull of [`REGISTRY_BASE`] may take before hadrill falls back to debootstrap.
pub const PULL_LIMIT: std::time::Duration = std::time::Duration::from_secs(20);

/// Pulls `from` and tags it `tag`, within `limit`; the error says why (no registry, timeout).
pub async fn pull_as(
    docker: &Docker,
    from: &str,
    tag: &str,
    limit: std::time::Duration,
) -> std::result::Result<(), String> {
    use bollard::query_parameters::{CreateImageOptions, TagImageOptions};
    use futures_util::StreamExt;
    let (repo, version) = from.rsplit_once(':').unwrap_or((from, "latest"));
    let opts =
        CreateImageOptions { from_image: Some(repo.into()), tag: Some(version.into()), ..Default::default() };
    let pull = async {
        let mut stream = docker.create_image(Some(opts), None, None);
        while let Some(item) = stream.next().await {
            item.map_err(|e| e.to_string())?;
        }
        Ok::<(), String>(())
    };
    tokio::time::timeout(limit, pull)
        .await
        .map_err(|_| format!("no answer within {}s", limit.as_secs()))??;
    let (to_repo, to_tag) = tag.rsplit_once(':').unwrap_or((tag, "latest"));
    let t = TagImageOptions { repo: Some(to_repo.into()), tag: Some(to_tag.into()) };
    docker.tag_image(from, Some(t)).await.map_err(|e| format!("tag {from} as {tag}: {e}"))
}

/// Makes sure the base image exists: pulled where a registry answers, else bootstrapped. Says which in one
/// line when it acts.
pub async fn ensure(docker: &Docker, base: &str, console: &crate::drill::console::Reporter) -> Result<()> {
    let action = decide_here(docker, base).await;
    if base == DEFAULT_BASE && matches!(action, BaseAction::Bootstrap | BaseAction::Impossible(_)) {
        match pull_as(docker, REGISTRY_BASE, base, PULL_LIMIT).await {
            Ok(()) => {
                console.phase(format!("base image {base}: pulled {REGISTRY_BASE} from a registry"));
                return Ok(());
            }
            Err(why) => tracing::debug!("pull of {REGISTRY_BASE} failed: {why}"),
        }
    }
    match action {
        BaseAction::UsePresent | BaseAction::Pull => Ok(()),
        BaseAction::Impossible(why) => Err(Error::Image {
            image: base.to_string(),
            message: format!("no registry answered for {REGISTRY_BASE}, and {why}"),
        }),
        BaseAction::Bootstrap => {
            console.phase(format!(
                "base image {base}: no registry answered for {REGISTRY_BASE}, making it with debootstrap (about a minute)"
            ));
            let base = base.to_string();
            let started = std::time::Instant::now();
            tokio::task::spawn_blocking(move || bootstrap(&base))
                .await
                .map_err(|e| Error::Other(format!("bootstrap task failed: {e}")))??;
            console.phase(format!("base image made in {:.0}s", started.elapsed().as_secs_f64()));
            Ok(())
        }
    }
}

fn bootstrap(tag: &str) -> Result<()> {
    let mirror =
        std::env::var("HADRILL_DEBIAN_MIRROR").unwrap_or_else(|_| "http://deb.debian.org/debian".to_string());
    let dir = crate::paths::scratch_dir().join(format!("rootfs-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    let result = bootstrap_into(&dir, &mirror, tag);
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn bootstrap_into(dir: &Path, mirror: &str, tag: &str) -> Result<()> {
    let fail = |message: String| Error::Image { image: tag.to_string(), message };
    let out = Command::new(find_program("debootstrap").unwrap_or_else(|| "debootstrap".into()))
        .args(["--variant=minbase", "bookworm"])
        .arg(dir)
        .arg(mirror)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| fail(format!("cannot run debootstrap: {e}")))?;
    if !out.status.success() {
        let log = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
        return Err(fail(format!("debootstrap failed:\n{}", crate::stack::compose::tail_lines(&log, 15))));
    }
    let mut tar = Command::new("tar")
        .arg("-C")
        .arg(dir)
        .args(["-c", "."])
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| fail(format!("cannot run tar: {e}")))?;
    let tar_out = tar.stdout.take().ok_or_else(|| fail("tar has no stdout".into()))?;
    let import = Command::new("docker")
        .args([
            "import",
            "--change",
            "CMD [\"/bin/bash\"]",
            "--message",
            "hadrill base (debootstrap minbase)",
            "-",
            tag,
        ])
        .stdin(tar_out)
        .output()
        .map_err(|e| fail(format!("cannot run docker import: {e}")))?;
    let tar_ok = tar.wait().map(|s| s.success()).unwrap_or(false);
    if !import.status.success() || !tar_ok {
        return Err(fail(format!(
            "docker import failed: {}",
            String::from_utf8_lossy(&import.stderr).trim()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn present_base_is_used_whatever_else() {
        assert_eq!(decide(DEFAULT_BASE, true, false, false), BaseAction::UsePresent);
        assert_eq!(decide("debian:bookworm-slim", true, false, false), BaseAction::UsePresent);
    }

    #[test]
    fn missing_default_base_is_bootstrapped_when_possible() {
        assert_eq!(decide(DEFAULT_BASE, false, true, true), BaseAction::Bootstrap);
        match decide(DEFAULT_BASE, false, false, true) {
            BaseAction::Impossible(why) => {
                assert!(why.contains("apt-get install debootstrap"), "{why}")
            }
            other => panic!("{other:?}"),
        }
        match decide(DEFAULT_BASE, false, true, false) {
            BaseAction::Impossible(why) => assert!(why.contains("root"), "{why}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn missing_registry_base_is_pulled() {
        assert_eq!(decide("debian:bookworm-slim", false, false, false), BaseAction::Pull);
    }
}
