"""Data movement: 0 FLOPs. Views (Reshape, Squeeze, ...) move nothing and are free; copies
(Transpose, Concat, Slice, Pad, Expand, ...) read and write their elements; gathers read the
selected rows and the indices; generators (ConstantOfShape, Range) write their output."""

from __future__ import annotations

from .. import kinds
from ..dims import prod
from . import Ctx, lowering, zero_cost

zero_cost("Reshape", "Flatten", "Squeeze", "Unsqueeze", "Shape", "Size", "Identity", "Constant",
          "Optional", "OptionalGetElement", "OptionalHasElement")


@lowering("Transpose", "Expand", "Tile", "Pad", "Slice", "DepthToSpace", "SpaceToDepth", "Trilu",
          "ReverseSequence", "Col2Im", "CenterCropPad",
          aten=("aten.permute", "aten.clone", "aten.expand", "aten.constant_pad_nd"))
def copy_out(c: Ctx):
    """A copy of the output's elements: read + write."""
    return [(kinds.MOVE, [c.numel_out(0)])]


@lowering("Concat", aten=("aten.cat",))
def concat(c: Ctx):
    """Every input element copied into the output."""
    return [(kinds.MOVE, [c.all_in_numel()])]


@lowering("Split", aten=("aten.split_with_sizes",))
def split(c: Ctx):
    """Every input element copied into one of the outputs."""
    return [(kinds.MOVE, [c.numel_in(0)])]


@lowering("Gather", "GatherElements", "GatherND", aten=("aten.embedding", "aten.index_select"))
def gather(c: Ctx):
    """Output elements read and written, indices read (8 bytes each): embedding lookups."""
    return [(kinds.GATHER, [c.numel_out(0), c.numel_in(1)])]


@lowering("ScatterND", "ScatterElements", "Scatter", aten=("aten.index_put",))
def scatter(c: Ctx):
    """The data copied to the output, then the updates written at their indices."""
    return [(kinds.MOVE, [c.numel_in(0)]), (kinds.GATHER, [c.numel_in(2), c.numel_in(1)])]


@lowering("ConstantOfShape", "Range", "EyeLike", "RandomNormal", "RandomUniform",
          "RandomNormalLike", "RandomUniformLike", "Multinomial", "OneHot")
def generate(c: Ctx):
    """Writes its output: 0 FLOPs, output bytes."""
    return [(kinds.ELEMENTWISE, [c.numel_out(0), 0, 0])]


@lowering("Bernoulli")
def bernoulli(c: Ctx):
    """One draw and compare per element (counted 1 FLOP)."""
    return [(kinds.ELEMENTWISE, [c.numel_out(0), 1, c.numel_in(0)])]


@lowering("NonZero", "Compress", "Unique")
def select(c: Ctx):
    """One compare per input element; the output size depends on the data (bytes: input)."""
    n = c.numel_in(0)
    return [(kinds.REDUCE, [n, 0, 1])]


def _resized_dims(x, y) -> int:
    return sum(1 for a, b in zip(x, y) if a != b) or 1


@lowering("Resize", "Upsample", aten=("aten.upsample_nearest2d", "aten.upsample_bilinear2d"))
def resize(c: Ctx):
    """nearest: a copy; linear over d resized dims: 2^d multiplies + 2^d − 1 adds per output;
    cubic: 4^d multiplies + 4^d − 1 adds."""
    x, y = c.inp(0), c.out(0)
    mode = c.attr("mode", "nearest")
    mode = mode.decode() if isinstance(mode, bytes) else mode
    if mode == "nearest":
        return [(kinds.MOVE, [prod(y)])]
    d = _resized_dims(x, y)
    taps = 2 ** d if mode == "linear" else 4 ** d
    return [(kinds.ELEMENTWISE, [prod(y), 2 * taps - 1, prod(x)])]


@lowering("GridSample")
def grid_sample(c: Ctx):
    """Bilinear sampling: 4 taps per output (7 FLOPs) + 4 for the coordinate unnormalization."""
    return [(kinds.ELEMENTWISE, [c.numel_out(0), 11, c.all_in_numel()])]


@lowering("QuantizeLinear", "DequantizeLinear")
def quantize(c: Ctx):
    """Scale and zero-point: 2 FLOPs per element (+ rounding for quantize, counted in the 2)."""
    return [(kinds.ELEMENTWISE, [c.numel_in(0), 2, c.all_in_numel()])]


@lowering("DynamicQuantizeLinear")
def dyn_quantize(c: Ctx):
    """min and max over the input (2 per element), then quantize (2 per element)."""
    n = c.numel_in(0)
    return [(kinds.REDUCE, [n, 2, 2]), (kinds.ELEMENTWISE, [n, 2, n])]
