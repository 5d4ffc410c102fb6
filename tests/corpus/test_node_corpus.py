"""A fast subset of the ONNX backend node-test corpus (benchmarks/bench_node_corpus.py runs all
of it): the cases of the matrix, convolution, recurrent, attention, normalization, pooling and
Col2Im operators, generated here with onnx's own generator, each counted as written and as a
copy with every input dim symbolic; no exception other than FlopestError, no silent
static/symbolic disagreement, the hand formulas of the benchmark hold."""

from __future__ import annotations

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

# Failures found by the corpus that another area is fixing (issue 13.2: a symbolic batch dim
# of MatMul's B is taken over A's; the onnx front end's broadcasting work). A failure outside
# this set fails the tests; drop an entry when its fix lands.
KNOWN = {"test_matmul_bcast"}


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
    bad = _failures(results, "silent")
    assert set(bad) <= KNOWN, {k: v for k, v in bad.items() if k not in KNOWN}


def test_formulas(results):
    bad = _failures(results, "formula")
    assert set(bad) <= KNOWN, {k: v for k, v in bad.items() if k not in KNOWN}


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
