"""Monte-Carlo speed of the impact model: samples/s of flopest.impact.simulate (Numba kernel +
NumPy's seeded normal draws + quantiles), median of 5 runs after a warm-up, one core.

    python benchmarks/bench_montecarlo.py [--samples 1e6]
Target: 1e6 samples in under 1 s on one core.
"""

import argparse
import os
import statistics
import time

os.environ.setdefault("NUMBA_NUM_THREADS", "1")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=5)
    a = ap.parse_args(argv)
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    from flopest.impact import build_scenario, simulate
    s = build_scenario("h100-sxm", 256, "US")          # every prior uncertain (8 ranges)
    uncertain = sum(1 for a_ in s.assumptions() if isinstance(a_["value"], dict))
    simulate(s, flops=8.4e22, samples=1000)             # warm-up: kernel load
    print(f"| samples | median s | samples/s | uncertain inputs |")
    print("|--:|--:|--:|--:|")
    for n in (10**4, 10**5, 10**6, 10**7):
        ts = []
        for _ in range(a.runs if n <= 10**6 else 3):
            t = time.perf_counter()
            simulate(s, flops=8.4e22, samples=n)
            ts.append(time.perf_counter() - t)
        m = statistics.median(ts)
        print(f"| {n:,} | {m:.3f} | {n / m / 1e6:.2f} M | {uncertain} |")
    print("\nOne core (pinned), NUMBA_NUM_THREADS=1; includes the normal draws and the p5/p50/p95 quantiles "
          "of 7 outputs.")


if __name__ == "__main__":
    main()
