"""Embedding + 2-layer LSTM + Linear classifier (classifies from the last time step)."""

from __future__ import annotations

import torch
from torch import nn

from model_zoo._common import check_size, token_ids

INPUT_NAMES = ["input_ids"]
OUTPUT_NAMES = ["logits"]


class LSTMClassifier(nn.Module):
    def __init__(self, vocab_size: int, embed_dim: int, hidden_size: int, num_layers: int = 2, num_classes: int = 2):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed_dim)
        self.lstm = nn.LSTM(embed_dim, hidden_size, num_layers=num_layers, batch_first=True)
        self.classifier = nn.Linear(hidden_size, num_classes)

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        out, _ = self.lstm(self.embedding(input_ids))
        return self.classifier(out[:, -1])


CONFIGS = {
    "full": dict(vocab_size=10000, embed_dim=256, hidden_size=512, num_layers=2, num_classes=2, seq=64),
    "tiny": dict(vocab_size=100, embed_dim=16, hidden_size=32, num_layers=2, num_classes=2, seq=8),
}


def build(size: str = "full"):
    check_size(size)
    cfg = dict(CONFIGS[size])
    seq = cfg.pop("seq")
    model = LSTMClassifier(**cfg)
    axes = {"input_ids": {0: "batch", 1: "sequence"}, "logits": {0: "batch"}}
    return model.eval(), (token_ids(1, seq, cfg["vocab_size"]),), INPUT_NAMES, axes
