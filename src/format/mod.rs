//! Compressed operand formats (DESIGN.md 5) and their storage sizes, which the energy model reads.

pub mod bitmask;
pub mod blocked_csr;
pub mod hierarchical_cp;

pub use bitmask::Bitmask;
pub use blocked_csr::{BFormat, BlockedCsr};
pub use hierarchical_cp::{HierarchicalCp, TwoRankHss};

use serde::Serialize;
use thiserror::Error;

/// What a compressed operand occupies: int8 value words and metadata bits.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Storage {
    pub value_words: u64,
    pub metadata_bits: u64,
}

/// Bits of an offset coordinate that tells one of `shape` positions apart: ceil(log2 shape).
pub fn coord_bits(shape: usize) -> u64 {
    u64::from(shape.max(1).next_power_of_two().trailing_zeros())
}

/// Why an operand does not fit a format.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum FormatError {
    #[error(
        "row {row}, K1 fiber {fiber}: {occupancy} nonempty K0 blocks, but the format holds G1 = {g1} per fiber"
    )]
    Rank1Occupancy { row: usize, fiber: usize, occupancy: usize, g1: u32 },
    #[error(
        "row {row}, K1 fiber {fiber}, K0 block {block}: {occupancy} nonzeros, but the format holds G0 = {g0} per block"
    )]
    Rank0Occupancy { row: usize, fiber: usize, block: u32, occupancy: usize, g0: u32 },
}
