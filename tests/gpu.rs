//! The GPU path end to end, and every shader validated by naga. CI runs these on lavapipe.

mod common;

use common::{gpu_or_skip, noise};
use highlight_emu::gpu::dense_product::DenseProduct;
use highlight_emu::matrix::{Matrix, dense_product};

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
use highlight_emu::format::Format;
use highlight_emu::gpu::highlight::GpuRun;
use highlight_emu::gpu::highlight::HighlightKernel;
use highlight_emu::gpu::sum_partials;
use highlight_emu::gpu::{Gpu, GpuError};
use highlight_emu::pattern::Pattern;
use highlight_emu::run::{Compressed, GpuBackend, Operands, Prepared, Workload};
use highlight_emu::search::Formats;

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
    // A row is the counts, then the workgroup's step count.
    assert!(prelude.contains("const ROW_WORDS = NUM_COUNTERS + 1u;"));
    assert_eq!(highlight_emu::gpu::ROW_WORDS, Counters::NAMES.len() + 1);
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
    let width = highlight_emu::gpu::ROW_WORDS;
    let mut words = vec![0u32; 5 * width];
    for wg in 0..5 {
        words[wg * width] = u32::MAX;
        words[wg * width + Counters::NAMES.len() - 1] = 3_000_000_000;
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
        if let Err(e) = gpu_equals_cpu(&backend, design, (m, k, n), (a, b), seed as u64) {
            panic!("{e}");
        }
    }
}

/// DSTC's kernel for every sub-tile the search or a mapping can give it (16, 32 or 64 rows and columns; the
/// artifact's maps use 32 x 64 and 64 x 32), on ragged shapes: Z and every counter as the CPU's.
#[test]
fn dstc_sub_tiles_on_gpu_equal_cpu() {
    let Some(gpu) = gpu_or_skip("dstc_sub_tiles_on_gpu_equal_cpu") else {
        return;
    };
    let backend = GpuBackend::new(gpu);
    for shape in [(130, 40, 200), (65, 17, 129)] {
        for sub in [(16, 16), (16, 64), (32, 16), (32, 32), (32, 64), (64, 16), (64, 32), (64, 64)] {
            let adjust = |prepared: &mut Prepared| {
                let Compressed::Dstc { dstc, .. } = &mut prepared.compressed else { unreachable!() };
                (dstc.sub_rows, dstc.sub_cols) = sub;
            };
            let run = |prepared: &Prepared| prepared.emulate_gpu(&backend).map(|e| (e.z, e.counters));
            let patterns = ("unstructured(0.3)", "unstructured(0.6)");
            if let Err(e) = gpu_equals_cpu_by(Design::Dstc, shape, patterns, 9, adjust, run) {
                panic!("sub-tile {sub:?}: {e}");
            }
        }
    }
}

/// The tensor-core kernel for every column tile the search can choose (A reloaded per tile, the
/// workgroup's 128 columns holding several), on ragged N: Z and every counter as the CPU's.
#[test]
fn column_tiles_on_gpu_equal_cpu() {
    let Some(gpu) = gpu_or_skip("column_tiles_on_gpu_equal_cpu") else {
        return;
    };
    let backend = GpuBackend::new(gpu);
    let cases = [
        (Design::Tc, "dense", "unstructured(0.5)"),
        (Design::Highlight, "K1(2:4)->K0(2:4)", "unstructured(0.4)"),
        (Design::HighlightDsso, "K1(4:4)->K0(2:4)", "K1(2:4)->K0(4:4)"),
    ];
    for (design, a, b) in cases {
        for tile_n in [64, 32, 16] {
            let adjust = |prepared: &mut Prepared| {
                let Compressed::TensorCore { dataflow, .. } = &mut prepared.compressed else {
                    unreachable!()
                };
                dataflow.tile_n = tile_n;
            };
            let run = |prepared: &Prepared| prepared.emulate_gpu(&backend).map(|e| (e.z, e.counters));
            if let Err(e) = gpu_equals_cpu_by(design, (70, 64, 200), (a, b), 4, adjust, run) {
                panic!("column tile {tile_n}: {e}");
            }
        }
    }
}

/// Runs one workload on the GPU and the CPU reference: Z must be the dense product on both, and
/// every counter equal; the error names the case and what differs.
fn gpu_equals_cpu(
    backend: &GpuBackend,
    design: Design,
    shape: (usize, usize, usize),
    patterns: (&str, &str),
    seed: u64,
) -> Result<(), String> {
    gpu_equals_cpu_by(
        design,
        shape,
        patterns,
        seed,
        |_| {},
        |prepared| prepared.emulate_gpu(backend).map(|e| (e.z, e.counters)),
    )
}

/// [`gpu_equals_cpu`] with the prepared machine changed by `adjust` and run on the GPU by
/// `run_gpu` (a kernel with settings of its own).
fn gpu_equals_cpu_by(
    design: Design,
    (m, k, n): (usize, usize, usize),
    (a, b): (&str, &str),
    seed: u64,
    adjust: impl FnOnce(&mut Prepared),
    run_gpu: impl FnOnce(&Prepared) -> Result<(Matrix<i32>, Counters), GpuError>,
) -> Result<(), String> {
    let w = Workload { m, k, n, a: Pattern::parse(a).unwrap(), b: Pattern::parse(b).unwrap(), seed };
    let ops = w.operands().unwrap();
    let mut prepared = prepare(design, &w, &ops);
    adjust(&mut prepared);
    let (cpu_z, cpu_counters) = prepared.run_cpu(&ops);
    let case = format!("{design:?} {m} x {k} x {n}, A {a}, B {b}");
    let (gpu_z, gpu_counters) = run_gpu(&prepared).map_err(|e| format!("{case}: {e}"))?;
    if gpu_z != dense_product(&ops.a, &ops.b) || gpu_z != cpu_z {
        return Err(format!("{case}: Z differs"));
    }
    if gpu_counters != cpu_counters {
        return Err(format!("{case}: counters {gpu_counters:?} on the GPU, {cpu_counters:?} on the CPU"));
    }
    Ok(())
}

/// A tensor-core design on `kernel`, against the CPU reference; panics naming `what` and the case.
fn kernel_equals_cpu(
    kernel: &HighlightKernel,
    gpu: &Gpu,
    (design, m, k, n, a, b): (Design, usize, usize, usize, &str, &str),
    seed: u64,
    what: &str,
) {
    let run = |prepared: &Prepared| run_tensor_core(kernel, gpu, prepared).map(|r| (r.z, r.counters));
    if let Err(e) = gpu_equals_cpu_by(design, (m, k, n), (a, b), seed, |_| {}, run) {
        panic!("{what}: {e}");
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
    let prepared = prepare(Design::Highlight, &w, &ops);
    let (cpu_z, cpu_counters) = prepared.run_cpu(&ops);
    // One 64-row group of Z is 64 x 150 x 4 = 38400 bytes: a 40000-byte limit gives 4 dispatches.
    let split = HighlightKernel::new(&gpu).with_binding_limit(40_000);
    let run = run_tensor_core(&split, &gpu, &prepared).unwrap();
    assert_eq!(run.z, cpu_z);
    assert_eq!(run.counters, cpu_counters);
    // Capped at one row group's MAC slots per dispatch (a display watchdog's split), with K split
    // too: the same Z and counts.
    let capped = HighlightKernel::new(&gpu).with_max_slots_per_dispatch(1).with_k_splits(2);
    let run = run_tensor_core(&capped, &gpu, &prepared).unwrap();
    assert_eq!(run.z, cpu_z);
    assert_eq!(run.counters, cpu_counters);
    let tiny = HighlightKernel::new(&gpu).with_binding_limit(30_000);
    let err = run_tensor_core(&tiny, &gpu, &prepared).err().unwrap().to_string();
    assert!(err.contains("one row group of 64 rows needs 38400 byte buffers"), "{err}");
    let limited = HighlightKernel::new(&gpu).with_binding_limit(1_000);
    let err = run_tensor_core(&limited, &gpu, &prepared).err().unwrap().to_string();
    assert!(err.contains("B (64 x 150) needs a") && err.contains("binds at most 1000 bytes"), "{err}");
}

use highlight_emu::gpu::ROW_WORDS;
use highlight_emu::gpu::highlight::KernelShape;
use highlight_emu::gpu::selfcheck::Expected;

/// What the self-check expects of a prepared design's run.
fn expected_of(prepared: &Prepared, w: &Workload) -> Expected {
    match &prepared.compressed {
        Compressed::TensorCore { dataflow, .. } => {
            Expected::tensor_core(&KernelShape::of_dataflow(dataflow), w.m, w.k, w.n)
        }
        Compressed::Dstc { a_columns, b_rows, .. } => Expected::dstc(a_columns, b_rows),
        Compressed::S2ta { s2ta, a, .. } => Expected::s2ta(s2ta, w.m, w.n, a.fibers),
    }
}

/// The self-check's closed forms hold for the CPU reference's counters on every design, with
/// ragged shapes and padding; a count off by one in either is caught, naming the counter.
#[test]
fn selfcheck_matches_the_cpu_reference_and_catches_tampered_counters() {
    let cases = [
        (Design::Tc, 130, 100, 200, "K1(2:4)->K0(2:4)", "dense"),
        (Design::Tc, 1, 17, 1, "dense", "dense"),
        (Design::Stc, 70, 33, 129, "K0(2:4)", "unstructured(0.5)"),
        (Design::Highlight, 77, 45, 131, "K1(2:8)->K0(2:4)", "unstructured(0.3)"),
        (Design::Highlight, 1, 7, 1, "K0(2:3)", "dense"),
        (Design::HighlightDsso, 77, 45, 131, "K1(8:8)->K0(1:3)", "K1(2:8)->K0(3:3)"),
        (Design::Dstc, 130, 100, 200, "unstructured(0.3)", "unstructured(0.6)"),
        (Design::S2ta, 65, 17, 33, "K0(1:8)", "K0(1:8)"),
        (Design::S2ta, 130, 100, 200, "K0(2:8)", "dense"),
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
        let prepared = prepare(design, &w, &ops);
        let (_, counters) = prepared.run_cpu(&ops);
        let expected = expected_of(&prepared, &w);
        let case = format!("{design:?} {m} x {k} x {n}, A {a}, B {b}");
        expected.check_counters(&counters).unwrap_or_else(|e| panic!("{case}: {e}"));
        let mut short_cycles = counters;
        short_cycles.cycles -= 1;
        match expected.check_counters(&short_cycles) {
            Err(GpuError::SelfCheck(e)) => assert!(e.contains("counter cycles is"), "{case}: {e}"),
            Ok(()) => assert_eq!(design, Design::Dstc, "{case}: cycles have a closed form"),
            Err(e) => panic!("{case}: {e}"),
        }
        let mut extra_mac = counters;
        extra_mac.mac += 1;
        let err = expected.check_counters(&extra_mac).unwrap_err().to_string();
        assert!(err.contains("GPU self-check failed: counters mac + mac_gated are"), "{case}: {err}");
    }
}

/// Every workgroup's row must report all its steps: a row of 0 (a workgroup that never ran) and
/// a short count (one cut short) are caught, naming the workgroup; the step word is not summed.
#[test]
fn selfcheck_catches_a_missing_or_short_workgroup_row() {
    let expected = Expected { steps: 5, split: None, step: "k-steps", cycles: None, mac_slots: 0 };
    let mut words = vec![0u32; 4 * ROW_WORDS];
    for row in words.chunks_mut(ROW_WORDS) {
        row[0] = 7;
        row[ROW_WORDS - 1] = 5;
    }
    expected.check_rows(&words).unwrap();
    assert_eq!(sum_partials(&words).glb_read_a, 28);
    assert_eq!(sum_partials(&words).cycles, 0);
    let mut missing = words.clone();
    missing[2 * ROW_WORDS..3 * ROW_WORDS].fill(0);
    let err = expected.check_rows(&missing).unwrap_err().to_string();
    assert!(
        err.contains("workgroup 2 of 4 completed 0 of 5 k-steps (a row of 0: it never reported)"),
        "{err}"
    );
    let mut short = words;
    short[ROW_WORDS - 1] = 4;
    let err = expected.check_rows(&short).unwrap_err().to_string();
    assert!(err.ends_with("workgroup 0 of 4 completed 4 of 5 k-steps; the adapter cut the run short or lost work, so nothing is reported"), "{err}");
}

/// Runs whose loops exceed Mesa's software loop limit: refused up front on a software adapter,
/// and, with the refusal switched off, caught by the self-check rather than returned (on
/// lavapipe today: cycles 0 beside a correct Z). A hardware adapter runs them and agrees with the
/// CPU reference.
#[test]
fn software_loop_limit_is_refused_and_a_cut_run_is_caught() {
    let Some(gpu) = gpu_or_skip("software_loop_limit_is_refused_and_a_cut_run_is_caught") else {
        return;
    };
    let software = highlight_emu::gpu::is_software(&gpu.info);
    let mut backend = GpuBackend::new(gpu);
    let cases = [
        // Large enough that the loops really are cut short, whatever Mesa unrolls (with the
        // configuration baked into the pipeline it unrolls the inner loops).
        (Design::Tc, 100_000, "dense", "dense"),
        (Design::Dstc, 100_000, "dense", "dense"),
        (Design::S2ta, 100_000, "K0(2:8)", "dense"),
    ];
    for (design, k, a, b) in cases {
        let w =
            Workload { m: 1, k, n: 1, a: Pattern::parse(a).unwrap(), b: Pattern::parse(b).unwrap(), seed: 3 };
        let ops = w.operands().unwrap();
        let prepared = prepare(design, &w, &ops);
        backend.gpu.loop_limit = software.then_some(highlight_emu::gpu::SOFTWARE_LOOP_LIMIT);
        let run = prepared.emulate_gpu(&backend);
        if !software {
            let run = run.unwrap();
            assert_eq!((run.z, run.counters), prepared.run_cpu(&ops), "{design:?}");
            continue;
        }
        let err = run.err().unwrap();
        assert!(
            matches!(err, GpuError::TooLarge(_)) && err.to_string().contains("65535"),
            "{design:?}: {err}"
        );
        backend.gpu.loop_limit = None;
        match prepared.emulate_gpu(&backend) {
            Err(GpuError::SelfCheck(e)) => eprintln!("{design:?}: caught: {e}"),
            Err(e) => panic!("{design:?}: {e}"),
            Ok(_) => panic!("{design:?}: a run cut short passed the self-check"),
        }
    }
}

/// GPU equals CPU, Z and every counter, over random shapes (at most 128 per dimension, K small
/// enough for lavapipe's loop limit) and random patterns each design runs.
#[test]
fn gpu_equals_cpu_over_random_shapes_and_patterns() {
    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestRunner};
    let Some(gpu) = gpu_or_skip("gpu_equals_cpu_over_random_shapes_and_patterns") else {
        return;
    };
    let backend = GpuBackend::new(gpu);
    let b_pattern =
        prop_oneof![Just("dense".to_string()), (1u32..=9).prop_map(|d| format!("unstructured(0.{d})")),];
    let case = prop_oneof![
        (1u32..=2, 2u32..=8, 1u32..=2, 2u32..=4)
            .prop_map(|(g1, h1, g0, h0)| (Design::Highlight, format!("K1({g1}:{h1})->K0({g0}:{h0})"))),
        (1u32..=2).prop_map(|g| (Design::Stc, format!("K0({g}:4)"))),
        (1u32..=9).prop_map(|d| (Design::Tc, format!("unstructured(0.{d})"))),
        (1u32..=9).prop_map(|d| (Design::Dstc, format!("unstructured(0.{d})"))),
        (1u32..=4).prop_map(|g| (Design::S2ta, format!("K0({g}:8)"))),
    ];
    let mut runner = TestRunner::new(Config { cases: 24, failure_persistence: None, ..Config::default() });
    runner
        .run(
            &(1usize..=128, 1usize..=96, 1usize..=128, case, b_pattern, any::<u64>()),
            |(m, k, n, (design, a), b, seed)| {
                // S2TA takes B dense or K0(G:8); the others any B.
                let b = if design == Design::S2ta { "dense".to_string() } else { b };
                gpu_equals_cpu(&backend, design, (m, k, n), (&a, &b), seed).map_err(TestCaseError::fail)?;
                Ok(())
            },
        )
        .unwrap();
}

/// DSTC's and S2TA's kernels refuse a K whose per-workgroup u32 counts could wrap (the run falls
/// back to the CPU reference), before any dispatch.
#[test]
fn dstc_and_s2ta_refuse_a_k_whose_counts_could_wrap() {
    let Some(gpu) = gpu_or_skip("dstc_and_s2ta_refuse_a_k_whose_counts_could_wrap") else {
        return;
    };
    let backend = GpuBackend::new(gpu);
    let k = (1 << 19) + 8;
    for (design, a, b) in [(Design::Dstc, "unstructured(0.5)", "dense"), (Design::S2ta, "K0(2:8)", "dense")] {
        let w =
            Workload { m: 1, k, n: 1, a: Pattern::parse(a).unwrap(), b: Pattern::parse(b).unwrap(), seed: 1 };
        let ops = w.operands().unwrap();
        let prepared = prepare(design, &w, &ops);
        match prepared.emulate_gpu(&backend) {
            Err(GpuError::Unsupported(why)) => {
                assert!(why.contains("counts cannot wrap"), "{design:?}: {why}")
            }
            Err(e) => panic!("{design:?}: {e}"),
            Ok(_) => panic!("{design:?}: K = {k} ran"),
        }
    }
}

/// The tensor-core kernel's two ways of gathering B's window (workgroup memory, which hardware
/// GPUs take, and a private array, which software adapters take) give the CPU's Z and counters on
/// the same adapter, over patterns that gather (HighLight, STC, DSSO) and one that does not (TC).
#[test]
fn both_window_gathers_equal_cpu() {
    let Some(gpu) = gpu_or_skip("both_window_gathers_equal_cpu") else {
        return;
    };
    let cases = [
        (Design::Highlight, 130, 100, 200, "K1(2:4)->K0(2:4)", "dense"),
        (Design::Highlight, 77, 45, 131, "K1(2:8)->K0(2:4)", "unstructured(0.3)"),
        (Design::Highlight, 33, 200, 129, "K1(1:5)->K0(2:3)", "dense"),
        (Design::Stc, 70, 33, 129, "K0(2:4)", "dense"),
        (Design::HighlightDsso, 65, 70, 66, "K1(4:4)->K0(2:4)", "K1(2:4)->K0(4:4)"),
        (Design::Tc, 65, 17, 129, "unstructured(0.4)", "unstructured(0.6)"),
    ];
    for shared in [true, false] {
        let kernel = HighlightKernel::new(&gpu).with_window_shared(shared);
        for (seed, case) in cases.into_iter().enumerate() {
            kernel_equals_cpu(&kernel, &gpu, case, seed as u64, &format!("window shared {shared}"));
        }
    }
}

/// The tensor-core kernel's tilings (PE arrays per workgroup, output columns per invocation,
/// A double-buffered or not, with either window gather and with K split) give the CPU's Z and
/// counters, on shapes that leave partial row groups, arrays, RF tiles and column strides.
#[test]
fn tilings_equal_cpu() {
    let Some(gpu) = gpu_or_skip("tilings_equal_cpu") else {
        return;
    };
    let cases = [
        (Design::Highlight, 130, 100, 131, "K1(2:4)->K0(2:4)", "dense"),
        (Design::Highlight, 77, 45, 200, "K1(2:8)->K0(2:4)", "unstructured(0.3)"),
        (Design::Tc, 65, 33, 5, "unstructured(0.4)", "dense"),
        (Design::Stc, 40, 70, 129, "K0(2:4)", "dense"),
        (Design::HighlightDsso, 65, 70, 66, "K1(4:4)->K0(2:4)", "K1(2:4)->K0(4:4)"),
    ];
    // (arrays, columns, double-buffered, window shared, K splits)
    let tilings = [
        (1, 1, false, false, 1),
        (1, 2, true, false, 1),
        (2, 2, false, true, 1),
        (4, 1, true, true, 1),
        (1, 4, true, false, 1),
        (4, 4, false, false, 1),
        (2, 2, true, true, 3),
    ];
    for (arrays, columns, double, shared, splits) in tilings {
        let kernel = HighlightKernel::new(&gpu)
            .with_arrays_per_workgroup(arrays)
            .with_columns(columns)
            .with_double_buffer(double)
            .with_window_shared(shared)
            .with_k_splits(splits);
        let what = format!(
            "{arrays} arrays, {columns} columns, double-buffered {double}, shared window {shared}, {splits} splits"
        );
        for (seed, case) in cases.into_iter().enumerate() {
            kernel_equals_cpu(&kernel, &gpu, case, seed as u64, &what);
        }
    }
}

/// K split between workgroups (as hardware GPUs do for small M x N, forced here on lavapipe):
/// Z and every counter as the CPU's, each split's workgroups reporting their own k-steps, for
/// splits that divide the k-steps and splits that leave a short last one.
#[test]
fn k_splits_equal_cpu() {
    let Some(gpu) = gpu_or_skip("k_splits_equal_cpu") else {
        return;
    };
    let cases = [
        (Design::Highlight, 130, 300, 200, "K1(2:4)->K0(2:4)", "unstructured(0.5)"),
        (Design::Tc, 65, 170, 129, "dense", "dense"),
        (Design::Stc, 70, 100, 129, "K0(2:4)", "dense"),
        (Design::HighlightDsso, 65, 140, 66, "K1(4:4)->K0(2:4)", "K1(2:4)->K0(4:4)"),
    ];
    for splits in [2, 3, 7, 1000] {
        let kernel = HighlightKernel::new(&gpu).with_k_splits(splits);
        for (seed, case) in cases.into_iter().enumerate() {
            kernel_equals_cpu(&kernel, &gpu, case, seed as u64, &format!("{splits} splits"));
        }
    }
}

/// The design ready to run, with sparse B in blocked CSR where the design can store it so: the
/// kernels' CSR path is the one these tests hold to the CPU (the search may store B either way).
fn prepare(design: Design, w: &Workload, ops: &Operands) -> Prepared {
    let mut p = Prepared::new(design, design.arch(), w, ops, (None, None)).unwrap();
    if w.b != Pattern::Dense && p.allowed()[1].contains(&Format::BlockedCsr) {
        p.set_formats(Formats { b: Format::BlockedCsr, ..p.formats }, ops);
    }
    p
}
