//! CPU twin of the tensor-core loop nest of docs/DESIGN.md 6, which HighLight and TC are
//! configurations of ([`Dataflow`]):
//!
//! ```text
//! for row group (arrays x rows of M):
//!   for nt (RF tile of N):
//!     for k-step (fibers_per_step K1 fibers per PE row):
//!       load A: each PE its block slot (G0 values + K0 coords) and K1 coord
//!       for n in nt:                          one cycle
//!         VFMU fetches the k-step's B window of column n once, multicast
//!         rank1 mux: each PE picks its K1 block; rank0 mux: each MAC its B value by K0 coord
//!         MAC, or gated when the A slot or the picked B value is zero
//!         adder tree over the row's products; RF read-modify-write of Z[m, n]
//!     write the Z tile to the GLB
//! ```
//!
//! Counting conventions (docs/DESIGN.md 8). Rows of the last group beyond M and PEs whose K1
//! fiber lies beyond K are idle: they cost cycles, no actions. A K-padding slot of A reads as
//! stored (HighLight's CP stores it) and is gated; TC stores A densely and reads only k < K, but
//! performs every slot. The B window is fetched once per cycle for all rows; GLB reads of B count
//! stored words (and, for blocked CSR, one offset per nonzero plus the blocks' addresses:
//! [`crate::format::CsrAddresses`]).

use rayon::prelude::*;

use crate::counters::Counters;
use crate::design::Dataflow;
use crate::format::{BFormat, HierarchicalCp, coord_bits};
use crate::matrix::Matrix;

/// Runs `Z = A x B` through the loop nest. `b` is B's dense view (what the VFMU expands a window
/// to), `b_format` what the GLB stores.
pub fn run(df: &Dataflow, a: &HierarchicalCp, b: &Matrix<i8>, b_format: &BFormat) -> (Matrix<i32>, Counters) {
    assert_eq!(a.k, b.rows, "inner dimensions of A and B differ");
    let n = b.cols;
    let mut z = Matrix::zeros(a.rows, n);
    if n == 0 || a.rows == 0 {
        return (z, Counters::default());
    }
    let mut counters: Counters = z
        .data
        .par_chunks_mut(n)
        .enumerate()
        .map(|(row, z_row)| match b_format {
            BFormat::Columns(b_columns) => pe_row_dual_side(df, a, b_columns, b, row, z_row),
            _ => pe_row(df, a, b, row, z_row),
        })
        .sum();
    let groups = a.rows.div_ceil(df.rows_per_group()) as u64;
    let fetch = b_fetch(df, a, b_format);
    counters.glb_read_b += groups * fetch.glb_read_b;
    counters.glb_read_b_meta_bits += groups * fetch.glb_read_b_meta_bits;
    counters.vfmu_write += groups * fetch.vfmu_write;
    counters.vfmu_read += groups * fetch.vfmu_read;
    counters.cycles += groups * fetch.cycles;
    (z, counters)
}

/// The work of one row of PEs (one output row m) over every tile and k-step.
fn pe_row(df: &Dataflow, a: &HierarchicalCp, b: &Matrix<i8>, row: usize, z_row: &mut [i32]) -> Counters {
    let (g1, g0, h0) = (df.shape.g1 as usize, df.shape.g0 as usize, df.shape.h0 as usize);
    let span = df.shape.fiber_span();
    let (k, n) = (a.k, b.cols);
    let k1_bits = if df.rank1_saf { coord_bits(df.shape.h1 as usize) } else { 0 };
    let k0_bits = if df.rank0_saf { coord_bits(h0) } else { 0 };
    let mut c = Counters::default();
    for nt in (0..n).step_by(df.tile_n) {
        let w = df.tile_n.min(n - nt);
        let z_tile = &mut z_row[nt..nt + w];
        for first_fiber in (0..a.fibers).step_by(df.fibers_per_step) {
            let fibers = first_fiber..a.fibers.min(first_fiber + df.fibers_per_step);
            let pes = (fibers.len() * g1) as u64;
            let slots = pes * g0 as u64;
            // Load A: every slot into the PE registers, with its coordinates where there is a SAF.
            c.pe_reg_write += slots;
            if df.rank0_saf {
                c.glb_read_a += slots;
                c.glb_read_a_meta_bits += pes * k1_bits + slots * k0_bits;
            } else {
                c.glb_read_a += (k.min(fibers.end * span) - fibers.start * span) as u64;
            }
            for fiber in fibers {
                for block_slot in (row * a.fibers + fiber) * g1..(row * a.fibers + fiber + 1) * g1 {
                    let k1 = a.k1_coord[block_slot] as usize;
                    for v in block_slot * g0..(block_slot + 1) * g0 {
                        // Rank1 then rank0 selection: the B row this MAC multiplies by.
                        let kk = fiber * span + k1 * h0 + a.k0_coord[v] as usize;
                        let a_value = i32::from(a.value[v]);
                        let (performed, gated) = mac_slot(df.gating, a_value, b, kk, nt, z_tile);
                        c.mac += performed;
                        c.mac_gated += gated;
                    }
                }
            }
            count_cycles(df, pes, slots, w as u64, &mut c);
        }
        c.glb_write_z += 4 * w as u64;
    }
    c
}

/// HighLight-DSSO's dual-side mode for one row of PEs: B's K1 coordinates (per column, so per
/// cycle) drive the rank1 muxes, which pick A's block at that coordinate from the PE registers
/// (A holds every K1 block of its fibers); A's K0 coordinates drive the rank0 muxes.
fn pe_row_dual_side(
    df: &Dataflow,
    a: &HierarchicalCp,
    b_columns: &HierarchicalCp,
    b: &Matrix<i8>,
    row: usize,
    z_row: &mut [i32],
) -> Counters {
    let (g1, h1, g0, h0) =
        (df.shape.g1 as usize, df.shape.h1 as usize, df.shape.g0 as usize, df.shape.h0 as usize);
    let span = df.shape.fiber_span();
    let (k, n) = (a.k, b.cols);
    let k0_bits = coord_bits(h0);
    let mut c = Counters::default();
    for nt in (0..n).step_by(df.tile_n) {
        let w = df.tile_n.min(n - nt);
        for first_fiber in (0..a.fibers).step_by(df.fibers_per_step) {
            let fibers = first_fiber..a.fibers.min(first_fiber + df.fibers_per_step);
            let pes = (fibers.len() * g1) as u64;
            let slots = pes * g0 as u64;
            // Load A: every block of each fiber, since B picks which ones run.
            let stored = (fibers.len() * h1 * g0) as u64;
            c.pe_reg_write += stored;
            c.glb_read_a += stored;
            c.glb_read_a_meta_bits += stored * k0_bits;
            for (col, z) in z_row.iter_mut().enumerate().skip(nt).take(w) {
                let mut sum = 0i32;
                for fiber in fibers.clone() {
                    let b_slots =
                        (col * b_columns.fibers + fiber) * g1..(col * b_columns.fibers + fiber + 1) * g1;
                    for b_slot in b_slots {
                        // Rank1 mux, driven by B: A's block at B's K1 coordinate.
                        let k1 = b_columns.k1_coord[b_slot] as usize;
                        let a_block = (row * a.fibers + fiber) * h1 + k1;
                        for v in a_block * g0..(a_block + 1) * g0 {
                            // Rank0 mux, driven by A: B's value at A's K0 coordinate.
                            let kk = fiber * span + k1 * h0 + a.k0_coord[v] as usize;
                            let a_value = i32::from(a.value[v]);
                            let b_value = if kk < k { i32::from(b.get(kk, col)) } else { 0 };
                            if a_value != 0 && b_value != 0 {
                                sum += a_value * b_value;
                                c.mac += 1;
                            } else {
                                c.mac_gated += 1;
                            }
                        }
                    }
                }
                *z += sum;
            }
            count_cycles(df, pes, slots, w as u64, &mut c);
        }
        c.glb_write_z += 4 * w as u64;
    }
    c
}

/// The per-cycle actions of one row of PEs over `cycles` cycles of a tile, with `pes` PEs and
/// `slots` MAC slots busy: mux selects, stationary-operand reads, adds and the RF update.
fn count_cycles(df: &Dataflow, pes: u64, slots: u64, cycles: u64, c: &mut Counters) {
    if df.rank1_saf {
        c.rank1_mux += pes * cycles;
    }
    if df.skip_select {
        c.skip_select_mux += pes * cycles;
    }
    if df.rank0_saf {
        c.rank0_mux += slots * cycles;
    }
    c.pe_reg_read += slots * cycles;
    // The adder tree sums the row's products; one more add accumulates into the RF.
    c.adder += slots * cycles;
    c.rf_read += cycles;
    c.rf_write += cycles;
}

/// One MAC over the `z_tile.len()` cycles of a tile: multiplies `a_value` by B[kk, nt..], adds
/// into the partial sums, and returns (performed, gated) MAC counts.
#[inline]
pub(crate) fn mac_slot(
    gating: bool,
    a_value: i32,
    b: &Matrix<i8>,
    kk: usize,
    nt: usize,
    z_tile: &mut [i32],
) -> (u64, u64) {
    let w = z_tile.len() as u64;
    if kk >= b.rows {
        // K padding: B is zero there.
        return if gating { (0, w) } else { (w, 0) };
    }
    if gating && a_value == 0 {
        return (0, w);
    }
    let b_row = &b.data[kk * b.cols + nt..kk * b.cols + nt + z_tile.len()];
    let mut effectual = 0u32;
    for (z, &b_value) in z_tile.iter_mut().zip(b_row) {
        *z += a_value * i32::from(b_value);
        effectual += u32::from(b_value != 0);
    }
    if gating { (u64::from(effectual), w - u64::from(effectual)) } else { (w, 0) }
}

/// B traffic and cycles of one row group: per tile, k-step and column, the VFMU fetches the
/// k-step's window of the column once for every row.
fn b_fetch(df: &Dataflow, a: &HierarchicalCp, b_format: &BFormat) -> Counters {
    let span = df.shape.fiber_span();
    let mut c = Counters::default();
    let n = b_format.n();
    for first_fiber in (0..a.fibers).step_by(df.fibers_per_step) {
        let last_fiber = a.fibers.min(first_fiber + df.fibers_per_step);
        let mut window = ((last_fiber - first_fiber) * span) as u64;
        let (lo, hi) = (first_fiber * span, a.k.min(last_fiber * span));
        for col in 0..n {
            match b_format {
                BFormat::Dense(_) | BFormat::BlockedCsr(_) => window_reads(b_format, lo, hi, col, &mut c),
                BFormat::Columns(cp) => {
                    // Only B's nonempty K1 blocks are stored, fetched and buffered.
                    let s = cp.shape;
                    let block_slots = ((last_fiber - first_fiber) * s.g1 as usize) as u64;
                    window = block_slots * u64::from(s.g0);
                    c.glb_read_b += window;
                    c.glb_read_b_meta_bits +=
                        block_slots * coord_bits(s.h1 as usize) + window * coord_bits(s.h0 as usize);
                }
            }
            if df.vfmu {
                c.vfmu_write += window;
                c.vfmu_read += window;
            }
            c.cycles += 1;
        }
    }
    c
}

/// GLB reads of B's column `col` over K range `lo..hi`, stored dense or as blocked CSR (stored
/// words, one offset per nonzero, the blocks' addresses).
pub(crate) fn window_reads(b_format: &BFormat, lo: usize, hi: usize, col: usize, c: &mut Counters) {
    match b_format {
        BFormat::Dense(_) => c.glb_read_b += (hi - lo) as u64,
        BFormat::BlockedCsr(csr) => {
            let blocks = lo / csr.block..hi.div_ceil(csr.block);
            let first = col * csr.blocks;
            let nonzeros =
                u64::from(csr.block_end[first + blocks.end - 1] - csr.block_start[first + blocks.start]);
            c.glb_read_b += nonzeros;
            c.glb_read_b_meta_bits += nonzeros * coord_bits(csr.block)
                + csr.addresses.fetched(blocks.start, blocks.end) * coord_bits(csr.k + 1);
        }
        BFormat::Columns(_) => unreachable!("B columns are read by the dual-side fetch"),
    }
}
