"""The cost of a plan (accelerator-hours × price per accelerator-hour) in `estimate` and as a
column of `compare`, the boundaries in every format, and --price-per-hour."""

import csv
import io
import json

import pytest

from flopest.cli import main

# every input fixed: 1,000 accelerator-hours × 700 W all-in × PUE 1.2 = 840 kWh; × 50 g = 42 kg
HOURS = ["--accelerator-hours", "1000", "--power-w", "700", "--pue", "1.2", "--intensity", "50", "--samples", "500"]


def run(capsys, *argv) -> str:
    assert main(list(argv)) == 0
    return capsys.readouterr().out


def test_estimate_cost_by_hand(capsys):
    d = json.loads(run(capsys, "estimate", *HOURS, "--device", "h100-sxm", "--region", "aws:us-east-1",
                       "--format", "json"))
    # 1,000 accelerator-hours × USD 55.04 / 8 GPUs (AWS p5.48xlarge, us-east-1) = USD 6,880
    assert d["cost_usd"] == pytest.approx({"p5": 6880.0, "p50": 6880.0, "p95": 6880.0})
    # --price-per-hour replaces the list price: 1,000 × USD 2.25 = USD 2,250
    d = json.loads(run(capsys, "estimate", *HOURS, "--device", "h100-sxm", "--price-per-hour", "2.25",
                       "--format", "json"))
    assert d["cost_usd"]["p50"] == pytest.approx(2250.0)
    price = next(a for a in d["assumptions"] if a["name"].startswith("price per accelerator-hour"))
    assert price == {"name": "price per accelerator-hour (on-demand list)", "value": 2.25, "unit": "USD/h",
                     "source": "given by the user"}
    table = run(capsys, "estimate", *HOURS, "--device", "h100-sxm", "--price-per-hour", "2.25")
    assert "cost (on-demand list price)" in table and "USD 2,250" in table
    rows = {r["measure"]: r for r in csv.DictReader(io.StringIO(run(capsys, "estimate", *HOURS, "--device",
                                                                     "h100-sxm", "--price-per-hour", "2.25",
                                                                     "--format", "csv")))}
    assert float(rows["cost_usd"]["p50"]) == pytest.approx(2250.0)
    # boundaries in the CSV, in SI: accelerators only 700 kWh = 2.52e9 J, facility 840 kWh = 3.024e9 J
    assert float(rows["energy_j_accelerators"]["p50"]) == pytest.approx(2.52e9)
    assert float(rows["energy_j_facility"]["p50"]) == pytest.approx(3.024e9)
    assert float(rows["co2eq_kg_facility"]["p50"]) == pytest.approx(42.0)


def test_estimate_without_a_list_price_says_so(capsys):
    d = json.loads(run(capsys, "estimate", *HOURS, "--device", "rtx-3090", "--format", "json"))
    assert d["cost_usd"] is None
    assert any("no list price for rtx-3090" in n and "--price-per-hour" in n for n in d["notes"])


def test_boundaries_in_markdown(capsys):
    md = run(capsys, "estimate", *HOURS, "--device", "h100-sxm", "--format", "markdown")
    # all-in power: accelerators only = + host = 700 kWh, 35 kg; + facility 840 kWh, 42 kg
    assert "| accelerators only" in md and "| + embodied (manufacturing share)" in md
    line = next(ln for ln in md.splitlines() if ln.startswith("| + facility (PUE)"))
    assert "840 kWh" in line and "42 kg" in line


def test_compare_has_a_cost_column(capsys):
    plan = ["--params", "1B", "--tokens", "20B", "--samples", "1000", "--devices", "8"]
    argv = ["compare", *plan, "--device", "h100-sxm,rtx-3090", "--region", "aws:us-east-1,FR"]
    table = run(capsys, *argv)
    assert "cost p50" in table and "USD" in table and "where the device has no list price" in table
    d = json.loads(run(capsys, *argv, "--format", "json"))
    for r in d["rows"]:
        if r["device"] == "rtx-3090":
            assert r["cost_usd"] is None
        elif r["region"] == "aws:us-east-1":   # the region's list price, USD 6.88, × the row's accelerator-hours
            assert r["cost_usd"]["p50"] == pytest.approx(r["accelerator_hours"]["p50"] * 6.88, rel=1e-9)
    rows = list(csv.DictReader(io.StringIO(run(capsys, *argv, "--format", "csv"))))
    assert {"cost_usd_p5", "cost_usd_p50", "cost_usd_p95"} <= set(rows[0])
    h100 = next(r for r in rows if r["device"] == "h100-sxm" and r["region"] == "aws:us-east-1")
    assert float(h100["cost_usd_p50"]) > 0
    assert next(r for r in rows if r["device"] == "rtx-3090")["cost_usd_p50"] == ""
    # with --price-per-hour (one device's price: regions compared) every row has a cost: accelerator-hours × USD 1
    one = ["compare", *plan, "--device", "rtx-3090", "--region", "aws:us-east-1,FR"]
    d = json.loads(run(capsys, *one, "--format", "json", "--price-per-hour", "1"))
    assert all(r["cost_usd"]["p50"] == pytest.approx(r["accelerator_hours"]["p50"], rel=1e-9) for r in d["rows"])


def test_price_per_hour_is_checked_before_any_work(capsys):
    assert main(["estimate", *HOURS, "--price-per-hour", "0"]) == 2
    err = capsys.readouterr().err
    assert "--price-per-hour" in err and "'0'" in err
