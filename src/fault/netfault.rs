//! Network faults the way Pumba does them: a helper container joins the target's network namespace
//! (`--network container:<id>`, NET_ADMIN) and changes the network there, so the target needs no tools and no
//! capabilities of its own.
//!
//! - `partition`: iptables DROP of every packet to and from the peers' addresses;
//! - `loss`: iptables DROP with `-m statistic --mode random`, each packet in each direction with the given
//!   probability (to and from the peers, or all but loopback traffic). iptables rather than netem so that the
//!   fault means the same on every kernel, including those without `sch_netem`;
//! - `delay`: tc netem on every interface's egress (needs `sch_netem`; a drill that asks for it on a kernel
//!   without it stops before the stack comes up, see [`kernel_features`]
//!   and [`refuse_unsupported`]);
//! - `throttle`: tc tbf on every interface's egress (a bandwidth limit).
//!
//! iptables rules live in a chain of their own (`HADRILL`) so the revert removes exactly them; tc faults own the
//! interfaces' root qdisc. Verification reads counters: packets dropped by the rules, or sent through the qdisc.

use std::process::Stdio;
use std::time::Duration;

use bollard::query_parameters::InspectContainerOptions;
use bollard::Docker;

use super::exec;
use super::helper::{self, Share, HELPER_IMAGE};
use crate::docker::labels;
use crate::error::{Error, Result};
use crate::scenario::model::Action;
use crate::scenario::Scenario;

const CHAIN: &str = "HADRILL";

/// What to do to a target's network, with the peers already turned into addresses.
#[derive(Debug, Clone, PartialEq)]
pub enum NetFault {
    /// Drop every packet to and from these addresses.
    Partition { peers: Vec<String> },
    /// Drop each packet with probability `percent / 100`, to and from `peers` (all but loopback when empty).
    Loss { percent: f64, peers: Vec<String> },
    /// Delay every packet leaving the target by `latency` ± `jitter` (netem).
    Delay { latency: Duration, jitter: Duration },
    /// Limit what leaves the target to `kbit` kilobits per second (tbf).
    Throttle { kbit: u64 },
}

/// The shell loop over the namespace's interfaces but loopback.
const EACH_DEV: &str =
    "for d in $(ip -o link show | awk -F': ' '{print $2}' | cut -d@ -f1 | grep -v '^lo$'); do";

impl NetFault {
    fn uses_tc(&self) -> bool {
        matches!(self, NetFault::Delay { .. } | NetFault::Throttle { .. })
    }

    /// The shell script that installs the fault.
    pub fn install_script(&self) -> String {
        let chain = || {
            format!("set -e; iptables -N {CHAIN}; iptables -I INPUT 1 -j {CHAIN}; iptables -I OUTPUT 1 -j {CHAIN};")
        };
        match self {
            NetFault::Partition { peers } => {
                let mut s = chain();
                for ip in peers {
                    s.push_str(&format!(
                        " iptables -A {CHAIN} -s {ip} -j DROP; iptables -A {CHAIN} -d {ip} -j DROP;"
                    ));
                }
                s
            }
            NetFault::Loss { percent, peers } => {
                let mut s = chain();
                let random =
                    format!("-m statistic --mode random --probability {:.6} -j DROP", percent / 100.0);
                if peers.is_empty() {
                    s.push_str(&format!(" iptables -A {CHAIN} ! -s 127.0.0.0/8 {random};"));
                }
                for ip in peers {
                    s.push_str(&format!(
                        " iptables -A {CHAIN} -s {ip} {random}; iptables -A {CHAIN} -d {ip} {random};"
                    ));
                }
                s
            }
            NetFault::Delay { latency, jitter } => {
                let jitter =
                    if jitter.is_zero() { String::new() } else { format!(" {}us", jitter.as_micros()) };
                format!(
                    "set -e; {EACH_DEV} tc qdisc add dev $d root netem delay {}us{jitter}; done",
                    latency.as_micros()
                )
            }
            NetFault::Throttle { kbit } => {
                // A bucket of at least one MTU-sized burst and 1/50 s of the rate; packets wait up to 1 s.
                let burst = (kbit * 1000 / 8 / 50).max(1600);
                format!("set -e; {EACH_DEV} tc qdisc add dev $d root tbf rate {kbit}kbit burst {burst} latency 1s; done")
            }
        }
    }

    /// The shell script that removes it (tolerant: each step may already be undone); exits 0 only when
    /// nothing of the fault is left.
    pub fn remove_script(&self) -> String {
        if self.uses_tc() {
            format!(
                "{EACH_DEV} tc qdisc del dev $d root 2>/dev/null; done; \
                 ! tc qdisc show 2>/dev/null | grep -Eq 'qdisc (netem|tbf)'"
            )
        } else {
            format!(
                "iptables -D INPUT -j {CHAIN} 2>/dev/null; iptables -D OUTPUT -j {CHAIN} 2>/dev/null; \
                 iptables -F {CHAIN} 2>/dev/null; iptables -X {CHAIN} 2>/dev/null; \
                 ! iptables -S 2>/dev/null | grep -q {CHAIN}"
            )
        }
    }

    /// The command whose output [`NetFault::affected`] reads.
    fn counters_command(&self) -> Vec<String> {
        let words: &[&str] = if self.uses_tc() {
            &["tc", "-s", "qdisc", "show"]
        } else {
            &["iptables", "-L", CHAIN, "-v", "-n", "-x"]
        };
        words.iter().map(|s| s.to_string()).collect()
    }

    /// Packets the fault has acted on so far, from the counters command's output: dropped by the rules, or
    /// sent through the netem/tbf qdiscs.
    pub fn affected(&self, listing: &str) -> u64 {
        if self.uses_tc() {
            queued_packets(listing)
        } else {
            dropped_packets(listing)
        }
    }

    /// What was installed, in words, for the report.
    pub fn describe(&self) -> String {
        match self {
            NetFault::Partition { peers } => format!("DROP rules for {} addresses", peers.len()),
            NetFault::Loss { percent, peers } if peers.is_empty() => {
                format!("{percent}% random DROP (iptables statistic) on all but loopback")
            }
            NetFault::Loss { percent, peers } => {
                format!("{percent}% random DROP (iptables statistic) for {} addresses", peers.len())
            }
            NetFault::Delay { .. } => "netem on every interface".to_string(),
            NetFault::Throttle { .. } => "tbf on every interface".to_string(),
        }
    }

    /// What the verification found, in words.
    pub fn effect_words(&self, n: u64) -> &'static str {
        if self.uses_tc() {
            if n > 0 {
                "packets sent through it"
            } else {
                "no packet through it"
            }
        } else if n > 0 {
            "packets dropped"
        } else {
            "no packet dropped"
        }
    }
}

/// Sum of the packet counters of the chain's DROP rules, from `iptables -L CHAIN -v -n -x` output.
pub fn dropped_packets(listing: &str) -> u64 {
    listing
        .lines()
        .filter(|l| l.contains("DROP"))
        .filter_map(|l| l.split_whitespace().next()?.parse::<u64>().ok())
        .sum()
}

/// Packets sent through netem and tbf qdiscs, from `tc -s qdisc show` output (the ` Sent N bytes M pkt` line
/// under each qdisc line).
pub fn queued_packets(listing: &str) -> u64 {
    let mut ours = false;
    let mut total = 0;
    for line in listing.lines() {
        if line.starts_with("qdisc ") {
            ours = line.starts_with("qdisc netem ") || line.starts_with("qdisc tbf ");
        } else if ours {
            let words: Vec<&str> = line.split_whitespace().collect();
            if let Some(i) = words.iter().position(|w| *w == "pkt" || w.starts_with("pkt")) {
                if words.first() == Some(&"Sent") && i > 0 {
                    total += words[i - 1].parse::<u64>().unwrap_or(0);
                    ours = false;
                }
            }
        }
    }
    total
}

/// A network fault in place: the helper container sharing the target's namespace.
#[derive(Debug, Clone)]
pub struct Installed {
    pub helper_id: String,
    pub target: String,
    pub fault: NetFault,
}

/// The IPv4 addresses of a container on all its networks.
pub async fn addresses(docker: &Docker, container_id: &str) -> Result<Vec<String>> {
    let i = docker
        .inspect_container(container_id, None::<InspectContainerOptions>)
        .await
        .map_err(|e| Error::docker(format!("inspect {container_id}"), e))?;
    Ok(i.network_settings
        .and_then(|n| n.networks)
        .map(|nets| nets.values().filter_map(|e| e.ip_address.clone()).filter(|ip| !ip.is_empty()).collect())
        .unwrap_or_default())
}

/// Starts the helper in `target`'s network namespace and installs `fault` there.
pub async fn apply(
    docker: &Docker,
    project: &str,
    target_id: &str,
    target: &str,
    fault: NetFault,
) -> Result<Installed> {
    let helper_id = helper::start(docker, project, target_id, target, Share::Network, "netfault").await?;
    let installed = Installed { helper_id, target: target.to_string(), fault };
    match helper::sh(docker, &installed.helper_id, installed.fault.install_script()).await {
        Ok(o) if o.exit_code == 0 => Ok(installed),
        Ok(o) => {
            let _ = revert(docker, &installed).await;
            Err(Error::Other(format!("network fault in {target}'s namespace failed: {}", o.output.trim())))
        }
        Err(e) => {
            let _ = revert(docker, &installed).await;
            Err(e)
        }
    }
}

/// Packets the fault has acted on so far.
pub async fn affected(docker: &Docker, installed: &Installed) -> Result<u64> {
    let out = exec::run(docker, &installed.helper_id, &installed.fault.counters_command(), None, &[]).await?;
    Ok(installed.fault.affected(&out.output))
}

/// Removes the fault, then the helper. Returns whether the fault is confirmed gone.
pub async fn revert(docker: &Docker, installed: &Installed) -> Result<bool> {
    let gone = helper::sh(docker, &installed.helper_id, installed.fault.remove_script())
        .await
        .map(|o| o.exit_code == 0);
    helper::remove(docker, &installed.helper_id).await;
    gone
}

/// What the kernel lets a helper container do to a network namespace.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KernelFeatures {
    pub iptables: bool,
    pub statistic: bool,
    pub netem: bool,
    pub tbf: bool,
}

/// One kernel feature that network faults need: `doctor` shows each, a drill refuses a fault that lacks one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capability {
    pub name: &'static str,
    pub present: bool,
    /// What a fault needs, in words (`tc netem`).
    pub needs: &'static str,
    /// What it gives, when present.
    pub gives: &'static str,
    /// What its absence means and what to do.
    pub missing: &'static str,
}

impl KernelFeatures {
    pub fn capabilities(&self) -> [Capability; 4] {
        [
            Capability {
                name: "iptables",
                present: self.iptables,
                needs: "iptables",
                gives: "works in a helper container (partition faults)",
                missing:
                    "iptables does not work in a container on this machine: partition and loss faults are \
                          unavailable",
            },
            Capability {
                name: "iptables random",
                present: self.iptables && self.statistic,
                needs: "iptables with -m statistic",
                gives: "iptables -m statistic works (loss faults)",
                missing:
                    "iptables -m statistic does not work in a container on this machine: loss faults are \
                          unavailable",
            },
            Capability {
                name: "netem",
                present: self.netem,
                needs: "tc netem",
                gives: "tc netem available (delay faults)",
                missing:
                    "this kernel has no sch_netem module (load it with `modprobe sch_netem` where the module \
                          exists): delay faults are unavailable; loss and throttle work without it",
            },
            Capability {
                name: "tbf",
                present: self.tbf,
                needs: "tc tbf",
                gives: "tc tbf available (throttle faults)",
                missing:
                    "tc tbf does not work in a container on this machine: throttle faults are unavailable",
            },
        ]
    }

    /// The capability `action` needs and this kernel lacks, if any.
    pub fn lacking_for(&self, action: &Action) -> Option<Capability> {
        let [iptables, statistic, netem, tbf] = self.capabilities();
        let needed = match action {
            Action::Partition { .. } => iptables,
            Action::Loss { .. } => statistic,
            Action::Delay { .. } => netem,
            Action::Throttle { .. } => tbf,
            _ => return None,
        };
        (!needed.present).then_some(needed)
    }
}

/// Whether `action` changes a network namespace (and so depends on the kernel's features).
pub fn is_network(action: &Action) -> bool {
    matches!(
        action,
        Action::Partition { .. } | Action::Loss { .. } | Action::Delay { .. } | Action::Throttle { .. }
    )
}

/// The first network fault of `sc` this kernel cannot do, as an error at the action's place in the file.
pub fn refuse_unsupported(sc: &Scenario, k: &KernelFeatures) -> Result<()> {
    let Some((p, cap)) = sc.actions.iter().find_map(|p| Some((p, k.lacking_for(&p.action)?))) else {
        return Ok(());
    };
    Err(crate::scenario::ScenarioError {
        file: sc.file.clone(),
        line: p.place.0,
        col: p.place.1,
        message: format!(
            "action {:?} needs {}, and {}; `hadrill doctor` lists what works here",
            p.action.name(),
            cap.needs,
            cap.missing
        ),
    }
    .into())
}

/// Probes the kernel from a throwaway helper container in a namespace of its own (needs the helper image).
/// An error when the helper itself could not run: that says nothing about the kernel.
pub async fn kernel_features() -> Result<KernelFeatures> {
    let probe = "iptables -A OUTPUT -d 192.0.2.1 -j DROP >/dev/null 2>&1 && echo iptables=yes; \
                 iptables -A OUTPUT -d 192.0.2.1 -m statistic --mode random --probability 0.5 -j DROP >/dev/null 2>&1 \
                 && echo statistic=yes; \
                 tc qdisc add dev eth0 root netem delay 1ms >/dev/null 2>&1 && echo netem=yes; \
                 tc qdisc del dev eth0 root >/dev/null 2>&1; \
                 tc qdisc add dev eth0 root tbf rate 1mbit burst 32kbit latency 400ms >/dev/null 2>&1 && echo tbf=yes; \
                 echo probed=yes";
    let out = tokio::process::Command::new("docker")
        .args(["run", "--rm", "--cap-add", "NET_ADMIN", "--label"])
        .arg(format!("{}=doctor", labels::HELPER_FOR))
        .args([HELPER_IMAGE, "sh", "-c", probe])
        .stdin(Stdio::null())
        .output()
        .await
        .map_err(|e| Error::KernelProbe(format!("cannot run docker: {e}")))?;
    let text = String::from_utf8_lossy(&out.stdout);
    features_from(&text).ok_or_else(|| {
        Error::KernelProbe(format!(
            "the helper container ({HELPER_IMAGE}) did not run the probe ({}): {}",
            out.status,
            crate::stack::compose::tail_lines(&String::from_utf8_lossy(&out.stderr), 5).trim()
        ))
    })
}

/// The features the probe script printed; `None` when it did not run to its end.
fn features_from(probe_output: &str) -> Option<KernelFeatures> {
    let has = |k: &str| probe_output.lines().any(|l| l.trim() == format!("{k}=yes"));
    has("probed").then(|| KernelFeatures {
        iptables: has("iptables"),
        statistic: has("statistic"),
        netem: has("netem"),
        tbf: has("tbf"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_rules_cover_both_directions_in_their_own_chain() {
        let f = NetFault::Partition { peers: vec!["172.20.0.5".into(), "172.21.0.3".into()] };
        let s = f.install_script();
        assert!(s.contains("iptables -N HADRILL"));
        assert!(s.contains("-s 172.20.0.5 -j DROP") && s.contains("-d 172.20.0.5 -j DROP"));
        assert!(s.contains("-d 172.21.0.3 -j DROP"));
        assert!(f.remove_script().contains("iptables -X HADRILL"));
    }

    #[test]
    fn loss_drops_at_random_to_peers_or_everything_but_loopback() {
        let f = NetFault::Loss { percent: 30.0, peers: vec!["172.20.0.5".into()] };
        let s = f.install_script();
        assert!(s.contains("-s 172.20.0.5 -m statistic --mode random --probability 0.300000 -j DROP"), "{s}");
        assert!(s.contains("-d 172.20.0.5 -m statistic --mode random --probability 0.300000 -j DROP"), "{s}");
        let all = NetFault::Loss { percent: 2.5, peers: vec![] }.install_script();
        assert!(
            all.contains("! -s 127.0.0.0/8 -m statistic --mode random --probability 0.025000 -j DROP"),
            "{all}"
        );
        assert!(f.remove_script().contains("iptables -X HADRILL"));
    }

    #[test]
    fn delay_and_throttle_use_tc_on_every_interface() {
        let d = NetFault::Delay { latency: Duration::from_millis(200), jitter: Duration::from_millis(20) };
        assert!(d.install_script().contains("tc qdisc add dev $d root netem delay 200000us 20000us"));
        let d0 = NetFault::Delay { latency: Duration::from_millis(50), jitter: Duration::ZERO };
        assert!(d0.install_script().ends_with("netem delay 50000us; done"), "{}", d0.install_script());
        let t = NetFault::Throttle { kbit: 1000 };
        assert!(t.install_script().contains("tbf rate 1000kbit burst 2500 latency 1s"));
        assert!(NetFault::Throttle { kbit: 8 }.install_script().contains("burst 1600 "));
        assert!(t.remove_script().contains("tc qdisc del dev $d root"));
        assert!(t.counters_command().join(" ") == "tc -s qdisc show");
    }

    #[test]
    fn counts_dropped_packets() {
        let listing = "Chain HADRILL (2 references)\n    pkts      bytes target     prot opt in     out     source               destination\n      12      720 DROP       all  --  *      *       172.20.0.5           0.0.0.0/0\n       3      180 DROP       all  --  *      *       0.0.0.0/0            172.20.0.5\n";
        assert_eq!(dropped_packets(listing), 15);
        assert_eq!(dropped_packets("Chain HADRILL (2 references)\n"), 0);
    }

    #[test]
    fn counts_packets_through_netem_and_tbf_only() {
        let listing = "qdisc noqueue 0: dev lo root refcnt 2 \n Sent 0 bytes 0 pkt (dropped 0, overlimits 0 requeues 0) \n backlog 0b 0p requeues 0\n\
qdisc netem 8001: dev eth0 root refcnt 2 limit 1000 delay 200ms  20ms\n Sent 4242 bytes 37 pkt (dropped 0, overlimits 0 requeues 0) \n backlog 0b 0p requeues 0\n\
qdisc tbf 8002: dev eth1 root refcnt 2 rate 1Mbit burst 2500b lat 1s \n Sent 100 bytes 5 pkt (dropped 0, overlimits 0 requeues 0) \n";
        assert_eq!(queued_packets(listing), 42);
        let d = NetFault::Delay { latency: Duration::from_millis(1), jitter: Duration::ZERO };
        assert_eq!(d.affected(listing), 42);
        assert_eq!(queued_packets("qdisc noqueue 0: dev eth0 root\n Sent 99 bytes 9 pkt\n"), 0);
    }

    #[test]
    fn a_probe_that_did_not_run_is_not_a_kernel_without_features() {
        assert_eq!(features_from(""), None, "the helper could not start: no verdict on the kernel");
        let k = features_from("iptables=yes\nstatistic=yes\ntbf=yes\nprobed=yes\n").unwrap();
        assert_eq!(k, KernelFeatures { iptables: true, statistic: true, netem: false, tbf: true });
        assert_eq!(features_from("probed=yes\n"), Some(KernelFeatures::default()));
    }

    #[test]
    fn each_network_fault_names_the_capability_it_lacks() {
        let no_netem = KernelFeatures { iptables: true, statistic: true, netem: false, tbf: true };
        let delay = Action::Delay { latency: Duration::from_millis(5), jitter: Duration::ZERO };
        assert!(no_netem.lacking_for(&delay).unwrap().missing.contains("sch_netem"));
        assert_eq!(no_netem.lacking_for(&Action::Throttle { kbit: 8 }), None);
        assert_eq!(no_netem.lacking_for(&Action::Pause), None);
        let no_statistic = KernelFeatures { statistic: false, ..no_netem };
        let loss = Action::Loss { percent: 5.0, peers: vec![] };
        assert_eq!(no_statistic.lacking_for(&loss).unwrap().needs, "iptables with -m statistic");
        assert_eq!(no_statistic.lacking_for(&Action::Partition { peers: vec![] }), None);
        assert!(is_network(&loss) && !is_network(&Action::Pause));
    }
}
