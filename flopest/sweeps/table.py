"""The results of a sweep: one row per point (its id, its parameters, its status and error, its
figures), kept in memory and written to a Parquet (pyarrow) or CSV file as points complete.

The file is rewritten whole, atomically (a temporary file and a rename, flopest.io), at most
about once a second (less often as it grows: never more than a tenth of the time goes to
writing) and when the sweep ends or is stopped: a killed sweep leaves the last complete table,
never a torn one, and `--resume` reads it back. Rows are kept in the spec's order.
"""

from __future__ import annotations

import csv
import io as _stdio
import math
import os
import time

from .. import io
from ..errors import InputError
from ..report.spec import csv_cell
from ..validate import error, regular_file
from .work import RESULT

ID = "point"
FORMATS = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv"}
FLOAT = {c for c in RESULT if c not in ("status", "error", "params", "unknown_ops", "notes")}
TEXT = {ID, "status", "error", "unknown_ops", "notes"}
MIN_INTERVAL_S = 1.0        # between two rewrites of the file
WRITE_SHARE = 0.1           # at most this share of the time goes to rewriting it


def format_of(path, name: str = "output") -> str:
    """"parquet" or "csv" from the file's suffix; InputError names `name` and the fix."""
    ext = os.path.splitext(os.fspath(path))[1].lower()
    if ext not in FORMATS:
        raise error(f"{name} {os.fspath(path)!r}: a sweep's results go to a .parquet or .csv file "
                    f"(not {ext or 'a name without suffix'!r})", name)
    return FORMATS[ext]


def _pyarrow(what: str):
    try:
        import pyarrow
        import pyarrow.parquet  # noqa: F401
    except ImportError:
        raise InputError(f"{what} needs pyarrow, which is not installed: pip install 'flopest[sweep]' "
                         f"(or use a .csv file)") from None
    return pyarrow


class Results:
    """The rows of a sweep by point id, written to `path` (or kept in memory when None)."""

    def __init__(self, columns: tuple, order: dict, path: str | None = None, name: str = "output"):
        self.columns = (ID,) + tuple(columns) + RESULT
        self.order = order                  # point id -> position in the spec
        self.rows: dict = {}                # point id -> tuple of values in self.columns
        self.path = path
        self.name = name
        self.fmt = format_of(path, name) if path else None
        self.pending = 0
        self.written = 0
        self._next = 0.0

    # ------------------------------------------------------------------------- rows
    def add(self, pid: str, values: tuple) -> None:
        self.rows[pid] = values
        self.pending += 1
        self.flush()

    def adopt(self, rows: list) -> None:
        """Rows read back from the file being resumed (dicts by column)."""
        for r in rows:
            self.rows[r[ID]] = tuple(r.get(c) for c in self.columns)

    def ordered(self) -> list:
        big = len(self.order)
        return sorted(self.rows.values(), key=lambda r: self.order.get(r[0], big))

    def dicts(self) -> list:
        return [dict(zip(self.columns, r)) for r in self.ordered()]

    # ------------------------------------------------------------------------- the file
    def flush(self, force: bool = False) -> None:
        """Rewrite the file when rows are pending and the time has come (or `force`)."""
        if not self.path or not self.pending:
            return
        now = time.monotonic()
        if not force and now < self._next:
            return
        t0 = time.monotonic()
        rows = self.ordered()
        if self.fmt == "parquet":
            table = self.arrow(rows)
            pq = _pyarrow(f"{self.name} {self.path!r}").parquet
            io.write_atomic(self.path, lambda f: pq.write_table(table, f), flag=self._flag())
        else:
            io.write_atomic(self.path, to_csv(self.columns, rows), flag=self._flag())
        spent = time.monotonic() - t0
        self.pending = 0
        self.written = len(rows)
        self._next = time.monotonic() + max(MIN_INTERVAL_S, spent / WRITE_SHARE)

    def _flag(self) -> str:
        return "--output" if self.name == "output" else self.name

    def arrow(self, rows: list):
        pa = _pyarrow(f"{self.name} {self.path!r}")
        cols = list(zip(*rows)) if rows else [()] * len(self.columns)
        arrays = {}
        for name, vals in zip(self.columns, cols):
            arrays[name] = pa.array(list(vals), type=_arrow_type(pa, name, vals))
        return pa.table(arrays)


def _arrow_type(pa, name: str, vals):
    if name in TEXT:
        return pa.string()
    if name in FLOAT:
        return pa.float64()
    if name == "params":
        return pa.int64()
    present = [v for v in vals if v is not None]
    if present and all(isinstance(v, bool) for v in present):
        return pa.bool_()
    if present and all(isinstance(v, int) and not isinstance(v, bool) for v in present):
        return pa.int64()
    if present and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in present):
        return pa.float64()
    return pa.string()


def to_csv(columns: tuple, rows: list) -> str:
    buf = _stdio.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(columns)
    for r in rows:
        w.writerow([_csv_value(v) for v in r])
    return buf.getvalue()


def _csv_value(v):
    if v is None:
        return ""
    if isinstance(v, float):
        return repr(v) if math.isfinite(v) else ""
    return csv_cell(v)


# ----------------------------------------------------------------------------- reading back
def read(path, name: str = "report") -> tuple:
    """(columns, rows as dicts) of a sweep's results file; InputError names `name` and the file."""
    p = os.fspath(path)
    fmt = format_of(p, name)
    regular_file(p, name, "a .parquet or .csv file of `flopest sweep`")
    if fmt == "parquet":
        pa = _pyarrow(f"{name} {p!r}")
        try:
            t = pa.parquet.read_table(p)
        except (pa.ArrowException, OSError, ValueError) as exc:
            raise InputError(f"{name} {p!r}: cannot read it as Parquet ({str(exc).splitlines()[0][:160]})") from None
        columns = tuple(t.column_names)
        d = t.to_pydict()
        rows = [dict(zip(columns, vals)) for vals in zip(*(d[c] for c in columns))] if columns else []
    else:
        columns, rows = _read_csv(p, name)
    if ID not in columns or "status" not in columns:
        raise InputError(f"{name} {p!r} is not the results of `flopest sweep` (no {ID!r} and 'status' columns)")
    return columns, rows


def _read_csv(p: str, name: str) -> tuple:
    try:
        with open(p, encoding="utf-8", newline="") as f:
            text = f.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{name} {p!r}: cannot read it ({getattr(exc, 'strerror', None) or exc})") from None
    lines = list(csv.reader(_stdio.StringIO(text)))
    if not lines:
        return (), []
    columns = tuple(lines[0])
    rows = []
    for i, cells in enumerate(lines[1:], 2):
        if len(cells) != len(columns):
            raise InputError(f"{name} {p!r}: line {i} has {len(cells)} cells, the header {len(columns)}")
        rows.append({c: _parse_cell(c, v) for c, v in zip(columns, cells)})
    return columns, rows


def _parse_cell(column: str, v: str):
    if v == "":
        return None
    if column in TEXT:
        return _unquote(v)
    if column in FLOAT:
        return float(v)
    if column == "params":
        return int(v)
    if v in ("True", "False"):
        return v == "True"
    for conv in (int, float):
        try:
            return conv(v)
        except ValueError:
            pass
    return _unquote(v)


def _unquote(v: str) -> str:
    """csv_cell's leading apostrophe (a formula guard) taken off again."""
    if v.startswith("'") and v[1:].startswith(("=", "+", "-", "@", "\t", "\r", "::")):
        return v[1:]
    return v
