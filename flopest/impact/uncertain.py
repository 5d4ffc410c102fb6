"""Uncertain inputs (p5, p50, p95, unit, source), their samples and the quantiles of a result.

Every uncertain input of the impact model is an `Uncertain`; a value the user fixes collapses
its range. `sample` draws them all with the one Monte-Carlo sampler of the house
(flopest.kernel.montecarlo: a two-piece log-normal through p5, p50 and p95, seeded).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import InputError
from ..kernel.montecarlo import sample as _draw

DEFAULT_SAMPLES = 100_000
DEFAULT_SEED = 20261122
QUANTILES = (5, 50, 95)


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


def between(p5, p50, p95, unit, source) -> Uncertain:
    """An Uncertain from a data row whose p5 or p95 may be missing (then p50) or on the wrong side."""
    p5 = p50 if p5 is None else p5
    p95 = p50 if p95 is None else p95
    return Uncertain(float(min(p5, p50)), float(p50), float(max(p95, p50)), unit, source)


# physical bounds of the inputs that have one: samples beyond are set to the bound
BOUNDS = {"mfu": (-math.inf, 1.0), "mbu": (-math.inf, 1.0), "power_frac": (-math.inf, 1.0),
          "lifetime_utilisation": (-math.inf, 1.0), "pue": (1.0, math.inf), "roofline": (1.0, math.inf)}


def sample(inputs: dict, samples: int, seed: int, bounds=None, aligned: bool = False) -> dict:
    """{name: array of `samples` draws} for {name: Uncertain}, in one seeded draw (the order of
    `inputs` fixes which normals each input gets). `bounds`: {name: (lower, upper)} for the
    inputs that have physical bounds (BOUNDS: MFU <= 1, PUE >= 1, ...); aligned: each input keeps
    its own column of normals whether it is constant or not (flopest.kernel.montecarlo.sample)."""
    names = list(inputs)
    q = np.array([[inputs[n].p5 for n in names], [inputs[n].p50 for n in names],
                  [inputs[n].p95 for n in names]], float).reshape(3, len(names))
    bounds = bounds or {}
    lo = np.array([bounds.get(n, (-math.inf, math.inf))[0] for n in names], float)
    hi = np.array([bounds.get(n, (-math.inf, math.inf))[1] for n in names], float)
    v = _draw(q, samples, seed, lo, hi, aligned=aligned)
    return {n: v[j] for j, n in enumerate(names)}


def quantiles_of(rows: dict) -> dict:
    """{name: {p5, p50, p95}} for {name: samples}, the rows of equal length read in one
    percentile call (the same figures as quantiles() row by row, at a fraction of the cost)."""
    names = list(rows)
    if not names:
        return {}
    p = np.percentile(np.stack([np.asarray(rows[n], float) for n in names]), QUANTILES, axis=1)
    return {n: {"p5": float(p[0, j]), "p50": float(p[1, j]), "p95": float(p[2, j])} for j, n in enumerate(names)}


def quantiles(a, integer: bool = False) -> dict:
    """{p5, p50, p95} of the samples `a` (integers by the nearest sample, for device counts)."""
    a = np.asarray(a, float)
    if integer:
        p = np.percentile(a, QUANTILES, method="nearest")
        return {"p5": int(p[0]), "p50": int(p[1]), "p95": int(p[2])}
    p = np.percentile(a, QUANTILES)
    return {"p5": float(p[0]), "p50": float(p[1]), "p95": float(p[2])}
