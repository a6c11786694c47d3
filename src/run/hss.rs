//! One run of an HSS design file (docs/DESIGN.md 12): operands in its N-rank formats, the CPU
//! reference or the GPU kernel (or both, checked against each other), Z checked against the dense
//! product, and energy, latency and EDP.
//!
//! Traffic: the emulator's own GLB counts (its fixed loop nest) and each operand moved between
//! DRAM and the GLB once. The mapping search of section 11 does not apply to HSS files yet, so
//! their figures compare with each other, not with `run`'s.

use serde::Serialize;

use super::{GpuBackend, Operands, RunError, Workload, first_mismatch};
use crate::counters::HssCounters;
use crate::energy::{EnergyError, Ert, charge, counters_energy};
use crate::format::{BFormat, BlockedCsr, CsrAddresses, NRankCp, Storage, nrank_cp};
use crate::gpu::GpuError;
use crate::hss::{HssArch, HssDataflow, Side};
use crate::matrix::Matrix;
use crate::pattern::Pattern;
use crate::reference;

/// An HSS design ready to run one workload.
pub struct HssPrepared {
    pub hss: HssArch,
    pub dataflow: HssDataflow,
    pub a: NRankCp,
    /// B as the GLB stores it (dense, or blocked CSR where the design compresses a sparse B).
    pub b: BFormat,
    /// B's columns in N-rank CP where B drives the top rank.
    pub b_columns: Option<NRankCp>,
}

impl HssPrepared {
    /// Checks that the design runs the workload's patterns and compresses the operands for it.
    pub fn new(hss: &HssArch, workload: &Workload, operands: &Operands) -> Result<HssPrepared, RunError> {
        let dataflow = hss.dataflow(&workload.a, &workload.b)?;
        // K padded to whole top-rank fibers (up to 65,536 positions for four ranks) can outgrow
        // what the workload's own size check counted.
        let leaves = nrank_cp::slots(&dataflow.a_tree(), dataflow.ranks.len() - 1) as u64;
        let fibers = dataflow.fibers(workload.k) as u64;
        let need = [workload.m as u64, workload.n as u64].iter().try_fold(0u64, |sum, &rows| {
            rows.checked_mul(fibers)?.checked_mul(leaves)?.checked_mul(10)?.checked_add(sum)
        });
        crate::memory::check(
            || {
                format!(
                    "{} on M = {}, K = {}, N = {} (K padded to whole fibers)",
                    hss.name, workload.m, workload.k, workload.n
                )
            },
            need,
        )?;
        let a = NRankCp::compress(&operands.a, &dataflow.a_tree())?;
        let b_columns = match dataflow.b_tree() {
            Some(tree) => Some(NRankCp::compress(&operands.b.transpose(), &tree)?),
            None => None,
        };
        let block = dataflow.ranks.last().map_or(1, |r| r.h);
        let b = if hss.b.compressed && b_columns.is_none() && workload.b != Pattern::Dense {
            BFormat::BlockedCsr(BlockedCsr::compress(&operands.b, block, CsrAddresses::default()))
        } else {
            BFormat::Dense(operands.b.clone())
        };
        Ok(HssPrepared { hss: hss.clone(), dataflow, a, b, b_columns })
    }

    /// The CPU reference.
    pub fn run_cpu(&self, operands: &Operands) -> (Matrix<i32>, HssCounters) {
        reference::hss::run(&self.dataflow, &self.a, &operands.b, &self.b, self.b_columns.as_ref())
    }

    /// The GPU kernel, with the device time where the adapter measures it.
    pub fn run_gpu(&self, gpu: &GpuBackend) -> Result<(Matrix<i32>, HssCounters, Option<f64>), GpuError> {
        gpu.kernel.run_hss(&gpu.gpu, &self.dataflow, &self.a, &self.b, self.b_columns.as_ref())
    }

    /// What each rank runs, outermost first: `K1(2:4) skip`, `K0(4:4) gate`, `K1(2:8) skip by B`.
    pub fn runs_as(&self) -> String {
        let n = self.dataflow.ranks.len();
        let ranks: Vec<String> = self
            .dataflow
            .ranks
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let saf = match (r.skip, r.gate, r.side) {
                    (true, _, Side::B) => "skip by B",
                    (true, _, Side::A) => "skip",
                    (false, true, _) => "gate",
                    (false, false, _) if self.hss.ranks[i].saf == crate::hss::spec::Saf::Skip => "dense",
                    _ => "none",
                };
                format!("K{}({}:{}) {saf}", n - 1 - i, r.w, r.h)
            })
            .collect();
        ranks.join(" -> ")
    }

    /// Words and metadata bits of A, B and Z as stored: what moves between DRAM and the GLB.
    pub fn stored(&self, m: usize, n: usize) -> [Storage; 3] {
        let b = match &self.b_columns {
            Some(bc) => bc.storage(),
            None => self.b.storage(),
        };
        let z = Storage { value_words: (m * n) as u64 * self.hss.output.bytes(), metadata_bits: 0 };
        [self.a.storage(), b, z]
    }
}

/// One rank's counts in a result, with what it ran.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct RankReport {
    pub rank: usize,
    /// `G:H` processed per fiber.
    pub runs: String,
    pub h_max: u32,
    pub mux: u64,
    pub meta_bits: u64,
    pub gated: u64,
}

/// The result of one HSS run.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct HssResult {
    pub design: String,
    pub m: usize,
    pub k: usize,
    pub n: usize,
    pub a: String,
    pub b: String,
    pub runs_as: String,
    pub backend: &'static str,
    /// The GPU's counters and Z equal the CPU reference's (where both ran).
    pub gpu_equals_cpu: Option<bool>,
    pub z_equals_dense: bool,
    pub cycles: u64,
    pub counters: crate::counters::Counters,
    pub ranks: Vec<RankReport>,
    pub energy_pj: f64,
    pub latency_s: f64,
    pub edp: f64,
}

/// Runs `prepared` on the GPU where one is given (and with `check` the CPU reference too,
/// compared), else on the CPU reference; evaluates it with `ert`.
pub fn run_hss(
    prepared: &HssPrepared,
    workload: &Workload,
    operands: &Operands,
    gpu: Option<&GpuBackend>,
    check: bool,
    ert: &Ert,
) -> Result<(HssResult, Matrix<i32>), RunError> {
    let (z, counts, backend, gpu_equals_cpu) = match gpu.map(|g| prepared.run_gpu(g)) {
        Some(Ok((z, counts, _))) => {
            let same = check.then(|| (z.clone(), counts.clone()) == prepared.run_cpu(operands));
            (z, counts, "gpu", same)
        }
        Some(Err(GpuError::Unsupported(why))) if check => return Err(RunError::CheckUnsupported(why)),
        Some(Err(GpuError::Unsupported(_))) | None => {
            let (z, counts) = prepared.run_cpu(operands);
            (z, counts, "cpu", None)
        }
        Some(Err(e)) => return Err(e.into()),
    };
    let z_equals_dense = first_mismatch(&z, operands.dense()).is_none();
    let stored = prepared.stored(workload.m, workload.n);
    let energy_pj = energy(&prepared.hss, &prepared.dataflow, &counts, stored, ert)?;
    let cycles = counts.counters.cycles;
    let latency_s = cycles as f64 / prepared.hss.clock_hz;
    let n = prepared.dataflow.ranks.len();
    let ranks = prepared
        .dataflow
        .ranks
        .iter()
        .zip(&counts.ranks)
        .enumerate()
        .map(|(i, (r, c))| RankReport {
            rank: n - 1 - i,
            runs: format!("{}:{}", r.w, r.h),
            h_max: r.h_max,
            mux: c.mux,
            meta_bits: c.meta_bits,
            gated: c.gated,
        })
        .collect();
    let result = HssResult {
        design: prepared.hss.name.clone(),
        m: workload.m,
        k: workload.k,
        n: workload.n,
        a: workload.a.to_string(),
        b: workload.b.to_string(),
        runs_as: prepared.runs_as(),
        backend,
        gpu_equals_cpu,
        z_equals_dense,
        cycles,
        counters: counts.counters,
        ranks,
        energy_pj,
        latency_s,
        edp: energy_pj * 1e-12 * latency_s,
    };
    Ok((result, z))
}

/// Energy of a run of `df` on `hss`: the counters' actions as for every design, each rank's
/// selects at H_max `mux_input`s, the GLB traffic the emulator counts, and each operand as
/// `stored` (A, B, Z) moved between DRAM and the GLB once.
pub fn energy(
    hss: &HssArch,
    df: &HssDataflow,
    c: &HssCounters,
    stored: [Storage; 3],
    ert: &Ert,
) -> Result<f64, EnergyError> {
    let arch = hss.arch();
    let shared = crate::counters::Counters { rank1_mux: 0, rank0_mux: 0, ..c.counters };
    let mut pj = counters_energy(&shared, &arch, ert)?;
    for (r, counts) in df.ranks.iter().zip(&c.ranks) {
        pj += charge("rank mux", counts.mux, "mux_input", f64::from(r.h_max), ert)?;
    }
    let k = &c.counters;
    pj += charge("glb_read_a", k.glb_read_a + k.glb_read_b, "glb_read", 1.0, ert)?;
    pj += charge(
        "glb_read_a_meta_bits",
        k.glb_read_a_meta_bits + k.glb_read_b_meta_bits,
        "glb_meta_read",
        0.125,
        ert,
    )?;
    pj += charge("glb_write_z", k.glb_write_z, "glb_write", 1.0, ert)?;
    let [a, b, z] = stored;
    let words = a.value_words + b.value_words;
    let bits = a.metadata_bits + b.metadata_bits;
    pj += charge("dram_read", words, "dram_read", 1.0, ert)?;
    pj += charge("dram_meta_read", bits, "dram_meta_read", 0.125, ert)?;
    pj += charge("glb_fill", words, "glb_write", 1.0, ert)?;
    pj += charge("glb_fill_meta", bits, "glb_meta_write", 0.125, ert)?;
    pj += charge("dram_write_z", z.value_words, "dram_write", 1.0, ert)?;
    Ok(pj)
}
