"""ONNX analysis speed and memory: flopest vs the `onnx.load` floor vs onnx-tool.

For each model of the zoo exported with the TorchScript exporter and with the dynamo exporter
(model_zoo/export.py writes them into a cache), every tool runs in a fresh subprocess, 5 times
(median time; peak RSS of the process). flopest's time is the whole `flopest.count(path, dims)`
call after imports and kernel warm-up; `onnx.load` is the floor any tool that loads the file
pays; onnx-tool's is `onnx_tool.model_profile` (load + shape inference + profile).
Also: a 1,000-point `--sweep` after the first read (kernel only).

    python benchmarks/bench_onnx.py [--models bert_base,gpt2,vit_b16,resnet50] [--repeat 5]
Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import textwrap

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DIMS = {"batch": 1, "sequence": 128, "decoder_sequence": 128}

CHILD = textwrap.dedent(r'''
import json, os, resource, sys, time, io, contextlib
tool, path, dims, repeat = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), int(sys.argv[4])
times, extra = [], {}
if tool == "flopest":
    import flopest
    from flopest.frontends import onnx as fe
    # warm the kernel (compile or load the cache) on a tiny table
    from flopest import kernel, kinds
    from flopest.optable import TableBuilder
    b = TableBuilder(); b.add(kinds.GEMM, [1, 1, 1, 1, 1, 1], elsize=4, op="w"); kernel.evaluate(b.build())
    m, _ = fe.load(path); names = fe.input_dims(m)
    d = {k: v for k, v in dims.items() if k in names}
    for _ in range(repeat):
        t = time.perf_counter(); c = flopest.count(path, dims=d); times.append(time.perf_counter() - t)
    extra = {"flops": c.flops, "macs": c.macs, "unknown": sum(c.unknown_ops.values()), "coverage": c.coverage,
             "symbolic": c._rebind is None}
    if "sequence" in d:
        t = time.perf_counter()
        for s in range(1, 1001):
            c.at(sequence=s).flops
        extra["sweep_1000_s"] = time.perf_counter() - t
    elif "batch" in d:
        t = time.perf_counter()
        for s in range(1, 1001):
            c.at(batch=s).flops
        extra["sweep_1000_s"] = time.perf_counter() - t
elif tool == "floor":   # the interpreter with flopest's imports and kernels loaded, no model
    import flopest, onnx
    from flopest import kernel, kinds
    from flopest.optable import TableBuilder
    from flopest.frontends import onnx as fe  # noqa: F401
    b = TableBuilder(); b.add(kinds.GEMM, [1, 1, 1, 1, 1, 1], elsize=4, op="w"); kernel.evaluate(b.build())
    times = [0.0]
elif tool == "onnx.load":
    import onnx
    for _ in range(repeat):
        t = time.perf_counter(); m = onnx.load(path); times.append(time.perf_counter() - t); del m
elif tool == "onnx-tool":
    import onnx, onnx_tool, numpy as np
    m0 = onnx.load(path, load_external_data=False)
    shapes = {}
    inits = {i.name for i in m0.graph.initializer}
    for vi in m0.graph.input:
        if vi.name in inits: continue
        dd = [d.dim_value if d.HasField("dim_value") else dims.get(d.dim_param, 1) for d in vi.type.tensor_type.shape.dim]
        shapes[vi.name] = np.zeros(dd, dtype=np.int64 if vi.type.tensor_type.elem_type == 7 else np.float32)
    del m0
    try:
        for _ in range(repeat):
            t = time.perf_counter()
            with contextlib.redirect_stdout(io.StringIO()):
                model = onnx_tool.Model(path, {"verbose": False})
                g = model.graph
                g.graph_reorder_nodes()
                g.shape_infer(shapes)
                g.profile()
            times.append(time.perf_counter() - t)
            macs = g.macs[0] if isinstance(g.macs, (list, tuple)) else g.macs
            extra = {"macs": int(macs)}
            del model, g
    except Exception as exc:
        extra = {"error": (type(exc).__name__ + ": " + str(exc))[:120]}
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"times": times, "rss": rss, **extra}))
''')


def run_child(tool, path, repeat):
    r = subprocess.run([sys.executable, "-c", CHILD, tool, path, json.dumps(DIMS), str(repeat)],
                       capture_output=True, text=True, timeout=1800, cwd=ROOT)
    if r.returncode != 0:
        return {"error": (r.stderr.strip().splitlines() or ["crashed"])[-1][:120]}
    return json.loads(r.stdout.strip().splitlines()[-1])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default="bert_base,gpt2,vit_b16,resnet50")
    ap.add_argument("--exporters", default="torchscript,dynamo")
    ap.add_argument("--size", default="full")
    ap.add_argument("--repeat", type=int, default=5)
    a = ap.parse_args(argv)
    sys.path.insert(0, ROOT)
    from model_zoo.export import export

    rows = []
    floor = run_child("floor", "-", 1).get("rss", 0)
    for name in a.models.split(","):
        for exp in a.exporters.split(","):
            try:
                path = str(export(name, exporter=exp, size=a.size))
            except Exception as exc:  # an exporter that cannot export this model
                rows.append((name, exp, None, {"error": f"export failed: {type(exc).__name__}"}, {}, {}))
                continue
            mb = os.path.getsize(path) / 2**20
            res = {t: run_child(t, path, a.repeat) for t in ("flopest", "onnx.load", "onnx-tool")}
            rows.append((name, exp, mb, res["flopest"], res["onnx.load"], res["onnx-tool"]))
            print(f"# {name} {exp}: done", file=sys.stderr)

    def num(x):
        return "—" if x is None else f"{x:,}"

    def med(r):
        return statistics.median(r["times"]) if r.get("times") else None

    print("| model | exporter | file MiB | flopest s | onnx.load s | onnx-tool s | flopest / load | "
          "flopest RSS MiB | RSS / file | (RSS − floor) / file | load RSS MiB | onnx-tool RSS MiB | "
          "1,000-point sweep s | flopest MACs | onnx-tool MACs | unknown ops |")
    print("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
    for name, exp, mb, f, l, t in rows:
        if mb is None:
            print(f"| {name} | {exp} | — | {f['error']} |" + " |" * 12)
            continue
        tf, tl, tt = med(f), med(l), med(t)
        cell = lambda x: f"{x:.3f}" if x is not None else "—"
        tool_t = cell(tt) if tt is not None else f"fails: {t.get('error', '?')}"
        print(f"| {name} | {exp} | {mb:.0f} | {cell(tf)} | {cell(tl)} | {tool_t} | "
              f"{(tf / tl) if tf and tl else float('nan'):.2f}× | {f.get('rss', 0) / 2**20:.0f} | "
              f"{f.get('rss', 0) / 2**20 / mb:.2f} | {(f.get('rss', 0) - floor) / 2**20 / mb:.2f} | "
              f"{l.get('rss', 0) / 2**20:.0f} | "
              f"{(t.get('rss', 0) / 2**20) if 'times' in t else float('nan'):.0f} | "
              f"{cell(f.get('sweep_1000_s'))} | {num(f.get('macs'))} | {num(t.get('macs'))} | "
              f"{f.get('unknown', '—')} |")


    print()
    print(f"Floor: the interpreter with flopest, numba (kernels loaded) and onnx imported and no "
          f"model read, {floor / 2**20:.0f} MiB RSS. MACs: flopest's are matrix products only; "
          f"onnx-tool's also count elementwise and normalization work. Median of {a.repeat} "
          f"runs, each tool in a fresh process; {os.cpu_count()} CPUs.")


if __name__ == "__main__":
    main()
