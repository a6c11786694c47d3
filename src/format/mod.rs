//! Compressed operand formats (DESIGN.md 5) and their storage sizes, which the energy model reads.

pub mod bitmask;
pub mod blocked_csr;
pub mod hierarchical_cp;
pub mod nrank_cp;

pub use bitmask::Bitmask;
pub use blocked_csr::{BFormat, BlockedCsr, CsrAddresses};
pub use hierarchical_cp::{HierarchicalCp, TwoRankHss};
pub use nrank_cp::{NRankCp, TreeRank};

use serde::Serialize;
use thiserror::Error;

/// What a compressed operand occupies: int8 value words and metadata bits.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Storage {
    pub value_words: u64,
    pub metadata_bits: u64,
}

/// How an operand is stored above the PE array (DESIGN.md 5): the representation a design's
/// hardware can read, chosen per run by the search or fixed with `--a-format` / `--b-format`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    /// Every value, no metadata; zeros are found by a zero test where the design gates them.
    Uncompressed,
    /// Hierarchical coordinate payload: G values per block with their coordinates per rank.
    Cp,
    /// B's nonzeros with K0 offsets, grouped in blocks with block addresses.
    BlockedCsr,
    /// The nonzeros and one bit per element.
    Bitmask,
}

impl Format {
    /// The format's name on the command line and in results.
    pub fn id(self) -> &'static str {
        match self {
            Format::Uncompressed => "uncompressed",
            Format::Cp => "cp",
            Format::BlockedCsr => "blocked-csr",
            Format::Bitmask => "bitmask",
        }
    }
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.id())
    }
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
    #[error(
        "row {row}, top-rank fiber {fiber}: a rank {rank} fiber has {occupancy} nonempty children, but the format holds G = {g}"
    )]
    RankOccupancy { row: usize, fiber: usize, rank: usize, occupancy: usize, g: usize },
}
