"""Measured inputs replace priors (issue 17 item 4): a CodeCarbon emissions.csv or carbontracker's
logs of a short run, written by the tests in the tools' own formats (CodeCarbon 3.3.2's columns;
carbontracker 2.4.7's log lines), read into the measured power per accelerator, PUE and grid
intensity, and set against flopest's prediction for that run. Expected numbers by hand."""

from __future__ import annotations

import json
import os

import pytest

import flopest
from flopest.errors import InputError
from flopest.impact.measured import calibrate, calibrate_from, device_of, read_measured, region_of

HEADER = ("timestamp,project_name,run_id,experiment_id,duration,emissions,emissions_rate,cpu_power,gpu_power,"
          "ram_power,cpu_energy,gpu_energy,ram_energy,energy_consumed,water_consumed,country_name,"
          "country_iso_code,region,cloud_provider,cloud_region,os,python_version,codecarbon_version,cpu_count,"
          "cpu_model,gpu_count,gpu_model,longitude,latitude,ram_total_size,tracking_mode,"
          "cpu_utilization_percent,gpu_utilization_percent,ram_utilization_percent,ram_used_gb,on_cloud,pue,wue")


def cc_row(run_id="run-2", duration=3600.0, cpu=0.3, gpu=2.4, ram=0.1, intensity_g=56.0, pue=1.0, gpus=8,
           model="8 x NVIDIA A100-SXM4-80GB", country=("France", "FRA"), energy=None):
    """One CodeCarbon row: energies in kWh before the PUE (CodeCarbon multiplies them by it);
    `energy` replaces energy_consumed's text."""
    cpu, gpu, ram = cpu * pue, gpu * pue, ram * pue
    total = cpu + gpu + ram
    co2 = total * intensity_g / 1000
    total = total if energy is None else energy
    return (f"2026-11-30T11:00:00,bert,{run_id},exp,{duration},{co2},{co2 / duration if duration else 0},300.0,"
            f"2400.0,100.0,{cpu},"
            f"{gpu},{ram},{total},0.0,{country[0]},{country[1]},,,,Linux,3.11.7,3.3.2,64,AMD EPYC,{gpus},{model},"
            f",,1024.0,machine,35.0,97.0,20.0,200.0,N,{pue},0.0")


@pytest.fixture
def cc(tmp_path):
    def write(*rows, header=HEADER, name="emissions.csv"):
        p = tmp_path / name
        p.write_text("\n".join([header, *rows]) + "\n")
        return str(p)
    return write


# 8 × A100-SXM4-80GB for one hour: GPUs 2.4 kWh, CPUs 0.3 kWh, RAM 0.1 kWh, France at 56 g/kWh
KWH = 3.6e6
FIXTURE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "emissions.csv")   # the same run


def test_codecarbon_run_is_read_and_calibrated(cc):
    run = read_measured(cc(cc_row()))
    assert run.tool == "codecarbon" and run.tool_version == "3.3.2"
    assert run.duration_s == 3600.0 and run.accelerators == 8
    assert run.energy_j == pytest.approx(2.8 * KWH)                 # 0.3 + 2.4 + 0.1 kWh
    assert run.accelerator_energy_j == pytest.approx(2.4 * KWH)
    assert run.co2eq_kg == pytest.approx(0.1568)                    # 2.8 kWh × 56 g/kWh
    assert run.intensity_g_per_kwh == pytest.approx(56.0)           # 0.1568 kg / 2.8 kWh
    assert run.pue == 1.0 and "default" in run.pue_basis
    cal = calibrate(run, samples=20_000)
    assert (cal.device, cal.devices, cal.region) == ("a100-sxm4-80gb", 8, "FR")   # read off the run
    assert cal.power_w == pytest.approx(350.0)                      # 2.8 kWh / (1 h × 8 accelerators)
    assert cal.accelerator_power_w == pytest.approx(300.0)          # 2.4 kWh / (1 h × 8)
    assert cal.power_fraction == pytest.approx(0.75)                # 300 W / the 400 W TDP
    assert cal.pue is None                                          # CodeCarbon's default 1 is not a measurement
    assert cal.intensity_g_per_kwh == pytest.approx(56.0)
    assert cal.estimate_kwargs() == pytest.approx({"power_w": 350.0, "intensity": 56.0})
    assert cal.flags() == "--power-w 350 --intensity 56"
    rows = {r["figure"]: r for r in cal.rows}
    board = rows["power per accelerator, board"]
    # prior: TDP × power fraction (p5 0.49, p50 0.75, p95 1.0): 196 – 300 – 400 W
    assert board["predicted"]["p50"] == pytest.approx(300.0, rel=0.02)
    assert board["predicted"]["p95"] == pytest.approx(400.0, rel=1e-6)
    assert board["measured"] == pytest.approx(300.0) and board["within"]
    assert rows["energy, + host (IT)"]["measured"] == pytest.approx(2.8 * KWH)
    assert rows["CO2eq of the IT energy, location-based"]["measured"] == pytest.approx(0.1568)
    assert "energy, + facility (PUE)" not in rows                   # no PUE measured: the comparison stops at IT


def test_the_calibrated_flags_reproduce_the_measured_run():
    """Closed loop: the measured power and intensity, with PUE 1 (CodeCarbon's boundary) and the run's
    8 accelerator-hours, give back the measured energy and CO2eq exactly."""
    cal = calibrate_from(FIXTURE, samples=1000)
    est = flopest.estimate(accelerator_hours=8, device=cal.device, n_devices=cal.devices, pue=1.0,
                           samples=1000, **cal.estimate_kwargs())
    # 8 h × 350 W = 2.8 kWh; × 56 g/kWh = 0.1568 kg
    assert est.energy_kwh["p50"] == pytest.approx(2.8) == est.energy_kwh["p5"]
    assert est.co2eq_kg_by_scope["scope2"]["p50"] == pytest.approx(0.1568)


def test_the_last_run_or_the_one_named(cc):
    path = cc(cc_row("run-1", duration=600.0, cpu=0.05, gpu=0.32, ram=0.0166666), cc_row("run-2"))
    assert read_measured(path).duration_s == 3600.0                 # the last row by default
    first = calibrate_from(path, run_id="run-1", samples=1000)
    assert first.run.duration_s == 600.0
    assert first.accelerator_power_w == pytest.approx(240.0)        # 0.32 kWh / (600 s × 8) = 240 W
    with pytest.raises(InputError, match="run_id 'run-3' is not in .*run-1, run-2"):
        read_measured(path, run_id="run-3")


def test_a_pue_set_in_codecarbon_is_taken_out_and_calibrated(cc):
    run = read_measured(cc(cc_row(pue=1.2)))
    assert run.energy_j == pytest.approx(3.36 * KWH)                # 2.8 kWh × 1.2, as CodeCarbon writes it
    assert run.it_energy_j == pytest.approx(2.8 * KWH)
    assert run.accelerator_energy_j == pytest.approx(2.4 * KWH)     # 2.88 kWh / 1.2
    cal = calibrate(run, samples=1000)
    assert cal.power_w == pytest.approx(350.0) and cal.accelerator_power_w == pytest.approx(300.0)
    assert cal.pue == 1.2 and cal.intensity_g_per_kwh == pytest.approx(56.0)
    assert cal.flags() == "--power-w 350 --pue 1.2 --intensity 56"
    rows = {r["figure"]: r for r in cal.rows}
    assert rows["energy, + facility (PUE)"]["measured"] == pytest.approx(3.36 * KWH)
    assert rows["CO2eq of the IT energy, location-based"]["measured"] == pytest.approx(0.1568)


def test_an_old_codecarbon_file_without_pue_or_gpu_columns(cc):
    header = "timestamp,project_name,run_id,duration,emissions,energy_consumed,country_name,country_iso_code"
    path = cc("2022-01-01T00:00:00,p,r,7200,0.0475,0.5,Germany,DEU", header=header)
    run = read_measured(path)
    assert run.pue == 1.0 and "before 2.2.3" in run.pue_basis
    assert run.accelerators is None and run.accelerator_energy_j is None
    with pytest.raises(InputError, match="device=ID"):
        calibrate(run)
    with pytest.raises(InputError, match="devices=N"):
        calibrate(run, device="epyc-9654")
    cal = calibrate(run, device="epyc-9654", devices=2, samples=1000)
    assert cal.region == "DE"                                        # by the country's name
    assert cal.power_w == pytest.approx(125.0)                       # 0.5 kWh / (2 h × 2)
    assert cal.intensity_g_per_kwh == pytest.approx(95.0)            # 0.0475 kg / 0.5 kWh
    assert cal.accelerator_power_w is None and cal.power_fraction is None


# ----------------------------------------------------------------------------- carbontracker
STD = """2026-12-07 10:00:00 - carbontracker version 2.4.7
2026-12-07 10:00:00 - Only predicted and actual consumptions are multiplied by a PUE coefficient of 1.58 (Daniel Bizo, 2023, Uptime Institute Global Data Center Survey).
2026-12-07 10:00:00 - The following components were found: GPU with device(s) NVIDIA A100-SXM4-40GB, NVIDIA A100-SXM4-40GB. CPU with device(s) cpu:0.
2026-12-07 10:30:00 - Epoch 1:
2026-12-07 10:30:00 - Duration: 0:30:00.00
2026-12-07 10:30:00 - Average power usage (W) for gpu: [310.0 290.0]
2026-12-07 10:30:00 - Average power usage (W) for cpu: 100.0
2026-12-07 11:00:00 - Epoch 2:
2026-12-07 11:00:00 - Duration: 0:30:00.00
2026-12-07 11:00:00 - Average power usage (W) for gpu: [310.0 290.0]
2026-12-07 11:00:00 - Average power usage (W) for cpu: 100.0
2026-12-07 11:00:00 - Carbon intensities (gCO2eq/kWh) fetched every 900 s at detected location: Copenhagen, Capital Region, DK: [120.5]
2026-12-07 11:00:00 - Average carbon intensity during training was 120.50 gCO2eq/kWh. 
"""
# IT energy: (310 + 290 + 100) W × 3,600 s = 0.7 kWh; × 1.58 = 1.106 kWh; × 120.5 g/kWh = 133.273 g
OUT = """2026-12-07 10:00:00 - CarbonTracker: The following components were found: GPU with device(s) NVIDIA A100-SXM4-40GB, NVIDIA A100-SXM4-40GB. CPU with device(s) cpu:0.
2026-12-07 11:00:00 - CarbonTracker: Average carbon intensity during training was 120.50 gCO2eq/kWh. 
2026-12-07 11:00:00 - CarbonTracker: 
Actual consumption for 2 epoch(s):
\tTime:\t1:00:00
\tEnergy:\t1.106000 kWh
\tCO2eq:\t133.273000 g
\tThis is equivalent to:
\t1.11 km travelled by car
2026-12-07 11:00:00 - CarbonTracker: Finished monitoring.
"""


@pytest.fixture
def ct(tmp_path):
    std = tmp_path / "1234.root_2026-12-07T100000Z_carbontracker.log"
    out = tmp_path / "1234.root_2026-12-07T100000Z_carbontracker_output.log"
    std.write_text(STD)
    out.write_text(OUT)
    return str(std), str(out)


def test_carbontracker_logs_are_read_and_calibrated(ct):
    run = read_measured(list(ct))
    assert run.tool == "carbontracker" and run.tool_version == "2.4.7"
    assert run.duration_s == 3600.0 and run.accelerators == 2
    assert run.accelerator_model == "2 x NVIDIA A100-SXM4-40GB"
    assert run.pue == 1.58 and "fixed coefficient" in run.pue_basis
    assert run.energy_j == pytest.approx(1.106 * KWH)
    assert run.it_energy_j == pytest.approx(0.7 * KWH)              # 1.106 / 1.58
    assert run.accelerator_energy_j == pytest.approx(600 * 3600)    # (310 + 290) W × 3,600 s = 2.16 MJ
    assert run.co2eq_kg == pytest.approx(0.133273)
    assert run.intensity_g_per_kwh == 120.5
    assert run.notes == []                                          # the two logs agree
    cal = calibrate(run, samples=1000)
    assert (cal.device, cal.devices, cal.region) == ("a100-sxm4-40gb", 2, "DK")
    assert cal.power_w == pytest.approx(350.0)                      # 0.7 kWh / (1 h × 2)
    assert cal.accelerator_power_w == pytest.approx(300.0)          # 600 W / 2
    assert cal.power_fraction == pytest.approx(0.75)                # / the 400 W TDP
    assert cal.pue is None                                          # carbontracker's 1.58 is not this site's
    assert cal.flags() == "--power-w 350 --intensity 120.5"
    rows = {r["figure"]: r for r in cal.rows}
    # CO2eq of the IT energy: 0.7 kWh × 120.5 g/kWh = 84.35 g
    assert rows["CO2eq of the IT energy, location-based"]["measured"] == pytest.approx(0.08435)


def test_carbontracker_with_one_log(ct):
    std, out = ct
    only_out = read_measured(out)
    assert only_out.energy_j == pytest.approx(1.106 * KWH) and only_out.duration_s == 3600.0
    assert only_out.pue == 1.58 and "assumed" in only_out.pue_basis
    assert only_out.accelerators == 2 and only_out.accelerator_energy_j is None
    only_std = read_measured(std)
    assert only_std.energy_j == pytest.approx(1.106 * KWH)           # 700 W × 1 h × 1.58
    assert only_std.co2eq_kg == pytest.approx(0.133273)              # × 120.5 g/kWh
    assert any("average power × duration" in n for n in only_std.notes)


def test_carbontracker_readings_it_could_not_take(tmp_path):
    """"[nan 300.]" (one device unread) and "[None]" (carbontracker 1.x, no reading): the unread
    device is taken at the mean of the others, an epoch without any reading adds nothing, both
    said; never a NaN figure or a crash. Epoch 1: gpu [nan 290] -> 2 × 290 W; epoch 2: [310 290]
    -> 600 W; accelerator energy (580 + 600) W × 1,800 s = 2.124 MJ."""
    std = tmp_path / "a_carbontracker.log"
    std.write_text(STD.replace("for gpu: [310.0 290.0]", "for gpu: [nan 290.0]", 1))
    run = read_measured(str(std))
    assert run.accelerator_energy_j == pytest.approx((580 + 600) * 1800)
    assert any("nan or None" in n for n in run.notes)
    none = tmp_path / "b_carbontracker.log"
    none.write_text(STD.replace("for gpu: [310.0 290.0]", "for gpu: [None]"))
    run = read_measured(str(none))
    assert run.accelerator_energy_j is None or run.accelerator_energy_j == 0   # no GPU reading at all
    assert run.energy_j == pytest.approx(100 * 3600 * 1.58)                     # the CPU's 100 W only
    assert all(v == v for v in (run.energy_j, run.duration_s))                  # no NaN


@pytest.mark.parametrize("line,where", [
    ("fetched every 900 s at detected location Copenhagen, Capital Region, DK: [120.5]", "Copenhagen, Capital Region, DK"),
    ("fetched every 900 s at detected location: Copenhagen, Capital Region, DK: [120.5]", "Copenhagen, Capital Region, DK"),
])
def test_carbontracker_location_in_both_wordings(tmp_path, line, where):
    std = tmp_path / "c_carbontracker.log"
    std.write_text(STD.replace("fetched every 900 s at detected location: Copenhagen, Capital Region, DK: [120.5]",
                               line))
    assert read_measured(str(std)).location == where
    only = tmp_path / "d_carbontracker.log"
    only.write_text("\n".join(x for x in STD.splitlines() if "fetched every" not in x)
                    + "\n2026-12-07 11:00:00 - Average carbon intensity during training was 120.50 gCO2/kWh at "
                      "detected location: Copenhagen, Capital Region, DK.\n")
    assert read_measured(str(only)).location == "Copenhagen, Capital Region, DK"


def test_carbontracker_logs_that_disagree_say_so(ct, tmp_path):
    std, _ = ct
    out = tmp_path / "other_carbontracker_output.log"
    out.write_text(OUT.replace("1.106000 kWh", "2.000000 kWh"))
    run = read_measured([std, str(out)])
    assert run.energy_j == pytest.approx(2.0 * KWH)
    assert any("differ by more than 5 %" in n for n in run.notes)


# ----------------------------------------------------------------------------- bad input
def test_bad_measurement_files_are_named(tmp_path, cc, ct):
    with pytest.raises(InputError, match="'nope.csv' does not exist"):
        read_measured("nope.csv")
    junk = tmp_path / "notes.txt"
    junk.write_text("hello\n")
    with pytest.raises(InputError, match="neither a CodeCarbon emissions.csv"):
        read_measured(str(junk))
    with pytest.raises(InputError, match="is a directory; give CodeCarbon's emissions.csv"):
        read_measured(str(tmp_path))
    with pytest.raises(InputError, match="header but no run"):
        read_measured(cc())
    with pytest.raises(InputError, match="duration is 0 s"):
        read_measured(cc(cc_row(duration=0.0)))
    with pytest.raises(InputError, match="energy_consumed = 'lots'"):
        read_measured(cc(cc_row(energy="lots")))
    with pytest.raises(InputError, match="not both"):
        read_measured([cc(cc_row()), ct[0]])
    with pytest.raises(InputError, match="run_id chooses a run"):
        read_measured(list(ct), run_id="x")
    with pytest.raises(InputError, match="'4 x Contoso Z9', which is not a flopest device id: give device=ID"):
        calibrate(read_measured(cc(cc_row(model="4 x Contoso Z9"))))


@pytest.mark.parametrize("name, device", [
    ("8 x NVIDIA A100-SXM4-80GB", "a100-sxm4-80gb"), ("NVIDIA H100 80GB HBM3", "h100-sxm"),
    ("1 x Tesla V100-SXM2-16GB", "v100-sxm2"), ("NVIDIA A100 80GB PCIe", "a100-pcie-80gb"),
    ("NVIDIA GeForce RTX 4090", "rtx-4090"), ("Tesla T4", "t4"), ("NVIDIA L40S", "l40s"),
    ("", None), ("Contoso Z9", None)])
def test_device_names_of_the_tools(name, device):
    assert device_of(name) == device


@pytest.mark.parametrize("location, region", [
    ("France (FRA)", "FR"), ("Copenhagen, Capital Region, DK", "DK"), ("Atlantis", None), ("", None)])
def test_locations_of_the_tools(location, region):
    assert region_of(location) == region


# ----------------------------------------------------------------------------- the CLI
def test_cli_calibrate_prints_predicted_against_measured(cli):
    code, out, err = cli(["calibrate", FIXTURE, "--samples", "2000"])
    assert code == 0, err
    assert "predicted (flopest's priors) against measured" in out
    assert "use them: flopest estimate MODEL ... --device a100-sxm4-80gb --power-w 350 --intensity 56" in out
    code, out, err = cli(["calibrate", FIXTURE, "--samples", "2000",
                          "--run-id", "0a1b2c3d-0000-4000-8000-000000000001", "--format", "json"])
    assert code == 0, err
    d = json.loads(out)
    # the first run: 0.4666 kWh over 600 s on 8 GPUs = 350 W all-in; 0.4 kWh = 300 W per board
    assert d["calibrated"]["power_w"] == pytest.approx(350.0)
    assert d["calibrated"]["accelerator_power_w"] == pytest.approx(300.0)
    assert d["estimate_kwargs"] == pytest.approx({"power_w": 350.0, "intensity": 56.0})
    code, out, err = cli(["calibrate", FIXTURE, "--samples", "2000", "--format", "csv"])
    assert code == 0 and out.splitlines()[0].startswith("figure,unit,predicted_p5")


def test_cli_calibrate_errors_name_the_flag(cli, tmp_path):
    code, out, err = cli(["calibrate", FIXTURE, "--run-id", "zzz"])
    assert code == 2 and "--run-id 'zzz' is not in" in err
    f = tmp_path / "cpu.csv"
    f.write_text(HEADER + "\n" + cc_row(gpus=0, model="", gpu=0.0) + "\n")
    code, out, err = cli(["calibrate", str(f)])
    assert code == 2 and "--device=ID" in err
    code, out, err = cli(["calibrate", str(f), "--device", "epyc-9654"])
    assert code == 2 and "--devices=N" in err


def test_calibrate_from_is_public():
    assert flopest.calibrate_from is calibrate_from
