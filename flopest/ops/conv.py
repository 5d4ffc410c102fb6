"""Convolutions, 1-3 spatial dims, groups, stride, dilation, padding, transposed.

Padding positions are counted as full multiply-adds (the kernel window is applied at every
output position), the convention of every other counter."""

from __future__ import annotations

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
