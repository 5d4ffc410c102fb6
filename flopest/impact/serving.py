"""Serving: the impact of a deployment over time (latency, devices, energy, CO₂eq by scope,
water) from the per-request cost counted off the model, with p5/p50/p95.

The counted cost is a flopest.generation.GenerationCost (prefill + decode with a KV cache) or
ForwardCost (one forward pass per request). The time per batch, where the cost has a graph, is
the per-operator model of a training step (flopest.impact.steptime: one time model in the house)
applied to the prefill, to the decode steps captured at the batch and to the forward pass, with
the range of its out-of-sample errors; without a graph (a params count), or when the user fixes
mfu or mbu, it is the roofline with efficiency priors (flopest.impact.roofline). The fleet, its
power and its impacts are flopest.impact.fleet. Every
uncertain input is an :class:`Uncertain`, sampled with the one Monte-Carlo sampler of the house
(flopest.kernel.montecarlo); a value the user fixes collapses its range.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, replace

import numpy as np

from .. import data, kinds, models
from ..errors import InputError, ServingError
from ..generation import ForwardCost, GenerationCost, generation_cost_params
from ..units import format_quantity
from ..validate import error, fraction, positive, whole
from ..version import __version__
from . import fleet as _fleet
from .roofline import MBU_PRIOR, roofline
from .steptime import TimeModel, combine, features, step_precision
from .scenario import ELEMENT_BYTES, build_scenario, host_for
from .uncertain import DEFAULT_SAMPLES, DEFAULT_SEED, Uncertain, quantiles, sample

MODES = ("generate", "forward", "energy-per-request")


@dataclass
class ServingEstimate:
    """The impact of serving a model: per-request figures and fleet figures over the duration,
    each {p5, p50, p95}. ``to_dict()`` is the JSON document; ``metrics()`` the budget-able
    figures by name."""
    mode: str
    result: dict
    info: dict
    scenario: object = None
    cost: object = None
    assumptions_extra: list = field(default_factory=list)
    data_version: str = ""
    notes: list = field(default_factory=list)
    embodied: Uncertain | None = None    # per accelerator, as used (a user's server figure / its GPUs)
    op_model: bool = False               # the time is the per-operator model's (else the roofline's)

    def __getattr__(self, name):
        res = self.__dict__.get("result", {})
        if name in res:
            return res[name]
        raise AttributeError(name)

    @property
    def co2eq_kg_by_scope(self) -> dict:
        return {"scope2": self.result["scope2"], "scope3": self.result["scope3"]}

    METRICS = ("co2eq_kg", "co2eq_kg_per_month", "co2eq_kg_per_year", "co2eq_g_per_request",
               "energy_kwh", "energy_kwh_per_month", "energy_wh_per_request", "water_l", "accelerator_hours",
               "latency_s", "ttft_s", "tokens_per_s", "examples_per_s", "devices_needed", "breakeven_days")

    def metrics(self) -> dict:
        """{metric: {p5, p50, p95}}: the figures a budget can gate (latency_s, co2eq_kg_per_month,
        ...), only those this estimate has."""
        out = {k: dict(self.result[k]) for k in self.METRICS if self.result.get(k) is not None}
        out["co2eq_kg_scope2"] = dict(self.result["scope2"])
        out["co2eq_kg_scope3"] = dict(self.result["scope3"])
        return out

    def assumptions(self) -> list:
        rows = []
        if self.scenario is not None:
            skip = {"lifetime utilisation", "roofline factor (per-operator memory-bound time / compute time)",
                    "devices"}
            if self.op_model:                       # the per-operator model times the passes: no MFU prior
                skip |= {"MFU"}
            if self.mode == "energy-per-request":   # no device model: only what turns energy into impacts
                skip |= {"device", "TDP", "MFU", "average power / TDP", "host power per accelerator",
                         "power per accelerator, all-in"}
            for a in self.scenario.assumptions():
                if a["name"] in skip or (self.mode == "energy-per-request" and a["name"].startswith("peak ")):
                    continue
                if a["name"] == "MFU":
                    a = dict(a, name="MFU (compute-bound steps: prefill, large batches)")
                if a["name"].startswith("embodied emissions") and self.embodied is not None:
                    a = dict(a, value=self.embodied.value(), source=self.embodied.source)
                rows.append(a)
        return rows + list(self.assumptions_extra)

    def to_dict(self) -> dict:
        r = self.result
        d = {"kind": "serving", "mode": self.mode}
        d.update(self.info)
        for k in ("latency_s", "ttft_s", "tokens_per_s", "decode_tokens_per_s", "examples_per_s", "devices_needed",
                  "utilisation", "accelerator_hours", "time_s", "energy_kwh", "co2eq_kg", "water_l"):
            if r.get(k) is not None:
                d[k] = r[k]
        d["co2eq_kg_by_scope"] = self.co2eq_kg_by_scope
        for k in ("energy_kwh_per_month", "co2eq_kg_per_month", "co2eq_kg_per_year", "energy_wh_per_request",
                  "co2eq_g_per_request", "breakeven_days"):
            if r.get(k) is not None:
                d[k] = r[k]
        d.update({"assumptions": self.assumptions(), "data_version": self.data_version, "version": __version__,
                  "notes": list(self.notes) + (list(self.scenario.notes) if self.scenario is not None else []),
                  "method": "location-based scope 2; scope 3 = embodied share of the serving fleet by its time "
                            "in service / lifetime; offsets never subtracted; "
                            + ("per-operator time of the prefill and of each decode step (flopest.impact.steptime)"
                               if self.op_model else
                               "roofline time per request (decode bytes = weights + KV cache per step)")})
        return d


def training_co2(training) -> Uncertain | None:
    """A training footprint to break even against: an Estimate, its to_dict() / JSON file,
    or kg CO₂eq."""
    if training is None:
        return None
    src = "training estimate given"
    if hasattr(training, "to_dict"):
        training = training.to_dict()
    if isinstance(training, str):
        if os.path.isfile(training):
            try:
                with open(training, encoding="utf-8") as f:
                    training, src = json.load(f), f"training estimate {training}"
            except (OSError, ValueError) as exc:
                raise error(f"training {training!r}: not a readable JSON estimate ({exc})", "training") from None
        elif training.strip().lower().endswith(".json") or os.sep in training:
            raise error(f"training {training!r}: no such file (give the JSON of `flopest estimate --format json`, "
                        f"or a mass with its unit such as 500kg or 2t)", "training")
        else:   # text is a mass with its unit (a bare number would have to guess kg)
            from ..units import parse_mass
            try:
                training = parse_mass(training, "training")
            except InputError as exc:   # named by its keyword, so that the CLI names its flag
                raise error(str(exc), "training") from None
    if isinstance(training, dict):
        v = training.get("co2eq_kg")
        if not isinstance(v, dict) or not {"p5", "p50", "p95"} <= set(v):
            raise error("training: the estimate has no co2eq_kg {p5, p50, p95} (give an Estimate, its to_dict() "
                        "or the JSON of `flopest estimate --format json`, or kg CO2eq)", "training")
        return Uncertain(float(v["p5"]), float(v["p50"]), float(v["p95"]), "kg CO2eq", src)
    v = positive("training", training, allow_none=False)
    return Uncertain.fixed(v, "kg CO2eq", "training footprint given by the user")




def serve(model=None, *example_args, example_kwargs=None, prompt_tokens=None, output_tokens=None,
          requests_per_day=None, requests_per_hour=None, requests=None, users=None, requests_per_user=None,
          days=None, months=None, device: str = "h100-sxm", n_devices=None, servers=None, batch=None,
          max_latency_s=None, utilisation=None, region: str = "WORLD", datacenter=None, precision=None,
          host=None, pue=None, intensity=None, mfu=None, mbu=None, power_w=None, lifetime_years=None,
          server_embodied_kg=None, wh_per_request=None, params=None, layers=None, d_model=None, kv_dim=None,
          context=None, training=None, dims=None, seq_dim=None, past_dim=None,
          samples: int = DEFAULT_SAMPLES, seed: int = DEFAULT_SEED) -> ServingEstimate:
    """The impact of serving `model`, with p5/p50/p95 (SI units: s, kWh, kg CO₂eq, L).

    model: a transformers causal LM (with output_tokens: generation with a KV cache), any
    torch.nn.Module followed by its example inputs (`example_args`, and `example_kwargs` for
    keyword inputs: one forward per request), an .onnx path (a decoder taking past key/values
    with output_tokens, else one forward), "zoo:NAME", or a GenerationCost / ForwardCost
    already counted. None with params= (2·N per token) or wh_per_request= (measured IT energy
    per request).
    Load: requests_per_day, requests_per_hour, users × requests_per_user (per day), or requests
    (total over the duration). Duration: days or months (default 12 months).
    Fleet: computed from the latency per request at `batch` (or the largest batch meeting
    max_latency_s) and the target utilisation, or fixed with n_devices / servers.
    Time: with a graph, the per-operator model (flopest.impact.steptime) on the prefill, the
    decode steps and the forward pass counted at the batch, decode as a serving engine runs it
    (CUDA-graph replay, paged KV cache), × the model's out-of-sample error range; without a
    graph, with mfu / mbu given, or at int8 / fp8, the roofline with the MFU and MBU priors.
    Several devices per replica: ideal tensor parallelism, a lower bound on the time.
    training: a training estimate (Estimate, its JSON file or dict, or kg CO₂eq) to break even
    against: the days of serving that emit as much.
    """
    # ---- every value first (an error names its value), then how they combine
    ld = _fleet.load(requests_per_day, requests_per_hour, requests, users, requests_per_user, days, months)
    for flag, v in (("prompt_tokens", prompt_tokens), ("output_tokens", output_tokens), ("layers", layers),
                    ("d_model", d_model), ("kv_dim", kv_dim), ("context", context)):
        whole(flag, v, allow_none=True)
    positive("lifetime_years", lifetime_years, allow_none=True)
    if utilisation is not None and (n_devices is not None or servers is not None):
        raise error("utilisation sizes the fleet for the load; n_devices or servers give the fleet: remove one",
                    "utilisation", "n_devices" if n_devices is not None else "servers")
    util = fraction("utilisation", 1.0 if utilisation is None else utilisation)
    max_lat = positive("max_latency_s", max_latency_s, allow_none=True)
    b_given = whole("batch", batch, allow_none=True)
    train_u = training_co2(training)
    s = build_scenario(device, 1, region, datacenter, precision, host, mfu=mfu, pue=pue, intensity=intensity,
                       power_w=power_w, lifetime_years=lifetime_years)
    dev = data.device(s.device)
    fl = _fleet.fleet(dev, host_for(dev, host), n_devices, servers)
    us = _impact_inputs(s, fl, server_embodied_kg, train_u)
    if wh_per_request is not None:
        if model is not None or params is not None:
            raise error("wh_per_request replaces the model: give one of them", "wh_per_request")
        unread = [k for k, v in (("prompt_tokens", prompt_tokens), ("output_tokens", output_tokens),
                                 ("batch", batch), ("max_latency_s", max_latency_s), ("utilisation", utilisation),
                                 ("precision", precision), ("mfu", mfu), ("mbu", mbu), ("power_w", power_w),
                                 ("layers", layers), ("d_model", d_model), ("kv_dim", kv_dim), ("context", context),
                                 ("dims", dims or None), ("seq_dim", seq_dim), ("past_dim", past_dim),
                                 ("example_kwargs", example_kwargs or None), ("example_args", example_args or None))
                  if v is not None]
        if unread:   # the energy per request is given: nothing here times or sizes a model
            raise error(f"wh_per_request gives the energy of a request: {', '.join(unread)} would do nothing; "
                        f"remove them", "wh_per_request", *unread)
        return _per_request_energy(wh_per_request, s, fl, ld, us, server_embodied_kg, samples, seed)

    # ---- what the chosen model reads (a keyword it does not read is an error, never ignored)
    if params is not None:
        if model is not None:
            raise error("params replaces the model (2·N per token): give one of them", "params")
        extra = [k for k, v in (("dims", dims or None), ("seq_dim", seq_dim), ("past_dim", past_dim),
                                ("example_kwargs", example_kwargs or None), ("example_args", example_args or None))
                 if v is not None]
        if extra:
            raise error(f"{', '.join(extra)} describe a model's graph; params has none: remove them", *extra)
    elif model is not None and not isinstance(model, str) and output_tokens is None:
        extra = [k for k, v in (("context", context), ("kv_dim", kv_dim), ("layers", layers), ("d_model", d_model))
                 if v is not None]
        if extra:   # a module's forward per request: no KV cache, no architecture to give
            raise error(f"{', '.join(extra)} shape a --params decoder or a KV cache; a module served one forward "
                        f"per request reads its own shapes: remove them", *extra)

    # ---- the counted cost, the batch and the replica
    def cost_at(b):
        return _cost(model, example_args, example_kwargs, prompt_tokens, output_tokens, b, dims, seq_dim,
                     past_dim, context, params, layers, d_model, kv_dim)

    cost = cost_at(b_given or 1)
    mbu_u = Uncertain.fixed(fraction("mbu", mbu), "", "given by the user") if mbu is not None else MBU_PRIOR
    notes = list(cost.notes)
    ops = _op_model(cost, dev, s.precision, mfu, mbu, notes)
    n_notes = len(notes)
    try:
        B, cost, rl = _batch(cost, cost_at, dev, s.precision, b_given, max_lat, s.mfu, mbu_u, notes, ops)
        k, rl = _replica(cost, rl, dev, s.precision, B, fl.devices, notes)
        op_times = ops.times(cost, B, k) if ops else None
    except _NoTables as exc:   # the graph cannot be counted at the batch: the roofline scales it
        del notes[n_notes:]    # the notes of the abandoned attempt
        notes.append(f"{exc}: the time is the roofline with the MFU and MBU priors")
        ops, op_times = None, None
        B, cost, rl = _batch(cost, cost_at, dev, s.precision, b_given, max_lat, s.mfu, mbu_u, notes)
        k, rl = _replica(cost, rl, dev, s.precision, B, fl.devices, notes)
    if op_times is not None and op_times.interpolated:
        notes.append(f"decode: each step's time by the per-operator model at the {len(op_times.decode_step_s)} "
                     f"captured cache lengths, linear in between")

    # ---- Monte-Carlo: efficiencies (or the time model's error), power, impacts
    if op_times is not None:
        us["time_model"] = ops.error
    else:
        us.update({"mfu": s.mfu, "mbu": mbu_u})
    if s.power_w is None:
        us["power_frac"] = s.power_frac
        us["host_w"] = s.host_w
    v = sample(us, samples, seed)
    if op_times is not None:
        t_pf, t_dec = op_times.prefill_s * v["time_model"], op_times.decode_s * v["time_model"]
        # no sample faster than physics: the roofline at the datasheet's peak and bandwidth (every
        # weight and cached key read once a step) bounds the model's range from below
        pf_min, dec_min = rl.times(np.ones(1), np.ones(1))
        floored = (t_pf < pf_min[0]) | (t_dec < dec_min[0])
        t_pf, t_dec = np.maximum(t_pf, pf_min[0]), np.maximum(t_dec, dec_min[0])
        if floored.mean() > 0.05:
            notes.append(f"in {floored.mean():.0%} of the samples the per-operator model's range went below the "
                         f"roofline at 100 % of the datasheet peak and bandwidth: those samples take the roofline")
    else:
        t_pf, t_dec = rl.times(v["mfu"], v["mbu"])
    lat = t_pf + t_dec
    if not np.all(lat > 0):
        raise ServingError(f"{cost.source or 'the model'} takes no time to serve on {dev.id}: its counted pass "
                           f"does no arithmetic and moves no data (views only?); nothing to estimate")
    if max_lat is not None and np.median(lat) > max_lat * 1.001:
        notes.append(f"the p50 latency, {format_quantity(float(np.median(lat)), 's')}, is above --max-latency "
                     f"{format_quantity(max_lat, 's')}: the batch was chosen on a smaller draw of the same model")
    cap = B / lat                                         # requests/s per replica
    lam = ld.per_second
    served = ld.total_requests
    if fl.devices is not None:
        replicas = np.full(samples, float(fl.devices // k))
        devices = np.full(samples, float(fl.devices))
        over = lam > replicas * cap
        if over.mean() > 0.05:   # in more than the range's 5 %: said, and the figures per request served
            notes.append(f"the fleet of {fl.devices} cannot carry the load in {over.mean():.0%} of the samples "
                         f"(p50 {lam:.3g} requests/s against a capacity of {np.median(replicas * cap):.3g}): it is "
                         f"busy 100 % there, and the figures per request are per request it serves")
        served = np.minimum(lam, replicas * cap) * ld.hours * 3600.0
    else:
        replicas = np.maximum(1.0, np.ceil(lam / (cap * util) - 1e-9))
        devices = replicas * k
    busy_dev = np.minimum(1.0, lam / (replicas * cap)) * replicas * k / devices
    e_it = devices * ld.hours * _fleet.device_power_w(dev, busy_dev, v, s.power_w) / 1000.0
    res = _fleet.impacts(v, e_it, devices, ld.hours, served, train_u is not None)
    res.update(_performance(cost, rl, B, k, lat, t_pf, t_dec, devices, busy_dev, ld.hours))
    info = _info(cost, rl, dev, s.precision, B, k, ld, util, fl.devices)
    info["time_model"] = op_times.to_dict() if op_times is not None else {"model": "roofline"}
    extra = _serving_assumptions(mbu_u if op_times is None else None, B, b_given, max_lat, s, dev, util,
                                 ops.error if op_times is not None else None)
    if op_times is not None and isinstance(cost, GenerationCost):
        n_paged = ops.paged_rows.get((id(cost), B, k), 0)
        extra.append({"name": "KV cache per decode step", "value": "paged append", "unit": "",
                      "source": ("serving engines write the new token's keys and values into pages (vLLM PagedAttention, "
                                 "TensorRT-LLM, SGLang), read once by attention with the scores on chip: "
                                 + (f"the {n_paged} copy operators of the captured cache (concatenation, transposes) "
                                    f"whose bytes grow with its length keep only their length-independent part; "
                                    if n_paged else "no copy of the whole cache found in the decode steps; ")
                                 + "the attention's reads of the cache are at most the cache (KV cache elements per "
                                   "token × batch), grouped KV heads read once")})
    extra += _fleet.assumptions(fl, server_embodied_kg)
    if s.power_w is not None:
        extra.append({"name": "power per device, all-in, whatever the load", "value": s.power_w, "unit": "W",
                      "source": "given by the user"})
    return ServingEstimate(("generate" if isinstance(cost, GenerationCost) else "forward"), res, info, s, cost,
                           extra, data.DATA_VERSION, notes, us["embodied"], op_times is not None)


# ----------------------------------------------------------------------------- the time model
@dataclass
class OpTimes:
    """Seconds per batch on one replica from the per-operator model (before its error's range):
    the prefill (or the forward pass) and the decode steps, with the model's split."""
    prefill_s: float
    decode_s: float
    decode_step_s: dict            # {cache length: s} at the captured positions
    split: dict                    # {"prefill" | "decode": StepTime.split()} (decode: first position)
    top: list                      # costliest operators by time of one request's batch
    interpolated: bool

    def to_dict(self) -> dict:
        return {"model": "per-operator", "prefill_s": self.prefill_s, "decode_s": self.decode_s,
                "decode_step_s": {str(p): t for p, t in self.decode_step_s.items()}, "split": self.split,
                "top_by_time": self.top}


class _NoTables(Exception):
    """The counted graph cannot be had at the batch asked (an ONNX decoder without a symbolic
    batch dim): the per-operator model does not apply."""


class _OpModel:
    """The per-operator time of a counted cost at a batch, on `devices` devices of one replica
    (the rows' time divided by the replica's devices: tensor parallel, its communication not
    counted, as the roofline)."""

    def __init__(self, device, precision: str):
        self.device = device
        self.precision = precision
        self.model = TimeModel.load()
        m = self.model
        self.error = Uncertain(m.range_p5, m.range_p50, m.range_p95, "",
                               "× the p5/p50/p95 of the per-operator model's leave-one-device-out errors on measured "
                               "training throughput (flopest/data/throughput_evidence.csv, time_model.csv range.*): "
                               "an inference pass is timed by the same model; its errors on inference were not "
                               "calibrated apart")
        self._cache: dict = {}
        self.paged_rows: dict = {}       # (cost, batch, devices) -> copy rows replaced by a paged append

    def _time(self, counts, graph_replay: bool = False, costs=None, paged_rows=None):
        rc = costs if costs is not None else counts.evaluate()._rc
        feats = features(counts.table, rc, self.device, precision=self.precision, model=self.model)
        if paged_rows is not None and paged_rows.any():
            # a paged cache allocates nothing per step: no page faults for the copies it replaces
            feats.out_bytes[paged_rows[feats.rows]] = 0.0
        return combine(feats, self.model, n_rows=len(counts.table), inference=True, graph_replay=graph_replay)

    @staticmethod
    def _paged(decode: dict, batch: int = 1, kv_elements_per_token: int = 0) -> tuple:
        """({cache length: RowCosts}, rows adjusted): the decode steps' costs with the eager KV cache's
        copies replaced by a paged cache's append. An eager cache (transformers' DynamicCache, an ONNX
        export's Concat of past and new, the transpose of the whole K before q·kᵀ) copies the cache at
        every step: copy rows whose bytes grow with the cache length. Serving engines write the new
        token's keys and values into pages that the attention kernel reads in place (vLLM's
        PagedAttention, TensorRT-LLM, SGLang): such a row keeps its part independent of the length,
        bytes(p) − slope × p, the slope read off the first and last captured steps. The attention's
        reads of the cache (matrix rows whose bytes grow with the length) are bounded by the cache
        itself, `batch` × `kv_elements_per_token` elements a cached token: an eager graph that expands
        grouped KV heads to every query head (transformers' repeat_kv) reads them once per query head,
        an engine's attention kernel once, and the scores stay on chip (flash decoding).
        Returns ({cache length: RowCosts}, copy rows replaced, bool mask of those rows)."""
        items = sorted(decode.items())
        costs = {p: c.evaluate()._rc for p, c in items}
        none = np.zeros(len(items[0][1].table) if items else 0, dtype=bool)
        if len(items) < 2:
            return costs, 0, none
        (p0, c0), (p1, c1) = items[0], items[-1]
        t0, t1 = c0.table, c1.table
        if len(t0) != len(t1) or not (np.array_equal(t0.kind, t1.kind) and np.array_equal(t0.op, t1.op)):
            return costs, 0, none
        b0 = costs[p0].bytes.astype(np.float64)
        slope = (costs[p1].bytes.astype(np.float64) - b0) / float(p1 - p0)
        grow = (t0.kind == kinds.MOVE) & (slope > 0)
        reads = np.isin(t0.kind, (kinds.GEMM, kinds.ATTENTION)) & (slope > 0)
        keep = np.ones(len(t0))                      # share of each row's growing part that is kept
        keep[grow] = 0.0
        if reads.any() and kv_elements_per_token:
            cache = float(batch) * kv_elements_per_token * float(np.max(t0.elsize[reads]))
            keep[reads] = min(1.0, cache / float(slope[reads].sum()))
        if not (keep < 1).any():
            return costs, 0, none
        out = {}
        for p, rc in costs.items():
            b = rc.bytes.copy()
            cut = keep < 1
            b[cut] = np.maximum(0, np.round(b[cut] - (1.0 - keep[cut]) * slope[cut] * p)).astype(b.dtype)
            out[p] = replace(rc, bytes=b)
        return out, int(grow.sum()), grow

    def times(self, cost, batch: int, devices: int) -> OpTimes:
        key = (id(cost), batch, devices)
        if key in self._cache:
            return self._cache[key]
        k = float(devices)
        if isinstance(cost, ForwardCost):
            st = self._time(cost.counts)
            out = OpTimes(st.time_s / k, 0.0, {}, {"forward": st.split()}, st.top(cost.counts.table, 5), False)
        else:
            try:
                pt = cost.tables(batch)
            except InputError as exc:
                raise _NoTables(str(exc)) from None
            pre = self._time(pt.prefill)
            # decode steps replayed as CUDA graphs, as serving engines do (time_model.csv launch.graph),
            # with a paged KV cache (the new token written, the cache not copied)
            paged, n_paged, mask = self._paged(pt.decode, batch, cost.kv_elements_per_token)
            self.paged_rows[key] = n_paged
            steps = {p: self._time(c, graph_replay=True, costs=paged[p], paged_rows=mask)
                     for p, c in sorted(pt.decode.items())}
            lo, hi = cost.positions
            dec = 0.0
            if steps and hi >= lo:
                xs = np.array(list(steps), float)
                ys = np.array([st.time_s for st in steps.values()])
                # the step times at the captured cache lengths, linear between them (each row's
                # time is a maximum of terms affine in the length: exact at the captured ones)
                dec = float(np.interp(np.arange(lo, hi + 1, dtype=float), xs, ys).sum()) if len(xs) > 1 \
                    else float(ys[0]) * (hi - lo + 1)
            first = next(iter(steps.values()), None)
            split = {"prefill": pre.split()}
            if first is not None:
                split["decode"] = first.split()
            top = first.top(pt.decode[min(pt.decode)].table, 5) if first is not None else \
                pre.top(pt.prefill.table, 5)
            out = OpTimes(pre.time_s / k, dec / k, {p: st.time_s / k for p, st in steps.items()}, split, top,
                          len(steps) < (hi - lo + 1))
        self._cache[key] = out
        return out

    def p50_latency(self, cost, batch: int, devices: int) -> float:
        t = self.times(cost, batch, devices)
        return (t.prefill_s + t.decode_s) * self.model.range_p50


def _op_model(cost, dev, precision, mfu, mbu, notes) -> _OpModel | None:
    """The per-operator model for `cost`, or None (the roofline) with the reason in notes."""
    has_graph = (cost.tables is not None) if isinstance(cost, GenerationCost) else cost.counts is not None
    if not has_graph:
        return None
    if mfu is not None or mbu is not None:
        notes.append("mfu / mbu given: the time is the roofline at those efficiencies, not the per-operator model")
        return None
    try:
        prec = step_precision(precision)
    except InputError:
        notes.append(f"the per-operator time model does not know precision {precision!r}: the time is the "
                     f"roofline with the MFU and MBU priors")
        return None
    if prec == "fp8":   # the step model's fp8 is mixed-precision training (16-bit weights, casts per GEMM)
        notes.append("fp8 serving (1-byte weights) is not what the per-operator model's fp8 describes (mixed-precision "
                     "training: 16-bit weights cast at every GEMM): the time is the roofline with the MFU and MBU "
                     "priors")
        return None
    return _OpModel(dev, prec)


def _impact_inputs(s, fl, server_embodied_kg, train_u) -> dict:
    """The uncertain inputs that turn energy and devices into impacts, by name (sample order)."""
    us = {"pue": s.pue, "intensity": s.intensity_g_per_kwh, "lifetime": s.lifetime_years,
          "wue": s.wue_l_per_kwh, "water_elec": s.water_elec_l_per_kwh}
    if server_embodied_kg is not None:
        emb_srv = positive("server_embodied_kg", server_embodied_kg)
        us["embodied"] = Uncertain.fixed(emb_srv / fl.per_server, "kg CO2eq",
                                         f"given by the user: {emb_srv:g} kg per server / {fl.per_server} "
                                         f"accelerators")
    else:
        us["embodied"] = s.embodied_kg
    if train_u is not None:
        us["training"] = train_u
    return us


def _per_request_energy(wh_per_request, s, fl, ld, us, server_embodied_kg, samples, seed) -> ServingEstimate:
    """A posteriori: the IT energy per request is given (no model, no device model)."""
    wh = positive("wh_per_request", wh_per_request)
    us["wh"] = Uncertain.fixed(wh, "Wh", "given by the user (IT energy per request, before PUE)")
    v = sample(us, samples, seed)
    e_it = np.full(samples, wh * ld.total_requests / 1000.0)
    notes = []
    if fl.devices is None:
        devices = None
        notes.append("no fleet given (--servers or --devices): scope 3 (embodied) not counted")
    else:
        devices = np.full(samples, float(fl.devices))
    info = {"requests": ld.total_requests, "requests_per_day": ld.per_day, "duration_days": ld.hours / 24.0,
            "wh_per_request_it": wh, "servers": fl.servers, "devices": fl.devices}
    res = _fleet.impacts(v, e_it, devices, ld.hours, ld.total_requests, "training" in us)
    if devices is not None:
        res["accelerator_hours"] = quantiles(devices * ld.hours)
    extra = [{"name": "IT energy per request", "value": wh, "unit": "Wh", "source": "given by the user (before PUE)"}]
    extra += _fleet.assumptions(fl, server_embodied_kg)
    return ServingEstimate("energy-per-request", res, info, s, None, extra, data.DATA_VERSION, notes, us["embodied"])


def _cost(model, args, kwargs, prompt_tokens, output_tokens, batch, dims, seq_dim, past_dim, context, params,
          layers, d_model, kv_dim):
    """The counted cost of one request (GenerationCost) or of one batch (ForwardCost)."""
    if params is not None:
        if model is not None:
            raise error("params replaces the model: give one of them", "params")
        return generation_cost_params(params, prompt_tokens, output_tokens, layers, d_model, kv_dim, context)
    if model is None:
        raise error("give a model, params (2·N FLOPs per token) or wh_per_request", "params", "wh_per_request")
    if isinstance(model, (GenerationCost, ForwardCost)):
        if isinstance(model, GenerationCost) and output_tokens is not None and (
                model.prompt_tokens, model.output_tokens) != (whole("prompt_tokens", prompt_tokens),
                                                              whole("output_tokens", output_tokens)):
            raise InputError("the GenerationCost was counted for other token counts: count it again")
        return model
    return models.serving_cost(model, args, kwargs, prompt_tokens, output_tokens, batch, dims, seq_dim, past_dim, context)


def _batch(cost, cost_at, dev, prec, b_given, max_lat, mfu_u, mbu_u, notes, ops=None):
    """(batch, cost at that batch, its roofline): the batch given, or the largest power of 2 up
    to 1024 meeting max_lat at p50 on the same replica size, else 1. The latency is the
    per-operator model's (`ops`) where it applies, else the roofline's."""
    generative = isinstance(cost, GenerationCost)
    at = {}

    def rl_at(b):
        c = cost if generative or cost.batch == b else cost_at(b)
        r = roofline(c, dev, b, prec)
        at[id(r)] = c
        return c, r

    draws = sample({"mfu": mfu_u, "mbu": mbu_u}, 4001, DEFAULT_SEED) if ops is None else None

    def p50_latency(rl):
        if ops is not None:
            return ops.p50_latency(at[id(rl)], rl.batch, rl.devices_per_replica)
        # the median of the latency's samples, as reported (not the latency at the median
        # efficiencies: the max of compute and memory time moves the median, by up to ~8 %)
        t_pf, t_dec = rl.times(draws["mfu"], draws["mbu"])
        return float(np.median(t_pf + t_dec))

    if b_given is not None:
        cost, rl = rl_at(b_given)
        if max_lat is not None and p50_latency(rl) > max_lat:
            notes.append(f"--max-latency {format_quantity(max_lat, 's')} is not met at batch {b_given}: p50 latency "
                         f"{format_quantity(p50_latency(rl), 's')}")
        return b_given, cost, rl
    B = 1
    cost, rl = rl_at(1)
    if max_lat is None:
        return B, cost, rl
    if p50_latency(rl) > max_lat:
        notes.append(f"--max-latency {format_quantity(max_lat, 's')} is not met even at batch 1 (p50 latency "
                     f"{format_quantity(p50_latency(rl), 's')}): pick a faster --device or a smaller model")
        return B, cost, rl
    b = 2
    while b <= 1024:   # the largest power of 2 that meets the target on the same replica size
        c_b, cand = rl_at(b)
        if cand.devices_per_replica > rl.devices_per_replica or p50_latency(cand) > max_lat:
            break
        B, cost, rl = b, c_b, cand
        b *= 2
    return B, cost, rl


def _replica(cost, rl, dev, prec, B, fleet_fixed, notes):
    """(devices per replica, roofline): the fewest that hold the weights and KV cache, or a fixed
    fleet's devices spread over its replicas."""
    k = k_min = rl.devices_per_replica
    if fleet_fixed is not None and fleet_fixed > k:
        k_all = fleet_fixed // (fleet_fixed // k)      # a fixed fleet: its devices spread over its replicas
        if k_all != k:
            rl = roofline(cost, dev, B, prec, devices_per_replica=k_all)
            k = k_all
    if fleet_fixed is not None and fleet_fixed < k:
        raise error(f"n_devices {fleet_fixed}: one replica of the model needs {k} × {dev.id} "
                    f"({rl.memory_needed_bytes / 1e9:,.1f} GB of weights and KV cache at batch {B}); "
                    f"give at least {k}", "n_devices")
    if k > 1:
        notes.append(f"one replica spans {k} × {dev.id} ({rl.memory_needed_bytes / 1e9:,.1f} GB of weights and KV "
                     f"cache at batch {B} need {k_min}): tensor parallel taken as ideal, communication not counted: "
                     f"a lower bound on the time (Llama-2-7B on 2-8 GPUs measured 1.5-6x slower, docs/serving.md)")
    return k, rl


def _performance(cost, rl, B, k, lat, t_pf, t_dec, devices, busy_dev, hours) -> dict:
    """Latency, throughput and fleet figures, {p5, p50, p95} each."""
    res = {"latency_s": quantiles(lat)}
    generative = isinstance(cost, GenerationCost)
    if generative:
        res["ttft_s"] = quantiles(t_pf)
    res["devices_needed"] = quantiles(devices, integer=True)
    res["utilisation"] = quantiles(busy_dev)
    res["accelerator_hours"] = quantiles(devices * hours)
    if generative:
        O = cost.output_tokens
        res["tokens_per_s"] = quantiles(B * O / lat / k)
        if O > 1:
            res["decode_tokens_per_s"] = quantiles(B * (O - 1) / t_dec / k)
    else:
        res["tokens_per_s"] = None
        res["examples_per_s"] = quantiles(B / lat / k)
    return res


def _info(cost, rl, dev, prec, B, k, ld, util, fleet_fixed) -> dict:
    """The deterministic facts of the estimate (the JSON document's top level)."""
    total = ld.total_requests
    info = {"model": cost.source, "frontend": cost.frontend, "device": dev.id, "precision": prec, "batch": B,
            "devices_per_replica": k, "requests": total, "requests_per_day": ld.per_day,
            "duration_days": ld.hours / 24.0, "utilisation_target": util}
    if fleet_fixed is not None:
        info["devices"] = fleet_fixed
    if isinstance(cost, GenerationCost):
        info.update(cost.to_dict())
        info["flops"] = _times(cost.prefill_flops + cost.decode_flops_total, total)
        info["bytes_per_request"] = {"prefill": rl.bytes_prefill / B, "decode": rl.bytes_decode / B}
        info["weight_bytes"] = rl.weight_bytes
        info["kv_cache_bytes_per_token"] = rl.kv_bytes_per_token
        info["flops_per_token"] = {"prefill": cost.prefill_flops / cost.prompt_tokens,
                                   "decode": cost.decode_flops_total / max(1, cost.decode_steps)}
    else:
        info.update({"flops_per_request": {"forward": _per(cost.flops, B)},
                     "graph_bytes_per_request": {"forward": _per(cost.graph_bytes, B)}, "params": cost.params,
                     "flops": _times(cost.flops, total) // B})
    return info


def _serving_assumptions(mbu_u, B, b_given, max_lat, s, dev, util, error_u=None) -> list:
    bpe = ELEMENT_BYTES[s.precision]
    if error_u is not None:
        first = [{"name": "time per batch", "value": "per-operator model", "unit": "",
                  "source": "flopest/impact/steptime.py on the counted prefill, decode steps or forward pass at the "
                            "batch: achievable compute and bandwidth per operator, fusion, launch cost "
                            "(time_model.csv); decode steps replayed as CUDA graphs, as serving engines do "
                            "(launch.graph)"},
                 {"name": "time-model error (multiplier of the time)", "value": error_u.value(), "unit": "",
                  "source": error_u.source}]
    else:
        first = [{"name": "memory-bandwidth utilisation (MBU), memory-bound steps", "value": mbu_u.value(),
                  "unit": "", "source": mbu_u.source}]
    rows = first + [
            {"name": "batch (static batching: a batch starts and ends together)", "value": B, "unit": "",
             "source": "given" if b_given else ("largest power of 2 meeting --max-latency at p50" if max_lat
                                                else "default")},
            {"name": "bytes per weight and KV element", "value": bpe, "unit": "B",
             "source": f"{s.precision} storage width"},
            {"name": "memory traffic per decode step", "value": "weights + KV cache", "unit": "",
             "source": "roofline: weights read once per step for the whole batch, each sequence reads its "
                       "KV cache; activations stay on chip (fused kernels)"},
            {"name": "idle power per device", "value": dev.idle_w, "unit": "W", "source": s.device_source},
            {"name": "target fleet utilisation", "value": util, "unit": "",
             "source": "given" if util != 1.0 else "1: the smallest fleet that carries the average load "
                                                  "(no headroom for peaks)"}]
    if error_u is not None:   # the per-operator model reads each operator's bytes off the graph
        rows = [r for r in rows if r["name"] != "memory traffic per decode step"]
    return rows


def _times(n: int, x: float) -> int:
    """n × x as an exact int when x is a whole number (totals never lose digits), else rounded."""
    return n * int(x) if float(x).is_integer() else round(n * x)


def _per(n: int, b: int):
    return n // b if n % b == 0 else n / b
