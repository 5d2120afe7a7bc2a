//! Choosing the containers an action hits: every container of the listed services, one of them at random
//! with a seeded generator so that a run can be reproduced, or the one holding a role at the moment the action
//! starts (a leader moves: after a failover "pg1" is no longer the primary). Roles are asked directly, each
//! candidate through its published port: PostgreSQL `pg_is_in_recovery()` with the observer's login, Patroni
//! `/cluster`, the Sentinels' `get-master-addr-by-name`; `pick = "where"` runs a command in each candidate.

use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::Duration;

use bollard::Docker;
use rand::rngs::StdRng;
use rand::Rng;

use crate::docker::discover::Container;
use crate::scenario::model::{Pick, Target};
use crate::stack::resolve::ObserveSpec;

/// How long one candidate's answer may take.
const ASK_TIMEOUT: Duration = Duration::from_secs(2);

/// The containers of `target` among `all`, in service then instance order (every one for a role pick: the
/// role decides later).
pub fn select(all: &[Container], target: &Target, rng: &mut StdRng) -> Vec<Container> {
    let mut matching: Vec<Container> =
        all.iter().filter(|c| target.services.contains(&c.service)).cloned().collect();
    matching.sort_by(|a, b| (&a.service, a.number).cmp(&(&b.service, b.number)));
    match target.pick {
        Pick::One if matching.is_empty() => matching,
        Pick::One => {
            let i = rng.gen_range(0..matching.len());
            vec![matching.swap_remove(i)]
        }
        _ => matching,
    }
}

/// What a role pick needs to ask the stack.
pub struct RoleSources<'a> {
    pub docker: &'a Docker,
    pub observe: &'a ObserveSpec,
}

/// The containers `target` hits now; an error (for the action's record) when a role pick finds no candidate or
/// more than one holder of a role that has one.
pub async fn choose(
    src: &RoleSources<'_>,
    all: &[Container],
    target: &Target,
    rng: &Mutex<StdRng>,
) -> Result<Vec<Container>, String> {
    let candidates = {
        let mut rng = rng.lock().expect("rng lock");
        select(all, target, &mut rng)
    };
    if matches!(target.pick, Pick::All | Pick::One) {
        return Ok(candidates);
    }
    let answers = ask(src, &target.pick, &candidates, all).await;
    decide(&target.pick, &candidates, &answers)
}

/// The decision from each candidate's answer (`Ok(true)`: holds the role or the command exited 0).
pub fn decide(
    pick: &Pick,
    candidates: &[Container],
    answers: &[Result<bool, String>],
) -> Result<Vec<Container>, String> {
    let role = match pick {
        Pick::Primary => "the PostgreSQL primary",
        Pick::Leader => "the Patroni leader",
        Pick::Master => "the Redis master",
        Pick::Where(cmd) => &format!("where {:?} exits 0", cmd.join(" ")),
        Pick::All | Pick::One => return Ok(candidates.to_vec()),
    };
    if candidates.is_empty() {
        return Err(format!("pick {role}: no running candidate"));
    }
    let hit: Vec<Container> = candidates
        .iter()
        .zip(answers)
        .filter(|(_, a)| matches!(a, Ok(true)))
        .map(|(c, _)| c.clone())
        .collect();
    let seen: Vec<String> = candidates
        .iter()
        .zip(answers)
        .map(|(c, a)| match a {
            Ok(true) => format!("{}: yes", c.display_name()),
            Ok(false) => format!("{}: no", c.display_name()),
            Err(e) => format!("{}: {e}", c.display_name()),
        })
        .collect();
    match (hit.len(), pick) {
        (0, _) => Err(format!("pick {role}: no candidate matched ({})", seen.join("; "))),
        (1, _) | (_, Pick::Where(_)) => Ok(hit),
        (n, _) => {
            Err(format!("pick {role}: {n} candidates claim it, one was expected ({})", seen.join("; ")))
        }
    }
}

/// Each candidate's answer, asked concurrently.
async fn ask(
    src: &RoleSources<'_>,
    pick: &Pick,
    candidates: &[Container],
    all: &[Container],
) -> Vec<Result<bool, String>> {
    let one = |c: &Container| {
        let c = c.clone();
        async move {
            let asked = async {
                match pick {
                    Pick::Primary => is_primary(src.observe, &c).await,
                    Pick::Leader => is_leader(src.observe, &c, all).await,
                    Pick::Master => is_master(src, &c, all).await,
                    Pick::Where(cmd) => super::exec::run(src.docker, &c.id, cmd, None, &[])
                        .await
                        .map(|o| o.exit_code == 0)
                        .map_err(|e| e.to_string()),
                    Pick::All | Pick::One => Ok(true),
                }
            };
            tokio::time::timeout(ASK_TIMEOUT * 3, asked).await.unwrap_or_else(|_| Err("no answer".into()))
        }
    };
    futures_util::future::join_all(candidates.iter().map(one)).await
}

/// The published address of `c`'s port named by one of `entries` (`service:port`) for its service.
fn published(entries: &[String], c: &Container) -> Result<(String, SocketAddr), String> {
    let entry = entries
        .iter()
        .find(|e| e.rsplit_once(':').is_some_and(|(s, _)| s == c.service))
        .ok_or_else(|| format!("service {} is not in the stack's observers", c.service))?;
    let port = entry.rsplit_once(':').map(|(_, p)| p).unwrap_or_default();
    let host = c.ports.get(&format!("{port}/tcp")).ok_or_else(|| format!("port {port} not published"))?;
    Ok((entry.clone(), SocketAddr::from(([127, 0, 0, 1], *host))))
}

async fn is_primary(observe: &ObserveSpec, c: &Container) -> Result<bool, String> {
    let (entry, addr) = published(&observe.postgres, c)?;
    let cfg = crate::observe::postgres::config(addr, &observe.login_for(&entry));
    let (client, conn) = tokio::time::timeout(ASK_TIMEOUT, cfg.connect(tokio_postgres::NoTls))
        .await
        .map_err(|_| "connect timed out".to_string())?
        .map_err(|e| format!("connect: {e}"))?;
    let task = tokio::spawn(conn);
    let row = client.query_one("SELECT pg_is_in_recovery()", &[]).await.map_err(|e| e.to_string());
    task.abort();
    Ok(!row?.get::<_, bool>(0))
}

fn http() -> reqwest::Client {
    reqwest::Client::builder().timeout(ASK_TIMEOUT).no_proxy().build().unwrap_or_default()
}

/// The published address of an observer entry (`service:port`) on any running container of the service.
fn entry_addr(entry: &str, all: &[Container]) -> Option<SocketAddr> {
    let (svc, port) = entry.rsplit_once(':')?;
    let want = format!("{port}/tcp");
    all.iter()
        .filter(|c| c.service == svc && c.state == "running")
        .find_map(|c| c.ports.get(&want))
        .map(|p| SocketAddr::from(([127, 0, 0, 1], *p)))
}

/// The leader's member name from the first Patroni REST API that answers, matched to the candidate by service
/// or container name (Patroni's `name` is usually the host name).
async fn is_leader(observe: &ObserveSpec, c: &Container, all: &[Container]) -> Result<bool, String> {
    let mut last = String::from("no Patroni API published");
    for addr in observe.patroni.iter().filter_map(|e| entry_addr(e, all)) {
        let answer = async {
            http()
                .get(format!("http://{addr}/cluster"))
                .send()
                .await?
                .json::<crate::observe::patroni::Cluster>()
                .await
        };
        match answer.await {
            Ok(cluster) => {
                let leader = crate::observe::patroni::leader(&cluster).map(str::to_string);
                return Ok(leader.is_some_and(|l| names_of(c).contains(&l)));
            }
            Err(e) => last = format!("patroni {addr}: {e}"),
        }
    }
    Err(last)
}

/// The names a peer may know a container by.
fn names_of(c: &Container) -> Vec<String> {
    vec![c.service.clone(), c.name.clone(), c.display_name(), c.id.chars().take(12).collect()]
}

/// The master's `host:port` as the first Sentinel that answers names it.
async fn sentinel_master(observe: &ObserveSpec, all: &[Container]) -> Result<String, String> {
    let master = observe.sentinel_master.clone().unwrap_or_else(|| "mymaster".into());
    for addr in observe.sentinel.iter().filter_map(|e| entry_addr(e, all)) {
        let Ok(mut conn) = crate::proto::resp::Conn::connect(addr, ASK_TIMEOUT).await else { continue };
        if let Ok(r) = conn.call(&[b"SENTINEL", b"get-master-addr-by-name", master.as_bytes()]).await {
            if let Some(a) = crate::proto::sentinel::master_addr(&r) {
                return Ok(a);
            }
        }
    }
    Err(format!("no Sentinel named a master {master:?}"))
}

/// Whether the Sentinels' master is `c`: by name, or by one of its IP addresses.
async fn is_master(src: &RoleSources<'_>, c: &Container, all: &[Container]) -> Result<bool, String> {
    let named = sentinel_master(src.observe, all).await?;
    let host = named.rsplit_once(':').map(|(h, _)| h.to_string()).unwrap_or(named);
    if names_of(c).contains(&host) {
        return Ok(true);
    }
    let inspect = src
        .docker
        .inspect_container(&c.id, None::<bollard::query_parameters::InspectContainerOptions>)
        .await
        .map_err(|e| e.to_string())?;
    let ips = inspect
        .network_settings
        .and_then(|n| n.networks)
        .map(|n| n.into_values().filter_map(|e| e.ip_address).collect::<Vec<_>>())
        .unwrap_or_default();
    Ok(ips.contains(&host))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use std::collections::BTreeMap;

    fn c(service: &str, number: u32) -> Container {
        Container {
            id: format!("{service}-{number}"),
            name: String::new(),
            service: service.into(),
            number,
            state: "running".into(),
            health: None,
            ports: BTreeMap::new(),
            networks: vec![],
        }
    }

    #[test]
    fn all_takes_every_instance_of_the_services() {
        let all = vec![c("app1", 1), c("lb", 1), c("app2", 1), c("app2", 2)];
        let t = Target { services: vec!["app2".into(), "app1".into()], pick: Pick::All };
        let got: Vec<String> =
            select(&all, &t, &mut StdRng::seed_from_u64(1)).iter().map(|c| c.id.clone()).collect();
        assert_eq!(got, vec!["app1-1", "app2-1", "app2-2"]);
    }

    #[test]
    fn one_is_reproducible_with_the_same_seed_and_varies_across_seeds() {
        let all = vec![c("app1", 1), c("app2", 1), c("app3", 1)];
        let t = Target { services: vec!["app1".into(), "app2".into(), "app3".into()], pick: Pick::One };
        let pick = |seed| select(&all, &t, &mut StdRng::seed_from_u64(seed))[0].id.clone();
        assert_eq!(pick(7), pick(7));
        let distinct: std::collections::BTreeSet<String> = (0..32).map(pick).collect();
        assert!(distinct.len() > 1, "32 seeds always picked the same instance");
    }

    #[test]
    fn a_role_is_held_by_exactly_one_candidate() {
        let cands = vec![c("pg1", 1), c("pg2", 1), c("pg3", 1)];
        let got =
            decide(&Pick::Primary, &cands, &[Ok(false), Ok(true), Err("connect: refused".into())]).unwrap();
        assert_eq!(got.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(), vec!["pg2-1"]);
        let e = decide(&Pick::Leader, &cands, &[Ok(false), Ok(false), Err("no answer".into())]).unwrap_err();
        assert!(
            e.contains("the Patroni leader: no candidate matched") && e.contains("pg3: no answer"),
            "{e}"
        );
        let e = decide(&Pick::Primary, &cands, &[Ok(true), Ok(true), Ok(false)]).unwrap_err();
        assert!(e.contains("2 candidates claim it") && e.contains("pg1: yes; pg2: yes; pg3: no"), "{e}");
        let e = decide(&Pick::Master, &[], &[]).unwrap_err();
        assert!(e.contains("no running candidate"), "{e}");
    }

    #[test]
    fn where_hits_every_candidate_whose_command_exits_0() {
        let cands = vec![c("raft", 1), c("raft", 2), c("raft", 3)];
        let pick = Pick::Where(vec!["sh".into(), "-c".into(), "test -f /leader".into()]);
        let got = decide(&pick, &cands, &[Ok(true), Ok(false), Ok(true)]).unwrap();
        assert_eq!(got.iter().map(Container::display_name).collect::<Vec<_>>(), vec!["raft", "raft#3"]);
        let e = decide(&pick, &cands, &[Ok(false), Ok(false), Ok(false)]).unwrap_err();
        assert!(e.contains("where \"sh -c test -f /leader\" exits 0: no candidate matched"), "{e}");
    }

    #[test]
    fn a_role_pick_takes_every_instance_as_a_candidate() {
        let all = vec![c("pg", 1), c("pg", 2), c("lb", 1)];
        let t = Target { services: vec!["pg".into()], pick: Pick::Primary };
        assert_eq!(select(&all, &t, &mut StdRng::seed_from_u64(1)).len(), 2);
    }
}
