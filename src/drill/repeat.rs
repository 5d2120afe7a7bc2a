//! A repeated drill (`--repeat N`): N cycles of the single-drill flow ([`super::run::run`]), each on a fresh
//! stack, or all on one (`--reuse-stack`, [`super::run::run_cycles`]), each with its own seed derived from the run's ([`cycle_seed`]), each cycle's report written to `cycle-K` in
//! the run's folder as soon as it ends, and one report over all cycles ([`crate::report::cycles`]). A Ctrl-C
//! during cycle k stops there: the k-1 finished cycles and the interrupted one are reported, marked aborted.

use std::path::{Path, PathBuf};

use super::console::Event;
use super::run::{self, Drill, RunOptions};
use super::signals::Interrupts;
use crate::error::{Error, Result};
use crate::report::cycles::{self, Cycle};
use crate::report::model::SharedStack;
use crate::report::{self, Report};
use crate::scenario::Scenario;

/// The seed of cycle `k` (from 1) of a run seeded `seed`: cycle 1 is the run's seed itself (a single drill with
/// `--seed S` is cycle 1 of a repeated one), later ones a SplitMix64 step away, so `--seed S --cycle K`
/// replays cycle K alone.
pub fn cycle_seed(seed: u64, k: u32) -> u64 {
    if k <= 1 {
        return seed;
    }
    let mut z = seed.wrapping_add(u64::from(k).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// What a repeated run hands back: the whole run's report (already written), its folder, and the error that
/// stopped it after at least one cycle (a bring-up that failed), for the exit code.
pub struct Repeated {
    pub report: Report,
    pub dir: PathBuf,
    pub error: Option<Error>,
}

/// Runs `cycles` cycles of `sc`, writing each cycle's report and the run's under `reports`; on one stack when
/// the scenario says `reuse_stack` (see [`super::run::run_cycles`]). An error before the first cycle finished is
/// returned as is (nothing was written).
pub async fn run(
    sc: &Scenario,
    opts: &RunOptions,
    cycles: u32,
    reports: &Path,
    raw: bool,
    interrupts: Interrupts,
) -> Result<Repeated> {
    let console = &opts.console;
    let seed = opts.seed.or(sc.seed).unwrap_or_else(rand::random);
    let mut done: Vec<Cycle> = Vec::new();
    let mut dir: Option<PathBuf> = None;
    let combine = |done: &[Cycle], aborted: Option<String>| {
        let r = cycles::Run { expect: &sc.expect, planned: cycles, seed, shared: shared_stack(sc), aborted };
        cycles::combine(&r, done)
    };
    // Writes cycle k's report as it ends; false when the run stops there.
    let mut finished = |k: u32, drill: Drill| -> Result<bool> {
        let report = report::build::build(sc, &drill, crate::usage::Usage::now());
        let run_dir = dir.get_or_insert_with(|| report::write::report_dir(reports, &report)).clone();
        let name = format!("cycle-{k}");
        report::write::write_in(&run_dir.join(&name), &report)?;
        if raw {
            report::write::write_outcomes(&run_dir.join(&name), &drill.recording.outcomes)?;
        }
        let aborted = report.aborted.is_some();
        done.push(Cycle { seed: drill.seed, dir: name, report, restarted: drill.restarted });
        console.send(Event::Distribution(cycles::running_line(&combine(&done, None))));
        Ok(!aborted && !interrupts.cancel.is_cancelled())
    };
    let (stopped, error) = if sc.reuse_stack {
        console.send(Event::Cycle { cycle: 1, of: cycles, seed });
        let plan = run::Cycles { count: cycles, settle: sc.settle, on_cycle: &mut finished };
        let opts = RunOptions { seed: Some(seed), ..opts.clone() };
        let result = run::run_cycles(sc, &opts, interrupts.clone(), plan).await;
        match result {
            Ok(_) => (None, None),
            Err(e) if done.is_empty() => return Err(e),
            Err(e) => stopped_by(e, done.len() as u32 + 1),
        }
    } else {
        fresh_stacks(sc, opts, cycles, seed, &interrupts, &mut finished).await?
    };
    let report = combine(&done, stopped);
    let dir = report::write::write_all(reports, &report)?;
    Ok(Repeated { report, dir, error })
}

/// The cycles each on a fresh stack: [`run::run`] once per cycle. Returns why the run stopped early, if it did.
async fn fresh_stacks(
    sc: &Scenario,
    opts: &RunOptions,
    cycles: u32,
    seed: u64,
    interrupts: &Interrupts,
    finished: &mut dyn FnMut(u32, Drill) -> Result<bool>,
) -> Result<(Option<String>, Option<Error>)> {
    for k in 1..=cycles {
        let cycle = RunOptions { seed: Some(cycle_seed(seed, k)), ..opts.clone() };
        opts.console.send(Event::Cycle { cycle: k, of: cycles, seed: cycle_seed(seed, k) });
        let drill = match run::run(sc, &cycle, interrupts.clone()).await {
            Ok(d) => d,
            Err(e) if k == 1 => return Err(e),
            Err(e) => return Ok(stopped_by(e, k)),
        };
        if !finished(k, drill)? {
            break;
        }
    }
    Ok((None, None))
}

/// Why a run stopped at cycle `k` when `e` ended it, and the error kept for the exit code.
fn stopped_by(e: Error, k: u32) -> (Option<String>, Option<Error>) {
    match e {
        Error::Interrupted => (Some(format!("interrupted during the bring-up of cycle {k}")), None),
        e => {
            let first = e.to_string().lines().next().unwrap_or_default().to_string();
            (Some(format!("cycle {k} could not run: {first}")), Some(e))
        }
    }
}

/// How the cycles shared a stack, for the report: `None` when each had a fresh one.
fn shared_stack(sc: &Scenario) -> Option<SharedStack> {
    if !sc.reuse_stack {
        return None;
    }
    let spec = sc.stack_spec().ok();
    let observe = spec.as_ref().map(|s| &s.meta.observe);
    let roles_may_move =
        observe.is_some_and(|o| !o.postgres.is_empty() || !o.patroni.is_empty() || !o.sentinel.is_empty());
    Some(SharedStack { settle_ms: sc.settle.as_millis() as u64, roles_may_move })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cycle_one_is_the_runs_seed_and_the_others_differ_and_repeat() {
        assert_eq!(cycle_seed(42, 1), 42);
        let seeds: Vec<u64> = (1..=10).map(|k| cycle_seed(42, k)).collect();
        let mut unique = seeds.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), 10, "{seeds:?}");
        assert_eq!(cycle_seed(42, 7), seeds[6], "the same run seed gives the same cycle seeds");
        assert_ne!(cycle_seed(43, 2), cycle_seed(42, 2));
    }
}
