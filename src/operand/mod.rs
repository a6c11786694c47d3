//! Making operands (DESIGN.md 3): synthetic generation, pruning a given matrix to a pattern, and
//! NumPy files in and out.

pub mod conform;
pub mod generate;
pub mod npy;
pub mod prune;
pub mod quantize;

pub use generate::generate;
pub use prune::prune;
pub use quantize::quantize;

use thiserror::Error;

/// Which operand of `Z = A x B`: A (structured, weights) or B (activations). The discriminant is
/// the operand's random stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OperandRole {
    A = 0,
    B = 1,
}

/// The first value of `m` that is not finite, as the error naming where it is.
pub(crate) fn check_finite(m: &crate::matrix::Matrix<f32>) -> Result<(), OperandError> {
    match m.data.iter().position(|v| !v.is_finite()) {
        Some(i) => {
            Err(OperandError::NotFinite { row: i / m.cols.max(1), col: i % m.cols.max(1), value: m.data[i] })
        }
        None => Ok(()),
    }
}

/// Why an operand could not be made or pruned.
#[derive(Debug, Error)]
pub enum OperandError {
    #[error(
        "pattern {0:?} has an unconstrained rank, so its density is set by data, not by the pattern; use G:H ranks, dense, or unstructured(d)"
    )]
    DensityNotFixed(String),
    #[error("holds {value} at [{row}, {col}] (the first value that is not finite); accepted: finite values")]
    NotFinite { row: usize, col: usize, value: f32 },
}
