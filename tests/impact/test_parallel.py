"""Parallel layout, communication and goodput (issue 16 items 2-4): each term against hand
arithmetic, the layout chosen to fit memory, and a 1,024-GPU plan of a 70B model whose report
shows its layout, communication share and goodput terms with their sources."""

from __future__ import annotations

import json
import math
from types import SimpleNamespace

import pytest

import flopest
from flopest.errors import FlopestError
from flopest.impact import goodput as gp
from flopest.impact import parallel


# ----------------------------------------------------------------------------- goodput
def test_goodput_terms_by_hand():
    g = gp.goodput(16384, 1e6, 1e9, precision="bf16", optimizer="adam", failure_rate=2e-5, restart_s=600,
                   write_gbps=0.1)
    ckpt = 1e9 * (2 + 4 + 8)                       # bf16 weights + fp32 master + Adam m, v: 14 B/param
    delta = ckpt / (16384 * 0.1e9)                 # 8.54 s to write it
    m = 3600 / (16384 * 2e-5)                      # 10,986 s between failures of the job
    tau = math.sqrt(2 * delta * m)                 # Young's interval, 433 s
    n_ckpt = math.ceil(1e6 / tau) - 1              # intermediate checkpoints in 1e6 s of work
    wall = 1e6 * (1 + n_ckpt * delta / 1e6) / (1 - (tau / 2 + 600) / m)
    assert g.checkpoint_bytes == ckpt
    assert g.checkpoint_s == pytest.approx(delta) and g.interval_s == pytest.approx(tau)
    assert g.mtbf_h == pytest.approx(m / 3600)
    assert g.goodput["p50"] == pytest.approx(1e6 / wall, rel=1e-12)   # ≈ 0.908
    # given values fix the inputs: no range left
    assert g.goodput["p5"] == g.goodput["p50"] == g.goodput["p95"]


def test_goodput_of_a_short_or_small_run_is_about_one():
    # one device for an hour: a failure every ~43,000 h, no intermediate checkpoint (τ > the run)
    g = gp.goodput(1, 3600, 1e8)
    assert g.checkpoint_share == 0 and 1 - g.goodput["p50"] < 1e-4


def test_goodput_of_llama3_holds_the_published_figure():
    # Llama 3 405B: 54 days on 16,384 H100, "higher than 90% effective training time" (Llama Team
    # 2024, arXiv:2407.21783 §3.3.4): the default priors' p5-p95 hold it, and with its own failure
    # rate (419 / (54 × 24 × 16,384) = 1.97e-5 per GPU-hour) the p50 is within a few points of it
    g = gp.goodput(16384, 54 * 24 * 3600 * 0.9, 405e9)
    assert g.goodput["p5"] < 0.90 < g.goodput["p95"]
    own = gp.goodput(16384, 54 * 24 * 3600 * 0.9, 405e9, failure_rate=419 / (54 * 24 * 16384))
    assert 0.85 < own.goodput["p50"] < 0.97


def test_goodput_lengthens_the_estimate_and_is_overridable():
    kw = dict(params=7e9, tokens=1e12, device="h100-sxm", n_devices=512, samples=4000, mfu=0.4)
    base = flopest.estimate(**kw, goodput=False)
    est = flopest.estimate(**kw, failure_rate=5e-5, restart_s=1200, checkpoint_write_gbps=0.2)
    g = est.goodput["goodput"]
    assert g["p5"] == g["p50"] == g["p95"]          # every input given: the goodput is fixed
    # the time is the failure-free time / goodput (the MFU given is fixed too)
    assert est.time_s["p50"] == pytest.approx(base.time_s["p50"] / g["p50"], rel=1e-9)
    assert any("goodput" in n for n in est.notes)
    with pytest.raises(FlopestError, match="goodput"):
        flopest.estimate(**kw, goodput=False, failure_rate=1e-5)
    with pytest.raises(FlopestError, match="accelerator_hours"):
        flopest.estimate(accelerator_hours=100, device="h100-sxm", failure_rate=1e-5)


# ----------------------------------------------------------------------------- communication
def _blocks(n_blocks: int, block_in: int):
    saved = {f"layers.{i}": 10 * block_in for i in range(n_blocks)}
    return SimpleNamespace(saved_bytes_by_module=saved,
                           module_input_bytes={f"layers.{i}": block_in for i in range(n_blocks)})


def test_communication_terms_by_hand():
    c = _blocks(4, 1_000_000)                       # 4 blocks whose input is 1 MB (fp32)
    link, net, eff = 450.0, 50.0, 0.67              # h100-sxm: NVLink and NIC GB/s per direction
    lay = parallel.communication(c, device="h100-sxm", precision="bf16", tp=2, pp=2, dp=8, sharding="none",
                                 params=1e9, examples_per_step=256, examples_per_pass=4, backward_s_per_step=0.5,
                                 step_s=1.0, link_gbps=link, link_efficiency=eff, grad_bytes=4,
                                 bucket_bytes=25 * 2**20)
    L, N = link * 1e9 * eff, net * 1e9 * eff
    g_bytes = 1e9 / 4 * 4                           # fp32 gradients of the 1/(t·p) of the parameters
    g, k = 4, 2                                     # 8 devices a node / t = 4 peers in a node; 2 nodes
    dp = 2 * 3 / 4 * g_bytes / L + 2 * 1 / 2 * g_bytes / 4 / N
    assert lay.dp_comm_s == pytest.approx(dp, rel=1e-12)
    # the 0.5 s backward hides it all but the last bucket's all-reduce (over the network: 2 nodes)
    assert lay.dp_exposed_s == pytest.approx(2 * 7 / 8 * 25 * 2**20 / N, rel=1e-12)
    m = 256 / (8 * 4)                               # 8 micro-batches of 4 per step and replica
    assert lay.micro_batches == 8
    x = 1_000_000 / 2                               # block input at bf16
    assert lay.tp_comm_s == pytest.approx(m * 4 * (4 * 2 * 1 / 2 * x) / 2 / L, rel=1e-12)
    assert lay.bubble == pytest.approx(1 / (8 + 1))                  # (p − 1) / (m + p − 1)
    assert lay.pp_comm_s == pytest.approx(2 * m * x / 2 / L, rel=1e-12)   # t·p = 4 ≤ 8: within a node


def test_interleaved_schedule_divides_the_bubble():
    c = _blocks(4, 1_000_000)
    kw = dict(device="h100-sxm", precision="bf16", tp=1, pp=4, dp=2, sharding="none", params=1e9,
              examples_per_step=16, examples_per_pass=1, backward_s_per_step=1.0, step_s=2.0, link_gbps=450,
              link_efficiency=0.67, grad_bytes=4, bucket_bytes=25 * 2**20)
    plain = parallel.communication(c, **kw)
    inter = parallel.communication(c, virtual_stages=3, **kw)
    m = 16 / 2                                       # 8 micro-batches per step and replica
    assert plain.bubble == pytest.approx(3 / (8 + 3))                       # (p − 1) / (m + p − 1)
    assert inter.bubble == pytest.approx((3 / 3) / (8 + 3 / 3))             # (p − 1)/v / (m + (p − 1)/v)
    assert inter.pp_comm_s == pytest.approx(3 * plain.pp_comm_s)             # one send per chunk
    assert m == inter.micro_batches


def test_zero3_moves_half_again_as_much():
    c = _blocks(2, 1000)
    kw = dict(device="h100-sxm", precision="bf16", tp=1, pp=1, dp=16, params=1e9, examples_per_step=16,
              examples_per_pass=1, backward_s_per_step=0.0, step_s=1.0, link_gbps=450, link_efficiency=0.67,
              grad_bytes=4, bucket_bytes=25 * 2**20)
    assert parallel.communication(c, sharding="zero3", **kw).dp_comm_s == pytest.approx(
        1.5 * parallel.communication(c, sharding="none", **kw).dp_comm_s, rel=1e-12)


# ----------------------------------------------------------------------------- layout on a 70B model
@pytest.fixture(scope="module")
def llama70b(tmp_path_factory):
    """A Llama-2-70B-shaped config (Touvron et al. 2023: 80 layers, d 8192, FFN 28,672, 64 heads,
    8 KV heads), counted for training on the meta device at 4,096 tokens."""
    pytest.importorskip("transformers")
    d = tmp_path_factory.mktemp("llama70b")
    (d / "config.json").write_text(json.dumps({
        "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 8192,
        "intermediate_size": 28672, "num_attention_heads": 64, "num_key_value_heads": 8,
        "num_hidden_layers": 80, "vocab_size": 32000, "max_position_embeddings": 4096, "rms_norm_eps": 1e-5}))
    return str(d)


@pytest.mark.torch
def test_a_70b_model_on_8_gpus_without_sharding_does_not_fit(llama70b):
    c = flopest.count(f"hf:{llama70b}", training=True, seq_len=4096)
    est = flopest.estimate(c, dataset_size=1000, batch_size=8, device="h100-sxm", n_devices=8,
                           tensor_parallel=1, pipeline_parallel=1, samples=2000)
    # 6.9e10 parameters × (2 + 4 + 2 + 8) B = 1.1 TB on each of 8 × 80 GB devices
    assert est.memory["fits"] is False
    assert est.memory["terms_bytes"]["optimizer states"] == pytest.approx(c.params * 8)
    assert any("does not fit" in n and "fix:" in n for n in est.notes)
    # chosen instead: model parallelism until it fits
    chosen = flopest.estimate(c, dataset_size=1000, batch_size=8, device="h100-sxm", n_devices=64, samples=2000)
    lay = chosen.step["layout"]
    assert lay["chosen"] and lay["tensor_parallel"] * lay["pipeline_parallel"] > 1
    assert lay["tensor_parallel"] <= 8 and chosen.memory["fits"] is True


@pytest.mark.torch
def test_a_1024_gpu_plan_shows_layout_communication_and_goodput(llama70b, cli):
    r = cli(["estimate", f"hf:{llama70b}", "--seq-len", "4096", "--micro-batch", "1", "--tokens", "2T",
             "--device", "h100-sxm", "--devices", "1024", "--format", "json", "--samples", "2000"])
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    lay = d["step"]["layout"]
    assert lay["tensor_parallel"] * lay["pipeline_parallel"] * lay["data_parallel"] == 1024
    assert lay["tp_comm_s"] > 0 and lay["dp_comm_s"] > 0 and 0 < d["step"]["communication_share"] < 1
    assert set(lay["sources"]) == {"layout", "data parallel", "tensor parallel", "pipeline", "expert parallel"}
    g = d["goodput"]
    assert 0.5 < g["goodput"]["p5"] <= g["goodput"]["p50"] <= g["goodput"]["p95"] < 1
    assert "Llama" in g["sources"]["failure rate per accelerator-hour"]
    assert "Young 1974" in g["sources"]["checkpoint interval"]
    r = cli(["estimate", f"hf:{llama70b}", "--seq-len", "4096", "--micro-batch", "1", "--tokens", "2T",
             "--device", "h100-sxm", "--devices", "1024", "--format", "markdown", "--samples", "2000"])
    assert r.returncode == 0, r.stderr
    for shown in ("parallel layout", "tensor-parallel all-reduces", "pipeline bubble", "goodput",
                  "failures and restarts", "checkpoint writes", "Narayanan et al. 2021", "Kokolis et al."):
        assert shown in r.stdout, shown


def test_cli_layout_and_goodput_flags_are_checked(cli):
    base = ["estimate", "--params", "7B", "--tokens", "1T", "--device", "h100-sxm", "--devices", "64"]
    r = cli(base + ["--failure-rate", "-1"])
    assert r.returncode == 2 and "--failure-rate" in r.stderr
    r = cli(base + ["--restart-time", "soon"])
    assert r.returncode == 2 and "--restart-time" in r.stderr
    r = cli(base + ["--restart-time", "15"])      # 15 s or 15 min? a bare number is refused
    assert r.returncode == 2 and "--restart-time" in r.stderr and "unit" in r.stderr
    r = cli(base + ["--no-goodput", "--failure-rate", "1e-5"])
    assert r.returncode == 2 and "--no-goodput" in r.stderr
    r = cli(["estimate", "--accelerator-hours", "10", "--device", "h100-sxm", "--failure-rate", "1e-5"])
    assert r.returncode == 2 and "--failure-rate" in r.stderr


# ----------------------------------------------------------------------------- distillation (item 7)
def test_a_teacher_by_its_parameters_adds_its_forward_per_token():
    kw = dict(params=1e9, tokens=1e10, device="h100-sxm", n_devices=8, samples=2000, mfu=0.4, goodput=False,
              graph=False)
    base = flopest.estimate(**kw)
    est = flopest.estimate(**kw, teacher=7e9)
    # 2 FLOPs per teacher parameter per token (a forward): 2 × 7e9 × 1e10 = 1.4e20 on top of 6·N·D = 6e19
    assert est.flops - base.flops == 2 * 7e9 * 1e10
    assert est.time_s["p50"] == pytest.approx(base.time_s["p50"] * est.flops / base.flops, rel=1e-9)
    assert any("distillation" in n for n in est.notes)
    with pytest.raises(FlopestError, match="teacher"):
        flopest.estimate(accelerator_hours=10, device="h100-sxm", teacher=7e9)


def test_cli_teacher_flag(cli):
    r = cli(["estimate", "--params", "1B", "--tokens", "10B", "--teacher", "7B", "--format", "json", "--samples",
             "500", "--no-graph"])
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["workload"]["factors"]["teacher_flops"] == 2 * 7e9 * 1e10
    r = cli(["estimate", "--params", "1B", "--tokens", "10B", "--teacher", "big", "--no-graph"])
    assert r.returncode == 2 and "--teacher" in r.stderr


# ----------------------------------------------------------------------------- phases (item 7)
def test_phases_are_summed_sample_by_sample():
    kw = dict(device="h100-sxm", region="FR", samples=4000)
    one = dict(params=7e9, tokens=1.8e12, n_devices=256, graph=False)
    two = dict(params=7e9, tokens=2e11, n_devices=128, graph=False)
    # each phase alone, drawn as a phase is (each input on its own column of normals: _keep)
    a, b = flopest.estimate(**one, **kw, _keep=[]), flopest.estimate(**two, **kw, _keep=[])
    e = flopest.estimate_phases([dict(name="pre-training", **one), dict(name="annealing", **two)], **kw)
    assert e.flops == a.flops + b.flops == 6 * 7_000_000_000 * 2_000_000_000_000
    # the same draws in both phases: sample by sample, the sum of each phase's time and energy (its
    # quantiles are the sum of theirs only where the phases move together, as the MFU draws do here)
    assert e.time_s["p50"] == pytest.approx(a.time_s["p50"] + b.time_s["p50"], rel=1e-9)
    assert e.accelerator_hours["p50"] == pytest.approx(a.accelerator_hours["p50"] + b.accelerator_hours["p50"],
                                                       rel=1e-9)
    assert [p["name"] for p in e.to_dict()["phases"]] == ["pre-training", "annealing"]
    assert any("different device counts" in n for n in e.notes)
    with pytest.raises(FlopestError, match="shares"):
        flopest.estimate_phases([dict(device="a100-sxm4-80gb", **one)], **kw)


def test_cli_phase_flag(cli):
    base = ["estimate", "--params", "7B", "--tokens", "2T", "--no-graph", "--devices", "64", "--samples", "500",
            "--format", "json"]
    r = cli(base + ["--phase", "name=pre,tokens=1.5T", "--phase", "name=post,tokens=500B"])
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["flops"] == 6 * 7_000_000_000 * 2_000_000_000_000 and [p["name"] for p in d["phases"]] == ["pre", "post"]
    r = cli(base + ["--phase", "tokenz=1T"])
    assert r.returncode == 2 and "tokens" in r.stderr and "--phase" in r.stderr


# ----------------------------------------------------------------------------- found in review
def test_a_job_that_cannot_progress_is_an_error_not_a_capped_goodput():
    # 1 failure per accelerator-hour on 64 devices: one every 56 s, against restarts of minutes
    with pytest.raises(FlopestError, match="cannot make progress"):
        gp.goodput(64, 1e6, 7e9, failure_rate=1.0)


def test_replicas_on_a_partial_node_pay_the_network():
    c = _blocks(2, 1000)
    kw = dict(device="h100-sxm", precision="bf16", tp=1, pp=1, sharding="none", params=1e9, examples_per_step=12,
              examples_per_pass=1, backward_s_per_step=0.0, step_s=1.0, link_gbps=450, link_efficiency=0.67,
              grad_bytes=4, bucket_bytes=25 * 2**20)
    eight = parallel.communication(c, dp=8, **kw)
    twelve = parallel.communication(c, dp=12, **kw)
    # 12 replicas span 2 nodes of 8: the ring crosses the network (2 × 1/2 × G/8 over 33.5 GB/s)
    assert twelve.dp_comm_s > eight.dp_comm_s
    assert twelve.dp_comm_s - 2 * 7 / 8 * 4e9 / (450e9 * 0.67) == pytest.approx(4e9 / 8 / (50e9 * 0.67), rel=1e-9)


def test_a_teacher_per_example_with_a_student_per_token_is_refused(mlp_onnx_counts=None):
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper
    w = numpy_helper.from_array(np.ones((8, 8), np.float32), "w")
    g = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["y"])], "t",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4, 8])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4, 8])], [w])
    teacher = flopest.count(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]))
    with pytest.raises(FlopestError, match="per token"):
        flopest.estimate(params=1e9, tokens=1e10, device="h100-sxm", graph=False, teacher=teacher, samples=300)


def test_cli_duplicate_phase_key_and_vp_without_pp(cli):
    r = cli(["estimate", "--params", "7B", "--tokens", "1T", "--no-graph", "--phase", "tokens=1T,tokens=2T"])
    assert r.returncode == 2 and "twice" in r.stderr
    r = cli(["estimate", "--params", "7B", "--tokens", "1T", "--no-graph", "--mfu", "0.4", "--phase", "name=a"])
    assert r.returncode == 0, r.stderr
