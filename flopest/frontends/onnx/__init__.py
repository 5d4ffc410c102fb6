"""ONNX front end: load a model (path or ModelProto) without its weight bytes, infer shapes,
keep symbolic dims symbolic, and map every node (subgraphs included) to OpTable rows through
the operator registry; every node that cannot be costed is named in ``unknown_ops``.

Shapes come from ``onnx.shape_inference`` (with data propagation) on the weight-free graph;
where it leaves dims unknown, onnxruntime's symbolic shape inference is tried; where both
fail and the user has bound every input dim, the graph is re-inferred with concrete input
shapes (then each re-binding re-reads the graph: said in ``Counts.notes``). An operator
without a lowering whose onnx schema has a function body is costed through that body (said
in the notes).
"""

from __future__ import annotations

from ...errors import ModelReadError
from .infer import infer
from .load import (check_expansion, clear_declared_dims, count_params, elem_size, input_dims,
                   leading_dim, load, tied_note)
from .lower import Lowered, expand_functions, local_functions_called, lower
from .propagate import ShapeInfo, collect

__all__ = ["Lowered", "ShapeInfo", "analyse", "count_params", "elem_size", "infer", "input_dims",
           "leading_dim", "load", "lower"]


def _foreign(low: Lowered, names: list) -> list:
    """Symbols of the table that are not graph-input dims (invented by shape inference for
    data-dependent sizes): a user cannot bind them."""
    return sorted(low.table.free_dims() - set(names))


def analyse(model, dims: dict | None = None):
    """Read and lower a model once. Returns (Lowered, model, stats, input dim names, mode);
    ``Lowered.examples_per_pass`` is the first input's leading dim (see load.leading_dim).

    Tried in order, the first that costs every node with shapes in the input dims wins:
    onnx inference, onnxruntime symbolic inference (both symbolic: re-binding runs only the
    kernel), then, when every input dim is bound, both again at the concrete dims."""
    m, stats = load(model)
    expanded = []
    if m.functions:
        check_expansion(m, stats.get("source"))
        called = local_functions_called(m)
        try:
            from onnx import inliner   # onnx >= 1.16
            m = inliner.inline_local_functions(m)
            if called:
                shown = ", ".join(called[:8]) + (f" and {len(called) - 8} more" if len(called) > 8 else "")
                expanded = [f"model-local function(s) costed through their function bodies: {shown}"]
        except Exception:   # the walker expands them itself (and says so)
            pass
    expanded += expand_functions(m)   # operators without a lowering, costed through their body
    names = input_dims(m)
    clear_declared_dims(m, names)
    attempts = [("flopest", None), ("ort", None)]
    if names and dims and all(n in dims for n in names):
        attempts += [("flopest", dims), ("ort", dims)]
    best = None
    tried = []
    for engine, fixed in attempts:
        try:
            info = infer(m, engine, fixed=fixed, names=names)
        except Exception as exc:  # onnxruntime's tool raises on graphs it does not support
            why = str(exc).splitlines()[0][:160] if str(exc) else ""
            tried.append(f"{engine}{' at the bound dims' if fixed else ''} inference failed "
                         f"({type(exc).__name__}{': ' + why if why else ''})")
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
        collect(m.graph, info, {})
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
    if stats.get("external_refs"):
        low.notes.append(f"{stats['external_refs']} tensor(s) refer to external data files, which flopest "
                         f"never opens: their values are unknown (shapes and FLOPs do not need them)")
    low.notes.extend(n for n in expanded if n not in low.notes)
    tied = tied_note(stats.get("tied") or [])
    if tied:
        low.notes.append(tied)
    low.examples_per_pass, low.examples_reason = leading_dim(m, dims)
    clash = _sequence_first_clash(low, low.examples_per_pass, dims or {})
    if clash:
        low.examples_per_pass, low.examples_reason = None, clash
    return low, m, stats, names, mode


def _dim_value(d, dims: dict):
    """A dim (int, Sym or dim expression text) as an int at `dims`, or its source text when a
    name is not bound."""
    from ...dims import evaluate, parse_dim_param, to_source
    if isinstance(d, int):
        return d
    sym = parse_dim_param(d) if isinstance(d, str) else d
    try:
        return int(evaluate(sym, dims))
    except (KeyError, ArithmeticError, ValueError, TypeError):
        return to_source(sym)


def _sequence_first_clash(low: Lowered, lead, dims: dict) -> str | None:
    """Why the first input's leading dim is not the examples, when a recurrent node (LSTM, GRU,
    RNN) runs over it as its sequence axis with another batch (layout 0, ONNX's default:
    X is [sequence, batch, input]); None otherwise."""
    from ... import kinds
    if lead is None:
        return None
    t = low.table
    rows = [i for i in range(len(t)) if int(t.kind[i]) == kinds.RNN]
    if not rows:
        return None
    here = _dim_value(lead, dims)

    def param(i, j):
        k = int(t.sym[i, j])
        return _dim_value(t.symbols[k], dims) if k >= 0 else int(t.params[i, j])
    for i in rows:
        seq, batch = param(i, 0), param(i, 1)
        if seq == here and batch != here:
            return (f"the first input's leading dim ({lead}) is the sequence axis of {t.ops[int(t.op[i])]} node "
                    f"{t.nodes[int(t.node[i])]!r}, whose batch is {batch} (X is [sequence, batch, input]), so it is "
                    f"not the examples")
    return None
