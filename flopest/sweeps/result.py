"""Reading a sweep's results: the Pareto front of CO₂eq against time (and against cost, where
the estimates give one) and the best point per budget, as one report spec
(flopest.report.spec) rendered to the terminal, Markdown, JSON or CSV.

A front holds the points no other point beats on both axes at p50: sorted by the x axis, each
is faster (cheaper) than the next and emits more. The best point of a budget is the lowest
CO₂eq (p50) among the points within the budget at p95, as `flopest check` compares; for a
CO₂eq, energy or water budget it is the fastest such point.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from ..budget import METRICS as BUDGETS, Budget, parse_budget
from ..errors import InputError
from ..report.spec import Report, Table, Text
from ..units import format_count, format_quantity

# figure -> (heading, unit for format_quantity)
SHOWN = {"time_s": ("time", "s"), "co2eq_kg": ("CO2eq", "kg"), "energy_kwh": ("energy", "kWh"),
         "accelerator_hours": ("accelerator-hours", "h"), "water_l": ("water", "L"), "cost_usd": ("cost", "USD")}
SWEEP_BUDGETS = ("co2eq", "energy", "hours", "time", "water", "cost")   # budgets with a column in the results
DEFAULT_TIME_BUDGETS = ((3600.0, "1h"), (6 * 3600.0, "6h"), (86400.0, "1d"), (3 * 86400.0, "3d"), (7 * 86400.0, "7d"),
                        (30 * 86400.0, "30d"), (90 * 86400.0, "90d"), (365 * 86400.0, "365d"))
MAX_DEFAULT_BUDGETS = 4
MAX_FAILED_SHOWN = 10


def number(v) -> float | None:
    if v is None or isinstance(v, bool):
        return None
    try:
        x = float(v)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def _value(v) -> str:
    if isinstance(v, float):
        return f"{v:g}"
    return "—" if v is None else str(v)


def _water_partial(row: dict) -> bool:
    """Whether a row's water figure leaves out a term without a factor (its notes say so:
    flopest.impact.scenario)."""
    text = str(row.get("notes") or "")
    return "no water-of-electricity figure" in text or "no on-site water figure" in text


@dataclass
class SweepResult:
    """The rows of a sweep (dicts by column, in the spec's order) and what was computed."""
    columns: tuple
    rows: list
    path: str | None = None
    computed: int = 0            # points computed by this run
    resumed: int = 0             # points read back from the file (--resume)
    name: str = ""
    notes: list = field(default_factory=list)

    @property
    def parameters(self) -> tuple:
        """The columns that describe a point (its graph's parameters, then its scenario's)."""
        return tuple(self.columns[1:self.columns.index("status")])

    @property
    def ok(self) -> list:
        return [r for r in self.rows if r.get("status") == "ok"]

    @property
    def failed(self) -> list:
        return [r for r in self.rows if r.get("status") != "ok"]

    @property
    def axes(self) -> tuple:
        """The x axes of the fronts: time, and cost where the estimates give one."""
        return ("time_s",) + (("cost_usd",) if any(number(r.get("cost_usd_p50")) is not None for r in self.ok) else ())

    def varied(self) -> tuple:
        """The parameters that take more than one value: what tells the points apart."""
        out = [c for c in self.parameters if len({repr(r.get(c)) for r in self.rows}) > 1]
        return tuple(out) or self.parameters[:1]

    # ------------------------------------------------------------------------- the front
    def front(self, x: str = "time_s") -> list:
        """The Pareto front of CO₂eq (p50) against `x` ("time_s" or "cost_usd", at p50), by x."""
        if x not in ("time_s", "cost_usd"):
            raise InputError(f"x {x!r} is not 'time_s' or 'cost_usd'")
        pts = [r for r in self.ok if number(r.get(f"{x}_p50")) is not None and number(r.get("co2eq_kg_p50")) is not None]
        pts.sort(key=lambda r: (number(r[f"{x}_p50"]), number(r["co2eq_kg_p50"])))
        out, best, best_x = [], math.inf, None
        for r in pts:
            x_, y = number(r[f"{x}_p50"]), number(r["co2eq_kg_p50"])
            if y < best or (y == best and x_ == best_x):   # a tie on both axes is on the front too
                out.append(r)
                best, best_x = y, x_
        return out

    def unpriced(self) -> list:
        """The points the cost front leaves out: no list price for their device (no cost)."""
        return [r for r in self.ok if number(r.get("cost_usd_p50")) is None]

    def best(self, budgets=()) -> list:
        """[(budget, best row or None)] for each budget ('time=3d', 'co2eq=5t' or a Budget);
        without budgets, round time budgets within the range of the points' times."""
        bs = [b if isinstance(b, Budget) else parse_budget(b, "budget") for b in budgets] or self.default_budgets()
        out = []
        for b in bs:
            if b.name not in SWEEP_BUDGETS:
                raise InputError(f"budget {b.name!r} has no column in a sweep's results; one of "
                                 f"{', '.join(SWEEP_BUDGETS)}")
            metric = BUDGETS[b.name][0]
            # a water figure that leaves out a term without a factor is not checked (as flopest check)
            judged = [r for r in self.ok if not (b.name == "water" and _water_partial(r))]
            within = [r for r in judged if number(r.get(f"{metric}_p95")) is not None
                      and number(r[f"{metric}_p95"]) <= b.limit]
            by = "co2eq_kg" if b.name in ("time", "hours") else "time_s"
            within = [r for r in within if number(r.get(f"{by}_p50")) is not None]
            out.append((b, min(within, key=lambda r: number(r[f"{by}_p50"])) if within else None))
        return out

    def default_budgets(self) -> list:
        times = [number(r.get("time_s_p95")) for r in self.ok]
        times = [t for t in times if t is not None]
        if not times:
            return []
        lo, hi = min(times), max(times)
        inside = [(v, t) for v, t in DEFAULT_TIME_BUDGETS if lo <= v <= hi]
        if len(inside) > MAX_DEFAULT_BUDGETS:
            step = (len(inside) - 1) / (MAX_DEFAULT_BUDGETS - 1)
            inside = [inside[round(i * step)] for i in range(MAX_DEFAULT_BUDGETS)]
        if not inside:   # all the points within one range of round values: their largest time
            return [Budget("time", hi, format_quantity(hi, "s").replace(" ", ""))]
        return [Budget("time", v, t) for v, t in inside]

    # ------------------------------------------------------------------------- reports
    def label(self, r: dict) -> str:
        return ", ".join(f"{c}={_value(r.get(c))}" for c in self.varied())

    def to_dict(self, budgets=()) -> dict:
        keep = self.parameters

        def slim(r):
            d = {c: r.get(c) for c in keep}
            d.update({k: r.get(k) for k in ("point", "flops", "params")})
            for f in SHOWN:
                for q in ("p5", "p50", "p95"):
                    d[f"{f}_{q}"] = r.get(f"{f}_{q}")
            return d
        return {"name": self.name, "path": self.path, "points": len(self.rows), "ok": len(self.ok),
                "failed": len(self.failed), "y": "co2eq_kg", "quantile": "p50",
                "fronts": {x: [slim(r) for r in self.front(x)] for x in self.axes},
                "best": [{"budget": f"{b.name}={b.text}", "limit": b.limit, "at": "p95",
                          "point": slim(r) if r else None} for b, r in self.best(budgets)],
                "failed_points": [{**{c: r.get(c) for c in keep}, "point": r.get("point"), "error": r.get("error")}
                                  for r in self.failed]}

    def report(self, budgets=()) -> Report:
        """The front, the best point per budget and the failed points, as one report spec."""
        varied = self.varied()
        title = f"flopest sweep{' — ' + self.name if self.name else ''}"
        head = [f"{title}: {len(self.rows):,} points, {len(self.ok):,} ok, {len(self.failed):,} failed"
                + (f" ({self.path})" if self.path else "")]
        if self.computed or self.resumed:
            head.append(f"computed now: {self.computed:,}; read back (--resume): {self.resumed:,}")
        rep = Report(title, [Text(head)])
        for x in self.axes if self.ok else ():
            front = self.front(x)
            name = SHOWN[x][0]
            if not front:
                rep.blocks.append(Text([f"no point has both a {name} and a CO2eq: no front"]))
                continue
            left = self.unpriced() if x == "cost_usd" else []
            among = len(self.ok) - len(left)
            out_of = (f"{len(front):,} of the {among:,} points with a cost ({len(left):,} without a list price left "
                      f"out: {', '.join(sorted({str(r.get('device')) for r in left}))})" if left else
                      f"{len(front):,} of {len(self.ok):,} points")
            rep.blocks.append(Text([f"Pareto front of CO2eq against {name} (p50): {out_of}; no other point compared is "
                                    f"both {'faster' if x == 'time_s' else 'cheaper'} and lower in CO2eq"]))
            other = [a for a in self.axes if a != x]
            figs = [x, "co2eq_kg", "energy_kwh"] + other
            cols = tuple(varied) + tuple(f"{SHOWN[f][0]} p50" for f in figs) + ("FLOPs",)
            rows = [[_value(r.get(c)) for c in varied] + [format_quantity(number(r.get(f"{f}_p50")), SHOWN[f][1])
                                                        for f in figs] + [format_count(number(r.get("flops")), "FLOP")]
                    for r in front]
            rep.blocks.append(Table(f"Pareto front: CO2eq against {name}", cols, rows,
                                    align="l" * len(varied) + "r" * (len(cols) - len(varied))))
        best = self.best(budgets)
        if any(b.name == "water" for b, _ in best):
            partial = [r for r in self.ok if _water_partial(r)]
            if partial:
                rep.blocks.append(Text([f"water budget: {len(partial):,} point(s) whose water leaves out a term "
                                        f"without a factor (their notes say which) are not checked, as flopest check "
                                        f"does not check them"]))
        if best:
            rows = []
            for b, r in best:
                goal = "lowest CO2eq" if b.name in ("time", "hours") else "fastest"
                if r is None:
                    rows.append([f"{b.name} ≤ {b.text}", goal, "no point within the budget at p95", "—", "—"])
                else:
                    rows.append([f"{b.name} ≤ {b.text}", goal, self.label(r),
                                 format_quantity(number(r.get("co2eq_kg_p50")), "kg"),
                                 format_quantity(number(r.get("time_s_p50")), "s")])
            rep.blocks.append(Table("best point per budget (within it at p95)",
                                    ("budget", "goal", "point", "CO2eq p50", "time p50"), rows, align="lllrr"))
        if self.failed:
            shown = self.failed[:MAX_FAILED_SHOWN]
            rows = [[self.label(r), _short(r.get("error") or "")] for r in shown]
            rep.blocks.append(Table("failed points", ("point", "error"), rows, align="ll", fold=True))
            if len(self.failed) > len(shown):
                rep.blocks.append(Text([f"… and {len(self.failed) - len(shown):,} more failed points (status "
                                        f"'failed' in the results, with their error)"]))
        rep.data = self.to_dict(budgets)
        csv_cols = tuple(self.parameters) + ("flops",) + tuple(f"{f}_{q}" for f in SHOWN for q in ("p5", "p50", "p95"))
        rep.csv = (("front",) + csv_cols, [[x] + [r.get(c) for c in csv_cols] for x in self.axes for r in self.front(x)])
        return rep

    def __repr__(self) -> str:
        return (f"<flopest SweepResult {len(self.rows):,} points: {len(self.ok):,} ok, {len(self.failed):,} failed"
                + (f", {self.path}" if self.path else "") + ">")


def _short(text: str, n: int = 160) -> str:
    return text if len(text) <= n else text[:n] + "…"


def read(path, name: str = "path") -> SweepResult:
    """The results of `flopest sweep` from a .parquet or .csv file (errors name the file as `name`)."""
    from .table import read as read_table
    columns, rows = read_table(path, name)
    return SweepResult(tuple(columns), rows, str(path))
