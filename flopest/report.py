"""Renderers for counts: terminal table (rich), JSON, Markdown (tabulate), CSV; atomic writes."""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile

from .errors import InputError, did_you_mean
from .units import format_count as human
from .units import format_quantity as _num
from .units import format_value as _fmt_value

FORMATS = ("table", "json", "markdown", "csv")


def check_format(fmt: str) -> str:
    if fmt not in FORMATS:
        raise InputError(f"--format {fmt!r} is not one of {', '.join(FORMATS)}{did_you_mean(fmt, FORMATS)}")
    return fmt


SUMMARY_FIELDS = ("flops", "matmul_flops", "macs", "bytes", "params")
PHASE_FIELDS = ("forward_flops", "backward_flops", "optimizer_flops")


def _summary_rows(d: dict):
    units = {"flops": "FLOP", "matmul_flops": "FLOP", "macs": "MAC", "bytes": "B", "params": ""}
    for k in SUMMARY_FIELDS:
        yield k, f"{d[k]:,}", human(d[k], units[k])
        if k == "flops" and (d.get("backward_flops") or d.get("optimizer_flops")):
            for p in PHASE_FIELDS:
                yield f"  {p}", f"{d[p]:,}", human(d[p], "FLOP")


def to_json(d) -> str:
    return json.dumps(d, indent=2, ensure_ascii=False) + "\n"


def to_markdown(d: dict, top: int | None = None) -> str:
    from tabulate import tabulate
    out = []
    if "sweep" in d:
        keys = list(d["sweep"][0]["dims"]) if d["sweep"] else []
        rows = [[p["dims"][k] for k in keys] + [p["flops"], p["matmul_flops"], p["bytes"]] for p in d["sweep"]]
        out.append(tabulate(rows, headers=keys + ["flops", "matmul_flops", "bytes"], tablefmt="github",
                            intfmt=","))
    else:
        out.append(tabulate([list(r) for r in _summary_rows(d)], headers=["measure", "exact", "≈"],
                            tablefmt="github", colalign=("left", "right", "right")))
        if "breakdown" in d:
            rows = [[r["name"], r["kind"], r["count"], _fmt_int(r["flops"]), _fmt_int(r["bytes"])]
                    for r in _top(d["breakdown"], top)]
            out.append(tabulate(rows, headers=["name", "kind", "count", "flops", "bytes"], tablefmt="github",
                                colalign=("left", "left", "right", "right", "right")))
    out.append(_footer(d))
    return "\n\n".join(out) + "\n"


def _fmt_int(v):
    return "—" if v is None else f"{v:,}"


def _top(rows, top):
    return rows if not top or len(rows) <= top else rows[:top]


def _footer(d: dict) -> str:
    unk = d.get("unknown_ops") or {}
    lines = [f"coverage: {d['coverage']:.1%} of nodes costed"]
    if unk:
        lines.append("NOT costed (unknown): " + ", ".join(f"{k} ×{v}" for k, v in unk.items()))
    for n in d.get("notes", []):
        lines.append(f"note: {n}")
    lines.append(f"conventions: {d['conventions']}")
    lines.append(f"flopest {d['version']}")
    return "\n".join(lines)


def to_csv(d: dict) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    if "sweep" in d:
        keys = list(d["sweep"][0]["dims"]) if d["sweep"] else []
        w.writerow(keys + ["flops", "matmul_flops", "macs", "bytes"])
        for p in d["sweep"]:
            w.writerow([p["dims"][k] for k in keys] + [p["flops"], p["matmul_flops"], p["macs"], p["bytes"]])
    elif "breakdown" in d:
        w.writerow(["name", "kind", "count", "flops", "bytes"])
        for r in d["breakdown"]:
            w.writerow([r["name"], r["kind"], r["count"], "" if r["flops"] is None else r["flops"],
                        "" if r["bytes"] is None else r["bytes"]])
    else:
        w.writerow(["measure", "value"])
        for k in SUMMARY_FIELDS:
            w.writerow([k, d[k]])
        w.writerow(["coverage", d["coverage"]])
        for k, v in (d.get("unknown_ops") or {}).items():
            w.writerow([f"unknown_ops:{k}", v])
    return buf.getvalue()


def to_table(d: dict, top: int | None = 20, title: str = "") -> str:
    """Terminal rendering with rich (no colour when not a TTY)."""
    from rich.table import Table

    buf = io.StringIO()
    con = _console(buf)
    if "sweep" in d:
        keys = list(d["sweep"][0]["dims"]) if d["sweep"] else []
        t = Table(title=title or "flopest count — sweep")
        for k in keys:
            t.add_column(k, justify="right")
        for c in ("flops", "matmul_flops", "bytes"):
            t.add_column(c, justify="right")
        for p in d["sweep"]:
            t.add_row(*[f"{p['dims'][k]:,}" for k in keys],
                      *[f"{p[c]:,} ({human(p[c])})" for c in ("flops", "matmul_flops", "bytes")])
        con.print(t)
    else:
        t = Table(title=title or "flopest count")
        t.add_column("measure")
        t.add_column("exact", justify="right")
        t.add_column("≈", justify="right")
        for r in _summary_rows(d):
            t.add_row(*r)
        con.print(t)
        if "breakdown" in d:
            b = Table(title=f"breakdown (top {top})" if top and len(d["breakdown"]) > top else "breakdown")
            for c, j in (("name", "left"), ("kind", "left"), ("count", "right"), ("flops", "right"),
                         ("bytes", "right"), ("% flops", "right")):
                b.add_column(c, justify=j)
            tot = d["flops"] or 1
            for r in _top(d["breakdown"], top):
                share = "—" if r["flops"] is None else f"{100 * r['flops'] / tot:.1f}"
                b.add_row(r["name"], r["kind"], str(r["count"]), _fmt_int(r["flops"]),
                          _fmt_int(r["bytes"]), share)
            con.print(b)
    con.print(_footer(d), soft_wrap=False)
    return buf.getvalue()


def _term_width() -> int:
    try:
        return os.get_terminal_size().columns
    except OSError:
        return 120


def render(d: dict, fmt: str, top: int | None = 20) -> str:
    check_format(fmt)
    if fmt == "json":
        return to_json(d)
    if fmt == "markdown":
        return to_markdown(d, top)
    if fmt == "csv":
        return to_csv(d)
    return to_table(d, top)


def write_atomic(path: str, content, flag: str = "--output") -> None:
    """Write `content` (text, or a callable given the open binary file) to `path` through a
    temporary file in the same folder and a rename: a failure or Ctrl-C never leaves a
    half-written file. Errors name `flag` (the option the path came from)."""
    path = os.fspath(path)
    if not str(path).strip():
        raise InputError(f"{flag} '' is empty; give a file name")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise InputError(f"{flag} {path!r}: folder {folder!r} does not exist; create it first")
    if os.path.isdir(path):
        raise InputError(f"{flag} {path!r} is a folder; give a file name")
    try:
        fd, tmp = tempfile.mkstemp(prefix=".flopest-", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise InputError(f"{flag} {path!r}: cannot write in {folder!r} ({exc.strerror or exc})") from None
    try:
        with os.fdopen(fd, "wb") as f:
            if callable(content):
                content(f)
            else:
                f.write(content.encode("utf-8"))
            f.flush()
            os.fsync(f.fileno())   # the rename must not publish a file whose bytes are not on disk
        os.chmod(tmp, 0o666 & ~_umask())   # mkstemp makes it 0600; a report is an ordinary file
        os.replace(tmp, path)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(exc, OSError):
            raise InputError(f"{flag} {path!r}: cannot write it ({exc.strerror or exc})") from None
        raise


def _umask() -> int:
    try:   # Linux: read it without changing it (os.umask sets it, racing other threads)
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


# ----------------------------------------------------------------------------- estimates
_EST_ROWS = (("time_s", "time", "s"), ("accelerator_hours", "accelerator-hours", "h"),
             ("energy_kwh", "energy", "kWh"), ("co2eq_kg", "CO₂eq (scope 2 + 3)", "kg"),
             ("water_l", "water", "L"))


def _rng(v: dict, unit: str) -> tuple:
    return tuple(_num(v[k], unit) for k in ("p5", "p50", "p95"))


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


def estimate_rows(d: dict):
    for key, label, unit in _EST_ROWS:
        yield (label, *_rng(d[key], unit))
    for scope, label in (("scope2", "  scope 2 (electricity, location-based)"),
                         ("scope3", "  scope 3 (embodied share)")):
        yield (label, *_rng(d["co2eq_kg_by_scope"][scope], "kg"))


def render_estimate(d: dict, fmt: str) -> str:
    check_format(fmt)
    if fmt == "json":
        return to_json(d)
    head = plan_head(d)
    assumptions = [(a["name"], _fmt_value(a["value"]), a["unit"], a["source"]) for a in d["assumptions"]]
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["measure", "p5", "p50", "p95"])
        for key, _, _ in _EST_ROWS:
            w.writerow([key, d[key]["p5"], d[key]["p50"], d[key]["p95"]])
        for scope in ("scope2", "scope3"):
            v = d["co2eq_kg_by_scope"][scope]
            w.writerow([f"co2eq_kg_{scope}", v["p5"], v["p50"], v["p95"]])
        return buf.getvalue()
    if fmt == "markdown":
        from tabulate import tabulate
        out = [head, tabulate(list(estimate_rows(d)), headers=["", "p5", "p50", "p95"], tablefmt="github")]
        if d.get("top"):
            out.append(tabulate(list(top_rows(d)), headers=[f"largest {d['top'][0]['by']}s (one pass)", "FLOPs",
                                                              "share"], tablefmt="github"))
        out.append(tabulate(assumptions, headers=["assumption", "value", "unit", "source"], tablefmt="github"))
        if d.get("equivalences"):
            out.append(tabulate(list(equivalence_rows(d)), headers=["CO₂eq / energy at p50 is about", "source"],
                                tablefmt="github"))
        out.append("\n".join(f"note: {n}" for n in d.get("notes", [])))
        out.append(f"method: {d['method']}. data {d['data_version']}, flopest {d['version']}")
        return "\n\n".join(x for x in out if x) + "\n"
    from rich.table import Table
    buf = io.StringIO()
    con = _console(buf)
    con.print(head)
    con.print(range_table("flopest estimate (p5 – p50 – p95)", estimate_rows(d)))
    if d.get("top"):
        tt = Table(title=f"largest {d['top'][0]['by']}s (FLOPs of one counted pass)")
        for c, j in (("name", "left"), ("FLOPs", "right"), ("share", "right")):
            tt.add_column(c, justify=j, overflow="fold")
        for r in top_rows(d):
            tt.add_row(*r)
        con.print(tt)
    con.print(assumption_table(assumptions, shorten=True))
    con.print("(sources shortened; --format markdown or json gives them in full)")
    if d.get("equivalences"):
        con.print("at p50, about: " + "; ".join(r[0] for r in equivalence_rows(d)) + " (sources in --format json)")
    for n in d.get("notes", []):
        con.print(f"note: {n}")
    con.print(f"method: {d['method']}. data {d['data_version']}, flopest {d['version']}")
    return buf.getvalue()


def _console(buf, least: int = 100, most: int = 160):
    """A plain-text rich console into `buf`, as wide as the terminal within [least, most]. Markup
    is off: data text such as a source's "[gpu-hopper]" must print as written, not as a style."""
    from rich.console import Console
    return Console(file=buf, width=max(least, min(most, _term_width())), color_system=None,
                   highlight=False, markup=False)


def range_table(title: str, rows):
    """A rich table of (label, p5, p50, p95) rows."""
    from rich.table import Table
    t = Table(title=title)
    t.add_column("")
    for c in ("p5", "p50", "p95"):
        t.add_column(c, justify="right")
    for r in rows:
        t.add_row(*r)
    return t


def assumption_table(assumptions, shorten: bool = False):
    """A rich table of (assumption, value, unit, source) rows; `shorten` cuts long sources."""
    from rich.table import Table
    a = Table(title="assumptions")
    for c in ("assumption", "value", "unit", "source"):
        a.add_column(c, overflow="fold")
    for r in assumptions:
        a.add_row(*[str(x) for x in r[:3]], _short_source(str(r[3])) if shorten else str(r[3]))
    return a


def _short_source(s: str, n: int = 90) -> str:
    return s if len(s) <= n else s[: n - 1].rstrip() + "…"


def top_rows(d: dict):
    for r in d.get("top", []):
        yield r["name"], human(r["flops"], "FLOP"), f"{r['share']:.1%}"


def equivalence_rows(d: dict):
    for e in d.get("equivalences", []):
        yield f"{e['amount']:,.3g} {e['what']}", e["source"]


def estimate_html(d: dict) -> str:
    """An HTML table for notebooks (Estimate._repr_html_)."""
    import html
    rows = "".join("<tr><th style='text-align:left'>{}</th>{}</tr>".format(
        html.escape(r[0].strip()), "".join(f"<td style='text-align:right'>{html.escape(x)}</td>" for x in r[1:]))
        for r in estimate_rows(d))
    assume = "".join(f"<tr><td>{html.escape(a['name'])}</td><td>{html.escape(_fmt_value(a['value']))} "
                     f"{html.escape(a['unit'])}</td><td>{html.escape(str(a['source']))}</td></tr>"
                     for a in d["assumptions"])
    head = plan_head(d)
    return (f"<div><b>flopest estimate</b> — {html.escape(head)}<table><tr><th></th><th>p5</th><th>p50</th>"
            f"<th>p95</th></tr>{rows}</table><details><summary>assumptions</summary><table>{assume}</table>"
            f"</details><small>data {html.escape(d['data_version'])}, flopest {html.escape(d['version'])}"
            f"</small></div>")


def render_check(d: dict, fmt: str) -> str:
    """The verdict line, the budgets, then the estimate report (JSON: the estimate + "check")."""
    check_format(fmt)
    if fmt == "json":
        return to_json(d)
    if fmt == "csv":
        return check_table(d["check"], fmt)
    return check_table(d["check"], fmt) + render_estimate(d, fmt)


def check_table(c: dict, fmt: str) -> str:
    """The verdict line and one row per budget (csv: the rows only)."""
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["budget", "metric", "unit", "limit", "at", "value", "ratio", "ok"])
        for b in c["budgets"]:
            w.writerow([b["budget"], b["metric"], b["unit"], b["limit"], b["at"], b["value"], b["ratio"], b["ok"]])
        return buf.getvalue()
    rows = [(b["budget"], _num(b["limit"], b["unit"]), _num(b["value"], b["unit"]), b["at"],
             f"{b['ratio']:.0%}", "ok" if b["ok"] else "OVER") for b in c["budgets"]]
    head = ["budget", "limit", "estimate", "at", "of budget", "verdict"]
    from tabulate import tabulate
    table = tabulate(rows, headers=head, tablefmt="github" if fmt == "markdown" else "simple")
    verdict = f"**{c['verdict']}**" if fmt == "markdown" else c["verdict"]
    return f"{verdict}\n\n{table}\n\n"


def render_compare(d: dict, fmt: str) -> str:
    """One row per device × region, sorted by CO2eq p50, with the saving against the first choice."""
    check_format(fmt)
    if fmt == "json":
        return to_json(d)
    head = ["device", "region", "time p50", "energy p50", "CO₂eq p5", "CO₂eq p50", "CO₂eq p95",
            "vs first choice"]
    rows = []
    for r in d["rows"]:
        s = r["saving_vs_first"]["p50"]
        vs = "first choice" if r["label"] == d["first_choice"] else (f"−{s:.0%}" if s >= 0 else f"+{-s:.0%}")
        rows.append([r["device"], r["region"], _num(r["time_s"]["p50"], "s"), _num(r["energy_kwh"]["p50"], "kWh"),
                     *_rng(r["co2eq_kg"], "kg"), vs])
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["device", "region", "time_s_p50", "energy_kwh_p50", "co2eq_kg_p5", "co2eq_kg_p50",
                    "co2eq_kg_p95", "saving_vs_first_p50"])
        for r in d["rows"]:
            w.writerow([r["device"], r["region"], r["time_s"]["p50"], r["energy_kwh"]["p50"], r["co2eq_kg"]["p5"],
                        r["co2eq_kg"]["p50"], r["co2eq_kg"]["p95"], r["saving_vs_first"]["p50"]])
        return buf.getvalue()
    what = plan_head(d)
    foot = (f"Sorted by CO₂eq at p50; saving against {d['first_choice']} (the first choice). Plan: {what}. "
            f"Same seed for every row. data {d['data_version']}, flopest {d['version']}")
    from tabulate import tabulate
    if fmt == "markdown":
        return tabulate(rows, headers=head, tablefmt="github") + "\n\n" + foot + "\n"
    from rich.table import Table
    buf = io.StringIO()
    con = _console(buf)
    t = Table(title="flopest compare (sorted by CO₂eq p50)")
    for i, c in enumerate(head):
        t.add_column(c, justify="left" if i < 2 else "right")
    for r in rows:
        t.add_row(*r)
    con.print(t)
    con.print(foot)
    return buf.getvalue()


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
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(cols)
        w.writerows(data)
        return buf.getvalue()
    if fmt == "markdown":
        from tabulate import tabulate
        return tabulate(data, headers=cols, tablefmt="github") + "\n"
    from rich.table import Table
    buf = io.StringIO()
    con = _console(buf, 120, 200)
    t = Table(title=f"flopest {what} ({len(data)})")
    for c in cols:
        t.add_column(c, overflow="fold")
    for r in data:
        t.add_row(*["" if v is None else str(v) for v in r])
    con.print(t)
    return buf.getvalue()
