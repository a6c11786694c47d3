//! One emulated run: a workload (shapes, patterns, seed), its operands, a design, a backend, and
//! the result the `run` command reports (counters, cycles, energy, latency, EDP, Z checked).

use std::sync::OnceLock;

use serde::Serialize;
use thiserror::Error;

use crate::design::{Arch, Design, DesignError};
use crate::energy::{EnergyError, Ert, Evaluation};
use crate::evaluator::{Evaluated, Footing};
use crate::format::FormatError;
use crate::gpu::dstc::DstcKernel;
use crate::gpu::highlight::HighlightKernel;
use crate::gpu::s2ta::S2taKernel;
use crate::gpu::{AdapterRequest, Gpu, GpuError};
use crate::mapping::MappingError;
use crate::matrix::{Matrix, dense_product};
use crate::operand::{OperandError, OperandRole, generate};
use crate::pattern::Pattern;
use crate::search::{Search, SearchError};
pub mod hss;
mod prepared;
mod result;

pub use prepared::{Compressed, Emulation, Prepared};
pub use result::{
    Backend, Bound, Check, InputFile, Inputs, Order, RunResult, WorkloadReport, first_difference,
    first_mismatch,
};

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
    #[error("writing the rows to a temporary file: {0}")]
    Spill(String),
    #[error(transparent)]
    Mapping(#[from] MappingError),
    #[error(transparent)]
    Search(#[from] SearchError),
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
    /// A result that disagrees with its reference (Z against the dense product, the GPU against
    /// the CPU reference): exit 3.
    #[error("{0}")]
    Mismatch(String),
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

/// Runs `design` in the given order and, with `swap`, also swapped, keeping the better under the
/// search's objective (the paper's harness, section 7.1.1). Refused only when neither order is
/// supported; then the given order's reason is the error.
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
    search: &Search,
) -> Result<(RunResult, Matrix<i32>), RunError> {
    let given = run(design, arch.clone(), ert, workload, operands, gpu, check, search);
    if !swap {
        return given;
    }
    let swapped = run(
        design,
        arch.clone(),
        ert,
        &workload.swapped(),
        &operands.swapped(),
        gpu,
        check,
        &search.swapped(),
    )
    .map(|(mut r, z)| {
        r.order = Order::Swapped;
        r.workload = WorkloadReport::new(workload, operands);
        r.tc_cycles =
            crate::design::tc::dataflow(&Design::Tc.arch()).cycles(workload.m, workload.k, workload.n);
        r.speedup_over_tc = r.tc_cycles as f64 / r.cycles as f64;
        (r, z.transpose())
    });
    match (given, swapped) {
        (Ok(g), Ok(s)) => {
            let better =
                search.objective.better((s.0.energy_pj, s.0.latency_s), (g.0.energy_pj, g.0.latency_s));
            Ok(if better { s } else { g })
        }
        (Ok(g), Err(_)) => Ok(g),
        (Err(RunError::Design(DesignError::Unsupported { .. })), Ok(s)) => Ok(s),
        (Err(e), _) => Err(e),
    }
}

/// An emulation of `prepared`, on the GPU when one is given (the CPU reference where the GPU
/// cannot run the architecture, unless `check` asks for both), with the GPU that ran it and why
/// the CPU ran instead.
fn emulate<'g>(
    prepared: &Prepared,
    operands: &Operands,
    gpu: Option<&'g GpuBackend>,
    check: bool,
) -> Result<(Emulation, Option<&'g GpuBackend>, Option<String>), RunError> {
    Ok(match gpu {
        Some(g) => match prepared.emulate_gpu(g) {
            Ok(e) => (e, Some(g), None),
            Err(GpuError::Unsupported(why)) if check => return Err(RunError::CheckUnsupported(why)),
            Err(GpuError::Unsupported(why)) => (prepared.emulate_cpu(operands), None, Some(why)),
            Err(e) => return Err(e.into()),
        },
        None => (prepared.emulate_cpu(operands), None, None),
    })
}

/// Runs `workload` on `design`, on the GPU when one is given, else with the CPU reference, at the
/// mapping and representation `search` finds best (docs/DESIGN.md 11); with `check`, also on the
/// CPU reference, comparing Z and every counter (an error where the GPU cannot run the
/// architecture, since nothing could be compared).
#[allow(clippy::too_many_arguments)]
pub fn run(
    design: Design,
    arch: Arch,
    ert: &Ert,
    workload: &Workload,
    operands: &Operands,
    gpu: Option<&GpuBackend>,
    check: bool,
    search: &Search,
) -> Result<(RunResult, Matrix<i32>), RunError> {
    let (m, k, n) = (workload.m, workload.k, workload.n);
    if m == 0 || k == 0 || n == 0 {
        return Err(RunError::ZeroSize { m, k, n });
    }
    let mut prepared = Prepared::new(design, arch, workload, operands, (search.a_format, search.b_format))?;
    if let Some(m) = &search.mapping {
        prepared.take_machine_loops(m)?;
    }
    // The search starts from an emulation of the default machine, except where it counts every
    // machine without one (DSTC).
    let first = match prepared.counts_without_emulation() {
        true => None,
        false => Some(emulate(&prepared, operands, gpu, check)?),
    };
    let chosen = prepared.search(workload, first.as_ref().map(|(e, _, _)| &e.counters), search, ert)?;
    let (emulation, gpu, cpu_fallback) = match first {
        Some(done) if chosen.machine == prepared.machine() && chosen.formats == prepared.formats => done,
        first => {
            // One Z at a time: the first emulation's goes before the second is made.
            drop(first);
            // The machine reads B as stored and runs the chosen loops: emulate that. The charged
            // counters are the ones the search weighed (tests/search.rs); the GLB fetch counts
            // are the format's own.
            prepared.set_machine(chosen.machine);
            prepared.set_formats(chosen.formats, operands);
            emulate(&prepared, operands, gpu, check)?
        }
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
    // The report's figures come from the evaluator, as the search's did.
    let shape = (workload.m, workload.k, workload.n);
    let footing = Footing::new(&counters, shape, &prepared.arch, ert)?;
    let Evaluated { hierarchy, cycles, bound, evaluation } =
        footing.evaluate(&chosen.mapping, &prepared.representation(chosen.formats, &counters))?;
    let Evaluation { energy_pj, breakdown_pj, latency_s, edp } = evaluation;
    let tc_cycles =
        crate::design::tc::dataflow(&Design::Tc.arch()).cycles(workload.m, workload.k, workload.n);
    let result = RunResult {
        design,
        arch: prepared.arch.name.clone(),
        ert: ert.name.clone(),
        workload: WorkloadReport::new(workload, operands),
        a_runs_as: prepared.runs_as(),
        a_format: Some(chosen.formats.a),
        b_format: Some(chosen.formats.b),
        search: Some(chosen.report),
        order: Order::AsGiven,
        cpu_fallback,
        backend: if gpu.is_some() { Backend::Gpu } else { Backend::Cpu },
        adapter: gpu.map(|g| crate::gpu::describe(&g.gpu.info)),
        wall_ms,
        gpu_time_ms,
        check,
        cycles,
        bound,
        tc_cycles,
        speedup_over_tc: tc_cycles as f64 / cycles as f64,
        counters,
        mapping: chosen.mapping.to_yaml(),
        hierarchy,
        energy_pj,
        energy_breakdown_pj: breakdown_pj.into_iter().map(|(k, v)| (k.to_string(), v.into())).collect(),
        latency_s,
        edp,
        z_equals_dense: z_mismatch.is_none(),
        z_mismatch,
        inputs: None,
    };
    Ok((result, z))
}
