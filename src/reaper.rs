//! The reaper: what removes a drill's stack when hadrill itself is killed (SIGKILL, the OOM killer, a CI runner
//! cancelling the job), as testcontainers' Ryuk does.
//!
//! Before `compose up`, hadrill starts a small container labelled `io.hadrill.reaper-for=<project>` (and
//! `io.hadrill.managed`), publishes its port on 127.0.0.1 with an ephemeral host port (read back through the
//! Docker API), connects to it and says `hold`. When that connection drops without a `bye`, the reaper removes the
//! project's containers, networks and volumes by label (faults die with their containers: iptables rules and
//! qdiscs live in the target's namespaces), then exits and Docker removes it (`AutoRemove`).
//!
//! Decisions:
//! - The reaper is the hadrill binary itself, as the hidden subcommand `hadrill reap --project P --listen ADDR`,
//!   bind-mounted read-only into the container at `/hadrill` with `/var/run/docker.sock`: no image to build or
//!   pull, and the sweep is the same code as `hadrill down`'s. The host's binary must run in the image: it is
//!   linked against glibc (libc, libm, libgcc_s), so the image must have a glibc at least as new as the one it
//!   was built against (`hadrill/base:bookworm` has 2.36, so a binary built on Debian 12 runs; one built on
//!   Ubuntu 24.04 stops with "GLIBC_2.38 not found", which hadrill shows from the reaper's log). hadrill must
//!   see the paths the daemon sees (not hadrill in a container talking to the host's socket) and the daemon
//!   must be local (a unix socket). Image: `hadrill/base:bookworm`, else `hadrill/nettools:local` (built on
//!   whichever base is in use). When the reaper cannot start, hadrill says why and runs without one.
//! - hadrill says `bye` on every orderly end: after `down`, and when its stack handle is dropped without a
//!   `down` (`--keep`, `hadrill up`): what an orderly exit leaves is deliberate. Only a death without unwinding
//!   drops the connection without a word. A `--keep` drill that is killed is reaped: it could not revert its
//!   faults, and the stack it would keep is not the one the user asked for.
//! - `docker-compose` child processes may outlive a killed hadrill and create containers for a few seconds:
//!   the reaper sweeps every [`SWEEP_EVERY`] until [`QUIET_SWEEPS`] sweeps in a row find nothing, for at most
//!   [`REAP_LIMIT`].
//! - A reaper nobody connects to within [`FIRST_CONNECT`] reaps (hadrill died between starting it and
//!   connecting). Other connections may ask `status`: `hadrill clean` uses it to spare live drills.

use std::collections::HashMap;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bollard::models::{ContainerCreateBody, HostConfig, PortBinding};
use bollard::query_parameters::{
    AttachContainerOptions, CreateContainerOptionsBuilder, InspectContainerOptions, StartContainerOptions,
};
use bollard::Docker;
use futures_util::StreamExt;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

use crate::cleanup::{self, Scope};
use crate::docker::{discover, labels};
use crate::error::{Error, Result};

/// The port the reaper listens on inside its container.
pub const PORT: u16 = 7787;
/// Sweeps in a row that must find nothing before the reaper exits.
pub const QUIET_SWEEPS: u32 = 4;
/// The pause between two sweeps.
pub const SWEEP_EVERY: Duration = Duration::from_millis(500);
/// The longest a reaper keeps sweeping.
pub const REAP_LIMIT: Duration = Duration::from_secs(60);
/// How long a reaper waits for hadrill's first connection (hadrill tries every 100 ms once it is started).
pub const FIRST_CONNECT: Duration = Duration::from_secs(10);
/// How long hadrill waits for a starting reaper to answer.
const HANDSHAKE: Duration = Duration::from_secs(10);
/// Where the binary is mounted in the reaper's container.
const IN_CONTAINER: &str = "/hadrill";
const IMAGES: [&str; 2] = [crate::images::base::DEFAULT_BASE, crate::fault::helper::HELPER_IMAGE];

/// What a reaper says it is doing, in answer to `status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Started, waiting for hadrill's connection.
    Waiting,
    /// hadrill holds the connection: the drill is live.
    Held,
    /// The connection dropped without a goodbye: removing the project.
    Reaping,
    /// hadrill said goodbye: exiting without removing anything.
    Released,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Waiting => "waiting",
            State::Held => "held",
            State::Reaping => "reaping",
            State::Released => "released",
        }
    }

    pub fn parse(s: &str) -> Option<State> {
        [State::Waiting, State::Held, State::Reaping, State::Released].into_iter().find(|st| st.as_str() == s)
    }
}

/// hadrill's side: the held connection (shared by clones of a stack handle). Dropping the last clone says `bye`.
#[derive(Debug, Clone, Default)]
pub struct Reaper {
    conn: Arc<Mutex<Option<Held>>>,
}

#[derive(Debug)]
struct Held {
    stream: std::net::TcpStream,
    container: String,
}

impl Drop for Held {
    fn drop(&mut self) {
        let _ = self.stream.write_all(b"bye\n");
    }
}

impl Reaper {
    /// Starts the reaper of `project` and holds its connection. Errors say why there is none (the stack can
    /// still run; a kill would then leave it for `hadrill clean`).
    pub async fn start(&self, docker: &Docker, project: &str) -> Result<()> {
        if self.is_held() {
            return Ok(());
        }
        let fail = |message: String| Error::Reaper { project: project.to_string(), message };
        let exe = binary().map_err(fail)?;
        let image =
            image(docker).await.ok_or_else(|| fail(format!("none of the images {IMAGES:?} is present")))?;
        let id = create(docker, project, &exe, &image).await?;
        let (log, log_task) = attach_log(docker, &id).await;
        if let Err(e) = docker.start_container(&id, None::<StartContainerOptions>).await {
            let _ =
                docker.remove_container(&id, None::<bollard::query_parameters::RemoveContainerOptions>).await;
            return Err(Error::docker(format!("start the reaper of {project}"), e));
        }
        match hold(docker, &id, project).await {
            Ok(stream) => {
                *self.conn.lock().expect("reaper lock") = Some(Held { stream, container: id });
                Ok(())
            }
            Err(why) => {
                let force =
                    bollard::query_parameters::RemoveContainerOptionsBuilder::default().force(true).build();
                let _ = docker.remove_container(&id, Some(force)).await;
                let _ = tokio::time::timeout(Duration::from_secs(2), log_task).await;
                let log = log.lock().expect("reaper log").clone();
                let log = if log.trim().is_empty() { "(empty log)".into() } else { log };
                Err(fail(format!(
                    "{why} (image {image}, binary {}); its log:\n{}",
                    exe.display(),
                    log.trim_end()
                )))
            }
        }
    }

    /// Says goodbye and waits (up to 5 s) until the reaper's container is gone: it exits without removing
    /// anything, and a count of the project's objects right after no longer sees it.
    pub async fn release(&self, docker: &Docker) {
        let Some(held) = self.conn.lock().expect("reaper lock").take() else { return };
        let id = held.container.clone();
        drop(held);
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if docker.inspect_container(&id, None::<InspectContainerOptions>).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Whether a reaper holds this run's stack.
    pub fn is_held(&self) -> bool {
        self.conn.lock().expect("reaper lock").is_some()
    }
}

/// The hadrill binary to mount: `HADRILL_BIN`, else this executable (see [`pick_binary`]).
fn binary() -> std::result::Result<PathBuf, String> {
    if let Some(p) = std::env::var_os("HADRILL_BIN") {
        return Ok(p.into());
    }
    let exe = std::env::current_exe().map_err(|e| format!("cannot find hadrill's own executable: {e}"))?;
    pick_binary(exe.canonicalize().unwrap_or(exe), |p| p.is_file())
}

/// `exe` when it is hadrill; when it is a test harness, the `hadrill` Cargo built beside it (test binaries are
/// in `target/<profile>/deps/`, the binary in `target/<profile>/`).
fn pick_binary(exe: PathBuf, is_file: impl Fn(&Path) -> bool) -> std::result::Result<PathBuf, String> {
    if exe.file_name().is_some_and(|n| n == "hadrill") {
        return Ok(exe);
    }
    let sibling = exe.parent().and_then(Path::parent).map(|d| d.join("hadrill"));
    sibling.filter(|p| is_file(p)).ok_or_else(|| {
        format!("{} is not hadrill and no hadrill binary is beside it: set HADRILL_BIN", exe.display())
    })
}

async fn image(docker: &Docker) -> Option<String> {
    for i in IMAGES {
        if crate::images::base::image_id(docker, i).await.is_some() {
            return Some(i.to_string());
        }
    }
    None
}

async fn create(docker: &Docker, project: &str, exe: &Path, image: &str) -> Result<String> {
    let socket = std::env::var("DOCKER_HOST")
        .ok()
        .and_then(|h| h.strip_prefix("unix://").map(str::to_owned))
        .unwrap_or_else(|| "/var/run/docker.sock".into());
    let port = format!("{PORT}/tcp");
    let mut ports = HashMap::new();
    ports.insert(
        port.clone(),
        Some(vec![PortBinding { host_ip: Some("127.0.0.1".into()), host_port: Some(String::new()) }]),
    );
    let reaper_labels = HashMap::from([
        (labels::MANAGED.to_string(), "true".to_string()),
        (labels::REAPER_FOR.to_string(), project.to_string()),
    ]);
    let body = ContainerCreateBody {
        image: Some(image.into()),
        entrypoint: Some(vec![IN_CONTAINER.into()]),
        cmd: Some(
            ["reap", "--project", project, "--listen", &format!("0.0.0.0:{PORT}")].map(String::from).to_vec(),
        ),
        labels: Some(reaper_labels),
        exposed_ports: Some(vec![port]),
        host_config: Some(HostConfig {
            binds: Some(vec![
                format!("{}:{IN_CONTAINER}:ro", exe.display()),
                format!("{socket}:/var/run/docker.sock"),
            ]),
            port_bindings: Some(ports),
            auto_remove: Some(true),
            ..Default::default()
        }),
        ..Default::default()
    };
    let opts = CreateContainerOptionsBuilder::default().name(&format!("{project}-reaper")).build();
    let created = docker
        .create_container(Some(opts), body)
        .await
        .map_err(|e| Error::docker(format!("create the reaper of {project}"), e))?;
    Ok(created.id)
}

/// Collects the container's output from its start, attached before it starts as `docker run` does (the log of
/// an auto-removed container is gone once it exits). The task ends when the container does.
async fn attach_log(docker: &Docker, id: &str) -> (Arc<Mutex<String>>, tokio::task::JoinHandle<()>) {
    let out = Arc::new(Mutex::new(String::new()));
    let opts =
        AttachContainerOptions { stdout: true, stderr: true, stream: true, logs: true, ..Default::default() };
    let attached = docker.attach_container(id, Some(opts)).await;
    let sink = out.clone();
    let task = tokio::spawn(async move {
        let Ok(mut attached) = attached else { return };
        while let Some(Ok(chunk)) = attached.output.next().await {
            let mut s = sink.lock().expect("reaper log");
            if s.len() < 8192 {
                s.push_str(&String::from_utf8_lossy(&chunk.into_bytes()));
            }
        }
    });
    (out, task)
}

/// Connects to the reaper's published port until it answers `hold`. Docker's proxy accepts a connection before
/// the reaper listens, so only the answer counts.
async fn hold(docker: &Docker, id: &str, project: &str) -> std::result::Result<std::net::TcpStream, String> {
    let deadline = Instant::now() + HANDSHAKE;
    let mut last = String::from("no answer");
    while Instant::now() < deadline {
        let inspect = docker.inspect_container(id, None::<InspectContainerOptions>).await;
        let Ok(inspect) = inspect else { return Err("the reaper exited at once".into()) };
        if inspect.state.as_ref().and_then(|s| s.running) == Some(false) {
            return Err("the reaper exited at once".into());
        }
        let ports = inspect.network_settings.and_then(|n| n.ports).map(|p| discover::published_ports(&p));
        if let Some(port) = ports.and_then(|p| p.get(&format!("{PORT}/tcp")).copied()) {
            match ask(SocketAddr::from(([127, 0, 0, 1], port)), "hold").await {
                Ok((stream, answer)) if answer == format!("ok {project}") => {
                    let std = stream.into_std().map_err(|e| e.to_string())?;
                    std.set_nonblocking(false).map_err(|e| e.to_string())?;
                    return Ok(std);
                }
                Ok((_, answer)) => last = format!("unexpected answer {answer:?}"),
                Err(e) => last = e,
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(format!("the reaper did not answer within {}s: {last}", HANDSHAKE.as_secs()))
}

/// Sends one line, reads one line back (within a second).
async fn ask(addr: SocketAddr, line: &str) -> std::result::Result<(TcpStream, String), String> {
    let io = async {
        let mut stream = TcpStream::connect(addr).await?;
        stream.write_all(format!("{line}\n").as_bytes()).await?;
        let mut answer = String::new();
        BufReader::new(&mut stream).read_line(&mut answer).await?;
        Ok::<_, std::io::Error>((stream, answer.trim().to_string()))
    };
    match tokio::time::timeout(Duration::from_secs(1), io).await {
        Ok(Ok((_, a))) if a.is_empty() => Err("connection closed".into()),
        Ok(Ok(r)) => Ok(r),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("no answer within 1s".into()),
    }
}

/// Asks the reaper published on `port` what it is doing (for `hadrill clean`).
pub async fn status(port: u16) -> std::result::Result<State, String> {
    let (_, answer) = ask(SocketAddr::from(([127, 0, 0, 1], port)), "status").await?;
    let word = answer.split_whitespace().next().unwrap_or("");
    State::parse(word).ok_or_else(|| format!("unexpected answer {answer:?}"))
}

/// The reaper's own loop (`hadrill reap`): serves `status`, waits for the `hold` connection and, when it drops
/// without `bye` (or never comes), sweeps the project until quiet. Returns the exit code.
pub async fn serve(project: &str, listen: SocketAddr) -> Result<i32> {
    let docker = crate::docker::connect::connect().await?;
    let listener = TcpListener::bind(listen).await.map_err(|e| Error::Reaper {
        project: project.to_string(),
        message: format!("cannot listen on {listen}: {e}"),
    })?;
    let outcome = wait_for_end(listener, project, FIRST_CONNECT).await;
    if outcome == State::Released {
        eprintln!("reaper of {project}: released by hadrill");
        return Ok(crate::exit_codes::OK);
    }
    eprintln!("reaper of {project}: hadrill is gone without a goodbye; removing the project");
    let started = Instant::now();
    let removed = reap(&docker, project).await;
    eprintln!("reaper of {project}: removed {removed} in {:.1}s", started.elapsed().as_secs_f64());
    Ok(crate::exit_codes::OK)
}

/// Answers connections until hadrill's ends: [`State::Released`] after its `bye`, [`State::Reaping`] when it
/// drops without one or never comes within `first_connect`. Later `status` queries get the outcome.
async fn wait_for_end(listener: TcpListener, project: &str, first_connect: Duration) -> State {
    let state = Arc::new(Mutex::new(State::Waiting));
    let (ended, mut end) = tokio::sync::mpsc::channel::<State>(2);
    let (st, p) = (state.clone(), project.to_string());
    tokio::spawn(async move {
        while let Ok((conn, _)) = listener.accept().await {
            tokio::spawn(answer(conn, st.clone(), p.clone(), ended.clone()));
        }
    });
    let first_connect = tokio::time::sleep(first_connect);
    tokio::pin!(first_connect);
    let mut waiting = true;
    let outcome = loop {
        tokio::select! {
            s = end.recv() => break s.unwrap_or(State::Reaping),
            _ = &mut first_connect, if waiting => {
                waiting = false;
                if transition(&state, State::Waiting, State::Reaping).is_ok() {
                    break State::Reaping;
                }
            }
        }
    };
    *state.lock().expect("state") = outcome;
    outcome
}

async fn answer(
    mut conn: TcpStream,
    state: Arc<Mutex<State>>,
    project: String,
    ended: tokio::sync::mpsc::Sender<State>,
) {
    let (rd, mut wr) = conn.split();
    let mut lines = BufReader::new(rd).lines();
    let first = tokio::time::timeout(Duration::from_secs(5), lines.next_line()).await;
    let Ok(Ok(Some(first))) = first else { return };
    let held = match first.trim() {
        "hold" => transition(&state, State::Waiting, State::Held),
        _ => Err(*state.lock().expect("state")),
    };
    if let Err(now) = held {
        let _ = wr.write_all(format!("{} {project}\n", now.as_str()).as_bytes()).await;
        return;
    }
    if wr.write_all(format!("ok {project}\n").as_bytes()).await.is_err() {
        let _ = ended.send(State::Reaping).await;
        return;
    }
    let end = loop {
        match lines.next_line().await {
            Ok(Some(l)) if l.trim() == "bye" => break State::Released,
            Ok(Some(_)) => continue,
            Ok(None) | Err(_) => break State::Reaping,
        }
    };
    let _ = ended.send(end).await;
}

/// Moves `state` from `from` to `to`; the state it found otherwise.
fn transition(state: &Mutex<State>, from: State, to: State) -> std::result::Result<(), State> {
    let mut s = state.lock().expect("state");
    if *s == from {
        *s = to;
        Ok(())
    } else {
        Err(*s)
    }
}

/// Sweeps the project (sparing this reaper) every [`SWEEP_EVERY`] until [`QUIET_SWEEPS`] sweeps in a row find nothing.
async fn reap(docker: &Docker, project: &str) -> cleanup::Removed {
    let scope = Scope::Reaped(project.to_string());
    let started = Instant::now();
    let mut total = cleanup::Removed::default();
    let mut quiet = 0;
    while quiet < QUIET_SWEEPS && started.elapsed() < REAP_LIMIT {
        match cleanup::sweep(docker, &scope).await {
            Ok(r) if r.total() == 0 => quiet += 1,
            Ok(r) => {
                total = total + r;
                quiet = 0;
            }
            Err(e) => {
                eprintln!("reaper of {project}: {e}; sweeping again");
                quiet = 0;
            }
        }
        tokio::time::sleep(SWEEP_EVERY).await;
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_round_trip_through_their_words() {
        for s in [State::Waiting, State::Held, State::Reaping, State::Released] {
            assert_eq!(State::parse(s.as_str()), Some(s));
        }
        assert_eq!(State::parse("ok"), None);
    }

    #[test]
    fn the_binary_is_hadrill_itself_or_the_one_beside_a_test_harness() {
        let hadrill = PathBuf::from("/usr/local/bin/hadrill");
        assert_eq!(pick_binary(hadrill.clone(), |_| false), Ok(hadrill));
        let harness = PathBuf::from("/src/target/debug/deps/e2e_stack-0123abcd");
        let built = PathBuf::from("/src/target/debug/hadrill");
        assert_eq!(pick_binary(harness.clone(), |p| p == built), Ok(built));
        let err = pick_binary(harness, |_| false).unwrap_err();
        assert!(err.contains("e2e_stack-0123abcd is not hadrill") && err.contains("HADRILL_BIN"), "{err}");
    }

    async fn line(stream: &mut TcpStream) -> String {
        let mut l = String::new();
        BufReader::new(stream).read_line(&mut l).await.unwrap();
        l
    }

    /// Holds a connection to a reaper loop on 127.0.0.1, checks `status` meanwhile, ends it with `last`.
    async fn hold_then(last: Option<&str>) -> State {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let reaper =
            tokio::spawn(async move { wait_for_end(listener, "hadrill-p", Duration::from_secs(30)).await });
        assert_eq!(status(addr.port()).await, Ok(State::Waiting));
        let mut held = TcpStream::connect(addr).await.unwrap();
        held.write_all(b"hold\n").await.unwrap();
        assert_eq!(line(&mut held).await, "ok hadrill-p\n");
        assert_eq!(status(addr.port()).await, Ok(State::Held));
        let (_, second) = ask(addr, "hold").await.unwrap();
        assert_eq!(second, "held hadrill-p", "a second hadrill cannot take a held reaper");
        if let Some(l) = last {
            held.write_all(l.as_bytes()).await.unwrap();
        }
        drop(held);
        let outcome = tokio::time::timeout(Duration::from_secs(5), reaper).await.unwrap().unwrap();
        assert_eq!(status(addr.port()).await, Ok(outcome), "status tells the outcome after");
        outcome
    }

    #[tokio::test]
    async fn a_goodbye_releases_and_a_drop_reaps() {
        assert_eq!(hold_then(Some("bye\n")).await, State::Released);
        assert_eq!(hold_then(None).await, State::Reaping);
        assert_eq!(hold_then(Some("something else\n")).await, State::Reaping);
    }

    #[tokio::test]
    async fn nobody_connecting_reaps() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let outcome = wait_for_end(listener, "hadrill-p", Duration::from_millis(100)).await;
        assert_eq!(outcome, State::Reaping);
    }

    #[tokio::test]
    async fn a_dropped_handle_says_bye() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let reaper = Reaper::default();
        let stream = std::net::TcpStream::connect(addr).unwrap();
        *reaper.conn.lock().unwrap() = Some(Held { stream, container: "c".into() });
        let (mut server, _) = listener.accept().unwrap();
        let clone = reaper.clone();
        drop(reaper);
        assert!(clone.is_held(), "a clone still holds the connection");
        drop(clone);
        let mut got = String::new();
        std::io::Read::read_to_string(&mut server, &mut got).unwrap();
        assert_eq!(got, "bye\n");
    }
}
