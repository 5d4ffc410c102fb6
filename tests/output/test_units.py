"""units.py: one parser of counts, durations, energy, mass and volume (case-sensitive SI
prefixes, no decimal comma, no bare budget), and one formatter. Expected values are the
definitions of the units (1 MWh = 1,000 kWh, 1 Mg = 1 t = 1,000 kg, 1 ML = 1e6 L)."""

import json
import math

import pytest

from flopest import units
from flopest.budget import METRICS, parse_budget
from flopest.errors import InputError


# ------------------------------------------------------------------- every budget unit, by table
# (budget text, budget name, limit in the metric's base unit: kg, kWh, h, s, L)
BUDGETS = [
    # mass (base kg)
    ("co2eq=500mg", "co2eq", 500e-6), ("co2eq=500g", "co2eq", 0.5), ("co2eq=50kg", "co2eq", 50.0),
    ("co2eq=50KG", "co2eq", 50.0), ("co2eq=1Mg", "co2eq", 1000.0),          # 1 megagram = 1 t, not 1 mg
    ("co2eq=1.5t", "co2eq", 1500.0), ("co2eq=2kt", "co2eq", 2e6), ("co2eq=2Mt", "co2eq", 2e9),
    ("co2eq=1Gt", "co2eq", 1e12), ("scope2=560t", "scope2", 560e3), ("scope3=3 kg", "scope3", 3.0),
    ("co2eq-per-month=2t", "co2eq-per-month", 2000.0), ("co2eq-per-year=1_000kg", "co2eq-per-year", 1000.0),
    # energy (base kWh)
    ("energy=200mWh", "energy", 200e-6),        # milliwatt-hours: 0.2 Wh, not 200 MWh
    ("energy=800Wh", "energy", 0.8), ("energy=200kWh", "energy", 200.0), ("energy=200kwh", "energy", 200.0),
    ("energy=1.2MWh", "energy", 1200.0), ("energy=3GWh", "energy", 3e6), ("energy=1TWh", "energy", 1e9),
    ("energy=3.6MJ", "energy", 1.0),            # 3.6e6 J / 3.6e6 J per kWh
    ("energy=3600J", "energy", 0.001), ("energy-per-month=5MWh", "energy-per-month", 5000.0),
    # volume (base L)
    ("water=2mL", "water", 0.002), ("water=2ml", "water", 0.002), ("water=250L", "water", 250.0),
    ("water=250l", "water", 250.0), ("water=3kL", "water", 3000.0),
    ("water=2ML", "water", 2e6),                # megalitres, not millilitres
    ("water=5m3", "water", 5000.0),
    # durations: time and latency in s, hours in h (a bare number of hours is allowed: the name is the unit)
    ("time=200ms", "time", 0.2), ("time=2s", "time", 2.0), ("time=3min", "time", 180.0), ("time=2h", "time", 7200.0),
    ("time=3d", "time", 259200.0), ("time=1y", "time", 8760 * 3600.0), ("latency=200MS", "latency", 0.2),
    ("hours=1000", "hours", 1000.0), ("hours=1.2M", "hours", 1.2e6), ("hours=2d", "hours", 48.0),
    ("hours=90min", "hours", 1.5),
    ("cost=1.2M", "cost", 1.2e6), ("cost=500", "cost", 500.0), ("cost=5kUSD", "cost", 5000.0),   # USD
    ("cost=2MUSD", "cost", 2e6), ("cost=300usd", "cost", 300.0),
]


@pytest.mark.parametrize("text,name,limit", BUDGETS)
def test_every_budget_unit(text, name, limit):
    b = parse_budget(text)
    assert b.name == name and b.limit == pytest.approx(limit, rel=1e-12)


def test_the_table_covers_every_budget_name_and_unit():
    assert {name for _, name, _ in BUDGETS} == set(METRICS)
    written = {t.partition("=")[2].lstrip("0123456789._ ") for t, _, _ in BUDGETS}
    for fam in ("energy", "mass", "volume", "duration"):
        canon = set(units.FAMILIES[fam][0])
        # energy: the joule prefixes are the same code path as MJ and J, shown once each
        assert canon - written <= {"mJ", "kJ", "GJ", "TJ", "GL"}, (fam, canon - written)


# --------------------------------------------------------------- the false passes of issue 19.4 / 13.4
@pytest.mark.parametrize("text,needle", [
    ("co2eq=1,5t", "write '1.5t'"),                           # was read as 15 t
    ("co2eq=1,000kg", "comma"),
    ("co2eq=1mt", "write 't' for tonnes or 'Mt' for megatonnes"),   # was a megatonne
    ("co2eq=1MT", "write 't' for tonnes or 'Mt' for megatonnes"),
    ("co2eq=50", "has no unit"),                              # was silently kg
    ("energy=200", "has no unit"), ("water=5", "has no unit"), ("time=5", "has no unit"),
    ("co2eq=1e300kg", "too large"), ("energy=infkWh", "not a number"), ("co2eq=nan", "not a number"),
    ("energy=5mwh", "'mWh' for milliwatt-hours or 'MWh'"), ("water=2Ml", "'mL' for millilitres or 'ML'"),
    ("co2eq=5kWh", "not a mass unit"), ("co2eq=-1kg", "non-negative"), ("hours=5m", "'min' for minutes"),
])
def test_false_passes_are_errors(text, needle):
    with pytest.raises(InputError) as e:
        parse_budget(text)
    assert needle in str(e.value)
    assert repr(text.partition("=")[2]) in str(e.value) or "=" not in text


def test_no_unit_error_names_the_units():
    with pytest.raises(InputError) as e:
        parse_budget("co2eq=50")
    msg = str(e.value)
    assert "kg" in msg and "'t'" not in msg and "t, kt, Mt" in msg and "50kg" in msg


def test_huge_values_never_echoed_whole():
    with pytest.raises(InputError) as e:
        parse_budget("co2eq=" + "9" * 10_000 + "kg")
    assert len(str(e.value)) < 300


# --------------------------------------------------------------------------------------- counts
@pytest.mark.parametrize("text,expected", [
    ("7B", 7e9), ("7b", 7e9), ("500k", 5e5), ("500K", 5e5), ("1.2M", 1.2e6), ("1.2m", 1.2e6), ("2T", 2e12),
    ("2t", 2e12), ("3G", 3e9), ("1P", 1e15), ("3e9", 3e9), ("1_000", 1000.0), (" 42 ", 42.0), (12, 12.0),
])
def test_counts(text, expected):
    assert units.parse_count(text, "--tokens") == expected


@pytest.mark.parametrize("text,needle", [
    ("1,5M", "comma"), ("1e300", "too large"), (10**400, "too large"), ("inf", "not a number"),
    ("abc", "not a number"), ("-3", "non-negative"), ("5X", "suffix 'X'"), (float("nan"), "finite"),
])
def test_bad_counts(text, needle):
    with pytest.raises(InputError) as e:
        units.parse_count(text, "--epochs")
    assert needle in str(e.value) and "--epochs" in str(e.value)


def test_durations():
    assert units.parse_duration("200ms") == pytest.approx(0.2)
    assert units.parse_duration("1.5") == 1.5                 # a bare duration is in seconds
    assert units.parse_duration("2d", to="h") == 48.0         # 2 × 24 h
    assert units.HOURS_PER_YEAR == 8760.0                     # 365 × 24


# ------------------------------------------------------------------------------------ formatting
@pytest.mark.parametrize("x,unit,text", [
    (553_142, "kg", "553 t"), (55_314_200, "kg", "55.3 kt"), (0.5, "kg", "500 g"), (12.5, "kg", "12.5 kg"),
    (1_289_376, "kWh", "1.29 GWh"), (200, "kWh", "200 kWh"), (0.5, "kWh", "500 Wh"), (1.0e-4, "kWh", "100 mWh"),
    (0.2, "s", "200 ms"), (7200, "s", "2 h"), (259200, "s", "3 days"), (2 * 8760 * 3600, "s", "2 years"),
    (5000, "L", "5 kL"), (2e6, "L", "2 ML"), (0.002, "L", "2 mL"), (0.25, "%", "25 %"), (3, "", "3"),
])
def test_format_quantity(x, unit, text):
    assert units.format_quantity(x, unit) == text


def test_formatted_quantities_parse_back():
    # what the report prints is what a budget may say: the same units, the same case
    fam = {"kg": "co2eq", "kWh": "energy", "L": "water"}
    for x, unit in ((553_142, "kg"), (0.5, "kg"), (1_289_376, "kWh"), (1e-4, "kWh"), (2e6, "L"), (0.002, "L")):
        shown = units.format_quantity(x, unit).replace(" ", "")
        assert parse_budget(f"{fam[unit]}={shown}").limit == pytest.approx(x, rel=5e-3)


def test_format_count():
    assert units.format_count(22_300_000_000, "FLOP") == "22.3 GFLOP"
    assert units.format_count(999_999) == "1 M"                # the prefix is chosen after rounding
    assert units.format_count(10**40, "FLOP") == "1e+40 FLOP"
    assert units.format_count(None) == "—"
    assert units.format_value({"p5": 1, "p50": 2.5, "p95": 4}) == "1 – 2.5 – 4"


def test_one_formatter_in_the_package():
    import pathlib
    root = pathlib.Path(units.__file__).parent
    for py in root.rglob("*.py"):
        text = py.read_text(encoding="utf-8")
        for name in ("def human(", "def _num(", "def _fmt_value(", "def _fmt_s(", "_PREFIX = (", "def _co2(",
                     "def _duration("):
            assert name not in text or py.name == "units.py", (py, name)
    for py in root.rglob("*.py"):
        text = py.read_text(encoding="utf-8")
        for literal in ("8766", "365.25", "8760.0"):
            assert literal not in text or py.name == "units.py", (py, literal)
    json.dumps(units.FAMILIES)   # plain data
    assert math.isfinite(units.MAX_VALUE)


@pytest.mark.parametrize("x,unit,shown", [
    (999.9, "g", "1 kg"), (999.95, "kg", "1 t"), (0.9995, "Wh", "1 Wh"), (0.9999, "s", "1 s"),
    (59.99, "s", "1 min"), (999.4, "g", "999 g"), (0.0004, "kg", "400 mg"), (0.2, "s", "200 ms"),
])
def test_the_unit_is_chosen_on_the_value_as_printed(x, unit, shown):
    """3 significant digits first, then the unit: 999.95 kg rounds to 1,000 kg = 1 t, never
    '1e+03 kg' (the value is right, the print unreadable)."""
    from flopest.units import format_quantity
    assert format_quantity(x, unit) == shown


def test_a_plain_number_keeps_its_digits_together():
    """--intensity '5 6' is not 56; '56 g/kWh' (a spaced unit) is 56."""
    from flopest.cli.common import plain_arg
    from flopest.errors import InputError
    assert plain_arg("--intensity", "56 g/kWh") == plain_arg("--intensity", "56g/kWh") == 56.0
    with pytest.raises(InputError):
        plain_arg("--intensity", "5 6")
