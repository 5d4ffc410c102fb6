"""Per-request cost of generation for GPT-2 and a Llama-style decoder (the zoo's configs), captured
on meta tensors with a KV cache: prefill = a forward pass over the prompt, decode = 2·N per token
(N = matrix-product parameters) + attention over the cache. Every expected number is derived by
hand from the config, next to the assertion."""

import pytest
import torch

import flopest
from flopest.impact import ServingEstimate, serve
from flopest.models import generation_cost_torch

P, O = 64, 8   # decode steps at cache lengths 64 … 70 (7 steps); captured at 64, 66, 68, 70


def _zoo_hf(name):
    import model_zoo
    module, _, _, _ = model_zoo.get(name, size="full")
    return module.model          # the transformers model inside the zoo's wrapper


@pytest.fixture(scope="module")
def gpt2():
    hf = _zoo_hf("gpt2")
    return hf, generation_cost_torch(hf, P, O)


@pytest.fixture(scope="module")
def llama():
    hf = _zoo_hf("llama")
    return hf, generation_cost_torch(hf, P, O)


def _decode_step(hf, past, layers, kv_heads, head_dim):
    """One decode step counted directly: 1 new token after `past` cached ones."""
    from transformers import DynamicCache

    class Step(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.m = hf

        def forward(self, ids):
            c = DynamicCache()
            for i in range(layers):
                shape = (1, kv_heads, past, head_dim)
                c.update(torch.empty(shape, device=ids.device), torch.empty(shape, device=ids.device), i)
            return self.m(input_ids=ids, past_key_values=c, use_cache=True).logits

    return flopest.count(Step(), flopest.spec((1, 1), "int64"))


# ---------------------------------------------------------------- GPT-2 (124 M: 12 layers, d 768, ff 3072)
D, FF, V, L = 768, 3072, 50257, 12
# matrix-product weights: 12 × (c_attn 3d² + c_proj d² + c_fc d·ff + c_proj ff·d) + LM head d·V (tied to wte)
#   = 12 × (4·589,824 + 2·768·3072) + 768·50257 = 84,934,656 + 38,597,376 = 123,532,032
GPT2_NMM = L * (4 * D * D + 2 * D * FF) + D * V
assert GPT2_NMM == 123_532_032


def test_gpt2_prefill_is_a_forward_pass(gpt2):
    hf, c = gpt2
    # the forward pass over the 64 prompt tokens, logits of the last position only (generate's logits_to_keep=1)
    ref = flopest.count(hf, input_ids=flopest.spec((1, P), "int64"), use_cache=False, logits_to_keep=1)
    assert c.prefill_flops == ref.flops
    assert c.prefill_matmul_flops == ref.matmul_flops
    # by hand: 12 × 2·T·(4d² + 2·d·ff) + 12 × 2·2·T²·d (QKᵀ, AV) + 2·d·V (one row of logits), T = 64
    #   = 10,871,635,968 + 150,994,944 + 77,194,752 = 11,099,825,664
    assert c.prefill_matmul_flops == 12 * 2 * P * (4 * D * D + 2 * D * FF) + 12 * 2 * 2 * P * P * D + 2 * D * V
    assert c.prefill_matmul_flops == 11_099_825_664


def test_gpt2_decode_is_2n_plus_attention(gpt2):
    _, c = gpt2
    # one token with p cached: 2·N_mm + 12 layers × (QKᵀ 2·d + AV 2·d) × (p + 1) keys
    #   = 247,064,064 + 36,864·(p + 1)
    for p in (64, 70):
        assert c.decode_matmul_flops(p) == 2 * GPT2_NMM + L * 4 * D * (p + 1)
    assert int(c.decode_matmul_flops(64)) == 247_064_064 + 36_864 * 65
    assert c.matmul_params == GPT2_NMM          # read off the fit: matmul FLOPs at p + 1 = 0 keys, / 2
    # the 7 steps: 7 × 247,064,064 + 36,864 × (65 + 66 + … + 71 = 476) = 1,729,448,448 + 17,547,264
    assert c.decode_total(c.decode_matmul_flops) == 7 * 247_064_064 + 36_864 * 476 == 1_746_995_712
    # KV cache: K and V, 12 layers × 768 = 18,432 elements per token
    assert c.kv_elements_per_token == 2 * 12 * 768 == 18_432
    assert c.context == 1024 and c.captured_positions == (64, 66, 68, 70)


def test_gpt2_fit_holds_at_a_position_not_captured(gpt2):
    hf, c = gpt2
    step = _decode_step(hf, 67, 12, 12, 64)
    # all FLOPs (softmax, masks, norms included), matmul FLOPs and graph bytes: the fitted polynomial
    # predicts the direct count exactly
    assert step.flops == c.decode_flops(67)
    assert step.matmul_flops == c.decode_matmul_flops(67)
    assert step.bytes == c.decode_graph_bytes(67)
    assert c.decode_flops.degree == 1           # affine in the cache length


# ---------------------------------------------------------------- Llama-style (zoo: d 512, 4 layers, GQA 8/2)
LD, LL, LH, LKV, LHD, LFF, LV = 512, 4, 8, 2, 64, 1376, 32000
# per layer: q d², k d·(2·64), v d·(2·64), o d², gate/up/down 3·d·ff = 2,768,896; × 4 layers + LM head d·V
#   (untied; the embedding table is only gathered, not multiplied) = 11,075,584 + 16,384,000 = 27,459,584
LLAMA_NMM = LL * (2 * LD * LD + 2 * LD * LKV * LHD + 3 * LD * LFF) + LD * LV
assert LLAMA_NMM == 27_459_584


def test_llama_prefill_is_a_forward_pass(llama):
    hf, c = llama
    ref = flopest.count(hf, input_ids=flopest.spec((1, P), "int64"), use_cache=False, logits_to_keep=1)
    assert c.prefill_flops == ref.flops
    # 4 × 2·T·2,768,896 + 4 × 2·2·T²·d (8 query heads × 64) + 2·d·V
    #   = 1,417,674,752 + 33,554,432 + 32,768,000 = 1,483,997,184
    assert c.prefill_matmul_flops == 1_417_674_752 + 33_554_432 + 32_768_000


def test_llama_decode_is_2n_plus_attention(llama):
    hf, c = llama
    # 2·27,459,584 + 4 layers × 8 query heads × (2·64 + 2·64) × (p + 1) = 54,919,168 + 8,192·(p + 1):
    # grouped-query attention shares K/V heads but every query head still scores every key
    for p in (64, 67, 70):
        assert c.decode_matmul_flops(p) == 2 * LLAMA_NMM + LL * LH * 4 * LHD * (p + 1)
    assert c.matmul_params == LLAMA_NMM
    # the KV cache holds the 2 KV heads only: 2 (K, V) × 4 layers × 2 × 64 = 1,024 elements per token
    assert c.kv_elements_per_token == 1024
    assert c.context == 2048
    step = _decode_step(hf, 67, LL, LKV, LHD)
    assert step.flops == c.decode_flops(67) and step.bytes == c.decode_graph_bytes(67)


def test_serve_a_zoo_model_end_to_end():
    # the command line through the API: GPT-2 on an H100, batch 16
    e = serve("zoo:gpt2", prompt_tokens=500, output_tokens=300, requests_per_day="1M", device="h100-sxm",
              region="US", batch=16, samples=20_000)
    assert isinstance(e, ServingEstimate)
    d = e.to_dict()
    # bf16: weights read per decode step = 123,532,032 × 2 B; KV cache 18,432 × 2 B per token
    assert d["weight_bytes"] == 2 * GPT2_NMM and d["kv_cache_bytes_per_token"] == 36_864
    assert d["flops_per_request"]["decode"] > 299 * 2 * GPT2_NMM
    m = e.metrics()
    for k in ("latency_s", "co2eq_kg", "co2eq_kg_per_month", "energy_kwh", "tokens_per_s", "devices_needed"):
        assert m[k]["p5"] <= m[k]["p50"] <= m[k]["p95"], k
    assert m["latency_s"]["p5"] < m["latency_s"]["p95"]   # uncertain efficiencies: a real range
