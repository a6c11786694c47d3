//! The GPU path end to end, and every shader validated by naga. CI runs these on lavapipe.

mod common;

use common::{gpu_or_skip, noise};
use highlight_emu::gpu::dense_product::DenseProduct;
use highlight_emu::matrix::dense_product;

/// Ragged shapes that do not fill the 8 x 8 workgroups; extreme values included.
#[test]
fn gpu_dense_product_equals_cpu() {
    let Some(gpu) = gpu_or_skip("gpu_dense_product_equals_cpu") else {
        return;
    };
    let kernel = DenseProduct::new(&gpu);
    for (m, k, n, seed) in [(37, 53, 29, 1), (64, 256, 8, 2), (1, 1, 1, 3)] {
        let a = noise(m, k, seed);
        let b = noise(k, n, seed + 100);
        assert_eq!(
            kernel.run(&gpu, &a, &b).unwrap(),
            dense_product(&a, &b),
            "{m} x {k} x {n}"
        );
    }
    let extreme_a = highlight_emu::matrix::Matrix::from_vec(1, 256, vec![-128i8; 256]);
    let extreme_b = highlight_emu::matrix::Matrix::from_vec(256, 1, vec![-128i8; 256]);
    let z = kernel.run(&gpu, &extreme_a, &extreme_b).unwrap();
    assert_eq!(z.data, vec![256 * 128 * 128]);
}

/// Every `.wgsl` under `shaders/` parses and validates.
#[test]
fn every_shader_validates_with_naga() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("shaders");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "wgsl") {
            continue;
        }
        let source = std::fs::read_to_string(&path).unwrap();
        let module = naga::front::wgsl::parse_str(&source)
            .unwrap_or_else(|e| panic!("{}: {}", path.display(), e.emit_to_string(&source)));
        naga::valid::Validator::new(
            naga::valid::ValidationFlags::all(),
            naga::valid::Capabilities::default(),
        )
        .validate(&module)
        .unwrap_or_else(|e| panic!("{}: {e:?}", path.display()));
        checked += 1;
    }
    assert!(checked > 0, "no shaders found in {}", dir.display());
}
