"""Zoo transformers and CNNs captured with PyTorch: forward matmul FLOPs within 2 % of the
analytic formula written here, and equal to torch's FlopCounterMode where that tool is right."""

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

import flopest
import model_zoo

pytestmark = [pytest.mark.torch, pytest.mark.slow]


def build(name):
    module, example, _, _ = model_zoo.get(name, size="full")
    return module, example


def flopcounter(module, example) -> int:
    """FlopCounterMode's total on fake tensors (it counts matmul-like ops only, 2 per MAC);
    fake rather than meta so that transformers skips its `mask.all()` check."""
    from torch._subclasses.fake_tensor import FakeTensorMode
    with FakeTensorMode():
        meta = {n: torch.empty(p.shape, dtype=p.dtype) for n, p in module.named_parameters()}
        meta.update({n: torch.empty(b.shape, dtype=b.dtype) for n, b in module.named_buffers()})
        ex = [torch.empty(x.shape, dtype=x.dtype) for x in example]
        with FlopCounterMode(display=False) as fc:
            torch.func.functional_call(module, meta, tuple(ex), tie_weights=True)
    return fc.get_total_flops()


def transformer_layer(T, d, ff, kv=None):
    """2·T·(Q + K + V + O + MLP) weights and 2·(2·T²·d) attention matmuls of one layer."""
    kv = d if kv is None else kv
    linear = 2 * T * (d * d + 2 * d * kv + d * d + 2 * d * ff)
    attention = 2 * 2 * T * T * d
    return linear + attention


CASES = {
    # BERT-base, T=128: 12 layers (d 768, ff 3072) + pooler on [CLS] 2*768*768
    "bert_base": 12 * transformer_layer(128, 768, 3072) + 2 * 768 * 768,
    # GPT-2 124M, T=128: 12 layers + LM head 2*T*d*vocab (50257)
    "gpt2": 12 * transformer_layer(128, 768, 3072) + 2 * 128 * 768 * 50257,
    # ViT-B/16 at 224: patch embedding 2*196*768*(3*16*16), 12 layers at T=197, pooler 2*768*768
    "vit_b16": 2 * 196 * 768 * 3 * 16 * 16 + 12 * transformer_layer(197, 768, 3072) + 2 * 768 * 768,
    # Llama-style zoo config, T=128: d 512, 8 heads of 64, 2 kv heads (k, v 512 -> 128),
    # SwiGLU MLP 3*d*1376, 4 layers; LM head 2*T*d*32000
    "llama": 4 * (2 * 128 * (512 * 512 + 2 * 512 * 128 + 512 * 512 + 3 * 512 * 1376)
                  + 2 * 2 * 128 * 128 * 512) + 2 * 128 * 512 * 32000,
    # T5-small, T_enc = T_dec = 64, d 512, ff 2048: encoder 6 × (4d² + 2·d·ff) and attention;
    # decoder 6 × (self 4d², cross 4d², FFN) and two attentions; no LM head (T5Model)
    "t5_small": 6 * transformer_layer(64, 512, 2048)
                + 6 * (2 * 64 * (8 * 512 * 512 + 2 * 512 * 2048) + 2 * (2 * 2 * 64 * 64 * 512)),
    # ResNet-50 at 224: torchvision's published 4.09 GMACs (×2 = FLOPs)
    "resnet50": 2 * 4.089e9,
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_forward_matmul_flops_match_formula(name):
    module, example = build(name)
    c = flopest.count(module, *example)
    expected = CASES[name]
    assert c.unknown_ops == {}, c.unknown_ops
    assert abs(c.matmul_flops - expected) / expected < 0.02, (c.matmul_flops, expected)


@pytest.mark.parametrize("name", ["bert_base", "gpt2", "vit_b16", "llama", "resnet50"])
def test_equal_to_flopcountermode_where_it_is_right(name):
    """These zoo models use eager attention (explicit matmuls), where FlopCounterMode is right."""
    module, example = build(name)
    assert flopest.count(module, *example).matmul_flops == flopcounter(module, example)


def test_sdpa_counted_where_flopcountermode_differs():
    """F.scaled_dot_product_attention: flopest counts QKᵀ and AV once as a fused operator."""
    B, H, L, D = 2, 4, 64, 16

    class Attn(torch.nn.Module):
        def forward(self, q, k, v):
            return torch.nn.functional.scaled_dot_product_attention(q, k, v)

    q = flopest.spec((B, H, L, D))
    c = flopest.count(Attn(), q, q, q)
    # QKᵀ and AV: 2 * 2*B*H*L*L*D = 2*2*2*4*64*64*16 = 2097152
    assert c.matmul_flops == 2 * 2 * B * H * L * L * D
