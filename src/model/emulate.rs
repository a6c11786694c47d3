//! A captured model on the designs (issue 12): per layer, its statistics (`layers.csv`); per
//! layer, weight sparsity and design, the weights pruned to the design's own pattern at that
//! degree by the paper's rule, both operands quantised to int8 (symmetric per tensor), and every
//! group emulated: the rows of `sweep`'s outputs.

use serde::Serialize;

use super::{Gemm, Layer};
use crate::compare::{LayerRef, Normalised, Outcome, Point, PointOperands};
use crate::degrees::DegreeTable;
use crate::design::{Design, DesignError};
use crate::energy::Ert;
use crate::inputs::{Operand, satisfied};
use crate::matrix::Matrix;
use crate::operand::{prune, quantize};
use crate::pattern::Pattern;
use crate::run::{GpuBackend, Operands, RunError, RunResult, Workload, run_best_order};
use crate::search::Search;
use crate::sweep::{Layer as SweepLayer, Row, Shard, SweepFile};

/// One captured node as `layers.csv` lists it.
#[derive(Clone, Debug, Serialize)]
pub struct LayerStats {
    pub index: usize,
    pub name: String,
    pub op: String,
    pub groups: usize,
    /// Per group.
    pub m: usize,
    pub k: usize,
    pub n: usize,
    pub macs: u64,
    /// A (the weights) before pruning: fraction not exactly zero. The densities are empty in
    /// `layers.csv` where they were not measured (a skipped node), never a made-up 0.
    pub a_density: Option<f64>,
    /// The im2col B of the float activation, padding included.
    pub b_density: Option<f64>,
    /// The same after quantising the activation to int8.
    pub b_density_int8: Option<f64>,
    /// Why the node is not emulated (empty when it is).
    pub skipped: String,
    /// What A is: `weight` (pruned per design and sparsity) or `activation` (a product of two
    /// activations, emulated as measured with `--activations`).
    pub a_operand: &'static str,
}

fn density<T: Default + PartialEq>(parts: impl Iterator<Item = T>) -> f64 {
    let (mut nonzero, mut all) = (0usize, 0usize);
    for v in parts {
        all += 1;
        nonzero += usize::from(v != T::default());
    }
    nonzero as f64 / all.max(1) as f64
}

/// Stacks equal-shaped matrices row-wise (per-tensor quantisation over all groups).
fn stack<T: Copy + Default>(parts: &[Matrix<T>]) -> Matrix<T> {
    let (rows, cols) = (parts[0].rows, parts[0].cols);
    Matrix::from_vec(rows * parts.len(), cols, parts.iter().flat_map(|m| m.data.iter().copied()).collect())
}

/// Splits a stacked matrix back into `count` parts.
fn split<T: Copy + Default>(m: &Matrix<T>, count: usize) -> Vec<Matrix<T>> {
    let rows = m.rows / count;
    (0..count)
        .map(|g| Matrix::from_vec(rows, m.cols, m.data[g * rows * m.cols..(g + 1) * rows * m.cols].to_vec()))
        .collect()
}

/// Quantises the groups of one tensor with one scale.
fn quantize_groups(parts: &[Matrix<f32>]) -> Result<Vec<Matrix<i8>>, RunError> {
    Ok(split(&quantize(&stack(parts))?.matrix, parts.len()))
}

impl LayerStats {
    pub fn of(layer: &Layer) -> LayerStats {
        let empty = LayerStats {
            index: layer.index,
            name: layer.name.clone(),
            op: layer.op.clone(),
            a_operand: if layer.activations { "activation" } else { "weight" },
            groups: 0,
            m: 0,
            k: 0,
            n: 0,
            macs: 0,
            a_density: None,
            b_density: None,
            b_density_int8: None,
            skipped: String::new(),
        };
        match &layer.gemms {
            Err(why) => {
                let [groups, m, k, n] = layer.shape.unwrap_or_default();
                let macs = [groups, m, k, n].iter().fold(1u64, |p, &d| p.saturating_mul(d as u64));
                LayerStats { skipped: why.clone(), groups, m, k, n, macs, ..empty }
            }
            Ok(gemms) if gemms.is_empty() => LayerStats { skipped: "no GEMM".into(), ..empty },
            // A GEMM with a zero dimension (no filters, an empty weight, a kernel of zero
            // height) multiplies nothing: reported as such, never emulated, never a 0 / 0 density.
            Ok(gemms) if gemms.iter().any(|g| g.a.rows == 0 || g.a.cols == 0 || g.b.cols == 0) => {
                let g = &gemms[0];
                LayerStats {
                    groups: gemms.len(),
                    m: g.a.rows,
                    k: g.a.cols,
                    n: g.b.cols,
                    skipped: format!(
                        "empty: M x K x N = {} x {} x {} has a zero dimension",
                        g.a.rows, g.a.cols, g.b.cols
                    ),
                    ..empty
                }
            }
            Ok(gemms) => {
                let g = &gemms[0];
                let bs: Vec<Matrix<f32>> = gemms.iter().map(|g| g.b.clone()).collect();
                let b_int8 =
                    quantize_groups(&bs).map(|q| density(q.iter().flat_map(|m| m.data.iter().copied())));
                LayerStats {
                    groups: gemms.len(),
                    m: g.a.rows,
                    k: g.a.cols,
                    n: g.b.cols,
                    macs: (gemms.len() * g.a.rows * g.a.cols * g.b.cols) as u64,
                    a_density: Some(density(gemms.iter().flat_map(|g| g.a.data.iter().copied()))),
                    b_density: Some(density(gemms.iter().flat_map(|g| g.b.data.iter().copied()))),
                    b_density_int8: b_int8.as_ref().ok().copied(),
                    skipped: b_int8.err().map_or(String::new(), |e| e.to_string()),
                    ..empty
                }
            }
        }
    }
}

/// `layers.csv`: one row per node that multiplies like a GEMM, captured or skipped.
pub fn layers_csv(stats: &[LayerStats]) -> Result<Vec<u8>, csv::Error> {
    let mut w = csv::Writer::from_writer(Vec::new());
    for s in stats {
        w.serialize(s)?;
    }
    w.into_inner().map_err(|e| csv::Error::from(e.into_error()))
}

/// The captured shapes and measured densities as a sweep file `sweep` runs (and, for shards,
/// what they were computed from).
///
/// A sweep prunes every layer's A, so activation products are left out of a file to run
/// (`products` false) and listed only where the file records what was emulated (`products`
/// true: every emulated layer, each counted once, as the rows are).
pub fn workload(
    name: &str,
    source: &str,
    stats: &[LayerStats],
    sparsities: &[f64],
    products: bool,
) -> SweepFile {
    let listed = |s: &&LayerStats| s.skipped.is_empty() && (products || s.a_operand == "weight");
    let left_out = if products {
        0
    } else {
        stats.iter().filter(|s| s.skipped.is_empty() && s.a_operand == "activation").count()
    };
    SweepFile {
        name: name.to_string(),
        description: match left_out {
            0 => format!("layers of {source}"),
            p => format!("layers of {source} (and {p} activation x activation layers, not in this file)"),
        },
        seed: SEED,
        grid: Vec::new(),
        points: Vec::new(),
        layers: stats
            .iter()
            .filter(listed)
            .map(|s| SweepLayer {
                name: s.name.clone(),
                m: s.m,
                k: s.k,
                n: s.n,
                // A model's row sums its groups, so the record of what ran counts each layer once.
                count: if products { 1 } else { s.groups },
                b_density: b_density(s),
            })
            .collect(),
        weight_sparsity: sparsities.to_vec(),
    }
}

/// The seed of a model's points and exported workloads: its operands are captured, not drawn,
/// so it only keeps the two alike.
const SEED: u64 = 1;

/// A captured layer's B density as its point and its sweep-file layer both take it.
fn b_density(s: &LayerStats) -> f64 {
    s.b_density_int8.unwrap_or(1.0).max(f64::MIN_POSITIVE)
}

/// [`workload`] as TOML.
pub fn workload_toml(file: &SweepFile) -> Result<String, toml::ser::Error> {
    let header = "# Captured by `highlight-emu model`: each Conv, Gemm and MatMul with a constant weight as a\n# GEMM (per group; count = groups), b_density measured on the int8 im2col.\n";
    Ok(format!("{header}{}", toml::to_string(file)?))
}

/// Adds one group's run to a layer's total.
fn absorb(total: &mut RunResult, r: &RunResult) {
    total.counters += r.counters;
    total.hierarchy += r.hierarchy;
    total.cycles += r.cycles;
    total.tc_cycles += r.tc_cycles;
    total.energy_pj += r.energy_pj;
    total.latency_s += r.latency_s;
    total.wall_ms += r.wall_ms;
    for (name, pj) in &r.energy_breakdown_pj {
        let sum = total.energy_breakdown_pj.get(name).and_then(|v| v.as_f64()).unwrap_or(0.0)
            + pj.as_f64().unwrap_or(0.0);
        total.energy_breakdown_pj.insert(name.clone(), sum.into());
    }
    total.edp = total.energy_pj * 1e-12 * total.latency_s;
    total.speedup_over_tc = total.tc_cycles as f64 / total.cycles.max(1) as f64;
    total.z_equals_dense &= r.z_equals_dense;
    total.z_mismatch = total.z_mismatch.or(r.z_mismatch);
}

/// One design on one layer at one weight sparsity: its best pattern candidate, every group.
#[allow(clippy::too_many_arguments)]
fn design_on_layer(
    design: Design,
    gemms: &[Gemm],
    activations: bool,
    b: &[Matrix<i8>],
    sparsity: f64,
    table: &DegreeTable,
    ert: &Ert,
    search: &Search,
    gpu: Option<&GpuBackend>,
    check: bool,
) -> Result<Outcome, RunError> {
    let unsupported =
        |reason: String| Outcome { design, unsupported: Some(reason), result: None, normalised_to_tc: None };
    let arch = design.arch();
    // B's pattern per group: the sparsest of the design's it satisfies, whatever A runs as.
    let mut b_patterns = Vec::with_capacity(b.len());
    for group in b {
        match satisfied(design, &arch, &group.transpose(), Operand::B).into_iter().next() {
            Some(p) => b_patterns.push(p),
            None => return Ok(unsupported(format!("the activation has none of {}'s B patterns", arch.name))),
        }
    }
    // A per candidate, each group with its pattern: the weights pruned to each of the design's
    // patterns at this degree, or an activation as measured, in the sparsest pattern it satisfies.
    let mut candidates: Vec<(Vec<Matrix<i8>>, Vec<Pattern>)> = Vec::new();
    if activations {
        let a = match quantize_groups(&gemms.iter().map(|g| g.a.clone()).collect::<Vec<_>>()) {
            Ok(a) => a,
            Err(e) => return Ok(unsupported(format!("the left activation: {e}"))),
        };
        let mut patterns = Vec::with_capacity(a.len());
        for group in &a {
            match satisfied(design, &arch, group, Operand::A).into_iter().next() {
                Some(p) => patterns.push(p),
                None => {
                    return Ok(unsupported(format!(
                        "the left activation has none of {}'s A patterns",
                        arch.name
                    )));
                }
            }
        }
        candidates.push((a, patterns));
    } else {
        let patterns = match table.a_patterns(design, sparsity) {
            Ok(c) => c,
            Err(e) => return Ok(unsupported(e.to_string())),
        };
        for pattern in patterns {
            let pruned = gemms.iter().map(|g| prune(&g.a, &pattern)).collect::<Result<Vec<Matrix<f32>>, _>>();
            match pruned.map_err(RunError::from).and_then(|p| quantize_groups(&p)) {
                Ok(a) => candidates.push((a, vec![pattern; gemms.len()])),
                Err(e) => return Ok(unsupported(format!("the weights: {e}"))),
            }
        }
    }
    let mut best: Option<RunResult> = None;
    let mut reason = None;
    'candidates: for (a, a_patterns) in candidates {
        let mut total: Option<RunResult> = None;
        for (((a, b), a_pattern), b_pattern) in a.into_iter().zip(b).zip(a_patterns).zip(&b_patterns) {
            let workload =
                Workload { m: a.rows, k: a.cols, n: b.cols, a: a_pattern, b: b_pattern.clone(), seed: 0 };
            let operands = Operands::new(a, b.clone());
            match run_best_order(design, &arch, ert, &workload, &operands, gpu, check, true, search) {
                Ok((r, _)) => match &mut total {
                    Some(t) => absorb(t, &r),
                    None => total = Some(r),
                },
                Err(RunError::Design(e @ DesignError::Unsupported { .. })) => {
                    reason.get_or_insert(e.to_string());
                    continue 'candidates;
                }
                Err(e) => return Err(e),
            }
        }
        if let Some(t) = total
            && best.as_ref().is_none_or(|b| {
                search.objective.better((t.energy_pj, t.latency_s), (b.energy_pj, b.latency_s))
            })
        {
            best = Some(t);
        }
    }
    Ok(match best {
        Some(r) => Outcome { design, unsupported: None, result: Some(r), normalised_to_tc: None },
        None => unsupported(reason.unwrap_or_default()),
    })
}

/// Every captured layer at every weight sparsity on every design (TC always, as the baseline):
/// the rows of `sweep`'s results, normalised to TC per layer and sparsity.
#[allow(clippy::too_many_arguments)]
pub fn run(
    layers: &[Layer],
    stats: &[LayerStats],
    sparsities: &[f64],
    designs: &[Design],
    ert: &Ert,
    search: &Search,
    gpu: Option<&GpuBackend>,
    check: bool,
    shard: Option<Shard>,
    mut progress: impl FnMut(&str, Design),
) -> Result<Vec<Row>, RunError> {
    let table = DegreeTable::shipped();
    let mut rows = Vec::new();
    let mut point_index = 0;
    // Each layer's activation, quantised once for all sparsities and designs.
    let mut quantized: std::collections::HashMap<usize, Vec<Matrix<i8>>> = std::collections::HashMap::new();
    for &sparsity in sparsities {
        for (layer, s) in layers.iter().zip(stats) {
            let Ok(gemms) = &layer.gemms else { continue };
            // A layer the statistics could not describe (non-finite activations) is skipped.
            if gemms.is_empty() || !s.skipped.is_empty() {
                continue;
            }
            // Points are layers x sparsities in this order; a shard takes every N-th.
            point_index += 1;
            if shard.is_some_and(|sh| !sh.takes(point_index - 1)) {
                continue;
            }
            let b = match quantized.entry(layer.index) {
                std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::hash_map::Entry::Vacant(e) => {
                    e.insert(quantize_groups(&gemms.iter().map(|g| g.b.clone()).collect::<Vec<_>>())?)
                }
            };
            // The point exactly as the provenance's record of the layers gives it back.
            let point = Point {
                m: s.m,
                k: s.k,
                n: s.n,
                seed: SEED,
                operands: PointOperands::Degrees { a_sparsity: sparsity, b_sparsity: 1.0 - b_density(s) },
                layer: Some(LayerRef { name: s.name.clone(), count: 1 }),
            };
            let mut outcomes = Vec::new();
            for design in Design::ALL.into_iter().filter(|d| *d == Design::Tc || designs.contains(d)) {
                progress(&s.name, design);
                outcomes.push(design_on_layer(
                    design,
                    gemms,
                    layer.activations,
                    b,
                    sparsity,
                    &table,
                    ert,
                    search,
                    gpu,
                    check,
                )?);
            }
            let tc = outcomes.iter().find(|o| o.design == Design::Tc).and_then(|o| o.result.clone());
            for o in &mut outcomes {
                o.normalised_to_tc = o.result.as_ref().zip(tc.as_ref()).map(|(r, tc)| Normalised {
                    cycles: r.cycles as f64 / tc.cycles as f64,
                    energy: r.energy_pj / tc.energy_pj,
                    latency: r.latency_s / tc.latency_s,
                    edp: r.edp / tc.edp,
                    speedup: tc.cycles as f64 / r.cycles as f64,
                });
            }
            rows.extend(outcomes.into_iter().map(|outcome| Row {
                point_index: point_index - 1,
                point: point.clone(),
                outcome,
            }));
        }
    }
    Ok(rows)
}
