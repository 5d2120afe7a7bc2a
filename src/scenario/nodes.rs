//! The `[nodes]` table of a swarm scenario: each swarm node's name mapped to its Docker endpoint, a URL string
//! or `{ endpoint = "tcp://...", ca = ..., cert = ..., key = ... }` (paths relative to the scenario's folder,
//! checked to exist). Checked at its place in the file; reaching the daemons is [`crate::swarm::nodes`]'s.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use super::error::ScenarioError;
use super::parse::{Ctx, S};
use crate::swarm::endpoint::{self, NodeSpec, TlsFiles};

#[derive(Debug, Deserialize)]
#[serde(
    untagged,
    expecting = "a node's endpoint: \"unix:///var/run/docker.sock\", \"ssh://user@host\", or \
                 { endpoint = \"tcp://host:2376\", ca = \"ca.pem\", cert = \"cert.pem\", key = \"key.pem\" }"
)]
pub(super) enum RawNode {
    Url(String),
    Table(RawNodeTable),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawNodeTable {
    endpoint: String,
    ca: Option<String>,
    cert: Option<String>,
    key: Option<String>,
}

pub(super) type RawNodes = S<BTreeMap<String, S<RawNode>>>;

/// The nodes of `[nodes]`; `swarm` is whether the scenario deploys on Swarm (the table is refused otherwise).
pub(super) fn read(cx: &Ctx, raw: Option<&RawNodes>) -> Result<Vec<NodeSpec>, ScenarioError> {
    let Some(raw) = raw else { return Ok(Vec::new()) };
    if !cx.swarm {
        return Err(cx.err(raw.span(), "[nodes] is for swarm drills (orchestrator = \"swarm\")"));
    }
    let dir = cx.file.parent().unwrap_or(Path::new("."));
    let mut out = Vec::new();
    for (name, entry) in raw.get_ref() {
        let at = |msg: String| cx.err(entry.span(), format!("node {name:?}: {msg}"));
        if name.trim().is_empty() {
            return Err(at("a node name is empty".into()));
        }
        let (url, tls) = match entry.get_ref() {
            RawNode::Url(u) => (u.clone(), None),
            RawNode::Table(t) => {
                let tls = match (&t.ca, &t.cert, &t.key) {
                    (None, None, None) => None,
                    (Some(ca), Some(cert), Some(key)) => {
                        let file = |p: &String| {
                            let path = dir.join(p);
                            match path.is_file() {
                                true => Ok(path),
                                false => Err(at(format!("TLS file {} is not there", path.display()))),
                            }
                        };
                        Some(TlsFiles { ca: file(ca)?, cert: file(cert)?, key: file(key)? })
                    }
                    _ => return Err(at("give all of ca, cert and key (Docker's TLS), or none".into())),
                };
                (t.endpoint.clone(), tls)
            }
        };
        let endpoint = endpoint::parse(&url, tls).map_err(at)?;
        out.push(NodeSpec { name: name.clone(), endpoint });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use crate::swarm::endpoint::Endpoint;

    const HEAD: &str = "name = \"x\"\nstack = \"swarm-web-pg\"\nduration = \"30s\"\n";

    fn parse(body: &str) -> Result<crate::scenario::Scenario, crate::scenario::ScenarioError> {
        crate::scenario::parse(std::path::Path::new("scenarios/t.toml"), &format!("{HEAD}{body}"))
    }

    #[test]
    fn nodes_map_names_to_endpoints() {
        let sc = parse(
            "[nodes]\nmanager-1 = \"unix:///var/run/docker.sock\"\nworker-2 = \"ssh://ops@10.0.0.3\"\n",
        )
        .unwrap();
        let got: Vec<(String, String)> =
            sc.nodes.iter().map(|n| (n.name.clone(), n.endpoint.to_string())).collect();
        assert_eq!(
            got,
            [
                ("manager-1".to_string(), "unix:///var/run/docker.sock".to_string()),
                ("worker-2".to_string(), "ssh://ops@10.0.0.3".to_string())
            ]
        );
        assert_eq!(sc.nodes[0].endpoint, Endpoint::Unix("/var/run/docker.sock".into()));
    }

    #[test]
    fn a_bad_endpoint_is_placed_and_named() {
        let e = parse("[nodes]\nworker-2 = \"tcp://10.0.0.2:2376\"\n").unwrap_err();
        assert_eq!(e.line, 5, "{e}");
        assert!(e.message.contains("node \"worker-2\"") && e.message.contains("TLS files"), "{e}");
        let e = parse("[nodes]\nw = { endpoint = \"tcp://10.0.0.2\", ca = \"ca.pem\" }\n").unwrap_err();
        assert!(e.message.contains("all of ca, cert and key"), "{e}");
        let e =
            parse("[nodes]\nw = { endpoint = \"tcp://10.0.0.2\", ca = \"a\", cert = \"b\", key = \"c\" }\n")
                .unwrap_err();
        assert!(e.message.contains("TLS file scenarios/a is not there"), "{e}");
        let e = parse("[nodes]\nw = 3\n").unwrap_err();
        assert!(e.message.contains("a node's endpoint"), "{e}");
        let compose =
            "name = \"x\"\nstack = \"web-haproxy-pg\"\nduration = \"30s\"\n[nodes]\nw = \"unix:///x\"\n";
        let e = crate::scenario::parse(std::path::Path::new("t.toml"), compose).unwrap_err();
        assert!(e.message.contains("[nodes] is for swarm drills"), "{e}");
    }
}
