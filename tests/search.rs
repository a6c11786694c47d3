//! The search (docs/DESIGN.md 11): every design at its best mapping and representation under one
//! objective. Its invariants: the searched run is at least as good as every choice it could have
//! fixed, the designs with a dense mode never lose to TC by more than that mode's muxes, the
//! objectives trade as they should, and the counters the choice rests on do not depend on it.

use highlight_emu::compare::{Point, PointOperands, compare};
use highlight_emu::degrees::DegreeTable;
use highlight_emu::design::{Bandwidth, Design};
use highlight_emu::energy::Ert;
use highlight_emu::format::Format;
use highlight_emu::mapping::Mapping;
use highlight_emu::pattern::Pattern;
use highlight_emu::run::{Operands, Prepared, RunError, RunResult, Workload, run};
use highlight_emu::search::{Formats, Objective, Search};

fn workload(m: usize, k: usize, n: usize, a: &str, b: &str) -> Workload {
    Workload { m, k, n, a: Pattern::parse(a).unwrap(), b: Pattern::parse(b).unwrap(), seed: 7 }
}

fn cpu(design: Design, w: &Workload, ops: &Operands, search: &Search) -> Result<RunResult, RunError> {
    run(design, design.arch(), &Ert::default_45nm(), w, ops, None, false, search).map(|(r, _)| r)
}

/// The searched run is at most the EDP of every format pair the design allows, each fixed, and
/// of the mapping the energy objective picks, fixed; and it equals one of them exactly.
#[test]
fn the_search_beats_every_choice_it_could_fix() {
    let cases = [
        (Design::Highlight, "K1(2:4)->K0(2:4)", "unstructured(0.25)"),
        (Design::Highlight, "dense", "unstructured(0.75)"),
        (Design::HighlightDsso, "K1(4:4)->K0(2:4)", "K1(2:4)->K0(4:4)"),
        (Design::Dstc, "unstructured(0.5)", "unstructured(0.25)"),
        (Design::Stc, "K0(2:4)", "dense"),
        (Design::Tc, "dense", "unstructured(0.5)"),
        (Design::S2ta, "K0(4:8)", "K0(2:8)"),
    ];
    for (design, a, b) in cases {
        for (m, k, n) in [(128, 1024, 256), (200, 96, 130)] {
            let w = workload(m, k, n, a, b);
            let ops = w.operands().unwrap();
            let searched = cpu(design, &w, &ops, &Search::default()).unwrap();
            let allowed =
                Prepared::new(design, design.arch(), &w, &ops, (None, None)).unwrap().allowed().clone();
            let mut fixed_edps = Vec::new();
            for &af in &allowed[0] {
                for &bf in &allowed[1] {
                    let search = Search { a_format: Some(af), b_format: Some(bf), ..Search::default() };
                    let r = cpu(design, &w, &ops, &search).unwrap();
                    assert_eq!((r.a_format, r.b_format), (Some(af), Some(bf)));
                    assert!(
                        searched.edp <= r.edp * (1.0 + 1e-12),
                        "{design:?} {a} x {b} at {m}x{k}x{n}: searched {} > stored {af}/{bf} {}",
                        searched.edp,
                        r.edp
                    );
                    fixed_edps.push(r.edp);
                }
            }
            assert!(fixed_edps.contains(&searched.edp), "{design:?}: the best fixed pair is the search's");
            let energy_first = Search { objective: Objective::Energy, ..Search::default() };
            let e = cpu(design, &w, &ops, &energy_first).unwrap();
            let mapping = Mapping::parse(&e.mapping, "energy's").unwrap();
            let fixed = Search {
                mapping: Some(mapping),
                a_format: e.a_format,
                b_format: e.b_format,
                ..Search::default()
            };
            let r = cpu(design, &w, &ops, &fixed).unwrap();
            assert!(
                searched.edp <= r.edp * (1.0 + 1e-12),
                "{design:?}: the energy objective's mapping has lower EDP"
            );
            assert!(
                e.energy_pj <= searched.energy_pj * (1.0 + 1e-12),
                "{design:?}: energy objective spends more"
            );
        }
    }
}

/// Every fig13 degree pair, at K = 1024 (where HighLight's blocked-CSR B overflowed the GLB's
/// metadata partition) and at a ragged shape: STC, HighLight and HighLight-DSSO stay within
/// 1.05x TC's EDP, their dense mode costing only muxes.
#[test]
fn dense_modes_never_lose_to_tc_by_more_than_their_muxes() {
    let table = DegreeTable::shipped();
    for (m, k, n) in [(128, 1024, 256), (96, 200, 130)] {
        for a_sparsity in [0.0, 0.5, 0.75] {
            for b_sparsity in [0.0, 0.25, 0.5, 0.75] {
                let operands = PointOperands::Degrees { a_sparsity, b_sparsity };
                let point = Point { m, k, n, seed: 1, operands, layer: None };
                let outcomes = compare(
                    &point,
                    &table,
                    &Ert::default_45nm(),
                    &Search::default(),
                    None,
                    false,
                    None,
                    |_| {},
                )
                .unwrap();
                for o in outcomes {
                    if matches!(o.design, Design::Stc | Design::Highlight | Design::HighlightDsso) {
                        let edp = o.normalised_to_tc.unwrap().edp;
                        assert!(edp <= 1.05, "{:?} at {}: {edp}x TC's EDP", o.design, point.label());
                    }
                }
            }
        }
    }
}

/// Under a bandwidth that bounds some mappings, `delay` takes the fewest cycles, `energy` the
/// least energy, `edp` the least product; each is reported as the objective it ran under.
#[test]
fn objectives_trade_cycles_for_energy() {
    let mut arch = Design::Highlight.arch();
    arch.bandwidth = Some(Bandwidth { dram_read: 8.0, dram_write: 8.0, glb_read: 32.0, glb_write: 32.0 });
    let w = workload(256, 1024, 512, "K1(2:4)->K0(2:4)", "unstructured(0.5)");
    let ops = w.operands().unwrap();
    let by = |objective| {
        let search = Search { objective, ..Search::default() };
        let r = run(Design::Highlight, arch.clone(), &Ert::default_45nm(), &w, &ops, None, false, &search)
            .unwrap()
            .0;
        assert_eq!(r.search.as_ref().unwrap().objective, objective);
        assert!(r.search.as_ref().unwrap().candidates > 1);
        r
    };
    let (edp, energy, delay) = (by(Objective::Edp), by(Objective::Energy), by(Objective::Delay));
    assert!(delay.cycles <= edp.cycles && delay.cycles <= energy.cycles);
    assert!(energy.energy_pj <= edp.energy_pj && energy.energy_pj <= delay.energy_pj);
    assert!(edp.edp <= energy.edp && edp.edp <= delay.edp);
    assert!(edp.bound != highlight_emu::run::Bound::Compute || delay.cycles == edp.counters.cycles);
}

/// The search scores B's formats with one emulation: the counters the energy table charges and
/// the cycles are the same whichever way B is stored; only the GLB fetch counts (not charged) are
/// the format's own.
#[test]
fn charged_counters_do_not_depend_on_bs_format() {
    for (design, a) in [(Design::Highlight, "K1(2:4)->K0(2:4)"), (Design::Highlight, "dense")] {
        let w = workload(130, 300, 70, a, "unstructured(0.3)");
        let ops = w.operands().unwrap();
        let mut p = Prepared::new(design, design.arch(), &w, &ops, (None, None)).unwrap();
        let (_, dense) = p.run_cpu(&ops);
        p.set_formats(Formats { b: Format::BlockedCsr, ..p.formats }, &ops);
        let (_, csr) = p.run_cpu(&ops);
        for ((name, x), (_, y)) in dense.iter().zip(csr.iter()) {
            if !name.starts_with("glb_read_b") {
                assert_eq!(x, y, "{name}");
            }
        }
        assert!(dense.glb_read_b > csr.glb_read_b);
        let e = Ert::default_45nm();
        let energy = |f: Format| {
            let search = Search { b_format: Some(f), ..Search::default() };
            run(design, design.arch(), &e, &w, &ops, None, false, &search).unwrap().0.energy_breakdown_pj
        };
        let (a_bd, b_bd) = (energy(Format::Uncompressed), energy(Format::BlockedCsr));
        for charged in ["mac", "mac_gated", "rank0_mux", "rank1_mux", "vfmu_read", "pe_reg_read"] {
            assert_eq!(a_bd.get(charged), b_bd.get(charged), "{charged}");
        }
    }
}

/// A format the design's hardware cannot read is refused with the ones it can.
#[test]
fn a_fixed_format_the_design_cannot_read_is_refused() {
    let w = workload(64, 64, 64, "K1(2:4)->K0(2:4)", "unstructured(0.5)");
    let ops = w.operands().unwrap();
    let err =
        cpu(Design::Highlight, &w, &ops, &Search { b_format: Some(Format::Bitmask), ..Search::default() })
            .unwrap_err()
            .to_string();
    assert!(err.contains("cannot run B = stored as bitmask"), "{err}");
    assert!(err.contains("uncompressed or blocked-csr"), "{err}");
    let err = cpu(
        Design::Highlight,
        &w,
        &ops,
        &Search { a_format: Some(Format::Uncompressed), ..Search::default() },
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("stored as cp"), "{err}");
}

/// What the search weighs for a machine it did not emulate equals that machine's emulation: DSTC's
/// counters counted from the occupancies for every sub-tile, and the tensor core's scaled from
/// its default column tile to each smaller one.
#[test]
fn counters_the_search_weighs_equal_the_emulation() {
    use highlight_emu::design::Machine;
    for (design, a, b, (m, k, n)) in [
        (Design::Dstc, "unstructured(0.4)", "unstructured(0.3)", (150, 70, 260)),
        (Design::Dstc, "unstructured(0.9)", "dense", (64, 33, 64)),
        (Design::Tc, "dense", "unstructured(0.5)", (70, 90, 300)),
        (Design::Highlight, "K1(2:4)->K0(2:4)", "unstructured(0.5)", (130, 100, 200)),
        (Design::HighlightDsso, "K1(4:4)->K0(2:4)", "K1(2:4)->K0(4:4)", (64, 64, 77)),
    ] {
        let w = workload(m, k, n, a, b);
        let ops = w.operands().unwrap();
        let p = Prepared::new(design, design.arch(), &w, &ops, (None, None)).unwrap();
        let (_, first) = p.run_cpu(&ops);
        let machines = p.machines(n);
        assert!(machines.len() > 1, "{design:?}: one machine");
        for machine in machines {
            let predicted = p.counters_of(&machine, Some(&first), n);
            let mut q = Prepared::new(design, design.arch(), &w, &ops, (None, None)).unwrap();
            q.set_machine(machine);
            let (z, emulated) = q.run_cpu(&ops);
            assert_eq!(&z, ops.dense(), "{design:?} {machine:?}");
            assert_eq!(predicted, emulated, "{design:?} {machine:?}");
            if let Machine::Dstc(d) = machine {
                assert!(d.sub_rows * d.sub_cols <= 2048 && d.sub_rows >= 16 && d.sub_cols >= 16);
            }
        }
    }
}

/// The search ranks candidates by the evaluator's score, the report prints its evaluation: the
/// two agree bit for bit on every mapping tried.
#[test]
fn the_searchs_score_is_the_reports_figure() {
    use highlight_emu::evaluator::Footing;
    use highlight_emu::mapper::{self, Nest};
    let ert = Ert::default_45nm();
    for (design, a, b) in [
        (Design::Tc, "dense", "unstructured(0.5)"),
        (Design::Dstc, "unstructured(0.3)", "unstructured(0.6)"),
        (Design::Highlight, "K1(2:4)->K0(2:4)", "unstructured(0.4)"),
    ] {
        let (m, k, n) = (192, 512, 384);
        let w = workload(m, k, n, a, b);
        let ops = w.operands().unwrap();
        let p = Prepared::new(design, design.arch(), &w, &ops, (None, None)).unwrap();
        let (_, counters) = p.run_cpu(&ops);
        let mut arch = design.arch();
        arch.bandwidth =
            Some(Bandwidth { dram_read: 16.0, dram_write: 16.0, glb_read: 64.0, glb_write: 64.0 });
        let footing = Footing::new(&counters, (m, k, n), &arch, &ert).unwrap();
        let rep = p.representation(p.formats, &counters);
        let nest = Nest::of(&p.machine(), &arch, m, k, n);
        let mut tried = 0;
        for mapping in nest.candidates().filter(|x| mapper::fits(x, &arch, rep.a, rep.b)).take(200) {
            let score = footing.score(&mapping, &rep).unwrap();
            let e = footing.evaluate(&mapping, &rep).unwrap();
            assert_eq!(score.energy_pj.to_bits(), e.evaluation.energy_pj.to_bits(), "{design:?}");
            assert_eq!(score.latency_s.to_bits(), e.evaluation.latency_s.to_bits(), "{design:?}");
            tried += 1;
        }
        assert!(tried > 10, "{design:?}: {tried} mappings");
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(12))]

    /// Random shapes and densities: on a dense A, STC, HighLight and HighLight-DSSO stay within
    /// 1.05x TC's EDP on the same operands, and HighLight's searched run is at most each format
    /// pair it could fix.
    #[test]
    fn random_shapes_keep_the_invariants(
        m in 16usize..200,
        k in 16usize..300,
        n in 16usize..300,
        b_density in 0.05f64..1.0,
        seed in 0u64..1000,
    ) {
        let b = format!("unstructured({b_density:.3})");
        let w = Workload { seed, ..workload(m, k, n, "dense", &b) };
        let ops = w.operands().unwrap();
        let tc = cpu(Design::Tc, &w, &ops, &Search::default()).unwrap();
        for design in [Design::Stc, Design::Highlight, Design::HighlightDsso] {
            let r = cpu(design, &w, &ops, &Search::default()).unwrap();
            proptest::prop_assert!(r.edp <= 1.05 * tc.edp, "{:?} {}x{}x{} B {}: {}x TC", design, m, k, n, b, r.edp / tc.edp);
        }
        let searched = cpu(Design::Highlight, &w, &ops, &Search::default()).unwrap();
        for a_format in [Format::Cp, Format::Uncompressed] {
            for b_format in [Format::Uncompressed, Format::BlockedCsr] {
                let fixed = Search { a_format: Some(a_format), b_format: Some(b_format), ..Search::default() };
                let r = cpu(Design::Highlight, &w, &ops, &fixed).unwrap();
                proptest::prop_assert!(searched.edp <= r.edp * (1.0 + 1e-12));
            }
        }
    }
}

/// An architecture whose lanes are wider than every sub-tile side the search tries (a DSTC of
/// 8192 MACs: 90 lanes) still runs, at its own sub-tile, with Z the dense product.
#[test]
fn a_dstc_wider_than_every_searched_sub_tile_runs_its_own() {
    let mut arch = Design::Dstc.arch();
    (arch.pes_per_row, arch.macs_per_pe) = (64, 4);
    let w = workload(100, 40, 150, "unstructured(0.5)", "unstructured(0.5)");
    let ops = w.operands().unwrap();
    let (r, z) =
        run(Design::Dstc, arch.clone(), &Ert::default_45nm(), &w, &ops, None, false, &Search::default())
            .unwrap();
    assert_eq!(&z, ops.dense());
    let lrf = r.mapping.split("target: LRF").nth(2).unwrap();
    assert!(lrf.contains(&format!("M{} N{}", arch.rows_per_array, arch.tile_n)), "{lrf}");
}
