//! The set of write sequence numbers a read-back found: a sorted vector while sparse (4 bytes a write), a bitmap
//! once the writes are dense (one bit per sequence number up to the highest found), whichever is smaller. A
//! soak drill of 24 h at 1,000 req/s writes about 43 million keys: 173 MB as a vector, 11 MB as a bitmap
//! (issue 14: memory that does not grow with the drill beyond what the report needs).

/// A set of write sequence numbers.
#[derive(Debug, Clone, Default)]
pub struct SeqSet(Repr);

#[derive(Debug, Clone)]
enum Repr {
    /// Sorted, without duplicates.
    Sorted(Vec<u32>),
    /// Bit `n % 64` of word `n / 64` is set when `n` is in the set; `len` counts the set bits.
    Bits { words: Vec<u64>, len: usize },
}

impl Default for Repr {
    fn default() -> Repr {
        Repr::Sorted(Vec::new())
    }
}

impl SeqSet {
    pub fn contains(&self, seq: &u32) -> bool {
        match &self.0 {
            Repr::Sorted(v) => v.binary_search(seq).is_ok(),
            Repr::Bits { words, .. } => bit(words, *seq),
        }
    }

    pub fn len(&self) -> usize {
        match &self.0 {
            Repr::Sorted(v) => v.len(),
            Repr::Bits { len, .. } => *len,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The members in increasing order.
    pub fn iter(&self) -> Box<dyn Iterator<Item = u32> + '_> {
        match &self.0 {
            Repr::Sorted(v) => Box::new(v.iter().copied()),
            Repr::Bits { words, .. } => Box::new(words.iter().enumerate().flat_map(|(i, &w)| {
                (0..64u32).filter(move |b| w & (1 << b) != 0).map(move |b| i as u32 * 64 + b)
            })),
        }
    }

    /// Heap bytes the set holds.
    #[cfg(test)]
    pub fn heap_bytes(&self) -> usize {
        match &self.0 {
            Repr::Sorted(v) => v.capacity() * 4,
            Repr::Bits { words, .. } => words.capacity() * 8,
        }
    }

    /// The smaller representation of a set of `len` members whose bitmap has `words` words.
    fn compact(words: Vec<u64>, len: usize) -> SeqSet {
        if bitmap_is_smaller(len, words.len()) {
            let mut words = words;
            words.shrink_to_fit();
            SeqSet(Repr::Bits { words, len })
        } else {
            let mut v = Vec::with_capacity(len);
            v.extend(SeqSet(Repr::Bits { words, len }).iter());
            SeqSet(Repr::Sorted(v))
        }
    }
}

/// Whether `len` members take less room as a bitmap of `words` words than as a vector of 4 bytes each.
fn bitmap_is_smaller(len: usize, words: usize) -> bool {
    len * 4 > words * 8
}

fn bit(words: &[u64], seq: u32) -> bool {
    words.get(seq as usize / 64).is_some_and(|w| w & (1 << (seq % 64)) != 0)
}

impl PartialEq for SeqSet {
    fn eq(&self, other: &SeqSet) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl Eq for SeqSet {}

impl From<Vec<u32>> for SeqSet {
    fn from(mut v: Vec<u32>) -> SeqSet {
        v.sort_unstable();
        v.dedup();
        let words = v.last().map_or(0, |&m| m as usize / 64 + 1);
        if bitmap_is_smaller(v.len(), words) {
            let mut b = SeqSetBuilder::default();
            b.extend(v);
            return b.build();
        }
        v.shrink_to_fit();
        SeqSet(Repr::Sorted(v))
    }
}

impl FromIterator<u32> for SeqSet {
    fn from_iter<I: IntoIterator<Item = u32>>(it: I) -> SeqSet {
        SeqSet::from(it.into_iter().collect::<Vec<u32>>())
    }
}

impl<const N: usize> From<[u32; N]> for SeqSet {
    fn from(a: [u32; N]) -> SeqSet {
        SeqSet::from(a.to_vec())
    }
}

/// Collects a read-back's sequence numbers into a bitmap as they come (no 4-byte-a-write vector in between),
/// then keeps the smaller form. Its memory is one bit per sequence number up to the highest inserted: the
/// numbers are the drill's own (keys under its run's prefix), at most the number of requests it sent.
#[derive(Debug, Default)]
pub struct SeqSetBuilder {
    words: Vec<u64>,
    len: usize,
}

impl SeqSetBuilder {
    pub fn insert(&mut self, seq: u32) {
        let word = seq as usize / 64;
        if word >= self.words.len() {
            self.words.resize((word + 1).max(self.words.len() * 2).min(1 << 26), 0);
        }
        let mask = 1 << (seq % 64);
        if self.words[word] & mask == 0 {
            self.words[word] |= mask;
            self.len += 1;
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn build(mut self) -> SeqSet {
        let used = self.words.iter().rposition(|&w| w != 0).map_or(0, |i| i + 1);
        self.words.truncate(used);
        SeqSet::compact(self.words, self.len)
    }
}

impl Extend<u32> for SeqSetBuilder {
    fn extend<I: IntoIterator<Item = u32>>(&mut self, it: I) {
        for seq in it {
            self.insert(seq);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seq_set_is_sorted_and_deduplicated_whatever_the_input_order() {
        let s: SeqSet = [9, 3, 3, 7, 1].into();
        assert_eq!(s.len(), 4);
        assert!(s.contains(&1) && s.contains(&3) && s.contains(&9));
        assert!(!s.contains(&2) && !s.contains(&10) && !SeqSet::default().contains(&0));
        assert_eq!(s.iter().collect::<Vec<_>>(), [1, 3, 7, 9]);
    }

    #[test]
    fn dense_writes_take_a_bit_each_and_sparse_ones_four_bytes() {
        let dense: SeqSet = (1..=1_000_000u32).filter(|s| s % 3 != 0).collect();
        assert_eq!(dense.len(), 666_667);
        assert!(dense.heap_bytes() <= 1_000_000 / 8 + 8, "{} bytes", dense.heap_bytes());
        assert!(dense.contains(&1) && !dense.contains(&3) && dense.contains(&1_000_000));
        assert!(!dense.contains(&1_000_001) && !dense.contains(&u32::MAX) && !dense.contains(&0));
        let sparse: SeqSet = [5, 4_000_000_000].into();
        assert_eq!(sparse.heap_bytes(), 8, "two members, not a 500 MB bitmap");
        assert!(sparse.contains(&4_000_000_000) && !sparse.contains(&6));
    }

    #[test]
    fn the_builder_and_the_vector_give_the_same_set() {
        let seqs: Vec<u32> = (0..200_000u32).map(|i| (i * 7919) % 150_001).collect();
        let mut b = SeqSetBuilder::default();
        b.extend(seqs.iter().copied());
        let built = b.build();
        let from_vec = SeqSet::from(seqs.clone());
        assert_eq!(built, from_vec);
        let mut sorted = seqs;
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(built.len(), sorted.len());
        assert!(built.iter().eq(sorted.iter().copied()));
        let few = {
            let mut b = SeqSetBuilder::default();
            b.extend([3, 100_000]);
            b.build()
        };
        assert_eq!((few.len(), few.heap_bytes()), (2, 8), "sparse after building: back to a vector");
        assert_eq!(few, SeqSet::from([100_000, 3]));
    }
}
