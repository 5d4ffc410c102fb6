"""The params path goes through the same model (issue 16 item 5): `--params/--tokens` with the
architecture builds a Llama-shaped decoder on the meta device, so its step time, memory, layout
and communication are those of a captured graph; for the same architecture the graph path (an
hf: config) and the params path agree."""

from __future__ import annotations

import json

import pytest

import flopest
from flopest.errors import FlopestError

pytestmark = pytest.mark.torch

SHAPE = {"layers": 4, "d_model": 512, "heads": 8, "kv_heads": 4, "ffn": 1536, "vocab": 1000, "seq": 256}


def _params(s=SHAPE):
    """Parameters of the Llama shape by hand: embeddings and untied head 2·V·d, final norm d,
    per layer q and o 2·d², k and v 2·d·kv·(d/h), gate/up/down 3·d·ffn, two norms 2·d."""
    d, L, V, kv, h, f = s["d_model"], s["layers"], s["vocab"], s["kv_heads"], s["heads"], s["ffn"]
    return 2 * V * d + d + L * (2 * d * d + 2 * d * kv * (d // h) + 3 * d * f + 2 * d)


@pytest.fixture(scope="module")
def config_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("llama_small")
    s = SHAPE
    (d / "config.json").write_text(json.dumps({
        "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": s["d_model"],
        "intermediate_size": s["ffn"], "num_attention_heads": s["heads"], "num_key_value_heads": s["kv_heads"],
        "num_hidden_layers": s["layers"], "vocab_size": s["vocab"], "max_position_embeddings": s["seq"],
        "tie_word_embeddings": False}))
    return str(d)


def test_graph_path_and_params_path_agree(config_dir):
    kw = dict(device="h100-sxm", n_devices=8, samples=4000)
    c = flopest.count(f"hf:{config_dir}", training=True, seq_len=SHAPE["seq"], optimizer="adamw")
    assert c.params == _params()
    via_graph = flopest.estimate(c, tokens=1e9, batch_size=8, **kw)
    via_params = flopest.estimate(params=_params(), tokens=1e9, layers=SHAPE["layers"], d_model=SHAPE["d_model"],
                                  seq_len=SHAPE["seq"], heads=SHAPE["heads"], kv_heads=SHAPE["kv_heads"],
                                  vocab=SHAPE["vocab"], batch_size=8, **kw)   # the MLP width solved from N
    assert via_params.flops == via_graph.flops
    assert via_params.time_s["p50"] == pytest.approx(via_graph.time_s["p50"], rel=0.10)
    assert via_params.step is not None and via_params.memory is not None
    # what differs from 6·N·D is said
    assert any("6·N·D" in n and "graph of the --params plan" in n for n in via_params.notes)
    six = flopest.estimate(params=_params(), tokens=1e9, layers=SHAPE["layers"], d_model=SHAPE["d_model"],
                           seq_len=SHAPE["seq"], graph=False, **kw)
    assert six.step is None and six.flops != via_params.flops


def test_cli_params_graph_flags(cli):
    base = ["estimate", "--params", str(_params()), "--tokens", "1B", "--layers", "4", "--d-model", "512",
            "--seq-len", "256", "--heads", "8", "--kv-heads", "4", "--vocab", "1000", "--device", "h100-sxm",
            "--devices", "8", "--samples", "1000", "--format", "json"]
    r = cli(base + ["--micro-batch", "2", "--tp", "2"])
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["step"]["layout"]["tensor_parallel"] == 2 and d["memory"]["layout"]["micro_batch"] == 2
    # without the architecture the shape flags are an error naming them
    r = cli(["estimate", "--params", "7B", "--tokens", "1T", "--heads", "32"])
    assert r.returncode == 2 and "--heads" in r.stderr and "--layers" in r.stderr
    r = cli(["estimate", "--params", "1M", "--tokens", "1B", "--layers", "32", "--d-model", "4096", "--seq-len",
             "128"])
    assert r.returncode == 2 and "too few" in r.stderr


def test_api_refuses_shape_keywords_on_a_6nd_plan():
    with pytest.raises(FlopestError, match="heads"):
        flopest.estimate(params=7e9, tokens=1e12, device="h100-sxm", heads=32, graph=False)


def test_a_teacher_model_counted_forward_per_token(config_dir):
    # the teacher is the same decoder counted forward-only: its FLOPs per token × the student's tokens
    student = flopest.count(f"hf:{config_dir}", training=True, seq_len=SHAPE["seq"], optimizer="adamw")
    teacher = flopest.count(f"hf:{config_dir}", seq_len=SHAPE["seq"])
    kw = dict(tokens=SHAPE["seq"] * 1000, batch_size=8, device="h100-sxm", samples=1000, goodput=False)
    base = flopest.estimate(student, **kw)
    est = flopest.estimate(student, teacher=teacher, **kw)
    per_token = teacher.forward_flops / SHAPE["seq"]          # one sequence of `seq` tokens counted
    assert est.flops - base.flops == round(per_token * SHAPE["seq"] * 1000)


def test_a_mixture_of_experts_by_its_shape():
    # Mixtral-8x7B-shaped (Jiang et al. 2024: 32 layers, d 4096, 32 heads, 8 KV heads, 8 experts of
    # width 14,336, 2 active, vocabulary 32,000): 46.7e9 parameters by hand, and the MLP width
    # solved from them is the published 14,336
    L, d, kv, hd, V, E, f = 32, 4096, 8, 128, 32000, 8, 14336
    n = 2 * V * d + d + L * (2 * d * d + 2 * d * kv * hd + 2 * d + 3 * d * f * E + d * E)
    kw = dict(params=n, tokens=1e9, layers=L, d_model=d, seq_len=256, heads=32, kv_heads=kv, vocab=V, experts=E,
              active_experts=2, device="h100-sxm", n_devices=64, batch_size=64, samples=1000, goodput=False)
    est = flopest.estimate(**kw, expert_parallel=8)
    assert "MLP 28,672" in " ".join(est.notes) and est.memory is not None     # 2 active experts × 14,336
    # the counted parameters are the whole model's (every expert: memory, optimizer, gradients)
    assert est.workload.factors["optimizer_flops_per_step"] == 16 * n          # AdamW: 16 FLOPs a parameter
    lay = est.step["layout"]
    assert lay["expert_parallel"] == 8 and lay["ep_comm_s"] > 0
    # the compute per token is that of 2 experts, not 8: fewer FLOPs than 6·N·D
    assert est.flops < 0.5 * 6 * n * 1e9
    # at the same layout, the experts not sharded hold 7/8 of the expert weights more per device
    a = flopest.estimate(**kw, expert_parallel=8, tensor_parallel=1, pipeline_parallel=1)
    b = flopest.estimate(**kw, tensor_parallel=1, pipeline_parallel=1)
    expert = L * 3 * d * f * E
    assert b.memory["terms_bytes"]["optimizer states"] - a.memory["terms_bytes"]["optimizer states"] == \
        pytest.approx(8 * expert * 7 / 8)                                       # Adam: 8 B a parameter
    with pytest.raises(FlopestError, match="expert_parallel"):
        flopest.estimate(**kw, expert_parallel=3)


def test_params_contradicting_the_shape_are_refused_and_the_batch_checked():
    with pytest.raises(FlopestError, match="parameters, not the"):
        flopest.estimate(params=1e6, tokens=1e9, layers=4, d_model=512, seq_len=256, heads=8, vocab=1000,
                         ffn=1536, device="h100-sxm", samples=300)
    with pytest.raises(FlopestError, match="smaller than the"):
        flopest.estimate(params=_params(), tokens=1e9, layers=4, d_model=512, seq_len=256, heads=8, kv_heads=4,
                         vocab=1000, device="h100-sxm", n_devices=8, batch_size=4, samples=300)
    with pytest.raises(FlopestError, match="pipeline"):
        flopest.estimate(params=_params(), tokens=1e9, layers=4, d_model=512, seq_len=256, heads=8, kv_heads=4,
                         vocab=1000, device="h100-sxm", n_devices=8, virtual_stages=2, samples=300)


def test_a_model_on_many_devices_defaults_to_data_parallel_batches(config_dir):
    c = flopest.count(f"hf:{config_dir}", training=True, seq_len=SHAPE["seq"], optimizer="adamw")
    one = flopest.estimate(c, tokens=1e8, device="h100-sxm", samples=500, goodput=False)
    eight = flopest.estimate(c, tokens=1e8, device="h100-sxm", n_devices=8, samples=500, goodput=False)
    # one counted sequence per device and step: 8 devices take about an eighth of the time, not longer
    assert eight.workload.factors["batch_size"] == 8
    assert eight.time_s["p50"] < one.time_s["p50"] / 4
    assert any("no batch size given" in n for n in eight.notes)


@pytest.mark.torch
def test_the_default_batch_note_follows_the_layout_chosen():
    """256 devices, micro-batch 1, no batch given: 256 sequences a step; when flopest chooses a
    layout with tensor × pipeline = k, the note says 256 / (256 / k) sequences per replica, and
    no other note contradicts it with 256 replicas."""
    import flopest
    e = flopest.estimate(params=7e9, tokens=1e12, layers=32, d_model=4096, seq_len=4096, device="h100-sxm",
                         n_devices=256, samples=2000)
    lay = e.step["layout"]
    k = lay["tensor_parallel"] * lay["pipeline_parallel"]
    batch = [n for n in e.notes if n.startswith("batch:")]
    assert len(batch) == 1
    if k > 1:
        assert f"runs as {k:g} sequence(s) per data-parallel replica" in batch[0]
        assert "× 256 replicas" not in " ".join(e.notes)
