//! Every design on one sparsity-degree point (the paper's comparisons): each design gets the
//! operands the degree table gives it, tries both operand orders where it can, keeps its lowest
//! EDP, and is normalised to TC; a design that cannot run the point says why.

use serde::{Deserialize, Serialize};

use crate::degrees::{DegreeError, DegreeTable};
use crate::design::{Design, DesignError};
use crate::energy::Ert;
use crate::pattern::Pattern;
use std::collections::HashMap;
use std::collections::hash_map::Entry;

use crate::inputs::{self, Operand};
use crate::matrix::Matrix;
use crate::run::{GpuBackend, Operands, RunError, RunResult, Workload, run_best_order};
use crate::search::Search;

/// A point every design runs: shapes, seed, and what operands the designs get.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Point {
    pub m: usize,
    pub k: usize,
    pub n: usize,
    pub seed: u64,
    pub operands: PointOperands,
    /// The DNN layer the point is, if it is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layer: Option<LayerRef>,
}

/// A DNN layer: its name and how many times the network runs its shape.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct LayerRef {
    pub name: String,
    pub count: usize,
}

/// Sparsity degrees (each design gets its own operands from the degree table), or the same
/// patterns for every design.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PointOperands {
    Degrees {
        a_sparsity: f64,
        b_sparsity: f64,
    },
    Patterns {
        a: String,
        b: String,
    },
    /// The user's operand files: each design runs the sparsest of its patterns the data has.
    Files {
        a: String,
        b: String,
    },
}

impl Point {
    /// A short label, e.g. `A 50 % / B 25 %` or `A K0(2:4) / B dense`.
    pub fn label(&self) -> String {
        let layer = self.layer.as_ref().map_or(String::new(), |l| format!("{}: ", l.name));
        layer
            + &match &self.operands {
                PointOperands::Degrees { a_sparsity, b_sparsity } => {
                    format!("A {} % / B {} %", 100.0 * a_sparsity, 100.0 * b_sparsity)
                }
                PointOperands::Patterns { a, b } | PointOperands::Files { a, b } => format!("A {a} / B {b}"),
            }
    }

    /// A point of a synthetic degree sweep (figures 13 and 14), not a DNN layer.
    pub fn is_synthetic(&self) -> bool {
        self.layer.is_none() && matches!(self.operands, PointOperands::Degrees { .. })
    }

    /// The A candidates and the B pattern `design` gets here.
    fn patterns(&self, design: Design, table: &DegreeTable) -> Result<(Vec<Pattern>, Pattern), DegreeError> {
        match &self.operands {
            PointOperands::Degrees { a_sparsity, b_sparsity } => {
                Ok((table.a_patterns(design, *a_sparsity)?, table.b_pattern(design, *b_sparsity)?))
            }
            PointOperands::Files { a, .. } => Err(DegreeError::BadPattern {
                text: a.clone(),
                message: "operands from files have patterns only with their data".into(),
            }),
            PointOperands::Patterns { a, b } => {
                let parse = |t: &str| {
                    Pattern::parse(t)
                        .map_err(|e| DegreeError::BadPattern { text: t.to_string(), message: e.to_string() })
                };
                Ok((vec![parse(a)?], parse(b)?))
            }
        }
    }
}

/// A design's figures divided by TC's (speedup is TC's cycles over the design's).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Normalised {
    pub cycles: f64,
    pub energy: f64,
    pub latency: f64,
    pub edp: f64,
    pub speedup: f64,
}

/// One design at a point: its best run, or why it cannot run the point.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Outcome {
    pub design: Design,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unsupported: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<RunResult>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub normalised_to_tc: Option<Normalised>,
}

/// Checks, before anything is computed, that every design can be given its operands at `point`
/// (or is refused for a reason the results report), and that the operand sets the designs share
/// fit in memory together with one run.
pub fn check_point(point: &Point, table: &DegreeTable) -> Result<(), RunError> {
    let (m, k, n) = (point.m, point.k, point.n);
    if m == 0 || k == 0 || n == 0 {
        return Err(RunError::ZeroSize { m, k, n });
    }
    let mut sets = std::collections::HashSet::new();
    for design in Design::ALL {
        match point.patterns(design, table) {
            Ok((a_candidates, b)) => sets.extend(a_candidates.iter().map(|a| (a.to_string(), b.to_string()))),
            Err(DegreeError::NotEighths { .. }) => {}
            Err(e) => return Err(RunError::Degree(e)),
        }
    }
    let what = || format!("point {} (M = {m}, K = {k}, N = {n}, {} operand sets)", point.label(), sets.len());
    crate::memory::check(what, crate::memory::point_bytes(m, k, n, sets.len()))?;
    Ok(())
}

/// Runs every design on `point`; `given` operands (the user's files) instead of generated ones.
#[allow(clippy::too_many_arguments)]
pub fn compare(
    point: &Point,
    table: &DegreeTable,
    ert: &Ert,
    search: &Search,
    gpu: Option<&GpuBackend>,
    check: bool,
    given: Option<&Operands>,
    mut progress: impl FnMut(Design),
) -> Result<Vec<Outcome>, RunError> {
    let mut outcomes = Vec::new();
    // Designs given the same patterns (TC gets HighLight's A) share operands and dense product.
    let mut operands = HashMap::new();
    // B's columns as fibers along K, to match against each design's patterns.
    let b_fibers = given.map(|g| g.b.transpose());
    let given = given.zip(b_fibers.as_ref());
    // TC is the baseline every figure is normalised to: it runs in the only formats it reads,
    // whatever formats the others are fixed to.
    let baseline = Search { a_format: None, b_format: None, ..search.clone() };
    for design in Design::ALL {
        progress(design);
        let search = if design == Design::Tc { &baseline } else { search };
        outcomes.push(best_run(design, point, table, ert, search, gpu, check, given, &mut operands)?);
    }
    let tc = outcomes
        .iter()
        .find_map(|o| o.result.clone().filter(|_| o.design == Design::Tc))
        .expect("TC runs every point");
    for o in &mut outcomes {
        o.normalised_to_tc = o.result.as_ref().map(|r| Normalised {
            cycles: r.cycles as f64 / tc.cycles as f64,
            energy: r.energy_pj / tc.energy_pj,
            latency: r.latency_s / tc.latency_s,
            edp: r.edp / tc.edp,
            speedup: tc.cycles as f64 / r.cycles as f64,
        });
    }
    Ok(outcomes)
}

/// A design's best run under the search's objective over its A candidates and both orders.
#[allow(clippy::too_many_arguments)]
fn best_run(
    design: Design,
    point: &Point,
    table: &DegreeTable,
    ert: &Ert,
    search: &Search,
    gpu: Option<&GpuBackend>,
    check: bool,
    given: Option<(&Operands, &Matrix<i8>)>,
    operands: &mut HashMap<(String, String), Operands>,
) -> Result<Outcome, RunError> {
    let unsupported =
        |reason: String| Outcome { design, unsupported: Some(reason), result: None, normalised_to_tc: None };
    let arch = design.arch();
    let (a_candidates, b) = match (given, point.patterns(design, table)) {
        (Some((g, b_fibers)), _) => {
            // The sparsest of the design's patterns each operand's data has.
            let a = inputs::satisfied(design, &arch, &g.a, Operand::A).into_iter().next();
            let b = inputs::satisfied(design, &arch, b_fibers, Operand::B).into_iter().next();
            match (a, b) {
                (Some(a), Some(b)) => (vec![a], b),
                (None, _) => return Ok(unsupported(format!("A has none of {}'s patterns", arch.name))),
                (_, None) => return Ok(unsupported(format!("B has none of {}'s patterns", arch.name))),
            }
        }
        (None, Ok(patterns)) => patterns,
        (None, Err(e @ DegreeError::NotEighths { .. })) => return Ok(unsupported(e.to_string())),
        (None, Err(e)) => return Err(RunError::Degree(e)),
    };
    let mut best: Option<RunResult> = None;
    let mut reason = None;
    for a in a_candidates {
        let workload = Workload { m: point.m, k: point.k, n: point.n, a, b: b.clone(), seed: point.seed };
        let key = (workload.a.to_string(), workload.b.to_string());
        let operands = match (given, operands.entry(key)) {
            (Some((g, _)), _) => g,
            (None, Entry::Occupied(e)) => &*e.into_mut(),
            (None, Entry::Vacant(e)) => &*e.insert(workload.operands()?),
        };
        match run_best_order(design, &arch, ert, &workload, operands, gpu, check, true, search) {
            Ok((r, _)) => {
                if best.as_ref().is_none_or(|b| {
                    search.objective.better((r.energy_pj, r.latency_s), (b.energy_pj, b.latency_s))
                }) {
                    best = Some(r);
                }
            }
            Err(RunError::Design(e @ DesignError::Unsupported { .. })) => {
                reason.get_or_insert(format!("{e}, in either operand order"));
            }
            Err(e) => return Err(e),
        }
    }
    Ok(match best {
        Some(r) => Outcome { design, unsupported: None, result: Some(r), normalised_to_tc: None },
        None => unsupported(reason.unwrap_or_default()),
    })
}
