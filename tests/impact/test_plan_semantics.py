"""Plan arithmetic that an audit found silently wrong: every expected figure is hand arithmetic."""

import pytest

import flopest
from flopest.errors import FlopestError

pytestmark = pytest.mark.torch


@pytest.fixture(scope="module")
def mlp():
    import torch
    from torch import nn
    m = nn.Sequential(nn.Linear(32, 64), nn.ReLU(), nn.Linear(64, 4))
    return m, torch.zeros(8, 32)


def test_examples_per_pass_given_against_the_inputs_is_said(mlp):
    """The inputs hold 8 examples; 20 given is used (the escape hatch for a wrong guess) but the
    count says that it overrides the 8 it reads."""
    m, x = mlp
    c = flopest.count(m, x, training=True, examples_per_pass=20)
    assert c.examples_per_pass == 20 and "NOT the 8" in c.examples_reason
    same = flopest.count(m, x, training=True, examples_per_pass=8)
    assert same.examples_reason == "given"


def test_tokens_count_every_epoch_so_epochs_with_tokens_is_refused(tmp_path):
    import json
    cfg = dict(model_type="llama", architectures=["LlamaForCausalLM"], vocab_size=500, hidden_size=64,
               intermediate_size=128, num_hidden_layers=1, num_attention_heads=4, max_position_embeddings=256)
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    c = flopest.count(f"hf:{tmp_path}", seq_len=64, training=True)
    one = flopest.estimate(c, tokens=64_000, device="h100-sxm", samples=200)
    assert one.workload.factors["dataset_size"] == 1000   # 64,000 tokens / 64 a sequence
    with pytest.raises(FlopestError, match="tokens count every pass"):
        flopest.estimate(c, tokens=64_000, epochs=2, device="h100-sxm", samples=200)


def test_a_grid_and_a_trial_count_that_would_disagree_are_refused():
    from flopest.impact.workload import trial_count
    assert trial_count("grid", {"lr": 4}) == 4 and trial_count("random", trials=3) == 3
    with pytest.raises(FlopestError, match="not both"):
        trial_count("grid", {"lr": 4}, 3)        # was 4, the 3 dropped silently
    with pytest.raises(FlopestError, match="grid applies to a grid search"):
        trial_count("random", {"lr": 4}, 3)      # was 3, the grid dropped silently


def test_evaluation_is_timed_at_the_measured_training_flop_rate(mlp):
    """A measured step time covers the optimizer steps; the evaluation forwards were left out (step
    time) or charged a whole training step each (examples/s). Both now time the evaluation's
    FLOPs at the FLOP rate the measurement implies: time = train time × (1 + eval / train FLOPs)."""
    m, x = mlp
    c = flopest.count(m, x, training=True, optimizer="sgd")
    fwd = flopest.count(m, x)
    base = dict(dataset_size=800, batch_size=8, device="h100-sxm", samples=200, goodput=False)
    e = flopest.estimate(c, eval_counts=fwd, eval_size=400, step_time_s=0.5, **base)
    w = e.workload
    assert w.eval_flops > 0
    train_time = 0.5 * 100                          # 800 / 8 = 100 steps of 0.5 s
    assert e.time_s["p50"] == pytest.approx(train_time * (1 + w.eval_flops / w.train_flops), rel=1e-9)
    e = flopest.estimate(c, eval_counts=fwd, eval_size=400, throughput=100, **base)
    train_time = 800 / 100                          # 800 examples at 100 a second
    assert e.time_s["p50"] == pytest.approx(train_time * (1 + w.eval_flops / w.train_flops), rel=1e-9)


def test_a_teachers_flops_are_per_trial_in_train_flops():
    """125M student on 1B tokens (6·N·D = 7.5e17 a trial) with a 1B teacher (2·N·D = 2e18 a trial),
    2 trials: train_flops is one trial's 2.75e18, flops both trials' 5.5e18."""
    e = flopest.estimate(params=125e6, tokens=1e9, device="h100-sxm", teacher=1e9, trials=2, samples=200,
                         graph=False)
    assert e.workload.train_flops == pytest.approx(7.5e17 + 2e18, rel=1e-9)
    assert e.flops == pytest.approx(2 * (7.5e17 + 2e18), rel=1e-9)


def test_phases_share_every_input_draw_whichever_inputs_a_phase_fixes():
    """Two phases summed sample by sample: one with the MFU prior, one with mfu= given (a constant
    input). Each sample's power × PUE (energy per accelerator-hour) must be the same draw in both
    phases: the normals are per named input, not per uncertain input in order."""
    import numpy as np

    import flopest
    keep = []
    common = dict(params=1e9, tokens=1e9, device="h100-sxm", region="FR", samples=4000, graph=False, goodput=False)
    flopest.estimate(_keep=keep, **common)
    flopest.estimate(_keep=keep, mfu=0.4, **common)
    a, b = keep
    per_hour_a = a[2] / a[1]     # energy_kwh / accelerator_hours, sample by sample
    per_hour_b = b[2] / b[1]
    assert np.allclose(per_hour_a, per_hour_b, rtol=1e-12)
