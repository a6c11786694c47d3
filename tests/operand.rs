//! Operands (DESIGN.md 3): synthetic generation and the paper's pruning rule.

mod common;

use common::{fiber_occupancies, noise, satisfies};
use highlight_emu::matrix::Matrix;
use highlight_emu::operand::{OperandRole, generate, prune};
use highlight_emu::pattern::{Pattern, RuledRank};
use proptest::prelude::*;

fn hss() -> impl Strategy<Value = Pattern> {
    prop::collection::vec((1u32..=8, 1u32..=8), 1..=3).prop_map(|rules| Pattern::Hss {
        prefix: vec![],
        ruled: rules
            .iter()
            .enumerate()
            .map(|(i, &(g, h))| RuledRank { name: format!("K{}", rules.len() - 1 - i), g: g.min(h), h })
            .collect(),
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Every fiber of every ruled rank holds exactly G nonempty children (or all of them where
    /// the K padding leaves fewer), so K a multiple of the block gives exactly the target density.
    #[test]
    fn hss_operands_hold_exactly_g_per_fiber(p in hss(), rows in 1usize..6, blocks in 1usize..4, extra in 0usize..9, seed: u64) {
        let span = p.block_shape();
        for (k, exact) in [(blocks * span, true), (blocks * span + extra % span, extra % span == 0)] {
            let a = generate(&p, OperandRole::A, rows, k, seed).unwrap();
            prop_assert_eq!((a.rows, a.cols), (rows, k));
            for r in 0..rows {
                let ranks = fiber_occupancies(a.row(r), &p);
                let top = ranks.len() - 1;
                for (n, (fibers, rank)) in ranks.iter().zip(p.ruled_ranks().iter().rev()).enumerate() {
                    for &(occupancy, existing) in fibers {
                        // Below the top rank, a fiber its parent did not choose is empty.
                        let full = (rank.g as usize).min(existing);
                        prop_assert!(occupancy == full || (n < top && occupancy == 0));
                    }
                }
            }
            if exact {
                let expected = p.density().unwrap() * (rows * k) as f64;
                prop_assert_eq!(a.occupancy() as f64, expected.round());
            }
        }
    }

    /// B's columns carry the structure along K.
    #[test]
    fn operand_b_columns_carry_the_pattern(p in hss(), n in 1usize..6, k in 1usize..40, seed: u64) {
        let b = generate(&p, OperandRole::B, n, k, seed).unwrap();
        prop_assert_eq!((b.rows, b.cols), (k, n));
        let columns = b.transpose();
        for c in 0..n {
            prop_assert!(satisfies(columns.row(c), &p));
        }
    }

    #[test]
    fn unstructured_has_exact_occupancy(density in 0.01f64..=1.0, rows in 1usize..20, k in 1usize..50, seed: u64) {
        let p = Pattern::Unstructured { density };
        let a = generate(&p, OperandRole::A, rows, k, seed).unwrap();
        prop_assert_eq!(a.occupancy(), (density * (rows * k) as f64).round() as usize);
        prop_assert!(a.data.iter().all(|&v| v != -128));
    }

    /// Pruning any matrix gives one that satisfies the pattern and keeps what it keeps unchanged;
    /// on a matrix without zeros and whole fibers the density is exactly the target.
    #[test]
    fn pruning_satisfies_the_pattern(p in hss(), rows in 1usize..5, k in 1usize..70, seed: u64) {
        let dense = noise(rows, k, seed);
        let pruned = prune(&dense, &p).unwrap();
        for r in 0..rows {
            prop_assert!(satisfies(pruned.row(r), &p));
        }
        for (&kept, &orig) in pruned.data.iter().zip(&dense.data) {
            prop_assert!(kept == 0 || kept == orig);
        }
        let full = Matrix::from_vec(rows, p.block_shape(), vec![3i8; rows * p.block_shape()]);
        let expected = p.density().unwrap() * full.data.len() as f64;
        prop_assert_eq!(prune(&full, &p).unwrap().occupancy() as f64, expected.round());
    }
}

#[test]
fn dense_operands_have_no_zeros_and_values_in_range() {
    let a = generate(&Pattern::Dense, OperandRole::A, 64, 64, 7).unwrap();
    assert_eq!(a.occupancy(), 64 * 64);
    assert!(a.data.iter().all(|&v| (-127..=127).contains(&v)));
    assert!(a.data.contains(&127) && a.data.contains(&-127));
}

/// The same seed gives the same operand on every machine (ChaCha8 streams are specified bit for
/// bit); A and B of one seed differ. The literal values pin the stream against silent changes.
#[test]
fn seeds_are_reproducible() {
    let p = Pattern::parse("C1(2:4)->C0(2:4)").unwrap();
    let a = generate(&p, OperandRole::A, 8, 32, 42).unwrap();
    assert_eq!(a, generate(&p, OperandRole::A, 8, 32, 42).unwrap());
    assert_ne!(a, generate(&p, OperandRole::A, 8, 32, 43).unwrap());
    let b = generate(&p, OperandRole::B, 8, 32, 42).unwrap().transpose();
    assert_ne!(a, b);
    assert_eq!(a.row(0), PINNED_ROW);
}

const PINNED_ROW: &[i8] = &[
    -58, 0, 0, 109, 0, 0, 0, 0, 0, -67, 74, 0, 0, 0, 0, 0, //
    42, -50, 0, 0, 0, -45, 0, 61, 0, 0, 0, 0, 0, 0, 0, 0,
];

fn prune_i8(pattern: &str, rows: usize, values: &[i8]) -> Matrix<i8> {
    let m = Matrix::from_vec(rows, values.len() / rows, values.to_vec());
    prune(&m, &Pattern::parse(pattern).unwrap()).unwrap()
}

/// C1(2:4)->C0(2:4) worked by hand: rank 0 keeps the two largest |values| of each block (ties:
/// lower coordinate), rank 1 keeps the two blocks of largest mean |value|.
#[test]
fn prune_two_rank_by_hand() {
    #[rustfmt::skip]
    let input = [
        1, -5, 3, 0,   7, 7, 7, 1,   2, 2, 0, 0,   -4, 4, 0, 9,
        1, 1, 1, 1,    1, 1, 1, 1,   1, 1, 1, 1,   1, 1, 1, 1,
    ];
    // Row 0 block means after rank 0: 2, 3.5, 1, 3.25 -> keep blocks 1 and 3.
    // Row 1: every mean is 0.5 -> the two lowest blocks.
    #[rustfmt::skip]
    let expected = [
        0, 0, 0, 0,    7, 7, 0, 0,   0, 0, 0, 0,   -4, 0, 0, 9,
        1, 1, 0, 0,    1, 1, 0, 0,   0, 0, 0, 0,   0, 0, 0, 0,
    ];
    assert_eq!(prune_i8("C1(2:4)->C0(2:4)", 2, &input).data, expected);
}

/// The paper's figure 5 pattern RS->C2->C1(3:4)->C0(2:4) (density 0.375) on one C1 fiber.
#[test]
fn prune_figure5_by_hand() {
    let input = [8, 1, 2, 7, -3, 3, -3, 3, 0, 0, 0, 1, 5, -6, 4, 0];
    // Rank 0: [8,0,0,7] [-3,3,0,0] [0,0,0,1] [5,-6,0,0]; means 3.75, 1.5, 0.25, 2.75.
    // Rank 1 (3:4) drops block 2.
    let expected = [8, 0, 0, 7, -3, 3, 0, 0, 0, 0, 0, 0, 5, -6, 0, 0];
    let pruned = prune_i8("RS->C2->C1(3:4)->C0(2:4)", 1, &input);
    assert_eq!(pruned.data, expected);
    assert_eq!(pruned.density(), 0.375);
}

/// float32 weights prune by the same rule and keep their exact values; K not a multiple of the
/// block is zero-padded (the last block has two real coordinates).
#[test]
fn prune_float32_with_padding() {
    let input = Matrix::from_vec(1, 6, vec![0.5f32, -2.25, 1.0, 0.125, -0.75, 0.25]);
    let pruned = prune(&input, &Pattern::parse("K0(1:4)").unwrap()).unwrap();
    assert_eq!(pruned.data, vec![0.0, -2.25, 0.0, 0.0, -0.75, 0.0]);
    let nan = Matrix::from_vec(1, 2, vec![f32::NAN, 1.0]);
    assert!(prune(&nan, &Pattern::Dense).unwrap_err().to_string().contains("NaN"));
}

#[test]
fn unconstrained_patterns_are_refused_with_a_reason() {
    let p = Pattern::parse("C(unconstrained)->R->S").unwrap();
    let err = generate(&p, OperandRole::A, 2, 2, 1).unwrap_err().to_string();
    assert!(err.contains("unconstrained") && err.contains("unstructured(d)"), "{err}");
}
