//! The memory hierarchy (docs/DESIGN.md 11): mappings in and out, the mapper's choice, the
//! traffic against the emulators' own loop nest, the artifact's energy tables, and `validate`
//! against Sparseloop's published points.

use std::path::Path;

use assert_cmd::Command;
use highlight_emu::design::Design;
use highlight_emu::energy::Ert;
use highlight_emu::mapping::{Dim, Level, Mapping};
use highlight_emu::matrix::Matrix;
use highlight_emu::pattern::Pattern;
use highlight_emu::run::{RunResult, Workload, run};
use highlight_emu::search::Search;
use highlight_emu::validate::position_space_cycles;
use proptest::prelude::*;

fn validation() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("validation/sparseloop")
}

fn emu() -> Command {
    Command::cargo_bin("highlight-emu").unwrap()
}

fn cpu_run(
    design: Design,
    m: usize,
    k: usize,
    n: usize,
    a: &str,
    b: &str,
    mapping: Option<&Mapping>,
) -> RunResult {
    let w = Workload { m, k, n, a: Pattern::parse(a).unwrap(), b: Pattern::parse(b).unwrap(), seed: 3 };
    let ops = w.operands().unwrap();
    run(
        design,
        design.arch(),
        &Ert::default_45nm(),
        &w,
        &ops,
        None,
        false,
        &Search { mapping: mapping.cloned(), ..Search::default() },
    )
    .unwrap()
    .0
}

/// Every Accelergy table of the artifact imports with the shipped map (index ranges such as
/// `MAC[0..255]` hold dots of their own).
#[test]
fn every_artifact_table_imports() {
    let mut seen = 0;
    for entry in std::fs::read_dir(validation().join("ert")).unwrap() {
        let path = entry.unwrap().path();
        let ert = Ert::load_any(&path, None).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!((ert.actions["dram_read"].pj - 64.0).abs() < 1e-9, "{}", path.display());
        assert!(ert.actions["mac"].source.as_ref().unwrap().contains("MAC.mac_random"));
        seen += 1;
    }
    assert_eq!(seen, 6);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Under the mapper's mapping, the GLB reads the hierarchy charges are the emulators' own
    /// counts of their loop nest (for K a whole number of k-steps, at least two of them: with one,
    /// the mapping keeps A in the PE registers across column tiles, which the emulated nest
    /// reloads), and the output goes to DRAM once, 8 bits each.
    #[test]
    fn glb_reads_follow_the_emulated_loop_nest(
        groups in 1usize..4, steps in 2usize..6, n in 1usize..300,
        case in prop_oneof![
            Just((Design::Tc, "dense", 16)),
            Just((Design::Highlight, "K1(2:4)->K0(2:4)", 64)),
            Just((Design::Highlight, "K1(2:8)->K0(2:4)", 128)),
            Just((Design::Stc, "K0(2:4)", 32)),
        ],
    ) {
        let (design, a, span) = case;
        let (m, k) = (groups * 64, steps * span);
        let r = cpu_run(design, m, k, n, a, "dense", None);
        let (h, c) = (r.hierarchy, r.counters);
        prop_assert_eq!(h.glb_read_a, c.glb_read_a);
        prop_assert_eq!(h.glb_read_a_meta_bits, c.glb_read_a_meta_bits);
        prop_assert_eq!(h.glb_read_b, c.glb_read_b);
        prop_assert_eq!(h.dram_write_z, (m * n) as u64);
        prop_assert_eq!(h.dram_read_z, 0);
        // DRAM reads each operand at least once, and the GLB tiles fit.
        prop_assert!(h.dram_read_b >= (k * n) as u64);
        let mapping = Mapping::parse(&r.mapping, "result").unwrap();
        prop_assert!(mapping.extent(Dim::N) >= n as u64);
    }
}

/// The mapper never does worse than the plainest tiling (one row group and one column tile at a
/// time in the GLB), and its mapping reads back to the same counts through `--mapping`.
#[test]
fn the_mapper_beats_the_plain_tiling_and_round_trips() {
    let r = cpu_run(Design::Highlight, 512, 1024, 768, "K1(2:4)->K0(2:4)", "unstructured(0.5)", None);
    let chosen = Mapping::parse(&r.mapping, "result").unwrap();
    let again =
        cpu_run(Design::Highlight, 512, 1024, 768, "K1(2:4)->K0(2:4)", "unstructured(0.5)", Some(&chosen));
    assert_eq!(again.hierarchy, r.hierarchy);
    assert_eq!(again.energy_pj, r.energy_pj);
    // The plainest tiling: every loop above the arrays at DRAM, K innermost.
    let mut plain = chosen.clone();
    let outer: Vec<_> = plain.levels[Level::Glb as usize].temporal.drain(..).collect();
    let k_at_rf: u64 = plain.levels[Level::Rf as usize].temporal.drain(..).map(|l| l.bound).product();
    let k_steps = k_at_rf * outer.iter().filter(|l| l.dim == Dim::K).map(|l| l.bound).product::<u64>();
    plain.levels[Level::Rf as usize]
        .temporal
        .push(highlight_emu::mapping::Loop { dim: Dim::K, bound: k_steps });
    let dram = &mut plain.levels[Level::Dram as usize].temporal;
    dram.extend(outer.into_iter().filter(|l| l.dim != Dim::K));
    let p = cpu_run(Design::Highlight, 512, 1024, 768, "K1(2:4)->K0(2:4)", "unstructured(0.5)", Some(&plain));
    let dram = |r: &RunResult| r.hierarchy.dram_read_a + r.hierarchy.dram_read_b;
    assert!(r.energy_pj <= p.energy_pj * (1.0 + 1e-12), "{} > {}", r.energy_pj, p.energy_pj);
    assert!(dram(&r) <= dram(&p));
}

#[test]
fn mapping_errors_name_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p.to_str().unwrap().to_string()
    };
    let level = write("l2.yaml", "mapping:\n- {target: L2, type: temporal, factors: M1 N1 K1}\n");
    let short = write("short.yaml", "mapping:\n- {target: DRAM, type: temporal, factors: M1 N2 K1}\n");
    let factors = write("bad.yaml", "mapping:\n- {target: RF, type: temporal, factors: M1 Q2}\n");
    let huge =
        write("huge.yaml", "mapping:\n- {target: DRAM, type: temporal, factors: M18446744073709551615 N2}\n");
    let twice = write("twice.yaml", "mapping:\n- {target: DRAM, type: temporal, factors: M2 M4}\n");
    let repeat = write(
        "repeat.yaml",
        "mapping:\n- {target: DRAM, type: temporal, factors: M2 N4, permutation: MMK}\n",
    );
    let run = |extra: &[&str]| {
        let mut args =
            vec!["run", "--design", "tc", "--m", "64", "--k", "32", "--n", "16", "--backend", "cpu"];
        args.extend(extra);
        let out = emu().args(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{extra:?}");
        String::from_utf8(out.stderr).unwrap()
    };
    assert!(run(&["--mapping", &level]).contains("level \"L2\": this model has DRAM, SMEM"));
    assert!(run(&["--mapping", &short]).contains("its M loops cover 1, the workload has 64"));
    assert!(run(&["--mapping", &factors]).contains("\"Q2\" does not start with M, N or K"));
    assert!(run(&["--mapping", &short, "--swap"]).contains("drop --swap"));
    assert!(run(&["--mapping", &huge]).contains("a factor is between 1 and"));
    assert!(run(&["--mapping", &twice]).contains("M given twice"));
    assert!(run(&["--mapping", &repeat]).contains("a dimension repeats"));
    // A GLB too small for any tiling: the mapper says so, and a given mapping is refused.
    let tiny = write(
        "tiny.toml",
        &std::fs::read_to_string("assets/arch/tc.toml")
            .unwrap()
            .replace("glb_data_bytes = 262144", "glb_data_bytes = 64"),
    );
    let err = run(&["--arch", &tiny]);
    assert!(
        err.contains("the mapper: no tiling fits the GLB") && err.contains("holds 64 and 65536"),
        "{err}"
    );
    let whole = write("whole.yaml", "mapping:\n- {target: SMEM, type: temporal, factors: M64 N16 K32}\n");
    let err = run(&["--arch", &tiny, "--mapping", &whole]);
    assert!(err.contains("--mapping: its GLB tiles of the compressed operands take"), "{err}");
}

/// `validate` on the shipped points, each figure what `run --mapping map.yaml` prints: TC and
/// STC cycles exactly Sparseloop's, DSTC's within 10 % or, where not, marked "model differs"
/// with Sparseloop's own formula on the same operands within 10 %; every total within 10 % and
/// every large component within 20 %, DRAM and GLB counts within 5 %; the search's own mapping at
/// most 1.00x (never above 1.02x) the EDP of the artifact's map.yaml: every point passes, exit 0.
#[test]
fn validate_against_the_artifacts_points() {
    let out =
        emu().args(["validate", "--backend", "cpu", "--json", "--dir"]).arg(validation()).output().unwrap();
    let reports: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let reports = reports.as_array().unwrap();
    assert_eq!(reports.len(), 24);
    for r in reports {
        let point = r["point"].as_str().unwrap();
        let ratio = r["cycles"]["ratio"].as_f64().unwrap();
        let formula = &r["sparseloop_formula_cycles"];
        if r["design"] == "dstc" {
            let formula_ratio = formula["ratio"].as_f64().unwrap();
            assert!((formula_ratio - 1.0).abs() <= 0.10, "{point}: {formula_ratio}");
            // The emulator counts per k-step what the formula averages: never fewer cycles.
            assert!(ratio >= formula_ratio, "{point}: {ratio} < {formula_ratio}");
            let differs = (ratio - 1.0).abs() > 0.10;
            assert_eq!(r["model_differs"], differs, "{point}: {ratio}");
        } else {
            assert_eq!(ratio, 1.0, "{point}");
            assert!(formula.is_null() && r["model_differs"] == false, "{point}");
        }
        let mapper = r["mapper_edp"]["ratio"].as_f64().unwrap();
        assert!(mapper <= 1.0 + 1e-9, "{point}: the search's mapping has {mapper}x the artifact's EDP");
        let own = r["mapper_edp"]["emulator"].as_f64().unwrap();
        assert!((own / r["mapper_edp"]["sparseloop"].as_f64().unwrap() - mapper).abs() < 1e-12);
        for f in r["energy"].as_array().unwrap().iter().chain(r["counts"].as_array().unwrap()) {
            assert!(f["ok"].as_bool().unwrap(), "{point}: {f}");
        }
        assert_eq!(r["ok"], true, "{point}");
    }
    assert_eq!(out.status.code(), Some(0));
    let table = emu().args(["validate", "--backend", "cpu", "--dir"]).arg(validation()).output().unwrap();
    let text = String::from_utf8(table.stdout).unwrap();
    assert!(text.contains("| M128-K1152-N1024-IAD0.44-WD0.5/TC | 1.000 | - | 1.000 |"), "{text}");
    assert!(text.contains("\nchecked 24 points, "), "{text}");
    assert!(
        text.contains("| M512-K128-N1024-IAD0.56-WD0.25/DSTC | 1.163 (model differs) | 1.001 |"),
        "{text}"
    );
}

/// Sparseloop's position-space DSTC cycles, worked by hand: A's 32 rows hold 20 and 8 nonzeros
/// at k = 0 and 1 (lane utilisations 20/32 and 8/16, mean 0.5625), B's 64 columns 40 and 0
/// (40/48; the empty fiber does not count): 800 products at 1024 x 0.5625 x 0.8333 = 480 per
/// cycle take 2 cycles.
#[test]
fn position_space_cycles_by_hand() {
    let a = Matrix::from_vec(
        32,
        2,
        (0..64).map(|i| i8::from((i % 2 == 0 && i / 2 < 20) || (i % 2 == 1 && i / 2 < 8))).collect(),
    );
    let b = Matrix::from_vec(2, 64, (0..128).map(|i| i8::from(i < 40)).collect());
    let products: u64 = (0..2)
        .map(|k| {
            let a_k = (0..32).filter(|&r| a.get(r, k) != 0).count() as u64;
            let b_k = b.row(k).iter().filter(|&&v| v != 0).count() as u64;
            a_k * b_k
        })
        .sum();
    assert_eq!(products, 800);
    assert_eq!(position_space_cycles(&a, &b, (32, 64), 16, 4, products), 2);
    // Full lanes: 32 and 64 nonzeros in every fiber use every lane; 2 x 4 vector pairs per k.
    let (a, b) = (Matrix::from_vec(32, 3, vec![1i8; 96]), Matrix::from_vec(3, 64, vec![1i8; 192]));
    assert_eq!(position_space_cycles(&a, &b, (32, 64), 16, 1, 3 * 32 * 64), 3 * 8);
}

/// A validation folder whose bandwidth table gives a non-positive bandwidth, or lacks a design's
/// table, is refused (exit 2) naming it.
#[test]
fn validate_refuses_a_bad_bandwidth_table() {
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("sparseloop");
    let status = std::process::Command::new("cp").arg("-r").arg(validation()).arg(&copy).status().unwrap();
    assert!(status.success());
    let table = copy.join("bandwidth.toml");
    let text = std::fs::read_to_string(&table).unwrap();
    for (bad, says) in [
        (
            text.replacen("glb_read = 42", "glb_read = -1", 1),
            "[tc] dram_read, dram_write, glb_read and glb_write must be positive",
        ),
        (text.replace("[dstc]", "[other]"), "no [dstc] table"),
        (
            format!(
                "{text}\n{}",
                text.split("\n[").nth(1).map(|t| format!("[{t}")).unwrap().replacen("[tc]", "[unused]", 1)
            ),
            "table [unused] serves none of reference.json's points",
        ),
    ] {
        std::fs::write(&table, bad).unwrap();
        let out = emu().args(["validate", "--backend", "cpu", "--dir"]).arg(&copy).output().unwrap();
        assert_eq!(out.status.code(), Some(2));
        let err = String::from_utf8(out.stderr).unwrap();
        assert!(err.contains(says) && err.contains("bandwidth.toml"), "{err}");
    }
    // A reference with no points validates nothing: refused, not passed.
    std::fs::write(&table, &text).unwrap();
    let reference = copy.join("reference.json");
    let mut json: serde_json::Value = serde_json::from_slice(&std::fs::read(&reference).unwrap()).unwrap();
    json["points"] = serde_json::json!([]);
    std::fs::write(&reference, json.to_string()).unwrap();
    let out = emu().args(["validate", "--backend", "cpu", "--dir"]).arg(&copy).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("reference.json: its points list is empty: there is nothing to validate"), "{err}");
}
