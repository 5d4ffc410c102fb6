"""Data movement: 0 FLOPs. Views (Reshape, Squeeze, ...) move nothing and are free; copies
(Transpose, Concat, Slice, Pad, Expand, ...) read and write their elements; gathers read the
selected rows and the indices; generators (ConstantOfShape, Range) write their output."""

from __future__ import annotations

from .. import kinds
from ..dims import opaque, prod, to_source
from . import Ctx, ShapeUnknown, T, lowering, rebind, tshape, uncosted, zero_cost

zero_cost("Reshape", "Flatten", "Squeeze", "Unsqueeze", "Shape", "Size", "Identity", "Constant",
          "Optional", "OptionalGetElement", "OptionalHasElement")
# BitCast reinterprets the same bytes as another type; a sequence holds references to its
# tensors (building, reading, inserting, erasing or measuring one moves no element)
zero_cost("BitCast", "SequenceConstruct", "SequenceEmpty", "SequenceLength", "SequenceAt",
          "SequenceInsert", "SequenceErase")
uncosted("it applies its body to every element of a sequence, whose length is data (the trip "
         "count is unknown from shapes)", "SequenceMap")
uncosted("the number of boxes kept and compared depends on the scores and overlaps (data), "
         "not on shapes", "NonMaxSuppression")
uncosted("it decodes compressed image bytes: the work and the output size depend on the data",
         "ImageDecoder")

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
          "ReverseSequence", "CenterCropPad", aten=_COPY_ATEN)
def copy_out(c: Ctx):
    """A copy of the output's elements: read + write."""
    return [(kinds.MOVE, [c.numel_out(0)])]


@lowering("Concat", aten=("aten.cat", "aten.stack", "aten._cat", "aten.concat", "aten.concatenate"))
def concat(c: Ctx):
    """Every input element copied into the output."""
    return [(kinds.MOVE, [c.all_in_numel()])]


@lowering("Split", "SplitToSequence")
def split(c: Ctx):
    """Every input element copied into one of the outputs (SplitToSequence: the tensors of
    the output sequence)."""
    return [(kinds.MOVE, [c.numel_in(0)])]


@lowering("ConcatFromSequence")
def concat_from_sequence(c: Ctx):
    """Every element of the sequence's tensors copied into the output (= its elements)."""
    return [(kinds.MOVE, [c.numel_out(0)])]


def _col2im_cover(image: int, block: int, stride: int, dilation: int, pad0: int, pad1: int):
    """One spatial dim of Col2Im: (block elements landing inside the image, image positions
    that receive at least one). Blocks start at j·stride (j < L_d) on the padded axis; tap t
    lands at j·stride + t·dilation − pad0."""
    span = dilation * (block - 1) + 1
    blocks = (image + pad0 + pad1 - span) // stride + 1
    hits = [0] * image
    for j in range(max(blocks, 0)):
        for t in range(block):
            p = j * stride + t * dilation - pad0
            if 0 <= p < image:
                hits[p] += 1
    return sum(hits), sum(1 for h in hits if h)


def _col2im_block(c: Ctx, x, y, image, st, dl, pads) -> list:
    """A non-constant block_shape read back from the shapes: the one block whose size is
    C_in / C_out and whose block count per dim multiplies to L; several fit: ShapeUnknown."""
    r = len(image)
    if y is None or not all(isinstance(d, int) for d in (x[1], x[2], y[1])) or y[1] <= 0 \
            or x[1] % y[1]:
        raise ShapeUnknown("Col2Im needs a constant block_shape input (or static input and "
                           "output shapes to read it from)")
    size = x[1] // y[1]

    def splits(n, k):
        if k == 1:
            yield [n]
            return
        for d in range(1, n + 1):
            if n % d == 0:
                for rest in splits(n // d, k - 1):
                    yield [d] + rest

    fits = []
    for b in splits(size, r):
        blocks = 1
        for i in range(r):
            blocks *= (image[i] + pads[i] + pads[i + r] - dl[i] * (b[i] - 1) - 1) // st[i] + 1
        if blocks == x[2]:
            fits.append(b)
    if len(fits) != 1:
        raise ShapeUnknown(f"Col2Im block_shape is not a constant and {len(fits)} block shapes "
                           f"fit the input {x} and output {y}")
    return fits[0]


@lowering("Col2Im")
def col2im(c: Ctx):
    """Col2Im(input (N, C·prod(block), L), image_shape, block_shape): every block element is
    summed into its image position; a position's first value is a copy, each further one an
    add. Per dim the landing taps and covered positions are counted (_col2im_cover); the dims
    are independent, so adds = N·C·(prod(taps) − prod(covered)). image_shape: the constant
    input, else the inferred output's spatial dims; block_shape: the constant input, else the
    single block that fits the shapes (_col2im_block); where blocks overlap depends on both."""
    x = c.inp(0)
    image, block = c.const(1), c.const(2)
    image = [int(v) for v in image.reshape(-1)] if image is not None else None
    block = [int(v) for v in block.reshape(-1)] if block is not None else None
    y = c.outputs[0] if c.outputs else None
    if image is None and y is not None and all(isinstance(d, int) for d in y[2:]):
        image = list(y[2:])
    if image is None:
        raise ShapeUnknown("Col2Im needs a constant image_shape input or an inferred output shape")
    r = len(image)
    st = c.attr("strides") or [1] * r
    dl = c.attr("dilations") or [1] * r
    pads = c.attr("pads") or [0] * (2 * r)
    if block is None:
        block = _col2im_block(c, x, y, image, st, dl, pads)
    taps = covered = 1
    for i in range(r):
        t, v = _col2im_cover(image[i], block[i], st[i], dl[i], pads[i], pads[i + r])
        taps, covered = taps * t, covered * v
    bsize = prod(block)
    if not isinstance(x[1], int) or x[1] % bsize:
        raise ShapeUnknown(f"Col2Im input channels {x[1]} are not a multiple of prod(block_shape) {bsize}")
    nc = x[0] * (x[1] // bsize)
    out = nc * prod(image)
    return [(kinds.ELEMENTWISE, [out, 0, prod(x)]), (kinds.ELEMENTWISE, [nc * (taps - covered), 1, 0, 1])]


@lowering("MaxUnpool")
def max_unpool(c: Ctx):
    """MaxUnpool(X, I, output_shape?): the output written with zeros, then every input value
    written at its index: 0 FLOPs; output bytes + the values and their indices."""
    return [(kinds.ELEMENTWISE, [c.numel_out(0), 0, 0]), (kinds.GATHER, [c.numel_in(0), c.numel_in(1)])]


@lowering("TensorScatter")
def tensor_scatter(c: Ctx):
    """TensorScatter(past_cache, update, write_indices?) (opset 24, a KV-cache write): the
    cache copied to the present cache, the update written at its indices: 0 FLOPs."""
    idx = c.numel_in(2) if c.has(2) else 0
    return [(kinds.MOVE, [c.numel_in(0)]), (kinds.GATHER, [c.numel_in(1), idx])]


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


def _taps(x, y, per_axis: int):
    """Input taps per output of an interpolation: `per_axis` along every resized axis (x ≠ y),
    over at least one axis. Where an axis pair cannot be compared before the dims are bound (a
    symbolic size against another), the count is a dim evaluated at binding,
    per_axis ** max(1, resized), each such axis adding min(1, |x − y|) — never a guess
    that every symbolic axis is resized."""
    resized, unsure = 0, []
    for a, b in zip(x, y):
        if isinstance(a, int) and isinstance(b, int) or a == b:
            resized += a != b
        else:
            unsure.append(f"Min(1, Abs(({to_source(a)}) - ({to_source(b)})))")
    if not unsure:
        return per_axis ** (resized or 1)
    return opaque(f"{per_axis} ** Max(1, {resized} + {' + '.join(unsure)})")


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
    taps = _taps(x, y, 2 if mode == "linear" else 4)
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
