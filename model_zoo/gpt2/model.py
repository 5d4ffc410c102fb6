"""transformers GPT2LMHeadModel with GPT2Config() defaults (GPT-2 small, 124M), random init."""

from __future__ import annotations

import torch
from torch import nn

from model_zoo._common import check_size, text_axes, token_ids

INPUT_NAMES = ["input_ids"]
OUTPUT_NAMES = ["logits"]


class GPT2Wrapper(nn.Module):
    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        # An explicit all-ones padding mask keeps transformers off its packed-sequence
        # detection path (torch.diff + cumsum on position_ids), which it takes whenever
        # attention_mask is None while tracing; aten::diff has no torchscript ONNX symbolic.
        attention_mask = torch.ones_like(input_ids)
        return self.model(input_ids=input_ids, attention_mask=attention_mask, use_cache=False, return_dict=True).logits


def make_config(size: str):
    from transformers import GPT2Config

    if size == "full":
        return GPT2Config(attn_implementation="eager")  # 12 layers, 768 hidden, 12 heads, vocab 50257, ctx 1024
    return GPT2Config(
        vocab_size=1000, n_positions=128, n_embd=64, n_layer=2, n_head=2,
        bos_token_id=999, eos_token_id=999, attn_implementation="eager",
    )


def build(size: str = "full"):
    check_size(size)
    from transformers import GPT2LMHeadModel

    config = make_config(size)
    seq = 128 if size == "full" else 16
    model = GPT2Wrapper(GPT2LMHeadModel(config)).eval()
    return model, (token_ids(1, seq, config.vocab_size),), INPUT_NAMES, text_axes(INPUT_NAMES, OUTPUT_NAMES)
