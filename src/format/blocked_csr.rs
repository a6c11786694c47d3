//! Operand B formats (paper section 6.4, DESIGN.md 5): dense B needs no metadata; sparse B is
//! blocked CSR, per column n its nonzeros with their K offsets, grouped by block (the H0
//! consecutive k that one K1 coordinate of A selects), with a start and an end address per block
//! so that the VFMU knows how far to shift for each block.

use super::{HierarchicalCp, Storage, coord_bits};
use crate::matrix::Matrix;

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
    /// K offset of each nonzero within its block.
    pub offset: Vec<u8>,
    /// The nonzero values, column by column, block by block.
    pub value: Vec<i8>,
}

impl BlockedCsr {
    /// Compresses B with blocks of `block` consecutive k (`block` <= 256).
    pub fn compress(b: &Matrix<i8>, block: usize) -> Self {
        assert!((1..=256).contains(&block), "block of {block} k does not fit an 8-bit offset");
        let blocks = b.rows.div_ceil(block);
        let mut csr = BlockedCsr {
            k: b.rows,
            n: b.cols,
            block,
            blocks,
            block_start: Vec::with_capacity(b.cols * blocks),
            block_end: Vec::with_capacity(b.cols * blocks),
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

    /// Stored nonzeros; metadata is one offset per nonzero plus a start and an end address per
    /// block, each address wide enough to point anywhere in its column (ceil(log2(K + 1)) bits).
    pub fn storage(&self) -> Storage {
        let nonzeros = self.value.len() as u64;
        let addresses = 2 * self.block_start.len() as u64;
        Storage {
            value_words: nonzeros,
            metadata_bits: nonzeros * coord_bits(self.block) + addresses * coord_bits(self.k + 1),
        }
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
