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

/// The failure a transport error is, by walking its causes: an I/O error kind, or hyper's own view of a
/// connection that closed or a request that never completed.
pub fn chain(err: &(dyn std::error::Error + 'static)) -> Failure {
    let mut source = Some(err);
    while let Some(e) = source {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            return io_kind(io.kind());
        }
        if let Some(h) = e.downcast_ref::<hyper::Error>() {
            if h.is_timeout() {
                return Failure::Timeout;
            }
            if h.is_incomplete_message() || h.is_closed() || h.is_canceled() {
                return Failure::Reset;
            }
        }
        source = e.source();
    }
    Failure::Transport
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
    fn error_chains() {
        let reset = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "peer");
        assert_eq!(chain(&reset), Failure::Reset);
        let wrapped = std::io::Error::other(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
        // The outer error's own kind (Other) decides: only a cause with no closer classification falls through.
        assert_eq!(chain(&wrapped), Failure::Transport);
        assert_eq!(chain(&std::fmt::Error), Failure::Transport);
    }

    #[test]
    fn io_kinds() {
        assert_eq!(io_kind(std::io::ErrorKind::ConnectionRefused), Failure::Refused);
        assert_eq!(io_kind(std::io::ErrorKind::ConnectionReset), Failure::Reset);
        assert_eq!(io_kind(std::io::ErrorKind::Other), Failure::Transport);
    }
}
