"""The one parser and formatter of amounts: counts, durations, energy, mass, volume.

Parsing (``parse_count``, ``parse_quantity`` and the short forms ``parse_duration``,
``parse_energy``, ``parse_mass``, ``parse_volume``) reads what a user writes on a command line
or in a config and returns a float in the unit asked for. The rules:

- counts take k, M, G, B, T, P in either case (``7b`` = ``7B`` = 7e9): a count has no milli;
- energy, mass and volume prefixes are case-sensitive SI (``m`` milli ≠ ``M`` mega):
  ``200mWh`` is 0.2 Wh, ``1Mg`` is a tonne, ``2ML`` two megalitres, ``2mL`` two millilitres;
  ``mt``/``MT`` is refused (tonnes are ``t``, megatonnes ``Mt``);
- durations: ms, s, min, h, d, y (a year of ``HOURS_PER_YEAR``), in either case;
- a decimal comma is refused with the fix (``1,5t`` → write ``1.5t``); so are non-finite values,
  negative ones and anything above ``MAX_VALUE`` (``1e300`` would overflow the arithmetic);
- a number without a unit is an error naming the units, unless the caller says which unit a
  bare number is in (``bare=``; an API keyword such as ``co2eq_kg=`` names its unit).

Formatting: ``format_count`` (3 significant digits and an SI prefix: ``22.3 GFLOP``),
``format_quantity`` (a value in a base unit printed in a readable one: kg → g / t / kt,
kWh → Wh / MWh / GWh, s → ms / min / h / days / years, L → kL / ML), ``format_value``
(an assumption's value or p5–p95 range). Stdlib only.
"""

from __future__ import annotations

import math
import re

from .errors import InputError, did_you_mean

# 365 days. Hardware lifetimes and serving durations are in years of 8,760 h (as the
# published-run benchmarks and tests/impact use: 6 years × 8,760 h); one length everywhere.
HOURS_PER_YEAR = 8760.0
SECONDS_PER_YEAR = HOURS_PER_YEAR * 3600.0
# The largest amount a user may write: above any real plan (1e30 FLOP, kg, J) and far enough
# below float's 1.8e308 that products of a few inputs stay finite.
MAX_VALUE = 1e30

COUNT_SUFFIXES = {"k": 1e3, "m": 1e6, "g": 1e9, "b": 1e9, "t": 1e12, "p": 1e15}

# unit family -> ({unit as written: factor to the family's reference unit}, reference unit)
# Reference units are chosen so that the factors are exact powers of ten where it matters.
_E = {p + s: f * m for p, f in (("m", 1e-3), ("", 1.0), ("k", 1e3), ("M", 1e6), ("G", 1e9), ("T", 1e12))
      for s, m in (("Wh", 1.0), ("J", 1 / 3600))}
FAMILIES = {
    "energy": (_E, "Wh"),
    "mass": ({"mg": 1e-3, "g": 1.0, "kg": 1e3, "Mg": 1e6, "t": 1e6, "kt": 1e9, "Mt": 1e12, "Gt": 1e15}, "g"),
    "volume": ({"mL": 1e-3, "L": 1.0, "kL": 1e3, "ML": 1e6, "GL": 1e9, "m3": 1e3}, "L"),
    "duration": ({"ms": 1e-3, "s": 1.0, "min": 60.0, "h": 3600.0, "d": 86400.0, "y": SECONDS_PER_YEAR}, "s"),
    # US dollars (flopest's prices are USD list prices): a bare number takes k / M suffixes
    "money": ({"USD": 1.0, "kUSD": 1e3, "MUSD": 1e6}, "USD"),
}
# spellings that mean one unit only (no m/M ambiguity), accepted as that unit
_ALIASES = {
    "energy": {"wh": "Wh", "WH": "Wh", "kwh": "kWh", "KWh": "kWh", "KWH": "kWh", "kWH": "kWh", "MWH": "MWh",
               "gwh": "GWh", "GWH": "GWh", "twh": "TWh", "TWH": "TWh", "j": "J", "kj": "kJ", "KJ": "kJ"},
    "mass": {"Kg": "kg", "KG": "kg", "Kt": "kt", "KT": "kt"},
    "volume": {"l": "L", "ml": "mL", "kl": "kL", "Kl": "kL", "KL": "kL", "M3": "m3"},
    "duration": {"sec": "s", "hr": "h", "hours": "h", "day": "d", "days": "d", "year": "y", "years": "y"},
    "money": {"usd": "USD", "$": "USD", "kusd": "kUSD", "k$": "kUSD", "M$": "MUSD"},
}
# spellings refused with the fix (they read as one thing in one convention and another elsewhere)
_TONNES = "write 't' for tonnes or 'Mt' for megatonnes"
_REFUSED = {
    "mass": {"mt": _TONNES, "MT": _TONNES, "mT": _TONNES, "T": "write 't' for tonnes",
             "MG": "write 'mg' for milligrams or 'Mg' (= 't') for megagrams",
             "G": "write 'g' for grams or 'Gt' for gigatonnes"},
    "energy": {"mwh": "write 'mWh' for milliwatt-hours or 'MWh' for megawatt-hours",
               "mj": "write 'mJ' for millijoules or 'MJ' for megajoules"},
    "volume": {"Ml": "write 'mL' for millilitres or 'ML' for megalitres"},
    "duration": {"m": "write 'min' for minutes (or 'M' for millions of the bare unit)"},
}
_COUNT_AFTER_BARE = ("k", "K", "M", "G", "B", "T", "P")   # hours=1.2M: a million hours
# the families where a count suffix after a bare number is read so (hours=1.2M, cost=2M); elsewhere
# it reads as a unit prefix as well (energy_kwh='5M': 5 MWh or 5 million kWh?) and is refused
_COUNTED_FAMILIES = ("duration", "money")

_NUMBER = re.compile(r"^\s*([+-]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9][0-9_]*)(?:[eE][+-]?[0-9]+)?)\s*(\S*?)\s*$")
_MAX_ECHO = 60


def clip(text, n: int = _MAX_ECHO) -> str:
    """repr() of `text`, cut to about `n` characters: a 100 MB value is never echoed whole."""
    r = repr(text)
    return r if len(r) <= n else r[: n - 1] + f"… ({len(str(text)):,} characters)"


def _split(text, name: str, example: str):
    """(number, unit text) of '1.5 t' → (1.5, 't'); InputError for commas and non-numbers."""
    s = str(text)
    if "," in s:
        dot = s.strip().replace(",", ".", 1) if s.count(",") == 1 else s.strip().replace(",", "")
        raise InputError(f"{name} {clip(text)}: a comma is ambiguous (decimal or thousands); "
                         f"write {dot!r} (a decimal point, no separators; 1_000 is allowed)")
    m = _NUMBER.match(s)
    if not m:
        raise InputError(f"{name} {clip(text)} is not a number with a unit (e.g. {example})")
    try:
        v = float(m.group(1).replace("_", ""))
    except ValueError:
        raise InputError(f"{name} {clip(text)} is not a number with a unit (e.g. {example})") from None
    return v, m.group(2)


def _checked(v: float, text, name: str, negative: bool) -> float:
    if not math.isfinite(v):
        raise InputError(f"{name} {clip(text)} must be a finite number")
    if abs(v) > MAX_VALUE:
        raise InputError(f"{name} {clip(text)} is too large (above {MAX_VALUE:g}); check the value and its unit")
    if v < 0 and not negative:
        raise InputError(f"{name} {clip(text)} must be a non-negative finite amount")
    return v


def _plain(text):
    """A Python number (not bool) as float, else None."""
    if isinstance(text, bool):
        return None
    if isinstance(text, int):
        try:
            return float(text)
        except OverflowError:   # beyond float: certainly above MAX_VALUE
            return MAX_VALUE * 10
    if isinstance(text, float):
        return text
    return None


def parse_count(text, name: str = "value", *, negative: bool = False) -> float:
    """'1.2M' → 1.2e6, '7B' = '7b' → 7e9, '2T' → 2e12, '500k' → 5e5, '3e9' → 3e9; InputError names `name`."""
    v = _plain(text)
    if v is None:
        num, suffix = _split(text, name, "1.2M, 7B, 2T or 3e9")
        if suffix:
            if suffix.lower() not in COUNT_SUFFIXES:
                raise InputError(f"{name} {clip(text)}: suffix {suffix!r} is not one of k, M, G, B, T, P "
                                 f"(e.g. 1.2M, 7B, 2T, 3e9)")
            num *= COUNT_SUFFIXES[suffix.lower()]
        v = num
    return _checked(v, text, name, negative)


def units_of(family: str) -> tuple:
    """The unit spellings `family` accepts, canonical ones first."""
    return tuple(FAMILIES[family][0]) + tuple(_ALIASES.get(family, {}))


def _factor(unit: str, family: str, text, name: str) -> float:
    table = FAMILIES[family][0]
    if family == "duration" and unit != "m":
        unit = unit.lower()
    if unit in table:
        return table[unit]
    if unit in _ALIASES.get(family, {}):
        return table[_ALIASES[family][unit]]
    hint = _REFUSED.get(family, {}).get(unit)
    if hint:
        raise InputError(f"{name} {clip(text)}: unit {unit!r} is ambiguous; {hint}")
    canon = list(table)
    close = [u for u in canon if u.lower() == unit.lower()]
    sugg = f" — did you mean {close[0]!r}?" if len(close) == 1 else did_you_mean(unit, canon)
    raise InputError(f"{name} {clip(text)}: unit {unit!r} is not {'an' if family[0] in 'aeiou' else 'a'} {family} unit; one of "
                     f"{', '.join(canon)}{sugg}")


def parse_quantity(text, family: str, name: str = "value", *, to: str | None = None,
                   bare: str | None = None, negative: bool = False) -> float:
    """`text` ('200kWh', '1.5t', '2ML', '200ms') as a float in unit `to` of `family` (energy, mass,
    volume, duration; default the family's reference unit: Wh, g, L, s).

    A number without a unit is in unit `bare`; with ``bare=None`` it is an error naming the units.
    Python numbers are taken in `bare` (or `to` when `bare` is None: an API keyword names its unit).
    A count suffix after a bare number (``hours=1.2M``) multiplies it when `bare` is given."""
    table, ref = FAMILIES[family]
    to = to or ref
    if to not in table:
        raise ValueError(f"parse_quantity: {to!r} is not a {family} unit")
    v = _plain(text)
    if v is not None:
        factor = _factor(bare or to, family, text, name)
    else:
        num, unit = _split(text, name, f"50{to}")
        hint = _REFUSED.get(family, {}).get(unit)
        if hint:   # before any count reading: 'T' is not a trillion kilograms
            raise InputError(f"{name} {clip(text)}: unit {unit!r} is ambiguous; {hint}")
        if bare and unit in _COUNT_AFTER_BARE and family not in _COUNTED_FAMILIES:
            exp = {"k": 3, "K": 3, "M": 6, "G": 9, "B": 9, "T": 12, "P": 15}[unit]
            raise InputError(f"{name} {clip(text)}: {unit!r} after a number reads as a count or as a unit prefix; "
                             f"write the unit in full: {num:g}{unit.upper() if unit != 'k' else 'k'}{ref} or "
                             f"{num:g}e{exp}{bare}")
        if not unit or (bare and unit in _COUNT_AFTER_BARE):
            if bare is None:
                raise InputError(f"{name} {clip(text)} has no unit; write one of {', '.join(table)} "
                                 f"(e.g. {num:g}{to})")
            factor = _factor(bare, family, text, name) * (COUNT_SUFFIXES[unit.lower()] if unit else 1.0)
        else:
            factor = _factor(unit, family, text, name)
        v = num
    _checked(v, text, name, negative)
    if factor == table[to]:
        out = v
    else:
        out = v * factor / table[to]
    return _checked(out, text, name, negative)


def parse_duration(text, name: str = "duration", *, to: str = "s", bare: str | None = "s") -> float:
    """'200ms' → 0.2, '2h' → 7200, '1.5' → 1.5 (s), '3d' → 259200 (in `to`); units in either case."""
    return parse_quantity(text, "duration", name, to=to, bare=bare)


def parse_energy(text, name: str = "energy", *, to: str = "kWh", bare: str | None = None) -> float:
    """'200kWh' → 200, '1.2MWh' → 1200, '200mWh' → 0.0002 (in `to`, default kWh)."""
    return parse_quantity(text, "energy", name, to=to, bare=bare)


def parse_mass(text, name: str = "mass", *, to: str = "kg", bare: str | None = None) -> float:
    """'50kg' → 50, '1.5t' → 1500, '1Mg' → 1000, '2Mt' → 2e9 (in `to`, default kg); 'mt' is refused."""
    return parse_quantity(text, "mass", name, to=to, bare=bare)


def parse_volume(text, name: str = "volume", *, to: str = "L", bare: str | None = None) -> float:
    """'250L' → 250, '5m3' → 5000, '2ML' → 2e6, '2mL' → 0.002 (in `to`, default L)."""
    return parse_quantity(text, "volume", name, to=to, bare=bare)


# ----------------------------------------------------------------------------- formatting
_PREFIX = ((1e30, "Q"), (1e27, "R"), (1e24, "Y"), (1e21, "Z"), (1e18, "E"), (1e15, "P"), (1e12, "T"),
           (1e9, "G"), (1e6, "M"), (1e3, "k"))


def si_prefix(x: float) -> tuple:
    """(factor, prefix) of the largest SI prefix not above |x|: 2.5e9 → (1e9, 'G'); below 1000 → (1, '')."""
    for f, p in _PREFIX:
        if abs(x) >= f:
            return f, p
    return 1.0, ""


def format_count(n, unit: str = "") -> str:
    """3 significant digits with an SI prefix: 22.3 GFLOP (up to Q, 1e30; beyond, 1.23e+33 FLOP).
    The prefix is chosen after rounding, so 999,999 prints as 1 M, not 1e+03 k. None → '—'."""
    if n is None:
        return "—"
    try:
        x = float(n)
    except OverflowError:   # an int beyond float range: its power of ten
        return f"~1e+{len(str(abs(int(n)))) - 1} {unit}".rstrip()
    if not math.isfinite(x):
        return f"{x} {unit}".rstrip()
    for f, p in _PREFIX:
        m = float(f"{x / f:.3g}")
        if abs(m) >= 1:
            if abs(m) >= 1000:   # beyond the largest prefix
                return f"{x:.3g} {unit}".rstrip()
            return f"{m:.3g} {p}{unit}"
    return f"{x:.3g} {unit}".rstrip()


_DURATIONS = ((SECONDS_PER_YEAR, "years"), (86400.0, "days"), (3600.0, "h"), (60.0, "min"))


def format_quantity(x, unit: str) -> str:
    """`x` in `unit` (kg, g, kWh, Wh, L, s, h, %, /s, days, '' …) printed in a readable unit with
    3 significant digits: 553,142 kg → '553 t', 0.2 s → '200 ms', 1.29e6 kWh → '1.29 GWh'."""
    if x is None:
        return "—"
    if isinstance(x, float) and not math.isfinite(x):
        return f"{x} {unit}".rstrip()
    if unit == "USD":
        return format_count(x, "USD")
    if unit == "kg":
        return format_quantity(x * 1e3, "g")
    # the unit is chosen on the value as printed (3 significant digits): 999.95 g is '1 kg', not '1e+03 g'
    r3 = abs(float(f"{x:.3g}"))
    if unit == "g":
        if r3 >= 1e6:
            return format_count(x / 1e6, "t")
        if r3 >= 1e3:
            return f"{x / 1e3:.3g} kg"
        if 0 < r3 < 1:
            return f"{x * 1e3:.3g} mg"
        return f"{x:.3g} g"
    if unit == "kWh":
        return format_quantity(x * 1e3, "Wh")
    if unit in ("Wh", "L"):
        if 0 < r3 < 1:
            return f"{x * 1e3:.3g} m{unit}"
        return format_count(x, unit)
    if unit == "s":
        if 0 < r3 < 1:
            return f"{x * 1e3:.3g} ms"
        for f, u in _DURATIONS:
            if r3 >= f:
                return f"{x / f:,.3g} {u}"
        return f"{x:.3g} s"
    if unit == "h":
        return f"{format_count(x)} h"
    if unit == "%":
        return f"{x * 100:.3g} %"
    if unit == "/s":
        return f"{x:,.3g}/s"
    if unit == "":
        return f"{x:,}" if isinstance(x, int) else f"{x:,.3g}"
    return f"{x:,.3g} {unit}"


def format_value(v) -> str:
    """An assumption's value: 4 significant digits; a {p5, p50, p95} range as 'p5 – p50 – p95'."""
    if isinstance(v, dict):
        return f"{v['p5']:.4g} – {v['p50']:.4g} – {v['p95']:.4g}"
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)
