"""flopest opens no socket: a full count of an ONNX model (onnx's and onnxruntime's shape
inference included) and of PyTorch models (a transformers model among them) runs with every way
of reaching the network patched to fail, in process and in a fresh interpreter where an audit
hook also reports any socket created from Python."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap

import onnx
import pytest

import flopest
from tests.conftest import mlp_model

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CORPUS = os.path.join(ROOT, "tests", "robustness", "corpus")


@pytest.fixture
def no_network(monkeypatch):
    """Every connection attempt is recorded and refused."""
    attempts = []

    def refuse(name):
        def f(*args, **kwargs):
            attempts.append((name, repr(args)[:200]))
            raise OSError(f"network access attempted in a test: {name}")
        return f

    monkeypatch.setattr(socket.socket, "connect", refuse("socket.connect"))
    monkeypatch.setattr(socket.socket, "connect_ex", refuse("socket.connect_ex"))
    monkeypatch.setattr(socket.socket, "sendto", refuse("socket.sendto"))
    monkeypatch.setattr(socket, "create_connection", refuse("socket.create_connection"))
    monkeypatch.setattr(socket, "getaddrinfo", refuse("socket.getaddrinfo"))
    return attempts


def test_onnx_count_opens_no_connection(no_network, tmp_path):
    p = tmp_path / "mlp.onnx"
    onnx.save(mlp_model(), str(p))
    c = flopest.count(str(p), dims={"batch": 8})
    assert c.flops == 2 * 8 * 64 * 32 + 2 * 8 * 32
    c.to_dict(by="op")
    # a graph flopest's own inference cannot finish: onnxruntime's symbolic inference runs too
    c = flopest.count(os.path.join(CORPUS, "cycle.onnx"))
    c.to_dict(by="node")
    assert no_network == []


@pytest.mark.torch
def test_torch_count_opens_no_connection(no_network):
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel
    with torch.device("meta"):
        m = GPT2LMHeadModel(GPT2Config(n_layer=1, n_embd=32, n_head=2, vocab_size=128, n_positions=32))
    c = flopest.count(m, input_ids=flopest.spec((1, 8), "int64"), training=True, optimizer="adamw")
    assert c.flops > 0 and c.backward_flops > 0
    mlp = torch.nn.Sequential(torch.nn.Linear(8, 8), torch.nn.ReLU())
    assert flopest.count(mlp, torch.zeros(2, 8)).matmul_flops == 2 * 2 * 8 * 8
    assert no_network == []


WRAPPER = textwrap.dedent(r"""
    import socket, sys
    events = []

    def audit(event, args):
        if event.startswith("socket."):
            events.append(event)

    sys.addaudithook(audit)   # any socket made from Python, whatever the library

    def refuse(*a, **k):
        events.append("connect")
        raise OSError("network access attempted")

    socket.socket.connect = socket.socket.connect_ex = refuse
    socket.create_connection = socket.getaddrinfo = refuse
    sys.path.insert(0, ROOT)
    from flopest.cli import main
    import contextlib, io
    codes = []
    for argv in ARGVS:
        with contextlib.redirect_stdout(io.StringIO()):
            codes.append(main(argv))
    seen = list(events)
    socket.socket().close()   # the hook works: this one is seen
    print(json.dumps({"codes": codes, "events": sorted(set(seen)), "hook_works": len(events) > len(seen)}))
""")


@pytest.mark.torch
@pytest.mark.slow
def test_subprocess_with_sockets_refused_and_audited(tmp_path):
    p = tmp_path / "mlp.onnx"
    onnx.save(mlp_model(), str(p))
    argvs = [["count", str(p), "--dim", "batch=8", "--format", "json"],
             ["count", os.path.join(CORPUS, "cycle.onnx"), "--format", "json"],
             ["count", "tests.robustness.factories:mlp", "--training", "--optimizer", "adam", "--format", "csv"]]
    code = "import json\nROOT = %r\nARGVS = %r\n" % (ROOT, argvs) + WRAPPER
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300,
                       env=dict(os.environ, PYTHONPATH=ROOT))
    assert r.returncode == 0, r.stderr[-2000:]
    result = json.loads(r.stdout.strip().splitlines()[-1])
    assert result["codes"] == [0, 0, 0], r.stderr[-2000:]
    assert result["hook_works"] and result["events"] == [], result


# ------------------------------------------------------------------ no file the model names
def _external(name, dims, dt=onnx.TensorProto.INT64, location="secret.bin"):
    t = onnx.TensorProto()
    t.name, t.data_type = name, dt
    t.dims.extend(dims)
    t.data_location = onnx.TensorProto.EXTERNAL
    e = t.external_data.add()
    e.key, e.value = "location", location
    return t


def _external_models():
    from onnx import TensorProto, helper
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["b", 3])
    a = helper.make_tensor_value_info("a", TensorProto.FLOAT, None)
    const = helper.make_node("Constant", [], ["S"])
    const.attribute.append(helper.make_attribute("value", _external("v", [2])))
    reshape = helper.make_node("Reshape", ["x", "S"], ["a"])
    sub = helper.make_graph([helper.make_node("Reshape", ["x", "S2"], ["a"])], "branch", [], [a],
                            [_external("S2", [2])])
    graphs = {
        "constant": helper.make_graph([const, reshape], "g", [x], [a]),
        "empty_initializer": helper.make_graph([reshape], "g", [x], [a], [_external("S", [0])]),
        "shape_initializer": helper.make_graph([reshape], "g", [x], [a], [_external("S", [2])]),
        "weight": helper.make_graph([helper.make_node("MatMul", ["x", "W"], ["a"])], "g", [x], [a],
                                    [_external("W", [3, 3], TensorProto.FLOAT)]),
        "subgraph_initializer": helper.make_graph(
            [helper.make_node("If", ["c"], ["a"], then_branch=sub, else_branch=sub)], "g",
            [x, helper.make_tensor_value_info("c", TensorProto.BOOL, [])], [a]),
    }
    return {k: helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]) for k, g in graphs.items()}


def test_external_data_named_by_a_model_is_never_read(tmp_path, monkeypatch):
    """A model naming a file as its external data (`secret.bin`, relative to the working folder,
    where onnx's readers look) is counted without that file being read: not by flopest, not by
    onnx's or onnxruntime's shape inference."""
    import onnx.external_data_helper as edh
    from onnx import numpy_helper

    from flopest.frontends import onnx as fe
    (tmp_path / "secret.bin").write_bytes(b"\x01" * 4096)
    monkeypatch.chdir(tmp_path)
    reads = []

    def record(name):
        def f(tensor, *a, **k):
            reads.append((name, tensor.name))
            raise OSError("external data read in a test")
        return f

    monkeypatch.setattr(edh, "_read_external_data_bytes", record("_read_external_data_bytes"))
    monkeypatch.setattr(edh, "load_external_data_for_tensor", record("load_external_data_for_tensor"))
    monkeypatch.setattr(edh, "load_external_data_for_model", record("load_external_data_for_model"))
    for name, m in _external_models().items():
        path = tmp_path / f"{name}.onnx"
        onnx.save(m, str(path))
        for source in (str(path), m, f"{name}.onnx"):
            c = flopest.count(source, dims={"b": 2})
            c.to_dict(by="op")
        loaded, _ = fe.load(m)
        for engine in ("onnx", "flopest", "ort"):   # onnxruntime's tool forced, not only as a fallback
            fe.infer(loaded, engine, names=["b"])
        assert reads == [], (name, reads)
    with pytest.raises(OSError):   # the detector works: reading the tensor is recorded
        numpy_helper.to_array(_external("v", [2]))
    assert reads == [("_read_external_data_bytes", "v")]
