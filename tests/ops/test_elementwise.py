"""Elementwise, n-ary, reductions, softmax against hand arithmetic.

Per-element constants: ops/elementwise.py FLOPS_PER_ELEMENT (Add 1, Relu 1, Sigmoid 4, Gelu 5 or
9 with tanh, Where 1, Cast 0) and REDUCE_FLOPS (ReduceMean 1 per input + 1 per output, ReduceL2
2 + 1, ArgMax 1 + 0); softmax 5 per element, log-softmax + 1.
Bytes (kinds.FORMULAS): ELEMENTWISE (inputs + output)·size, REDUCE (input + output)·size,
SOFTMAX 2·elems·size, float32 = 4 bytes.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

from tests.ops._onnx_build import BOOL, F16, I64, check, count, init, model, node  # noqa: E402


def _op(op, shapes, opset=17, out_dtype=None, inits=(), extra_inputs=(), **attrs):
    ins = [(f"X{i}", s) for i, s in enumerate(shapes)]
    outs = [("Y", None, out_dtype)] if out_dtype is not None else ["Y"]
    names = [n for n, *_ in ins] + list(extra_inputs)
    return model([node(op, names, ["Y"], **attrs)], ins, outs, inits=inits, opset=opset)


@pytest.mark.parametrize("m, flops, nbytes", [
    # Add (2,3,4) + (4,) broadcast: 24 outputs * 1 = 24; bytes (24 + 4 + 24)*4 = 208
    (_op("Add", [(2, 3, 4), (4,)]), 24, 208),
    # Relu (2,3): 6*1 = 6; bytes (6 + 6)*4 = 48
    (_op("Relu", [(2, 3)]), 6, 48),
    # Sigmoid (2,3): 6*4 = 24; bytes 48
    (_op("Sigmoid", [(2, 3)]), 24, 48),
    # Gelu (opset 20) exact erf form (2,3): 6*5 = 30; bytes 48
    (_op("Gelu", [(2, 3)], opset=20), 30, 48),
    # Gelu approximate="tanh" (2,3): 6*9 = 54; bytes 48
    (_op("Gelu", [(2, 3)], opset=20, approximate="tanh"), 54, 48),
    # Max of 3 inputs (2,3),(2,3),(3,): 2 compares per output 6*2 = 12; bytes (6 + 6 + 3 + 6)*4 = 84
    (_op("Max", [(2, 3), (2, 3), (3,)]), 12, 84),
    # Mean of 3 inputs (2,3)x3: 2 adds + 1 divide per output 6*3 = 18; bytes (6*3 + 6)*4 = 96
    (_op("Mean", [(2, 3), (2, 3), (2, 3)]), 18, 96),
    # Softmax (2,3,4): 24*5 = 120; bytes 2*24*4 = 192
    (_op("Softmax", [(2, 3, 4)], axis=-1), 120, 192),
    # LogSoftmax (2,3,4): softmax 120 + log 24*1 = 144; bytes 192 + (0 + 24)*4 = 288
    (_op("LogSoftmax", [(2, 3, 4)], axis=-1), 144, 288),
], ids=["add-broadcast", "relu", "sigmoid", "gelu", "gelu-tanh", "max-3", "mean-3", "softmax",
        "logsoftmax"])
def test_elementwise(m, flops, nbytes):
    check(count(m), flops, 0, nbytes)


def test_where():
    # cond (2,3) bool, X (2,3), Y (1,) float -> (2,3): 6 selects = 6 FLOPs;
    # bytes (6 + 6 + 1 inputs + 6 output)*4 = 76 (one element size per row, the output's float32)
    m = model([node("Where", ["C", "A", "B"], ["Y"])],
              [("C", (2, 3), BOOL), ("A", (2, 3)), ("B", (1,))], ["Y"])
    check(count(m), 6, 0, 76)


def test_cast_flops():
    # Cast float32 (2,3) -> float16: 0 FLOPs
    m = model([node("Cast", ["X"], ["Y"], to=F16)], [("X", (2, 3))], [("Y", None, F16)])
    c = count(m)
    assert (c.flops, c.matmul_flops, c.coverage) == (0, 0, 1.0)


def test_cast_bytes():
    # read 6 float32 + write 6 float16: 6*4 + 6*2 = 36 bytes
    m = model([node("Cast", ["X"], ["Y"], to=F16)], [("X", (2, 3))], [("Y", None, F16)])
    assert count(m).bytes == 36


@pytest.mark.parametrize("m, flops, nbytes", [
    # ReduceMean (opset 18, axes input [1], keepdims 1) (2,3,4) -> (2,1,4) = 8:
    # 24 adds + 8 divides = 32; bytes (24 + 8)*4 + (0 + 8)*4 = 128 + 32 = 160
    (_op("ReduceMean", [(2, 3, 4)], opset=18, inits=[init("axes", [1])], extra_inputs=["axes"]),
     32, 160),
    # ReduceL2 (opset 18, axes [-1], keepdims 0) (2,3,4) -> (2,3) = 6:
    # 24*2 (square, add) + 6 sqrt = 54; bytes (24 + 6)*4 + (0 + 6)*4 = 120 + 24 = 144
    (_op("ReduceL2", [(2, 3, 4)], opset=18, inits=[init("axes", [-1])], extra_inputs=["axes"],
         keepdims=0), 54, 144),
    # ReduceSum with no axes (all) keepdims 0: (2,3,4) -> () : 24 adds; bytes (24 + 1)*4 = 100
    (_op("ReduceSum", [(2, 3, 4)], keepdims=0), 24, 100),
], ids=["reducemean-axes-input", "reducel2-keepdims0", "reducesum-all"])
def test_reduce(m, flops, nbytes):
    check(count(m), flops, 0, nbytes)


def _argmax():
    return model([node("ArgMax", ["X"], ["Y"], axis=1, keepdims=0)], [("X", (2, 3, 4))],
                 [("Y", None, I64)])


def test_argmax_flops():
    # ArgMax axis 1, keepdims 0: (2,3,4) -> (2,4); one compare per input element: 24
    c = count(_argmax())
    assert (c.flops, c.matmul_flops, c.coverage, c.unknown_ops) == (24, 0, 1.0, {})


def test_argmax_bytes():
    # read 24 float32 + write 8 int64: 24*4 + 8*8 = 160
    assert count(_argmax()).bytes == 160


def test_compare_bytes():
    # Less (2,3) float32 < (2,3) float32 -> bool: 6 compares; bytes 6*4 + 6*4 + 6*1 = 54
    m = model([node("Less", ["A", "B"], ["Y"])], [("A", (2, 3)), ("B", (2, 3))],
              [("Y", None, BOOL)])
    c = count(m)
    assert (c.flops, c.bytes) == (6, 54)
