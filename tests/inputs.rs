//! Operands from the user's files (`run --a-file/--b-file`): shapes from the files, the pattern
//! detected or checked, float files quantised, and Z still the dense product of the int8 operands.

use assert_cmd::Command;
use highlight_emu::matrix::{Matrix, dense_product};
use highlight_emu::operand::npy;

fn emu() -> Command {
    Command::cargo_bin("highlight-emu").unwrap()
}

/// A 2:4-per-4 and 2-of-4-blocks A (HighLight's K1(2:4)->K0(2:4)), rows x 16, and a B.
fn files(dir: &std::path::Path) -> (Matrix<i8>, Matrix<i8>) {
    let row: [i8; 16] = [3, 0, -2, 0, 0, 0, 0, 0, 0, 5, 0, 1, 0, 0, 0, 0];
    let a = Matrix::from_vec(8, 16, (0..8).flat_map(|r| row.map(|v| v.wrapping_mul(r as i8 + 1))).collect());
    let b =
        Matrix::from_vec(16, 5, (0..80).map(|i| if i % 3 == 0 { 0 } else { (i % 11) as i8 - 5 }).collect());
    npy::write_matrix(&dir.join("a.npy"), &a).unwrap();
    npy::write_matrix(&dir.join("b.npy"), &b).unwrap();
    (a, b)
}

fn json_run(dir: &std::path::Path, args: &[&str]) -> serde_json::Value {
    let out = emu().current_dir(dir).args(["run", "--backend", "cpu", "--json"]).args(args).output().unwrap();
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn refused(dir: &std::path::Path, args: &[&str]) -> String {
    let out = emu().current_dir(dir).args(["run", "--backend", "cpu"]).args(args).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{args:?}");
    String::from_utf8(out.stderr).unwrap()
}

#[test]
fn int8_files_run_as_the_sparsest_pattern_they_have() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = files(dir.path());
    let r = json_run(
        dir.path(),
        &["--design", "highlight", "--a-file", "a.npy", "--b-file", "b.npy", "--save", "out"],
    );
    assert_eq!(
        (r["workload"]["m"].as_u64(), r["workload"]["k"].as_u64(), r["workload"]["n"].as_u64()),
        (Some(8), Some(16), Some(5))
    );
    // Two nonempty K0 blocks per row, padded to 32 coordinates: 2 of 8 blocks, the sparsest.
    assert_eq!(r["workload"]["a"], "K1(2:8)->K0(2:4)");
    let satisfies: Vec<&str> =
        r["inputs"]["a"]["satisfies"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert_eq!(satisfies[0], "K1(2:8)->K0(2:4)");
    assert!(
        satisfies.contains(&"K1(2:4)->K0(2:4)") && satisfies.contains(&"K1(2:2)->K0(2:2)"),
        "{satisfies:?}"
    );
    assert_eq!(r["inputs"]["a"]["dtype"], "int8");
    assert_eq!(r["z_equals_dense"], true);
    let saved_a = match npy::read_matrix(&dir.path().join("out/a.npy")).unwrap() {
        npy::NpyMatrix::I8(m) => m,
        _ => unreachable!(),
    };
    assert_eq!(saved_a, a);
    // Z written by --save is the dense product of the files' operands.
    let zfile = std::fs::read(dir.path().join("out/z.npy")).unwrap();
    let expected = dense_product(&a, &b);
    let dir2 = tempfile::tempdir().unwrap();
    npy::write_matrix(&dir2.path().join("z.npy"), &expected).unwrap();
    assert_eq!(zfile, std::fs::read(dir2.path().join("z.npy")).unwrap());
    // Only A from a file: B is generated with the given N.
    let r = json_run(dir.path(), &["--design", "stc", "--a-file", "a.npy", "--n", "7"]);
    assert_eq!(r["workload"]["a"], "K0(2:4)");
    assert_eq!(r["workload"]["n"], 7);
}

#[test]
fn a_declared_pattern_is_checked_against_the_file() {
    let dir = tempfile::tempdir().unwrap();
    files(dir.path());
    // Row 0's K0 fibers: [3,0,-2,0] has 2 nonzeros, so K0(1:4) breaks at row 0, K 0; every row
    // has two such fibers: 16 fibers break it.
    let err = refused(
        dir.path(),
        &["--design", "highlight", "--a-file", "a.npy", "--b-file", "b.npy", "--a", "K1(2:4)->K0(1:4)"],
    );
    assert!(
        err.contains("a.npy breaks K1(2:4)->K0(1:4): row 0's fiber at K 0 holds 2 nonempty children"),
        "{err}"
    );
    assert!(err.contains("16 fibers break it"), "{err}");
    let ok = json_run(
        dir.path(),
        &["--design", "highlight", "--a-file", "a.npy", "--b-file", "b.npy", "--a", "K1(2:4)->K0(2:4)"],
    );
    assert_eq!(ok["z_equals_dense"], true);
    // Shapes that disagree, and a design none of whose patterns the data has.
    let err = refused(dir.path(), &["--design", "tc", "--a-file", "a.npy", "--b-file", "b.npy", "--m", "9"]);
    assert!(err.contains("M is 9 from --m but 8 from a.npy's rows"), "{err}");
    // Two files that disagree name both, not a flag nobody gave.
    npy::write_matrix(&dir.path().join("b20.npy"), &Matrix::from_vec(20, 4, vec![1i8; 80])).unwrap();
    let err = refused(dir.path(), &["--design", "tc", "--a-file", "a.npy", "--b-file", "b20.npy"]);
    assert!(err.contains("K is 16 from a.npy's columns but 20 from b20.npy's rows"), "{err}");
    // A value that is not finite is named where it is, not blamed on prune.
    let mut nan = Matrix::from_vec(8, 16, vec![0.5f32; 128]);
    nan.data[3 * 16 + 5] = f32::NAN;
    npy::write_matrix(&dir.path().join("nan.npy"), &nan).unwrap();
    let err = refused(dir.path(), &["--design", "tc", "--a-file", "nan.npy", "--n", "4"]);
    assert!(err.contains("nan.npy: holds NaN at [3, 5] (the first value that is not finite)"), "{err}");
    // A complete float16 file is an unsupported dtype, not a truncated file.
    let half: Vec<half::f16> = vec![half::f16::ONE; 128];
    npy::write_matrix(&dir.path().join("half.npy"), &Matrix::from_vec(8, 16, half)).unwrap();
    let err = refused(dir.path(), &["--design", "tc", "--a-file", "half.npy", "--n", "4"]);
    assert!(err.contains("half.npy: dtype '<f2'; accepted dtypes: int8"), "{err}");
    let dense = Matrix::from_vec(2, 16, vec![1i8; 32]);
    npy::write_matrix(&dir.path().join("dense.npy"), &dense).unwrap();
    let err = refused(dir.path(), &["--design", "s2ta", "--a-file", "dense.npy", "--n", "4"]);
    assert!(err.contains("satisfies none of S2TA's patterns for A"), "{err}");
}

#[test]
fn float_files_are_quantised_symmetrically() {
    let dir = tempfile::tempdir().unwrap();
    // max |x| = 12.7: scale 0.1. 0.05 is half a step and rounds away from zero to 1 (in f32
    // 0.05 is a hair above it); 0.04 rounds to 0.
    let values: Vec<f32> = vec![12.7, -12.7, 0.05, 0.04, 0.0, 1.0, -2.0, 0.0];
    let a = Matrix::from_vec(2, 4, values);
    npy::write_matrix(&dir.path().join("w.npy"), &a).unwrap();
    let r = json_run(dir.path(), &["--design", "dstc", "--a-file", "w.npy", "--n", "3"]);
    let q = &r["inputs"]["a"]["quantization"];
    assert!((q["scale"].as_f64().unwrap() - 12.7f32 as f64 / 127.0).abs() < 1e-12, "{q}");
    assert_eq!(q["density_before"], 0.75);
    assert_eq!(q["density_after"], 0.625);
    assert_eq!(r["inputs"]["a"]["dtype"], "float32");
    assert_eq!(r["workload"]["a_density"], 0.625);
    assert_eq!(r["z_equals_dense"], true);
}

#[test]
fn compare_runs_every_design_on_the_files() {
    let dir = tempfile::tempdir().unwrap();
    files(dir.path());
    let out = emu()
        .current_dir(dir.path())
        .args(["compare", "--a-file", "a.npy", "--b-file", "b.npy", "--backend", "cpu", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["point"]["operands"]["kind"], "files");
    for d in v["designs"].as_array().unwrap() {
        let r = &d["result"];
        if r.is_null() {
            assert!(d["unsupported"].as_str().unwrap().contains("patterns"), "{d}");
            continue;
        }
        assert_eq!(r["z_equals_dense"], true, "{d}");
        assert_eq!((r["workload"]["m"].as_u64(), r["workload"]["n"].as_u64()), (Some(8), Some(5)));
    }
    let highlight = v["designs"].as_array().unwrap().iter().find(|d| d["design"] == "highlight").unwrap();
    assert_eq!(highlight["result"]["workload"]["a"], "K1(2:8)->K0(2:4)");
    let err = emu().current_dir(dir.path()).args(["compare", "--a-file", "a.npy"]).output().unwrap();
    assert_eq!(err.status.code(), Some(2));
}
