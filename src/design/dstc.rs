//! DSTC, the dual-side sparse tensor core (docs/DESIGN.md 7): it runs every operand pattern,
//! treating each as unstructured. Its arrays, arranged in a square over a Z tile, each own a
//! sub-tile and compute the compressed outer product of A's column and B's row for each k: the
//! nonzeros of each go through a `lanes x lanes` MAC array as vectors of `lanes` values, A's
//! feeding its rows and B's its columns.

use super::Arch;

/// DSTC's outer-product machine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dstc {
    /// Arrays along each side of the Z tile (2 for 4 arrays).
    pub arrays_per_side: usize,
    /// Rows of the sub-tile each array owns.
    pub sub_rows: usize,
    /// Columns of the sub-tile each array owns.
    pub sub_cols: usize,
    /// A values (and B values) one array takes per cycle: its MAC array is `lanes x lanes`.
    pub lanes: usize,
}

impl Dstc {
    pub fn new(arch: &Arch) -> Dstc {
        Dstc {
            arrays_per_side: arch.arrays.isqrt().max(1),
            sub_rows: arch.rows_per_array,
            sub_cols: arch.tile_n,
            lanes: (arch.rows_per_array * arch.pes_per_row * arch.macs_per_pe).isqrt(),
        }
    }

    /// Cycles of one k-step with `a` nonzeros of A's column and `b` of B's row in the sub-tile:
    /// one per pair of an A vector and a B vector.
    pub fn step_cycles(&self, a: usize, b: usize) -> usize {
        a.div_ceil(self.lanes) * b.div_ceil(self.lanes)
    }

    /// Rows of the Z tile the arrays sync on.
    pub fn tile_rows(&self) -> usize {
        self.arrays_per_side * self.sub_rows
    }

    /// Columns of the Z tile the arrays sync on.
    pub fn tile_cols(&self) -> usize {
        self.arrays_per_side * self.sub_cols
    }
}
