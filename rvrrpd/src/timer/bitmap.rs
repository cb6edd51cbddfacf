//! Occupancy bitmap of the wheel's slots, to skip empty slots 64 at a time.

#[derive(Debug, Clone)]
pub(crate) struct Bitmap {
    words: Vec<u64>,
    bits: usize,
}

impl Bitmap {
    pub(crate) fn new(bits: usize) -> Self {
        Bitmap {
            words: vec![0; bits.div_ceil(64)],
            bits,
        }
    }

    pub(crate) fn set(&mut self, i: usize) {
        self.words[i / 64] |= 1 << (i % 64);
    }

    pub(crate) fn clear(&mut self, i: usize) {
        self.words[i / 64] &= !(1 << (i % 64));
    }

    pub(crate) fn clear_all(&mut self) {
        self.words.iter_mut().for_each(|w| *w = 0);
    }

    /// The first set bit in `lo..hi` (with `hi <= bits`).
    fn first_in(&self, lo: usize, hi: usize) -> Option<usize> {
        if lo >= hi {
            return None;
        }
        let mut w = lo / 64;
        let mut word = self.words[w] & (!0u64 << (lo % 64));
        loop {
            if word != 0 {
                let i = w * 64 + word.trailing_zeros() as usize;
                return (i < hi).then_some(i);
            }
            w += 1;
            if w * 64 >= hi {
                return None;
            }
            word = self.words[w];
        }
    }

    /// Walking the bits circularly from `start` (bit `(start + k) % bits` at offset `k`),
    /// the smallest offset `k` in `from..count` whose bit is set. `count <= bits`.
    pub(crate) fn next_offset(&self, start: usize, from: usize, count: usize) -> Option<usize> {
        let n = self.bits;
        let (begin, end) = (start + from, start + count);
        if begin >= end {
            return None;
        }
        // First linear piece: [begin, min(end, n)) when begin < n.
        if begin < n {
            if let Some(i) = self.first_in(begin, end.min(n)) {
                return Some(i - start);
            }
        }
        // Wrapped piece: [max(begin, n) - n, end - n).
        if end > n {
            let lo = begin.max(n) - n;
            if let Some(i) = self.first_in(lo, end - n) {
                return Some(i + n - start);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn circular_search() {
        let mut b = Bitmap::new(128);
        b.set(3);
        b.set(70);
        b.set(127);
        assert_eq!(b.next_offset(0, 0, 128), Some(3));
        assert_eq!(b.next_offset(0, 4, 128), Some(70));
        assert_eq!(b.next_offset(100, 0, 128), Some(27));
        assert_eq!(b.next_offset(100, 28, 128), Some(31));
        assert_eq!(b.next_offset(100, 32, 128), Some(98));
        assert_eq!(b.next_offset(100, 32, 98), None);
        b.clear(3);
        assert_eq!(b.next_offset(100, 28, 128), Some(98));
        let mut small = Bitmap::new(8);
        small.set(1);
        assert_eq!(small.next_offset(5, 0, 8), Some(4));
        assert_eq!(small.next_offset(5, 0, 4), None);
    }
}
