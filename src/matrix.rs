//! Row-major matrices of operand values and the plain dense product every emulator is checked
//! against (DESIGN.md 4: int8 x int8 -> int32, exact).

use rayon::prelude::*;

/// A row-major `rows x cols` matrix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Matrix<T> {
    pub rows: usize,
    pub cols: usize,
    pub data: Vec<T>,
}

impl<T: Copy + Default> Matrix<T> {
    /// A matrix of zeros (`T::default()`).
    pub fn zeros(rows: usize, cols: usize) -> Self {
        Matrix { rows, cols, data: vec![T::default(); rows * cols] }
    }

    /// Wraps row-major data; `data.len()` must be `rows * cols`.
    pub fn from_vec(rows: usize, cols: usize, data: Vec<T>) -> Self {
        assert_eq!(data.len(), rows * cols, "matrix data does not match its shape");
        Matrix { rows, cols, data }
    }

    pub fn get(&self, r: usize, c: usize) -> T {
        self.data[r * self.cols + c]
    }

    pub fn row(&self, r: usize) -> &[T] {
        &self.data[r * self.cols..(r + 1) * self.cols]
    }

    pub fn transpose(&self) -> Matrix<T> {
        let mut t = Matrix::zeros(self.cols, self.rows);
        for r in 0..self.rows {
            for c in 0..self.cols {
                t.data[c * self.rows + r] = self.data[r * self.cols + c];
            }
        }
        t
    }
}

impl<T: Copy + Default + PartialEq> Matrix<T> {
    /// Number of nonzero elements.
    pub fn occupancy(&self) -> usize {
        self.data.iter().filter(|&&v| v != T::default()).count()
    }

    /// Fraction of nonzero elements (1 for an empty matrix, which has nothing pruned).
    pub fn density(&self) -> f64 {
        if self.data.is_empty() { 1.0 } else { self.occupancy() as f64 / self.data.len() as f64 }
    }
}

/// `Z = A x B` over int8 operands with int32 accumulation, the plain dense product.
pub fn dense_product(a: &Matrix<i8>, b: &Matrix<i8>) -> Matrix<i32> {
    assert_eq!(a.cols, b.rows, "inner dimensions of A and B differ");
    let n = b.cols;
    let mut z = Matrix::zeros(a.rows, n);
    if n == 0 {
        return z;
    }
    z.data.par_chunks_mut(n).enumerate().for_each(|(m, z_row)| {
        for (k, &a_mk) in a.row(m).iter().enumerate() {
            if a_mk == 0 {
                continue;
            }
            let a_mk = i32::from(a_mk);
            for (z_mn, &b_kn) in z_row.iter_mut().zip(b.row(k)) {
                *z_mn += a_mk * i32::from(b_kn);
            }
        }
    });
    z
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_worked_product() {
        let a = Matrix::from_vec(2, 3, vec![1i8, -2, 0, 127, 0, -127]);
        let b = Matrix::from_vec(3, 2, vec![3i8, -1, 4, 0, -128, 127]);
        let z = dense_product(&a, &b);
        assert_eq!(z.data, vec![3 - 2 * 4, -1, 127 * 3 + 127 * 128, -127 - 127 * 127]);
    }
}
