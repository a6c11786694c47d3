//! Operand B formats (paper section 6.4, DESIGN.md 5): dense B needs no metadata; sparse B is
//! blocked CSR, per column n its nonzeros with their K offsets, grouped by block (the H0
//! consecutive k that one K1 coordinate of A selects), with addresses that tell the VFMU where
//! each block's nonzeros lie: by default one offset per block plus one per column (Sparseloop's
//! UOP rank: block b spans offsets b to b + 1), or a start and an end address per block.

use serde::{Deserialize, Serialize};

use super::{HierarchicalCp, Storage, coord_bits};
use crate::matrix::Matrix;

/// How blocked CSR addresses its blocks (an architecture's `[formats] blocked_csr_addresses`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CsrAddresses {
    /// One offset per block plus one per column: each block ends where the next starts
    /// (Sparseloop's uncompressed offset pairs, UOP).
    #[default]
    Offsets,
    /// A start and an end address per block (the paper's section 6.4 wording).
    StartEnd,
}

impl CsrAddresses {
    /// Addresses read per block of a fetch, and once more where the fetch starts its column
    /// (the offset that opens the column's first block); a later fetch's opening offset is the
    /// previous fetch's closing one, which the VFMU still holds.
    pub fn per_block_and_first(self) -> (u64, u64) {
        match self {
            CsrAddresses::Offsets => (1, 1),
            CsrAddresses::StartEnd => (2, 0),
        }
    }

    /// Addresses a fetch of blocks `first..end` of a column reads.
    pub fn fetched(self, first: usize, end: usize) -> u64 {
        let (per_block, opening) = self.per_block_and_first();
        per_block * (end - first) as u64 + if first == 0 { opening } else { 0 }
    }
}

/// Sparse B (K x N) in blocked CSR, column by column.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockedCsr {
    pub k: usize,
    pub n: usize,
    /// K coordinates per block.
    pub block: usize,
    /// Blocks per column: ceil(K / block).
    pub blocks: usize,
    /// Index into `value` of each block's first nonzero, indexed `n * blocks + b`.
    pub block_start: Vec<u32>,
    /// One past each block's last nonzero, indexed as `block_start`.
    pub block_end: Vec<u32>,
    /// How the blocks are addressed: what the metadata counts charge.
    pub addresses: CsrAddresses,
    /// K offset of each nonzero within its block.
    pub offset: Vec<u8>,
    /// The nonzero values, column by column, block by block.
    pub value: Vec<i8>,
}

impl BlockedCsr {
    /// Compresses B with blocks of `block` consecutive k (`block` <= 256).
    pub fn compress(b: &Matrix<i8>, block: usize, addresses: CsrAddresses) -> Self {
        assert!((1..=256).contains(&block), "block of {block} k does not fit an 8-bit offset");
        let blocks = b.rows.div_ceil(block);
        let mut csr = BlockedCsr {
            k: b.rows,
            n: b.cols,
            block,
            blocks,
            block_start: Vec::with_capacity(b.cols * blocks),
            block_end: Vec::with_capacity(b.cols * blocks),
            addresses,
            offset: Vec::new(),
            value: Vec::new(),
        };
        for n in 0..b.cols {
            for blk in 0..blocks {
                csr.block_start.push(csr.value.len() as u32);
                for k in blk * block..((blk + 1) * block).min(b.rows) {
                    let v = b.get(k, n);
                    if v != 0 {
                        csr.offset.push((k - blk * block) as u8);
                        csr.value.push(v);
                    }
                }
                csr.block_end.push(csr.value.len() as u32);
            }
        }
        csr
    }

    /// The dense K x N matrix the format holds.
    pub fn decompress(&self) -> Matrix<i8> {
        let mut b = Matrix::zeros(self.k, self.n);
        for n in 0..self.n {
            for blk in 0..self.blocks {
                let i = n * self.blocks + blk;
                for v in self.block_start[i] as usize..self.block_end[i] as usize {
                    let k = blk * self.block + self.offset[v] as usize;
                    b.data[k * self.n + n] = self.value[v];
                }
            }
        }
        b
    }

    /// Stored nonzeros; metadata is one offset per nonzero plus the blocks' addresses (one per
    /// block and one per column, or two per block), each wide enough to point anywhere in its
    /// column (ceil(log2(K + 1)) bits).
    pub fn storage(&self) -> Storage {
        storage(self.k, self.n, self.value.len() as u64, self.block, self.addresses)
    }
}

/// What blocked CSR of a K x N matrix with `nonzeros` nonzeros occupies, without building it.
pub fn storage(k: usize, n: usize, nonzeros: u64, block: usize, addresses: CsrAddresses) -> Storage {
    let addresses = n as u64 * addresses.fetched(0, k.div_ceil(block.max(1)));
    Storage {
        value_words: nonzeros,
        metadata_bits: nonzeros * coord_bits(block) + addresses * coord_bits(k + 1),
    }
}

/// Operand B as the tensor-core designs store it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BFormat {
    Dense(Matrix<i8>),
    BlockedCsr(BlockedCsr),
    /// HighLight-DSSO's dual-side mode: B's columns in hierarchical CP along K.
    Columns(HierarchicalCp),
}

impl BFormat {
    pub fn decompress(&self) -> Matrix<i8> {
        match self {
            BFormat::Dense(b) => b.clone(),
            BFormat::BlockedCsr(csr) => csr.decompress(),
            BFormat::Columns(cp) => cp.decompress().transpose(),
        }
    }

    pub fn storage(&self) -> Storage {
        match self {
            BFormat::Dense(b) => Storage { value_words: b.data.len() as u64, metadata_bits: 0 },
            BFormat::BlockedCsr(csr) => csr.storage(),
            BFormat::Columns(cp) => cp.storage(),
        }
    }

    /// Columns of B.
    pub fn n(&self) -> usize {
        match self {
            BFormat::Dense(b) => b.cols,
            BFormat::BlockedCsr(csr) => csr.n,
            BFormat::Columns(cp) => cp.rows,
        }
    }
}
