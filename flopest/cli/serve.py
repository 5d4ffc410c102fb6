"""`flopest serve` (and `flopest check serve`): the serving phase of a model."""

from __future__ import annotations

import argparse
import os
import sys

from .. import models
from ..kernel.montecarlo import check_samples
from ..counts import parse_dims
from ..data import PRECISIONS
from ..errors import InputError
from ..units import parse_duration
from .common import BudgetAppend, plain_arg, output_option, check_output, emit, known, num_arg

EPILOG = """examples:
  flopest serve zoo:gpt2 --prompt-tokens 500 --output-tokens 300 --requests-per-day 1M --device h100-sxm --region US --batch 16
  flopest serve model_with_past.onnx --prompt-tokens 500 --output-tokens 300 --users 13M --requests-per-user 15 --months 1
  flopest serve zoo:resnet50 --requests-per-day 10M --batch 32 --device l4 --region FR
  flopest serve --params 7B --layers 32 --d-model 4096 --context 4096 --prompt-tokens 1000 --output-tokens 200 --requests-per-day 100k --max-latency 5s
  flopest serve --wh-per-request 3.96 --requests-per-day 195M --days 30 --pue 1.1 --intensity 390 --servers 3617 --server-embodied-kg 4900 --lifetime-years 6
"""


def add_parser(subparsers) -> argparse.ArgumentParser:
    s = subparsers.add_parser(
        "serve", help="per-request cost, latency, devices, energy and CO2eq of serving a model, with ranges",
        description="Serve a model: the per-request cost read off its graph (a forward pass per example, or "
        "prefill + decode steps with a KV cache for a generative model), the latency and tokens/s on a device at "
        "a batch size (the per-operator time model on the passes counted at that batch; the roofline with MFU "
        "and MBU priors without a graph or with --mfu/--mbu), the fleet that carries the load, and the energy, CO2eq by scope and water "
        "over the duration, with p5/p50/p95 ranges. Without a model: --params N (2·N FLOPs per token) or "
        "--wh-per-request (a measured energy per request).",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    s.add_argument("model", metavar="MODEL", nargs="?",
                   help="zoo:NAME, package.module:factory (a transformers causal LM for generation, else any "
                   "module with example inputs), or an .onnx file (a decoder taking past key/values for "
                   "generation)")
    w = s.add_argument_group("requests")
    w.add_argument("--prompt-tokens", metavar="N", help="tokens in the prompt (generation), or the sequence "
                   "length of one forward pass")
    w.add_argument("--output-tokens", metavar="N", help="tokens generated per request (decode steps with a KV "
                   "cache); omit for one forward pass per request (classification, vision)")
    w.add_argument("--requests-per-day", metavar="N", help="load, e.g. 1M")
    w.add_argument("--requests-per-hour", metavar="N")
    w.add_argument("--requests", metavar="N", help="total requests over the duration")
    w.add_argument("--users", metavar="N", help="daily users (with --requests-per-user)")
    w.add_argument("--requests-per-user", metavar="N", help="requests per user per day")
    w.add_argument("--days", metavar="N", help="duration of the deployment in days")
    w.add_argument("--months", metavar="N", help="duration in months of 730 h (default 12)")
    f = s.add_argument_group("fleet")
    f.add_argument("--device", default="h100-sxm", help="device id (flopest devices lists them)")
    f.add_argument("--precision", choices=PRECISIONS,
                   help="serving precision: peak and bytes per weight (default: bf16, else fp16, else fp32)")
    f.add_argument("--batch", metavar="N", help="sequences per batch (default 1, or the largest meeting "
                   "--max-latency)")
    f.add_argument("--max-latency", metavar="T", help="target latency per request, e.g. 200ms, 2s")
    f.add_argument("--utilisation", metavar="F",
                   help="target average fleet utilisation, (0, 1]; default 1 = the smallest fleet for the average "
                        "load (not with --devices or --servers, which give the fleet)")
    f.add_argument("--devices", metavar="N", help="a fixed fleet of N devices instead of the computed one")
    f.add_argument("--servers", metavar="N", help="a fixed fleet of N servers (of the device's host)")
    f.add_argument("--server-embodied-kg", metavar="KG", help="embodied emissions per server, GPUs included: kg, or "
                   "with a mass unit (4.9t)")
    f.add_argument("--mbu", metavar="F", help="fix the memory-bandwidth utilisation of decoding (0-1): the "
                   "roofline at it replaces the per-operator model")
    f.add_argument("--mfu", metavar="F", help="fix the compute utilisation (0-1): the roofline at it replaces the "
                   "per-operator model")
    f.add_argument("--power-w", help="all-in average draw per device, host share included (W)")
    n = s.add_argument_group("without a graph")
    n.add_argument("--wh-per-request", metavar="WH", help="measured IT energy per request (before PUE): Wh, or with an "
                   "energy unit (300mWh)")
    n.add_argument("--params", metavar="N", help="parameters of a language model, e.g. 7B (2·N FLOPs per token)")
    n.add_argument("--layers", metavar="N", help="with --params: layers (attention and KV cache)")
    n.add_argument("--d-model", metavar="N", help="with --params: hidden size")
    n.add_argument("--kv-dim", metavar="N", help="with --params: KV heads × head dim (default --d-model)")
    n.add_argument("--context", metavar="N", help="the model's context length, checked against prompt + output")
    o = s.add_argument_group("ONNX decoders")
    o.add_argument("--dim", action="append", default=[], metavar="NAME=VALUE", help="other symbolic dims")
    o.add_argument("--seq-dim", metavar="NAME", help="the dim of the new tokens (default: input_ids' second)")
    o.add_argument("--past-dim", metavar="NAME", help="the dim of the KV-cache length (default: found in the "
                   "past key/value inputs)")
    i = s.add_argument_group("impact")
    i.add_argument("--region", default="WORLD", help="ISO country code, WORLD, or aws:/gcp:/azure: region")
    i.add_argument("--datacenter", help="data centre profile (default from the region's provider)")
    i.add_argument("--pue", help="fix the PUE")
    i.add_argument("--intensity", metavar="G_PER_KWH", help="fix the grid intensity (g CO2eq/kWh)")
    i.add_argument("--lifetime-years", help="fix the hardware lifetime")
    i.add_argument("--training", metavar="FILE.json|MASS", help="a training estimate (flopest estimate --format "
                   "json) or its CO2eq with a unit (552t, 500kg): adds the days of serving that emit as much "
                   "(break-even)")
    i.add_argument("--samples", default="100000", help="Monte-Carlo samples (default 100,000)")
    i.add_argument("--seed", default=str(20261122), help="Monte-Carlo seed")
    b = s.add_argument_group("budget check (also written `flopest check serve ...`)")
    b.add_argument("--budget", action=BudgetAppend, default=[], metavar="NAME=VALUE",
                   help="a limit, repeatable; with one, serve is a check: exit 0 within every budget, 1 over "
                        "any. latency=200ms, co2eq-per-month=2t, co2eq-per-year=, energy-per-month=, co2eq=, "
                        "energy=, water=, scope2=, scope3=")
    b.add_argument("--at", choices=("p5", "p50", "p95"),
                   help="the quantile compared with the budgets (default p95)")
    b.add_argument("--allow-unknown", action="store_true",
                   help="accept a model some of whose operators are not costed (without it, exit 2)")
    s.add_argument("--format", default=None, choices=("table", "json", "markdown", "csv"))
    output_option(s)
    s.add_argument("--debug", action="store_true", help="show a traceback on errors")
    s.set_defaults(run=run)
    return s


def parse_seconds(text, flag: str = "--max-latency") -> float:
    """A positive duration with its unit ('200ms', '2s', '1min'; a bare number is refused: 200
    could be ms or s) through the one unit parser (flopest.units)."""
    v = None if str(text).strip().startswith("-") else parse_duration(text, flag, bare=None)
    if v is None or not v > 0:
        raise InputError(f"{flag} must be a positive duration, got {text!r} (e.g. {flag} 200ms)")
    return v


def _quantity(text, flag: str, family: str, unit: str):
    """A mass or an energy in `unit` from a flag's text: a plain number is in `unit`, a unit may be
    written (4.9t, 300mWh); a count suffix is refused (4.9M: megagrams or a million kg?)."""
    from ..units import parse_quantity
    return None if text is None else parse_quantity(text, family, flag, to=unit, bare=unit)


def run(a) -> int:
    from ..budget import evaluate, parse_budget
    from ..report import render_serving
    from ..impact import serve

    check_output(a)
    budgets = list({b.name: b for b in map(parse_budget, a.budget)}.values())   # the last one per name wins
    if getattr(a, "check", False) and not budgets:
        raise InputError("flopest check serve needs at least one --budget, e.g. --budget latency=200ms")
    for flag, given in (("--at", a.at is not None), ("--allow-unknown", a.allow_unknown)):
        if given and not budgets:
            raise InputError(f"{flag} applies to a budget check: add --budget NAME=VALUE, or remove {flag}")
    samples = num_arg("--samples", a.samples, True)
    check_samples(samples)   # before any work: a count and the memory its draws need
    kw = dict(prompt_tokens=a.prompt_tokens, output_tokens=a.output_tokens, requests_per_day=a.requests_per_day,
              requests_per_hour=a.requests_per_hour, requests=a.requests, users=a.users,
              requests_per_user=a.requests_per_user, days=a.days, months=a.months, device=a.device,
              n_devices=a.devices, servers=a.servers, batch=a.batch,
              max_latency_s=parse_seconds(a.max_latency) if a.max_latency is not None else None,
              utilisation=a.utilisation, region=a.region, datacenter=a.datacenter, precision=a.precision,
              pue=plain_arg("--pue", a.pue), intensity=plain_arg("--intensity", a.intensity), mfu=a.mfu, mbu=a.mbu,
              power_w=plain_arg("--power-w", a.power_w), lifetime_years=plain_arg("--lifetime-years", a.lifetime_years),
              server_embodied_kg=_quantity(a.server_embodied_kg, "--server-embodied-kg", "mass", "kg"),
              wh_per_request=_quantity(a.wh_per_request, "--wh-per-request", "energy", "Wh"), params=a.params,
              layers=a.layers, d_model=a.d_model, kv_dim=a.kv_dim, context=a.context, training=a.training,
              seq_dim=a.seq_dim, past_dim=a.past_dim, samples=samples, seed=num_arg("--seed", a.seed, True))
    for flag in ("--prompt-tokens", "--output-tokens"):   # zero or negative: named before any model is read
        v = getattr(a, flag[2:].replace("-", "_"))
        if v is not None:
            try:
                x = num_arg(flag, v)
            except InputError:
                x = 0
            if not (x > 0 and x == int(x)):
                raise InputError(f"{flag} must be a positive whole number, got {v!r} (e.g. {flag} 500)")
    for flag, v, what in (("--device", a.device, "device"), ("--region", a.region, "region"),
                          ("--datacenter", a.datacenter, "datacenter")):
        if v is not None:   # the id exists in the data, else an error naming the flag
            known(flag, v, what)
    for flag, v in (("--wh-per-request", a.wh_per_request), ("--params", a.params)):
        if v is not None and a.model is not None:   # before reading the model
            raise InputError(f"{flag} replaces the MODEL: give one of them")
    args, kwargs, model = (), {}, a.model
    dims = {}
    for d in a.dim:
        try:
            dims.update(parse_dims([d]))
        except InputError as exc:
            raise InputError(f"--dim {d!r}: {exc}") from None
    for flag, v in (("--dim", " ".join(a.dim) or None), ("--seq-dim", a.seq_dim), ("--past-dim", a.past_dim)):
        if v is not None and (model is None or models.is_torch_spec(model)):
            raise InputError(f"{flag} {v!r} names a dim of an ONNX decoder: give an .onnx MODEL")
    if model is not None:
        if models.is_torch_spec(model):
            if models.is_zoo(model) or models.is_keras_file(model) or a.output_tokens is None:
                tm = models.torch_model(model)
                model, args, kwargs = tm.module, tm.args, tm.kwargs
            else:   # a causal LM: generation builds its own inputs
                model = (models.hf_model(model) if models.is_hf(model) else models.load_factory(model)).module
        elif not os.path.exists(model):
            raise InputError(f"MODEL {model!r}: no such file (an .onnx file, zoo:NAME or package.module:factory)")
        kw["dims"] = dims
    est = serve(model, *args, example_kwargs=kwargs, **kw)
    d = est.to_dict()
    if a.model and d.get("model") and d["model"] != a.model:
        d["model"] = f"{a.model} ({d['model']})"
    res = None
    if budgets:
        res = evaluate(est, budgets, a.at or "p95", allow_unknown=a.allow_unknown)
        d["check"] = res.to_dict()
    emit(a, render_serving(d, a.format))
    if res is not None and (a.output is not None or a.format == "json"):   # the verdict on stderr, for CI logs
        print(f"flopest: {res.verdict()}", file=sys.stderr)
    return 0 if res is None or res.ok else 1
