"""`zoo:NAME` means one thing everywhere (issue 14): the zoo's PyTorch module at its example inputs,
through flopest.count, `flopest count` and `flopest serve` alike; `onnx=True` / `--onnx` is its export."""

import json

import pytest

import flopest

NAME = "zoo:einsum_attention"   # hidden_states 1x128x512: the cheapest zoo model to capture


@pytest.mark.torch
def test_same_counts_through_api_cli_and_serve(cli):
    api = flopest.count(NAME)
    r = cli(["count", NAME, "--format", "json"])
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["flops"] == api.flops
    assert api.examples_per_pass == 1   # its example input has batch 1
    s = flopest.serve(NAME, requests_per_day=1000, device="h100-sxm", samples=200)
    assert s.to_dict()["flops_per_request"]["forward"] == api.flops   # one forward pass per request, batch 1


@pytest.mark.torch
def test_the_onnx_export_counts_the_same_and_rebinds():
    torch_count = flopest.count(NAME)
    onnx_count = flopest.count(NAME, onnx=True)
    assert onnx_count.matmul_flops == torch_count.matmul_flops
    with pytest.raises(flopest.InputError, match="onnx=True counts the export"):
        flopest.count(NAME, dims={"batch": 2})
