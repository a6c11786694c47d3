//! Running the model in tract, with a last guard: a panic inside tract (an attribute or shape
//! its analysis did not expect) becomes an error naming the node, found by running ever
//! shorter prefixes of the graph, never a crash (issue 19).

use std::collections::HashSet;
use std::panic::{AssertUnwindSafe, catch_unwind};

use tract_onnx::pb;
use tract_onnx::prelude::*;

/// The values of the tensors named `outputs`, computed from the given inputs.
pub(super) fn run(
    onnx: &tract_onnx::Onnx,
    dir: Option<&str>,
    proto: &pb::ModelProto,
    inputs: Vec<(String, Tensor)>,
    outputs: &[&str],
) -> Result<TVec<TValue>, String> {
    match caught(|| attempt(onnx, dir, proto, &inputs, outputs)) {
        Ok(result) => result.map_err(|message| named(message, proto)),
        Err(panic) => Err(match culprit(onnx, dir, proto, &inputs) {
            Some(node) => {
                let name = if node.name.is_empty() { node.op_type.clone() } else { node.name.clone() };
                format!("node {name} ({}): tract could not analyse it: {panic}", node.op_type)
            }
            None => format!("tract could not analyse it: {panic}"),
        }),
    }
}

thread_local! {
    /// Set while this thread runs tract under [`caught`]: its panics are not printed.
    static SILENT: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Tract's error, led by the ONNX node it names (`node #12 "conv"` in tract's words) and that
/// node's ONNX op, as every refusal of a node reads: `node NAME (OP): ...`.
fn named(message: String, proto: &pb::ModelProto) -> String {
    let name = message.split("node #").skip(1).find_map(|rest| {
        let rest = rest.trim_start_matches(|c: char| c.is_ascii_digit()).strip_prefix(" \"")?;
        rest.split_once('"').map(|(name, _)| name)
    });
    let nodes = proto.graph.as_ref().map_or(&[][..], |g| &g.node[..]);
    // Tract names a node by its ONNX name, or by its first output where it has none.
    let node = name.and_then(|n| {
        nodes
            .iter()
            .find(|x| x.name == n)
            .or_else(|| nodes.iter().find(|x| x.name.is_empty() && x.output.first().is_some_and(|o| o == n)))
    });
    match (name, node) {
        (Some(n), Some(node)) => format!("node {n} ({}): {message}", node.op_type),
        _ => message,
    }
}

/// Runs `f`, turning a panic into its message; the panic is not printed. One hook, installed
/// once, defers to the earlier one on every other thread and at every other time.
fn caught<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    static INSTALL: std::sync::Once = std::sync::Once::new();
    INSTALL.call_once(|| {
        let earlier = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !SILENT.with(std::cell::Cell::get) {
                earlier(info)
            }
        }));
    });
    SILENT.with(|s| s.set(true));
    let result = catch_unwind(AssertUnwindSafe(f));
    SILENT.with(|s| s.set(false));
    result.map_err(|payload| {
        payload
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "a panic without a message".into())
    })
}

/// Loads, types and runs the model once; its errors as one line.
fn attempt(
    onnx: &tract_onnx::Onnx,
    dir: Option<&str>,
    proto: &pb::ModelProto,
    inputs: &[(String, Tensor)],
    outputs: &[&str],
) -> Result<TVec<TValue>, String> {
    let parsed = onnx.parse(proto, dir).map_err(|e| format!("tract cannot load it: {e:#}"))?;
    if !parsed.unresolved_inputs.is_empty() {
        return Err(format!("tensors {:?} are read but nothing computes them", parsed.unresolved_inputs));
    }
    let mut model = parsed.model;
    // By the loader's own names: equal constants (tied or repeated weights) share one node.
    let mut outlets = Vec::with_capacity(outputs.len());
    for name in outputs {
        let outlet = parsed
            .outlets_by_name
            .get(*name)
            .copied()
            .ok_or_else(|| format!("tensor {name:?} is not in the loaded graph"))?;
        outlets.push(outlet);
    }
    model.select_output_outlets(&outlets).map_err(|e| format!("{e:#}"))?;
    // The plan takes its inputs in the loaded model's order.
    let mut values = TVec::new();
    for outlet in model.input_outlets().map_err(|e| format!("{e:#}"))? {
        let name = &model.node(outlet.node).name;
        let (_, tensor) = inputs
            .iter()
            .find(|(n, _)| n == name)
            .ok_or_else(|| format!("the loaded model's input {name:?} was given no value"))?;
        values.push(tensor.clone().into());
    }
    let plan = model
        .into_typed()
        .and_then(|m| m.into_runnable())
        .map_err(|e| format!("tract could not type it: {e:#}"))?;
    plan.run(values).map_err(|e| format!("running it: {e:#}"))
}

/// The first node whose prefix of the graph makes tract panic.
fn culprit(
    onnx: &tract_onnx::Onnx,
    dir: Option<&str>,
    proto: &pb::ModelProto,
    inputs: &[(String, Tensor)],
) -> Option<pb::NodeProto> {
    let nodes = &proto.graph.as_ref()?.node;
    let panics = |k: usize| {
        let prefix = &nodes[..k];
        // Every node of the prefix feeds an output: its tensors no later prefix node reads.
        let read: HashSet<&str> = prefix.iter().flat_map(|n| n.input.iter().map(String::as_str)).collect();
        let outputs: Vec<&str> = prefix
            .iter()
            .flat_map(|n| n.output.iter().map(String::as_str))
            .filter(|o| !o.is_empty() && !read.contains(o))
            .collect();
        let mut truncated = proto.clone();
        let graph = truncated.graph.as_mut().expect("checked above");
        graph.node.truncate(k);
        graph.output = outputs
            .iter()
            .map(|o| pb::ValueInfoProto { name: o.to_string(), ..Default::default() })
            .collect();
        caught(|| attempt(onnx, dir, &truncated, inputs, &outputs)).is_err()
    };
    // The smallest prefix that panics ends with the culprit.
    let (mut lo, mut hi) = (1, nodes.len());
    if hi == 0 || !panics(hi) {
        return None;
    }
    while lo < hi {
        let mid = (lo + hi) / 2;
        if panics(mid) { hi = mid } else { lo = mid + 1 }
    }
    Some(nodes[lo - 1].clone())
}
