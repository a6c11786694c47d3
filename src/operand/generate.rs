//! Synthetic operands for sweeps (DESIGN.md 3): exactly G nonzero children in every fiber of every
//! ruled rank, or exactly `round(d * size)` nonzeros for `unstructured(d)`, all reproducible from
//! one `u64` seed.

use rand::seq::index;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::{OperandError, OperandRole};
use crate::matrix::Matrix;
use crate::pattern::{Pattern, RuledRank};

/// The random stream of one operand: ChaCha8 is specified bit for bit, so the same seed gives the
/// same operand on every machine; A and B draw from different streams of the same seed.
fn operand_rng(seed: u64, role: OperandRole) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(role as u64);
    rng
}

/// A nonzero int8 drawn uniformly from [-127, 127] without 0.
fn nonzero_value(rng: &mut ChaCha8Rng) -> i8 {
    let v: i16 = rng.random_range(1..=254);
    (if v > 127 { v - 255 } else { v }) as i8
}

/// Generates operand `role` from `pattern` with its structure along K.
///
/// A is `rows x k` (`rows` = M, each row one fiber along K). B is `k x rows` (`rows` = N): each of
/// its columns is generated as a fiber along K, then the matrix is transposed into K x N.
pub fn generate(
    pattern: &Pattern,
    role: OperandRole,
    rows: usize,
    k: usize,
    seed: u64,
) -> Result<Matrix<i8>, OperandError> {
    let mut rng = operand_rng(seed, role);
    let mut fibers = Matrix::<i8>::zeros(rows, k);
    match pattern {
        Pattern::Dense => fibers.data.iter_mut().for_each(|v| *v = nonzero_value(&mut rng)),
        Pattern::Unstructured { density } => {
            let size = fibers.data.len();
            let occupancy = (density * size as f64).round() as usize;
            for position in index::sample(&mut rng, size, occupancy.min(size)).into_vec() {
                fibers.data[position] = nonzero_value(&mut rng);
            }
        }
        Pattern::Hss { .. } => {
            if pattern.density().is_none() {
                return Err(OperandError::DensityNotFixed(pattern.to_string()));
            }
            let span = pattern.block_shape();
            if k > 0 {
                for fiber in fibers.data.chunks_mut(k) {
                    for top in fiber.chunks_mut(span) {
                        fill_fiber(&mut rng, pattern.ruled_ranks(), span, top);
                    }
                }
            }
        }
    }
    Ok(match role {
        OperandRole::A => fibers,
        OperandRole::B => fibers.transpose(),
    })
}

/// Fills one fiber of the top rank of `ruled` (`span` coordinates, of which the first
/// `out.len()` exist; the rest are K padding) with exactly G nonzero children per fiber.
/// Where padding leaves fewer than G children, all existing children are kept.
fn fill_fiber(rng: &mut ChaCha8Rng, ruled: &[RuledRank], span: usize, out: &mut [i8]) {
    let Some((rank, lower)) = ruled.split_first() else {
        out[0] = nonzero_value(rng);
        return;
    };
    let child_span = span / rank.h as usize;
    let children = out.len().div_ceil(child_span);
    let amount = (rank.g as usize).min(children);
    let mut chosen = index::sample(rng, children, amount).into_vec();
    chosen.sort_unstable();
    for child in chosen {
        let end = ((child + 1) * child_span).min(out.len());
        fill_fiber(rng, lower, child_span, &mut out[child * child_span..end]);
    }
}
