"""Every zoo model through every FLOP counter in one run, against the zoo's analytic counts.

Tools, each in a fresh process per model, so that its peak RSS (``ru_maxrss``) is its own; the
parent imports neither torch nor flopest, as a child's ``ru_maxrss`` starts at its parent's RSS:

- on the PyTorch module (the children of ``bench_torch_capture.py``, forward only): flopest,
  torch's FlopCounterMode (on meta tensors), fvcore, ptflops (its pytorch and aten backends),
  thop and calflops (the real model on CPU tensors);
- on the model's ONNX export (``model_zoo.export``, TorchScript exporter, cached in --onnx-dir):
  flopest (``flopest.count(path, dims=...)``) and onnx-tool (``onnx_tool.Model`` + shape
  inference + profile), with the symbolic dims bound to the zoo's example input sizes.

Every figure is normalised to FLOPs, 1 multiply-add = 2 FLOPs: fvcore, ptflops, thop and
onnx-tool report MACs and are doubled ("×2" in the column header); flopest's figure is its
``matmul_flops``; calflops' is its reported FLOPs. A tool's forward count is right (✓) when it
is within 2 % of the zoo's analytic ``matmul_flops`` (``model_zoo/<name>/expected.json``, matrix
products, convolutions and attention only). Every other cell, and every crash, gets a note saying
which tool is wrong and why, from ``WHY`` below; one without a known cause is printed as
"unexplained". Time: one analysis call (module or file to count; building the model and the
export not included), median of --repeat calls after one warm-up call.

    python benchmarks/compare_counters.py [--models resnet50,gpt2] [--tools flopest,onnx-tool]
        [--repeat 3] [--onnx-dir DIR] [--json OUT] [--from-json IN ...] [--readme]

Prints Markdown (progress on stderr). ``--readme`` also rewrites docs/benchmarks.md between the
``compare_counters`` markers. ``--from-json`` (repeatable, later files win) renders saved results
without running anything; it also reads ``bench_torch_capture.py --json`` output. The whole zoo
takes 15-20 min on 2 cores, mostly interpreter start-ups and model builds.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
if HERE not in sys.path:
    sys.path.insert(0, HERE)
import bench_torch_capture as btc  # benchmarks/ is not a package

TORCH_TOOLS = list(btc.TOOLS)                    # flopest, fcm, fvcore, ptflops, ptflops-aten, thop, calflops
ONNX_TOOLS = ["flopest-onnx", "onnx-tool"]
TOOLS = TORCH_TOOLS + ONNX_TOOLS
LABEL = {**btc.LABEL, "flopest-onnx": "flopest (ONNX)", "onnx-tool": "onnx-tool (ONNX)"}
MAC_TOOLS = set(btc.MAC_TOOLS) | {"onnx-tool"}   # report multiply-adds: ×2 here
TOLERANCE = 0.02
EXPORTER = "torchscript"
ONNX_TIMEOUT_S = 600
MATMUL_OPS = {"MatMul", "Gemm", "Conv", "ConvTranspose", "Einsum", "LSTM", "GRU", "RNN"}

DOCS_PAGE = os.path.join(ROOT, "docs", "benchmarks.md")   # where the --readme block goes
COMMAND = "python benchmarks/compare_counters.py --readme"
MARKERS = ("<!-- compare_counters:begin -->", "<!-- compare_counters:end -->")
HEADER_COUNTS = ("| model | analytic matmul FLOPs | "
                 + " | ".join(LABEL[t] + (" ×2" if t in MAC_TOOLS else "") for t in TOOLS) + " |")
HEADER_TIMES = ("| model | " + " | ".join(LABEL[t] for t in TOOLS)
                + " | flopest ÷ fastest right PyTorch tool | flopest ÷ onnx-tool, ONNX |")
HEADERS = (HEADER_COUNTS, HEADER_TIMES)


# --------------------------------------------------------------------------------------------
# what each tool gets wrong. (tool, model): (the ratio the cause was checked at, the cause);
# (tool, "*"): a general cause, confirmed from the run's own figures (see explain)
# --------------------------------------------------------------------------------------------

STALE = 0.005   # a (tool, model) cause holds while the ratio stays within this of the one checked

_THOP_FUNCTIONAL = ("thop is wrong: it counts modules only, so attention's functional matmuls "
                    "(QKᵀ and AV: `torch.matmul`, `einsum`) count 0. The missing share is the "
                    "model's attention share of the analytic count: 21 % in the diffusion block "
                    "(1,024 positions) and 34 % in Whisper (1,500 audio frames).")
_ELEMENTWISE_AS_MACS = ("{tool} counts more than matrix work: it adds BatchNorm, activations "
                        "(ReLU6) and other element-wise work to its count; a different definition, "
                        "large on MobileNetV2 where the depthwise convs are cheap.")

WHY = {
    ("thop", "gpt2"): (0.307,
        ("thop is wrong: it counts modules only and has no rule for transformers' `Conv1D` (GPT-2's "
         "linear layers), so only the LM head is counted (0.307 of the analytic count, its share); "
         "attention's matmuls count 0 too.")),
    ("thop", "bert_base"): (0.974, _THOP_FUNCTIONAL),
    ("thop", "vit_b16"): (0.960, _THOP_FUNCTIONAL),
    ("thop", "t5_small"): (0.974, _THOP_FUNCTIONAL),
    ("thop", "llama"): (0.981, _THOP_FUNCTIONAL),
    ("thop", "einsum_attention"): (0.961, _THOP_FUNCTIONAL),
    ("thop", "whisper_encoder_decoder"): (0.659, _THOP_FUNCTIONAL),
    ("thop", "diffusion_unet_block"): (0.791, _THOP_FUNCTIONAL),
    ("thop", "moe_decoder"): (0.592,
        ("thop is wrong: the experts are one transformers module that runs `torch.bmm` on gathered "
         "weights, which thop does not count (the experts are 39 % of the work), nor attention's "
         "matmuls.")),
    ("thop", "unet"): (1.139,
        ("thop is wrong: `ConvTranspose2d` is counted with the conv formula on its output, stride² "
         "= 4× too high on the up-convolutions; it also adds BatchNorm and ReLU.")),
    ("thop", "mobilenet_v2"): (1.089, _ELEMENTWISE_AS_MACS.format(tool="thop")),
    ("fvcore", "lstm"): (0.000,
        ("fvcore is wrong: `aten::lstm` has no handle, so the LSTM counts 0 (listed in its "
         "unsupported ops, not in its total).")),
    ("fvcore", "mobilenet_v2"): (1.045,
        ("fvcore counts more than matrix work: it adds `aten::batch_norm` (2 per element) and "
         "adaptive pooling to its count; a different definition, large on MobileNetV2 where the "
         "depthwise convs are cheap.")),
    ("ptflops", "einsum_attention"): (0.963,
        ("ptflops is wrong: its pytorch backend does not patch `torch.einsum`, so QKᵀ and AV count "
         "0 (4 % of the work).")),
    ("ptflops", "mobilenet_v2"): (1.065, _ELEMENTWISE_AS_MACS.format(tool="ptflops")),
    ("ptflops-aten", "lstm"): (0.000,
        ("ptflops-aten is wrong: it counts only aten mm, bmm, addmm and convolution, so `aten.lstm` "
         "counts 0.")),
    ("calflops", "moe_decoder"): (0.609,
        ("calflops is wrong: its `torch.bmm` patch is commented out (0.3.2), so the experts, run as "
         "`torch.bmm`, count 0 (39 % of the work).")),
    ("calflops", "*"):
        ("calflops counts more than matrix work, by design: its FLOPs add its own counts for "
         "activations, norms and softmax to 2 × MACs, which is right (the 2×MACs figure after its "
         "ratio)."),
    ("fcm", "bert_base"): (1.000,
        ("FlopCounterMode crashes on meta tensors here: transformers calls `mask.all()` on the "
         "attention mask, which a meta tensor cannot answer. The count shown is its retry on "
         "FakeTensors, the retry flopest makes itself.")),
    ("onnx-tool", "*"):
        ("onnx-tool counts more than matrix work: its MACs include element-wise operators at its "
         "own per-element costs (Softmax 36 MACs, Tanh 76, Pow and Sigmoid 32, Clip 2) and every "
         "bias add; its matrix operators (MatMul, Gemm, Conv, Einsum), × 2, are right (the figure "
         "after its ratio)."),
    ("onnx-tool", "unet"): (1.048,
        ("onnx-tool is wrong on `ConvTranspose`: it uses the Conv formula, output size × C_out·k², "
         "where the work is input size × C_out·k², so each 2×2 stride-2 up-convolution that halves "
         "the channels is counted 2× too high (the up-convolutions are 4.4 % of the work); "
         "element-wise operators and the BatchNorm folded into conv biases add the rest.")),
    ("onnx-tool", "lstm"): (1.052,
        ("onnx-tool counts more than matrix work: its `LSTM` rule adds the cell's element-wise work "
         "(bias adds, 3 sigmoids at 32 MACs, 2 tanh at 38, the gate products) to the gate matmuls, "
         "which it counts right.")),
    ("onnx-tool", "mobilenet_v2"): (1.064,
        ("onnx-tool counts more than matrix work: the exporter folds each eval BatchNorm into its "
         "conv's weights and bias, and onnx-tool counts the bias add, 1 MAC per output (+0.022 "
         "here, where a depthwise conv does only 9 MACs per output; its Conv MACs less the bias "
         "adds, × 2, are 0.996, the analytic conv share), and ReLU6 (`Clip`, 2 per element, "
         "+0.041).")),
}


def _share(r, analytic):
    """onnx-tool's matrix-operator MACs × 2 ÷ analytic, those operators' shares, and the largest
    shares of the others (its per-operator profile, summed by op type)."""
    by = r.get("macs_by_op") or {}
    mm = sorted(((2 * v / analytic, k) for k, v in by.items() if k in MATMUL_OPS and v), reverse=True)
    rest = sorted(((2 * v / analytic, k) for k, v in by.items() if k not in MATMUL_OPS and v), reverse=True)
    return sum(v for v, _ in mm), [(k, v) for v, k in mm], [(k, v) for v, k in rest[:3]]


def explain(tool, model, r, analytic):
    """(note text, explained?) for a cell that is off, crashed or reached by a fallback.

    A (tool, model) entry holds the ratio it was written for: a run that finds another ratio (or a
    crash) gets "unexplained", with the entry's text as a lead. A (tool, "*") entry is a general
    cause that holds only where this run's own figures confirm it."""
    ratio = r["count"] / analytic if "count" in r and analytic else None
    entry = WHY.get((tool, model))
    if entry is not None:
        seen, text = entry
        if ratio is not None and abs(ratio - seen) <= STALE:
            return text, True
        now = f"it is {ratio:.3f} now" if ratio is not None else f"it now fails ({r.get('error')})"
        return ((f"**unexplained**: the known cause was written for a ratio of {seen:.3f} and {now}; "
                 f"check it again, then update `WHY` in benchmarks/compare_counters.py. It was: "
                 f"{text}"), False)
    general = WHY.get((tool, "*"))
    if general is not None and ratio is not None:
        if tool == "calflops" and "calflops_2macs" in r:        # its 2×MACs is the matrix work
            confirmed = abs(r["calflops_2macs"] / analytic - 1) <= TOLERANCE
        elif tool == "onnx-tool" and r.get("macs_by_op"):       # its matrix operators are
            confirmed = abs(_share(r, analytic)[0] - 1) <= TOLERANCE
        else:
            confirmed = False
        if confirmed:
            return general, True
    err = f" ({r['error']})" if "error" in r else ""
    return ((f"**unexplained**{err}: no known cause; investigate, then add it to `WHY` in "
             f"benchmarks/compare_counters.py."), False)


# --------------------------------------------------------------------------------------------
# child: one ONNX tool on one export, in a fresh interpreter
# --------------------------------------------------------------------------------------------

def _onnx_child(spec: dict) -> dict:
    import contextlib
    import io
    tool, path, dims, repeat = spec["tool"], spec["path"], spec["dims"], spec["repeat"]
    if tool == "flopest-onnx":
        sys.path.insert(0, ROOT)
        import flopest
        res = {"rss_build_mib": btc._rss_mib(), "notes": []}

        def once():
            c = flopest.count(path, dims=dims)
            unk = dict(c.unknown_ops)
            return {"count": c.matmul_flops, "matmul_flops": c.matmul_flops, "flops": c.flops,
                    "coverage": c.coverage, "unknown": sum(unk.values()),
                    "unknown_top": sorted(unk.items(), key=lambda kv: -kv[1])[:4]}
    elif tool == "onnx-tool":
        import numpy as np
        import onnx_tool
        res = {"rss_build_mib": btc._rss_mib(), "notes": []}
        inputs = {n: np.zeros(s["shape"], dtype=s["dtype"]) for n, s in spec["inputs"].items()}

        def once():
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                g = onnx_tool.Model(path, {"verbose": False}).graph
                g.graph_reorder_nodes()
                g.shape_infer(inputs)
                g.profile()
            if not g.valid_profile:
                raise RuntimeError("profile() found no valid shapes")
            by: dict = {}
            for node in g.nodemap.values():
                by[node.op_type] = by.get(node.op_type, 0) + int(node.macs[0])
            return {"count": 2 * int(g.macs[0]), "macs": int(g.macs[0]), "macs_by_op": by}
    else:
        raise SystemExit(f"unknown ONNX tool {tool!r}; known: {', '.join(ONNX_TOOLS)}")

    return btc.timed(once, repeat, res)


def _prepare(spec: dict) -> dict:
    """Run in a helper process, so that the parent stays small: a child's ``ru_maxrss`` on Linux
    starts at its parent's RSS at spawn, and torch alone is 220 MiB. Returns the zoo's model names
    and, for each model, its export (made when missing) with the symbolic dims and input shapes
    bound to the zoo's example inputs (model_zoo/<name>/expected.json), read without the weights."""
    sys.path.insert(0, ROOT)
    import model_zoo
    out = {"names": list(model_zoo.MODELS), "onnx": {}}
    if not spec["onnx"]:
        return out
    from flopest.frontends import onnx as fe
    from model_zoo.export import export, output_path
    for model in spec["models"] or out["names"]:
        path = output_path(model, EXPORTER, "full", spec["onnx_dir"])
        try:
            if not path.exists():
                t0 = time.perf_counter()
                print(f"exporting {model} to {path} …", file=sys.stderr, flush=True)
                export(model, EXPORTER, "full", spec["onnx_dir"])
                print(f"exported in {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
        except Exception as exc:   # noqa: BLE001
            out["onnx"][model] = {"error": f"export failed: {btc._short(exc)}"}
            continue
        with open(os.path.join(ROOT, "model_zoo", model, "expected.json"), encoding="utf-8") as f:
            example = json.load(f)["inputs"]
        m, _ = fe.load(str(path))
        inits = {t.name for t in m.graph.initializer}
        dims, inputs = {}, {}
        for vi in m.graph.input:
            if vi.name in inits:
                continue
            shape = example[vi.name]["shape"]
            for axis, d in enumerate(vi.type.tensor_type.shape.dim):
                if not d.HasField("dim_value"):
                    dims[d.dim_param] = shape[axis]
            inputs[vi.name] = {"shape": shape, "dtype": example[vi.name]["dtype"]}
        out["onnx"][model] = {"path": str(path), "dims": dims, "inputs": inputs}
    return out


def prepare(models, onnx_dir, onnx: bool) -> dict:
    import subprocess
    spec = json.dumps({"models": models, "onnx_dir": onnx_dir, "onnx": onnx})
    p = subprocess.run([sys.executable, os.path.abspath(__file__), "--prepare", spec], cwd=ROOT,
                       stdout=subprocess.PIPE, text=True, check=False)
    for line in p.stdout.splitlines():
        if line.startswith(btc.MARK):
            return json.loads(line[len(btc.MARK):])
    raise SystemExit(f"preparing the zoo failed (rc {p.returncode}); see the messages above")


def run_onnx(tool, model, repeat, plan) -> dict:
    if "error" in plan:
        return dict(plan)
    return btc.run_child(__file__, {"tool": tool, "model": model, "repeat": repeat, **plan},
                         timeout_s=ONNX_TIMEOUT_S)


# --------------------------------------------------------------------------------------------
# rendering
# --------------------------------------------------------------------------------------------

def _analytic(model):
    return btc._analytic(model).get("matmul_flops")


def _right(r, analytic) -> bool:
    return "count" in r and bool(analytic) and abs(r["count"] / analytic - 1) <= TOLERANCE


def _noted(tool, r) -> bool:
    """A right count that the harness reached only by a fallback: FlopCounterMode retried on
    FakeTensors after crashing on meta, flopest run on real tensors (materialize=True). flopest's
    own FakeTensor retry is its normal path, not a fallback of the harness."""
    return bool(r.get("materialized") or (tool != "flopest" and r.get("fake_fallback")))


def _crash_text(r) -> str:
    e = r.get("error", "?")
    return e if e.startswith(("skipped", "export failed")) else "crashes: " + e.split(":")[0]


def machine() -> str:
    """Python, CPU count and the counters' versions, as the run's table states them."""
    import platform
    from importlib.metadata import PackageNotFoundError, version
    vers = []
    for mod in ("torch", "transformers", "fvcore", "ptflops", "thop", "calflops", "onnx-tool"):
        try:
            vers.append(f"{mod} {version(mod)}")
        except PackageNotFoundError:
            continue   # not installed: its column reads "not run" or "fails"
    return (f"{platform.python_implementation()} {platform.python_version()}, {os.cpu_count()} CPUs; "
            f"{', '.join(vers)}")


def render(models, tools, results, repeat, wall, env=None) -> str:
    """The Markdown block: counts table, times table, notes. `env`: machine() of the run."""

    # notes: one per (tool, cause); cells refer to them by number
    notes: list = []          # [tool, text, explained, [model entries]]
    ref = {}

    def note(tool, model, r, analytic, entry):
        text, ok = explain(tool, model, r, analytic)
        for i, n in enumerate(notes):
            if n[0] == tool and n[1] == text:
                n[3].append(entry)
                ref[(model, tool)] = i + 1
                return
        notes.append([tool, text, ok, [entry]])
        ref[(model, tool)] = len(notes)

    for t in tools:
        for m in models:
            r = results.get((m, t, "fwd"))
            an = _analytic(m)
            if r is None:
                continue
            if "error" in r:
                note(t, m, r, an, f"{m} ({_crash_text(r)})")
            elif not _right(r, an) or _noted(t, r):
                entry = f"{m} {r['count'] / an:.3f}" if an else m
                if t == "onnx-tool" and an and r.get("macs_by_op") and not _right(r, an):
                    mm, ops, rest = _share(r, an)
                    big = [f"{k} +{v:.3f}" for k, v in rest if v >= 0.0005]
                    entry += (f" (matrix operators {mm:.3f}: "
                              + ", ".join(f"{k} {v:.3f}" for k, v in ops if v >= 0.0005)
                              + (f"; others {', '.join(big)}" if big else "") + ")")
                if t == "calflops" and an and "calflops_2macs" in r:
                    entry += f" (2×MACs {r['calflops_2macs'] / an:.3f})"
                note(t, m, r, an, entry)

    def cell(m, t):
        r = results.get((m, t, "fwd"))
        an = _analytic(m)
        if r is None:
            return "not run"
        mark = f" [{ref[(m, t)]}]" if (m, t) in ref else ""
        if "error" in r:
            return ("fails" if not r["error"].startswith("skipped") else "skipped") + mark
        if not an:
            return btc._g(r["count"]) + mark
        return f"{r['count'] / an:.3f}" + (" ✓" if _right(r, an) else "") + mark

    out = [(f"Regenerate: `{COMMAND}` (add `--json OUT` to keep the raw results; "
            f"`--from-json OUT --readme` re-renders them)."), ""]
    out.append(f"Forward FLOPs of each zoo model (batch 1, the model's example input) as a ratio to "
               f"the analytic matmul FLOPs (`model_zoo/<name>/expected.json`); ✓ = within "
               f"{TOLERANCE * 100:.0f} %. 1 multiply-add = 2 FLOPs: columns marked ×2 report MACs, "
               f"doubled here; flopest's figure is its `matmul_flops`, calflops' its reported "
               f"FLOPs. [n] = note below.\n")
    out.append(HEADER_COUNTS)
    out.append("|---|---:|" + "---:|" * len(TOOLS))
    for m in models:
        an = _analytic(m)
        out.append(f"| {m} | {btc._g(an) if an else '—'} | "
                   + " | ".join(cell(m, t) if t in tools else "not run" for t in TOOLS) + " |")
    right = []
    for t in TOOLS:
        ran = [m for m in models if (m, t, "fwd") in results]
        ok = sum(1 for m in ran if _right(results[(m, t, "fwd")], _analytic(m)))
        right.append(f"{ok}/{len(ran)}" if ran else "—")
    out.append("| **right** | | " + " | ".join(right) + " |")
    out.append("")

    out.append(f"Time of one analysis call (median of {repeat} after a warm-up call; building the "
               f"model or the export is not included) and peak RSS of the tool's process "
               f"(the model's weights included). flopest and FlopCounterMode run on meta tensors; "
               f"fvcore, ptflops, thop and calflops run the model on CPU tensors.\n")
    out.append(HEADER_TIMES)
    out.append("|---|" + "---:|" * (len(TOOLS) + 2))

    def tcell(r):
        if r is None:
            return "not run"
        if "error" in r:
            return "—"
        return f"{btc._t(r['time_s'])}, {r['rss_peak_mib']:.0f} MiB"

    for m in models:
        an = _analytic(m)
        row = [tcell(results.get((m, t, "fwd"))) for t in TOOLS]
        fl = results.get((m, "flopest", "fwd"), {})
        fast = [(results[(m, t, "fwd")]["time_s"], t) for t in TORCH_TOOLS
                if t != "flopest" and _right(results.get((m, t, "fwd"), {}), an)]
        row.append(f"{fl['time_s'] / min(fast)[0]:.2f}× {LABEL[min(fast)[1]]}"
                   if fast and "time_s" in fl else "—")
        fo, ot = results.get((m, "flopest-onnx", "fwd"), {}), results.get((m, "onnx-tool", "fwd"), {})
        row.append(f"{fo['time_s'] / ot['time_s']:.2f}×" if "time_s" in fo and "time_s" in ot else "—")
        out.append(f"| {m} | " + " | ".join(row) + " |")
    med = []
    for t in TOOLS:
        rs = [results[(m, t, "fwd")] for m in models if "time_s" in results.get((m, t, "fwd"), {})]
        med.append(f"{btc._t(statistics.median(r['time_s'] for r in rs))}, "
                   f"{statistics.median(r['rss_peak_mib'] for r in rs):.0f} MiB" if rs else "—")
    out.append("| **median** | " + " | ".join(med) + " | | |")
    out.append("")

    out.append(f"{env or machine()}; ONNX exports by torch's {EXPORTER} exporter"
               + (f"; whole run {wall / 60:.0f} min." if wall is not None else ".") + "\n")
    out.append("Notes (which tool is wrong, and why):\n")
    for i, (t, text, _ok, entries) in enumerate(notes, 1):
        out.append(f"{i}. **{LABEL[t]}** on {', '.join(entries)}. {text}")
    if not notes:
        out.append("none: every tool is right on every model.")
    unexplained = sum(1 for n in notes if not n[2])
    if unexplained:
        out.append(f"\n{unexplained} disagreement(s) above are unexplained.")
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------------------------
# the generated block of docs/benchmarks.md
# --------------------------------------------------------------------------------------------

def write_readme_block(markers, body, path=DOCS_PAGE) -> None:
    """Replace the text between the two marker lines of `path` (docs/benchmarks.md) by `body`,
    atomically (temp file in the same folder + os.replace)."""
    begin, end = markers
    with open(path, encoding="utf-8") as f:
        text = f.read()
    if text.count(begin) != 1 or text.count(end) != 1 or text.index(begin) > text.index(end):
        raise SystemExit(f"{path}: needs exactly one {begin!r} followed by one {end!r} line; "
                         f"put them where the generated table goes")
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    new = f"{head}{begin}\n{body.strip()}\n{end}{tail}"
    fd, tmp = tempfile.mkstemp(prefix=".README.", suffix=".tmp", dir=os.path.dirname(path))
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(new)
        os.chmod(tmp, os.stat(path).st_mode & 0o777)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


# --------------------------------------------------------------------------------------------
# main
# --------------------------------------------------------------------------------------------

def _load(paths) -> dict:
    results = {}
    for p in paths:
        with open(p, encoding="utf-8") as f:
            raw = json.load(f)
        for k, v in raw.items():
            if k == "_run":       # {"wall_s": ...} of the run that wrote the file
                results[("_run",)] = v
                continue
            parts = k.split("|")
            if len(parts) == 3:     # model|tool|mode, as bench_torch_capture.py writes it
                results[tuple(parts)] = v
    return results


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default=None, help="comma-separated zoo model names (default: all)")
    ap.add_argument("--tools", default=",".join(TOOLS), help=f"comma-separated subset of {','.join(TOOLS)}")
    ap.add_argument("--repeat", type=int, default=3, help="timed calls after one warm-up (median)")
    ap.add_argument("--onnx-dir", default=None,
                    help="where the ONNX exports are cached (default: $FLOPEST_CACHE or ~/.cache/flopest/onnx)")
    ap.add_argument("--json", default=None, help="also write the raw results to this file")
    ap.add_argument("--from-json", action="append", default=None,
                    help="render saved results (repeatable; later files win), run nothing")
    ap.add_argument("--readme", action="store_true", help="also rewrite docs/benchmarks.md's compare_counters block")
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--prepare", default=None, help=argparse.SUPPRESS)
    a = ap.parse_args(argv)

    if a.child or a.prepare:
        import logging
        import warnings
        warnings.filterwarnings("ignore")
        logging.disable(logging.WARNING)
        if a.prepare:
            res = _prepare(json.loads(a.prepare))
        else:
            try:
                res = _onnx_child(json.loads(a.child))
            except Exception as exc:   # noqa: BLE001
                res = {"error": btc._short(exc)}
        sys.stdout.write("\n" + btc.MARK + json.dumps(res) + "\n")
        sys.stdout.flush()
        os._exit(0)   # skip interpreter teardown

    tools = a.tools.split(",")
    for t in tools:
        if t not in TOOLS:
            ap.error(f"unknown tool {t!r}; known: {', '.join(TOOLS)}")
    models = a.models.split(",") if a.models else None
    # the parent imports neither torch nor flopest (see _prepare)
    plan = prepare(models, a.onnx_dir, onnx=not a.from_json and any(t in ONNX_TOOLS for t in tools))
    for m in models or []:
        if m not in plan["names"]:
            ap.error(f"unknown model {m!r}; known: {', '.join(plan['names'])}")
    models = models or plan["names"]

    repeat = a.repeat
    if a.from_json:
        results = _load(a.from_json)
        run = results.pop(("_run",), {})
        wall, env = run.get("wall_s"), run.get("machine")
        results = {k: v for k, v in results.items() if k[2] == "fwd" and k[1] in tools}
        models = [m for m in models if any(k[0] == m for k in results)]
        runs = [len(r["times"]) for r in results.values() if r.get("times")]
        repeat = statistics.median_low(runs) if runs else repeat
    else:
        results = {}
        t_start = time.perf_counter()
        for m in models:
            for t in tools:
                t0 = time.perf_counter()
                r = (btc.run_job(t, m, "fwd", a.repeat) if t in TORCH_TOOLS
                     else run_onnx(t, m, a.repeat, plan["onnx"][m]))
                results[(m, t, "fwd")] = r
                print(f"[{time.perf_counter() - t_start:6.0f} s] {m:24s} {t:13s} "
                      f"{'ERR ' + r['error'] if 'error' in r else btc._g(r.get('count'))} "
                      f"({time.perf_counter() - t0:.1f} s)", file=sys.stderr, flush=True)
        wall, env = time.perf_counter() - t_start, machine()
        if a.json:
            with open(a.json + ".tmp", "w", encoding="utf-8") as f:
                json.dump({"_run": {"wall_s": wall, "machine": env, "argv": sys.argv[1:]},
                           **{"|".join(k): v for k, v in results.items()}}, f, indent=1)
            os.replace(a.json + ".tmp", a.json)
    text = render(models, tools, results, repeat, wall, env)
    print(text)
    if a.readme:
        write_readme_block(MARKERS, text)
        print(f"wrote {os.path.relpath(DOCS_PAGE)} between {MARKERS[0]} and {MARKERS[1]}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
