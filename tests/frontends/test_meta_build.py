"""Factories and zoo models are built on the meta device (issue 17 item 2): no weight allocated or
initialised; a factory that cannot build there is built for real, with a note."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

import flopest
from tests.robustness._scale import peak_rss_kb  # noqa: F401  (the same VmHWM reader, in the child)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

pytestmark = pytest.mark.torch

CHILD = """
import json, sys
import flopest
from tests.robustness._scale import peak_rss_kb
c = flopest.count("tests.cli.factories:huge")
print(json.dumps({"flops": c.flops, "params": c.params, "rss_mb": peak_rss_kb() / 1024, "notes": c.notes}))
"""


def test_a_100b_parameter_factory_is_counted_in_under_2gb():
    r = subprocess.run([sys.executable, "-c", CHILD], cwd=ROOT, env=dict(os.environ, PYTHONPATH=ROOT),
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    d = json.loads(r.stdout.strip().splitlines()[-1])
    # params 100,000·1,000,000 + 1,000,000 + 1,000,000·100 + 100 = 100,101,000,100
    assert d["params"] == 100_000 * 1_000_000 + 1_000_000 + 1_000_000 * 100 + 100
    # batch 4: 2·4·1e5·1e6 + 4·1e6 (bias) + 4·1e6 (ReLU) + 2·4·1e6·100 + 4·100 (bias)
    assert d["flops"] == 2 * 4 * 100_000 * 1_000_000 + 4 * 1_000_000 * 2 + 2 * 4 * 1_000_000 * 100 + 4 * 100
    assert d["rss_mb"] < 2048, d


def test_zoo_models_are_built_on_meta():
    from flopest import models
    tm = models.torch_model("zoo:gpt2")
    assert all(p.device.type == "meta" for p in tm.module.parameters())
    assert tm.notes == []
    real = models.torch_model("zoo:gpt2", meta=False)
    assert all(p.device.type == "cpu" for p in real.module.parameters())
    # the same counts either way
    a = flopest.count("zoo:gpt2")
    b = models.count_module(real.module, real.args, real.kwargs)
    assert (a.flops, a.matmul_flops, a.params) == (b.flops, b.matmul_flops, b.params)


def test_a_factory_that_cannot_build_on_meta_is_built_for_real_with_a_note():
    c = flopest.count("tests.cli.factories:reads_a_value")
    # Linear 16 -> 8 on 2 rows: 2·2·16·8 = 512 matmul FLOPs
    assert c.matmul_flops == 512
    assert any("could not be built on the meta device" in n for n in c.notes), c.notes
