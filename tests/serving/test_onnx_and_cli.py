"""`flopest serve` on ONNX models (a decoder export taking past key/values, and a one-forward
classifier), its output formats, and bad input as one line with exit 2 (as a subprocess)."""

import json
import os
import subprocess
import sys

import pytest

from flopest.cli import main
from flopest.errors import ServingError
from flopest.impact import serve
from flopest.models import generation_cost_onnx

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def run(argv, capsys):
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


# ---------------------------------------------------------------- a tiny decoder exported with its KV cache
V, D, H, L = 100, 32, 2, 2      # vocab, width, heads (head dim 16), layers


def decoder_module():
    """The tiny decoder (2 blocks, width 32, 2 heads) taking and returning its past keys and values."""
    import torch
    from torch import nn

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.qkv, self.o = nn.Linear(D, 3 * D), nn.Linear(D, D)
            self.f1, self.f2 = nn.Linear(D, 4 * D), nn.Linear(4 * D, D)

        def forward(self, x, pk, pv):
            B, T, _ = x.shape                                                  # (B, T, C)
            q, k, v = (t.view(B, T, H, D // H).transpose(1, 2) for t in self.qkv(x).split(D, dim=-1))
            k, v = torch.cat([pk, k], 2), torch.cat([pv, v], 2)               # (B, H, past + T, hd)
            a = torch.softmax(q @ k.transpose(-1, -2) / 4.0, -1) @ v
            x = x + self.o(a.transpose(1, 2).reshape(B, T, D))
            return x + self.f2(torch.relu(self.f1(x))), k, v

    class Decoder(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb, self.blocks = nn.Embedding(V, D), nn.ModuleList([Block(), Block()])
            self.head = nn.Linear(D, V, bias=False)

        def forward(self, input_ids, pk0, pv0, pk1, pv1):
            x, out = self.emb(input_ids), []
            for b, (pk, pv) in zip(self.blocks, ((pk0, pv0), (pk1, pv1))):
                x, k, v = b(x, pk, pv)
                out += [k, v]
            return (self.head(x), *out)

    return Decoder().eval()


@pytest.fixture(scope="module")
def decoder_path(tmp_path_factory):
    import torch
    path = tmp_path_factory.mktemp("dec") / "decoder_with_past.onnx"
    names = ["past_key_values.0.key", "past_key_values.0.value", "past_key_values.1.key", "past_key_values.1.value"]
    axes = {"input_ids": {0: "batch", 1: "sequence"}, **{n: {0: "batch", 2: "past_sequence"} for n in names}}
    past = torch.zeros(1, H, 5, D // H)
    torch.onnx.export(decoder_module(), (torch.zeros(1, 3, dtype=torch.long), past, past, past, past), str(path),
                      input_names=["input_ids"] + names, output_names=["logits", "k0", "v0", "k1", "v1"],
                      dynamic_axes=axes, dynamo=False, opset_version=17)
    return str(path)


# matrix-product weights: 2 × (qkv 32·96 + o 32·32 + f1 32·128 + f2 128·32) + head 32·100 = 24,576 + 3,200
NMM = L * (D * 3 * D + D * D + 2 * D * 4 * D) + D * V
assert NMM == 27_776


@pytest.mark.torch
def test_onnx_decoder_cost(decoder_path):
    c = generation_cost_onnx(decoder_path, 7, 6)
    # decode step with p cached: 2·27,776 + 2 layers × (QKᵀ 2·32 + AV 2·32) × (p + 1) = 55,552 + 256·(p + 1)
    for p in (7, 9, 11):
        assert c.decode_matmul_flops(p) == 2 * NMM + L * 4 * D * (p + 1)
    assert c.matmul_params == NMM
    # prefill at 7 tokens, past 0 (this export computes logits at every position):
    # 2·7·27,776 + 2 layers × 2·2·7²·32 = 388,864 + 12,544 = 401,408
    assert c.prefill_matmul_flops == 2 * 7 * NMM + L * 4 * 7 * 7 * D == 401_408
    # the cache: 4 past inputs of (batch, 2 heads, past, 16) = 4 × 32 = 128 elements per token
    assert c.kv_elements_per_token == 128
    # 5 decode steps at p = 7 … 11: 5 × 55,552 + 256 × (8 + … + 12 = 50)
    assert c.decode_total(c.decode_matmul_flops) == 5 * 55_552 + 256 * 50
    assert c.frontend == "onnx" and c.captured_positions == (7, 8, 9, 11)


@pytest.mark.torch
def test_onnx_decoder_served_in_every_format(decoder_path, capsys, tmp_path):
    base = ["serve", decoder_path, "--prompt-tokens", "7", "--output-tokens", "6", "--requests-per-day", "10M",
            "--device", "l4", "--region", "FR", "--batch", "4", "--samples", "5000"]
    code, out, err = run(base + ["--format", "json"], capsys)
    assert code == 0, err
    d = json.loads(out)
    assert d["mode"] == "generate" and d["batch"] == 4
    assert d["matmul_flops_per_request"]["prefill"] == 401_408
    assert d["time_model"]["model"] == "per-operator" and set(d["time_model"]["split"]) == {"prefill", "decode"}
    for fmt, marker in (("table", "flopest serve"), ("markdown", "| latency per request"), ("csv", "latency_s,")):
        code, out, err = run(base + ["--format", fmt], capsys)
        assert code == 0 and marker in out, (fmt, err)
        if fmt != "csv":   # the time of a batch by pass, and the costliest operators of a decode step
            assert "time per batch, per-operator model" in out or "pass (one batch" in out, fmt
            assert "decode, all steps" in out and "costliest operators" in out, fmt
    target = tmp_path / "serve.md"
    code, out, err = run(base + ["--format", "markdown", "--output", str(target)], capsys)
    assert code == 0 and out == "" and "CO₂eq per month" in target.read_text()
    assert [p.name for p in tmp_path.iterdir()] == ["serve.md"]     # written atomically: no temp file left


def test_onnx_classifier_one_forward_per_request(mlp_path):
    # conftest's mlp: x(batch, 64) @ W(64, 32) + b, Relu. Per example 2·64·32 + 32 + 32 = 4,160 FLOPs
    e = serve(mlp_path, requests_per_day="1M", batch=8, device="h100-sxm", mfu=0.5, mbu=0.5, power_w=100,
              days=1, pue=1.0, intensity=100, samples=1000)
    d = e.to_dict()
    assert d["mode"] == "forward" and d["flops_per_request"]["forward"] == 4160
    # batch 8 on the graph's bytes (float32): MatMul 8·64·4 + 64·32·4 + 8·32·4 = 11,264; Add 1,024 + 128 +
    # 1,024; Relu 1,024 + 1,024 → 15,488 B, served in bf16: × 2/4 = 7,744 B; 8 × 4,160 = 33,280 FLOPs
    # → max(33,280 / (989.4e12 × 0.5), 7,744 / (3.35e12 × 0.5)) = 4.62 ns per batch of 8
    assert d["latency_s"]["p50"] == pytest.approx(max(33_280 / (989.4e12 * 0.5), 7_744 / (3350e9 * 0.5)))
    assert d["graph_bytes_per_request"]["forward"] == 15_488 / 8    # as counted, float32
    assert d["examples_per_s"]["p50"] == pytest.approx(8 / d["latency_s"]["p50"])
    # 1 device at 100 W for 24 h = 2.4 kWh
    assert d["devices_needed"]["p50"] == 1 and d["energy_kwh"]["p50"] == pytest.approx(2.4)


def test_onnx_without_past_cannot_generate(mlp_path):
    with pytest.raises(ServingError, match="no past key/value inputs"):
        serve(mlp_path, prompt_tokens=10, output_tokens=5, requests_per_day=1000, samples=100)


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "flopest", "serve", *args], capture_output=True, text=True,
                          timeout=300, cwd=ROOT, check=False)


GOOD = ["--params", "7B", "--layers", "32", "--d-model", "4096", "--context", "4096", "--prompt-tokens", "500",
        "--output-tokens", "300", "--requests-per-day", "1M", "--samples", "1000"]


@pytest.mark.parametrize("flag, value, fix", [
    ("--prompt-tokens", "0", "positive whole number"), ("--output-tokens", "-3", "positive whole number"),
    ("--requests-per-day", "0", "positive number"), ("--max-latency", "0ms", "positive duration"),
    ("--max-latency=-200ms", None, "positive duration"), ("--max-latency", "2 parsecs", "not a duration"),
    ("--batch", "0", "positive whole number"),
    ("--output-tokens", "3900", "exceed the model's context of 4,096")])
def test_bad_input_one_line_exit_2(flag, value, fix):
    argv = list(GOOD)
    if flag in argv:
        argv[argv.index(flag) + 1] = value
    else:
        argv += [flag] if value is None else [flag, value]
    r = _cli(*argv)
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in r.stderr, r.stderr
    assert flag.split("=")[0] in lines[0] and fix in lines[0], lines[0]


@pytest.mark.torch
def test_context_of_a_zoo_model_exit_2():
    # GPT-2's context is n_positions = 1024: 1,000 + 100 tokens do not fit
    r = _cli("zoo:gpt2", "--prompt-tokens", "1000", "--output-tokens", "100", "--requests-per-day", "1M")
    assert r.returncode == 2, r.stderr
    line = r.stderr.strip().splitlines()
    assert len(line) == 1 and "exceed the model's context of 1,024" in line[0] and "--prompt-tokens" in line[0]


def test_cli_chatgpt_month_as_a_subprocess():
    r = _cli("--wh-per-request", "3.96", "--requests-per-day", "195M", "--days", "30", "--pue", "1.1",
             "--intensity", "390", "--servers", "3617", "--server-embodied-kg", "4900", "--lifetime-years", "6",
             "--format", "json")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    # 25,482,600 kWh; 9,938,214 kg scope 2; 242,785 kg scope 3 (see test_seed_cases.py for the arithmetic)
    assert d["energy_kwh"]["p50"] == pytest.approx(25_482_600)
    assert d["co2eq_kg_by_scope"]["scope2"]["p50"] == pytest.approx(9_938_214)
    assert d["co2eq_kg_by_scope"]["scope3"]["p50"] == pytest.approx(242_785, rel=1e-5)


def test_missing_load_and_conflicts(capsys):
    code, _, err = run(["serve", "--params", "7B", "--prompt-tokens", "5", "--output-tokens", "5"], capsys)
    assert code == 2 and "--requests-per-day" in err
    code, _, err = run(["serve", "zoo:gpt2", "--wh-per-request", "3", "--requests-per-day", "1"], capsys)
    assert code == 2 and "--wh-per-request" in err and len(err.strip().splitlines()) == 1


@pytest.mark.torch
def test_serve_refuses_keywords_its_model_does_not_read():
    """A keyword the chosen way in does not read is an error, never ignored: dims or example inputs
    with wh_per_request or params; a KV-cache shape with a module served one forward a request."""
    import torch

    import flopest
    base = dict(requests_per_day=1e6, days=30, samples=1000)
    for kw in (dict(wh_per_request=0.3, dims={"batch": 1}), dict(wh_per_request=0.3, seq_dim="s"),
               dict(params=1e9, prompt_tokens=100, output_tokens=20, dims={"batch": 1})):
        with pytest.raises(flopest.InputError):
            flopest.serve(**base, **kw)
    with pytest.raises(flopest.InputError, match="context"):
        flopest.serve(torch.nn.Linear(8, 8), flopest.spec((1, 8)), context=2048, **base)
