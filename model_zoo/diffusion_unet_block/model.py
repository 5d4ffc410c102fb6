"""One Stable-Diffusion-style U-Net down block, plain torch: a ResNet block with a time-embedding
projection, a spatial self-attention block over the H·W latent positions, and a stride-2 conv
downsampler (diffusers' ResnetBlock2D + Attention + Downsample2D layout, self-attention only)."""

from __future__ import annotations

import math

import torch
from torch import nn

from model_zoo._common import check_size, floats

INPUT_NAMES = ["sample", "temb"]
OUTPUT_NAMES = ["output"]


class ResnetBlock2D(nn.Module):
    """GroupNorm → SiLU → 3×3 conv, + Linear(SiLU(temb)) broadcast over H×W, GroupNorm → SiLU →
    3×3 conv, + residual (in = out channels, so no shortcut conv; dropout 0 is left out)."""

    def __init__(self, channels: int, temb_channels: int, groups: int, eps: float = 1e-5):
        super().__init__()
        self.norm1 = nn.GroupNorm(groups, channels, eps=eps)
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.time_emb_proj = nn.Linear(temb_channels, channels)
        self.norm2 = nn.GroupNorm(groups, channels, eps=eps)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)
        self.act = nn.SiLU()

    def forward(self, x: torch.Tensor, temb: torch.Tensor) -> torch.Tensor:
        h = self.conv1(self.act(self.norm1(x)))
        h = h + self.time_emb_proj(self.act(temb))[:, :, None, None]
        h = self.conv2(self.act(self.norm2(h)))
        return x + h


class SpatialSelfAttention(nn.Module):
    """GroupNorm, then multi-head softmax attention over the H·W positions (Q, K, V Linear
    projections without bias, explicit QKᵀ / softmax / AV matmuls), Linear out projection with
    bias, + residual."""

    def __init__(self, channels: int, heads: int, groups: int, eps: float = 1e-6):
        super().__init__()
        assert channels % heads == 0
        self.heads = heads
        self.head_dim = channels // heads
        self.norm = nn.GroupNorm(groups, channels, eps=eps)
        self.to_q = nn.Linear(channels, channels, bias=False)
        self.to_k = nn.Linear(channels, channels, bias=False)
        self.to_v = nn.Linear(channels, channels, bias=False)
        self.to_out = nn.Linear(channels, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tokens = self.norm(x).flatten(2).transpose(1, 2)          # [b, h·w, c]
        shape = (self.heads, self.head_dim)
        q = self.to_q(tokens).unflatten(-1, shape).transpose(1, 2)  # [b, heads, h·w, dh]
        k = self.to_k(tokens).unflatten(-1, shape).transpose(1, 2)
        v = self.to_v(tokens).unflatten(-1, shape).transpose(1, 2)
        scores = torch.matmul(q, k.transpose(-1, -2)) * (1.0 / math.sqrt(self.head_dim))
        probs = torch.softmax(scores, dim=-1)
        ctx = torch.matmul(probs, v).transpose(1, 2).flatten(2)    # [b, h·w, c]
        out = self.to_out(ctx).transpose(1, 2).reshape(x.shape)
        return x + out


class DownBlock(nn.Module):
    def __init__(self, channels: int, temb_channels: int, heads: int, groups: int):
        super().__init__()
        self.resnet = ResnetBlock2D(channels, temb_channels, groups)
        self.attention = SpatialSelfAttention(channels, heads, groups)
        self.downsample = nn.Conv2d(channels, channels, 3, stride=2, padding=1)

    def forward(self, sample: torch.Tensor, temb: torch.Tensor) -> torch.Tensor:
        return self.downsample(self.attention(self.resnet(sample, temb)))


CONFIGS = {
    # Stable Diffusion 1.x, first down block: 320 channels, temb 1280, 8 heads of 40, 32 groups
    "full": dict(channels=320, temb_channels=1280, heads=8, groups=32, hw=32),
    "tiny": dict(channels=32, temb_channels=64, heads=2, groups=8, hw=8),
}


def build(size: str = "full"):
    check_size(size)
    cfg = dict(CONFIGS[size])
    hw = cfg.pop("hw")
    model = DownBlock(**cfg)
    sample = floats(1, cfg["channels"], hw, hw, seed=1)
    temb = floats(1, cfg["temb_channels"], seed=2)
    axes = {"sample": {0: "batch"}, "temb": {0: "batch"}, "output": {0: "batch"}}
    return model.eval(), (sample, temb), INPUT_NAMES, axes
