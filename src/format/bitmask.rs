//! DSTC's bitmask format (docs/DESIGN.md 5): each fiber (a column of A, a row of B) as one bit per
//! element plus its nonzeros in order.

use super::Storage;
use crate::matrix::Matrix;

/// The rows of a matrix as bitmask fibers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bitmask {
    pub fibers: usize,
    /// Elements per fiber.
    pub shape: usize,
    /// One bit per element, `words_per_fiber` u64 words per fiber.
    pub mask: Vec<u64>,
    pub words_per_fiber: usize,
    /// Index into `value` of each fiber's first nonzero; one more entry at the end.
    pub start: Vec<u32>,
    pub value: Vec<i8>,
}

impl Bitmask {
    /// Compresses each row of `m` as one fiber.
    pub fn compress(m: &Matrix<i8>) -> Bitmask {
        let words_per_fiber = m.cols.div_ceil(64).max(1);
        let mut bm = Bitmask {
            fibers: m.rows,
            shape: m.cols,
            mask: vec![0; m.rows * words_per_fiber],
            words_per_fiber,
            start: Vec::with_capacity(m.rows + 1),
            value: Vec::new(),
        };
        for r in 0..m.rows {
            bm.start.push(bm.value.len() as u32);
            for (c, &v) in m.row(r).iter().enumerate() {
                if v != 0 {
                    bm.mask[r * words_per_fiber + c / 64] |= 1 << (c % 64);
                    bm.value.push(v);
                }
            }
        }
        bm.start.push(bm.value.len() as u32);
        bm
    }

    /// The nonzeros of `fiber` at coordinates in `range`, as (coordinate, value).
    pub fn nonzeros(
        &self,
        fiber: usize,
        range: std::ops::Range<usize>,
    ) -> impl Iterator<Item = (usize, i8)> + '_ {
        let words = &self.mask[fiber * self.words_per_fiber..(fiber + 1) * self.words_per_fiber];
        let before: u32 = (0..range.start)
            .step_by(64)
            .map(|c| {
                let w = words[c / 64];
                if c + 64 <= range.start {
                    w.count_ones()
                } else {
                    (w & ((1u64 << (range.start - c)) - 1)).count_ones()
                }
            })
            .sum();
        let mut index = (self.start[fiber] + before) as usize;
        range.filter(move |&c| words[c / 64] >> (c % 64) & 1 == 1).map(move |c| {
            index += 1;
            (c, self.value[index - 1])
        })
    }

    /// How many nonzeros `fiber` has at coordinates in `range`: the set bits, counted by word.
    pub fn count(&self, fiber: usize, range: std::ops::Range<usize>) -> usize {
        let words = &self.mask[fiber * self.words_per_fiber..(fiber + 1) * self.words_per_fiber];
        let bits_below = |c: usize| -> u32 {
            let full: u32 = words[..c / 64].iter().map(|w| w.count_ones()).sum();
            let part = if c.is_multiple_of(64) {
                0
            } else {
                (words[c / 64] & ((1u64 << (c % 64)) - 1)).count_ones()
            };
            full + part
        };
        (bits_below(range.end) - bits_below(range.start)) as usize
    }

    /// The dense matrix the fibers hold.
    pub fn decompress(&self) -> Matrix<i8> {
        let mut m = Matrix::zeros(self.fibers, self.shape);
        for f in 0..self.fibers {
            for (c, v) in self.nonzeros(f, 0..self.shape) {
                m.data[f * self.shape + c] = v;
            }
        }
        m
    }

    /// Nonzeros, and one bit per element.
    pub fn storage(&self) -> Storage {
        Storage { value_words: self.value.len() as u64, metadata_bits: (self.fibers * self.shape) as u64 }
    }
}
