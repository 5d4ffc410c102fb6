"""aten operators (PyTorch, forward and backward) through the one registry, against hand
arithmetic (1 multiply-add = 2 FLOPs; float32 = 4 bytes; kinds.FORMULAS), and the coverage
guarantee: every op a few small models dispatch (forward + backward, on meta tensors) is known
and costs without error.

`cost` builds the Ctx exactly as the PyTorch front end does: op = the registry name, inputs =
the shape of every tensor argument (lists flattened, kwargs after args), outputs = every tensor
result's shape, args / kwargs with tensors as T."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

from flopest.kernel import evaluate  # noqa: E402
from flopest.ops import ATEN, REGISTRY, ZERO_COST, Ctx, T, lookup_aten  # noqa: E402
from flopest.optable import TableBuilder  # noqa: E402


def _tensors(x):
    if isinstance(x, T):
        return [x]
    if isinstance(x, (list, tuple)):
        return [t for v in x for t in _tensors(v)]
    if isinstance(x, dict):
        return [t for v in x.values() for t in _tensors(v)]
    return []


def cost(name: str, *args, out=None, **kwargs):
    """(flops, matmul_flops, bytes) of one aten call; None for a zero-cost op. `out`: the
    result's shape (a tuple), or a list of shapes for several results (None: not a tensor)."""
    fn, adapter, reg, free = lookup_aten(name)
    if free:
        return None
    assert fn is not None, f"{name} is not registered"
    outs = [] if out is None else [out] if isinstance(out, tuple) else [o for o in out if o is not None]
    ctx = Ctx(op=reg, inputs=[t.shape for t in _tensors((args, kwargs))], outputs=outs,
              args=args, kwargs=kwargs)
    if adapter is not None:
        ctx = adapter(ctx)
    b = TableBuilder()
    for r in fn(ctx):
        b.add(r[0], r[1], elsize=4, op=name, repeat=r[2] if len(r) > 2 else 1)
    rc = evaluate(b.build())
    return rc.total("flops"), rc.total("matmul_flops"), rc.total("bytes")


# ----------------------------------------------------------------------------- registry shape
def test_views_are_free_and_copies_are_not():
    for v in ("aten.view", "aten._unsafe_view", "aten.t", "aten.transpose", "aten.permute",
              "aten.expand", "aten.slice", "aten.select", "aten.unsqueeze", "aten.squeeze",
              "aten.split", "aten.split_with_sizes", "aten.unbind", "aten.as_strided", "aten.alias",
              "aten.detach", "aten._reshape_alias", "aten.diagonal", "aten.lift_fresh", "aten.empty",
              "aten.empty_like", "aten.empty_strided", "aten.new_empty"):
        assert lookup_aten(v)[3], v
    # a copy reads and writes its elements: clone (3,4): 12*(4+4) = 96 bytes
    assert cost("aten.clone", T((3, 4)), out=(3, 4)) == (0, 0, 96)
    # cat [(2,3), (4,3)] -> (6,3): 18 elements copied, 18*8 = 144
    assert cost("aten.cat", [T((2, 3)), T((4, 3))], 0, out=(6, 3)) == (0, 0, 144)
    # constant_pad_nd (2,3) -> (4,5): 20*8 = 160
    assert cost("aten.constant_pad_nd", T((2, 3)), [1, 1, 1, 1], 0.0, out=(4, 5)) == (0, 0, 160)


def test_aliases_point_at_registered_lowerings():
    for alias, (reg, _) in ATEN.items():
        assert reg in REGISTRY or reg in ZERO_COST, (alias, reg)


# ----------------------------------------------------------------------------- linalg
def test_addmm_reorders_and_reads_alpha_beta():
    a, b, bias = T((4, 8)), T((8, 16)), T((16,))
    # addmm (4,8)@(8,16) + bias: 2*4*16*8 = 1024 + 4*16 = 64 -> 1088;
    # bytes (32 + 128)*4 + 64*4 = 896, + the bias read 16*4 = 64 (Y updated in place) -> 960
    assert cost("aten.addmm", bias, a, b, out=(4, 16)) == (1088, 1024, 960)
    # alpha=2, beta=0.5: per output the add, the alpha and the beta scales: 1024 + 3*64 = 1216
    assert cost("aten.addmm", bias, a, b, alpha=2, beta=0.5, out=(4, 16))[0] == 1216
    # beta=0: the bias is not read: 1024 FLOPs, 896 bytes
    assert cost("aten.addmm", bias, a, b, beta=0, out=(4, 16)) == (1024, 1024, 896)


def test_mm_bmm_baddbmm():
    # mm (3,4)@(4,5): 2*3*5*4 = 120; bytes (12 + 20 + 15)*4 = 188
    assert cost("aten.mm", T((3, 4)), T((4, 5)), out=(3, 5)) == (120, 120, 188)
    # bmm (2,3,4)@(2,4,5): 2*2*3*5*4 = 240; bytes (24 + 40 + 30)*4 = 376
    assert cost("aten.bmm", T((2, 3, 4)), T((2, 4, 5)), out=(2, 3, 5)) == (240, 240, 376)
    # baddbmm C (2,3,5) + bmm: 240 + 30 adds = 270; bytes 376 + C read 30*4 = 496
    assert cost("aten.baddbmm", T((2, 3, 5)), T((2, 3, 4)), T((2, 4, 5)), out=(2, 3, 5)) == (270, 240, 496)
    # beta=0: C not read, no add
    assert cost("aten.baddbmm", T((2, 3, 5)), T((2, 3, 4)), T((2, 4, 5)), beta=0, out=(2, 3, 5)) == (240, 240, 376)


# ----------------------------------------------------------------------------- conv
X, W, B = T((2, 4, 8, 8)), T((6, 4, 3, 3)), T((6,))


def test_convolution_forward():
    # 3x3 conv 4->6, pad 1, (2,4,8,8) -> (2,6,8,8): 2*2*6*64*4*9 = 55296; bias 2*6*64 = 768
    # bytes (512 + 216)*4 + 768*4 = 5984, + bias read 6*4 = 24 -> 6008
    assert cost("aten.convolution", X, W, B, [1, 1], [1, 1], [1, 1], False, [0, 0], 1,
                out=(2, 6, 8, 8)) == (56064, 55296, 6008)
    # groups 2, stride 2, no pad: w (8,2,3,3), out (2,8,3,3): 2*2*8*9*2*9 = 5184
    assert cost("aten.convolution", X, T((8, 2, 3, 3)), None, [2, 2], [0, 0], [1, 1], False, [0, 0], 2,
                out=(2, 8, 3, 3))[1] == 5184
    # transposed, w (4,6,2,2) (C_in, C_out/g, k), stride 2: (2,4,8,8) -> (2,6,16,16);
    # every input element through the whole kernel: 2*2*4*64*6*4 = 24576
    assert cost("aten.convolution", X, T((4, 6, 2, 2)), None, [2, 2], [0, 0], [1, 1], True, [0, 0], 1,
                out=(2, 6, 16, 16))[1] == 24576


def test_convolution_backward_honours_output_mask():
    go = T((2, 6, 8, 8))
    args = (go, X, W, [6], [1, 1], [1, 1], [1, 1], False, [0, 0], 1)
    # grad_input = grad_weight = the forward's 55296 each; grad_bias Σ over 2*6*64 = 768
    # bytes: grad_input (768 + 216)*4 + 512*4 = 5984; grad_weight (512 + 768)*4 + 216*4 = 5984;
    # grad_bias 768*4 + 6*4 = 3096 -> 15064
    assert cost("aten.convolution_backward", *args, [True, True, True],
                out=[(2, 4, 8, 8), (6, 4, 3, 3), (6,)]) == (111360, 110592, 15064)
    # first layer: no grad_input, grad_weight only: 55296; bytes 5984
    assert cost("aten.convolution_backward", *args, [False, True, False],
                out=[None, (6, 4, 3, 3), None]) == (55296, 55296, 5984)


def test_convolution_backward_groups_and_transposed():
    # groups 2, stride 2: grad_input and grad_weight 5184 each = 10368 (torch.utils.flop_counter
    # says 5184 + 2*5184 = 15552: its grad_weight formula drops the groups)
    r = cost("aten.convolution_backward", T((2, 8, 3, 3)), X, T((8, 2, 3, 3)), None, [2, 2], [0, 0],
             [1, 1], False, [0, 0], 2, [True, True, False], out=[(2, 4, 8, 8), (8, 2, 3, 3), None])
    assert r[1] == 10368
    # transposed (w (4,6,2,2), grad_out (2,6,16,16)): grad_input = conv(grad_out, w) = 24576,
    # grad_weight = 2*numel(w)*N*spatial(x) = 2*96*2*64 = 24576
    r = cost("aten.convolution_backward", T((2, 6, 16, 16)), X, T((4, 6, 2, 2)), None, [2, 2], [0, 0],
             [1, 1], True, [0, 0], 1, [True, True, False], out=[(2, 4, 8, 8), (4, 6, 2, 2), None])
    assert r[1] == 2 * 24576


# ----------------------------------------------------------------------------- attention
Q, KV = T((2, 4, 5, 8)), T((2, 4, 7, 8))


def test_sdpa_plain_causal_gqa():
    # B*H = 8, Lq 5, Lk 7, d 8: pairs 35; matmul 2*8*35*(8 + 8) = 8960; + 6*8*35 = 1680 -> 10640
    # bytes (8*5*8 + 8*7*16)*4 + 8*5*8*4 = 4864 + 1280 = 6144
    assert cost("aten.scaled_dot_product_attention", Q, KV, KV) == (10640, 8960, 6144)
    # causal, top-left aligned: query i sees keys j <= i: 1+2+3+4+5 = 15 pairs (bottom-right
    # would be 3+4+5+6+7 = 25); matmul 2*8*15*16 = 3840; + 6*8*15 = 720 -> 4560
    assert cost("aten.scaled_dot_product_attention", Q, KV, KV, is_causal=True)[:2] == (4560, 3840)
    # GQA: 8 query heads over 2 kv heads: B*Hq = 16, pairs 35: 2*16*35*16 = 17920, + 6*16*35 = 3360;
    # bytes (16*5*8 + 2*2*7*16)*4 + 16*5*8*4 = 4352 + 2560 = 6912
    gq, gk = T((2, 8, 5, 8)), T((2, 2, 7, 8))
    assert cost("aten.scaled_dot_product_attention", gq, gk, gk, enable_gqa=True) == (21280, 17920, 6912)


@pytest.mark.parametrize("name, args", [
    ("aten._scaled_dot_product_flash_attention_for_cpu", (Q, KV, KV, 0.0, True)),
    ("aten._scaled_dot_product_flash_attention", (Q, KV, KV, 0.0, True)),
    ("aten._scaled_dot_product_efficient_attention", (Q, KV, KV, None, True, 0.0, True)),
    ("aten._scaled_dot_product_cudnn_attention", (Q, KV, KV, None, True, 0.0, True)),
    ("aten.scaled_dot_product_attention", (Q, KV, KV, None, 0.0, True)),
])
def test_sdpa_variants_read_is_causal(name, args):
    # each signature's is_causal position: 15 causal pairs as above -> 3840 matmul
    assert cost(name, *args, out=[(2, 4, 5, 8)])[1] == 3840


def test_sdpa_backward_twice_forward():
    # backward = forward row x 2: matmul 2*8960 = 17920 (4 products), flops 2*10640 = 21280,
    # bytes Q,K,V,O,dO read + dQ,dK,dV written = 2*6144 = 12288
    o, lse = T((2, 4, 5, 8)), T((2, 4, 5))
    assert cost("aten._scaled_dot_product_flash_attention_for_cpu_backward", o, Q, KV, KV, o, lse, 0.0, False,
                out=[(2, 4, 5, 8), (2, 4, 7, 8), (2, 4, 7, 8)]) == (21280, 17920, 12288)
    # efficient backward, causal (is_causal at 11): 2*3840
    r = cost("aten._scaled_dot_product_efficient_attention_backward", o, Q, KV, KV, None, o, lse, T(()), T(()),
             0.0, [True, True, True, False], True, out=[(2, 4, 5, 8), (2, 4, 7, 8), (2, 4, 7, 8)])
    assert r[1] == 7680


def test_trilinear_is_a_three_operand_einsum():
    # nn.Bilinear(16, 16, 4), batch 3: y[n,o] = Σ_ij x1[n,i]·W[o,i,j]·x2[n,j]; dims a=n, b=o,
    # c=i, d=j: "ac,bcd,ad->ab": x1·W over i: 2*3*(4*16)*16 = 6144, then ·x2 over j with n kept:
    # 2*3*4*16 = 384 -> 6528
    r = cost("aten._trilinear", T((3, 16)), T((4, 16, 16)), T((3, 16)), [1, 3], [0], [1, 2], [2, 3], [2, 3],
             out=(3, 4))
    assert r[1] == 6528


# ----------------------------------------------------------------------------- norms
def test_layer_norm_forward_backward():
    x, w, b = T((2, 5, 16)), T((16,)), T((16,))
    # 160 elements x (5 + gamma + beta) = 1120, + 4 per row x 10 rows = 40 -> 1160;
    # bytes (160 + 32)*4 + 160*4 = 1408
    assert cost("aten.native_layer_norm", x, [16], w, b, 1e-5, out=[(2, 5, 16), (2, 5, 1), (2, 5, 1)]) \
        == (1160, 0, 1408)
    # no weight, no bias: 160*5 + 40 = 840
    assert cost("aten.native_layer_norm", x, [16], None, None, 1e-5, out=[(2, 5, 16)])[0] == 840
    # backward, all three: x̂ 2 + grad_input 9 + grad_weight 2 + grad_bias 1 = 14 per element:
    # 160*14 + 4*10 = 2280; reads 2*160 + 2*10 + 16 = 356, writes 160 + 32:
    # (356 + 160 + 32)*4 = 2192
    m = T((2, 5, 1))
    assert cost("aten.native_layer_norm_backward", T((2, 5, 16)), x, [16], m, m, w, b, [True, True, True],
                out=[(2, 5, 16), (16,), (16,)]) == (2280, 0, 2192)


def test_batch_norm_train_eval_and_no_training():
    x, c = T((2, 4, 8, 8)), T((4,))
    # training: 512 x 7 + 4 x 4 channels = 3600; bytes (512 + 16)*4 + 512*4 = 4160
    assert cost("aten.native_batch_norm", x, c, c, c, c, True, 0.1, 1e-5, out=[(2, 4, 8, 8)]) == (3600, 0, 4160)
    # eval: 512 x 4 + 16 = 2064
    assert cost("aten.native_batch_norm", x, c, c, c, c, False, 0.1, 1e-5, out=[(2, 4, 8, 8)])[0] == 2064
    # _no_training: (x, w, b, mean, var, momentum, eps): momentum 0.1 is not `training`: 2064
    assert cost("aten._native_batch_norm_legit_no_training", x, c, c, c, c, 0.1, 1e-5,
                out=[(2, 4, 8, 8)])[0] == 2064
    # backward, training, all three: 512 x 14 + 4 x 4 = 7184
    assert cost("aten.native_batch_norm_backward", x, x, c, c, c, c, c, True, 1e-5, [True, True, True],
                out=[(2, 4, 8, 8), (4,), (4,)])[0] == 7184


def test_group_norm_forward_backward():
    x, c = T((2, 4, 8, 8)), T((4,))
    # 2 groups: 512 x 7 + 4 x (N*groups = 4) = 3600
    assert cost("aten.native_group_norm", x, c, c, 2, 4, 64, 2, 1e-5, out=[(2, 4, 8, 8)])[0] == 3600
    # backward: 512 x 14 + 4 x 4 = 7184
    m = T((2, 2))
    assert cost("aten.native_group_norm_backward", x, x, m, m, c, 2, 4, 64, 2, [True, True, True],
                out=[(2, 4, 8, 8), (4,), (4,)])[0] == 7184


# ----------------------------------------------------------------------------- elementwise
def test_elementwise_through_onnx_names():
    # add (2,3) + (3,): 6 FLOPs; bytes (6 + 3)*4 + 6*4 = 60; alpha=2 adds the scale: 12
    assert cost("aten.add", T((2, 3)), T((3,)), out=(2, 3)) == (6, 0, 60)
    assert cost("aten.add", T((2, 3)), T((3,)), alpha=2, out=(2, 3))[0] == 12
    # in place mul_ (2,3) * scalar: 6 FLOPs; bytes 6*4 + 6*4 = 48
    assert cost("aten.mul_", T((2, 3)), 0.5, out=(2, 3)) == (6, 0, 48)
    # gelu exact 5 per element, tanh form 9: (4,) -> 20 / 36
    assert cost("aten.gelu", T((4,)), out=(4,))[0] == 20
    assert cost("aten.gelu", T((4,)), approximate="tanh", out=(4,))[0] == 36
    # silu 5 (sigmoid 4 + mul), relu_ 1, hardtanh_ (ReLU6) 2, rsqrt 1: on 10 elements
    for name, per in (("aten.silu", 5), ("aten.relu_", 1), ("aten.hardtanh_", 2), ("aten.rsqrt", 1),
                      ("aten.sigmoid_", 4), ("aten.tanh", 1), ("aten.hardswish", 5)):
        assert cost(name, T((10,)), out=(10,))[0] == 10 * per, name
    # where(cond, x, y) (4,): 1 select each: 4; bytes 3*4*4 + 4*4 = 64
    assert cost("aten.where", T((4,)), T((4,)), T((4,)), out=(4,)) == (4, 0, 64)


def test_activation_backward_constants():
    g, x = T((10,)), T((10,))
    # per element of grad_input: sigmoid g·y·(1−y) 3, tanh g·(1−y²) 3, ReLU compare-select 1,
    # gelu 11 (tanh form 18), silu 9, hardtanh 2, leaky_relu 2; bytes (10 + 10)*4 + 10*4 = 120
    assert cost("aten.sigmoid_backward", g, x, out=(10,)) == (30, 0, 120)
    assert cost("aten.tanh_backward", g, x, out=(10,))[0] == 30
    assert cost("aten.threshold_backward", g, x, 0, out=(10,))[0] == 10
    assert cost("aten.gelu_backward", g, x, out=(10,))[0] == 110
    assert cost("aten.gelu_backward", g, x, approximate="tanh", out=(10,))[0] == 180
    assert cost("aten.silu_backward", g, x, out=(10,))[0] == 90
    assert cost("aten.hardtanh_backward", g, x, 0.0, 6.0, out=(10,))[0] == 20
    assert cost("aten.leaky_relu_backward", g, x, 0.01, False, out=(10,))[0] == 20


def test_softmax_forward_backward():
    # softmax 5 per element: (4,8) -> 160; _safe_softmax (SDPA math path) the same
    assert cost("aten._softmax", T((4, 8)), -1, False, out=(4, 8))[0] == 160
    assert cost("aten._safe_softmax", T((4, 8)), -1, out=(4, 8))[0] == 160
    # backward y·(g − Σg·y): 4 per element = 128; bytes (32 + 32)*4 + 32*4 = 384
    assert cost("aten._softmax_backward_data", T((4, 8)), T((4, 8)), -1, 6, out=(4, 8)) == (128, 0, 384)
    # log_softmax backward g − exp(y)·Σg: 4 per element = 128
    assert cost("aten._log_softmax_backward_data", T((4, 8)), T((4, 8)), -1, 6, out=(4, 8))[0] == 128


def test_reductions():
    # sum (4,8) over dim 1: 32 adds; bytes 32*4 + 4*4 = 144; mean + 4 divides = 36
    assert cost("aten.sum", T((4, 8)), [1], out=(4,)) == (32, 0, 144)
    assert cost("aten.mean", T((4, 8)), [1], out=(4,))[0] == 36
    # max.dim: a reduction, 32 compares; max.other: elementwise, 32 compares over both inputs
    assert cost("aten.max", T((4, 8)), 1, out=[(4,), (4,)])[0] == 32
    assert cost("aten.max", T((4, 8)), T((4, 8)), out=(4, 8)) == (32, 0, (64 + 32) * 4)


def test_scatter_family():
    x = T((4, 5))
    # index_put accumulate, x (4,5), 2 rows of 5: x copied 20*8 = 160; 10 values + 2 indices
    # 10*8 + 2*8 = 96; 10 adds
    assert cost("aten.index_put", x, [T((2,), 8)], T((2, 5)), True, out=(4, 5)) == (10, 0, 256)
    # without accumulate: no FLOPs
    assert cost("aten.index_put", x, [T((2,), 8)], T((2, 5)), False, out=(4, 5)) == (0, 0, 256)
    # scatter_add dim 1, index (4,2), src (4,2): copy 160; 8 values + 8 indices 64 + 64; 8 adds
    assert cost("aten.scatter_add", x, 1, T((4, 2), 8), T((4, 2)), out=(4, 5)) == (8, 0, 288)
    # scatter.value: a scalar written at each of the 8 indices: no FLOPs, 160 + 128
    assert cost("aten.scatter", x, 1, T((4, 2), 8), 0.0, out=(4, 5)) == (0, 0, 288)


def test_glu():
    # glu over dim 1 of (2,8): 8 outputs x (sigmoid 4 + mul) = 40
    assert cost("aten.glu", T((2, 8)), 1, out=(2, 4))[0] == 40
    # backward: 4 per grad_input element (8 per pair): 16 x 4 = 64
    assert cost("aten.glu_backward", T((2, 4)), T((2, 8)), 1, out=(2, 8))[0] == 64


# ----------------------------------------------------------------------------- pooling, gathers
def test_pools_forward_backward():
    x = T((2, 4, 8, 8))
    # max pool 2x2 stride 2: 128 outputs x 4 compares = 512; bytes 512*4 + 128*4 = 2560
    assert cost("aten.max_pool2d_with_indices", x, [2, 2], [2, 2], out=[(2, 4, 4, 4), (2, 4, 4, 4)]) \
        == (512, 0, 2560)
    # kernel_size given as one int: the same 512
    assert cost("aten.avg_pool2d", x, 2, out=(2, 4, 4, 4))[0] == 512
    # adaptive avg pool 8 -> 3: windows [0,3) [2,6) [5,8) = 3 + 4 + 3 = 10, ceil(10/3) = 4 per dim,
    # window 16; 72 outputs -> 1152
    assert cost("aten._adaptive_avg_pool2d", x, [3, 3], out=(2, 4, 3, 3))[0] == 1152
    # max pool backward: grad_input zero-filled 512*4 = 2048; the 128 grad_out values read and
    # written with their indices 128*8 + 128*8 = 2048; 128 adds
    go = T((2, 4, 4, 4))
    assert cost("aten.max_pool2d_with_indices_backward", go, x, [2, 2], [2, 2], [0, 0], [1, 1], False, go,
                out=(2, 4, 8, 8)) == (128, 0, 4096)
    # avg pool backward: each of 128 grad_out values spread over 4: 512 adds; bytes 128*4 + 512*4
    assert cost("aten.avg_pool2d_backward", go, x, [2, 2], [2, 2], [0, 0], False, True, None,
                out=(2, 4, 8, 8)) == (512, 0, 2560)


def test_embedding_forward_backward():
    w, idx = T((10, 16)), T((2, 5), 8)
    # lookup of 10 rows of 16: 160*(4 + 4) + 10 indices*8 = 1360
    assert cost("aten.embedding", w, idx, out=(2, 5, 16)) == (0, 0, 1360)
    # backward: (10,16) zero-filled 160*4 = 640; 160 grad values read + written 160*8 = 1280,
    # indices 10*8 = 80; 160 adds
    assert cost("aten.embedding_dense_backward", T((2, 5, 16)), idx, 10, -1, False, out=(10, 16)) \
        == (160, 0, 2000)


def test_upsample_forward_backward():
    # bilinear (1,1,2,3) -> (1,1,4,6): 2 resized dims, 4 taps: 7 per output x 24 = 168
    assert cost("aten.upsample_bilinear2d", T((1, 1, 2, 3)), [4, 6], False, out=(1, 1, 4, 6))[0] == 168
    # nearest: a copy, 24*(4 + 4) = 192 bytes, 0 FLOPs
    assert cost("aten.upsample_nearest2d", T((1, 1, 2, 3)), [4, 6], out=(1, 1, 4, 6)) == (0, 0, 192)
    # bilinear backward: 24 grad_out values x 4 taps x (mul, add) = 192; bytes 24*4 + 6*4 = 120
    assert cost("aten.upsample_bilinear2d_backward", T((1, 1, 4, 6)), [4, 6], [1, 1, 2, 3], False,
                out=(1, 1, 2, 3)) == (192, 0, 120)


# ----------------------------------------------------------------------------- losses, dropout
def test_losses():
    x, t = T((6, 10)), T((6,), 8)
    # nll_loss_forward: 6 picked values read + written with their indices 6*8 + 6*8 = 96;
    # negate and add: 2 x 6 = 12
    assert cost("aten.nll_loss_forward", x, t, None, 1, -100, out=[(), ()]) == (12, 0, 96)
    # backward: (6,10) zero-filled 60*4 = 240, 6 values + indices 96; 12 FLOPs
    assert cost("aten.nll_loss_backward", T(()), x, t, None, 1, -100, T(()), out=(6, 10)) == (12, 0, 336)
    # mse_loss mean: sub, square, add per element 3*60 = 180, + 1 divide = 181;
    # bytes 120*4 read + the scalar 4 = 484
    assert cost("aten.mse_loss", x, x, 1, out=()) == (181, 0, 484)
    # mse_loss_backward: sub, ·2/N, ·g = 3*60 = 180; bytes (1 + 120)*4 + 60*4 = 724
    assert cost("aten.mse_loss_backward", T(()), x, x, 1, out=(6, 10)) == (180, 0, 724)


def test_dropout():
    # native_dropout training: mask draw-compare + scale = 2 x 32 = 64; bytes 32*4 read,
    # y and mask written 2*32*4 -> 384
    assert cost("aten.native_dropout", T((4, 8)), 0.1, True, out=[(4, 8), (4, 8)]) == (64, 0, 384)
    # backward g·mask·scale: 2 x 32 = 64
    assert cost("aten.native_dropout_backward", T((4, 8)), T((4, 8)), 1.1, out=(4, 8))[0] == 64


# ----------------------------------------------------------------------------- coverage
def _census(module, inputs, train=True):
    """Every aten op a model dispatches forward + backward on meta tensors: (op counts, ops the
    registry does not know, ops whose lowering raised)."""
    from benchmarks.aten_census import capture, cost_calls
    cap, fwd, bwd = capture(type(module).__name__, module, inputs, train=train, keep=True)
    assert not cap.error, cap.error
    assert cap.backward, "no backward ops recorded"
    _, unknown, errors = cost_calls(fwd.calls + bwd.calls)
    return cap.ops, unknown, errors


def _tiny_models():
    import torch
    from torch import nn
    torch.manual_seed(0)
    mlp = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 4))
    cnn = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
                        nn.Flatten(), nn.Linear(4 * 4 * 4, 2))
    return [("mlp", mlp, (torch.randn(2, 8),)), ("cnn", cnn, (torch.randn(2, 3, 8, 8),))]


@pytest.mark.parametrize("i, expected", [
    (0, {"aten.addmm", "aten.mm", "aten.threshold_backward"}),
    (1, {"aten.convolution_backward", "aten.native_batch_norm_backward", "aten.max_pool2d_with_indices_backward"}),
], ids=["mlp", "conv-bn-maxpool"])
@pytest.mark.torch
def test_small_models_have_no_unknown_ops(i, expected):
    name, module, inputs = _tiny_models()[i]
    ops, unknown, errors = _census(module, inputs)
    assert not unknown and not errors, (unknown, errors)
    assert expected <= set(ops)


@pytest.mark.torch
def test_tiny_bert_has_no_unknown_ops():
    import transformers
    import torch
    cfg = transformers.BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                                  intermediate_size=32, max_position_embeddings=16, attn_implementation="eager")
    torch.manual_seed(0)
    model = transformers.BertModel(cfg)
    # no attention_mask: transformers then does not test `mask.all()` (a data-dependent read)
    ops, unknown, errors = _census(model, (torch.randint(0, 50, (2, 6)),))
    assert not unknown and not errors, (unknown, errors)
    assert {"aten.native_layer_norm_backward", "aten._softmax_backward_data", "aten.gelu_backward",
            "aten.embedding_dense_backward"} <= set(ops)
