//! TC, the dense tensor core (docs/DESIGN.md 7): the HighLight loop nest with all of a row's MACs
//! along consecutive K, no SAF, every MAC performed. It runs every pattern, computing its zeros.

use super::{Arch, Dataflow};
use crate::format::TwoRankHss;

/// A row of PEs covers `pes_per_row x macs_per_pe` consecutive k: one dense K1 fiber of
/// `K1(P:P)->K0(G:G)` per k-step.
pub fn dataflow(arch: &Arch) -> Dataflow {
    let (pes, macs) = (arch.pes_per_row as u32, arch.macs_per_pe as u32);
    Dataflow {
        shape: TwoRankHss { g1: pes, h1: pes, g0: macs, h0: macs },
        fibers_per_step: 1,
        arrays: arch.arrays,
        rows_per_array: arch.rows_per_array,
        tile_n: arch.tile_n,
        rank1_saf: false,
        rank0_saf: false,
        vfmu: false,
        b_compressed: false,
        b_drives_rank1: false,
        skip_select: false,
        gating: false,
    }
}
