"""The one operator registry: shape-only lowerings from a framework operator to cost rows.

A lowering is registered under its ONNX op-type name (``"MatMul"``; ``"com.microsoft:Attention"``
for another domain) with optional PyTorch ``aten`` aliases in the same decorator. It receives a
:class:`Ctx` (input and output shapes, attributes, constant inputs) and returns a list of rows
``(kind, params)`` or ``(kind, params, repeat)``; parameter layouts are in :mod:`flopest.kinds`.
Operators that truly cost nothing are in ``ZERO_COST``; operators whose cost cannot be read off
shapes (it depends on the data) are in ``UNCOSTED`` with the reason, which ``unknown_reason``
gives for every operator the registry cannot cost. Registering a name twice fails at import.
Adding an operator = one function here + one test with the arithmetic in a comment.

PyTorch: the front end names each dispatched op by its overload packet (``aten.addmm``; in-place
forms such as ``aten.add_`` are names of their own). An aten alias is either a name
(``"aten.mm"``: the tensor arguments in order, lists flattened, become the inputs, the tensor
results the outputs) or ``("aten.addmm", adapter)`` where ``adapter(ctx) -> ctx`` reorders
inputs and turns aten arguments (``ctx.args``, with tensors as :class:`T`) into the ONNX
attributes the lowering reads (``rebind``; an absent optional tensor becomes a None input).
Operators with no ONNX counterpart (autograd's backward operators in ``backward.py``, aten-only
activations and losses) are registered under their aten name. PyTorch views are zero-cost
(``movement.py``). ``benchmarks/aten_census.py`` lists what real models dispatch.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Callable

from ..dims import Dim, prod
from ..errors import RegistryError

Lowering = Callable[["Ctx"], list]

REGISTRY: dict[str, Lowering] = {}
ATEN: dict[str, tuple] = {}        # aten alias -> (registry name, adapter or None)
ZERO_COST: set[str] = set()
UNCOSTED: dict[str, str] = {}      # op -> why its cost cannot be read off shapes


class ShapeUnknown(Exception):
    """A lowering needs a shape the front end could not infer; the node is reported uncosted."""


def lowering(*names: str, aten: tuple = ()):
    """Register one function under ONNX op-type `names` (and `aten` aliases)."""

    def deco(fn: Lowering) -> Lowering:
        for n in names:
            if n in REGISTRY or n in ZERO_COST or n in UNCOSTED:
                raise RegistryError(f"operator {n!r} registered twice ({fn.__module__}.{fn.__name__})")
            REGISTRY[n] = fn
        for a in aten:
            alias, adapter = (a, None) if isinstance(a, str) else a
            if alias in ATEN or alias in REGISTRY or alias in ZERO_COST:
                raise RegistryError(f"aten alias {alias!r} registered twice")
            ATEN[alias] = (names[0], adapter)
        return fn

    return deco


def zero_cost(*names: str) -> None:
    for n in names:
        if n in REGISTRY or n in ZERO_COST or n in ATEN or n in UNCOSTED:
            raise RegistryError(f"operator {n!r} registered twice (zero_cost)")
        ZERO_COST.add(n)


def uncosted(why: str, *names: str) -> None:
    """Operators that are known but cannot be costed from shapes: `why` says what their cost
    depends on (it becomes the note of every model that uses them)."""
    for n in names:
        if n in REGISTRY or n in ZERO_COST or n in ATEN or n in UNCOSTED:
            raise RegistryError(f"operator {n!r} registered twice (uncosted)")
        UNCOSTED[n] = why


def unknown_reason(name: str) -> str:
    """Why the registry cannot cost `name` (an ONNX op key or an aten name): the reason of an
    ``UNCOSTED`` operator, else that it has no lowering."""
    if name in UNCOSTED:
        return UNCOSTED[name]
    return "no lowering in flopest's operator registry"


@dataclass(frozen=True)
class T:
    """A tensor argument of an aten operator, as a lowering sees it: shape and element size."""
    shape: tuple
    itemsize: int = 4


@dataclass
class Ctx:
    """What a lowering sees: shapes (tuples of int or Sym; None when unknown), attributes by
    their ONNX names, constant input values (NumPy) where the front end knows them."""

    op: str
    inputs: list
    outputs: list
    attrs: dict = field(default_factory=dict)
    consts: list = field(default_factory=list)
    name: str = ""
    args: tuple = ()      # aten: the operator's arguments, tensors as T (ONNX: empty)
    kwargs: dict = field(default_factory=dict)

    def arg(self, i: int, key: str | None = None, default=None):
        """aten argument by position (or keyword)."""
        if key is not None and key in self.kwargs:
            return self.kwargs[key]
        return self.args[i] if i < len(self.args) else default

    def attr(self, key, default=None):
        return self.attrs.get(key, default)

    def has(self, i: int) -> bool:
        return i < len(self.inputs) and self.inputs[i] is not None

    def inp(self, i: int) -> tuple:
        if i >= len(self.inputs) or self.inputs[i] is None:
            raise ShapeUnknown(f"input {i} of {self.op}")
        return self.inputs[i]

    def out(self, i: int = 0) -> tuple:
        if i >= len(self.outputs) or self.outputs[i] is None:
            raise ShapeUnknown(f"output {i} of {self.op}")
        return self.outputs[i]

    def const(self, i: int):
        return self.consts[i] if i < len(self.consts) else None

    def numel_in(self, i: int) -> Dim:
        return prod(self.inp(i))

    def numel_out(self, i: int = 0) -> Dim:
        return prod(self.out(i))

    def all_in_numel(self) -> Dim:
        """Elements of every present input (for bytes read)."""
        total: Dim = 0
        for s in self.inputs:
            if s is not None:
                total = total + prod(s)
        return total


def tshape(x):
    """Shape of an aten argument given as :class:`T`; None for None or a non-tensor."""
    return tuple(x.shape) if isinstance(x, T) else None


def rebind(c: Ctx, inputs, **attrs) -> Ctx:
    """An adapter's result: `c` with its inputs taken from aten arguments (in the ONNX order,
    None where an optional tensor is absent) and ONNX attributes added."""
    return replace(c, inputs=[tshape(x) if isinstance(x, T) or x is None else x for x in inputs],
                   attrs={**c.attrs, **attrs})


def ints(v, rank: int) -> list:
    """An aten int-list argument (``kernel_size=2`` or ``[2]`` or ``[2, 2]``) as `rank` ints."""
    v = [v] if isinstance(v, int) else list(v or [])
    if len(v) == 1 and rank > 1:
        v = v * rank
    return v


def lookup(name: str):
    """(lowering or None, is_zero_cost) for a registry name or aten alias."""
    if name in ATEN:
        name = ATEN[name][0]
    return REGISTRY.get(name), name in ZERO_COST


def lookup_aten(name: str):
    """(lowering or None, adapter or None, registry name, is_zero_cost) for an aten op name
    (``aten.addmm``); an aten name registered directly has no adapter."""
    if name in ATEN:
        reg, adapter = ATEN[name]
        return REGISTRY.get(reg), adapter, reg, reg in ZERO_COST
    return REGISTRY.get(name), None, name, name in ZERO_COST


def _load_families() -> None:
    from . import attention, conv, elementwise, linalg, movement, norm, pool, rnn  # noqa: F401
    from . import signal, strings  # noqa: F401
    from . import backward  # noqa: F401  (autograd's operators, aten names)


_load_families()
