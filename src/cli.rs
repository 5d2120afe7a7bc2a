//! The command line (clap derive) and the dispatch of each subcommand to the library.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};

use crate::cleanup::{self, Scope};
use crate::docker::connect;
use crate::drill::console::Console;
use crate::drill::run::RunOptions;
use crate::error::{Error, Result};
use crate::images::{base::DEFAULT_BASE, build};
use crate::limits::{MAX_IN_FLIGHT, MAX_RATE, MAX_REQUESTS};
use crate::report::compare;
use crate::stack::compose::ComposeCli;
use crate::stack::{lifecycle, resolve, RunningStack, UpOptions};
use crate::target::{HttpUrl, Reach};
use crate::timeline::Failure;
use crate::{doctor, drill, duration, exit_codes, report, scenario};

#[derive(Debug, Parser)]
#[command(
    name = "hadrill",
    version,
    about = "Failover drills for Docker Compose HA stacks: faults, load, RTO and RPO"
)]
pub struct Cli {
    /// More logging (-v debug, -vv trace); RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, clap::Args)]
pub struct BaseArg {
    /// Base image for hadrill's Dockerfiles; made with debootstrap when it is the default and missing.
    #[arg(long, default_value = DEFAULT_BASE, env = "HADRILL_BASE_IMAGE")]
    pub base: String,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Bring a stack up (bundled name or compose file) and wait until every service is healthy.
    Up {
        stack: String,
        /// How long the services have to become healthy.
        #[arg(long, default_value = "3m", value_parser = duration::parse)]
        timeout: Duration,
        #[command(flatten)]
        base: BaseArg,
    },
    /// Tear a stack down with its volumes (every run of it, or one project).
    Down {
        stack: String,
        /// Only this Compose project (as `up` printed it).
        #[arg(long)]
        project: Option<String>,
    },
    /// Build the images a stack uses (missing or changed ones; --force for all).
    Images {
        stack: String,
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        base: BaseArg,
    },
    /// Check that a drill can run here: Docker, Compose, base image, kernel features for faults.
    Doctor {
        #[command(flatten)]
        base: BaseArg,
    },
    /// Run a failover drill: bring the stack up, load it, inject the faults, measure RTO/RPO, report.
    Run {
        scenario: PathBuf,
        /// Leave the stack running afterwards (faults are still reverted).
        #[arg(long)]
        keep: bool,
        /// Deploy with `docker stack deploy` on the daemon's swarm (as `orchestrator = "swarm"` does).
        #[arg(long)]
        swarm: bool,
        /// Seed for random choices (overrides the scenario's).
        #[arg(long)]
        seed: Option<u64>,
        /// Run the drill N times, each cycle on a fresh stack unless --reuse-stack (overrides the scenario's
        /// `repeat`).
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..=i64::from(crate::limits::MAX_REPEAT)))]
        repeat: Option<u32>,
        /// Run the cycles of --repeat on one stack (as `reuse_stack = true`): between two cycles, faults
        /// reverted, every service healthy again, then the scenario's `settle` (10 s by default) of quiet.
        #[arg(long)]
        reuse_stack: bool,
        /// Replay cycle K of a repeated run alone (with that run's `--seed`).
        #[arg(long, conflicts_with = "repeat", value_parser = clap::value_parser!(u32).range(1..))]
        cycle: Option<u32>,
        /// Where reports go (a folder per scenario and run).
        #[arg(long, default_value = "reports", env = "HADRILL_REPORTS")]
        reports: PathBuf,
        /// How long the stack has to become healthy.
        #[arg(long, default_value = "3m", value_parser = duration::parse)]
        up_timeout: Duration,
        /// No live counters (they are off anyway when stderr is not a terminal).
        #[arg(long)]
        quiet: bool,
        /// Also write every request's outcome to outcomes.csv in the report folder.
        #[arg(long)]
        raw: bool,
        /// An env file for the stack's Compose file (default: the `.env` next to it).
        #[arg(long)]
        env_file: Option<PathBuf>,
        /// Compare with this earlier report.json at the end (as `hadrill compare`); exit 1 on a regression.
        #[arg(long)]
        baseline: Option<PathBuf>,
        /// How much worse a gated figure may get than the baseline's.
        #[arg(long, default_value = "20%", requires = "baseline")]
        tolerance: String,
        #[command(flatten)]
        base: BaseArg,
    },
    /// Compare two report.json files: every figure side by side with its change (Markdown); exit 1 when a gated
    /// figure got worse than the baseline's beyond the tolerance.
    Compare {
        baseline: PathBuf,
        new: PathBuf,
        /// How much worse a gated figure may get, relative to the baseline.
        #[arg(long, default_value = "20%")]
        tolerance: String,
        /// Also write the Markdown table to this file.
        #[arg(long)]
        output: Option<PathBuf>,
    },
    /// Load only: the drills' open-model engine against any HTTP(S) URL on 127.0.0.1, for a steady-state
    /// baseline.
    Load {
        url: String,
        /// Requests per second, or `max` (as fast as the connections allow).
        #[arg(long, default_value = "100")]
        rate: String,
        #[arg(long, default_value = "10s", value_parser = duration::parse)]
        duration: Duration,
        /// Connections (and cap on requests in flight).
        #[arg(long, default_value_t = 50)]
        connections: usize,
        #[arg(long, default_value = "2s", value_parser = duration::parse)]
        timeout: Duration,
        #[command(flatten)]
        reach: LoadTargetArgs,
        /// Print the summary as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Render report.md, report.html and junit.xml again from a report.json (after an upgrade, or from a CI
    /// artifact), beside it.
    Render { report: PathBuf },
    /// Print the JSON schema of report.json.
    Schema,
    /// Validate scenario files without touching Docker.
    Check {
        #[arg(required = true)]
        scenarios: Vec<PathBuf>,
    },
    /// List the bundled stacks and scenarios.
    List,
    /// Remove the containers, networks and volumes hadrill created that no running hadrill owns (crashed runs,
    /// kept stacks); says which live drills it spared.
    Clean {
        /// Only say what would be removed.
        #[arg(long)]
        dry_run: bool,
        /// Also remove the stacks of drills still running.
        #[arg(long)]
        all: bool,
    },
    /// The reaper's own loop, run inside the reaper container: removes PROJECT when hadrill's connection drops.
    #[command(hide = true)]
    Reap {
        #[arg(long)]
        project: String,
        #[arg(long)]
        listen: std::net::SocketAddr,
    },
}

pub fn init_tracing(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "hadrill=debug,info",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(|| crate::secrets::Redacting(std::io::stderr()))
        .try_init();
}

/// Runs a parsed command line; returns the process exit code.
pub async fn run(cli: Cli) -> i32 {
    match dispatch(cli.command).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", crate::secrets::redact(&e.to_string()));
            e.exit_code()
        }
    }
}

async fn dispatch(command: Command) -> Result<i32> {
    match command {
        Command::Up { stack, timeout, base } => up(&stack, timeout, &base.base).await,
        Command::Down { stack, project } => down(&stack, project).await,
        Command::Images { stack, force, base } => images(&stack, force, &base.base).await,
        Command::Doctor { base } => {
            let console = Console::start(false);
            let checks = doctor::run_checks(&base.base, &console.reporter()).await;
            console.close().await;
            Ok(if doctor::drill_can_run(&checks) { exit_codes::OK } else { exit_codes::UNUSABLE })
        }
        Command::Check { scenarios } => Ok(check(&scenarios)),
        Command::Load { url, rate, duration, connections, timeout, reach, json } => {
            load_only(&url, &rate, duration, connections, timeout, &reach, json).await
        }
        Command::Render { report } => render(&report),
        Command::Schema => {
            let schema = report::model::json_schema();
            println!("{}", serde_json::to_string_pretty(&schema).unwrap_or_default());
            Ok(exit_codes::OK)
        }
        Command::Run {
            scenario,
            keep,
            swarm,
            seed,
            repeat,
            reuse_stack,
            cycle,
            reports,
            up_timeout,
            quiet,
            raw,
            env_file,
            baseline,
            tolerance,
            base,
        } => {
            let console = Console::start(!quiet && std::io::IsTerminal::is_terminal(&std::io::stderr()));
            let opts = RunOptions {
                keep,
                base_image: base.base,
                up_timeout,
                seed,
                console: console.reporter(),
                swarm,
                spill_dir: reports.clone(),
            };
            let baseline = match baseline {
                Some(path) => Some(Baseline::read(path, &tolerance)?),
                None => None,
            };
            let drill = Drill {
                file: &scenario,
                reports: &reports,
                raw,
                env_file,
                repeat,
                reuse_stack,
                cycle,
                baseline,
            };
            run_drill(drill, opts, console).await
        }
        Command::Compare { baseline, new, tolerance, output } => {
            let b = Baseline::read(baseline, &tolerance)?;
            let new_report = compare::read(&new)?;
            let (md, regressed) = b.against(&new.display().to_string(), &new_report);
            print!("{md}");
            if let Some(out) = output {
                std::fs::write(&out, &md).map_err(|e| Error::io(&out, e))?;
            }
            Ok(if regressed { exit_codes::EXPECTATION_FAILED } else { exit_codes::OK })
        }
        Command::List => {
            list();
            Ok(exit_codes::OK)
        }
        Command::Clean { dry_run, all } => clean(dry_run, all).await,
        Command::Reap { project, listen } => crate::reaper::serve(&project, listen).await,
    }
}

async fn up(stack: &str, timeout: Duration, base_image: &str) -> Result<i32> {
    let spec = resolve::resolve(stack)?;
    let docker = connect::connect().await?;
    let compose = ComposeCli::detect().await?;
    let started = std::time::Instant::now();
    let console = Console::start(false);
    let built = build::ensure(&docker, &spec, base_image, false, &console.reporter()).await;
    if let Err(e) = built {
        console.close().await;
        return Err(e);
    }
    let running = RunningStack::prepare(spec, compose)?;
    eprintln!(
        "bringing up {} as project {} ({})",
        running.spec.name,
        running.project,
        running.compose.display()
    );
    let opts = UpOptions { timeout, console: console.reporter() };
    let up = tokio::select! {
        r = running.up(&docker, &opts) => r,
        _ = tokio::signal::ctrl_c() => {
            console.close().await;
            eprintln!("interrupted: tearing {} down", running.project);
            running.down(&docker).await?;
            return Err(Error::Interrupted);
        }
    };
    console.close().await;
    let containers = up?;
    println!(
        "{} is up and healthy in {:.1}s (project {})",
        running.spec.name,
        started.elapsed().as_secs_f64(),
        running.project
    );
    for e in lifecycle::endpoints_of(&containers) {
        let scheme = if e.container_port.starts_with("5432/") { "postgres://" } else { "http://" };
        println!("  {:<14} {:<10} {scheme}{}", e.service, e.container_port, e.addr);
    }
    println!("tear down with: hadrill down {} --project {}", running.spec.name, running.project);
    Ok(exit_codes::OK)
}

async fn down(stack: &str, project: Option<String>) -> Result<i32> {
    let spec = resolve::resolve(stack)?;
    let docker = connect::connect().await?;
    let compose = ComposeCli::detect().await?;
    let projects = match project {
        Some(p) => vec![p],
        None => lifecycle::projects_of(&docker, &spec.name).await?,
    };
    if projects.is_empty() {
        println!("no running project of stack {}", spec.name);
    }
    for p in projects {
        let handle = RunningStack::attach(spec.clone(), compose.clone(), p.clone())?;
        let swept = handle.down(&docker).await?;
        let left = cleanup::count(&docker, &Scope::Project(p.clone())).await?;
        println!("{p}: down (swept after compose: {swept}; left: {left})");
    }
    Ok(exit_codes::OK)
}

async fn images(stack: &str, force: bool, base_image: &str) -> Result<i32> {
    let spec = resolve::resolve(stack)?;
    let docker = connect::connect().await?;
    let console = Console::start(false);
    let built = build::ensure(&docker, &spec, base_image, force, &console.reporter()).await;
    console.close().await;
    for b in built? {
        match b.seconds {
            Some(s) => println!("{:<28} built in {s:.0}s", b.tag),
            None => println!("{:<28} up to date", b.tag),
        }
    }
    Ok(exit_codes::OK)
}

/// A baseline report read (and the tolerance checked) before anything else runs, so bad input has no side
/// effects.
struct Baseline {
    path: PathBuf,
    report: report::Report,
    tolerance: f64,
}

impl Baseline {
    fn read(path: PathBuf, tolerance: &str) -> Result<Baseline> {
        let tolerance = compare::parse_tolerance(tolerance)?;
        Ok(Baseline { report: compare::read(&path)?, path, tolerance })
    }

    /// The Markdown table of `new` against the baseline, and whether a gated figure regressed.
    fn against(&self, new_name: &str, new: &report::Report) -> (String, bool) {
        let changes =
            compare::compare(&compare::figures(&self.report), &compare::figures(new), self.tolerance);
        let md = compare::markdown(&self.path.display().to_string(), new_name, &changes, self.tolerance);
        (md, compare::failed(&changes))
    }
}

fn render(file: &std::path::Path) -> Result<i32> {
    let r = compare::read(file)?;
    let dir = file.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(std::path::Path::new("."));
    for written in report::write::write_views(dir, &r)? {
        println!("{}", written.display());
    }
    Ok(exit_codes::OK)
}

fn check(files: &[PathBuf]) -> i32 {
    let mut code = exit_codes::OK;
    for f in files {
        match scenario::load(f) {
            Ok(s) => println!("{}: ok ({} on stack {})", f.display(), s.name, s.stack),
            Err(e) => {
                eprintln!("{e}");
                code = exit_codes::UNUSABLE;
            }
        }
    }
    code
}

/// What `hadrill run` was asked, besides the [`RunOptions`].
struct Drill<'a> {
    file: &'a std::path::Path,
    reports: &'a std::path::Path,
    raw: bool,
    env_file: Option<PathBuf>,
    repeat: Option<u32>,
    /// `--reuse-stack`: the cycles on one stack.
    reuse_stack: bool,
    cycle: Option<u32>,
    /// A report to compare the new one with (`--baseline`).
    baseline: Option<Baseline>,
}

async fn run_drill(d: Drill<'_>, mut opts: RunOptions, console: Console) -> Result<i32> {
    let mut sc = scenario::load(d.file)?;
    sc.overrides.set_env_file(d.env_file)?;
    sc.reuse_stack |= d.reuse_stack;
    if let Some(k) = d.cycle {
        let seed = opts.seed.or(sc.seed).ok_or_else(|| {
            Error::Other("--cycle replays a cycle of a seeded run: give that run's --seed".into())
        })?;
        opts.seed = Some(drill::repeat::cycle_seed(seed, k));
        sc.repeat = None;
    }
    let interrupts = drill::signals::watch_drill(opts.console.clone());
    let cycles = d.repeat.or(sc.repeat).unwrap_or(1);
    if cycles > 1 && d.cycle.is_none() {
        let repeated = drill::repeat::run(&sc, &opts, cycles, d.reports, d.raw, interrupts).await;
        console.close().await;
        let r = repeated?;
        println!("{}", report::markdown::console_verdict(&r.report));
        println!("report: {}", r.dir.display());
        if let Some(e) = r.error {
            return Err(e);
        }
        let regressed = match &d.baseline {
            Some(b) => compare_with(b, &r.dir, &r.report)?,
            None => false,
        };
        return Ok(verdict_code(r.report.verdict, regressed));
    }
    let drilled = drill::run::run(&sc, &opts, interrupts).await;
    console.close().await;
    let drill = drilled?;
    let report = report::build::build(&sc, &drill, crate::usage::Usage::now());
    let dir = report::write::write_all(d.reports, &report)?;
    if d.raw {
        report::write::write_outcomes(&dir, &drill.recording.outcomes)?;
    }
    println!("{}", report::markdown::console_verdict(&report));
    println!("report: {}", dir.display());
    let regressed = match &d.baseline {
        Some(b) => compare_with(b, &dir, &report)?,
        None => false,
    };
    Ok(verdict_code(report.verdict, regressed))
}

/// The exit code of a drill: its verdict, and a regression against `--baseline` fails a passed drill.
fn verdict_code(verdict: report::Verdict, regressed: bool) -> i32 {
    match (verdict, regressed) {
        (report::Verdict::Passed, true) => exit_codes::EXPECTATION_FAILED,
        (v, _) => exit_code(v),
    }
}

/// Writes `comparison.md` beside the report and prints it; whether a gated figure regressed. An aborted drill
/// is not compared.
fn compare_with(b: &Baseline, dir: &std::path::Path, report: &report::Report) -> Result<bool> {
    if report.verdict == report::Verdict::Aborted {
        return Ok(false);
    }
    let (md, regressed) = b.against(&dir.join("report.json").display().to_string(), report);
    let file = dir.join("comparison.md");
    std::fs::write(&file, &md).map_err(|e| Error::io(&file, e))?;
    println!("{md}comparison: {}", file.display());
    Ok(regressed)
}

fn exit_code(v: report::Verdict) -> i32 {
    match v {
        report::Verdict::Passed => exit_codes::OK,
        report::Verdict::Failed => exit_codes::EXPECTATION_FAILED,
        report::Verdict::Aborted => exit_codes::INTERRUPTED,
    }
}

/// `hadrill load`'s target flags: where it may go, and how an `https://` URL is trusted and named.
#[derive(clap::Args, Debug)]
pub struct LoadTargetArgs {
    /// Allow a target that is not on 127.0.0.1.
    #[arg(long)]
    allow_remote: bool,
    /// https: accept any certificate (self-signed).
    #[arg(long, conflicts_with = "ca")]
    insecure: bool,
    /// https: trust only the certificates in this PEM file.
    #[arg(long, value_name = "FILE")]
    ca: Option<PathBuf>,
    /// https: the name sent in SNI and checked against the certificate (default: the URL's host).
    #[arg(long, value_name = "NAME")]
    server_name: Option<String>,
    /// The `Host` header to send (default: the URL's host and port).
    #[arg(long, value_name = "HOST")]
    host: Option<String>,
}

async fn load_only(
    url: &str,
    rate: &str,
    duration: Duration,
    connections: usize,
    timeout: Duration,
    args: &LoadTargetArgs,
    json: bool,
) -> Result<i32> {
    let reach = if args.allow_remote { Reach::Remote } else { Reach::Loopback };
    let checked = HttpUrl::parse(url, reach)?;
    let rate = load_limits(rate, duration, connections, timeout)?;
    let tls = crate::load::tls::TlsOptions {
        insecure: args.insecure,
        ca: args.ca.clone(),
        server_name: args.server_name.clone(),
    };
    let target = crate::load::http1::Target::checked(&checked)
        .await?
        .with_tls(&tls)
        .map_err(crate::load::ProbeError::from)?
        .with_host(args.host.as_deref());
    let cfg = crate::load::LoadConfig {
        probe: std::sync::Arc::new(crate::load::http_probe::GetProbe::new(target)),
        rate,
        timeout,
        max_in_flight: connections,
        duration,
        seed: 0,
        spill_dir: std::env::temp_dir(),
    };
    let clock = crate::timeline::Clock::start();
    let cancel = drill::signals::watch();
    let counters = std::sync::Arc::new(crate::load::Counters::default());
    let result = crate::load::engine::run(cfg, clock, counters, cancel).await;
    let outcomes = result.outcomes?;
    let summary = crate::load::summary::summarize(url, rate, connections, result.end, &outcomes);
    if json {
        println!("{}", serde_json::to_string_pretty(&summary).unwrap_or_default());
    } else {
        print!("{summary}");
    }
    if result.cancelled {
        return Ok(exit_codes::INTERRUPTED);
    }
    if summary.succeeded == 0 {
        let answered = outcomes.iter().any(|o| matches!(o.failure(), Some(Failure::Status(_))));
        let failures = summary.failures_by_kind.iter().map(|(k, n)| format!("{k}: {n}"));
        return Err(Error::NoSuccess {
            what: if answered { "no request succeeded at" } else { "nothing answered at" },
            url: checked.as_str().to_owned(),
            detail: format!(
                "{} requests, all failed ({})",
                summary.requests,
                failures.collect::<Vec<_>>().join(", ")
            ),
        });
    }
    Ok(exit_codes::OK)
}

/// The flags of `hadrill load` checked against the limits scenarios have: the request rate (`None` for
/// `max`), a duration of at least 1s, a bounded number of connections and requests.
fn load_limits(rate: &str, duration: Duration, connections: usize, timeout: Duration) -> Result<Option<u32>> {
    let arg = |flag: &'static str, value: String, reason: String| Error::Argument { flag, value, reason };
    let rate = match rate {
        "max" => None,
        r => Some(r.parse::<u32>().ok().filter(|r| (1..=MAX_RATE).contains(r)).ok_or_else(|| {
            arg("--rate", r.into(), format!("must be from 1 to {MAX_RATE} requests per second, or max"))
        })?),
    };
    if duration < Duration::from_secs(1) {
        return Err(arg("--duration", duration::human(duration), "must be at least 1s".into()));
    }
    if timeout.is_zero() {
        return Err(arg("--timeout", duration::human(timeout), "must be above 0".into()));
    }
    if connections == 0 || connections > MAX_IN_FLIGHT {
        return Err(arg(
            "--connections",
            connections.to_string(),
            format!("must be from 1 to {MAX_IN_FLIGHT}"),
        ));
    }
    let per_second = u64::from(rate.unwrap_or(MAX_RATE));
    let requests = per_second.saturating_mul(duration.as_secs().max(1));
    if requests > MAX_REQUESTS {
        let (flag, value) = match rate {
            Some(r) => ("--rate", r.to_string()),
            None => ("--duration", duration::human(duration)),
        };
        let at = if rate.is_some() { "" } else { " (--rate max counts as the engine's top rate)" };
        return Err(arg(
            flag,
            value,
            format!(
                "{per_second}/s for {} is {requests} requests{at}: {}",
                duration::human(duration),
                crate::limits::requests_bound()
            ),
        ));
    }
    Ok(rate)
}

fn list() {
    println!("stacks:");
    for name in resolve::bundled_names() {
        match resolve::resolve(&name) {
            Ok(s) => println!("  {name:<18} {}", s.meta.description),
            Err(e) => println!("  {name:<18} (unreadable: {e})"),
        }
    }
    println!("scenarios:");
    let mut files: Vec<PathBuf> = std::fs::read_dir(crate::paths::scenarios_dir())
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    for f in files {
        match scenario::load(&f) {
            Ok(s) => println!("  {:<26} {:<16} {}", s.name, s.stack, s.description),
            Err(e) => println!("  {e}"),
        }
    }
}

async fn clean(dry_run: bool, all: bool) -> Result<i32> {
    let docker = connect::connect().await?;
    let objects = cleanup::list(&docker, &Scope::All).await?;
    let plan = cleanup::plan(objects, &cleanup::liveness(&docker).await?, all);
    for (project, why, objects) in &plan.skipped {
        println!("skipped {project} ({}): {why}; `hadrill clean --all` removes it", cleanup::tally(objects));
    }
    if dry_run {
        for o in &plan.remove {
            println!("{o}");
        }
        println!("would remove {}", cleanup::tally(&plan.remove));
    } else {
        let n = cleanup::sweep(&docker, &Scope::Owners(plan.owners())).await?;
        println!("removed {n}");
    }
    Ok(exit_codes::OK)
}
