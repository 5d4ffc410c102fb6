"""Operators costed through their ONNX function body (issue 13 items 6 and 7): an operator the
registry has no lowering for, but whose onnx schema defines a function body (static or built
for the node: context-dependent), is expanded into its body and costed, with a note saying
so; model-local functions likewise."""

import onnx
import pytest
from onnx import TensorProto as T
from onnx import helper as h

import flopest
from flopest import ops
from flopest.frontends.onnx.lower import expand_functions

OPSET = onnx.defs.onnx_opset_version()


def _swish_model(n="N"):
    x = h.make_tensor_value_info("x", T.FLOAT, [n, 16])
    y = h.make_tensor_value_info("y", T.FLOAT, None)
    g = h.make_graph([h.make_node("Swish", ["x"], ["y"], alpha=2.0)], "g", [x], [y])
    return h.make_model(g, opset_imports=[h.make_opsetid("", max(OPSET, 24))])


@pytest.mark.skipif(OPSET < 24, reason="Swish is an operator from opset 24")
def test_an_operator_without_lowering_is_costed_through_its_body(monkeypatch):
    """Swish(x) = x · sigmoid(alpha · x); its body in onnx's schema: Constant alpha, CastLike,
    Mul, Sigmoid, Mul. Without flopest's own lowering (removed here), x (4, 16) = 64 elements:
    Mul 64 + Sigmoid 4·64 = 256 (ops' sigmoid constant) + Mul 64 = 384 FLOPs, as the lowering gives."""
    with_lowering = flopest.count(_swish_model(), dims={"N": 4})
    assert with_lowering.flops == 384
    monkeypatch.delitem(ops.REGISTRY, "Swish")
    c = flopest.count(_swish_model(), dims={"N": 4})
    assert c.unknown_ops == {} and c.coverage == 1.0
    assert c.flops == 384
    assert {r["name"]: r["flops"] for r in c.breakdown("op")} == {"Mul": 128, "Sigmoid": 256, "CastLike": 0,
                                                                  "Constant": 0}
    assert any(n.startswith("Swish: costed through its ONNX function body") for n in c.notes), c.notes
    # symbolic: re-bound without re-reading, N = 8 → 128 elements → 768
    assert c.at(N=8).flops == 768


@pytest.mark.skipif(OPSET < 24, reason="Swish is an operator from opset 24")
def test_without_body_or_lowering_it_stays_unknown_with_its_reason(monkeypatch):
    """The expansion only replaces operators it can: with both the lowering and the body gone,
    the node is unknown, with the registry's note (no lowering)."""
    monkeypatch.delitem(ops.REGISTRY, "Swish")
    real = onnx.defs.get_schema

    def no_body(name, *a, **k):
        if name == "Swish":
            raise onnx.defs.SchemaError("no schema in this test")
        return real(name, *a, **k)
    monkeypatch.setattr(onnx.defs, "get_schema", no_body)
    c = flopest.count(_swish_model(), dims={"N": 4})
    assert c.unknown_ops == {"Swish": 1} and c.flops == 0
    assert any(n.startswith("Swish: no lowering") for n in c.notes), c.notes


def _flex_model():
    q = h.make_tensor_value_info("Q", T.FLOAT, [2, 4, 8, 16])
    k = h.make_tensor_value_info("K", T.FLOAT, [2, 4, 6, 16])
    v = h.make_tensor_value_info("V", T.FLOAT, [2, 4, 6, 16])
    y = h.make_tensor_value_info("Y", T.FLOAT, None)
    node = h.make_node("FlexAttention", ["Q", "K", "V"], ["Y"], domain="ai.onnx.preview")
    g = h.make_graph([node], "g", [q, k, v], [y])
    return h.make_model(g, opset_imports=[h.make_opsetid("", OPSET), h.make_opsetid("ai.onnx.preview", 1)])


def _has_flex() -> bool:
    try:
        onnx.defs.get_schema("FlexAttention", 1, "ai.onnx.preview")
        return True
    except Exception:
        return False


@pytest.mark.skipif(not _has_flex(), reason="onnx without ai.onnx.preview FlexAttention (onnx >= 1.23)")
def test_flex_attention_through_its_context_dependent_body():
    """ai.onnx.preview FlexAttention has no lowering in flopest and a context-dependent body
    in onnx (built for the node's attributes and input types). Q (2, 4, 8, 16), K and V
    (2, 4, 6, 16): Q·Kᵀ 2·2·4·8·6·16 = 12,288, P·V 2·2·4·8·6·16 = 12,288 → matmul 24,576."""
    assert ops.lookup("ai.onnx.preview:FlexAttention") == (None, False)
    c = flopest.count(_flex_model())
    assert c.unknown_ops == {}
    assert c.matmul_flops == 24_576
    assert any("ai.onnx.preview:FlexAttention: costed through its ONNX function body" in n for n in c.notes)


def test_model_local_functions_are_costed_through_their_body():
    """A model-local function acme:Scaled(x) = (x · x) + x, called twice on x (3, 5): per call
    Mul 15 + Add 15 = 30 FLOPs → 60; the note names the function."""
    f = h.make_function("acme", "Scaled", ["x"], ["y"],
                        [h.make_node("Mul", ["x", "x"], ["s"]), h.make_node("Add", ["s", "x"], ["y"])],
                        [h.make_opsetid("", OPSET)])
    x = h.make_tensor_value_info("x", T.FLOAT, [3, 5])
    z = h.make_tensor_value_info("z", T.FLOAT, None)
    g = h.make_graph([h.make_node("Scaled", ["x"], ["a"], domain="acme"),
                      h.make_node("Scaled", ["a"], ["z"], domain="acme")], "g", [x], [z])
    m = h.make_model(g, opset_imports=[h.make_opsetid("", OPSET), h.make_opsetid("acme", 1)], functions=[f])
    c = flopest.count(m)
    assert c.unknown_ops == {} and c.flops == 60
    assert any("model-local function(s) costed through their function bodies: acme:Scaled" in n
               for n in c.notes), c.notes


@pytest.mark.skipif(OPSET < 24, reason="Swish is an operator from opset 24")
def test_expansion_leaves_known_operators_alone():
    """A graph whose every operator has a lowering is not touched (no notes, same nodes)."""
    m = _swish_model()
    before = m.SerializeToString()
    assert expand_functions(m) == [] and m.SerializeToString() == before
