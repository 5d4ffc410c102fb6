"""HTML reports a person reads: a standalone page (``--format html``) and the fragment notebooks
show (``Estimate._repr_html_``). Both are the result's one table spec (flopest.report.spec
blocks) under a header that states the plan (model, device, devices, region, data centre,
precision), with an inline chart: the SVG that flopest.plots draws, embedded in the page
(nothing is fetched: no script, no external file, no font).

Every text from the result is escaped here (names chosen by a model's author reach reports).
The chart is looked up through flopest.views ("estimate" / "compare", "svg"), registered by
flopest.plots, so the report layer never imports the charts; without matplotlib the page says
how to get the chart instead.
"""

from __future__ import annotations

import html
import re

from .. import views
from .spec import Report, Table, Text, plain

# one small style sheet, scoped to the report's own classes (a notebook's page is left alone)
STYLE = """
.flopest-report{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;color:#1b1b1b;
 max-width:1100px;line-height:1.4}
.flopest-report .flopest-head{background:#0b3954;color:#fff;padding:14px 18px;border-radius:6px}
.flopest-report .flopest-head h1{font-size:1.35em;margin:0 0 8px 0}
.flopest-report .flopest-head dl{display:flex;flex-wrap:wrap;gap:6px 22px;margin:0}
.flopest-report .flopest-head dt{font-size:.75em;text-transform:uppercase;opacity:.8}
.flopest-report .flopest-head dd{margin:0;font-weight:600}
.flopest-report .flopest-head .flopest-total{margin:10px 0 0 0;font-size:1.05em}
.flopest-report figure{margin:14px 0}
.flopest-report figure svg{max-width:100%;height:auto}
.flopest-report figcaption{font-size:.8em;color:#555}
.flopest-report table{border-collapse:collapse;margin:12px 0;font-size:.9em}
.flopest-report caption{text-align:left;font-weight:600;padding:4px 0}
.flopest-report th,.flopest-report td{border-bottom:1px solid #ddd;padding:3px 10px;vertical-align:top}
.flopest-report th{background:#f0f4f7}
.flopest-report p{margin:4px 0}
.flopest-report .flopest-strong{font-weight:700}
.flopest-report .flopest-note{color:#8a4b00}
"""

_SVG_START = re.compile(r"<svg[\s>]")


def _e(s) -> str:
    return html.escape(plain(s), quote=True)


def blocks_html(blocks: list) -> str:
    """The spec's lines and tables as HTML (the same blocks as the terminal and Markdown)."""
    out = []
    for b in blocks:
        if isinstance(b, Text):
            for x in b.lines:
                cls = "flopest-strong" if b.strong else ("flopest-note" if str(x).startswith("note:") else "")
                out.append(f"<p class='{cls}'>{_e(x)}</p>" if cls else f"<p>{_e(x)}</p>")
        elif isinstance(b, Table):
            al = b.aligns()
            side = lambda a: "left" if a == "l" else "right"   # noqa: E731
            head = "".join(f"<th style='text-align:{side(a)}'>{_e(c)}</th>" for c, a in zip(b.columns, al))
            body = "".join("<tr>" + "".join(f"<td style='text-align:{side(a)}'>{_e(c)}</td>" for c, a in zip(r, al))
                           + "</tr>" for r in b.rows)
            cap = f"<caption>{_e(b.title)}</caption>" if b.title else ""
            out.append(f"<table>{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
    return "".join(out)


def inline_svg(svg: str) -> str:
    """The <svg> element of an SVG file (its XML prolog and doctype dropped), for embedding."""
    m = _SVG_START.search(svg)
    if not m:
        raise ValueError("not an SVG document")
    return svg[m.start():]


def chart(what: str, d: dict) -> tuple:
    """(svg element or None, why not): the chart of a result, drawn by flopest.plots when it is
    imported and matplotlib is installed."""
    try:
        svg = views.render(what, "svg", d)
    except LookupError:
        return None, "chart: import flopest.plots (the plot extra) to draw it"
    except Exception as exc:   # matplotlib missing or a figure it cannot draw: the report still comes
        return None, f"chart not drawn: {exc}"
    return inline_svg(svg), None


def header(title: str, items: list, total: str | None = None) -> str:
    """The page's header: its title, the plan as (label, value) pairs, and the headline figure."""
    dl = "".join(f"<div><dt>{_e(k)}</dt><dd>{_e(v)}</dd></div>" for k, v in items if v not in (None, ""))
    tot = f"<p class='flopest-total'>{_e(total)}</p>" if total else ""
    return f"<header class='flopest-head'><h1>{_e(title)}</h1><dl>{dl}</dl>{tot}</header>"


def fragment(title: str, items: list, rep: Report, svg: str | None = None, caption: str = "",
             chart_note: str | None = None, total: str | None = None) -> str:
    """A <div> holding the whole report (notebooks), its style scoped to it."""
    fig = ""
    if svg:
        fig = f"<figure>{svg}<figcaption>{_e(caption)}</figcaption></figure>"
    elif chart_note:
        fig = f"<p class='flopest-note'>{_e(chart_note)}</p>"
    return (f"<div class='flopest-report'><style>{STYLE}</style>{header(title, items, total)}{fig}"
            f"{blocks_html(rep.blocks)}</div>")


def page(title: str, body: str) -> str:
    """A standalone HTML5 document around `body` (a fragment)."""
    return (f"<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
            f"<meta name='viewport' content='width=device-width, initial-scale=1'>"
            f"<title>{_e(title)}</title></head><body style='margin:16px'>\n{body}\n</body></html>\n")
