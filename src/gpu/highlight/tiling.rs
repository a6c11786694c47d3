//! How the tensor-core kernel divides its work ([`Tiling`]): output columns per invocation and PE
//! arrays per workgroup, chosen per shape to fit the invocation's partial sums, the device's
//! workgroup memory, the u32 counts and a software adapter's loop limit; and the loop trips and
//! workgroup memory of a tiling.

use super::{
    HighlightKernel, KernelShape, MAX_ACC, MAX_COLUMNS, MAX_SLOTS, MAX_WORKGROUP_SLOTS, RANK_WORDS, TILE_N,
};
use crate::counters::Counters;
use crate::format::BFormat;
use crate::gpu::{Gpu, ROW_WORDS};

/// How the kernel divides the work: PE arrays of a row group per workgroup, output columns per
/// invocation.
pub(super) struct Tiling {
    pub arrays: usize,
    pub columns: usize,
}

/// Columns per invocation for a requested number: a power of two (so that they divide the RF
/// tile) up to [`MAX_COLUMNS`].
pub(super) fn columns_of(wanted: usize) -> usize {
    1 << wanted.clamp(1, MAX_COLUMNS).ilog2()
}

impl HighlightKernel {
    /// How a dispatch of `m` x `k` x `n` is tiled: the most output columns per invocation up to
    /// the kernel's setting, then the most arrays per workgroup up to its setting that divide
    /// the row group, whose partial sums fit an invocation's, whose registers fit the device's
    /// workgroup memory and whose counts cannot wrap, such that the adapter runs every loop to
    /// its end (else one column and array, refused by the checks if that does not fit either).
    pub(super) fn tiling(&self, gpu: &Gpu, df: &KernelShape, (m, k): (usize, usize), b: &BFormat) -> Tiling {
        let kpad = df.k_steps(k).max(1) * df.fibers_per_step * df.span;
        let memory = u64::from(gpu.device.limits().max_compute_workgroup_storage_size);
        let arrays_for = |columns: usize| {
            (1..=self.arrays_per_workgroup.min(df.arrays))
                .rev()
                .find(|&d| {
                    let rows = d * df.rows_per_array;
                    df.arrays.is_multiple_of(d)
                        && rows * columns <= MAX_ACC
                        && self.workgroup_bytes(df, rows) <= memory
                        && rows.saturating_mul(TILE_N).saturating_mul(kpad) <= MAX_WORKGROUP_SLOTS
                })
                .unwrap_or(1)
        };
        (1..=self.columns)
            .rev()
            .map(|columns| Tiling { arrays: arrays_for(columns), columns })
            .find(|t| gpu.check_loop_trips("highlight", self.loop_trips(df, t, m, k, b)).is_ok())
            .unwrap_or(Tiling { arrays: 1, columns: 1 })
    }

    /// An upper bound on the loop iterations one invocation runs, tiled as `t`, with `m` rows of
    /// A and B stored as `b`: every loop of the shader, nested ones multiplied, except loops of
    /// one iteration (a single column, say), which the compiler removes.
    pub(super) fn loop_trips(&self, df: &KernelShape, t: &Tiling, m: usize, k: usize, b: &BFormat) -> u64 {
        // A loop of `n` iterations around `body` iterations.
        let nest = |n: u64, body: u64| if n == 1 { body } else { n * (1 + body) };
        let wg_rows = (t.arrays * df.rows_per_array) as u64;
        let (fibers, rows, columns) = (df.fibers_per_step as u64, wg_rows.min(m as u64), t.columns as u64);
        let words_per_row = (fibers * df.stored as u64).div_ceil(4);
        let window_words = (fibers * df.span as u64).div_ceil(4);
        let csr_blocks = (df.span as u64).div_ceil(df.csr_block as u64);
        // Words of A, each of four slots.
        let load = nest((rows * words_per_row).div_ceil(TILE_N as u64 / columns), 4);
        let fetch = match b {
            BFormat::Dense(_) => window_words,
            // The window cleared, then the fibers' blocks, each of up to a block of nonzeros.
            BFormat::BlockedCsr(_) => window_words + fibers * csr_blocks * (1 + df.csr_block as u64),
            BFormat::Columns(_) => window_words + fibers * (1 + df.b_leaves as u64),
        };
        let copy = if self.window_shared { window_words } else { 0 };
        // Every row of the arrays in words of four slots, each for every column; in dual-side
        // mode, column by column and slot by slot.
        let macs = if df.b_drives {
            nest(columns, rows * (1 + fibers * df.top_w as u64 * (1 + df.per_child as u64)))
        } else {
            nest(wg_rows, nest(words_per_row, nest(columns, 0)))
        };
        let per_step = load + nest(columns, fetch + copy) + macs;
        (df.k_steps(k) as u64 + 1) * per_step
            + nest(columns, rows)
            + (Counters::NAMES.len() + RANK_WORDS) as u64
    }

    /// Workgroup memory the shader declares for a configuration with `wg_rows` rows per
    /// workgroup: A's words and offsets and the dual-side slots (one word unless dual-side), two
    /// buffers of each, the windows in workgroup memory (one word unless gathered from there),
    /// and the counter rows.
    pub(super) fn workgroup_bytes(&self, df: &KernelShape, wg_rows: usize) -> u64 {
        let window_words = (df.fibers_per_step * df.span).div_ceil(4);
        let words_per_row = (df.fibers_per_step * df.stored).div_ceil(4);
        let buffers = 1 + usize::from(self.double_buffer);
        let slots = if df.b_drives { buffers * wg_rows * MAX_SLOTS } else { 0 } + 1;
        let windows = if self.window_shared { window_words * TILE_N } else { 0 } + 1;
        4 * (2 * buffers * wg_rows * words_per_row + slots + windows + ROW_WORDS + RANK_WORDS) as u64
    }
}
