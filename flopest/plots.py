"""Charts for `--plot FILE.png|.svg` (the optional `plot` extra, matplotlib).

Four pure functions, each drawing one chart and writing it atomically to `path`:

- `plot_breakdown(rows, path)`: FLOPs per module / op / kind, from ``Counts.breakdown``.
- `plot_scopes(estimate, path)`: CO₂eq scope 2 vs scope 3 (and their total), p5–p95 bars.
- `plot_compare(rows, path)`: one metric across scenarios, p5–p95 bars, in the given order.
- `plot_sweep(x, series, path)`: FLOPs or CO₂eq against a swept dim, p5–p95 bands.

The format comes from the suffix (.png or .svg). matplotlib is imported inside the functions,
never by ``import flopest``, and only through ``matplotlib.figure.Figure`` with the Agg canvas:
pyplot is not imported and the user's backend is left alone. Each function returns the path.
"""

from __future__ import annotations

import math
import os

from . import io
from .errors import InputError, did_you_mean
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


def plot_compare(rows, path, *, metric: str = "co2eq_kg", title: str | None = None) -> str:
    """One bar per row, in the order given (first on top): rows are
    ``{"label": str, metric: {p5, p50, p95}}`` (a plain number draws no error bar).
    metric: a key of the estimate (co2eq_kg, energy_kwh, time_s, water_l, accelerator_hours)
    or of the counts (flops, matmul_flops, bytes); its SI value is shown in readable units."""
    path, fmt = _target(path)
    rows = list(rows)
    if not rows:
        raise InputError(f"--plot {path!r}: nothing to compare (no rows)")
    vals, labels = [], []
    for i, r in enumerate(rows):
        label = str(r.get("label", f"#{i + 1}")) if isinstance(r, dict) else f"#{i + 1}"
        if not isinstance(r, dict) or metric not in r:
            have = [k for k in r if k != "label"] if isinstance(r, dict) else []
            raise InputError(f"--plot: row {label!r} has no {metric!r}"
                             f"{did_you_mean(metric, have) if have else ''}; its keys: {', '.join(map(str, have))}")
        vals.append(_p(r[metric], f"{label}: {metric}"))
        labels.append(_short(label))
    axis, fmt_v = METRICS.get(metric, (metric, human))
    Figure, FuncFormatter = _mpl("Figure", "FuncFormatter")
    fig = Figure(figsize=(8, 1.6 + 0.45 * len(rows)), layout="constrained")
    ax = fig.add_subplot()
    y = list(range(len(rows)))
    _bars(ax, y, vals, [SERIES_COLORS[i % len(SERIES_COLORS)] for i in y], fmt_v, vertical=False)
    ax.set_yticks(y, labels, fontsize=9)
    ax.set_ylim(len(rows) - 0.4, -0.6)   # first row on top
    _unit_axis(ax.xaxis, metric, max(v[2] for v in vals), FuncFormatter, axis, "median; bars p5–p95")
    ax.set_title(title or f"{axis} compared", fontsize=10)
    return _save(fig, path, fmt)


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


def _short(name: str) -> str:
    """Long module paths keep their end: '…h.11.attn.c_attn'."""
    return name if len(name) <= MAX_LABEL else "…" + name[-(MAX_LABEL - 1):]


def _mpl(*names):
    """matplotlib objects by name, or InputError saying how to install the plot extra."""
    try:
        import matplotlib  # noqa: F401  (first, so a missing matplotlib fails here)
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
        from matplotlib.ticker import FuncFormatter, NullLocator
    except ImportError:
        raise InputError('--plot needs matplotlib, which is not installed: pip install "flopest[plot]"') from None

    class _AggFigure(Figure):   # drawn on the Agg canvas: no pyplot, the user's backend untouched
        def __init__(self, *a, **kw):
            super().__init__(*a, **kw)
            FigureCanvasAgg(self)

    found = {"Figure": _AggFigure, "FuncFormatter": FuncFormatter, "NullLocator": NullLocator}
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


def check_target(path) -> tuple:
    """(path, format) of a --plot file name, checked before any work is done."""
    return _target(path)
