"""Analytic FLOP and parameter counts of the zoo models at their full size, and the
``model_zoo/<name>/expected.json`` files written from them.

Every figure here is plain integer arithmetic on the architecture's published hyperparameters;
nothing is read from a model object and flopest is not imported.  Each term is kept as the
Python expression that computes it (``"12*2*128*(4*768**2 + 2*768*3072)"``), so the derivation
written into expected.json *is* the snippet that was evaluated.

Conventions (flopest's, README "Counting conventions"): 1 multiply-add = 2 FLOPs; each
elementwise arithmetic operation, comparison or elementary function = 1 FLOP per output
element; SiLU 5, GELU (erf form) 5, ReLU6 (clamp) 2, Sigmoid 4; softmax 5 per element;
LayerNorm 7 per element (with weight and bias) + 4 per normalized row; GroupNorm 7 per element
+ 4 per group; inference BatchNorm 4 per element + 4 per channel; a reduction 1 per input
element (mean: + 1 divide per output); max-pool the window size per output; a Linear/conv
bias add 1 per output element.

Sections of a derivation:

- ``params``: trainable tensors (a weight shared by two modules counted once, as PyTorch's
  ``named_parameters`` does).
- ``matmul``: forward matrix products (Linear, conv, attention QKᵀ and AV, LSTM gates).
- ``other``: forward non-matmul FLOPs, one term per aten operator and use (the operator
  name is kept so that ``--verify`` can compare operator by operator).
- ``no_input_grad``: forward matmul terms whose *input* gradient autograd never computes
  (the first layer applied to a model input, or an LSTM's zero initial state).  With a loss
  on the outputs and every parameter trainable, the backward pass computes, for every other
  matrix product, one product for each input's gradient, each costing the forward product's
  FLOPs, so ``training_matmul_flops = 3 · matmul − no_input_grad``.
- ``train_forward``: extra forward work in training mode (dropout masks, BatchNorm batch
  statistics); ``backward``: autograd's non-matmul backward operators (activation and norm
  backwards with flopest's constants, bias-gradient sums, gradient accumulation where a tensor
  feeds several consumers, embedding scatter-adds).

Where the terms come from: matmul and params from the architecture alone.  For the non-matmul
terms, *which* operators run (transformers' mask construction, a decomposed gelu_new or RMSNorm,
what autograd emits for them) was read from the model code and from flopest's per-operator
listing; every term is then a formula in the sizes with flopest's documented constant, and
``--verify`` confirms each operator's total equals flopest's.

``python -m model_zoo.expected`` rewrites every expected.json and the "Expected counts" section of
each model README; ``--check`` reports stale files without writing; ``--verify`` also builds each
model on the meta device and compares with flopest (needs torch, and transformers for those models).
"""

from __future__ import annotations

import json
import pathlib
import sys
from dataclasses import dataclass, field

HERE = pathlib.Path(__file__).resolve().parent


def _eval(expr: str) -> int:
    value = eval(expr, {"__builtins__": {}}, {})  # our own integer arithmetic, no names
    if not isinstance(value, int):
        raise TypeError(f"{expr!r} is not integer arithmetic ({value!r})")
    return value


@dataclass
class Term:
    label: str
    expr: str
    value: int
    op: str | None = None

    def text(self) -> str:
        op = f"[{self.op}] " if self.op else ""
        return f"{op}{self.label}: {self.expr} = {self.value:,}"


@dataclass
class Derivation:
    name: str
    inputs: dict
    summary: str
    notes: list = field(default_factory=list)
    terms: dict = field(default_factory=lambda: {"params": [], "matmul": [], "other": [], "no_input_grad": [],
                                                 "train_forward": [], "backward": []})

    def _add(self, section, label, expr, op=None):
        self.terms[section].append(Term(label, expr, _eval(expr), op))

    def params(self, label, expr):
        self._add("params", label, expr)

    def matmul(self, label, expr):
        self._add("matmul", label, expr)

    def other(self, op, label, expr):
        self._add("other", label, expr, op)

    def no_input_grad(self, label, expr):
        self._add("no_input_grad", label, expr)

    def train_forward(self, op, label, expr):
        """Extra forward FLOPs in training mode (dropout masks, BatchNorm batch statistics)."""
        self._add("train_forward", label, expr, op)

    def backward(self, op, label, expr):
        """Non-matmul FLOPs of autograd's backward operators."""
        self._add("backward", label, expr, op)

    def total(self, section) -> int:
        return sum(t.value for t in self.terms[section])

    @property
    def params_total(self) -> int:
        return self.total("params")

    @property
    def matmul_flops(self) -> int:
        return self.total("matmul")

    @property
    def flops(self) -> int:
        return self.total("matmul") + self.total("other")

    @property
    def training_matmul_flops(self) -> int:
        return 3 * self.matmul_flops - self.total("no_input_grad")

    @property
    def backward_matmul_flops(self) -> int:
        return 2 * self.matmul_flops - self.total("no_input_grad")

    @property
    def training_flops_analytic(self) -> int:
        """Forward (train mode) + backward, from the terms written here: complete only where the
        backward non-matmul terms cover every operator (checked against flopest when the
        expected.json files are written)."""
        return (self.flops + self.total("train_forward") + self.backward_matmul_flops
                + self.total("backward"))

    def by_op(self, section: str = "other") -> dict:
        out: dict = {}
        for t in self.terms[section]:
            out[t.op] = out.get(t.op, 0) + t.value
        return out

    def other_by_op(self) -> dict:
        return self.by_op("other")


TRANSFORMERS_NOTE = (
    "The small bookkeeping terms (attention-mask construction, position ids) are those of "
    "transformers 5.23's implementation; another transformers version may dispatch other small "
    "operators, which moves `flops` by a few thousand FLOPs but never matmul_flops or params."
)

# ---------------------------------------------------------------------------------------------
# shared pieces
def _layer_norm(d: Derivation, label: str, n: int, rows: int, width: int):
    """n LayerNorms (weight and bias) over rows × width: 7 per element + 4 per row."""
    d.other("aten.native_layer_norm", f"{label}: {n} LayerNorm × (7·rows·width + 4·rows)",
            f"{n}*(7*{rows}*{width} + 4*{rows})")


def _rms_norm(d: Derivation, label: str, n: int, rows: int, width: int):
    """transformers' RMSNorm, written out: x.pow(2), .mean(-1) (1 per input + 1 divide per row),
    + eps, rsqrt, x·rsqrt, weight·x."""
    d.other("aten.pow", f"{label}: x² in {n} RMSNorms", f"{n}*{rows}*{width}")
    d.other("aten.mean", f"{label}: mean over the hidden dim in {n} RMSNorms (sum + divide)",
            f"{n}*({rows}*{width} + {rows})")
    d.other("aten.add", f"{label}: + eps in {n} RMSNorms", f"{n}*{rows}")
    d.other("aten.rsqrt", f"{label}: rsqrt in {n} RMSNorms", f"{n}*{rows}")
    d.other("aten.mul", f"{label}: x·rsqrt and weight· in {n} RMSNorms", f"{n}*2*{rows}*{width}")


def _rms_norm_backward(d: Derivation, label: str, n: int, rows: int, width: int):
    """Autograd through the written-out RMSNorm (y = w·(x·r), r = rsqrt(mean(x²) + eps)):
    weight grad g·(x·r) and its row sum; g·w; (g·w)·r; Σ (g·w)·x per row; rsqrt backward
    −½·r³·Σ (pow, two muls per row); mean backward divide; pow backward 2·x·(·) (pow, two muls);
    the two paths into x added."""
    d.backward("aten.mul", f"{label}: {n} RMSNorm backwards × (6·rows·width + 2·rows)", f"{n}*(6*{rows}*{width} + 2*{rows})")
    d.backward("aten.sum", f"{label}: weight gradient and Σ(g·w·x) row sums, {n} × 2·rows·width", f"{n}*2*{rows}*{width}")
    d.backward("aten.pow", f"{label}: r³ (rows) and x¹ of pow backward (rows·width), {n} ×", f"{n}*({rows}*{width} + {rows})")
    d.backward("aten.div", f"{label}: mean backward, {n} × rows·width", f"{n}*{rows}*{width}")
    d.backward("aten.add", f"{label}: the two gradient paths into x, {n} × rows·width", f"{n}*{rows}*{width}")


def _rope_backward(d: Derivation, T: int, layers: int, heads: int, kv_heads: int, dh: int):
    """q·cos + rotate_half(q)·sin backward: g·cos and g·sin (q and k), neg on the rotated half,
    the two halves of rotate_half's gradient added, and added to the direct path (2 adds)."""
    d.backward("aten.mul", f"RoPE backward g·cos, g·sin: {layers} × 2·T·dh·(heads + kv_heads)",
               f"{layers}*2*{T}*{dh}*({heads} + {kv_heads})")
    d.backward("aten.neg", f"RoPE backward neg on half: {layers} × T·dh/2·(heads + kv_heads)",
               f"{layers}*{T}*{dh}//2*({heads} + {kv_heads})")
    d.backward("aten.add", f"RoPE backward, rotate_half halves and the direct path: {layers} × 2·T·dh·(heads + kv_heads)",
               f"{layers}*2*{T}*{dh}*({heads} + {kv_heads})")


def _causal_mask_bookkeeping(d: Derivation, T: int, adds: int = 3):
    """transformers 5.23 masking_utils building the (T, T) causal mask of an all-ones padding
    mask, as the ops it dispatches: index adds (T each), the padding and causal predicates
    combined with two bitwise_and, the causal `kv_idx <= q_idx` compare and the final where."""
    d.other("aten.add", f"causal-mask index arithmetic: {adds} × T", f"{adds}*{T}")
    d.other("aten.bitwise_and", "causal-mask predicates combined: 2 × T²", f"2*{T}*{T}")
    d.other("aten.le", "causal-mask kv_idx <= q_idx: T²", f"{T}*{T}")
    d.other("aten.where", "causal mask to additive 0 / -inf: T²", f"{T}*{T}")


def _rope(d: Derivation, T: int, layers: int, heads: int, kv_heads: int, dh: int):
    """Rotary embeddings: cos/sin tables once (positions × inv_freq, cat, cos, sin, × the
    attention scaling 1.0), then per layer q·cos + rotate_half(q)·sin (neg on half) and the
    same for k."""
    d.other("aten.mul", "RoPE: position_ids × inv_freq, T·dh/2", f"{T}*{dh}//2")
    d.other("aten.cos", "RoPE: cos table T·dh", f"{T}*{dh}")
    d.other("aten.sin", "RoPE: sin table T·dh", f"{T}*{dh}")
    d.other("aten.mul", "RoPE: cos and sin × attention_scaling (1.0), 2·T·dh", f"2*{T}*{dh}")
    d.other("aten.mul", f"RoPE applied: q·cos, rotate_half(q)·sin, k·cos, rotate_half(k)·sin; {layers} layers × 2·T·dh·(heads + kv_heads)",
            f"{layers}*2*{T}*{dh}*({heads} + {kv_heads})")
    d.other("aten.add", f"RoPE applied: q and k sums, {layers} layers × T·dh·(heads + kv_heads)",
            f"{layers}*{T}*{dh}*({heads} + {kv_heads})")
    d.other("aten.neg", f"RoPE rotate_half: −x2 on half of q and k, {layers} layers × T·dh/2·(heads + kv_heads)",
            f"{layers}*{T}*{dh}//2*({heads} + {kv_heads})")


# ---------------------------------------------------------------------------------------------
# CNNs
def _batch_norms(d: Derivation, label: str, elems: str, channels: str, count: int):
    """BatchNorms over `elems` elements and `channels` channels in all: eval 4·elems + 4·C;
    training mode computes the batch statistics (+3 per element) and bumps num_batches_tracked
    (1 add each); backward (grad_input, weight and bias) 14 per element + 4 per channel."""
    d.other("aten.native_batch_norm", f"{label}: 4·elements + 4·channels", f"4*({elems}) + 4*({channels})")
    d.train_forward("aten.native_batch_norm", f"{label}, training mode: + 3 per element", f"3*({elems})")
    d.train_forward("aten.add_", f"{label}, training mode: num_batches_tracked += 1", f"{count}")
    d.backward("aten.native_batch_norm_backward", f"{label}: 14·elements + 4·channels", f"14*({elems}) + 4*({channels})")


def resnet50() -> Derivation:
    d = Derivation(
        "resnet50", {"pixel_values": {"shape": [1, 3, 224, 224], "dtype": "float32"}},
        "ResNet-50 v1.5 at 224×224: stem 7×7/2 conv + 3×3/2 max-pool, bottleneck stages "
        "(width 64, 128, 256, 512; 3, 4, 6, 3 blocks; ×4 expansion; stride on the 3×3 conv), "
        "global average pool, fc 2048→1000. Convs without bias, each followed by BatchNorm (eval).",
    )
    d.notes.append("flops is the eval-mode forward (BatchNorm with running statistics, 4 per element); training mode computes batch statistics (7 per element) and bumps num_batches_tracked.")
    d.matmul("conv1 7×7/2 3→64 at 112²", "2*112*112*64*3*7*7")
    d.params("conv1 7×7 3→64 + bn1", "64*3*7*7 + 2*64")
    _batch_norms(d, "bn1 64×112²", "64*112*112", "64", 1)
    d.other("aten.relu_", "stem ReLU 64×112²", "64*112*112")
    d.backward("aten.threshold_backward", "stem ReLU backward, 1 per element", "64*112*112")
    d.other("aten.max_pool2d_with_indices", "max-pool 3×3/2 → 64×56², 9 per output", "64*56*56*9")
    d.backward("aten.max_pool2d_with_indices_backward", "max-pool backward: 1 add per output gradient", "64*56*56")
    cin, h = 64, 56
    for s, (w, n, stride) in enumerate([(64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)], start=1):
        ho = h // stride
        co = 4 * w
        # first block: conv1 at the input resolution, strided 3×3, downsample 1×1/stride
        d.matmul(f"layer{s}.0: 1×1 {cin}→{w} at {h}², 3×3/{stride} {w}→{w} at {ho}², 1×1 {w}→{co} at {ho}², "
                 f"downsample 1×1/{stride} {cin}→{co} at {ho}²",
                 f"2*({h}**2*{cin}*{w} + {ho}**2*9*{w}*{w} + {ho}**2*{w}*{co} + {ho}**2*{cin}*{co})")
        if n > 1:
            d.matmul(f"layer{s}.1-{n - 1}: {n - 1} × (1×1 {co}→{w}, 3×3 {w}→{w}, 1×1 {w}→{co}) at {ho}²",
                     f"{n - 1}*2*{ho}**2*({co}*{w} + 9*{w}*{w} + {w}*{co})")
        d.params(f"layer{s}: convs + BatchNorm (2 per channel) of {n} blocks + downsample",
                 f"({cin}*{w} + 9*{w}*{w} + {w}*{co} + {cin}*{co} + 2*({w} + {w} + {co} + {co}))"
                 f" + {n - 1}*({co}*{w} + 9*{w}*{w} + {w}*{co} + 2*({w} + {w} + {co}))")
        _batch_norms(d, f"layer{s}: bn1..bn3 + downsample BN of block 0, bn1..bn3 of {n - 1} more",
                     f"{w}*{h}**2 + {w}*{ho}**2 + 2*{co}*{ho}**2 + {n - 1}*(2*{w}*{ho}**2 + {co}*{ho}**2)",
                     f"2*{w} + 2*{co} + {n - 1}*(2*{w} + {co})", 3 * n + 1)
        relu = f"({w}*{h}**2 + {w}*{ho}**2 + {co}*{ho}**2) + {n - 1}*(2*{w}*{ho}**2 + {co}*{ho}**2)"
        d.other("aten.relu_", f"layer{s} ReLUs: 3 per block", relu)
        d.backward("aten.threshold_backward", f"layer{s} ReLU backward, 1 per element", relu)
        d.other("aten.add", f"layer{s} residual adds: {n} × {co}×{ho}²", f"{n}*{co}*{ho}**2")
        d.backward("aten.add", f"layer{s}: gradient accumulation at each block input (used by conv1 and the "
                   f"identity / downsample): {cin}×{h}² + {n - 1} × {co}×{ho}²", f"{cin}*{h}**2 + {n - 1}*{co}*{ho}**2")
        cin, h = co, ho
    d.other("aten.mean", "global average pool: 2048×7² summed + 2048 divides", "2048*7*7 + 2048")
    d.backward("aten.div", "average pool backward: gradient / 49 spread over 2048×7²", "2048*7*7")
    d.matmul("fc 2048→1000", "2*2048*1000")
    d.params("fc 2048→1000 + bias", "2048*1000 + 1000")
    d.other("aten.addmm", "fc bias", "1000")
    d.backward("aten.sum", "fc bias gradient", "1000")
    d.no_input_grad("conv1's input gradient (pixel_values needs none)", "2*112*112*64*3*7*7")
    return d


def _make_divisible(v: float, divisor: int = 8) -> int:
    new_v = max(divisor, int(v + divisor / 2) // divisor * divisor)
    return new_v + divisor if new_v < 0.9 * v else new_v


def mobilenet_v2() -> Derivation:
    d = Derivation(
        "mobilenet_v2", {"pixel_values": {"shape": [1, 3, 224, 224], "dtype": "float32"}},
        "MobileNetV2 width 1.0 at 224×224: 3×3/2 stem, 17 inverted residual blocks (1×1 expand, "
        "3×3 depthwise, 1×1 linear projection; each conv followed by BatchNorm (eval), ReLU6 "
        "after expand and depthwise), 1×1 conv to 1280, global average pool, dropout 0.2 (free "
        "in eval), fc 1280→1000.",
    )
    d.notes.append("flops is the eval-mode forward (BatchNorm with running statistics, dropout off); training mode computes batch statistics and draws the classifier dropout mask.")
    d.matmul("stem 3×3/2 3→32 at 112²", "2*112*112*32*3*9")
    d.params("stem conv + BN", "32*3*9 + 2*32")
    _batch_norms(d, "stem BN 32×112²", "32*112*112", "32", 1)
    d.other("aten.hardtanh_", "stem ReLU6 (clamp, 2 per element) 32×112²", "2*32*112*112")
    d.backward("aten.hardtanh_backward", "stem ReLU6 backward (two compares)", "2*32*112*112")
    setting = [[1, 16, 1, 1], [6, 24, 2, 2], [6, 32, 3, 2], [6, 64, 4, 2], [6, 96, 3, 1], [6, 160, 3, 2], [6, 320, 1, 1]]
    cin, h = 32, 112
    for t, c, n, s in setting:
        cout = _make_divisible(c)
        for i in range(n):
            stride = s if i == 0 else 1
            ho = h // stride
            hid = cin * t
            tag = f"block t={t} {cin}→{cout} s={stride} at {h}²→{ho}² (hidden {hid})"
            mm, par, elems, chans, act = [], [], [], [], []
            if t != 1:
                mm.append(f"{h}**2*{cin}*{hid}")
                par.append(f"{cin}*{hid} + 2*{hid}")
                elems.append(f"{hid}*{h}**2")
                chans.append(f"{hid}")
                act.append(f"2*{hid}*{h}**2")
            mm += [f"{ho}**2*{hid}*9", f"{ho}**2*{hid}*{cout}"]
            par += [f"{hid}*9 + 2*{hid}", f"{hid}*{cout} + 2*{cout}"]
            elems += [f"{hid}*{ho}**2", f"{cout}*{ho}**2"]
            chans += [f"{hid}", f"{cout}"]
            act.append(f"2*{hid}*{ho}**2")
            d.matmul(f"{tag}: {'expand 1×1, ' if t != 1 else ''}depthwise 3×3, project 1×1",
                     "2*(" + " + ".join(mm) + ")")
            d.params(tag, " + ".join(par))
            _batch_norms(d, tag, " + ".join(elems), " + ".join(chans), len(chans))
            d.other("aten.hardtanh_", f"{tag}: ReLU6", " + ".join(act))
            d.backward("aten.hardtanh_backward", f"{tag}: ReLU6 backward", " + ".join(act))
            if stride == 1 and cin == cout:
                d.other("aten.add", f"{tag}: residual", f"{cout}*{ho}**2")
                d.backward("aten.add", f"{tag}: gradient accumulation at the block input", f"{cout}*{ho}**2")
            cin, h = cout, ho
    d.matmul("last 1×1 320→1280 at 7²", "2*7*7*320*1280")
    d.params("last conv + BN", "320*1280 + 2*1280")
    _batch_norms(d, "last BN 1280×7²", "1280*7*7", "1280", 1)
    d.other("aten.hardtanh_", "last ReLU6", "2*1280*7*7")
    d.backward("aten.hardtanh_backward", "last ReLU6 backward", "2*1280*7*7")
    d.other("aten.mean", "global average pool 1280×7² + 1280 divides", "1280*7*7 + 1280")
    d.backward("aten.div", "average pool backward: gradient / 49 spread over 1280×7²", "1280*7*7")
    d.train_forward("aten.bernoulli_", "dropout mask draw, 1280", "1280")
    d.train_forward("aten.div_", "dropout mask / (1 − p), 1280", "1280")
    d.train_forward("aten.mul", "dropout x·mask, 1280", "1280")
    d.backward("aten.mul", "dropout backward: gradient·mask, 1280", "1280")
    d.matmul("classifier 1280→1000", "2*1280*1000")
    d.params("classifier", "1280*1000 + 1000")
    d.other("aten.addmm", "classifier bias", "1000")
    d.backward("aten.sum", "classifier bias gradient", "1000")
    d.no_input_grad("stem conv's input gradient (pixel_values needs none)", "2*112*112*32*3*9")
    return d


def unet() -> Derivation:
    d = Derivation(
        "unet", {"pixel_values": {"shape": [1, 3, 128, 128], "dtype": "float32"}},
        "U-Net, widths 32-64-128-256-512 (depth 4) at 128×128: double 3×3 conv blocks (no bias, "
        "BatchNorm eval, ReLU), 2×2 max-pool down, ConvTranspose2d(k=2, s=2, bias) up + skip "
        "concat + double conv, 1×1 conv (bias) to 2 classes.",
    )
    d.notes.append("flops is the eval-mode forward (BatchNorm with running statistics); training mode computes batch statistics.")
    ch = [32, 64, 128, 256, 512]

    def double(tag, cin, cout, h):
        d.matmul(f"{tag}: 3×3 {cin}→{cout} + 3×3 {cout}→{cout} at {h}²", f"2*{h}**2*9*({cin}*{cout} + {cout}*{cout})")
        d.params(f"{tag}: two 3×3 convs + two BN", f"9*{cin}*{cout} + 9*{cout}*{cout} + 4*{cout}")
        _batch_norms(d, f"{tag}: 2 BN {cout}×{h}²", f"2*{cout}*{h}**2", f"2*{cout}", 2)
        d.other("aten.relu_", f"{tag}: 2 ReLU {cout}×{h}²", f"2*{cout}*{h}**2")
        d.backward("aten.threshold_backward", f"{tag}: 2 ReLU backward", f"2*{cout}*{h}**2")

    double("inc", 3, ch[0], 128)
    for i in range(4):
        h = 128 >> (i + 1)
        d.other("aten.max_pool2d_with_indices", f"pool → {ch[i]}×{h}², window 4", f"{ch[i]}*{h}**2*4")
        d.backward("aten.max_pool2d_with_indices_backward", f"pool backward: 1 add per output gradient {ch[i]}×{h}²",
                   f"{ch[i]}*{h}**2")
        d.backward("aten.add", f"gradient accumulation: the {ch[i]}×{2 * h}² block output feeds the pool and the skip",
                   f"{ch[i]}*{2 * h}**2")
        double(f"down{i + 1}", ch[i], ch[i + 1], h)
    for i in reversed(range(4)):
        cin, cout, h = ch[i + 1], ch[i], 128 >> i
        hin = h // 2
        d.matmul(f"up{i + 1}: ConvTranspose 2×2/2 {cin}→{cin // 2} from {hin}² (2·C_in·in·C_out·k)",
                 f"2*{cin}*{hin}**2*{cin // 2}*4")
        d.params(f"up{i + 1}: ConvTranspose weight + bias", f"{cin}*{cin // 2}*4 + {cin // 2}")
        d.other("aten.convolution", f"up{i + 1}: ConvTranspose bias {cin // 2}×{h}²", f"{cin // 2}*{h}**2")
        d.backward("aten.convolution_backward", f"up{i + 1}: bias gradient, sum over {cin // 2}×{h}²", f"{cin // 2}*{h}**2")
        double(f"up{i + 1} conv", cin, cout, h)
    d.matmul("outc 1×1 32→2 at 128²", "2*128*128*32*2")
    d.params("outc", "32*2 + 2")
    d.other("aten.convolution", "outc bias 2×128²", "2*128*128")
    d.backward("aten.convolution_backward", "outc bias gradient, sum over 2×128²", "2*128*128")
    d.no_input_grad("first conv's input gradient (pixel_values needs none)", "2*128**2*9*3*32")
    return d


def lstm() -> Derivation:
    d = Derivation(
        "lstm", {"input_ids": {"shape": [1, 64], "dtype": "int64"}},
        "Embedding(10000, 256) + 2-layer LSTM (hidden 512, biases b_ih and b_hh) over 64 steps + "
        "Linear(512, 2) on the last step. On CPU/meta PyTorch runs the LSTM step by step: per "
        "step and layer two addmm (x·W_ihᵀ + b_ih, h·W_hhᵀ + b_hh), the gate sum, 3 sigmoids, "
        "2 tanh, c = f·c + i·g, h = o·tanh(c): 30 FLOPs per hidden unit on top of the GEMMs.",
    )
    d.notes.append("On CPU and meta tensors PyTorch runs nn.LSTM step by step (no fused kernel), and flopest counts what runs: the same 30 FLOPs per hidden unit and step as the ONNX LSTM convention in the forward; in training, every step's weight gradient is a separate rank-1 GEMM and the 64 per-step gradients of each weight are summed by (T − 1) adds (231.7 MFLOP, 14 % of training_flops), where a fused kernel would do one GEMM over the sequence.")
    T, E, H = 64, 256, 512
    d.params("embedding 10000×256", "10000*256")
    d.params("LSTM layer 1: 4H·(E + H) + 2·4H", f"4*{H}*({E} + {H}) + 2*4*{H}")
    d.params("LSTM layer 2: 4H·(H + H) + 2·4H", f"4*{H}*({H} + {H}) + 2*4*{H}")
    d.params("classifier", f"{H}*2 + 2")
    d.matmul("LSTM layer 1 gates: T × 2·4H·(E + H)", f"{T}*2*4*{H}*({E} + {H})")
    d.matmul("LSTM layer 2 gates: T × 2·4H·(H + H)", f"{T}*2*4*{H}*({H} + {H})")
    d.matmul("classifier 512→2", f"2*{H}*2")
    d.other("aten.addmm", "LSTM bias adds: 2 layers × T × 2·4H", f"2*{T}*2*4*{H}")
    d.other("aten.add_", "LSTM gate sum (4H) and cell sum (H): 2 layers × T × 5H", f"2*{T}*5*{H}")
    d.other("aten.sigmoid_", "3 sigmoid gates × 4 FLOPs: 2 layers × T × 12H", f"2*{T}*12*{H}")
    d.other("aten.tanh_", "tanh(g): 2 layers × T × H", f"2*{T}*{H}")
    d.other("aten.tanh", "tanh(c): 2 layers × T × H", f"2*{T}*{H}")
    d.other("aten.mul", "f·c, i·g, o·tanh(c): 2 layers × T × 3H", f"2*{T}*3*{H}")
    d.other("aten.addmm", "classifier bias", "2")
    d.backward("aten.sigmoid_backward", "3 sigmoid gates, 3 per element: 2 layers × T × 3·3H", f"2*{T}*3*3*{H}")
    d.backward("aten.tanh_backward", "tanh(g) and tanh(c), 3 per element: 2 layers × T × 3·2H", f"2*{T}*3*2*{H}")
    d.backward("aten.mul", "f·c, i·g, o·tanh(c) backward, a product per input: 2 layers × T × 6H, less "
               "the gradient of the zero initial cell c0 (2 × H)", f"2*{T}*6*{H} - 2*{H}")
    d.backward("aten.sum", "bias gradients b_ih, b_hh per step: 2 layers × T × 2·4H; classifier bias 2",
               f"2*{T}*2*4*{H} + 2")
    d.backward("aten.add", "weights used at every step: their T per-step gradients summed, (T − 1) × "
               "(W_ih1 4H·E + W_hh1, W_ih2, W_hh2 4H·H each + 4 biases 4H)",
               f"({T} - 1)*(4*{H}*{E} + 3*4*{H}*{H} + 4*4*{H})")
    d.backward("aten.add", "h_t and c_t used twice (next step and output / tanh): 2 layers × 2 × (T − 1) × H",
               f"2*2*({T} - 1)*{H}")
    d.backward("aten.embedding_dense_backward", "embedding gradient: 1 add per looked-up element, T·E", f"{T}*{E}")
    d.no_input_grad("h·W_hhᵀ at step 0 of each layer: h0 = 0 needs no gradient, 2 × 2·4H·H",
                    f"2*2*4*{H}*{H}")
    return d


# ---------------------------------------------------------------------------------------------
# plain-torch transformer pieces
def einsum_attention() -> Derivation:
    T, dm, h, ff = 128, 512, 8, 2048
    d = Derivation(
        "einsum_attention", {"hidden_states": {"shape": [1, T, dm], "dtype": "float32"}},
        "One pre-LN transformer block, d 512, 8 heads, ffn 2048 (GELU), T = 128; QKᵀ and AV "
        "written with torch.einsum.",
    )
    d.params("q, k, v, out projections with bias", f"4*({dm}*{dm} + {dm})")
    d.params("MLP 512→2048→512 with biases", f"{dm}*{ff} + {ff} + {ff}*{dm} + {dm}")
    d.params("2 LayerNorms", f"2*2*{dm}")
    d.matmul("linears: 2·T·(4d² + 2·d·ff)", f"2*{T}*(4*{dm}**2 + 2*{dm}*{ff})")
    d.matmul("einsum QKᵀ and AV: 2·2·T²·d", f"2*2*{T}**2*{dm}")
    d.other("aten.addmm", "bias adds: T·(4d + ff + d)", f"{T}*(4*{dm} + {ff} + {dm})")
    d.other("aten.div", "scores / √dh: h·T²", f"{h}*{T}**2")
    d.other("aten._softmax", "softmax 5·h·T²", f"5*{h}*{T}**2")
    d.other("aten.gelu", "GELU 5·T·ff", f"5*{T}*{ff}")
    _layer_norm(d, "ln1, ln2", 2, T, dm)
    d.other("aten.add", "2 residual adds T·d", f"2*{T}*{dm}")
    d.backward("aten.sum", "bias gradients: T·(4d + ff + d)", f"{T}*(4*{dm} + {ff} + {dm})")
    d.backward("aten.div", "scale backward: h·T²", f"{h}*{T}**2")
    d.backward("aten._softmax_backward_data", "softmax backward 4·h·T²", f"4*{h}*{T}**2")
    d.backward("aten.gelu_backward", "GELU backward 11·T·ff", f"11*{T}*{ff}")
    d.backward("aten.native_layer_norm_backward", "ln2 backward: 14·T·d + 4·T", f"14*{T}*{dm} + 4*{T}")
    d.backward("aten.native_layer_norm_backward", "ln1 backward, weight and bias only (its input is the model "
               "input): x̂ 2 + weight 2 + bias 1 = 5·T·d", f"5*{T}*{dm}")
    d.backward("aten.add", "gradient accumulation: ln1 output feeds q, k, v (2 adds), the residual stream "
               "feeds ln2 and the second residual (1 add): 3·T·d", f"3*{T}*{dm}")
    return d


def diffusion_unet_block() -> Derivation:
    C, E, G, heads, hw = 320, 1280, 32, 8, 32
    N = hw * hw
    ho = hw // 2
    d = Derivation(
        "diffusion_unet_block",
        {"sample": {"shape": [1, C, hw, hw], "dtype": "float32"}, "temb": {"shape": [1, E], "dtype": "float32"}},
        "SD 1.x first down block (self-attention only): ResNet block (GroupNorm(32) → SiLU → 3×3 conv, "
        "+ Linear(1280→320)(SiLU(temb)) broadcast, GroupNorm → SiLU → 3×3 conv, + residual), spatial "
        "self-attention over N = 32·32 = 1024 positions (GroupNorm, Q/K/V Linear without bias, 8 heads "
        "of 40, softmax, out Linear with bias, + residual), 3×3/2 conv downsampler → 320×16×16.",
    )
    d.notes.append("temb is a model input, so time_emb_proj's input gradient and the SiLU(temb) backward are not computed in training.")
    d.params("resnet: 2 GroupNorms, 2 convs 3×3 with bias, time_emb_proj 1280→320", f"2*2*{C} + 2*(9*{C}*{C} + {C}) + {E}*{C} + {C}")
    d.params("attention: GroupNorm, q/k/v without bias, out with bias", f"2*{C} + 3*{C}*{C} + {C}*{C} + {C}")
    d.params("downsample 3×3/2 with bias", f"9*{C}*{C} + {C}")
    d.matmul("resnet conv1 + conv2 3×3 at 32²: 2 × 2·N·C·C·9", f"2*2*{N}*{C}*{C}*9")
    d.matmul("time_emb_proj 1280→320", f"2*{E}*{C}")
    d.matmul("q, k, v, out projections: 2·N·4·C²", f"2*{N}*4*{C}**2")
    d.matmul("attention QKᵀ and AV: 2·2·N²·C", f"2*2*{N}**2*{C}")
    d.matmul("downsample 3×3/2 at 16²", f"2*{ho}**2*{C}*{C}*9")
    d.other("aten.native_group_norm", "3 GroupNorms: 7·C·N + 4·groups", f"3*(7*{C}*{N} + 4*{G})")
    d.other("aten.silu", "SiLU on the two resnet activations (5·C·N each) and on temb (5·1280)", f"2*5*{C}*{N} + 5*{E}")
    d.other("aten.convolution", "conv biases: conv1, conv2 (C·N) and downsample (C·16²)", f"2*{C}*{N} + {C}*{ho}**2")
    d.other("aten.addmm", "Linear biases: time_emb_proj (C) and to_out (N·C)", f"{C} + {N}*{C}")
    d.other("aten.add", "h + temb (C·N), resnet residual (C·N), attention residual (C·N)", f"3*{C}*{N}")
    d.other("aten.mul", "scores × 1/√40: heads·N²", f"{heads}*{N}**2")
    d.other("aten._softmax", "softmax 5·heads·N²", f"5*{heads}*{N}**2")
    d.backward("aten._softmax_backward_data", "softmax backward 4·heads·N²", f"4*{heads}*{N}**2")
    d.backward("aten.mul", "scale backward heads·N²", f"{heads}*{N}**2")
    d.backward("aten.native_group_norm_backward", "norm2 and attention norm: 2 × (14·C·N + 4·groups)",
               f"2*(14*{C}*{N} + 4*{G})")
    d.backward("aten.native_group_norm_backward", "norm1 (input is the model input): weight and bias "
               "gradients only, 5·C·N", f"5*{C}*{N}")
    d.backward("aten.silu_backward", "SiLU backward 9 per element on the two resnet activations (temb's "
               "SiLU needs no gradient)", f"2*9*{C}*{N}")
    d.backward("aten.add", "gradient accumulation: resnet output feeds the attention norm and residual "
               "(1), normalised tokens feed q, k, v (2): 3·C·N", f"3*{C}*{N}")
    d.backward("aten.convolution_backward", "conv bias gradients: 2·C·N + C·16²", f"2*{C}*{N} + {C}*{ho}**2")
    d.backward("aten.sum", "Linear bias gradients (to_out N·C, time_emb_proj C) and the temb projection "
               "broadcast over H×W summed back (C·N)", f"{N}*{C} + {C} + {C}*{N}")
    d.no_input_grad("time_emb_proj's input gradient (temb needs none)", f"2*{E}*{C}")
    return d


# ---------------------------------------------------------------------------------------------
# transformers models
def bert_base() -> Derivation:
    T, dm, h, ff, L, V, P = 128, 768, 12, 3072, 12, 30522, 512
    d = Derivation(
        "bert_base",
        {"input_ids": {"shape": [1, T], "dtype": "int64"}, "attention_mask": {"shape": [1, T], "dtype": "int64"}},
        "BERT-base (BertConfig defaults): 12 post-LN layers, d 768, 12 heads, ffn 3072 (GELU), "
        "vocab 30522, 512 positions, 2 token types, pooler on [CLS]; T = 128, eager attention.",
    )
    d.notes.append(TRANSFORMERS_NOTE)
    d.notes.append("Training mode turns on the 37 dropouts (p 0.1): 3 FLOPs per element forward (mask draw, scale, multiply) and 1 backward.")
    d.params("embeddings: word V·d + position 512·d + token type 2·d + LayerNorm 2·d", f"{V}*{dm} + {P}*{dm} + 2*{dm} + 2*{dm}")
    d.params("12 layers × (4·(d² + d) + d·ff + ff + ff·d + d + 2 LayerNorms 4·d)",
             f"{L}*(4*({dm}**2 + {dm}) + {dm}*{ff} + {ff} + {ff}*{dm} + {dm} + 4*{dm})")
    d.params("pooler d² + d", f"{dm}**2 + {dm}")
    d.matmul("12 layers × linears 2·T·(4d² + 2·d·ff)", f"{L}*2*{T}*(4*{dm}**2 + 2*{dm}*{ff})")
    d.matmul("12 layers × attention QKᵀ and AV 2·2·T²·d", f"{L}*2*2*{T}**2*{dm}")
    d.matmul("pooler on [CLS] 2·d²", f"2*{dm}**2")
    d.other("aten.add", "embeddings: word + token type + position, 2·T·d", f"2*{T}*{dm}")
    _layer_norm(d, "embedding LN + 2 per layer", 1 + 2 * L, T, dm)
    d.other("aten.addmm", "bias adds: 12 × T·(4d + ff + d) + pooler d", f"{L}*{T}*(4*{dm} + {ff} + {dm}) + {dm}")
    d.other("aten.mul", "scores × 1/√dh: 12 × h·T²", f"{L}*{h}*{T}**2")
    d.other("aten.add", "scores + additive mask: 12 × h·T²", f"{L}*{h}*{T}**2")
    d.other("aten._softmax", "softmax: 12 × 5·h·T²", f"{L}*5*{h}*{T}**2")
    d.other("aten.gelu", "GELU: 12 × 5·T·ff", f"{L}*5*{T}*{ff}")
    d.other("aten.add", "residual adds: 12 × 2·T·d", f"{L}*2*{T}*{dm}")
    d.other("aten.tanh", "pooler tanh d", f"{dm}")
    # transformers 5.23 masking_utils, bidirectional mask from the padding mask
    d.other("aten.add", "mask index arithmetic: 2·T", f"2*{T}")
    d.other("aten.ge", "padding mask compare: T", f"{T}")
    d.other("aten.bitwise_and", "padding predicate T + mask predicates T²", f"{T} + {T}**2")
    d.other("aten.where", "mask to additive 0 / -inf: T²", f"{T}**2")
    drop = f"{T}*{dm} + {L}*({h}*{T}**2 + 2*{T}*{dm})"
    d.train_forward("aten.bernoulli_", "dropout (p 0.1) mask draws: embeddings T·d + 12 × (attention "
                    "probabilities h·T² + 2 hidden dropouts 2·T·d)", drop)
    d.train_forward("aten.div_", "dropout mask / (1 − p), same elements", drop)
    d.train_forward("aten.mul", "dropout x·mask, same elements", drop)
    d.backward("aten.mul", "dropout backward gradient·mask, same elements", drop)
    d.backward("aten.mul", "scale backward: 12 × h·T²", f"{L}*{h}*{T}**2")
    d.backward("aten.sum", "bias gradients: 12 × T·(4d + ff + d) + pooler d", f"{L}*{T}*(4*{dm} + {ff} + {dm}) + {dm}")
    d.backward("aten._softmax_backward_data", "softmax backward: 12 × 4·h·T²", f"{L}*4*{h}*{T}**2")
    d.backward("aten.gelu_backward", "GELU backward: 12 × 11·T·ff", f"{L}*11*{T}*{ff}")
    d.backward("aten.native_layer_norm_backward", "25 LayerNorms × (14·T·d + 4·T)", f"{1 + 2 * L}*(14*{T}*{dm} + 4*{T})")
    d.backward("aten.tanh_backward", "pooler tanh backward 3·d", f"3*{dm}")
    d.backward("aten.embedding_dense_backward", "word, position, token-type embedding gradients: 3·T·d", f"3*{T}*{dm}")
    d.backward("aten.add", "gradient accumulation: each layer input feeds q, k, v and the residual (3 adds), "
               "the post-attention LN output feeds the FFN and the residual (1): 12 × 4·T·d; the last "
               "hidden state feeds the output and the pooler's [CLS] slice: T·d", f"{L}*4*{T}*{dm} + {T}*{dm}")
    return d


def gpt2() -> Derivation:
    T, dm, h, ff, L, V, P = 128, 768, 12, 3072, 12, 50257, 1024
    d = Derivation(
        "gpt2", {"input_ids": {"shape": [1, T], "dtype": "int64"}},
        "GPT-2 small (GPT2Config defaults): 12 pre-LN layers, d 768, 12 heads, ffn 3072 (gelu_new, "
        "tanh form written out), vocab 50257, 1024 positions, LM head tied to wte; T = 128, eager attention.",
    )
    d.notes.append(TRANSFORMERS_NOTE)
    d.notes.append("The LM head is tied to wte: counted once in params; in training the two gradients of the shared tensor are summed (V·d adds).")
    d.params("wte V·d + wpe 1024·d (lm_head tied to wte: not counted again)", f"{V}*{dm} + {P}*{dm}")
    d.params("12 layers × (c_attn d·3d + 3d, c_proj d² + d, c_fc d·ff + ff, c_proj ff·d + d, 2 LN 4d)",
             f"{L}*({dm}*3*{dm} + 3*{dm} + {dm}**2 + {dm} + {dm}*{ff} + {ff} + {ff}*{dm} + {dm} + 4*{dm})")
    d.params("ln_f 2·d", f"2*{dm}")
    d.matmul("12 layers × linears 2·T·(4d² + 2·d·ff)", f"{L}*2*{T}*(4*{dm}**2 + 2*{dm}*{ff})")
    d.matmul("12 layers × attention QKᵀ and AV 2·2·T²·d", f"{L}*2*2*{T}**2*{dm}")
    d.matmul("LM head 2·T·d·V", f"2*{T}*{dm}*{V}")
    d.other("aten.add", "wte + wpe: T·d", f"{T}*{dm}")
    _layer_norm(d, "2 per layer + ln_f", 2 * L + 1, T, dm)
    d.other("aten.addmm", "bias adds: 12 × T·(3d + d + ff + d)", f"{L}*{T}*(3*{dm} + {dm} + {ff} + {dm})")
    d.other("aten.mul", "scores × 1/√dh: 12 × h·T²", f"{L}*{h}*{T}**2")
    d.other("aten.add", "scores + causal mask: 12 × h·T²", f"{L}*{h}*{T}**2")
    d.other("aten._softmax", "softmax: 12 × 5·h·T²", f"{L}*5*{h}*{T}**2")
    d.other("aten.add", "residual adds: 12 × 2·T·d", f"{L}*2*{T}*{dm}")
    # gelu_new = 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))
    d.other("aten.pow", "gelu_new x³: 12 × T·ff", f"{L}*{T}*{ff}")
    d.other("aten.mul", "gelu_new 0.5·x, 0.044715·x³, √(2/π)·(...), final product: 12 × 4·T·ff", f"{L}*4*{T}*{ff}")
    d.other("aten.add", "gelu_new x + ..., 1 + tanh: 12 × 2·T·ff", f"{L}*2*{T}*{ff}")
    d.other("aten.tanh", "gelu_new tanh: 12 × T·ff", f"{L}*{T}*{ff}")
    _causal_mask_bookkeeping(d, T)
    drop = f"{T}*{dm} + {L}*({h}*{T}**2 + 2*{T}*{dm})"
    d.train_forward("aten.bernoulli_", "dropout (p 0.1) mask draws: embeddings T·d + 12 × (attention "
                    "probabilities h·T² + residual and MLP dropouts 2·T·d)", drop)
    d.train_forward("aten.div_", "dropout mask / (1 − p), same elements", drop)
    d.train_forward("aten.mul", "dropout x·mask, same elements", drop)
    d.backward("aten.mul", "dropout backward gradient·mask, same elements", drop)
    d.backward("aten.mul", "scale backward: 12 × h·T²", f"{L}*{h}*{T}**2")
    d.backward("aten.mul", "gelu_new backward: dy·e, dy·a, ·√(2/π), ·0.044715, 3·, ·x², ·0.5 = 7 per "
               "element, 12 × 7·T·ff", f"{L}*7*{T}*{ff}")
    d.backward("aten.pow", "gelu_new backward x²: 12 × T·ff", f"{L}*{T}*{ff}")
    d.backward("aten.tanh_backward", "gelu_new tanh backward 3 per element: 12 × 3·T·ff", f"{L}*3*{T}*{ff}")
    d.backward("aten.add", "gelu_new backward: three paths into x summed, 12 × 2·T·ff", f"{L}*2*{T}*{ff}")
    d.backward("aten.sum", "bias gradients: 12 × T·(3d + d + ff + d)", f"{L}*{T}*(3*{dm} + {dm} + {ff} + {dm})")
    d.backward("aten._softmax_backward_data", "softmax backward: 12 × 4·h·T²", f"{L}*4*{h}*{T}**2")
    d.backward("aten.native_layer_norm_backward", "25 LayerNorms × (14·T·d + 4·T)", f"{2 * L + 1}*(14*{T}*{dm} + 4*{T})")
    d.backward("aten.embedding_dense_backward", "wte and wpe gradients: 2·T·d", f"2*{T}*{dm}")
    d.backward("aten.add", "gradient accumulation: the residual stream feeds ln_1 / ln_2 and the residual "
               "add: 12 × 2·T·d", f"{L}*2*{T}*{dm}")
    d.backward("aten.add", "tied wte: embedding and LM head gradients summed, V·d", f"{V}*{dm}")
    return d


def vit_b16() -> Derivation:
    T, Np, dm, h, ff, L = 197, 196, 768, 12, 3072, 12
    d = Derivation(
        "vit_b16", {"pixel_values": {"shape": [1, 3, 224, 224], "dtype": "float32"}},
        "ViT-B/16 (ViTConfig defaults) at 224×224: 16×16 patch conv 3→768 (196 patches) + [CLS] + "
        "position embeddings, 12 pre-LN layers (d 768, 12 heads, ffn 3072, GELU), final LN, pooler "
        "(Linear + tanh on [CLS]); T = 197, eager attention.",
    )
    d.notes.append(TRANSFORMERS_NOTE)
    d.params("patch conv 768·3·16·16 + 768, cls d, positions 197·d", f"{dm}*3*16*16 + {dm} + {dm} + {T}*{dm}")
    d.params("12 layers × (4·(d² + d) + d·ff + ff + ff·d + d + 2 LN 4d)",
             f"{L}*(4*({dm}**2 + {dm}) + {dm}*{ff} + {ff} + {ff}*{dm} + {dm} + 4*{dm})")
    d.params("final LN 2d + pooler d² + d", f"2*{dm} + {dm}**2 + {dm}")
    d.matmul("patch embedding conv: 2·196·768·(3·16·16)", f"2*{Np}*{dm}*3*16*16")
    d.matmul("12 layers × linears 2·T·(4d² + 2·d·ff)", f"{L}*2*{T}*(4*{dm}**2 + 2*{dm}*{ff})")
    d.matmul("12 layers × attention QKᵀ and AV 2·2·T²·d", f"{L}*2*2*{T}**2*{dm}")
    d.matmul("pooler 2·d²", f"2*{dm}**2")
    d.other("aten.convolution", "patch conv bias 196·d", f"{Np}*{dm}")
    d.other("aten.add", "+ position embeddings T·d", f"{T}*{dm}")
    _layer_norm(d, "2 per layer + final", 2 * L + 1, T, dm)
    d.other("aten.addmm", "bias adds: 12 × T·(4d + ff + d) + pooler d", f"{L}*{T}*(4*{dm} + {ff} + {dm}) + {dm}")
    d.other("aten.mul", "scores × 1/√dh: 12 × h·T²", f"{L}*{h}*{T}**2")
    d.other("aten._softmax", "softmax: 12 × 5·h·T²", f"{L}*5*{h}*{T}**2")
    d.other("aten.gelu", "GELU: 12 × 5·T·ff", f"{L}*5*{T}*{ff}")
    d.other("aten.add", "residual adds: 12 × 2·T·d", f"{L}*2*{T}*{dm}")
    d.other("aten.tanh", "pooler tanh d", f"{dm}")
    d.backward("aten.convolution_backward", "patch conv bias gradient 196·d", f"{Np}*{dm}")
    d.backward("aten.mul", "scale backward: 12 × h·T²", f"{L}*{h}*{T}**2")
    d.backward("aten._softmax_backward_data", "softmax backward: 12 × 4·h·T²", f"{L}*4*{h}*{T}**2")
    d.backward("aten.gelu_backward", "GELU backward: 12 × 11·T·ff", f"{L}*11*{T}*{ff}")
    d.backward("aten.native_layer_norm_backward", "25 LayerNorms × (14·T·d + 4·T)", f"{2 * L + 1}*(14*{T}*{dm} + 4*{T})")
    d.backward("aten.sum", "bias gradients: 12 × T·(4d + ff + d) + pooler d", f"{L}*{T}*(4*{dm} + {ff} + {dm}) + {dm}")
    d.backward("aten.tanh_backward", "pooler tanh backward 3·d", f"3*{dm}")
    d.backward("aten.add", "gradient accumulation: layernorm_before output feeds q, k, v (2), the residual "
               "stream feeds a LayerNorm and a residual add twice per layer (2): 12 × 4·T·d; the final "
               "LayerNorm output feeds last_hidden_state and the pooler: T·d", f"{L}*4*{T}*{dm} + {T}*{dm}")
    d.no_input_grad("patch conv's input gradient (pixel_values needs none)", f"2*{Np}*{dm}*3*16*16")
    return d


def t5_small() -> Derivation:
    T, dm, h, ff, L, V, B = 64, 512, 8, 2048, 6, 32128, 32
    d = Derivation(
        "t5_small",
        {"input_ids": {"shape": [1, T], "dtype": "int64"}, "decoder_input_ids": {"shape": [1, T], "dtype": "int64"}},
        "T5-small (t5-small config.json): 6 encoder + 6 decoder layers, d 512, 8 heads of 64, ffn 2048 "
        "(ReLU), no biases, RMS-style T5LayerNorm, relative position buckets (32), shared embedding "
        "(vocab 32128), no LM head (T5Model); T_enc = T_dec = 64, eager attention.",
    )
    d.notes.append(TRANSFORMERS_NOTE)
    d.notes.append("The embedding is shared by encoder and decoder: counted once in params; its two gradients are summed in training (V·d adds).")
    d.params("shared embedding V·d (encoder and decoder embed_tokens are the same tensor)", f"{V}*{dm}")
    d.params("encoder: 6 × (q, k, v, o 4d² + wi d·ff + wo ff·d + 2 LN 2d) + relative bias 32·8 + final LN d",
             f"{L}*(4*{dm}**2 + 2*{dm}*{ff} + 2*{dm}) + {B}*{h} + {dm}")
    d.params("decoder: 6 × (self 4d² + cross 4d² + FFN 2·d·ff + 3 LN 3d) + relative bias 32·8 + final LN d",
             f"{L}*(8*{dm}**2 + 2*{dm}*{ff} + 3*{dm}) + {B}*{h} + {dm}")
    d.matmul("encoder 6 × (linears 2·T·(4d² + 2·d·ff) + attention 2·2·T²·d)",
             f"{L}*(2*{T}*(4*{dm}**2 + 2*{dm}*{ff}) + 2*2*{T}**2*{dm})")
    d.matmul("decoder 6 × (linears 2·T·(8d² + 2·d·ff) + self and cross attention 2 × 2·2·T²·d)",
             f"{L}*(2*{T}*(8*{dm}**2 + 2*{dm}*{ff}) + 2*2*2*{T}**2*{dm})")
    _rms_norm(d, "T5LayerNorm: encoder 2·6 + 1, decoder 3·6 + 1", 2 * L + 1 + 3 * L + 1, T, dm)
    d.other("aten.mul", "scores × scaling 1.0 (eager_attention_forward): 18 attentions × h·T²", f"3*{L}*{h}*{T}**2")
    d.other("aten._softmax", "softmax: 18 attentions × 5·h·T²", f"3*{L}*5*{h}*{T}**2")
    d.other("aten.add", "scores + position bias: encoder 6, decoder self 6, cross 6 (zero bias) × h·T²", f"3*{L}*{h}*{T}**2")
    d.other("aten.add", "decoder position bias + causal mask, per layer: 6 × h·T²", f"{L}*{h}*{T}**2")
    d.other("aten.add", "residual adds: encoder 6 × 2·T·d, decoder 6 × 3·T·d", f"{L}*5*{T}*{dm}")
    d.other("aten.relu", "ReLU: 12 FFNs × T·ff", f"2*{L}*{T}*{ff}")
    # relative position buckets (transformers T5Attention._relative_position_bucket), each once per stack
    d.other("aten.sub", "buckets: memory − context position, encoder and decoder T² each", f"2*{T}**2")
    d.other("aten.add", "buckets: context position + past (T) and 2 adds of T² (encoder and decoder each)", f"2*({T} + 2*{T}**2)")
    d.other("aten.gt", "encoder buckets: rp > 0, T²", f"{T}**2")
    d.other("aten.mul", "encoder buckets: (rp > 0)·num_buckets, ·(num_buckets − max_exact): 2·T²", f"2*{T}**2")
    d.other("aten.add_", "encoder buckets: relative_buckets += where(...), T²", f"{T}**2")
    d.other("aten.abs", "encoder buckets: |rp|, T²", f"{T}**2")
    d.other("aten.neg", "decoder buckets: −min(rp, 0), T²", f"{T}**2")
    d.other("aten.minimum", "buckets: min(large, num_buckets − 1) in both, min(rp, 0) in the decoder", f"3*{T}**2")
    d.other("aten.mul", "decoder buckets: ·(num_buckets − max_exact), T²", f"{T}**2")
    d.other("aten.lt", "buckets: is_small, encoder and decoder T² each", f"2*{T}**2")
    d.other("aten.div", "buckets: rp / max_exact, log(...) / log(max_distance / max_exact): 2 × 2·T²", f"4*{T}**2")
    d.other("aten.log", "buckets: log, encoder and decoder T² each", f"2*{T}**2")
    d.other("aten.where", "buckets: where(is_small, ...), encoder and decoder T² each", f"2*{T}**2")
    d.other("aten.le", "decoder causal mask kv_idx <= q_idx: T²", f"{T}**2")
    d.other("aten.where", "decoder causal mask to additive: T²", f"{T}**2")
    d.other("aten.add", "decoder causal mask index arithmetic: 2·T", f"2*{T}")
    # dropout (p 0.1): embeddings and final (2 per stack), one per sub-layer (encoder 2, decoder 3 per
    # layer), attention probabilities (18 attentions), FFN hidden (12)
    drop = f"(2 + 2 + 5*{L})*{T}*{dm} + 3*{L}*{h}*{T}**2 + 2*{L}*{T}*{ff}"
    d.train_forward("aten.bernoulli_", "dropout mask draws: (4 + 5·6)·T·d + 18 × h·T² + 12 × T·ff", drop)
    d.train_forward("aten.div_", "dropout mask / (1 − p), same elements", drop)
    d.train_forward("aten.mul", "dropout x·mask, same elements", drop)
    d.backward("aten.mul", "dropout backward gradient·mask, same elements", drop)
    d.backward("aten.mul", "scale (1.0) backward: 18 × h·T²", f"3*{L}*{h}*{T}**2")
    _rms_norm_backward(d, "T5LayerNorm", 2 * L + 1 + 3 * L + 1, T, dm)
    d.backward("aten._softmax_backward_data", "softmax backward: 18 × 4·h·T²", f"3*{L}*4*{h}*{T}**2")
    d.backward("aten.threshold_backward", "ReLU backward: 12 × T·ff", f"2*{L}*{T}*{ff}")
    d.backward("aten.embedding_dense_backward", "shared embedding (encoder and decoder lookups, 2·T·d) and the "
               "two relative-bias tables (2·h·T²)", f"2*{T}*{dm} + 2*{h}*{T}**2")
    d.backward("aten.add", "shared embedding: encoder and decoder gradients summed, V·d", f"{V}*{dm}")
    d.backward("aten.add", "gradient accumulation: position bias reused by 6 layers (encoder 5, decoder 5 × "
               "h·T²); residual stream into LN and residual (encoder 2, decoder 3 per layer × T·d); LN output "
               "into q, k, v (2 per self-attention × T·d); encoder output into 6 × (k, v) of cross "
               "attention (11 × T·d)",
               f"(5 + 5)*{h}*{T}**2 + {L}*(2 + 3)*{T}*{dm} + 2*2*{L}*{T}*{dm} + (2*{L} - 1)*{T}*{dm}")
    return d


def llama() -> Derivation:
    T, dm, h, kv, dh, ff, L, V = 128, 512, 8, 2, 64, 1376, 4, 32000
    d = Derivation(
        "llama", {"input_ids": {"shape": [1, T], "dtype": "int64"}},
        "Llama-style LlamaForCausalLM: 4 layers, d 512, 8 query heads / 2 kv heads of 64 (GQA), "
        "SwiGLU MLP 1376, RMSNorm, RoPE, vocab 32000, untied LM head; T = 128, eager attention.",
    )
    d.notes.append(TRANSFORMERS_NOTE)
    d.params("embed_tokens V·d + lm_head V·d", f"2*{V}*{dm}")
    d.params("4 layers × (q, o d² each, k, v d·kv·dh each, gate/up/down 3·d·ff, 2 RMSNorm 2d)",
             f"{L}*(2*{dm}**2 + 2*{dm}*{kv}*{dh} + 3*{dm}*{ff} + 2*{dm})")
    d.params("final norm d", f"{dm}")
    d.matmul("4 layers × linears 2·T·(2d² + 2·d·kv·dh + 3·d·ff)", f"{L}*2*{T}*(2*{dm}**2 + 2*{dm}*{kv}*{dh} + 3*{dm}*{ff})")
    d.matmul("4 layers × attention QKᵀ and AV (k, v repeated to 8 heads) 2·2·T²·d", f"{L}*2*2*{T}**2*{dm}")
    d.matmul("LM head 2·T·d·V", f"2*{T}*{dm}*{V}")
    _rms_norm(d, "2 per layer + final", 2 * L + 1, T, dm)
    _rope(d, T, L, h, kv, dh)
    d.other("aten.mul", "scores × 1/√dh: 4 × h·T²", f"{L}*{h}*{T}**2")
    d.other("aten.add", "scores + causal mask: 4 × h·T²", f"{L}*{h}*{T}**2")
    d.other("aten._softmax", "softmax: 4 × 5·h·T²", f"{L}*5*{h}*{T}**2")
    d.other("aten.add", "residual adds: 4 × 2·T·d", f"{L}*2*{T}*{dm}")
    d.other("aten.silu", "SwiGLU SiLU(gate): 4 × 5·T·ff", f"{L}*5*{T}*{ff}")
    d.other("aten.mul", "SwiGLU SiLU(gate)·up: 4 × T·ff", f"{L}*{T}*{ff}")
    _causal_mask_bookkeeping(d, T)
    _rms_norm_backward(d, "RMSNorm", 2 * L + 1, T, dm)
    _rope_backward(d, T, L, h, kv, dh)
    d.backward("aten.mul", "scale backward: 4 × h·T²", f"{L}*{h}*{T}**2")
    d.backward("aten._softmax_backward_data", "softmax backward: 4 × 4·h·T²", f"{L}*4*{h}*{T}**2")
    d.backward("aten.sum", "repeat_kv backward: k and v gradients of 8 heads summed onto 2, 4 × 2·h·T·dh",
               f"{L}*2*{h}*{T}*{dh}")
    d.backward("aten.silu_backward", "SiLU backward: 4 × 9·T·ff", f"{L}*9*{T}*{ff}")
    d.backward("aten.mul", "SiLU(gate)·up backward: 4 × 2·T·ff", f"{L}*2*{T}*{ff}")
    d.backward("aten.embedding_dense_backward", "embedding gradient T·d", f"{T}*{dm}")
    d.backward("aten.add", "gradient accumulation: residual stream (2 per layer), input_layernorm output "
               "into q, k, v (2), post_attention_layernorm output into gate and up (1): 4 × 5·T·d", f"{L}*5*{T}*{dm}")
    return d


def moe_decoder() -> Derivation:
    T, dm, h, kv, dh, ff, L, V, E, K = 128, 512, 8, 2, 64, 1024, 4, 32000, 8, 2
    S = T * K
    d = Derivation(
        "moe_decoder", {"input_ids": {"shape": [1, T], "dtype": "int64"}},
        "Mixtral-style MixtralForCausalLM: 4 layers, d 512, 8 query / 2 kv heads of 64, RMSNorm, RoPE, "
        "sparse MoE MLP with 8 SwiGLU experts of 1024 and top-2 routing (softmax router, top-k weights "
        "renormalised), vocab 32000, untied LM head; T = 128, eager attention. Experts are evaluated "
        "for the T·k = 256 (token, chosen expert) pairs only, so the count does not depend on the routing.",
    )
    d.notes.append(TRANSFORMERS_NOTE)
    d.notes.append("Experts run through the zoo's `zoo_gathered_mm` experts implementation (transformers' batched_mm computation): each of the T·k (token, expert) pairs gathers its expert's weights, so matmul_flops counts exactly the top-k work and does not depend on which experts the router picks. The price shows in training: each pair's weight gradient (T·k·3·ff·d elements) is scattered back into its expert (aten.index_put, 1.61 GFLOP here, 6 % of training_flops).")
    d.params("embed_tokens V·d + lm_head V·d", f"2*{V}*{dm}")
    d.params("4 layers × (attention 2d² + 2·d·kv·dh, router E·d, experts E·3·d·ff, 2 RMSNorm 2d)",
             f"{L}*(2*{dm}**2 + 2*{dm}*{kv}*{dh} + {E}*{dm} + {E}*3*{dm}*{ff} + 2*{dm})")
    d.params("final norm d", f"{dm}")
    d.matmul("4 layers × attention linears 2·T·(2d² + 2·d·kv·dh)", f"{L}*2*{T}*(2*{dm}**2 + 2*{dm}*{kv}*{dh})")
    d.matmul("4 layers × attention QKᵀ and AV 2·2·T²·d", f"{L}*2*2*{T}**2*{dm}")
    d.matmul("4 layers × router 2·T·d·E", f"{L}*2*{T}*{dm}*{E}")
    d.matmul("4 layers × experts on T·k pairs: 2·(T·k)·(2·ff·d + d·ff)", f"{L}*2*{S}*(2*{ff}*{dm} + {dm}*{ff})")
    d.matmul("LM head 2·T·d·V", f"2*{T}*{dm}*{V}")
    _rms_norm(d, "2 per layer + final", 2 * L + 1, T, dm)
    _rope(d, T, L, h, kv, dh)
    d.other("aten.mul", "scores × 1/√dh: 4 × h·T²", f"{L}*{h}*{T}**2")
    d.other("aten.add", "scores + causal mask: 4 × h·T²", f"{L}*{h}*{T}**2")
    d.other("aten._softmax", "attention softmax: 4 × 5·h·T²", f"{L}*5*{h}*{T}**2")
    d.other("aten.add", "residual adds: 4 × 2·T·d", f"{L}*2*{T}*{dm}")
    d.other("aten._softmax", "router softmax: 4 × 5·T·E", f"{L}*5*{T}*{E}")
    d.other("aten.topk", "router top-k: 1 compare per router probability, 4 × T·E", f"{L}*{T}*{E}")
    d.other("aten.sum", "top-k weights renormalised, sum: 4 × T·k", f"{L}*{S}")
    d.other("aten.div_", "top-k weights renormalised, divide: 4 × T·k", f"{L}*{S}")
    d.other("aten.silu", "expert SiLU(gate): 4 × 5·(T·k)·ff", f"{L}*5*{S}*{ff}")
    d.other("aten.mul", "expert SiLU(gate)·up: 4 × (T·k)·ff", f"{L}*{S}*{ff}")
    d.other("aten.mul", "expert output × routing weight: 4 × (T·k)·d", f"{L}*{S}*{dm}")
    d.other("aten.sum", "sum over each token's k experts: 4 × (T·k)·d", f"{L}*{S}*{dm}")
    _causal_mask_bookkeeping(d, T)
    _rms_norm_backward(d, "RMSNorm", 2 * L + 1, T, dm)
    _rope_backward(d, T, L, h, kv, dh)
    d.backward("aten.mul", "scale backward: 4 × h·T²", f"{L}*{h}*{T}**2")
    d.backward("aten._softmax_backward_data", "attention softmax backward: 4 × 4·h·T²", f"{L}*4*{h}*{T}**2")
    d.backward("aten.sum", "repeat_kv backward: 4 × 2·h·T·dh", f"{L}*2*{h}*{T}*{dh}")
    d.backward("aten.embedding_dense_backward", "embedding gradient T·d", f"{T}*{dm}")
    d.backward("aten.add", "gradient accumulation: residual stream (2 per layer), input_layernorm output "
               "into q, k, v (2), post_attention_layernorm output into the router and the experts (1): "
               "4 × 5·T·d", f"{L}*5*{T}*{dm}")
    d.backward("aten.silu_backward", "expert SiLU backward: 4 × 9·(T·k)·ff", f"{L}*9*{S}*{ff}")
    d.backward("aten.mul", "expert SiLU(gate)·up backward: 4 × 2·(T·k)·ff", f"{L}*2*{S}*{ff}")
    d.backward("aten.mul", "× routing weight backward (both inputs): 4 × 2·(T·k)·d", f"{L}*2*{S}*{dm}")
    d.backward("aten.sum", "routing-weight gradient Σ_d g·out (T·k·d) and the token copies' gradients "
               "summed over k (T·k·d): 4 × 2·(T·k)·d", f"{L}*2*{S}*{dm}")
    d.backward("aten.index_put", "gathered expert weights: each pair's weight gradient added back into its "
               "expert, 1 add per element: 4 × (T·k)·3·ff·d", f"{L}*{S}*3*{ff}*{dm}")
    d.backward("aten.div", "top-k renormalisation w / Σw backward: g / Σ and the two divides of −g·w/Σ²: "
               "4 × 3·T·k", f"{L}*3*{S}")
    d.backward("aten.neg", "top-k renormalisation backward, −g: 4 × T·k", f"{L}*{S}")
    d.backward("aten.mul", "top-k renormalisation backward, ·w: 4 × T·k", f"{L}*{S}")
    d.backward("aten.sum", "top-k renormalisation backward, Σ over k: 4 × T·k", f"{L}*{S}")
    d.backward("aten.add", "top-k renormalisation backward, the two paths into w: 4 × T·k", f"{L}*{S}")
    d.backward("aten._softmax_backward_data", "router softmax backward: 4 × 4·T·E", f"{L}*4*{T}*{E}")
    return d


def whisper_encoder_decoder() -> Derivation:
    dm, h, ff, L, V, M, F, Td, Pd = 384, 6, 1536, 4, 51865, 80, 3000, 32, 448
    Te = F // 2
    d = Derivation(
        "whisper_encoder_decoder",
        {"input_features": {"shape": [1, M, F], "dtype": "float32"},
         "decoder_input_ids": {"shape": [1, Td], "dtype": "int64"}},
        "Whisper-tiny sizes (WhisperModel, no LM head): encoder conv1 3×1 80→384 (pad 1) + GELU, conv2 "
        "3×1/2 384→384 + GELU (3000 → 1500 frames), sinusoidal positions, 4 pre-LN layers; decoder: "
        "token + learned positions (448), 4 pre-LN layers with self- and cross-attention; d 384, 6 heads "
        "of 64, ffn 1536 (GELU), k_proj without bias; T_enc = 1500, T_dec = 32 (all-ones decoder "
        "attention mask), eager attention.",
    )
    d.notes.append(TRANSFORMERS_NOTE)
    d.notes.append("Training counts every parameter as trainable (as `flopest count zoo:NAME --training` does). transformers freezes the encoder's sinusoidal positions by default; with them frozen the count is 1,152,000 FLOPs lower (their embedding and broadcast-sum gradients, 2·T_e·d).")
    attn = f"4*{dm}**2 + 3*{dm}"  # q, k, v, o weights; q, v, o biases
    mlp = f"{dm}*{ff} + {ff} + {ff}*{dm} + {dm}"
    d.params("encoder convs: 80·384·3 + 384 and 384·384·3 + 384", f"{M}*{dm}*3 + {dm} + {dm}*{dm}*3 + {dm}")
    d.params("encoder positions 1500·d", f"{Te}*{dm}")
    d.params("encoder 4 layers × (attention 4d² + 3d, 2 LN 4d, MLP) + final LN 2d", f"{L}*({attn} + 4*{dm} + {mlp}) + 2*{dm}")
    d.params("decoder tokens V·d + positions 448·d", f"{V}*{dm} + {Pd}*{dm}")
    d.params("decoder 4 layers × (self and cross attention 2·(4d² + 3d), 3 LN 6d, MLP) + final LN 2d",
             f"{L}*(2*({attn}) + 6*{dm} + {mlp}) + 2*{dm}")
    d.matmul("encoder conv1: 2·3000·384·80·3", f"2*{F}*{dm}*{M}*3")
    d.matmul("encoder conv2: 2·1500·384·384·3", f"2*{Te}*{dm}*{dm}*3")
    d.matmul("encoder 4 × (linears 2·T_e·(4d² + 2·d·ff) + attention 2·2·T_e²·d)",
             f"{L}*(2*{Te}*(4*{dm}**2 + 2*{dm}*{ff}) + 2*2*{Te}**2*{dm})")
    d.matmul("decoder 4 × (self q, k, v, o + cross q, o + MLP on T_d: 2·T_d·(6d² + 2·d·ff); cross k, v on T_e: 2·T_e·2d²)",
             f"{L}*(2*{Td}*(6*{dm}**2 + 2*{dm}*{ff}) + 2*{Te}*2*{dm}**2)")
    d.matmul("decoder 4 × (self attention 2·2·T_d²·d + cross attention 2·2·T_d·T_e·d)",
             f"{L}*(2*2*{Td}**2*{dm} + 2*2*{Td}*{Te}*{dm})")
    d.other("aten.convolution", "conv biases 384·3000 + 384·1500", f"{dm}*{F} + {dm}*{Te}")
    d.other("aten.gelu", "conv GELUs 5·384·(3000 + 1500)", f"5*{dm}*({F} + {Te})")
    d.other("aten.add", "encoder + positions T_e·d", f"{Te}*{dm}")
    _layer_norm(d, "encoder 2 per layer + final", 2 * L + 1, Te, dm)
    d.other("aten.addmm", "encoder bias adds: 4 × T_e·(3d + ff + d) (k_proj has none)", f"{L}*{Te}*(3*{dm} + {ff} + {dm})")
    d.other("aten.mul", "encoder q × 1/√dh: 4 × T_e·d", f"{L}*{Te}*{dm}")
    d.other("aten.mul", "encoder scores × scaling 1.0 (eager_attention_forward): 4 × h·T_e²", f"{L}*{h}*{Te}**2")
    d.other("aten._softmax", "encoder softmax 4 × 5·h·T_e²", f"{L}*5*{h}*{Te}**2")
    d.other("aten.gelu", "encoder MLP GELU 4 × 5·T_e·ff", f"{L}*5*{Te}*{ff}")
    d.other("aten.add", "encoder residual adds 4 × 2·T_e·d", f"{L}*2*{Te}*{dm}")
    d.other("aten.add", "decoder tokens + positions T_d·d", f"{Td}*{dm}")
    _layer_norm(d, "decoder 3 per layer + final", 3 * L + 1, Td, dm)
    d.other("aten.addmm", "decoder bias adds: 4 × (self q, v, o 3·T_d·d + cross q, o 2·T_d·d + cross v T_e·d + MLP T_d·(ff + d))",
            f"{L}*(5*{Td}*{dm} + {Te}*{dm} + {Td}*({ff} + {dm}))")
    d.other("aten.mul", "decoder q × 1/√dh, self and cross: 4 × 2·T_d·d", f"{L}*2*{Td}*{dm}")
    d.other("aten.mul", "decoder scores × scaling 1.0: 4 × (h·T_d² + h·T_d·T_e)", f"{L}*({h}*{Td}**2 + {h}*{Td}*{Te})")
    d.other("aten.add", "decoder self scores + causal mask: 4 × h·T_d²", f"{L}*{h}*{Td}**2")
    d.other("aten._softmax", "decoder softmax: 4 × 5·(h·T_d² + h·T_d·T_e)", f"{L}*5*({h}*{Td}**2 + {h}*{Td}*{Te})")
    d.other("aten.gelu", "decoder MLP GELU 4 × 5·T_d·ff", f"{L}*5*{Td}*{ff}")
    d.other("aten.add", "decoder residual adds 4 × 3·T_d·d", f"{L}*3*{Td}*{dm}")
    _causal_mask_bookkeeping(d, Td)   # decoder causal mask from the all-ones decoder_attention_mask
    d.backward("aten.convolution_backward", "conv bias gradients 384·(3000 + 1500)", f"{dm}*({F} + {Te})")
    d.backward("aten.gelu_backward", "GELU backward 11 per element: convs 384·(3000 + 1500), encoder 4 × T_e·ff, "
               "decoder 4 × T_d·ff", f"11*({dm}*({F} + {Te}) + {L}*{Te}*{ff} + {L}*{Td}*{ff})")
    d.backward("aten.native_layer_norm_backward", "encoder 9 × (14·T_e·d + 4·T_e) + decoder 13 × (14·T_d·d + 4·T_d)",
               f"{2 * L + 1}*(14*{Te}*{dm} + 4*{Te}) + {3 * L + 1}*(14*{Td}*{dm} + 4*{Td})")
    d.backward("aten._softmax_backward_data", "softmax backward 4 per score: 4 × h·(T_e² + T_d² + T_d·T_e)",
               f"4*{L}*{h}*({Te}**2 + {Td}**2 + {Td}*{Te})")
    d.backward("aten.mul", "q-scaling and score-scaling backward: 4 × (T_e·d + h·T_e² + 2·T_d·d + h·T_d² + h·T_d·T_e)",
               f"{L}*({Te}*{dm} + {h}*{Te}**2 + 2*{Td}*{dm} + {h}*{Td}**2 + {h}*{Td}*{Te})")
    d.backward("aten.sum", "bias gradients (the forward's bias adds) + encoder positions summed over the "
               "broadcast batch dim T_e·d",
               f"{L}*{Te}*(3*{dm} + {ff} + {dm}) + {L}*(5*{Td}*{dm} + {Te}*{dm} + {Td}*({ff} + {dm})) + {Te}*{dm}")
    d.backward("aten.embedding_dense_backward", "encoder positions T_e·d and decoder tokens T_d·d", f"{Te}*{dm} + {Td}*{dm}")
    d.backward("aten.index_put", "decoder positions (weight indexed by position ids) T_d·d", f"{Td}*{dm}")
    d.backward("aten.add", "gradient accumulation: encoder residual stream (2 per layer) and LN output into "
               "q, k, v (2): 4 × 4·T_e·d; decoder residual (3) and self-attention LN output (2): 4 × 5·T_d·d; "
               "encoder output into 4 × (k, v) of cross attention: 7·T_e·d",
               f"{L}*4*{Te}*{dm} + {L}*5*{Td}*{dm} + (2*{L} - 1)*{Te}*{dm}")
    d.no_input_grad("conv1's input gradient (input_features needs none)", f"2*{F}*{dm}*{M}*3")
    return d


DERIVATIONS = {
    "resnet50": resnet50, "mobilenet_v2": mobilenet_v2, "unet": unet, "lstm": lstm,
    "einsum_attention": einsum_attention, "bert_base": bert_base, "gpt2": gpt2, "vit_b16": vit_b16,
    "t5_small": t5_small, "llama": llama, "moe_decoder": moe_decoder,
    "diffusion_unet_block": diffusion_unet_block, "whisper_encoder_decoder": whisper_encoder_decoder,
}


def derive(name: str) -> Derivation:
    return DERIVATIONS[name]()


# ---------------------------------------------------------------------------------------------
# expected.json
CONVENTIONS = (
    "flopest's: 1 multiply-add = 2 FLOPs; matmul_flops = matrix products only (Linear, conv, "
    "attention QKᵀ and AV, LSTM gates); flops = all floating-point work with the per-element "
    "constants of flopest/ops (README 'Counting conventions'); params = trainable tensors, a "
    "shared tensor once; training = forward in training mode + backward through autograd, "
    "loss = sum of the outputs (not counted), every parameter trainable, no optimizer step."
)

BASIS = {
    "params": "analytic (architecture sizes)",
    "matmul_flops": "analytic (architecture sizes)",
    "flops": ("analytic: matmul_flops + one term per non-matmul operator use (element count × "
              "flopest's per-element constant). Which small operators run (mask construction, "
              "position ids, decomposed activations) was read from the model code and checked "
              "against flopest's per-operator listing; each term is a formula in the sizes"),
    "training_matmul_flops": ("analytic: 3 × matmul_flops − the input-gradient products autograd "
                              "skips (a first layer fed by a model input, an LSTM's zero state)"),
    "training_flops": ("analytic: flops + training-mode forward extras (dropout masks, BatchNorm "
                       "batch statistics) + training_matmul_flops − matmul_flops + autograd's "
                       "non-matmul backward operators, term by term"),
}


def _lines(terms, total_label, total):
    return [t.text() for t in terms] + [f"{total_label} = {total:,}"]


def document(d: Derivation, flopest_version: str = "0.1.0") -> dict:
    """The expected.json document of one derivation (every number analytic)."""
    other = d.total("other")
    tf = d.total("train_forward")
    bwd_other = d.total("backward")
    fwd_train = d.flops + tf
    bwd = d.backward_matmul_flops + bwd_other
    deriv = {
        "params": _lines(d.terms["params"], "params", d.params_total),
        "matmul_flops": _lines(d.terms["matmul"], "matmul_flops", d.matmul_flops),
        "flops": [f"matmul_flops = {d.matmul_flops:,}"] + _lines(
            d.terms["other"], f"non-matmul = {other:,}; flops = {d.matmul_flops:,} + {other:,}", d.flops),
        "training_matmul_flops": [
            ("backward: each matrix product's input gradients cost the forward product's FLOPs, "
             "one product per input that needs a gradient"),
            *[f"[no input gradient] {t.label}: {t.expr} = {t.value:,}" for t in d.terms["no_input_grad"]],
            (f"training_matmul_flops = 3 × {d.matmul_flops:,} − {d.total('no_input_grad'):,} = "
             f"{d.training_matmul_flops:,}"),
        ],
        "training_flops": [
            f"forward, eval mode: flops = {d.flops:,}",
            *[t.text() for t in d.terms["train_forward"]],
            f"forward, training mode = {d.flops:,} + {tf:,} = {fwd_train:,}",
            f"backward matmul = 2 × {d.matmul_flops:,} − {d.total('no_input_grad'):,} = {d.backward_matmul_flops:,}",
            *[t.text() for t in d.terms["backward"]],
            f"backward = {d.backward_matmul_flops:,} + {bwd_other:,} = {bwd:,}",
            f"training_flops = {fwd_train:,} + {bwd:,} = {fwd_train + bwd:,}",
        ],
    }
    return {
        "model": d.name,
        "size": "full",
        "inputs": d.inputs,
        "summary": d.summary,
        "params": d.params_total,
        "matmul_flops": d.matmul_flops,
        "flops": d.flops,
        "training_flops": d.training_flops_analytic,
        "training_matmul_flops": d.training_matmul_flops,
        "training_forward_flops": fwd_train,
        "training_backward_flops": bwd,
        "params_basis": BASIS["params"],
        "matmul_flops_basis": BASIS["matmul_flops"],
        "flops_basis": BASIS["flops"],
        "training_matmul_flops_basis": BASIS["training_matmul_flops"],
        "training_flops_basis": BASIS["training_flops"],
        "checked_against": f"flopest {flopest_version}, torch 2.13, transformers 5.23: equal, operator by operator",
        "conventions": CONVENTIONS,
        "notes": list(d.notes),
        "derivation": deriv,
        "generated_by": "python -m model_zoo.expected (model_zoo/expected.py)",
    }


README_BEGIN = "<!-- expected counts: generated by `python -m model_zoo.expected`, do not edit by hand -->"
README_END = "<!-- end of expected counts -->"


def _snippet(var: str, terms) -> list:
    out = [f"{var} = ("]
    for i, t in enumerate(terms):
        out.append(f"    {'+ ' if i else '  '}{t.expr}  # {t.label}")
    out.append(f")  # = {sum(t.value for t in terms):,}")
    return out


def readme_section(d: Derivation) -> str:
    """The "Expected counts" section of model_zoo/<name>/README.md."""
    lines = [
        README_BEGIN,
        "## Expected counts (full size)",
        "",
        ("Analytic, in `expected.json` next to this file: every term written out with its numbers "
         "(`derivation`), from `model_zoo/expected.py`. `tests/test_zoo.py` checks that flopest's PyTorch "
         "capture gives exactly these numbers, and that its ONNX path gives the same `matmul_flops` at the "
         "tiny size."),
        "",
        "| figure | value |",
        "|---|--:|",
        f"| params | {d.params_total:,} |",
        f"| matmul_flops (forward) | {d.matmul_flops:,} |",
        f"| flops (forward: matmul + {d.total('other'):,} non-matmul) | {d.flops:,} |",
        f"| training_matmul_flops (forward + backward) | {d.training_matmul_flops:,} |",
        f"| training_flops (forward in training mode + backward, no optimizer) | {d.training_flops_analytic:,} |",
        "",
        "```python",
        *_snippet("params", d.terms["params"]),
        *_snippet("matmul_flops", d.terms["matmul"]),
        "```",
    ]
    if d.notes:
        lines += [""] + [f"- {n}" for n in d.notes]
    lines.append(README_END)
    return "\n".join(lines) + "\n"


def _with_readme_section(text: str, section: str) -> str:
    if README_BEGIN in text and README_END in text:
        head, rest = text.split(README_BEGIN, 1)
        tail = rest.split(README_END, 1)[1].lstrip("\n")
        return head + section + tail
    return text.rstrip("\n") + "\n\n" + section


def expected_path(name: str) -> pathlib.Path:
    return HERE / name / "expected.json"


def load(name: str) -> dict:
    return json.loads(expected_path(name).read_text())


def verify(name: str) -> list:
    """Differences between this file's derivation and flopest's PyTorch count at the full size,
    operator by operator (empty when they agree). Builds the model on the meta device."""
    import collections
    import importlib

    import torch

    import flopest
    import model_zoo
    from flopest import kinds

    d = derive(name)
    mod = importlib.import_module(model_zoo.MODELS[name].module_path)
    with torch.device("meta"):
        module, example, _, _ = mod.build("full")
    module.eval()
    fwd = flopest.count(module, *example)
    for p in module.parameters():
        p.requires_grad_(True)
    tr = flopest.count(module, *example, training=True)

    def per_op(c, phase):
        c.evaluate()
        t, rc = c.table, c._rc
        out = collections.Counter()
        for i in range(len(t)):
            if rc.active[i] and t.kind[i] not in kinds.MATMUL_KINDS and t.phase[i] == phase:
                out[t.ops[t.op[i]]] += int(rc.flops[i])
        return {k: v for k, v in out.items() if v}

    problems = []
    for label, got, want in (("params", fwd.params, d.params_total), ("matmul_flops", fwd.matmul_flops, d.matmul_flops),
                             ("flops", fwd.flops, d.flops), ("training_matmul_flops", tr.matmul_flops, d.training_matmul_flops),
                             ("training_flops", tr.flops, d.training_flops_analytic)):
        if got != want:
            problems.append(f"{name}: {label} flopest {got:,} vs analytic {want:,}")
    f_eval, f_train, bwd = per_op(fwd, kinds.FORWARD), per_op(tr, kinds.FORWARD), per_op(tr, kinds.BACKWARD)
    delta = {k: f_train.get(k, 0) - f_eval.get(k, 0) for k in set(f_eval) | set(f_train)}
    for section, rec in (("other", f_eval), ("train_forward", {k: v for k, v in delta.items() if v}), ("backward", bwd)):
        mine = d.by_op(section)
        for op in sorted(set(rec) | set(mine)):
            if rec.get(op, 0) != mine.get(op, 0):
                problems.append(f"{name}: {section} {op}: flopest {rec.get(op, 0):,} vs analytic {mine.get(op, 0):,}")
    return problems


def main(argv=None) -> int:
    import argparse

    p = argparse.ArgumentParser(prog="python -m model_zoo.expected", description=__doc__.split("\n\n")[0])
    p.add_argument("names", nargs="*", help="default: every model")
    p.add_argument("--verify", action="store_true", help="also compare with flopest operator by operator (needs torch)")
    p.add_argument("--check", action="store_true", help="only check that the expected.json files are up to date")
    a = p.parse_args(argv)
    names = a.names or list(DERIVATIONS)
    status = 0
    for name in names:
        d = derive(name)
        path = expected_path(name)
        readme = HERE / name / "README.md"
        wanted = {path: json.dumps(document(d), indent=2, ensure_ascii=False) + "\n",
                  readme: _with_readme_section(readme.read_text(), readme_section(d))}
        for target, text in wanted.items():
            if a.check:
                if target.read_text() != text if target.exists() else True:
                    print(f"{target}: out of date (python -m model_zoo.expected {name})")
                    status = 1
            elif not target.exists() or target.read_text() != text:
                tmp = target.with_name(target.name + ".tmp")
                tmp.write_text(text)
                tmp.replace(target)
                print(target)
        if a.verify:
            problems = verify(name)
            for line in problems:
                print("  " + line)
            status = status or (1 if problems else 0)
    return status


if __name__ == "__main__":
    sys.exit(main())
