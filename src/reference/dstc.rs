//! CPU twin of `shaders/dstc.wgsl`: DSTC's outer product (docs/DESIGN.md 7).
//!
//! ```text
//! for Z tile (tile_rows x tile_cols, the arrays in a square over it):
//!   for array: for k:
//!     a = A's nonzeros in column k of the array's rows, b = B's in row k of its columns
//!     the a x b products: ceil(a / lanes) x ceil(b / lanes) cycles (vectors of A's and B's
//!     nonzeros through the lanes x lanes MAC array), each product a MAC and a
//!     read-modify-write of the accumulation buffer (the RF): DSTC's sparsity tax
//!   the arrays sync per tile: the tile takes its slowest array's cycles
//! ```
//!
//! Each tile reads its rows of A and its columns of B from the GLB once: the nonzeros and one
//! bitmask bit per element.

use rayon::prelude::*;

use crate::counters::Counters;
use crate::design::dstc::Dstc;
use crate::format::Bitmask;
use crate::matrix::Matrix;

/// Runs `Z = A x B`: `a_columns` holds A's columns as fibers, `b_rows` B's rows.
pub fn run(d: &Dstc, a_columns: &Bitmask, b_rows: &Bitmask) -> (Matrix<i32>, Counters) {
    let (m, k, n) = (a_columns.shape, a_columns.fibers, b_rows.shape);
    let mut z = Matrix::zeros(m, n);
    let strip = d.tile_rows() * n;
    let counters = z
        .data
        .par_chunks_mut(strip)
        .enumerate()
        .map(|(tm, z_strip)| {
            let rows = tm * d.tile_rows()..((tm + 1) * d.tile_rows()).min(m);
            let mut c = Counters::default();
            for tn in 0..n.div_ceil(d.tile_cols()) {
                let cols = tn * d.tile_cols()..((tn + 1) * d.tile_cols()).min(n);
                tile(d, a_columns, b_rows, rows.clone(), cols.clone(), z_strip, &mut c);
                let read_a: usize = (0..k).map(|kk| a_columns.nonzeros(kk, rows.clone()).count()).sum();
                let read_b: usize = (0..k).map(|kk| b_rows.nonzeros(kk, cols.clone()).count()).sum();
                c.glb_read_a += read_a as u64;
                c.glb_read_a_meta_bits += (rows.len() * k) as u64;
                c.glb_read_b += read_b as u64;
                c.glb_read_b_meta_bits += (k * cols.len()) as u64;
                c.glb_write_z += 4 * (rows.len() * cols.len()) as u64;
            }
            c
        })
        .sum();
    (z, counters)
}

/// One Z tile: every array's outer products, and the tile's cycles (its slowest array's).
fn tile(
    d: &Dstc,
    a_columns: &Bitmask,
    b_rows: &Bitmask,
    rows: std::ops::Range<usize>,
    cols: std::ops::Range<usize>,
    z_strip: &mut [i32],
    c: &mut Counters,
) {
    let n = b_rows.shape;
    let mut slowest = 0u64;
    for ai in 0..d.arrays_per_side {
        for aj in 0..d.arrays_per_side {
            let sub_rows = (rows.start + ai * d.sub_rows).min(rows.end)
                ..(rows.start + (ai + 1) * d.sub_rows).min(rows.end);
            let sub_cols = (cols.start + aj * d.sub_cols).min(cols.end)
                ..(cols.start + (aj + 1) * d.sub_cols).min(cols.end);
            if sub_rows.is_empty() || sub_cols.is_empty() {
                continue;
            }
            let mut cycles = 0u64;
            for kk in 0..a_columns.fibers {
                let a: Vec<(usize, i8)> = a_columns.nonzeros(kk, sub_rows.clone()).collect();
                let b: Vec<(usize, i8)> = b_rows.nonzeros(kk, sub_cols.clone()).collect();
                let products = (a.len() * b.len()) as u64;
                cycles += d.step_cycles(a.len(), b.len()) as u64;
                c.pe_reg_write += (a.len() + b.len()) as u64;
                // Each cycle reads one A vector and one B vector, fanned out to the MAC array's
                // rows and columns: A's values once per B vector, B's once per A vector.
                c.pe_reg_read +=
                    (a.len() * b.len().div_ceil(d.lanes) + b.len() * a.len().div_ceil(d.lanes)) as u64;
                for &(r, a_value) in &a {
                    let z_row = &mut z_strip[(r - rows.start) * n..(r - rows.start + 1) * n];
                    for &(col, b_value) in &b {
                        z_row[col] += i32::from(a_value) * i32::from(b_value);
                    }
                }
                c.mac += products;
                c.adder += products;
                c.rf_read += products;
                c.rf_write += products;
            }
            slowest = slowest.max(cycles);
        }
    }
    c.cycles += slowest;
}

/// DSTC's counters without Z, from the operands' nonzero counts per sub-tile span and k: what
/// [`run`] counts (tests/search.rs holds them equal), cheap enough for the search to weigh every
/// sub-tile the arrays allow before the chosen one is emulated (docs/DESIGN.md 11).
pub fn counts(d: &Dstc, a_columns: &Bitmask, b_rows: &Bitmask) -> Counters {
    let (m, k, n) = (a_columns.shape, a_columns.fibers, b_rows.shape);
    // Nonzeros per (k, span): A's column k in each run of sub_rows rows, B's row k in each run
    // of sub_cols columns.
    let per_span = |bm: &Bitmask, len: usize, span: usize| -> Vec<Vec<usize>> {
        (0..k)
            .into_par_iter()
            .map(|kk| {
                (0..len.div_ceil(span)).map(|s| bm.count(kk, s * span..((s + 1) * span).min(len))).collect()
            })
            .collect()
    };
    let (a_spans, b_spans) = (per_span(a_columns, m, d.sub_rows), per_span(b_rows, n, d.sub_cols));
    let (row_spans, col_spans) = (m.div_ceil(d.sub_rows), n.div_ceil(d.sub_cols));
    let side = d.arrays_per_side;
    (0..m.div_ceil(d.tile_rows()))
        .into_par_iter()
        .map(|tm| {
            let mut c = Counters::default();
            let rows = tm * d.tile_rows()..((tm + 1) * d.tile_rows()).min(m);
            for tn in 0..n.div_ceil(d.tile_cols()) {
                let cols = tn * d.tile_cols()..((tn + 1) * d.tile_cols()).min(n);
                let mut slowest = 0u64;
                for i in (tm * side..(tm + 1) * side).filter(|&i| i < row_spans) {
                    for j in (tn * side..(tn + 1) * side).filter(|&j| j < col_spans) {
                        let mut cycles = 0u64;
                        for kk in 0..k {
                            let (a, b) = (a_spans[kk][i], b_spans[kk][j]);
                            cycles += d.step_cycles(a, b) as u64;
                            c.pe_reg_write += (a + b) as u64;
                            c.pe_reg_read += (a * b.div_ceil(d.lanes) + b * a.div_ceil(d.lanes)) as u64;
                            c.mac += (a * b) as u64;
                        }
                        slowest = slowest.max(cycles);
                    }
                }
                c.cycles += slowest;
                let a_tile: usize = (tm * side..((tm + 1) * side).min(row_spans))
                    .map(|i| a_spans.iter().map(|s| s[i]).sum::<usize>())
                    .sum();
                let b_tile: usize = (tn * side..((tn + 1) * side).min(col_spans))
                    .map(|j| b_spans.iter().map(|s| s[j]).sum::<usize>())
                    .sum();
                c.glb_read_a += a_tile as u64;
                c.glb_read_a_meta_bits += (rows.len() * k) as u64;
                c.glb_read_b += b_tile as u64;
                c.glb_read_b_meta_bits += (k * cols.len()) as u64;
                c.glb_write_z += 4 * (rows.len() * cols.len()) as u64;
            }
            c.adder = c.mac;
            c.rf_read = c.mac;
            c.rf_write = c.mac;
            c
        })
        .sum()
}
