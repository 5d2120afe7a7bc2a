//! Removing what hadrill created: one project's containers, networks and volumes (after `compose down`, as a
//! sweep that works even when Compose cannot), or what carries hadrill's labels and no live hadrill owns
//! (`hadrill clean`; `--all` for everything).
//!
//! Found by labels: `io.hadrill.managed` (from hadrill's override) and, for anything Compose created without
//! it (e.g. a `default` network), a `com.docker.compose.project` value starting with `hadrill-`, the prefix of
//! every project name hadrill makes. An object's owner is its project: the Compose label, or
//! `io.hadrill.helper-for` on fault helpers, or `io.hadrill.reaper-for` on reapers. A project is live while its
//! reaper is held by a hadrill or is still waiting for it or removing the project itself ([`decide`]).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use bollard::query_parameters::{
    ListContainersOptionsBuilder, ListNetworksOptions, ListVolumesOptions, RemoveContainerOptionsBuilder,
};
use bollard::Docker;

use crate::docker::labels;
use crate::error::{Error, Result};
use crate::reaper::State;

/// Prefix of every Compose project name hadrill makes.
pub const PROJECT_PREFIX: &str = "hadrill-";

/// What a sweep removed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Removed {
    /// Swarm services (of stacks deployed with `orchestrator = "swarm"`).
    pub services: usize,
    pub containers: usize,
    pub networks: usize,
    pub volumes: usize,
}

impl Removed {
    pub fn total(&self) -> usize {
        self.services + self.containers + self.networks + self.volumes
    }
}

impl std::ops::Add for Removed {
    type Output = Removed;
    fn add(self, o: Removed) -> Removed {
        Removed {
            services: self.services + o.services,
            containers: self.containers + o.containers,
            networks: self.networks + o.networks,
            volumes: self.volumes + o.volumes,
        }
    }
}

impl std::fmt::Display for Removed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.services > 0 {
            write!(f, "{} swarm services, ", self.services)?;
        }
        write!(f, "{} containers, {} networks, {} volumes", self.containers, self.networks, self.volumes)
    }
}

/// Which objects a sweep takes.
#[derive(Debug, Clone)]
pub enum Scope {
    /// One Compose project, the helper containers hadrill started for it, and its reaper.
    Project(String),
    /// What a reaper removes: the project and its helpers, not the reaper itself.
    Reaped(String),
    /// hadrill's objects whose owner is in the set (`""` for objects without one).
    Owners(BTreeSet<String>),
    /// Everything hadrill ever created on this daemon.
    All,
}

/// The project an object belongs to, from its labels.
fn owner(l: &HashMap<String, String>) -> Option<&str> {
    [labels::COMPOSE_PROJECT, crate::swarm::STACK_NAMESPACE, labels::HELPER_FOR, labels::REAPER_FOR]
        .into_iter()
        .find_map(|k| l.get(k))
        .map(String::as_str)
}

impl Scope {
    pub(crate) fn wants(&self, obj_labels: Option<&HashMap<String, String>>) -> bool {
        let Some(l) = obj_labels else { return false };
        let project =
            l.get(labels::COMPOSE_PROJECT).or(l.get(crate::swarm::STACK_NAMESPACE)).map(String::as_str);
        let helper = l.get(labels::HELPER_FOR).map(String::as_str);
        let reaper = l.get(labels::REAPER_FOR).map(String::as_str);
        let ours = || {
            l.contains_key(labels::MANAGED)
                || helper.is_some()
                || reaper.is_some()
                || project.is_some_and(|p| p.starts_with(PROJECT_PREFIX))
        };
        match self {
            Scope::Project(p) => [project, helper, reaper].contains(&Some(p.as_str())),
            Scope::Reaped(p) => [project, helper].contains(&Some(p.as_str())),
            Scope::Owners(set) => ours() && set.contains(owner(l).unwrap_or("")),
            Scope::All => ours(),
        }
    }
}

fn not_found(e: &bollard::errors::Error) -> bool {
    matches!(e, bollard::errors::Error::DockerResponseServerError { status_code: 404, .. })
}

/// A forced removal that conflicts is one already in progress (an auto-removed reaper or helper that exited).
fn being_removed(e: &bollard::errors::Error) -> bool {
    matches!(e, bollard::errors::Error::DockerResponseServerError { status_code: 409, message }
        if message.contains("already in progress"))
}

/// Removes the containers (at once), then networks, then volumes in scope. Objects that vanish meanwhile are
/// fine; a failure does not stop the rest, and the first one is returned after.
pub async fn sweep(docker: &Docker, scope: &Scope) -> Result<Removed> {
    let mut removed = Removed::default();
    let mut first_err = None;
    let mut note = |r: std::result::Result<(), bollard::errors::Error>, what: String, n: &mut usize| match r {
        Ok(()) => *n += 1,
        Err(e) if not_found(&e) || being_removed(&e) => {}
        Err(e) => {
            first_err.get_or_insert(Error::docker(what, e));
        }
    };
    removed.services = crate::swarm::clean::remove_services(docker, |l| scope.wants(l)).await;
    let opts = ListContainersOptionsBuilder::default().all(true).build();
    let containers =
        docker.list_containers(Some(opts)).await.map_err(|e| Error::docker("list containers", e))?;
    let ids: Vec<String> =
        containers.into_iter().filter(|c| scope.wants(c.labels.as_ref())).filter_map(|c| c.id).collect();
    let results = futures_util::future::join_all(ids.iter().map(|id| {
        let opts = RemoveContainerOptionsBuilder::default().force(true).v(true).build();
        docker.remove_container(id, Some(opts))
    }))
    .await;
    for (id, r) in ids.iter().zip(results) {
        note(r, format!("remove container {id}"), &mut removed.containers);
    }
    let networks = docker
        .list_networks(None::<ListNetworksOptions>)
        .await
        .map_err(|e| Error::docker("list networks", e))?;
    for n in networks.into_iter().filter(|n| scope.wants(n.labels.as_ref())) {
        let Some(name) = n.name else { continue };
        let mut r = docker.remove_network(&name).await;
        // A swarm network stays in use for a moment after its services are gone.
        for _ in 0..20 {
            if removed.services == 0 || r.as_ref().err().is_none_or(not_found) {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
            r = docker.remove_network(&name).await;
        }
        note(r, format!("remove network {name}"), &mut removed.networks);
    }
    let volumes = docker
        .list_volumes(None::<ListVolumesOptions>)
        .await
        .map_err(|e| Error::docker("list volumes", e))?;
    for v in volumes.volumes.unwrap_or_default().into_iter().filter(|v| scope.wants(Some(&v.labels))) {
        let r = docker.remove_volume(&v.name, None::<bollard::query_parameters::RemoveVolumeOptions>).await;
        note(r, format!("remove volume {}", v.name), &mut removed.volumes);
    }
    match first_err {
        Some(e) => Err(e),
        None => Ok(removed),
    }
}

/// One object a sweep would remove, as `hadrill clean --dry-run` prints it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Leftover {
    /// `container`, `network` or `volume`.
    pub kind: &'static str,
    /// The object's name (containers without one are shown by id).
    pub name: String,
    /// The project it belongs to (`""` when no label says).
    pub owner: String,
}

impl std::fmt::Display for Leftover {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.kind, self.name)
    }
}

/// Lists what a sweep of this scope would remove, without removing anything, sorted.
pub async fn list(docker: &Docker, scope: &Scope) -> Result<Vec<Leftover>> {
    let opts = ListContainersOptionsBuilder::default().all(true).build();
    let containers =
        docker.list_containers(Some(opts)).await.map_err(|e| Error::docker("list containers", e))?;
    let networks = docker
        .list_networks(None::<ListNetworksOptions>)
        .await
        .map_err(|e| Error::docker("list networks", e))?;
    let volumes = docker
        .list_volumes(None::<ListVolumesOptions>)
        .await
        .map_err(|e| Error::docker("list volumes", e))?;
    let mut out = Vec::new();
    let owned = |l: Option<&HashMap<String, String>>| l.and_then(owner).unwrap_or("").to_string();
    for (name, l) in crate::swarm::clean::services(docker).await {
        if scope.wants(Some(&l)) {
            out.push(Leftover { kind: "service", name, owner: owned(Some(&l)) });
        }
    }
    for c in containers.into_iter().filter(|c| scope.wants(c.labels.as_ref())) {
        let owner = owned(c.labels.as_ref());
        let name = c.names.and_then(|n| n.into_iter().next()).map(|n| n.trim_start_matches('/').to_owned());
        let Some(name) = name.or(c.id) else { continue };
        out.push(Leftover { kind: "container", name, owner });
    }
    for n in networks.into_iter().filter(|n| scope.wants(n.labels.as_ref())) {
        let owner = owned(n.labels.as_ref());
        let Some(name) = n.name.or(n.id) else { continue };
        out.push(Leftover { kind: "network", name, owner });
    }
    for v in volumes.volumes.unwrap_or_default().into_iter().filter(|v| scope.wants(Some(&v.labels))) {
        let owner = owned(Some(&v.labels));
        out.push(Leftover { kind: "volume", name: v.name, owner });
    }
    out.sort();
    Ok(out)
}

/// Counts what a sweep of this scope would remove.
pub async fn count(docker: &Docker, scope: &Scope) -> Result<Removed> {
    Ok(tally(&list(docker, scope).await?))
}

/// Counts a listing by kind.
pub fn tally(objects: &[Leftover]) -> Removed {
    let n = |k: &str| objects.iter().filter(|o| o.kind == k).count();
    Removed {
        services: n("service"),
        containers: n("container"),
        networks: n("network"),
        volumes: n("volume"),
    }
}

/// What `hadrill clean` learnt of a project's reaper.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Liveness {
    /// No running reaper: a run from before reapers, a crashed one, or a stack kept on purpose.
    NoReaper,
    /// The reaper's answer to `status`.
    Reaper(State),
    /// A running reaper that did not answer.
    Unreachable(String),
}

/// Whether `hadrill clean` removes a project: `Err` is the reason it is spared.
pub fn decide(liveness: &Liveness, all: bool) -> std::result::Result<(), String> {
    if all {
        return Ok(());
    }
    match liveness {
        Liveness::NoReaper | Liveness::Reaper(State::Released) => Ok(()),
        Liveness::Reaper(State::Held) => Err("a running hadrill holds its reaper".into()),
        Liveness::Reaper(State::Waiting) => Err("its reaper just started and waits for its hadrill".into()),
        Liveness::Reaper(State::Reaping) => Err("its reaper is removing it now".into()),
        Liveness::Unreachable(why) => Err(format!("its reaper runs but did not answer ({why})")),
    }
}

/// What `hadrill clean` removes and what it spares, by project.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Plan {
    pub remove: Vec<Leftover>,
    /// Project, why it is spared, its objects.
    pub skipped: Vec<(String, String, Vec<Leftover>)>,
}

impl Plan {
    /// The owners whose objects go (the scope of the sweep that carries the plan out).
    pub fn owners(&self) -> BTreeSet<String> {
        self.remove.iter().map(|o| o.owner.clone()).collect()
    }
}

/// Splits hadrill's objects into what goes and what stays; a project absent from `liveness` has no reaper.
pub fn plan(objects: Vec<Leftover>, liveness: &BTreeMap<String, Liveness>, all: bool) -> Plan {
    let mut by_owner: BTreeMap<String, Vec<Leftover>> = BTreeMap::new();
    for o in objects {
        by_owner.entry(o.owner.clone()).or_default().push(o);
    }
    let mut out = Plan::default();
    for (owner, objects) in by_owner {
        match decide(liveness.get(&owner).unwrap_or(&Liveness::NoReaper), all) {
            Ok(()) => out.remove.extend(objects),
            Err(why) => out.skipped.push((owner, why, objects)),
        }
    }
    out.remove.sort();
    out
}

/// Asks every running reaper what it is doing, by the project it serves.
pub async fn liveness(docker: &Docker) -> Result<BTreeMap<String, Liveness>> {
    let filters = HashMap::from([("label".to_string(), vec![labels::REAPER_FOR.to_string()])]);
    let opts = ListContainersOptionsBuilder::default().filters(&filters).build();
    let reapers =
        docker.list_containers(Some(opts)).await.map_err(|e| Error::docker("list the reapers", e))?;
    let mut out = BTreeMap::new();
    for r in reapers {
        let Some(project) = r.labels.as_ref().and_then(|l| l.get(labels::REAPER_FOR)).cloned() else {
            continue;
        };
        let port = r
            .ports
            .unwrap_or_default()
            .iter()
            .find(|p| p.private_port == crate::reaper::PORT && p.public_port.is_some())
            .and_then(|p| p.public_port);
        let state = match port {
            Some(port) => match crate::reaper::status(port).await {
                Ok(s) => Liveness::Reaper(s),
                Err(why) => Liveness::Unreachable(why),
            },
            None => Liveness::Unreachable("no published port".into()),
        };
        out.insert(project, state);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn l(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn scopes_pick_by_label() {
        let ours = l(&[(labels::COMPOSE_PROJECT, "hadrill-web-1a2b3c"), (labels::MANAGED, "true")]);
        let default_net = l(&[(labels::COMPOSE_PROJECT, "hadrill-web-1a2b3c")]);
        let helper = l(&[(labels::HELPER_FOR, "hadrill-web-1a2b3c")]);
        let foreign = l(&[(labels::COMPOSE_PROJECT, "myapp")]);
        let all = Scope::All;
        assert!(all.wants(Some(&ours)) && all.wants(Some(&default_net)) && all.wants(Some(&helper)));
        assert!(!all.wants(Some(&foreign)) && !all.wants(None));
        let one = Scope::Project("hadrill-web-1a2b3c".into());
        assert!(one.wants(Some(&ours)) && one.wants(Some(&helper)));
        let other = Scope::Project("hadrill-web-ffffff".into());
        assert!(!other.wants(Some(&ours)));
    }

    #[test]
    fn a_reaper_is_in_its_project_but_does_not_reap_itself() {
        let p = "hadrill-web-1a2b3c";
        let reaper = l(&[(labels::REAPER_FOR, p), (labels::MANAGED, "true")]);
        let helper = l(&[(labels::HELPER_FOR, p)]);
        assert!(Scope::Project(p.into()).wants(Some(&reaper)) && Scope::All.wants(Some(&reaper)));
        assert!(!Scope::Reaped(p.into()).wants(Some(&reaper)));
        assert!(Scope::Reaped(p.into()).wants(Some(&helper)));
        assert_eq!(owner(&reaper), Some(p));
        let owners = Scope::Owners(BTreeSet::from([p.to_string()]));
        assert!(owners.wants(Some(&reaper)) && owners.wants(Some(&helper)));
        let foreign = l(&[(labels::REAPER_FOR, "hadrill-web-ffffff")]);
        assert!(!owners.wants(Some(&foreign)));
        let unowned = l(&[(labels::MANAGED, "true")]);
        assert!(!owners.wants(Some(&unowned)));
        assert!(Scope::Owners(BTreeSet::from([String::new()])).wants(Some(&unowned)));
    }

    fn obj(kind: &'static str, name: &str, owner: &str) -> Leftover {
        Leftover { kind, name: name.into(), owner: owner.into() }
    }

    #[test]
    fn clean_spares_live_drills_and_says_why() {
        let objects = vec![
            obj("container", "live-app", "hadrill-a"),
            obj("network", "live-net", "hadrill-a"),
            obj("container", "crashed-app", "hadrill-b"),
            obj("volume", "crashed-vol", "hadrill-b"),
            obj("container", "starting-reaper", "hadrill-c"),
            obj("container", "reaping-app", "hadrill-d"),
            obj("container", "mute-app", "hadrill-e"),
            obj("container", "kept-app", "hadrill-f"),
            obj("network", "unowned-net", ""),
        ];
        let live = BTreeMap::from([
            ("hadrill-a".to_string(), Liveness::Reaper(State::Held)),
            ("hadrill-c".to_string(), Liveness::Reaper(State::Waiting)),
            ("hadrill-d".to_string(), Liveness::Reaper(State::Reaping)),
            ("hadrill-e".to_string(), Liveness::Unreachable("no answer within 1s".into())),
            ("hadrill-f".to_string(), Liveness::Reaper(State::Released)),
        ]);
        let p = plan(objects.clone(), &live, false);
        let gone: Vec<&str> = p.remove.iter().map(|o| o.name.as_str()).collect();
        assert_eq!(gone, ["crashed-app", "kept-app", "unowned-net", "crashed-vol"]);
        assert_eq!(p.owners(), BTreeSet::from(["".into(), "hadrill-b".into(), "hadrill-f".into()]));
        let skipped: Vec<(&str, &str, usize)> =
            p.skipped.iter().map(|(o, why, objs)| (o.as_str(), why.as_str(), objs.len())).collect();
        assert_eq!(
            skipped,
            [
                ("hadrill-a", "a running hadrill holds its reaper", 2),
                ("hadrill-c", "its reaper just started and waits for its hadrill", 1),
                ("hadrill-d", "its reaper is removing it now", 1),
                ("hadrill-e", "its reaper runs but did not answer (no answer within 1s)", 1),
            ]
        );
        let all = plan(objects.clone(), &live, true);
        assert_eq!(all.remove.len(), objects.len());
        assert!(all.skipped.is_empty());
    }
}
