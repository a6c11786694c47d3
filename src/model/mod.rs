//! ONNX models in (issue 12, docs/DESIGN.md 1): a model runs once on an input (tract, pure Rust),
//! and every Conv, Gemm and MatMul with a constant weight gives its weights and its input
//! activation, lowered to the GEMMs the accelerators run ([`lower`]). Nodes that are not
//! captured say why; nothing is dropped silently.

pub mod emulate;
mod guard;
pub mod inputs;
pub mod lower;

use std::collections::HashSet;
use std::path::Path;

use thiserror::Error;
use tract_onnx::pb;
use tract_onnx::prelude::*;

pub use inputs::{Image, Inputs, NamedArray};
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
    /// A is an activation, not a weight (attention's products, `--activations`): it is
    /// emulated as measured, never pruned.
    pub activations: bool,
    /// Groups, M, K and N of a node skipped after its shapes were known.
    pub shape: Option<[usize; 4]>,
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

/// Loads `path`, runs it once on `inputs`, and lowers every captured node; activation x
/// activation products are lowered too when `activations` is set, else listed with their shapes.
pub fn capture(path: &Path, inputs: &Inputs, activations: bool) -> Result<Vec<Layer>, ModelError> {
    let shown = path.display().to_string();
    let unsupported = |message: String| ModelError::Unsupported { path: shown.clone(), message };
    let not_onnx =
        |e: &dyn std::fmt::Display| ModelError::NotOnnx { path: shown.clone(), message: e.to_string() };
    let onnx = tract_onnx::onnx().with_ignore_output_shapes(true).with_ignore_value_info(true);
    let mut proto = onnx.proto_model_for_path(path).map_err(|e| not_onnx(&e))?;
    let graph = proto.graph.as_mut().ok_or_else(|| not_onnx(&"no graph"))?;
    check_convolutions(graph).map_err(unsupported)?;
    let tensors = inputs::tensors(graph, inputs, &shown)?;
    let graph = proto.graph.as_ref().expect("checked above");
    let initializers: HashSet<&str> = graph.initializer.iter().map(|t| t.name.as_str()).collect();
    // A tensor is constant when it does not depend on the model's inputs (initializers, Constant
    // nodes, and whatever is computed from them alone, e.g. a reshaped weight).
    let mut dynamic: HashSet<&str> =
        graph.input.iter().map(|i| i.name.as_str()).filter(|n| !initializers.contains(n)).collect();
    for node in &graph.node {
        if node.input.iter().any(|i| dynamic.contains(i.as_str())) {
            dynamic.extend(node.output.iter().map(String::as_str));
        }
    }
    let constant = |name: &str| !dynamic.contains(name);

    // Which nodes are captured, and the tensors each needs (left and right operand).
    let mut layers = Vec::new();
    let mut wanted: Vec<(usize, [String; 2])> = Vec::new();
    for (index, node) in graph.node.iter().enumerate() {
        let name = if node.name.is_empty() { format!("{}_{index}", node.op_type) } else { node.name.clone() };
        let layer = |gemms: Result<Vec<Gemm>, String>, activations: bool| Layer {
            index,
            name: name.clone(),
            op: node.op_type.clone(),
            gemms,
            activations,
            shape: None,
        };
        if let Some((_, why)) = SKIPPED.iter().find(|(op, _)| *op == node.op_type) {
            layers.push(layer(Err(why.to_string()), false));
            continue;
        }
        if !CAPTURED.contains(&node.op_type.as_str()) {
            continue;
        }
        let (Some(left), Some(right)) = (node.input.first().cloned(), node.input.get(1).cloned()) else {
            layers.push(layer(Err("fewer than two inputs".into()), false));
            continue;
        };
        if left.is_empty() || right.is_empty() {
            layers.push(layer(Err("an input is missing".into()), false));
            continue;
        }
        if node.op_type == "Conv" && !constant(&right) {
            layers.push(layer(Err("the weight depends on the input: not a constant weight".into()), false));
            continue;
        }
        if constant(&left) && constant(&right) {
            layers.push(layer(Err("both operands are constant: folded, not run per input".into()), false));
            continue;
        }
        layers.push(layer(Ok(Vec::new()), !constant(&left) && !constant(&right)));
        wanted.push((layers.len() - 1, [left, right]));
    }
    if wanted.is_empty() {
        return Ok(layers);
    }
    let outputs: Vec<&str> = wanted.iter().flat_map(|(_, names)| names.iter().map(String::as_str)).collect();
    // External data (a model over 2 GB) is read from beside the model.
    let dir = path.parent().map(|d| d.to_string_lossy().into_owned());
    let values = guard::run(&onnx, dir.as_deref(), &proto, tensors, &outputs).map_err(unsupported)?;
    // Bytes of the GEMMs lowered so far, all kept until the layers are emulated.
    let mut held = 0u64;
    for (i, (at, _)) in wanted.iter().enumerate() {
        let tensor = |v: &TValue| -> Result<(Vec<usize>, Vec<f32>), String> {
            let view = v.cast_to::<f32>().map_err(|e| e.to_string())?;
            let array = view.to_plain_array_view::<f32>().map_err(|e| e.to_string())?;
            Ok((array.shape().to_vec(), array.iter().copied().collect()))
        };
        let layer = &mut layers[*at];
        let node = &graph.node[layer.index];
        let (left, right) = (&values[2 * i], &values[2 * i + 1]);
        // The constant operand is the weight: A comes from it. Activation products take A
        // from the right operand, as a MatMul with a constant weight does.
        let weight = if constant(&node.input[0]) { lower::Weight::Left } else { lower::Weight::Right };
        if layer.activations && !activations {
            layer.gemms = Err(match lower::shape(node, left.shape(), right.shape(), weight) {
                Ok([g, m, k, n]) => {
                    layer.shape = Some([g, m, k, n]);
                    format!(
                        "activation x activation: {g} GEMM(s) of M x K x N = {m} x {k} x {n}; --activations emulates them"
                    )
                }
                Err(e) => e,
            });
            continue;
        }
        let lowered = tensor(left)
            .and_then(|l| tensor(right).map(|r| (l, r)))
            .and_then(|(l, r)| lower::lower(node, l, r, weight, held));
        if let Ok(gemms) = &lowered {
            held += gemms.iter().map(|g| 4 * (g.a.data.len() + g.b.data.len()) as u64).sum::<u64>();
        }
        layer.gemms = lowered;
    }
    Ok(layers)
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
