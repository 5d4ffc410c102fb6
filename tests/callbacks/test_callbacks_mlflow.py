"""The training guards' log_to="mlflow": the estimate of the run is logged to MLflow (a local file
store, no server) at train start, also when a budget then stops the run, and alone when no
budget is given."""

import pytest
import torch

import flopest
from flopest.errors import InputError
from tests.callbacks.test_callbacks import _hf_setup, _lightning_module, _loader, _trainer

mlflow = pytest.importorskip("mlflow")   # the mlflow extra (in dev: CI installs it)


@pytest.fixture
def client(tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    uri = (tmp_path / "mlruns").as_uri()
    mlflow.set_tracking_uri(uri)
    yield mlflow.tracking.MlflowClient(uri)
    while mlflow.active_run():
        mlflow.end_run()
    mlflow.set_tracking_uri(None)


def _runs(client):
    exps = client.search_experiments()
    return client.search_runs([e.experiment_id for e in exps])


def test_lightning_logs_the_estimate_and_trains(client, tmp_path):
    from flopest.callbacks import FlopestLightningCallback
    cb = FlopestLightningCallback(log_to="mlflow", device="h100-sxm", region="FR", samples=1000, quiet=True)
    trainer = _trainer(cb, tmp_path, epochs=1)
    trainer.fit(_lightning_module(), _loader(n=40, batch=5))
    assert trainer.global_step == 8 and cb.result is None        # no budget: logged, not checked
    (run,) = _runs(client)
    m = run.data.metrics
    assert m["flopest.co2eq_kg.p50"] == pytest.approx(cb.estimate.co2eq_kg["p50"])
    assert m["flopest.flops"] == pytest.approx(float(cb.estimate.flops))
    assert run.data.params["flopest.region"] == "FR"
    assert {a.path for a in client.list_artifacts(run.info.run_id, "flopest")} == \
        {"flopest/estimate.json", "flopest/report.html"}


def test_hf_logs_before_the_budget_stops_the_run(client, tmp_path):
    from transformers import Trainer
    from flopest.callbacks import FlopestTrainerCallback
    model, data, args = _hf_setup(tmp_path)
    cb = FlopestTrainerCallback(budgets=["co2eq=1e-15kg"], log_to="mlflow", device="a100-sxm4-80gb", region="FR",
                                samples=1000, quiet=True)
    trainer = Trainer(model=model, args=args, train_dataset=data, callbacks=[cb])
    with pytest.raises(flopest.BudgetExceeded):
        trainer.train()
    assert trainer.state.global_step == 0
    (run,) = _runs(client)
    assert run.data.metrics["flopest.energy_kwh.p95"] == pytest.approx(cb.estimate.energy_kwh["p95"])
    assert torch.is_tensor(data[0]["input_ids"])


def test_log_to_is_checked_at_construction():
    from flopest.callbacks import FlopestLightningCallback
    with pytest.raises(InputError, match="log_to='wandb'"):
        FlopestLightningCallback(co2eq_kg=1, log_to="wandb")
    with pytest.raises(InputError, match="log_to='mlflow'"):   # neither a budget nor a log: says both ways
        FlopestLightningCallback(device="h100-sxm")
