//! CPU twin of `shaders/s2ta.wgsl`: S2TA as docs/DESIGN.md 7 models it.
//!
//! ```text
//! for Z tile (tile_rows x tile_cols, output stationary):
//!   for K block (8 coordinates):
//!     load each row's A block (G_A values + 3-bit coordinates), each column's B block (G_B)
//!     for j in 0..G_B:                       one cycle: B slot j of every column
//!       every MAC (m, n): the 8:1 mux picks A[m]'s weight at B slot j's coordinate;
//!       multiply, or gate when either is zero; both operands move one register on and the
//!       32-bit accumulator is read and written (DESIGN.md 8: 1 + 1 + 4 bytes each way)
//! ```

use rayon::prelude::*;

use crate::counters::Counters;
use crate::design::s2ta::S2ta;
use crate::format::{HierarchicalCp, coord_bits};
use crate::matrix::Matrix;

/// Bytes each MAC slot passes on and accumulates per cycle: two int8 operands and an int32.
const REG_BYTES_PER_SLOT: u64 = 1 + 1 + 4;

/// Runs `Z = A x B`: A's rows and B's columns (`b_columns`, B^T) in G:8 blocks.
pub fn run(s: &S2ta, a: &HierarchicalCp, b_columns: &HierarchicalCp) -> (Matrix<i32>, Counters) {
    let (m, n) = (a.rows, b_columns.rows);
    let (g_a, g_b) = (s.g_a as usize, s.g_b as usize);
    let blocks = a.fibers;
    let mut z = Matrix::zeros(m, n);
    let coord = coord_bits(s.block as usize);
    // Dense B (8:8) needs no coordinates.
    let b_coord = if s.g_b == s.block { 0 } else { coord };
    let counters = z
        .data
        .par_chunks_mut(s.tile_rows * n)
        .enumerate()
        .map(|(tm, z_strip)| {
            let rows = tm * s.tile_rows..((tm + 1) * s.tile_rows).min(m);
            let mut c = Counters::default();
            let mut weights = vec![0i32; rows.len() * s.block as usize];
            for tn in 0..n.div_ceil(s.tile_cols) {
                let cols = tn * s.tile_cols..((tn + 1) * s.tile_cols).min(n);
                let macs = (rows.len() * cols.len()) as u64;
                for blk in 0..blocks {
                    c.glb_read_a += (rows.len() * g_a) as u64;
                    c.glb_read_a_meta_bits += (rows.len() * g_a) as u64 * coord;
                    c.glb_read_b += (cols.len() * g_b) as u64;
                    c.glb_read_b_meta_bits += (cols.len() * g_b) as u64 * b_coord;
                    // The A block each PE's 8:1 mux chooses from, by coordinate.
                    weights.fill(0);
                    for (i, r) in rows.clone().enumerate() {
                        for v in (r * blocks + blk) * g_a..(r * blocks + blk + 1) * g_a {
                            weights[i * s.block as usize + a.k0_coord[v] as usize] = i32::from(a.value[v]);
                        }
                    }
                    for j in 0..g_b {
                        c.cycles += 1;
                        c.rank0_mux += macs;
                        c.adder += macs;
                        c.pe_reg_read += REG_BYTES_PER_SLOT * macs;
                        c.pe_reg_write += REG_BYTES_PER_SLOT * macs;
                        for col in cols.clone() {
                            let v = (col * blocks + blk) * g_b + j;
                            let (b_value, k0) =
                                (i32::from(b_columns.value[v]), b_columns.k0_coord[v] as usize);
                            for (i, r) in rows.clone().enumerate() {
                                let a_value = weights[i * s.block as usize + k0];
                                if a_value != 0 && b_value != 0 {
                                    z_strip[(r - rows.start) * n + col] += a_value * b_value;
                                    c.mac += 1;
                                } else {
                                    c.mac_gated += 1;
                                }
                            }
                        }
                    }
                }
                c.glb_write_z += 4 * macs;
            }
            c
        })
        .sum();
    (z, counters)
}
