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
        assert_eq!(kernel.run(&gpu, &a, &b).unwrap(), dense_product(&a, &b), "{m} x {k} x {n}");
    }
    let extreme_a = highlight_emu::matrix::Matrix::from_vec(1, 256, vec![-128i8; 256]);
    let extreme_b = highlight_emu::matrix::Matrix::from_vec(256, 1, vec![-128i8; 256]);
    let z = kernel.run(&gpu, &extreme_a, &extreme_b).unwrap();
    assert_eq!(z.data, vec![256 * 128 * 128]);
}

/// Every `.wgsl` under `shaders/` parses and validates as the GPU compiles it: the prelude
/// (`counters.wgsl`) alone, every kernel after it.
#[test]
fn every_shader_validates_with_naga() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("shaders");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "wgsl") {
            continue;
        }
        let file = std::fs::read_to_string(&path).unwrap();
        let source = if path.ends_with("counters.wgsl") {
            file
        } else {
            format!("{}\n{file}", highlight_emu::gpu::PRELUDE)
        };
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
    assert!(checked >= 5, "only {checked} shaders found in {}", dir.display());
}

use highlight_emu::counters::Counters;
use highlight_emu::design::Design;
use highlight_emu::gpu::highlight::GpuRun;
use highlight_emu::gpu::highlight::HighlightKernel;
use highlight_emu::gpu::sum_partials;
use highlight_emu::gpu::{Gpu, GpuError};
use highlight_emu::pattern::Pattern;
use highlight_emu::run::{Compressed, GpuBackend, Prepared, Workload};

/// Runs a tensor-core design's prepared operands on `kernel`.
fn run_tensor_core(kernel: &HighlightKernel, gpu: &Gpu, prepared: &Prepared) -> Result<GpuRun, GpuError> {
    let Compressed::TensorCore { dataflow, a, b } = &prepared.compressed else {
        panic!("{:?} is not a tensor-core design", prepared.design)
    };
    kernel.run(gpu, dataflow, a, b)
}

/// The prelude's counter indices are the order of `Counters::NAMES`, and no kernel defines its
/// own.
#[test]
fn shader_counter_indices_follow_counters_names() {
    let prelude = highlight_emu::gpu::PRELUDE;
    for (i, name) in Counters::NAMES.iter().enumerate() {
        let line = format!("const C_{} = {i}u;", name.to_uppercase());
        assert!(prelude.contains(&line), "shaders/counters.wgsl lacks `{line}`");
    }
    assert!(prelude.contains(&format!("const NUM_COUNTERS = {}u;", Counters::NAMES.len())));
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("shaders");
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if !path.ends_with("counters.wgsl") {
            assert!(!std::fs::read_to_string(&path).unwrap().contains("const C_"), "{}", path.display());
        }
    }
}

/// Partial counts whose total exceeds 2^32 sum without wrapping.
#[test]
fn partial_counts_sum_in_u64() {
    let width = Counters::NAMES.len();
    let mut words = vec![0u32; 5 * width];
    for wg in 0..5 {
        words[wg * width] = u32::MAX;
        words[wg * width + width - 1] = 3_000_000_000;
    }
    let total = sum_partials(&words);
    assert_eq!(total.glb_read_a, 5 * u64::from(u32::MAX));
    assert_eq!(total.cycles, 15_000_000_000);
    assert_eq!(total.mac, 0);
}

/// GPU equals CPU, Z and every counter, for every design on patterns it supports, with dense and
/// unstructured B and ragged shapes (none a multiple of 64, 128, 16 or H1*H0 where it matters).
#[test]
fn gpu_equals_cpu_reference() {
    let Some(gpu) = gpu_or_skip("gpu_equals_cpu_reference") else {
        return;
    };
    let backend = GpuBackend::new(gpu);
    let cases = [
        (Design::Highlight, 130, 100, 200, "K1(2:4)->K0(2:4)", "dense"),
        (Design::Highlight, 64, 256, 128, "dense", "unstructured(0.5)"),
        (Design::Highlight, 77, 45, 131, "K1(2:8)->K0(2:4)", "unstructured(0.3)"),
        (Design::Highlight, 1, 7, 1, "K0(2:3)", "unstructured(1)"),
        (Design::Highlight, 200, 96, 50, "K1(1:5)->K0(2:2)", "dense"),
        (Design::Highlight, 33, 200, 257, "K1(4:4)->K0(1:4)", "unstructured(0.05)"),
        (Design::Tc, 130, 100, 200, "K1(2:4)->K0(2:4)", "dense"),
        (Design::Tc, 65, 17, 129, "unstructured(0.4)", "unstructured(0.6)"),
        (Design::Tc, 256, 256, 256, "dense", "dense"),
        (Design::Stc, 130, 100, 200, "K0(2:4)", "unstructured(0.5)"),
        (Design::Stc, 70, 33, 129, "dense", "dense"),
        (Design::Stc, 64, 256, 64, "K1(2:4)->K0(1:4)", "dense"),
        (Design::HighlightDsso, 130, 100, 200, "K1(4:4)->K0(2:4)", "K1(2:4)->K0(4:4)"),
        (Design::HighlightDsso, 77, 45, 131, "K1(8:8)->K0(1:3)", "K1(2:8)->K0(3:3)"),
        (Design::HighlightDsso, 65, 70, 66, "K1(2:4)->K0(2:4)", "unstructured(0.5)"),
        (Design::Dstc, 130, 100, 200, "unstructured(0.3)", "unstructured(0.6)"),
        (Design::Dstc, 64, 64, 64, "dense", "dense"),
        (Design::Dstc, 33, 7, 95, "K1(2:4)->K0(2:4)", "unstructured(0.05)"),
        (Design::S2ta, 130, 100, 200, "K0(2:8)", "K0(6:8)"),
        (Design::S2ta, 64, 64, 16, "K0(4:8)", "dense"),
        (Design::S2ta, 65, 17, 33, "K0(1:8)", "K0(1:8)"),
    ];
    for (seed, (design, m, k, n, a, b)) in cases.into_iter().enumerate() {
        let w = Workload {
            m,
            k,
            n,
            a: Pattern::parse(a).unwrap(),
            b: Pattern::parse(b).unwrap(),
            seed: seed as u64,
        };
        let ops = w.operands().unwrap();
        let prepared = Prepared::new(design, design.arch(), &w, &ops).unwrap();
        let (cpu_z, cpu_counters) = prepared.run_cpu(&ops);
        let gpu_run = prepared.emulate_gpu(&backend).unwrap();
        let case = format!("{design:?} {m} x {k} x {n}, A {a}, B {b}");
        assert_eq!(gpu_run.z, dense_product(&ops.a, &ops.b), "{case}: Z");
        assert_eq!(gpu_run.z, cpu_z, "{case}: Z");
        assert_eq!(gpu_run.counters, cpu_counters, "{case}: counters");
    }
}

/// Rows split into several dispatches when a buffer would exceed the binding limit: the result
/// is the one dispatch's. A shape that cannot fit at all is an error, not a device loss.
#[test]
fn large_shapes_split_into_dispatches() {
    let Some(gpu) = gpu_or_skip("large_shapes_split_into_dispatches") else {
        return;
    };
    let w = Workload {
        m: 200,
        k: 64,
        n: 150,
        a: Pattern::parse("K1(2:4)->K0(2:4)").unwrap(),
        b: Pattern::parse("unstructured(0.5)").unwrap(),
        seed: 8,
    };
    let ops = w.operands().unwrap();
    let prepared = Prepared::new(Design::Highlight, Design::Highlight.arch(), &w, &ops).unwrap();
    let (cpu_z, cpu_counters) = prepared.run_cpu(&ops);
    // One 64-row group of Z is 64 x 150 x 4 = 38400 bytes: a 40000-byte limit gives 4 dispatches.
    let split = HighlightKernel::new(&gpu).with_binding_limit(40_000);
    let run = run_tensor_core(&split, &gpu, &prepared).unwrap();
    assert_eq!(run.z, cpu_z);
    assert_eq!(run.counters, cpu_counters);
    let tiny = HighlightKernel::new(&gpu).with_binding_limit(30_000);
    let err = run_tensor_core(&tiny, &gpu, &prepared).err().unwrap().to_string();
    assert!(err.contains("one row group of 64 rows needs 38400 byte buffers"), "{err}");
    let limited = HighlightKernel::new(&gpu).with_binding_limit(1_000);
    let err = run_tensor_core(&limited, &gpu, &prepared).err().unwrap().to_string();
    assert!(err.contains("B (64 x 150) needs a") && err.contains("binds at most 1000 bytes"), "{err}");
}
