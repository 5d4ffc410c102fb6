"""Hugging Face configs as models (issue 17 item 1): `hf:PATH` and `hf:ORG/NAME` from a cache the
test writes; no network (every connection refused and recorded); the same FLOPs as the same model
built by hand; a 70B config counted in under 2 GB."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import pytest

import flopest
from flopest.errors import FlopestError

pytestmark = pytest.mark.torch
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

CONFIGS = {
    "qwen2": dict(model_type="qwen2", architectures=["Qwen2ForCausalLM"], vocab_size=1000, hidden_size=64,
                  intermediate_size=172, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                  max_position_embeddings=4096),
    "mistral": dict(model_type="mistral", architectures=["MistralForCausalLM"], vocab_size=1200, hidden_size=96,
                    intermediate_size=256, num_hidden_layers=2, num_attention_heads=6, num_key_value_heads=2,
                    max_position_embeddings=8192, sliding_window=None),
    "t5": dict(model_type="t5", architectures=["T5ForConditionalGeneration"], vocab_size=512, d_model=64,
               d_kv=16, d_ff=128, num_layers=2, num_decoder_layers=2, num_heads=4, n_positions=512),
}


@pytest.fixture
def no_network(monkeypatch):
    attempts = []

    def refuse(*a, **k):
        attempts.append(repr(a)[:120])
        raise OSError("network access attempted in a test")
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    return attempts


def _write(folder, cfg) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(cfg))
    return str(folder)


def _by_hand(name, cfg, seq):
    """The same model built directly with transformers on the meta device and counted as a module."""
    import torch
    import transformers
    config = transformers.AutoConfig.for_model(**cfg)
    auto = transformers.AutoModelForSeq2SeqLM if name == "t5" else transformers.AutoModelForCausalLM
    with torch.device("meta"):
        model = auto.from_config(config)
    inputs = {"input_ids": flopest.spec((1, seq), "int64")}
    if name == "t5":
        inputs["decoder_input_ids"] = flopest.spec((1, seq), "int64")
    return flopest.count(model, training=True, optimizer="adam", causal=name != "t5", **inputs)


@pytest.mark.parametrize("name", list(CONFIGS))
def test_estimate_hf_path_equals_the_model_built_by_hand(tmp_path, cli, no_network, name):
    path = _write(tmp_path / name, CONFIGS[name])
    r = cli(["estimate", f"hf:{path}", "--tokens", "2T", "--device", "h100-sxm", "--devices", "256",
             "--seq-len", "256", "--format", "json", "--samples", "500"])
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    hand = _by_hand(name, CONFIGS[name], 256)
    # 2e12 tokens / 256 per sequence = 7,812,500,000 sequences, each one counted pass (batch 1); the
    # optimizer runs once per global batch: no --batch-size, one counted sequence on each of the 256
    # devices = 256 sequences a step, ⌈7,812,500,000 / 256⌉ = 30,517,579 steps
    n = 2 * 10**12 // 256
    assert d["workload"]["factors"]["dataset_size"] == n == 7_812_500_000
    fb = hand.forward_flops + hand.backward_flops
    assert d["workload"]["factors"]["batch_size"] == 256
    assert d["flops"] == fb * n + hand.optimizer_flops * 30_517_579
    assert no_network == []


def test_a_hub_id_is_read_from_the_local_cache_only(tmp_path, monkeypatch, no_network):
    cache = tmp_path / "hub"
    snap = cache / "models--acme--tiny-qwen" / "snapshots" / "0123abcd"
    _write(snap, CONFIGS["qwen2"])
    (cache / "models--acme--tiny-qwen" / "refs").mkdir(parents=True)
    (cache / "models--acme--tiny-qwen" / "refs" / "main").write_text("0123abcd")
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HUGGINGFACE_HUB_CACHE", str(cache))
    import huggingface_hub.constants as hc
    monkeypatch.setattr(hc, "HF_HUB_CACHE", str(cache))
    c = flopest.count("hf:acme/tiny-qwen", seq_len=64)
    hand = flopest.count("hf:" + str(snap), seq_len=64)
    assert (c.flops, c.params) == (hand.flops, hand.params)
    assert c.causal and c.tokens_per_example == 64
    assert any("local Hugging Face cache" in n for n in c.notes)
    # not in the cache, hub offline: one clear error, still no network
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(FlopestError, match="not in the local Hugging Face cache"):
        flopest.count("hf:acme/missing-model")
    assert no_network == []


def test_causal_attention_by_default_for_a_causal_lm(tmp_path):
    path = _write(tmp_path / "q", CONFIGS["qwen2"])
    causal = flopest.count(f"hf:{path}", seq_len=128)
    full = flopest.count(f"hf:{path}", seq_len=128, causal=False)
    # attention per layer: full 2·4 heads·128²·(16+16) + 6·4·128² ; causal pairs 128·129/2 = 8,256
    heads, d, s = 4, 16, 128
    per_full = 2 * heads * s * s * 2 * d + 6 * heads * s * s
    per_causal = 2 * heads * 8_256 * 2 * d + 6 * heads * 8_256
    assert full.flops - causal.flops == 2 * (per_full - per_causal)


def test_bad_hf_specs_say_what_to_do(tmp_path, cli):
    r = cli(["count", "hf:" + str(tmp_path / "nothing-here")])
    assert r.returncode == 2 and "hub id" in r.stderr
    folder = tmp_path / "empty"
    folder.mkdir()
    r = cli(["count", f"hf:{folder}"])
    assert r.returncode == 2 and "no config.json" in r.stderr
    path = _write(tmp_path / "q", CONFIGS["qwen2"])
    r = cli(["count", f"hf:{path}", "--task", "classificaton"])
    assert r.returncode == 2 and "classification" in r.stderr
    r = cli(["count", f"hf:{path}", "--seq-len", "99999"])
    assert r.returncode == 2 and "context" in r.stderr
    r = cli(["count", "zoo:gpt2", "--seq-len", "64"])
    assert r.returncode == 2 and "hf:" in r.stderr


CHILD = """
import json, sys
import flopest
from tests.robustness._scale import peak_rss_kb
c = flopest.count("hf:" + sys.argv[1], seq_len=128)
print(json.dumps({"params": c.params, "matmul": c.matmul_flops, "rss_mb": peak_rss_kb() / 1024}))
"""


def test_a_70b_config_is_counted_in_under_2gb(tmp_path):
    # Llama-2-70B's shape: 80 layers, d 8,192, SwiGLU 28,672, 64 heads / 8 KV heads, vocabulary 32,000
    cfg = dict(model_type="llama", architectures=["LlamaForCausalLM"], vocab_size=32_000, hidden_size=8_192,
               intermediate_size=28_672, num_hidden_layers=80, num_attention_heads=64, num_key_value_heads=8,
               max_position_embeddings=4096)
    path = _write(tmp_path / "llama70b", cfg)
    r = subprocess.run([sys.executable, "-c", CHILD, path], cwd=ROOT, env=dict(os.environ, PYTHONPATH=ROOT),
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    d = json.loads(r.stdout.strip().splitlines()[-1])
    # per layer: attention 8192·8192·2 (q, o) + 8192·1024·2 (k, v) = 150,994,944; MLP 3·8192·28672
    # = 704,643,072; 2 norms 16,384 → 855,654,400 × 80 = 68,452,352,000; embeddings and LM head
    # 2·32,000·8,192 = 524,288,000; final norm 8,192 → 68,976,648,192
    assert d["params"] == 68_976_648_192
    assert d["rss_mb"] < 2048, d


def test_serve_and_check_take_an_hf_config(tmp_path, cli):
    import torch
    import transformers
    path = _write(tmp_path / "q", CONFIGS["qwen2"])
    via_hf = flopest.serve(f"hf:{path}", prompt_tokens=100, output_tokens=50, requests_per_day=1000,
                           device="h100-sxm", samples=500)
    with torch.device("meta"):
        module = transformers.AutoModelForCausalLM.from_config(transformers.AutoConfig.for_model(**CONFIGS["qwen2"]))
    by_hand = flopest.serve(module, prompt_tokens=100, output_tokens=50, requests_per_day=1000, device="h100-sxm",
                            samples=500)
    assert via_hf.to_dict()["flops_per_request"] == by_hand.to_dict()["flops_per_request"]
    r = cli(["check", f"hf:{path}", "--tokens", "1G", "--seq-len", "128", "--budget", "co2eq=1t", "--no-config",
             "--samples", "500"])
    assert r.returncode == 0 and "within budget" in r.stdout, r.stdout + r.stderr


def test_the_head_is_the_class_the_config_names(tmp_path):
    """GPT2LMHeadModel is a causal LM (transformers' own table says so, not a name suffix): its
    LM head and causal attention are counted. Before, it fell back to the base model and lost
    the head. A ViT image classifier gets its classifier; a speech model is refused by name."""
    tiny = dict(model_type="gpt2", vocab_size=500, n_embd=64, n_layer=2, n_head=4, n_positions=128)
    c = flopest.count("hf:" + _write(tmp_path / "gpt2", {**tiny, "architectures": ["GPT2LMHeadModel"]}))
    base = flopest.count("hf:" + _write(tmp_path / "gpt2base", tiny))   # no architectures: the base model
    assert c.causal and not base.causal
    # the LM head (tied to the embeddings): 2 · d · vocab per token, 128 tokens (the context)
    head = 2 * 64 * 500 * 128
    # attention, base (all 128² pairs) minus causal (128·129/2 pairs): QKᵀ and AV, 2 FLOPs per
    # multiply-add over a head dim of 16 and 4 heads, 2 layers
    full, causal_pairs = 128 * 128, 128 * 129 // 2
    attn_gap = 2 * 2 * 2 * 4 * 16 * (full - causal_pairs)
    assert c.matmul_flops - base.matmul_flops == head - attn_gap
    assert any("GPT2LMHeadModel" in n and "causal-lm" in n for n in c.notes)
    vit = dict(model_type="vit", architectures=["ViTForImageClassification"], hidden_size=32, num_hidden_layers=1,
               num_attention_heads=2, intermediate_size=64, image_size=32, patch_size=16, num_labels=10)
    v = flopest.count("hf:" + _write(tmp_path / "vit", vit))
    assert any("image-classification" in n for n in v.notes)
    vb = flopest.count("hf:" + _write(tmp_path / "vitbase", {k: x for k, x in vit.items() if k != "architectures"}))
    # the classifier on the [CLS] token, 2·32·10, in place of the base model's pooler, 2·32·32
    assert v.matmul_flops - vb.matmul_flops == 2 * 32 * 10 - 2 * 32 * 32
    whisper = dict(model_type="whisper", architectures=["WhisperForConditionalGeneration"], vocab_size=300, d_model=32,
                   encoder_layers=1, decoder_layers=1, encoder_attention_heads=2, decoder_attention_heads=2,
                   num_mel_bins=8, max_source_positions=16, max_target_positions=16)
    with pytest.raises(FlopestError, match="speech model"):
        flopest.count("hf:" + _write(tmp_path / "whisper", whisper))


def _attention_flops(c) -> int:
    return sum(r["flops"] for r in c.breakdown("op") if r["name"] == "aten.scaled_dot_product_attention")


def test_transformers_causal_and_sliding_masks_are_counted_as_such(tmp_path):
    """transformers passes SDPA a mask tensor (not is_causal) for a sliding window; it was counted
    over every query-key pair (Mistral at 8k tokens: +17% FLOPs). A tiny Mistral, 2 layers, 4
    heads of 16, 64 tokens, window 16: query i sees keys i-15..i, so the first 16 queries see
    1..16 keys (136 pairs) and the other 48 see 16 (768): 904 pairs a head. Per layer:
    QKᵀ and AV 2·4·904·(16 + 16) = 231,424, scale and softmax 6·4·904 = 21,696."""
    cfg = dict(model_type="mistral", architectures=["MistralForCausalLM"], vocab_size=1000, hidden_size=64,
               intermediate_size=128, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
               max_position_embeddings=4096, sliding_window=16)
    c = flopest.count("hf:" + _write(tmp_path / "w16", cfg), seq_len=64)
    assert _attention_flops(c) == 2 * (2 * 4 * 904 * 32 + 6 * 4 * 904)
    # no window: causal, 64·65/2 = 2,080 pairs a head
    c = flopest.count("hf:" + _write(tmp_path / "causal", {**cfg, "sliding_window": None}), seq_len=64)
    assert _attention_flops(c) == 2 * (2 * 4 * 2080 * 32 + 6 * 4 * 2080)
    # --no-causal (causal=False) counts every pair: 64·64
    c = flopest.count("hf:" + _write(tmp_path / "w16b", cfg), seq_len=64, causal=False)
    assert _attention_flops(c) == 2 * (2 * 4 * 4096 * 32 + 6 * 4 * 4096)


def test_serving_prefill_is_causal_within_the_window(tmp_path):
    """flopest serve's prefill passes transformers a cache, which makes it build a mask: the
    prefill was counted over every pair. Window 16 against none, 64 prompt tokens: the
    difference is the attention products alone, 2 layers × 2·4·(2,080 − 904)·32."""
    cfg = dict(model_type="mistral", architectures=["MistralForCausalLM"], vocab_size=1000, hidden_size=64,
               intermediate_size=128, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
               max_position_embeddings=4096, sliding_window=16)
    kw = dict(prompt_tokens=64, output_tokens=8, requests_per_day=1000, device="h100-sxm", samples=500)
    w = flopest.serve("hf:" + _write(tmp_path / "w16", cfg), **kw).to_dict()
    c = flopest.serve("hf:" + _write(tmp_path / "causal", {**cfg, "sliding_window": None}), **kw).to_dict()
    gap = c["matmul_flops_per_request"]["prefill"] - w["matmul_flops_per_request"]["prefill"]
    assert gap == 2 * 2 * 4 * (2080 - 904) * 32
    assert any("sliding window of 16" in n for n in w["notes"])


def test_a_causal_forward_with_a_full_backward_says_so(tmp_path):
    """The forward SDPA is causal, its backward (on meta tensors, the math path's bmm) covers every
    pair: the count must say that its backward is an upper bound, not leave it silent."""
    c = flopest.count("hf:" + _write(tmp_path / "q", CONFIGS["qwen2"]), seq_len=64, training=True)
    assert any("backward of 2 causal attention call(s)" in n for n in c.notes), c.notes
    fwd_only = flopest.count("hf:" + _write(tmp_path / "q2", CONFIGS["qwen2"]), seq_len=64)
    assert not any("backward of" in n for n in fwd_only.notes)


def test_a_mixture_of_experts_config_that_cannot_be_captured_names_the_way_out(tmp_path):
    """transformers' expert routing depends on token values (and its grouped kernels on dtypes):
    the error names the balanced-routing estimate with the config's own expert counts."""
    cfg = dict(model_type="mixtral", architectures=["MixtralForCausalLM"], vocab_size=500, hidden_size=64,
               intermediate_size=96, num_hidden_layers=1, num_attention_heads=4, num_key_value_heads=2,
               num_local_experts=4, num_experts_per_tok=2, max_position_embeddings=256)
    with pytest.raises(FlopestError, match="--experts 4 --active-experts 2"):
        flopest.count("hf:" + _write(tmp_path / "moe", cfg), seq_len=32)


def test_eager_attention_under_a_causal_mask_says_it_is_counted_in_full():
    """transformers' eager attention adds the causal mask to matmul scores: the products cover
    every pair; the count must say so (SDPA attention is counted causal, without the note)."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM
    cfg = dict(vocab_size=500, hidden_size=64, intermediate_size=128, num_hidden_layers=1, num_attention_heads=4,
               max_position_embeddings=256)
    notes = {}
    for impl in ("eager", "sdpa"):
        with torch.device("meta"):
            m = LlamaForCausalLM(LlamaConfig(**cfg, attn_implementation=impl))
        c = flopest.count(m, input_ids=flopest.spec((1, 64), "int64"), causal=True)
        notes[impl] = [n for n in c.notes if "eager attention" in n]
    assert notes["eager"] and not notes["sdpa"]


@pytest.mark.torch
def test_a_batch_that_is_not_a_whole_number_is_refused_for_every_kind():
    """batch=0 (it had silently become 1 for hf:), 2.5 and True are not batches."""
    import flopest
    for b in (0, 2.5, True):
        with pytest.raises(flopest.InputError, match="batch"):
            flopest.count("zoo:bert_base", batch=b)
