//! Host side of `shaders/dstc.wgsl`, the GPU twin of [`crate::reference::dstc`].

use bytemuck::{Pod, Zeroable};

use super::highlight::GpuRun;
use super::selfcheck::Expected;
use super::{Gpu, GpuError, ROW_WORDS, pack_i8, pack_u32, sum_partials};
use crate::counters::Counters;
use crate::design::dstc::Dstc;
use crate::format::Bitmask;
use crate::matrix::Matrix;

const SHADER: &str = include_str!("../../shaders/dstc.wgsl");
/// The sub-tile sides (rows and columns per array) the shader emulates: whole 32-bit mask words,
/// at most 64.
const SUBS: [usize; 3] = [16, 32, 64];
/// Largest K whose per-workgroup u32 counts cannot wrap: the largest, the MACs, is at most
/// 64 x 64 per k, 2^31 at 2^19.
const MAX_K: usize = 1 << 19;
/// k's the shader stages per pair of barriers.
const KCHUNK: usize = 16;

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct Params {
    m: u32,
    k: u32,
    n: u32,
    a_words: u32,
    b_words: u32,
    lanes: u32,
    arrays_per_side: u32,
    _pad: u32,
}

/// A bitmask's fibers as 32-bit mask words, with the index of each word's first nonzero.
fn mask_words(bm: &Bitmask) -> (usize, Vec<u8>, Vec<u8>) {
    let words = 2 * bm.words_per_fiber;
    let mut mask = Vec::with_capacity(bm.fibers * words);
    let mut start = Vec::with_capacity(bm.fibers * words);
    for f in 0..bm.fibers {
        let mut index = bm.start[f];
        for &w in &bm.mask[f * bm.words_per_fiber..(f + 1) * bm.words_per_fiber] {
            for half in [w as u32, (w >> 32) as u32] {
                mask.push(half);
                start.push(index);
                index += half.count_ones();
            }
        }
    }
    (words, pack_u32(mask.into_iter()), pack_u32(start.into_iter()))
}

/// The DSTC kernel: one pipeline per sub-tile shape, built on first use and kept for the
/// device's life.
#[derive(Default)]
pub struct DstcKernel {
    pipelines: std::sync::Mutex<std::collections::HashMap<(usize, usize), wgpu::ComputePipeline>>,
}

impl DstcKernel {
    pub fn new(_gpu: &Gpu) -> Self {
        DstcKernel::default()
    }

    /// Emulates `Z = A x B` from A's columns and B's rows as bitmasks.
    pub fn run(
        &self,
        gpu: &Gpu,
        d: &Dstc,
        a_columns: &Bitmask,
        b_rows: &Bitmask,
    ) -> Result<GpuRun, GpuError> {
        if !SUBS.contains(&d.sub_rows) || !SUBS.contains(&d.sub_cols) {
            return Err(GpuError::Unsupported(format!(
                "the GPU DSTC kernel emulates sub-tiles of 16, 32 or 64 rows and columns (the architecture has {} x {})",
                d.sub_rows, d.sub_cols
            )));
        }
        let (m, k, n) = (a_columns.shape, a_columns.fibers, b_rows.shape);
        if k > MAX_K {
            return Err(GpuError::Unsupported(format!(
                "the GPU DSTC kernel emulates K up to {MAX_K}, so that per-workgroup counts cannot wrap (got K = {k})"
            )));
        }
        let (row_blocks, col_blocks) = (m.div_ceil(d.sub_rows), n.div_ceil(d.sub_cols));
        let limits = gpu.device.limits();
        let max_groups = limits.max_compute_workgroups_per_dimension as usize;
        if row_blocks > max_groups || col_blocks > max_groups {
            return Err(GpuError::TooLarge(format!(
                "Z of {m} x {n} needs {row_blocks} x {col_blocks} arrays; the device dispatches at most {max_groups} per dimension"
            )));
        }
        // Per chunk of KCHUNK k's: the chunk, its staging, the outputs each invocation owns over
        // the chunk, and the mask words of one k; then the outputs and the row.
        let outputs = (d.sub_rows * d.sub_cols / 256) as u64;
        let staging = (KCHUNK / 4 * (d.sub_rows + d.sub_cols)).div_ceil(256) as u64 * 5;
        let per_chunk = 1 + staging + outputs * (1 + KCHUNK as u64 / 4) + 4;
        gpu.check_loop_trips(
            "dstc",
            k.div_ceil(KCHUNK) as u64 * per_chunk + outputs + Counters::NAMES.len() as u64,
        )?;
        let expected = Expected::dstc(a_columns, b_rows);
        let (a_words, a_mask, a_start) = mask_words(a_columns);
        let (b_words, b_mask, b_start) = mask_words(b_rows);
        let inputs = [a_mask, a_start, pack_i8(&a_columns.value), b_mask, b_start, pack_i8(&b_rows.value)];
        let z_bytes = (m * n * 4) as u64;
        let max_binding = limits.max_storage_buffer_binding_size.min(limits.max_buffer_size);
        if let Some(big) = inputs.iter().map(|b| b.len() as u64).chain([z_bytes]).find(|&b| b > max_binding) {
            return Err(GpuError::TooLarge(format!(
                "DSTC on {m} x {k} x {n} needs a {big} byte buffer; the device binds at most {max_binding} bytes"
            )));
        }
        let params = Params {
            m: m as u32,
            k: k as u32,
            n: n as u32,
            a_words: a_words as u32,
            b_words: b_words as u32,
            lanes: d.lanes as u32,
            arrays_per_side: d.arrays_per_side as u32,
            _pad: 0,
        };
        let params_buf = gpu.uniform_buffer("params", bytemuck::bytes_of(&params));
        let input_bufs: Vec<wgpu::Buffer> =
            inputs.iter().map(|bytes| gpu.storage_buffer("dstc", bytes)).collect();
        let z_buf = gpu.output_buffer("z", z_bytes);
        let counter_buf = gpu.output_buffer("counters", (row_blocks * col_blocks * ROW_WORDS * 4) as u64);
        let mut buffers = vec![&params_buf];
        buffers.extend(input_bufs.iter());
        buffers.extend([&z_buf, &counter_buf]);
        let pipeline = self
            .pipelines
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry((d.sub_rows, d.sub_cols))
            .or_insert_with(|| {
                let constants = [("SUB_ROWS", d.sub_rows as f64), ("SUB_COLS", d.sub_cols as f64)];
                gpu.pipeline_with_constants("dstc", SHADER, &constants)
            })
            .clone();
        let (outputs, ns) = gpu.dispatch(
            &pipeline,
            &buffers,
            (col_blocks as u32, row_blocks as u32, 1),
            &[&z_buf, &counter_buf],
        )?;
        let z = Matrix::from_vec(m, n, bytemuck::pod_collect_to_vec(&outputs[0]));
        let words: Vec<u32> = bytemuck::pod_collect_to_vec(&outputs[1]);
        expected.check_rows(&words)?;
        let mut counters = sum_partials(&words);
        // The arrays sync per tile: a tile takes its slowest array's cycles.
        let cycles = Counters::NAMES.len() - 1;
        let cycles_of = |y: usize, x: usize| u64::from(words[(y * col_blocks + x) * ROW_WORDS + cycles]);
        let side = d.arrays_per_side;
        counters.cycles = 0;
        for ty in (0..row_blocks).step_by(side) {
            for tx in (0..col_blocks).step_by(side) {
                let slowest = (ty..(ty + side).min(row_blocks))
                    .flat_map(|y| (tx..(tx + side).min(col_blocks)).map(move |x| (y, x)))
                    .map(|(y, x)| cycles_of(y, x))
                    .max()
                    .unwrap_or(0);
                counters.cycles += slowest;
            }
        }
        expected.check_counters(&counters)?;
        Ok(GpuRun { z, counters, gpu_time_ms: ns.map(|t| t * 1e-6) })
    }
}
