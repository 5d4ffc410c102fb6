"""`flopest sweep --plot FILE.png|.svg`: the cloud of every point (CO₂eq against time, and against
cost where the estimates give one: one panel each; p50, on log axes when they span decades) with
the Pareto front drawn over it.

matplotlib (the `plot` extra) is imported here only, through ``matplotlib.figure.Figure`` with the
Agg canvas (pyplot is not imported, the user's backend is left alone), and the image is written
atomically like every chart of flopest.plots.
"""

from __future__ import annotations

from .. import io
from ..errors import InputError
from ..plots import SERIES_COLORS, check_target
from ..units import format_quantity
from .result import SHOWN, SweepResult, number

CLOUD_COLOR = "#9a9a9a"
FRONT_COLOR = "#d62728"
MAX_GROUPS = len(SERIES_COLORS)


def plot_front(result: SweepResult, path, *, title: str | None = None) -> str:
    """Draw the cloud and the front(s) of `result` to `path` (.png or .svg); returns the path."""
    path, fmt = check_target(path)
    axes = [x for x in result.axes if _points(result, x)]
    if not axes:
        raise InputError(f"--plot {path!r}: no point has both a time and a CO2eq to draw")
    try:
        import matplotlib  # noqa: F401
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
        from matplotlib.ticker import FuncFormatter
    except ImportError:
        raise InputError('--plot needs matplotlib, which is not installed: pip install "flopest[plot]"') from None
    fig = Figure(figsize=(7.5 * len(axes), 5), layout="constrained")
    FigureCanvasAgg(fig)
    group = _group_column(result)
    for i, x in enumerate(axes):
        _panel(fig.add_subplot(1, len(axes), i + 1), result, x, group, FuncFormatter)
    n = len(_points(result, "time_s"))
    fig.suptitle(title or f"{result.name or 'sweep'}: {n:,} points", fontsize=10)

    def draw(f):
        if fmt == "svg":
            import matplotlib
            with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "flopest"}):
                fig.savefig(f, format="svg", metadata={"Date": None})
        else:
            fig.savefig(f, format="png", dpi=150)
    io.write(path, draw, flag="--plot")
    return path


def _points(result: SweepResult, x: str) -> list:
    return [r for r in result.ok if number(r.get(f"{x}_p50")) and number(r.get("co2eq_kg_p50"))]


def _panel(ax, result: SweepResult, x: str, group, FuncFormatter) -> None:
    pts = _points(result, x)
    if group:
        for i, v in enumerate(dict.fromkeys(r.get(group) for r in pts)):
            sel = [r for r in pts if r.get(group) == v]
            ax.scatter([number(r[f"{x}_p50"]) for r in sel], [number(r["co2eq_kg_p50"]) for r in sel], s=14,
                       color=SERIES_COLORS[i % len(SERIES_COLORS)], alpha=0.55, label=f"{group}={v}", linewidths=0)
    else:
        ax.scatter([number(r[f"{x}_p50"]) for r in pts], [number(r["co2eq_kg_p50"]) for r in pts], s=14,
                   color=CLOUD_COLOR, alpha=0.6, label="points", linewidths=0)
    front = result.front(x)
    fx = [number(r[f"{x}_p50"]) for r in front]
    fy = [number(r["co2eq_kg_p50"]) for r in front]
    ax.step(fx, fy, where="post", color=FRONT_COLOR, linewidth=1.2)
    ax.scatter(fx, fy, s=36, facecolors="none", edgecolors=FRONT_COLOR, linewidths=1.4,
               label=f"Pareto front ({len(front)})")
    xs = [number(r[f"{x}_p50"]) for r in pts]
    ys = [number(r["co2eq_kg_p50"]) for r in pts]
    for axis, vals, unit in ((ax.xaxis, xs, SHOWN[x][1]), (ax.yaxis, ys, "kg")):
        if max(vals) >= 30 * min(vals):   # decades apart: log, each major tick with its unit
            (ax.set_xscale if axis is ax.xaxis else ax.set_yscale)("log")
            axis.set_minor_formatter(FuncFormatter(lambda v, _: ""))
        axis.set_major_formatter(FuncFormatter(lambda v, _, u=unit: format_quantity(v, u)))
    ax.set_xlabel(f"{SHOWN[x][0]} (p50)")
    ax.set_ylabel("CO2eq, scope 2 + 3 (p50)")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7)
    ax.set_title(f"CO2eq against {SHOWN[x][0]}", fontsize=9)


def _group_column(result: SweepResult) -> str | None:
    """The scenario column that colours the cloud: device, else region, when it varies a little."""
    for c in ("device", "region", "precision"):
        if c in result.parameters and 1 < len({r.get(c) for r in result.rows}) <= MAX_GROUPS:
            return c
    return None
