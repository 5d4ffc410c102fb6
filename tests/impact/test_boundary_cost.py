"""Energy and CO₂eq by boundary (accelerators only, + host, + facility, + embodied) and the cost
in USD, read off the same Monte-Carlo as the estimate: with every input fixed each boundary is
hand arithmetic, and with ranges each boundary's p5/p95 are those of its own per-sample sum."""

import numpy as np
import pytest

import flopest
from flopest.errors import InputError
from flopest.impact import Scenario, Uncertain, simulate
from flopest.impact.boundary import nested
from flopest.impact.cost import price_per_hour

F = Uncertain.fixed


def scenario(power_w=None, pue=1.0, intensity=0.0, embodied=0.0, lifetime=6.0, util=0.85, n=1,
             peak=125e12, tdp=300.0, mfu=F(0.3), power_frac=F(1.0), host_w=F(0.0), region="", device="test"):
    s = Scenario(device, n, peak, "fp16", tdp, mfu, power_frac, host_w, F(pue), F(intensity),
                 F(lifetime), F(util), F(embodied), F(0.0), F(0.0), power_w=power_w)
    s.region = region
    return s


def test_boundaries_by_hand_every_input_fixed():
    # 1,000 accelerator-hours of a 400 W TDP device at 75 % of TDP, host 100 W per accelerator, PUE 1.2,
    # 50 g CO2eq/kWh, embodied 600 kg over 6 years at 85 % use
    s = scenario(tdp=400.0, power_frac=F(0.75), host_w=F(100.0), pue=1.2, intensity=50.0, embodied=600.0)
    r = simulate(s, accelerator_hours=1000.0, samples=200)
    b = nested(r)
    e = {k: v["energy_j"]["p50"] if v["energy_j"] else None for k, v in b.items()}
    c = {k: v["co2eq_kg"]["p50"] for k, v in b.items()}
    # accelerators only: 1,000 h × 400 W × 0.75 = 300 kWh = 300 × 3.6e6 J = 1.08e9 J; × 50 g = 15 kg
    assert e["accelerators"] == pytest.approx(1000 * 400 * 0.75 * 3600)
    assert c["accelerators"] == pytest.approx(300 * 0.050)
    # + host: 1,000 h × (300 + 100) W = 400 kWh = 1.44e9 J; × 50 g = 20 kg
    assert e["host"] == pytest.approx(1000 * 400 * 3600)
    assert c["host"] == pytest.approx(20.0)
    # + facility: 400 kWh × PUE 1.2 = 480 kWh = 1.728e9 J; × 50 g = 24 kg (the estimate's energy and scope 2)
    assert e["facility"] == pytest.approx(480 * 3.6e6)
    assert c["facility"] == pytest.approx(24.0)
    assert r["energy_kwh"]["p50"] == pytest.approx(480.0) and r["scope2"]["p50"] == pytest.approx(24.0)
    # + embodied: 600 kg × 1,000 h / (6 × 8,760 h × 0.85) = 13.4437 kg; 24 + 13.4437 = 37.4437 kg
    assert e["embodied"] is None
    assert c["embodied"] == pytest.approx(24.0 + 600 * 1000 / (6 * 8760 * 0.85))
    assert c["embodied"] == pytest.approx(r["co2eq_kg"]["p50"])
    for v in b.values():   # every input fixed: no range
        assert v["co2eq_kg"]["p5"] == pytest.approx(v["co2eq_kg"]["p95"])


def test_boundaries_from_flops_and_with_all_in_power():
    # a priori: 1.2e20 FLOPs / (125e12 × MFU 0.4) = 2.4e6 s = 666.67 accelerator-hours;
    # accelerators only: 666.67 h × 300 W × 0.5 = 100 kWh
    s = scenario(tdp=300.0, mfu=F(0.4), power_frac=F(0.5), host_w=F(60.0), pue=1.5, intensity=100.0)
    r = simulate(s, flops=1.2e20, samples=100)
    hours = 1.2e20 / (125e12 * 0.4) / 3600
    assert r["energy_j_accelerators"]["p50"] == pytest.approx(hours * 150 * 3600)          # 100 kWh in J
    assert r["energy_j_host"]["p50"] == pytest.approx(hours * 210 * 3600)                  # + 60 W: 140 kWh
    assert r["co2eq_kg_facility"]["p50"] == pytest.approx(hours * 0.210 * 1.5 * 0.100)     # 140 × 1.5 × 0.1 = 21 kg
    # an all-in power (GPT-3's 330 W) is not split: accelerators only = + host = 3.552e6 h × 330 W
    s = scenario(power_w=330.0, pue=1.1, intensity=429.0)
    r = simulate(s, accelerator_hours=3.552e6, samples=100)
    assert r["energy_j_accelerators"]["p50"] == pytest.approx(3.552e6 * 330 * 3600)
    assert r["energy_j_host"]["p50"] == r["energy_j_accelerators"]["p50"]
    # × PUE 1.1 = 1,289,376 kWh; × 429 g = 553,142 kg
    assert r["co2eq_kg_facility"]["p50"] == pytest.approx(3.552e6 * 0.330 * 1.1 * 0.429)


def test_boundary_ranges_are_per_sample_sums():
    # with ranges, a boundary's quantiles are those of its own samples, and the boundaries nest
    s = scenario(tdp=700.0, mfu=Uncertain(0.2, 0.35, 0.5), power_frac=Uncertain(0.5, 0.75, 1.0),
                 host_w=Uncertain(60, 200, 500), pue=1.1, intensity=400.0, embodied=600.0)
    s.pue = Uncertain(1.05, 1.1, 1.2)
    r = simulate(s, flops=1e22, samples=20_000, seed=3)
    for q in ("p5", "p50", "p95"):
        assert r["energy_j_accelerators"][q] < r["energy_j_host"][q] < r["energy_j_facility"][q]
        assert r["co2eq_kg_accelerators"][q] < r["co2eq_kg_host"][q] < r["co2eq_kg_facility"][q] \
            < r["co2eq_kg_embodied"][q]
        # the facility boundary is the estimate's energy and scope 2, sample by sample
        assert r["energy_j_facility"][q] == pytest.approx(r["energy_kwh"][q] * 3.6e6, rel=1e-12)
        assert r["co2eq_kg_facility"][q] == pytest.approx(r["scope2"][q], rel=1e-12)
        assert r["co2eq_kg_embodied"][q] == pytest.approx(r["co2eq_kg"][q], rel=1e-12)
    # a per-sample sum is not the sum of quantiles: the p95 of scope 2 + 3 is below p95 + p95
    assert r["co2eq_kg_embodied"]["p95"] < r["scope2"]["p95"] + r["scope3"]["p95"]


def test_cost_is_price_times_accelerator_hours():
    # 1,000 accelerator-hours × USD 2.50 = USD 2,500
    s = scenario(tdp=400.0)
    r = simulate(s, accelerator_hours=1000.0, samples=100, price=F(2.5, "USD/h"))
    assert r["cost_usd"] == pytest.approx({"p5": 2500.0, "p50": 2500.0, "p95": 2500.0})
    # a priori: 1.2e20 / (8 × 125e12 × 0.3) = 400,000 s on 8 devices = 888.89 accelerator-hours × USD 6.88
    s = scenario(n=8, mfu=F(0.3))
    r = simulate(s, flops=1.2e20, samples=100, price=F(6.88, "USD/h"))
    assert r["cost_usd"]["p50"] == pytest.approx(1.2e20 / (8 * 125e12 * 0.3) * 8 / 3600 * 6.88)
    # without a price there is no cost (never a silent 0)
    assert "cost_usd" not in simulate(s, flops=1.2e20, samples=100)


def test_cost_range_of_a_price_range_is_per_sample():
    # a price range (3.99 – 6.88 – 12.29) times fixed hours: the cost's quantiles are the price's × hours
    s = scenario()
    r = simulate(s, accelerator_hours=100.0, samples=50_000, seed=1, price=Uncertain(3.99, 6.88, 12.29, "USD/h"))
    assert r["cost_usd"]["p50"] == pytest.approx(688.0, rel=0.02)
    assert r["cost_usd"]["p5"] == pytest.approx(399.0, rel=0.03)
    assert r["cost_usd"]["p95"] == pytest.approx(1229.0, rel=0.03)
    # the price has its own seed: the other figures are those of a run without a price
    assert simulate(s, accelerator_hours=100.0, samples=50_000, seed=1)["co2eq_kg"] == r["co2eq_kg"]


def test_which_price():
    # the device's price in the region itself: AWS us-east-1 p5.48xlarge, USD 55.04 / 8 = 6.88
    p, note = price_per_hour("h100-sxm", "aws:us-east-1")
    assert p.is_fixed and p.p50 == pytest.approx(55.04 / 8) and note is None and "p5.48xlarge" in p.source
    # a provider-wide price (Lambda lists one price for all regions): none here for gcp:europe-west1's H100,
    # so GCP's other region (us-central1, USD 10.9791) is taken and said so
    p, note = price_per_hour("h100-sxm", "gcp:europe-west1")
    assert p.p50 == pytest.approx(10.9791) and "us-central1" in note
    # a grid region: the range of every provider's list price for the device (lowest, median, highest)
    p, note = price_per_hour("h100-sxm", "FR")
    assert (p.p5, p.p50, p.p95) == pytest.approx((3.99, 6.88, 12.29)) and note is None
    assert "5 list prices" in p.source
    # a device without any list price: no price, and a note that says how to give one
    p, note = price_per_hour("rtx-3090", "FR")
    assert p is None and "--price-per-hour" in note
    # the user's price replaces the table
    p, note = price_per_hour("rtx-3090", "FR", 0.42)
    assert p.is_fixed and p.p50 == 0.42 and p.source == "given by the user"
    for bad in (0, -1, float("nan"), 1e6):
        with pytest.raises(InputError, match="price_per_hour"):
            price_per_hour("h100-sxm", "FR", bad)


def test_estimate_carries_boundaries_plan_and_cost():
    est = flopest.estimate(accelerator_hours=1000, device="h100-sxm", region="aws:us-east-1", power_w=700,
                           pue=1.2, intensity=300, samples=500)
    d = est.to_dict()
    # 1,000 h × 700 W = 700 kWh (all-in: accelerators = + host); × PUE 1.2 = 840 kWh; × 300 g = 252 kg
    assert d["by_boundary"]["accelerators"]["energy_j"]["p50"] == pytest.approx(700 * 3.6e6)
    assert d["by_boundary"]["host"]["energy_j"]["p50"] == pytest.approx(700 * 3.6e6)
    assert d["by_boundary"]["facility"]["energy_j"]["p50"] == pytest.approx(840 * 3.6e6)
    assert d["by_boundary"]["facility"]["co2eq_kg"]["p50"] == pytest.approx(252.0)
    assert any("not split" in n for n in d["notes"])
    # cost: 1,000 h × USD 6.88 (AWS us-east-1 list price) = USD 6,880
    assert d["cost_usd"]["p50"] == pytest.approx(6880.0)
    price = next(a for a in d["assumptions"] if a["name"].startswith("price per accelerator-hour"))
    assert price["value"] == pytest.approx(6.88) and price["unit"] == "USD/h" and "https://" in price["source"]
    assert d["plan"] == {"model": None, "device": "h100-sxm", "device_name": "NVIDIA H100 SXM5 80GB", "devices": 1,
                         "region": "aws:us-east-1", "region_name": "AWS us-east-1 (N. Virginia)",
                         "datacenter": "aws", "precision": "bf16"}
    # price_per_hour replaces the list price: 1,000 h × USD 2 = USD 2,000
    est = flopest.estimate(accelerator_hours=1000, device="h100-sxm", region="FR", price_per_hour=2.0, samples=500)
    assert est.cost_usd["p50"] == pytest.approx(2000.0)
    # no list price for the device: cost None and a note (never a silent 0)
    est = flopest.estimate(accelerator_hours=1000, device="rtx-3090", region="FR", samples=500)
    assert est.cost_usd is None and est.to_dict()["cost_usd"] is None
    assert any("no list price for rtx-3090" in n for n in est.notes)


def test_kernel_keeps_the_six_row_layout():
    # a (6, n) output gets the six figures alone (the boundary rows are written only into (10, n))
    from flopest.impact.training import draws
    from flopest.kernel import load
    s = scenario(tdp=300.0, mfu=F(0.5), power_frac=F(0.5))
    v = draws(s, 10, seed=0)
    six, ten = np.full((6, 10), -1.0), np.full((10, 10), -1.0)
    load("_mc").impacts(v, 1e18, 1.0, 125e12, 300.0, 0.0, 0.0, six)
    load("_mc").impacts(v, 1e18, 1.0, 125e12, 300.0, 0.0, 0.0, ten)
    assert np.array_equal(six, ten[:6])
    # 1e18 / (125e12 × 0.5) = 16,000 s = 4.444 h × 150 W = 0.6667 kWh for the accelerators alone
    assert ten[6, 0] == pytest.approx(1e18 / (125e12 * 0.5) / 3600 * 0.150)
