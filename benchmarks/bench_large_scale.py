"""Large-scale training against published benchmark throughput (issue 16 item 6a): every row of
benchmarks/data/llm_pretraining_throughput.csv that flopest can set up a priori is predicted with
the whole model — a Llama-shaped decoder of the row's shape counted for training on the meta
device (the --params path), the per-operator step time on the row's device and precision, and
the row's own layout (tensor × pipeline × data parallel, global and micro batch) with its
communication and pipeline bubble — and held against the measured tokens per second per GPU.
Goodput is left out (benchmarks report steady-state steps). Nothing is fitted on this table.

Rows used: dense decoders on a GPU that devices.csv has, with tokens/s/GPU as published, or
Megatron-LM's Table 1 TFLOP/s turned into tokens/s with the paper's own FLOP formula
(F = 96·B·s·l·h²·(1 + s/6h + V/16lh) per iteration, activation recomputation included;
Narayanan et al. 2021, eq. 3). Skipped, and counted: context parallelism (not modelled), TPU rows
(MaxText's GPT-like decoder is not Llama-shaped), rows without a layout, a TFLOP/s figure
whose FLOP definition is not implemented here.

GPT-3 and Nemotron rows have a non-gated MLP of width f: the SwiGLU decoder is given an MLP of
2f/3, the same parameters and FLOPs. A row's interleaved pipeline schedule (vp) is given to the
model (virtual_stages). Megatron-LM 2021's micro-batch is not published: 1 is taken.

    python benchmarks/bench_large_scale.py [--markdown] [--rows]

Baseline in the same run: 6·N per token at 0.4 of the dense peak.
"""

from __future__ import annotations

import argparse
import csv
import math
import os
import statistics
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TABLE = os.path.join(ROOT, "benchmarks", "data", "llm_pretraining_throughput.csv")


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def megatron_tokens_per_s(r: dict) -> float:
    """tokens/s/GPU from Megatron-LM's TFLOP/s/GPU (Narayanan et al. 2021, eq. 3)."""
    B, s, l, h, V = (float(r[k]) for k in ("global_batch", "seq_len", "layers", "d_model", "vocab"))
    f_iter = 96 * B * s * l * h * h * (1 + s / (6 * h) + V / (16 * l * h))
    t_iter = f_iter / (float(r["measured"]) * 1e12 * float(r["gpus"]))
    return B * s / (t_iter * float(r["gpus"]))


def usable(r: dict, devices: set) -> tuple:
    """(measured tokens/s/GPU, checkpointing) or (None, why skipped)."""
    if r["device"] not in devices or r["device"].startswith("tpu"):
        return None, "TPU or a device without a row in devices.csv"
    if r["cp"] not in ("", "1"):
        return None, "context parallelism (not modelled)"
    if not (r["tp"] and r["pp"] and r["layers"] and r["d_model"] and r["global_batch"] and r["seq_len"]):
        return None, "layout or shape not published"
    if r["unit"] == "tokens_per_s_per_gpu":
        return float(r["measured"]), "recompute" in r["notes"].lower() and "no recompute" not in r["notes"].lower()
    if r["unit"] == "tflops_per_gpu" and r["id"].startswith("meg21-t1"):
        return megatron_tokens_per_s(r), True
    return None, "a TFLOP/s figure whose FLOP definition is not implemented here"


def shape(r: dict) -> dict:
    h = int(r["d_model"])
    heads = int(r["heads"]) if r["heads"] else None
    ffn = int(r["ffn"]) if r["ffn"] else 4 * h
    gated = not any(x in r["model"].lower() for x in ("gpt", "nemotron"))
    if not gated:   # a non-gated MLP of width f = a SwiGLU of 2f/3 (same parameters and FLOPs)
        ffn = int(round(2 * ffn / 3))
    return {"layers": int(r["layers"]), "d_model": h, "heads": heads,
            "kv_heads": int(r["kv_heads"]) if r["kv_heads"] else heads, "ffn": ffn,
            "vocab": int(r["vocab"]) if r["vocab"] else None, "seq_len": int(r["seq_len"])}


def predict(r: dict, checkpointing: bool):
    import flopest
    sh = shape(r)
    gpus = int(r["gpus"])
    micro = int(r["micro_batch"]) if r["micro_batch"] else 1
    prec = {"fp16": "fp16", "bf16": "bf16", "fp8": "fp8"}[r["precision"]]
    params = float(r["params"]) * 1e9
    est = flopest.estimate(params=params, tokens=1e12, device=r["device"], n_devices=gpus, precision=prec,
                           batch_size=int(r["global_batch"]), micro_batch=micro, tensor_parallel=int(r["tp"]),
                           pipeline_parallel=int(r["pp"]), checkpointing=checkpointing, goodput=False,
                           virtual_stages=int(r["vp"]) if r["vp"].isdigit() and int(r["pp"]) > 1 else None,
                           samples=1000, **sh)
    st = est.step
    tok = int(r["global_batch"]) * sh["seq_len"]
    pt = st["plan_time_s"]
    p50 = tok / (st["time_s"] * gpus)
    # the time's range is the model's: tokens/s p5 from time p95, and the reverse
    lo, hi = p50 * pt["p50"] / pt["p95"], p50 * pt["p50"] / pt["p5"]
    return p50, lo, hi, st


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--markdown", action="store_true")
    ap.add_argument("--rows", action="store_true", help="also print every row")
    a = ap.parse_args(argv)
    from flopest import data
    from flopest.impact.scenario import build_scenario
    devices = {d.id for d in data.devices()}
    rows = list(csv.DictReader(open(TABLE, encoding="utf-8")))
    out, skipped = [], {}
    t0 = time.perf_counter()
    for r in rows:
        meas, ck = usable(r, devices)
        if meas is None:
            skipped[ck] = skipped.get(ck, 0) + 1
            continue
        try:
            p50, lo, hi, st = predict(r, ck)
        except Exception as exc:   # a row flopest cannot set up: counted, with why
            why = f"flopest refused it: {str(exc).splitlines()[0][:80]}"
            skipped[why] = skipped.get(why, 0) + 1
            continue
        prec = {"fp16": "fp16", "bf16": "bf16", "fp8": "fp8"}[r["precision"]]
        peak = build_scenario(r["device"], 1, "WORLD", None, prec, None).peak_flops
        sh = shape(r)
        d, L, V = sh["d_model"], sh["layers"], sh["vocab"] or 32000
        kvh = sh["kv_heads"] or 1
        hd = d // (sh["heads"] or max(1, d // 128))
        n = 2 * V * d + L * (2 * d * d + 2 * d * kvh * hd + 3 * d * sh["ffn"])
        env = peak * 0.4 / (6 * n)
        out.append({"id": r["id"], "device": r["device"], "model": r["model"], "gpus": int(r["gpus"]),
                    "variant": "not a standard" in r["notes"],   # the source's hardware is not the device row
                    "layout": f"{r['tp']}×{r['pp']}×{int(r['gpus']) // (int(r['tp']) * int(r['pp']))}"
                              + (f" vp{r['vp']}" if r["vp"] not in ("", "1", "n/a") else ""),
                    "precision": r["precision"], "measured": meas, "p50": p50, "lo": lo, "hi": hi, "env": env,
                    "comm": st.get("communication_share", 0.0), "bubble": st["layout"]["bubble"],
                    "source": r["source"].split(" ")[0]})
        log(f"  {r['id']}: measured {meas:,.0f} tok/s/GPU, flopest {p50:,.0f} ({lo:,.0f}-{hi:,.0f}), "
            f"envelope {env:,.0f}")
    log(f"{len(out)} rows predicted in {time.perf_counter() - t0:.0f} s; skipped {sum(skipped.values())}")

    def fmt(rows_, header):
        if a.markdown:
            lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" if i == 0 else "--:" for i in range(len(header))) + "|"]
            lines += ["| " + " | ".join(str(x) for x in row) + " |" for row in rows_]
            return "\n".join(lines)
        w = [max(len(str(x)) for x in col) for col in zip(header, *rows_)]
        return "\n".join("  ".join(str(x).ljust(k) for x, k in zip(row, w)) for row in [header] + rows_)

    def summary(sel):
        err = [abs(math.log2(x["p50"] / x["measured"])) for x in sel]
        env = [abs(math.log2(x["env"] / x["measured"])) for x in sel]
        inside = sum(1 for x in sel if x["lo"] <= x["measured"] <= x["hi"])
        ratio = [x["hi"] / x["lo"] for x in sel]
        return [len(sel), f"{statistics.median(err):.2f}", f"{100 * inside / len(sel):.0f} %",
                f"{statistics.median(ratio):.2f}", f"{statistics.median(env):.2f}",
                f"{statistics.median(math.log2(x['p50'] / x['measured']) for x in sel):+.2f}"]
    header = ["", "rows", "median abs log2", "in p5-p95", "median p95/p5", "envelope: median abs log2",
              "median log2 (+: flopest faster)"]
    groups = [("**all**" if a.markdown else "all", out),
              ("all but a non-standard variant of the device (the row's notes: e.g. a 500 W, 96 GB HBM2e H100)",
               [x for x in out if not x["variant"]])]
    for dev in sorted({x["device"] for x in out}):
        groups.append((dev, [x for x in out if x["device"] == dev]))
    for src in sorted({x["source"] for x in out}):
        groups.append((src.replace("https://", "")[:60], [x for x in out if x["source"] == src]))
    print(f"flopest against published LLM pre-training throughput: {len(out)} rows on "
          f"{len({x['device'] for x in out})} GPU kinds (benchmarks/data/llm_pretraining_throughput.csv); "
          f"targets (issue 16): median abs log2 <= 0.2 over >= 40 rows on >= 2 generations, p5-p95 coverage "
          f">= 90 %. Skipped: " + "; ".join(f"{v} {k}" for k, v in sorted(skipped.items(), key=lambda kv: -kv[1])))
    print()
    print(fmt([[g] + summary(s) for g, s in groups if s], header))
    if a.rows:
        print()
        print(fmt([[x["id"], x["device"], x["gpus"], x["layout"], x["precision"], f"{x['measured']:,.0f}",
                    f"{x['p50']:,.0f}", f"{x['lo']:,.0f} – {x['hi']:,.0f}", f"{math.log2(x['p50'] / x['measured']):+.2f}",
                    f"{x['comm']:.0%}", f"{x['bubble']:.0%}", f"{x['env']:,.0f}"] for x in out],
                  ["row", "device", "GPUs", "t×p×d", "prec", "measured tok/s/GPU", "flopest p50", "p5 – p95",
                   "log2", "comm", "bubble", "envelope"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
