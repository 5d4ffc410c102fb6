"""`flopest probe`: measure this machine (GEMM FLOP/s by size and precision, memory bandwidth,
per-kernel launch cost) into a device row for `--devices FILE.csv --device ID`."""

from __future__ import annotations

import argparse
import contextlib
import io as _io
import json
import os
import re
import sys

from .. import probe
from ..errors import InputError
from .common import check_output, emit, output_option, short

EPILOG = """examples:
  flopest probe                                  # this machine's GPU if torch sees one, else its CPU
  flopest probe --device cpu --id mycpu --output mycpu.csv
  flopest estimate zoo:resnet50 --dataset-size 1.28M --epochs 90 --devices mycpu.csv --device mycpu
  flopest probe --quick --format json            # a few seconds, fewer sizes
"""

ID_PATTERN = r"[a-z0-9][a-z0-9.+-]*"


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser("probe", help="measure this machine into a device row (GEMM FLOP/s, memory "
                       "bandwidth, launch cost) for --devices FILE.csv",
                       description="Measure the machine flopest runs on: achievable dense GEMM FLOP/s by "
                       "square size and precision (fp32, tf32, bf16, fp16 where supported), memory bandwidth "
                       "(copy and triad) and the per-kernel launch cost, on the CPU (torch, or NumPy without "
                       "the torch extra) or on a CUDA, ROCm or Apple GPU torch sees. Writes a device row "
                       "(basis: measured, with the date and software versions) usable with `flopest estimate "
                       "... --devices FILE.csv --device ID`; power and embodied emissions are estimates, "
                       "listed in its estimated_fields. Under a minute (--quick: a few seconds).",
                       epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="auto", metavar="auto|cpu|cuda[:N]|mps",
                   help="what to measure (default auto: a CUDA/ROCm GPU, else Apple's MPS, else the CPU)")
    p.add_argument("--quick", action="store_true",
                   help="a few seconds: fewer sizes, shorter timings (noisier)")
    p.add_argument("--id", metavar="NAME",
                   help="the row's id, to give as --device NAME (lower-case letters, digits, . + -; "
                   "default probe-<device>)")
    p.add_argument("--format", choices=("table", "json", "csv"),
                   help="output format (default: csv with --output FILE, else table)")
    output_option(p)
    p.add_argument("--quiet", "-q", action="store_true", help="no progress on stderr")
    p.add_argument("--debug", action="store_true", help="show a traceback on errors")
    p.set_defaults(run=run)
    return p


def run(a) -> int:
    to_file = a.output not in (None, "-")
    ext = os.path.splitext(str(a.output))[1].lower() if to_file else ""
    if to_file and a.format is None and ext not in ("", ".csv"):
        # the device row is a CSV (what --devices reads); .json is the JSON of the same row
        if ext != ".json":
            raise InputError(f"--output {a.output!r}: flopest probe writes a device row as CSV (.csv, what --devices "
                             f"reads) or JSON (.json); give one of those names or --format")
        a.format = "json"
    fmt = a.format or ("csv" if to_file else "table")
    check_output(a)
    if a.id is not None and not re.fullmatch(ID_PATTERN, a.id):
        raise InputError(f"--id {short(a.id)!r} is not a device id: lower-case letters, digits, '.', '+', '-' "
                         f"(e.g. --id {re.sub(r'[^a-z0-9.+-]+', '-', a.id.lower()).strip('-') or 'mycpu'})")
    try:
        who = probe.identify(a.device)
    except InputError as exc:
        raise InputError(f"--{exc}" if str(exc).startswith("device ") else str(exc)) from None
    if a.id is not None and a.id.startswith(who["vendor"] + "-"):
        raise InputError(f"--id {a.id!r} starts with the vendor {who['vendor']!r}: device ids carry no vendor "
                         f"(e.g. --id {a.id[len(who['vendor']) + 1:]!r})")
    warning = probe.busy()
    if warning and not a.quiet:
        print(f"flopest: warning: {warning}", file=sys.stderr)
    with _progress(a, f"probing {who['device']} ({who['name']}, {who['backend']})") as bar:
        row = probe.measure(a.device, quick=a.quick, progress=bar)
    if a.id is not None:
        row["id"] = a.id
    emit(a, render(row, fmt))
    if to_file and not a.quiet:
        use = (f"use it with --devices {a.output} --device {row['id']}" if fmt == "csv" else
               "--devices reads the CSV of the row: write it with --output NAME.csv")
        print(f"flopest: wrote {a.output}: {use}", file=sys.stderr)
    return 0


@contextlib.contextmanager
def _progress(a, label: str):
    """A bar on stderr (when it is a terminal and not --quiet); yields measure()'s progress callback."""
    if a.quiet or not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=Console(stderr=True), transient=True) as p:
        task = p.add_task(label, total=None)

        def update(done, total, what):
            p.update(task, completed=done, total=total, description=f"{label}: {what}")
        yield update


def render(row: dict, fmt: str) -> str:
    """The row as `fmt`: csv (a devices file), json (the row), table (for reading)."""
    if fmt == "csv":
        return probe.to_csv(row)
    if fmt == "json":
        doc = {**row, "estimated_fields": list(row["estimated_fields"]),
               "gemm_curve": {p: [[n, t] for n, t in pts] for p, pts in row["gemm_curve"]}}
        return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
    return _table(row)


def _table(row: dict) -> str:
    from rich.console import Console
    from rich.table import Table
    curves = dict(row["gemm_curve"])
    sizes = sorted({n for pts in curves.values() for n, _ in pts})
    est = set(row["estimated_fields"])
    buf = _io.StringIO()
    con = Console(file=buf, width=100, color_system=None, markup=False)
    con.print(f"flopest probe: {row['id']} — {row['name']}")
    head = Table(show_header=False)
    head.add_column("quantity")
    head.add_column("value")

    def mark(col, text):
        return f"{text} (estimate)" if col in est else text
    head.add_row("kind, vendor", f"{row['kind']}, {row['vendor']}")
    for p in ("fp32", "tf32", "bf16", "fp16"):
        v = row[f"peak_{p}_tflops"]
        if v is not None:
            head.add_row(f"GEMM {p} (peak achieved)", f"{v:g} TFLOP/s")
    head.add_row("memory bandwidth", f"{row['mem_bandwidth_gbps']:g} GB/s")
    head.add_row("launch cost (tiny add)", f"{row['launch_us']:g} µs")
    if row.get("fault_gbps"):
        head.add_row("first touch of fresh memory", f"{row['fault_gbps']:g} GB/s")
    if row["memory_gb"] is not None:
        head.add_row("memory", f"{row['memory_gb']:g} GB")
    head.add_row("power (TDP, idle)", mark("tdp_w", f"{row['tdp_w']:g} W, {row['idle_w']:g} W"))
    head.add_row("embodied", mark("embodied_kgco2e", f"{row['embodied_kgco2e']:g} kg CO₂eq"))
    head.add_row("MFU class", row["mfu_class"])
    con.print(head)
    con.print("achieved GEMM TFLOP/s by square size n (an n×n by n×n matmul = 2·n³ FLOPs):")
    curve = Table()
    curve.add_column("n", justify="right")
    for p in curves:
        curve.add_column(p, justify="right")
    for n in sizes:
        curve.add_row(str(n), *[next((f"{t:.4g}" for m, t in curves[p] if m == n), "—") for p in curves])
    con.print(curve)
    con.print(f"source: {row['source']}", soft_wrap=False)
    con.print(f"use: flopest probe --id {row['id']} --output FILE.csv, then flopest estimate MODEL "
              f"--devices FILE.csv --device {row['id']}")
    return buf.getvalue()
