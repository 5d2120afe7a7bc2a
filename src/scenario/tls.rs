//! The `[load]` keys of an `https://` target: `tls_insecure`, `tls_ca` (a PEM file, relative to the scenario
//! file, checked to exist now), `tls_server_name` (SNI), and `host` (the `Host` header, for any target).

use std::path::Path;

use super::parse::{Ctx, S};
use super::ScenarioError;
use crate::load::tls::TlsOptions;

/// How the load's HTTP client reaches its target, beyond its address.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadClient {
    /// The target was written `https://`.
    pub https: bool,
    pub tls: TlsOptions,
    /// The `Host` header to send instead of the target's address.
    pub host: Option<String>,
}

/// The keys as written.
pub(super) struct RawTls {
    pub insecure: Option<S<bool>>,
    pub ca: Option<S<String>>,
    pub server_name: Option<S<String>>,
    pub host: Option<S<String>>,
}

/// Checks the keys: the TLS ones need an `https://` target, `tls_ca` and `tls_insecure` exclude each other.
pub(super) fn read(cx: &Ctx, https: bool, raw: RawTls) -> Result<LoadClient, ScenarioError> {
    let tls_keys = [
        raw.insecure.as_ref().map(|v| ("tls_insecure", v.span())),
        raw.ca.as_ref().map(|v| ("tls_ca", v.span())),
        raw.server_name.as_ref().map(|v| ("tls_server_name", v.span())),
    ];
    if let Some((key, span)) = tls_keys.iter().flatten().next().filter(|_| !https) {
        return Err(cx.err(
            span.clone(),
            format!("{key} needs an https:// target (load.target = \"https://service:port\")"),
        ));
    }
    let insecure = raw.insecure.as_ref().is_some_and(|v| *v.get_ref());
    let ca = match &raw.ca {
        Some(c) if insecure => {
            return Err(cx.err(c.span(), "tls_ca and tls_insecure = true exclude each other: choose one"))
        }
        Some(c) => {
            let path = cx.file.parent().unwrap_or(Path::new(".")).join(c.get_ref());
            if !path.is_file() {
                return Err(
                    cx.err(c.span(), format!("tls_ca {:?}: no such file ({})", c.get_ref(), path.display()))
                );
            }
            Some(path)
        }
        None => None,
    };
    let text = |v: &Option<S<String>>, key: &str| -> Result<Option<String>, ScenarioError> {
        match v {
            Some(v) if v.get_ref().trim().is_empty() || v.get_ref().contains(['\r', '\n']) => {
                Err(cx.err(v.span(), format!("{key} {:?} must be a non-empty name on one line", v.get_ref())))
            }
            Some(v) => Ok(Some(v.get_ref().trim().to_owned())),
            None => Ok(None),
        }
    };
    Ok(LoadClient {
        https,
        tls: TlsOptions { insecure, ca, server_name: text(&raw.server_name, "tls_server_name")? },
        host: text(&raw.host, "host")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::parse;

    const HEAD: &str = "name = \"x\"\nstack = \"web-haproxy-pg\"\nduration = \"30s\"\n[load]\n";

    fn check(load: &str) -> Result<crate::scenario::Scenario, ScenarioError> {
        parse(Path::new("scenarios/t.toml"), &format!("{HEAD}{load}"))
    }

    #[test]
    fn an_https_target_takes_its_tls_keys() {
        let s = check("target = \"https://lb:8080/\"\ntls_insecure = true\ntls_server_name = \"edge\"\nhost = \"orders\"\n")
            .unwrap();
        assert_eq!(s.load.target.as_deref(), Some("lb:8080"), "service lb, container port 8080");
        let tls = TlsOptions { insecure: true, ca: None, server_name: Some("edge".into()) };
        assert_eq!(s.load.client, LoadClient { https: true, tls, host: Some("orders".into()) });
        let s = check("target = \"lb:8080\"\nhost = \"orders\"\n").unwrap();
        assert!(!s.load.client.https && s.load.client.host.as_deref() == Some("orders"));
        assert_eq!(check("").unwrap().load.client, LoadClient::default());
    }

    #[test]
    fn tls_ca_is_relative_to_the_scenario_and_must_exist() {
        let dir = std::env::temp_dir().join(format!("hadrill-tls-scn-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("certs")).unwrap();
        std::fs::write(dir.join("certs/ca.pem"), "").unwrap();
        let file = dir.join("t.toml");
        let s = parse(&file, &format!("{HEAD}target = \"https://lb:8080\"\ntls_ca = \"certs/ca.pem\"\n"))
            .unwrap();
        assert_eq!(s.load.client.tls.ca, Some(dir.join("certs/ca.pem")));
        let e = parse(&file, &format!("{HEAD}target = \"https://lb:8080\"\ntls_ca = \"certs/none.pem\"\n"))
            .unwrap_err();
        assert_eq!((e.line, e.col), (6, 10));
        assert!(e.message.contains("tls_ca \"certs/none.pem\": no such file"), "{}", e.message);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn tls_keys_without_https_or_together_are_refused_at_their_place() {
        let e = check("target = \"lb:8080\"\ntls_insecure = true\n").unwrap_err();
        assert_eq!((e.line, e.col), (6, 16));
        assert!(e.message.contains("tls_insecure needs an https:// target"), "{}", e.message);
        let e = check("target = \"https://lb:8080\"\ntls_insecure = true\ntls_ca = \"x.pem\"\n").unwrap_err();
        assert!(e.message.contains("exclude each other"), "{}", e.message);
        let e = check("target = \"https://lb:8080\"\nhost = \" \"\n").unwrap_err();
        assert!(e.message.contains("host \" \" must be a non-empty name"), "{}", e.message);
    }
}
