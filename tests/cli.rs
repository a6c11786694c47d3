//! The command line as a user runs it: outputs, files and error exits.

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
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
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
    assert!(
        text.contains("canonical: K0(2:4)") && text.contains("density:   0.5"),
        "{text}"
    );
}

#[test]
fn bad_pattern_is_one_line_quoting_the_bad_part() {
    let err = error_of(&["spec", "C1(2:4)->C0(2:5"]);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("missing ')' in \"C0(2:5\"") && err.contains("C1(2:4)->C0(2:4)"),
        "{err}"
    );
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
    let NpyMatrix::I8(read_a) = npy::read_matrix(&a_path).unwrap() else {
        panic!("a.npy is not int8")
    };
    assert_eq!(
        read_a,
        generate(&pattern, OperandRole::A, 5, 48, 9).unwrap()
    );
    let NpyMatrix::I8(read_b) = npy::read_matrix(&b_path).unwrap() else {
        panic!("b.npy is not int8")
    };
    assert_eq!((read_b.rows, read_b.cols), (40, 3));
    assert_eq!(
        read_b,
        generate(&pattern, OperandRole::B, 3, 40, 9).unwrap()
    );
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
    assert!(err.contains("cannot write"), "{err}");
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "a failed run left files behind"
    );
}

#[test]
fn prune_keeps_dtype_and_reports_density() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("w.npy");
    let output = dir.path().join("w_hss.npy");
    let weights: Vec<f32> = (0..32)
        .map(|i| ((i * 37 % 17) as f32 - 8.0) * 0.25 + 0.01)
        .collect();
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
    let NpyMatrix::F32(pruned) = npy::read_matrix(&output).unwrap() else {
        panic!("dtype changed")
    };
    assert_eq!((pruned.rows, pruned.cols), (2, 16));
    assert_eq!(pruned.occupancy(), 12);
    assert!(
        pruned
            .data
            .iter()
            .zip(&weights)
            .all(|(&p, &w)| p == 0.0 || p == w)
    );
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
    assert!(
        err.contains("accepted dtypes: int8") && err.contains("float32"),
        "{err}"
    );
    let err = error_of(&[
        "prune",
        "--pattern",
        "K0(2:4)",
        "--in",
        "/no/such.npy",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(err.contains("cannot read /no/such.npy"), "{err}");
    assert!(!out.exists());
}
