"""ONNX's backend node tests as a corpus nobody here wrote: every model counted twice, and
the matrix / convolution / recurrent / attention / normalization / pooling operators checked
against formulas written here from the ONNX operator spec.

The corpus is generated at run time with onnx's own generator (``collect_testcases`` of
``onnx.backend.test.case.node``: each test's ``export`` builds the model and computes its
outputs with NumPy) and written into a temporary folder, as ``onnx backend-test-tools
generate-data`` lays it out; nothing is committed. Each model is counted

* as written (static shapes; ``flopest.count(path)``), and
* as a copy whose every graph-input dim is symbolic (``d<input>_<axis>``; dims of size 0 stay
  static) with its declared output shapes dropped, bound back to the static values.

A model fails when

* counting raises anything other than a ``FlopestError`` (a refusal is tallied, not failed);
* the two counts (flops, matmul_flops, bytes) differ and nothing names the disagreement (a
  *silent* disagreement). Named means: the two counts leave different operators uncosted and
  the one that leaves an operator out says why in a note naming it, or (same unknown
  operators) a note only one of them carries names a node of the model. Any other difference
  in notes (which inference engine ran, say) explains nothing;
* a single-operator model of a family in ``FORMULAS`` disagrees with the formula (or is not
  costed). The formulas read the test's own NumPy arrays (input and output shapes) and
  attributes; they do not call ``flopest.ops``.

A symbolic copy whose sizes depend on input *values* (Pad's pads, OneHot's depth, a Resize's
sizes: inputs here, not constants) is refused with ``UnboundDimError`` naming the dims shape
inference invented for them (``Pad_0_o0__d0``). The comparison still runs: each such dim is
found on the shape of the value it sizes and bound to the size that value has when the test
runs (onnx's reference evaluator on the test's own inputs; the test's expected outputs when
the evaluator cannot run it), and the copy is counted again. A copy whose dims cannot be bound so
is tallied and listed by name (``symbolic copies not compared``), never skipped silently.

Conventions (docs/methodology.md): 1 multiply-add = 2 FLOPs; matrix operators are compared
on ``matmul_flops``, normalizations and pooling on ``flops`` with the documented per-element
constants (normalizations: mean 1, subtract 1, square 1, variance sum 1, scale 1, + gamma,
+ beta per element and 4 per normalized group; pooling: one compare or add per window element
of every output).

    python benchmarks/bench_node_corpus.py [--ops MatMul,Conv] [--list-failures] [--keep DIR]

Prints the tally (models, refusals, exceptions, disagreements, formula checks, unknown
operators by reason, the symbolic copies compared at bound data-dependent dims and any not
compared); exits 1 when any model fails. docs/counting.md prints the tally.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import copy
import importlib
import io
import math
import os
import re
import sys
import tempfile
import warnings
from dataclasses import dataclass, field

import numpy as np
import onnx
from onnx import helper

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import flopest  # noqa: E402
from flopest.errors import FlopestError, UnboundDimError  # noqa: E402


# ------------------------------------------------------------------------------ the corpus
@dataclass
class Case:
    name: str
    model: onnx.ModelProto
    inputs: list          # NumPy arrays (or lists/dicts for sequence/map inputs), graph-input order
    outputs: list


def generate(modules: list[str] | None = None) -> list[Case]:
    """The node test cases. `modules`: only these case modules of onnx.backend.test.case.node
    (``["matmul", "conv"]``; each module's exports run on import, which is the slow part);
    None: all of them (onnx's collect_testcases)."""
    from onnx.backend.test.case import node as cases
    with warnings.catch_warnings(), np.errstate(all="ignore"), \
            contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        if modules is None:
            found = cases.collect_testcases()
        else:
            for mod in modules:
                importlib.import_module(f"onnx.backend.test.case.node.{mod}")
            # NB: exports append to this list on import; collect_testcases(op_type) would
            # import every module first, so a subset reads it directly (onnx 1.14 - 1.23)
            found = list(cases._NodeTestCases)
    out = []
    for tc in found:
        ins, outs = tc.data_sets[0]
        out.append(Case(tc.name, tc.model, list(ins), list(outs)))
    return out


def write(cases: list[Case], folder: str) -> dict:
    """`folder`/node/<name>/model.onnx for every case (generate-data's layout); name -> path."""
    paths = {}
    for c in cases:
        d = os.path.join(folder, "node", c.name)
        os.makedirs(d, exist_ok=True)
        p = os.path.join(d, "model.onnx")
        with open(p, "wb") as f:
            f.write(c.model.SerializeToString())
        paths[c.name] = p
    return paths


def symbolic_copy(model: onnx.ModelProto):
    """(copy, dims): every static graph-input dim > 0 replaced by ``d<i>_<axis>``, output shapes
    dropped (element types kept), and the dims that bind the copy back to the original."""
    m = copy.deepcopy(model)
    dims = {}
    for i, vi in enumerate(m.graph.input):
        t = vi.type
        if not t.HasField("tensor_type") or not t.tensor_type.HasField("shape"):
            continue
        for ax, d in enumerate(t.tensor_type.shape.dim):
            if d.HasField("dim_value") and d.dim_value > 0:
                name = f"d{i}_{ax}"
                dims[name] = d.dim_value
                d.ClearField("dim_value")
                d.dim_param = name
    for vi in m.graph.output:
        if vi.type.HasField("tensor_type"):
            vi.type.tensor_type.ClearField("shape")
    return m, dims


# ------------------------------------------------------------------------------ formulas
def _attrs(node) -> dict:
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def _shapes(case: Case) -> tuple[dict, dict]:
    """node input / output name -> shape, from the test's arrays."""
    node = case.model.graph.node[0]
    present_in = [x for x in node.input if x]
    present_out = [x for x in node.output if x]
    sin = {n: tuple(np.shape(a)) for n, a in zip(present_in, case.inputs) if isinstance(a, (np.ndarray, np.generic))}
    sout = {n: tuple(np.shape(a)) for n, a in zip(present_out, case.outputs)
            if isinstance(a, (np.ndarray, np.generic))}
    return sin, sout


def _inp(node, sin, i):
    """Shape of input i, None when absent."""
    return sin.get(node.input[i]) if i < len(node.input) and node.input[i] else None


def _out(node, sout, i=0):
    return sout.get(node.output[i]) if i < len(node.output) and node.output[i] else None


def _numel(s) -> int:
    return int(np.prod(s, dtype=object)) if s else 1


def f_matmul_at(a_idx):
    def f(node, a, sin, sout):
        A = _inp(node, sin, a_idx)
        return "matmul_flops", 2 * _numel(_out(node, sout)) * A[-1]
    f.__doc__ = f"MatMul (numpy matmul), A = input {a_idx}: each output element is a k-long dot " \
                f"product, k = A's last dim"
    return f


f_matmul = f_matmul_at(0)


def f_gemm(node, a, sin, sout):
    """Gemm: Y (M, N) = A' (M, K) · B' (K, N); K = A.shape[0] when transA else A.shape[1]."""
    A = _inp(node, sin, 0)
    K = A[0] if a.get("transA", 0) else A[1]
    return "matmul_flops", 2 * _numel(_out(node, sout)) * K


def f_einsum(node, a, sin, sout):
    """Einsum of one or two operands: a letter of one operand that is in neither the other
    operand nor the output is summed away first (not a matrix product); the product of the
    rest costs one multiply-add per point of the union of their letters."""
    eq = a["equation"].decode() if isinstance(a["equation"], bytes) else a["equation"]
    eq = eq.replace(" ", "")
    shapes = [_inp(node, sin, i) for i in range(len(node.input))]
    if "..." in eq or len(shapes) > 2:
        return None
    lhs, _, rhs = eq.partition("->")
    terms = lhs.split(",")
    if not rhs and "->" not in eq:
        letters = "".join(terms)
        rhs = "".join(sorted(ch for ch in set(letters) if letters.count(ch) == 1))
    if len(terms) == 1:
        return "matmul_flops", 0
    size = {}
    for t, s in zip(terms, shapes):
        for ch, d in zip(t, s):
            size[ch] = max(size.get(ch, 1), d)
    t0, t1 = terms
    k0 = {ch for ch in t0 if ch in t1 or ch in rhs}
    k1 = {ch for ch in t1 if ch in t0 or ch in rhs}
    return "matmul_flops", 2 * math.prod(size[ch] for ch in k0 | k1)


def f_conv(node, a, sin, sout, w_idx=1):
    """Conv: every output element is a dot product over (C_in / group) · prod(kernel) = the
    weight's dims after the first (W is (M, C/group, k1, ...))."""
    W = _inp(node, sin, w_idx)
    return "matmul_flops", 2 * _numel(_out(node, sout)) * _numel(W[1:])


def f_conv_at(w_idx):
    def f(node, a, sin, sout):
        return f_conv(node, a, sin, sout, w_idx)
    f.__doc__ = f"as Conv, W = input {w_idx}"
    return f


def f_conv_transpose(node, a, sin, sout):
    """ConvTranspose: every input element is scattered through (M / group) · prod(kernel)
    weights = W's dims after the first (W is (C, M/group, k1, ...))."""
    X, W = _inp(node, sin, 0), _inp(node, sin, 1)
    return "matmul_flops", 2 * _numel(X) * _numel(W[1:])


def f_rnn(node, a, sin, sout):
    """RNN / GRU / LSTM: at each step of each direction, X_t (batch, input) · Wᵀ and
    H (batch, hidden) · Rᵀ for all gates: batch · (numel(W[d]) + numel(R[d])) multiply-adds;
    X is (seq, batch, input), or (batch, seq, input) with layout = 1."""
    X, W, R = _inp(node, sin, 0), _inp(node, sin, 1), _inp(node, sin, 2)
    seq, batch = (X[1], X[0]) if a.get("layout", 0) else (X[0], X[1])
    return "matmul_flops", 2 * seq * batch * (_numel(W) + _numel(R))


def f_attention(node, a, sin, sout):
    """Attention (opset 23): Q·Kᵀ and P·V over every query-key pair (count without causal=True:
    masks and is_causal are not subtracted): 2·B·Hq·Lq·L_total·(d_qk + d_v); Q/K/V (B, H, L, d)
    or (B, L, H·d) with q_num_heads / kv_num_heads; past_key (B, Hkv, past, d_qk) adds past."""
    Q, K, V = (_inp(node, sin, i) for i in range(3))
    past = _inp(node, sin, 4)
    if len(Q) == 4:
        B, Hq, Lq, dqk = Q
        Lk, dv = K[2], V[3]
    else:
        Hq, Hkv = a["q_num_heads"], a["kv_num_heads"]
        B, Lq, dqk = Q[0], Q[1], Q[2] // Hq
        Lk, dv = K[1], V[2] // Hkv
    total = Lk + (past[2] if past else 0)
    return "matmul_flops", 2 * B * Hq * Lq * total * (dqk + dv)


def _norm_groups(shape, axis):
    axis = axis + len(shape) if axis < 0 else axis
    return _numel(shape[:axis])


def f_layer_norm(node, a, sin, sout):
    """LayerNormalization: statistics over the dims from `axis` on (default −1): groups =
    prod(shape[:axis]); per element 5 + scale + bias (input 1 is required, input 2 optional)."""
    X = _inp(node, sin, 0)
    per = 5 + 1 + (1 if _inp(node, sin, 2) else 0)
    return "flops", _numel(X) * per + 4 * _norm_groups(X, a.get("axis", -1))


def f_rms_norm(node, a, sin, sout):
    """RMSNormalization: mean of squares over the dims from `axis` on; per element square,
    sum, scale (3) + the required scale input (1); 4 per group."""
    X = _inp(node, sin, 0)
    return "flops", _numel(X) * 4 + 4 * _norm_groups(X, a.get("axis", -1))


def f_batch_norm(node, a, sin, sout):
    """BatchNormalization: one group per channel (dim 1); inference uses the stored mean and
    variance: subtract, scale by rstd, gamma, beta = 4 per element; training_mode = 1 computes
    the statistics first (+ mean, square, variance sum = 7)."""
    X = _inp(node, sin, 0)
    per = 7 if a.get("training_mode", 0) else 4
    return "flops", _numel(X) * per + 4 * X[1]


def f_instance_norm(node, a, sin, sout):
    """InstanceNormalization: one group per (sample, channel); 5 + scale + bias per element."""
    X = _inp(node, sin, 0)
    return "flops", _numel(X) * 7 + 4 * X[0] * X[1]


def f_group_norm(node, a, sin, sout):
    """GroupNormalization: N · num_groups groups; 5 + scale + bias per element."""
    X = _inp(node, sin, 0)
    return "flops", _numel(X) * 7 + 4 * X[0] * a["num_groups"]


def f_mvn(node, a, sin, sout):
    """MeanVarianceNormalization: statistics over `axes` (default [0, 2, 3]); groups = the
    elements of the kept dims; per element 5 (no scale, no bias)."""
    X = _inp(node, sin, 0)
    axes = [ax + len(X) if ax < 0 else ax for ax in a.get("axes", [0, 2, 3])]
    groups = _numel([d for i, d in enumerate(X) if i not in axes])
    return "flops", _numel(X) * 5 + 4 * groups


def f_pool(node, a, sin, sout):
    """MaxPool / AveragePool / LpPool: each output element reads prod(kernel_shape) inputs
    (padding positions included, as for convolutions)."""
    return "flops", _numel(_out(node, sout)) * _numel(a["kernel_shape"])


def f_global_pool(node, a, sin, sout):
    """GlobalAveragePool / GlobalMaxPool / GlobalLpPool: N·C outputs over prod(spatial)."""
    X = _inp(node, sin, 0)
    return "flops", _numel(X)


FORMULAS = {
    "MatMul": f_matmul, "MatMulInteger": f_matmul, "QLinearMatMul": f_matmul_at(0),
    "Gemm": f_gemm, "Einsum": f_einsum,
    "Conv": f_conv, "ConvInteger": f_conv, "QLinearConv": f_conv_at(3),
    "DeformConv": f_conv, "ConvTranspose": f_conv_transpose,
    "RNN": f_rnn, "GRU": f_rnn, "LSTM": f_rnn, "Attention": f_attention,
    "LayerNormalization": f_layer_norm, "RMSNormalization": f_rms_norm,
    "BatchNormalization": f_batch_norm, "InstanceNormalization": f_instance_norm,
    "GroupNormalization": f_group_norm, "MeanVarianceNormalization": f_mvn,
    "MaxPool": f_pool, "AveragePool": f_pool, "LpPool": f_pool,
    "GlobalAveragePool": f_global_pool, "GlobalMaxPool": f_global_pool, "GlobalLpPool": f_global_pool,
}


def formula(case: Case):
    """(field, expected) for a single-operator model of a FORMULAS family, else None."""
    g = case.model.graph
    if len(g.node) != 1 or g.node[0].domain not in ("", "ai.onnx"):
        return None
    fn = FORMULAS.get(g.node[0].op_type)
    if fn is None:
        return None
    sin, sout = _shapes(case)
    return fn(g.node[0], _attrs(g.node[0]), sin, sout)


# ------------------------------------------------------------------------------ counting
@dataclass
class Result:
    name: str
    ops: tuple
    static: object = None          # Counts, or the exception
    symbolic: object = None
    expected: tuple | None = None  # (field, value) from FORMULAS
    failures: list = field(default_factory=list)
    refusals: list = field(default_factory=list)
    bound: dict = field(default_factory=dict)      # data-dependent dims bound to run-time sizes
    not_compared: str = ""                         # why the symbolic copy could not be compared
    explained: str = ""                            # what names a static/symbolic disagreement


def _count(model, dims=None):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return flopest.count(model, dims=dims)
    except Exception as exc:   # classified by the caller
        return exc


def _totals(c):
    return (c.flops, c.matmul_flops, c.bytes)


def reason(note_list: list, op: str) -> str:
    """Why `op` was not costed, from the notes that name it: no lowering / shape not inferred /
    trip count unknown / other; 'no reason given' when no note names it."""
    mine = [n for n in note_list if n.startswith(op + ":") or n.startswith(op + " ")]
    for n in mine:
        low = n.lower()
        if "no lowering" in low:
            return "no lowering"
        if "shape not inferred" in low or "shape is unknown" in low or "shapes cannot" in low:
            return "shape not inferred"
        if "trip count" in low or "scan length" in low:
            return "trip count unknown"
        if "depends on" in low or "data" in low:
            return "depends on data"
    return "other: " + mine[0][:70] if mine else "no reason given"


def explanation(s, y, model) -> str:
    """What names a disagreement of the counts `s` and `y` of one model, '' when nothing does:
    the operators they leave uncosted differ and, for each, the count leaving it out has a
    note naming it with its reason; or their unknown operators are the same and a note only
    one of them has names a node of the model (``'Pad_0'``). Any other note difference (which
    inference engine ran) explains nothing."""
    us, uy = collections.Counter(s.unknown_ops), collections.Counter(y.unknown_ops)
    differ = sorted(op for op in set(us) | set(uy) if us[op] != uy[op])
    if differ:
        unnamed = [op for op in differ
                   if reason((s if us[op] > uy[op] else y).notes, op) == "no reason given"]
        return "" if unnamed else "unknown operator(s) " + ", ".join(differ)
    names = set(_node_names(model.graph))
    for note in sorted(set(s.notes) ^ set(y.notes)):
        for quoted in re.findall(r"'([^']+)'", note):
            if quoted.split("/")[-1] in names:
                return f"a note on node {quoted!r}"
    return ""


def _node_names(graph):
    """Every node's name as flopest's notes give it: its own, else ``<op>_<index>``."""
    for i, n in enumerate(graph.node):
        yield n.name or f"{n.op_type}_{i}"
        for a in n.attribute:
            if a.type == onnx.AttributeProto.GRAPH:
                yield from _node_names(a.g)
            elif a.type == onnx.AttributeProto.GRAPHS:
                for g in a.graphs:
                    yield from _node_names(g)


def run_time_shapes(case: Case) -> dict:
    """value name -> shape of every value when the test runs: onnx's reference evaluator on the
    test's inputs (intermediate values too); the test's expected outputs when it cannot."""
    g = case.model.graph
    shapes = {o.name: tuple(np.shape(a)) for o, a in zip(g.output, case.outputs)
              if isinstance(a, (np.ndarray, np.generic))}
    try:
        from onnx.reference import ReferenceEvaluator
        feeds = {i.name: a for i, a in zip(g.input, case.inputs)}
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            got = ReferenceEvaluator(case.model).run(None, feeds, intermediate=True)
        shapes.update({k: tuple(np.shape(v)) for k, v in got.items()
                       if isinstance(v, (np.ndarray, np.generic))})
    except Exception:   # the evaluator lacks an operator, or the test feeds sequences: outputs only
        pass
    return shapes


def invented_positions(sym, free, dims: dict) -> dict:
    """dim name -> (value name, axis) where shape inference put each of the `free` dims it
    invented on the symbolic copy `sym` (as a shape entry of its own), by the engines flopest
    runs (its propagation over onnx's inference, then onnxruntime's; symbolic, then at the
    bound `dims`)."""
    from flopest.frontends import onnx as fe
    m, _ = fe.load(sym)
    names = fe.input_dims(m)
    where = {}
    for engine, fixed in (("flopest", None), ("ort", None), ("flopest", dims), ("ort", dims)):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                info = fe.infer(m, engine, fixed=fixed, names=names)
        except Exception:   # that engine does not run on this graph
            continue
        for value, shape in info.shapes.items():
            for axis, d in enumerate(shape or ()):
                for name in free:
                    if name not in where and getattr(d, "terms", None) == {(name,): 1}:
                        where[name] = (value, axis)
    return where


def bind_data_dependent(case: Case, sym, dims: dict) -> tuple[dict, str]:
    """(values, '') for the dims shape inference invented on the symbolic copy `sym` (sizes
    that depend on input values), each read off the run-time shape of the value it sits on;
    ({}, why) when one cannot be bound."""
    from flopest.frontends import onnx as fe
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        low = fe.analyse(sym, dims)[0]
    free = sorted(low.table.free_dims() - set(dims))
    if not free:
        return {}, "no invented dim to bind"
    where = invented_positions(sym, free, dims)
    shapes = run_time_shapes(case)
    out = {}
    for d in free:
        if d not in where:
            return {}, f"dim {d!r} is on no value's shape"
        value, axis = where[d]
        shp = shapes.get(value)
        if shp is None or axis >= len(shp):
            return {}, f"the run-time shape of {value!r} (dim {d!r}) is not known"
        out[d] = int(shp[axis])
    return out, ""


def check(case: Case, path) -> Result:
    """Count one case both ways and classify it."""
    ops = tuple(sorted({n.op_type for n in case.model.graph.node}))
    r = Result(case.name, ops)
    r.static = _count(path if path else case.model)
    sym, dims = symbolic_copy(case.model)
    r.symbolic = _count(sym, dims)
    if isinstance(r.symbolic, UnboundDimError) and not isinstance(r.static, BaseException):
        try:
            extra, why = bind_data_dependent(case, sym, dims)
        except Exception as exc:   # a bug of this harness: said, not hidden
            extra, why = {}, f"binding raised {type(exc).__name__}: {exc}"
        if extra:
            again = _count(sym, {**dims, **extra})
            if isinstance(again, BaseException):
                why = f"still refused with the invented dims bound ({type(again).__name__}: {again})"
            else:
                r.bound, r.symbolic = extra, again
        if why:
            r.not_compared = why
    for label, c in (("static", r.static), ("symbolic", r.symbolic)):
        if isinstance(c, FlopestError):
            r.refusals.append(f"{label}: {type(c).__name__}: {c}")
        elif isinstance(c, BaseException):
            r.failures.append(f"exception ({label}): {type(c).__name__}: {c}")
    s, y = r.static, r.symbolic
    if isinstance(s, BaseException) != isinstance(y, BaseException) and not r.not_compared:
        r.not_compared = "only one of the two counts ran"
    if not isinstance(s, BaseException) and not isinstance(y, BaseException):
        if _totals(s) != _totals(y):
            r.explained = explanation(s, y, case.model)
            if not r.explained:
                r.failures.append(f"silent disagreement: static {_totals(s)} symbolic {_totals(y)}"
                                  + (f" (invented dims bound: {r.bound})" if r.bound else ""))
    try:
        r.expected = formula(case)
    except Exception as exc:   # a bug of this harness: said, not hidden
        r.failures.append(f"formula raised {type(exc).__name__}: {exc}")
    if r.expected is not None:
        key, want = r.expected
        for label, c in (("static", s), ("symbolic", y)):
            if isinstance(c, BaseException):
                continue
            if c.unknown_ops:
                r.failures.append(f"formula ({label}): not costed {dict(c.unknown_ops)}")
            elif getattr(c, key) != want:
                r.failures.append(f"formula ({label}): {key} {getattr(c, key)} != {want}")
    return r


def run(cases: list[Case], folder: str | None = None) -> list[Result]:
    """Write the cases into `folder` (a temporary one when None), count and check each."""
    with contextlib.ExitStack() as stack:
        if folder is None:
            folder = stack.enter_context(tempfile.TemporaryDirectory(prefix="node_corpus_"))
        paths = write(cases, folder)
        return [check(c, paths[c.name]) for c in cases]


def tally(results: list[Result]) -> dict:
    t = {"models": len(results), "symbolic copies": len(results),
         "exceptions": 0, "refused (FlopestError)": 0,
         "symbolic copies compared at bound data-dependent dims": 0,
         "symbolic copies not compared": 0, "silent disagreements": 0,
         "disagreements named by an unknown operator or a node's note": 0,
         "formula checks": 0, "formula mismatches": 0, "models failing": 0}
    unknown = collections.Counter()
    for r in results:
        t["exceptions"] += sum(1 for f in r.failures if f.startswith("exception"))
        t["refused (FlopestError)"] += len(r.refusals)
        t["symbolic copies compared at bound data-dependent dims"] += 1 if r.bound else 0
        t["symbolic copies not compared"] += 1 if r.not_compared else 0
        t["silent disagreements"] += sum(1 for f in r.failures if f.startswith("silent"))
        t["disagreements named by an unknown operator or a node's note"] += 1 if r.explained else 0
        t["formula checks"] += 1 if r.expected is not None else 0
        t["formula mismatches"] += 1 if any(f.startswith("formula") for f in r.failures) else 0
        t["models failing"] += 1 if r.failures else 0
        for c in (r.static, r.symbolic):
            if isinstance(c, BaseException):
                continue
            for op, n in c.unknown_ops.items():
                unknown[(reason(c.notes, op), op)] += n
    t["unknown operators"] = unknown
    return t


def print_tally(t: dict, results: list[Result], list_failures: bool) -> None:
    print("| corpus (onnx " + onnx.__version__ + " node tests) | count |")
    print("|---|---:|")
    for k, v in t.items():
        if k != "unknown operators":
            print(f"| {k} | {v:,} |")
    by_reason = collections.Counter()
    ops_by_reason = collections.defaultdict(set)
    for (why, op), n in t["unknown operators"].items():
        by_reason[why] += n
        ops_by_reason[why].add(op)
    print()
    print("| unknown-operator nodes (static + symbolic) by reason | nodes | operators |")
    print("|---|---:|---|")
    for why, n in by_reason.most_common():
        print(f"| {why} | {n:,} | {', '.join(sorted(ops_by_reason[why]))} |")
    uncompared = [r for r in results if r.not_compared]
    if uncompared:
        print()
        print(f"{len(uncompared)} symbolic cop(ies) not compared with the static count:")
        for r in uncompared:
            print(f"  {r.name}: {r.not_compared}")
    failing = [r for r in results if r.failures]
    if failing:
        print()
        print(f"{len(failing)} failing model(s)" + ("" if list_failures else " (--list-failures)"))
        if list_failures:
            for r in failing:
                for f in r.failures:
                    print(f"  {r.name} [{', '.join(r.ops)}]: {f}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ops", help="only the cases whose model uses one of these op types (comma-separated)")
    ap.add_argument("--list-failures", action="store_true", help="print every failing model")
    ap.add_argument("--keep", metavar="DIR", help="write the corpus here instead of a temporary folder")
    a = ap.parse_args(argv)
    cases = generate()
    if a.ops:
        want = set(a.ops.split(","))
        cases = [c for c in cases if want & {n.op_type for n in c.model.graph.node}]
    results = run(cases, a.keep)
    t = tally(results)
    print_tally(t, results, a.list_failures)
    return 1 if t["models failing"] else 0


if __name__ == "__main__":
    sys.exit(main())
