"""transformers WhisperModel (encoder-decoder, no LM head) with whisper-tiny sizes, random init."""

from __future__ import annotations

import torch
from torch import nn

from model_zoo._common import check_size, floats, token_ids

INPUT_NAMES = ["input_features", "decoder_input_ids"]
OUTPUT_NAMES = ["last_hidden_state"]


class WhisperWrapper(nn.Module):
    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, input_features: torch.Tensor, decoder_input_ids: torch.Tensor) -> torch.Tensor:
        # An explicit all-ones decoder mask keeps transformers off its packed-sequence detection
        # path (torch.diff on position ids), which it takes while tracing when the mask is None;
        # aten::diff has no torchscript ONNX symbolic (same as gpt2 / llama).
        decoder_attention_mask = torch.ones_like(decoder_input_ids)
        out = self.model(input_features=input_features, decoder_input_ids=decoder_input_ids,
                         decoder_attention_mask=decoder_attention_mask, use_cache=False, return_dict=True)
        return out.last_hidden_state


CONFIGS = {
    # openai/whisper-tiny config.json
    "full": dict(vocab_size=51865, num_mel_bins=80, d_model=384, encoder_layers=4, decoder_layers=4,
                 encoder_attention_heads=6, decoder_attention_heads=6, encoder_ffn_dim=1536,
                 decoder_ffn_dim=1536, max_source_positions=1500, max_target_positions=448),
    "tiny": dict(vocab_size=1000, num_mel_bins=16, d_model=64, encoder_layers=2, decoder_layers=2,
                 encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=128,
                 decoder_ffn_dim=128, max_source_positions=50, max_target_positions=64),
}
DECODER_SEQ = {"full": 32, "tiny": 8}


def make_config(size: str):
    from transformers import WhisperConfig

    return WhisperConfig(**CONFIGS[size], pad_token_id=0, bos_token_id=1, eos_token_id=2,
                         decoder_start_token_id=1, attn_implementation="eager")


def build(size: str = "full"):
    check_size(size)
    from transformers import WhisperModel

    config = make_config(size)
    model = WhisperWrapper(WhisperModel(config)).eval()
    # Whisper's encoder wants exactly 2 · max_source_positions frames (conv2 has stride 2)
    features = floats(1, config.num_mel_bins, 2 * config.max_source_positions)
    decoder_input_ids = token_ids(1, DECODER_SEQ[size], config.vocab_size, seed=2)
    axes = {
        "input_features": {0: "batch"},
        "decoder_input_ids": {0: "batch", 1: "decoder_sequence"},
        "last_hidden_state": {0: "batch", 1: "decoder_sequence"},
    }
    return model, (features, decoder_input_ids), INPUT_NAMES, axes
