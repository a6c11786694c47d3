//! `highlight-emu model`: ONNX models built here with `tract_onnx::pb` and `prost` (no binary
//! blobs, no Python), captured layer by layer: GEMM shapes, the im2col's density against one
//! computed independently, Z equal to the dense product on every design, pruned weights in their
//! pattern; and the shipped light ResNet-50's shapes against workloads/resnet50.toml.

use std::path::Path;

use assert_cmd::Command;
use highlight_emu::matrix::Matrix;
use highlight_emu::model::{Image, Inputs, capture};
use highlight_emu::operand::conform::satisfies;
use highlight_emu::operand::npy;
use highlight_emu::pattern::Pattern;
use tract_onnx::pb;

mod common;
use common::onnx::*;

/// The tool run in `dir`.
fn emu_in(dir: &Path) -> Command {
    let mut cmd = Command::cargo_bin("highlight-emu").unwrap();
    cmd.current_dir(dir);
    cmd
}

/// `model MODEL --input X --weight-sparsity SPARSITIES` run in `dir`, on the CPU reference.
fn model_with_input(dir: &Path, model: &Path, x: &Path, sparsities: &str) -> Command {
    let mut cmd = emu_in(dir);
    cmd.args([
        "model",
        model.to_str().unwrap(),
        "--input",
        x.to_str().unwrap(),
        "--weight-sparsity",
        sparsities,
    ])
    .args(["--backend", "cpu"]);
    cmd
}

/// `--input x.npy`, as the library takes it.
fn file_input(x: &Path) -> Inputs {
    Inputs { files: vec![x.display().to_string()], ..Default::default() }
}

/// x [1, 4, 6, 6] -> conv3x3 pads 1 (4 -> 6) -> Relu -> depthwise conv3x3 stride 2 pads 1
/// (group 6) -> conv1x1 (6 -> 8) -> Flatten -> Gemm (72 -> 10, transB) -> MatMul of the result
/// with itself transposed (activation x activation: skipped).
fn small_model(dir: &Path) -> std::path::PathBuf {
    let graph = pb::GraphProto {
        name: "small".into(),
        node: vec![
            node(
                "conv3x3",
                "Conv",
                &["x", "w1"],
                "c1",
                vec![ints("pads", &[1, 1, 1, 1]), ints("kernel_shape", &[3, 3])],
            ),
            node("relu", "Relu", &["c1"], "r1", vec![]),
            node(
                "depthwise",
                "Conv",
                &["r1", "w2"],
                "c2",
                vec![ints("strides", &[2, 2]), ints("pads", &[1, 1, 1, 1]), int("group", 6)],
            ),
            node("pointwise", "Conv", &["c2", "w3"], "c3", vec![]),
            node("flatten", "Flatten", &["c3"], "f", vec![]),
            node("fc", "Gemm", &["f", "w4"], "y", vec![int("transB", 1)]),
            node("transpose", "Transpose", &["y"], "yt", vec![]),
            node("self", "MatMul", &["y", "yt"], "out", vec![]),
        ],
        initializer: vec![
            tensor("w1", &[6, 4, 3, 3], weights(216, 1)),
            tensor("w2", &[6, 1, 3, 3], weights(54, 2)),
            tensor("w3", &[8, 6, 1, 1], weights(48, 3)),
            tensor("w4", &[10, 72], weights(720, 4)),
        ],
        input: vec![value("x", &[1, 4, 6, 6])],
        output: vec![value("out", &[1, 1])],
        ..Default::default()
    };
    save(graph, &dir.join("small.onnx"))
}

/// The input, with zeros: x[c, h, w] = 0 where (c + h + w) % 3 == 0.
fn input() -> Vec<f32> {
    let mut x = Vec::new();
    for c in 0..4 {
        for h in 0..6 {
            for w in 0..6 {
                x.push(if (c + h + w) % 3 == 0 { 0.0 } else { (c * 5 + h) as f32 - w as f32 * 0.5 });
            }
        }
    }
    x
}

fn write_input(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("x.npy");
    write_npy(&path, &[1, 4, 6, 6], &input());
    path
}

#[test]
fn captured_layers_have_the_gemm_shapes_and_densities() {
    let dir = tempfile::tempdir().unwrap();
    let model = small_model(dir.path());
    let x = write_input(dir.path());
    let layers = capture(&model, &file_input(&x), false).unwrap();
    let names: Vec<&str> = layers.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(names, ["conv3x3", "depthwise", "pointwise", "fc", "self"]);
    let shapes: Vec<Vec<(usize, usize, usize)>> = layers
        .iter()
        .map(|l| {
            l.gemms.as_ref().map_or(vec![], |g| g.iter().map(|g| (g.a.rows, g.a.cols, g.b.cols)).collect())
        })
        .collect();
    assert_eq!(shapes[0], vec![(6, 36, 36)]);
    assert_eq!(shapes[1], vec![(1, 9, 9); 6]);
    assert_eq!(shapes[2], vec![(8, 6, 9)]);
    assert_eq!(shapes[3], vec![(10, 72, 1)]);
    assert!(layers[4].gemms.as_ref().unwrap_err().contains("activation x activation"));
    // The first conv's B is the im2col of the input: its density, counted directly.
    let b = &layers[0].gemms.as_ref().unwrap()[0].b;
    let (nonzero, all) = im2col_nonzeros(&input(), (6, 6), 3, 1, 1, 0..4);
    assert_eq!(b.data.len(), all);
    assert_eq!(b.data.iter().filter(|v| **v != 0.0).count(), nonzero);
    // The weights as A: filter m, k = (r S + s) C + c.
    let a = &layers[0].gemms.as_ref().unwrap()[0].a;
    let w1 = weights(216, 1);
    assert_eq!(a.get(2, (3 + 2) * 4 + 1), w1[((2 * 4 + 1) * 3 + 1) * 3 + 2]);
    // Pruned to HighLight's 50 % pattern, the weights have it.
    let pattern = Pattern::parse("K1(2:4)->K0(2:4)").unwrap();
    let pruned = highlight_emu::operand::prune(a, &pattern).unwrap();
    let as_int =
        Matrix::from_vec(pruned.rows, pruned.cols, pruned.data.iter().map(|v| i8::from(*v != 0.0)).collect());
    assert!(satisfies(&as_int, &pattern));
}

#[test]
fn every_design_runs_every_layer_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let model = small_model(dir.path());
    let x = write_input(dir.path());
    let out = model_with_input(dir.path(), &model, &x, "0,0.5,0.75")
        .args(["--out", "res", "--export-workload", "small.toml"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let layers = std::fs::read_to_string(dir.path().join("res/layers.csv")).unwrap();
    assert!(
        layers.starts_with(
            "index,name,op,groups,m,k,n,macs,a_density,b_density,b_density_int8,skipped,a_operand"
        ),
        "{layers}"
    );
    assert!(layers.contains(",depthwise,Conv,6,1,9,9,486,"), "{layers}");
    assert!(layers.contains("activation x activation"), "{layers}");
    let results: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("res/results.json")).unwrap()).unwrap();
    let rows = results["rows"].as_array().unwrap();
    // 4 captured layers x 3 sparsities x 6 designs.
    assert_eq!(rows.len(), 4 * 3 * 6);
    for r in rows {
        if let Some(res) = r["result"].as_object() {
            assert_eq!(res["z_equals_dense"], true, "{r}");
        }
    }
    let runs =
        |design: &str| rows.iter().filter(|r| r["design"] == design && r["result"].is_object()).count();
    assert_eq!(runs("tc"), 12);
    assert_eq!(runs("highlight"), 12);
    assert_eq!(runs("dstc"), 12);
    // The exported sweep file runs as it is.
    let sweep = std::fs::read_to_string(dir.path().join("small.toml")).unwrap();
    assert!(sweep.contains("name = \"depthwise\"\nm = 1\nk = 9\nn = 9\ncount = 6"), "{sweep}");
    let out = emu_in(dir.path())
        .args(["sweep", "small.toml", "--backend", "cpu", "--out", "swept"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn light_resnet50_has_the_shapes_of_the_resnet50_workload() {
    let dir = tempfile::tempdir().unwrap();
    let model = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/onnx/light_resnet50.onnx");
    let out = emu_in(dir.path())
        .args(["model", model.to_str().unwrap(), "--capture-only", "--out", "lr"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mut reader = csv::Reader::from_path(dir.path().join("lr/layers.csv")).unwrap();
    let mut captured = std::collections::BTreeSet::new();
    for row in reader.records() {
        let row = row.unwrap();
        assert_eq!(&row[11], "", "{row:?}");
        captured.insert((
            row[4].parse::<usize>().unwrap(),
            row[5].parse::<usize>().unwrap(),
            row[6].parse::<usize>().unwrap(),
        ));
    }
    let workload = highlight_emu::sweep::SweepFile::load(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("workloads/resnet50.toml"),
    )
    .unwrap();
    let expected: std::collections::BTreeSet<_> = workload.layers.iter().map(|l| (l.m, l.k, l.n)).collect();
    assert_eq!(expected.len(), 21);
    assert_eq!(captured, expected);
}

#[test]
fn bad_models_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let not_onnx = dir.path().join("x.onnx");
    std::fs::write(&not_onnx, "hello").unwrap();
    let out = Command::cargo_bin("highlight-emu")
        .unwrap()
        .args(["model", not_onnx.to_str().unwrap(), "--capture-only"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not an ONNX model"));
    let model = small_model(dir.path());
    let wrong = dir.path().join("wrong.npy");
    npy::write_matrix(&wrong, &Matrix::from_vec(2, 2, vec![1.0f32; 4])).unwrap();
    let out = Command::cargo_bin("highlight-emu")
        .unwrap()
        .args(["model", model.to_str().unwrap(), "--input", wrong.to_str().unwrap(), "--capture-only"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("input \"x\" is declared [1, 4, 6, 6] and --input")
            && String::from_utf8_lossy(&out.stderr).contains("gives [2, 2]: 4 dimensions, not 2"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let err = |args: &[&str]| {
        let out = emu_in(dir.path()).args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        String::from_utf8(out.stderr).unwrap()
    };
    let m = model.to_str().unwrap();
    assert!(
        err(&["model", m, "--weight-sparsity", "0.3"]).contains("accepted the degree table's sparsities")
    );
    assert!(
        err(&["model", m, "--out", "res", "--export-workload", "res/x.toml", "--capture-only"])
            .contains("inside the output folder")
    );
    assert!(err(&["model", m, "--image", "none.png", "--size", "4294967296x4294967296"]).contains("--size"));
    // Conv attributes tract would panic on: refused, naming the node and the attribute.
    for (attr, bad, says) in [
        (
            "strides",
            vec![0i64, 0],
            "strides [0, 0]; accepted one stride of at least 1 per spatial axis (2 values",
        ),
        ("strides", vec![1], "strides [1]; accepted one stride"),
        (
            "pads",
            vec![1, 1],
            "pads [1, 1]; accepted a non-negative begin and end pad per spatial axis (4 values",
        ),
        ("dilations", vec![1, 1, 1], "dilations [1, 1, 1]"),
    ] {
        let graph = pb::GraphProto {
            name: "bad".into(),
            node: vec![node("conv", "Conv", &["x", "w"], "y", vec![ints(attr, &bad)])],
            initializer: vec![tensor("w", &[2, 4, 3, 3], weights(72, 1))],
            input: vec![value("x", &[1, 4, 6, 6])],
            output: vec![value("y", &[1, 2, 4, 4])],
            ..Default::default()
        };
        let bad_model = save(graph, &dir.path().join(format!("bad-{attr}-{}.onnx", bad.len())));
        let e = err(&["model", bad_model.to_str().unwrap(), "--capture-only"]);
        assert!(e.contains("node conv (Conv): ") && e.contains(says), "{e}");
    }
    let e = err(&["model", m, "--image", "none.png", "--size", "30000x30000"]);
    assert!(e.contains("--size 30000x30000: 30000 x 30000 pixels is more than the 67108864"), "{e}");
    assert!(err(&["model", m, "--image", "none.png", "--size", "0x5"]).contains("positive sizes"));
    // The image's errors name --image; R,G,B with commas or spaces, three of them.
    let e = err(&[
        "model",
        m,
        "--image",
        "none.png",
        "--size",
        "6x6",
        "--mean",
        "0.5,0.5,0.5",
        "--std",
        "0.2",
        "0.2",
        "0.2",
    ]);
    assert!(e.contains("--image none.png") && !e.contains("--input"), "{e}");
    let e = err(&["model", m, "--image", "none.png", "--size", "6x6", "--mean", "0.5,0.5"]);
    assert!(e.contains("--mean: accepted three finite numbers (R,G,B)"), "{e}");
}

#[test]
fn an_image_is_resized_and_normalised() {
    let dir = tempfile::tempdir().unwrap();
    let graph = pb::GraphProto {
        name: "rgb".into(),
        node: vec![node("mix", "Conv", &["x", "w"], "y", vec![])],
        initializer: vec![tensor("w", &[2, 3, 1, 1], vec![1.0, 0.5, -1.0, 0.25, 0.0, 2.0])],
        input: vec![value("x", &[1, 3, 4, 4])],
        output: vec![value("y", &[1, 2, 4, 4])],
        ..Default::default()
    };
    let path = save(graph, &dir.path().join("rgb.onnx"));
    // An 8 x 8 image of one colour: any resize keeps it.
    let png = dir.path().join("img.png");
    image::RgbImage::from_pixel(8, 8, image::Rgb([255, 0, 51])).save(&png).unwrap();
    let (mean, std) = ([0.5f32, 0.5, 0.5], [0.5f32, 0.25, 0.1]);
    let layers = capture(
        &path,
        &Inputs {
            image: Some(Image { path: png.display().to_string(), size: None, mean, std }),
            ..Default::default()
        },
        false,
    )
    .unwrap();
    let b = &layers[0].gemms.as_ref().unwrap()[0].b;
    assert_eq!((b.rows, b.cols), (3, 16));
    let expected = [(1.0 - 0.5) / 0.5, (0.0 - 0.5) / 0.25, (0.2 - 0.5) / 0.1];
    for (c, want) in expected.iter().enumerate() {
        for n in 0..16 {
            assert!((b.get(c, n) - want).abs() < 1e-5, "channel {c}: {}", b.get(c, n));
        }
    }
}

/// Figure 15: each design's whole-network EDP against the user's accuracy losses, the frontier
/// recomputed here from the table the summary prints; a row that matches no run is refused.
#[test]
fn accuracy_table_gives_figure_15_and_its_frontier() {
    let dir = tempfile::tempdir().unwrap();
    let model = small_model(dir.path());
    let table = "design,weight_sparsity,accuracy_loss\ntc,0,0\nhighlight,0.5,0.3\nhighlight,0.75,0.9\nstc,0.5,0.2\ndstc,0.75,1.5\n";
    std::fs::write(dir.path().join("acc.csv"), table).unwrap();
    let run = |acc: &str, out: &str| {
        emu_in(dir.path())
            .args(["model", model.to_str().unwrap(), "--weight-sparsity", "0,0.5,0.75", "--backend", "cpu"])
            .args(["--accuracy", acc, "--out", out])
            .output()
            .unwrap()
    };
    let out = run("acc.csv", "res");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(dir.path().join("res/fig15_edp_accuracy.png").exists());
    let summary = std::fs::read_to_string(dir.path().join("res/summary.md")).unwrap();
    let section = summary.split("## EDP against accuracy (figure 15)").nth(1).expect("the figure 15 section");
    let rows: Vec<(f64, f64, bool)> = section
        .lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("| design"))
        .map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            (cells[3].parse().unwrap(), cells[4].parse().unwrap(), cells[5] == "yes")
        })
        .collect();
    assert_eq!(rows.len(), 5);
    for &(loss, edp, on) in &rows {
        let dominated = rows.iter().any(|&(l, e, _)| l <= loss && e <= edp && (l < loss || e < edp));
        assert_eq!(on, !dominated, "{loss} {edp}: {section}");
    }
    std::fs::write(dir.path().join("bad.csv"), "design,weight_sparsity,accuracy_loss\nhighlight,0.625,1\n")
        .unwrap();
    let out = run("bad.csv", "res2");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("no emulated whole network of highlight at weight sparsity 0.625")
    );
    // A loss that is not a number, or a sparsity the degree table lacks, is refused before any
    // layer runs: no output folder, the row named.
    for (text, says) in [
        (
            "design,weight_sparsity,accuracy_loss\nhighlight,0.5,NaN\n",
            "row 1: accuracy_loss NaN must be a finite number",
        ),
        (
            "design,weight_sparsity,accuracy_loss\ntc,0,0\nhighlight,0.3,1\n",
            "row 2: weight_sparsity 0.3 is none of the degree table's",
        ),
    ] {
        std::fs::write(dir.path().join("early.csv"), text).unwrap();
        let out = run("early.csv", "res3");
        assert_eq!(out.status.code(), Some(2));
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(says),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!dir.path().join("res3").exists());
    }
}

/// `model --shard` partials merge into the results of one full run.
#[test]
fn model_shards_merge_into_the_full_run() {
    let dir = tempfile::tempdir().unwrap();
    let model = small_model(dir.path());
    let x = write_input(dir.path());
    let run = |extra: &[&str]| {
        let out = model_with_input(dir.path(), &model, &x, "0,0.5")
            .args(["--designs", "highlight"])
            .args(extra)
            .output()
            .unwrap();
        assert!(out.status.success(), "{extra:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    run(&["--out", "full"]);
    run(&["--shard", "0/3", "--out", "s0"]);
    run(&["--shard", "1/3", "--out", "s1"]);
    run(&["--shard", "2/3", "--out", "s2"]);
    let out = emu_in(dir.path()).args(["merge", "s0", "s1", "s2", "--out", "merged"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let csv = |d: &str| {
        // Wall times differ between runs; every other column must not.
        let text = std::fs::read_to_string(dir.path().join(d).join("results.csv")).unwrap();
        text.lines().map(str::to_string).collect::<Vec<_>>()
    };
    assert_eq!(csv("merged"), csv("full"));
    // A layer's count weights the whole network: changed, even with the digest recomputed to
    // hide it, the shard is refused.
    let path = dir.path().join("s1/results.json");
    let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    v["rows"][0]["point"]["layer"]["count"] = 50.into();
    let rows: Vec<highlight_emu::sweep::Row> = serde_json::from_value(v["rows"].clone()).unwrap();
    v["provenance"]["rows"] = serde_json::to_value(highlight_emu::sweep::RowsDigest::of(&rows)).unwrap();
    std::fs::write(&path, v.to_string()).unwrap();
    let out = emu_in(dir.path()).args(["merge", "s0", "s1", "s2", "--out", "merged2"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("shard 1/3: the tc row of point 1 is ") && err.contains("\"count\":50"), "{err}");
}

/// GEMMs with a zero dimension, as malformed exports have them: a MatMul with a [4, 0] weight and
/// a Conv with no filters. Each is listed as skipped (`empty`) and never emulated: the run exits
/// 0 and writes no NaN.
#[test]
fn empty_gemms_are_skipped_not_emulated() {
    let dir = tempfile::tempdir().unwrap();
    let graph = pb::GraphProto {
        name: "empty".into(),
        node: vec![
            node("conv", "Conv", &["x", "w1"], "c1", vec![ints("kernel_shape", &[1, 1])]),
            node("none", "Conv", &["x", "w0"], "c0", vec![ints("kernel_shape", &[1, 1])]),
            node("flatten", "Flatten", &["c1"], "f", vec![]),
            node("fc", "MatMul", &["f", "w2"], "y", vec![]),
            node("void", "MatMul", &["f", "w3"], "z", vec![]),
        ],
        initializer: vec![
            tensor("w1", &[2, 4, 1, 1], weights(8, 1)),
            tensor("w0", &[0, 4, 1, 1], vec![]),
            tensor("w2", &[72, 4], weights(288, 2)),
            tensor("w3", &[72, 0], vec![]),
        ],
        input: vec![value("x", &[1, 4, 6, 6])],
        output: vec![value("y", &[1, 4]), value("z", &[1, 0]), value("c0", &[1, 0, 6, 6])],
        ..Default::default()
    };
    let model = save(graph, &dir.path().join("empty.onnx"));
    let out = emu_in(dir.path())
        .args([
            "model",
            model.to_str().unwrap(),
            "--designs",
            "tc,highlight",
            "--weight-sparsity",
            "0",
            "--out",
            "res",
        ])
        .args(["--backend", "cpu"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let layers = std::fs::read_to_string(dir.path().join("res/layers.csv")).unwrap();
    for name in ["none", "void"] {
        let row =
            layers.lines().find(|l| l.contains(&format!(",{name},"))).unwrap_or_else(|| panic!("{layers}"));
        assert!(row.contains("empty: M x K x N") && row.contains("has a zero dimension"), "{row}");
        assert!(!row.contains("NaN"), "{row}");
    }
    for file in ["res/results.csv", "res/summary.md", "res/layers.csv"] {
        let text = std::fs::read_to_string(dir.path().join(file)).unwrap();
        assert!(!text.contains("NaN") && !text.contains("inf"), "{file}: {text}");
    }
    let results = std::fs::read_to_string(dir.path().join("res/results.csv")).unwrap();
    assert!(
        results.lines().any(|l| l.contains("conv")) && results.lines().any(|l| l.contains("fc")),
        "{results}"
    );
    assert!(!results.lines().any(|l| l.contains("none") || l.contains("void")), "{results}");
}
