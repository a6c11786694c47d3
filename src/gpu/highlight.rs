//! Host side of `shaders/highlight.wgsl`, the GPU twin of [`crate::reference::highlight`] and
//! [`crate::reference::hss`]: buffers from the compressed formats, one pipeline per
//! configuration (its [`KernelShape`] and modes baked in as override constants), dispatches split
//! to fit the device, and the per-workgroup counters checked ([`super::selfcheck`]) and summed in
//! u64.

use bytemuck::{Pod, Zeroable};

use super::selfcheck::Expected;
use super::{Gpu, GpuError, ROW_WORDS, pack_i8, pack_u32, sum_partials};
use crate::counters::{Counters, HssCounters, RankCounts};
use crate::design::Dataflow;
use crate::format::{BFormat, HierarchicalCp, NRankCp, coord_bits};
use crate::hss::HssDataflow;
use crate::matrix::Matrix;

mod settings;
pub mod shape;
mod tiling;
pub use shape::KernelShape;
use shape::{KERNEL_RANKS, leaf_words_of_cp, leaf_words_of_nrank};

const SHADER: &str = include_str!("../../shaders/highlight.wgsl");
/// The shader's compile-time sizes: RF tile columns, rows per array, A value slots a row holds
/// per k-step, int8 values of one B window, output columns per invocation, and RF partial sums
/// per invocation (rows of the workgroup's arrays x columns).
const TILE_N: usize = 128;
const MAX_ROWS: usize = 16;
const MAX_SLOTS: usize = 64;
const MAX_WINDOW: usize = 256;
const MAX_COLUMNS: usize = 4;
const MAX_ACC: usize = 64;
/// MAC slots one dispatch emulates at most (7e10: under a tenth of a second at 1e12 slots per
/// second), far below the seconds a display watchdog allows a dispatch; 8192^3 takes eight.
const MAX_SLOTS_PER_DISPATCH: u64 = 1 << 36;
/// Workgroups a dispatch should have for a large GPU to be full: an H200's 132 SMs hold 16
/// workgroups of 128 invocations each. Fewer row groups and tiles than this split K.
const TARGET_WORKGROUPS: usize = 2048;
/// MAC slots one workgroup may count (rows x 128 columns x Kpad) so that its u32 counts cannot
/// wrap: K up to 2^20 with one array of 16 rows per workgroup, less with more arrays.
const MAX_WORKGROUP_SLOTS: usize = 1 << 31;
const MAX_K: usize = MAX_WORKGROUP_SLOTS / (MAX_ROWS * TILE_N);

/// The uniform block of the shader (`Params`): what changes between dispatches.
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct Params {
    rows: u32,
    k: u32,
    n: u32,
    fibers: u32,
    b_blocks: u32,
    addr_bits: u32,
    addr_per_block: u32,
    addr_first: u32,
    a_tile: u32,
    split_fibers: u32,
}

/// Per-rank counts a workgroup writes: selects, coordinate bits and gated MACs of ranks 0 to 3.
const RANK_WORDS: usize = 3 * KERNEL_RANKS;

/// The shader's override constants, in its order: the machine's configuration, then where the
/// muxes gather from and how the work is tiled; one pipeline each.
const OVERRIDES: [&str; 32] = [
    "LEAVES",
    "STORED",
    "SPAN",
    "TOP_W",
    "PER_CHILD",
    "PES_PER_FIBER",
    "FIBERS_PER_STEP",
    "MUX_0",
    "MUX_1",
    "MUX_2",
    "MUX_3",
    "META_0",
    "META_1",
    "META_2",
    "META_3",
    "A_COMPRESSED",
    "IN_ORDER",
    "VFMU",
    "GATING",
    "B_DRIVES",
    "SKIP_SELECT",
    "B_MODE",
    "CSR_BLOCK",
    "B_LEAVES",
    "B_META",
    "OFFSET_BITS",
    "ROWS_PER_ARRAY",
    "ARRAYS_PER_GROUP",
    "WINDOW_SHARED",
    "ARRAYS_PER_WORKGROUP",
    "COLUMNS",
    "DOUBLE_BUFFER",
];

/// What one GPU emulation returns.
pub struct GpuRun {
    pub z: Matrix<i32>,
    pub counters: Counters,
    /// Time the dispatches took on the device, where the adapter has timestamp queries.
    pub gpu_time_ms: Option<f64>,
}

/// The tensor-core kernel (HighLight and TC): one pipeline per configuration, built on first use
/// and kept for the device's life.
pub struct HighlightKernel {
    pipelines: std::sync::Mutex<std::collections::HashMap<[u32; 32], wgpu::ComputePipeline>>,
    /// MAC slots one dispatch emulates at most ([`MAX_SLOTS_PER_DISPATCH`]; less in tests).
    max_slots_per_dispatch: u64,
    /// Splits of K between workgroups, where forced; else enough for [`TARGET_WORKGROUPS`] on
    /// hardware GPUs and none on software adapters.
    k_splits: Option<usize>,
    /// Whether the muxes gather from B's window in workgroup memory (hardware GPUs, where a
    /// private array indexed by data lives in slow local memory) or from a private array
    /// (software adapters, where that is faster).
    window_shared: bool,
    /// PE arrays of a row group one workgroup emulates, at most (each B window fetched once for
    /// all their rows); fewer where they do not fit ([`tiling`]).
    arrays_per_workgroup: usize,
    /// Output columns (cycles) per invocation, at most: each A word read once for all of them.
    columns: usize,
    /// Whether the next k-step's A is loaded while this one's is read (one barrier per k-step
    /// instead of two, twice the register memory).
    double_buffer: bool,
    /// Largest buffer a dispatch binds, below the device's own limit when set.
    binding_limit: Option<u64>,
}

impl HighlightKernel {
    /// Checks that the kernel's fixed sizes hold this machine and shape.
    fn check(&self, shape: &KernelShape, k: usize) -> Result<(), GpuError> {
        let problems = [
            (
                shape.tile_n == 0 || !TILE_N.is_multiple_of(shape.tile_n),
                format!(
                    "column tiles that divide its {TILE_N}-column RF tile (the machine has {})",
                    shape.tile_n
                ),
            ),
            (
                shape.rows_per_array > MAX_ROWS,
                format!("at most {MAX_ROWS} rows per array (got {})", shape.rows_per_array),
            ),
            (
                shape.fibers_per_step * shape.stored > MAX_SLOTS,
                format!("at most {MAX_SLOTS} A values per row and k-step"),
            ),
            (
                shape.fibers_per_step * shape.span > MAX_WINDOW,
                format!("B windows of at most {MAX_WINDOW} values"),
            ),
            (
                shape.gate_ranks && !shape.gating,
                "a rank's gating only where the MACs gate zero operands too ([b] gate_zeros = true)"
                    .to_string(),
            ),
            (k > MAX_K, format!("K up to {MAX_K}, so that per-workgroup counts cannot wrap (got K = {k})")),
        ];
        match problems.into_iter().find(|(bad, _)| *bad) {
            Some((_, what)) => Err(GpuError::Unsupported(format!("the GPU kernel emulates {what}"))),
            None => Ok(()),
        }
    }

    /// Emulates HighLight's two-rank loop nest (TC, STC, HighLight, HighLight-DSSO) on the device.
    pub fn run(&self, gpu: &Gpu, df: &Dataflow, a: &HierarchicalCp, b: &BFormat) -> Result<GpuRun, GpuError> {
        let shape = KernelShape::of_dataflow(df);
        let b_columns = match b {
            BFormat::Columns(cp) => {
                let h0 = cp.shape.h0;
                let g0 = cp.shape.g0 as usize;
                let values = cp.value.iter().zip(&cp.k0_coord).enumerate().map(|(v, (&value, &k0))| {
                    let k1 = u32::from(cp.k1_coord[v / g0]);
                    u32::from(value as u8) | (k1 * h0 + u32::from(k0)) << 8
                });
                Some((pack_u32(cp.k1_coord.iter().map(|&c| u32::from(c))), pack_u32(values)))
            }
            _ => None,
        };
        let a = KernelA { rows: a.rows, k: a.k, fibers: a.fibers, leaves: leaf_words_of_cp(a) };
        let (mut run, ranks) = self.run_shape(gpu, &shape, &a, b, b_columns)?;
        run.counters.rank1_mux = ranks[1].mux;
        run.counters.rank0_mux = ranks[0].mux;
        Ok(run)
    }

    /// Emulates an HSS design (docs/DESIGN.md 12) on the device: `b_format` as the GLB stores B
    /// (dense or blocked CSR), or `b_columns` where B drives the top rank. Counts per rank come
    /// outermost first, as the CPU reference's.
    pub fn run_hss(
        &self,
        gpu: &Gpu,
        df: &HssDataflow,
        a: &NRankCp,
        b_format: &BFormat,
        b_columns: Option<&NRankCp>,
    ) -> Result<(Matrix<i32>, HssCounters, Option<f64>), GpuError> {
        let shape = KernelShape::of_hss(df).ok_or_else(|| {
            GpuError::Unsupported(format!("the GPU kernel emulates at most {KERNEL_RANKS} ranks"))
        })?;
        let b_columns = b_columns.map(|bc| {
            let span = df.span() as u32;
            let values =
                bc.value.iter().zip(&bc.position).map(|(&v, &k)| u32::from(v as u8) | (k % span) << 8);
            (pack_u32(bc.coords[0].iter().map(|&c| u32::from(c))), pack_u32(values))
        });
        let kernel_a = KernelA { rows: a.rows, k: a.k, fibers: a.fibers, leaves: leaf_words_of_nrank(a) };
        let (run, ranks) = self.run_shape(gpu, &shape, &kernel_a, b_format, b_columns)?;
        let n = df.ranks.len();
        let mut counters =
            HssCounters { counters: run.counters, ranks: ranks[..n].iter().rev().cloned().collect() };
        counters.share_rank_muxes();
        Ok((run.z, counters, run.gpu_time_ms))
    }

    /// Emulates `Z = A x B` on the device for a machine of shape `shape`; B is `b` (its dense
    /// view or blocked CSR), or in dual-side mode `b_columns` (top-rank coordinates and leaf
    /// words). Rows of A are split into dispatches of whole row groups where the device's binding
    /// size or workgroup count limits require it. Returns the run and the per-rank counts by rank
    /// number.
    fn run_shape(
        &self,
        gpu: &Gpu,
        shape: &KernelShape,
        a: &KernelA,
        b: &BFormat,
        b_columns: Option<(Vec<u8>, Vec<u8>)>,
    ) -> Result<(GpuRun, [RankCounts; KERNEL_RANKS]), GpuError> {
        let (m, k) = (a.rows, a.k);
        self.check(shape, k)?;
        let tiling = self.tiling(gpu, shape, (m, k), b);
        gpu.check_loop_trips("highlight", self.loop_trips(shape, &tiling, m, k, b))?;
        let wg_rows = tiling.arrays * shape.rows_per_array;
        let limits = gpu.device.limits();
        let workgroup_bytes = self.workgroup_bytes(shape, wg_rows);
        if u64::from(limits.max_compute_workgroup_storage_size) < workgroup_bytes {
            return Err(GpuError::Unsupported(format!(
                "the tensor-core kernel needs {workgroup_bytes} bytes of workgroup memory; the device has {}",
                limits.max_compute_workgroup_storage_size
            )));
        }
        let max_binding = limits
            .max_storage_buffer_binding_size
            .min(limits.max_buffer_size)
            .min(self.binding_limit.unwrap_or(u64::MAX));
        let max_groups = limits.max_compute_workgroups_per_dimension as usize;
        let n = b.n();
        let expected = Expected::tensor_core(shape, m, k, n);
        let tiles = n.div_ceil(TILE_N);
        if tiles > max_groups {
            return Err(GpuError::TooLarge(format!(
                "N = {n} needs {tiles} RF tiles; the device dispatches at most {max_groups}"
            )));
        }

        // B, shared by every dispatch.
        let empty = [0u8; 4];
        let (addr_per_block, addr_first) = match b {
            BFormat::BlockedCsr(csr) => csr.addresses.per_block_and_first(),
            _ => (0, 0),
        };
        let (b_mode, b_blocks, offset_bits, b_buffers) = match (b, b_columns) {
            (_, Some((index, values))) => (2, 0, 0, [empty.to_vec(), index, empty.to_vec(), values]),
            (BFormat::Dense(b), None) => {
                // Column by column, four k to a word, so a k-step's window is a run of words;
                // zero-padded past the last k-step's window and one word more for the shifted
                // reads of an unaligned window.
                let window = shape.fibers_per_step * shape.span;
                let words = (shape.k_steps(k) * window).div_ceil(4) + 1;
                let mut columns = vec![0i8; n * words * 4];
                for (kk, row) in b.data.chunks_exact(n).enumerate() {
                    for (j, &v) in row.iter().enumerate() {
                        columns[j * words * 4 + kk] = v;
                    }
                }
                (0, words as u32, 0, [pack_i8(&columns), empty.to_vec(), empty.to_vec(), empty.to_vec()])
            }
            (BFormat::BlockedCsr(csr), None) => {
                let nonzeros =
                    csr.value.iter().zip(&csr.offset).map(|(&v, &o)| u32::from(v as u8) | u32::from(o) << 8);
                let buffers = [
                    empty.to_vec(),
                    pack_u32(csr.block_start.iter().copied()),
                    pack_u32(csr.block_end.iter().copied()),
                    pack_u32(nonzeros.chain(std::iter::once(0))),
                ];
                (1, csr.blocks as u32, coord_bits(csr.block) as u32, buffers)
            }
            (BFormat::Columns(_), None) => unreachable!("B's columns come with their leaf words"),
        };
        if let Some(big) = b_buffers.iter().find(|buf| buf.len() as u64 > max_binding) {
            return Err(GpuError::TooLarge(format!(
                "B ({k} x {n}) needs a {} byte buffer; the device binds at most {max_binding} bytes",
                big.len()
            )));
        }
        let b_bufs: Vec<wgpu::Buffer> =
            b_buffers.iter().map(|bytes| gpu.storage_buffer("b", bytes)).collect();

        // Splits of K: each takes steps_per_split k-steps and adds its partial sums into Z.
        let k_steps = shape.k_steps(k).max(1);
        let software = gpu.info.device_type == wgpu::DeviceType::Cpu;
        let wanted = self.k_splits.unwrap_or_else(|| {
            if software { 1 } else { TARGET_WORKGROUPS.div_ceil(m.div_ceil(wg_rows) * tiles) }
        });
        let steps_per_split = k_steps.div_ceil(wanted.clamp(1, k_steps.min(max_groups)));
        let splits = k_steps.div_ceil(steps_per_split);

        // Rows per dispatch: whole row groups whose A, Z and counter buffers fit the limits.
        let group = shape.rows_per_group();
        let row_bytes = (a.fibers * shape.stored * 4).max(n * 4) as u64;
        let workgroups_per_group = shape.arrays / tiling.arrays;
        let counter_bytes_per_group = (workgroups_per_group * tiles * splits * ROW_WORDS * 4) as u64;
        let groups_by_binding = max_binding / row_bytes.max(1) / group as u64;
        let groups_by_counters = max_binding / counter_bytes_per_group;
        let groups_by_dispatch = (max_groups / workgroups_per_group) as u64;
        // A dispatch holds at most MAX_SLOTS_PER_DISPATCH MAC slots (at least one row group), so
        // that no single dispatch runs long enough for a display watchdog to reset the device.
        let slots_per_group = (group * n * shape.fibers(k) * shape.leaves) as u64;
        let groups_by_work = (self.max_slots_per_dispatch / slots_per_group.max(1)).max(1);
        let groups_per_dispatch =
            groups_by_binding.min(groups_by_counters).min(groups_by_dispatch).min(groups_by_work) as usize;
        if groups_per_dispatch == 0 {
            return Err(GpuError::TooLarge(format!(
                "one row group of {group} rows needs {} byte buffers; the device binds at most {max_binding} bytes",
                row_bytes * group as u64
            )));
        }
        let rows_per_dispatch = groups_per_dispatch * group;
        let [m0, m1, m2, m3] = shape.mux.map(|v| v as u32);
        let [e0, e1, e2, e3] = shape.meta.map(|v| v as u32);
        let config: [u32; 32] = [
            shape.leaves as u32,
            shape.stored as u32,
            shape.span as u32,
            shape.top_w as u32,
            shape.per_child as u32,
            shape.pes_per_fiber as u32,
            shape.fibers_per_step as u32,
            m0,
            m1,
            m2,
            m3,
            e0,
            e1,
            e2,
            e3,
            u32::from(shape.a_compressed),
            u32::from(shape.in_order),
            u32::from(shape.vfmu),
            u32::from(shape.gating),
            u32::from(shape.b_drives),
            u32::from(shape.skip_select),
            b_mode,
            shape.csr_block as u32,
            shape.b_leaves as u32,
            shape.b_meta as u32,
            offset_bits,
            shape.rows_per_array as u32,
            shape.arrays as u32,
            u32::from(self.window_shared),
            tiling.arrays as u32,
            tiling.columns as u32,
            u32::from(self.double_buffer),
        ];
        let pipeline = {
            let mut cache = self.pipelines.lock().unwrap_or_else(|p| p.into_inner());
            cache
                .entry(config)
                .or_insert_with(|| {
                    let constants: Vec<(&str, f64)> =
                        OVERRIDES.iter().zip(config).map(|(name, v)| (*name, f64::from(v))).collect();
                    gpu.pipeline_with_constants("highlight", SHADER, &constants)
                })
                .clone()
        };

        let mut z = Matrix::zeros(m, n);
        let mut counters = Counters::default();
        let mut ranks: [RankCounts; KERNEL_RANKS] = Default::default();
        let mut gpu_ns: Option<f64> = None;
        for first_row in (0..m).step_by(rows_per_dispatch) {
            let rows = rows_per_dispatch.min(m - first_row);
            let leaves =
                (first_row * a.fibers * shape.stored)..((first_row + rows) * a.fibers * shape.stored);
            let a_slot = pack_u32(a.leaves[leaves].iter().copied());
            let params = Params {
                rows: rows as u32,
                k: k as u32,
                n: n as u32,
                fibers: a.fibers as u32,
                b_blocks,
                addr_bits: coord_bits(k + 1) as u32,
                addr_per_block: addr_per_block as u32,
                addr_first: addr_first as u32,
                a_tile: shape.tile_n as u32,
                split_fibers: (steps_per_split * shape.fibers_per_step) as u32,
            };
            let array_blocks = rows.div_ceil(wg_rows);
            let workgroups = array_blocks * tiles;
            let params_buf = gpu.uniform_buffer("params", bytemuck::bytes_of(&params));
            let a_slot_buf = gpu.storage_buffer("a_slot", &a_slot);
            let z_buf = gpu.output_buffer("z", (rows * n * 4) as u64);
            let counter_buf = gpu.output_buffer("counters", (workgroups * splits * ROW_WORDS * 4) as u64);
            let rank_buf = gpu.output_buffer("rank_counters", (workgroups * splits * RANK_WORDS * 4) as u64);
            let buffers = [
                &params_buf,
                &rank_buf,
                &a_slot_buf,
                &b_bufs[0],
                &b_bufs[1],
                &b_bufs[2],
                &b_bufs[3],
                &z_buf,
                &counter_buf,
            ];
            let (outputs, ns) = gpu.dispatch(
                &pipeline,
                &buffers,
                (tiles as u32, array_blocks as u32, splits as u32),
                &[&z_buf, &counter_buf, &rank_buf],
            )?;
            let z_words: Vec<i32> = bytemuck::pod_collect_to_vec(&outputs[0]);
            z.data[first_row * n..(first_row + rows) * n].copy_from_slice(&z_words);
            let rows_words: Vec<u32> = bytemuck::pod_collect_to_vec(&outputs[1]);
            Expected { split: Some((workgroups, steps_per_split as u32)), ..expected }
                .check_rows(&rows_words)?;
            counters += sum_partials(&rows_words);
            let rank_words: Vec<u32> = bytemuck::pod_collect_to_vec(&outputs[2]);
            for row in rank_words.chunks_exact(RANK_WORDS) {
                for (r, counts) in ranks.iter_mut().enumerate() {
                    counts.mux += u64::from(row[r]);
                    counts.meta_bits += u64::from(row[KERNEL_RANKS + r]);
                    counts.gated += u64::from(row[2 * KERNEL_RANKS + r]);
                }
            }
            gpu_ns = ns.map(|t| gpu_ns.unwrap_or(0.0) + t);
        }
        expected.check_counters(&counters)?;
        Ok((GpuRun { z, counters, gpu_time_ms: gpu_ns.map(|t| t * 1e-6) }, ranks))
    }
}

/// A as the kernel reads it: each stored leaf's word, `fibers` fibers of leaves per row.
struct KernelA {
    rows: usize,
    k: usize,
    fibers: usize,
    leaves: Vec<u32>,
}
