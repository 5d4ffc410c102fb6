"""Data movement: 0 FLOPs. Views (Reshape, Squeeze, ...) move nothing and are free; copies
(Transpose, Concat, Slice, Pad, Expand, ...) read and write their elements; gathers read the
selected rows and the indices; generators (ConstantOfShape, Range) write their output."""

from __future__ import annotations

from .. import kinds
from ..dims import prod
from . import Ctx, ShapeUnknown, T, lowering, rebind, tshape, zero_cost

zero_cost("Reshape", "Flatten", "Squeeze", "Unsqueeze", "Shape", "Size", "Identity", "Constant",
          "Optional", "OptionalGetElement", "OptionalHasElement")

# PyTorch views: a new shape / stride over the same storage, no element moved (reshape and
# flatten, which may copy, are left out: they are CompositeImplicit and reach dispatch as a
# view or a clone). Allocations (empty*) write nothing; detach / alias / lift_fresh share the
# storage; _local_scalar_dense reads one element (`.item()`); sym_* read shape metadata.
zero_cost(
    "aten.view", "aten._unsafe_view", "aten._reshape_alias", "aten.view_as",
    "aten.t", "aten.t_", "aten.transpose", "aten.transpose_", "aten.permute", "aten.expand",
    "aten.expand_as", "aten.slice", "aten.select", "aten.narrow", "aten.unsqueeze", "aten.unsqueeze_",
    "aten.squeeze", "aten.squeeze_", "aten.split", "aten.split_with_sizes", "aten.unsafe_split",
    "aten.unsafe_split_with_sizes", "aten.chunk", "aten.unsafe_chunk", "aten.tensor_split",
    "aten.unbind", "aten.movedim", "aten.unflatten", "aten.as_strided",
    "aten.as_strided_", "aten.alias", "aten.detach", "aten.detach_", "aten.diagonal", "aten.unfold",
    "aten.view_as_real", "aten.view_as_complex", "aten.real", "aten.imag", "aten.conj", "aten._conj",
    "aten.lift_fresh", "aten.lift", "aten.empty", "aten.empty_like", "aten.empty_strided",
    "aten.new_empty", "aten.new_empty_strided", "aten.empty_permuted", "aten.resize_",
    "aten._local_scalar_dense", "aten.sym_size", "aten.sym_stride", "aten.sym_numel",
    "aten.sym_storage_offset", "aten.is_same_size", "aten.record_stream", "aten.set_",
    "aten._assert_async", "aten._assert_scalar", "aten._functional_assert_async",
)

_COPY_ATEN = (
    "aten.clone", "aten.copy_", "aten.copy", "aten.contiguous", "aten.lift_fresh_copy",
    "aten.constant_pad_nd", "aten.reflection_pad1d", "aten.reflection_pad2d", "aten.reflection_pad3d",
    "aten.replication_pad1d", "aten.replication_pad2d", "aten.replication_pad3d", "aten.repeat",
    "aten.flip", "aten.roll", "aten.tril", "aten.tril_", "aten.triu", "aten.triu_",
    "aten.pixel_shuffle", "aten.pixel_unshuffle", "aten.channel_shuffle", "aten.im2col", "aten.col2im",
    "aten.narrow_copy", "aten.view_copy", "aten.permute_copy", "aten.expand_copy", "aten.t_copy",
    "aten.transpose_copy", "aten.slice_copy", "aten.select_copy", "aten.unsqueeze_copy",
    "aten.squeeze_copy", "aten.alias_copy", "aten.detach_copy", "aten.unfold_copy",
    "aten.diagonal_copy", "aten.as_strided_copy", "aten._unsafe_view_copy",
)


@lowering("Transpose", "Expand", "Tile", "Pad", "Slice", "DepthToSpace", "SpaceToDepth", "Trilu",
          "ReverseSequence", "Col2Im", "CenterCropPad", aten=_COPY_ATEN)
def copy_out(c: Ctx):
    """A copy of the output's elements: read + write."""
    return [(kinds.MOVE, [c.numel_out(0)])]


@lowering("Concat", aten=("aten.cat", "aten.stack", "aten._cat", "aten.concat", "aten.concatenate"))
def concat(c: Ctx):
    """Every input element copied into the output."""
    return [(kinds.MOVE, [c.all_in_numel()])]


@lowering("Split")
def split(c: Ctx):
    """Every input element copied into one of the outputs."""
    return [(kinds.MOVE, [c.numel_in(0)])]


@lowering("Gather", "GatherElements", "GatherND",
          aten=("aten.embedding", "aten.index_select", "aten.gather", "aten.index", "aten._unsafe_index",
                "aten.take", "aten.take_along_dim"))
def gather(c: Ctx):
    """Output elements read and written, indices read (8 bytes each): embedding lookups.
    aten.index with several index tensors: the first one's indices counted."""
    return [(kinds.GATHER, [c.numel_out(0), c.numel_in(1)])]


def _aten_index_put(c: Ctx) -> Ctx:
    """aten.index_put(x, indices: list, values, accumulate) -> ScatterND(x, first index,
    values), reduction "add" when accumulating."""
    idx = [i for i in (c.arg(1) or []) if i is not None]
    return rebind(c, [c.arg(0), idx[0] if idx else None, c.arg(2, "values")],
                  reduction="add" if c.arg(3, "accumulate", False) else "none")


def _scatter_adapter(reduction_arg: int | None, fixed: str | None = None):
    def adapt(c: Ctx) -> Ctx:
        idx, src = c.arg(2, "index"), c.arg(3, "src")
        red = fixed or (c.arg(reduction_arg, "reduce") if reduction_arg is not None else None) \
            or c.kwargs.get("reduce")
        # scatter.value: a scalar written at every index (index-many updates)
        return rebind(c, [c.arg(0), idx, src if isinstance(src, T) else idx],
                      reduction=red or "none")

    adapt.__doc__ = ("aten.scatter / scatter_add / scatter_reduce (x, dim, index, src | value, ...) "
                     "-> ScatterElements(x, index, src) with its reduction")
    return adapt


_SCATTER_ATEN = tuple((n, _scatter_adapter(None)) for n in ("aten.scatter", "aten.scatter_")) + \
    tuple((n, _scatter_adapter(None, "add")) for n in ("aten.scatter_add", "aten.scatter_add_")) + \
    tuple((n, _scatter_adapter(4)) for n in ("aten.scatter_reduce", "aten.scatter_reduce_"))


@lowering("ScatterND", "ScatterElements", "Scatter",
          aten=(("aten.index_put", _aten_index_put), ("aten.index_put_", _aten_index_put),
                ("aten._unsafe_index_put", _aten_index_put)) + _SCATTER_ATEN)
def scatter(c: Ctx):
    """The data copied to the output, then the updates written at their indices; with a
    `reduction` (add, mul, max, min) 1 FLOP per update."""
    rows = [(kinds.MOVE, [c.numel_in(0)]), (kinds.GATHER, [c.numel_in(2), c.numel_in(1)])]
    red = c.attr("reduction", "none")
    if red not in ("none", b"none", None):
        rows.append((kinds.ELEMENTWISE, [c.numel_in(2), 1, 0, 1]))
    return rows


@lowering("ConstantOfShape", "Range", "EyeLike", "RandomNormal", "RandomUniform",
          "RandomNormalLike", "RandomUniformLike", "Multinomial", "OneHot",
          aten=("aten.zeros", "aten.ones", "aten.full", "aten.zeros_like", "aten.ones_like",
                "aten.full_like", "aten.new_zeros", "aten.new_ones", "aten.new_full", "aten.fill",
                "aten.fill_", "aten.zero_", "aten.zero", "aten.arange", "aten.linspace", "aten.logspace",
                "aten.eye", "aten.scalar_tensor", "aten.rand", "aten.randn", "aten.randint",
                "aten.randperm", "aten.rand_like", "aten.randn_like", "aten.randint_like",
                "aten.normal", "aten.normal_", "aten.uniform", "aten.uniform_", "aten.random_",
                "aten.exponential_", "aten.multinomial", "aten.one_hot"))
def generate(c: Ctx):
    """Writes its output: 0 FLOPs, output bytes."""
    return [(kinds.ELEMENTWISE, [c.numel_out(0), 0, 0])]


@lowering("Bernoulli", aten=("aten.bernoulli", "aten.bernoulli_"))
def bernoulli(c: Ctx):
    """One draw and compare per element (counted 1 FLOP)."""
    return [(kinds.ELEMENTWISE, [c.numel_out(0), 1, c.numel_in(0)])]


@lowering("NonZero", "Compress", "Unique",
          aten=("aten.nonzero", "aten.nonzero_static", "aten.masked_select", "aten._unique2",
                "aten.unique_dim", "aten.unique_consecutive"))
def select(c: Ctx):
    """One compare per input element; the output size depends on the data (bytes: input)."""
    n = c.numel_in(0)
    return [(kinds.REDUCE, [n, 0, 1])]


def _resized_dims(x, y) -> int:
    return sum(1 for a, b in zip(x, y) if a != b) or 1


def _aten_linear(c: Ctx) -> Ctx:
    """aten.upsample_{linear1d, bilinear2d, trilinear3d}(x, ...) -> Resize(x) mode linear."""
    return rebind(c, [c.arg(0)], mode="linear")


def _aten_cubic(c: Ctx) -> Ctx:
    """aten.upsample_bicubic2d(x, ...) -> Resize(x) mode cubic."""
    return rebind(c, [c.arg(0)], mode="cubic")


_NEAREST_ATEN = ("aten.upsample_nearest1d", "aten.upsample_nearest2d", "aten.upsample_nearest3d",
                 "aten._upsample_nearest_exact1d", "aten._upsample_nearest_exact2d",
                 "aten._upsample_nearest_exact3d")
_LINEAR_ATEN = ("aten.upsample_linear1d", "aten.upsample_bilinear2d", "aten.upsample_trilinear3d",
                "aten._upsample_bilinear2d_aa")
_CUBIC_ATEN = ("aten.upsample_bicubic2d", "aten._upsample_bicubic2d_aa")


@lowering("Resize", "Upsample", aten=_NEAREST_ATEN + tuple((n, _aten_linear) for n in _LINEAR_ATEN)
          + tuple((n, _aten_cubic) for n in _CUBIC_ATEN))
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


@lowering("GridSample", aten=("aten.grid_sampler_2d", "aten.grid_sampler", "aten.grid_sampler_3d"))
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


@lowering("aten.select_scatter", aten=("aten.slice_scatter", "aten.diagonal_scatter",
                                       "aten.as_strided_scatter", "aten.index_copy", "aten.index_copy_",
                                       "aten.masked_scatter", "aten.masked_scatter_"))
def embed_copy(c: Ctx):
    """x copied to the output, then `src` written into its slice: bytes of both, 0 FLOPs."""
    x = c.inp(0)
    src = c.inputs[-1] if len(c.inputs) > 1 and c.inputs[-1] is not None else x
    return [(kinds.MOVE, [prod(x)]), (kinds.MOVE, [prod(src)])]


@lowering("aten.index_add", aten=("aten.index_add_",))
def index_add(c: Ctx):
    """aten.index_add(x, dim, index, source, *, alpha): x copied, each source element added
    at its index (1 FLOP; +1 for alpha != 1)."""
    x, idx, src = tshape(c.arg(0)), tshape(c.arg(2)), tshape(c.arg(3))
    if x is None or src is None:
        raise ShapeUnknown("index_add needs x and source")
    per = 1 + (1 if c.arg(4, "alpha", 1) != 1 else 0)
    return [(kinds.MOVE, [prod(x)]), (kinds.GATHER, [prod(src), prod(idx) if idx else 0]),
            (kinds.ELEMENTWISE, [prod(src), per, 0, 1])]
