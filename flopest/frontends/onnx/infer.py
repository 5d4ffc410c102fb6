"""Shape inference engines over a weight-free ModelProto: onnx's C++ inference followed by
flopest's propagation (:mod:`.propagate`), onnx alone, or onnxruntime's symbolic inference
(fed a graph whose weights and external tensors are lifted to inputs, and run without its
side effect of saving files).
"""

from __future__ import annotations

import logging

import numpy as np
from . import pb

from .load import lacks_data
from .propagate import ShapeInfo, collect, propagate

def _fix_inputs(model: pb.ModelProto, fixed: dict) -> pb.ModelProto:
    m = pb.ModelProto()
    m.CopyFrom(model)
    for vi in m.graph.input:
        for d in vi.type.tensor_type.shape.dim:
            if d.HasField("dim_param") and d.dim_param in fixed:
                d.dim_value = int(fixed[d.dim_param])
    return m


def _ort_ready(model: pb.ModelProto) -> pb.ModelProto:
    """onnxruntime's tool reads every initializer's data, and opens the file external data
    names (relative to the working folder): turn the weight-free initializers, and every tensor
    whose data is external (initializers and Constant nodes, subgraphs included), into typed
    inputs of the main graph instead (a subgraph sees the main graph's values)."""
    m = pb.ModelProto()
    m.CopyFrom(model)
    main = m.graph
    names = {vi.name for vi in main.input}

    def lift(name, t):
        if name not in names:
            names.add(name)
            main.input.append(pb.full().helper.make_tensor_value_info(name, t.data_type, list(t.dims)))

    def visit(g):
        keep = []
        for t in g.initializer:
            if lacks_data(t):
                lift(t.name, t)
            else:
                keep.append(t)
        del g.initializer[:]
        g.initializer.extend(keep)
        nodes = []
        for node in g.node:
            ext = [a.t for a in node.attribute if a.name == "value" and a.type == pb.AttributeProto.TENSOR
                   and lacks_data(a.t)]
            if node.op_type == "Constant" and node.output and ext:
                lift(node.output[0], ext[0])
                continue
            if any(a.type == pb.AttributeProto.TENSOR and lacks_data(a.t) for a in node.attribute):
                # onnxruntime's tool would read it (and fail, or take a made-up value as a shape):
                # this engine does not run on the model; flopest's own propagation leaves it unknown
                raise ValueError(f"{node.op_type} node {node.name or '(unnamed)'!r} has a tensor attribute "
                                 f"without its data (external, never read)")
            for a in node.attribute:
                if a.type == pb.AttributeProto.GRAPH:
                    visit(a.g)
                elif a.type == pb.AttributeProto.GRAPHS:
                    for sub in a.graphs:
                        visit(sub)
            nodes.append(node)
        del g.node[:]
        g.node.extend(nodes)

    visit(main)
    return m


def infer(model: pb.ModelProto, engine: str = "flopest", fixed: dict | None = None,
          names: list | None = None) -> ShapeInfo:
    """Shapes of every value. engine: 'flopest' (onnx's C++ inference, then flopest's symbolic
    shape-and-value propagation over it), 'onnx' alone, or 'ort' (onnxruntime's symbolic
    inference). `fixed` binds input dims to ints first."""
    m = _fix_inputs(model, fixed) if fixed else model
    if engine in ("onnx", "flopest"):
        try:
            m2 = pb.infer_shapes(m, check_type=False, strict_mode=False, data_prop=True)
            err = None
        except Exception as exc:  # inconsistent graphs: keep what the model itself declares
            m2, err = m, (str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
        info = ShapeInfo()
        collect(m2.graph, info, {})
        if err:
            info.error = err
        if engine == "flopest":
            info = propagate(m, info, names or [])
        return info
    from onnxruntime.tools.symbolic_shape_infer import SymbolicShapeInference
    logging.getLogger("onnxruntime").setLevel(logging.ERROR)
    with np.errstate(all="ignore"):   # its numpy arithmetic on odd constants warns on stderr
        m = _ort_infer(SymbolicShapeInference, _ort_ready(m))
    info = ShapeInfo()
    collect(m.graph, info, {})
    return info


class SymbolsMerged(RuntimeError):
    """onnxruntime's inference took two dims to be equal that NumPy broadcasting lets differ."""


def _ort_infer(cls, model: pb.ModelProto) -> pb.ModelProto:
    """onnxruntime's symbolic inference, without its side effect: its public `infer_shapes`
    saves `sym_shape_infer_temp.onnx` (and external data files) into the current folder when
    inference is incomplete. flopest runs the same steps and keeps the partial result.

    Run without auto_merge; even so the tool merges dims that meet in a broadcast (mask[mq, k]
    + scores[b, h, q, k] makes mq and b one symbol although mq = 1 is valid; x[n] + y[1000]
    makes n 1000 everywhere) and uses the merge: then its result is refused (SymbolsMerged),
    not silently used. Merging the two sides of a contraction (MatMul's k) stays: they are
    equal in every valid model."""
    from onnxruntime.tools.symbolic_shape_infer import is_literal

    class Strict(cls):
        def _check_merged_dims(self, dims, allow_broadcast=True):
            if allow_broadcast:
                big = [d for d in dims if not (is_literal(d) and int(d) <= 1)]
                if not all(d == big[0] for d in big):
                    raise SymbolsMerged(f"it takes dims {', '.join(map(str, big))} to be equal, "
                                        f"which broadcasting lets differ")
            return super()._check_merged_dims(dims, allow_broadcast)

    inf = Strict(2**31 - 1, False, False, 0)      # int_max, auto_merge, guess_output_rank, verbose
    inf._preprocess(model)
    while inf.run_:
        inf._infer_impl()
    inf._update_output_from_vi()
    return inf.out_mp_

