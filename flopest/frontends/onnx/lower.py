"""Lowering: walk a graph (subgraphs and model-local functions included) with its inferred
shapes and map every node to OpTable rows through the operator registry; control flow
(If / Loop / Scan) becomes groups, branches and repeats; every node that cannot be costed is
counted in ``unknown_ops`` with a note saying why.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import onnx

from ... import kinds
from ...errors import InputError
from ...ops import Ctx, ShapeUnknown, lookup, unknown_reason
from ...optable import TableBuilder
from .load import MAX_NESTING, elem_size, node_attrs, read_constants
from .propagate import ShapeInfo


@dataclass
class Lowered:
    table: object
    node_count: int
    costed: int
    unknown_ops: Counter
    notes: list
    uncosted_shape: int     # nodes uncosted because a shape was not inferred
    # examples one counted pass processes: the leading dim of the first graph input (not an
    # initializer), whatever its name. int when static or bound; a dim expression (usually one
    # input dim name, str) when symbolic; None when it cannot be read, with the reason in
    # examples_per_pass_note
    examples_per_pass: int | str | None = None
    examples_per_pass_note: str = ""


class _Walker:
    def __init__(self, info: ShapeInfo, consts: dict, functions: dict, opset: int = 21):
        self.opset = opset      # of the default domain: Scan's inputs differ before opset 9
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
                    and len(self._expanding) < MAX_NESTING:
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
            else:
                self.note(f"{key}: {unknown_reason(key)}; not costed")
            self.unknown[key] += 1
            return
        ctx = Ctx(op=node.op_type, inputs=[self.shape(i) for i in node.input],
                  outputs=[self.shape(o) for o in node.output], attrs=node_attrs(node),
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
        if key == "Attention" and len(node.input) > 6 and node.input[6]:
            self.note_cache(ctx, name)

    def condition(self, name: str):
        """The value of a boolean If condition known before the run (a constant, or computed
        from shapes by the propagation), else None."""
        c = self.consts.get(name) if name else None
        if c is not None and c.size == 1:
            return bool(c.reshape(-1)[0])
        v = getattr(self.info, "values", {}).get(name) if name else None
        if v is not None and len(v) == 1 and isinstance(v[0], (int, float)):   # not a Sym
            return bool(v[0])
        return None

    def note_cache(self, ctx, name) -> None:
        """Notes where an external KV cache's lengths (nonpad_kv_seqlen) make the causal count
        an upper bound."""
        lens, q = ctx.consts[6], ctx.inputs[0]
        lq = None if q is None else (q[2] if len(q) == 4 else q[1])
        if lens is None:
            self.note(f"Attention {name!r}: nonpad_kv_seqlen is a runtime input; causal counting "
                      f"takes every cached key as valid (offset kv_len − q_len), an upper bound")
        elif isinstance(lq, int) and (lens < lq).any():
            self.note(f"Attention {name!r}: nonpad_kv_seqlen has lengths below q_len {lq}; those "
                      f"queries are counted with offset 0 (an upper bound)")

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
            live = self.condition(node.input[0] if node.input else "")
            if live is not None:
                add(kinds.FREE, [])
                which = "then_branch" if live else "else_branch"
                self.note(f"If {name!r}: the condition is a constant ({bool(live)}): only its "
                          f"{which} is costed")
                self.walk(subs[which], name + ("/then/" if live else "/else/"), group, branch, repeat)
                self.costed += 1
                return
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
        # Scan: trip count = the scan axis length of the first scan input; opset 8 puts a
        # sequence_lens input first and a batch axis 0 before the scan axis 1 on every input
        # and state: its body runs batch × sequence times
        a = node_attrs(node)
        v8 = self.opset < 9
        try:
            n_scan = int(a.get("num_scan_inputs", 0))
            n_state = len(node.input) - n_scan - (1 if v8 else 0)
            if n_scan < 1 or n_state < 0:
                raise ValueError
            scan_in = node.input[len(node.input) - n_scan]
            shp = self.shape(scan_in)
            axes = [1] if v8 else (a.get("scan_input_axes") or [0])
            axis = int(axes[0])
        except (TypeError, ValueError, IndexError):
            return uncosted(f"num_scan_inputs={a.get('num_scan_inputs')!r} does not match its "
                            f"{len(node.input)} inputs")
        if shp is None:
            return uncosted("the trip count is unknown (the scan input's shape was not inferred)")
        if not -len(shp) <= axis < len(shp):
            return uncosted(f"scan axis {axis} is out of range for a rank-{len(shp)} input")
        trips = shp[axis] * shp[0] if v8 else shp[axis]
        if v8 and node.input[0]:
            self.note(f"{key} {name!r}: sequence_lens given: each batch entry counted at the full "
                      f"sequence length (an upper bound)")
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
            if type(v) is int and v < 0:   # e.g. a dead If branch's Split of a too-short axis
                raise ShapeUnknown(f"a size parameter is {v}: the shapes inferred for it are "
                                   f"inconsistent")
            if type(v) is int and not -_I64 <= v < _I64:
                raise OverflowError(f"a shape parameter is {v:.3e}, beyond int64 (2**63); the "
                                    f"model's shapes are implausible")
        r = rep * repeat
        if type(r) is int and not -_I64 <= r < _I64:
            raise OverflowError(f"its repeat count is {r:.3e}, beyond int64 (2**63)")


def lower(model: onnx.ModelProto, info: ShapeInfo) -> Lowered:
    consts: dict = {}
    read_constants(model.graph, consts)
    functions = {(f.domain, f.name): f for f in model.functions}
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 21)
    w = _Walker(info, consts, functions, opset)
    w.walk(model.graph)
    return Lowered(w.b.build(), w.nodes, w.costed, w.unknown, w.notes, w.shape_fail)

