"""Time, energy, CO₂eq by scope and water of a workload on a device, region and data centre,
with p5/p50/p95 from a seeded Monte-Carlo over the uncertain inputs (METHOD.md §2-4).

    time      = FLOPs / (devices × dense peak at the precision × MFU), where a graph's MFU is the
                one its per-operator step-time model implies (steptime.py; the range from its
                out-of-sample errors), a measured step time or throughput replaces it, and a plan
                without a graph takes the MFU prior
    energy    = accelerator-hours × (TDP × power fraction + host W per accelerator) × PUE
                (a user-given --power-w is the all-in draw per accelerator: only PUE is added)
    scope 2   = energy × grid intensity (location-based)
    scope 3   = embodied (accelerator + its share of the host) × use hours
                / (lifetime hours × lifetime utilisation)
    water     = IT energy × on-site WUE + energy × water of electricity generation

A posteriori (accelerator-hours given): the time comes from the hours, not from FLOPs.
Every input is an `Uncertain` (p5, p50, p95, unit, source); a value the user fixes collapses
its range. Offsets are never subtracted.
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass, field

import numpy as np

from .. import data, kinds, views
from ..errors import InputError
from ..validate import error, flag, positive, whole
from ..kernel import load
from ..version import __version__
from .scenario import Scenario, build_scenario
from .uncertain import BOUNDS, DEFAULT_SAMPLES, DEFAULT_SEED, Uncertain, quantiles_of, sample
from .workload import Workload, from_counts, from_params

OUTPUTS = ("time_s", "accelerator_hours", "energy_kwh", "scope2", "scope3", "water_l")
# the kernel's further rows (kernel/_mc.py NOUT): energy and scope 2 of the accelerators alone and
# of the IT equipment, for the estimate's boundaries (flopest.impact.boundary)
BOUNDARY_ROWS = ("energy_acc_kwh", "energy_it_kwh", "scope2_acc", "scope2_it")


def inputs(s: Scenario) -> dict:
    """The uncertain inputs of the training model by name, in the kernel's order (kernel/_mc.py)."""
    return {"mfu": s.mfu, "power_frac": s.power_frac, "host_w": s.host_w, "pue": s.pue,
            "intensity": s.intensity_g_per_kwh, "lifetime": s.lifetime_years,
            "lifetime_utilisation": s.lifetime_utilisation, "embodied": s.embodied_kg, "wue": s.wue_l_per_kwh,
            "water_elec": s.water_elec_l_per_kwh, "roofline": s.roofline}


def draws(s: Scenario, samples: int = DEFAULT_SAMPLES, seed: int = DEFAULT_SEED, aligned: bool = False) -> np.ndarray:
    """(NQ, samples) draws of the training inputs, physical bounds applied (MFU <= 1, PUE >= 1, ...);
    aligned: each input on its own column of normals (the phases of a plan: one draw of every
    shared input, whichever inputs a phase fixes)."""
    v = sample(inputs(s), samples, seed, BOUNDS, aligned=aligned)
    return np.array(list(v.values()))


def simulate(s: Scenario, flops: float = 0.0, accelerator_hours: float | None = None,
             samples: int = DEFAULT_SAMPLES, seed: int = DEFAULT_SEED, price: Uncertain | None = None,
             keep: list | None = None) -> dict:
    """{output: {p5, p50, p95}} for the outputs in OUTPUTS, plus co2eq_kg (scope 2 + 3 per sample),
    the figures by boundary (energy_j_* and co2eq_kg_*: flopest.impact.boundary) and, with a price
    per accelerator-hour (USD), cost_usd. `keep`: a list the per-sample rows are appended to (the
    phases of a plan sum them sample by sample)."""
    v = draws(s, samples, seed, aligned=keep is not None)
    out = np.empty((len(OUTPUTS) + len(BOUNDARY_ROWS), samples))
    load("_mc").impacts(v, float(flops), float(s.n_devices), float(s.peak_flops), float(s.tdp_w),
                        float(s.power_w or 0.0), float(accelerator_hours or 0.0), out)
    del v
    if keep is not None:
        keep.append(out)
    return summarise(out, samples, seed, price)


def summarise(out: np.ndarray, samples: int, seed: int, price: Uncertain | None) -> dict:
    """The figures of `simulate` from its per-sample rows."""
    from .boundary import by_boundary
    from .cost import cost_usd
    res = quantiles_of({**dict(zip(OUTPUTS, out)), "co2eq_kg": out[3] + out[4]})
    res.update(by_boundary(dict(zip(OUTPUTS + BOUNDARY_ROWS, out))))
    if price is not None:
        res["cost_usd"] = cost_usd(price, out[1], samples, seed)
    return res


@dataclass
class Estimate:
    """The impact of a plan: every figure with p5/p50/p95, by scope, with its assumptions."""
    flops: int
    result: dict
    scenario: Scenario
    workload: object = None
    data_version: str = ""
    notes: list = field(default_factory=list)
    top: list = field(default_factory=list)   # largest modules (PyTorch) or operators (ONNX) per pass
    unknown_ops: dict = field(default_factory=dict)   # {op: nodes} the count could not cost
    coverage: float | None = None                     # share of nodes costed; None without a graph
    step: dict | None = None                          # the step-time model's figures (a graph's plan)
    memory: dict | None = None                        # bytes per device by term, and the fit verdict
    model: str | None = None                          # what was counted (the count's source), for reports
    price: Uncertain | None = None                    # USD per accelerator-hour (None: no price known)
    goodput: dict | None = None                       # the run's goodput and its terms (impact.goodput)
    phases: list | None = None                        # a multi-phase plan's phases (estimate_phases)

    @property
    def energy_kwh(self) -> dict:
        return self.result["energy_kwh"]

    @property
    def co2eq_kg(self) -> dict:
        return self.result["co2eq_kg"]

    @property
    def time_s(self) -> dict:
        return self.result["time_s"]

    @property
    def accelerator_hours(self) -> dict:
        return self.result["accelerator_hours"]

    @property
    def water_l(self) -> dict:
        return self.result["water_l"]

    @property
    def co2eq_kg_by_scope(self) -> dict:
        return {"scope2": self.result["scope2"], "scope3": self.result["scope3"]}

    @property
    def by_boundary(self) -> dict:
        """{accelerators, host, facility, embodied: {energy_j, co2eq_kg}} (flopest.impact.boundary)."""
        from .boundary import nested
        return nested(self.result)

    @property
    def cost_usd(self) -> dict | None:
        """{p5, p50, p95} of accelerator-hours × on-demand list price (USD); None without a price."""
        return self.result.get("cost_usd")

    def plan(self) -> dict:
        """What the estimate is of: model, device, devices, region, data centre, precision."""
        s = self.scenario
        try:
            dev_name = data.device(s.device).name
        except KeyError:
            dev_name = s.device
        try:
            reg_name = data.region(s.region).name if s.region else ""
        except KeyError:
            reg_name = s.region
        return {"model": self.model, "device": s.device, "device_name": dev_name, "devices": s.n_devices,
                "region": s.region, "region_name": reg_name, "datacenter": s.datacenter, "precision": s.precision}

    def to_dict(self) -> dict:
        d = {
            "flops": self.flops,
            "accelerator_hours": self.accelerator_hours,
            "time_s": self.time_s,
            "energy_kwh": self.energy_kwh,
            "co2eq_kg": self.co2eq_kg,
            "water_l": self.water_l,
            "co2eq_kg_by_scope": self.co2eq_kg_by_scope,
            "assumptions": self.scenario.assumptions() + self._price_assumption(),
            "by_boundary": self.by_boundary,
            "cost_usd": self.cost_usd,
            "plan": self.plan(),
            "data_version": self.data_version,
            "version": __version__,
            "notes": list(self.notes) + list(self.scenario.notes),
            "unknown_ops": dict(sorted(self.unknown_ops.items())),
            "coverage": self.coverage,
            "method": "location-based scope 2; scope 3 = embodied share by use time / lifetime; "
                      "offsets never subtracted",
        }
        if self.workload is not None:
            d["workload"] = self.workload.to_dict()
        if self.step is not None:
            d["step"] = self.step
        if self.memory is not None:
            d["memory"] = self.memory
        if self.goodput is not None:
            d["goodput"] = self.goodput
        if self.phases:
            d["phases"] = [dict(p) for p in self.phases]
        if self.top:
            d["top"] = [dict(r) for r in self.top]
        d["equivalences"] = equivalences(self.co2eq_kg["p50"], self.energy_kwh["p50"])
        return d

    def _price_assumption(self) -> list:
        if self.price is None:
            return []
        from .cost import PRICE_NAME
        return [{"name": PRICE_NAME, "value": self.price.value(), "unit": self.price.unit, "source": self.price.source}]

    def metrics(self) -> dict:
        """{metric: {p5, p50, p95}}: the figures a budget can bound (flopest.check)."""
        out = {"co2eq_kg": self.co2eq_kg, "energy_kwh": self.energy_kwh,
               "accelerator_hours": self.accelerator_hours, "time_s": self.time_s, "water_l": self.water_l,
               "co2eq_kg_scope2": self.result["scope2"], "co2eq_kg_scope3": self.result["scope3"]}
        if self.cost_usd is not None:
            out["cost_usd"] = self.cost_usd
        return out

    def to_markdown(self) -> str:
        return views.render("estimate", "markdown", self.to_dict())

    def _repr_html_(self) -> str:
        return views.render("estimate", "html", self.to_dict())

    def __repr__(self) -> str:
        c, e = self.co2eq_kg, self.energy_kwh
        return (f"<flopest Estimate {self.scenario.device} × {self.scenario.n_devices} in {self.scenario.region}: "
                f"CO2eq {c['p50']:,.4g} kg (p5 {c['p5']:,.4g} – p95 {c['p95']:,.4g}), "
                f"energy {e['p50']:,.4g} kWh>")


# equivalence id -> (what the figure compared is, how to turn it into a count)
_EQUIV = (("car_km", "co2", lambda v, kg: kg * 1000 / v, "km by car"),
          ("flight_paris_new_york_round_trip", "co2", lambda v, kg: kg / v, "Paris–New York round trips by plane"),
          ("household_electricity_fr", "kwh", lambda v, kwh: kwh / v, "years of a French household's electricity"),
          ("household_electricity_us", "kwh", lambda v, kwh: kwh / v, "years of a US household's electricity"),
          ("smartphone_charge", "kwh", lambda v, kwh: kwh / v, "smartphone charges"))


def equivalences(co2eq_kg: float, energy_kwh: float) -> list:
    """Everyday equivalents of the p50 figures, each with its source (flopest/data/equivalences.csv)."""
    table = data.equivalences()
    out = []
    for eid, basis, fn, label in _EQUIV:
        e = table.get(eid)
        if e is None or not e.value:
            continue
        amount = fn(float(e.value), co2eq_kg if basis == "co2" else energy_kwh)
        out.append({"id": eid, "amount": amount, "what": label, "source": f"{e.source} ({e.year})"})
    return out


def estimate(counts_or_workload=None, *, device: str, n_devices: int = 1, region: str = "WORLD",
             datacenter: str | None = None, precision: str | None = None, pue=None, intensity=None,
             mfu=None, power_w=None, lifetime_years=None, host: str | None = None,
             dataset_size=None, epochs=None, batch_size=None, examples_per_pass=None, eval_counts=None,
             eval_size=None, optimizer=None, trials=None, trial_fraction=None, params=None, tokens=None, layers=None,
             d_model=None, seq_len=None, accelerator_hours=None, step_time_s=None, throughput=None,
             sharding: str = "none", tensor_parallel: int | None = None, pipeline_parallel: int | None = None,
             virtual_stages: int | None = None,
             failure_rate=None, restart_s=None, checkpoint_write_gbps=None, goodput: bool = True,
             heads=None, kv_heads=None, ffn=None, vocab=None, micro_batch=None, checkpointing: bool = False,
             graph: bool | None = None, teacher=None, experts=None, active_experts=None,
             expert_parallel: int | None = None, _keep: list | None = None, throughput_unit: str = "examples", price_per_hour=None, samples: int = DEFAULT_SAMPLES,
             seed: int = DEFAULT_SEED) -> Estimate:
    """Time, energy, CO₂eq by scope and water, with p5/p50/p95 (SI units: s, kWh, kg CO₂eq, L).

    One of three plans:
    - a `Counts` with dataset_size (training examples), epochs (1), batch_size (the optimizer's
      steps; default the counted batch), examples_per_pass (the examples one counted pass holds;
      default what the count recorded, an error when unknown), eval_counts / eval_size, optimizer
      (the step added to a count without optimizer rows, such as an ONNX graph: default adam),
      trials (1) and trial_fraction (1: early stopping's average share);
    - params and tokens (6·N·D; layers, d_model and seq_len add attention), trials, trial_fraction;
      with layers, d_model and seq_len (and heads, kv_heads, ffn, vocab where known), a
      Llama-shaped decoder of that shape is built on the meta device and counted (graph=None:
      when torch and transformers are installed; graph=False keeps 6·N·D), so the plan goes
      through the same step, memory, layout and communication model as a captured graph; then
      batch_size (sequences per optimizer step; default micro_batch × devices), micro_batch
      (sequences per device per pass, default 1), optimizer (adamw) and checkpointing apply;
      experts / active_experts make it a mixture of experts (balanced routing), expert_parallel
      its experts' sharding (all-to-all per layer);
    - accelerator_hours (a posteriori: the time comes from the hours, not from FLOPs).
    A `Workload` already built (flopest.impact.from_counts / from_params) is taken as it is.
    The scenario: device, n_devices, region, datacenter, precision, host; pue, intensity
    (g CO₂eq/kWh), mfu, power_w (all-in W per accelerator) and lifetime_years fix their input.
    Time: with a graph (a training capture, or a forward-only count), the per-operator step-time
    model (flopest.impact.steptime) times the counted pass on the device, and the plan's time is
    its steps; its p5–p95 come from the model's out-of-sample errors. Without a graph, the MFU
    prior. A measured figure replaces both: step_time_s (seconds per optimizer step, wall clock,
    at the plan's batch) or throughput (per device, in throughput_unit "examples" or "tokens"
    per second); so does mfu.
    Memory per device (a training capture): weights, master weights, gradients, optimizer states
    and saved activations with `sharding` ("none", "zero1", "zero2", "zero3", "fsdp") over the
    data-parallel devices, `tensor_parallel` and `pipeline_parallel` (given, or chosen as the
    smallest model-parallel size that fits: flopest.impact.parallel), with a verdict on the
    device's memory (flopest.impact.memory); the layout's communication and pipeline bubble are
    in the step time (virtual_stages: model chunks per pipeline stage of the interleaved
    schedule, which divides the bubble).
    Goodput (goodput=True): the wall-clock time lost to failures, restarts and checkpoint writes
    on the plan's devices (flopest.impact.goodput; failure_rate per accelerator-hour, restart_s
    and checkpoint_write_gbps per accelerator replace the sourced priors) lengthens the time.
    Energy and CO₂eq are also given by boundary (accelerators only, + host, + facility, +
    embodied: flopest.impact.boundary), and the cost in USD = accelerator-hours × the on-demand
    list price of the device in the region (flopest/data/prices.csv; price_per_hour, USD per
    accelerator-hour, replaces it).
    Distillation (teacher=): the teacher's forward on every training token or example is added,
    a parameter count N (2·N FLOPs per token: Kaplan et al. 2020) or the teacher's forward count
    (flopest.count(teacher_model)): per token when both know their tokens per example, else per
    example. It is timed at the student's rate (said in the notes).
    A keyword that the chosen plan does not read is an error, never ignored.
    """
    if throughput_unit not in ("examples", "tokens"):
        raise error(f"throughput_unit {throughput_unit!r} is not 'examples' or 'tokens'", "throughput_unit")
    checkpointing = flag("checkpointing", checkpointing)
    goodput = flag("goodput", goodput)
    if throughput is None and throughput_unit != "examples":
        raise error("throughput_unit is the unit of throughput=: give throughput, or remove throughput_unit",
                    "throughput_unit")
    plan = {"dataset_size": dataset_size, "epochs": epochs, "batch_size": batch_size,
            "examples_per_pass": examples_per_pass, "eval_counts": eval_counts, "eval_size": eval_size,
            "optimizer": optimizer}
    lm = {"params": params, "tokens": tokens, "layers": layers, "d_model": d_model, "seq_len": seq_len}
    search = {"trials": trials, "trial_fraction": trial_fraction}
    searched = {k: v for k, v in search.items() if v is not None}
    wl = None
    hours = None
    if accelerator_hours is not None:
        _unread("accelerator_hours", counts_or_workload, {**plan, **lm, **search, "failure_rate": failure_rate,
                                                          "restart_s": restart_s,
                                                          "checkpoint_write_gbps": checkpoint_write_gbps,
                                                          "goodput": None if goodput else False})
        hours = positive("accelerator_hours", accelerator_hours)
        if mfu is not None:
            raise error("accelerator_hours give the time; mfu would not enter it: remove mfu", "mfu")
    elif isinstance(counts_or_workload, Workload):
        _unread("a Workload", None, {**plan, **lm, **search})
        wl = counts_or_workload
    elif counts_or_workload is not None:
        if not hasattr(counts_or_workload, "forward_flops"):
            raise TypeError(f"estimate() takes a count (flopest.count(...)) or a Workload as its first argument, "
                            f"not {type(counts_or_workload).__name__}")
        _unread("a count", None, {**{k: v for k, v in lm.items() if k != "tokens"}, "heads": heads,
                                  "kv_heads": kv_heads, "ffn": ffn, "vocab": vocab, "micro_batch": micro_batch,
                                  "experts": experts, "active_experts": active_experts, "graph": graph,
                                  "checkpointing": checkpointing or None})
        held = getattr(counts_or_workload, "optimizer", None)
        if optimizer is not None and held and optimizer != held and getattr(counts_or_workload, "optimizer_flops", 0):
            raise error(f"the count holds {held}'s step (counted with optimizer={held!r}); optimizer={optimizer!r} would "
                        f"not replace it: count again with optimizer={optimizer!r}", "optimizer")
        if eval_counts is not None and eval_size is None:
            raise error("eval_counts times the evaluation passes of eval_size examples per epoch: give eval_size",
                        "eval_size")
        token_note = None
        if tokens is not None:   # a language model's dataset in tokens: sequences of the counted length
            if dataset_size is not None:
                raise error("give the dataset once: dataset_size (examples) or tokens", "dataset_size", "tokens")
            if epochs is not None and epochs != 1:
                raise error("tokens count every pass over the data (all epochs): give the total tokens, or "
                            "dataset_size (examples) with epochs", "epochs", "tokens")
            tpe = getattr(counts_or_workload, "tokens_per_example", None)
            if not tpe:
                raise error("tokens with a count needs the tokens of one example, which this count does not "
                            "record (an hf: model does): give dataset_size (examples) instead", "tokens")
            t = positive("tokens", tokens)
            dataset_size = max(1, math.ceil(t / tpe))
            token_note = (f"dataset: {t:,.0f} tokens / {tpe:,} tokens per sequence = {dataset_size:,} sequences "
                          f"(all epochs: the tokens count every pass)")
        if dataset_size is None:
            raise error("a count needs dataset_size= (the number of training examples; CLI --dataset-size)",
                        "dataset_size")
        plan["dataset_size"] = dataset_size
        bs_note = None
        per_given = examples_per_pass or getattr(counts_or_workload, "examples_per_pass", None)
        nd = whole("n_devices", n_devices)
        if batch_size is None and nd > 1 and per_given:
            # data parallel by default: one counted pass per replica and step (a replica of tensor ×
            # pipeline devices runs one micro-batch together)
            mp = int(tensor_parallel or 1) * int(pipeline_parallel or 1)
            replicas = nd // mp if mp and nd % mp == 0 else nd
            plan["batch_size"] = int(per_given) * replicas
            bs_note = (f"no batch size given: one counted pass of {int(per_given):,} example(s) per data-parallel "
                       f"replica and step, × {replicas:,} replicas = a global batch of {plan['batch_size']:,} "
                       f"(batch_size= / --batch-size to give it)")
        wl = from_counts(counts_or_workload, **{k: v for k, v in plan.items() if v is not None}, **searched)
        if bs_note:
            wl.notes.insert(0, bs_note)
            wl.factors["batch_default"] = True
        if token_note:
            wl.notes.insert(0, token_note)
    elif params is not None or tokens is not None:
        lm_kw = {"heads": heads, "kv_heads": kv_heads, "ffn": ffn, "vocab": vocab, "experts": experts,
                 "active_experts": active_experts}
        if _lm_graph(graph, params, tokens, layers, d_model, seq_len):
            _unread("a params plan (its tokens are its dataset)", None,
                    {k: plan[k] for k in ("dataset_size", "epochs", "examples_per_pass", "eval_counts", "eval_size")})
            return _lm_estimate(locals())
        shaped = [k for k, v in {**lm_kw, "micro_batch": micro_batch, "batch_size": batch_size,
                                 "optimizer": optimizer, "checkpointing": checkpointing or None}.items() if v is not None]
        if graph or (graph is None and shaped and None not in (layers, d_model, seq_len)):
            raise error(f"the decoder's graph of a params plan ({', '.join(shaped) or 'graph=True'}) needs params, "
                        f"tokens, layers, d_model and seq_len, and the torch extra with transformers: pip install "
                        f"'flopest[torch]'", *(shaped or ["graph"]))
        _unread("a 6·N·D plan (give layers, d_model and seq_len for a graph)", None,
                {**{k: v for k, v in plan.items() if k not in ("batch_size", "optimizer")}, **lm_kw,
                 "micro_batch": micro_batch, "checkpointing": checkpointing or None})
        _unread("params and tokens", None, {"batch_size": batch_size, "optimizer": optimizer})
        if params is None or tokens is None:
            raise error("the 6·N·D plan needs both params and tokens", "params", "tokens")
        wl = from_params(params, tokens, layers=layers, d_model=d_model, seq_len=seq_len, **searched)
    else:
        raise error("give a model's counts (with dataset_size), params and tokens (6·N·D), or accelerator_hours",
                    "dataset_size", "params", "tokens", "accelerator_hours")
    if teacher is not None:
        if wl is None or isinstance(counts_or_workload, Workload):
            raise error("teacher= adds the teacher's forward to a training plan (a count with dataset_size or "
                        "tokens, or params and tokens)", "teacher")
        _add_teacher(wl, teacher, counts_or_workload if hasattr(counts_or_workload or 0, "forward_flops") else None)
    flops = wl.flops if wl is not None else 0
    s = build_scenario(device, n_devices, region, datacenter, precision, host, mfu=mfu, pue=pue,
                       intensity=intensity, power_w=power_w, lifetime_years=lifetime_years)
    notes = list(wl.notes) if wl else []
    graph = wl is not None and not isinstance(counts_or_workload, Workload)
    graph = graph and counts_or_workload is not None
    step = None
    measured = step_time_s is not None or throughput is not None
    if (measured or mfu is not None) and virtual_stages not in (None, 1):
        raise error("virtual_stages shapes the pipeline bubble of the step-time model; mfu, step_time_s or throughput "
                    "replace that model: remove virtual_stages", "virtual_stages")
    if measured:
        if hours is not None:
            raise error("step_time_s / throughput time a plan; accelerator_hours already give its time",
                        "step_time_s", "throughput")
        if mfu is not None:
            raise error("give one of mfu, step_time_s and throughput: each sets the time", "mfu", "step_time_s",
                        "throughput")
        s.mfu, s.roofline = measured_time(wl, s, step_time_s, throughput, throughput_unit)
        if teacher is not None:   # the measured figure is the whole step's: no rate is applied to the teacher
            notes[:] = [n.replace("; timed at the student's rate", "; its time is inside the measured "
                                  + ("step time" if step_time_s is not None else "throughput")
                                  + " given (measure the distillation run itself)") for n in notes]
    elif graph and mfu is None and hasattr(counts_or_workload, "table"):
        step = graph_time(counts_or_workload, wl, s, notes, tensor_parallel=tensor_parallel,
                          pipeline_parallel=pipeline_parallel, sharding=sharding, virtual_stages=virtual_stages,
                          expert_parallel=expert_parallel)
    run_goodput = None
    if hours is None and goodput and wl is not None:
        run_goodput = _apply_goodput(wl, s, counts_or_workload if graph else None, notes, failure_rate=failure_rate,
                                     restart_s=restart_s, write_gbps=checkpoint_write_gbps)
    elif not goodput and any(v is not None for v in (failure_rate, restart_s, checkpoint_write_gbps)):
        raise error("failure_rate, restart_s and checkpoint_write_gbps set the goodput: remove them or goodput=False",
                    "goodput")
    from .cost import price_per_hour as _price
    price, price_note = _price(s.device, s.region, price_per_hour)
    if price_note:
        notes.append(price_note)
    if s.power_w is not None:
        notes.append("the all-in power per accelerator given (power_w) is not split: the boundaries "
                     "'accelerators only' and '+ host' are the same")
    res = simulate(s, flops=flops, accelerator_hours=hours, samples=samples, seed=seed, price=price, keep=_keep)
    if hours is not None:
        notes.append("a posteriori: time and energy from the accelerator-hours given")
    top = top_rows(counts_or_workload) if graph else []
    unknown = dict(getattr(counts_or_workload, "unknown_ops", None) or {}) if graph else {}
    coverage = float(counts_or_workload.coverage) if graph and hasattr(counts_or_workload, "coverage") else None
    if unknown:
        notes.append("operators not costed (unknown_ops): " + ", ".join(f"{k} ×{v}" for k, v in
                                                                     sorted(unknown.items()))
                     + (f"; coverage {coverage:.1%}" if coverage is not None else "")
                     + ": the figures leave them out (their cost is unknown, not 0)")
    memory = None
    mem = step.pop("_memory", None) if step else None
    if mem is None and graph and getattr(counts_or_workload, "saved_bytes_by_module", None):
        from .memory import memory_per_device
        from .parallel import choose
        *_, mem = choose(counts_or_workload, device=s.device, n_devices=s.n_devices, precision=s.precision,
                         optimizer=_state_optimizer(counts_or_workload, wl),
                         sharding=sharding, tp=tensor_parallel, pp=pipeline_parallel,
                         checkpointing=bool(getattr(counts_or_workload, "checkpointing", False)))
    if mem is not None:
        memory = mem.to_dict()
        # what the memory verdict rests on reaches every format, not the JSON's memory object alone
        notes.extend(f"memory: {n}" for n in memory.get("notes") or () if f"memory: {n}" not in notes)
        if mem.fits is False:
            notes.append(f"does not fit: {mem.total_bytes / 1e9:,.1f} GB per device on a {mem.capacity_bytes / 1e9:,.0f} "
                         f"GB {s.device}; fix: {mem.fix}")
    elif not graph and (sharding != "none" or tensor_parallel not in (None, 1) or pipeline_parallel not in (None, 1)
                        or virtual_stages not in (None, 1)):
        raise error("sharding, tensor_parallel, pipeline_parallel and virtual_stages set the layout of a model's "
                    "count (a training capture for its memory)", "sharding", "tensor_parallel", "pipeline_parallel",
                    "virtual_stages")
    model = getattr(counts_or_workload, "source", None) or None if graph else None
    return Estimate(flops, res, s, wl, data.DATA_VERSION, notes, top, unknown, coverage, step, memory,
                    model=model, price=price, goodput=run_goodput.to_dict() if run_goodput else None)


SHARED_BY_PHASES = ("device", "region", "datacenter", "pue", "intensity", "power_w", "lifetime_years", "host",
                    "price_per_hour", "samples", "seed")


def estimate_phases(phases: list, **shared) -> Estimate:
    """One estimate of a plan in phases (pre-training, a long-context phase, annealing or
    fine-tuning...): each phase is the keywords of :func:`estimate` for its own plan (its count
    or params and tokens, sequence length, batch, layout, devices), `shared` the keywords every
    phase has (device, region, data centre and the scenario's fixed inputs, samples, seed). The
    phases are estimated apart and their Monte-Carlo samples summed sample by sample (the same
    seed: one draw of every shared input): time, accelerator-hours, energy, CO₂eq, water and cost
    of the whole plan, with each phase's figures in `phases`."""
    if not isinstance(phases, (list, tuple)) or not phases:
        raise error("phases must be a non-empty list of dicts of estimate() keywords, one per phase", "phases")
    if "device" not in shared:
        raise error("estimate_phases needs device= (shared by the phases)", "device")
    keep, parts, notes = [], [], []
    for i, ph in enumerate(phases, 1):
        if not isinstance(ph, dict):
            raise error(f"phase {i} is a {type(ph).__name__}, not a dict of estimate() keywords", "phases")
        clash = sorted(set(ph) & set(SHARED_BY_PHASES))
        if clash:
            raise error(f"phase {i} sets {', '.join(clash)}, which every phase shares: give it once, to "
                        f"estimate_phases", *clash)
        kw = dict(ph)
        name = str(kw.pop("name", f"phase {i}"))
        model = kw.pop("counts", None)
        est = estimate(model, _keep=keep, **shared, **kw) if model is not None else \
            estimate(_keep=keep, **shared, **kw)
        parts.append(est)
        notes += [f"{name}: {n}" for n in est.notes]
    samples = shared.get("samples", DEFAULT_SAMPLES)
    seed = shared.get("seed", DEFAULT_SEED)
    out = np.sum(keep, axis=0)
    first = parts[0]
    res = summarise(out, samples, seed, first.price)
    table = []
    for i, (ph, est) in enumerate(zip(phases, parts), 1):
        table.append({"name": str(ph.get("name", f"phase {i}")), "flops": est.flops,
                      "devices": est.scenario.n_devices, "time_s": dict(est.time_s),
                      "accelerator_hours": dict(est.accelerator_hours), "energy_kwh": dict(est.energy_kwh),
                      "co2eq_kg": dict(est.co2eq_kg),
                      "step_time_s": (est.step or {}).get("time_s"),
                      "layout": ((est.step or {}).get("layout") or {}).get("describe"),
                      "goodput": (est.goodput or {}).get("goodput"),
                      "mfu": est.scenario.mfu.value()})
    notes.insert(0, f"{len(parts)} phases estimated apart and summed sample by sample (one draw of every shared "
                    f"input): {', '.join(t['name'] for t in table)}")
    notes.insert(1, "the assumptions shown are the first phase's (its devices, MFU and scenario); each phase's time "
                    "model, MFU and goodput are in its row of phases")
    if len({p.scenario.n_devices for p in parts}) > 1:
        notes.insert(2, "the phases run on different device counts: the time is their sum, the accelerator-hours "
                        "each phase's devices × its time")
    return Estimate(sum(p.flops for p in parts), res, first.scenario, None, data.DATA_VERSION, notes, [], {},
                    None, None, None, model=first.model, price=first.price, phases=table)


def _lm_graph(graph, params, tokens, layers, d_model, seq_len) -> bool:
    """Whether a params/tokens plan is counted on a synthetic decoder graph."""
    if graph is False or None in (params, tokens, layers, d_model, seq_len):
        return False
    if graph is None:
        import importlib.util
        return all(importlib.util.find_spec(m) is not None for m in ("torch", "transformers"))
    return True


@functools.lru_cache(maxsize=4)
def _lm_counts(params, layers, d_model, seq, heads, kv_heads, ffn, vocab, micro, optimizer, checkpointing,
               experts=None, active_experts=None):
    """(Counts, what was built) of the decoder of a params plan, kept for the next estimate of the
    same shape (compare estimates it on every device). A mixture of experts is counted on the
    dense decoder of its active experts' compute; its parameters (all experts: the memory, the
    optimizer step and the gradients) are set to the whole model's, the optimizer step added by
    the plan (not captured on the partial graph)."""
    from .. import models
    lm, moe = models.lm_model(params, layers, d_model, seq, heads=heads, kv_heads=kv_heads, ffn=ffn, vocab=vocab,
                              batch=micro, experts=experts, active_experts=active_experts)
    counts = models.count_module(lm.module, lm.args, lm.kwargs, training=True, causal=True,
                                 optimizer=None if moe else optimizer, checkpointing=checkpointing,
                                 source=lm.source, notes=lm.notes, tokens_per_example=seq)
    if moe:
        counts.params = int(counts.params + moe["extra_params"])
        counts.moe = moe
    return counts, lm.source


def _lm_estimate(kw: dict) -> Estimate:
    """The estimate of a params/tokens plan with its architecture: a Llama-shaped decoder of that
    shape counted for training at the micro-batch, its dataset the tokens in sequences."""
    n_dev = whole("n_devices", kw["n_devices"])
    micro = whole("micro_batch", kw["micro_batch"]) if kw["micro_batch"] is not None else 1
    seq = whole("seq_len", kw["seq_len"])
    counts, source = _lm_counts(whole("params", kw["params"]), whole("layers", kw["layers"]),
                                whole("d_model", kw["d_model"]), seq, kw["heads"], kw["kv_heads"], kw["ffn"],
                                kw["vocab"], micro, kw["optimizer"] or "adamw", bool(kw["checkpointing"]),
                                kw["experts"], kw["active_experts"])
    bs = kw["batch_size"]
    bs_note = None
    if bs is None:
        mp = int(kw["tensor_parallel"] or 1) * int(kw["pipeline_parallel"] or 1)
        replicas = n_dev // mp if n_dev % mp == 0 else n_dev
        bs = micro * replicas
        bs_note = (f"batch: {micro} sequence(s) per data-parallel replica × {replicas:,} replicas = {bs:,} sequences "
                   f"({bs * seq:,} tokens) per optimizer step (batch_size= / --batch-size to give it)")
    pass_kw = {k: kw[k] for k in ("device", "n_devices", "region", "datacenter", "precision", "pue", "intensity",
                                  "mfu", "power_w", "lifetime_years", "host", "trials", "trial_fraction",
                                  "step_time_s", "throughput", "sharding", "tensor_parallel", "pipeline_parallel",
                                  "virtual_stages",
                                  "failure_rate", "restart_s", "checkpoint_write_gbps", "goodput",
                                  "price_per_hour", "samples", "seed", "teacher", "_keep", "expert_parallel")}
    if getattr(counts, "moe", None):
        pass_kw["optimizer"] = kw["optimizer"] or "adamw"   # the step of every expert, added by the plan
    if kw["throughput"] is not None and kw["throughput_unit"] == "tokens":
        pass_kw["throughput"] = kw["throughput"] / seq   # sequences per second per device
    pass_kw["checkpointing"] = False   # the decoder was counted with it: the count holds the recompute
    est = estimate(counts, tokens=kw["tokens"], batch_size=bs, **pass_kw)
    lay = (est.step or {}).get("layout") or {}
    if kw["batch_size"] is None and lay.get("chosen") is not False and lay and \
            lay["tensor_parallel"] * lay["pipeline_parallel"] > 1:
        mp = lay["tensor_parallel"] * lay["pipeline_parallel"]
        dp = max(1, n_dev // mp)
        # the batch was set before the layout was chosen: say what it is under the layout
        bs_note = (f"batch: {micro} sequence(s) per device × {n_dev:,} devices = {bs:,} sequences ({bs * seq:,} "
                   f"tokens) per optimizer step, which the layout chosen (tensor × pipeline = {mp}, data {dp:,}) runs "
                   f"as {bs / dp:,.4g} sequence(s) per data-parallel replica; batch_size= / --batch-size gives the batch "
                   f"you train with")
    n = float(kw["params"])
    if abs(counts.params - n) > 0.10 * n:
        raise error(f"the decoder of this shape holds {counts.params:,} parameters, not the {int(n):,} given "
                    f"({counts.params / n - 1:+.0%}): check params and the shape (leave out ffn to solve it from "
                    f"params)", "params", "ffn")
    six = 6.0 * n * float(kw["tokens"])
    got = float(est.flops)
    notes = [f"graph of the --params plan: {source}, {counts.params:,} parameters counted against the "
             f"{int(n):,} given; training FLOPs {got:.3g} from the graph against 6·N·D = {six:.3g} "
             f"({got / six - 1:+.0%}: attention over {seq:,} tokens, the embeddings' lookups, norms and the "
             f"optimizer step, which 6·N·D leaves out or counts as GEMMs)"]
    if bs_note:
        notes.append(bs_note)
    est.notes[:0] = notes
    return est


def _add_teacher(wl, teacher, student) -> None:
    """Add a distillation teacher's forward FLOPs to the plan `wl` (in place), with its note."""
    f = wl.factors
    trials = float(wl.trials or 1)
    if "tokens" in f and student is None:                      # a params plan
        tokens, examples = float(f["tokens"]), None
    else:
        examples = float(f.get("dataset_size", 0)) * float(f.get("epochs", 1))
        tpe = getattr(student, "tokens_per_example", None)
        tokens = examples * tpe if tpe else None
    if hasattr(teacher, "forward_flops"):                     # the teacher's count
        per_ex = getattr(teacher, "examples_per_pass", None) or 1
        t_tpe = getattr(teacher, "tokens_per_example", None)
        if tokens is not None and t_tpe:
            per_token = teacher.forward_flops / (per_ex * t_tpe)
            add, how = per_token * tokens, f"{per_token:.4g} FLOPs per token (its count) × {tokens:,.0f} tokens"
        elif tokens is not None:
            raise error("the student is counted per token and the teacher's count per example (it does not know "
                        "its tokens per example): give the teacher's parameter count, or an hf: teacher",
                        "teacher")
        elif examples is not None:
            per = teacher.forward_flops / per_ex
            add, how = per * examples, f"{per:.4g} FLOPs per example (its count) × {examples:,.0f} examples"
        else:
            raise error("a teacher's count is per example or per token: this plan has tokens only and the teacher "
                        "no tokens per example; give its parameter count instead", "teacher")
        what = getattr(teacher, "source", "") or "the teacher"
    else:
        n = positive("teacher", teacher)
        if tokens is None:
            raise error("a teacher given by its parameters is costed per token (2·N FLOPs): the student's count "
                        "does not know its tokens per example (an hf: language model does); give the teacher's "
                        "count (flopest.count(teacher_model))", "teacher")
        add, how = 2.0 * n * tokens, f"2 × {n:,.0f} parameters × {tokens:,.0f} tokens (Kaplan et al. 2020)"
        what = f"a {n:,.0f}-parameter teacher"
    one = add                       # one trial's teacher forward: train_flops is per trial
    add = int(round(one * trials))
    wl.flops += add
    wl.train_flops += int(round(one))
    f["teacher_flops"] = add
    wl.formula = (wl.formula + " + teacher forward") if wl.formula else "teacher forward"
    wl.notes.append(f"distillation: {what}'s forward on every training token, {add:.4g} FLOPs ({how}"
                    f"{f', × {trials:g} trials' if trials != 1 else ''}); timed at the student's rate")


def _plan_optimizer(wl) -> str | None:
    """The optimizer the plan added to a count without optimizer rows (workload.from_counts)."""
    return str(wl.factors.get("optimizer_flops_source", "")).split(":")[0].strip() or None if wl else None


def _state_optimizer(counts, wl, known: str | None = None) -> str:
    """The optimizer whose states the memory and the checkpoints hold: the one captured, else the
    plan's, else Adam (the most common; its states are the largest of the usual ones)."""
    from .memory import OPTIMIZER_STATE_BYTES
    opt = known or getattr(counts, "optimizer", None) or _plan_optimizer(wl)
    return opt if opt in OPTIMIZER_STATE_BYTES else "adam"


def _apply_goodput(wl, s: Scenario, counts, notes: list, **given):
    """Fold the run's goodput (flopest.impact.goodput) into the scenario's MFU, quantile by
    quantile: time / goodput. Returns the Goodput."""
    from .goodput import goodput
    f = wl.factors
    params = float(getattr(counts, "params", 0) or f.get("params") or 0)
    work_s = float(wl.flops) * s.roofline.p50 / (s.n_devices * s.peak_flops * s.mfu.p50) if s.mfu.p50 > 0 else 0.0
    g = goodput(s.n_devices, work_s, params, precision=s.precision, optimizer=_state_optimizer(counts, wl),
                failure_rate=given["failure_rate"], restart_s=given["restart_s"], write_gbps=given["write_gbps"])
    q = g.goodput
    m = s.mfu
    s.mfu = Uncertain(min(m.p5 * q["p5"], m.p50 * q["p50"]), m.p50 * q["p50"], max(m.p95 * q["p95"], m.p50 * q["p50"]),
                      m.unit, f"{m.source}; × goodput {q['p5']:.3f} / {q['p50']:.3f} / {q['p95']:.3f} "
                              f"(failures, restarts, checkpoint writes: flopest/impact/goodput.py)")
    if 1.0 - q["p50"] >= 0.001:
        ck = (f"{g.checkpoint_share:.1%} writing {g.checkpoints:,} checkpoints (every {g.interval_s / 60:,.3g} min)"
              if g.checkpoints else "no intermediate checkpoint (the run is shorter than the checkpoint interval)")
        notes.append(f"goodput {q['p50']:.1%} (p5 {q['p5']:.1%}): {g.failures_share:.1%} of the wall-clock time lost "
                     f"to failures and restarts (a failure every {g.mtbf_h:,.3g} h on {s.n_devices:,} device(s)), "
                     f"{ck}")
    notes.extend(x for x in g.notes if x not in notes)
    return g


def _time_mfu(wl, s: Scenario, time_s: Uncertain, source: str) -> Uncertain:
    """The MFU that makes the Monte-Carlo's time = FLOPs / (devices × peak × MFU) equal `time_s`
    at each quantile (a longer time is a lower MFU: p5 and p95 swap)."""
    f = float(wl.flops) / (s.n_devices * s.peak_flops)
    return Uncertain(f / time_s.p95, f / time_s.p50, f / time_s.p5, "", source)


def graph_time(counts, wl, s: Scenario, notes: list, *, tensor_parallel=None, pipeline_parallel=None,
               sharding: str = "none", virtual_stages=None, expert_parallel=None) -> dict | None:
    """Time the plan with the per-operator step-time model on the counted pass, under a parallel
    layout (flopest.impact.parallel: given, or chosen to fit memory) and its communication; sets
    the scenario's MFU to the one it implies (roofline 1: the model times memory-bound operators
    itself). Returns the step's figures for the report, or None (the MFU prior stays) when the
    model does not apply (a precision it does not know), said in notes.

        rows rate   = (forward + backward FLOPs of the counted pass) / its rows' time on one device
        plan time   = (plan FLOPs − optimizer FLOPs) / (devices × rows rate) × (m + (p − 1)/v) / m
                      + optimizer steps × (optimizer time / its shards + exposed communication)
        (p pipeline stages, m micro-batches per step and replica, v chunks per stage: the 1F1B
        bubble, interleaved when v > 1)
    """
    from ..ops.optimizer import OPTIMIZERS
    from . import parallel
    from .steptime import TimeModel, step_time, step_time_range
    f = wl.factors
    opt_name = None
    if not counts.optimizer_flops and f.get("optimizer_flops_per_step"):
        opt_name = _plan_optimizer(wl)
        opt_name = opt_name if opt_name in OPTIMIZERS else None
    try:
        st = step_time(counts.table, counts.evaluate()._rc, s.device, precision=s.precision, n_devices=1,
                       params=counts.params or None, optimizer=opt_name)
    except InputError as exc:
        notes.append(f"the step-time model does not apply ({exc}): time from the MFU prior")
        return None
    rows_s = st.time_s - st.optimizer_s - st.communication_s
    pass_flops = counts.forward_flops + counts.backward_flops
    if not (rows_s > 0 and pass_flops > 0):
        notes.append("the counted pass has no timed operator: time from the MFU prior")
        return None
    n = int(s.n_devices)
    per = f.get("examples_per_pass") or getattr(counts, "examples_per_pass", None) or 1
    bs = f.get("batch_size") or per
    memory = None
    ep = whole("expert_parallel", expert_parallel) if expert_parallel is not None else 1
    if ep > 1 and not getattr(counts, "moe", None):
        raise error("expert_parallel shards the experts of a mixture of experts (a params plan with experts=)",
                    "expert_parallel")
    if getattr(counts, "saved_bytes_by_module", None):
        tp, pp, dp, chosen, mem = parallel.choose(
            counts, device=s.device, n_devices=n, precision=s.precision,
            optimizer=_state_optimizer(counts, wl, st.optimizer or opt_name), sharding=sharding,
            tp=tensor_parallel, pp=pipeline_parallel, checkpointing=bool(getattr(counts, "checkpointing", False)),
            ep=ep, virtual_stages=int(virtual_stages) if isinstance(virtual_stages, int) and virtual_stages > 0 else 1,
            examples_per_step=bs, examples_per_pass=per)
        memory = mem
    else:
        tp, pp = int(tensor_parallel or 1), int(pipeline_parallel or 1)
        if n % (tp * pp):
            raise error(f"tensor_parallel {tp} × pipeline_parallel {pp} does not divide the {n:,} devices",
                        "tensor_parallel", "pipeline_parallel")
        dp, chosen = n // (tp * pp), False
    if ep > 1 and counts.moe["experts"] % ep:
        raise error(f"expert_parallel {ep} must divide the {counts.moe['experts']} experts", "expert_parallel")
    if ep > 1 and dp % ep:
        raise error(f"expert_parallel {ep} must divide the {dp:,} data-parallel replicas of the layout "
                    f"(tensor {tp} × pipeline {pp} × data {dp})", "expert_parallel")
    if bs < dp:
        raise error(f"a global batch of {bs:,} example(s) is smaller than the {dp:,} data-parallel replicas of the "
                    f"layout (tensor {tp} × pipeline {pp} × data {dp}): every replica needs one example a step; give "
                    f"a larger batch_size or fewer devices", "batch_size")
    vs = whole("virtual_stages", virtual_stages) if virtual_stages is not None else 1
    if vs > 1 and pp == 1:
        raise error("virtual_stages interleaves the stages of a pipeline: give pipeline_parallel > 1 too",
                    "virtual_stages")
    blocks = len(parallel.blocks_of(getattr(counts, "saved_bytes_by_module", {}) or {}))
    if vs > 1 and blocks and pp * vs > blocks:
        raise error(f"pipeline_parallel {pp} × virtual_stages {vs} = {pp * vs} chunks, more than the model's "
                    f"{blocks} repeated blocks", "virtual_stages")
    if chosen is not False and tp * pp > 1 and f.get("batch_default"):
        notes.append(f"the default global batch ({bs:,} examples) counts one counted pass per device, but the layout "
                     f"chosen runs one per replica of {tp * pp} devices: give batch_size (--batch-size) for the batch "
                     f"you train with")
    model = TimeModel.load()
    work = bs / (n * per)      # counted passes one device runs per optimizer step
    backward_s = float(st.row_time_s[counts.table.phase == kinds.BACKWARD].sum()) * work
    lay = parallel.communication(
        counts, device=s.device, precision=s.precision, tp=tp, pp=pp, dp=dp, sharding=sharding,
        params=counts.params or 0, examples_per_step=bs, examples_per_pass=per, backward_s_per_step=backward_s,
        step_s=rows_s * work, link_gbps=model.link_gbps.get(s.device, model.link_default_gbps),
        link_efficiency=model.link_efficiency, grad_bytes=model.grad_bytes_per_param,
        bucket_bytes=model.bucket_bytes, chosen=chosen,
        virtual_stages=vs, ep=ep)
    lay.memory = memory.to_dict() if memory is not None else None
    trials = float(wl.trials or 1)
    steps = float(f.get("steps_per_trial", 0)) * trials
    opt_total = float(f.get("optimizer_flops_per_step", 0)) * steps
    rate = pass_flops / rows_s
    shards = dp if sharding != "none" else 1
    opt_s = st.optimizer_s / (tp * pp * shards)
    stretch = (lay.micro_batches + (pp - 1) / lay.virtual_stages) / lay.micro_batches
    compute_total = (max(float(wl.flops) - opt_total, 0.0)) / (n * rate)
    total = compute_total * stretch + steps * (opt_s + lay.exposed_s)
    rng = step_time_range(total)
    step_s = rows_s * work * stretch + opt_s + lay.exposed_s
    comm_share = (steps * lay.exposed_s) / total if total > 0 else 0.0
    src = (f"implied by the per-operator step-time model (flopest/impact/steptime.py, time_model.csv) on the "
           f"counted pass of {per} example(s) on {s.device} at {s.precision}: {step_s:.4g} s an optimizer step "
           f"per device (operators {rows_s * work:.3g}, pipeline bubble {rows_s * work * (stretch - 1):.3g}, "
           f"optimizer {opt_s:.3g}, exposed communication {lay.exposed_s:.3g} s) under {lay.describe()}; the "
           f"range is the model's leave-one-device-out error on throughput_evidence.csv")
    s.mfu = _time_mfu(wl, s, rng, src)
    s.roofline = Uncertain.fixed(1.0, "", "1: the step-time model times memory-bound operators itself")
    if bs and per and bs != per * n:
        notes.append(f"the step time is that of {work:,.4g} counted pass(es) of {per} example(s) per device (the batch "
                     f"of {bs:,} on {n:,} device(s)): exact for gradient accumulation over micro-batches of {per}; a "
                     f"larger micro-batch runs more efficiently than that, so count at it (--micro-batch) if yours is "
                     f"larger")
    if counts.backward_flops == 0:
        notes.append("forward-only graph: the backward is timed at the forward's rate (a training capture, "
                     "zoo:NAME or a factory, times it operator by operator)")
    if n > 1:
        notes.append(f"layout: {lay.describe()}; communication {comm_share:.1%} of the time (exposed)"
                     + (f", pipeline bubble {lay.bubble:.1%}" if pp > 1 else ""))
    if tp > 1:
        notes.append("tensor parallelism: the operators are timed unsplit and divided by the degree; its smaller "
                     "GEMMs' lower efficiency is not modelled")
    notes.extend(x for x in st.notes + lay.notes if x not in notes and "no optimizer step counted" not in x)
    table = counts.table
    split = dict(st.split())
    scale = work
    split = {k: v * scale for k, v in split.items()}
    split["optimizer_s"] = opt_s
    split["communication_s"] = lay.exposed_s
    split["pipeline_bubble_s"] = rows_s * work * (stretch - 1)
    return {"time_s": step_s, "examples_per_pass": per, "device": s.device, "precision": s.precision,
            "split": split, "kernels": st.kernels, "plan_time_s": {"p5": rng.p5, "p50": rng.p50, "p95": rng.p95},
            "top_by_time": _step_top(st.top(table, 5, by="op"), work, step_s), "layout": lay.to_dict(),
            "communication_share": comm_share,
            "_memory": memory}


def _step_top(rows: list, work: float, step_s: float) -> list:
    """The costliest operators of one counted pass as parts of the optimizer step: their time × the
    passes a device runs per step (`work`, as the split), their share of the step's time."""
    return [{**r, "time_s": r["time_s"] * work, "share": r["time_s"] * work / step_s if step_s > 0 else 0.0}
            for r in rows]


def measured_time(wl, s: Scenario, step_time_s, throughput, unit: str) -> tuple:
    """(MFU, roofline) from the user's measured step time or throughput, which replaces the model
    (its range collapses: a measured figure, said in the assumptions)."""
    if step_time_s is not None and throughput is not None:
        raise error("give one of step_time_s and throughput", "step_time_s", "throughput")
    if wl is None:
        raise error("step_time_s / throughput need a plan (a count with dataset_size, or params and tokens)",
                    "step_time_s")
    f = wl.factors
    trials = float(wl.trials or 1)
    if step_time_s is not None:
        t = positive("step_time_s", step_time_s)
        steps = f.get("steps_per_trial")
        if not steps:
            raise error("step_time_s needs a plan with optimizer steps (a count with dataset_size and "
                        "batch_size); for a tokens plan give throughput in tokens/s", "step_time_s")
        total = t * float(steps) * trials
        src = f"given: {t:g} s per optimizer step (measured) × {steps:,} steps × {trials:g} trial(s)"
    else:
        x = positive("throughput", throughput)
        if unit not in ("examples", "tokens"):
            raise error(f"throughput_unit {unit!r} is not 'examples' or 'tokens'", "throughput_unit")
        if unit == "tokens":
            if "tokens" not in f:
                raise error("throughput in tokens/s needs a tokens plan (params and tokens); a count's plan "
                            "is in examples: give examples/s (images/s, sequences/s)", "throughput")
            amount = float(f["tokens"])
        else:
            if "dataset_size" not in f:
                raise error("throughput in examples/s needs a count's plan (dataset_size); a tokens plan "
                            "takes tokens/s", "throughput")
            amount = float(f["dataset_size"]) * float(f.get("epochs", 1))
        total = amount * trials / (x * s.n_devices)
        src = f"given: {x:g} {unit}/s per device (measured) on {s.n_devices} device(s)"
    # evaluation (forward passes only) at the FLOP rate the measured training implies, not at its
    # step time (left out) or its examples/s (a forward is about a third of a training step's work)
    if wl.eval_flops and wl.train_flops:
        extra = total * float(wl.eval_flops) / float(wl.train_flops)
        total += extra
        src += (f"; + {extra:.4g} s of evaluation: its forward FLOPs at the FLOP rate the measured training "
                f"implies")
    implied = float(wl.flops) / (s.n_devices * s.peak_flops * total) if total > 0 else math.inf
    if implied > 1.0:
        flag = "step time" if step_time_s is not None else "throughput"
        per = "per optimizer step" if step_time_s is not None else "per device"
        raise error(f"the measured {flag} given implies {implied:.3g}× the dense {s.precision} peak of {s.n_devices:,} "
                    f"{s.device}: faster than the hardware can run this plan's {float(wl.flops):.4g} FLOPs. It is "
                    f"{per}: a cluster's total is divided by the devices first", "step_time_s" if step_time_s
                    is not None else "throughput")
    t = Uncertain.fixed(total, "s", src)
    return _time_mfu(wl, s, t, src + "; replaces the step-time model"), \
        Uncertain.fixed(1.0, "", "1: a measured throughput includes memory-bound time")


def _unread(plan: str, model, given: dict) -> None:
    """A keyword the chosen plan does not read is an error naming it."""
    if model is not None:
        raise error("accelerator_hours replaces the model: give one of them", "accelerator_hours")
    extra = [k for k, v in given.items() if v is not None]
    if extra:
        raise error(f"{', '.join(extra)} {'does' if len(extra) == 1 else 'do'} not apply to {plan}: "
                    f"remove {'it' if len(extra) == 1 else 'them'}", *extra)


def fold_repeats(rows: list) -> list:
    """Fold the numbered copies of a block with the same FLOPs (encoder.layer.0 … encoder.layer.11)
    into one row 'encoder.layer.* (12×)' carrying their sum."""
    groups: dict = {}
    for r in rows:
        key = re.sub(r"(^|\.)\d+(?=\.|$)", r"\1*", r["name"])
        groups.setdefault((key, r.get("flops")), []).append(r)
    out = []
    for (key, f), rs in groups.items():
        if len(rs) == 1 or f is None:
            out.extend(rs)
        else:
            out.append({**rs[0], "name": f"{key} ({len(rs)}×)", "flops": f * len(rs)})
    out.sort(key=lambda r: -(r.get("flops") or 0))
    return out


def top_rows(counts, n: int = 10) -> list:
    """The n largest modules (a PyTorch capture) or operators (ONNX) of one counted pass."""
    if not hasattr(counts, "breakdown"):
        return []
    mods = getattr(getattr(counts, "table", None), "modules", None)
    by = "module" if mods and any(mods) else "op"
    total = counts.flops or 1
    if by == "module":   # the shallowest depth with at least 5 parts whose largest holds at most
        # half the FLOPs or cannot be split further (a leaf such as an LM head)
        rows = fold_repeats(counts.breakdown(by="module", depth=1))
        for depth in range(1, 9):
            deeper = fold_repeats(counts.breakdown(by="module", depth=depth + 1))
            big = rows[0] if rows else None
            leaf = big is not None and any(r["name"] == big["name"] and r["flops"] == big["flops"] for r in deeper)
            if len(rows) >= 5 and big is not None and ((big.get("flops") or 0) <= total / 2 or leaf):
                break
            rows = deeper
    else:
        rows = counts.breakdown(by="op")
    return [{"by": by, "name": r["name"], "flops": r["flops"], "share": r["flops"] / total}
            for r in rows if r.get("flops")][:n]   # zero-FLOP rows (views, "(top)") say nothing here


def compare(estimates: list) -> dict:
    """The same plan on several devices × regions: rows sorted by CO₂eq at p50, each with its
    saving against the first choice (the first estimate given)."""
    if not estimates:
        raise InputError("compare() needs at least one estimate")
    rows = [{"device": e.scenario.device, "region": e.scenario.region, **e.to_dict()} for e in estimates]
    first = rows[0]
    for r in rows:
        r["saving_vs_first"] = {q: 1.0 - r["co2eq_kg"][q] / first["co2eq_kg"][q] if first["co2eq_kg"][q] else 0.0
                                for q in ("p50",)}
        r["label"] = f"{r['device']} @ {r['region']}"
    rows.sort(key=lambda r: r["co2eq_kg"]["p50"])
    # every row's notes reach the comparison: those of every row once, the others with their row
    per_row = [list(dict.fromkeys(r.get("notes") or [])) for r in rows]
    shared = [n for n in per_row[0] if all(n in other for other in per_row[1:])]
    notes = list(shared)
    for r, own in zip(rows, per_row):
        notes += [f"{r['label']}: {n}" for n in own if n not in shared]
    return {"first_choice": first["label"], "rows": rows, "data_version": first["data_version"],
            "version": first["version"], "flops": first["flops"], "notes": notes,
            "unknown_ops": first.get("unknown_ops") or {}, "coverage": first.get("coverage")}
