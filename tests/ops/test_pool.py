"""Pooling against hand arithmetic (ops/pool.py; kinds.FORMULAS[POOL]):
flops = out_elems·window; bytes = (in_elems + out_elems)·4."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

from tests.ops._onnx_build import check, count, model, node  # noqa: E402


def _pool(op, x, **attrs):
    return model([node(op, ["X"], ["Y"], **attrs)], [("X", x)], ["Y"])


@pytest.mark.parametrize("m, flops, nbytes", [
    # MaxPool 3x3 stride 2 pads 1: X (1,2,7,7) -> out (7 + 2 - 3)//2 + 1 = 4 -> (1,2,4,4) = 32;
    # 32*9 = 288; bytes (98 + 32)*4 = 520
    (_pool("MaxPool", (1, 2, 7, 7), kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]),
     288, 520),
    # MaxPool ceil_mode: X (1,1,6,6), 3x3 stride 2 -> ceil((6 - 3)/2) + 1 = 3 (floor gives 2)
    # -> 9 outputs; 9*9 = 81; bytes (36 + 9)*4 = 180
    (_pool("MaxPool", (1, 1, 6, 6), kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1), 81, 180),
    # AveragePool 2x2 stride 2: X (1,2,4,4) -> (1,2,2,2) = 8; 8*4 = 32; bytes (32 + 8)*4 = 160
    (_pool("AveragePool", (1, 2, 4, 4), kernel_shape=[2, 2], strides=[2, 2]), 32, 160),
    # GlobalAveragePool X (2,3,5,5) -> 6 outputs of 25 each: 6*25 = 150; bytes (150 + 6)*4 = 624
    (_pool("GlobalAveragePool", (2, 3, 5, 5)), 150, 624),
], ids=["maxpool-stride-pad", "maxpool-ceil", "avgpool", "global-avgpool"])
def test_pool(m, flops, nbytes):
    check(count(m), flops, 0, nbytes)


def test_maxpool_ceil_drops_window_in_end_padding():
    # X (1,1,5), kernel 2, stride 2, pads 1/1, ceil_mode: ceil((5 + 2 - 2)/2) + 1 = 4 windows,
    # but the 4th starts at padded index 6 = input index 5, inside the end padding: dropped
    # (ONNX reference, onnxruntime, PyTorch) -> 3 outputs; 3*2 = 6; bytes (5 + 3)*4 = 32
    m = _pool("MaxPool", (1, 1, 5), kernel_shape=[2], strides=[2], pads=[1, 1], ceil_mode=1)
    check(count(m), 6, 0, 32)


def test_maxpool_ceil_symbolic():
    # X (N,1,H,H), 3x3 stride 2, ceil_mode, H symbolic
    m = _pool("MaxPool", ("N", 1, "H", "H"), kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1)
    c = count(m, dims={"N": 1, "H": 6})
    # H=6: ceil((6 - 3)/2) + 1 = 3 -> 9 outputs; 9*9 = 81; bytes (36 + 9)*4 = 180
    check(c, 81, 0, 180)
    # H=7: ceil(4/2) + 1 = 3 -> 9 outputs; 81; bytes (49 + 9)*4 = 232
    check(c.at(H=7), 81, 0, 232)
    # H=8, N=2: ceil(5/2) + 1 = 4 -> 2*16 = 32 outputs; 32*9 = 288; bytes (2*64 + 32)*4 = 640
    check(c.at(H=8, N=2), 288, 0, 640)
