//! Float operands to the machine's int8 (issue 12): symmetric per-tensor quantisation,
//! `scale = max|x| / 127`, each value `x / scale` rounded half away from zero and clamped to
//! [-127, 127], as int8 inference does; the densities before and after say what it zeroed.

use serde::Serialize;

use super::OperandError;
use crate::matrix::Matrix;

/// A quantised operand, with what the report states about it.
#[derive(Clone, Debug)]
pub struct Quantized {
    pub matrix: Matrix<i8>,
    pub report: Quantization,
}

/// The scale and the densities before and after quantisation.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, serde::Deserialize)]
pub struct Quantization {
    /// Real value of one int8 step (1 when the tensor is all zeros).
    pub scale: f64,
    /// Fraction of values that are not exactly zero, in the float tensor.
    pub density_before: f64,
    /// The same after quantisation: values below half a step become zero.
    pub density_after: f64,
}

/// Quantises a float tensor to int8, symmetric per tensor.
pub fn quantize(m: &Matrix<f32>) -> Result<Quantized, OperandError> {
    super::check_finite(m)?;
    let max = m.data.iter().fold(0f64, |acc, &v| acc.max(f64::from(v).abs()));
    let scale = if max > 0.0 { max / 127.0 } else { 1.0 };
    // f64::round rounds half away from zero.
    let data = m.data.iter().map(|&v| (f64::from(v) / scale).round().clamp(-127.0, 127.0) as i8).collect();
    let matrix = Matrix::from_vec(m.rows, m.cols, data);
    let density_before = m.data.iter().filter(|&&v| v != 0.0).count() as f64 / m.data.len().max(1) as f64;
    let density_after = matrix.density();
    Ok(Quantized { matrix, report: Quantization { scale, density_before, density_after } })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worked_example() {
        // max |x| = 254 -> scale 2; +-1 is half a step and rounds away from zero, 0.98 to 0.
        let m = Matrix::from_vec(1, 6, vec![254.0f32, -254.0, 1.0, -1.0, 0.98, 0.0]);
        let q = quantize(&m).unwrap();
        assert_eq!(q.matrix.data, vec![127, -127, 1, -1, 0, 0]);
        assert_eq!(q.report.scale, 2.0);
        assert_eq!(q.report.density_before, 5.0 / 6.0);
        assert_eq!(q.report.density_after, 4.0 / 6.0);
        let zeros = quantize(&Matrix::from_vec(1, 2, vec![0.0f32, 0.0])).unwrap();
        assert_eq!((zeros.matrix.data, zeros.report.scale), (vec![0, 0], 1.0));
    }
}
