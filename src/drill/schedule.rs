//! Playing the scenario's faults and steps at their offsets from the start of the load, each with its revert at
//! the end of its duration. The tasks live in a `JoinSet` under a child of the drill's token, so every one of
//! them dies with the drill: cancelled, they stop waiting (a fault not yet due never fires, a revert not yet due
//! runs now); dropped (the body panicked), they are aborted. [`guarded`] is the other half: it runs the drill
//! body in a task and, however the body ends, runs every revert still pending.

use std::future::Future;
use std::sync::{Arc, Mutex};

use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::console::{Event, Reporter};
use crate::error::{Error, Result};
use crate::fault::Injector;
use crate::scenario::model::Planned;
use crate::timeline::{ActionEvent, Clock, Nanos};

/// The actions being played.
pub struct Schedule<I: Injector> {
    injector: Arc<I>,
    tasks: JoinSet<()>,
    stop: CancellationToken,
    played: Arc<Mutex<Vec<ActionEvent>>>,
}

impl<I: Injector> Schedule<I> {
    /// Starts playing `actions` on `clock` (offset 0 is the clock's start), until `drill` is cancelled or
    /// [`Schedule::finish`].
    pub fn start(
        injector: Arc<I>,
        actions: &[Planned],
        clock: Clock,
        drill: &CancellationToken,
        console: &Reporter,
    ) -> Schedule<I> {
        let stop = drill.child_token();
        let played: Arc<Mutex<Vec<ActionEvent>>> = Arc::default();
        let mut tasks = JoinSet::new();
        for p in actions {
            let play = Play {
                injector: injector.clone(),
                planned: p.clone(),
                clock,
                stop: stop.clone(),
                played: played.clone(),
                console: console.clone(),
            };
            tasks.spawn(play.run());
        }
        Schedule { injector, tasks, stop, played }
    }

    /// Ends the schedule: an action not yet due never runs, a revert not yet due runs now, and so does every
    /// revert still pending. Returns what was applied, in scenario order.
    pub async fn finish(mut self) -> Vec<ActionEvent> {
        self.stop.cancel();
        while let Some(joined) = self.tasks.join_next().await {
            if let Err(e) = joined {
                if e.is_panic() {
                    std::panic::resume_unwind(e.into_panic());
                }
            }
        }
        self.injector.revert_all().await;
        let mut played = std::mem::take(&mut *self.played.lock().expect("schedule lock"));
        played.sort_by_key(|a| a.index);
        played
    }
}

/// One action's task.
struct Play<I> {
    injector: Arc<I>,
    planned: Planned,
    clock: Clock,
    stop: CancellationToken,
    played: Arc<Mutex<Vec<ActionEvent>>>,
    console: Reporter,
}

impl<I: Injector> Play<I> {
    async fn run(self) {
        let p = &self.planned;
        tokio::select! {
            biased;
            _ = self.stop.cancelled() => return,
            _ = tokio::time::sleep_until(self.due(p.at)) => {}
        }
        let applied = self.injector.apply(p).await;
        let summary = applied.summary.clone();
        self.console.send(Event::Applied(applied.clone()));
        self.played.lock().expect("schedule lock").push(applied);
        let Some(end) = p.ends_at() else { return };
        tokio::select! {
            _ = self.stop.cancelled() => {}
            _ = tokio::time::sleep_until(self.due(end)) => {}
        }
        self.injector.revert(p.index).await;
        let at = self.clock.at(Instant::now().into_std());
        self.console.send(Event::Reverted { summary, at });
    }

    fn due(&self, offset: std::time::Duration) -> Instant {
        Instant::from_std(self.clock.instant(offset.as_nanos() as Nanos))
    }
}

/// Runs `body` in a task of its own; whatever it returns, or if it panics, `token` is cancelled (so nothing
/// the body started outlives it) and `cleanup` (every revert still pending) runs before this returns.
pub async fn guarded<T: Send + 'static>(
    body: impl Future<Output = Result<T>> + Send + 'static,
    token: &CancellationToken,
    cleanup: impl Future<Output = ()>,
) -> Result<T> {
    let joined = tokio::spawn(body).await;
    token.cancel();
    cleanup.await;
    joined.map_err(|e| Error::Crashed(e.to_string()))?
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::time::Duration;

    use super::*;
    use crate::scenario::model::{Action, Pick, Target};
    use crate::timeline::ActionRole;

    /// Records when (in paused tokio time since its creation) each action was applied and reverted.
    struct Fake {
        origin: Instant,
        applied: Mutex<BTreeMap<usize, Duration>>,
        reverted: Mutex<BTreeMap<usize, Duration>>,
        /// How long a revert takes.
        revert_takes: Duration,
    }

    impl Fake {
        fn new(revert_takes: Duration) -> Arc<Fake> {
            Arc::new(Fake {
                origin: Instant::now(),
                applied: Mutex::default(),
                reverted: Mutex::default(),
                revert_takes,
            })
        }
        /// Paused time still moves by the timer wheel's millisecond steps: to the nearest 100 ms.
        fn now(&self) -> Duration {
            Duration::from_millis((self.origin.elapsed().as_millis() as u64 + 50) / 100 * 100)
        }
        fn applied(&self) -> BTreeMap<usize, Duration> {
            self.applied.lock().unwrap().clone()
        }
        fn reverted(&self) -> BTreeMap<usize, Duration> {
            self.reverted.lock().unwrap().clone()
        }
    }

    impl Injector for Fake {
        async fn apply(&self, p: &Planned) -> ActionEvent {
            self.applied.lock().unwrap().insert(p.index, self.now());
            ActionEvent {
                role: p.role,
                summary: format!("action {}", p.index),
                ..ActionEvent::test(p.index, p.action.name(), p.at.as_nanos() as Nanos)
            }
        }
        async fn revert(&self, index: usize) {
            let applied = self.applied.lock().unwrap().contains_key(&index);
            let done = self.reverted.lock().unwrap().contains_key(&index);
            if applied && !done {
                tokio::time::sleep(self.revert_takes).await;
                self.reverted.lock().unwrap().insert(index, self.now());
            }
        }
        async fn revert_all(&self) {
            let applied: Vec<usize> = self.applied.lock().unwrap().keys().copied().collect();
            for i in applied {
                self.revert(i).await;
            }
        }
    }

    fn pause(index: usize, at_s: u64, for_s: u64) -> Planned {
        Planned {
            index,
            role: ActionRole::Fault,
            at: Duration::from_secs(at_s),
            action: Action::Pause,
            target: Target { services: vec!["app1".into()], pick: Pick::All },
            duration: Some(Duration::from_secs(for_s)),
            place: (1, 1),
        }
    }

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    /// A fake whose reverts take `revert_takes`, and a schedule of `actions` on it under `token`.
    fn started(
        revert_takes: Duration,
        actions: &[Planned],
        token: &CancellationToken,
    ) -> (Arc<Fake>, Schedule<Fake>) {
        let fake = Fake::new(revert_takes);
        let s = Schedule::start(fake.clone(), actions, Clock::start(), token, &Reporter::silent());
        (fake, s)
    }

    #[tokio::test(start_paused = true)]
    async fn faults_fire_at_their_offsets_and_revert_at_their_ends() {
        let token = CancellationToken::new();
        let (fake, s) = started(Duration::ZERO, &[pause(0, 2, 3), pause(1, 4, 1)], &token);
        tokio::time::sleep(secs(10)).await;
        let played = s.finish().await;
        assert_eq!(played.iter().map(|a| a.index).collect::<Vec<_>>(), [0, 1]);
        assert_eq!(fake.applied(), BTreeMap::from([(0, secs(2)), (1, secs(4))]));
        assert_eq!(fake.reverted(), BTreeMap::from([(0, secs(5)), (1, secs(5))]));
    }

    #[tokio::test(start_paused = true)]
    async fn a_revert_due_after_the_load_runs_when_the_load_ends() {
        let token = CancellationToken::new();
        let (fake, s) = started(Duration::ZERO, &[pause(0, 1, 60), pause(1, 20, 1)], &token);
        tokio::time::sleep(secs(5)).await;
        s.finish().await;
        assert_eq!(fake.applied(), BTreeMap::from([(0, secs(1))]), "the fault due at 20s never fires");
        assert_eq!(fake.reverted(), BTreeMap::from([(0, secs(5))]), "reverted at the load's end, not at 61s");
        tokio::time::sleep(secs(120)).await;
        assert_eq!(fake.applied().len(), 1, "nothing fires after the schedule finished");
    }

    #[tokio::test(start_paused = true)]
    async fn a_cancel_during_a_pending_revert_reverts_now_and_fires_nothing_more() {
        let drill = CancellationToken::new();
        let (fake, s) = started(secs(2), &[pause(0, 1, 30), pause(1, 10, 5)], &drill);
        tokio::time::sleep(secs(3)).await;
        drill.cancel();
        tokio::time::sleep(secs(1)).await;
        assert!(fake.reverted().is_empty(), "the revert takes 2s, and is under way");
        tokio::time::sleep(secs(40)).await;
        assert_eq!(fake.reverted(), BTreeMap::from([(0, secs(5))]), "reverted from the cancel, not at 31s");
        assert_eq!(fake.applied().len(), 1, "the fault due at 10s never fires after the cancel");
        s.finish().await;
        assert_eq!(fake.reverted().len(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_panic_in_the_body_reverts_what_was_applied_and_fires_nothing_later() {
        let fake = Fake::new(Duration::ZERO);
        let token = CancellationToken::new();
        let (f, t) = (fake.clone(), token.clone());
        let body = async move {
            let _schedule = Schedule::start(
                f,
                &[pause(0, 1, 30), pause(1, 5, 1)],
                Clock::start(),
                &t,
                &Reporter::silent(),
            );
            tokio::time::sleep(secs(2)).await;
            panic!("the body fails");
        };
        let result: Result<()> = guarded(body, &token, fake.revert_all()).await;
        assert!(matches!(result, Err(Error::Crashed(ref m)) if m.contains("panic")), "{result:?}");
        assert_eq!(fake.reverted(), BTreeMap::from([(0, secs(2))]), "reverted by the guard at once");
        tokio::time::sleep(secs(60)).await;
        assert_eq!(fake.applied(), BTreeMap::from([(0, secs(1))]), "the fault due at 5s never fires");
        assert!(token.is_cancelled());
    }

    #[tokio::test(start_paused = true)]
    async fn a_dropped_schedule_fires_nothing_even_with_its_token_alive() {
        let token = CancellationToken::new();
        let (fake, s) = started(Duration::ZERO, &[pause(0, 1, 30), pause(1, 5, 1)], &token);
        tokio::time::sleep(secs(2)).await;
        drop(s);
        tokio::time::sleep(secs(60)).await;
        assert_eq!(fake.applied(), BTreeMap::from([(0, secs(1))]), "the fault due at 5s never fires");
        assert!(fake.reverted().is_empty(), "aborted tasks revert nothing: the guard's cleanup does");
        assert!(!token.is_cancelled());
    }
}
