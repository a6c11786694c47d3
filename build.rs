//! Nothing to build. The script exists for its `[build-dependencies]` (Cargo.toml): they give syn
//! the features the Python package's macros give it, so that `cargo test --release` and
//! `pip install .` share one set of compiled dependencies.
fn main() {
    println!("cargo::rerun-if-changed=build.rs");
}
