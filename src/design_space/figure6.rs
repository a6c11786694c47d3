//! Figure 6 of the paper, measured (docs/DESIGN.md 12): HSS designs of equal flexibility emulated
//! at every degree they support and at each degree of a target list, normalised latency against
//! sparsity degree (6a), and their muxing overhead by structure (6b).

use serde::Serialize;

use crate::hss::{HssArch, Support, support};
use crate::operand::conform::satisfies;
use crate::pattern::Pattern;
use crate::run::hss::{HssPrepared, run_hss};
use crate::run::{GpuBackend, RunError, Workload};

/// The sparsest degree the paper's flexibility claim counts (87.5 %).
pub const FLEXIBILITY_MAX: f64 = 0.875;

/// One design at one target degree.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Point {
    pub design: String,
    pub target_sparsity: f64,
    /// The pattern A was made with: the design's own at a degree it supports, else the target
    /// list's.
    pub target_pattern: String,
    /// The design exploits the whole target degree (a marker in figure 6(a)).
    pub supported: bool,
    /// What it ran: the sparsest supported pattern A satisfies (the target's own where supported).
    pub ran: String,
    pub ran_sparsity: f64,
    pub cycles: u64,
    /// Cycles over the design's own cycles with dense A.
    pub normalized_latency: f64,
}

/// One design's flexibility and mux cost.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct DesignRow {
    pub design: String,
    pub degrees: usize,
    /// Degrees from 0 to [`FLEXIBILITY_MAX`].
    pub degrees_in_range: usize,
    pub mux_cells: u64,
    /// Mux cells over the first design's.
    pub normalized_mux_overhead: f64,
    pub mux_inputs_per_cycle: u64,
    pub support: Support,
}

/// A claim of the paper's section 5.3, as measured.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Claim {
    pub claim: String,
    pub holds: bool,
    pub measured: String,
}

/// The measured figure.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Figure6 {
    pub m: usize,
    pub k: usize,
    pub n: usize,
    pub b: String,
    pub backend: &'static str,
    pub designs: Vec<DesignRow>,
    pub points: Vec<Point>,
    pub claims: Vec<Claim>,
}

/// The target degrees: `targets` where given (each with the first design pattern of that degree,
/// or unstructured), else every degree any design supports, with its first pattern.
fn target_list(supports: &[Support], targets: Option<&[f64]>) -> Vec<(f64, Pattern)> {
    let known = |s: f64| {
        supports
            .iter()
            .flat_map(|sup| &sup.a_degrees)
            .find(|d| (d.sparsity - s).abs() < 1e-9)
            .and_then(|d| Pattern::parse(&d.patterns[0]).ok())
    };
    let mut list: Vec<(f64, Pattern)> = match targets {
        Some(t) => {
            t.iter().map(|&s| (s, known(s).unwrap_or(Pattern::Unstructured { density: 1.0 - s }))).collect()
        }
        None => supports
            .iter()
            .flat_map(|sup| &sup.a_degrees)
            .filter_map(|d| Pattern::parse(&d.patterns[0]).ok().map(|p| (d.sparsity, p)))
            .collect(),
    };
    list.sort_by(|a, b| a.0.total_cmp(&b.0));
    list.dedup_by(|a, b| (a.0 - b.0).abs() < 1e-9);
    list
}

/// Emulates each design at each target degree on an `m x k x n` product with B `b`; `progress`
/// hears of each run. Z must equal the dense product on every run.
#[allow(clippy::too_many_arguments)]
pub fn figure6(
    designs: &[HssArch],
    (m, k, n): (usize, usize, usize),
    b: &Pattern,
    seed: u64,
    targets: Option<&[f64]>,
    gpu: Option<&GpuBackend>,
    check: bool,
    ert: &crate::energy::Ert,
    mut progress: impl FnMut(&str),
) -> Result<Figure6, RunError> {
    let mut backends: Vec<&'static str> = Vec::new();
    let supports: Vec<Support> = designs.iter().map(support).collect();
    let list = target_list(&supports, targets);
    let mut points = Vec::new();
    for (hss, sup) in designs.iter().zip(&supports) {
        // Its patterns, sparsest first: the first A satisfies is what it runs.
        let own = sup.sparsest_first();
        // What A made with `pattern` runs as, and its cycles.
        let mut run_one = |pattern: &Pattern| -> Result<(f64, Pattern, u64), RunError> {
            let w = Workload { m, k, n, a: pattern.clone(), b: b.clone(), seed };
            w.check()?;
            let operands = w.operands()?;
            let (sparsity, ran) =
                own.iter().find(|(_, p)| satisfies(&operands.a, p)).cloned().unwrap_or((0.0, Pattern::Dense));
            progress(&format!("{}: A = {pattern} runs as {ran}", hss.name));
            let run_w = Workload { a: ran.clone(), ..w };
            let prepared = HssPrepared::new(hss, &run_w, &operands)?;
            let (result, _) = run_hss(&prepared, &run_w, &operands, gpu, check, ert)?;
            let wrong = if !result.z_equals_dense {
                Some("Z differs from the dense product")
            } else if result.gpu_equals_cpu == Some(false) {
                Some("the GPU's Z or counters differ from the CPU reference's")
            } else {
                None
            };
            if let Some(what) = wrong {
                return Err(RunError::Mismatch(format!("{} at A = {ran}: {what}", hss.name)));
            }
            if !backends.contains(&result.backend) {
                backends.push(result.backend);
            }
            Ok((sparsity, ran, result.cycles))
        };
        let dense = run_one(&Pattern::Dense)?;
        for (target, listed) in &list {
            // At a degree it supports, A is made with the design's own pattern for it.
            let pattern = own.iter().find(|(s, _)| (s - target).abs() < 1e-9).map_or(listed, |(_, p)| p);
            let (sparsity, ran, cycles) =
                if *pattern == Pattern::Dense { dense.clone() } else { run_one(pattern)? };
            points.push(Point {
                design: hss.name.clone(),
                target_sparsity: *target,
                target_pattern: pattern.to_string(),
                supported: (sparsity - target).abs() < 1e-9,
                ran: ran.to_string(),
                ran_sparsity: sparsity,
                cycles,
                normalized_latency: cycles as f64 / dense.2 as f64,
            });
        }
    }
    let base = supports.first().map_or(1, Support::cells).max(1);
    let rows: Vec<DesignRow> = supports
        .into_iter()
        .map(|s| DesignRow {
            design: s.design.clone(),
            degrees: s.a_degrees.len(),
            degrees_in_range: s.a_degrees.iter().filter(|d| d.sparsity <= FLEXIBILITY_MAX + 1e-9).count(),
            mux_cells: s.cells(),
            normalized_mux_overhead: s.cells() as f64 / base as f64,
            mux_inputs_per_cycle: s.inputs_per_cycle(),
            support: s,
        })
        .collect();
    let claims = claims(&rows);
    Ok(Figure6 {
        m,
        k,
        n,
        b: b.to_string(),
        // Where the kernel could not run a design, the CPU reference did.
        backend: if backends.len() > 1 { "gpu and cpu" } else { backends.first().copied().unwrap_or("cpu") },
        designs: rows,
        points,
        claims,
    })
}

/// Section 5.3's claims where S and SS are both present: each has 15 degrees from 0 to 87.5 %,
/// and SS's muxing overhead is more than 2x below S's.
fn claims(rows: &[DesignRow]) -> Vec<Claim> {
    let find = |name: &str| rows.iter().find(|r| r.design == name);
    let (Some(s), Some(ss)) = (find("S"), find("SS")) else { return Vec::new() };
    let ratio = s.mux_cells as f64 / ss.mux_cells as f64;
    vec![
        Claim {
            claim: "S and SS both support 15 sparsity degrees from 0 % to 87.5 %".into(),
            holds: s.degrees_in_range == 15 && ss.degrees_in_range == 15,
            measured: format!("S {}, SS {}", s.degrees_in_range, ss.degrees_in_range),
        },
        Claim {
            claim: "SS has more than 2x less muxing overhead than S".into(),
            holds: ratio > 2.0,
            measured: format!("S {} two-input mux cells, SS {}: {ratio:.2}x", s.mux_cells, ss.mux_cells),
        },
    ]
}
