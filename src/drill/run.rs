//! The flow of one drill.
//!
//! 1. images and `compose up` (exit 2 when the stack never gets healthy);
//! 2. the clock starts with the load; the schedule plays faults and steps at their offsets, each with its
//!    revert registered in the ledger and run when its duration ends;
//! 3. after the load: every pending revert, a settle pause, the read-back of written keys;
//! 4. teardown (unless `keep`), whatever happened: success, failure, interrupt, panic.
//!
//! The drill body runs in its own task so that a panic in it still reaches the revert and teardown here.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bollard::Docker;
use rand::SeedableRng;
use tokio_util::sync::CancellationToken;

use super::record::Recording;
use crate::docker::discover::Container;
use crate::error::{Error, Result};
use crate::fault::{Injector, Ledger};
use crate::load::{self, Counters, LoadConfig, Probe, ProbeError};
use crate::observe::events::EventLog;
use crate::scenario::model::{self as scenario, Action};
use crate::scenario::Scenario;
use crate::stack::compose::ComposeCli;
use crate::stack::lifecycle::{endpoints_of, find_endpoint, Endpoint};
use crate::stack::{resolve, RunningStack, UpOptions};
use crate::timeline::{ActionEvent, Clock, Nanos};

#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Leave the stack running after the drill (faults are still reverted).
    pub keep: bool,
    pub base_image: String,
    pub up_timeout: Duration,
    /// Overrides the scenario's seed.
    pub seed: Option<u64>,
    /// Show live counters on the terminal.
    pub progress: bool,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            keep: false,
            base_image: crate::images::base::DEFAULT_BASE.into(),
            up_timeout: Duration::from_secs(180),
            seed: None,
            progress: false,
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
}

/// Runs `scenario` from bring-up to teardown. Errors are environment problems (exit 2); an interrupted drill
/// returns a recording marked aborted.
pub async fn run(scenario: &Scenario, opts: &RunOptions, cancel: CancellationToken) -> Result<Drill> {
    let spec = resolve::resolve(&scenario.stack)?;
    let docker = crate::docker::connect::connect().await?;
    let compose = ComposeCli::detect().await?;
    phase(&format!("images for {}", spec.name));
    tokio::select! {
        r = crate::images::build::ensure(&docker, &spec, &opts.base_image, false) => { r?; }
        _ = cancel.cancelled() => return Err(Error::Interrupted),
    }
    check_kernel(scenario).await?;
    let running = RunningStack::prepare(spec, compose)?;
    phase(&format!("bringing up {} as {}", running.spec.name, running.project));
    let up_opts = UpOptions { timeout: opts.up_timeout };
    let up = tokio::select! {
        r = running.up(&docker, &up_opts) => r,
        _ = cancel.cancelled() => {
            running.down(&docker).await?;
            return Err(Error::Interrupted);
        }
    };
    let containers = up?;
    let seed = opts.seed.or(scenario.seed).unwrap_or_else(rand::random);
    let key_prefix = format!("hd-{}-", &running.project[running.project.len() - 6..]);
    let clock = Clock::start();
    let ledger = Arc::new(Ledger::new(docker.clone(), clock));
    let body = tokio::spawn(body(
        Body {
            docker: docker.clone(),
            scenario: scenario.clone(),
            project: running.project.clone(),
            http_target: scenario.load.target.clone().or(running.spec.meta.http.clone()),
            containers,
            clock,
            ledger: ledger.clone(),
            seed,
            key_prefix: key_prefix.clone(),
            progress: opts.progress,
            observe: running.spec.meta.observe.clone(),
        },
        cancel.clone(),
    ));
    let result = body.await;
    // Whatever happened in the body: undo every fault, then tear down.
    ledger.revert_all().await;
    if opts.keep {
        phase(&format!(
            "keeping the stack: hadrill down {} --project {}",
            running.spec.name, running.project
        ));
    } else {
        phase("tearing down");
        if let Err(e) = running.down(&docker).await {
            eprintln!("warning: teardown of {} failed: {e}; `hadrill clean` removes it", running.project);
        }
    }
    let mut recording = match result {
        Ok(r) => r?,
        Err(join) => {
            return Err(Error::Other(format!("the drill crashed (faults reverted, stack removed): {join}")))
        }
    };
    recording.revert_errors = ledger.errors();
    for a in &mut recording.actions {
        a.reverted = ledger.reverted_at(a.index);
    }
    Ok(Drill {
        recording,
        project: running.project.clone(),
        compose: running.compose.display(),
        seed,
        key_prefix,
        started_unix_ms: clock.start_unix_ms(),
        kept: opts.keep,
    })
}

/// A network fault this kernel cannot do makes the scenario unusable here: said (with the action's place in the
/// file) before the stack comes up, rather than as an unverified fault in the middle of a drill.
async fn check_kernel(sc: &Scenario) -> Result<()> {
    let network = |a: &Action| {
        matches!(
            a,
            Action::Partition { .. } | Action::Loss { .. } | Action::Delay { .. } | Action::Throttle { .. }
        )
    };
    if !sc.actions.iter().any(|p| network(&p.action)) {
        return Ok(());
    }
    let k = crate::fault::netfault::kernel_features().await;
    for p in &sc.actions {
        let missing = match p.action {
            Action::Delay { .. } if !k.netem => {
                "tc netem, and this kernel has no sch_netem module (load it with `modprobe sch_netem` where the \
                 module exists; `loss` and `throttle` work without it)"
            }
            Action::Throttle { .. } if !k.tbf => "tc tbf, which does not work in a container on this machine",
            Action::Loss { .. } if !(k.iptables && k.statistic) => {
                "iptables with -m statistic, which does not work in a container on this machine"
            }
            Action::Partition { .. } if !k.iptables => "iptables, which does not work in a container on this machine",
            _ => continue,
        };
        return Err(crate::scenario::ScenarioError {
            file: sc.file.clone(),
            line: p.place.0,
            col: p.place.1,
            message: format!(
                "action {:?} needs {missing}; `hadrill doctor` lists what works here",
                p.action.name()
            ),
        }
        .into());
    }
    Ok(())
}

fn phase(text: &str) {
    eprintln!("hadrill: {text}");
}

struct Body {
    docker: Docker,
    scenario: Scenario,
    project: String,
    http_target: Option<String>,
    containers: Vec<Container>,
    clock: Clock,
    ledger: Arc<Ledger>,
    seed: u64,
    key_prefix: String,
    progress: bool,
    observe: crate::stack::resolve::ObserveSpec,
}

async fn body(b: Body, cancel: CancellationToken) -> Result<Recording> {
    let sc = &b.scenario;
    let eps = endpoints_of(&b.containers);
    let stop_probe = CancellationToken::new();
    let probe = make_probe(&b, &eps, stop_probe.clone()).await?;
    let target_desc = probe.describe();
    let names: HashMap<String, String> =
        b.containers.iter().map(|c| (c.id.clone(), c.display_name())).collect();
    let stop_events = CancellationToken::new();
    let events = EventLog::start(b.docker.clone(), b.project.clone(), names, stop_events.clone()).await;
    let injector = Arc::new(Injector {
        docker: b.docker.clone(),
        clock: b.clock,
        project: b.project.clone(),
        events: events.clone(),
        containers: b.containers.clone(),
        rng: Mutex::new(rand::rngs::StdRng::seed_from_u64(b.seed)),
        ledger: b.ledger.clone(),
        key_prefix: b.key_prefix.clone(),
        load_start: 0,
    });
    let observers = crate::observe::set::Observers::start(&b.observe, &eps, b.clock);
    let counters = Arc::new(Counters::default());
    let load_cfg = LoadConfig {
        probe: probe.clone(),
        rate: Some(sc.load.rate),
        timeout: sc.load.timeout,
        max_in_flight: sc.load.max_in_flight,
        duration: sc.duration,
        seed: b.seed,
    };
    phase(&format!(
        "load {} req/s for {} against {target_desc} (seed {})",
        sc.load.rate,
        crate::duration::human(sc.duration),
        b.seed
    ));
    let load_task = tokio::spawn(load::engine::run(load_cfg, b.clock, counters.clone(), cancel.clone()));
    let recorded: Arc<Mutex<Vec<ActionEvent>>> = Arc::default();
    let schedule_stop = CancellationToken::new();
    let mut schedule = Vec::new();
    for p in sc.actions.clone() {
        let (inj, ledger, rec, stop, clock) =
            (injector.clone(), b.ledger.clone(), recorded.clone(), schedule_stop.clone(), b.clock);
        schedule.push(tokio::spawn(async move {
            let at: Nanos = p.at.as_nanos() as Nanos;
            tokio::select! {
                _ = tokio::time::sleep_until(clock.instant(at).into()) => {}
                _ = stop.cancelled() => return,
            }
            let ev = inj.apply(&p).await;
            phase(&format!(
                "{} {:>7} {}{}",
                if ev.verified { "✓" } else { "✗" },
                crate::duration::human(Duration::from_nanos(ev.started)),
                ev.summary,
                if ev.verified { String::new() } else { format!(" ({})", ev.detail) }
            ));
            rec.lock().expect("actions lock").push(ev);
            if let Some(end) = p.ends_at() {
                tokio::select! {
                    _ = tokio::time::sleep_until(clock.instant(end.as_nanos() as Nanos).into()) => {}
                    _ = stop.cancelled() => {}
                }
                ledger.revert(p.index).await;
            }
        }));
    }
    let progress = b.progress.then(|| spawn_progress(counters.clone(), b.clock, sc.duration));
    let load_result = load_task.await.map_err(|e| Error::Other(format!("load task failed: {e}")))?;
    if let Some(p) = progress {
        p.abort();
        eprintln!();
    }
    schedule_stop.cancel();
    for s in schedule {
        let _ = s.await;
    }
    b.ledger.revert_all().await;
    let aborted = cancel.is_cancelled().then(|| "interrupted".to_string());
    let verification = if aborted.is_none() {
        phase(&format!("settling {} then reading back written keys", crate::duration::human(sc.load.settle)));
        tokio::time::sleep(sc.load.settle).await;
        let max_seq = load_result.outcomes.iter().map(|o| o.seq()).max().unwrap_or(0);
        let limit = sc.load.verify_timeout;
        Some(probe.read_back(max_seq, limit).await)
    } else {
        None
    };
    stop_events.cancel();
    stop_probe.cancel();
    let (observers_running, observers_skipped) = (observers.running.clone(), observers.skipped.clone());
    let (stack_events, lags) = observers.finish().await;
    let mut actions = std::mem::take(&mut *recorded.lock().expect("actions lock"));
    actions.sort_by_key(|a| a.index);
    let c = &counters;
    phase(&format!(
        "load done: {} sent, {} ok, {} failed ({} missed sends)",
        c.sent.load(Ordering::Relaxed),
        c.ok.load(Ordering::Relaxed),
        c.failed.load(Ordering::Relaxed),
        c.missed.load(Ordering::Relaxed)
    ));
    let mut outcomes = load_result.outcomes;
    // In place, once: measurement then borrows them in order instead of copying millions of records.
    outcomes.sort_unstable_by_key(|o| o.intended());
    Ok(Recording {
        outcomes,
        load_end: load_result.end,
        actions,
        docker_events: events.timeline(&b.clock),
        stack_events,
        lags,
        observers: observers_running,
        observers_skipped,
        verification,
        aborted,
        revert_errors: Vec::new(),
    })
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
        scenario::Probe::Http => {
            let target = b.http_target.clone().ok_or(ProbeError::NoHttpEndpoint)?;
            let (_, addr) = resolve(std::slice::from_ref(&target))?[0];
            let target = load::http1::Target::resolve(&format!("http://{addr}")).await?;
            Arc::new(load::http_probe::KvProbe::new(target, &settings))
        }
        scenario::Probe::Postgres => {
            let nodes = resolve(&b.observe.postgres)?;
            Arc::new(load::pg_probe::PgProbe::new(&nodes, &settings).await?)
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

fn spawn_progress(counters: Arc<Counters>, clock: Clock, total: Duration) -> tokio::task::JoinHandle<()> {
    let bar = indicatif::ProgressBar::new(total.as_secs());
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:30} {pos:>3}/{len}s  {msg}")
            .expect("progress template"),
    );
    tokio::spawn(async move {
        loop {
            let c = &counters;
            bar.set_position(clock.now() / 1_000_000_000);
            bar.set_message(format!(
                "sent {}  ok {}  failed {}  missed {}  in flight {}",
                c.sent.load(Ordering::Relaxed),
                c.ok.load(Ordering::Relaxed),
                c.failed.load(Ordering::Relaxed),
                c.missed.load(Ordering::Relaxed),
                c.in_flight.load(Ordering::Relaxed)
            ));
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    })
}
