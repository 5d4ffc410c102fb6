"""The throughput evidence (flopest/data/throughput_evidence.csv) as graphs flopest can time:
each row's model built on the meta device from its published architecture numbers (nothing
downloaded), captured for training (forward + backward) at the row's batch per device, and its
measured step time per device. Shared by benchmarks/bench_time_model.py and
tools/fit_time_model.py (imported, not run).

    rows = load_rows()                       # every evidence row, with how it maps to a graph
    cases = build_cases(rows, log=print)     # graphs captured once per (model, batch, sequence)
    stack = Stack(cases)                     # every case's step-time features, for fast fitting
    stack.predict(model) -> per-case predicted step seconds

Architecture numbers are the published ones (sources in each builder's docstring). Rows whose
model has no builder here (Transformer-XL: relative attention and adaptive softmax) or no
sequence length are listed with the reason, never dropped silently.
"""

from __future__ import annotations

import csv
import math
import os
import sys
import time
from dataclasses import dataclass

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

EVIDENCE = os.path.join(ROOT, "flopest", "data", "throughput_evidence.csv")
NODE = 8          # devices per node: the single-node terms of issue 15 (8 GPUs / 8 TPU chips per host)
PRECISION = {"fp32": "fp32", "tf32": "tf32", "amp": "fp16", "bf16": "bf16", "fp8": "fp8", "": "bf16"}


# ----------------------------------------------------------------------------- evidence rows
def load_rows(path: str = EVIDENCE) -> list:
    """The evidence rows as dicts (comment lines skipped)."""
    with open(path, encoding="utf-8") as fh:
        lines = [ln for ln in fh if ln.strip() and not ln.lstrip().startswith("#")]
    return list(csv.DictReader(lines))


def optimizer_of(text: str, family: str) -> str:
    """The optimizer of a row as time_model.csv names it (empty: AdamW for decoder LLMs, the
    recipes' default; Adam for the rest, the Hugging Face Trainer's AdamW being the same cost)."""
    t = text.lower()
    if "lamb" in t:
        return "lamb"
    if "rmsprop" in t:
        return "rmsprop-momentum"
    if "sgd" in t and "momentum" in t:
        return "sgd-momentum"
    if "sgd" in t:
        return "sgd"
    if "adamw" in t:
        return "adamw"
    if "adam" in t:
        return "adam"
    return "adamw"


@dataclass
class Case:
    """One evidence row made predictable: its graph key, device, precision, layout and the
    measured step time of the graph's batch on one device."""
    id: str
    model: str
    family: str
    device: str
    precision: str
    n_devices: int
    n_node: int                 # devices of the node the single-node terms use
    parallel: str               # ddp | fsdp
    optimizer: str
    graph: tuple                # (builder, batch, size) key
    batch: int
    measured_s: float           # measured seconds per step of `batch` examples per device
    quality: str
    note: str = ""
    counts: object = None
    params: int = 0


def _int(x, default=None):
    try:
        return int(float(x))
    except (TypeError, ValueError):
        return default


def to_case(r: dict):
    """(Case, None) or (None, reason) for an evidence row."""
    name, fam = r["model"], r["model_family"]
    builder = builder_for(name, fam, r)
    if isinstance(builder, str):
        return None, builder
    key, batch, units_per_example = builder
    n = _int(r["n_devices"], 1) or 1
    thr = float(r["throughput"])
    per_device = thr / n if r["throughput_scope"] == "total" else thr
    unit = r["throughput_unit"]
    if unit == "tokens/s":
        work = batch * units_per_example      # tokens of one step of `batch` sequences
    else:
        work = batch
    measured = work / per_device
    par = r.get("parallelism", "").lower()
    parallel = "ddp" if (n == 1 or "data parallel" in par and "fully" not in par) else "fsdp"
    note = []
    if not r["batch_per_device"].strip():
        note.append("batch not published: 1 per device assumed")
    if not r["n_devices"].strip():
        note.append("device count not published: 1 assumed")
    return Case(r["id"], name, fam, r["device"], PRECISION[r["precision"].strip()], n, min(n, NODE), parallel,
                optimizer_of(r.get("optimizer", ""), fam), key, batch, measured, r["quality"], "; ".join(note)), None


# ----------------------------------------------------------------------------- model builders
def builder_for(name: str, fam: str, r: dict):
    """((builder, batch, seq or image), batch, tokens per example) or a reason string."""
    low = name.lower()
    b = _int(r["batch_per_device"], None)
    s = r["seq_len_or_image"].strip()
    if "transformer-xl" in low:
        return "no builder: Transformer-XL's relative attention and adaptive softmax are not modelled here"
    if "transformer big" in low:
        # batch '10240 tokens' per GPU: fairseq max-tokens; taken as 160 pairs of 64 tokens
        return ("transformer-big", 160, 64), 160, 64
    if fam == "decoder":
        seq = _int(s)
        if seq is None:
            return "sequence length not published"
        b = b or 1
        for key in LLMS:
            if key in low:
                return (key, b, seq), b, seq
        return f"no builder for decoder {name!r}"
    if "bert-large" in low:
        seq = _int(s)
        kind = "bert-large-squad" if r["task"] == "finetune" else "bert-large-pretrain"
        return (kind, b, seq), b, seq
    img = _int(s, 224)
    key = _vision_key(low)
    if key in VISION:
        return (key, b, img), b, 1
    return f"no builder for {name!r}"


def _vision_key(low: str) -> str:
    low = low.replace("timm ", "").replace("tf_cnn_benchmarks ", "")
    table = [("resnext101", "resnext101_32x4d"), ("resnext50", "resnext50_32x4d"), ("resnet-50", "resnet50"),
             ("resnet50", "resnet50"), ("resnet101", "resnet101"), ("resnet152", "resnet152"),
             ("resnet18", "resnet18"), ("efficientnet-b0", "efficientnet_b0"), ("efficientnet_b0", "efficientnet_b0"),
             ("efficientnet-b4", "efficientnet_b4"), ("vgg16", "vgg16"), ("densenet121", "densenet121"),
             ("inception", "inception_v3"), ("mobilenetv3", "mobilenet_v3_large"), ("convnext_tiny", "convnext_tiny"),
             ("vit_small", "vit_small"), ("vit_base", "vit_base"), ("vit_large", "vit_large"), ("swin_tiny", "swin_tiny")]
    for k, v in table:
        if k in low:
            return v
    return low


def _torch():
    import torch
    return torch


def resnet(layers, bottleneck=True, groups=1, width_per_group=64, num_classes=1000):
    """torchvision.models.resnet layout (He et al. 2015; ResNeXt: Xie et al. 2017, groups 32 ×
    width 4), v1.5: stride on the 3×3 convolution."""
    torch = _torch()
    nn = torch.nn

    class Basic(nn.Module):
        expansion = 1

        def __init__(self, cin, planes, stride=1, down=None):
            super().__init__()
            self.conv1 = nn.Conv2d(cin, planes, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(planes)
            self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(planes)
            self.relu = nn.ReLU(inplace=True)
            self.down = down

        def forward(self, x):
            idt = x if self.down is None else self.down(x)
            out = self.relu(self.bn1(self.conv1(x)))
            return self.relu(self.bn2(self.conv2(out)) + idt)

    class Bottle(nn.Module):
        expansion = 4

        def __init__(self, cin, planes, stride=1, down=None):
            super().__init__()
            width = int(planes * (width_per_group / 64.0)) * groups
            self.conv1 = nn.Conv2d(cin, width, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(width)
            self.conv2 = nn.Conv2d(width, width, 3, stride, 1, groups=groups, bias=False)
            self.bn2 = nn.BatchNorm2d(width)
            self.conv3 = nn.Conv2d(width, planes * 4, 1, bias=False)
            self.bn3 = nn.BatchNorm2d(planes * 4)
            self.relu = nn.ReLU(inplace=True)
            self.down = down

        def forward(self, x):
            idt = x if self.down is None else self.down(x)
            out = self.relu(self.bn1(self.conv1(x)))
            out = self.relu(self.bn2(self.conv2(out)))
            return self.relu(self.bn3(self.conv3(out)) + idt)

    block = Bottle if bottleneck else Basic

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.cin = 64
            self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
            self.bn1 = nn.BatchNorm2d(64)
            self.relu = nn.ReLU(inplace=True)
            self.pool = nn.MaxPool2d(3, 2, 1)
            self.layers = nn.Sequential(*[self._layer(64 * 2 ** i, n, 1 if i == 0 else 2) for i, n in enumerate(layers)])
            self.avg = nn.AdaptiveAvgPool2d(1)
            self.fc = nn.Linear(512 * block.expansion, num_classes)

        def _layer(self, planes, n, stride):
            down = None
            if stride != 1 or self.cin != planes * block.expansion:
                down = nn.Sequential(nn.Conv2d(self.cin, planes * block.expansion, 1, stride, bias=False),
                                     nn.BatchNorm2d(planes * block.expansion))
            mods = [block(self.cin, planes, stride, down)]
            self.cin = planes * block.expansion
            mods += [block(self.cin, planes) for _ in range(1, n)]
            return nn.Sequential(*mods)

        def forward(self, x):
            x = self.pool(self.relu(self.bn1(self.conv1(x))))
            return self.fc(torch.flatten(self.avg(self.layers(x)), 1))

    return Net()


def vgg16(num_classes=1000):
    """VGG-16 (Simonyan & Zisserman 2014, configuration D), torchvision layout without batch norm."""
    torch = _torch()
    nn = torch.nn
    cfg = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]
    layers, cin = [], 3
    for v in cfg:
        if v == "M":
            layers.append(nn.MaxPool2d(2, 2))
        else:
            layers += [nn.Conv2d(cin, v, 3, padding=1), nn.ReLU(inplace=True)]
            cin = v
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(7), nn.Flatten(), nn.Linear(512 * 49, 4096), nn.ReLU(True),
                         nn.Dropout(), nn.Linear(4096, 4096), nn.ReLU(True), nn.Dropout(), nn.Linear(4096, num_classes))


def densenet121(num_classes=1000):
    """DenseNet-121 (Huang et al. 2017): growth 32, blocks (6, 12, 24, 16), bottleneck 4×, compression 0.5."""
    torch = _torch()
    nn = torch.nn

    class Layer(nn.Module):
        def __init__(self, cin):
            super().__init__()
            self.n1, self.c1 = nn.BatchNorm2d(cin), nn.Conv2d(cin, 128, 1, bias=False)
            self.n2, self.c2 = nn.BatchNorm2d(128), nn.Conv2d(128, 32, 3, padding=1, bias=False)
            self.relu = nn.ReLU(inplace=True)

        def forward(self, feats):
            x = torch.cat(feats, 1)
            return self.c2(self.relu(self.n2(self.c1(self.relu(self.n1(x))))))

    class Block(nn.Module):
        def __init__(self, n, cin):
            super().__init__()
            self.layers = nn.ModuleList([Layer(cin + 32 * i) for i in range(n)])

        def forward(self, x):
            feats = [x]
            for layer in self.layers:
                feats.append(layer(feats))
            return torch.cat(feats, 1)

    mods, c = [nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(True), nn.MaxPool2d(3, 2, 1)], 64
    for i, n in enumerate((6, 12, 24, 16)):
        mods.append(Block(n, c))
        c += 32 * n
        if i < 3:
            mods += [nn.BatchNorm2d(c), nn.ReLU(True), nn.Conv2d(c, c // 2, 1, bias=False), nn.AvgPool2d(2, 2)]
            c //= 2
    mods += [nn.BatchNorm2d(c), nn.ReLU(True), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, num_classes)]
    return nn.Sequential(*mods)


def mobilenet_v3_large(num_classes=1000):
    """MobileNetV3-Large (Howard et al. 2019, Table 1): inverted residuals with squeeze-excite and
    hard-swish, torchvision layout."""
    torch = _torch()
    nn = torch.nn
    # kernel, expanded, out, SE, activation (HS / RE), stride
    cfg = [(3, 16, 16, 0, "RE", 1), (3, 64, 24, 0, "RE", 2), (3, 72, 24, 0, "RE", 1), (5, 72, 40, 1, "RE", 2),
           (5, 120, 40, 1, "RE", 1), (5, 120, 40, 1, "RE", 1), (3, 240, 80, 0, "HS", 2), (3, 200, 80, 0, "HS", 1),
           (3, 184, 80, 0, "HS", 1), (3, 184, 80, 0, "HS", 1), (3, 480, 112, 1, "HS", 1), (3, 672, 112, 1, "HS", 1),
           (5, 672, 160, 1, "HS", 2), (5, 960, 160, 1, "HS", 1), (5, 960, 160, 1, "HS", 1)]

    def cba(cin, cout, k, s, g, act):
        return [nn.Conv2d(cin, cout, k, s, (k - 1) // 2, groups=g, bias=False), nn.BatchNorm2d(cout)] + \
               ([act()] if act else [])

    class SE(nn.Module):
        def __init__(self, c):
            super().__init__()
            sq = max(8, (c // 4 + 4) // 8 * 8)
            self.f1, self.f2 = nn.Conv2d(c, sq, 1), nn.Conv2d(sq, c, 1)
            self.relu, self.hs = nn.ReLU(True), nn.Hardsigmoid()

        def forward(self, x):
            s = torch.nn.functional.adaptive_avg_pool2d(x, 1)
            return x * self.hs(self.f2(self.relu(self.f1(s))))

    class Block(nn.Module):
        def __init__(self, cin, k, exp, cout, se, act, s):
            super().__init__()
            a = nn.Hardswish if act == "HS" else nn.ReLU
            mods = [] if exp == cin else cba(cin, exp, 1, 1, 1, a)
            mods += cba(exp, exp, k, s, exp, a)
            if se:
                mods.append(SE(exp))
            mods += cba(exp, cout, 1, 1, 1, None)
            self.body = nn.Sequential(*mods)
            self.res = s == 1 and cin == cout

        def forward(self, x):
            return x + self.body(x) if self.res else self.body(x)

    mods, c = cba(3, 16, 3, 2, 1, nn.Hardswish), 16
    for k, e, o, se, act, s in cfg:
        mods.append(Block(c, k, e, o, se, act, s))
        c = o
    mods += cba(c, 960, 1, 1, 1, nn.Hardswish)
    mods += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(960, 1280), nn.Hardswish(), nn.Dropout(0.2),
             nn.Linear(1280, num_classes)]
    return nn.Sequential(*mods)


def inception_v3(num_classes=1000):
    """Inception-v3 (Szegedy et al. 2016), torchvision layout (no auxiliary head), 299×299 input."""
    torch = _torch()
    nn = torch.nn

    class C(nn.Module):
        def __init__(self, cin, cout, k, s=1, p=0):
            super().__init__()
            self.conv, self.bn, self.relu = nn.Conv2d(cin, cout, k, s, p, bias=False), nn.BatchNorm2d(cout), nn.ReLU(True)

        def forward(self, x):
            return self.relu(self.bn(self.conv(x)))

    class Cat(nn.Module):
        def __init__(self, *branches):
            super().__init__()
            self.b = nn.ModuleList(branches)

        def forward(self, x):
            return torch.cat([b(x) for b in self.b], 1)

    S = nn.Sequential

    def a(cin, pool):
        return Cat(C(cin, 64, 1), S(C(cin, 48, 1), C(48, 64, 5, p=2)),
                   S(C(cin, 64, 1), C(64, 96, 3, p=1), C(96, 96, 3, p=1)), S(nn.AvgPool2d(3, 1, 1), C(cin, pool, 1)))

    def b(cin):
        return Cat(C(cin, 384, 3, 2), S(C(cin, 64, 1), C(64, 96, 3, p=1), C(96, 96, 3, 2)), nn.MaxPool2d(3, 2))

    def c(cin, c7):
        return Cat(C(cin, 192, 1), S(C(cin, c7, 1), C(c7, c7, (1, 7), p=(0, 3)), C(c7, 192, (7, 1), p=(3, 0))),
                   S(C(cin, c7, 1), C(c7, c7, (7, 1), p=(3, 0)), C(c7, c7, (1, 7), p=(0, 3)),
                     C(c7, c7, (7, 1), p=(3, 0)), C(c7, 192, (1, 7), p=(0, 3))),
                   S(nn.AvgPool2d(3, 1, 1), C(cin, 192, 1)))

    def d(cin):
        return Cat(S(C(cin, 192, 1), C(192, 320, 3, 2)),
                   S(C(cin, 192, 1), C(192, 192, (1, 7), p=(0, 3)), C(192, 192, (7, 1), p=(3, 0)), C(192, 192, 3, 2)),
                   nn.MaxPool2d(3, 2))

    class E(nn.Module):
        def __init__(self, cin):
            super().__init__()
            self.b1 = C(cin, 320, 1)
            self.b3, self.b3a, self.b3b = C(cin, 384, 1), C(384, 384, (1, 3), p=(0, 1)), C(384, 384, (3, 1), p=(1, 0))
            self.bd1, self.bd2 = C(cin, 448, 1), C(448, 384, 3, p=1)
            self.bda, self.bdb = C(384, 384, (1, 3), p=(0, 1)), C(384, 384, (3, 1), p=(1, 0))
            self.bp = S(nn.AvgPool2d(3, 1, 1), C(cin, 192, 1))

        def forward(self, x):
            y3 = self.b3(x)
            yd = self.bd2(self.bd1(x))
            return torch.cat([self.b1(x), self.b3a(y3), self.b3b(y3), self.bda(yd), self.bdb(yd), self.bp(x)], 1)

    return S(C(3, 32, 3, 2), C(32, 32, 3), C(32, 64, 3, p=1), nn.MaxPool2d(3, 2), C(64, 80, 1), C(80, 192, 3),
             nn.MaxPool2d(3, 2), a(192, 32), a(256, 64), a(288, 64), b(288), c(768, 128), c(768, 160), c(768, 160),
             c(768, 192), d(768), E(1280), E(2048), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.5),
             nn.Linear(2048, num_classes))


def _hf_vision(kind: str, image: int):
    import transformers as tf
    if kind.startswith("efficientnet"):
        # EfficientNet (Tan & Le 2019): B0 width 1.0 depth 1.0; B4 width 1.4 depth 1.8, 380 px
        # head width round_filters(1280): 1280 (B0), 1792 (B4)
        w, d, head = (1.0, 1.0, 1280) if kind.endswith("b0") else (1.4, 1.8, 1792)
        cfg = tf.EfficientNetConfig(width_coefficient=w, depth_coefficient=d, image_size=image, hidden_dim=head,
                                    num_labels=1000)
        return tf.EfficientNetForImageClassification(cfg)
    if kind == "convnext_tiny":
        # ConvNeXt-T (Liu et al. 2022): depths (3, 3, 9, 3), widths (96, 192, 384, 768)
        cfg = tf.ConvNextConfig(depths=[3, 3, 9, 3], hidden_sizes=[96, 192, 384, 768], num_labels=1000)
        return tf.ConvNextForImageClassification(cfg)
    if kind.startswith("vit"):
        # ViT (Dosovitskiy et al. 2021; DeiT-S for 'small'): patch 16, 224 px
        h, L, heads, mlp = {"vit_small": (384, 12, 6, 1536), "vit_base": (768, 12, 12, 3072),
                            "vit_large": (1024, 24, 16, 4096)}[kind]
        cfg = tf.ViTConfig(hidden_size=h, num_hidden_layers=L, num_attention_heads=heads, intermediate_size=mlp,
                           image_size=image, patch_size=16, num_labels=1000)
        return tf.ViTForImageClassification(cfg)
    if kind == "swin_tiny":
        # Swin-T (Liu et al. 2021): embed 96, depths (2, 2, 6, 2), heads (3, 6, 12, 24), window 7
        cfg = tf.SwinConfig(image_size=image, embed_dim=96, depths=[2, 2, 6, 2], num_heads=[3, 6, 12, 24],
                            window_size=7, num_labels=1000)
        return tf.SwinForImageClassification(cfg)
    raise KeyError(kind)


VISION = {
    "resnet18": lambda: resnet((2, 2, 2, 2), bottleneck=False), "resnet50": lambda: resnet((3, 4, 6, 3)),
    "resnet101": lambda: resnet((3, 4, 23, 3)), "resnet152": lambda: resnet((3, 8, 36, 3)),
    "resnext50_32x4d": lambda: resnet((3, 4, 6, 3), groups=32, width_per_group=4),
    "resnext101_32x4d": lambda: resnet((3, 4, 23, 3), groups=32, width_per_group=4),
    "vgg16": vgg16, "densenet121": densenet121, "mobilenet_v3_large": mobilenet_v3_large,
    "inception_v3": inception_v3, "efficientnet_b0": None, "efficientnet_b4": None, "convnext_tiny": None,
    "vit_small": None, "vit_base": None, "vit_large": None, "swin_tiny": None,
}

# decoder LLMs: (hidden, layers, heads, kv heads, FFN, vocab, kind) from the model cards / papers:
# Llama 2 (Touvron et al. 2023, Table 1 / HF config), Llama 3 (Llama Team 2024, Table 3),
# Mistral 7B (Jiang et al. 2023, Table 1), GPT-3 175B (Brown et al. 2020, Table 2.1),
# Gemma 3 12B (Gemma Team 2025, HF config: head dim 256, 5:1 local:global attention)
LLMS = {
    "llama 3.1 405b": (16384, 126, 128, 8, 53248, 128256, "llama"),
    "llama 3.1 70b": (8192, 80, 64, 8, 28672, 128256, "llama"),
    "llama 3 70b": (8192, 80, 64, 8, 28672, 128256, "llama"),
    "llama 3.1 8b": (4096, 32, 32, 8, 14336, 128256, "llama"),
    "llama 3 8b": (4096, 32, 32, 8, 14336, 128256, "llama"),
    "llama 2 70b": (8192, 80, 64, 8, 28672, 32000, "llama"),
    "llama-2-7b": (4096, 32, 32, 32, 11008, 32000, "llama"),
    "openllama 7b": (4096, 32, 32, 32, 11008, 32000, "llama"),
    "mistral 7b": (4096, 32, 32, 8, 14336, 32000, "llama"),
    "gpt-3 175b": (12288, 96, 96, 96, 49152, 50257, "gpt2"),
    "gemma 3 12b": (3840, 48, 16, 8, 15360, 262144, "gemma3"),
}


def _llm(key: str, seq: int):
    import transformers as tf
    h, L, heads, kv, ffn, vocab, kind = LLMS[key]
    if kind == "gpt2":
        cfg = tf.GPT2Config(n_embd=h, n_layer=L, n_head=heads, n_inner=ffn, vocab_size=vocab, n_positions=seq)
        return tf.GPT2LMHeadModel(cfg)
    if kind == "gemma3":
        cfg = tf.Gemma3TextConfig(hidden_size=h, num_hidden_layers=L, num_attention_heads=heads,
                                  num_key_value_heads=kv, intermediate_size=ffn, vocab_size=vocab, head_dim=256,
                                  max_position_embeddings=seq)
        return tf.Gemma3ForCausalLM(cfg)
    cfg = tf.LlamaConfig(hidden_size=h, num_hidden_layers=L, num_attention_heads=heads, num_key_value_heads=kv,
                         intermediate_size=ffn, vocab_size=vocab, max_position_embeddings=seq)
    return tf.LlamaForCausalLM(cfg)


def build_graph(key: tuple):
    """flopest Counts of one training pass (forward + backward, no optimizer rows: the time
    model's optimizer term reads the parameter count) of the graph `key` = (builder, batch, size)."""
    import flopest
    torch = _torch()
    kind, batch, size = key
    with torch.device("meta"):
        if kind in LLMS:
            m = _llm(kind, size)
            ids = flopest.spec((batch, size), "int64")
            return flopest.count(m, input_ids=ids, labels=ids, training=True, causal=True)
        if kind.startswith("bert-large"):
            import transformers as tf
            # BERT-large (Devlin et al. 2019): 24 layers, hidden 1024, 16 heads, FFN 4096, vocab 30522
            cfg = tf.BertConfig(hidden_size=1024, num_hidden_layers=24, num_attention_heads=16,
                                intermediate_size=4096, vocab_size=30522, max_position_embeddings=512)
            m = tf.BertForQuestionAnswering(cfg) if kind.endswith("squad") else tf.BertForPreTraining(cfg)
            ids = flopest.spec((batch, size), "int64")
            return flopest.count(m, input_ids=ids, training=True)
        if kind == "transformer-big":
            import transformers as tf
            # Transformer big (Vaswani et al. 2017, Table 3): 6+6 layers, d 1024, 16 heads, FFN 4096;
            # shared vocabulary of the WMT14 en-de recipe (~33k)
            cfg = tf.MarianConfig(d_model=1024, encoder_layers=6, decoder_layers=6, encoder_attention_heads=16,
                                  decoder_attention_heads=16, encoder_ffn_dim=4096, decoder_ffn_dim=4096,
                                  vocab_size=33712, max_position_embeddings=size, share_encoder_decoder_embeddings=True,
                                  pad_token_id=0, decoder_start_token_id=0, eos_token_id=1)
            m = tf.MarianMTModel(cfg)
            ids = flopest.spec((batch, size), "int64")
            return flopest.count(m, input_ids=ids, decoder_input_ids=ids, labels=ids, training=True)
        fn = VISION[kind]
        m = fn() if fn is not None else _hf_vision(kind, size)
        x = flopest.spec((batch, 3, size, size))
        return flopest.count(m, x, training=True)


def build_cases(rows=None, log=None, only=None):
    """(cases, skipped): every evidence row as a Case with its graph captured once per key;
    skipped = [(row id, reason)]."""
    rows = load_rows() if rows is None else rows
    cases, skipped, graphs = [], [], {}
    for r in rows:
        if only and not only(r):
            continue
        c, why = to_case(r)
        if c is None:
            skipped.append((r["id"], why))
            continue
        cases.append(c)
    for c in cases:
        if c.graph not in graphs:
            t0 = time.perf_counter()
            try:
                graphs[c.graph] = build_graph(c.graph)
            except Exception as exc:  # noqa: BLE001 - a builder that fails is reported with its row, not hidden
                graphs[c.graph] = exc
            if log:
                g = graphs[c.graph]
                what = f"{len(g.table)} rows, {g.params / 1e6:,.0f} M params" if not isinstance(g, Exception) else repr(g)[:120]
                log(f"  graph {c.graph}: {what} ({time.perf_counter() - t0:.1f} s)")
        g = graphs[c.graph]
        if isinstance(g, Exception):
            skipped.append((c.id, f"graph capture failed: {g!r}"[:200]))
            c.counts = None
        else:
            c.counts = g
            c.params = int(g.params)
    return [c for c in cases if c.counts is not None], skipped


# ----------------------------------------------------------------------------- fast evaluation
class Stack:
    """Every case's step-time features concatenated, so that a trial parameter set is evaluated
    on all cases in a few NumPy passes (the fitting tool evaluates thousands). `predict` is the
    arithmetic of flopest.impact.steptime.combine written over the concatenation; `check`
    asserts the two agree."""

    def __init__(self, cases, model=None):
        from flopest.impact import steptime as st
        self.st = st
        self.cases = cases
        self.model = model or st.TimeModel.load()
        cache, uniq = {}, []
        self.uid = np.empty(len(cases), dtype=np.int64)
        for i, c in enumerate(cases):
            key = (c.graph, c.device, c.precision)
            if key not in cache:
                cache[key] = len(uniq)
                uniq.append(st.features(c.counts.table, c.counts._rc, c.device, precision=c.precision,
                                        model=self.model))
            self.uid[i] = cache[key]
        self.feats = uniq
        # identical rows (the repeated layers of a network) merge into one row with a weight: the
        # row time is linear in the multiplicity (max(w·a, w·b) = w·max(a, b)), so this is exact;
        # views launch nothing on an accelerator and are dropped there
        cols, seg, weight = [], [], []
        names = ("tensor_s", "vector_s", "curve_s", "bytes_matrix", "bytes_glue", "bytes_attention",
                 "bytes_other", "kernels", "backward", "free", "bytes_cast")
        for k, f in enumerate(uniq):
            mat = np.stack([np.asarray(getattr(f, n), dtype=float) for n in names], axis=1)
            if f.device.kind != "cpu":
                mat = mat[~f.free]
            mat = np.where(np.isnan(mat), -1.0, mat)          # np.unique needs comparable values
            u, cnt = np.unique(mat, axis=0, return_counts=True)
            cols.append(u)
            seg.append(np.full(len(u), k))
            weight.append(cnt.astype(float))
        mat = np.concatenate(cols)
        self.seg = np.concatenate(seg)
        self.w = np.concatenate(weight)
        self.tensor_s, self.vector_s, self.curve_s = mat[:, 0], mat[:, 1], np.where(mat[:, 2] < 0, np.nan, mat[:, 2])
        self.bm, self.bg, self.ba, self.bo = mat[:, 3], mat[:, 4], mat[:, 5], mat[:, 6]
        self.kernels, self.backward, self.free = mat[:, 7], mat[:, 8] > 0, mat[:, 9] > 0
        self.bc = mat[:, 10]
        self.has_curve = ~np.isnan(self.curve_s)
        dev = [f.device for f in uniq]
        self.u_bw = np.array([d.bandwidth_bytes_per_s for d in dev])
        self.u_measured = np.array([d.measured for d in dev])
        self.u_cpu = np.array([d.kind == "cpu" for d in dev])
        self.u_launch = np.array([np.nan if d.launch_s is None else d.launch_s for d in dev])
        self.nu = len(uniq)

    def predict(self, model) -> np.ndarray:
        """Predicted step seconds of every case under `model`."""
        seg = self.seg
        meas = self.u_measured[seg]
        c_t = np.where(meas, 1.0, model.ceiling_tensor)
        c_v = np.where(meas, 1.0, model.ceiling_vector)
        u_bw = self.u_bw * np.where(self.u_measured, 1.0, model.bandwidth_fraction)
        compute = np.minimum(self.tensor_s / c_t, self.vector_s / c_v)
        compute = np.where(self.has_curve, self.curve_s, compute)
        compute = np.where(np.isfinite(compute), compute, 0.0)
        memory = (self.bm * model.fusion_matrix + self.bg * model.fusion_glue + self.ba * model.fusion_attention
                  + self.bo) / u_bw[seg]
        body = np.maximum(compute, memory) + self.bc * model.fusion_glue / u_bw[seg]
        u_launch = np.where(np.isnan(self.u_launch), np.where(self.u_cpu, model.launch_cpu_s,
                                                              model.launch_accelerator_s), self.u_launch)
        lau = u_launch[seg]
        cpu = self.u_cpu[seg]
        t = np.where(cpu, body + self.kernels * lau, np.maximum(body, np.where(self.free, 0.0, self.kernels) * lau))
        tw = t * self.w
        rows_s = np.bincount(seg, weights=tw, minlength=self.nu)
        bwd_s = np.bincount(seg, weights=tw * self.backward, minlength=self.nu)
        out = np.empty(len(self.cases))
        for i, c in enumerate(self.cases):
            u = self.uid[i]
            total = rows_s[u]
            p = c.params
            shards = c.n_devices if c.parallel == "fsdp" else 1
            bw = u_bw[u]
            total += p / shards * model.optimizer_bytes_per_param[c.optimizer] / bw
            nd = c.n_node
            if nd > 1 and p:
                dev = self.feats[u].device.id
                link = model.link_gbps.get(dev, model.link_default_gbps) * 1e9 * model.link_efficiency
                if c.parallel == "ddp":
                    comm = 2.0 * (nd - 1) / nd * p * model.grad_bytes_per_param / link
                    window = bwd_s[u]
                else:
                    comm = (nd - 1) / nd * p * (2 * self.st.FSDP_PARAM_BYTES + model.grad_bytes_per_param) / link
                    window = rows_s[u]
                bucket = 2.0 * (nd - 1) / nd * min(model.bucket_bytes, p * model.grad_bytes_per_param) / link
                total += max(comm - window, bucket)
            out[i] = total
        return out

    def predict_slow(self, model) -> np.ndarray:
        """The same through flopest.impact.steptime.combine, case by case (for `check`)."""
        return np.array([self.st.combine(self.feats[self.uid[i]], model, n_devices=c.n_node, parallel=c.parallel,
                                         params=c.params, optimizer=c.optimizer,
                                         optimizer_shards=c.n_devices if c.parallel == "fsdp" else 1).time_s
                         for i, c in enumerate(self.cases)])

    def check(self, model) -> float:
        """Largest relative difference between `predict` and steptime.combine (must be ~1e-12)."""
        a, b = self.predict(model), self.predict_slow(model)
        return float(np.max(np.abs(a / b - 1.0)))

    def measured(self) -> np.ndarray:
        return np.array([c.measured_s for c in self.cases])


def log2_errors(pred, meas) -> np.ndarray:
    return np.log2(np.asarray(pred, float) / np.asarray(meas, float))


def median_abs(x) -> float:
    x = np.asarray(x, float)
    return float(np.median(np.abs(x))) if len(x) else math.nan
