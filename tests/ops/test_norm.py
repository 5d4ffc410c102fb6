"""Normalizations against hand arithmetic (ops/norm.py; kinds.FORMULAS[NORM]):
flops = elems·per_elem + 4·groups; bytes = (2·elems + scale/bias/stat elements)·4.
Per element: layer norm 5 + 1 (gamma) + 1 (beta); inference batch norm 4; instance and group
norm 7; RMS norm 3 + 1 (gamma)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

from tests.ops._onnx_build import check, count, model, node  # noqa: E402


def _norm(op, x, params, opset=17, **attrs):
    ins = [("X", x)] + [(f"P{i}", s) for i, s in enumerate(params)]
    return model([node(op, [n for n, _ in ins], ["Y"], **attrs)], ins, ["Y"], opset=opset)


@pytest.mark.parametrize("m, flops, nbytes", [
    # LayerNormalization X (2,3,8), scale (8,), bias (8,), axis -1: 48 elems, 2*3 = 6 groups;
    # 48*7 + 4*6 = 336 + 24 = 360; bytes (2*48 + 8 + 8)*4 = 448
    (_norm("LayerNormalization", (2, 3, 8), [(8,), (8,)]), 360, 448),
    # without bias: 48*6 + 4*6 = 288 + 24 = 312; bytes (96 + 8)*4 = 416
    (_norm("LayerNormalization", (2, 3, 8), [(8,)]), 312, 416),
    # axis 1 over (3,8): groups = 2; 48*7 + 4*2 = 344; bytes (96 + 24 + 24)*4 = 576
    (_norm("LayerNormalization", (2, 3, 8), [(3, 8), (3, 8)], axis=1), 344, 576),
    # BatchNormalization (inference) X (2,3,4,4), scale/B/mean/var (3,): 96 elems, 3 channels;
    # 96*4 + 4*3 = 384 + 12 = 396; bytes (2*96 + 4*3)*4 = 816
    (_norm("BatchNormalization", (2, 3, 4, 4), [(3,)] * 4), 396, 816),
    # InstanceNormalization X (2,3,4,4), scale/B (3,): 96 elems, 2*3 = 6 instances;
    # 96*7 + 4*6 = 672 + 24 = 696; bytes (192 + 6)*4 = 792
    (_norm("InstanceNormalization", (2, 3, 4, 4), [(3,), (3,)]), 696, 792),
    # GroupNormalization (opset 21) X (2,4,3,3), scale/bias (4,), num_groups 2: 72 elems,
    # 2*2 = 4 groups; 72*7 + 4*4 = 504 + 16 = 520; bytes (144 + 8)*4 = 608
    (_norm("GroupNormalization", (2, 4, 3, 3), [(4,), (4,)], opset=21, num_groups=2), 520, 608),
    # RMSNormalization (opset 23) X (2,3,8), scale (8,): 48*4 + 4*6 = 192 + 24 = 216;
    # bytes (96 + 8)*4 = 416
    (_norm("RMSNormalization", (2, 3, 8), [(8,)], opset=23), 216, 416),
], ids=["layernorm", "layernorm-no-bias", "layernorm-axis1", "batchnorm", "instancenorm",
        "groupnorm", "rmsnorm"])
def test_norm(m, flops, nbytes):
    check(count(m), flops, 0, nbytes)
