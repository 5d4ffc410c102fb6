"""Memory per device of a training step (issue 16 item 1): weights, master weights, gradients and
optimizer states by precision and sharding, activations saved for the backward pass as the
autograd capture recorded them (with and without activation checkpointing), and a fit verdict
with the fix when it does not fit.

    bytes per parameter (Rajbhandari et al. 2020, "ZeRO", SC20, §3.1: mixed-precision Adam keeps
    2Ψ + 2Ψ + 12Ψ bytes: fp16/bf16 weights and gradients, fp32 master weights, momentum and
    variance)
                        weights  master  gradients  optimizer states
      fp32 / tf32          4       0        4        adam(w) 8, sgd-momentum 4, sgd 0
      bf16 / fp16 / fp8    2       4        2        adam(w) 8, sgd-momentum 4, sgd 0
    sharding over d data-parallel devices (ZeRO stages; FSDP = stage 3):
      zero1: master + optimizer states / d;  zero2: + gradients / d;  zero3, fsdp: + weights / d
    tensor parallelism t: every term / t (Megatron-style, sequence parallelism for the activations:
                   without it they are larger, said in the notes when t > 1)
    experts (a mixture): 1/ep of them a device, their states sharded over the dp / ep replicas
                   that hold the same experts (DeepSpeed-MoE, Megatron-Core)
    pipeline parallelism p: the parameter terms / p; the activations stay those of one micro-batch
                   of the whole model (the 1F1B schedule's first stage holds p micro-batches of its
                   L/p layers: Korthikanti et al. 2022, arXiv:2205.05198, section 3), × min(m, p)/p
                   with m micro-batches a step, × 1 + (p − 1)/(p·v) interleaved (section 4.2.3)
    activations  = Σ saved tensors of the counted pass / its examples × micro-batch × (element size
                   at the precision / the captured one's)
      checkpointing (one repeated block at a time): the saved tensors outside the blocks + each
                   block's input + the largest block's saved tensors (recomputed during backward)
    temporary    = the largest module's saved tensors at the micro-batch (its gradients while its
                   backward runs: an estimate of the transient peak, said as such)
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .. import data
from ..errors import InputError
from ..validate import error, whole

SHARDINGS = ("none", "zero1", "zero2", "zero3", "fsdp")
OPTIMIZER_STATE_BYTES = {"adam": 8, "adamw": 8, "sgd-momentum": 4, "sgd": 0, "rmsprop": 4, "lamb": 8}
MIXED = ("bf16", "fp16", "fp8")
SOURCE = ("Rajbhandari et al. 2020, ZeRO: Memory Optimizations Toward Training Trillion Parameter Models "
          "(SC20), section 3.1 (2 + 2 + 12 bytes per parameter for mixed-precision Adam) and section 5 "
          "(stages 1-3)")
_BLOCK = re.compile(r"^(.*?)(\d+)$")


@dataclass
class Memory:
    """Bytes per device, by term, with the verdict on a device's memory."""
    terms: dict                     # name -> bytes per device
    total_bytes: float
    capacity_bytes: float | None
    device: str
    layout: dict                    # precision, optimizer, sharding, data_parallel, tensor_parallel, micro_batch
    fits: bool | None
    fix: str = ""
    notes: list = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"terms_bytes": dict(self.terms), "total_bytes": self.total_bytes,
                "capacity_bytes": self.capacity_bytes, "device": self.device, "layout": dict(self.layout),
                "fits": self.fits, "fix": self.fix, "notes": list(self.notes), "source": SOURCE}


def param_terms(params: int, precision: str, optimizer: str | None) -> dict:
    mixed = precision in MIXED
    states = OPTIMIZER_STATE_BYTES.get(optimizer or "", None)
    if optimizer and states is None:
        raise error(f"optimizer {optimizer!r} has no state size here (one of {', '.join(OPTIMIZER_STATE_BYTES)})",
                    "optimizer")
    return {"weights": params * (2 if mixed else 4), "master weights": params * (4 if mixed else 0),
            "gradients": params * (2 if mixed else 4), "optimizer states": params * (states or 0)}


def _shard(terms: dict, sharding: str, dp: int) -> dict:
    out = dict(terms)
    if sharding in ("zero1", "zero2", "zero3", "fsdp"):
        out["master weights"] /= dp
        out["optimizer states"] /= dp
    if sharding in ("zero2", "zero3", "fsdp"):
        out["gradients"] /= dp
    if sharding in ("zero3", "fsdp"):
        out["weights"] /= dp
    return out


def blocks_of(saved: dict) -> list:
    """The largest family of repeated blocks among the module paths (`layers.0`, `layers.1`, …):
    the paths that end in an index and share their prefix, as checkpointing wraps them."""
    fams: dict = {}
    for path in saved:
        parts = path.split(".")
        for i in range(len(parts)):
            if parts[i].isdigit():
                fams.setdefault(".".join(parts[:i]), set()).add(".".join(parts[:i + 1]))
    if not fams:
        return []
    prefix = max(fams, key=lambda k: (len(fams[k]), -len(k)))
    return sorted(fams[prefix]) if len(fams[prefix]) > 1 else []


def _activation_bytes(counts, checkpointing: bool) -> tuple:
    """(saved bytes of the counted pass, temporary bytes, note) — per counted pass."""
    saved = dict(getattr(counts, "saved_bytes_by_module", {}) or {})
    if not saved:
        return None, None, None
    total = float(sum(saved.values()))
    biggest = float(max(saved.values()))
    if not checkpointing:
        return total, biggest, None
    blocks = blocks_of(saved)
    if not blocks:
        return total, biggest, "checkpointing: no repeated blocks found to checkpoint; activations as without it"
    inputs = getattr(counts, "module_input_bytes", {}) or {}

    def within(block):
        return sum(v for p, v in saved.items() if p == block or p.startswith(block + "."))
    per_block = {b: within(b) for b in blocks}
    outside = total - sum(per_block.values())
    kept = outside + sum(inputs.get(b, 0) for b in blocks) + max(per_block.values())
    return kept, biggest, (f"checkpointing {len(blocks)} blocks ({blocks[0].rsplit('.', 1)[0]}.*): each keeps its "
                           f"input; the largest block's activations are recomputed during its backward")


def memory_per_device(counts, *, device: str, precision: str, optimizer: str | None = "adam",
                      data_parallel: int = 1, tensor_parallel: int = 1, sharding: str = "none",
                      micro_batch: int | None = None, checkpointing: bool = False,
                      pipeline_parallel: int = 1, expert_parallel: int = 1, virtual_stages: int = 1,
                      micro_batches: float | None = None) -> Memory:
    """Bytes per device of training `counts` (a training capture: its parameters and the tensors
    autograd saved) on `device` at `precision` with `optimizer`, sharded (`sharding`) over
    `data_parallel` devices, split `tensor_parallel` ways and over `pipeline_parallel` stages, at
    `micro_batch` examples per device (default: the counted pass's), with or without activation
    checkpointing. A mixture of experts (`counts.moe`) holds its experts' parameters 1 /
    `expert_parallel` per device."""
    if sharding not in SHARDINGS:
        from ..errors import did_you_mean
        raise error(f"sharding {sharding!r} is not one of {', '.join(SHARDINGS)}{did_you_mean(sharding, SHARDINGS)}",
                    "sharding")
    dp = whole("data_parallel", data_parallel)
    tp = whole("tensor_parallel", tensor_parallel)
    pp = whole("pipeline_parallel", pipeline_parallel)
    dev = data.device(device)
    params = int(getattr(counts, "params", 0) or 0)
    ep = whole("expert_parallel", expert_parallel)
    moe = getattr(counts, "moe", None)
    per = getattr(counts, "examples_per_pass", None) or 1
    mb = whole("micro_batch", micro_batch) if micro_batch is not None else per
    notes = []
    if moe:
        # the experts: 1/ep of them a device, their states sharded over the expert-data-parallel
        # group (the dp / ep replicas that hold the same experts: DeepSpeed-MoE, Megatron-Core),
        # the rest of the model over all dp replicas
        experts = float(moe["expert_params"])
        dense = _shard(param_terms(params - experts, precision, optimizer), sharding, dp)
        mine = _shard(param_terms(experts / ep, precision, optimizer), sharding, max(1, dp // ep))
        terms = {k: (dense[k] + mine[k]) / (tp * pp) for k in dense}
    else:
        terms = {k: v / (tp * pp) for k, v in _shard(param_terms(params, precision, optimizer), sharding, dp).items()}
    saved, temp, note = _activation_bytes(counts, checkpointing)
    if note:
        notes.append(note)
    if saved is None:
        notes.append("no activations: the count is not a training capture (flopest.count(..., training=True))")
    else:
        scale = mb / per * ({"fp32": 4, "tf32": 4}.get(precision, 2) / 4) / tp
        terms["activations"] = saved * scale
        terms["temporary (largest module's, estimate)"] = temp * scale
        v = max(1, int(virtual_stages or 1))
        if pp > 1 and (v > 1 or (micro_batches is not None and micro_batches < pp)):
            # the first stage holds min(m, p) of the p micro-batches 1F1B keeps in flight, and the
            # interleaved schedule 1 + (p − 1)/(p·v) times that (Korthikanti et al. 2022, §4.2.3)
            held = min(float(micro_batches), pp) / pp if micro_batches is not None else 1.0
            inter = 1.0 + (pp - 1) / (pp * v) if v > 1 else 1.0
            terms["activations"] *= held * inter
            notes.append(f"activations × {held * inter:.3g} on the first pipeline stage: "
                         + (f"{min(float(micro_batches), pp):g} of {pp} micro-batches in flight" if held < 1 else "")
                         + (", " if held < 1 and inter > 1 else "")
                         + (f"the interleaved schedule's 1 + (p − 1)/(p·v) = {inter:.3g}" if inter > 1 else "")
                         + " (Korthikanti et al. 2022, section 4.2.3)")
        if tp > 1:
            notes.append(f"activations / tensor parallelism {tp}: sequence parallelism assumed (Korthikanti et al. "
                         f"2022); without it the layer norms' and dropouts' saved tensors are not split")
        if precision in MIXED:
            notes.append(f"activations at {precision}: the captured (fp32) saved tensors × 2/4 bytes")
    total = float(sum(terms.values()))
    cap = float(dev.memory_gb) * 1e9 if getattr(dev, "memory_gb", None) else None
    layout = {"precision": precision, "optimizer": optimizer, "sharding": sharding, "data_parallel": dp,
              "tensor_parallel": tp, "pipeline_parallel": pp, "expert_parallel": ep, "micro_batch": mb,
              "checkpointing": checkpointing}
    fits = None if cap is None else total <= cap
    m = Memory(terms, total, cap, dev.id, layout, fits, notes=notes)
    if fits is False:
        m.fix = _fix(counts, dev, layout, cap)
    return m


def _fix(counts, dev, layout: dict, cap: float) -> str:
    """The first change that makes it fit: a ZeRO stage, checkpointing, tensor parallelism within
    a node (2, 4, 8), or more data-parallel devices with full sharding."""
    base = dict(layout)

    def total(**change):
        kw = dict(base, **change)
        return memory_per_device(counts, device=dev.id, precision=kw["precision"], optimizer=kw["optimizer"],
                                 data_parallel=kw["data_parallel"], tensor_parallel=kw["tensor_parallel"],
                                 sharding=kw["sharding"], micro_batch=kw["micro_batch"],
                                 checkpointing=kw["checkpointing"],
                                 pipeline_parallel=kw.get("pipeline_parallel", 1),
                                 expert_parallel=kw.get("expert_parallel", 1)).total_bytes

    gb = lambda b: f"{b / 1e9:,.1f} GB"   # noqa: E731
    for stage in ("zero1", "zero2", "zero3"):
        if SHARDINGS.index(stage) > SHARDINGS.index(base["sharding"]) and base["data_parallel"] > 1:
            t = total(sharding=stage)
            if t <= cap:
                return f"shard with {stage} over the {base['data_parallel']} data-parallel devices ({gb(t)} per device)"
    if not base["checkpointing"]:
        t = total(checkpointing=True, sharding="zero3" if base["data_parallel"] > 1 else base["sharding"])
        if t <= cap:
            return f"activation checkpointing{' with zero3' if base['data_parallel'] > 1 else ''} ({gb(t)} per device)"
    for tp in (2, 4, 8):
        if tp > base["tensor_parallel"]:
            t = total(tensor_parallel=tp, sharding="zero3" if base["data_parallel"] > 1 else base["sharding"],
                      checkpointing=True)
            if t <= cap:
                return f"tensor parallelism {tp} within a node, with checkpointing{' and zero3' if base['data_parallel'] > 1 else ''} ({gb(t)} per device)"
    tp = max(8, base["tensor_parallel"])
    for dp in (2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096):   # the fewest devices that fit
        if dp > base["data_parallel"]:
            t = total(data_parallel=dp, sharding="zero3", checkpointing=True, tensor_parallel=tp)
            if t <= cap:
                return (f"{dp * tp * base.get('pipeline_parallel', 1):,} devices: tensor parallelism {tp} × {dp} "
                        f"data-parallel, with zero3 and checkpointing ({gb(t)} per device)")
    raise InputError("no layout up to 4,096 × 8 devices fits: reduce the micro-batch or the sequence length")
