"""transformers BertModel with BertConfig() defaults (= bert-base-uncased architecture), random init."""

from __future__ import annotations

import torch
from torch import nn

from model_zoo._common import check_size, token_ids

INPUT_NAMES = ["input_ids", "attention_mask"]
OUTPUT_NAMES = ["last_hidden_state", "pooler_output"]


class BertWrapper(nn.Module):
    """Positional tensor inputs, tuple outputs (export-friendly)."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor):
        out = self.model(input_ids=input_ids, attention_mask=attention_mask, return_dict=True)
        return out.last_hidden_state, out.pooler_output


def make_config(size: str):
    from transformers import BertConfig

    if size == "full":
        return BertConfig(attn_implementation="eager")  # 12 layers, 768 hidden, 12 heads, vocab 30522
    return BertConfig(
        vocab_size=1000, hidden_size=64, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=128, max_position_embeddings=128, attn_implementation="eager",
    )


def build(size: str = "full"):
    check_size(size)
    from transformers import BertModel

    config = make_config(size)
    seq = 128 if size == "full" else 16
    model = BertWrapper(BertModel(config)).eval()
    input_ids = token_ids(1, seq, config.vocab_size)
    attention_mask = torch.ones(1, seq, dtype=torch.int64)
    axes = {
        "input_ids": {0: "batch", 1: "sequence"},
        "attention_mask": {0: "batch", 1: "sequence"},
        "last_hidden_state": {0: "batch", 1: "sequence"},
        "pooler_output": {0: "batch"},
    }
    return model, (input_ids, attention_mask), INPUT_NAMES, axes
