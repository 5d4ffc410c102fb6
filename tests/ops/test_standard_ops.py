"""The standard ai.onnx operators that had no lowering (issue 13 items 6 and 7), each against
hand arithmetic; the operators that cannot be costed from shapes are reported with their
reason; and every operator of onnx's default domain has a registry entry."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import onnx
import pytest

ROOT = Path(__file__).resolve().parents[2]

from flopest.ops import REGISTRY, UNCOSTED, ZERO_COST, unknown_reason  # noqa: E402
from flopest.ops.linalg import lu_flops  # noqa: E402
from tests.ops._onnx_build import I64, check, count, init, model, node, vi  # noqa: E402

U8, I32 = onnx.TensorProto.UINT8, onnx.TensorProto.INT32


def fm(c, flops: int, matmul_flops: int = 0) -> None:
    """Every node costed; FLOPs and matmul FLOPs as derived by hand."""
    assert c.unknown_ops == {}, c.notes
    assert (c.flops, c.matmul_flops) == (flops, matmul_flops), c.breakdown("node")


def one(op, ins, outs=("Y",), inits=(), opset=17, **attrs):
    """A one-node model; ins: (name, shape[, dtype]); an initializer's name in the node's
    inputs is not a graph input."""
    names = [i[0] if isinstance(i, tuple) else i for i in ins]
    graph_ins = [i for i in ins if isinstance(i, tuple)]
    return model([node(op, names, list(outs), **attrs)], graph_ins, list(outs), inits, opset=opset)


# ------------------------------------------------------------------------------ Col2Im
def test_col2im_sums_overlapping_blocks():
    # ONNX's test_col2im_pads: input (1, 5, 15), image 5x5, block 1x5, pads [0, 1, 0, 1].
    # Rows: 5 blocks of height 1, each row hit once. Columns: padded width 7, blocks start at
    # 0, 1, 2 (3 blocks; 5 x 3 = 15 = L); padded column p is hit by 1, 2, 3, 3, 3, 2, 1 blocks;
    # the pads (p = 0 and 6) drop, inside 2 + 3 + 3 + 3 + 2 = 13 values per row over 5 columns
    # -> 5 * 13 = 65 values into 25 pixels: 65 - 25 = 40 adds (each pixel's first value a copy)
    # bytes (75 read + 25 written) * 4 = 400
    m = one("Col2Im", [("X", (1, 5, 15)), "shape", "block"], ["Y"],
            [init("shape", [5, 5]), init("block", [1, 5])], opset=18, pads=[0, 1, 0, 1])
    check(count(m), 40, 0, 400)


def test_col2im_block_read_from_shapes():
    # the same with image_shape and block_shape as graph inputs (their values unknown) and the
    # output declared (1, 1, 5, 5): a block of 5 / 1 = 5 elements; 1x5 gives 5 * 3 = 15 blocks
    # = L, 5x1 gives 1 * 7 = 7: the block is 1x5, 40 adds as above
    m = model([node("Col2Im", ["X", "S", "B"], ["Y"], pads=[0, 1, 0, 1])],
              [("X", (1, 5, 15)), ("S", (2,), I64), ("B", (2,), I64)], [("Y", (1, 1, 5, 5))], opset=18)
    check(count(m), 40, 0, 400)


def test_col2im_without_overlap_adds_nothing():
    # block 2x2, stride 2 over a 4x4 image: 4 blocks, every pixel hit once: 16 - 16 = 0 adds;
    # bytes (16 + 16) * 4 = 128
    m = one("Col2Im", [("X", (1, 4, 4)), "shape", "block"], ["Y"],
            [init("shape", [4, 4]), init("block", [2, 2])], opset=18, strides=[2, 2])
    check(count(m), 0, 0, 128)


# ------------------------------------------------------------------------------ convolutions
def test_conv_integer_and_qlinear_conv():
    # ConvInteger x (1, 1, 3, 3), w (1, 1, 2, 2) -> (1, 1, 2, 2): 2*4*(1*4) = 32
    m = one("ConvInteger", [("x", (1, 1, 3, 3), U8), ("w", (1, 1, 2, 2), U8)], opset=10)
    m.graph.output[0].type.tensor_type.elem_type = I32
    fm(count(m), 32, 32)
    # QLinearConv x (1, 1, 7, 7), w (1, 1, 1, 1) -> 49 outputs: 2*49*1 = 98 + requantize 2*49 = 98
    ins = [("x", (1, 1, 7, 7), U8), ("xs", ()), ("xz", (), U8), ("w", (1, 1, 1, 1), U8), ("ws", ()),
           ("wz", (), U8), ("ys", ()), ("yz", (), U8)]
    m = one("QLinearConv", ins, opset=10)
    m.graph.output[0].type.tensor_type.elem_type = U8
    fm(count(m), 196, 98)


def test_deform_conv():
    # X (1, 1, 3, 3), W (1, 1, 2, 2), offset (1, 8, 2, 2) -> Y (1, 1, 2, 2): conv 2*4*4 = 32;
    # samples N*C*out*kernel = 1*1*4*4 = 16, 11 FLOPs each (bilinear) = 176 -> 208
    ins = [("X", (1, 1, 3, 3)), ("W", (1, 1, 2, 2)), ("off", (1, 8, 2, 2))]
    fm(count(one("DeformConv", ins, opset=19, kernel_shape=[2, 2])), 208, 32)
    # with bias (1,) and mask (1, 4, 2, 2): samples 16*12 = 192, bias 4 -> 32 + 192 + 4 = 228
    ins += [("B", (1,)), ("mask", (1, 4, 2, 2))]
    fm(count(one("DeformConv", ins, opset=19, kernel_shape=[2, 2])), 228, 32)


def test_causal_conv_with_state():
    # input (2, 4, 8), weight (4, 1, 4), depthwise: 2*2*4*8*4 = 512; bias 2*4*8 = 64 -> 576;
    # silu 5*64 = 320 -> 896 with the bias
    ins = [("x", (2, 4, 8)), ("w", (4, 1, 4))]
    outs = ["y", "state"]
    fm(count(one("CausalConvWithState", ins, outs, opset=27)), 512, 512)
    fm(count(one("CausalConvWithState", ins + [("b", (4,))], outs, opset=27, activation="silu")),
       896, 512)


# ------------------------------------------------------------------------------ elementwise
@pytest.mark.parametrize("op, shape, attrs, opset, flops", [
    ("Swish", (3,), {}, 24, 15),                  # 3 * 5 (sigmoid 4 + mul)
    ("Swish", (3,), {"alpha": 0.5}, 24, 18),      # 3 * 6 (+ alpha·x)
    ("CumProd", (2, 3), {}, 26, 6),               # 6 * 1 running multiply
])
def test_elementwise_constants(op, shape, attrs, opset, flops):
    ins = [("x", shape)] + ([("axis", (), I64)] if op == "CumProd" else [])
    fm(count(one(op, ins, opset=opset, **attrs)), flops)


def test_swiglu():
    # a, b (2, 4): 8 outputs * (swish 5 + mul) = 48; alpha 0.5: 8 * 7 = 56
    ins = [("a", (2, 4)), ("b", (2, 4))]
    fm(count(one("SwiGLU", ins, opset=28)), 48)
    fm(count(one("SwiGLU", ins, opset=28, alpha=0.5)), 56)


def test_softmax_cross_entropy_loss():
    # scores (3, 5), labels (3,): log-softmax 15*(5 + 1) = 90; NLL 3 labels * 2 = 6 -> 96;
    # with class weights (5,), mean: 3 * (2 + 1 + 1) = 12 -> 102
    ins = [("x", (3, 5)), ("y", (3,), I64)]
    fm(count(one("SoftmaxCrossEntropyLoss", ins, outs=("loss",), opset=13)), 96)
    fm(count(one("SoftmaxCrossEntropyLoss", ins + [("w", (5,))], outs=("loss",), opset=13)), 102)


def test_mean_variance_normalization():
    # X (3, 3, 3, 1), axes [0, 2, 3]: 27 elements * 5 + 4 * 3 channels = 135 + 12 = 147;
    # bytes (27 + 27) * 4 = 216
    check(count(one("MeanVarianceNormalization", [("X", (3, 3, 3, 1))], opset=13)), 147, 0, 216)


# ------------------------------------------------------------------------------ attention family
def test_rotary_embedding():
    # X (2, 4, 3, 8) (B, H, S, D), caches (50, 4), position_ids (2, 3): 2*4*3 = 24 token-heads
    # * 8 rotated dims * 3 = 576; rotary_embedding_dim 4: 24 * 4 * 3 = 288 (+ a copy of the rest)
    ins = [("X", (2, 4, 3, 8)), ("cos", (50, 4)), ("sin", (50, 4)), ("pos", (2, 3), I64)]
    fm(count(one("RotaryEmbedding", ins, opset=23)), 576)
    ins2 = [("X", (2, 4, 3, 8)), ("cos", (50, 2)), ("sin", (50, 2)), ("pos", (2, 3), I64)]
    fm(count(one("RotaryEmbedding", ins2, opset=23, rotary_embedding_dim=4)), 288)
    # 3-D (2, 3, 32) with 4 heads = the same 576
    ins3 = [("X", (2, 3, 32)), ("cos", (50, 4)), ("sin", (50, 4)), ("pos", (2, 3), I64)]
    fm(count(one("RotaryEmbedding", ins3, opset=23, num_heads=4)), 576)


def test_linear_attention():
    # q, k, v (2, 4, 32), 4 heads each: d_k = d_v = 8, 2*4*4 = 32 state updates
    # "linear": S += k ⊗ v 2*32*8*8 = 4096, o = qᵀS 2*32*8*8 = 4096 (matmul 8192), scale 32*8
    # = 256 -> 8448
    ins = [("q", (2, 4, 32)), ("k", (2, 4, 32)), ("v", (2, 4, 32))]
    outs = ["o", "state"]
    fm(count(one("LinearAttention", ins, outs, opset=27, q_num_heads=4, kv_num_heads=4,
                 update_rule="linear")), 8448, 8192)
    # "gated_delta" with decay (2, 4, 32), beta (2, 4, 4): + exp 256 + exp(g)·S 32*64 = 2048
    # + Sᵀk 4096 (matmul) + β·(v − Sᵀk) 2*32*8 = 512 -> 8448 + 256 + 2048 + 4096 + 512 = 15360
    ins += [("", None), ("g", (2, 4, 32)), ("beta", (2, 4, 4))]
    m = one("LinearAttention", [i for i in ins if i[0]], outs, opset=27, q_num_heads=4, kv_num_heads=4)
    m.graph.node[0].input[:] = ["q", "k", "v", "", "g", "beta"]
    fm(count(m), 15360, 12288)


# ------------------------------------------------------------------------------ linear algebra
def test_det():
    # 2x2 by LU: 1 divide + 1 multiply-subtract (2) + 1 diagonal multiply = 4 per matrix
    assert lu_flops(2) == 4
    # 3x3: step 1: 2 divides + 4 mult-subs (8); step 2: 1 divide + 1 mult-sub (2); diagonal 2 = 15
    assert lu_flops(3) == 15
    fm(count(one("Det", [("x", (3, 2, 2))], opset=11)), 12)     # 3 matrices * 4


def test_affine_grid():
    # theta (2, 2, 3), size (2, 1, 5, 6) -> grid (2, 5, 6, 2): P = 30 points, r = 2;
    # base grid 30*2 coordinates * 2 = 120; thetaᵀ product 2*2*30*2*3 = 720 -> 840
    m = one("AffineGrid", [("theta", (2, 2, 3)), "size"], ["grid"], [init("size", [2, 1, 5, 6])], opset=20)
    fm(count(m), 840, 720)


# ------------------------------------------------------------------------------ signal
def test_dft():
    # x (1, 10, 10, 1) real, axis 1: 10 transforms of N = 10: 5*10*ceil(log2 10) = 5*10*4 = 200,
    # real: 100 each -> 1000; a complex input (1, 10, 10, 2): 200 each -> 2000
    fm(count(one("DFT", [("x", (1, 10, 10, 1))], opset=17, axis=1)), 1000)
    fm(count(one("DFT", [("x", (1, 10, 10, 2))], opset=17, axis=1, inverse=1)), 2000)


def test_stft():
    # signal (1, 128, 1), frame_step 8, window (16,) -> 15 frames of 16: per frame the window
    # 16 multiplies + a real FFT 5*16*4/2 = 160 -> 15 * 176 = 2640
    m = one("STFT", [("s", (1, 128, 1)), "step", ("win", (16,))], ["Y"], [init("step", 8)], opset=17)
    fm(count(m), 2640)


@pytest.mark.parametrize("op, per", [("HannWindow", 5), ("HammingWindow", 5), ("BlackmanWindow", 9)])
def test_windows(op, per):
    # 10 points * per (phase: multiply, divide; each cosine term cos, multiply; the sums)
    fm(count(one(op, ["n"], ["Y"], [init("n", 10, np.int32)], opset=17)), 10 * per)


def test_mel_weight_matrix():
    # dft_length 16 -> 9 bins, 8 mel bins: 72 weights * 4 = 288
    inits = [init("m", 8, np.int32), init("d", 16, np.int32), init("sr", 8192, np.int32),
             init("lo", 0.0, np.float32), init("hi", 4096.0, np.float32)]
    fm(count(one("MelWeightMatrix", ["m", "d", "sr", "lo", "hi"], ["Y"], inits, opset=17)), 288)


# ------------------------------------------------------------------------------ data movement
def test_movement_ops():
    # MaxUnpool (1, 1, 2, 2) -> (1, 1, 4, 4): 0 FLOPs; bytes 16 zeros written * 4 + 4 values
    # read and written * 4 * 2 + 4 indices * 8 = 64 + 32 + 32 = 128
    m = one("MaxUnpool", [("x", (1, 1, 2, 2)), ("i", (1, 1, 2, 2), I64)], opset=11,
            kernel_shape=[2, 2], strides=[2, 2])
    check(count(m), 0, 0, 128)
    # TensorScatter cache (2, 1, 4, 5), update (2, 1, 1, 5), write_indices (2,): cache copied
    # 40 * 4 * 2 = 320, update written 10 * 4 * 2 = 80, indices 2 * 8 = 16 -> 416
    m = one("TensorScatter", [("c", (2, 1, 4, 5)), ("u", (2, 1, 1, 5)), ("w", (2,), I64)], opset=24)
    check(count(m), 0, 0, 416)


def test_sequences():
    # SplitToSequence (3, 6) then ConcatFromSequence back: each copies 18 elements:
    # 2 * 18 * 4 * 2 = 288 bytes; SequenceLength is free
    nodes = [node("SplitToSequence", ["x"], ["s"], axis=1), node("ConcatFromSequence", ["s"], ["y"], axis=1),
             node("SequenceLength", ["s"], ["n"])]
    m = model(nodes, [("x", (3, 6))], [("y", (3, 6)), vi("n", (), I64)], opset=17)
    check(count(m), 0, 0, 288)


def test_tfidf_vectorizer():
    # X (12,) tokens, bigrams only with up to 5 skips: 6 lookups per position -> 72
    m = one("TfIdfVectorizer", [("X", (12,), I64)], opset=9, max_gram_length=2, min_gram_length=2,
            max_skip_count=5, mode="TF", ngram_counts=[0, 4], ngram_indexes=list(range(7)),
            pool_int64s=[2, 3, 5, 4, 5, 6, 7, 8, 6, 7])
    fm(count(m), 72)


def test_bitcast_is_free():
    m = one("BitCast", [("x", (3,))], opset=26, to=onnx.TensorProto.INT32)
    m.graph.output[0].type.tensor_type.elem_type = I32
    check(count(m), 0, 0, 0)


# ------------------------------------------------------------------------------ not costable
@pytest.mark.parametrize("m, op, why", [
    (one("NonMaxSuppression", [("boxes", (1, 6, 4)), ("scores", (1, 1, 6))], opset=11),
     "NonMaxSuppression", "depends on the scores"),
    (one("StringConcat", [("a", (2,), onnx.TensorProto.STRING), ("b", (2,), onnx.TensorProto.STRING)],
         opset=20), "StringConcat", "strings' lengths"),
])
def test_uncostable_ops_say_why(m, op, why):
    c = count(m)
    assert c.unknown_ops == {op: 1}
    assert any(n.startswith(op + ":") and why in n for n in c.notes), c.notes


def test_unknown_reason():
    assert "no lowering" in unknown_reason("NoSuchOp")
    assert "data" in unknown_reason("NonMaxSuppression")


def test_every_standard_operator_is_in_the_registry():
    """Each operator of onnx's default domain has a lowering, a zero-cost entry, an uncosted
    entry with its reason, or is control flow (If, Loop, Scan: the front end's walker)."""
    names = {s.name for s in onnx.defs.get_all_schemas() if s.domain in ("", "ai.onnx")}
    missing = sorted(n for n in names if n not in REGISTRY and n not in ZERO_COST
                     and n not in UNCOSTED and n not in ("If", "Loop", "Scan"))
    assert missing == []
