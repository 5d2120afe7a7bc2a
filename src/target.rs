//! URLs hadrill sends traffic to, parsed once with the `url` crate and checked on what was parsed: plain
//! `http://` or `https://`, no user or password, a port in range, and a loopback host (127.0.0.0/8, `::1`, `localhost`)
//! unless remote targets are allowed. The checked URL carries the exact address the client then connects to,
//! so the text is never read twice (a hand-written split once read the host before the last `:` while the
//! client connected to the host after the `@`).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use url::{Host, Url};

/// Whether a URL may point off this machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// Only 127.0.0.0/8, `::1` and `localhost` (taken as 127.0.0.1, without asking a resolver).
    Loopback,
    /// Any host (`hadrill load --allow-remote`).
    Remote,
}

/// A URL refused, with the text as given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("url {url:?} {reason}")]
pub struct UrlError {
    pub url: String,
    pub reason: String,
}

/// A parsed and checked `http://` or `https://` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpUrl {
    url: Url,
    host: Host<String>,
    port: u16,
}

impl HttpUrl {
    /// Parses `text` and checks it for `reach`.
    pub fn parse(text: &str, reach: Reach) -> Result<HttpUrl, UrlError> {
        let refuse = |reason: String| UrlError { url: text.to_owned(), reason };
        let url = Url::parse(text.trim()).map_err(|e| refuse(parse_reason(text, e)))?;
        if url.scheme() != "http" && url.scheme() != "https" {
            return Err(refuse(format!("must start with http:// or https:// (not {}://)", url.scheme())));
        }
        if !url.username().is_empty() || url.password().is_some() || authority(text).contains('@') {
            return Err(refuse("must not carry a user or password (no `@` before the host)".into()));
        }
        let host = url.host().ok_or_else(|| refuse("has no host".into()))?.to_owned();
        let port = url.port_or_known_default().unwrap_or(80);
        if port == 0 {
            return Err(refuse("names port 0".into()));
        }
        if reach == Reach::Loopback && !is_loopback(&host) {
            return Err(refuse(format!(
                "is not on this machine (host {host}): hadrill only sends traffic to 127.0.0.1, ::1 or \
                 localhost unless --allow-remote"
            )));
        }
        Ok(HttpUrl { url, host, port })
    }

    /// The URL as parsed (normalised: `http://127.0.0.1:8080/`).
    pub fn as_str(&self) -> &str {
        self.url.as_str()
    }

    /// Whether the URL is `https://`.
    pub fn is_https(&self) -> bool {
        self.url.scheme() == "https"
    }

    /// The host as written in a URL (`127.0.0.1`, `[::1]`, `localhost`): the default TLS server name.
    pub fn host_text(&self) -> String {
        self.host.to_string()
    }

    /// The `Host` header: the host, and the port when the URL names one that is not the scheme's default.
    pub fn authority(&self) -> String {
        match self.url.port() {
            Some(p) => format!("{}:{p}", self.host),
            None => self.host.to_string(),
        }
    }

    /// The path and query (`/` at least).
    pub fn path_and_query(&self) -> String {
        match self.url.query() {
            Some(q) => format!("{}?{q}", self.url.path()),
            None => self.url.path().to_owned(),
        }
    }

    /// The address to connect to: the parsed IP itself, 127.0.0.1 for `localhost`, or (remote names only)
    /// the first address the resolver gives.
    pub async fn socket_addr(&self) -> Result<SocketAddr, UrlError> {
        let refuse = |reason: String| UrlError { url: self.url.to_string(), reason };
        match &self.host {
            Host::Ipv4(ip) => Ok(SocketAddr::new(IpAddr::V4(*ip), self.port)),
            Host::Ipv6(ip) => Ok(SocketAddr::new(IpAddr::V6(*ip), self.port)),
            Host::Domain(d) if d.eq_ignore_ascii_case("localhost") => {
                Ok(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), self.port))
            }
            Host::Domain(d) => tokio::net::lookup_host((d.as_str(), self.port))
                .await
                .map_err(|e| refuse(format!("cannot be resolved: {e}")))?
                .next()
                .ok_or_else(|| refuse(format!("{d} resolves to no address"))),
        }
    }
}

fn is_loopback(host: &Host<String>) -> bool {
    match host {
        Host::Ipv4(ip) => ip.is_loopback(),
        Host::Ipv6(ip) => ip.is_loopback(),
        Host::Domain(d) => d.eq_ignore_ascii_case("localhost"),
    }
}

/// The text between `//` and the path, query or fragment (empty when there is no `//`).
fn authority(text: &str) -> &str {
    let rest = text.split_once("//").map(|(_, r)| r).unwrap_or("");
    rest.split(['/', '?', '#']).next().unwrap_or("")
}

/// The `url` crate's reason in words that name the part at fault.
fn parse_reason(text: &str, e: url::ParseError) -> String {
    match e {
        url::ParseError::InvalidPort => {
            let port = authority(text).rsplit_once(':').map(|(_, p)| p);
            match port {
                Some(p) => format!("has port {p:?}: a port is a number from 1 to 65535"),
                None => "has an invalid port: a port is a number from 1 to 65535".into(),
            }
        }
        url::ParseError::RelativeUrlWithoutBase => {
            "is not a URL: write it whole, e.g. http://127.0.0.1:8080/".into()
        }
        other => format!("is not a valid URL: {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loopback(text: &str) -> Result<HttpUrl, String> {
        HttpUrl::parse(text, Reach::Loopback).map_err(|e| e.to_string())
    }

    #[tokio::test]
    async fn loopback_urls_connect_to_what_was_checked() {
        for (text, addr) in [
            ("http://127.0.0.1:8080/x", "127.0.0.1:8080"),
            ("http://127.1.2.3/", "127.1.2.3:80"),
            ("http://[::1]:9000/", "[::1]:9000"),
            ("http://LOCALHOST:81", "127.0.0.1:81"),
            ("http://0x7f.1:82/", "127.0.0.1:82"),
        ] {
            let u = loopback(text).unwrap();
            assert_eq!(u.socket_addr().await.unwrap(), addr.parse().unwrap(), "{text}");
        }
        let u = loopback("http://127.0.0.1:8080/api?x=1").unwrap();
        assert_eq!((u.authority(), u.path_and_query()), ("127.0.0.1:8080".into(), "/api?x=1".into()));
        assert_eq!(loopback("http://localhost").unwrap().authority(), "localhost");
        let u = loopback("https://localhost/").unwrap();
        assert!(u.is_https() && !loopback("http://[::1]/").unwrap().is_https());
        assert_eq!((u.authority(), u.host_text()), ("localhost".into(), "localhost".into()));
        assert_eq!(u.socket_addr().await.unwrap(), "127.0.0.1:443".parse().unwrap());
        assert_eq!(loopback("https://[::1]:8443/").unwrap().authority(), "[::1]:8443");
    }

    #[test]
    fn userinfo_and_remote_hosts_are_refused() {
        for text in [
            "http://127.0.0.1:80@10.0.0.1/",
            "http://127.0.0.1:@10.0.0.1/",
            "http://user@127.0.0.1/",
            "http://@127.0.0.1/",
            "http://u:p@127.0.0.1/",
        ] {
            let e = loopback(text).unwrap_err();
            assert!(e.contains("user or password"), "{text}: {e}");
        }
        for text in
            ["http://10.0.0.1/", "http://example.com/", "http://[::ffff:127.0.0.1]/", "http://0.0.0.0/"]
        {
            let e = loopback(text).unwrap_err();
            assert!(e.contains("not on this machine") && e.contains(text), "{text}: {e}");
        }
        let e = loopback("https://10.0.0.1:443/").unwrap_err();
        assert!(e.contains("not on this machine"), "the loopback rule holds for https: {e}");
        assert!(HttpUrl::parse("http://10.0.0.1:8080/", Reach::Remote).is_ok());
        assert!(HttpUrl::parse("http://a:b@10.0.0.1/", Reach::Remote).is_err());
        assert!(loopback("http://127.0.0.1/kv?owner=a@b").is_ok(), "an @ after the host is data");
    }

    #[test]
    fn ports_schemes_and_garbage_are_refused_with_the_text() {
        let e = loopback("http://127.0.0.1:99999/").unwrap_err();
        assert!(e.contains("port \"99999\"") && e.contains("1 to 65535"), "{e}");
        assert!(loopback("http://127.0.0.1:0/").unwrap_err().contains("port 0"));
        assert!(loopback("http://127.0.0.1:-1/").unwrap_err().contains("port"));
        assert!(loopback("ftp://127.0.0.1/").unwrap_err().contains("http:// or https://"));
        assert!(loopback("127.0.0.1:8080").unwrap_err().contains("http://"));
        assert!(loopback("not a url").unwrap_err().contains("\"not a url\" is not a URL"));
        assert!(loopback("http://").unwrap_err().contains("\"http://\""));
    }

    #[tokio::test]
    async fn redirects_are_not_followed_off_the_checked_address() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let elsewhere = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let location = format!("http://{}/", elsewhere.local_addr().unwrap());
        let first = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/kv", first.local_addr().unwrap());
        let server = tokio::spawn(async move {
            let (mut s, _) = first.accept().await.unwrap();
            let mut buf = vec![0u8; 4096];
            let _ = s.read(&mut buf).await.unwrap();
            let reply = format!("HTTP/1.1 302 Found\r\nlocation: {location}\r\ncontent-length: 0\r\n\r\n");
            s.write_all(reply.as_bytes()).await.unwrap();
        });
        let client = crate::http::client(std::time::Duration::from_secs(2), 1);
        let resp = client.get(loopback(&url).unwrap().as_str()).send().await.unwrap();
        assert_eq!(resp.status().as_u16(), 302);
        server.await.unwrap();
        let followed = tokio::time::timeout(std::time::Duration::from_millis(200), elsewhere.accept()).await;
        assert!(followed.is_err(), "the client connected to the redirect's address");
    }
}
