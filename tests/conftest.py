import os
import sys

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:  # model_zoo/ and tests/naive.py import from the checkout
    sys.path.insert(0, ROOT)


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


@pytest.fixture
def mlp_path(tmp_path):
    p = tmp_path / "mlp.onnx"
    onnx.save(mlp_model(), str(p))
    return str(p)
