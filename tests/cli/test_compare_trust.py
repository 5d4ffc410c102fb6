"""`compare` and user data rows: no figure of one device applied to another, every note in every
format, one row per distinct device × region, and a user's row that says where it comes from."""

from __future__ import annotations

import csv
import io
import json
from importlib import resources

import onnx
from onnx import TensorProto, helper

SMALL = ["--params", "1B", "--tokens", "1B", "--samples", "2000", "-q"]


def test_a_measured_or_priced_figure_is_refused_across_devices(cli):
    for flag in (["--throughput", "3000tokens/s"], ["--step-time", "0.5s"], ["--price-per-hour", "2"],
                 ["--mfu", "0.4"], ["--power-w", "500"]):
        r = cli(["compare", *SMALL, "--device", "a100-sxm4-80gb,h100-sxm", "--region", "FR", *flag])
        assert r.returncode == 2, (flag, r.stderr)
        assert flag[0] in r.stderr and "one device" in r.stderr and "Traceback" not in r.stderr
        if flag[0] != "--step-time":   # (a tokens plan has no optimizer steps to time)
            one = cli(["compare", *SMALL, "--device", "h100-sxm", "--region", "FR,DE", *flag])   # regions: fine
            assert one.returncode == 0, (flag, one.stderr)


def test_the_same_device_or_region_twice_is_one_row(cli):
    r = cli(["compare", *SMALL, "--device", "h100-sxm,H100-SXM", "--region", "FR,fr,France", "--format", "json"])
    assert r.returncode == 0, r.stderr
    assert len(json.loads(r.stdout)["rows"]) == 1


def test_notes_and_uncosted_operators_reach_every_format(cli, tmp_path):
    """x @ W1 -> an operator flopest cannot cost -> @ W2: coverage 2/3, said in table, markdown,
    csv and json, and a note of one row only is labelled with its row."""
    init = [helper.make_tensor("w1", TensorProto.FLOAT, [8, 8], [0.5] * 64),
            helper.make_tensor("w2", TensorProto.FLOAT, [8, 8], [0.5] * 64)]
    g = helper.make_graph([helper.make_node("MatMul", ["x", "w1"], ["a"]),
                           helper.make_node("Fancy", ["a"], ["b"], domain="com.example"),
                           helper.make_node("MatMul", ["b", "w2"], ["y"])], "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 8])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 8])], initializer=init)
    path = tmp_path / "unk.onnx"
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.example", 1)]),
              path)
    base = ["compare", path, "--dim", "batch=8", "--dataset-size", "1M", "--device", "h100-sxm", "--region", "FR,DE",
            "--samples", "2000", "-q"]
    for fmt in ("table", "markdown", "csv", "json"):
        r = cli(base + ["--format", fmt])
        assert r.returncode == 0, r.stderr
        text = " ".join(r.stdout.split())
        assert "not costed" in text and "Fancy" in text, fmt
        assert "h100-sxm @ DE: no water-of-electricity figure for DE" in text, fmt   # a note of one row only
    rows = list(csv.reader(io.StringIO(cli(base + ["--format", "csv"]).stdout)))
    assert any(r[0].startswith("note: operators not costed") for r in rows)


def _device_row(src_id: str, new_id: str, **change) -> str:
    text = (resources.files("flopest.data") / "devices.csv").read_text(encoding="utf-8").splitlines()
    header = next(line for line in text if line and not line.startswith("#"))
    cols = header.split(",")
    row = next(csv.reader([next(line for line in text if line.startswith(src_id + ","))]))
    row[0] = new_id
    for k, v in change.items():
        row[cols.index(k)] = v
    out = io.StringIO()
    csv.writer(out).writerow(row)
    return header + "\n" + out.getvalue()


def test_a_user_row_in_place_of_a_builtin_device_is_said(cli, tmp_path):
    p = tmp_path / "shadow.csv"
    p.write_text(_device_row("h100-pcie", "h100-sxm"), encoding="utf-8")
    r = cli(["estimate", *SMALL, "--devices", p, "--device", "h100-sxm", "--format", "json"])
    assert r.returncode == 0, r.stderr
    notes = " ".join(json.loads(r.stdout)["notes"])
    assert "in place of flopest's own" in notes and "prices.csv" in notes
    mine = tmp_path / "mine.csv"
    mine.write_text(_device_row("h100-pcie", "my-h100"), encoding="utf-8")
    r = cli(["estimate", *SMALL, "--devices", mine, "--device", "my-h100", "--format", "json"])
    assert r.returncode == 0 and "in place of" not in " ".join(json.loads(r.stdout)["notes"])


def test_unit_slips_in_user_rows_are_said(cli, tmp_path):
    dev = tmp_path / "tb.csv"
    dev.write_text(_device_row("h100-sxm", "my-gpu", mem_bandwidth_gbps="3.35"), encoding="utf-8")   # TB/s
    r = cli(["estimate", *SMALL, "--devices", dev, "--device", "my-gpu", "--format", "json"])
    assert r.returncode == 0 and "if it is in TB/s, write 3350" in " ".join(json.loads(r.stdout)["notes"])
    reg = tmp_path / "reg.csv"
    reg.write_text("region,name,kind,intensity_g_per_kwh,year,source,licence,maps_to\n"
                   "fr,France in kg,country,0.045,2025,my utility,mine,\n", encoding="utf-8")   # kg/kWh
    r = cli(["estimate", *SMALL, "--regions", reg, "--region", "FR", "--format", "json"])
    d = json.loads(r.stdout)
    assert "if it is in kg/kWh, write 45" in " ".join(d["notes"])
    src = next(a["source"] for a in d["assumptions"] if "intensity" in a["name"])
    assert src.startswith(str(reg)) and "grid_intensity.csv" not in src


def test_a_measured_throughput_faster_than_the_hardware_is_refused(cli):
    """600k tokens/s per H100 on a 7B model: 6 · 7e9 · 6e5 = 2.52e16 FLOP/s per device, 25× the 989.4
    TFLOP/s dense bf16 peak (a cluster's total typed as per device): refused, not capped at MFU 1."""
    r = cli(["estimate", "--params", "7B", "--tokens", "200B", "--devices", "64", "--throughput",
             "600ktokens/s"])
    assert r.returncode == 2 and "peak" in r.stderr and "per device" in r.stderr
    assert cli(["estimate", "--params", "7B", "--tokens", "200B", "--devices", "64", "--throughput", "3000tokens/s",
                "--samples", "2000", "-q"]).returncode == 0


def test_a_count_suffix_is_not_read_as_a_unit_prefix_in_the_api():
    """co2eq_kg='0.5T' is not 0.5 trillion kg (the CLI refuses 'T'; so does the API), and
    energy_kwh='5M' (5 MWh or 5 million kWh?) is refused; hours and money keep their counts."""
    import pytest

    import flopest
    from flopest.units import parse_quantity
    est = flopest.estimate(params=1e9, tokens=1e9, device="h100-sxm", samples=2000)
    for kw in ({"co2eq_kg": "0.5T"}, {"energy_kwh": "5M"}):
        with pytest.raises(flopest.InputError):
            flopest.check(est, **kw)
    assert parse_quantity("1.2M", "duration", "hours", to="h", bare="h") == 1.2e6
    assert parse_quantity("2k", "money", "cost", to="USD", bare="USD") == 2000
