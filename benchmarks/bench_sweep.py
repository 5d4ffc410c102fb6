"""Sweep throughput: points per second of `flopest.sweep` on 1, 2 and 4 local Dask workers against
the same sweep run sequentially in this process, for two sweeps:

- capture-bound: ~200 small Llama-shaped configurations (examples/sweep_models.py: depth × width
  × vocabulary), each captured once (forward + backward + Adam on the meta device) and
  estimated on one scenario;
- re-bind-bound: one ONNX model (a transformer block with symbolic batch and sequence, built
  here) read once per process and re-bound at (batch, sequence) dims, each estimated: the
  table at `--rebind` points (10,000), then one run of `--full` points (100,000) on 2 workers
  and in this process (each such run takes minutes: the estimate, not the re-bind, is the cost).

Each configuration is run `--repeats` times on a warm cluster (started once per worker count,
its workers having imported flopest and captured once: the cold start is its own column), and
the median is reported. Results go to a Parquet file as in real use. The scheduler's overhead
per point is (1 worker's time - sequential time) / points. Prints Markdown tables; progress on
stderr.

    python benchmarks/bench_sweep.py [--repeats 3] [--configs 200] [--rebind 10000] [--full 100000]
                                     [--workers 1,2,4] [--only capture|rebind]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = 1000   # Monte-Carlo samples per estimate in both sweeps (the spec's `samples`)


def capture_spec(n: int) -> dict:
    """About `n` Llama-shaped configurations: depth × width × vocabulary, one scenario."""
    layers, widths, vocabs = [2, 4, 6, 8, 10, 12, 14, 16], [256, 384, 512, 640, 768], [8000, 16000, 32000, 50000, 64000]
    points = [{"layers": l_, "d_model": d, "vocab": v} for l_ in layers for d in widths for v in vocabs][:n]
    return {"samples": SAMPLES, "model": {"factory": "sweep_models:llama", "args": {"heads": 4, "seq": 256},
                                          "points": points},
            "plan": {"dataset-size": "1M", "device": "h100-sxm", "region": "FR"}}


def transformer_onnx(path: str, d: int = 256, ffn: int = 1024) -> None:
    """One attention + MLP block over x (batch, sequence, d): QKᵀ and AV grow as sequence²."""
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper, save
    rng = np.random.default_rng(0)

    def w(name, shape):
        return numpy_helper.from_array(rng.standard_normal(shape).astype(np.float32), name)
    nodes = [helper.make_node("MatMul", ["x", "wq"], ["q"]), helper.make_node("MatMul", ["x", "wk"], ["k"]),
             helper.make_node("MatMul", ["x", "wv"], ["v"]),
             helper.make_node("Transpose", ["k"], ["kt"], perm=[0, 2, 1]),
             helper.make_node("MatMul", ["q", "kt"], ["s"]), helper.make_node("Softmax", ["s"], ["p"], axis=-1),
             helper.make_node("MatMul", ["p", "v"], ["a"]), helper.make_node("MatMul", ["a", "wo"], ["o"]),
             helper.make_node("Add", ["x", "o"], ["h"]), helper.make_node("MatMul", ["h", "w1"], ["u"]),
             helper.make_node("Relu", ["u"], ["r"]), helper.make_node("MatMul", ["r", "w2"], ["m"]),
             helper.make_node("Add", ["h", "m"], ["y"])]
    g = helper.make_graph(nodes, "block", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", "sequence", d])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", "sequence", d])],
                          initializer=[w("wq", (d, d)), w("wk", (d, d)), w("wv", (d, d)), w("wo", (d, d)),
                                       w("w1", (d, ffn)), w("w2", (ffn, d))])
    save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), path)


def rebind_spec(path: str, n: int) -> dict:
    """`n` (batch, sequence) dims of the ONNX block, one scenario each."""
    seqs = list(range(16, 16 * 400 + 1, 16))                    # 400 sequence lengths
    batches = list(range(1, -(-n // len(seqs)) + 1))
    points = [{"batch": b, "sequence": s} for b in batches for s in seqs][:n]
    return {"samples": SAMPLES, "model": {"onnx": path, "points": points},
            "plan": {"dataset-size": "10M", "device": "h100-sxm", "region": "FR"}}


def warm(client) -> None:
    """Every worker imports flopest's front ends and captures once (torch's first capture imports
    torch._dynamo, seconds): the cold start is measured apart from the steady state."""
    def go():
        sys.path.insert(0, str(ROOT / "examples"))
        import sweep_models
        from flopest import models
        from flopest.frontends import torch as fe   # noqa: F401
        import flopest.frontends.onnx  # noqa: F401
        m, inp = sweep_models.llama(1, 64)
        models.count_module(m, inp, training=True, optimizer="adam")
        return True
    client.run(go)


def say(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}; load {os.getloadavg()[0]:.1f}", file=sys.stderr, flush=True)


def timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def _worker_cpu() -> float:
    import psutil
    t = psutil.Process().cpu_times()
    return t.user + t.system


def bench(name: str, spec: dict, n: int, workers: list, repeats: int, folder: str) -> list:
    """[(label, median wall s, median CPU s, cold start s)]: CPU = this process (the client and,
    for a LocalCluster, its scheduler) + every worker process."""
    import flopest
    from distributed import Client, LocalCluster
    out = os.path.join(folder, f"{name}.parquet")

    def run(client=None, **kw):
        if os.path.exists(out):
            os.unlink(out)
        c0 = time.process_time() + (sum(client.run(_worker_cpu).values()) if client else 0.0)
        t0 = time.perf_counter()
        res = flopest.sweep(spec, output=out, **kw)
        wall = time.perf_counter() - t0
        cpu = time.process_time() + (sum(client.run(_worker_cpu).values()) if client else 0.0) - c0
        assert len(res.ok) == n, (len(res.ok), res.failed[:1])
        return wall, cpu

    def median(runs):
        return statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)
    rows = []
    run(workers=0)   # warm-up of this process (imports, first capture, ONNX read)
    seq, cpu = median([run(workers=0) for _ in range(repeats)])
    say(f"{name}: sequential {seq:.2f} s, CPU {cpu:.2f} s")
    rows.append(("sequential (this process)", seq, cpu, None))
    for w in workers:
        t0 = time.perf_counter()
        import dask
        with dask.config.set({"distributed.worker.profile.enabled": False}):   # as flopest's own LocalCluster
            cluster = LocalCluster(n_workers=w, threads_per_worker=1, processes=True, dashboard_address=None,
                                   silence_logs=40)
        client = Client(cluster)
        warm(client)
        cold = time.perf_counter() - t0
        run(scheduler=cluster.scheduler_address)   # a first sweep: each worker reads the ONNX model once
        t, cpu = median([run(client, scheduler=cluster.scheduler_address) for _ in range(repeats)])
        rows.append((f"{w} worker{'s' if w > 1 else ''}", t, cpu, cold))
        say(f"{name}: {w} workers {t:.2f} s, CPU {cpu:.2f} s (cold start {cold:.1f} s)")
        client.close()
        cluster.close()
    return rows


def table(title: str, n: int, rows: list) -> None:
    """Wall-clock figures, and CPU seconds per point: the speed-up the CPU time allows on
    min(workers, cores) otherwise idle cores (= cores × sequential CPU / parallel CPU), which a
    machine shared with other work cannot show in wall-clock time."""
    seq, seq_cpu = rows[0][1], rows[0][2]
    cores = os.cpu_count() or 1
    print(f"\n{title}: {n:,} points\n")
    print("| run | median s | points/s | speed-up | CPU ms / point | speed-up from CPU time | cold start s |")
    print("|---|--:|--:|--:|--:|--:|--:|")
    for label, t, cpu, cold in rows:
        w = 1 if cold is None else int(label.split()[0])
        ideal = min(w, cores) * seq_cpu / cpu
        print(f"| {label} | {t:.2f} | {n / t:,.0f} | {seq / t:.2f}× | {cpu / n * 1e3:.2f} | {ideal:.2f}× | "
              f"{'—' if cold is None else f'{cold:.1f}'} |")
    one = next((r for r in rows if r[0] == "1 worker"), None)
    if one is not None:
        print(f"\nscheduler overhead per point (1 worker − sequential) / points: wall {(one[1] - seq) / n * 1e3:.2f} ms, "
              f"CPU {(one[2] - seq_cpu) / n * 1e3:.2f} ms")


def full(path: str, n: int, folder: str) -> None:
    """One run of the re-bind-bound sweep at `n` points: on a cold 2-worker cluster as a user
    runs it (`flopest sweep --workers 2`), and in this process."""
    import flopest
    spec = rebind_spec(path, n)
    out = os.path.join(folder, "full.parquet")
    times = {}
    for label, kw in (("2 workers, cold cluster included", {"workers": 2}), ("sequential (this process)", {"workers": 0})):
        if os.path.exists(out):
            os.unlink(out)
        t = timed(lambda kw=kw: flopest.sweep(spec, output=out, **kw))
        times[label] = t
        say(f"full {n:,}: {label} {t:.1f} s")
    print(f"\nre-bind-bound at {n:,} points, one run each\n")
    print("| run | s | points/s |")
    print("|---|--:|--:|")
    for label, t in times.items():
        print(f"| {label} | {t:.1f} | {n / t:,.0f} |")


def rebind_only(path: str, n: int) -> float:
    """Seconds to re-bind the ONNX model at the same `n` dims without estimating (Counts.at)."""
    import flopest
    spec = rebind_spec(path, n)["model"]["points"]
    c = flopest.count(path, dims=spec[0])
    t = time.perf_counter()
    for d in spec:
        _ = c.at(**d).flops
    return time.perf_counter() - t


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--configs", type=int, default=200, help="configurations of the capture-bound sweep")
    ap.add_argument("--rebind", type=int, default=10_000, help="dims of the re-bind-bound sweep's table")
    ap.add_argument("--full", type=int, default=100_000, help="dims of one re-bind-bound run on 2 workers (0: none)")
    ap.add_argument("--workers", default="1,2,4")
    ap.add_argument("--only", choices=("capture", "rebind"))
    a = ap.parse_args(argv)
    workers = [int(w) for w in a.workers.split(",")]
    sys.path.insert(0, str(ROOT / "examples"))
    os.chdir(ROOT / "examples")   # the factory module is found from the current folder
    print(f"flopest sweep throughput; {os.cpu_count()} cores; {SAMPLES:,} Monte-Carlo samples per estimate; "
          f"median of {a.repeats} runs on a warm cluster")
    with tempfile.TemporaryDirectory() as folder:
        if a.only in (None, "capture"):
            table("capture-bound (Llama-shaped configs, one capture each)", a.configs,
                  bench("capture", capture_spec(a.configs), a.configs, workers, a.repeats, folder))
        if a.only in (None, "rebind"):
            path = os.path.join(folder, "block.onnx")
            transformer_onnx(path)
            table("re-bind-bound (one ONNX model × (batch, sequence) dims)", a.rebind,
                  bench("rebind", rebind_spec(path, a.rebind), a.rebind, workers, a.repeats, folder))
            if a.full:
                full(path, a.full, folder)
            n = a.full or a.rebind
            print(f"re-binding alone (Counts.at, no estimate), one process: {rebind_only(path, n):.2f} s for {n:,} dims")


if __name__ == "__main__":
    main()
