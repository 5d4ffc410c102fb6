"""Symbolic broadcasting follows NumPy rules exactly (issue 13 item 2): where two different
symbols meet, the result is a broadcast(...) dim evaluated when the dims are bound (1 against
N gives N, two unequal non-1 values are an error), never the first operand's symbol."""

import pytest
from onnx import TensorProto, helper

import flopest
from flopest.dims import Sym, broadcast_dim, broadcast_shapes, evaluate
from flopest.errors import BroadcastError, FlopestError
from flopest.frontends import onnx as fe


def vi(name, shape, t=TensorProto.FLOAT):
    return helper.make_tensor_value_info(name, t, shape)


def model(nodes, inputs, outputs=None, inits=(), opset=17):
    g = helper.make_graph(nodes, "g", inputs, outputs or [vi(nodes[-1].output[0], None)],
                          initializer=list(inits))
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])


def masked_attention():
    """Add(mask[mq, k], scores[b, h, q, k]) -> Softmax -> MatMul(., v[b, h, k, 64])."""
    return model([helper.make_node("Add", ["mask", "scores"], ["s"]),
                  helper.make_node("Softmax", ["s"], ["p"], axis=-1),
                  helper.make_node("MatMul", ["p", "v"], ["o"])],
                 [vi("mask", ["mq", "k"]), vi("scores", ["b", "h", "q", "k"]), vi("v", ["b", "h", "k", 64])])


def test_masked_attention_matmul_is_not_merged_with_the_mask_dim():
    c = flopest.count(masked_attention(), dims=dict(mq=1, b=8, h=12, q=128, k=128))
    assert c.matmul_flops == 201_326_592   # 2*8*12*128*128*64 = 201,326,592
    assert not c.unknown_ops
    # the same Counts re-bound: mq = q (a full mask) is the same work
    assert c.at(mq=128).matmul_flops == 201_326_592
    with pytest.raises(BroadcastError, match=r"mq=4.*q=128|q=128.*mq=4"):
        c.at(mq=4).matmul_flops        # 4 against 128: neither is 1


def test_matmul_batch_dims_broadcast_both_ways():
    m = model([helper.make_node("MatMul", ["a", "b"], ["o"])],
              [vi("a", ["p", "r", 3, 4]), vi("b", ["s", "t", 4, 2])])
    c = flopest.count(m, dims=dict(p=3, r=1, s=1, t=2))
    assert c.matmul_flops == 288       # batch (3, 2): 2*3*2 * 3*2*4 = 288
    assert c.at(p=1, s=5, r=2, t=2).matmul_flops == 480   # batch (5, 2): 2*5*2*3*2*4 = 480
    with pytest.raises(BroadcastError):
        c.at(p=3, s=2).matmul_flops    # 3 against 2


def test_boolean_bcast4v4d_counts_the_broadcast_output():
    # ONNX node test test_and_bcast4v4d: x (1, 4, 1, 6) and y (3, 1, 5, 6), all dims symbolic
    m = model([helper.make_node("And", ["x", "y"], ["o"])],
              [vi("x", ["x0", "x1", "x2", "x3"], TensorProto.BOOL), vi("y", ["y0", "y1", "y2", "y3"], TensorProto.BOOL)])
    c = flopest.count(m, dims=dict(x0=1, x1=4, x2=1, x3=6, y0=3, y1=1, y2=5, y3=6))
    assert c.flops == 360              # one compare per output element: 3*4*5*6 = 360


def test_expand_and_where_broadcast_symbols():
    # Expand(x[m, 1], Shape(y)[n, k]) -> (broadcast(m, n), k); Where(c[1, k], x2, y) likewise
    m = model([helper.make_node("Shape", ["y"], ["ys"]),
               helper.make_node("Expand", ["x", "ys"], ["e"]),
               helper.make_node("Where", ["c", "e", "y"], ["w"]),
               helper.make_node("Relu", ["w"], ["o"])],
              [vi("x", ["m", 1]), vi("y", ["n", "k"]), vi("c", [1, "k"], TensorProto.BOOL)])
    c = flopest.count(m, dims=dict(m=1, n=6, k=5))
    # Expand (a copy) writes 6*5; Where selects 6*5; Relu 6*5: flops = 30 (Where) + 30 (Relu)
    assert c.flops == 60
    assert c.at(m=6).flops == 60
    with pytest.raises(BroadcastError):
        c.at(m=2).flops


def test_broadcast_dim_rules():
    a, b = Sym.name("a"), Sym.name("b")
    assert broadcast_dim(1, 7) == 7 and broadcast_dim(7, 1) == 7 and broadcast_dim(7, 7) == 7
    assert broadcast_dim(a, 1) == a and broadcast_dim(1, a) == a and broadcast_dim(a, a) == a
    # a symbol against 5: 5 once a is bound to 1 or 5; bound to 3, the model cannot run (it was
    # silently 5 before)
    a5 = broadcast_dim(a, 5)
    assert broadcast_dim(5, a) == a5 and evaluate(a5, {"a": 1}) == 5 and evaluate(a5, {"a": 5}) == 5
    with pytest.raises(BroadcastError, match="a=3"):
        evaluate(a5, {"a": 3})
    ab = broadcast_dim(a, b)
    assert ab != a and ab != b
    assert broadcast_dim(b, a) == ab and broadcast_dim(ab, a) == ab and broadcast_dim(ab, 1) == ab
    ab8 = broadcast_dim(ab, 8)
    assert evaluate(ab8, {"a": 1, "b": 8}) == 8 and evaluate(ab8, {"a": 1, "b": 1}) == 8
    with pytest.raises(BroadcastError):
        evaluate(ab8, {"a": 2, "b": 1})
    assert evaluate(ab, {"a": 1, "b": 9}) == 9 and evaluate(ab, {"a": 9, "b": 1}) == 9
    assert evaluate(ab, {"a": 9, "b": 9}) == 9 and evaluate(ab, {"a": 1, "b": 1}) == 1
    assert evaluate(2 * ab, {"a": 3, "b": 1}) == 6
    with pytest.raises(BroadcastError, match="a=3, b=4"):
        evaluate(ab, {"a": 3, "b": 4})
    with pytest.raises(BroadcastError, match="3 and 4"):
        broadcast_dim(3, 4)
    assert broadcast_shapes((a, 1, 3), (4, 1)) == (a, 4, 3)
    assert isinstance(BroadcastError("x"), FlopestError) and isinstance(BroadcastError("x"), ValueError)


def test_static_shapes_that_do_not_broadcast_are_noted_not_costed_silently():
    m = model([helper.make_node("MatMul", ["a", "b"], ["o"])], [vi("a", [3, 2, 4]), vi("b", [2, 4, 5])])
    c = flopest.count(m)
    assert c.unknown_ops == {"MatMul": 1}
    assert any("MatMul" in n and "broadcast" in n for n in c.notes), c.notes


def test_onnxruntime_fallback_does_not_merge_symbols():
    m, _ = fe.load(masked_attention())
    names = fe.input_dims(m)
    with pytest.raises(Exception, match="broadcasting lets differ"):
        fe.infer(m, "ort", names=names)
    # a graph without broadcasting symbols still goes through
    m2, _ = fe.load(model([helper.make_node("Relu", ["x"], ["o"])], [vi("x", ["n", 4])]))
    info = fe.infer(m2, "ort", names=fe.input_dims(m2))
    assert info.shapes["o"] == (Sym.name("n"), 4)


def test_a_symbol_against_a_static_size_is_checked_when_bound():
    """x[batch, seq, 64] + pe[1, 512, 64] (a learned position table), then a 64×64 MatMul, 50
    times: seq must be 512 (or 1). Bound to 128, the model cannot run: flopest refuses instead
    of counting the 512-row broadcast. The check is one atom for the 50 layers (a nested
    broadcast(broadcast(seq, 512), 512)... made re-binding exponential)."""
    import numpy as np
    from onnx import numpy_helper
    nodes, prev = [], "x"
    for i in range(50):
        nodes += [helper.make_node("Add", [prev, "pe"], [f"a{i}"]), helper.make_node("MatMul", [f"a{i}", "W"], [f"m{i}"])]
        prev = f"m{i}"
    m = model(nodes, [vi("x", ["batch", "seq", 64])],
              inits=[numpy_helper.from_array(np.ones((1, 512, 64), np.float32), "pe"),
                     numpy_helper.from_array(np.ones((64, 64), np.float32), "W")])
    c = flopest.count(m, dims={"batch": 2, "seq": 512})
    assert c.matmul_flops == 50 * 2 * 2 * 512 * 64 * 64      # 50 layers, 2·batch·512·64·64
    assert len(c.table.symbols) <= 8      # a handful (batch, the broadcast atom, their products), not one a layer
    assert c.at(batch=3).matmul_flops == 50 * 2 * 3 * 512 * 64 * 64
    with pytest.raises(BroadcastError, match="seq=128"):
        flopest.count(m, dims={"batch": 2, "seq": 128})


def test_a_slice_past_the_end_of_a_table_is_clamped():
    """table[:seq] of a 64-row table, then @ W(256, 256): ONNX clamps the end to 64 rows, so at
    seq = 100 the product is 2·64·256·256 = 8,388,608 FLOPs, not 2·100·256·256 (it was counted
    past the end); at seq = 32, 2·32·256·256."""
    import numpy as np
    from onnx import numpy_helper
    starts = numpy_helper.from_array(np.array([0], np.int64), "starts")
    axes = numpy_helper.from_array(np.array([0], np.int64), "axes")
    table = numpy_helper.from_array(np.ones((64, 256), np.float32), "table")
    w = numpy_helper.from_array(np.ones((256, 256), np.float32), "W")
    nodes = [helper.make_node("Shape", ["x"], ["shape"], start=1, end=2),
             helper.make_node("Slice", ["table", "starts", "shape", "axes"], ["rows"]),
             helper.make_node("MatMul", ["rows", "W"], ["y"])]
    m = model(nodes, [vi("x", ["batch", "seq"])], inits=[starts, axes, table, w])
    assert flopest.count(m, dims={"batch": 1, "seq": 100}).matmul_flops == 2 * 64 * 256 * 256
    assert flopest.count(m, dims={"batch": 1, "seq": 32}).matmul_flops == 2 * 32 * 256 * 256


def test_causal_without_a_fused_attention_says_it_changes_nothing():
    """--causal applies to fused attention operators; attention written as MatMul, Softmax,
    MatMul is counted in full, and the conventions must not claim causal counting."""
    dims = dict(mq=1, b=8, h=12, q=128, k=128)
    plain = flopest.count(masked_attention(), dims=dims)
    causal = flopest.count(masked_attention(), dims=dims, causal=True)
    assert causal.matmul_flops == plain.matmul_flops
    assert "no fused attention operator" in causal.conventions
