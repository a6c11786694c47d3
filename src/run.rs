//! One emulated run: a workload (shapes, patterns, seed), its operands, a design, a backend, and
//! the result the `run` command reports (counters, cycles, energy, latency, EDP, Z checked).

use std::sync::OnceLock;
use std::time::Instant;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::counters::Counters;
use crate::design::dstc::Dstc;
use crate::design::s2ta::S2ta;
use crate::design::{Arch, Dataflow, Design, DesignError, Machine};
use crate::energy::{EnergyError, Ert, Evaluation, evaluate, hierarchy_energy};
use crate::format::{BFormat, Bitmask, BlockedCsr, FormatError, HierarchicalCp, TwoRankHss, coord_bits};
use crate::gpu::dstc::DstcKernel;
use crate::gpu::highlight::HighlightKernel;
use crate::gpu::s2ta::S2taKernel;
use crate::gpu::{AdapterRequest, Gpu, GpuError};
use crate::hierarchy::{Hierarchy, Stored};
use crate::mapper::{self, Nest};
use crate::mapping::{Mapping, MappingError};
use crate::matrix::{Matrix, dense_product};
use crate::operand::{OperandError, OperandRole, generate};
use crate::pattern::Pattern;
use crate::reference;

/// A matrix product to emulate, with the patterns and seed its operands are made from.
#[derive(Clone, Debug, PartialEq)]
pub struct Workload {
    pub m: usize,
    pub k: usize,
    pub n: usize,
    pub a: Pattern,
    pub b: Pattern,
    pub seed: u64,
}

#[derive(Debug, Error)]
pub enum RunError {
    #[error("M, K and N must be at least 1 (got M = {m}, K = {k}, N = {n})")]
    ZeroSize { m: usize, k: usize, n: usize },
    #[error(transparent)]
    Memory(#[from] crate::memory::TooLarge),
    #[error(transparent)]
    Mapping(#[from] MappingError),
    #[error(transparent)]
    Design(#[from] DesignError),
    #[error(transparent)]
    Operand(#[from] OperandError),
    #[error(transparent)]
    Format(#[from] FormatError),
    #[error(transparent)]
    Energy(#[from] EnergyError),
    #[error(transparent)]
    Gpu(#[from] GpuError),
    #[error(transparent)]
    Degree(#[from] crate::degrees::DegreeError),
    #[error("--check compares the GPU with the CPU reference, and no GPU adapter is available: {0}")]
    CheckNeedsGpu(GpuError),
    #[error(
        "--check compares the GPU with the CPU reference, and the GPU cannot run this architecture, so nothing was compared: {0}; drop --check to run the CPU reference alone"
    )]
    CheckUnsupported(String),
}

/// The operands of a workload, and their plain dense product once something asks for it.
pub struct Operands {
    pub a: Matrix<i8>,
    pub b: Matrix<i8>,
    dense: OnceLock<Matrix<i32>>,
}

impl Operands {
    pub fn new(a: Matrix<i8>, b: Matrix<i8>) -> Operands {
        Operands { a, b, dense: OnceLock::new() }
    }

    /// `A x B` as the plain dense product, computed once however many designs check against it.
    pub fn dense(&self) -> &Matrix<i32> {
        self.dense.get_or_init(|| dense_product(&self.a, &self.b))
    }
}

impl Workload {
    /// Refuses zero sizes and sizes whose buffers would not fit in memory.
    pub fn check(&self) -> Result<(), RunError> {
        self.check_with_swap(false)
    }

    /// As [`Workload::check`], counting the copies the swapped order makes when `swap` is set.
    pub fn check_with_swap(&self, swap: bool) -> Result<(), RunError> {
        let (m, k, n) = (self.m, self.k, self.n);
        if m == 0 || k == 0 || n == 0 {
            return Err(RunError::ZeroSize { m, k, n });
        }
        let what = || format!("M = {m}, K = {k}, N = {n} (operands, compressed formats and Z)");
        crate::memory::check(what, crate::memory::run_bytes(m, k, n, swap))?;
        Ok(())
    }

    /// Generates A (M x K) and B (K x N) from the seed.
    pub fn operands(&self) -> Result<Operands, RunError> {
        Ok(Operands::new(
            generate(&self.a, OperandRole::A, self.m, self.k, self.seed)?,
            generate(&self.b, OperandRole::B, self.n, self.k, self.seed)?,
        ))
    }
}

/// The operands in the formats one machine reads.
pub enum Compressed {
    /// TC, STC, HighLight, HighLight-DSSO: A in hierarchical CP of the shape the PEs hold.
    TensorCore { dataflow: Dataflow, a: HierarchicalCp, b: BFormat },
    /// DSTC: A's columns and B's rows as bitmasks.
    Dstc { dstc: Dstc, a_columns: Bitmask, b_rows: Bitmask },
    /// S2TA: A's rows and B's columns in G:8 blocks.
    S2ta { s2ta: S2ta, a: HierarchicalCp, b_columns: HierarchicalCp },
}

/// A design ready to run a workload: its machine and the operands in its formats.
pub struct Prepared {
    pub design: Design,
    pub arch: Arch,
    pub compressed: Compressed,
}

impl Prepared {
    /// Checks that `design` runs the workload's patterns and compresses the operands for it.
    pub fn new(
        design: Design,
        arch: Arch,
        workload: &Workload,
        operands: &Operands,
    ) -> Result<Prepared, RunError> {
        let compressed = match design.machine(&arch, &workload.a, &workload.b)? {
            Machine::TensorCore(dataflow) => {
                let a = HierarchicalCp::compress(&operands.a, dataflow.a_shape())?;
                let b = if dataflow.b_drives_rank1 {
                    let s = dataflow.shape;
                    let b_shape = TwoRankHss { g1: s.g1, h1: s.h1, g0: s.h0, h0: s.h0 };
                    BFormat::Columns(HierarchicalCp::compress(&operands.b.transpose(), b_shape)?)
                } else if dataflow.b_compressed && workload.b != Pattern::Dense {
                    BFormat::BlockedCsr(BlockedCsr::compress(&operands.b, dataflow.shape.h0 as usize))
                } else {
                    BFormat::Dense(operands.b.clone())
                };
                Compressed::TensorCore { dataflow, a, b }
            }
            Machine::Dstc(dstc) => Compressed::Dstc {
                dstc,
                a_columns: Bitmask::compress(&operands.a.transpose()),
                b_rows: Bitmask::compress(&operands.b),
            },
            Machine::S2ta(s2ta) => {
                let blocks = |g| TwoRankHss { g1: 1, h1: 1, g0: g, h0: s2ta.block };
                Compressed::S2ta {
                    s2ta,
                    a: HierarchicalCp::compress(&operands.a, blocks(s2ta.g_a))?,
                    b_columns: HierarchicalCp::compress(&operands.b.transpose(), blocks(s2ta.g_b))?,
                }
            }
        };
        Ok(Prepared { design, arch, compressed })
    }

    /// The operand patterns as the design runs them.
    pub fn runs_as(&self) -> String {
        match &self.compressed {
            Compressed::TensorCore { dataflow, .. } if dataflow.b_drives_rank1 => {
                let s = dataflow.shape;
                format!(
                    "dual-side: A K1({h1}:{h1})->K0({}:{h0}), B K1({}:{h1})->K0({h0}:{h0})",
                    s.g0,
                    s.g1,
                    h1 = s.h1,
                    h0 = s.h0
                )
            }
            Compressed::TensorCore { dataflow, .. } => {
                let s = dataflow.shape;
                format!("K1({}:{})->K0({}:{})", s.g1, s.h1, s.g0, s.h0)
            }
            Compressed::Dstc { .. } => "unstructured (bitmask)".to_string(),
            Compressed::S2ta { s2ta, .. } => {
                format!("K0({}:{b}), B K0({}:{b})", s2ta.g_a, s2ta.g_b, b = s2ta.block)
            }
        }
    }

    /// Runs the CPU reference emulator.
    pub fn run_cpu(&self, operands: &Operands) -> (Matrix<i32>, Counters) {
        match &self.compressed {
            Compressed::TensorCore { dataflow, a, b } => {
                reference::highlight::run(dataflow, a, &operands.b, b)
            }
            Compressed::Dstc { dstc, a_columns, b_rows } => reference::dstc::run(dstc, a_columns, b_rows),
            Compressed::S2ta { s2ta, a, b_columns } => reference::s2ta::run(s2ta, a, b_columns),
        }
    }

    /// Runs the CPU reference emulator, timed.
    pub fn emulate_cpu(&self, operands: &Operands) -> Emulation {
        let start = Instant::now();
        let (z, counters) = self.run_cpu(operands);
        Emulation { z, counters, wall_ms: start.elapsed().as_secs_f64() * 1e3, gpu_time_ms: None }
    }

    /// Runs the GPU emulation, timed (wall time includes uploads and readback).
    pub fn emulate_gpu(&self, gpu: &GpuBackend) -> Result<Emulation, GpuError> {
        let start = Instant::now();
        let run = match &self.compressed {
            Compressed::TensorCore { dataflow, a, b } => gpu.kernel.run(&gpu.gpu, dataflow, a, b)?,
            Compressed::Dstc { dstc, a_columns, b_rows } => {
                gpu.dstc.run(&gpu.gpu, dstc, a_columns, b_rows)?
            }
            Compressed::S2ta { s2ta, a, b_columns } => gpu.s2ta.run(&gpu.gpu, s2ta, a, b_columns)?,
        };
        Ok(Emulation {
            z: run.z,
            counters: run.counters,
            wall_ms: start.elapsed().as_secs_f64() * 1e3,
            gpu_time_ms: run.gpu_time_ms,
        })
    }
}

impl Prepared {
    /// The machine the design runs.
    fn machine(&self) -> Machine {
        match &self.compressed {
            Compressed::TensorCore { dataflow, .. } => Machine::TensorCore(*dataflow),
            Compressed::Dstc { dstc, .. } => Machine::Dstc(*dstc),
            Compressed::S2ta { s2ta, .. } => Machine::S2ta(*s2ta),
        }
    }

    /// How A and B are stored above the PE array: bytes and metadata bits per dense element.
    fn stored(&self) -> (Stored, Stored) {
        match &self.compressed {
            Compressed::TensorCore { dataflow: df, b, .. } => {
                let s = df.a_shape();
                let a = if df.rank0_saf {
                    let values = f64::from(s.g1 * s.g0) / f64::from(s.h1 * s.h0);
                    let blocks = f64::from(s.g1) / f64::from(s.h1 * s.h0);
                    let k1_bits =
                        if df.rank1_saf && !df.b_drives_rank1 { coord_bits(s.h1 as usize) } else { 0 };
                    Stored {
                        bytes_per_element: values,
                        meta_bits_per_element: values * coord_bits(s.h0 as usize) as f64
                            + blocks * k1_bits as f64,
                    }
                } else {
                    Stored::DENSE
                };
                let b = match b {
                    BFormat::Dense(_) => Stored::DENSE,
                    BFormat::BlockedCsr(c) => Stored::of(c.storage(), c.k * c.n),
                    BFormat::Columns(cp) => Stored::of(cp.storage(), cp.rows * cp.k),
                };
                (a, b)
            }
            Compressed::Dstc { a_columns, b_rows, .. } => (
                Stored::of(a_columns.storage(), a_columns.fibers * a_columns.shape),
                Stored::of(b_rows.storage(), b_rows.fibers * b_rows.shape),
            ),
            Compressed::S2ta { a, b_columns, .. } => (
                Stored::of(a.storage(), a.rows * a.k),
                Stored::of(b_columns.storage(), b_columns.rows * b_columns.k),
            ),
        }
    }

    /// Coordinates read at the PE registers with the stationary values: K0 bits per MAC slot,
    /// and K1 bits per rank1 select where A's K1 coordinates drive it.
    fn pe_meta_read_bits(&self, counters: &Counters) -> u64 {
        match &self.compressed {
            Compressed::TensorCore { dataflow: df, .. } if df.rank0_saf => {
                let s = df.shape;
                let k1 = if df.rank1_saf && !df.b_drives_rank1 {
                    counters.rank1_mux * coord_bits(s.h1 as usize)
                } else {
                    0
                };
                counters.pe_reg_read * coord_bits(s.h0 as usize) + k1
            }
            // Each array reads its rows' bits of A's column and its columns' bits of B's row per k.
            Compressed::Dstc { dstc: d, a_columns, b_rows } => {
                let (m, k, n) = (a_columns.shape, a_columns.fibers, b_rows.shape);
                let spans = |len: usize, tile: usize, sub: usize| -> Vec<usize> {
                    (0..len.div_ceil(tile))
                        .flat_map(|t| {
                            (0..d.arrays_per_side)
                                .map(move |i| (t * tile + i * sub, t * tile + (i + 1) * sub))
                        })
                        .map(|(lo, hi)| hi.min(len).saturating_sub(lo.min(len)))
                        .collect()
                };
                let (rows, cols) = (spans(m, d.tile_rows(), d.sub_rows), spans(n, d.tile_cols(), d.sub_cols));
                let row_sum: usize = rows.iter().sum();
                let col_sum: usize = cols.iter().sum();
                let (busy_rows, busy_cols) =
                    (rows.iter().filter(|&&r| r > 0).count(), cols.iter().filter(|&&c| c > 0).count());
                (k * (row_sum * busy_cols + col_sum * busy_rows)) as u64
            }
            _ => 0,
        }
    }

    /// The mapping (given, or the mapper's least-energy choice) and the hierarchy's counts.
    pub fn hierarchy(
        &self,
        workload: &Workload,
        counters: &Counters,
        given: Option<&Mapping>,
        ert: &Ert,
    ) -> Result<(Mapping, Hierarchy), RunError> {
        let (a, b) = self.stored();
        let z_bytes = self.arch.output.bytes();
        let shape = (workload.m, workload.k, workload.n);
        let mapping = match given {
            Some(m) => {
                m.check_covers(shape, "--mapping")?;
                m.clone()
            }
            None => {
                let nest = Nest::of(&self.machine(), &self.arch, workload.m, workload.k, workload.n);
                let cost = |m: &Mapping| {
                    hierarchy_energy(&mapper::hierarchy(m, shape, a, b, z_bytes), &self.arch, ert)
                        .unwrap_or(f64::INFINITY)
                };
                nest.choose(&self.arch, a, b, cost)
            }
        };
        let mut h = mapper::hierarchy(&mapping, shape, a, b, z_bytes);
        h.pe_meta_read_bits = self.pe_meta_read_bits(counters);
        Ok((mapping, h))
    }
}

/// Z and counters of one emulation, with its timing.
pub struct Emulation {
    pub z: Matrix<i32>,
    pub counters: Counters,
    pub wall_ms: f64,
    pub gpu_time_ms: Option<f64>,
}

/// An open device with the kernels built once for every run on it.
pub struct GpuBackend {
    pub gpu: Gpu,
    pub kernel: HighlightKernel,
    pub dstc: DstcKernel,
    pub s2ta: S2taKernel,
}

impl GpuBackend {
    pub fn open(request: &AdapterRequest) -> Result<GpuBackend, GpuError> {
        Ok(GpuBackend::new(Gpu::open(request)?))
    }

    /// Builds every kernel on an open device.
    pub fn new(gpu: Gpu) -> GpuBackend {
        let kernel = HighlightKernel::new(&gpu);
        let dstc = DstcKernel::new(&gpu);
        let s2ta = S2taKernel::new(&gpu);
        GpuBackend { gpu, kernel, dstc, s2ta }
    }
}

/// The backend a user asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendChoice {
    /// A hardware GPU when there is one, else the CPU reference. A software adapter (lavapipe)
    /// only when named with --adapter.
    Auto,
    /// The GPU; an error when there is none.
    Gpu,
    /// The CPU reference emulators.
    Cpu,
}

/// Opens the GPU `choice` and `adapter` ask for: `Ok(None)` means the CPU reference. With
/// `check`, a GPU is required whatever the choice. The second value says why `auto` fell back.
pub fn open_backend(
    choice: BackendChoice,
    adapter: Option<&str>,
    check: bool,
) -> Result<(Option<GpuBackend>, Option<String>), RunError> {
    let request = AdapterRequest { name: adapter.map(str::to_string), allow_software: false };
    match (choice, check) {
        (BackendChoice::Cpu, false) => Ok((None, None)),
        (BackendChoice::Gpu, false) => Ok((Some(GpuBackend::open(&request)?), None)),
        (_, true) => GpuBackend::open(&request).map(|g| (Some(g), None)).map_err(RunError::CheckNeedsGpu),
        (BackendChoice::Auto, false) => match GpuBackend::open(&request) {
            Ok(g) => Ok((Some(g), None)),
            Err(e) => Ok((None, Some(e.to_string()))),
        },
    }
}

/// Where a run was emulated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// The CPU reference emulators (all cores).
    Cpu,
    /// The WGSL kernels on a GPU adapter.
    Gpu,
}

impl Backend {
    /// The backend's name on the command line and in results.
    pub fn id(self) -> &'static str {
        match self {
            Backend::Cpu => "cpu",
            Backend::Gpu => "gpu",
        }
    }
}

/// The outcome of `--check`: the GPU against the CPU reference, and Z against the dense product.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Check {
    pub cpu_gpu_equal: bool,
    pub z_equals_dense: bool,
    /// The first counter or Z element where GPU and CPU differ.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_difference: Option<String>,
}

/// The first counter, then the first Z element, where two emulations differ.
pub fn first_difference(gpu: &Emulation, cpu: &Emulation) -> Option<String> {
    let counter = gpu.counters.iter().zip(cpu.counters.iter()).find(|((_, g), (_, c))| g != c);
    if let Some(((name, g), (_, c))) = counter {
        return Some(format!("counter {name}: GPU {g}, CPU {c}"));
    }
    first_mismatch(&gpu.z, &cpu.z).map(|(m, n, g, c)| format!("Z[{m}, {n}]: GPU {g}, CPU {c}"))
}

/// Everything `run` reports.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunResult {
    pub design: Design,
    pub arch: String,
    pub ert: String,
    pub workload: WorkloadReport,
    /// A's pattern as the design runs it.
    pub a_runs_as: String,
    /// The operand order that ran.
    pub order: Order,
    /// Why the CPU reference ran although a GPU was asked for (no GPU kernel for the design).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_fallback: Option<String>,
    pub backend: Backend,
    /// The GPU adapter, when the GPU ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub adapter: Option<String>,
    /// Wall time of the emulation (GPU: uploads, dispatches and readback) in ms.
    pub wall_ms: f64,
    /// Device time of the dispatches from timestamp queries, where the adapter has them.
    pub gpu_time_ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub check: Option<Check>,
    pub counters: Counters,
    /// The mapping the hierarchy's counts follow, in Timeloop's YAML form (`--mapping` takes it
    /// back).
    pub mapping: String,
    /// DRAM and GLB traffic from the mapping, and the PE registers' metadata reads.
    pub hierarchy: Hierarchy,
    pub cycles: u64,
    /// TC's cycles on the same workload, and this design's speedup over it.
    pub tc_cycles: u64,
    pub speedup_over_tc: f64,
    pub energy_pj: f64,
    pub energy_breakdown_pj: serde_json::Map<String, serde_json::Value>,
    pub latency_s: f64,
    pub edp: f64,
    pub z_equals_dense: bool,
    /// The first Z element that differs from the dense product, if any: (m, n, emulated, dense).
    #[serde(skip)]
    pub z_mismatch: Option<(usize, usize, i32, i32)>,
}

/// The workload as reported, with the operands' measured densities.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct WorkloadReport {
    pub m: usize,
    pub k: usize,
    pub n: usize,
    pub a: String,
    pub b: String,
    pub seed: u64,
    pub a_density: f64,
    pub b_density: f64,
}

impl WorkloadReport {
    pub fn new(workload: &Workload, operands: &Operands) -> WorkloadReport {
        WorkloadReport {
            m: workload.m,
            k: workload.k,
            n: workload.n,
            a: workload.a.to_string(),
            b: workload.b.to_string(),
            seed: workload.seed,
            a_density: operands.a.density(),
            b_density: operands.b.density(),
        }
    }
}

/// Which order the operands ran in: `Z = A x B`, or `Z^T = B^T x A^T` (docs/DESIGN.md 7).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Order {
    AsGiven,
    Swapped,
}

impl Workload {
    /// The workload of `Z^T = B^T x A^T`.
    pub fn swapped(&self) -> Workload {
        Workload { m: self.n, k: self.k, n: self.m, a: self.b.clone(), b: self.a.clone(), seed: self.seed }
    }
}

impl Operands {
    /// The operands of `Z^T = B^T x A^T`, with the dense product transposed, not recomputed.
    pub fn swapped(&self) -> Operands {
        let dense = OnceLock::from(self.dense().transpose());
        Operands { a: self.b.transpose(), b: self.a.transpose(), dense }
    }
}

/// Runs `design` in the given order and, with `swap`, also swapped, keeping the lower EDP (the
/// paper's harness, section 7.1.1). Refused only when neither order is supported; then the given
/// order's reason is the error.
#[allow(clippy::too_many_arguments)]
pub fn run_best_order(
    design: Design,
    arch: &Arch,
    ert: &Ert,
    workload: &Workload,
    operands: &Operands,
    gpu: Option<&GpuBackend>,
    check: bool,
    swap: bool,
    mapping: Option<&Mapping>,
) -> Result<(RunResult, Matrix<i32>), RunError> {
    let given = run(design, arch.clone(), ert, workload, operands, gpu, check, mapping);
    if !swap {
        return given;
    }
    // A mapping names the loops of one order: the swapped order gets its own.
    let swapped = run(design, arch.clone(), ert, &workload.swapped(), &operands.swapped(), gpu, check, None)
        .map(|(mut r, z)| {
            r.order = Order::Swapped;
            r.workload = WorkloadReport::new(workload, operands);
            r.tc_cycles =
                crate::design::tc::dataflow(&Design::Tc.arch()).cycles(workload.m, workload.k, workload.n);
            r.speedup_over_tc = r.tc_cycles as f64 / r.cycles as f64;
            (r, z.transpose())
        });
    match (given, swapped) {
        (Ok(g), Ok(s)) => Ok(if s.0.edp < g.0.edp { s } else { g }),
        (Ok(g), Err(_)) => Ok(g),
        (Err(RunError::Design(DesignError::Unsupported { .. })), Ok(s)) => Ok(s),
        (Err(e), _) => Err(e),
    }
}

/// The first element where `z` and the dense product differ.
pub fn first_mismatch(z: &Matrix<i32>, dense: &Matrix<i32>) -> Option<(usize, usize, i32, i32)> {
    let i = z.data.iter().zip(&dense.data).position(|(x, y)| x != y)?;
    Some((i / z.cols, i % z.cols, z.data[i], dense.data[i]))
}

/// Runs `workload` on `design`, on the GPU when one is given, else with the CPU reference;
/// with `check`, also on the CPU reference, comparing Z and every counter (an error where the GPU
/// cannot run the architecture, since nothing could be compared).
#[allow(clippy::too_many_arguments)]
pub fn run(
    design: Design,
    arch: Arch,
    ert: &Ert,
    workload: &Workload,
    operands: &Operands,
    gpu: Option<&GpuBackend>,
    check: bool,
    mapping: Option<&Mapping>,
) -> Result<(RunResult, Matrix<i32>), RunError> {
    let prepared = Prepared::new(design, arch, workload, operands)?;
    let (emulation, gpu, cpu_fallback) = match gpu {
        Some(g) => match prepared.emulate_gpu(g) {
            Ok(e) => (e, Some(g), None),
            Err(GpuError::Unsupported(why)) if check => return Err(RunError::CheckUnsupported(why)),
            Err(GpuError::Unsupported(why)) => (prepared.emulate_cpu(operands), None, Some(why)),
            Err(e) => return Err(e.into()),
        },
        None => (prepared.emulate_cpu(operands), None, None),
    };
    let z_mismatch = first_mismatch(&emulation.z, operands.dense());
    let check = (check && gpu.is_some()).then(|| {
        let difference = first_difference(&emulation, &prepared.emulate_cpu(operands));
        Check {
            cpu_gpu_equal: difference.is_none(),
            z_equals_dense: z_mismatch.is_none(),
            first_difference: difference,
        }
    });
    let Emulation { z, counters, wall_ms, gpu_time_ms } = emulation;
    let (mapping, hierarchy) = prepared.hierarchy(workload, &counters, mapping, ert)?;
    let Evaluation { energy_pj, breakdown_pj, latency_s, edp } =
        evaluate(&counters, &hierarchy, &prepared.arch, ert)?;
    let tc_cycles =
        crate::design::tc::dataflow(&Design::Tc.arch()).cycles(workload.m, workload.k, workload.n);
    let result = RunResult {
        design,
        arch: prepared.arch.name.clone(),
        ert: ert.name.clone(),
        workload: WorkloadReport::new(workload, operands),
        a_runs_as: prepared.runs_as(),
        order: Order::AsGiven,
        cpu_fallback,
        backend: if gpu.is_some() { Backend::Gpu } else { Backend::Cpu },
        adapter: gpu.map(|g| crate::gpu::describe(&g.gpu.info)),
        wall_ms,
        gpu_time_ms,
        check,
        cycles: counters.cycles,
        tc_cycles,
        speedup_over_tc: tc_cycles as f64 / counters.cycles as f64,
        counters,
        mapping: mapping.to_yaml(),
        hierarchy,
        energy_pj,
        energy_breakdown_pj: breakdown_pj.into_iter().map(|(k, v)| (k.to_string(), v.into())).collect(),
        latency_s,
        edp,
        z_equals_dense: z_mismatch.is_none(),
        z_mismatch,
    };
    Ok((result, z))
}
