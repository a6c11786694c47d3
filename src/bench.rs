//! Emulation throughput (how fast the emulator answers, not how fast the emulated design is):
//! per design and shape, the median device time of repeated GPU runs after a warm-up, the median
//! wall time, and the MACs and emulated cycles per second that make; with `--check`, each point's
//! GPU run compared with the CPU reference.

use serde::Serialize;

use crate::degrees::DegreeTable;
use crate::design::Design;
use crate::run::{Check, GpuBackend, Prepared, RunError, Workload, first_difference, first_mismatch};

/// One measured point.
#[derive(Clone, Debug, Serialize)]
pub struct BenchRow {
    pub design: Design,
    /// M = K = N.
    pub size: usize,
    pub a_sparsity: f64,
    pub a: String,
    pub backend: String,
    pub repeats: usize,
    /// Median device time of the dispatches (GPU with timestamps only).
    pub gpu_ms: Option<f64>,
    /// Median wall time of the emulation (GPU: with uploads and readback).
    pub wall_ms: f64,
    /// Multiplies performed per second of the median time (device time where there is one).
    pub effectual_macs_per_s: f64,
    /// M N K per second.
    pub dense_equivalent_macs_per_s: f64,
    /// Emulated accelerator cycles per second.
    pub cycles_per_s: f64,
    /// With `--check`: the first timed GPU run against the CPU reference and the dense product.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub check: Option<Check>,
    /// The plain int8 product of the same shape on the same backend (ms), and this run's time
    /// over it: how far the emulation is from the hardware's own limit.
    pub plain_ms: Option<f64>,
    pub ratio_to_plain: Option<f64>,
}

/// The plain int8 product of a `size`^3 shape, the limit each design is set beside: on the GPU
/// the packed dot4I8Packed kernel (median device time, or wall time without timestamps), on the
/// CPU the dense reference product (median wall time); `repeats` timed runs after a warm-up.
pub fn plain_ms(size: usize, gpu: Option<&GpuBackend>, repeats: usize) -> Result<f64, RunError> {
    let workload = Workload {
        m: size,
        k: size,
        n: size,
        a: crate::pattern::Pattern::Dense,
        b: crate::pattern::Pattern::Dense,
        seed: 1,
    };
    workload.check()?;
    let ops = workload.operands()?;
    let kernel = gpu.map(|g| crate::gpu::dense_product::DenseProduct::new(&g.gpu));
    let mut times = Vec::new();
    for i in 0..=repeats.max(1) {
        let start = std::time::Instant::now();
        let device = match (gpu, &kernel) {
            (Some(g), Some(k)) => k.timed(&g.gpu, &ops.a, &ops.b)?.1,
            _ => {
                std::hint::black_box(crate::matrix::dense_product(&ops.a, &ops.b));
                None
            }
        };
        if i > 0 {
            times.push(device.unwrap_or(start.elapsed().as_secs_f64() * 1e3));
        }
    }
    Ok(median(times))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Measures `design` on a `size`^3 product with A at `a_sparsity` (its degree-table pattern) and
/// dense B; on the GPU when one is given, else the CPU reference. `Ok(None)` when the design
/// cannot run the point.
pub fn measure(
    design: Design,
    size: usize,
    a_sparsity: f64,
    gpu: Option<&GpuBackend>,
    repeats: usize,
) -> Result<Option<BenchRow>, RunError> {
    measure_checked(design, size, a_sparsity, gpu, repeats, false)
}

/// [`measure`], and with `check` and a GPU, also the CPU reference on the same operands, compared
/// with the first timed GPU run (Z and every counter) outside the timing.
pub fn measure_checked(
    design: Design,
    size: usize,
    a_sparsity: f64,
    gpu: Option<&GpuBackend>,
    repeats: usize,
    check: bool,
) -> Result<Option<BenchRow>, RunError> {
    let a = DegreeTable::shipped().a_patterns(design, a_sparsity)?.remove(0);
    let workload = Workload { m: size, k: size, n: size, a, b: crate::pattern::Pattern::Dense, seed: 1 };
    // One run's operands, formats, Z and dense product, and the kept first run's Z: timed runs
    // keep only their times, so the peak does not grow with the repeats.
    let what = || format!("bench at {size}^3");
    let z_bytes = (size as u64).checked_mul(size as u64).and_then(|e| e.checked_mul(4));
    crate::memory::check(
        what,
        crate::memory::run_bytes(size, size, size, false).zip(z_bytes).and_then(|(r, z)| r.checked_add(z)),
    )?;
    workload.check()?;
    let operands = workload.operands()?;
    let prepared = match Prepared::new(design, design.arch(), &workload, &operands, (None, None)) {
        Ok(p) => p,
        Err(RunError::Design(_)) => return Ok(None),
        Err(e) => return Err(e),
    };
    let repeats = repeats.max(1);
    let emulate = || match gpu {
        Some(g) => prepared.emulate_gpu(g),
        None => Ok(prepared.emulate_cpu(&operands)),
    };
    // One warm-up run: pipelines, caches and clocks settle.
    emulate()?;
    let first = emulate()?;
    let (mut wall, mut device) = (vec![first.wall_ms], vec![first.gpu_time_ms]);
    for _ in 1..repeats {
        let e = emulate()?;
        wall.push(e.wall_ms);
        device.push(e.gpu_time_ms);
    }
    let check = (check && gpu.is_some()).then(|| {
        let difference = first_difference(&first, &prepared.emulate_cpu(&operands));
        Check {
            cpu_gpu_equal: difference.is_none(),
            z_equals_dense: first_mismatch(&first.z, operands.dense()).is_none(),
            first_difference: difference,
        }
    });
    let counters = first.counters;
    let wall_ms = median(wall);
    let gpu_ms = device.into_iter().collect::<Option<Vec<f64>>>().map(median);
    let seconds = gpu_ms.unwrap_or(wall_ms) * 1e-3;
    Ok(Some(BenchRow {
        design,
        size,
        a_sparsity,
        a: workload.a.to_string(),
        backend: gpu.map_or("cpu".into(), |g| crate::gpu::describe(&g.gpu.info)),
        repeats,
        gpu_ms,
        wall_ms,
        effectual_macs_per_s: counters.mac as f64 / seconds,
        dense_equivalent_macs_per_s: (size as f64).powi(3) / seconds,
        cycles_per_s: counters.cycles as f64 / seconds,
        check,
        plain_ms: None,
        ratio_to_plain: None,
    }))
}
