"""ONNX front end: load a model (path or ModelProto) without its weight bytes, infer shapes,
keep symbolic dims symbolic, and map every node (subgraphs included) to OpTable rows through
the operator registry; every node that cannot be costed is named in ``unknown_ops``.

Shapes come from ``onnx.shape_inference`` (with data propagation) on the weight-free graph;
where it leaves dims unknown, onnxruntime's symbolic shape inference is tried; where both
fail and the user has bound every input dim, the graph is re-inferred with concrete input
shapes (then each re-binding re-reads the graph: said in ``Counts.notes``).
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import onnx
from onnx import numpy_helper

from .. import kinds
from ..dims import Sym, parse_dim_param, sanitize
from ..errors import InputError, ModelReadError
from ..ops import Ctx, ShapeUnknown, lookup
from ..optable import TableBuilder
from ._protoscan import WireError, read_graph_only, strip_model

_FLOAT_TYPES = {onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16, onnx.TensorProto.BFLOAT16,
                onnx.TensorProto.DOUBLE} | {getattr(onnx.TensorProto, n) for n in
                                             ("FLOAT8E4M3FN", "FLOAT8E4M3FNUZ", "FLOAT8E5M2",
                                              "FLOAT8E5M2FNUZ", "FLOAT4E2M1") if hasattr(onnx.TensorProto, n)}
_CONST_LIMIT = 1 << 16   # constant inputs up to this many elements are made available to lowerings


def elem_size(dt: int) -> int:
    try:
        return max(1, int(np.dtype(onnx.helper.tensor_dtype_to_np_dtype(dt)).itemsize))
    except Exception:
        return 4


# ---------------------------------------------------------------------------------- loading
def load(model) -> tuple[onnx.ModelProto, dict]:
    """Weight-free ModelProto from a path or a ModelProto; ModelReadError names the problem."""
    if isinstance(model, onnx.ModelProto):
        return strip_model(model), {"source": "<ModelProto>", "file_bytes": model.ByteSize()}
    path = os.fspath(model)
    if not os.path.exists(path):
        raise ModelReadError(f"model file {path!r} does not exist")
    if os.path.isdir(path):
        raise ModelReadError(f"model path {path!r} is a directory; give the .onnx file")
    try:
        m, stats = read_graph_only(path)
    except WireError as exc:
        raise ModelReadError(f"{path!r} is not a readable ONNX model (truncated or not a protobuf: "
                             f"{exc}); re-export it or check the download") from None
    except OSError as exc:
        raise ModelReadError(f"cannot read {path!r}: {exc.strerror or exc}") from None
    if not m.HasField("graph") or (len(m.graph.node) == 0 and len(m.graph.output) == 0):
        raise ModelReadError(f"{path!r} parsed as protobuf but holds no ONNX graph; is it an ONNX model?")
    stats["source"] = path
    return m, stats


# ---------------------------------------------------------------------------------- shapes
@dataclass
class ShapeInfo:
    shapes: dict = field(default_factory=dict)   # name -> tuple of Dim, or None
    dtypes: dict = field(default_factory=dict)   # name -> onnx elem type
    unknown_dims: bool = False


def _dim(d, cache: dict):
    if d.HasField("dim_value"):
        return int(d.dim_value)
    if d.HasField("dim_param") and d.dim_param and not d.dim_param.startswith("unk__"):
        p = d.dim_param
        v = cache.get(p)
        if v is None:
            v = cache[p] = parse_dim_param(p)
        return v
    return None


def _collect(graph, info: ShapeInfo, cache: dict) -> None:
    for vi in list(graph.input) + list(graph.output) + list(graph.value_info):
        t = vi.type
        if not t.HasField("tensor_type"):
            continue
        tt = t.tensor_type
        info.dtypes[vi.name] = tt.elem_type
        if not tt.HasField("shape"):
            info.shapes.setdefault(vi.name, None)
            continue
        dims = tuple(_dim(d, cache) for d in tt.shape.dim)
        if any(d is None for d in dims):
            info.unknown_dims = True
            info.shapes.setdefault(vi.name, None)
        else:
            info.shapes[vi.name] = dims
    for t in graph.initializer:
        info.shapes[t.name] = tuple(int(d) for d in t.dims)
        info.dtypes[t.name] = t.data_type
    for node in graph.node:
        for a in node.attribute:
            if a.type == onnx.AttributeProto.GRAPH:
                _collect(a.g, info, cache)
            elif a.type == onnx.AttributeProto.GRAPHS:
                for g in a.graphs:
                    _collect(g, info, cache)


def input_dims(model: onnx.ModelProto) -> list:
    """Names of the symbolic dims of the graph inputs (unnamed dims get a name first)."""
    inits = {t.name for t in model.graph.initializer}
    names = []
    for vi in model.graph.input:
        if vi.name in inits or not vi.type.HasField("tensor_type"):
            continue
        for i, d in enumerate(vi.type.tensor_type.shape.dim):
            if not d.HasField("dim_value"):
                # unnamed, or named like the dims inference invents (tf2onnx writes unk__N):
                # give it a stable name the user can bind
                if not d.dim_param or d.dim_param.startswith("unk__"):
                    d.dim_param = sanitize(f"{vi.name}_dim{i}")
                for n in sorted(_names(d.dim_param)):
                    if n not in names:
                        names.append(n)
    return names


def _names(p: str) -> set:
    from ..dims import free_names
    return free_names(parse_dim_param(p))


def _fix_inputs(model: onnx.ModelProto, fixed: dict) -> onnx.ModelProto:
    m = onnx.ModelProto()
    m.CopyFrom(model)
    for vi in m.graph.input:
        for d in vi.type.tensor_type.shape.dim:
            if d.HasField("dim_param") and d.dim_param in fixed:
                d.dim_value = int(fixed[d.dim_param])
    return m


def _ort_ready(model: onnx.ModelProto) -> onnx.ModelProto:
    """onnxruntime's tool reads every initializer's data: turn the weight-free ones into typed
    graph inputs instead."""
    m = onnx.ModelProto()
    m.CopyFrom(model)
    keep = []
    for t in m.graph.initializer:
        n = 1
        for d in t.dims:
            n *= d
        if n and not (t.raw_data or t.float_data or t.int64_data or t.int32_data or t.double_data):
            m.graph.input.append(onnx.helper.make_tensor_value_info(t.name, t.data_type, list(t.dims)))
        else:
            keep.append(t)
    del m.graph.initializer[:]
    m.graph.initializer.extend(keep)
    return m


def infer(model: onnx.ModelProto, engine: str = "flopest", fixed: dict | None = None,
          names: list | None = None) -> ShapeInfo:
    """Shapes of every value. engine: 'flopest' (onnx's C++ inference, then flopest's symbolic
    shape-and-value propagation over it), 'onnx' alone, or 'ort' (onnxruntime's symbolic
    inference). `fixed` binds input dims to ints first."""
    m = _fix_inputs(model, fixed) if fixed else model
    if engine in ("onnx", "flopest"):
        try:
            m2 = onnx.shape_inference.infer_shapes(m, check_type=False, strict_mode=False, data_prop=True)
            err = None
        except Exception as exc:  # inconsistent graphs: keep what the model itself declares
            m2, err = m, (str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
        info = ShapeInfo()
        _collect(m2.graph, info, {})
        if err:
            info.error = err
        if engine == "flopest":
            info = _propagate(m, info, names or [])
        return info
    from onnxruntime.tools.symbolic_shape_infer import SymbolicShapeInference
    import logging
    logging.getLogger("onnxruntime").setLevel(logging.ERROR)
    m = SymbolicShapeInference.infer_shapes(_ort_ready(m), int_max=2**31 - 1, auto_merge=True,
                                            guess_output_rank=False, verbose=0)
    info = ShapeInfo()
    _collect(m.graph, info, {})
    return info


def _propagate(m: onnx.ModelProto, onnx_info: ShapeInfo, names: list) -> ShapeInfo:
    from ..dims import free_names
    from ._shapes import VALUE_LIMIT, Propagator
    allowed = set(names)

    def ok(shape):
        return all(isinstance(d, int) or free_names(d) <= allowed for d in shape)

    info = ShapeInfo()
    info.dtypes = dict(onnx_info.dtypes)
    shapes, values = info.shapes, {}
    cache: dict = {}
    consts: dict = {}
    _constants(m.graph, consts)

    def seed(graph):
        for vi in graph.input:
            if vi.type.HasField("tensor_type") and vi.type.tensor_type.HasField("shape"):
                dims = tuple(_dim(d, cache) for d in vi.type.tensor_type.shape.dim)
                shapes[vi.name] = None if any(d is None for d in dims) else dims
                info.dtypes[vi.name] = vi.type.tensor_type.elem_type
            elif vi.name in onnx_info.shapes:
                shapes[vi.name] = onnx_info.shapes[vi.name]
        for t in graph.initializer:
            shapes[t.name] = tuple(int(d) for d in t.dims)
            info.dtypes[t.name] = t.data_type
            c = consts.get(t.name)
            if c is not None and c.size <= VALUE_LIMIT and c.dtype.kind in "iubf":
                values[t.name] = [int(x) if c.dtype.kind in "iub" else float(x) for x in c.reshape(-1).tolist()]

    prop = Propagator(shapes, values, info.dtypes, onnx_info.shapes, ok)

    def run(graph):
        seed(graph)
        for node in graph.node:
            for a in node.attribute:
                if a.type == onnx.AttributeProto.GRAPH:
                    run(a.g)
            prop.node(node)
            if node.op_type == "If" and node.output:
                then = next((a.g for a in node.attribute if a.name == "then_branch"), None)
                if then is not None:
                    for o, so in zip(node.output, then.output):
                        if shapes.get(o) is None and shapes.get(so.name) is not None:
                            shapes[o] = shapes[so.name]

    run(m.graph)
    info.values = values
    return info


# ---------------------------------------------------------------------------------- lowering
@dataclass
class Lowered:
    table: object
    node_count: int
    costed: int
    unknown_ops: Counter
    notes: list
    uncosted_shape: int     # nodes uncosted because a shape was not inferred


def _attrs(node) -> dict:
    out = {}
    for a in node.attribute:
        if a.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS):
            continue
        try:
            v = onnx.helper.get_attribute_value(a)
        except Exception:
            continue
        if isinstance(v, bytes):
            v = v.decode("utf-8", "replace")
        elif isinstance(v, list):
            v = [x.decode("utf-8", "replace") if isinstance(x, bytes) else x for x in v]
        out[a.name] = v
    return out


def _constants(graph, consts: dict) -> None:
    for t in graph.initializer:
        n = 1
        for d in t.dims:
            n *= d
        if n <= _CONST_LIMIT and (t.raw_data or t.float_data or t.int64_data or t.int32_data
                                  or t.double_data or n == 0):
            try:
                consts[t.name] = numpy_helper.to_array(t)
            except Exception:
                pass
    for node in graph.node:
        if node.op_type == "Constant" and node.output:
            for a in node.attribute:
                try:
                    if a.name == "value" and a.t.ByteSize() < 8 * _CONST_LIMIT:
                        consts[node.output[0]] = numpy_helper.to_array(a.t)
                    elif a.name in ("value_int", "value_float"):
                        consts[node.output[0]] = np.array(onnx.helper.get_attribute_value(a))
                    elif a.name in ("value_ints", "value_floats"):
                        consts[node.output[0]] = np.array(onnx.helper.get_attribute_value(a))
                except Exception:
                    pass
        for a in node.attribute:
            if a.type == onnx.AttributeProto.GRAPH:
                _constants(a.g, consts)


class _Walker:
    def __init__(self, info: ShapeInfo, consts: dict, functions: dict):
        self.info = info
        self.consts = consts
        self.functions = functions
        self.b = TableBuilder()
        self.nodes = 0
        self.costed = 0
        self.unknown = Counter()
        self.notes: list = []
        self.shape_fail = 0
        self._noted: set = set()

    def note(self, text: str) -> None:
        if text not in self._noted:
            self._noted.add(text)
            self.notes.append(text)

    def elem_sizes(self, node) -> tuple:
        """(input, output) bytes per element: the data input (input 0; Where's input 1) and
        output 0; either falls back to the other, then to 4 (float32)."""
        dt = self.info.dtypes
        data = node.input[1] if node.op_type == "Where" and len(node.input) > 1 else \
            (node.input[0] if node.input else "")
        es = elem_size(dt[data]) if data in dt else None
        out = node.output[0] if node.output else ""
        eo = elem_size(dt[out]) if out in dt else None
        es = es or eo or 4
        return es, eo or es

    def shape(self, name: str):
        if not name:
            return None
        return self.info.shapes.get(name)

    def walk(self, graph, prefix: str = "", group: int = -1, branch: int = -1, repeat=1) -> None:
        for idx, node in enumerate(graph.node):
            self.node(node, prefix, idx, group, branch, repeat)

    def node(self, node, prefix, idx, group, branch, repeat) -> None:
        self.nodes += 1
        key = node.op_type if node.domain in ("", "ai.onnx") else f"{node.domain}:{node.op_type}"
        name = prefix + (node.name or f"{node.op_type}_{idx}")
        es, eo = self.elem_sizes(node)

        def add(kind, params, rep=1):
            self.b.add(kind, params, elsize=es, outsize=eo, op=key, node=name, module=prefix.rstrip("/"),
                       repeat=rep * repeat if not (isinstance(rep, int) and rep == 1) else repeat,
                       group=group, branch=branch)

        if node.op_type in ("If", "Loop", "Scan") and node.domain in ("", "ai.onnx"):
            return self.control(node, key, name, add, group, branch, repeat)
        fn, free = lookup(key)
        if free:
            add(kinds.FREE, [])
            self.costed += 1
            return
        if fn is None:
            if (node.domain, node.op_type) in self.functions:
                self.note(f"{key}: a model-local function, costed from its body")
                f = self.functions[(node.domain, node.op_type)]
                self.costed += 1
                for j, n2 in enumerate(f.node):
                    self.node(n2, name + "/", j, group, branch, repeat)
                    self.nodes -= 1
                return
            self.unknown[key] += 1
            return
        ctx = Ctx(op=node.op_type, inputs=[self.shape(i) for i in node.input],
                  outputs=[self.shape(o) for o in node.output], attrs=_attrs(node),
                  consts=[self.consts.get(i) for i in node.input], name=name)
        try:
            rows = fn(ctx)
        except ShapeUnknown as exc:
            self.unknown[key] += 1
            self.shape_fail += 1
            self.note(f"{key}: shape not inferred ({exc}); node {name!r} not costed")
            return
        except (TypeError, ValueError, IndexError, KeyError, ZeroDivisionError, AttributeError) as exc:
            if isinstance(exc, InputError):
                self.note(f"{key} node {name!r}: {exc}; not costed")
            else:
                self.note(f"{key} node {name!r}: could not be costed ({type(exc).__name__}: {exc})")
            self.unknown[key] += 1
            self.shape_fail += 1
            return
        for r in rows:
            add(*r)
        self.costed += 1

    def control(self, node, key, name, add, group, branch, repeat) -> None:
        subs = {a.name: a.g for a in node.attribute if a.type == onnx.AttributeProto.GRAPH}
        if node.op_type == "If":
            g = self.b.new_group((group, branch))
            add(kinds.FREE, [])
            self.walk(subs["then_branch"], name + "/then/", g, 0, repeat)
            self.walk(subs["else_branch"], name + "/else/", g, 1, repeat)
            self.note("If: only the costlier branch is counted (an upper bound for the run)")
            self.costed += 1
            return
        if node.op_type == "Loop":
            m = self.consts.get(node.input[0]) if node.input and node.input[0] else None
            if m is None or m.size != 1:
                self.unknown[key] += 1
                self.note(f"Loop {name!r}: the trip count is not a constant; its body is not costed")
                return
            trips = int(m.reshape(-1)[0])
            add(kinds.FREE, [])
            self.note("Loop: body × constant trip count (an early exit through `cond` is not modelled)")
            self.walk(subs["body"], name + "/body/", group, branch, repeat * trips)
            self.costed += 1
            return
        # Scan: trip count = the scan axis length of the first scan input
        n_state = len(node.input) - int(_attrs(node).get("num_scan_inputs", 0))
        scan_in = node.input[n_state] if n_state < len(node.input) else None
        shp = self.shape(scan_in)
        axes = _attrs(node).get("scan_input_axes") or [0]
        if shp is None:
            self.unknown[key] += 1
            self.note(f"Scan {name!r}: the scan input's shape is unknown; its body is not costed")
            return
        add(kinds.FREE, [])
        self.walk(subs["body"], name + "/body/", group, branch, repeat * shp[axes[0]])
        self.costed += 1


def lower(model: onnx.ModelProto, info: ShapeInfo) -> Lowered:
    consts: dict = {}
    _constants(model.graph, consts)
    functions = {(f.domain, f.name): f for f in model.functions}
    w = _Walker(info, consts, functions)
    w.walk(model.graph)
    return Lowered(w.b.build(), w.nodes, w.costed, w.unknown, w.notes, w.shape_fail)


def count_params(model: onnx.ModelProto) -> int:
    """Elements of the floating-point initializers (the weights; int shape constants excluded)."""
    total = 0
    seen = set()
    for t in model.graph.initializer:
        if t.data_type in _FLOAT_TYPES and t.name not in seen:
            seen.add(t.name)
            n = 1
            for d in t.dims:
                n *= int(d)
            total += n
    return total


def _foreign(low: Lowered, names: list) -> list:
    """Symbols of the table that are not graph-input dims (invented by shape inference for
    data-dependent sizes): a user cannot bind them."""
    return sorted(low.table.free_dims() - set(names))


def _clear_declared_dims(model: onnx.ModelProto, names: list) -> None:
    """Forget the dim names an exporter wrote on intermediate values and outputs when they are
    not input dims (``Add116_dim_0``): inference recomputes them from the inputs."""
    keep = set(names)
    vis = list(model.graph.value_info) + list(model.graph.output)
    for vi in vis:
        if not vi.type.HasField("tensor_type"):
            continue
        for d in vi.type.tensor_type.shape.dim:
            if d.HasField("dim_param") and not (_names(d.dim_param) <= keep):
                d.ClearField("dim_param")


def analyse(model, dims: dict | None = None):
    """Read and lower a model once. Returns (Lowered, model, stats, input dim names, mode).

    Tried in order, the first that costs every node with shapes in the input dims wins:
    onnx inference, onnxruntime symbolic inference (both symbolic: re-binding runs only the
    kernel), then, when every input dim is bound, both again at the concrete dims."""
    m, stats = load(model)
    if m.functions:
        try:
            from onnx import inliner
            m = inliner.inline_local_functions(m)
        except Exception:
            pass
    names = input_dims(m)
    _clear_declared_dims(m, names)
    attempts = [("flopest", None), ("ort", None)]
    if names and dims and all(n in dims for n in names):
        attempts += [("flopest", dims), ("ort", dims)]
    best = None
    tried = []
    for engine, fixed in attempts:
        try:
            info = infer(m, engine, fixed=fixed, names=names)
        except Exception as exc:  # onnxruntime's tool raises on graphs it does not support
            tried.append(f"{engine}{' at the bound dims' if fixed else ''} inference failed "
                         f"({type(exc).__name__})")
            continue
        low = lower(m, info)
        foreign = _foreign(low, names) if fixed is None else []
        score = (low.uncosted_shape + (10**6 if foreign else 0),)
        if getattr(info, "error", None):
            low.notes.append(f"onnx shape inference failed ({info.error}); using the shapes the model declares")
        if best is None or score < best[0]:
            best = (score, low, engine, fixed, foreign)
        if score[0] == 0:
            break
    score, low, engine, fixed, foreign = best
    if engine == "ort":
        low.notes.insert(0, "shapes from onnxruntime's symbolic shape inference")
    mode = "symbolic"
    if fixed:
        mode = "concrete"
        low.notes.insert(0, "shapes inferred at the bound dims (symbolic inference fell short): "
                            "each re-binding re-reads the graph")
    if foreign:
        low.notes.append("sizes that depend on data or on shapes inference could not follow: "
                         + ", ".join(foreign))
    return low, m, stats, names, mode
