//! `bench/run.sh day`: the end of a day-long drill without running one for a day. A generated recording of
//! SECONDS (default 86,400) at RATE req/s (default 1,000), half writes, a 6 s outage at mid-run, goes through
//! the recorder the drill uses (spilled in sorted runs to an unlinked file in DIR, default the system's
//! temporary folder) and through the same measurement (`measure_sorted` over the merged runs, with a
//! read-back set of every acknowledged write). Prints the time to record, to finish the recording, to
//! measure, the spilled runs and the process's peak RSS (`VmHWM`): what memory and time the report of a
//! 24-hour soak costs (issue 14, goal 3).
//!
//! `cargo bench --bench soak_day -- [SECONDS] [RATE] [DIR]`

use std::time::Instant;

use hadrill::measure::{measure_sorted, Params};
use hadrill::outcomes::{Recorder, RUN};
use hadrill::timeline::{Failure, Kind, Nanos, Outcome, SeqSetBuilder, Verification, WriteState, SECOND};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    let seconds: u64 = args.first().map_or(86_400, |s| s.parse().expect("SECONDS"));
    let rate: u64 = args.get(1).map_or(1_000, |s| s.parse().expect("RATE"));
    let dir = args.get(2).map_or_else(std::env::temp_dir, std::path::PathBuf::from);
    let total = seconds * rate;
    let interval = SECOND / rate;
    let fault = seconds / 2 * SECOND;
    let outage = fault..fault + 6 * SECOND;

    let started = Instant::now();
    let mut recorder = Recorder::new(&dir, RUN);
    let mut found = SeqSetBuilder::default();
    let mut seq = 0u32;
    // A small deterministic generator (xorshift), so that the figures repeat from run to run.
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for i in 0..total {
        let r = next();
        let intended = i * interval;
        let kind = if r & 1 == 0 { Kind::Write } else { Kind::Read };
        let s = if kind == Kind::Write {
            seq += 1;
            seq
        } else {
            0
        };
        let failure = outage.contains(&intended).then_some(Failure::Status(503));
        let started = intended + (r >> 8) % 200_000;
        let ended: Nanos = started + 300_000 + (r >> 32) % 5_000_000;
        let o = Outcome::new(intended, started, ended, kind, failure, s);
        // Every acknowledged write is found, and one in a thousand of the failed ones (stored but refused).
        let kept = match o.write_state() {
            Some(WriteState::Acknowledged) => true,
            Some(_) => (r >> 40) % 1000 == 0,
            None => false,
        };
        if kept {
            found.insert(s);
        }
        recorder.push(o);
    }
    let recorded = started.elapsed();
    let finishing = Instant::now();
    let outcomes = recorder.finish().expect("spilling the outcomes");
    let finished = finishing.elapsed();
    let verification = Verification::Read(found.build());
    let measuring = Instant::now();
    let m = measure_sorted(
        outcomes.iter(),
        Some(fault),
        total * interval,
        Some(&verification),
        &[],
        &Params::default(),
    );
    let measured = measuring.elapsed();
    println!(
        "day: {} requests ({} s at {} req/s), {} spilled runs; record {:.1} s, finish {:.1} s, measure {:.1} s; \
         RTO {} ms, {} writes acknowledged, {} lost; peak RSS {:.1} MiB",
        outcomes.len(),
        seconds,
        rate,
        outcomes.spilled_runs(),
        recorded.as_secs_f64(),
        finished.as_secs_f64(),
        measured.as_secs_f64(),
        m.rto.rto_ms.map_or("-".into(), |v| format!("{v:.0}")),
        m.writes.acknowledged,
        m.writes.lost.map_or("unknown".into(), |l| l.to_string()),
        hadrill::usage::peak_bytes().unwrap_or(0) as f64 / (1 << 20) as f64,
    );
}
