//! The user's workload (`[[load.request]]`) as a probe: requests drawn by weight, rendered from templates
//! parsed once, sent on the engine's HTTP/1.1 connections (a new one per request without keep-alive), judged by
//! each request's `ok` statuses and `body_contains`; and the read-back of `[verify]`: one GET per key, a list
//! endpoint's JSON (both on the engine's connections, so with the load's TLS and `Host` settings), or an SQL
//! query against a PostgreSQL service of the stack.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::FutureExt;
use rand::rngs::StdRng;
use rand::Rng;

use super::http1::{Body, Conn, Target, MAX_CHECKED_BODY};
use super::keys::seq_in;
use super::probe::{Pick, Probe, ReadingBack, Request, Sending, Settings};
use super::template::{Template, Values};
use super::verify::{retry_until, Patience, RETRY_EVERY};
use super::ProbeError;
use crate::scenario::workload::{Header, OkSet, VerifySpec, Workload};
use crate::timeline::{Failure, Kind, SeqSet, Verification};
use http::Method;

/// How long one read-back GET may take.
const VERIFY_GET_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the list endpoint's one GET may take (a whole zone, a whole table).
const VERIFY_LIST_TIMEOUT: Duration = Duration::from_secs(30);
/// The largest list answer read back: a million keys of about 60 bytes each.
pub const MAX_LIST_BODY: usize = 64 << 20;

/// The workload probe.
#[derive(Debug)]
pub struct WorkloadProbe {
    target: Target,
    workload: Arc<Workload>,
    key_prefix: String,
    /// Running sums of the weights, for the draw.
    cumulative: Vec<u32>,
    /// Where `[verify] kind = "sql"` connects: the service's published address.
    sql_addr: Option<SocketAddr>,
}

impl WorkloadProbe {
    pub fn new(
        target: Target,
        workload: Arc<Workload>,
        settings: &Settings,
        sql_addr: Option<SocketAddr>,
    ) -> Self {
        let cumulative = workload
            .requests
            .iter()
            .scan(0u32, |sum, r| {
                *sum += r.weight;
                Some(*sum)
            })
            .collect();
        WorkloadProbe { target, workload, key_prefix: settings.key_prefix.clone(), cumulative, sql_addr }
    }

    fn values(&self, req: &Request) -> Values<'_> {
        let seq = if req.kind == Kind::Write { req.seq } else { req.last_acked };
        Values { prefix: &self.key_prefix, seq, last_acked: req.last_acked }
    }
}

/// Header lines, rendered, each ending in CRLF.
fn header_lines(headers: &[Header], v: &Values) -> Vec<u8> {
    let mut out = String::new();
    for h in headers {
        out.push_str(&h.name);
        out.push_str(": ");
        h.value.render_into(v, &mut out);
        out.push_str("\r\n");
    }
    out.into_bytes()
}

impl Probe for WorkloadProbe {
    fn next(&self, rng: &mut StdRng) -> Pick {
        let total = *self.cumulative.last().unwrap_or(&1);
        let x = rng.gen_range(0..total);
        let which = self.cumulative.partition_point(|&c| c <= x);
        let kind = self.workload.requests.get(which).map(|r| r.kind).unwrap_or(Kind::Read);
        Pick { kind, which: which as u16 }
    }

    fn send<'a>(&'a self, conn: &'a mut Conn, req: Request, timeout: Duration) -> Sending<'a> {
        let spec = &self.workload.requests[usize::from(req.which).min(self.workload.requests.len() - 1)];
        let v = self.values(&req);
        let path = self.target.path(&spec.path.render(&v));
        let extra = header_lines(&spec.headers, &v);
        let body = Bytes::from(spec.body.render(&v));
        async move {
            let mut kept = spec.body_contains.as_ref().map(|_| Body::upto(MAX_CHECKED_BODY));
            let answer = conn
                .request_with(&self.target, spec.method.clone(), &path, &extra, body, kept.as_mut(), timeout)
                .await;
            if !self.workload.keep_alive {
                conn.close();
            }
            match answer {
                Ok(code) if !spec.ok.accepts(code) => Some(Failure::Status(code)),
                Ok(code) => {
                    let missing =
                        spec.body_contains.as_ref().zip(kept.as_ref()).is_some_and(|(want, got)| {
                            !got.bytes.windows(want.len().max(1)).any(|w| w == want.as_bytes())
                        });
                    missing.then_some(Failure::Status(code))
                }
                Err(failure) => Some(failure),
            }
        }
        .boxed()
    }

    fn read_back(&self, max_seq: u32, limit: Duration) -> ReadingBack<'_> {
        async move {
            match &self.workload.verify {
                None => Verification::Failed(crate::measure::rpo::NO_WRITES.into()),
                Some(VerifySpec::Http { path, headers, present, absent, concurrency }) => {
                    self.each_key(max_seq, path, headers, present, absent, *concurrency, limit).await
                }
                Some(VerifySpec::HttpList { path, headers, pointer }) => {
                    retry_until(limit, "the list endpoint", || self.list(path, headers, pointer)).await
                }
                Some(VerifySpec::Sql { dsn, query, .. }) => {
                    let Some(addr) = self.sql_addr else {
                        return Verification::Failed("the [verify] service is not published".into());
                    };
                    retry_until(limit, "the SQL query", || self.sql(addr, &dsn.0, query)).await
                }
            }
        }
        .boxed()
    }

    fn describe(&self) -> String {
        let requests: Vec<String> = self
            .workload
            .requests
            .iter()
            .map(|r| format!("{} {}", r.method, self.target.path(&r.path.shown())))
            .collect();
        format!("{} ({})", self.target.url(), requests.join(", "))
    }
}

impl WorkloadProbe {
    fn values_of(&self, seq: u32) -> Values<'_> {
        Values { prefix: &self.key_prefix, seq, last_acked: seq }
    }

    /// One GET per written key through the engine's own client (so https targets read back with the load's
    /// TLS settings), `concurrency` connections each taking every `concurrency`-th key. A lane asks a key
    /// again every 500 ms while it fails, and gives up when it has read no key for `limit`.
    #[allow(clippy::too_many_arguments)]
    async fn each_key(
        &self,
        max_seq: u32,
        path: &Template,
        headers: &[Header],
        present: &OkSet,
        absent: &OkSet,
        concurrency: usize,
        limit: Duration,
    ) -> Verification {
        let workers = concurrency.max(1) as u32;
        let lanes = (1..=workers.min(max_seq.max(1))).map(|first| async move {
            let mut conn = Conn::default();
            let mut found = Vec::new();
            let mut patience = Patience::new(limit);
            for seq in (first..=max_seq).step_by(workers as usize) {
                let v = self.values_of(seq);
                let at = self.target.path(&path.render(&v));
                let extra = header_lines(headers, &v);
                loop {
                    let answer = conn
                        .request_with(
                            &self.target,
                            Method::GET,
                            &at,
                            &extra,
                            Bytes::new(),
                            None,
                            VERIFY_GET_TIMEOUT,
                        )
                        .await;
                    let failed = match answer {
                        Ok(code) if present.accepts(code) => {
                            found.push(seq);
                            None
                        }
                        Ok(code) if absent.accepts(code) => None,
                        Ok(code) => Some(format!("{code} for write {seq}")),
                        Err(f) => Some(format!("{} for write {seq}", f.label())),
                    };
                    match failed {
                        None => {
                            patience.progressed();
                            break;
                        }
                        Some(answer) if patience.exhausted() => {
                            return Err(ProbeError::Answer { what: "read-back GET", answer })
                        }
                        Some(_) => {
                            conn = Conn::default();
                            tokio::time::sleep(RETRY_EVERY).await;
                        }
                    }
                }
            }
            Ok(found)
        });
        let mut all = Vec::new();
        for lane in futures_util::future::join_all(lanes).await {
            match lane {
                Ok(found) => all.extend(found),
                Err(e) => {
                    return Verification::Failed(format!(
                        "read-back through one GET per key made no progress for {}s: {e}",
                        limit.as_secs()
                    ))
                }
            }
        }
        Verification::Read(SeqSet::from(all))
    }

    /// One GET of the list endpoint through the engine's own client (the load's TLS and `Host` settings),
    /// its JSON body kept up to [`MAX_LIST_BODY`].
    async fn list(&self, path: &Template, headers: &[Header], pointer: &str) -> Result<SeqSet, ProbeError> {
        let what = "list read-back";
        let v = self.values_of(0);
        let at = self.target.path(&path.render(&v));
        let mut body = Body::upto(MAX_LIST_BODY);
        let answer = Conn::default()
            .request_with(
                &self.target,
                Method::GET,
                &at,
                &header_lines(headers, &v),
                Bytes::new(),
                Some(&mut body),
                VERIFY_LIST_TIMEOUT,
            )
            .await;
        match answer {
            Ok(code) if (200..300).contains(&code) => {}
            Ok(code) => return Err(ProbeError::Answer { what, answer: code.to_string() }),
            Err(f) => return Err(ProbeError::Answer { what, answer: f.label().to_owned() }),
        }
        if body.cut() {
            let most = crate::units::human_bytes(MAX_LIST_BODY as u64);
            return Err(ProbeError::Answer { what, answer: format!("a body larger than {most}") });
        }
        let json: serde_json::Value = serde_json::from_slice(&body.bytes)
            .map_err(|e| ProbeError::Answer { what, answer: format!("not JSON: {e}") })?;
        let mut keys = Vec::new();
        collect(&json, pointer, &mut keys);
        Ok(SeqSet::from(keys.iter().filter_map(|k| seq_in(&self.key_prefix, k)).collect::<Vec<u32>>()))
    }

    async fn sql(&self, addr: SocketAddr, dsn: &str, query: &Template) -> Result<SeqSet, ProbeError> {
        let mut config: tokio_postgres::Config = dsn
            .parse()
            .map_err(|_| ProbeError::Answer { what: "SQL read-back", answer: "bad dsn".into() })?;
        config.host(addr.ip().to_string()).port(addr.port()).connect_timeout(Duration::from_secs(5));
        let fail = |e: tokio_postgres::Error| ProbeError::Answer {
            what: "SQL read-back",
            answer: crate::secrets::redact(&e.to_string()).into_owned(),
        };
        let (client, connection) = config.connect(tokio_postgres::NoTls).await.map_err(fail)?;
        let task = tokio::spawn(connection);
        let rows = client.simple_query(&query.render(&self.values_of(0))).await.map_err(fail);
        drop(client);
        task.abort();
        let mut found = Vec::new();
        for m in rows? {
            if let tokio_postgres::SimpleQueryMessage::Row(row) = m {
                if let Some(seq) = row.get(0).and_then(|k| seq_in(&self.key_prefix, k)) {
                    found.push(seq);
                }
            }
        }
        Ok(SeqSet::from(found))
    }
}

/// The strings (and numbers, as text) at `pointer` in `v`, where a `*` step takes every element or member.
fn collect(v: &serde_json::Value, pointer: &str, out: &mut Vec<String>) {
    let pointer = pointer.strip_prefix('/').unwrap_or(pointer);
    let (step, rest) = match pointer.split_once('/') {
        Some((s, r)) => (s, Some(r)),
        None => (pointer, None),
    };
    let next: Vec<&serde_json::Value> = match (step, v) {
        ("", _) => vec![v],
        ("*", serde_json::Value::Array(a)) => a.iter().collect(),
        ("*", serde_json::Value::Object(o)) => o.values().collect(),
        (s, serde_json::Value::Array(a)) => {
            s.parse::<usize>().ok().and_then(|i| a.get(i)).into_iter().collect()
        }
        (s, serde_json::Value::Object(o)) => {
            o.get(&s.replace("~1", "/").replace("~0", "~")).into_iter().collect()
        }
        _ => Vec::new(),
    };
    for n in next {
        match rest {
            Some(r) => collect(n, r, out),
            None if step.is_empty() => {}
            None => match n {
                serde_json::Value::String(s) => out.push(s.clone()),
                serde_json::Value::Number(x) => out.push(x.to_string()),
                _ => {}
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn workload(text: &str) -> Arc<Workload> {
        std::env::set_var("HD_WLP_TOKEN", "wlp-Secret-5150");
        let head = "name = \"x\"\nstack = \"web-haproxy-pg\"\nduration = \"30s\"\n";
        let s = crate::scenario::parse(std::path::Path::new("t.toml"), &format!("{head}{text}")).unwrap();
        s.load.workload.unwrap()
    }

    const ISSUE: &str = "[[load.request]]\nkind = \"write\"\nmethod = \"POST\"\npath = \"/v1/orders\"\n\
        headers = { \"Content-Type\" = \"application/json\", \"Authorization\" = \"Bearer ${HD_WLP_TOKEN}\" }\n\
        body = '{\"ref\": \"{key}\", \"qty\": 1}'\nok = [201]\nweight = 60\n\
        [[load.request]]\nkind = \"read\"\npath = \"/v1/orders/{last_key}\"\nok = [200]\nbody_contains = \"ref\"\nweight = 30\n\
        [[load.request]]\npath = \"/status\"\nweight = 10\n\
        [verify]\nkind = \"http\"\npath = \"/v1/orders/{key}\"\n";

    fn settings() -> Settings {
        Settings { key_prefix: "hd-w-".into(), timeout: Duration::from_secs(2), read_ratio: 0.5 }
    }

    #[tokio::test]
    async fn weights_draw_their_share() {
        let target = Target::resolve("http://127.0.0.1:9").await.unwrap();
        let p = WorkloadProbe::new(target, workload(ISSUE), &settings(), None);
        let mut rng = StdRng::seed_from_u64(3);
        let mut counts = [0u32; 3];
        for _ in 0..10_000 {
            let pick = p.next(&mut rng);
            counts[usize::from(pick.which)] += 1;
            assert_eq!(pick.kind, if pick.which == 0 { Kind::Write } else { Kind::Read });
        }
        assert!((5_700..6_300).contains(&counts[0]), "{counts:?}");
        assert!((2_700..3_300).contains(&counts[1]), "{counts:?}");
        assert!((800..1_200).contains(&counts[2]), "{counts:?}");
        assert!(!p.describe().contains("wlp-Secret"), "{}", p.describe());
        assert!(p.describe().contains("POST /v1/orders, GET /v1/orders/{last_key}"), "{}", p.describe());
    }

    /// A server answering each request on its own connection with the next of `replies`.
    async fn server(replies: Vec<&'static [u8]>) -> (Target, tokio::task::JoinHandle<Vec<String>>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = tokio::spawn(async move {
            let mut seen = Vec::new();
            for reply in replies {
                let (mut s, _) = listener.accept().await.unwrap();
                let mut buf = vec![0u8; 4096];
                let n = s.read(&mut buf).await.unwrap();
                seen.push(String::from_utf8_lossy(&buf[..n]).into_owned());
                s.write_all(reply).await.unwrap();
            }
            seen
        });
        (Target::resolve(&format!("http://127.0.0.1:{port}")).await.unwrap(), seen)
    }

    #[tokio::test]
    async fn requests_render_send_headers_and_judge_status_and_body() {
        let (target, seen) = server(vec![
            b"HTTP/1.1 201 Created\r\ncontent-length: 0\r\n\r\n",
            b"HTTP/1.1 200 OK\r\ncontent-length: 12\r\n\r\n{\"ref\": \"a\"}",
            b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}",
            b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n",
        ])
        .await;
        let text = ISSUE.replace(
            "[[load.request]]\nkind = \"write\"",
            "[load]\nkeep_alive = false\n[[load.request]]\nkind = \"write\"",
        );
        let p = WorkloadProbe::new(target, workload(&text), &settings(), None);
        let mut conn = Conn::default();
        let t = Duration::from_secs(2);
        let write = Request { kind: Kind::Write, which: 0, seq: 5, last_acked: 4 };
        let read = Request { kind: Kind::Read, which: 1, seq: 0, last_acked: 5 };
        assert_eq!(p.send(&mut conn, write, t).await, None);
        assert_eq!(p.send(&mut conn, read, t).await, None);
        assert_eq!(p.send(&mut conn, read, t).await, Some(Failure::Status(200)), "body_contains unmet");
        let write_201_expected = Request { kind: Kind::Write, which: 0, seq: 6, last_acked: 5 };
        assert_eq!(p.send(&mut conn, write_201_expected, t).await, Some(Failure::Status(200)));
        let seen = seen.await.unwrap();
        assert!(seen[0].starts_with("POST /v1/orders HTTP/1.1\r\n"), "{}", seen[0]);
        assert!(seen[0].contains("\r\nAuthorization: Bearer wlp-Secret-5150\r\n"), "{}", seen[0]);
        assert!(seen[0].ends_with("\r\n\r\n{\"ref\": \"hd-w-0000000005\", \"qty\": 1}"), "{}", seen[0]);
        assert!(seen[1].starts_with("GET /v1/orders/hd-w-0000000005 HTTP/1.1\r\n"), "{}", seen[1]);
    }

    #[tokio::test]
    async fn key_read_back_goes_through_the_engines_client_with_the_write_headers() {
        let (target, seen) = server(vec![
            b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
            b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
            b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
        ])
        .await;
        let text = format!("{ISSUE}concurrency = 1\n");
        let p = WorkloadProbe::new(target, workload(&text), &settings(), None);
        assert_eq!(
            p.read_back(3, Duration::from_secs(5)).await,
            Verification::Read(SeqSet::from(vec![1, 3]))
        );
        let seen = seen.await.unwrap();
        assert!(seen[1].starts_with("GET /v1/orders/hd-w-0000000002 HTTP/1.1\r\n"), "{}", seen[1]);
        assert!(seen[1].contains("\r\nAuthorization: Bearer wlp-Secret-5150\r\n"), "{}", seen[1]);
    }

    #[tokio::test]
    async fn a_key_whose_get_fails_is_asked_again_without_starting_over() {
        use crate::load::verify::tests::{scripted, UNAVAILABLE};
        let ok = "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}".to_owned();
        let absent = "HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n".to_owned();
        let (target, seen) = scripted(vec![ok.clone(), UNAVAILABLE.into(), absent, ok]).await;
        let text =
            ISSUE.replace("path = \"/v1/orders/{key}\"\n", "path = \"/v1/orders/{key}\"\nconcurrency = 1\n");
        let p = WorkloadProbe::new(target, workload(&text), &settings(), None);
        assert_eq!(
            p.read_back(3, Duration::from_secs(5)).await,
            Verification::Read(SeqSet::from(vec![1, 3]))
        );
        let seen = seen.lock().unwrap().clone();
        let keys: Vec<&str> = seen.iter().map(|l| l.split(' ').nth(1).unwrap()).collect();
        assert_eq!(
            keys,
            [
                "/v1/orders/hd-w-0000000001",
                "/v1/orders/hd-w-0000000002",
                "/v1/orders/hd-w-0000000002",
                "/v1/orders/hd-w-0000000003"
            ]
        );
    }

    #[tokio::test]
    async fn list_read_back_finds_the_runs_keys_and_a_read_only_workload_reads_nothing() {
        let (target, seen) = server(vec![
            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 67\r\nconnection: close\r\n\r\n\
              {\"items\": [{\"id\": \"hd-w-0000000002\"}, {\"id\": \"other-0000000003\"}]}   ",
        ])
        .await;
        let text = ISSUE.replace(
            "[verify]\nkind = \"http\"\npath = \"/v1/orders/{key}\"\n",
            "[verify]\nkind = \"http_list\"\npath = \"/v1/orders?prefix={prefix}\"\npointer = \"/items/*/id\"\n",
        );
        let p = WorkloadProbe::new(target, workload(&text), &settings(), None);
        assert_eq!(p.read_back(3, Duration::from_secs(5)).await, Verification::Read(SeqSet::from(vec![2])));
        assert!(seen.await.unwrap()[0].starts_with("GET /v1/orders?prefix=hd-w- HTTP/1.1\r\n"));
        let reads = workload("[[load.request]]\npath = \"/status\"\n");
        let target = Target::resolve("http://127.0.0.1:9").await.unwrap();
        let p = WorkloadProbe::new(target, reads, &settings(), None);
        let v = p.read_back(0, Duration::from_secs(1)).await;
        assert_eq!(v, Verification::Failed(crate::measure::rpo::NO_WRITES.into()));
    }

    #[test]
    fn pointers_with_wildcards_collect_keys() {
        let v: serde_json::Value =
            serde_json::from_str(r#"{"items": [{"id": "a"}, {"id": 7}, {"x": 1}], "next": null}"#).unwrap();
        let mut out = Vec::new();
        collect(&v, "/items/*/id", &mut out);
        assert_eq!(out, vec!["a", "7"]);
        let mut out = Vec::new();
        collect(&serde_json::json!(["k1", "k2"]), "/*", &mut out);
        assert_eq!(out, vec!["k1", "k2"]);
    }
}
