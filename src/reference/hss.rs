//! CPU twin of an N-rank HSS design's loop nest (docs/DESIGN.md 12), which generalises HighLight's
//! ([`super::highlight`]) to any ranks:
//!
//! ```text
//! for row group (arrays x rows of M):
//!   for nt (RF tile of N):
//!     for k-step (fibers_per_step top-rank fibers per PE row):
//!       load A: every processed leaf slot with its coordinates at each selecting rank
//!       for n in nt:                          one cycle
//!         VFMU fetches the k-step's B window of column n once, multicast
//!         each selecting rank's muxes pick a child per slot, outermost first (driven by A, or by
//!         B's coordinates in column n where B drives the rank)
//!         MAC, or gated when an enclosing gating rank's child is empty or an operand is zero
//!         adder tree over the row's products; RF read-modify-write of Z[m, n]
//!     write the Z tile to the GLB
//! ```
//!
//! Counting conventions are HighLight's, rank by rank: a select costs one count per slot of the
//! rank per cycle; metadata is each selecting rank's coordinates per slot loaded. Only the
//! outermost rank may be driven by B.

use rayon::prelude::*;

use super::highlight::{mac_slot, window_reads};
use crate::counters::{Counters, HssCounters};
use crate::format::{BFormat, NRankCp, coord_bits, nrank_cp::NOT_GATED};
use crate::hss::HssDataflow;
use crate::matrix::Matrix;

/// Runs `Z = A x B`. `b` is B's dense view, `b_format` what the GLB stores (dense or blocked
/// CSR); `b_columns` is B^T in CP where B drives the outermost rank.
pub fn run(
    df: &HssDataflow,
    a: &NRankCp,
    b: &Matrix<i8>,
    b_format: &BFormat,
    b_columns: Option<&NRankCp>,
) -> (Matrix<i32>, HssCounters) {
    assert_eq!(a.k, b.rows, "inner dimensions of A and B differ");
    let n = b.cols;
    let mut z = Matrix::zeros(a.rows, n);
    let mut total = HssCounters::new(df.ranks.len());
    if n == 0 || a.rows == 0 {
        return (z, total);
    }
    total = z
        .data
        .par_chunks_mut(n)
        .enumerate()
        .map(|(row, z_row)| pe_row(df, a, b, b_columns, row, z_row))
        .reduce(|| HssCounters::new(df.ranks.len()), HssCounters::plus);
    let groups = a.rows.div_ceil(df.rows_per_group()) as u64;
    let mut fetch = b_fetch(df, a, b_format, b_columns);
    for v in
        [&mut fetch.glb_read_b, &mut fetch.glb_read_b_meta_bits, &mut fetch.vfmu_write, &mut fetch.vfmu_read]
    {
        *v *= groups;
    }
    fetch.cycles *= groups;
    total.counters += fetch;
    total.share_rank_muxes();
    (z, total)
}

/// The work of one row of PEs (one output row) over every tile and k-step.
fn pe_row(
    df: &HssDataflow,
    a: &NRankCp,
    b: &Matrix<i8>,
    b_columns: Option<&NRankCp>,
    row: usize,
    z_row: &mut [i32],
) -> HssCounters {
    let tree = df.a_tree();
    let stored = crate::format::nrank_cp::slots(&tree, tree.len() - 1);
    let span = df.span();
    let (k, n) = (a.k, b.cols);
    let mut c = HssCounters::new(df.ranks.len());
    for nt in (0..n).step_by(df.tile_n) {
        let w = df.tile_n.min(n - nt);
        for first_fiber in (0..a.fibers).step_by(df.fibers_per_step) {
            let fibers = first_fiber..a.fibers.min(first_fiber + df.fibers_per_step);
            let nf = fibers.len();
            // Load A: every stored leaf, with each selecting A rank's coordinates.
            let loaded = (nf * stored) as u64;
            c.counters.pe_reg_write += loaded;
            if df.a_compressed() {
                c.counters.glb_read_a += loaded;
                for (i, r) in tree.iter().enumerate() {
                    if r.select {
                        let bits = (nf * crate::format::nrank_cp::slots(&tree, i)) as u64 * coord_bits(r.h);
                        c.ranks[i].meta_bits += bits;
                        c.counters.glb_read_a_meta_bits += bits;
                    }
                }
            } else {
                c.counters.glb_read_a += (k.min(fibers.end * span) - fibers.start * span) as u64;
            }
            let leaves = (row * a.fibers + fibers.start) * stored..(row * a.fibers + fibers.end) * stored;
            match b_columns {
                None => {
                    let z_tile = &mut z_row[nt..nt + w];
                    for leaf in leaves {
                        leaf_slot(df, a, b, leaf, nt, z_tile, &mut c);
                    }
                }
                Some(bc) => dual_side(df, a, bc, b, row, fibers.clone(), nt..nt + w, z_row, &mut c),
            }
            count_cycles(df, nf, w as u64, &mut c);
        }
        c.counters.glb_write_z += 4 * w as u64;
    }
    c
}

/// One stored A leaf over the cycles of a tile.
fn leaf_slot(
    df: &HssDataflow,
    a: &NRankCp,
    b: &Matrix<i8>,
    leaf: usize,
    nt: usize,
    z_tile: &mut [i32],
    c: &mut HssCounters,
) {
    let gated_by = a.gated_by[leaf];
    if gated_by != NOT_GATED {
        let w = z_tile.len() as u64;
        c.ranks[gated_by as usize].gated += w;
        c.counters.mac_gated += w;
        return;
    }
    let (performed, gated) =
        mac_slot(df.gate_zeros, i32::from(a.value[leaf]), b, a.position[leaf] as usize, nt, z_tile);
    c.counters.mac += performed;
    c.counters.mac_gated += gated;
}

/// A k-step where B drives the outermost rank: per column, B's coordinates there pick which of
/// A's stored children (A keeps every child of that rank) each PE works on.
#[allow(clippy::too_many_arguments)]
fn dual_side(
    df: &HssDataflow,
    a: &NRankCp,
    bc: &NRankCp,
    b: &Matrix<i8>,
    row: usize,
    fibers: std::ops::Range<usize>,
    cols: std::ops::Range<usize>,
    z_row: &mut [i32],
    c: &mut HssCounters,
) {
    let top = df.ranks[0];
    let a_stored = crate::format::nrank_cp::slots(&df.a_tree(), df.ranks.len() - 1);
    let per_child = a_stored / top.h;
    let b_slots = top.w;
    for col in cols {
        let mut sum = 0i32;
        for fiber in fibers.clone() {
            for slot in (col * bc.fibers + fiber) * b_slots..(col * bc.fibers + fiber + 1) * b_slots {
                let child = bc.coords[0][slot] as usize;
                let first = (row * a.fibers + fiber) * a_stored + child * per_child;
                for leaf in first..first + per_child {
                    if a.gated_by[leaf] != NOT_GATED {
                        c.ranks[a.gated_by[leaf] as usize].gated += 1;
                        c.counters.mac_gated += 1;
                        continue;
                    }
                    let kk = a.position[leaf] as usize;
                    let a_value = i32::from(a.value[leaf]);
                    let b_value = if kk < b.rows { i32::from(b.get(kk, col)) } else { 0 };
                    if !df.gate_zeros || (a_value != 0 && b_value != 0) {
                        sum += a_value * b_value;
                        c.counters.mac += 1;
                    } else {
                        c.counters.mac_gated += 1;
                    }
                }
            }
        }
        z_row[col] += sum;
    }
}

/// The per-cycle actions of one row of PEs over `cycles` cycles with `nf` fibers busy: each
/// selecting rank's selects, stationary-operand reads, adds and the RF update.
fn count_cycles(df: &HssDataflow, nf: usize, cycles: u64, c: &mut HssCounters) {
    for (i, r) in df.ranks.iter().enumerate() {
        if r.skip {
            c.ranks[i].mux += (nf * df.slots(i)) as u64 * cycles;
        }
    }
    if df.skip_select {
        c.counters.skip_select_mux += (nf * df.pes_per_fiber()) as u64 * cycles;
    }
    let slots = (nf * df.leaves()) as u64;
    c.counters.pe_reg_read += slots * cycles;
    c.counters.adder += slots * cycles;
    c.counters.rf_read += cycles;
    c.counters.rf_write += cycles;
}

/// B traffic and cycles of one row group: per tile, k-step and column, the VFMU fetches the
/// k-step's window of the column once for every row.
fn b_fetch(df: &HssDataflow, a: &NRankCp, b_format: &BFormat, b_columns: Option<&NRankCp>) -> Counters {
    let span = df.span();
    let mut c = Counters::default();
    let n = b_format.n();
    for first_fiber in (0..a.fibers).step_by(df.fibers_per_step) {
        let last_fiber = a.fibers.min(first_fiber + df.fibers_per_step);
        let nf = last_fiber - first_fiber;
        let mut window = (nf * span) as u64;
        let (lo, hi) = (first_fiber * span, a.k.min(last_fiber * span));
        for col in 0..n {
            match b_columns {
                None => window_reads(b_format, lo, hi, col, &mut c),
                Some(bc) => {
                    // Only B's selected children are stored, fetched and buffered.
                    window = (nf * crate::format::nrank_cp::slots(&bc.ranks, bc.ranks.len() - 1)) as u64;
                    c.glb_read_b += window;
                    for (i, r) in bc.ranks.iter().enumerate() {
                        c.glb_read_b_meta_bits +=
                            (nf * crate::format::nrank_cp::slots(&bc.ranks, i)) as u64 * coord_bits(r.h);
                    }
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
