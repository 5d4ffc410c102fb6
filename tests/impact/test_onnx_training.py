"""An ONNX model's training estimate (issue 13 item 9): an ONNX graph has no backward, so the
plan takes training = 3 × forward, and the optimizer step is added per parameter from the same
table the PyTorch capture uses (ops.optimizer), said in notes, never silently missing; the note
gives advice that works (no --training, which ONNX refuses and estimate does not have)."""

import pytest

import flopest
from flopest.cli import main
from flopest.impact import from_counts
from tests.conftest import mlp_model

# mlp_model(): x (batch, 64) @ W (64, 32) + b (32), Relu. At batch 8:
#   MatMul 2·8·64·32 = 32,768; Add 8·32 = 256; Relu 8·32 = 256 → forward 33,280 = 4,160 per example
#   params: 64·32 + 32 = 2,080 floating-point initializer elements
FWD_PER_EXAMPLE = 4_160
PARAMS = 2_080


@pytest.fixture
def counts(tmp_path):
    import onnx
    p = tmp_path / "mlp.onnx"
    onnx.save(mlp_model(), str(p))
    c = flopest.count(str(p), dims={"batch": 8})
    assert c.forward_flops == 8 * FWD_PER_EXAMPLE and c.backward_flops == 0 and c.optimizer_flops == 0
    assert c.params == PARAMS
    return c


def test_onnx_plan_adds_the_optimizer_step_per_parameter(counts):
    wl = from_counts(counts, dataset_size=1_000, batch_size=8)
    # training: 3 × 4,160 per example × 1,000 examples = 12,480,000
    # Adam (ops.optimizer: 14 FLOPs per parameter) × 2,080 = 29,120 per step; 1,000 / 8 = 125 steps
    #   → 3,640,000;  total 12,480,000 + 3,640,000 = 16,120,000
    assert wl.factors["optimizer_flops_per_step"] == 14 * PARAMS == 29_120
    assert wl.factors["steps_per_trial"] == 125
    assert wl.flops == 16_120_000
    assert any("adam's 14 FLOPs per parameter" in n and "2,080 parameters" in n for n in wl.notes), wl.notes


def test_another_optimizer_or_none_is_said(counts):
    # SGD: 2 FLOPs per parameter × 2,080 = 4,160 per step × 125 = 520,000 → 13,000,000
    assert from_counts(counts, dataset_size=1_000, batch_size=8, optimizer="sgd").flops == 13_000_000
    # None: training only, 12,480,000, and a note says the step is left out
    wl = from_counts(counts, dataset_size=1_000, batch_size=8, optimizer=None)
    assert wl.flops == 12_480_000
    assert any("optimizer=None leaves it out" in n for n in wl.notes), wl.notes
    with pytest.raises(ValueError, match="did you mean 'adam'"):
        from_counts(counts, dataset_size=1_000, optimizer="adma")


def test_the_backward_note_gives_advice_that_works(counts):
    wl = from_counts(counts, dataset_size=1_000, batch_size=8)
    note = next(n for n in wl.notes if "no backward pass" in n)
    assert "--training" not in note and "3 × forward" in note and "ONNX graph holds none" in note


def test_the_cli_estimate_of_an_onnx_model(tmp_path, capsys):
    import json

    import onnx
    p = tmp_path / "mlp.onnx"
    onnx.save(mlp_model(), str(p))
    code = main(["estimate", str(p), "--dim", "batch=8", "--dataset-size", "1000", "--batch-size", "8",
                 "--device", "h100-sxm", "--samples", "100", "--format", "json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    d = json.loads(out)
    assert d["flops"] == 16_120_000          # the hand figure above
    assert not any("--training" in n for n in d["notes"]), d["notes"]


def test_cli_optimizer_reaches_an_onnx_plan(cli, mlp_path):
    """--optimizer sgd on an ONNX plan adds SGD's step, not Adam's (it used to be ignored)."""
    import json
    r = cli(["estimate", mlp_path, "--dim", "batch=8", "--dataset-size", "800", "--batch-size", "8",
             "--optimizer", "sgd", "--format", "json", "--samples", "500"])
    assert r.returncode == 0, r.stderr
    f = json.loads(r.stdout)["workload"]["factors"]
    # SGD: 2 FLOPs per parameter; the MLP has 64·32 + 32 = 2,080 parameters → 4,160 per step, 100 steps
    assert f["optimizer_flops_per_step"] == 2 * 2_080 and f["steps_per_trial"] == 100
