"""The one operator registry: shape-only lowerings from a framework operator to cost rows.

A lowering is registered under its ONNX op-type name (``"MatMul"``; ``"com.microsoft:Attention"``
for another domain) with optional PyTorch ``aten`` aliases in the same decorator. It receives a
:class:`Ctx` (input and output shapes, attributes, constant inputs) and returns a list of rows
``(kind, params)`` or ``(kind, params, repeat)``; parameter layouts are in :mod:`flopest.kinds`.
Operators that truly cost nothing are in ``ZERO_COST``. Registering a name twice fails at import.
Adding an operator = one function here + one test with the arithmetic in a comment.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from ..dims import Dim, prod
from ..errors import RegistryError

Lowering = Callable[["Ctx"], list]

REGISTRY: dict[str, Lowering] = {}
ATEN: dict[str, str] = {}          # aten alias -> registry name
ZERO_COST: set[str] = set()


class ShapeUnknown(Exception):
    """A lowering needs a shape the front end could not infer; the node is reported uncosted."""


def lowering(*names: str, aten: tuple = ()):
    """Register one function under ONNX op-type `names` (and `aten` aliases)."""

    def deco(fn: Lowering) -> Lowering:
        for n in names:
            if n in REGISTRY or n in ZERO_COST:
                raise RegistryError(f"operator {n!r} registered twice ({fn.__module__}.{fn.__name__})")
            REGISTRY[n] = fn
        for a in aten:
            if a in ATEN:
                raise RegistryError(f"aten alias {a!r} registered twice")
            ATEN[a] = names[0]
        return fn

    return deco


def zero_cost(*names: str) -> None:
    for n in names:
        if n in REGISTRY or n in ZERO_COST:
            raise RegistryError(f"operator {n!r} registered twice (zero_cost)")
        ZERO_COST.add(n)


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


def lookup(name: str):
    """(lowering or None, is_zero_cost) for a registry name or aten alias."""
    name = ATEN.get(name, name)
    return REGISTRY.get(name), name in ZERO_COST


def _load_families() -> None:
    from . import attention, conv, elementwise, linalg, movement, norm, pool, rnn  # noqa: F401


_load_families()
