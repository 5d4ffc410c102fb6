"""Rows per second of the cost kernel against the plain-Python reference (``tests/naive.py``).

    NUMBA_NUM_THREADS=1 python benchmarks/bench_kernel.py [--max-rows N] [--naive-max-rows N]

Measures, on a random concrete table (all cost kinds, small shapes, so every row stays on the
int64 path): ``flopest.kernel.evaluate`` (bind + validate + jitted kernel), the raw jitted
``_jit.row_costs`` call on preallocated outputs, and ``naive_evaluate``. Each figure is the
median of ``--runs`` timed runs after one warm-up run. The naive reference is only timed up to
``--naive-max-rows`` (it runs at about 1e5 rows/s); above that its rows/s is extrapolated from
the largest size timed (marked ``~``), which is fair since it is linear in the rows.
``--kinds transformer`` tiles one transformer block's kinds instead of drawing them at random.
The process is pinned to one core (``os.sched_setaffinity``) and Numba to one thread.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("NUMBA_NUM_THREADS", "1")
ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from flopest import kinds  # noqa: E402
from flopest.kernel import _kernels, evaluate  # noqa: E402
from flopest.optable import OpTable  # noqa: E402
from tests.naive import naive_evaluate  # noqa: E402


# the kinds of one transformer block (pre-norm, QKV, attention, out proj, MLP), in order
TRANSFORMER_BLOCK = (kinds.NORM, kinds.GEMM, kinds.GEMM, kinds.GEMM, kinds.ATTENTION, kinds.GEMM,
                     kinds.ELEMENTWISE, kinds.NORM, kinds.GEMM, kinds.ELEMENTWISE, kinds.GEMM,
                     kinds.ELEMENTWISE, kinds.MOVE, kinds.SOFTMAX)


def random_table(n: int, seed: int = 0, pattern: str = "random") -> OpTable:
    """n rows, parameters in 1..256 (flags 0/1, conv groups 1): every row fits int64 (the
    largest, RNN, stays below 2**60). Kinds: uniformly random over 1..11, grouped by kind as
    ``TableBuilder.build`` stores them (``built``, the default), in random order (``random``,
    the worst case for the CPU's branch predictor), or one transformer block's kinds tiled
    (``transformer``)."""
    rng = np.random.default_rng(seed)
    if pattern in ("random", "built"):
        kind = rng.integers(1, kinds.NKINDS, size=n, dtype=np.int8)
        if pattern == "built":   # TableBuilder.build stores rows grouped by kind
            kind = np.sort(kind, kind="stable")
    else:
        kind = np.resize(np.array(TRANSFORMER_BLOCK, dtype=np.int8), n)
    params = rng.integers(1, 257, size=(n, kinds.NPARAM), dtype=np.int64)
    params[:, kinds.REPEAT] = rng.integers(1, 4, size=n)
    conv = kind == kinds.CONV
    params[conv, 3] = 1                                          # groups
    params[conv, 7] = rng.integers(0, 2, size=int(conv.sum()))   # transposed
    att = kind == kinds.ATTENTION
    params[att, 5] = rng.integers(0, 2, size=int(att.sum()))     # causal
    zeros32 = np.zeros(n, dtype=np.int32)
    return OpTable(
        kind=kind, params=params,
        sym=np.broadcast_to(np.int32(-1), (n, kinds.NPARAM)),   # all concrete, no memory
        elsize=rng.choice(np.array([1, 2, 4, 8], dtype=np.int8), size=n),
        outsize=rng.choice(np.array([1, 2, 4, 8], dtype=np.int8), size=n),
        phase=np.zeros(n, dtype=np.int8), module=zeros32, op=zeros32, node=zeros32,
        group=np.full(n, -1, dtype=np.int32), branch=np.full(n, -1, dtype=np.int32),
        ops=["op"], modules=[""], nodes=[""])


def median_time(fn, runs: int) -> float:
    fn()                                      # warm-up (JIT load, page faults, caches)
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def fmt_rate(r: float) -> str:
    return f"{r / 1e6:,.1f} M" if r >= 1e6 else f"{r / 1e3:,.1f} k"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--max-rows", type=float, default=1e7, help="largest table (default 1e7)")
    ap.add_argument("--naive-max-rows", type=float, default=1e5,
                    help="largest table the naive reference is timed on (default 1e5)")
    ap.add_argument("--runs", type=int, default=5, help="timed runs per figure (median)")
    ap.add_argument("--kinds", choices=("built", "random", "transformer"), default="built",
                    help="order of the cost kinds in the table (default: built, grouped by kind "
                    "as flopest's TableBuilder stores them)")
    ap.add_argument("--no-pin", action="store_true", help="do not pin the process to one core")
    args = ap.parse_args(argv)

    if not args.no_pin and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    jit = _kernels()

    sizes = [n for n in (10**3, 10**4, 10**5, 10**6, 10**7) if n <= args.max_rows]
    lines = ["| rows | naive rows/s | evaluate rows/s | raw row_costs rows/s "
             "| raw / naive | evaluate / naive |",
             "|---:|---:|---:|---:|---:|---:|"]
    naive_rate = None
    for n in sizes:
        t = random_table(n, pattern=args.kinds)
        out = [np.empty(n, dtype=np.int64) for _ in range(3)] + [np.empty(n, dtype=np.bool_)]

        def raw():
            jit.row_costs(t.kind, t.params, t.elsize, t.outsize, *out)

        t_raw = median_time(raw, args.runs)
        t_eval = median_time(lambda: evaluate(t), args.runs)
        rc = evaluate(t)                      # same answer, and all on the int64 path
        assert not rc.big and not out[3].any() and rc.total("flops") == sum(out[0].tolist())
        if n <= args.naive_max_rows:
            naive_rate = n / median_time(lambda: naive_evaluate(t), args.runs)
            naive_txt = fmt_rate(naive_rate)
        else:
            naive_txt = f"~{fmt_rate(naive_rate)}"
        raw_rate, eval_rate = n / t_raw, n / t_eval
        lines.append(f"| {n:.0e} | {naive_txt} | {fmt_rate(eval_rate)} | {fmt_rate(raw_rate)} "
                     f"| {raw_rate / naive_rate:,.0f}× | {eval_rate / naive_rate:,.0f}× |")
        print(lines[-1] if len(lines) > 3 else "\n".join(lines), flush=True)
        del t, out

    print(f"\n{platform.processor() or platform.machine()}, Python {platform.python_version()}, "
          f"numba {__import__('numba').__version__}, NUMBA_NUM_THREADS="
          f"{os.environ.get('NUMBA_NUM_THREADS')}, pinned to one core: {not args.no_pin}; "
          f"kinds: {args.kinds}; "
          f"median of {args.runs} runs after a warm-up; `~` = naive rows/s extrapolated from "
          f"{int(min(args.naive_max_rows, sizes[-1])):.0e} rows.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
