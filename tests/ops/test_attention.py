"""ONNX opset-23 Attention against hand arithmetic (kinds.FORMULAS[ATTENTION]):
pairs = Lq·Lk (causal, counted only with count(causal=True): query i sees keys j <= i + past);
matmul = 2·B·Hq·pairs·(d_qk + d_v); flops = matmul + 6·B·Hq·pairs (scale + softmax);
bytes = (Q + K + V + O)·4 with K and V at the kv head count."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

from tests.ops._onnx_build import check, count, model, node  # noqa: E402


def _attn(q, k, v, past=None, **attrs):
    ins = [("Q", q), ("K", k), ("V", v)]
    names = ["Q", "K", "V"]
    outs = ["Y"]
    if past:
        ins += [("PK", past[0]), ("PV", past[1])]
        names += ["", "PK", "PV"]
        outs += ["present_key", "present_value"]
    return model([node("Attention", names, outs, **attrs)], ins, outs, opset=23)


def test_attention_4d():
    # Q (2,4,6,8), K (2,4,10,8), V (2,4,10,16): B·H = 8, pairs = 6*10 = 60
    c = count(_attn((2, 4, 6, 8), (2, 4, 10, 8), (2, 4, 10, 16)))
    # matmul 2*8*60*(8 + 16) = 23040; flops 23040 + 6*8*60 = 23040 + 2880 = 25920
    # bytes (Q 8*6*8 + K,V 8*10*(8 + 16) + O 8*6*16)*4 = (384 + 1920 + 768)*4 = 12288
    check(c, 25920, 23040, 12288)


def test_attention_3d_equals_4d():
    # Q (2,6,32) with 4 heads -> d_qk 8; K (2,10,32), V (2,10,64) with 4 kv heads -> d_v 16:
    # the same problem as the 4-D case: 25920, 23040, 12288
    c = count(_attn((2, 6, 32), (2, 10, 32), (2, 10, 64), q_num_heads=4, kv_num_heads=4))
    check(c, 25920, 23040, 12288)


def test_attention_gqa():
    # GQA: Q (1,8,4,16), K/V (1,2,4,16): B·Hq = 8, B·Hkv = 2, pairs 4*4 = 16
    c = count(_attn((1, 8, 4, 16), (1, 2, 4, 16), (1, 2, 4, 16)))
    # matmul 2*8*16*(16 + 16) = 8192; flops 8192 + 6*8*16 = 8192 + 768 = 8960
    # bytes (Q 8*4*16 + K,V 2*4*(16 + 16) + O 8*4*16)*4 = (512 + 256 + 512)*4 = 5120
    check(c, 8960, 8192, 5120)


def test_attention_gqa_3d():
    # the GQA case in 3-D form: Q (1,4,8*16 = 128), K/V (1,4,2*16 = 32): 8960, 8192, 5120
    c = count(_attn((1, 4, 128), (1, 4, 32), (1, 4, 32), q_num_heads=8, kv_num_heads=2))
    check(c, 8960, 8192, 5120)


@pytest.mark.parametrize("causal, flops, mm", [
    # causal ignored: pairs 5*5 = 25; matmul 2*2*25*(4 + 4) = 800; flops 800 + 6*2*25 = 1100
    (False, 1100, 800),
    # causal=True: pairs 5*5 - 5*4/2 = 15; matmul 2*2*15*8 = 480; flops 480 + 6*2*15 = 660
    (True, 660, 480),
])
def test_attention_is_causal(causal, flops, mm):
    # Q, K, V (1,2,5,4), is_causal=1
    c = count(_attn((1, 2, 5, 4), (1, 2, 5, 4), (1, 2, 5, 4), is_causal=1), causal=causal)
    # bytes (Q 2*5*4 + K,V 2*5*(4 + 4) + O 2*5*4)*4 = (40 + 80 + 40)*4 = 640 either way
    check(c, flops, mm, 640)


@pytest.mark.parametrize("causal, flops, mm", [
    # full: Lk = past 5 + new 3 = 8, pairs 3*8 = 24; matmul 2*2*24*8 = 768; flops 768 + 6*2*24 = 1056
    (False, 1056, 768),
    # causal with a 5-key cache: query i sees keys j <= i + 5: 6 + 7 + 8 = 21 = 3*8 - 3*2/2;
    # matmul 2*2*21*8 = 672; flops 672 + 6*2*21 = 924
    (True, 924, 672),
])
def test_attention_causal_with_past(causal, flops, mm):
    # Q, K, V (1,2,3,4), past_key/past_value (1,2,5,4)
    c = count(_attn((1, 2, 3, 4), (1, 2, 3, 4), (1, 2, 3, 4), past=((1, 2, 5, 4), (1, 2, 5, 4)),
                    is_causal=1), causal=causal)
    # bytes (Q 2*3*4 + K,V 2*8*(4 + 4) + O 2*3*4)*4 = (24 + 128 + 24)*4 = 704
    check(c, flops, mm, 704)
