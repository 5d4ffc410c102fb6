"""Fuzzing the ONNX reader: every model either counts or raises a FlopestError, in under 5 s.

Three sources of odd models: ``corpus/`` (every input the fuzzers ever broke flopest with, kept
as regression files, plus hand-made cases: see corpus/README.md), Hypothesis-built graphs
(``_gen.models``: cycles, dangling inputs, huge/negative/zero dims, wrong attribute types,
broken If/Loop/Scan bodies, ...) and byte-level mutations (truncation, bit flips, splices) of
serialized models. The examples are derandomized so CI sees the same cases every run; set
FLOPEST_FUZZ_EXAMPLES=5000 to search further (a failing input is saved under
$TMPDIR/flopest-fuzz/ and named in the failure, to be added to corpus/).
"""

from __future__ import annotations

import glob
import hashlib
import os
import tempfile

import onnx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import flopest
from flopest.errors import FlopestError, InputError, ModelReadError
from flopest.frontends import onnx as fe
from flopest.report import render
from tests.conftest import mlp_model
from tests.robustness._gen import BIND_VALUES, DIM_VALUES, models, mutated, numpy_seed_model, time_limit

CORPUS_DIR = os.path.join(os.path.dirname(__file__), "corpus")
CORPUS = sorted(glob.glob(os.path.join(CORPUS_DIR, "*.onnx")) + glob.glob(os.path.join(CORPUS_DIR, "*.bin")))
EXAMPLES = int(os.environ.get("FLOPEST_FUZZ_EXAMPLES", "100"))
LIMIT_S = 5.0
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=EXAMPLES <= 500, database=None,
                suppress_health_check=list(HealthCheck))


@pytest.fixture(scope="module", autouse=True)
def warm():
    """Imports and kernel compilation happen once, outside the per-case time limit (importing
    onnxruntime's tool and sympy takes seconds on a loaded machine; that is not a hang)."""
    import onnxruntime.tools.symbolic_shape_infer  # noqa: F401
    c = flopest.count(mlp_model(), dims={"batch": 2})
    c.to_dict(by="op")
    c.breakdown("module")


def check(model, dims=None, formats=("json", "csv")):
    """Count `model` within LIMIT_S; return the Counts or the FlopestError. Anything else
    propagates and fails the test. (The corpus renders every format; the fuzzers only the
    cheap ones: a rich table takes 50 ms.)"""
    with time_limit(LIMIT_S):
        try:
            c = flopest.count(model, dims=dims or {})
            d = c.to_dict(by="op")
            for fmt in formats:
                render(d, fmt)
            c.breakdown("module", depth=1)
            return c
        except FlopestError as exc:
            assert str(exc).strip(), f"{type(exc).__name__} without a message"
            return exc


def bound_dims(model, value=3) -> dict:
    """Every input dim of the model bound to `value` (or values, cycled)."""
    try:
        names = fe.input_dims(fe.load(model)[0])
    except FlopestError:
        return {}
    values = value if isinstance(value, list) else [value]
    return {n: values[i % len(values)] for i, n in enumerate(names)}


def saved(data: bytes) -> str:
    folder = os.path.join(tempfile.gettempdir(), "flopest-fuzz")
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, hashlib.sha1(data).hexdigest()[:12] + ".onnx")
    with open(path, "wb") as f:
        f.write(data)
    return path


def run_bytes(data: bytes, dims=None):
    path = saved(data)   # the input is on disk before it runs: a crash or hang leaves it behind
    try:
        return check(path, dims)
    except BaseException as exc:
        raise AssertionError(f"{type(exc).__name__}: {exc} — input saved as {path} "
                             f"(add it to tests/robustness/corpus/)") from exc


# ------------------------------------------------------------------ the regression corpus
EXPECT = {
    # invalid UTF-8 in names: refused as a corrupt file
    "utf8_invalid_op_type": ModelReadError, "utf8_invalid_dim_param": ModelReadError,
    "utf8_invalid_value_name": ModelReadError, "fuzz_bytes_utf8_dim_param": ModelReadError,
    "fuzz_bytes_utf8_op_type": ModelReadError, "empty_graph": ModelReadError,
    # model-local functions expanding to 2**39 nodes, or chained 600 deep: refused at once
    "functions_expand_to_2pow39_nodes": ModelReadError, "functions_chained_600_deep": ModelReadError,
    "fuzz_atheris_functions_expand_2pow18": ModelReadError,
}
UNCOSTED = {   # counted, with this operator listed in unknown_ops (and the reason in notes)
    "if_no_branches": "If", "if_missing_else": "If", "if_branch_attr_is_int": "If", "loop_no_body": "Loop",
    "scan_no_body": "Scan", "scan_axis_out_of_range": "Scan", "scan_more_scan_inputs_than_inputs": "Scan",
    "loop_trip_count_nan": "Loop", "loop_trip_count_inf": "Loop", "loop_trip_count_negative": "Loop",
    "loop_trip_count_fraction": "Loop", "relu_of_2pow186_elements": "Relu", "function_calls_itself": "local:F",
}


@pytest.mark.parametrize("path", CORPUS, ids=[os.path.basename(p) for p in CORPUS])
def test_corpus_counts_or_raises_flopest_error(path):
    name = os.path.splitext(os.path.basename(path))[0]
    outcomes = [check(path, formats=("table", "json", "markdown", "csv")), check(path, bound_dims(path, 3)),
                check(path, bound_dims(path, [2**40, 7]))]
    if name in EXPECT:
        assert all(isinstance(o, EXPECT[name]) for o in outcomes), outcomes
    if name in UNCOSTED:
        c = outcomes[0]
        assert not isinstance(c, FlopestError), c
        assert UNCOSTED[name] in c.unknown_ops, (c.unknown_ops, c.notes)
        assert c.notes, "an uncosted node is explained in notes"


def test_corpus_exact_figures():
    """Cases whose numbers are known: huge values stay exact, zero sizes count zero."""
    p = os.path.join(CORPUS_DIR, "{}.onnx").format
    # MatMul (2**62, 2**62) @ (2**62, 2**62): 2·m·k·n = 2**187
    assert check(p("huge_dims_2pow62")).matmul_flops == 2 * (2**62) ** 3
    # Relu over 1000·1000 elements, 2**62 trips of a constant Loop: 1 FLOP each
    c = check(p("loop_trip_count_2pow62"))
    assert c.flops == 2**62 * 10**6 and c.unknown_ops == {}
    assert check(p("zero_size_tensors")).flops == 0          # (0, 3) @ (3, 0)
    assert check(p("unknown_domain")).unknown_ops == {"zzz:Foo": 1}
    c = check(p("relu_of_2pow186_elements"))
    assert any("beyond int64" in n for n in c.notes)
    # dim expressions that divide by zero fail when bound, naming the expression's problem
    e = check(p("dim_param_division_by_zero"), {"n": 4})
    assert isinstance(e, InputError) and "ZeroDivisionError" in str(e)
    # external data named by a model is never opened (reading /dev/zero would never end)
    for tag in ("dev_zero", "etc_passwd", "dotdot"):
        assert not isinstance(check(p(f"constant_external_{tag}")), FlopestError)


def test_corpus_is_small_and_readme_lists_origins():
    assert len(CORPUS) >= 40
    assert all(os.path.getsize(p) < 64 * 1024 for p in CORPUS)
    readme = open(os.path.join(CORPUS_DIR, "README.md"), encoding="utf-8").read()
    assert "fuzz_hyp_" in readme and "fuzz_bytes_" in readme


# ------------------------------------------------------------------ hypothesis
@FUZZ
@given(m=models(), bind=st.one_of(st.none(), st.lists(BIND_VALUES, min_size=1, max_size=4)), raw=DIM_VALUES)
def test_fuzz_structural_models(m, bind, raw):
    data = m.SerializeToString()
    path = saved(data)
    dims = raw if bind is None else bound_dims(path, bind)
    run_bytes(data, dims)


@FUZZ
@given(m=models(), data=st.data())
def test_fuzz_mutated_bytes(m, data):
    seed = data.draw(st.sampled_from([m.SerializeToString(), numpy_seed_model(), mlp_model().SerializeToString()]))
    mutant = data.draw(mutated(seed))
    run_bytes(mutant, {"batch": 4})
    run_bytes(mutant, None)


@FUZZ
@given(m=models(), bind=st.lists(BIND_VALUES, min_size=1, max_size=3))
def test_fuzz_modelproto_in_memory(m, bind):
    """The same graphs handed over as a ModelProto (the strip_model path, no file)."""
    try:
        check(m, bound_dims(m, bind))
    except BaseException as exc:
        raise AssertionError(f"{type(exc).__name__}: {exc} — input saved as "
                             f"{saved(m.SerializeToString())}") from exc


def test_truncated_at_every_length_of_a_small_model():
    """Every prefix of a valid model: a ModelReadError or a count, never anything else."""
    data = numpy_seed_model()
    for n in range(0, len(data), max(1, len(data) // 300)):
        out = run_bytes(data[:n], {"batch": 2})
        if n < len(data) // 2:
            assert isinstance(out, ModelReadError), (n, out)


def test_every_single_bit_flip_of_the_graph_header():
    data = numpy_seed_model()
    head = data[: min(len(data), 160)]
    for i in range(len(head)):
        for bit in ((0, 7) if i % 2 else (3,)):
            b = bytearray(data)
            b[i] ^= 1 << bit
            run_bytes(bytes(b), {"batch": 2})


def test_not_onnx_inputs(tmp_path):
    for data in (b"", b"\x00", b"\xff" * 64, b"PK\x03\x04" + b"\x00" * 60, "ünïcode text".encode() * 20,
                 b"\x0a\xff\xff\xff\xff\x0f", b"\x3a" + b"\x80" * 12):
        out = run_bytes(data, {})
        assert isinstance(out, ModelReadError), (data[:16], out)
    with pytest.raises(ModelReadError):
        flopest.count(str(tmp_path))          # a folder
    with pytest.raises(ModelReadError):
        flopest.count(str(tmp_path / "missing.onnx"))


def test_modelproto_with_invalid_utf8_is_refused():
    m = onnx.ModelProto()
    m.ParseFromString(open(os.path.join(CORPUS_DIR, "utf8_invalid_op_type.onnx"), "rb").read())
    with pytest.raises(ModelReadError, match="UTF-8"):
        flopest.count(m)


ODD_VALUES = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70), st.floats(allow_nan=True),
                       st.text(max_size=8), st.binary(max_size=8), st.lists(st.integers(0, 3), max_size=2))


@settings(max_examples=EXAMPLES, deadline=None, derandomize=EXAMPLES <= 500, database=None,
          suppress_health_check=list(HealthCheck))
@given(model=st.one_of(ODD_VALUES, st.sampled_from(["", "zoo:", "zoo:nope", "x.onnx", "/", "a\x00b"])),
       dims=st.one_of(ODD_VALUES, st.dictionaries(st.one_of(st.text(max_size=6), st.integers()), ODD_VALUES,
                                                  max_size=3), st.lists(st.text(max_size=10), max_size=3)))
def test_fuzz_api_arguments(model, dims):
    """flopest.count(model, dims=...) with arguments of any type: a FlopestError, never a
    TypeError from deep inside. A valid model with odd dims too."""
    for m in (model, os.path.join(CORPUS_DIR, "cycle.onnx"), mlp_model()):
        with time_limit(LIMIT_S):
            try:
                flopest.count(m, dims=dims).to_dict()
            except FlopestError:
                pass


def test_deep_function_chains_are_refused_whatever_the_recursion_limit():
    """Functions chained 600 deep are refused by an explicit nesting limit, not by the
    interpreter's RecursionError: some libraries raise sys.getrecursionlimit() (the CI run
    after a full-suite import saw this file counted as 0 FLOPs with 6400 % coverage)."""
    import sys
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(100_000)
    try:
        e = check(os.path.join(CORPUS_DIR, "functions_chained_600_deep.onnx"))
    finally:
        sys.setrecursionlimit(old)
    assert isinstance(e, ModelReadError) and "levels deep" in str(e), e
