//! HighLight's support rules (docs/DESIGN.md 6 and 7): A = dense, `K0(G:H0)` or
//! `K1(G:H1)->K0(G:H0)` within the SAF limits of its architecture file, with G at most the slots
//! per fiber; dense top ranks are dropped first (`K1(4:4)->K0(2:4)` runs as `K0(2:4)`). B is any
//! pattern: its zeros are gated.

use super::{Arch, Dataflow, DesignError, SafRank, structured};
use crate::format::TwoRankHss;
use crate::pattern::{Pattern, RuledRank};

/// The SAF ranks of a HighLight architecture file, checked against its PEs.
pub(super) fn saf_ranks(arch: &Arch) -> Result<(SafRank, SafRank), DesignError> {
    let bad = |message: String| DesignError::BadArch { path: arch.name.clone(), message };
    let (Some(rank1), Some(rank0)) = (arch.rank1, arch.rank0) else {
        return Err(bad("HighLight needs [rank1] and [rank0] sections".into()));
    };
    if arch.macs_per_pe != rank0.g as usize {
        return Err(bad(format!("macs_per_pe = {} must equal rank0 g = {}", arch.macs_per_pe, rank0.g)));
    }
    Ok((rank1, rank0))
}

/// The HSS-operand-stationary dataflow for A, or why HighLight cannot run it.
pub fn dataflow(arch: &Arch, a: &Pattern) -> Result<Dataflow, DesignError> {
    let (rank1, rank0) = saf_ranks(arch)?;
    let shape = a_shape(rank1, rank0, a).ok_or_else(|| unsupported(arch, rank1, rank0, a))?;
    Ok(Dataflow {
        shape,
        fibers_per_step: arch.pes_per_row / rank1.g as usize,
        arrays: arch.arrays,
        rows_per_array: arch.rows_per_array,
        tile_n: arch.tile_n,
        rank1_saf: true,
        rank0_saf: true,
        vfmu: true,
        b_compressed: true,
        b_drives_rank1: false,
        skip_select: false,
        gating: true,
    })
}

pub(super) fn fits(rule: &RuledRank, rank: SafRank) -> bool {
    rule.g <= rank.g && (rank.h_min..=rank.h_max).contains(&rule.h)
}

/// The two-rank shape A runs as, when HighLight supports it.
fn a_shape(rank1: SafRank, rank0: SafRank, a: &Pattern) -> Option<TwoRankHss> {
    let dense1 = (rank1.g, rank1.g);
    match structured(a)? {
        [] => Some(two_rank(dense1, (rank0.g, rank0.g))),
        [r0] if fits(r0, rank0) => Some(two_rank(dense1, (rank0.g, r0.h))),
        [r1, r0] if fits(r1, rank1) && fits(r0, rank0) => Some(two_rank((rank1.g, r1.h), (rank0.g, r0.h))),
        _ => None,
    }
}

fn two_rank((g1, h1): (u32, u32), (g0, h0): (u32, u32)) -> TwoRankHss {
    TwoRankHss { g1, h1, g0, h0 }
}

/// The error for an unsupported A, naming the forms HighLight runs and the closest one A also
/// satisfies: A's own rank 0 (and rank 1 above it) where they fit the SAFs, else dense.
fn unsupported(arch: &Arch, rank1: SafRank, rank0: SafRank, a: &Pattern) -> DesignError {
    let (g1, g0) = (rank1.g, rank0.g);
    let supports = format!(
        "dense, K0({g0}:H0) or K1({g1}:H1)->K0({g0}:H0) with {} <= H1 <= {}, {} <= H0 <= {} (G at most {g1} and {g0})",
        rank1.h_min, rank1.h_max, rank0.h_min, rank0.h_max
    );
    let ranks = structured(a).unwrap_or(&[]);
    let (mut h1, mut h0) = (g1, g0);
    if let Some((r0, above)) = ranks.split_last()
        && fits(r0, rank0)
    {
        h0 = r0.h;
        if let Some(r1) = above.last().filter(|r1| fits(r1, rank1)) {
            h1 = r1.h;
        }
    }
    let hint = format!("; A also satisfies K1({g1}:{h1})->K0({g0}:{h0}), which it runs");
    DesignError::Unsupported {
        design: arch.name.clone(),
        operand: "A",
        pattern: a.to_string(),
        supports,
        hint,
    }
}
