"""`flopest estimate`, `flopest devices`, `flopest regions`."""

import json

import pytest



def test_gpt3_a_posteriori_json(cli):
    # the exact command line (no --precision: V100 has no bf16, its fp16 is taken)
    code, out, err = cli(["estimate", "--accelerator-hours", "3.552M", "--device", "v100-sxm2", "--power-w", "330",
                          "--pue", "1.1", "--intensity", "429", "--format", "json"])
    assert code == 0, err
    d = json.loads(out)
    # 3.552e6 h × 0.33 kW × 1.1 = 1,289,376 kWh; × 0.429 = 553,142 kg (METHOD: 1,287 MWh, 552 t ± 2 %)
    assert abs(d["energy_kwh"]["p50"] - 1_287_000) <= 0.02 * 1_287_000
    assert abs(d["co2eq_kg_by_scope"]["scope2"]["p50"] - 552_000) <= 0.02 * 552_000
    assert d["energy_kwh"]["p5"] == d["energy_kwh"]["p95"]       # all fixed: the range collapses
    assert set(d) >= {"flops", "accelerator_hours", "time_s", "energy_kwh", "co2eq_kg", "water_l",
                      "co2eq_kg_by_scope", "assumptions", "data_version", "version"}
    assert all({"name", "value", "unit", "source"} <= set(a) for a in d["assumptions"])


def test_6nd_path_ranges(cli):
    code, out, err = cli(["estimate", "--params", "7B", "--tokens", "2T", "--device", "h100-sxm", "--devices", "256",
                          "--region", "FR", "--format", "json", "--samples", "20000"])
    assert code == 0, err
    d = json.loads(out)
    assert d["flops"] == 6 * 7 * 10**9 * 2 * 10**12
    for k in ("time_s", "energy_kwh", "co2eq_kg"):
        assert d[k]["p5"] < d[k]["p50"] < d[k]["p95"], k


def test_france_vs_us_same_plan(cli):
    res = {}
    for region in ("FR", "US"):
        code, out, err = cli(["estimate", "--params", "1B", "--tokens", "20B", "--device", "a100-sxm4-80gb",
                              "--region", region, "--format", "json", "--samples", "5000"])
        assert code == 0, err
        res[region] = json.loads(out)["co2eq_kg_by_scope"]["scope2"]["p50"]
    assert 4 < res["US"] / res["FR"] < 12     # the seed: 7-10x more in the US


@pytest.mark.torch
def test_model_path_with_factory(cli):
    code, out, err = cli(["estimate", "tests.cli.factories:mlp", "--input", "8x16", "--dataset-size", "80000",
                          "--epochs", "2", "--device", "t4", "--precision", "fp16", "--format", "json",
                          "--samples", "2000"])
    assert code == 0, err
    d = json.loads(out)
    # per batch of 8: forward 10,784 + backward (grad W 2*32*16*8 + bias 256 + grad x 2*8*32*4 + grad W2 2*4*32*8
    # + bias 32 + relu backward 256) = 10784 + 8192 + 256 + 2048 + 2048 + 32 + 256 = 23,616;
    # adam 14 × 676 params per step; 10,000 steps/epoch × 2 epochs
    per_batch = 10784 + 8192 + 256 + 2048 + 2048 + 32 + 256
    assert d["flops"] == (per_batch * 80000 * 2) // 8 + 14 * 676 * 10000 * 2


@pytest.mark.parametrize("argv,needle", [
    (["estimate", "--params", "7B", "--tokens", "2T", "--device", "a10O"], "did you mean 'a10g'"),
    (["estimate", "--params", "7B", "--tokens", "2T", "--region", "FRA"], "region"),
    (["estimate", "--params", "7B", "--tokens", "2T", "--pue", "0.9"], "--pue"),
    (["estimate", "--params", "7B", "--tokens", "nan"], "--tokens"),
    (["estimate", "--params", "-7B", "--tokens", "2T"], "--params"),
    (["estimate", "tests.cli.factories:mlp", "--input", "8x16", "--dataset-size", "-5"], "--dataset-size"),
    (["estimate", "tests.cli.factories:mlp", "--input", "8x16"], "--dataset-size"),
    (["estimate", "--params", "7B"], "--tokens"),
    (["estimate"], "give a MODEL"),
    (["estimate", "--params", "7B", "--tokens", "2T", "--mfu", "1.5"], "--mfu"),
    (["estimate", "--params", "7B", "--tokens", "2T", "--device", "tpu-v3", "--precision", "fp8"], "precision"),
    (["estimate", "--params", "7B", "--tokens", "2T", "--search", "random"], "number of trials"),
    (["estimate", "--params", "7B", "--tokens", "2T", "--devices", "0"], "--devices"),
    (["devices", "--search", "zzzz"], "no devices match"),
])
def test_bad_estimate_inputs(argv, needle, cli):
    code, out, err = cli(argv)
    assert code == 2, (argv, err)
    assert needle in err, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_devices_and_regions_listings(cli):
    code, out, err = cli(["devices", "--search", "h100", "--format", "json"])
    assert code == 0, err
    rows = json.loads(out)
    assert {r["id"] for r in rows} >= {"h100-sxm", "h100-pcie"}
    assert all(r["source"] and r["year"] for r in rows)
    code, out, err = cli(["regions", "--search", "france", "--format", "csv"])
    assert code == 0 and "FR" in out


def test_user_device_file(tmp_path, cli):
    from flopest import data as profiles
    header = ("id,name,vendor,kind,release_year,peak_fp32_tflops,peak_tf32_tflops,peak_bf16_tflops,"
              "peak_fp16_tflops,peak_fp8_tflops,peak_int8_tops,mem_bandwidth_gbps,memory_gb,tdp_w,idle_w,"
              "embodied_kgco2e,embodied_source,mfu_class,estimated_fields,source,year\n")
    good = tmp_path / "mine.csv"
    good.write_text(header + "x1,ACME X1,acme,gpu,2026,50,100,200,200,,,2000,64,500,75,150,my LCA,"
                    "gpu-datacenter-large-run,,ACME X1 datasheet,2026\n")
    try:
        code, out, err = cli(["estimate", "--params", "1B", "--tokens", "20B", "--devices", str(good), "--devices",
                              "8", "--device", "x1", "--mfu", "0.5", "--format", "json", "--samples", "100",
                                  "--no-goodput"])
        assert code == 0, err
        d = json.loads(out)
        # 6·1e9·2e10 = 1.2e20 FLOPs / (8 × 200e12 × 0.5) = 150,000 s; × 8 / 3600 = 333.3 accelerator-hours
        assert abs(d["accelerator_hours"]["p50"] - 1.2e20 / (200e12 * 0.5) / 3600) < 1e-6
        assert "mine.csv" in d["assumptions"][0]["source"]
        bad = tmp_path / "bad.csv"
        bad.write_text(header + "x2,ACME X2,acme,gpu,2026,50,100,-200,200,,,2000,64,500,75,150,my LCA,"
                       "gpu-datacenter-large-run,,ACME,2026\n")
        code, out, err = cli(["estimate", "--params", "1B", "--tokens", "20B", "--devices", str(bad)])
        assert code == 2 and "bad.csv" in err and "peak_bf16_tflops" in err, err
    finally:
        profiles.reload()
