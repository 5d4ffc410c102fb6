"""Reports: each result (a count, an estimate, a budget check, a comparison, a serving estimate,
a data listing) is turned into one :class:`~flopest.report.spec.Report` — lines and tables —
which :func:`~flopest.report.spec.render` writes as a terminal table, Markdown, CSV, JSON or
HTML. Builders read the results' plain dicts (``to_dict()``) only."""

from __future__ import annotations

from .. import views
from ..units import format_count as human
from ..units import format_quantity as _num
from ..units import format_value as _fmt_value
from .spec import FORMATS, Report, Table, Text, check_format, render as render_report, to_json

SUMMARY_FIELDS = ("flops", "matmul_flops", "macs", "bytes", "params")
PHASE_FIELDS = ("forward_flops", "backward_flops", "optimizer_flops")


def _int(v) -> str:
    return "—" if v is None else f"{v:,}"


def _top(rows, top):
    return rows if not top or len(rows) <= top else rows[:top]


def _rng(v: dict, unit: str) -> tuple:
    return tuple(_num(v[k], unit) for k in ("p5", "p50", "p95"))


def _coverage_lines(d: dict) -> list:
    unk = d.get("unknown_ops") or {}
    lines = []
    if d.get("coverage") is not None:
        lines.append(f"coverage: {d['coverage']:.1%} of nodes costed")
    if unk:
        lines.append("NOT costed (unknown): " + ", ".join(f"{k} ×{v}" for k, v in sorted(unk.items())))
    return lines


def _notes(d: dict) -> list:
    return [f"note: {n}" for n in d.get("notes", [])]


def _assumption_rows(d: dict, shorten: bool) -> list:
    def src(s):
        s = str(s)
        return s if not shorten or len(s) <= 90 else s[:89].rstrip() + "…"
    return [(a["name"], _fmt_value(a["value"]), a["unit"], src(a["source"])) for a in d.get("assumptions", [])]


def _assumptions(d: dict, fmt: str) -> list:
    short = fmt == "table"
    blocks = [Table("assumptions", ("assumption", "value", "unit", "source"), _assumption_rows(d, short), "llll",
                    fold=True)]
    if short:
        blocks.append(Text(["(sources shortened; --format markdown or json gives them in full)"]))
    return blocks


def _method(d: dict) -> Text:
    return Text([f"method: {d['method']}. data {d['data_version']}, flopest {d['version']}"])


# ----------------------------------------------------------------------------- counts
def _summary_rows(d: dict):
    units = {"flops": "FLOP", "matmul_flops": "FLOP", "macs": "MAC", "bytes": "B", "params": ""}
    for k in SUMMARY_FIELDS:
        yield k, f"{d[k]:,}", human(d[k], units[k])
        if k == "flops" and (d.get("backward_flops") or d.get("optimizer_flops")):
            for p in PHASE_FIELDS:
                yield f"  {p}", f"{d[p]:,}", human(d[p], "FLOP")


def count_report(d: dict, top: int | None = 20, fmt: str = "table") -> Report:
    rep = Report("flopest count", data=d)
    if "sweep" in d:
        keys = list(d["sweep"][0]["dims"]) if d["sweep"] else []
        meas = ("flops", "matmul_flops", "bytes")
        cell = (lambda v: f"{v:,} ({human(v)})") if fmt == "table" else (lambda v: f"{v:,}")
        rep.blocks.append(Table("flopest count — sweep", tuple(keys) + meas,
                                [tuple(f"{p['dims'][k]:,}" for k in keys) + tuple(cell(p[c]) for c in meas)
                                 for p in d["sweep"]]))
        rep.csv = (keys + ["flops", "matmul_flops", "macs", "bytes"],
                   [[p["dims"][k] for k in keys] + [p["flops"], p["matmul_flops"], p["macs"], p["bytes"]]
                    for p in d["sweep"]])
    else:
        rep.blocks.append(Table("flopest count", ("measure", "exact", "≈"), list(_summary_rows(d))))
        if "breakdown" in d:
            rows = _top(d["breakdown"], top)
            tot = d["flops"] or 1
            title = f"breakdown (top {top})" if top and len(d["breakdown"]) > top else "breakdown"
            rep.blocks.append(Table(title, ("name", "kind", "count", "flops", "bytes", "% flops"),
                                    [(r["name"], r["kind"], str(r["count"]), _int(r["flops"]), _int(r["bytes"]),
                                      "—" if r["flops"] is None else f"{100 * r['flops'] / tot:.1f}")
                                     for r in rows], "llrrrr"))
            rep.csv = (["name", "kind", "count", "flops", "bytes"],
                       [[r["name"], r["kind"], r["count"], r["flops"], r["bytes"]] for r in d["breakdown"]])
        else:
            rows = [[k, d[k]] for k in SUMMARY_FIELDS] + [["coverage", d["coverage"]]]
            rows += [[f"unknown_ops:{k}", v] for k, v in (d.get("unknown_ops") or {}).items()]
            rep.csv = (["measure", "value"], rows)
    rep.blocks.append(Text(_coverage_lines(d) + _notes(d) + [f"conventions: {d['conventions']}",
                                                              f"flopest {d['version']}"]))
    return rep


def render(d: dict, fmt: str, top: int | None = 20) -> str:
    """A count (Counts.to_dict(), with a breakdown or a sweep) in `fmt`."""
    check_format(fmt)
    if fmt == "json":
        return to_json(d)   # looked up at call time: tests replace it to fail on purpose
    return render_report(count_report(d, top, fmt), fmt)


# ----------------------------------------------------------------------------- estimates
_EST_ROWS = (("time_s", "time", "s"), ("accelerator_hours", "accelerator-hours", "h"),
             ("energy_kwh", "energy", "kWh"), ("co2eq_kg", "CO₂eq (scope 2 + 3)", "kg"),
             ("water_l", "water", "L"))


def plan_head(d: dict) -> str:
    """'FLOPs: 1,234 (1.23 kFLOP)', with what was not costed; 'a posteriori' only when hours were given."""
    unk = d.get("unknown_ops") or {}
    miss = ""
    if unk:
        cov = d.get("coverage")
        miss = (" — NOT costed: " + ", ".join(f"{k} ×{v}" for k, v in sorted(unk.items()))
                + (f" (coverage {cov:.1%})" if cov is not None else ""))
    if d.get("workload") is not None or d.get("flops"):
        return f"FLOPs: {d['flops']:,} ({human(d['flops'], 'FLOP')}){miss}"
    return "a posteriori (accelerator-hours given)" + miss


def plan_line(d: dict) -> str | None:
    """'plan: 1,000,000 examples × 3 epochs × 1 trial; 32 examples per counted pass (how it is
    known)': the workload's factors, so that the batch the FLOPs were scaled by is always shown."""
    f = (d.get("workload") or {}).get("factors") or {}
    if "examples_per_pass" not in f:
        if "tokens" in f:
            return f"plan: {human(f['tokens'])} tokens × {f.get('trials', 1):g} trial(s)"
        return None
    trials = f.get("trials", 1)
    return (f"plan: {f['dataset_size']:,} examples × {f['epochs']:g} epoch(s) × {trials:g} trial(s); "
            f"{f['examples_per_pass']:,} examples per counted pass ({f.get('examples_per_pass_source', '')})")


def step_lines(d: dict) -> list:
    """The step-time model's figures: the time of the counted pass and its split."""
    st = d.get("step")
    if not st:
        return []
    sp = st["split"]
    tot = st["time_s"] or 1.0
    parts = ", ".join(f"{label} {100 * sp[k] / tot:.0f} %" for k, label in (
        ("compute_bound_s", "compute-bound"), ("memory_bound_s", "memory-bound"), ("launch_s", "launch"),
        ("optimizer_s", "optimizer"), ("communication_s", "communication")) if sp.get(k))
    return [f"step: {_num(st['time_s'], 's')} per counted pass of {st['examples_per_pass']} example(s) on "
            f"{st['device']} at {st['precision']} ({parts}; {st['kernels']:,} kernels)"]


def top_time_rows(d: dict):
    for r in (d.get("step") or {}).get("top_by_time", []):
        yield r["name"], _num(r["time_s"], "s"), f"{r['share']:.1%}"


def estimate_rows(d: dict):
    for key, label, unit in _EST_ROWS:
        yield (label, *_rng(d[key], unit))
    for scope, label in (("scope2", "  scope 2 (electricity, location-based)"),
                         ("scope3", "  scope 3 (embodied share)")):
        yield (label, *_rng(d["co2eq_kg_by_scope"][scope], "kg"))


def top_rows(d: dict):
    for r in d.get("top", []):
        yield r["name"], human(r["flops"], "FLOP"), f"{r['share']:.1%}"


def equivalence_rows(d: dict):
    for e in d.get("equivalences", []):
        yield f"{e['amount']:,.3g} {e['what']}", e["source"]


def _estimate_csv(d: dict) -> tuple:
    rows = [[key, d[key]["p5"], d[key]["p50"], d[key]["p95"]] for key, _, _ in _EST_ROWS]
    rows += [[f"co2eq_kg_{s}", *(d["co2eq_kg_by_scope"][s][q] for q in ("p5", "p50", "p95"))]
             for s in ("scope2", "scope3")]
    if d.get("coverage") is not None:   # what was not costed travels with the figures
        rows.append(["coverage", d["coverage"], d["coverage"], d["coverage"]])
    rows += [[f"unknown_ops:{k}", v, v, v] for k, v in sorted((d.get("unknown_ops") or {}).items())]
    return ["measure", "p5", "p50", "p95"], rows


def estimate_report(d: dict, fmt: str = "table") -> Report:
    rep = Report("flopest estimate", data=d, csv=_estimate_csv(d))
    rep.blocks.append(Text([plan_head(d)] + [x for x in [plan_line(d)] if x] + step_lines(d)))
    title = "flopest estimate (p5 – p50 – p95)"
    rep.blocks.append(Table(title, ("", "p5", "p50", "p95"), list(estimate_rows(d))))
    if (d.get("step") or {}).get("top_by_time"):
        first = "costliest operators by time (one step)" if fmt != "table" else "operator"
        rep.blocks.append(Table("costliest operators by time (one counted step)", (first, "time", "share"),
                                list(top_time_rows(d)), fold=True))
    if d.get("top"):
        by = d["top"][0]["by"]
        first = f"largest {by}s (one pass)" if fmt != "table" else "name"
        rep.blocks.append(Table(f"largest {by}s (FLOPs of one counted pass)", (first, "FLOPs", "share"),
                                list(top_rows(d)), fold=True))
    rep.blocks += _assumptions(d, fmt)
    if d.get("equivalences"):
        if fmt == "table":
            rep.blocks.append(Text(["at p50, about: " + "; ".join(r[0] for r in equivalence_rows(d))
                                    + " (sources in --format json)"]))
        else:
            rep.blocks.append(Table("equivalences", ("CO₂eq / energy at p50 is about", "source"),
                                    list(equivalence_rows(d)), "ll"))
    rep.blocks.append(Text(_notes(d)))
    rep.blocks.append(_method(d))
    return rep


def _render(build, d: dict, fmt: str) -> str:
    """`d` in `fmt`: JSON is the dict itself; the other formats render the report `build` makes."""
    check_format(fmt)
    if fmt == "json":
        return to_json(d)
    return render_report(build(d, fmt), fmt)


def render_estimate(d: dict, fmt: str) -> str:
    return _render(estimate_report, d, fmt)


def estimate_html(d: dict) -> str:
    """The estimate as HTML (notebooks: Estimate._repr_html_; --format html)."""
    return render_report(estimate_report(d, "html"), "html")


# ----------------------------------------------------------------------------- budget checks
def check_blocks(c: dict) -> list:
    rows = [(b["budget"], _num(b["limit"], b["unit"]), _num(b["value"], b["unit"]), b["at"],
             f"{b['ratio']:.0%}" if b.get("ratio") is not None else "—", "ok" if b["ok"] else "OVER")
            for b in c["budgets"]]
    return [Text([c["verdict"]], strong=True),
            Table("budgets", ("budget", "limit", "estimate", "at", "of budget", "verdict"), rows, "llllll")]


def _check_csv(c: dict) -> tuple:
    return (["budget", "metric", "unit", "limit", "at", "value", "ratio", "ok"],
            [[b["budget"], b["metric"], b["unit"], b["limit"], b["at"], b["value"], b.get("ratio"), b["ok"]]
             for b in c["budgets"]])


def check_table(c: dict, fmt: str) -> str:
    """The verdict line and one row per budget (csv: the rows only)."""
    rep = Report("flopest check", check_blocks(c), c, _check_csv(c))
    return render_report(rep, fmt) + ("" if fmt == "csv" else "\n")


def render_check(d: dict, fmt: str) -> str:
    """The verdict line, the budgets, then the estimate report (JSON: the estimate + "check")."""
    check_format(fmt)
    if fmt == "json":
        return to_json(d)
    rep = estimate_report(d, fmt)
    rep.title = "flopest check"
    rep.blocks = check_blocks(d["check"]) + rep.blocks
    rep.csv = _check_csv(d["check"])
    return render_report(rep, fmt)


# ----------------------------------------------------------------------------- compare
def compare_report(d: dict, fmt: str = "table") -> Report:
    head = ("device", "region", "time p50", "energy p50", "CO₂eq p5", "CO₂eq p50", "CO₂eq p95", "vs first choice")
    rows = []
    for r in d["rows"]:
        s = r["saving_vs_first"]["p50"]
        vs = "first choice" if r["label"] == d["first_choice"] else (f"−{s:.0%}" if s >= 0 else f"+{-s:.0%}")
        rows.append((r["device"], r["region"], _num(r["time_s"]["p50"], "s"), _num(r["energy_kwh"]["p50"], "kWh"),
                     *_rng(r["co2eq_kg"], "kg"), vs))
    csv = (["device", "region", "time_s_p50", "energy_kwh_p50", "co2eq_kg_p5", "co2eq_kg_p50", "co2eq_kg_p95",
            "saving_vs_first_p50"],
           [[r["device"], r["region"], r["time_s"]["p50"], r["energy_kwh"]["p50"], r["co2eq_kg"]["p5"],
             r["co2eq_kg"]["p50"], r["co2eq_kg"]["p95"], r["saving_vs_first"]["p50"]] for r in d["rows"]])
    foot = (f"Sorted by CO₂eq at p50; saving against {d['first_choice']} (the first choice). Plan: {plan_head(d)}. "
            f"Same seed for every row. data {d['data_version']}, flopest {d['version']}")
    return Report("flopest compare", [Table("flopest compare (sorted by CO₂eq p50)", head, rows, "llrrrrrr"),
                                      Text(_notes(d) + [foot])], d, csv)


def render_compare(d: dict, fmt: str) -> str:
    """One row per device × region, sorted by CO2eq p50, with the saving against the first choice."""
    return _render(compare_report, d, fmt)


# ----------------------------------------------------------------------------- serving
_SERVE_ROWS = (("latency_s", "latency per request", "s"), ("ttft_s", "time to first token", "s"),
               ("tokens_per_s", "output tokens/s per device", "/s"),
               ("examples_per_s", "examples/s per device", "/s"),
               ("devices_needed", "devices", ""), ("utilisation", "device utilisation", "%"),
               ("accelerator_hours", "accelerator-hours", "h"), ("energy_kwh", "energy", "kWh"),
               ("energy_kwh_per_month", "energy per month", "kWh"),
               ("co2eq_kg", "CO₂eq (scope 2 + 3)", "kg"), ("scope2", "  scope 2 (electricity, location-based)", "kg"),
               ("scope3", "  scope 3 (embodied share)", "kg"), ("co2eq_kg_per_month", "CO₂eq per month", "kg"),
               ("co2eq_kg_per_year", "CO₂eq per year", "kg"), ("energy_wh_per_request", "energy per request", "Wh"),
               ("co2eq_g_per_request", "CO₂eq per request", "g"), ("water_l", "water", "L"),
               ("breakeven_days", "days to emit the training footprint", "days"))


def _serve_get(d, key):
    if key in ("scope2", "scope3"):
        return d["co2eq_kg_by_scope"][key]
    return d.get(key)


def serving_range_rows(d: dict):
    for key, label, unit in _SERVE_ROWS:
        v = _serve_get(d, key)
        if v is not None:
            yield (label, *(_num(v[q], unit) for q in ("p5", "p50", "p95")))


def serving_head(d: dict) -> str:
    if d["mode"] == "energy-per-request":
        return (f"{d['wh_per_request_it']:g} Wh per request (IT) · {human(d['requests_per_day'])} requests/day · "
                f"{d['duration_days']:,.4g} days")
    tok = (f"{d['prompt_tokens']:,} + {d['output_tokens']:,} tokens" if d["mode"] == "generate"
           else "one forward pass")
    per = f" × {d['devices_per_replica']} devices per replica" if d["devices_per_replica"] > 1 else ""
    return (f"{d['model']} · {d['device']} {d['precision']} · batch {d['batch']}{per}"
            f" · {tok} · {human(d['requests_per_day'])} requests/day · {d['duration_days']:,.4g} days")


def serving_count_rows(d: dict):
    """Per-request counted figures (exact)."""
    if d["mode"] == "generate":
        for k, unit, label in (("flops_per_request", "FLOP", "FLOPs"),
                               ("bytes_per_request", "B", f"bytes moved (weights / {d['batch']} + KV cache)"),
                               ("graph_bytes_per_request", "B", "graph bytes (unfused, batch 1)")):
            if k == "graph_bytes_per_request" and d.get("frontend") == "params":
                continue   # no graph
            for ph in ("prefill", "decode"):
                v = d[k][ph]
                yield (f"{label}, {ph}", f"{int(v):,}", human(v, unit))
        yield ("decode FLOPs per token (first / last step)",
               f"{d['decode_flops_per_token']['first']:,} / {d['decode_flops_per_token']['last']:,}", "")
        yield ("weights read per decode step", f"{int(d['weight_bytes']):,}", human(d["weight_bytes"], "B"))
        yield ("KV cache per token", f"{int(d['kv_cache_bytes_per_token']):,}",
               human(d["kv_cache_bytes_per_token"], "B"))
    elif d["mode"] == "forward":
        v = d["flops_per_request"]["forward"]
        yield ("flops per request", f"{v:,.0f}", human(v, "FLOP"))
        v = d["graph_bytes_per_request"]["forward"]
        yield ("graph bytes per request", f"{v:,.0f}", human(v, "B"))


def serving_report(d: dict, fmt: str = "table") -> Report:
    rows = []
    for key, _, _ in _SERVE_ROWS:
        v = _serve_get(d, key)
        if v is not None:
            rows.append([f"co2eq_kg_{key}" if key in ("scope2", "scope3") else key, v["p5"], v["p50"], v["p95"]])
    for k in ("flops_per_request", "bytes_per_request", "graph_bytes_per_request"):
        for ph, v in (d.get(k) or {}).items():
            rows.append([f"{k}_{ph}", v, v, v])
    rep = Report("flopest serve", data=d, csv=(["measure", "p5", "p50", "p95"], rows))
    if "check" in d:
        rep.blocks += check_blocks(d["check"])
        rep.csv = _check_csv(d["check"])
    rep.blocks.append(Text([serving_head(d)]))
    cr = list(serving_count_rows(d))
    if cr:
        rep.blocks.append(Table("per request", ("per request" if fmt != "table" else "measure", "exact", "≈"), cr))
    rep.blocks.append(Table("flopest serve (p5 – p50 – p95)", ("", "p5", "p50", "p95"), list(serving_range_rows(d))))
    rep.blocks.append(Table("assumptions", ("assumption", "value", "unit", "source"), _assumption_rows(d, False),
                            "llll", fold=True))
    rep.blocks.append(Text(_notes(d)))
    rep.blocks.append(_method(d))
    return rep


def render_serving(d: dict, fmt: str) -> str:
    """A serving estimate (with its budget check first when d has "check")."""
    return _render(serving_report, d, fmt)


# ----------------------------------------------------------------------------- data listings
LISTING_COLUMNS = {
    "devices": ("id", "name", "kind", "peak_bf16_tflops", "peak_fp16_tflops", "peak_fp32_tflops",
                "mem_bandwidth_gbps", "memory_gb", "tdp_w", "embodied_kgco2e", "year", "source"),
    "regions": ("id", "name", "kind", "intensity_g_per_kwh", "provider_figure_g_per_kwh", "year", "source",
                "licence"),
}


def render_listing(what: str, rows, fmt: str) -> str:
    check_format(fmt)
    cols = LISTING_COLUMNS[what]
    data = [[getattr(r, c, "") for c in cols] for r in rows]
    if fmt == "json":
        return to_json([dict(zip(cols, r)) for r in data])
    cells = [tuple("" if v is None else str(v) for v in r) for r in data]
    rep = Report(f"flopest {what}", [Table(f"flopest {what} ({len(data)})", cols, cells, "l" * len(cols),
                                           fold=True)], None, (list(cols), data))
    if fmt == "table":
        from .spec import to_terminal
        return to_terminal(rep, 120, 200)
    return render_report(rep, fmt)


views.register("estimate", "markdown", lambda d: render_estimate(d, "markdown"))
views.register("estimate", "html", estimate_html)

__all__ = ["FORMATS", "check_format", "human", "plan_head", "render", "render_check", "render_compare",
           "render_estimate", "render_listing", "render_serving", "check_table", "estimate_html", "to_json",
           "Report", "Table", "Text"]
