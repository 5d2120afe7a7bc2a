//! The TLS client against a local rustls server on 127.0.0.1 with certificates made in the test (rcgen): an
//! unknown issuer refused as `tls`, insecure and `tls_ca` accepted, SNI and the `Host` override sent, a
//! reconnect resuming the session, and the read-backs (key-value bulk read, `[verify] kind = "http_list"`)
//! going through the same TLS and `Host` settings as the load.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::Method;
use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::rustls::{HandshakeKind, ServerConfig};

use super::TlsOptions;
use crate::load::http1::{Conn, Target};
use crate::timeline::{Failure, SeqSet, Verification};

/// What the server saw on one connection: the SNI name, whether the session was resumed, the Host header.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Seen {
    sni: Option<String>,
    resumed: bool,
    host: String,
}

/// A CA's PEM and a server certificate it signed for `edge.test` and 127.0.0.1, served on 127.0.0.1 by a
/// server answering one request per connection (`connection: close`, so every request reconnects).
async fn server() -> (String, u16, tokio::sync::mpsc::UnboundedReceiver<Seen>) {
    serve(b"HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 2\r\n\r\nok").await
}

/// [`server`] answering every request with `reply`.
async fn serve(reply: &'static [u8]) -> (String, u16, tokio::sync::mpsc::UnboundedReceiver<Seen>) {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_key = KeyPair::generate().unwrap();
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let params = CertificateParams::new(vec!["edge.test".to_owned(), "127.0.0.1".to_owned()]).unwrap();
    let key = KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, &ca, &ca_key).unwrap();
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.der().clone()],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        )
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        // Bounded: a test makes a handful of connections.
        for _ in 0..16 {
            let Ok((tcp, _)) = listener.accept().await else { return };
            let Ok(mut s) = acceptor.accept(tcp).await else { continue };
            let (_, conn) = s.get_ref();
            let sni = conn.server_name().map(str::to_owned);
            let resumed = conn.handshake_kind() == Some(HandshakeKind::Resumed);
            let mut buf = vec![0u8; 4096];
            let n = s.read(&mut buf).await.unwrap_or(0);
            let head = String::from_utf8_lossy(&buf[..n]).to_string();
            let host = head.lines().find_map(|l| l.strip_prefix("host: ")).unwrap_or("").to_owned();
            let _ = tx.send(Seen { sni, resumed, host });
            let _ = s.write_all(reply).await;
            let _ = s.shutdown().await;
        }
    });
    (ca.pem(), port, rx)
}

async fn get(target: &Target) -> Result<u16, Failure> {
    Conn::default().request(target, Method::GET, "/", Bytes::new(), Duration::from_secs(2)).await
}

async fn target(port: u16, options: &TlsOptions) -> Target {
    let url = format!("https://127.0.0.1:{port}/");
    Target::checked(&crate::target::HttpUrl::parse(&url, crate::target::Reach::Loopback).unwrap())
        .await
        .unwrap()
        .with_tls(options)
        .unwrap()
}

#[tokio::test]
async fn an_unknown_issuer_is_a_tls_failure_and_insecure_accepts_it() {
    let (_, port, mut seen) = server().await;
    let refused = target(port, &TlsOptions::default()).await;
    assert_eq!(get(&refused).await, Err(Failure::Tls), "the system roots do not hold the test's CA");
    assert!(Failure::Tls.is_definite() && Failure::Tls.label() == "tls_error");
    let insecure = target(port, &TlsOptions { insecure: true, ..TlsOptions::default() }).await;
    assert_eq!(get(&insecure).await, Ok(200));
    let s = seen.recv().await.unwrap();
    assert_eq!((s.sni, s.resumed, s.host), (None, false, format!("127.0.0.1:{port}")), "no SNI for an IP");
}

#[tokio::test]
async fn the_ca_file_and_server_name_are_used_and_reconnects_resume() {
    let (ca_pem, port, mut seen) = server().await;
    let dir = std::env::temp_dir().join(format!("hadrill-tls-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ca = dir.join("ca.pem");
    std::fs::write(&ca, ca_pem).unwrap();
    let options =
        TlsOptions { insecure: false, ca: Some(ca.clone()), server_name: Some("edge.test".to_owned()) };
    let t = target(port, &options).await.with_host(Some("orders.example"));
    assert_eq!(get(&t).await, Ok(200));
    // A new connection (the server closed the first) with the same shared configuration resumes.
    assert_eq!(get(&t).await, Ok(200));
    let first = seen.recv().await.unwrap();
    let second = seen.recv().await.unwrap();
    let expected = |resumed| Seen { sni: Some("edge.test".into()), resumed, host: "orders.example".into() };
    assert_eq!((first, second), (expected(false), expected(true)));
    // The same CA with a name the certificate does not carry: refused.
    let wrong = TlsOptions { server_name: Some("other.test".to_owned()), ..options };
    assert_eq!(get(&target(port, &wrong).await).await, Err(Failure::Tls));
    // A CA file that holds no certificate is a setup error naming the file.
    std::fs::write(&ca, "not a certificate\n").unwrap();
    let e = Target::resolve(&format!("https://127.0.0.1:{port}/"))
        .await
        .unwrap()
        .with_tls(&TlsOptions { ca: Some(ca.clone()), ..TlsOptions::default() })
        .unwrap_err()
        .to_string();
    assert!(e.contains("ca.pem") && e.contains("no CERTIFICATE"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn read_backs_go_through_the_loads_tls_and_host_settings() {
    use crate::load::probe::{Probe, Settings};
    let insecure = TlsOptions { insecure: true, ..TlsOptions::default() };
    let settings = Settings { key_prefix: "hd-t-".into(), timeout: Duration::from_secs(2), read_ratio: 0.5 };
    // The demo's bulk read, its page sent in chunks.
    let (_, port, mut seen) = serve(
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n\
          10\r\n{\"items\": [{\"k\":\r\n23\r\n \"hd-t-0000000002\"}], \"next\": null}\r\n0\r\n\r\n",
    )
    .await;
    let kv = crate::load::http_probe::KvProbe::new(
        target(port, &insecure).await.with_host(Some("kv.test")),
        &settings,
    );
    assert_eq!(kv.read_back(3, Duration::from_secs(5)).await, Verification::Read(SeqSet::from(vec![2])));
    assert_eq!(seen.recv().await.unwrap().host, "kv.test");
    // A workload's list endpoint.
    let (_, port, mut seen) = serve(
        b"HTTP/1.1 200 OK\r\ncontent-length: 41\r\nconnection: close\r\n\r\n{\"items\": [{\"id\": \"hd-t-0000000003\"}]}   ",
    )
    .await;
    std::env::set_var("HD_TLS_KEY", "tls-Secret-8080");
    let text = "name = \"x\"\nstack = \"web-haproxy-pg\"\nduration = \"30s\"\n\
        [[load.request]]\nkind = \"write\"\nmethod = \"POST\"\npath = \"/v1/orders/{key}\"\n\
        [verify]\nkind = \"http_list\"\npath = \"/v1/orders\"\nheaders = { \"X-Key\" = \"${HD_TLS_KEY}\" }\n\
        pointer = \"/items/*/id\"\n";
    let workload =
        crate::scenario::parse(std::path::Path::new("t.toml"), text).unwrap().load.workload.unwrap();
    let t = target(port, &insecure).await.with_host(Some("orders.test"));
    let list = crate::load::workload::WorkloadProbe::new(t, workload, &settings, None);
    assert_eq!(list.read_back(3, Duration::from_secs(5)).await, Verification::Read(SeqSet::from(vec![3])));
    assert_eq!(seen.recv().await.unwrap().host, "orders.test");
    // Refused by the certificate check as the load would be: the read-back says so instead of reading.
    let (_, port, _seen) = server().await;
    let strict = crate::load::http_probe::KvProbe::new(target(port, &TlsOptions::default()).await, &settings);
    match strict.read_back(3, Duration::from_millis(100)).await {
        Verification::Failed(why) => assert!(why.contains("tls_error"), "{why}"),
        other => panic!("{other:?}"),
    }
}
