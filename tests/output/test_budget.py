"""budget.py: verdicts that say what was not costed, exit codes 0 / 1 / 2, no Infinity in JSON."""

import json
import os
import subprocess
import sys

import pytest

import flopest
from flopest.budget import evaluate, parse_budget
from flopest.errors import CoverageError, FlopestError
from tests.conftest import mlp_model
from tests.ops._onnx_build import model, node, weight

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def fused_matmul():
    """One com.microsoft:FusedMatMul (what onnxruntime's optimizer emits): no lowering in flopest."""
    n = node("FusedMatMul", ["x", "W"], ["y"], domain="com.microsoft")
    return model([n], [("x", (8, 16))], [("y", (8, 4))], [weight("W", (16, 4))], domains=("com.microsoft",))


def estimate_of(m, **kw):
    c = flopest.count(m)
    return flopest.estimate(c, dataset_size=800, examples_per_pass=8, device="t4", region="FR", samples=500, **kw)


def test_uncosted_model_never_passes():
    est = estimate_of(fused_matmul())
    d = est.to_dict()
    assert d["unknown_ops"] == {"com.microsoft:FusedMatMul": 1} and d["coverage"] == 0.0
    assert "a posteriori" not in est.to_markdown()                 # no hours were given (19.2)
    assert "FusedMatMul" in est.to_markdown()
    with pytest.raises(CoverageError) as e:
        flopest.check(est, co2eq_kg=0.001)
    res = e.value.result
    assert res.state == "incomplete" and res.exit_code == 2 and not res.ok
    v = res.verdict()
    assert "within budget" not in v and v.startswith("NOT CHECKED") and "com.microsoft:FusedMatMul ×1" in v
    assert "0.0%" in v and isinstance(e.value, FlopestError) and isinstance(e.value, ValueError)
    ok = flopest.check(est, co2eq_kg=0.001, allow_unknown=True)   # the costed part, accepted, and said so
    assert ok.ok and ok.exit_code == 0 and "FusedMatMul" in ok.verdict() and "allowed" in ok.verdict()
    assert ok.to_dict()["unknown_ops"] == {"com.microsoft:FusedMatMul": 1}


def test_over_budget_stays_over_with_unknown_ops():
    # MatMul 8×16×4 costed, FusedMatMul not: over a zero budget is certain (the rest only adds)
    m = model([node("MatMul", ["x", "W"], ["h"]), node("FusedMatMul", ["h", "V"], ["y"], domain="com.microsoft")],
              [("x", (8, 16))], [("y", (8, 4))], [weight("W", (16, 4)), weight("V", (4, 4))],
              domains=("com.microsoft",))
    res = evaluate(estimate_of(m), ["energy=0Wh"])
    assert res.state == "over" and res.exit_code == 1 and res.coverage == 0.5
    assert res.verdict().startswith("OVER BUDGET: energy") and "FusedMatMul ×1" in res.verdict()


def test_fully_costed_model_passes():
    res = evaluate(estimate_of(mlp_model(batch=8)), ["co2eq=1t"])
    assert res.state == "ok" and res.coverage == 1.0 and res.verdict().startswith("within budget: co2eq")
    assert "not costed" not in res.verdict()


def test_zero_budget_writes_no_infinity():
    est = flopest.estimate(params=1e9, tokens=2e10, device="h100-sxm", region="FR", samples=500)
    res = evaluate(est, [parse_budget("co2eq=0kg")])
    d = res.to_dict()
    assert d["budgets"][0]["ratio"] is None and d["state"] == "over"
    json.dumps(d, allow_nan=False)                                 # strict JSON: raises on Infinity / NaN
    zero = evaluate({"co2eq_kg": {"p5": 0.0, "p50": 0.0, "p95": 0.0}}, ["co2eq=0kg"])
    assert zero.ok and zero.to_dict()["budgets"][0]["ratio"] == 0.0


def test_cli_check_of_uncosted_model_exits_2(tmp_path):
    import onnx
    p = tmp_path / "fused.onnx"
    onnx.save(fused_matmul(), str(p))
    args = [sys.executable, "-m", "flopest", "check", str(p), "--dataset-size", "800", "--device", "t4",
            "--samples", "500", "--budget", "co2eq=1t"]
    r = subprocess.run(args, capture_output=True, text=True, cwd=tmp_path, timeout=120,
                       env=dict(os.environ, PYTHONPATH=ROOT))
    assert r.returncode == 2, r.stderr
    assert "within budget" not in r.stdout + r.stderr and "FusedMatMul" in r.stderr
    assert "Traceback" not in r.stderr


def test_cli_allow_unknown_accepts_the_costed_part_and_says_so(tmp_path, cli):
    """--allow-unknown: the verdict covers the costed part, and every format says what was not costed."""
    import onnx
    p = tmp_path / "fused.onnx"
    onnx.save(fused_matmul(), str(p))
    base = ["check", str(p), "--dataset-size", "800", "--device", "t4", "--samples", "500", "--budget", "co2eq=1t",
            "--allow-unknown"]
    r = cli(base)
    assert r.returncode == 0, r.stderr
    assert "FusedMatMul" in r.stdout and "not costed" in r.stdout.lower(), r.stdout
    r = cli(base + ["--format", "json"])
    d = json.loads(r.stdout)
    assert d["unknown_ops"] == {"com.microsoft:FusedMatMul": 1} or "FusedMatMul" in str(d["unknown_ops"])
    assert d["check"]["allow_unknown"] is True and d["coverage"] < 1
    r = cli(base + ["--format", "csv"])
    assert r.returncode == 0 and "FusedMatMul" in r.stderr + r.stdout, r.stdout + r.stderr
