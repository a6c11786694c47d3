#!/usr/bin/env python3
"""Exports models as their own projects' exporters write them, with dynamic axes, for checking
`highlight-emu model` with validation/onnx_check.py (issue 19). By hand, not in CI: it needs
torch, torchvision and transformers from PyPI. Weights are seeded random initialisations (no
downloads); the structure, the exporter's graph and the dynamic axes are the real ones.

    python3 validation/export_models.py OUT_DIR

writes into OUT_DIR, each with its inputs as .npy:
- resnet18.onnx: torchvision ResNet-18, input x [batch, 3, height, width] (x.npy: 1x3x224x224);
- mobilenet_v2.onnx: torchvision MobileNetV2 (depthwise convolutions), symbolic batch;
- fpn.onnx: a ResNet-18 backbone to stride 32 with an FPN-style top-down path (nearest upsample
  to the lateral's size, then Concat), dynamic height and width (x_fpn.npy: 1x3x320x256);
- bert.onnx: transformers BertModel (2 layers, hidden 128, 2 heads), input_ids and
  attention_mask [batch, sequence], int64, opset 17 (input_ids.npy, attention_mask.npy: 2x37);
- resnet50.onnx: torchvision ResNet-50, dynamic height and width: at 1x3x352x352 it is the
  10 GMAC model of the capture-time target (benches/RESULTS.md);
- each of the above also through torch.onnx.export's dynamo exporter where it succeeds
  (`*_dynamo.onnx`).
"""
import os
import sys

import numpy as np
import torch
import torchvision


class Fpn(torch.nn.Module):
    """Stride-8, -16 and -32 maps of a ResNet-18, merged top-down by upsample + Concat."""

    def __init__(self):
        super().__init__()
        r = torchvision.models.resnet18()
        self.stem = torch.nn.Sequential(r.conv1, r.bn1, r.relu, r.maxpool, r.layer1, r.layer2)
        self.layer3, self.layer4 = r.layer3, r.layer4
        self.merge16 = torch.nn.Conv2d(512 + 256, 128, 1)
        self.merge8 = torch.nn.Conv2d(128 + 128, 64, 3, padding=1)

    def forward(self, x):
        c3 = self.stem(x)
        c4 = self.layer3(c3)
        c5 = self.layer4(c4)
        up = torch.nn.functional.interpolate(c5, size=c4.shape[-2:], mode="nearest")
        p4 = torch.relu(self.merge16(torch.cat([up, c4], 1)))
        up = torch.nn.functional.interpolate(p4, size=c3.shape[-2:], mode="nearest")
        return self.merge8(torch.cat([up, c3], 1))


class Bert(torch.nn.Module):
    """The encoder's last hidden state, from input_ids and attention_mask by name."""

    def __init__(self, bert):
        super().__init__()
        self.bert = bert

    def forward(self, input_ids, attention_mask):
        return self.bert(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state


def export(model, args, path, names, axes, opset=17):
    model.eval()
    with torch.no_grad():
        torch.onnx.export(model, args, path, input_names=names, dynamic_axes=axes, opset_version=opset,
                          dynamo=False)
        print("wrote", path)
        try:
            dynamo = path.replace(".onnx", "_dynamo.onnx")
            torch.onnx.export(model, args, dynamo, input_names=names, dynamic_axes=axes, dynamo=True)
            print("wrote", dynamo)
        except Exception as e:  # the dynamo exporter is young; its failures are not ours
            print("dynamo export of", path, "failed:", str(e).splitlines()[0])


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(0)
    x = torch.randn(1, 3, 224, 224)
    np.save(os.path.join(out, "x.npy"), x.numpy())
    image_axes = {"x": {0: "batch", 2: "height", 3: "width"}}
    export(torchvision.models.resnet18(), (x,), os.path.join(out, "resnet18.onnx"), ["x"], image_axes)
    export(torchvision.models.resnet50(), (x,), os.path.join(out, "resnet50.onnx"), ["x"], image_axes)
    export(torchvision.models.mobilenet_v2(), (x,), os.path.join(out, "mobilenet_v2.onnx"), ["x"],
           {"x": {0: "batch"}})
    xf = torch.randn(1, 3, 320, 256)
    np.save(os.path.join(out, "x_fpn.npy"), xf.numpy())
    export(Fpn(), (xf,), os.path.join(out, "fpn.onnx"), ["x"], image_axes)

    from transformers import BertConfig, BertModel
    config = BertConfig(vocab_size=1000, hidden_size=128, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=512)
    bert = Bert(BertModel(config))
    ids = torch.randint(0, 1000, (2, 37))
    mask = torch.ones(2, 37, dtype=torch.int64)
    mask[1, 30:] = 0
    np.save(os.path.join(out, "input_ids.npy"), ids.numpy())
    np.save(os.path.join(out, "attention_mask.npy"), mask.numpy())
    seq = {0: "batch", 1: "sequence"}
    export(bert, (ids, mask), os.path.join(out, "bert.onnx"), ["input_ids", "attention_mask"],
           {"input_ids": seq, "attention_mask": seq})


if __name__ == "__main__":
    main()
