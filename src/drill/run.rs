//! The flow of one drill, as a sequence:
//!
//! 1. refuse a swarm drill on a daemon that manages no swarm, and what this kernel cannot do (a network fault
//!    without its kernel feature), before any image is built;
//! 2. images, then `compose up` (exit 2 when the stack never gets healthy);
//! 3. instruments (the load's probe, the Docker event log); the clock starts right before the load, with the
//!    observers, and [`Schedule`] plays faults and steps at their offsets, each reverted when its duration ends;
//! 4. after the load: every pending revert, a settle pause, the read-back of written keys (Ctrl-C stops both:
//!    the recording is then marked aborted, RPO unknown);
//! 5. the recording, with the ledger's revert facts filled once;
//! 6. with several cycles on one stack ([`run_cycles`], `--reuse-stack`): between two cycles, what the last one
//!    left stopped is started, every service is healthy again, then a quiet period; the next cycle is step 3;
//! 7. teardown (unless `keep`), whatever happened: success, failure, interrupt, panic. After a Ctrl-C, hadrill
//!    waits at most [`CLEANUP_BOUND`] (or until a third Ctrl-C) and then says what may be left.
//!
//! The body runs in its own task ([`schedule::guarded`]) so that a panic in it still reaches the reverts and the
//! teardown. Everything the drill says goes to its [`Reporter`].

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bollard::Docker;
use rand::SeedableRng;
use tokio_util::sync::CancellationToken;

use super::console::{self, Counts, Event, Reporter};
use super::phases::{self, Phases};
use super::record::Recording;
use super::schedule::{self, Schedule};
use super::signals::Interrupts;
use crate::docker::discover::Container;
use crate::error::{Error, Result};
use crate::fault::{netfault, DockerInjector, Ledger};
use crate::images::build;
use crate::load::engine::LoadResult;
use crate::load::{self, Counters, LoadConfig, Probe, ProbeError};
use crate::observe::events::EventLog;
use crate::scenario::model as scenario;
use crate::scenario::Scenario;
use crate::stack::compose::ComposeCli;
use crate::stack::deployment::Deployment;
use crate::stack::lifecycle::{endpoints_of, find_endpoint, Endpoint};
use crate::stack::UpOptions;
use crate::timeline::{Clock, Verification};

/// How long hadrill waits for the cleanup (reverts and teardown) after the first Ctrl-C, before it stops waiting
/// and lists what may be left. Without an interrupt, cleanup is not cut short: a user sees it run and can press
/// Ctrl-C.
pub const CLEANUP_BOUND: Duration = Duration::from_secs(60);

#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Leave the stack running after the drill (faults are still reverted).
    pub keep: bool,
    pub base_image: String,
    pub up_timeout: Duration,
    /// Overrides the scenario's seed.
    pub seed: Option<u64>,
    /// Where the drill's live lines go (silent by default).
    pub console: Reporter,
    /// Deploy on the daemon's swarm (`--swarm`), whatever the scenario says.
    pub swarm: bool,
    /// Where the requests' outcomes are spilled while the drill runs (the reports folder; an unlinked file).
    pub spill_dir: std::path::PathBuf,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            keep: false,
            base_image: crate::images::base::DEFAULT_BASE.into(),
            up_timeout: Duration::from_secs(180),
            seed: None,
            console: Reporter::silent(),
            swarm: false,
            spill_dir: std::env::temp_dir(),
        }
    }
}

/// What `run` hands back: the recording and the facts about the run the report needs.
#[derive(Debug)]
pub struct Drill {
    pub recording: Recording,
    pub project: String,
    pub compose: String,
    pub seed: u64,
    pub key_prefix: String,
    pub started_unix_ms: u64,
    pub kept: bool,
    /// On a reused stack, what had to be started again before this cycle (a kill the last one left).
    pub restarted: Vec<String>,
    /// How long each phase took: the drill's overhead beside its load.
    pub phases: Phases,
}

/// Runs `scenario` from bring-up to teardown. Errors are environment problems (exit 2); an interrupted drill
/// returns a recording marked aborted. `interrupts` is a plain token or the signal watcher's [`Interrupts`].
pub async fn run(scenario: &Scenario, opts: &RunOptions, interrupts: impl Into<Interrupts>) -> Result<Drill> {
    let mut drilled = None;
    let mut keep = |_: u32, d: Drill| {
        drilled = Some(d);
        Ok(false)
    };
    let plan = Cycles { count: 1, settle: Duration::ZERO, on_cycle: &mut keep };
    let teardown_ms = run_cycles(scenario, opts, interrupts.into(), plan).await?;
    let mut d = drilled.ok_or(Error::Interrupted)?;
    d.phases.teardown_ms = teardown_ms;
    opts.console.phase(d.phases.line());
    Ok(d)
}

/// The cycles of a drill on one stack (`--reuse-stack`): between two cycles every fault is reverted, what a
/// cycle left stopped is started, every service is healthy again, then `settle` of quiet.
pub struct Cycles<'a> {
    pub count: u32,
    pub settle: Duration,
    /// Called with each cycle (from 1) as it ends; `Ok(false)` stops the run there, an error too (after the
    /// teardown).
    pub on_cycle: &'a mut dyn FnMut(u32, Drill) -> Result<bool>,
}

/// Brings the stack up once, runs `plan.count` cycles on it, tears it down. Cycle k's seed is
/// [`super::repeat::cycle_seed`] of the run's (`opts.seed`); its written keys carry a prefix of their own.
/// Returns how long the teardown took (`None` when the stack was kept): the cycles' reports are written
/// before it.
pub async fn run_cycles(
    scenario: &Scenario,
    opts: &RunOptions,
    interrupts: Interrupts,
    plan: Cycles<'_>,
) -> Result<Option<f64>> {
    let console = &opts.console;
    let spec = scenario.stack_spec()?;
    let docker = crate::docker::connect::connect().await?;
    let orchestrator = match opts.swarm {
        true => crate::swarm::Orchestrator::Swarm,
        false => scenario.orchestrator.or(spec.meta.orchestrator).unwrap_or_default(),
    };
    let nodes = match orchestrator {
        crate::swarm::Orchestrator::Swarm => {
            crate::swarm::manager::require(&docker, &crate::docker::connect::local_endpoint()).await?;
            crate::swarm::nodes::connect_all(&docker, &scenario.nodes).await?
        }
        crate::swarm::Orchestrator::Compose => crate::swarm::nodes::Nodes::default(),
    };
    let compose = ComposeCli::detect().await?;
    refuse_early(&docker, scenario, &opts.base_image, console).await?;
    console.phase(format!("images for {}", spec.name));
    let images = Instant::now();
    until_cancelled(&interrupts.cancel, build::ensure(&docker, &spec, &opts.base_image, false, console))
        .await?;
    let mut timed = Phases { images_ms: phases::ms_since(images), ..Phases::default() };
    let running = Deployment::prepare(spec, compose, orchestrator)?.with_nodes(nodes);
    let ledger = Arc::new(Ledger::new(docker.clone()));
    let flow = async {
        console.phase(format!(
            "bringing up {} as {} ({})",
            running.spec().name,
            running.project(),
            running.engine()
        ));
        let up_opts = UpOptions { timeout: opts.up_timeout, console: console.clone() };
        let started = Instant::now();
        let up = running.up(&docker, &up_opts);
        let (drilled, keep) = match until_cancelled(&interrupts.cancel, up).await {
            Ok((containers, composed)) => {
                timed.up_ms = phases::ms(composed);
                timed.ready_ms = phases::ms_since(started) - timed.up_ms;
                let d =
                    cycles(&docker, scenario, &running, containers, &ledger, opts, &interrupts, plan, timed)
                        .await;
                (d, opts.keep)
            }
            Err(Error::Interrupted) => (Err(Error::Interrupted), false),
            Err(e) => return Err(e), // `up` removed what it started
        };
        let teardown = Instant::now();
        tear_down(&docker, &running, keep, console).await;
        drilled.map(|()| (!keep).then(|| phases::ms_since(teardown)))
    };
    tokio::select! {
        drilled = flow => drilled,
        _ = deadline(&interrupts) => Err(Error::CleanupAbandoned { left: left_behind(&ledger, &running, opts.keep) }),
    }
}

/// The cycles on the stack that is up: each a [`drill`], and between two of them [`restore`].
#[allow(clippy::too_many_arguments)]
async fn cycles(
    docker: &Docker,
    scenario: &Scenario,
    running: &Deployment,
    mut containers: Vec<Container>,
    ledger: &Arc<Ledger>,
    opts: &RunOptions,
    interrupts: &Interrupts,
    plan: Cycles<'_>,
    mut timed: Phases,
) -> Result<()> {
    let mut restarted = Vec::new();
    for k in 1..=plan.count {
        let seed = opts.seed.map(|s| super::repeat::cycle_seed(s, k));
        if k > 1 {
            opts.console.send(Event::Cycle { cycle: k, of: plan.count, seed: seed.unwrap_or_default() });
        }
        let cycle = RunOptions { seed, ..opts.clone() };
        let mut d =
            drill(docker, scenario, running, containers, ledger, &cycle, &interrupts.cancel, k).await?;
        d.restarted = std::mem::take(&mut restarted);
        // Cycle 1 carries the bring-up; a later cycle's ready wait is the restore before it.
        let Phases { images_ms, up_ms, ready_ms, quiet_ms, .. } = timed;
        d.phases = Phases { images_ms, up_ms, ready_ms, quiet_ms, ..d.phases };
        let aborted = d.recording.aborted.is_some();
        if !(plan.on_cycle)(k, d)? || aborted || k == plan.count || interrupts.cancel.is_cancelled() {
            return Ok(());
        }
        ledger.next_cycle();
        timed = Phases::default();
        (containers, restarted) =
            restore(docker, running, opts, plan.settle, &interrupts.cancel, &mut timed).await?;
    }
    Ok(())
}

/// Between two cycles on one stack (the last one's faults are reverted already): what it left stopped started
/// again, every service healthy, then `settle` of quiet, each timed into `timed` (`ready_ms`, `quiet_ms`).
/// Returns the ready containers and what was started.
async fn restore(
    docker: &Docker,
    running: &Deployment,
    opts: &RunOptions,
    settle: Duration,
    cancel: &CancellationToken,
    timed: &mut Phases,
) -> Result<(Vec<Container>, Vec<String>)> {
    opts.console.phase("faults reverted; waiting for every service to be healthy again");
    let restoring = Instant::now();
    let (containers, restarted) = until_cancelled(cancel, running.restore(docker, opts.up_timeout)).await?;
    timed.ready_ms = phases::ms_since(restoring);
    if !restarted.is_empty() {
        opts.console.phase(format!("started again: {}", restarted.join(", ")));
    }
    opts.console.phase(format!("quiet for {} before the next cycle", crate::duration::human(settle)));
    let quiet = Instant::now();
    until_cancelled(cancel, async {
        tokio::time::sleep(settle).await;
        Ok(())
    })
    .await?;
    timed.quiet_ms = phases::ms_since(quiet);
    Ok((containers, restarted))
}

/// A network fault this kernel cannot do makes the scenario unusable here: said (with the action's place in the
/// file) before any image is built, rather than as an unverified fault in the middle of a drill.
async fn refuse_early(docker: &Docker, sc: &Scenario, base_image: &str, console: &Reporter) -> Result<()> {
    if !sc.actions.iter().any(|p| netfault::is_network(&p.action)) {
        return Ok(());
    }
    build::ensure_helper(docker, base_image, console).await?;
    netfault::refuse_unsupported(sc, &netfault::kernel_features().await?)
}

async fn until_cancelled<T>(cancel: &CancellationToken, f: impl Future<Output = Result<T>>) -> Result<T> {
    tokio::select! {
        r = f => r,
        _ = cancel.cancelled() => Err(Error::Interrupted),
    }
}

/// Resolves when hadrill should stop waiting for the cleanup: [`CLEANUP_BOUND`] after the first Ctrl-C, or at
/// the third.
async fn deadline(interrupts: &Interrupts) {
    interrupts.cancel.cancelled().await;
    tokio::select! {
        _ = tokio::time::sleep(CLEANUP_BOUND) => {}
        _ = interrupts.abandon.cancelled() => {}
    }
}

fn left_behind(ledger: &Ledger, running: &Deployment, keep: bool) -> Vec<String> {
    let mut left = ledger.may_be_left();
    if !keep {
        left.push(format!("the containers, networks and volumes of project {}", running.project()));
    }
    left
}

async fn tear_down(docker: &Docker, running: &Deployment, keep: bool, console: &Reporter) {
    if keep {
        console.phase(format!("keeping the stack: {}", running.down_command()));
        return;
    }
    console.phase("tearing down");
    if let Err(e) = running.down(docker).await {
        console.warn(format!("teardown of {} failed: {e}; `hadrill clean` removes it", running.project()));
    }
}

/// The prefix of the keys a cycle writes: `hd-<the project's 6 hex>-`, and for the later cycles on one stack
/// `hd-<hex>c<K>-`, so that no cycle reads back another's writes.
fn key_prefix(project: &str, cycle: u32) -> String {
    let hex = &project[project.len().saturating_sub(6)..];
    match cycle {
        0 | 1 => format!("hd-{hex}-"),
        k => format!("hd-{hex}c{k}-"),
    }
}

/// The drill proper, on a healthy stack: the body in a task of its own, and every revert still pending after it.
#[allow(clippy::too_many_arguments)]
async fn drill(
    docker: &Docker,
    scenario: &Scenario,
    running: &Deployment,
    containers: Vec<Container>,
    ledger: &Arc<Ledger>,
    opts: &RunOptions,
    cancel: &CancellationToken,
    cycle: u32,
) -> Result<Drill> {
    let seed = opts.seed.or(scenario.seed).unwrap_or_else(rand::random);
    let project = running.project();
    let key_prefix = key_prefix(project, cycle);
    let token = cancel.child_token();
    let b = Body {
        docker: docker.clone(),
        scenario: scenario.clone(),
        project: project.to_owned(),
        swarm: running.is_swarm(),
        nodes: running.nodes(),
        http_target: scenario.load.target.clone().or(running.spec().meta.http.clone()),
        containers,
        ledger: ledger.clone(),
        seed,
        key_prefix: key_prefix.clone(),
        observe: running.spec().meta.observe.clone(),
        console: opts.console.clone(),
        spill_dir: opts.spill_dir.clone(),
    };
    let (recording, clock, timed) =
        schedule::guarded(body(b, token.clone(), Phases::default()), &token, ledger.revert_all()).await?;
    Ok(Drill {
        recording,
        project: project.to_owned(),
        compose: running.engine(),
        seed,
        key_prefix,
        started_unix_ms: clock.start_unix_ms(),
        kept: opts.keep,
        restarted: Vec::new(),
        phases: timed,
    })
}

struct Body {
    docker: Docker,
    scenario: Scenario,
    project: String,
    /// A Swarm stack: its tasks are watched (see `swarm::watch`).
    swarm: bool,
    /// `[nodes]`: the daemons of the swarm's nodes, for faults on their task containers.
    nodes: crate::swarm::nodes::Nodes,
    http_target: Option<String>,
    containers: Vec<Container>,
    ledger: Arc<Ledger>,
    seed: u64,
    key_prefix: String,
    observe: crate::stack::resolve::ObserveSpec,
    console: Reporter,
    spill_dir: std::path::PathBuf,
}

impl Body {
    fn injector(&self, clock: Clock, events: Arc<EventLog>) -> DockerInjector {
        DockerInjector {
            docker: self.docker.clone(),
            clock,
            project: self.project.clone(),
            events,
            containers: self.containers.clone(),
            rng: Mutex::new(rand::rngs::StdRng::seed_from_u64(self.seed)),
            ledger: self.ledger.clone(),
            key_prefix: self.key_prefix.clone(),
            observe: self.observe.clone(),
            swarm: self.swarm,
            nodes: self.nodes.clone(),
            node_of: Mutex::default(),
        }
    }

    fn load_config(&self, probe: &Arc<dyn Probe>) -> LoadConfig {
        let sc = &self.scenario;
        LoadConfig {
            probe: probe.clone(),
            rate: Some(sc.load.rate),
            timeout: sc.load.timeout,
            max_in_flight: sc.load.max_in_flight,
            duration: sc.duration,
            seed: self.seed,
            spill_dir: self.spill_dir.clone(),
        }
    }
}

/// Load and schedule, settle and read-back, the recording. Returns it with the drill's clock, and `timed` with
/// the load's, the settle's and the read-back's phases.
async fn body(b: Body, token: CancellationToken, mut timed: Phases) -> Result<(Recording, Clock, Phases)> {
    let sc = &b.scenario;
    let eps = endpoints_of(&b.containers);
    let probe = make_probe(&b, &eps, token.child_token()).await?;
    let target = probe.describe();
    let names: HashMap<String, String> =
        b.containers.iter().map(|c| (c.id.clone(), c.display_name())).collect();
    let events = EventLog::start(b.docker.clone(), b.project.clone(), names, token.child_token()).await;
    let (rate, duration) = (sc.load.rate, crate::duration::human(sc.duration));
    b.console.phase(format!("load {rate} req/s for {duration} against {target} (seed {})", b.seed));
    let clock = Clock::start();
    let observers = crate::observe::set::Observers::start(&b.observe, &eps, clock, &b.docker, &b.containers);
    let swarm_watch = b
        .swarm
        .then(|| crate::swarm::watch::Watch::start(b.docker.clone(), b.project.clone(), clock, &token));
    let injector = Arc::new(b.injector(clock, events.clone()));
    let schedule = Schedule::start(injector, &sc.actions, clock, &token, &b.console);
    let counters = Arc::new(Counters::default());
    let load = load::engine::run(b.load_config(&probe), clock, counters.clone(), token.clone());
    let loaded = console::ticking(load, &counters, clock, sc.duration, &b.console).await;
    timed.load_ms = clock.now() as f64 / 1e6;
    b.console.send(Event::Done(Counts::of(&counters)));
    let settle = Instant::now();
    let mut actions = schedule.finish().await;
    let verification = settle_and_read_back(&b, probe.as_ref(), &loaded, &token, &mut timed, settle).await;
    let aborted = token.is_cancelled().then(|| "interrupted".to_string());
    let (observers_running, observers_skipped) = (observers.running.clone(), observers.skipped.clone());
    let (mut stack_events, lags) = observers.finish().await;
    if let Some(watch) = swarm_watch {
        watch.finish(&mut stack_events).await;
    }
    let revert_errors = b.ledger.fill(&mut actions, &clock);
    let recording = Recording {
        outcomes: loaded.outcomes?,
        load_end: loaded.end,
        actions,
        docker_events: events.timeline(&clock),
        stack_events,
        lags,
        observers: observers_running,
        observers_skipped,
        verification: verification.filter(|_| aborted.is_none()),
        aborted,
        revert_errors,
    };
    Ok((recording, clock, timed))
}

/// The settle pause and the read-back of every written key; `None` when the drill was interrupted before or
/// during them.
async fn settle_and_read_back(
    b: &Body,
    probe: &dyn Probe,
    loaded: &LoadResult,
    token: &CancellationToken,
    timed: &mut Phases,
    settle: Instant,
) -> Option<Verification> {
    if token.is_cancelled() {
        return None;
    }
    let load = &b.scenario.load;
    b.console
        .phase(format!("settling {} then reading back written keys", crate::duration::human(load.settle)));
    let max_seq = loaded.outcomes.as_ref().map_or(0, |o| o.max_seq());
    let read = async {
        tokio::time::sleep(load.settle).await;
        timed.settle_ms = phases::ms_since(settle);
        let reading = Instant::now();
        let v = probe.read_back(max_seq, load.verify_timeout).await;
        timed.read_back_ms = phases::ms_since(reading);
        v
    };
    tokio::select! {
        v = read => Some(v),
        _ = token.cancelled() => None,
    }
}

/// The load's HTTP target: the stack's published address of `[load] target`, with the scenario's TLS and
/// `Host` settings (`https://` targets through rustls).
async fn http_target(
    b: &Body,
    resolve: &impl Fn(&[String]) -> Result<Vec<(String, std::net::SocketAddr)>, ProbeError>,
) -> Result<load::http1::Target, ProbeError> {
    let target = b.http_target.clone().ok_or(ProbeError::NoHttpEndpoint)?;
    let (_, addr) = resolve(std::slice::from_ref(&target))?[0];
    let client = &b.scenario.load.client;
    let scheme = if client.https { "https" } else { "http" };
    let resolved = load::http1::Target::resolve(&format!("{scheme}://{addr}"))
        .await?
        .with_tls(&client.tls)?
        .with_host(client.host.as_deref());
    use load::answering::{wait, Answering, ANSWER_WITHIN};
    match wait(&resolved, ANSWER_WITHIN).await {
        Answering::Answered { after, .. } if after > Duration::from_millis(500) => b.console.phase(format!(
            "{target} answered {:.1}s after the stack was healthy",
            after.as_secs_f64()
        )),
        Answering::Answered { .. } => {}
        Answering::Silent { last } => b.console.warn(format!(
            "{target} ({scheme}://{addr}) gave no HTTP answer within {}s (last: {last}); the load starts anyway",
            ANSWER_WITHIN.as_secs()
        )),
    }
    Ok(resolved)
}

/// The client the scenario's `probe` asks for, connected to the stack's published ports.
async fn make_probe(b: &Body, eps: &[Endpoint], stop: CancellationToken) -> Result<Arc<dyn Probe>> {
    let sc = &b.scenario;
    let resolve = |targets: &[String]| -> Result<Vec<(String, std::net::SocketAddr)>, ProbeError> {
        targets
            .iter()
            .map(|t| {
                let addr =
                    find_endpoint(eps, t).ok_or_else(|| ProbeError::NotPublished { target: t.clone() })?;
                Ok((t.clone(), addr))
            })
            .collect()
    };
    let settings = load::probe::Settings {
        key_prefix: b.key_prefix.clone(),
        timeout: sc.load.timeout,
        read_ratio: sc.load.read_ratio,
    };
    Ok(match sc.load.probe {
        scenario::Probe::Http if sc.load.workload.is_some() => {
            let workload = sc.load.workload.clone().ok_or(ProbeError::NoHttpEndpoint)?;
            let target = http_target(b, &resolve).await?;
            let sql = match &workload.verify {
                Some(crate::scenario::workload::VerifySpec::Sql { service, .. }) => {
                    Some(resolve(std::slice::from_ref(service))?[0].1)
                }
                _ => None,
            };
            Arc::new(load::workload::WorkloadProbe::new(target, workload, &settings, sql))
        }
        scenario::Probe::Http => {
            let target = http_target(b, &resolve).await?;
            Arc::new(load::http_probe::KvProbe::new(target, &settings))
        }
        scenario::Probe::Postgres => {
            let nodes = resolve(&b.observe.postgres)?;
            let login = b.observe.probe_login().unwrap_or_else(load::pg_probe::app_login);
            Arc::new(load::pg_probe::PgProbe::new(&nodes, &login, &settings).await?)
        }
        scenario::Probe::Redis => {
            let nodes = resolve(&b.observe.sentinel)?;
            let mut map = HashMap::new();
            for c in b.containers.iter() {
                let Some(port) = c.ports.get("6379/tcp") else { continue };
                let published = std::net::SocketAddr::from(([127, 0, 0, 1], *port));
                map.insert(format!("{}:6379", c.service), published);
                for ip in crate::fault::netfault::addresses(&b.docker, &c.id).await? {
                    map.insert(format!("{ip}:6379"), published);
                }
            }
            let master_name = b.observe.sentinel_master.clone().unwrap_or_else(|| "mymaster".into());
            let sentinels = load::redis_probe::Sentinels { nodes, master_name, addr_map: map };
            load::redis_probe::RedisProbe::start(sentinels, &settings, stop).await?
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_later_cycle_on_one_stack_writes_keys_of_its_own() {
        let project = "hadrill-web-haproxy-pg-a1b2c3";
        assert_eq!(key_prefix(project, 1), "hd-a1b2c3-", "a single drill's keys are unchanged");
        assert_eq!(key_prefix(project, 2), "hd-a1b2c3c2-");
        let prefixes: std::collections::BTreeSet<String> = (1..=12).map(|k| key_prefix(project, k)).collect();
        assert_eq!(prefixes.len(), 12);
        // No prefix is the start of another's key: `hd-a1b2c3c1` + `2-...` never reads as cycle 12's.
        for a in &prefixes {
            for b in &prefixes {
                assert!(a == b || !b.starts_with(a.as_str()), "{a} / {b}");
            }
        }
    }
}
