"""Extreme scales: a one-trillion-parameter decoder captured on meta tensors, totals of 1e27
FLOPs printed and serialized exactly, and a 100,000-node ONNX graph within 2 GB of memory."""

from __future__ import annotations

import contextlib
import csv as csvmod
import io
import json

import onnx
import pytest
from onnx import TensorProto, helper

import flopest
from flopest.cli import main
from tests.robustness import _scale

T = 2048


# ------------------------------------------------------------------ one trillion parameters
@pytest.fixture(scope="module")
def torch_ready():
    import transformers  # noqa: F401  (CI installs the torch extra)
    import torch  # noqa: F401


@pytest.mark.torch
def test_llama_1t_config_is_a_trillion_parameters(torch_ready):
    """The full 128-layer model built on meta: its parameters, by torch and by the formula."""
    m = _scale.llama_meta()
    n = sum(p.numel() for p in m.parameters())
    assert n == _scale.llama_params() == 1_009_116_800_000
    assert n >= 10**12


@pytest.mark.torch
def test_llama_layers_scale_to_the_formula(torch_ready):
    """Two layers captured (fast); matmul FLOPs per layer are identical, so 128 layers are
    the 2-layer count + 126 × (one layer): the formula for the whole model within 2 %."""
    c1 = flopest.count(_scale.llama_meta(1), input_ids=flopest.spec((1, T), "int64"))
    c2 = flopest.count(_scale.llama_meta(2), input_ids=flopest.spec((1, T), "int64"))
    per_layer = c2.matmul_flops - c1.matmul_flops
    # one layer: 2·T·(4·d² + 3·d·ff) + 4·T²·d = 2·2048·7,870,873,600 + 4·2048²·25,600
    assert per_layer == 2 * T * (4 * 25_600**2 + 3 * 25_600 * 68_352) + 4 * T**2 * 25_600
    full = c2.matmul_flops + (_scale.LAYERS - 2) * per_layer
    expected = _scale.llama_matmul_flops(T)
    assert abs(full - expected) / expected < 0.02
    assert c2.params == _scale.llama_params(2)


@pytest.mark.torch
@pytest.mark.slow
def test_llama_1t_captured_whole(torch_ready):
    """flopest.count on the whole 1.009 T-parameter model (meta tensors: no weight allocated)."""
    m = _scale.llama_meta()
    c = flopest.count(m, input_ids=flopest.spec((1, T), "int64"))
    assert c.params >= 10**12 and c.params == 1_009_116_800_000
    expected = _scale.llama_matmul_flops(T)          # 4,184,935,602,585,600
    assert abs(c.matmul_flops - expected) / expected < 0.02
    # the textbook 2·N·T + attention with N = every parameter (embedding included): within 0.1 %
    textbook = 2 * c.params * T + _scale.LAYERS * 4 * T**2 * _scale.D
    assert abs(c.matmul_flops - textbook) / textbook < 0.02
    assert c.unknown_ops == {}


# ------------------------------------------------------------------ 1e27 FLOPs, exactly
def huge_model():
    """x(batch, seq, hidden) @ W(hidden, hidden), then Relu; every dim symbolic."""
    g = helper.make_graph(
        [helper.make_node("MatMul", ["x", "W"], ["y"]), helper.make_node("Relu", ["y"], ["r"])], "huge",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", "seq", "hidden"]),
         helper.make_tensor_value_info("W", TensorProto.FLOAT, ["hidden", "hidden"])],
        [helper.make_tensor_value_info("r", TensorProto.FLOAT, ["batch", "seq", "hidden"])])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


# batch 2,000,000 × seq 1,000 = m = 2e9 rows; hidden 5e8:
#   MatMul 2·m·k·n = 2·2e9·5e8·5e8 = 1e27; Relu m·n = 1e18          -> flops 1e27 + 1e18
#   bytes: MatMul (m·k + k·n + m·n)·4 = (1e18 + 2.5e17 + 1e18)·4 = 9e18; Relu 2·1e18·4 = 8e18
DIMS = {"batch": 2_000_000, "seq": 1_000, "hidden": 500_000_000}
FLOPS = 10**27 + 10**18
BYTES = 9 * 10**18 + 8 * 10**18


def test_1e27_flops_exact_in_the_api():
    c = flopest.count(huge_model(), dims=DIMS)
    assert c.matmul_flops == 10**27 and c.flops == FLOPS and c.bytes == BYTES
    assert c.macs == 5 * 10**26
    assert c.at(batch=4_000_000).flops == 2 * FLOPS          # linear in batch, still exact


def _cli(argv):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(argv) == 0
    return out.getvalue()


def test_1e27_flops_printed_and_serialized_exactly(tmp_path):
    p = tmp_path / "huge.onnx"
    onnx.save(huge_model(), str(p))
    base = ["count", str(p)] + [x for k, v in DIMS.items() for x in ("--dim", f"{k}={v}")]
    d = json.loads(_cli(base + ["--format", "json"]))
    assert d["flops"] == FLOPS and d["matmul_flops"] == 10**27 and d["bytes"] == BYTES
    assert isinstance(d["flops"], int)
    exact = f"{FLOPS:,}"          # 1,000,000,001,000,000,000,000,000,000
    table = _cli(base)
    assert exact in table and f"{BYTES:,}" in table and "1 RFLOP" in table   # R = ronna, 1e27
    assert exact in _cli(base + ["--format", "markdown"])
    csv = _cli(base + ["--format", "csv"])
    assert f"flops,{FLOPS}" in csv and f"matmul_flops,{10**27}" in csv
    by = json.loads(_cli(base + ["--format", "json", "--by", "op"]))
    assert sum(r["flops"] for r in by["breakdown"]) == FLOPS
    # a sweep up to 1e27: the model read once, each point exact
    sweep = ["count", str(p), "--dim", "seq=1000", "--dim", "hidden=500000000", "--sweep", "batch=1,2000000",
             "--format", "csv"]
    rows = list(csvmod.DictReader(io.StringIO(_cli(sweep))))
    assert [(r["batch"], r["flops"]) for r in rows] == [
        ("1", str(5 * 10**20 + 5 * 10**11)),      # batch 1: 2·1000·5e8·5e8 + 1000·5e8
        ("2000000", str(FLOPS))]


def test_beyond_int64_per_row_is_an_error_not_a_wrong_number():
    """One row's parameter beyond int64 (batch·seq = 2**64): a KernelInputError naming the row."""
    with pytest.raises(flopest.FlopestError, match="beyond int64"):
        flopest.count(huge_model(), dims={"batch": 2**32, "seq": 2**32, "hidden": 8})


# ------------------------------------------------------------------ 100,000 nodes
@pytest.mark.slow
def test_100k_node_graph_within_2gb(tmp_path):
    n = 100_000
    p = tmp_path / "chain.onnx"
    onnx.save(_scale.chain_model(n), str(p))
    r = _scale.count_in_subprocess(str(p), {"batch": 8})
    assert r["nodes"] == n and r["coverage"] == 1.0
    assert r["flops"] == _scale.chain_flops(n, 8)     # 145,065,344
    assert r["maxrss_mb"] < 2048, r


def test_10k_node_graph_counts_exactly(tmp_path):
    n = 10_000
    c = flopest.count(_scale.chain_model(n), dims={"batch": 8})
    # Add 3334·128 + MatMul 3333·4096 + Relu 3333·128
    assert c.flops == _scale.chain_flops(n, 8) == 3334 * 128 + 3333 * 4096 + 3333 * 128
    assert c.at(batch=10**9).flops == _scale.chain_flops(n, 10**9)
