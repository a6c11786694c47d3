//! `highlight-emu model` on models shaped as real exporters write them (issue 19): a symbolic
//! batch, symbolic height and width through a stride-32 backbone with an FPN's Resize + Concat,
//! two inputs sharing a symbol, int64 token ids through an embedding into two transformer
//! blocks with a dynamic sequence length, grouped and depthwise convolutions. Shapes and
//! densities are checked against counts made here from the same input.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use highlight_emu::model::{Image, Inputs, Layer, capture};
use tract_onnx::pb;

mod common;
use common::onnx::*;

fn emu_in(dir: &Path) -> Command {
    let mut cmd = Command::cargo_bin("highlight-emu").unwrap();
    cmd.current_dir(dir);
    cmd
}

/// Groups, M, K and N of each captured layer, by name.
fn shapes(layers: &[Layer]) -> Vec<(String, [usize; 4])> {
    layers
        .iter()
        .filter_map(|l| {
            let g = l.gemms.as_ref().ok()?;
            Some((l.name.clone(), [g.len(), g[0].a.rows, g[0].a.cols, g[0].b.cols]))
        })
        .collect()
}

fn b_density(layer: &Layer) -> f64 {
    let gemms = layer.gemms.as_ref().unwrap();
    let (nonzero, all) = gemms.iter().fold((0, 0), |(nz, all), g| {
        (nz + g.b.data.iter().filter(|v| **v != 0.0).count(), all + g.b.data.len())
    });
    nonzero as f64 / all as f64
}

/// An input with zeros: x[b, c, h, w] = 0 where (b + c + h + w) % 3 == 0.
fn image_input(batch: usize, c: usize, h: usize, w: usize) -> Vec<f32> {
    let mut x = Vec::with_capacity(batch * c * h * w);
    for bi in 0..batch {
        for ci in 0..c {
            for hi in 0..h {
                for wi in 0..w {
                    let v =
                        if (bi + ci + hi + wi) % 3 == 0 { 0.0 } else { (ci + 1) as f32 - hi as f32 * 0.25 };
                    x.push(v);
                }
            }
        }
    }
    x
}

fn files(list: &[&Path]) -> Inputs {
    Inputs { files: list.iter().map(|p| p.display().to_string()).collect(), ..Default::default() }
}

/// x [batch, 3, 8, 8] -> conv3x3 pads 1 (3 -> 4).
fn symbolic_batch_model(dir: &Path) -> PathBuf {
    let graph = pb::GraphProto {
        name: "batch".into(),
        node: vec![node("conv", "Conv", &["x", "w"], "y", vec![ints("pads", &[1, 1, 1, 1])])],
        initializer: vec![tensor("w", &[4, 3, 3, 3], weights(108, 2))],
        input: vec![value_of("x", 1, &["batch", "3", "8", "8"])],
        output: vec![value_of("y", 1, &["batch", "4", "8", "8"])],
        ..Default::default()
    };
    save(graph, &dir.join("batch.onnx"))
}

#[test]
fn a_symbolic_batch_takes_the_inputs_batch() {
    let dir = tempfile::tempdir().unwrap();
    let model = symbolic_batch_model(dir.path());
    let x = dir.path().join("x.npy");
    let data = image_input(2, 3, 8, 8);
    write_npy(&x, &[2, 3, 8, 8], &data);
    let layers = capture(&model, &files(&[&x]), false).unwrap();
    assert_eq!(shapes(&layers), [("conv".to_string(), [1, 4, 27, 2 * 64])]);
    let (mut nonzero, mut all) = (0, 0);
    for b in 0..2 {
        let (nz, a) = im2col_nonzeros(&data[b * 192..(b + 1) * 192], (8, 8), 3, 1, 1, 0..3);
        nonzero += nz;
        all += a;
    }
    assert_eq!(b_density(&layers[0]), nonzero as f64 / all as f64);
    // The same input as float16 (every value here is exact in it) gives the same B.
    let half = dir.path().join("half.npy");
    write_npy(&half, &[2, 3, 8, 8], &data.iter().map(|&v| half::f16::from_f32(v)).collect::<Vec<_>>());
    let from_half = capture(&model, &files(&[&half]), false).unwrap();
    assert_eq!(from_half[0].gemms.as_ref().unwrap()[0].b.data, layers[0].gemms.as_ref().unwrap()[0].b.data);
    // Integers are not an image: the message says what to save.
    let ints = dir.path().join("ints.npy");
    write_npy(&ints, &[2, 3, 8, 8], &vec![1i32; 384]);
    let err = capture(&model, &files(&[&ints]), false).unwrap_err().to_string();
    assert!(
        err.contains("dtype int32; the model's input \"x\" takes f32: save the array as floats"),
        "{err}"
    );
    // An empty batch is refused, not multiplied.
    let empty = dir.path().join("empty.npy");
    write_npy::<f32>(&empty, &[0, 3, 8, 8], &[]);
    let err = capture(&model, &files(&[&empty]), false).unwrap_err().to_string();
    assert!(err.contains("gives [0, 3, 8, 8]: axis 0 is 0; accepted: positive sizes"), "{err}");
    // Seeded, the batch is 1.
    let layers = capture(&model, &Inputs::default(), false).unwrap();
    assert_eq!(shapes(&layers), [("conv".to_string(), [1, 4, 27, 64])]);
}

/// x [batch, 3, height, width] through five stride-2 convolutions (the third grouped, the
/// fourth depthwise) to stride 32, then an FPN step: the stride-32 map upsampled by Resize,
/// concatenated with the stride-16 map, and a 1x1 head.
fn fpn_model(dir: &Path) -> PathBuf {
    let s2 = || vec![ints("strides", &[2, 2]), ints("pads", &[1, 1, 1, 1])];
    let grouped = |g| {
        let mut a = s2();
        a.push(int("group", g));
        a
    };
    let mut resize = node("up", "Resize", &["s32", "", "scales"], "up32", vec![]);
    resize.attribute.push(pb::AttributeProto {
        name: "mode".into(),
        r#type: 3,
        s: b"nearest".to_vec(),
        ..Default::default()
    });
    let graph = pb::GraphProto {
        name: "fpn".into(),
        node: vec![
            node("c1", "Conv", &["x", "w1"], "s2", s2()),
            node("relu", "Relu", &["s2"], "r2", vec![]),
            node("c2", "Conv", &["r2", "w2"], "s4", s2()),
            node("c3", "Conv", &["s4", "w3"], "s8", grouped(2)),
            node("c4", "Conv", &["s8", "w4"], "s16", grouped(4)),
            node("c5", "Conv", &["s16", "w5"], "s32", s2()),
            resize,
            node("cat", "Concat", &["up32", "s16"], "p16", vec![int("axis", 1)]),
            node("head", "Conv", &["p16", "w6"], "y", vec![]),
        ],
        initializer: vec![
            tensor("w1", &[4, 3, 3, 3], weights(108, 1)),
            tensor("w2", &[4, 4, 3, 3], weights(144, 2)),
            tensor("w3", &[4, 2, 3, 3], weights(72, 3)),
            tensor("w4", &[4, 1, 3, 3], weights(36, 4)),
            tensor("w5", &[4, 4, 3, 3], weights(144, 5)),
            tensor("w6", &[4, 8, 1, 1], weights(32, 6)),
            tensor("scales", &[4], vec![1.0, 1.0, 2.0, 2.0]),
        ],
        input: vec![value_of("x", 1, &["batch", "3", "height", "width"])],
        output: vec![value_of("y", 1, &["batch", "4", "Div_y_dim_2", "Div_y_dim_3"])],
        ..Default::default()
    };
    save(graph, &dir.join("fpn.onnx"))
}

#[test]
fn dynamic_height_and_width_through_resize_and_concat() {
    let dir = tempfile::tempdir().unwrap();
    let model = fpn_model(dir.path());
    let x = dir.path().join("x.npy");
    let data = image_input(1, 3, 64, 64);
    write_npy(&x, &[1, 3, 64, 64], &data);
    let layers = capture(&model, &files(&[&x]), false).unwrap();
    let expected = [
        ("c1", [1, 4, 27, 32 * 32]),
        ("c2", [1, 4, 36, 16 * 16]),
        ("c3", [2, 2, 18, 8 * 8]),
        ("c4", [4, 1, 9, 4 * 4]),
        ("c5", [1, 4, 36, 2 * 2]),
        ("head", [1, 4, 8, 4 * 4]),
    ];
    let expected: Vec<(String, [usize; 4])> = expected.iter().map(|(n, s)| (n.to_string(), *s)).collect();
    assert_eq!(shapes(&layers), expected);
    let (nonzero, all) = im2col_nonzeros(&data, (64, 64), 3, 2, 1, 0..3);
    assert_eq!(b_density(&layers[0]), nonzero as f64 / all as f64);

    // An image at --size 96x64: the head sees 6 x 4; without --size, the error names the dims.
    let png = dir.path().join("img.png");
    image::RgbImage::from_fn(40, 30, |x, y| image::Rgb([(x * 6) as u8, (y * 8) as u8, 0]))
        .save(&png)
        .unwrap();
    let image = |size| Inputs {
        image: Some(Image { path: png.display().to_string(), size, mean: [0.5; 3], std: [0.5; 3] }),
        ..Default::default()
    };
    let layers = capture(&model, &image(Some((96, 64))), false).unwrap();
    assert_eq!(shapes(&layers).last().unwrap().1, [1, 4, 8, 6 * 4]);
    let err = capture(&model, &image(None), false).unwrap_err().to_string();
    assert!(
        err.contains(
            "input \"x\" is declared [batch, 3, height, width]: height, width symbolic; give --size HxW"
        ),
        "{err}"
    );

    // Seeded: the symbolic height and width must be given, and then are taken.
    let out = emu_in(dir.path()).args(["model", "fpn.onnx", "--capture-only"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("input \"x\" is declared [batch, 3, height, width]: height, width not fixed")
            && stderr.contains("--input-shape x=D1xD2"),
        "{stderr}"
    );
    let out = emu_in(dir.path())
        .args(["model", "fpn.onnx", "--capture-only", "--input-shape", "x=1x3x64x32", "--out", "seeded"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let csv = std::fs::read_to_string(dir.path().join("seeded/layers.csv")).unwrap();
    assert!(csv.contains(",head,Conv,1,4,8,8,256,"), "{csv}");
    // A shape the model cannot take names the input, its declared shape and the one given.
    let out = emu_in(dir.path())
        .args(["model", "fpn.onnx", "--capture-only", "--input-shape", "1x4x64x64"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(
            "input \"x\" is declared [batch, 3, height, width] and --input-shape 1x4x64x64 gives [1, 4, 64, 64]: axis 1 must be 3"
        ),
        "{stderr}"
    );
}

/// image [batch, 3, 8, 8] -> conv; meta [batch, 5] -> Gemm (5 -> 4): two inputs, one symbol.
fn two_input_model(dir: &Path) -> PathBuf {
    let graph = pb::GraphProto {
        name: "two".into(),
        node: vec![
            node("conv", "Conv", &["image", "w"], "y", vec![]),
            node("fc", "Gemm", &["meta", "wg"], "z", vec![]),
        ],
        initializer: vec![tensor("w", &[2, 3, 1, 1], weights(6, 1)), tensor("wg", &[5, 4], weights(20, 3))],
        input: vec![value_of("image", 1, &["batch", "3", "8", "8"]), value_of("meta", 1, &["batch", "5"])],
        output: vec![value_of("y", 1, &["batch", "2", "8", "8"]), value_of("z", 1, &["batch", "4"])],
        ..Default::default()
    };
    save(graph, &dir.join("two.onnx"))
}

#[test]
fn two_inputs_are_named_and_share_their_symbols() {
    let dir = tempfile::tempdir().unwrap();
    let model = two_input_model(dir.path());
    let x = dir.path().join("x.npy");
    write_npy(&x, &[3, 3, 8, 8], &image_input(3, 3, 8, 8));
    let named = Inputs { files: vec![format!("image={}", x.display())], ..Default::default() };
    let layers = capture(&model, &named, false).unwrap();
    // meta is seeded at the batch image gave.
    let expected = [("conv".to_string(), [1, 2, 3, 3 * 64]), ("fc".to_string(), [1, 4, 5, 3])];
    assert_eq!(shapes(&layers), expected);

    let m = dir.path().join("m.npy");
    let meta: Vec<f32> = (0..10).map(|i| if i % 4 == 0 { 0.0 } else { i as f32 }).collect();
    write_npy(&m, &[2, 5], &meta);
    let both = Inputs { files: vec![format!("meta={}", m.display())], ..Default::default() };
    let layers = capture(&model, &both, false).unwrap();
    assert_eq!(shapes(&layers)[1].1, [1, 4, 5, 2]);
    assert_eq!(b_density(&layers[1]), 7.0 / 10.0);

    let err = |args: &[&str]| {
        let out =
            emu_in(dir.path()).args(["model", "two.onnx", "--capture-only"]).args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let e = err(&["--input", "x.npy"]);
    assert!(
        e.contains("--input x.npy: the model has 2 inputs (\"image\" [batch, 3, 8, 8], \"meta\" [batch, 5]); name one, e.g. --input image=x.npy"),
        "{e}"
    );
    let e = err(&["--input", "nosuch=x.npy"]);
    assert!(e.contains("the model has no input \"nosuch\"; its inputs: \"image\", \"meta\""), "{e}");
    let e = err(&["--input", "image=x.npy", "--input", "meta=m.npy"]);
    assert!(
        e.contains("input \"meta\" is declared [batch, 5] and --input m.npy gives [2, 5]: batch is already 3 from input \"image\""),
        "{e}"
    );
    let e = err(&["--input", "image=x.npy", "--input-shape", "image=1x3x8x8"]);
    assert!(e.contains("input \"image\" is already given by --input"), "{e}");
}

/// The embedding table: row r, column c is zero where (r + c) % 4 == 0.
fn embedding() -> Vec<f32> {
    (0..50 * 16)
        .map(|i| if (i / 16 + i % 16) % 4 == 0 { 0.0 } else { ((i % 13) as f32 - 6.0) / 4.0 })
        .collect()
}

/// input_ids and attention_mask [batch, sequence] (int64) -> embedding Gather -> two blocks of
/// attention (two heads of 8; a per-head value weight [2, 8, 8]; a masked Softmax through
/// Where) and an Erf-GELU feed-forward, with LayerNormalization; the output projection's weight
/// passes through a Transpose. Opset 17, as torch.onnx.export writes LayerNormalization.
fn transformer_model(dir: &Path) -> PathBuf {
    let mut nodes = vec![
        node("embed", "Gather", &["table", "input_ids"], "h0", vec![]),
        node("unsq", "Unsqueeze", &["attention_mask", "axes12"], "mask4", vec![]),
        node("is_pad", "Equal", &["mask4", "zero"], "pad", vec![]),
    ];
    let mut initializer = vec![
        tensor("table", &[50, 16], embedding()),
        int64s("axes12", &[2], vec![1, 2]),
        int64s("zero", &[], vec![0]),
        int64s("heads", &[4], vec![0, 0, 2, 8]),
        int64s("merged", &[3], vec![0, 0, 16]),
        tensor("scale", &[], vec![8f32.sqrt()]),
        tensor("neg", &[], vec![-1e4]),
        tensor("half", &[], vec![0.5]),
        tensor("one", &[], vec![1.0]),
        tensor("root2", &[], vec![2f32.sqrt()]),
        tensor("gamma", &[16], vec![1.0; 16]),
        tensor("beta", &[16], vec![0.0; 16]),
    ];
    let mut h = "h0".to_string();
    for l in 0..2 {
        let n = |s: &str| format!("{s}{l}");
        let perm = |p: &[i64]| vec![ints("perm", p)];
        let add = |nodes: &mut Vec<pb::NodeProto>, name: &str, op: &str, inputs: &[&str], attrs| {
            nodes.push(node(&n(name), op, inputs, &n(name), attrs));
        };
        for w in ["q", "k", "v"] {
            add(&mut nodes, w, "MatMul", &[&h, &n(&format!("w{w}"))], vec![]);
            initializer.push(tensor(&n(&format!("w{w}")), &[16, 16], weights(256, l * 3 + w.len())));
            add(&mut nodes, &format!("{w}r"), "Reshape", &[&n(w), "heads"], vec![]);
        }
        add(&mut nodes, "qh", "Transpose", &[&n("qr")], perm(&[0, 2, 1, 3]));
        add(&mut nodes, "kh", "Transpose", &[&n("kr")], perm(&[0, 2, 3, 1]));
        add(&mut nodes, "vh", "Transpose", &[&n("vr")], perm(&[0, 2, 1, 3]));
        add(&mut nodes, "vhead", "MatMul", &[&n("vh"), &n("whead")], vec![]);
        initializer.push(tensor(&n("whead"), &[2, 8, 8], weights(128, 7 + l)));
        add(&mut nodes, "scores", "MatMul", &[&n("qh"), &n("kh")], vec![]);
        add(&mut nodes, "scaled", "Div", &[&n("scores"), "scale"], vec![]);
        add(&mut nodes, "masked", "Where", &["pad", "neg", &n("scaled")], vec![]);
        add(&mut nodes, "probs", "Softmax", &[&n("masked")], vec![int("axis", -1)]);
        add(&mut nodes, "context", "MatMul", &[&n("probs"), &n("vhead")], vec![]);
        add(&mut nodes, "ct", "Transpose", &[&n("context")], perm(&[0, 2, 1, 3]));
        add(&mut nodes, "cm", "Reshape", &[&n("ct"), "merged"], vec![]);
        add(&mut nodes, "wo", "Transpose", &[&n("wo_t")], perm(&[1, 0]));
        initializer.push(tensor(&n("wo_t"), &[16, 16], weights(256, 11 + l)));
        add(&mut nodes, "proj", "MatMul", &[&n("cm"), &n("wo")], vec![]);
        add(&mut nodes, "res1", "Add", &[&h, &n("proj")], vec![]);
        add(&mut nodes, "ln1", "LayerNormalization", &[&n("res1"), "gamma", "beta"], vec![int("axis", -1)]);
        add(&mut nodes, "ffn1", "MatMul", &[&n("ln1"), &n("w1")], vec![]);
        initializer.push(tensor(&n("w1"), &[16, 32], weights(512, 13 + l)));
        add(&mut nodes, "gd", "Div", &[&n("ffn1"), "root2"], vec![]);
        add(&mut nodes, "erf", "Erf", &[&n("gd")], vec![]);
        add(&mut nodes, "ge", "Add", &[&n("erf"), "one"], vec![]);
        add(&mut nodes, "gh", "Mul", &[&n("ffn1"), "half"], vec![]);
        add(&mut nodes, "gelu", "Mul", &[&n("gh"), &n("ge")], vec![]);
        add(&mut nodes, "ffn2", "MatMul", &[&n("gelu"), &n("w2")], vec![]);
        initializer.push(tensor(&n("w2"), &[32, 16], weights(512, 17 + l)));
        add(&mut nodes, "res2", "Add", &[&n("ln1"), &n("ffn2")], vec![]);
        add(&mut nodes, "ln2", "LayerNormalization", &[&n("res2"), "gamma", "beta"], vec![int("axis", -1)]);
        h = n("ln2");
    }
    let graph = pb::GraphProto {
        name: "transformer".into(),
        node: nodes,
        initializer,
        input: vec![
            value_of("input_ids", 7, &["batch", "sequence"]),
            value_of("attention_mask", 7, &["batch", "sequence"]),
        ],
        output: vec![value_of(&h, 1, &["batch", "sequence", "16"])],
        ..Default::default()
    };
    save_opset(graph, &dir.join("transformer.onnx"), 17)
}

#[test]
fn token_ids_through_a_transformer_with_a_dynamic_sequence() {
    let dir = tempfile::tempdir().unwrap();
    let model = transformer_model(dir.path());
    let ids_file = dir.path().join("ids.npy");
    let ids: Vec<i64> = vec![3, 17, 0, 42, 8, 8];
    write_npy(&ids_file, &[1, 6], &ids);
    let named = Inputs { files: vec![format!("input_ids={}", ids_file.display())], ..Default::default() };
    let layers = capture(&model, &named, false).unwrap();
    let mut expected = Vec::new();
    for l in 0..2 {
        for (name, shape) in [
            ("q", [1, 16, 16, 6]),
            ("k", [1, 16, 16, 6]),
            ("v", [1, 16, 16, 6]),
            ("vhead", [2, 8, 8, 6]),
            ("context", [2, 8, 6, 6]),
            ("proj", [1, 16, 16, 6]),
            ("ffn1", [1, 32, 16, 6]),
            ("ffn2", [1, 16, 32, 6]),
        ] {
            expected.push((format!("{name}{l}"), shape));
        }
    }
    // Without --activations, only the weights' GEMMs are captured; attention's are listed.
    let captured: Vec<_> = shapes(&layers).into_iter().filter(|(n, _)| !n.starts_with("context")).collect();
    let weights_only: Vec<_> = expected.iter().filter(|(n, _)| !n.starts_with("context")).cloned().collect();
    assert_eq!(captured, weights_only);
    let scores = layers.iter().find(|l| l.name == "scores0").unwrap();
    assert_eq!(scores.shape, Some([2, 6, 8, 6]));
    assert!(
        scores
            .gemms
            .as_ref()
            .unwrap_err()
            .contains("activation x activation: 2 GEMM(s) of M x K x N = 6 x 8 x 6"),
        "{:?}",
        scores.gemms
    );
    // q0's B is the embedding rows of the tokens, as they are in the table.
    let table = embedding();
    let nonzero = ids.iter().map(|&t| table[t as usize * 16..][..16].iter().filter(|v| **v != 0.0).count());
    let q0 = layers.iter().find(|l| l.name == "q0").unwrap();
    assert_eq!(b_density(q0), nonzero.sum::<usize>() as f64 / 96.0);

    // With --activations, the attention products are captured too, A from the right operand.
    let layers = capture(&model, &named, true).unwrap();
    let products: Vec<_> = layers.iter().filter(|l| l.activations).map(|l| l.name.clone()).collect();
    assert_eq!(products, ["scores0", "context0", "scores1", "context1"]);
    let all = shapes(&layers);
    assert_eq!(all.iter().find(|(n, _)| n == "context1").unwrap().1, [2, 8, 6, 6]);
    assert_eq!(all.iter().find(|(n, _)| n == "scores1").unwrap().1, [2, 6, 8, 6]);

    // The sequence length comes from the input: 9 tokens, seeded, give N = 9.
    let seeded = Inputs { shapes: vec!["input_ids=1x9".into()], ..Default::default() };
    let layers = capture(&model, &seeded, false).unwrap();
    assert_eq!(shapes(&layers)[0].1, [1, 16, 16, 9]);
    // A float file for token ids says what to save instead.
    let floats = dir.path().join("f.npy");
    write_npy(&floats, &[1, 6], &[1.0f32; 6]);
    let bad = Inputs { files: vec![format!("input_ids={}", floats.display())], ..Default::default() };
    let err = capture(&model, &bad, false).unwrap_err().to_string();
    assert!(
        err.contains("dtype float32; the model's input \"input_ids\" takes i64: save the array as integers"),
        "{err}"
    );
}

#[test]
fn attention_products_run_on_every_design_with_activations() {
    let dir = tempfile::tempdir().unwrap();
    transformer_model(dir.path());
    let out = emu_in(dir.path())
        .args(["model", "transformer.onnx", "--input-shape", "input_ids=2x5", "--activations"])
        .args(["--weight-sparsity", "0.5", "--backend", "cpu", "--out", "res"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let csv = std::fs::read_to_string(dir.path().join("res/layers.csv")).unwrap();
    assert!(csv.contains(",scores0,MatMul,4,5,8,5,800,"), "{csv}");
    assert!(csv.lines().filter(|l| l.ends_with(",activation")).count() == 4, "{csv}");
    let results: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("res/results.json")).unwrap()).unwrap();
    let rows = results["rows"].as_array().unwrap();
    // 18 layers (14 with weights, 4 products) x 6 designs.
    assert_eq!(rows.len(), 18 * 6, "{csv}");
    let mut ran = 0;
    for r in rows {
        if let Some(res) = r["result"].as_object() {
            assert_eq!(res["z_equals_dense"], true, "{r}");
            ran += 1;
        } else {
            // S2TA has no dense mode for A: a dense activation cannot be its A.
            assert_eq!(r["design"], "s2ta", "{r}");
            assert_eq!(r["unsupported"], "the left activation has none of S2TA's A patterns", "{r}");
        }
    }
    assert_eq!(ran, rows.len() - 4, "every design but S2TA runs every layer; S2TA the 14 with weights");
}

/// Nodes whose attributes make tract's analysis panic (found by fuzzing): each is one line,
/// exit 2, naming the node, never a crash and never the panic's own report.
#[test]
fn a_panic_inside_tract_names_the_node() {
    let dir = tempfile::tempdir().unwrap();
    let cases: Vec<(&str, pb::NodeProto, Vec<pb::TensorProto>)> = vec![
        (
            "MaxPool",
            node(
                "pool",
                "MaxPool",
                &["x"],
                "y",
                vec![ints("kernel_shape", &[2, 2]), ints("strides", &[0, 0])],
            ),
            vec![],
        ),
        (
            "Slice",
            node("cut", "Slice", &["x", "st", "en", "ax", "sp"], "y", vec![]),
            vec![
                int64s("st", &[1], vec![0]),
                int64s("en", &[1], vec![4]),
                int64s("ax", &[1], vec![2]),
                int64s("sp", &[1], vec![0]),
            ],
        ),
        ("Transpose", node("swap", "Transpose", &["x"], "y", vec![ints("perm", &[0, 1, 2, 7])]), vec![]),
        (
            "Tile",
            node("copy", "Tile", &["x", "rep"], "y", vec![]),
            vec![int64s("rep", &[4], vec![1, 1, -1, 1])],
        ),
    ];
    for (op, n, mut initializer) in cases {
        let name = n.name.clone();
        initializer.push(tensor("w", &[1, 3, 1, 1], vec![1.0; 3]));
        let graph = pb::GraphProto {
            name: "bad".into(),
            node: vec![n, node("conv", "Conv", &["y", "w"], "z", vec![])],
            initializer,
            input: vec![value_of("x", 1, &["1", "3", "4", "4"])],
            output: vec![value_of("z", 1, &["1", "1", "4", "4"])],
            ..Default::default()
        };
        save(graph, &dir.path().join(format!("{op}.onnx")));
        let out =
            emu_in(dir.path()).args(["model", &format!("{op}.onnx"), "--capture-only"]).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{op}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(
            stderr
                .starts_with(&format!("error: {op}.onnx: node {name} ({op}): tract could not analyse it: ")),
            "{stderr}"
        );
    }
    // An error (not a panic) in tract's analysis leads with the ONNX node and op too.
    let graph = pb::GraphProto {
        name: "bad".into(),
        node: vec![
            node("join", "Concat", &["x", "x"], "y", vec![int("axis", 9)]),
            node("conv", "Conv", &["y", "w"], "z", vec![]),
        ],
        initializer: vec![tensor("w", &[1, 3, 1, 1], vec![1.0; 3])],
        input: vec![value_of("x", 1, &["1", "3", "4", "4"])],
        output: vec![value_of("z", 1, &["2", "1", "4", "4"])],
        ..Default::default()
    };
    save(graph, &dir.path().join("concat.onnx"));
    let out = emu_in(dir.path()).args(["model", "concat.onnx", "--capture-only"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.starts_with("error: concat.onnx: node join (Concat): tract could not type it: "),
        "{stderr}"
    );
}
