"""Start-up of whole `flopest` processes (issue 17's must-show), median of 5 fresh processes each:

- `flopest estimate zoo:bert_base --dataset-size 1M --epochs 3 --batch-size 32`     target <= 2.5 s
- `flopest count` of GPT-2's ONNX export (the zoo's TorchScript export, ~620 MB) at batch 1 ×
  128 tokens, against `python -c "import onnx; onnx.load(PATH)"`                 target <= 0.5 ×

and, to show where the time goes, the floors: `python -c pass`, `import flopest`, `import torch`,
`import onnx`, and the zoo BERT's transformers imports. Every command runs once first (OS file
cache, numba's kernel cache), then `--repeat` times; the table shows the median, min and max of
the wall-clock time of the whole process (start-up, imports, work, exit), and the median CPU
time (user + system) of the process, steadier on a shared machine; the targets are on wall
time.

    python benchmarks/bench_startup.py [--repeat 5] [--onnx PATH] [--out-dir /tmp/flopest-bench]

The GPT-2 export is written by model_zoo/export.py into --out-dir (default /tmp/flopest-bench,
not the repository) when --onnx is not given and it is not there yet. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PY = sys.executable


def cpu_s() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def wall(argv, repeat: int) -> tuple:
    """([wall-clock s], [CPU s, user + system]) of `repeat` runs of the process `argv` (after one
    unmeasured run). The CPU time is the steadier figure on a shared machine."""
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    times, cpus = [], []
    for i in range(repeat + 1):
        c, t = cpu_s(), time.perf_counter()
        r = subprocess.run(argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        dt, dc = time.perf_counter() - t, cpu_s() - c
        if r.returncode != 0:
            raise SystemExit(f"{' '.join(argv)} failed ({r.returncode}): {r.stderr[-2000:]}")
        if i:
            times.append(dt)
            cpus.append(dc)
    return times, cpus


def gpt2_export(out_dir: str) -> str:
    from model_zoo.export import export, output_path
    path = output_path("gpt2", exporter="torchscript", size="full", out_dir=out_dir)
    if not path.exists():
        print(f"exporting GPT-2 to {path} (once)…", file=sys.stderr, flush=True)
        export("gpt2", exporter="torchscript", size="full", out_dir=out_dir)
    return str(path)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--onnx", help="GPT-2's ONNX export (default: exported into --out-dir)")
    p.add_argument("--out-dir", default="/tmp/flopest-bench", help="where the GPT-2 export is written")
    a = p.parse_args(argv)
    sys.path.insert(0, ROOT)
    path = a.onnx or gpt2_export(a.out_dir)
    size_mb = os.path.getsize(path) / 1e6
    flopest = [PY, "-m", "flopest"]
    rows = [
        ("estimate", "flopest estimate zoo:bert_base --dataset-size 1M --epochs 3 --batch-size 32",
         flopest + ["estimate", "zoo:bert_base", "--dataset-size", "1M", "--epochs", "3", "--batch-size", "32"]),
        ("count", f"flopest count gpt2.onnx ({size_mb:,.0f} MB) --dim batch=1 --dim sequence=128",
         flopest + ["count", path, "--dim", "batch=1", "--dim", "sequence=128"]),
        ("load", "python -c 'import onnx; onnx.load(gpt2.onnx)'", [PY, "-c", f"import onnx; onnx.load({path!r})"]),
        ("python", "python -c pass", [PY, "-c", "pass"]),
        ("flopest", "python -c 'import flopest.cli'", [PY, "-c", "import flopest.cli"]),
        ("onnx", "python -c 'import onnx'", [PY, "-c", "import onnx"]),
        ("torch", "python -c 'import torch'", [PY, "-c", "import torch"]),
        ("transformers", "python -c 'from transformers import BertConfig, BertModel'",
         [PY, "-c", "from transformers import BertConfig, BertModel"]),
    ]
    res, cpu = {}, {}
    load0 = os.getloadavg()[0]
    for key, _, argv_ in rows:
        res[key], cpu[key] = wall(argv_, a.repeat)
        print(f"{key}: {statistics.median(res[key]):.2f} s", file=sys.stderr, flush=True)
    med = {k: statistics.median(v) for k, v in res.items()}
    print(f"Start-up, whole process: median of {a.repeat} (after one warm-up run), on {os.cpu_count()} CPU(s), "
          f"Python {sys.version.split()[0]}; load average {load0:.1f} at the start, {os.getloadavg()[0]:.1f} "
          f"at the end\n")
    print("| command | median s | min – max s | CPU s (median) | target | |")
    print("|---|--:|--:|--:|---|---|")
    targets = {"estimate": ("≤ 2.5 s", med["estimate"] <= 2.5),
               "count": (f"≤ 0.5 × onnx.load = {0.5 * med['load']:.2f} s", med["count"] <= 0.5 * med["load"])}
    for key, label, _ in rows:
        t, ok = targets.get(key, ("", None))
        verdict = "" if ok is None else ("met" if ok else "**not met**")
        print(f"| `{label}` | {med[key]:.2f} | {min(res[key]):.2f} – {max(res[key]):.2f} | "
              f"{statistics.median(cpu[key]):.2f} | {t} | {verdict} |")
    print(f"\ncount / onnx.load = {med['count'] / med['load']:.2f} ×")
    return 0


if __name__ == "__main__":
    sys.exit(main())
