//! ONNX models in (issue 12, docs/DESIGN.md 1): a model runs once on an input (tract, pure Rust),
//! and every Conv, Gemm and MatMul with a constant weight gives its weights and its input
//! activation, lowered to the GEMMs the accelerators run ([`lower`]). Nodes that are not
//! captured say why; nothing is dropped silently.

pub mod emulate;
pub mod lower;

use std::collections::HashSet;
use std::path::Path;

use thiserror::Error;
use tract_onnx::pb;
use tract_onnx::prelude::*;

pub use lower::Gemm;

#[derive(Debug, Error)]
pub enum ModelError {
    #[error("{path}: not an ONNX model ({message}); accepted: a .onnx file, e.g. from torch.onnx.export")]
    NotOnnx { path: String, message: String },
    #[error("{path}: {message}")]
    Unsupported { path: String, message: String },
    #[error("--input {path}: {message}")]
    Input { path: String, message: String },
    #[error("--image {path}: {message}")]
    Image { path: String, message: String },
}

/// One node of the model as the report lists it: its GEMMs, or why it has none.
#[derive(Clone, Debug)]
pub struct Layer {
    pub index: usize,
    pub name: String,
    pub op: String,
    /// The GEMMs (one per group) or why the node is not emulated.
    pub gemms: Result<Vec<Gemm>, String>,
}

/// Where the input comes from.
pub enum Input<'a> {
    /// A float32 tensor of the model's input shape (`.npy`).
    File(&'a Path),
    /// Seeded values in [-1, 1) of the model's input shape (unknown dimensions 1).
    Seeded(u64),
    /// An image (PNG or JPEG), resized to `size` (height, width; default: the model's), as a
    /// 1 x 3 x H x W tensor of (value / 255 - mean) / std per channel.
    Image { path: &'a Path, size: Option<(usize, usize)>, mean: [f32; 3], std: [f32; 3] },
}

/// The GEMM-shaped operators the accelerators run.
const CAPTURED: &[&str] = &["Conv", "Gemm", "MatMul"];
/// Operators that multiply like GEMMs but are not emulated, with the reason.
const SKIPPED: &[(&str, &str)] = &[
    ("ConvTranspose", "transposed convolution: not a GEMM the designs run"),
    ("ConvInteger", "integer convolution with zero points: not emulated"),
    ("MatMulInteger", "integer MatMul with zero points: not emulated"),
    ("QLinearConv", "quantised convolution with zero points: not emulated"),
    ("QLinearMatMul", "quantised MatMul with zero points: not emulated"),
    ("Einsum", "Einsum: not lowered to GEMMs"),
];

/// Loads `path`, runs it once on `input`, and lowers every captured node.
pub fn capture(path: &Path, input: Input) -> Result<Vec<Layer>, ModelError> {
    let shown = path.display().to_string();
    let not_onnx =
        |e: &dyn std::fmt::Display| ModelError::NotOnnx { path: shown.clone(), message: e.to_string() };
    let onnx = tract_onnx::onnx().with_ignore_output_shapes(true).with_ignore_value_info(true);
    let proto = onnx.proto_model_for_path(path).map_err(|e| not_onnx(&e))?;
    let graph = proto.graph.as_ref().ok_or_else(|| not_onnx(&"no graph"))?;
    check_convolutions(graph).map_err(|message| ModelError::Unsupported { path: shown.clone(), message })?;
    let initializers: HashSet<&str> = graph.initializer.iter().map(|t| t.name.as_str()).collect();
    // A tensor is constant when it does not depend on the model's input (initializers, Constant
    // nodes, and whatever is computed from them alone, e.g. a reshaped weight).
    let mut dynamic: HashSet<&str> =
        graph.input.iter().map(|i| i.name.as_str()).filter(|n| !initializers.contains(n)).collect();
    for node in &graph.node {
        if node.input.iter().any(|i| dynamic.contains(i.as_str())) {
            dynamic.extend(node.output.iter().map(String::as_str));
        }
    }
    let constant = |name: &str| !dynamic.contains(name);
    let graph_inputs: Vec<&pb::ValueInfoProto> =
        graph.input.iter().filter(|i| !initializers.contains(i.name.as_str())).collect();
    let [model_input] = graph_inputs[..] else {
        return Err(ModelError::Unsupported {
            path: shown,
            message: format!("{} graph inputs; accepted: a model with one input tensor", graph_inputs.len()),
        });
    };
    let input_tensor = input_tensor(model_input, input, &shown)?;

    let mut model = onnx.model_for_proto_model(&proto).map_err(|e| ModelError::Unsupported {
        path: shown.clone(),
        message: format!("tract cannot load it: {e:#}"),
    })?;
    let outlet = |model: &InferenceModel, name: &str| {
        model
            .find_outlet_label(name)
            .or_else(|| model.node_by_name(name).ok().map(|n| OutletId::new(n.id, 0)))
    };
    // Which nodes are captured, and the tensors each needs (activation, weight).
    let mut layers = Vec::new();
    let mut wanted: Vec<(usize, [String; 2])> = Vec::new();
    for (index, node) in graph.node.iter().enumerate() {
        let name = if node.name.is_empty() { format!("{}_{index}", node.op_type) } else { node.name.clone() };
        let skip =
            |why: String| Layer { index, name: name.clone(), op: node.op_type.clone(), gemms: Err(why) };
        if let Some((_, why)) = SKIPPED.iter().find(|(op, _)| *op == node.op_type) {
            layers.push(skip(why.to_string()));
            continue;
        }
        if !CAPTURED.contains(&node.op_type.as_str()) {
            continue;
        }
        let (Some(act), Some(weight)) = (node.input.first().cloned(), node.input.get(1).cloned()) else {
            layers.push(skip("fewer than two inputs".into()));
            continue;
        };
        if act.is_empty() || weight.is_empty() {
            layers.push(skip("an input is missing".into()));
            continue;
        }
        if !constant(&weight) {
            let why = if constant(&act) {
                "constant left operand (weight x activation): not lowered"
            } else if node.op_type == "Conv" {
                "the weight depends on the input: not a constant weight"
            } else {
                "activation x activation product: no constant weight"
            };
            layers.push(skip(why.into()));
            continue;
        }
        layers.push(Layer { index, name, op: node.op_type.clone(), gemms: Ok(Vec::new()) });
        wanted.push((layers.len() - 1, [act, weight]));
    }
    let mut outlets = Vec::new();
    for (_, names) in &wanted {
        for n in names {
            let o = outlet(&model, n).ok_or_else(|| ModelError::Unsupported {
                path: shown.clone(),
                message: format!("tensor {n:?} is not in the loaded graph"),
            })?;
            outlets.push(o);
        }
    }
    if outlets.is_empty() {
        return Ok(layers);
    }
    model
        .select_output_outlets(&outlets)
        .map_err(|e| ModelError::Unsupported { path: shown.clone(), message: format!("{e:#}") })?;
    let run = || -> TractResult<TVec<TValue>> {
        let plan = model.into_typed()?.into_runnable()?;
        plan.run(tvec!(input_tensor.into()))
    };
    let values = run().map_err(|e| ModelError::Unsupported {
        path: shown.clone(),
        message: format!("running it: {e:#}"),
    })?;
    // Bytes of the GEMMs lowered so far, all kept until the layers are emulated.
    let mut held = 0u64;
    for (i, (layer, _)) in wanted.iter().enumerate() {
        let tensor = |v: &TValue| -> Result<(Vec<usize>, Vec<f32>), String> {
            let view = v.cast_to::<f32>().map_err(|e| e.to_string())?;
            let array = view.to_plain_array_view::<f32>().map_err(|e| e.to_string())?;
            Ok((array.shape().to_vec(), array.iter().copied().collect()))
        };
        let node = &graph.node[layers[*layer].index];
        let lowered = tensor(&values[2 * i])
            .and_then(|act| tensor(&values[2 * i + 1]).map(|w| (act, w)))
            .and_then(|(act, w)| lower::lower(node, act, w, held));
        if let Ok(gemms) = &lowered {
            held += gemms.iter().map(|g| 4 * (g.a.data.len() + g.b.data.len()) as u64).sum::<u64>();
        }
        layers[*layer].gemms = lowered;
    }
    Ok(layers)
}

/// Elements of an input tensor of `shape`, refused before it is allocated when it would not fit.
fn input_elements(shape: &[usize], path: &str) -> Result<usize, ModelError> {
    let count = shape.iter().try_fold(1usize, |p, &d| p.checked_mul(d));
    let need = count.and_then(|c| (c as u64).checked_mul(4));
    crate::memory::check(|| format!("an input of shape {shape:?}"), need)
        .map_err(|e| ModelError::Unsupported { path: path.into(), message: e.to_string() })?;
    Ok(count.unwrap_or(0))
}

/// Every Conv's strides, dilations and pads against its spatial axes (from its weight or its
/// kernel_shape), before tract sees them: tract panics on a zero stride or a short list. The
/// error names the node, the attribute and what is accepted.
fn check_convolutions(graph: &pb::GraphProto) -> Result<(), String> {
    for (index, node) in graph.node.iter().enumerate().filter(|(_, n)| n.op_type == "Conv") {
        let name = if node.name.is_empty() { format!("Conv_{index}") } else { node.name.clone() };
        let attribute = |a: &str| node.attribute.iter().find(|x| x.name == a).map(|x| x.ints.as_slice());
        let weight = node.input.get(1).and_then(|w| graph.initializer.iter().find(|t| &t.name == w));
        let spatial = match (weight, attribute("kernel_shape")) {
            (Some(w), _) if w.dims.len() >= 2 => w.dims.len() - 2,
            (_, Some(k)) => k.len(),
            _ => continue,
        };
        let rules: [(&str, usize, i64, &str); 3] = [
            ("strides", spatial, 1, "one stride of at least 1 per spatial axis"),
            ("dilations", spatial, 1, "one dilation of at least 1 per spatial axis"),
            ("pads", 2 * spatial, 0, "a non-negative begin and end pad per spatial axis"),
        ];
        for (attr, len, min, accepted) in rules {
            if let Some(v) = attribute(attr)
                && (v.len() != len || v.iter().any(|&x| x < min))
            {
                return Err(format!(
                    "node {name} (Conv): {attr} {v:?}; accepted {accepted} ({len} values for its {spatial} spatial axes)"
                ));
            }
        }
        if let Some(k) = attribute("kernel_shape")
            && (k.len() != spatial || k.iter().any(|&x| x < 0))
        {
            return Err(format!(
                "node {name} (Conv): kernel_shape {k:?}; accepted one non-negative size per spatial axis ({spatial})"
            ));
        }
    }
    Ok(())
}

/// The model's input: a float32 `.npy` of its shape, or seeded values.
fn input_tensor(info: &pb::ValueInfoProto, input: Input, path: &str) -> Result<Tensor, ModelError> {
    use pb::tensor_shape_proto::dimension::Value as Dim;
    use pb::type_proto::Value;
    let dims: Vec<Option<usize>> = match info.r#type.as_ref().and_then(|t| t.value.as_ref()) {
        Some(Value::TensorType(t)) => t
            .shape
            .as_ref()
            .map(|s| {
                s.dim
                    .iter()
                    .map(|d| match d.value {
                        Some(Dim::DimValue(v)) if v > 0 => Some(v as usize),
                        _ => None,
                    })
                    .collect()
            })
            .unwrap_or_default(),
        _ => Vec::new(),
    };
    match input {
        Input::File(file) => {
            let (shape, data) = crate::operand::npy::read_tensor(file).map_err(|e| ModelError::Input {
                path: file.display().to_string(),
                message: e.to_string(),
            })?;
            let fits =
                shape.len() == dims.len() && dims.iter().zip(&shape).all(|(d, s)| d.is_none_or(|d| d == *s));
            if !fits && !dims.is_empty() {
                return Err(ModelError::Input {
                    path: file.display().to_string(),
                    message: format!(
                        "shape {shape:?}; the model's input {:?} takes {dims:?} (None: any)",
                        info.name
                    ),
                });
            }
            Tensor::from_shape(&shape, &data)
                .map_err(|e| ModelError::Input { path: file.display().to_string(), message: e.to_string() })
        }
        Input::Image { path: file, size, mean, std } => {
            let bad = |message: String| ModelError::Image { path: file.display().to_string(), message };
            let (h, w) = match (size, &dims[..]) {
                (Some(hw), _) => hw,
                (None, [_, _, Some(h), Some(w)]) => (*h, *w),
                _ => {
                    return Err(bad(
                        "the model's input has no fixed height and width; give --size HxW".into()
                    ));
                }
            };
            input_elements(&[3, h, w], path)?;
            let image = image::open(file).map_err(|e| bad(format!("{e}; accepted: PNG or JPEG")))?.to_rgb8();
            let resized =
                image::imageops::resize(&image, w as u32, h as u32, image::imageops::FilterType::Triangle);
            let mut data = vec![0f32; 3 * h * w];
            for (x, y, pixel) in resized.enumerate_pixels() {
                for c in 0..3 {
                    data[(c * h + y as usize) * w + x as usize] =
                        (f32::from(pixel[c]) / 255.0 - mean[c]) / std[c];
                }
            }
            Tensor::from_shape(&[1, 3, h, w], &data).map_err(|e| bad(e.to_string()))
        }
        Input::Seeded(seed) => {
            if dims.is_empty() {
                return Err(ModelError::Unsupported {
                    path: path.into(),
                    message: format!(
                        "the input {:?} has no shape in the model; give --input x.npy",
                        info.name
                    ),
                });
            }
            let shape: Vec<usize> = dims.iter().map(|d| d.unwrap_or(1)).collect();
            let count = input_elements(&shape, path)?;
            use rand::{RngExt, SeedableRng};
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
            let data: Vec<f32> = (0..count).map(|_| rng.random_range(-1.0f32..1.0)).collect();
            Tensor::from_shape(&shape, &data)
                .map_err(|e| ModelError::Unsupported { path: path.into(), message: e.to_string() })
        }
    }
}
