"""Symbolic shape and value propagation over an ONNX graph.

flopest's own pass, run before lowering: each value gets a shape made of ints and symbolic
dims (:class:`flopest.dims.Sym`), and each small integer tensor (a shape being computed:
Shape → Gather → Concat → Reshape) gets its value, symbolic too. So a transformer exported
with dynamic ``batch`` and ``sequence`` keeps every intermediate shape as a polynomial of
those two names, and re-binding them needs no second pass over the graph.

Operators without a rule here take the shape onnx's own inference gave (when it is
expressed in the input dims); anything else stays unknown and the lowering reports it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from . import pb

from ...dims import Sym, broadcast_shapes, exact_div, free_names, opaque, prod, to_source
from ...ops import Ctx
from ...ops.conv import out_spatial
from ...ops.linalg import parse_einsum
from .load import node_attrs, read_constants, read_dim, tensor_values

INT_BIG = 2 ** 31 - 1
VALUE_LIMIT = 64   # integer tensors up to this many elements carry their (symbolic) value


def _norm_axis(a: int, r: int) -> int:
    return a + r if a < 0 else a


def broadcast(*shapes):
    """NumPy broadcast of the known shapes (see dims.broadcast_dim: two different symbols give
    a broadcast(...) atom, never the first one)."""
    return broadcast_shapes(*(s for s in shapes if s is not None))


def _ints(v):
    """Concrete ints of a value list, or None."""
    if v is None:
        return None
    out = []
    for x in v:
        if isinstance(x, (int, np.integer)):
            out.append(int(x))
        elif isinstance(x, float) and x.is_integer():
            out.append(int(x))
        else:
            return None
    return out


def _is_int_like(x) -> bool:
    return isinstance(x, (int, Sym)) and not isinstance(x, bool)


def _binop(op, a, b):
    if op == "Add":
        return a + b
    if op == "Sub":
        return a - b
    if op == "Mul":
        return a * b
    if op == "Div":
        if isinstance(a, float) or isinstance(b, float):
            return a / b if isinstance(a, (int, float)) and isinstance(b, (int, float)) and b else None
        return exact_div(a, b)
    if op == "Mod":
        if isinstance(a, int) and isinstance(b, int) and b:
            return a % b
        return None
    if op == "Max":
        return max(a, b) if isinstance(a, (int, float)) and isinstance(b, (int, float)) else None
    if op == "Min":
        return min(a, b) if isinstance(a, (int, float)) and isinstance(b, (int, float)) else None
    if op == "Equal":
        if isinstance(a, (int, float)) and isinstance(b, (int, float)):
            return int(a == b)
        if isinstance(a, Sym) and isinstance(b, Sym) and a == b:
            return 1
        if isinstance(a, Sym) and isinstance(b, int) and b in (-1, 0):
            return 0   # a symbolic size is never -1 or 0 in a shape computation
        if isinstance(b, Sym) and isinstance(a, int) and a in (-1, 0):
            return 0
        return None
    return None


class Propagator:
    def __init__(self, shapes: dict, values: dict, dtypes: dict, fallback: dict, fallback_ok):
        self.shapes = shapes      # name -> tuple | None
        self.values = values      # name -> list (flattened) | None
        self.dtypes = dtypes
        self.fallback = fallback  # name -> shape from onnx inference
        self.fallback_ok = fallback_ok

    def run(self, graph) -> None:
        for node in graph.node:
            self.node(node)

    def node(self, node) -> None:
        ins = [self.shapes.get(i) if i else None for i in node.input]
        vals = [self.values.get(i) if i else None for i in node.input]
        attrs = node_attrs(node)
        h = RULES.get(node.op_type) if node.domain in ("", "ai.onnx") else None
        outs = None
        if h is not None:
            try:
                outs = h(node, ins, vals, attrs, self)
            except (TypeError, ValueError, IndexError, KeyError, ZeroDivisionError, AttributeError,
                    OverflowError):
                outs = None
        for j, o in enumerate(node.output):
            if not o:
                continue
            shp, val = (None, None)
            if outs is not None and j < len(outs):
                shp, val = outs[j]
            if shp is None:
                fb = self.fallback.get(o)
                if fb is not None and self.fallback_ok(fb):
                    shp = fb
            self.shapes[o] = tuple(shp) if shp is not None else None
            if val is not None and len(val) <= VALUE_LIMIT:
                self.values[o] = list(val)


RULES: dict = {}


def rule(*names):
    def deco(fn):
        for n in names:
            RULES[n] = fn
        return fn
    return deco


# ------------------------------------------------------------------ same shape as input 0
_UNARY_VALUE = {"Identity": lambda x: x, "Neg": lambda x: -x if _is_int_like(x) or isinstance(x, float) else None,
                "Abs": lambda x: abs(x) if isinstance(x, (int, float)) else (x if isinstance(x, Sym) else None),
                "Cast": lambda x: x, "CastLike": lambda x: x,
                "Floor": lambda x: math.floor(x) if isinstance(x, float) else x,
                "Ceil": lambda x: math.ceil(x) if isinstance(x, float) else x,
                "Sqrt": lambda x: math.sqrt(x) if isinstance(x, (int, float)) and x >= 0 else None,
                "Not": lambda x: int(not x) if isinstance(x, int) else None}


@rule("Identity", "Neg", "Abs", "Cast", "CastLike", "Floor", "Ceil", "Sqrt", "Not", "Relu",
      "Sigmoid", "Tanh", "Exp", "Log", "Erf", "Reciprocal", "Sin", "Cos", "Tan", "Asin", "Acos",
      "Atan", "Sinh", "Cosh", "Asinh", "Acosh", "Atanh", "Round", "Sign", "LeakyRelu", "Elu",
      "Celu", "Selu", "ThresholdedRelu", "HardSigmoid", "HardSwish", "Softplus", "Softsign", "Mish",
      "Shrink", "Gelu", "IsNaN", "IsInf", "Softmax", "LogSoftmax", "Hardmax", "Clip", "CumSum",
      "Trilu", "LRN", "LpNormalization", "InstanceNormalization", "GroupNormalization",
      "BitwiseNot", "QuantizeLinear", "DequantizeLinear", "ReverseSequence", "Bernoulli",
      "RandomNormalLike", "RandomUniformLike", "EyeLike", "Dropout")
def same(node, ins, vals, attrs, p):
    f = _UNARY_VALUE.get(node.op_type)
    v = None
    if f is not None and vals[0] is not None:
        v = [f(x) for x in vals[0]]
        if any(x is None for x in v):
            v = None
    outs = [(ins[0], v)]
    if node.op_type == "Dropout" and len(node.output) > 1:
        outs.append((ins[0], None))
    return outs


@rule("Add", "Sub", "Mul", "Div", "Pow", "Mod", "Equal", "Less", "Greater", "LessOrEqual",
      "GreaterOrEqual", "And", "Or", "Xor", "BitShift", "BitwiseAnd", "BitwiseOr", "BitwiseXor",
      "PRelu", "Max", "Min", "Sum", "Mean")
def binary(node, ins, vals, attrs, p):
    if any(s is None for s in ins):
        return [(None, None)]
    shp = broadcast(*ins)
    v = None
    if len(ins) == 2 and vals[0] is not None and vals[1] is not None and node.op_type in (
            "Add", "Sub", "Mul", "Div", "Mod", "Max", "Min", "Equal"):
        a, b = vals
        n = max(len(a), len(b))
        if len(a) in (1, n) and len(b) in (1, n):
            v = [_binop(node.op_type, a[i if len(a) > 1 else 0], b[i if len(b) > 1 else 0]) for i in range(n)]
            if any(x is None for x in v):
                v = None
    return [(shp, v)]


@rule("Where")
def where(node, ins, vals, attrs, p):
    if any(s is None for s in ins):
        return [(None, None)]
    shp = broadcast(*ins)
    v = None
    c, a, b = vals
    if c is not None and a is not None and b is not None:
        n = max(len(c), len(a), len(b))
        if all(len(x) in (1, n) for x in (c, a, b)) and all(isinstance(x, int) for x in c):
            v = [(a[i if len(a) > 1 else 0] if c[i if len(c) > 1 else 0] else b[i if len(b) > 1 else 0])
                 for i in range(n)]
    return [(shp, v)]


# ------------------------------------------------------------------ shape tensors
@rule("Shape")
def shape(node, ins, vals, attrs, p):
    s = ins[0]
    if s is None:
        return [(None, None)]
    r = len(s)
    start = _norm_axis(int(attrs.get("start", 0)), r)
    end = attrs.get("end")
    end = r if end is None else _norm_axis(int(end), r)
    v = list(s[max(0, start):min(r, end)])
    return [((len(v),), v)]


@rule("Size")
def size(node, ins, vals, attrs, p):
    return [((), [prod(ins[0])] if ins[0] is not None else None)]


@rule("Constant")
def constant(node, ins, vals, attrs, p):
    for a in node.attribute:
        if a.name == "value":
            dims = tuple(int(d) for d in a.t.dims)
            return [(dims, tensor_values(a.t, VALUE_LIMIT))]
        if a.name in ("value_int", "value_float"):
            x = a.i if a.name == "value_int" else a.f
            return [((), [x])]
        if a.name in ("value_ints", "value_floats"):
            x = list(a.ints) if a.name == "value_ints" else list(a.floats)
            return [((len(x),), x)]
    return [(None, None)]


@rule("ConstantOfShape")
def constant_of_shape(node, ins, vals, attrs, p):
    sv = vals[0]
    if sv is None:
        if ins[0] is not None and ins[0] == (0,):
            return [((), None)]
        return [(None, None)]
    shp = tuple(sv)
    val = attrs.get("value")
    fill = [0] if val is None else tensor_values(val, 1)   # unreadable (external, no data): unknown
    n = prod(shp)
    v = [fill[0]] * n if fill and isinstance(n, int) and n <= VALUE_LIMIT else None
    return [(shp, v)]


@rule("Gather")
def gather(node, ins, vals, attrs, p):
    d, idx = ins
    if d is None or idx is None:
        return [(None, None)]
    ax = _norm_axis(int(attrs.get("axis", 0)), len(d))
    shp = tuple(d[:ax]) + tuple(idx) + tuple(d[ax + 1:])
    v = None
    if vals[0] is not None and vals[1] is not None and len(d) == 1:
        iv = _ints(vals[1])
        if iv is not None:
            n = len(vals[0])
            v = [vals[0][i + n if i < 0 else i] for i in iv]
    return [(shp, v)]


@rule("Unsqueeze")
def unsqueeze(node, ins, vals, attrs, p):
    s = ins[0]
    axes = attrs.get("axes") if "axes" in attrs else _ints(vals[1]) if len(vals) > 1 else None
    if s is None or axes is None:
        return [(None, None)]
    r = len(s) + len(axes)
    axes = sorted(_norm_axis(a, r) for a in axes)
    out = list(s)
    for a in axes:
        out.insert(a, 1)
    return [(tuple(out), vals[0])]


@rule("Squeeze")
def squeeze(node, ins, vals, attrs, p):
    s = ins[0]
    if s is None:
        return [(None, None)]
    axes = attrs.get("axes") if "axes" in attrs else (_ints(vals[1]) if len(vals) > 1 and node.input[1] else None)
    if axes is None:
        if len(node.input) > 1 and node.input[1]:
            return [(None, None)]
        out = [d for d in s if not (isinstance(d, int) and d == 1)]
    else:
        ax = {_norm_axis(a, len(s)) for a in axes}
        out = [d for i, d in enumerate(s) if i not in ax]
    return [(tuple(out), vals[0])]


@rule("Concat")
def concat(node, ins, vals, attrs, p):
    if any(s is None for s in ins):
        return [(None, None)]
    r = len(ins[0])
    ax = _norm_axis(int(attrs.get("axis", 0)), r)
    out = list(ins[0])
    out[ax] = sum((s[ax] for s in ins[1:]), ins[0][ax])
    v = None
    if r == 1 and all(x is not None for x in vals):
        v = [x for xs in vals for x in xs]
    return [(tuple(out), v)]


def _slice_len(d, start, end, step):
    """Length of d[start:end:step] with ONNX clamping; start/end are ints or Syms."""
    if isinstance(d, int) and isinstance(start, int) and isinstance(end, int):
        return len(range(*slice(start, end, step).indices(d)))
    # symbolic: handle the usual forms
    def norm(x, default_end):
        if isinstance(x, int):
            if x >= INT_BIG // 2:
                return d if step > 0 else -1
            if x <= -INT_BIG // 2:
                return 0 if step > 0 else -1
            if x < 0:
                return d + x
            return x
        return x
    s = norm(start, False)
    e = norm(end, True)
    if step == 1:
        if isinstance(d, int) and not isinstance(e, int):   # ONNX clamps the end to the axis: a
            e = opaque(f"min({to_source(e)}, {d})", e)      # table[:seq] of 64 rows is 64 at seq = 100
        return e - s
    if step == -1 and isinstance(s, (int, Sym)) and isinstance(e, (int, Sym)):
        return s - e
    return opaque(f"max(0, (({to_source(e)}) - ({to_source(s)}) + {step - 1}) // {step})", e, s)


@rule("Slice")
def slice_(node, ins, vals, attrs, p):
    s = ins[0]
    if s is None:
        return [(None, None)]
    if "starts" in attrs:   # opset < 10
        starts, ends = attrs["starts"], attrs["ends"]
        axes = attrs.get("axes", list(range(len(starts))))
        steps = [1] * len(starts)
    else:
        starts, ends = vals[1], vals[2]
        axes = _ints(vals[3]) if len(vals) > 3 and node.input[3] else None
        steps = _ints(vals[4]) if len(vals) > 4 and node.input[4] else None
        if starts is None or ends is None or (len(vals) > 3 and node.input[3] and axes is None) or \
                (len(vals) > 4 and node.input[4] and steps is None):
            return [(None, None)]
        axes = axes if axes is not None else list(range(len(starts)))
        steps = steps if steps is not None else [1] * len(starts)
    out = list(s)
    for st, en, ax, sp in zip(starts, ends, axes, steps):
        ax = _norm_axis(int(ax), len(s))
        out[ax] = _slice_len(s[ax], st, en, int(sp))
    v = None
    if vals[0] is not None and len(s) == 1:
        st, en, sp = starts[0], ends[0], steps[0]
        if isinstance(st, int) and isinstance(en, int):
            v = vals[0][slice(st, min(en, INT_BIG), sp)]
    return [(tuple(out), v)]


@rule("Reshape")
def reshape(node, ins, vals, attrs, p):
    s, target = ins[0], vals[1]
    if target is None:
        return [(None, None)]
    allowzero = int(attrs.get("allowzero", 0))
    out = []
    neg = -1
    for i, t in enumerate(target):
        if isinstance(t, int) and t == 0 and not allowzero:
            if s is None:
                return [(None, None)]
            out.append(s[i])
        elif isinstance(t, int) and t == -1:
            neg = i
            out.append(None)
        else:
            out.append(t)
    if neg >= 0:
        if s is None:
            return [(None, None)]
        out[neg] = exact_div(prod(s), prod(d for d in out if d is not None))
    return [(tuple(out), vals[0])]


@rule("Flatten")
def flatten(node, ins, vals, attrs, p):
    s = ins[0]
    if s is None:
        return [(None, None)]
    ax = _norm_axis(int(attrs.get("axis", 1)), len(s))
    return [((prod(s[:ax]), prod(s[ax:])), vals[0])]


@rule("Transpose")
def transpose(node, ins, vals, attrs, p):
    s = ins[0]
    if s is None:
        return [(None, None)]
    perm = attrs.get("perm") or list(reversed(range(len(s))))
    return [(tuple(s[i] for i in perm), None)]


@rule("Expand")
def expand(node, ins, vals, attrs, p):
    if ins[0] is None or vals[1] is None:
        return [(None, None)]
    shp = broadcast(ins[0], tuple(vals[1]))
    v = None
    if vals[0] is not None and len(vals[0]) == 1 and len(shp) == 1 and isinstance(shp[0], int) \
            and 0 <= shp[0] <= VALUE_LIMIT:
        v = vals[0] * shp[0]
    return [(shp, v)]


@rule("Tile")
def tile(node, ins, vals, attrs, p):
    if ins[0] is None or vals[1] is None:
        return [(None, None)]
    return [(tuple(d * r for d, r in zip(ins[0], vals[1])), None)]


@rule("Pad")
def pad(node, ins, vals, attrs, p):
    s = ins[0]
    pads = attrs.get("pads") if "pads" in attrs else vals[1] if len(vals) > 1 else None
    if s is None or pads is None:
        return [(None, None)]
    r = len(s)
    axes = _ints(vals[3]) if len(vals) > 3 and node.input[3] else list(range(r))
    if axes is None:
        return [(None, None)]
    out = list(s)
    k = len(axes)
    for j, ax in enumerate(axes):
        ax = _norm_axis(ax, r)
        out[ax] = out[ax] + pads[j] + pads[j + k]
    return [(tuple(out), None)]


@rule("Range")
def range_(node, ins, vals, attrs, p):
    a, b, c = vals
    if a is None or b is None or c is None:
        return [(None, None)]
    start, limit, delta = a[0], b[0], c[0]
    if all(isinstance(x, (int, float)) for x in (start, limit, delta)):
        n = max(0, math.ceil((limit - start) / delta))
        v = None
        if n <= VALUE_LIMIT and all(isinstance(x, int) for x in (start, delta)):
            v = list(range(start, limit, delta))
        return [((n,), v)]
    if delta == 1:
        return [((limit - start,), None)]
    return [((opaque(f"max(0, ceiling((({to_source(limit)}) - ({to_source(start)})) / {delta}))", limit, start),), None)]


@rule("Split")
def split(node, ins, vals, attrs, p):
    s = ins[0]
    if s is None:
        return [(None, None)] * len(node.output)
    ax = _norm_axis(int(attrs.get("axis", 0)), len(s))
    sizes = attrs.get("split") if "split" in attrs else (vals[1] if len(vals) > 1 and node.input[1] else None)
    n = len(node.output)
    if sizes is None:
        d = s[ax]
        k = int(attrs.get("num_outputs", n))
        if k <= 0:
            return [(None, None)] * n
        if isinstance(d, int):
            chunk = -(-d // k)
            sizes = [min(chunk, d - i * chunk) for i in range(min(k, n))]   # k is an attribute: bounded by the outputs
        else:
            sizes = [exact_div(d, k)] * min(k, n)
    outs = []
    for sz in sizes[:n]:
        o = list(s)
        o[ax] = sz
        outs.append((tuple(o), None))
    return outs


# ------------------------------------------------------------------ compute
@rule("MatMul", "MatMulInteger")
def matmul(node, ins, vals, attrs, p):
    a, b = ins
    if a is None or b is None:
        return [(None, None)]
    a2 = (1,) + tuple(a) if len(a) == 1 else tuple(a)
    b2 = tuple(b) + (1,) if len(b) == 1 else tuple(b)
    batch = broadcast(a2[:-2], b2[:-2]) if (len(a2) > 2 or len(b2) > 2) else ()
    out = tuple(batch) + ((a2[-2],) if len(a) > 1 else ()) + ((b2[-1],) if len(b) > 1 else ())
    return [(out, None)]


@rule("Gemm")
def gemm(node, ins, vals, attrs, p):
    a, b = ins[0], ins[1]
    if a is None or b is None:
        return [(None, None)]
    m = a[1] if attrs.get("transA", 0) else a[0]
    n = b[0] if attrs.get("transB", 0) else b[1]
    return [((m, n), None)]


@rule("Einsum")
def einsum(node, ins, vals, attrs, p):
    if any(s is None for s in ins):
        return [(None, None)]
    ops, out, size = parse_einsum(attrs.get("equation", ""), ins)
    return [(tuple(size[ch] for ch in out), None)]


def _conv_like(node, ins, attrs, transposed, kernel):
    x = ins[0]
    c = Ctx(op=node.op_type, inputs=ins, outputs=[None], attrs=attrs)
    w = ins[1] if len(ins) > 1 and ins[1] is not None else (None, None) + tuple(kernel)
    return out_spatial(c, x, w, transposed)


@rule("Conv", "ConvInteger")
def conv(node, ins, vals, attrs, p):
    x, w = ins[0], ins[1]
    if x is None or w is None:
        return [(None, None)]
    return [((x[0], w[0]) + _conv_like(node, ins, attrs, False, w[2:]), None)]


@rule("ConvTranspose")
def conv_t(node, ins, vals, attrs, p):
    x, w = ins[0], ins[1]
    if x is None or w is None:
        return [(None, None)]
    g = int(attrs.get("group", 1))
    return [((x[0], w[1] * g) + _conv_like(node, ins, attrs, True, w[2:]), None)]


@rule("MaxPool", "AveragePool", "LpPool")
def pool(node, ins, vals, attrs, p):
    x = ins[0]
    if x is None:
        return [(None, None)]
    ks = attrs.get("kernel_shape")
    sp = _conv_like(node, [x, None], attrs, False, ks)
    if attrs.get("ceil_mode", 0):
        r = len(ks)
        st = attrs.get("strides") or [1] * r
        dl = attrs.get("dilations") or [1] * r
        pads = attrs.get("pads") or [0] * (2 * r)
        sp = []
        for i in range(r):
            d = x[2 + i]
            o = (d + pads[i] + pads[i + r] - dl[i] * (ks[i] - 1) - 1 + st[i] - 1) // st[i] + 1
            last = (d + pads[i] - 1) // st[i] + 1   # a window starting in the end padding is dropped
            sp.append(min(o, last) if isinstance(o, int) and isinstance(last, int) else
                      opaque(f"min({to_source(o)}, {to_source(last)})", o, last))
        sp = tuple(sp)
    out = (x[0], x[1]) + tuple(sp)
    return [(out, None)] * len(node.output)


@rule("GlobalAveragePool", "GlobalMaxPool", "GlobalLpPool")
def global_pool(node, ins, vals, attrs, p):
    x = ins[0]
    if x is None:
        return [(None, None)]
    return [((x[0], x[1]) + (1,) * (len(x) - 2), None)]


@rule("ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2",
      "ReduceSumSquare", "ReduceLogSum", "ReduceLogSumExp", "ArgMax", "ArgMin")
def reduce(node, ins, vals, attrs, p):
    x = ins[0]
    if x is None:
        return [(None, None)]
    keep = int(attrs.get("keepdims", 1))
    if node.op_type in ("ArgMax", "ArgMin"):
        axes = [int(attrs.get("axis", 0))]
    elif "axes" in attrs:
        axes = attrs["axes"]
    elif len(node.input) > 1 and node.input[1]:
        axes = _ints(vals[1])
        if axes is None:
            return [(None, None)]
    else:
        axes = [] if attrs.get("noop_with_empty_axes", 0) else list(range(len(x)))
    ax = {_norm_axis(a, len(x)) for a in axes}
    out = [(1 if i in ax else d) for i, d in enumerate(x) if keep or i not in ax]
    v = None
    if node.op_type == "ReduceProd" and vals[0] is not None and not keep:
        v = [prod(vals[0])]
    return [(tuple(out), v)]


@rule("TopK")
def topk(node, ins, vals, attrs, p):
    x = ins[0]
    k = vals[1]
    if x is None or k is None:
        return [(None, None), (None, None)]
    ax = _norm_axis(int(attrs.get("axis", -1)), len(x))
    out = list(x)
    out[ax] = k[0]
    return [(tuple(out), None), (tuple(out), None)]


@rule("LayerNormalization", "RMSNormalization")
def layer_norm(node, ins, vals, attrs, p):
    x = ins[0]
    if x is None:
        return [(None, None)] * 3
    ax = _norm_axis(int(attrs.get("axis", -1)), len(x))
    stat = tuple(x[:ax]) + (1,) * (len(x) - ax)
    return [(x, None), (stat, None), (stat, None)]


@rule("BatchNormalization")
def batch_norm(node, ins, vals, attrs, p):
    x = ins[0]
    outs = [(x, None)]
    for _ in node.output[1:]:
        outs.append(((x[1],) if x is not None else None, None))
    return outs


@rule("GatherElements")
def gather_elements(node, ins, vals, attrs, p):
    return [(ins[1], None)]


@rule("GatherND")
def gather_nd(node, ins, vals, attrs, p):
    d, idx = ins
    if d is None or idx is None or not isinstance(idx[-1], int):
        return [(None, None)]
    b = int(attrs.get("batch_dims", 0))
    return [(tuple(idx[:-1]) + tuple(d[b + idx[-1]:]), None)]


@rule("ScatterND", "ScatterElements", "Scatter")
def scatter(node, ins, vals, attrs, p):
    return [(ins[0], None)]


@rule("Resize", "Upsample")
def resize(node, ins, vals, attrs, p):
    x = ins[0]
    if x is None:
        return [(None, None)]
    if node.op_type == "Upsample":
        scales = vals[1] if len(vals) > 1 else attrs.get("scales")
        sizes = None
    else:
        scales = vals[2] if len(vals) > 2 and node.input[2] else None
        sizes = vals[3] if len(vals) > 3 and node.input[3] else None
    if sizes is not None and len(sizes) == len(x):
        return [(tuple(sizes), None)]
    if scales is not None and len(scales) == len(x):
        out = []
        for d, s in zip(x, scales):
            if float(s) == 1.0:
                out.append(d)
            elif isinstance(d, int):
                out.append(int(math.floor(d * float(s))))
            elif float(s).is_integer():
                out.append(d * int(s))
            else:
                return [(None, None)]
        return [(tuple(out), None)]
    return [(None, None)]


@rule("DepthToSpace")
def depth_to_space(node, ins, vals, attrs, p):
    x = ins[0]
    b = int(attrs["blocksize"])
    return [((x[0], exact_div(x[1], b * b), x[2] * b, x[3] * b), None)]


@rule("SpaceToDepth")
def space_to_depth(node, ins, vals, attrs, p):
    x = ins[0]
    b = int(attrs["blocksize"])
    return [((x[0], x[1] * b * b, exact_div(x[2], b), exact_div(x[3], b)), None)]


@rule("LSTM", "GRU", "RNN")
def rnn(node, ins, vals, attrs, p):
    x, w = ins[0], ins[1]
    if x is None or w is None:
        return [(None, None)] * len(node.output)
    hid = attrs.get("hidden_size")
    layout = int(attrs.get("layout", 0))
    seq, batch = (x[1], x[0]) if layout else (x[0], x[1])
    dirs = w[0]
    y = (batch, seq, dirs, hid) if layout else (seq, dirs, batch, hid)
    h = (batch, dirs, hid) if layout else (dirs, batch, hid)
    return [(y, None), (h, None), (h, None)]


@rule("OneHot")
def one_hot(node, ins, vals, attrs, p):
    idx, depth = ins[0], vals[1]
    if idx is None or depth is None:
        return [(None, None)]
    ax = int(attrs.get("axis", -1))
    out = list(idx)
    d = depth[0]
    d = int(d) if isinstance(d, float) else d
    out.insert(ax + len(out) + 1 if ax < 0 else ax, d)
    return [(tuple(out), None)]


@rule("Attention")
def attention(node, ins, vals, attrs, p):
    q, v = ins[0], ins[2] if len(ins) > 2 else None
    if q is None or v is None:
        return [(None, None)]
    if len(q) == 4:
        return [((q[0], q[1], q[2], v[3]), None)]
    hkv = attrs.get("kv_num_heads")
    hq = attrs.get("q_num_heads")
    if not hq or not hkv:
        return [(None, None)]
    return [((q[0], q[1], exact_div(v[2], hkv) * hq), None)]


# ------------------------------------------------------------------ the pass over a graph
@dataclass
class ShapeInfo:
    shapes: dict = field(default_factory=dict)   # name -> tuple of Dim, or None
    dtypes: dict = field(default_factory=dict)   # name -> onnx elem type
    unknown_dims: bool = False



def collect(graph, info: ShapeInfo, cache: dict) -> None:
    for vi in list(graph.input) + list(graph.output) + list(graph.value_info):
        t = vi.type
        if not t.HasField("tensor_type"):
            continue
        tt = t.tensor_type
        info.dtypes[vi.name] = tt.elem_type
        if not tt.HasField("shape"):
            info.shapes.setdefault(vi.name, None)
            continue
        dims = tuple(read_dim(d, cache) for d in tt.shape.dim)
        if any(d is None for d in dims):
            info.unknown_dims = True
            info.shapes.setdefault(vi.name, None)
        else:
            info.shapes[vi.name] = dims
    for t in graph.initializer:
        info.shapes[t.name] = tuple(int(d) for d in t.dims)
        info.dtypes[t.name] = t.data_type
    for node in graph.node:
        for a in node.attribute:
            if a.type == pb.AttributeProto.GRAPH:
                collect(a.g, info, cache)
            elif a.type == pb.AttributeProto.GRAPHS:
                for g in a.graphs:
                    collect(g, info, cache)



def propagate(m: pb.ModelProto, onnx_info: ShapeInfo, names: list) -> ShapeInfo:
    allowed = set(names)

    def ok(shape):
        return all(isinstance(d, int) or free_names(d) <= allowed for d in shape)

    info = ShapeInfo()
    info.dtypes = dict(onnx_info.dtypes)
    shapes, values = info.shapes, {}
    cache: dict = {}
    consts: dict = {}
    read_constants(m.graph, consts)

    def seed(graph):
        for vi in graph.input:
            if vi.type.HasField("tensor_type") and vi.type.tensor_type.HasField("shape"):
                dims = tuple(read_dim(d, cache) for d in vi.type.tensor_type.shape.dim)
                shapes[vi.name] = None if any(d is None for d in dims) else dims
                info.dtypes[vi.name] = vi.type.tensor_type.elem_type
            elif vi.name in onnx_info.shapes:
                shapes[vi.name] = onnx_info.shapes[vi.name]
        for t in graph.initializer:
            shapes[t.name] = tuple(int(d) for d in t.dims)
            info.dtypes[t.name] = t.data_type
            c = consts.get(t.name)
            if c is not None and c.size <= VALUE_LIMIT and c.dtype.kind in "iubf":
                values[t.name] = [int(x) if c.dtype.kind in "iub" else float(x) for x in c.reshape(-1).tolist()]

    prop = Propagator(shapes, values, info.dtypes, onnx_info.shapes, ok)

    def run(graph):
        seed(graph)
        for node in graph.node:
            for a in node.attribute:
                if a.type == pb.AttributeProto.GRAPH:
                    run(a.g)
            prop.node(node)
            if node.op_type == "If" and node.output:
                then = next((a.g for a in node.attribute if a.name == "then_branch"), None)
                if then is not None:
                    for o, so in zip(node.output, then.output):
                        if shapes.get(o) is None and shapes.get(so.name) is not None:
                            shapes[o] = shapes[so.name]

    run(m.graph)
    info.values = values
    return info
