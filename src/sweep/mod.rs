//! Sweeps: many points, every design, cross-checked where asked, written as CSV, JSON, the
//! paper-claims summary and plots (`workloads/*.toml`). Shards of a sweep run apart (a cluster's
//! job array) and `merge` joins them into the outputs of one full run.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use thiserror::Error;

mod brief;
mod results;
mod spill;
mod write;

pub use brief::{Brief, BriefOutcome, BriefResult, Briefs};
pub use results::{Provenance, Results, Row, RowsDigest};
pub use spill::Spill;
pub use write::{FIG13_MAX_POINTS, full_rows, table, write_outputs};

use crate::compare::{LayerRef, Point, PointOperands, compare};
use crate::degrees::DegreeTable;
use crate::design::Design;
use crate::energy::Ert;
use crate::output::OutputError;
use crate::run::{GpuBackend, RunError};
use crate::search::Search;

/// A sweep file.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SweepFile {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default = "one")]
    pub seed: u64,
    /// Grids of sparsity degrees.
    #[serde(default)]
    pub grid: Vec<Grid>,
    /// Points with the same operand patterns for every design.
    #[serde(default)]
    pub points: Vec<PatternPoint>,
    /// DNN layers, each run at every weight sparsity.
    #[serde(default)]
    pub layers: Vec<Layer>,
    /// The weight (A) sparsities the layers run at.
    #[serde(default)]
    pub weight_sparsity: Vec<f64>,
}

/// A DNN layer as a GEMM: M filters (or output features), K = C R S (or input features),
/// N = P Q x batch (or tokens x batch), its input-activation density, and how often it repeats.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Layer {
    pub name: String,
    pub m: usize,
    pub k: usize,
    pub n: usize,
    #[serde(default = "one_count")]
    pub count: usize,
    pub b_density: f64,
}

fn one_count() -> usize {
    1
}

fn one() -> u64 {
    1
}

/// Every (A, B) sparsity pair on one shape.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Grid {
    pub m: usize,
    pub k: usize,
    pub n: usize,
    pub a_sparsity: Vec<f64>,
    pub b_sparsity: Vec<f64>,
}

/// One shape with given patterns.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PatternPoint {
    pub m: usize,
    pub k: usize,
    pub n: usize,
    pub a: String,
    pub b: String,
}

#[derive(Debug, Error)]
pub enum SweepError {
    #[error("cannot read sweep file {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("sweep file {path}: {message}")]
    Bad { path: String, message: String },
    #[error("--shard {0}: expected I/N with 0 <= I < N, e.g. --shard 0/4")]
    BadShard(String),
    #[error("cannot read partial result {path}: {message}")]
    BadPartial { path: String, message: String },
    #[error("{0}")]
    Merge(String),
    #[error(transparent)]
    Output(#[from] OutputError),
}

impl SweepFile {
    pub fn load(path: &Path) -> Result<SweepFile, SweepError> {
        let text = crate::text::read_nested(path)
            .map_err(|source| SweepError::Read { path: path.display().to_string(), source })?;
        let bad = |message: String| SweepError::Bad { path: path.display().to_string(), message };
        let sweep: SweepFile = toml::from_str(&text).map_err(|e| bad(e.message().to_string()))?;
        if !safe_name(&sweep.name) {
            return Err(bad(format!(
                "name {:?}: a sweep's name names its output folder, so it is letters, digits, '-', '_' and '.' (not '.' or '..'), at most 128 characters",
                sweep.name
            )));
        }
        if sweep.points().is_empty() {
            return Err(bad(
                "no points: give [[grid]], [[points]], or [[layers]] with weight_sparsity".into()
            ));
        }
        if let Some(l) = sweep.layers.iter().find(|l| !(l.b_density > 0.0 && l.b_density <= 1.0)) {
            return Err(bad(format!("layer {}: b_density {} must be in (0, 1]", l.name, l.b_density)));
        }
        if let Some(l) = sweep.layers.iter().find(|l| l.count == 0) {
            return Err(bad(format!("layer {}: count must be at least 1", l.name)));
        }
        for p in &sweep.points {
            for t in [&p.a, &p.b] {
                crate::pattern::Pattern::parse(t).map_err(|e| bad(format!("pattern {t:?}: {e}")))?;
            }
        }
        // Every point is checked before any is computed: a bad one fails the sweep at once.
        let table = DegreeTable::shipped();
        for (i, point) in sweep.points().iter().enumerate() {
            crate::compare::check_point(point, &table)
                .map_err(|e| bad(format!("point {i} ({}): {e}", point.label())))?;
        }
        Ok(sweep)
    }

    /// Every point, grids first, in file order.
    pub fn points(&self) -> Vec<Point> {
        let mut points = Vec::new();
        for g in &self.grid {
            for &a_sparsity in &g.a_sparsity {
                for &b_sparsity in &g.b_sparsity {
                    points.push(Point {
                        m: g.m,
                        k: g.k,
                        n: g.n,
                        seed: self.seed,
                        operands: PointOperands::Degrees { a_sparsity, b_sparsity },
                        layer: None,
                    });
                }
            }
        }
        for p in &self.points {
            points.push(Point {
                m: p.m,
                k: p.k,
                n: p.n,
                seed: self.seed,
                operands: PointOperands::Patterns { a: p.a.clone(), b: p.b.clone() },
                layer: None,
            });
        }
        for &a_sparsity in &self.weight_sparsity {
            for l in &self.layers {
                points.push(Point {
                    m: l.m,
                    k: l.k,
                    n: l.n,
                    seed: self.seed,
                    operands: PointOperands::Degrees { a_sparsity, b_sparsity: 1.0 - l.b_density },
                    layer: Some(LayerRef { name: l.name.clone(), count: l.count }),
                });
            }
        }
        points
    }
}

/// A sweep name makes a folder name: letters, digits, `-`, `_`, `.`, and not `.` or `..`.
pub fn safe_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && name != "."
        && name != ".."
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// Shard `index` of `count`: the points whose index is `index` modulo `count`.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

impl std::str::FromStr for Shard {
    type Err = SweepError;
    fn from_str(s: &str) -> Result<Shard, SweepError> {
        let bad = || SweepError::BadShard(s.to_string());
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let (index, count) = (i.trim().parse().map_err(|_| bad())?, n.trim().parse().map_err(|_| bad())?);
        if index < count { Ok(Shard { index, count }) } else { Err(bad()) }
    }
}

impl Shard {
    pub fn takes(&self, point: usize) -> bool {
        point % self.count == self.index
    }
}

/// The default output directory of a sweep: `results/<name>/`, or a shard's own folder in it.
pub fn default_out(name: &str, shard: Option<Shard>) -> PathBuf {
    let base = Path::new("results").join(name);
    match shard {
        Some(s) => base.join(format!("shard-{}-of-{}", s.index, s.count)),
        None => base,
    }
}

/// Bytes one [`Brief`] holds, with its share of the point and the strings it shares.
const BRIEF_BYTES: u64 = (std::mem::size_of::<Brief>() + 64) as u64;

/// Runs the sweep's points (all, or the shard's) on every design.
pub fn run(
    file: &SweepFile,
    shard: Option<Shard>,
    ert: &Ert,
    search: &Search,
    gpu: Option<&GpuBackend>,
    check: bool,
    mut progress: impl FnMut(&Point, Design),
) -> Result<Results, RunError> {
    let table = DegreeTable::shipped();
    let points = file.points();
    // Full rows go to disk as they come; what stays is a brief of each (and any row whose check
    // failed), which the memory guard covers over the whole run.
    let mut spill = Spill::new().map_err(|e| RunError::Spill(e.to_string()))?;
    let mut briefs = Briefs::default();
    let mut failed = Vec::new();
    let mut held = 0u64;
    for (point_index, point) in points.iter().enumerate() {
        if shard.is_some_and(|s| !s.takes(point_index)) {
            continue;
        }
        crate::memory::check(|| format!("the rows of {} points so far", point_index + 1), Some(held))?;
        let outcomes = compare(point, &table, ert, search, gpu, check, None, |d| progress(point, d))?;
        for outcome in outcomes {
            let row = Row { point_index, point: point.clone(), outcome };
            spill.push(&row).map_err(|e| RunError::Spill(e.to_string()))?;
            briefs.push(&row);
            held += BRIEF_BYTES;
            if row.outcome.result.as_ref().is_some_and(|r| !r.passed()) {
                held += 4096;
                failed.push(row);
            }
        }
    }
    Ok(Results {
        sweep: file.name.clone(),
        description: file.description.clone(),
        ert: ert.name.clone(),
        backend: gpu.map_or("cpu".to_string(), |g| format!("gpu ({})", crate::gpu::describe(&g.gpu.info))),
        checked: check && gpu.is_some(),
        points: points.len(),
        shard,
        provenance: Some(Provenance::new(file, ert, search.objective)),
        rows: Vec::new(),
        spill: Some(spill),
        briefs: briefs.list.into(),
        failed,
    }
    .sealed())
}

/// Points of a shard (or of the whole sweep).
pub fn points_in(file: &SweepFile, shard: Option<Shard>) -> usize {
    (0..file.points().len()).filter(|&i| shard.is_none_or(|s| s.takes(i))).count()
}
