"""Reading ONNX files: graph without weight bytes, external data, ModelProto input, symbolic
re-binding without re-reading."""

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import flopest
from flopest.frontends import onnx as fe
from flopest.frontends.onnx.proto import KEEP_INITIALIZER_BYTES, read_graph_only
from tests.conftest import mlp_model


def big_model(d=256):
    """x(batch, d) @ W1(d, d) -> Relu -> @ W2(d, 10); W1 and W2 large enough to be stripped."""
    rng = np.random.default_rng(1)
    w1 = numpy_helper.from_array(rng.random((d, d), dtype=np.float32), "W1")
    w2 = numpy_helper.from_array(rng.random((d, 10), dtype=np.float32), "W2")
    shape = numpy_helper.from_array(np.array([-1, d], np.int64), "shape")
    g = helper.make_graph(
        [helper.make_node("Reshape", ["x", "shape"], ["x2"]), helper.make_node("MatMul", ["x2", "W1"], ["h"]),
         helper.make_node("Relu", ["h"], ["r"]), helper.make_node("MatMul", ["r", "W2"], ["y"])],
        "big", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", d])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 10])], initializer=[w1, w2, shape])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


def expected_flops(b, d=256):
    # 2*b*d*d (first MatMul) + b*d (Relu) + 2*b*d*10 (second MatMul)
    return 2 * b * d * d + b * d + 2 * b * d * 10


def test_graph_read_without_weight_bytes(tmp_path):
    m = big_model()
    p = tmp_path / "big.onnx"
    onnx.save(m, str(p))
    g, stats = read_graph_only(str(p))
    full = onnx.load(str(p))
    assert [n.SerializeToString() for n in g.graph.node] == [n.SerializeToString() for n in full.graph.node]
    assert [(t.name, list(t.dims), t.data_type) for t in g.graph.initializer] == \
           [(t.name, list(t.dims), t.data_type) for t in full.graph.initializer]
    sizes = {t.name: len(t.raw_data) for t in g.graph.initializer}
    assert sizes["W1"] == 0 and sizes["W2"] == 0           # 256*256*4 and 256*10*4 bytes > 4096: stripped
    assert sizes["shape"] == 16                            # 2 int64 kept for shape computations
    assert stats["stripped"] == 2 and stats["skipped_bytes"] > 256 * 256 * 4
    assert KEEP_INITIALIZER_BYTES < 256 * 10 * 4


def test_path_modelproto_and_external_data_agree(tmp_path):
    m = big_model()
    p1 = tmp_path / "embedded.onnx"
    onnx.save(m, str(p1))
    p2 = tmp_path / "external.onnx"
    onnx.save(m, str(p2), save_as_external_data=True, all_tensors_to_one_file=True, location="weights.bin",
              size_threshold=1024)
    assert (tmp_path / "weights.bin").stat().st_size >= 256 * 256 * 4
    counts = [flopest.count(x, dims={"batch": 4}) for x in (str(p1), m, str(p2))]
    for c in counts:
        assert c.flops == expected_flops(4)
        assert c.params == 256 * 256 + 256 * 10         # float initializers only, not the int64 shape
        assert c.unknown_ops == {} and c.coverage == 1.0


def test_at_rebinds_without_rereading(tmp_path, monkeypatch):
    p = tmp_path / "big.onnx"
    onnx.save(big_model(), str(p))
    c = flopest.count(str(p), dims={"batch": 1})
    assert c.flops == expected_flops(1)

    def boom(*a, **k):
        raise AssertionError("the model was read again")

    monkeypatch.setattr(fe, "analyse", boom)
    monkeypatch.setattr(fe, "load", boom)
    for b in (2, 7, 1000):
        assert c.at(batch=b).flops == expected_flops(b)
    assert c.flops == expected_flops(1)    # the original binding is untouched


def test_unnamed_input_dims_get_names():
    m = mlp_model(batch=None)   # no dim_param, no dim_value
    m.graph.input[0].type.tensor_type.shape.dim[0].Clear()
    with pytest.raises(flopest.UnboundDimError, match="x_dim0"):
        flopest.count(m)
    # 2*5*64*32 + 5*32 + 5*32 = 20480 + 320
    assert flopest.count(m, dims={"x_dim0": 5}).flops == 20480 + 320


def test_static_model_needs_no_dims():
    m = mlp_model(batch=3)
    c = flopest.count(m)
    assert c.flops == 2 * 3 * 64 * 32 + 2 * 3 * 32
    with pytest.raises(flopest.InputError, match="not a dim of this model"):
        flopest.count(m, dims={"batch": 2})


def test_symbolic_expression_dims_from_reshape():
    """(batch, seq, 64) -> Reshape via Shape/Gather/Concat to (batch*seq, 64) -> MatMul(64, 16)."""
    nodes = [
        helper.make_node("Shape", ["x"], ["s"]),
        helper.make_node("Gather", ["s", "i0"], ["b"], axis=0),
        helper.make_node("Gather", ["s", "i1"], ["t"], axis=0),
        helper.make_node("Mul", ["b", "t"], ["bt"]),
        helper.make_node("Unsqueeze", ["bt", "ax0"], ["bt1"]),
        helper.make_node("Concat", ["bt1", "c64"], ["newshape"], axis=0),
        helper.make_node("Reshape", ["x", "newshape"], ["x2"]),
        helper.make_node("MatMul", ["x2", "W"], ["y"]),
    ]
    inits = [numpy_helper.from_array(np.array(0, np.int64), "i0"),
             numpy_helper.from_array(np.array(1, np.int64), "i1"),
             numpy_helper.from_array(np.array([0], np.int64), "ax0"),
             numpy_helper.from_array(np.array([64], np.int64), "c64"),
             numpy_helper.from_array(np.zeros((64, 16), np.float32), "W")]
    g = helper.make_graph(nodes, "r", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", "seq", 64])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], initializer=inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    c = flopest.count(m, dims={"batch": 2, "seq": 5})
    # MatMul (10, 64) @ (64, 16): 2*10*64*16 = 20480; the integer Mul on shapes costs 1 FLOP
    assert c.matmul_flops == 20480
    assert c._rebind is None   # symbolic all the way: re-binding runs the kernel only
    assert c.at(batch=3, seq=7).matmul_flops == 2 * 21 * 64 * 16


def test_tf2onnx_style_unk_input_dims_are_bindable():
    """tf2onnx names a dynamic batch dim `unk__12`; flopest renames it after the input."""
    m = mlp_model(batch="unk__12")
    with pytest.raises(flopest.UnboundDimError, match="x_dim0"):
        flopest.count(m)
    # 2*4*64*32 + 4*32 + 4*32 = 16384 + 256
    assert flopest.count(m, dims={"x_dim0": 4}).flops == 16384 + 256


def test_no_file_written_into_the_working_folder(tmp_path, monkeypatch):
    """onnxruntime's symbolic inference saves a temp model into the current folder when it
    cannot finish; flopest must never leave files behind."""
    monkeypatch.chdir(tmp_path)
    m = mlp_model()
    m.graph.node.append(helper.make_node("Frobnicate", ["r"], ["q"], domain="acme"))
    m.graph.node.append(helper.make_node("MatMul", ["q", "W"], ["z2"]))   # needs q's unknown shape
    m.opset_import.append(helper.make_opsetid("acme", 1))
    c = flopest.count(m, dims={"batch": 2})
    assert "acme:Frobnicate" in c.unknown_ops
    assert list(tmp_path.iterdir()) == []


def _examples(model, dims=None):
    low, *_ = fe.analyse(model, dims)
    return low.examples_per_pass, low.examples_reason


def test_examples_per_pass_is_the_first_inputs_leading_dim_whatever_its_name():
    # tf2onnx names the batch 'input_1_dim0', not 'batch': the name must not matter
    assert _examples(mlp_model(batch="input_1_dim0")) == ("input_1_dim0", "")
    # bound or not, the leading axis stays its expression: its value follows every re-binding
    assert _examples(mlp_model(batch="input_1_dim0"), {"input_1_dim0": 7}) == ("input_1_dim0", "")
    assert _examples(mlp_model(batch=5)) == (5, "")
    m = mlp_model(batch=None)   # unnamed: named x_dim0 first, so the resolver can bind it
    m.graph.input[0].type.tensor_type.shape.dim[0].Clear()
    assert _examples(m) == ("x_dim0", "")
    # an initializer listed first among the graph inputs (old exporters) is skipped
    m = mlp_model(batch=3)
    w = m.graph.initializer[0]
    m.graph.input.insert(0, helper.make_tensor_value_info(w.name, w.data_type, list(w.dims)))
    assert _examples(m) == (3, "")


def test_examples_per_pass_follows_a_rebinding_of_its_dim():
    """A count made with the batch dim bound and re-bound with .at() (sweeps, --sweep) must
    carry the new examples per pass: 2 examples at N=2 and 5 at N=5, whatever the dim's name,
    so that the plan's FLOPs (examples × FLOPs per example) equal a fresh count's."""
    m = mlp_model(batch="N")
    c2 = flopest.count(m, dims={"N": 2})
    assert (c2.examples_per_pass, c2.examples_dim) == (2, "N")
    c5 = c2.at(N=5)
    assert c5.examples_per_pass == 5
    fresh = flopest.count(m, dims={"N": 5})
    assert (fresh.examples_per_pass, fresh.flops) == (5, c5.flops)
    plan = dict(dataset_size=1000, device="h100-sxm", samples=200)
    # one example: MatMul 2*64*32 + Add 32 + Relu 32 = 4160 FLOPs
    per_example = 2 * 64 * 32 + 32 + 32
    assert c5.flops == 5 * per_example
    assert flopest.estimate(c5, **plan).workload.flops == flopest.estimate(fresh, **plan).workload.flops
    # an expression of the dim (2·N) follows too; a name left unbound is unknown, not stale
    m2 = mlp_model(batch="2*N")
    c = flopest.count(m2, dims={"N": 3})
    assert (c.examples_per_pass, c.at(N=4).examples_per_pass) == (6, 8)


def test_examples_per_pass_none_with_a_reason():
    g = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [])])
    n, why = _examples(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]))
    assert n is None and "rank 0" in why and "'x'" in why
    c = numpy_helper.from_array(np.ones((2, 3), np.float32), "c")
    g = helper.make_graph([helper.make_node("Relu", ["c"], ["y"])], "g", [],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3])], initializer=[c])
    n, why = _examples(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]))
    assert n is None and "no input" in why


def test_an_lstm_over_the_leading_axis_makes_the_examples_unknown():
    """ONNX's LSTM (layout 0, the default) reads X as [sequence, batch, input]: a graph whose
    first input x[5, 3, 4] goes straight into it has 3 examples, not 5; flopest must ask."""
    rng = np.random.default_rng(0)
    w = numpy_helper.from_array(rng.random((1, 24, 4), dtype=np.float32), "W")
    r = numpy_helper.from_array(rng.random((1, 24, 6), dtype=np.float32), "R")
    g = helper.make_graph([helper.make_node("LSTM", ["x", "W", "R"], ["y"], hidden_size=6)], "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [5, 3, 4])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [5, 1, 3, 6])], initializer=[w, r])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    c = flopest.count(m)
    assert c.examples_per_pass is None and "sequence axis of LSTM" in c.examples_reason
    # batch-major (layout 1: X is [batch, sequence, input]): the leading dim is the batch
    m.graph.node[0].attribute.append(helper.make_attribute("layout", 1))
    m.graph.output[0].CopyFrom(helper.make_tensor_value_info("y", TensorProto.FLOAT, [5, 3, 1, 6]))
    assert flopest.count(m).examples_per_pass == 5


def test_inputs_that_disagree_on_their_leading_dim_make_the_examples_unknown():
    """pos[seq] first, x[batch, seq, d] second: the first input's leading dim is not the batch."""
    g = helper.make_graph([helper.make_node("Unsqueeze", ["pos", "ax"], ["p2"]), helper.make_node("Add", ["x", "p2"], ["y"])],
                          "g", [helper.make_tensor_value_info("pos", TensorProto.FLOAT, ["seq"]),
                                helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", "seq"])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", "seq"])],
                          initializer=[numpy_helper.from_array(np.array([0], np.int64), "ax")])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    c = flopest.count(m, dims={"batch": 4, "seq": 10})
    assert c.examples_per_pass is None
    assert "disagree" in c.examples_reason and "pos seq" in c.examples_reason and "x batch" in c.examples_reason


def _matmul_model(x_shape, w_shape, gemm=False):
    w = numpy_helper.from_array(np.ones(w_shape, np.float32), "W")
    node = helper.make_node("Gemm" if gemm else "MatMul", ["x", "W"], ["y"])
    g = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, x_shape)],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], initializer=[w])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


def test_matmul_inner_dims_must_agree():
    """x[B, D] @ W(8, 4): D is the weight's 8 rows. Bound to 8: 2·B·8·4 FLOPs; bound to 16, the
    model cannot run, and flopest must say so rather than count 2·B·16·4 (twice the work)."""
    m = _matmul_model(["B", "D"], (8, 4))
    assert flopest.count(m, dims={"B": 2, "D": 8}).matmul_flops == 2 * 2 * 8 * 4
    with pytest.raises(flopest.FlopestError, match="same\\(D, 8\\)"):
        flopest.count(m, dims={"B": 2, "D": 16})
    g = _matmul_model(["M", "K"], (6, 5), gemm=True)
    assert flopest.count(g, dims={"M": 3, "K": 6}).matmul_flops == 2 * 3 * 6 * 5
    with pytest.raises(flopest.FlopestError, match="same\\(K, 6\\)"):
        flopest.count(g, dims={"M": 3, "K": 7})
    # two static sizes that differ: an invalid model, the node uncosted with the reason (not 2·2·4·5)
    c = flopest.count(_matmul_model([2, 3], (4, 5)))
    assert c.unknown_ops == {"MatMul": 1} and c.matmul_flops == 0
    assert any("inner dims are 3 and 4" in n for n in c.notes)


def test_a_dim_given_twice_with_two_values_is_refused():
    from flopest.counts import parse_dims
    assert parse_dims(["batch=8", "batch=8"]) == {"batch": 8}
    with pytest.raises(flopest.FlopestError, match="given twice"):
        parse_dims(["batch=8", "batch=16"])     # the last one won silently


# ---------------------------------------------------------------- hyphenated dim names
def test_a_hyphenated_dim_name_is_one_dim_not_a_difference(tmp_path):
    """dim_param "batch-size" is the dim batch_size: x[batch-size, 16] @ W[16, 8] at 4 examples is
    2·4·16·8 = 1,024 FLOPs (read as batch − size it was a second dim, and batch=4, size=1 gave 768);
    sympy-printed expressions keep their minus ("s0 - 1"), as does a hyphen before a digit."""
    import onnx

    import flopest
    from flopest.dims import Sym, free_names, parse_dim_param
    from tests.conftest import matmul_model
    path = tmp_path / "h.onnx"
    onnx.save(matmul_model("batch-size"), path)
    for dims in ({"batch-size": 4}, {"batch_size": 4}):
        c = flopest.count(str(path), dims=dims)
        assert c.flops == 2 * 4 * 16 * 8 and c.examples_per_pass == 4
    assert c.at(batch_size=2).flops == 2 * 2 * 16 * 8
    assert parse_dim_param("sequence-length") == Sym.name("sequence_length")
    assert free_names(parse_dim_param("s0 - 1")) == {"s0"}
    assert free_names(parse_dim_param("s0-1")) == {"s0"}
    with pytest.raises(flopest.InputError, match="given twice"):
        flopest.count(str(path), dims=["batch-size=4", "batch_size=8"])


def test_a_given_examples_per_pass_is_not_carried_to_another_batch(tmp_path):
    """examples_per_pass=2 given at batch=8: .at(batch=8) keeps it; .at(batch=16) is refused (the
    given value was for batch 8: kept at 16, FLOPs per example would double silently)."""
    import onnx

    import flopest
    from tests.conftest import mlp_model
    path = tmp_path / "mlp.onnx"
    onnx.save(mlp_model(), str(path))
    c = flopest.count(str(path), dims={"batch": 8}, examples_per_pass=2)
    assert c.at(batch=8).examples_per_pass == 2
    with pytest.raises(flopest.InputError, match="give it again"):
        c.at(batch=16)
    assert flopest.count(str(path), dims={"batch": 8}).at(batch=16).examples_per_pass == 16
