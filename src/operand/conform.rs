//! Whether given data has a declared structure (issue 12): every fiber of every ruled rank of a
//! pattern holds at most G nonempty children. A file that breaks its declared pattern is
//! refused naming the first fiber that breaks it and how many do.

use crate::matrix::Matrix;
use crate::pattern::Pattern;

/// The first fiber that holds more nonempty children than its rank allows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// Row of the fibers' matrix (a row of A, or a column of B).
    pub row: usize,
    /// The fiber's first K coordinate.
    pub k: usize,
    /// The rank as written (`C0(2:4)`).
    pub rank: String,
    pub occupancy: usize,
    /// Fibers that break the pattern, over all rows and ranks.
    pub count: usize,
}

/// Checks `fibers` (one row per fiber of K, A's rows or B's columns) against `pattern`.
/// `dense` and `unstructured(d)` accept any data whose density is at most theirs (dense: any).
pub fn first_violation(fibers: &Matrix<i8>, pattern: &Pattern) -> Option<Violation> {
    let ruled = pattern.ruled_ranks();
    if ruled.is_empty() {
        return None;
    }
    let k = fibers.cols;
    let mut first = None;
    let mut count = 0;
    for r in 0..fibers.rows {
        let row = fibers.row(r);
        // Nonempty flags of the current rank's children, over padded K.
        let mut nonempty: Vec<bool> = (0..pattern.padded_k(k)).map(|i| i < k && row[i] != 0).collect();
        let mut child_span = 1;
        for rank in ruled.iter().rev() {
            let h = rank.h as usize;
            let mut parents = Vec::with_capacity(nonempty.len().div_ceil(h));
            for (f, fiber) in nonempty.chunks(h).enumerate() {
                let occupancy = fiber.iter().filter(|&&x| x).count();
                if occupancy > rank.g as usize {
                    count += 1;
                    first.get_or_insert(Violation {
                        row: r,
                        k: f * h * child_span,
                        rank: format!("{}({}:{})", rank.name, rank.g, rank.h),
                        occupancy,
                        count: 0,
                    });
                }
                parents.push(occupancy > 0);
            }
            nonempty = parents;
            child_span *= h;
        }
    }
    first.map(|v| Violation { count, ..v })
}

/// Whether the data satisfies the pattern: its ruled ranks, or an unstructured density bound.
pub fn satisfies(fibers: &Matrix<i8>, pattern: &Pattern) -> bool {
    match pattern {
        Pattern::Unstructured { density } => fibers.density() <= *density + 1e-12,
        _ => first_violation(fibers, pattern).is_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_ranks_by_hand() {
        let p = Pattern::parse("K1(1:2)->K0(2:4)").unwrap();
        // Row 0: one nonempty block of 2 -> fine. Row 1: both blocks nonempty -> K1 breaks at 0.
        // Row 2: 3 nonzeros in the first block -> K0 breaks at 0, and K1 is fine.
        let m = Matrix::from_vec(
            3,
            8,
            vec![1, 0, 2, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 3, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0],
        );
        let v = first_violation(&m, &p).unwrap();
        assert_eq!((v.row, v.k, v.rank.as_str(), v.occupancy, v.count), (1, 0, "K1(1:2)", 2, 2));
        assert!(satisfies(&Matrix::from_vec(1, 8, vec![1, 0, 2, 0, 0, 0, 0, 0]), &p));
        assert!(satisfies(&m, &Pattern::Dense));
        assert!(!satisfies(&m, &Pattern::Unstructured { density: 0.2 }));
    }
}
