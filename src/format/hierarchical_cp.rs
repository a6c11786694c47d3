//! HighLight's hierarchical CP format for operand A (paper figure 9, DESIGN.md 5).
//!
//! Per row m and per K1 fiber: exactly G1 block slots, each with its K1 coordinate and G0 value
//! slots, each with its K0 coordinate and an int8 value. Fibers with fewer nonzeros are padded
//! with zero-valued slots, because the hardware always processes exactly G slots.

use super::nrank_cp::with_padding_coords;
use super::{FormatError, Storage, coord_bits};
use crate::matrix::Matrix;

/// The shape of a two-rank HSS operand: `K1(G1:H1)->K0(G0:H0)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TwoRankHss {
    pub g1: u32,
    pub h1: u32,
    pub g0: u32,
    pub h0: u32,
}

impl TwoRankHss {
    /// K coordinates one K1 fiber covers: H1 * H0.
    pub fn fiber_span(&self) -> usize {
        (self.h1 * self.h0) as usize
    }
}

/// Operand A (M x K) in hierarchical CP.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HierarchicalCp {
    pub rows: usize,
    /// K before padding to whole K1 fibers.
    pub k: usize,
    pub shape: TwoRankHss,
    /// K1 fibers per row: ceil(K / (H1 * H0)).
    pub fibers: usize,
    /// K1 coordinate of each block slot, indexed `(row * fibers + fiber) * G1 + slot`.
    pub k1_coord: Vec<u8>,
    /// K0 coordinate of each value slot, indexed `block_slot * G0 + slot`.
    pub k0_coord: Vec<u8>,
    /// Value of each value slot (0 in padding slots), indexed as `k0_coord`.
    pub value: Vec<i8>,
}

impl HierarchicalCp {
    /// Compresses `a`, whose rows must satisfy the shape's occupancy limits.
    pub fn compress(a: &Matrix<i8>, shape: TwoRankHss) -> Result<Self, FormatError> {
        let (g1, h1, g0, h0) = (shape.g1 as usize, shape.h1 as usize, shape.g0 as usize, shape.h0 as usize);
        let span = shape.fiber_span();
        let fibers = a.cols.div_ceil(span);
        let slots = a.rows * fibers * g1;
        let mut cp = HierarchicalCp {
            rows: a.rows,
            k: a.cols,
            shape,
            fibers,
            k1_coord: Vec::with_capacity(slots),
            k0_coord: Vec::with_capacity(slots * g0),
            value: Vec::with_capacity(slots * g0),
        };
        let mut fiber_values = vec![0i8; span];
        for row in 0..a.rows {
            for fiber in 0..fibers {
                fiber_values.fill(0);
                let start = fiber * span;
                let end = (start + span).min(a.cols);
                fiber_values[..end - start].copy_from_slice(&a.row(row)[start..end]);
                let blocks: Vec<&[i8]> = fiber_values.chunks(h0).collect();
                let nonempty: Vec<usize> = (0..h1).filter(|&b| blocks[b].iter().any(|&v| v != 0)).collect();
                if nonempty.len() > g1 {
                    return Err(FormatError::Rank1Occupancy {
                        row,
                        fiber,
                        occupancy: nonempty.len(),
                        g1: shape.g1,
                    });
                }
                for k1 in with_padding_coords(&nonempty, g1) {
                    let block = blocks[k1];
                    let nonzero: Vec<usize> = (0..h0).filter(|&c| block[c] != 0).collect();
                    if nonzero.len() > g0 {
                        return Err(FormatError::Rank0Occupancy {
                            row,
                            fiber,
                            block: k1 as u32,
                            occupancy: nonzero.len(),
                            g0: shape.g0,
                        });
                    }
                    cp.k1_coord.push(k1 as u8);
                    for k0 in with_padding_coords(&nonzero, g0) {
                        cp.k0_coord.push(k0 as u8);
                        cp.value.push(block[k0]);
                    }
                }
            }
        }
        Ok(cp)
    }

    /// The dense M x K matrix the format holds.
    pub fn decompress(&self) -> Matrix<i8> {
        let (g1, g0, h0) = (self.shape.g1 as usize, self.shape.g0 as usize, self.shape.h0 as usize);
        let span = self.shape.fiber_span();
        let mut a = Matrix::zeros(self.rows, self.k);
        for row in 0..self.rows {
            for fiber in 0..self.fibers {
                for slot in 0..g1 {
                    let block_slot = (row * self.fibers + fiber) * g1 + slot;
                    let k1 = self.k1_coord[block_slot] as usize;
                    for v in block_slot * g0..(block_slot + 1) * g0 {
                        let k = fiber * span + k1 * h0 + self.k0_coord[v] as usize;
                        // Slots in the K padding hold zeros only.
                        if k < self.k {
                            a.data[row * self.k + k] = self.value[v];
                        }
                    }
                }
            }
        }
        a
    }

    /// Value slots (padding included) and K1 + K0 coordinate bits.
    pub fn storage(&self) -> Storage {
        let block_slots = self.k1_coord.len() as u64;
        let value_slots = self.value.len() as u64;
        Storage {
            value_words: value_slots,
            metadata_bits: block_slots * coord_bits(self.shape.h1 as usize)
                + value_slots * coord_bits(self.shape.h0 as usize),
        }
    }
}
