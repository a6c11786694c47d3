//! The HSS design space (docs/DESIGN.md 12): design files, degrees and mux cost by structure, and
//! the N-rank engine, checked bit for bit against the machines it generalises.

mod common;

use common::{any_b, gpu_or_skip, highlight_a};
use highlight_emu::counters::HssCounters;
use highlight_emu::design::Design;
use highlight_emu::format::{BFormat, NRankCp};
use highlight_emu::hss::{HssArch, support};
use highlight_emu::matrix::{Matrix, dense_product};
use highlight_emu::pattern::Pattern;
use highlight_emu::reference::hss::run;
use highlight_emu::run::hss::HssPrepared;
use highlight_emu::run::{Compressed, GpuBackend, Operands, Prepared, Workload};
use proptest::prelude::*;

fn workload(m: usize, k: usize, n: usize, a: &str, b: &str, seed: u64) -> Workload {
    Workload { m, k, n, a: Pattern::parse(a).unwrap(), b: Pattern::parse(b).unwrap(), seed }
}

/// Runs `w` on the HSS design with B stored as `b_format` (the same as the old machine's).
fn run_hss(hss: &HssArch, w: &Workload, ops: &Operands, b_format: &BFormat) -> (Matrix<i32>, HssCounters) {
    let df = hss.dataflow(&w.a, &w.b).unwrap();
    let a = NRankCp::compress(&ops.a, &df.a_tree()).unwrap();
    let b_columns = df.b_tree().map(|tree| NRankCp::compress(&ops.b.transpose(), &tree).unwrap());
    let dense_view = BFormat::Dense(ops.b.clone());
    let b_format = if b_columns.is_some() { &dense_view } else { b_format };
    run(&df, &a, &ops.b, b_format, b_columns.as_ref())
}

fn shipped(name: &str) -> HssArch {
    HssArch::shipped(name).unwrap()
}

#[test]
fn s_and_ss_have_fifteen_degrees_and_ss_muxes_cost_less_than_half() {
    let (s, ss, sss) = (support(&shipped("s")), support(&shipped("ss")), support(&shipped("sss")));
    let within =
        |d: &[highlight_emu::hss::cost::Degree]| d.iter().filter(|d| d.sparsity <= 0.875 + 1e-9).count();
    assert_eq!((s.a_degrees.len(), within(&s.a_degrees)), (15, 15));
    assert_eq!((ss.a_degrees.len(), within(&ss.a_degrees)), (15, 15));
    assert!(within(&sss.a_degrees) >= 15, "{:?}", sss.a_degrees);
    // S: 64 rows x 8 PEs x 2 MACs of 16-to-1 (15 cells each). SS: 64 x 8 PEs of 8-to-1 (7) and
    // 64 x 16 MACs of 4-to-1 (3).
    assert_eq!(s.cells(), 1024 * 15);
    assert_eq!(ss.cells(), 512 * 7 + 1024 * 3);
    assert!(s.cells() as f64 / ss.cells() as f64 > 2.0);
    assert!(sss.cells() < ss.cells());
    // Energy: a select costs H_max inputs, as HighLight's rank muxes today.
    assert_eq!(ss.inputs_per_cycle(), 512 * 8 + 1024 * 4);
    assert_eq!(ss.a_degrees.last().unwrap().patterns, vec!["K1(2:8)->K0(2:4)".to_string()]);
}

#[test]
fn bad_design_files_are_refused_with_the_rule() {
    let base = include_str!("../assets/arch/hss/ss.toml");
    let cases = [
        (
            base.replace("macs_per_pe = 2", "macs_per_pe = 4"),
            "macs_per_pe = 4 must equal the PE-level ranks' slots per fiber (2",
        ),
        (
            base.replace("h = [2, 3, 4]\n", "h = [4, 3]\n"),
            "rank 0 ([[ranks]] entry 2): h must list supported H values in ascending order",
        ),
        (
            base.replace("g = 2\nh = [2, 3, 4]", "g = 3\nh = [2, 3, 4]"),
            "a skip SAF needs g with 1 <= g <= the smallest h (2)",
        ),
        (
            base.replace("level = \"array\"", "LEVEL")
                .replace("level = \"pe\"", "level = \"array\"")
                .replace("LEVEL", "level = \"pe\""),
            "rank 0 is at the array level below rank 1 at the PE level",
        ),
        (
            base.replace("saf = \"skip\"\nlevel = \"pe\"", "saf = \"skip\"\nlevel = \"pe\"\noperand = \"b\""),
            "only the outermost rank may be driven by B",
        ),
        (base.replace("h = [2, 3, 4, 5, 6, 7, 8]", "h = [2, 17]"), "each 1 to 16"),
        (
            base.replace("saf = \"skip\"\nlevel = \"pe\"", "saf = \"skap\"\nlevel = \"pe\""),
            "unknown variant `skap`",
        ),
    ];
    for (text, want) in cases {
        let err = HssArch::parse(&text, "x.toml").unwrap_err().to_string();
        assert!(err.starts_with("architecture file x.toml: "), "{err}");
        assert!(err.contains(want), "{err}\nwants {want}");
    }
    let five =
        base.replace("[b]", &("[[ranks]]\nh = [1]\nsaf = \"none\"\nlevel = \"pe\"\n\n".repeat(3) + "[b]"));
    assert!(HssArch::parse(&five, "x.toml").unwrap_err().to_string().contains("needs 1 to 4 [[ranks]]"));
}

/// The old machine's run and the HSS file's, which must agree bit for bit.
fn compare(design: Design, file: &str, w: &Workload) -> Result<(), TestCaseError> {
    let ops = w.operands().unwrap();
    let dense = dense_product(&ops.a, &ops.b);
    let prepared = Prepared::new(design, design.arch(), w, &ops, (None, None)).unwrap();
    let (z_old, c_old) = prepared.run_cpu(&ops);
    let Compressed::TensorCore { dataflow, b: b_format, .. } = &prepared.compressed else { unreachable!() };
    let hss = shipped(file);
    let (z, c) = run_hss(&hss, w, &ops, b_format);
    prop_assert_eq!(&z_old, &dense);
    prop_assert_eq!(&z, &dense, "{} A {} B {}", file, w.a, w.b);
    prop_assert_eq!(c.counters, c_old, "{} A {} B {}", file, w.a, w.b);
    let df = hss.dataflow(&w.a, &w.b).unwrap();
    prop_assert_eq!(c.counters.cycles, df.cycles(w.m, w.k, w.n));
    prop_assert_eq!(df.cycles(w.m, w.k, w.n), dataflow.cycles(w.m, w.k, w.n));
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    /// HighLight, TC and STC as files: Z and every counter equal to today's machines, ragged
    /// shapes included, B dense or unstructured (stored as the old machine stores it).
    #[test]
    fn tc_stc_and_highlight_files_match_their_machines(a in highlight_a(), b in any_b(), m in 1usize..100, k in 1usize..80, n in 1usize..150, seed: u64) {
        let w = workload(m, k, n, &a, &b, seed);
        compare(Design::Highlight, "ss", &w)?;
        compare(Design::Tc, "tc", &w)?;
        if Design::Stc.machine(&Design::Stc.arch(), &w.a, &w.b).is_ok() {
            compare(Design::Stc, "stc", &w)?;
        }
    }

    /// HighLight-DSSO as a file, in both modes: B driving Rank1 (B = K1(2:H1)->K0(H0:H0)) and A
    /// driving both ranks.
    #[test]
    fn dsso_file_matches_highlight_dsso(h1 in 2u32..=8, g0 in 1u32..=2, h0 in 2u32..=4, dual: bool, m in 1usize..60, k in 1usize..80, n in 1usize..90, seed: u64) {
        let (a, b) = if dual {
            (format!("K0({g0}:{h0})"), format!("K1(2:{h1})->K0({h0}:{h0})"))
        } else {
            (format!("K1(2:{h1})->K0({g0}:{h0})"), "unstructured(0.6)".to_string())
        };
        compare(Design::HighlightDsso, "dsso", &workload(m, k, n, &a, &b, seed))?;
    }
}

/// SSS's three ranks: Z exact, cycles the dense cycles over the product of H/G, metadata each
/// rank's coordinates.
#[test]
fn three_ranks_run_exactly_at_every_degree() {
    let sss = shipped("sss");
    for (h2, h1, h0) in [(2, 2, 2), (6, 4, 3), (3, 2, 3), (5, 3, 2)] {
        let a = format!("K2(2:{h2})->K1(2:{h1})->K0(2:{h0})");
        let w = workload(70, 4 * h2 * h1 * h0 as usize, 130, &a, "unstructured(0.5)", 7);
        let ops = w.operands().unwrap();
        let (z, c) = run_hss(&sss, &w, &ops, &BFormat::Dense(ops.b.clone()));
        assert_eq!(z, dense_product(&ops.a, &ops.b), "{a}");
        // 2 fibers of H2*H1*H0 per k-step: 4 fibers = 2 k-steps; 70 rows = 2 groups of 64.
        assert_eq!(c.counters.cycles, 2 * 130 * 2, "{a}");
        // Each rank selects once per slot per cycle: rank2 4, rank1 8, rank0 16 per row.
        let cycles_per_row = 2 * 130;
        assert_eq!(
            c.ranks.iter().map(|r| r.mux).collect::<Vec<_>>(),
            [4, 8, 16].map(|s| 70 * s * cycles_per_row as u64)
        );
    }
}

/// SS-gate: Rank1 skips, Rank0 gates in the PE: each PE holds a whole K0 block, and a MAC whose
/// child at Rank0 (its value) is empty is gated there; cycles fall with Rank1 only.
#[test]
fn gating_rank_counts_its_empty_children() {
    let gate = shipped("ss-gate");
    for (a, n) in [("K1(2:4)->K0(1:4)", 128), ("K1(2:4)->K0(4:4)", 8), ("K1(1:4)->K0(3:4)", 5)] {
        let w = workload(64, 64, n, a, "unstructured(0.3)", 3);
        let mut ops = w.operands().unwrap();
        // Empty the first block of every row: some fibers keep fewer than G1 = 2 blocks.
        for row in 0..64 {
            ops.a.data[row * 64..row * 64 + 4].fill(0);
        }
        let ops = Operands::new(ops.a, ops.b);
        let (z, c) = run_hss(&gate, &w, &ops, &BFormat::Dense(ops.b.clone()));
        assert_eq!(z, dense_product(&ops.a, &ops.b), "{a}");
        // 4 PEs per row x 4 MACs: a fiber of 16 K in 2 PEs, 2 fibers per step.
        assert_eq!(c.counters.cycles, (n * 2) as u64, "{a}");
        // Counted independently: each fiber's 2 block slots hold its nonempty blocks, then
        // padding blocks; every zero in them is an empty Rank0 child.
        let mut zeros_kept = 0;
        for row in 0..64 {
            for fiber in ops.a.row(row).chunks(16) {
                let nonempty: Vec<&[i8]> = fiber.chunks(4).filter(|b| b.iter().any(|&v| v != 0)).collect();
                zeros_kept += nonempty.iter().map(|b| b.iter().filter(|&&v| v == 0).count()).sum::<usize>();
                zeros_kept += 4 * (2 - nonempty.len());
            }
        }
        assert_eq!(c.ranks[1].gated, (zeros_kept * n) as u64, "{a}");
        let b_nonzeros = |k: usize| ops.b.row(k).iter().filter(|&&v| v != 0).count();
        let effectual: usize = (0..64)
            .flat_map(|r| (0..64).map(move |k| (r, k)))
            .filter(|&(r, k)| ops.a.get(r, k) != 0)
            .map(|(_, k)| b_nonzeros(k))
            .sum();
        assert_eq!(c.counters.mac, effectual as u64, "{a}");
        assert_eq!(c.counters.mac + c.counters.mac_gated, (64 * 4 * 8 * n) as u64, "{a}");
    }
}

/// Every shipped design on the GPU kernel equals the CPU reference: Z (the dense product), every
/// counter and every rank's counts, at each of its degrees (its sparsest pattern), ragged shapes,
/// B dense and unstructured, and for DSSO B driving Rank1.
#[test]
fn gpu_equals_cpu_for_every_shipped_design() {
    let Some(gpu) = gpu_or_skip("gpu_equals_cpu_for_every_shipped_design") else {
        return;
    };
    let gpu = GpuBackend::new(gpu);
    let mut runs = 0;
    // Beside the shipped files: B driving Rank1 above a gating Rank0 (A stores every Rank1 child,
    // B picks which are processed, so gated MACs are counted per processed child).
    let dual_gate = HssArch::parse(
        &include_str!("../assets/arch/hss/dsso.toml")
            .replace("macs_per_pe = 2", "macs_per_pe = 4")
            .replace("g = 2\nh = [2, 3, 4]\nsaf = \"skip\"", "h = [2, 3, 4]\nsaf = \"gate\"")
            // A holds every Rank1 child in dual-side mode: 4 fibers x 4 children x 4 values fit
            // the kernel's 64 registers per row.
            .replace("h = [2, 3, 4, 5, 6, 7, 8]", "h = [2, 3, 4]"),
        "dual-gate.toml",
    )
    .unwrap();
    let designs: Vec<(&str, HssArch)> = highlight_emu::hss::spec::SHIPPED
        .iter()
        .map(|(name, _)| (*name, shipped(name)))
        .chain([("dual-gate", dual_gate)])
        .collect();
    for (name, hss) in designs {
        let s = support(&hss);
        let mut cases: Vec<(String, String)> = Vec::new();
        for (i, d) in s.a_degrees.iter().enumerate() {
            let b = if i % 2 == 0 { "dense" } else { "unstructured(0.4)" };
            cases.push((d.patterns[0].clone(), b.to_string()));
        }
        for d in &s.b_degrees {
            cases.push(("K0(2:4)".into(), d.patterns[0].replace(", dense below", "->K0(4:4)")));
        }
        for (i, (a, b)) in cases.iter().enumerate() {
            let (m, k, n) = (1 + 37 * i % 90, 1 + 53 * i % 97, 1 + 71 * i % 150);
            let w = workload(m, k, n, a, b, i as u64);
            let ops = w.operands().unwrap();
            let prepared = HssPrepared::new(&hss, &w, &ops).unwrap();
            let (z_gpu, c_gpu, _) = prepared.run_gpu(&gpu).unwrap();
            let (z_cpu, c_cpu) = prepared.run_cpu(&ops);
            assert_eq!(z_cpu, dense_product(&ops.a, &ops.b), "{name} A {a} B {b}");
            assert_eq!(z_gpu, z_cpu, "{name} A {a} B {b} {m}x{k}x{n}");
            assert_eq!(c_gpu, c_cpu, "{name} A {a} B {b} {m}x{k}x{n}");
            runs += 1;
        }
    }
    assert!(runs > 60, "{runs}");
}

/// `hss figure6` end to end on a small product: the paper's claims hold, every supported point's
/// latency is the closed form over its own dense cycles, and the files are written.
#[test]
fn figure6_measures_the_papers_claims() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("fig6");
    let run = std::process::Command::new(env!("CARGO_BIN_EXE_highlight-emu"))
        .args(["hss", "figure6", "--m", "64", "--k", "1024", "--n", "8", "--backend", "cpu", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let summary = std::fs::read_to_string(out.join("summary.md")).unwrap();
    assert!(
        summary
            .contains("| S and SS both support 15 sparsity degrees from 0 % to 87.5 % | yes | S 15, SS 15 |"),
        "{summary}"
    );
    assert!(summary.contains("| SS has more than 2x less muxing overhead than S | yes | S 15360 two-input mux cells, SS 6656: 2.31x |"), "{summary}");
    for f in ["figure6a.png", "figure6b.png", "figure6.json"] {
        assert!(out.join(f).metadata().unwrap().len() > 1000, "{f}");
    }
    let csv = std::fs::read_to_string(out.join("figure6.csv")).unwrap();
    let mut supported = 0;
    for line in csv.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        let (design, ran, cycles, latency) =
            (f[0], f[4], f[6].parse::<u64>().unwrap(), f[7].parse::<f64>().unwrap());
        // Closed form: one row group, 8 columns, k-steps of (PE slots / G per fiber) fibers of
        // the pattern's span; dense: 1024 / 16 = 64 k-steps.
        let p = Pattern::parse(ran).unwrap();
        let hs: Vec<u32> = p.ruled_ranks().iter().map(|r| r.h).collect();
        let (fibers_per_step, span) = match (design, hs.as_slice()) {
            (_, []) => (8, 2),
            ("S", [h]) => (8, *h as usize),
            ("SS", [h0]) => (4, 2 * *h0 as usize),
            ("SS", [h1, h0]) => (4, (*h1 * *h0) as usize),
            other => panic!("{other:?}"),
        };
        let steps = 1024usize.div_ceil(span).div_ceil(fibers_per_step);
        assert_eq!(cycles, 8 * steps as u64, "{line}");
        assert!((latency - steps as f64 / 64.0).abs() < 1e-12, "{line}");
        supported += usize::from(f[3] == "true");
    }
    assert_eq!(supported, 30, "every degree of S and SS is run as supported");
}

/// `hss explore` on a two-layer network: the designs that qualify are the ones whose degree table
/// has every required degree, the cheapest `--budget` are ranked by EDP, the Pareto flags are
/// right, and the best design's whole-network EDP equals what `hss run best.toml` gives layer by
/// layer.
#[test]
fn explore_ranks_designs_by_whole_network_edp() {
    let dir = tempfile::tempdir().unwrap();
    let workload = dir.path().join("net.toml");
    std::fs::write(
        &workload,
        "name = \"net\"\nseed = 3\nweight_sparsity = [0.5, 0.875]\n\n[[layers]]\nname = \"a\"\nm = 70\nk = 96\nn = 40\nb_density = 0.5\n\n[[layers]]\nname = \"b\"\nm = 32\nk = 200\nn = 20\ncount = 3\nb_density = 1.0\n",
    )
    .unwrap();
    let out = dir.path().join("ex");
    let bin = env!("CARGO_BIN_EXE_highlight-emu");
    let run = std::process::Command::new(bin)
        .args(["hss", "explore"])
        .arg(&workload)
        .args([
            "--weight-sparsity",
            "0.5,0.8",
            "--require",
            "0.5,0.75",
            "--max-ranks",
            "2",
            "--max-h",
            "8",
            "--budget",
            "6",
            "--backend",
            "cpu",
            "--out",
        ])
        .arg(&out)
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let found: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("explore.json")).unwrap()).unwrap();
    // Independently: every design of 1 or 2 G = 2 skip ranks with H_max <= 8 whose degrees
    // include 50 % and 75 %.
    let base = shipped("ss");
    let all = highlight_emu::design_space::explore::enumerate(&base, 2, 8);
    assert_eq!(all.len(), 7 + 49);
    let has =
        |s: &highlight_emu::hss::Support, d: f64| s.a_degrees.iter().any(|x| (x.sparsity - d).abs() < 1e-9);
    let mut qualifying: Vec<u64> =
        all.iter().map(support).filter(|s| has(s, 0.5) && has(s, 0.75)).map(|s| s.cells()).collect();
    assert_eq!(found["enumerated"], 56);
    assert_eq!(found["covering"], qualifying.len());
    qualifying.sort();
    let scores = found["scores"].as_array().unwrap();
    assert_eq!(scores.len(), 6);
    let mut cells: Vec<u64> = scores.iter().map(|s| s["mux_cells"].as_u64().unwrap()).collect();
    cells.sort();
    assert_eq!(cells, qualifying[..6], "the cheapest six are evaluated");
    let edp: Vec<f64> = scores.iter().map(|s| s["edp_geomean"].as_f64().unwrap()).collect();
    assert!(edp.windows(2).all(|w| w[0] <= w[1]), "{edp:?}");
    for s in scores {
        let dominated = scores.iter().any(|o| {
            o["mux_cells"].as_u64() <= s["mux_cells"].as_u64()
                && o["edp_geomean"].as_f64() <= s["edp_geomean"].as_f64()
                && (o["mux_cells"] != s["mux_cells"] || o["edp_geomean"] != s["edp_geomean"])
        });
        assert_eq!(s["pareto"].as_bool().unwrap(), !dominated, "{s}");
    }
    // The best design through `hss run`, layer by layer, at 80 % (which it runs at its sparsest
    // degree at or below 80 %).
    let at = &scores[0]["at"][1];
    let ran = at["ran_sparsity"].as_f64().unwrap();
    let best = out.join("best.toml");
    let degrees: serde_json::Value = serde_json::from_slice(
        &std::process::Command::new(bin).arg("degrees").arg(&best).arg("--json").output().unwrap().stdout,
    )
    .unwrap();
    let pattern = degrees["a_degrees"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| (d["sparsity"].as_f64().unwrap() - ran).abs() < 1e-9)
        .unwrap()["patterns"][0]
        .as_str()
        .unwrap()
        .to_string();
    let (mut energy, mut latency) = (0.0, 0.0);
    for (m, k, n, count, b) in [(70, 96, 40, 1.0, "unstructured(0.5)"), (32, 200, 20, 3.0, "dense")] {
        let r = std::process::Command::new(bin)
            .args(["hss", "run"])
            .arg(&best)
            .args([
                "--m",
                &m.to_string(),
                "--k",
                &k.to_string(),
                "--n",
                &n.to_string(),
                "--a",
                &pattern,
                "--b",
                b,
            ])
            .args(["--seed", "3", "--backend", "cpu", "--json"])
            .output()
            .unwrap();
        let j: serde_json::Value = serde_json::from_slice(&r.stdout).unwrap();
        assert_eq!(j["z_equals_dense"], true);
        energy += count * j["energy_pj"].as_f64().unwrap();
        latency += count * j["latency_s"].as_f64().unwrap();
    }
    let edp = energy * 1e-12 * latency;
    assert!((at["edp"].as_f64().unwrap() - edp).abs() <= 1e-9 * edp, "{} vs {edp}", at["edp"]);
    assert!(out.join("pareto.png").metadata().unwrap().len() > 1000);
}

/// Bad input to the HSS commands: one line naming the problem and the accepted forms, exit 2.
#[test]
fn hss_commands_refuse_bad_input_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let bad_file = dir.path().join("bad.toml");
    std::fs::write(
        &bad_file,
        include_str!("../assets/arch/hss/ss.toml").replace("macs_per_pe = 2", "macs_per_pe = 3"),
    )
    .unwrap();
    let bad = bad_file.to_str().unwrap();
    let cases: [(&[&str], &str); 8] = [
        (
            &["hss", "run", "nope"],
            "no HSS design \"nope\": give a design file (.toml) or a shipped name: s, ss, sss",
        ),
        (&["hss", "run", bad], "macs_per_pe = 3 must equal the PE-level ranks' slots per fiber (2"),
        (
            &["hss", "run", "ss", "--a", "K0(3:4)"],
            "SS cannot run A = K0(3:4): SS runs A = dense or K1(G:H) with G <= 2",
        ),
        (&["hss", "run", "ss", "--m", "0"], "M, K and N must be at least 1"),
        (&["hss", "figure6", "--targets", "1.5"], "--targets 1.5: a sparsity degree is a number in [0, 1)"),
        (
            &["hss", "explore", "workloads/resnet50.toml", "--max-ranks", "5"],
            "--max-ranks 5: accepted 1 to 4",
        ),
        (
            &["hss", "explore", "workloads/fig13.toml"],
            "no [[layers]]; explore ranks designs on a network's layers",
        ),
        (
            &["hss", "explore", "workloads/resnet50.toml", "--max-ranks", "4", "--max-h", "16"],
            "--max-ranks 4 --max-h 16 would enumerate 54240 designs; at most 5000",
        ),
    ];
    for (args, want) in cases {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_highlight-emu"))
            .args(args)
            .args(["--backend", "cpu"])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.contains(want), "{args:?}: {err}\nwants {want}");
    }
}

/// The GPU kernel sees HighLight, TC, STC and HighLight-DSSO and their files as the same
/// machine: one shape, so one pipeline, for every pattern they run.
#[test]
fn files_and_builtin_designs_give_the_kernel_the_same_shape() {
    use highlight_emu::gpu::highlight::KernelShape;
    let b_dual = Pattern::parse("K1(2:4)->K0(4:4)").unwrap();
    for (design, file) in
        [(Design::Highlight, "ss"), (Design::Tc, "tc"), (Design::Stc, "stc"), (Design::HighlightDsso, "dsso")]
    {
        let hss = shipped(file);
        for a in ["dense", "K0(2:4)", "K1(2:4)->K0(2:3)", "K1(2:8)->K0(1:4)", "K0(2:3)"] {
            let a = Pattern::parse(a).unwrap();
            for b in [Pattern::Dense, b_dual.clone()] {
                let Ok(highlight_emu::design::Machine::TensorCore(df)) =
                    design.machine(&design.arch(), &a, &b)
                else {
                    continue;
                };
                let shape = KernelShape::of_hss(&hss.dataflow(&a, &b).unwrap()).unwrap();
                assert_eq!(shape, KernelShape::of_dataflow(&df), "{file} A {a} B {b}");
            }
        }
    }
}

/// A skip rank whose H list lacks its G (STC's 2:{4}) runs an explicit G:G as dense, as it runs a
/// missing rank: the pattern its degree table lists runs. A file with [bandwidth] is refused.
#[test]
fn a_dense_rank_written_out_runs_as_the_bypass() {
    let mixed = HssArch::parse(
        &include_str!("../assets/arch/hss/ss.toml").replace("h = [2, 3, 4]\n", "h = [4]\n"),
        "mixed.toml",
    )
    .unwrap();
    let listed: Vec<String> = support(&mixed).a_degrees.iter().flat_map(|d| d.patterns.clone()).collect();
    assert!(listed.contains(&"K1(2:8)->K0(2:2)".to_string()), "{listed:?}");
    for text in &listed {
        let w = workload(40, 100, 24, text, "unstructured(0.5)", 5);
        let ops = w.operands().unwrap();
        let prepared = HssPrepared::new(&mixed, &w, &ops).unwrap();
        let (z, _) = prepared.run_cpu(&ops);
        assert_eq!(z, dense_product(&ops.a, &ops.b), "{text}");
    }
    let bw = include_str!("../assets/arch/hss/ss.toml").to_string()
        + "\n[bandwidth]\ndram_read = 32.0\ndram_write = 32.0\nglb_read = 64.0\nglb_write = 64.0\n";
    let err = HssArch::parse(&bw, "bw.toml").unwrap_err().to_string();
    assert!(err.contains("[bandwidth] is not applied to HSS designs yet"), "{err}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// N-rank CP holds A exactly: decompressed it is A, each leaf's K position is where its value
    /// sits, and its metadata is each selecting rank's coordinates.
    #[test]
    fn nrank_cp_round_trips(h2 in 2u32..=6, h1 in 2u32..=4, h0 in 2u32..=3, m in 1usize..40, k in 1usize..200, seed: u64) {
        let w = workload(m, k, 8, &format!("K2(2:{h2})->K1(2:{h1})->K0(2:{h0})"), "dense", seed);
        let ops = w.operands().unwrap();
        let df = shipped("sss").dataflow(&w.a, &w.b).unwrap();
        let tree = df.a_tree();
        let cp = NRankCp::compress(&ops.a, &tree).unwrap();
        prop_assert_eq!(cp.decompress(), ops.a.clone());
        let leaves = 8 * cp.fibers * m;
        prop_assert_eq!(cp.value.len(), leaves);
        for (slot, (&v, &pos)) in cp.value.iter().zip(&cp.position).enumerate() {
            let row = slot / (8 * cp.fibers);
            if (pos as usize) < k {
                prop_assert_eq!(v, ops.a.get(row, pos as usize));
            } else {
                prop_assert_eq!(v, 0);
            }
        }
        let bits = |h: u32| u64::from(32 - (h - 1).leading_zeros());
        let per_fiber = 2 * bits(h2) + 4 * bits(h1) + 8 * bits(h0);
        prop_assert_eq!(cp.storage().metadata_bits, (m * cp.fibers) as u64 * per_fiber);
    }
}
