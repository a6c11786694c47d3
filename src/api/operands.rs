//! Patterns and operands without files: `spec` and `prune`.

use anyhow::{Result, bail};
use serde_json::{Value, json};

use super::parse_pattern;
use crate::matrix::Matrix;
use crate::operand::npy::{Array, Values};
use crate::operand::prune::Magnitude;
use crate::pattern::Pattern;

/// A pattern's canonical form, density, sparsity and ruled ranks (`spec --json`).
pub fn spec(text: &str) -> Result<Value> {
    let pattern = parse_pattern(text)?;
    let density = pattern.density();
    Ok(json!({
        "canonical": pattern.to_string(),
        "density": density,
        "sparsity": density.map(|d| 1.0 - d),
        "ranks": pattern.ruled_ranks(),
    }))
}

/// Bytes of `copies` int8 copies of `rows` fibers of `k` padded to the pattern's blocks.
pub fn padded_bytes(rows: usize, k: usize, pattern: &Pattern, copies: u64) -> Option<u64> {
    let block = pattern.block_shape() as u64;
    let k_pad = (k as u64).div_ceil(block).checked_mul(block)?;
    (rows as u64).checked_mul(k_pad)?.checked_mul(copies)
}

/// Prunes `m` (rows x K, structure along K) to `pattern` by the paper's rule, refused before it
/// starts when the work would not fit in memory. `label` names the input in errors.
pub fn prune<T: Magnitude>(m: &Matrix<T>, pattern: &Pattern, label: &str) -> Result<Matrix<T>> {
    // The input, the kept flags and the output, plus one padded row of f64 magnitudes.
    let what = || format!("prune of a {} x {} array to {pattern}", m.rows, m.cols);
    let item = std::mem::size_of::<T>() as u64;
    let need = (m.data.len() as u64)
        .checked_mul(2 * item + 1)
        .and_then(|b| b.checked_add(padded_bytes(1, m.cols, pattern, 8)?));
    crate::memory::check(what, need)?;
    crate::operand::prune(m, pattern).map_err(|e| anyhow::anyhow!("{label}: {e}"))
}

/// [`prune`] on an array in memory (`label` names it): 2-D (rows x K) and not empty, int8,
/// float32 or float64; the result has its dtype and shape.
pub fn prune_array(array: Array, text: &str, label: &str) -> Result<Array> {
    let pattern = parse_pattern(text)?;
    let [rows, cols] = array.shape[..] else {
        bail!("{label}: shape {:?}; prune takes a 2-D array (rows x K)", array.shape);
    };
    if rows == 0 || cols == 0 {
        bail!("{label}: {rows} x {cols} is empty; prune takes at least one row and one column");
    }
    if rows.checked_mul(cols) != Some(array.values.len()) {
        bail!("{label}: {} values for {rows} x {cols}", array.values.len());
    }
    let values = match array.values {
        Values::I8(v) => Values::I8(prune(&Matrix::from_vec(rows, cols, v), &pattern, label)?.data),
        Values::F32(v) => Values::F32(prune(&Matrix::from_vec(rows, cols, v), &pattern, label)?.data),
        Values::F64(v) => Values::F64(prune(&Matrix::from_vec(rows, cols, v), &pattern, label)?.data),
        other => bail!(
            "{label}: dtype {}; prune keeps the dtype, and accepts int8, float32, float64",
            other.dtype()
        ),
    };
    Ok(Array { shape: array.shape, values })
}
