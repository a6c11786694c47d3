//! Compressed formats (DESIGN.md 5): compress -> decompress is the identity, storage is counted
//! as the format defines it, and an operand that breaks the format's limits is refused.

mod common;

use common::noise;
use highlight_emu::format::{
    BFormat, BlockedCsr, CsrAddresses, FormatError, HierarchicalCp, Storage, TwoRankHss, coord_bits,
};
use highlight_emu::matrix::Matrix;
use highlight_emu::operand::{OperandRole, generate};
use highlight_emu::pattern::Pattern;
use proptest::prelude::*;

fn two_rank() -> impl Strategy<Value = TwoRankHss> {
    (1u32..=8, 1u32..=8, 1u32..=4, 1u32..=4).prop_map(|(g1, h1, g0, h0)| TwoRankHss {
        g1: g1.min(h1),
        h1,
        g0: g0.min(h0),
        h0,
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    /// Ragged K (not a multiple of H1*H0) included.
    #[test]
    fn hierarchical_cp_round_trips(shape in two_rank(), rows in 1usize..6, k in 1usize..80, seed: u64) {
        let p = Pattern::parse(&format!("K1({}:{})->K0({}:{})", shape.g1, shape.h1, shape.g0, shape.h0)).unwrap();
        let a = generate(&p, OperandRole::A, rows, k, seed).unwrap();
        let cp = HierarchicalCp::compress(&a, shape).unwrap();
        prop_assert_eq!(cp.decompress(), a);
        let fibers = k.div_ceil(shape.fiber_span()) as u64;
        let block_slots = rows as u64 * fibers * shape.g1 as u64;
        let value_slots = block_slots * shape.g0 as u64;
        prop_assert_eq!(cp.storage(), Storage {
            value_words: value_slots,
            metadata_bits: block_slots * coord_bits(shape.h1 as usize) + value_slots * coord_bits(shape.h0 as usize),
        });
    }

    #[test]
    fn blocked_csr_round_trips(k in 1usize..80, n in 1usize..8, block in 1usize..=8, density in 0.05f64..=1.0, seed: u64) {
        let b = generate(&Pattern::Unstructured { density }, OperandRole::B, n, k, seed).unwrap();
        let csr = BlockedCsr::compress(&b, block, CsrAddresses::Offsets);
        prop_assert_eq!(csr.decompress(), b.clone());
        let nonzeros = b.occupancy() as u64;
        let blocks = (n * k.div_ceil(block)) as u64;
        prop_assert_eq!(csr.storage(), Storage {
            value_words: nonzeros,
            metadata_bits: nonzeros * coord_bits(block) + (blocks + n as u64) * coord_bits(k + 1),
        });
        prop_assert_eq!(BFormat::BlockedCsr(csr).decompress(), b);
    }
}

/// Figure 9's C1(2:4)->C0(2:4) row: two block slots with K1 coordinates 0 and 2.
#[test]
fn figure9_row_by_hand() {
    let row = Matrix::from_vec(1, 16, vec![1, 0, 2, 0, 0, 0, 0, 0, 0, 3, 0, 4, 0, 0, 0, 0]);
    let shape = TwoRankHss { g1: 2, h1: 4, g0: 2, h0: 4 };
    let cp = HierarchicalCp::compress(&row, shape).unwrap();
    assert_eq!(cp.k1_coord, vec![0, 2]);
    assert_eq!(cp.k0_coord, vec![0, 2, 1, 3]);
    assert_eq!(cp.value, vec![1, 2, 3, 4]);
    // 4 values; 2 K1 coordinates of 2 bits and 4 K0 coordinates of 2 bits.
    assert_eq!(cp.storage(), Storage { value_words: 4, metadata_bits: 12 });
}

/// A sparser fiber is padded with zero-valued slots at the lowest unused coordinates.
#[test]
fn padding_slots_take_unused_coordinates() {
    let row = Matrix::from_vec(1, 8, vec![0, 0, 0, 0, 0, 0, 5, 0]);
    let cp = HierarchicalCp::compress(&row, TwoRankHss { g1: 2, h1: 2, g0: 2, h0: 4 }).unwrap();
    assert_eq!(cp.k1_coord, vec![0, 1]);
    assert_eq!(cp.k0_coord, vec![0, 1, 0, 2]);
    assert_eq!(cp.value, vec![0, 0, 0, 5]);
}

#[test]
fn operands_that_break_the_limits_are_refused() {
    let shape = TwoRankHss { g1: 2, h1: 4, g0: 2, h0: 4 };
    let three_blocks = Matrix::from_vec(1, 16, vec![1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0]);
    assert_eq!(
        HierarchicalCp::compress(&three_blocks, shape).unwrap_err(),
        FormatError::Rank1Occupancy { row: 0, fiber: 0, occupancy: 3, g1: 2 }
    );
    let three_values = Matrix::from_vec(1, 16, vec![0, 0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    let err = HierarchicalCp::compress(&three_values, shape).unwrap_err();
    assert_eq!(err, FormatError::Rank0Occupancy { row: 0, fiber: 0, block: 1, occupancy: 3, g0: 2 });
    assert!(err.to_string().contains("3 nonzeros, but the format holds G0 = 2"));
    assert!(HierarchicalCp::compress(&noise(2, 16, 1), shape).is_err());
}

#[test]
fn dense_b_has_no_metadata() {
    let b = noise(10, 3, 5);
    assert_eq!(BFormat::Dense(b).storage(), Storage { value_words: 30, metadata_bits: 0 });
}
