"""Control flow and attention masks (issue 13 item 6): Scan per opset, dead If branches,
causal attention with an external KV cache and sliding windows, a reason for every
uncosted operator."""

import numpy as np
from onnx import TensorProto, helper, numpy_helper

import flopest


def vi(name, shape, t=TensorProto.FLOAT):
    return helper.make_tensor_value_info(name, t, shape)


def model(nodes, inputs, outputs, inits=(), opset=17):
    g = helper.make_graph(nodes, "g", inputs, outputs, initializer=list(inits))
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])


def scan_sum(opset):
    """ONNX's test_scan_sum / test_scan9_sum body: sum = sum + x_t over [2]-vectors."""
    body = helper.make_graph([helper.make_node("Add", ["s_in", "x_t"], ["s_out"]),
                              helper.make_node("Identity", ["s_out"], ["y_t"])], "body",
                             [vi("s_in", [2]), vi("x_t", [2])], [vi("s_out", [2]), vi("y_t", [2])])
    if opset == 8:   # sequence_lens first; batch axis 0, sequence axis 1: x (1, 3, 2)
        node = helper.make_node("Scan", ["", "init", "x"], ["s", "y"], num_scan_inputs=1, body=body)
        ins = [vi("init", [1, 2]), vi("x", [1, 3, 2])]
        outs = [vi("s", [1, 2]), vi("y", [1, 3, 2])]
    else:            # x (3, 2), scan axis 0
        node = helper.make_node("Scan", ["init", "x"], ["s", "y"], num_scan_inputs=1, body=body)
        ins = [vi("init", [2]), vi("x", [3, 2])]
        outs = [vi("s", [2]), vi("y", [3, 2])]
    return model([node], ins, outs, opset=opset)


def test_scan_opset8_runs_batch_times_sequence():
    # batch 1 × sequence 3 steps of one 2-element Add: 1*3*2 = 6 (was 2: the batch axis read as the scan axis)
    assert flopest.count(scan_sum(8)).flops == 6
    # opset 9: 3 steps along axis 0: 3*2 = 6
    assert flopest.count(scan_sum(9)).flops == 6


def test_scan9_axis_attribute():
    body = helper.make_graph([helper.make_node("Add", ["s_in", "x_t"], ["s_out"]),
                              helper.make_node("Identity", ["s_out"], ["y_t"])], "body",
                             [vi("s_in", [2]), vi("x_t", [2])], [vi("s_out", [2]), vi("y_t", [2])])
    node = helper.make_node("Scan", ["init", "x"], ["s", "y"], num_scan_inputs=1, body=body,
                            scan_input_axes=[1])
    m = model([node], [vi("init", [2]), vi("x", [2, 5])], [vi("s", [2]), vi("y", [5, 2])], opset=17)
    assert flopest.count(m).flops == 10   # 5 steps along axis 1, 2 adds each: 5*2 = 10


def test_constant_if_costs_only_the_live_branch_and_bad_branch_shapes_never_reach_the_kernel():
    # then: Split of a 2-long axis into 4 parts (sizes 1, 1, 0, −1 by the ceil rule): the dead branch
    then = helper.make_graph([helper.make_node("Split", ["x"], ["a", "b", "c", "d"], axis=0, num_outputs=4),
                              helper.make_node("Relu", ["d"], ["t"])], "then", [], [vi("t", None)])
    other = helper.make_graph([helper.make_node("Sigmoid", ["x"], ["e"])], "else", [], [vi("e", None)])
    cond = numpy_helper.from_array(np.array(False), "cond")
    m = model([helper.make_node("If", ["cond"], ["y"], then_branch=then, else_branch=other)],
              [vi("x", [2, 4])], [vi("y", None)], inits=[cond], opset=18)
    c = flopest.count(m)
    assert c.flops == 32    # Sigmoid of 2*4 elements at 4 FLOPs each: 8*4 = 32
    assert not c.unknown_ops
    assert any("constant (False)" in n for n in c.notes), c.notes
    # the same graph with a runtime condition: no kernel error from the broken branch (was
    # "parameter out_elems is negative"); its Relu is uncosted with a reason, or costed at the
    # 0 elements onnxruntime infers
    m.graph.ClearField("initializer")
    m.graph.input.append(vi("cond", [], TensorProto.BOOL))
    c = flopest.count(m)
    assert c.flops == 32
    for op in c.unknown_ops:
        assert any(op in n and "not inferred" in n for n in c.notes), c.notes


def attention(lq, lk, nonpad=None, opset=24, **attrs):
    """Attention(Q (2, 4, lq, 8), K/V (2, 2, lk, 8)) with an external cache's valid lengths."""
    ins = ["Q", "K", "V"] + (["", "", "", "nonpad"] if nonpad is not None else [])
    inits = []
    inputs = [vi("Q", [2, 4, lq, 8]), vi("K", [2, 2, lk, 8]), vi("V", [2, 2, lk, 8])]
    if isinstance(nonpad, list):
        inits = [numpy_helper.from_array(np.array(nonpad, np.int64), "nonpad")]
    elif nonpad == "input":
        inputs.append(vi("nonpad", [2], TensorProto.INT64))
    return model([helper.make_node("Attention", ins, ["Y"], **attrs)], inputs, [vi("Y", [2, 4, lq, 8])],
                 inits=inits, opset=opset)


def test_causal_attention_with_external_cache_lengths():
    # ONNX's test_attention_4d_gqa_causal_nonpad_decode: one decode query; batch 0 sees its 8
    # valid keys, batch 1 its 5: matmul 2*4 heads*(8 + 5)*(8 + 8) = 1,664 (was 256: offset 0)
    c = flopest.count(attention(1, 8, [8, 5], is_causal=1), causal=True)
    assert c.matmul_flops == 1_664
    # lengths known only at run time: every cached key taken as valid, said in a note:
    # 2*2*4*8*16 = 2,048
    c = flopest.count(attention(1, 8, "input", is_causal=1), causal=True)
    assert c.matmul_flops == 2_048
    assert any("nonpad_kv_seqlen is a runtime input" in n for n in c.notes), c.notes
    # without causal counting, every pair: 2*(2*4)*(1*8)*16 = 2,048
    assert flopest.count(attention(1, 8, [8, 5], is_causal=1)).matmul_flops == 2_048


def test_causal_attention_with_past_key_offset():
    # 2 new queries after a 3-key past: keys 5; query i sees j <= i + 3: 4 + 5 = 9 pairs
    # matmul 2*(2*4)*9*(8 + 8) = 2,304
    m = model([helper.make_node("Attention", ["Q", "K", "V", "", "pk", "pv"], ["Y"], is_causal=1)],
              [vi("Q", [2, 4, 2, 8]), vi("K", [2, 2, 2, 8]), vi("V", [2, 2, 2, 8]),
               vi("pk", [2, 2, 3, 8]), vi("pv", [2, 2, 3, 8])], [vi("Y", [2, 4, 2, 8])], opset=23)
    assert flopest.count(m, causal=True).matmul_flops == 2_304


def test_sliding_windows():
    # the ONNX spec's example: S_q = 4, S_k = 6, left 2, right 1, not causal: q0..q3 see
    # 2, 3, 4, 4 keys = 13 pairs; matmul 2*(2*4)*13*16 = 3,328
    m = attention(4, 6, opset=25, left_window_size=2, right_window_size=1)
    assert flopest.count(m, causal=True).matmul_flops == 3_328
    # causal with a left window of 2 (the current key and two before), S_q = S_k = 5:
    # 1 + 2 + 3 + 3 + 3 = 12 pairs; 2*8*12*16 = 3,072
    m = attention(5, 5, opset=25, is_causal=1, left_window_size=2)
    assert flopest.count(m, causal=True).matmul_flops == 3_072
    # a lower bound only (left 1, right unbounded), S_q = 3, S_k = 4: query i sees j >= i − 1:
    # 4 + 4 + 3 = 11 pairs; 2*8*11*16 = 2,816
    m = attention(3, 4, opset=25, left_window_size=1)
    assert flopest.count(m, causal=True).matmul_flops == 2_816


def test_every_uncosted_operator_has_a_reason():
    m = model([helper.make_node("BlackmanWindow", ["n"], ["w"]),
               helper.make_node("Relu", ["w"], ["y"])],
              [vi("n", [], TensorProto.INT64)], [vi("y", None)])
    c = flopest.count(m)
    assert set(c.unknown_ops) == {"BlackmanWindow", "Relu"}
    for op in c.unknown_ops:
        assert any(n.startswith(op) and ("no lowering" in n or "not inferred" in n) for n in c.notes), (op, c.notes)
