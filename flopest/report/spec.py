"""The one table spec every report is built from, and its renderers: a report is a list of
blocks (lines of text, tables of cells), plus its data (JSON) and one table of raw values (CSV).
Escaping happens here, once per format, for every cell and line: names chosen by a model's
author reach reports (module paths, operator names, sources), so a name can hold Markdown,
a terminal escape sequence, or a spreadsheet formula."""

from __future__ import annotations

import csv
import html
import io
import json
import os
import re
from dataclasses import dataclass, field

from ..errors import InputError, did_you_mean

FORMATS = ("table", "json", "markdown", "csv", "html")


def check_format(fmt: str, formats=FORMATS) -> str:
    if fmt not in formats:
        raise InputError(f"--format {fmt!r} is not one of {', '.join(formats)}{did_you_mean(fmt, formats)}")
    return fmt


@dataclass
class Text:
    """Lines of text; `strong` lines (a verdict) are bold where the format has bold."""
    lines: list
    strong: bool = False


@dataclass
class Table:
    """A table of display cells (strings). `align` has one letter per column: l or r (default:
    the first column left, the others right)."""
    title: str
    columns: tuple
    rows: list
    align: str = ""
    fold: bool = False      # wrap long cells instead of cutting (sources)

    def aligns(self) -> str:
        a = self.align or ("l" + "r" * (len(self.columns) - 1))
        return a.ljust(len(self.columns), "r")


@dataclass
class Report:
    """What a result shows: `blocks` for people (terminal, Markdown, HTML), `data` for JSON, and
    `csv` = (columns, rows of raw values) for spreadsheets."""
    title: str
    blocks: list = field(default_factory=list)
    data: object = None
    csv: tuple = ((), ())


# ----------------------------------------------------------------------------- escaping
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")   # C0 and C1 controls (ESC, CSI, BEL, ...)
_MD_SPECIAL = re.compile(r"([\\`*_\[\]<|~])")
_MD_LINE_START = re.compile(r"^(\s*)([#>+=-])")   # a heading, quote or list only at a line's start
_CSV_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "::")


def plain(s) -> str:
    """Text safe for a terminal: control characters (escape sequences) removed, newlines folded."""
    return _CONTROL.sub("", str(s).replace("\r\n", " ").replace("\n", " ").replace("\t", " "))


def md(s, line: bool = False) -> str:
    """Text safe inside Markdown: punctuation escaped; a `line` (not a table cell) also has a
    leading heading, quote or list marker escaped."""
    t = _MD_SPECIAL.sub(r"\\\1", plain(s))
    return _MD_LINE_START.sub(r"\1\\\2", t) if line else t


def csv_cell(v):
    """A CSV value: numbers as they are; a text that a spreadsheet would run as a formula, or that
    GitHub Actions would read as a workflow command (``::error``), gets a leading apostrophe."""
    if v is None:
        return ""
    if isinstance(v, (bool, int, float)):
        return v
    s = _CONTROL.sub("", str(v))
    if s.startswith(_CSV_TRIGGERS) and not _is_number(s):
        s = "'" + s
    return s


def _is_number(s: str) -> bool:
    try:
        float(s)
        return True
    except ValueError:
        return False


# ----------------------------------------------------------------------------- renderers
def to_json(d) -> str:
    # allow_nan=False: a non-finite number is a bug upstream, never 'Infinity' in a report
    return json.dumps(d, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def to_csv(rep: Report) -> str:
    cols, rows = rep.csv
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow([csv_cell(c) for c in cols])
    for r in rows:
        w.writerow([csv_cell(v) for v in r])
    return buf.getvalue()


def to_markdown(rep: Report) -> str:
    """GitHub Markdown; a table's title is left to the terminal (its first header says what it is)."""
    from tabulate import tabulate
    out = []
    for b in rep.blocks:
        if isinstance(b, Text):
            lines = [md(x, line=True) for x in b.lines]
            out.append("\n".join(f"**{x}**" if b.strong else x for x in lines))
        elif b.columns:
            al = ["left" if a == "l" else "right" for a in b.aligns()]
            out.append(tabulate([[md(c) for c in r] for r in b.rows], headers=[md(c) for c in b.columns],
                                tablefmt="github", colalign=al, disable_numparse=True))
    return "\n\n".join(x for x in out if x) + "\n"


def to_html(rep: Report) -> str:
    e = html.escape
    parts = [f"<div class='flopest'><h3>{e(rep.title)}</h3>"]
    for b in rep.blocks:
        if isinstance(b, Text):
            tag = "b" if b.strong else "span"
            parts.append("".join(f"<p><{tag}>{e(plain(x))}</{tag}></p>" for x in b.lines))
        else:
            al = b.aligns()
            head = "".join(f"<th style='text-align:{'left' if a == 'l' else 'right'}'>{e(plain(c))}</th>"
                           for c, a in zip(b.columns, al))
            body = "".join("<tr>" + "".join(f"<td style='text-align:{'left' if a == 'l' else 'right'}'>"
                                            f"{e(plain(c))}</td>" for c, a in zip(r, al)) + "</tr>"
                           for r in b.rows)
            cap = f"<caption>{e(plain(b.title))}</caption>" if b.title else ""
            parts.append(f"<table>{cap}<tr>{head}</tr>{body}</table>")
    parts.append("</div>")
    return "".join(parts)


def term_width() -> int:
    try:
        return os.get_terminal_size().columns
    except OSError:
        return 120


def console(buf, least: int = 100, most: int = 160):
    """A plain-text rich console into `buf`, as wide as the terminal within [least, most]. Markup
    is off: data text such as a source's "[gpu-hopper]" must print as written, not as a style."""
    from rich.console import Console
    return Console(file=buf, width=max(least, min(most, term_width())), color_system=None,
                   highlight=False, markup=False)


def to_terminal(rep: Report, least: int = 100, most: int = 160) -> str:
    from rich.table import Table as RichTable
    buf = io.StringIO()
    con = console(buf, least, most)
    for b in rep.blocks:
        if isinstance(b, Text):
            for x in b.lines:
                con.print(plain(x), soft_wrap=False)
        else:
            t = RichTable(title=plain(b.title) or None)
            for c, a in zip(b.columns, b.aligns()):
                t.add_column(plain(c), justify="left" if a == "l" else "right",
                             overflow="fold" if b.fold else "ellipsis")
            for r in b.rows:
                t.add_row(*[plain(c) for c in r])
            con.print(t)
    return buf.getvalue()


def render(rep: Report, fmt: str) -> str:
    check_format(fmt)
    if fmt == "json":
        return to_json(rep.data)
    if fmt == "csv":
        return to_csv(rep)
    if fmt == "markdown":
        return to_markdown(rep)
    if fmt == "html":
        return to_html(rep)
    return to_terminal(rep)
