"""Whole-model behaviour of the ONNX front end, against hand arithmetic: control flow (If, Loop,
Scan), unknown operators, symbolic dims carried through a shape computation, exact totals past
1e25. Formulas: kinds.FORMULAS (GEMM 2·batch·m·n·k; bytes (A + B + Y)·4 for float32)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from onnx import helper

ROOT = Path(__file__).resolve().parents[2]

import flopest  # noqa: E402
from tests.ops._onnx_build import (BOOL, F, I64, check, count, graph, init, model,  # noqa: E402
                                   node, vi, weight)


# --------------------------------------------------------------------------- If
def _if_model(matmul_first: bool):
    # then/else: MatMul X (2,3) @ W (3,4) -> (2,4), or Sigmoid Z (2,4) -> (2,4)
    mm = graph([node("MatMul", ["X", "W"], ["mm_out"])], [], [("mm_out", (2, 4))], name="mm")
    sg = graph([node("Sigmoid", ["Z"], ["sg_out"])], [], [("sg_out", (2, 4))], name="sg")
    then, other = (mm, sg) if matmul_first else (sg, mm)
    return model([node("If", ["cond"], ["Y"], then_branch=then, else_branch=other)],
                 [("cond", (), BOOL), ("X", (2, 3)), ("W", (3, 4)), ("Z", (2, 4))],
                 [("Y", (2, 4))])


@pytest.mark.parametrize("matmul_first", [True, False], ids=["then-costlier", "else-costlier"])
def test_if_counts_the_costlier_branch(matmul_first):
    c = count(_if_model(matmul_first))
    # MatMul branch: 2*2*4*3 = 48 FLOPs, bytes (6 + 12 + 8)*4 = 104;
    # Sigmoid branch: 8*4 = 32 FLOPs (fewer), bytes (8 + 8)*4 = 64, not counted
    check(c, 48, 48, 104)


# --------------------------------------------------------------------------- Loop
def _loop_body():
    # body(iter, cond, v): h = v (2,4) @ Wsq (4,4); v_out = Relu(h); cond_out = Identity(cond)
    return graph([node("Identity", ["cond_in"], ["cond_out"]),
                  node("MatMul", ["v_in", "Wsq"], ["h"]),
                  node("Relu", ["h"], ["v_out"])],
                 [("iter", (), I64), ("cond_in", (), BOOL), ("v_in", (2, 4))],
                 [("cond_out", (), BOOL), ("v_out", (2, 4))], name="body")


def test_loop_constant_trip_count():
    m = model([node("Loop", ["M", "c0", "v0"], ["v_final"], body=_loop_body())],
              [("v0", (2, 4)), ("Wsq", (4, 4))], [("v_final", (2, 4))],
              inits=[init("M", 3), init("c0", True, bool)])
    c = count(m)
    # per trip: MatMul 2*2*4*4 = 64 FLOPs, bytes (8 + 16 + 8)*4 = 128;
    #           Relu 8 FLOPs, bytes (8 + 8)*4 = 64; Identity free
    # × 3 trips: flops (64 + 8)*3 = 216, matmul 64*3 = 192, bytes (128 + 64)*3 = 576
    check(c, 216, 192, 576)


def test_loop_unknown_trip_count():
    m = model([node("Relu", ["v0"], ["r"]),
               node("Loop", ["M", "c0", "v0"], ["v_final"], body=_loop_body())],
              [("M", (), I64), ("v0", (2, 4)), ("Wsq", (4, 4))], ["r", ("v_final", (2, 4))],
              inits=[init("c0", True, bool)])
    c = count(m)
    assert c.unknown_ops == {"Loop": 1}
    assert c.coverage == 0.5              # Relu costed, Loop not: 1 of 2 nodes
    # only the Relu (2,4): 8 FLOPs, bytes (8 + 8)*4 = 64
    assert (c.flops, c.matmul_flops, c.bytes) == (8, 0, 64)


# --------------------------------------------------------------------------- Scan
def test_scan_body_times_sequence_length():
    # state s (2,4); scan input xs (5,2,4) over axis 0: 5 steps;
    # body: s_out = MatMul(x_t (2,4), Wsq (4,4)) + s_in; y_t = Identity(s_out)
    body = graph([node("MatMul", ["x_t", "Wsq"], ["p"]),
                  node("Add", ["p", "s_in"], ["s_out"]),
                  node("Identity", ["s_out"], ["y_t"])],
                 [("s_in", (2, 4)), ("x_t", (2, 4))], [("s_out", (2, 4)), ("y_t", (2, 4))],
                 name="scan_body")
    m = model([node("Scan", ["s0", "xs"], ["s_final", "ys"], body=body, num_scan_inputs=1)],
              [("s0", (2, 4)), ("xs", (5, 2, 4)), ("Wsq", (4, 4))],
              [("s_final", (2, 4)), ("ys", (5, 2, 4))])
    c = count(m)
    # per step: MatMul 2*2*4*4 = 64 FLOPs, bytes (8 + 16 + 8)*4 = 128; Add 8 FLOPs,
    # bytes (8 + 8 + 8)*4 = 96; × 5 steps: flops (64 + 8)*5 = 360, matmul 64*5 = 320,
    # bytes (128 + 96)*5 = 1120
    check(c, 360, 320, 1120)


# --------------------------------------------------------------------------- unknown operators
def helper_node(op, inputs, outputs):
    """A node of the custom domain com.example, unknown to flopest."""
    return helper.make_node(op, inputs, outputs, domain="com.example")


def _custom_model():
    return model([node("Relu", ["X"], ["Y"]),
                  helper_node("MyOp", ["X"], ["Z1"]),
                  helper_node("MyOp", ["Z1"], ["Z2"])],
                 [("X", (2, 3))], ["Y", "Z2"], domains=["com.example"])


def test_unknown_op_listed():
    c = count(_custom_model())
    assert c.unknown_ops == {"com.example:MyOp": 2}
    assert c.coverage == pytest.approx(1 / 3)   # only the Relu of 3 nodes
    # Relu (2,3): 6 FLOPs, bytes (6 + 6)*4 = 48
    assert (c.flops, c.matmul_flops, c.bytes) == (6, 0, 48)
    assert c.to_dict()["unknown_ops"] == {"com.example:MyOp": 2}


def test_unknown_op_strict_raises():
    with pytest.raises(flopest.UnknownOperatorError, match="com.example:MyOp"):
        count(_custom_model(), strict=True)


# --------------------------------------------------------------------------- symbolic dims
def _symbolic_model():
    """X (batch, sequence, 8); a reshape target computed from Shape(X):
    Shape -> Gather -> Unsqueeze -> Concat([batch, sequence, 2, 4]) -> Reshape (B,S,2,4);
    T = Transpose(0,2,1,3) (B,2,S,4); K = Transpose(0,2,3,1) (B,2,4,S);
    A = T @ K (B,2,S,S); P = Softmax(A); O = P @ T (B,2,S,4); and Y = X @ W (8,16)."""
    nodes = [
        node("Shape", ["X"], ["s"]),
        node("Gather", ["s", "i0"], ["b"], axis=0),
        node("Gather", ["s", "i1"], ["q"], axis=0),
        node("Unsqueeze", ["b", "ax0"], ["bu"]),
        node("Unsqueeze", ["q", "ax0"], ["qu"]),
        node("Concat", ["bu", "qu", "c2", "c4"], ["shp"], axis=0),
        node("Reshape", ["X", "shp"], ["R"]),
        node("Transpose", ["R"], ["T"], perm=[0, 2, 1, 3]),
        node("Transpose", ["R"], ["K"], perm=[0, 2, 3, 1]),
        node("MatMul", ["T", "K"], ["A"]),
        node("Softmax", ["A"], ["P"], axis=-1),
        node("MatMul", ["P", "T"], ["O"]),
        node("MatMul", ["X", "W"], ["Y"]),
    ]
    inits = [init("i0", 0), init("i1", 1), init("ax0", [0]), init("c2", [2]), init("c4", [4]),
             weight("W", (8, 16))]
    return model(nodes, [("X", ("batch", "sequence", 8))], ["O", "Y"], inits=inits)


def _symbolic_expected(B, S):
    """Hand-derived totals of _symbolic_model (B = batch, S = sequence):
    Gather ×2 on the int64 shape: 1 out, 1 index each: 2*(2*1*8 + 8*1) = 48 bytes
    Concat of 4 int64 scalars: 2*4*8 = 64 bytes
    Transpose ×2: 2*(2*8BS*4) = 128BS bytes
    A = T @ K: batch 2B, m S, n S, k 4: 2*2B*S*S*4 = 16BS² FLOPs;
       bytes (2B*S*4 + 2B*4*S + 2B*S*S)*4 = 64BS + 8BS²
    Softmax over 2BS² scores: 5*2BS² = 10BS² FLOPs; bytes 2*2BS²*4 = 16BS²
    O = P @ T: batch 2B, m S, n 4, k S: 2*2B*S*4*S = 16BS²; bytes (2BS² + 8BS + 8BS)*4 = 8BS² + 64BS
    Y = X @ W: batch B, m S, n 16, k 8: 2*B*S*16*8 = 256BS; bytes (8BS + 128 + 16BS)*4 = 96BS + 512
    matmul = 32BS² + 256BS; flops = 42BS² + 256BS; bytes = 624 + 352BS + 32BS²."""
    return (42 * B * S * S + 256 * B * S, 32 * B * S * S + 256 * B * S,
            624 + 352 * B * S + 32 * B * S * S)


def test_symbolic_dims_rebind():
    c = count(_symbolic_model(), dims={"batch": 2, "sequence": 8})
    # B=2, S=8: BS = 16, BS² = 128: flops 42*128 + 256*16 = 5376 + 4096 = 9472,
    # matmul 32*128 + 4096 = 8192, bytes 624 + 352*16 + 32*128 = 624 + 5632 + 4096 = 10352
    check(c, 9472, 8192, 10352)
    assert (9472, 8192, 10352) == _symbolic_expected(2, 8)
    assert c.params == 128                   # W 8*16; the int64 shape constants are not params
    assert c.table.free_dims() == {"batch", "sequence"}   # kept symbolic, not re-read per binding
    c2 = c.at(batch=3, sequence=5)
    # B=3, S=5: BS = 15, BS² = 75: flops 42*75 + 256*15 = 3150 + 3840 = 6990,
    # matmul 32*75 + 3840 = 6240, bytes 624 + 352*15 + 32*75 = 624 + 5280 + 2400 = 8304
    check(c2, 6990, 6240, 8304)
    assert (6990, 6240, 8304) == _symbolic_expected(3, 5)
    assert c.at(sequence=5).dims == {"batch": 2, "sequence": 5}   # unspecified dims keep their value
    assert c.at(sequence=5).flops == _symbolic_expected(2, 5)[0]  # 42*50 + 256*10 = 4660
    assert _symbolic_expected(2, 5)[0] == 4660


# --------------------------------------------------------------------------- 1e25+ FLOPs
def test_huge_model_exact_and_json_round_trip():
    # A (n,k) @ B (k,m) -> Y (n,m); Z = Relu(Y), dims bound past int64 products
    n, k, mm = 1_000_000_007, 123_456_789, 987_654_321
    m = model([node("MatMul", ["A", "B"], ["Y"]), node("Relu", ["Y"], ["Z"])],
              [("A", ("n", "k")), ("B", ("k", "m"))], ["Z"])
    c = flopest.count(m, dims={"n": n, "k": k, "m": mm})
    matmul = 2 * n * mm * k                  # 2·n·m·k ≈ 2.4e26
    flops = matmul + n * mm                  # + one max per output of the Relu
    nbytes = (n * k + k * mm + n * mm) * 4 + (n * mm + n * mm) * 4   # MatMul A+B+Y, Relu Y+Z
    assert c.flops > 10**25
    check(c, flops, matmul, nbytes)
    d = json.loads(json.dumps(c.to_dict()))
    assert (d["flops"], d["matmul_flops"], d["bytes"], d["macs"]) == (flops, matmul, nbytes, matmul // 2)
    assert isinstance(d["flops"], int)


def test_shapes_seen_from_graph_inputs_only():
    # the output value_info is declared with an exporter's dim name; it must not become a dim
    m = model([node("Relu", ["X"], ["Y"])], [("X", ("batch", 4))],
              [vi("Y", ("Relu_dim_0", 4), F)])
    c = count(m, dims={"batch": 3})
    # Relu (3,4): 12 FLOPs, bytes (12 + 12)*4 = 96
    check(c, 12, 0, 96)
