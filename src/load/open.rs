//! The open model's dispatch (issue 14): request `i` is due at `i / rate` s from the load's start; a
//! scheduler task wakes when the next request is due (plus a little slack, so that at high rates one wake-up
//! dispatches several), hands every request that is due to an idle connection worker, and records a missed
//! send when all `max_in_flight` workers are busy.
//!
//! Where the CPU went before: one tokio task spawned per request from a scheduler thread of its own, so every
//! request cost an allocation, a wake-up of the scheduler thread and another of a runtime worker, about 70 µs
//! of CPU at 5k req/s against 9 µs in the closed loop. Now the scheduler and the workers all run on one
//! thread, the *load thread*, with its own single-threaded tokio runtime: the scheduler sleeps on a
//! `timerfd` (nanosecond deadlines, unlike tokio's millisecond timer wheel) registered with that runtime's
//! `epoll`, so one `epoll_wait` wakes it for both the timer and the answers. Workers are tasks started on
//! demand, at most `max_in_flight` of them, each with its own keep-alive connection, reused from request to
//! request: no task, connection or allocation per request.
//!
//! The load thread lives as long as the process (started on the first open-model load): sockets a probe
//! opens from it (a reconnection during a drill) stay registered with its reactor and keep working after the
//! load, for the read-back.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use rand::SeedableRng;
use tokio::io::unix::AsyncFd;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::engine::{send, LoadResult, Shared};
use super::http1::Conn;
use super::probe::Pick;
use crate::timeline::{Failure, Nanos, Outcome};

/// How late after a request's due time the scheduler may wake, so that at high rates one wake-up dispatches
/// every request due within it (at 20k req/s, about four). Chosen by measurement (docs/performance.md,
/// 2026-11-26): at 5k req/s 200 µs costs 22-25 µs of CPU per request against 30-38 µs for 0, 50 or 100 µs,
/// and adds its 0.2 ms to every send's lag (p50 0.23 ms); the lag's p99 depends on the machine's load far
/// more than on the slack.
pub const SLACK: Duration = Duration::from_micros(200);

/// The runtime of the load thread, started once.
fn load_thread() -> &'static tokio::runtime::Handle {
    static HANDLE: OnceLock<tokio::runtime::Handle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("the load thread's runtime");
        let handle = runtime.handle().clone();
        std::thread::Builder::new()
            .name("hadrill-load".into())
            .spawn(move || runtime.block_on(std::future::pending::<()>()))
            .expect("the load thread");
        handle
    })
}

/// Runs the open model from `start` at `rate` req/s for the configured duration, on the load thread.
pub async fn run_open(shared: Arc<Shared>, rate: u32, start: Nanos, cancel: CancellationToken) -> LoadResult {
    let clock = shared.clock;
    let end = start + shared.cfg.duration.as_nanos() as Nanos;
    let dispatch = load_thread().spawn({
        let (shared, cancel) = (shared.clone(), cancel.clone());
        async move { dispatch(&shared, rate, start, &cancel).await }
    });
    let cancelled = dispatch.await.unwrap_or(true);
    let outcomes = shared.recorder.lock().expect("recorder lock").finish();
    LoadResult { outcomes, end: if cancelled { clock.now().min(end) } else { end }, cancelled }
}

/// One request handed to a worker.
#[derive(Debug, Clone, Copy)]
struct Job {
    due: Nanos,
    pick: Pick,
    seq: u32,
}

/// A worker's mailbox: the scheduler puts a job in and wakes it.
#[derive(Default)]
struct Slot {
    job: Mutex<Option<Job>>,
    ready: Notify,
}

/// The idle workers' mailboxes, the most recently idle last, so that the warmest connections are reused
/// first and a load that needs few connections opens few.
type Idle = Arc<Mutex<Vec<Arc<Slot>>>>;

/// The connection workers of one load.
struct Workers {
    idle: Idle,
    started: usize,
    max: usize,
    /// Cancelled when the load is over: idle workers stop.
    done: CancellationToken,
}

impl Workers {
    fn new(max: usize) -> Workers {
        Workers { idle: Idle::default(), started: 0, max, done: CancellationToken::new() }
    }

    /// Hands `job` to an idle worker, or to a new one while fewer than `max` run; gives it back when all are
    /// busy.
    fn give(&mut self, shared: &Arc<Shared>, job: Job) -> Result<(), Job> {
        if let Some(slot) = self.idle.lock().expect("idle lock").pop() {
            *slot.job.lock().expect("slot lock") = Some(job);
            slot.ready.notify_one();
            return Ok(());
        }
        if self.started >= self.max {
            return Err(job);
        }
        self.started += 1;
        tokio::spawn(work(shared.clone(), self.idle.clone(), self.done.clone(), job));
        Ok(())
    }

    /// Whether no request is in flight.
    fn all_idle(&self) -> bool {
        self.idle.lock().expect("idle lock").len() == self.started
    }
}

/// A worker: sends its job on its own connection, records the outcome, waits for the next job.
async fn work(shared: Arc<Shared>, idle: Idle, done: CancellationToken, first: Job) {
    let slot = Arc::new(Slot::default());
    let mut conn = Conn::default();
    let mut job = first;
    loop {
        let outcome = send(&shared, &mut conn, job.due, job.pick, job.seq).await;
        shared.record(outcome);
        shared.counters.in_flight.fetch_sub(1, Ordering::Relaxed);
        idle.lock().expect("idle lock").push(slot.clone());
        job = loop {
            tokio::select! {
                () = slot.ready.notified() => {
                    if let Some(job) = slot.job.lock().expect("slot lock").take() {
                        break job;
                    }
                }
                () = done.cancelled() => return,
            }
        };
    }
}

/// The schedule, on the load thread: at each wake-up, every request that is due goes to a worker (or is
/// recorded as missed), then the scheduler sleeps until the next one is due, plus [`SLACK`]. After the last
/// request (or cancellation) it waits for what is in flight (each request is bounded by the timeout).
/// Returns whether it was cancelled.
async fn dispatch(shared: &Arc<Shared>, rate: u32, start: Nanos, cancel: &CancellationToken) -> bool {
    let clock = shared.clock;
    let interval_ns = 1e9 / f64::from(rate);
    let due_of = |i: u64| start + (i as f64 * interval_ns) as Nanos;
    let total = (shared.cfg.duration.as_secs_f64() * f64::from(rate)).round() as u64;
    let mut rng = rand::rngs::StdRng::seed_from_u64(shared.cfg.seed);
    let mut next_seq: u32 = 0;
    let mut workers = Workers::new(shared.cfg.max_in_flight);
    let timer = Timer::new().ok();
    let mut i: u64 = 0;
    let mut cancelled = false;
    while i < total {
        let now = clock.now();
        while i < total && due_of(i) <= now {
            let (pick, seq) = shared.next_request(&mut rng, || {
                next_seq += 1;
                next_seq
            });
            shared.counters.sent.fetch_add(1, Ordering::Relaxed);
            shared.counters.in_flight.fetch_add(1, Ordering::Relaxed);
            if let Err(job) = workers.give(shared, Job { due: due_of(i), pick, seq }) {
                shared.counters.in_flight.fetch_sub(1, Ordering::Relaxed);
                let now = clock.now();
                shared.record(Outcome::new(job.due, now, now, pick.kind, Some(Failure::Missed), seq));
            }
            i += 1;
        }
        if i == total {
            break;
        }
        // Always through the reactor, even when the next request is already due: the workers run meanwhile.
        let nap = Duration::from_nanos(due_of(i).saturating_sub(clock.now())) + SLACK;
        tokio::select! {
            () = pause(timer.as_ref(), nap) => {}
            () = cancel.cancelled() => {
                cancelled = true;
                break;
            }
        }
    }
    let drain_until = clock.now() + (shared.cfg.timeout + Duration::from_secs(1)).as_nanos() as Nanos;
    while !workers.all_idle() && clock.now() < drain_until {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    workers.done.cancel();
    cancelled || cancel.is_cancelled()
}

/// Sleeps for `d` on the `timerfd`, or on tokio's timer where none could be made.
async fn pause(timer: Option<&Timer>, d: Duration) {
    match timer {
        Some(t) if t.sleep(d).await.is_ok() => {}
        _ => tokio::time::sleep(d).await,
    }
}

/// A `timerfd` on the load thread's reactor: sleeps to the nanosecond, where tokio's timer rounds up to the
/// next millisecond.
struct Timer {
    fd: AsyncFd<OwnedFd>,
}

impl Timer {
    fn new() -> io::Result<Timer> {
        // SAFETY: timerfd_create takes no pointers; a non-negative result is a new descriptor we own.
        let fd =
            unsafe { libc::timerfd_create(libc::CLOCK_MONOTONIC, libc::TFD_NONBLOCK | libc::TFD_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` was just created and is owned by nothing else.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        // SAFETY: an `OwnedFd` keeps its descriptor open, the same one, until it is dropped with the `AsyncFd`.
        let fd = unsafe { AsyncFd::register_with_interest(fd, tokio::io::Interest::READABLE) };
        Ok(Timer { fd: fd.map_err(io::Error::from)? })
    }

    /// Sleeps for `d` (at least 1 ns).
    async fn sleep(&self, d: Duration) -> io::Result<()> {
        let d = d.max(Duration::from_nanos(1));
        let spec = libc::itimerspec {
            it_interval: libc::timespec { tv_sec: 0, tv_nsec: 0 },
            it_value: libc::timespec {
                tv_sec: d.as_secs() as libc::time_t,
                tv_nsec: d.subsec_nanos().into(),
            },
        };
        // SAFETY: `spec` is a valid itimerspec; the old value is not asked for.
        if unsafe { libc::timerfd_settime(self.fd.as_raw_fd(), 0, &spec, std::ptr::null_mut()) } < 0 {
            return Err(io::Error::last_os_error());
        }
        loop {
            let mut guard = self.fd.readable().await?;
            let mut ticks = [0u8; 8];
            let read = guard.try_io(|fd| {
                // SAFETY: reads at most 8 bytes into `ticks`.
                let n = unsafe { libc::read(fd.as_raw_fd(), ticks.as_mut_ptr().cast(), ticks.len()) };
                if n < 0 {
                    Err(io::Error::last_os_error())
                } else {
                    Ok(())
                }
            });
            match read {
                Ok(result) => return result,
                Err(_would_block) => continue,
            }
        }
    }
}
