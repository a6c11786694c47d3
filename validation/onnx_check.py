#!/usr/bin/env python3
"""Checks `highlight-emu model` against onnxruntime (issue 19's target), by hand, not in CI (it
needs onnx, onnxruntime, numpy and, for --image, Pillow from PyPI):

    python3 validation/onnx_check.py MODEL.onnx [--input [NAME=]FILE.npy ...] [--image IMG.jpg
        [--size HxW]] [--activations] [--emu target/release/highlight-emu]

Every model input must be given (an --image is preprocessed here into a .npy, ImageNet mean and
std, bilinear, so both sides see the same tensor). It runs `highlight-emu model --capture-only`
on those inputs, runs the model in onnxruntime with every Conv, Gemm and MatMul operand as an
extra output, and for every layer the emulator captured compares groups, M, K and N, computed
here from onnxruntime's tensors, and the activation density of B (a Conv's im2col with its
padding zeros counted here with NumPy; a Gemm's or MatMul's activation operand) with layers.csv.
Pass: shapes equal, each b_density within 0.02, the MAC-weighted mean within 0.005. Exit 1
otherwise.
"""
import argparse
import csv
import math
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
import onnxruntime as ort
from onnx import helper


def attrs(node):
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def axis(size, kernel, stride, dilation, pads, auto):
    """Output extent and padding before, as ONNX defines them."""
    span = (kernel - 1) * dilation + 1
    if auto in ("SAME_UPPER", "SAME_LOWER"):
        out = -(-size // stride)
        total = max((out - 1) * stride + span - size, 0)
        return out, total // 2 if auto == "SAME_UPPER" else total - total // 2
    if auto == "VALID":
        return (size - span) // stride + 1, 0
    return (size + pads[0] + pads[1] - span) // stride + 1, pads[0]


def conv(node, x, w):
    a = attrs(node)
    n, c, h, wd = x.shape
    m, cg, r, s = w.shape
    group = a.get("group", 1)
    (sh, sw), (dh, dw) = a.get("strides", [1, 1]), a.get("dilations", [1, 1])
    pads = a.get("pads", [0, 0, 0, 0])
    auto = a.get("auto_pad", b"NOTSET")
    auto = auto.decode() if isinstance(auto, bytes) else auto
    p, top = axis(h, r, sh, dh, (pads[0], pads[2]), auto)
    q, left = axis(wd, s, sw, dw, (pads[1], pads[3]), auto)
    # The padded input, large enough for every tap; the im2col's nonzeros are counted per tap.
    big = np.zeros((n, c, top + h + (p - 1) * sh + (r - 1) * dh + 1, left + wd + (q - 1) * sw + (s - 1) * dw + 1), bool)
    big[:, :, top:top + h, left:left + wd] = x != 0
    nonzero = 0
    for ri in range(r):
        for si in range(s):
            y0, x0 = ri * dh, si * dw
            nonzero += int(big[:, :, y0:y0 + sh * (p - 1) + 1:sh, x0:x0 + sw * (q - 1) + 1:sw].sum())
    return (group, m // group, cg * r * s, p * q * n), nonzero / (n * c * r * s * p * q)


def matmul(left, right, weight_left):
    """Groups, M, K, N and B's density of a MatMul, as docs/DESIGN.md 1 lowers it."""
    l = left.reshape(1, -1) if left.ndim == 1 else left
    r = right.reshape(-1, 1) if right.ndim == 1 else right
    lead_l, lead_r = list(l.shape[:-2]), list(r.shape[:-2])
    rank = max(len(lead_l), len(lead_r))
    lead_l, lead_r = [1] * (rank - len(lead_l)) + lead_l, [1] * (rank - len(lead_r)) + lead_r
    out = [max(a, b) for a, b in zip(lead_l, lead_r)]
    t, k, n = l.shape[-2], l.shape[-1], r.shape[-1]
    weight_lead = lead_l if weight_left else lead_r
    groups = math.prod(o for w, o in zip(weight_lead, out) if w != 1)
    per_group = math.prod(out) // max(groups, 1)
    if weight_left:
        return (groups, t, k, n * per_group), float((r != 0).mean())
    return (groups, n, k, t * per_group), float((l != 0).mean())


def gemm(node, left, right, weight_left):
    a = attrs(node)
    x = left.T if a.get("transA", 0) else left
    y = right.T if a.get("transB", 0) else right
    if weight_left:
        return (1, x.shape[0], x.shape[1], y.shape[1]), float((y != 0).mean())
    return (1, y.shape[1], x.shape[1], x.shape[0]), float((x != 0).mean())


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model")
    parser.add_argument("--input", action="append", default=[], help="[NAME=]FILE.npy, repeatable")
    parser.add_argument("--image")
    parser.add_argument("--size", default="224x224")
    parser.add_argument("--activations", action="store_true")
    parser.add_argument("--emu", default="target/release/highlight-emu")
    args = parser.parse_args()

    model = onnx.load(args.model)
    initializers = {t.name for t in model.graph.initializer}
    names = [i.name for i in model.graph.input if i.name not in initializers]
    work = tempfile.mkdtemp()
    given = {}
    for text in args.input:
        name, _, path = text.rpartition("=")
        given[name or names[0]] = path
    if args.image:
        from PIL import Image
        h, w = (int(v) for v in args.size.lower().split("x"))
        image = Image.open(args.image).convert("RGB").resize((w, h), Image.BILINEAR)
        x = np.asarray(image, dtype=np.float32) / 255.0
        x = (x - np.array([0.485, 0.456, 0.406], np.float32)) / np.array([0.229, 0.224, 0.225], np.float32)
        path = os.path.join(work, "image.npy")
        np.save(path, x.transpose(2, 0, 1)[None].astype(np.float32))
        given[next(n for n in names if n not in given)] = path
    missing = [n for n in names if n not in given]
    if missing:
        sys.exit(f"give every input: {missing} have no --input NAME=FILE.npy")
    feeds = {n: np.load(p) for n, p in given.items()}

    out = os.path.join(work, "out")
    command = [args.emu, "model", args.model, "--capture-only", "--out", out]
    for n, p in given.items():
        command += ["--input", f"{n}={p}"]
    if args.activations:
        command.append("--activations")
    subprocess.run(command, check=True)
    rows = {r["name"]: r for r in csv.DictReader(open(os.path.join(out, "layers.csv")))}

    # Constant tensors: initializers, Constant nodes and what is computed from them alone.
    dynamic = set(names)
    for node in model.graph.node:
        if any(i in dynamic for i in node.input):
            dynamic.update(node.output)
    captured = []
    for i, node in enumerate(model.graph.node):
        name = node.name or f"{node.op_type}_{i}"
        if node.op_type in ("Conv", "Gemm", "MatMul") and name in rows and rows[name]["skipped"] == "":
            captured.append((name, node))
    wanted = {t for _, node in captured for t in node.input[:2] if t not in initializers}
    for t in sorted(wanted - {o.name for o in model.graph.output}):
        model.graph.output.append(helper.make_empty_tensor_value_info(t))
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    values = dict(zip([o.name for o in session.get_outputs()], session.run(None, feeds)))
    values.update({t.name: onnx.numpy_helper.to_array(t) for t in model.graph.initializer})

    worst, macs, ours, theirs, shapes_ok = 0.0, 0, 0.0, 0.0, True
    for name, node in captured:
        left, right = values[node.input[0]], values[node.input[1]]
        weight_left = node.input[0] not in dynamic
        if node.op_type == "Conv":
            shape, density = conv(node, left, right)
        elif node.op_type == "Gemm":
            shape, density = gemm(node, left, right, weight_left)
        else:
            shape, density = matmul(left, right, weight_left)
        row = rows[name]
        got = tuple(int(row[c]) for c in ("groups", "m", "k", "n"))
        ok = got == shape
        shapes_ok &= ok
        diff = abs(float(row["b_density"]) - density)
        worst = max(worst, diff)
        layer_macs = math.prod(shape)
        macs += layer_macs
        ours += layer_macs * float(row["b_density"])
        theirs += layer_macs * density
        print(f"{name:24s} {node.op_type:6s} g,M,K,N {str(shape):24s} {'ok' if ok else 'DIFFERS ' + str(got)} "
              f"b_density emulator {float(row['b_density']):.4f} onnxruntime {density:.4f} diff {diff:.4f}")
    mean = abs(ours - theirs) / max(macs, 1)
    passed = shapes_ok and worst <= 0.02 and mean <= 0.005
    print(f"\n{len(captured)} captured layers; shapes {'all equal' if shapes_ok else 'DIFFER'}; largest "
          f"b_density difference {worst:.4f} (limit 0.02); MAC-weighted {mean:.4f} (limit 0.005): "
          f"{'pass' if passed else 'FAIL'}")
    sys.exit(0 if passed else 1)


if __name__ == "__main__":
    main()
