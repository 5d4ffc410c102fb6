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
import threading
from dataclasses import dataclass, field

import numpy as np

from . import __version__
from .errors import InputError

DEFAULT_SAMPLES = 100_000
DEFAULT_SEED = 20261122
_lock = threading.Lock()
_mc = None


def _kernel():
    global _mc
    if _mc is None:
        with _lock:
            if _mc is None:
                import importlib
                _mc = importlib.import_module(".kernel._mc", "flopest")
    return _mc


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

    def assumptions(self) -> list:
        rows = [
            ("device", self.device, "", "flopest/data/devices.csv"),
            ("devices", self.n_devices, "", "given"),
            (f"peak {self.precision} FLOP/s per device (dense)", self.peak_flops, "FLOP/s",
             "flopest/data/devices.csv"),
        ]
        if self.power_w is not None:
            rows.append(("power per accelerator, all-in", self.power_w, "W", "given by the user"))
        else:
            rows.append(("TDP", self.tdp_w, "W", "flopest/data/devices.csv"))
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
        return d
