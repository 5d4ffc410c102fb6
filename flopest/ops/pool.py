"""Pooling: one FLOP per window element per output (a compare for max, an add for average)."""

from __future__ import annotations

import math

from .. import kinds
from ..dims import prod
from . import Ctx, ShapeUnknown, ints, lowering, rebind


def _aten_pool(c: Ctx) -> Ctx:
    """aten.max_pool{1,2,3}d(_with_indices) / avg_pool{1,2,3}d (x, kernel_size, stride, padding,
    ...) -> MaxPool / AveragePool(x) with kernel_shape (an int or a 1-list applies to every
    spatial dim)."""
    x = c.arg(0)
    r = len(x.shape) - 2
    return rebind(c, [x], kernel_shape=ints(c.arg(1, "kernel_size"), r))


_POOL_ATEN = ("aten.max_pool2d_with_indices", "aten.max_pool3d_with_indices", "aten.max_pool1d",
              "aten.max_pool2d", "aten.max_pool3d", "aten.avg_pool1d", "aten.avg_pool2d", "aten.avg_pool3d")


@lowering("MaxPool", "AveragePool", "LpPool", aten=tuple((n, _aten_pool) for n in _POOL_ATEN))
def pool(c: Ctx):
    """out_elems·prod(kernel_shape)."""
    x, y = c.inp(0), c.out(0)
    return [(kinds.POOL, [prod(y), prod(c.attr("kernel_shape") or [1]), prod(x)])]


@lowering("GlobalAveragePool", "GlobalMaxPool", "GlobalLpPool")
def global_pool(c: Ctx):
    """N·C outputs, each over prod(spatial) inputs."""
    x = c.inp(0)
    return [(kinds.POOL, [x[0] * x[1], prod(x[2:]), prod(x)])]


def adaptive_window(in_sp, out_sp) -> int:
    """Mean window size of adaptive pooling, rounded up: per dim the windows are
    [floor(i·L/n), ceil((i+1)·L/n)); their total length / n, ceil, multiplied over dims. Exact
    when every dim divides (windows L/n); NB otherwise an upper bound of the mean window."""
    w = 1
    for L, n in zip(in_sp, out_sp):
        if not isinstance(L, int) or not isinstance(n, int):
            w = w * (L // n)       # symbolic: the divisible case
            continue
        if n <= 0:
            raise ShapeUnknown(f"adaptive pool to size {n}")
        total = sum(-(-((i + 1) * L) // n) - (i * L) // n for i in range(n))
        w = w * math.ceil(total / n)
    return w


@lowering("aten._adaptive_avg_pool2d", aten=("aten._adaptive_avg_pool3d", "aten.adaptive_max_pool2d",
                                             "aten.adaptive_max_pool3d", "aten.adaptive_max_pool1d",
                                             "aten.adaptive_avg_pool1d"))
def adaptive_pool(c: Ctx):
    """Adaptive average / max pooling to a fixed output size: out_elems·window
    (window: adaptive_window)."""
    x, y = c.inp(0), c.out(0)
    return [(kinds.POOL, [prod(y), adaptive_window(x[2:], y[2:]), prod(x)])]


@lowering("MaxRoiPool", "RoiAlign")
def roi_pool(c: Ctx):
    """RoI pooling: ~4 FLOPs per output element per sample (bilinear), sampling_ratio² samples."""
    y = c.out(0)
    s = int(c.attr("sampling_ratio", 2) or 2)
    return [(kinds.POOL, [prod(y), 4 * s * s, prod(c.inp(0))])]
