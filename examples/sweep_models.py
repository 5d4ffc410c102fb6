"""Model factories for the sweep example (examples/sweep.toml) and benchmarks/bench_sweep.py.

`llama(...)` builds a Llama-shaped decoder (token embedding; per layer RMSNorm, causal multi-head
attention with rotary-free projections, RMSNorm, SwiGLU MLP; final norm and LM head) from plain
keyword arguments, so that a sweep can vary its depth and width. flopest builds it on the meta
device: no weight is allocated, whatever the size.
"""

import torch
from torch import nn
from torch.nn import functional as F


class Block(nn.Module):
    def __init__(self, d_model: int, heads: int, ffn: int):
        super().__init__()
        self.heads = heads
        self.attn_norm = nn.RMSNorm(d_model)
        self.qkv = nn.Linear(d_model, 3 * d_model, bias=False)
        self.out = nn.Linear(d_model, d_model, bias=False)
        self.mlp_norm = nn.RMSNorm(d_model)
        self.gate = nn.Linear(d_model, ffn, bias=False)
        self.up = nn.Linear(d_model, ffn, bias=False)
        self.down = nn.Linear(ffn, d_model, bias=False)

    def forward(self, x):                                   # x: (B, T, C)
        B, T, C = x.shape
        q, k, v = self.qkv(self.attn_norm(x)).split(C, dim=-1)
        q, k, v = (t.view(B, T, self.heads, C // self.heads).transpose(1, 2) for t in (q, k, v))  # (B, H, T, C/H)
        a = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.out(a.transpose(1, 2).reshape(B, T, C))
        h = self.mlp_norm(x)
        return x + self.down(F.silu(self.gate(h)) * self.up(h))


class Llama(nn.Module):
    def __init__(self, layers: int, d_model: int, heads: int, ffn: int, vocab: int):
        super().__init__()
        self.embed = nn.Embedding(vocab, d_model)
        self.blocks = nn.ModuleList(Block(d_model, heads, ffn) for _ in range(layers))
        self.norm = nn.RMSNorm(d_model)
        self.head = nn.Linear(d_model, vocab, bias=False)

    def forward(self, ids):                                 # ids: (B, T) token ids
        x = self.embed(ids)
        for b in self.blocks:
            x = b(x)
        return self.head(self.norm(x))                      # (B, T, vocab)


def llama(layers: int = 2, d_model: int = 256, heads: int = 4, ffn: int | None = None, vocab: int = 8000,
          seq: int = 128, batch: int = 1):
    """A Llama-shaped decoder and its example input: `batch` sequences of `seq` token ids.
    ffn defaults to the SwiGLU width 8/3 · d_model rounded up to a multiple of 64."""
    if d_model % heads:
        raise ValueError(f"d_model {d_model} is not a multiple of heads {heads}")
    ffn = ffn or 64 * -(-(8 * d_model // 3) // 64)
    return Llama(layers, d_model, heads, ffn, vocab), (torch.zeros(batch, seq, dtype=torch.long),)
