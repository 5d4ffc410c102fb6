"""Pre-LN transformer encoder block whose attention is written with torch.einsum."""

from __future__ import annotations

import math

import torch
from torch import nn

from model_zoo._common import check_size, floats, text_axes

INPUT_NAMES = ["hidden_states"]
OUTPUT_NAMES = ["output"]


class EinsumSelfAttention(nn.Module):
    def __init__(self, d_model: int, num_heads: int):
        super().__init__()
        assert d_model % num_heads == 0
        self.num_heads = num_heads
        self.head_dim = d_model // num_heads
        self.q_proj = nn.Linear(d_model, d_model)
        self.k_proj = nn.Linear(d_model, d_model)
        self.v_proj = nn.Linear(d_model, d_model)
        self.out_proj = nn.Linear(d_model, d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: [b, s, d]
        shape = (self.num_heads, self.head_dim)
        q = self.q_proj(x).unflatten(-1, shape)  # [b, s, h, dh]
        k = self.k_proj(x).unflatten(-1, shape)
        v = self.v_proj(x).unflatten(-1, shape)
        scores = torch.einsum("bqhd,bkhd->bhqk", q, k) / math.sqrt(self.head_dim)
        probs = torch.softmax(scores, dim=-1)
        ctx = torch.einsum("bhqk,bkhd->bqhd", probs, v).flatten(-2)  # [b, s, d]
        return self.out_proj(ctx)


class EinsumTransformerBlock(nn.Module):
    def __init__(self, d_model: int = 512, num_heads: int = 8, d_ff: int = 2048):
        super().__init__()
        self.ln1 = nn.LayerNorm(d_model)
        self.attn = EinsumSelfAttention(d_model, num_heads)
        self.ln2 = nn.LayerNorm(d_model)
        self.mlp = nn.Sequential(nn.Linear(d_model, d_ff), nn.GELU(), nn.Linear(d_ff, d_model))

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        x = hidden_states + self.attn(self.ln1(hidden_states))
        return x + self.mlp(self.ln2(x))


CONFIGS = {
    "full": dict(d_model=512, num_heads=8, d_ff=2048, seq=128),
    "tiny": dict(d_model=64, num_heads=2, d_ff=128, seq=16),
}


def build(size: str = "full"):
    check_size(size)
    cfg = dict(CONFIGS[size])
    seq = cfg.pop("seq")
    model = EinsumTransformerBlock(**cfg)
    return model.eval(), (floats(1, seq, cfg["d_model"]),), INPUT_NAMES, text_axes(INPUT_NAMES, OUTPUT_NAMES)
