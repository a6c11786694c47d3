//! Captured nodes as GEMMs (docs/DESIGN.md 1): `Z = A x B` with A = the weights (M x K) and
//! B = the activations (K x N).
//!
//! - Conv: one GEMM per group; M = output channels / groups, K = C/g x R x S ordered R, S outer
//!   and C inner (so ranks follow `RS->C1->C0`), N = P x Q x batch; B is the im2col of the input
//!   with the padding zeros the hardware sees; strides, dilations, pads and auto_pad honoured.
//! - Gemm (with transA, transB) and MatMul with a constant weight: M = output features, K = input
//!   features, N = the rows of the activation (batch, tokens). MatMul broadcasts as NumPy does:
//!   a 2-D weight takes every row of a `[B, T, K]` activation in one GEMM; a weight with leading
//!   (batch, head) axes gives one GEMM per weight matrix, each taking the rows that meet it. A
//!   constant left operand (`W x X`) is A as it stands, X's columns are N.
//! - Activation x activation (attention's `Q K^T` and `P V`, `--activations`): the right operand
//!   plays the weight's part.

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

/// Which operand of a Gemm or MatMul gives A (the weight's side).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Weight {
    /// `X W`: A = W transposed, B = X transposed.
    Right,
    /// `W X`: A = W, B = X.
    Left,
}

/// Lowers a captured node, given its left and right operands (a Conv's input and weight);
/// `held` bytes of earlier layers' GEMMs are already in memory.
pub fn lower(
    node: &pb::NodeProto,
    left: Tensor,
    right: Tensor,
    weight: Weight,
    held: u64,
) -> Result<Vec<Gemm>, String> {
    match node.op_type.as_str() {
        "Conv" => conv(node, left, right, held),
        "Gemm" => gemm(node, left, right, weight),
        "MatMul" => matmul(left, right, weight, held),
        other => Err(format!("{other} is not lowered")),
    }
}

/// Groups, M, K and N of a Gemm or MatMul from its operands' shapes, without lowering it.
pub fn shape(
    node: &pb::NodeProto,
    left: &[usize],
    right: &[usize],
    weight: Weight,
) -> Result<[usize; 4], String> {
    if node.op_type == "Gemm" {
        let (&[r0, c0], &[r1, c1]) = (left, right) else {
            return Err(format!(
                "Gemm's operands have shapes {left:?} and {right:?}; 2-D tensors were expected"
            ));
        };
        let t = |n: &str| int(node, n).unwrap_or(0) != 0;
        let (rows, k) = if t("transA") { (c0, r0) } else { (r0, c0) };
        let cols = if t("transB") { r1 } else { c1 };
        return Ok(match weight {
            Weight::Right => [1, cols, k, rows],
            Weight::Left => [1, rows, k, cols],
        });
    }
    let plan = Batched::new(left, right)?;
    let groups = plan.groups(weight);
    let per_group = plan.batches() / groups.max(1);
    Ok(match weight {
        Weight::Right => [groups, plan.n, plan.k, plan.t * per_group],
        Weight::Left => [groups, plan.t, plan.k, plan.n * per_group],
    })
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

fn gemm(node: &pb::NodeProto, left: Tensor, right: Tensor, weight: Weight) -> Result<Vec<Gemm>, String> {
    // Y = A' B': A' (rows x K) and B' (K x cols) after transA and transB.
    let x = two_d(left, int(node, "transA").unwrap_or(0) != 0, "Gemm's A")?;
    let y = two_d(right, int(node, "transB").unwrap_or(0) != 0, "Gemm's B")?;
    if x.cols != y.rows {
        return Err(format!("Gemm's K disagrees: {} and {}", x.cols, y.rows));
    }
    Ok(vec![match weight {
        Weight::Right => Gemm { a: y.transpose(), b: x.transpose() },
        Weight::Left => Gemm { a: x, b: y },
    }])
}

/// A MatMul `[..., T, K] x [..., K, N]` with NumPy's broadcasting of the leading axes; a 1-D
/// left operand is one row, a 1-D right operand one column.
struct Batched {
    t: usize,
    k: usize,
    n: usize,
    /// The leading axes of the left and right operand and of the product, padded to one rank.
    left: Vec<usize>,
    right: Vec<usize>,
    out: Vec<usize>,
}

impl Batched {
    fn new(left: &[usize], right: &[usize]) -> Result<Batched, String> {
        let refuse = || format!("MatMul of shapes {left:?} and {right:?}: not a matrix product");
        let (lead_l, t, k) = match left {
            [] => return Err(refuse()),
            [k] => (&[][..], 1, *k),
            [lead @ .., t, k] => (lead, *t, *k),
        };
        let (lead_r, k2, n) = match right {
            [] => return Err(refuse()),
            [k] => (&[][..], *k, 1),
            [lead @ .., k, n] => (lead, *k, *n),
        };
        if k != k2 {
            return Err(format!("MatMul's K disagrees: {left:?} x {right:?}"));
        }
        let rank = lead_l.len().max(lead_r.len());
        let pad = |lead: &[usize]| [vec![1; rank - lead.len()], lead.to_vec()].concat();
        let (l, r) = (pad(lead_l), pad(lead_r));
        let mut out = Vec::with_capacity(rank);
        for (&a, &b) in l.iter().zip(&r) {
            out.push(match (a, b) {
                (a, b) if a == b => a,
                (1, b) => b,
                (a, 1) => a,
                _ => return Err(format!("MatMul's leading axes do not broadcast: {left:?} x {right:?}")),
            });
        }
        Ok(Batched { t, k, n, left: l, right: r, out })
    }

    fn batches(&self) -> usize {
        self.out.iter().product()
    }

    /// The weight's matrices that the product meets: one GEMM each.
    fn groups(&self, weight: Weight) -> usize {
        let lead = if weight == Weight::Right { &self.right } else { &self.left };
        lead.iter().zip(&self.out).map(|(&w, &o)| if w == 1 { 1 } else { o }).product()
    }

    /// The product's batch `b` as an index into an operand with leading axes `lead`.
    fn index(&self, b: usize, lead: &[usize]) -> usize {
        let (mut rest, mut index, mut stride) = (b, 0, 1);
        for (&o, &l) in self.out.iter().zip(lead).rev() {
            let coordinate = rest % o;
            rest /= o;
            if l != 1 {
                index += coordinate * stride;
            }
            stride *= l;
        }
        index
    }
}

fn matmul((ls, l): Tensor, (rs, r): Tensor, weight: Weight, held: u64) -> Result<Vec<Gemm>, String> {
    let plan = Batched::new(&ls, &rs)?;
    if plan.batches() == 0 {
        return Err(format!("empty: the product's batch axes {:?} hold no matrix", plan.out));
    }
    let (t, k, n) = (plan.t, plan.k, plan.n);
    let groups = plan.groups(weight);
    let per_group = plan.batches() / groups.max(1);
    // A weight shared by every batch is one GEMM over all rows: the broadcast copies nothing.
    let (m, cols) = match weight {
        Weight::Right => (n, t * per_group),
        Weight::Left => (t, n * per_group),
    };
    let floats = (m as u64 * k as u64).checked_add(k as u64 * cols as u64);
    let need = floats.and_then(|f| f.checked_mul(4 * groups as u64)).and_then(|b| b.checked_add(held));
    crate::memory::check(|| format!("{groups} GEMM(s) of {m} x {k} x {cols}"), need)
        .map_err(|e| e.to_string())?;
    let mut a: Vec<Option<Vec<f32>>> = vec![None; groups];
    let mut b: Vec<Vec<f32>> = vec![vec![0f32; k * cols]; groups];
    let mut filled = vec![0usize; groups];
    for batch in 0..plan.batches() {
        let (li, ri) = (plan.index(batch, &plan.left), plan.index(batch, &plan.right));
        let x = &l[li * t * k..(li + 1) * t * k];
        let w = &r[ri * k * n..(ri + 1) * k * n];
        let g = if weight == Weight::Right { ri } else { li };
        // The weight's matrix, once per group however many batches meet it.
        if a[g].is_none() {
            a[g] = Some(match weight {
                Weight::Right => Matrix::from_vec(k, n, w.to_vec()).transpose().data,
                Weight::Left => x.to_vec(),
            });
        }
        let other = match weight {
            Weight::Right => Matrix::from_vec(t, k, x.to_vec()).transpose(),
            Weight::Left => Matrix::from_vec(k, n, w.to_vec()),
        };
        // The other operand's columns join the group's B.
        for row in 0..k {
            let to = row * cols + filled[g];
            b[g][to..to + other.cols].copy_from_slice(&other.data[row * other.cols..(row + 1) * other.cols]);
        }
        filled[g] += other.cols;
    }
    // Every weight matrix meets at least one batch (its axes are the product's), so each is set.
    a.into_iter()
        .zip(b)
        .map(|(a, b)| {
            let a = a.ok_or("a weight matrix no batch meets")?;
            Ok(Gemm { a: Matrix::from_vec(m, k, a), b: Matrix::from_vec(k, cols, b) })
        })
        .collect()
}
