"""Budgets: compare an estimate's figures with limits, at a chosen quantile.

    flopest check ... --budget co2eq=50kg --budget energy=200kWh --budget hours=1000 --budget water=5m3

A budget is ``NAME=VALUE[UNIT]``. NAME picks a metric of the result and its unit family; a bare
number is in the metric's base unit (kg, kWh, h, L, s). The figure compared is the result's p95
by default (``at="p50"`` to choose): a plan passes only when it is within budget at that quantile.

    >>> est = flopest.estimate(params=7e9, tokens=2e11, device="h100-sxm", n_devices=64, region="FR")
    >>> flopest.check(est, co2eq_kg=50_000)            # raises flopest.BudgetExceeded when over
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .errors import BudgetExceeded, CoverageError, FlopestError, InputError, did_you_mean  # noqa: F401
from .units import clip, format_quantity, parse_quantity
from .validate import error

QUANTILES = ("p5", "p50", "p95")

# unit family -> (units.py family, the base unit budgets are compared in, the unit a bare
# number is in: None = a unit is required). Only "hours" takes a bare number: its name is its unit.
UNITS = {
    "mass": ("mass", "kg", None),
    "energy": ("energy", "kWh", None),
    "hours": ("duration", "h", "h"),
    "time": ("duration", "s", None),
    "volume": ("volume", "L", None),
    "money": ("money", "USD", "USD"),   # a bare number is in USD (its name says so): cost=1.2M
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
    "cost": ("cost_usd", "money", "accelerator-hours × on-demand list price (USD)"),
    # serving
    "latency": ("latency_s", "time", "latency per request"),
    "co2eq-per-month": ("co2eq_kg_per_month", "mass", "CO2eq per month of serving"),
    "co2eq-per-year": ("co2eq_kg_per_year", "mass", "CO2eq per year of serving"),
    "energy-per-month": ("energy_kwh_per_month", "energy", "energy per month of serving"),
}
# keyword names of flopest.check(): the metric keys themselves
KEYWORDS = {m[0]: name for name, m in METRICS.items()}


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
        return bool(self.value <= self.budget.limit)   # a plain bool: numpy's does not go to JSON

    @property
    def ratio(self) -> float | None:
        """value / limit; None for a zero limit (no finite ratio: JSON has no Infinity)."""
        if self.budget.limit > 0:
            return self.value / self.budget.limit
        return 0.0 if self.value == 0 else None

    def to_dict(self) -> dict:
        return {"budget": self.budget.name, "metric": self.budget.metric, "unit": self.budget.unit,
                "limit": self.budget.limit, "at": self.at, "value": self.value, "range": dict(self.range),
                "ratio": self.ratio, "ok": self.ok}


@dataclass
class CheckResult:
    """The verdict: every budget's row, and what the result did not cost (``unknown_ops``
    {op: count}, ``coverage`` the share of operators costed, None when the plan has no graph).

    ``state``: "ok" (within every budget, everything costed or ``allow_unknown``), "over"
    (over a budget: the uncosted operators can only add to it) or "incomplete" (within budget
    for what was costed, but some operators were not: nothing can be concluded).
    ``exit_code``: 0, 1, 2 for these."""
    rows: list
    at: str
    estimate: object = None
    notes: list = field(default_factory=list)
    unknown_ops: dict = field(default_factory=dict)
    coverage: float | None = None
    allow_unknown: bool = False
    partial: list = field(default_factory=list)   # figures of a budget counted in part only (why)

    @property
    def complete(self) -> bool:
        return not self.unknown_ops and (self.coverage is None or self.coverage >= 1.0) and not self.partial

    @property
    def state(self) -> str:
        if not all(r.ok for r in self.rows):
            return "over"
        return "ok" if self.complete or self.allow_unknown else "incomplete"

    @property
    def ok(self) -> bool:
        return self.state == "ok"

    @property
    def exit_code(self) -> int:
        return {"ok": 0, "over": 1, "incomplete": 2}[self.state]

    def __bool__(self) -> bool:
        return self.ok

    def uncosted(self) -> str:
        """'2 operator node(s) not costed (FusedMatMul ×2), coverage 92.0 %' or ''."""
        if self.complete:
            return ""
        parts = []
        if self.unknown_ops or (self.coverage is not None and self.coverage < 1.0):
            listing = ", ".join(f"{k} ×{v}" for k, v in sorted(self.unknown_ops.items())) or "unnamed"
            cov = f", coverage {self.coverage:.1%}" if self.coverage is not None else ""
            parts.append(f"{sum(self.unknown_ops.values())} operator node(s) not costed ({listing}){cov}")
        parts += self.partial
        return "; ".join(parts)

    def verdict(self) -> str:
        """One line: 'within budget: ...', 'OVER BUDGET: ...' or 'NOT CHECKED: ...', saying what
        was not costed whenever something was not."""
        def part(r):
            return (f"{r.budget.name} {format_quantity(r.value, r.budget.unit)} {'<=' if r.ok else '>'} "
                    f"{format_quantity(r.budget.limit, r.budget.unit)} at {r.at}")
        state, miss = self.state, self.uncosted()
        if state == "over":
            line = "OVER BUDGET: " + "; ".join(part(r) for r in self.rows if not r.ok)
            return line + (f" (at least: {miss})" if miss else "")
        if state == "incomplete":
            return (f"NOT CHECKED: {miss}; the costed part is " + "; ".join(part(r) for r in self.rows)
                    + " — the rest is unknown, not 0 (give allow_unknown / --allow-unknown to accept "
                    "the costed part only)")
        line = "within budget: " + "; ".join(part(r) for r in self.rows)
        return line + (f" (costed part only: {miss}, allowed)" if miss else "")

    def to_dict(self) -> dict:
        return {"ok": self.ok, "state": self.state, "exit_code": self.exit_code, "at": self.at,
                "verdict": self.verdict(), "budgets": [r.to_dict() for r in self.rows],
                "unknown_ops": dict(sorted(self.unknown_ops.items())), "coverage": self.coverage,
                "partial": list(self.partial), "allow_unknown": self.allow_unknown, "notes": list(self.notes)}


def parse_value(text, family: str, what: str, *, bare: str | None = "family") -> float:
    """'50kg' → 50, '2t' → 2000, '200kWh' → 200, '5m3' → 5000 (L), '200ms' → 0.2 (s) in the
    family's base unit (units.py rules: case-sensitive SI prefixes, no decimal comma). A number
    without a unit is an error except for "hours" (``bare="family"``: the family's own rule);
    ``bare="base"`` takes a bare number in the base unit (an API keyword names its unit).
    InputError names `what`."""
    fam, base, family_bare = UNITS[family]
    b = family_bare if bare == "family" else base if bare == "base" else bare
    return parse_quantity(text, fam, what, to=base, bare=b)


def parse_budget(text: str, flag: str = "--budget") -> Budget:
    """'co2eq=50kg' → Budget('co2eq', 50.0); 'co2eq=50' is an error (no unit)."""
    name, sep, value = str(text).partition("=")
    name = name.strip().lower().replace("_", "-")
    if not sep or not value.strip():
        raise InputError(f"{flag} {clip(text)} must look like NAME=VALUE, e.g. {flag} co2eq=50kg "
                         f"(names: {', '.join(METRICS)})")
    if name not in METRICS:
        raise InputError(f"{flag} {clip(text)}: unknown budget {clip(name)}; one of {', '.join(METRICS)}"
                         f"{did_you_mean(name, METRICS)}")
    limit = parse_value(value.strip(), METRICS[name][1], f"{flag} {name}")
    return Budget(name, limit, value.strip())


def metrics_of(result) -> dict:
    """{metric key: {p5, p50, p95}} of an Estimate (or any result with ``metrics()``)."""
    if hasattr(result, "metrics"):
        return dict(result.metrics())
    d = result.to_dict() if hasattr(result, "to_dict") else dict(result)
    ranged = lambda v: isinstance(v, dict) and {"p5", "p50", "p95"} <= set(v)   # noqa: E731
    if d.get("kind") == "serving":   # a serving result's own budgets; its time_s is the service's length
        from .impact.serving import ServingEstimate
        out = {k: d[k] for k in ServingEstimate.METRICS if ranged(d.get(k))}
    else:
        out = {k: d[k] for k in ("co2eq_kg", "energy_kwh", "accelerator_hours", "time_s", "water_l") if ranged(d.get(k))}
        if ranged(d.get("cost_usd")):
            out["cost_usd"] = d["cost_usd"]
    for scope, v in (d.get("co2eq_kg_by_scope") or {}).items():
        out[f"co2eq_kg_{scope}"] = v
    return out


def coverage_of(result) -> tuple:
    """(unknown_ops {op: count}, coverage or None) of a result: its ``unknown_ops`` and
    ``coverage`` attributes, or those keys of its dict (Estimate.to_dict(), Counts.to_dict())."""
    unknown = getattr(result, "unknown_ops", None)
    cov = getattr(result, "coverage", None)
    if unknown is None and cov is None:
        d = result if isinstance(result, dict) else None
        if d is None and hasattr(result, "to_dict") and not hasattr(result, "metrics"):
            d = result.to_dict()
        if d is not None:
            unknown, cov = d.get("unknown_ops"), d.get("coverage")
    return dict(unknown or {}), (None if cov is None else float(cov))


def evaluate(result, budgets, at: str = "p95", *, allow_unknown: bool = False) -> CheckResult:
    """A CheckResult for `budgets` (Budget objects or 'NAME=VALUE' strings) at quantile `at`.

    When the result did not cost every operator (``unknown_ops``, coverage below 100 %) and no
    budget is exceeded, the verdict is "incomplete" (exit code 2) and :class:`CoverageError` is
    raised, unless ``allow_unknown=True`` accepts the costed part. Over a budget stays "over":
    what was not costed can only add to the figures."""
    if at not in QUANTILES:
        raise error(f"at {clip(at)} is not one of {', '.join(QUANTILES)}{did_you_mean(at, QUANTILES)}", "at")
    if not (hasattr(result, "metrics") or (hasattr(result, "to_dict") and not hasattr(result, "breakdown"))
            or isinstance(result, dict)):
        raise TypeError(f"check() takes an Estimate or a serving estimate (flopest.estimate(...), "
                        f"flopest.serve(...)), not {type(result).__name__}")
    if not isinstance(allow_unknown, bool):
        raise InputError(f"allow_unknown must be True or False, got {clip(allow_unknown)}")
    bs = [b if isinstance(b, Budget) else parse_budget(b) for b in budgets]
    if not bs:
        raise InputError("no budget given: add --budget NAME=VALUE (e.g. --budget co2eq=50kg), or a "
                         "[tool.flopest.budget] table in pyproject.toml")
    m = metrics_of(result)
    rows = []
    for b in bs:
        if b.metric not in m and b.name == "cost":
            raise InputError("budget 'cost': no price per accelerator-hour is known for this device and region; "
                             "give one with --price-per-hour (API price_per_hour=)")
        if b.metric not in m:
            raise InputError(f"budget {b.name!r} does not apply to this result (it has: "
                             f"{', '.join(KEYWORDS.get(k, k) for k in m)})")
        rng = m[b.metric]
        rows.append(Row(b, at, float(rng[at]), rng))
    unknown, cov = coverage_of(result)
    partial = []
    missing_water = getattr(getattr(result, "scenario", None), "water_partial", None)
    if missing_water and any(b.metric == "water_l" for b in bs):
        partial.append(f"water leaves out what has no figure ({missing_water})")
    res = CheckResult(rows, at, result, unknown_ops=unknown, coverage=cov, allow_unknown=allow_unknown,
                      partial=partial)
    if res.uncosted():
        res.notes.append(f"{res.uncosted()}: what is left out is unknown, not 0"
                         + ("; accepted (allow_unknown)" if allow_unknown else ""))
    if res.state == "incomplete":
        raise CoverageError(res)
    return res


def check(result, *, at: str = "p95", budgets=(), allow_unknown: bool = False, **limits) -> CheckResult:
    """Check `result` (an Estimate, or a serving result) against budgets; raise
    :class:`BudgetExceeded` when over any, :class:`CoverageError` when some operators were not
    costed (unless ``allow_unknown=True``), else return the CheckResult.

    Limits are keyword arguments named after the metric, a number in its unit — ``co2eq_kg``,
    ``energy_kwh``, ``accelerator_hours``, ``time_s``, ``water_l``, ``co2eq_kg_scope2``,
    ``co2eq_kg_scope3``, ``latency_s``, ``co2eq_kg_per_month`` … — or a string with a unit
    (``co2eq_kg="2t"``); ``budgets=["co2eq=50kg"]`` takes the CLI's form."""
    for key in limits:
        if key not in KEYWORDS:
            raise InputError(f"check(): unknown budget keyword {clip(key)}; one of {', '.join(KEYWORDS)}"
                             f"{did_you_mean(key, KEYWORDS)}")
    if isinstance(budgets, (str, bytes)):
        budgets = [budgets]
    if not isinstance(budgets, (list, tuple)):
        raise TypeError(f"budgets must be a list of 'NAME=VALUE' strings (e.g. ['co2eq=50kg']), not "
                        f"{type(budgets).__name__}")
    bs = [b if isinstance(b, Budget) else parse_budget(b) for b in budgets]
    for key, v in limits.items():
        if v is None:
            continue
        name = KEYWORDS[key]
        bs.append(Budget(name, float(parse_value(v, METRICS[name][1], key, bare="base")), str(v)))
    seen: dict = {}
    for b in bs:   # one budget, two limits (a keyword and a budgets= string): which one?
        if b.name in seen and seen[b.name] != b.limit:
            raise InputError(f"check(): budget {b.name!r} given twice with two limits ({seen[b.name]:g} and "
                             f"{b.limit:g} {b.unit}): give it once")
        seen[b.name] = b.limit
    res = evaluate(result, bs, at, allow_unknown=allow_unknown)
    if not res.ok:
        raise BudgetExceeded(res)
    return res


def guard(model, *example_args, dataset_size, at: str = "p95", budgets=(), training_kw=None,
          example_kwargs=None, allow_unknown: bool = False, **kw):
    """Count `model` for training, estimate the plan and check it: call before training.

        flopest.guard(model, flopest.spec((32, 3, 224, 224)), dataset_size=1.28e6, epochs=90,
                      device="a100-sxm4-80gb", n_devices=8, region="FR", co2eq_kg=500)

    Keyword arguments named after a metric (co2eq_kg=, energy_kwh=, ...) are budgets; the others
    go to :func:`flopest.estimate` (epochs, batch_size, device, n_devices, region, ...).
    ``training_kw`` goes to :func:`flopest.count` (optimizer, loss_fn, checkpointing, ...);
    ``example_kwargs`` are keyword inputs of the model. Returns the Estimate when within budget,
    raises :class:`BudgetExceeded` otherwise."""
    from .impact import estimate
    from .models import count
    limits = {k: kw.pop(k) for k in list(kw) if k in KEYWORDS}
    if not limits and not budgets:
        raise InputError("guard(): give at least one budget, e.g. co2eq_kg=50 or budgets=['energy=200kWh']")
    if training_kw is not None and not isinstance(training_kw, dict):
        raise InputError(f"guard(): training_kw must be a dict of flopest.count() keywords, got {training_kw!r}")
    tk = dict(training_kw or {})
    if "optimizer" in kw and not (hasattr(model, "flops") and hasattr(model, "breakdown")):
        if "optimizer" in tk and tk["optimizer"] != kw["optimizer"]:
            raise InputError(f"guard(): optimizer={kw['optimizer']!r} and training_kw's optimizer="
                             f"{tk['optimizer']!r}: give it once")
        tk["optimizer"] = kw.pop("optimizer")   # the step is counted with the model, not added after
    tk.setdefault("optimizer", "adam")
    from .models import kind as model_kind
    if hasattr(model, "flops") and hasattr(model, "breakdown"):   # already a Counts
        counts = model
    elif model_kind(model) == "onnx":
        # an ONNX graph is counted forward (dims= in training_kw); the plan adds its backward and the
        # optimizer's step, as flopest estimate does for an ONNX model
        opt = tk.pop("optimizer", None)
        counts = count(model, *example_args, **tk, **(example_kwargs or {}))
        if opt is not None:
            kw.setdefault("optimizer", opt)
    else:
        counts = count(model, *example_args, training=True, **tk, **(example_kwargs or {}))
    est = estimate(counts, dataset_size=dataset_size, **kw)
    check(est, at=at, budgets=budgets, allow_unknown=allow_unknown, **limits)
    return est
