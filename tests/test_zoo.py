"""Every zoo model against its analytic expectations (model_zoo/<name>/expected.json).

- expected.json is exactly what model_zoo/expected.py derives (plain integer arithmetic on the
  architecture sizes; flopest is not involved in writing it).
- PyTorch capture at the full size: params, matmul_flops and flops equal the analytic values
  exactly; training (forward + backward, loss = sum of the outputs, every parameter trainable,
  no optimizer) equals training_flops and training_matmul_flops exactly.
- ONNX (TorchScript export) at the tiny size: every node costed and matmul_flops equal to the
  PyTorch capture of the same tiny model.  `flops` and `params` are not compared across the two
  paths: the exporter folds eval BatchNorm into the convs, writes GroupNorm as
  InstanceNormalization + affine, computes some masks as constants, and stores a tied weight twice (counted once where it is
  large enough to check: flopest.frontends.onnx.load.tied_copies; the tiny sizes are not).

The full-size models are built on the meta device (no weight allocated or initialised: random
init of the ~600 M parameters of the zoo takes longer than all the counting); counts read shapes
only, and building on meta gives the same counts as model_zoo.get.
"""

from __future__ import annotations

import functools
import importlib

import pytest
import torch

import flopest
import model_zoo
from model_zoo import expected
from model_zoo.export import export

pytestmark = pytest.mark.torch

NAMES = list(model_zoo.MODELS)


@functools.cache
def _load(name: str) -> dict:
    return expected.load(name)


def _meta_build(name: str, size: str = "full"):
    """(module, example_inputs) of zoo model `name`, parameters and inputs on the meta device."""
    mod = importlib.import_module(model_zoo.MODELS[name].module_path)
    with torch.random.fork_rng(devices=[]), torch.device("meta"):
        module, example, _, _ = mod.build(size)
    return module.eval(), tuple(example)


def test_every_zoo_model_has_expectations():
    assert sorted(expected.DERIVATIONS) == sorted(NAMES)
    for name in NAMES:
        assert expected.expected_path(name).is_file(), f"python -m model_zoo.expected {name}"


@pytest.mark.parametrize("name", NAMES)
def test_expected_json_is_the_analytic_derivation(name):
    """The file holds the derivation's numbers (regenerate: python -m model_zoo.expected)."""
    doc = _load(name)
    assert doc == expected.document(expected.derive(name)), f"out of date: python -m model_zoo.expected {name}"
    for key in ("params", "matmul_flops", "flops", "training_flops", "inputs", "derivation"):
        assert key in doc
    # the inputs recorded are the model's example inputs at the full size
    _, example = _meta_build(name)
    assert [(list(v["shape"]), v["dtype"]) for v in doc["inputs"].values()] == \
        [(list(x.shape), str(x.dtype).removeprefix("torch.")) for x in example]


@pytest.mark.parametrize("name", NAMES)
def test_pytorch_forward_equals_analytic(name):
    exp = _load(name)
    module, example = _meta_build(name)
    c = flopest.count(module, *example)
    assert c.unknown_ops == {}, c.unknown_ops
    assert c.params == exp["params"]
    assert c.matmul_flops == exp["matmul_flops"]
    assert c.flops == exp["flops"]


@pytest.mark.parametrize("name", NAMES)
def test_pytorch_training_equals_analytic(name):
    exp = _load(name)
    module, example = _meta_build(name)
    for p in module.parameters():   # as `flopest count zoo:NAME --training`: every weight trains
        p.requires_grad_(True)
    c = flopest.count(module, *example, training=True)
    assert c.unknown_ops == {}, c.unknown_ops
    assert c.matmul_flops == exp["training_matmul_flops"]
    assert c.forward_flops == exp["training_forward_flops"]
    assert c.backward_flops == exp["training_backward_flops"]
    assert c.flops == exp["training_flops"]


@pytest.fixture(scope="module")
def onnx_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("zoo_onnx")


@pytest.mark.parametrize("name", NAMES)
def test_onnx_export_agrees_with_pytorch_at_tiny_size(name, onnx_dir):
    module, example, input_names, axes = model_zoo.get(name, "tiny")
    torch_count = flopest.count(module, *example)
    path = export(name, "torchscript", "tiny", out_dir=onnx_dir)
    dims = {}
    for tensor, input_name in zip(example, input_names):
        for axis, dim in axes.get(input_name, {}).items():
            dims[dim] = int(tensor.shape[axis])
    onnx_count = flopest.count(str(path), dims=dims)
    assert onnx_count.unknown_ops == {}, onnx_count.unknown_ops
    assert torch_count.unknown_ops == {}, torch_count.unknown_ops
    assert onnx_count.matmul_flops == torch_count.matmul_flops


def test_readme_sections_up_to_date(capsys):
    """Each README's "Expected counts" section is the one model_zoo/expected.py renders."""
    assert expected.main(["--check"]) == 0, capsys.readouterr().out
