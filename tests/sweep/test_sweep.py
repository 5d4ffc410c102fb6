"""`flopest sweep` and `flopest.sweep`: the same results on Dask as in one process, a killed sweep
resumed with no point computed twice and none lost, failed points recorded with their error,
an existing scheduler used, the example spec run as documented, and bad specs refused in one
line before any work."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import flopest
from flopest.sweeps import read

ROOT = Path(__file__).resolve().parents[2]
MODELS = Path(__file__).with_name("sweep_test_models.py")
TIMING = ("count_s", "estimate_s")

pytest.importorskip("distributed")
pytest.importorskip("pyarrow")


def spec_file(folder: Path, text: str, name: str = "spec.toml") -> Path:
    """A spec in `folder`, with the test factories beside it (imported from the spec's folder)."""
    shutil.copy(MODELS, folder / MODELS.name)
    p = folder / name
    p.write_text(text, encoding="utf-8")
    return p


def figures(rows) -> list:
    """The rows without their timings, by point id: what must not depend on how they ran."""
    return sorted(({k: v for k, v in r.items() if k not in TIMING} for r in rows), key=lambda r: r["point"])


def log_lines(path: Path) -> list:
    return path.read_text(encoding="utf-8").split() if path.exists() else []


MLP_GRID = """
name = "mlp grid"
samples = 2000
[model]
factory = "sweep_test_models:mlp"
args = {{ log = "{log}", die_once = "{marker}" }}
grid = {{ width = [8, 16, 24, 32, 40], depth = [1, 2] }}
[plan]
dataset-size = "100k"
batch-size = 32
[grid]
device = ["h100-sxm", "a100-sxm4-80gb"]
"""


@pytest.mark.torch
def test_two_workers_give_the_sequential_results(tmp_path):
    """20 points (10 captures × 2 devices) on a 2-worker LocalCluster: exactly the rows of the
    same sweep run in this process; width 24's factory raises, and its 4 points are recorded as
    failed with its message; the worker building (40, 2) dies once, and Dask re-runs its task."""
    log, marker = tmp_path / "calls.log", tmp_path / "died-once"
    spec = spec_file(tmp_path, MLP_GRID.format(log=log, marker=marker))
    marker.touch()   # in this process the factory must not end the test's own process
    seq = flopest.sweep(str(spec), workers=0)
    marker.unlink()
    out = tmp_path / "results.parquet"
    seen = []
    par = flopest.sweep(str(spec), workers=2, output=str(out), progress=lambda d, f, left: seen.append((d, f, left)))
    assert len(seq.rows) == len(par.rows) == 20
    assert figures(par.rows) == figures(seq.rows)
    assert figures(read(out).rows) == figures(seq.rows)          # the file holds the same table
    failed = [r for r in par.rows if r["status"] == "failed"]
    assert sorted((r["width"], r["depth"]) for r in failed) == [(24, 1), (24, 1), (24, 2), (24, 2)]
    assert all("ValueError: width 24 is not supported" in r["error"] and r["co2eq_kg_p50"] is None for r in failed)
    ok = [r for r in par.rows if r["status"] == "ok"]
    assert len(ok) == 16 and all(r["co2eq_kg_p50"] > 0 and r["flops"] > 0 for r in ok)
    assert marker.exists() and log_lines(log).count("40,2") >= 3   # once here, twice on Dask (died, re-run)
    assert seen[-1] == (16, 4, 0) and seen[0] == (0, 0, 20)
    # a wider layer: more FLOPs on the same device and plan
    by = {(r["width"], r["depth"], r["device"]): r for r in ok}
    assert by[(32, 1, "h100-sxm")]["flops"] > by[(16, 1, "h100-sxm")]["flops"]


KILLED = """
samples = 1000
[model]
factory = "sweep_test_models:mlp"
args = {{ log = "{log}", sleep_s = 0.4 }}
grid = {{ width = [8, 16, 32, 40, 48, 56], depth = [1, 2] }}
[plan]
dataset-size = "100k"
"""


def _rows(path: Path) -> list:
    try:
        return read(path).rows
    except Exception:   # not written yet
        return []


@pytest.mark.torch
def test_sigterm_then_resume_loses_nothing_and_repeats_nothing(tmp_path, cli):
    """SIGTERM half-way: the process writes what is done, closes its cluster and exits 143;
    --resume computes the missing points only (the factory's call log shows none of the
    written points again) and the file ends with every point once."""
    import psutil
    log = tmp_path / "calls.log"
    spec = spec_file(tmp_path, KILLED.format(log=log))
    out = tmp_path / "results.parquet"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "flopest", "sweep", str(spec), "--workers", "1", "--output", str(out),
                             "-q"], cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while len(_rows(out)) < 3 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    children = psutil.Process(proc.pid).children(recursive=True)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err
    assert "sweep stopped (SIGTERM)" in err and "--resume" in err, err
    first = {(r["width"], r["depth"]) for r in read(out).rows}
    assert 3 <= len(first) < 12
    gone, alive = psutil.wait_procs(children, timeout=10)
    assert not alive, f"worker processes left running: {alive}"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".flopest-")]   # no temporary file left
    before = len(log_lines(log))
    r = cli(["sweep", spec, "--output", out, "--resume", "--workers", "0", "-q"], cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    again = {tuple(map(int, line.split(","))) for line in log_lines(log)[before:]}
    assert not again & first, f"points written before the kill were computed again: {again & first}"
    rows = read(out).rows
    assert len(rows) == len({x["point"] for x in rows}) == 12 and all(x["status"] == "ok" for x in rows)
    assert first | again == {(x["width"], x["depth"]) for x in rows}
    assert "read back (--resume): " + str(len(first)) in r.stdout


ONNX_SPEC = """
samples = 2000
[model]
onnx = "mlp.onnx"
grid = { batch = [1, 2, 4, 8, 16, 32] }
[plan]
dataset-size = "1M"
[grid]
device = ["h100-sxm", "a100-sxm4-80gb"]
region = ["FR", "US"]
"""


@pytest.fixture
def onnx_spec(tmp_path):
    import onnx
    from tests.conftest import mlp_model
    onnx.save(mlp_model(), str(tmp_path / "mlp.onnx"))
    return spec_file(tmp_path, ONNX_SPEC)


@pytest.fixture
def dask_cluster(tmp_path):
    """`dask scheduler` and one `dask worker` on the loopback address, as a user starts them."""
    dask = shutil.which("dask") or str(Path(sys.executable).with_name("dask"))
    sched_file = tmp_path / "scheduler.json"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [subprocess.Popen([dask, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                               "--scheduler-file", str(sched_file)], cwd=tmp_path, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    deadline = time.monotonic() + 60
    while not sched_file.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(0.2)
    address = json.loads(sched_file.read_text())["address"]
    procs.append(subprocess.Popen([dask, "worker", address, "--nthreads", "1", "--nworkers", "1", "--no-dashboard",
                                   "--host", "127.0.0.1"], cwd=tmp_path, env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    yield address
    for p in procs[::-1]:
        p.terminate()
        try:
            p.wait(timeout=15)
        except subprocess.TimeoutExpired:
            p.kill()


def test_onnx_points_equal_a_fresh_count_of_each(tmp_path):
    """Each point of an ONNX sweep re-binds the model read once; its figures must be those of
    the model counted afresh at the point's dims — the examples per pass included (a stale
    examples per pass, the first point's, made the batch-32 point's FLOPs 32× too high)."""
    import onnx
    from tests.conftest import mlp_model
    onnx.save(mlp_model(batch="N"), str(tmp_path / "mlp.onnx"))
    spec = spec_file(tmp_path, ONNX_SPEC.replace("batch =", "N =").replace(', "a100-sxm4-80gb"', "")
                     .replace('["FR", "US"]', '["FR"]'))
    res = flopest.sweep(str(spec), workers=0)
    assert len(res.rows) == 6 and all(r["status"] == "ok" for r in res.rows)
    for r in res.rows:
        fresh = flopest.estimate(flopest.count(str(tmp_path / "mlp.onnx"), dims={"N": r["N"]}), dataset_size=10**6,
                                 device="h100-sxm", region="FR", samples=2000, optimizer="adam")
        assert r["flops"] == fresh.flops
        assert r["time_s_p50"] == pytest.approx(fresh.time_s["p50"], rel=1e-9)


def test_a_points_notes_are_in_its_row(tmp_path):
    """What an estimate assumed reaches the sweep's table: the step time read off a counted pass of
    1 example and scaled to a training batch of 16 (a point's time can differ several-fold from a
    count at the batch), as `flopest estimate` prints it."""
    import onnx
    from tests.conftest import mlp_model
    onnx.save(mlp_model(), str(tmp_path / "mlp.onnx"))
    spec = spec_file(tmp_path, '[model]\nonnx = "mlp.onnx"\ngrid = { batch = [1] }\n[plan]\ndataset-size = "1k"\n'
                               'batch-size = 16\n')
    res = flopest.sweep(str(spec), workers=0)
    assert "the step time is that of 16 counted pass(es) of 1 example(s)" in res.rows[0]["notes"]
    assert "the batch of 16" in res.rows[0]["notes"]


def test_scheduler_gives_the_same_table(onnx_spec, dask_cluster, tmp_path, cli):
    """--scheduler tcp://127.0.0.1:PORT (a scheduler and a worker started here): the same rows
    and the same report as the sweep in one process. One ONNX model, read once per process and
    re-bound at each batch: 6 dims × 2 devices × 2 regions = 24 points."""
    assert dask_cluster.startswith("tcp://127.0.0.1:")
    a, b = tmp_path / "seq.parquet", tmp_path / "dask.parquet"
    r1 = cli(["sweep", onnx_spec, "--workers", "0", "--output", a, "-q"])
    r2 = cli(["sweep", onnx_spec, "--scheduler", dask_cluster, "--output", b, "-q"])
    assert r1.returncode == 0 and r2.returncode == 0, r1.stderr + r2.stderr
    rows = read(a).rows
    assert len(rows) == 24 and all(r["status"] == "ok" for r in rows)
    assert figures(read(b).rows) == figures(rows)
    # the report, after its title (which names the output file and may wrap on a long path)
    assert r1.stdout.split("Pareto front", 1)[1] == r2.stdout.split("Pareto front", 1)[1]
    # the count re-binds the batch: the same 1M examples' FLOPs at every batch, plus one optimizer
    # step a batch, so fewer FLOPs at a larger batch (1M/b steps); the same on every device
    f = {r["batch"]: r["flops"] for r in rows if r["device"] == "h100-sxm" and r["region"] == "FR"}
    assert f[1] > f[2] > f[32] and len({r["flops"] for r in rows if r["batch"] == 8}) == 1
    # steps at batch 1 and 2: 1M and 500k; the difference is 500k optimizer steps, and batch 4 saves
    # half as many again (250k steps)
    assert (f[1] - f[2]) == pytest.approx(2 * (f[2] - f[4]), rel=1e-12)


def test_env_scheduler_address_is_used(onnx_spec, monkeypatch, tmp_path):
    """DASK_SCHEDULER_ADDRESS is the default scheduler (here one that does not answer: the error
    names the address and says what to check)."""
    monkeypatch.setenv("DASK_SCHEDULER_ADDRESS", "tcp://127.0.0.1:9")
    monkeypatch.setattr("flopest.sweeps.run.CONNECT_TIMEOUT_S", 1)
    with pytest.raises(flopest.InputError, match=r"scheduler 'tcp://127.0.0.1:9': cannot connect"):
        flopest.sweep(str(onnx_spec))


@pytest.mark.torch
def test_example_spec_runs_as_documented(tmp_path):
    """`flopest sweep examples/sweep.toml --workers 2 --output OUT.parquet`, from the checkout:
    two depths × two widths × two devices × two regions = 16 points, all estimated."""
    out = tmp_path / "OUT.parquet"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    r = subprocess.run([sys.executable, "-m", "flopest", "sweep", "examples/sweep.toml", "--workers", "2", "--output",
                        str(out)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    rows = read(out).rows
    assert len(rows) == 16 and all(x["status"] == "ok" for x in rows)
    assert {(x["layers"], x["d_model"]) for x in rows} == {(4, 512), (4, 1024), (8, 512), (8, 1024)}
    assert {(x["device"], x["region"]) for x in rows} == {(d, g) for d in ("h100-sxm", "a100-sxm4-80gb")
                                                          for g in ("FR", "US")}
    assert "Pareto front: CO2eq against time" in r.stdout and "best point per budget" in r.stdout


@pytest.mark.torch
def test_point_timeout_records_a_failed_point_that_resume_tries_again(tmp_path):
    """A factory slower than --point-timeout: its point is recorded as failed with the reason;
    --resume without the limit computes it (a failed point is not a done one)."""
    spec = spec_file(tmp_path, """
[model]
factory = "sweep_test_models:mlp"
args = { sleep_s = 1.5 }
[plan]
dataset-size = 1000
""")
    out = tmp_path / "r.csv"
    res = flopest.sweep(str(spec), workers=0, point_timeout=0.3, output=str(out))
    (row,) = read(out).rows
    assert row["status"] == "failed" and "timed out after 0.3 s while counting the model" in row["error"]
    assert row["count_s"] < 1.2   # stopped at the limit, not after the factory's 1.5 s
    assert res.rows[0]["error"] == row["error"]
    res = flopest.sweep(str(spec), workers=0, output=str(out), resume=True)
    assert res.computed == 1 and [r["status"] for r in read(out).rows] == ["ok"]


@pytest.mark.torch
def test_hf_config_overrides_are_applied_before_the_config_is_built(tmp_path):
    """hf: a config.json varied over num_hidden_layers and hidden_size: each graph has the
    parameters and FLOPs of the same config written with those values (head_dim follows the
    width, which setting the attribute afterwards would leave stale)."""
    base = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 64,
            "intermediate_size": 128, "num_attention_heads": 4, "num_key_value_heads": 4, "num_hidden_layers": 1,
            "vocab_size": 128, "max_position_embeddings": 64}
    (tmp_path / "tiny").mkdir()
    (tmp_path / "tiny" / "config.json").write_text(json.dumps(base))
    spec = spec_file(tmp_path, """
samples = 1000
[model]
hf = "tiny"
args = { seq_len = 16 }
grid = { num_hidden_layers = [1, 2], hidden_size = [64, 128] }
[plan]
dataset-size = 1000
""")
    res = flopest.sweep(str(spec), workers=0)
    assert len(res.ok) == 4, res.rows
    for r in res.rows:
        d = tmp_path / f"direct-{r['num_hidden_layers']}-{r['hidden_size']}"
        d.mkdir()
        (d / "config.json").write_text(json.dumps({**base, "num_hidden_layers": r["num_hidden_layers"],
                                                   "hidden_size": r["hidden_size"]}))
        c = flopest.count(f"hf:{d}", training=True, optimizer="adam", seq_len=16)
        e = flopest.estimate(c, device="h100-sxm", dataset_size=1000, samples=1000)
        assert (r["params"], r["flops"]) == (c.params, float(e.flops))
    bad = spec_file(tmp_path, '[model]\nhf = "tiny"\ngrid = { num_hiden_layers = [1] }\n[plan]\ndataset-size = 1\n',
                    "bad.toml")
    with pytest.raises(flopest.InputError, match="did you mean 'num_hidden_layers'"):
        flopest.sweep(str(bad), workers=0)


# ----------------------------------------------------------------------------- files and resume
def test_csv_results_resume_and_refuse_another_spec(onnx_spec, tmp_path, cli):
    """CSV results: an existing file is never overwritten without --resume; --resume with every
    point written computes nothing; a file from another spec is refused; --report reads it."""
    out = tmp_path / "r.csv"
    assert cli(["sweep", onnx_spec, "--workers", "0", "--output", out, "-q"]).returncode == 0
    first = out.read_text()
    r = cli(["sweep", onnx_spec, "--workers", "0", "--output", out, "-q"])
    assert r.returncode == 2 and "exists" in r.stderr and "--resume" in r.stderr and out.read_text() == first
    r = cli(["sweep", onnx_spec, "--workers", "0", "--output", out, "--resume", "-q"])
    assert r.returncode == 0 and "computed now: 0; read back (--resume): 24" in r.stdout
    assert figures(read(out).rows) == figures(read(out).rows) and len(read(out).rows) == 24
    other = spec_file(tmp_path, ONNX_SPEC.replace('"1M"', '"2M"'), "other.toml")
    r = cli(["sweep", other, "--workers", "0", "--output", out, "--resume", "-q"])
    assert r.returncode == 2 and "not in this spec" in r.stderr and out.read_text() == first
    r = cli(["sweep", "--report", out, "--format", "json"])
    doc = json.loads(r.stdout)
    assert doc["points"] == 24 and doc["fronts"]["time_s"]


def test_report_front_budgets_and_plot(onnx_spec, tmp_path, cli):
    """--report: the front is non-dominated and sorted by time; a budget's best point is within
    it at p95 with the lowest CO2eq; --plot draws the cloud and the front."""
    pytest.importorskip("matplotlib")
    out = tmp_path / "r.parquet"
    assert cli(["sweep", onnx_spec, "--workers", "0", "--output", out, "-q"]).returncode == 0
    res = read(out)
    front = res.front("time_s")
    for a, b in zip(front, front[1:]):
        assert a["time_s_p50"] <= b["time_s_p50"] and a["co2eq_kg_p50"] > b["co2eq_kg_p50"]
    for r in res.ok:   # nothing beats a front point on both axes
        assert not any(r["time_s_p50"] < f["time_s_p50"] and r["co2eq_kg_p50"] < f["co2eq_kg_p50"] for f in front)
    limit = sorted(r["time_s_p95"] for r in res.ok)[len(res.ok) // 2]
    (budget, best), = res.best([f"time={limit}s"])
    within = [r for r in res.ok if r["time_s_p95"] <= budget.limit]
    assert best["co2eq_kg_p50"] == min(r["co2eq_kg_p50"] for r in within)
    # a cost budget (USD): the fastest point whose cost p95 is within it
    priced = [r for r in res.ok if r["cost_usd_p95"] is not None]
    limit = sorted(r["cost_usd_p95"] for r in priced)[len(priced) // 2]
    (budget, best), = res.best([f"cost={limit}"])
    assert best["time_s_p50"] == min(r["time_s_p50"] for r in priced if r["cost_usd_p95"] <= limit)
    png = tmp_path / "front.png"
    r = cli(["sweep", "--report", out, "--plot", png, "--budget", f"time={limit}s", "--format", "markdown"])
    assert r.returncode == 0, r.stderr
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and "| budget" in r.stdout


# ----------------------------------------------------------------------------- bad input
BAD = [
    ("gird = 1\n", "unknown key 'gird' in the spec — did you mean 'grid'?"),
    ('[model]\nonnx = "mlp.onnx"\n[plan]\ndataset-sise = 5\n', "did you mean 'dataset-size'?"),
    ('[model]\nonnx = "mlp.onnx"\n[plan]\ndataset-size = 5\n[grid]\ndevice = ["h100-sxn"]\n',
     "unknown device 'h100-sxn' — did you mean 'h100-sxm'?"),
    ('[model]\nonnx = "mlp.onnx"\n[plan]\ndataset-size = 5\n[grid]\nregion = ["FR", "Franse"]\n', "unknown region 'Franse'"),
    ('[model]\nonnx = "mlp.onnx"\ngrid = { bacth = [1] }\n[plan]\ndataset-size = 5\n', "did you mean 'batch'?"),
    ('[model]\nonnx = "nope.onnx"\n[plan]\ndataset-size = 5\n', "'nope.onnx': no such file"),
    ('[model]\nonnx = "mlp.onnx"\n[plan]\ndataset-size = 5\n[grid]\noptimizer = ["sgd", "adam"]\n',
     "set it once in [plan]"),
    ('[model]\nfactory = "no_such_module_xyz:make"\n[plan]\ndataset-size = 5\n', "no module 'no_such_module_xyz'"),
    ('[model]\nonnx = "mlp.onnx"\n[plan]\nepochs = 2\n', "no dataset-size"),
    ('[model]\nonnx = "mlp.onnx"\n[plan]\ndataset-size = 5\n[grid]\ndevice = "h100-sxm"\n', "must be a non-empty list"),
    ('[model]\nonnx = "mlp.onnx"\n[plan]\ndataset-size = 5\nmfu = 1.5\n', "mfu must be a number in (0, 1]"),
    ('[model]\nonnx = "mlp.onnx"\n[plan]\ndataset-size = 5\n[grid]\ndevice = ["t4"]\nprecision = ["fp8"]\n',
     "device='t4', precision='fp8'"),
    ('[model\n', "is not valid TOML"),
]


@pytest.mark.parametrize("text, needle", BAD, ids=[b[1][:30] for b in BAD])
def test_bad_spec_is_one_line_naming_the_key(onnx_spec, tmp_path, cli, text, needle):
    spec = spec_file(tmp_path, text, "bad.toml")
    out = tmp_path / "out.parquet"
    r = cli(["sweep", spec, "--workers", "0", "--output", out])
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in r.stderr and needle in lines[0], r.stderr
    assert "sweep spec" in lines[0] and not out.exists()


def test_api_and_import_stay_light():
    """`import flopest` imports neither Dask nor pyarrow; sweep() is the API's."""
    code = ("import sys, flopest; assert callable(flopest.sweep); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed', 'pyarrow', 'torch')))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                       env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert r.returncode == 0 and r.stdout.strip() == "[]", r.stdout + r.stderr


def test_one_key_written_two_ways_is_refused(tmp_path):
    """power-w and power_w in one table: the last would win silently (and a grid would write its
    column twice, shifting every value): refused, naming both, before any work."""
    import onnx
    from tests.conftest import mlp_model
    onnx.save(mlp_model(), str(tmp_path / "mlp.onnx"))
    for body in ('[plan]\ndataset-size = "10k"\ndataset_size = "10M"\n',
                 '[plan]\ndataset-size = "1k"\n[grid]\npower-w = [300, 500]\npower_w = [700]\n'):
        spec = spec_file(tmp_path, '[model]\nonnx = "mlp.onnx"\ngrid = { batch = [1] }\n' + body)
        with pytest.raises(flopest.InputError, match="one key written two ways"):
            flopest.sweep(str(spec), workers=0)


def test_rows_carry_the_scenario_notes_and_a_water_budget_skips_partial_water(tmp_path):
    """A row in FR says its water has no water-of-electricity term (as flopest estimate does); a
    water budget does not pick such a point (flopest check does not pass it), and says so."""
    import onnx
    from tests.conftest import mlp_model
    onnx.save(mlp_model(), str(tmp_path / "mlp.onnx"))
    spec = spec_file(tmp_path, 'samples = 1000\n[model]\nonnx = "mlp.onnx"\ngrid = { batch = [1] }\n[plan]\n'
                               'dataset-size = "1k"\n[grid]\nregion = ["FR", "US"]\n')
    res = flopest.sweep(str(spec), workers=0)
    fr = next(r for r in res.rows if r["region"] == "FR")
    us = next(r for r in res.rows if r["region"] == "US")
    assert "no water-of-electricity figure for FR" in fr["notes"]
    (budget, best), = res.best(["water=1000L"])
    assert best is not None and best["region"] == "US"
    text = " ".join(str(b.lines) for b in res.report(["water=1000L"]).blocks if hasattr(b, "lines"))
    assert "not checked" in text and us["water_l_p95"] <= 1000


def test_the_front_keeps_points_that_tie_on_both_axes():
    """Two points with the same time and CO2eq are both on the front (neither dominates the other);
    a slower, higher one is not."""
    from flopest.sweeps.result import SweepResult
    rows = [{"id": i, "a": i, "status": "ok", "time_s_p50": t, "co2eq_kg_p50": c}
            for i, (t, c) in enumerate([(1.0, 5.0), (1.0, 5.0), (2.0, 6.0), (3.0, 4.0)], 1)]
    front = SweepResult(("id", "a", "status", "time_s_p50", "co2eq_kg_p50"), rows).front()
    assert [r["id"] for r in front] == [1, 2, 4]


@pytest.mark.parametrize("body, says", [
    ('[grid]\nregion = ["FR", "fr"]\n', "lists"),                       # one region written two ways
    ('[grid]\ndataset-size = ["10k", 10000]\n', "lists"),                # one count written two ways
    ('[plan]\ntokens = "1M"\n', "both tokens and dataset-size"),
    ('[grid]\nprice-per-hour = [-2.0, 2.5]\n', "must be positive"),
])
def test_spec_mistakes_are_refused_before_any_work(tmp_path, body, says):
    import onnx
    from tests.conftest import mlp_model
    onnx.save(mlp_model(), str(tmp_path / "mlp.onnx"))
    plan = '' if body.startswith('[plan]') else '[plan]\ndataset-size = "1k"\n'
    extra = body.replace('[plan]\n', '[plan]\ndataset-size = "1k"\n') if body.startswith('[plan]') else body
    spec = spec_file(tmp_path, '[model]\nonnx = "mlp.onnx"\ngrid = { batch = [1] }\n' + plan + extra)
    with pytest.raises(flopest.InputError, match=says):
        flopest.sweep(str(spec), workers=0)


def test_a_changed_model_file_makes_new_points(tmp_path):
    """The point ids hash the ONNX file's content: after the model changes, --resume does not take
    the old rows for the new model (it refuses the file), nor mixes the two."""
    import onnx
    from tests.conftest import mlp_model
    onnx.save(mlp_model(), str(tmp_path / "mlp.onnx"))
    spec = spec_file(tmp_path, '[model]\nonnx = "mlp.onnx"\ngrid = { batch = [1, 2] }\n[plan]\ndataset-size = "1k"\n')
    out = tmp_path / "r.csv"
    flopest.sweep(str(spec), workers=0, output=str(out))
    onnx.save(mlp_model(d_in=128), str(tmp_path / "mlp.onnx"))   # the same spec, another model
    with pytest.raises(flopest.InputError):
        flopest.sweep(str(spec), workers=0, output=str(out), resume=True)


@pytest.mark.torch
def test_a_keyword_the_factory_does_not_take_is_named_before_any_work(tmp_path):
    """layrs for layers: every point would fail after its work (and leave a file of failures that
    blocks the corrected run); it is refused first, naming the keyword and the factory's own."""
    import inspect

    import tests.sweep.sweep_test_models as m
    name, fn = next((n, f) for n, f in inspect.getmembers(m, inspect.isfunction)
                    if f.__module__ == m.__name__ and not any(p.kind is p.VAR_KEYWORD
                                                              for p in inspect.signature(f).parameters.values())
                    and inspect.signature(f).parameters)
    first = next(iter(inspect.signature(fn).parameters))
    spec = spec_file(tmp_path, f'[model]\nfactory = "sweep_test_models:{name}"\ngrid = {{ {first}x = [1, 2] }}\n'
                               '[plan]\ndataset-size = "1k"\n')
    out = tmp_path / "r.csv"
    with pytest.raises(flopest.InputError, match=f"takes no keyword '{first}x'"):
        flopest.sweep(str(spec), workers=0, output=str(out))
    assert not out.exists()
