"""The sweep spec: one model source varied over its parameters × plan and scenario axes.

A spec is a TOML file (or the same structure as a dict)::

    samples = 10000                       # Monte-Carlo samples per estimate (default 10,000)
    seed = 20261122

    [model]
    factory = "sweep_models:llama"        # one of: factory, hf, onnx, zoo
    args = { vocab = 8000, seq = 128 }    # fixed: factory keywords, hf: config overrides, ONNX dims
    grid = { layers = [2, 4], d_model = [256, 512] }   # varied: one graph per combination
    # or [[model.points]] tables: an explicit list of graphs

    [plan]                                # fixed plan and scenario values (the flags of `estimate`)
    dataset-size = "1M"
    [grid]                                # varied plan and scenario values
    device = ["h100-sxm", "a100-sxm4-80gb"]
    region = ["FR", "US"]
    # or [[points]] tables: an explicit list of scenarios

Every graph is counted once (a capture, or an ONNX re-bind) and estimated on every scenario:
a point is one graph × one scenario, one row of the results. Everything is checked here, before
any work: unknown keys (with the closest key), unknown devices, regions and data centres, values
that do not parse, a scenario the impact model refuses.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import os
from dataclasses import dataclass, field

from .. import data, models
from ..errors import ConfigError, FlopestError, InputError, did_you_mean
from ..units import parse_count

DEFAULT_SAMPLES = 10_000     # per estimate: stable p5/p95 at a tenth of `estimate`'s cost
MAX_POINTS = 2_000_000       # graphs × scenarios: the results of a larger sweep do not fit in memory
TOP_KEYS = ("model", "plan", "grid", "points", "samples", "seed", "name")
SOURCES = ("factory", "hf", "onnx", "zoo")
MODEL_KEYS = SOURCES + ("args", "grid", "points")
# plan and scenario keys (the long flags of `flopest estimate`) -> estimate() keyword, kind
SCENARIO = {
    "device": ("device", "device"), "devices": ("n_devices", "whole"), "region": ("region", "region"),
    "datacenter": ("datacenter", "datacenter"), "precision": ("precision", "precision"),
    "pue": ("pue", "number"), "intensity": ("intensity", "number"), "mfu": ("mfu", "number"),
    "power-w": ("power_w", "number"), "lifetime-years": ("lifetime_years", "number"),
    "dataset-size": ("dataset_size", "count"), "tokens": ("tokens", "count"), "epochs": ("epochs", "whole"),
    "batch-size": ("batch_size", "whole"), "eval-size": ("eval_size", "whole0"), "trials": ("trials", "whole"),
    "early-stopping": ("trial_fraction", "number"), "price-per-hour": ("price_per_hour", "number"),
}
# keys that change the counted graph: given once, in [plan]
GRAPH = {"optimizer": ("sgd", "sgd-momentum", "adam", "adamw"), "checkpointing": (True, False),
         "causal": (True, False), "examples-per-pass": None}
DEFAULTS = {"device": "h100-sxm", "region": "WORLD"}   # as `flopest estimate`
HF_SPECIAL = ("task", "seq-len", "batch")               # hf: keys that are not config overrides
HF_TASKS = ("causal-lm", "seq2seq", "masked-lm", "classification", "base")   # `flopest estimate --task`


class SpecError(ConfigError):
    """A sweep spec that cannot run, named with its file and key."""


@dataclass
class Point:
    """One row of the results: graph `graph` × scenario `scenario` (indices into the spec's lists)."""
    id: str
    graph: int
    scenario: int


@dataclass
class Spec:
    """A checked sweep spec: the model source, its graphs (parameter dicts), the scenarios
    (column values) and their estimate() keywords, and every point with its stable id."""
    where: str                      # the file (or "spec") named in messages
    folder: str                     # relative paths of the spec are read from here
    kind: str                       # factory | hf | onnx | zoo
    ref: str                        # the source as written
    target: str                     # the source to load: an absolute path where it is a file
    args: dict                      # fixed factory keywords / hf overrides / ONNX dims
    graph_opts: dict                # optimizer, checkpointing, causal, examples-per-pass
    graphs: list                    # [{param: value}] one per graph
    scenarios: list                 # [{column: value}] one per scenario (fixed plan values included)
    estimate_kw: list               # [{estimate keyword: value}] per scenario
    samples: int = DEFAULT_SAMPLES
    seed: int = 20261122
    name: str = ""
    graph_columns: tuple = ()
    scenario_columns: tuple = ()
    points: list = field(default_factory=list)
    graph_ids: list = field(default_factory=list)

    @property
    def columns(self) -> tuple:
        return self.graph_columns + self.scenario_columns

    def values(self, p: Point) -> dict:
        """{column: value} of point `p` (its graph's parameters, then its scenario's)."""
        g = self.graphs[p.graph]
        s = self.scenarios[p.scenario]
        return {**{c: g.get(c) for c in self.graph_columns}, **{c: s.get(c) for c in self.scenario_columns}}


# ----------------------------------------------------------------------------- reading
def load(spec, base: str | None = None) -> Spec:
    """A checked Spec from a TOML path or a dict (relative paths from `base`, default the
    file's folder or the current one). SpecError (exit 2) names the file, the key and the fix."""
    if isinstance(spec, Spec):
        return spec
    if isinstance(spec, (str, os.PathLike)):
        path = os.fspath(spec)
        from .. import config
        try:
            table = config.read(path)
        except ConfigError as exc:
            msg = str(exc).replace(f"config {path!r}", f"sweep spec {path!r}", 1)
            raise SpecError(msg) from None
        where, folder = path, os.path.dirname(os.path.abspath(path))
    elif isinstance(spec, dict):
        table, where, folder = spec, "spec", os.path.abspath(base or os.getcwd())
    else:
        raise InputError(f"sweep() takes a spec: a TOML file's path or a dict, not {type(spec).__name__}")
    return _Reader(where, folder).read(table)


def _canon(key) -> str:
    return str(key).strip().replace("_", "-")


def _column(key: str) -> str:
    return key.replace("-", "_")


class _Reader:
    def __init__(self, where: str, folder: str):
        self.where = where
        self.folder = folder

    def fail(self, what: str, fix: str = "") -> SpecError:
        return SpecError(f"sweep spec {self.where!r}: {what}" + (f"; {fix}" if fix else ""))

    def once(self, table, section: str) -> None:
        """Refuse two spellings of one key in a table (power-w and power_w): the last would win
        silently, and a results column would be written twice."""
        seen: dict = {}
        for k in table:
            c = _canon(k)
            if c in seen:
                raise self.fail(f"{section} gives {seen[c]!r} and {k!r}, one key written two ways", "give it once")
            seen[c] = k

    def keys(self, table, allowed, section: str) -> None:
        if not isinstance(table, dict):
            raise self.fail(f"{section} must be a table, got {type(table).__name__}")
        for k in table:
            if k not in allowed:
                raise self.fail(f"unknown key {k!r} in {section}{did_you_mean(str(k), allowed)}",
                                f"keys: {', '.join(allowed)}")

    # ------------------------------------------------------------------------- the whole spec
    def read(self, t) -> Spec:
        self.keys(t, TOP_KEYS, "the spec")
        if "model" not in t:
            raise self.fail("no [model] table", f"name the model with one of {', '.join(SOURCES)} "
                            "(e.g. [model] factory = \"mymodule:make\")")
        samples = self.whole("samples", t.get("samples", DEFAULT_SAMPLES))
        if samples > 10**7:
            raise self.fail(f"samples {samples:,} per estimate is more than 10,000,000", "give fewer (10,000 is the default)")
        seed = self.whole("seed", t.get("seed", 20261122), zero=True)
        name = t.get("name", "")
        if not isinstance(name, str):
            raise self.fail(f"name must be a string, got {name!r}")
        kind, ref, target, args, graphs, gcols = self.model(t["model"])
        fixed, opts = self.plan(t.get("plan", {}), kind)
        if "grid" in t and "points" in t:
            raise self.fail("both [grid] and [[points]]", "give the scenarios as a grid or as a list, not both")
        axes = self.axes(t.get("grid"), t.get("points"), "[grid]", "[[points]]", self.scenario_value, canon=True)
        for k in axes.columns:
            if k in fixed:
                raise self.fail(f"{k!r} is in both [plan] and the scenario axes", "give it in one of them")
            if k in GRAPH:
                raise self.fail(f"{k!r} changes the counted graph and cannot vary", "give it once in [plan]")
        overlap = [c for c in gcols if _column(c) in {_column(k) for k in list(fixed) + list(axes.columns) + list(DEFAULTS)}]
        if overlap:
            raise self.fail(f"{overlap[0]!r} is both a model parameter and a plan key",
                            "rename the factory keyword, or drop it from [plan] / [grid]")
        scen_cols = tuple(axes.columns) + tuple(k for k in fixed if k not in axes.columns)
        scenarios, kws = [], []
        for combo in axes.rows:
            vals = {**DEFAULTS, **fixed, **combo}
            scenarios.append({_column(k): vals.get(k) for k in scen_cols})
            kws.append({SCENARIO[k][0]: v for k, v in vals.items()})
        for k in DEFAULTS:   # the defaults are columns too: a report says where a point ran
            if k not in scen_cols:
                scen_cols += (k,)
                for s in scenarios:
                    s[k] = DEFAULTS[k]
        if "dataset_size" not in kws[0] and "tokens" not in kws[0]:
            raise self.fail("no dataset-size (training examples) or tokens in [plan] or the scenario axes",
                            "add e.g. dataset-size = \"1M\" to [plan]")
        if any("tokens" in kw and "dataset_size" in kw for kw in kws):
            raise self.fail("both tokens and dataset-size", "give the dataset once: dataset-size (examples) or tokens")
        if any("tokens" in kw for kw in kws) and kind != "hf":
            raise self.fail("tokens needs an hf: model (its sequence length turns tokens into examples)",
                            "give dataset-size (examples: sequences, images) instead")
        self.check_scenarios(scenarios, kws, axes.columns)
        n = len(graphs) * len(scenarios)
        if n > MAX_POINTS:
            raise self.fail(f"{len(graphs):,} graphs × {len(scenarios):,} scenarios = {n:,} points, more than "
                            f"{MAX_POINTS:,}", "split the sweep into several specs")
        spec = Spec(self.where, self.folder, kind, ref, target, args, opts, graphs, scenarios, kws, samples,
                    seed, name, tuple(gcols), tuple(_column(c) for c in scen_cols))
        self.identify(spec)
        return spec

    def whole(self, key, v, zero: bool = False) -> int:
        ok = isinstance(v, int) and not isinstance(v, bool) and (v > 0 or (zero and v == 0))
        if not ok:
            raise self.fail(f"{key} must be a {'non-negative' if zero else 'positive'} whole number, got {v!r}")
        return v

    # ------------------------------------------------------------------------- [model]
    def model(self, m):
        self.keys(m, MODEL_KEYS, "[model]")
        given = [k for k in SOURCES if k in m]
        if len(given) != 1:
            what = "no model source" if not given else f"{len(given)} model sources ({', '.join(given)})"
            raise self.fail(f"[model] has {what}", f"give exactly one of {', '.join(SOURCES)}")
        kind = given[0]
        ref = m[kind]
        if not isinstance(ref, str) or not ref.strip():
            raise self.fail(f"[model] {kind} must be a non-empty string, got {ref!r}")
        target = self.source(kind, ref.strip())
        args = self.params(m.get("args", {}), "[model] args", kind)
        if "grid" in m and "points" in m:
            raise self.fail("[model] has both grid and points", "give the graphs as a grid or as a list, not both")
        axes = self.axes(m.get("grid"), m.get("points"), "[model] grid", "[[model.points]]",
                         lambda k, v, where: self.param(k, v, where, kind))
        for k in axes.columns:
            if k in args:
                raise self.fail(f"{k!r} is in both [model] args and the model's grid or points", "give it in one of them")
        from .work import RESULT
        reserved = [k for k in axes.columns if k in RESULT or k == "point"]
        if reserved:
            raise self.fail(f"[model] parameter {reserved[0]!r} is the name of a results column",
                            "rename the factory keyword (results have point, " + ", ".join(RESULT[:6]) + ", ...)")
        return kind, ref, target, args, axes.rows, list(axes.columns)

    def source(self, kind: str, ref: str) -> str:
        if kind == "factory":
            if not models.FACTORY.match(ref):
                raise self.fail(f"[model] factory {ref!r} is not 'package.module:callable'",
                                "e.g. factory = \"sweep_models:llama\" (imported from the spec's folder, the "
                                "current folder or PYTHONPATH)")
            return ref
        if kind == "onnx":
            path = ref if os.path.isabs(ref) else os.path.join(self.folder, ref)
            if not os.path.isfile(path):
                raise self.fail(f"[model] onnx {ref!r}: no such file", "paths are read from the spec's folder")
            return os.path.abspath(path)
        if kind == "hf":
            r = ref.removeprefix("hf:")
            local = r if os.path.isabs(r) else os.path.join(self.folder, r)
            return os.path.abspath(local) if os.path.exists(local) else r
        name = ref.removeprefix("zoo:")
        try:
            names = models.zoo_names()
        except InputError as exc:
            raise self.fail(f"[model] zoo {ref!r}: {exc}") from None
        if name not in names:
            raise self.fail(f"[model] zoo: unknown zoo model {name!r}{did_you_mean(name, names)}",
                            f"zoo models: {', '.join(names)}")
        return name

    def params(self, table, where: str, kind: str) -> dict:
        if not isinstance(table, dict):
            raise self.fail(f"{where} must be a table of values, got {table!r}")
        self.once(table, where)
        return {str(k): self.param(str(k), v, where, kind) for k, v in table.items()}

    def param(self, key: str, v, where: str, kind: str):
        if isinstance(v, (dict, list)) or v is None or isinstance(v, float) and not math.isfinite(v):
            raise self.fail(f"{where}: {key} = {v!r} is not a single value (a number, string or boolean)")
        if kind == "zoo" and key != "batch":
            raise self.fail(f"{where}: a zoo model takes only batch, not {key!r}",
                            "vary a factory or an hf: config to change the architecture")
        if kind in ("onnx", "zoo") or (kind == "hf" and _canon(key) in ("seq-len", "batch")):
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                what = "dim" if kind == "onnx" else key
                raise self.fail(f"{where}: {what} {key} = {v!r} must be a positive whole number")
        if kind == "hf" and _canon(key) == "task" and v not in HF_TASKS:
            raise self.fail(f"{where}: task {v!r} is not one of {', '.join(HF_TASKS)}{did_you_mean(str(v), HF_TASKS)}")
        return v

    # ------------------------------------------------------------------------- [plan]
    def plan(self, p, kind: str):
        allowed = tuple(SCENARIO) + tuple(GRAPH)
        if not isinstance(p, dict):
            raise self.fail(f"[plan] must be a table, got {p!r}")
        self.once(p, "[plan]")
        fixed, opts = {}, {}
        for k, v in p.items():
            c = _canon(k)
            if c not in allowed:
                raise self.fail(f"unknown key {k!r} in [plan]{did_you_mean(c, allowed)}",
                                f"keys are the long flags of `flopest estimate`: {', '.join(allowed)}")
            if c in GRAPH:
                choices = GRAPH[c]
                if c == "examples-per-pass":
                    if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                        raise self.fail(f"[plan] examples-per-pass = {v!r} must be a positive whole number")
                elif v not in choices:
                    raise self.fail(f"[plan] {c} = {v!r} is not one of {', '.join(map(repr, choices))}"
                                    f"{did_you_mean(str(v), [str(x) for x in choices])}")
                if c == "checkpointing" and v and kind not in ("factory", "hf", "zoo"):
                    raise self.fail("[plan] checkpointing needs a PyTorch model (factory, hf, zoo)",
                                    "an ONNX graph has no backward to recompute")
                opts[c] = v
            else:
                fixed[c] = self.scenario_value(c, v, "[plan]")
        return fixed, opts

    def scenario_value(self, key: str, v, where: str):
        c = _canon(key)
        if c in GRAPH and where != "[plan]":
            raise self.fail(f"{key!r} in {where}: it shapes the graph, which every scenario of a point shares",
                            f"set it once in [plan]")
        if c not in SCENARIO:
            allowed = tuple(SCENARIO)
            hint = did_you_mean(c, allowed + tuple(GRAPH))
            raise self.fail(f"unknown key {key!r} in {where}{hint}",
                            f"plan and scenario keys: {', '.join(allowed)}")
        kind = SCENARIO[c][1]
        if kind in ("device", "region", "datacenter", "precision"):
            if not isinstance(v, str) or not v.strip():
                raise self.fail(f"{where}: {c} = {v!r} must be a string id")
            if kind == "precision":
                if v not in data.PRECISIONS:
                    raise self.fail(f"{where}: precision {v!r} is not one of {', '.join(data.PRECISIONS)}"
                                    f"{did_you_mean(v, data.PRECISIONS)}")
            else:
                try:
                    v = getattr(data, kind)(v).id   # one id however it is written (FR, fr, France)
                except FlopestError as exc:
                    raise self.fail(f"{where}: {exc}") from None
            return v
        if isinstance(v, bool) or not isinstance(v, (int, float, str)):
            raise self.fail(f"{where}: {c} = {v!r} must be a number (or a count such as \"1.2M\")")
        try:
            x = parse_count(v, f"{where} {c}") if isinstance(v, str) else float(v)
        except InputError as exc:
            raise self.fail(str(exc)) from None
        if not math.isfinite(x):
            raise self.fail(f"{where}: {c} = {v!r} must be a finite number")
        if kind in ("whole", "whole0"):
            if x != int(x) or x < (0 if kind == "whole0" else 1):
                raise self.fail(f"{where}: {c} = {v!r} must be a {'non-negative' if kind == 'whole0' else 'positive'} "
                                f"whole number")
            return int(x)
        if kind == "count" and not x > 0:
            raise self.fail(f"{where}: {c} = {v!r} must be positive")
        if c == "early-stopping" and not 0 < x <= 1:
            raise self.fail(f"{where}: early-stopping = {v!r} must be a fraction in (0, 1] (the average share of a "
                            f"trial run)")
        if c in ("price-per-hour", "power-w", "pue", "intensity", "lifetime-years", "mfu") and not x > 0 and \
                not (c == "intensity" and x == 0):
            raise self.fail(f"{where}: {c} = {v!r} must be positive")
        return int(x) if x == int(x) and abs(x) < 2**53 else x   # "10k" and 10000 are one value

    # ------------------------------------------------------------------------- axes
    def axes(self, grid, points, gname: str, pname: str, check, canon: bool = False) -> "_Axes":
        if grid is not None:
            if not isinstance(grid, dict):
                raise self.fail(f"{gname} must be a table of lists, got {grid!r}")
            self.once(grid, gname)
            cols, lists = [], []
            for k, vals in grid.items():
                if not isinstance(vals, list) or not vals:
                    raise self.fail(f"{gname}: {k} = {vals!r} must be a non-empty list of values",
                                    "a fixed value goes in [plan] or [model] args")
                vals = [check(str(k), v, gname) for v in vals]
                seen = set()
                for v in vals:
                    key = json.dumps(v)
                    if key in seen:
                        raise self.fail(f"{gname}: {k} lists {v!r} twice", "give each value once")
                    seen.add(key)
                c = _canon(k) if canon else str(k)
                cols.append(c)
                lists.append(vals)
            rows = [dict(zip(cols, combo)) for combo in itertools.product(*lists)] if cols else [{}]
            return _Axes(cols, rows)
        if points is not None:
            if not isinstance(points, list) or not points or not all(isinstance(p, dict) for p in points):
                raise self.fail(f"{pname} must be a non-empty list of tables")
            first = None
            rows, seen = [], set()
            for i, p in enumerate(points, 1):
                self.once(p, f"{pname} #{i}")
                row = {(_canon(k) if canon else str(k)): check(str(k), v, f"{pname} #{i}") for k, v in p.items()}
                if first is None:
                    first = list(row)
                elif set(row) != set(first):
                    raise self.fail(f"{pname} #{i} has keys {', '.join(row) or 'none'}, the first has "
                                    f"{', '.join(first) or 'none'}", "give every point the same keys")
                key = json.dumps(row, sort_keys=True)
                if key in seen:
                    raise self.fail(f"{pname} #{i} repeats an earlier point", "give each point once")
                seen.add(key)
                rows.append(row)
            return _Axes(first or [], rows)
        return _Axes([], [{}])

    # ------------------------------------------------------------------------- scenarios
    def check_scenarios(self, scenarios, kws, varied) -> None:
        """Every distinct scenario is one the impact model accepts (a device with the
        precision, overrides in range): refused here rather than failing every point."""
        from ..impact import build_scenario
        keys = ("device", "n_devices", "region", "datacenter", "precision")
        over = ("mfu", "pue", "intensity", "power_w", "lifetime_years")
        seen = set()
        for s, kw in zip(scenarios, kws):
            sig = tuple(kw.get(k) for k in keys + over)
            if sig in seen:
                continue
            seen.add(sig)
            try:
                build_scenario(kw["device"], kw.get("n_devices", 1), kw["region"], kw.get("datacenter"),
                               kw.get("precision"), **{k: kw[k] for k in over if k in kw})
            except FlopestError as exc:
                at = ", ".join(f"{k}={s[_column(k)]!r}" for k in varied if _column(k) in s)
                fix = ("change [plan] or the axes (an explicit [[points]] list can leave a combination out)" if at
                       else "change [plan]")
                raise self.fail(f"{'the scenario ' + at if at else 'the plan'}: {exc}", fix) from None

    def identify(self, spec: Spec) -> None:
        """Stable point ids: a hash of everything that decides a point's figures, so that
        --resume recognises the points already written and refuses a changed spec's file."""
        from ..data import DATA_VERSION
        from ..version import __version__
        # what the figures rest on beyond the spec: the model file's content (an ONNX file, an hf:
        # config.json edited between two runs), flopest and its data; a change makes new points
        base = {"kind": spec.kind, "ref": spec.ref, "args": spec.args, "graph": spec.graph_opts,
                "samples": spec.samples, "seed": spec.seed, "content": _fingerprint(spec.kind, spec.target),
                "flopest": __version__, "data": DATA_VERSION}
        spec.graph_ids = [_hash({**base, "params": g}) for g in spec.graphs]
        skeys = [_hash(kw) for kw in spec.estimate_kw]
        spec.points = [Point(_hash([gid, sk])[:16], gi, si)
                       for gi, gid in enumerate(spec.graph_ids) for si, sk in enumerate(skeys)]


@dataclass
class _Axes:
    columns: list
    rows: list


def _fingerprint(kind: str, target: str) -> str | None:
    """A digest of the model file a point is counted from: the ONNX file, or an hf: folder's or
    file's config.json (None for a factory or the zoo: their code is not hashed)."""
    path = None
    if kind == "onnx":
        path = target
    elif kind == "hf":
        cand = target if target.endswith(".json") else os.path.join(target, "config.json")
        path = cand if os.path.isfile(cand) else None
    if not path or not os.path.isfile(path):
        return None
    h = hashlib.sha1()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _hash(obj) -> str:
    return hashlib.sha1(json.dumps(obj, sort_keys=True, default=str).encode("utf-8")).hexdigest()
