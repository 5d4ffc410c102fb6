"""Keras 3 models through the PyTorch front end, on Keras's torch backend (issue 17 item 3).

The models are in tests/frontends/keras_factories.py; the counts below are checked against hand
arithmetic (1 multiply-add = 2 FLOPs). Keras is imported by flopest, which chooses the torch
backend first; a Keras imported on another backend is tried in a child process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile

import pytest
import torch

import flopest
from flopest import models
from flopest.errors import InputError, ModelReadError, ModelRunError
from flopest.frontends.torch import keras as kfe

pytestmark = pytest.mark.torch

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
F = "tests.frontends.keras_factories"

# the CNN at batch 4 (32x32x3 images)
B = 4
CONV1 = 2 * B * 32 * 32 * 8 * (3 * 3 * 3)          # 1,769,472: 8 filters 3x3x3 at 32x32
CONV2 = 2 * B * 16 * 16 * 16 * (3 * 3 * 8)         # 2,359,296: 16 filters 3x3x8 at 16x16 (after the pool)
HEAD = 2 * B * 16 * 10                             # 1,280: dense 16 -> 10
CNN_PARAMS = (3 * 3 * 3 * 8 + 8) + 4 * 8 + (3 * 3 * 8 * 16 + 16) + (16 * 10 + 10)   # 224 + 32 + 1,168 + 170 = 1,594
CNN_NON_TRAINABLE = 2 * 8                          # batch norm's moving mean and variance

# the transformer at batch 2, 16 tokens, d 32, 4 heads of 8, feed-forward 64, 3 classes
TB, T, D, H, DK, FF, C = 2, 16, 32, 4, 8, 64, 3
QKV = 3 * 2 * TB * T * D * (H * DK)                # 196,608: the q, k and v projections
SCORES = 2 * 2 * TB * H * T * T * DK               # 65,536: QKᵀ and AV
OUT = 2 * TB * T * (H * DK) * D                    # 65,536: the output projection
FFN = 2 * TB * T * D * FF + 2 * TB * T * FF * D    # 262,144: dense 32 -> 64 -> 32
CLS = 2 * TB * D * C                               # 384: the classifier on the pooled vector
TR_PARAMS = (100 * D + 3 * (D * H * DK + H * DK) + (H * DK * D + D) + 2 * (2 * D)
             + (D * FF + FF) + (FF * D + D) + (D * C + C))   # 3,200 + 3,168 + 1,056 + 128 + 2,112 + 2,080 + 99


@pytest.fixture(scope="module")
def keras():
    mod, _ = kfe.import_keras()   # flopest chooses the torch backend before the first import
    return mod


def test_hand_arithmetic_constants():
    assert CONV1 + CONV2 + HEAD == 4_130_048
    assert CNN_PARAMS == 1_594
    assert QKV + SCORES + OUT + FFN + CLS == 590_208
    assert TR_PARAMS == 11_843


def test_keras_cnn_from_a_factory_matches_hand_arithmetic(keras):
    c = flopest.count(f"{F}:cnn", batch=B)
    # conv 1,769,472 + conv 2,359,296 + dense 1,280 = 4,130,048
    assert c.matmul_flops == CONV1 + CONV2 + HEAD == 4_130_048
    assert c.params == CNN_PARAMS == 1_594
    assert c.unknown_ops == {} and c.coverage == 1.0
    assert c.examples_per_pass == B
    assert not any("could not be built on the meta device" in n for n in c.notes), c.notes
    by = {r["name"]: r["flops"] for r in c.breakdown(by="module")}
    assert by["conv2d"] >= CONV1 and by["conv2d_1"] >= CONV2 and by["dense"] >= HEAD   # Keras layer names


def test_keras_cnn_training_counts_the_backward(keras):
    c = flopest.count(f"{F}:cnn", batch=B, training=True, optimizer="sgd")
    # backward: the first conv needs only its weight gradient (the images need none) = 1×;
    # the second conv and the dense layer need both their weight and input gradients = 2×:
    # 4,130,048 + 1,769,472 + 2·2,359,296 + 2·1,280 = 10,620,672
    assert c.matmul_flops == CONV1 + CONV2 + HEAD + CONV1 + 2 * CONV2 + 2 * HEAD == 10_620_672
    assert c.optimizer_flops > 0
    # SGD's step is over the trainable weights only: batch norm's moving statistics are not
    assert models.count(f"{F}:cnn", batch=B).params - CNN_NON_TRAINABLE == 1_578


def test_keras_transformer_matches_hand_arithmetic(keras):
    c = flopest.count(f"{F}:transformer", batch=TB)
    # q,k,v 196,608 + QKᵀ and AV 65,536 + out 65,536 + FFN 262,144 + head 384 = 590,208
    assert c.matmul_flops == QKV + SCORES + OUT + FFN + CLS == 590_208
    assert c.params == TR_PARAMS == 11_843
    assert c.unknown_ops == {}
    assert c.examples_per_pass == TB
    assert c.tokens_per_example is None
    # training: every matrix product gets its two gradients (the embedding makes the block's
    # input trainable): forward + 2 × forward = 3 × 590,208 = 1,770,624
    t = flopest.count(f"{F}:transformer", batch=TB, training=True)
    assert t.matmul_flops == 3 * 590_208 == 1_770_624


def test_a_keras_model_built_by_hand_is_captured_on_meta_tensors(keras):
    """A model the user built (real weights on the CPU) is counted on meta tensors: its weights
    are read through a stateless scope (never changed), and no input is made real."""
    from tests.frontends import keras_factories as kf
    model = kf.cnn()
    before = [v.numpy().copy() for v in model.weights]
    c = flopest.count(model, flopest.spec((B, 32, 32, 3)), training=True)
    assert c.matmul_flops == 10_620_672
    after = [v.numpy() for v in model.weights]
    assert all((a == b).all() for a, b in zip(before, after))   # batch norm's statistics untouched
    # an input of 40 GB: only a meta capture can count it (Keras would otherwise copy it to the CPU)
    wide = flopest.count(keras.Sequential([keras.Input((100_000,)), keras.layers.Dense(4)]),
                         flopest.spec((100_000, 100_000)))
    assert wide.matmul_flops == 2 * 100_000 * 100_000 * 4   # 8e10


def test_a_keras_model_without_inputs_is_counted_at_its_declared_inputs(keras):
    """count(model) of a model with keras.Input shapes takes them (batch 1, or batch=), as a .keras
    file does; the CNN's forward matmul FLOPs at batch B are CONV1 + CONV2 + HEAD."""
    from tests.frontends import keras_factories as kf
    model = kf.cnn()
    assert flopest.count(model, batch=B).matmul_flops == CONV1 + CONV2 + HEAD
    assert flopest.count(model).matmul_flops * B == CONV1 + CONV2 + HEAD   # batch 1: a quarter
    with pytest.raises(InputError, match="batch="):
        flopest.count(model, flopest.spec((B, 32, 32, 3)), batch=2)   # inputs given and a batch: which?


def test_a_keras_factory_is_built_on_the_meta_device(keras):
    tm = models.torch_model(f"{F}:huge_dense")   # 1e10 weights: 40 GB if they were real
    assert all(p.device.type == "meta" for p in tm.module.parameters())
    c = flopest.count(f"{F}:huge_dense")
    # batch 1 (the declared input's batch is None): 2·1·100,000·100,000
    assert c.matmul_flops == 2 * 100_000 * 100_000
    assert c.params == 100_000 * 100_000 + 100_000


def test_a_subclassed_keras_model_needs_its_inputs(keras):
    with pytest.raises(InputError, match="--input"):
        flopest.count(f"{F}:subclassed")
    c = flopest.count(f"{F}:subclassed", flopest.spec((8, 16)))
    # dense 16 -> 32 and 32 -> 4 on 8 rows: 2·8·16·32 + 2·8·32·4 = 8,192 + 2,048
    assert c.matmul_flops == 8_192 + 2_048
    assert c.params == (16 * 32 + 32) + (32 * 4 + 4)
    assert c.examples_per_pass == 8
    assert not any("uniform" in k or "normal" in k for k in c.unknown_ops)
    assert {r["name"] for r in c.breakdown(by="op")} & {"aten.uniform_", "aten.normal_"} == set()
    assert flopest.count(f"{F}:subclassed_with_inputs").matmul_flops == 8_192 + 2_048


# ----------------------------------------------------------------------------- .keras files
@pytest.fixture
def cnn_file(keras, tmp_path):
    from tests.frontends import keras_factories as kf
    path = tmp_path / "cnn.keras"
    kf.cnn().save(str(path))
    return str(path)


def test_a_keras_file_is_counted_from_its_config(cnn_file):
    assert models.kind(cnn_file) == "keras" and models.is_torch_spec(cnn_file)
    c = flopest.count(cnn_file, batch=B)
    assert c.matmul_flops == 4_130_048 and c.params == 1_594
    assert c.examples_per_pass == B
    assert any("weights in the archive were not read" in n for n in c.notes), c.notes
    # its own inputs replaced: batch 3 gives 3/4 of the work
    assert flopest.count(cnn_file, flopest.spec((3, 32, 32, 3))).matmul_flops == 4_130_048 * 3 // 4


def test_the_weights_of_a_keras_file_are_never_read(cnn_file, tmp_path):
    """A .keras archive whose weights are garbage counts the same: only config.json is read."""
    broken = tmp_path / "broken.keras"
    with zipfile.ZipFile(cnn_file) as src, zipfile.ZipFile(broken, "w") as dst:
        for info in src.infolist():
            data = src.read(info) if info.filename != "model.weights.h5" else b"not hdf5 at all"
            dst.writestr(info, data)
    assert flopest.count(str(broken), batch=B).matmul_flops == 4_130_048


def test_keras_transformer_file_with_integer_inputs(keras, tmp_path):
    from tests.frontends import keras_factories as kf
    path = str(tmp_path / "tr.keras")
    kf.transformer().save(path)
    tm = models.torch_model(path, batch=TB)
    assert tm.args[0].shape == (TB, T) and tm.args[0].dtype == "int32"
    assert flopest.count(path, batch=TB).matmul_flops == 590_208


@pytest.mark.parametrize("content, match", [
    (b"not a zip", "not a zip archive"),
    (None, "without config.json"),
])
def test_a_bad_keras_file_is_named(tmp_path, content, match):
    path = tmp_path / "bad.keras"
    if content is None:
        with zipfile.ZipFile(path, "w") as z:
            z.writestr("metadata.json", "{}")
    else:
        path.write_bytes(content)
    with pytest.raises(ModelReadError, match=match):
        flopest.count(str(path))
    with pytest.raises(ModelReadError, match="does not exist"):
        flopest.count(str(tmp_path / "missing.keras"))


def test_a_keras_file_with_an_unknown_layer_names_the_fix(tmp_path, keras):
    path = tmp_path / "custom.keras"
    config = {"class_name": "NoSuchLayerAnywhere", "config": {}, "module": "nowhere"}
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("config.json", json.dumps(config))
    with pytest.raises(ModelReadError, match="cannot rebuild the Keras model"):
        flopest.count(str(path))


# ----------------------------------------------------------------------------- the CLI
def test_cli_counts_and_estimates_a_keras_file(cli, cnn_file):
    code, out, err = cli(["count", cnn_file, "--format", "json"])
    assert code == 0, err
    d = json.loads(out)
    assert d["matmul_flops"] == 4_130_048 // B   # batch 1 by default
    code, out, err = cli(["estimate", cnn_file, "--dataset-size", "1000", "--batch-size", "32",
                          "--device", "h100-sxm", "--format", "json"])
    assert code == 0, err
    f = json.loads(out)["workload"]["factors"]
    # captured at the batch size: examples per pass read off the inputs' leading dim
    assert f["examples_per_pass"] == 32
    assert f["examples_per_pass_source"] == "the leading dim of the example input"


def _tf2onnx_like(path, batch_dim):
    """A Dense 64 -> 32 + relu exported as tf2onnx writes a Keras model: input `input_1`, its batch
    dim unknown (`unk__6`), weights in NHWC-free MatMul/Add/Relu."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    W = numpy_helper.from_array(np.zeros((64, 32), np.float32), "W")
    b = numpy_helper.from_array(np.zeros(32, np.float32), "b")
    g = helper.make_graph(
        [helper.make_node("MatMul", ["input_1", "W"], ["y"]), helper.make_node("Add", ["y", "b"], ["z"]),
         helper.make_node("Relu", ["z"], ["dense"])],
        "tf2onnx", [helper.make_tensor_value_info("input_1", TensorProto.FLOAT, [batch_dim, 64])],
        [helper.make_tensor_value_info("dense", TensorProto.FLOAT, [batch_dim, 32])], initializer=[W, b])
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), path)


@pytest.mark.parametrize("written", ["unk__6", "", "batch_size"])
def test_a_tf2onnx_batch_dim_is_the_examples_per_pass(cli, tmp_path, written):
    """tf2onnx writes a Keras model's unknown batch dim as `unk__N` (or leaves it unnamed): flopest
    names it after the input, `input_1_dim0`, asks for its value, and whatever its name, the
    first input's leading axis is the examples per pass."""
    path = str(tmp_path / "tf.onnx")
    _tf2onnx_like(path, written or None)
    dim = "batch_size" if written == "batch_size" else "input_1_dim0"
    code, out, err = cli(["estimate", path, "--dataset-size", "1000"])
    assert code == 2 and f"--dim {dim}=VALUE" in err, err
    c = flopest.count(path, dims={dim: 8})
    assert c.examples_per_pass == 8
    code, out, err = cli(["estimate", path, "--dataset-size", "1000", "--dim", f"{dim}=8", "--format", "json"])
    assert code == 0, err
    f = json.loads(out)["workload"]["factors"]
    assert f["examples_per_pass"] == 8 and "leading axis" in f["examples_per_pass_source"]
    # per example: 2·64·32 (matmul) + 32 (bias) + 32 (relu) = 4,160 forward; training = 3 × 4,160
    assert f["forward_backward_flops_per_example"] == 3 * 4_160
    # the work scales with the examples: 8 per pass, 1,000 examples -> the same per-example cost
    code, out, err = cli(["estimate", path, "--dataset-size", "1000", "--dim", f"{dim}=32", "--format", "json"])
    assert json.loads(out)["workload"]["factors"]["forward_backward_flops_per_example"] == 3 * 4_160


# ----------------------------------------------------------------------------- the backend
# Keras 3 imported on another backend. Its other backends need packages CI does not install
# (tensorflow, jax; scipy for numpy), so the child stands a Keras module of backend "tensorflow"
# in for it: what flopest reads of Keras here is `keras.Layer` and `keras.config.backend()`.
CHILD = """
import json, sys, types
keras = types.ModuleType("keras")
keras.__version__ = "3.15.0"
keras.config = types.SimpleNamespace(backend=lambda: "tensorflow")
class Layer:
    pass
class Model(Layer):
    pass
keras.Layer, keras.Model = Layer, Model
sys.modules["keras"] = keras
import flopest
from flopest.errors import InputError
out = {}
for what, fn in (("object", lambda: flopest.count(Model())), ("file", lambda: flopest.count(sys.argv[1]))):
    try:
        fn()
    except InputError as exc:
        out[what] = str(exc)
print(json.dumps(out))
"""


def _child(code, env_backend, *argv):
    env = dict(os.environ, PYTHONPATH=ROOT)
    env.pop("KERAS_BACKEND", None)
    if env_backend:
        env["KERAS_BACKEND"] = env_backend
    r = subprocess.run([sys.executable, "-c", code, *argv], cwd=ROOT, env=env, capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    return json.loads(r.stdout.strip().splitlines()[-1])


def test_keras_imported_on_another_backend_is_said_clearly(cnn_file):
    d = _child(CHILD, None, cnn_file)
    for what in ("object", "file"):
        assert "imported on the 'tensorflow' backend" in d[what] and "KERAS_BACKEND=torch" in d[what], d
        assert "tf2onnx" in d[what]
    assert d["object"].startswith("a Keras Model that is not a torch.nn.Module")


def test_flopest_chooses_the_torch_backend_and_says_when_it_replaced_another(cnn_file):
    code = ("import json, sys, flopest; c = flopest.count(sys.argv[1]); import keras; "
            "print(json.dumps({'backend': keras.config.backend(), 'notes': c.notes, 'm': c.matmul_flops}))")
    d = _child(code, "tensorflow", cnn_file)   # named, not installed: flopest imports Keras on torch
    assert d["backend"] == "torch" and d["m"] == 4_130_048 // B
    assert any("KERAS_BACKEND=tensorflow was replaced by torch" in n for n in d["notes"]), d
    d = _child(code, None, cnn_file)
    assert not any("KERAS_BACKEND" in n for n in d["notes"]), d


def test_importing_flopest_does_not_import_keras():
    code = "import sys, json, flopest, flopest.models; print(json.dumps('keras' in sys.modules))"
    assert _child(code, None) is False


def test_a_keras_build_failure_names_the_model(keras):
    class Broken(keras.Model):
        def call(self, x):
            raise RuntimeError("broken on purpose")
    with pytest.raises(ModelRunError, match=r"broken on purpose \(in Broken.call\(\)\)"):
        flopest.count(Broken(name="broken"), flopest.spec((2, 3)))
    built = Broken(name="built")
    built.built = True   # its first call is the capture's: the capture's error says the same
    with pytest.raises(ModelRunError, match="broken on purpose"):
        flopest.count(built, flopest.spec((2, 3)))
    assert torch.get_default_device().type == "cpu"
