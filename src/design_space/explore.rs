//! Picking an HSS design for a network (docs/DESIGN.md 12): enumerate designs of up to N skipping
//! ranks (G = 2 each, H from 2 to each rank's H_max) on one MAC organisation, keep those that
//! support every required degree, and rank them by whole-network EDP on a DNN's layers at given
//! weight sparsities, with the Pareto frontier of EDP against mux cells.
//!
//! Every layer is emulated whole. A run's counters depend on what the ranks run (each rank's G:H,
//! SAF and level), not on the muxes' sizes, so designs that run a layer's weights alike share one
//! emulation; each design's energy then charges its own H_max per select.

use std::collections::HashMap;

use serde::Serialize;

use super::figure6::FLEXIBILITY_MAX;
use crate::counters::HssCounters;
use crate::energy::Ert;
use crate::format::Storage;
use crate::hss::spec::{HssRank, Level, Saf};
use crate::hss::{HssArch, HssDataflow, support};
use crate::pattern::Pattern;
use crate::run::hss::{HssPrepared, energy};
use crate::run::{GpuBackend, Operands, RunError, Workload, first_mismatch};
use crate::sweep::Layer;

/// The bounds of a search.
#[derive(Clone, Debug, Serialize)]
pub struct Bounds {
    pub max_ranks: usize,
    pub max_h: u32,
    /// Designs evaluated at most: the cheapest in mux cells of those that cover the degrees.
    pub budget: usize,
    pub required: Vec<f64>,
    pub weight_sparsity: Vec<f64>,
}

/// One design's whole-network figures at one weight sparsity.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct AtSparsity {
    pub sparsity: f64,
    /// The degree it ran the weights at (its sparsest at or below `sparsity`).
    pub ran_sparsity: f64,
    pub energy_pj: f64,
    pub latency_s: f64,
    pub edp: f64,
}

/// One evaluated design.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Score {
    pub design: String,
    /// Ranks outermost first, `2:{2..8}@array`.
    pub ranks: String,
    pub degrees: usize,
    pub mux_cells: u64,
    pub at: Vec<AtSparsity>,
    /// Geometric mean of the whole-network EDP over the weight sparsities: the ranking.
    pub edp_geomean: f64,
    /// No other design has both fewer mux cells and a lower EDP.
    pub pareto: bool,
    #[serde(skip)]
    pub arch: HssArch,
}

/// A finished search.
#[derive(Clone, Debug, Serialize)]
pub struct Exploration {
    pub bounds: Bounds,
    pub enumerated: usize,
    pub covering: usize,
    pub evaluated: usize,
    /// Distinct emulations run (designs running a layer alike share one).
    pub emulations: usize,
    pub layers: usize,
    /// Best first.
    pub scores: Vec<Score>,
}

/// Every design of 1 to `max_ranks` skipping ranks with G = 2 and H = 2..=H_max per rank (H_max
/// from 2 to `max_h`), on `base`'s MAC organisation: Rank0 in the PE, the others at the array.
pub fn enumerate(base: &HssArch, max_ranks: usize, max_h: u32) -> Vec<HssArch> {
    let mut out = Vec::new();
    for n in 1..=max_ranks {
        // PEs per fiber = 2^(n - 1) must divide the PEs of a row.
        if !base.pes_per_row.is_multiple_of(1 << (n - 1)) {
            continue;
        }
        let mut h_max = vec![2u32; n];
        loop {
            let ranks = h_max
                .iter()
                .enumerate()
                .map(|(i, &h)| HssRank {
                    g: Some(2),
                    h: (2..=h).collect(),
                    saf: Saf::Skip,
                    level: if i + 1 == n { Level::Pe } else { Level::Array },
                    operand: Default::default(),
                })
                .collect();
            let name = format!("hss-{}", h_max.iter().map(u32::to_string).collect::<Vec<_>>().join("-"));
            out.push(HssArch {
                name,
                description: "enumerated by hss explore".into(),
                macs_per_pe: 2,
                ranks,
                ..base.clone()
            });
            // The next tuple of H_max values, last rank fastest.
            let Some(i) = (0..n).rev().find(|&i| h_max[i] < max_h) else { break };
            h_max[i] += 1;
            h_max[i + 1..].fill(2);
        }
    }
    out
}

/// A run's counters do not depend on the muxes' sizes: the key of what a rank runs.
type ConfigKey = (Vec<(usize, usize, bool, bool, bool)>, usize);

fn config_key(df: &HssDataflow) -> ConfigKey {
    (df.ranks.iter().map(|r| (r.w, r.h, r.skip, r.gate, r.level == Level::Pe)).collect(), df.fibers_per_step)
}

/// Runs the search: `base` gives the organisation, `layers` the network (each at every weight
/// sparsity of `bounds`); with `check`, every GPU emulation is compared with the CPU reference's;
/// `progress` hears of each layer as it starts.
#[allow(clippy::too_many_arguments)]
pub fn explore(
    base: &HssArch,
    layers: &[Layer],
    bounds: Bounds,
    seed: u64,
    gpu: Option<&GpuBackend>,
    check: bool,
    ert: &Ert,
    mut progress: impl FnMut(usize, usize, &str),
) -> Result<Exploration, RunError> {
    let all = enumerate(base, bounds.max_ranks, bounds.max_h);
    let enumerated = all.len();
    let mut covering: Vec<(HssArch, crate::hss::Support)> = all
        .into_iter()
        .map(|d| {
            let s = support(&d);
            (d, s)
        })
        .filter(|(_, s)| {
            bounds.required.iter().all(|r| s.a_degrees.iter().any(|d| (d.sparsity - r).abs() < 1e-9))
        })
        .collect();
    let covering_count = covering.len();
    covering.sort_by_key(|(_, s)| s.cells());
    covering.truncate(bounds.budget);
    // What each design runs at each weight sparsity: its sparsest degree at or below it.
    let plans: Vec<Vec<(f64, Pattern)>> = covering
        .iter()
        .map(|(_, sup)| {
            let own = sup.sparsest_first();
            bounds
                .weight_sparsity
                .iter()
                .map(|&s| own.iter().find(|(d, _)| *d <= s + 1e-9).cloned().unwrap_or((0.0, Pattern::Dense)))
                .collect()
        })
        .collect();
    let mut patterns: Vec<Pattern> = plans.iter().flatten().map(|(_, p)| p.clone()).collect();
    patterns.sort_by_key(|p| p.to_string());
    patterns.dedup();
    // Energy (pJ) and cycles per design and weight sparsity, summed over the layers.
    let mut totals = vec![vec![(0.0f64, 0u64); bounds.weight_sparsity.len()]; covering.len()];
    let mut emulations = 0;
    for (li, layer) in layers.iter().enumerate() {
        progress(li, layers.len(), &layer.name);
        let b = if layer.b_density >= 1.0 {
            Pattern::Dense
        } else {
            Pattern::Unstructured { density: layer.b_density }
        };
        for pattern in &patterns {
            let w = Workload { m: layer.m, k: layer.k, n: layer.n, a: pattern.clone(), b: b.clone(), seed };
            w.check()?;
            let ops: Operands = w.operands()?;
            let mut runs: HashMap<ConfigKey, (HssCounters, [Storage; 3])> = HashMap::new();
            for ((hss, _), (plan, total)) in covering.iter().zip(plans.iter().zip(totals.iter_mut())) {
                for ((_, p), (energy_pj, cycles)) in plan.iter().zip(total.iter_mut()) {
                    if p != pattern {
                        continue;
                    }
                    let df = hss.dataflow(pattern, &w.b)?;
                    let key = config_key(&df);
                    if !runs.contains_key(&key) {
                        let prepared = HssPrepared::new(hss, &w, &ops)?;
                        // Where the kernel cannot run a design, the CPU reference does, as in `run`.
                        let (z, counts) = match gpu.map(|g| prepared.run_gpu(g)) {
                            Some(Ok((z, c, _)))
                                if check && (z.clone(), c.clone()) != prepared.run_cpu(&ops) =>
                            {
                                return Err(RunError::Mismatch(format!(
                                    "{} on layer {} with A = {pattern}: the GPU's Z or counters differ from the CPU reference's",
                                    hss.name, layer.name
                                )));
                            }
                            Some(Ok((z, c, _))) => (z, c),
                            Some(Err(crate::gpu::GpuError::Unsupported(why))) if check => {
                                return Err(RunError::CheckUnsupported(why));
                            }
                            Some(Err(crate::gpu::GpuError::Unsupported(_))) | None => prepared.run_cpu(&ops),
                            Some(Err(e)) => return Err(e.into()),
                        };
                        if first_mismatch(&z, ops.dense()).is_some() {
                            return Err(RunError::Mismatch(format!(
                                "{} on layer {} with A = {pattern}: Z differs from the dense product",
                                hss.name, layer.name
                            )));
                        }
                        emulations += 1;
                        runs.insert(key.clone(), (counts, prepared.stored(w.m, w.n)));
                    }
                    let (counts, stored) = &runs[&key];
                    *energy_pj += layer.count as f64 * energy(hss, &df, counts, *stored, ert)?;
                    *cycles += layer.count as u64 * counts.counters.cycles;
                }
            }
        }
    }
    let mut scores: Vec<Score> = covering
        .into_iter()
        .zip(plans.iter().zip(&totals))
        .map(|((hss, sup), (plan, total))| {
            let at: Vec<AtSparsity> = bounds
                .weight_sparsity
                .iter()
                .zip(plan.iter().zip(total))
                .map(|(&sparsity, ((ran_sparsity, _), &(energy_pj, cycles)))| {
                    let latency_s = cycles as f64 / hss.clock_hz;
                    AtSparsity {
                        sparsity,
                        ran_sparsity: *ran_sparsity,
                        energy_pj,
                        latency_s,
                        edp: energy_pj * 1e-12 * latency_s,
                    }
                })
                .collect();
            let edp_geomean = (at.iter().map(|a| a.edp.ln()).sum::<f64>() / at.len().max(1) as f64).exp();
            Score {
                design: hss.name.clone(),
                ranks: ranks_text(&hss),
                degrees: sup.a_degrees.iter().filter(|d| d.sparsity <= FLEXIBILITY_MAX + 1e-9).count(),
                mux_cells: sup.cells(),
                at,
                edp_geomean,
                pareto: false,
                arch: hss,
            }
        })
        .collect();
    scores.sort_by(|a, b| a.edp_geomean.total_cmp(&b.edp_geomean).then(a.mux_cells.cmp(&b.mux_cells)));
    let marks: Vec<bool> = scores
        .iter()
        .map(|s| {
            !scores.iter().any(|o| {
                o.mux_cells <= s.mux_cells
                    && o.edp_geomean <= s.edp_geomean
                    && (o.mux_cells < s.mux_cells || o.edp_geomean < s.edp_geomean)
            })
        })
        .collect();
    for (s, m) in scores.iter_mut().zip(marks) {
        s.pareto = m;
    }
    Ok(Exploration {
        bounds,
        enumerated,
        covering: covering_count,
        evaluated: scores.len(),
        emulations,
        layers: layers.len(),
        scores,
    })
}

/// `2:{2..8}@array -> 2:{2..4}@pe`.
fn ranks_text(hss: &HssArch) -> String {
    hss.ranks
        .iter()
        .map(|r| {
            let level = if r.level == Level::Pe { "pe" } else { "array" };
            format!("{}:{{{}..{}}}@{level}", r.g.unwrap_or(1), r.h[0], r.h_max())
        })
        .collect::<Vec<_>>()
        .join(" -> ")
}
