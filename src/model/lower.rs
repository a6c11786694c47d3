//! Captured nodes as GEMMs (docs/DESIGN.md 1): `Z = A x B` with A = the weights (M x K) and
//! B = the activations (K x N).
//!
//! - Conv: one GEMM per group; M = output channels / groups, K = C/g x R x S ordered R, S outer
//!   and C inner (so ranks follow `RS->C1->C0`), N = P x Q x batch; B is the im2col of the input
//!   with the padding zeros the hardware sees; strides, dilations, pads and auto_pad honoured.
//! - Gemm (with transA, transB) and MatMul with a constant weight: M = output features, K = input
//!   features, N = the rows of the activation (batch, tokens).

use tract_onnx::pb;

use crate::matrix::Matrix;

/// One GEMM of a captured node, in float, before pruning and quantisation.
#[derive(Clone, Debug)]
pub struct Gemm {
    /// Weights, M x K.
    pub a: Matrix<f32>,
    /// Activations, K x N.
    pub b: Matrix<f32>,
}

fn ints(node: &pb::NodeProto, name: &str) -> Option<Vec<i64>> {
    node.attribute.iter().find(|a| a.name == name).map(|a| a.ints.clone())
}

fn int(node: &pb::NodeProto, name: &str) -> Option<i64> {
    node.attribute.iter().find(|a| a.name == name).map(|a| a.i)
}

fn text(node: &pb::NodeProto, name: &str) -> Option<String> {
    node.attribute.iter().find(|a| a.name == name).map(|a| String::from_utf8_lossy(&a.s).into_owned())
}

type Tensor = (Vec<usize>, Vec<f32>);

/// Lowers a captured node, given its activation and weight tensors; `held` bytes of earlier
/// layers' GEMMs are already in memory.
pub fn lower(node: &pb::NodeProto, act: Tensor, weight: Tensor, held: u64) -> Result<Vec<Gemm>, String> {
    match node.op_type.as_str() {
        "Conv" => conv(node, act, weight, held),
        "Gemm" => gemm(node, act, weight),
        "MatMul" => matmul(act, weight),
        other => Err(format!("{other} is not lowered")),
    }
}

/// Output extent and the padding before it, of one spatial axis.
fn axis(
    input: usize,
    kernel: usize,
    stride: usize,
    dilation: usize,
    pads: (usize, usize),
    auto: &str,
) -> Result<(usize, usize), String> {
    let span = (kernel - 1) * dilation + 1;
    match auto {
        "SAME_UPPER" | "SAME_LOWER" => {
            let out = input.div_ceil(stride);
            let total = ((out - 1) * stride + span).saturating_sub(input);
            let before = if auto == "SAME_UPPER" { total / 2 } else { total.div_ceil(2) };
            Ok((out, before))
        }
        "VALID" => Ok(((input.saturating_sub(span)) / stride + 1, 0)),
        "" | "NOTSET" => {
            let padded = input + pads.0 + pads.1;
            if padded < span {
                return Err(format!("kernel span {span} exceeds the padded input {padded}"));
            }
            Ok(((padded - span) / stride + 1, pads.0))
        }
        other => Err(format!("auto_pad {other:?} (accepted: NOTSET, SAME_UPPER, SAME_LOWER, VALID)")),
    }
}

fn conv(node: &pb::NodeProto, (xs, x): Tensor, (ws, w): Tensor, held: u64) -> Result<Vec<Gemm>, String> {
    let (&[n, c, h, wd], &[m, cg, r, s]) = (&xs[..], &ws[..]) else {
        return Err(format!("a Conv with input {xs:?} and weight {ws:?}: only 2-D convolutions are lowered"));
    };
    let groups = int(node, "group").unwrap_or(1).max(1) as usize;
    if c != cg * groups || !m.is_multiple_of(groups) {
        return Err(format!("{c} channels, {cg} per group, {groups} groups, {m} filters do not agree"));
    }
    let strides = ints(node, "strides").unwrap_or_else(|| vec![1, 1]);
    let dilations = ints(node, "dilations").unwrap_or_else(|| vec![1, 1]);
    let pads = ints(node, "pads").unwrap_or_else(|| vec![0, 0, 0, 0]);
    let auto = text(node, "auto_pad").unwrap_or_default();
    let u = |v: &[i64], i: usize, default: usize| v.get(i).map_or(default, |&x| x.max(0) as usize);
    let (sh, sw) = (u(&strides, 0, 1).max(1), u(&strides, 1, 1).max(1));
    let (dh, dw) = (u(&dilations, 0, 1).max(1), u(&dilations, 1, 1).max(1));
    let (p, top) = axis(h, r, sh, dh, (u(&pads, 0, 0), u(&pads, 2, 0)), &auto)?;
    let (q, left) = axis(wd, s, sw, dw, (u(&pads, 1, 0), u(&pads, 3, 0)), &auto)?;
    let (mg, k, cols) = (m / groups, cg * r * s, p * q * n);
    // The im2col grows the activation by R x S: checked before it is allocated.
    let floats = (k as u64).checked_mul(cols as u64).and_then(|b| b.checked_add((mg * k) as u64));
    let need = floats.and_then(|f| f.checked_mul(4 * groups as u64)).and_then(|b| b.checked_add(held));
    crate::memory::check(|| format!("the im2col of {k} x {cols} per group, {groups} groups"), need)
        .map_err(|e| e.to_string())?;
    let mut gemms = Vec::with_capacity(groups);
    for g in 0..groups {
        // Weights: k = (ri S + si) Cg + ci.
        let mut a = vec![0f32; mg * k];
        for mi in 0..mg {
            for ci in 0..cg {
                for ri in 0..r {
                    for si in 0..s {
                        a[mi * k + (ri * s + si) * cg + ci] =
                            w[(((g * mg + mi) * cg + ci) * r + ri) * s + si];
                    }
                }
            }
        }
        // The im2col: column (b, pi, qi), row k; outside the input is a padding zero.
        let mut b = vec![0f32; k * cols];
        for bi in 0..n {
            for pi in 0..p {
                for qi in 0..q {
                    let col = (bi * p + pi) * q + qi;
                    for ri in 0..r {
                        let y = (pi * sh + ri * dh) as isize - top as isize;
                        if y < 0 || y >= h as isize {
                            continue;
                        }
                        for si in 0..s {
                            let xq = (qi * sw + si * dw) as isize - left as isize;
                            if xq < 0 || xq >= wd as isize {
                                continue;
                            }
                            for ci in 0..cg {
                                let channel = g * cg + ci;
                                let value = x[((bi * c + channel) * h + y as usize) * wd + xq as usize];
                                b[((ri * s + si) * cg + ci) * cols + col] = value;
                            }
                        }
                    }
                }
            }
        }
        gemms.push(Gemm { a: Matrix::from_vec(mg, k, a), b: Matrix::from_vec(k, cols, b) });
    }
    Ok(gemms)
}

/// A 2-D tensor as a matrix, transposed when `trans` is set.
fn two_d((shape, data): Tensor, trans: bool, what: &str) -> Result<Matrix<f32>, String> {
    let [rows, cols] = shape[..] else {
        return Err(format!("{what} has shape {shape:?}; a 2-D tensor was expected"));
    };
    let m = Matrix::from_vec(rows, cols, data);
    Ok(if trans { m.transpose() } else { m })
}

fn gemm(node: &pb::NodeProto, act: Tensor, weight: Tensor) -> Result<Vec<Gemm>, String> {
    // Y = A' B': A' (rows x K) is the activation, B' (K x features) the weight.
    let x = two_d(act, int(node, "transA").unwrap_or(0) != 0, "Gemm's A")?;
    let w = two_d(weight, int(node, "transB").unwrap_or(0) != 0, "Gemm's B")?;
    if x.cols != w.rows {
        return Err(format!("Gemm's K disagrees: {} and {}", x.cols, w.rows));
    }
    Ok(vec![Gemm { a: w.transpose(), b: x.transpose() }])
}

fn matmul((xs, x): Tensor, weight: Tensor) -> Result<Vec<Gemm>, String> {
    let w = two_d(weight, false, "MatMul's weight")?;
    let k = *xs.last().ok_or("MatMul's input is a scalar")?;
    if k != w.rows {
        return Err(format!("MatMul's K disagrees: {k} and {}", w.rows));
    }
    let rows = x.len() / k.max(1);
    Ok(vec![Gemm { a: w.transpose(), b: Matrix::from_vec(rows, k, x).transpose() }])
}
