"""ONNX front end: load a model (path or ModelProto) without its weight bytes, infer shapes,
keep symbolic dims symbolic, and map every node (subgraphs included) to OpTable rows through
the operator registry; every node that cannot be costed is named in ``unknown_ops``.

Shapes come from ``onnx.shape_inference`` (with data propagation) on the weight-free graph;
where it leaves dims unknown, onnxruntime's symbolic shape inference is tried; where both
fail and the user has bound every input dim, the graph is re-inferred with concrete input
shapes (then each re-binding re-reads the graph: said in ``Counts.notes``).
"""

from __future__ import annotations

import functools
import os
import re
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


@functools.lru_cache(maxsize=None)   # called twice per node: 100,000-node graphs exist
def elem_size(dt: int) -> int:
    try:
        return max(1, int(np.dtype(onnx.helper.tensor_dtype_to_np_dtype(dt)).itemsize))
    except Exception:
        return 4


# ---------------------------------------------------------------------------------- loading
def load(model) -> tuple[onnx.ModelProto, dict]:
    """Weight-free ModelProto from a path or a ModelProto; ModelReadError names the problem."""
    if isinstance(model, onnx.ModelProto):
        m = strip_model(model)
        _check_text(m, "<ModelProto>")
        return m, {"source": "<ModelProto>", "file_bytes": model.ByteSize()}
    try:
        path = os.fspath(model)
    except TypeError:
        raise InputError(f"cannot count a {type(model).__name__}: give a path to an .onnx file, an "
                         f"onnx.ModelProto, 'zoo:NAME', or a torch.nn.Module followed by its example "
                         f"inputs") from None
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
    _check_text(m, path)
    stats["source"] = path
    return m, stats


def _check_text(m: onnx.ModelProto, source: str) -> None:
    """ModelReadError when a name is not valid UTF-8. ONNX's strings are proto2 ``string``
    fields: protobuf hands invalid UTF-8 (a corrupt file) back as ``bytes``, which every
    str operation downstream would trip on."""
    def bad(where, v):
        raise ModelReadError(f"{source!r}: {where} {v!r} is not valid UTF-8; the file is corrupt "
                             f"(re-export it or check the download)")

    def graph(g, depth=0):
        if depth > _MAX_NESTING:
            raise ModelReadError(f"{source!r}: subgraphs nested more than {_MAX_NESTING} deep")
        if not isinstance(g.name, str):
            bad("graph name", g.name)
        for vi in list(g.input) + list(g.output) + list(g.value_info):
            if not isinstance(vi.name, str):
                bad("value name", vi.name)
            if vi.type.HasField("tensor_type"):
                for d in vi.type.tensor_type.shape.dim:
                    if not isinstance(d.dim_param, str):
                        bad(f"dim of {vi.name!r}", d.dim_param)
        for t in g.initializer:
            if not isinstance(t.name, str):
                bad("initializer name", t.name)
        nodes(g.node, depth)

    def nodes(ns, depth):
        for n in ns:
            for v in (n.op_type, n.domain, n.name):
                if not isinstance(v, str):
                    bad("node field", v)
            for v in list(n.input) + list(n.output):
                if not isinstance(v, str):
                    bad(f"{n.op_type} node value name", v)
            for a in n.attribute:
                if not isinstance(a.name, str):
                    bad(f"{n.op_type} attribute name", a.name)
                if a.HasField("g"):
                    graph(a.g, depth + 1)
                for g in a.graphs:
                    graph(g, depth + 1)

    for o in m.opset_import:
        if not isinstance(o.domain, str):
            bad("opset domain", o.domain)
    for f in m.functions:
        if not isinstance(f.name, str) or not isinstance(f.domain, str):
            bad("function name", f.name if not isinstance(f.name, str) else f.domain)
        nodes(f.node, 0)
    graph(m.graph)


# ---------------------------------------------------------------------------------- shapes
@dataclass
class ShapeInfo:
    shapes: dict = field(default_factory=dict)   # name -> tuple of Dim, or None
    dtypes: dict = field(default_factory=dict)   # name -> onnx elem type
    unknown_dims: bool = False


_DIM_PARAM_MAX = 128   # longer dim expressions are not parsed (a polynomial's size can explode)
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_MAX_NESTING = 64      # subgraphs (If / Loop / Scan bodies) nested deeper are refused


def _parse(p: str):
    """Dim of a ``dim_param``, or None when it is too long or not parseable: the dim is then
    unknown (an input dim gets a name of its own, see input_dims)."""
    if len(p) > _DIM_PARAM_MAX and not _NAME.fullmatch(p.strip()):
        return None
    try:
        return parse_dim_param(p)
    except (RecursionError, MemoryError, ValueError, TypeError, SyntaxError):
        return None


def _dim(d, cache: dict):
    if d.HasField("dim_value"):
        return int(d.dim_value)
    if d.HasField("dim_param") and d.dim_param and not d.dim_param.startswith("unk__"):
        p = d.dim_param
        v = cache.get(p)
        if v is None:
            v = cache[p] = _parse(p)
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
                # (or too long to read as an expression)
                if not d.dim_param or d.dim_param.startswith("unk__") or _parse(d.dim_param) is None:
                    d.dim_param = sanitize(f"{vi.name}_dim{i}")
                for n in sorted(_names(d.dim_param)):
                    if n not in names:
                        names.append(n)
    return names


def _names(p: str) -> set:
    from ..dims import free_names
    v = _parse(p)
    return {"<unreadable>"} if v is None else free_names(v)


def _fix_inputs(model: onnx.ModelProto, fixed: dict) -> onnx.ModelProto:
    m = onnx.ModelProto()
    m.CopyFrom(model)
    for vi in m.graph.input:
        for d in vi.type.tensor_type.shape.dim:
            if d.HasField("dim_param") and d.dim_param in fixed:
                d.dim_value = int(fixed[d.dim_param])
    return m


def _ort_ready(model: onnx.ModelProto) -> onnx.ModelProto:
    """onnxruntime's tool reads every initializer's data, and opens the file external data
    names (relative to the working folder): turn the weight-free initializers, and every tensor
    whose data is external (initializers and Constant nodes, subgraphs included), into typed
    inputs of the main graph instead (a subgraph sees the main graph's values)."""
    m = onnx.ModelProto()
    m.CopyFrom(model)
    main = m.graph
    names = {vi.name for vi in main.input}

    def lift(name, t):
        if name not in names:
            names.add(name)
            main.input.append(onnx.helper.make_tensor_value_info(name, t.data_type, list(t.dims)))

    def visit(g):
        keep = []
        for t in g.initializer:
            n = 1
            for d in t.dims:
                n *= d
            if _external(t) or (n and not (t.raw_data or t.float_data or t.int64_data or t.int32_data
                                           or t.double_data)):
                lift(t.name, t)
            else:
                keep.append(t)
        del g.initializer[:]
        g.initializer.extend(keep)
        nodes = []
        for node in g.node:
            ext = [a.t for a in node.attribute if a.name == "value" and a.type == onnx.AttributeProto.TENSOR
                   and _external(a.t)]
            if node.op_type == "Constant" and node.output and ext:
                lift(node.output[0], ext[0])
                continue
            for a in node.attribute:
                if a.type == onnx.AttributeProto.GRAPH:
                    visit(a.g)
                elif a.type == onnx.AttributeProto.GRAPHS:
                    for sub in a.graphs:
                        visit(sub)
            nodes.append(node)
        del g.node[:]
        g.node.extend(nodes)

    visit(main)
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
    with np.errstate(all="ignore"):   # its numpy arithmetic on odd constants warns on stderr
        m = _ort_infer(SymbolicShapeInference, _ort_ready(m))
    info = ShapeInfo()
    _collect(m.graph, info, {})
    return info


def _ort_infer(cls, model: onnx.ModelProto) -> onnx.ModelProto:
    """onnxruntime's symbolic inference, without its side effect: its public `infer_shapes`
    saves `sym_shape_infer_temp.onnx` (and external data files) into the current folder when
    inference is incomplete. flopest runs the same steps and keeps the partial result."""
    inf = cls(2**31 - 1, True, False, 0)      # int_max, auto_merge, guess_output_rank, verbose
    inf._preprocess(model)
    while inf.run_:
        inf._infer_impl()
    inf._update_output_from_vi()
    return inf.out_mp_


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


def _external(t) -> bool:
    """Data stored in another file: never read (flopest reads no weight bytes, and a model's
    file names are not followed)."""
    return t.data_location == onnx.TensorProto.EXTERNAL or len(t.external_data) > 0


def _constants(graph, consts: dict) -> None:
    for t in graph.initializer:
        n = 1
        for d in t.dims:
            n *= d
        if 0 <= n <= _CONST_LIMIT and not _external(t) and (
                t.raw_data or t.float_data or t.int64_data or t.int32_data or t.double_data or n == 0):
            try:
                consts[t.name] = numpy_helper.to_array(t)
            except Exception:
                pass
    for node in graph.node:
        if node.op_type == "Constant" and node.output:
            for a in node.attribute:
                try:
                    if a.name == "value" and a.t.ByteSize() < 8 * _CONST_LIMIT and not _external(a.t):
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
        self._expanding: list = []   # model-local functions being expanded (recursion guard)

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
            fkey = (node.domain, node.op_type)
            if fkey in self.functions and fkey not in self._expanding \
                    and len(self._expanding) < _MAX_NESTING:
                self.note(f"{key}: a model-local function, costed from its body")
                f = self.functions[fkey]
                self.costed += 1
                self._expanding.append(fkey)
                try:
                    for j, n2 in enumerate(f.node):
                        self.node(n2, name + "/", j, group, branch, repeat)
                        self.nodes -= 1
                finally:
                    self._expanding.pop()
                return
            if fkey in self.functions:
                self.note(f"{key}: a model-local function that calls itself; node {name!r} not costed")
            self.unknown[key] += 1
            return
        ctx = Ctx(op=node.op_type, inputs=[self.shape(i) for i in node.input],
                  outputs=[self.shape(o) for o in node.output], attrs=_attrs(node),
                  consts=[self.consts.get(i) for i in node.input], name=name)
        try:
            rows = [(r[0], list(r[1]), r[2] if len(r) > 2 else 1) for r in fn(ctx)]
            _check_int64(rows, repeat)
        except ShapeUnknown as exc:
            self.unknown[key] += 1
            self.shape_fail += 1
            self.note(f"{key}: shape not inferred ({exc}); node {name!r} not costed")
            return
        except (TypeError, ValueError, IndexError, KeyError, ZeroDivisionError, AttributeError,
                OverflowError) as exc:
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
        need = ("then_branch", "else_branch") if node.op_type == "If" else ("body",)
        missing = [n for n in need if n not in subs]
        if missing:
            self.unknown[key] += 1
            self.note(f"{key} {name!r}: no {' / '.join(missing)} graph attribute (a malformed "
                      f"model); not costed")
            return

        def uncosted(why):
            self.unknown[key] += 1
            self.note(f"{key} {name!r}: {why}; its body is not costed")

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
                return uncosted("the trip count is not a constant")
            try:
                t = m.reshape(-1)[0]
                trips = int(t)
                if trips != t or trips < 0:
                    raise ValueError
            except (TypeError, ValueError, OverflowError):
                return uncosted(f"the trip count {m.reshape(-1)[0]!r} is not a non-negative integer")
            if not _fits(trips * repeat):
                return uncosted(f"trip count {trips} × enclosing repeats is beyond int64")
            add(kinds.FREE, [])
            self.note("Loop: body × constant trip count (an early exit through `cond` is not modelled)")
            self.walk(subs["body"], name + "/body/", group, branch, repeat * trips)
            self.costed += 1
            return
        # Scan: trip count = the scan axis length of the first scan input
        a = _attrs(node)
        try:
            n_scan = int(a.get("num_scan_inputs", 0))
            n_state = len(node.input) - n_scan
            if n_scan < 1 or n_state < 0:
                raise ValueError
            scan_in = node.input[n_state]
            shp = self.shape(scan_in)
            axes = a.get("scan_input_axes") or [0]
            axis = int(axes[0])
        except (TypeError, ValueError, IndexError):
            return uncosted(f"num_scan_inputs={a.get('num_scan_inputs')!r} does not match its "
                            f"{len(node.input)} inputs")
        if shp is None:
            return uncosted("the scan input's shape is unknown")
        if not -len(shp) <= axis < len(shp):
            return uncosted(f"scan axis {axis} is out of range for a rank-{len(shp)} input")
        trips = shp[axis]
        if isinstance(trips, int) and (trips < 0 or not _fits(trips * repeat)):
            return uncosted(f"scan length {trips} is negative or beyond int64")
        add(kinds.FREE, [])
        self.walk(subs["body"], name + "/body/", group, branch, repeat * trips)
        self.costed += 1


_I64 = 1 << 63


def _fits(v) -> bool:
    """An int within int64 (a symbolic value is checked when its dims are bound)."""
    return not isinstance(v, int) or -_I64 <= v < _I64


def _check_int64(rows, repeat) -> None:
    """OverflowError naming the value when a concrete row parameter (or repeat) is beyond
    int64: the OpTable stores int64 (costs themselves are exact at any size)."""
    for kind, params, rep in rows:
        for v in params:
            if type(v) is int and not -_I64 <= v < _I64:
                raise OverflowError(f"a shape parameter is {v:.3e}, beyond int64 (2**63); the "
                                    f"model's shapes are implausible")
        r = rep * repeat
        if type(r) is int and not -_I64 <= r < _I64:
            raise OverflowError(f"its repeat count is {r:.3e}, beyond int64 (2**63)")


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


MAX_EXPANDED_NODES = 1_000_000   # nodes once model-local functions are expanded at every call
# and, above MAX_AMPLIFIED_FROM nodes, at most this many expanded nodes per node in the file: a
# transformer exported with one function per layer expands ~100×; functions calling the next
# one twice per level ("billion laughs") expand 2**depth / depth× from a few kB
MAX_AMPLIFICATION = 500
MAX_AMPLIFIED_FROM = 50_000


def _check_expansion(m: onnx.ModelProto, source) -> None:
    """ModelReadError when model-local functions expand into a graph too large to walk, or
    much larger than the file (see MAX_EXPANDED_NODES, MAX_AMPLIFICATION)."""
    n = _expanded_nodes(m)
    if n is None:
        raise ModelReadError(f"{source!r}: its model-local functions call each other hundreds of "
                             f"levels deep; flopest does not expand such graphs")
    stored = _stored_nodes(m)
    if n > MAX_EXPANDED_NODES or (n > MAX_AMPLIFIED_FROM and n > MAX_AMPLIFICATION * stored):
        raise ModelReadError(f"{source!r}: its model-local functions call each other into {n:,} nodes "
                             f"from {stored:,} in the file; flopest expands at most "
                             f"{MAX_EXPANDED_NODES:,} nodes, and at most {MAX_AMPLIFICATION}× the file's")


def _stored_nodes(m: onnx.ModelProto) -> int:
    def size(nodes):
        total = 0
        for n in nodes:
            total += 1
            for a in n.attribute:
                if a.type == onnx.AttributeProto.GRAPH:
                    total += size(a.g.node)
                elif a.type == onnx.AttributeProto.GRAPHS:
                    total += sum(size(g.node) for g in a.graphs)
        return total
    return size(m.graph.node) + sum(size(f.node) for f in m.functions)


def _expanded_nodes(m: onnx.ModelProto) -> int | None:
    """Nodes of the graph once every call of a model-local function is replaced by its body
    (subgraphs included); None when the calls nest too deep to follow. Functions that call
    each other twice per level grow 2**depth: a 3 kB file can stand for 2**39 nodes. A
    function calling itself counts as one node."""
    funcs = {(f.domain, f.name): f for f in m.functions}
    memo: dict = {}

    def fsize(key, active):
        if key in memo:
            return memo[key]
        if key in active:
            return 1
        active.add(key)
        total = graph_size(funcs[key].node, active)
        active.discard(key)
        memo[key] = total
        return total

    def graph_size(nodes, active):
        total = 0
        for n in nodes:
            key = (n.domain, n.op_type)
            total += fsize(key, active) if key in funcs else 1
            for a in n.attribute:
                if a.type == onnx.AttributeProto.GRAPH:
                    total += graph_size(a.g.node, active)
                elif a.type == onnx.AttributeProto.GRAPHS:
                    for g in a.graphs:
                        total += graph_size(g.node, active)
        return total

    try:
        return graph_size(m.graph.node, set())
    except RecursionError:   # functions chained hundreds deep
        return None


def analyse(model, dims: dict | None = None):
    """Read and lower a model once. Returns (Lowered, model, stats, input dim names, mode).

    Tried in order, the first that costs every node with shapes in the input dims wins:
    onnx inference, onnxruntime symbolic inference (both symbolic: re-binding runs only the
    kernel), then, when every input dim is bound, both again at the concrete dims."""
    m, stats = load(model)
    if m.functions:
        _check_expansion(m, stats.get("source"))
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
        try:
            low = lower(m, info)
        except RecursionError:
            raise ModelReadError(f"{stats.get('source')!r}: the graph is nested too deeply to "
                                 f"read") from None
        foreign = _foreign(low, names) if fixed is None else []
        score = (low.uncosted_shape + (10**6 if foreign else 0),)
        if getattr(info, "error", None):
            low.notes.append(f"onnx shape inference failed ({info.error}); using the shapes the model declares")
        if best is None or score < best[0]:
            best = (score, low, engine, fixed, foreign)
        if score[0] == 0:
            break
    if best is None:   # no inference ran: cost what the model's declared shapes allow
        info = ShapeInfo()
        _collect(m.graph, info, {})
        low = lower(m, info)
        best = ((0,), low, "declared", None, _foreign(low, names))
        best[1].notes.append("shape inference failed (" + "; ".join(tried) + "); using the "
                             "shapes the model declares")
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
