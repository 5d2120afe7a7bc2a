//! Turning an HTTP answer or a transport error into a [`Failure`] (or success).

use crate::timeline::{Failure, Kind};

/// Success, or the failure an HTTP status is. A read of a missing key (404) is a correct answer.
pub fn status(kind: Kind, code: u16) -> Option<Failure> {
    match (kind, code) {
        (_, 200..=299) => None,
        (Kind::Read, 404) => None,
        _ => Some(Failure::Status(code)),
    }
}

/// The failure a transport error is, by walking its causes for an I/O error kind.
pub fn transport(err: &reqwest::Error) -> Failure {
    if err.is_timeout() {
        return Failure::Timeout;
    }
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = source {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            return io_kind(io.kind());
        }
        let text = e.to_string();
        if text.contains("connection closed before message completed") || text.contains("connection reset") {
            return Failure::Reset;
        }
        source = e.source();
    }
    if err.is_connect() {
        Failure::Refused
    } else {
        Failure::Transport
    }
}

pub fn io_kind(kind: std::io::ErrorKind) -> Failure {
    use std::io::ErrorKind::*;
    match kind {
        ConnectionRefused => Failure::Refused,
        ConnectionReset | ConnectionAborted | BrokenPipe | UnexpectedEof => Failure::Reset,
        TimedOut => Failure::Timeout,
        _ => Failure::Transport,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses() {
        assert_eq!(status(Kind::Write, 204), None);
        assert_eq!(status(Kind::Read, 404), None);
        assert_eq!(status(Kind::Write, 404), Some(Failure::Status(404)));
        assert_eq!(status(Kind::Read, 503), Some(Failure::Status(503)));
    }

    #[test]
    fn io_kinds() {
        assert_eq!(io_kind(std::io::ErrorKind::ConnectionRefused), Failure::Refused);
        assert_eq!(io_kind(std::io::ErrorKind::ConnectionReset), Failure::Reset);
        assert_eq!(io_kind(std::io::ErrorKind::Other), Failure::Transport);
    }
}
