//! The command line (clap derive) and the dispatch of each subcommand to the library.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};

use crate::cleanup::{self, Scope};
use crate::docker::connect;
use crate::drill::run::RunOptions;
use crate::error::{Error, Result};
use crate::images::{base::DEFAULT_BASE, build};
use crate::stack::compose::ComposeCli;
use crate::stack::{lifecycle, resolve, RunningStack, UpOptions};
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
        #[arg(long, default_value = "3m", value_parser = duration::parse_arg)]
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
        /// Seed for random choices (overrides the scenario's).
        #[arg(long)]
        seed: Option<u64>,
        /// Where reports go (a folder per scenario and run).
        #[arg(long, default_value = "reports", env = "HADRILL_REPORTS")]
        reports: PathBuf,
        /// How long the stack has to become healthy.
        #[arg(long, default_value = "3m", value_parser = duration::parse_arg)]
        up_timeout: Duration,
        /// No live counters (they are off anyway when stderr is not a terminal).
        #[arg(long)]
        quiet: bool,
        /// Also write every request's outcome to outcomes.csv in the report folder.
        #[arg(long)]
        raw: bool,
        #[command(flatten)]
        base: BaseArg,
    },
    /// Load only: the drills' open-model engine against any HTTP URL on 127.0.0.1, for a steady-state baseline.
    Load {
        url: String,
        /// Requests per second, or `max` (as fast as the connections allow).
        #[arg(long, default_value = "100")]
        rate: String,
        #[arg(long, default_value = "10s", value_parser = duration::parse_arg)]
        duration: Duration,
        /// Connections (and cap on requests in flight).
        #[arg(long, default_value_t = 50)]
        connections: usize,
        #[arg(long, default_value = "2s", value_parser = duration::parse_arg)]
        timeout: Duration,
        /// Allow a target that is not on 127.0.0.1.
        #[arg(long)]
        allow_remote: bool,
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
    /// Remove every container, network and volume hadrill created, including those of crashed runs.
    Clean {
        /// Only say what would be removed.
        #[arg(long)]
        dry_run: bool,
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
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
}

/// Runs a parsed command line; returns the process exit code.
pub async fn run(cli: Cli) -> i32 {
    match dispatch(cli.command).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
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
            let checks = doctor::run_checks(&base.base).await;
            Ok(if doctor::drill_can_run(&checks) { exit_codes::OK } else { exit_codes::UNUSABLE })
        }
        Command::Check { scenarios } => Ok(check(&scenarios)),
        Command::Load { url, rate, duration, connections, timeout, allow_remote, json } => {
            load_only(&url, &rate, duration, connections, timeout, allow_remote, json).await
        }
        Command::Render { report } => render(&report),
        Command::Schema => {
            let schema = report::model::json_schema();
            println!("{}", serde_json::to_string_pretty(&schema).unwrap_or_default());
            Ok(exit_codes::OK)
        }
        Command::Run { scenario, keep, seed, reports, up_timeout, quiet, raw, base } => {
            let opts = RunOptions {
                keep,
                base_image: base.base,
                up_timeout,
                seed,
                progress: !quiet && std::io::IsTerminal::is_terminal(&std::io::stderr()),
            };
            run_drill(&scenario, &opts, &reports, raw).await
        }
        Command::List => {
            list();
            Ok(exit_codes::OK)
        }
        Command::Clean { dry_run } => clean(dry_run).await,
    }
}

async fn up(stack: &str, timeout: Duration, base_image: &str) -> Result<i32> {
    let spec = resolve::resolve(stack)?;
    let docker = connect::connect().await?;
    let compose = ComposeCli::detect().await?;
    let started = std::time::Instant::now();
    build::ensure(&docker, &spec, base_image, false).await?;
    let running = RunningStack::prepare(spec, compose)?;
    eprintln!(
        "bringing up {} as project {} ({})",
        running.spec.name,
        running.project,
        running.compose.display()
    );
    let opts = UpOptions { timeout };
    let containers = tokio::select! {
        r = running.up(&docker, &opts) => r?,
        _ = tokio::signal::ctrl_c() => {
            eprintln!("interrupted: tearing {} down", running.project);
            running.down(&docker).await?;
            return Err(Error::Interrupted);
        }
    };
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
    for b in build::ensure(&docker, &spec, base_image, force).await? {
        match b.seconds {
            Some(s) => println!("{:<28} built in {s:.0}s", b.tag),
            None => println!("{:<28} up to date", b.tag),
        }
    }
    Ok(exit_codes::OK)
}

fn render(file: &std::path::Path) -> Result<i32> {
    let text = std::fs::read_to_string(file).map_err(|e| Error::io(file, e))?;
    let value: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| Error::Other(format!("{}: not JSON: {e}", file.display())))?;
    let version = value.get("schema_version").and_then(serde_json::Value::as_u64);
    if version != Some(u64::from(report::SCHEMA_VERSION)) {
        return Err(Error::Other(format!(
            "{}: schema_version {} is not the {} this hadrill writes",
            file.display(),
            version.map(|v| v.to_string()).unwrap_or_else(|| "missing".into()),
            report::SCHEMA_VERSION
        )));
    }
    let r: report::Report = serde_json::from_value(value)
        .map_err(|e| Error::Other(format!("{}: not a hadrill report: {e}", file.display())))?;
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

async fn run_drill(
    file: &std::path::Path,
    opts: &RunOptions,
    reports: &std::path::Path,
    raw: bool,
) -> Result<i32> {
    let sc = scenario::load(file)?;
    let cancel = drill::signals::watch();
    let drill = drill::run::run(&sc, opts, cancel).await?;
    let report = report::build::build(&sc, &drill);
    let dir = report::write::write_all(reports, &report)?;
    if raw {
        report::write::write_outcomes(&dir, &drill.recording.outcomes)?;
    }
    println!("{}", report::markdown::console_verdict(&report));
    println!("report: {}", dir.display());
    Ok(match report.verdict {
        report::Verdict::Passed => exit_codes::OK,
        report::Verdict::Failed => exit_codes::EXPECTATION_FAILED,
        report::Verdict::Aborted => exit_codes::INTERRUPTED,
    })
}

/// Checks a `hadrill load` target: http(s) URL whose host is 127.0.0.1 (or localhost) unless allowed.
pub fn check_load_url(url: &str, allow_remote: bool) -> std::result::Result<(), String> {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .ok_or_else(|| format!("url {url:?} must start with http:// or https://"))?;
    let host = rest.split(['/', '?']).next().unwrap_or("");
    let host = host.rsplit_once(':').map(|(h, _)| h).unwrap_or(host);
    if allow_remote || host == "127.0.0.1" || host == "localhost" {
        Ok(())
    } else {
        Err(format!(
            "url {url:?} is not on 127.0.0.1: hadrill only loads loopback targets unless --allow-remote"
        ))
    }
}

async fn load_only(
    url: &str,
    rate: &str,
    duration: Duration,
    connections: usize,
    timeout: Duration,
    allow_remote: bool,
    json: bool,
) -> Result<i32> {
    check_load_url(url, allow_remote).map_err(Error::Other)?;
    let rate = match rate {
        "max" => None,
        r => Some(r.parse::<u32>().ok().filter(|r| *r > 0).ok_or_else(|| {
            Error::Other(format!("--rate {r:?} must be a positive number of requests per second, or max"))
        })?),
    };
    if connections == 0 {
        return Err(Error::Other("--connections must be at least 1".into()));
    }
    let target = crate::load::http1::Target::resolve(url).await?;
    let cfg = crate::load::LoadConfig {
        probe: std::sync::Arc::new(crate::load::http_probe::GetProbe::new(target)),
        rate,
        timeout,
        max_in_flight: connections,
        duration,
        seed: 0,
    };
    let clock = crate::timeline::Clock::start();
    let cancel = drill::signals::watch();
    let counters = std::sync::Arc::new(crate::load::Counters::default());
    let result = crate::load::engine::run(cfg, clock, counters, cancel).await;
    let summary = crate::load::summary::summarize(url, rate, connections, result.end, &result.outcomes);
    if json {
        println!("{}", serde_json::to_string_pretty(&summary).unwrap_or_default());
    } else {
        print!("{summary}");
    }
    Ok(if result.cancelled { exit_codes::INTERRUPTED } else { exit_codes::OK })
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

async fn clean(dry_run: bool) -> Result<i32> {
    let docker = connect::connect().await?;
    if dry_run {
        let objects = cleanup::list(&docker, &Scope::All).await?;
        for o in &objects {
            println!("{o}");
        }
        println!("would remove {}", cleanup::tally(&objects));
    } else {
        let n = cleanup::sweep(&docker, &Scope::All).await?;
        println!("removed {n}");
    }
    Ok(exit_codes::OK)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn load_targets_are_loopback_unless_allowed() {
        assert!(check_load_url("http://127.0.0.1:8080/x", false).is_ok());
        assert!(check_load_url("http://localhost/", false).is_ok());
        assert!(check_load_url("http://10.0.0.1:80/", false).unwrap_err().contains("--allow-remote"));
        assert!(check_load_url("http://10.0.0.1:80/", true).is_ok());
        assert!(check_load_url("ftp://127.0.0.1/", false).is_err());
    }
}
