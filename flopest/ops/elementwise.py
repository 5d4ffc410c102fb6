"""Elementwise operators: FLOPs = output elements × a per-element constant; also softmax,
reductions and the pointwise losses. Each ONNX op type carries its aten aliases
(``ATEN_ALIASES``, in-place ``_`` forms included); aten operators with no ONNX op type are
registered under their aten name with their constant in ``ATEN_FLOPS_PER_ELEMENT`` /
``ATEN_REDUCE_FLOPS``.

Convention: each arithmetic operation, comparison, and elementary function (exp, log, tanh,
erf, sqrt, sin, ...) counts 1 FLOP; a composite activation counts its decomposition.
Bytes: every input read + the output written (broadcast inputs read once).
"""

from __future__ import annotations

import math

from .. import kinds
from ..dims import prod
from . import Ctx, ShapeUnknown, lowering, rebind

# op -> (FLOPs per output element, why)
FLOPS_PER_ELEMENT = {
    "Add": (1, "a + b"), "Sub": (1, "a - b"), "Mul": (1, "a · b"), "Div": (1, "a / b"),
    "Pow": (1, "a ** b as one function"), "Mod": (1, "a mod b"),
    "Neg": (1, "-x"), "Abs": (1, "|x|"), "Reciprocal": (1, "1 / x"), "Sqrt": (1, "sqrt"),
    "Exp": (1, "exp"), "Log": (1, "log"), "Erf": (1, "erf"), "Tanh": (1, "tanh"),
    "Sin": (1, "sin"), "Cos": (1, "cos"), "Tan": (1, "tan"), "Asin": (1, "asin"),
    "Acos": (1, "acos"), "Atan": (1, "atan"), "Sinh": (1, "sinh"), "Cosh": (1, "cosh"),
    "Asinh": (1, "asinh"), "Acosh": (1, "acosh"), "Atanh": (1, "atanh"),
    "Floor": (1, "floor"), "Ceil": (1, "ceil"), "Round": (1, "round"), "Sign": (1, "sign"),
    "Relu": (1, "max(x, 0)"), "Sigmoid": (4, "1 / (1 + exp(-x)): neg, exp, add, div"),
    "LeakyRelu": (2, "compare, multiply"), "PRelu": (2, "compare, multiply"),
    "Elu": (3, "compare, exp, subtract·alpha"), "Celu": (4, "compare, div, exp, mul"),
    "Selu": (4, "compare, exp, subtract, two scales"),
    "ThresholdedRelu": (1, "compare"), "Clip": (2, "min, max"),
    "HardSigmoid": (4, "alpha·x + beta, min, max"), "HardSwish": (5, "x · hardsigmoid(x)"),
    "Softplus": (3, "log(1 + exp(x))"), "Softsign": (3, "x / (1 + |x|)"),
    "Mish": (5, "x · tanh(softplus(x))"), "Shrink": (2, "compare, add"),
    "Gelu": (5, "x·0.5·(1 + erf(x/√2)): div, erf, add, two mul; tanh form: 9"),
    "BiasGelu": (6, "bias add + gelu"), "FastGelu": (9, "tanh approximation"),
    "Equal": (1, "compare"), "Less": (1, "compare"), "Greater": (1, "compare"),
    "LessOrEqual": (1, "compare"), "GreaterOrEqual": (1, "compare"), "Not": (1, "logical"),
    "And": (1, "logical"), "Or": (1, "logical"), "Xor": (1, "logical"),
    "BitwiseAnd": (1, "bitwise"), "BitwiseOr": (1, "bitwise"), "BitwiseXor": (1, "bitwise"),
    "BitwiseNot": (1, "bitwise"), "BitShift": (1, "shift"),
    "IsNaN": (1, "compare"), "IsInf": (1, "compare"), "Where": (1, "select"),
    "Cast": (0, "conversion, no arithmetic (bytes only)"), "CastLike": (0, "conversion"),
    "CumSum": (1, "running add"), "CumProd": (1, "running multiply"),
    "Swish": (5, "x·sigmoid(alpha·x): sigmoid 4 + mul, as aten.silu; + 1 for alpha != 1"),
    "SwiGLU": (6, "swish(a)·b: swish 5 + mul; + 1 for alpha != 1"), "QuickGelu": (5, "x · sigmoid(1.702x)"),
    "Dropout": (2, "training mode: mask compare and scale (inference mode is free)"),
}

# aten operators with no ONNX op type of their own: (FLOPs per output element, why)
ATEN_FLOPS_PER_ELEMENT = {
    "aten.silu": (5, "x·sigmoid(x): sigmoid 4 + mul"),
    "aten.rsqrt": (1, "1/√x as one function (as the rsqrt of NORM_FLOPS_PER_GROUP)"),
    "aten.ne": (1, "compare"),
    "aten.clamp_min": (1, "max(x, lo)"), "aten.clamp_max": (1, "min(x, hi)"),
    "aten.threshold": (1, "x > t ? x : v, a compare-select like Relu"),
    "aten.log1p": (1, "log1p"), "aten.expm1": (1, "expm1"), "aten.log2": (1, "log2"),
    "aten.log10": (1, "log10"), "aten.exp2": (1, "exp2"), "aten.trunc": (1, "trunc"),
    "aten.frac": (2, "x − trunc(x)"), "aten.erfc": (1, "erfc"), "aten.erfinv": (1, "erfinv"),
    "aten.floor_divide": (2, "div, floor"), "aten.atan2": (1, "atan2"),
    "aten.square": (1, "x·x"), "aten.logit": (3, "log(x / (1 − x)): sub, div, log"),
    "aten.lerp": (3, "a + w·(b − a): sub, mul, add"),
    "aten.addcmul": (3, "x + v·t1·t2: two mul, add"), "aten.addcdiv": (3, "x + v·t1/t2: div, mul, add"),
    "aten.log_sigmoid_forward": (5, "−softplus(−x): neg, exp, add, log, neg"),
    "aten.nan_to_num": (3, "isnan, isinf, select"),
    "aten.xlogy": (3, "x == 0 ? 0 : x·log(y): compare, log, mul"),
    "aten.glu": (5, "a·sigmoid(b) over the two halves: sigmoid 4 + mul, per output element"),
}

# ONNX op type -> its aten aliases (in-place `_` forms dispatch under their own names)
ATEN_ALIASES = {
    "Add": ("aten.add", "aten.add_"), "Sub": ("aten.sub", "aten.sub_", "aten.rsub"),
    "Mul": ("aten.mul", "aten.mul_"), "Div": ("aten.div", "aten.div_"), "Pow": ("aten.pow", "aten.pow_"),
    "Mod": ("aten.remainder", "aten.remainder_", "aten.fmod", "aten.fmod_"),
    "Neg": ("aten.neg", "aten.neg_"), "Abs": ("aten.abs", "aten.abs_"),
    "Reciprocal": ("aten.reciprocal", "aten.reciprocal_"), "Sqrt": ("aten.sqrt", "aten.sqrt_"),
    "Exp": ("aten.exp", "aten.exp_"), "Log": ("aten.log", "aten.log_"), "Erf": ("aten.erf", "aten.erf_"),
    "Tanh": ("aten.tanh", "aten.tanh_"), "Sin": ("aten.sin", "aten.sin_"), "Cos": ("aten.cos", "aten.cos_"),
    "Tan": ("aten.tan",), "Asin": ("aten.asin",), "Acos": ("aten.acos",), "Atan": ("aten.atan",),
    "Sinh": ("aten.sinh",), "Cosh": ("aten.cosh",), "Asinh": ("aten.asinh",), "Acosh": ("aten.acosh",),
    "Atanh": ("aten.atanh",), "Floor": ("aten.floor", "aten.floor_"), "Ceil": ("aten.ceil", "aten.ceil_"),
    "Round": ("aten.round", "aten.round_"), "Sign": ("aten.sign", "aten.sgn"),
    "Relu": ("aten.relu", "aten.relu_"), "Sigmoid": ("aten.sigmoid", "aten.sigmoid_"),
    "LeakyRelu": ("aten.leaky_relu", "aten.leaky_relu_"), "PRelu": ("aten._prelu_kernel", "aten.prelu"),
    "Elu": ("aten.elu", "aten.elu_"), "Celu": ("aten.celu", "aten.celu_"), "Selu": ("aten.selu", "aten.selu_"),
    "Clip": ("aten.clamp", "aten.clamp_", "aten.clip", "aten.hardtanh", "aten.hardtanh_"),
    "HardSigmoid": ("aten.hardsigmoid", "aten.hardsigmoid_"),
    "HardSwish": ("aten.hardswish", "aten.hardswish_"), "Softplus": ("aten.softplus",),
    "Mish": ("aten.mish", "aten.mish_"), "Shrink": ("aten.hardshrink", "aten.softshrink"),
    "Equal": ("aten.eq", "aten.eq_"), "Less": ("aten.lt", "aten.lt_"), "Greater": ("aten.gt", "aten.gt_"),
    "LessOrEqual": ("aten.le", "aten.le_"), "GreaterOrEqual": ("aten.ge", "aten.ge_"),
    "Not": ("aten.logical_not", "aten.logical_not_"), "And": ("aten.logical_and", "aten.logical_and_"),
    "Or": ("aten.logical_or", "aten.logical_or_"), "Xor": ("aten.logical_xor",),
    "BitwiseAnd": ("aten.bitwise_and", "aten.bitwise_and_"), "BitwiseOr": ("aten.bitwise_or", "aten.bitwise_or_"),
    "BitwiseXor": ("aten.bitwise_xor",), "BitwiseNot": ("aten.bitwise_not", "aten.bitwise_not_"),
    "BitShift": ("aten.bitwise_left_shift", "aten.bitwise_right_shift"),
    "IsNaN": ("aten.isnan",), "IsInf": ("aten.isinf",),
    "Where": ("aten.where", "aten.masked_fill", "aten.masked_fill_"),
    "Cast": ("aten._to_copy",), "CumSum": ("aten.cumsum", "aten.cumsum_"),
    "CumProd": ("aten.cumprod",),
    "Gelu": ("aten.gelu", "aten.gelu_"),
    "Max": ("aten.maximum", "aten.fmax"), "Min": ("aten.minimum", "aten.fmin"),
    "aten.silu": ("aten.silu_",), "aten.rsqrt": ("aten.rsqrt_",), "aten.ne": ("aten.ne_",),
    "aten.clamp_min": ("aten.clamp_min_",), "aten.clamp_max": ("aten.clamp_max_",),
    "aten.threshold": ("aten.threshold_",), "aten.lerp": ("aten.lerp_",),
    "aten.addcmul": ("aten.addcmul_",), "aten.addcdiv": ("aten.addcdiv_",),
}


def _aten_gelu(c: Ctx) -> Ctx:
    """aten.gelu(x, *, approximate="none" | "tanh") -> Gelu with `approximate`."""
    return rebind(c, [c.arg(0)], approximate=c.arg(1, "approximate", "none"))


def _aten_add(c: Ctx) -> Ctx:
    """aten.add / sub (x, y, *, alpha): alpha != 1 scales y first (+1 FLOP per element)."""
    alpha = c.arg(2, "alpha", 1)
    return rebind(c, c.inputs, alpha=alpha) if alpha != 1 else c


# aliases whose aten arguments need reading (the rest: tensor arguments in order = inputs)
_ADAPTERS = {"aten.gelu": _aten_gelu, "aten.gelu_": _aten_gelu, "aten.add": _aten_add,
             "aten.add_": _aten_add, "aten.sub": _aten_add, "aten.sub_": _aten_add, "aten.rsub": _aten_add}

# n-ary: (n - 1) per element for Max/Min/Sum, + 1 divide for Mean
_NARY = {"Max": 0, "Min": 0, "Sum": 0, "Mean": 1}


def _aliases(op: str) -> tuple:
    return tuple((a, _ADAPTERS[a]) if a in _ADAPTERS else a for a in ATEN_ALIASES.get(op, ()))


def _elementwise(c: Ctx):
    per = (FLOPS_PER_ELEMENT.get(c.op) or ATEN_FLOPS_PER_ELEMENT[c.op])[0]
    if c.op == "Gelu" and c.attr("approximate", "none") in ("tanh", b"tanh"):
        per = 9
    if c.op in ("Add", "Sub") and c.attr("alpha", 1) != 1:
        per += 1   # aten's alpha·y
    if c.op in ("Swish", "SwiGLU") and c.attr("alpha", 1.0) != 1.0:
        per += 1   # alpha·x before the sigmoid
    return [(kinds.ELEMENTWISE, [c.numel_out(), per, c.all_in_numel()])]


for _op in list(FLOPS_PER_ELEMENT) + list(ATEN_FLOPS_PER_ELEMENT):
    if _op != "Dropout":
        lowering(_op, aten=_aliases(_op))(_elementwise)


def nary(c: Ctx):
    """(inputs − 1) FLOPs per output element (+1 for Mean's divide)."""
    n = sum(1 for s in c.inputs if s is not None)
    return [(kinds.ELEMENTWISE, [c.numel_out(), max(n - 1, 0) + _NARY[c.op], c.all_in_numel()])]


for _op in _NARY:
    lowering(_op, aten=_aliases(_op))(nary)


@lowering("Dropout")
def dropout(c: Ctx):
    """Inference (no training_mode input, or a constant false one): identity, free.
    Training: 2 FLOPs per element (mask compare, scale)."""
    tm = c.const(2)
    if not c.has(2) or (tm is not None and not bool(tm.reshape(-1)[0])):
        return [(kinds.FREE, [])]
    return [(kinds.ELEMENTWISE, [c.numel_in(0), 2, c.numel_in(0)])]


# aten._safe_softmax (SDPA's math path) also zeroes rows that are fully masked: NB not counted
@lowering("Softmax", aten=("aten._softmax", "aten._safe_softmax", "aten.softmax"))
def softmax(c: Ctx):
    """5 FLOPs per element: max-compare, subtract, exp, sum, divide."""
    return [(kinds.SOFTMAX, [c.numel_in(0)])]


@lowering("LogSoftmax", aten=("aten._log_softmax", "aten.log_softmax"))
def log_softmax(c: Ctx):
    """Softmax's 5 per element + 1 log."""
    n = c.numel_in(0)
    return [(kinds.SOFTMAX, [n]), (kinds.ELEMENTWISE, [n, 1, 0])]


@lowering("Hardmax")
def hardmax(c: Ctx):
    """One compare per element."""
    n = c.numel_in(0)
    return [(kinds.REDUCE, [n, n, 1])]


# reductions: (FLOPs per input element, FLOPs per output element)
REDUCE_FLOPS = {
    "ReduceSum": (1, 0), "ReduceMean": (1, 1), "ReduceMax": (1, 0), "ReduceMin": (1, 0),
    "ReduceProd": (1, 0), "ReduceL1": (2, 0), "ReduceL2": (2, 1), "ReduceSumSquare": (2, 0),
    "ReduceLogSum": (1, 1), "ReduceLogSumExp": (2, 1), "ArgMax": (1, 0), "ArgMin": (1, 0),
    "TopK": (1, 0),
}


# aten reductions with no ONNX op type: (FLOPs per input element, per output element, why)
ATEN_REDUCE_FLOPS = {
    "aten.all": (1, 0, "logical and"), "aten.any": (1, 0, "logical or"),
    "aten.count_nonzero": (2, 0, "compare, add"), "aten.aminmax": (2, 0, "two compares"),
    "aten.var": (4, 2, "two passes: sum (1); sub, square, add (3); per output the mean and "
                       "variance divides (2)"),
    "aten.var_mean": (4, 2, "as aten.var (the mean is its first pass)"),
    "aten.std": (4, 3, "aten.var + sqrt"), "aten.std_mean": (4, 3, "aten.var + sqrt"),
}
REDUCE_ATEN = {
    "ReduceSum": ("aten.sum", "aten.nansum"), "ReduceMean": ("aten.mean",),
    "ReduceMax": ("aten.amax",), "ReduceMin": ("aten.amin",), "ReduceProd": ("aten.prod",),
    "ReduceLogSumExp": ("aten.logsumexp",), "ArgMax": ("aten.argmax",), "ArgMin": ("aten.argmin",),
    "TopK": ("aten.topk",), "ReduceL2": ("aten.linalg_vector_norm", "aten.norm", "aten.native_norm"),
}


def reduce(c: Ctx):
    """in_elems × per-input constant (add / compare; L1 abs+add, L2 square+add, LogSumExp
    exp+add) + out_elems × per-output constant (Mean divide, L2 sqrt, Log*). NB: TopK counts
    one compare per input element (a linear selection), not a sort; aten's p-norms are
    counted as L2."""
    pin, pout = (REDUCE_FLOPS.get(c.op) or ATEN_REDUCE_FLOPS[c.op])[:2]
    if c.op.startswith("Reduce") and c.attr("noop_with_empty_axes", 0) and not c.attr("axes") and \
            (not c.has(1) or tuple(c.inp(1)) == (0,)):
        return []   # ONNX: no axes with noop_with_empty_axes = 1 is the identity (0 FLOPs)
    n_in, n_out = c.numel_in(0), c.numel_out(0)
    rows = [(kinds.REDUCE, [n_in, n_out, pin])]
    if pout:
        rows.append((kinds.ELEMENTWISE, [n_out, pout, 0]))
    return rows


for _op in list(REDUCE_FLOPS) + list(ATEN_REDUCE_FLOPS):
    lowering(_op, aten=REDUCE_ATEN.get(_op, ()))(reduce)


@lowering("aten.max", aten=("aten.min",))
def aten_max(c: Ctx):
    """aten.max / aten.min: with two tensors (max.other) elementwise, 1 compare per output
    (as Max); with one (max(), max.dim) a reduction, 1 compare per input element (as ReduceMax)."""
    if sum(1 for s in c.inputs if s is not None) >= 2:
        return [(kinds.ELEMENTWISE, [c.numel_out(), 1, c.all_in_numel()])]
    return [(kinds.REDUCE, [c.numel_in(0), c.numel_out(0), 1])]


@lowering("aten.sort", aten=("aten.argsort", "aten.msort"))
def sort(c: Ctx):
    """A comparison sort along `dim`: ⌈log2 L⌉ compares per element (L = the dim's length).
    NB: a merge sort's count; the indices output is not counted in bytes."""
    x = c.inp(0)
    if not x:
        return [(kinds.REDUCE, [1, 1, 0])]
    d = c.arg(1, "dim", -1)
    d = d if isinstance(d, int) else -1
    length = x[d]
    if not isinstance(length, int):
        raise ShapeUnknown("sort along a symbolic dim")
    return [(kinds.REDUCE, [prod(x), prod(x), max(1, math.ceil(math.log2(max(length, 1))))])]


# ------------------------------------------------------------------------------- losses and dropout
_REDUCTION = {0: "none", 1: "mean", 2: "sum"}


def _aten_nll(c: Ctx) -> Ctx:
    """aten.nll_loss_forward / nll_loss2d_forward(x, target, weight?, reduction, ignore_index)
    -> NegativeLogLikelihoodLoss(x, target, weight) with reduction."""
    red = c.arg(3, "reduction", 1)
    return rebind(c, [c.arg(0), c.arg(1), c.arg(2, "weight")],
                  reduction=_REDUCTION.get(red, red) if isinstance(red, int) else red)


@lowering("NegativeLogLikelihoodLoss", aten=(("aten.nll_loss_forward", _aten_nll),
                                             ("aten.nll_loss2d_forward", _aten_nll)))
def nll_loss(c: Ctx):
    """Per target element (N = numel(target)): the picked log-probability read (GATHER, with its
    index), then negate and add to the sum (2), × class weight (+1; the weights' sum +1 for
    mean). Mean divides once (not counted). Output written: N (none) or 1."""
    n = c.numel_in(1)
    w = 1 if c.has(2) else 0
    red = c.attr("reduction", "mean")
    red = red.decode() if isinstance(red, bytes) else red
    per = 2 + w + (w if red == "mean" else 0)
    return [(kinds.GATHER, [n, n]), (kinds.ELEMENTWISE, [n, per, 0, 1])]


@lowering("SoftmaxCrossEntropyLoss")
def softmax_cross_entropy(c: Ctx):
    """SoftmaxCrossEntropyLoss(scores (N, C, ...), labels (N, ...), weights?): LogSoftmax over
    C (softmax 5 + log 1 per score; the log_prob output is that row's output), then
    NegativeLogLikelihoodLoss of the log-probabilities (see nll_loss)."""
    n = c.numel_in(0)
    return [(kinds.SOFTMAX, [n]), (kinds.ELEMENTWISE, [n, 1, 0, 1])] + nll_loss(c)


@lowering("aten.mse_loss")
def mse_loss(c: Ctx):
    """aten.mse_loss(x, target, reduction): per element sub, square (2) and, reduced, the sum
    (+1); mean divides once (+1 on the scalar). Reads x and target."""
    n = c.numel_in(0)
    reads = c.all_in_numel()
    red = c.arg(2, "reduction", 1)
    if red == 0:
        return [(kinds.ELEMENTWISE, [n, 2, reads])]
    return [(kinds.ELEMENTWISE, [n, 3, reads, 1]), (kinds.ELEMENTWISE, [1, 1 if red == 1 else 0, 0])]


_LOSS_PER_ELEMENT = {
    "aten.smooth_l1_loss": (7, "sub, abs, compare, then the larger branch 0.5·d²/β (3), sum (1)"),
    "aten.huber_loss": (7, "as smooth_l1_loss: sub, abs, compare, 0.5·d² (3), sum (1)"),
    "aten.binary_cross_entropy_with_logits": (
        8, "(1 − t)·x + log(1 + exp(−x)): sub, mul, neg, exp, add, log, add (7), sum (1)"),
    "aten.binary_cross_entropy": (9, "−(t·log x + (1 − t)·log(1 − x)): 2 log, 2 sub, 2 mul, add, "
                                     "neg (8), sum (1)"),
    "aten.soft_margin_loss": (5, "log(1 + exp(−t·x)): mul, exp, add, log (4), sum (1)"),
}


def _loss(c: Ctx):
    """Pointwise loss, reduced: per element the constant of _LOSS_PER_ELEMENT (the sum included;
    reduction='none', seen as an output of the input's rank, writes every element and has no
    sum, otherwise one scalar is written)."""
    n = c.numel_in(0)
    per = _LOSS_PER_ELEMENT[c.op][0]
    if len(c.out(0)) > 0:
        return [(kinds.ELEMENTWISE, [n, per - 1, c.all_in_numel()])]
    return [(kinds.ELEMENTWISE, [n, per, c.all_in_numel(), 1]), (kinds.ELEMENTWISE, [1, 0, 0])]


for _op in _LOSS_PER_ELEMENT:
    lowering(_op)(_loss)


@lowering("aten.native_dropout")
def native_dropout(c: Ctx):
    """aten.native_dropout(x, p, train) -> (y, mask). Training (train None or True): per
    element a draw-compare for the mask and the scale-multiply (2), y and the mask written (NB:
    the bool mask counted at the input's element size, an upper bound). train=False: a copy."""
    n = c.numel_in(0)
    if c.arg(2, "train", True) is False:
        return [(kinds.MOVE, [n])]
    return [(kinds.ELEMENTWISE, [n, 2, n]), (kinds.ELEMENTWISE, [n, 0, 0])]
