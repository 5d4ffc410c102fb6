"""flopest.frontends.onnx.pb: onnx's message classes and shape inference without `import onnx`,
and the values of tensors and attributes read as onnx's own helpers read them (a second
implementation: onnx.numpy_helper and onnx.helper, compared on every element type NumPy holds)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import onnx
import pytest
from onnx import AttributeProto, TensorProto, helper, numpy_helper

from flopest.frontends.onnx import pb

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
NATIVE = {TensorProto.FLOAT: np.float32, TensorProto.UINT8: np.uint8, TensorProto.INT8: np.int8,
          TensorProto.UINT16: np.uint16, TensorProto.INT16: np.int16, TensorProto.INT32: np.int32,
          TensorProto.INT64: np.int64, TensorProto.BOOL: np.bool_, TensorProto.FLOAT16: np.float16,
          TensorProto.DOUBLE: np.float64, TensorProto.UINT32: np.uint32, TensorProto.UINT64: np.uint64}


def _values(dtype, rng):
    if dtype == np.bool_:
        return rng.integers(0, 2, (2, 3)).astype(bool)
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        return rng.integers(max(info.min, -1000), min(info.max, 1000), (2, 3), endpoint=True).astype(dtype)
    return (rng.standard_normal((2, 3)) * 100).astype(dtype)


@pytest.mark.parametrize("dt", sorted(NATIVE))
@pytest.mark.parametrize("raw", [True, False])
def test_to_array_equals_numpy_helper(dt, raw):
    a = _values(NATIVE[dt], np.random.default_rng(dt))
    t = helper.make_tensor("t", dt, a.shape, a.tobytes() if raw else a.flatten().tolist(), raw=raw)
    want = numpy_helper.to_array(t)
    got = pb.to_array(t)
    assert got.dtype == want.dtype and got.shape == want.shape
    assert np.array_equal(got, want)


def test_to_array_other_types_go_through_onnx():
    t = helper.make_tensor("s", TensorProto.STRING, [2], [b"a", b"bc"])
    assert pb.to_array(t).tolist() == ["a", "bc"]
    bf = helper.make_tensor("b", TensorProto.BFLOAT16, [2], [1.0, -2.0])
    assert pb.to_array(bf).astype(np.float32).tolist() == [1.0, -2.0]


def test_element_bytes_equal_onnx_helper():
    for name, dt in TensorProto.DataType.items():
        if dt:
            assert pb.element_bytes(dt) == helper.tensor_dtype_to_np_dtype(dt).itemsize, name


def test_attribute_values_equal_onnx_helper():
    g = helper.make_graph([], "sub", [], [])
    node = helper.make_node("X", [], [], f=1.5, i=3, s="text", t=helper.make_tensor("t", TensorProto.INT64, [2], [4, 5]),
                            g=g, floats=[1.0, 2.5], ints=[1, 2, 3], strings=["a", "b"],
                            tensors=[helper.make_tensor("u", TensorProto.FLOAT, [1], [1.0])], graphs=[g, g])
    ref = AttributeProto()
    ref.name, ref.ref_attr_name, ref.type = "r", "outer", AttributeProto.INT
    node.attribute.append(ref)
    for a in node.attribute:
        if a.ref_attr_name:
            with pytest.raises(ValueError):
                pb.attribute_value(a)
            with pytest.raises(ValueError):
                helper.get_attribute_value(a)
        else:
            assert pb.attribute_value(a) == helper.get_attribute_value(a), a.name


def test_infer_shapes_equals_onnx():
    g = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["y"]), helper.make_node("Relu", ["y"], ["z"])],
                          "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["B", 16]),
                                helper.make_tensor_value_info("w", TensorProto.FLOAT, [16, 8])],
                          [helper.make_tensor_value_info("z", TensorProto.FLOAT, None)])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    want = onnx.shape_inference.infer_shapes(m, data_prop=True)
    got = pb.infer_shapes(m, data_prop=True)
    assert got.SerializeToString() == want.SerializeToString()
    assert [d.dim_param or d.dim_value for d in got.graph.value_info[0].type.tensor_type.shape.dim] == ["B", 8]


def test_standalone_classes_are_onnx_own_after_a_later_import(tmp_path):
    """In a fresh process, pb loads onnx's generated module without `import onnx`; a later
    `import onnx` reuses it: the classes are the same objects and onnx's own helpers work on
    pb's messages."""
    code = ("import sys; from flopest.frontends.onnx import pb; first = 'onnx' in sys.modules; "
            "m = pb.ModelProto(); m.ir_version = 9; pb.infer_shapes(m); import onnx; from onnx import helper; "
            "import json; print(json.dumps([first, onnx.ModelProto is pb.ModelProto, "
            "onnx.load_from_string(m.SerializeToString()).ir_version, "
            "helper.make_tensor('t', 1, [1], [1.0]).__class__ is pb.TensorProto, "
            "onnx.onnx_cpp2py_export.checker.ValidationError.__name__, onnx.onnx_ml_pb2.ModelProto is onnx.ModelProto, "
            "pb._FINDER in sys.meta_path]))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=120,
                       env={**os.environ, "PYTHONPATH": ROOT})
    assert r.returncode == 0, r.stderr
    # the package's attributes for the modules pb loaded are set (code reaches the checker's
    # exception through them), and pb's import hook is gone once onnx is imported
    assert json.loads(r.stdout.strip().splitlines()[-1]) == [False, True, 9, True, "ValidationError", True, False]


def test_first_counts_in_several_threads_agree(tmp_path):
    """8 threads run a fresh process's first ONNX count at once (the shape-inference extension is
    loaded once, under a lock): every count is the same, and a later `import onnx` works.
    Cast(x[B, 8] float32 -> float16): bytes = B·8·(4 + 2) = 240 at B = 5."""
    g = helper.make_graph([helper.make_node("Cast", ["x"], ["y"], to=TensorProto.FLOAT16)], "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["B", 8])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT16, ["B", 8])])
    path = tmp_path / "cast.onnx"
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), path)
    code = ("import sys, threading, json; sys.setswitchinterval(1e-6); import flopest\n"
            "res, bar = [], threading.Barrier(8)\n"
            "def go():\n    bar.wait(); res.append(flopest.count(sys.argv[1], dims={'B': 5}).bytes)\n"
            "ts = [threading.Thread(target=go) for _ in range(8)]; [t.start() for t in ts]; [t.join() for t in ts]\n"
            "import onnx; print(json.dumps([res, hasattr(onnx, 'onnx_cpp2py_export')]))")
    for _ in range(3):
        r = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, cwd=tmp_path,
                           timeout=120, env={**os.environ, "PYTHONPATH": ROOT})
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout.strip().splitlines()[-1]) == [[5 * 8 * (4 + 2)] * 8, True]


def test_a_model_proto_is_counted_before_onnx_is_imported(tmp_path):
    """A ModelProto made from pb's classes (onnx not imported) is a model, not a refused object."""
    code = ("import sys; from flopest.frontends.onnx import pb; import flopest\n"
            "m = pb.ModelProto(); m.ParseFromString(open(sys.argv[1], 'rb').read())\n"
            "print(flopest.count(m, dims={'B': 3}).flops, 'onnx' in sys.modules)")
    from tests.conftest import matmul_model
    path = tmp_path / "m.onnx"
    onnx.save(matmul_model(), path)
    r = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, cwd=tmp_path,
                       timeout=120, env={**os.environ, "PYTHONPATH": ROOT})
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == [str(2 * 3 * 16 * 8), "False"]
