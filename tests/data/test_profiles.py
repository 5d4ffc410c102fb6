"""The embedded reference data (flopest/data) and its loader (flopest/data/__init__.py): every row of
every table is checked, a few figures are spot-checked against their publications (METHOD.md),
and user files, unknown ids and concurrent first loads behave."""

import csv
import dataclasses
import io
import math
import re
import statistics
import threading
from importlib import resources

import pytest

from flopest import data as profiles
from flopest.errors import FlopestError

DATA = resources.files("flopest").joinpath("data")
TABLES = {  # loader -> file
    profiles.devices: "devices.csv", profiles.regions: "grid_intensity.csv",
    profiles.datacenters: "datacenters.csv", profiles.hosts: "hosts.csv",
    profiles.mfu_priors: "mfu_priors.csv", profiles.mfu_evidence: "mfu_evidence.csv",
    profiles.power_priors: "power_priors.csv", profiles.water_factors: "water_electricity.csv",
    (lambda: tuple(profiles.equivalences().values())): "equivalences.csv",
}
# fields that may be 0 (a grid with no fossil generation; a region with no water use)
MAY_BE_ZERO = {"intensity_g_per_kwh", "provider_figure_g_per_kwh", "water_l_per_kwh"}


@pytest.fixture(autouse=True)
def _fresh():
    profiles.reload()
    yield
    profiles.reload()


def raw_rows(file):
    lines = [ln for ln in DATA.joinpath(file).read_text("utf-8").splitlines()
             if ln.strip() and not ln.startswith("#")]
    return list(csv.DictReader(io.StringIO("\n".join(lines))))


# ------------------------------------------------------------------ every row of every table

@pytest.mark.parametrize("loader,file", TABLES.items(), ids=TABLES.values())
def test_every_row_positive_finite_with_source_and_year(loader, file):
    rows = loader()
    assert rows
    for row in rows:
        where = (file, dataclasses.astuple(row)[0])
        assert row.source.strip(), where
        assert isinstance(row.year, int) and 1990 <= row.year <= 2100, where
        for f in dataclasses.fields(row):
            v = getattr(row, f.name)
            if isinstance(v, float) or (isinstance(v, int) and not isinstance(v, bool)):
                assert math.isfinite(v), (*where, f.name, v)
                assert v >= 0 if f.name in MAY_BE_ZERO else v > 0, (*where, f.name, v)
        assert row.origin == f"flopest/data/{file}"
    with pytest.raises(dataclasses.FrozenInstanceError):
        rows[0].source = "x"


@pytest.mark.parametrize("file", sorted(set(TABLES.values())))
def test_ids_unique_in_the_files(file):
    rows = raw_rows(file)
    key = next(iter(rows[0]))                   # the first column is the id
    ids = [r[key] for r in rows]
    assert len(ids) == len(set(ids)), [i for i in ids if ids.count(i) > 1]


def test_validate_all_counts():
    n = profiles.validate_all()
    assert n["devices"] >= 26 and n["regions"] >= 300 and n["hosts"] >= 5
    assert n["datacenters"] >= 6 and n["equivalences"] >= 5


REQUIRED_DEVICES = ["v100-sxm2", "v100-pcie", "a100-sxm4-40gb", "a100-sxm4-80gb", "a100-pcie-40gb",
                    "a100-pcie-80gb", "h100-sxm", "h100-pcie", "h200", "b200", "l4", "l40s", "t4", "a10g",
                    "rtx-3090", "rtx-4090", "mi250x", "mi300x", "tpu-v3", "tpu-v4", "tpu-v5e", "tpu-v5p",
                    "xeon-platinum-8380", "epyc-9654", "m2-max"]


@pytest.mark.parametrize("did", REQUIRED_DEVICES)
def test_required_devices(did):
    d = profiles.device(did)
    assert d.id == did and d.precisions and d.tdp_w > d.idle_w > 0
    assert profiles.mfu_prior(d.mfu_class)               # its class has a prior
    if d.kind != "cpu":
        assert d.memory_gb > 0


def test_device_ranges_and_dense_peaks():
    for d in profiles.devices():
        assert not d.id.startswith(d.vendor + "-")
        assert 1 <= d.mem_bandwidth_gbps <= 20000 and 1 <= d.tdp_w <= 3000
        # dense: nothing on sale reaches 4 PFLOP/s BF16 or 8 PFLOP/s FP8 without sparsity
        assert (d.peak_bf16_tflops or 0) < 4000 and (d.peak_fp8_tflops or 0) < 8000
        if d.peak_fp8_tflops and d.peak_bf16_tflops:
            assert d.peak_fp8_tflops <= 2.05 * d.peak_bf16_tflops
        if "estimate" in d.source.lower() or "estimate" in d.embodied_source.lower():
            assert d.estimated_fields, d.id      # an estimate is flagged by column
        assert ("embodied_kgco2e" in d.estimated_fields) == ("estimate" in d.embodied_source.lower())


def test_other_ranges():
    for dc in profiles.datacenters():
        vals = [v for v in (dc.pue_p5, dc.pue_p50, dc.pue_p95) if v is not None]
        assert all(1 <= v <= 3 for v in vals) and vals == sorted(vals)
    for r in profiles.regions():
        assert 0 <= r.intensity_g_per_kwh <= 1500
    for p in profiles.mfu_priors():
        assert 0 < p.p5 <= p.p50 <= p.p95 < 1
    for e in profiles.mfu_evidence():
        assert 0 < e.mfu < 1 and profiles.device(e.device).mfu_class == e.mfu_class
    for p in profiles.power_priors():
        assert 0 < p.p5 <= p.p50 <= p.p95
        assert p.p95 <= 3 if p.quantity == "fraction_of_tdp" else p.p95 <= 5000
    for h in profiles.hosts():
        assert 1 <= h.lifetime_min_years <= h.lifetime_years <= 15
        assert h.accelerator is None or profiles.device(h.accelerator)


# ------------------------------------------------------------------ published figures

def test_dense_peaks_match_the_datasheets():
    assert profiles.device("h100-sxm").peak_bf16_tflops == 989.4        # 1,979 with sparsity / 2
    assert profiles.device("h100-sxm").peak_flops("bf16") == pytest.approx(989.4e12)
    assert profiles.device("a100-sxm4-80gb").peak_bf16_tflops == 312
    assert profiles.device("v100-sxm2").peak_fp16_tflops == 125         # tensor cores
    assert profiles.device("v100-sxm2").peak_bf16_tflops is None        # Volta has no BF16
    assert profiles.device("tpu-v4").peak_bf16_tflops == 275
    assert profiles.device("b200").peak_bf16_tflops == 2250             # 4.5 PF sparse / 2


def test_france_vs_us_intensity_ratio():
    fr, us = profiles.region("FR").intensity_g_per_kwh, profiles.region("US").intensity_g_per_kwh
    # seed: the same training emits ~7-10x more in the US (57 vs ~430 g/kWh then); here 383.5 / 44.2
    assert 5 <= us / fr <= 10
    assert 400 <= profiles.region("WORLD").intensity_g_per_kwh <= 550


def test_embodied_figures_of_the_method():
    a100 = profiles.device("a100-sxm4-80gb")
    assert a100.embodied_kgco2e == 150 and "BLOOM" in a100.embodied_source      # BLOOM LCA, per GPU
    assert profiles.host("hpe-apollo-6500-bloom").embodied_kgco2e == 2500       # BLOOM LCA, per server
    assert profiles.host("hpc-training-server").embodied_kgco2e == 3700         # seed
    assert profiles.device("h100-sxm").embodied_kgco2e == 164                   # NVIDIA HGX H100 PCF / 8
    assert profiles.host("hpe-apollo-6500-bloom").lifetime_years == 6
    # seed: 3,617 HGX A100 servers x (3,700 + 8 x 150) kg / 72 months = 246 t per month
    hgx = profiles.host("hgx-a100")
    per_server = hgx.embodied_kgco2e + hgx.accelerators_per_server * a100.embodied_kgco2e
    assert 3617 * per_server / 72 == pytest.approx(246_000, rel=0.01)


def test_mfu_priors_follow_from_the_cited_evidence():
    ev = profiles.mfu_evidence()
    for p in profiles.mfu_priors():
        # only end-to-end training runs count: a throughput figure or a benchmark is not a run's MFU
        xs = [e.mfu for e in ev if e.mfu_class == p.mfu_class and e.basis in ("reported", "derived")]
        if p.basis == "evidence":
            # rule (mfu_priors.csv): p5 = 0.9 min, p50 = median, p95 = 1.1 max of the evidence rows
            assert (p.p5, p.p50, p.p95) == pytest.approx(
                (0.9 * min(xs), statistics.median(xs), 1.1 * max(xs)), abs=1e-3)
        else:
            assert p.basis == "estimate" and "estimate" in p.source and not xs
    pub = {e.id: e.mfu for e in ev}
    assert pub["gopher-280b"] == 0.325 and pub["mt-nlg-530b"] == 0.297
    assert pub["llama-3.1-405b-16k-cp"] == 0.38 and pub["llama-3.1-405b-8k"] == 0.43
    assert pub["bloom-176b"] == pytest.approx(3.9e23 / (1.08e6 * 3600 * 312e12), abs=0.005)


def test_power_priors_cite_the_measured_figures():
    assert profiles.power_prior("system-gpu").p5 == pytest.approx(0.9 * 330 / 300, abs=1e-3)  # GPT-3
    assert "283" in profiles.power_prior("system-tpu").source                               # TPU v3
    assert profiles.power_prior("gpu").basis == "estimate"
    assert profiles.power_prior("host-gpu").quantity == "w_per_accelerator"


def test_datacenters_and_water():
    assert profiles.datacenter("industry-average").pue == 1.56                 # Uptime 2024
    assert profiles.datacenter("hyperscaler").pue == pytest.approx(1.10)       # seed
    assert profiles.datacenter("on-premise-hpc").pue == 1.2                    # Jean Zay (BLOOM)
    assert profiles.water_electricity("aws:us-east-1") is profiles.water_electricity("US")  # via US-VA
    with pytest.raises(profiles.UnknownIdError, match="sourced: US"):
        profiles.water_electricity("FR")


def test_equivalences():
    eq = profiles.equivalences()
    for k in ("car_km", "flight_paris_new_york_round_trip", "household_electricity_fr",
              "household_electricity_us", "smartphone_charge"):
        assert eq[k].value > 0 and eq[k].unit and eq[k].source
    # 2 x 5,837 km x 0.150 kg/pkm
    assert eq["flight_paris_new_york_round_trip"].value == pytest.approx(2 * 5837 * 0.150, rel=1e-3)


def test_grid_table():
    regs = profiles.regions()
    countries = [r for r in regs if r.kind == "country"]
    assert len(countries) >= 200 and all(re.fullmatch(r"[A-Z]{2}", r.id) for r in countries)
    assert all("CC BY 4.0" in r.licence for r in countries)
    assert all(r.year >= 2020 for r in countries)
    for provider in ("aws", "gcp", "azure"):
        cloud = [r for r in regs if r.provider == provider]
        assert len(cloud) >= 10, provider
        for r in cloud:   # location-based: the figure of the grid it maps to
            g = profiles.region(r.maps_to)
            assert r.intensity_g_per_kwh == g.intensity_g_per_kwh and r.year == g.year
    assert profiles.region("gcp:europe-west9").provider_figure_g_per_kwh == 34   # Google 2023
    assert profiles.region("aws:us-east-1").maps_to == "US-VA"


def test_data_version_everywhere():
    v = profiles.DATA_VERSION
    assert re.fullmatch(r"\d{4}\.\d{1,2}\.\d+", v)
    assert DATA.joinpath("VERSION").read_text().strip() == v
    assert v in DATA.joinpath("README.md").read_text("utf-8")


def test_readme_documents_every_file_and_column():
    readme = DATA.joinpath("README.md").read_text("utf-8")
    for file in set(TABLES.values()):
        assert file in readme, file
        header = next(csv.reader([next(ln for ln in DATA.joinpath(file).read_text("utf-8").splitlines()
                                       if not ln.startswith("#"))]))
        for col in header:
            assert f"`{col}`" in readme, (file, col)


# ------------------------------------------------------------------ lookups

def test_region_ids_are_case_insensitive():
    assert profiles.region("fr") is profiles.region("FR")
    assert profiles.region("us-va") is profiles.region("US-VA")
    assert profiles.region("world") is profiles.region("WORLD")
    assert profiles.region("AWS:US-EAST-1") is profiles.region("aws:us-east-1")
    assert profiles.device("H100-SXM") is profiles.device("h100-sxm")


def test_unknown_ids_suggest_the_closest():
    with pytest.raises(profiles.UnknownIdError) as e:
        profiles.device("a10O")
    assert str(e.value) == "unknown device 'a10O' — did you mean 'a10g'? (flopest devices lists all)"
    assert isinstance(e.value, KeyError) and isinstance(e.value, FlopestError)
    with pytest.raises(KeyError, match="did you mean 'aws:us-east-2'"):
        profiles.region("aws:us-east-3")
    with pytest.raises(KeyError, match="did you mean 'gcp'"):
        profiles.datacenter("gpc")
    with pytest.raises(KeyError, match="did you mean 'tpu'"):
        profiles.mfu_prior("tpus")
    with pytest.raises(KeyError, match="known: .*system-gpu"):
        profiles.power_prior("nothing-like-it")
    with pytest.raises(ValueError, match="has no published dense bf16 peak .*fp32, fp16"):
        profiles.device("v100-sxm2").peak_flops("bf16")
    with pytest.raises(ValueError, match="did you mean 'bf16'"):
        profiles.device("h100-sxm").peak_flops("bf61")


# ------------------------------------------------------------------ user files

DEV_HEADER = ("id,name,vendor,kind,release_year,peak_fp32_tflops,peak_bf16_tflops,mem_bandwidth_gbps,"
              "memory_gb,tdp_w,idle_w,embodied_kgco2e,embodied_source,mfu_class,source,year\n")
GOOD_DEV = ("my-gpu,My GPU,acme,gpu,2025,50,400,2000,48,300,40,120,estimate: like an L40S,gpu-datacenter-small,"
            "lab measurement,2026\n"
            "h100-sxm,H100 power-capped,nvidia,gpu,2022,66.9,989.4,3350,80,500,75,164,NVIDIA PCF,"
            "gpu-datacenter-large-run,our cluster's 500 W cap,2026\n")


def write(tmp_path, text, name="mine.csv"):
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def test_user_devices_add_and_override(tmp_path):
    path = write(tmp_path, "# my lab's devices\n" + DEV_HEADER + GOOD_DEV)
    rows = profiles.load_user_devices(path)
    assert [r.id for r in rows] == ["my-gpu", "h100-sxm"]
    mine = profiles.device("MY-GPU")
    assert mine.peak_bf16_tflops == 400 and mine.peak_fp8_tflops is None and mine.origin == str(path)
    assert profiles.device("h100-sxm").tdp_w == 500                     # replaced
    assert len(profiles.devices()) == 28                                 # 27 + 1 new
    assert profiles.host("dgx-h100").accelerator == "h100-sxm"           # dependants still load
    profiles.reload()
    assert profiles.device("h100-sxm").tdp_w == 700
    with pytest.raises(KeyError):
        profiles.device("my-gpu")


def test_user_regions(tmp_path):
    path = write(tmp_path, "region,name,kind,intensity_g_per_kwh,year,source,licence,maps_to\n"
                           "fr,France (RTE 2025),country,21.7,2025,RTE eco2mix annual,Etalab 2.0,\n"
                           "ovh:gra,OVH Gravelines,cloud,21.7,2025,mapped to FR,Etalab 2.0,FR\n")
    profiles.load_user_regions(path)
    assert profiles.region("FR").intensity_g_per_kwh == 21.7
    assert profiles.region("OVH:GRA").maps_to == "FR" and profiles.region("ovh:gra").provider == "ovh"
    assert profiles.region("DE").intensity_g_per_kwh > 100               # others untouched


def dev_row(**over):
    vals = dict(zip(DEV_HEADER.strip().split(","), next(csv.reader([GOOD_DEV.splitlines()[0]])), strict=True))
    vals.update(over)
    return ",".join(str(v) for v in vals.values()) + "\n"


@pytest.mark.parametrize("row,column,message", [
    (dev_row(tdp_w="3OO"), "tdp_w", "'3OO' is not a number"),
    (dev_row(tdp_w="nan"), "tdp_w", "not a finite number"),
    (dev_row(tdp_w="-300"), "tdp_w", "out of range: must be >= 1"),
    (dev_row(year=""), "year", "empty, but required"),
    (dev_row(source=""), "source", "empty, but required"),
    (dev_row(kind="npu"), "kind", "'npu' is not one of gpu, tpu, cpu"),
    (dev_row(idle_w=400), "idle_w", "not below tdp_w"),
    (dev_row(mfu_class="gpu-small"), "mfu_class", "did you mean 'gpu-datacenter-small'"),
    (dev_row(id="acme-gpu"), "id", "starts with the vendor"),
    (dev_row(peak_bf16_tflops=5000), "peak_bf16_tflops", "out of range"),
    (dev_row(year="2025.5"), "year", "not a whole number"),
])
def test_user_devices_malformed_name_file_line_column(tmp_path, row, column, message):
    path = write(tmp_path, "# comment\n" + DEV_HEADER + row)
    with pytest.raises(profiles.DataError) as e:
        profiles.load_user_devices(path)
    err = e.value
    assert isinstance(err, ValueError) and isinstance(err, FlopestError)
    assert str(err).startswith(f"{path}: line 3, column {column!r}: ") and message in str(err)
    assert (err.path, err.line, err.column) == (str(path), 3, column)
    with pytest.raises(KeyError):
        profiles.device("my-gpu")                                        # nothing half-loaded


def test_user_files_structure_errors(tmp_path):
    cases = [
        (DEV_HEADER.replace("tdp_w", "tdp") + GOOD_DEV, "line 1: unknown column 'tdp' — did you mean 'tdp_w'?"),
        (DEV_HEADER.replace(",tdp_w", "") + GOOD_DEV, "line 1: missing column 'tdp_w'"),
        (DEV_HEADER + GOOD_DEV.splitlines()[0] + "\n" + GOOD_DEV.splitlines()[0] + "\n",
         "line 3, column 'id': duplicate id 'my-gpu' (first on line 2)"),
        (DEV_HEADER + "my-gpu,short row\n", "line 2: 2 fields, but the header (line 1) has 16"),
        # FP8 more than twice BF16: a with-sparsity figure
        (DEV_HEADER.replace("peak_bf16_tflops", "peak_bf16_tflops,peak_fp8_tflops")
         + GOOD_DEV.splitlines()[0].replace(",400,", ",400,900,", 1) + "\n",
         "column 'peak_fp8_tflops': 900 is more than 2.05x peak_bf16_tflops (400): a with-sparsity"),
        ("", "no header line"),
    ]
    for text, message in cases:
        path = write(tmp_path, text)
        with pytest.raises(profiles.DataError, match=re.escape(message)):
            profiles.load_user_devices(path)
    with pytest.raises(profiles.DataError, match="no such device file"):
        profiles.load_user_devices(tmp_path / "missing.csv")
    bad_region = write(tmp_path, "region,name,kind,intensity_g_per_kwh,year,source,licence,maps_to\n"
                                 "acme:east,ACME east,cloud,100,2025,x,y,FRR\n"
                                 "XX1,nowhere,country,100,2025,x,y,\n")
    with pytest.raises(profiles.DataError, match=r"line 2, column 'maps_to': 'FRR' is not a region — did you mean"):
        profiles.load_user_regions(bad_region)
    bad_region.write_text("region,name,kind,intensity_g_per_kwh,year,source,licence\n"
                          "fr,France,country,1600,2025,x,y\n")
    with pytest.raises(profiles.DataError, match="line 2, column 'intensity_g_per_kwh': 1600 is out of range"):
        profiles.load_user_regions(bad_region)
    assert profiles.region("FR").intensity_g_per_kwh < 100               # unchanged


# ------------------------------------------------------------------ lazy, thread-safe loading

def test_lazy_and_thread_safe_first_load(monkeypatch):
    reads = []
    real = profiles._read_embedded

    def counting(file):
        reads.append(file)
        return real(file)

    monkeypatch.setattr(profiles, "_read_embedded", counting)
    profiles.reload()
    assert reads == []                                                    # nothing read until used
    start = threading.Barrier(8)
    results, errors = [None] * 8, []

    def work(i):
        try:
            start.wait()
            results[i] = (profiles.devices(), profiles.regions(), profiles.device("a100-sxm4-80gb"),
                          profiles.region("fr"), profiles.hosts())
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert all(all(a is b for a, b in zip(r, results[0], strict=True)) for r in results)   # one load, shared
    assert sorted(reads) == sorted(set(reads))                                # each file read once
    assert "datacenters.csv" not in reads                                     # only what was used
