"""The public estimate/serve calls: real signatures (a typo is a TypeError), errors that name the
caller's keyword (the CLI's flag in the CLI), and the examples per counted pass never defaulted
(issue 13 item 1: the batch must not be multiplied in twice)."""

from types import SimpleNamespace

import pytest
import torch  # noqa: F401  (the MLP below is a torch module: CI has the torch extra)
from torch import nn

import flopest
from flopest.cli import main
from flopest.errors import InputError
from flopest.impact import from_counts

SEVEN_B = dict(params="7B", prompt_tokens=100, output_tokens=10, requests_per_day=1000, samples=200)


def test_serve_rejects_a_misspelt_keyword():
    with pytest.raises(TypeError, match="devcie"):
        flopest.serve(**SEVEN_B, devcie="h100-sxm")


def test_estimate_rejects_a_misspelt_keyword():
    with pytest.raises(TypeError, match="datset_size"):
        flopest.estimate(params=7e9, tokens=2e12, device="h100-sxm", datset_size=5)


@pytest.mark.parametrize("kw, name", [
    ({"n_devices": 0}, "n_devices"), ({"n_devices": 2.5}, "n_devices"), ({"n_devices": True}, "n_devices"),
    ({"pue": 0.8}, "pue"), ({"mfu": 1.7}, "mfu"), ({"lifetime_years": 0}, "lifetime_years"),
    ({"power_w": -300}, "power_w"), ({"intensity": -5}, "intensity"), ({"trials": 0}, "trials")])
def test_library_errors_name_the_keyword(kw, name):
    with pytest.raises(InputError) as e:
        flopest.estimate(params=7e9, tokens=2e12, device="h100-sxm", samples=100, **kw)
    msg = str(e.value)
    assert msg.startswith(name) and "--" not in msg, msg


def test_the_cli_names_its_flag_for_the_same_check(capsys):
    code = main(["estimate", "--params", "7B", "--tokens", "2T", "--device", "h100-sxm", "--pue", "0.8"])
    err = capsys.readouterr().err
    assert code == 2 and "--pue must be between 1 and 3, got 0.8" in err, err


def test_epochs_are_not_rounded():
    c = flopest.count(nn.Linear(4, 4), flopest.spec((2, 4)), training=True)
    with pytest.raises(InputError, match="epochs"):     # 2.5 epochs was silently 2
        flopest.estimate(c, dataset_size=100, epochs=2.5, device="h100-sxm", samples=100)


def test_a_keyword_the_plan_does_not_read_is_an_error():
    with pytest.raises(InputError, match="dataset_size"):
        flopest.estimate(params=7e9, tokens=2e12, dataset_size=1e6, device="h100-sxm", samples=100)
    c = flopest.count(nn.Linear(4, 4), flopest.spec((2, 4)), training=True)
    with pytest.raises(InputError, match="seq_len"):
        flopest.estimate(c, dataset_size=100, seq_len=128, device="h100-sxm", samples=100)


# ------------------------------------------------------------ examples per counted pass (13.1)

def _mlp_counts(batch):
    m = nn.Linear(128, 64, bias=False)
    return m, flopest.count(m, flopest.spec((batch, 128)), training=True, optimizer="adam")


def test_a_64_row_count_gives_the_plan_of_guard_by_hand():
    m, c = _mlp_counts(64)
    e = flopest.estimate(c, dataset_size=6400, batch_size=64, device="h100-sxm", samples=200)
    g = flopest.guard(m, flopest.spec((64, 128)), dataset_size=6400, batch_size=64, device="h100-sxm",
                      samples=200, co2eq_kg=1e9)
    # forward 2·128·64 = 16,384 and weight gradient 2·128·64 = 16,384 per example → 32,768;
    # 6,400 examples → 209,715,200; + Adam's step (its own table, 8,192 weights) × 6,400 / 64 = 100 steps
    assert c.forward_flops == 64 * 16_384 and c.backward_flops == 64 * 16_384
    assert e.flops == g.flops == 32_768 * 6_400 + 100 * c.optimizer_flops == 221_184_000
    wl = e.to_dict()["workload"]["factors"]
    assert wl["examples_per_pass"] == 64 and wl["forward_backward_flops_per_example"] == 32_768


def test_the_plan_does_not_depend_on_the_batch_counted():
    plans = []
    for b in (1, 8, 64):
        _, c = _mlp_counts(b)
        plans.append(flopest.estimate(c, dataset_size=6400, batch_size=64, device="h100-sxm", samples=200).flops)
    assert plans == [221_184_000] * 3     # the hand figure above, whatever batch was counted


def test_examples_per_pass_given_overrides_the_count():
    _, c = _mlp_counts(64)
    e = flopest.estimate(c, dataset_size=6400, batch_size=64, examples_per_pass=32, device="h100-sxm",
                         samples=200)
    # told that the pass held 32 examples: 2 × 1,048,576 / 32 = 65,536 per example
    assert e.to_dict()["workload"]["factors"]["forward_backward_flops_per_example"] == 65_536


def test_unknown_examples_per_pass_is_an_error_never_1():
    c = SimpleNamespace(forward_flops=640, backward_flops=1280, optimizer_flops=0, examples_per_pass=None,
                        examples_reason="the ONNX model's first input has no leading dim")
    with pytest.raises(InputError, match="examples_per_pass=") as e:
        from_counts(c, dataset_size=100)
    assert "first input has no leading dim" in str(e.value)
    # given explicitly: (640 + 1,280) / 64 = 30 per example × 100 = 3,000
    assert from_counts(c, dataset_size=100, examples_per_pass=64).flops == 3_000
