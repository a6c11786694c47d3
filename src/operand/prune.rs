//! The HSS sparsifier (paper section 4.2, DESIGN.md 3): prune a given dense matrix to a pattern,
//! rank by rank, lowest first. Rank 0 keeps the G largest |values| of each fiber; a higher rank
//! keeps the G children whose pruned payload has the largest mean |value| (the paper's "scaled L2
//! norm"). Ties keep the lower coordinate. Kept values are never changed.

use super::OperandError;
use crate::matrix::Matrix;
use crate::pattern::Pattern;

/// An element type the sparsifier can rank by magnitude.
pub trait Magnitude: Copy + Default + PartialEq {
    fn magnitude(self) -> f64;
}

impl Magnitude for i8 {
    fn magnitude(self) -> f64 {
        f64::from(self).abs()
    }
}

impl Magnitude for f32 {
    fn magnitude(self) -> f64 {
        f64::from(self).abs()
    }
}

impl Magnitude for f64 {
    fn magnitude(self) -> f64 {
        self.abs()
    }
}

/// Prunes `matrix` (rows x K, structure along K) to `pattern`.
pub fn prune<T: Magnitude>(matrix: &Matrix<T>, pattern: &Pattern) -> Result<Matrix<T>, OperandError> {
    if let Some(i) = matrix.data.iter().position(|v| !v.magnitude().is_finite()) {
        let cols = matrix.cols.max(1);
        let value = matrix.data[i].magnitude() as f32;
        return Err(OperandError::NotFinite { row: i / cols, col: i % cols, value });
    }
    let keep = match pattern {
        Pattern::Dense => vec![true; matrix.data.len()],
        Pattern::Unstructured { density } => keep_largest(matrix, *density),
        Pattern::Hss { .. } => {
            if pattern.density().is_none() {
                return Err(OperandError::DensityNotFixed(pattern.to_string()));
            }
            keep_hss(matrix, pattern)
        }
    };
    let data = matrix.data.iter().zip(keep).map(|(&v, kept)| if kept { v } else { T::default() }).collect();
    Ok(Matrix::from_vec(matrix.rows, matrix.cols, data))
}

/// `unstructured(d)`: keep the `round(d * size)` largest magnitudes of the whole matrix.
fn keep_largest<T: Magnitude>(matrix: &Matrix<T>, density: f64) -> Vec<bool> {
    let size = matrix.data.len();
    let occupancy = ((density * size as f64).round() as usize).min(size);
    let mut order: Vec<usize> = (0..size).collect();
    // Stable sort: equal magnitudes keep the lower position first.
    order.sort_by(|&i, &j| matrix.data[j].magnitude().total_cmp(&matrix.data[i].magnitude()));
    let mut keep = vec![false; size];
    for &i in &order[..occupancy] {
        keep[i] = true;
    }
    keep
}

/// The HSS rule, fiber by fiber along K of each row (K zero-padded to whole top-rank fibers).
fn keep_hss<T: Magnitude>(matrix: &Matrix<T>, pattern: &Pattern) -> Vec<bool> {
    let k = matrix.cols;
    let k_pad = pattern.padded_k(k);
    let mut keep = Vec::with_capacity(matrix.data.len());
    let mut magnitude = vec![0.0f64; k_pad];
    for r in 0..matrix.rows {
        magnitude.iter_mut().for_each(|m| *m = 0.0);
        for (m, v) in magnitude.iter_mut().zip(matrix.row(r)) {
            *m = v.magnitude();
        }
        let mut child_span = 1;
        // Lowest rank first: each rank decides on children whose payloads are already pruned.
        for rank in pattern.ruled_ranks().iter().rev() {
            let fiber_span = child_span * rank.h as usize;
            for fiber in magnitude.chunks_mut(fiber_span) {
                let mean: Vec<f64> = fiber
                    .chunks(child_span)
                    .map(|child| child.iter().sum::<f64>() / child_span as f64)
                    .collect();
                let mut order: Vec<usize> = (0..mean.len()).collect();
                order.sort_by(|&i, &j| mean[j].total_cmp(&mean[i]));
                for &pruned in &order[rank.g as usize..] {
                    fiber[pruned * child_span..(pruned + 1) * child_span].fill(0.0);
                }
            }
            child_span = fiber_span;
        }
        // A kept position has a nonzero magnitude, or was zero to begin with (nothing to prune).
        keep.extend(matrix.row(r).iter().zip(&magnitude).map(|(v, &m)| m > 0.0 || v.magnitude() == 0.0));
    }
    keep
}
