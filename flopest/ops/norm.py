"""Normalizations. Per element: mean 1, subtract 1, square 1, variance sum 1, scale by rstd 1
(= 5), + 1 for a scale (gamma) + 1 for a shift (beta); per normalized group 4 (two divides,
add eps, rsqrt). RMS: square 1, sum 1, scale 1 (= 3) + 1 for gamma. Inference BatchNorm uses
the stored statistics: subtract, scale, gamma, beta = 4 per element."""

from __future__ import annotations

from .. import kinds
from ..dims import prod
from . import Ctx, lowering, rebind


def _axis(c: Ctx, x, default):
    a = int(c.attr("axis", default))
    return a + len(x) if a < 0 else a


def _params(c: Ctx, first: int) -> int:
    return sum((prod(c.inputs[i]) for i in range(first, len(c.inputs)) if c.inputs[i] is not None), 0)


def _aten_layer_norm(c: Ctx) -> Ctx:
    """aten.native_layer_norm(x, normalized_shape, weight?, bias?, eps) (aten.layer_norm:
    CompositeImplicit, same first four) -> LayerNormalization(x, weight, bias) with
    axis = -len(normalized_shape)."""
    shape = c.arg(1, "normalized_shape")
    return rebind(c, [c.arg(0), c.arg(2, "weight"), c.arg(3, "bias")], axis=-len(shape))


def _aten_rms_norm(c: Ctx) -> Ctx:
    """aten._fused_rms_norm(x, normalized_shape, weight?, eps) (aten.rms_norm: CompositeImplicit,
    same order) -> RMSNormalization(x, weight), axis = -len(normalized_shape)."""
    shape = c.arg(1, "normalized_shape")
    return rebind(c, [c.arg(0), c.arg(2, "weight")], axis=-len(shape))


def _aten_batch_norm(c: Ctx) -> Ctx:
    """aten.native_batch_norm / _native_batch_norm_legit(_functional) / cudnn_batch_norm
    (x, weight?, bias?, running_mean?, running_var?, training, momentum, eps);
    _native_batch_norm_legit.no_stats (x, weight?, bias?, training, momentum, eps)
    -> BatchNormalization(x, weight, bias, mean, var) with training_mode. NB: the running
    statistics update in training (3 FLOPs per channel and statistic) is not counted."""
    if isinstance(c.arg(3), bool):  # no_stats overload
        return rebind(c, [c.arg(0), c.arg(1), c.arg(2)], training_mode=int(c.arg(3)))
    return rebind(c, [c.arg(i) for i in range(5)], training_mode=int(bool(c.arg(5, "training", False))))


@lowering("LayerNormalization", aten=(("aten.native_layer_norm", _aten_layer_norm),
                                      ("aten.layer_norm", _aten_layer_norm)))
def layer_norm(c: Ctx):
    """elems·(5 + gamma + beta) + 4·prod(shape[:axis])."""
    x = c.inp(0)
    ax = _axis(c, x, -1)
    per = 5 + (1 if c.has(1) else 0) + (1 if c.has(2) else 0)
    return [(kinds.NORM, [prod(x), per, prod(x[:ax]), _params(c, 1)])]


@lowering("RMSNormalization", aten=(("aten.rms_norm", _aten_rms_norm), ("aten._fused_rms_norm", _aten_rms_norm)))
def rms_norm(c: Ctx):
    """elems·(3 + gamma) + 4·prod(shape[:axis])."""
    x = c.inp(0)
    ax = _axis(c, x, -1)
    return [(kinds.NORM, [prod(x), 3 + (1 if c.has(1) else 0), prod(x[:ax]), _params(c, 1)])]


def _aten_batch_norm_eval(c: Ctx) -> Ctx:
    """aten._native_batch_norm_legit_no_training(x, weight?, bias?, mean, var, momentum, eps)."""
    return rebind(c, [c.arg(i) for i in range(5)], training_mode=0)


@lowering("BatchNormalization", aten=tuple((n, _aten_batch_norm) for n in (
    "aten.native_batch_norm", "aten._native_batch_norm_legit", "aten._native_batch_norm_legit_functional",
    "aten.cudnn_batch_norm", "aten.miopen_batch_norm"))
    + (("aten._native_batch_norm_legit_no_training", _aten_batch_norm_eval),))
def batch_norm(c: Ctx):
    """Inference: elems·4 + 4·C (rsqrt of each channel's variance). training_mode=1 also
    computes the statistics: elems·7 + 4·C."""
    x = c.inp(0)
    per = 7 if c.attr("training_mode", 0) else 4
    return [(kinds.NORM, [prod(x), per, x[1], _params(c, 1)])]


@lowering("InstanceNormalization")
def instance_norm(c: Ctx):
    """elems·7 + 4·N·C."""
    x = c.inp(0)
    return [(kinds.NORM, [prod(x), 7, x[0] * x[1], _params(c, 1)])]


def _aten_group_norm(c: Ctx) -> Ctx:
    """aten.native_group_norm(x, weight?, bias?, N, C, HxW, group, eps) -> GroupNormalization
    with num_groups."""
    return rebind(c, [c.arg(0), c.arg(1), c.arg(2)], num_groups=int(c.arg(6, "group", 1)))


@lowering("GroupNormalization", aten=(("aten.native_group_norm", _aten_group_norm),))
def group_norm(c: Ctx):
    """elems·7 + 4·N·num_groups."""
    x = c.inp(0)
    return [(kinds.NORM, [prod(x), 7, x[0] * int(c.attr("num_groups", 1)), _params(c, 1)])]


@lowering("LpNormalization")
def lp_norm(c: Ctx):
    """p=2: square, sum, divide = 3 per element + 4 per vector (sqrt and friends)."""
    x = c.inp(0)
    ax = _axis(c, x, -1)
    return [(kinds.NORM, [prod(x), 3, prod(x[:ax]) * prod(x[ax + 1:]), 0])]


@lowering("LRN")
def lrn(c: Ctx):
    """Local response norm: per element size squares+adds (2·size) and 4 for the scale/pow."""
    x = c.inp(0)
    return [(kinds.ELEMENTWISE, [prod(x), 2 * int(c.attr("size", 1)) + 4, prod(x)])]


@lowering("aten._weight_norm_interface")
def weight_norm(c: Ctx):
    """aten._weight_norm_interface(v, g, dim) -> (w, norms), w = v·g/‖v‖ with the norm over every
    dim but `dim` (Salimans & Kingma 2016), one per element of g: per element of v square and
    add (2) + the scale (1) = 3; per norm sqrt and g/‖v‖ (2). Reads v and g; writes w and the
    norms."""
    n, groups = c.numel_in(0), c.numel_in(1)
    return [(kinds.NORM, [n, 3, 0, groups]), (kinds.ELEMENTWISE, [groups, 2, 0])]


@lowering("MeanVarianceNormalization")
def mean_variance_norm(c: Ctx):
    """(X − mean) / sqrt(var) over `axes` (default [0, 2, 3]): elems·5 (no scale, no bias) +
    4 per group; groups = the elements of the dims not in `axes`."""
    x = c.inp(0)
    r = len(x)
    axes = {a + r if a < 0 else a for a in (c.attr("axes") or [0, 2, 3])}
    return [(kinds.NORM, [prod(x), 5, prod(d for i, d in enumerate(x) if i not in axes), 0])]
