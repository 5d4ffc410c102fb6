"""Budgets: compare an estimate's figures with limits, at a chosen quantile.

    flopest check ... --budget co2eq=50kg --budget energy=200kWh --budget hours=1000 --budget water=5m3

A budget is ``NAME=VALUE[UNIT]``. NAME picks a metric of the result and its unit family; a bare
number is in the metric's base unit (kg, kWh, h, L, s). The figure compared is the result's p95
by default (``at="p50"`` to choose): a plan passes only when it is within budget at that quantile.

    >>> est = flopest.estimate(params=7e9, tokens=2e11, device="h100-sxm", n_devices=64, region="FR")
    >>> flopest.check(est, co2eq_kg=50_000)            # raises flopest.BudgetExceeded when over
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from .errors import FlopestError, InputError, did_you_mean

QUANTILES = ("p5", "p50", "p95")

# unit family -> {unit: factor to the base unit}
UNITS = {
    "mass": ({"mg": 1e-6, "g": 1e-3, "kg": 1.0, "t": 1e3, "kt": 1e6, "mt": 1e9}, "kg"),
    "energy": ({"wh": 1e-3, "kwh": 1.0, "mwh": 1e3, "gwh": 1e6, "twh": 1e9}, "kWh"),
    "hours": ({"s": 1 / 3600, "min": 1 / 60, "h": 1.0, "d": 24.0, "days": 24.0, "y": 8766.0}, "h"),
    "time": ({"ms": 1e-3, "s": 1.0, "min": 60.0, "h": 3600.0, "d": 86400.0, "days": 86400.0}, "s"),
    "volume": ({"ml": 1e-3, "l": 1.0, "m3": 1e3}, "L"),
}

# budget name -> (metric key in the result's metrics, unit family, what it is)
METRICS = {
    "co2eq": ("co2eq_kg", "mass", "CO2eq, scope 2 + 3"),
    "scope2": ("co2eq_kg_scope2", "mass", "CO2eq of electricity (scope 2, location-based)"),
    "scope3": ("co2eq_kg_scope3", "mass", "CO2eq embodied share (scope 3)"),
    "energy": ("energy_kwh", "energy", "energy at the meter, PUE included"),
    "hours": ("accelerator_hours", "hours", "accelerator-hours"),
    "time": ("time_s", "time", "wall-clock time"),
    "water": ("water_l", "volume", "water, on-site and of electricity generation"),
    # serving
    "latency": ("latency_s", "time", "latency per request"),
    "co2eq-per-month": ("co2eq_kg_per_month", "mass", "CO2eq per month of serving"),
    "co2eq-per-year": ("co2eq_kg_per_year", "mass", "CO2eq per year of serving"),
    "energy-per-month": ("energy_kwh_per_month", "energy", "energy per month of serving"),
}
# keyword names of flopest.check(): the metric keys themselves
KEYWORDS = {m[0]: name for name, m in METRICS.items()}

_VALUE = re.compile(r"^\s*(-?(?:[0-9][0-9_,]*\.?[0-9]*(?:[eE][+-]?[0-9]+)?|\.[0-9]+(?:[eE][+-]?[0-9]+)?))\s*([A-Za-z0-9]*)\s*$")
_SI = {"k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12}


class BudgetExceeded(FlopestError):
    """The plan is over at least one budget. ``.result`` is the CheckResult (every budget, its
    limit, the figure compared and whether it passed); ``.figures`` its rows as dicts."""

    def __init__(self, result: "CheckResult"):
        self.result = result
        self.figures = [r.to_dict() for r in result.rows]
        super().__init__(result.verdict())


@dataclass(frozen=True)
class Budget:
    name: str        # co2eq, energy, ...
    limit: float     # in the metric's base unit
    text: str = ""   # as the user wrote it

    @property
    def metric(self) -> str:
        return METRICS[self.name][0]

    @property
    def unit(self) -> str:
        return UNITS[METRICS[self.name][1]][1]


@dataclass
class Row:
    budget: Budget
    at: str
    value: float
    range: dict

    @property
    def ok(self) -> bool:
        return self.value <= self.budget.limit

    @property
    def ratio(self) -> float:
        return self.value / self.budget.limit if self.budget.limit > 0 else math.inf

    def to_dict(self) -> dict:
        return {"budget": self.budget.name, "metric": self.budget.metric, "unit": self.budget.unit,
                "limit": self.budget.limit, "at": self.at, "value": self.value, "range": dict(self.range),
                "ratio": self.ratio, "ok": self.ok}


@dataclass
class CheckResult:
    rows: list
    at: str
    estimate: object = None
    notes: list = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.rows)

    def __bool__(self) -> bool:
        return self.ok

    def verdict(self) -> str:
        """One line: 'within budget: ...' or 'OVER BUDGET: ...'."""
        from .report import _num

        def part(r):
            return (f"{r.budget.name} {_num(r.value, r.budget.unit)} {'<=' if r.ok else '>'} "
                    f"{_num(r.budget.limit, r.budget.unit)} at {r.at}")
        over = [r for r in self.rows if not r.ok]
        if over:
            return "OVER BUDGET: " + "; ".join(part(r) for r in over)
        return "within budget: " + "; ".join(part(r) for r in self.rows)

    def to_dict(self) -> dict:
        return {"ok": self.ok, "at": self.at, "verdict": self.verdict(),
                "budgets": [r.to_dict() for r in self.rows]}




def parse_value(text, family: str, what: str) -> float:
    """'50kg' → 50, '2t' → 2000, '200kWh' → 200, '5m3' → 5000 (L), '200ms' → 0.2 (s), '1.2M' → 1.2e6
    in the family's base unit; a bare number is already in it. InputError names `what`."""
    units, base = UNITS[family]
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        v = float(text)
    else:
        m = _VALUE.match(str(text))
        if not m:
            raise InputError(f"{what}: {text!r} is not a number with an optional unit "
                             f"(e.g. 50{base}; units: {', '.join(units)})")
        num, unit = m.group(1).replace("_", "").replace(",", ""), m.group(2)
        v = float(num)
        if unit:
            if unit.lower() in units:
                v *= units[unit.lower()]
            elif unit in _SI:            # 1.2M (of the base unit)
                v *= _SI[unit]
            elif unit[0] in _SI and unit[1:].lower() in units:   # kt, MWh handled above; e.g. Mt
                v *= _SI[unit[0]] * units[unit[1:].lower()]
            else:
                raise InputError(f"{what}: unit {unit!r} of {text!r} is not one of {', '.join(units)}"
                                 f"{did_you_mean(unit.lower(), units)}")
    if not math.isfinite(v) or v < 0:
        raise InputError(f"{what}: {text!r} must be a non-negative finite amount")
    return v


def parse_budget(text: str, flag: str = "--budget") -> Budget:
    """'co2eq=50kg' → Budget('co2eq', 50.0)."""
    name, sep, value = str(text).partition("=")
    name = name.strip().lower().replace("_", "-")
    if not sep or not value.strip():
        raise InputError(f"{flag} {text!r} must look like NAME=VALUE, e.g. {flag} co2eq=50kg "
                         f"(names: {', '.join(METRICS)})")
    if name not in METRICS:
        raise InputError(f"{flag} {text!r}: unknown budget {name!r}; one of {', '.join(METRICS)}"
                         f"{did_you_mean(name, METRICS)}")
    limit = parse_value(value.strip(), METRICS[name][1], f"{flag} {name}")
    return Budget(name, limit, value.strip())


def metrics_of(result) -> dict:
    """{metric key: {p5, p50, p95}} of an Estimate (or any result with ``metrics()``)."""
    if hasattr(result, "metrics"):
        return dict(result.metrics())
    d = result.to_dict() if hasattr(result, "to_dict") else dict(result)
    out = {k: d[k] for k in ("co2eq_kg", "energy_kwh", "accelerator_hours", "time_s", "water_l") if k in d}
    for scope, v in d.get("co2eq_kg_by_scope", {}).items():
        out[f"co2eq_kg_{scope}"] = v
    return out


def evaluate(result, budgets, at: str = "p95") -> CheckResult:
    """A CheckResult for `budgets` (Budget objects or 'NAME=VALUE' strings) at quantile `at`."""
    if at not in QUANTILES:
        raise InputError(f"--at {at!r} is not one of {', '.join(QUANTILES)}{did_you_mean(at, QUANTILES)}")
    bs = [b if isinstance(b, Budget) else parse_budget(b) for b in budgets]
    if not bs:
        raise InputError("no budget given: add --budget NAME=VALUE (e.g. --budget co2eq=50kg), or a "
                         "[tool.flopest.budget] table in pyproject.toml")
    m = metrics_of(result)
    rows = []
    for b in bs:
        if b.metric not in m:
            raise InputError(f"budget {b.name!r} does not apply to this result (it has: "
                             f"{', '.join(KEYWORDS.get(k, k) for k in m)})")
        rng = m[b.metric]
        rows.append(Row(b, at, float(rng[at]), rng))
    return CheckResult(rows, at, result)


def check(result, *, at: str = "p95", budgets=(), **limits) -> CheckResult:
    """Check `result` (an Estimate, or a serving result) against budgets; raise
    :class:`BudgetExceeded` when over any, else return the CheckResult.

    Limits are keyword arguments named after the metric in its base unit — ``co2eq_kg``,
    ``energy_kwh``, ``accelerator_hours``, ``time_s``, ``water_l``, ``co2eq_kg_scope2``,
    ``co2eq_kg_scope3``, ``latency_s``, ``co2eq_kg_per_month`` … — or strings with a unit
    (``co2eq_kg="2t"``); ``budgets=["co2eq=50kg"]`` takes the CLI's form."""
    bs = [b if isinstance(b, Budget) else parse_budget(b) for b in budgets]
    for key, v in limits.items():
        if v is None:
            continue
        if key not in KEYWORDS:
            raise InputError(f"check(): unknown budget keyword {key!r}; one of {', '.join(KEYWORDS)}"
                             f"{did_you_mean(key, KEYWORDS)}")
        name = KEYWORDS[key]
        bs.append(Budget(name, parse_value(v, METRICS[name][1], key), str(v)))
    res = evaluate(result, bs, at)
    if not res.ok:
        raise BudgetExceeded(res)
    return res


def guard(model, *example_args, dataset_size, at: str = "p95", budgets=(), training_kw=None,
          example_kwargs=None, **kw):
    """Count `model` for training, estimate the plan and check it: call before training.

        flopest.guard(model, flopest.spec((32, 3, 224, 224)), dataset_size=1.28e6, epochs=90,
                      device="a100-sxm4-80gb", n_devices=8, region="FR", co2eq_kg=500)

    Keyword arguments named after a metric (co2eq_kg=, energy_kwh=, ...) are budgets; the others
    go to :func:`flopest.estimate` (epochs, batch_size, device, n_devices, region, ...).
    ``training_kw`` goes to :func:`flopest.count` (optimizer, loss_fn, checkpointing, ...);
    ``example_kwargs`` are keyword inputs of the model. Returns the Estimate when within budget,
    raises :class:`BudgetExceeded` otherwise."""
    from . import count, estimate
    limits = {k: kw.pop(k) for k in list(kw) if k in KEYWORDS}
    if not limits and not budgets:
        raise InputError("guard(): give at least one budget, e.g. co2eq_kg=50 or budgets=['energy=200kWh']")
    tk = dict(training_kw or {})
    tk.setdefault("optimizer", "adam")
    if hasattr(model, "flops") and hasattr(model, "breakdown"):   # already a Counts
        counts = model
    else:
        counts = count(model, *example_args, training=True, **tk, **(example_kwargs or {}))
    est = estimate(counts, dataset_size=dataset_size, **kw)
    check(est, at=at, budgets=budgets, **limits)
    return est


def _leading_dim(args, kwargs) -> int:
    """The batch of the example inputs: the first dim of the first tensor or spec."""
    for x in list(args) + list((kwargs or {}).values()):
        shape = getattr(x, "shape", None)
        if shape is not None and len(shape) >= 1:
            return int(shape[0])
        if isinstance(x, dict):
            n = _leading_dim((), x)
            if n:
                return n
    return 1
