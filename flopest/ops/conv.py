"""Convolutions, 1-3 spatial dims, groups, stride, dilation, padding, transposed.

Padding positions are counted as full multiply-adds (the kernel window is applied at every
output position), the convention of every other counter."""

from __future__ import annotations

from dataclasses import replace

from .. import kinds
from ..dims import prod
from . import Ctx, ShapeUnknown, ints, lowering, rebind


def out_spatial(c: Ctx, x, w, transposed: bool):
    """Output spatial dims: from shape inference, else from the ONNX attribute formulas."""
    if c.outputs and c.outputs[0] is not None:
        return tuple(c.outputs[0][2:])
    sp = x[2:]
    r = len(sp)
    ks = c.attr("kernel_shape") or list(w[2:])
    st = c.attr("strides") or [1] * r
    dl = c.attr("dilations") or [1] * r
    pads = c.attr("pads") or [0] * (2 * r)
    if c.attr("auto_pad", "NOTSET") not in ("NOTSET", b"NOTSET", "VALID", b"VALID"):
        if transposed:
            return tuple(sp[i] * st[i] for i in range(r))
        return tuple((sp[i] + st[i] - 1) // st[i] for i in range(r))
    if transposed:
        op = c.attr("output_padding") or [0] * r
        if c.attr("output_shape"):
            return tuple(c.attr("output_shape"))
        return tuple(st[i] * (sp[i] - 1) + op[i] + ((ks[i] - 1) * dl[i] + 1) - pads[i] - pads[i + r]
                     for i in range(r))
    return tuple((sp[i] + pads[i] + pads[i + r] - dl[i] * (ks[i] - 1) - 1) // st[i] + 1 for i in range(r))


def _conv(c: Ctx, transposed: bool):
    x, w = c.inp(0), c.inp(1)
    if len(x) < 3 or len(w) != len(x):
        raise ShapeUnknown(f"{c.op} expects input and weight of rank >= 3 and equal, got {x}, {w}")
    g = int(c.attr("group", 1))
    n, cin = x[0], x[1]
    cout = w[1] * g if transposed else w[0]
    osp = out_spatial(c, x, w, transposed)
    rows = [(kinds.CONV, [n, cin, cout, g, prod(osp), prod(w[2:]), prod(x[2:]), 1 if transposed else 0])]
    if c.has(2):  # bias: one add per output element, in place (the output is written once)
        rows.append((kinds.ELEMENTWISE, [n * cout * prod(osp), 1, cout, 1]))
    return rows


def _aten_conv(c: Ctx) -> Ctx:
    """aten.convolution(x, w, b, stride, padding, dilation, transposed, output_padding, groups)
    (aten._convolution: the same nine first) -> Conv(x, w, b) with the ONNX attributes;
    `transposed` is passed on for the Conv lowering to switch to ConvTranspose's count."""
    x, w = c.arg(0), c.arg(1)
    r = len(x.shape) - 2
    pads = ints(c.arg(4, "padding", 0), r)
    return rebind(c, [x, w, c.arg(2, "bias")], strides=ints(c.arg(3, "stride", 1), r),
                  pads=pads + pads, dilations=ints(c.arg(5, "dilation", 1), r),
                  output_padding=ints(c.arg(7, "output_padding", 0), r),
                  group=int(c.arg(8, "groups", 1)), transposed=int(bool(c.arg(6, "transposed", False))))


@lowering("Conv", aten=(("aten.convolution", _aten_conv), ("aten._convolution", _aten_conv)))
def conv(c: Ctx):
    """2·N·C_out·prod(out_spatial)·(C_in/groups)·prod(kernel) (+ N·C_out·out for the bias).
    aten.convolution with transposed=True (attribute set by its adapter) is counted as
    ConvTranspose."""
    return _conv(c, bool(c.attr("transposed", 0)))


@lowering("ConvTranspose")
def conv_transpose(c: Ctx):
    """2·N·C_in·prod(in_spatial)·(C_out/groups)·prod(kernel): every input element is
    scattered through the whole kernel (+ one add per output element for the bias)."""
    return _conv(c, True)


def _with(c: Ctx, idx) -> Ctx:
    """`c` with inputs picked by index (None: an absent optional input)."""
    return replace(c, inputs=[c.inputs[i] if i is not None and i < len(c.inputs) else None for i in idx])


@lowering("ConvInteger")
def conv_integer(c: Ctx):
    """ConvInteger(x, w, x_zero_point?, w_zero_point?): Conv's multiply-adds (in int32).
    NB: the zero-point subtractions are folded into the accumulation (not counted)."""
    return _conv(_with(c, (0, 1)), False)


@lowering("QLinearConv")
def qlinear_conv(c: Ctx):
    """QLinearConv(x, x_scale, x_zp, w, w_scale, w_zp, y_scale, y_zp, B?): Conv's multiply-adds
    (x = input 0, w = input 3, bias = input 8) + 2 FLOPs per output to requantize (scale and
    zero point, as QLinearMatMul)."""
    rows = _conv(_with(c, (0, 3, 8)), False)
    rows.append((kinds.ELEMENTWISE, [c.numel_out(0), 2, 0, 1]))
    return rows


# Bilinear sampling of one input value at a fractional position: the four taps' weights
# from the fractional parts (4) and the weighted sum (4 multiplies + 3 adds = 7): 11, as
# GridSample (movement.py); the sampled position = base + offset (+0: folded into the 4).
BILINEAR_SAMPLE_FLOPS = 11


@lowering("DeformConv")
def deform_conv(c: Ctx):
    """DeformConv(X, W, offset, B?, mask?) (Dai et al. 2017, v2 with mask: Zhu et al. 2019):
    every input channel is sampled bilinearly at each output position and kernel tap,
    N·C·prod(out)·prod(kernel) samples × 11 FLOPs (+1 for the mask multiply), written as the
    deformable column matrix; then Conv's multiply-adds over it (+ the bias add)."""
    x, w = c.inp(0), c.inp(1)
    rows = _conv(_with(c, (0, 1, 3)), False)
    osp = out_spatial(c, x, w, False)
    samples = x[0] * x[1] * prod(osp) * prod(w[2:])
    per = BILINEAR_SAMPLE_FLOPS + (1 if c.has(4) else 0)
    reads = prod(c.inp(2)) + (prod(c.inp(4)) if c.has(4) else 0)
    rows.append((kinds.ELEMENTWISE, [samples, per, reads]))
    return rows


@lowering("CausalConvWithState")
def causal_conv_with_state(c: Ctx):
    """CausalConvWithState(input (N, C, L), weight (C, 1, k), bias?, past_state?) (opset 27):
    a depthwise causal convolution over the past state (k − 1 positions, zeros without one)
    and the input: 2·N·C·L·k (+ N·C·L for the bias); activation "silu"/"swish" adds
    x·sigmoid(x) = 5 per output (elementwise.py's aten.silu). The present state (the last
    k − 1 positions) is a copy."""
    x, w = c.inp(0), c.inp(1)
    n, ch, length = x
    k = w[2]
    rows = [(kinds.CONV, [n, ch, ch, ch, length, k, length + k - 1, 0])]
    if c.has(2):
        rows.append((kinds.ELEMENTWISE, [n * ch * length, 1, ch, 1]))
    act = c.attr("activation", "none")
    act = act.decode() if isinstance(act, bytes) else act
    if act in ("silu", "swish"):
        rows.append((kinds.ELEMENTWISE, [n * ch * length, 5, 0, 1]))
    elif act != "none":
        raise ShapeUnknown(f"CausalConvWithState activation {act!r} is not one of none, silu, swish")
    rows.append((kinds.MOVE, [n * ch * (k - 1)]))
    return rows
