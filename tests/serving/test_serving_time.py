"""Serving is timed by the per-operator model of a training step (issue 15, item 7: one time model
in the house): the prefill, each decode step and a forward pass are their rows' time on the device
at the served batch, with the model's out-of-sample range. Expected figures come from hand
arithmetic on launch-bound graphs, or from a brute-force second computation (every decode position
re-bound and timed one by one), never from the serving code's own totals."""

import math
from dataclasses import replace

import numpy as np
import onnx
import pytest

import flopest
from flopest.impact import serve
from flopest.impact.steptime import TimeModel, forward_time
from flopest.models import generation_cost_onnx
from tests.conftest import mlp_model
from tests.serving.test_onnx_and_cli import D, H, L, decoder_path  # noqa: F401 - the module's fixture

TM = TimeModel.load()


@pytest.fixture
def mlp(tmp_path):
    p = tmp_path / "mlp.onnx"
    onnx.save(mlp_model(), str(p))
    return str(p)


def test_a_forward_pass_is_timed_operator_by_operator(mlp):
    # the MLP at batch 8: MatMul (8×64)·(64×32), Add, Relu = 3 kernels. On an H100 each moves a few
    # kB and does 32 kFLOP at most: far below the 5 µs launch floor (time_model.csv launch.accelerator),
    # so the pass takes 3 × 5 µs = 15 µs per batch, and the p50 latency that × the range's median
    e = serve(mlp, requests_per_day="1M", batch=8, device="h100-sxm", samples=20_000)
    d = e.to_dict()
    assert d["time_model"]["model"] == "per-operator"
    assert d["time_model"]["prefill_s"] == pytest.approx(3 * TM.launch_accelerator_s, rel=1e-12)
    lat = d["latency_s"]
    assert lat["p50"] == pytest.approx(3 * TM.launch_accelerator_s * TM.range_p50, rel=0.03)
    # the range is the model's leave-one-device-out error: p5 and p95 scale with it
    assert lat["p95"] / lat["p50"] == pytest.approx(TM.range_p95 / TM.range_p50, rel=0.05)
    assert lat["p5"] / lat["p50"] == pytest.approx(TM.range_p5 / TM.range_p50, rel=0.05)
    names = [a["name"] for a in e.assumptions()]
    assert "time per batch" in names and "MFU" not in names
    assert not any(n.startswith("memory-bandwidth utilisation") for n in names)


def test_mfu_or_mbu_given_keeps_the_roofline(mlp):
    e = serve(mlp, requests_per_day="1M", batch=8, device="h100-sxm", mbu=0.5, mfu=0.5)
    assert e.to_dict()["time_model"] == {"model": "roofline"}
    assert any("roofline at those efficiencies" in n for n in e.notes)
    # a params count has no graph: the roofline with its priors
    p = serve(params=7e9, prompt_tokens=100, output_tokens=10, requests_per_day=1000, device="h100-sxm")
    assert p.to_dict()["time_model"] == {"model": "roofline"}
    assert any(a["name"].startswith("memory-bandwidth utilisation") for a in p.assumptions())


@pytest.mark.torch
@pytest.mark.parametrize("batch", [1, 4])
def test_decode_time_is_the_sum_of_every_step_timed_alone(decoder_path, batch):  # noqa: F811
    # second computation: every decode position p = 7 … 11 re-bound at the batch and timed alone,
    # prefill at 7 tokens; against serve's totals (linear between the 4 captured positions)
    P, O = 7, 6
    c = flopest.count(decoder_path, dims={"batch": batch, "sequence": P, "past_sequence": 0})

    def t(cnt, replay=False, costs=None):
        return forward_time(cnt.table, costs or cnt.evaluate()._rc, "l4", precision="bf16", graph_replay=replay).time_s

    def paged(cnt, p):
        # the export's cache Concat(past (B, H, p, 16), new (B, H, 1, 16)) reads p + 1 and writes p + 1
        # rows of 16 fp32: 2·(p + 1)·B·H·16·4 B, and so does the transpose of the whole K for q @ kᵀ;
        # a paged cache, written in place and read by the attention kernel, keeps 2·B·H·16·4 B of each
        rc = cnt.evaluate()._rc
        eager = 2 * (p + 1) * batch * H * (D // H) * 4
        hit = rc.bytes == eager
        assert hit.sum() == 3 * L, "per layer: K and V concatenated, K transposed"
        b = rc.bytes.copy()
        b[hit] = 2 * batch * H * (D // H) * 4
        # q·kᵀ writes and scores·v reads the scores, B·H·(p + 1) fp32; an engine's attention keeps them
        # on chip, reading the cache once: each of the 2 attention matmuls of a layer moves B·H·4·p B less
        # (what grows with p beyond the cache's own K and V)
        names = {f"/blocks.{i}/{m}" for i in range(L) for m in ("MatMul", "MatMul_1")}
        att = np.array([cnt.table.nodes[cnt.table.node[i]] in names for i in range(len(cnt.table))])
        assert att.sum() == 2 * L
        b[att] -= batch * H * 4 * p
        return replace(rc, bytes=b)

    brute_pre = t(c)
    # decode steps are replayed as CUDA graphs (serving engines do): launch.graph per kernel; their
    # KV cache is paged
    brute_dec = 0.0
    for p in range(P, P + O - 1):
        step = c.at(sequence=1, past_sequence=p)
        brute_dec += t(step, True, paged(step, p))
    e = serve(decoder_path, prompt_tokens=P, output_tokens=O, requests_per_day="1M", device="l4", batch=batch)
    tm = e.to_dict()["time_model"]
    assert tm["prefill_s"] == pytest.approx(brute_pre, rel=1e-12)
    assert tm["decode_s"] == pytest.approx(brute_dec, rel=1e-3)
    assert e.to_dict()["latency_s"]["p50"] == pytest.approx((brute_pre + brute_dec) * TM.range_p50, rel=0.05)


@pytest.mark.torch
def test_batch_tables_are_the_passes_counted_at_that_batch(decoder_path):  # noqa: F811
    # every sequence of a batch does the same work: the decode steps at batch 4 count 4 × the FLOPs
    # of batch 1, exactly, at every captured cache length
    g = generation_cost_onnx(decoder_path, 7, 6)
    one, four = g.tables(1), g.tables(4)
    assert four.prefill.flops == 4 * one.prefill.flops
    for p in one.decode:
        assert four.decode[p].flops == 4 * one.decode[p].flops


@pytest.mark.torch
def test_a_transformers_decoder_is_recaptured_at_the_batch():
    import model_zoo
    module, _, _, _ = model_zoo.get("gpt2", size="full")
    from flopest.models import generation_cost_torch
    g = generation_cost_torch(module.model, 16, 4)
    one, two = g.tables(1), g.tables(2)
    assert two.batch == 2 and two is g.tables(2)           # captured once per batch
    # two sequences: twice the matrix products, exactly (the causal mask, built once for the batch,
    # is the only work that does not double: a few dozen FLOPs)
    assert two.prefill.matmul_flops == 2 * one.prefill.matmul_flops
    assert two.prefill.flops == pytest.approx(2 * one.prefill.flops, rel=1e-7)
    for p in one.decode:
        assert two.decode[p].matmul_flops == 2 * one.decode[p].matmul_flops
    e = serve(module.model, prompt_tokens=16, output_tokens=4, requests_per_day="1M", device="h100-sxm", batch=2)
    tm = e.to_dict()["time_model"]
    assert tm["model"] == "per-operator" and tm["decode_s"] > 0 and len(tm["top_by_time"]) == 5
    assert math.isclose(sum(tm["decode_step_s"].values()) / len(tm["decode_step_s"]) * 3, tm["decode_s"],
                        rel_tol=0.2)   # 3 decode steps, each about the mean of the captured ones


def test_a_precision_the_model_does_not_know_falls_back_with_a_note(mlp):
    e = serve(mlp, requests_per_day="1M", batch=8, device="h100-sxm", precision="int8")
    assert e.to_dict()["time_model"] == {"model": "roofline"}
    assert any("does not know precision 'int8'" in n for n in e.notes)


def test_max_latency_search_uses_the_per_operator_latency(mlp):
    # launch-bound at every batch up to the ceiling: 15 µs × range_p50 per batch whatever the batch,
    # so a 1 s target is met up to the largest power of 2 the search tries (1024)
    e = serve(mlp, requests_per_day="1M", device="h100-sxm", max_latency_s=1.0)
    assert e.to_dict()["batch"] == 1024
    # and a target below the launch floor is not met even at batch 1
    e = serve(mlp, requests_per_day="1M", device="h100-sxm", max_latency_s=1e-6)
    assert e.to_dict()["batch"] == 1 and any("not met even at batch 1" in n for n in e.notes)
    assert np.isfinite(e.to_dict()["latency_s"]["p50"])


@pytest.mark.torch
def test_a_decoder_with_a_fixed_batch_falls_back_to_the_roofline_at_other_batches(tmp_path):
    # the test decoder exported with batch 1 fixed: at batch 1 the per-operator model; at batch 4
    # (given, or tried by --max-latency) its passes cannot be counted, and the roofline scales the
    # per-sequence cost, said in the notes
    import torch
    from tests.serving.test_onnx_and_cli import decoder_module
    names = ["past_key_values.0.key", "past_key_values.0.value", "past_key_values.1.key", "past_key_values.1.value"]
    path = tmp_path / "fixed_batch.onnx"
    axes = {"input_ids": {1: "sequence"}, **{n: {2: "past_sequence"} for n in names}}
    model = decoder_module()
    past = torch.zeros(1, H, 5, D // H)
    torch.onnx.export(model, (torch.zeros(1, 3, dtype=torch.long), past, past, past, past), str(path),
                      input_names=["input_ids"] + names, output_names=["logits", "k0", "v0", "k1", "v1"],
                      dynamic_axes=axes, dynamo=False, opset_version=17)
    one = serve(str(path), prompt_tokens=7, output_tokens=6, requests_per_day="1M", device="l4")
    assert one.to_dict()["time_model"]["model"] == "per-operator"
    four = serve(str(path), prompt_tokens=7, output_tokens=6, requests_per_day="1M", device="l4", batch=4)
    assert four.to_dict()["time_model"] == {"model": "roofline"}
    assert any("no symbolic batch dim" in n and "roofline" in n for n in four.notes)
    searched = serve(str(path), prompt_tokens=7, output_tokens=6, requests_per_day="1M", device="l4",
                     max_latency_s=10.0)
    assert searched.to_dict()["time_model"] == {"model": "roofline"} and searched.to_dict()["batch"] > 1


@pytest.mark.torch
def test_grouped_kv_heads_are_read_once_per_decode_step():
    # zoo llama: 4 layers, 8 query heads sharing 2 KV heads of 64, fp32. transformers' eager attention
    # expands K and V to the 8 heads (repeat_kv) before its matmuls, which then read 4x the cache; a
    # paged engine reads each KV head once. After the adjustment, the matrix rows of a decode step at
    # batch 4 grow by the cache itself per cached token: 4 × (2 · 4 layers · 2 heads · 64) × 4 B = 16,384 B
    import model_zoo
    from flopest import kinds
    from flopest.impact.serving import _OpModel
    from flopest.models import generation_cost_torch
    g = generation_cost_torch(model_zoo.get("llama", size="full")[0].model, 64, 8)
    assert g.kv_elements_per_token == 2 * 4 * 2 * 64
    pt = g.tables(4)
    costs, _, _ = _OpModel._paged(pt.decode, 4, g.kv_elements_per_token)
    (p0, c0), (p1, _c1) = sorted(pt.decode.items())[0], sorted(pt.decode.items())[-1]
    mat = np.isin(c0.table.kind, (kinds.GEMM, kinds.ATTENTION))
    growth = (costs[p1].bytes[mat].sum() - costs[p0].bytes[mat].sum()) / (p1 - p0)
    assert growth == pytest.approx(4 * 1024 * 4, rel=1e-3)
    raw = (pt.decode[p1].evaluate()._rc.bytes[mat].sum() - pt.decode[p0].evaluate()._rc.bytes[mat].sum()) / (p1 - p0)
    assert raw > 3.9 * growth          # as captured: the 4x expanded cache, and the scores


def test_a_pass_that_does_nothing_is_an_error_not_a_nan(tmp_path):
    # an ONNX graph of one Identity: no arithmetic, no data moved, no kernel: 0 s a request, which
    # made the fleet's capacity infinite and the JSON a NaN; now one line and exit 2
    from onnx import TensorProto, helper

    from flopest.cli import main
    g = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 4])])
    path = tmp_path / "identity.onnx"
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    assert main(["serve", str(path), "--requests-per-day", "1000", "--format", "json"]) == 2


@pytest.mark.torch
def test_no_sample_is_faster_than_reading_the_bytes_once():
    """GPT-2 at batch 1: the decode reads 81.0 GB over a request (weights and cache, one pass a
    step); at H100's 3.35 TB/s that is a floor the model's p5 went under (12,650 tokens/s at p95
    against a bound of 299 / (81.04 GB / 3.35 TB/s) = 12,361)."""
    import flopest
    from flopest import data
    d = flopest.serve("zoo:gpt2", prompt_tokens=500, output_tokens=300, batch=1, requests_per_day=1000,
                      device="h100-sxm", samples=2000).to_dict()
    bound_s = d["bytes_per_request"]["decode"] / data.device("h100-sxm").mem_bandwidth_bytes_per_s
    assert d["latency_s"]["p5"] >= bound_s * (1 - 1e-9)


def test_a_fixed_fleet_too_small_gives_figures_per_request_it_serves():
    """A 7B decoder, 1,000 + 200 tokens, 100k requests a day on one H100: it serves about half
    (0.55 of 1.16 requests/s). Its energy per request is the year's energy over the requests it
    serves, about twice the energy over all requests (which is what was reported)."""
    import flopest
    e = flopest.serve(params=7e9, layers=32, d_model=4096, prompt_tokens=1000, output_tokens=200,
                      requests_per_day=100_000, n_devices=1, device="h100-sxm", samples=2000).to_dict()
    over_all = e["energy_kwh"]["p50"] * 1000 / (100_000 * 365)
    assert e["energy_wh_per_request"]["p50"] > 1.5 * over_all
    assert any("cannot carry the load" in n and "per request it serves" in n for n in e["notes"])
