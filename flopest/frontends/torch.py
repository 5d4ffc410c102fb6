"""PyTorch front end: capture a ``torch.nn.Module`` into an OpTable on meta tensors.

Parameters and buffers are swapped for meta tensors through ``torch.func.functional_call``
(no weight is allocated, no arithmetic is done, the user's module is left as it was), and a
``TorchDispatchMode`` records every aten operator with its tensor shapes. Each operator goes
through the same registry as ONNX nodes (aten aliases on the ONNX-named lowerings). Module
paths come from ``torch.utils.module_tracker.ModuleTracker``; training adds autograd's
backward operators (tagged backward) and the optimizer step (per parameter).

``F.scaled_dot_product_attention`` is swapped, during the capture, for a stand-in that records
one fused attention row; its decomposition (which differs by backend) is then not recorded, so
attention is counted once on every backend.

torch's meta kernels are mostly Python (up to a millisecond for a batch norm), and a recurrence or
a stack of blocks calls them with the same shapes again and again: `_Recorder` replays a result
from its arguments' metadata (exact repeats; pointwise operators and batch norm by a rule that the
kernel itself confirmed once for the same dtypes and ranks), and reuses an operator's cost rows
for a repeated call. FakeTensor and real-tensor runs always run the kernels.
"""

from __future__ import annotations

import contextlib
import threading
from collections import Counter
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten, tree_map
from torch.utils.module_tracker import ModuleTracker

from .. import kinds
from ..errors import FlopestError, InputError
from ..ops import Ctx, ShapeUnknown, T, lookup_aten
from ..optable import TableBuilder


class ModelRunError(FlopestError, RuntimeError):
    """The user's model raised while flopest ran it; the message names the module."""


class DataDependentError(FlopestError, RuntimeError):
    """The model's control flow depends on tensor values, which meta tensors do not have."""


@dataclass(frozen=True)
class TensorSpec:
    """An example input given by its shape: ``flopest.spec((8, 3, 224, 224))``."""
    shape: tuple
    dtype: object = None


def spec(shape, dtype=None) -> TensorSpec:
    shape = tuple(int(d) for d in (shape if isinstance(shape, (tuple, list)) else (shape,)))
    if any(d < 0 for d in shape):
        raise InputError(f"spec shape {shape} has a negative dim")
    return TensorSpec(shape, dtype)


# optimizer step FLOPs per trainable parameter element, and elements read / written
OPTIMIZERS = {
    # p -= lr·g
    "sgd": (2, 2, 1, "p −= lr·g: mul, sub"),
    # buf = μ·buf + g; p −= lr·buf
    "sgd-momentum": (4, 3, 2, "buf = μ·buf + g (2); p −= lr·buf (2)"),
    # m = β1·m + (1−β1)·g (3); v = β2·v + (1−β2)·g² (4); m̂, v̂ bias corrections (2);
    # p −= lr·m̂/(√v̂ + ε) (5)
    "adam": (14, 4, 3, "m update 3, v update 4, bias corrections 2, step 5 (sqrt, add, div, mul, sub)"),
    "adamw": (16, 4, 3, "adam's 14 + decoupled weight decay p −= lr·λ·p (2)"),
}


@dataclass
class Captured:
    table: object
    unknown: Counter
    notes: list
    params: int
    trainable: int
    nodes: int
    costed: int
    outputs: object = None
    extra: dict = field(default_factory=dict)


def _meta_like(t: torch.Tensor, requires_grad: bool | None = None) -> torch.Tensor:
    m = torch.empty(t.shape, dtype=t.dtype, device="meta")
    rg = t.requires_grad if requires_grad is None else requires_grad
    if rg and (m.is_floating_point() or m.is_complex()):
        m.requires_grad_(True)
    return m


def _to_meta_inputs(x, default_dtype):
    def conv(v):
        if isinstance(v, TensorSpec):
            dt = v.dtype if v.dtype is not None else default_dtype
            if isinstance(dt, str):
                dt = _dtype(dt)
            return torch.empty(v.shape, dtype=dt, device="meta")
        if isinstance(v, torch.Tensor):
            return _meta_like(v, requires_grad=False)
        return v
    return tree_map(conv, x)


_DTYPES = {"float32": torch.float32, "fp32": torch.float32, "float": torch.float32,
           "float16": torch.float16, "fp16": torch.float16, "half": torch.float16,
           "bfloat16": torch.bfloat16, "bf16": torch.bfloat16, "float64": torch.float64,
           "int64": torch.int64, "long": torch.int64, "int32": torch.int32, "int": torch.int32,
           "int8": torch.int8, "uint8": torch.uint8, "bool": torch.bool}


def _dtype(name: str):
    from ..errors import did_you_mean
    d = _DTYPES.get(str(name).lower())
    if d is None:
        raise InputError(f"dtype {name!r} is not known{did_you_mean(name, _DTYPES)} "
                         f"(one of {', '.join(_DTYPES)})")
    return d


def _as_T(x):
    """Tensors (also inside lists and tuples) as T(shape, itemsize) for the lowerings."""
    if isinstance(x, torch.Tensor):
        return T(tuple(int(d) for d in x.shape), x.element_size())
    if isinstance(x, (list, tuple)):
        return type(x)(_as_T(y) for y in x) if not hasattr(x, "_fields") else x
    return x


def _tensors(x, out: list) -> None:
    """The tensors of an aten call's arguments or results, in order (lists, tuples, dicts)."""
    if isinstance(x, torch.Tensor):
        out.append(x)
    elif isinstance(x, (list, tuple)):
        for y in x:
            _tensors(y, out)
    elif isinstance(x, dict):
        for y in x.values():
            _tensors(y, out)


class _NoKey(Exception):
    pass


_KEY_TYPES = (int, float, bool, str, type(None), torch.dtype, torch.device, torch.layout,
              torch.memory_format)
_PLAIN = (torch.Tensor, torch.nn.Parameter)


def _key(x):
    """A hashable description of an aten argument's metadata (meta tensors by shape, strides
    and dtype; plain values as they are); raises _NoKey for anything else (FakeTensors, real
    tensors, generators, symbolic sizes). A meta kernel's result does not depend on its
    arguments' storage offsets (a recurrence's steps are slices at different offsets)."""
    if isinstance(x, torch.Tensor):
        if type(x) not in _PLAIN or not x.is_meta or x.layout is not torch.strided:
            raise _NoKey
        return (tuple(x.shape), x.stride(), x.dtype)
    if isinstance(x, (list, tuple)):
        return (type(x) is list,) + tuple(_key(y) for y in x)
    if type(x) in (int, float, bool):   # by type too: 1 == 1.0 == True, but full() differs
        return (type(x), x)
    if type(x) in _KEY_TYPES:
        return x
    raise _NoKey


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
    tensors by dtype and rank, numbers by type; raises _NoKey for anything else."""
    if isinstance(x, torch.Tensor):
        if (type(x) not in _PLAIN or not x.is_meta or x.layout is not torch.strided
                or x.stride() != _row_major(tuple(x.shape))):
            raise _NoKey
        return (x.dtype, x.dim())
    if type(x) in (int, float):
        return type(x)
    if type(x) in _KEY_TYPES:   # bools, strings (gelu's approximate), None, dtypes
        return (x,)
    if type(x) in (list, tuple):   # output masks, lists of sizes
        return (type(x),) + tuple(_gkey(y) for y in x)
    raise _NoKey


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


class _Recorder(TorchDispatchMode):
    """Records every aten call. On meta tensors an operator's result depends only on its
    arguments' metadata, and torch's meta kernels are mostly Python (hundreds of µs for an
    elementwise op): a call whose arguments were seen before (a recurrence's steps, repeated
    blocks) replays the result's metadata instead of running the kernel, and reuses the
    operator's cost rows."""

    def __init__(self, cap: "_Capture"):
        super().__init__()
        self.cap = cap
        self.paused = 0
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

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        info = self.ops.get(func)
        if info is None:
            info = self._op(func)
        kind, pointwise, rule, name = info
        key = None
        if kind is not None:
            try:
                key = (func, _key(args), _key(tuple(kwargs.items())) if kwargs else ())
            except _NoKey:
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
        if not self.paused and not name.startswith("prim."):   # prim.device & co: metadata queries
            self.cap.record(name, args, kwargs, out, key=key)
        return out

    # A pointwise operator on contiguous tensors gives a contiguous result of their broadcast
    # shape, with a dtype set by the arguments' dtypes, ranks and number types: the first call
    # runs the kernel and checks that it did so; later calls with other shapes skip the kernel.
    # An in-place one returns its first argument (when the others broadcast to it).

    def _pointwise(self, func, kind, args, kwargs):
        try:
            gkey = (func, tuple(_gkey(a) for a in args),
                    tuple((k, _gkey(v)) for k, v in kwargs.items()) if kwargs else ())
        except _NoKey:
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
        except (_NoKey, IndexError, TypeError):
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


_sdpa_lock = threading.Lock()
_sdpa_users = 0
_sdpa_orig = None
_tls = threading.local()


def _sdpa_counted(*args, **kwargs):
    """Stands in for F.scaled_dot_product_attention during a capture: one fused attention row,
    and its backend-dependent decomposition is not recorded. Outside a capture (another thread)
    it is the original function."""
    cap = getattr(_tls, "cap", None)
    if cap is None or cap.recorder is None:
        return _sdpa_orig(*args, **kwargs)
    cap.record("aten.scaled_dot_product_attention", args, kwargs, None, fused=True)
    cap.recorder.paused += 1
    try:
        return _sdpa_orig(*args, **kwargs)
    finally:
        cap.recorder.paused -= 1


_RNN_GATES = {"LSTM": 4, "RNN": 1}
_rnn_orig: dict = {}
_RNN_CLASSES = (torch.nn.LSTM, torch.nn.RNN)


def _rnn_counted(self, input, hx=None):
    """Stands in for nn.LSTM / nn.RNN.forward in a forward-only meta capture: one RNN
    row per layer (the ONNX lowering's cost: the same FLOPs as the step-by-step recurrence,
    the bytes of a fused kernel) and meta outputs of the right shapes, instead of stepping
    through the recurrence op by op. Anything else (training, FakeTensors, real tensors,
    PackedSequence, proj_size, subclasses, another thread) runs the original forward."""
    cls = type(self)
    orig = _rnn_orig.get(cls) or _rnn_orig[torch.nn.LSTM if isinstance(self, torch.nn.LSTM) else torch.nn.RNN]
    cap = getattr(_tls, "cap", None)
    if (cap is None or cap.recorder is None or cap.training or cls not in _RNN_CLASSES
            or type(input) is not torch.Tensor or not input.is_meta or input.dim() not in (2, 3)
            or getattr(self, "proj_size", 0) or cap.recorder.paused):
        return orig(self, input, hx)
    from ..ops.rnn import _ELEM
    mode = "LSTM" if cls is torch.nn.LSTM else "RNN"
    gates, dirs, hidden = _RNN_GATES[mode], 2 if self.bidirectional else 1, self.hidden_size
    batched = input.dim() == 3
    if batched:
        seq, batch = (input.shape[1], input.shape[0]) if self.batch_first else (input.shape[0], input.shape[1])
    else:
        seq, batch = input.shape[0], 1
    elem = gates * (3 if self.bias else 1) + _ELEM[mode]
    name = f"aten.{mode.lower()}"
    cap.nodes += 1
    cap.index += 1
    module = cap.module_path()
    node = f"{module or '(top)'}/{name}#{cap.index}"
    phase = cap.phase_of(cap)
    for layer in range(self.num_layers):
        width = self.input_size if layer == 0 else hidden * dirs
        cap.b.add(kinds.RNN, [int(seq), int(batch), int(width), hidden, gates, dirs, elem],
                  elsize=input.element_size(), op=name, node=node, module=module, phase=phase)
    cap.costed += 1
    cap.recorder.paused += 1
    try:
        def meta(*shape):
            return torch.empty(shape, dtype=input.dtype, device="meta")
        if batched:
            out = meta(batch, seq, dirs * hidden) if self.batch_first else meta(seq, batch, dirs * hidden)
            h = (self.num_layers * dirs, batch, hidden)
        else:
            out = meta(seq, dirs * hidden)
            h = (self.num_layers * dirs, hidden)
        return (out, (meta(*h), meta(*h))) if mode == "LSTM" else (out, meta(*h))
    finally:
        cap.recorder.paused -= 1


@contextlib.contextmanager
def _SDPA(cap):
    """Route F.scaled_dot_product_attention through `_sdpa_counted` while capturing (a module
    attribute swapped under a lock and a user count: cheaper than a TorchFunctionMode, which
    would see every torch call; code that imported the function by name keeps the original,
    and its decomposition is then counted operator by operator)."""
    global _sdpa_users, _sdpa_orig
    with _sdpa_lock:
        if _sdpa_users == 0:
            _sdpa_orig = F.scaled_dot_product_attention
            F.scaled_dot_product_attention = _sdpa_counted
            for cls in (torch.nn.LSTM, torch.nn.RNN):   # GRU: torch's reset gate is not ONNX's default
                _rnn_orig[cls] = cls.forward
                cls.forward = _rnn_counted
        _sdpa_users += 1
    prev = getattr(_tls, "cap", None)
    _tls.cap = cap
    try:
        yield
    finally:
        _tls.cap = prev
        with _sdpa_lock:
            _sdpa_users -= 1
            if _sdpa_users == 0:
                F.scaled_dot_product_attention = _sdpa_orig
                for cls, fwd in _rnn_orig.items():
                    cls.forward = fwd


class _Capture:
    def __init__(self, root_name: str, phase_of):
        self.b = TableBuilder()
        self.unknown = Counter()
        self.notes: list = []
        self._noted: set = set()
        self.nodes = 0
        self.costed = 0
        self.tracker = None
        self.recorder = None
        self.root = root_name
        self.phase_of = phase_of
        self.index = 0
        self.current_phase = kinds.FORWARD
        self._lookup: dict = {}
        self._rows: dict = {}
        self.training = False

    def note(self, text):
        if text not in self._noted:
            self._noted.add(text)
            self.notes.append(text)

    def module_path(self) -> str:
        parents = self.tracker.parents if self.tracker is not None else {"Global"}
        best = ""
        for p in parents:
            if p != "Global" and len(p) > len(best):
                best = p
        if best == self.root:
            return ""
        if best.startswith(self.root + "."):
            return best[len(self.root) + 1:]
        return best

    def record(self, name: str, args, kwargs, out, fused: bool = False, key=None) -> None:
        self.nodes += 1
        self.index += 1
        phase = self.phase_of(self)
        module = self.module_path()
        lk = self._lookup.get(name)
        if lk is None:
            lk = self._lookup[name] = lookup_aten(name)
        fn, adapter, reg, free = lk
        node = f"{module or '(top)'}/{name}#{self.index}"
        if free:   # views and allocations: no sizes needed
            self.b.add(kinds.FREE, [], elsize=4, op=name, node=node, module=module, phase=phase)
            self.costed += 1
            return
        cached = self._rows.get(key) if key is not None else None
        if cached is None:
            cached = self._cost(name, args, kwargs, out, fn, adapter, reg, node)
            if key is not None:
                self._rows[key] = cached
        es, eo, rows = cached
        if rows is None:
            self.unknown[name] += 1
            return
        for r in rows:
            self.b.add(r[0], r[1], elsize=es, outsize=eo, op=name, node=node, module=module,
                       phase=phase, repeat=r[2] if len(r) > 2 else 1)
        self.costed += 1

    def _cost(self, name, args, kwargs, out, fn, adapter, reg, node):
        """(input element size, output element size, cost rows or None when not costed): a
        function of the arguments' shapes and values only, reused for a repeated call."""
        flat_in: list = []
        _tensors(args, flat_in)
        _tensors(kwargs, flat_in)
        flat_out: list = []
        _tensors(out, flat_out)
        es = flat_in[0].element_size() if flat_in else (flat_out[0].element_size() if flat_out else 4)
        eo = flat_out[0].element_size() if flat_out else es
        if fn is None:
            return es, eo, None
        ctx = Ctx(op=reg, inputs=[tuple(int(d) for d in t.shape) for t in flat_in],
                  outputs=[tuple(int(d) for d in t.shape) for t in flat_out],
                  args=tuple(_as_T(a) for a in args), kwargs={k: _as_T(v) for k, v in kwargs.items()},
                  name=node)
        try:
            if adapter is not None:
                ctx = adapter(ctx)
            rows = fn(ctx)
        except (ShapeUnknown, TypeError, ValueError, IndexError, KeyError, ZeroDivisionError,
                AttributeError) as exc:
            self.note(f"{name}: could not be costed ({type(exc).__name__}: {exc})")
            return es, eo, None
        return es, eo, [tuple(r) for r in rows]


def _loss_of(output):
    tensors = [t for t in tree_flatten(output)[0]
               if isinstance(t, torch.Tensor) and t.requires_grad and t.is_floating_point()]
    if not tensors:
        raise InputError("training=True needs an output that depends on the parameters; the model's "
                         "outputs carry no gradient (give loss_fn=...)")
    loss = tensors[0].sum()
    for t in tensors[1:]:
        loss = loss + t.sum()
    return loss


def _outputs_of(obj):
    # transformers' ModelOutput is a dict subclass: pytree flattens it
    return obj


_DATA_DEPENDENT = ("meta tensor", "data-dependent", "DataDependent", "item()", "cannot be called on meta",
                   "Cannot copy out of meta", "nonzero")


def capture(module, args=(), kwargs=None, *, training: bool = False, loss_fn=None,
            optimizer: str | None = None, checkpointing: bool = False, materialize: bool = False,
            dtype=None) -> Captured:
    """Record the forward (and with training, backward and optimizer) cost of `module`.

    Runs on meta tensors; when the model asks a meta tensor for a value (``mask.all()`` to skip
    building an attention mask, as transformers does), it is run again on FakeTensors, which
    libraries recognise as tracing and for which they take their value-free path (the one
    ``torch.compile`` uses). Only a model that still needs values needs ``materialize``."""
    if not isinstance(module, torch.nn.Module):
        raise InputError(f"expected a torch.nn.Module, got {type(module).__name__!r}; pass the model "
                         f"(or a factory returning one)")
    kwargs = dict(kwargs or {})
    if optimizer is not None and optimizer not in OPTIMIZERS:
        from ..errors import did_you_mean
        raise InputError(f"optimizer {optimizer!r} is not one of {', '.join(OPTIMIZERS)}"
                         f"{did_you_mean(optimizer, OPTIMIZERS)}")
    default_dtype = dtype if dtype is not None else torch.get_default_dtype()
    modes = {m: m.training for m in module.modules()}
    named_params = dict(module.named_parameters())
    params_total = sum(p.numel() for p in named_params.values())
    trainable = sum(p.numel() for p in named_params.values() if p.requires_grad)
    try:
        try:
            cap = _run(module, args, kwargs, training, loss_fn, default_dtype, "meta")
        except _NeedsValues:
            try:
                cap = _run(module, args, kwargs, training, loss_fn, default_dtype, "fake")
            except _NeedsValues as exc:
                if materialize:
                    _check_materialize(module)
                    cap = _run(module, args, kwargs, training, loss_fn, default_dtype, "real")
                    cap.note("run on real CPU tensors (materialize=True): the count is that of these "
                             "input values")
                    return _finish(cap, params_total, trainable, training, optimizer, checkpointing)
                raise DataDependentError(
                    f"module {exc.path or '(top)'!r} needs tensor values that meta tensors do not have "
                    f"({exc.msg}); pass materialize=True (CLI --materialize) to run it on real CPU "
                    f"tensors") from None
            cap.note("run on FakeTensors: the model asked a meta tensor for a value (such as "
                     "`mask.all()`), and takes its tracing path on fake ones")
    finally:
        for m, t in modes.items():
            m.training = t
    return _finish(cap, params_total, trainable, training, optimizer, checkpointing)


class _NeedsValues(Exception):
    def __init__(self, path, msg):
        super().__init__(msg)
        self.path = path
        self.msg = msg


def _run(module, args, kwargs, training, loss_fn, default_dtype, mode: str) -> "_Capture":
    """One capture: mode "meta" (default), "fake" (FakeTensors) or "real" (CPU tensors)."""
    root_name = type(module).__name__

    def phase_of(cap):
        return kinds.BACKWARD if (cap.tracker is not None and cap.tracker.is_bw) else cap.current_phase

    cap = _Capture(root_name, phase_of)
    recorder = _Recorder(cap)
    cap.recorder = recorder
    stack: list = []

    def pre(mod, inp):
        stack.append(mod)

    def post(mod, inp, out):
        if stack:
            stack.pop()

    names = {m: n for n, m in module.named_modules(remove_duplicate=False)}
    fake_mode = contextlib.nullcontext()
    if mode == "fake":
        from torch._subclasses.fake_tensor import FakeTensorMode
        fake_mode = FakeTensorMode()
    elif mode == "real":   # same seed every time, and the user's RNG state left as it was
        fake_mode = torch.random.fork_rng(devices=[])
    h1 = torch.nn.modules.module.register_module_forward_pre_hook(pre)
    h2 = torch.nn.modules.module.register_module_forward_hook(post)
    margs = mkwargs = ()
    try:
        module.train(training)
        with fake_mode:
            if mode == "real":
                torch.manual_seed(0)
                state = {n: p.detach().clone().requires_grad_(training and p.requires_grad)
                         for n, p in module.named_parameters()}
                state.update({n: b.detach().clone() for n, b in module.named_buffers()})
                margs = _real_inputs(tuple(args), default_dtype)
                mkwargs = _real_inputs(dict(kwargs), default_dtype)
            else:
                state = {n: _meta_like(p, requires_grad=training and p.requires_grad)
                         for n, p in module.named_parameters()}
                state.update({n: _meta_like(b, requires_grad=False) for n, b in module.named_buffers()})
                margs = _to_meta_inputs(tuple(args), default_dtype)
                mkwargs = _to_meta_inputs(kwargs, default_dtype)
            cap.training = training
            with ModuleTracker() as tracker, _SDPA(cap), recorder:
                cap.tracker = tracker
                out = torch.func.functional_call(module, state, margs, mkwargs, strict=False,
                                                 tie_weights=True)
                if training:
                    loss = None
                    if loss_fn is not None:   # the user's loss is training work: counted
                        loss = loss_fn(out)
                    if loss is None:           # the default sum is flopest's harness: not counted
                        # (a loss_fn returning None asks for it too)
                        recorder.paused += 1
                        try:
                            loss = _loss_of(out)
                        finally:
                            recorder.paused -= 1
                    if not isinstance(loss, torch.Tensor) or loss.numel() != 1:
                        raise InputError("loss_fn must return a scalar tensor")
                    loss.backward()
    except FlopestError:
        raise
    except Exception as exc:  # the user's model raised
        path = names.get(stack[-1], "") if stack else ""
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if any(k in str(exc) for k in _DATA_DEPENDENT) or any(
                k in type(exc).__name__ for k in ("DataDependent", "DynamicOutputShape")):
            raise _NeedsValues(path, f"{type(exc).__name__}: {msg}") from None
        shapes = ", ".join(str(tuple(t.shape)) for t in tree_flatten((margs, mkwargs))[0]
                           if isinstance(t, torch.Tensor))
        raise ModelRunError(f"the model raised in module {path or '(top)'!r} "
                            f"({type(stack[-1] if stack else module).__name__}): "
                            f"{type(exc).__name__}: {msg} — example input shapes: {shapes}") from None
    finally:
        h1.remove()
        h2.remove()
    return cap


class _Materialize(Exception):
    pass


MATERIALIZE_LIMIT_BYTES = 2 * 2**30


def _real_inputs(x, default_dtype):
    """Real CPU tensors for specs (random floats, zero ints) and for meta tensors."""
    def real(v):
        if isinstance(v, TensorSpec):
            dt = _dtype(v.dtype) if isinstance(v.dtype, str) else (v.dtype or default_dtype)
            return torch.randn(v.shape, dtype=dt) if dt.is_floating_point else torch.zeros(v.shape, dtype=dt)
        if isinstance(v, torch.Tensor) and v.is_meta:
            return torch.zeros(v.shape, dtype=v.dtype)
        return v
    return tree_map(real, x)


def _check_materialize(module) -> None:
    """materialize=True runs the model for real: it must have weights and be small."""
    if any(p.is_meta for p in module.parameters()):
        raise InputError("materialize=True needs a model with real weights (it is on the meta device)")
    size = sum(p.numel() * p.element_size() for p in module.parameters())
    if size > MATERIALIZE_LIMIT_BYTES:
        raise InputError(f"materialize=True would run a {size / 2**30:.1f} GiB model on the CPU "
                         f"(limit {MATERIALIZE_LIMIT_BYTES / 2**30:.0f} GiB); count a smaller config")


def _finish(cap: _Capture, params_total, trainable, training, optimizer, checkpointing) -> Captured:
    table = cap.b.build()
    if training and checkpointing:
        # activation checkpointing recomputes the forward once during backward
        b = TableBuilder()
        b.extend(table)
        fwd = table.phase == kinds.FORWARD
        if fwd.any():
            import numpy as np
            sub = _subset(table, np.flatnonzero(fwd))
            b.extend(sub, phase=kinds.BACKWARD)
        table = b.build()
        cap.note("checkpointing: the forward is recomputed once in backward (counted in backward_flops)")
    if training and optimizer:
        flops, reads, writes, why = OPTIMIZERS[optimizer]
        b = TableBuilder()
        b.extend(table)
        b.add(kinds.ELEMENTWISE, [trainable, flops, reads * trainable], elsize=4, outsize=4,
              op=f"optimizer.{optimizer}", node=f"optimizer.{optimizer}", module="(optimizer)",
              phase=kinds.OPTIMIZER)
        if writes > 1:
            b.add(kinds.ELEMENTWISE, [(writes - 1) * trainable, 0, 0], elsize=4, outsize=4,
                  op=f"optimizer.{optimizer}", node=f"optimizer.{optimizer}.state", module="(optimizer)",
                  phase=kinds.OPTIMIZER)
        table = b.build()
        cap.note(f"optimizer {optimizer}: {flops} FLOPs per trainable parameter ({why}); "
                 f"fp32 parameters and states")
    elif training:
        cap.note("no optimizer given: optimizer_flops = 0 (optimizer='sgd' | 'adam' | 'adamw' adds its step)")
    return Captured(table, cap.unknown, cap.notes, params_total, trainable, cap.nodes, cap.costed)


def _subset(table, idx):
    import copy
    t = copy.copy(table)
    for name in ("kind", "params", "sym", "elsize", "outsize", "phase", "module", "op", "node",
                 "group", "branch"):
        setattr(t, name, getattr(table, name)[idx])
    return t
