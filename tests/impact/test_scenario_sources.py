"""What a scenario takes from the tables and says about it: TPU power on the maximum measured
chip power, water terms without a figure left out (not 0), a cloud region whose mapped grid is
far from its provider's own figure. Expected numbers from the published figures, by hand."""

from __future__ import annotations

import pytest

from flopest import data
from flopest.impact.scenario import build_scenario


def test_tpu_power_is_a_fraction_of_the_maximum_measured_chip_power():
    """Google publishes measured chip power min/mean/max, not a TDP: v3 123/220/262 W, v4 90/170/192 W.
    The prior is v3's over its maximum (0.469/0.840/1.0): v3's mean is 0.84 × 262 = 220 W, v4's
    0.84 × 192 = 161 W against the 170 W measured (before: 0.489 of a 450 W TDP applied to 192 W,
    94 W)."""
    for dev, mean in (("tpu-v3", 220.0), ("tpu-v4", 170.0)):
        s = build_scenario(dev, 1, "US")
        p50_w = s.tdp_w * s.power_frac.p50
        assert p50_w == pytest.approx(mean, rel=0.06), dev
        assert s.tdp_w * s.power_frac.p95 == pytest.approx(data.device(dev).tdp_w)
    assert data.device("tpu-v3").tdp_w == 262


def test_water_terms_without_a_figure_are_said_and_mark_the_figure_partial():
    us = build_scenario("h100-sxm", 1, "US")
    assert us.water_partial is None or "WUE" in us.water_partial
    fr = build_scenario("h100-sxm", 1, "FR")
    assert fr.water_partial and "water-of-electricity" in fr.water_partial
    assert any("water counts on-site use only" in n for n in fr.notes)
    gcp = build_scenario("h100-sxm", 1, "gcp:europe-west4")   # no WUE for gcp, no factor for NL
    assert "WUE" in gcp.water_partial and "water-of-electricity" in gcp.water_partial
    assert any("neither on-site use nor the water of electricity" in n for n in gcp.notes)


def test_a_cloud_region_far_from_its_providers_figure_is_said():
    """gcp:northamerica-northeast1 (Montreal) is mapped to Canada's average, 174.8 g/kWh; Google's own
    figure for the region is 2.0 (Québec's hydro): 87× apart, said with the flag that takes it."""
    s = build_scenario("h100-sxm", 1, "gcp:northamerica-northeast1")
    note = next(n for n in s.notes if "provider's own" in n)
    assert "174.8" in note and "--intensity 2 " in note + " " and "87.4×" in note
    near = build_scenario("h100-sxm", 1, "FR")   # not a cloud region: nothing to compare
    assert not any("provider's own" in n for n in near.notes)


def test_a_probed_cpu_row_says_what_is_estimated_and_what_a_cpu_leaves_out(tmp_path):
    """A user's CPU row whose tdp_w and embodied are estimates (estimated_fields): the TDP and
    embodied sources say "estimate" and name the user's file, and a note says the host is not
    added to a CPU (its '+ host' boundary equals 'accelerators only')."""
    from importlib import resources
    text = (resources.files("flopest.data") / "devices.csv").read_text(encoding="utf-8").splitlines()
    header = next(line for line in text if line and not line.startswith("#"))
    row = next(line for line in text if line.startswith("xeon-platinum-8480,"))
    import csv
    import io
    cols = header.split(",")
    r = next(csv.reader([row]))
    r[0] = "my-cpu"
    r[cols.index("estimated_fields")] = "tdp_w;embodied_kgco2e"
    out = io.StringIO()
    csv.writer(out).writerow(r)
    path = tmp_path / "cpu.csv"
    path.write_text(header + "\n" + out.getvalue(), encoding="utf-8")
    data.load_user_devices(path)
    try:
        s = build_scenario("my-cpu", 1, "FR")
        src = {a["name"]: a["source"] for a in s.assumptions()}
        assert src["TDP"].startswith("estimate") and str(path) in src["TDP"]
        emb = next(v for k, v in src.items() if k.startswith("embodied"))
        assert "estimate" in emb and str(path) in emb and "no server share" in emb
        assert any("is a CPU" in n for n in s.notes) and any("estimated_fields" in n for n in s.notes)
    finally:
        data.reload()


def test_implausible_figures_of_a_user_row_are_said(tmp_path):
    """A CPU row at 10,190 GB/s (MB/s typed as GB/s), a 900,000 us launch, a GEMM curve 1000×
    its own peak: each is said, none is corrected."""
    from importlib import resources
    text = (resources.files("flopest.data") / "devices.csv").read_text(encoding="utf-8").splitlines()
    header = next(line for line in text if line and not line.startswith("#"))
    import csv
    import io
    cols = header.split(",") + ["launch_us", "gemm_curve", "basis"]
    r = next(csv.reader([next(line for line in text if line.startswith("xeon-platinum-8480,"))]))
    r[0] = "odd-cpu"
    r[cols.index("mem_bandwidth_gbps")] = "10190"
    peak = float(r[cols.index("peak_fp32_tflops")])
    r += ["900000", f"fp32:256={peak * 1000:g},1024={peak * 1000:g}", "measured"]
    out = io.StringIO()
    csv.writer(out).writerow(r)
    path = tmp_path / "odd.csv"
    path.write_text(",".join(cols) + "\n" + out.getvalue(), encoding="utf-8")
    data.load_user_devices(path)
    try:
        notes = " ".join(build_scenario("odd-cpu", 1, "FR").notes)
        assert "if it is in MB/s, write 10.19" in notes
        assert "launch_us 900000" in notes
        assert "GEMM curve reaches" in notes and "disagree" in notes
        assert not any("odd-cpu" in n and "write" in n for n in build_scenario("xeon-platinum-8480", 1, "FR").notes)
    finally:
        data.reload()
