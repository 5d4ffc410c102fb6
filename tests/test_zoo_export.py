"""Quick export smoke test for the model zoo (tiny sizes only)."""

from __future__ import annotations

import pathlib
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]

import onnx  # noqa: E402
import torch  # noqa: E402,F401

import model_zoo  # noqa: E402
from model_zoo.export import export, onnx_op_types  # noqa: E402

ALL = sorted(model_zoo.MODELS)
HF = sorted(n for n, e in model_zoo.MODELS.items() if e.uses_transformers)


def _needs(name: str) -> None:
    """CI installs every extra: a zoo model that needs transformers must find it."""
    if model_zoo.MODELS[name].uses_transformers:
        import transformers  # noqa: F401


def _check(path: pathlib.Path, name: str, size: str, exporter: str, input_names) -> onnx.ModelProto:
    assert path.name == f"{name}-{size}-{exporter}.onnx"
    assert path.is_file()
    model = onnx.load(str(path))
    onnx.checker.check_model(model)
    assert [i.name for i in model.graph.input] == list(input_names)
    # weights are embedded, no external-data side files
    assert not any(t.data_location == onnx.TensorProto.EXTERNAL for t in model.graph.initializer)
    assert not list(path.parent.glob("*.data")) and not list(path.parent.glob("*.tmp"))
    return model


def test_registry():
    assert ALL == sorted([
        "resnet50", "mobilenet_v2", "unet", "lstm", "einsum_attention",
        "bert_base", "gpt2", "vit_b16", "t5_small", "llama",
        "moe_decoder", "diffusion_unet_block", "whisper_encoder_decoder",
    ])
    with pytest.raises(KeyError):
        model_zoo.get("nope")


@pytest.mark.parametrize("name", ALL)
def test_torchscript_tiny(name, tmp_path):
    _needs(name)
    module, inputs, input_names, dynamic_axes = model_zoo.get(name, "tiny")
    assert not module.training
    assert len(inputs) == len(input_names)
    for n in input_names:
        assert dynamic_axes[n][0] == "batch"
    path = export(name, "torchscript", "tiny", out_dir=tmp_path)
    model = _check(path, name, "tiny", "torchscript", input_names)
    first = model.graph.input[0].type.tensor_type.shape.dim[0]
    assert first.dim_param == "batch"

    mtime = path.stat().st_mtime_ns
    assert export(name, "torchscript", "tiny", out_dir=tmp_path) == path  # cached, not re-exported
    assert path.stat().st_mtime_ns == mtime


def test_einsum_kept(tmp_path):
    path = export("einsum_attention", "torchscript", "tiny", out_dir=tmp_path)
    assert "Einsum" in onnx_op_types(path)


def test_dynamo_tiny(tmp_path, monkeypatch):
    monkeypatch.setenv("FLOPEST_CACHE", str(tmp_path))  # default out_dir comes from the env
    module, inputs, input_names, _ = model_zoo.get("einsum_attention", "tiny")
    path = export("einsum_attention", "dynamo", "tiny")
    assert path.parent == tmp_path
    model = _check(path, "einsum_attention", "tiny", "dynamo", input_names)
    dims = [d.dim_param or d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim]
    assert dims == ["batch", "sequence", 64]
    assert {o.domain: o.version for o in model.opset_import}.get("", None) == 18
