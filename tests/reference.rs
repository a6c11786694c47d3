//! The CPU reference emulators of HighLight and TC (docs/DESIGN.md 6 to 8): exact Z, cycles by
//! the formula, counters worked by hand, energy accounting.

mod common;

use approx::assert_relative_eq;
use common::{any_b, highlight_a};
use highlight_emu::counters::Counters;
use highlight_emu::design::{Bandwidth, Design};
use highlight_emu::energy::{Ert, evaluate};
use highlight_emu::format::{CsrAddresses, Format};
use highlight_emu::matrix::{Matrix, dense_product};
use highlight_emu::pattern::Pattern;
use highlight_emu::run::{Bound, Compressed, Operands, Prepared, RunResult, Workload, run};
use highlight_emu::search::Search;
use proptest::prelude::*;

/// Runs and evaluates a workload on the CPU reference with the shipped architecture and ERT.
fn reference_run(design: Design, w: &Workload, ops: &Operands) -> (RunResult, Matrix<i32>) {
    run(design, design.arch(), &Ert::default_45nm(), w, ops, None, false, &Search::default()).unwrap()
}

fn workload(m: usize, k: usize, n: usize, a: &str, b: &str, seed: u64) -> Workload {
    Workload { m, k, n, a: Pattern::parse(a).unwrap(), b: Pattern::parse(b).unwrap(), seed }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(40))]

    /// Ragged shapes (M, N, K not multiples of 64, 128, 16 or H1*H0) included.
    #[test]
    fn z_equals_the_dense_product(a in highlight_a(), b in any_b(), m in 1usize..150, k in 1usize..100, n in 1usize..300, seed: u64) {
        let w = workload(m, k, n, &a, &b, seed);
        let ops = w.operands().unwrap();
        let dense = dense_product(&ops.a, &ops.b);
        for design in [Design::Highlight, Design::Tc] {
            let prepared = Prepared::new(design, design.arch(), &w, &ops, (None, None)).unwrap();
            let (z, c) = prepared.run_cpu(&ops);
            prop_assert_eq!(&z, &dense, "{:?} A {} B {}", design, a, b);
            let Compressed::TensorCore { dataflow, b: b_format, .. } = &prepared.compressed else { unreachable!() };
            prop_assert_eq!(c.cycles, dataflow.cycles(m, k, n));
            // Every row group reads B once, in the words and metadata its format stores.
            let groups = m.div_ceil(64) as u64;
            prop_assert_eq!(c.glb_read_b, groups * b_format.storage().value_words);
            prop_assert_eq!(c.glb_read_b_meta_bits, groups * b_format.storage().metadata_bits);
            prop_assert_eq!(c.glb_write_z, 4 * (m * n) as u64);
        }
    }
}

/// For every supported (H1, H0) with evenly dividing shapes: HighLight's array cycles follow
/// docs/DESIGN.md 6 and equal TC's cycles x density(A) = TC x 4 / (H1 H0).
#[test]
fn cycles_follow_the_formula() {
    for h1 in 2..=8usize {
        for h0 in 2..=4usize {
            let window = 4 * h1 * h0;
            let k = window * 16 / gcd(window, 16);
            let (m, n) = (128, 24);
            let w = workload(m, k, n, &format!("K1(2:{h1})->K0(2:{h0})"), "dense", 3);
            let ops = w.operands().unwrap();
            let (hl, _) = reference_run(Design::Highlight, &w, &ops);
            let (tc, _) = reference_run(Design::Tc, &w, &ops);
            // The arrays' cycles (a shape this small is bound by DRAM, which `cycles` includes).
            let (hl_cycles, tc_cycles) = (hl.counters.cycles, tc.counters.cycles);
            assert_eq!(hl_cycles, (m / 64 * n * (k / window)) as u64, "H1 {h1} H0 {h0}");
            assert_eq!(tc_cycles, (m / 64 * n * (k / 16)) as u64);
            assert_eq!(hl_cycles * (h1 * h0) as u64, tc_cycles * 4, "H1 {h1} H0 {h0}");
            assert!(hl.z_equals_dense && tc.z_equals_dense);
        }
    }
}

fn gcd(a: usize, b: usize) -> usize {
    if b == 0 { a } else { gcd(b, a % b) }
}

/// Two rows of K0(2:4) A (one K1 fiber of K1(2:2)->K0(2:4): 2 PEs x 2 MACs) against an
/// 8 x 2 B, every counter worked by hand.
#[test]
fn counters_by_hand() {
    #[rustfmt::skip]
    let a = Matrix::from_vec(2, 8, vec![
        1, 0, 2, 0,   0, 3, 0, 4,   // slots at k = 0, 2, 5, 7: every A slot nonzero
        0, 0, 0, 6,   0, 0, 0, 0,   // 6 at k = 3; padding slots (value 0) at k = 0, 4, 5
    ]);
    #[rustfmt::skip]
    let b = Matrix::from_vec(8, 2, vec![
        5, 0,
        1, 1,
        0, 1,
        7, 0,
        1, 1,
        0, 2,
        1, 1,
        9, 0,
    ]);
    let w = workload(2, 8, 2, "K0(2:4)", "unstructured(0.5)", 0);
    let ops = Operands::new(a, b);
    let csr = (None, Some(Format::BlockedCsr));
    let prepared = Prepared::new(Design::Highlight, Design::Highlight.arch(), &w, &ops, csr).unwrap();
    assert_eq!(prepared.runs_as(), "K1(2:2)->K0(2:4)");
    let (z, c) = prepared.run_cpu(&ops);
    assert_eq!(z, dense_product(&ops.a, &ops.b));
    // Row 0 selects B = (5, 0, 0, 9) for n = 0 and (0, 1, 2, 0) for n = 1: 4 of the 8 selected B
    // values are zero, so 4 MACs are gated. Row 1: its 3 padding slots are gated in both cycles,
    // and its 6 meets B[3] = (7, 0): one MAC, one gated.
    let expected = Counters {
        glb_read_a: 8,            // 4 slots per row
        glb_read_a_meta_bits: 20, // per row 2 PEs x (1 K1 bit + 2 x 2 K0 bits)
        glb_read_b: 11,           // B's nonzeros: 6 + 5
        // 11 offsets x 2 bits + 2 columns x (2 blocks + 1) block offsets x 4 bits (UOP)
        glb_read_b_meta_bits: 46,
        glb_write_z: 16, // 4 outputs x 4 bytes
        pe_reg_write: 8,
        pe_reg_read: 16, // 2 rows x 4 slots x 2 cycles
        vfmu_write: 16,  // 8-word window x 2 cycles
        vfmu_read: 16,
        rank1_mux: 8, // 2 rows x 2 PEs x 2 cycles
        rank0_mux: 16,
        skip_select_mux: 0,
        mac: 4 + 1,
        mac_gated: 4 + 7,
        adder: 16,
        rf_read: 4,
        rf_write: 4,
        cycles: 2, // one row group x N = 2 x one k-step
    };
    assert_eq!(c, expected);
    // With a start and an end address per block: 2 columns x 2 blocks x 2 addresses x 4 bits.
    let mut arch = Design::Highlight.arch();
    arch.formats.blocked_csr_addresses = CsrAddresses::StartEnd;
    let (_, c) = Prepared::new(Design::Highlight, arch, &w, &ops, csr).unwrap().run_cpu(&ops);
    assert_eq!(c, Counters { glb_read_b_meta_bits: 22 + 32, ..expected });
}

#[test]
fn energy_breakdown_sums_to_the_total() {
    let w = workload(70, 90, 130, "K1(2:4)->K0(2:4)", "unstructured(0.6)", 5);
    let ops = w.operands().unwrap();
    for design in [Design::Highlight, Design::Tc] {
        let (r, _) = reference_run(design, &w, &ops);
        let sum: f64 = r.energy_breakdown_pj.values().map(|v| v.as_f64().unwrap()).sum();
        assert_relative_eq!(sum, r.energy_pj, max_relative = 1e-12);
        assert_relative_eq!(r.latency_s, r.cycles as f64 / 1e9, max_relative = 1e-12);
        assert_relative_eq!(r.edp, r.energy_pj * 1e-12 * r.latency_s, max_relative = 1e-12);
        let e = evaluate(&r.counters, &r.hierarchy, r.cycles, &design.arch(), &Ert::default_45nm()).unwrap();
        let mac = e.breakdown_pj.iter().find(|(name, _)| *name == "mac").unwrap().1;
        assert_relative_eq!(mac, r.counters.mac as f64 * 0.5608, max_relative = 1e-12);
    }
}

/// A run takes the arrays' cycles, or the DRAM's or GLB's where moving the traffic at the
/// architecture's bandwidth takes longer: checked against the counts by hand, on a run the arrays
/// bound, one (very sparse DSTC) a memory bounds, and one without bandwidths.
#[test]
fn cycles_are_bounded_by_the_memories_bandwidth() {
    let bw = Bandwidth { dram_read: 32.0, dram_write: 16.0, glb_read: 42.0, glb_write: 42.0 };
    let cases = [
        (Design::Tc, workload(128, 256, 256, "dense", "dense", 3), Some(bw), false),
        (
            Design::Dstc,
            workload(256, 512, 256, "unstructured(0.02)", "unstructured(0.02)", 4),
            Some(bw),
            true,
        ),
        (Design::Dstc, workload(256, 512, 256, "unstructured(0.02)", "unstructured(0.02)", 4), None, false),
    ];
    for (design, w, bandwidth, memory_bound) in cases {
        let ops = w.operands().unwrap();
        let mut arch = design.arch();
        arch.bandwidth = bandwidth;
        let (r, _) =
            run(design, arch, &Ert::default_45nm(), &w, &ops, None, false, &Search::default()).unwrap();
        let h = &r.hierarchy;
        let bytes = |data: u64, bits: u64| data + bits.div_ceil(8);
        let sides = [
            (
                bytes(
                    h.dram_read_a + h.dram_read_b + h.dram_read_z,
                    h.dram_read_a_meta_bits + h.dram_read_b_meta_bits,
                ),
                bw.dram_read,
            ),
            (h.dram_write_z, bw.dram_write),
            (
                bytes(
                    h.glb_read_a + h.glb_read_b + h.glb_read_z,
                    h.glb_read_a_meta_bits + h.glb_read_b_meta_bits,
                ),
                bw.glb_read,
            ),
            (
                bytes(
                    h.glb_fill_a + h.glb_fill_b + h.glb_write_z,
                    h.glb_fill_a_meta_bits + h.glb_fill_b_meta_bits,
                ),
                bw.glb_write,
            ),
        ];
        let memory = sides.iter().map(|&(b, per)| (b as f64 / per).ceil() as u64).max().unwrap();
        let expected = if bandwidth.is_some() { r.counters.cycles.max(memory) } else { r.counters.cycles };
        assert_eq!(r.cycles, expected, "{design:?}");
        assert_eq!(
            r.bound != Bound::Compute,
            memory_bound,
            "{design:?}: {:?}, arrays {} memory {memory}",
            r.bound,
            r.counters.cycles
        );
        assert_relative_eq!(r.latency_s, r.cycles as f64 / 1e9, max_relative = 1e-12);
    }
}

/// The paper: HighLight is at EDP parity with TC on dense layers.
#[test]
fn dense_highlight_is_at_edp_parity_with_tc() {
    let w = workload(256, 256, 256, "dense", "dense", 11);
    let ops = w.operands().unwrap();
    let (hl, _) = reference_run(Design::Highlight, &w, &ops);
    let (tc, _) = reference_run(Design::Tc, &w, &ops);
    assert_eq!(hl.cycles, tc.cycles);
    let ratio = hl.edp / tc.edp;
    assert!((0.9..=1.1).contains(&ratio), "HighLight/TC EDP = {ratio}");
    assert!(hl.edp > tc.edp, "HighLight pays for its SAFs on dense data");
}

#[test]
fn unsupported_a_names_what_highlight_runs() {
    let w = workload(8, 16, 8, "C1(3:4)->C0(2:4)", "dense", 1);
    let ops = w.operands().unwrap();
    let err = Prepared::new(Design::Highlight, Design::Highlight.arch(), &w, &ops, (None, None))
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("HighLight cannot run A = C1(3:4)->C0(2:4)"), "{err}");
    assert!(err.contains("K1(2:H1)->K0(2:H0) with 2 <= H1 <= 8, 2 <= H0 <= 4"), "{err}");
    assert!(err.contains("also satisfies K1(2:2)->K0(2:4)"), "{err}");
    let w = workload(8, 16, 8, "unstructured(0.5)", "dense", 1);
    let err =
        Prepared::new(Design::Highlight, Design::Highlight.arch(), &w, &w.operands().unwrap(), (None, None))
            .err()
            .unwrap()
            .to_string();
    assert!(err.contains("cannot run A = unstructured(0.5)"), "{err}");
    // TC runs every pattern, computing its zeros.
    assert!(Prepared::new(Design::Tc, Design::Tc.arch(), &w, &w.operands().unwrap(), (None, None)).is_ok());
}

/// `--check` names the first differing counter, else the first differing Z element.
#[test]
fn first_difference_names_counter_then_element() {
    use highlight_emu::run::{Emulation, first_difference};
    let emulation = |mac: u64, z0: i32| Emulation {
        z: Matrix::from_vec(1, 2, vec![z0, 7]),
        counters: Counters { mac, cycles: 4, ..Counters::default() },
        wall_ms: 1.0,
        gpu_time_ms: None,
    };
    assert_eq!(first_difference(&emulation(5, 1), &emulation(5, 1)), None);
    assert_eq!(first_difference(&emulation(6, 1), &emulation(5, 2)).unwrap(), "counter mac: GPU 6, CPU 5");
    assert_eq!(first_difference(&emulation(5, 1), &emulation(5, 2)).unwrap(), "Z[0, 0]: GPU 1, CPU 2");
}

/// Each bound's name in results is its serialised form (the CSV and the report use the name).
#[test]
fn bound_names_are_their_serialised_form() {
    for b in [Bound::Compute, Bound::DramRead, Bound::DramWrite, Bound::GlbRead, Bound::GlbWrite] {
        assert_eq!(serde_json::to_value(b).unwrap(), b.id());
    }
}
