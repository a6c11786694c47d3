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

/// Why an operand could not be made or pruned.
#[derive(Debug, Error)]
pub enum OperandError {
    #[error(
        "pattern {0:?} has an unconstrained rank, so its density is set by data, not by the pattern; use G:H ranks, dense, or unstructured(d)"
    )]
    DensityNotFixed(String),
    #[error("the input holds NaN or an infinite value; prune needs finite magnitudes")]
    NotFinite,
}
