//! What a scenario file says, as plain validated data: the stack, the client load, the faults and operator
//! steps on a schedule, how recovery is judged, and the expectations that gate a release.

use std::path::PathBuf;
use std::time::Duration;

use crate::timeline::ActionRole;

/// A validated scenario.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// The file it came from.
    pub file: PathBuf,
    pub name: String,
    pub description: String,
    /// The stack argument (bundled name, or a path resolved against the scenario's folder).
    pub stack: String,
    /// Length of the load phase; every fault happens inside it.
    pub duration: Duration,
    /// Seed for random choices (which instance `pick = "one"` takes); random when the file has none.
    pub seed: Option<u64>,
    /// Cycles of the drill (`repeat = N`; `--repeat` overrides it); one when unset.
    pub repeat: Option<u32>,
    /// `reuse_stack = true` (`--reuse-stack`): the cycles of a repeated drill share one stack.
    pub reuse_stack: bool,
    /// The quiet period between the cycles on a reused stack (`settle`, 10 s by default), after every fault
    /// was reverted and every service is healthy again.
    pub settle: Duration,
    pub load: Load,
    /// How recovery is judged (`[measure]`).
    pub measure: crate::measure::Params,
    /// Faults and steps in file order.
    pub actions: Vec<Planned>,
    /// The limits that gate a release (`[expect]`).
    pub expect: crate::measure::expect::Expectations,
    /// What the scenario says about its stack (observers, profiles, env file); see [`Scenario::stack_spec`].
    pub overrides: super::overrides::StackOverrides,
    /// `orchestrator = "swarm"`: deploy with `docker stack deploy`; `None` takes the stack's `x-hadrill`
    /// word, else Compose.
    pub orchestrator: Option<crate::swarm::Orchestrator>,
    /// `[nodes]`: each swarm node's Docker endpoint, for faults on the task containers it runs.
    pub nodes: Vec<crate::swarm::endpoint::NodeSpec>,
}

/// Which client the load drives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Probe {
    /// The stack's HTTP endpoint (the demo service's key-value API).
    Http,
    /// PostgreSQL directly: the writable node among the stack's `observe.postgres` nodes.
    Postgres,
    /// Redis: the master the stack's `observe.sentinel` Sentinels name.
    Redis,
}

/// Client load: an open model at a fixed arrival rate.
#[derive(Debug, Clone)]
pub struct Load {
    pub probe: Probe,
    /// Requests per second, sent on schedule whatever the server does.
    pub rate: u32,
    /// Fraction of requests that are reads (the rest are sequence-numbered writes).
    pub read_ratio: f64,
    /// A request slower than this is a timeout.
    pub timeout: Duration,
    /// Cap on requests in flight; sends beyond it are counted as missed.
    pub max_in_flight: usize,
    /// `service:port` of the HTTP endpoint; `None` means the stack's `x-hadrill.http`.
    pub target: Option<String>,
    /// `https://` and its TLS options, the `Host` override.
    pub client: super::tls::LoadClient,
    /// Pause between the end of the load and the read-back of written keys.
    pub settle: Duration,
    /// How long the read-back may go without progress before RPO is declared unknown: a single read (SQL,
    /// one list GET, a probe's own) is retried until it has passed; a read in steps (the bulk read's pages, one
    /// GET per key) resumes where a failed step left off, and only a stall this long ends it.
    pub verify_timeout: Duration,
    /// The scenario's own requests (`[[load.request]]`, `[verify]`); `None`: the probe's own.
    pub workload: Option<std::sync::Arc<super::workload::Workload>>,
}

/// Which containers an action hits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Compose service names.
    pub services: Vec<String>,
    pub pick: Pick,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pick {
    /// Every container of the listed services.
    All,
    /// One container chosen at random (seeded) among them.
    One,
    /// The PostgreSQL node not in recovery, asked when the action starts (see `fault::targets`).
    Primary,
    /// The Patroni leader.
    Leader,
    /// The Redis master the Sentinels name.
    Master,
    /// Every container where this command exits 0.
    Where(Vec<String>),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Send a signal (default SIGKILL). With a duration, the container is started again after it.
    Kill {
        signal: String,
    },
    /// Graceful stop with a timeout before SIGKILL. With a duration, started again after it.
    Stop {
        timeout: Duration,
    },
    Restart {
        timeout: Duration,
    },
    /// Freeze (cgroup freezer) for the duration, then unpause.
    Pause,
    /// Detach from a stack network for the duration, then reconnect with the same aliases.
    Disconnect {
        network: String,
    },
    /// Drop all packets between the target and the peers' containers for the duration (iptables inside the
    /// target's network namespace, from a helper container).
    Partition {
        peers: Vec<String>,
    },
    /// Drop each packet to and from the peers (every packet but loopback when `peers` is empty) with
    /// probability `percent / 100`, in each direction, for the duration (iptables `-m statistic`).
    Loss {
        percent: f64,
        peers: Vec<String>,
    },
    /// Delay every packet the target sends by `latency` ± `jitter` for the duration (tc netem).
    Delay {
        latency: Duration,
        jitter: Duration,
    },
    /// Limit what the target sends to `kbit` kilobits per second for the duration (tc tbf).
    Throttle {
        kbit: u64,
    },
    /// Fill the filesystem of `path` in the target (one file, deleted at the revert): `size` bytes, or what
    /// leaves `free` bytes available; never more than `max_fill`.
    FillDisk {
        path: String,
        amount: Amount,
        max_fill: u64,
    },
    /// Swarm: set the node running the target task to `drain` for the duration, then back to `active`.
    Drain,
    /// Run a command (operator steps such as promoting a replica, or faults of one's own).
    Exec {
        command: Vec<String>,
        user: Option<String>,
    },
    /// Replace the target instances one at a time (`rolling-restart`, or `rolling-update` onto a new image),
    /// each healthy again before the next; see [`Roll`].
    Rolling(Roll),
    /// Change the number of running instances of one service (new ones are copies of its last one; the
    /// highest-numbered go first when scaling down).
    Scale {
        count: u32,
    },
}

/// Whether a rolling replacement stops the old instance before starting the new one, or after.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    StopFirst,
    StartFirst,
}

/// The settings of a `rolling-restart` or `rolling-update`.
#[derive(Debug, Clone, PartialEq)]
pub struct Roll {
    pub order: Order,
    /// Wait between one instance healthy and the next one's replacement.
    pub pause: Duration,
    /// Graceful stop: SIGTERM (the image's stop signal), then SIGKILL after this.
    pub timeout: Duration,
    /// `GET /path`: also wait until this answers 200 inside the new instance (on its first exposed port).
    pub ready: Option<String>,
    /// The new image (`rolling-update`); `None` restarts on the same one.
    pub image: Option<String>,
    /// A Swarm `rolling-update` without an image: the service's `ForceUpdate` counter is raised, so Swarm
    /// replaces every task on the same spec.
    pub force: bool,
    /// Read for a Swarm stack: Swarm rolls as the stack file's `update_config` says (`order` is not hadrill's).
    pub by_swarm: bool,
    /// `override = "compose.candidate.yml"` (`rolling-update`): each instance recreated with the file's
    /// settings for its service.
    pub candidate: Option<super::candidate::Candidate>,
    /// How long an instance may take to become healthy.
    pub healthy_within: Duration,
}

/// How much a `fill-disk` fills.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Amount {
    /// Allocate this many bytes.
    Size(u64),
    /// Allocate what leaves this many bytes available.
    Free(u64),
}

impl Roll {
    /// Whether instances are recreated (a copy of the container) rather than restarted.
    pub fn recreates(&self) -> bool {
        self.image.is_some() || self.candidate.is_some()
    }

    /// What recreating an instance of `service` changes; `None` for a restart.
    pub fn change_for(&self, service: &str) -> Option<super::candidate::Change> {
        if let Some(image) = &self.image {
            return Some(super::candidate::Change::image(image));
        }
        let c = self.candidate.as_ref()?;
        Some(c.services.get(service).cloned().unwrap_or_default())
    }
}

impl Action {
    pub fn name(&self) -> &'static str {
        match self {
            Action::Kill { .. } => "kill",
            Action::Stop { .. } => "stop",
            Action::Restart { .. } => "restart",
            Action::Pause => "pause",
            Action::Disconnect { .. } => "disconnect",
            Action::Partition { .. } => "partition",
            Action::Loss { .. } => "loss",
            Action::Delay { .. } => "delay",
            Action::Throttle { .. } => "throttle",
            Action::FillDisk { .. } => "fill-disk",
            Action::Drain => "drain",
            Action::Exec { .. } => "exec",
            Action::Rolling(r) if r.image.is_some() || r.force => "rolling-update",
            Action::Rolling(r) if r.recreates() => "rolling-update",
            Action::Rolling(_) => "rolling-restart",
            Action::Scale { .. } => "scale",
        }
    }
}

/// A fault or step on the schedule.
#[derive(Debug, Clone)]
pub struct Planned {
    pub index: usize,
    pub role: ActionRole,
    /// Offset from the start of the load.
    pub at: Duration,
    pub action: Action,
    pub target: Target,
    /// How long the fault lasts before its revert (pause, disconnect, partition, loss, delay, throttle,
    /// fill-disk;
    /// optional for kill/stop).
    pub duration: Option<Duration>,
    /// Where the action's `action = ...` value is in the file (line, column), for errors found later, such as
    /// a kernel that lacks what the action needs.
    pub place: (usize, usize),
}

impl Planned {
    /// When the fault is reverted, if it is.
    pub fn ends_at(&self) -> Option<Duration> {
        self.duration.map(|d| self.at + d)
    }
}
