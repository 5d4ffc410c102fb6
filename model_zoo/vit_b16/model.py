"""transformers ViTModel with ViTConfig() defaults (ViT-B/16 at 224x224), random init."""

from __future__ import annotations

import torch
from torch import nn

from model_zoo._common import check_size, image

INPUT_NAMES = ["pixel_values"]
OUTPUT_NAMES = ["last_hidden_state", "pooler_output"]


class ViTWrapper(nn.Module):
    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, pixel_values: torch.Tensor):
        out = self.model(pixel_values=pixel_values, return_dict=True)
        return out.last_hidden_state, out.pooler_output


def make_config(size: str):
    from transformers import ViTConfig

    if size == "full":
        return ViTConfig(attn_implementation="eager")  # 12 layers, 768 hidden, 12 heads, 224px, patch 16
    return ViTConfig(
        hidden_size=64, num_hidden_layers=2, num_attention_heads=2, intermediate_size=128,
        image_size=32, patch_size=8, attn_implementation="eager",
    )


def build(size: str = "full"):
    check_size(size)
    from transformers import ViTModel

    config = make_config(size)
    model = ViTWrapper(ViTModel(config, add_pooling_layer=True)).eval()
    pixel_values = image(1, config.num_channels, config.image_size, config.image_size)
    axes = {n: {0: "batch"} for n in [*INPUT_NAMES, *OUTPUT_NAMES]}
    return model, (pixel_values,), INPUT_NAMES, axes
