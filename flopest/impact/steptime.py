"""The time of one training step (forward + backward + optimizer) from the graph's rows at a
device: a per-operator model with its parameters in flopest/data/time_model.csv (issue 15,
METHOD.md §2, docs/methodology.md §11).

    row time      = max(compute, memory), then the launch cost (see below)
    compute       = FLOPs / achievable rate
                    matrix rows (GEMM, conv, attention, RNN): the better of
                      tensor path  peak(precision) × ceiling_tensor × tile util × wave util
                      vector path  peak(fp32)      × ceiling_vector   (CUDA cores, SIMT kernels:
                                   no tile loss: depthwise and small convolutions run here)
                    a measured GEMM curve (a probed device) replaces both by its rate at the
                    row's FLOPs per kernel (interpolated in log-log)
                    other rows: peak(fp32) × ceiling_vector
    memory        = bytes × precision scale × fusion fraction / (bandwidth × bandwidth_fraction)
                    fusion: glue (elementwise, reduce, softmax, norm, pool, copies) × fusion.glue;
                    the score-matrix rows of an attention backward × fusion.attention (flash
                    attention keeps them on chip); matrix operands × fusion.matrix (= 1)
    launch        accelerators (asynchronous launches): row time >= kernels × launch_s (views
                  launch nothing; a decode step replayed as a CUDA graph: launch.graph); CPU
                  (dispatch in line with compute): row time + operators × launch_s, views included
                  (each recorded operator is dispatched)
    page faults   CPU: an output larger than malloc.mmap_max (glibc maps it afresh at every call)
                  is faulted in as it is written: + its bytes / the probed fault_gbps
    step          = Σ rows (forward, backward) + optimizer + exposed communication
    optimizer     = trainable params / optimizer shards × bytes per param (fp32 states and master
                    weights, whatever the compute precision) / achievable bandwidth
    communication data parallel within a node, ring: 2(n−1)/n × params × grad bytes / (link ×
                  link efficiency) (FSDP: (n−1)/n × params × (2 × 2 + grad bytes)); exposed =
                  max(comm − overlap window, last bucket), the window being the backward rows
                  (FSDP: forward + backward)

Plain data in and out: an OpTable, its per-row costs from the kernel (`flopest.kernel.evaluate`:
FLOPs and bytes are never recomputed here), a device row; a `StepTime` with the split. Large
tables are handled with NumPy vector arithmetic (no Python loop over rows).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np

from .. import data, kinds
from ..errors import InputError, did_you_mean
from .uncertain import Uncertain

# the compute precisions of a training step; fp16/bf16/fp8 mean mixed precision (autocast or its
# equivalent): fp32 master weights and optimizer states, 16-bit activations (fp8: GEMM inputs)
STEP_PRECISIONS = ("fp32", "tf32", "fp16", "bf16", "fp8")
# bytes per activation element at a precision (IEEE binary32 / binary16, bfloat16; fp8 runs keep
# their activations in bf16 outside the GEMMs)
ACTIVATION_BYTES = {"fp32": 4, "tf32": 4, "fp16": 2, "bf16": 2, "fp8": 2}
MATRIX_KINDS = (kinds.GEMM, kinds.CONV, kinds.ATTENTION, kinds.RNN)
GLUE_KINDS = (kinds.ELEMENTWISE, kinds.REDUCE, kinds.SOFTMAX, kinds.NORM, kinds.POOL, kinds.MOVE)
PARALLEL = ("ddp", "fsdp")
FSDP_PARAM_BYTES = 2   # FSDP all-gathers 16-bit parameters (mixed-precision param_dtype), twice a step


# ----------------------------------------------------------------------------- the parameters
@dataclass(frozen=True)
class TimeModel:
    """The parameters of the step-time model (flopest/data/time_model.csv). Fractions are of the
    datasheet figure (dense peak, nominal bandwidth, nominal link bandwidth)."""
    ceiling_tensor: float
    ceiling_vector: float
    bandwidth_fraction: float
    fusion_glue: float
    fusion_attention: float
    fusion_matrix: float
    launch_accelerator_s: float
    launch_cpu_s: float
    tile_m: int
    tile_n: int
    tile_k: int
    tile_tpu: dict                    # device id or "tpu" -> MXU edge
    compute_units: dict               # device id -> SMs / CUs (wave quantization)
    link_gbps: dict                   # device id -> GB/s per direction between devices of a node
    link_default_gbps: float
    link_efficiency: float
    bucket_bytes: float
    grad_bytes_per_param: float
    optimizer_bytes_per_param: dict   # optimizer -> bytes moved per parameter per step
    range_p5: float
    range_p50: float
    range_p95: float
    sources: dict = field(default_factory=dict, compare=False)   # id -> "source (year)" or basis
    launch_graph_s: float = 0.0       # per kernel of a decode step replayed as a CUDA graph (serving)
    mmap_threshold_bytes: float = math.inf  # allocations above it are mapped afresh at every call

    @staticmethod
    def load() -> TimeModel:
        """The model of the embedded table (flopest/data/time_model.csv), built once per table read."""
        rows = data.time_model()
        hit = _LOADED.get("model")
        if hit is None or hit[0] is not rows:
            hit = _LOADED["model"] = (rows, _from_rows(rows))
        return hit[1]

    def with_fitted(self, **values) -> TimeModel:
        """A copy with some scalar parameters replaced (the fitting tool's trial values)."""
        return replace(self, **values)


_LOADED: dict = {}


def _from_rows(rows) -> TimeModel:
    def v(key):
        if key not in rows:
            raise InputError(f"time_model.csv has no row {key!r}")
        return float(rows[key].value)

    def by(param):
        return {r.applies_to: float(r.value) for r in rows.values() if r.parameter == param}

    tiles = by("mxu")
    return TimeModel(
        ceiling_tensor=v("ceiling.tensor"), ceiling_vector=v("ceiling.vector"),
        bandwidth_fraction=v("bandwidth.fraction"), fusion_glue=v("fusion.glue"),
        fusion_attention=v("fusion.attention"), fusion_matrix=v("fusion.matrix"),
        launch_accelerator_s=v("launch.accelerator"), launch_cpu_s=v("launch.cpu"),
        tile_m=int(v("tile.m")), tile_n=int(v("tile.n")), tile_k=int(v("tile.k")),
        tile_tpu={k: int(x) for k, x in tiles.items()}, compute_units=by("compute_units"),
        link_gbps=by("link_gbps"), link_default_gbps=v("link.default"),
        link_efficiency=v("link.efficiency"), bucket_bytes=v("ddp.bucket"),
        grad_bytes_per_param=v("grad.bytes"), optimizer_bytes_per_param=by("optimizer_bytes_per_param"),
        range_p5=v("range.p5"), range_p50=v("range.p50"), range_p95=v("range.p95"),
        launch_graph_s=v("launch.graph"), mmap_threshold_bytes=v("malloc.mmap_max"),
        sources={k: (f"{r.source} ({r.year})" if r.basis != "fitted" else
                     f"fitted on {r.evidence} ({r.year})") for k, r in rows.items()})


# ----------------------------------------------------------------------------- the device
@dataclass(frozen=True)
class DeviceFigures:
    """The numbers of a device the model reads, in SI units."""
    id: str
    kind: str                          # gpu | tpu | cpu
    matrix_flops_per_s: float          # dense peak at the step's matrix precision (0: none)
    attention_flops_per_s: float       # attention runs at 16 bits under fp8 (0: none)
    vector_flops_per_s: float          # fp32 peak (0: not published)
    bandwidth_bytes_per_s: float
    measured: bool                     # basis measured (flopest probe): the figures are achieved
    launch_s: float | None             # measured launch/dispatch cost
    gemm_curve: tuple                  # ((flops per kernel, achieved FLOP/s), ...) ascending
    fault_bytes_per_s: float | None = None   # measured first-touch throughput of fresh memory (CPU)


def _get(device, name, default=None):
    if isinstance(device, dict):
        return device.get(name, default)
    return getattr(device, name, default)


def _peak(device, precision) -> float:
    v = _get(device, f"peak_{precision}_tflops")
    return float(v) * 1e12 if v else 0.0


def device_figures(device, precision: str) -> DeviceFigures:
    """The figures of `device` (a `flopest.data.Device`, a device id, or a mapping with the
    columns of devices.csv; a probed row adds basis=measured, launch_us and gemm_curve) for a
    step at `precision`."""
    if isinstance(device, str):
        device = data.device(device)
    prec = step_precision(precision)
    kind = str(_get(device, "kind", "gpu"))
    fp32 = _peak(device, "fp32")
    if prec == "fp32":
        matrix = fp32
    elif prec == "tf32":
        matrix = _peak(device, "tf32") or fp32
    elif prec == "fp8":
        matrix = _peak(device, "fp8") or _peak(device, "bf16") or _peak(device, "fp16")
    else:
        matrix = _peak(device, prec) or _peak(device, "fp16" if prec == "bf16" else "bf16")
    attention = matrix if prec != "fp8" else (_peak(device, "bf16") or _peak(device, "fp16") or matrix)
    bw = float(_get(device, "mem_bandwidth_gbps") or 0.0) * 1e9
    if not (matrix > 0 and bw > 0):
        raise InputError(f"device {_get(device, 'id', '?')!r} has no {prec} (or fp32) peak or no memory "
                         f"bandwidth: the step-time model needs both")
    measured = str(_get(device, "basis", "") or "") == "measured"
    launch_us = _get(device, "launch_us")
    curve = ()
    getter = getattr(device, "gemm_tflops", None)
    cprec = {"fp16": "fp16", "bf16": "bf16", "fp8": "fp8", "tf32": "tf32"}.get(prec, "fp32")
    if callable(getter):
        pts = getter(cprec) or (getter("fp32") if cprec != "fp32" else ())
    else:
        raw = dict(_get(device, "gemm_curve", ()) or ())
        pts = raw.get(cprec) or raw.get("fp32") or ()
    if pts:
        curve = tuple((2.0 * float(n) ** 3, float(t) * 1e12) for n, t in pts)
    fault = _get(device, "fault_gbps")
    return DeviceFigures(str(_get(device, "id", "?")), kind, matrix, attention, fp32, bw, measured,
                         float(launch_us) * 1e-6 if launch_us else None, curve,
                         float(fault) * 1e9 if fault else None)


def step_precision(precision: str) -> str:
    p = str(precision).strip().lower()
    if p == "amp":
        p = "fp16"
    if p not in STEP_PRECISIONS:
        raise InputError(f"precision {precision!r} is not one of {', '.join(STEP_PRECISIONS)}"
                         f"{did_you_mean(p, STEP_PRECISIONS)} (fp16/bf16/fp8: mixed precision)")
    return p


# ----------------------------------------------------------------------------- features
@dataclass
class StepFeatures:
    """The parameter-free part of the model for one table at one device and precision: per
    costed row (FREE, inactive and optimizer rows dropped), seconds at a ceiling of 1 and bytes
    after the precision scale, by fusion family. `combine` turns them into a StepTime."""
    rows: np.ndarray            # index into the table of each kept row
    tensor_s: np.ndarray        # tensor-path compute seconds at ceiling 1 (inf: no tensor path)
    vector_s: np.ndarray        # vector-path compute seconds at ceiling 1 (inf: none)
    curve_s: np.ndarray         # compute seconds at the measured GEMM curve (nan: not measured)
    bytes_matrix: np.ndarray    # bytes of matrix rows (fusion.matrix)
    bytes_glue: np.ndarray      # bytes of glue rows (fusion.glue)
    bytes_attention: np.ndarray  # bytes of the score-matrix rows of attention backward
    bytes_other: np.ndarray     # bytes of the rest (gather, RNN state ...), as counted
    bytes_cast: np.ndarray      # fp8 only: bytes of the cast kernels before each GEMM (fusion.glue)
    out_bytes: np.ndarray       # bytes of the output one call of the row allocates (precision-scaled)
    kernels: np.ndarray         # launches per row (its repeat count)
    backward: np.ndarray        # bool: backward-phase rows (the all-reduce overlaps them)
    free: np.ndarray            # bool: views (no kernel; a dispatch on CPU only)
    device: DeviceFigures
    precision: str
    params: int                 # trainable parameters read off the optimizer rows (0: none)
    optimizer: str | None       # optimizer read off the optimizer rows


def _float_costs(costs):
    f = costs.flops.astype(np.float64)
    b = costs.bytes.astype(np.float64)
    for i, v in getattr(costs, "big", {}).items():
        f[i], b[i] = float(v[0]), float(v[2])
    return f, b


def _ceil_div(a, b):
    return np.ceil(a / b)


def _quantized_util(batch, m, n, k, tile_m, tile_n, tile_k, units):
    """Tile and wave quantization of a GEMM of `batch` (m × k)·(k × n) products, per kernel: the
    share of the tiles' work that is useful × the share of the last wave's compute units busy
    (NVIDIA, Matrix Multiplication Background User's Guide, 2023). Split-K (CUTLASS) spreads a
    small output grid over the K dimension when tiles < units."""
    m = np.maximum(m, 1.0)
    n = np.maximum(n, 1.0)
    k = np.maximum(k, 1.0)
    tm = _ceil_div(m, tile_m)
    tn = _ceil_div(n, tile_n)
    tile_util = (m * n) / (tm * tile_m * tn * tile_n)
    if not units:
        return tile_util
    tiles = np.maximum(batch, 1.0) * tm * tn
    split = np.clip(np.floor(units / tiles), 1.0, np.maximum(1.0, _ceil_div(k, tile_k)))
    work = tiles * split
    waves = _ceil_div(work, units)
    return tile_util * work / (waves * units)


def features(table, costs, device, *, precision: str, model: TimeModel | None = None) -> StepFeatures:
    """The parameter-free per-row figures of `table` (an OpTable) with its per-row `costs`
    (`flopest.kernel.evaluate(table, dims)`, or a Counts' own) on `device` at `precision`."""
    model = model or TimeModel.load()
    prec = step_precision(precision)
    dev = device_figures(device, prec)
    flops, nbytes = _float_costs(costs)
    kind = table.kind.astype(np.int64)
    phase = table.phase.astype(np.int64)
    # the parameters at the bound dims (a symbolic ONNX table holds 0 where a dim goes)
    p = costs.params if getattr(costs, "params", None) is not None else table.params
    active = np.asarray(costs.active, dtype=bool)
    rep = p[:, kinds.REPEAT].astype(np.float64)
    # FREE rows (views) launch nothing, but on a CPU each recorded operator pays its dispatch
    keep = active & (phase != kinds.OPTIMIZER) & (rep > 0) & ((flops > 0) | (nbytes > 0) | (kind == kinds.FREE))

    # trainable parameters and the optimizer, read off the optimizer rows (ops/optimizer.py)
    params, optimizer = 0, None
    opt_rows = np.flatnonzero(active & (phase == kinds.OPTIMIZER) & (kind == kinds.ELEMENTWISE))
    for i in opt_rows.tolist():
        name = table.ops[table.op[i]]
        if name.startswith("optimizer.") and not table.nodes[table.node[i]].endswith(".state"):
            optimizer = name[len("optimizer."):]
            params += int(p[i, 0]) * int(p[i, kinds.REPEAT])

    idx = np.flatnonzero(keep)
    k = kind[idx]
    f = flops[idx]
    b = nbytes[idx]
    r = rep[idx]
    pp = p[idx].astype(np.float64)
    # activations at the precision's element size: rows counted at 4 bytes (fp32 captures)
    scale = np.where((table.elsize[idx] == 4) & (table.outsize[idx] == 4), ACTIVATION_BYTES[prec] / 4.0, 1.0)
    b = b * scale

    # per-kernel GEMM dims of the matrix rows
    bm = np.zeros(len(idx))
    mm = np.ones(len(idx))
    nn = np.ones(len(idx))
    kk = np.ones(len(idx))
    g = k == kinds.GEMM
    bm[g], mm[g], nn[g], kk[g] = pp[g, 0], pp[g, 1], pp[g, 2], pp[g, 3]
    c = k == kinds.CONV
    if c.any():
        grp = np.maximum(pp[c, 3], 1.0)
        spatial = np.where(pp[c, 7] > 0, pp[c, 6], pp[c, 4])
        bm[c], mm[c], nn[c], kk[c] = grp, pp[c, 0] * spatial, pp[c, 2] / grp, pp[c, 1] / grp * pp[c, 5]
    a = k == kinds.ATTENTION   # flash tiles: query blocks × batch·heads; the head dim is not padded
    bm[a], mm[a], nn[a], kk[a] = pp[a, 0], pp[a, 1], model.tile_n, pp[a, 2]
    rn = k == kinds.RNN        # one small GEMM per step: batch × (gates·hidden), K = input + hidden
    bm[rn], mm[rn], nn[rn], kk[rn] = 1.0, pp[rn, 1], pp[rn, 4] * pp[rn, 3], pp[rn, 2] + pp[rn, 3]
    # one launch per recorded operator and repeat: an RNN row is one dispatched operator (cuDNN
    # and oneDNN loop over its steps inside it)
    kernels = r.copy()
    free = k == kinds.FREE

    matrix = np.isin(k, MATRIX_KINDS)
    if dev.kind == "tpu":
        edge = model.tile_tpu.get(dev.id, model.tile_tpu.get("tpu", model.tile_m))
        tm = tn = edge
        units = 0
    elif dev.kind == "cpu":
        tm = tn = 1
        units = 0
    else:
        tm, tn = model.tile_m, model.tile_n
        units = model.compute_units.get(dev.id, 0)
    util = np.ones(len(idx))
    if matrix.any():
        util[matrix] = _quantized_util(bm[matrix], mm[matrix], nn[matrix], kk[matrix], tm, tn,
                                       model.tile_k, units)
    util = np.clip(util, 1e-6, 1.0)
    tensor_peak = np.where(a, dev.attention_flops_per_s, dev.matrix_flops_per_s)
    no_tensor = prec == "fp32" or dev.kind == "cpu"
    inf = np.full(len(idx), np.inf)
    tensor_s = inf.copy()
    if not no_tensor:
        tensor_s[matrix] = f[matrix] / (tensor_peak[matrix] * util[matrix])
    vector_s = f / dev.vector_flops_per_s if dev.vector_flops_per_s > 0 else np.where(matrix, inf, 0.0)
    curve_s = np.full(len(idx), np.nan)
    if dev.gemm_curve:
        # the measured rate of the square GEMM with the same arithmetic intensity: an m·n·k product
        # moves ~ mk + kn + mn elements for 2mnk FLOPs, as a square one of side n_eq = 3 / (1/m +
        # 1/n + 1/k) (harmonic mean) does; attention: QKᵀ of q × kv × d
        mq, nq, kq = mm.copy(), nn.copy(), kk.copy()
        nq[a], kq[a] = pp[a, 2], pp[a, 3]
        n_eq = 3.0 / (1.0 / np.maximum(mq, 1.0) + 1.0 / np.maximum(nq, 1.0) + 1.0 / np.maximum(kq, 1.0))
        xs = np.log([x for x, _ in dev.gemm_curve])
        ys = np.log([y for _, y in dev.gemm_curve])
        rate = np.exp(np.interp(np.log(2.0 * n_eq ** 3), xs, ys))
        curve_s[matrix] = f[matrix] / rate[matrix]

    # fusion families
    glue = np.isin(k, GLUE_KINDS)
    att_bwd = _attention_backward(table, idx, k, pp, phase[idx], p)
    bytes_attention = np.where(att_bwd, b, 0.0)
    bytes_matrix = np.where(matrix & ~att_bwd, b, 0.0)
    bytes_glue = np.where(glue & ~att_bwd, b, 0.0)
    bytes_other = np.where(~matrix & ~glue & ~att_bwd, b, 0.0)
    # fp8: each GEMM input is cast to fp8 by a kernel of its own before the GEMM (amax + scale +
    # cast, Transformer Engine / torchao float8): 2 bytes read + 1 written per input element
    bytes_cast = np.zeros(len(idx))
    if prec == "fp8":
        cast = g & ~att_bwd
        bytes_cast[cast] = (pp[cast, 4] * pp[cast, 1] * pp[cast, 3] + pp[cast, 5] * pp[cast, 3] * pp[cast, 2]) \
            * 3.0 * r[cast]
    out_bytes = output_elements(k, pp) * table.outsize[idx].astype(np.float64) * scale
    return StepFeatures(idx, tensor_s, vector_s, curve_s, bytes_matrix, bytes_glue, bytes_attention,
                        bytes_other, bytes_cast, out_bytes, kernels, phase[idx] == kinds.BACKWARD, free, dev, prec,
                        params, optimizer)


def output_elements(kind: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Elements of the output one call of each row writes, from the kinds' parameter layouts
    (flopest/kinds.py LAYOUT); 0 for views and for an elementwise row fused into the previous one."""
    k = np.asarray(kind)
    out = np.zeros(len(k))
    g = k == kinds.GEMM
    out[g] = p[g, 0] * p[g, 1] * p[g, 2]                       # batch · m · n
    c = k == kinds.CONV
    out[c] = p[c, 0] * p[c, 2] * p[c, 4]                       # n · c_out · out_spatial
    a = k == kinds.ATTENTION
    out[a] = p[a, 0] * p[a, 1] * p[a, 4]                       # batch·heads · q · d_v
    e = k == kinds.ELEMENTWISE
    out[e] = np.where(p[e, 3] == 1, 0.0, p[e, 0])
    r = k == kinds.REDUCE
    out[r] = p[r, 1]
    for kk in (kinds.SOFTMAX, kinds.NORM, kinds.MOVE, kinds.POOL, kinds.GATHER):
        m = k == kk
        out[m] = p[m, 0]
    n = k == kinds.RNN
    out[n] = p[n, 0] * p[n, 1] * p[n, 3] * p[n, 5]              # seq · batch · hidden · directions
    return out


def _attention_backward(table, idx, k, pp, phase, params) -> np.ndarray:
    """Rows of an attention's backward that read or write its score matrix (the math backward a
    meta capture records: batched products and the softmax gradient over batch·heads × q × kv):
    a flash-attention backward keeps them on chip (Dao et al. 2022)."""
    out = np.zeros(len(idx), dtype=bool)
    att = np.flatnonzero(table.kind == kinds.ATTENTION)
    if not len(att):
        return out
    scores: dict = {}
    for i in att.tolist():
        q = params[i]
        s = float(q[0]) * float(q[1]) * float(q[2])
        mod = int(table.module[i])
        scores[mod] = max(scores.get(mod, 0.0), s)
    mods = table.module[idx].astype(np.int64)
    s = np.array([scores.get(int(m_), 0.0) for m_ in mods]) if len(idx) else np.zeros(0)
    cand = (phase == kinds.BACKWARD) & (s > 0)
    if not cand.any():
        return out
    g = k == kinds.GEMM
    prod_mn = pp[:, 0] * pp[:, 1] * pp[:, 2]
    prod_mk = pp[:, 0] * pp[:, 1] * pp[:, 3]
    prod_kn = pp[:, 0] * pp[:, 3] * pp[:, 2]
    big = 0.5 * s
    gemm_hit = g & ((prod_mn >= big) | (prod_mk >= big) | (prod_kn >= big))
    elems = np.where(np.isin(k, (kinds.ELEMENTWISE, kinds.SOFTMAX, kinds.MOVE, kinds.REDUCE)), pp[:, 0], 0.0)
    return cand & (gemm_hit | (elems >= big))


# ----------------------------------------------------------------------------- the step
@dataclass
class StepTime:
    """The time of one training step on one device (seconds), with its split. `row_time_s`
    holds each table row's time (0 for rows that cost nothing here; the optimizer and the
    communication are terms of their own)."""
    time_s: float
    compute_s: float            # rows whose compute time exceeds their memory time
    memory_s: float             # rows bound by memory
    launch_s: float             # time added by launch/dispatch costs
    optimizer_s: float
    communication_s: float      # exposed (not overlapped) communication
    communication_total_s: float
    kernels: int
    row_time_s: np.ndarray
    device: str
    precision: str
    n_devices: int
    params: int
    optimizer: str | None
    notes: list = field(default_factory=list)
    page_faults_s: float = 0.0  # CPU: first touch of outputs too large for the allocator to reuse

    def split(self) -> dict:
        """{part: seconds}: compute-bound, memory-bound, launch, optimizer, communication (and,
        on a CPU where it applies, page faults)."""
        out = {"compute_bound_s": self.compute_s, "memory_bound_s": self.memory_s,
               "launch_s": self.launch_s, "optimizer_s": self.optimizer_s,
               "communication_s": self.communication_s}
        if self.page_faults_s:
            out["page_faults_s"] = self.page_faults_s
        return out

    def top(self, table, n: int = 5, by: str = "op") -> list:
        """The n costliest operators (by="op") or modules (by="module") by time: rows
        {name, time_s, share}."""
        key = {"op": table.op, "module": table.module, "node": table.node}[by].astype(np.int64)
        names = {"op": table.ops, "module": table.modules, "node": table.nodes}[by]
        t = np.bincount(key, weights=self.row_time_s, minlength=len(names))
        order = np.argsort(-t)[:n]
        total = self.time_s or 1.0
        return [{"name": names[i] or "(top)", "time_s": float(t[i]), "share": float(t[i] / total)}
                for i in order if t[i] > 0]

    def to_dict(self) -> dict:
        return {"time_s": self.time_s, **self.split(), "communication_total_s": self.communication_total_s,
                "kernels": self.kernels, "device": self.device, "precision": self.precision,
                "n_devices": self.n_devices, "params": self.params, "optimizer": self.optimizer,
                "notes": list(self.notes)}


def combine(feats: StepFeatures, model: TimeModel | None = None, *, n_devices: int = 1,
            parallel: str = "ddp", params: int | None = None, optimizer: str | None = None,
            optimizer_shards: int | None = None, link_gbps: float | None = None,
            n_rows: int | None = None, inference: bool = False, graph_replay: bool = False) -> StepTime:
    """The step time of `feats` under `model` (see the module docstring for the formula);
    inference=True: the rows only (no optimizer step, no gradient communication); graph_replay:
    an accelerator replays the pass as one CUDA graph (launch.graph per kernel, not launch.accelerator)."""
    model = model or TimeModel.load()
    dev = feats.device
    notes = []
    if parallel not in PARALLEL:
        raise InputError(f"parallel {parallel!r} is not one of {', '.join(PARALLEL)}{did_you_mean(parallel, PARALLEL)}")
    nd = int(n_devices)
    if nd < 1:
        raise InputError(f"n_devices must be >= 1, got {n_devices!r}")
    # achievable rates: a probed device's figures are achieved already
    c_t = 1.0 if dev.measured else model.ceiling_tensor
    c_v = 1.0 if dev.measured else model.ceiling_vector
    bw = dev.bandwidth_bytes_per_s * (1.0 if dev.measured else model.bandwidth_fraction)
    compute = np.minimum(feats.tensor_s / c_t, feats.vector_s / c_v)
    if dev.gemm_curve:
        compute = np.where(np.isnan(feats.curve_s), compute, feats.curve_s)
    compute = np.where(np.isfinite(compute), compute, 0.0)
    memory = (feats.bytes_matrix * model.fusion_matrix + feats.bytes_glue * model.fusion_glue
              + feats.bytes_attention * model.fusion_attention + feats.bytes_other) / bw
    core = np.maximum(compute, memory)
    cast_s = feats.bytes_cast * model.fusion_glue / bw
    body = core + cast_s
    fault = np.zeros(len(body))
    if dev.kind == "cpu":
        launch = dev.launch_s if dev.launch_s is not None else model.launch_cpu_s
        # an output larger than the allocator's largest reused block is mapped afresh at every call
        # and its pages are faulted in as it is written, at the rate `flopest probe` measured on the
        # machine (fault_gbps); a datasheet row has none (the rate depends on the kernel, the threads
        # and the pages: not charged, said in the notes)
        rate = dev.fault_bytes_per_s if dev.measured else None
        if not rate and (feats.out_bytes > model.mmap_threshold_bytes).any():
            notes.append(f"outputs above {model.mmap_threshold_bytes / 2**20:.0f} MiB are mapped afresh at every "
                         f"step on a CPU; their page faults are not costed without a measured first-touch rate "
                         f"(flopest probe --output dev.csv, then --devices dev.csv)")
        if rate:
            big = feats.out_bytes > model.mmap_threshold_bytes
            fault[big] = feats.out_bytes[big] * feats.kernels[big] / rate
        t = body + feats.kernels * launch + fault
    else:
        launch = model.launch_graph_s if graph_replay else \
            dev.launch_s if dev.launch_s is not None else model.launch_accelerator_s
        t = np.maximum(body, np.where(feats.free, 0.0, feats.kernels) * launch)
    compute_bound = compute >= memory
    launch_part = float((t - body - fault).sum())
    compute_s = float(core[compute_bound].sum())
    memory_s = float(core[~compute_bound].sum() + cast_s.sum())
    rows_s = float(t.sum())

    # optimizer: a memory-bound pass over fp32 states
    p = int(params if params is not None else feats.params)
    opt = optimizer if optimizer is not None else feats.optimizer
    shards = int(optimizer_shards if optimizer_shards is not None else (nd if parallel == "fsdp" else 1))
    opt_s = 0.0
    if inference:
        pass
    elif p and opt:
        per = model.optimizer_bytes_per_param.get(opt)
        if per is None:
            raise InputError(f"optimizer {opt!r} has no bytes-per-parameter row in time_model.csv"
                             f"{did_you_mean(opt, model.optimizer_bytes_per_param)} (known: "
                             f"{', '.join(sorted(model.optimizer_bytes_per_param))})")
        opt_s = p / max(shards, 1) * per / bw
    elif not opt:
        notes.append("no optimizer step counted (capture with optimizer=... or pass optimizer=)")

    # data-parallel communication within a node, overlapped with the backward (FSDP: the whole pass)
    comm_total = exposed = 0.0
    if nd > 1 and p and not inference:
        link = (link_gbps if link_gbps is not None else
                model.link_gbps.get(dev.id, model.link_default_gbps)) * 1e9 * model.link_efficiency
        if parallel == "ddp":
            volume = 2.0 * (nd - 1) / nd * p * model.grad_bytes_per_param
            window = float(t[feats.backward].sum())
        else:
            volume = (nd - 1) / nd * p * (2 * FSDP_PARAM_BYTES + model.grad_bytes_per_param)
            window = rows_s
        comm_total = volume / link
        bucket = 2.0 * (nd - 1) / nd * min(model.bucket_bytes, p * model.grad_bytes_per_param) / link
        exposed = max(comm_total - window, bucket)
        if dev.id not in model.link_gbps and link_gbps is None:
            notes.append(f"no interconnect figure for {dev.id!r}: {model.link_default_gbps:g} GB/s per "
                         f"direction assumed (PCIe 4.0 x16)")
    elif nd > 1:
        notes.append("no trainable parameter count: the gradient all-reduce is not costed")

    total = rows_s + opt_s + exposed
    row_time = np.zeros(n_rows if n_rows is not None else (int(feats.rows.max()) + 1 if len(feats.rows) else 0))
    if len(feats.rows):
        row_time[feats.rows] = t
    return StepTime(total, compute_s, memory_s, launch_part, opt_s, exposed, comm_total,
                    int(feats.kernels[~feats.free].sum()), row_time, dev.id, feats.precision, nd, p, opt, notes,
                    float(fault.sum()))


def step_time(table, costs, device, *, precision: str, n_devices: int = 1, parallel: str = "ddp",
              params: int | None = None, optimizer: str | None = None, optimizer_shards: int | None = None,
              link_gbps: float | None = None, model: TimeModel | None = None) -> StepTime:
    """The time of one training step of `table` on one device, in seconds, with its split.

    table: an OpTable of one training pass (forward + backward, optimizer rows when captured
      with optimizer=...), e.g. `counts.table`;
    costs: its per-row FLOPs and bytes, `flopest.kernel.evaluate(table, dims)` (a Counts keeps
      its own: `counts.evaluate()._rc`);
    device: a device id, a `flopest.data.Device` or a mapping with the columns of devices.csv
      (a probed row: basis=measured, launch_us, gemm_curve);
    precision: fp32 | tf32 | fp16 | bf16 | fp8 (16/8 bits: mixed precision; "amp" = fp16);
    n_devices: data-parallel devices of one node (gradient all-reduce, ring); parallel: "ddp"
      (all-reduce after the backward) or "fsdp" (sharded: all-gathers and reduce-scatter,
      optimizer sharded n ways);
    params / optimizer: trainable parameters and optimizer (default: read off the optimizer rows);
    optimizer_shards: devices the optimizer state is sharded over (default 1, n for FSDP);
    link_gbps: GB/s per direction between devices (default: time_model.csv for the device);
    model: the parameters (default: flopest/data/time_model.csv).
    The step is that of the table's batch (per device); examples/s = batch / time_s."""
    model = model or TimeModel.load()
    feats = features(table, costs, device, precision=precision, model=model)
    return combine(feats, model, n_devices=n_devices, parallel=parallel, params=params, optimizer=optimizer,
                   optimizer_shards=optimizer_shards, link_gbps=link_gbps, n_rows=len(table))


def forward_time(table, costs, device, *, precision: str, model: TimeModel | None = None,
                 graph_replay: bool = False) -> StepTime:
    """The time of one inference pass of `table` (a forward, a prefill, a decode step) on one
    device: its rows under the same per-operator model as a training step, without an optimizer
    step or gradient communication (serving: flopest.impact.serving). graph_replay: the pass is
    replayed as one CUDA graph, as serving engines do with decode steps (launch.graph per kernel
    instead of the eager launch floor; CPUs dispatch in line whatever this says)."""
    model = model or TimeModel.load()
    feats = features(table, costs, device, precision=precision, model=model)
    return combine(feats, model, n_rows=len(table), inference=True, graph_replay=graph_replay)


def step_time_range(step, model: TimeModel | None = None) -> Uncertain:
    """p5 / p50 / p95 of the step time (s): the model's time (a StepTime or seconds) times the
    multipliers calibrated on the leave-one-device-out residuals of the throughput evidence
    (time_model.csv range.*; docs/methodology.md §11)."""
    model = model or TimeModel.load()
    t = float(step.time_s if hasattr(step, "time_s") else step)
    if not (t >= 0 and math.isfinite(t)):
        raise InputError(f"step time must be a finite number >= 0, got {t!r}")
    return Uncertain(t * model.range_p5, t * model.range_p50, t * model.range_p95, "s",
                     "per-operator step-time model (flopest/impact/steptime.py) × the p5/p50/p95 of "
                     "its leave-one-device-out errors on flopest/data/throughput_evidence.csv "
                     "(time_model.csv range.*)")


# ----------------------------------------------------------------------------- calibration
def range_multipliers(log_residuals, coverage: float = 0.90) -> tuple:
    """(p5, p50, p95) multipliers of time from out-of-sample log residuals
    ln(measured time / predicted time): exp of their split-conformal quantiles - the
    floor(α/2·(n+1))-th smallest and the ceil((1−α/2)·(n+1))-th smallest of the n residuals
    (α = 1 − coverage; Vovk et al. 2005, Barber et al. 2021), so that a new residual from the
    same distribution falls between them with probability >= coverage; p50 is the median."""
    r = np.sort(np.asarray(log_residuals, dtype=float))
    r = r[np.isfinite(r)]
    n = len(r)
    if n < 3:
        raise InputError(f"calibrating a range needs at least 3 out-of-sample residuals, got {n}")
    if not 0 < coverage < 1:
        raise InputError(f"coverage must be between 0 and 1, got {coverage!r}")
    a = (1.0 - coverage) / 2.0
    lo = r[min(n - 1, max(0, math.floor(a * (n + 1)) - 1))]
    hi = r[min(n - 1, max(0, math.ceil((1.0 - a) * (n + 1)) - 1))]
    return math.exp(lo), math.exp(float(np.median(r))), math.exp(hi)


def jackknife_intervals(pred_s, log_residuals, groups, coverage: float = 0.90) -> np.ndarray:
    """(len, 3) p5/p50/p95 times for held-out predictions `pred_s` (each from a model fitted
    without its group): the multipliers of each row come from the residuals of the *other*
    groups only (jackknife, Barber et al. 2021), so that a row's own error never sets its range."""
    pred = np.asarray(pred_s, dtype=float)
    res = np.asarray(log_residuals, dtype=float)
    grp = np.asarray(groups)
    out = np.empty((len(pred), 3))
    for gname in np.unique(grp):
        m = grp == gname
        others = res[~m]
        mult = range_multipliers(others, coverage)
        out[m] = pred[m, None] * np.array(mult)[None, :]
    return out
