"""Autograd's backward operators (PyTorch aten names: they have no ONNX counterpart).
Each docstring gives the per-element count; the arithmetic is that of the gradient formula,
with the conventions of the forward lowerings (1 multiply-add = 2 FLOPs; each arithmetic op,
comparison or elementary function = 1; a compare-and-select counts as its compare).

Bytes, as everywhere: every tensor read once and every result written once, no fusion. A
gradient that is scattered into a zero-filled tensor (pool, embedding, select backward) counts
the zero fill as a write of the whole result.
"""

from __future__ import annotations

from .. import kinds
from ..dims import prod
from . import Ctx, ShapeUnknown, T, ints, lowering, rebind, tshape
from .attention import attention
from .pool import adaptive_window


def _shape(c: Ctx, i: int, key: str | None = None) -> tuple:
    s = tshape(c.arg(i, key))
    if s is None:
        raise ShapeUnknown(f"{c.op} needs tensor argument {key or i}")
    return s


def _mask(c: Ctx, i: int, n: int = 3) -> list:
    """output_mask (which gradients are computed), all True when absent."""
    m = c.arg(i, "output_mask")
    return [True] * n if m is None else [bool(v) for v in m]


def _scatter_into(result: tuple, updates, index_elems, per: int = 1) -> list:
    """A zero-filled `result` written, `updates` elements added at their indices: zero fill
    (result written), the updates read and written with their indices (GATHER), `per` FLOPs
    each (the add; fused: no second write)."""
    return [(kinds.ELEMENTWISE, [prod(result), 0, 0]), (kinds.GATHER, [updates, index_elems]),
            (kinds.ELEMENTWISE, [updates, per, 0, 1])]


def _spread(result_elems, read_elems, flop_elems, per: int) -> list:
    """`read_elems` read, `result_elems` written; `flop_elems`·`per` FLOPs."""
    rows = [(kinds.ELEMENTWISE, [result_elems, 0, read_elems])]
    if per:
        rows.append((kinds.ELEMENTWISE, [flop_elems, per, 0, 1]))
    return rows


# ---------------------------------------------------------------------------- convolution
@lowering("aten.convolution_backward")
def convolution_backward(c: Ctx):
    """aten.convolution_backward(grad_out, x, w, bias_sizes, stride, padding, dilation,
    transposed, output_padding, groups, output_mask): each gradient the mask asks for.
    grad_input: the convolution's adjoint (a transposed convolution of grad_out with w; a plain
    one for a transposed convolution), the forward's FLOPs 2·N·C_out·out·(C_in/g)·K; bytes
    grad_out + w read, grad_input written. grad_weight: the correlation of x with grad_out,
    again the forward's FLOPs (2·numel(w)·N·spatial of the tensor with w.shape[0] channels);
    encoded as a CONV row n=1, c_in=1, groups=1, c_out=w.shape[0], out_spatial=numel(w)/c_out,
    kernel_spatial=N·that spatial, in_spatial=numel(other tensor), so that its FLOPs are exact
    and its bytes are x + grad_out read, grad_w written. grad_bias: Σ grad_out over N and
    spatial (REDUCE, 1 per element). Total with all three: 2× the forward matmul FLOPs +
    the bias sum, as torch.utils.flop_counter."""
    go, x, w = _shape(c, 0, "grad_output"), _shape(c, 1, "input"), _shape(c, 2, "weight")
    transposed = bool(c.arg(7, "transposed", False))
    g = int(c.arg(9, "groups", 1))
    mask = _mask(c, 10)
    n, in_sp, out_sp, k = x[0], prod(x[2:]), prod(go[2:]), prod(w[2:])
    rows = []
    if mask[0]:
        rows.append((kinds.CONV, [n, go[1], x[1], g, in_sp, k, out_sp, 0 if transposed else 1]))
    if mask[1]:
        p, q = (x, go) if transposed else (go, x)   # p: the tensor with w.shape[0] channels
        rows.append((kinds.CONV, [1, 1, w[0], 1, prod(w[1:]), p[0] * prod(p[2:]), prod(q), 0]))
    if mask[2] and c.arg(3, "bias_sizes") is not None:
        rows.append((kinds.REDUCE, [prod(go), go[1], 1]))
    return rows


# ---------------------------------------------------------------------------- normalization
def _norm_backward(elems, per: int, groups, reads, param_writes, grad_input: bool) -> list:
    """grad_input (when asked) as a NORM row whose param_elems carry the other reads; the
    parameter gradients' writes as a bytes-only row."""
    if grad_input:
        rows = [(kinds.NORM, [elems, per, groups, reads - elems])]
        if param_writes:
            rows.append((kinds.ELEMENTWISE, [param_writes, 0, 0]))
        return rows
    return _spread(param_writes, reads, elems, per)


# per element, LayerNorm-style backward (x̂ = (x − μ)·rstd recomputed):
#   x̂: sub, mul = 2 (needed by grad_input and grad_weight)
#   grad_input: ĝ = g·γ (1, with a weight), Σĝ (1), Σĝ·x̂ (mul, add = 2),
#               dx = rstd/N·(N·ĝ − Σĝ − x̂·Σĝx̂) (mul, sub, mul, sub, mul = 5)  -> 8 + γ
#   grad_weight: Σ g·x̂ (mul, add = 2);  grad_bias: Σ g (1)
# with all three and a weight: 2 + 9 + 2 + 1 = 14 = 2 × the forward's 7.
_XHAT, _GI, _GW, _GB = 2, 8, 2, 1


def _ln_per(mask, has_w: bool, has_b: bool) -> int:
    per = _XHAT if (mask[0] or (mask[1] and has_w)) else 0
    per += (_GI + (1 if has_w else 0)) if mask[0] else 0
    per += _GW if (mask[1] and has_w) else 0
    per += _GB if (mask[2] and has_b) else 0
    return per


@lowering("aten.native_layer_norm_backward")
def layer_norm_backward(c: Ctx):
    """aten.native_layer_norm_backward(grad_out, x, normalized_shape, mean, rstd, weight?, bias?,
    output_mask): per element x̂ 2 + grad_input 8 (+1 with a weight) + grad_weight 2 + grad_bias
    1 (= 14 with all: twice the forward's 7), + 4 per normalized row (NORM's per-group
    constant: the rstd/N factors). Reads grad_out, x, mean, rstd, weight; writes the gradients
    asked for."""
    x = _shape(c, 1, "input")
    k = len(c.arg(2, "normalized_shape"))
    w, b = tshape(c.arg(5, "weight")), tshape(c.arg(6, "bias"))
    mask = _mask(c, 7)
    elems, rows_n = prod(x), prod(x[:len(x) - k])
    reads = 2 * elems + 2 * rows_n + (prod(w) if w else 0)
    writes = (prod(w) if w and mask[1] else 0) + (prod(b) if b and mask[2] else 0)
    return _norm_backward(elems, _ln_per(mask, w is not None, b is not None), rows_n, reads, writes, mask[0])


@lowering("aten.native_group_norm_backward")
def group_norm_backward(c: Ctx):
    """aten.native_group_norm_backward(grad_out, x, mean, rstd, weight?, N, C, HxW, group,
    output_mask): LayerNorm's backward over N·group rows (γ per channel): per element
    2 + 8 (+1 with a weight) + 2 + 1 (weight / bias gradients, if asked) + 4 per row."""
    x = _shape(c, 1, "input")
    w = tshape(c.arg(4, "weight"))
    mask = _mask(c, 9)
    groups = x[0] * int(c.arg(8, "group", 1))
    elems, ch = prod(x), x[1]
    reads = 2 * elems + 2 * groups + (prod(w) if w else 0)
    writes = (ch if w and mask[1] else 0) + (ch if w and mask[2] else 0)
    return _norm_backward(elems, _ln_per(mask, w is not None, w is not None), groups, reads, writes, mask[0])


@lowering("aten.native_batch_norm_backward")
def batch_norm_backward(c: Ctx):
    """aten.native_batch_norm_backward(grad_out, x, weight?, running_mean?, running_var?,
    save_mean?, save_invstd?, train, eps, output_mask). Training: LayerNorm's backward over the
    N·spatial elements of each channel (2 + 8 (+1 with a weight) + 2 + 1 per element, 4 per
    channel). Eval (the running statistics are constants): grad_input = g·(γ·rstd), 1 per
    element (the per-channel factor in the 4 per channel); grad_weight Σ g·x̂ needs x̂ (2) + 2;
    grad_bias 1."""
    x = _shape(c, 1, "input")
    w = tshape(c.arg(2, "weight"))
    train = bool(c.arg(7, "train", True))
    mask = _mask(c, 9)
    elems, ch = prod(x), x[1]
    if train:
        per = _ln_per(mask, w is not None, True)
    else:
        per = (1 if mask[0] else 0) + ((_XHAT + _GW) if (mask[1] and w) else 0) + (_GB if mask[2] else 0)
    reads = 2 * elems + 2 * ch + (ch if w else 0)
    writes = (ch if w and mask[1] else 0) + (ch if w and mask[2] else 0)
    return _norm_backward(elems, per, ch, reads, writes, mask[0])


@lowering("aten._fused_rms_norm_backward")
def rms_norm_backward(c: Ctx):
    """aten._fused_rms_norm_backward(grad_out, x, normalized_shape, rstd, weight?, output_mask):
    x̂ = x·rstd (1); grad_input: ĝ = g·γ (1 with a weight), Σĝ·x̂ (2), dx = rstd·(ĝ − x̂·Σ/N)
    (mul, sub, mul = 3) -> 5 + γ; grad_weight Σ g·x̂ (2); + 4 per row."""
    x = _shape(c, 1, "input")
    k = len(c.arg(2, "normalized_shape"))
    w = tshape(c.arg(4, "weight"))
    mask = _mask(c, 5, 2)
    elems, rows_n = prod(x), prod(x[:len(x) - k])
    per = (1 if (mask[0] or (mask[1] and w)) else 0) + ((5 + (1 if w else 0)) if mask[0] else 0) \
        + (2 if (mask[1] and w) else 0)
    reads = 2 * elems + rows_n + (prod(w) if w else 0)
    return _norm_backward(elems, per, rows_n, reads, prod(w) if w and mask[1] else 0, mask[0])


@lowering("aten._weight_norm_interface_backward")
def weight_norm_backward(c: Ctx):
    """aten._weight_norm_interface_backward(grad_w, v, g, norms, dim) -> (grad_v, grad_g), with
    r = ‖v‖ per norm: grad_g = Σ(grad_w·v)/r (mul, add = 2 per element; a divide per norm);
    grad_v = (g/r)·(grad_w − v·grad_g/r) (mul, sub, mul = 3 per element; grad_g/r and g/r per
    norm): 5 per element, 3 per norm. Reads grad_w, v, g, norms; writes grad_v and grad_g."""
    n, groups = prod(_shape(c, 0, "grad_w")), prod(_shape(c, 2, "saved_g"))
    return [(kinds.NORM, [n, 5, 0, n + 2 * groups]), (kinds.ELEMENTWISE, [groups, 3, 0])]


# ---------------------------------------------------------------------------- softmax
@lowering("aten._softmax_backward_data")
def softmax_backward(c: Ctx):
    """aten._softmax_backward_data(grad_out, y, dim, dtype): dx = y·(g − Σ g·y): mul, sum, sub,
    mul = 4 per element; reads g and y."""
    return [(kinds.ELEMENTWISE, [c.numel_out(0), 4, c.all_in_numel()])]


@lowering("aten._log_softmax_backward_data")
def log_softmax_backward(c: Ctx):
    """aten._log_softmax_backward_data(grad_out, y, dim, dtype): dx = g − exp(y)·Σg: sum, exp,
    mul, sub = 4 per element; reads g and y."""
    return [(kinds.ELEMENTWISE, [c.numel_out(0), 4, c.all_in_numel()])]


# ---------------------------------------------------------------------------- activations, losses
# op -> (FLOPs per element of grad_input, derivation); reads every tensor argument
ELEMENTWISE_BACKWARD = {
    "aten.threshold_backward": (1, "ReLU: x > t ? g : 0, one compare-select (as Relu's max)"),
    "aten.sigmoid_backward": (3, "g·y·(1 − y): sub, mul, mul"),
    "aten.tanh_backward": (3, "g·(1 − y²): square, sub, mul"),
    "aten.gelu_backward": (11, "g·(Φ(x) + x·φ(x)): Φ = 0.5·(1 + erf(x/√2)) 4 (div, erf, add, mul); "
                               "φ = exp(−x²/2)/√(2π) 4 (square, mul, exp, mul); x·φ, add, ·g 3. "
                               "approximate='tanh': 18 (inner polynomial 5, tanh 1, 0.5·(1 + t) 2, "
                               "its derivative 3, 1 − t² 2, product 3, add 1, ·g 1)"),
    "aten.silu_backward": (9, "g·s·(1 + x·(1 − s)), s = sigmoid(x) 4: sub, mul, add, mul, mul 5"),
    "aten.hardtanh_backward": (2, "min < x < max ? g : 0: two compares (as Clip)"),
    "aten.leaky_relu_backward": (2, "x > 0 ? g : g·slope: compare, mul (as LeakyRelu)"),
    "aten.hardsigmoid_backward": (3, "−3 < x < 3 ? g/6 : 0: two compares, mul"),
    "aten.hardswish_backward": (5, "x < −3 ? 0 : x <= 3 ? g·(x/3 + 0.5) : g: two compares, mul, add, mul"),
    "aten.elu_backward": (5, "x > 0 ? g·scale : g·α·scale·in_scale·exp(x·in_scale): compare, mul, "
                             "exp, mul, mul; from the result (is_result): compare, add, mul, mul = 4"),
    "aten.softplus_backward": (6, "g·z/(z + 1), z = exp(β·x): mul, exp, add, div, mul; threshold compare"),
    "aten.mish_backward": (14, "g·(t + x·s·(1 − t²)), t = tanh(softplus(x)) 3 + 1, s = sigmoid(x) 4: "
                               "square, sub, mul, mul, add, mul 6"),
    "aten.log_sigmoid_backward": (5, "g·(1 − sigmoid(x)) from the saved exp(−|x|): compare, add, div, sub, mul"),
    "aten.logit_backward": (3, "g / (x·(1 − x)): sub, mul, div"),
    "aten.native_dropout_backward": (2, "g·mask·scale: two mul"),
    "aten.mse_loss_backward": (3, "g·2/N·(x − t): sub, mul by the constant 2/N, mul by g"),
    "aten.smooth_l1_loss_backward": (5, "d = x − t, |d| < β ? d/β : sign(d), ·g, /N: sub, compare, "
                                        "div or sign, mul, mul"),
    "aten.huber_loss_backward": (5, "as smooth_l1_loss_backward"),
    "aten.binary_cross_entropy_backward": (5, "g·(x − t)/(x·(1 − x)): sub, sub, mul, div, mul"),
    "aten._prelu_kernel_backward": (3, "x > 0: grad_input g or w·g, grad_weight 0 or x·g: compare, two mul"),
    "aten.hardshrink_backward": (2, "|x| > λ ? g : 0: two compares"),
    "aten.softshrink_backward": (2, "|x| > λ ? g : 0: two compares"),
    "aten.soft_margin_loss_backward": (8, "−t·x (2), sigmoid (4), ·t·g/N (2)"),
    "aten.glu_backward": (4, "per grad_input element (two per grad_out element): sigmoid(b) 4, "
                             "grad_a = g·σ 1, grad_b = g·a·σ·(1 − σ) 3 -> 8 per pair"),
}


def elementwise_backward(c: Ctx):
    """grad_input elements × ELEMENTWISE_BACKWARD's constant; every tensor argument read."""
    per = ELEMENTWISE_BACKWARD[c.op][0]
    if c.op == "aten.gelu_backward" and c.arg(2, "approximate", "none") == "tanh":
        per = 18
    if c.op == "aten.elu_backward" and c.arg(4, "is_result", False):
        per = 4
    rows = [(kinds.ELEMENTWISE, [c.numel_out(0), per, c.all_in_numel()])]
    for extra in c.outputs[1:]:          # _prelu_kernel_backward's grad_weight
        if extra is not None:
            rows.append((kinds.ELEMENTWISE, [prod(extra), 0, 0]))
    return rows


for _op in ELEMENTWISE_BACKWARD:
    lowering(_op)(elementwise_backward)


# ---------------------------------------------------------------------------- gathers, views
@lowering("aten.embedding_dense_backward")
def embedding_backward(c: Ctx):
    """aten.embedding_dense_backward(grad_out, indices, num_weights, padding_idx, scale):
    grad_weight (num_weights, D) zero-filled, then each grad_out row added at its index: 1 add
    per grad_out element (GATHER bytes: the rows read and written, the indices read)."""
    go, idx = _shape(c, 0, "grad_output"), _shape(c, 1, "indices")
    out = c.out(0) if c.outputs else (int(c.arg(2, "num_weights")), go[-1])
    return _scatter_into(out, prod(go), prod(idx))


@lowering("aten.select_backward", aten=("aten.slice_backward", "aten.diagonal_backward",
                                        "aten.as_strided_backward"))
def view_backward(c: Ctx):
    """aten.select/slice/diagonal_backward(grad_out, input_sizes, ...): a zero-filled tensor of
    the input's size with grad_out copied into its slice: 0 FLOPs; grad_out read, the whole
    result written."""
    go = _shape(c, 0, "grad_output")
    out = c.out(0) if c.outputs else tuple(c.arg(1, "input_sizes"))
    return [(kinds.ELEMENTWISE, [prod(out), 0, prod(go)])]


@lowering("aten.unfold_backward")
def unfold_backward(c: Ctx):
    """aten.unfold_backward(grad_in, input_sizes, dim, size, step): each window element added
    back at its position: 1 add per grad element; the result written."""
    go = _shape(c, 0, "grad_in")
    out = c.out(0) if c.outputs else tuple(c.arg(1, "input_sizes"))
    return _spread(prod(out), prod(go), prod(go), 1)


@lowering("aten.reflection_pad2d_backward",
          aten=("aten.reflection_pad1d_backward", "aten.reflection_pad3d_backward",
                "aten.replication_pad1d_backward", "aten.replication_pad2d_backward",
                "aten.replication_pad3d_backward"))
def pad_backward(c: Ctx):
    """aten.reflection/replication_pad*_backward(grad_out, x, padding): each grad_out element
    added back at its source: 1 add per grad_out element; grad_input (x's size) written."""
    go, x = _shape(c, 0, "grad_output"), _shape(c, 1, "self")
    return _spread(prod(x), prod(go), prod(go), 1)


@lowering("aten.grid_sampler_2d_backward", aten=("aten.grid_sampler_3d_backward",))
def grid_sampler_backward(c: Ctx):
    """aten.grid_sampler_2d_backward(grad_out, x, grid, mode, padding, align_corners, mask):
    twice the forward's 11 per grad_out element (GridSample: 4 taps and the coordinates):
    the taps' mul-adds into grad_input and their differences into grad_grid = 22. Reads
    grad_out, x, grid; writes grad_input and grad_grid as asked."""
    go, x, grid = _shape(c, 0, "grad_output"), _shape(c, 1, "input"), _shape(c, 2, "grid")
    mask = _mask(c, 6, 2)
    writes = (prod(x) if mask[0] else 0) + (prod(grid) if mask[1] else 0)
    return _spread(writes, prod(go) + prod(x) + prod(grid), prod(go), 22)


# ---------------------------------------------------------------------------- pooling
@lowering("aten.max_pool2d_with_indices_backward",
          aten=("aten.max_pool3d_with_indices_backward", "aten.adaptive_max_pool2d_backward",
                "aten.adaptive_max_pool3d_backward"))
def max_pool_backward(c: Ctx):
    """aten.max_pool2d_with_indices_backward(grad_out, x, kernel, stride, padding, dilation,
    ceil_mode, indices) (adaptive_max_pool2d_backward(grad_out, x, indices)): grad_input
    zero-filled (x's size), each grad_out element added at its argmax: 1 add per grad_out
    element, indices read."""
    go, x = _shape(c, 0, "grad_output"), _shape(c, 1, "self")
    idx = c.inputs[-1] if len(c.inputs) >= 3 and c.inputs[-1] is not None else go
    return _scatter_into(x, prod(go), prod(idx))


@lowering("aten.avg_pool2d_backward", aten=("aten.avg_pool3d_backward",))
def avg_pool_backward(c: Ctx):
    """aten.avg_pool2d_backward(grad_out, x, kernel, ...): each grad_out element spread over
    its window, 1 add per window element (the forward's count); grad_out read, grad_input
    written."""
    go, x = _shape(c, 0, "grad_output"), _shape(c, 1, "self")
    window = prod(ints(c.arg(2, "kernel_size"), len(x) - 2))
    return _spread(prod(x), prod(go), prod(go), window)


@lowering("aten._adaptive_avg_pool2d_backward", aten=("aten._adaptive_avg_pool3d_backward",))
def adaptive_avg_pool_backward(c: Ctx):
    """aten._adaptive_avg_pool2d_backward(grad_out, x): as avg_pool2d_backward with the adaptive
    window (pool.adaptive_window)."""
    go, x = _shape(c, 0, "grad_output"), _shape(c, 1, "self")
    return _spread(prod(x), prod(go), prod(go), adaptive_window(x[2:], go[2:]))


# ---------------------------------------------------------------------------- resampling
def _upsample_backward(taps_per_dim: int):
    def fn(c: Ctx):
        """upsample_*_backward(grad_out, output_size, input_size, ...): grad_input (input_size)
        written, grad_out read; per grad_out element: nearest 1 add (into its source); linear
        over d resized dims 2^d taps × (mul, add); cubic 4^d taps × (mul, add)."""
        go = _shape(c, 0, "grad_output")
        out = c.out(0) if c.outputs else tuple(c.arg(2, "input_size"))
        d = sum(1 for a, b in zip(go[2:], out[2:]) if a != b) or 1
        per = 1 if taps_per_dim == 1 else 2 * taps_per_dim ** d
        return _spread(prod(out), prod(go), prod(go), per)
    return fn


lowering("aten.upsample_nearest2d_backward",
         aten=("aten.upsample_nearest1d_backward", "aten.upsample_nearest3d_backward",
               "aten._upsample_nearest_exact1d_backward", "aten._upsample_nearest_exact2d_backward",
               "aten._upsample_nearest_exact3d_backward"))(_upsample_backward(1))
lowering("aten.upsample_bilinear2d_backward",
         aten=("aten.upsample_linear1d_backward", "aten.upsample_trilinear3d_backward",
               "aten._upsample_bilinear2d_aa_backward"))(_upsample_backward(2))
lowering("aten.upsample_bicubic2d_backward", aten=("aten._upsample_bicubic2d_aa_backward",))(_upsample_backward(4))


# ---------------------------------------------------------------------------- losses
@lowering("aten.nll_loss_backward", aten=("aten.nll_loss2d_backward",))
def nll_loss_backward(c: Ctx):
    """aten.nll_loss_backward(grad_out, x, target, weight?, reduction, ignore_index,
    total_weight): grad_input (x's size) zero-filled, then at each target −g/total (neg, scale:
    2; × class weight +1) written with its index."""
    x, t = _shape(c, 1, "self"), _shape(c, 2, "target")
    w = 1 if isinstance(c.arg(3, "weight"), T) else 0
    n = prod(t)
    return _scatter_into(x, n, n, 2 + w)


# ---------------------------------------------------------------------------- attention
# position of is_causal in each SDPA backward (grad_out, query, key, value first)
SDPA_BACKWARD_CAUSAL_ARG = {
    "aten._scaled_dot_product_flash_attention_for_cpu_backward": 7,
    "aten._scaled_dot_product_efficient_attention_backward": 11,
    "aten._scaled_dot_product_flash_attention_backward": 11,
    "aten._scaled_dot_product_cudnn_attention_backward": 14,
    "aten._scaled_dot_product_fused_attention_overrideable_backward": 13,
}


def sdpa_backward(c: Ctx):
    """Fused attention backward = the forward's ATTENTION row counted twice (repeat 2):
    matmul 2× the forward's, the four products dV = Pᵀ·dO, dP = dO·Vᵀ, dQ = dS·K, dK = dSᵀ·Q
    (as torch.utils.flop_counter; NB a flash kernel also recomputes QKᵀ, a fifth product, not
    counted); 12 per score (NB: recomputing P and dS = P·(dP − D) take about 6, an upper
    bound); bytes Q, K, V, O, dO read and dQ, dK, dV written = 2 × the forward's Q + K + V + O.
    Same causal (top-left) and GQA handling as the forward."""
    pos = SDPA_BACKWARD_CAUSAL_ARG[c.op]
    fwd = rebind(c, [c.arg(1), c.arg(2), c.arg(3)], is_causal=int(bool(c.arg(pos, "is_causal", False))))
    return [(kind, params, 2) for kind, params in attention(fwd)]


for _op in SDPA_BACKWARD_CAUSAL_ARG:
    lowering(_op)(sdpa_backward)
