"""The one resolver: from what a user holds to :class:`~flopest.counts.Counts`.

A model is one of

- an ``.onnx`` path or an ``onnx.ModelProto`` (read without its weights, dims symbolic);
- a ``torch.nn.Module`` with its example inputs (captured on meta tensors);
- ``"zoo:NAME"``: a model of the repository's ``model_zoo/``, **the PyTorch module at its
  example inputs** everywhere (``flopest.count``, ``flopest count``, ``estimate``, ``serve``);
  ``onnx=True`` (``--onnx``) counts its ONNX export instead, whose dims can be re-bound;
- ``"package.module:factory"``: a callable returning a module or a ``(module, inputs)`` pair.

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

from .counts import Counts, parse_dims
from .errors import (InputError, ModelRunError, UnknownOperatorError, did_you_mean, is_ctrl_c,
                     running_user_code)

ZOO_PREFIX = "zoo:"
FACTORY = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")
MAX_CAPTURE_BATCH = 4096   # zoo models are captured at a requested batch up to this size (meta tensors)


# ----------------------------------------------------------------------------- what is it
def is_torch_module(obj) -> bool:
    torch = sys.modules.get("torch")   # a Module can only exist if torch was imported
    return torch is not None and isinstance(obj, torch.nn.Module)


def is_onnx_proto(obj) -> bool:
    onnx = sys.modules.get("onnx")
    return onnx is not None and isinstance(obj, onnx.ModelProto)


def is_zoo(spec) -> bool:
    return isinstance(spec, str) and spec.startswith(ZOO_PREFIX)


def is_factory(spec) -> bool:
    """`package.module:callable`, and not an existing file (a Windows path has a colon too)."""
    return isinstance(spec, str) and not os.path.exists(spec) and bool(FACTORY.match(spec))


def is_torch_spec(spec) -> bool:
    """A model spec the PyTorch front end counts (zoo:NAME or a factory), not an ONNX file."""
    return is_zoo(spec) or is_factory(spec)


def kind(model) -> str:
    """"torch", "onnx", "zoo" or "factory"; InputError for anything else."""
    if is_torch_module(model):
        return "torch"
    if is_onnx_proto(model) or isinstance(model, (str, os.PathLike)) and not is_torch_spec(str(model)):
        return "onnx"
    if is_zoo(model):
        return "zoo"
    if is_factory(model):
        return "factory"
    raise InputError(f"cannot count a {type(model).__name__}: give an .onnx path, an onnx.ModelProto, "
                     f"a torch.nn.Module with example inputs, 'zoo:NAME' or 'package.module:factory'")


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


def zoo_model(spec: str, batch: int | None = None) -> TorchModel:
    """The zoo model's PyTorch module at its example inputs; `batch` replaces the dim of every
    input axis the zoo names "batch" (meta tensors: no memory)."""
    tensor_spec = torch_frontend().spec
    name = _zoo_name(spec)
    module, example, input_names, axes = _zoo_package().get(name, size="full")
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
    return TorchModel(module, args, {}, spec)


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


def load_factory(target: str) -> TorchModel:
    """Import `package.module:callable` (from the current folder or PYTHONPATH) and call it: it
    returns a torch.nn.Module, or a (module, example inputs) pair where the inputs are a tensor,
    a tuple/list of them, or a dict of keyword inputs."""
    modname, _, attr = target.partition(":")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
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
    made = _run_user_code(f"factory {target!r}", obj)
    if is_torch_module(made):
        return TorchModel(made, (), {}, target)
    if isinstance(made, tuple) and len(made) == 2 and is_torch_module(made[0]):
        module, example = made
        if isinstance(example, dict):
            return TorchModel(module, (), dict(example), target)
        if isinstance(example, (tuple, list)):
            return TorchModel(module, tuple(example), {}, target)
        return TorchModel(module, (example,), {}, target)
    shown = repr(made)
    shown = shown if len(shown) <= 60 else shown[:60] + "…"
    raise InputError(f"factory {target!r} returned {type(made).__name__} {shown}; it must return a "
                     f"torch.nn.Module or a (module, example_inputs) pair")


def torch_model(spec: str, args=(), kwargs=None, batch: int | None = None) -> TorchModel:
    """The PyTorch model of a zoo:NAME or factory spec; `args`/`kwargs` (example inputs given by
    the user) replace the model's own; `batch` re-batches a zoo model's example inputs."""
    kwargs = dict(kwargs or {})
    if is_zoo(spec):
        tm = zoo_model(spec, batch=None if (args or kwargs) else batch)
    else:
        tm = load_factory(spec)
    if args or kwargs:
        tm.args, tm.kwargs = tuple(args), kwargs
    if not tm.args and not tm.kwargs:
        raise InputError(f"factory {spec!r} returned no example inputs: give them with --input SHAPE "
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
               examples_per_pass: int | None = None) -> Counts:
    """Read an ONNX model (path or ModelProto) once and count it at `dims`."""
    from .frontends import onnx as fe

    bound = parse_dims(dims)
    low, m, stats, names, mode = fe.analyse(model, bound)
    params = fe.count_params(m)
    src = str(stats.get("source", ""))

    def make(low_, dims_, rebind=None):
        per, reason, dim = _onnx_examples(low_, dims_, examples_per_pass)
        return Counts(low_.table, params, dict(low_.unknown_ops), low_.node_count, low_.costed,
                      dims_, names, list(low_.notes), src, causal, rebind,
                      examples_per_pass=per, examples_reason=reason, examples_dim=dim)

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
        return int(given), "given", None
    lead = getattr(low, "examples_per_pass", None)
    reason = getattr(low, "examples_reason", "") or "the model's first input has no leading axis"
    if isinstance(lead, bool) or lead is None:
        return None, reason, None
    if isinstance(lead, int):
        return lead, "the first input's leading axis", None
    if isinstance(lead, str):
        if lead in dims:
            return int(dims[lead]), f"the first input's leading axis {lead!r}", lead
        return None, f"the first input's leading axis {lead!r} is not bound", lead
    return None, reason, None


def count_module(module, args=(), kwargs=None, *, strict=False, causal=False, training=False,
                 loss_fn=None, optimizer=None, checkpointing=False, materialize=False,
                 examples_per_pass: int | None = None, source: str = "") -> Counts:
    """Capture a torch.nn.Module on meta tensors (see flopest.frontends.torch) and count it."""
    fe = torch_frontend()
    with TORCH_CAPTURE_LOCK, running_user_code():
        cap = fe.capture(module, args, kwargs, training=training, loss_fn=loss_fn, optimizer=optimizer,
                         checkpointing=checkpointing, materialize=materialize)
    if examples_per_pass is not None:
        per, reason = int(examples_per_pass), "given"
    else:
        per, reason = fe.examples_per_pass(args, kwargs or {})
    c = Counts(cap.table, cap.params, dict(cap.unknown), cap.nodes, cap.costed, {}, [],
               list(cap.notes), source or type(module).__name__, causal, concrete=True,
               examples_per_pass=per, examples_reason=reason)
    if strict and c.unknown_ops:
        _strict(c, "operator call(s)")
    return c.evaluate()


def count(model, *example_args, dims=None, strict: bool = False, causal: bool = False,
          training: bool = False, loss_fn=None, optimizer: str | None = None,
          checkpointing: bool = False, materialize: bool = False, examples_per_pass: int | None = None,
          batch: int | None = None, onnx: bool = False, **example_kwargs) -> Counts:
    """FLOPs, bytes and params of `model`.

    model: an .onnx path, an onnx.ModelProto, ``"zoo:NAME"`` (the zoo's PyTorch module at its
    example inputs; ``onnx=True`` counts its ONNX export), ``"package.module:factory"``, or a
    torch.nn.Module followed by its example inputs (tensors, ``flopest.spec(shape, dtype)``,
    dicts, keyword arguments as Hugging Face models take them), captured on meta tensors: no
    weight allocated. Keyword arguments other than those below are the module's keyword inputs
    (a TypeError for an ONNX model).
    dims: values of an ONNX model's symbolic dims ({"batch": 8, "sequence": 512}).
    strict: raise UnknownOperatorError when any operator is not costed.
    causal: count attention operators flagged causal over the unmasked pairs only.
    training (PyTorch): forward + backward through autograd (loss = loss_fn(output), default the
    sum of the outputs); optimizer "sgd" | "sgd-momentum" | "adam" | "adamw" adds its step;
    checkpointing adds the recomputed forward. materialize: run models whose control flow
    depends on data on real CPU tensors (small models only).
    examples_per_pass: examples one counted pass processes, when it cannot be read off the
    inputs (the common leading dim of every input tensor; an ONNX model's first input axis).
    batch: a zoo model's inputs re-batched to this many examples.
    Returns a :class:`flopest.counts.Counts`; for ONNX, ``.at(**dims)`` re-binds without re-reading.
    """
    k = kind(model)
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
        return count_onnx(model, dims, strict=strict, causal=causal, examples_per_pass=examples_per_pass)
    if k == "zoo":
        _zoo_name(model)   # an unknown zoo name first: it is the likelier mistake
    if dims:
        raise InputError("count(): dims= re-bind an ONNX model's symbolic dims; a PyTorch model takes its "
                         "shapes from its example inputs" + (" (zoo models: onnx=True counts the export)"
                                                             if k == "zoo" else ""))
    if onnx:
        raise InputError("count(): onnx=True is for 'zoo:NAME' models")
    if k == "torch":
        if batch is not None:
            raise InputError("count(): batch= re-batches a zoo model; give a module its inputs at that batch")
        module, args, kwargs, source = model, example_args, example_kwargs, ""
    else:
        tm = torch_model(model, example_args, example_kwargs, batch=batch)
        module, args, kwargs, source = tm.module, tm.args, tm.kwargs, tm.source
    return count_module(module, args, kwargs, strict=strict, causal=causal, training=training,
                        loss_fn=loss_fn, optimizer=optimizer, checkpointing=checkpointing,
                        materialize=materialize, examples_per_pass=examples_per_pass, source=source)


def zoo_entries() -> dict:
    """{name: entry} of the zoo (entry.kind, .description, .full_input)."""
    return dict(_zoo_package().MODELS)
