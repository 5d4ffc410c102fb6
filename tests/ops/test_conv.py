"""Conv and ConvTranspose against hand arithmetic (kinds.FORMULAS[CONV]):
flops = 2·N·C_out·out_spatial·(C_in/groups)·kernel (transposed: 2·N·C_in·in_spatial·(C_out/groups)·kernel);
bytes = (input + weight + output)·4; a bias adds 1 FLOP per output element and C_out·4 bytes read (the output is written once)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

from tests.ops._onnx_build import check, count, model, node  # noqa: E402


def _conv(x, w, b=None, op="Conv", **attrs):
    ins = [("X", x), ("W", w)] + ([("B", b)] if b else [])
    return model([node(op, [n for n, _ in ins], ["Y"], **attrs)], ins, ["Y"])


@pytest.mark.parametrize("m, flops, mm, nbytes", [
    # 1-D: X (1,2,10), W (4,2,3) -> out length 10 - 3 + 1 = 8: 2*1*4*8*2*3 = 384;
    # bytes (1*2*10 + 4*2*3 + 1*4*8)*4 = (20 + 24 + 32)*4 = 304
    (_conv((1, 2, 10), (4, 2, 3)), 384, 384, 304),
    # 2-D stride 2, pads 1, dilation 2: X (1,3,9,9), W (8,3,3,3):
    # out = (9 + 1 + 1 - 2*(3-1) - 1)//2 + 1 = 6//2 + 1 = 4 -> 4*4 = 16;
    # 2*1*8*16*3*9 = 6912; bytes (3*81 + 8*3*9 + 8*16)*4 = (243 + 216 + 128)*4 = 2348
    (_conv((1, 3, 9, 9), (8, 3, 3, 3), strides=[2, 2], pads=[1, 1, 1, 1], dilations=[2, 2]),
     6912, 6912, 2348),
    # 3-D: X (1,2,4,4,4), W (3,2,2,2,2) -> out 3*3*3 = 27: 2*1*3*27*2*8 = 2592;
    # bytes (2*64 + 3*2*8 + 3*27)*4 = (128 + 48 + 81)*4 = 1028
    (_conv((1, 2, 4, 4, 4), (3, 2, 2, 2, 2)), 2592, 2592, 1028),
    # grouped, group=2: X (2,4,5,5), W (6,2,3,3) -> out 3*3 = 9: 2*2*6*9*(4/2)*9 = 3888;
    # bytes (2*4*25 + 6*2*9 + 2*6*9)*4 = (200 + 108 + 108)*4 = 1664
    (_conv((2, 4, 5, 5), (6, 2, 3, 3), group=2), 3888, 3888, 1664),
    # depthwise, group=4, pads 1: X (1,4,6,6), W (4,1,3,3) -> out 6*6 = 36: 2*1*4*36*1*9 = 2592;
    # bytes (4*36 + 4*1*9 + 4*36)*4 = (144 + 36 + 144)*4 = 1296
    (_conv((1, 4, 6, 6), (4, 1, 3, 3), group=4, pads=[1, 1, 1, 1]), 2592, 2592, 1296),
    # bias: X (1,2,5,5), W (3,2,3,3), B (3,) -> out 3*3 = 9: conv 2*1*3*9*2*9 = 972,
    # bias 1*3*9 = 27 adds -> 999; bytes (X 50 + W 54 + B 3 + Y 27)*4 = 536 (Y written once)
    (_conv((1, 2, 5, 5), (3, 2, 3, 3), (3,)), 999, 972, 536),
    # auto_pad SAME_UPPER, stride 2: X (1,2,7,7), W (4,2,3,3) -> out ceil(7/2) = 4 -> 16:
    # 2*1*4*16*2*9 = 2304; bytes (98 + 72 + 64)*4 = 936
    (_conv((1, 2, 7, 7), (4, 2, 3, 3), auto_pad="SAME_UPPER", strides=[2, 2]), 2304, 2304, 936),
    # ConvTranspose stride 2: X (1,4,3,3), W (4,2,3,3) -> C_out 2, out 2*(3-1) + 3 = 7 -> 49:
    # 2*1*4*9*2*9 = 1296; bytes (4*9 + 4*2*9 + 2*49)*4 = (36 + 72 + 98)*4 = 824
    (_conv((1, 4, 3, 3), (4, 2, 3, 3), op="ConvTranspose", strides=[2, 2]), 1296, 1296, 824),
    # ConvTranspose group=2, stride 2: X (1,4,3,3), W (4,3,2,2) -> C_out 3*2 = 6,
    # out 2*(3-1) + 2 = 6 -> 36: 2*1*4*9*(6/2)*4 = 864; bytes (36 + 4*3*4 + 6*36)*4 = (36 + 48 + 216)*4 = 1200
    (_conv((1, 4, 3, 3), (4, 3, 2, 2), op="ConvTranspose", group=2, strides=[2, 2]), 864, 864, 1200),
], ids=["1d", "2d-stride-pad-dilation", "3d", "grouped", "depthwise", "bias", "same-upper",
        "transpose-stride2", "transpose-groups"])
def test_conv(m, flops, mm, nbytes):
    check(count(m), flops, mm, nbytes)
