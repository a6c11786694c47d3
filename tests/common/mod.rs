//! Helpers shared by the integration tests.
#![allow(dead_code)] // each test binary uses its own subset

pub mod onnx;

use highlight_emu::gpu::{AdapterRequest, Gpu};
use highlight_emu::matrix::Matrix;
use highlight_emu::pattern::Pattern;
use proptest::prelude::*;

/// Opens any adapter, software ones included (CI runs on lavapipe). Under `CI=true` a missing
/// adapter fails the test; elsewhere the test is skipped with the reason printed.
pub fn gpu_or_skip(test: &str) -> Option<Gpu> {
    match Gpu::open(&AdapterRequest { name: None, allow_software: true }) {
        Ok(gpu) => {
            eprintln!("{test}: running on {}", gpu.info.name);
            Some(gpu)
        }
        Err(err) if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("{test}: CI=true but no GPU adapter: {err}")
        }
        Err(err) => {
            eprintln!("{test}: SKIPPED, no GPU adapter: {err}");
            None
        }
    }
}

/// Nonempty children of each fiber of each ruled rank of one row, K zero-padded: the list, per
/// rank from rank 0 up, of (occupancy, children that exist before the padding) per fiber.
pub fn fiber_occupancies(row: &[i8], pattern: &Pattern) -> Vec<Vec<(usize, usize)>> {
    let k = row.len();
    let mut ranks = Vec::new();
    let mut child_span = 1;
    for rank in pattern.ruled_ranks().iter().rev() {
        let fiber_span = child_span * rank.h as usize;
        let mut fibers = Vec::new();
        for start in (0..pattern.padded_k(k)).step_by(fiber_span) {
            let mut occupancy = 0;
            let mut existing = 0;
            for child in 0..rank.h as usize {
                let lo = start + child * child_span;
                if lo < k {
                    existing += 1;
                    let hi = (lo + child_span).min(k);
                    occupancy += usize::from(row[lo..hi].iter().any(|&v| v != 0));
                }
            }
            fibers.push((occupancy, existing));
        }
        ranks.push(fibers);
        child_span = fiber_span;
    }
    ranks
}

/// Whether every fiber of `row` holds at most G nonempty children at every ruled rank.
pub fn satisfies(row: &[i8], pattern: &Pattern) -> bool {
    let ruled: Vec<_> = pattern.ruled_ranks().iter().rev().collect();
    fiber_occupancies(row, pattern)
        .iter()
        .zip(ruled)
        .all(|(fibers, rank)| fibers.iter().all(|&(occ, _)| occ <= rank.g as usize))
}

/// A deterministic pseudo-random int8 matrix (values in [-128, 127], zeros included).
pub fn noise(rows: usize, cols: usize, seed: u64) -> Matrix<i8> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let data = (0..rows * cols)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 56) as u8 as i8
        })
        .collect();
    Matrix::from_vec(rows, cols, data)
}

/// Patterns HighLight runs: dense, K0(2:H0) and K1(2:H1)->K0(2:H0), sparser G included.
pub fn highlight_a() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("dense".to_string()),
        (1u32..=2, 2u32..=4).prop_map(|(g, h)| format!("K0({g}:{h})")),
        (1u32..=2, 2u32..=8, 1u32..=2, 2u32..=4)
            .prop_map(|(g1, h1, g0, h0)| format!("K1({g1}:{h1})->K0({g0}:{h0})")),
        Just("K1(4:4)->K0(2:4)".to_string()),
    ]
}

pub fn any_b() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("dense".to_string()),
        (1u32..=100).prop_map(|p| format!("unstructured({})", f64::from(p) / 100.0))
    ]
}
