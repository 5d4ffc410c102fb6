"""Tiny builders for the ONNX models of the operator tests: one graph, a few nodes, shapes
given as tuples of ints or dim_param names. Shared by ``tests/ops`` and ``tests/frontends``."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

import flopest

F, F16, I64, BOOL = TensorProto.FLOAT, TensorProto.FLOAT16, TensorProto.INT64, TensorProto.BOOL


def vi(name: str, shape=None, dtype: int = F):
    """A value_info; shape None leaves the shape to inference."""
    return helper.make_tensor_value_info(name, dtype, None if shape is None else list(shape))


def init(name: str, values, dtype=np.int64):
    """A constant initializer (shape tensors, axes, trip counts; float weights)."""
    return numpy_helper.from_array(np.array(values, dtype=dtype), name)


def weight(name: str, shape):
    """A float32 weight initializer of zeros (weights are never read for their values)."""
    return numpy_helper.from_array(np.zeros(shape, dtype=np.float32), name)


def _vis(specs, default_shape=None):
    out = []
    for s in specs:
        if isinstance(s, onnx.ValueInfoProto):
            out.append(s)
        elif isinstance(s, str):
            out.append(vi(s, default_shape))
        elif len(s) == 2:
            out.append(vi(s[0], s[1]))
        else:
            out.append(vi(*s))
    return out


def graph(nodes, inputs, outputs, inits=(), name="g"):
    """inputs/outputs: name, (name, shape), (name, shape, dtype) or a ValueInfoProto; an output
    given by name alone is float with its shape left to inference."""
    return helper.make_graph(list(nodes), name, _vis(inputs), _vis(outputs), list(inits))


def model(nodes, inputs, outputs, inits=(), opset: int = 17, domains=()) -> onnx.ModelProto:
    imports = [helper.make_opsetid("", opset)] + [helper.make_opsetid(d, 1) for d in domains]
    return helper.make_model(graph(nodes, inputs, outputs, inits), opset_imports=imports)


def node(op: str, inputs, outputs, **attrs):
    return helper.make_node(op, list(inputs), list(outputs), **attrs)


def count(m, **kw):
    """flopest.count on the ModelProto."""
    return flopest.count(m, **kw)


def check(c, flops: int, matmul_flops: int, nbytes: int) -> None:
    """Every node costed, and the three totals exactly as derived by hand."""
    assert c.unknown_ops == {}, c.notes
    assert c.coverage == 1.0, c.notes
    assert (c.flops, c.matmul_flops, c.bytes) == (flops, matmul_flops, nbytes), c.breakdown("node")
