//! `highlight-emu validate` (docs/DESIGN.md 11): the emulator against Sparseloop's published
//! outputs. Each shipped point (`validation/sparseloop/`: the MICRO'22 artifact's fig15 points,
//! ResNet-50 layers on TC, STC and DSTC) runs with the artifact's own mapping and energy table,
//! and its cycles, energy per component and DRAM and GLB access counts are set beside
//! Sparseloop's.

use std::path::Path;

use serde::Serialize;
use serde_json::Value;
use thiserror::Error;

use crate::design::dstc::Dstc;
use crate::design::{Bandwidth, Design};
use crate::energy::{EnergyError, Ert};
use crate::format::Format;
use crate::mapping::{Dim, Level, Mapping, MappingError};
use crate::matrix::Matrix;
use crate::pattern::Pattern;
use crate::run::{Bound, GpuBackend, RunError, RunResult, Workload, run};
use crate::search::Search;

/// Cycles, as `run` prints them: TC and STC exactly Sparseloop's, DSTC within this fraction (its
/// density is data here, statistics in Sparseloop). A DSTC point outside it whose operands give
/// Sparseloop's own position-space formula ([`position_space_cycles`]) within it is marked
/// "model differs": the two cycle models disagree on the same data (docs/DESIGN.md 11).
pub const DSTC_CYCLES_TOLERANCE: f64 = 0.10;
/// The search's own mapping against the artifact's `map.yaml`, both evaluated by the emulator
/// with the artifact's tables and bandwidths: EDP at most this ratio.
pub const MAPPER_EDP_LIMIT: f64 = 1.02;
/// Total energy, DRAM included, on every point.
pub const TOTAL_TOLERANCE: f64 = 0.10;
/// Each component that is more than [`COMPONENT_SHARE`] of Sparseloop's total.
pub const COMPONENT_TOLERANCE: f64 = 0.20;
pub const COMPONENT_SHARE: f64 = 0.05;
/// DRAM and GLB access counts under the artifact's mapping.
pub const COUNT_TOLERANCE: f64 = 0.05;

#[derive(Debug, Error)]
pub enum ValidateError {
    #[error("cannot read {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("{path}: {message}")]
    Bad { path: String, message: String },
    #[error(transparent)]
    Mapping(#[from] MappingError),
    #[error(transparent)]
    Energy(#[from] EnergyError),
    #[error("{point}: {source}")]
    Run { point: String, source: Box<RunError> },
}

/// One figure of the emulator beside Sparseloop's.
#[derive(Clone, Debug, Serialize)]
pub struct Figure {
    pub name: String,
    pub emulator: f64,
    pub sparseloop: f64,
    /// emulator / Sparseloop (1 when both are 0).
    pub ratio: f64,
    /// Whether the figure is held to a tolerance here, and meets it.
    pub checked: bool,
    pub ok: bool,
}

impl Figure {
    fn new(name: &str, emulator: f64, sparseloop: f64, tolerance: Option<f64>) -> Figure {
        let ratio = if sparseloop == 0.0 && emulator == 0.0 { 1.0 } else { emulator / sparseloop };
        let ok = tolerance.is_none_or(|t| (ratio - 1.0).abs() <= t + 1e-12);
        Figure { name: name.to_string(), emulator, sparseloop, ratio, checked: tolerance.is_some(), ok }
    }
}

/// One point's comparison.
#[derive(Clone, Debug, Serialize)]
pub struct PointReport {
    pub point: String,
    pub design: Design,
    /// Cycles as `run --mapping map.yaml` reports them.
    pub cycles: Figure,
    /// DSTC: Sparseloop's position-space formula on the emulated operands' occupancies, beside
    /// Sparseloop's; a diagnostic, not what the user gets.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sparseloop_formula_cycles: Option<Figure>,
    /// DSTC cycles outside their tolerance where Sparseloop's formula on the same operands is
    /// within it: the cycle models differ (the ratio is `cycles.ratio`).
    pub model_differs: bool,
    /// EDP of the search's own mapping over that of the artifact's `map.yaml` (`emulator` and
    /// `sparseloop` hold the two EDPs), at most [`MAPPER_EDP_LIMIT`].
    pub mapper_edp: Figure,
    /// Energy per component in pJ: MAC, PE registers, RF, GLB, DRAM, other (adders and muxes,
    /// which the artifact lacks), total.
    pub energy: Vec<Figure>,
    /// DRAM and GLB access counts (bytes) under the artifact's mapping.
    pub counts: Vec<Figure>,
    pub ok: bool,
}

impl PointReport {
    /// How many of the point's figures were held to a tolerance.
    pub fn figures_checked(&self) -> usize {
        let all = [&self.cycles, &self.mapper_edp].into_iter().chain(&self.energy).chain(&self.counts);
        all.filter(|f| f.checked).count()
    }
}

/// The emulator's energy components, as groups of its breakdown.
const COMPONENTS: &[(&str, &str, &[&str])] = &[
    ("MAC", "MAC", &["mac", "mac_gated"]),
    ("PE registers", "LRF", &["pe_reg_read", "pe_reg_write", "pe_meta_read_bits", "vfmu_read", "vfmu_write"]),
    ("RF", "RF", &["rf_read", "rf_write"]),
    (
        "GLB",
        "SMEM",
        &[
            "glb_fill_a",
            "glb_fill_a_meta_bits",
            "glb_fill_b",
            "glb_fill_b_meta_bits",
            "glb_read_a",
            "glb_read_a_meta_bits",
            "glb_read_b",
            "glb_read_b_meta_bits",
            "glb_write_z",
            "glb_read_z",
        ],
    ),
    (
        "DRAM",
        "DRAM",
        &[
            "dram_read_a",
            "dram_read_a_meta_bits",
            "dram_read_b",
            "dram_read_b_meta_bits",
            "dram_read_z",
            "dram_write_z",
        ],
    ),
    ("other", "", &["adder", "rank1_mux", "rank0_mux", "skip_select_mux"]),
];

/// Sparseloop's energy of one level, all data spaces.
fn level_energy(levels: &Value, level: &str) -> f64 {
    let l = &levels[level];
    if let Some(e) = l.get("energy_pj").and_then(Value::as_f64) {
        return e;
    }
    ["A", "B", "Z"].iter().filter_map(|s| l[*s].get("energy_pj").and_then(Value::as_f64)).sum()
}

/// The operands each design saw in the artifact (`aggregated_input.yaml`): TC dense weights, STC
/// 2:4 whenever the weights are sparse, DSTC unstructured at the weight density.
fn a_pattern(design: Design, weight_density: f64) -> Pattern {
    match design {
        _ if weight_density >= 1.0 => Pattern::Dense,
        Design::Stc => Pattern::parse("K0(2:4)").expect("a valid pattern"),
        Design::Dstc => Pattern::Unstructured { density: weight_density },
        _ => Pattern::Dense,
    }
}

/// Runs every point under `dir` (`reference.json`, `points/<name>/map.yaml`, `ert/`, `maps/`,
/// `bandwidth.toml`).
pub fn validate(
    dir: &Path,
    gpu: Option<&GpuBackend>,
    mut progress: impl FnMut(&str),
) -> Result<Vec<PointReport>, ValidateError> {
    let path = dir.join("reference.json");
    let text = crate::text::read_nested(&path)
        .map_err(|source| ValidateError::Read { path: path.display().to_string(), source })?;
    let bad = |message: String| ValidateError::Bad { path: path.display().to_string(), message };
    let reference: Value = serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
    let points = reference["points"].as_array().ok_or_else(|| bad("no points list".into()))?;
    if points.is_empty() {
        return Err(bad("its points list is empty: there is nothing to validate".into()));
    }
    let bandwidth_path = dir.join("bandwidth.toml");
    let bandwidth_text = crate::text::read_nested(&bandwidth_path)
        .map_err(|source| ValidateError::Read { path: bandwidth_path.display().to_string(), source })?;
    let bandwidths: std::collections::HashMap<String, Bandwidth> =
        toml::from_str(&bandwidth_text).map_err(|e| ValidateError::Bad {
            path: bandwidth_path.display().to_string(),
            message: e.message().to_string(),
        })?;
    // Every point's design has a bandwidth table, and every table serves a point: one no point
    // reads would not be applied.
    let designs: Vec<&str> = points.iter().filter_map(|p| p["design"].as_str()).collect();
    if let Some(missing) = designs.iter().find(|d| !bandwidths.contains_key(**d)) {
        return Err(ValidateError::Bad {
            path: bandwidth_path.display().to_string(),
            message: format!("no [{missing}] table"),
        });
    }
    if let Some(unused) = bandwidths.keys().find(|d| !designs.contains(&d.as_str())) {
        return Err(ValidateError::Bad {
            path: bandwidth_path.display().to_string(),
            message: format!(
                "table [{unused}] serves none of reference.json's points ({})",
                designs.join(", ")
            ),
        });
    }
    let mut reports = Vec::new();
    for p in points {
        let name = p["name"].as_str().ok_or_else(|| bad("a point without a name".into()))?;
        progress(name);
        let field = |f: &str| p[f].as_f64().ok_or_else(|| bad(format!("{name}: no {f}")));
        let design = match p["design"].as_str() {
            Some("tc") => Design::Tc,
            Some("stc") => Design::Stc,
            Some("dstc") => Design::Dstc,
            other => return Err(bad(format!("{name}: design {other:?}; the artifact's are tc, stc, dstc"))),
        };
        let upper = design.id().to_uppercase();
        let mut arch = design.arch();
        let bandwidth = bandwidths.get(design.id()).ok_or_else(|| format!("no [{}] table", design.id()));
        let bandwidth =
            bandwidth.and_then(|b| b.check().map(|()| *b).map_err(|m| format!("[{}] {m}", design.id())));
        arch.bandwidth =
            Some(bandwidth.map_err(|message| ValidateError::Bad {
                path: bandwidth_path.display().to_string(),
                message,
            })?);
        let mapping = Mapping::load(&dir.join("points").join(name).join("map.yaml"))?;
        let ert = Ert::load_any(
            &dir.join("ert").join(format!("{upper}-ERT.yaml")),
            Some(&dir.join("maps").join(format!("{}.toml", design.id()))),
        )?;
        // The artifact pads K where its blocks need it (DSTC at density 1/3): run what it ran.
        let workload = Workload {
            m: field("m")? as usize,
            k: (mapping.extent(Dim::K) as usize).max(field("k")? as usize),
            n: field("n")? as usize,
            a: a_pattern(design, field("weight_density")?),
            b: Pattern::Unstructured { density: field("activation_density")? },
            seed: 1,
        };
        let refuse = |source| ValidateError::Run { point: name.into(), source: Box::new(source) };
        workload.check().map_err(refuse)?;
        let operands = workload.operands().map_err(refuse)?;
        // The artifact's representations: DSTC's operands as bitmasks (TC and STC have one each).
        let bitmask = (design == Design::Dstc).then_some(Format::Bitmask);
        let search = Search {
            mapping: Some(mapping.clone()),
            a_format: bitmask,
            b_format: bitmask,
            ..Search::default()
        };
        let (result, _) =
            run(design, arch.clone(), &ert, &workload, &operands, gpu, false, &search).map_err(refuse)?;
        // The search's own mapping for the same representation, tables and bandwidths.
        let own = Search { mapping: None, ..search };
        let (searched, _) =
            run(design, arch.clone(), &ert, &workload, &operands, gpu, false, &own).map_err(refuse)?;
        let ratio = searched.edp / result.edp;
        let mapper_edp = Figure {
            name: "mapper EDP / map.yaml EDP".into(),
            emulator: searched.edp,
            sparseloop: result.edp,
            ratio,
            checked: true,
            ok: ratio <= MAPPER_EDP_LIMIT,
        };
        let dstc_cycles = (design == Design::Dstc).then(|| {
            let extent = |dim| mapping.level_extent(Level::Pe, dim) as usize;
            let sub_tile = (extent(Dim::M), extent(Dim::N));
            let lanes = Dstc::new(&arch).lanes;
            let compute = position_space_cycles(
                &operands.a,
                &operands.b,
                sub_tile,
                lanes,
                arch.arrays,
                result.counters.mac,
            );
            Bound::cycles(compute, result.hierarchy.traffic(), arch.bandwidth).0
        });
        reports.push(compare_point(name, design, &result, dstc_cycles, mapper_edp, p));
    }
    Ok(reports)
}

/// Sparseloop's compute cycles for DSTC (its position-space utilisation, as the artifact's
/// Sparseloop computes them from statistical occupancies) from the operands' real occupancies:
/// each operand's utilisation is the mean, over the (sub-tile, k) fibers holding nonzeros, of
/// the fraction of the lanes its vectors fill, `occ / (lanes x ceil(occ / lanes))`; the cycles are
/// the products over `arrays x lanes^2` MACs at the product of the two utilisations. Per fiber
/// this is the emulator's ceil(a / lanes) x ceil(b / lanes); averaged, it takes a ratio of
/// means where the emulator sums per k-step, and runs a little below it.
pub fn position_space_cycles(
    a: &Matrix<i8>,
    b: &Matrix<i8>,
    (sub_rows, sub_cols): (usize, usize),
    lanes: usize,
    arrays: usize,
    products: u64,
) -> u64 {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    let utilisation = |fibers: usize, occupancy: &dyn Fn(usize, usize) -> usize| {
        let (mut sum, mut nonempty) = (0.0, 0usize);
        for f in 0..fibers {
            for kk in 0..k {
                let occ = occupancy(f, kk);
                if occ > 0 {
                    sum += occ as f64 / (lanes * occ.div_ceil(lanes)) as f64;
                    nonempty += 1;
                }
            }
        }
        if nonempty == 0 { 1.0 } else { sum / nonempty as f64 }
    };
    let u_a = utilisation(m.div_ceil(sub_rows), &|f, kk| {
        (f * sub_rows..((f + 1) * sub_rows).min(m)).filter(|&r| a.get(r, kk) != 0).count()
    });
    let u_b = utilisation(n.div_ceil(sub_cols), &|f, kk| {
        b.row(kk)[f * sub_cols..((f + 1) * sub_cols).min(n)].iter().filter(|&&v| v != 0).count()
    });
    (products as f64 / ((arrays * lanes * lanes) as f64 * u_a * u_b)).ceil() as u64
}

/// Sets one run beside its reference point; `dstc_cycles`: DSTC's cycles by Sparseloop's formula.
fn compare_point(
    name: &str,
    design: Design,
    r: &RunResult,
    dstc_cycles: Option<u64>,
    mapper_edp: Figure,
    p: &Value,
) -> PointReport {
    let levels = &p["levels"];
    let total = p["energy_pj"].as_f64().unwrap_or(0.0);
    let reference_cycles = p["cycles"].as_f64().unwrap_or(0.0);
    let tolerance = if dstc_cycles.is_some() { DSTC_CYCLES_TOLERANCE } else { 0.0 };
    let cycles = Figure::new("cycles", r.cycles as f64, reference_cycles, Some(tolerance));
    let sparseloop_formula_cycles = dstc_cycles.map(|c| {
        Figure::new("Sparseloop's formula", c as f64, reference_cycles, Some(DSTC_CYCLES_TOLERANCE))
    });
    let model_differs = !cycles.ok && sparseloop_formula_cycles.as_ref().is_some_and(|f| f.ok);
    let pj = |names: &[&str]| {
        names.iter().filter_map(|n| r.energy_breakdown_pj.get(*n).and_then(Value::as_f64)).sum::<f64>()
    };
    let mut energy: Vec<Figure> = COMPONENTS
        .iter()
        .map(|(label, level, names)| {
            let reference = if level.is_empty() { 0.0 } else { level_energy(levels, level) };
            let tolerance = (reference > COMPONENT_SHARE * total).then_some(COMPONENT_TOLERANCE);
            Figure::new(label, pj(names), reference, tolerance)
        })
        .collect();
    energy.push(Figure::new("total", r.energy_pj, total, Some(TOTAL_TOLERANCE)));
    let h = &r.hierarchy;
    let count = |label: &str, emulator: u64, level: &str, space: &str, field: &str| {
        let reference = levels[level][space][field].as_f64().unwrap_or(0.0);
        Figure::new(label, emulator as f64, reference, Some(COUNT_TOLERANCE))
    };
    let counts = vec![
        count("DRAM reads of A", h.dram_read_a, "DRAM", "A", "reads"),
        count("DRAM reads of B", h.dram_read_b, "DRAM", "B", "reads"),
        count("DRAM writes of Z", h.dram_write_z, "DRAM", "Z", "updates"),
        count("GLB fills of A", h.glb_fill_a, "SMEM", "A", "fills"),
        count("GLB fills of B", h.glb_fill_b, "SMEM", "B", "fills"),
        count("GLB reads of A", h.glb_read_a, "SMEM", "A", "reads"),
        count("GLB reads of B", h.glb_read_b, "SMEM", "B", "reads"),
    ];
    let ok = (cycles.ok || model_differs)
        && mapper_edp.ok
        && energy.iter().all(|f| f.ok)
        && counts.iter().all(|f| f.ok);
    PointReport {
        point: name.to_string(),
        design,
        cycles,
        sparseloop_formula_cycles,
        model_differs,
        mapper_edp,
        energy,
        counts,
        ok,
    }
}

/// The table `validate` prints: one row per point, each figure as emulator / Sparseloop.
pub fn table(reports: &[PointReport]) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let names: Vec<&str> =
        reports.first().map_or(vec![], |r| r.energy.iter().map(|f| f.name.as_str()).collect());
    let _ = write!(out, "| point | cycles | Sparseloop's formula |");
    for n in &names {
        let _ = write!(out, " {n} |");
    }
    let _ = writeln!(out, " DRAM/GLB counts | mapper EDP | ok |");
    let _ = writeln!(out, "|---|---|---|{}---|---|---|", "---|".repeat(names.len()));
    let cell = |f: &Figure| {
        let mark = if f.ok { "" } else { " **x**" };
        if f.sparseloop == 0.0 && f.emulator == 0.0 {
            "-".to_string()
        } else {
            format!("{:.3}{mark}", f.ratio)
        }
    };
    for r in reports {
        let formula = r.sparseloop_formula_cycles.as_ref().map_or("-".to_string(), cell);
        let cycles = match r.model_differs {
            true => format!("{:.3} (model differs)", r.cycles.ratio),
            false => cell(&r.cycles),
        };
        let _ = write!(out, "| {} | {cycles} | {formula} |", r.point);
        for f in &r.energy {
            let _ = write!(out, " {} |", cell(f));
        }
        let (lo, hi) =
            r.counts.iter().fold((f64::INFINITY, 0f64), |(lo, hi), f| (lo.min(f.ratio), hi.max(f.ratio)));
        let counts_ok = if r.counts.iter().all(|f| f.ok) { "" } else { " **x**" };
        let _ = writeln!(
            out,
            " {lo:.3}-{hi:.3}{counts_ok} | {} | {} |",
            cell(&r.mapper_edp),
            if r.ok { "yes" } else { "no" }
        );
    }
    let _ = writeln!(
        out,
        "\nEach cell: emulator / Sparseloop. Cycles: what `run --mapping map.yaml` prints, the DRAM's and GLB's bandwidth bounds included (DSTC: one A and one B vector per cycle, summed per k-step, the arrays synced per tile). Sparseloop's formula: its position-space DSTC cycles on the emulated operands' occupancies, a diagnostic; where it is within tolerance and the emulator's count is not, the row says \"model differs\" (docs/DESIGN.md 11). Mapper EDP: the search's own mapping over the artifact's map.yaml, both evaluated by the emulator, at most {}. Tolerances: cycles exact for TC and STC, {}% for DSTC; total energy {}%; each component {}% where Sparseloop's is over {}% of its total; DRAM and GLB counts {}%. **x**: outside.",
        MAPPER_EDP_LIMIT,
        DSTC_CYCLES_TOLERANCE * 100.0,
        TOTAL_TOLERANCE * 100.0,
        COMPONENT_TOLERANCE * 100.0,
        COMPONENT_SHARE * 100.0,
        COUNT_TOLERANCE * 100.0
    );
    out
}
