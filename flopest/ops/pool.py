"""Pooling: one FLOP per window element per output (a compare for max, an add for average)."""

from __future__ import annotations

from .. import kinds
from ..dims import prod
from . import Ctx, lowering


@lowering("MaxPool", "AveragePool", "LpPool", aten=("aten.max_pool2d_with_indices", "aten.avg_pool2d"))
def pool(c: Ctx):
    """out_elems·prod(kernel_shape)."""
    x, y = c.inp(0), c.out(0)
    return [(kinds.POOL, [prod(y), prod(c.attr("kernel_shape") or [1]), prod(x)])]


@lowering("GlobalAveragePool", "GlobalMaxPool", "GlobalLpPool")
def global_pool(c: Ctx):
    """N·C outputs, each over prod(spatial) inputs."""
    x = c.inp(0)
    return [(kinds.POOL, [x[0] * x[1], prod(x[2:]), prod(x)])]


@lowering("MaxRoiPool", "RoiAlign")
def roi_pool(c: Ctx):
    """RoI pooling: ~4 FLOPs per output element per sample (bilinear), sampling_ratio² samples."""
    y = c.out(0)
    s = int(c.attr("sampling_ratio", 2) or 2)
    return [(kinds.POOL, [prod(y), 4 * s * s, prod(c.inp(0))])]
