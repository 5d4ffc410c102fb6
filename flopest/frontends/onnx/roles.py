"""The roles of an ONNX decoder export's inputs for serving: which dim is the batch, the new
tokens and the KV-cache length, and which inputs are the past keys/values. Read off the
weight-free model (flopest.frontends.onnx.load): no weight byte and no external file is read."""

from __future__ import annotations

from ...errors import InputError, ServingError
from .load import FLOAT_TYPES, elem_size, load


def graph_inputs(model) -> list:
    """[(name, [dim names or ints or None])] of the graph inputs that are not initializers."""
    m, _ = load(model)
    inits = {i.name for i in m.graph.initializer}
    out = []
    for i in m.graph.input:
        if i.name in inits:
            continue
        dims = [d.dim_param if d.dim_param else (d.dim_value if d.HasField("dim_value") else None)
                for d in i.type.tensor_type.shape.dim]
        out.append((i.name, dims))
    return out


def float_elem_size(model) -> int:
    """Bytes per element of the first floating-point initializer (4 when there is none)."""
    m, _ = load(model)
    return next((elem_size(i.data_type) for i in m.graph.initializer if i.data_type in FLOAT_TYPES), 4)


def decoder_roles(inputs: list, seq_dim: str | None = None, past_dim: str | None = None) -> tuple:
    """(batch dim, sequence dim, past dim, past inputs) of a decoder export with past key values."""
    past_inputs = [(n, d) for n, d in inputs if "past" in n.lower()]
    ids = next(((n, d) for n, d in inputs if n.lower() in ("input_ids", "ids", "tokens")), None)
    if ids is None:
        ids = next(((n, d) for n, d in inputs if len(d) == 2 and "past" not in n.lower()
                    and "mask" not in n.lower()), None)
    listing = "; ".join(f"{n} {d}" for n, d in inputs)
    if not past_inputs:
        raise ServingError(f"the ONNX model has no past key/value inputs (its inputs: {listing}): export the "
                           f"decoder with its KV cache (e.g. optimum's 'text-generation-with-past'), or serve "
                           f"it without --output-tokens as one forward pass per request")
    batch = ids[1][0] if ids and ids[1] and isinstance(ids[1][0], str) else None
    if seq_dim is None:
        if ids is None or len(ids[1]) < 2 or not isinstance(ids[1][1], str):
            raise InputError(f"cannot tell which dim of the ONNX model is the new tokens (its inputs: {listing}); "
                             f"name it with seq_dim (--seq-dim NAME)")
        seq_dim = ids[1][1]
    if past_dim is None:
        cands = {d for _, dims in past_inputs for d in dims if isinstance(d, str) and d not in (batch, seq_dim)}
        if len(cands) != 1:
            raise InputError(f"cannot tell which dim of the ONNX model is the KV-cache length (its inputs: "
                             f"{listing}); name it with past_dim (--past-dim NAME)")
        past_dim = cands.pop()
    return batch, seq_dim, past_dim, past_inputs

