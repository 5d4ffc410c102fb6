"""Replaying meta kernels from their arguments' metadata.

On meta tensors an operator's result depends only on its arguments' metadata, and torch's meta
kernels are mostly Python (hundreds of µs for an elementwise op, up to a millisecond for a batch
norm): a call whose arguments were seen before (a recurrence's steps, repeated blocks) replays
the result's metadata instead of running the kernel; pointwise operators and batch norm by a
rule that the kernel itself confirmed once for the same dtypes and ranks. FakeTensor and
real-tensor runs always run the kernels (their arguments have no key).
"""

from __future__ import annotations

import torch


class NoKey(Exception):
    """An argument whose metadata does not determine a meta kernel's result."""


_KEY_TYPES = (int, float, bool, str, type(None), torch.dtype, torch.device, torch.layout,
              torch.memory_format)
_PLAIN = (torch.Tensor, torch.nn.Parameter)


def _key(x):
    """A hashable description of an aten argument's metadata (meta tensors by shape, strides
    and dtype; plain values as they are); raises NoKey for anything else (FakeTensors, real
    tensors, generators, symbolic sizes). A meta kernel's result does not depend on its
    arguments' storage offsets (a recurrence's steps are slices at different offsets)."""
    if isinstance(x, torch.Tensor):
        if type(x) not in _PLAIN or not x.is_meta or x.layout is not torch.strided:
            raise NoKey
        return (tuple(x.shape), x.stride(), x.dtype)
    if isinstance(x, (list, tuple)):
        return (type(x) is list,) + tuple(_key(y) for y in x)
    if type(x) in (int, float, bool):   # by type too: 1 == 1.0 == True, but full() differs
        return (type(x), x)
    if type(x) in _KEY_TYPES:
        return x
    raise NoKey


def _schema_kind(func):
    """How a meta kernel's result may be replayed from its arguments' metadata: "fresh" (every
    result a new tensor: replayed by empty_strided), "inplace" (the one result is the mutated
    first argument: replayed by returning it), or None (views, out= forms, anything else)."""
    schema = func._schema
    args, rets = schema.arguments, schema.returns
    if not rets:
        return None
    if all(a.alias_info is None for a in args) and all(r.alias_info is None for r in rets):
        if all(str(r.type) in ("Tensor", "List[Tensor]") for r in rets):
            return "fresh"
        return None
    if (len(rets) == 1 and str(rets[0].type) == "Tensor" and rets[0].alias_info is not None
            and rets[0].alias_info.is_write and args and args[0].alias_info is not None
            and args[0].alias_info.is_write and all(a.alias_info is None for a in args[1:])):
        return "inplace"
    return None


def _spec(out):
    """The metadata of a fresh result (None when it cannot be replayed)."""
    if isinstance(out, torch.Tensor):
        if type(out) not in _PLAIN or not out.is_meta or out.storage_offset() != 0:
            return None
        return (tuple(out.shape), out.stride(), out.dtype)
    if isinstance(out, (list, tuple)):
        specs = [_NONE if o is None else _spec(o) for o in out]
        if any(sp is None for sp in specs):
            return None
        return (type(out),) + tuple(specs)
    return None


_NONE = ("none",)   # an undefined result inside a tuple (a gradient not asked for)


def _replay(spec):
    if spec is None or spec is _NONE or spec == _NONE:
        return None
    if isinstance(spec[0], type):
        return spec[0](_replay(sp) for sp in spec[1:])
    return torch.empty_strided(spec[0], spec[1], dtype=spec[2], device="meta")


_ROW_MAJOR: dict = {}


def _row_major(shape: tuple) -> tuple:
    """The strides of a contiguous tensor of `shape` as torch.empty gives them (size-1 dims
    included: a channels-last (N, C, 1, 1) tensor is contiguous but has other strides)."""
    st = _ROW_MAJOR.get(shape)
    if st is None:
        acc, out = 1, []
        for d in reversed(shape):
            out.append(acc)
            acc *= max(d, 1)
        st = tuple(reversed(out))
        if len(_ROW_MAJOR) < 4096:
            _ROW_MAJOR[shape] = st
    return st


def _gkey(x):
    """Like _key, for a pointwise operator's rule that holds for every shape: contiguous meta
    tensors by dtype and rank, numbers by type; raises NoKey for anything else."""
    if isinstance(x, torch.Tensor):
        if (type(x) not in _PLAIN or not x.is_meta or x.layout is not torch.strided
                or x.stride() != _row_major(tuple(x.shape))):
            raise NoKey
        return (x.dtype, x.dim())
    if type(x) in (int, float):
        return type(x)
    if type(x) in _KEY_TYPES:   # bools, strings (gelu's approximate), None, dtypes
        return (x,)
    if type(x) in (list, tuple):   # output masks, lists of sizes
        return (type(x),) + tuple(_gkey(y) for y in x)
    raise NoKey


def _like(t):
    return (tuple(t.shape), t.stride(), t.dtype)


def _channels(t):
    return ((t.shape[1],), (1,), t.dtype)


# Operators outside torch's pointwise tag that are elementwise all the same (autograd's
# activation gradients): the pointwise rule below applies to them.
_ELEMENTWISE = {"aten::hardtanh_backward", "aten::hardswish_backward", "aten::hardsigmoid_backward",
                "aten::leaky_relu_backward", "aten::elu_backward", "aten::softplus_backward",
                "aten::mish_backward", "aten::logit_backward"}

# Result metadata of a few costly non-pointwise meta kernels as a function of the arguments'
# metadata: used for a signature (dtypes, ranks, flags) only after the kernel itself gave the
# same answer for that signature once.
_SHAPE_RULES = {
    "aten::native_batch_norm": lambda a: (tuple, _like(a[0]), _channels(a[0]), _channels(a[0])),
    "aten::native_batch_norm_backward": lambda a: (
        tuple, _like(a[1]), _channels(a[1]) if a[9][1] else None, _channels(a[1]) if a[9][2] else None),
}


def _broadcast(args) -> tuple | None:
    """The broadcast shape of the tensors among `args` (None when they do not broadcast)."""
    shape: list = []
    for a in args:
        if isinstance(a, torch.Tensor):
            s = a.shape
            n = len(s)
            if n > len(shape):
                shape = [1] * (n - len(shape)) + shape
            off = len(shape) - n
            for i in range(n):
                d, e = shape[off + i], s[i]
                if d == e or e == 1:
                    continue
                if d == 1:
                    shape[off + i] = e
                else:
                    return None
    return tuple(shape)


class Replayer:
    """Runs aten calls, replaying a result from its arguments' metadata where that is exact."""

    def __init__(self):
        self.ops: dict = {}       # func -> (schema kind, pointwise?, shape rule, name)
        self.results: dict = {}   # exact argument metadata -> result spec (True: in place)
        self.rules: dict = {}     # signature -> pointwise dtype / shape rule confirmed

    def _op(self, func):
        kind = _schema_kind(func)
        pointwise = kind is not None and (torch.Tag.pointwise in func.tags
                                          or func._schema.name in _ELEMENTWISE)
        rule = _SHAPE_RULES.get(func._schema.name) if kind == "fresh" else None
        info = self.ops[func] = (kind, pointwise, rule, str(func.overloadpacket))
        return info

    def call(self, func, args, kwargs):
        """(result, key, name): `func`'s result (replayed or computed), the key of its
        arguments' metadata (None when they have none: the cost rows cannot be reused) and the
        operator's name (its overload packet, ``aten.addmm``)."""
        info = self.ops.get(func)
        if info is None:
            info = self._op(func)
        kind, pointwise, rule, name = info
        key = None
        if kind is not None:
            try:
                key = (func, _key(args), _key(tuple(kwargs.items())) if kwargs else ())
            except NoKey:
                key = None
        out = None
        done = False
        gkey = predicted = None
        if key is not None:
            spec = self.results.get(key)
            if spec is not None:
                out = args[0] if kind == "inplace" else _replay(spec)
                done = True
            elif pointwise:
                out, done, gkey = self._pointwise(func, kind, args, kwargs)
            elif rule is not None:
                out, done, gkey, predicted = self._ruled(func, rule, args, kwargs)
        if not done:
            out = func(*args, **kwargs)
            if gkey is not None:
                if pointwise:
                    self._learn(gkey, kind, args, out)
                else:
                    self.rules[gkey] = predicted is not None and _spec(out) == predicted
            if key is not None:
                if kind == "inplace":
                    if out is args[0] and _key(args[0]) == key[1][1]:  # metadata unchanged
                        self.results[key] = True
                else:
                    spec = _spec(out)
                    if spec is not None and not any(o is a for o in (out if isinstance(out, (list, tuple))
                                                                     else (out,)) for a in args):
                        self.results[key] = spec
        return out, key, name

    # A pointwise operator on contiguous tensors gives a contiguous result of their broadcast
    # shape, with a dtype set by the arguments' dtypes, ranks and number types: the first call
    # runs the kernel and checks that it did so; later calls with other shapes skip the kernel.
    # An in-place one returns its first argument (when the others broadcast to it).

    def _pointwise(self, func, kind, args, kwargs):
        try:
            gkey = (func, tuple(_gkey(a) for a in args),
                    tuple((k, _gkey(v)) for k, v in kwargs.items()) if kwargs else ())
        except NoKey:
            return None, False, None
        rule = self.rules.get(gkey)
        if rule is None:
            return None, False, gkey
        shape = _broadcast(args)
        if shape is None:
            return None, False, gkey
        if kind == "inplace":
            if shape != tuple(args[0].shape):
                return None, False, gkey
            return args[0], True, gkey
        return torch.empty(shape, dtype=rule, device="meta"), True, gkey

    def _ruled(self, func, rule, args, kwargs):
        try:
            gkey = (func, tuple(_gkey(a) for a in args),
                    tuple((k, _gkey(v)) for k, v in kwargs.items()) if kwargs else ())
            predicted = rule(args)
        except (NoKey, IndexError, TypeError):
            return None, False, None, None
        predicted = (predicted[0],) + tuple(_NONE if p is None else p for p in predicted[1:])
        if self.rules.get(gkey):
            return _replay(predicted), True, gkey, predicted
        return None, False, (None if gkey in self.rules else gkey), predicted

    def _learn(self, gkey, kind, args, out):
        shape = _broadcast(args)
        if shape is None:
            return
        if kind == "inplace":
            if out is args[0] and tuple(out.shape) == shape:
                self.rules[gkey] = True
        elif (type(out) in _PLAIN and out.is_meta and tuple(out.shape) == shape
              and out.stride() == _row_major(shape) and out.storage_offset() == 0
              and not any(out is a for a in args)):
            self.rules[gkey] = out.dtype
