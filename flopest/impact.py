"""Time, energy, CO₂eq by scope and water of a workload on a device, region and data centre,
with p5/p50/p95 from a seeded Monte-Carlo over the uncertain inputs (METHOD.md §2-4).

    time      = FLOPs × roofline factor / (devices × dense peak at the precision × MFU)
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

import math
from dataclasses import dataclass, field

import numpy as np

from . import __version__
from .errors import InputError

DEFAULT_SAMPLES = 100_000
DEFAULT_SEED = 20261122


def _kernel():
    """The Monte-Carlo kernel (kernel/_mc.py), loaded once by flopest.kernel.load."""
    from .kernel import load
    return load("_mc")


@dataclass(frozen=True)
class Uncertain:
    """A quantity known as a range: p5 <= p50 <= p95, with its unit and source."""
    p5: float
    p50: float
    p95: float
    unit: str = ""
    source: str = ""

    @staticmethod
    def fixed(v: float, unit: str = "", source: str = "given by the user") -> "Uncertain":
        return Uncertain(float(v), float(v), float(v), unit, source)

    def __post_init__(self):
        vals = (self.p5, self.p50, self.p95)
        if not all(isinstance(x, (int, float)) and math.isfinite(x) for x in vals):
            raise InputError(f"range {vals} has a value that is not a finite number ({self.source})")
        if not self.p5 <= self.p50 <= self.p95:
            raise InputError(f"range p5={self.p5}, p50={self.p50}, p95={self.p95} is not ordered "
                             f"({self.source})")

    @property
    def is_fixed(self) -> bool:
        return self.p5 == self.p50 == self.p95

    def value(self):
        return self.p50 if self.is_fixed else {"p5": self.p5, "p50": self.p50, "p95": self.p95}


@dataclass
class Scenario:
    """Everything the impact model needs besides the FLOPs (or the accelerator-hours)."""
    device: str
    n_devices: int
    peak_flops: float            # dense FLOP/s per device at the precision
    precision: str
    tdp_w: float
    mfu: Uncertain
    power_frac: Uncertain
    host_w: Uncertain
    pue: Uncertain
    intensity_g_per_kwh: Uncertain
    lifetime_years: Uncertain
    lifetime_utilisation: Uncertain
    embodied_kg: Uncertain       # per accelerator, host share included
    wue_l_per_kwh: Uncertain
    water_elec_l_per_kwh: Uncertain
    roofline: Uncertain = field(default_factory=lambda: Uncertain.fixed(1.0, "", "GEMM-bound"))
    power_w: float | None = None  # all-in draw per accelerator, given by the user
    region: str = ""
    datacenter: str = ""
    notes: list = field(default_factory=list)
    device_source: str = "flopest/data/devices.csv"

    def assumptions(self) -> list:
        rows = [
            ("device", self.device, "", self.device_source),
            ("devices", self.n_devices, "", "given"),
            (f"peak {self.precision} FLOP/s per device (dense)", self.peak_flops, "FLOP/s",
             self.device_source),
        ]
        if self.power_w is not None:
            rows.append(("power per accelerator, all-in", self.power_w, "W", "given by the user"))
        else:
            rows.append(("TDP", self.tdp_w, "W", self.device_source))
        out = [{"name": n, "value": v, "unit": u, "source": s} for n, v, u, s in rows]
        for name, u in (("MFU", self.mfu), ("average power / TDP", self.power_frac),
                        ("host power per accelerator", self.host_w), ("PUE", self.pue),
                        ("grid carbon intensity (location-based)", self.intensity_g_per_kwh),
                        ("hardware lifetime", self.lifetime_years),
                        ("lifetime utilisation", self.lifetime_utilisation),
                        ("embodied emissions per accelerator, host share included", self.embodied_kg),
                        ("on-site water (WUE)", self.wue_l_per_kwh),
                        ("water of electricity generation", self.water_elec_l_per_kwh),
                        ("roofline factor (per-operator memory-bound time / compute time)", self.roofline)):
            if self.power_w is not None and name in ("average power / TDP", "host power per accelerator"):
                continue
            out.append({"name": name, "value": u.value(), "unit": u.unit, "source": u.source})
        return out


def _q(s: Scenario) -> np.ndarray:
    k = _kernel()
    q = np.zeros((3, k.NQ))
    for idx, u in ((k.MFU, s.mfu), (k.POWER_FRAC, s.power_frac), (k.HOST_W, s.host_w), (k.PUE, s.pue),
                   (k.INTENSITY, s.intensity_g_per_kwh), (k.LIFETIME_Y, s.lifetime_years),
                   (k.UTIL, s.lifetime_utilisation), (k.EMBODIED, s.embodied_kg), (k.WUE, s.wue_l_per_kwh),
                   (k.WATER_ELEC, s.water_elec_l_per_kwh), (k.ROOFLINE, s.roofline)):
        q[:, idx] = (u.p5, u.p50, u.p95)
    return q


QUANTILES = (5, 50, 95)
OUTPUTS = ("time_s", "accelerator_hours", "energy_kwh", "scope2", "scope3", "water_l")


def simulate(s: Scenario, flops: float = 0.0, accelerator_hours: float | None = None,
             samples: int = DEFAULT_SAMPLES, seed: int = DEFAULT_SEED) -> dict:
    """{output: {p5, p50, p95}} for the outputs in OUTPUTS, plus co2eq_kg (scope 2 + 3 per sample)."""
    if samples < 1:
        raise InputError(f"samples must be >= 1, got {samples}")
    k = _kernel()
    q = _q(s)
    cols = np.flatnonzero(~((q[0] == q[1]) & (q[1] == q[2]))).astype(np.int64)
    z = np.random.default_rng(seed).standard_normal((samples, len(cols)))
    out = np.empty((6, samples))
    k.simulate(q, z, cols, float(flops), float(s.n_devices), float(s.peak_flops), float(s.tdp_w),
               float(s.power_w or 0.0), float(accelerator_hours or 0.0), out)
    res = {}
    for name, row in zip(OUTPUTS, out):
        res[name] = _quantiles(row)
    res["co2eq_kg"] = _quantiles(out[3] + out[4])
    return res


def _quantiles(a: np.ndarray) -> dict:
    p = np.percentile(a, QUANTILES)
    return {"p5": float(p[0]), "p50": float(p[1]), "p95": float(p[2])}


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

    def to_dict(self) -> dict:
        d = {
            "flops": self.flops,
            "accelerator_hours": self.accelerator_hours,
            "time_s": self.time_s,
            "energy_kwh": self.energy_kwh,
            "co2eq_kg": self.co2eq_kg,
            "water_l": self.water_l,
            "co2eq_kg_by_scope": self.co2eq_kg_by_scope,
            "assumptions": self.scenario.assumptions(),
            "data_version": self.data_version,
            "version": __version__,
            "notes": list(self.notes) + list(self.scenario.notes),
            "method": "location-based scope 2; scope 3 = embodied share by use time / lifetime; "
                      "offsets never subtracted",
        }
        if self.workload is not None:
            d["workload"] = self.workload.to_dict()
        if self.top:
            d["top"] = [dict(r) for r in self.top]
        d["equivalences"] = equivalences(self.co2eq_kg["p50"], self.energy_kwh["p50"])
        return d

    def metrics(self) -> dict:
        """{metric: {p5, p50, p95}}: the figures a budget can bound (flopest.check)."""
        return {"co2eq_kg": self.co2eq_kg, "energy_kwh": self.energy_kwh,
                "accelerator_hours": self.accelerator_hours, "time_s": self.time_s, "water_l": self.water_l,
                "co2eq_kg_scope2": self.result["scope2"], "co2eq_kg_scope3": self.result["scope3"]}

    def to_markdown(self) -> str:
        from .report import render_estimate
        return render_estimate(self.to_dict(), "markdown")

    def _repr_html_(self) -> str:
        from .report import estimate_html
        return estimate_html(self.to_dict())

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
    from . import profiles
    table = profiles.equivalences()
    out = []
    for eid, basis, fn, label in _EQUIV:
        e = table.get(eid)
        if e is None or not e.value:
            continue
        amount = fn(float(e.value), co2eq_kg if basis == "co2" else energy_kwh)
        out.append({"id": eid, "amount": amount, "what": label, "source": f"{e.source} ({e.year})"})
    return out


# ----------------------------------------------------------------------------- from the data
PRECISIONS = ("fp32", "tf32", "bf16", "fp16", "fp8", "int8")
LIFETIME_UTILISATION = Uncertain(0.85, 0.85, 0.85, "",
                                 "Luccioni et al. 2022 (BLOOM LCA, arXiv:2211.02001): hardware in use "
                                 "85 % of its lifetime")
EMBODIED_SPREAD = 1.5   # p95 / p50 of embodied figures: published LCAs are likely underestimates


def _u(p5, p50, p95, unit, source) -> Uncertain:
    p5 = p50 if p5 is None else p5
    p95 = p50 if p95 is None else p95
    return Uncertain(float(min(p5, p50)), float(p50), float(max(p95, p50)), unit, source)


def _datacenter_for(region_id: str) -> str:
    for prefix in ("aws", "gcp", "azure"):
        if region_id.lower().startswith(prefix + ":"):
            return prefix
    return "hyperscaler"


def build_scenario(device: str, n_devices: int = 1, region: str = "WORLD", datacenter: str | None = None,
                   precision: str | None = None, host: str | None = None, *, mfu=None, pue=None,
                   intensity=None, power_w=None, lifetime_years=None) -> Scenario:
    """A Scenario from the embedded tables; each given override fixes its input."""
    from . import profiles
    from .errors import did_you_mean
    dev = profiles.device(device)
    if precision is None:   # the device's fastest 16-bit format, else fp32
        precision = next((p for p in ("bf16", "fp16", "tf32", "fp32")
                          if getattr(dev, f"peak_{p}_tflops")), "fp32")
    if precision not in PRECISIONS:
        raise InputError(f"precision {precision!r} is not one of {', '.join(PRECISIONS)}"
                         f"{did_you_mean(precision, PRECISIONS)}")
    col = "peak_int8_tops" if precision == "int8" else f"peak_{precision}_tflops"
    peak = getattr(dev, col)
    if not peak:
        have = [p for p in PRECISIONS if getattr(dev, "peak_int8_tops" if p == "int8" else f"peak_{p}_tflops")]
        raise InputError(f"device {dev.id!r} has no dense {precision} peak in the data; its precisions: "
                         f"{', '.join(have)} (--precision)")
    n = int(n_devices)
    if n < 1:
        raise InputError(f"--devices must be >= 1, got {n_devices!r}")
    reg = profiles.region(region)
    dc_id = datacenter or _datacenter_for(reg.id)
    dc = profiles.datacenter(dc_id)
    notes = []
    src_dev = f"flopest/data/devices.csv ({dev.source}, {dev.year})"
    if mfu is not None:
        mfu_u = Uncertain.fixed(_frac("--mfu", mfu), "", "given by the user")
    else:
        pr = profiles.mfu_prior(dev.mfu_class)
        mfu_u = Uncertain(pr.p5, pr.p50, pr.p95, "", f"mfu_priors.csv [{dev.mfu_class}] ({pr.source})")
    kind = dev.kind if dev.kind in ("gpu", "tpu") else "cpu"
    pp = profiles.power_prior(kind)
    power_frac = Uncertain(pp.p5, pp.p50, pp.p95, "", f"power_priors.csv [{kind}] ({pp.source})")
    try:
        hp = profiles.power_prior(f"host-{kind}")
        host_w = Uncertain(hp.p5, hp.p50, hp.p95, "W", f"power_priors.csv [host-{kind}] ({hp.source})")
    except KeyError:
        host_w = Uncertain.fixed(0.0, "W", f"no host figure for {kind}: 0")
    if pue is not None:
        pv = float(pue)
        if not (1.0 <= pv <= 3.0):
            raise InputError(f"--pue must be between 1 and 3, got {pue!r}")
        pue_u = Uncertain.fixed(pv, "", "given by the user")
    else:
        pue_u = _u(dc.pue_p5, dc.pue_p50, dc.pue_p95, "", f"datacenters.csv [{dc.id}] ({dc.source}, {dc.year})")
    if intensity is not None:
        iv = float(intensity)
        if not (0.0 <= iv <= 2000.0) or iv != iv:
            raise InputError(f"--intensity must be between 0 and 2000 g CO2eq/kWh, got {intensity!r}")
        int_u = Uncertain.fixed(iv, "g CO2eq/kWh", "given by the user")
    else:
        int_u = Uncertain.fixed(reg.intensity_g_per_kwh, "g CO2eq/kWh",
                                f"grid_intensity.csv [{reg.id}] ({reg.source}, {reg.year}; {reg.licence})")
    # host server: the one built around this device, else a generic 8-GPU server
    hosts = [h for h in profiles.hosts() if h.accelerator == dev.id]
    h = profiles.host(host) if host else (hosts[0] if hosts else profiles.host("generic-8gpu"))
    if lifetime_years is not None:
        lv = float(lifetime_years)
        if not (0.0 < lv <= 50.0):   # NaN fails too
            raise InputError(f"--lifetime-years must be above 0 and at most 50, got {lifetime_years!r}")
        lt = Uncertain.fixed(lv, "years", "given by the user")
    else:
        lt = _u(h.lifetime_min_years, h.lifetime_years, h.lifetime_years, "years",
                f"hosts.csv [{h.id}] ({h.lifetime_source})")
    emb = dev.embodied_kgco2e + (h.embodied_kgco2e / h.accelerators_per_server if dev.kind != "cpu" else 0.0)
    emb_u = Uncertain(emb, emb, emb * EMBODIED_SPREAD, "kg CO2eq",
                      f"devices.csv embodied ({dev.embodied_source}) + hosts.csv [{h.id}] / "
                      f"{h.accelerators_per_server} ({h.embodied_source}); p95 = 1.5 × (published LCAs "
                      f"are likely underestimates, METHOD.md §4)")
    wue = dc.wue_l_per_kwh
    wue_u = Uncertain.fixed(wue or 0.0, "L/kWh", f"datacenters.csv [{dc.id}]" + ("" if wue else ": not published, 0"))
    try:
        wf = profiles.water_electricity(reg.maps_to or reg.id)
        we_u = Uncertain.fixed(wf.water_l_per_kwh, "L/kWh", f"water_electricity.csv [{wf.region}] ({wf.source})")
    except KeyError:
        we_u = Uncertain.fixed(0.0, "L/kWh", "no water factor for this region: 0")
        notes.append(f"no water-of-electricity figure for {reg.id}: water counts on-site use only")
    pw = None
    if power_w is not None:
        pw = float(power_w)
        if not (0 < pw < 100_000):
            raise InputError(f"--power-w must be a positive number of watts, got {power_w!r}")
    s = Scenario(dev.id, n, float(peak) * 1e12, precision, float(dev.tdp_w), mfu_u, power_frac, host_w,
                 pue_u, int_u, lt, LIFETIME_UTILISATION, emb_u, wue_u, we_u, power_w=pw, region=reg.id,
                 datacenter=dc.id, notes=notes)
    s.device_source = f"{dev.origin or 'flopest/data/devices.csv'} ({dev.source}, {dev.year})"
    return s


def _frac(name, v) -> float:
    f = float(v)
    if not (0 < f <= 1):
        raise InputError(f"{name} must be in (0, 1], got {v!r}")
    return f


def estimate(counts_or_workload=None, *, device: str, n_devices: int = 1, region: str = "WORLD",
             datacenter: str | None = None, precision: str | None = None, pue=None, intensity=None,
             mfu=None, power_w=None, lifetime_years=None, host: str | None = None,
             accelerator_hours=None, params=None, tokens=None, samples: int = DEFAULT_SAMPLES,
             seed: int = DEFAULT_SEED, **workload_kw) -> Estimate:
    """Time, energy, CO₂eq by scope and water, with p5/p50/p95.

    counts_or_workload: a `Counts` (then dataset_size=, epochs=, ... build the Workload), a
    `Workload`, or None with params= and tokens= (6·N·D) or accelerator_hours= (a posteriori).
    """
    from . import profiles
    from .workload import Workload, from_counts, from_params
    wl = None
    flops = 0
    if accelerator_hours is not None:
        hours = float(accelerator_hours)
        if not (hours > 0) or hours != hours or hours == float("inf"):
            raise InputError(f"accelerator-hours must be a positive number, got {accelerator_hours!r}")
    else:
        hours = None
        if isinstance(counts_or_workload, Workload):
            wl = counts_or_workload
        elif counts_or_workload is not None:
            if "dataset_size" not in workload_kw:
                raise InputError("a count needs dataset_size= (the number of training examples; "
                                 "CLI --dataset-size)")
            wl = from_counts(counts_or_workload, **workload_kw)
        elif params is not None and tokens is not None:
            wl = from_params(params, tokens, **workload_kw)
        else:
            raise InputError("give a model, params and tokens (6·N·D), or accelerator hours")
        flops = wl.flops
    s = build_scenario(device, n_devices, region, datacenter, precision, host, mfu=mfu, pue=pue,
                       intensity=intensity, power_w=power_w, lifetime_years=lifetime_years)
    notes = list(wl.notes) if wl else []
    graph = wl is not None and not isinstance(counts_or_workload, Workload) and counts_or_workload is not None
    if graph and hasattr(counts_or_workload, "roofline_factor"):
        s.roofline = _roofline(counts_or_workload, s, profiles.device(device))
        cap = wl.factors.get("batch_size")
        per = workload_kw.get("capture_examples", 1)
        if s.roofline.p50 > 1.05 and cap and cap != per:
            notes.append(f"the roofline factor is read off the counted pass of {per} example(s); training "
                         f"batches hold {cap}: count at the training batch for a tighter time")
    res = simulate(s, flops=flops, accelerator_hours=hours, samples=samples, seed=seed)
    if hours is not None:
        notes.append("a posteriori: time and energy from the accelerator-hours given")
    top = _top_rows(counts_or_workload) if graph else []
    return Estimate(flops, res, s, wl, profiles.DATA_VERSION, notes, top)


ELEMENT_BYTES = {"fp32": 4, "tf32": 4, "bf16": 2, "fp16": 2, "fp8": 1, "int8": 1}


def _roofline(counts, s: Scenario, dev) -> Uncertain:
    """The per-operator roofline factor of the counted pass on this device (Counts.roofline_factor):
    p95 as counted (no fusion, the graph's dtypes: fp32 for most captures), p5 with the glue
    operators fused into the matrix kernels and every tensor at the precision's element size,
    p50 their geometric mean."""
    bw = dev.mem_bandwidth_bytes_per_s
    hi = counts.roofline_factor(s.peak_flops, bw)
    lo = min(hi, counts.roofline_factor(s.peak_flops, bw, ELEMENT_BYTES[s.precision] / 4, fused=True))
    src = (f"per-operator roofline of the counted graph: Σ max(FLOPs/peak, bytes/bandwidth) / Σ FLOPs/peak "
           f"at {s.peak_flops:.3g} FLOP/s and {bw:.3g} B/s (devices.csv); p95 unfused at the counted dtypes, "
           f"p5 with elementwise/norm/softmax/copies fused and tensors at {s.precision}")
    return Uncertain(lo, math.sqrt(lo * hi), hi, "", src)


def _fold_repeats(rows: list) -> list:
    """Fold the numbered copies of a block with the same FLOPs (encoder.layer.0 … encoder.layer.11)
    into one row 'encoder.layer.* (12×)' carrying their sum."""
    import re
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


def _top_rows(counts, n: int = 10) -> list:
    """The n largest modules (a PyTorch capture) or operators (ONNX) of one counted pass."""
    if not hasattr(counts, "breakdown"):
        return []
    mods = getattr(getattr(counts, "table", None), "modules", None)
    by = "module" if mods and any(mods) else "op"
    total = counts.flops or 1
    if by == "module":   # the shallowest depth with at least 5 parts whose largest holds at most
        # half the FLOPs or cannot be split further (a leaf such as an LM head)
        rows = _fold_repeats(counts.breakdown(by="module", depth=1))
        for depth in range(1, 9):
            deeper = _fold_repeats(counts.breakdown(by="module", depth=depth + 1))
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
    return {"first_choice": first["label"], "rows": rows, "data_version": first["data_version"],
            "version": first["version"], "flops": first["flops"]}
