//! A `[nodes]` entry's Docker endpoint, parsed once: `unix:///path`, `tcp://host:port` (with the daemon's TLS
//! files: CA, client certificate and key; plain only on loopback), or `ssh://[user@]host[:port]` (through the
//! system's `ssh`, as the Docker CLI does). Plain data, checked without Docker; [`super::nodes`] connects.

use std::path::PathBuf;

/// The files of Docker's TLS (`--tlsverify`): the CA that signed the daemon's certificate, and the client's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    Unix(PathBuf),
    Tcp {
        host: String,
        port: u16,
        tls: Option<TlsFiles>,
    },
    /// `user@host` (or `host`), and the port when not 22.
    Ssh {
        target: String,
        port: Option<u16>,
    },
}

/// The node named `name` in the swarm, and how to reach its daemon.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeSpec {
    pub name: String,
    pub endpoint: Endpoint,
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Endpoint::Unix(p) => write!(f, "unix://{}", p.display()),
            Endpoint::Tcp { host, port, tls } => {
                write!(f, "tcp://{host}:{port}{}", if tls.is_some() { " (TLS)" } else { "" })
            }
            Endpoint::Ssh { target, port: Some(p) } => write!(f, "ssh://{target}:{p}"),
            Endpoint::Ssh { target, port: None } => write!(f, "ssh://{target}"),
        }
    }
}

fn is_loopback(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    bare == "localhost" || bare.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Parses `text`; `tls` are the entry's TLS files (only for `tcp://`).
pub fn parse(text: &str, tls: Option<TlsFiles>) -> Result<Endpoint, String> {
    let url = url::Url::parse(text).map_err(|e| format!("endpoint {text:?} is not a URL: {e}"))?;
    let no_tls = |scheme: &str| match tls {
        Some(_) => Err(format!("endpoint {text:?}: ca, cert and key are for tcp://, not {scheme}://")),
        None => Ok(()),
    };
    match url.scheme() {
        "unix" => {
            no_tls("unix")?;
            if url.host_str().is_some_and(|h| !h.is_empty()) || !url.path().starts_with('/') {
                return Err(format!("endpoint {text:?}: a unix socket is unix:///absolute/path"));
            }
            Ok(Endpoint::Unix(PathBuf::from(url.path())))
        }
        "tcp" => {
            let host =
                url.host_str().filter(|h| !h.is_empty()).ok_or(format!("endpoint {text:?} names no host"))?;
            if !matches!(url.path(), "" | "/") {
                return Err(format!("endpoint {text:?}: tcp://host:port takes no path"));
            }
            if tls.is_none() && !is_loopback(host) {
                return Err(format!(
                    "endpoint {text:?}: a daemon reached over the network needs its TLS files (ca, cert, key): \
                     hadrill does not drive an unauthenticated Docker daemon"
                ));
            }
            let port = url.port().unwrap_or(if tls.is_some() { 2376 } else { 2375 });
            Ok(Endpoint::Tcp { host: host.to_owned(), port, tls })
        }
        "ssh" => {
            no_tls("ssh")?;
            let host =
                url.host_str().filter(|h| !h.is_empty()).ok_or(format!("endpoint {text:?} names no host"))?;
            if !matches!(url.path(), "" | "/") {
                return Err(format!("endpoint {text:?}: ssh://[user@]host[:port] takes no path"));
            }
            let target = match url.username() {
                "" => host.to_owned(),
                user => format!("{user}@{host}"),
            };
            Ok(Endpoint::Ssh { target, port: url.port() })
        }
        other => Err(format!("endpoint {text:?}: scheme {other:?} is not unix, tcp or ssh")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tls() -> Option<TlsFiles> {
        Some(TlsFiles { ca: "ca.pem".into(), cert: "cert.pem".into(), key: "key.pem".into() })
    }

    #[test]
    fn the_three_kinds_parse() {
        assert_eq!(
            parse("unix:///var/run/docker.sock", None),
            Ok(Endpoint::Unix("/var/run/docker.sock".into()))
        );
        assert_eq!(
            parse("tcp://10.0.0.2:2376", tls()),
            Ok(Endpoint::Tcp { host: "10.0.0.2".into(), port: 2376, tls: tls() })
        );
        assert_eq!(parse("tcp://node-b", tls()).map(|e| e.to_string()), Ok("tcp://node-b:2376 (TLS)".into()));
        assert_eq!(
            parse("tcp://127.0.0.1:2375", None),
            Ok(Endpoint::Tcp { host: "127.0.0.1".into(), port: 2375, tls: None })
        );
        assert_eq!(
            parse("ssh://deploy@10.0.0.3:2222", None),
            Ok(Endpoint::Ssh { target: "deploy@10.0.0.3".into(), port: Some(2222) })
        );
        assert_eq!(parse("ssh://node-c", None).map(|e| e.to_string()), Ok("ssh://node-c".into()));
    }

    #[test]
    fn what_cannot_be_reached_safely_is_refused_with_the_value() {
        let e = parse("tcp://10.0.0.2:2375", None).unwrap_err();
        assert!(e.contains("\"tcp://10.0.0.2:2375\"") && e.contains("TLS files"), "{e}");
        assert!(parse("http://10.0.0.2", None).unwrap_err().contains("scheme \"http\""));
        assert!(parse("unix://relative", None).unwrap_err().contains("unix:///absolute/path"));
        assert!(parse("ssh://node/path", None).unwrap_err().contains("takes no path"));
        assert!(parse("unix:///var/run/docker.sock", tls()).unwrap_err().contains("not unix://"));
        assert!(parse("node-b:2376", None).is_err());
    }
}
