"""Goodput of a training run (issue 16 item 4): the share of wall-clock time that advances the
training, once failures, restarts and checkpoint writes are paid for. Each term is a sourced,
overridable prior (flopest/data/run_priors.csv).

    M   mean time between failures of the job = 1 / (accelerators × failure rate per
        accelerator-hour): one failure anywhere stops a synchronous job
    δ   checkpoint write = checkpoint bytes / (accelerators × write bandwidth per accelerator);
        checkpoint bytes = parameters × (weights + master weights + optimizer states) bytes
    R   restart: detection, rescheduling, start-up and checkpoint reload after a failure
    τ   checkpoint interval: Young's optimum √(2 δ M) (Young 1974, CACM 17(9); Daly 2006), at
        most the run itself
    wall = work × (1 + (⌈work/τ⌉ − 1)·δ/work) / (1 − (τ/2 + R)/M)
         (the intermediate checkpoint writes on top of the work, ≈ δ/τ of it in a long run and
         none in a run shorter than τ; each failure loses half an interval of work on average
         plus the restart, and failures come at rate 1/M of the wall-clock time)
    goodput = work / wall

p5 / p95 of the goodput pair the lowest (highest) failure rate and restart time with the
highest (lowest) write bandwidth: the time's range widens by the goodput's, quantile by
quantile (comonotonic), and the time model's own range stays as it is.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from .. import data
from ..validate import error, positive
from .memory import param_terms



@dataclass
class Goodput:
    """The goodput of a run, {p5, p50, p95} (p5 the worst: most time lost), with its terms."""
    goodput: dict                       # {p5, p50, p95} fractions of wall-clock time doing work
    failures_share: float               # p50 share of wall-clock time lost to failures and restarts
    checkpoint_share: float             # p50 share spent writing checkpoints
    mtbf_h: float                       # p50 mean time between failures of the job, hours
    interval_s: float                   # p50 checkpoint interval, seconds
    checkpoint_s: float                 # p50 time to write one checkpoint, seconds
    checkpoint_bytes: float
    n_devices: int
    checkpoints: int = 0                # intermediate checkpoints written at p50
    sources: dict = field(default_factory=dict)
    notes: list = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"goodput": dict(self.goodput), "failures_share": self.failures_share,
                "checkpoint_share": self.checkpoint_share, "mtbf_h": self.mtbf_h, "interval_s": self.interval_s,
                "checkpoint_s": self.checkpoint_s, "checkpoint_bytes": self.checkpoint_bytes,
                "checkpoints": self.checkpoints,
                "n_devices": self.n_devices, "sources": dict(self.sources), "notes": list(self.notes)}


def checkpoint_bytes(params: float, precision: str, optimizer: str | None) -> float:
    """Bytes of one checkpoint: 16-bit weights + fp32 master weights under mixed precision (fp32
    weights otherwise) + the optimizer's fp32 states (Rajbhandari et al. 2020, ZeRO §3.1)."""
    terms = param_terms(1, precision, optimizer or "adam")   # the memory model's bytes per parameter
    return float(params) * (terms["weights"] + terms["master weights"] + terms["optimizer states"])


def _one(n: int, work_s: float, ckpt_bytes: float, rate_per_h: float, restart_s: float, write_gbps: float):
    """(goodput, failures share, checkpoint share, M hours, τ s, δ s) for one set of inputs."""
    m_s = 3600.0 / (n * rate_per_h)
    delta = ckpt_bytes / (n * write_gbps * 1e9) if ckpt_bytes > 0 else 0.0
    tau_opt = math.sqrt(2.0 * delta * m_s) if delta > 0 else work_s
    tau = min(tau_opt, work_s) if work_s > 0 else tau_opt
    lost = (tau / 2.0 + restart_s) / m_s
    capped = lost >= 0.95
    if capped:
        lost = 0.95   # a job that fails about as fast as it restarts: bounded, and said by the caller
    # intermediate checkpoints: one every τ of work, none in a run shorter than τ (the final save
    # is the model itself, not an overhead)
    n_ckpt = max(0, math.ceil(work_s / tau_opt) - 1) if work_s > 0 and tau_opt > 0 else 0
    ckpt = n_ckpt * delta / work_s if n_ckpt else 0.0
    wall = (1.0 + ckpt) / (1.0 - lost)
    g = 1.0 / wall
    return g, 1.0 - (1.0 + ckpt) * g, ckpt * g, m_s / 3600.0, tau, delta, capped, n_ckpt


def goodput(n_devices: int, work_s: float, params: float, *, precision: str = "bf16",
            optimizer: str | None = "adam", failure_rate=None, restart_s=None, write_gbps=None) -> Goodput:
    """The goodput of a synchronous run of `work_s` seconds of work (its failure-free wall-clock
    time) on `n_devices` accelerators training `params` parameters. failure_rate (per
    accelerator-hour), restart_s (s) and write_gbps (checkpoint GB/s per accelerator) replace the
    priors of run_priors.csv (a value fixes the input; its range collapses)."""
    n = int(n_devices)
    work = float(work_s)
    priors = {r.id: r for r in data.run_priors()}

    def prior(key, given, name):
        if given is not None:
            v = positive(name, given)
            if not 1e-15 <= v <= 1e15:
                raise error(f"{name} {v:g} is outside 1e-15 to 1e15: give a rate, duration or bandwidth in range",
                            name)
            return (v, v, v), f"given: {v:g}"
        r = priors[key]
        return (r.p5, r.p50, r.p95), f"{r.source} ({r.year})"
    rate, rate_src = prior("failure_rate", failure_rate, "failure_rate")
    rest, rest_src = prior("restart_s", restart_s, "restart_s")
    bw, bw_src = prior("checkpoint_write_gbps", write_gbps, "write_gbps")
    ck = checkpoint_bytes(params, precision, optimizer)
    worst = _one(n, work, ck, rate[2], rest[2], bw[0])
    mid = _one(n, work, ck, rate[1], rest[1], bw[1])
    best = _one(n, work, ck, rate[0], rest[0], bw[2])
    notes = []
    if mid[6]:
        raise error(f"a job of {n:,} accelerators fails every {mid[3] * 3600:,.3g} s on average (failure rate "
                    f"{rate[1]:g} per accelerator-hour), about as often as it restarts ({rest[1]:,.3g} s) and "
                    f"checkpoints: it cannot make progress; check failure_rate, restart_s and checkpoint_write_gbps, "
                    f"or plan fewer accelerators", "failure_rate", "restart_s", "checkpoint_write_gbps")
    if worst[6]:
        notes.append(f"goodput p5: at the worst failure rate and restart time of the priors the job would barely "
                     f"progress; its p5 is bounded at 5 % of the wall-clock time doing work")
    if mid[1] > 0.5:
        notes.append(f"goodput: a job of {n:,} accelerators fails every {mid[3]:.2g} h on average; more than half "
                     f"its time goes to failures and restarts: plan fewer accelerators or a faster restart")
    return Goodput({"p5": worst[0], "p50": mid[0], "p95": best[0]}, mid[1], mid[2], mid[3], mid[4], mid[5], ck, n,
                   mid[7], {"failure rate per accelerator-hour": rate_src, "restart time": rest_src,
                    "checkpoint write bandwidth per accelerator": bw_src,
                    "checkpoint interval": "Young 1974 (CACM 17(9), 'A first order approximation to the "
                                           "optimum checkpoint interval'): tau = sqrt(2 x write time x MTBF)"},
                   notes)
