//! Tests: every figure computed from a recording is the same whether the recording was kept in memory or
//! spilled to a file in sorted runs and merged back, on a hand-built recording and on a generated large random
//! one; and the generated recording's figures are the ones the in-memory computation gave before spilling
//! existed (`testdata/generated.jsonl`, written by `measure()` at commit 81ac22a; `HADRILL_BLESS=1` rewrites
//! it).

use std::collections::BTreeSet;

use rand::{Rng, SeedableRng};

use super::summary::{measure, Measurement, Params};
use crate::timeline::{
    Failure, Kind, Nanos, Origin, Outcome, SeqSet, StackEvent, StackEventKind, Verification, MILLI, SECOND,
};

/// A recording of `seconds` at 1000 req/s with every intended time distinct (the open model's): outages where
/// nine requests in ten fail (503, timeouts, resets, refusals, missed sends), rare failures elsewhere,
/// latencies from 100 µs to 2 s, half of the requests writes; the read-back lost a few acknowledged writes
/// and found a few indeterminate ones.
pub(crate) fn generated(seconds: u64, seed: u64) -> (Vec<Outcome>, Verification) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let outages: Vec<(Nanos, Nanos)> = (0..6)
        .map(|_| {
            let start = rng.gen_range(0..seconds) * SECOND + rng.gen_range(0..SECOND);
            (start, start + rng.gen_range(10 * MILLI..8 * SECOND))
        })
        .collect();
    let mut seq = 0u32;
    let mut found = Vec::new();
    let outcomes = (0..seconds * 1000)
        .map(|i| {
            let intended = i * MILLI + rng.gen_range(0..MILLI);
            let inside = outages.iter().any(|&(s, e)| (s..e).contains(&intended));
            let fails = rng.gen_bool(if inside { 0.9 } else { 0.001 });
            let failure = fails.then(|| match rng.gen_range(0..5) {
                0 => Failure::Status(503),
                1 => Failure::Timeout,
                2 => Failure::Reset,
                3 => Failure::Refused,
                _ => Failure::Missed,
            });
            let started = intended + rng.gen_range(0..200_000);
            let ended = match failure {
                Some(Failure::Missed) => started,
                Some(Failure::Timeout) => started + SECOND,
                _ => started + (100_000.0 * 20_000f64.powf(rng.gen::<f64>())) as Nanos,
            };
            let kind = if rng.gen_bool(0.5) { Kind::Write } else { Kind::Read };
            let s = if kind == Kind::Write {
                seq += 1;
                seq
            } else {
                0
            };
            let o = Outcome::new(intended, started, ended, kind, failure, s);
            let kept = match o.write_state() {
                Some(crate::timeline::WriteState::Acknowledged) => !rng.gen_bool(0.002),
                Some(_) => rng.gen_bool(0.3),
                None => false,
            };
            if kept {
                found.push(s);
            }
            o
        })
        .collect();
    (outcomes, Verification::Read(SeqSet::from(found)))
}

fn stack_events() -> Vec<StackEvent> {
    let ev = |at: Nanos, kind, state: &str| StackEvent {
        at,
        origin: Origin::Log,
        resolution_us: 1000,
        source: "haproxy".into(),
        subject: "apps/app2".into(),
        state: state.into(),
        kind,
    };
    vec![ev(40 * SECOND, StackEventKind::Detection, "DOWN"), ev(95 * SECOND, StackEventKind::Promotion, "UP")]
}

fn params() -> [Params; 2] {
    [
        Params::default(),
        Params {
            recovery_ratio: 0.95,
            stable_for: std::time::Duration::from_secs(2),
            slow: Some(std::time::Duration::from_millis(300)),
        },
    ]
}

/// The figures of `outcomes` for faults at several times (none, early, in the middle, late) and both
/// parameter sets.
fn figures(outcomes: &[Outcome], v: &Verification, load_end: Nanos) -> Vec<Measurement> {
    let faults =
        [None, Some(SECOND / 2), Some(load_end / 3), Some(load_end / 2 + 7), Some(load_end - SECOND)];
    let mut out = Vec::new();
    for p in params() {
        for tf in faults {
            out.push(measure(outcomes, tf, load_end, Some(v), &stack_events(), &p));
        }
    }
    out
}

#[test]
fn the_generated_recording_gives_the_figures_it_gave_before_spilling() {
    let (outcomes, v) = generated(300, 14);
    let got = figures(&outcomes, &v, 300 * SECOND);
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/measure/testdata/generated.jsonl");
    let lines: Vec<String> = got.iter().map(|m| serde_json::to_string(m).unwrap()).collect();
    if std::env::var_os("HADRILL_BLESS").is_some() {
        std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    }
    let want = std::fs::read_to_string(&path).unwrap();
    assert_eq!(want.lines().count(), lines.len());
    for (g, w) in lines.iter().zip(want.lines()) {
        assert_eq!(g, w, "JSON of the figures (one line each in {})", path.display());
    }
    let want: Vec<Measurement> = want.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let distinct: BTreeSet<Nanos> = outcomes.iter().map(|o| o.intended()).collect();
    assert_eq!(distinct.len(), outcomes.len(), "no two requests share an intended time");
    assert!(want.iter().any(|m| m.outages.count > 3 && m.writes.lost > Some(0)));
}

/// `outcomes` as the engine records them: in completion order (by answer time), through a recorder that
/// spills a sorted run every `run` outcomes.
fn spilled(outcomes: &[Outcome], run: usize) -> crate::outcomes::Outcomes {
    let dir = std::env::temp_dir().join(format!("hadrill-same-figures-{}", std::process::id()));
    let mut arrived = outcomes.to_vec();
    arrived.sort_by_key(|o| (o.ended(), o.seq()));
    let mut rec = crate::outcomes::Recorder::new(&dir, run);
    for o in arrived {
        rec.push(o);
    }
    let out = rec.finish().unwrap();
    assert!(out.spilled_runs() > 3, "the recording was spilled in runs");
    let _ = std::fs::remove_dir(&dir);
    out
}

/// Every figure, for every fault time and parameter set, from memory and from the spilled runs.
fn assert_same_figures(outcomes: &[Outcome], v: &Verification, load_end: Nanos, run: usize) {
    let spilled = spilled(outcomes, run);
    assert_eq!(spilled.len(), outcomes.len() as u64);
    let faults =
        [None, Some(SECOND / 2), Some(load_end / 3), Some(load_end / 2 + 7), Some(load_end - SECOND)];
    for p in params() {
        for tf in faults {
            let memory = measure(outcomes, tf, load_end, Some(v), &stack_events(), &p);
            let from_file = super::measure_sorted(&spilled, tf, load_end, Some(v), &stack_events(), &p);
            assert_eq!(memory, from_file, "fault at {tf:?}, {p:?}");
        }
    }
}

#[test]
fn a_hand_built_recording_gives_the_same_figures_spilled() {
    // Outages at 5-7 s and 12-12.5 s, a blip at 8 s, two requests sharing an intended time (one failed, one
    // not), slow answers at 15 s, missed sends, writes with one lost and one indeterminate found.
    let mut tl = crate::measure::rto::tests::timeline(20_000, 10, |t| {
        (5000..7000).contains(&t) || t == 8000 || (12_000..12_500).contains(&t)
    });
    for (i, o) in tl.iter_mut().enumerate().filter(|(i, _)| i % 2 == 1) {
        o.set_write(i as u32);
    }
    for o in tl.iter_mut().filter(|o| (15_000..15_300).contains(&(o.intended() / MILLI))) {
        o.set_ended(o.intended() + 400 * MILLI);
    }
    for o in tl.iter_mut().filter(|o| (12_000..12_100).contains(&(o.intended() / MILLI))) {
        o.set_failure(Some(Failure::Missed));
        o.set_ended(o.started());
    }
    tl.push(Outcome::new(9 * SECOND, 9 * SECOND, 9 * SECOND + MILLI, Kind::Read, Some(Failure::Reset), 0));
    let found = tl.iter().filter(|o| o.write_state().is_some() && o.ok() && o.seq() != 301).map(|o| o.seq());
    let v = Verification::Read(found.chain([1003]).collect());
    assert_same_figures(&tl, &v, 20 * SECOND, 97);
}

#[test]
fn a_generated_large_recording_gives_the_same_figures_spilled() {
    let (outcomes, v) = generated(300, 14);
    assert_same_figures(&outcomes, &v, 300 * SECOND, 4096);
}
