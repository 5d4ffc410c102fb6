"""`flopest probe` and `flopest.probe.measure`: a quick probe of this machine's CPU gives
plausible figures (sanity ranges only: no timed assertion), its row loads as a user device and
drives an estimate end to end, the NumPy path works without torch, and bad input is one line,
exit 2, before anything is measured."""

import csv
import io
import json
import os
import re
import subprocess
import sys

import pytest

from flopest import data as profiles
from flopest import probe
from flopest.errors import DataError, InputError

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="module")
def measured():
    """One quick probe of the CPU for the module (a few seconds): (row, progress calls)."""
    calls = []
    row = probe.measure("cpu", quick=True, progress=lambda done, total, what: calls.append((done, total, what)))
    return row, calls


@pytest.fixture
def fresh_data():
    profiles.reload()
    yield
    profiles.reload()


def check_plausible(row, precisions):
    """The sanity ranges of a CPU of this kind of machine (2 cores up to a large server)."""
    assert list(row) == list(probe.COLUMNS)
    assert row["kind"] == "cpu" and row["basis"] == "measured" and row["mfu_class"] == "cpu"
    curves = dict(row["gemm_curve"])
    assert sorted(curves) == sorted(precisions), curves
    for prec, pts in curves.items():
        sizes = [n for n, _ in pts]
        assert sizes == sorted(set(sizes)) and sizes[0] == probe.CPU_SIZES[0], (prec, sizes)
        assert all(0 < t * 1e12 < 1e14 for _, t in pts), (prec, pts)
        # the peak is the best of the two largest sizes measured
        assert row[f"peak_{prec}_tflops"] == max(t for _, t in pts[-2:])
    fp32 = row["peak_fp32_tflops"] * 1e12                       # FLOP/s
    assert 1e8 <= fp32 <= 1e14, f"fp32 GEMM {fp32:.3g} FLOP/s"
    assert max(t for _, t in curves["fp32"]) * 1e12 >= 1e8
    bw = row["mem_bandwidth_gbps"] * 1e9                        # B/s
    assert 1e8 <= bw <= 1e12, f"memory bandwidth {bw:.3g} B/s"
    assert 0.1 <= row["launch_us"] <= 10_000, f"launch {row['launch_us']} us"
    assert row["peak_fp8_tflops"] is None and row["peak_int8_tops"] is None and row["peak_tf32_tflops"] is None
    # what cannot be measured is an estimate, and says so
    assert {"release_year", "idle_w", "embodied_kgco2e"} <= set(row["estimated_fields"])
    assert row["embodied_source"].startswith("estimate")
    assert 0 < row["idle_w"] < row["tdp_w"] and row["embodied_kgco2e"] >= 1
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC", row["source"]), row["source"]
    assert row["year"] == row["release_year"] == int(re.search(r"(\d{4})-", row["source"]).group(1))


def test_quick_probe_of_the_cpu_is_plausible(measured):
    row, calls = measured
    have_torch = "torch " in row["source"]
    check_plausible(row, ("fp32", "bf16", "fp16") if have_torch else ("fp32",))
    assert row["id"] == "probe-cpu" and row["vendor"] and row["name"]
    assert ("numpy" in row["source"]) and (have_torch or "numpy" in row["source"].split("Software:")[1][:10])
    if row["memory_gb"] is not None:                             # the host's memory, within reason
        assert 0.5 <= row["memory_gb"] <= 65536
    # progress: every step reported once, in order, up to the announced total
    dones = [d for d, _, _ in calls]
    total = calls[0][1]
    assert dones == list(range(1, total + 1)) and {t for _, t, _ in calls} == {total}
    assert any("GEMM fp32 n=128" == w for _, _, w in calls) and any("bandwidth" in w for _, _, w in calls)


def test_the_row_loads_as_a_user_device(measured, tmp_path, fresh_data):
    row, _ = measured
    path = tmp_path / "dev.csv"
    path.write_text(probe.to_csv({**row, "id": "mycpu"}), encoding="utf-8")
    rows = list(csv.reader(line for line in path.read_text().splitlines() if not line.startswith("#")))
    assert tuple(rows[0]) == probe.COLUMNS and len(rows) == 2
    (dev,) = profiles.load_user_devices(path)
    assert dev is profiles.device("mycpu") and dev.origin == str(path)
    assert dev.basis == "measured" and dev.launch_us == row["launch_us"]
    assert dev.peak_fp32_tflops == row["peak_fp32_tflops"] and dev.mem_bandwidth_gbps == row["mem_bandwidth_gbps"]
    assert dev.gemm_curve == row["gemm_curve"]
    assert dev.gemm_tflops("fp32") == dict(row["gemm_curve"])["fp32"]
    assert dev.gemm_tflops("fp8") == ()
    assert set(dev.estimated_fields) == set(row["estimated_fields"])


def test_the_embedded_devices_have_no_measured_columns(fresh_data):
    h100 = profiles.device("h100-sxm")
    assert h100.basis is None and h100.launch_us is None and h100.gemm_curve == () and h100.gemm_tflops("bf16") == ()


def test_gemm_curve_cells_are_validated(tmp_path, fresh_data):
    assert profiles.parse_gemm_curve("fp32:128=0.05,256=0.4;bf16:128=0.1") == \
        (("fp32", ((128, 0.05), (256, 0.4))), ("bf16", ((128, 0.1),)))
    curve = (("fp32", ((128, 0.05123456), (4096, 1.5))),)
    assert profiles.parse_gemm_curve(profiles.format_gemm_curve(curve)) == (("fp32", ((128, 0.05123), (4096, 1.5))),)
    for bad, says in (("fp33:128=1", "does not start with a precision"), ("fp32:128=1;fp32:256=2", "twice"),
                      ("fp32:256=1,128=2", "sizes must ascend"), ("fp32:128=-1", "SIZE=TFLOPS"),
                      ("fp32:128", "SIZE=TFLOPS"), ("fp32:x=1", "SIZE=TFLOPS"), ("fp32:128=nan", "SIZE=TFLOPS")):
        with pytest.raises(ValueError, match=says):
            profiles.parse_gemm_curve(bad)
    header = ",".join(probe.COLUMNS)
    good = ("mycpu,My CPU,acme,cpu,2026,0.2,,,,,,20,16,6,1,1.5,estimate: rule,cpu,,lab,2026,measured,2.5,3.5,"
            '"fp32:128=0.1;bf16:128=0.2"')
    path = tmp_path / "dev.csv"
    path.write_text(header + "\n" + good.replace("fp32:128=0.1;", "fp32:128=0.1,64=1;") + "\n")
    with pytest.raises(DataError) as e:
        profiles.load_user_devices(path)
    assert (e.value.line, e.value.column) == (2, "gemm_curve") and "sizes must ascend" in str(e.value)
    path.write_text(header + "\n" + good.replace(",measured,", ",guessed,") + "\n")
    with pytest.raises(DataError, match="column 'basis'"):
        profiles.load_user_devices(path)
    path.write_text(header + "\n" + good.replace(",2.5,", ",0,") + "\n")
    with pytest.raises(DataError, match="column 'launch_us'.*must be > 0"):
        profiles.load_user_devices(path)
    path.write_text(header + "\n" + good.replace(",3.5,", ",-1,") + "\n")
    with pytest.raises(DataError, match="column 'fault_gbps'.*must be > 0"):
        profiles.load_user_devices(path)
    path.write_text(header + "\n" + good + "\n")
    (dev,) = profiles.load_user_devices(path)
    assert dev.gemm_tflops("BF16") == ((128, 0.2),) and dev.launch_us == 2.5 and dev.fault_gbps == 3.5
    path.write_text(header + "\n" + good.replace(",3.5,", ",,") + "\n")     # optional: not measured
    (dev,) = profiles.load_user_devices(path)
    assert dev.fault_gbps is None


def _hide_torch(monkeypatch):
    """As if the torch extra were not installed: `import torch` fails, the front end too."""
    for name in list(sys.modules):
        if name == "torch" or name.startswith(("torch.", "flopest.frontends.torch")):
            monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "torch", None)


def test_numpy_path_when_torch_is_not_installed(monkeypatch):
    _hide_torch(monkeypatch)
    assert probe.identify("auto")["backend"] == "numpy"
    row = probe.measure("auto", quick=True)
    check_plausible(row, ("fp32",))
    assert "Software: numpy" in row["source"] and "torch" not in row["source"]
    for device in ("cuda", "mps", "cuda:1"):
        with pytest.raises(InputError, match="needs torch, which is not installed"):
            probe.measure(device, quick=True)


def test_importing_the_probe_does_not_import_torch():
    code = "import sys, flopest.probe, flopest.cli.probe; sys.exit('torch' in sys.modules)"
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
                       env={**os.environ, "PYTHONPATH": ROOT})
    assert r.returncode == 0, r.stderr


def test_unknown_device_is_refused():
    with pytest.raises(InputError, match="'tpu' is not one of auto, cpu, cuda, mps, cuda:N"):
        probe.measure("tpu")


# ----------------------------------------------------------------------------- the command

@pytest.mark.torch
def test_probe_then_estimate_end_to_end(cli, tmp_path, fresh_data):
    """`flopest probe --quick --output dev.csv --id mycpu`, then an estimate on that device."""
    code, out, err = cli(["probe", "--quick", "--output", "dev.csv", "--id", "mycpu"], cwd=tmp_path)
    assert code == 0, err
    assert out == "" and "wrote dev.csv: use it with --devices dev.csv --device mycpu" in err
    assert sorted(os.listdir(tmp_path)) == ["dev.csv"]                # no temporary file left
    text = (tmp_path / "dev.csv").read_text()
    assert text.startswith("# measured by `flopest probe`") and "\nmycpu," in text
    code, out, err = cli(["estimate", "zoo:resnet50", "--dataset-size", "10k", "--epochs", "1",
                          "--devices", "dev.csv", "--device", "mycpu", "--format", "json"], cwd=tmp_path)
    assert code == 0, err
    doc = json.loads(out)
    used = {a["name"]: a for a in doc["assumptions"]}
    assert used["device"]["value"] == "mycpu" and "dev.csv" in used["device"]["source"]
    assert doc["time_s"]["p50"] > 0


@pytest.fixture
def canned(measured, monkeypatch):
    """The CLI with measure() replaced by the module's quick probe (format tests, no timing)."""
    row, _ = measured
    seen = []

    def fake(device="auto", quick=False, progress=None):
        seen.append((device, quick))
        if progress is not None:
            progress(1, 1, "done")
        return dict(row)
    monkeypatch.setattr(probe, "measure", fake)
    monkeypatch.setattr(probe, "busy", lambda: None)     # stderr holds the error line alone
    return row, seen


def test_formats(cli, canned, tmp_path, fresh_data):
    row, seen = canned
    code, out, err = cli(["probe", "--format", "json", "--id", "lab-box"])
    assert code == 0, err
    doc = json.loads(out)
    assert doc["id"] == "lab-box" and doc["peak_fp32_tflops"] == row["peak_fp32_tflops"]
    assert doc["gemm_curve"]["fp32"][0] == list(dict(row["gemm_curve"])["fp32"][0])
    assert seen == [("auto", False)]
    code, out, err = cli(["probe", "--quick", "--format", "csv"])
    assert code == 0 and seen[-1] == ("auto", True)
    (tmp_path / "d.csv").write_text(out)
    assert profiles.load_user_devices(tmp_path / "d.csv")[0].id == "probe-cpu"
    code, out, err = cli(["probe"])                                   # table by default
    assert code == 0, err
    assert "GEMM fp32 (peak achieved)" in out and "memory bandwidth" in out and "(estimate)" in out
    assert f"{row['peak_fp32_tflops']:g} TFLOP/s" in out and "--device probe-cpu" in out
    code, out, err = cli(["probe", "--output", "p.json", "--format", "json"], cwd=tmp_path)
    assert code == 0 and json.loads((tmp_path / "p.json").read_text())["basis"] == "measured"
    # the extension picks the format: .json is JSON (and --devices is not offered it), .csv the row
    code, out, err = cli(["probe", "--output", "q.json"], cwd=tmp_path)
    assert code == 0 and json.loads((tmp_path / "q.json").read_text())["basis"] == "measured"
    assert "use it with --devices" not in err and "NAME.csv" in err
    code, out, err = cli(["probe", "--output", "r.csv"], cwd=tmp_path)
    assert code == 0 and "use it with --devices r.csv" in err


@pytest.mark.parametrize("argv, says", [
    (["--id", "My_CPU"], "--id 'My_CPU' is not a device id"),
    (["--id", "probe cpu"], "is not a device id"),
    (["--device", "tpu"], "--device 'tpu' is not one of auto, cpu, cuda, mps, cuda:N"),
    (["--output", "no/such/folder/dev.csv"], "does not exist"),
    (["--output", "."], "is a folder"),
    (["--output", "dev.md"], "writes a device row as CSV"),
])
def test_bad_input_is_one_line_exit_2_before_measuring(cli, canned, tmp_path, argv, says):
    _, seen = canned
    code, out, err = cli(["probe", *argv], cwd=tmp_path)
    assert code == 2 and out == "" and says in err and err.count("\n") == 1, err
    assert seen == []                                                 # nothing was measured


def test_vendor_prefixed_id_is_refused(cli, canned):
    _, seen = canned
    vendor = probe.identify("cpu")["vendor"]
    code, _out, err = cli(["probe", "--device", "cpu", "--id", f"{vendor}-box"])
    assert code == 2 and "starts with the vendor" in err and seen == []


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_pipe_is_not_clobbered(cli, canned, tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    code, _out, err = cli(["probe", "--output", str(fifo)])
    assert code == 2 and "pipe" in err and err.count("\n") == 1
    assert canned[1] == []


def test_a_failed_probe_leaves_the_old_file(cli, monkeypatch, tmp_path):
    old = tmp_path / "dev.csv"
    old.write_text("previous\n")

    def fail(device="auto", quick=False, progress=None):
        raise InputError("device 'cpu': no fp32 GEMM could be timed (out of memory?)")
    monkeypatch.setattr(probe, "measure", fail)
    monkeypatch.setattr(probe, "busy", lambda: None)
    code, _out, err = cli(["probe", "--output", str(old)])
    assert code == 2 and "no fp32 GEMM" in err and err.count("\n") == 1
    assert old.read_text() == "previous\n" and sorted(os.listdir(tmp_path)) == ["dev.csv"]


def test_no_gpu_is_one_line(cli, monkeypatch):
    try:
        probe.identify("cuda")
    except InputError:
        pass
    else:
        pytest.skip("this machine has a CUDA GPU")
    code, _out, err = cli(["probe", "--device", "cuda"])
    assert code == 2 and err.count("\n") == 1 and "--device 'cuda'" in err
    assert ("sees no CUDA or ROCm GPU" in err) or ("needs torch" in err)


def test_progress_bar_on_a_terminal(monkeypatch, canned, capsys):
    """With a terminal on stderr the progress reaches a rich bar there; stdout has the report only."""
    from flopest.cli import main

    class TTY(io.StringIO):
        def isatty(self):
            return True
    fake_err = TTY()
    monkeypatch.setattr(sys, "stderr", fake_err)
    assert main(["probe", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["basis"] == "measured"
    assert "probing cpu" in fake_err.getvalue() or "probing cuda" in fake_err.getvalue()
