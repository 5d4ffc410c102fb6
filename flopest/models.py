"""The one resolver: from what a user holds to :class:`~flopest.counts.Counts`.

A model is one of

- an ``.onnx`` path or an ``onnx.ModelProto`` (read without its weights, dims symbolic);
- a ``torch.nn.Module`` with its example inputs (captured on meta tensors);
- ``"zoo:NAME"``: a model of the repository's ``model_zoo/``, **the PyTorch module at its
  example inputs** everywhere (``flopest.count``, ``flopest count``, ``estimate``, ``serve``);
  ``onnx=True`` (``--onnx``) counts its ONNX export instead, whose dims can be re-bound;
- ``"package.module:factory"``: a callable returning a module or a ``(module, inputs)`` pair;
- a Keras 3 model: a ``.keras`` file (rebuilt from its config, weights not read), a factory
  returning a ``keras.Model``, or the model itself, all on Keras's torch backend, where a Keras
  model is a ``torch.nn.Module`` (``flopest.frontends.torch.keras``).

This is the only module that knows every model kind; nothing below it (counts, kernel,
front ends) asks where a count came from. Front ends are imported when a model of their
kind is met: torch and onnx are heavy, and torch is an extra.
"""

from __future__ import annotations

import importlib
import os
import re
import sys
import threading
from dataclasses import dataclass, field

from .counts import Counts, given_examples_reason, parse_dims
from .dims import examples_at
from .generation import ForwardCost, GenerationCost, PassTables, assemble, check_context, fit_positions
from .errors import (DataDependentError, InputError, ModelRunError, ServingError, UnknownOperatorError,
                     did_you_mean, is_ctrl_c, running_user_code)
from .frontends import keras_backend   # no Keras or torch import: which backend, and the message
from .validate import error, whole

ZOO_PREFIX = "zoo:"
HF_PREFIX = "hf:"
FACTORY = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")
MAX_CAPTURE_BATCH = 4096   # zoo models are captured at a requested batch up to this size (meta tensors)


# ----------------------------------------------------------------------------- what is it
def is_torch_module(obj) -> bool:
    torch = sys.modules.get("torch")   # a Module can only exist if torch was imported
    return torch is not None and isinstance(obj, torch.nn.Module)


def is_onnx_proto(obj) -> bool:
    """A ModelProto, whether `onnx` is imported or only its generated message module is (flopest's
    ONNX front end loads that one alone: frontends/onnx/pb.py)."""
    for name in ("onnx", "onnx.onnx_ml_pb2"):
        mod = sys.modules.get(name)
        cls = getattr(mod, "ModelProto", None) if mod is not None else None
        if cls is not None and isinstance(obj, cls):
            return True
    return False


def is_zoo(spec) -> bool:
    return isinstance(spec, str) and spec.startswith(ZOO_PREFIX)


def is_factory(spec) -> bool:
    """`package.module:callable`, and not an existing file (a Windows path has a colon too)."""
    return isinstance(spec, str) and not os.path.exists(spec) and bool(FACTORY.match(spec))


def is_hf(spec) -> bool:
    """`hf:ORG/NAME` (a Hugging Face hub id) or `hf:PATH` (a config.json or its folder)."""
    return isinstance(spec, str) and spec.startswith(HF_PREFIX)


def is_keras_file(spec) -> bool:
    """A Keras 3 `.keras` file (by its suffix; the file is read only when counted)."""
    return isinstance(spec, (str, os.PathLike)) and os.fspath(spec).lower().endswith(".keras")


def is_torch_spec(spec) -> bool:
    """A model spec the PyTorch front end counts (zoo:NAME, hf:..., a factory, a .keras file), not
    an ONNX file."""
    return is_zoo(spec) or is_hf(spec) or is_factory(spec) or is_keras_file(spec)


def kind(model) -> str:
    """"torch", "onnx", "zoo" or "factory"; InputError for anything else."""
    if is_torch_module(model):
        return "torch"
    if is_onnx_proto(model) or isinstance(model, (str, os.PathLike)) and not is_torch_spec(str(model)):
        return "onnx"
    if is_zoo(model):
        return "zoo"
    if is_hf(model):
        return "hf"
    if is_factory(model):
        return "factory"
    if is_keras_file(model):
        return "keras"
    foreign = keras_backend.foreign_model_message(model)
    if foreign is not None:
        raise InputError(foreign)
    raise InputError(f"cannot count a {type(model).__name__}: give an .onnx path, an onnx.ModelProto, "
                     f"a torch.nn.Module with example inputs, 'zoo:NAME', 'hf:ORG/NAME' or 'hf:PATH', "
                     f"'package.module:factory', or a Keras 3 model (.keras file)")


def torch_frontend():
    """The PyTorch front end, or an error naming the extra to install when torch is missing."""
    try:
        from .frontends import torch as fe
    except ModuleNotFoundError as exc:
        if (exc.name or "").split(".")[0] not in ("torch", "transformers"):
            raise
        raise InputError(f"PyTorch models (zoo:NAME, package.module:factory, torch.nn.Module) need the "
                         f"torch extra ({exc.name} is not installed): pip install 'flopest[torch]'") from None
    return fe


# ----------------------------------------------------------------------------- PyTorch inputs
@dataclass
class TorchModel:
    """A PyTorch model with the example inputs of one counted pass."""

    module: object
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    source: str = ""
    batch_axes: dict = field(default_factory=dict)   # input index or name -> axis named "batch"
    notes: list = field(default_factory=list)        # how it was built (a meta build that fell back)
    causal: bool | None = None                       # the model's own default (hf causal LMs: True)
    tokens_per_example: int | None = None            # tokens in one example (hf text models)


def zoo_names() -> list:
    return list(_zoo_package().MODELS)


def _zoo_package():
    try:
        import model_zoo
    except ImportError as exc:
        raise InputError(f"zoo models need the torch extra and the model_zoo package "
                         f"({exc.name or exc}); install with: pip install 'flopest[torch]'") from None
    return model_zoo


def _zoo_name(spec: str) -> str:
    name = spec[len(ZOO_PREFIX):]
    zoo = _zoo_package()
    if name not in zoo.MODELS:
        raise InputError(f"unknown zoo model {name!r}{did_you_mean(name, zoo.MODELS)} "
                         f"(zoo models: {', '.join(zoo.MODELS)})")
    return name


def zoo_model(spec: str, batch: int | None = None, meta: bool = True) -> TorchModel:
    """The zoo model's PyTorch module at its example inputs, built on the meta device (no weight
    allocated or initialised; `meta=False` builds real weights, for a run on real tensors);
    `batch` replaces the dim of every input axis the zoo names "batch"."""
    fe = torch_frontend()
    tensor_spec = fe.spec
    name = _zoo_name(spec)
    zoo = _zoo_package()
    notes = []
    if meta:
        (module, example, input_names, axes), note = fe.build_on_meta(lambda: zoo.get(name, size="full"),
                                                                       f"zoo model {name!r}")
        notes += [note] if note else []
    else:
        module, example, input_names, axes = zoo.get(name, size="full")
    for p in module.parameters():   # the zoo builds frozen modules; all weights train
        p.requires_grad_(True)
    args = tuple(example)
    if batch is not None:
        if batch < 1 or batch > MAX_CAPTURE_BATCH:
            raise InputError(f"batch {batch} for {spec!r} must be between 1 and {MAX_CAPTURE_BATCH}")

        def at_batch(n, x):
            on_axis0 = (axes.get(n) or {}).get(0) == "batch"
            return tensor_spec((batch, *x.shape[1:]) if on_axis0 else tuple(x.shape), x.dtype)
        args = tuple(at_batch(n, x) for n, x in zip(input_names, args))
    return TorchModel(module, args, {}, spec, notes=notes)


def zoo_onnx(spec: str, quiet: bool = False) -> tuple:
    """(path of the zoo model's cached ONNX export, default dims from its example inputs)."""
    name = _zoo_name(spec)
    from model_zoo.export import export, output_path
    module, example, input_names, dynamic_axes = _zoo_package().get(name, size="full")
    dims = {}
    for i, n in enumerate(input_names):
        for axis, dim in (dynamic_axes.get(n) or {}).items():
            dims.setdefault(dim, int(example[i].shape[int(axis)]))
    path = output_path(name, exporter="torchscript", size="full")
    if not path.exists() and not quiet:
        print(f"flopest: exporting zoo model {name!r} to ONNX once ({path})…", file=sys.stderr, flush=True)
    try:
        return str(export(name, exporter="torchscript", size="full")), dims
    except OSError as exc:   # an unwritable or full cache
        raise InputError(f"cannot write the zoo export cache ({exc.strerror or exc}: {exc.filename}); "
                         f"set FLOPEST_CACHE to a writable folder") from None


def _run_user_code(what: str, fn, *args):
    """Call the user's code; whatever it raises (SystemExit and KeyboardInterrupt included) is the
    model's failure, never flopest's exit code."""
    try:
        with running_user_code():
            return fn(*args)
    except (SystemExit, KeyboardInterrupt) as exc:
        if is_ctrl_c(exc):
            raise
        raise ModelRunError(f"{what} raised {type(exc).__name__}({exc})"
                            f"; flopest does not exit on behalf of the model") from None
    except InputError:
        raise
    except Exception as exc:
        raise InputError(f"{what} raised {type(exc).__name__}: {exc}") from None


def load_factory(target: str, meta: bool = True) -> TorchModel:
    """Import `package.module:callable` (from the current folder or PYTHONPATH) and call it: it
    returns a torch.nn.Module, or a (module, example inputs) pair where the inputs are a tensor,
    a tuple/list of them, or a dict of keyword inputs."""
    modname, _, attr = target.partition(":")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    keras_backend.prepare_backend(override=False)   # a factory that imports Keras gets the torch backend
    try:
        with running_user_code():
            mod = importlib.import_module(modname)
    except (SystemExit, KeyboardInterrupt) as exc:
        if is_ctrl_c(exc):
            raise
        raise ModelRunError(f"importing {modname!r} for the factory {target!r} raised "
                            f"{type(exc).__name__}({exc})") from None
    except Exception as exc:
        raise InputError(f"cannot import {modname!r} for the factory {target!r} "
                         f"({type(exc).__name__}: {exc}); check the module path and PYTHONPATH") from None
    obj = mod
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise InputError(f"{modname!r} has no attribute {attr!r} (factory {target!r})")
        obj = getattr(obj, part)
    if not callable(obj):
        raise InputError(f"factory {target!r} is not callable")
    notes = []
    if meta:   # no weight allocated: the factory runs with torch's default device set to meta
        made, note = _run_user_code(f"factory {target!r}", torch_frontend().build_on_meta, obj,
                                    f"factory {target!r}")
        notes += [note] if note else []
    else:   # real tensors (--materialize): seeded, so that random example inputs, and a count that
        # follows their values, are the same at every run (the user's RNG state is left as it was)
        made = _run_user_code(f"factory {target!r}", torch_frontend().seeded, obj)
        notes.append(f"factory {target!r} called with torch's RNG seeded at 0 (its random inputs and weights are "
                     f"the same at every run)")
    if is_torch_module(made):
        return TorchModel(made, (), {}, target, notes=notes)
    if isinstance(made, tuple) and len(made) == 2 and is_torch_module(made[0]):
        module, example = made
        if isinstance(example, dict):
            return TorchModel(module, (), dict(example), target, notes=notes)
        if isinstance(example, (tuple, list)):
            return TorchModel(module, tuple(example), {}, target, notes=notes)
        return TorchModel(module, (example,), {}, target, notes=notes)
    foreign = keras_backend.foreign_model_message(made[0] if isinstance(made, tuple) and made else made)
    if foreign is not None:
        raise InputError(f"factory {target!r} returned {foreign}")
    shown = repr(made)
    shown = shown if len(shown) <= 60 else shown[:60] + "…"
    raise InputError(f"factory {target!r} returned {type(made).__name__} {shown}; it must return a "
                     f"torch.nn.Module or a (module, example_inputs) pair")


def hf_model(spec: str, task: str | None = None, seq_len: int | None = None, batch: int | None = None,
             meta: bool = True) -> TorchModel:
    """A Hugging Face model from its config (flopest.frontends.torch.hf: a local path, the local
    cache, then config.json alone from the hub), built on the meta device with the head of
    `task` (default from the config's architectures), at example inputs of `seq_len` tokens
    (default the config's context, capped) and `batch` sequences (default 1)."""
    fe = torch_frontend()
    from .frontends.torch import hf
    ref = spec[len(HF_PREFIX):].strip()
    if not ref:
        raise InputError("hf: needs a hub id or a path: hf:Qwen/Qwen2.5-7B, hf:./my-model or hf:config.json")
    if seq_len is not None:
        seq_len = whole("seq_len", seq_len)
    cfg, where = hf.read_config(ref)
    task, why = hf.task_of(cfg, task)
    if meta:
        module, note = fe.build_on_meta(lambda: hf.build(cfg, task), spec)
    else:
        module, note = hf.build(cfg, task), None
    kwargs, seq, notes = hf.example_inputs(cfg, task, seq_len, batch or 1)
    notes = [f"{spec}: {type(cfg).__name__} read from {where}; head {task} ({why})"] + notes + ([note] if note else [])
    return TorchModel(module, (), kwargs, spec, notes=notes, causal=task == "causal-lm", tokens_per_example=seq)


def lm_model(params: int, layers: int, d_model: int, seq_len: int, *, heads=None, kv_heads=None, ffn=None,
             vocab=None, batch: int = 1, experts=None, active_experts=None) -> tuple:
    """A Llama-shaped decoder of the shape given (flopest.frontends.torch.hf.synthetic_config),
    built on the meta device with `batch` sequences of `seq_len` tokens: the graph of a
    `--params/--tokens` plan that gives its architecture. Returns (TorchModel, moe): moe None for a
    dense decoder; a mixture of experts is built as the dense decoder of its active experts'
    compute (flopest.frontends.torch.hf.synthetic_config), and moe holds its expert parameters,
    the parameters the graph does not hold (experts beyond the active width, routers), E and k."""
    fe = torch_frontend()
    from .frontends.torch import hf
    cfg, notes, expert_params = hf.synthetic_config(
        whole("params", params), whole("layers", layers), whole("d_model", d_model), whole("seq_len", seq_len),
        heads=heads, kv_heads=kv_heads, ffn=ffn, vocab=vocab,
        experts=whole("experts", experts) if experts is not None else None,
        active_experts=whole("active_experts", active_experts) if active_experts is not None else None)
    what = (f"a Llama-shaped decoder ({layers} layers, d_model {d_model:,}, {cfg.num_attention_heads} heads, "
            f"{cfg.num_key_value_heads} KV heads, MLP {cfg.intermediate_size:,}, vocabulary {cfg.vocab_size:,})")
    module, note = fe.build_on_meta(lambda: hf.build(cfg, "causal-lm"), what)
    kwargs, seq, more = hf.example_inputs(cfg, "causal-lm", seq_len, batch)
    tm = TorchModel(module, (), kwargs, what, notes=[f"{what}: the graph of the --params plan"] + notes + more
                    + ([note] if note else []), causal=True, tokens_per_example=seq)
    if experts is None:
        return tm, None
    # the parameters the built graph does not hold: the experts beyond the active MLP, the routers
    active_mlp = 3 * int(d_model) * cfg.intermediate_size * int(layers)
    moe = {"expert_params": expert_params, "extra_params": expert_params - active_mlp + int(layers) * int(d_model)
           * int(experts), "experts": int(experts), "active_experts": int(active_experts or 2)}
    return tm, moe


def keras_model(spec, batch: int | None = None, meta: bool = True) -> TorchModel:
    """A Keras 3 `.keras` file rebuilt from its config on the meta device (the weights in the
    archive are never read; `meta` False builds real, initialised weights), at example inputs
    from its declared input shapes with `batch` examples (default 1)."""
    kfe = torch_frontend().keras
    path = os.fspath(spec)
    module, notes = kfe.load(path, meta=meta)
    args = kfe.example_inputs(module, batch) if _keras_inputs_known(module) else ()
    return TorchModel(module, args, {}, path, notes=notes)


def _keras_inputs_known(module) -> bool:
    try:
        return bool(module.inputs)
    except (AttributeError, ValueError):   # a subclassed model: its inputs come from --input
        return False


def torch_model(spec: str, args=(), kwargs=None, batch: int | None = None, meta: bool = True,
                task: str | None = None, seq_len: int | None = None) -> TorchModel:
    """The PyTorch model of a zoo:NAME, hf:... or factory spec, built on the meta device unless
    `meta` is False; `args`/`kwargs` (example inputs given by the user) replace the model's own;
    `batch` re-batches a zoo or hf model's example inputs; `task` and `seq_len` are for hf: models."""
    kwargs = dict(kwargs or {})
    if batch is not None:   # one check for every kind: 0 or 2.5 examples, or "4", is not a batch
        batch = whole("batch", batch)
    if seq_len is not None:
        seq_len = whole("seq_len", seq_len)
    if not is_hf(spec) and (task is not None or seq_len is not None):
        raise error(f"task and seq_len choose an hf: model's head and sequence length; {spec!r} takes its "
                    f"inputs from the model (--input)", "task", "seq_len")
    if is_hf(spec):
        tm = hf_model(spec, task, seq_len, None if (args or kwargs) else batch, meta=meta)
    elif is_zoo(spec):
        tm = zoo_model(spec, batch=None if (args or kwargs) else batch, meta=meta)
    elif is_keras_file(spec):
        tm = keras_model(spec, batch=None if (args or kwargs) else batch, meta=meta)
    else:
        tm = load_factory(spec, meta=meta)
        if not (args or kwargs or tm.args or tm.kwargs) and keras_backend.is_keras(tm.module) \
                and _keras_inputs_known(tm.module):   # a keras.Model declares its inputs
            tm.args = torch_frontend().keras.example_inputs(tm.module, batch)
    if args or kwargs:
        tm.args, tm.kwargs = tuple(args), kwargs
    if not tm.args and not tm.kwargs:
        what = f"the Keras model {spec!r} declares" if is_keras_file(spec) else f"factory {spec!r} returned"
        raise InputError(f"{what} no example inputs: give them with --input SHAPE "
                         f"(API: flopest.count(model, flopest.spec(SHAPE)))")
    return tm


# ----------------------------------------------------------------------------- counting
# PyTorch captures run one at a time in a process. The capture attributes each operator to a
# module and a phase through torch's *global* module hooks: two captures in two threads would
# see each other's modules. The capture is Python-bound under the GIL, so serialising it costs little.
TORCH_CAPTURE_LOCK = threading.Lock()


def _strict(c: Counts, what: str) -> None:
    listing = ", ".join(f"{k} ×{v}" for k, v in sorted(c.unknown_ops.items()))
    raise UnknownOperatorError(f"{c.source or 'model'}: {sum(c.unknown_ops.values())} {what} not costed "
                               f"({listing}); drop --strict to count the rest, coverage {c.coverage:.1%}")


def count_onnx(model, dims=None, *, strict: bool = False, causal: bool = False,
               examples_per_pass: int | None = None, pinned: bool = True) -> Counts:
    """Read an ONNX model (path or ModelProto) once and count it at `dims`. A given
    examples_per_pass is pinned to the binding it was given at (.at() refuses to move the dim the
    model reads); pinned=False (flopest's own callers, which re-bind on purpose) keeps it."""
    from .frontends import onnx as fe

    bound = parse_dims(dims)
    low, m, stats, names, mode = fe.analyse(model, bound)
    params = fe.count_params(m, stats.get("tied") or ())
    src = str(stats.get("source", ""))

    def make(low_, dims_, rebind=None):
        per, reason, dim = _onnx_examples(low_, dims_, examples_per_pass)
        given_at = None
        if examples_per_pass is not None and pinned:   # the dim the model reads, to refuse a re-bind that moves it
            _, _, read_dim = _onnx_examples(low_, dims_, None)
            if read_dim:
                given_at = (read_dim, examples_at(read_dim, dims_))
        return Counts(low_.table, params, dict(low_.unknown_ops), low_.node_count, low_.costed,
                      dims_, names, list(low_.notes), src, causal, rebind,
                      examples_per_pass=per, examples_reason=reason, examples_dim=dim, examples_given_at=given_at)

    rebind = None
    if mode == "concrete":
        def rebind(new_dims):
            low2, _, _, _, _ = fe.analyse(model, new_dims)
            return make(low2, new_dims, rebind).evaluate()
    c = make(low, bound, rebind)
    if strict and c.unknown_ops:
        _strict(c, "node(s)")
    return c.evaluate()


def _onnx_examples(low, dims: dict, given):
    """(examples per pass, how it was found, its dim name) of an ONNX model: the value of its
    first input's leading axis, whatever the axis is called."""
    if given is not None:
        read, how, _ = _onnx_examples(low, dims, None)
        return int(given), given_examples_reason(int(given), read, how), None
    lead = getattr(low, "examples_per_pass", None)
    reason = getattr(low, "examples_reason", "") or "the model's first input has no leading axis"
    if isinstance(lead, bool) or lead is None:
        return None, reason, None
    if isinstance(lead, int):
        return lead, "the first input's leading axis", None
    if isinstance(lead, str):
        per = examples_at(lead, dims)
        if per is not None:
            return per, f"the first input's leading axis {lead!r}", lead
        return None, f"the first input's leading axis {lead!r} is not bound", lead
    return None, reason, None



def count_module(module, args=(), kwargs=None, *, strict=False, causal=False, training=False,
                 loss_fn=None, optimizer=None, checkpointing=False, materialize=False,
                 examples_per_pass: int | None = None, source: str = "", notes=(),
                 tokens_per_example: int | None = None) -> Counts:
    """Capture a torch.nn.Module on meta tensors (see flopest.frontends.torch) and count it;
    `notes` (how the model was built) lead the count's notes."""
    fe = torch_frontend()
    try:
        with TORCH_CAPTURE_LOCK, running_user_code():
            cap = fe.capture(module, args, kwargs, training=training, loss_fn=loss_fn, optimizer=optimizer,
                             checkpointing=checkpointing, materialize=materialize)
    except (ModelRunError, DataDependentError) as exc:
        hint = _moe_hint(module)
        if hint and hint not in str(exc):
            raise type(exc)(f"{exc} — {hint}") from None
        raise
    per, reason = fe.examples_per_pass(args, kwargs or {})
    seq_first = fe.sequence_first(module) if per is not None else None
    if seq_first:
        per, reason = None, (f"{seq_first} takes its inputs sequence-first (batch_first=False), so the leading "
                             f"dim {per} of the example inputs may be a sequence length, not the examples")
    if examples_per_pass is not None:
        per, reason = int(examples_per_pass), given_examples_reason(int(examples_per_pass), per, reason)
    c = Counts(cap.table, cap.params, dict(cap.unknown), cap.nodes, cap.costed, {}, [],
               list(notes) + list(cap.notes), source or type(module).__name__, causal, concrete=True,
               examples_per_pass=per, examples_reason=reason, tokens_per_example=tokens_per_example,
               optimizer=optimizer if training else None, checkpointing=bool(training and checkpointing),
               saved_bytes_by_module=dict(cap.extra.get("saved_bytes_by_module", {})),
               module_input_bytes=dict(cap.extra.get("module_input_bytes", {})))
    if training and causal:
        note = _causal_backward_note(cap.table)
        if note:
            c.notes.append(note)
    if strict and c.unknown_ops:
        _strict(c, "operator call(s)")
    return c.evaluate()


def _moe_hint(module) -> str | None:
    """The way out for a transformers mixture of experts whose capture failed: its routing
    depends on the tokens' values (and transformers' grouped expert kernels check dtypes)."""
    cfg = getattr(module, "config", None)
    cfg = getattr(cfg, "get_text_config", lambda: cfg)() if cfg is not None else None
    e = next((getattr(cfg, a) for a in ("num_local_experts", "num_experts", "n_routed_experts")
              if isinstance(getattr(cfg, a, None), int)), None) if cfg is not None else None
    if not e or e < 2:
        return None
    k = getattr(cfg, "num_experts_per_tok", None) or "k"
    return (f"{type(cfg).__name__} is a mixture of experts ({e} experts, {k} a token), whose routing depends on the "
            f"tokens' values, which a capture on meta tensors cannot follow: estimate it with balanced routing as "
            f"flopest estimate --params N --experts {e} --active-experts {k} --layers L --d-model D --seq-len S (API "
            f"estimate(params=, experts=, active_experts=, layers=, d_model=, seq_len=)), or count a small config "
            f"with --materialize")


def _causal_backward_note(table) -> str | None:
    """A training capture whose forward attention is causal but whose backward has no fused
    attention row (the math path's matrix products on meta tensors): those products cover every
    query-key pair, about twice the causal ones, and the note says so."""
    import numpy as np
    from . import kinds as k
    att = table.kind == k.ATTENTION
    fwd = att & (table.phase == k.FORWARD) & ((table.params[:, 5] != 0) | (table.sym[:, 5] >= 0))
    if not fwd.any() or (att & (table.phase == k.BACKWARD)).any():
        return None
    return (f"the backward of {int(np.count_nonzero(fwd))} causal attention call(s) is counted as the products "
            f"PyTorch's math path runs, over every query-key pair (the causal ones are about half): an upper bound")


def count(model, *example_args, dims=None, strict: bool = False, causal: bool | None = None,
          training: bool = False, loss_fn=None, optimizer: str | None = None,
          checkpointing: bool = False, materialize: bool = False, examples_per_pass: int | None = None,
          batch: int | None = None, onnx: bool = False, task: str | None = None, seq_len: int | None = None,
          **example_kwargs) -> Counts:
    """FLOPs, bytes and params of `model`.

    model: an .onnx path, an onnx.ModelProto, ``"zoo:NAME"`` (the zoo's PyTorch module at its
    example inputs; ``onnx=True`` counts its ONNX export), ``"hf:ORG/NAME"`` or ``"hf:PATH"`` (a
    Hugging Face config, built on the meta device: `task` chooses the head, default from the
    config; `seq_len` the tokens, default the config's context capped at 2,048; `batch` the
    sequences), ``"package.module:factory"``, a Keras 3 ``.keras`` file or model (on Keras's torch
    backend: ``flopest.frontends.torch.keras``), or a
    torch.nn.Module followed by its example inputs (tensors, ``flopest.spec(shape, dtype)``,
    dicts, keyword arguments as Hugging Face models take them), captured on meta tensors: no
    weight allocated. Keyword arguments other than those below are the module's keyword inputs
    (a TypeError for an ONNX model).
    dims: values of an ONNX model's symbolic dims ({"batch": 8, "sequence": 512}).
    strict: raise UnknownOperatorError when any operator is not costed.
    causal: count attention operators flagged causal over the unmasked pairs only (None: the
    model's own default, True for hf: causal LMs, else False).
    training (PyTorch): forward + backward through autograd (loss = loss_fn(output), default the
    sum of the outputs); optimizer "sgd" | "sgd-momentum" | "adam" | "adamw" adds its step;
    checkpointing adds the recomputed forward. materialize: run models whose control flow
    depends on data on real CPU tensors (small models only).
    examples_per_pass: examples one counted pass processes, when it cannot be read off the
    inputs (the common leading dim of every input tensor; an ONNX model's first input axis).
    batch: a zoo model's inputs re-batched to this many examples (a Keras model's or ``.keras``
    file's declared inputs: their unknown batch dim).
    Returns a :class:`flopest.counts.Counts`; for ONNX, ``.at(**dims)`` re-binds without re-reading.
    """
    k = kind(model)
    from .validate import flag
    training, strict, checkpointing, materialize, onnx = (flag("training", training), flag("strict", strict),
                                                          flag("checkpointing", checkpointing),
                                                          flag("materialize", materialize), flag("onnx", onnx))
    if not training:   # the options of a training capture do nothing to a forward count
        given = [n for n, v in (("optimizer", optimizer), ("checkpointing", checkpointing or None),
                                ("loss_fn", loss_fn)) if v is not None]
        if given:
            raise InputError(f"count(): {', '.join(given)} {'applies' if len(given) == 1 else 'apply'} to a "
                             f"training capture: add training=True, or remove {'it' if len(given) == 1 else 'them'}")
    if examples_per_pass is not None and (isinstance(examples_per_pass, bool) or not isinstance(
            examples_per_pass, int) or examples_per_pass < 1):
        raise InputError(f"examples_per_pass must be a whole number >= 1, got {examples_per_pass!r}")
    torch_opts = {"training": training, "loss_fn": loss_fn, "optimizer": optimizer,
                  "checkpointing": checkpointing, "materialize": materialize, "batch": batch}
    if k == "onnx" or (k == "zoo" and onnx):
        used = [n for n, v in torch_opts.items() if v not in (None, False)]
        if example_kwargs:   # as Python says of a keyword a function does not take
            raise TypeError(f"count() got unexpected keyword argument(s) {', '.join(map(repr, example_kwargs))}: "
                            f"keyword inputs are for PyTorch modules; an ONNX model takes dims={{...}}")
        if example_args or used:
            extra = [f"{n}=" for n in used]
            raise InputError(f"count(): {', '.join(extra) or 'example inputs'} apply to PyTorch models; an "
                            f"ONNX model takes dims={{...}}" + (" (training an ONNX graph is not "
                                                               "supported)" if training else ""))
        if k == "zoo":
            model, defaults = zoo_onnx(model)
            dims = {**defaults, **parse_dims(dims)}
        return count_onnx(model, dims, strict=strict, causal=bool(causal), examples_per_pass=examples_per_pass)
    if k == "zoo":
        _zoo_name(model)   # an unknown zoo name first: it is the likelier mistake
    if dims:
        raise InputError("count(): dims= re-bind an ONNX model's symbolic dims; a PyTorch model takes its "
                         "shapes from its example inputs" + (" (zoo models: onnx=True counts the export)"
                                                             if k == "zoo" else ""))
    if onnx:
        raise InputError("count(): onnx=True is for 'zoo:NAME' models")
    tpe = None
    if k == "torch":
        if task is not None or seq_len is not None:
            raise InputError("count(): task= and seq_len= are for hf: models; a module takes its example inputs")
        module, args, kwargs, source, built = model, example_args, example_kwargs, "", []
        declared = keras_backend.is_keras(model) and _keras_inputs_known(model)
        if batch is not None and not (declared and not (example_args or example_kwargs)):
            raise InputError("count(): batch= re-batches a zoo model or a Keras model's declared inputs; give a "
                             "module its inputs at that batch")
        if declared and not (example_args or example_kwargs):   # a Keras model's keras.Input shapes
            args = torch_frontend().keras.example_inputs(model, batch)
            built = [f"inputs: the Keras model's declared inputs at batch {batch or 1}"]
    else:
        tm = torch_model(model, example_args, example_kwargs, batch=batch, meta=not materialize, task=task,
                         seq_len=seq_len)
        module, args, kwargs, source, built = tm.module, tm.args, tm.kwargs, tm.source, tm.notes
        if causal is None:
            causal = tm.causal
        tpe = tm.tokens_per_example if not (example_args or example_kwargs) else None
    return count_module(module, args, kwargs, strict=strict, causal=bool(causal), training=training,
                        loss_fn=loss_fn, optimizer=optimizer, checkpointing=checkpointing,
                        materialize=materialize, examples_per_pass=examples_per_pass, source=source,
                        notes=built, tokens_per_example=tpe)


def zoo_entries() -> dict:
    """{name: entry} of the zoo (entry.kind, .description, .full_input)."""
    return dict(_zoo_package().MODELS)


# ------------------------------------------------------------------------------- serving
# What a serving estimate needs, read off the model: the cost of one request (prefill + decode
# steps over a KV cache, a GenerationCost) or of one forward pass of a batch (a ForwardCost).

def _spec(shape, dtype):
    return torch_frontend().spec(shape, dtype)


def generation_cost_torch(module, prompt_tokens: int, output_tokens: int) -> GenerationCost:
    """Prefill and decode cost of a transformers causal LM (or a module wrapping one as
    `.model`), captured on meta tensors with a meta KV cache (flopest.frontends.torch.generation)."""
    torch_frontend()
    from .frontends.torch import generation as gen
    hf = gen.hf_model(module)
    if hf is None:
        raise ServingError(f"{type(module).__name__} is not a transformers causal LM (no .config with "
                           f"num_hidden_layers): serve its ONNX decoder export with past key values, "
                           f"or give --params (2·N per token) or --wh-per-request")
    P = whole("prompt_tokens", prompt_tokens)
    O = whole("output_tokens", output_tokens)
    ctx, ctx_name = gen.context_of(hf.config)
    check_context(P, O, ctx, f"{type(hf).__name__} config {ctx_name}")
    layers, kvh, hd = gen.kv_shape(hf.config)
    keep = gen.keeps_last_logits(hf)

    def step(seq, past, batch=1):   # a causal LM: its masks are counted as causal (a prefill's half the pairs)
        return count(gen.DecodeStep(hf, past, keep), input_ids=_spec((batch, seq), "int64"), causal=True)

    pre = step(P, 0)
    points = {}
    notes = list(pre.notes)
    cfg = getattr(hf.config, "get_text_config", lambda: hf.config)()
    window = getattr(cfg, "sliding_window", None)
    types = getattr(cfg, "layer_types", None)
    n_sliding = (sum(t == "sliding_attention" for t in types) if isinstance(types, (list, tuple)) else
                 layers if window and getattr(cfg, "use_sliding_window", True) else 0)
    if window and n_sliding and P + O > window:
        notes.append(f"{n_sliding} of {layers} layers attend within a sliding window of {window:,} tokens: their "
                     f"attention FLOPs stop growing past it (counted so), but the KV cache is sized as if every "
                     f"layer kept the whole context (its memory and reads: an upper bound past {window:,} tokens), "
                     f"and the weights read per decode step, read off the decode cost, hold the windowed attention's "
                     f"share (a few % high)")
    if not keep:
        notes.append(f"{type(hf).__name__}.forward has no logits_to_keep: the prefill counts the logits of "
                     f"every prompt position (generation needs the last one only)")
    for p in fit_positions(P, O):
        c = step(1, p)
        points[p] = c
        notes += [n for n in c.notes if n not in notes]
    cache = {1: PassTables(1, pre, points)}

    def tables(batch: int) -> PassTables:
        """The same passes captured with `batch` sequences (the KV cache included), once per batch."""
        if batch not in cache:
            cache[batch] = PassTables(batch, step(P, 0, batch), {p: step(1, p, batch) for p in points})
        return cache[batch]

    return assemble(P, O, pre, points, pre.params, 2 * layers * kvh * hd, ctx,
                    type(hf).__name__, "torch", notes, tables)


def _unknown_note(c: Counts) -> list:
    return (["operators not costed (unknown_ops): " + ", ".join(f"{k} ×{v}" for k, v in sorted(c.unknown_ops.items()))]
            if c.unknown_ops else [])


def forward_cost_torch(module, args=(), kwargs=None, batch: int = 1) -> ForwardCost:
    """One forward pass at `batch` examples: the first dim of every example input is set to it."""
    def rebatch(x):
        shape = tuple(getattr(x, "shape", ()))
        if not shape:
            return x
        return _spec((batch,) + tuple(int(d) for d in shape[1:]), x.dtype)

    a = tuple(rebatch(x) for x in args)
    kw = {k: rebatch(v) for k, v in (kwargs or {}).items()}
    c = count(module, *a, **kw)
    from .frontends.torch.generation import param_elem_size
    return ForwardCost(batch, c.flops, c.matmul_flops, c.bytes, c.params, type(module).__name__, "torch",
                       list(c.notes) + _unknown_note(c), param_elem_size(module), c)


def generation_cost_onnx(model, prompt_tokens: int, output_tokens: int, dims=None, seq_dim=None,
                         past_dim=None, context: int | None = None) -> GenerationCost:
    """Prefill and decode cost of an ONNX decoder export that takes past key/values: read once,
    then re-bound (prefill: seq = P, past = 0; decode: seq = 1, past = p)."""
    from .frontends.onnx import roles
    P = whole("prompt_tokens", prompt_tokens)
    O = whole("output_tokens", output_tokens)
    check_context(P, O, context, "context")
    inputs = roles.graph_inputs(model)
    batch, seq_dim, past_dim, past_inputs = roles.decoder_roles(inputs, seq_dim, past_dim)
    fixed = parse_dims(dims)
    kv = 0
    for n, ds in past_inputs:
        e = 1
        for d in ds:
            if d in (batch, past_dim):
                continue
            if isinstance(d, int):
                e *= d
            elif d in fixed:
                e *= fixed[d]
            else:
                raise error(f"past input {n!r} has a dim {d!r} with no value: bind it with dims {d}=VALUE", "dims")
        kv += e
    base = dict(fixed)
    if batch:
        base[batch] = 1
    # other symbolic dims that follow the sequence (an attention mask over past + new tokens)
    other = sorted({d for _, ds in inputs for d in ds if isinstance(d, str)} - set(base) - {seq_dim, past_dim})

    def at(seq, past):
        d = dict(base, **{seq_dim: seq, past_dim: past})
        for o in other:
            d[o] = past + seq   # NB: an unnamed extra dim is taken as the total length
        return d

    c = count_onnx(model, at(P, 0), examples_per_pass=1, pinned=False)
    notes = list(c.notes)
    if other:
        notes.append(f"dims {', '.join(other)} taken as past + new tokens")
    if context is None:
        notes.append("the ONNX graph does not state its context length: prompt + output not checked (--context)")
    points = {p: c.at(**at(1, p)) for p in fit_positions(P, O)}
    src = model if isinstance(model, str) else "onnx model"

    def tables(b: int) -> PassTables:
        """The passes re-bound at `b` sequences (the graph's batch dim)."""
        if b == 1:
            return PassTables(1, c, points)
        if not batch:
            raise InputError(f"the ONNX decoder has no symbolic batch dim on its token input: its passes cannot be "
                             f"counted at batch {b}")
        return PassTables(b, c.at(**{**at(P, 0), batch: b}), {p: c.at(**{**at(1, p), batch: b}) for p in points})

    return assemble(P, O, c, points, c.params, kv, context, str(src), "onnx", notes, tables)


def forward_cost_onnx(model, dims=None, batch: int = 1, batch_dim: str = "batch") -> ForwardCost:
    """One forward pass of an ONNX model with its batch dim bound to `batch`."""
    from .frontends.onnx import roles
    d = parse_dims(dims)
    inputs = roles.graph_inputs(model)
    names = {x for _, ds in inputs for x in ds if isinstance(x, str)}
    if batch_dim in names:
        d[batch_dim] = batch
    elif batch != 1:
        raise InputError(f"the ONNX model has no dim named {batch_dim!r} to set --batch {batch} "
                         f"(its dims: {', '.join(sorted(names)) or 'none, all static'})")
    c = count_onnx(model, d, examples_per_pass=batch, pinned=False)
    return ForwardCost(batch, c.flops, c.matmul_flops, c.bytes, c.params, str(model), "onnx",
                       list(c.notes) + _unknown_note(c), roles.float_elem_size(model), c)


def serving_cost(model, args, kwargs, prompt_tokens, output_tokens, batch, dims, seq_dim, past_dim, context):
    """GenerationCost (output_tokens given) or ForwardCost of `model` at `batch`."""
    generative = output_tokens is not None
    if generative and prompt_tokens is None:
        raise error("output_tokens needs prompt_tokens (the prompt length)", "output_tokens", "prompt_tokens")
    if is_torch_spec(model):   # zoo:NAME or a factory: its module, and its example inputs unless given
        tm = (zoo_model(model) if is_zoo(model) else hf_model(model) if is_hf(model) else
              keras_model(model) if is_keras_file(model) else load_factory(model))
        if not args and not kwargs:
            args, kwargs = tm.args, tm.kwargs
        model = tm.module
    if is_torch_module(model):
        if generative:
            return generation_cost_torch(model, prompt_tokens, output_tokens)
        if not args and not kwargs:
            raise InputError(f"{type(model).__name__}: give its example inputs (one forward per request), or "
                             f"--output-tokens for a generative model")
        if prompt_tokens is not None:
            seq = whole("prompt_tokens", prompt_tokens)
            args = tuple(_with_seq(a, seq) for a in args)
            kwargs = {k: _with_seq(a, seq) for k, a in (kwargs or {}).items()}
        return forward_cost_torch(model, args, kwargs, batch)
    if args or kwargs:
        raise InputError("example inputs are for PyTorch modules; an ONNX model takes dims={...}")
    if generative:
        return generation_cost_onnx(model, prompt_tokens, output_tokens, dims, seq_dim, past_dim,
                                    whole("context", context, allow_none=True))
    d = dict(dims or {})
    if prompt_tokens is not None:
        d.setdefault(seq_dim or "sequence", whole("prompt_tokens", prompt_tokens))
    return forward_cost_onnx(model, d, batch)


def _with_seq(x, seq):
    """An example input of rank 2 (batch, tokens) with `seq` tokens."""
    shape = tuple(getattr(x, "shape", ()))
    if len(shape) != 2:
        return x
    return _spec((shape[0], seq), x.dtype)
