"""Operator semantics at their edges (found by an audit on hand-built ONNX graphs): each expected
number is hand arithmetic written beside it."""

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

import flopest


def _model(node, inputs, inits=()):
    g = helper.make_graph([node], "g", [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in inputs],
                          [helper.make_tensor_value_info(node.output[0], TensorProto.FLOAT, None)],
                          initializer=list(inits))
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 18)])


@pytest.mark.parametrize("eq,shapes,flops", [
    ("ij,ij->ij", [[3, 4], [3, 4]], 12),     # Hadamard: 12 multiplies, nothing summed (was 24)
    ("i,j->ij", [[3], [4]], 12),             # outer product: 12 multiplies (was 24)
    ("ij,jk->ik", [[3, 4], [4, 5]], 2 * 3 * 4 * 5),   # a contraction stays a multiply-add
])
def test_einsum_without_a_summed_letter_is_one_multiply_an_output(eq, shapes, flops):
    names = ["a", "b"]
    m = _model(helper.make_node("Einsum", names, ["y"], equation=eq), list(zip(names, shapes)))
    assert flopest.count(m).flops == flops


def test_einsum_with_an_output_letter_in_no_operand_is_not_costed():
    m = _model(helper.make_node("Einsum", ["a", "b"], ["y"], equation="ij,jk->iz"), [("a", [3, 4]), ("b", [4, 5])])
    c = flopest.count(m)
    assert c.unknown_ops == {"Einsum": 1} and any("appear in no operand" in n for n in c.notes)


def test_gemm_with_beta_0_neither_reads_nor_adds_c():
    """Y = A·B + 0·C, A 3×5, B 5×7: 2·3·5·7 = 210 FLOPs; C is not added (was 210 + 2·21)."""
    c0 = numpy_helper.from_array(np.ones((3, 7), np.float32), "C")
    b = numpy_helper.from_array(np.ones((5, 7), np.float32), "B")
    m = _model(helper.make_node("Gemm", ["a", "B", "C"], ["y"], beta=0.0), [("a", [3, 5])], [b, c0])
    assert flopest.count(m).flops == 210
    m = _model(helper.make_node("Gemm", ["a", "B", "C"], ["y"], beta=2.0), [("a", [3, 5])], [b, c0])
    assert flopest.count(m).flops == 210 + 2 * 21      # the C add and the beta scale, 21 outputs


def test_reduce_with_no_axes_and_noop_is_the_identity():
    m = _model(helper.make_node("ReduceSum", ["x"], ["y"], noop_with_empty_axes=1), [("x", [3, 70])])
    assert flopest.count(m).flops == 0
    m = _model(helper.make_node("ReduceSum", ["x"], ["y"]), [("x", [3, 70])])   # no noop: every axis summed
    assert flopest.count(m).flops == 210
