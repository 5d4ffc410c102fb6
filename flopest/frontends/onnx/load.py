"""Reading an ONNX model: a path (through :mod:`.proto`, without weight bytes) or a ModelProto
(stripped likewise) into a weight-free ModelProto, checked (UTF-8 names, nesting, function
expansion size); the model's declared input dims, node attributes, small inline constants and
parameter count. The limits on what is read live here.
"""

from __future__ import annotations

import functools
import os
import re
import stat

import numpy as np

from ...dims import evaluate, free_names, parse_dim_param, sanitize, to_source
from ...errors import InputError, ModelReadError
from . import pb
from .proto import WireError, read_elements, read_graph_only, strip_model

FLOAT_TYPES = {pb.TensorProto.FLOAT, pb.TensorProto.FLOAT16, pb.TensorProto.BFLOAT16,
                pb.TensorProto.DOUBLE} | {getattr(pb.TensorProto, n) for n in
                                             ("FLOAT8E4M3FN", "FLOAT8E4M3FNUZ", "FLOAT8E5M2",
                                              "FLOAT8E5M2FNUZ", "FLOAT4E2M1") if hasattr(pb.TensorProto, n)}
_CONST_LIMIT = 1 << 16   # constant inputs up to this many elements are made available to lowerings


@functools.lru_cache(maxsize=None)   # called twice per node: 100,000-node graphs exist
def elem_size(dt: int) -> int:
    return max(1, pb.element_bytes(dt))



def load(model) -> tuple[pb.ModelProto, dict]:
    """Weight-free ModelProto from a path or a ModelProto; ModelReadError names the problem."""
    if isinstance(model, pb.ModelProto):
        if not model.HasField("graph") or (len(model.graph.node) == 0 and len(model.graph.output) == 0):
            raise ModelReadError("the ModelProto holds no ONNX graph (no node and no output): nothing to count")
        m = strip_model(model)
        _check_text(m, "<ModelProto>")
        stats = {"source": "<ModelProto>", "file_bytes": model.ByteSize()}
        stats["external_refs"] = drop_external_refs(m)
        stats["tied"] = tied_copies(m, _memory_sampler(model))
        return m, stats
    try:
        path = os.fspath(model)
    except TypeError:
        raise InputError(f"cannot count a {type(model).__name__}: give a path to an .onnx file, an "
                         f"onnx.ModelProto, 'zoo:NAME', or a torch.nn.Module followed by its example "
                         f"inputs") from None
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise ModelReadError(f"model file {path!r} does not exist") from None
    except ValueError:   # an embedded NUL: no file has that name
        raise ModelReadError(f"model path {path!r} is not a valid file name") from None
    except OSError as exc:
        raise ModelReadError(f"cannot read {path!r}: {exc.strerror or exc}") from None
    if stat.S_ISDIR(st.st_mode):
        raise ModelReadError(f"model path {path!r} is a directory; give the .onnx file")
    if not stat.S_ISREG(st.st_mode):   # a FIFO would block in open(), a device never end
        raise ModelReadError(f"model path {path!r} is not a regular file (a pipe or a device); give the "
                             f".onnx file")
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
    stats["external_refs"] = drop_external_refs(m)
    stats["tied"] = tied_copies(m, _file_sampler(path, stats.get("raw_data", {})))
    return m, stats


def _tensors_of(m: pb.ModelProto):
    """Every TensorProto of the model: initializers, sparse initializers, node attributes (t,
    tensors, sparse_tensor), in subgraphs and local functions too."""
    def graph(g):
        yield from g.initializer
        for sp in g.sparse_initializer:
            yield sp.values
            yield sp.indices
        yield from nodes(g.node)

    def nodes(ns):
        for n in ns:
            for a in n.attribute:
                if a.HasField("t"):
                    yield a.t
                yield from a.tensors
                if a.HasField("sparse_tensor"):
                    yield a.sparse_tensor.values
                    yield a.sparse_tensor.indices
                for sp in a.sparse_tensors:
                    yield sp.values
                    yield sp.indices
                if a.HasField("g"):
                    yield from graph(a.g)
                for g in a.graphs:
                    yield from graph(g)

    yield from graph(m.graph)
    for f in m.functions:
        yield from nodes(f.node)


def drop_external_refs(m: pb.ModelProto) -> int:
    """Remove every reference to external data (a file name next to the model, or anywhere) from
    the weight-free model, in place, so that nothing downstream — flopest's value propagation,
    onnx's or onnxruntime's inference — can open a file the user did not name. The tensor keeps
    its dims and type, and no data: its values are unknown (shapes still propagate). Returns
    how many tensors referred to external data."""
    n = 0
    for t in _tensors_of(m):
        if is_external(t):
            del t.external_data[:]
            t.data_location = pb.TensorProto.DEFAULT
            t.ClearField("raw_data")
            n += 1
    return n


def tensor_values(t, limit: int) -> list | None:
    """The values of a small inline tensor as a flat Python list, or None when they are not
    there: external (never read), over `limit` elements, or no data stored (a weight stripped by
    the reader, an external reference dropped)."""
    if is_external(t):
        return None
    n = 1
    for d in t.dims:
        n *= int(d)
    if not 0 <= n <= limit:
        return None
    try:
        arr = pb.to_array(t).reshape(-1)
    except Exception:   # no data stored for these dims
        return None
    if arr.size != n:
        return None
    return [int(x) if arr.dtype.kind in "iub" else float(x) for x in arr.tolist()]


def _check_text(m: pb.ModelProto, source: str) -> None:
    """ModelReadError when a name is not valid UTF-8. ONNX's strings are proto2 ``string``
    fields: protobuf hands invalid UTF-8 (a corrupt file) back as ``bytes``, which every
    str operation downstream would trip on."""
    def bad(where, v):
        raise ModelReadError(f"{source!r}: {where} {v!r} is not valid UTF-8; the file is corrupt "
                             f"(re-export it or check the download)")

    def graph(g, depth=0):
        if depth > MAX_NESTING:
            raise ModelReadError(f"{source!r}: subgraphs nested more than {MAX_NESTING} deep")
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
    _check_single_writer(m.graph, source)
    for f in m.functions:
        if not isinstance(f.name, str) or not isinstance(f.domain, str):
            bad("function name", f.name if not isinstance(f.name, str) else f.domain)
        nodes(f.node, 0)
    graph(m.graph)


def _check_single_writer(g, source: str) -> None:
    """ONNX graphs are in SSA form: each value is written once. Two nodes (or a node and an
    initializer or input) writing one name would make the count depend on which one is read."""
    seen = {i.name: "a graph input" for i in g.input}
    seen.update({t.name: "an initializer" for t in g.initializer})
    for n in g.node:
        for o in n.output:
            if not o:
                continue
            if o in seen:
                who = seen[o]
                raise ModelReadError(f"{source!r}: value {o!r} is written twice ({who} and "
                                     f"{n.op_type} node {n.name or '(unnamed)'!r}); an ONNX graph writes each "
                                     f"value once — re-export the model or run onnx.checker on it")
            seen[o] = f"{n.op_type} node {n.name or '(unnamed)'!r}"


_DIM_PARAM_MAX = 128   # longer dim expressions are not parsed (a polynomial's size can explode)
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
MAX_NESTING = 64      # subgraphs (If / Loop / Scan bodies) nested deeper are refused


def _parse(p: str):
    """Dim of a ``dim_param``, or None when it is too long or not parseable: the dim is then
    unknown (an input dim gets a name of its own, see input_dims)."""
    if len(p) > _DIM_PARAM_MAX and not _NAME.fullmatch(p.strip()):
        return None
    try:
        return parse_dim_param(p)
    except (RecursionError, MemoryError, ValueError, TypeError, SyntaxError):
        return None


def read_dim(d, cache: dict):
    if d.HasField("dim_value"):
        return int(d.dim_value)
    if d.HasField("dim_param") and d.dim_param and not d.dim_param.startswith("unk__"):
        p = d.dim_param
        v = cache.get(p)
        if v is None:
            v = cache[p] = _parse(p)
        return v
    return None



def input_dims(model: pb.ModelProto) -> list:
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


def leading_dim(model: pb.ModelProto, dims: dict | None = None) -> tuple:
    """(examples per pass, reason): the dim on the leading axis of the first graph input that
    is not an initializer, whatever its name, when every other input (of rank >= 1) has the
    same leading dim (the PyTorch front end's rule). An int when static; the dim's expression in the
    input dims (a str, usually one name) when symbolic, bound or not (its value follows every
    re-binding of the dims); None and the reason when there is no such input, its shape is not
    declared, it is rank 0, or the inputs disagree on their leading dim. Call after
    input_dims (which names unnamed dims)."""
    inits = {t.name for t in model.graph.initializer}
    first = next((vi for vi in model.graph.input if vi.name not in inits), None)
    if first is None:
        return None, "the graph has no input (only initializers): the examples per pass cannot be read"
    tt = first.type.tensor_type if first.type.HasField("tensor_type") else None
    if tt is None or not tt.HasField("shape"):
        return None, f"the first graph input {first.name!r} declares no shape: the examples per pass cannot be read"
    if not tt.shape.dim:
        return None, f"the first graph input {first.name!r} is rank 0 (a scalar): it has no batch axis"
    d = read_dim(tt.shape.dim[0], {})
    if d is None:
        return None, f"the leading dim of input {first.name!r} cannot be read"
    lead = d if isinstance(d, int) else to_source(d)   # symbolic: read at each binding (Counts.at)
    others = []   # the other inputs' leading dims: the examples axis is one they all share
    for vi in model.graph.input:
        if vi.name in inits or vi.name == first.name or not vi.type.HasField("tensor_type"):
            continue
        sh = vi.type.tensor_type.shape if vi.type.tensor_type.HasField("shape") else None
        if sh is None or not sh.dim:
            continue
        o = read_dim(sh.dim[0], {})
        o = o if o is None or isinstance(o, int) else to_source(o)
        if o != lead:
            others.append(f"{vi.name} {o if o is not None else '?'}")
    if others:
        shown = ", ".join([f"{first.name} {lead}"] + others[:5]) + (", ..." if len(others) > 5 else "")
        return None, f"the graph inputs disagree on their leading dim ({shown}): which one is the examples is not known"
    return lead, ""


def _names(p: str) -> set:
    v = _parse(p)
    return {"<unreadable>"} if v is None else free_names(v)



def node_attrs(node) -> dict:
    out = {}
    for a in node.attribute:
        if a.type in (pb.AttributeProto.GRAPH, pb.AttributeProto.GRAPHS):
            continue
        try:
            v = pb.attribute_value(a)
        except Exception:
            continue
        if isinstance(v, bytes):
            v = v.decode("utf-8", "replace")
        elif isinstance(v, list):
            v = [x.decode("utf-8", "replace") if isinstance(x, bytes) else x for x in v]
        out[a.name] = v
    return out


def is_external(t) -> bool:
    """Data stored in another file: never read (flopest reads no weight bytes, and a model's
    file names are not followed)."""
    return t.data_location == pb.TensorProto.EXTERNAL or len(t.external_data) > 0


def lacks_data(t) -> bool:
    """A tensor whose values are not in the model: external (never read), or stripped of its data
    (a weight the reader skipped, an external reference dropped) while its dims say it has some."""
    if is_external(t):
        return True
    n = 1
    for d in t.dims:
        n *= d
    return bool(n) and not (t.raw_data or t.float_data or t.int64_data or t.int32_data or t.double_data
                            or t.string_data or t.uint64_data)


def read_constants(graph, consts: dict) -> None:
    for t in graph.initializer:
        n = 1
        for d in t.dims:
            n *= d
        if 0 <= n <= _CONST_LIMIT and not is_external(t) and (
                t.raw_data or t.float_data or t.int64_data or t.int32_data or t.double_data or n == 0):
            try:
                consts[t.name] = pb.to_array(t)
            except Exception:
                pass
    for node in graph.node:
        if node.op_type == "Constant" and node.output:
            for a in node.attribute:
                try:
                    if a.name == "value" and a.t.ByteSize() < 8 * _CONST_LIMIT and not is_external(a.t):
                        consts[node.output[0]] = pb.to_array(a.t)
                    elif a.name in ("value_int", "value_float"):
                        consts[node.output[0]] = np.array(pb.attribute_value(a))
                    elif a.name in ("value_ints", "value_floats"):
                        consts[node.output[0]] = np.array(pb.attribute_value(a))
                except Exception:
                    pass
        for a in node.attribute:
            if a.type == pb.AttributeProto.GRAPH:
                read_constants(a.g, consts)



def count_params(model: pb.ModelProto, tied=()) -> int:
    """Elements of the floating-point initializers (the weights; int shape constants excluded),
    each copy in `tied` (tied_copies: a weight the exporter stored twice) counted once."""
    total = 0
    seen = {copy for copy, *_ in tied}
    for t in model.graph.initializer:
        if t.data_type in FLOAT_TYPES and t.name not in seen:
            seen.add(t.name)
            n = 1
            for d in t.dims:
                n *= int(d)
            total += n
    return total



# ----------------------------------------------------------------------------- tied weights
# A weight that a model uses twice (GPT-2's token embedding as its LM head: "tied") is one
# parameter, but torch's TorchScript exporter stores it twice, once transposed for the MatMul.
# Two 2-D floating-point initializers of the same element type and of equal or transposed shape,
# each of at least TIE_MIN_ELEMENTS, whose TIE_SAMPLES sampled elements (the same positions of the
# (rows, cols) view) hold the same bytes, not all equal, are taken to be one weight stored twice:
# two independently initialised or trained matrices agree on 64 random elements with a
# probability far below 1e-100. Only those elements are read (a few 2-byte or 4-byte reads).
TIE_MIN_ELEMENTS = 1 << 16
TIE_SAMPLES = 64
_TIE_TYPES = {pb.TensorProto.FLOAT, pb.TensorProto.FLOAT16, pb.TensorProto.BFLOAT16, pb.TensorProto.DOUBLE}


def tied_copies(model: pb.ModelProto, sampler) -> list:
    """[(copy name, weight name, elements, transposed)]: the initializers that hold the values of
    an earlier one (see TIE_SAMPLES); `sampler(tensor, flat indices)` gives the bytes of those
    elements, or None when they cannot be read (external data, no data)."""
    groups: dict = {}
    for t in model.graph.initializer:
        if t.data_type in _TIE_TYPES and len(t.dims) == 2 and int(t.dims[0]) * int(t.dims[1]) >= TIE_MIN_ELEMENTS:
            r, c = int(t.dims[0]), int(t.dims[1])
            groups.setdefault((t.data_type, max(r, c), min(r, c)), []).append(t)
    out = []
    for (_, rows, cols), ts in groups.items():
        if len(ts) < 2:
            continue
        rng = np.random.default_rng(rows * 1_000_003 + cols)
        pos = list(zip(rng.integers(0, rows, TIE_SAMPLES).tolist(), rng.integers(0, cols, TIE_SAMPLES).tolist()))
        first: dict = {}
        for t in ts:
            r, c = int(t.dims[0]), int(t.dims[1])
            transposed = (r, c) != (rows, cols)
            idx = [j * c + i if transposed else i * c + j for i, j in pos]
            try:
                got = sampler(t, idx)
            except (OSError, ValueError, WireError):
                got = None
            if not got or len(set(got)) < 2:
                continue
            key = tuple(got)
            if key in first:
                w, w_transposed = first[key]
                out.append((t.name, w.name, r * c, transposed != w_transposed))
            else:
                first[key] = (t, transposed)
    return out


def _file_sampler(path: str, spans: dict):
    def sample(t, idx):
        span = spans.get(t.name)
        return None if span is None else read_elements(path, span, elem_size(t.data_type), idx)
    return sample


def _memory_sampler(model: pb.ModelProto):
    by_name = {t.name: t for t in model.graph.initializer}

    def sample(t, idx):
        src = by_name.get(t.name)
        if src is None or lacks_data(src):
            return None
        flat = pb.to_array(src).reshape(-1)
        return [flat[i].tobytes() for i in idx]
    return sample


def tied_note(tied: list) -> str | None:
    """The count's note on the weights stored twice (None without any)."""
    if not tied:
        return None
    shown = "; ".join(f"{c!r} = {w!r}{' transposed' if tr else ''} ({n:,} elements)" for c, w, n, tr in tied[:4])
    more = f" and {len(tied) - 4} more" if len(tied) > 4 else ""
    return (f"params: {len(tied)} initializer(s) hold the values of another one (a tied weight the exporter stored "
            f"twice: {TIE_SAMPLES} sampled elements equal), counted once: {shown}{more}")


def clear_declared_dims(model: pb.ModelProto, names: list) -> None:
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


def check_expansion(m: pb.ModelProto, source) -> None:
    """ModelReadError when model-local functions expand into a graph too large to walk, or
    much larger than the file (see MAX_EXPANDED_NODES, MAX_AMPLIFICATION)."""
    n = _expanded_nodes(m)
    if n is None:
        raise ModelReadError(f"{source!r}: its model-local functions call each other more than "
                             f"{MAX_NESTING} levels deep; flopest does not expand such graphs")
    stored = _stored_nodes(m)
    if n > MAX_EXPANDED_NODES or (n > MAX_AMPLIFIED_FROM and n > MAX_AMPLIFICATION * stored):
        raise ModelReadError(f"{source!r}: its model-local functions call each other into {n:,} nodes "
                             f"from {stored:,} in the file; flopest expands at most "
                             f"{MAX_EXPANDED_NODES:,} nodes, and at most {MAX_AMPLIFICATION}× the file's")


def _stored_nodes(m: pb.ModelProto) -> int:
    def size(nodes):
        total = 0
        for n in nodes:
            total += 1
            for a in n.attribute:
                if a.type == pb.AttributeProto.GRAPH:
                    total += size(a.g.node)
                elif a.type == pb.AttributeProto.GRAPHS:
                    total += sum(size(g.node) for g in a.graphs)
        return total
    return size(m.graph.node) + sum(size(f.node) for f in m.functions)


def _expanded_nodes(m: pb.ModelProto) -> int | None:
    """Nodes of the graph once every call of a model-local function is replaced by its body
    (subgraphs included); None when the calls nest too deep to follow. Functions that call
    each other twice per level grow 2**depth: a 3 kB file can stand for 2**39 nodes. A
    function calling itself counts as one node."""
    funcs = {(f.domain, f.name): f for f in m.functions}
    memo: dict = {}

    class TooDeep(Exception):
        pass

    def fsize(key, active):
        if key in memo:
            return memo[key]
        if key in active:
            return 1
        if len(active) >= MAX_NESTING:   # explicit, not RecursionError: the interpreter's limit
            raise TooDeep               # is raised by some libraries (the CI saw 600 levels pass)
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
                if a.type == pb.AttributeProto.GRAPH:
                    total += graph_size(a.g.node, active)
                elif a.type == pb.AttributeProto.GRAPHS:
                    for g in a.graphs:
                        total += graph_size(g.node, active)
        return total

    try:
        return graph_size(m.graph.node, set())
    except (TooDeep, RecursionError):   # functions chained more than MAX_NESTING deep
        return None

