"""Small hostile files must not make flopest allocate in proportion to a value they hold (issue
19.7): each is counted in a fresh process whose peak RSS (VmHWM) stays under 1 GB. Before, a
185-byte ConstantOfShape [20000, 20000] + NonZero cost 6.5 GB (onnxruntime's tool filled the
tensor) and a rank-50,000 Expand chain 7.9 GB (onnx's shape inference)."""

from __future__ import annotations

import onnx
import pytest
from onnx import TensorProto, helper

from . import _scale

LIMIT_MB = 1024


def _constant_of_shape_nonzero(path):
    shape = helper.make_tensor("s", TensorProto.INT64, [2], [20000, 20000])   # 4e8 elements, 1.6 GB as float
    g = helper.make_graph(
        [helper.make_node("ConstantOfShape", ["s"], ["c"], value=helper.make_tensor("v", TensorProto.FLOAT, [1], [1.0])),
         helper.make_node("NonZero", ["c"], ["nz"])],
        "g", [], [helper.make_tensor_value_info("nz", TensorProto.INT64, None)], initializer=[shape])
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), str(path))


def _expand_rank(path, rank=50_000, depth=4):
    shape = helper.make_tensor("s", TensorProto.INT64, [rank], [1] * rank)
    nodes = [helper.make_node("Expand", ["x" if i == 0 else f"e{i - 1}", "s"], [f"e{i}"]) for i in range(depth)]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                          [helper.make_tensor_value_info(f"e{depth - 1}", TensorProto.FLOAT, None)], initializer=[shape])
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), str(path))


@pytest.mark.parametrize("build", [_constant_of_shape_nonzero, _expand_rank])
def test_small_hostile_files_stay_under_1gb(tmp_path, build):
    path = tmp_path / "hostile.onnx"
    build(path)
    assert path.stat().st_size < 1 << 20
    r = _scale.count_in_subprocess(str(path), {})
    assert r["maxrss_mb"] < LIMIT_MB, r
