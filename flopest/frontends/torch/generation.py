"""Generation capture for serving: a transformers causal LM run as one prefill call or one decode
step over a KV cache of meta tensors (no memory, no arithmetic), as a module the capture counts.
The loops over positions and the cost polynomials are the resolver's (flopest.models) and
flopest.generation's."""

from __future__ import annotations

import inspect

import torch
from torch import nn


def hf_model(module):
    """The transformers model inside `module` (the zoo wraps it as `.model`), or None."""
    m = module
    for _ in range(4):
        cfg = getattr(m, "config", None)
        if cfg is not None and hasattr(cfg, "num_hidden_layers"):
            return m
        m = getattr(m, "model", None)
        if m is None:
            return None
    return None


def _text_config(cfg):
    get = getattr(cfg, "get_text_config", None)
    return get() if callable(get) else cfg


def kv_shape(cfg) -> tuple:
    """(layers, kv heads, head dim) of a decoder config."""
    c = _text_config(cfg)
    layers = int(c.num_hidden_layers)
    heads = int(c.num_attention_heads)
    kv = getattr(c, "num_key_value_heads", None) or heads
    hd = getattr(c, "head_dim", None) or c.hidden_size // heads
    return layers, int(kv), int(hd)


def context_of(cfg) -> tuple:
    """(context length, the config field it was read from), or (None, None)."""
    c = _text_config(cfg)
    for name in ("max_position_embeddings", "n_positions", "max_sequence_length", "seq_length"):
        v = getattr(c, name, None)
        if isinstance(v, int) and v > 0:
            return v, name
    return None, None


def keeps_last_logits(hf) -> bool:
    """Whether the model's forward takes `logits_to_keep` (the prefill then computes the logits
    of the last position only, as generate() asks)."""
    try:
        return "logits_to_keep" in inspect.signature(hf.forward).parameters
    except (TypeError, ValueError):
        return False


def param_elem_size(module) -> int:
    """Bytes per element of the module's first floating-point parameter (4 when none)."""
    fp = [p for p in module.parameters() if p.is_floating_point()]
    return fp[0].element_size() if fp else 4


class DecodeStep(nn.Module):
    """One call of a causal LM on `seq` new tokens after `past` cached ones: the cache is a
    DynamicCache of torch.empty tensors (allocations cost nothing) built inside the call."""

    def __init__(self, model, past: int, keep: bool):
        super().__init__()
        self.model = model
        self.past = past
        self.keep = keep
        self.layers, self.kv_heads, self.head_dim = kv_shape(model.config)
        try:
            self.dtype = next(model.parameters()).dtype
        except StopIteration:
            self.dtype = torch.float32

    def forward(self, input_ids):
        from transformers import DynamicCache
        if self.past:
            try:   # the model's own cache layers: a sliding-window layer keeps its window only
                cache = DynamicCache(config=self.model.config)
            except (TypeError, ValueError):   # an older transformers: every layer grows
                cache = DynamicCache()
            shape = (input_ids.shape[0], self.kv_heads, self.past, self.head_dim)
            for i in range(self.layers):
                cache.update(torch.empty(shape, dtype=self.dtype, device=input_ids.device),
                             torch.empty(shape, dtype=self.dtype, device=input_ids.device), i)
            kw = {"past_key_values": cache, "use_cache": True}
        else:   # the prefill: logits of the last position only, as generate() asks
            kw = {"use_cache": False, **({"logits_to_keep": 1} if self.keep else {})}
        return self.model(input_ids=input_ids, return_dict=True, **kw).logits
