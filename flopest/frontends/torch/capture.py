"""Capture a ``torch.nn.Module`` into an OpTable on meta tensors.

Parameters and buffers are swapped for meta tensors through ``torch.func.functional_call``
(no weight is allocated, no arithmetic is done, the user's module is left as it was), and a
``TorchDispatchMode`` records every aten operator with its tensor shapes. Each operator goes
through the same registry as ONNX nodes (aten aliases on the ONNX-named lowerings). Module
paths are recorded at forward time (``attribution.py``: a backward operator is credited to the
module whose forward made its autograd node); training adds autograd's backward operators
(tagged backward) and the optimizer step (per parameter, ``ops.optimizer``).

The recorder replays meta kernels from their arguments' metadata (``replay.py``) and reuses an
operator's cost rows for a repeated call; attention and recurrent layers are counted by the
stand-ins of ``patches.py``.
"""

from __future__ import annotations

import contextlib
import copy
import threading
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten, tree_map

from ... import kinds
from ...errors import DataDependentError, FlopestError, InputError, ModelRunError, is_ctrl_c
from ...ops import Ctx, ShapeUnknown, lookup_aten
from ...ops.optimizer import add_optimizer_rows, check_optimizer
from ...optable import TableBuilder
from .attribution import Attribution
from .inputs import as_T, examples_per_pass, meta_like, real_inputs, tensors, to_meta_inputs
from .keras import build as keras_build, capture_scope as keras_scope, is_keras, param_counts as keras_params, reason_of
from . import patches
from .patches import counting_patches
from .replay import Replayer


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
    examples_per_pass: int | None = None   # the inputs' common leading dim (inputs.examples_per_pass)
    examples_reason: str = ""              # why examples_per_pass is None ("" when it is known)


class _Recorder(TorchDispatchMode):
    """Records every aten call (results replayed from metadata where exact: ``Replayer``)."""

    def __init__(self, cap: "_Capture", meta: bool = True):
        super().__init__()
        self.cap = cap
        self.paused = 0
        self.replayer = Replayer()
        self.meta = meta

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        try:
            out, key, name = self.replayer.call(func, args, kwargs)
        except (RuntimeError, NotImplementedError):
            # a tensor the model made outside the capture (a plain attribute, not a parameter or
            # buffer: ``torch.mm(x, w, out=self.buf)``) meets meta tensors: its meta twin is used
            if not self.meta or not _has_real(args, kwargs):
                raise
            args, kwargs = _as_meta(args), _as_meta(kwargs)
            out, key, name = self.replayer.call(func, args, kwargs)
            self.cap.note("tensors the model holds outside its parameters and buffers met meta tensors: "
                          "meta tensors of their shapes were used in their place (their values are not read)")
        if torch._C._current_graph_task_id() == -1:   # forward: note the autograd node it made
            self.cap.modules.created_by(name, out)
        if not self.paused and not name.startswith("prim."):   # prim.device & co: metadata queries
            self.cap.record(name, args, kwargs, out, key=key)
        return out


def _real(t) -> bool:
    return isinstance(t, torch.Tensor) and not t.is_meta


def _has_real(args, kwargs) -> bool:
    return any(_real(t) for t in tree_flatten((args, kwargs))[0])


def _as_meta(x):
    """`x` with every non-meta tensor replaced by a meta tensor of its shape, strides and dtype."""
    return tree_map(lambda t: torch.empty_strided(t.shape, t.stride(), dtype=t.dtype, device="meta")
                    if _real(t) else t, x)


# matrix products whose operands PyTorch requires to share a dtype (the meta kernels do not check)
_SAME_DTYPE = frozenset({"aten.mm", "aten.addmm", "aten.bmm", "aten.baddbmm", "aten.mv", "aten.addmv",
                         "aten.dot", "aten.convolution"})


class _Capture:
    def __init__(self, modules: Attribution):
        self.b = TableBuilder()
        self.unknown = Counter()
        self.notes: list = []
        self._noted: set = set()
        self.nodes = 0
        self.costed = 0
        self.modules = modules
        self.index = 0
        self._lookup: dict = {}
        self._rows: dict = {}
        self.training = False
        self.with_grad = None   # parameter elements that received a gradient (training)
        self.meta = True
        self.lock = threading.RLock()   # threads started in forward record too (one table)
        self._tls = threading.local()   # the recorder of each capturing thread
        self.threads: list = []         # threads started in forward, captured
        self.closed = False
        self.saved = None               # _SavedActivations of a training capture

    @property
    def recorder(self):
        """This thread's recorder (None in a thread that is not captured)."""
        return getattr(self._tls, "recorder", None)

    @recorder.setter
    def recorder(self, rec) -> None:
        self._tls.recorder = rec

    @contextlib.contextmanager
    def worker(self, base: str):
        """Capture the calling thread (started in forward from module `base`) into this table."""
        self.modules.enter_thread(base)
        rec = self.recorder = _Recorder(self, meta=self.meta)
        try:
            with counting_patches(self), rec:
                yield
        finally:
            self.recorder = None
            self.modules.leave_thread()

    @staticmethod
    def phase() -> int:
        return kinds.BACKWARD if torch._C._current_graph_task_id() != -1 else kinds.FORWARD

    def note(self, text):
        if text not in self._noted:
            self._noted.add(text)
            self.notes.append(text)

    def module_path(self) -> str:
        return self.modules.current()

    def record(self, name: str, args, kwargs, out, fused: bool = False, key=None) -> None:
        with self.lock:
            if not self.closed:
                self._record(name, args, kwargs, out, key)

    def _record(self, name: str, args, kwargs, out, key) -> None:
        self.nodes += 1
        self.index += 1
        phase = self.phase()
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

    def record_rows(self, name: str, rows, elsize: int) -> None:
        """One operator costed by a stand-in (``patches.py``): its rows as given."""
        with self.lock:
            if not self.closed:
                self._record_rows(name, rows, elsize)

    def _record_rows(self, name: str, rows, elsize: int) -> None:
        self.nodes += 1
        self.index += 1
        module = self.module_path()
        node = f"{module or '(top)'}/{name}#{self.index}"
        phase = self.phase()
        for kind, params in rows:
            self.b.add(kind, params, elsize=elsize, op=name, node=node, module=module, phase=phase)
        self.costed += 1

    def _cost(self, name, args, kwargs, out, fn, adapter, reg, node):
        """(input element size, output element size, cost rows or None when not costed): a
        function of the arguments' shapes and values only, reused for a repeated call."""
        flat_in: list = []
        tensors(args, flat_in)
        tensors(kwargs, flat_in)
        flat_out: list = []
        tensors(out, flat_out)
        es = flat_in[0].element_size() if flat_in else (flat_out[0].element_size() if flat_out else 4)
        eo = flat_out[0].element_size() if flat_out else es
        if name in _SAME_DTYPE and len({t.dtype for t in flat_in}) > 1:
            # meta kernels accept what the real ones refuse: an int64 input into fp32 weights
            raise InputError(f"{name} multiplies tensors of dtypes {', '.join(sorted(str(t.dtype) for t in flat_in))}"
                             f": PyTorch refuses that product on a real device (its operands must share a dtype); "
                             f"give the inputs the weights' dtype (--input-dtype / flopest.spec(shape, dtype))")
        if patches._MASKS and name != "aten.scaled_dot_product_attention" and \
                any(patches._mask_kind(t) is not None for t in flat_in):
            self.note("a transformers causal mask enters an attention written as matmul, mask, softmax, matmul "
                      "(eager attention): its products are counted over every query-key pair, an upper bound "
                      "(the causal pairs are about half; SDPA attention is counted causal)")
        if any(t.dtype.is_complex for t in flat_in + flat_out):
            self.note("complex tensors: their operators are counted as real arithmetic, one number an element (a "
                      "complex multiply-add is 4 real multiply-adds, a complex multiply 6 FLOPs): the FLOPs of the "
                      "complex operators are a lower bound, by up to 4x")
        if fn is None:
            return es, eo, None
        ctx = Ctx(op=reg, inputs=[tuple(int(d) for d in t.shape) for t in flat_in],
                  outputs=[tuple(int(d) for d in t.shape) for t in flat_out],
                  args=tuple(as_T(a) for a in args), kwargs={k: as_T(v) for k, v in kwargs.items()},
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


_PARALLEL_WRAPPERS = (torch.nn.DataParallel, torch.nn.parallel.DistributedDataParallel)


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
    wrappers = []
    while isinstance(module, _PARALLEL_WRAPPERS):   # they split the batch; the work is the module's
        wrappers.append(type(module).__name__)
        module = module.module
    kwargs = dict(kwargs or {})
    if optimizer is not None:
        check_optimizer(optimizer)
    default_dtype = dtype if dtype is not None else torch.get_default_dtype()
    examples = examples_per_pass(args, kwargs)
    modes = {m: m.training for m in module.modules()}
    if is_keras(module):   # a Keras model makes its weights at its first call: before they are counted
        keras_build(module, args, kwargs, default_dtype)
    named_params = dict(module.named_parameters())
    params_total = sum(p.numel() for p in named_params.values())
    trainable = sum(p.numel() for p in named_params.values() if p.requires_grad)
    if is_keras(module):   # Keras's weights (its random seed states are variables too, not weights)
        params_total, trainable = keras_params(module)
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
                    return _finish(cap, params_total, trainable, training, optimizer, checkpointing,
                                   examples, wrappers)
                raise DataDependentError(
                    f"module {exc.path or '(top)'!r} needs tensor values that meta tensors do not have "
                    f"({exc.msg}); pass materialize=True (CLI --materialize) to run it on real CPU "
                    f"tensors") from None
            cap.note("run on FakeTensors: the model asked a meta tensor for a value (such as "
                     "`mask.all()`), and takes its tracing path on fake ones")
    finally:
        for m, t in modes.items():
            m.training = t
    return _finish(cap, params_total, trainable, training, optimizer, checkpointing, examples, wrappers)


def _fp32_bytes(t, nbytes: int) -> int:
    """Bytes of a floating-point tensor as fp32 (4 per element), whatever dtype the model was built
    in (a bf16 hf: config, a half-precision factory): the memory model scales them to the plan's
    precision. Other tensors (indices, masks) keep their own size."""
    if t.is_floating_point() and t.element_size() != 4:
        return nbytes * 4 // t.element_size()
    return nbytes


class _SavedActivations:
    """What autograd keeps for the backward pass, as the capture's forward saves it
    (`torch.autograd.graph.saved_tensors_hooks`): bytes per module path (the innermost module
    running when the tensor is saved), each storage once (views of one tensor count once), floating
    tensors as fp32 (`_fp32_bytes`),
    parameters and buffers left out (they are the weights' memory); and the bytes of the first
    tensor input of each module's first call (a checkpointed block keeps only its input)."""

    def __init__(self, modules, state):
        self.modules = modules
        self.weights = {v.untyped_storage()._cdata for v in state.values()}
        self.seen: dict = {}          # storage key -> storage (kept alive: keys stay unique)
        self.by_module: dict = {}
        self.inputs: dict = {}
        self.suspended = 0            # inside a fused kernel's stand-in: it saves what the kernel saves

    def _add(self, t) -> None:
        storage = t.untyped_storage()
        key = storage._cdata                  # one storage, however many views of it are saved
        if key in self.weights or key in self.seen:
            return
        self.seen[key] = storage              # kept alive: the key stays unique
        path = self.modules.current() or ""
        self.by_module[path] = self.by_module.get(path, 0) + _fp32_bytes(t, storage.nbytes())

    def fused_attention(self, qkv, out) -> None:
        """What a fused (flash) attention kernel keeps for its backward: Q, K, V, the output and
        one fp32 log-sum-exp per query row — not the score matrix (Dao et al. 2022, FlashAttention,
        arXiv:2205.14135, §3.1: the backward recomputes the scores from these)."""
        try:
            tensors = [t for t in qkv if isinstance(t, torch.Tensor)]
            for t in tensors + ([out] if isinstance(out, torch.Tensor) else []):
                self._add(t)
            if tensors:
                q = tensors[0]
                path = self.modules.current() or ""
                self.by_module[path] = self.by_module.get(path, 0) + q[..., 0].numel() * 4
        except Exception:
            pass

    def pack(self, t):
        if self.suspended:
            return t
        try:
            self._add(t)
        except Exception:   # a saved value that is not a plain tensor: nothing to add
            pass
        return t

    @staticmethod
    def unpack(t):
        return t

    def block_input(self, mod, inputs) -> None:
        path = self.modules.names.get(mod)
        if path is None or path in self.inputs:
            return
        first = next((x for x in inputs if isinstance(x, torch.Tensor)), None)
        if first is not None:
            self.inputs[path] = _fp32_bytes(first, first.numel() * first.element_size())


class _NeedsValues(Exception):
    def __init__(self, path, msg):
        super().__init__(msg)
        self.path = path
        self.msg = msg


def _run(module, args, kwargs, training, loss_fn, default_dtype, mode: str) -> "_Capture":
    """One capture: mode "meta" (default), "fake" (FakeTensors) or "real" (CPU tensors)."""
    fake_mode = contextlib.nullcontext()
    if mode == "fake":
        from torch._subclasses.fake_tensor import FakeTensorMode
        fake_mode = FakeTensorMode(allow_non_fake_inputs=True)   # meta tensors made in forward
    elif mode == "real":   # same seed every time, and the user's RNG state left as it was
        fake_mode = torch.random.fork_rng(devices=[])
    margs = mkwargs = ()
    cap = modules = h1 = h2 = h3 = None
    try:
        module.train(training)
        with fake_mode:
            if mode == "real":
                torch.manual_seed(0)
                state = {n: p.detach().clone().requires_grad_(training and p.requires_grad)
                         for n, p in module.named_parameters()}
                state.update({n: b.detach().clone() for n, b in module.named_buffers()})
                margs = real_inputs(tuple(args), default_dtype)
                mkwargs = real_inputs(dict(kwargs), default_dtype)
            else:
                state = {n: meta_like(p, requires_grad=training and p.requires_grad)
                         for n, p in module.named_parameters()}
                state.update({n: meta_like(b, requires_grad=False) for n, b in module.named_buffers()})
                margs = to_meta_inputs(tuple(args), default_dtype)
                mkwargs = to_meta_inputs(kwargs, default_dtype)
            modules = Attribution(module, state)
            cap = _Capture(modules)
            recorder = _Recorder(cap, meta=mode == "meta")
            cap.recorder = recorder
            cap.training = training
            cap.meta = mode == "meta"
            modules.enter_thread()
            h1 = torch.nn.modules.module.register_module_forward_pre_hook(modules.pre_forward)
            h2 = torch.nn.modules.module.register_module_forward_hook(modules.post_forward)
            saving = contextlib.nullcontext()
            if training:
                saved = cap.saved = _SavedActivations(modules, state)
                saving = torch.autograd.graph.saved_tensors_hooks(saved.pack, saved.unpack)
                h3 = torch.nn.modules.module.register_module_forward_pre_hook(saved.block_input)
            kscope = (keras_scope(module, state, mode, training, mkwargs, modules) if is_keras(module)
                      else contextlib.nullcontext())
            with counting_patches(cap), recorder, saving, kscope:
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
                    modules.watch_graph([loss])
                    loss.backward()
                    # the parameters the optimizer steps: torch.optim skips one whose .grad is None
                    if not is_keras(module):   # Keras keeps its own variables
                        cap.with_grad = sum(t.numel() for t in state.values() if isinstance(t, torch.Tensor)
                                            and t.requires_grad and t.grad is not None)
    except FlopestError:
        raise
    except (Exception, SystemExit, KeyboardInterrupt) as exc:  # the user's model raised
        if is_ctrl_c(exc):   # the user pressed Ctrl-C: flopest stops (exit 130), not the model's fault
            raise
        inner = modules.innermost() if modules is not None else None
        path = modules.names.get(inner, "") if inner is not None else ""
        if isinstance(exc, (SystemExit, KeyboardInterrupt)):   # not flopest's exit, nor a pass
            raise ModelRunError(f"the model raised {type(exc).__name__}({exc}) in module "
                                f"{path or '(top)'!r}; flopest does not exit on behalf of the model") from None
        msg = reason_of(exc)
        if any(k in str(exc) for k in _DATA_DEPENDENT) or any(
                k in type(exc).__name__ for k in ("DataDependent", "DynamicOutputShape")):
            raise _NeedsValues(path, f"{type(exc).__name__}: {msg}") from None
        shapes = ", ".join(str(tuple(t.shape)) for t in tree_flatten((margs, mkwargs))[0]
                           if isinstance(t, torch.Tensor))
        raise ModelRunError(f"the model raised in module {path or '(top)'!r} "
                            f"({type(inner if inner is not None else module).__name__}): "
                            f"{type(exc).__name__}: {msg} — example input shapes: {shapes}") from None
    finally:
        for h in (h1, h2, h3):
            if h is not None:
                h.remove()
        if modules is not None:
            modules.leave_thread()
            modules.close()
        if cap is not None:
            with cap.lock:
                cap.closed = True
            _thread_notes(cap)
    return cap


def _thread_notes(cap: "_Capture") -> None:
    running = [t.name for t in cap.threads if t.is_alive()]
    if running:
        cap.note(f"the count is incomplete: {len(running)} thread(s) started in forward "
                 f"({', '.join(running[:3])}) were still running when it ended; their later work is "
                 f"not counted (join them in forward)")
    for path in cap.modules.foreign:
        cap.note(f"the count is incomplete: module {path or '(top)'!r} ran in a thread the capture "
                 f"did not start (a thread pool made before it?); that work is not counted")


class _Materialize(Exception):
    pass


MATERIALIZE_LIMIT_BYTES = 2 * 2**30


def _check_materialize(module) -> None:
    """materialize=True runs the model for real: it must have weights and be small."""
    if any(p.is_meta for p in module.parameters()):
        raise InputError("materialize=True needs a model with real weights (it is on the meta device)")
    size = sum(p.numel() * p.element_size() for p in module.parameters())
    if size > MATERIALIZE_LIMIT_BYTES:
        raise InputError(f"materialize=True would run a {size / 2**30:.1f} GiB model on the CPU "
                         f"(limit {MATERIALIZE_LIMIT_BYTES / 2**30:.0f} GiB); count a smaller config")


def _finish(cap: _Capture, params_total, trainable, training, optimizer, checkpointing,
            examples, wrappers=()) -> Captured:
    for w in wrappers:
        cap.note(f"{w} unwrapped: the wrapped module is counted for the whole batch (the wrapper "
                 f"splits it over devices; communication is not counted here)")
    table = cap.b.build()
    if training and checkpointing:
        # activation checkpointing recomputes the forward once during backward
        b = TableBuilder()
        b.extend(table)
        fwd = table.phase == kinds.FORWARD
        if fwd.any():
            sub = _subset(table, np.flatnonzero(fwd))
            b.extend(sub, phase=kinds.BACKWARD)
        table = b.build()
        cap.note("checkpointing: the forward is recomputed once in backward (counted in backward_flops)")
    if training and optimizer:
        stepped = trainable
        got = cap.with_grad
        if got is not None and got < trainable:
            stepped = got
            cap.note(f"{trainable - got:,} trainable parameter(s) received no gradient in the counted pass (modules "
                     f"not called): the optimizer step is counted for the {got:,} that did (torch.optim skips a "
                     f"parameter whose .grad is None)")
        b = TableBuilder()
        b.extend(table)
        cap.note(add_optimizer_rows(b, optimizer, stepped))
        table = b.build()
    elif training:
        cap.note("no optimizer given: optimizer_flops = 0 (optimizer='sgd' | 'adam' | 'adamw' adds its step)")
    extra = {}
    if training and cap.saved is not None:
        extra = {"saved_bytes_by_module": dict(cap.saved.by_module), "module_input_bytes": dict(cap.saved.inputs)}
    return Captured(table, cap.unknown, cap.notes, params_total, trainable, cap.nodes, cap.costed,
                    extra=extra, examples_per_pass=examples[0], examples_reason=examples[1])


def _subset(table, idx):
    t = copy.copy(table)
    for name in ("kind", "params", "sym", "elsize", "outsize", "phase", "module", "op", "node",
                 "group", "branch"):
        setattr(t, name, getattr(table, name)[idx])
    return t
