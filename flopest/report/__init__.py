"""Reports: each result (a count, an estimate, a budget check, a comparison, a serving estimate,
a data listing) is turned into one :class:`~flopest.report.spec.Report` — lines and tables —
which :func:`~flopest.report.spec.render` writes as a terminal table, Markdown, CSV, JSON or
HTML. An estimate, a check and a comparison also make an HTML page with the plan in its header
and an inline chart (:mod:`flopest.report.html`); an estimate and a check, the Hugging Face
model card's metadata (:mod:`flopest.report.modelcard`). Builders read the results' plain dicts
(``to_dict()``) only."""

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


def usd(x: float) -> str:
    """A cost in US dollars: 'USD 1,234' ('USD 12.35' under 100)."""
    return f"USD {x:,.0f}" if abs(x) >= 100 else f"USD {x:,.2f}"


def _range_text(v: dict | None, fmt) -> str:
    return "—" if v is None else f"{fmt(v['p5'])} – {fmt(v['p95'])}"


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
            rows = [[k, d[k]] for k in SUMMARY_FIELDS] + [[k, d[k]] for k in PHASE_FIELDS if d.get(k) is not None]
            rows += [["coverage", d["coverage"]]]
            rows += [[f"unknown_ops:{k}", v] for k, v in (d.get("unknown_ops") or {}).items()]
            rows += [[f"note: {' '.join(str(n).split())}", ""] for n in d.get("notes") or ()]
            rep.csv = (["measure", "value"], rows)
    rep.blocks += memory_blocks(d.get("memory"))
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
        ("page_faults_s", "page faults"), ("optimizer_s", "optimizer"), ("communication_s", "communication"),
        ("pipeline_bubble_s", "pipeline bubble")) if sp.get(k))
    return [f"step: {_num(st['time_s'], 's')} per optimizer step and device, from a counted pass of "
            f"{st['examples_per_pass']} example(s) on {st['device']} at {st['precision']} ({parts}; "
            f"{st['kernels']:,} kernels a pass)"]


def memory_blocks(m: dict | None) -> list:
    """The memory per device: a verdict line and one row per term."""
    if not m:
        return []
    lay = m["layout"]
    cap = m.get("capacity_bytes")
    verdict = ("fits" if m["fits"] else "DOES NOT FIT" if m["fits"] is False else "capacity unknown")
    line = (f"memory per device: {human(m['total_bytes'], 'B')}"
            + (f" of {human(cap, 'B')} on {m['device']}" if cap else "") + f" — {verdict}"
            + (f"; fix: {m['fix']}" if m.get("fix") else "")
            + f" ({lay['precision']}, {lay['optimizer']}, sharding {lay['sharding']} over {lay['data_parallel']}, "
              f"tensor parallel {lay['tensor_parallel']}, pipeline {lay.get('pipeline_parallel', 1)}, "
              f"micro-batch {lay['micro_batch']}"
            + (", checkpointing" if lay.get("checkpointing") else "") + ")")
    rows = [(k, human(v, "B"), f"{v / m['total_bytes']:.1%}" if m["total_bytes"] else "—")
            for k, v in m["terms_bytes"].items()]
    return [Text([line], strong=m["fits"] is False),
            Table("memory per device", ("memory per device", "bytes", "share"), rows)]


def run_rows(d: dict):
    """The layout, its communication and the run's goodput: (term, value, source)."""
    lay = (d.get("step") or {}).get("layout")
    if lay and lay["tensor_parallel"] * lay["pipeline_parallel"] * lay["data_parallel"] > 1:
        src = lay.get("sources", {})
        yield "parallel layout", lay["describe"], src.get("layout", "")
        yield ("data-parallel gradient collectives", f"{_num(lay['dp_comm_s'], 's')} a step, "
               f"{_num(lay['dp_exposed_s'], 's')} exposed", src.get("data parallel", ""))
        if lay["tensor_parallel"] > 1:
            yield ("tensor-parallel all-reduces", f"{_num(lay['tp_comm_s'], 's')} a step" if lay["tp_comm_s"] else
                   "not costed: no repeated blocks in the graph (see notes)", src.get("tensor parallel", ""))
        if lay.get("expert_parallel", 1) > 1:
            yield ("expert-parallel all-to-alls", f"{_num(lay['ep_comm_s'], 's')} a step",
                   src.get("expert parallel", ""))
        if lay["pipeline_parallel"] > 1:
            sends = _num(lay["pp_comm_s"], "s") if lay["pp_comm_s"] else "not costed (no repeated blocks in the graph)"
            yield ("pipeline bubble and sends", f"{lay['bubble']:.1%} of a step ({lay['micro_batches']} micro-batches), "
                   f"sends {sends}", src.get("pipeline", ""))
        yield ("communication share of the time", f"{d['step'].get('communication_share', 0):.1%} (exposed)",
               "the step-time model with the terms above")
    g = d.get("goodput")
    if g:
        q = g["goodput"]
        src = g.get("sources", {})
        yield ("goodput (wall-clock time doing work)", f"{q['p50']:.1%} (p5 {q['p5']:.1%}, p95 {q['p95']:.1%})",
               "flopest/impact/goodput.py")
        yield ("failures and restarts", f"{g['failures_share']:.2%} of the time; a failure every "
               f"{_num(g['mtbf_h'] * 3600, 's')} on {g['n_devices']:,} device(s)",
               f"{src.get('failure rate per accelerator-hour', '')}; restart: {src.get('restart time', '')}")
        yield ("checkpoint writes", f"{g['checkpoint_share']:.2%} of the time; {_num(g['checkpoint_s'], 's')} "
               f"per checkpoint of {human(g['checkpoint_bytes'], 'B')}, every {_num(g['interval_s'], 's')} of work",
               f"{src.get('checkpoint write bandwidth per accelerator', '')}; interval: "
               f"{src.get('checkpoint interval', '')}")


def _short_source(text: str, n: int = 90) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= n else text[: n - 1] + "…"


def top_time_rows(d: dict):
    for r in (d.get("step") or {}).get("top_by_time", []):
        yield r["name"], _num(r["time_s"], "s"), f"{r['share']:.1%}"


def estimate_rows(d: dict):
    for key, label, unit in _EST_ROWS:
        yield (label, *_rng(d[key], unit))
    for scope, label in (("scope2", "  scope 2 (electricity, location-based)"),
                         ("scope3", "  scope 3 (embodied share)")):
        yield (label, *_rng(d["co2eq_kg_by_scope"][scope], "kg"))
    if d.get("cost_usd"):
        yield ("cost (on-demand list price)", *(usd(d["cost_usd"][q]) for q in ("p5", "p50", "p95")))


BOUNDARY_LABELS = (("accelerators", "accelerators only"), ("host", "+ host (CPU, RAM, network)"),
                   ("facility", "+ facility (PUE)"), ("embodied", "+ embodied (manufacturing share)"))


def _kwh(j: float) -> str:
    return _num(j / 3.6e6, "kWh")


def boundary_rows(d: dict):
    """Energy and CO₂eq by boundary: (boundary, energy p50, p5 – p95, CO₂eq p50, p5 – p95)."""
    bb = d.get("by_boundary") or {}
    kg = lambda x: _num(x, "kg")   # noqa: E731
    for key, label in BOUNDARY_LABELS:
        if key in bb:
            e, c = bb[key]["energy_j"], bb[key]["co2eq_kg"]
            yield (label, "—" if e is None else _kwh(e["p50"]), _range_text(e, _kwh), kg(c["p50"]), _range_text(c, kg))


TIME_SPLIT = (("compute_bound_s", "compute-bound operators"), ("memory_bound_s", "memory-bound operators"),
              ("launch_s", "kernel launches"), ("page_faults_s", "page faults (CPU)"), ("optimizer_s", "optimizer step"),
              ("communication_s", "exposed communication"), ("pipeline_bubble_s", "pipeline bubble"))


def time_split_rows(d: dict):
    """The step-time model's split of one counted step: (part, time, share)."""
    st = d.get("step") or {}
    sp = st.get("split") or {}
    tot = st.get("time_s") or sum(sp.values()) or 1.0
    for k, label in TIME_SPLIT:
        if k in sp:
            yield label, _num(sp[k], "s"), f"{sp[k] / tot:.1%}"


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
    for b, v in (d.get("by_boundary") or {}).items():
        for m in ("energy_j", "co2eq_kg"):
            if v[m] is not None:
                rows.append([f"{m}_{b}", v[m]["p5"], v[m]["p50"], v[m]["p95"]])
    if d.get("cost_usd"):
        rows.append(["cost_usd", d["cost_usd"]["p5"], d["cost_usd"]["p50"], d["cost_usd"]["p95"]])
    if d.get("coverage") is not None:   # what was not costed travels with the figures
        rows.append(["coverage", d["coverage"], d["coverage"], d["coverage"]])
    rows += [[f"unknown_ops:{k}", v, v, v] for k, v in sorted((d.get("unknown_ops") or {}).items())]
    rows.append(["flops", d.get("flops"), d.get("flops"), d.get("flops")])
    rows += _csv_context(d, 4)
    return ["measure", "p5", "p50", "p95"], rows


def _csv_context(d: dict, width: int) -> list:
    """What the figures rest on, as rows of a CSV whose first column holds the text: one row an
    assumption (its value, unit and full source), one row a note."""
    pad = [""] * (width - 1)
    out = []
    for a in d.get("assumptions") or ():
        v = a.get("value")
        shown = (f"{v['p50']:g} (p5 {v['p5']:g}, p95 {v['p95']:g})" if isinstance(v, dict) else
                 f"{v:g}" if isinstance(v, (int, float)) and not isinstance(v, bool) else str(v))
        text = f"assumption: {a['name']} = {shown}{(' ' + a['unit']) if a.get('unit') else ''} ({a.get('source', '')})"
        out.append([" ".join(text.split())] + pad)
    out += [[f"note: {' '.join(str(n).split())}"] + pad for n in d.get("notes") or ()]
    return out


def estimate_report(d: dict, fmt: str = "table") -> Report:
    rep = Report("flopest estimate", data=d, csv=_estimate_csv(d))
    rep.blocks.append(Text([plan_head(d)] + [x for x in [plan_line(d)] if x] + step_lines(d)))
    title = "flopest estimate (p5 – p50 – p95)"
    rep.blocks.append(Table(title, ("", "p5", "p50", "p95"), list(estimate_rows(d))))
    if d.get("by_boundary"):
        first = "energy and CO₂eq by boundary" if fmt != "table" else "boundary"
        rep.blocks.append(Table("by boundary: hold each against a published figure on the same boundary",
                                (first, "energy p50", "energy p5 – p95", "CO₂eq p50", "CO₂eq p5 – p95"),
                                list(boundary_rows(d)), "lrrrr"))
    if (d.get("step") or {}).get("split"):
        first = "time split of one counted step" if fmt != "table" else "part"
        rep.blocks.append(Table("time split (one counted step, step-time model)", (first, "time", "share"),
                                list(time_split_rows(d))))
    if (d.get("step") or {}).get("top_by_time"):
        first = "costliest operators by time (one step)" if fmt != "table" else "operator"
        rep.blocks.append(Table("costliest operators by time (one counted step)", (first, "time", "share"),
                                list(top_time_rows(d)), fold=True))
    if d.get("top"):
        by = d["top"][0]["by"]
        first = f"largest {by}s (one pass)" if fmt != "table" else "name"
        rep.blocks.append(Table(f"largest {by}s (FLOPs of one counted pass)", (first, "FLOPs", "share"),
                                list(top_rows(d)), fold=True))
    rep.blocks += memory_blocks(d.get("memory"))
    if d.get("phases"):
        rows = [(p["name"], f"{p['devices']:,}", human(p["flops"], "FLOP"), _num(p["time_s"]["p50"], "s"),
                 _num(p["energy_kwh"]["p50"], "kWh"), _num(p["co2eq_kg"]["p50"], "kg"), p.get("layout") or "—")
                for p in d["phases"]]
        rep.blocks.append(Table("phases of the plan (p50 each; the totals above sum them sample by sample)",
                                ("phase", "devices", "FLOPs", "time", "energy", "CO₂eq", "layout"), rows,
                                "lrrrrrl"))
    run = list(run_rows(d))
    if run:
        shown = run if fmt != "table" else [(a, b, _short_source(c)) for a, b, c in run]
        rep.blocks.append(Table("layout, communication and goodput of the run", ("term", "value", "source"), shown,
                                "lll"))
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


# the formats of an estimate and a check: the report formats and the Hugging Face model card
ESTIMATE_FORMATS = FORMATS + ("model-card",)


def check_estimate_format(fmt: str) -> str:
    return check_format(fmt, ESTIMATE_FORMATS)


def plan_summary(d: dict, where: bool = True) -> str:
    """The plan in one line for headers and chart titles: 'zoo:bert_base · 10 M examples × 3
    epoch(s) · 8 × h100-sxm · FR' (without `where`: the devices' number only)."""
    p = d.get("plan") or {}
    f = (d.get("workload") or {}).get("factors") or {}
    parts = [str(p["model"])] if p.get("model") else []
    if "dataset_size" in f:
        parts.append(f"{human(f['dataset_size'])} examples × {f.get('epochs', 1):g} epoch(s)")
    elif "tokens" in f:
        parts.append((f"{human(f['params'])} params × " if f.get("params") else "") + f"{human(f['tokens'])} tokens")
    elif not f:
        parts.append("a posteriori: the accelerator-hours given")
    if f.get("trials", 1) != 1:
        parts.append(f"{f['trials']:g} trials")
    if p:
        parts.append(f"{p['devices']:,} × {p['device']}" if where else f"{p['devices']:,} device(s)")
        if where:
            parts.append(p["region"])
    return " · ".join(parts)


def _head_items(d: dict) -> list:
    p = d.get("plan") or {}
    return [("model", p.get("model") or plan_summary({**d, "plan": {}}, where=False)),
            ("device", f"{p.get('device_name', '')} ({p.get('device', '')})"), ("devices", f"{p.get('devices', 0):,}"),
            ("region", f"{p.get('region_name') or p.get('region', '')} ({p.get('region', '')})"),
            ("data centre", p.get("datacenter")), ("precision", p.get("precision"))]


def _headline(d: dict) -> str:
    c, e = d["co2eq_kg"], d["energy_kwh"]
    line = (f"CO₂eq {_num(c['p50'], 'kg')} (p5 {_num(c['p5'], 'kg')} – p95 {_num(c['p95'], 'kg')}) · energy "
            f"{_num(e['p50'], 'kWh')} · time {_num(d['time_s']['p50'], 's')}")
    if d.get("cost_usd"):
        line += f" · cost {usd(d['cost_usd']['p50'])}"
    return line + " (p50)"


CHART_CAPTION = ("CO₂eq and energy by boundary: accelerators only, + host, + facility (PUE), + embodied; "
                 "bars at p50, whiskers p5–p95")


def estimate_html(d: dict, rep: Report | None = None, title: str = "flopest estimate") -> str:
    """The estimate as an HTML fragment (notebooks: Estimate._repr_html_): the plan in the header,
    the chart, then the report's tables."""
    from . import html
    rep = rep or estimate_report(d, "html")
    svg, why = html.chart("estimate", d)
    return html.fragment(title, _head_items(d), rep, svg, CHART_CAPTION, why, _headline(d))


def render_estimate(d: dict, fmt: str, training_type: str = "pre-training") -> str:
    """An estimate in `fmt`; html is a standalone page, model-card the Hugging Face metadata."""
    check_estimate_format(fmt)
    if fmt == "model-card":
        from .modelcard import model_card
        return model_card(d, training_type)
    if fmt == "html":
        from .html import page
        return page("flopest estimate", estimate_html(d))
    return _render(estimate_report, d, fmt)


# ----------------------------------------------------------------------------- budget checks
def check_blocks(c: dict) -> list:
    rows = [(b["budget"], _num(b["limit"], b["unit"]), _num(b["value"], b["unit"]), b["at"],
             f"{b['ratio']:.0%}" if b.get("ratio") is not None else "—", "ok" if b["ok"] else "OVER")
            for b in c["budgets"]]
    return [Text([c["verdict"]], strong=True),
            Table("budgets", ("budget", "limit", "estimate", "at", "of budget", "verdict"), rows, "llllll")]


def _check_csv(c: dict, notes=()) -> tuple:
    """One row per budget, then the verdict and every note (what was not costed, the estimate's
    own notes) as rows of their own, as the other CSV reports write them."""
    head = ["budget", "metric", "unit", "limit", "at", "value", "ratio", "ok"]
    rows = [[b["budget"], b["metric"], b["unit"], b["limit"], b["at"], b["value"], b.get("ratio"), b["ok"]]
            for b in c["budgets"]]
    pad = [""] * (len(head) - 1)
    rows.append([f"verdict: {' '.join(str(c['verdict']).split())}"] + pad)
    for n in dict.fromkeys(list(c.get("notes") or ()) + list(notes)):
        rows.append([f"note: {' '.join(str(n).split())}"] + pad)
    return head, rows


def check_table(c: dict, fmt: str) -> str:
    """The verdict line and one row per budget (csv: the rows only)."""
    rep = Report("flopest check", check_blocks(c), c, _check_csv(c))
    return render_report(rep, fmt) + ("" if fmt == "csv" else "\n")


def render_check(d: dict, fmt: str, training_type: str = "pre-training") -> str:
    """The verdict line, the budgets, then the estimate report (JSON: the estimate + "check";
    model-card: the estimate's, the verdict being no part of a model card)."""
    check_estimate_format(fmt)
    if fmt == "json":
        return to_json(d)
    if fmt == "model-card":
        from .modelcard import model_card
        return model_card(d, training_type)
    rep = estimate_report(d, fmt)
    rep.title = "flopest check"
    rep.blocks = check_blocks(d["check"]) + rep.blocks
    rep.csv = _check_csv(d["check"], d.get("notes") or ())
    if fmt == "html":
        from .html import page
        return page("flopest check", estimate_html(d, rep, "flopest check"))
    return render_report(rep, fmt)


# ----------------------------------------------------------------------------- compare
def compare_report(d: dict, fmt: str = "table") -> Report:
    head = ("device", "region", "time p50", "energy p50", "CO₂eq p50", "CO₂eq p5 – p95", "cost p50",
            "vs first choice")
    rows = []
    for r in d["rows"]:
        s = r["saving_vs_first"]["p50"]
        vs = "first choice" if r["label"] == d["first_choice"] else (f"−{s:.0%}" if s >= 0 else f"+{-s:.0%}")
        cost = usd(r["cost_usd"]["p50"]) if r.get("cost_usd") else "—"
        rows.append((r["device"], r["region"], _num(r["time_s"]["p50"], "s"), _num(r["energy_kwh"]["p50"], "kWh"),
                     _num(r["co2eq_kg"]["p50"], "kg"), _range_text(r["co2eq_kg"], lambda x: _num(x, "kg")), cost, vs))
    def c(r, q):   # noqa: E306
        return r["cost_usd"][q] if r.get("cost_usd") else None
    csv = (["device", "region", "time_s_p50", "energy_kwh_p50", "co2eq_kg_p5", "co2eq_kg_p50", "co2eq_kg_p95",
            "cost_usd_p5", "cost_usd_p50", "cost_usd_p95", "saving_vs_first_p50"],
           [[r["device"], r["region"], r["time_s"]["p50"], r["energy_kwh"]["p50"], r["co2eq_kg"]["p5"],
             r["co2eq_kg"]["p50"], r["co2eq_kg"]["p95"], c(r, "p5"), c(r, "p50"), c(r, "p95"),
             r["saving_vs_first"]["p50"]] for r in d["rows"]])
    csv[1].extend([f"note: {' '.join(str(n).split())}"] + [""] * (len(csv[0]) - 1) for n in d.get("notes") or ())
    foot = (f"Sorted by CO₂eq at p50; saving against {d['first_choice']} (the first choice). Plan: {plan_head(d)}. "
            f"Cost: accelerator-hours × on-demand list price per accelerator-hour (prices.csv, --price-per-hour)"
            + ("; — where the device has no list price. " if any(not r.get("cost_usd") for r in d["rows"]) else ". ")
            + f"Same seed for every row. data {d['data_version']}, flopest {d['version']}")
    return Report("flopest compare", [Table("flopest compare (sorted by CO₂eq p50)", head, rows, "llrrrrrr"),
                                      Text(_notes(d) + [foot])], d, csv)


def compare_plan(d: dict) -> dict:
    """The plan shared by a comparison's rows (the first choice's, its device and region aside)."""
    first = next((r for r in d["rows"] if r["label"] == d["first_choice"]), d["rows"][0])
    return {"plan": first.get("plan") or {}, "workload": first.get("workload")}


def compare_title(d: dict) -> str:
    """'CO₂eq of zoo:bert_base · 10 M examples × 3 epoch(s) · 8 device(s)': the chart's title."""
    return f"CO₂eq of {plan_summary(compare_plan(d), where=False)}"


def render_compare(d: dict, fmt: str) -> str:
    """One row per device × region, sorted by CO2eq p50, with the saving against the first choice
    and the cost; html: a page with the plan, the chart and the table."""
    if fmt == "html":
        from . import html
        rep = compare_report(d, fmt)
        svg, why = html.chart("compare", d)
        p = compare_plan(d)["plan"]
        items = [("model", plan_summary(compare_plan(d), where=False)),
                 ("devices × regions", f"{len(d['rows'])} compared"), ("first choice", d["first_choice"]),
                 ("data centre", p.get("datacenter")), ("precision", p.get("precision"))]
        best = d["rows"][0]
        total = (f"lowest CO₂eq: {best['label']}, {_num(best['co2eq_kg']['p50'], 'kg')} at p50 "
                 f"(first choice {d['first_choice']})")
        body = html.fragment("flopest compare", items, rep, svg, "CO₂eq p50 by device and region (log axis, one "
                             "unit); whiskers p5–p95; colour = device (or region); the first choice outlined", why,
                             total)
        return html.page("flopest compare", body)
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


def serving_time_rows(d: dict):
    """The per-operator time of one batch (before the model's range): prefill and decode, or the
    forward pass, with the split of each pass."""
    tm = d.get("time_model") or {}
    names = {"compute_bound_s": "compute-bound", "memory_bound_s": "memory-bound", "launch_s": "launch",
             "page_faults_s": "page faults"}
    for ph, split in (tm.get("split") or {}).items():
        total = sum(v for k, v in split.items() if k in names)
        parts = ", ".join(f"{names[k]} {v / total:.0%}" for k, v in split.items() if k in names and v > 0) \
            if total > 0 else ""
        if ph == "decode":
            steps = tm.get("decode_step_s") or {}
            first, last = next(iter(steps.items()), (None, None)), next(reversed(steps.items()), (None, None))
            yield ("decode, all steps", _num(tm["decode_s"], "s"),
                   f"a step {_num(first[1], 's')} at {first[0]} cached tokens, {_num(last[1], 's')} at {last[0]}; "
                   f"{parts} (first step)")
        else:
            yield (ph, _num(tm["prefill_s"], "s"), parts)


def serving_report(d: dict, fmt: str = "table") -> Report:
    rows = []
    for key, _, _ in _SERVE_ROWS:
        v = _serve_get(d, key)
        if v is not None:
            rows.append([f"co2eq_kg_{key}" if key in ("scope2", "scope3") else key, v["p5"], v["p50"], v["p95"]])
    for k in ("flops_per_request", "bytes_per_request", "graph_bytes_per_request"):
        for ph, v in (d.get(k) or {}).items():
            rows.append([f"{k}_{ph}", v, v, v])
    rep = Report("flopest serve", data=d, csv=(["measure", "p5", "p50", "p95"], rows + _csv_context(d, 4)))
    if "check" in d:
        rep.blocks += check_blocks(d["check"])
        rep.csv = _check_csv(d["check"], d.get("notes") or ())
    rep.blocks.append(Text([serving_head(d)]))
    cr = list(serving_count_rows(d))
    if cr:
        rep.blocks.append(Table("per request", ("per request" if fmt != "table" else "measure", "exact", "≈"), cr))
    rep.blocks.append(Table("flopest serve (p5 – p50 – p95)", ("", "p5", "p50", "p95"), list(serving_range_rows(d))))
    if (d.get("time_model") or {}).get("model") == "per-operator":
        first = "pass (one batch, one replica)" if fmt != "table" else "pass"
        rep.blocks.append(Table("time per batch, per-operator model (before its range)", (first, "time", "split"),
                                list(serving_time_rows(d)), "lrl"))
        top = [(r["name"], _num(r["time_s"], "s"), f"{r['share']:.1%}") for r in d["time_model"]["top_by_time"]]
        if top:
            first = "costliest operators by time (one decode step)" if fmt != "table" else "operator"
            rep.blocks.append(Table("costliest operators by time (one decode step, or the forward pass)",
                                    (first, "time", "share"), top, fold=True))
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


def counts_html(d: dict, top: int | None = 20) -> str:
    """A count as an HTML fragment (notebooks: Counts._repr_html_): what was counted in the header,
    then the totals and the breakdown of the count report."""
    from . import html
    unk = d.get("unknown_ops") or {}
    items = [("model", d.get("source") or "—"), ("parameters", f"{d['params']:,}"),
             ("coverage", f"{d['coverage']:.1%} of nodes costed"),
             ("not costed", ", ".join(f"{k} ×{v}" for k, v in sorted(unk.items())) or "none")]
    total = f"{human(d['flops'], 'FLOP')} ({human(d['matmul_flops'], 'FLOP')} in matmuls) · {human(d['bytes'], 'B')} moved"
    return html.fragment("flopest count", items, count_report(d, top, "html"), total=total)


views.register("counts", "html", counts_html)
views.register("estimate", "markdown", lambda d: render_estimate(d, "markdown"))
views.register("estimate", "html", lambda d: estimate_html(d))

__all__ = ["FORMATS", "ESTIMATE_FORMATS", "check_format", "check_estimate_format", "plan_summary", "usd", "human",
           "plan_head", "render", "render_check", "render_compare", "compare_title", "render_estimate", "render_listing", "render_serving", "check_table", "estimate_html", "to_json",
           "Report", "Table", "Text"]
