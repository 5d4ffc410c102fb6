"""Data movement, gathers, resize, dropout and the free view ops against hand arithmetic
(ops/movement.py; kinds.FORMULAS): MOVE bytes = 2·elems·4; GATHER bytes = 2·out_elems·4 +
8·index_elems; 0 FLOPs throughout, except linear Resize (2^d multiplies + 2^d − 1 adds)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]

from tests.ops._onnx_build import (I64, check, count, init, model, node,  # noqa: E402
                                   weight)


def test_gather_embedding():
    # embedding table (10,4) initializer, ids (2,3) int64 -> (2,3,4) = 24 elements:
    # bytes 2*24*4 + 8*6 = 192 + 48 = 240; params 10*4 = 40
    m = model([node("Gather", ["E", "ids"], ["Y"])], [("ids", (2, 3), I64)], ["Y"],
              inits=[weight("E", (10, 4))])
    c = count(m)
    check(c, 0, 0, 240)
    assert c.params == 40  # 10*4


@pytest.mark.parametrize("m, nbytes", [
    # GatherElements data (3,4), index (3,2) axis 1 -> (3,2) = 6: 2*6*4 + 8*6 = 48 + 48 = 96
    (model([node("GatherElements", ["D", "I"], ["Y"], axis=1)],
           [("D", (3, 4)), ("I", (3, 2), I64)], ["Y"]), 96),
    # ScatterND data (4,5), indices (2,1), updates (2,5): copy data 2*20*4 = 160,
    # write updates 2*10*4 + 8*2 = 96 -> 256
    (model([node("ScatterND", ["D", "I", "U"], ["Y"])],
           [("D", (4, 5)), ("I", (2, 1), I64), ("U", (2, 5))], ["Y"]), 256),
    # Transpose (2,3,4) perm (2,0,1): 24 elements, 2*24*4 = 192
    (model([node("Transpose", ["X"], ["Y"], perm=[2, 0, 1])], [("X", (2, 3, 4))], ["Y"]), 192),
    # Concat (2,3) + (2,5) axis 1: 6 + 10 = 16 elements, 2*16*4 = 128
    (model([node("Concat", ["A", "B"], ["Y"], axis=1)], [("A", (2, 3)), ("B", (2, 5))], ["Y"]),
     128),
    # Slice (4,6) rows 1:3 -> (2,6) = 12 elements, 2*12*4 = 96
    (model([node("Slice", ["X", "s", "e", "a"], ["Y"])], [("X", (4, 6))], ["Y"],
           inits=[init("s", [1]), init("e", [3]), init("a", [0])]), 96),
    # Pad (2,3) by 1 on every side -> (4,5) = 20 elements, 2*20*4 = 160
    (model([node("Pad", ["X", "p"], ["Y"])], [("X", (2, 3))], ["Y"],
           inits=[init("p", [1, 1, 1, 1])]), 160),
    # Expand (3,1) -> (2,3,4) = 24 elements, 2*24*4 = 192
    (model([node("Expand", ["X", "s"], ["Y"])], [("X", (3, 1))], ["Y"],
           inits=[init("s", [2, 3, 4])]), 192),
    # Split (6,4) axis 0 into 2 + 4 rows: 24 elements copied, 2*24*4 = 192
    (model([node("Split", ["X", "sp"], ["Y", "Z"], axis=0)], [("X", (6, 4))], ["Y", "Z"],
           inits=[init("sp", [2, 4])]), 192),
    # Resize nearest, scales (1,1,2,2): (1,1,2,3) -> (1,1,4,6) = 24 elements copied, 2*24*4 = 192
    (model([node("Resize", ["X", "", "sc"], ["Y"], mode="nearest")], [("X", (1, 1, 2, 3))], ["Y"],
           inits=[init("sc", [1, 1, 2, 2], np.float32)]), 192),
], ids=["gather-elements", "scatter-nd", "transpose", "concat", "slice", "pad", "expand", "split",
        "resize-nearest"])
def test_move(m, nbytes):
    check(count(m), 0, 0, nbytes)


def test_resize_linear():
    # Resize linear to sizes (1,1,4,6) from (1,1,2,3): 2 resized dims -> 2^2 = 4 taps,
    # 4 multiplies + 3 adds = 7 per output: 24*7 = 168; bytes (6 in + 24 out)*4 = 120
    m = model([node("Resize", ["X", "", "", "sz"], ["Y"], mode="linear")], [("X", (1, 1, 2, 3))],
              ["Y"], inits=[init("sz", [1, 1, 4, 6])])
    check(count(m), 168, 0, 120)


def test_resize_linear_with_symbolic_sizes_counts_the_resized_axes_at_binding():
    """The node-test corpus's symbolic copy of test_resize_upsample_scales_linear: X (n, c, h, w)
    with its scales a run-time input, so Y's sizes are dims of their own (yn, yc, yh, yw):
    comparing the symbols took all 4 axes as resized (2^4 = 16 taps, 31 per output)."""
    from flopest.dims import Sym, evaluate
    from flopest.ops import Ctx, lookup
    n, c, h, w, yn, yc, yh, yw = (Sym.name(s) for s in ("n", "c", "h", "w", "yn", "yc", "yh", "yw"))
    fn, _ = lookup("Resize")

    def flops(x, y, **dims):
        (_, (outs, per, _)), = fn(Ctx("Resize", [x, None, (4,)], [y], {"mode": "linear"}))
        return evaluate(outs, dims) * evaluate(per, dims)
    # bound to X (1, 1, 2, 2), Y (1, 1, 4, 4): 2 resized axes -> 4 taps, 4 multiplies + 3 adds
    # = 7 per output: 16*7 = 112 (the static count's figure)
    at = {"n": 1, "c": 1, "h": 2, "w": 2, "yn": 1, "yc": 1, "yh": 4, "yw": 4}
    assert flops((n, c, h, w), (yn, yc, yh, yw), **at) == 112
    # a 3-axis resize (1, 1, 2, 2) -> (1, 2, 4, 4): 8 taps, 15 per output: 32*15 = 480
    assert flops((n, c, h, w), (yn, yc, yh, yw), **{**at, "yc": 2}) == 480
    # the same symbol on both sides is never resized: (n, c, h, w) -> (n, c, yh, yw) at
    # h = 2 -> yh = 4, w = 2 -> yw = 2: one resized axis, 2 taps, 3 per output: 4*2*3 = 24
    assert flops((n, c, h, w), (n, c, yh, yw), n=1, c=1, h=2, w=2, yh=4, yw=2) == 24
    # static shapes stay plain ints: (1, 1, 2, 3) -> (1, 1, 4, 6): 7 per output
    assert fn(Ctx("Resize", [(1, 1, 2, 3)], [(1, 1, 4, 6)], {"mode": "linear"}))[0][1][1] == 7


def test_views_are_free():
    # Reshape, Unsqueeze, Squeeze, Flatten, Identity: 0 FLOPs, 0 bytes, every node known
    m = model([node("Reshape", ["X", "shp"], ["a"]),
               node("Unsqueeze", ["a", "ax"], ["b"]),
               node("Squeeze", ["b", "ax"], ["c"]),
               node("Flatten", ["c"], ["d"], axis=1),
               node("Identity", ["d"], ["Y"])],
              [("X", (2, 3, 4))], ["Y"], inits=[init("shp", [6, 4]), init("ax", [0])])
    c = count(m)
    check(c, 0, 0, 0)
    assert c.node_count == 5 and c.params == 0


@pytest.mark.parametrize("extra, inits", [
    ([], []),                                           # no ratio, no training_mode
    (["r", "t"], [init("r", 0.5, np.float32), init("t", False, np.bool_)]),  # training_mode=False
], ids=["default", "training-mode-false"])
def test_dropout_inference_is_free(extra, inits):
    m = model([node("Dropout", ["X"] + extra, ["Y"])], [("X", (2, 3))], ["Y"], inits=inits)
    check(count(m), 0, 0, 0)   # identity at inference: 0 FLOPs, 0 bytes


def test_dropout_training():
    # training_mode=True: 2 FLOPs per element (mask compare, scale): 6*2 = 12;
    # bytes (6 + 6)*4 = 48
    m = model([node("Dropout", ["X", "r", "t"], ["Y"])], [("X", (2, 3))], ["Y"],
              inits=[init("r", 0.5, np.float32), init("t", True, np.bool_)])
    check(count(m), 12, 0, 48)
