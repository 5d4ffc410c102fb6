"""What a worker runs: count one graph (a capture, or a re-bind of an ONNX model read once per
process) and estimate it on every scenario of its points.

A task is plain data (picklable, small): the model source, a few graphs with the points each
feeds, and the scenarios' estimate() keywords. Its result is {point id: row}, a row being the
values of :data:`RESULT` in order. Nothing here raises for a point: a model that cannot be built
or counted, an estimate that fails, a point past its time limit, is a row with status "failed"
and the error's message; the sweep goes on.
"""

from __future__ import annotations

import contextlib
import copy
import ctypes
import importlib
import json
import os
import sys
import threading
import time
from dataclasses import dataclass, field

from .. import models
from ..errors import FlopestError, InputError, did_you_mean, running_user_code
from ..impact import estimate

QUANTILES = ("p5", "p50", "p95")
FIGURES = ("time_s", "accelerator_hours", "energy_kwh", "co2eq_kg", "water_l", "cost_usd")
RESULT = (("status", "error", "flops", "params", "coverage", "unknown_ops")
          + tuple(f"{f}_{q}" for f in FIGURES for q in QUANTILES) + ("count_s", "estimate_s", "notes"))
MAX_NOTES = 2000   # characters of a point's notes kept in its row
MAX_MESSAGE = 500


@dataclass
class Task:
    """One unit of work: `graphs` = [(graph parameters, [(point id, scenario index), ...])]."""
    key: str
    kind: str
    target: str
    args: dict
    opts: dict
    graphs: list
    estimate_kw: list
    samples: int
    seed: int
    timeout: float | None = None
    paths: list = field(default_factory=list)

    @property
    def point_ids(self) -> list:
        return [pid for _, pts in self.graphs for pid, _ in pts]


class PointTimeout(BaseException):
    """Raised in the thread running a point when --point-timeout passes (a BaseException, so
    that the user's `except Exception` does not swallow it)."""


@contextlib.contextmanager
def deadline(seconds: float | None):
    """Raise PointTimeout in this thread once `seconds` have passed (None: no limit). The
    exception is delivered when the thread next runs Python code: a long native call (one
    kernel) finishes first."""
    if not seconds:
        yield
        return
    tid = threading.get_ident()
    lock = threading.Lock()
    state = {"done": False, "fired": False}

    def fire():
        with lock:
            if not state["done"]:
                state["fired"] = True
                ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(tid), ctypes.py_object(PointTimeout))

    timer = threading.Timer(seconds, fire)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        with lock:
            state["done"] = True
        timer.cancel()
        if state["fired"]:   # set but maybe not yet delivered: clear it
            ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(tid), None)


def failed(message: str, count_s: float | None = None) -> tuple:
    row = dict.fromkeys(RESULT)
    row.update(status="failed", error=_clip(message), count_s=count_s)
    return tuple(row[c] for c in RESULT)


def failed_task(task: Task, message: str) -> dict:
    """Every point of `task` failed with `message` (a worker that died, a task Dask lost)."""
    return {pid: failed(message) for pid in task.point_ids}


def _clip(text: str) -> str:
    t = " ".join(str(text).split())
    return t if len(t) <= MAX_MESSAGE else t[:MAX_MESSAGE] + "…"


def _main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


def _message(exc: BaseException, what: str, phase: str, timeout) -> str:
    if isinstance(exc, PointTimeout):
        return f"timed out after {timeout:g} s while {phase} (the point timeout)"
    if isinstance(exc, FlopestError):
        return str(exc)
    text = str(exc).strip()
    return f"{what} raised {type(exc).__name__}" + (f": {text}" if text else "")


# ----------------------------------------------------------------------------- running a task
def run(task: Task) -> dict:
    """{point id: row} for every point of `task`."""
    for p in task.paths:
        if p and p not in sys.path:
            sys.path.insert(0, p)
    try:
        prepare(task)
    except BaseException as exc:   # noqa: B036 — an import that fails: every point of the task
        if isinstance(exc, KeyboardInterrupt) and _main_thread():
            raise
        if isinstance(exc, (MemoryError, GeneratorExit)):
            raise
        return failed_task(task, _message(exc, describe(task, {}), "preparing", task.timeout))
    out = {}
    for params, points in task.graphs:
        what = describe(task, params)
        t0 = time.perf_counter()
        counts, error = None, None
        try:
            with deadline(task.timeout):
                counts = count_graph(task, params, what)
        except BaseException as exc:   # noqa: B036 — the model's failure, recorded
            if isinstance(exc, KeyboardInterrupt) and _main_thread():
                raise   # Ctrl-C or SIGTERM of an in-process sweep: stop it
            if isinstance(exc, (MemoryError, GeneratorExit)):
                raise
            error = _message(exc, what, "counting the model", task.timeout)
        count_s = time.perf_counter() - t0
        for pid, si in points:
            if error is not None:
                out[pid] = failed(error, count_s)
                continue
            out[pid] = estimate_point(task, counts, task.estimate_kw[si], count_s)
        del counts
    return out


def estimate_point(task: Task, counts, kw: dict, count_s: float) -> tuple:
    t0 = time.perf_counter()
    kw = dict(kw)
    if task.kind == "onnx":   # a graph without optimizer rows: the workload adds the step
        kw["optimizer"] = task.opts.get("optimizer") or "adam"
    try:
        with deadline(task.timeout):
            est = estimate(counts, samples=task.samples, seed=task.seed, **kw)
    except BaseException as exc:   # noqa: B036
        if isinstance(exc, KeyboardInterrupt) and _main_thread():
            raise
        if isinstance(exc, (MemoryError, GeneratorExit)):
            raise
        return failed(_message(exc, "the estimate", "estimating", task.timeout), count_s)
    row = {"status": "ok", "error": None, "flops": float(est.flops), "params": int(counts.params),
           "coverage": float(est.coverage) if est.coverage is not None else None,
           "unknown_ops": ", ".join(f"{k} ×{v}" for k, v in sorted(est.unknown_ops.items())) or None,
           "count_s": count_s}
    res = est.result
    for f in FIGURES[:-1]:
        for q in QUANTILES:
            row[f"{f}_{q}"] = float(res[f][q]) if f in res else None
    cost = _cost(est)
    for q in QUANTILES:
        row[f"cost_usd_{q}"] = cost[q] if cost else None
    row["estimate_s"] = time.perf_counter() - t0
    # the estimate's notes (what it assumed: a step time scaled from the counted batch, defaults)
    said = list(dict.fromkeys(list(est.notes) + list(getattr(est.scenario, "notes", []) or [])))   # as to_dict()
    text = " | ".join(" ".join(str(n).split()) for n in said)
    row["notes"] = (text if len(text) <= MAX_NOTES else text[:MAX_NOTES] + "…") or None
    return tuple(row.get(c) for c in RESULT)


def _cost(est) -> dict | None:
    """The plan's cost in USD where the estimate gives one ({p5, p50, p95}; None without a price)."""
    for v in (est.result.get("cost_usd"), getattr(est, "cost_usd", None)):
        if isinstance(v, dict) and "p50" in v:
            return {q: float(v.get(q, v["p50"])) for q in QUANTILES}
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            return dict.fromkeys(QUANTILES, float(v))
    return None


def describe(task: Task, params: dict) -> str:
    """"factory 'm:make' (layers=2, d_model=256)": the model of one graph, in messages."""
    src = {"factory": f"factory {task.target!r}", "hf": f"hf:{task.target}", "onnx": f"{task.target!r}",
           "zoo": f"zoo:{task.target}"}[task.kind]
    shown = ", ".join(f"{k}={v!r}" for k, v in params.items())
    return f"{src} ({shown})" if shown else src


# ----------------------------------------------------------------------------- counting
_CACHE: dict = {}        # per process: ONNX models read once, hf configs read once
_CACHE_LOCK = threading.Lock()
_READY: set = set()      # per process: the sources whose imports and kernels are warm


def prepare(task: Task) -> None:
    """What a process does once, before any point's time limit runs: import the front end (torch
    and its torch._dynamo, transformers) and the factory's module, read an ONNX model, and
    compile or load the Numba kernels by counting and estimating a tiny model. A time limit must
    not interrupt an import or a first compilation: a half-imported module breaks every later
    point."""
    key = (task.kind, task.target if task.kind in ("factory", "hf") else "")
    if key in _READY:
        return
    estimate(params=1e6, tokens=1e6, device="h100-sxm", samples=16)        # the Monte-Carlo kernels
    if task.kind == "onnx":   # the model itself, read once per process (the count kernels with it)
        onnx_base(task, task.graphs[0][0] if task.graphs else {})
    else:
        fe = models.torch_frontend()
        module = sys.modules["torch"].nn.Linear(2, 2)
        models.count_module(module, (fe.spec((1, 2)),), training=True, optimizer="adam")   # torch._dynamo, kernels
        if task.kind == "factory":
            import_factory(task.target)
        elif task.kind == "hf":
            hf_config(task.target)
    _READY.add(key)


def count_graph(task: Task, params: dict, what: str):
    """The Counts of one graph: a training capture (factory, hf, zoo), or the ONNX model read
    once per process and re-bound at `params` (its dims)."""
    o = task.opts
    causal = o.get("causal")
    per = o.get("examples-per-pass")
    if task.kind == "onnx":
        base = onnx_base(task, params)
        return base.at(**params) if params else base
    kw = {**task.args, **params}
    if task.kind == "factory":
        tm = factory_model(task.target, kw, what)
    elif task.kind == "hf":
        tm = hf_model(task.target, kw, what)
    else:
        tm = models.zoo_model(f"zoo:{task.target}", batch=kw.get("batch"))
    if causal is None:
        causal = tm.causal
    return models.count_module(tm.module, tm.args, tm.kwargs, training=True, causal=bool(causal),
                               optimizer=o.get("optimizer") or "adam", checkpointing=bool(o.get("checkpointing")),
                               examples_per_pass=per, source=what, notes=tm.notes,
                               tokens_per_example=tm.tokens_per_example)


def onnx_base(task: Task, params: dict):
    """The ONNX model of `task`, read once per process at its fixed dims and `params` (then
    re-bound: Counts.at)."""
    o = task.opts
    key = ("onnx", task.target, json.dumps(task.args, sort_keys=True), o.get("causal"), o.get("examples-per-pass"))
    with _CACHE_LOCK:
        base = _CACHE.get(key)
    if base is None:
        base = models.count_onnx(task.target, {**task.args, **params}, examples_per_pass=o.get("examples-per-pass"),
                                 causal=bool(o.get("causal")))
        with _CACHE_LOCK:
            _CACHE[key] = base
    return base


def import_factory(target: str):
    """The callable of `package.module:callable` (from the spec's folder, the current folder or
    PYTHONPATH)."""
    modname, _, attr = target.partition(":")
    try:
        with running_user_code():
            mod = importlib.import_module(modname)
    except Exception as exc:
        raise InputError(f"cannot import {modname!r} for the factory {target!r} ({type(exc).__name__}: {exc}); "
                         f"check the module path (the spec's folder, the current folder and PYTHONPATH are "
                         f"searched)") from None
    obj = mod
    for part in attr.split("."):
        if not hasattr(obj, part):
            names = [n for n in dir(obj) if not n.startswith("_")]
            raise InputError(f"{modname!r} has no attribute {attr!r}{did_you_mean(part, names)} (factory {target!r})")
        obj = getattr(obj, part)
    if not callable(obj):
        raise InputError(f"factory {target!r} is not callable")
    return obj


def factory_model(target: str, kwargs: dict, what: str) -> models.TorchModel:
    """The factory called with `kwargs` on the meta device: a module, or (module, example inputs)."""
    fn = import_factory(target)
    fe = models.torch_frontend()
    with running_user_code():
        made, note = fe.build_on_meta(lambda: fn(**kwargs), what)
    notes = [note] if note else []
    if models.is_torch_module(made):
        raise InputError(f"{what} returned a module without example inputs: return (module, inputs)")
    if isinstance(made, tuple) and len(made) == 2 and models.is_torch_module(made[0]):
        module, example = made
        if isinstance(example, dict):
            return models.TorchModel(module, (), dict(example), what, notes=notes)
        if isinstance(example, (tuple, list)):
            return models.TorchModel(module, tuple(example), {}, what, notes=notes)
        return models.TorchModel(module, (example,), {}, what, notes=notes)
    shown = repr(made)
    shown = shown if len(shown) <= 60 else shown[:60] + "…"
    raise InputError(f"{what} returned {type(made).__name__} {shown}; a sweep's factory returns a "
                     f"(module, example_inputs) pair")


def hf_config(target: str):
    """(config, its config.json as a dict) of an hf: source, read once per process."""
    key = ("hf", target)
    with _CACHE_LOCK:
        got = _CACHE.get(key)
    if got is None:
        models.torch_frontend()
        from ..frontends.torch import hf
        cfg, _ = hf.read_config(target)
        raw = None
        path = getattr(cfg, "name_or_path", "") or ""
        if os.path.isfile(path):
            try:
                with open(path, encoding="utf-8") as f:
                    raw = json.load(f)
            except (OSError, ValueError):
                raw = None
        got = (cfg, raw if isinstance(raw, dict) else cfg.to_dict())
        with _CACHE_LOCK:
            _CACHE[key] = got
    return got


def hf_overrides(cfg, kwargs: dict, what: str) -> tuple:
    """(config overrides, task, seq_len, batch) of an hf: graph's keys; an override the config
    does not have is an error naming the closest key."""
    special = {str(k).replace("_", "-"): v for k, v in kwargs.items() if str(k).replace("_", "-") in
               ("task", "seq-len", "batch")}
    over = {k: v for k, v in kwargs.items() if str(k).replace("_", "-") not in ("task", "seq-len", "batch")}
    for k in over:
        if not hasattr(cfg, k):
            known = list(cfg.to_dict())
            raise InputError(f"{what}: the {type(cfg).__name__} has no {k!r}{did_you_mean(k, known)}; overrides "
                             f"are the config's own keys")
    return over, special.get("task"), special.get("seq-len"), special.get("batch")


def hf_model(target: str, kwargs: dict, what: str) -> models.TorchModel:
    """An hf: config with overrides (num_hidden_layers, hidden_size, ...) applied before the config
    is built, so that what derives from them (head_dim) follows; built on the meta device."""
    fe = models.torch_frontend()
    from ..frontends.torch import hf
    cfg, raw = hf_config(target)
    over, task, seq_len, batch = hf_overrides(cfg, kwargs, what)
    if over:
        cfg = type(cfg).from_dict({**copy.deepcopy(raw), **over})
    task, why = hf.task_of(cfg, task)
    module, note = fe.build_on_meta(lambda: hf.build(cfg, task), what)
    inputs, seq, notes = hf.example_inputs(cfg, task, seq_len, batch or 1)
    notes = [f"{what}: {type(cfg).__name__}; head {task} ({why})"] + notes + ([note] if note else [])
    return models.TorchModel(module, (), inputs, what, notes=notes, causal=task == "causal-lm",
                             tokens_per_example=seq)


# ----------------------------------------------------------------------------- checks before work
def check_source(kind: str, target: str, args: dict, first: dict, opts: dict, where: str, paths=()) -> None:
    """What can be checked of the model before any worker starts: an ONNX model's dims (read
    once here), an hf: config's override keys, a factory module that can be found."""
    if kind == "onnx":
        try:
            models.count_onnx(target, {**args, **first}, examples_per_pass=opts.get("examples-per-pass"),
                              causal=bool(opts.get("causal")))
        except FlopestError as exc:
            raise InputError(f"sweep spec {where!r}: [model] onnx {os.path.basename(target)!r}: {exc}") from None
    elif kind == "hf":
        try:
            cfg, _ = hf_config(target)
            hf_overrides(cfg, {**args, **first}, f"hf:{target}")
        except FlopestError as exc:
            raise InputError(f"sweep spec {where!r}: [model] {exc}") from None
    elif kind == "factory":
        import importlib.util
        modname = target.partition(":")[0]
        for p in paths:
            if p and p not in sys.path:
                sys.path.insert(0, p)
        try:
            found = importlib.util.find_spec(modname)
        except (ImportError, ValueError):
            found = None
        if found is None:
            raise InputError(f"sweep spec {where!r}: [model] factory {target!r}: no module {modname!r} in the spec's "
                             f"folder, the current folder or PYTHONPATH")
        # a keyword the factory does not take would fail every point after its work: named before
        import inspect
        try:
            fn = import_factory(target)
            sig = inspect.signature(fn)
        except (FlopestError, TypeError, ValueError):   # not importable or not inspectable here: the points say
            return
        except Exception:   # noqa: BLE001 — the factory's module raising on import: each point records it
            return
        if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in sig.parameters.values()):
            return
        names = [n for n, p in sig.parameters.items() if p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD,
                                                                     inspect.Parameter.KEYWORD_ONLY)]
        unknown = [k for k in {**args, **first} if k not in names]
        if unknown:
            raise InputError(f"sweep spec {where!r}: [model] factory {target!r} takes no keyword {unknown[0]!r}"
                             f"{did_you_mean(unknown[0], names)} (its keywords: {', '.join(names) or 'none'})")
