//! TLS for the load engine's HTTP/1.1 client (rustls with the `ring` provider): the client configuration an
//! `https://` target carries, built once and shared by all its connections, so that a reconnect resumes the
//! session (rustls' in-memory session cache, 256 entries) wherever the server allows it.
//!
//! Trust is one of: the system's CA bundle (the default), the certificates of one PEM file (`tls_ca`, `--ca`),
//! or none at all (`tls_insecure`, `--insecure`: any certificate is accepted, its signatures still checked).
//! A handshake that fails is the request's [`Failure::Tls`], never retried within the request.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use tokio_rustls::rustls::crypto::{self, CryptoProvider};
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use tokio_rustls::rustls::{self, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio_rustls::TlsConnector;

use super::classify;
use crate::timeline::Failure;

/// The system CA bundle read when neither `tls_ca` nor `tls_insecure` is given (Debian's path).
const SYSTEM_CA: &str = "/etc/ssl/certs/ca-certificates.crt";

/// How an `https://` target is trusted and named: the `[load]` keys `tls_insecure`, `tls_ca`,
/// `tls_server_name`, and `hadrill load --insecure/--ca/--server-name`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsOptions {
    /// Accept any certificate (self-signed, expired, another name).
    pub insecure: bool,
    /// Trust only the certificates in this PEM file.
    pub ca: Option<PathBuf>,
    /// The name sent in SNI and checked against the certificate; default: the URL's host.
    pub server_name: Option<String>,
}

/// A TLS client setup that cannot be built, with the file or name at fault.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("tls ca file {path:?}: {source}")]
    CaFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("tls ca file {path:?}: {reason}")]
    CaContent { path: PathBuf, reason: String },
    #[error("tls server name {name:?} is not a DNS name or an IP address")]
    ServerName { name: String },
    #[error("tls setup: {0}")]
    Rustls(#[from] rustls::Error),
}

/// What an `https://` target's connections share: the configuration (with its session cache) and the name.
#[derive(Clone)]
pub struct Tls {
    connector: TlsConnector,
    name: ServerName<'static>,
    /// Whether a refused handshake's reason was logged: once per target, not once per request.
    told: Arc<AtomicBool>,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Tls({:?})", self.name)
    }
}

impl Tls {
    /// Builds the client configuration for `options`; `host` (the URL's) is the server name unless
    /// `options.server_name` gives one.
    pub fn new(options: &TlsOptions, host: &str) -> Result<Tls, TlsError> {
        let provider = Arc::new(crypto::ring::default_provider());
        let builder =
            ClientConfig::builder_with_provider(provider.clone()).with_safe_default_protocol_versions()?;
        let config = if options.insecure {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
                .with_no_client_auth()
        } else {
            let roots = match &options.ca {
                Some(path) => roots(path, true)?,
                None => roots(Path::new(SYSTEM_CA), false)?,
            };
            builder.with_root_certificates(roots).with_no_client_auth()
        };
        let name_text = options.server_name.as_deref().unwrap_or(host);
        let bare = name_text.trim_start_matches('[').trim_end_matches(']');
        let name = ServerName::try_from(bare.to_owned())
            .map_err(|_| TlsError::ServerName { name: name_text.to_owned() })?;
        Ok(Tls { connector: TlsConnector::from(Arc::new(config)), name, told: Arc::default() })
    }

    /// The handshake on a connected socket. A refusal by either side (certificate, alert, protocol) is
    /// [`Failure::Tls`], its reason logged once; a socket error during it is classified as any other.
    pub async fn handshake(&self, tcp: TcpStream) -> Result<TlsStream<TcpStream>, Failure> {
        self.connector.connect(self.name.clone(), tcp).await.map_err(|e| {
            if let Some(reason) = e.get_ref().and_then(|inner| inner.downcast_ref::<rustls::Error>()) {
                if !self.told.swap(true, Ordering::Relaxed) {
                    tracing::warn!("TLS handshake with {:?} refused: {reason}", self.name);
                }
                Failure::Tls
            } else {
                classify::io_kind(e.kind())
            }
        })
    }
}

/// The certificates of a PEM file; a missing system bundle is an empty store (every handshake then fails
/// with an unknown issuer: the user gives `tls_ca` or `tls_insecure`).
fn roots(path: &Path, required: bool) -> Result<RootCertStore, TlsError> {
    let mut store = RootCertStore::empty();
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if !required && e.kind() == std::io::ErrorKind::NotFound => return Ok(store),
        Err(source) => return Err(TlsError::CaFile { path: path.to_owned(), source }),
    };
    let content = |reason: String| TlsError::CaContent { path: path.to_owned(), reason };
    for cert in rustls_pemfile::certs(&mut std::io::BufReader::new(file)) {
        let cert = cert.map_err(|e| content(format!("not PEM: {e}")))?;
        store.add(cert).map_err(|e| content(format!("a certificate is not usable: {e}")))?;
    }
    if store.is_empty() && required {
        return Err(content("holds no CERTIFICATE block".into()));
    }
    Ok(store)
}

/// `tls_insecure`: every certificate is accepted; the handshake's signatures are still verified, so the
/// session is encrypted to whoever holds the presented certificate's key.
#[derive(Debug)]
struct AnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
#[path = "tls_tests.rs"]
mod tests;
