//! ONNX models built in the tests with `tract_onnx::pb` and `prost`, as exporters write them:
//! no binary blobs, no Python.

use std::path::Path;

use prost::Message;
use tract_onnx::pb;

pub fn tensor(name: &str, dims: &[i64], data: Vec<f32>) -> pb::TensorProto {
    pb::TensorProto {
        name: name.into(),
        dims: dims.to_vec(),
        data_type: 1,
        float_data: data,
        ..Default::default()
    }
}

pub fn ints(name: &str, v: &[i64]) -> pb::AttributeProto {
    pb::AttributeProto { name: name.into(), r#type: 7, ints: v.to_vec(), ..Default::default() }
}

pub fn int(name: &str, v: i64) -> pb::AttributeProto {
    pb::AttributeProto { name: name.into(), r#type: 2, i: v, ..Default::default() }
}

pub fn value(name: &str, dims: &[i64]) -> pb::ValueInfoProto {
    let dims: Vec<String> = dims.iter().map(i64::to_string).collect();
    value_of(name, 1, &dims.iter().map(String::as_str).collect::<Vec<_>>())
}

/// A declared input or output of ONNX element type `elem` (1 float, 7 int64, 10 float16) whose
/// dimensions are numbers or, as exporters write dynamic axes, names (`batch`, `sequence`).
pub fn value_of(name: &str, elem: i32, dims: &[&str]) -> pb::ValueInfoProto {
    use pb::tensor_shape_proto::{Dimension, dimension::Value as Dim};
    use pb::type_proto::{Tensor, Value};
    let dim = dims
        .iter()
        .map(|d| {
            let value = match d.parse::<i64>() {
                Ok(v) => Dim::DimValue(v),
                Err(_) => Dim::DimParam(d.to_string()),
            };
            Dimension { value: Some(value), ..Default::default() }
        })
        .collect();
    let tensor = Tensor { elem_type: elem, shape: Some(pb::TensorShapeProto { dim }) };
    pb::ValueInfoProto {
        name: name.into(),
        r#type: Some(pb::TypeProto { value: Some(Value::TensorType(tensor)), ..Default::default() }),
        ..Default::default()
    }
}

/// An int64 initializer (shapes, axes, indices).
pub fn int64s(name: &str, dims: &[i64], data: Vec<i64>) -> pb::TensorProto {
    pb::TensorProto {
        name: name.into(),
        dims: dims.to_vec(),
        data_type: 7,
        int64_data: data,
        ..Default::default()
    }
}

pub fn node(
    name: &str,
    op: &str,
    inputs: &[&str],
    output: &str,
    attribute: Vec<pb::AttributeProto>,
) -> pb::NodeProto {
    pb::NodeProto {
        name: name.into(),
        op_type: op.into(),
        input: inputs.iter().map(|s| s.to_string()).collect(),
        output: vec![output.into()],
        attribute,
        ..Default::default()
    }
}

/// Writes `graph` as an ONNX model (opset 13) at `path`.
pub fn save(graph: pb::GraphProto, path: &Path) -> std::path::PathBuf {
    save_opset(graph, path, 13)
}

/// Writes `graph` as an ONNX model of the given opset at `path`.
pub fn save_opset(graph: pb::GraphProto, path: &Path, opset: i64) -> std::path::PathBuf {
    let model = pb::ModelProto {
        ir_version: 8,
        opset_import: vec![pb::OperatorSetIdProto { domain: String::new(), version: opset }],
        graph: Some(graph),
        ..Default::default()
    };
    std::fs::write(path, model.encode_to_vec()).unwrap();
    path.to_path_buf()
}

/// Weights with zeros in them, deterministic.
pub fn weights(count: usize, salt: usize) -> Vec<f32> {
    (0..count)
        .map(
            |i| {
                if (i * 7 + salt).is_multiple_of(5) { 0.0 } else { ((i * 13 + salt) % 17) as f32 / 8.0 - 1.0 }
            },
        )
        .collect()
}

/// Nonzero entries of the im2col of `x` [c, h, w], padding zeros included, counted directly:
/// for each output position and each (c, r, s) tap.
pub fn im2col_nonzeros(
    x: &[f32],
    (h, w): (usize, usize),
    k: usize,
    stride: usize,
    pad: usize,
    channels: std::ops::Range<usize>,
) -> (usize, usize) {
    let out = (h + 2 * pad - k) / stride + 1;
    let (mut nonzero, mut all) = (0, 0);
    for p in 0..out {
        for q in 0..out {
            for ch in channels.clone() {
                for r in 0..k {
                    for s in 0..k {
                        all += 1;
                        let (y, xq) = (
                            (p * stride + r) as isize - pad as isize,
                            (q * stride + s) as isize - pad as isize,
                        );
                        if y >= 0
                            && xq >= 0
                            && (y as usize) < h
                            && (xq as usize) < w
                            && x[(ch * h + y as usize) * w + xq as usize] != 0.0
                        {
                            nonzero += 1;
                        }
                    }
                }
            }
        }
    }
    (nonzero, all)
}

/// Writes a C-order `.npy` of any rank and element type.
pub fn write_npy<T: npyz::AutoSerialize + Copy>(path: &Path, shape: &[u64], data: &[T]) {
    use npyz::WriterBuilder;
    let mut out = Vec::new();
    {
        let mut w =
            npyz::WriteOptions::new().default_dtype().shape(shape).writer(&mut out).begin_nd().unwrap();
        w.extend(data.iter().copied()).unwrap();
        w.finish().unwrap();
    }
    std::fs::write(path, out).unwrap();
}
