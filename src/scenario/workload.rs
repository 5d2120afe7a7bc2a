//! A scenario's own workload: `[[load.request]]` (the user's requests, weighted, with placeholders such as
//! `{key}`), `[load] keep_alive`, and `[verify]` (how written keys are read back: one GET per key, a list
//! endpoint's JSON, or an SQL query). Validated here with places, so `hadrill check` finds unknown
//! placeholders, `{last_key}` without writes, writes without `{key}`/`{seq}`, writes without `[verify]` and
//! bad status classes. `${VAR}` is expanded here, in literal text only.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::Path;

use serde::Deserialize;
use toml::Spanned;

use super::error::ScenarioError;
use super::vars::Vars;
use crate::load::template::{Part, Template};
use crate::timeline::Kind;

type S<T> = Spanned<T>;

/// The most requests a workload may list.
pub const MAX_REQUESTS: usize = 64;

/// One `[[load.request]]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a [[load.request]] table")]
pub struct RawRequest {
    name: Option<S<String>>,
    kind: Option<S<String>>,
    method: Option<S<String>>,
    path: S<String>,
    headers: Option<BTreeMap<String, S<String>>>,
    body: Option<S<String>>,
    ok: Option<S<Vec<S<OkEntry>>>>,
    body_contains: Option<S<String>>,
    weight: Option<S<i64>>,
}

/// A status code (`201`) or class (`"2xx"`).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum OkEntry {
    Code(i64),
    Class(String),
}

/// `[verify]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a [verify] table")]
pub struct RawVerify {
    kind: S<String>,
    path: Option<S<String>>,
    headers: Option<BTreeMap<String, S<String>>>,
    present: Option<S<Vec<S<OkEntry>>>>,
    absent: Option<S<Vec<S<OkEntry>>>>,
    pointer: Option<S<String>>,
    concurrency: Option<S<i64>>,
    service: Option<S<String>>,
    dsn: Option<S<String>>,
    query: Option<S<String>>,
}

/// What counts as success: status codes and classes (`2xx` is 200..=299).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OkSet {
    codes: Vec<u16>,
    /// Bit `n` set: every `n`xx status.
    classes: u16,
}

impl OkSet {
    /// Any 2xx: the default.
    pub fn any_2xx() -> OkSet {
        OkSet { codes: Vec::new(), classes: 1 << 2 }
    }

    pub fn accepts(&self, code: u16) -> bool {
        let class = code / 100;
        (class < 16 && self.classes & (1 << class) != 0) || self.codes.contains(&code)
    }
}

/// A header's name and value template; the value may hold a secret, so it never goes to a report.
#[derive(Clone)]
pub struct Header {
    pub name: String,
    pub value: Template,
}

impl std::fmt::Debug for Header {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: <hidden>", self.name)
    }
}

/// One request of the workload, validated.
#[derive(Debug, Clone)]
pub struct RequestSpec {
    pub name: String,
    pub kind: Kind,
    pub method: http::Method,
    pub path: Template,
    pub headers: Vec<Header>,
    pub body: Template,
    pub ok: OkSet,
    pub body_contains: Option<String>,
    pub weight: u32,
}

/// How written keys are read back after the drill.
#[derive(Debug, Clone)]
pub enum VerifySpec {
    /// One GET per key.
    Http { path: Template, headers: Vec<Header>, present: OkSet, absent: OkSet, concurrency: usize },
    /// A GET of a list endpoint returning JSON; `pointer` (with `*` for every element) names the keys.
    HttpList { path: Template, headers: Vec<Header>, pointer: String },
    /// A query against a PostgreSQL service of the stack; the first column holds the keys.
    Sql { service: String, dsn: Secret, query: Template },
}

/// A value that may hold a secret: its `Debug` shows nothing.
#[derive(Clone)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<hidden>")
    }
}

/// The scenario's workload.
#[derive(Debug, Clone)]
pub struct Workload {
    pub requests: Vec<RequestSpec>,
    /// False: a new connection per request.
    pub keep_alive: bool,
    /// `None` only when no request writes.
    pub verify: Option<VerifySpec>,
}

impl Workload {
    pub fn writes(&self) -> bool {
        self.requests.iter().any(|r| r.kind == Kind::Write)
    }
}

struct Cx<'a> {
    file: &'a Path,
    text: &'a str,
    vars: &'a Vars,
}

impl Cx<'_> {
    fn err(&self, span: Range<usize>, msg: impl Into<String>) -> ScenarioError {
        ScenarioError::at(self.file, self.text, Some(span), msg)
    }

    /// A template with `${VAR}` expanded in its literal text; an unknown placeholder is an error at `v`.
    fn template(&self, v: &S<String>, what: &str) -> Result<Template, ScenarioError> {
        let t = Template::parse(v.get_ref()).map_err(|bad| {
            self.err(
                v.span(),
                format!(
                    "{what}: unknown placeholder {{{bad}}} (known: {})",
                    crate::load::template::NAMES
                        .iter()
                        .map(|n| format!("{{{n}}}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )
        })?;
        Ok(t.map_literals(|l| self.vars.expand(l)))
    }

    fn headers(&self, h: &Option<BTreeMap<String, S<String>>>) -> Result<Vec<Header>, ScenarioError> {
        let mut out = Vec::new();
        for (name, v) in h.iter().flatten() {
            let valid =
                !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b));
            if !valid {
                return Err(self.err(v.span(), format!("header name {name:?} is not a header name")));
            }
            if v.get_ref().contains(['\r', '\n']) {
                return Err(self.err(v.span(), format!("header {name}: a value holds no line break")));
            }
            out.push(Header { name: name.clone(), value: self.template(v, &format!("header {name}"))? });
        }
        Ok(out)
    }

    fn ok_set(&self, v: &S<Vec<S<OkEntry>>>, what: &str) -> Result<OkSet, ScenarioError> {
        let mut set = OkSet::default();
        for e in v.get_ref() {
            match e.get_ref() {
                OkEntry::Code(c) if (100..=599).contains(c) => set.codes.push(*c as u16),
                OkEntry::Code(c) => {
                    return Err(
                        self.err(e.span(), format!("{what}: status {c} is not an HTTP status (100 to 599)"))
                    )
                }
                OkEntry::Class(c) => {
                    let b = c.as_bytes();
                    let ok =
                        b.len() == 3 && (b'1'..=b'5').contains(&b[0]) && b[1..].eq_ignore_ascii_case(b"xx");
                    if !ok {
                        return Err(self.err(
                            e.span(),
                            format!("{what}: {c:?} is not a status class (1xx to 5xx) nor a status code"),
                        ));
                    }
                    set.classes |= 1 << (b[0] - b'0');
                }
            }
        }
        if set == OkSet::default() {
            return Err(self.err(v.span(), format!("{what} lists no status")));
        }
        Ok(set)
    }
}

/// Reads `[[load.request]]`, `keep_alive` and `[verify]`. `None` when the scenario lists no request (then
/// `keep_alive` and `[verify]` are errors: they apply to a workload only). `load_span` is where `[load]` is.
pub fn read(
    file: &Path,
    text: &str,
    vars: &Vars,
    requests: &[S<RawRequest>],
    keep_alive: Option<&S<bool>>,
    verify: Option<&S<RawVerify>>,
) -> Result<Option<Workload>, ScenarioError> {
    let cx = Cx { file, text, vars };
    if requests.is_empty() {
        if let Some(k) = keep_alive {
            return Err(cx.err(k.span(), "keep_alive applies to a workload of [[load.request]]: list one"));
        }
        if let Some(v) = verify {
            return Err(cx.err(v.span(), "[verify] reads back the writes of [[load.request]]: list one"));
        }
        return Ok(None);
    }
    if let Some(extra) = requests.get(MAX_REQUESTS) {
        return Err(cx.err(extra.span(), format!("more than {MAX_REQUESTS} [[load.request]]")));
    }
    let mut out = Vec::new();
    for (i, r) in requests.iter().enumerate() {
        out.push(request(&cx, i, r)?);
    }
    let writes = out.iter().any(|r| r.kind == Kind::Write);
    if !writes {
        let last_key = requests.iter().zip(&out).find(|(_, r)| uses(r, Part::LastKey));
        if let Some((raw, _)) = last_key {
            return Err(cx.err(
                raw.get_ref().path.span(),
                "{last_key} is the newest acknowledged write's key, and no request has kind = \"write\"",
            ));
        }
    }
    let verify = match verify {
        Some(v) if !writes => {
            return Err(cx.err(v.span(), "[verify] reads back writes, and no request has kind = \"write\""))
        }
        Some(v) => Some(verify_spec(&cx, v, &out)?),
        None if writes => {
            let w = requests.iter().zip(&out).find(|(_, r)| r.kind == Kind::Write).map(|(raw, _)| raw.span());
            return Err(cx.err(
                w.unwrap_or(0..0),
                "a request writes and there is no [verify]: say how written keys are read back \
                 (kind = \"http\", \"http_list\" or \"sql\")",
            ));
        }
        None => None,
    };
    Ok(Some(Workload { requests: out, keep_alive: keep_alive.map(|k| *k.get_ref()).unwrap_or(true), verify }))
}

fn uses(r: &RequestSpec, part: Part) -> bool {
    std::iter::once(&r.path)
        .chain(std::iter::once(&r.body))
        .chain(r.headers.iter().map(|h| &h.value))
        .any(|t| t.uses(part))
}

fn request(cx: &Cx, i: usize, raw: &S<RawRequest>) -> Result<RequestSpec, ScenarioError> {
    let r = raw.get_ref();
    let name = r.name.as_ref().map(|n| n.get_ref().clone()).unwrap_or_else(|| format!("request {}", i + 1));
    let kind = match r.kind.as_ref() {
        None => Kind::Read,
        Some(k) => match k.get_ref().as_str() {
            "write" => Kind::Write,
            "read" => Kind::Read,
            other => return Err(cx.err(k.span(), format!("kind {other:?} is \"write\" or \"read\""))),
        },
    };
    let method = match r.method.as_ref() {
        None => http::Method::GET,
        Some(m) => {
            let up = m.get_ref().to_ascii_uppercase();
            let valid = !up.is_empty() && up.bytes().all(|b| b.is_ascii_uppercase());
            http::Method::from_bytes(up.as_bytes())
                .ok()
                .filter(|_| valid)
                .ok_or_else(|| cx.err(m.span(), format!("method {:?} is not an HTTP method", m.get_ref())))?
        }
    };
    if !r.path.get_ref().starts_with('/') || r.path.get_ref().contains([' ', '\r', '\n']) {
        return Err(
            cx.err(r.path.span(), format!("path {:?} must start with / and hold no space", r.path.get_ref()))
        );
    }
    let weight = match r.weight.as_ref() {
        None => 1,
        Some(w) => {
            u32::try_from(*w.get_ref()).ok().filter(|w| (1..=1_000_000).contains(w)).ok_or_else(|| {
                cx.err(w.span(), format!("weight {} must be between 1 and 1000000", w.get_ref()))
            })?
        }
    };
    let spec = RequestSpec {
        name,
        kind,
        method,
        path: cx.template(&r.path, "path")?,
        headers: cx.headers(&r.headers)?,
        body: match &r.body {
            Some(b) => cx.template(b, "body")?,
            None => Template::default(),
        },
        ok: match &r.ok {
            Some(ok) => cx.ok_set(ok, "ok")?,
            None => OkSet::any_2xx(),
        },
        body_contains: r.body_contains.as_ref().map(|b| cx.vars.expand(b.get_ref())),
        weight,
    };
    if kind == Kind::Write && !uses(&spec, Part::Key) && !uses(&spec, Part::Seq) {
        return Err(cx.err(
            raw.span(),
            format!(
                "request {:?} writes without {{key}} or {{seq}} in its path, headers or body: \
                 its writes could not be told apart when read back",
                spec.name
            ),
        ));
    }
    Ok(spec)
}

fn verify_spec(cx: &Cx, v: &S<RawVerify>, requests: &[RequestSpec]) -> Result<VerifySpec, ScenarioError> {
    let r = v.get_ref();
    let need = |f: &Option<S<String>>, name: &str| -> Result<S<String>, ScenarioError> {
        f.clone()
            .ok_or_else(|| cx.err(v.span(), format!("[verify] kind = {:?} needs {name}", r.kind.get_ref())))
    };
    // The verify's own headers, or the first write request's (the same credentials, most often).
    let headers = || -> Result<Vec<Header>, ScenarioError> {
        match &r.headers {
            Some(_) => cx.headers(&r.headers),
            None => Ok(requests
                .iter()
                .find(|q| q.kind == Kind::Write)
                .map(|q| q.headers.clone())
                .unwrap_or_default()),
        }
    };
    let path = |what: &str| -> Result<Template, ScenarioError> {
        let p = need(&r.path, "path")?;
        if !p.get_ref().starts_with('/') {
            return Err(cx.err(p.span(), format!("[verify] path {:?} must start with /", p.get_ref())));
        }
        let t = cx.template(&p, "[verify] path")?;
        if what == "key" && !t.uses(Part::Key) && !t.uses(Part::Seq) {
            return Err(cx.err(
                p.span(),
                "[verify] kind = \"http\" reads one key per GET: its path needs {key} or {seq}",
            ));
        }
        Ok(t)
    };
    Ok(match r.kind.get_ref().as_str() {
        "http" => VerifySpec::Http {
            path: path("key")?,
            headers: headers()?,
            present: match &r.present {
                Some(p) => cx.ok_set(p, "present")?,
                None => OkSet { codes: vec![200], classes: 0 },
            },
            absent: match &r.absent {
                Some(a) => cx.ok_set(a, "absent")?,
                None => OkSet { codes: vec![404], classes: 0 },
            },
            concurrency: match &r.concurrency {
                None => 16,
                Some(c) => {
                    usize::try_from(*c.get_ref()).ok().filter(|c| (1..=256).contains(c)).ok_or_else(|| {
                        cx.err(c.span(), format!("concurrency {} must be between 1 and 256", c.get_ref()))
                    })?
                }
            },
        },
        "http_list" => {
            let p = need(&r.pointer, "pointer")?;
            if !p.get_ref().starts_with('/') {
                return Err(cx.err(
                    p.span(),
                    format!("pointer {:?} must start with / (e.g. /items/*/id)", p.get_ref()),
                ));
            }
            VerifySpec::HttpList { path: path("list")?, headers: headers()?, pointer: p.get_ref().clone() }
        }
        "sql" => {
            let s = need(&r.service, "service")?;
            let ok = s.get_ref().rsplit_once(':').is_some_and(|(_, p)| p.parse::<u16>().is_ok());
            if !ok {
                return Err(cx.err(s.span(), format!("service {:?} must be service:port", s.get_ref())));
            }
            let dsn = need(&r.dsn, "dsn")?;
            let expanded = cx.vars.expand(dsn.get_ref());
            if expanded.parse::<tokio_postgres::Config>().is_err() {
                return Err(
                    cx.err(dsn.span(), "dsn is not a PostgreSQL connection string (user=... dbname=...)")
                );
            }
            VerifySpec::Sql {
                service: s.get_ref().clone(),
                dsn: Secret(expanded),
                query: cx.template(&need(&r.query, "query")?, "query")?,
            }
        }
        other => {
            return Err(cx.err(
                r.kind.span(),
                format!("[verify] kind {other:?} is \"http\", \"http_list\" or \"sql\""),
            ))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::parse;

    const HEAD: &str = "name = \"x\"\nstack = \"web-haproxy-pg\"\nduration = \"30s\"\n";

    fn check(body: &str) -> Result<crate::scenario::Scenario, ScenarioError> {
        parse(Path::new("scenarios/t.toml"), &format!("{HEAD}{body}"))
    }

    const WRITE: &str = "[[load.request]]\nkind = \"write\"\nmethod = \"POST\"\npath = \"/v1/orders\"\n\
                         body = '{\"ref\": \"{key}\", \"qty\": 1}'\nok = [201, \"2xx\"]\n";
    const VERIFY: &str = "[verify]\nkind = \"http\"\npath = \"/v1/orders/{key}\"\n";

    #[test]
    fn the_issues_workload_parses() {
        std::env::set_var("HD_WL_TOKEN", "wl-Tok-9931");
        let s = check(&format!(
            "[load]\nkeep_alive = false\n{WRITE}weight = 60\nheaders = {{ \"Authorization\" = \"Bearer ${{HD_WL_TOKEN}}\" }}\n\
             [[load.request]]\nname = \"read-back\"\nkind = \"read\"\npath = \"/v1/orders/{{last_key}}\"\nok = [200]\nweight = 30\n\
             [[load.request]]\npath = \"/status\"\nweight = 10\n{VERIFY}present = [200]\nabsent = [404]\n"
        ))
        .unwrap();
        let w = s.load.workload.as_ref().unwrap();
        assert!(!w.keep_alive);
        assert_eq!(w.requests.len(), 3);
        assert_eq!(
            (w.requests[0].kind, w.requests[0].weight, &w.requests[0].method),
            (Kind::Write, 60, &http::Method::POST)
        );
        assert_eq!(w.requests[2].method, http::Method::GET);
        assert!(
            w.requests[0].ok.accepts(201) && w.requests[0].ok.accepts(204) && !w.requests[0].ok.accepts(301)
        );
        assert!(w.requests[2].ok.accepts(299) && !w.requests[2].ok.accepts(404));
        assert!(matches!(w.verify, Some(VerifySpec::Http { .. })));
        assert!(!format!("{s:?}").contains("wl-Tok-9931"), "Debug shows no header value");
        let VerifySpec::Http { headers, .. } = w.verify.as_ref().unwrap() else { unreachable!() };
        assert_eq!(headers[0].name, "Authorization", "the verify takes the write's headers");
    }

    #[test]
    fn ok_sets_take_codes_and_classes() {
        let s = check("[[load.request]]\npath = \"/\"\nok = [\"2xx\", 429]\n").unwrap();
        let ok = &s.load.workload.unwrap().requests[0].ok;
        assert!(ok.accepts(200) && ok.accepts(250) && ok.accepts(429));
        assert!(!ok.accepts(430) && !ok.accepts(500) && !ok.accepts(199));
    }

    fn err_at(body: &str) -> (usize, usize, String) {
        let e = check(body).unwrap_err();
        (e.line, e.col, e.message)
    }

    #[test]
    fn check_errors_have_places() {
        let (l, c, m) = err_at("[[load.request]]\npath = \"/x/{nope}\"\n");
        assert_eq!((l, c), (5, 8));
        assert!(m.contains("unknown placeholder {nope}"), "{m}");
        let (l, _, m) = err_at("[[load.request]]\npath = \"/x/{last_key}\"\n");
        assert_eq!(l, 5);
        assert!(m.contains("{last_key}") && m.contains("no request"), "{m}");
        let (l, _, m) = err_at(&format!(
            "[[load.request]]\nkind = \"write\"\nmethod = \"POST\"\npath = \"/o\"\n{VERIFY}"
        ));
        assert_eq!(l, 4);
        assert!(m.contains("without {key} or {seq}"), "{m}");
        let (l, _, m) = err_at(WRITE);
        assert_eq!(l, 4);
        assert!(m.contains("no [verify]"), "{m}");
        let (l, c, m) = err_at("[[load.request]]\npath = \"/\"\nok = [\"2xz\"]\n");
        assert_eq!((l, c), (6, 7));
        assert!(m.contains("\"2xz\" is not a status class"), "{m}");
        let (_, _, m) = err_at("[[load.request]]\npath = \"/\"\nok = [700]\n");
        assert!(m.contains("700"), "{m}");
        let (_, _, m) = err_at("[[load.request]]\npath = \"/\"\nweight = 0\n");
        assert!(m.contains("weight 0"), "{m}");
        let (_, _, m) = err_at(&format!("{WRITE}[verify]\nkind = \"ftp\"\n"));
        assert!(m.contains("kind \"ftp\""), "{m}");
        let (_, _, m) = err_at(&format!("{WRITE}[verify]\nkind = \"http\"\npath = \"/all\"\n"));
        assert!(m.contains("needs {key}"), "{m}");
        let (_, _, m) = err_at(&format!("{WRITE}[verify]\nkind = \"http_list\"\npath = \"/all\"\n"));
        assert!(m.contains("needs pointer"), "{m}");
        let (_, _, m) = err_at("[load]\nkeep_alive = false\n");
        assert!(m.contains("keep_alive applies"), "{m}");
        let (_, _, m) = err_at(&format!("{WRITE}[verify]\nkind = \"sql\"\nservice = \"pg-primary:5432\"\n"));
        assert!(m.contains("needs dsn"), "{m}");
    }

    #[test]
    fn without_requests_there_is_no_workload() {
        assert!(check("[load]\nrate = 10\n").unwrap().load.workload.is_none());
    }
}
