"""The embedded reference data (flopest/data/*.csv): devices, grid carbon intensity, data centres,
hosts, MFU and power priors, water of electricity, equivalences, cloud prices. Every row carries
its source and year; flopest/data/README.md documents each file.

Tables load on first use (csv module, no pandas), are validated as they load (types, units,
finite numbers in plausible ranges, required source and year, unique ids, references between
tables) and are cached behind a lock, so concurrent first calls parse each file once. A bad value
raises :class:`DataError` naming the file, line and column; an unknown id raises
:class:`UnknownIdError` with the closest match.

>>> from flopest import data
>>> data.device("h100-sxm").peak_bf16_tflops          # dense, TFLOP/s
989.4
>>> data.region("fr").intensity_g_per_kwh               # ISO codes are case-insensitive
44.2

Users add or replace rows with their own CSV, validated the same way:
``load_user_devices(path)``, ``load_user_regions(path)``; ``reload()`` forgets them.
"""

from __future__ import annotations

import csv
import math
import re
import stat
import threading
from dataclasses import dataclass, fields
from importlib import resources
from pathlib import Path
from types import MappingProxyType

from ..errors import DataError, InputError, UnknownIdError, did_you_mean

DATA_VERSION = "2026.12.4"   # also in flopest/data/VERSION and README.md (a test checks all three)

PRECISIONS = ("fp32", "tf32", "bf16", "fp16", "fp8", "int8")


# ----------------------------------------------------------------------------- records

@dataclass(frozen=True)
class Device:
    """An accelerator or processor. Peaks are DENSE (no sparsity), None where the precision is
    not supported or not published."""
    id: str
    name: str
    vendor: str
    kind: str                       # gpu | tpu | cpu
    release_year: int
    peak_fp32_tflops: float | None
    peak_tf32_tflops: float | None
    peak_bf16_tflops: float | None
    peak_fp16_tflops: float | None
    peak_fp8_tflops: float | None
    peak_int8_tops: float | None
    mem_bandwidth_gbps: float       # GB/s
    memory_gb: float | None         # None for CPUs (system memory is not the device's)
    tdp_w: float
    idle_w: float
    embodied_kgco2e: float
    embodied_source: str
    mfu_class: str                  # a row of mfu_priors.csv
    estimated_fields: tuple         # columns of this row that are estimates, not published
    source: str
    year: int
    # optional columns, written by `flopest probe` (empty in the embedded table)
    basis: str | None = None        # measured | published | ...
    launch_us: float | None = None  # measured per-kernel launch/dispatch cost, microseconds
    fault_gbps: float | None = None  # measured first touch of freshly mapped memory, GB/s (CPU)
    gemm_curve: tuple = ()          # ((precision, ((n, achieved TFLOP/s), ...)), ...)
    origin: str = ""                # the file the row came from

    def gemm_tflops(self, precision: str) -> tuple:
        """The measured achieved GEMM throughput at `precision`, ((n, TFLOP/s), ...) by square
        size n ascending, from `gemm_curve`; () where none was measured."""
        p = _precision(precision)
        return next((pts for q, pts in self.gemm_curve if q == p), ())

    def peak_tflops(self, precision: str) -> float | None:
        """Dense peak at `precision` (fp32 tf32 bf16 fp16 fp8 in TFLOP/s, int8 in TOP/s), or None."""
        p = _precision(precision)
        return getattr(self, f"peak_{p}_tops" if p == "int8" else f"peak_{p}_tflops")

    def peak_flops(self, precision: str) -> float:
        """Dense peak at `precision` in FLOP/s (SI); InputError if the device has none."""
        v = self.peak_tflops(precision)
        if v is None:
            have = [p for p in PRECISIONS if self.peak_tflops(p) is not None]
            raise InputError(f"device {self.id!r} has no published dense {precision} peak "
                             f"(it has: {', '.join(have)})")
        return v * 1e12

    @property
    def precisions(self) -> tuple:
        return tuple(p for p in PRECISIONS if self.peak_tflops(p) is not None)

    @property
    def mem_bandwidth_bytes_per_s(self) -> float:
        return self.mem_bandwidth_gbps * 1e9

    def is_estimated(self, column: str) -> bool:
        return column in self.estimated_fields


@dataclass(frozen=True)
class Region:
    """A grid (country, US state, world) or a cloud region mapped to one. Location-based."""
    id: str
    name: str
    kind: str                       # country | subdivision | world | cloud
    intensity_g_per_kwh: float
    year: int
    source: str
    licence: str
    maps_to: str | None             # cloud rows: the grid row the figure comes from
    provider_figure_g_per_kwh: float | None   # the provider's own location-based figure
    origin: str = ""

    @property
    def intensity_kg_per_kwh(self) -> float:
        return self.intensity_g_per_kwh / 1000.0

    @property
    def intensity_kg_per_j(self) -> float:
        return self.intensity_g_per_kwh / 1000.0 / 3.6e6

    @property
    def provider(self) -> str | None:
        """'aws', 'gcp', 'azure', ... for a cloud region (also the data-centre id), else None."""
        return self.id.split(":", 1)[0] if ":" in self.id else None


@dataclass(frozen=True)
class Datacenter:
    """PUE (dimensionless) and on-site water (L per kWh of IT energy) of a provider or a kind."""
    id: str
    name: str
    kind: str                       # provider | generic
    pue_p5: float | None
    pue_p50: float
    pue_p95: float | None
    wue_l_per_kwh: float | None
    basis: str
    source: str
    year: int
    origin: str = ""

    @property
    def pue(self) -> float:
        return self.pue_p50


@dataclass(frozen=True)
class Host:
    """A server that carries accelerators: everything but them (power, embodied) and lifetime."""
    id: str
    name: str
    accelerator: str | None
    accelerators_per_server: int
    host_power_w: float             # W, excluding the accelerators
    host_power_basis: str           # max | derived | measured | estimate
    embodied_kgco2e: float          # the server excluding its accelerators
    embodied_source: str
    lifetime_years: float
    lifetime_min_years: float
    lifetime_source: str
    estimated_fields: tuple
    source: str
    year: int
    origin: str = ""

    @property
    def host_power_w_per_accelerator(self) -> float:
        return self.host_power_w / self.accelerators_per_server

    @property
    def embodied_kgco2e_per_accelerator(self) -> float:
        return self.embodied_kgco2e / self.accelerators_per_server


@dataclass(frozen=True)
class MfuPrior:
    """Model FLOPs utilisation, fraction of the dense peak: p5 <= p50 <= p95 in (0, 1)."""
    mfu_class: str
    p5: float
    p50: float
    p95: float
    basis: str                      # evidence | estimate
    source: str
    year: int
    origin: str = ""


@dataclass(frozen=True)
class MfuEvidence:
    """A published MFU of a training run (the evidence the priors are derived from)."""
    id: str
    run: str
    device: str
    mfu_class: str
    mfu: float
    basis: str
    source: str
    year: int
    origin: str = ""


@dataclass(frozen=True)
class PowerPrior:
    """Average power: fraction of TDP (quantity fraction_of_tdp) or W per accelerator
    (quantity w_per_accelerator), p5/p50/p95."""
    kind: str
    quantity: str
    p5: float
    p50: float
    p95: float
    basis: str
    source: str
    year: int
    origin: str = ""


@dataclass(frozen=True)
class WaterFactor:
    """Water consumed to generate electricity, L per kWh, for a grid region."""
    region: str
    name: str
    water_l_per_kwh: float
    basis: str
    source: str
    year: int
    origin: str = ""


@dataclass(frozen=True)
class Equivalence:
    """An everyday comparison: `value` in `unit` (e.g. 248.5 g_co2_per_km)."""
    id: str
    name: str
    value: float
    unit: str
    basis: str
    source: str
    year: int
    origin: str = ""


@dataclass(frozen=True)
class TimeParam:
    """A parameter of the step-time model (flopest/impact/steptime.py): `value` in `unit`, for
    `applies_to` (a device id, a device kind, an optimizer, a precision class or `*`). basis
    fitted: fitted on the evidence named in `evidence` (flopest/data/throughput_evidence.csv)."""
    id: str
    parameter: str
    applies_to: str
    value: float
    unit: str
    basis: str
    evidence: str | None
    source: str
    year: int
    origin: str = ""


@dataclass(frozen=True)
class RunPrior:
    """A prior of a whole run's wall-clock time (flopest/impact/goodput.py): `id` (failure_rate,
    restart_s, checkpoint_write_gbps) in `unit`, p5/p50/p95, with its basis and source."""
    id: str
    unit: str
    p5: float
    p50: float
    p95: float
    basis: str
    source: str
    year: int
    origin: str = ""


@dataclass(frozen=True)
class Price:
    """An on-demand list price of one accelerator-hour in USD at a provider (aws, gcp, azure,
    lambda, runpod), in one of its regions or, where `region` is None, in all of them."""
    id: str
    device: str
    provider: str
    region: str | None
    instance: str
    accelerators_per_instance: int
    instance_usd_per_hour: float | None
    usd_per_accelerator_hour: float
    basis: str
    source: str
    date: str                       # the day the price was read, YYYY-MM-DD
    year: int
    origin: str = ""

    @property
    def where(self) -> str:
        """'aws:us-east-1', or the provider alone ('lambda') for a price of every region."""
        return f"{self.provider}:{self.region}" if self.region else self.provider


# ----------------------------------------------------------------------------- schema

@dataclass(frozen=True)
class _Col:
    name: str
    kind: str = "float"             # str | int | float | list
    required: bool = True
    lo: float | None = None         # inclusive bounds unless open
    hi: float | None = None
    lo_open: bool = False
    choices: tuple = ()
    pattern: str | None = None
    absent_ok: bool = False         # the header may leave it out, in the embedded file too


def _f(name, lo=None, hi=None, required=True, lo_open=False):
    return _Col(name, "float", required, lo, hi, lo_open)


def _s(name, required=True, choices=(), pattern=None):
    return _Col(name, "str", required, choices=tuple(choices), pattern=pattern)


_SOURCE = _s("source")
_YEAR = _Col("year", "int", True, 1990, 2100)
_BASIS = ("published", "measured", "evidence", "derived", "estimate", "reported", "throughput", "benchmark")

_DEVICE_COLS = (
    _s("id", pattern=r"[a-z0-9][a-z0-9.+-]*"), _s("name"), _s("vendor", pattern=r"[a-z0-9][a-z0-9-]*"),
    _s("kind", choices=("gpu", "tpu", "cpu")), _Col("release_year", "int", True, 2000, 2100),
    _f("peak_fp32_tflops", 0, 1000, False, True), _f("peak_tf32_tflops", 0, 3000, False, True),
    _f("peak_bf16_tflops", 0, 4000, False, True), _f("peak_fp16_tflops", 0, 4000, False, True),
    _f("peak_fp8_tflops", 0, 8000, False, True), _f("peak_int8_tops", 0, 8000, False, True),
    _f("mem_bandwidth_gbps", 1, 20000), _f("memory_gb", 0.5, 4096, False),
    _f("tdp_w", 1, 3000), _f("idle_w", 0, 3000, True, True), _f("embodied_kgco2e", 1, 5000),
    _s("embodied_source"), _s("mfu_class"), _Col("estimated_fields", "list", False),
    _SOURCE, _YEAR,
    # measured rows (`flopest probe`): optional, absent from the embedded file
    _Col("basis", "str", False, choices=_BASIS, absent_ok=True),
    _Col("launch_us", "float", False, 0, 1e6, lo_open=True, absent_ok=True),
    _Col("fault_gbps", "float", False, 0, 1e5, lo_open=True, absent_ok=True),
    _Col("gemm_curve", "curve", False, absent_ok=True))
_REGION_COLS = (
    _s("region"), _s("name"), _s("kind", choices=("country", "subdivision", "world", "cloud")),
    _f("intensity_g_per_kwh", 0, 1500), _YEAR, _SOURCE, _s("licence"), _s("maps_to", required=False),
    _f("provider_figure_g_per_kwh", 0, 1500, False))
_DATACENTER_COLS = (
    _s("id", pattern=r"[a-z0-9][a-z0-9-]*"), _s("name"), _s("kind", choices=("provider", "generic")),
    _f("pue_p5", 1, 3, False), _f("pue_p50", 1, 3), _f("pue_p95", 1, 3, False),
    _f("wue_l_per_kwh", 0, 10, False), _s("basis", choices=_BASIS), _SOURCE, _YEAR)
_HOST_COLS = (
    _s("id", pattern=r"[a-z0-9][a-z0-9.+-]*"), _s("name"), _s("accelerator", required=False),
    _Col("accelerators_per_server", "int", True, 1, 64), _f("host_power_w", 1, 20000),
    _s("host_power_basis", choices=("max", "derived", "measured", "estimate")),
    _f("embodied_kgco2e", 1, 50000), _s("embodied_source"), _f("lifetime_years", 1, 15),
    _f("lifetime_min_years", 1, 15), _s("lifetime_source"), _Col("estimated_fields", "list", False),
    _SOURCE, _YEAR)
_MFU_COLS = (_s("mfu_class", pattern=r"[a-z0-9][a-z0-9-]*"), _f("p5", 0, 1, lo_open=True),
             _f("p50", 0, 1, lo_open=True), _f("p95", 0, 1, lo_open=True),
             _s("basis", choices=("evidence", "estimate")), _SOURCE, _YEAR)
_EVIDENCE_COLS = (_s("id", pattern=r"[a-z0-9][a-z0-9.+-]*"), _s("run"), _s("device"), _s("mfu_class"),
                  _f("mfu", 0, 1, lo_open=True), _s("basis", choices=_BASIS), _SOURCE, _YEAR)
_POWER_COLS = (_s("kind", pattern=r"[a-z0-9][a-z0-9-]*"),
               _s("quantity", choices=("fraction_of_tdp", "w_per_accelerator")),
               _f("p5", 0, 5000, lo_open=True), _f("p50", 0, 5000, lo_open=True),
               _f("p95", 0, 5000, lo_open=True), _s("basis", choices=_BASIS), _SOURCE, _YEAR)
_WATER_COLS = (_s("region"), _s("name"), _f("water_l_per_kwh", 0, 100), _s("basis", choices=_BASIS),
               _SOURCE, _YEAR)
_EQUIV_COLS = (_s("id", pattern=r"[a-z0-9][a-z0-9_]*"), _s("name"), _f("value", 0, 1e12, lo_open=True),
               _s("unit", pattern=r"[a-z0-9][a-z0-9_]*"), _s("basis", choices=_BASIS), _SOURCE, _YEAR)
_TIME_COLS = (_s("id", pattern=r"[a-z0-9][a-z0-9_.+-]*"), _s("parameter", pattern=r"[a-z0-9_]+"),
              _s("applies_to"), _f("value", 0, 1e12), _s("unit"),
              _s("basis", choices=_BASIS + ("fitted",)), _s("evidence", required=False), _SOURCE, _YEAR)

_RUN_COLS = (_s("id", pattern=r"[a-z0-9][a-z0-9_]*"), _s("unit"), _f("p5", 0, 1e12, lo_open=True),
             _f("p50", 0, 1e12, lo_open=True), _f("p95", 0, 1e12, lo_open=True), _s("basis", choices=_BASIS),
             _SOURCE, _YEAR)

_PRICE_COLS = (_s("id", pattern=r"[a-z0-9][a-z0-9.:_+-]*"), _s("device"),
               _s("provider", pattern=r"[a-z0-9][a-z0-9-]*"), _s("region", required=False, pattern=r"[a-z0-9][a-z0-9-]*"),
               _s("instance"), _Col("accelerators_per_instance", "int", True, 1, 64),
               _f("instance_usd_per_hour", 0, 10000, False, True), _f("usd_per_accelerator_hour", 0, 1000, lo_open=True),
               _s("basis", choices=_BASIS), _SOURCE, _s("date", pattern=r"20[0-9]{2}-[01][0-9]-[0-3][0-9]"), _YEAR)

_PEAK_COLS = ("peak_fp32_tflops", "peak_tf32_tflops", "peak_bf16_tflops", "peak_fp16_tflops",
              "peak_fp8_tflops", "peak_int8_tops")
_REGION_PATTERNS = {
    "country": r"[A-Z]{2}", "subdivision": r"[A-Z]{2}-[A-Z0-9]{1,3}", "world": r"WORLD",
    "cloud": r"[a-z][a-z0-9]*:[a-z0-9][a-z0-9-]*",
}


@dataclass(frozen=True)
class _Spec:
    name: str                       # table name
    file: str
    cols: tuple
    key: str
    record: type
    norm: object = staticmethod(lambda s: s)        # id normalisation for lookups
    what: str = ""                  # "device" in messages
    hint: str = ""                  # where to list all ids

    @property
    def attr(self) -> str:
        """The record attribute that holds the key (Region.id holds the 'region' column)."""
        return "id" if self.record is Region else self.key


def _norm_lower(s: str) -> str:
    return str(s).strip().lower()


def _norm_region(s: str) -> str:
    """ISO codes (FR, US-VA, WORLD) are upper case, cloud regions (aws:us-east-1) lower case."""
    s = str(s).strip()
    return s.lower() if ":" in s else s.upper()


_SPECS = {s.name: s for s in (
    _Spec("devices", "devices.csv", _DEVICE_COLS, "id", Device, _norm_lower, "device",
          "flopest devices lists all"),
    _Spec("regions", "grid_intensity.csv", _REGION_COLS, "region", Region, _norm_region, "region",
          "flopest regions lists all"),
    _Spec("datacenters", "datacenters.csv", _DATACENTER_COLS, "id", Datacenter, _norm_lower, "data centre"),
    _Spec("hosts", "hosts.csv", _HOST_COLS, "id", Host, _norm_lower, "host"),
    _Spec("mfu_priors", "mfu_priors.csv", _MFU_COLS, "mfu_class", MfuPrior, _norm_lower, "MFU class"),
    _Spec("mfu_evidence", "mfu_evidence.csv", _EVIDENCE_COLS, "id", MfuEvidence, _norm_lower, "MFU evidence"),
    _Spec("power_priors", "power_priors.csv", _POWER_COLS, "kind", PowerPrior, _norm_lower, "power prior"),
    _Spec("water", "water_electricity.csv", _WATER_COLS, "region", WaterFactor, _norm_region,
          "water-of-electricity region"),
    _Spec("equivalences", "equivalences.csv", _EQUIV_COLS, "id", Equivalence, _norm_lower, "equivalence"),
    _Spec("time_model", "time_model.csv", _TIME_COLS, "id", TimeParam, _norm_lower, "time-model parameter"),
    _Spec("prices", "prices.csv", _PRICE_COLS, "id", Price, _norm_lower, "price"),
    _Spec("run_priors", "run_priors.csv", _RUN_COLS, "id", RunPrior, _norm_lower, "run prior"),
)}


def _precision(p: str) -> str:
    q = str(p).strip().lower()
    if q not in PRECISIONS:
        raise InputError(f"unknown precision {p!r}{did_you_mean(q, PRECISIONS)} "
                         f"(one of {', '.join(PRECISIONS)})")
    return q


# ----------------------------------------------------------------------------- parsing

def parse_gemm_curve(text: str) -> tuple:
    """A `gemm_curve` cell, ``fp32:128=0.05,256=0.4;bf16:128=0.1,...`` (precision, then square
    size n = achieved TFLOP/s, sizes ascending), as ((precision, ((n, tflops), ...)), ...).
    ValueError saying what is wrong."""
    out, seen = [], set()
    for part in (p.strip() for p in str(text).split(";")):
        if not part:
            continue
        prec, colon, points = part.partition(":")
        prec = prec.strip().lower()
        if not colon or prec not in PRECISIONS:
            raise ValueError(f"{part[:40]!r} does not start with a precision and ':' "
                             f"(one of {', '.join(PRECISIONS)}; e.g. fp32:128=0.05,256=0.4)")
        if prec in seen:
            raise ValueError(f"precision {prec!r} appears twice")
        seen.add(prec)
        pts = []
        for pt in (x.strip() for x in points.split(",")):
            n, eq, tf = pt.partition("=")
            try:
                n, tf = int(n), float(tf)
            except ValueError:
                n = tf = None
            if not eq or n is None or n < 1 or not (math.isfinite(tf) and 0 < tf <= 10000):
                raise ValueError(f"{prec}: point {pt[:40]!r} is not SIZE=TFLOPS with SIZE a positive "
                                 f"integer and 0 < TFLOPS <= 10000")
            if pts and n <= pts[-1][0]:
                raise ValueError(f"{prec}: sizes must ascend ({pts[-1][0]} then {n})")
            pts.append((n, tf))
        out.append((prec, tuple(pts)))
    return tuple(out)


def format_gemm_curve(curves) -> str:
    """The `gemm_curve` cell of {precision: [(n, tflops), ...]} (the inverse of
    :func:`parse_gemm_curve`, 4 significant digits)."""
    items = curves.items() if hasattr(curves, "items") else curves
    return ";".join(f"{p}:" + ",".join(f"{int(n)}={float(t):.4g}" for n, t in pts)
                    for p, pts in items if pts)


class _Row(dict):
    """Parsed values of one CSV row, with where it came from (for error messages)."""
    origin: str
    line: int

    def err(self, column: str | None, problem: str) -> DataError:
        where = f"{self.origin}: line {self.line}" + (f", column {column!r}" if column else "")
        return DataError(f"{where}: {problem}", self.origin, self.line, column)


def _parse_value(col: _Col, raw: str, row: _Row):
    v = raw.strip()
    if v == "":
        if col.required:
            raise row.err(col.name, "empty, but required")
        return () if col.kind in ("list", "curve") else None
    if col.kind == "str":
        if col.choices and v not in col.choices:
            raise row.err(col.name, f"{v!r} is not one of {', '.join(col.choices)}"
                                    f"{did_you_mean(v, col.choices)}")
        if col.pattern and not re.fullmatch(col.pattern, v):
            raise row.err(col.name, f"{v!r} is not a valid {col.name} (lower-case letters, digits, '-')")
        return v
    if col.kind == "list":
        return tuple(x.strip() for x in v.split(";") if x.strip())
    if col.kind == "curve":
        try:
            return parse_gemm_curve(v)
        except ValueError as e:
            raise row.err(col.name, str(e)) from None
    try:
        x = float(v)
    except ValueError:
        raise row.err(col.name, f"{v!r} is not a number") from None
    if not math.isfinite(x):
        raise row.err(col.name, f"{v!r} is not a finite number")
    if col.kind == "int":
        if not x.is_integer():
            raise row.err(col.name, f"{v!r} is not a whole number")
        x = int(x)
    if col.lo is not None and (x <= col.lo if col.lo_open else x < col.lo):
        raise row.err(col.name, f"{v} is out of range: must be {'>' if col.lo_open else '>='} {col.lo:g}")
    if col.hi is not None and x > col.hi:
        raise row.err(col.name, f"{v} is out of range: must be <= {col.hi:g}")
    return x


def _parse(text: str, origin: str, spec: _Spec, user: bool) -> list:
    """Rows of `text` as _Row dicts, every value typed and range-checked. Lines starting with
    '#' and blank lines are comments. User files may leave out optional columns."""
    header, header_line, rows = None, 0, []
    colmap = {c.name: c for c in spec.cols}
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            cells = next(csv.reader([line]))
        except csv.Error as e:
            raise DataError(f"{origin}: line {n}: not valid CSV ({e})", origin, n) from None
        if header is None:
            header, header_line = [c.strip() for c in cells], n
            for c in header:
                if c not in colmap:
                    raise DataError(f"{origin}: line {n}: unknown column {c!r}"
                                    f"{did_you_mean(c, colmap)} (columns: {', '.join(colmap)})", origin, n, c)
            if len(set(header)) != len(header):
                dup = next(c for c in header if header.count(c) > 1)
                raise DataError(f"{origin}: line {n}: column {dup!r} appears twice", origin, n, dup)
            for c in spec.cols:
                if c.name not in header and (c.required or not (user or c.absent_ok)) and c.name != "origin":
                    raise DataError(f"{origin}: line {n}: missing column {c.name!r}", origin, n, c.name)
            continue
        row = _Row()
        row.origin, row.line = origin, n
        if len(cells) != len(header):
            raise row.err(None, f"{len(cells)} fields, but the header (line {header_line}) has {len(header)}")
        raw = dict(zip(header, cells, strict=True))
        for c in spec.cols:
            row[c.name] = _parse_value(c, raw.get(c.name, ""), row)
        rows.append(row)
    if header is None:
        raise DataError(f"{origin}: no header line (is the file empty?)", origin)
    return rows


# ----------------------------------------------------------------------------- row checks

def _ordered(row: _Row, a: str, b: str):
    if row[a] is not None and row[b] is not None and row[a] > row[b]:
        raise row.err(b, f"{row[b]:g} is below {a} ({row[a]:g}): p5 <= p50 <= p95 required")


def _check_device(row: _Row, user: bool):
    if row["id"].startswith(row["vendor"] + "-"):
        raise row.err("id", f"{row['id']!r} starts with the vendor: ids carry no vendor "
                            f"({row['id'][len(row['vendor']) + 1:]!r})")
    if all(row[c] is None for c in _PEAK_COLS):
        raise row.err("peak_fp32_tflops", "no peak at any precision")
    if row["memory_gb"] is None and row["kind"] != "cpu":
        raise row.err("memory_gb", f"empty, but required for a {row['kind']}")
    if row["idle_w"] >= row["tdp_w"]:
        raise row.err("idle_w", f"{row['idle_w']:g} W is not below tdp_w ({row['tdp_w']:g} W)")
    # dense sanity: tensor formats are at most 2x the next wider format (TF32 <= BF16 <= FP8/2)
    for narrow, wide, k in (("peak_fp8_tflops", "peak_bf16_tflops", 2.05),
                            ("peak_bf16_tflops", "peak_tf32_tflops", 4.1)):
        if row[narrow] is not None and row[wide] is not None and row[narrow] > k * row[wide]:
            raise row.err(narrow, f"{row[narrow]:g} is more than {k:g}x {wide} ({row[wide]:g}): "
                                  "a with-sparsity figure? Peaks must be dense")
    _check_estimated(row)
    est = "embodied_kgco2e" in row["estimated_fields"]
    says = "estimate" in row["embodied_source"].lower()
    if user and says and not est:          # a user's source saying "estimate" flags the column
        row["estimated_fields"] = row["estimated_fields"] + ("embodied_kgco2e",)
    elif est != says:
        raise row.err("embodied_source", "must say 'estimate' exactly when estimated_fields lists "
                                         "embodied_kgco2e")
    if row["mfu_class"] not in _table("mfu_priors").by_id:
        raise row.err("mfu_class", f"{row['mfu_class']!r} is not a class of mfu_priors.csv"
                                   f"{did_you_mean(row['mfu_class'], _table('mfu_priors').by_id)}")


def _check_estimated(row: _Row):
    for f in row["estimated_fields"]:
        if f not in row:
            raise row.err("estimated_fields", f"{f!r} is not a column of this table"
                                              f"{did_you_mean(f, list(row))}")


def _check_region(row: _Row, user: bool):
    row["region"] = _norm_region(row["region"])
    if not re.fullmatch(_REGION_PATTERNS[row["kind"]], row["region"]):
        raise row.err("region", f"{row['region']!r} is not a valid {row['kind']} id "
                                f"(country FR, subdivision US-VA, world WORLD, cloud aws:us-east-1)")
    if row["maps_to"] is not None:
        row["maps_to"] = _norm_region(row["maps_to"])
    if row["kind"] == "cloud" and row["maps_to"] is None:
        raise row.err("maps_to", "empty, but a cloud region must name the grid it maps to")
    if row["kind"] != "cloud" and row["provider_figure_g_per_kwh"] is not None:
        raise row.err("provider_figure_g_per_kwh", "only cloud regions have a provider figure")


def _check_datacenter(row: _Row, user: bool):
    _ordered(row, "pue_p5", "pue_p50")
    _ordered(row, "pue_p50", "pue_p95")


def _check_host(row: _Row, user: bool):
    if row["lifetime_min_years"] > row["lifetime_years"]:
        raise row.err("lifetime_min_years", f"{row['lifetime_min_years']:g} is above lifetime_years "
                                            f"({row['lifetime_years']:g})")
    _check_estimated(row)
    if row["accelerator"] is not None and _norm_lower(row["accelerator"]) not in _table("devices").by_id:
        raise row.err("accelerator", f"unknown device {row['accelerator']!r}"
                                     f"{did_you_mean(row['accelerator'], _table('devices').by_id)}")


def _check_prior(row: _Row, user: bool):
    _ordered(row, "p5", "p50")
    _ordered(row, "p50", "p95")
    if row.get("quantity") == "fraction_of_tdp" and row["p95"] > 3:
        raise row.err("p95", f"{row['p95']:g} is out of range: a fraction of TDP must be <= 3")


def _check_evidence(row: _Row, user: bool):
    if row["device"] not in _table("devices").by_id:
        raise row.err("device", f"unknown device {row['device']!r}"
                                f"{did_you_mean(row['device'], _table('devices').by_id)}")
    if row["mfu_class"] not in _table("mfu_priors").by_id:
        raise row.err("mfu_class", f"{row['mfu_class']!r} is not a class of mfu_priors.csv")


def _check_water(row: _Row, user: bool):
    row["region"] = _norm_region(row["region"])
    if row["region"] not in _table("regions").by_id:
        raise row.err("region", f"{row['region']!r} is not a region of grid_intensity.csv")


def _check_time(row: _Row, user: bool):
    if row["basis"] == "fitted" and not row["evidence"]:
        raise row.err("evidence", "empty, but a fitted parameter must name the evidence it was fitted on")
    if row["unit"] == "fraction" and row["value"] > 1 and not row["id"].startswith("range."):
        raise row.err("value", f"{row['value']:g} is not a fraction (0 to 1)")


def _check_price(row: _Row, user: bool):
    row["device"] = _norm_lower(row["device"])
    if row["device"] not in _table("devices").by_id:
        raise row.err("device", f"unknown device {row['device']!r}{did_you_mean(row['device'], _table('devices').by_id)}")
    if row["region"] is not None and f"{row['provider']}:{row['region']}" not in _table("regions").by_id \
            and row["provider"] in ("aws", "gcp", "azure"):
        raise row.err("region", f"{row['provider']}:{row['region']} is not a region of grid_intensity.csv")
    inst = row["instance_usd_per_hour"]
    if inst is not None and abs(inst / row["accelerators_per_instance"] - row["usd_per_accelerator_hour"]) > \
            0.005 * row["usd_per_accelerator_hour"]:
        raise row.err("usd_per_accelerator_hour", f"{row['usd_per_accelerator_hour']:g} is not instance_usd_per_hour "
                                                  f"{inst:g} / {row['accelerators_per_instance']} accelerators")
    if int(row["date"][:4]) != row["year"]:
        raise row.err("year", f"{row['year']} is not the year of date {row['date']}")
    if "http" not in row["source"]:
        raise row.err("source", "must give the URL of the price list it was read from")


_CHECKS = {"devices": _check_device, "regions": _check_region, "datacenters": _check_datacenter,
           "hosts": _check_host, "mfu_priors": _check_prior, "power_priors": _check_prior,
           "run_priors": _check_prior,
           "mfu_evidence": _check_evidence, "water": _check_water, "time_model": _check_time,
           "prices": _check_price}


def _records(spec: _Spec, rows: list, user: bool, known_ids=()) -> list:
    """Records of the parsed rows, after the per-row checks. known_ids: ids a user file may
    refer to besides its own (the embedded regions, for maps_to)."""
    check = _CHECKS.get(spec.name)
    names = [f.name for f in fields(spec.record)]
    out, seen = [], {}
    known = set(known_ids) | {spec.norm(r[spec.key]) for r in rows}
    for row in rows:
        if check:
            check(row, user)
        if spec.name == "regions" and row["maps_to"] is not None and row["maps_to"] not in known:
            raise row.err("maps_to", f"{row['maps_to']!r} is not a region{did_you_mean(row['maps_to'], known)}")
        key = spec.norm(row[spec.key])
        if key != row[spec.key] and spec.name != "regions":
            raise row.err(spec.key, f"{row[spec.key]!r} must be written {key!r}")
        if key in seen:
            raise row.err(spec.key, f"duplicate {spec.key} {key!r} (first on line {seen[key]})")
        seen[key] = row.line
        vals = {n: row[n] for n in names if n in row}
        vals[spec.attr] = key
        out.append(spec.record(**vals, origin=row.origin))
    return out


# ----------------------------------------------------------------------------- cache

class _Table:
    __slots__ = ("rows", "by_id")

    def __init__(self, records: list, key: str):
        self.rows = tuple(records)
        self.by_id = MappingProxyType({getattr(r, key): r for r in records})


_lock = threading.RLock()
_cache: dict = {}                   # table name -> _Table (embedded rows + user rows)
_user: dict = {"devices": {}, "regions": {}}   # user rows by id, kept across lookups


def _read_embedded(file: str) -> str:
    return resources.files(__name__).joinpath(file).read_text(encoding="utf-8")


def _build(name: str) -> _Table:
    spec = _SPECS[name]
    records = _records(spec, _parse(_read_embedded(spec.file), f"flopest/data/{spec.file}", spec, False),
                       False)
    merged = {getattr(r, spec.attr): r for r in records}
    _embedded_ids[name] = frozenset(str(k).lower() for k in merged)
    merged.update(_user.get(name, {}))
    return _Table(list(merged.values()), spec.attr)


_embedded_ids: dict = {}   # table name -> the ids of its embedded rows


def user_file(row) -> str | None:
    """The user's file a data row came from (--devices / --regions FILE.csv); None for a row of
    flopest's own tables."""
    origin = str(getattr(row, "origin", "") or "")
    return origin if origin and not origin.startswith("flopest/data/") else None


def replaces_embedded(name: str, row) -> bool:
    """Whether `row` of table `name` ("devices", "regions") is a user's row that took the id of an
    embedded one (flopest's other tables keyed by that id still apply to it)."""
    if user_file(row) is None:
        return False
    _table(name)
    return str(getattr(row, _SPECS[name].attr)).lower() in _embedded_ids.get(name, frozenset())


def _table(name: str) -> _Table:
    t = _cache.get(name)
    if t is None:
        with _lock:
            t = _cache.get(name)
            if t is None:
                t = _build(name)
                _cache[name] = t
    return t


def _get(name: str, key):
    spec = _SPECS[name]
    table = _table(name)
    k = spec.norm(key) if isinstance(key, str) else key
    r = table.by_id.get(k)
    if r is None:
        # a row's name stands for its id when it names one row (region("Germany") -> DE),
        # case- and space-insensitive; the names also steer the suggestions
        labels = {i: rec.name for i, rec in table.by_id.items() if getattr(rec, "name", None)}
        said = " ".join(str(key).split()).casefold()
        named = [i for i, lab in labels.items() if " ".join(lab.split()).casefold() == said]
        if len(named) == 1:
            return table.by_id[named[0]]
        hint = spec.hint or f"known: {', '.join(sorted(table.by_id))}"
        raise UnknownIdError(f"unknown {spec.what} {key!r}{did_you_mean(k, table.by_id, labels)} ({hint})")
    return r


def reload() -> None:
    """Forget the cached tables and the user's rows; the next call reads the files again."""
    with _lock:
        _cache.clear()
        for d in _user.values():
            d.clear()


# ----------------------------------------------------------------------------- public API

def device(id: str) -> Device:
    """The device `id` (case-insensitive): `device("h100-sxm").peak_bf16_tflops` -> 989.4. An
    unknown id is answered with its family: `device("h100")` suggests h100-sxm and h100-pcie."""
    return _get("devices", id)


def devices() -> tuple:
    """Every device, embedded then the user's, in file order."""
    return _table("devices").rows


# ISO 3166-1 "exceptionally reserved" codes in common use for a country that has another code
# (the United Kingdom as UK, Greece as EL in EU statistics): read as the country's code
REGION_ALIASES = {"UK": "GB", "EL": "GR"}


def region(id: str) -> Region:
    """Grid or cloud region: ISO 3166 code ('FR', 'fr', 'US-VA'), 'WORLD', or 'aws:us-east-1';
    or its name in grid_intensity.csv, case-insensitive ('Germany' -> DE); UK and EL are GB and
    GR (REGION_ALIASES). An unknown id is answered with the regions whose code begins with it or
    whose name holds its words."""
    try:
        return _get("regions", id)
    except UnknownIdError:
        alias = REGION_ALIASES.get(str(id).strip().upper()) if isinstance(id, str) else None
        if alias is None:
            raise
        return _get("regions", alias)


def regions() -> tuple:
    return _table("regions").rows


def datacenter(id: str) -> Datacenter:
    """PUE/WUE defaults: 'gcp', 'aws', 'azure', 'meta', 'hyperscaler', 'industry-average',
    'on-premise-hpc'."""
    return _get("datacenters", id)


def datacenters() -> tuple:
    return _table("datacenters").rows


def host(id: str) -> Host:
    return _get("hosts", id)


def hosts() -> tuple:
    return _table("hosts").rows


def mfu_prior(mfu_class: str) -> MfuPrior:
    """MFU p5/p50/p95 for a class ('gpu-datacenter-large-run', 'tpu', ...; a Device's mfu_class)."""
    return _get("mfu_priors", mfu_class)


def mfu_priors() -> tuple:
    return _table("mfu_priors").rows


def mfu_evidence() -> tuple:
    """The published MFUs the evidence-based priors are derived from."""
    return _table("mfu_evidence").rows


def power_prior(kind: str) -> PowerPrior:
    """Average power prior: 'gpu', 'tpu', 'cpu' (fraction of TDP), 'system-gpu', 'system-tpu'
    (all-in fraction of TDP), 'host-gpu', 'host-tpu' (W per accelerator)."""
    return _get("power_priors", kind)


def power_priors() -> tuple:
    return _table("power_priors").rows


def water_electricity(region_id: str) -> WaterFactor:
    """Water of electricity generation for a region: its own row, else the grid it maps to,
    else its country (US-VA -> US). UnknownIdError when none is sourced."""
    table = _table("water").by_id
    k = _norm_region(region_id)
    chain = [k]
    regions_by_id = _table("regions").by_id
    if k in regions_by_id and regions_by_id[k].maps_to:
        chain.append(regions_by_id[k].maps_to)
    chain += [c.split("-", 1)[0] for c in list(chain) if ":" not in c and "-" in c]
    for c in chain:
        if c in table:
            return table[c]
    raise UnknownIdError(f"no sourced water-of-electricity figure for region {region_id!r} "
                         f"(sourced: {', '.join(sorted(table))})")


def water_factors() -> tuple:
    return _table("water").rows


def equivalences() -> MappingProxyType:
    """{id: Equivalence}: car_km, flight_paris_new_york_round_trip, household_electricity_fr, ..."""
    return _table("equivalences").by_id


def time_model() -> MappingProxyType:
    """{id: TimeParam}: the parameters of the step-time model (flopest/data/time_model.csv)."""
    return _table("time_model").by_id


def prices(device: str | None = None) -> tuple:
    """On-demand list prices per accelerator-hour (USD), every row or those of `device`
    (flopest/data/prices.csv)."""
    rows = _table("prices").rows
    if device is None:
        return rows
    d = _norm_lower(device)
    return tuple(r for r in rows if r.device == d)


def run_priors() -> tuple:
    """Priors of a run's wall-clock time beyond its steps: failures, restarts, checkpoint writes
    (flopest/data/run_priors.csv; flopest.impact.goodput)."""
    return _table("run_priors").rows


def load_user_devices(path) -> tuple:
    """Add or replace devices from the user's CSV (same columns as devices.csv; optional columns
    may be left out). Validated like the embedded table; errors name the user's file, line and
    column. Returns the rows read."""
    return _load_user("devices", path)


def load_user_regions(path) -> tuple:
    """Add or replace regions from the user's CSV (same columns as grid_intensity.csv)."""
    return _load_user("regions", path)


_USER_FILE_LIMIT = 64 << 20


def _load_user(name: str, path) -> tuple:
    spec = _SPECS[name]
    p = Path(path)
    try:
        st = p.stat()
    except FileNotFoundError:
        raise DataError(f"{p}: no such {spec.what} file", str(p)) from None
    except OSError as e:
        raise DataError(f"{p}: cannot read {spec.what} file: {e.strerror or e}", str(p)) from None
    if not stat.S_ISREG(st.st_mode):   # a FIFO would hang, a device never end
        what = "a folder" if stat.S_ISDIR(st.st_mode) else "not a regular file (a pipe or a device)"
        raise DataError(f"{p} is {what}; give a {spec.what} CSV file", str(p))
    if st.st_size > _USER_FILE_LIMIT:
        raise DataError(f"{p}: {st.st_size:,} bytes is more than a {spec.what} table holds (at most "
                        f"{_USER_FILE_LIMIT // (1 << 20)} MiB)", str(p))
    try:
        text = p.read_text(encoding="utf-8-sig")
    except OSError as e:
        raise DataError(f"{p}: cannot read {spec.what} file: {e.strerror or e}", str(p)) from None
    except UnicodeDecodeError as e:
        raise DataError(f"{p}: not UTF-8 text ({e.reason})", str(p)) from None
    with _lock:
        current = _table(name)                        # the embedded rows (and mfu priors) first
        records = _records(spec, _parse(text, str(p), spec, True), True, current.by_id)
        user = dict(_user[name])
        user.update({getattr(r, spec.attr): r for r in records})
        base = dict(_cache[name].by_id)
        base.update(user)
        table = _Table(list(base.values()), spec.attr)
        _user[name] = user
        _cache[name] = table
        for dependent in ("hosts", "mfu_evidence", "water"):   # re-checked against the new rows
            _cache.pop(dependent, None)
    return tuple(records)


def validate_all() -> dict:
    """Load and check every table; {table name: row count}. Raises DataError on the first bad row."""
    return {name: len(_table(name).rows) for name in _SPECS}


__all__ = ["DATA_VERSION", "DataError", "UnknownIdError", "Device", "Region", "Datacenter", "Host",
           "MfuPrior", "MfuEvidence", "PowerPrior", "WaterFactor", "Equivalence", "device", "devices",
           "region", "regions", "datacenter", "datacenters", "host", "hosts", "mfu_prior", "mfu_priors",
           "mfu_evidence", "power_prior", "power_priors", "water_electricity", "water_factors",
           "equivalences", "TimeParam", "time_model", "Price", "prices", "RunPrior", "run_priors", "load_user_devices", "load_user_regions", "reload", "replaces_embedded", "user_file", "validate_all",
           "parse_gemm_curve", "format_gemm_curve"]
