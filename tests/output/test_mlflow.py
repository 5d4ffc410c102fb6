"""flopest.log_mlflow on a local MLflow file store (no server): the estimate's figures are the
run's metrics, its plan and assumptions the params, the estimate (JSON, every source) and its
HTML report the artifacts."""

import json
import math

import pytest

import flopest
from flopest.errors import InputError

mlflow = pytest.importorskip("mlflow")   # the mlflow extra (in dev: CI installs it)


@pytest.fixture
def store(tmp_path, monkeypatch):
    """A file store of its own; MLflow 3 wants MLFLOW_ALLOW_FILE_STORE to write one."""
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    uri = (tmp_path / "mlruns").as_uri()
    mlflow.set_tracking_uri(uri)
    yield mlflow.tracking.MlflowClient(uri), tmp_path
    while mlflow.active_run():
        mlflow.end_run()
    mlflow.set_tracking_uri(None)


@pytest.fixture(scope="module")
def est():
    # every input fixed: 1,000 accelerator-hours × 700 W all-in × PUE 1.2 = 840 kWh; × 50 g = 42 kg;
    # cost 1,000 h × USD 6.88 (AWS us-east-1 list price) = USD 6,880
    return flopest.estimate(accelerator_hours=1000, device="h100-sxm", n_devices=8, region="aws:us-east-1",
                            power_w=700, pue=1.2, intensity=50, samples=500)


def test_metrics_params_and_artifacts(store, est):
    client, tmp = store
    run_id = flopest.log_mlflow(est)
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED"                     # a run of its own, ended after
    m, p = run.data.metrics, run.data.params
    assert m["flopest.energy_kwh.p50"] == pytest.approx(840.0)
    assert m["flopest.co2eq_kg_scope2.p50"] == pytest.approx(42.0)
    assert m["flopest.cost_usd.p50"] == pytest.approx(6880.0)
    # boundaries in SI: accelerators only = 1,000 h × 700 W = 700 kWh = 2.52e9 J; facility 840 kWh = 3.024e9 J
    assert m["flopest.boundary.accelerators.energy_j.p50"] == pytest.approx(2.52e9)
    assert m["flopest.boundary.facility.energy_j.p50"] == pytest.approx(3.024e9)
    assert "flopest.boundary.embodied.energy_j.p50" not in m   # not modelled: never logged as 0
    assert all(math.isfinite(v) for v in m.values())
    assert {k.rsplit(".", 1)[1] for k in m if k.startswith("flopest.time_s.")} == {"p5", "p50", "p95"}
    assert p["flopest.device"] == "h100-sxm" and p["flopest.devices"] == "8" and p["flopest.region"] == "aws:us-east-1"
    assert p["flopest.assumption.PUE"] == "1.2" and p["flopest.precision"] == "bf16"
    # an assumption's name becomes a valid MLflow key: "(" and ")" are not allowed
    assert p["flopest.assumption.price per accelerator-hour _on-demand list"] == "6.88 USD/h"
    assert p["flopest.data_version"] == est.data_version
    arts = {a.path for a in client.list_artifacts(run_id, "flopest")}
    assert arts == {"flopest/estimate.json", "flopest/report.html"}
    local = client.download_artifacts(run_id, "flopest", str(tmp / "dl"))
    d = json.loads(open(f"{local}/estimate.json").read())
    assert d["co2eq_kg"] == pytest.approx(est.to_dict()["co2eq_kg"])
    assert any("https://" in a["source"] for a in d["assumptions"])   # the sources travel with the run
    page = open(f"{local}/report.html").read()
    assert page.startswith("<!DOCTYPE html>") and "<svg" in page


def test_into_the_active_run_or_a_given_one(store, est):
    client, _ = store
    with mlflow.start_run() as run:
        mlflow.log_param("lr", "0.1")
        assert flopest.log_mlflow(est, artifacts=False) == run.info.run_id
    data = client.get_run(run.info.run_id).data
    assert data.params["lr"] == "0.1" and "flopest.co2eq_kg.p50" in data.metrics
    assert client.list_artifacts(run.info.run_id) == []
    other = client.create_run(client.get_run(run.info.run_id).info.experiment_id).info.run_id
    assert flopest.log_mlflow(est.to_dict(), run_id=other, artifacts=False) == other
    assert client.get_run(other).data.metrics["flopest.energy_kwh.p50"] == pytest.approx(840.0)


def test_not_an_estimate_and_no_mlflow(monkeypatch):
    with pytest.raises(TypeError, match="estimate"):
        flopest.log_mlflow({"flops": 1})
    import builtins
    real = builtins.__import__

    def no_mlflow(name, *a, **kw):
        if name.startswith("mlflow"):
            raise ImportError("no mlflow")
        return real(name, *a, **kw)
    e = flopest.estimate(accelerator_hours=10, device="h100-sxm", samples=100)
    with monkeypatch.context() as m:
        m.setattr(builtins, "__import__", no_mlflow)
        with pytest.raises(InputError, match=r'pip install "flopest\[mlflow\]"'):
            flopest.log_mlflow(e)


def test_importing_flopest_does_not_import_mlflow():
    import subprocess
    import sys
    code = "import sys, flopest; print('MLFLOW-IMPORTED:', sorted(m for m in sys.modules if m.startswith('mlflow')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "MLFLOW-IMPORTED: []" in out.stdout, (out.stdout, out.stderr)


def test_a_serving_estimate_is_refused_not_logged_as_a_run():
    """A serving estimate's time_s is the service's length (a year): logged as a training run's
    metrics it would read as one; refused with the way out."""
    s = flopest.serve(requests_per_day=1e6, days=365, servers=10, wh_per_request=0.3, samples=1000)
    with pytest.raises(flopest.InputError, match="serving"):
        flopest.log_mlflow(s)
