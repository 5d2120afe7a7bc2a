//! What a scenario says about its stack, so that a user's compose file needs no `x-hadrill:` section: the
//! observers (`[observe]`: haproxy, postgres, patroni, sentinel, sentinel_master, nginx; PostgreSQL logins
//! that may take `${VAR}` secrets), the Compose `profiles` to enable, and (from `hadrill run --env-file`) the
//! env file. Whatever the scenario says wins over the file.
//! `[load] target` is read here too: `service:port`, `http://service:port` or `https://service:port`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use super::error::ScenarioError;
use super::vars::Vars;
use crate::stack::resolve::{PgLogin, StackSpec};

type S<T> = Spanned<T>;

/// `[observe]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawObserve {
    haproxy: Option<Vec<S<String>>>,
    postgres: Option<Vec<S<RawPg>>>,
    patroni: Option<Vec<S<String>>>,
    sentinel: Option<Vec<S<String>>>,
    sentinel_master: Option<S<String>>,
    nginx: Option<Vec<S<String>>>,
}

/// A PostgreSQL node: `"db:5432"` or `{ addr = "db:5432", user = "app", password = "${PGPASSWORD}", ... }`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum RawPg {
    Addr(String),
    Login { addr: String, user: Option<String>, password: Option<String>, dbname: Option<String> },
}

/// The scenario's additions to its stack, applied by [`StackOverrides::apply`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StackOverrides {
    pub haproxy: Option<Vec<String>>,
    /// Addresses and the logins their entries give (none: the observer's default, the probe's `app`).
    pub postgres: Option<Vec<(String, Option<PgLogin>)>>,
    pub patroni: Option<Vec<String>>,
    pub sentinel: Option<Vec<String>>,
    pub sentinel_master: Option<String>,
    /// nginx services whose error log is read (names, not addresses: nginx has no state to poll).
    pub nginx: Option<Vec<String>>,
    /// Compose profiles to enable (`profiles = [...]`); services of other profiles are not part of the run.
    pub profiles: Vec<String>,
    /// An env file for Compose (`hadrill run --env-file`); otherwise `.env` next to the compose file.
    pub env_file: Option<PathBuf>,
}

fn err(file: &Path, text: &str, span: std::ops::Range<usize>, msg: String) -> ScenarioError {
    ScenarioError::at(file, text, Some(span), msg)
}

/// Checks a `service:port` entry against the stack.
fn service_port(
    file: &Path,
    text: &str,
    spec: &StackSpec,
    what: &str,
    v: &str,
    span: std::ops::Range<usize>,
) -> Result<String, ScenarioError> {
    let ok = v.rsplit_once(':').filter(|(s, p)| spec.has_service(s) && p.parse::<u16>().is_ok());
    match ok {
        Some(_) => Ok(v.to_string()),
        None => Err(err(
            file,
            text,
            span,
            format!(
                "observe.{what} {v:?} must be service:port with a service of stack {} (services: {})",
                spec.name,
                spec.services.join(", ")
            ),
        )),
    }
}

/// Checks a service name entry (`nginx = ["lb"]`) against the stack.
fn service(
    file: &Path,
    text: &str,
    spec: &StackSpec,
    what: &str,
    v: &str,
    span: std::ops::Range<usize>,
) -> Result<String, ScenarioError> {
    if spec.has_service(v) {
        return Ok(v.to_string());
    }
    let services = spec.services.join(", ");
    let msg = format!("observe.{what} {v:?} must be a service of stack {} (services: {services})", spec.name);
    Err(err(file, text, span, msg))
}

/// `[load] target` without its `http://` or `https://` scheme (and any trailing `/`); true for `https://`.
pub fn strip_scheme(file: &Path, text: &str, target: &mut S<String>) -> Result<bool, ScenarioError> {
    let v = target.get_ref().trim().to_string();
    let https = v.to_ascii_lowercase().starts_with("https://");
    let bare = match v.split_once("://") {
        Some((scheme, rest))
            if scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https") =>
        {
            rest.trim_end_matches('/').to_string()
        }
        Some((scheme, _)) => {
            return Err(err(
                file,
                text,
                target.span(),
                format!("target {v:?}: scheme {scheme:?} is not http or https (write service:port)"),
            ))
        }
        None => v,
    };
    *target.get_mut() = bare;
    Ok(https)
}

impl StackOverrides {
    /// Reads `[observe]` and `profiles`, checking every name against `spec` and expanding `${VAR}` in logins.
    pub fn read(
        file: &Path,
        text: &str,
        spec: &StackSpec,
        vars: &Vars,
        observe: Option<&RawObserve>,
        profiles: Option<&S<Vec<String>>>,
    ) -> Result<StackOverrides, ScenarioError> {
        let list = |what: &str, v: &Option<Vec<S<String>>>| -> Result<Option<Vec<String>>, ScenarioError> {
            v.as_ref()
                .map(|l| {
                    l.iter().map(|e| service_port(file, text, spec, what, e.get_ref(), e.span())).collect()
                })
                .transpose()
        };
        let mut o = StackOverrides::default();
        if let Some(obs) = observe {
            o.haproxy = list("haproxy", &obs.haproxy)?;
            o.patroni = list("patroni", &obs.patroni)?;
            o.sentinel = list("sentinel", &obs.sentinel)?;
            o.sentinel_master = obs.sentinel_master.as_ref().map(|m| m.get_ref().clone());
            o.nginx = obs
                .nginx
                .as_ref()
                .map(|l| {
                    l.iter().map(|e| service(file, text, spec, "nginx", e.get_ref(), e.span())).collect()
                })
                .transpose()?;
            if let Some(nodes) = &obs.postgres {
                let mut out = Vec::new();
                for n in nodes {
                    let (addr, login) = match n.get_ref() {
                        RawPg::Addr(a) => (a.clone(), None),
                        RawPg::Login { addr, user, password, dbname } => {
                            let d = PgLogin::default();
                            let x = |v: &Option<String>, default: String| {
                                v.as_ref().map(|v| vars.expand(v)).unwrap_or(default)
                            };
                            let login = PgLogin {
                                user: x(user, d.user),
                                password: x(password, d.password),
                                dbname: x(dbname, d.dbname),
                            };
                            (addr.clone(), Some(login))
                        }
                    };
                    out.push((service_port(file, text, spec, "postgres", &addr, n.span())?, login));
                }
                o.postgres = Some(out);
            }
        }
        if let Some(p) = profiles {
            let known = spec.profiles();
            if let Some(bad) = p.get_ref().iter().find(|x| !known.contains(*x)) {
                return Err(err(
                    file,
                    text,
                    p.span(),
                    format!(
                        "profile {bad:?} is used by no service of stack {} (profiles: {})",
                        spec.name,
                        known.into_iter().collect::<Vec<_>>().join(", ")
                    ),
                ));
            }
            o.profiles = p.get_ref().clone();
        }
        Ok(o)
    }

    /// Takes `hadrill run --env-file`: the file must exist (checked now, before anything starts).
    pub fn set_env_file(&mut self, file: Option<PathBuf>) -> crate::Result<()> {
        if let Some(f) = file {
            let abs = f.canonicalize().map_err(|e| crate::Error::io(&f, e))?;
            self.env_file = Some(abs);
        }
        Ok(())
    }

    /// `spec` with the scenario's values over the file's (each list the scenario names replaces the file's).
    pub fn apply(&self, mut spec: StackSpec) -> StackSpec {
        let obs = &mut spec.meta.observe;
        let set = |slot: &mut Vec<String>, v: &Option<Vec<String>>| {
            if let Some(v) = v {
                slot.clone_from(v);
            }
        };
        set(&mut obs.haproxy, &self.haproxy);
        set(&mut obs.patroni, &self.patroni);
        set(&mut obs.sentinel, &self.sentinel);
        set(&mut obs.nginx, &self.nginx);
        if let Some(m) = &self.sentinel_master {
            obs.sentinel_master = Some(m.clone());
        }
        if let Some(nodes) = &self.postgres {
            obs.postgres = nodes.iter().map(|(a, _)| a.clone()).collect();
            obs.postgres_login = nodes
                .iter()
                .filter_map(|(a, l)| l.clone().map(|l| (a.clone(), l)))
                .collect::<BTreeMap<_, _>>();
        }
        spec.with_profiles(&self.profiles);
        if let Some(f) = &self.env_file {
            spec.env_file = Some(f.clone());
        }
        spec
    }
}

impl super::Scenario {
    /// The scenario's stack with what the scenario says about it applied: what a drill brings up and observes.
    pub fn stack_spec(&self) -> crate::Result<StackSpec> {
        Ok(self.overrides.apply(crate::stack::resolve::resolve(&self.stack)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::parse;

    const HEAD: &str = "name = \"x\"\nstack = \"web-haproxy-pg\"\nduration = \"30s\"\n";

    fn check(text: &str) -> Result<crate::scenario::Scenario, ScenarioError> {
        parse(Path::new("scenarios/t.toml"), text)
    }

    #[test]
    fn the_scenario_names_observers_and_logins_over_the_file() {
        std::env::set_var("HD_OVR_PGPASSWORD", "ovr-Pass-4411");
        let s = check(&format!(
            "{HEAD}[load]\ntarget = \"http://lb:8080/\"\n[observe]\nhaproxy = []\n\
             postgres = [\"pg-replica:5432\", {{ addr = \"pg-primary:5432\", user = \"app\", password = \"${{HD_OVR_PGPASSWORD}}\", dbname = \"app\" }}]\n"
        ))
        .unwrap();
        assert_eq!(s.load.target.as_deref(), Some("lb:8080"));
        let spec = s.stack_spec().unwrap();
        assert!(spec.meta.observe.haproxy.is_empty(), "the scenario's empty list wins");
        assert_eq!(spec.meta.observe.nginx, Vec::<String>::new(), "web-haproxy-pg's file names none");
        let s = check(&format!("{HEAD}[observe]\nnginx = [\"lb\"]\n")).unwrap();
        assert_eq!(s.stack_spec().unwrap().meta.observe.nginx, vec!["lb"], "the scenario adds it");
        assert_eq!(spec.meta.observe.postgres, vec!["pg-replica:5432", "pg-primary:5432"]);
        let login = spec.meta.observe.login_for("pg-primary:5432");
        assert_eq!(
            (login.user.as_str(), login.password.as_str(), login.dbname.as_str()),
            ("app", "ovr-Pass-4411", "app")
        );
        assert_eq!(spec.meta.observe.login_for("pg-replica:5432"), PgLogin::default());
        assert_eq!(
            spec.meta.observe.probe_login().map(|l| l.user),
            Some("app".to_owned()),
            "the probe logs in as the first node that names a login"
        );
        assert!(!format!("{spec:?}").contains("ovr-Pass-4411"), "Debug shows no password");
    }

    #[test]
    fn observers_https_and_profiles_are_checked_with_places() {
        let e = check(&format!("{HEAD}[observe]\nhaproxy = [\"lb:8404\", \"nolb:8404\"]\n")).unwrap_err();
        assert_eq!((e.line, e.col), (5, 23));
        assert!(e.message.contains("observe.haproxy \"nolb:8404\""), "{}", e.message);
        let e = check(&format!("{HEAD}[observe]\npostgres = [{{ addr = \"pg-primary\" }}]\n")).unwrap_err();
        assert!(e.message.contains("service:port"), "{}", e.message);
        let e = check(&format!("{HEAD}[observe]\nnginx = [\"lb:80\"]\n")).unwrap_err();
        assert!(e.message.contains("observe.nginx \"lb:80\" must be a service"), "{}", e.message);
        let e = check(&format!("{HEAD}[observe]\nredis = [\"x:1\"]\n")).unwrap_err();
        assert!(e.message.contains("redis"), "{}", e.message);
        let e = check(&format!("{HEAD}[load]\ntarget = \"ftp://lb:21\"\n")).unwrap_err();
        assert!(e.message.contains("not http or https"), "{}", e.message);
        let e = check(&format!("profiles = [\"debug\"]\n{HEAD}")).unwrap_err();
        assert!(e.message.contains("profile \"debug\" is used by no service"), "{}", e.message);
    }

    #[test]
    fn a_missing_variable_stops_the_parse_at_its_place() {
        let e = check(&format!(
            "{HEAD}[observe]\npostgres = [{{ addr = \"pg-primary:5432\", password = \"${{HD_OVR_UNSET_VAR}}\" }}]\n"
        ))
        .unwrap_err();
        assert_eq!((e.line, e.col), (5, 53));
        assert!(e.message.contains("HD_OVR_UNSET_VAR is not set"), "{}", e.message);
    }
}
