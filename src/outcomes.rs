//! Every request's outcome of a load, in flat memory however long the load runs. The recorder keeps the
//! outcomes as they complete in a buffer of [`RUN`]; a full buffer goes to a spill thread that sorts it (by
//! [`Outcome::order`]) and appends it to a file as one sorted run, so the load's own threads never sort or
//! write. What is left at the end stays in memory as the last run. [`Outcomes`] reads them back as one stream
//! in intended order, a k-way merge of the runs read a chunk at a time (`pread`, never mapped whole), as many
//! times as the measurement makes passes: memory is a buffer per run, not a record per request.
//!
//! The file is created in the report folder's parent and unlinked at once: it takes disk (24 bytes a
//! request) while the drill runs and nothing after it, even when hadrill is killed.
//!
//! The spill thread hands each written buffer back, emptied, and the recorder fills it again: after the first
//! spills no buffer is allocated or freed. Freeing them was not enough: in a drill (more threads, sharing
//! malloc's arenas with the load thread) each freed 12 MB buffer was carved up by small allocations and the
//! next one came from fresh memory, so a real 1-hour drill's RSS grew by 24 bytes a request after its second
//! spill, exactly as if nothing were spilled (`hadrill load` alone, with fewer threads, did not show it).

use std::collections::BinaryHeap;
use std::fs::File;
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{channel, sync_channel, Receiver, SyncSender};
use std::sync::Arc;
use std::thread::JoinHandle;

use crate::timeline::{Outcome, OUTCOME_BYTES};

/// Outcomes kept in memory before they are sorted and spilled as one run: 12 MB, and at most three such
/// buffers exist at once (one filling, one queued, one being written).
pub const RUN: usize = 1 << 19;
/// Outcomes read from a run at once while merging (48 KB a run).
const CHUNK: usize = 2048;

/// Why the outcomes could not be spilled (disk full, folder not writable): the drill's figures would be
/// missing requests, so it stops with this.
#[derive(Debug, thiserror::Error)]
#[error("spilling the requests' outcomes to a file in {dir}: {source}")]
pub struct SpillError {
    pub dir: PathBuf,
    #[source]
    pub source: std::io::Error,
}

type Spilled = std::io::Result<(File, Vec<Run>)>;

/// Takes outcomes in any order, in memory up to [`RUN`] of them at a time.
#[derive(Debug)]
pub struct Recorder {
    dir: PathBuf,
    run: usize,
    buf: Vec<Outcome>,
    spill: Option<Spill>,
    max_seq: u32,
    /// Buffers allocated so far: at most three (one filling, one queued, one being written).
    buffers: usize,
}

/// The spill thread: full buffers go to it, written (emptied) buffers come back.
#[derive(Debug)]
struct Spill {
    full: SyncSender<Vec<Outcome>>,
    written: Receiver<Vec<Outcome>>,
    thread: JoinHandle<Spilled>,
}

impl Recorder {
    /// A recorder that spills into a file in `dir` once it holds `run` outcomes (`RUN`, smaller in tests).
    pub fn new(dir: &Path, run: usize) -> Recorder {
        Recorder {
            dir: dir.to_path_buf(),
            run: run.max(1),
            buf: Vec::new(),
            spill: None,
            max_seq: 0,
            buffers: 0,
        }
    }

    pub fn push(&mut self, o: Outcome) {
        self.max_seq = self.max_seq.max(o.seq());
        if self.buf.capacity() == 0 {
            self.buf.reserve_exact(self.run);
            self.buffers += 1;
        }
        self.buf.push(o);
        if self.buf.len() >= self.run {
            let spill = self.spill.get_or_insert_with(|| spill_thread(self.dir.clone()));
            // A send fails only when the spill thread has stopped on an error, which `finish` reports. It waits
            // while one buffer is queued and one being written; by then the one before is back.
            let _ = spill.full.send(std::mem::take(&mut self.buf));
            // A buffer the spill thread has written, or (empty) a new one, allocated at the next push.
            self.buf = spill.written.try_recv().unwrap_or_default();
        }
    }

    /// Buffers allocated so far (tests: they are reused, not allocated per spill).
    pub fn buffers_allocated(&self) -> usize {
        self.buffers
    }

    /// Moves every outcome out of `v` into the recording.
    pub fn append(&mut self, v: &mut Vec<Outcome>) {
        for o in v.drain(..) {
            self.push(o);
        }
    }

    /// Everything recorded, sorted; the recorder is empty afterwards.
    pub fn finish(&mut self) -> Result<Outcomes, SpillError> {
        let mut tail = std::mem::take(&mut self.buf);
        tail.sort_unstable_by_key(Outcome::order);
        tail.shrink_to_fit();
        let max_seq = std::mem::take(&mut self.max_seq);
        let (file, runs) = match self.spill.take() {
            None => (None, Vec::new()),
            Some(Spill { full, written, thread }) => {
                drop((full, written));
                let spilled =
                    thread.join().unwrap_or_else(|_| Err(std::io::Error::other("spill thread panicked")));
                let (file, runs) = spilled.map_err(|source| SpillError { dir: self.dir.clone(), source })?;
                (Some(Arc::new(file)), runs)
            }
        };
        let len = runs.iter().map(|r| r.len).sum::<u64>() + tail.len() as u64;
        Ok(Outcomes { file, runs, tail, len, max_seq })
    }
}

/// A spill file in `dir`, unlinked as soon as it is open.
fn unlinked_file(dir: &Path) -> std::io::Result<File> {
    std::fs::create_dir_all(dir)?;
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let path = dir.join(format!(".hadrill-outcomes-{}-{n}", std::process::id()));
    let file = File::options().read(true).write(true).create_new(true).open(&path)?;
    std::fs::remove_file(&path)?;
    Ok(file)
}

/// The thread that sorts full buffers and appends them to the spill file, one run each, and hands each buffer
/// back emptied.
fn spill_thread(dir: PathBuf) -> Spill {
    let (full, rx) = sync_channel::<Vec<Outcome>>(1);
    let (back, written) = channel::<Vec<Outcome>>();
    let thread = std::thread::spawn(move || -> Spilled {
        let file = unlinked_file(&dir)?;
        let mut out = std::io::BufWriter::with_capacity(1 << 20, &file);
        let (mut runs, mut offset) = (Vec::new(), 0u64);
        for mut run in rx {
            run.sort_unstable_by_key(Outcome::order);
            for o in &run {
                out.write_all(&o.to_bytes())?;
            }
            runs.push(Run { offset, len: run.len() as u64 });
            offset += (run.len() * OUTCOME_BYTES) as u64;
            run.clear();
            // The recorder may be finishing and gone: the buffer is then simply freed.
            let _ = back.send(run);
        }
        out.flush()?;
        drop(out);
        Ok((file, runs))
    });
    Spill { full, written, thread }
}

/// One sorted run in the spill file.
#[derive(Debug, Clone, Copy)]
struct Run {
    /// Byte offset of its first outcome.
    offset: u64,
    len: u64,
}

/// A load's outcomes, sorted by [`Outcome::order`]: spilled runs and an in-memory tail.
#[derive(Debug, Default)]
pub struct Outcomes {
    file: Option<Arc<File>>,
    runs: Vec<Run>,
    tail: Vec<Outcome>,
    len: u64,
    max_seq: u32,
}

impl From<Vec<Outcome>> for Outcomes {
    /// Outcomes kept in memory, in any order (tests, and loads too short to spill).
    fn from(mut v: Vec<Outcome>) -> Outcomes {
        v.sort_unstable_by_key(Outcome::order);
        let max_seq = v.iter().map(Outcome::seq).max().unwrap_or(0);
        Outcomes { file: None, runs: Vec::new(), len: v.len() as u64, tail: v, max_seq }
    }
}

impl Outcomes {
    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The highest write sequence number recorded (0 when nothing was written).
    pub fn max_seq(&self) -> u32 {
        self.max_seq
    }

    /// How many sorted runs were spilled to the file (0: everything stayed in memory).
    pub fn spilled_runs(&self) -> usize {
        self.runs.len()
    }

    /// Every outcome in intended order, one pass. A read error of the spill file (which hadrill wrote a
    /// moment ago) is a broken disk: it panics with what failed rather than measuring a partial recording.
    pub fn iter(&self) -> Sorted<'_> {
        let mut cursors: Vec<Cursor> =
            self.runs.iter().map(|r| Cursor { next: 0, run: *r, buf: Vec::new(), at: 0 }).collect();
        let mut heads = BinaryHeap::new();
        let file = self.file.as_deref();
        for (i, c) in cursors.iter_mut().enumerate() {
            if let Some(o) = file.and_then(|f| c.pop(f)) {
                heads.push(Head(o, i));
            }
        }
        let mut tail = self.tail.iter();
        if let Some(o) = tail.next() {
            heads.push(Head(*o, usize::MAX));
        }
        Sorted { file, cursors, tail, heads }
    }
}

impl<'a> IntoIterator for &'a Outcomes {
    type Item = Outcome;
    type IntoIter = Sorted<'a>;

    fn into_iter(self) -> Sorted<'a> {
        self.iter()
    }
}

/// Where a merge is in one run: the chunk read last and the position in it.
#[derive(Debug, Clone)]
struct Cursor {
    /// Outcomes of the run read so far.
    next: u64,
    run: Run,
    buf: Vec<Outcome>,
    at: usize,
}

impl Cursor {
    fn pop(&mut self, file: &File) -> Option<Outcome> {
        if self.at == self.buf.len() {
            let n = (self.run.len - self.next).min(CHUNK as u64) as usize;
            if n == 0 {
                return None;
            }
            let mut bytes = vec![0u8; n * OUTCOME_BYTES];
            let offset = self.run.offset + self.next * OUTCOME_BYTES as u64;
            if let Err(e) = file.read_exact_at(&mut bytes, offset) {
                panic!("reading the spilled outcomes back at byte {offset}: {e}");
            }
            self.buf.clear();
            self.buf.extend(
                bytes
                    .chunks_exact(OUTCOME_BYTES)
                    .map(|b| Outcome::from_bytes(b.try_into().expect("chunks of OUTCOME_BYTES"))),
            );
            self.next += n as u64;
            self.at = 0;
        }
        self.at += 1;
        Some(self.buf[self.at - 1])
    }
}

/// The next outcome of a run (`usize::MAX`: the in-memory tail), ordered for a min-heap.
#[derive(Debug, Clone, Copy)]
struct Head(Outcome, usize);

impl PartialEq for Head {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other).is_eq()
    }
}

impl Eq for Head {}

impl PartialOrd for Head {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Head {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (other.0.order(), other.1).cmp(&(self.0.order(), self.1))
    }
}

/// One pass over [`Outcomes`] in order; cloning it starts a second pass from the same point (the measurement
/// walks a recording with several cursors at once).
#[derive(Debug, Clone)]
pub struct Sorted<'a> {
    file: Option<&'a File>,
    cursors: Vec<Cursor>,
    tail: std::slice::Iter<'a, Outcome>,
    heads: BinaryHeap<Head>,
}

impl Iterator for Sorted<'_> {
    type Item = Outcome;

    fn next(&mut self) -> Option<Outcome> {
        let Head(o, i) = self.heads.pop()?;
        let next = if i == usize::MAX {
            self.tail.next().copied()
        } else {
            self.file.and_then(|f| self.cursors[i].pop(f))
        };
        if let Some(n) = next {
            self.heads.push(Head(n, i));
        }
        Some(o)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timeline::{Failure, Kind, MILLI};

    fn shuffled(n: u64) -> Vec<Outcome> {
        let mut v: Vec<Outcome> = (0..n)
            .map(|i| {
                let t = (i * 7919 % n) * MILLI / 3;
                let failure = [None, Some(Failure::Status(503)), Some(Failure::Missed)][(i % 3) as usize];
                Outcome::new(
                    t,
                    t + 5,
                    t + 2 * MILLI,
                    if i % 2 == 0 { Kind::Write } else { Kind::Read },
                    failure,
                    i as u32,
                )
            })
            .collect();
        v.push(v[10]);
        v
    }

    #[test]
    fn a_long_recording_reuses_at_most_three_buffers() {
        let dir = std::env::temp_dir().join(format!("hadrill-outcomes-reuse-{}", std::process::id()));
        let all = shuffled(50_000);
        let mut rec = Recorder::new(&dir, 1000);
        for o in &all {
            rec.push(*o);
        }
        assert!(rec.buffers_allocated() <= 3, "{} buffers for 50 spills", rec.buffers_allocated());
        let out = rec.finish().unwrap();
        assert_eq!((out.len(), out.spilled_runs()), (all.len() as u64, 50));
        let mut want = all;
        want.sort_unstable_by_key(Outcome::order);
        assert!(out.iter().eq(want.into_iter()), "every outcome once, in order, from reused buffers");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn runs_spilled_and_merged_read_back_as_one_sorted_recording() {
        let dir = std::env::temp_dir().join(format!("hadrill-outcomes-test-{}", std::process::id()));
        let all = shuffled(10_007);
        let mut rec = Recorder::new(&dir, 1000);
        let (a, b) = all.split_at(4000);
        for o in a {
            rec.push(*o);
        }
        rec.append(&mut b.to_vec());
        let spilled = rec.finish().unwrap();
        assert_eq!((spilled.len(), spilled.spilled_runs(), spilled.max_seq()), (10_008, 10, 10_006));
        let memory = Outcomes::from(all);
        assert_eq!(memory.spilled_runs(), 0);
        let (x, y): (Vec<Outcome>, Vec<Outcome>) = (spilled.iter().collect(), memory.iter().collect());
        assert_eq!(x, y);
        assert!(x.windows(2).all(|w| w[0].order() <= w[1].order()));
        let mut second = spilled.iter();
        second.nth(5000);
        assert_eq!(second.clone().collect::<Vec<_>>(), y[5001..], "a clone goes on from where it was");
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0, "the spill file is unlinked");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn an_unwritable_folder_is_an_error_naming_it() {
        let mut rec = Recorder::new(Path::new("/proc/hadrill-cannot-write-here"), 2);
        for i in 0..10 {
            rec.push(Outcome::new(i, i, i, Kind::Read, None, 0));
        }
        let e = rec.finish().unwrap_err().to_string();
        assert!(e.contains("/proc/hadrill-cannot-write-here"), "{e}");
    }

    #[test]
    fn every_field_survives_the_file() {
        for f in [
            None,
            Some(Failure::Status(599)),
            Some(Failure::Tls),
            Some(Failure::Transport),
            Some(Failure::Rejected),
        ] {
            let o = Outcome::new(u64::MAX - 5, u64::MAX - 3, u64::MAX, Kind::Write, f, (1 << 31) - 1);
            assert_eq!(Outcome::from_bytes(&o.to_bytes()), o);
        }
    }
}
