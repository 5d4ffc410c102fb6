"""A fast subset of the ONNX backend node-test corpus (benchmarks/bench_node_corpus.py runs all
of it): the cases of the matrix, convolution, recurrent, attention, normalization, pooling and
Col2Im operators, generated here with onnx's own generator, each counted as written and as a
copy with every input dim symbolic; no exception other than FlopestError, no silent
static/symbolic disagreement, the hand formulas of the benchmark hold. The OneHot and Resize
cases, whose symbolic copies have sizes that depend on input values, check that such a copy
is still compared (its invented dims bound to their run-time sizes), and the harness's rule
that a disagreement counts as explained only when a note names it."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from tests.scripts import load

corpus = load("benchmarks/bench_node_corpus.py")

# onnx.backend.test.case.node modules of the subset (each generates its cases on import)
MODULES = ["matmul", "gemm", "einsum", "conv", "convtranspose", "convinteger", "qlinearconv",
           "matmulinteger", "deformconv", "rnn", "lstm", "gru", "attention", "layernormalization",
           "rmsnormalization", "batch_normalization", "instance_normalization",
           "groupnormalization", "meanvariancenormalization", "maxpool", "averagepool", "lppool",
           "globalaveragepool", "globalmaxpool", "col2im"]
# attention generates ~190 models: the single-operator ones of the main layouts
ATTENTION = {"test_attention_4d", "test_attention_4d_gqa", "test_attention_4d_diff_heads_sizes",
             "test_attention_4d_with_past_and_present", "test_attention_3d",
             "test_attention_3d_gqa", "test_attention_3d_diff_heads_with_past_and_present",
             "test_attention_4d_causal", "test_attention_4d_attn_mask"}
# the cases whose symbolic copy is refused until its data-dependent dims are bound
DATA_DEPENDENT = ["onehot", "resize"]


@pytest.fixture(scope="module")
def results():
    cases = [c for c in corpus.generate(MODULES)
             if not c.name.startswith("test_attention") or c.name in ATTENTION]
    assert len(cases) > 150, len(cases)
    return corpus.run(cases)


def _failures(results, prefix):
    return {r.name: [f for f in r.failures if f.startswith(prefix)]
            for r in results if any(f.startswith(prefix) for f in r.failures)}


def test_no_exception_but_flopest_errors(results):
    assert _failures(results, "exception") == {}


def test_no_silent_disagreement(results):
    # test_matmul_bcast, listed here as a known failure until the symbolic broadcasting work
    # (issue 13.2), passes now: no exception list is left
    assert _failures(results, "silent") == {}
    assert any(r.name == "test_matmul_bcast" and not r.failures for r in results)


def test_formulas(results):
    assert _failures(results, "formula") == {}


def test_every_symbolic_copy_is_compared(results):
    assert [r.name for r in results if r.not_compared] == []


def test_every_family_checked(results):
    """Each formula family of the subset met at least one single-operator case."""
    seen = {r.ops[0] for r in results if r.expected is not None}
    assert seen >= set(corpus.FORMULAS) - {"GlobalLpPool", "QLinearMatMul"}, set(corpus.FORMULAS) - seen


@pytest.mark.parametrize("name, field, value", [
    # MatMul A (3, 4) @ B (4, 3): 2*3*3*4 = 72
    ("test_matmul_2d", "matmul_flops", 72),
    # Gemm A (3, 5), B (5, 4): 2*3*4*5 = 120
    ("test_gemm_default_no_bias", "matmul_flops", 120),
    # Conv X (1, 1, 5, 5), W (1, 1, 3, 3), pads 1 -> Y (1, 1, 5, 5): 2*25*9 = 450
    ("test_basic_conv_with_padding", "matmul_flops", 450),
    # ConvTranspose X (1, 1, 3, 3), W (1, 2, 3, 3): every input through 2*9 weights: 2*9*18 = 324
    ("test_convtranspose", "matmul_flops", 324),
    # LSTM X (1, 3, 2), W (1, 12, 2), R (1, 12, 3): 2*1*3*(24 + 36) = 360
    ("test_lstm_defaults", "matmul_flops", 360),
    # Einsum "bij,bjk->bik" x (5, 2, 3), y (5, 3, 4): letters b i j k: 2*5*2*3*4 = 240
    ("test_einsum_batch_matmul", "matmul_flops", 240),
    # Attention Q (2, 3, 4, 8), K (2, 3, 6, 8), V (2, 3, 6, 8): 2*2*3*4*6*(8 + 8) = 4,608
    ("test_attention_4d", "matmul_flops", 4608),
    # MaxPool 2D default: X (1, 3, 32, 32), kernel (2, 2) -> Y (1, 3, 31, 31): 2,883*4 = 11,532
    ("test_maxpool_2d_default", "flops", 11532),
])
def test_formula_by_hand(results, name, field, value):
    """The harness's formulas themselves, on named cases derived by hand; and flopest agrees."""
    r = next(r for r in results if r.name == name)
    assert r.expected == (field, value)
    assert getattr(r.static, field) == value


def test_harness_fails_a_wrong_count(results, monkeypatch):
    """A formula off by one FLOP and a symbolic copy that counts differently are both caught."""
    case = next(c for c in corpus.generate(["matmul"]) if c.name == "test_matmul_2d")
    monkeypatch.setitem(corpus.FORMULAS, "MatMul", lambda node, a, sin, sout: ("matmul_flops", 73))
    r = corpus.check(case, None)
    assert any(f.startswith("formula (static): matmul_flops 72 != 73") for f in r.failures), r.failures
    monkeypatch.undo()
    real = corpus.symbolic_copy

    def widened(model):   # bind the symbolic copy's first dim one larger: a 4x3 @ 4x3 matmul
        m, dims = real(model)
        dims["d0_0"] += 1
        return m, dims
    monkeypatch.setattr(corpus, "symbolic_copy", widened)
    r = corpus.check(case, None)
    assert any(f.startswith("silent disagreement") for f in r.failures), r.failures


# ------------------------------------------------------------- data-dependent sizes (refusals)
@pytest.fixture(scope="module")
def data_dependent():
    # generate() reads onnx's global list of cases, which holds every module imported so far
    return corpus.run([c for c in corpus.generate(DATA_DEPENDENT)
                       if {n.op_type for n in c.model.graph.node} & {"OneHot", "Resize"}])


def test_refused_symbolic_copies_are_compared_at_bound_dims(data_dependent):
    """Every symbolic copy of OneHot and Resize is refused (UnboundDimError) until the dims
    inference invented for its data-dependent output are bound; then it is compared, and
    agrees with the static count."""
    assert len(data_dependent) > 30
    assert all(r.bound for r in data_dependent), [r.name for r in data_dependent if not r.bound]
    assert [r.name for r in data_dependent if r.not_compared] == []
    assert {k: v for r in data_dependent for k, v in _failures([r], "").items()} == {}
    r = next(r for r in data_dependent if r.name == "test_resize_upsample_scales_linear")
    # X (1, 1, 2, 2), scales (1, 1, 2, 2) -> Y (1, 1, 4, 4): the invented dims bound to the
    # run-time Y; 2 resized axes -> 4 taps, 7 FLOPs per output: 16*7 = 112 in both counts
    assert sorted(r.bound.values()) == [1, 1, 4, 4]
    assert r.static.flops == r.symbolic.flops == 112


def test_a_copy_that_cannot_be_bound_is_listed(monkeypatch):
    """Without the run-time shapes the refusal is not compared, and says so (tallied, listed)."""
    case = next(c for c in corpus.generate(["onehot"]) if c.name == "test_onehot_without_axis")
    monkeypatch.setattr(corpus, "run_time_shapes", lambda case: {})
    r = corpus.check(case, None)
    assert r.not_compared.startswith("the run-time shape of"), r.not_compared
    t = corpus.tally([r])
    assert t["symbolic copies not compared"] == 1 and t["refused (FlopestError)"] == 1


def _c(unknown=None, notes=()):
    return SimpleNamespace(unknown_ops=dict(unknown or {}), notes=list(notes))


def test_a_disagreement_is_explained_only_by_a_note_that_names_it():
    model = next(c for c in corpus.generate(["matmul"]) if c.name == "test_matmul_2d").model
    generic = "shapes from onnxruntime's symbolic shape inference"
    # a difference in notes that names nothing (which engine ran) explains nothing
    assert corpus.explanation(_c(), _c(notes=[generic]), model) == ""
    # an operator left uncosted by one count, with the note saying why: named
    why = "MatMul: shape not inferred (output 0 of MatMul); node 'MatMul_0' not costed"
    assert corpus.explanation(_c(), _c({"MatMul": 1}, [why]), model) == "unknown operator(s) MatMul"
    # ... but not without that note
    assert corpus.explanation(_c(), _c({"MatMul": 1}, [generic]), model) == ""
    # the same unknown operators: a note on a node of the model names it
    node_note = "MatMul node 'MatMul_0': dims bound to sizes that do not broadcast; not costed"
    assert corpus.explanation(_c(notes=[node_note]), _c(), model) == "a note on node 'MatMul_0'"
    assert corpus.explanation(_c(notes=["a note on 'nothing_here'"]), _c(), model) == ""
