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
use tokio_util::sync::CancellationToken;

use super::http1::Conn;
use super::probe::{Pick, Probe, Request};
use crate::outcomes::{Outcomes, Recorder, SpillError, RUN};
use crate::timeline::{Clock, Failure, Kind, Nanos, Outcome};

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

/// What a load's workers share.
pub(super) struct Shared {
    pub(super) cfg: LoadConfig,
    pub(super) clock: Clock,
    pub(super) recorder: Mutex<Recorder>,
    pub(super) counters: Arc<Counters>,
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
        clock,
        recorder: Mutex::new(Recorder::new(&cfg.spill_dir, RUN)),
        counters,
        last_acked: AtomicU32::new(0),
        cfg,
    });
    match shared.cfg.rate {
        Some(rate) => super::open::run_open(shared, rate, start, cancel).await,
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
            // 1,024 outcomes (24 KB) a worker between two appends: the lock is taken once per batch, and
            // thousands of connections do not reserve hundreds of MB for their batches.
            let mut local = Vec::with_capacity(1 << 10);
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

impl Shared {
    /// The probe's next request, and its write sequence number (0 for reads).
    pub(super) fn next_request(
        &self,
        rng: &mut rand::rngs::StdRng,
        mut next_seq: impl FnMut() -> u32,
    ) -> (Pick, u32) {
        let pick = self.cfg.probe.next(rng);
        match pick.kind {
            Kind::Read => (pick, 0),
            Kind::Write => (pick, next_seq()),
        }
    }

    pub(super) fn record(&self, o: Outcome) {
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

pub(super) async fn send(shared: &Shared, conn: &mut Conn, intended: Nanos, pick: Pick, seq: u32) -> Outcome {
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

    /// A probe whose requests take `hold` each; it remembers the most in flight at once, the connections it
    /// was given, and when each request started. The first request blocks the thread it runs on for `stall`.
    #[derive(Debug, Default)]
    struct Slow {
        hold: Duration,
        stall: Duration,
        in_flight: std::sync::atomic::AtomicUsize,
        peak: std::sync::atomic::AtomicUsize,
        conns: Mutex<std::collections::HashSet<usize>>,
        started: Mutex<Vec<std::time::Instant>>,
    }

    impl Probe for Slow {
        fn next(&self, _: &mut rand::rngs::StdRng) -> Pick {
            Kind::Read.into()
        }

        fn send<'a>(&'a self, conn: &'a mut Conn, _: Request, _: Duration) -> Sending<'a> {
            let first = {
                let mut started = self.started.lock().unwrap();
                started.push(std::time::Instant::now());
                started.len() == 1
            };
            if first {
                std::thread::sleep(self.stall);
            }
            self.conns.lock().unwrap().insert(conn as *mut Conn as usize);
            let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            self.peak.fetch_max(now, Ordering::SeqCst);
            async move {
                tokio::time::sleep(self.hold).await;
                self.in_flight.fetch_sub(1, Ordering::SeqCst);
                None
            }
            .boxed()
        }

        fn read_back(&self, _: u32, _: Duration) -> ReadingBack<'_> {
            async { Verification::Failed("slow".into()) }.boxed()
        }

        fn describe(&self) -> String {
            "slow".into()
        }
    }

    /// Every outcome's intended time is one of the schedule's, each exactly once: request `i` at `i / rate`.
    fn check_schedule(outcomes: &[Outcome], rate: u64, total: u64) {
        let mut intended: Vec<Nanos> = outcomes.iter().map(|o| o.intended()).collect();
        intended.sort_unstable();
        assert_eq!(intended.len() as u64, total);
        let start = intended[0];
        for (i, t) in intended.iter().enumerate() {
            let want = start + (i as f64 * 1e9 / rate as f64) as Nanos;
            assert!(t.abs_diff(want) <= 1, "request {i} intended at {t} ns, scheduled at {want} ns");
        }
        assert!(outcomes.iter().all(|o| o.started() >= o.intended()), "a request was sent before it was due");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_open_model_misses_sends_when_all_its_workers_are_busy_and_reuses_their_connections() {
        let probe = Arc::new(Slow { hold: Duration::from_millis(30), ..Slow::default() });
        let counters = Arc::new(Counters::default());
        let cfg = LoadConfig {
            max_in_flight: 4,
            ..config(Arc::new(Fake::default()), Some(1000), Duration::from_millis(200))
        };
        let cfg = LoadConfig { probe: probe.clone(), ..cfg };
        let result = run(cfg, Clock::start(), counters.clone(), CancellationToken::new()).await;
        let outcomes: Vec<Outcome> = result.outcomes.as_ref().unwrap().iter().collect();
        check_schedule(&outcomes, 1000, 200);
        let sent = probe.started.lock().unwrap().len();
        let missed = outcomes.iter().filter(|o| o.failure() == Some(Failure::Missed)).count();
        assert_eq!(sent + missed, 200);
        assert!(
            (4..=40).contains(&sent) && missed > 150,
            "4 workers holding each request 30 ms send about 27 in 200 ms: {sent}"
        );
        assert_eq!(counters.missed.load(Ordering::Relaxed), missed as u64);
        assert_eq!(counters.sent.load(Ordering::Relaxed), 200);
        assert_eq!(counters.in_flight.load(Ordering::Relaxed), 0, "the load drained what was in flight");
        assert_eq!(
            probe.peak.load(Ordering::SeqCst),
            4,
            "at most max_in_flight at once, and all of them used"
        );
        assert_eq!(probe.conns.lock().unwrap().len(), 4, "each worker keeps its connection");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn one_wake_up_dispatches_every_request_that_is_due() {
        // The first request stalls the load thread for 50 ms: when it is free again, about 50 requests are
        // overdue, and the next wake-up sends them all at once, each with its own intended time.
        let probe = Arc::new(Slow {
            hold: Duration::from_millis(1),
            stall: Duration::from_millis(50),
            ..Slow::default()
        });
        // Enough workers for any stall a busy machine adds: this test is about the wake-up, not the cap.
        let cfg = LoadConfig {
            probe: probe.clone(),
            max_in_flight: 1000,
            ..config(Arc::new(Fake::default()), Some(1000), Duration::from_millis(100))
        };
        let result = run(cfg, Clock::start(), Arc::new(Counters::default()), CancellationToken::new()).await;
        let outcomes: Vec<Outcome> = result.outcomes.as_ref().unwrap().iter().collect();
        check_schedule(&outcomes, 1000, 100);
        assert!(outcomes.iter().all(|o| o.ok()), "nothing missed");
        let started = probe.started.lock().unwrap();
        assert!(started[1] - started[0] >= Duration::from_millis(45), "the stall held the second request");
        // Together: within 10 ms of the first of them (a burst takes well under 1 ms; the margin is for a
        // busy machine preempting the load thread mid-burst), not spread over the 50 ms they were due in.
        let burst = started[1..].iter().take_while(|&&t| t - started[1] < Duration::from_millis(10)).count();
        assert!(burst >= 45, "the overdue requests went out together, not one per wake-up: {burst}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn cancelling_the_open_model_stops_it_promptly() {
        let probe = Arc::new(Fake::default());
        let cancel = CancellationToken::new();
        let cfg =
            LoadConfig { max_in_flight: 1000, ..config(probe.clone(), Some(1000), Duration::from_secs(30)) };
        let stop = cancel.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(100)).await;
            stop.cancel();
        });
        let begun = std::time::Instant::now();
        let result = run(cfg, Clock::start(), Arc::new(Counters::default()), cancel).await;
        assert!(result.cancelled);
        assert!(begun.elapsed() < Duration::from_secs(2), "took {:?}", begun.elapsed());
        let outcomes: Vec<Outcome> = result.outcomes.as_ref().unwrap().iter().collect();
        assert!((50..=500).contains(&outcomes.len()), "{} requests", outcomes.len());
        check_numbering(&probe.sent.lock().unwrap(), &outcomes);
        assert!(result.end < 2_000_000_000);
    }
}
