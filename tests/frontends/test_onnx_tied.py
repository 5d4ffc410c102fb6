"""Tied weights stored twice by an exporter (GPT-2's embedding and LM head) are counted once in
params, said in the notes, and only a few elements of each candidate are read."""

from __future__ import annotations

import importlib

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import flopest

onnx_load = importlib.import_module("flopest.frontends.onnx.load")   # the module (the package exports a function `load`)

V, D = 512, 128          # 65,536 elements: TIE_MIN_ELEMENTS


def _lm(head: np.ndarray, emb: np.ndarray, *, transposed: bool = True):
    """ids[B, S] -> Gather(emb) -> MatMul(head) -> logits: an embedding and an LM head."""
    inits = [numpy_helper.from_array(emb, "emb"), numpy_helper.from_array(head, "head")]
    nodes = [helper.make_node("Gather", ["emb", "ids"], ["h"]),
             helper.make_node("MatMul", ["h", "head"], ["logits"]) if transposed else
             helper.make_node("Gemm", ["h2", "head"], ["logits"], transB=1)]
    if not transposed:
        nodes.insert(1, helper.make_node("Reshape", ["h", "shape"], ["h2"]))
        inits.append(numpy_helper.from_array(np.array([-1, D], np.int64), "shape"))
    g = helper.make_graph(nodes, "lm", [helper.make_tensor_value_info("ids", TensorProto.INT64, ["B", "S"])],
                          [helper.make_tensor_value_info("logits", TensorProto.FLOAT, None)], initializer=inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


def _both(model, tmp_path):
    path = tmp_path / "lm.onnx"
    onnx.save(model, path)
    return flopest.count(str(path), dims={"B": 1, "S": 4}), flopest.count(model, dims={"B": 1, "S": 4})


def test_transposed_copy_is_counted_once(tmp_path):
    emb = np.random.default_rng(0).standard_normal((V, D)).astype(np.float32)
    for c in _both(_lm(np.ascontiguousarray(emb.T), emb), tmp_path):
        assert c.params == V * D                      # 65,536, not 131,072
        assert any("stored twice" in n and "'head' = 'emb' transposed" in n for n in c.notes)
        assert c.flops > 0


def test_same_orientation_copy_is_counted_once(tmp_path):
    emb = np.random.default_rng(1).standard_normal((V, D)).astype(np.float32)
    for c in _both(_lm(emb.copy(), emb, transposed=False), tmp_path):
        assert c.params == V * D
        assert any("'head' = 'emb' (" in n for n in c.notes)


def test_untied_weights_are_both_counted(tmp_path):
    rng = np.random.default_rng(2)
    emb = rng.standard_normal((V, D)).astype(np.float32)
    head = rng.standard_normal((D, V)).astype(np.float32)
    for c in _both(_lm(head, emb), tmp_path):
        assert c.params == 2 * V * D
        assert not any("stored twice" in n for n in c.notes)


def test_matrices_filled_with_one_value_are_not_taken_as_copies(tmp_path):
    """Two all-zero matrices agree everywhere but are not evidence of one weight stored twice:
    sampled elements that are all equal never make a tie."""
    emb = np.zeros((V, D), np.float32)
    for c in _both(_lm(np.zeros((D, V), np.float32), emb), tmp_path):
        assert c.params == 2 * V * D


def test_only_sampled_elements_are_read(tmp_path, monkeypatch):
    emb = np.random.default_rng(3).standard_normal((V, D)).astype(np.float32)
    path = tmp_path / "lm.onnx"
    onnx.save(_lm(np.ascontiguousarray(emb.T), emb), path)
    reads = []
    real = onnx_load.read_elements

    def spy(p, span, itemsize, idx):
        reads.append(len(idx) * itemsize)
        return real(p, span, itemsize, idx)
    monkeypatch.setattr(onnx_load, "read_elements", spy)
    c = flopest.count(str(path), dims={"B": 1, "S": 4})
    assert c.params == V * D
    assert reads == [onnx_load.TIE_SAMPLES * 4] * 2       # 256 bytes of each 256 kB tensor


@pytest.mark.torch
def test_torchscript_export_of_a_tied_lm_counts_the_weight_once(tmp_path):
    """torch's TorchScript exporter stores a tied embedding / LM head twice (the head transposed
    for its MatMul): params = the module's own (a shared tensor once)."""
    torch = pytest.importorskip("torch")

    class LM(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = torch.nn.Embedding(V, D)
            self.head = torch.nn.Linear(D, V, bias=False)
            self.head.weight = self.emb.weight

        def forward(self, ids):
            return self.head(self.emb(ids))
    m = LM().eval()
    path = tmp_path / "lm.onnx"
    torch.onnx.export(m, (torch.zeros(1, 4, dtype=torch.int64),), str(path), dynamo=False,
                      input_names=["ids"], dynamic_axes={"ids": {0: "B", 1: "S"}})
    stored = sum(int(np.prod(t.dims)) for t in onnx.load(str(path)).graph.initializer if t.data_type == 1)
    c = flopest.count(str(path), dims={"B": 1, "S": 4})
    assert c.params == sum(p.numel() for p in m.parameters()) == V * D
    assert stored in (V * D, 2 * V * D)
