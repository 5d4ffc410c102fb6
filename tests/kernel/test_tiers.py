"""The two tiers of the cost kernel give the same per-row costs, overflow rows and exact
totals, and a one-off ONNX count loads neither Numba nor the `onnx` package (its start-up:
issue 17; the timing itself is benchmarks/bench_startup.py's)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
from hypothesis import given, settings

from flopest import kernel
from tests.kernel.test_kernel import ROWS, build, kernel_rows

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _both(table, monkeypatch):
    out = {}
    for tier in ("python", "jit"):
        monkeypatch.setenv("FLOPEST_KERNEL", tier)
        rc = kernel.evaluate(table)
        keys = np.arange(len(table)) % 3
        out[tier] = (kernel_rows(rc), sorted(rc.big), [rc.total(m) for m in ("flops", "matmul_flops", "bytes")],
                     rc.by(keys, 3, "bytes"), rc.flops.tolist())
    return out


@settings(max_examples=40, deadline=None)
@given(ROWS)
def test_interpreted_and_compiled_tiers_agree(rows):
    import pytest
    with pytest.MonkeyPatch.context() as mp:
        got = _both(build(rows), mp)
    assert got["python"] == got["jit"]


def test_tier_switches_to_compiled_after_its_row_budget(monkeypatch):
    """auto: the interpreter costs the first rows; past PYTHON_TIER_ROWS the compiled kernels are
    loaded (and then kept)."""
    monkeypatch.delenv("FLOPEST_KERNEL", raising=False)
    monkeypatch.setattr(kernel, "_python_rows", 0)
    monkeypatch.setattr(kernel, "PYTHON_TIER_ROWS", 10)
    monkeypatch.setattr(kernel, "_loaded", {k: v for k, v in kernel._loaded.items() if k != "_jit"})
    t = build([(kernel.kinds.MOVE, [5], 1, 4)] * 6)   # bytes 5 × (4 + 4) = 40 a row
    assert kernel.evaluate(t).total("bytes") == 6 * 40
    assert "_jit" not in kernel._loaded and kernel._python_rows == 6
    assert kernel.evaluate(t).total("bytes") == 6 * 40   # 12 rows > 10: the compiled tier
    assert "_jit" in kernel._loaded


def test_a_one_off_onnx_count_imports_neither_numba_nor_onnx(tmp_path):
    """A fresh process counts a small ONNX model (MatMul x[B,16] @ W[16,8]: 2·B·16·8 FLOPs) without
    importing numba or the onnx package (only onnx's generated protobuf module and its shape-
    inference extension), and gets the same figure as the compiled tier."""
    import onnx

    from tests.conftest import matmul_model
    path = tmp_path / "m.onnx"
    onnx.save(matmul_model(), path)
    code = ("import json, sys, flopest; c = flopest.count(sys.argv[1], dims={'B': 3}); "
            "print(json.dumps([c.flops, c.matmul_flops, 'numba' in sys.modules, 'onnx' in sys.modules]))")
    res = {}
    for tier in ("", "jit"):
        env = {**os.environ, "FLOPEST_KERNEL": tier, "PYTHONPATH": ROOT}
        r = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, env=env,
                           cwd=tmp_path, timeout=120)
        assert r.returncode == 0, r.stderr
        res[tier] = json.loads(r.stdout.strip().splitlines()[-1])
    assert res[""][:2] == [2 * 3 * 16 * 8] * 2
    assert res[""][2:] == [False, False]
    assert res["jit"][:2] == res[""][:2] and res["jit"][2] is True


def test_the_compiled_tier_is_checked_against_its_source(monkeypatch):
    """Numba's cache is keyed to _jit.py alone: _jit checks row_costs against formulas.cost on
    rows that take every branch (and recompiles on a difference). A changed formula is caught."""
    from flopest.kernel import _jit, formulas
    assert _jit._matches_source()
    real = formulas.cost

    def changed(kind, p, es, eo):
        f, m, b = real(kind, p, es, eo)
        return f, m, b * 3 if kind == kernel.kinds.MOVE else b
    monkeypatch.setattr(formulas, "cost", changed)
    assert not _jit._matches_source()
