"""Serving roofline: the time of one batch of a counted request on a device (one model replica
of k devices), and the memory a replica needs.

    step time  = max(FLOPs / (k · peak · MFU), bytes / (k · bandwidth · MBU))
    decode bytes per step  = weights read once for the whole batch (the batch shares them)
                             + B × KV cache read (p tokens) and written (1 token)
    prefill bytes          = weights + B × KV cache written (P tokens)
    latency    = prefill + Σ decode steps (static batching: a batch starts and ends together)

    NB: activations are assumed to stay on chip (fused kernels): a lower bound on traffic, so
    the time is a lower bound before the efficiencies (MBU, MFU), whose ranges cover the rest.
    Decode at small batch is memory-bound: the weights are read at every step.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .. import data
from ..errors import InputError
from ..generation import ForwardCost, Poly
from ..validate import whole
from .scenario import ELEMENT_BYTES, default_precision
from .uncertain import Uncertain

# Memory-bandwidth utilisation (MBU) of decoding: achieved bytes/s over the datasheet bandwidth.
# Evidence: 0.27 (H100) and 0.81 (L4), batch-1 decode of three 7-8B GQA models (J. Chen,
# arXiv, 28 May 2026, "Memory-bound but not bandwidth-limited: the physical-AI inference gap",
# as summarised by theneuralfeed.com); 0.49: BLOOM-176B, DeepSpeed-Inference fp16, batch 1,
# 44.02 ms/token on 8 × A100-80GB (Hugging Face blog "Incredibly fast BLOOM inference with
# DeepSpeed and Accelerate", 2022) against 352 GB / (8 × 2,039 GB/s) = 21.6 ms.
# Rule of flopest's priors: p5 = 0.9 × min, p50 = median, p95 = 1.1 × max.
MBU_PRIOR = Uncertain(0.243, 0.49, 0.891, "",
                      "p5 = 0.9 × min, p50 = median, p95 = 1.1 × max of measured decode bandwidth "
                      "utilisation: H100 0.27 and L4 0.81, batch-1 decode of 7-8B GQA models (Chen, arXiv, "
                      "May 2026, via theneuralfeed.com); BLOOM-176B DeepSpeed-Inference fp16 batch 1, "
                      "44.02 ms/token on 8 × A100-80GB vs 21.6 ms at full bandwidth = 0.49 (Hugging Face "
                      "blog 'Incredibly fast BLOOM inference with DeepSpeed and Accelerate', 2022)")


@dataclass
class Roofline:
    """Deterministic parts of the time per batch on a device: per decode step, FLOPs over the
    replica's peak and bytes over its bandwidth (seconds at 100 % efficiency)."""
    batch: int
    devices_per_replica: int
    prefill_compute_s: float
    prefill_memory_s: float
    decode_compute_s: np.ndarray      # per step
    decode_memory_s: np.ndarray
    weight_bytes: float
    kv_bytes_per_token: float
    bytes_prefill: float              # per batch
    bytes_decode: float               # per batch, all steps
    memory_needed_bytes: float
    output_tokens: int

    def times(self, mfu: np.ndarray, mbu: np.ndarray):
        """(prefill s, decode s) per batch for arrays of efficiencies: Σ over steps of
        max(compute / MFU, memory / MBU), exactly (the compute/memory ratio is monotone in
        the position, so each sample has one crossover, found by bisection)."""
        mfu = np.asarray(mfu, float)
        mbu = np.asarray(mbu, float)
        t_pf = np.maximum(self.prefill_compute_s / mfu, self.prefill_memory_s / mbu)
        c, m = self.decode_compute_s, self.decode_memory_s
        if len(c) == 0:
            return t_pf, np.zeros_like(t_pf)
        r = c / m
        thr = mfu / mbu                        # compute term wins where r > thr
        cc = np.concatenate(([0.0], np.cumsum(c)))
        cm = np.concatenate(([0.0], np.cumsum(m)))
        d = np.diff(r)
        if np.all(d >= 0):                     # compute-bound suffix
            i = np.searchsorted(r, thr, side="right")
            t_dec = (cc[-1] - cc[i]) / mfu + cm[i] / mbu
        elif np.all(d <= 0):                   # compute-bound prefix
            i = np.searchsorted(-r, -thr, side="left")
            t_dec = cc[i] / mfu + (cm[-1] - cm[i]) / mbu
        else:                                  # not monotone: step by step
            t_dec = np.zeros_like(t_pf)
            for k in range(0, len(c), 256):
                cs, ms = c[k:k + 256], m[k:k + 256]
                t_dec += np.maximum(cs[None, :] / mfu[:, None], ms[None, :] / mbu[:, None]).sum(axis=1)
        return t_pf, t_dec


def roofline(cost, device, batch: int = 1, precision: str | None = None, devices_per_replica=None) -> Roofline:
    """The roofline of one batch of `cost` (GenerationCost or ForwardCost) on `device` (an id
    or a flopest.data.Device)."""
    dev = data.device(device) if isinstance(device, str) else device
    prec = precision or default_precision(dev)
    peak = dev.peak_flops(prec)
    bw = dev.mem_bandwidth_bytes_per_s
    bpe = ELEMENT_BYTES[prec]
    B = whole("batch", batch)
    if isinstance(cost, ForwardCost):
        if cost.batch != B:
            raise InputError(f"the forward cost was counted at batch {cost.batch}, not {B}")
        need = cost.params * bpe
        k = devices_per_replica or replica_size(need, dev)
        # NB: the graph's bytes (every operator's inputs and outputs, no fusion: an upper bound),
        # rescaled from the captured element size to the serving precision
        byts = cost.graph_bytes * bpe / cost.element_bytes
        return Roofline(B, k, cost.flops / (k * peak), byts / (k * bw), np.zeros(0), np.zeros(0),
                        cost.params * bpe, 0.0, float(byts), 0.0, need, 0)
    P, O = cost.prompt_tokens, cost.output_tokens
    w = cost.matmul_params * bpe                   # weights read per step (matrix-product weights)
    kvb = cost.kv_elements_per_token * bpe
    need = cost.params * bpe + B * kvb * (P + O)
    k = devices_per_replica or replica_size(need, dev)
    lo, hi = cost.positions
    ps = np.arange(lo, hi + 1, dtype=np.float64)
    fl = np.array([float(cost.decode_flops(int(p))) for p in ps]) if len(ps) <= 4096 else \
        _poly_eval(cost.decode_flops, ps)
    dec_bytes = w + B * kvb * (ps + 1)             # weights + KV read (p) and written (1)
    pre_bytes = w + B * kvb * P
    return Roofline(B, k, B * cost.prefill_flops / (k * peak), pre_bytes / (k * bw), B * fl / (k * peak),
                    dec_bytes / (k * bw), w, kvb, float(pre_bytes), float(dec_bytes.sum()), need, O)


def _poly_eval(poly: Poly, ps: np.ndarray) -> np.ndarray:
    return sum(float(c) * ps ** i for i, c in enumerate(poly.c))


def replica_size(need_bytes: float, dev) -> int:
    """Devices one model replica needs to hold its weights and KV cache (tensor parallel)."""
    if not dev.memory_gb:
        return 1
    return max(1, math.ceil(need_bytes / (dev.memory_gb * 1e9)))
