"""`flopest sweep`: run a design-space sweep on Dask (SPEC.toml), or read its results (--report)."""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import threading

from ..errors import InputError
from .common import BudgetAppend, Once, check_plot_target, int_arg, short, stdout

EPILOG = """examples:
  flopest sweep examples/sweep.toml --workers 2 --output results.parquet
  flopest sweep spec.toml --output results.parquet --resume          # after a crash or a kill
  flopest sweep spec.toml --scheduler tcp://10.0.0.5:8786 --output results.csv --point-timeout 5min
  flopest sweep --report results.parquet --budget time=3d --budget co2eq=2t --plot front.png

spec.toml (docs/sweep.md has every key):
  [model]
  factory = "sweep_models:llama"             # or hf = "ORG/NAME", onnx = "model.onnx", zoo = "NAME"
  args = { seq = 512 }                       # fixed keyword arguments / hf overrides / ONNX dims
  grid = { layers = [4, 8], d_model = [512, 1024] }
  [plan]
  dataset-size = "2M"                        # the long flags of `flopest estimate`
  [grid]
  device = ["h100-sxm", "a100-sxm4-80gb"]
  region = ["FR", "US"]
"""

RUN_ONLY = ("workers", "scheduler", "output", "resume", "point_timeout")


class Stopped(KeyboardInterrupt):
    """SIGTERM while a sweep runs: it stops as Ctrl-C does, after writing what is done."""


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser("sweep", help="a design-space sweep on Dask: models × plans × scenarios, resumable",
                       description="Count every model configuration of a sweep spec once and estimate it on "
                       "every plan and scenario of the spec, on a local Dask cluster of worker processes (or a "
                       "scheduler you run), writing each point's figures to a Parquet or CSV file as they "
                       "complete. A failed point is recorded with its error; a killed sweep continues with "
                       "--resume. Then prints the Pareto front of CO2eq against time (and cost) and the best "
                       "point per budget; --report reads a results file again.",
                       epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", metavar="SPEC.toml", nargs="?",
                   help="the sweep spec: [model] (factory, hf, onnx or zoo; args, grid or points), [plan], [grid] "
                   "or [[points]], samples, seed")
    r = p.add_argument_group("running")
    r.add_argument("--workers", metavar="N", help="worker processes of a local Dask cluster (default: the cores; 0 = "
                   "in this process, without Dask)")
    r.add_argument("--scheduler", metavar="ADDRESS", help="a running Dask scheduler, e.g. tcp://HOST:8786 "
                   "(default: DASK_SCHEDULER_ADDRESS when --workers is not given); its workers need flopest and "
                   "the spec's model modules")
    r.add_argument("--output", "-o", metavar="FILE.parquet|.csv", action=Once,
                   help="the results, one row per point, rewritten atomically as points complete")
    r.add_argument("--resume", action="store_true", help="complete the --output file: compute only the points "
                   "it lacks or that failed")
    r.add_argument("--point-timeout", metavar="DURATION", help="record a point as failed when its count or "
                   "estimate takes longer (e.g. 90s, 10min)")
    q = p.add_argument_group("reading the results")
    q.add_argument("--report", metavar="FILE.parquet|.csv", help="print the Pareto front and best points of a "
                   "results file (no SPEC)")
    q.add_argument("--budget", action=BudgetAppend, default=[], metavar="NAME=VALUE",
                   help="the best point within a budget at p95, repeatable: time=3d, hours=5000, co2eq=2t, "
                   "energy=50MWh, water=1m3 (default: round time budgets across the points)")
    q.add_argument("--plot", metavar="FILE.png|.svg", action=Once, help="draw the cloud of points and the Pareto "
                   "front (needs the plot extra)")
    q.add_argument("--format", default=None, choices=("table", "json", "markdown", "csv"),
                   help="the report's format (csv: the fronts' rows)")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar on stderr")
    p.add_argument("--debug", action="store_true", help="show a traceback on errors")
    p.set_defaults(run=run)
    return p


def _budgets(a) -> list:
    from ..budget import parse_budget
    from ..sweeps.result import SWEEP_BUDGETS
    out = []
    for text in a.budget:
        b = parse_budget(text, "--budget")
        if b.name not in SWEEP_BUDGETS:
            raise InputError(f"--budget {short(text)}: a sweep's results have no {b.name!r} column; give one of "
                             f"{', '.join(SWEEP_BUDGETS)}")
        out.append(b)
    return out


def run(a) -> int:
    from .. import io, sweeps
    from ..sweeps.table import format_of
    from ..report.spec import render
    if a.model is None and a.report is None:
        raise InputError("give a sweep SPEC.toml to run, or --report FILE to read results")
    if a.model is not None and a.report is not None:
        raise InputError(f"--report reads results; {short(a.model)!r} is a spec to run: give one of them")
    budgets = _budgets(a)
    check_plot_target(a)
    if a.report is not None:
        given = [f"--{n.replace('_', '-')}" for n in RUN_ONLY if getattr(a, n) not in (None, False)]
        if given:
            raise InputError(f"{given[0]} applies to running a sweep, not to --report (which prints to standard "
                             f"output)")
        result = sweeps.read(a.report, "--report")
        if a.plot:
            from ..sweeps.plot import plot_front
            plot_front(result, a.plot)
        stdout().write(render(result.report(budgets), a.format))
        return 0
    workers = int_arg("--workers", a.workers) if a.workers is not None else None
    timeout = None
    if a.point_timeout is not None:
        from ..units import parse_duration
        timeout = parse_duration(a.point_timeout, "--point-timeout")
        if not timeout > 0:
            raise InputError(f"--point-timeout {short(a.point_timeout)!r} must be a positive duration, e.g. 90s")
    if a.resume and a.output is None:
        raise InputError("--resume completes a results file: give it with --output FILE")
    if a.output is not None:
        if a.output == "-":
            raise InputError("--output -: a sweep writes its results to a .parquet or .csv file (its report goes "
                             "to standard output)")
        io.target(a.output, "--output", inputs=[a.model], others=[("--plot", a.plot)])
        format_of(a.output, "--output")
    done = {"done": 0, "failed": 0, "left": 0}
    with _progress(a, done) as step, _stop_on_sigterm():
        try:
            result = sweeps.sweep(a.model, output=a.output, workers=workers, scheduler=a.scheduler, resume=a.resume,
                                  point_timeout=timeout, progress=step)
        except KeyboardInterrupt as exc:
            why = "SIGTERM" if isinstance(exc, Stopped) else "interrupted"
            n = done["done"] + done["failed"]
            if not a.output:
                kept = "; no --output, nothing kept"
            elif n == 0 and not os.path.exists(a.output):
                kept = f"; no point was computed, and {a.output} was not written: run it again"
            else:
                kept = f"; the {n:,} point(s) computed are in {a.output}: run it again with --resume to finish"
            print(f"flopest: sweep stopped ({why}) with {done['left']:,} point(s) left{kept}", file=sys.stderr)
            return 143 if isinstance(exc, Stopped) else 130
    if a.plot:
        from ..sweeps.plot import plot_front
        plot_front(result, a.plot)
    stdout().write(render(result.report(budgets), a.format))
    ok, failed = len(result.ok), len(result.failed)
    print(f"flopest: sweep: {len(result.rows):,} points, {ok:,} ok, {failed:,} failed"
          + (f" → {a.output}" if a.output else ""), file=sys.stderr)
    if result.rows and not ok:
        first = result.failed[0].get("error")
        raise InputError(f"every point of the sweep failed (the first: {short(str(first), 200)})")
    return 0


@contextlib.contextmanager
def _progress(a, counts: dict):
    """A bar on stderr (points done / failed / left) while the sweep runs; off with --quiet or
    when stderr is not a terminal. Yields the library's progress callback."""
    def record(d, f, left):
        counts.update(done=d, failed=f, left=left)
    if a.quiet or not sys.stderr.isatty():
        yield record
        return
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
    with Progress(TextColumn("sweep"), BarColumn(), TextColumn("{task.fields[counts]}"), TimeElapsedColumn(),
                  TimeRemainingColumn(), console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("sweep", total=None, counts="starting the workers…")

        def step(d, f, left):
            record(d, f, left)
            bar.update(task, completed=d + f, total=d + f + left,
                       counts=f"done {d:,} · failed {f:,} · left {left:,}")
        yield step


@contextlib.contextmanager
def _stop_on_sigterm():
    """While the sweep runs, SIGTERM stops it as Ctrl-C does (Stopped): the results computed so
    far are written and the cluster closed before the process exits (143). A second SIGTERM
    during that clean-up is ignored."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    state = {"active": True, "fired": False}

    def on_term(signum, frame):
        if state["active"] and not state["fired"]:
            state["fired"] = True
            raise Stopped()
        if not state["active"]:   # after the sweep: the default action
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGTERM)

    try:
        prev = signal.signal(signal.SIGTERM, on_term)
    except (ValueError, OSError):
        yield
        return
    try:
        yield
    finally:
        state["active"] = False
        if signal.getsignal(signal.SIGTERM) is on_term:
            signal.signal(signal.SIGTERM, prev)
