"""Inputs that were accepted or answered misleadingly (issue 13 items 5 and 9): a dim of size 0,
and a factory that returns something that is not a model."""

import importlib.util
import json
import textwrap

import pytest


@pytest.mark.parametrize("flag, value", [("--dim", "batch=0"), ("--sweep", "batch=1,0")])
def test_a_dim_of_size_0_is_an_error(cli, mlp_path, tmp_path, flag, value):
    # at batch 0 the model is empty: it used to "succeed" with 0 FLOPs (x (0, 64) @ W (64, 32):
    # 2·0·64·32 = 0), a count that looks like one; now exit 2 naming the flag
    out = tmp_path / "never.json"
    code, _, err = cli(["count", mlp_path, flag, value, "--output", out])
    assert code == 2, err
    assert f"{flag} batch=0: a dim of size 0 makes an empty model" in err, err
    assert len(err.strip().splitlines()) == 1 and not out.exists()
    # a positive dim still counts: batch 1 → 2·1·64·32 + 32 + 32 = 4,160 FLOPs
    code, out_text, err = cli(["count", mlp_path, "--dim", "batch=1", "--format", "json"])
    assert code == 0 and json.loads(out_text)["flops"] == 4_160, err


@pytest.fixture
def factories(tmp_path, monkeypatch):
    """A module of factories that return things other than a model (no torch needed)."""
    (tmp_path / "wrong_factories_13.py").write_text(textwrap.dedent("""
        def answer():
            return 42

        def pair():
            return 42, [1, 2]

        def nothing():
            return None
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    return "wrong_factories_13"


# a factory is called under torch.device("meta"): without the torch extra the answer is the
# install hint (tested in test_errors), so these need torch
@pytest.mark.torch
@pytest.mark.parametrize("name, shown", [
    ("answer", "returned int 42"),                # the value and its type, not "example inputs are for ..."
    ("pair", "returned tuple (42, [1, 2])"),      # a pair whose first item is not a module
    ("nothing", "returned NoneType None"),
])
def test_a_factory_returning_the_wrong_type_is_named(cli, factories, name, shown):
    runs = [["count", f"{factories}:{name}"],
            ["estimate", f"{factories}:{name}", "--dataset-size", "10", "--device", "h100-sxm"]]
    runs.append(["count", f"{factories}:{name}", "--input", "2x3"])  # --input: a torch spec first
    for argv in runs:
        code, _, err = cli(argv)
        assert code == 2, (argv, err)
        assert f"factory '{factories}:{name}' {shown}; it must return a torch.nn.Module or a " \
               f"(module, example_inputs) pair" in err, (argv, err)
        assert "example inputs are for" not in err and "Traceback" not in err


@pytest.mark.torch
def test_a_factory_returning_the_wrong_type_in_the_api(factories):
    import flopest
    from flopest.errors import InputError
    with pytest.raises(InputError, match=r"returned int 42; it must return a torch.nn.Module"):
        flopest.count(f"{factories}:answer")


def test_a_path_with_a_nul_byte_is_a_read_error():
    # found by tests/robustness/test_fuzz_onnx.py (model='\x00'): os.stat raised a bare ValueError
    import flopest
    from flopest.errors import ModelReadError
    with pytest.raises(ModelReadError, match="model path"):
        flopest.count("model\x00.onnx")


def test_estimate_refuses_a_zero_dim_as_count_does(cli, mlp_path):
    r = cli(["estimate", mlp_path, "--dim", "batch=0", "--dataset-size", "10"])
    assert r.returncode == 2 and "--dim batch=0" in r.stderr and "examples-per-pass" not in r.stderr, r.stderr


@pytest.mark.skipif(importlib.util.find_spec("torch") is not None,
                    reason="the install hint is the answer only where torch is missing")
def test_a_factory_without_torch_names_the_extra(cli, factories):
    # without torch no factory can be built (on the meta device or at all): one line, exit 2
    code, _, err = cli(["count", f"{factories}:answer"])
    assert code == 2 and "pip install 'flopest[torch]'" in err, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
