//! One product on one design (`run`), and every design on one point (`compare`).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use super::{Array, Backend, Energy, parse_pattern};
use crate::compare::{Outcome, Point, PointOperands};
use crate::degrees::DegreeTable;
use crate::design::{Arch, Design};
use crate::inputs::{self, Loaded, Operand};
use crate::mapping::Mapping;
use crate::matrix::Matrix;
use crate::operand::npy;
use crate::operand::{self, OperandRole};
use crate::output::Replace;
use crate::pattern::{Pattern, readable};
use crate::run::{InputFile, Inputs, Operands, RunResult, Workload, run_best_order};
use crate::search::Search;
use crate::sweep::Row;

/// Where an operand's values come from: a `.npy` file, or an array in memory named `label` in
/// reports and errors.
#[derive(Clone, Debug)]
pub enum OperandSource {
    File(PathBuf),
    Array { label: String, array: Array },
}

impl OperandSource {
    fn load(&self) -> Result<Loaded> {
        Ok(match self {
            OperandSource::File(path) => inputs::load(path)?,
            OperandSource::Array { label, array } => match array.shape[..] {
                [rows, cols] => inputs::from_array(label, rows, cols, array.values.clone())?,
                _ => bail!("{label}: shape {:?}; an operand is a 2-D array", array.shape),
            },
        })
    }
}

/// `run`: Z = A x B on one design. Unset M, K and N come from the operands; unset patterns are
/// detected from the operands, or dense.
#[derive(Clone, Debug)]
pub struct RunRequest {
    pub design: Design,
    pub m: Option<usize>,
    pub k: Option<usize>,
    pub n: Option<usize>,
    /// A's pattern along K (checked against A's values when they are given).
    pub a: Option<String>,
    pub b: Option<String>,
    pub a_input: Option<OperandSource>,
    pub b_input: Option<OperandSource>,
    pub seed: u64,
    /// The search's objective and fixed formats (its mapping comes from `mapping`).
    pub search: Search,
    /// A Timeloop mapping YAML instead of the search's best tiling.
    pub mapping: Option<PathBuf>,
    /// Also try Z^T = B^T x A^T and keep the better order.
    pub swap: bool,
    /// An architecture file instead of assets/arch/<design>.toml.
    pub arch: Option<PathBuf>,
    pub backend: Backend,
    pub energy: Energy,
    /// A new folder to write a.npy, b.npy, z.npy and result.json into.
    pub save: Option<PathBuf>,
}

/// What a run gives: the report, the operands it ran (generated or the user's, as int8) and Z.
pub struct RunOutput {
    pub result: RunResult,
    pub operands: Operands,
    pub z: Matrix<i32>,
}

pub fn run(req: &RunRequest) -> Result<RunOutput> {
    let arch = match &req.arch {
        Some(path) => Arch::load(path)?,
        None => req.design.arch(),
    };
    let a_file = req.a_input.as_ref().map(OperandSource::load).transpose()?;
    let b_file = req.b_input.as_ref().map(OperandSource::load).transpose()?;
    let (m, k, n) = shape_of((req.m, req.k, req.n), a_file.as_ref(), b_file.as_ref())?;
    let a_fibers = a_file.as_ref().map(|f| f.matrix.clone());
    let b_fibers = b_file.as_ref().map(|f| f.matrix.transpose());
    let (a, a_satisfies) =
        pattern_for(req, req.a.as_deref(), a_fibers.as_ref(), a_file.as_ref(), Operand::A, &arch)?;
    let (b, b_satisfies) =
        pattern_for(req, req.b.as_deref(), b_fibers.as_ref(), b_file.as_ref(), Operand::B, &arch)?;
    let workload = Workload { m, k, n, a, b, seed: req.seed };
    workload.check_with_swap(req.swap)?;
    let ert = req.energy.load()?;
    let mapping = req.mapping.as_deref().map(Mapping::load).transpose()?;
    if mapping.is_some() && req.swap {
        bail!("--mapping names the loops of the order given; drop --swap, or the mapping");
    }
    if let Some(dir) = &req.save {
        crate::output::check_output_dir(dir).with_context(|| format!("--save {}", dir.display()))?;
        if dir.exists() {
            bail!("--save {}: already exists; name a new folder", dir.display());
        }
    }
    let gpu = req.backend.open()?;
    let input = |file: Option<Loaded>, satisfies: Vec<String>| {
        file.map(|f| (f.matrix, InputFile { satisfies, ..f.report }))
    };
    let (a_input, b_input) = (input(a_file, a_satisfies), input(b_file, b_satisfies));
    let report = (a_input.is_some() || b_input.is_some()).then(|| Inputs {
        a: a_input.as_ref().map(|(_, r)| r.clone()),
        b: b_input.as_ref().map(|(_, r)| r.clone()),
    });
    let a_matrix = match a_input {
        Some((matrix, _)) => matrix,
        None => operand::generate(&workload.a, OperandRole::A, m, k, req.seed)?,
    };
    let b_matrix = match b_input {
        Some((matrix, _)) => matrix,
        None => operand::generate(&workload.b, OperandRole::B, n, k, req.seed)?,
    };
    let operands = Operands::new(a_matrix, b_matrix);
    let search = Search { mapping, ..req.search.clone() };
    let (mut result, z) = run_best_order(
        req.design,
        &arch,
        &ert,
        &workload,
        &operands,
        gpu.as_ref(),
        req.backend.check,
        req.swap,
        &search,
    )?;
    result.inputs = report;
    if let Some(dir) = &req.save {
        save(dir, &operands, &z, &result)?;
    }
    Ok(RunOutput { result, operands, z })
}

/// Writes the run as a new folder ([`crate::output::write_dir`]): a failed or interrupted save
/// leaves nothing behind.
fn save(dir: &Path, operands: &Operands, z: &Matrix<i32>, result: &RunResult) -> Result<()> {
    crate::output::write_dir(dir, Replace::Never, |tmp| {
        let npy = |name: &str, e: npy::NpyError| format!("{name}: {e}");
        npy::write_matrix(&tmp.join("a.npy"), &operands.a).map_err(|e| npy("a.npy", e))?;
        npy::write_matrix(&tmp.join("b.npy"), &operands.b).map_err(|e| npy("b.npy", e))?;
        npy::write_matrix(&tmp.join("z.npy"), z).map_err(|e| npy("z.npy", e))?;
        let json = serde_json::to_string_pretty(result).map_err(|e| e.to_string())?;
        std::fs::write(tmp.join("result.json"), json + "\n").map_err(|e| format!("result.json: {e}"))
    })
    .with_context(|| format!("--save {}", dir.display()))
}

/// M, K and N from the operands and the given sizes, which must agree.
fn shape_of(
    given: (Option<usize>, Option<usize>, Option<usize>),
    a: Option<&Loaded>,
    b: Option<&Loaded>,
) -> Result<(usize, usize, usize)> {
    // Each dimension with what fixed it: its flag, or the operand it was read from.
    let flag = |name: &str, v: Option<usize>| (v, name.to_string());
    let mut dims = [flag("--m", given.0), flag("--k", given.1), flag("--n", given.2)];
    let from_files = [
        a.map(|f| (0, f.matrix.rows, &f.report.file, "rows")),
        a.map(|f| (1, f.matrix.cols, &f.report.file, "columns")),
        b.map(|f| (1, f.matrix.rows, &f.report.file, "rows")),
        b.map(|f| (2, f.matrix.cols, &f.report.file, "columns")),
    ];
    for (i, value, file, what) in from_files.into_iter().flatten() {
        match &dims[i] {
            (Some(given), source) if *given != value => {
                let dim = ["M", "K", "N"][i];
                bail!(
                    "{dim} is {given} from {source} but {value} from {file}'s {what} (A is M x K, B is K x N)"
                )
            }
            _ => dims[i] = (Some(value), format!("{file}'s {what}")),
        }
    }
    match dims {
        [(Some(m), _), (Some(k), _), (Some(n), _)] => Ok((m, k, n)),
        _ => bail!("give --m, --k and --n, or operand files that fix them (--a-file M x K, --b-file K x N)"),
    }
}

/// The pattern an operand runs as: declared (and checked against its values), detected from its
/// values (the sparsest of the design's patterns it satisfies, all of which are reported), or
/// dense.
fn pattern_for(
    req: &RunRequest,
    declared: Option<&str>,
    fibers: Option<&Matrix<i8>>,
    file: Option<&Loaded>,
    which: Operand,
    arch: &Arch,
) -> Result<(Pattern, Vec<String>)> {
    let name = || file.map_or(String::new(), |f| f.report.file.clone());
    match (declared, fibers) {
        (Some(text), Some(fibers)) => {
            let p = parse_pattern(text)?;
            inputs::check_declared(fibers, &p, which, &name())?;
            Ok((p, Vec::new()))
        }
        (Some(text), None) => Ok((parse_pattern(text)?, Vec::new())),
        (None, Some(fibers)) => Ok(inputs::detect(req.design, arch, fibers, which, &name())?),
        (None, None) => Ok((Pattern::Dense, Vec::new())),
    }
}

/// `compare`: every design on one point, of sparsity degrees (each design gets the degree
/// table's operands) or of the user's operands (each runs the sparsest of its patterns they have).
#[derive(Clone, Debug)]
pub struct CompareRequest {
    pub m: Option<usize>,
    pub k: Option<usize>,
    pub n: Option<usize>,
    /// Both or neither.
    pub a_input: Option<OperandSource>,
    pub b_input: Option<OperandSource>,
    pub a_sparsity: f64,
    pub b_sparsity: f64,
    pub seed: u64,
    pub search: Search,
    pub backend: Backend,
    pub energy: Energy,
}

/// The point and each design's outcome (`compare --json`'s `point` and `designs`).
pub struct Compared {
    pub point: Point,
    pub outcomes: Vec<Outcome>,
}

pub fn compare(req: &CompareRequest, progress: impl FnMut(Design)) -> Result<Compared> {
    let table = DegreeTable::shipped();
    let given = match (&req.a_input, &req.b_input) {
        (Some(a), Some(b)) => {
            let (a_file, b_file) = (a.load()?, b.load()?);
            let shape = shape_of((req.m, req.k, req.n), Some(&a_file), Some(&b_file))?;
            for (name, f) in [("A", &a_file), ("B", &b_file)] {
                if let Some(q) = f.report.quantization {
                    super::note(&format!(
                        "{name} ({}) quantised to int8 with scale {:e}: density {} -> {}",
                        f.report.file,
                        q.scale,
                        readable(q.density_before),
                        readable(q.density_after)
                    ));
                }
            }
            let files = PointOperands::Files { a: a_file.report.file.clone(), b: b_file.report.file.clone() };
            Some((shape, files, Operands::new(a_file.matrix, b_file.matrix)))
        }
        (None, None) => None,
        _ => bail!("compare takes both --a-file and --b-file, or neither"),
    };
    let ((m, k, n), operands) = match &given {
        Some((shape, files, _)) => (*shape, files.clone()),
        None => match (req.m, req.k, req.n) {
            (Some(m), Some(k), Some(n)) => {
                ((m, k, n), PointOperands::Degrees { a_sparsity: req.a_sparsity, b_sparsity: req.b_sparsity })
            }
            _ => bail!("give --m, --k and --n (e.g. --m 1024 --k 1024 --n 1024)"),
        },
    };
    let point = Point { m, k, n, seed: req.seed, operands, layer: None };
    if given.is_none() {
        crate::compare::check_point(&point, &table)?;
    } else {
        Workload { m, k, n, a: Pattern::Dense, b: Pattern::Dense, seed: req.seed }.check_with_swap(true)?;
    }
    let ert = req.energy.load()?;
    let gpu = req.backend.open()?;
    let outcomes = crate::compare::compare(
        &point,
        &table,
        &ert,
        &req.search,
        gpu.as_ref(),
        req.backend.check,
        given.as_ref().map(|(_, _, o)| o),
        progress,
    )?;
    Ok(Compared { point, outcomes })
}

impl Compared {
    /// One row per design with the columns of a sweep's `results.csv` ([`super::table_rows`]).
    pub fn rows(&self) -> Result<Vec<serde_json::Map<String, serde_json::Value>>> {
        let rows = self
            .outcomes
            .iter()
            .map(|o| Ok(Row { point_index: 0, point: self.point.clone(), outcome: o.clone() }));
        Ok(crate::sweep::table(rows)?)
    }

    /// Every design's verdict ([`super::verdict`]), the first mismatch named by its design.
    pub fn verdict(&self) -> Result<()> {
        for o in &self.outcomes {
            if let Some(r) = &o.result {
                super::verdict(r, &format!("{}: ", o.design.id()))?;
            }
        }
        Ok(())
    }
}
