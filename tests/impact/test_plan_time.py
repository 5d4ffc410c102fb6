"""The plan's time from the step-time model (issue 15 items 1 and 6): with the counted batch equal
to the training batch, time = optimizer steps × step time × the range multiplier; a measured step
time or throughput replaces the model, exactly (the run's goodput, tested in test_parallel.py,
left out here)."""

from __future__ import annotations

import pytest

import flopest
from flopest.errors import FlopestError
from flopest.impact import steptime


@pytest.fixture(scope="module")
def mlp_counts():
    import torch
    from torch import nn
    model = nn.Sequential(nn.Linear(256, 512), nn.ReLU(), nn.Linear(512, 10))
    return flopest.count(model, flopest.spec((64, 256)), training=True, optimizer="adam")


@pytest.mark.torch
def test_plan_time_is_steps_times_the_step_time(mlp_counts):
    c = mlp_counts
    est = flopest.estimate(c, dataset_size=6400, epochs=2, batch_size=64, device="a100-sxm4-80gb",
                           precision="bf16", samples=4000, goodput=False)
    st = steptime.step_time(c.table, c.evaluate()._rc, "a100-sxm4-80gb", precision="bf16", params=c.params)
    model = steptime.TimeModel.load()
    steps = 6400 // 64 * 2                                   # 200 optimizer steps of the counted batch
    assert est.step["time_s"] == pytest.approx(st.time_s, rel=1e-12)
    assert est.step["plan_time_s"]["p50"] == pytest.approx(steps * st.time_s * model.range_p50, rel=1e-9)
    assert est.step["plan_time_s"]["p95"] == pytest.approx(steps * st.time_s * model.range_p95, rel=1e-9)
    # the Monte-Carlo's time is the model's (the only uncertain factor of time is the model's range)
    assert est.time_s["p50"] == pytest.approx(steps * st.time_s * model.range_p50, rel=0.02)
    assert sum(est.step["split"].values()) == pytest.approx(st.time_s, rel=1e-12)
    assert est.step["top_by_time"] and est.step["top_by_time"][0]["time_s"] > 0


@pytest.mark.torch
def test_a_measured_step_time_replaces_the_model(mlp_counts):
    est = flopest.estimate(mlp_counts, dataset_size=6400, epochs=1, batch_size=64, device="a100-sxm4-80gb",
                           step_time_s=0.25, samples=2000, goodput=False)
    # 6400 / 64 = 100 steps × 0.25 s = 25 s, fixed: no range
    assert est.time_s == pytest.approx({"p5": 25.0, "p50": 25.0, "p95": 25.0})
    assert est.step is None
    mfu = next(a for a in est.to_dict()["assumptions"] if a["name"] == "MFU")
    assert "measured" in mfu["source"]


@pytest.mark.torch
def test_a_measured_throughput_replaces_the_model(mlp_counts):
    est = flopest.estimate(mlp_counts, dataset_size=6400, epochs=3, device="a100-sxm4-80gb", n_devices=2,
                           throughput=800, samples=2000, goodput=False)
    # 6400 × 3 examples / (800 examples/s × 2 devices) = 12 s of wall clock, 24 accelerator-seconds
    assert est.time_s["p50"] == pytest.approx(12.0)
    assert est.accelerator_hours["p50"] == pytest.approx(24.0 / 3600)
    with pytest.raises(FlopestError, match="tokens"):
        flopest.estimate(mlp_counts, dataset_size=6400, device="a100-sxm4-80gb", throughput=800,
                         throughput_unit="tokens")


def test_tokens_throughput_on_a_params_plan():
    est = flopest.estimate(params=7e9, tokens=2e12, device="h100-sxm", n_devices=256, throughput=3000,
                           throughput_unit="tokens", samples=2000, goodput=False)
    # 2e12 tokens / (3000 tokens/s × 256) = 2,604,166.7 s
    assert est.time_s["p50"] == pytest.approx(2e12 / (3000 * 256))
    with pytest.raises(FlopestError, match="one of"):
        flopest.estimate(params=7e9, tokens=2e12, device="h100-sxm", throughput=3000, throughput_unit="tokens",
                         mfu=0.4)
    with pytest.raises(FlopestError):
        flopest.estimate(accelerator_hours=1000, device="h100-sxm", step_time_s=1.0)


@pytest.mark.parametrize("argv, says", [
    (["--micro-batch", "8", "--grad-accum", "2", "--batch-size", "100"], "disagrees"),
    (["--grad-accum", "2"], "needs --micro-batch"),
    (["--batch-size", "10", "--grad-accum", "3"], "multiple"),
    (["--throughput", "fast"], "not a rate"),
    (["--step-time", "-1s"], "--step-time"),
])
def test_cli_batch_and_measured_flags_are_checked(cli, mlp_path, argv, says):
    r = cli(["estimate", mlp_path, "--dim", "batch=8", "--dataset-size", "1k", *argv])
    assert r.returncode == 2 and says in r.stderr, r.stderr


def test_cli_step_time_and_throughput(cli, mlp_path):
    r = cli(["estimate", mlp_path, "--dim", "batch=8", "--dataset-size", "1k", "--batch-size", "8",
             "--step-time", "500ms", "--format", "json", "--no-goodput"])
    assert r.returncode == 0, r.stderr
    import json
    # 1000 / 8 = 125 steps (ceil) × 0.5 s = 62.5 s
    assert json.loads(r.stdout)["time_s"]["p50"] == pytest.approx(62.5)
    r = cli(["estimate", "--params", "1B", "--tokens", "1B", "--throughput", "2ktokens/s", "--format", "json",
             "--no-goodput"])
    assert json.loads(r.stdout)["time_s"]["p50"] == pytest.approx(1e9 / 2000)   # 500,000 s
    r = cli(["estimate", "--accelerator-hours", "10", "--throughput", "2ktokens/s"])
    assert r.returncode == 2 and "--throughput" in r.stderr


def test_costliest_operators_are_parts_of_the_optimizer_step(tmp_path):
    """A step of 64 examples from a counted pass of 8 runs the pass 8 times: each operator's time in
    the step is 8× its time in the pass, its share is of the step's time, and the five together
    take at most the whole step."""
    import onnx

    import flopest
    from tests.conftest import mlp_model
    path = tmp_path / "mlp.onnx"
    onnx.save(mlp_model(), str(path))
    c = flopest.count(str(path), dims={"batch": 8})
    one = flopest.estimate(c, device="h100-sxm", dataset_size=6400, batch_size=8, samples=2000).step
    eight = flopest.estimate(c, device="h100-sxm", dataset_size=6400, batch_size=64, samples=2000).step
    for a, b in zip(one["top_by_time"], eight["top_by_time"]):
        assert a["name"] == b["name"]
        assert b["time_s"] == pytest.approx(8 * a["time_s"])
        assert b["share"] == pytest.approx(b["time_s"] / eight["time_s"])
    assert sum(r["time_s"] for r in eight["top_by_time"]) <= eight["time_s"] * (1 + 1e-12)
