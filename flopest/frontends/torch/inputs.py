"""Example inputs of a PyTorch capture: shape-only specs, dtype names, and the meta (or real)
tensors made from them; walking the tensors of nested arguments."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import torch
from torch.utils._pytree import tree_map

from ...errors import InputError, did_you_mean
from ...ops import T
from ..keras_backend import on_meta


@dataclass(frozen=True)
class TensorSpec:
    """An example input given by its shape: ``flopest.spec((8, 3, 224, 224))``."""
    shape: tuple
    dtype: object = None


def spec(shape, dtype=None) -> TensorSpec:
    """An example input by shape: whole, non-negative dims (a float such as 2.5 is an error, never
    truncated); `dtype` a torch dtype or its name (None: float32)."""
    dims = shape if isinstance(shape, (tuple, list)) else (shape,)
    out = []
    for d in dims:
        ok = not isinstance(d, bool) and (isinstance(d, int) or (hasattr(d, "__index__") and not isinstance(d, float)))
        if not ok:
            shown = repr(shape) if len(repr(shape)) <= 60 else repr(shape)[:60] + "…"
            raise InputError(f"spec shape {shown}: dim {d!r} is not a whole number; give a tuple of ints, "
                             f"e.g. spec((8, 3, 224, 224))")
        out.append(int(d))
    if any(d < 0 for d in out):
        raise InputError(f"spec shape {tuple(out)} has a negative dim")
    if dtype is not None and not isinstance(dtype, torch.dtype):
        parse_dtype(dtype)   # a bad name is named now, not at capture
    return TensorSpec(tuple(out), dtype)


DTYPES = {"float32": torch.float32, "fp32": torch.float32, "float": torch.float32,
          "float16": torch.float16, "fp16": torch.float16, "half": torch.float16,
          "bfloat16": torch.bfloat16, "bf16": torch.bfloat16, "float64": torch.float64,
          "int64": torch.int64, "long": torch.int64, "int32": torch.int32, "int": torch.int32,
          "int8": torch.int8, "uint8": torch.uint8, "bool": torch.bool}


def parse_dtype(name: str):
    """The torch dtype named `name` (``"bf16"``, ``"int64"``, ...); InputError naming it otherwise."""
    d = DTYPES.get(str(name).lower())
    if d is None:
        raise InputError(f"dtype {name!r} is not known{did_you_mean(name, DTYPES)} "
                         f"(one of {', '.join(DTYPES)})")
    return d


def meta_like(t: torch.Tensor, requires_grad: bool | None = None) -> torch.Tensor:
    """A meta tensor of `t`'s shape and dtype (gradient only for floating/complex dtypes)."""
    m = torch.empty(t.shape, dtype=t.dtype, device="meta")
    rg = t.requires_grad if requires_grad is None else requires_grad
    if rg and (m.is_floating_point() or m.is_complex()):
        m.requires_grad_(True)
    return m


def to_meta_inputs(x, default_dtype):
    """`x` (nested) with specs and tensors replaced by meta tensors."""
    def conv(v):
        if isinstance(v, TensorSpec):
            dt = v.dtype if v.dtype is not None else default_dtype
            if isinstance(dt, str):
                dt = parse_dtype(dt)
            return torch.empty(v.shape, dtype=dt, device="meta")
        if isinstance(v, torch.Tensor):
            return meta_like(v, requires_grad=False)
        return v
    return tree_map(conv, x)


def real_inputs(x, default_dtype):
    """Real CPU tensors for specs (random floats, zero ints) and for meta tensors."""
    def real(v):
        if isinstance(v, TensorSpec):
            dt = parse_dtype(v.dtype) if isinstance(v.dtype, str) else (v.dtype or default_dtype)
            return torch.randn(v.shape, dtype=dt) if dt.is_floating_point else torch.zeros(v.shape, dtype=dt)
        if isinstance(v, torch.Tensor) and v.is_meta:
            return torch.zeros(v.shape, dtype=v.dtype)
        return v
    return tree_map(real, x)


def as_T(x):
    """Tensors (also inside lists and tuples) as T(shape, itemsize) for the lowerings."""
    if isinstance(x, torch.Tensor):
        return T(tuple(int(d) for d in x.shape), x.element_size())
    if isinstance(x, (list, tuple)):
        return type(x)(as_T(y) for y in x) if not hasattr(x, "_fields") else x
    return x


def tensors(x, out: list) -> None:
    """The tensors of an aten call's arguments or results, in order (lists, tuples, dicts)."""
    if isinstance(x, torch.Tensor):
        out.append(x)
    elif isinstance(x, (list, tuple)):
        for y in x:
            tensors(y, out)
    elif isinstance(x, dict):
        for y in x.values():
            tensors(y, out)


def _leaves(x, path: str, out: list, depth: int = 0) -> None:
    """(path, shape) of every tensor leaf (TensorSpec or tensor) of nested mappings, lists and
    tuples, in order."""
    if depth > 64:
        raise InputError(f"the example inputs are nested more than 64 deep at {path}")
    if isinstance(x, TensorSpec):
        out.append((path, tuple(x.shape)))
    elif isinstance(x, torch.Tensor):
        out.append((path, tuple(int(d) for d in x.shape)))
    elif isinstance(x, Mapping):
        for k, v in x.items():
            _leaves(v, f"{path}[{k!r}]", out, depth + 1)
    elif isinstance(x, (list, tuple)):
        for i, v in enumerate(x):
            _leaves(v, f"{path}[{i}]", out, depth + 1)


def examples_per_pass(args=(), kwargs=None) -> tuple:
    """(examples, reason): the examples in one counted pass, read as the leading dim that every
    tensor leaf of `args` and `kwargs` (nested dicts, lists, tuples; TensorSpecs and tensors)
    shares; 0-d leaves are ignored. None, with the reason, when that is ambiguous: the leaves
    disagree, there is no tensor leaf, or only 0-d ones. When known, the reason says how."""
    leaves: list = []
    _leaves(tuple(args) if isinstance(args, (list, tuple)) else (args,), "args", leaves)
    for k, v in (kwargs or {}).items():
        _leaves(v, f"{k}", leaves)
    if not leaves:
        return None, "the example inputs hold no tensor"
    ranked = [(p, s) for p, s in leaves if len(s) >= 1]
    if not ranked:
        return None, f"the example inputs hold only 0-d tensors ({', '.join(p for p, _ in leaves)})"
    dims = {s[0] for _, s in ranked}
    if len(dims) > 1:
        shown = ", ".join(f"{p} {s[0]}" for p, s in ranked[:6]) + (", ..." if len(ranked) > 6 else "")
        return None, f"the example inputs disagree on their leading dim ({shown})"
    n = len(ranked)
    return ranked[0][1][0], ("the leading dim of the example input" if n == 1 else
                             f"the leading dim all {n} example input tensors share")


def seeded(fn, seed: int = 0):
    """fn() with torch's RNG seeded (the caller's RNG state restored after): a factory's random
    example inputs are the same at every run."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return fn()


def sequence_first(module) -> str | None:
    """'name (Type)' of the first submodule of `module` that takes its inputs sequence-first —
    a `batch_first` attribute that is False, PyTorch's convention (nn.RNN, nn.LSTM, nn.GRU,
    nn.Transformer and its layers, nn.MultiheadAttention by default: (sequence, batch, ...)) —
    or None. A model holding one may be fed (sequence, batch, ...) inputs, whose leading dim is
    not the examples."""
    named = getattr(module, "named_modules", None)
    if named is None:
        return None
    for name, m in named():
        if getattr(m, "batch_first", None) is False:
            return f"{name or 'the model'} ({type(m).__name__})"
    return None


def build_on_meta(fn, what: str) -> tuple:
    """(fn(), note): `fn` (a factory, a zoo build) called with torch's default device set to meta,
    so that its modules allocate and initialise no weight (a 70B model is counted in megabytes,
    and nothing is spent in `normal_`). A factory that cannot run there (it loads a checkpoint,
    reads a tensor's value, or pins tensors to the CPU and mixes them with the default device)
    is called again normally; the note says so. Tensors a factory makes on an explicit device
    stay there: the capture turns them into meta twins. Keras (imported on the torch backend)
    builds on its own device: its device scope is set to meta too."""
    try:
        with torch.device("meta"), on_meta():
            return fn(), None
    except (Exception,) as exc:   # the user's code under meta; its real-device run decides
        first = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else type(exc).__name__
        made = fn()
        return made, (f"{what} could not be built on the meta device ({type(exc).__name__}: {first}); it was "
                      f"built with real weights (their memory and initialisation time were spent; a factory "
                      f"that builds its modules from a config, without loading weights, avoids it)")
