//! Building the images a stack uses: `hadrill/<name>:local` from `compose/images/<name>/`. An image is rebuilt
//! only when its build context (or the base image, or the demo binary) changed: the context's hash is stored in
//! the image's `io.hadrill.context` label.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Instant;

use bollard::Docker;

use super::base;
use crate::drill::console::Reporter;
use crate::error::{Error, Result};
use crate::paths;
use crate::stack::StackSpec;

const CONTEXT_LABEL: &str = "io.hadrill.context";
const DEMO: &str = "demo";
const NETTOOLS: &str = "nettools";

/// A `hadrill/<name>:local` image and the folder it is built from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageSource {
    pub tag: String,
    pub name: String,
    pub dir: PathBuf,
}

/// The image name of a `hadrill/<name>:local` reference.
pub fn local_image_name(reference: &str) -> Option<&str> {
    reference.strip_prefix("hadrill/")?.strip_suffix(":local")
}

/// The images of a stack that hadrill builds (others, such as a user's own, are left to Compose).
pub fn sources_for(spec: &StackSpec) -> Vec<ImageSource> {
    let mut out: Vec<ImageSource> = spec
        .images
        .values()
        .filter_map(|r| {
            let name = local_image_name(r)?;
            let dir = paths::images_dir().join(name);
            dir.join("Dockerfile").is_file().then(|| ImageSource {
                tag: r.clone(),
                name: name.to_string(),
                dir,
            })
        })
        .collect();
    // The fault helper runs next to any stack's containers.
    out.extend(helper_source());
    out.sort_by(|a, b| a.tag.cmp(&b.tag));
    out.dedup();
    out
}

/// 64-bit FNV-1a: a stable content hash (std's hasher is not stable across releases).
fn fnv1a(state: u64, bytes: &[u8]) -> u64 {
    bytes.iter().fold(state, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3))
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

/// Hash of a build context's files (names and contents, in name order) and of the extra inputs.
pub fn context_hash(files: &[(String, Vec<u8>)], extra: &[&str]) -> String {
    let mut files: Vec<&(String, Vec<u8>)> = files.iter().collect();
    files.sort_by(|a, b| a.0.cmp(&b.0));
    let mut h = FNV_OFFSET;
    for (name, content) in files {
        h = fnv1a(h, name.as_bytes());
        h = fnv1a(h, &[0]);
        h = fnv1a(h, content);
        h = fnv1a(h, &[0]);
    }
    for e in extra {
        h = fnv1a(h, e.as_bytes());
    }
    format!("{h:016x}")
}

fn read_context(dir: &Path) -> Result<Vec<(String, Vec<u8>)>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        if entry.path().is_file() {
            let content = std::fs::read(entry.path()).map_err(|e| Error::io(entry.path(), e))?;
            files.push((entry.file_name().to_string_lossy().to_string(), content));
        }
    }
    Ok(files)
}

/// Compiles the demo service (release) in hadrill's workspace and returns the binary's path.
async fn demo_binary() -> Result<PathBuf> {
    if let Some(p) = std::env::var_os("HADRILL_DEMO_BIN") {
        return Ok(PathBuf::from(p));
    }
    let manifest = paths::home().join("Cargo.toml");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = tokio::process::Command::new(&cargo)
        .args(["build", "--release", "--quiet", "-p", "hadrill-demo", "--manifest-path"])
        .arg(&manifest)
        .stdin(Stdio::null())
        .output()
        .await
        .map_err(|source| Error::Spawn { command: format!("{cargo} build -p hadrill-demo"), source })?;
    if !out.status.success() {
        return Err(Error::Image {
            image: "hadrill/demo:local".into(),
            message: format!(
                "building the demo service failed ({}):\n{}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            ),
        });
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| paths::home().join("target"));
    Ok(target.join("release").join("hadrill-demo"))
}

/// Whether the image exists with this context hash.
async fn is_current(docker: &Docker, tag: &str, hash: &str) -> bool {
    let Ok(img) = docker.inspect_image(tag).await else {
        return false;
    };
    img.config.and_then(|c| c.labels).and_then(|l| l.get(CONTEXT_LABEL).cloned()).is_some_and(|h| h == hash)
}

/// What `ensure` did for one image.
#[derive(Debug, Clone)]
pub struct Built {
    pub tag: String,
    /// `None` when the image was already current.
    pub seconds: Option<f64>,
}

/// The fault helper's image, which runs next to any stack's containers.
fn helper_source() -> Option<ImageSource> {
    let dir = paths::images_dir().join(NETTOOLS);
    dir.join("Dockerfile").is_file().then(|| ImageSource {
        tag: format!("hadrill/{NETTOOLS}:local"),
        name: NETTOOLS.into(),
        dir,
    })
}

/// Builds every image of the stack that is missing or stale. `force` rebuilds all.
pub async fn ensure(
    docker: &Docker,
    spec: &StackSpec,
    base_image: &str,
    force: bool,
    console: &Reporter,
) -> Result<Vec<Built>> {
    ensure_sources(docker, sources_for(spec), base_image, force, console).await
}

/// Builds the fault helper's image alone if it is missing or stale: the kernel probe runs in it, before the
/// stack's images are built.
pub async fn ensure_helper(docker: &Docker, base_image: &str, console: &Reporter) -> Result<()> {
    ensure_sources(docker, helper_source().into_iter().collect(), base_image, false, console).await.map(drop)
}

async fn ensure_sources(
    docker: &Docker,
    sources: Vec<ImageSource>,
    base_image: &str,
    force: bool,
    console: &Reporter,
) -> Result<Vec<Built>> {
    if sources.is_empty() {
        return Ok(Vec::new());
    }
    base::ensure(docker, base_image, console).await?;
    let base_id = base::image_id(docker, base_image).await.unwrap_or_else(|| base_image.to_string());
    let mut jobs = Vec::new();
    for src in sources {
        let mut files = read_context(&src.dir)?;
        if src.name == DEMO {
            let bin = demo_binary().await?;
            let content = std::fs::read(&bin).map_err(|e| Error::io(&bin, e))?;
            files.push(("hadrill-demo".into(), content));
        }
        let hash = context_hash(&files, &[&base_id, base_image]);
        if !force && is_current(docker, &src.tag, &hash).await {
            jobs.push(tokio::spawn(async move { Ok(Built { tag: src.tag, seconds: None }) }));
            continue;
        }
        let base_image = base_image.to_string();
        let console = console.clone();
        jobs.push(tokio::spawn(async move { build_one(src, files, hash, base_image, &console).await }));
    }
    let mut built = Vec::new();
    for j in jobs {
        built.push(j.await.map_err(|e| Error::Other(format!("image build task failed: {e}")))??);
    }
    Ok(built)
}

async fn build_one(
    src: ImageSource,
    files: Vec<(String, Vec<u8>)>,
    hash: String,
    base_image: String,
    console: &Reporter,
) -> Result<Built> {
    let started = Instant::now();
    console.phase(format!("building image {} from {}", src.tag, src.dir.display()));
    let ctx = paths::scratch_dir().join(format!("build-{}-{}", src.name, std::process::id()));
    let _ = std::fs::remove_dir_all(&ctx);
    std::fs::create_dir_all(&ctx).map_err(|e| Error::io(&ctx, e))?;
    for (name, content) in &files {
        let p = ctx.join(name);
        std::fs::write(&p, content).map_err(|e| Error::io(&p, e))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = if name.ends_with(".sh") || name == "hadrill-demo" { 0o755 } else { 0o644 };
            let _ = std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode));
        }
    }
    let out = tokio::process::Command::new("docker")
        .args(["build", "--quiet", "--build-arg"])
        .arg(format!("BASE={base_image}"))
        .arg("--label")
        .arg(format!("{CONTEXT_LABEL}={hash}"))
        .arg("-t")
        .arg(&src.tag)
        .arg(&ctx)
        .stdin(Stdio::null())
        .output()
        .await
        .map_err(|source| Error::Spawn { command: "docker build".into(), source })?;
    let _ = std::fs::remove_dir_all(&ctx);
    if !out.status.success() {
        return Err(Error::Image {
            image: src.tag,
            message: format!(
                "docker build failed:\n{}",
                crate::stack::compose::tail_lines(&String::from_utf8_lossy(&out.stderr), 20)
            ),
        });
    }
    let seconds = started.elapsed().as_secs_f64();
    console.phase(format!("built {} in {seconds:.0}s", src.tag));
    Ok(Built { tag: src.tag, seconds: Some(seconds) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_hadrill_local_images_are_ours() {
        assert_eq!(local_image_name("hadrill/postgres:local"), Some("postgres"));
        assert_eq!(local_image_name("postgres:15"), None);
        assert_eq!(local_image_name("hadrill/postgres:15"), None);
    }

    #[test]
    fn context_hash_depends_on_content_and_base_not_order() {
        let a = vec![("Dockerfile".to_string(), b"FROM x".to_vec()), ("s.sh".to_string(), b"echo".to_vec())];
        let mut b = a.clone();
        b.reverse();
        assert_eq!(context_hash(&a, &["base1"]), context_hash(&b, &["base1"]));
        assert_ne!(context_hash(&a, &["base1"]), context_hash(&a, &["base2"]));
        let mut c = a.clone();
        c[1].1 = b"echo!".to_vec();
        assert_ne!(context_hash(&a, &["base1"]), context_hash(&c, &["base1"]));
    }
}
