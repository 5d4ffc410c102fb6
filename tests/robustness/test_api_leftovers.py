"""Issue 19, findings 9 and 14: API values that were coerced, crashed or went unsaid."""

from __future__ import annotations

import json

import onnx
import pytest
from onnx import TensorProto, helper

import flopest
from flopest.errors import FlopestError, ModelReadError


@pytest.mark.torch
@pytest.mark.parametrize("shape", ["abc", (2.5, 16), (True, 3), ("8", 3)])
def test_spec_refuses_what_is_not_a_whole_dim(shape):
    with pytest.raises(FlopestError, match="not a whole number"):
        flopest.spec(shape)


@pytest.mark.torch
def test_spec_keeps_whole_dims_and_checks_its_dtype():
    assert flopest.spec((8, 3)).shape == (8, 3)
    with pytest.raises(FlopestError, match="dtype"):
        flopest.spec((8, 3), "float33")


def test_check_of_something_that_is_not_a_result_is_a_type_error():
    with pytest.raises(TypeError, match="takes an Estimate"):
        flopest.check(None, co2eq_kg=1)
    with pytest.raises(TypeError, match="takes an Estimate"):
        flopest.check(42, co2eq_kg=1)


def test_check_at_names_the_keyword_not_a_flag():
    est = flopest.estimate(params=1e9, tokens=1e9, device="h100-sxm", samples=500)
    with pytest.raises(FlopestError) as e:
        flopest.check(est, at="p99", co2eq_kg=1e9)
    assert "--at" not in str(e.value) and "at 'p99'" in str(e.value)


def test_an_empty_modelproto_is_an_error_as_an_empty_file_is():
    with pytest.raises(ModelReadError, match="no ONNX graph"):
        flopest.count(onnx.ModelProto())


def test_two_nodes_writing_one_value_is_an_error():
    g = helper.make_graph([helper.make_node("Relu", ["x"], ["y"], name="a"),
                           helper.make_node("Sigmoid", ["x"], ["y"], name="b")], "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4, 8])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4, 8])])
    with pytest.raises(ModelReadError, match="written twice"):
        flopest.count(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]))


@pytest.mark.torch
def test_a_print_in_forward_does_not_reach_the_json_report(cli):
    r = cli(["count", "tests.robustness.factories:talkative", "--format", "json"])
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)   # stdout is the report alone
    # Linear 4 -> 3 on 2 rows: 2·2·4·3 = 48 matmul FLOPs + 2·3 bias adds
    assert d["matmul_flops"] == 48
    assert "debug: in forward" in r.stderr and "building the model" in r.stderr


def test_wrong_types_at_the_api_say_what_is_expected():
    import onnx as _onnx  # noqa: F401
    from tests.conftest import mlp_model
    c = flopest.count(mlp_model(), dims={"batch": 8})
    with pytest.raises(TypeError, match="takes a count"):
        flopest.estimate("x", device="h100-sxm", dataset_size=10)
    with pytest.raises(TypeError, match="takes an Estimate"):
        flopest.check(c, co2eq_kg=1)          # a count, not an estimate
    est = flopest.estimate(c, device="h100-sxm", dataset_size=10, samples=200)
    with pytest.raises(TypeError, match="list of 'NAME=VALUE'"):
        flopest.check(est, budgets=3)


def test_breakdown_depth_and_sweep_progress_are_checked(tmp_path):
    """depth with another grouping than modules (or none), a depth that is not a whole number, and
    a progress that is not a function: each an error naming it, before any work."""
    import onnx

    from tests.conftest import mlp_model
    path = tmp_path / "mlp.onnx"
    onnx.save(mlp_model(), str(path))
    c = flopest.count(str(path), dims={"batch": 2})
    for call in (lambda: c.breakdown(by="op", depth=2), lambda: c.breakdown(by="module", depth="1"),
                 lambda: c.to_dict(depth=2)):
        with pytest.raises(flopest.InputError, match="depth"):
            call()
    with pytest.raises(flopest.InputError, match="progress"):
        flopest.sweep({"model": {"onnx": str(path), "grid": {"batch": [1]}}, "plan": {"dataset-size": "1k"}},
                      workers=0, progress=5)


def test_guard_takes_an_onnx_model(tmp_path):
    """guard() on an ONNX file counts it forward (dims from training_kw) and estimates the plan as
    flopest.estimate does an ONNX count with the Adam step added; it had refused, naming training=
    and optimizer=, which the user never gave."""
    import onnx

    from tests.conftest import mlp_model
    path = tmp_path / "mlp.onnx"
    onnx.save(mlp_model(), str(path))
    kw = dict(dataset_size=1000, device="h100-sxm", samples=1000)
    e = flopest.guard(str(path), co2eq_kg=1e9, training_kw={"dims": {"batch": 8}}, **kw)
    same = flopest.estimate(flopest.count(str(path), dims={"batch": 8}), optimizer="adam", **kw)
    assert e.flops == same.flops and e.co2eq_kg == same.co2eq_kg
