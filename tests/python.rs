//! The Python package as a user installs it: `pip install .` (maturin builds python/ against the
//! library) into a virtual environment, then its pytest suite (python/tests), which checks Z
//! against `a @ b` and every counter against this build's command line.
//!
//! Without python3 the test says so, and under `CI=true` it fails. pip needs the network (or a
//! warm cache) for maturin, numpy, pandas, onnx and pytest.

use std::path::Path;
use std::process::Command;

fn run(what: &str, cmd: &mut Command) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{what} failed ({}):\n{text}", out.status);
    eprintln!("{what}:\n{text}");
}

#[test]
fn python_package_tests_pass() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    if Command::new("python3").arg("--version").output().is_err() {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("CI=true but python3 is not installed: the Python package's tests need it");
        }
        eprintln!("python_package_tests_pass: SKIPPED, no python3");
        return;
    }
    // Beside the build, so that maturin's cargo reuses its artifacts; made once, updated by pip.
    let venv = root.join("target").join("python-venv");
    let python = venv.join("bin").join("python");
    if !python.exists() {
        run("python3 -m venv", Command::new("python3").args(["-m", "venv"]).arg(&venv));
    }
    run(
        "pip install .[test]",
        Command::new(&python)
            .args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check", ".[test]"])
            .current_dir(root),
    );
    run(
        "pytest python/tests",
        Command::new(&python)
            .args(["-m", "pytest", "-q", "-p", "no:cacheprovider", "python/tests"])
            .env("HIGHLIGHT_EMU_BIN", env!("CARGO_BIN_EXE_highlight-emu"))
            .current_dir(root),
    );
}
