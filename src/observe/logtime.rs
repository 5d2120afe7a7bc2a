//! Timestamps as components write them in their logs, read with their time zone into Unix nanoseconds, so they
//! go onto the drill's clock like the Docker daemon's event times ([`crate::timeline::Clock::wall_to_nanos`]).
//! A timestamp without a zone is not guessed at: the caller takes the daemon's receive time instead.

use time::{Date, Month, PrimitiveDateTime, Time, UtcOffset};

/// A timestamp at the start of `s`, and the rest of the line after it (and the blank that follows).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp<'a> {
    pub unix_ns: u128,
    /// The finest unit it was written in, in microseconds (1000 for milliseconds).
    pub precision_us: u32,
    pub rest: &'a str,
}

fn digits(s: &str, at: usize, n: usize) -> Option<u32> {
    let d = s.get(at..at + n)?;
    d.bytes().all(|b| b.is_ascii_digit()).then(|| d.parse().ok())?
}

/// Reads `YYYY-MM-DD[T ]HH:MM:SS[.,fraction]` then a zone: `Z`, `±HH:MM`, `±HHMM`, or ` UTC`/` GMT` (the
/// zone names PostgreSQL's `%m` writes for them). `None` without a zone it knows.
pub fn parse(s: &str) -> Option<Stamp<'_>> {
    let b = s.as_bytes();
    if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b' ') || b[13] != b':' {
        return None;
    }
    let month = Month::try_from(u8::try_from(digits(s, 5, 2)?).ok()?).ok()?;
    let date = Date::from_calendar_date(i32::try_from(digits(s, 0, 4)?).ok()?, month, digits(s, 8, 2)? as u8)
        .ok()?;
    let (h, m, sec) = (digits(s, 11, 2)?, digits(s, 14, 2)?, digits(s, 17, 2)?);
    let mut i = 19;
    let (mut nanos, mut precision_us) = (0u32, 1_000_000u32);
    if matches!(b.get(i), Some(b'.' | b',')) {
        let frac: String = s[i + 1..].chars().take_while(|c| c.is_ascii_digit()).take(9).collect();
        if frac.is_empty() {
            return None;
        }
        nanos = format!("{frac:0<9}").parse().ok()?;
        precision_us = 10u32.pow(6u32.saturating_sub(frac.len() as u32)).max(1);
        i += 1 + s[i + 1..].chars().take_while(|c| c.is_ascii_digit()).count();
    }
    let time = Time::from_hms_nano(h as u8, m as u8, sec as u8, nanos).ok()?;
    let rest = &s[i..];
    let (offset, after) = if let Some(r) = rest.strip_prefix('Z') {
        (UtcOffset::UTC, r)
    } else if let Some(r) = rest.strip_prefix(" UTC").or_else(|| rest.strip_prefix(" GMT")) {
        (UtcOffset::UTC, r)
    } else if let Some(sign @ ('+' | '-')) = rest.chars().next() {
        let hh = digits(rest, 1, 2)?;
        let (mm, len) = if rest.as_bytes().get(3) == Some(&b':') {
            (digits(rest, 4, 2)?, 6)
        } else {
            (digits(rest, 3, 2)?, 5)
        };
        let secs = i32::try_from(hh * 3600 + mm * 60).ok()? * if sign == '-' { -1 } else { 1 };
        (UtcOffset::from_whole_seconds(secs).ok()?, &rest[len..])
    } else {
        return None;
    };
    let t = PrimitiveDateTime::new(date, time).assume_offset(offset);
    let unix_ns = u128::try_from(t.unix_timestamp_nanos()).ok()?;
    Some(Stamp { unix_ns, precision_us, rest: after.strip_prefix(' ').unwrap_or(after) })
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: u128 = 1_764_103_547_000_000_000; // 2025-11-25T20:45:47Z

    #[test]
    fn reads_the_formats_the_bundled_components_write() {
        let docker = parse("2025-11-25T20:45:47.338414513Z Server apps/app1 is DOWN").unwrap();
        assert_eq!(
            (docker.unix_ns, docker.precision_us, docker.rest),
            (T0 + 338_414_513, 1, "Server apps/app1 is DOWN")
        );
        let haproxy = parse("2025-11-25T20:45:47.338358+00:00 Server").unwrap();
        assert_eq!((haproxy.unix_ns, haproxy.precision_us), (T0 + 338_358_000, 1));
        let pg = parse("2025-11-25 20:45:47.338 UTC [57] LOG:  selected new timeline ID: 2").unwrap();
        assert_eq!(
            (pg.unix_ns, pg.precision_us, pg.rest),
            (T0 + 338_000_000, 1000, "[57] LOG:  selected new timeline ID: 2")
        );
    }

    #[test]
    fn the_zone_moves_the_instant() {
        let paris = parse("2025-11-25T21:45:47.338+01:00 x").unwrap();
        assert_eq!(paris.unix_ns, T0 + 338_000_000);
        let compact = parse("2025-11-25T15:45:47,338-0500 x").unwrap();
        assert_eq!(compact.unix_ns, T0 + 338_000_000);
    }

    #[test]
    fn a_timestamp_without_a_zone_or_a_bad_one_is_not_read() {
        assert_eq!(
            parse("2025-11-25 20:45:47,338 INFO: promoted self to leader"),
            None,
            "Patroni: local time"
        );
        assert_eq!(parse("2025/11/25 20:45:47 [error] 22#22: no live upstreams"), None, "nginx: local time");
        assert_eq!(parse("2025-13-25T20:45:47Z x"), None);
        assert_eq!(parse("[WARNING]  (8) : Server apps/app1 is DOWN"), None);
    }
}
