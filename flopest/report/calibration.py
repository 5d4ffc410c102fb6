"""The report of a calibration (``flopest calibrate``): a measured run beside flopest's prediction
for it, and the measured figures that replace priors. Reads ``Calibration.to_dict()`` only."""

from __future__ import annotations

from ..units import format_quantity
from .spec import Report, Table, Text, render


def _q(x, unit: str) -> str:
    """A figure in its report unit: J as kWh, W, kg of CO₂eq."""
    if x is None:
        return "—"
    if unit == "J":
        return format_quantity(x / 3.6e6, "kWh")
    if unit == "W":
        return f"{x:,.0f} W" if abs(x) >= 10 else f"{x:.3g} W"
    return format_quantity(x, unit)


def _run_line(d: dict) -> str:
    m = d["measured"]
    what = f"{m['tool']} {m['tool_version']}".strip()
    hw = m["accelerator_model"] or "no accelerator tracked"
    where = m["location"] or "location not recorded"
    return (f"measured run: {what}; {_q(m['duration_s'], 's')}; {hw}; {where} "
            f"(predicted on {d['devices']} × {d['device']}, region {d['region']}, data centre {d['datacenter']})")


def comparison_rows(d: dict):
    """(figure, predicted p50, p5 – p95, measured, measured / p50, within p5–p95)."""
    for r in d["comparison"]:
        p, u = r["predicted"], r["unit"]
        yield (r["figure"], _q(p["p50"], u), f"{_q(p['p5'], u)} – {_q(p['p95'], u)}", _q(r["measured"], u),
               "—" if r["ratio"] is None else f"{r['ratio']:.2f}", "yes" if r["within"] else "no")


def calibrated_rows(d: dict):
    """(figure, value, what it replaces in an estimate)."""
    c, m = d["calibrated"], d["measured"]
    if c["power_w"] is not None:
        yield ("power per accelerator, all-in", _q(c["power_w"], "W"),
               "--power-w (replaces TDP × power fraction + host power)")
    if c["accelerator_power_w"] is not None:
        frac = "" if c["power_fraction"] is None else f" = {c['power_fraction']:.2f} × the {d['tdp_w']:,.0f} W TDP"
        yield ("power per accelerator, board", _q(c["accelerator_power_w"], "W") + frac, "(informative)")
    yield ("PUE", "—" if c["pue"] is None else f"{c['pue']:g}",
           "--pue" if c["pue"] is not None else f"not a measurement: {m['pue_basis']}")
    if c["intensity_g_per_kwh"] is not None:
        yield ("grid carbon intensity", f"{c['intensity_g_per_kwh']:.4g} g CO2eq/kWh", "--intensity")


def calibration_report(d: dict) -> Report:
    blocks = [Text([_run_line(d)]),
              Table("predicted (flopest's priors) against measured, for this run",
                    ("figure", "predicted p50", "p5 – p95", "measured", "measured / p50", "within"),
                    list(comparison_rows(d)), align="lrrrrr"),
              Table("measured figures that replace priors", ("figure", "value", "in an estimate"),
                    list(calibrated_rows(d)), align="lrl")]
    lines = [f"use them: flopest estimate MODEL ... --device {d['device']} {d['flags']}"] if d["flags"] else []
    lines += [f"note: {n}" for n in d["notes"]]
    blocks.append(Text(lines))
    csv_cols = ("figure", "unit", "predicted_p5", "predicted_p50", "predicted_p95", "measured", "ratio", "within")
    csv_rows = [(r["figure"], r["unit"], r["predicted"]["p5"], r["predicted"]["p50"], r["predicted"]["p95"],
                 r["measured"], r["ratio"], r["within"]) for r in d["comparison"]]
    pad = ("",) * (len(csv_cols) - 1)
    # the calibrated figures, the flags and the notes: rows of their own, as in the other CSV reports
    csv_rows += [(f"calibrated: {name}: {value}" + (f" ({how})" if how else ""),) + pad
                 for name, value, how in calibrated_rows(d)]
    csv_rows += [(f"use them: {line}",) + pad for line in ([d["flags"]] if d["flags"] else [])]
    csv_rows += [(f"note: {' '.join(str(n).split())}",) + pad for n in d["notes"]]
    return Report("flopest calibrate", blocks, d, (csv_cols, csv_rows))


def render_calibration(d: dict, fmt: str) -> str:
    return render(calibration_report(d), fmt)
