"""Helpers shared by the zoo model factories."""

from __future__ import annotations

import torch


def token_ids(batch: int, seq: int, vocab: int, seed: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, vocab, (batch, seq), generator=g, dtype=torch.int64)


def image(batch: int, channels: int, height: int, width: int, seed: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(batch, channels, height, width, generator=g)


def floats(*shape: int, seed: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g)


def image_axes(input_names, output_names) -> dict:
    """Only the batch axis is dynamic for image models."""
    return {n: {0: "batch"} for n in [*input_names, *output_names]}


def text_axes(input_names, output_names) -> dict:
    """Batch and sequence axes for inputs and per-token outputs."""
    return {n: {0: "batch", 1: "sequence"} for n in [*input_names, *output_names]}


def check_size(size: str) -> None:
    if size not in ("full", "tiny"):
        raise ValueError(f"size must be 'full' or 'tiny', got {size!r}")
