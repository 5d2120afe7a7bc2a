//! The live console, as nextest's reporter: the drill, the image builds, `doctor` and the signal watcher send
//! small [`Event`]s over a channel to one task that owns the terminal (the lines on stderr, the progress bar).
//! Library code never prints; the command line starts a [`Console`] and hands its [`Reporter`] down.
//!
//! A new live line is a variant here (or a new use of [`Event::Phase`]) and its text in [`line`].

use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::sync::mpsc;

use crate::load::Counters;
use crate::timeline::{ActionEvent, Clock, Nanos};

/// One thing worth telling the person at the terminal.
#[derive(Debug, Clone)]
pub enum Event {
    /// A step of the flow begins (`bringing up ...`, `settling ...`, `building image ...`).
    Phase(String),
    /// Something went wrong that does not stop the flow.
    Warning(String),
    /// A line of a command's own result, for stdout (`doctor`'s checks).
    Output(String),
    /// A fault or step was applied (verified or not).
    Applied(ActionEvent),
    /// The reverts of an action ran (at drill time `at`).
    Reverted { summary: String, at: Nanos },
    /// The load's counters, a few times a second.
    Tick { elapsed: Nanos, total: Duration, counts: Counts },
    /// The load ended with these totals.
    Done(Counts),
    /// The `n`th Ctrl-C (or SIGTERM).
    Interrupt(u32),
    /// A cycle of a repeated drill begins.
    Cycle { cycle: u32, of: u32, seed: u64 },
    /// The distribution so far, after a cycle of a repeated drill ended.
    Distribution(String),
}

/// A snapshot of the load's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub sent: u64,
    pub ok: u64,
    pub failed: u64,
    pub missed: u64,
    pub in_flight: u64,
}

impl Counts {
    pub fn of(c: &Counters) -> Counts {
        Counts {
            sent: c.sent.load(Ordering::Relaxed),
            ok: c.ok.load(Ordering::Relaxed),
            failed: c.failed.load(Ordering::Relaxed),
            missed: c.missed.load(Ordering::Relaxed),
            in_flight: c.in_flight.load(Ordering::Relaxed),
        }
    }
}

enum Msg {
    Event(Event),
    Close,
}

/// Where library code sends its events; silent when no console listens (tests, library users).
#[derive(Debug, Clone, Default)]
pub struct Reporter {
    tx: Option<mpsc::UnboundedSender<Msg>>,
}

impl std::fmt::Debug for Msg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Msg::Event(e) => e.fmt(f),
            Msg::Close => f.write_str("Close"),
        }
    }
}

impl Reporter {
    /// A reporter nobody listens to.
    pub fn silent() -> Reporter {
        Reporter::default()
    }

    pub fn send(&self, event: Event) {
        if let Some(tx) = &self.tx {
            let _ = tx.send(Msg::Event(event));
        }
    }

    pub fn phase(&self, text: impl Into<String>) {
        self.send(Event::Phase(text.into()));
    }

    pub fn warn(&self, text: impl Into<String>) {
        self.send(Event::Warning(text.into()));
    }

    pub fn output(&self, text: impl Into<String>) {
        self.send(Event::Output(text.into()));
    }
}

/// Awaits `load`, sending its counters to `console` four times a second meanwhile.
pub async fn ticking<F: std::future::Future>(
    load: F,
    counters: &Counters,
    clock: Clock,
    total: Duration,
    console: &Reporter,
) -> F::Output {
    tokio::pin!(load);
    let mut every = tokio::time::interval(Duration::from_millis(250));
    loop {
        tokio::select! {
            out = &mut load => return out,
            _ = every.tick() => {
                console.send(Event::Tick { elapsed: clock.now(), total, counts: Counts::of(counters) });
            }
        }
    }
}

/// The task that writes events to the terminal.
pub struct Console {
    reporter: Reporter,
    task: tokio::task::JoinHandle<()>,
}

impl Console {
    /// Starts the console; `progress` shows the live counters as a bar (for a terminal).
    pub fn start(progress: bool) -> Console {
        let (tx, rx) = mpsc::unbounded_channel();
        let task = tokio::spawn(write(rx, progress));
        Console { reporter: Reporter { tx: Some(tx) }, task }
    }

    pub fn reporter(&self) -> Reporter {
        self.reporter.clone()
    }

    /// Writes every event sent so far, then stops (later events are dropped).
    pub async fn close(self) {
        if let Some(tx) = &self.reporter.tx {
            let _ = tx.send(Msg::Close);
        }
        let _ = self.task.await;
    }
}

async fn write(mut rx: mpsc::UnboundedReceiver<Msg>, progress: bool) {
    let mut bar: Option<indicatif::ProgressBar> = None;
    while let Some(Msg::Event(event)) = rx.recv().await {
        match &event {
            Event::Tick { elapsed, total, counts } if progress => {
                let b = bar.get_or_insert_with(|| new_bar(*total));
                b.set_position(elapsed / 1_000_000_000);
                b.set_message(counters_text(counts));
                continue;
            }
            Event::Done(_) => {
                if let Some(b) = bar.take() {
                    b.abandon();
                }
            }
            Event::Output(text) => {
                println!("{text}");
                continue;
            }
            _ => {}
        }
        let Some(text) = line(&event) else { continue };
        match &bar {
            Some(b) => b.println(text),
            None => eprintln!("{text}"),
        }
    }
    if let Some(b) = bar {
        b.abandon();
    }
}

fn new_bar(total: Duration) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(total.as_secs());
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:30} {pos:>3}/{len}s  {msg}")
            .expect("progress template"),
    );
    bar
}

fn counters_text(c: &Counts) -> String {
    format!(
        "sent {}  ok {}  failed {}  missed {}  in flight {}",
        c.sent, c.ok, c.failed, c.missed, c.in_flight
    )
}

/// The stderr line of an event (none for ticks, which only move the bar).
pub fn line(event: &Event) -> Option<String> {
    let human = |n: Nanos| crate::duration::human(Duration::from_nanos(n));
    Some(match event {
        Event::Phase(text) => format!("hadrill: {text}"),
        Event::Warning(text) => format!("warning: {text}"),
        Event::Output(text) => text.clone(),
        Event::Applied(ev) => format!(
            "hadrill: {} {:>7} {}{}",
            if ev.verified { "✓" } else { "✗" },
            human(ev.started),
            ev.summary,
            if ev.verified { String::new() } else { format!(" ({})", ev.detail) }
        ),
        Event::Reverted { summary, at } => format!("hadrill: ↺ {:>7} reverted: {summary}", human(*at)),
        Event::Tick { .. } => return None,
        Event::Done(c) => format!(
            "hadrill: load done: {} sent, {} ok, {} failed ({} missed sends)",
            c.sent, c.ok, c.failed, c.missed
        ),
        Event::Interrupt(1) => {
            "\ninterrupted: stopping the load and any read-back, reverting faults, tearing the \
                                stack down (Ctrl-C twice more to stop waiting)"
                .to_string()
        }
        Event::Interrupt(2) => {
            "still cleaning up: reverting faults and removing containers; Ctrl-C once more to \
                                exit now and leave the rest to `hadrill clean`"
                .to_string()
        }
        Event::Interrupt(_) => "exiting without waiting for the cleanup".to_string(),
        Event::Cycle { cycle, of, seed } => format!("hadrill: ── cycle {cycle} of {of}, seed {seed} ──"),
        Event::Distribution(text) => format!("hadrill: {text}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn applied(verified: bool) -> ActionEvent {
        ActionEvent {
            summary: "pause app1 for 5s".into(),
            targets: vec!["app1".into()],
            verified,
            detail: "not paused after the call".into(),
            ..ActionEvent::test(0, "pause", 3_000_000_000)
        }
    }

    #[test]
    fn an_unverified_action_says_why_and_a_verified_one_does_not() {
        let ok = line(&Event::Applied(applied(true))).unwrap();
        assert!(ok.starts_with("hadrill: ✓") && ok.ends_with("pause app1 for 5s"), "{ok}");
        let bad = line(&Event::Applied(applied(false))).unwrap();
        assert!(bad.contains("✗") && bad.ends_with("(not paused after the call)"), "{bad}");
    }

    #[test]
    fn ticks_only_move_the_bar_and_interrupts_escalate() {
        let tick = Event::Tick { elapsed: 0, total: Duration::from_secs(1), counts: Counts::default() };
        assert_eq!(line(&tick), None);
        assert!(line(&Event::Interrupt(2)).unwrap().contains("hadrill clean"));
        assert!(line(&Event::Interrupt(3)).unwrap().contains("without waiting"));
        assert_eq!(
            line(&Event::Cycle { cycle: 2, of: 5, seed: 9 }).unwrap(),
            "hadrill: ── cycle 2 of 5, seed 9 ──"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn the_counters_tick_four_times_a_second_while_the_load_runs() {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let reporter = Reporter { tx: Some(tx) };
        let counters = Counters::default();
        counters.sent.store(7, Ordering::Relaxed);
        let load = async {
            tokio::time::sleep(Duration::from_millis(1100)).await;
            "loaded"
        };
        let total = Duration::from_secs(1);
        assert_eq!(ticking(load, &counters, Clock::start(), total, &reporter).await, "loaded");
        let mut ticks = 0;
        while let Ok(Msg::Event(Event::Tick { counts, .. })) = rx.try_recv() {
            assert_eq!(counts.sent, 7);
            ticks += 1;
        }
        assert_eq!(ticks, 5, "at 0, 250, 500, 750 and 1000 ms");
    }
}
