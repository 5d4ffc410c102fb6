"""transformers LlamaForCausalLM with a small Llama-style config (GQA + RoPE + SwiGLU + RMSNorm), random init."""

from __future__ import annotations

import torch
from torch import nn

from model_zoo._common import check_size, text_axes, token_ids

INPUT_NAMES = ["input_ids"]
OUTPUT_NAMES = ["logits"]


class LlamaWrapper(nn.Module):
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
    from transformers import LlamaConfig

    if size == "full":
        return LlamaConfig(
            vocab_size=32000, hidden_size=512, intermediate_size=1376, num_hidden_layers=4,
            num_attention_heads=8, num_key_value_heads=2, max_position_embeddings=2048,
            rms_norm_eps=1e-5, tie_word_embeddings=False, attn_implementation="eager",
        )
    return LlamaConfig(
        vocab_size=1000, hidden_size=64, intermediate_size=172, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
        rms_norm_eps=1e-5, tie_word_embeddings=False, attn_implementation="eager",
    )


def build(size: str = "full"):
    check_size(size)
    from transformers import LlamaForCausalLM

    config = make_config(size)
    seq = 128 if size == "full" else 16
    model = LlamaWrapper(LlamaForCausalLM(config)).eval()
    return model, (token_ids(1, seq, config.vocab_size),), INPUT_NAMES, text_axes(INPUT_NAMES, OUTPUT_NAMES)
