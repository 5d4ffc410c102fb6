"""Serving: the per-request cost of a model read off its graph, and the impact of a deployment
over time (latency, devices, energy, CO₂eq by scope, water), with p5/p50/p95.

Per request (counted, exact integers, batch 1):

    generation   prefill = one forward pass over the prompt (P tokens), logits of the last
                 position only, as transformers' ``generate`` asks (``logits_to_keep=1``);
                 decode  = O − 1 steps of one token each, the step at cache length p costing
                 f(p) for p = P … P + O − 2 (the prefill yields the first output token).
                 f is captured at 4 positions and fitted exactly: affine from 2, checked at the
                 other 2 (quadratic from 3, checked at the 4th, if a model needs it); the sum
                 over the positions is then exact.
    forward      classification / vision: one forward pass per example, counted at the batch.

Time per request on a device, at batch B (roofline, one model replica of k devices):

    step time  = max(FLOPs / (k · peak · MFU), bytes / (k · bandwidth · MBU))
    decode bytes per step  = weights read once for the whole batch (the batch shares them)
                             + B × KV cache read (p tokens) and written (1 token)
    prefill bytes          = weights + B × KV cache written (P tokens)
    latency    = prefill + Σ decode steps (static batching: a batch starts and ends together)

    NB: activations are assumed to stay on chip (fused kernels): a lower bound on traffic, so
    the time is a lower bound before the efficiencies (MBU, MFU), whose ranges cover the rest.
    Decode at small batch is memory-bound: the weights are read at every step.

Deployment over a duration H, at a load of λ requests/s:

    replicas   = ⌈λ / (B / latency × target utilisation)⌉ (or the fleet given), k devices each
    power      = idle + busy × (TDP × power fraction − idle) + host, per device (a user-given
                 --power-w is the all-in average draw per device: only PUE is added)
    energy     = devices × H × power × PUE           scope 2 = energy × grid intensity
    scope 3    = devices × embodied × H / lifetime   (a dedicated fleet: the share is its time
                 over its lifetime, the seed's ChatGPT method; not divided by the 85 % lifetime
                 utilisation used for jobs on shared hardware)
    or, a posteriori, --wh-per-request: IT energy = Wh × requests (PUE on top).

Every uncertain input is an :class:`flopest.impact.Uncertain`, sampled with the impact model's
two-piece log-normal (kernel/_mc.py); a value the user fixes collapses its range.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np

from . import __version__
from .errors import FlopestError, InputError
from .impact import DEFAULT_SAMPLES, DEFAULT_SEED, ELEMENT_BYTES, Uncertain

HOURS_PER_YEAR = 8760.0            # 365 days, as flopest.impact uses for lifetimes
HOURS_PER_MONTH = HOURS_PER_YEAR / 12   # 730 h: a month is a twelfth of a year
SECONDS_PER_DAY = 86400.0

# bytes per stored element of weights and KV cache at a precision: the formats' widths
# (IEEE 754 binary32 / binary16, bfloat16, OCP 8-bit floating point, int8)
BYTES_PER_ELEMENT = ELEMENT_BYTES   # impact's table: bytes per weight at each precision

# Memory-bandwidth utilisation (MBU) of decoding: achieved bytes/s over the datasheet bandwidth.
# Evidence: 0.27 (H100) and 0.81 (L4), batch-1 decode of three 7-8B GQA models (J. Chen,
# arXiv, 28 May 2026, "Memory-bound but not bandwidth-limited: the physical-AI inference gap",
# as summarised by theneuralfeed.com); 0.49: BLOOM-176B, DeepSpeed-Inference fp16, batch 1,
# 44.02 ms/token on 8 × A100-80GB (Hugging Face blog "Incredibly fast BLOOM inference with
# DeepSpeed and Accelerate", 2022) against 352 GB / (8 × 2,039 GB/s) = 21.6 ms.
# Rule of flopest's priors: p5 = 0.9 × min, p50 = median, p95 = 1.1 × max.
MBU_PRIOR = Uncertain(0.243, 0.49, 0.891, "",
                      "p5 = 0.9 × min, p50 = median, p95 = 1.1 × max of measured decode bandwidth "
                      "utilisation: H100 0.27 and L4 0.81, batch-1 decode of 7-8B GQA models (Chen, arXiv, "
                      "May 2026, via theneuralfeed.com); BLOOM-176B DeepSpeed-Inference fp16 batch 1, "
                      "44.02 ms/token on 8 × A100-80GB vs 21.6 ms at full bandwidth = 0.49 (Hugging Face "
                      "blog 'Incredibly fast BLOOM inference with DeepSpeed and Accelerate', 2022)")

MODES = ("generate", "forward", "energy-per-request")


class ServingError(FlopestError, ValueError):
    """A model whose serving cost cannot be derived (no KV cache, cost not polynomial in the
    position); the message says why and what to give instead."""


# ----------------------------------------------------------------------------- counted cost
@dataclass(frozen=True)
class Poly:
    """An exact polynomial c0 + c1·p + c2·p² in the cache length p (Fractions)."""
    c: tuple

    def __call__(self, p) -> Fraction:
        return sum((ci * Fraction(p) ** i for i, ci in enumerate(self.c)), Fraction(0))

    def sum(self, lo: int, hi: int) -> int:
        """Σ f(p) for p = lo … hi (inclusive), exactly (0 when hi < lo)."""
        if hi < lo:
            return 0
        s = [_power_sum(k, hi) - _power_sum(k, lo - 1) for k in range(len(self.c))]
        tot = sum((ci * si for ci, si in zip(self.c, s)), Fraction(0))
        return int(tot) if tot.denominator == 1 else round(tot)

    @property
    def degree(self) -> int:
        return max((i for i, ci in enumerate(self.c) if ci != 0), default=0)


def _power_sum(k: int, n: int) -> int:
    """Σ_{p=0}^{n} p^k for k = 0, 1, 2 (0 when n < 0)."""
    if n < 0:
        return 0
    return (n + 1, n * (n + 1) // 2, n * (n + 1) * (2 * n + 1) // 6)[k]


def fit_position(points: dict) -> Poly:
    """The lowest-degree polynomial through {p: value} that every point satisfies exactly:
    affine through the first and last point, checked at the others; else quadratic through
    the first, second and last, checked at the rest. ServingError if neither fits."""
    xs = sorted(points)
    ys = [Fraction(points[x]) for x in xs]
    if len(xs) == 1:
        return Poly((ys[0],))
    x0, x1 = xs[0], xs[-1]
    c1 = (ys[-1] - ys[0]) / (x1 - x0)
    lin = Poly((ys[0] - c1 * x0, c1))
    if all(lin(x) == y for x, y in zip(xs, ys)):
        return lin
    if len(xs) >= 4:
        a, b, c = xs[0], xs[1], xs[-1]
        ya, yb, yc = ys[0], ys[1], ys[-1]
        # Newton form through (a, ya), (b, yb), (c, yc)
        d1 = (yb - ya) / (b - a)
        d2 = ((yc - yb) / (c - b) - d1) / (c - a)
        quad = Poly((ya - d1 * a + d2 * a * b, d1 - d2 * (a + b), d2))
        if all(quad(x) == y for x, y in zip(xs, ys)):
            return quad
    raise ServingError(f"the decode cost is not a polynomial of degree ≤ 2 in the cache length "
                       f"(captured at {xs}: {[int(y) for y in ys]}); count the decode steps one by "
                       f"one with flopest.count, or give --wh-per-request")


@dataclass
class GenerationCost:
    """What one sequence costs to generate, counted at batch 1 (exact integers).

    prefill_*: the forward pass over the prompt; decode_*: Poly in the cache length p of one
    decode step (one new token, p cached). graph bytes follow flopest count's convention
    (every operator's inputs + outputs, no fusion: an upper bound)."""
    prompt_tokens: int
    output_tokens: int
    prefill_flops: int
    prefill_matmul_flops: int
    prefill_graph_bytes: int
    decode_flops: Poly
    decode_matmul_flops: Poly
    decode_graph_bytes: Poly
    params: int                      # all parameters (memory footprint)
    kv_elements_per_token: int       # K and V elements one token adds to the cache, all layers
    context: int | None = None       # the model's maximum positions, when known
    source: str = ""
    frontend: str = ""
    notes: list = field(default_factory=list)
    captured_positions: tuple = ()

    @property
    def decode_steps(self) -> int:
        return self.output_tokens - 1

    @property
    def positions(self) -> tuple:
        """(first, last) cache length of the decode steps."""
        return self.prompt_tokens, self.prompt_tokens + self.output_tokens - 2

    @property
    def matmul_params(self) -> int:
        """Parameters consumed by matrix products per token: the decode matmul FLOPs with the
        attention window emptied (p + 1 = 0 keys) are 2 × these (1 multiply-add = 2 FLOPs)."""
        v = self.decode_matmul_flops(-1) / 2
        return int(v) if v > 0 else self.params

    def decode_total(self, poly: Poly) -> int:
        lo, hi = self.positions
        return poly.sum(lo, hi)

    @property
    def decode_flops_total(self) -> int:
        return self.decode_total(self.decode_flops)

    @property
    def decode_graph_bytes_total(self) -> int:
        return self.decode_total(self.decode_graph_bytes)

    def to_dict(self) -> dict:
        lo, hi = self.positions
        d = {"prompt_tokens": self.prompt_tokens, "output_tokens": self.output_tokens,
             "flops_per_request": {"prefill": self.prefill_flops, "decode": self.decode_flops_total},
             "matmul_flops_per_request": {"prefill": self.prefill_matmul_flops,
                                          "decode": self.decode_total(self.decode_matmul_flops)},
             "graph_bytes_per_request": {"prefill": self.prefill_graph_bytes,
                                         "decode": self.decode_graph_bytes_total},
             "decode_flops_per_token": {"first": int(self.decode_flops(lo)) if hi >= lo else 0,
                                        "last": int(self.decode_flops(hi)) if hi >= lo else 0,
                                        "per_cached_token": float(self.decode_flops.c[1])
                                        if len(self.decode_flops.c) > 1 else 0.0},
             "params": self.params, "matmul_params": self.matmul_params,
             "kv_cache_elements_per_token": self.kv_elements_per_token, "context": self.context}
        return d


@dataclass
class ForwardCost:
    """One forward pass of a batch (classification, vision, embedding): counted at the batch."""
    batch: int
    flops: int
    matmul_flops: int
    graph_bytes: int
    params: int
    source: str = ""
    frontend: str = ""
    notes: list = field(default_factory=list)
    element_bytes: int = 4           # bytes of the model's floating-point elements as captured


def _pos_int(flag: str, v, allow_none=False):
    if v is None:
        if allow_none:
            return None
        raise InputError(f"{flag} is required")
    if isinstance(v, bool):
        raise InputError(f"{flag} must be a positive whole number, got {v!r}")
    from .workload import parse_count
    try:
        x = parse_count(v, flag)
    except InputError:
        raise InputError(f"{flag} must be a positive whole number, got {v!r} (e.g. {flag} 500)") from None
    if x <= 0 or x != int(x):
        raise InputError(f"{flag} must be a positive whole number, got {v!r} (e.g. {flag} 500)")
    return int(x)


def _pos_float(flag: str, v, allow_none=True):
    if v is None:
        if allow_none:
            return None
        raise InputError(f"{flag} is required")
    if isinstance(v, bool):
        raise InputError(f"{flag} must be a positive number, got {v!r}")
    from .workload import parse_count
    try:
        x = parse_count(v, flag)
    except InputError:
        raise InputError(f"{flag} must be a positive number, got {v!r}") from None
    if not x > 0:
        raise InputError(f"{flag} must be a positive number, got {v!r}")
    return x


def _check_context(prompt: int, output: int, context: int | None, what: str) -> None:
    if context is not None and prompt + output > context:
        raise InputError(f"--prompt-tokens {prompt:,} + --output-tokens {output:,} = {prompt + output:,} tokens "
                         f"exceed the model's context of {context:,} ({what}); shorten the prompt or the "
                         f"output so that they fit")


def _fit_positions(prompt: int, output: int) -> list:
    """Cache lengths at which decode steps are captured: all of them when there are at most 4,
    else the first, the last and two in between (2 fit an affine cost, the others check it)."""
    lo, hi = prompt, prompt + output - 2
    if hi < lo:
        return []
    n = hi - lo + 1
    if n <= 4:
        return list(range(lo, hi + 1))
    return sorted({lo, lo + (n - 1) // 3, lo + 2 * (n - 1) // 3, hi})


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
    P = _pos_int("--prompt-tokens", prompt_tokens)
    O = _pos_int("--output-tokens", output_tokens)
    ctx, ctx_name = _context_of(hf.config)
    _check_context(P, O, ctx, f"{type(hf).__name__} config {ctx_name}")
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
    for p in _fit_positions(P, O):
        c = step(1, p)
        points[p] = c
        notes += [n for n in c.notes if n not in notes]
    return _assemble(P, O, pre, points, pre.params, 2 * layers * kvh * hd, ctx,
                     type(hf).__name__, "torch", notes)


def _assemble(P, O, pre, points, params, kv_tok, ctx, source, frontend, notes) -> GenerationCost:
    if points:
        fl = fit_position({p: c.flops for p, c in points.items()})
        mm = fit_position({p: c.matmul_flops for p, c in points.items()})
        by = fit_position({p: c.bytes for p, c in points.items()})
    else:
        fl = mm = by = Poly((Fraction(0),))
    unknown = dict(pre.unknown_ops)
    for c in points.values():
        for k, v in c.unknown_ops.items():
            unknown[k] = max(unknown.get(k, 0), v)
    if unknown:
        notes = notes + ["operators not costed (unknown_ops): " + ", ".join(f"{k} ×{v}" for k, v in
                                                                           sorted(unknown.items()))]
    return GenerationCost(P, O, pre.flops, pre.matmul_flops, pre.bytes, fl, mm, by, int(params), int(kv_tok),
                          ctx, source, frontend, notes, tuple(sorted(points)))


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
                             f"name it with --seq-dim NAME")
        seq_dim = ids[1][1]
    if past_dim is None:
        cands = {d for _, dims in past_inputs for d in dims if isinstance(d, str) and d not in (batch, seq_dim)}
        if len(cands) != 1:
            raise InputError(f"cannot tell which dim of the ONNX model is the KV-cache length (its inputs: "
                             f"{listing}); name it with --past-dim NAME")
        past_dim = cands.pop()
    return batch, seq_dim, past_dim, past_inputs


def generation_cost_onnx(model, prompt_tokens: int, output_tokens: int, dims=None, seq_dim=None,
                         past_dim=None, context: int | None = None) -> GenerationCost:
    """Prefill and decode cost of an ONNX decoder export that takes past key/values: read once,
    then re-bound (prefill: seq = P, past = 0; decode: seq = 1, past = p)."""
    from . import count
    from .counts import parse_dims
    P = _pos_int("--prompt-tokens", prompt_tokens)
    O = _pos_int("--output-tokens", output_tokens)
    _check_context(P, O, context, "--context")
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
                raise InputError(f"past input {n!r} has a dim {d!r} with no value: bind it with --dim {d}=VALUE")
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
    points = {p: c.at(**at(1, p)) for p in _fit_positions(P, O)}
    src = model if isinstance(model, str) else "onnx model"
    return _assemble(P, O, c, points, c.params, kv, context, str(src), "onnx", notes)


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


# ----------------------------------------------------------------------------- without a graph
def generation_cost_params(params, prompt_tokens: int, output_tokens: int, layers=None, d_model=None,
                           kv_dim=None, context=None) -> GenerationCost:
    """A language model without a graph: 2·N FLOPs per token (N parameters, all in matrix
    products), + attention 2·2·L·d per cached key (QKᵀ and AV, d = heads × head dim) when
    --layers and --d-model are given; KV cache 2·L·kv_dim elements per token (kv_dim = d for
    multi-head attention). Kaplan et al. 2020 (forward ≈ 2N), PaLM appendix B."""
    n = _pos_int("--params", params)
    P = _pos_int("--prompt-tokens", prompt_tokens)
    O = _pos_int("--output-tokens", output_tokens)
    ctx = _pos_int("--context", context, allow_none=True)
    _check_context(P, O, ctx, "--context")
    notes = []
    if (layers is None) != (d_model is None):
        raise InputError("attention and the KV cache need both --layers and --d-model")
    if layers is not None:
        L, d = _pos_int("--layers", layers), _pos_int("--d-model", d_model)
        kvd = _pos_int("--kv-dim", kv_dim, allow_none=True) or d
        att = 4 * L * d           # per key: QKᵀ 2·d + AV 2·d, per layer
        kv = 2 * L * kvd
    else:
        att, kv = 0, 0
        notes.append("no --layers/--d-model: attention FLOPs and the KV cache are not counted")
    pre = 2 * n * P + att * P * (P + 1) // 2   # causal: query i sees i + 1 keys
    dec = Poly((Fraction(2 * n + att), Fraction(att)))   # p cached + 1 new key
    return GenerationCost(P, O, pre, pre, 0, dec, dec, Poly((Fraction(0),)), n, kv, ctx,
                          f"{n:.3g} parameters (no graph)", "params",
                          notes + ["no graph: 2·N per token + attention; graph bytes not counted"])


# ----------------------------------------------------------------------------- roofline
@dataclass
class Roofline:
    """Deterministic parts of the time per batch on a device: per decode step, FLOPs over the
    replica's peak and bytes over its bandwidth (seconds at 100 % efficiency)."""
    batch: int
    devices_per_replica: int
    prefill_compute_s: float
    prefill_memory_s: float
    decode_compute_s: np.ndarray      # per step
    decode_memory_s: np.ndarray
    weight_bytes: float
    kv_bytes_per_token: float
    bytes_prefill: float              # per batch
    bytes_decode: float               # per batch, all steps
    memory_needed_bytes: float
    output_tokens: int

    def times(self, mfu: np.ndarray, mbu: np.ndarray):
        """(prefill s, decode s) per batch for arrays of efficiencies: Σ over steps of
        max(compute / MFU, memory / MBU), exactly (the compute/memory ratio is monotone in
        the position, so each sample has one crossover, found by bisection)."""
        mfu = np.asarray(mfu, float)
        mbu = np.asarray(mbu, float)
        t_pf = np.maximum(self.prefill_compute_s / mfu, self.prefill_memory_s / mbu)
        c, m = self.decode_compute_s, self.decode_memory_s
        if len(c) == 0:
            return t_pf, np.zeros_like(t_pf)
        r = c / m
        thr = mfu / mbu                        # compute term wins where r > thr
        cc = np.concatenate(([0.0], np.cumsum(c)))
        cm = np.concatenate(([0.0], np.cumsum(m)))
        d = np.diff(r)
        if np.all(d >= 0):                     # compute-bound suffix
            i = np.searchsorted(r, thr, side="right")
            t_dec = (cc[-1] - cc[i]) / mfu + cm[i] / mbu
        elif np.all(d <= 0):                   # compute-bound prefix
            i = np.searchsorted(-r, -thr, side="left")
            t_dec = cc[i] / mfu + (cm[-1] - cm[i]) / mbu
        else:                                  # not monotone: step by step
            t_dec = np.zeros_like(t_pf)
            for k in range(0, len(c), 256):
                cs, ms = c[k:k + 256], m[k:k + 256]
                t_dec += np.maximum(cs[None, :] / mfu[:, None], ms[None, :] / mbu[:, None]).sum(axis=1)
        return t_pf, t_dec


def roofline(cost, device, batch: int = 1, precision: str | None = None, devices_per_replica=None) -> Roofline:
    """The roofline of one batch of `cost` (GenerationCost or ForwardCost) on `device` (an id
    or a profiles.Device)."""
    from . import profiles
    dev = profiles.device(device) if isinstance(device, str) else device
    prec = precision or _default_precision(dev)
    peak = dev.peak_flops(prec)
    bw = dev.mem_bandwidth_bytes_per_s
    bpe = BYTES_PER_ELEMENT[prec]
    B = _pos_int("--batch", batch)
    if isinstance(cost, ForwardCost):
        if cost.batch != B:
            raise InputError(f"the forward cost was counted at batch {cost.batch}, not {B}")
        need = cost.params * bpe
        k = devices_per_replica or _replica(need, dev)
        # NB: the graph's bytes (every operator's inputs and outputs, no fusion: an upper bound),
        # rescaled from the captured element size to the serving precision
        byts = cost.graph_bytes * bpe / cost.element_bytes
        return Roofline(B, k, cost.flops / (k * peak), byts / (k * bw), np.zeros(0), np.zeros(0),
                        cost.params * bpe, 0.0, float(byts), 0.0, need, 0)
    P, O = cost.prompt_tokens, cost.output_tokens
    w = cost.matmul_params * bpe                   # weights read per step (matrix-product weights)
    kvb = cost.kv_elements_per_token * bpe
    need = cost.params * bpe + B * kvb * (P + O)
    k = devices_per_replica or _replica(need, dev)
    lo, hi = cost.positions
    ps = np.arange(lo, hi + 1, dtype=np.float64)
    fl = np.array([float(cost.decode_flops(int(p))) for p in ps]) if len(ps) <= 4096 else \
        _poly_eval(cost.decode_flops, ps)
    dec_bytes = w + B * kvb * (ps + 1)             # weights + KV read (p) and written (1)
    pre_bytes = w + B * kvb * P
    return Roofline(B, k, B * cost.prefill_flops / (k * peak), pre_bytes / (k * bw), B * fl / (k * peak),
                    dec_bytes / (k * bw), w, kvb, float(pre_bytes), float(dec_bytes.sum()), need, O)


def _poly_eval(poly: Poly, ps: np.ndarray) -> np.ndarray:
    return sum(float(c) * ps ** i for i, c in enumerate(poly.c))


def _replica(need_bytes: float, dev) -> int:
    """Devices one model replica needs to hold its weights and KV cache (tensor parallel)."""
    if not dev.memory_gb:
        return 1
    return max(1, math.ceil(need_bytes / (dev.memory_gb * 1e9)))


def _default_precision(dev) -> str:
    return next((p for p in ("bf16", "fp16", "fp32") if dev.peak_tflops(p)), "fp32")


# ----------------------------------------------------------------------------- the estimate
@dataclass
class ServingEstimate:
    """The impact of serving a model: per-request figures and fleet figures over the duration,
    each {p5, p50, p95}. ``to_dict()`` is the JSON document; ``metrics()`` the budget-able
    figures by name."""
    mode: str
    result: dict
    info: dict
    scenario: object = None
    cost: object = None
    assumptions_extra: list = field(default_factory=list)
    data_version: str = ""
    notes: list = field(default_factory=list)
    embodied: Uncertain | None = None    # per accelerator, as used (a user's server figure / its GPUs)

    def __getattr__(self, name):
        res = self.__dict__.get("result", {})
        if name in res:
            return res[name]
        raise AttributeError(name)

    @property
    def co2eq_kg_by_scope(self) -> dict:
        return {"scope2": self.result["scope2"], "scope3": self.result["scope3"]}

    METRICS = ("co2eq_kg", "co2eq_kg_per_month", "co2eq_kg_per_year", "co2eq_g_per_request",
               "energy_kwh", "energy_kwh_per_month", "energy_wh_per_request", "water_l", "accelerator_hours",
               "latency_s", "ttft_s", "tokens_per_s", "examples_per_s", "devices_needed", "breakeven_days")

    def metrics(self) -> dict:
        """{metric: {p5, p50, p95}}: the figures a budget can gate (latency_s, co2eq_kg_per_month,
        ...), only those this estimate has."""
        out = {k: dict(self.result[k]) for k in self.METRICS if self.result.get(k) is not None}
        out["co2eq_kg_scope2"] = dict(self.result["scope2"])
        out["co2eq_kg_scope3"] = dict(self.result["scope3"])
        return out

    def assumptions(self) -> list:
        rows = []
        if self.scenario is not None:
            skip = {"lifetime utilisation", "roofline factor (per-operator memory-bound time / compute time)",
                    "devices"}
            if self.mode == "energy-per-request":   # no device model: only what turns energy into impacts
                skip |= {"device", "TDP", "MFU", "average power / TDP", "host power per accelerator",
                         "power per accelerator, all-in"}
            for a in self.scenario.assumptions():
                if a["name"] in skip or (self.mode == "energy-per-request" and a["name"].startswith("peak ")):
                    continue
                if a["name"] == "MFU":
                    a = dict(a, name="MFU (compute-bound steps: prefill, large batches)")
                if a["name"].startswith("embodied emissions") and self.embodied is not None:
                    a = dict(a, value=self.embodied.value(), source=self.embodied.source)
                rows.append(a)
        return rows + list(self.assumptions_extra)

    def to_dict(self) -> dict:
        r = self.result
        d = {"kind": "serving", "mode": self.mode}
        d.update(self.info)
        for k in ("latency_s", "ttft_s", "tokens_per_s", "decode_tokens_per_s", "examples_per_s", "devices_needed",
                  "utilisation", "accelerator_hours", "time_s", "energy_kwh", "co2eq_kg", "water_l"):
            if r.get(k) is not None:
                d[k] = r[k]
        d["co2eq_kg_by_scope"] = self.co2eq_kg_by_scope
        for k in ("energy_kwh_per_month", "co2eq_kg_per_month", "co2eq_kg_per_year", "energy_wh_per_request",
                  "co2eq_g_per_request", "breakeven_days"):
            if r.get(k) is not None:
                d[k] = r[k]
        d.update({"assumptions": self.assumptions(), "data_version": self.data_version, "version": __version__,
                  "notes": list(self.notes) + (list(self.scenario.notes) if self.scenario is not None else []),
                  "method": "location-based scope 2; scope 3 = embodied share of the serving fleet by its time "
                            "in service / lifetime; offsets never subtracted; roofline time per request "
                            "(decode bytes = weights + KV cache per step)"})
        return d


def _quant(a, integer=False) -> dict:
    a = np.asarray(a, float)
    if integer:
        p = np.percentile(a, (5, 50, 95), method="nearest")
        return {"p5": int(p[0]), "p50": int(p[1]), "p95": int(p[2])}
    p = np.percentile(a, (5, 50, 95))
    return {"p5": float(p[0]), "p50": float(p[1]), "p95": float(p[2])}


def _sampler(us: dict, samples: int, seed: int) -> dict:
    """Samples of each Uncertain with the impact model's two-piece log-normal (kernel/_mc.py):
    median p50, 5 % of the mass below p5 and above p95; a fixed value is a constant."""
    from .impact import _kernel
    names = list(us)
    q = np.array([[us[n].p5 for n in names], [us[n].p50 for n in names], [us[n].p95 for n in names]], float)
    med, lo, hi, fixed = _kernel()._sigmas(q)
    cols = [j for j in range(len(names)) if not fixed[j]]
    z = np.random.default_rng(seed).standard_normal((samples, len(cols)))
    out = {}
    for j, n in enumerate(names):
        if fixed[j]:
            out[n] = np.full(samples, med[j])
        else:
            zz = z[:, cols.index(j)]
            out[n] = med[j] * np.exp(zz * np.where(zz < 0, lo[j], hi[j]))
    return out


def _training_co2(training) -> Uncertain | None:
    """A training footprint to break even against: an Estimate, its to_dict() / JSON file,
    or kg CO₂eq."""
    if training is None:
        return None
    src = "training estimate given"
    if hasattr(training, "to_dict"):
        training = training.to_dict()
    if isinstance(training, str):
        import json
        import os
        if os.path.isfile(training):
            try:
                with open(training, encoding="utf-8") as f:
                    training, src = json.load(f), f"training estimate {training}"
            except (OSError, ValueError) as exc:
                raise InputError(f"--training {training!r}: not a readable JSON estimate ({exc})") from None
        else:
            training = _pos_float("--training", training, allow_none=False)
    if isinstance(training, dict):
        v = training.get("co2eq_kg")
        if not isinstance(v, dict) or not {"p5", "p50", "p95"} <= set(v):
            raise InputError("--training: the estimate has no co2eq_kg {p5, p50, p95} (give the JSON of "
                             "`flopest estimate --format json`, or kg CO2eq)")
        return Uncertain(float(v["p5"]), float(v["p50"]), float(v["p95"]), "kg CO2eq", src)
    v = _pos_float("--training", training, allow_none=False)
    return Uncertain.fixed(v, "kg CO2eq", "training footprint given by the user")


def serve(model=None, *args, prompt_tokens=None, output_tokens=None, requests_per_day=None,
          requests_per_hour=None, requests=None, users=None, requests_per_user=None, days=None, months=None,
          device: str = "h100-sxm", n_devices=None, servers=None, batch=None, max_latency_s=None,
          utilisation=1.0, region: str = "WORLD", datacenter=None, precision=None, host=None, pue=None,
          intensity=None, mfu=None, mbu=None, power_w=None, lifetime_years=None, server_embodied_kg=None,
          wh_per_request=None, params=None, layers=None, d_model=None, kv_dim=None, context=None,
          training=None, dims=None, seq_dim=None, past_dim=None, samples: int = DEFAULT_SAMPLES,
          seed: int = DEFAULT_SEED, **kwargs) -> ServingEstimate:
    """The impact of serving `model`, with p5/p50/p95 (SI units: s, kWh, kg CO₂eq, L).

    model: a transformers causal LM (with output_tokens: generation with a KV cache), any
    torch.nn.Module followed by its example inputs (one forward per request), an .onnx path
    (a decoder taking past key/values with output_tokens, else one forward), "zoo:NAME", or a
    GenerationCost / ForwardCost already counted. None with params= (2·N per token) or
    wh_per_request= (measured IT energy per request).
    Load: requests_per_day, requests_per_hour, users × requests_per_user (per day), or requests
    (total over the duration). Duration: days or months (default 12 months).
    Fleet: computed from the latency per request at `batch` (or the largest batch meeting
    max_latency_s) and the target utilisation, or fixed with n_devices / servers.
    training: a training estimate (Estimate, its JSON file or dict, or kg CO₂eq) to break even
    against: the days of serving that emit as much.
    """
    from . import profiles
    from .impact import build_scenario

    # ---- every value first (an error names its flag and value), then how they combine
    days, months = _pos_float("--days", days), _pos_float("--months", months)
    load = {f: _pos_float(f, v) for f, v in (("--requests-per-day", requests_per_day),
                                             ("--requests-per-hour", requests_per_hour), ("--requests", requests),
                                             ("--users", users), ("--requests-per-user", requests_per_user))}
    for flag, v in (("--prompt-tokens", prompt_tokens), ("--output-tokens", output_tokens), ("--layers", layers),
                    ("--d-model", d_model), ("--kv-dim", kv_dim), ("--context", context)):
        _pos_int(flag, v, allow_none=True)
    if lifetime_years is not None:
        _pos_float("--lifetime-years", lifetime_years)
    if days is not None and months is not None:
        raise InputError("give --days or --months, not both")
    hours = days * 24.0 if days is not None else (months if months is not None else 12.0) * HOURS_PER_MONTH
    given = [f for f in ("--requests-per-day", "--requests-per-hour", "--requests", "--users") if load[f] is not None]
    if len(given) != 1:
        raise InputError("give the load once: --requests-per-day N, --requests-per-hour N, --requests N (total) "
                         "or --users N with --requests-per-user N" + (f" (given: {', '.join(given)})" if given else ""))
    if (load["--users"] is None) != (load["--requests-per-user"] is None):
        raise InputError("--users and --requests-per-user (requests per user per day) go together")
    if load["--users"] is not None:
        per_day = load["--users"] * load["--requests-per-user"]
    elif load["--requests-per-day"] is not None:
        per_day = load["--requests-per-day"]
    elif load["--requests-per-hour"] is not None:
        per_day = load["--requests-per-hour"] * 24
    else:
        per_day = load["--requests"] / (hours / 24.0)
    total_requests = per_day * hours / 24.0
    lam = per_day / SECONDS_PER_DAY
    util = _pos_float("--utilisation", utilisation)
    if util > 1:
        raise InputError(f"--utilisation must be in (0, 1], got {utilisation!r}")
    max_lat = _pos_float("--max-latency", max_latency_s)
    B_given = _pos_int("--batch", batch, allow_none=True)
    nd = _pos_int("--devices", n_devices, allow_none=True)
    nsrv = _pos_int("--servers", servers, allow_none=True)
    train_u = _training_co2(training)
    notes = []

    # ---- the device, region, data centre: the estimate's scenario
    s = build_scenario(device, 1, region, datacenter, precision, host, mfu=mfu, pue=pue, intensity=intensity,
                       power_w=power_w, lifetime_years=lifetime_years)
    dev = profiles.device(s.device)
    hosts = [h for h in profiles.hosts() if h.accelerator == dev.id]
    h = profiles.host(host) if host else (hosts[0] if hosts else profiles.host("generic-8gpu"))
    per_server = h.accelerators_per_server if dev.kind != "cpu" else 1
    if nsrv is not None:
        if nd is not None and nd != nsrv * per_server:
            raise InputError(f"--devices {nd} and --servers {nsrv} disagree ({nsrv} × {per_server} per server); "
                             f"give one")
        fleet_fixed = nsrv * per_server
    else:
        fleet_fixed = nd
    extra = []
    us = {"pue": s.pue, "intensity": s.intensity_g_per_kwh, "lifetime": s.lifetime_years,
          "wue": s.wue_l_per_kwh, "water_elec": s.water_elec_l_per_kwh}
    if server_embodied_kg is not None:
        emb_srv = _pos_float("--server-embodied-kg", server_embodied_kg)
        us["embodied"] = Uncertain.fixed(emb_srv / per_server, "kg CO2eq",
                                         f"given by the user: {emb_srv:g} kg per server / {per_server} "
                                         f"accelerators")
    else:
        us["embodied"] = s.embodied_kg
    if train_u is not None:
        us["training"] = train_u

    # ---- mode
    if wh_per_request is not None:
        if model is not None or params is not None:
            raise InputError("--wh-per-request replaces the model: give one of them")
        mode = "energy-per-request"
        wh = _pos_float("--wh-per-request", wh_per_request)
        us["wh"] = Uncertain.fixed(wh, "Wh", "given by the user (IT energy per request, before PUE)")
        v = _sampler(us, samples, seed)
        e_it = np.full(samples, wh * total_requests / 1000.0)
        if fleet_fixed is None:
            devices = None
            notes.append("no fleet given (--servers or --devices): scope 3 (embodied) not counted")
        else:
            devices = np.full(samples, float(fleet_fixed))
        info = {"requests": total_requests, "requests_per_day": per_day, "duration_days": hours / 24.0,
                "wh_per_request_it": wh, "servers": nsrv, "devices": fleet_fixed}
        res = _impacts(v, e_it, devices, hours, total_requests, train_u is not None)
        if devices is not None:
            res["accelerator_hours"] = _quant(devices * hours)
        extra.append({"name": "IT energy per request", "value": wh, "unit": "Wh",
                      "source": "given by the user (before PUE)"})
        extra += _fleet_assumptions(nsrv, per_server, h, server_embodied_kg)
        return ServingEstimate(mode, res, info, s, None, extra, profiles.DATA_VERSION, notes, us["embodied"])

    # ---- the counted cost
    if params is not None:
        if model is not None:
            raise InputError("--params replaces the model: give one of them")
        cost = generation_cost_params(params, prompt_tokens, output_tokens, layers, d_model, kv_dim, context)
    elif model is None:
        raise InputError("give a MODEL, --params N (2·N FLOPs per token) or --wh-per-request")
    else:
        cost = _counted(model, args, kwargs, prompt_tokens, output_tokens, B_given or 1, dims, seq_dim, past_dim,
                        context)
    notes += list(cost.notes)
    generative = isinstance(cost, GenerationCost)
    prec = s.precision
    bpe = BYTES_PER_ELEMENT[prec]

    # ---- the batch: given, or the largest meeting the latency target at p50
    def rl_at(b):
        c = cost if generative or cost.batch == b else _counted(model, args, kwargs, prompt_tokens, output_tokens,
                                                               b, dims, seq_dim, past_dim, context)
        return c, roofline(c, dev, b, prec)

    mfu_u, mbu_u = s.mfu, (Uncertain.fixed(_frac("--mbu", mbu), "", "given by the user") if mbu is not None
                           else MBU_PRIOR)

    def p50_latency(rl):
        t_pf, t_dec = rl.times(np.array([mfu_u.p50]), np.array([mbu_u.p50]))
        return float(t_pf[0] + t_dec[0])

    if B_given is not None:
        B = B_given
        cost, rl = rl_at(B)
        if max_lat is not None and p50_latency(rl) > max_lat:
            notes.append(f"--max-latency {_fmt_s(max_lat)} is not met at batch {B}: p50 latency "
                         f"{_fmt_s(p50_latency(rl))}")
    elif max_lat is not None:
        B = 1
        cost, rl = rl_at(1)
        if p50_latency(rl) > max_lat:
            notes.append(f"--max-latency {_fmt_s(max_lat)} is not met even at batch 1 (p50 latency "
                         f"{_fmt_s(p50_latency(rl))}): pick a faster --device or a smaller model")
        else:
            b = 2
            while b <= 1024:   # the largest power of 2 that meets the target on the same replica size
                c_b, cand = rl_at(b)
                if cand.devices_per_replica > rl.devices_per_replica or p50_latency(cand) > max_lat:
                    break
                B, cost, rl = b, c_b, cand
                b *= 2
    else:
        B = 1
        cost, rl = rl_at(1)
    k = k_min = rl.devices_per_replica
    if fleet_fixed is not None and fleet_fixed > k:
        k_all = fleet_fixed // (fleet_fixed // k)      # a fixed fleet: its devices spread over its replicas
        if k_all != k:
            rl = roofline(cost, dev, B, prec, devices_per_replica=k_all)
            k = k_all
    if fleet_fixed is not None and fleet_fixed < k:
        raise InputError(f"--devices {fleet_fixed}: one replica of the model needs {k} × {dev.id} "
                         f"({rl.memory_needed_bytes / 1e9:,.1f} GB of weights and KV cache at batch {B}); "
                         f"give at least {k}")
    if k > 1:
        notes.append(f"one replica spans {k} × {dev.id} ({rl.memory_needed_bytes / 1e9:,.1f} GB of weights and KV "
                     f"cache at batch {B} need {k_min}): tensor parallel, communication not counted")

    # ---- Monte-Carlo: efficiencies, power, impacts
    us.update({"mfu": mfu_u, "mbu": mbu_u})
    if s.power_w is None:
        us["power_frac"] = s.power_frac
        us["host_w"] = s.host_w
    v = _sampler(us, samples, seed)
    t_pf, t_dec = rl.times(v["mfu"], v["mbu"])
    lat = t_pf + t_dec
    cap = B / lat                                         # requests/s per replica
    if fleet_fixed is not None:
        replicas = np.full(samples, float(fleet_fixed // k))
        devices = np.full(samples, float(fleet_fixed))
        if np.median(lam / (replicas * cap)) > 1:
            notes.append(f"the fleet of {fleet_fixed} cannot carry the load at p50 "
                         f"({lam:.3g} requests/s against {np.median(replicas * cap):.3g}): busy 100 %")
    else:
        replicas = np.maximum(1.0, np.ceil(lam / (cap * util) - 1e-9))
        devices = replicas * k
    busy_dev = np.minimum(1.0, lam / (replicas * cap)) * replicas * k / devices
    if s.power_w is not None:
        p_w = np.full(samples, s.power_w)
    else:
        active = dev.tdp_w * v["power_frac"]
        p_w = dev.idle_w + busy_dev * np.maximum(active - dev.idle_w, 0.0) + v["host_w"]
    e_it = devices * hours * p_w / 1000.0
    res = _impacts(v, e_it, devices, hours, total_requests, train_u is not None)
    res["latency_s"] = _quant(lat)
    if generative:
        res["ttft_s"] = _quant(t_pf)
    res["devices_needed"] = _quant(devices, integer=True)
    res["utilisation"] = _quant(busy_dev)
    res["accelerator_hours"] = _quant(devices * hours)
    if generative:
        O = cost.output_tokens
        res["tokens_per_s"] = _quant(B * O / lat / k)
        if O > 1:
            res["decode_tokens_per_s"] = _quant(B * (O - 1) / t_dec / k)
    else:
        res["tokens_per_s"] = None
        res["examples_per_s"] = _quant(B / lat / k)
    info = {"model": cost.source, "frontend": cost.frontend, "device": dev.id, "precision": prec, "batch": B,
            "devices_per_replica": k, "requests": total_requests, "requests_per_day": per_day,
            "duration_days": hours / 24.0, "utilisation_target": util}
    if fleet_fixed is not None:
        info["devices"] = fleet_fixed
    if generative:
        info.update(cost.to_dict())
        info["flops"] = _times(cost.prefill_flops + cost.decode_flops_total, total_requests)
        info["bytes_per_request"] = {"prefill": rl.bytes_prefill / B, "decode": rl.bytes_decode / B}
        info["weight_bytes"] = rl.weight_bytes
        info["kv_cache_bytes_per_token"] = rl.kv_bytes_per_token
        info["flops_per_token"] = {"prefill": cost.prefill_flops / cost.prompt_tokens,
                                   "decode": cost.decode_flops_total / max(1, cost.decode_steps)}
    else:
        info.update({"flops_per_request": {"forward": _per(cost.flops, B)},
                     "graph_bytes_per_request": {"forward": _per(cost.graph_bytes, B)}, "params": cost.params,
                     "flops": _times(cost.flops, total_requests) // B})
    extra += [{"name": "memory-bandwidth utilisation (MBU), memory-bound steps", "value": mbu_u.value(),
               "unit": "", "source": mbu_u.source},
              {"name": "batch (static batching: a batch starts and ends together)", "value": B, "unit": "",
               "source": "given" if B_given else ("largest power of 2 meeting --max-latency at p50" if max_lat
                                                  else "default")},
              {"name": "bytes per weight and KV element", "value": bpe, "unit": "B",
               "source": f"{prec} storage width"},
              {"name": "memory traffic per decode step", "value": "weights + KV cache", "unit": "",
               "source": "roofline: weights read once per step for the whole batch, each sequence reads its "
                         "KV cache; activations stay on chip (fused kernels)"},
              {"name": "idle power per device", "value": dev.idle_w, "unit": "W", "source": s.device_source},
              {"name": "target fleet utilisation", "value": util, "unit": "",
               "source": "given" if util != 1.0 else "1: the smallest fleet that carries the average load "
                                                    "(no headroom for peaks)"}]
    extra += _fleet_assumptions(nsrv, per_server, h, server_embodied_kg)
    if s.power_w is not None:
        extra.append({"name": "power per device, all-in, whatever the load", "value": s.power_w, "unit": "W",
                      "source": "given by the user"})
    return ServingEstimate(("generate" if generative else "forward"), res, info, s, cost, extra,
                           profiles.DATA_VERSION, notes, us["embodied"])


def _fleet_assumptions(nsrv, per_server, h, server_embodied_kg) -> list:
    rows = [{"name": "embodied share", "value": "time in service / lifetime", "unit": "",
             "source": "a dedicated serving fleet (the seed chapter's ChatGPT estimate: servers × embodied "
                       "/ 72 months per month)"}]
    if nsrv is not None:
        rows.append({"name": "servers", "value": nsrv, "unit": "",
                     "source": f"given ({per_server} accelerators each, hosts.csv [{h.id}])"})
    return rows


def _impacts(v, e_it, devices, hours, total_requests, with_training) -> dict:
    n = len(v["pue"])
    e = e_it * v["pue"]
    s2 = e * v["intensity"] / 1000.0
    if devices is None:
        s3 = np.zeros(n)
    else:
        s3 = devices * v["embodied"] * hours / (v["lifetime"] * HOURS_PER_YEAR)
    co2 = s2 + s3
    water = e_it * v["wue"] + e * v["water_elec"]
    month, year = HOURS_PER_MONTH / hours, HOURS_PER_YEAR / hours
    res = {"time_s": _quant(np.full(n, hours * 3600.0)), "energy_kwh": _quant(e), "co2eq_kg": _quant(co2),
           "scope2": _quant(s2), "scope3": _quant(s3), "water_l": _quant(water),
           "energy_kwh_per_month": _quant(e * month), "co2eq_kg_per_month": _quant(co2 * month),
           "co2eq_kg_per_year": _quant(co2 * year),
           "energy_wh_per_request": _quant(e * 1000.0 / total_requests),
           "co2eq_g_per_request": _quant(co2 * 1000.0 / total_requests)}
    if with_training:
        per_day = co2 * 24.0 / hours
        res["breakeven_days"] = _quant(v["training"] / per_day)
    return res


def _times(n: int, x: float) -> int:
    """n × x as an exact int when x is a whole number (totals never lose digits), else rounded."""
    return n * int(x) if float(x).is_integer() else round(n * x)


def _per(n: int, b: int):
    return n // b if n % b == 0 else n / b


def _frac(flag, v) -> float:
    f = _pos_float(flag, v)
    if f > 1:
        raise InputError(f"{flag} must be in (0, 1], got {v!r}")
    return f


def _fmt_s(x: float) -> str:
    return f"{x * 1000:.3g} ms" if x < 1 else f"{x:.3g} s"


def _counted(model, args, kwargs, prompt_tokens, output_tokens, batch, dims, seq_dim, past_dim, context):
    """GenerationCost (output_tokens given) or ForwardCost of `model` at `batch`."""
    if isinstance(model, (GenerationCost, ForwardCost)):
        if isinstance(model, GenerationCost) and output_tokens is not None and (
                model.prompt_tokens, model.output_tokens) != (_pos_int("--prompt-tokens", prompt_tokens),
                                                              _pos_int("--output-tokens", output_tokens)):
            raise InputError("the GenerationCost was counted for other token counts: count it again")
        return model
    generative = output_tokens is not None
    if generative and prompt_tokens is None:
        raise InputError("--output-tokens needs --prompt-tokens (the prompt length)")
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
            args = tuple(_with_seq(a, _pos_int("--prompt-tokens", prompt_tokens)) for a in args)
            kwargs = {k: _with_seq(a, _pos_int("--prompt-tokens", prompt_tokens)) for k, a in (kwargs or {}).items()}
        return forward_cost_torch(model, args, kwargs, batch)
    if args or kwargs:
        raise InputError("example inputs are for PyTorch modules; an ONNX model takes dims={...}")
    if generative:
        return generation_cost_onnx(model, prompt_tokens, output_tokens, dims, seq_dim, past_dim,
                                    _pos_int("--context", context, allow_none=True))
    d = dict(dims or {})
    if prompt_tokens is not None:
        d.setdefault(seq_dim or "sequence", _pos_int("--prompt-tokens", prompt_tokens))
    return forward_cost_onnx(model, d, batch)


def _with_seq(x, seq):
    """An example input of rank 2 (batch, tokens) with `seq` tokens."""
    from . import spec
    shape = tuple(getattr(x, "shape", ()))
    if len(shape) != 2:
        return x
    return spec((shape[0], seq), x.dtype)
