//! The command line as a user runs it: outputs, files and error exits.

mod common;

use assert_cmd::Command;
use highlight_emu::matrix::Matrix;
use highlight_emu::operand::npy::{self, NpyMatrix};
use highlight_emu::operand::{OperandRole, generate};
use highlight_emu::pattern::Pattern;

fn emu() -> Command {
    Command::cargo_bin("highlight-emu").unwrap()
}

fn stdout_of(args: &[&str]) -> String {
    let out = emu().args(args).output().unwrap();
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// Runs a command that must fail with exit code 2 and returns its stderr.
fn error_of(args: &[&str]) -> String {
    let out = emu().args(args).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{args:?}");
    String::from_utf8(out.stderr).unwrap()
}

#[test]
fn spec_json_has_the_documented_keys() {
    let out = stdout_of(&["spec", "--json", "RS → C2 -> C1(3:4) -> C0(2:4)"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["canonical"], "RS->C2->C1(3:4)->C0(2:4)");
    assert_eq!(v["density"], 0.375);
    assert_eq!(v["sparsity"], 0.625);
    assert_eq!(
        v["ranks"],
        serde_json::json!([{"name": "C1", "g": 3, "h": 4}, {"name": "C0", "g": 2, "h": 4}])
    );
    let text = stdout_of(&["spec", "K0(2:4)"]);
    assert!(text.contains("canonical: K0(2:4)") && text.contains("density:   0.5"), "{text}");
}

#[test]
fn bad_pattern_is_one_line_quoting_the_bad_part() {
    let err = error_of(&["spec", "C1(2:4)->C0(2:5"]);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("missing ')' in \"C0(2:5\"") && err.contains("C1(2:4)->C0(2:4)"), "{err}");
}

#[test]
fn gen_writes_the_library_operand() {
    let dir = tempfile::tempdir().unwrap();
    let a_path = dir.path().join("a.npy");
    let b_path = dir.path().join("b.npy");
    let p = "C1(2:4)->C0(2:4)";
    let a = a_path.to_str().unwrap();
    let b = b_path.to_str().unwrap();
    let out = stdout_of(&[
        "gen",
        "--operand",
        "a",
        "--rows",
        "5",
        "--cols",
        "48",
        "--pattern",
        p,
        "--seed",
        "9",
        "--out",
        a,
    ]);
    assert!(out.contains("density 0.25"), "{out}");
    stdout_of(&[
        "gen",
        "--operand",
        "b",
        "--rows",
        "40",
        "--cols",
        "3",
        "--pattern",
        p,
        "--seed",
        "9",
        "--out",
        b,
    ]);
    let pattern = Pattern::parse(p).unwrap();
    let NpyMatrix::I8(read_a) = npy::read_matrix(&a_path).unwrap() else { panic!("a.npy is not int8") };
    assert_eq!(read_a, generate(&pattern, OperandRole::A, 5, 48, 9).unwrap());
    let NpyMatrix::I8(read_b) = npy::read_matrix(&b_path).unwrap() else { panic!("b.npy is not int8") };
    assert_eq!((read_b.rows, read_b.cols), (40, 3));
    assert_eq!(read_b, generate(&pattern, OperandRole::B, 3, 40, 9).unwrap());
}

#[test]
fn gen_errors() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("a.npy");
    let out = out.to_str().unwrap();
    let base = ["gen", "--operand", "a", "--pattern", "dense", "--out", out];
    let err = error_of(&[&base[..], &["--rows", "0", "--cols", "4"]].concat());
    assert!(err.contains("at least 1"), "{err}");
    let err = error_of(&[&base[..], &["--rows", "4294967296", "--cols", "4294967296"]].concat());
    assert!(err.contains("too large"), "{err}");
    let missing = dir.path().join("no/such/dir/a.npy");
    let err = error_of(&[
        "gen",
        "--operand",
        "a",
        "--rows",
        "2",
        "--cols",
        "2",
        "--pattern",
        "dense",
        "--out",
        missing.to_str().unwrap(),
    ]);
    assert!(err.contains("does not exist"), "{err}");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "a failed run left files behind");
}

#[test]
fn prune_keeps_dtype_and_reports_density() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("w.npy");
    let output = dir.path().join("w_hss.npy");
    let weights: Vec<f32> = (0..32).map(|i| ((i * 37 % 17) as f32 - 8.0) * 0.25 + 0.01).collect();
    npy::write_matrix(&input, &Matrix::from_vec(2, 16, weights.clone())).unwrap();
    let out = stdout_of(&[
        "prune",
        "--pattern",
        "RS->C2->C1(3:4)->C0(2:4)",
        "--in",
        input.to_str().unwrap(),
        "--out",
        output.to_str().unwrap(),
    ]);
    assert!(out.contains("achieved density 0.375"), "{out}");
    let NpyMatrix::F32(pruned) = npy::read_matrix(&output).unwrap() else { panic!("dtype changed") };
    assert_eq!((pruned.rows, pruned.cols), (2, 16));
    assert_eq!(pruned.occupancy(), 12);
    assert!(pruned.data.iter().zip(&weights).all(|(&p, &w)| p == 0.0 || p == w));
}

#[test]
fn prune_refuses_other_dtypes_and_shapes() {
    let dir = tempfile::tempdir().unwrap();
    let ints = dir.path().join("i32.npy");
    npy::write_matrix(&ints, &Matrix::from_vec(1, 4, vec![1i32, 2, 3, 4])).unwrap();
    let out = dir.path().join("out.npy");
    let err = error_of(&[
        "prune",
        "--pattern",
        "K0(2:4)",
        "--in",
        ints.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(err.contains("accepted dtypes: int8") && err.contains("float32"), "{err}");
    let err =
        error_of(&["prune", "--pattern", "K0(2:4)", "--in", "/no/such.npy", "--out", out.to_str().unwrap()]);
    assert!(err.contains("cannot read /no/such.npy"), "{err}");
    assert!(!out.exists());
}

#[test]
fn run_json_has_the_documented_keys() {
    let out = stdout_of(&[
        "run",
        "--design",
        "highlight",
        "--m",
        "70",
        "--k",
        "50",
        "--n",
        "33",
        "--a",
        "C1(2:4)->C0(2:4)",
        "--b",
        "unstructured(0.5)",
        "--seed",
        "4",
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    for key in [
        "design",
        "workload",
        "backend",
        "counters",
        "cycles",
        "bound",
        "energy_pj",
        "energy_breakdown_pj",
        "latency_s",
        "edp",
        "z_equals_dense",
    ] {
        assert!(v.get(key).is_some(), "missing {key} in {out}");
    }
    for key in ["m", "k", "n", "a", "b", "seed", "a_density", "b_density"] {
        assert!(v["workload"].get(key).is_some(), "missing workload.{key}");
    }
    assert_eq!(v["design"], "highlight");
    assert_eq!(v["backend"], "cpu");
    assert_eq!(v["z_equals_dense"], true);
    assert_eq!(v["workload"]["b_density"], 0.5);
    // The arrays: 2 row groups x 33 columns x ceil(64 padded K / 64-wide window); the run takes
    // as long or, where a memory needs longer for its traffic, that (`bound` names it).
    assert_eq!(v["counters"]["cycles"], 2 * 33);
    let (cycles, arrays) = (v["cycles"].as_u64().unwrap(), v["counters"]["cycles"].as_u64().unwrap());
    match v["bound"].as_str().unwrap() {
        "compute" => assert_eq!(cycles, arrays),
        "dram-read" | "dram-write" | "glb-read" | "glb-write" => assert!(cycles > arrays),
        other => panic!("bound {other}"),
    }
    let text = stdout_of(&["run", "--design", "tc", "--m", "8", "--k", "8", "--n", "8"]);
    assert!(
        text.contains("speedup over TC 1.000x") && text.contains("Z equals the dense product: yes"),
        "{text}"
    );
}

#[test]
fn run_save_writes_operands_z_and_result() {
    let dir = tempfile::tempdir().unwrap();
    let save = dir.path().join("run1");
    let args =
        ["run", "--design", "highlight", "--m", "20", "--k", "24", "--n", "9", "--a", "K0(2:4)", "--save"];
    stdout_of(&[&args[..], &[save.to_str().unwrap()]].concat());
    let NpyMatrix::I8(a) = npy::read_matrix(&save.join("a.npy")).unwrap() else { panic!() };
    let NpyMatrix::I8(b) = npy::read_matrix(&save.join("b.npy")).unwrap() else { panic!() };
    assert_eq!((a.rows, a.cols, b.rows, b.cols), (20, 24, 24, 9));
    let file = std::fs::File::open(save.join("z.npy")).unwrap();
    let z: Vec<i32> = npyz::NpyFile::new(file).unwrap().into_vec().unwrap();
    assert_eq!(z, highlight_emu::matrix::dense_product(&a, &b).data);
    let result: serde_json::Value =
        serde_json::from_slice(&std::fs::read(save.join("result.json")).unwrap()).unwrap();
    assert_eq!(result["workload"]["a"], "K0(2:4)");
    // A second run into the same directory is refused, and a save that cannot be made leaves
    // nothing behind.
    let err = error_of(&[&args[..], &[save.to_str().unwrap()]].concat());
    assert!(err.contains("already exists"), "{err}");
    let blocker = dir.path().join("file");
    std::fs::write(&blocker, "x").unwrap();
    let err = error_of(&[&args[..], &[blocker.join("sub").to_str().unwrap()]].concat());
    assert!(err.contains("--save"), "{err}");
    let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names.len(), 2, "left behind: {names:?}");
}

#[test]
fn run_errors_name_the_problem() {
    let base = ["run", "--design", "highlight", "--m", "8", "--k", "8", "--n", "8"];
    let with = |extra: &[&str]| error_of(&[&base[..], extra].concat());
    let err = with(&["--a", "C1(3:4)->C0(2:4)"]);
    assert!(
        err.contains("HighLight cannot run A = C1(3:4)->C0(2:4)")
            && err.contains("also satisfies K1(2:2)->K0(2:4)"),
        "{err}"
    );
    let err = error_of(&["run", "--design", "highlight", "--m", "0", "--k", "8", "--n", "8"]);
    assert!(err.contains("at least 1 (got M = 0"), "{err}");
    let err = error_of(&["run", "--design", "tc", "--m", "4000000", "--k", "4000000", "--n", "4000000"]);
    assert!(err.contains("GiB of memory"), "{err}");
    let err = error_of(&["run", "--design", "nvdla", "--m", "8", "--k", "8", "--n", "8"]);
    assert!(err.contains("invalid value 'nvdla'") && err.contains("highlight"), "{err}");
    let err = with(&["--arch", "/no/such/arch.toml"]);
    assert!(err.contains("cannot read architecture file /no/such/arch.toml"), "{err}");
    let err = with(&["--ert", "/no/such/ert.toml"]);
    assert!(err.contains("cannot read energy table /no/such/ert.toml"), "{err}");
    let dir = tempfile::tempdir().unwrap();
    let bad_arch = dir.path().join("arch.toml");
    std::fs::write(&bad_arch, "name = \"x\"\nclock_hz = 1e9\n").unwrap();
    let err = with(&["--arch", bad_arch.to_str().unwrap()]);
    assert!(err.contains("architecture file") && err.contains("missing field"), "{err}");
    let thin_ert = dir.path().join("ert.toml");
    std::fs::write(&thin_ert, "name = \"thin\"\n[actions.mac]\npj = 1.0\n").unwrap();
    let err = with(&["--ert", thin_ert.to_str().unwrap()]);
    assert!(err.contains("energy table \"thin\" has no action") && err.contains("it has: mac"), "{err}");
}

/// A user's own architecture and energy table are used: a 2 GHz clock halves the latency.
#[test]
fn run_reads_arch_and_ert_files() {
    let dir = tempfile::tempdir().unwrap();
    let arch = dir.path().join("fast.toml");
    let shipped =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/assets/arch/highlight.toml")).unwrap();
    std::fs::write(&arch, shipped.replace("clock_hz = 1.0e9", "clock_hz = 2.0e9")).unwrap();
    let ert = dir.path().join("ert.toml");
    let table = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/assets/ert/default-45nm.toml"))
        .unwrap();
    std::fs::write(
        &ert,
        table.replace("pj = 0.5608", "pj = 1.0").replace("name = \"default-45nm\"", "name = \"mine\""),
    )
    .unwrap();
    let args = ["run", "--design", "highlight", "--m", "64", "--k", "64", "--n", "64", "--json"];
    let v: serde_json::Value = serde_json::from_str(&stdout_of(
        &[&args[..], &["--arch", arch.to_str().unwrap(), "--ert", ert.to_str().unwrap()]].concat(),
    ))
    .unwrap();
    assert_eq!(v["latency_s"].as_f64().unwrap(), v["cycles"].as_f64().unwrap() / 2e9);
    assert_eq!(v["energy_breakdown_pj"]["mac"].as_f64().unwrap(), v["counters"]["mac"].as_f64().unwrap());
    assert_eq!(v["ert"], "mine");
}

#[test]
fn gpu_backend_with_an_unknown_adapter_fails_clearly() {
    let err = error_of(&[
        "run",
        "--design",
        "highlight",
        "--m",
        "8",
        "--k",
        "8",
        "--n",
        "8",
        "--backend",
        "gpu",
        "--adapter",
        "no-such-device",
    ]);
    assert!(err.contains("no GPU adapter matches \"no-such-device\"; available:"), "{err}");
}

/// `--check` on the software adapter: GPU and CPU agree on Z and every counter.
#[test]
fn run_check_compares_gpu_with_cpu() {
    let Some(gpu) = common::gpu_or_skip("run_check_compares_gpu_with_cpu") else {
        return;
    };
    let out = stdout_of(&[
        "run",
        "--design",
        "highlight",
        "--m",
        "100",
        "--k",
        "72",
        "--n",
        "140",
        "--a",
        "K1(2:3)->K0(2:4)",
        "--b",
        "unstructured(0.4)",
        "--check",
        "--json",
        "--adapter",
        &gpu.info.name,
    ]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["backend"], "gpu");
    assert_eq!(v["check"]["cpu_gpu_equal"], true, "{out}");
    assert_eq!(v["check"]["z_equals_dense"], true);
    assert!(v["wall_ms"].as_f64().unwrap() > 0.0);
    assert!(v.get("gpu_time_ms").is_some());
}

#[test]
fn compare_lists_every_design_normalised_to_tc() {
    let out = stdout_of(&[
        "compare",
        "--m",
        "70",
        "--k",
        "64",
        "--n",
        "40",
        "--a-sparsity",
        "0.5",
        "--b-sparsity",
        "0.25",
        "--backend",
        "cpu",
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let designs = v["designs"].as_array().unwrap();
    let ids: Vec<&str> = designs.iter().map(|d| d["design"].as_str().unwrap()).collect();
    assert_eq!(ids, ["tc", "stc", "dstc", "s2ta", "highlight", "highlight-dsso"]);
    assert_eq!(designs[0]["normalised_to_tc"]["edp"], 1.0);
    let s2ta = &designs[3]["result"];
    assert_eq!(s2ta["workload"]["b"], "K0(6:8)");
    assert!(designs.iter().all(|d| d["result"]["z_equals_dense"] == true), "{out}");
    let text = stdout_of(&["compare", "--m", "64", "--k", "64", "--n", "64", "--backend", "cpu"]);
    assert!(text.contains("s2ta            unsupported: S2TA cannot run A = dense"), "{text}");
    let err = error_of(&[
        "compare",
        "--m",
        "64",
        "--k",
        "64",
        "--n",
        "64",
        "--b-sparsity",
        "0.3",
        "--a-sparsity",
        "0.6",
    ]);
    assert!(err.contains("A sparsity 0.6 is not in the degree table"), "{err}");
}

/// `compare --check` on the software adapter: every design's GPU run equals its CPU reference.
#[test]
fn compare_check_runs_every_design_on_the_gpu() {
    let Some(gpu) = common::gpu_or_skip("compare_check_runs_every_design_on_the_gpu") else { return };
    let out = stdout_of(&[
        "compare",
        "--m",
        "100",
        "--k",
        "72",
        "--n",
        "90",
        "--a-sparsity",
        "0.75",
        "--b-sparsity",
        "0.5",
        "--check",
        "--json",
        "--adapter",
        &gpu.info.name,
    ]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    for d in v["designs"].as_array().unwrap() {
        assert_eq!(d["result"]["backend"], "gpu", "{}", d["design"]);
        assert_eq!(d["result"]["check"]["cpu_gpu_equal"], true, "{}", d["design"]);
    }
}

#[test]
fn run_swap_reports_the_order() {
    let args = [
        "run",
        "--design",
        "s2ta",
        "--m",
        "32",
        "--k",
        "64",
        "--n",
        "48",
        "--b",
        "K0(4:8)",
        "--backend",
        "cpu",
    ];
    let err = error_of(&args);
    assert!(err.contains("S2TA cannot run A = dense"), "{err}");
    let v: serde_json::Value =
        serde_json::from_str(&stdout_of(&[&args[..], &["--swap", "--json"]].concat())).unwrap();
    assert_eq!(v["order"], "swapped");
    assert_eq!(v["workload"]["m"], 32);
    assert_eq!(v["z_equals_dense"], true);
}

#[test]
fn architecture_files_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    let shipped =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/assets/arch/tc.toml")).unwrap();
    for (from, to, message) in [
        ("pes_per_row = 8", "pes_per_row = 300", "must be at most 255"),
        ("pes_per_row = 8", "pes_per_row = 0", "must be at least 1"),
        ("clock_hz = 1.0e9", "clock_hz = -1.0", "must be a positive number"),
        ("tile_n = 128", "tile_n = 128\nwidth = 3", "unknown field"),
    ] {
        let arch = dir.path().join("arch.toml");
        std::fs::write(&arch, shipped.replace(from, to)).unwrap();
        let err = error_of(&[
            "run",
            "--design",
            "tc",
            "--m",
            "8",
            "--k",
            "8",
            "--n",
            "8",
            "--arch",
            arch.to_str().unwrap(),
        ]);
        assert!(err.contains(message), "{to}: {err}");
    }
}

/// A run whose shader loops would pass Mesa's software loop limit (65535 iterations per
/// invocation) is refused on a software adapter, naming the limit, instead of reporting cycles 0;
/// a hardware adapter runs it, and its cycles are TC's closed form, ceil(M/64) N ceil(K/16).
#[test]
fn gpu_run_past_the_software_loop_limit_is_refused() {
    let Some(gpu) = common::gpu_or_skip("gpu_run_past_the_software_loop_limit_is_refused") else {
        return;
    };
    let args = [
        "run",
        "--design",
        "tc",
        "--m",
        "1",
        "--k",
        "16641",
        "--n",
        "1",
        "--backend",
        "gpu",
        "--json",
        "--adapter",
    ];
    let args = [&args[..], &[gpu.info.name.as_str()]].concat();
    if highlight_emu::gpu::is_software(&gpu.info) {
        let err = error_of(&args);
        assert!(
            err.contains("stops a shader's loops after 65535 iterations in total")
                && err.contains("LP_MAX_TGSI_LOOP_ITERATIONS")
                && err.contains("use --backend cpu or a hardware GPU"),
            "{err}"
        );
    } else {
        let v: serde_json::Value = serde_json::from_str(&stdout_of(&args)).unwrap();
        assert_eq!(v["cycles"], 1041);
    }
}

/// `--check` where the GPU kernel cannot run the architecture (column tiles of 96, which do not divide its 128-column RF tile) falls back
/// to the CPU without it, and with it says that nothing was compared and fails.
#[test]
fn check_that_cannot_run_on_the_gpu_says_so_and_fails() {
    let Some(gpu) = common::gpu_or_skip("check_that_cannot_run_on_the_gpu_says_so_and_fails") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let arch = dir.path().join("narrow.toml");
    let shipped =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/assets/arch/highlight.toml")).unwrap();
    std::fs::write(&arch, shipped.replace("tile_n = 128", "tile_n = 96")).unwrap();
    let args = [
        "run",
        "--design",
        "highlight",
        "--m",
        "16",
        "--k",
        "32",
        "--n",
        "16",
        "--json",
        "--arch",
        arch.to_str().unwrap(),
        "--adapter",
        &gpu.info.name,
    ];
    let v: serde_json::Value = serde_json::from_str(&stdout_of(&args)).unwrap();
    assert_eq!(v["backend"], "cpu");
    assert!(v["cpu_fallback"].as_str().unwrap().contains("divide its 128-column RF tile"), "{v}");
    let err = error_of(&[&args[..], &["--check"]].concat());
    assert!(
        err.contains("the GPU cannot run this architecture, so nothing was compared")
            && err.contains("column tiles that divide its 128-column RF tile (the machine has 96)"),
        "{err}"
    );
}

/// `bench --check` runs the CPU reference too and records that the GPU equals it.
#[test]
fn bench_check_compares_gpu_with_cpu() {
    let Some(gpu) = common::gpu_or_skip("bench_check_compares_gpu_with_cpu") else {
        return;
    };
    let args = [
        "bench",
        "--sizes",
        "48",
        "--designs",
        "tc,dstc,s2ta",
        "--repeats",
        "1",
        "--check",
        "--adapter",
        &gpu.info.name,
    ];
    let rows: serde_json::Value =
        serde_json::from_str(&stdout_of(&[&args[..], &["--json"]].concat())).unwrap();
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 5, "S2TA runs only the sparse point");
    for row in rows {
        assert_eq!(row["check"]["cpu_gpu_equal"], true, "{row}");
        assert_eq!(row["check"]["z_equals_dense"], true, "{row}");
        // Each run is set beside the plain int8 product of its shape on the same adapter.
        let (plain, ratio) = (row["plain_ms"].as_f64().unwrap(), row["ratio_to_plain"].as_f64().unwrap());
        let time = row["gpu_ms"].as_f64().unwrap_or_else(|| row["wall_ms"].as_f64().unwrap());
        assert!(plain > 0.0 && (ratio - time / plain).abs() < 1e-9 * ratio.max(1.0), "{row}");
    }
    let text = stdout_of(&args);
    assert_eq!(text.matches("GPU = CPU").count(), 5, "{text}");
    assert!(text.contains("(checked: each point's GPU run against the CPU reference"), "{text}");
    assert!(text.contains("plain int8"), "{text}");
    let unchecked: serde_json::Value = serde_json::from_str(&stdout_of(&[
        "bench",
        "--sizes",
        "48",
        "--designs",
        "tc",
        "--repeats",
        "1",
        "--backend",
        "cpu",
        "--json",
    ]))
    .unwrap();
    assert!(unchecked[0].get("check").is_none());
}

/// An architecture with `[bandwidth]`: a very sparse DSTC run is bound by the GLB's reads, the
/// report says so beside the arrays' cycles, and the breakdown shows the hierarchy's counts.
#[test]
fn run_reports_a_bandwidth_bound() {
    let dir = tempfile::tempdir().unwrap();
    let arch = dir.path().join("dstc.toml");
    let shipped = std::fs::read_to_string("assets/arch/dstc.toml").unwrap();
    std::fs::write(
        &arch,
        format!("{shipped}\n[bandwidth]\ndram_read = 32\ndram_write = 32\nglb_read = 42\nglb_write = 42\n"),
    )
    .unwrap();
    let args = ["run", "--design", "dstc", "--m", "256", "--k", "512", "--n", "256"];
    let sparse = ["--a", "unstructured(0.02)", "--b", "unstructured(0.02)", "--arch", arch.to_str().unwrap()];
    let json: serde_json::Value =
        serde_json::from_str(&stdout_of(&[&args[..], &sparse[..], &["--json"]].concat())).unwrap();
    assert_eq!(json["bound"], "glb-read");
    let arrays = json["counters"]["cycles"].as_u64().unwrap();
    assert!(json["cycles"].as_u64().unwrap() > arrays);
    let text = stdout_of(&[&args[..], &sparse[..]].concat());
    assert!(text.contains(&format!("bound by glb-read bandwidth (the arrays: {arrays} cycles)")), "{text}");
    let dram_a = json["hierarchy"]["dram_read_a"].as_u64().unwrap();
    assert!(
        text.lines()
            .any(|l| l.trim_start().starts_with("dram_read_a ") && l.contains(&format!(" {dram_a} "))),
        "{text}"
    );
    // Without bandwidths the arrays' cycles are the run's.
    let shipped: serde_json::Value =
        serde_json::from_str(&stdout_of(&[&args[..], &sparse[..4], &["--json"]].concat())).unwrap();
    assert_eq!(shipped["bound"], "compute");
    assert_eq!(shipped["cycles"], shipped["counters"]["cycles"]);
}

/// The tensor-core kernel's alternatives chosen by environment (to compare them on one GPU) still
/// give the CPU reference's Z and counters: on lavapipe, the workgroup-memory gather, K split
/// three ways, double-buffered A, two arrays per workgroup and two columns per invocation, under
/// `--check`.
#[test]
fn kernel_alternatives_by_environment_equal_cpu() {
    let out = emu()
        .args(["run", "--design", "highlight", "--m", "128", "--k", "256", "--n", "130"])
        .args([
            "--a",
            "K1(2:4)->K0(2:4)",
            "--b",
            "unstructured(0.5)",
            "--adapter",
            "llvmpipe",
            "--check",
            "--json",
        ])
        .env("HIGHLIGHT_GATHER", "workgroup")
        .env("HIGHLIGHT_K_SPLITS", "3")
        .env("HIGHLIGHT_DOUBLE_BUFFER", "1")
        .env("HIGHLIGHT_ARRAYS_PER_WORKGROUP", "2")
        .env("HIGHLIGHT_COLUMNS", "2")
        .env("CI", "true")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["backend"], "gpu");
    assert_eq!(v["check"]["cpu_gpu_equal"], true);
    assert_eq!(v["z_equals_dense"], true);
}

/// The search's flags: `--objective`, `--a-format` and `--b-format` on `run` and `compare`, what
/// they report, and a format the design cannot read refused (exit 2) or marked unsupported.
#[test]
fn search_flags_choose_and_report() {
    let base =
        ["run", "--design", "highlight", "--m", "64", "--k", "256", "--n", "96", "--b", "unstructured(0.3)"];
    let json = |extra: &[&str]| -> serde_json::Value {
        serde_json::from_str(&stdout_of(&[&base[..], extra, &["--json", "--backend", "cpu"]].concat()))
            .unwrap()
    };
    let edp = json(&[]);
    assert_eq!(edp["search"]["objective"], "edp");
    assert!(edp["search"]["candidates"].as_u64().unwrap() > 1);
    assert_eq!(edp["search"]["mapping_given"], false);
    assert!(["uncompressed", "blocked-csr"].contains(&edp["b_format"].as_str().unwrap()), "{edp}");
    assert_eq!(edp["a_format"], "uncompressed", "a dense A is best uncompressed: {edp}");
    let csr = json(&["--b-format", "blocked-csr", "--a-format", "cp"]);
    assert_eq!((csr["a_format"].as_str(), csr["b_format"].as_str()), (Some("cp"), Some("blocked-csr")));
    assert!(csr["hierarchy"]["dram_read_b_meta_bits"].as_u64().unwrap() > 0);
    assert!(edp["edp"].as_f64().unwrap() <= csr["edp"].as_f64().unwrap());
    let energy = json(&["--objective", "energy"]);
    assert_eq!(energy["search"]["objective"], "energy");
    assert!(energy["energy_pj"].as_f64().unwrap() <= edp["energy_pj"].as_f64().unwrap());
    let text = stdout_of(&[&base[..], &["--backend", "cpu"]].concat());
    assert!(
        text.contains("  stored: A uncompressed, B ") && text.contains("chosen for the least edp"),
        "{text}"
    );

    let err = error_of(&[&base[..], &["--b-format", "bitmask"]].concat());
    assert!(
        err.contains("HighLight cannot run B = stored as bitmask")
            && err.contains("uncompressed or blocked-csr"),
        "{err}"
    );
    let err = error_of(&[&base[..], &["--objective", "area"]].concat());
    assert!(err.contains("invalid value 'area'") && err.contains("edp"), "{err}");

    let compare = stdout_of(&[
        "compare",
        "--m",
        "64",
        "--k",
        "64",
        "--n",
        "64",
        "--b-sparsity",
        "0.5",
        "--b-format",
        "bitmask",
        "--backend",
        "cpu",
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_str(&compare).unwrap();
    for d in v["designs"].as_array().unwrap() {
        match d["design"].as_str().unwrap() {
            "dstc" => assert_eq!(d["result"]["b_format"], "bitmask", "{d}"),
            // The baseline runs in its own formats.
            "tc" => assert_eq!(d["result"]["b_format"], "uncompressed", "{d}"),
            "s2ta" => assert!(d["unsupported"].as_str().unwrap().contains("cannot run A = dense"), "{d}"),
            _ => assert!(d["unsupported"].as_str().unwrap().contains("stored as"), "{d}"),
        }
    }
}
