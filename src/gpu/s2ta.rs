//! Host side of `shaders/s2ta.wgsl`, the GPU twin of [`crate::reference::s2ta`].

use bytemuck::{Pod, Zeroable};

use super::highlight::GpuRun;
use super::selfcheck::Expected;
use super::{Gpu, GpuError, ROW_WORDS, pack_u32, sum_partials};
use crate::counters::Counters;
use crate::design::s2ta::S2ta;
use crate::format::{HierarchicalCp, coord_bits};
use crate::matrix::Matrix;

const SHADER: &str = include_str!("../../shaders/s2ta.wgsl");
/// The shader's tile and block sizes, invocations per workgroup and outputs each owns.
const TILE_ROWS: usize = 64;
const TILE_COLS: usize = 16;
const BLOCK: u32 = 8;
const INVOCATIONS: usize = 256;
const OUTPUTS: u64 = 4;
/// Largest K whose per-workgroup u32 counts cannot wrap: the largest, the register bytes, is
/// 6 x 64 x 16 x 8 per 8-block, under 2^32 for 2^16 blocks.
const MAX_K: usize = 1 << 19;
/// 8-blocks of K the shader stages per pair of barriers.
const STAGE: usize = 4;

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct Params {
    m: u32,
    n: u32,
    blocks: u32,
    g_a: u32,
    g_b: u32,
    coord_bits: u32,
    b_coord_bits: u32,
    _pad: u32,
}

/// G:8 value slots as `value | coordinate << 8` words.
fn slot_words(cp: &HierarchicalCp) -> Vec<u8> {
    pack_u32(cp.value.iter().zip(&cp.k0_coord).map(|(&v, &c)| u32::from(v as u8) | u32::from(c) << 8))
}

/// The S2TA kernel, built once per device.
pub struct S2taKernel {
    pipeline: wgpu::ComputePipeline,
}

impl S2taKernel {
    pub fn new(gpu: &Gpu) -> Self {
        S2taKernel { pipeline: gpu.pipeline("s2ta", SHADER) }
    }

    /// An upper bound on the loop iterations one invocation runs: every loop of the shader, nested
    /// ones multiplied.
    fn loop_trips(s: &S2ta, blocks: usize) -> u64 {
        // Per stage of STAGE blocks: the weight table's slots, B's slots, and per block the MAC
        // slots of the invocation's outputs.
        let per_stage = 1
            + u64::from(s.g_a)
            + (STAGE * BLOCK as usize * TILE_COLS).div_ceil(INVOCATIONS) as u64
            + STAGE as u64 * (1 + u64::from(s.g_b) * (1 + OUTPUTS));
        blocks.div_ceil(STAGE) as u64 * per_stage + OUTPUTS + Counters::NAMES.len() as u64
    }

    /// Emulates `Z = A x B` from A's rows and B's columns in G:8 blocks.
    pub fn run(
        &self,
        gpu: &Gpu,
        s: &S2ta,
        a: &HierarchicalCp,
        b_columns: &HierarchicalCp,
    ) -> Result<GpuRun, GpuError> {
        if (s.tile_rows, s.tile_cols, s.block) != (TILE_ROWS, TILE_COLS, BLOCK) {
            return Err(GpuError::Unsupported(format!(
                "the GPU S2TA kernel emulates {TILE_ROWS} x {TILE_COLS} tiles and {BLOCK}-blocks"
            )));
        }
        if a.k > MAX_K {
            return Err(GpuError::Unsupported(format!(
                "the GPU S2TA kernel emulates K up to {MAX_K}, so that per-workgroup counts cannot wrap (got K = {})",
                a.k
            )));
        }
        let (m, n) = (a.rows, b_columns.rows);
        let (row_tiles, col_tiles) = (m.div_ceil(TILE_ROWS), n.div_ceil(TILE_COLS));
        let limits = gpu.device.limits();
        let max_groups = limits.max_compute_workgroups_per_dimension as usize;
        if row_tiles > max_groups || col_tiles > max_groups {
            return Err(GpuError::TooLarge(format!(
                "Z of {m} x {n} needs {row_tiles} x {col_tiles} tiles; the device dispatches at most {max_groups} per dimension"
            )));
        }
        gpu.check_loop_trips("s2ta", Self::loop_trips(s, a.fibers))?;
        let expected = Expected::s2ta(s, m, n, a.fibers);
        let inputs = [slot_words(a), slot_words(b_columns)];
        let z_bytes = (m * n * 4) as u64;
        let max_binding = limits.max_storage_buffer_binding_size.min(limits.max_buffer_size);
        if let Some(big) = inputs.iter().map(|b| b.len() as u64).chain([z_bytes]).find(|&b| b > max_binding) {
            return Err(GpuError::TooLarge(format!(
                "S2TA on {m} x {} x {n} needs a {big} byte buffer; the device binds at most {max_binding} bytes",
                a.k
            )));
        }
        let coord = coord_bits(BLOCK as usize) as u32;
        let params = Params {
            m: m as u32,
            n: n as u32,
            blocks: a.fibers as u32,
            g_a: s.g_a,
            g_b: s.g_b,
            coord_bits: coord,
            // Dense B (8:8) needs no coordinates.
            b_coord_bits: if s.g_b == BLOCK { 0 } else { coord },
            _pad: 0,
        };
        let params_buf = gpu.uniform_buffer("params", bytemuck::bytes_of(&params));
        let a_buf = gpu.storage_buffer("a", &inputs[0]);
        let b_buf = gpu.storage_buffer("b", &inputs[1]);
        let z_buf = gpu.output_buffer("z", z_bytes);
        let counter_buf = gpu.output_buffer("counters", (row_tiles * col_tiles * ROW_WORDS * 4) as u64);
        let (outputs, ns) = gpu.dispatch(
            &self.pipeline,
            &[&params_buf, &a_buf, &b_buf, &z_buf, &counter_buf],
            (col_tiles as u32, row_tiles as u32, 1),
            &[&z_buf, &counter_buf],
        )?;
        let z = Matrix::from_vec(m, n, bytemuck::pod_collect_to_vec(&outputs[0]));
        let words: Vec<u32> = bytemuck::pod_collect_to_vec(&outputs[1]);
        expected.check_rows(&words)?;
        let counters = sum_partials(&words);
        expected.check_counters(&counters)?;
        Ok(GpuRun { z, counters, gpu_time_ms: ns.map(|t| t * 1e-6) })
    }
}
