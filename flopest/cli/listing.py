"""`flopest devices`, `flopest regions` and `flopest zoo`: what the embedded data and the zoo hold."""

from __future__ import annotations


from .. import models
from ..errors import InputError
from .common import stdout


def add_parsers(sub) -> None:
    for name, what in (("devices", "devices"), ("regions", "regions")):
        ls = sub.add_parser(name, help=f"list the embedded {what} with their sources and years")
        ls.add_argument("--search", metavar="TEXT", help="only rows whose id or name contains TEXT")
        ls.add_argument("--format", default=None, choices=("table", "json", "markdown", "csv"))
        ls.add_argument("--debug", action="store_true", help="show a traceback on errors")
        ls.set_defaults(run=run_listing)
    z = sub.add_parser("zoo", help="list the zoo models usable as zoo:NAME",
                       description="List the reference models of the zoo (random init, nothing "
                       "downloaded); count one with `flopest count zoo:NAME`.")
    z.add_argument("--debug", action="store_true", help="show a traceback on errors")
    z.set_defaults(run=run_zoo)


def run_listing(a) -> int:
    from .. import data as profiles
    from ..report import render_listing
    rows = profiles.devices() if a.command == "devices" else profiles.regions()
    if a.search:
        q = a.search.lower()
        rows = [r for r in rows if q in r.id.lower() or q in r.name.lower()]
        if not rows:
            raise InputError(f"--search {a.search!r}: no {a.command} match (flopest {a.command} lists all)")
    stdout().write(render_listing(a.command, rows, a.format))
    return 0


def run_zoo(a) -> int:
    from rich.console import Console
    from rich.table import Table
    t = Table(title="flopest zoo (flopest count zoo:NAME)")
    for col in ("name", "kind", "description", "input (full size)"):
        t.add_column(col)
    for name, e in models.zoo_entries().items():
        t.add_row(name, e.kind, e.description, e.full_input)
    Console(file=stdout(), width=140, color_system=None, markup=False).print(t)
    return 0
