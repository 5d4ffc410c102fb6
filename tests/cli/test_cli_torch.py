"""`flopest count package.module:factory` and zoo:NAME through the PyTorch front end."""

import json

import pytest


pytestmark = pytest.mark.torch

# MLP 16 -> 32 -> 4 at batch 8: addmm 2*8*32*16 = 8192 + bias 256, relu 256,
# addmm 2*8*4*32 = 2048 + bias 32 -> 10784
MLP_B8 = 8192 + 256 + 256 + 2048 + 32


def test_factory_with_input(cli, monkeypatch):
    code, out, err = cli(["count", "tests.cli.factories:mlp", "--input", "8x16", "--format", "json"])
    assert code == 0, err
    d = json.loads(out)
    assert d["flops"] == MLP_B8 and d["forward_flops"] == MLP_B8 and d["backward_flops"] == 0


def test_factory_returning_inputs_and_training(cli):
    code, out, err = cli(["count", "tests.cli.factories:mlp_with_inputs", "--training", "--optimizer", "adamw",
                          "--format", "json", "--by", "module", "--depth", "1"])
    assert code == 0, err
    d = json.loads(out)
    # adamw: 16 FLOPs per parameter; 16*32 + 32 + 32*4 + 4 = 676 parameters
    assert d["optimizer_flops"] == 16 * 676
    assert d["forward_flops"] == MLP_B8
    assert d["forward_flops"] + d["backward_flops"] + d["optimizer_flops"] == d["flops"]
    assert sum(r["flops"] for r in d["breakdown"]) == d["flops"]


@pytest.mark.parametrize("argv,needle", [
    (["count", "no_such_pkg.models:make"], "cannot import 'no_such_pkg.models'"),
    (["count", "tests.cli.factories:missing"], "has no attribute 'missing'"),
    (["count", "tests.cli.factories:NOT_A_FACTORY"], "not callable"),
    (["count", "tests.cli.factories:not_callable_target"], "factory failure on purpose"),
    (["count", "tests.cli.factories:mlp"], "--input SHAPE"),
    (["count", "tests.cli.factories:mlp", "--input", "8x17"], "module '0' (Linear)"),
    (["count", "tests.cli.factories:mlp", "--input", "8xa"], "not a shape"),
    (["count", "tests.cli.factories:mlp", "--input", "8x16", "--input-dtype", "float33"], "dtype 'float33'"),
    (["count", "tests.cli.factories:mlp", "--input", "8x16", "--optimizer", "adam"], "need --training"),
    (["count", "tests.cli.factories:mlp", "--input", "8x16", "--dim", "batch=2"], "--dim and --sweep"),
    (["count", "zoo:resnet5O"], "did you mean 'resnet50'"),
])
def test_bad_torch_inputs_exit_2(argv, needle, cli):
    code, out, err = cli(argv)
    assert code == 2, err
    assert needle in err, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
