"""The Hugging Face model card's ``co2_eq_emissions`` metadata (``--format model-card``): the YAML
front matter the Hub reads, then a short Markdown section with the range, the boundaries and the
assumptions (https://huggingface.co/docs/hub/model-cards-co2):

    ---
    co2_eq_emissions:
      emissions: 2560000          # grams of CO₂eq, p50
      source: "flopest 0.1.0 estimate ..."
      training_type: "pre-training"
      geographical_location: "France (FR)"
      hardware_used: "256 x NVIDIA H100 SXM5 80GB"
    ---

The figure is an estimate made before training, at the boundary chosen (default "facility":
accelerators + host + PUE, location-based scope 2, the operational footprint that CodeCarbon-like
tools report); the Markdown gives every boundary, embodied included, so that nobody mistakes it
for a measurement or for the whole footprint. Strings are written as JSON strings, which YAML
reads as double-quoted scalars: any model name is safe.
"""

from __future__ import annotations

import json

from ..errors import InputError, did_you_mean
from ..units import format_count as human
from ..units import format_quantity as _num
from .spec import md, plain

TRAINING_TYPES = ("pre-training", "fine-tuning")
BOUNDARIES = ("accelerators", "host", "facility", "embodied")
_BOUNDARY_TEXT = {"accelerators": "accelerators only (their average power)",
                  "host": "accelerators + host (CPU, RAM, network)",
                  "facility": "accelerators + host + data-centre overhead (PUE)",
                  "embodied": "accelerators + host + PUE + the embodied (manufacturing) share"}


def _yaml_str(s) -> str:
    """A YAML double-quoted scalar: a JSON string of the text without control characters."""
    t = plain(s).replace("\u2028", " ").replace("\u2029", " ")
    return json.dumps(t, ensure_ascii=False)


def grams(g: float) -> str:
    """A YAML number of grams with 3 significant digits, never in exponent form (YAML 1.1 readers
    take '1e+06' for a string)."""
    r = float(f"{g:.3g}")
    if r >= 1000:
        return str(int(round(r)))
    s = f"{r:.12f}".rstrip("0")
    return s + "0" if s.endswith(".") else s


def _rng(v: dict, unit: str) -> str:
    return f"{_num(v['p50'], unit)} (p5 {_num(v['p5'], unit)} – p95 {_num(v['p95'], unit)})"


def _kwh(v: dict | None) -> dict | None:
    return None if v is None else {q: x / 3.6e6 for q, x in v.items()}


def _short(s: str, n: int = 110) -> str:
    s = str(s)
    return s if len(s) <= n else s[:n - 1].rstrip() + "…"


def model_card(d: dict, training_type: str = "pre-training", boundary: str = "facility") -> str:
    """The ``co2_eq_emissions`` front matter and a Markdown section for an estimate's dict
    (Estimate.to_dict()); emissions in grams at p50 of `boundary`."""
    if training_type not in TRAINING_TYPES:
        raise InputError(f"training_type {training_type!r} is not one of {', '.join(TRAINING_TYPES)}"
                         f"{did_you_mean(training_type, TRAINING_TYPES)}")
    if boundary not in BOUNDARIES:
        raise InputError(f"boundary {boundary!r} is not one of {', '.join(BOUNDARIES)}"
                         f"{did_you_mean(boundary, BOUNDARIES)}")
    plan = d["plan"]
    bb = d["by_boundary"]
    co2 = bb[boundary]["co2eq_kg"]
    region = plan["region_name"] or plan["region"]
    where = region if plan["region"] in region else f"{region} ({plan['region']})"
    hardware = f"{plan['devices']} x {plan['device_name']}"
    source = (f"flopest {d['version']} estimate made before training (not a measurement): p50 of a Monte-Carlo "
              f"over sourced priors, {_BOUNDARY_TEXT[boundary]}, location-based grid intensity; data "
              f"{d['data_version']}")
    front = ["---", "co2_eq_emissions:", f"  emissions: {grams(co2['p50'] * 1000)}",
             f"  source: {_yaml_str(source)}", f"  training_type: {_yaml_str(training_type)}",
             f"  geographical_location: {_yaml_str(where)}", f"  hardware_used: {_yaml_str(hardware)}", "---"]
    model = plan.get("model")
    what = f"Training `{md(model)}`" if model else "Training this model"
    time, hours = d["time_s"], d["accelerator_hours"]
    para = (f"{what} on {md(hardware)} in {md(where)} (data centre: {md(plan['datacenter'])}, {md(plan['precision'])}) "
            f"is estimated by flopest, before training, to take {md(_num(time['p50'], 's'))} (p5 "
            f"{md(_num(time['p5'], 's'))} – p95 {md(_num(time['p95'], 's'))}; {md(human(hours['p50']))} "
            f"accelerator-hours) and to emit **{md(_num(co2['p50'], 'kg'))} CO₂eq** "
            f"at p50 (p5 {md(_num(co2['p5'], 'kg'))} – p95 {md(_num(co2['p95'], 'kg'))}), counting "
            f"{_BOUNDARY_TEXT[boundary]}, at the location-based grid intensity. The range comes from the "
            f"uncertain inputs below (a seeded Monte-Carlo); offsets are never subtracted.")
    if d.get("cost_usd"):
        from . import usd   # cents under USD 100 (a whole-dollar card said USD 1 for 0.60)
        c = d["cost_usd"]
        para += (f" At on-demand list prices the accelerator-hours cost about {usd(c['p50'])} "
                 f"(p5 {usd(c['p5'])} – p95 {usd(c['p95'])}).")
    rows = ["| boundary | energy | CO₂eq |", "|---|---|---|"]
    for b in BOUNDARIES:
        e = _kwh(bb[b]["energy_j"])
        rows.append(f"| {md(_BOUNDARY_TEXT[b])} | {md(_rng(e, 'kWh')) if e else '—'} | "
                    f"{md(_rng(bb[b]['co2eq_kg'], 'kg'))} |")
    assumptions = []
    for a in d.get("assumptions", []):
        v = a["value"]
        val = (f"{v['p50']:,.4g} ({v['p5']:,.4g} – {v['p95']:,.4g})" if isinstance(v, dict)
               else f"{v:,.6g}" if isinstance(v, (int, float)) else str(v))
        unit = f" {a['unit']}" if a.get("unit") else ""
        assumptions.append(f"- {md(a['name'])}: {md(val + unit)} — {md(_short(a['source']))}")
    said = [f"- {md(' '.join(str(n).split()))}" for n in d.get("notes") or ()]
    lines = front + ["", "## Environmental impact (estimated)", "", para, "", *rows, "",
                     "Assumptions (p50, with p5 – p95 where uncertain; sources shortened, in full in "
                     "`flopest estimate --format json` or `markdown`):", "", *assumptions, "",
                     *(["Notes (what the estimate assumed or could not tell):", "", *said, ""] if said else []),
                     f"Method: {md(d['method'])}. flopest {md(d['version'])}, data {md(d['data_version'])}."]
    return "\n".join(lines) + "\n"
