"""Generation cost, framework-free (layer 3): what one sequence costs to generate, as exact
integers and exact polynomials in the cache length, and one forward pass of a batch.

    prefill = one forward pass over the prompt (P tokens), logits of the last position only,
              as transformers' ``generate`` asks (``logits_to_keep=1``);
    decode  = O − 1 steps of one token each, the step at cache length p costing f(p) for
              p = P … P + O − 2 (the prefill yields the first output token).
    f is counted at 4 positions (`fit_positions`) and fitted exactly (`fit_position`): affine
    from 2, checked at the other 2 (quadratic from 3, checked at the 4th, if a model needs it);
    the sum over the positions is then exact (`Poly.sum`).

The counts at those positions come from the resolver (flopest.models / the serving capture);
`assemble` turns them into a GenerationCost. `generation_cost_params` is the cost of a language
model without a graph (2·N per token + attention).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

from .errors import ServingError
from .validate import error, whole


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
                       f"one with flopest.count, or give wh_per_request (--wh-per-request)")


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
    # batch -> PassTables: the counted passes at that batch, for the per-operator time model
    # (None: no graph, e.g. a params count; flopest.impact.serving then uses the roofline)
    tables: object = field(default=None, repr=False, compare=False)

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
    counts: object = field(default=None, repr=False, compare=False)   # the Counts of the pass (its table)


@dataclass
class PassTables:
    """The counted passes of one batch, for the per-operator time model (flopest.impact.steptime):
    the prefill and the decode steps at the captured cache lengths, each a Counts (its table)."""
    batch: int
    prefill: object
    decode: dict                     # {cache length: Counts}


def check_context(prompt: int, output: int, context: int | None, what: str) -> None:
    if context is not None and prompt + output > context:
        raise error(f"prompt_tokens {prompt:,} + output_tokens {output:,} = {prompt + output:,} tokens "
                    f"exceed the model's context of {context:,} ({what}); shorten the prompt or the "
                    f"output so that they fit", "prompt_tokens", "output_tokens")


def fit_positions(prompt: int, output: int) -> list:
    """Cache lengths at which decode steps are captured: all of them when there are at most 4,
    else the first, the last and two in between (2 fit an affine cost, the others check it)."""
    lo, hi = prompt, prompt + output - 2
    if hi < lo:
        return []
    n = hi - lo + 1
    if n <= 4:
        return list(range(lo, hi + 1))
    return sorted({lo, lo + (n - 1) // 3, lo + 2 * (n - 1) // 3, hi})


def assemble(P, O, pre, points, params, kv_tok, ctx, source, frontend, notes, tables=None) -> GenerationCost:
    """The GenerationCost from the prefill count `pre` and the decode counts {cache length: Counts}:
    each measure fitted exactly in the position, unknown operators of every count kept. `tables`:
    batch -> PassTables (the same passes counted at another batch), for the time model."""
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
                          ctx, source, frontend, notes, tuple(sorted(points)), tables)


def generation_cost_params(params, prompt_tokens: int, output_tokens: int, layers=None, d_model=None,
                           kv_dim=None, context=None) -> GenerationCost:
    """A language model without a graph: 2·N FLOPs per token (N parameters, all in matrix
    products), + attention 2·2·L·d per cached key (QKᵀ and AV, d = heads × head dim) when
    --layers and --d-model are given; KV cache 2·L·kv_dim elements per token (kv_dim = d for
    multi-head attention). Kaplan et al. 2020 (forward ≈ 2N), PaLM appendix B."""
    n = whole("params", params)
    P = whole("prompt_tokens", prompt_tokens)
    O = whole("output_tokens", output_tokens)
    ctx = whole("context", context, allow_none=True)
    check_context(P, O, ctx, "context")
    notes = []
    if (layers is None) != (d_model is None):
        raise error("attention and the KV cache need both layers and d_model", "layers", "d_model")
    if layers is not None:
        L, d = whole("layers", layers), whole("d_model", d_model)
        kvd = whole("kv_dim", kv_dim, allow_none=True) or d
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

