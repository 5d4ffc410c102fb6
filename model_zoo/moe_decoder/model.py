"""transformers MixtralForCausalLM with a small mixture-of-experts config, random init.

The experts run through ``gathered_mm_experts_forward`` below, registered in transformers'
``ExpertsInterface`` as ``"zoo_gathered_mm"``: the same computation as transformers' own
``"batched_mm"`` path (every (token, chosen expert) pair gathers its expert's weights and goes
through one batched matmul), with the token copies made by ``expand`` instead of
``repeat_interleave`` (whose torchscript ONNX lowering, OneHot + Tile, leaves shapes that ONNX
shape inference cannot follow).  Shapes, and so the FLOP count, depend only on tokens × top-k,
never on which experts the router picks: this is the real top-k compute (not a dense
all-experts run), and it captures on meta tensors.  transformers' default "grouped_mm" path
needs bf16 weights and its "eager" path loops over the experts that were hit (``nonzero``),
which is data-dependent (flopest would need ``materialize=True``).
"""

from __future__ import annotations

import torch
from torch import nn

from model_zoo._common import check_size, text_axes, token_ids

INPUT_NAMES = ["input_ids"]
OUTPUT_NAMES = ["logits"]


IMPLEMENTATION = "zoo_gathered_mm"


def gathered_mm_experts_forward(self, hidden_states: torch.Tensor, top_k_index: torch.Tensor,
                                top_k_weights: torch.Tensor) -> torch.Tensor:
    """MixtralExperts.forward for ``experts_implementation="zoo_gathered_mm"``.

    hidden_states (T, d), top_k_index / top_k_weights (T, k).  With S = T·k (token, expert) pairs:
    gate_up (S, 2·ff, d) @ x (S, d, 1), SiLU(gate)·up, down (S, d, ff) @ h (S, ff, 1), × routing
    weight, summed over the k experts of each token.  Mixtral's expert weights are stored
    gate_up_proj (E, 2·ff, d) and down_proj (E, d, ff), without biases.
    """
    num_tokens, hidden_dim = hidden_states.shape
    top_k = top_k_index.shape[-1]
    selected = hidden_states.unsqueeze(1).expand(num_tokens, top_k, hidden_dim).reshape(-1, hidden_dim)
    expert_ids = top_k_index.reshape(-1)                                    # (S,)
    gate_up = torch.bmm(self.gate_up_proj[expert_ids], selected.unsqueeze(-1)).squeeze(-1)
    gate, up = gate_up.chunk(2, dim=-1)                                     # (S, ff) each
    hidden = self.act_fn(gate) * up
    out = torch.bmm(self.down_proj[expert_ids], hidden.unsqueeze(-1)).squeeze(-1)   # (S, d)
    out = out * top_k_weights.reshape(-1, 1).to(out.dtype)
    return out.view(num_tokens, top_k, hidden_dim).sum(dim=1).to(hidden_states.dtype)


def _register() -> None:
    from transformers.integrations.moe import ExpertsInterface

    ExpertsInterface.register(IMPLEMENTATION, gathered_mm_experts_forward)


class MixtralWrapper(nn.Module):
    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        # all-ones padding mask: keeps transformers off its packed-sequence detection path (see gpt2)
        attention_mask = torch.ones_like(input_ids)
        return self.model(input_ids=input_ids, attention_mask=attention_mask, use_cache=False,
                          output_router_logits=False, return_dict=True).logits


CONFIGS = {
    "full": dict(vocab_size=32000, hidden_size=512, intermediate_size=1024, num_hidden_layers=4,
                 num_attention_heads=8, num_key_value_heads=2, num_local_experts=8,
                 num_experts_per_tok=2, max_position_embeddings=2048),
    "tiny": dict(vocab_size=1000, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                 num_attention_heads=4, num_key_value_heads=2, num_local_experts=4,
                 num_experts_per_tok=2, max_position_embeddings=256),
}
SEQ = {"full": 128, "tiny": 16}


def make_config(size: str):
    from transformers import MixtralConfig

    _register()
    return MixtralConfig(
        **CONFIGS[size], rms_norm_eps=1e-5, tie_word_embeddings=False, router_jitter_noise=0.0,
        attn_implementation="eager", experts_implementation=IMPLEMENTATION,
    )


def build(size: str = "full"):
    check_size(size)
    from transformers import MixtralForCausalLM

    config = make_config(size)
    model = MixtralWrapper(MixtralForCausalLM(config)).eval()
    ids = token_ids(1, SEQ[size], config.vocab_size)
    return model, (ids,), INPUT_NAMES, text_axes(INPUT_NAMES, OUTPUT_NAMES)
