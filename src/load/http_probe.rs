//! The HTTP probes, sent on the engine's own HTTP/1.1 connections: the demo service's key-value API
//! (`PUT /kv/<key>` writes, `GET /kv/<key>` reads of the newest acknowledged write, read back through its
//! bulk read) and the plain `GET` of `hadrill load` (no writes, nothing to read back).

use std::time::Duration;

use bytes::Bytes;
use futures_util::FutureExt;
use http::Method;
use rand::rngs::StdRng;

use super::classify;
use super::http1::{Conn, Target};
use super::keys::key_for;
use super::probe::{Mix, Pick, Probe, ReadingBack, Request, Sending, Settings};
use crate::timeline::{Failure, Kind, Verification};

/// The demo service's key-value API: a 404 read is a correct answer (the key may not be written yet).
#[derive(Debug)]
pub struct KvProbe {
    target: Target,
    key_prefix: String,
    mix: Mix,
}

impl KvProbe {
    pub fn new(target: Target, settings: &Settings) -> KvProbe {
        KvProbe { target, key_prefix: settings.key_prefix.clone(), mix: Mix::new(settings.read_ratio) }
    }
}

impl Probe for KvProbe {
    fn next(&self, rng: &mut StdRng) -> Pick {
        self.mix.draw(rng).into()
    }

    fn send<'a>(&'a self, conn: &'a mut Conn, req: Request, timeout: Duration) -> Sending<'a> {
        let (method, key, body) = match req.kind {
            Kind::Write => {
                (Method::PUT, key_for(&self.key_prefix, req.seq), Bytes::from(req.seq.to_string()))
            }
            Kind::Read => (Method::GET, key_for(&self.key_prefix, req.last_acked), Bytes::new()),
        };
        let path = self.target.path(&format!("/kv/{key}"));
        async move {
            match conn.request(&self.target, method, &path, body, timeout).await {
                Ok(code) => classify::status(req.kind, code),
                Err(failure) => Some(failure),
            }
        }
        .boxed()
    }

    fn read_back(&self, _max_seq: u32, limit: Duration) -> ReadingBack<'_> {
        super::verify::read_back(&self.target, &self.key_prefix, limit).boxed()
    }

    fn describe(&self) -> String {
        self.target.url().to_owned()
    }
}

/// `GET url` every time; only a 2xx succeeds.
#[derive(Debug)]
pub struct GetProbe {
    target: Target,
    /// The path requested, made once.
    path: String,
}

impl GetProbe {
    pub fn new(target: Target) -> GetProbe {
        let path = target.path("");
        GetProbe { target, path }
    }
}

impl Probe for GetProbe {
    fn next(&self, _rng: &mut StdRng) -> Pick {
        Kind::Read.into()
    }

    fn send<'a>(&'a self, conn: &'a mut Conn, _req: Request, timeout: Duration) -> Sending<'a> {
        async move {
            match conn.request(&self.target, Method::GET, &self.path, Bytes::new(), timeout).await {
                Ok(code) => (!(200..300).contains(&code)).then_some(Failure::Status(code)),
                Err(failure) => Some(failure),
            }
        }
        .boxed()
    }

    fn read_back(&self, _max_seq: u32, _limit: Duration) -> ReadingBack<'_> {
        async { Verification::Failed("nothing to read back".into()) }.boxed()
    }

    fn describe(&self) -> String {
        self.target.url().to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A server answering each request on one connection with the next of `replies`; returns the requests.
    async fn server(replies: Vec<&'static [u8]>) -> (Target, tokio::task::JoinHandle<Vec<String>>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut buf = vec![0u8; 4096];
            let mut seen = Vec::new();
            for reply in replies {
                let n = s.read(&mut buf).await.unwrap();
                seen.push(String::from_utf8_lossy(&buf[..n]).into_owned());
                s.write_all(reply).await.unwrap();
            }
            seen
        });
        (Target::resolve(&format!("http://127.0.0.1:{port}/base")).await.unwrap(), seen)
    }

    #[tokio::test]
    async fn key_value_writes_its_sequence_and_reads_the_newest_acknowledged_write() {
        let (target, seen) = server(vec![
            b"HTTP/1.1 204 No Content\r\n\r\n",
            b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n",
            b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n",
        ])
        .await;
        let settings =
            Settings { key_prefix: "hd-x-".into(), timeout: Duration::from_secs(2), read_ratio: 0.5 };
        let probe = KvProbe::new(target, &settings);
        assert_eq!(probe.describe(), probe.target.url());
        let mut conn = Conn::default();
        let t = Duration::from_secs(2);
        let write = Request { kind: Kind::Write, which: 0, seq: 7, last_acked: 3 };
        let read = Request { kind: Kind::Read, which: 0, seq: 0, last_acked: 7 };
        assert_eq!(probe.send(&mut conn, write, t).await, None);
        assert_eq!(probe.send(&mut conn, read, t).await, None, "a missing key is a correct read");
        let lost = Request { kind: Kind::Write, which: 0, seq: 8, last_acked: 7 };
        assert_eq!(probe.send(&mut conn, lost, t).await, Some(Failure::Status(404)));
        let seen = seen.await.unwrap();
        assert!(seen[0].starts_with("PUT /base/kv/hd-x-0000000007 HTTP/1.1\r\n"), "{}", seen[0]);
        assert!(seen[0].ends_with("\r\n\r\n7"), "{}", seen[0]);
        assert!(seen[1].starts_with("GET /base/kv/hd-x-0000000007 HTTP/1.1\r\n"), "{}", seen[1]);
    }

    #[tokio::test]
    async fn get_reads_only_and_counts_non_2xx_as_failures() {
        let (target, seen) = server(vec![
            b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok",
            b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n",
        ])
        .await;
        let probe = GetProbe::new(target);
        let mut rng = StdRng::seed_from_u64(1);
        assert!((0..100).all(|_| probe.next(&mut rng) == Kind::Read.into()));
        let mut conn = Conn::default();
        let req = Request { kind: Kind::Read, which: 0, seq: 0, last_acked: 0 };
        assert_eq!(probe.send(&mut conn, req, Duration::from_secs(2)).await, None);
        assert_eq!(probe.send(&mut conn, req, Duration::from_secs(2)).await, Some(Failure::Status(404)));
        assert!(seen.await.unwrap().iter().all(|r| r.starts_with("GET /base HTTP/1.1\r\n")));
        let v = probe.read_back(10, Duration::from_secs(1)).await;
        assert_eq!(v, Verification::Failed("nothing to read back".into()));
    }
}
