#!/usr/bin/env python3
"""Checks `highlight-emu model` against onnxruntime and a NumPy im2col (issue 12's target), by
hand, not in CI (it needs onnxruntime, onnx, numpy and Pillow from PyPI):

    python3 validation/onnx_check.py MODEL.onnx IMAGE.jpg [HIGHLIGHT_EMU]

It preprocesses the image (224 x 224, bilinear, ImageNet mean and std) into x.npy, runs
`highlight-emu model MODEL.onnx --input x.npy --capture-only`, runs the model in onnxruntime with
every Conv's input as an extra output, and for every Conv compares M, K, N and groups, and the
density of the im2col (padding included) computed here with NumPy, with layers.csv.
"""
import csv
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
import onnxruntime as ort
from onnx import helper, shape_inference
from PIL import Image


def attrs(node):
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def im2col_density(x, kernel, strides, dilations, pads, group):
    n, c, h, w = x.shape
    (r, s), (sh, sw), (dh, dw) = kernel, strides, dilations
    xp = np.pad(x != 0, ((0, 0), (0, 0), (pads[0], pads[2]), (pads[1], pads[3])))
    p = (h + pads[0] + pads[2] - (dh * (r - 1) + 1)) // sh + 1
    q = (w + pads[1] + pads[3] - (dw * (s - 1) + 1)) // sw + 1
    nonzero = 0
    for ri in range(r):
        for si in range(s):
            window = xp[:, :, ri * dh: ri * dh + sh * (p - 1) + 1: sh, si * dw: si * dw + sw * (q - 1) + 1: sw]
            nonzero += int(window.sum())
    return nonzero / (n * c * r * s * p * q), p, q


def main():
    model_path, image_path = sys.argv[1], sys.argv[2]
    emu = sys.argv[3] if len(sys.argv) > 3 else "target/release/highlight-emu"
    work = tempfile.mkdtemp()
    image = Image.open(image_path).convert("RGB").resize((224, 224), Image.BILINEAR)
    x = np.asarray(image, dtype=np.float32) / 255.0
    x = (x - np.array([0.485, 0.456, 0.406], np.float32)) / np.array([0.229, 0.224, 0.225], np.float32)
    x = x.transpose(2, 0, 1)[None].astype(np.float32)
    np.save(os.path.join(work, "x.npy"), x)
    out = os.path.join(work, "out")
    subprocess.run([emu, "model", model_path, "--input", os.path.join(work, "x.npy"), "--capture-only", "--out", out], check=True)
    rows = {r["name"]: r for r in csv.DictReader(open(os.path.join(out, "layers.csv")))}

    model = shape_inference.infer_shapes(onnx.load(model_path))
    convs = [n for n in model.graph.node if n.op_type == "Conv"]
    known = {v.name for v in model.graph.output}
    initializers = {t.name for t in model.graph.initializer}
    for n in convs:
        for name in n.input[:2]:
            if name not in known and name not in initializers:
                model.graph.output.append(helper.make_empty_tensor_value_info(name))
                known.add(name)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    values = dict(zip(names, session.run(None, {session.get_inputs()[0].name: x})))
    weights = {t.name: onnx.numpy_helper.to_array(t) for t in model.graph.initializer}

    worst, macs, weighted_ours, weighted_ref, shapes_ok = 0.0, 0, 0.0, 0.0, True
    for i, n in enumerate(convs):
        a = attrs(n)
        act = values[n.input[0]]
        w_shape = weights[n.input[1]].shape if n.input[1] in weights else values.get(n.input[1], np.zeros(0)).shape
        group = a.get("group", 1)
        kernel = a.get("kernel_shape", list(w_shape[2:]))
        pads = a.get("pads", [0, 0, 0, 0])
        density, p, q = im2col_density(act, kernel, a.get("strides", [1, 1]), a.get("dilations", [1, 1]), pads, group)
        m, k, nn = w_shape[0] // group, w_shape[1] * kernel[0] * kernel[1], p * q * act.shape[0]
        name = n.name or f"Conv_{i}"
        row = rows[name]
        ok = (int(row["m"]), int(row["k"]), int(row["n"]), int(row["groups"])) == (m, k, nn, group)
        shapes_ok &= ok
        diff = abs(float(row["b_density"]) - density)
        worst = max(worst, diff)
        layer_macs = m * k * nn * group
        macs += layer_macs
        weighted_ours += layer_macs * float(row["b_density"])
        weighted_ref += layer_macs * density
        print(f"{name:10s} M {m:5d} K {k:5d} N {nn:6d} g {group:3d} shape {'ok' if ok else 'DIFFERS'} "
              f"b_density emulator {float(row['b_density']):.4f} numpy {density:.4f} diff {diff:.4f}")
    print(f"\n{len(convs)} convolutions; shapes {'all equal' if shapes_ok else 'DIFFER'}; largest b_density "
          f"difference {worst:.4f}; MAC-weighted {abs(weighted_ours - weighted_ref) / macs:.4f}")


if __name__ == "__main__":
    main()
