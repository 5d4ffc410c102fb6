"""transformers T5Model with the t5-small hyperparameters, random init (encoder + decoder, no LM head)."""

from __future__ import annotations

import torch
from torch import nn

from model_zoo._common import check_size, token_ids

INPUT_NAMES = ["input_ids", "decoder_input_ids"]
OUTPUT_NAMES = ["last_hidden_state"]


class T5Wrapper(nn.Module):
    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, input_ids: torch.Tensor, decoder_input_ids: torch.Tensor) -> torch.Tensor:
        out = self.model(input_ids=input_ids, decoder_input_ids=decoder_input_ids, use_cache=False, return_dict=True)
        return out.last_hidden_state


def make_config(size: str):
    from transformers import T5Config

    if size == "full":  # google-t5/t5-small config.json
        return T5Config(
            vocab_size=32128, d_model=512, d_kv=64, d_ff=2048, num_layers=6, num_decoder_layers=6,
            num_heads=8, relative_attention_num_buckets=32, dropout_rate=0.1, feed_forward_proj="relu",
            attn_implementation="eager",
        )
    return T5Config(
        vocab_size=1000, d_model=64, d_kv=32, d_ff=128, num_layers=2, num_decoder_layers=2, num_heads=2,
        relative_attention_num_buckets=32, feed_forward_proj="relu", attn_implementation="eager",
    )


def build(size: str = "full"):
    check_size(size)
    from transformers import T5Model

    config = make_config(size)
    seq = 64 if size == "full" else 16
    model = T5Wrapper(T5Model(config)).eval()
    input_ids = token_ids(1, seq, config.vocab_size, seed=1)
    decoder_input_ids = token_ids(1, seq, config.vocab_size, seed=2)
    axes = {
        "input_ids": {0: "batch", 1: "sequence"},
        "decoder_input_ids": {0: "batch", 1: "decoder_sequence"},
        "last_hidden_state": {0: "batch", 1: "decoder_sequence"},
    }
    return model, (input_ids, decoder_input_ids), INPUT_NAMES, axes
