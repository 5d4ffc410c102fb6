"""The `flopest` command: parsing and printing only (the work is in the library)."""

from __future__ import annotations

import argparse
import itertools
import os
import sys

from . import __version__
from .errors import FlopestError, InputError

EPILOG_COUNT = """examples:
  flopest count zoo:bert_base              # a zoo model at its example shapes
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
    c.add_argument("model", metavar="MODEL", help="path to an .onnx file, or zoo:NAME for a model of "
                   "the zoo (exported to ONNX once; needs the torch extra; `flopest zoo` lists them)")
    c.add_argument("--dim", action="append", default=[], metavar="NAME=VALUE",
                   help="value of a symbolic dim of the model (repeatable), e.g. --dim batch=8")
    c.add_argument("--sweep", action="append", default=[], metavar="NAME=V1,V2,...",
                   help="evaluate at each value (repeatable: the product of all sweeps); the model "
                   "is read once and only the kernel runs per point")
    c.add_argument("--by", choices=("op", "kind", "node", "module"),
                   help="add a breakdown by operator type, cost kind, node or module")
    c.add_argument("--format", default="table", choices=("table", "json", "markdown", "csv"),
                   help="output format (default: table)")
    c.add_argument("--top", type=int, default=20, metavar="N",
                   help="rows of the breakdown shown in table/markdown output (default 20, 0 = all)")
    c.add_argument("--strict", action="store_true", help="exit 2 when any operator is not costed")
    c.add_argument("--causal", action="store_true",
                   help="count causal attention operators over the unmasked pairs only "
                   "(default: every query-key pair)")
    c.add_argument("--output", "-o", metavar="FILE", help="write the result to FILE (atomically)")
    c.add_argument("--debug", action="store_true", help="show a traceback on errors")
    z = sub.add_parser("zoo", help="list the zoo models usable as zoo:NAME",
                       description="List the reference models of the zoo (random init, nothing "
                       "downloaded); count one with `flopest count zoo:NAME`.")
    z.add_argument("--debug", action="store_true", help="show a traceback on errors")
    return p


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
    Console(width=140, color_system=None).print(t)
    return 0


def _parse_sweeps(items) -> list:
    axes = []
    for s in items:
        if "=" not in s:
            raise InputError(f"--sweep {s!r} must look like NAME=V1,V2,..., e.g. --sweep sequence=128,256")
        name, vals = s.split("=", 1)
        values = []
        for v in vals.split(","):
            v = v.strip()
            if not v.lstrip("-").isdigit() or int(v) < 0:
                raise InputError(f"--sweep {name}: value {v!r} is not a non-negative integer")
            values.append(int(v))
        if not values:
            raise InputError(f"--sweep {s!r} has no values")
        axes.append((name.strip(), values))
    return axes


def cmd_count(a) -> int:
    from . import count
    from .counts import parse_dims
    from .report import render, write_atomic

    if a.top < 0:
        raise InputError(f"--top {a.top} must be >= 0")
    dims = parse_dims(a.dim)
    sweeps = _parse_sweeps(a.sweep)
    first = dict(dims)
    for name, values in sweeps:
        first[name] = values[0]
    model = a.model
    from .zoo import is_zoo, resolve
    if is_zoo(model):
        model, defaults = resolve(model)
        first = {**{k: v for k, v in defaults.items() if k not in first}, **first}
    c = count(model, dims=first, strict=a.strict, causal=a.causal)
    if sweeps:
        points = []
        names = [n for n, _ in sweeps]
        for combo in itertools.product(*[v for _, v in sweeps]):
            ci = c.at(**dict(zip(names, combo)))
            points.append({"dims": dict(ci.dims), "flops": ci.flops, "matmul_flops": ci.matmul_flops,
                           "macs": ci.macs, "bytes": ci.bytes})
        d = c.to_dict()
        d["sweep"] = points
    else:
        d = c.to_dict(by=a.by)
    text = render(d, a.format, top=a.top or None)
    if a.output:
        write_atomic(a.output, text)
    else:
        sys.stdout.write(text)
    return 0


def main(argv=None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # usage errors (exit 2), --help and --version (exit 0)
        return int(exc.code or 0)
    debug = getattr(args, "debug", False) or os.environ.get("FLOPEST_DEBUG") == "1"
    if not args.command:
        parser.print_help()
        return 2
    try:
        return {"count": cmd_count, "zoo": cmd_zoo}[args.command](args)
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
