//! The N-rank coordinate payload an HSS design reads (docs/DESIGN.md 12): HighLight's
//! hierarchical CP ([`super::HierarchicalCp`]) with any number of ranks.
//!
//! Per row and per top-rank fiber, each rank keeps `w` child slots of every parent slot: the
//! nonempty children with their coordinates (padded with zero-valued children at unused
//! coordinates) where the rank selects, or all `h` children in order where it does not. Leaves
//! carry the value and its K position.

use super::{FormatError, Storage, coord_bits};
use crate::matrix::Matrix;

/// One rank of the fiber tree as an operand is stored: `w` child slots per parent, `h` children
/// per fiber; `select` keeps only nonempty children (at most `w`), else `w == h` and all are kept.
/// `gate` marks a rank whose empty children gate their MACs (docs/DESIGN.md 12).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TreeRank {
    pub w: usize,
    pub h: usize,
    pub select: bool,
    pub gate: bool,
}

/// No gating rank has an empty ancestor of this leaf.
pub const NOT_GATED: u8 = u8::MAX;

/// An operand (rows x K) in N-rank CP.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NRankCp {
    pub rows: usize,
    /// K before padding to whole top-rank fibers.
    pub k: usize,
    pub ranks: Vec<TreeRank>,
    /// Top-rank fibers per row: ceil(K / span).
    pub fibers: usize,
    /// Coordinate of each slot of rank `i`, indexed `(row * fibers + fiber) * slots(i) + slot`.
    pub coords: Vec<Vec<u8>>,
    /// Value of each leaf slot (0 in padding), indexed as `coords[last]`.
    pub value: Vec<i8>,
    /// K position of each leaf slot (at or beyond `k` in the K padding).
    pub position: Vec<u32>,
    /// Index of the outermost gating rank whose child above the leaf is empty, or [`NOT_GATED`].
    pub gated_by: Vec<u8>,
}

/// K positions one top-rank fiber spans: the product of the ranks' H.
pub fn span(ranks: &[TreeRank]) -> usize {
    ranks.iter().map(|r| r.h).product()
}

/// Slots of rank `i` per top-rank fiber: the product of `w` down to it.
pub fn slots(ranks: &[TreeRank], i: usize) -> usize {
    ranks[..=i].iter().map(|r| r.w).product()
}

impl NRankCp {
    /// Compresses `a`; a selecting rank with more nonempty children than slots is an error.
    pub fn compress(a: &Matrix<i8>, ranks: &[TreeRank]) -> Result<Self, FormatError> {
        let span = span(ranks);
        let fibers = a.cols.div_ceil(span);
        let leaves = slots(ranks, ranks.len() - 1);
        let mut cp = NRankCp {
            rows: a.rows,
            k: a.cols,
            ranks: ranks.to_vec(),
            fibers,
            coords: (0..ranks.len()).map(|i| Vec::with_capacity(a.rows * fibers * slots(ranks, i))).collect(),
            value: Vec::with_capacity(a.rows * fibers * leaves),
            position: Vec::with_capacity(a.rows * fibers * leaves),
            gated_by: Vec::with_capacity(a.rows * fibers * leaves),
        };
        let mut values = vec![0i8; span];
        for row in 0..a.rows {
            for fiber in 0..fibers {
                values.fill(0);
                let start = fiber * span;
                let end = (start + span).min(a.cols);
                values[..end - start].copy_from_slice(&a.row(row)[start..end]);
                let at = Place { row, fiber, start, gated_by: NOT_GATED };
                cp.fill(&values, 0, 0, at)?;
            }
        }
        Ok(cp)
    }

    /// Stores the children of the fiber `values` (K offset `offset` within the top fiber) at rank
    /// `i`, recursively down to the leaves.
    fn fill(&mut self, values: &[i8], i: usize, offset: usize, at: Place) -> Result<(), FormatError> {
        let Some(&rank) = self.ranks.get(i) else {
            self.value.push(values[0]);
            self.position.push((at.start + offset) as u32);
            self.gated_by.push(at.gated_by);
            return Ok(());
        };
        let child = values.len() / rank.h;
        let nonempty = |c: usize| values[c * child..(c + 1) * child].iter().any(|&v| v != 0);
        let kept: Vec<usize> = if rank.select {
            let occupied: Vec<usize> = (0..rank.h).filter(|&c| nonempty(c)).collect();
            if occupied.len() > rank.w {
                return Err(FormatError::RankOccupancy {
                    row: at.row,
                    fiber: at.fiber,
                    rank: self.ranks.len() - 1 - i,
                    occupancy: occupied.len(),
                    g: rank.w,
                });
            }
            with_padding_coords(&occupied, rank.w)
        } else {
            (0..rank.h).collect()
        };
        for c in kept {
            self.coords[i].push(c as u8);
            let gated_by =
                if at.gated_by == NOT_GATED && rank.gate && !nonempty(c) { i as u8 } else { at.gated_by };
            let values = &values[c * child..(c + 1) * child];
            self.fill(values, i + 1, offset + c * child, Place { gated_by, ..at })?;
        }
        Ok(())
    }

    /// The dense matrix the format holds.
    pub fn decompress(&self) -> Matrix<i8> {
        let mut a = Matrix::zeros(self.rows, self.k);
        let leaves = slots(&self.ranks, self.ranks.len() - 1);
        for (slot, (&v, &k)) in self.value.iter().zip(&self.position).enumerate() {
            let row = slot / (leaves * self.fibers);
            if (k as usize) < self.k {
                a.data[row * self.k + k as usize] = v;
            }
        }
        a
    }

    /// Value slots (padding included) and each selecting rank's coordinate bits.
    pub fn storage(&self) -> Storage {
        let metadata_bits = self
            .ranks
            .iter()
            .zip(&self.coords)
            .filter(|(r, _)| r.select)
            .map(|(r, c)| c.len() as u64 * coord_bits(r.h))
            .sum();
        Storage { value_words: self.value.len() as u64, metadata_bits }
    }
}

/// Where a fiber is being stored.
#[derive(Clone, Copy)]
struct Place {
    row: usize,
    fiber: usize,
    start: usize,
    gated_by: u8,
}

/// The occupied coordinates plus the lowest unused ones, up to `slots`, in increasing order: a
/// padding slot takes a coordinate of its own so that every fiber stays a valid CP list.
pub(super) fn with_padding_coords(occupied: &[usize], slots: usize) -> Vec<usize> {
    let mut coords = occupied.to_vec();
    let mut candidate = 0;
    while coords.len() < slots {
        if !occupied.contains(&candidate) {
            coords.push(candidate);
        }
        candidate += 1;
    }
    coords.sort_unstable();
    coords
}
