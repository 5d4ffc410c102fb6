"""Parallel layout of a training run and its communication (issue 16 items 2 and 3).

Layout: tensor (t) × pipeline (p) × data (d) parallel degrees with t · p · d = devices. Given by
the user, or chosen: the smallest model-parallel size t · p with which one device's memory fits
(flopest.impact.memory), tensor parallelism first and within a node (t ≤ devices per node), then
pipeline stages; data parallelism for the rest. Memory with p stages: the parameter terms / p; the
activations of the first stage under the 1F1B schedule are p micro-batches of its L/p blocks,
one micro-batch of the whole model (Korthikanti et al. 2022, §3 / Narayanan et al. 2021).

Communication per optimizer step and device (ring collectives, link × link efficiency):
    data parallel   gradients G = params / (t·p) × grad bytes, hierarchical: within a node over
                    g = min(d, node / t) peers, 2(g−1)/g · G / link; across nodes over k = d / g
                    groups, each device sending its 1/g share over its own NIC:
                    2(k−1)/k · G / g / network (ZeRO-3 / FSDP: × 1.5, Rajbhandari et al. 2020 §7);
                    overlapped with the backward (exposed = max(comm − backward, last bucket))
    tensor parallel 4 all-reduces per repeated block and micro-batch (2 forward, 2 backward) of
                    the block's input activation (b·s·h), 2(t−1)/t each, over the node's link;
                    not overlapped (Shoeybi et al. 2019; Korthikanti et al. 2022)
    pipeline        bubble (p−1)/v / (m + (p−1)/v) of the step (m micro-batches per step and
                    replica, v model chunks per stage of the interleaved schedule, 1 without it;
                    Narayanan et al. 2021, SC21 §2.2) and the point-to-point sends of one block
                    input per micro-batch and chunk, forward and backward, over the network when
                    a stage spans nodes
Expert-parallel all-to-all (MoE) is not modelled: said in the notes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .. import data
from ..validate import error, whole
from .memory import MIXED, blocks_of, memory_per_device

SOURCES = {
    "layout": "smallest tensor x pipeline size that fits one device's memory, tensor parallelism within a node "
              "first (Narayanan et al. 2021, 'Efficient Large-Scale Language Model Training on GPU Clusters "
              "Using Megatron-LM', SC21, section 3.3: tensor parallelism up to the GPUs of a node, pipeline "
              "parallelism across nodes)",
    "data parallel": "ring all-reduce 2(n-1)/n x bytes (Patarasuk and Yuan 2009, JPDC 69(2)), hierarchical: "
                     "NVLink within a node, each GPU's NIC across nodes; ZeRO-3/FSDP 1.5x the volume "
                     "(Rajbhandari et al. 2020, ZeRO, SC20, section 7)",
    "tensor parallel": "4 all-reduces of b x s x h per transformer layer and micro-batch (2 forward, 2 backward): "
                       "Shoeybi et al. 2019 (Megatron-LM, arXiv:1909.08053, section 3) and Korthikanti et al. "
                       "2022 (arXiv:2205.05198, section 4)",
    "expert parallel": "4 all-to-alls per MoE layer and micro-batch (dispatch and combine, forward and backward) "
                       "of the tokens x k experts: Lepikhin et al. 2020 (GShard, arXiv:2006.16668), balanced "
                       "routing assumed",
    "pipeline": "1F1B schedule bubble (p-1)/(m+p-1), interleaved with v chunks per stage (p-1)/v/(m+(p-1)/v): "
                "Narayanan et al. 2021 (SC21, sections 2.2.1-2.2.2); the first "
                "stage holds p micro-batches of its L/p layers' activations (Korthikanti et al. 2022, section 3)",
}


@dataclass
class Layout:
    """A parallel layout and its communication per optimizer step and device (seconds)."""
    tp: int
    pp: int
    dp: int
    sharding: str
    node_size: int
    chosen: bool | None              # True: chosen to fit; None: chosen, but none fits; False: given
    micro_batches: int = 1           # per optimizer step and data-parallel replica
    virtual_stages: int = 1          # model chunks per pipeline stage (interleaved schedule)
    bubble: float = 0.0              # pipeline bubble fraction of the step
    dp_comm_s: float = 0.0           # data-parallel gradient collectives, total
    dp_exposed_s: float = 0.0        # ... not hidden behind the backward
    tp_comm_s: float = 0.0           # tensor-parallel all-reduces (exposed)
    pp_comm_s: float = 0.0           # pipeline point-to-point sends (exposed)
    memory: dict | None = None
    notes: list = field(default_factory=list)
    ep: int = 1                      # expert-parallel degree (mixture of experts)
    ep_comm_s: float = 0.0           # expert-parallel all-to-alls (exposed)

    @property
    def exposed_s(self) -> float:
        return self.dp_exposed_s + self.tp_comm_s + self.pp_comm_s + self.ep_comm_s

    def describe(self) -> str:
        how = ("chosen by flopest: the smallest model-parallel size that fits" if self.chosen else
               "chosen by flopest: none fits, the layout of least memory per device" if self.chosen is None
               else "given")
        return (f"tensor {self.tp} × pipeline {self.pp} × data {self.dp}"
                f"{f' (experts over {self.ep})' if self.ep > 1 else ''}"
                f"{'' if self.sharding == 'none' else f', {self.sharding}'} ({how}; {self.node_size} devices per node)")

    def to_dict(self) -> dict:
        return {"tensor_parallel": self.tp, "pipeline_parallel": self.pp, "data_parallel": self.dp,
                "sharding": self.sharding, "node_size": self.node_size, "chosen": self.chosen,
                "micro_batches": self.micro_batches, "virtual_stages": self.virtual_stages, "bubble": self.bubble, "dp_comm_s": self.dp_comm_s,
                "dp_exposed_s": self.dp_exposed_s, "tp_comm_s": self.tp_comm_s, "pp_comm_s": self.pp_comm_s,
                "expert_parallel": self.ep, "ep_comm_s": self.ep_comm_s,
                "describe": self.describe(), "notes": list(self.notes), "sources": dict(SOURCES)}


def _rows(parameter: str) -> dict:
    return {r.applies_to: float(r.value) for r in data.time_model().values() if r.parameter == parameter}


def node_size(device: str) -> int:
    """Accelerators per node (NVLink / ICI domain used for tensor parallelism) of `device`."""
    sizes = _rows("node_size")
    return int(sizes.get(device, sizes.get("*", 8)))


def network_gbps(device: str) -> tuple:
    """(GB/s per direction per accelerator across nodes, whether the device has its own row)."""
    net = _rows("network_gbps")
    if device in net:
        return net[device], True
    return net.get("*", 25.0), False


def _fits(counts, device, precision, optimizer, sharding, tp, pp, dp, checkpointing, ep=1, vs=1, step=None,
          per=None):
    m_b = step / (dp * per) if step and per else None   # micro-batches per step and replica
    m = memory_per_device(counts, device=device, precision=precision, optimizer=optimizer, data_parallel=dp,
                          tensor_parallel=tp, sharding=sharding, checkpointing=checkpointing,
                          pipeline_parallel=pp, expert_parallel=ep if dp % ep == 0 else 1,
                          virtual_stages=vs, micro_batches=m_b)
    return m


def choose(counts, *, device: str, n_devices: int, precision: str, optimizer: str | None,
           sharding: str = "none", tp: int | None = None, pp: int | None = None,
           checkpointing: bool = False, ep: int = 1, virtual_stages: int = 1,
           examples_per_step: float | None = None, examples_per_pass: float | None = None) -> tuple:
    """(tp, pp, dp, chosen, Memory): the layout given (tp / pp, data parallelism the rest) or the
    smallest model-parallel size that fits, tensor parallelism first within a node. The examples
    per step and per pass give the micro-batches a pipeline stage holds; virtual_stages the
    interleaved schedule's."""
    n = whole("n_devices", n_devices)
    extra = dict(vs=int(virtual_stages or 1), step=examples_per_step, per=examples_per_pass)
    node = node_size(device)
    given_tp = whole("tensor_parallel", tp) if tp is not None else None
    given_pp = whole("pipeline_parallel", pp) if pp is not None else None
    blocks = len(blocks_of(getattr(counts, "saved_bytes_by_module", {}) or {})) or None
    if given_tp is not None or given_pp is not None:
        t, p = given_tp or 1, given_pp or 1
        if n % (t * p):
            raise error(f"tensor_parallel {t} × pipeline_parallel {p} = {t * p} does not divide the {n:,} devices",
                        "tensor_parallel", "pipeline_parallel")
        if blocks and p > blocks:
            raise error(f"pipeline_parallel {p} is more stages than the model's {blocks} repeated blocks",
                        "pipeline_parallel")
        m = _fits(counts, device, precision, optimizer, sharding, t, p, n // (t * p), checkpointing, ep, **extra)
        return t, p, n // (t * p), False, m
    cands = []
    for t in (1, 2, 4, 8, 16, 32, 64):
        if t > node or n % t:
            continue
        p = 1
        while t * p <= n and (blocks is None or p <= blocks):
            if n % (t * p) == 0 and (n // (t * p)) % max(1, int(ep)) == 0:   # ep divides the replicas
                cands.append((t * p, p, t))
            p *= 2
    best = None
    for _, p, t in sorted(cands):
        m = _fits(counts, device, precision, optimizer, sharding, t, p, n // (t * p), checkpointing, ep, **extra)
        if m.fits is not False:
            return t, p, n // (t * p), True, m
        if best is None or m.total_bytes < best[2].total_bytes:
            best = (t, p, m)
    # nothing fits: the layout of the least memory per device, and said (the memory's verdict and fix)
    t, p, m = best if best else (1, 1, _fits(counts, device, precision, optimizer, sharding, 1, 1, n,
                                             checkpointing, ep))
    m.notes.append(f"no tensor × pipeline layout of the {n:,} devices fits: the one of least memory per device "
                   f"(tensor {t} × pipeline {p}) is timed")
    return t, p, n // (t * p), None, m


def communication(counts, *, device: str, precision: str, tp: int, pp: int, dp: int, sharding: str,
                  params: float, examples_per_step: float, examples_per_pass: float,
                  backward_s_per_step: float, step_s: float, link_gbps: float, link_efficiency: float,
                  grad_bytes: float, bucket_bytes: float, chosen: bool = False, virtual_stages: int = 1,
                  ep: int = 1) -> Layout:
    """The communication of one optimizer step on one device under the layout (seconds), and the
    pipeline bubble. backward_s_per_step / step_s: one device's backward and whole-pass time per
    optimizer step without communication (the overlap window of data parallelism)."""
    node = node_size(device)
    net, own = network_gbps(device)
    notes = []
    eff = link_efficiency
    link = link_gbps * 1e9 * eff
    netb = net * 1e9 * eff
    # data parallel: hierarchical ring; a mixture of experts all-reduces its experts' gradients over
    # the data-parallel replicas that hold the same experts (1 / ep of them each)
    moe = getattr(counts, "moe", None)
    held = float(params) - (moe["expert_params"] * (1 - 1 / ep) if moe and ep > 1 else 0.0)
    g_bytes = held / (tp * pp) * grad_bytes
    g = max(1, min(dp, node // tp))
    k = max(1, -(-dp // g))     # nodes the replicas span (a partial node counts: its traffic crosses the network)
    dp_s = 0.0
    if dp > 1 and g_bytes > 0:
        dp_s = 2.0 * (g - 1) / g * g_bytes / link + (2.0 * (k - 1) / k * g_bytes / g / netb if k > 1 else 0.0)
        if sharding in ("zero3", "fsdp"):
            dp_s *= 1.5
        last = 2.0 * (dp - 1) / dp * min(bucket_bytes, g_bytes) / (netb if k > 1 else link)
        dp_exposed = max(dp_s - backward_s_per_step, last)
    else:
        dp_exposed = 0.0
    if k > 1 and not own:
        notes.append(f"no network figure for {device!r}: {net:g} GB/s per accelerator across nodes assumed "
                     f"(time_model.csv network.default)")
    # micro-batches per step and data-parallel replica
    per = max(float(examples_per_pass), 1.0)
    m = max(1, int(round(examples_per_step / (dp * per)))) if examples_per_step else 1
    # tensor parallel: 4 all-reduces of each block's input per micro-batch
    saved = getattr(counts, "saved_bytes_by_module", {}) or {}
    inputs = getattr(counts, "module_input_bytes", {}) or {}
    blocks = blocks_of(saved)
    scale = (2.0 / 4.0) if precision in MIXED else 1.0
    block_in = [float(inputs.get(b, 0.0)) * scale for b in blocks]
    tp_s = pp_s = 0.0
    if tp > 1:
        if block_in and any(block_in):
            per_mb = sum(4.0 * 2.0 * (tp - 1) / tp * x for x in block_in)
            tp_link = link if tp <= node else netb
            tp_s = m * per_mb / pp / tp_link
        else:
            notes.append("tensor parallelism: no repeated blocks found in the capture, their all-reduces are "
                         "not costed")
    bubble = 0.0
    v = max(1, int(virtual_stages))
    if pp > 1:
        idle = (pp - 1) / v
        bubble = idle / (m + idle)
        if block_in and any(block_in):
            x = max(block_in) / tp
            p2p = netb if tp * pp > node else link
            pp_s = 2.0 * m * v * x / p2p
        else:
            notes.append("pipeline: no repeated blocks found in the capture, the stage sends are not costed")
        if m < pp:
            notes.append(f"pipeline: {m} micro-batch(es) per step for {pp} stages: a bubble of {bubble:.0%}; "
                         f"more micro-batches per step (a larger global batch, or interleaving) shrink it")
    ep_s = 0.0
    if moe and ep > 1 and block_in and any(block_in):
        # 4 all-to-alls per MoE layer and micro-batch (dispatch and combine, forward and backward),
        # each of the layer's tokens × k to other devices: (ep − 1)/ep of k × the block input
        a2a = sum(4.0 * moe["active_experts"] * (ep - 1) / ep * x for x in block_in) / tp
        ep_link = link if tp * ep <= node else netb
        ep_s = m * a2a / pp / ep_link
        notes.append(f"expert parallelism {ep}: 4 all-to-alls per MoE layer and micro-batch, "
                     f"{ep_s:.3g} s a step (Lepikhin et al. 2020, GShard; balanced routing)")
    elif moe and ep == 1:
        notes.append("mixture of experts without expert parallelism: every device holds every expert")
    return Layout(tp, pp, dp, sharding, node, chosen, m, v, bubble, dp_s, dp_exposed, tp_s, pp_s, None, notes,
                  ep, ep_s)
