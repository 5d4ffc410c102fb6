"""Shared fixtures: small ONNX models, the CLI in-process (`cli`) and as a process (`flopest_proc`).

pytest puts the checkout on sys.path (tests/ is a package), so `model_zoo` and `tests.naive`
import from it. Test modules that import torch, transformers, lightning or the zoo at module
level are marked `torch` here, and are not collected where torch is not installed: run the
core suite there with ``pytest -m "not torch"`` (CI does, in a venv without the torch extra).
"""

import ast
import contextlib
import importlib.util
import io
import os
import pathlib
import subprocess
import sys
from dataclasses import dataclass

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TORCH_MODULES = {"torch", "transformers", "lightning", "pytorch_lightning", "model_zoo", "fvcore", "thop",
                 "ptflops", "calflops"}
HAVE_TORCH = importlib.util.find_spec("torch") is not None


def _imports_torch(path: str) -> bool:
    """Does the test module import torch (or a package that needs it) at module level?"""
    try:
        tree = ast.parse(pathlib.Path(path).read_text(), path)
    except (OSError, SyntaxError):
        return False
    for node in tree.body:
        names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                 [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else [])
        if any(n.split(".")[0] in TORCH_MODULES for n in names):
            return True
    return False


def pytest_ignore_collect(collection_path, config):
    if not HAVE_TORCH and collection_path.suffix == ".py" and _imports_torch(str(collection_path)):
        return True   # cannot even be imported here; `-m "not torch"` deselects it where torch is
    return None


def _runs_a_torch_model(value) -> bool:
    """A parameter that names a PyTorch model (zoo:NAME or a test factory) needs torch to run."""
    if isinstance(value, str):
        return value.startswith("zoo:") or "factories:" in value
    if isinstance(value, (list, tuple)):
        return any(_runs_a_torch_model(v) for v in value)
    return False


def pytest_collection_modifyitems(config, items):
    seen: dict = {}
    for item in items:
        path = str(item.path)
        if path not in seen:
            seen[path] = _imports_torch(path)
        params = getattr(getattr(item, "callspec", None), "params", {})
        if seen[path] or any(_runs_a_torch_model(v) for v in params.values()):
            item.add_marker(pytest.mark.torch)


@dataclass
class Ran:
    """What a CLI run gave: its exit code and standard streams (the names of subprocess's result)."""

    returncode: int
    stdout: str
    stderr: str

    def __iter__(self):   # code, out, err = cli([...])
        return iter((self.returncode, self.stdout, self.stderr))


@pytest.fixture
def cli(monkeypatch):
    """`cli(argv, cwd=None)`: flopest.cli.main(argv) in this process, in folder `cwd`."""
    from flopest.cli import main

    def run(argv, cwd=None):
        out, err = io.StringIO(), io.StringIO()
        with monkeypatch.context() as m:
            if cwd is not None:
                m.chdir(cwd)
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                code = main([str(a) for a in argv])
        return Ran(code, out.getvalue(), err.getvalue())
    return run


@pytest.fixture
def flopest_proc():
    """`flopest_proc(argv, cwd=None, **kw)`: `python -m flopest ARGV` as a process, for the tests of
    the entry point itself (exit status, signals, streams of a real process)."""
    def run(argv, cwd=None, timeout=120, env=None, **kw):
        e = dict(os.environ if env is None else env)
        e["PYTHONPATH"] = ROOT + (os.pathsep + e["PYTHONPATH"] if e.get("PYTHONPATH") else "")
        return subprocess.run([sys.executable, "-m", "flopest", *map(str, argv)], capture_output=True,
                              text=True, cwd=cwd or ROOT, env=e, timeout=timeout, **kw)
    return run


def mlp_model(d_in=64, d_out=32, batch="batch") -> onnx.ModelProto:
    """x(batch, d_in) @ W(d_in, d_out) + b, Relu."""
    rng = np.random.default_rng(0)
    W = rng.random((d_in, d_out), dtype=np.float32)
    b = np.zeros(d_out, np.float32)
    g = helper.make_graph(
        [helper.make_node("MatMul", ["x", "W"], ["y"]), helper.make_node("Add", ["y", "b"], ["z"]),
         helper.make_node("Relu", ["z"], ["r"])],
        "mlp", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, d_in])],
        [helper.make_tensor_value_info("r", TensorProto.FLOAT, [batch, d_out])],
        initializer=[numpy_helper.from_array(W, "W"), numpy_helper.from_array(b, "b")])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


def matmul_model(batch="B", k=16, n=8) -> onnx.ModelProto:
    """x(batch, k) @ W(k, n) of ones: 2·batch·k·n FLOPs."""
    w = numpy_helper.from_array(np.ones((k, n), np.float32), "w")
    g = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["y"])], "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, k])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [batch, n])], initializer=[w])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


@pytest.fixture
def mlp_path(tmp_path):
    p = tmp_path / "mlp.onnx"
    onnx.save(mlp_model(), str(p))
    return str(p)
