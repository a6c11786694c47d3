//! What the tensor-core kernel knows of a machine ([`KernelShape`]): the loop nest as leaves per
//! top-rank fiber with their offsets resolved on the host, and each rank's selects and coordinate
//! bits per fiber. Both HighLight's two-rank [`Dataflow`] and any [`HssDataflow`] reduce to it, so
//! one kernel runs them all (docs/DESIGN.md 12).

use crate::design::Dataflow;
use crate::format::{HierarchicalCp, NRankCp, coord_bits, nrank_cp};
use crate::hss::{HssDataflow, Side};

/// Ranks the kernel counts.
pub const KERNEL_RANKS: usize = 4;

/// The machine as the kernel runs it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KernelShape {
    /// MAC slots per fiber the PEs process.
    pub leaves: usize,
    /// A leaves stored per fiber.
    pub stored: usize,
    /// K positions of a fiber.
    pub span: usize,
    /// Dual-side mode: top-rank children processed per fiber, A leaves stored per top child.
    pub top_w: usize,
    pub per_child: usize,
    /// PEs a fiber occupies (one skip-select mux each).
    pub pes_per_fiber: usize,
    pub fibers_per_step: usize,
    pub arrays: usize,
    pub rows_per_array: usize,
    pub tile_n: usize,
    /// Per rank number (Rank0 first): selects per fiber per cycle, A coordinate bits per fiber.
    pub mux: [usize; KERNEL_RANKS],
    pub meta: [u64; KERNEL_RANKS],
    pub a_compressed: bool,
    /// Leaf s of a fiber sits at offset s: no rank selects.
    pub in_order: bool,
    pub vfmu: bool,
    pub gating: bool,
    /// B's top-rank coordinates pick A's children (dual-side mode).
    pub b_drives: bool,
    pub skip_select: bool,
    /// Dual-side mode: B leaves and B coordinate bits per fiber.
    pub b_leaves: usize,
    pub b_meta: u64,
    /// Some rank gates its empty children.
    pub gate_ranks: bool,
    /// Blocked CSR's block for B.
    pub csr_block: usize,
}

impl KernelShape {
    /// HighLight's two-rank loop nest.
    pub fn of_dataflow(df: &Dataflow) -> KernelShape {
        let s = df.shape;
        let (g1, h1, g0, h0) = (s.g1 as usize, s.h1 as usize, s.g0 as usize, s.h0 as usize);
        let a_g1 = df.a_shape().g1 as usize;
        let mut mux = [0; KERNEL_RANKS];
        let mut meta = [0; KERNEL_RANKS];
        if df.rank0_saf {
            mux[0] = g1 * g0;
            meta[0] = (a_g1 * g0) as u64 * coord_bits(h0);
        }
        if df.rank1_saf {
            mux[1] = g1;
            if !df.b_drives_rank1 {
                meta[1] = g1 as u64 * coord_bits(h1);
            }
        }
        KernelShape {
            leaves: g1 * g0,
            stored: a_g1 * g0,
            span: s.fiber_span(),
            top_w: g1,
            per_child: g0,
            pes_per_fiber: g1,
            fibers_per_step: df.fibers_per_step,
            arrays: df.arrays,
            rows_per_array: df.rows_per_array,
            tile_n: df.tile_n,
            mux,
            meta,
            a_compressed: df.rank0_saf,
            in_order: !df.rank1_saf && !df.rank0_saf,
            vfmu: df.vfmu,
            gating: df.gating,
            b_drives: df.b_drives_rank1,
            skip_select: df.skip_select,
            b_leaves: if df.b_drives_rank1 { g1 * h0 } else { 0 },
            b_meta: if df.b_drives_rank1 {
                g1 as u64 * coord_bits(h1) + (g1 * h0) as u64 * coord_bits(h0)
            } else {
                0
            },
            gate_ranks: false,
            csr_block: h0,
        }
    }

    /// An HSS design's loop nest; `None` beyond the kernel's four ranks.
    pub fn of_hss(df: &HssDataflow) -> Option<KernelShape> {
        let n = df.ranks.len();
        if n > KERNEL_RANKS {
            return None;
        }
        let a_tree = df.a_tree();
        let mut mux = [0; KERNEL_RANKS];
        let mut meta = [0; KERNEL_RANKS];
        for (i, r) in df.ranks.iter().enumerate() {
            if r.skip {
                mux[n - 1 - i] = df.slots(i);
            }
            if a_tree[i].select {
                meta[n - 1 - i] = nrank_cp::slots(&a_tree, i) as u64 * coord_bits(a_tree[i].h);
            }
        }
        let stored = nrank_cp::slots(&a_tree, n - 1);
        let (b_leaves, b_meta) = match df.b_tree() {
            Some(tree) => (
                nrank_cp::slots(&tree, n - 1),
                (0..n).map(|i| nrank_cp::slots(&tree, i) as u64 * coord_bits(tree[i].h)).sum(),
            ),
            None => (0, 0),
        };
        Some(KernelShape {
            leaves: df.leaves(),
            stored,
            span: df.span(),
            top_w: df.ranks[0].w,
            per_child: stored / a_tree[0].w,
            pes_per_fiber: df.pes_per_fiber(),
            fibers_per_step: df.fibers_per_step,
            arrays: df.arrays,
            rows_per_array: df.rows_per_array,
            tile_n: df.tile_n,
            mux,
            meta,
            a_compressed: df.a_compressed(),
            in_order: df.ranks.iter().all(|r| !r.skip && r.side == Side::A),
            vfmu: df.vfmu,
            gating: df.gate_zeros,
            b_drives: df.ranks[0].side == Side::B,
            skip_select: df.skip_select,
            b_leaves,
            b_meta,
            gate_ranks: df.ranks.iter().any(|r| r.gate),
            csr_block: df.ranks[n - 1].h,
        })
    }

    /// Fibers per row for a reduction of `k`.
    pub fn fibers(&self, k: usize) -> usize {
        k.div_ceil(self.span)
    }

    /// k-steps per (row group, output column).
    pub fn k_steps(&self, k: usize) -> usize {
        self.fibers(k).div_ceil(self.fibers_per_step)
    }

    pub fn rows_per_group(&self) -> usize {
        self.arrays * self.rows_per_array
    }

    /// The arrays' cycles, as [`Dataflow::cycles`] and [`HssDataflow::cycles`].
    pub fn cycles(&self, m: usize, k: usize, n: usize) -> u64 {
        (m.div_ceil(self.rows_per_group()) * n * self.k_steps(k)) as u64
    }
}

/// No gating rank above a leaf, in the kernel's leaf words.
const NOT_GATED: u32 = 255;

/// A's leaves as the kernel reads them: value | offset in the fiber << 8 | gating rank << 16.
pub fn leaf_words_of_cp(a: &HierarchicalCp) -> Vec<u32> {
    let (g0, h0) = (a.shape.g0 as usize, a.shape.h0);
    a.value
        .iter()
        .zip(&a.k0_coord)
        .enumerate()
        .map(|(v, (&value, &k0))| {
            let k1 = u32::from(a.k1_coord[v / g0]);
            leaf_word(value, k1 * h0 + u32::from(k0), NOT_GATED)
        })
        .collect()
}

/// An N-rank CP's leaves as the kernel reads them, the gating rank as its number.
pub fn leaf_words_of_nrank(a: &NRankCp) -> Vec<u32> {
    let span = nrank_cp::span(&a.ranks) as u32;
    let n = a.ranks.len() as u32;
    a.value
        .iter()
        .zip(&a.position)
        .zip(&a.gated_by)
        .map(|((&value, &position), &by)| {
            let gated = if by == nrank_cp::NOT_GATED { NOT_GATED } else { n - 1 - u32::from(by) };
            leaf_word(value, position % span, gated)
        })
        .collect()
}

fn leaf_word(value: i8, offset: u32, gated: u32) -> u32 {
    u32::from(value as u8) | offset << 8 | gated << 16
}
