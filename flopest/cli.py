"""The `flopest` command: parsing and printing only (the work is in the library)."""

from __future__ import annotations

import argparse
import contextlib
import itertools
import os
import re
import sys

from . import __version__
from .cli_serve import add_parser as _serve_parser, cmd_serve  # flopest serve
from .errors import FlopestError, InputError

EPILOG_COUNT = """examples:
  flopest count zoo:bert_base              # a zoo model (PyTorch capture) at its example shapes
  flopest count zoo:gpt2 --training --optimizer adamw --by module --depth 2
  flopest count mypkg.models:make_model --input 8x3x224x224        # factory -> nn.Module
  flopest count mypkg.models:make_lm --input input_ids=1x512 --input-dtype int64 --training
  flopest count model.onnx --dim batch=8 --dim sequence=512
  flopest count model.onnx --dim batch=1 --sweep sequence=128,256,512,1024
  flopest count model.onnx --dim batch=8 --by op --format markdown --output counts.md
  flopest count model.onnx --strict        # exit 2 if any operator is not costed
"""


class _Parser(argparse.ArgumentParser):
    """argparse that reports a usage error in one line (exit 2)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="flopest", description="What training and serving a model will cost, read off "
                "its graph before it runs.")
    p.add_argument("--version", action="version", version=f"flopest {__version__}")
    p.add_argument("--debug", action="store_true", help="show a traceback on errors")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    c = sub.add_parser("count", help="FLOPs, bytes and params of an ONNX model",
                       description="Count FLOPs (1 multiply-add = 2 FLOPs), matmul FLOPs, bytes moved "
                       "and parameters of an ONNX model, operator by operator. Operators flopest "
                       "cannot cost are listed by name, never counted as zero silently.",
                       epilog=EPILOG_COUNT, formatter_class=argparse.RawDescriptionHelpFormatter)
    c.add_argument("model", metavar="MODEL",
                   help="an .onnx file; zoo:NAME, a model of the zoo (`flopest zoo` lists them); or "
                   "package.module:factory, a Python callable returning a torch.nn.Module or a "
                   "(module, example_inputs) pair (PyTorch models need the torch extra)")
    c.add_argument("--dim", action="append", default=[], metavar="NAME=VALUE",
                   help="value of a symbolic dim of the model (repeatable), e.g. --dim batch=8")
    c.add_argument("--sweep", action="append", default=[], metavar="NAME=V1,V2,...",
                   help="evaluate at each value (repeatable: the product of all sweeps); the model "
                   "is read once and only the kernel runs per point")
    c.add_argument("--by", choices=("op", "kind", "node", "module"),
                   help="add a breakdown by operator type, cost kind, node or module")
    c.add_argument("--depth", type=int, metavar="N",
                   help="with --by module: fold module paths deeper than N components")
    t = c.add_argument_group("PyTorch models (factory or zoo:NAME)")
    t.add_argument("--input", action="append", default=[], metavar="[NAME=]SHAPE",
                   help="an example input by shape, e.g. 8x3x224x224, or input_ids=1x128 for a "
                   "keyword argument (repeatable, in the forward's order)")
    t.add_argument("--input-dtype", action="append", default=[], metavar="DTYPE",
                   help="dtype of the inputs: one for all, or one per --input (default float32)")
    t.add_argument("--training", action="store_true",
                   help="count forward + backward (loss = sum of the outputs)")
    t.add_argument("--optimizer", choices=("sgd", "sgd-momentum", "adam", "adamw"),
                   help="with --training: add the optimizer step per parameter")
    t.add_argument("--checkpointing", action="store_true",
                   help="with --training: activation checkpointing, the forward is recomputed once")
    t.add_argument("--materialize", action="store_true",
                   help="run models whose control flow depends on data (top-k routing, nonzero) on "
                   "real CPU tensors (small models only)")
    t.add_argument("--onnx", action="store_true",
                   help="zoo:NAME only: count its ONNX export instead of capturing the PyTorch model")
    c.add_argument("--format", default="table", choices=("table", "json", "markdown", "csv"),
                   help="output format (default: table)")
    c.add_argument("--top", type=int, default=20, metavar="N",
                   help="rows of the breakdown shown in table/markdown output (default 20, 0 = all)")
    c.add_argument("--strict", action="store_true", help="exit 2 when any operator is not costed")
    c.add_argument("--causal", action="store_true",
                   help="count causal attention operators over the unmasked pairs only "
                   "(default: every query-key pair)")
    c.add_argument("--output", "-o", metavar="FILE", help="write the result to FILE (atomically)")
    c.add_argument("--plot", metavar="FILE.png|.svg", help="also draw the breakdown (--by) or, with one "
                   "--sweep, FLOPs against the swept dim (needs the plot extra)")
    c.add_argument("--quiet", "-q", action="store_true", help="no progress on stderr")
    c.add_argument("--debug", action="store_true", help="show a traceback on errors")
    e = sub.add_parser("estimate", help="time, energy, CO2eq and water of a training plan, with ranges",
                       description="Estimate the time, energy, CO2eq by scope and water of a training "
                       "plan on a device, region and data centre, with p5/p50/p95 ranges from a seeded "
                       "Monte-Carlo over sourced priors. Three ways in: a model (ONNX file, zoo:NAME or "
                       "package.module:factory) with --dataset-size; --params and --tokens (6·N·D); or "
                       "--accelerator-hours (a posteriori).",
                       epilog=EPILOG_ESTIMATE, formatter_class=argparse.RawDescriptionHelpFormatter)
    _plan_args(e)
    k = sub.add_parser("check", help="exit 1 when a training plan is over its budgets (CI gate)",
                       description="Estimate a training plan (same options as `estimate`) and compare it "
                       "with budgets at p95 (--at to choose): exit 0 within every budget, 1 over any, 2 on "
                       "bad input. Prints a one-line verdict, then the report. The plan and the budgets "
                       "can come from [tool.flopest] in pyproject.toml or from flopest.toml (found in the "
                       "current folder or its parents; --config FILE to name one); flags override them. "
                       "Serving budgets (latency, co2eq-per-month, ...): `flopest check serve MODEL ... "
                       "--budget latency=200ms`, with the options of `flopest serve`.",
                       epilog=EPILOG_CHECK, formatter_class=argparse.RawDescriptionHelpFormatter)
    k.add_argument("--budget", action="append", default=[], metavar="NAME=VALUE",
                   help="a limit, repeatable: co2eq=50kg, energy=200kWh, hours=1000 (accelerator-hours), "
                        "time=3d, water=5m3, scope2=, scope3=; serving: latency=200ms, co2eq-per-month=2t")
    k.add_argument("--at", default="p95", choices=("p5", "p50", "p95"),
                   help="the quantile compared with the budgets (default p95: within budget with 95 %% "
                        "confidence under the priors)")
    k.add_argument("--config", metavar="FILE", help="pyproject.toml or flopest.toml to read (default: the "
                   "nearest one in the current folder or its parents)")
    k.add_argument("--no-config", action="store_true", help="ignore pyproject.toml and flopest.toml")
    _plan_args(k)
    m = sub.add_parser("compare", help="the same plan across devices and regions, sorted by CO2eq",
                       description="Estimate one training plan (same options as `estimate`) on every "
                       "device × region given, sorted by CO2eq at p50, with the saving against the first "
                       "choice (the first device in the first region).",
                       epilog=EPILOG_COMPARE, formatter_class=argparse.RawDescriptionHelpFormatter)
    _plan_args(m, compare=True)
    for name, what in (("devices", "devices"), ("regions", "regions")):
        ls = sub.add_parser(name, help=f"list the embedded {what} with their sources and years")
        ls.add_argument("--search", metavar="TEXT", help="only rows whose id or name contains TEXT")
        ls.add_argument("--format", default="table", choices=("table", "json", "markdown", "csv"))
        ls.add_argument("--debug", action="store_true", help="show a traceback on errors")
    z = sub.add_parser("zoo", help="list the zoo models usable as zoo:NAME",
                       description="List the reference models of the zoo (random init, nothing "
                       "downloaded); count one with `flopest count zoo:NAME`.")
    z.add_argument("--debug", action="store_true", help="show a traceback on errors")
    _serve_parser(sub)
    return p


def _plan_args(e, compare: bool = False) -> None:
    """The options of a training plan, shared by estimate, check and compare."""
    e.add_argument("model", metavar="MODEL", nargs="?", help="an .onnx file, zoo:NAME or package.module:factory")
    e.add_argument("--dim", action="append", default=[], metavar="NAME=VALUE", help="ONNX symbolic dim values")
    e.add_argument("--input", action="append", default=[], metavar="[NAME=]SHAPE",
                   help="PyTorch example input (one batch); its first dim is the examples per pass")
    e.add_argument("--input-dtype", action="append", default=[], metavar="DTYPE")
    e.add_argument("--optimizer", choices=("sgd", "sgd-momentum", "adam", "adamw"), default="adam",
                   help="optimizer of the training step (default adam)")
    e.add_argument("--checkpointing", action="store_true",
                   help="activation checkpointing: the forward is recomputed in the backward (PyTorch models)")
    e.add_argument("--examples-per-pass", metavar="N", help="examples in one counted pass (default: the "
                   "batch dim of the inputs)")
    e.add_argument("--dataset-size", metavar="N", help="training examples (tokens with --params), e.g. 1.2M")
    e.add_argument("--epochs", default="1", metavar="N")
    e.add_argument("--batch-size", metavar="N", help="training batch size: the optimizer steps, and the batch a zoo model is captured at "
                   "(the roofline of small batches)")
    e.add_argument("--eval-size", default="0", metavar="N", help="evaluation examples per epoch")
    e.add_argument("--trials", metavar="N", help="hyperparameter trials (random/bayesian search)")
    e.add_argument("--search", choices=("grid", "random", "bayesian"), default="grid")
    e.add_argument("--grid", action="append", default=[], metavar="NAME=COUNT",
                   help="grid search: number of values of a hyperparameter (repeatable)")
    e.add_argument("--early-stopping", default="1", metavar="FRACTION",
                   help="average fraction of a trial run before it stops (default 1)")
    e.add_argument("--params", metavar="N", help="parameters of a language model without a graph, e.g. 7B")
    e.add_argument("--tokens", metavar="N", help="training tokens, e.g. 2T")
    e.add_argument("--layers", metavar="N")
    e.add_argument("--d-model", metavar="N")
    e.add_argument("--seq-len", metavar="N")
    e.add_argument("--accelerator-hours", metavar="H", help="a posteriori: accelerator-hours used, e.g. 1.08M")
    if compare:
        e.add_argument("--device", default="h100-sxm", metavar="ID[,ID...]",
                       help="device ids, comma-separated (flopest devices lists them)")
        e.add_argument("--region", default="WORLD", metavar="ID[,ID...]",
                       help="regions, comma-separated: ISO country codes, WORLD, aws:/gcp:/azure: regions")
    else:
        e.add_argument("--device", default="h100-sxm", help="device id (flopest devices lists them)")
    e.add_argument("--devices", action="append", default=[], metavar="N|FILE.csv",
                   help="number of devices; or a CSV of devices to add or override (columns of "
                   "flopest/data/devices.csv), repeatable with a count")
    e.add_argument("--regions", metavar="FILE.csv",
                   help="a CSV of regions to add or override (columns of grid_intensity.csv)")
    if not compare:
        e.add_argument("--region", default="WORLD", help="ISO country code, WORLD, or aws:/gcp:/azure: region")
    e.add_argument("--datacenter", help="data centre profile (default from the region's provider)")
    e.add_argument("--precision", choices=("fp32", "tf32", "bf16", "fp16", "fp8", "int8"),
                   help="training precision (default: bf16, else fp16, else fp32, as the device has)")
    e.add_argument("--pue", help="fix the PUE")
    e.add_argument("--intensity", metavar="G_PER_KWH", help="fix the grid intensity (g CO2eq/kWh)")
    e.add_argument("--mfu", help="fix the model FLOPs utilisation (0-1)")
    e.add_argument("--power-w", help="all-in average draw per accelerator, host share included (W)")
    e.add_argument("--lifetime-years", help="fix the hardware lifetime")
    e.add_argument("--samples", default="100000", help="Monte-Carlo samples (default 100,000)")
    e.add_argument("--seed", default=str(20261122), help="Monte-Carlo seed")
    e.add_argument("--format", default="table", choices=("table", "json", "markdown", "csv"))
    e.add_argument("--output", "-o", metavar="FILE", help="write the result to FILE (atomically)")
    e.add_argument("--plot", metavar="FILE.png|.svg", help="also draw a chart (needs the plot extra)")
    e.add_argument("--quiet", "-q", action="store_true", help="no progress on stderr")
    e.add_argument("--debug", action="store_true", help="show a traceback on errors")


EPILOG_ESTIMATE = """examples:
  flopest estimate --params 7B --tokens 2T --device h100-sxm --devices 256 --region FR
  flopest estimate zoo:resnet50 --dataset-size 1.28M --epochs 90 --device a100-sxm4-80gb --devices 8 --region US
  flopest estimate --accelerator-hours 3.552M --device v100-sxm2 --power-w 330 --pue 1.1 --intensity 429
"""

EPILOG_CHECK = """examples:
  flopest check --params 7B --tokens 2T --device h100-sxm --devices 256 --region FR --budget co2eq=50t
  flopest check zoo:resnet50 --dataset-size 1.28M --epochs 90 --budget energy=5MWh --budget hours=2000 --at p50
  flopest check                            # plan and budgets from [tool.flopest] in pyproject.toml
  flopest check serve zoo:gpt2 --prompt-tokens 500 --output-tokens 300 --requests-per-day 1M --budget latency=200ms

pyproject.toml:
  [tool.flopest]
  model = "zoo:resnet50"          # or params = "7B" and tokens = "2T"
  dataset-size = "1.28M"
  epochs = 90
  device = "a100-sxm4-80gb"
  devices = 8
  region = "FR"
  [tool.flopest.budget]
  co2eq = "500kg"
  energy = "2MWh"
"""

EPILOG_COMPARE = """examples:
  flopest compare --params 7B --tokens 2T --devices 256 --device a100-sxm4-80gb,h100-sxm --region FR,US,DE,aws:us-east-1
  flopest compare zoo:bert_base --dataset-size 10M --epochs 3 --device h100-sxm,l40s --region SE,PL --format markdown
"""


def _num_arg(flag, v, integer=False):
    from .workload import parse_count
    if v is None:
        return None
    x = parse_count(v, flag)
    if integer:
        if x != int(x):
            raise InputError(f"{flag} {v!r} must be a whole number")
        return int(x)
    return x


def _user_data(a) -> None:
    """--devices FILE.csv / --regions FILE.csv: the user's rows, validated like the embedded ones."""
    from . import profiles
    counts = []
    for dev in a.devices:
        if dev.lower().endswith(".csv") or os.path.isfile(dev):
            if not os.path.isfile(dev):
                raise InputError(f"--devices {dev!r}: no such file")
            profiles.load_user_devices(dev)
        else:
            counts.append(dev)
    if len(counts) > 1:
        raise InputError(f"--devices given {len(counts)} counts ({', '.join(counts)}): give one")
    a.devices = counts[0] if counts else "1"
    reg = getattr(a, "regions", None)
    if reg:
        if not os.path.isfile(reg):
            raise InputError(f"--regions {reg!r}: no such file")
        profiles.load_user_regions(reg)


class _Plan:
    """A training plan read from the estimate/check/compare options: the model is counted once,
    then `estimate(device, region)` runs the impact model for any device and region."""

    def __init__(self, a):
        from .workload import trial_count
        _user_data(a)
        _plot_target(a)
        self.a = a
        samples = _num_arg("--samples", a.samples, True)
        if samples < 1 or samples > 10**8:
            raise InputError(f"--samples must be between 1 and 1e8, got {a.samples!r}")
        self.common = dict(n_devices=_num_arg("--devices", a.devices, True), datacenter=a.datacenter,
                           precision=a.precision, pue=_num_arg("--pue", a.pue),
                           intensity=_num_arg("--intensity", a.intensity), mfu=_num_arg("--mfu", a.mfu),
                           power_w=_num_arg("--power-w", a.power_w),
                           lifetime_years=_num_arg("--lifetime-years", a.lifetime_years),
                           samples=samples, seed=_num_arg("--seed", a.seed, True))
        if self.common["n_devices"] < 1:
            raise InputError(f"--devices must be >= 1, got {a.devices!r}")
        grid = {}
        for g in a.grid:
            k, _, v = g.partition("=")
            if not k or not v:
                raise InputError(f"--grid {g!r} must look like NAME=COUNT, e.g. --grid lr=4")
            grid[k] = _num_arg(f"--grid {k}", v, True)
        self.trials = trial_count(a.search, grid or None, _num_arg("--trials", a.trials, True))
        self.frac = _num_arg("--early-stopping", a.early_stopping)
        if not (0 < self.frac <= 1):
            raise InputError(f"--early-stopping {a.early_stopping!r} must be a fraction in (0, 1] "
                             f"(the average share of a trial run before it stops)")
        if not a.model:
            for flag, v in (("--dim", a.dim), ("--input", a.input), ("--input-dtype", a.input_dtype),
                            ("--examples-per-pass", a.examples_per_pass), ("--checkpointing", a.checkpointing)):
                if v:
                    what = "" if v is True else f" {v[0] if isinstance(v, list) else v!r}"
                    raise InputError(f"{flag}{what} applies to a MODEL; none is given")
        if not getattr(a, "compare", False):
            _known("--device", a.device, "device")
            _known("--region", a.region, "region")
        if a.datacenter is not None:
            _known("--datacenter", a.datacenter, "datacenter")
        self.kw = {}
        self.counts = None
        if a.accelerator_hours is not None:
            if a.model or a.params:
                raise InputError("--accelerator-hours replaces the model and --params: give one of them")
            self.kw = dict(accelerator_hours=_num_arg("--accelerator-hours", a.accelerator_hours))
        elif a.params is not None or a.tokens is not None:
            if a.params is None or a.tokens is None:
                raise InputError("the 6·N·D path needs both --params and --tokens")
            if a.model:
                raise InputError(f"give a MODEL ({a.model!r}) or --params/--tokens, not both")
            self.kw = dict(params=_num_arg("--params", a.params), tokens=_num_arg("--tokens", a.tokens),
                           layers=_num_arg("--layers", a.layers, True),
                           d_model=_num_arg("--d-model", a.d_model, True),
                           seq_len=_num_arg("--seq-len", a.seq_len, True), trials=self.trials,
                           trial_fraction=self.frac)
        elif a.model:
            if a.dataset_size is None:
                raise InputError("a model needs --dataset-size (training examples), e.g. --dataset-size 1.2M")
            wl = dict(dataset_size=_num_arg("--dataset-size", a.dataset_size),
                      epochs=_num_arg("--epochs", a.epochs, True),
                      batch_size=_num_arg("--batch-size", a.batch_size, True),
                      eval_size=_num_arg("--eval-size", a.eval_size, True), trials=self.trials,
                      trial_fraction=self.frac)
            self.counts, per_pass = self._count(a)
            if a.examples_per_pass is not None:
                per_pass = _num_arg("--examples-per-pass", a.examples_per_pass, True)
            self.kw = dict(wl, capture_examples=int(per_pass))
        else:
            raise InputError("give a MODEL (with --dataset-size), --params and --tokens, or --accelerator-hours")

    def _count(self, a):
        from . import count
        from .counts import parse_dims
        from .zoo import is_zoo
        is_file = os.path.exists(a.model) or a.model.endswith(".onnx")
        torch_model = not is_file and (is_zoo(a.model) or bool(_FACTORY.match(a.model)))
        with _progress(a, f"counting {a.model}"):
            if torch_model:
                if a.dim:
                    raise InputError(f"--dim {a.dim[0]!r} is for ONNX models; a PyTorch model takes --input")
                batch = _num_arg("--batch-size", a.batch_size, True) if a.batch_size is not None else None
                ns = argparse.Namespace(model=a.model, input=a.input, input_dtype=a.input_dtype,
                                        batch=batch if batch and batch <= MAX_CAPTURE_BATCH else None)
                module, args, kwargs = _torch_model(ns)
                c = count(module, *args, training=True, optimizer=a.optimizer,
                          checkpointing=a.checkpointing, **kwargs)
                first = next(iter(list(args) + list(kwargs.values())), None)
                per_pass = getattr(first, "shape", (1,))[0] if first is not None else 1
            else:
                if a.checkpointing:
                    raise InputError("--checkpointing needs a PyTorch model (zoo:NAME or package.module:factory): "
                                     "an ONNX graph has no backward to recompute")
                dims = parse_dims(a.dim)
                c = count(a.model, dims=dims)
                per_pass = dims.get("batch", 1)
        return c, per_pass

    def estimate(self, device: str, region: str):
        from .impact import estimate
        return estimate(self.counts, device=device, region=region, **self.common, **self.kw)


def _known(flag: str, value: str, what: str) -> None:
    """The id exists in the data (device, region, datacenter), else an error naming the flag."""
    from . import profiles
    try:
        getattr(profiles, what)(value)
    except FlopestError as exc:
        raise InputError(f"{flag}: {exc}") from None


def cmd_estimate(a) -> int:
    from .report import render_estimate, write_atomic
    plan = _Plan(a)
    est = plan.estimate(a.device, a.region)
    d = est.to_dict()
    text = render_estimate(d, a.format)
    _plot(a, lambda path: __import__("flopest.plots", fromlist=["x"]).plot_scopes(d, path))
    _emit(a, text, write_atomic)
    return 0


def cmd_check(a) -> int:
    from .budget import evaluate, parse_budget
    from .report import render_check, write_atomic
    budgets = list({b.name: b for b in map(parse_budget, a.budget)}.values())   # the last one per name wins
    plan = _Plan(a)
    est = plan.estimate(a.device, a.region)
    res = evaluate(est, budgets, a.at)
    d = est.to_dict()
    d["check"] = res.to_dict()
    _plot(a, lambda path: __import__("flopest.plots", fromlist=["x"]).plot_scopes(d, path))
    _emit(a, render_check(d, a.format), write_atomic)
    if a.output is not None or a.format == "json":   # the verdict on stderr too, for CI logs
        print(f"flopest: {res.verdict()}", file=sys.stderr)
    return 0 if res.ok else 1


def _list_arg(flag: str, text: str) -> list:
    items = [t.strip() for t in str(text).split(",")]
    if not all(items):
        raise InputError(f"{flag} {text!r} has an empty item; give comma-separated ids, e.g. {flag} a,b")
    return list(dict.fromkeys(items))


def cmd_compare(a) -> int:
    from .report import render_compare, write_atomic
    devices = _list_arg("--device", a.device)
    regions = _list_arg("--region", a.region)
    for d in devices:       # unknown ids fail before the model is counted
        _known("--device", d, "device")
    for r in regions:
        _known("--region", r, "region")
    a.compare = True
    plan = _Plan(a)
    rows = []
    combos = [(d, r) for d in devices for r in regions]
    with _progress(a, "estimating", total=len(combos)) as step:
        for d, r in combos:
            est = plan.estimate(d, r)
            rows.append({"device": est.scenario.device, "region": est.scenario.region, **est.to_dict()})
            step()
    first = rows[0]
    for r in rows:
        r["saving_vs_first"] = {q: 1.0 - r["co2eq_kg"][q] / first["co2eq_kg"][q] if first["co2eq_kg"][q] else 0.0
                                for q in ("p50",)}
        r["label"] = f"{r['device']} @ {r['region']}"
    rows.sort(key=lambda r: r["co2eq_kg"]["p50"])
    d = {"first_choice": first["label"], "rows": rows, "data_version": first["data_version"],
         "version": first["version"], "flops": first["flops"]}
    _plot(a, lambda path: __import__("flopest.plots", fromlist=["x"]).plot_compare(rows, path, metric="co2eq_kg"))
    _emit(a, render_compare(d, a.format), write_atomic)
    return 0


def _plot_target(a) -> None:
    """A bad --plot name fails before any work is done."""
    if getattr(a, "plot", None) is not None:
        from .plots import _target
        _target(a.plot)


def _plot(a, draw) -> None:
    """--plot FILE: drawn before the report is written, so a bad file name loses nothing."""
    if getattr(a, "plot", None):
        draw(a.plot)


@contextlib.contextmanager
def _progress(a, label: str, total: int | None = None):
    """A spinner (or a bar when `total` is known) on stderr while work runs; off when stderr is
    not a terminal or with --quiet. Yields a `step()` to call after each unit of work."""
    if getattr(a, "quiet", False) or not sys.stderr.isatty():
        yield lambda: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
    cols = [SpinnerColumn(), TextColumn("{task.description}")]
    if total:
        cols += [BarColumn(), MofNCompleteColumn()]
    cols.append(TimeElapsedColumn())
    with Progress(*cols, console=Console(stderr=True), transient=True) as p:
        task = p.add_task(label, total=total)
        yield lambda: p.advance(task)


def cmd_list(a) -> int:
    from . import profiles
    from .report import render_listing
    rows = profiles.devices() if a.command == "devices" else profiles.regions()
    if a.search:
        q = a.search.lower()
        rows = [r for r in rows if q in r.id.lower() or q in r.name.lower()]
        if not rows:
            raise InputError(f"--search {a.search!r}: no {a.command} match (flopest {a.command} lists all)")
    sys.stdout.write(render_listing(a.command, rows, a.format))
    return 0


def cmd_zoo(a) -> int:
    from .zoo import _zoo
    zoo = _zoo()
    from rich.console import Console
    from rich.table import Table
    t = Table(title="flopest zoo (flopest count zoo:NAME)")
    for col in ("name", "kind", "description", "input (full size)"):
        t.add_column(col)
    for name, e in zoo.MODELS.items():
        t.add_row(name, e.kind, e.description, e.full_input)
    Console(width=140, color_system=None, markup=False).print(t)
    return 0


INT64_MAX = 2**63 - 1
MAX_SWEEP_POINTS = 100_000   # the product of all --sweep axes


def _int_arg(flag: str, text: str) -> int:
    """A non-negative int within int64 from a flag's text; InputError naming the flag."""
    t = text.strip()
    try:
        v = int(t) if t.isascii() and t.isdigit() else None
    except ValueError:   # more digits than Python converts
        v = None
    if v is None:
        raise InputError(f"{flag}: value {_short(t)!r} is not a non-negative integer")
    if v > INT64_MAX:
        raise InputError(f"{flag}: value {_short(t)} is beyond int64 (at most {INT64_MAX:,})")
    return v


def _short(text: str, n: int = 40) -> str:
    return text if len(text) <= n else text[:n] + "…"


def _parse_sweeps(items) -> list:
    axes = []
    points = 1
    for s in items:
        if "=" not in s:
            raise InputError(f"--sweep {_short(s)!r} must look like NAME=V1,V2,..., e.g. --sweep sequence=128,256")
        name, vals = s.split("=", 1)
        name = name.strip()
        if not name:
            raise InputError(f"--sweep {_short(s)!r} has no name; write NAME=V1,V2,..., e.g. --sweep sequence=128,256")
        if any(n == name for n, _ in axes):
            raise InputError(f"--sweep {name!r} is given twice; give its values once, comma-separated")
        values = [_int_arg(f"--sweep {_short(name)}", v) for v in vals.split(",")]
        points *= len(values)
        if points > MAX_SWEEP_POINTS:
            raise InputError(f"--sweep makes more than {MAX_SWEEP_POINTS:,} points; sweep fewer values")
        axes.append((name, values))
    return axes


def _check_dims(dims: dict) -> None:
    for k, v in dims.items():
        if v > INT64_MAX:
            raise InputError(f"--dim {_short(k)}={v} is beyond int64 (at most {INT64_MAX:,})")


@contextlib.contextmanager
def _naming(flags: str):
    """Prefix errors raised while the model is evaluated at user dims with the flags that set
    them (an error about a dim names --dim / --sweep)."""
    from .errors import KernelInputError
    try:
        yield
    except (InputError, KernelInputError) as exc:
        if not flags or "--dim" in str(exc) or "--sweep" in str(exc):
            raise
        raise type(exc)(f"{flags}: {exc}") from None


_FACTORY = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")


def _parse_shape(text: str) -> tuple:
    parts = text.lower().replace("×", "x").split("x")
    try:
        shape = tuple(int(p) for p in parts)
    except ValueError:   # not a number, or more digits than Python converts
        raise InputError(f"--input {_short(text)!r} is not a shape like 8x3x224x224") from None
    if any(d < 0 for d in shape):
        raise InputError(f"--input {_short(text)!r} has a negative dim")
    if any(d > INT64_MAX for d in shape):
        raise InputError(f"--input {_short(text)!r} has a dim beyond int64")
    return shape


def _inputs(a):
    """(args, kwargs) of flopest.spec from --input / --input-dtype."""
    from . import spec
    dts = a.input_dtype
    if dts and len(dts) not in (1, len(a.input)):
        raise InputError(f"--input-dtype given {len(dts)} times for {len(a.input)} --input: give one "
                         f"for all, or one per input")
    args, kwargs = [], {}
    for i, item in enumerate(a.input):
        name, eq, shape = item.rpartition("=")
        if eq and not name.strip():
            raise InputError(f"--input {_short(item)!r} has an empty name; write NAME=SHAPE or SHAPE")
        dt = dts[0] if len(dts) == 1 else (dts[i] if dts else None)
        sp = spec(_parse_shape(shape), dt)
        if dt is not None:
            from .frontends.torch import parse_dtype
            try:
                parse_dtype(dt)   # validate now: a bad dtype is a user error
            except InputError as exc:
                raise InputError(f"--input-dtype: {exc}") from None
        if name:
            kwargs[name] = sp
        else:
            if kwargs:
                raise InputError(f"--input {item!r}: positional inputs go before NAME=SHAPE ones")
            args.append(sp)
    return tuple(args), kwargs


def _load_factory(target: str):
    import importlib
    modname, _, attr = target.partition(":")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        mod = importlib.import_module(modname)
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
    try:
        made = obj()
    except Exception as exc:
        raise InputError(f"factory {target!r} raised {type(exc).__name__}: {exc}") from None
    return made


MAX_CAPTURE_BATCH = 4096   # zoo models are captured at the training batch up to this size (meta tensors)


def _torch_model(a):
    """(module, args, kwargs) for a factory or zoo:NAME model spec."""
    from .zoo import PREFIX, _zoo
    args, kwargs = _inputs(a)
    if a.model.startswith(PREFIX):
        zoo = _zoo()
        name = a.model[len(PREFIX):]
        if name not in zoo.MODELS:
            from .errors import did_you_mean
            raise InputError(f"unknown zoo model {name!r}{did_you_mean(name, zoo.MODELS)} "
                             f"(zoo models: {', '.join(zoo.MODELS)})")
        module, example, input_names, axes = zoo.get(name, size="full")
        for p in module.parameters():   # the zoo builds frozen modules; all weights train
            p.requires_grad_(True)
        if not args and not kwargs:
            args = tuple(example)
            batch = getattr(a, "batch", None)
            if batch:   # count at the training batch: the zoo names each input's batch axis
                from . import spec

                def at_batch(n, x):
                    on_axis0 = (axes.get(n) or {}).get(0) == "batch"
                    return spec((batch, *x.shape[1:]) if on_axis0 else tuple(x.shape), dtype=x.dtype)
                args = tuple(at_batch(n, x) for n, x in zip(input_names, args))
        return module, args, kwargs
    made = _load_factory(a.model)
    if isinstance(made, tuple) and len(made) == 2:
        module, example = made
        if not args and not kwargs:
            if isinstance(example, dict):
                kwargs = example
            else:
                args = tuple(example) if isinstance(example, (tuple, list)) else (example,)
    else:
        module = made
    if not args and not kwargs:
        raise InputError(f"factory {a.model!r} returned no example inputs: give them with --input SHAPE")
    return module, args, kwargs


def cmd_count(a) -> int:
    from . import count
    from .counts import parse_dims
    from .report import render, write_atomic
    from .zoo import is_zoo, resolve

    if a.top < 0:
        raise InputError(f"--top {a.top} must be >= 0")
    if a.depth is not None and a.depth < 0:
        raise InputError(f"--depth {a.depth} must be >= 0")
    if a.output is not None and not a.output.strip():
        raise InputError("--output '' is empty; give a file name")
    _plot_target(a)
    dims = parse_dims(a.dim)
    _check_dims(dims)
    sweeps = _parse_sweeps(a.sweep)
    torch_flags = a.training or a.optimizer or a.checkpointing or a.materialize or a.input or a.input_dtype
    is_file = os.path.exists(a.model) or a.model.endswith(".onnx")
    if a.onnx and not is_zoo(a.model):
        raise InputError(f"--onnx is for zoo:NAME models (count the export of a zoo model); "
                         f"{_short(a.model)!r} is not one")
    if is_zoo(a.model):
        use_torch = not a.onnx
    else:
        use_torch = not is_file and bool(_FACTORY.match(a.model))
    if use_torch:
        if dims or sweeps:
            raise InputError("--dim and --sweep re-bind an ONNX model's symbolic dims; a PyTorch model "
                             "takes its shapes from --input")
        if (a.optimizer or a.checkpointing) and not a.training:
            raise InputError("--optimizer and --checkpointing need --training")
        module, args, kwargs = _torch_model(a)
        with _progress(a, f"capturing {_short(a.model)}"):
            c = count(module, *args, strict=a.strict, causal=a.causal, training=a.training,
                      optimizer=a.optimizer, checkpointing=a.checkpointing, materialize=a.materialize,
                      **kwargs)
        d = c.to_dict(by=a.by, depth=a.depth)
        _plot_count(a, c)
        text = render(d, a.format, top=a.top or None)
        _emit(a, text, write_atomic)
        return 0
    if torch_flags:
        raise InputError("--input, --input-dtype, --training, --optimizer, --checkpointing and "
                         "--materialize are for PyTorch models (package.module:factory or zoo:NAME)")
    first = dict(dims)
    for name, values in sweeps:
        first[name] = values[0]
    model = a.model
    if is_zoo(model):
        model, defaults = resolve(model)
        first = {**{k: v for k, v in defaults.items() if k not in first}, **first}
    flags = " ".join([f"--dim {_short(d)}" for d in a.dim] + [f"--sweep {_short(s)}" for s in a.sweep])
    with _naming(flags):
        c = count(model, dims=first, strict=a.strict, causal=a.causal)
    if sweeps:
        points = []
        names = [n for n, _ in sweeps]
        combos = list(itertools.product(*[v for _, v in sweeps]))
        with _progress(a, "sweeping", total=len(combos) if len(combos) >= 1000 else None) as step:
            for combo in combos:
                point = dict(zip(names, combo))
                with _naming(" ".join(f"--sweep {k}={v}" for k, v in point.items())):
                    ci = c.at(**point)
                    points.append({"dims": dict(ci.dims), "flops": ci.flops, "matmul_flops": ci.matmul_flops,
                                   "macs": ci.macs, "bytes": ci.bytes})
                step()
        d = c.to_dict()
        d["sweep"] = points
        if a.plot:
            if len(sweeps) != 1:
                raise InputError(f"--plot {a.plot!r} with --sweep draws one swept dim; {len(sweeps)} are given")
            from .plots import plot_sweep
            plot_sweep([p["dims"][names[0]] for p in points],
                       {"flops": [p["flops"] for p in points], "matmul_flops": [p["matmul_flops"] for p in points]},
                       a.plot, xlabel=names[0], ylabel="FLOPs", metric="flops")
    else:
        d = c.to_dict(by=a.by, depth=a.depth)
        _plot_count(a, c)
    text = render(d, a.format, top=a.top or None)
    _emit(a, text, write_atomic)
    return 0


def _plot_count(a, c) -> None:
    if a.plot:
        from .plots import plot_breakdown
        plot_breakdown(c.breakdown(by=a.by, depth=a.depth), a.plot, by=a.by, top=a.top or 15,
                       unknown_ops=dict(c.unknown_ops))


def _emit(a, text, write_atomic):
    if a.output is not None:
        write_atomic(a.output, text)
    else:
        sys.stdout.write(text)


def _with_config(parser, args, argv):
    """Re-parse `check` with the plan and budgets of the nearest config as defaults."""
    from . import config
    path = args.config or config.find()
    if not path:
        return args
    sub = next(a for a in parser._subparsers._group_actions if isinstance(a, argparse._SubParsersAction))
    check = sub.choices["check"]
    check.set_defaults(**config.defaults_for(check, path))
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:   # a config value the parser rejects (already printed)
        raise InputError(f"config {path!r} gives a value the command line rejects (see above)") from exc
    args.config_path = path
    return args


def main(argv=None) -> int:
    import warnings
    # library deprecation notices (transformers' past_key_values) are not the user's to act on
    warnings.filterwarnings("ignore", category=FutureWarning, module=r"(transformers|torch)\.")
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    serve_check = argv[:2] == ["check", "serve"]   # `flopest check serve ...` = serve with its budgets
    if serve_check:
        argv = argv[1:]
    try:
        args = parser.parse_args(argv)
        if serve_check:
            args.check = True
    except SystemExit as exc:  # usage errors (exit 2), --help and --version (exit 0)
        return int(exc.code or 0)
    debug = getattr(args, "debug", False) or os.environ.get("FLOPEST_DEBUG") == "1"
    if not args.command:
        parser.print_help()
        return 2
    try:
        if args.command == "check" and not args.no_config:
            args = _with_config(parser, args, argv)
        return {"count": cmd_count, "zoo": cmd_zoo, "estimate": cmd_estimate, "check": cmd_check,
                "compare": cmd_compare, "devices": cmd_list, "regions": cmd_list,
                "serve": cmd_serve}[args.command](args)
    except FlopestError as exc:
        if debug:
            raise
        print(f"flopest: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("flopest: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
