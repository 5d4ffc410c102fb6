"""flopest.count from 8 threads at once gives the results of sequential calls.

The threads make the first calls of a fresh interpreter (the Numba kernel loads, onnxruntime's
tool and the front ends are imported lazily, all racing) on six ONNX models (two through
onnxruntime's symbolic inference) and two PyTorch models (a transformers GPT-2 through the
FakeTensor path, an MLP in training with AdamW). Two captures at once once moved FLOPs between
modules and phases through torch's global module hooks: flopest now captures one model at a time
(flopest/counts.py, _TORCH_CAPTURE)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.mark.torch
@pytest.mark.slow
def test_eight_threads_match_sequential_calls():
    r = subprocess.run([sys.executable, os.path.join(ROOT, "tests", "robustness", "_concurrent_run.py"), "threads"],
                       cwd=ROOT, capture_output=True, text=True, timeout=300, env=dict(os.environ, PYTHONPATH=ROOT))
    assert r.returncode == 0, r.stderr[-3000:]
    out = json.loads(r.stdout)
    assert out["thread_errors"] == {}
    assert sorted(out["threads"]) == sorted(out["sequential"]) and len(out["threads"]) == 8
    for name, seq in out["sequential"].items():
        assert out["threads"][name] == seq, name
    # the numbers are the known ones, not just equal to each other
    assert out["sequential"]["mlp"]["flops"] == 2 * 8 * 64 * 32 + 2 * 8 * 32
    assert out["sequential"]["loop_2pow62"]["flops"] == 2**62 * 10**6
