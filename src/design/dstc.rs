//! DSTC, the dual-side sparse tensor core (docs/DESIGN.md 7): it runs every operand pattern,
//! treating each as unstructured. Its arrays, arranged in a square over a Z tile, each own a
//! sub-tile and compute the compressed outer product of A's column and B's row for each k.

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
    /// Products one array computes per cycle.
    pub products_per_cycle: usize,
}

impl Dstc {
    pub fn new(arch: &Arch) -> Dstc {
        Dstc {
            arrays_per_side: arch.arrays.isqrt().max(1),
            sub_rows: arch.rows_per_array,
            sub_cols: arch.tile_n,
            products_per_cycle: arch.rows_per_array * arch.pes_per_row * arch.macs_per_pe,
        }
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
