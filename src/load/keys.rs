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
}
