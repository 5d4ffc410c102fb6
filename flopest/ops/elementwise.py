"""Elementwise operators: FLOPs = output elements × a per-element constant.

Convention: each arithmetic operation, comparison, and elementary function (exp, log, tanh,
erf, sqrt, sin, ...) counts 1 FLOP; a composite activation counts its decomposition.
Bytes: every input read + the output written (broadcast inputs read once).
"""

from __future__ import annotations

from .. import kinds
from ..dims import prod
from . import Ctx, lowering

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
    "CumSum": (1, "running add"), "QuickGelu": (5, "x · sigmoid(1.702x)"),
    "Dropout": (2, "training mode: mask compare and scale (inference mode is free)"),
}

# n-ary: (n - 1) per element for Max/Min/Sum, + 1 divide for Mean
_NARY = {"Max": 0, "Min": 0, "Sum": 0, "Mean": 1}


def _elementwise(c: Ctx):
    per = FLOPS_PER_ELEMENT[c.op][0]
    if c.op == "Gelu" and c.attr("approximate", "none") in ("tanh", b"tanh"):
        per = 9
    return [(kinds.ELEMENTWISE, [c.numel_out(), per, c.all_in_numel()])]


for _op in FLOPS_PER_ELEMENT:
    if _op != "Dropout":
        lowering(_op)(_elementwise)


@lowering(*_NARY)
def nary(c: Ctx):
    """(inputs − 1) FLOPs per output element (+1 for Mean's divide)."""
    n = sum(1 for s in c.inputs if s is not None)
    return [(kinds.ELEMENTWISE, [c.numel_out(), max(n - 1, 0) + _NARY[c.op], c.all_in_numel()])]


@lowering("Dropout")
def dropout(c: Ctx):
    """Inference (no training_mode input, or a constant false one): identity, free.
    Training: 2 FLOPs per element (mask compare, scale)."""
    tm = c.const(2)
    if not c.has(2) or (tm is not None and not bool(tm.reshape(-1)[0])):
        return [(kinds.FREE, [])]
    return [(kinds.ELEMENTWISE, [c.numel_in(0), 2, c.numel_in(0)])]


@lowering("Softmax", aten=("aten._softmax",))
def softmax(c: Ctx):
    """5 FLOPs per element: max-compare, subtract, exp, sum, divide."""
    return [(kinds.SOFTMAX, [c.numel_in(0)])]


@lowering("LogSoftmax", aten=("aten._log_softmax",))
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


@lowering(*REDUCE_FLOPS)
def reduce(c: Ctx):
    """in_elems × per-input constant (add / compare; L1 abs+add, L2 square+add, LogSumExp
    exp+add) + out_elems × per-output constant (Mean divide, L2 sqrt, Log*). NB: TopK counts
    one compare per input element (a linear selection), not a sort."""
    pin, pout = REDUCE_FLOPS[c.op]
    n_in, n_out = c.numel_in(0), c.numel_out(0)
    rows = [(kinds.REDUCE, [n_in, n_out, pin])]
    if pout:
        rows.append((kinds.ELEMENTWISE, [n_out, pout, 0]))
    return rows
