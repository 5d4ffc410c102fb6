"""The per-operator roofline factor: Σ_nodes max(FLOPs/peak, bytes/bandwidth) / Σ_nodes FLOPs/peak,
checked against the same sum written out here from the per-node breakdown. (Training time now comes
from the step-time model, tests/impact/test_plan_time.py; the factor remains the previous model's
baseline in benchmarks/bench_time_model.py.)"""

import math

import pytest
import torch
from torch import nn

import flopest
from flopest import data as profiles

PEAK, BW = 100e12, 2e12   # a made-up device: ridge point 50 FLOP/byte


GLUE = {"free", "elementwise", "reduce", "softmax", "norm", "pool", "move"}


def by_hand(counts, peak, bw, scale=1.0, fused=False):
    rows = counts.breakdown(by="node")   # one aten op per node in a capture
    compute = sum(r["flops"] for r in rows) / peak

    def moved(r):   # fused: glue ops move nothing of their own; the optimizer still does
        glue = r["kind"] in GLUE and not r["name"].startswith("optimizer.")
        return 0 if fused and glue else r["bytes"] * scale
    return max(1.0, sum(max(r["flops"] / peak, moved(r) / bw) for r in rows) / compute)


def test_single_gemm_memory_bound_at_batch_1():
    c = flopest.count(nn.Linear(1024, 1024, bias=False), torch.zeros(1, 1024))
    # one node: 2·1024·1024 FLOPs; bytes = input 1024 + weight 1024² + output 1024 floats × 4 B
    f, b = 2 * 1024 * 1024, 4 * (1024 + 1024 * 1024 + 1024)
    assert c.flops == f and c.bytes == b
    assert c.roofline_factor(PEAK, BW) == pytest.approx((b / BW) / (f / PEAK), rel=1e-12)   # ≈ 100
    assert c.roofline_factor(PEAK, BW, 0.5) == pytest.approx((b / 2 / BW) / (f / PEAK), rel=1e-12)


def test_large_gemm_is_compute_bound():
    c = flopest.count(nn.Linear(4096, 4096, bias=False), torch.zeros(4096, 4096))
    # 2·4096³ FLOPs over 3·4096² floats: 683 FLOP/B, far above the ridge (50): factor 1
    assert c.roofline_factor(PEAK, BW) == 1.0


def test_sum_over_nodes_matches_breakdown():
    m = nn.Sequential(nn.Linear(256, 256), nn.GELU(), nn.LayerNorm(256), nn.Linear(256, 10))
    c = flopest.count(m, torch.zeros(64, 256), training=True, optimizer="adamw")
    for scale in (1.0, 0.5):
        for fused in (False, True):
            assert c.roofline_factor(PEAK, BW, scale, fused) == pytest.approx(by_hand(c, PEAK, BW, scale, fused),
                                                                               rel=1e-9)
    # fusing the GELU, LayerNorm and sums removes their bytes: a smaller factor
    assert c.roofline_factor(PEAK, BW, fused=True) < c.roofline_factor(PEAK, BW)


def test_bad_arguments():
    c = flopest.count(nn.Linear(4, 4), torch.zeros(1, 4))
    from flopest.errors import InputError
    with pytest.raises(InputError, match="positive"):
        c.roofline_factor(0, BW)


def test_params_path_keeps_factor_one():
    e = flopest.estimate(params=1e9, tokens=2e10, device="h100-sxm", samples=200)
    roof = next(a for a in e.to_dict()["assumptions"] if a["name"].startswith("roofline"))
    assert roof["value"] == 1


def test_top_modules_fold_repeated_blocks():
    from flopest.impact.training import fold_repeats as _fold_repeats, top_rows as _top_rows

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.attn, self.mlp = nn.Linear(64, 64), nn.Linear(64, 256)

        def forward(self, x):
            return x + self.mlp(self.attn(x))[..., :64]

    m = nn.Sequential(*[Block() for _ in range(6)], nn.Linear(64, 1000))
    c = flopest.count(m, torch.zeros(8, 64))
    rows = {r["name"]: r for r in _top_rows(c)}
    # per block at batch 8: attn 2·8·64·64 = 65,536 (+ 8·64 bias adds = 512); mlp 2·8·64·256 = 262,144
    # (+ 8·256 = 2,048); 6 copies each
    assert rows["*.mlp (6×)"]["flops"] == 6 * (262_144 + 2_048)
    assert rows["*.attn (6×)"]["flops"] == 6 * (65_536 + 512)
    assert rows["6"]["flops"] == 2 * 8 * 64 * 1000 + 8 * 1000      # the head, not a repeat
    # copies with other FLOPs (a U-Net's levels) stay apart; unknown FLOPs are never folded
    rows = _fold_repeats([{"name": "a.0", "flops": 2}, {"name": "a.1", "flops": 1}, {"name": "a.2", "flops": 2},
                          {"name": "b.0", "flops": None}, {"name": "b.1", "flops": None}])
    assert [(r["name"], r["flops"]) for r in rows] == [("a.* (2×)", 4), ("a.1", 1), ("b.0", None), ("b.1", None)]
