//! Turning an HTTP answer or an I/O error into a [`Failure`] (or success).

use crate::timeline::{Failure, Kind};

/// Success, or the failure an HTTP status is. A read of a missing key (404) is a correct answer.
pub fn status(kind: Kind, code: u16) -> Option<Failure> {
    match (kind, code) {
        (_, 200..=299) => None,
        (Kind::Read, 404) => None,
        _ => Some(Failure::Status(code)),
    }
}

/// The failure an I/O error of this kind is.
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
