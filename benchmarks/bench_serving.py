"""Decode tokens/s predicted by flopest against the pure bandwidth bound and published latencies.

    python benchmarks/bench_serving.py [--runs 3] [--prompt 512] [--output 256] [--models gpt2,llama-7b,llama-70b]

Three model sizes (GPT-2 124 M from the zoo; Llama-2-7B and Llama-2-70B shapes, built on meta
tensors from the sizes of Meta's published configs) × three devices (L4, A100-SXM4-80GB, H100 SXM)
× two batch sizes. Each model is captured once (prefill + 4 decode steps on meta tensors, KV cache
included) and the capture time is the median of ``--runs`` runs; the serving figures come from the
one captured cost.

- **bound**: the pure bandwidth bound of decoding, batch × k × bandwidth / weight bytes: every step
  reads the weights once and nothing else, at 100 % of the datasheet bandwidth (k devices hold one
  replica when the model does not fit on one).
- **roofline**: flopest's step time at 100 % efficiency, max(FLOPs / peak, (weights + KV cache) /
  bandwidth), summed over the decode steps: the KV cache read grows with the position and the batch.
- **flopest p50 [p5–p95]**: `flopest serve`'s decode tokens/s: the per-operator model
  (flopest/impact/steptime.py) on the decode steps captured at the batch, replayed as CUDA
  graphs with a paged KV cache, with the model's range.

A second table (`--only published`) sets the per-operator model and the roofline with its MFU
and MBU priors against NVIDIA's published Llama-2-7B latencies (TensorRT-LLM, A100 and H100,
batch 1-8).

Figures are per replica (all k devices), bf16 weights and KV cache.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np

DEVICES = ("l4", "a100-sxm4-80gb", "h100-sxm")
BATCHES = (1, 32)

# Llama-2 sizes: meta-llama/Llama-2-7b-hf and Llama-2-70b-hf config.json (hidden, intermediate, layers,
# heads, KV heads, vocab 32,000, 4,096 positions); Touvron et al. 2023, "Llama 2" (arXiv:2307.09288), Table 1
LLAMA = {"llama-7b": (4096, 11008, 32, 32, 32), "llama-70b": (8192, 28672, 80, 64, 8)}


def build(name):
    import torch
    if name == "gpt2":
        import model_zoo
        return model_zoo.get("gpt2", size="full")[0].model
    from transformers import LlamaConfig, LlamaForCausalLM
    d, ff, layers, heads, kv = LLAMA[name]
    cfg = LlamaConfig(hidden_size=d, intermediate_size=ff, num_hidden_layers=layers, num_attention_heads=heads,
                      num_key_value_heads=kv, vocab_size=32000, max_position_embeddings=4096,
                      tie_word_embeddings=False, attn_implementation="eager")
    with torch.device("meta"):     # no weights: the capture only needs shapes
        return LlamaForCausalLM(cfg).to(torch.bfloat16).eval()


# Published measurements of a whole request (prompt 128 + 20 output tokens), Llama-2-7B on one GPU (TP 1),
# TensorRT-LLM: NVIDIA NeMo Framework user guide, "Performance: Llama-2 results, inference performance,
# configuration 1: chatbot conversation" (docs.nvidia.com/nemo-framework/user-guide/latest/performance/
# llama.html, results published 2024). Average latency in ms by batch. The same table's Llama-2-13B rows
# are left out: at one A100 they are faster than reading 26 GB of 16-bit weights at the datasheet
# bandwidth 20 times (142.5 ms < 20 × 26 GB / 2.04 TB/s = 255 ms), so not 16-bit runs.
PUBLISHED = {("a100-sxm4-80gb", 1): 234.0, ("a100-sxm4-80gb", 2): 249.6, ("a100-sxm4-80gb", 4): 272.6,
             ("a100-sxm4-80gb", 8): 329.5, ("h100-sxm", 1): 153.8, ("h100-sxm", 2): 160.8,
             ("h100-sxm", 4): 174.8, ("h100-sxm", 8): 199.2}


# The same table, tensor parallel over 2, 4 and 8 GPUs of one node (ms by batch 1, 2, 4, 8).
PUBLISHED_TP = {("a100-sxm4-80gb", 2): (171.7, 180.3, 202.9, 237.6), ("a100-sxm4-80gb", 4): (143.7, 149.9, 165.2, 196.4),
                ("a100-sxm4-80gb", 8): (136.5, 143.3, 158.6, 181.9), ("h100-sxm", 2): (128.6, 132.0, 137.9, 156.2),
                ("h100-sxm", 4): (107.4, 114.0, 120.4, 134.6), ("h100-sxm", 8): (97.6, 109.1, 116.2, 129.1)}


def published(samples: int) -> None:
    """The per-operator model and the roofline with its priors against the published latencies."""
    from flopest.impact import MBU_PRIOR, roofline, serve
    from flopest.impact.scenario import build_scenario
    from flopest.models import generation_cost_torch
    P, O = 128, 20
    cost = generation_cost_torch(build("llama-7b"), P, O)
    rows = []
    for (dev, b), ms in PUBLISHED.items():
        e = serve(cost, prompt_tokens=P, output_tokens=O, requests_per_day=1000, days=1, device=dev, batch=b,
                  precision="bf16", samples=samples)
        lat = e.to_dict()["latency_s"]
        mfu = build_scenario(dev, 1, "WORLD", None, "bf16", None).mfu
        rl = roofline(cost, dev, b, "bf16")
        # the roofline's p50 at the priors' medians, its p5 / p95 at their p95 / p5 (faster / slower)
        roof = [float(sum(rl.times(np.array([m]), np.array([u])))[0]) for m, u in
                ((mfu.p95, MBU_PRIOR.p95), (mfu.p50, MBU_PRIOR.p50), (mfu.p5, MBU_PRIOR.p5))]
        rows.append((dev, b, ms / 1e3, (lat["p5"], lat["p50"], lat["p95"]), roof))
    print(f"\nwhole-request latency, Llama-2-7B bf16, {P} + {O} tokens, one GPU: measured (TensorRT-LLM, NVIDIA "
          f"NeMo user guide) against flopest\n")
    print("| device | batch | measured ms | per-operator p50 [p5–p95] ms | ratio | roofline + priors p50 "
          "[p5–p95] ms | ratio |")
    print("|---|--:|--:|--:|--:|--:|--:|")
    err = {"op": [], "roof": []}
    inside = {"op": 0, "roof": 0}
    for dev, b, m, op, roof in rows:
        for k, q in (("op", op), ("roof", roof)):
            err[k].append(abs(math.log2(q[1] / m)))
            inside[k] += q[0] <= m <= q[2]
        print(f"| {dev} | {b} | {m * 1e3:.1f} | {op[1] * 1e3:.1f} [{op[0] * 1e3:.1f}–{op[2] * 1e3:.1f}] | "
              f"{op[1] / m:.2f} | {roof[1] * 1e3:.1f} [{roof[0] * 1e3:.1f}–{roof[2] * 1e3:.1f}] | {roof[1] / m:.2f} |")
    n = len(rows)
    print(f"\nmedian |log2(predicted / measured)|: per-operator {statistics.median(err['op']):.2f}, roofline + "
          f"priors {statistics.median(err['roof']):.2f}; inside p5–p95: per-operator {inside['op']}/{n}, roofline "
          f"{inside['roof']}/{n}")
    # tensor parallel: flopest divides a replica's pass time by its k devices and counts no communication
    # (what `flopest serve` does for a model that needs k devices): the one-GPU p50 / k
    one = {(dev, b): op[1] for dev, b, _m, op, _r in rows}
    print("\ntensor parallel (TP k): measured ms against flopest's ideal split, the one-GPU p50 / k, by batch 1, 2, 4, 8\n")
    print("| device | TP | measured ms | flopest ms (p50 / k) | ratio |")
    print("|---|--:|--:|--:|--:|")
    ratios = []
    for (dev, k), ms in PUBLISHED_TP.items():
        pred = [one[(dev, b)] / k * 1e3 for b in (1, 2, 4, 8)]
        r = [p / m for p, m in zip(pred, ms)]
        ratios += r
        print(f"| {dev} | {k} | {' / '.join(f'{m:.1f}' for m in ms)} | {' / '.join(f'{p:.1f}' for p in pred)} | "
              f"{' / '.join(f'{x:.2f}' for x in r)} |")
    print(f"\nideal tensor parallelism: median ratio {statistics.median(ratios):.2f} (1 = right; below: too fast)")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3, help="timed captures per model (median)")
    ap.add_argument("--prompt", type=int, default=512)
    ap.add_argument("--output", type=int, default=256)
    ap.add_argument("--models", default="gpt2,llama-7b,llama-70b")
    ap.add_argument("--samples", type=int, default=20_000)
    ap.add_argument("--only", choices=("models", "published"), help="one of the two tables")
    a = ap.parse_args(argv)
    if a.only == "published":
        published(a.samples)
        return 0

    from flopest import data as profiles
    from flopest.impact import ELEMENT_BYTES as BYTES_PER_ELEMENT
    from flopest.impact import roofline, serve
    from flopest.models import generation_cost_torch

    rows = []
    for name in a.models.split(","):
        model = build(name)
        times = []
        for _ in range(a.runs):
            t0 = time.perf_counter()
            cost = generation_cost_torch(model, a.prompt, a.output)
            times.append(time.perf_counter() - t0)
        t_cap = statistics.median(times)
        for dev_id in DEVICES:
            dev = profiles.device(dev_id)
            for b in BATCHES:
                rl = roofline(cost, dev_id, b, "bf16")
                k = rl.devices_per_replica
                bound = b * k * dev.mem_bandwidth_bytes_per_s / (cost.matmul_params * BYTES_PER_ELEMENT["bf16"])
                _, t_dec = rl.times(np.array([1.0]), np.array([1.0]))
                steps = a.output - 1
                roof = b * steps / t_dec[0]
                compute_steps = int((rl.decode_compute_s > rl.decode_memory_s).sum())
                e = serve(cost, prompt_tokens=a.prompt, output_tokens=a.output, requests_per_day=1000, days=1,
                          device=dev_id, batch=b, precision="bf16", samples=a.samples)
                q = e.to_dict()["decode_tokens_per_s"]       # per device: × k for the replica
                rows.append((name, f"{cost.params / 1e9:.3g} B", dev_id, b, k, bound, roof, roof / bound,
                             q["p50"] * k, q["p5"] * k, q["p95"] * k,
                             "compute" if compute_steps == steps else ("memory" if compute_steps == 0 else "mixed"),
                             t_cap))
    print(f"decode tokens/s per replica, prompt {a.prompt} + {a.output} output tokens, bf16; capture time: median "
          f"of {a.runs} runs\n")
    print("| model | params | device | batch | devices/replica | bound tokens/s | roofline tokens/s | roofline / "
          "bound | flopest p50 [p5–p95] | decode steps | capture s |")
    print("|---|--:|---|--:|--:|--:|--:|--:|--:|---|--:|")
    for (name, params, dev, b, k, bound, roof, ratio, p50, p5, p95, kind, t) in rows:
        print(f"| {name} | {params} | {dev} | {b} | {k} | {bound:,.0f} | {roof:,.0f} | {ratio:.2f} | "
              f"{p50:,.0f} [{p5:,.0f}–{p95:,.0f}] | {kind}-bound | {t:.2f} |")
    if a.only is None:
        published(a.samples)
    return 0


if __name__ == "__main__":
    sys.exit(main())
