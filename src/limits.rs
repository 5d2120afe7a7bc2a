//! The bounds hadrill puts on what users give it, in one place (the README's "Limits" lists them): sizes of
//! the files it reads, nesting in them, requests kept in memory, connections. A number past a bound is refused
//! with the bound named, before anything starts, instead of an allocation, a panic or a hang later.

use std::io::Read;
use std::path::Path;

/// Above this many recorded requests (rate x duration) a drill or a `hadrill load` is refused: memory stays
/// flat (the outcomes are spilled in sorted runs, `src/outcomes.rs`), but each takes 24 bytes of disk next to
/// the reports while the drill runs (9.6 GB at the limit), and the read-back of the writes is held in memory.
/// A day at 4,000 req/s fits.
pub const MAX_REQUESTS: u64 = 400_000_000;

/// What [`MAX_REQUESTS`] protects, for the message that refuses a run above it.
pub fn requests_bound() -> String {
    format!(
        "above the {MAX_REQUESTS} hadrill records in one run (24 bytes of disk each while it runs: {})",
        crate::units::human_bytes(MAX_REQUESTS * crate::timeline::OUTCOME_BYTES as u64)
    )
}
/// The most requests in flight (one connection each, so one file descriptor each).
pub const MAX_IN_FLIGHT: usize = 10_000;
/// The highest request rate, per second (`hadrill load --rate max` is counted at this rate).
pub const MAX_RATE: u32 = 200_000;
/// The most faults and steps one scenario may have (their overlaps are checked pair by pair).
pub const MAX_ACTIONS: usize = 1000;
/// The most cycles of a repeated drill (`--repeat`, `repeat =`): a bring-up and a drill each.
pub const MAX_REPEAT: u32 = 100;
/// The largest scenario file hadrill reads.
pub const MAX_SCENARIO_BYTES: u64 = 1 << 20;
/// The largest compose file hadrill reads.
pub const MAX_COMPOSE_BYTES: u64 = 4 << 20;
/// The deepest nesting of lists and maps a compose file may have (real ones nest under ten).
pub const MAX_NESTING: usize = 64;

/// A file's bytes, refused with a clear reason when it is larger than `max` (a device such as `/dev/zero`
/// is read only that far).
pub fn read_capped(path: &Path, max: u64) -> Result<Vec<u8>, String> {
    let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let mut bytes = Vec::new();
    file.take(max + 1).read_to_end(&mut bytes).map_err(|e| e.to_string())?;
    if bytes.len() as u64 > max {
        return Err(format!("larger than {}: not a file hadrill reads", crate::units::human_bytes(max)));
    }
    Ok(bytes)
}

/// Refuses YAML nested deeper than [`MAX_NESTING`], by a linear scan before a parser that takes time
/// quadratic in the depth (a 200 KB file of `[[[...` took a minute to refuse). Counts flow brackets outside
/// quotes and comments, and the block indicators (`- `, `? `) that open a level on one line.
pub fn check_yaml_nesting(text: &str) -> Result<(), String> {
    let mut depth = 0usize;
    for (n, line) in text.lines().enumerate() {
        let deep = || Err(format!("line {}: nested more than {MAX_NESTING} levels deep", n + 1));
        let rest = line.trim_start();
        let block = rest.as_bytes().chunks(2).take_while(|c| matches!(c, [b'-' | b'?', b' '])).count();
        if block > MAX_NESTING {
            return deep();
        }
        let mut quote = None;
        for c in line.chars() {
            match (quote, c) {
                (None, '#') => break,
                (None, '"' | '\'') => quote = Some(c),
                (Some(q), c) if c == q => quote = None,
                (None, '[' | '{') => {
                    depth += 1;
                    if depth > MAX_NESTING {
                        return deep();
                    }
                }
                (None, ']' | '}') => depth = depth.saturating_sub(1),
                _ => {}
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_past_the_cap_are_refused_without_reading_them_whole() {
        let started = std::time::Instant::now();
        let e = read_capped(Path::new("/dev/zero"), MAX_SCENARIO_BYTES).unwrap_err();
        assert!(e.contains("larger than 1.0 MiB"), "{e}");
        assert!(started.elapsed() < std::time::Duration::from_secs(2));
        let dir = std::env::temp_dir().join(format!("hadrill-limits-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("small");
        std::fs::write(&f, b"0123456789").unwrap();
        assert_eq!(read_capped(&f, 10).unwrap().len(), 10);
        assert!(read_capped(&f, 9).is_err());
        assert!(read_capped(&dir.join("missing"), 9).is_err());
    }

    #[test]
    fn deep_yaml_is_refused_by_a_linear_scan() {
        let flow = format!("services:\n  a:\n    x: {}{}\n", "[".repeat(100_000), "]".repeat(100_000));
        let started = std::time::Instant::now();
        let e = check_yaml_nesting(&flow).unwrap_err();
        assert!(e.contains("line 3") && e.contains("64 levels"), "{e}");
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
        assert!(check_yaml_nesting(&format!("x:\n  {}a\n", "- ".repeat(1000))).is_err());
        let ok = "services:\n  a: {x: [1, [2, {y: 3}]], s: \"[[[[\", t: '{{{'}  # [[[[[\n  b:\n    - - c\n";
        assert_eq!(check_yaml_nesting(ok), Ok(()));
        let sixty_four = format!("x: {}{}\n", "[".repeat(64), "]".repeat(64));
        assert_eq!(check_yaml_nesting(&sixty_four), Ok(()));
    }
}
