"""Lowering: walk a graph (subgraphs and model-local functions included) with its inferred
shapes and map every node to OpTable rows through the operator registry; control flow
(If / Loop / Scan) becomes groups, branches and repeats; every node that cannot be costed is
counted in ``unknown_ops`` with a note saying why. Before shapes are inferred, an operator the
registry has no lowering for but whose onnx schema defines a function body (a standard or a
preview operator) is replaced by that body (``expand_functions``), and is costed through it.
"""

from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import dataclass

from . import pb

from ... import kinds
from ...errors import InputError
from ...ops import UNCOSTED, Ctx, ShapeUnknown, lookup, unknown_reason
from ...optable import TableBuilder
from .load import MAX_EXPANDED_NODES, MAX_NESTING, elem_size, node_attrs, read_constants
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
    # initializer), whatever its name. int when static; a dim expression (usually one input dim
    # name, str) when symbolic, bound or not; None when it cannot be read, with the reason in
    # examples_reason
    examples_per_pass: int | str | None = None
    examples_reason: str = ""


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
                self.note(f"{key}: a model-local function, costed through its function body")
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
        subs = {a.name: a.g for a in node.attribute if a.type == pb.AttributeProto.GRAPH}
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


def lower(model: pb.ModelProto, info: ShapeInfo) -> Lowered:
    consts: dict = {}
    read_constants(model.graph, consts)
    functions = {(f.domain, f.name): f for f in model.functions}
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 21)
    w = _Walker(info, consts, functions, opset)
    w.walk(model.graph)
    return Lowered(w.b.build(), w.nodes, w.costed, w.unknown, w.notes, w.shape_fail)


# ----------------------------------------------------------------------------- function bodies
MAX_EXPANSION_ROUNDS = 8    # a body whose own operators need their bodies, and so on


def _wants_body(node, opsets: dict) -> bool:
    """A node the registry cannot cost (no lowering, not zero-cost, no recorded reason) whose
    domain the model imports."""
    if node.op_type in ("If", "Loop", "Scan") and node.domain in ("", "ai.onnx"):
        return False
    key = node.op_type if node.domain in ("", "ai.onnx") else f"{node.domain}:{node.op_type}"
    fn, free = lookup(key)
    return fn is None and not free and key not in UNCOSTED and \
        (node.domain or "") in opsets


def _schema_function(node, opsets: dict, types) -> tuple:
    """(FunctionProto, its opset version, the schema, '') of the node's operator in onnx's
    schema at the model's opset, or (None, None, None, why not; '' when onnx defines no body).
    `types()` gives name -> TypeProto, for a body built for the node's input types."""
    domain = node.domain or ""
    version = opsets[domain]
    try:
        schema = pb.full().defs.get_schema(node.op_type, version, "" if domain == "ai.onnx" else domain)
    except Exception:   # onnx.defs.SchemaError: not an operator onnx defines at this opset
        return None, None, None, ""
    fp = pb.FunctionProto()
    static = [v for v in getattr(schema, "function_opset_versions", []) if v <= version]
    dependent = [v for v in getattr(schema, "context_dependent_function_opset_versions", []) if v <= version]
    try:
        if schema.has_function and static:
            used = max(static)
            fp.ParseFromString(schema.get_function_with_opset_version(used))
        elif schema.has_context_dependent_function and dependent:
            known = types()
            missing = [i for i in node.input if i and i not in known]
            if missing:
                return None, None, None, f"its function body needs the types of {', '.join(missing[:3])}"
            used = max(dependent)
            fp.ParseFromString(schema.get_context_dependent_function_with_opset_version(
                used, _with_default_attrs(node, schema).SerializeToString(),
                [(known[i] if i else pb.TypeProto()).SerializeToString() for i in node.input]))
        else:
            return None, None, None, ""
    except Exception as exc:   # onnx could not build the body for these attributes / types
        return None, None, None, f"onnx could not build its function body ({type(exc).__name__}: {exc})"
    if not fp.node:
        return None, None, None, "onnx gives an empty function body"
    for imp in fp.opset_import:   # the body's operators must exist at the model's opsets
        d = "" if imp.domain == "ai.onnx" else imp.domain
        if d not in opsets or opsets[d] < imp.version:
            return None, None, None, (f"its function body needs opset {imp.version} of domain "
                                      f"{imp.domain or 'ai.onnx'!r}")
    return fp, used, schema, ""


def _with_default_attrs(node, schema):
    """The node with the schema's default values of the attributes it does not set."""
    out = pb.NodeProto()
    out.CopyFrom(node)
    have = {a.name for a in node.attribute}
    for name, a in schema.attributes.items():
        d = a.default_value
        if name not in have and d.type != pb.AttributeProto.UNDEFINED:
            out.attribute.append(d)
    return out


def _inline(node, fp, prefix: str, schema_node) -> list:
    """The function body's nodes with the node's inputs, outputs and attribute values in place
    of the body's formal ones; every other name prefixed (onnx's own expansion of node tests)."""
    names = {}
    for i, formal in enumerate(fp.input):
        names[formal] = node.input[i] if i < len(node.input) else ""
    for i, formal in enumerate(fp.output):
        if i < len(node.output) and node.output[i]:
            names[formal] = node.output[i]
    attrs = {a.name: a for a in schema_node.attribute}
    serial = itertools.count()

    def rename(n: str) -> str:
        return names.get(n, prefix + n) if n else ""

    def graph(g, outer):
        local = {}
        for vi in list(g.input) + list(g.output):
            local[vi.name] = vi.name = prefix + vi.name
        for t in g.initializer:
            local[t.name] = t.name = prefix + t.name

        def sub(n):
            return local.get(n) or outer(n)
        nodes = [copy(n, sub) for n in g.node]
        g.ClearField("node")
        g.node.extend(nodes)

    def copy(n, ren):
        new = pb.NodeProto()
        new.CopyFrom(n)
        new.ClearField("input")
        new.ClearField("output")
        new.ClearField("attribute")
        new.input.extend(ren(x) for x in n.input)
        new.output.extend(ren(x) for x in n.output)
        new.name = prefix + (n.name or f"{n.op_type}_{next(serial)}")
        for a in n.attribute:
            if a.ref_attr_name:
                if a.ref_attr_name in attrs:
                    b = pb.AttributeProto()
                    b.CopyFrom(attrs[a.ref_attr_name])
                    b.name = a.name
                    new.attribute.append(b)
                continue
            b = pb.AttributeProto()
            b.CopyFrom(a)
            if b.type == pb.AttributeProto.GRAPH:
                graph(b.g, ren)
            elif b.type == pb.AttributeProto.GRAPHS:
                for g in b.graphs:
                    graph(g, ren)
            new.attribute.append(b)
        return new

    return [copy(n, rename) for n in fp.node]


def _value_types(m: pb.ModelProto) -> dict:
    """name -> TypeProto of every value whose type the model declares or onnx infers (the
    context-dependent function bodies are built for their inputs' types)."""
    try:
        g = pb.infer_shapes(m).graph
    except Exception:   # inference failed: the declared types only
        g = m.graph
    types = {}

    def collect(graph):
        for vi in list(graph.input) + list(graph.value_info) + list(graph.output):
            if vi.type.WhichOneof("value") is not None:
                types[vi.name] = vi.type
        for t in graph.initializer:
            types.setdefault(t.name, pb.full().helper.make_tensor_type_proto(t.data_type, list(t.dims)))
        for n in graph.node:
            for a in n.attribute:
                if a.type == pb.AttributeProto.GRAPH:
                    collect(a.g)
                elif a.type == pb.AttributeProto.GRAPHS:
                    for sg in a.graphs:
                        collect(sg)
    collect(g)
    return types


def expand_functions(m: pb.ModelProto) -> list:
    """Replace, in place, every node whose operator flopest has no lowering for but onnx's
    schema gives a function body (at the model's opset; context-dependent bodies built for the
    node's attributes and input types) by that body, in the graph and its subgraphs, until none
    is left (a body's own such operators too, at most MAX_EXPANSION_ROUNDS deep and
    MAX_EXPANDED_NODES in all). Returns the notes: which operators were costed through their
    function body, and why others could not be."""
    opsets = {("" if o.domain == "ai.onnx" else o.domain): o.version for o in m.opset_import}
    notes: list = []
    expanded: Counter = Counter()
    bodies: dict = {}
    failed: dict = {}
    state = {"types": None, "count": 0, "total": 0}
    decided: dict = {}

    def wants(node) -> bool:   # decided once per operator: models repeat few of them
        k = (node.domain, node.op_type)
        if k not in decided:
            decided[k] = _wants_body(node, opsets)
        return decided[k]

    def types():
        if state["types"] is None:
            state["types"] = _value_types(m)
        return state["types"]

    def size(graph) -> int:
        total = 0
        for n in graph.node:
            total += 1
            for a in n.attribute:
                if a.type == pb.AttributeProto.GRAPH:
                    total += size(a.g)
                elif a.type == pb.AttributeProto.GRAPHS:
                    total += sum(size(g) for g in a.graphs)
        return total

    def body_of(node):
        """(key, (FunctionProto, version, schema) or None); bodies that do not depend on the
        node are built once per operator."""
        key = node.op_type if node.domain in ("", "ai.onnx") else f"{node.domain}:{node.op_type}"
        if key in bodies:
            return key, bodies[key]
        fp, version, schema, why = _schema_function(node, opsets, types)
        if fp is None:
            if why:
                failed.setdefault(key, why)
            return key, None
        if not schema.has_context_dependent_function or schema.has_function:
            bodies[key] = (fp, version, schema)
        return key, (fp, version, schema)

    def rewrite(graph) -> bool:
        changed = False
        out = []
        for node in graph.node:
            for a in node.attribute:
                if a.type == pb.AttributeProto.GRAPH:
                    changed |= rewrite(a.g)
                elif a.type == pb.AttributeProto.GRAPHS:
                    for g in a.graphs:
                        changed |= rewrite(g)
            if not wants(node):
                out.append(node)
                continue
            key, found = body_of(node)
            if found is None or state["total"] + len(found[0].node) > MAX_EXPANDED_NODES:
                if found is not None:
                    failed.setdefault(key, f"expanding it would pass {MAX_EXPANDED_NODES:,} nodes")
                out.append(node)
                continue
            fp, version, schema = found
            state["count"] += 1
            prefix = f"{node.name or node.op_type}/{node.op_type}.{state['count']}/"
            out.extend(_inline(node, fp, prefix, _with_default_attrs(node, schema)))
            state["total"] += len(fp.node) - 1
            expanded[(key, version)] += 1
            changed = True
        if changed:
            graph.ClearField("node")
            graph.node.extend(out)
        return changed

    if not any(wants(n) for n in _all_nodes(m.graph)):
        return notes
    state["total"] = size(m.graph)
    for _ in range(MAX_EXPANSION_ROUNDS):
        if not rewrite(m.graph):
            break
        state["types"] = None   # new values: their types are inferred again when needed
    for (key, version), n in sorted(expanded.items()):
        notes.append(f"{key}: costed through its ONNX function body (onnx's schema, opset {version}; "
                     f"flopest has no lowering of its own): {n} node(s) expanded into the operators "
                     f"of the body")
    for key, why in sorted(failed.items()):
        if not any(k == key for k, _ in expanded):
            notes.append(f"{key}: not expanded through a function body ({why})")
    return notes


def _all_nodes(graph):
    for n in graph.node:
        yield n
        for a in n.attribute:
            if a.type == pb.AttributeProto.GRAPH:
                yield from _all_nodes(a.g)
            elif a.type == pb.AttributeProto.GRAPHS:
                for g in a.graphs:
                    yield from _all_nodes(g)


def local_functions_called(m: pb.ModelProto) -> list:
    """The model-local functions the graph calls, directly or through another function
    (``domain:name``, sorted)."""
    funcs = {(f.domain, f.name): f for f in m.functions}
    seen: set = set()
    todo = [n for n in _all_nodes(m.graph)]
    while todo:
        n = todo.pop()
        k = (n.domain, n.op_type)
        if k in funcs and k not in seen:
            seen.add(k)
            for f_node in funcs[k].node:
                todo.extend(_all_nodes_of(f_node))
    return sorted(f"{d}:{name}" if d else name for d, name in seen)


def _all_nodes_of(node):
    yield node
    for a in node.attribute:
        if a.type == pb.AttributeProto.GRAPH:
            yield from _all_nodes(a.g)
        elif a.type == pb.AttributeProto.GRAPHS:
            for g in a.graphs:
                yield from _all_nodes(g)
