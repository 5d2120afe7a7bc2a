//! The open-model load engine, as wrk2 or k6's constant-arrival-rate: request `i` is due at
//! `i / rate` seconds whatever the server does, and its latency is measured from that intended time, so a
//! stalled server shows up as latency instead of hiding (coordinated omission). At most `max_in_flight`
//! requests are outstanding; a request due when the cap is reached is recorded as a missed send.
//!
//! Every request's outcome is kept (intended, start, end, kind, failure, write sequence number) by a
//! [`Recorder`]: in memory up to a run of them, then spilled in sorted runs to a file in `spill_dir`, so
//! memory stays flat however long the load runs.
//!
//! What a request is, and how it is sent, is the [`Probe`]'s business; the engine numbers the writes, keeps
//! the time and counts. The load starts when [`run`] is called: no request is due before then, so a probe
//! that took a while to set up does not meet a burst of overdue requests.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::SeedableRng;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use super::http1::{Conn, Pool};
use super::probe::{Pick, Probe, Request};
use crate::outcomes::{Outcomes, Recorder, SpillError, RUN};
use crate::timeline::{Clock, Failure, Kind, Nanos, Outcome};

/// The longest the scheduler sleeps at once, so that it notices cancellation promptly.
const MAX_NAP: Duration = Duration::from_millis(5);

#[derive(Debug, Clone)]
pub struct LoadConfig {
    pub probe: Arc<dyn Probe>,
    /// Requests per second (open model); `None` sends as fast as `max_in_flight` connections allow.
    pub rate: Option<u32>,
    pub timeout: Duration,
    pub max_in_flight: usize,
    pub duration: Duration,
    pub seed: u64,
    /// Where the outcomes are spilled past the first [`RUN`] of them (an unlinked file: the report folder's
    /// parent for a drill).
    pub spill_dir: std::path::PathBuf,
}

/// Live counters, read by the console while the load runs.
#[derive(Debug, Default)]
pub struct Counters {
    pub sent: AtomicU64,
    pub ok: AtomicU64,
    pub failed: AtomicU64,
    pub missed: AtomicU64,
    pub in_flight: AtomicU64,
    pub writes_acked: AtomicU64,
}

#[derive(Debug)]
pub struct LoadResult {
    /// Every outcome, sorted; an error when they could not be spilled (the figures would miss requests).
    pub outcomes: Result<Outcomes, SpillError>,
    /// Intended time of the end of the load phase.
    pub end: Nanos,
    /// Whether the load was cut short by cancellation.
    pub cancelled: bool,
}

struct Shared {
    cfg: LoadConfig,
    /// Idle connections of the open model's request tasks.
    pool: Pool,
    clock: Clock,
    recorder: Mutex<Recorder>,
    counters: Arc<Counters>,
    last_acked: AtomicU32,
}

/// Runs the load from now for `cfg.duration`; returns every outcome, timed on `clock`.
pub async fn run(
    cfg: LoadConfig,
    clock: Clock,
    counters: Arc<Counters>,
    cancel: CancellationToken,
) -> LoadResult {
    let start = clock.now();
    let shared = Arc::new(Shared {
        pool: Pool::default(),
        clock,
        recorder: Mutex::new(Recorder::new(&cfg.spill_dir, RUN)),
        counters,
        last_acked: AtomicU32::new(0),
        cfg,
    });
    match shared.cfg.rate {
        Some(rate) => run_open(shared, rate, start, cancel).await,
        None => run_closed(shared, start, cancel).await,
    }
}

/// As fast as possible: `max_in_flight` workers, each sending its next request when the last one answered.
/// Intended time equals the actual send time here (there is no schedule to fall behind).
async fn run_closed(shared: Arc<Shared>, start: Nanos, cancel: CancellationToken) -> LoadResult {
    let end = start + shared.cfg.duration.as_nanos() as Nanos;
    let next_seq = Arc::new(AtomicU32::new(0));
    let mut workers = Vec::new();
    for w in 0..shared.cfg.max_in_flight {
        let (shared, cancel, next_seq) = (shared.clone(), cancel.clone(), next_seq.clone());
        workers.push(tokio::spawn(async move {
            let mut rng = rand::rngs::StdRng::seed_from_u64(shared.cfg.seed.wrapping_add(w as u64));
            let mut local = Vec::with_capacity(1 << 14);
            let mut conn = Conn::default();
            while shared.clock.now() < end && !cancel.is_cancelled() {
                let (pick, seq) =
                    shared.next_request(&mut rng, || next_seq.fetch_add(1, Ordering::Relaxed) + 1);
                shared.counters.sent.fetch_add(1, Ordering::Relaxed);
                let now = shared.clock.now();
                let o = send(&shared, &mut conn, now, pick, seq).await;
                shared.count(&o);
                local.push(o);
                if local.len() == local.capacity() {
                    shared.recorder.lock().expect("recorder lock").append(&mut local);
                }
            }
            // One lock per worker and batch instead of one per request: the closed loop is where throughput
            // counts.
            shared.recorder.lock().expect("recorder lock").append(&mut local);
        }));
    }
    for w in workers {
        let _ = w.await;
    }
    let outcomes = shared.recorder.lock().expect("recorder lock").finish();
    LoadResult { outcomes, end: shared.clock.now().min(end), cancelled: cancel.is_cancelled() }
}

async fn run_open(shared: Arc<Shared>, rate: u32, start: Nanos, cancel: CancellationToken) -> LoadResult {
    let clock = shared.clock;
    let end = start + shared.cfg.duration.as_nanos() as Nanos;
    let permits = Arc::new(Semaphore::new(shared.cfg.max_in_flight));
    let handle = tokio::runtime::Handle::current();
    let scheduler = {
        let (shared, permits, cancel) = (shared.clone(), permits.clone(), cancel.clone());
        tokio::task::spawn_blocking(move || schedule(&shared, &handle, &permits, rate, start, &cancel))
    };
    let cancelled = scheduler.await.unwrap_or(true);
    // Let what is in flight finish (each request is bounded by the timeout).
    let drain = shared.cfg.timeout + Duration::from_secs(1);
    let _ = tokio::time::timeout(drain, permits.acquire_many(shared.cfg.max_in_flight as u32)).await;
    let outcomes = shared.recorder.lock().expect("recorder lock").finish();
    LoadResult { outcomes, end: if cancelled { clock.now().min(end) } else { end }, cancelled }
}

/// The open model's schedule, on a thread of its own: sleeps (with the thread's timer slack lowered to 1 µs,
/// so a sleep ends within microseconds of its deadline) until the next request is due, then starts every
/// request that is due on the runtime. It never spins: a drill's load generator shares the machine with the
/// stack it measures, and on two cores a spinning scheduler takes half of it. Returns whether it was
/// cancelled.
fn schedule(
    shared: &Arc<Shared>,
    runtime: &tokio::runtime::Handle,
    permits: &Arc<Semaphore>,
    rate: u32,
    start: Nanos,
    cancel: &CancellationToken,
) -> bool {
    let _slack = TimerSlack::fine();
    let clock = shared.clock;
    let interval_ns = 1e9 / f64::from(rate);
    let total = (shared.cfg.duration.as_secs_f64() * f64::from(rate)).round() as u64;
    let mut rng = rand::rngs::StdRng::seed_from_u64(shared.cfg.seed);
    let mut next_seq: u32 = 0;
    let mut i: u64 = 0;
    while i < total {
        if cancel.is_cancelled() {
            return true;
        }
        let due = start + (i as f64 * interval_ns) as Nanos;
        let now = clock.now();
        if due > now {
            std::thread::sleep(Duration::from_nanos(due - now).min(MAX_NAP));
            continue;
        }
        i += 1;
        let (pick, seq) = shared.next_request(&mut rng, || {
            next_seq += 1;
            next_seq
        });
        shared.counters.sent.fetch_add(1, Ordering::Relaxed);
        match permits.clone().try_acquire_owned() {
            Ok(permit) => {
                let shared = shared.clone();
                shared.counters.in_flight.fetch_add(1, Ordering::Relaxed);
                runtime.spawn(async move {
                    let mut conn = shared.pool.take();
                    let outcome = send(&shared, &mut conn, due, pick, seq).await;
                    shared.pool.put(conn);
                    shared.record(outcome);
                    shared.counters.in_flight.fetch_sub(1, Ordering::Relaxed);
                    drop(permit);
                });
            }
            Err(_) => {
                let now = clock.now();
                shared.record(Outcome::new(due, now, now, pick.kind, Some(Failure::Missed), seq));
            }
        }
    }
    cancel.is_cancelled()
}

/// Lowers the calling thread's timer slack (the kernel's allowance for waking a sleeper late, 50 µs by
/// default) to 1 µs while it lives, and puts the old value back when dropped: the scheduler runs on a thread
/// of tokio's blocking pool, which other work reuses.
struct TimerSlack {
    old: Option<libc::c_ulong>,
}

impl TimerSlack {
    fn fine() -> TimerSlack {
        // SAFETY: PR_GET_TIMERSLACK and PR_SET_TIMERSLACK take no pointers and affect only this thread.
        let old = unsafe { libc::prctl(libc::PR_GET_TIMERSLACK, 0, 0, 0, 0) };
        let set = unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong, 0, 0, 0) };
        TimerSlack { old: (old > 0 && set == 0).then_some(old as libc::c_ulong) }
    }
}

impl Drop for TimerSlack {
    fn drop(&mut self) {
        if let Some(old) = self.old {
            // SAFETY: as above.
            unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, old, 0, 0, 0) };
        }
    }
}

impl Shared {
    /// The probe's next request, and its write sequence number (0 for reads).
    fn next_request(&self, rng: &mut rand::rngs::StdRng, mut next_seq: impl FnMut() -> u32) -> (Pick, u32) {
        let pick = self.cfg.probe.next(rng);
        match pick.kind {
            Kind::Read => (pick, 0),
            Kind::Write => (pick, next_seq()),
        }
    }

    fn record(&self, o: Outcome) {
        self.count(&o);
        self.recorder.lock().expect("recorder lock").push(o);
    }

    /// Updates the live counters for one outcome.
    fn count(&self, o: &Outcome) {
        let c = &self.counters;
        match o.failure() {
            None => {
                c.ok.fetch_add(1, Ordering::Relaxed);
                if o.kind() == Kind::Write {
                    c.writes_acked.fetch_add(1, Ordering::Relaxed);
                    self.last_acked.fetch_max(o.seq(), Ordering::Relaxed);
                }
            }
            Some(Failure::Missed) => {
                c.missed.fetch_add(1, Ordering::Relaxed);
                c.failed.fetch_add(1, Ordering::Relaxed);
            }
            Some(_) => {
                c.failed.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

async fn send(shared: &Shared, conn: &mut Conn, intended: Nanos, pick: Pick, seq: u32) -> Outcome {
    let started = shared.clock.now();
    let last_acked = shared.last_acked.load(Ordering::Relaxed);
    let req = Request { kind: pick.kind, which: pick.which, seq, last_acked };
    let failure = shared.cfg.probe.send(conn, req, shared.cfg.timeout).await;
    Outcome::new(intended, started, shared.clock.now(), pick.kind, failure, seq)
}
#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicBool;

    use futures_util::FutureExt;

    use super::*;
    use crate::load::probe::{Mix, ReadingBack, Sending};
    use crate::timeline::Verification;

    /// A probe that answers at once and remembers what it was asked to send; writes fail while `failing`.
    #[derive(Debug, Default)]
    struct Fake {
        sent: Mutex<Vec<Request>>,
        failing: AtomicBool,
    }

    impl Probe for Fake {
        fn next(&self, rng: &mut rand::rngs::StdRng) -> Pick {
            let kind = Mix::new(0.5).draw(rng);
            Pick { kind, which: if kind == Kind::Read { 7 } else { 0 } }
        }

        fn send<'a>(&'a self, _: &'a mut Conn, req: Request, _: Duration) -> Sending<'a> {
            self.sent.lock().unwrap().push(req);
            let fail = req.kind == Kind::Write && self.failing.load(Ordering::Relaxed);
            async move { fail.then_some(Failure::Rejected) }.boxed()
        }

        fn read_back(&self, _: u32, _: Duration) -> ReadingBack<'_> {
            async { Verification::Failed("fake".into()) }.boxed()
        }

        fn describe(&self) -> String {
            "fake".into()
        }
    }

    fn config(probe: Arc<Fake>, rate: Option<u32>, duration: Duration) -> LoadConfig {
        let spill_dir = std::env::temp_dir();
        LoadConfig {
            probe,
            rate,
            timeout: Duration::from_secs(1),
            max_in_flight: 64,
            duration,
            seed: 3,
            spill_dir,
        }
    }

    /// Writes carry 1, 2, 3, ... with no gap or repeat; reads carry 0 and ask for an acknowledged write; each
    /// request reaches the probe as the probe picked it.
    fn check_numbering(sent: &[Request], outcomes: &[Outcome]) {
        let mut writes: Vec<u32> = sent.iter().filter(|r| r.kind == Kind::Write).map(|r| r.seq).collect();
        writes.sort_unstable();
        assert!(!writes.is_empty());
        assert_eq!(writes, (1..=writes.len() as u32).collect::<Vec<_>>());
        assert!(sent
            .iter()
            .filter(|r| r.kind == Kind::Read)
            .all(|r| r.seq == 0 && r.last_acked <= writes.len() as u32));
        assert!(sent.iter().all(|r| r.which == if r.kind == Kind::Read { 7 } else { 0 }));
        assert_eq!(sent.len(), outcomes.len());
        assert!(outcomes.iter().all(|o| o.ok()));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_open_model_sends_the_probes_requests_on_schedule_from_its_start() {
        let clock = Clock::start();
        // Whatever came before the load (a probe's setup) took 300 ms of the clock.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let probe = Arc::new(Fake::default());
        let counters = Arc::new(Counters::default());
        let cfg = config(probe.clone(), Some(500), Duration::from_millis(400));
        let result = run(cfg, clock, counters.clone(), CancellationToken::new()).await;
        let outcomes: Vec<Outcome> = result.outcomes.as_ref().unwrap().iter().collect();
        assert_eq!(outcomes.len(), 200);
        check_numbering(&probe.sent.lock().unwrap(), &outcomes);
        let first = outcomes.iter().map(|o| o.intended()).min().unwrap();
        assert!(first >= 300_000_000, "no request was due before the load started (first due at {first} ns)");
        assert!(result.end >= first + 400_000_000 - 2_000_000);
        let acked = outcomes.iter().filter(|o| o.kind() == Kind::Write).count() as u64;
        assert_eq!(counters.writes_acked.load(Ordering::Relaxed), acked);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_closed_loop_numbers_writes_across_workers_and_counts_failures() {
        let probe = Arc::new(Fake::default());
        let counters = Arc::new(Counters::default());
        let cfg = config(probe.clone(), None, Duration::from_millis(100));
        let result = run(cfg, Clock::start(), counters.clone(), CancellationToken::new()).await;
        let outcomes: Vec<Outcome> = result.outcomes.as_ref().unwrap().iter().collect();
        check_numbering(&probe.sent.lock().unwrap(), &outcomes);

        let probe = Arc::new(Fake::default());
        probe.failing.store(true, Ordering::Relaxed);
        let counters = Arc::new(Counters::default());
        let cfg = config(probe.clone(), Some(1000), Duration::from_millis(100));
        let result = run(cfg, Clock::start(), counters.clone(), CancellationToken::new()).await;
        let outcomes: Vec<Outcome> = result.outcomes.as_ref().unwrap().iter().collect();
        let writes = outcomes.iter().filter(|o| o.kind() == Kind::Write).count() as u64;
        assert!(writes > 0);
        assert!(outcomes
            .iter()
            .all(|o| (o.kind() == Kind::Write) == (o.failure() == Some(Failure::Rejected))));
        assert_eq!(counters.failed.load(Ordering::Relaxed), writes);
        assert_eq!(counters.writes_acked.load(Ordering::Relaxed), 0);
        let reads = probe.sent.lock().unwrap().iter().filter(|r| r.kind == Kind::Read).count();
        assert!(
            reads > 0 && probe.sent.lock().unwrap().iter().all(|r| r.last_acked == 0),
            "nothing was acknowledged"
        );
    }
}
