//! Reaching the daemons of a swarm's nodes (`[nodes]`): the manager (the daemon hadrill talks to) is used for the
//! Swarm API; a fault on a task's container goes to the daemon of the node running the task. Each endpoint is
//! connected and checked before anything is deployed: it answers, it is a node of this swarm, and it is the node
//! its name says. A failure names the node and its endpoint (exit 2).
//!
//! `unix://` and loopback `tcp://` are connected directly. `tcp://` with TLS goes through a local socket that
//! hadrill serves for the drill, opening a TLS connection (rustls, the entry's CA and client certificate) to the
//! daemon per connection; `ssh://` through a socket forwarded by the system's `ssh` (`-L`), as the Docker CLI's
//! own `ssh://` uses the user's SSH setup. Both end with the drill.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bollard::query_parameters::ListNodesOptions;
use bollard::Docker;

use super::endpoint::{Endpoint, NodeSpec, TlsFiles};
use crate::error::{Error, Result};

/// How long a node's daemon has to answer.
const REACH_LIMIT: Duration = Duration::from_secs(10);

/// What keeps a tunnel to a node's daemon open; dropped with the drill.
enum Tunnel {
    Ssh(tokio::process::Child),
    Tls(tokio::task::JoinHandle<()>, PathBuf),
}

impl Drop for Tunnel {
    fn drop(&mut self) {
        match self {
            Tunnel::Ssh(child) => {
                let _ = child.start_kill();
            }
            Tunnel::Tls(task, socket) => {
                task.abort();
                let _ = std::fs::remove_file(socket);
            }
        }
    }
}

/// One reachable node.
pub struct Node {
    pub name: String,
    /// Its id in the swarm.
    pub id: String,
    pub endpoint: String,
    pub docker: Docker,
    _tunnel: Option<Tunnel>,
}

/// The nodes of `[nodes]`, by swarm node id.
#[derive(Default, Clone)]
pub struct Nodes {
    by_id: Arc<BTreeMap<String, Node>>,
}

impl std::fmt::Debug for Nodes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.all().map(|n| format!("{} ({}) at {}", n.name, n.id, n.endpoint)))
            .finish()
    }
}

impl Nodes {
    /// The daemon of swarm node `id`, when `[nodes]` maps it.
    pub fn docker_of(&self, id: &str) -> Option<&Docker> {
        self.by_id.get(id).map(|n| &n.docker)
    }

    pub fn all(&self) -> impl Iterator<Item = &Node> {
        self.by_id.values()
    }
}

fn unreachable(spec: &NodeSpec, reason: impl Into<String>) -> Error {
    Error::NodeUnreachable {
        node: spec.name.clone(),
        endpoint: spec.endpoint.to_string(),
        reason: reason.into(),
    }
}

/// Connects every node of `specs`, checking each against the swarm `manager` manages.
pub async fn connect_all(manager: &Docker, specs: &[NodeSpec]) -> Result<Nodes> {
    if specs.is_empty() {
        return Ok(Nodes::default());
    }
    let listed = manager
        .list_nodes(None::<ListNodesOptions>)
        .await
        .map_err(|e| Error::docker("list the swarm's nodes", e))?;
    let known: BTreeMap<String, String> = listed
        .iter()
        .filter_map(|n| Some((n.description.as_ref()?.hostname.clone()?, n.id.clone()?)))
        .collect();
    let mut by_id = BTreeMap::new();
    for spec in specs {
        let Some(id) = known.get(&spec.name) else {
            let names: Vec<&str> = known.keys().map(String::as_str).collect();
            return Err(unreachable(
                spec,
                format!("no node of the swarm is named {:?} (its nodes: {})", spec.name, names.join(", ")),
            ));
        };
        let (docker, tunnel) = connect(spec).await?;
        let info = tokio::time::timeout(REACH_LIMIT, docker.info())
            .await
            .map_err(|_| unreachable(spec, format!("no answer within {}s", REACH_LIMIT.as_secs())))?
            .map_err(|e| unreachable(spec, e.to_string()))?;
        let is = info.swarm.and_then(|s| s.node_id).unwrap_or_default();
        if &is != id {
            return Err(unreachable(
                spec,
                format!(
                    "that daemon is swarm node {:?}, not {:?} ({id})",
                    if is.is_empty() { "none" } else { &is },
                    spec.name
                ),
            ));
        }
        let node = Node {
            name: spec.name.clone(),
            id: id.clone(),
            endpoint: spec.endpoint.to_string(),
            docker,
            _tunnel: tunnel,
        };
        by_id.insert(id.clone(), node);
    }
    Ok(Nodes { by_id: Arc::new(by_id) })
}

/// A client of the node's daemon, negotiated and pinged.
async fn connect(spec: &NodeSpec) -> Result<(Docker, Option<Tunnel>)> {
    let v = bollard::API_DEFAULT_VERSION;
    let timeout = REACH_LIMIT.as_secs();
    let (docker, tunnel) = match &spec.endpoint {
        Endpoint::Unix(path) => {
            let path = path.to_string_lossy();
            (Docker::connect_with_unix(&path, 120, v).map_err(|e| unreachable(spec, e.to_string()))?, None)
        }
        Endpoint::Tcp { host, port, tls: None } => {
            let addr = format!("tcp://{host}:{port}");
            (Docker::connect_with_http(&addr, 120, v).map_err(|e| unreachable(spec, e.to_string()))?, None)
        }
        Endpoint::Tcp { host, port, tls: Some(files) } => {
            let socket = socket_path(&spec.name);
            let task = tls_proxy(&socket, host, *port, files).map_err(|e| unreachable(spec, e))?;
            let tunnel = Tunnel::Tls(task, socket.clone());
            let path = socket.to_string_lossy();
            (
                Docker::connect_with_unix(&path, 120, v).map_err(|e| unreachable(spec, e.to_string()))?,
                Some(tunnel),
            )
        }
        Endpoint::Ssh { target, port } => {
            let socket = socket_path(&spec.name);
            let child = ssh_forward(&socket, target, *port).await.map_err(|e| unreachable(spec, e))?;
            let path = socket.to_string_lossy();
            let docker =
                Docker::connect_with_unix(&path, 120, v).map_err(|e| unreachable(spec, e.to_string()))?;
            (docker, Some(Tunnel::Ssh(child)))
        }
    };
    let docker = tokio::time::timeout(REACH_LIMIT, docker.negotiate_version())
        .await
        .map_err(|_| unreachable(spec, format!("no answer within {timeout}s")))?
        .map_err(|e| unreachable(spec, e.to_string()))?;
    docker.ping().await.map_err(|e| unreachable(spec, e.to_string()))?;
    Ok((docker, tunnel))
}

fn socket_path(node: &str) -> PathBuf {
    let safe: String =
        node.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' }).collect();
    crate::paths::scratch_dir().join(format!("node-{}-{safe}.sock", std::process::id()))
}

/// `ssh -L socket:/var/run/docker.sock`; returns once the socket is there (or says why not).
async fn ssh_forward(
    socket: &Path,
    target: &str,
    port: Option<u16>,
) -> Result<tokio::process::Child, String> {
    let _ = std::fs::remove_file(socket);
    let forward = format!("{}:/var/run/docker.sock", socket.display());
    let mut cmd = tokio::process::Command::new("ssh");
    cmd.args(["-nNT", "-o", "BatchMode=yes", "-o", "ExitOnForwardFailure=yes", "-o", "ConnectTimeout=8"]);
    if let Some(p) = port {
        cmd.args(["-p", &p.to_string()]);
    }
    cmd.args(["-L", &forward, target]).kill_on_drop(true).stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().map_err(|e| format!("cannot run ssh: {e}"))?;
    let start = std::time::Instant::now();
    while start.elapsed() < REACH_LIMIT {
        if socket.exists() {
            return Ok(child);
        }
        if let Ok(Some(status)) = child.try_wait() {
            let mut err = String::new();
            if let Some(mut e) = child.stderr.take() {
                let _ = tokio::io::AsyncReadExt::read_to_string(&mut e, &mut err).await;
            }
            return Err(format!("ssh exited ({status}): {}", err.trim()));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(format!("ssh forwarded no socket within {}s", REACH_LIMIT.as_secs()))
}

/// The rustls client of Docker's TLS: the daemon's CA, the client certificate and key.
fn tls_config(files: &TlsFiles) -> Result<tokio_rustls::rustls::ClientConfig, String> {
    use tokio_rustls::rustls;
    let read = |p: &Path| {
        std::fs::File::open(p).map(std::io::BufReader::new).map_err(|e| format!("{}: {e}", p.display()))
    };
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_pemfile::certs(&mut read(&files.ca)?) {
        let cert = cert.map_err(|e| format!("{}: not PEM: {e}", files.ca.display()))?;
        roots.add(cert).map_err(|e| format!("{}: {e}", files.ca.display()))?;
    }
    let certs: Vec<_> = rustls_pemfile::certs(&mut read(&files.cert)?)
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| format!("{}: not PEM: {e}", files.cert.display()))?;
    let key = rustls_pemfile::private_key(&mut read(&files.key)?)
        .map_err(|e| format!("{}: not PEM: {e}", files.key.display()))?
        .ok_or(format!("{}: holds no private key", files.key.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_client_auth_cert(certs, key)
        .map_err(|e| format!("client certificate: {e}"))
}

/// Serves `socket`: each connection is piped to a TLS connection to `host:port`.
fn tls_proxy(
    socket: &Path,
    host: &str,
    port: u16,
    files: &TlsFiles,
) -> Result<tokio::task::JoinHandle<()>, String> {
    let connector = tokio_rustls::TlsConnector::from(Arc::new(tls_config(files)?));
    let name = tokio_rustls::rustls::pki_types::ServerName::try_from(host.to_owned())
        .map_err(|e| format!("server name {host:?}: {e}"))?;
    let _ = std::fs::remove_file(socket);
    let listener =
        tokio::net::UnixListener::bind(socket).map_err(|e| format!("{}: {e}", socket.display()))?;
    let host = host.to_owned();
    Ok(tokio::spawn(async move {
        while let Ok((mut local, _)) = listener.accept().await {
            let (connector, name, host) = (connector.clone(), name.clone(), host.clone());
            tokio::spawn(async move {
                let Ok(tcp) = tokio::net::TcpStream::connect((host.as_str(), port)).await else { return };
                let Ok(mut tls) = connector.connect(name, tcp).await else { return };
                let _ = tokio::io::copy_bidirectional(&mut local, &mut tls).await;
            });
        }
    }))
}
