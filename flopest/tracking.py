"""Estimates where experiments are tracked: MLflow.

    import mlflow, flopest
    est = flopest.estimate(params=7e9, tokens=2e12, device="h100-sxm", n_devices=256, region="FR")
    with mlflow.start_run():
        flopest.log_mlflow(est)

logs, into the active run (else into a new run, ended after; or into `run_id`):

- metrics: every figure at p5, p50 and p95 (``flopest.co2eq_kg.p50``, ``flopest.energy_kwh.p95``,
  ``flopest.co2eq_kg_scope2.p50``, ``flopest.cost_usd.p50``, the boundaries
  ``flopest.boundary.accelerators.energy_j.p50`` ...) and ``flopest.flops``; units in the names;
- params: the plan (``flopest.device``, ``flopest.devices``, ``flopest.region``, ...) and each
  assumption's value (``flopest.assumption.PUE``, ...);
- artifacts: ``flopest/estimate.json`` (the whole estimate, every source included) and
  ``flopest/report.html`` (the HTML report, its chart inline when matplotlib is installed).

mlflow is the ``mlflow`` extra (``pip install "flopest[mlflow]"``, mlflow or mlflow-skinny),
imported when called, never by ``import flopest``. MLflow params cannot change once logged:
log one estimate per run.
"""

from __future__ import annotations

import math
import re
import time

from .errors import InputError

PREFIX = "flopest."
QUANTILES = ("p5", "p50", "p95")
FIGURES = ("time_s", "accelerator_hours", "energy_kwh", "co2eq_kg", "water_l", "cost_usd")
PLAN_KEYS = ("model", "device", "devices", "region", "datacenter", "precision")
MAX_PARAM = 500          # the shortest limit of MLflow servers on a param's value
_KEY = re.compile(r"[^\w./ :-]+")


def _key(name: str) -> str:
    """An MLflow key: letters, digits, _ - . / space and : only (others become _)."""
    return _KEY.sub("_", str(name)).strip("_ ")[:200]


def _value(v) -> str:
    if isinstance(v, dict):
        return f"{v['p50']:.6g} (p5 {v['p5']:.6g}, p95 {v['p95']:.6g})"
    return str(v)[:MAX_PARAM]


def metrics(d: dict) -> dict:
    """{metric name: value} of an estimate's dict (Estimate.to_dict()): each figure at p5, p50
    and p95, CO₂eq by scope, energy and CO₂eq by boundary, and the FLOPs."""
    out = {f"{PREFIX}flops": float(d["flops"])}
    for k in FIGURES:
        if d.get(k):
            out.update({f"{PREFIX}{k}.{q}": d[k][q] for q in QUANTILES})
    for scope, v in (d.get("co2eq_kg_by_scope") or {}).items():
        out.update({f"{PREFIX}co2eq_kg_{scope}.{q}": v[q] for q in QUANTILES})
    for b, v in (d.get("by_boundary") or {}).items():
        for m in ("energy_j", "co2eq_kg"):
            if v.get(m):
                out.update({f"{PREFIX}boundary.{b}.{m}.{q}": v[m][q] for q in QUANTILES})
    return {k: float(v) for k, v in out.items() if v is not None and math.isfinite(float(v))}


def params(d: dict) -> dict:
    """{param name: text}: the plan and each assumption's value (sources go in the artifact)."""
    plan = d.get("plan") or {}
    out = {f"{PREFIX}{k}": _value(plan[k]) for k in PLAN_KEYS if plan.get(k) is not None}
    out[f"{PREFIX}version"] = d["version"]
    out[f"{PREFIX}data_version"] = d["data_version"]
    for a in d.get("assumptions", []):
        unit = f" {a['unit']}" if a.get("unit") else ""
        out[_key(f"{PREFIX}assumption.{a['name']}")] = (_value(a["value"]) + unit)[:MAX_PARAM]
    return out


def _mlflow():
    try:
        import mlflow
        from mlflow.entities import Metric, Param
        from mlflow.tracking import MlflowClient
    except ImportError:
        raise InputError('log_mlflow needs mlflow, which is not installed: pip install "flopest[mlflow]"') from None
    return mlflow, MlflowClient, Metric, Param


def log_mlflow(estimate, *, run_id: str | None = None, artifacts: bool = True, run_name: str = "flopest estimate") -> str:
    """Log an Estimate (or its to_dict()) to MLflow: figures as metrics, plan and assumptions as
    params, the estimate (JSON) and its HTML report as artifacts. Into `run_id`, else the active
    run, else a new run named `run_name` (ended after). Returns the run's id."""
    from .validate import flag
    artifacts = flag("artifacts", artifacts)
    d = estimate.to_dict() if hasattr(estimate, "to_dict") else estimate
    if isinstance(d, dict) and d.get("kind") == "serving":
        # its metrics are a service's (latency, per month), not a training run's: logging them as
        # one would put the service's length under time_s
        raise InputError("log_mlflow() logs a training estimate (flopest.estimate(...)); a serving estimate is "
                         "not supported: log its to_dict() figures with mlflow.log_metrics")
    if not isinstance(d, dict) or "co2eq_kg" not in d or "assumptions" not in d:
        raise TypeError(f"log_mlflow() takes an estimate (flopest.estimate(...)), not {type(estimate).__name__}")
    mlflow, MlflowClient, _, _ = _mlflow()
    if run_id is None:
        active = mlflow.active_run()
        if active is None:
            with mlflow.start_run(run_name=run_name) as run:
                _log(MlflowClient(), run.info.run_id, d, artifacts)
            return run.info.run_id
        run_id = active.info.run_id
    _log(MlflowClient(), run_id, d, artifacts)
    return run_id


def _log(client, run_id: str, d: dict, artifacts: bool) -> None:
    _, _, Metric, Param = _mlflow()
    now = int(time.time() * 1000)
    ms = [Metric(k, v, now, 0) for k, v in metrics(d).items()]
    ps = [Param(k, v) for k, v in params(d).items()]
    for i in range(0, max(len(ms), len(ps)), 100):   # MLflow takes at most 100 params a batch
        client.log_batch(run_id, metrics=ms[i:i + 100], params=ps[i:i + 100])
    if artifacts:
        from . import plots  # noqa: F401  (registers the chart the HTML report embeds)
        from .report import render_estimate
        client.log_dict(run_id, d, "flopest/estimate.json")
        client.log_text(run_id, render_estimate(d, "html"), "flopest/report.html")
