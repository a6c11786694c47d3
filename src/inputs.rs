//! Operands from the user's files (issue 12): `.npy` int8 or float32 (quantised to int8), the
//! pattern each runs as (declared and checked, or the sparsest of the design's patterns the data
//! satisfies), and what the report says about them.

use std::path::Path;

use thiserror::Error;

use crate::degrees;
use crate::design::{Arch, Design};
use crate::matrix::Matrix;
use crate::operand::conform::{first_violation, satisfies};
use crate::operand::npy::{self, NpyError, NpyMatrix, Values};
use crate::operand::{OperandError, quantize};
use crate::pattern::{Pattern, readable};
use crate::run::InputFile;

#[derive(Debug, Error)]
pub enum InputError {
    #[error(transparent)]
    Npy(#[from] NpyError),
    #[error("{file}: {source}")]
    Operand { file: String, source: OperandError },
    #[error(
        "{file} breaks {pattern}: {operand} {fiber}'s fiber at K {k} holds {occupancy} nonempty children, more than {rank} allows; {count} fibers break it (declare the pattern it has, or prune it: highlight-emu prune)"
    )]
    Breaks {
        file: String,
        pattern: String,
        operand: &'static str,
        fiber: usize,
        k: usize,
        rank: String,
        occupancy: usize,
        count: usize,
    },
    #[error("{file}: {message}")]
    Array { file: String, message: String },
    #[error("{file}: density {density} is above the declared {pattern}")]
    TooDense { file: String, pattern: String, density: String },
    #[error(
        "{file} satisfies none of {design}'s patterns for {operand} ({patterns}); declare one with --{flag}, or prune it (highlight-emu prune)"
    )]
    NoPattern { file: String, design: String, operand: &'static str, patterns: String, flag: &'static str },
}

/// An operand read from a file, as int8, with how the report describes it.
pub struct Loaded {
    pub matrix: Matrix<i8>,
    pub report: InputFile,
}

/// Reads an int8 or float32 `.npy` file; a float file is quantised to int8 (symmetric, per
/// tensor).
pub fn load(path: &Path) -> Result<Loaded, InputError> {
    let file = path.display().to_string();
    let (matrix, dtype, quantization) = match npy::read_matrix(path)? {
        NpyMatrix::I8(m) => (m, "int8", None),
        NpyMatrix::F32(m) => {
            let q = quantize(&m).map_err(|source| InputError::Operand { file: file.clone(), source })?;
            (q.matrix, "float32", Some(q.report))
        }
    };
    Ok(Loaded {
        matrix,
        report: InputFile { file, dtype: dtype.into(), quantization, satisfies: Vec::new() },
    })
}

/// An operand given in memory (the Python package's NumPy arrays) under `label`, row-major
/// `rows` x `cols`: integers must fit int8 and are taken as they are; floats are quantised to int8
/// as a float32 file is (float64 through float32).
pub fn from_array(label: &str, rows: usize, cols: usize, values: Values) -> Result<Loaded, InputError> {
    let bad = |message: String| InputError::Array { file: label.into(), message };
    if rows == 0 || cols == 0 {
        return Err(bad(format!("{rows} x {cols} is empty; an operand has at least one row and column")));
    }
    if rows.checked_mul(cols) != Some(values.len()) {
        return Err(bad(format!("{} values for {rows} x {cols}", values.len())));
    }
    let dtype = values.dtype();
    let as_int8 = |v: Vec<i64>| -> Result<Vec<i8>, InputError> {
        match v.iter().position(|x| i8::try_from(*x).is_err()) {
            Some(i) => Err(bad(format!(
                "{dtype} value {} at [{}, {}] is outside int8 (-128..127); pass int8 values, or floats to be quantised",
                v[i],
                i / cols,
                i % cols
            ))),
            None => Ok(v.into_iter().map(|x| x as i8).collect()),
        }
    };
    let floats = |v: Vec<f32>| -> Result<Loaded, InputError> {
        let q = quantize(&Matrix::from_vec(rows, cols, v))
            .map_err(|source| InputError::Operand { file: label.into(), source })?;
        Ok(Loaded {
            matrix: q.matrix,
            report: InputFile {
                file: label.into(),
                dtype: dtype.into(),
                quantization: Some(q.report),
                satisfies: Vec::new(),
            },
        })
    };
    let data: Vec<i8> = match values {
        Values::I8(v) => v,
        Values::U8(v) => as_int8(v.into_iter().map(i64::from).collect())?,
        Values::I16(v) => as_int8(v.into_iter().map(i64::from).collect())?,
        Values::I32(v) => as_int8(v.into_iter().map(i64::from).collect())?,
        Values::I64(v) => as_int8(v)?,
        Values::F16(v) => return floats(v.into_iter().map(f32::from).collect()),
        Values::F32(v) => return floats(v),
        Values::F64(v) => return floats(v.into_iter().map(|x| x as f32).collect()),
    };
    Ok(Loaded {
        matrix: Matrix::from_vec(rows, cols, data),
        report: InputFile {
            file: label.into(),
            dtype: dtype.into(),
            quantization: None,
            satisfies: Vec::new(),
        },
    })
}

/// Which operand: A's fibers are its rows, B's its columns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operand {
    A,
    B,
}

impl Operand {
    fn name(self) -> &'static str {
        match self {
            Operand::A => "row",
            Operand::B => "column",
        }
    }
}

/// Checks that the data (as fibers along K) has the declared pattern.
pub fn check_declared(
    fibers: &Matrix<i8>,
    pattern: &Pattern,
    which: Operand,
    file: &str,
) -> Result<(), InputError> {
    if let Pattern::Unstructured { density } = pattern
        && fibers.density() > *density + 1e-12
    {
        return Err(InputError::TooDense {
            file: file.into(),
            pattern: pattern.to_string(),
            density: readable(fibers.density()),
        });
    }
    match first_violation(fibers, pattern) {
        Some(v) => Err(InputError::Breaks {
            file: file.into(),
            pattern: pattern.to_string(),
            operand: which.name(),
            fiber: v.row,
            k: v.k,
            rank: v.rank,
            occupancy: v.occupancy,
            count: v.count,
        }),
        None => Ok(()),
    }
}

/// The patterns of `design` (for A: its sparsity degrees; for B: S2TA's `K0(G:8)`, or dense and
/// unstructured for the designs that take any B) the data satisfies, sparsest first.
pub fn satisfied(design: Design, arch: &Arch, fibers: &Matrix<i8>, which: Operand) -> Vec<Pattern> {
    let measured = || match fibers.density() {
        d if d >= 1.0 => Pattern::Dense,
        d => Pattern::Unstructured { density: d.max(f64::MIN_POSITIVE) },
    };
    let candidates: Vec<Pattern> = match (which, design) {
        (Operand::A, Design::Dstc) | (Operand::B, Design::Tc | Design::Stc | Design::Dstc) => {
            vec![measured()]
        }
        (Operand::A, _) => {
            let support = degrees::supported(design, arch);
            let mut degrees = support.degrees;
            degrees.sort_by(|a, b| b.0.total_cmp(&a.0));
            degrees.into_iter().flat_map(|(_, p)| p).filter_map(|p| Pattern::parse(&p).ok()).collect()
        }
        (Operand::B, Design::S2ta) => {
            let block = arch.rank0.map_or(8, |r| r.h_max);
            (1..block)
                .map(|g| Pattern::parse(&format!("K0({g}:{block})")).expect("a valid pattern"))
                .chain([Pattern::Dense])
                .collect()
        }
        (Operand::B, _) => vec![measured()],
    };
    candidates.into_iter().filter(|p| satisfies(fibers, p)).collect()
}

/// The pattern an operand from a file runs as on `design`: the sparsest it satisfies.
pub fn detect(
    design: Design,
    arch: &Arch,
    fibers: &Matrix<i8>,
    which: Operand,
    file: &str,
) -> Result<(Pattern, Vec<String>), InputError> {
    let found = satisfied(design, arch, fibers, which);
    let names: Vec<String> = found.iter().map(Pattern::to_string).collect();
    match found.into_iter().next() {
        Some(p) => Ok((p, names)),
        None => {
            let all: Vec<String> = match which {
                Operand::A => {
                    degrees::supported(design, arch).degrees.into_iter().flat_map(|(_, p)| p).collect()
                }
                Operand::B => vec!["K0(G:8)".into(), "dense".into()],
            };
            Err(InputError::NoPattern {
                file: file.into(),
                design: arch.name.clone(),
                operand: if which == Operand::A { "A" } else { "B" },
                patterns: all.join(", "),
                flag: if which == Operand::A { "a" } else { "b" },
            })
        }
    }
}
