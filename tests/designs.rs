//! The designs HighLight is compared with (docs/DESIGN.md 7): exact Z for every design, and the
//! structural facts of docs/DESIGN.md 9.

use approx::assert_relative_eq;
use highlight_emu::compare::{Point, PointOperands, compare};
use highlight_emu::degrees::DegreeTable;
use highlight_emu::design::Design;
use highlight_emu::energy::Ert;
use highlight_emu::matrix::{Matrix, dense_product};
use highlight_emu::pattern::Pattern;
use highlight_emu::run::{Operands, Order, Prepared, RunError, RunResult, Workload, run_best_order};
use highlight_emu::search::Search;
use proptest::prelude::*;

fn workload(m: usize, k: usize, n: usize, a: &str, b: &str, seed: u64) -> Workload {
    Workload { m, k, n, a: Pattern::parse(a).unwrap(), b: Pattern::parse(b).unwrap(), seed }
}

fn best(design: Design, w: &Workload, ops: &Operands, swap: bool) -> Result<RunResult, RunError> {
    run_best_order(
        design,
        &design.arch(),
        &Ert::default_45nm(),
        w,
        ops,
        None,
        false,
        swap,
        &Search::default(),
    )
    .map(|(r, _)| r)
}

/// A pattern each design runs, with a B it runs.
fn design_case() -> impl Strategy<Value = (Design, String, String)> {
    let unstructured_b = (1u32..=100).prop_map(|p| format!("unstructured({})", f64::from(p) / 100.0));
    prop_oneof![
        (
            prop_oneof![Just("dense".to_string()), (1u32..=2).prop_map(|g| format!("K0({g}:4)"))],
            unstructured_b.clone()
        )
            .prop_map(|(a, b)| (Design::Stc, a, b)),
        ((1u32..=100), unstructured_b.clone()).prop_map(|(p, b)| (
            Design::Dstc,
            format!("unstructured({})", f64::from(p) / 100.0),
            b
        )),
        ((1u32..=4), (1u32..=8)).prop_map(|(ga, gb)| (
            Design::S2ta,
            format!("K0({ga}:8)"),
            format!("K0({gb}:8)")
        )),
        ((2u32..=8), (2u32..=4), (1u32..=2)).prop_map(|(h1, h0, g)| (
            Design::HighlightDsso,
            format!("K1({h1}:{h1})->K0({g}:{h0})"),
            format!("K1({g}:{h1})->K0({h0}:{h0})")
        )),
        (Just("K1(2:4)->K0(2:4)".to_string()), unstructured_b).prop_map(|(a, b)| (
            Design::HighlightDsso,
            a,
            b
        )),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Ragged shapes included: not multiples of any tile.
    #[test]
    fn every_design_computes_the_dense_product(case in design_case(), m in 1usize..140, k in 1usize..90, n in 1usize..140, seed: u64) {
        let (design, a, b) = case;
        let w = workload(m, k, n, &a, &b, seed);
        let ops = w.operands().unwrap();
        let prepared = Prepared::new(design, design.arch(), &w, &ops, (None, None)).unwrap();
        let (z, c) = prepared.run_cpu(&ops);
        prop_assert_eq!(z, dense_product(&ops.a, &ops.b), "{:?} A {} B {}", design, a, b);
        prop_assert_eq!(c.glb_write_z, 4 * (m * n) as u64);
    }
}

#[test]
fn stc_is_never_more_than_twice_as_fast_as_tc() {
    for a in ["dense", "K0(2:4)", "K0(1:4)", "K1(2:4)->K0(2:4)", "K1(2:8)->K0(1:4)"] {
        let w = workload(128, 256, 64, a, "unstructured(0.3)", 2);
        let ops = w.operands().unwrap();
        let stc = best(Design::Stc, &w, &ops, true).unwrap();
        let tc = best(Design::Tc, &w, &ops, true).unwrap();
        assert!(stc.cycles * 2 >= tc.cycles, "A {a}: STC {} vs TC {} cycles", stc.cycles, tc.cycles);
        assert!(stc.z_equals_dense);
    }
    let w = workload(128, 256, 64, "K0(2:4)", "dense", 2);
    let ops = w.operands().unwrap();
    assert_eq!(
        best(Design::Stc, &w, &ops, false).unwrap().cycles * 2,
        best(Design::Tc, &w, &ops, false).unwrap().cycles
    );
}

#[test]
fn s2ta_refuses_dense_times_dense_even_swapped() {
    let w = workload(64, 64, 64, "dense", "dense", 1);
    let err = best(Design::S2ta, &w, &w.operands().unwrap(), true).err().unwrap().to_string();
    assert!(err.contains("S2TA cannot run A = dense"), "{err}");
    // With a G:8 B, swapping makes it runnable.
    let w = workload(64, 64, 64, "dense", "K0(4:8)", 1);
    let r = best(Design::S2ta, &w, &w.operands().unwrap(), true).unwrap();
    assert_eq!(r.order, Order::Swapped);
    assert!(r.z_equals_dense);
}

/// Time-unrolled B: S2TA's cycles are TC's x G_B / 8 on evenly dividing shapes; A's structure
/// does not change them.
#[test]
fn s2ta_cycles_follow_b() {
    for (a, b, g_b) in [("K0(4:8)", "dense", 8), ("K0(2:8)", "K0(6:8)", 6), ("K0(1:8)", "K0(2:8)", 2)] {
        let w = workload(128, 64, 32, a, b, 3);
        let ops = w.operands().unwrap();
        let s2ta = best(Design::S2ta, &w, &ops, false).unwrap();
        let tc = best(Design::Tc, &w, &ops, false).unwrap();
        assert_eq!(s2ta.cycles * 8, tc.cycles * g_b, "A {a} B {b}");
    }
}

#[test]
fn dstc_pays_a_sparsity_tax_on_dense_operands() {
    let w = workload(128, 128, 128, "dense", "dense", 4);
    let ops = w.operands().unwrap();
    let dstc = best(Design::Dstc, &w, &ops, false).unwrap();
    let tc = best(Design::Tc, &w, &ops, false).unwrap();
    assert_eq!(dstc.cycles, tc.cycles);
    assert!(dstc.energy_pj > tc.energy_pj, "DSTC {} pJ, TC {} pJ", dstc.energy_pj, tc.energy_pj);
    // Every product is a read-modify-write of the accumulation buffer.
    assert_eq!(dstc.counters.rf_read, dstc.counters.mac);
    assert_eq!(dstc.counters.mac, 128 * 128 * 128);
}

/// The same number of A nonzeros, crowded into one array's 32 rows or spread over all 64: the
/// crowded arrays are the slowest and the tile waits for them.
#[test]
fn dstc_cycles_come_from_the_data() {
    let (m, k, n) = (64, 64, 64);
    let crowded = Matrix::from_vec(m, k, (0..m * k).map(|i| if i / k < 32 { 1 } else { 0 }).collect());
    let spread =
        Matrix::from_vec(m, k, (0..m * k).map(|i| if (i / k + i % k) % 2 == 0 { 1 } else { 0 }).collect());
    assert_eq!(crowded.occupancy(), spread.occupancy());
    let b = Matrix::from_vec(k, n, vec![1i8; k * n]);
    let w = workload(m, k, n, "unstructured(0.5)", "dense", 0);
    // The architecture's own 32 x 64 sub-tile (the search may choose another).
    let cycles = |a: &Matrix<i8>| {
        let ops = Operands::new(a.clone(), b.clone());
        let prepared = Prepared::new(Design::Dstc, Design::Dstc.arch(), &w, &ops, (None, None)).unwrap();
        prepared.run_cpu(&ops).1.cycles
    };
    // Per k, the top array's 32 x 64 sub-tile against B's 64 nonzeros (4 vectors of 16): crowded,
    // 32 A nonzeros (2 vectors) in it, 8 cycles; spread, 16 in each array (1 vector), 4.
    assert_eq!(cycles(&crowded), 64 * 8);
    assert_eq!(cycles(&spread), 64 * 4);
}

#[test]
fn dual_side_is_twice_as_fast_as_highlight() {
    let w = workload(128, 128, 64, "K1(4:4)->K0(2:4)", "K1(2:4)->K0(4:4)", 5);
    let ops = w.operands().unwrap();
    let dsso = best(Design::HighlightDsso, &w, &ops, false).unwrap();
    let hl = best(Design::Highlight, &w, &ops, false).unwrap();
    let tc = best(Design::Tc, &w, &ops, false).unwrap();
    assert_eq!(hl.cycles * 2, dsso.cycles * 4);
    assert_eq!(dsso.cycles * 4, tc.cycles);
    assert!(dsso.a_runs_as.starts_with("dual-side"));
    assert!(dsso.z_equals_dense && hl.z_equals_dense);
    assert!(dsso.counters.skip_select_mux > 0);
}

#[test]
fn support_errors_name_the_forms() {
    let cases = [
        (Design::Stc, "K0(3:4)", "dense", "STC cannot run A = K0(3:4)"),
        (
            Design::S2ta,
            "K0(4:8)",
            "unstructured(0.5)",
            "S2TA cannot run B = unstructured(0.5): S2TA runs B = dense or K0(G:8)",
        ),
        (Design::HighlightDsso, "unstructured(0.5)", "dense", "dual-side"),
    ];
    for (design, a, b, fragment) in cases {
        let w = workload(8, 16, 8, a, b, 1);
        let err = Prepared::new(design, design.arch(), &w, &w.operands().unwrap(), (None, None))
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains(fragment), "{err}");
    }
}

/// `compare`: every design on one point, normalised to TC; S2TA unsupported on dense x dense;
/// HighLight's EDP the lowest on a sparse point.
#[test]
fn compare_normalises_to_tc() {
    let table = DegreeTable::shipped();
    let degrees = |a_sparsity, b_sparsity| PointOperands::Degrees { a_sparsity, b_sparsity };
    let point = Point { m: 128, k: 128, n: 128, seed: 1, operands: degrees(0.0, 0.0), layer: None };
    let outcomes =
        compare(&point, &table, &Ert::default_45nm(), &Search::default(), None, false, None, |_| {}).unwrap();
    assert_eq!(outcomes.len(), 6);
    let s2ta = outcomes.iter().find(|o| o.design == Design::S2ta).unwrap();
    assert!(s2ta.unsupported.as_ref().unwrap().contains("in either operand order"));
    let tc = outcomes.iter().find(|o| o.design == Design::Tc).unwrap().normalised_to_tc.clone().unwrap();
    assert_eq!((tc.cycles, tc.energy, tc.edp, tc.speedup), (1.0, 1.0, 1.0, 1.0));

    let point = Point { operands: degrees(0.75, 0.5), ..point };
    let outcomes =
        compare(&point, &table, &Ert::default_45nm(), &Search::default(), None, false, None, |_| {}).unwrap();
    let edp =
        |d: Design| outcomes.iter().find(|o| o.design == d).unwrap().normalised_to_tc.as_ref().unwrap().edp;
    for other in [Design::Tc, Design::Stc, Design::Dstc, Design::S2ta] {
        assert!(edp(Design::Highlight) < edp(other), "{other:?}");
    }
    let err = compare(
        &Point { operands: degrees(0.3, 0.5), ..point },
        &table,
        &Ert::default_45nm(),
        &Search::default(),
        None,
        false,
        None,
        |_| {},
    )
    .err()
    .unwrap()
    .to_string();
    assert!(err.contains("A sparsity 0.3 is not in the degree table; it has: 0, 0.5, 0.75"), "{err}");
}

/// Figure 6: HighLight's per-rank limits give 15 degrees from 0 to 87.5 %, with G x H_max mux
/// inputs per rank (2 x 8 + 2 x 4) against 4 x 32 for one rank of the same flexibility.
#[test]
fn highlight_supports_fifteen_degrees() {
    let s = highlight_emu::degrees::supported(Design::Highlight, &Design::Highlight.arch());
    assert_eq!(s.degrees.len(), 15);
    assert_eq!(s.degrees.first().unwrap().0, 0.0);
    assert_eq!(s.degrees.last().unwrap().0, 0.875);
    assert_eq!((s.mux_inputs(), s.one_rank_mux_inputs()), (24, 128));
    let stc = highlight_emu::degrees::supported(Design::Stc, &Design::Stc.arch());
    let sparsities: Vec<f64> = stc.degrees.iter().map(|d| d.0).collect();
    assert_eq!(sparsities, [0.0, 0.5, 0.75]);
    assert!(highlight_emu::degrees::supported(Design::Dstc, &Design::Dstc.arch()).any);
}

/// `bench` measures what it says: S2TA has no dense point; figures are per second of the median.
#[test]
fn bench_measures_throughput() {
    use highlight_emu::bench::measure;
    assert!(measure(Design::S2ta, 64, 0.0, None, 1).unwrap().is_none());
    let r = measure(Design::Highlight, 64, 0.75, None, 2).unwrap().unwrap();
    assert_eq!((r.size, r.repeats, r.a.as_str()), (64, 2, "K1(2:4)->K0(2:4)"));
    assert!(r.gpu_ms.is_none() && r.wall_ms > 0.0);
    let seconds = r.wall_ms * 1e-3;
    assert_relative_eq!(r.dense_equivalent_macs_per_s * seconds, 64.0f64.powi(3), max_relative = 1e-9);
    // HighLight on a 75 %-sparse A performs a quarter of the dense MACs (B is dense).
    assert_relative_eq!(r.effectual_macs_per_s / r.dense_equivalent_macs_per_s, 0.25, max_relative = 1e-9);
}
