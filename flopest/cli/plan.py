"""`flopest estimate`, `check` and `compare`: one training plan, read from the same options."""

from __future__ import annotations

import argparse
import re
import os
import sys

from .. import models
from ..kernel.montecarlo import check_samples
from ..counts import parse_dims
from ..data import PRECISIONS
from ..errors import InputError
from .common import (BudgetAppend, Once, check_dims, output_option, check_output, check_plot_target, emit, example_inputs, known,
                     list_arg, num_arg, plain_arg, plot,
                     progress, short)

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

# The three ways into a training plan and the flags each one reads. A flag given on a path
# that does not read it is an error (never silently dropped).
MODEL_FLAGS = ("dim", "input", "input_dtype", "optimizer", "checkpointing", "examples_per_pass",
               "dataset_size", "epochs", "batch_size", "micro_batch", "grad_accum", "eval_size",
               "task", "causal", "tokens", "seq_len", "zero", "fsdp", "tp", "pp", "vp", "teacher")
# the flags that shape the decoder's graph of a --params plan (with --layers, --d-model and --seq-len)
LM_GRAPH_FLAGS = ("heads", "kv_heads", "ffn", "vocab", "batch_size", "micro_batch", "optimizer", "checkpointing",
                  "zero", "fsdp", "tp", "pp", "vp", "experts", "active_experts", "ep")
PARAMS_FLAGS = ("params", "tokens", "layers", "d_model", "seq_len", "no_graph", "teacher", "phase") + LM_GRAPH_FLAGS
SEARCH_FLAGS = ("trials", "search", "grid", "early_stopping")
PATH_FLAGS = {
    "model": MODEL_FLAGS + SEARCH_FLAGS,
    "params": PARAMS_FLAGS + SEARCH_FLAGS,
    "hours": ("accelerator_hours",),
}
NOT_WITH_HOURS = ("mfu", "step_time", "throughput", "failure_rate", "restart_time", "checkpoint_bandwidth",
                  "no_goodput", "precision")   # a posteriori: the hours are given, no time model enters
                                               # (the precision sets only the peak FLOP/s of that model)


def add_parsers(sub) -> None:
    e = sub.add_parser("estimate", help="time, energy, CO2eq and water of a training plan, with ranges",
                       description="Estimate the time, energy, CO2eq by scope and water of a training "
                       "plan on a device, region and data centre, with p5/p50/p95 ranges from a seeded "
                       "Monte-Carlo over sourced priors. Three ways in: a model (ONNX file, zoo:NAME or "
                       "package.module:factory) with --dataset-size; --params and --tokens (6·N·D); or "
                       "--accelerator-hours (a posteriori). A flag that the chosen way does not read is an "
                       "error.",
                       epilog=EPILOG_ESTIMATE, formatter_class=argparse.RawDescriptionHelpFormatter)
    plan_args(e)
    e.set_defaults(run=run_estimate)
    k = sub.add_parser("check", help="exit 1 when a training plan is over its budgets (CI gate)",
                       description="Estimate a training plan (same options as `estimate`) and compare it "
                       "with budgets at p95 (--at to choose): exit 0 within every budget, 1 over any, 2 on "
                       "bad input. Prints a one-line verdict, then the report. The plan and the budgets "
                       "can come from [tool.flopest] in pyproject.toml or from flopest.toml (found in the "
                       "current folder or its parents up to the repository root; --config FILE to name "
                       "one); flags override them. Serving budgets (latency, co2eq-per-month, ...): "
                       "`flopest check serve MODEL ... --budget latency=200ms`, with the options of "
                       "`flopest serve`.",
                       epilog=EPILOG_CHECK, formatter_class=argparse.RawDescriptionHelpFormatter)
    k.add_argument("--budget", action=BudgetAppend, default=[], metavar="NAME=VALUE",
                   help="a limit, repeatable: co2eq=50kg, energy=200kWh, hours=1000 (accelerator-hours), "
                        "time=3d, water=5m3, cost=1.2M (USD), scope2=, scope3=; serving: latency=200ms, co2eq-per-month=2t")
    k.add_argument("--at", default="p95", choices=("p5", "p50", "p95"),
                   help="the quantile compared with the budgets (default p95: within budget with 95 %% "
                        "confidence under the priors)")
    k.add_argument("--allow-unknown", action="store_true",
                   help="accept a model some of whose operators are not costed, or a figure counted in part "
                        "(water where the region has no water-of-electricity figure): the verdict then covers "
                        "the costed part and says so; without it such a check exits 2")
    k.add_argument("--config", metavar="FILE", help="pyproject.toml or flopest.toml to read (default: the "
                   "nearest one in the current folder or its parents, up to the repository root)")
    k.add_argument("--no-config", action="store_true", help="ignore pyproject.toml and flopest.toml")
    plan_args(k)
    k.set_defaults(run=run_check)
    m = sub.add_parser("compare", help="the same plan across devices and regions, sorted by CO2eq",
                       description="Estimate one training plan (same options as `estimate`) on every "
                       "device × region given, sorted by CO2eq at p50, with the saving against the first "
                       "choice (the first device in the first region).",
                       epilog=EPILOG_COMPARE, formatter_class=argparse.RawDescriptionHelpFormatter)
    plan_args(m, compare=True)
    m.set_defaults(run=run_compare)


def plan_args(e, compare: bool = False) -> None:
    """The options of a training plan, shared by estimate, check and compare."""
    e.add_argument("model", metavar="MODEL", nargs="?", help="an .onnx file, zoo:NAME or package.module:factory")
    g = e.add_argument_group("with a MODEL")
    g.add_argument("--dim", action="append", default=[], metavar="NAME=VALUE", help="ONNX symbolic dim values")
    g.add_argument("--input", action="append", default=[], metavar="[NAME=]SHAPE",
                   help="PyTorch example input (one batch); its first dim is the examples per pass")
    g.add_argument("--input-dtype", action="append", default=[], metavar="DTYPE")
    g.add_argument("--optimizer", choices=("sgd", "sgd-momentum", "adam", "adamw"),
                   help="optimizer of the training step (default adam)")
    g.add_argument("--checkpointing", action="store_true",
                   help="activation checkpointing: the forward is recomputed in the backward (PyTorch models)")
    g.add_argument("--examples-per-pass", metavar="N", help="examples in one counted pass (default: the "
                   "common leading dim of the inputs; asked for when it cannot be read)")
    g.add_argument("--dataset-size", metavar="N", help="training examples, e.g. 1.2M (an hf: language model "
                   "also takes --tokens: sequences of --seq-len tokens)")
    g.add_argument("--task", choices=("causal-lm", "seq2seq", "masked-lm", "classification", "image-classification", "base"),
                   help="the head of an hf: model (default: from its config's architectures)")
    g.add_argument("--causal", action=argparse.BooleanOptionalAction, default=None,
                   help="count causal attention over the unmasked pairs only (default: on for hf: causal LMs)")
    g.add_argument("--epochs", metavar="N", help="passes over the dataset (default 1)")
    g.add_argument("--batch-size", metavar="N", help="global training batch: the optimizer's steps (default: "
                   "micro-batch × grad-accum × devices, else the counted batch)")
    g.add_argument("--micro-batch", metavar="N", help="examples per device per forward/backward: the batch a zoo "
                   "model or factory is captured at, so the step is timed at it (default: batch size / devices)")
    g.add_argument("--grad-accum", metavar="N", help="micro-batches accumulated per optimizer step (default 1)")
    g.add_argument("--zero", choices=("0", "1", "2", "3"), help="ZeRO stage of the memory per device: optimizer "
                   "states (1), + gradients (2), + weights (3) sharded over the data-parallel devices")
    g.add_argument("--fsdp", action="store_true", help="fully sharded data parallel (as --zero 3)")
    g.add_argument("--tp", metavar="N", help="tensor-parallel degree (default: chosen with --pp as the smallest "
                   "model-parallel size whose memory fits, tensor parallelism first within a node)")
    g.add_argument("--pp", metavar="N", help="pipeline-parallel stages (default: chosen, see --tp); the 1F1B "
                   "bubble (p-1)/(m+p-1) and the stage sends are in the step time")
    g.add_argument("--vp", metavar="N", help="model chunks per pipeline stage of the interleaved schedule (default 1): "
                   "the bubble is divided by it, the stage sends multiplied")
    g.add_argument("--eval-size", metavar="N", help="evaluation examples per epoch (default 0)")
    g.add_argument("--teacher", metavar="PARAMS|MODEL", help="distillation: the teacher's forward on every training "
                   "token, given by its parameters (70B: 2·N FLOPs a token) or as a model counted forward-only "
                   "(hf:..., zoo:NAME, an .onnx file, package.module:factory); also with --params")
    s = e.add_argument_group("hyperparameter search (with a MODEL or --params)")
    s.add_argument("--trials", metavar="N", help="hyperparameter trials (random/bayesian search)")
    s.add_argument("--search", choices=("grid", "random", "bayesian"), help="search strategy (default grid)")
    s.add_argument("--grid", action="append", default=[], metavar="NAME=COUNT",
                   help="grid search: number of values of a hyperparameter (repeatable)")
    s.add_argument("--early-stopping", metavar="FRACTION",
                   help="average fraction of a trial run before it stops (default 1)")
    p = e.add_argument_group("a language model by its size: 6·N·D, or with --layers, --d-model and --seq-len a "
                             "Llama-shaped decoder's graph (torch extra)")
    p.add_argument("--params", metavar="N", help="parameters of a language model, e.g. 7B")
    p.add_argument("--tokens", metavar="N", help="training tokens, all epochs included, e.g. 2T (with an hf: MODEL: "
                   "its dataset, in sequences of --seq-len)")
    p.add_argument("--layers", metavar="N")
    p.add_argument("--d-model", metavar="N")
    p.add_argument("--seq-len", metavar="N", help="sequence length (with --params: the decoder's sequences; with an "
                   "hf: MODEL: the tokens per example captured, default the config's context capped at 2,048)")
    p.add_argument("--heads", metavar="N", help="attention heads of the --params decoder (default d-model / 128)")
    p.add_argument("--kv-heads", metavar="N", help="key-value heads (grouped-query attention; default --heads)")
    p.add_argument("--ffn", metavar="N", help="MLP width (default: solved so that the parameters match --params)")
    p.add_argument("--vocab", metavar="N", help="vocabulary (default 32,000)")
    p.add_argument("--experts", metavar="N", help="a mixture of experts: experts per layer (--ffn is then an expert's "
                   "width; balanced routing assumed)")
    p.add_argument("--active-experts", metavar="K", help="experts each token is routed to (default 2)")
    p.add_argument("--ep", metavar="N", help="expert-parallel degree: the experts sharded over N devices of the "
                   "data-parallel replicas, 4 all-to-alls per layer and micro-batch")
    p.add_argument("--phase", action="append", default=[], metavar="KEY=VALUE,...",
                   help="one phase of a multi-phase plan, repeatable, in order: the keys override this plan's "
                        "flags for the phase (name, tokens, seq-len, batch-size, micro-batch, devices, tp, pp, vp), "
                        "e.g. --phase name=pre-training,tokens=1.8T --phase name=long-context,tokens=200B,seq-len=32768")
    p.add_argument("--no-graph", action="store_true", help="keep 6·N·D (+ 12·L·d·T·D for attention) instead of the "
                   "decoder's graph")
    h = e.add_argument_group("a posteriori")
    h.add_argument("--accelerator-hours", metavar="H", help="accelerator-hours used, e.g. 1.08M")
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
    e.add_argument("--precision", choices=PRECISIONS,
                   help="training precision (default: bf16, else fp16, else fp32, as the device has)")
    e.add_argument("--pue", help="fix the PUE")
    e.add_argument("--intensity", metavar="G_PER_KWH", help="fix the grid intensity (g CO2eq/kWh)")
    e.add_argument("--mfu", help="fix the model FLOPs utilisation (0-1): replaces the step-time model")
    e.add_argument("--step-time", metavar="SECONDS", help="measured wall-clock time of one optimizer step at the "
                   "plan's batch (e.g. 0.85s, 850ms): replaces the step-time model")
    e.add_argument("--throughput", metavar="RATE", help="measured throughput per device: 3000tokens/s (a --params "
                   "plan) or 2400images/s, examples/s, sequences/s (a MODEL's plan): replaces the step-time model")
    e.add_argument("--power-w", help="all-in average draw per accelerator, host share included (W)")
    e.add_argument("--price-per-hour", metavar="USD", help="price of one accelerator-hour in USD (default: the "
                   "on-demand list price of the device in the region, flopest/data/prices.csv)")
    e.add_argument("--lifetime-years", help="fix the hardware lifetime")
    e.add_argument("--failure-rate", metavar="PER_HOUR", help="failures per accelerator-hour of the run (default: "
                   "published rates of large runs, flopest/data/run_priors.csv), e.g. 2e-5")
    e.add_argument("--restart-time", metavar="DURATION", help="time to detect a failure, restart and reload the "
                   "checkpoint (default: run_priors.csv), e.g. 10min")
    e.add_argument("--checkpoint-bandwidth", metavar="GB_PER_S", help="checkpoint write bandwidth per accelerator "
                   "in GB/s (default: run_priors.csv)")
    e.add_argument("--no-goodput", action="store_true", help="leave out the time lost to failures, restarts and "
                   "checkpoint writes (the goodput of the run)")
    e.add_argument("--samples", default="100000", help="Monte-Carlo samples (default 100,000)")
    e.add_argument("--seed", default=str(20261122), help="Monte-Carlo seed")
    if compare:
        e.add_argument("--format", default=None, choices=("table", "json", "markdown", "csv", "html"),
                       help="html: a page with the plan, a chart and the table")
    else:
        e.add_argument("--format", default=None, choices=("table", "json", "markdown", "csv", "html", "model-card"),
                       help="html: a page with the plan, a chart and every table; model-card: the Hugging Face model "
                            "card's co2_eq_emissions metadata and a Markdown section")
        e.add_argument("--training-type", choices=("pre-training", "fine-tuning"),
                       help="the model card's training_type (with --format model-card; default pre-training)")
    output_option(e)
    e.add_argument("--plot", metavar="FILE.png|.svg", action=Once, help="also draw a chart (needs the plot extra)")
    e.add_argument("--quiet", "-q", action="store_true", help="no progress on stderr")
    e.add_argument("--debug", action="store_true", help="show a traceback on errors")


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _given(a, name: str) -> bool:
    v = getattr(a, name, None)
    return v not in (None, False, [], "")


def path_of(a) -> str:
    """Which way into the plan the flags choose: "model", "params" or "hours"; every flag given
    that this way does not read is an error naming the flag and the way that reads it."""
    chosen = [p for p, on in (("hours", _given(a, "accelerator_hours")),
                              ("params", _given(a, "params") or (_given(a, "tokens") and not a.model)),
                              ("model", bool(a.model))) if on]
    if not chosen:
        raise InputError("give a MODEL (with --dataset-size), --params and --tokens, or --accelerator-hours")
    if len(chosen) > 1:
        what = {"hours": "--accelerator-hours", "params": "--params/--tokens", "model": f"a MODEL ({a.model!r})"}
        raise InputError(f"{' and '.join(what[c] for c in chosen)} are three ways into a plan: give one of them")
    path = chosen[0]
    reads = set(PATH_FLAGS[path])
    for other, names in PATH_FLAGS.items():
        for name in names:
            if name not in reads and _given(a, name):
                ways = [p for p, ns in PATH_FLAGS.items() if name in ns]
                where = {"model": "a MODEL", "params": "--params/--tokens", "hours": "--accelerator-hours"}
                hint = (" (the total --tokens counts every epoch)" if name == "epochs" and path == "params" else
                        " (--tokens is the dataset of a language model)" if name == "dataset_size"
                        and path == "params" else "")
                raise InputError(f"{_flag(name)} applies to {' or '.join(where[w] for w in ways)}, not to "
                                 f"{where[path]}{hint}")
    if path == "hours":
        for name in NOT_WITH_HOURS:
            if _given(a, name):
                raise InputError(f"{_flag(name)} does not enter an a-posteriori estimate: the "
                                 f"--accelerator-hours are given")
    return path


def batches(a, n_devices: int) -> tuple:
    """(capture batch, global batch) from --batch-size, --micro-batch, --grad-accum and the data-parallel
    replicas (the devices, or devices / (tp × pp) with a layout given): global = micro ×
    accumulation × replicas; the capture (zoo models, factories) is at the
    micro-batch, so the step is timed at what one device runs. Inconsistent values are an error."""
    bs = num_arg("--batch-size", a.batch_size, True)
    micro = num_arg("--micro-batch", a.micro_batch, True)
    accum = num_arg("--grad-accum", a.grad_accum, True)
    for flag, v in (("--batch-size", bs), ("--micro-batch", micro), ("--grad-accum", accum)):
        if v is not None and v < 1:
            raise InputError(f"{flag} must be >= 1, got {v}")
    if micro is not None:
        implied = micro * (accum or 1) * n_devices
        if bs is not None and bs != implied:
            raise InputError(f"--batch-size {bs:,} disagrees with --micro-batch {micro} × --grad-accum {accum or 1} × "
                             f"{n_devices} data-parallel replica(s) = {implied:,}: give the ones you mean")
        bs = implied
    elif accum is not None:
        if bs is None:
            raise InputError("--grad-accum needs --micro-batch or --batch-size (the examples of one step)")
        if bs % (accum * n_devices):
            raise InputError(f"--batch-size {bs:,} is not a multiple of --grad-accum {accum} × {n_devices} data-parallel "
                             f"replica(s)")
        micro = bs // (accum * n_devices)
    elif bs is not None:
        micro = bs // n_devices if bs % n_devices == 0 else bs
    capture = micro if micro is not None and micro <= models.MAX_CAPTURE_BATCH else None
    return capture, bs


_RATE = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:e[+-]?[0-9]+)?)\s*([kKMG]?)\s*"
                   r"(tokens?|images?|examples?|sequences?|samples?)?\s*/\s*s\s*$")


def measured_args(a) -> dict:
    """step_time_s / throughput (+ unit) from --step-time and --throughput."""
    from ..units import parse_duration
    out = {}
    if getattr(a, "step_time", None) is not None:
        t = parse_duration(a.step_time, "--step-time", bare=None)   # 850: ms or s? a unit is asked for
        if not t > 0:
            raise InputError(f"--step-time must be a positive duration, got {a.step_time!r} (e.g. --step-time 850ms)")
        out["step_time_s"] = t
    if getattr(a, "throughput", None) is not None:
        m = _RATE.match(str(a.throughput))
        if not m:
            raise InputError(f"--throughput {short(str(a.throughput))!r} is not a rate: write e.g. 3000tokens/s, "
                             f"2400images/s or 150examples/s (per device)")
        v = float(m.group(1)) * {"": 1, "k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9}[m.group(2)]
        if not v > 0:
            raise InputError(f"--throughput must be positive, got {a.throughput!r}")
        out["throughput"] = v
        out["throughput_unit"] = "tokens" if (m.group(3) or "").startswith("token") else "examples"
    return out


def teacher_arg(a):
    """--teacher: a parameter count (70B), or a model counted forward-only."""
    raw = getattr(a, "teacher", None)
    if raw is None:
        return None
    from ..units import parse_count
    try:
        n = parse_count(raw)
    except (ValueError, InputError):
        n = None
    if n is not None:
        if not n > 0:
            raise InputError(f"--teacher {raw!r} must be a positive parameter count (e.g. 70B) or a model")
        return n
    if not (models.is_torch_spec(raw) or str(raw).lower().endswith(".onnx")):
        raise InputError(f"--teacher {short(str(raw))!r} is neither a parameter count (70B) nor a model (hf:ORG/NAME, "
                         f"zoo:NAME, model.onnx, package.module:factory)")
    from ..errors import FlopestError
    with progress(a, f"counting the teacher {short(str(raw))}"):
        try:
            return models.count(raw)
        except FlopestError as exc:
            raise InputError(f"--teacher {short(str(raw))!r}: {exc}") from None


def goodput_args(a) -> dict:
    """failure_rate / restart_s / checkpoint_write_gbps / goodput from the goodput flags."""
    from ..units import parse_duration
    out = {}
    if getattr(a, "no_goodput", False):
        out["goodput"] = False
    # flag, attribute, keyword, what it must be, an example; durations are parsed as durations
    for flag, attr, key, what, eg in (("--failure-rate", "failure_rate", "failure_rate",
                                       "a positive rate per accelerator-hour", "2e-5"),
                                      ("--restart-time", "restart_time", "restart_s", "a positive duration", "10min"),
                                      ("--checkpoint-bandwidth", "checkpoint_bandwidth", "checkpoint_write_gbps",
                                       "a positive GB/s per accelerator", "0.2")):
        raw = getattr(a, attr, None)
        if raw is None:
            continue
        v = (parse_duration(raw, flag, bare=None) if key == "restart_s" else
             plain_arg(flag, raw) if key == "checkpoint_write_gbps" else num_arg(flag, raw))
        if not v > 0:
            raise InputError(f"{flag} must be {what}, got {raw!r} (e.g. {flag} {eg})")
        out[key] = v
    if out.get("goodput") is False and len(out) > 1:
        raise InputError("--no-goodput leaves the goodput out: remove --failure-rate, --restart-time and "
                         "--checkpoint-bandwidth, or --no-goodput")
    return out


def user_data(a) -> None:
    """--devices FILE.csv / --regions FILE.csv: the user's rows, validated like the embedded ones."""
    from .. import data as profiles
    counts = []
    for dev in a.devices:
        if dev.lower().endswith(".csv") or os.path.exists(dev):
            if not os.path.exists(dev):
                raise InputError(f"--devices {dev!r}: no such file")
            profiles.load_user_devices(dev)   # a folder, pipe or device is refused before it is opened
        else:
            counts.append(dev)
    if len(counts) > 1:
        raise InputError(f"--devices given {len(counts)} counts ({', '.join(counts)}): give one")
    a.devices = counts[0] if counts else "1"
    reg = getattr(a, "regions", None)
    if reg:
        if not os.path.exists(reg):
            raise InputError(f"--regions {reg!r}: no such file")
        profiles.load_user_regions(reg)


class Plan:
    """A training plan read from the estimate/check/compare options: the model is counted once,
    then `estimate(device, region)` runs the impact model for any device and region."""

    def __init__(self, a):
        from ..impact import trial_count
        path = path_of(a)
        check_output(a)
        user_data(a)
        check_plot_target(a)
        self.a = a
        samples = num_arg("--samples", a.samples, True)
        check_samples(samples)   # before any work: a count and the memory its draws need
        self.common = dict(n_devices=num_arg("--devices", a.devices, True), datacenter=a.datacenter,
                           precision=a.precision, pue=plain_arg("--pue", a.pue),
                           intensity=plain_arg("--intensity", a.intensity), mfu=num_arg("--mfu", a.mfu),
                           power_w=plain_arg("--power-w", a.power_w),
                           lifetime_years=plain_arg("--lifetime-years", a.lifetime_years),
                           price_per_hour=num_arg("--price-per-hour", a.price_per_hour),
                           samples=samples, seed=num_arg("--seed", a.seed, True), **measured_args(a),
                           **goodput_args(a))
        if path != "hours" and getattr(a, "teacher", None) is not None:
            self.common["teacher"] = teacher_arg(a)
        if self.common["n_devices"] < 1:
            raise InputError(f"--devices must be >= 1, got {a.devices!r}")
        if self.common["price_per_hour"] is not None and not self.common["price_per_hour"] > 0:
            raise InputError(f"--price-per-hour must be a positive price in USD per accelerator-hour, got "
                             f"{a.price_per_hour!r}")
        if getattr(a, "training_type", None) and a.format != "model-card":
            raise InputError("--training-type is the model card's: give it with --format model-card")
        grid = {}
        for g in a.grid:
            k, _, v = g.partition("=")
            if not k or not v:
                raise InputError(f"--grid {g!r} must look like NAME=COUNT, e.g. --grid lr=4")
            grid[k] = num_arg(f"--grid {k}", v, True)
        trials = trial_count(a.search or "grid", grid or None, num_arg("--trials", a.trials, True))
        frac = num_arg("--early-stopping", a.early_stopping) if a.early_stopping is not None else 1.0
        if not (0 < frac <= 1):
            raise InputError(f"--early-stopping {a.early_stopping!r} must be a fraction in (0, 1] "
                             f"(the average share of a trial run before it stops)")
        if not getattr(a, "compare", False):
            known("--device", a.device, "device")
            known("--region", a.region, "region")
        if a.datacenter is not None:
            known("--datacenter", a.datacenter, "datacenter")
        self.counts = None
        if path == "hours":
            self.kw = dict(accelerator_hours=num_arg("--accelerator-hours", a.accelerator_hours))
        elif path == "params":
            if a.params is None or a.tokens is None:
                raise InputError("the 6·N·D path needs both --params and --tokens")
            self.kw = dict(params=num_arg("--params", a.params), tokens=num_arg("--tokens", a.tokens),
                           layers=num_arg("--layers", a.layers, True),
                           d_model=num_arg("--d-model", a.d_model, True),
                           seq_len=num_arg("--seq-len", a.seq_len, True), trials=trials,
                           trial_fraction=frac)
            graph_flags = {"--heads": a.heads, "--kv-heads": a.kv_heads, "--ffn": a.ffn, "--vocab": a.vocab,
                           "--experts": a.experts, "--active-experts": a.active_experts, "--ep": a.ep,
                           "--batch-size": a.batch_size, "--micro-batch": a.micro_batch, "--optimizer": a.optimizer,
                           "--checkpointing": a.checkpointing or None, "--zero": a.zero, "--fsdp": a.fsdp or None,
                           "--tp": a.tp, "--pp": a.pp, "--vp": a.vp}
            given = [f for f, v in graph_flags.items() if v is not None]
            graph = not a.no_graph and None not in (a.layers, a.d_model, a.seq_len)
            if given and not graph:
                raise InputError(f"{', '.join(given)} shape(s) the decoder's graph of a --params plan: give --layers, "
                                 f"--d-model and --seq-len{' and drop --no-graph' if a.no_graph else ''}")
            self.kw["graph"] = False if a.no_graph else None
            if graph:
                for flag, key in (("--heads", "heads"), ("--kv-heads", "kv_heads"), ("--ffn", "ffn"),
                                  ("--vocab", "vocab"), ("--batch-size", "batch_size"), ("--micro-batch", "micro_batch"),
                                  ("--experts", "experts"), ("--active-experts", "active_experts"),
                                  ("--ep", "expert_parallel")):
                    raw = graph_flags[flag]
                    if raw is not None:
                        v = num_arg(flag, raw, True)
                        if v < 1:
                            raise InputError(f"{flag} must be >= 1, got {raw!r}")
                        self.kw[key] = v
                e, k, ep = self.kw.get("experts"), self.kw.get("active_experts"), self.kw.get("expert_parallel")
                if k is not None and (e is None or k > e):
                    raise InputError(f"--active-experts {k} must be between 1 and --experts"
                                     f"{f' {e}' if e else ' (give --experts, the experts of each layer)'}")
                if ep is not None and (e is None or self.common["n_devices"] % ep or (e and e % ep)):
                    raise InputError(f"--ep {ep} must divide --devices {self.common['n_devices']} and --experts "
                                     f"{e if e else '(give --experts)'}")
                self.kw["optimizer"] = a.optimizer
                self.kw["checkpointing"] = bool(a.checkpointing)
                if a.zero is not None and a.fsdp:
                    raise InputError("--zero and --fsdp both set the sharding: give one (--fsdp is --zero 3)")
                self.kw["sharding"] = "fsdp" if a.fsdp else {None: "none", "0": "none"}.get(a.zero, f"zero{a.zero}")
                for flag, raw, key in (("--tp", a.tp, "tensor_parallel"), ("--pp", a.pp, "pipeline_parallel")):
                    if raw is not None:
                        v = num_arg(flag, raw, True)
                        if v < 1 or self.common["n_devices"] % v:
                            raise InputError(f"{flag} {raw} must divide --devices {self.common['n_devices']}")
                        self.kw[key] = v
                self._vp(a)
        else:
            if a.dataset_size is None and a.tokens is None:
                raise InputError("a model needs --dataset-size (training examples, e.g. --dataset-size 1.2M), or "
                                 "--tokens for an hf: language model")
            if (a.task or a.seq_len) and not models.is_hf(a.model):
                raise InputError("--task and --seq-len choose an hf: model's head and sequence length; "
                                 f"{short(a.model)!r} takes its shapes from {'--input' if models.is_torch_spec(a.model) else '--dim'}")
            # a replica of tensor × pipeline devices runs one micro-batch together: the default global
            # batch counts the data-parallel replicas of the layout given (all devices without one)
            mp = 1
            for flag, raw in (("--tp", a.tp), ("--pp", a.pp)):
                if raw is not None:
                    v = num_arg(flag, raw, True)
                    if v >= 1 and self.common["n_devices"] % v == 0:
                        mp *= v
            replicas = self.common["n_devices"] // mp if self.common["n_devices"] % mp == 0 else self.common["n_devices"]
            self.capture_batch, batch_size = batches(a, replicas)
            self.batch_given = a.batch_size is not None
            wl = dict(dataset_size=num_arg("--dataset-size", a.dataset_size),
                      tokens=num_arg("--tokens", a.tokens),
                      epochs=num_arg("--epochs", a.epochs or "1", True),
                      batch_size=batch_size,
                      eval_size=num_arg("--eval-size", a.eval_size or "0", True), trials=trials,
                      trial_fraction=frac)
            given = num_arg("--examples-per-pass", a.examples_per_pass, True)
            if given is not None and given < 1:
                raise InputError(f"--examples-per-pass must be >= 1, got {a.examples_per_pass!r}")
            self.counts = self._count(a, given)
            per = self.counts.examples_per_pass
            if per is None:
                raise InputError(f"cannot tell how many examples one counted pass of {short(a.model)!r} "
                                 f"holds ({self.counts.examples_reason}): give --examples-per-pass N")
            self.kw = {k: v for k, v in wl.items() if v is not None or k == "batch_size"}
            if a.zero is not None and a.fsdp:
                raise InputError("--zero and --fsdp both set the sharding: give one (--fsdp is --zero 3)")
            self.kw["sharding"] = "fsdp" if a.fsdp else {None: "none", "0": "none"}.get(a.zero, f"zero{a.zero}")
            layout = 1
            for flag, raw, key in (("--tp", a.tp, "tensor_parallel"), ("--pp", a.pp, "pipeline_parallel")):
                if raw is not None:
                    v = num_arg(flag, raw, True)
                    if v < 1 or self.common["n_devices"] % v:
                        raise InputError(f"{flag} {raw} must divide --devices {self.common['n_devices']}")
                    self.kw[key] = v
                    layout *= v
            self._vp(a)
            if self.common["n_devices"] % layout:
                raise InputError(f"--tp {a.tp} × --pp {a.pp} = {layout} must divide --devices "
                                 f"{self.common['n_devices']}")
            # examples per pass: the count's own record (given or read off the inputs)
            if not models.is_torch_spec(a.model):   # a PyTorch capture holds its optimizer's rows
                self.kw["optimizer"] = a.optimizer or "adam"

    def _vp(self, a) -> None:
        if a.vp is None:
            return
        v = num_arg("--vp", a.vp, True)
        if v < 1:
            raise InputError(f"--vp must be >= 1, got {a.vp!r}")
        if v > 1 and a.pp is None:
            raise InputError("--vp interleaves the stages of a pipeline: give --pp too")
        self.kw["virtual_stages"] = v

    def _count(self, a, examples_per_pass):
        with progress(a, f"counting {short(a.model)}"):
            if models.is_torch_spec(a.model):
                if a.dim:
                    raise InputError(f"--dim {a.dim[0]!r} is for ONNX models; a PyTorch model takes --input")
                batch = self.capture_batch
                args, kwargs = example_inputs(a) if a.input else ((), {})
                tm = models.torch_model(a.model, args, kwargs,
                                        batch=batch if batch and batch <= models.MAX_CAPTURE_BATCH else None,
                                        task=a.task, seq_len=num_arg("--seq-len", a.seq_len, True))
                causal = tm.causal if a.causal is None else a.causal
                return models.count_module(tm.module, tm.args, tm.kwargs, training=True, causal=bool(causal),
                                           optimizer=a.optimizer or "adam", checkpointing=a.checkpointing,
                                           examples_per_pass=examples_per_pass, source=tm.source,
                                           notes=tm.notes, tokens_per_example=None if a.input else tm.tokens_per_example)
            if a.checkpointing:
                raise InputError("--checkpointing needs a PyTorch model (zoo:NAME or package.module:factory): "
                                 "an ONNX graph has no backward to recompute")
            if a.input or a.input_dtype:
                raise InputError("--input and --input-dtype are for PyTorch models; an ONNX model takes --dim")
            dims = parse_dims(a.dim)
            check_dims(dims)
            return models.count_onnx(a.model, dims, examples_per_pass=examples_per_pass, causal=bool(a.causal))

    PHASE_KEYS = {"name": "name", "tokens": "tokens", "seq-len": "seq_len", "batch-size": "batch_size",
                  "micro-batch": "micro_batch", "devices": "n_devices", "tp": "tensor_parallel",
                  "pp": "pipeline_parallel", "vp": "virtual_stages"}

    def phases(self) -> list:
        """The --phase list as estimate() keywords, each the plan's own with the phase's overrides."""
        out = []
        for i, raw in enumerate(self.a.phase, 1):
            kw = {"name": f"phase {i}"}
            seen = set()
            for item in [x for x in str(raw).split(",") if x.strip()]:
                k, eq, v = item.partition("=")
                k, v = k.strip(), v.strip()
                if not eq or not v:
                    raise InputError(f"--phase {short(raw)!r}: {item!r} is not KEY=VALUE (e.g. tokens=200B)")
                if k in seen:
                    raise InputError(f"--phase {short(raw)!r}: {k} is given twice; give it once")
                seen.add(k)
                if k not in self.PHASE_KEYS:
                    from ..errors import did_you_mean
                    raise InputError(f"--phase {short(raw)!r}: unknown key {k!r}{did_you_mean(k, self.PHASE_KEYS)}; "
                                     f"keys: {', '.join(self.PHASE_KEYS)}")
                kw[self.PHASE_KEYS[k]] = v if k == "name" else num_arg(f"--phase {k}", v, k != "tokens")
            out.append(kw)
        return out

    def estimate(self, device: str, region: str):
        from ..impact import estimate, estimate_phases
        if getattr(self.a, "phase", None):
            from ..impact.training import SHARED_BY_PHASES
            shared = {k: v for k, v in self.common.items() if k in SHARED_BY_PHASES}
            own = {k: v for k, v in self.common.items() if k not in SHARED_BY_PHASES}
            given = self.phases()
            phases = [{**own, **self.kw, **ph} for ph in given]
            est = estimate_phases(phases, device=device, region=region, **shared)
            total = own.get("tokens") or self.kw.get("tokens")
            if total is not None:   # phases inherit --tokens whole: their sum may not be the plan's
                summed = sum(float(p.get("tokens") or 0) for p in phases)
                if abs(summed - float(total)) > 1e-9 * float(total):
                    inherit = [p["name"] for p in given if "tokens" not in p]
                    est.notes.insert(0, f"the phases hold {summed:,.0f} tokens against --tokens {float(total):,.0f}"
                                        + (f": {', '.join(inherit)} {'takes' if len(inherit) == 1 else 'take'} "
                                           f"--tokens whole (give tokens= to each phase)" if inherit else ""))
            return est
        est = estimate(self.counts, device=device, region=region, **self.common, **self.kw)
        if self.a.model:   # reports name the model as the user gave it
            est.model = self.a.model
        lay = (est.step or {}).get("layout") or {}
        if lay.get("chosen") is not False and lay and lay["tensor_parallel"] * lay["pipeline_parallel"] > 1 \
                and not getattr(self, "batch_given", True) and self.a.micro_batch is not None:
            est.notes.append(f"the global batch ({est.workload.factors.get('batch_size'):,} examples) counts one "
                             f"micro-batch per device, but the layout chosen runs one per replica of "
                             f"{lay['tensor_parallel'] * lay['pipeline_parallel']} devices: give --batch-size (or "
                             f"--tp/--pp) for the batch you train with")
        return est


def run_estimate(a) -> int:
    from ..plots import plot_scopes
    from ..report import render_estimate
    plan = Plan(a)
    d = plan.estimate(a.device, a.region).to_dict()
    text = render_estimate(d, a.format, a.training_type or "pre-training")
    plot(a, lambda path: plot_scopes(d, path))
    emit(a, text)
    return 0


def run_check(a) -> int:
    from ..budget import evaluate, parse_budget
    from ..plots import plot_scopes
    from ..report import render_check
    budgets = list({b.name: b for b in map(parse_budget, a.budget)}.values())   # the last one per name wins
    plan = Plan(a)
    est = plan.estimate(a.device, a.region)
    res = evaluate(est, budgets, a.at, allow_unknown=a.allow_unknown)
    d = est.to_dict()
    d["check"] = res.to_dict()
    cfg = getattr(a, "config_path", None)
    if cfg:   # the plan and budgets came (partly) from a file: every report names it
        d["config"] = cfg
        d["notes"] = [f"plan and budgets read from {cfg} (flags override it; --no-config ignores it)"] + d["notes"]
    plot(a, lambda path: plot_scopes(d, path))
    emit(a, render_check(d, a.format, a.training_type or "pre-training"))
    if a.output is not None or a.format in ("json", "csv", "model-card"):   # the verdict on stderr too, for CI logs
        print(f"flopest: {res.verdict()}" + (f" (config {cfg})" if cfg else ""), file=sys.stderr)
    return 0 if res.ok else 1


def _distinct(flag: str, ids: list, what: str) -> list:
    """The ids of a comparison, each known (an error naming the flag otherwise) and once: FR, fr
    and France are one region."""
    from .. import data as profiles
    out, seen = [], set()
    for i in ids:
        known(flag, i, what)
        canon = getattr(profiles, what)(i).id
        if canon not in seen:
            seen.add(canon)
            out.append(i)
    return out


def run_compare(a) -> int:
    from ..impact import compare
    from ..plots import plot_compare
    from ..report import compare_title, render_compare
    devices = _distinct("--device", list_arg("--device", a.device), "device")   # unknown ids fail before the
    regions = _distinct("--region", list_arg("--region", a.region), "region")   # model is counted
    a.compare = True
    plan = Plan(a)
    if len(devices) > 1:
        # a figure measured on (or priced for) one device would be applied to every device compared
        given = [flag for flag, v in (("--step-time", a.step_time), ("--throughput", a.throughput), ("--mfu", a.mfu),
                                      ("--power-w", a.power_w), ("--price-per-hour", a.price_per_hour),
                                      ("--accelerator-hours", a.accelerator_hours)) if v is not None]
        if given:
            raise InputError(f"{', '.join(given)} {'is' if len(given) == 1 else 'are'} a figure of one device, and "
                             f"compare would apply it to each of the {len(devices)} devices ({', '.join(devices)}): "
                             f"compare regions on that device (--device {devices[0]}), or estimate each device with "
                             f"its own figure (flopest estimate --device ID ...)")
    combos = [(d, r) for d in devices for r in regions]
    ests = []
    with progress(a, "estimating", total=len(combos)) as step:
        for d, r in combos:
            ests.append(plan.estimate(d, r))
            step()
    d = compare(ests)
    plot(a, lambda path: plot_compare(d["rows"], path, metric="co2eq_kg", title=compare_title(d),
                                      first=d["first_choice"]))
    emit(a, render_compare(d, a.format))
    return 0
