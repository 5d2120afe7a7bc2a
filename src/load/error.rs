//! Why a probe could not be set up or could not read back: each variant says what the probe was doing and
//! keeps the error it met as its source. A failed *request* is not an error but data ([`Failure`]).
//!
//! [`Failure`]: crate::timeline::Failure

/// A probe's setup or read-back error.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error("url {url:?} is not a valid URL: {source}")]
    InvalidUrl {
        url: String,
        #[source]
        source: http::uri::InvalidUri,
    },
    #[error("{0}")]
    Target(#[from] crate::target::UrlError),
    #[error("{0}")]
    Tls(#[from] super::tls::TlsError),
    #[error("url {url:?}: {reason}")]
    Url { url: String, reason: &'static str },
    #[error("url {url:?}: cannot resolve {host}: {source}")]
    Resolve {
        url: String,
        host: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{target} is not published on 127.0.0.1 by the stack")]
    NotPublished { target: String },
    #[error("no HTTP endpoint for the load")]
    NoHttpEndpoint,
    #[error("{what}: {source}")]
    Postgres {
        what: &'static str,
        #[source]
        source: tokio_postgres::Error,
    },
    #[error("{what}: no answer within {}s", .after.as_secs_f64())]
    TimedOut { what: &'static str, after: std::time::Duration },
    #[error("the Sentinels name no master reachable on a published port")]
    NoMaster,
    #[error("{what}: {source}")]
    Io {
        what: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("{what}: {source}")]
    Http {
        what: &'static str,
        #[source]
        source: reqwest::Error,
    },
    #[error("{what} answered {answer}")]
    Answer { what: &'static str, answer: String },
}
