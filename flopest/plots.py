"""Charts for `--plot FILE.png|.svg` (the optional `plot` extra, matplotlib).

Pure functions, each drawing one chart and writing it atomically to `path`:

- `plot_breakdown(rows, path)`: FLOPs per module / op / kind, from ``Counts.breakdown``.
- `plot_scopes(estimate, path)`: CO₂eq scope 2 vs scope 3 (and their total), p5–p95 bars.
- `plot_boundaries(estimate, path)`: energy and CO₂eq by boundary (accelerators only, + host,
  + facility, + embodied), p5–p95 bars: the chart of the HTML reports.
- `plot_compare(rows, path)`: one metric across scenarios on a log axis in one unit, p5–p95
  bars, in the given order, coloured by device (or region), the first choice outlined.
- `plot_sweep(x, series, path)`: FLOPs or CO₂eq against a swept dim, p5–p95 bands.

The format comes from the suffix (.png or .svg). `estimate_svg(d)` and `compare_svg(d)` return
the SVG text instead, for the HTML reports, which find them through flopest.views (registered
when this module is imported). matplotlib is imported inside the functions, never by
``import flopest``, and only through ``matplotlib.figure.Figure`` with the Agg canvas: pyplot is
not imported and the user's backend is left alone. Each plot_* function returns the path.
"""

from __future__ import annotations

import io as _stdio
import math
import os

from . import io, views
from .errors import InputError, did_you_mean
from .report import usd
from .units import SECONDS_PER_YEAR, format_count as human, format_quantity, si_prefix

FORMATS = (".png", ".svg")
PNG_DPI = 150
# colours: tab10, one per cost kind, so a kind keeps its colour from chart to chart
KIND_COLORS = {"gemm": "#1f77b4", "conv": "#ff7f0e", "attention": "#9467bd", "elementwise": "#2ca02c",
               "reduce": "#8c564b", "softmax": "#e377c2", "norm": "#bcbd22", "pool": "#17becf",
               "gather": "#7f7f7f", "move": "#aec7e8", "rnn": "#ffbb78", "free": "#c7c7c7"}
OTHER_COLOR = "#b0b0b0"
UNKNOWN_COLOR = "#d62728"
SCOPE_COLORS = {"scope2": "#1f77b4", "scope3": "#ff7f0e", "total": "#555555"}
# the boundaries, light to dark: each adds to the one before
BOUNDARY_COLORS = {"accelerators": "#9ecae1", "host": "#4292c6", "facility": "#08519c", "embodied": "#e6550d"}
BOUNDARY_LABELS = {"accelerators": "accelerators only", "host": "+ host", "facility": "+ facility (PUE)",
                   "embodied": "+ embodied"}
FIRST_EDGE = "#000000"
SERIES_COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf",
                 "#bcbd22", "#7f7f7f", "#d62728")
MAX_UNKNOWN_SHOWN = 6
MAX_LABEL = 40

# metric -> (axis label, value formatter); SI units in, readable units out
METRICS = {
    "flops": ("FLOPs", lambda v: human(v, "FLOP")),
    "matmul_flops": ("matmul FLOPs", lambda v: human(v, "FLOP")),
    "bytes": ("bytes moved", lambda v: human(v, "B")),
    "co2eq_kg": ("CO₂eq", lambda v: format_quantity(v, "kg")),
    "energy_kwh": ("energy", lambda v: format_quantity(v, "kWh")),
    "time_s": ("time", lambda v: format_quantity(v, "s")),
    "water_l": ("water", lambda v: format_quantity(v, "L")),
    "accelerator_hours": ("accelerator-hours", lambda v: format_quantity(v, "h")),
    "cost_usd": ("cost", lambda v: usd(v)),
}


# ----------------------------------------------------------------------------- the charts
def plot_breakdown(rows, path, *, by: str = "module", title: str | None = None, top: int = 15,
                   unknown_ops: dict | None = None) -> str:
    """Horizontal bars of FLOPs per row of ``Counts.breakdown(by)``, largest first: the `top`
    largest, then one "other" bar summing the rest. Rows whose FLOPs are unknown (flops None,
    and `unknown_ops` {op: count} where the breakdown does not list them, as by module) are
    drawn apart in red as "not costed", never as a zero bar."""
    path, fmt = _target(path)
    from .counts import BY_CHOICES
    if by not in BY_CHOICES:
        raise InputError(f"--by {by!r} is not one of {', '.join(BY_CHOICES)}{did_you_mean(by, BY_CHOICES)}")
    bars, unknown = breakdown_bars(rows, top, unknown_ops)
    if not bars and not unknown:
        raise InputError(f"--plot {path!r}: the breakdown is empty, nothing to draw")
    Figure, FuncFormatter = _mpl("Figure", "FuncFormatter")
    shown_unknown = unknown if len(unknown) <= MAX_UNKNOWN_SHOWN else unknown[:MAX_UNKNOWN_SHOWN - 1]
    n_rows = len(bars) + len(shown_unknown) + (len(shown_unknown) < len(unknown))
    fig = Figure(figsize=(8, 1.6 + 0.32 * n_rows), layout="constrained")
    ax = fig.add_subplot()
    total = sum(b["flops"] for b in bars)
    y = list(range(len(bars)))
    colors = [OTHER_COLOR if b["other"] else KIND_COLORS.get(b["kind"], OTHER_COLOR) for b in bars]
    ax.barh(y, [float(b["flops"]) for b in bars], color=colors, height=0.7)
    vmax = max((float(b["flops"]) for b in bars), default=0.0) or 1.0
    for yi, b in zip(y, bars):
        share = f" ({100 * b['flops'] / total:.1f} %)" if total else ""
        ax.text(float(b["flops"]) + vmax * 0.01, yi, human(b["flops"], "FLOP") + share, va="center", fontsize=8)
    labels = [_short(b["name"]) for b in bars]
    yu = len(bars) + 0.5 if bars else 0   # a half-row gap between costed and not costed
    uy = []
    for i, u in enumerate(shown_unknown):
        uy.append(yu + i)
        labels.append(_short(f"{u['name']} ×{u['count']}"))
        ax.text(vmax * 0.01, yu + i, "not costed: FLOPs unknown (not 0)", va="center", fontsize=8,
                color=UNKNOWN_COLOR, style="italic")
    if len(shown_unknown) < len(unknown):
        uy.append(yu + len(shown_unknown))
        rest = unknown[len(shown_unknown):]
        labels.append(f"{len(rest)} more ops ×{sum(u['count'] for u in rest)}")
        ax.text(vmax * 0.01, uy[-1], "not costed: FLOPs unknown (not 0)", va="center", fontsize=8,
                color=UNKNOWN_COLOR, style="italic")
    ax.set_yticks(y + uy, labels, fontsize=8)
    for tick in ax.get_yticklabels()[len(bars):]:
        tick.set_color(UNKNOWN_COLOR)
    ax.set_ylim(max(y + uy) + 0.6, -0.6)   # largest on top
    ax.set_xlim(0, vmax * 1.4)
    _unit_axis(ax.xaxis, "flops", vmax, FuncFormatter, "FLOPs", "1 multiply-add = 2 FLOPs")
    ax.set_ylabel(by)
    ax.grid(axis="x", alpha=0.3)
    ax.set_axisbelow(True)
    if bars:   # a legend of the kinds drawn
        from matplotlib.patches import Patch
        seen = dict.fromkeys(("other" if b["other"] else b["kind"]) for b in bars)
        handles = [Patch(color=OTHER_COLOR if k == "other" else KIND_COLORS.get(k, OTHER_COLOR), label=k)
                   for k in seen]
        ax.legend(handles=handles, fontsize=7, loc="lower right", title="kind", title_fontsize=7)
    head = f"FLOPs by {by} — total {human(total, 'FLOP')}"
    if unknown:
        head += f" + {len(unknown)} op(s) not costed"
    ax.set_title(title or head, fontsize=10)
    return _save(fig, path, fmt)


def plot_scopes(estimate, path, *, title: str | None = None) -> str:
    """CO₂eq of scope 2 (electricity, location-based), scope 3 (embodied share) and their
    total, median bars with p5–p95 error bars. `estimate`: ``Estimate.to_dict()`` (or the
    Estimate itself). kg CO₂eq in, g / kg / t on the axis."""
    path, fmt = _target(path)
    d = estimate.to_dict() if hasattr(estimate, "to_dict") else estimate
    try:
        scopes = d["co2eq_kg_by_scope"]
        vals = [_p(scopes["scope2"], "co2eq_kg_by_scope.scope2"), _p(scopes["scope3"], "co2eq_kg_by_scope.scope3")]
    except (KeyError, TypeError):
        raise InputError(f"--plot {path!r}: the estimate has no co2eq_kg_by_scope {{scope2, scope3}} "
                         "(give Estimate.to_dict())") from None
    names = ["scope 2\n(electricity)", "scope 3\n(embodied share)"]
    keys = ["scope2", "scope3"]
    if isinstance(d.get("co2eq_kg"), dict):
        vals.append(_p(d["co2eq_kg"], "co2eq_kg"))
        names.append("total\n(scope 2 + 3)")
        keys.append("total")
    Figure, FuncFormatter = _mpl("Figure", "FuncFormatter")
    fig = Figure(figsize=(6.5, 4.5), layout="constrained")
    ax = fig.add_subplot()
    _bars(ax, list(range(len(vals))), vals, [SCOPE_COLORS[k] for k in keys], METRICS["co2eq_kg"][1],
          vertical=True)
    ax.set_xticks(range(len(vals)), names, fontsize=9)
    _unit_axis(ax.yaxis, "co2eq_kg", max(v[2] for v in vals), FuncFormatter, "CO₂eq",
               "median; bars p5–p95")
    ax.set_title(title or "CO₂eq by scope", fontsize=10)
    if d.get("method"):
        fig.supxlabel(f"method: {d['method']}", fontsize=6, color="#555555")
    return _save(fig, path, fmt)


def plot_compare(rows, path, *, metric: str = "co2eq_kg", title: str | None = None, first: str | None = None,
                 log: bool | None = None) -> str:
    """One bar per row, in the order given (first on top): rows are
    ``{"label": str, metric: {p5, p50, p95}}`` (a plain number draws no error bar), with
    ``device`` and ``region`` (or a ``plan`` holding them) when they come from flopest.compare.
    metric: a key of the estimate (co2eq_kg, energy_kwh, time_s, water_l, accelerator_hours,
    cost_usd) or of the counts (flops, matmul_flops, bytes); the axis is in one unit, readable.
    log: a log axis (default: when every value is positive). Colours mean the device when the
    rows hold several, else the region (a legend says which); `first` (a label) is the first
    choice, outlined and named; `title` (default "<metric> compared") is where the plan goes."""
    path, fmt = _target(path)
    fig = _compare_figure(rows, metric, title, first, log, path)
    return _save(fig, path, fmt)


def _group_key(rows: list) -> tuple:
    """("device" | "region" | None, [key per row]): what the colours mean."""
    def get(r, k):
        return r.get(k) or (r.get("plan") or {}).get(k) if isinstance(r, dict) else None
    for k in ("device", "region"):
        keys = [get(r, k) for r in rows]
        if all(keys) and len(set(keys)) > 1:
            return k, keys
    return None, [None] * len(rows)


def _compare_figure(rows, metric, title, first, log, path):
    rows = list(rows)
    if not rows:
        raise InputError(f"--plot {path!r}: nothing to compare (no rows)")
    vals, labels = [], []
    for i, r in enumerate(rows):
        label = str(r.get("label", f"#{i + 1}")) if isinstance(r, dict) else f"#{i + 1}"
        if not isinstance(r, dict) or metric not in r or r[metric] is None:
            have = [k for k in r if k != "label"] if isinstance(r, dict) else []
            raise InputError(f"--plot: row {label!r} has no {metric!r}"
                             f"{did_you_mean(metric, have) if have else ''}; its keys: {', '.join(map(str, have))}")
        vals.append(_p(r[metric], f"{label}: {metric}"))
        labels.append(label)
    axis, fmt_v = METRICS.get(metric, (metric, human))
    positive = min(v[0] for v in vals) > 0
    if log is None:
        log = positive
    elif log and not positive:
        raise InputError(f"--plot: a {metric} value is <= 0, which a log axis cannot show; drop log")
    by, keys = _group_key(rows)
    palette = {}
    for k in keys:
        if k is not None and k not in palette:
            palette[k] = SERIES_COLORS[len(palette) % len(SERIES_COLORS)]
    colors = [palette[k] if by else SERIES_COLORS[i % len(SERIES_COLORS)] for i, k in enumerate(keys)]
    Figure, FuncFormatter, NullFormatter = _mpl("Figure", "FuncFormatter", "NullFormatter")
    fig = Figure(figsize=(8.5, 2.0 + 0.45 * len(rows)), layout="constrained")
    ax = fig.add_subplot()
    y = list(range(len(rows)))
    ticks = [_short(lab) + ("  (first choice)" if lab == first else "") for lab in labels]
    vmax = max(v[2] for v in vals) or 1.0
    f, unit = axis_unit(metric, vmax)
    if log:
        vmin = min(v[0] for v in vals)
        ax.set_xscale("log")
        base = vmin / 4   # a log axis has no 0: the bars start at its left edge
        ax.barh(y, [v[1] - base for v in vals], left=base, height=0.6, color=colors,
                xerr=[[v[1] - v[0] for v in vals], [v[2] - v[1] for v in vals]], ecolor="black", capsize=4)
        for yi, v in zip(y, vals):
            text = fmt_v(v[1]) if v[0] == v[2] else f"{fmt_v(v[1])} ({fmt_v(v[0])} – {fmt_v(v[2])})"
            ax.text(v[2] * 1.15, yi, text, va="center", fontsize=8)
        ax.set_xlim(base, vmax * 12)
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v / f:,.4g}"))
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel(f"{axis} ({unit}; log scale; median, bars p5–p95)" if unit else
                      f"{axis} (log scale; median, bars p5–p95)")
        ax.grid(axis="x", which="major", alpha=0.3)
        ax.set_axisbelow(True)
    else:
        _bars(ax, y, vals, colors, fmt_v, vertical=False)
        _unit_axis(ax.xaxis, metric, vmax, FuncFormatter, axis, "median; bars p5–p95")
    for patch, lab in zip(ax.patches, labels):
        if lab == first:
            patch.set_edgecolor(FIRST_EDGE)
            patch.set_linewidth(2.5)
    ax.set_yticks(y, ticks, fontsize=9)
    for tick, lab in zip(ax.get_yticklabels(), labels):
        if lab == first:
            tick.set_fontweight("bold")
    ax.set_ylim(len(rows) - 0.4, -0.6)   # first row on top
    if by:
        from matplotlib.patches import Patch
        ax.legend(handles=[Patch(color=c, label=str(k)) for k, c in palette.items()], fontsize=8, title=by,
                  title_fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.set_title(_mpl_text(title or f"{axis} compared"), fontsize=10)
    return fig


def plot_boundaries(estimate, path, *, title: str | None = None) -> str:
    """Energy (accelerators only, + host, + facility) and CO₂eq (the same, + embodied) of an
    estimate by boundary, median bars with p5–p95 error bars. `estimate`: ``Estimate.to_dict()``
    (or the Estimate itself). The chart of the HTML reports."""
    path, fmt = _target(path)
    return _save(_boundary_figure(estimate, title, path), path, fmt)


def _boundary_figure(estimate, title, path):
    d = estimate.to_dict() if hasattr(estimate, "to_dict") else estimate
    bb = d.get("by_boundary") if isinstance(d, dict) else None
    if not isinstance(bb, dict) or not all(k in bb for k in BOUNDARY_COLORS):
        raise InputError(f"--plot {path!r}: the estimate has no by_boundary {{accelerators, host, facility, "
                         "embodied}} (give Estimate.to_dict())")
    Figure, FuncFormatter = _mpl("Figure", "FuncFormatter")
    fig = Figure(figsize=(10, 3.6), layout="constrained")
    ax_e, ax_c = fig.subplots(1, 2)
    e_keys = [k for k in BOUNDARY_COLORS if bb[k].get("energy_j") is not None]
    e_vals = [tuple(x / 3.6e6 for x in _p(bb[k]["energy_j"], f"by_boundary.{k}.energy_j")) for k in e_keys]
    c_keys = list(BOUNDARY_COLORS)
    c_vals = [_p(bb[k]["co2eq_kg"], f"by_boundary.{k}.co2eq_kg") for k in c_keys]
    for ax, keys, vals, metric, name in ((ax_e, e_keys, e_vals, "energy_kwh", "energy"),
                                         (ax_c, c_keys, c_vals, "co2eq_kg", "CO₂eq")):
        y = list(range(len(keys)))
        _bars(ax, y, vals, [BOUNDARY_COLORS[k] for k in keys], METRICS[metric][1], vertical=False)
        ax.set_yticks(y, [BOUNDARY_LABELS[k] for k in keys], fontsize=9)
        ax.set_ylim(len(keys) - 0.4, -0.6)
        _unit_axis(ax.xaxis, metric, max(v[2] for v in vals), FuncFormatter, name, "median; bars p5–p95")
        ax.set_title(f"{name} by boundary", fontsize=10)
    if title:
        fig.suptitle(_mpl_text(title), fontsize=10)
    return fig


def estimate_svg(d: dict) -> str:
    """The chart of an estimate's HTML report (energy and CO₂eq by boundary) as SVG text."""
    from .report import plan_summary
    return _svg_text(_boundary_figure(d, plan_summary(d), "<html report>"))


def compare_svg(d: dict) -> str:
    """The chart of a comparison's HTML report as SVG text: CO₂eq p50 of every row, log axis,
    coloured by device (or region), the first choice outlined, the plan in the title."""
    from .report import compare_title
    return _svg_text(_compare_figure(d["rows"], "co2eq_kg", compare_title(d), d.get("first_choice"), None,
                                     "<html report>"))


def plot_sweep(x, series, path, *, xlabel: str, ylabel: str, title: str | None = None, logy: bool = False,
               logx: bool | None = None, metric: str | None = None) -> str:
    """One line per series against `x` (numbers, such as sequence lengths or batch sizes);
    series: {label: [value, ...]} or {label: [{p5, p50, p95}, ...]}, whose p5–p95 range is
    drawn as a band. Ticks read in units of `metric` (flops, co2eq_kg, energy_kwh, ...; by
    default guessed from `ylabel`: "FLOP" or "CO2"). logx None: log when x spans 16× or more."""
    path, fmt = _target(path)
    try:
        xs = [_finite(v, f"x[{i}]") for i, v in enumerate(x)]
    except TypeError:
        raise InputError(f"--plot: x must be a list of numbers, got {x!r}") from None
    if not xs:
        raise InputError("--plot: x is empty; a sweep needs at least one point")
    if not series:
        raise InputError("--plot: no series to draw")
    lines = {}
    for label, vs in series.items():
        vs = list(vs)
        if len(vs) != len(xs):
            raise InputError(f"--plot: series {label!r} has {len(vs)} values for {len(xs)} x values")
        lines[label] = [_p(v, f"{label}[{i}]") for i, v in enumerate(vs)]
        if logy and min(v[0] for v in lines[label]) <= 0:
            raise InputError(f"--plot: series {label!r} has a value <= 0, which a log y axis cannot show; "
                             "drop logy")
    if metric is None:
        low = ylabel.lower()
        metric = "flops" if "flop" in low else "co2eq_kg" if ("co2" in low or "co₂" in low) else None
    _, fmt_v = METRICS.get(metric, (None, human))
    if logx is None:
        logx = min(xs) > 0 and max(xs) >= 16 * min(xs)
    elif logx and min(xs) <= 0:
        raise InputError("--plot: x has a value <= 0, which a log x axis cannot show; drop logx")
    order = sorted(range(len(xs)), key=xs.__getitem__)
    xo = [xs[i] for i in order]
    Figure, FuncFormatter = _mpl("Figure", "FuncFormatter")
    fig = Figure(figsize=(7, 4.5), layout="constrained")
    ax = fig.add_subplot()
    for j, (label, vals) in enumerate(lines.items()):
        color = SERIES_COLORS[j % len(SERIES_COLORS)]
        vo = [vals[i] for i in order]
        ax.plot(xo, [v[1] for v in vo], marker="o", color=color, label=str(label))
        if any(v[0] != v[2] for v in vo):
            ax.fill_between(xo, [v[0] for v in vo], [v[2] for v in vo], color=color, alpha=0.25, linewidth=0,
                            label=f"{label} p5–p95")
    if logx:
        ax.set_xscale("log")
        if len(xo) <= 12:   # the swept values themselves, evenly spaced on a geometric sweep
            ax.set_xticks(xo)
            ax.xaxis.set_minor_locator(_mpl("NullLocator")[0]())
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.6g}" if abs(v) < 1e5 else human(v)))
    ax.set_xlabel(xlabel)
    if logy:   # decades apart: each tick carries its own unit
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: fmt_v(v)))
        ax.set_ylabel(ylabel)
    else:
        _unit_axis(ax.yaxis, metric, max(v[2] for vals in lines.values() for v in vals), FuncFormatter, ylabel)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(title or f"{ylabel} vs {xlabel}", fontsize=10)
    return _save(fig, path, fmt)


# ----------------------------------------------------------------------------- helpers
def breakdown_bars(rows, top: int = 15, unknown_ops: dict | None = None):
    """(bars, unknown): the costed rows largest first, the `top` largest and then one
    {"name": "other (N)", "other": True} summing the rest; and the rows not costed (flops None,
    plus `unknown_ops` entries the rows do not name), which never become bars."""
    if isinstance(top, bool) or not isinstance(top, int) or top < 1:
        raise InputError(f"--top {top!r} must be an integer >= 1")
    known, unknown = [], []
    for r in rows:
        if r.get("flops") is None:
            unknown.append({"name": str(r["name"]), "count": r.get("count", 0)})
        else:
            known.append({"name": str(r["name"]), "kind": r.get("kind", ""), "count": r.get("count", 0),
                          "flops": r["flops"], "other": False})
    named = {u["name"] for u in unknown}
    for op, n in (unknown_ops or {}).items():
        if op not in named:
            unknown.append({"name": str(op), "count": n})
    known.sort(key=lambda b: -b["flops"])   # stable: ties keep the breakdown's order
    if len(known) > top:
        rest = known[top:]
        known = known[:top] + [{"name": f"other ({len(rest)})", "kind": "other", "count": sum(b["count"] for b in rest),
                                "flops": sum(b["flops"] for b in rest), "other": True}]
    return known, unknown


def axis_unit(metric: str | None, vmax: float) -> tuple:
    """(factor, unit) for a linear axis whose largest value is `vmax` in the metric's SI unit:
    ticks read value / factor, the label names the unit ("TFLOP", "t" of CO₂eq, "MWh")."""
    vmax = abs(vmax)
    if metric == "co2eq_kg":
        if vmax >= 1000:
            f, p = si_prefix(vmax / 1000)
            return 1000 * f, f"{p}t"
        return (1e-3, "g") if 0 < vmax < 1 else (1.0, "kg")
    if metric == "time_s":
        for f, u in ((SECONDS_PER_YEAR, "years"), (86400, "days"), (3600, "h"), (60, "min")):
            if vmax >= 2 * f:
                return f, u
        return 1.0, "s"
    if metric == "accelerator_hours":
        f, p = si_prefix(vmax)
        return f, {"": "h", "k": "thousand h", "M": "million h"}.get(p, f"{p} h")
    if metric == "cost_usd":
        f, p = si_prefix(vmax)
        return f, f"{p} USD".strip() if p else "USD"
    base, unit = {"flops": (1, "FLOP"), "matmul_flops": (1, "FLOP"), "bytes": (1, "B"),
                  "energy_kwh": (1e3, "Wh"), "water_l": (1, "L")}.get(metric, (1, ""))
    f, p = si_prefix(vmax * base)
    return f / base, f"{p}{unit}"


def _unit_axis(axis, metric, vmax, FuncFormatter, name, note="") -> None:
    f, unit = axis_unit(metric, vmax)
    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v / f:,.4g}"))
    inside = "; ".join(x for x in (unit, note) if x)
    axis.set_label_text(f"{name} ({inside})" if inside else name)


def _bars(ax, pos, vals, colors, fmt_v, vertical: bool) -> None:
    """Median bars with p5–p95 error bars and a 'p50 (p5 – p95)' label past each."""
    p50 = [v[1] for v in vals]
    err = [[max(0.0, v[1] - v[0]) for v in vals], [max(0.0, v[2] - v[1]) for v in vals]]
    vmax = max(max(v[2] for v in vals), 0.0) or 1.0
    kw = {"color": colors, "ecolor": "black", "capsize": 4, "error_kw": {"elinewidth": 1.2}}
    for i, v in enumerate(vals):
        text = fmt_v(v[1]) if v[0] == v[2] else f"{fmt_v(v[1])}\n({fmt_v(v[0])} – {fmt_v(v[2])})"
        if vertical:
            ax.text(pos[i], v[2] + vmax * 0.02, text, ha="center", va="bottom", fontsize=8)
        else:
            ax.text(v[2] + vmax * 0.01, pos[i], text, ha="left", va="center", fontsize=8)
    if vertical:
        ax.bar(pos, p50, yerr=err, width=0.6, **kw)
        ax.set_ylim(0, vmax * 1.3)
        ax.grid(axis="y", alpha=0.3)
    else:
        ax.barh(pos, p50, xerr=err, height=0.6, **kw)
        ax.set_xlim(0, vmax * 1.45)
        ax.grid(axis="x", alpha=0.3)
    ax.set_axisbelow(True)


def _p(v, where: str) -> tuple:
    """(p5, p50, p95) floats from {p5, p50, p95} (p5 / p95 default to p50) or a number."""
    if isinstance(v, dict):
        if "p50" not in v:
            raise InputError(f"--plot: {where} needs p50 (and p5, p95), got keys {sorted(v)}")
        p50 = _finite(v["p50"], where)
        return (_finite(v.get("p5", p50), where), p50, _finite(v.get("p95", p50), where))
    x = _finite(v, where)
    return (x, x, x)


def _finite(v, where: str) -> float:
    if isinstance(v, bool):
        raise InputError(f"--plot: {where} is {v!r}, not a number")
    try:
        x = float(v)
    except (TypeError, ValueError):
        raise InputError(f"--plot: {where} is {v!r}, not a number") from None
    except OverflowError:
        raise InputError(f"--plot: {where} is too large to draw ({human(v)})") from None
    if not math.isfinite(x):
        raise InputError(f"--plot: {where} is {x!r}; a chart needs finite values")
    return x


def _mpl_text(text: str) -> str:
    """Text matplotlib draws as written: a '$' would open mathtext (a model path can hold one)."""
    return str(text).replace("$", r"\$")


def _short(name: str) -> str:
    """Long module paths keep their end: '…h.11.attn.c_attn'."""
    return name if len(name) <= MAX_LABEL else "…" + name[-(MAX_LABEL - 1):]


def _mpl(*names):
    """matplotlib objects by name, or InputError saying how to install the plot extra."""
    try:
        import matplotlib  # noqa: F401  (first, so a missing matplotlib fails here)
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
        from matplotlib.ticker import FuncFormatter, NullFormatter, NullLocator
    except ImportError:
        raise InputError('--plot needs matplotlib, which is not installed: pip install "flopest[plot]"') from None

    class _AggFigure(Figure):   # drawn on the Agg canvas: no pyplot, the user's backend untouched
        def __init__(self, *a, **kw):
            super().__init__(*a, **kw)
            FigureCanvasAgg(self)

    found = {"Figure": _AggFigure, "FuncFormatter": FuncFormatter, "NullLocator": NullLocator,
             "NullFormatter": NullFormatter}
    return tuple(found[n] for n in names)


def _target(path) -> tuple:
    """(path, format) after checking the name, suffix and folder, before anything is drawn."""
    try:
        path = os.fspath(path)
    except TypeError:
        raise InputError(f"--plot {path!r} is not a file name") from None
    if not str(path).strip():
        raise InputError("--plot '' is empty; give a file name ending in .png or .svg")
    ext = os.path.splitext(path)[1].lower()
    if ext not in FORMATS:
        raise InputError(f"--plot {path!r}: cannot tell the image format from {ext or 'no suffix'!r}; "
                         f"give a file name ending in .png or .svg (such as {os.path.splitext(path)[0]}.png)")
    io.target(path, "--plot")   # the folder exists; not a folder, pipe or socket
    return path, ext[1:]


def _save(fig, path: str, fmt: str) -> str:
    """Write the figure atomically (io.write): a failure, Ctrl-C or SIGTERM never leaves a
    half-written image; a character device (/dev/null) is written, never replaced."""

    def draw(f):
        if fmt == "svg":   # real <text> (searchable, smaller); no date, so reruns give the same file
            import matplotlib
            with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "flopest"}):
                fig.savefig(f, format="svg", metadata={"Date": None})
        else:
            fig.savefig(f, format="png", dpi=PNG_DPI)
    io.write(path, draw, flag="--plot")
    return path


def _svg_text(fig) -> str:
    """The figure as SVG text (real <text>, no date: the same figure gives the same text)."""
    import matplotlib
    buf = _stdio.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "flopest"}):
        fig.savefig(buf, format="svg", metadata={"Date": None})
    return buf.getvalue()


def check_target(path) -> tuple:
    """(path, format) of a --plot file name, checked before any work is done."""
    return _target(path)


# the HTML reports find their charts here (flopest.report.html), without importing this module
views.register("estimate", "svg", estimate_svg)
views.register("compare", "svg", compare_svg)
