//! What a run reports: the result, its workload, the check against the CPU reference, and the
//! operand order.

use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use super::{Emulation, Operands, Workload};
use crate::counters::Counters;
use crate::design::Design;
pub use crate::evaluator::Bound;
use crate::format::Format;
use crate::hierarchy::Hierarchy;
use crate::matrix::Matrix;
use crate::search::SearchReport;

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
    /// How A and B were stored above the PE array (chosen by the search, or fixed by the user);
    /// absent from results written before formats were searched.
    #[serde(default)]
    pub a_format: Option<Format>,
    #[serde(default)]
    pub b_format: Option<Format>,
    /// The objective, and how many candidates the search evaluated in how long.
    #[serde(default)]
    pub search: Option<SearchReport>,
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
    /// Cycles: the arrays' (`counters.cycles`), or a memory level's where it takes longer
    /// (`bound`).
    pub cycles: u64,
    /// Absent from results written before bandwidths were modelled: the arrays bound them.
    #[serde(default)]
    pub bound: Bound,
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
    /// The operands read from files, where they were (`run --a-file/--b-file`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inputs: Option<Inputs>,
}

impl RunResult {
    /// Whether Z equals the dense product and a GPU run's cross-check found no difference.
    pub fn passed(&self) -> bool {
        self.z_equals_dense
            && self.z_mismatch.is_none()
            && self.check.as_ref().is_none_or(|c| c.first_difference.is_none())
    }
}

/// The operands a run read from files.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Inputs {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub a: Option<InputFile>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub b: Option<InputFile>,
}

/// One operand file: its dtype, the int8 quantisation of a float file, and the patterns of the
/// design the data satisfies.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct InputFile {
    pub file: String,
    pub dtype: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quantization: Option<crate::operand::quantize::Quantization>,
    /// The design's patterns this data satisfies (where the pattern was detected, not declared).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub satisfies: Vec<String>,
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

/// The first element where `z` and the dense product differ.
pub fn first_mismatch(z: &Matrix<i32>, dense: &Matrix<i32>) -> Option<(usize, usize, i32, i32)> {
    let i = z.data.iter().zip(&dense.data).position(|(x, y)| x != y)?;
    Some((i / z.cols, i % z.cols, z.data[i], dense.data[i]))
}
