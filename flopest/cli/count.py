"""`flopest count`: FLOPs, bytes and params of a model, at dims, swept, broken down."""

from __future__ import annotations

import argparse
import contextlib
import itertools

from .. import models
from ..counts import BY_CHOICES, parse_dims
from ..errors import InputError, KernelInputError
from .common import (Once, check_dims, known, output_option, check_output, check_plot_target, emit, int_arg, plot, progress, short,
                     torch_model)

EPILOG = """examples:
  flopest count zoo:bert_base              # a zoo model (PyTorch capture) at its example shapes
  flopest count zoo:gpt2 --training --optimizer adamw --by module --depth 2
  flopest count mypkg.models:make_model --input 8x3x224x224        # factory -> nn.Module
  flopest count mypkg.models:make_lm --input input_ids=1x512 --input-dtype int64 --training
  flopest count model.onnx --dim batch=8 --dim sequence=512
  flopest count model.onnx --dim batch=1 --sweep sequence=128,256,512,1024
  flopest count model.onnx --dim batch=8 --by op --format markdown --output counts.md
  flopest count model.onnx --strict        # exit 2 if any operator is not costed
"""

MAX_SWEEP_POINTS = 100_000   # the product of all --sweep axes


def add_parser(sub) -> argparse.ArgumentParser:
    c = sub.add_parser("count", help="FLOPs, bytes and params of an ONNX model",
                       description="Count FLOPs (1 multiply-add = 2 FLOPs), matmul FLOPs, bytes moved "
                       "and parameters of an ONNX model, operator by operator. Operators flopest "
                       "cannot cost are listed by name, never counted as zero silently.",
                       epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    c.add_argument("model", metavar="MODEL",
                   help="an .onnx file; zoo:NAME, a model of the zoo (`flopest zoo` lists them); or "
                   "package.module:factory, a Python callable returning a torch.nn.Module, a keras.Model or a "
                   "(module, example_inputs) pair (PyTorch models need the torch extra); or a Keras 3 .keras "
                   "file (the keras extra: captured on Keras's torch backend)")
    c.add_argument("--dim", action="append", default=[], metavar="NAME=VALUE",
                   help="value of a symbolic dim of the model (repeatable), e.g. --dim batch=8")
    c.add_argument("--sweep", action="append", default=[], metavar="NAME=V1,V2,...",
                   help="evaluate at each value (repeatable: the product of all sweeps); the model "
                   "is read once and only the kernel runs per point")
    c.add_argument("--by", choices=BY_CHOICES,
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
    c.add_argument("--format", default=None, choices=("table", "json", "markdown", "csv"),
                   help="output format (default: table)")
    c.add_argument("--top", type=int, default=20, metavar="N",
                   help="rows of the breakdown shown in table/markdown output (default 20, 0 = all)")
    c.add_argument("--strict", action="store_true", help="exit 2 when any operator is not costed")
    c.add_argument("--causal", action=argparse.BooleanOptionalAction, default=None,
                   help="count causal attention operators over the unmasked pairs only "
                   "(default: on for hf: causal LMs, else every query-key pair)")
    t.add_argument("--memory", action="store_true",
                   help="with --training: the memory per device (weights, master weights, gradients, optimizer "
                   "states, saved activations) and whether it fits --device")
    t.add_argument("--device", help="with --memory: the device whose memory is checked (default h100-sxm)")
    t.add_argument("--precision", choices=("fp32", "tf32", "bf16", "fp16", "fp8"),
                   help="with --memory: the training precision (default bf16, mixed)")
    t.add_argument("--task", choices=("causal-lm", "seq2seq", "masked-lm", "classification", "image-classification", "base"),
                   help="hf: models: the head (default: from the config's architectures)")
    t.add_argument("--seq-len", metavar="N", help="hf: models: tokens per sequence (default: the config's "
                   "context, capped at 2,048)")
    output_option(c)
    c.add_argument("--plot", metavar="FILE.png|.svg", action=Once, help="also draw the breakdown (--by) or, with one "
                   "--sweep, FLOPs against the swept dim (needs the plot extra)")
    c.add_argument("--quiet", "-q", action="store_true", help="no progress on stderr")
    c.add_argument("--debug", action="store_true", help="show a traceback on errors")
    c.set_defaults(run=run)
    return c


def parse_sweeps(items) -> list:
    axes = []
    points = 1
    for s in items:
        if "=" not in s:
            raise InputError(f"--sweep {short(s)!r} must look like NAME=V1,V2,..., e.g. --sweep sequence=128,256")
        name, vals = s.split("=", 1)
        name = name.strip()
        if not name:
            raise InputError(f"--sweep {short(s)!r} has no name; write NAME=V1,V2,..., e.g. --sweep sequence=128,256")
        if any(n == name for n, _ in axes):
            raise InputError(f"--sweep {name!r} is given twice; give its values once, comma-separated")
        values = [int_arg(f"--sweep {short(name)}", v) for v in vals.split(",")]
        points *= len(values)
        if points > MAX_SWEEP_POINTS:
            raise InputError(f"--sweep makes more than {MAX_SWEEP_POINTS:,} points; sweep fewer values")
        axes.append((name, values))
    return axes


@contextlib.contextmanager
def naming(flags: str):
    """Prefix errors raised while the model is evaluated at user dims with the flags that set
    them (an error about a dim names --dim / --sweep)."""
    try:
        yield
    except (InputError, KernelInputError) as exc:
        if not flags or "--dim" in str(exc) or "--sweep" in str(exc):
            raise
        raise type(exc)(f"{flags}: {exc}") from None


def run(a) -> int:
    from ..report import render
    if a.top < 0:
        raise InputError(f"--top {a.top} must be >= 0")
    if a.depth is not None and a.depth < 0:
        raise InputError(f"--depth {a.depth} must be >= 0")
    if a.depth is not None and a.by != "module":
        raise InputError(f"--depth {a.depth} folds module paths: it goes with --by module")
    check_output(a)
    check_plot_target(a)
    dims = parse_dims(a.dim)
    check_dims(dims)
    sweeps = parse_sweeps(a.sweep)
    for name, values in sweeps:
        check_dims({name: min(values)}, "--sweep")
    torch_flags = (a.training or a.optimizer or a.checkpointing or a.materialize or a.input or a.input_dtype
                   or a.memory or a.device or a.precision)
    if a.onnx and not models.is_zoo(a.model):
        raise InputError(f"--onnx is for zoo:NAME models (count the export of a zoo model); "
                         f"{short(a.model)!r} is not one")
    seq_len = int_arg("--seq-len", a.seq_len) if a.seq_len is not None else None
    if seq_len == 0:
        raise InputError("--seq-len must be >= 1")
    if (a.task or a.seq_len) and not models.is_hf(a.model):
        raise InputError(f"--task and --seq-len are for hf: models; {short(a.model)!r} takes its shapes from "
                         f"{'--input' if models.is_torch_spec(a.model) else '--dim'}")
    if models.is_torch_spec(a.model) and not a.onnx:
        if dims or sweeps:
            raise InputError("--dim and --sweep re-bind an ONNX model's symbolic dims; a PyTorch model "
                             "takes its shapes from --input" + (" (--onnx counts a zoo model's export)"
                                                                if models.is_zoo(a.model) else ""))
        if (a.optimizer or a.checkpointing or a.memory) and not a.training:
            raise InputError("--optimizer, --checkpointing and --memory need --training")
        if (a.device or a.precision) and not a.memory:
            raise InputError("--device and --precision choose what --memory checks: add --memory")
        if a.device:
            known("--device", a.device, "device")
        tm = torch_model(a, meta=not a.materialize, task=a.task, seq_len=seq_len)
        causal = tm.causal if a.causal is None else a.causal
        with progress(a, f"capturing {short(a.model)}"):
            c = models.count_module(tm.module, tm.args, tm.kwargs, strict=a.strict, causal=bool(causal),
                                    training=a.training, optimizer=a.optimizer, checkpointing=a.checkpointing,
                                    materialize=a.materialize, source=tm.source, notes=tm.notes)
        d = c.to_dict(by=a.by, depth=a.depth)
        if a.memory:
            from ..impact.memory import memory_per_device
            d["memory"] = memory_per_device(c, device=a.device or "h100-sxm", precision=a.precision or "bf16",
                                            optimizer=a.optimizer or "adam",
                                            checkpointing=a.checkpointing).to_dict()
        plot_count(a, c)
        emit(a, render(d, a.format, top=a.top or None))
        return 0
    if torch_flags:
        raise InputError("--input, --input-dtype, --training, --optimizer, --checkpointing, --materialize, "
                         "--memory, --device and --precision are for PyTorch models (package.module:factory, "
                         "zoo:NAME or hf:...)")
    first = dict(dims)
    for name, values in sweeps:
        first[name] = values[0]
    model = a.model
    if models.is_zoo(model):
        model, defaults = models.zoo_onnx(model)
        first = {**{k: v for k, v in defaults.items() if k not in first}, **first}
    flags = " ".join([f"--dim {short(d)}" for d in a.dim] + [f"--sweep {short(s)}" for s in a.sweep])
    with naming(flags):
        c = models.count_onnx(model, first, strict=a.strict, causal=bool(a.causal))
    if sweeps:
        points = []
        names = [n for n, _ in sweeps]
        combos = list(itertools.product(*[v for _, v in sweeps]))
        with progress(a, "sweeping", total=len(combos) if len(combos) >= 1000 else None) as step:
            for combo in combos:
                point = dict(zip(names, combo))
                with naming(" ".join(f"--sweep {k}={v}" for k, v in point.items())):
                    ci = c.at(**point)
                    points.append({"dims": dict(ci.dims), "flops": ci.flops, "matmul_flops": ci.matmul_flops,
                                   "macs": ci.macs, "bytes": ci.bytes})
                step()
        d = c.to_dict()
        d["sweep"] = points
        if a.plot:
            if len(sweeps) != 1:
                raise InputError(f"--plot {a.plot!r} with --sweep draws one swept dim; {len(sweeps)} are given")
            from ..plots import plot_sweep
            plot(a, lambda path: plot_sweep(
                [p["dims"][names[0]] for p in points],
                {"flops": [p["flops"] for p in points], "matmul_flops": [p["matmul_flops"] for p in points]},
                path, xlabel=names[0], ylabel="FLOPs", metric="flops"))
    else:
        d = c.to_dict(by=a.by, depth=a.depth)
        plot_count(a, c)
    emit(a, render(d, a.format, top=a.top or None))
    return 0


def plot_count(a, c) -> None:
    if a.plot:
        from ..plots import plot_breakdown
        plot(a, lambda path: plot_breakdown(c.breakdown(by=a.by, depth=a.depth), path, by=a.by,
                                            top=a.top or 15, unknown_ops=dict(c.unknown_ops)))
