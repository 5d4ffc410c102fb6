"""Hypothesis strategies for structurally odd ONNX models, and a per-case time limit.

The graphs are built with raw protobuf (not ``onnx.helper``, which validates): cycles,
dangling inputs, a node reading its own output, zero-size tensors, dims up to 2**62, negative
dims, missing shapes, unknown domains, attributes of the wrong type, initializers whose data
does not match their dims, If / Loop / Scan with broken bodies, model-local functions that call
themselves, empty graphs. ``mutate`` then truncates, flips bits or splices the serialized bytes.
"""

from __future__ import annotations

import contextlib
import faulthandler
import functools
import signal
import threading

import numpy as np
import onnx
from hypothesis import strategies as st
from onnx import AttributeProto, TensorProto

from flopest.ops import REGISTRY, ZERO_COST

ONNX_OPS = sorted(n for n in REGISTRY if not n.startswith("aten.") and ":" not in n)
ZERO_OPS = sorted(n for n in ZERO_COST if not n.startswith("aten."))
CONTROL = ["If", "Loop", "Scan"]
ODD_OPS = ["Frobnicate", "", "MatMul ", "matmul", "SequenceConstruct", "SplitToSequence", "NonMaxSuppression",
           "StringNormalizer", "Optional"]

# dims: ordinary, zero, huge, negative, symbolic, exporter-style, expressions, junk
DIMS = st.one_of(
    st.sampled_from([0, 1, 2, 3, 4, 7, 8, 16, 64, 1024]),
    st.sampled_from([2**31 - 1, 2**31, 2**40, 2**62, 2**63 - 1]),
    st.sampled_from([-1, -5, -(2**62)]),
    st.sampled_from(["batch", "sequence", "n", "", "unk__3", "batch*sequence", "sequence + 1",
                     "n // 0", "floor(n/2)", "max(n)", "Max(1, n)", "n % 0", "2**64", "a b", "9x",
                     "é", "1/0", "-n", "n - 100", "(" * 40 + "n" + ")" * 40, "*".join(["n"] * 70)]),
)
ELEM_TYPES = st.sampled_from([TensorProto.FLOAT, TensorProto.FLOAT16, TensorProto.INT64, TensorProto.INT32,
                              TensorProto.BOOL, TensorProto.STRING, TensorProto.UNDEFINED, 999])
INT_VALUES = st.one_of(st.integers(-3, 8), st.sampled_from([2**31 - 1, 2**62, -(2**62), 2**63 - 1]))


# strategies are built once and reused: building them on every draw (validation included)
# cost more than running flopest on the graph
@functools.lru_cache(maxsize=None)
def pick(*options):
    return st.sampled_from(options)


@functools.lru_cache(maxsize=None)
def lists(elements, min_size=0, max_size=None, unique=False):
    return st.lists(elements, min_size=min_size, max_size=max_size, unique=unique)


@functools.lru_cache(maxsize=None)
def ints(lo, hi):
    return st.integers(lo, hi)


@functools.lru_cache(maxsize=None)
def _inputs(names):
    return st.lists(st.one_of(pick(*names), pick("", "dangling", "o0")), max_size=5)


BOOLS = st.booleans()
OP_TYPES = st.one_of(pick(*ONNX_OPS), pick(*ZERO_OPS), pick(*CONTROL), pick(*ODD_OPS))


def _dim(vi_dim, d):
    if isinstance(d, int):
        vi_dim.dim_value = d
    elif d != "":
        vi_dim.dim_param = d


@functools.lru_cache(maxsize=None)
@st.composite
def value_info(draw, name):
    vi = onnx.ValueInfoProto()
    vi.name = name
    kind = draw(pick(*["tensor", "tensor", "tensor", "noshape", "notype", "sequence"]))
    if kind == "notype":
        return vi
    if kind == "sequence":
        vi.type.sequence_type.elem_type.tensor_type.elem_type = TensorProto.FLOAT
        return vi
    tt = vi.type.tensor_type
    tt.elem_type = draw(ELEM_TYPES)
    if kind == "tensor":
        shape = tt.shape
        shape.SetInParent()   # rank 0 is a real (scalar) shape
        for d in draw(lists(DIMS, max_size=5)):
            _dim(shape.dim.add(), d)
    return vi


@functools.lru_cache(maxsize=None)
@st.composite
def initializer(draw, name):
    t = TensorProto()
    t.name = name
    t.data_type = draw(pick(*[TensorProto.INT64, TensorProto.INT64, TensorProto.FLOAT,
                                        TensorProto.INT32, TensorProto.STRING, 999]))
    vals = draw(lists(INT_VALUES, max_size=6))
    how = draw(pick(*["match", "mismatch", "huge", "negative", "external", "empty", "raw_odd"]))
    dims = {"match": [len(vals)], "mismatch": [len(vals) + 3, 2], "huge": [2**62, 2**40],
            "negative": [-3, len(vals)], "external": [len(vals)], "empty": [0, 5],
            "raw_odd": [len(vals)]}[how]
    t.dims.extend(dims)
    if how == "raw_odd":
        t.raw_data = bytes(range(7))
    elif how == "external":
        t.data_location = TensorProto.EXTERNAL
        e = t.external_data.add()
        e.key, e.value = "location", draw(pick(*["/dev/zero", "../../etc/passwd", "w.bin", ""]))
    elif t.data_type == TensorProto.FLOAT:
        t.float_data.extend(float(v) for v in vals)
    elif t.data_type == TensorProto.STRING:
        t.string_data.extend(str(v).encode() for v in vals)
    elif t.data_type == TensorProto.INT32:
        t.int32_data.extend(max(-(2**31), min(2**31 - 1, v)) for v in vals)
    else:
        t.int64_data.extend(max(-(2**63), min(2**63 - 1, v)) for v in vals)
    return t


ATTR_NAMES = ["axis", "axes", "perm", "kernel_shape", "strides", "pads", "dilations", "group", "transA",
              "transB", "equation", "num_outputs", "split", "keepdims", "to", "value", "blocksize",
              "hidden_size", "num_scan_inputs", "scan_input_axes", "mode", "alpha", "starts", "ends",
              "then_branch", "else_branch", "body", "q_num_heads", "kv_num_heads", "is_causal",
              "ceil_mode", "auto_pad", "output_padding", "direction", "layout", "noop_with_empty_axes"]


@functools.lru_cache(maxsize=None)
@st.composite
def attribute(draw, depth):
    a = AttributeProto()
    a.name = draw(pick(*ATTR_NAMES))
    kind = draw(pick(*["int", "ints", "float", "floats", "string", "tensor", "graph", "none"]))
    if kind == "int":
        a.type, a.i = AttributeProto.INT, draw(INT_VALUES)
    elif kind == "ints":
        a.type = AttributeProto.INTS
        a.ints.extend(draw(lists(INT_VALUES, max_size=8)))
    elif kind == "float":
        a.type, a.f = AttributeProto.FLOAT, draw(pick(*[0.0, 1.5, float("nan"), float("inf"), -1e30]))
    elif kind == "floats":
        a.type = AttributeProto.FLOATS
        a.floats.extend(draw(lists(pick(*[0.0, 2.0, float("nan"), 1e30]), max_size=4)))
    elif kind == "string":
        a.type = AttributeProto.STRING
        a.s = draw(pick(*[b"", b"ij,jk->ik", b"...ij,...jk", b"->,,", b"\xff\xfe", b"NOTSET", b"SAME_UPPER"]))
    elif kind == "tensor":
        a.type = AttributeProto.TENSOR
        a.t.CopyFrom(draw(initializer("t")))
    elif kind == "graph" and depth < 2:
        a.type = AttributeProto.GRAPH
        a.g.CopyFrom(draw(graph(depth + 1)))
    else:   # declared type without a value, or no type at all
        a.type = draw(pick(*[AttributeProto.UNDEFINED, AttributeProto.GRAPH, AttributeProto.INTS]))
    return a


@functools.lru_cache(maxsize=None)
@st.composite
def node(draw, names, depth):
    n = onnx.NodeProto()
    n.op_type = draw(OP_TYPES)
    n.domain = draw(pick(*["", "", "", "ai.onnx", "com.microsoft", "acme", "local"]))
    n.input.extend(draw(_inputs(names)))
    n.output.extend(draw(lists(pick(*["o0", "o1", "o2", "o3", "o4", "o5", "", "x"]),
                                  min_size=0, max_size=3)))
    if draw(BOOLS) and n.output:   # a node reading its own output
        n.input.append(n.output[0])
    if n.op_type in CONTROL and draw(BOOLS):   # usually give it its bodies, maybe broken
        for attr in ({"If": ["then_branch", "else_branch"], "Loop": ["body"], "Scan": ["body"]}[n.op_type]):
            if draw(ints(0, 4)):
                a = n.attribute.add()
                a.name, a.type = attr, AttributeProto.GRAPH
                if depth < 2:
                    a.g.CopyFrom(draw(graph(depth + 1)))
        if n.op_type == "Scan":
            a = n.attribute.add()
            a.name, a.type, a.i = "num_scan_inputs", AttributeProto.INT, draw(ints(-1, 6))
    n.attribute.extend(draw(lists(attribute(depth), max_size=3)))
    n.name = draw(pick(*["", "n", "n", "\u00e9", "a/b"]))
    return n


@functools.lru_cache(maxsize=None)
@st.composite
def graph(draw, depth=0):
    g = onnx.GraphProto()
    g.name = "g"
    n_in = draw(ints(0, 3))
    for i in range(n_in):
        g.input.append(draw(value_info(f"i{i}")))
    inits = draw(lists(pick(*["W", "S", "K", "i0"]), max_size=3, unique=True))
    for name in inits:
        g.initializer.append(draw(initializer(name)))
    names = tuple([f"i{i}" for i in range(n_in)] + inits + ["o0", "o1", "o2", "o3"])
    g.node.extend(draw(lists(node(names, depth), max_size=6 if depth == 0 else 3)))
    for o in draw(lists(pick(*["o0", "o1", "o2", "o3", "zz"]), max_size=2)):
        g.output.append(draw(value_info(o)))
    if draw(BOOLS):
        g.value_info.append(draw(value_info("o1")))
    return g


@st.composite
def models(draw) -> onnx.ModelProto:
    m = onnx.ModelProto()
    m.ir_version = draw(pick(*[3, 7, 8, 10, 0, 99]))
    op = m.opset_import.add()
    op.domain, op.version = "", draw(pick(*[1, 7, 11, 13, 17, 18, 21, 23, 0, 99]))
    if draw(BOOLS):
        o2 = m.opset_import.add()
        o2.domain, o2.version = draw(pick(*["acme", "local", "com.microsoft"])), 1
    if draw(ints(0, 9)):   # a graph, possibly empty
        m.graph.CopyFrom(draw(graph()))
    if draw(ints(0, 5)) == 0:   # a model-local function, maybe recursive
        f = m.functions.add()
        f.name, f.domain = draw(pick(*["F", "Frobnicate"])), "local"
        f.input.append("x")
        f.output.append("o0")
        f.node.extend(draw(lists(node(("x", "o0"), 1), max_size=2)))
        inner = f.node.add()
        inner.op_type, inner.domain = f.name, "local"   # calls itself
        inner.input.append("x")
        inner.output.append("o0")
        f.opset_import.add().domain = ""
    if draw(ints(0, 7)) == 0:   # functions calling the next one twice: 2**depth nodes once expanded
        # up to 2**8 nodes (counted), or from 2**16 on (refused at once: more than 500× the
        # file's nodes); the depths between stand for graphs of 512 to 32,768 nodes, which
        # take as long as any graph that large and are not what a per-case time limit is about
        depth = draw(st.one_of(ints(1, 9), ints(17, 45)))
        for i in range(depth):
            f = m.functions.add()
            f.name, f.domain = f"G{i}", "local"
            f.input.append("x")
            f.output.append("y")
            f.opset_import.add().domain = ""
            if i == depth - 1:
                f.node.add().CopyFrom(onnx.helper.make_node("Relu", ["x"], ["y"]))
            else:
                f.node.add().CopyFrom(onnx.helper.make_node(f"G{i + 1}", ["x"], ["t"], domain="local"))
                f.node.add().CopyFrom(onnx.helper.make_node(f"G{i + 1}", ["t"], ["y"], domain="local"))
        if m.HasField("graph"):
            m.graph.node.add().CopyFrom(onnx.helper.make_node("G0", ["i0"], ["o3"], domain="local"))
    return m


@st.composite
def mutated(draw, data: bytes) -> bytes:
    """Truncated, bit-flipped, byte-replaced, spliced or duplicated bytes of a serialized model."""
    b = bytearray(data)
    if not b:
        return bytes(draw(st.binary(max_size=64)))
    how = draw(pick(*["truncate", "flip", "set", "insert", "splice", "none"]))
    if how == "truncate":
        b = b[: draw(ints(0, len(b) - 1))]
    elif how == "flip":
        for _ in range(draw(ints(1, 8))):
            i = draw(ints(0, len(b) - 1))
            b[i] ^= 1 << draw(ints(0, 7))
    elif how == "set":
        for _ in range(draw(ints(1, 4))):
            b[draw(ints(0, len(b) - 1))] = draw(ints(0, 255))
    elif how == "insert":
        i = draw(ints(0, len(b)))
        b[i:i] = draw(st.binary(min_size=1, max_size=16))
    elif how == "splice":
        i, j = draw(ints(0, len(b))), draw(ints(0, len(b)))
        b[i:i] = b[j:j + draw(ints(1, 64))]
    return bytes(b)


BIND_VALUES = st.one_of(st.integers(0, 4096), st.integers(0, 4096), st.integers(0, 4096),
                        st.sampled_from([0, 2**31, 2**40, 2**62, 2**63 - 1]))

DIM_VALUES = st.dictionaries(st.sampled_from(["batch", "sequence", "n", "a", "i0_dim0", "x"]),
                             st.one_of(st.integers(0, 4096), st.sampled_from([2**31, 2**62, 2**63 + 5, -1]),
                                       st.sampled_from(["8", "1e3", "2.5", "x", ""])), max_size=3)


# ------------------------------------------------------------------ a time limit per case
class CaseTimeout(BaseException):
    """Raised in the main thread when a case runs past its limit (BaseException: nothing in
    flopest may swallow it)."""


@contextlib.contextmanager
def time_limit(seconds: float, hard_seconds: float | None = None):
    """Raise CaseTimeout after `seconds` (SIGALRM; main thread only). A watchdog thread
    (faulthandler) dumps every stack and ends the process after `hard_seconds` in case the
    time is spent in C code that never returns to the interpreter, so a hang fails the run
    instead of stalling it."""
    hard = hard_seconds if hard_seconds is not None else 6 * seconds
    main = threading.current_thread() is threading.main_thread() and hasattr(signal, "setitimer")

    fired = []

    def on_alarm(signum, frame):
        fired.append(True)
        raise CaseTimeout(f"case ran past {seconds} s")

    faulthandler.dump_traceback_later(hard, exit=True)
    old = None
    if main:
        old = signal.signal(signal.SIGALRM, on_alarm)
        signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        if main:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, old)
        faulthandler.cancel_dump_traceback_later()
    if fired:   # the alarm went off but its exception was swallowed (e.g. raised in a gc callback)
        raise CaseTimeout(f"case ran past {seconds} s")


def numpy_seed_model() -> bytes:
    """A small valid model (MatMul, Add, Relu with a Reshape) to mutate."""
    from onnx import helper, numpy_helper
    w = numpy_helper.from_array(np.ones((64, 32), np.float32), "W")
    s = numpy_helper.from_array(np.array([-1, 64], np.int64), "S")
    g = helper.make_graph(
        [helper.make_node("Reshape", ["x", "S"], ["x2"]), helper.make_node("MatMul", ["x2", "W"], ["y"]),
         helper.make_node("Relu", ["y"], ["r"])], "seed",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 64])],
        [helper.make_tensor_value_info("r", TensorProto.FLOAT, ["batch", 32])], initializer=[w, s])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()
