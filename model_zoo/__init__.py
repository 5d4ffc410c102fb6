"""Model zoo used to exercise flopest on realistic ONNX graphs.

Every entry is built from scratch with random weights (``torch.manual_seed(0)``);
nothing is downloaded.  Transformers models are created from their ``XxxConfig``
with ``attn_implementation="eager"`` and wrapped so that ``forward`` takes plain
positional tensors and returns a tuple of tensors (no ``ModelOutput``, no KV cache),
which keeps both ONNX exporters happy.

Usage::

    import model_zoo
    module, example_inputs, input_names, dynamic_axes = model_zoo.get("gpt2", size="tiny")
    model_zoo.MODELS["gpt2"].output_names  # -> ["logits"]

``dynamic_axes`` follows the ``torch.onnx.export(dynamo=False)`` convention
(``{tensor_name: {axis: dim_name}}``) and covers inputs and outputs.  Dimension
names: ``batch`` for every model, ``sequence`` for the token axis of text models
(``decoder_sequence`` for the decoder inputs/outputs of T5 and Whisper).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

import torch

__all__ = ["MODELS", "SIZES", "ZooEntry", "get", "names"]

SIZES = ("full", "tiny")


@dataclass(frozen=True)
class ZooEntry:
    """Description of one zoo model; ``build(size)`` lives in ``model_zoo/<name>/model.py``."""

    name: str
    kind: str  # "vision" | "text" | "sequence"
    output_names: tuple[str, ...]
    description: str
    source: str  # where the architecture comes from
    full_input: str  # human-readable input description of the full size
    tiny_input: str
    uses_transformers: bool = False

    @property
    def module_path(self) -> str:
        return f"{__name__}.{self.name}.model"

    def build(self, size: str = "full", device: str | None = None):
        """Return ``(module, example_inputs, input_names, dynamic_axes)`` (seeded, eval mode).
        ``device="meta"`` builds it without allocating or initialising a weight (counting needs
        shapes only); the default builds real, seeded weights (the ONNX export needs them)."""
        if size not in SIZES:
            raise ValueError(f"size must be one of {SIZES}, got {size!r}")
        mod = importlib.import_module(self.module_path)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            if device is None:
                module, example_inputs, input_names, dynamic_axes = mod.build(size)
            else:
                with torch.device(device):
                    module, example_inputs, input_names, dynamic_axes = mod.build(size)
        module.eval()
        for p in module.parameters():
            p.requires_grad_(False)
        return module, tuple(example_inputs), list(input_names), dict(dynamic_axes)


_ENTRIES = [
    ZooEntry(
        "resnet50", "vision", ("logits",),
        "ResNet-50 (bottleneck v1.5), plain torch re-implementation of torchvision.models.resnet50",
        "He et al. 2015 'Deep Residual Learning'; torchvision resnet50 layout",
        "pixel_values float32 1x3x224x224", "pixel_values float32 1x3x64x64",
    ),
    ZooEntry(
        "mobilenet_v2", "vision", ("logits",),
        "MobileNetV2 (inverted residuals, depthwise convs, ReLU6), plain torch",
        "Sandler et al. 2018 'MobileNetV2'; torchvision mobilenet_v2 layout",
        "pixel_values float32 1x3x224x224", "pixel_values float32 1x3x32x32",
    ),
    ZooEntry(
        "unet", "vision", ("logits",),
        "Small U-Net: double 3x3 conv blocks, max-pool down, ConvTranspose2d up, skip concat",
        "Ronneberger et al. 2015 'U-Net' (padded convs, BatchNorm, reduced width)",
        "pixel_values float32 1x3x128x128", "pixel_values float32 1x3x32x32",
    ),
    ZooEntry(
        "lstm", "sequence", ("logits",),
        "nn.Embedding + 2-layer nn.LSTM + Linear classifier on the last time step",
        "classic LSTM text classifier",
        "input_ids int64 1x64", "input_ids int64 1x8",
    ),
    ZooEntry(
        "einsum_attention", "sequence", ("output",),
        "Pre-LN transformer block whose attention uses torch.einsum for QK^T and AV",
        "Vaswani et al. 2017 block, written with einsum",
        "hidden_states float32 1x128x512", "hidden_states float32 1x16x64",
    ),
    ZooEntry(
        "bert_base", "text", ("last_hidden_state", "pooler_output"),
        "transformers BertModel, BertConfig() defaults (bert-base: 12 layers, 768 hidden, 12 heads)",
        "Devlin et al. 2018; transformers BertConfig defaults",
        "input_ids int64 1x128, attention_mask int64 1x128",
        "input_ids int64 1x16, attention_mask int64 1x16",
        uses_transformers=True,
    ),
    ZooEntry(
        "gpt2", "text", ("logits",),
        "transformers GPT2LMHeadModel, GPT2Config() defaults (124M)",
        "Radford et al. 2019; transformers GPT2Config defaults",
        "input_ids int64 1x128", "input_ids int64 1x16",
        uses_transformers=True,
    ),
    ZooEntry(
        "vit_b16", "vision", ("last_hidden_state", "pooler_output"),
        "transformers ViTModel, ViTConfig() defaults (ViT-B/16, 224x224)",
        "Dosovitskiy et al. 2020; transformers ViTConfig defaults",
        "pixel_values float32 1x3x224x224", "pixel_values float32 1x3x32x32",
        uses_transformers=True,
    ),
    ZooEntry(
        "t5_small", "text", ("last_hidden_state",),
        "transformers T5Model with t5-small hyperparameters (encoder-decoder)",
        "Raffel et al. 2019; google-t5/t5-small config.json",
        "input_ids int64 1x64, decoder_input_ids int64 1x64",
        "input_ids int64 1x16, decoder_input_ids int64 1x16",
        uses_transformers=True,
    ),
    ZooEntry(
        "llama", "text", ("logits",),
        "transformers LlamaForCausalLM, small Llama-style config with GQA (8 heads / 2 kv heads) and RoPE",
        "Touvron et al. 2023 Llama architecture; config scaled down",
        "input_ids int64 1x128", "input_ids int64 1x16",
        uses_transformers=True,
    ),
    ZooEntry(
        "moe_decoder", "text", ("logits",),
        "transformers MixtralForCausalLM, small mixture-of-experts config (8 experts, top-2, SwiGLU experts, "
        "GQA 8/2 heads, RoPE); experts run through transformers' batched_mm path (top-k compute, static shapes)",
        "Jiang et al. 2024 'Mixtral of Experts'; transformers MixtralConfig scaled down",
        "input_ids int64 1x128", "input_ids int64 1x16",
        uses_transformers=True,
    ),
    ZooEntry(
        "diffusion_unet_block", "vision", ("output",),
        "Stable-Diffusion-style U-Net down block, plain torch: ResNet block (GroupNorm, SiLU, 3x3 convs, "
        "time-embedding projection) + spatial self-attention over HxW + stride-2 conv downsampler",
        "Rombach et al. 2022 'High-Resolution Image Synthesis with Latent Diffusion Models'; "
        "diffusers ResnetBlock2D / Attention / Downsample2D layout, SD 1.x first down block sizes",
        "sample float32 1x320x32x32, temb float32 1x1280",
        "sample float32 1x32x8x8, temb float32 1x64",
    ),
    ZooEntry(
        "whisper_encoder_decoder", "sequence", ("last_hidden_state",),
        "transformers WhisperModel (encoder-decoder, no LM head) with whisper-tiny sizes: d_model 384, "
        "4+4 layers, 6 heads, ffn 1536, 80 mel bins",
        "Radford et al. 2022 'Robust Speech Recognition via Large-Scale Weak Supervision'; "
        "openai/whisper-tiny config.json",
        "input_features float32 1x80x3000, decoder_input_ids int64 1x32",
        "input_features float32 1x16x100, decoder_input_ids int64 1x8",
        uses_transformers=True,
    ),
]

MODELS: dict[str, ZooEntry] = {e.name: e for e in _ENTRIES}


def names() -> list[str]:
    return list(MODELS)


def get(name: str, size: str = "full", device: str | None = None):
    """Build zoo model ``name``; returns ``(module, example_inputs, input_names, dynamic_axes)``
    (``device="meta"``: no weight allocated)."""
    try:
        entry = MODELS[name]
    except KeyError:
        raise KeyError(f"unknown zoo model {name!r}; known: {', '.join(MODELS)}") from None
    return entry.build(size, device)
