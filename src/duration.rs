//! Durations as people write them in scenario files and flags: `500ms`, `30s`, `2m`, `1.5s`, `1h`.

use std::time::Duration;

/// Parses `<number><unit>` with unit `ms`, `s`, `m` or `h`.
pub fn parse(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).ok_or_else(|| {
        format!("duration {text:?} has no unit (use ms, s, m or h, e.g. \"500ms\", \"30s\")")
    })?;
    let (num, unit) = t.split_at(split);
    let value: f64 = num.parse().map_err(|_| format!("duration {text:?} does not start with a number"))?;
    let factor = match unit {
        "ms" => 0.001,
        "s" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        _ => return Err(format!("duration {text:?}: unknown unit {unit:?} (use ms, s, m or h)")),
    };
    let secs = value * factor;
    if !secs.is_finite() || secs > 86_400.0 * 7.0 {
        return Err(format!("duration {text:?} is out of range"));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// Human form: `850ms`, `2.31s`, `3m05s`.
pub fn human(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    if ms < 1000.0 {
        format!("{ms:.0}ms")
    } else if ms < 60_000.0 {
        format!("{:.2}s", ms / 1000.0)
    } else {
        let s = d.as_secs();
        format!("{}m{:02}s", s / 60, s % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units() {
        assert_eq!(parse("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse("2m"), Ok(Duration::from_secs(120)));
    }

    #[test]
    fn rejects_bad_durations_with_the_value() {
        for bad in ["30", "s", "3 parsecs", "-1s", "1e9h", ""] {
            let e = parse(bad).unwrap_err();
            assert!(e.contains(&format!("{bad:?}")), "{bad}: {e}");
        }
    }

    #[test]
    fn human_forms() {
        assert_eq!(human(Duration::from_millis(850)), "850ms");
        assert_eq!(human(Duration::from_millis(2314)), "2.31s");
        assert_eq!(human(Duration::from_secs(185)), "3m05s");
    }
}
