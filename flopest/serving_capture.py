"""Serving capture: the counts a serving estimate needs, read off a model (PyTorch transformers
causal LMs with a KV cache of meta tensors, ONNX decoders with past key/values, one forward pass
of a classifier), turned into a GenerationCost or ForwardCost (flopest.generation).

NB: transitional. The torch helpers move to flopest/frontends/torch/generation.py, the ONNX
input roles to the ONNX front end, and the loops that count at positions to flopest/models.py
(issue 14); the impact model (flopest.impact.serving) calls `counted` only.
"""

from __future__ import annotations

from .errors import InputError, ServingError
from .generation import ForwardCost, GenerationCost, assemble, check_context, fit_positions
from .validate import error, whole

# ----------------------------------------------------------------------------- PyTorch front
def _hf_model(module):
    """The transformers model inside `module` (the zoo wraps it as `.model`), or None."""
    m = module
    for _ in range(4):
        cfg = getattr(m, "config", None)
        if cfg is not None and hasattr(cfg, "num_hidden_layers"):
            return m
        m = getattr(m, "model", None)
        if m is None:
            return None
    return None


def _text_config(cfg):
    get = getattr(cfg, "get_text_config", None)
    return get() if callable(get) else cfg


def _kv_shape(cfg) -> tuple:
    """(layers, kv heads, head dim) of a decoder config."""
    c = _text_config(cfg)
    layers = int(c.num_hidden_layers)
    heads = int(c.num_attention_heads)
    kv = getattr(c, "num_key_value_heads", None) or heads
    hd = getattr(c, "head_dim", None) or c.hidden_size // heads
    return layers, int(kv), int(hd)


def _context_of(cfg):
    c = _text_config(cfg)
    for name in ("max_position_embeddings", "n_positions", "max_sequence_length", "seq_length"):
        v = getattr(c, name, None)
        if isinstance(v, int) and v > 0:
            return v, name
    return None, None


def generation_cost_torch(module, prompt_tokens: int, output_tokens: int) -> GenerationCost:
    """Prefill and decode cost of a transformers causal LM (or a module wrapping one as
    `.model`), captured on meta tensors: the KV cache is a DynamicCache of meta tensors of the
    shape the config gives, built inside the captured call (no memory, no arithmetic)."""
    import torch
    from torch import nn

    from . import count, spec
    hf = _hf_model(module)
    if hf is None:
        raise ServingError(f"{type(module).__name__} is not a transformers causal LM (no .config with "
                           f"num_hidden_layers): serve its ONNX decoder export with past key values, "
                           f"or give --params (2·N per token) or --wh-per-request")
    P = whole("prompt_tokens", prompt_tokens)
    O = whole("output_tokens", output_tokens)
    ctx, ctx_name = _context_of(hf.config)
    check_context(P, O, ctx, f"{type(hf).__name__} config {ctx_name}")
    layers, kvh, hd = _kv_shape(hf.config)
    try:
        dtype = next(hf.parameters()).dtype
    except StopIteration:
        dtype = torch.float32
    from transformers import DynamicCache

    class _Step(nn.Module):
        """One call of the model on `seq` new tokens after `past` cached ones."""

        def __init__(self, model, past, keep):
            super().__init__()
            self.model = model
            self.past = past
            self.keep = keep

        def forward(self, input_ids):
            kw = {}
            if self.past:
                cache = DynamicCache()
                for i in range(layers):   # torch.empty: an allocation, costs nothing
                    shape = (input_ids.shape[0], kvh, self.past, hd)
                    cache.update(torch.empty(shape, dtype=dtype, device=input_ids.device),
                                 torch.empty(shape, dtype=dtype, device=input_ids.device), i)
                kw = {"past_key_values": cache, "use_cache": True}
            else:   # the prefill: logits of the last position only, as generate() asks
                kw = {"use_cache": False, **({"logits_to_keep": 1} if self.keep else {})}
            return self.model(input_ids=input_ids, return_dict=True, **kw).logits

    import inspect
    try:
        keep = "logits_to_keep" in inspect.signature(hf.forward).parameters
    except (TypeError, ValueError):
        keep = False

    def step(seq, past):
        return count(_Step(hf, past, keep), input_ids=spec((1, seq), "int64"))

    pre = step(P, 0)
    points = {}
    notes = list(pre.notes)
    if not keep:
        notes.append(f"{type(hf).__name__}.forward has no logits_to_keep: the prefill counts the logits of "
                     f"every prompt position (generation needs the last one only)")
    for p in fit_positions(P, O):
        c = step(1, p)
        points[p] = c
        notes += [n for n in c.notes if n not in notes]
    return assemble(P, O, pre, points, pre.params, 2 * layers * kvh * hd, ctx,
                     type(hf).__name__, "torch", notes)


def forward_cost_torch(module, args=(), kwargs=None, batch: int = 1) -> ForwardCost:
    """One forward pass at `batch` examples: the first dim of every example input is set to it."""
    from . import count, spec

    def rebatch(x):
        shape = tuple(getattr(x, "shape", ()))
        if not shape:
            return x
        return spec((batch,) + tuple(int(d) for d in shape[1:]), x.dtype)

    a = tuple(rebatch(x) for x in args)
    kw = {k: rebatch(v) for k, v in (kwargs or {}).items()}
    c = count(module, *a, **kw)
    fp = [p for p in module.parameters() if p.is_floating_point()]
    return ForwardCost(batch, c.flops, c.matmul_flops, c.bytes, c.params, type(module).__name__, "torch",
                       list(c.notes) + (["operators not costed (unknown_ops): " +
                                         ", ".join(f"{k} ×{v}" for k, v in sorted(c.unknown_ops.items()))]
                                        if c.unknown_ops else []),
                       fp[0].element_size() if fp else 4)


# ----------------------------------------------------------------------------- ONNX front
def _onnx_inputs(path) -> list:
    """[(name, [dim names or ints])] of the graph inputs that are not initializers."""
    import onnx
    m = onnx.load(str(path), load_external_data=False) if not isinstance(path, onnx.ModelProto) else path
    inits = {i.name for i in m.graph.initializer}
    out = []
    for i in m.graph.input:
        if i.name in inits:
            continue
        dims = [d.dim_param if d.dim_param else (d.dim_value if d.HasField("dim_value") else None)
                for d in i.type.tensor_type.shape.dim]
        out.append((i.name, dims))
    return out


def _onnx_roles(inputs, seq_dim=None, past_dim=None):
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
    batch = ids[1][0] if ids and isinstance(ids[1][0], str) else None
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


def generation_cost_onnx(model, prompt_tokens: int, output_tokens: int, dims=None, seq_dim=None,
                         past_dim=None, context: int | None = None) -> GenerationCost:
    """Prefill and decode cost of an ONNX decoder export that takes past key/values: read once,
    then re-bound (prefill: seq = P, past = 0; decode: seq = 1, past = p)."""
    from . import count
    from .counts import parse_dims
    P = whole("prompt_tokens", prompt_tokens)
    O = whole("output_tokens", output_tokens)
    check_context(P, O, context, "context")
    inputs = _onnx_inputs(model)
    batch, seq_dim, past_dim, past_inputs = _onnx_roles(inputs, seq_dim, past_dim)
    fixed = parse_dims(dims)
    kv = 0
    for n, ds in past_inputs:
        e = 1
        for d in ds:
            if d in (batch, past_dim):
                continue
            if isinstance(d, int):
                e *= d
            elif d in fixed:
                e *= fixed[d]
            else:
                raise error(f"past input {n!r} has a dim {d!r} with no value: bind it with dims {d}=VALUE", "dims")
        kv += e
    base = dict(fixed)
    if batch:
        base[batch] = 1
    # other symbolic dims that follow the sequence (an attention mask over past + new tokens)
    other = sorted({d for _, ds in inputs for d in ds if isinstance(d, str)} - set(base) - {seq_dim, past_dim})

    def at(seq, past):
        d = dict(base, **{seq_dim: seq, past_dim: past})
        for o in other:
            d[o] = past + seq   # NB: an unnamed extra dim is taken as the total length
        return d

    c = count(model, dims=at(P, 0))
    notes = list(c.notes)
    if other:
        notes.append(f"dims {', '.join(other)} taken as past + new tokens")
    if context is None:
        notes.append("the ONNX graph does not state its context length: prompt + output not checked (--context)")
    points = {p: c.at(**at(1, p)) for p in fit_positions(P, O)}
    src = model if isinstance(model, str) else "onnx model"
    return assemble(P, O, c, points, c.params, kv, context, str(src), "onnx", notes)


def forward_cost_onnx(model, dims=None, batch: int = 1, batch_dim: str = "batch") -> ForwardCost:
    from . import count
    from .counts import parse_dims
    d = parse_dims(dims)
    inputs = _onnx_inputs(model)
    names = {x for _, ds in inputs for x in ds if isinstance(x, str)}
    if batch_dim in names:
        d[batch_dim] = batch
    elif batch != 1:
        raise InputError(f"the ONNX model has no dim named {batch_dim!r} to set --batch {batch} "
                         f"(its dims: {', '.join(sorted(names)) or 'none, all static'})")
    c = count(model, dims=d)
    return ForwardCost(batch, c.flops, c.matmul_flops, c.bytes, c.params, str(model), "onnx", list(c.notes),
                       _onnx_float_bytes(model))


def _onnx_float_bytes(model) -> int:
    """Bytes per element of the first floating-point initializer (float32 when there is none)."""
    import onnx
    m = onnx.load(str(model), load_external_data=False) if not isinstance(model, onnx.ModelProto) else model
    sizes = {onnx.TensorProto.FLOAT: 4, onnx.TensorProto.DOUBLE: 8, onnx.TensorProto.FLOAT16: 2,
             onnx.TensorProto.BFLOAT16: 2}
    return next((sizes[i.data_type] for i in m.graph.initializer if i.data_type in sizes), 4)


def counted(model, args, kwargs, prompt_tokens, output_tokens, batch, dims, seq_dim, past_dim, context):
    """GenerationCost (output_tokens given) or ForwardCost of `model` at `batch`."""
    generative = output_tokens is not None
    if generative and prompt_tokens is None:
        raise error("output_tokens needs prompt_tokens (the prompt length)", "output_tokens", "prompt_tokens")
    from . import models
    if models.is_zoo(model):
        tm = models.zoo_model(model)
        model, args = tm.module, tm.args
    if models.is_torch_module(model):
        if generative:
            return generation_cost_torch(model, prompt_tokens, output_tokens)
        if not args and not kwargs:
            raise InputError(f"{type(model).__name__}: give its example inputs (one forward per request), or "
                             f"--output-tokens for a generative model")
        if prompt_tokens is not None:
            args = tuple(_with_seq(a, whole("prompt_tokens", prompt_tokens)) for a in args)
            kwargs = {k: _with_seq(a, whole("prompt_tokens", prompt_tokens)) for k, a in (kwargs or {}).items()}
        return forward_cost_torch(model, args, kwargs, batch)
    if args or kwargs:
        raise InputError("example inputs are for PyTorch modules; an ONNX model takes dims={...}")
    if generative:
        return generation_cost_onnx(model, prompt_tokens, output_tokens, dims, seq_dim, past_dim,
                                    whole("context", context, allow_none=True))
    d = dict(dims or {})
    if prompt_tokens is not None:
        d.setdefault(seq_dim or "sequence", whole("prompt_tokens", prompt_tokens))
    return forward_cost_onnx(model, d, batch)


def _with_seq(x, seq):
    """An example input of rank 2 (batch, tokens) with `seq` tokens."""
    from . import spec
    shape = tuple(getattr(x, "shape", ()))
    if len(shape) != 2:
        return x
    return spec((shape[0], seq), x.dtype)

