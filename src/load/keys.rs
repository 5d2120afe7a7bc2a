//! The keys write probes write: a run-unique prefix and the write's sequence number, zero-padded so that keys
//! sort in write order. Written during the load, parsed again by the read-back.

/// The key a write with this sequence number writes.
pub fn key_for(prefix: &str, seq: u32) -> String {
    format!("{prefix}{seq:010}")
}

/// The sequence number of a key written by [`key_for`].
pub fn seq_of(prefix: &str, key: &str) -> Option<u32> {
    key.strip_prefix(prefix)?.parse().ok()
}

/// The sequence number of a written key at the start of a longer text, as a list endpoint may show it
/// (`hd-ab-0000000042.example.test.` for a DNS name made of the key and a zone).
pub fn seq_in(prefix: &str, text: &str) -> Option<u32> {
    let rest = text.strip_prefix(prefix)?;
    let digits = rest.get(..10)?;
    let after = &rest[10..];
    if !digits.bytes().all(|b| b.is_ascii_digit()) || after.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_and_sort_by_sequence() {
        let k = key_for("hd-ab-", 42);
        assert_eq!(k, "hd-ab-0000000042");
        assert_eq!(seq_of("hd-ab-", &k), Some(42));
        assert_eq!(seq_of("hd-zz-", &k), None);
        assert!(key_for("p", 9) < key_for("p", 10));
    }

    #[test]
    fn a_key_is_found_at_the_start_of_a_longer_name() {
        assert_eq!(seq_in("hd-ab-", "hd-ab-0000000042.example.test."), Some(42));
        assert_eq!(seq_in("hd-ab-", "hd-ab-0000000042"), Some(42));
        assert_eq!(seq_in("hd-ab-", "hd-ab-00000000421"), None);
        assert_eq!(seq_in("hd-ab-", "hd-ab-42.example.test."), None);
        assert_eq!(seq_in("hd-ab-", "example.test."), None);
    }
}
