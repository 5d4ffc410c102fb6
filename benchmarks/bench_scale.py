"""Scale: time and peak memory to count ONNX graphs of 10,000 and 100,000 nodes, and the time
to capture a one-trillion-parameter decoder on meta tensors. A printed table, not a test.

    python benchmarks/bench_scale.py                 # 10k and 100k nodes, median of 3; 1T capture
    python benchmarks/bench_scale.py --repeat 1 --nodes 10000 --no-llama

Each ONNX count runs in a fresh interpreter (tests/robustness/_scale.py count ...), so its peak
RSS (resource.getrusage) is flopest's alone; the time is that of flopest.count (read, shape
inference, lowering, kernel), with imports and the kernel's load from Numba's cache excluded. The graph is a chain of Add, MatMul (16×16) and Relu on (batch, 16), batch
symbolic, bound to 8.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import onnx  # noqa: E402

from tests.robustness import _scale  # noqa: E402


def bench_nodes(n: int, repeat: int) -> dict:
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, f"chain{n}.onnx")
        onnx.save(_scale.chain_model(n), path)
        size = os.path.getsize(path)
        runs = [_scale.count_in_subprocess(path, {"batch": 8}, timeout=1200) for _ in range(repeat)]
    assert all(r["flops"] == _scale.chain_flops(n, 8) for r in runs)
    return {"nodes": n, "file_mb": size / 2**20, "seconds": statistics.median(r["seconds"] for r in runs),
            "maxrss_mb": statistics.median(r["maxrss_mb"] for r in runs), "runs": len(runs)}


def bench_llama(repeat: int) -> dict:
    import flopest
    m = _scale.llama_meta()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        c = flopest.count(m, input_ids=flopest.spec((1, 2048), "int64"))
        times.append(time.perf_counter() - t)
    expected = _scale.llama_matmul_flops(2048)
    return {"params": c.params, "matmul_flops": c.matmul_flops, "formula": expected,
            "error_pct": 100 * (c.matmul_flops - expected) / expected, "seconds": statistics.median(times),
            "runs": len(times)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nodes", type=int, action="append", help="graph sizes (default 10000 and 100000)")
    ap.add_argument("--repeat", type=int, default=3, help="runs per size; the median is printed (default 3)")
    ap.add_argument("--no-llama", action="store_true", help="skip the 1T-parameter capture")
    a = ap.parse_args(argv)
    print(f"# flopest scale benchmark — {platform.python_version()}, {platform.machine()}, "
          f"{os.cpu_count()} CPUs")
    print(f"{'nodes':>9} {'file MB':>8} {'count s':>9} {'peak RSS MB':>12}  (median of {a.repeat})")
    for n in a.nodes or [10_000, 100_000]:
        r = bench_nodes(n, a.repeat)
        print(f"{r['nodes']:>9,} {r['file_mb']:>8.1f} {r['seconds']:>9.2f} {r['maxrss_mb']:>12.0f}", flush=True)
    if not a.no_llama:
        r = bench_llama(a.repeat)
        print(f"Llama 1T (d 25,600, 128 layers, T 2048) on meta: params {r['params']:,}; capture "
              f"{r['seconds']:.1f} s (median of {r['runs']}); matmul_flops {r['matmul_flops']:,} vs "
              f"2·N_mm·T + attention {r['formula']:,} ({r['error_pct']:+.4f} %)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
