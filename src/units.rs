//! Sizes and bandwidths as people write them in scenario files: `64MiB`, `1GB`, `0`; `512kbit`, `10mbit`.

/// Parses a byte size: a whole number with `B`, `KiB`, `MiB`, `GiB` (powers of 1024) or `KB`, `MB`, `GB`
/// (powers of 1000); a bare `0` is allowed.
pub fn parse_bytes(text: &str) -> Result<u64, String> {
    let t = text.trim();
    if t == "0" {
        return Ok(0);
    }
    let digits = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (number, unit) = t.split_at(digits);
    let n: u64 = number
        .parse()
        .map_err(|_| format!("size {text:?} is not a whole number with a unit (e.g. \"64MiB\")"))?;
    let factor: u64 = match unit {
        "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        "TiB" => 1 << 40,
        "KB" | "kB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        "TB" => 1_000_000_000_000,
        "" => return Err(format!("size {text:?} has no unit (B, KiB, MiB, GiB, KB, MB, GB)")),
        _ => return Err(format!("size {text:?}: unknown unit {unit:?} (B, KiB, MiB, GiB, KB, MB, GB)")),
    };
    n.checked_mul(factor).ok_or_else(|| format!("size {text:?} is out of range"))
}

/// A byte count for people: `512 B`, `64.0 MiB`, `1.50 GiB`.
pub fn human_bytes(n: u64) -> String {
    const K: f64 = 1024.0;
    let v = n as f64;
    if v < K {
        format!("{n} B")
    } else if v < K * K {
        format!("{:.1} KiB", v / K)
    } else if v < K * K * K {
        format!("{:.1} MiB", v / K / K)
    } else {
        format!("{:.2} GiB", v / K / K / K)
    }
}

/// The highest bandwidth a throttle takes (100 gbit/s), in kbit/s.
pub const MAX_KBIT: u64 = 100_000_000;

/// Parses a bandwidth such as `512kbit`, `10mbit` or `1gbit`, in kilobits per second (at least 8).
pub fn parse_kbit(text: &str) -> Result<u64, String> {
    let t = text.trim().to_ascii_lowercase();
    let digits = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (number, unit) = t.split_at(digits);
    let n: u64 =
        number.parse().map_err(|_| format!("{text:?} is not a number with a unit (kbit, mbit, gbit)"))?;
    let factor: u64 = match unit {
        "kbit" => 1,
        "mbit" => 1000,
        "gbit" => 1_000_000,
        _ => return Err(format!("{text:?}: the unit must be kbit, mbit or gbit")),
    };
    let k = n.checked_mul(factor).ok_or_else(|| format!("{text:?} is out of range"))?;
    if k < 8 {
        return Err(format!("{text:?} is below 8kbit"));
    }
    if k > MAX_KBIT {
        return Err(format!("{text:?} is above 100gbit, faster than any link it could limit"));
    }
    Ok(k)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_sizes() {
        assert_eq!(parse_bytes("0"), Ok(0));
        assert_eq!(parse_bytes("64MiB"), Ok(64 << 20));
        assert_eq!(parse_bytes("2GB"), Ok(2_000_000_000));
        assert_eq!(parse_bytes("512B"), Ok(512));
        assert!(parse_bytes("64").unwrap_err().contains("no unit"));
        assert!(parse_bytes("1.5GiB").unwrap_err().contains("unknown unit"));
        assert!(parse_bytes("lots").unwrap_err().contains("not a whole number"));
        assert!(parse_bytes("99999999999TiB").unwrap_err().contains("out of range"));
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(64 << 20), "64.0 MiB");
        assert_eq!(human_bytes(3 << 29), "1.50 GiB");
    }

    #[test]
    fn bandwidths() {
        assert_eq!(parse_kbit("512kbit"), Ok(512));
        assert_eq!(parse_kbit("10MBIT"), Ok(10_000));
        assert_eq!(parse_kbit("1gbit"), Ok(1_000_000));
        assert!(parse_kbit("4kbit").unwrap_err().contains("below"));
        assert!(parse_kbit("fast").unwrap_err().contains("not a number"));
        assert!(parse_kbit("10mbps").unwrap_err().contains("kbit, mbit or gbit"));
        assert!(parse_kbit("18446744073709552mbit").unwrap_err().contains("out of range"));
        assert!(parse_kbit("18446744073709552kbit").unwrap_err().contains("above 100gbit"));
        assert_eq!(parse_kbit("100gbit"), Ok(MAX_KBIT));
        assert!(parse_kbit("18446744073709551gbit").unwrap_err().contains("out of range"));
    }
}
