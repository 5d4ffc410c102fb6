"""The a-priori cost of a whole training plan: Cost ∝ E·D·H, with every factor explicit.

    training FLOPs = (forward + backward per example) × dataset size × epochs
                     + optimizer step × steps (dataset / batch × epochs)
                     + evaluation forward × eval size × epochs
                     all × trials × average trial fraction (early stopping)

Trials: grid search = the product of each hyperparameter's number of values; random or
Bayesian search = the number of trials. For language models tokens replace examples, and a
plan without a graph uses 6·N·D (+ 12·L·d·T per token for attention, PaLM appendix B).
All figures are exact Python ints (fractions are applied last and rounded).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from ..errors import InputError, did_you_mean
from ..units import parse_count  # noqa: F401  (re-exported: flopest.impact.parse_count)

SEARCHES = ("grid", "random", "bayesian")


def _pos_int(name, v, allow_zero=False) -> int:
    if isinstance(v, bool) or v is None:
        raise InputError(f"{name} must be a number, got {v!r}")
    try:
        f = float(v)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a number, got {v!r}") from None
    if not math.isfinite(f) or f < 0 or (f == 0 and not allow_zero):
        raise InputError(f"{name} must be a {'non-negative' if allow_zero else 'positive'} finite number, "
                         f"got {v!r}")
    if isinstance(v, int):
        return v
    if not f.is_integer():
        return round(f)
    return int(f)


def _fraction(name, v) -> float:
    try:
        f = float(v)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a number in (0, 1], got {v!r}") from None
    if not (0 < f <= 1):
        raise InputError(f"{name} must be in (0, 1], got {v!r}")
    return f


@dataclass
class Workload:
    """A training (or evaluation) plan's FLOPs, with the factors that make it."""

    flops: int
    train_flops: int
    eval_flops: int
    trials: float
    factors: dict = field(default_factory=dict)
    formula: str = ""
    notes: list = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"flops": self.flops, "train_flops": self.train_flops, "eval_flops": self.eval_flops,
                "trials": self.trials, "factors": dict(self.factors), "formula": self.formula,
                "notes": list(self.notes)}


def trial_count(search: str = "grid", grid: dict | None = None, trials: int | None = None) -> int:
    """Grid search: Π (values of each hyperparameter); random/Bayesian: `trials`."""
    if search not in SEARCHES:
        raise InputError(f"search {search!r} is not one of {', '.join(SEARCHES)}{did_you_mean(search, SEARCHES)}")
    if search == "grid":
        if trials is not None and not grid:
            return _pos_int("trials", trials)
        n = 1
        for k, v in (grid or {}).items():
            count = len(v) if isinstance(v, (list, tuple, set)) else _pos_int(f"grid value count of {k!r}", v)
            if count <= 0:
                raise InputError(f"hyperparameter {k!r} has no value")
            n *= count
        return n
    if trials is None:
        raise InputError(f"{search} search needs the number of trials (--trials N)")
    return _pos_int("trials", trials)


def from_counts(counts, *, dataset_size, epochs=1, capture_examples=1, batch_size=None,
                eval_counts=None, eval_size=0, trials=1, trial_fraction=1.0) -> Workload:
    """Training plan from a graph count. `counts` is a training capture (forward + backward,
    optimizer per step) of `capture_examples` examples, or a forward-only count (then
    training = 3 × forward, said in notes). `eval_counts` (forward) of `capture_examples`."""
    n = _pos_int("dataset size", dataset_size)
    ep = _pos_int("epochs", epochs)
    cap = _pos_int("examples per captured pass", capture_examples)
    tr = _pos_int("trials", trials)
    frac = _fraction("trial fraction (early stopping)", trial_fraction)
    notes = []
    fb = counts.forward_flops + counts.backward_flops
    if counts.backward_flops == 0:
        fb = 3 * counts.forward_flops
        notes.append("the count has no backward pass: training = 3 × forward (count it with "
                     "training=True / --training for the real figure)")
    opt = counts.optimizer_flops
    bs = _pos_int("batch size", batch_size) if batch_size is not None else cap
    steps = -(-n // bs) * ep
    train = (fb * n * ep) // cap + opt * steps
    ev = 0
    if eval_size:
        es = _pos_int("eval size", eval_size, allow_zero=True)
        ec = eval_counts if eval_counts is not None else counts
        ev = (ec.forward_flops * es * ep) // cap
    per_trial = train + ev
    total = round(per_trial * tr * frac) if frac != 1 else per_trial * tr
    return Workload(
        flops=total, train_flops=train, eval_flops=ev, trials=tr * frac,
        factors={"forward_backward_flops_per_example": fb / cap, "optimizer_flops_per_step": opt,
                 "dataset_size": n, "epochs": ep, "batch_size": bs, "steps_per_trial": steps,
                 "eval_size": eval_size or 0, "trials": tr, "trial_fraction": frac},
        formula="((forward+backward)/example × dataset × epochs + optimizer × steps + eval forward "
                "× eval size × epochs) × trials × trial fraction",
        notes=notes)


def from_params(params, tokens, *, layers=None, d_model=None, seq_len=None, trials=1,
                trial_fraction=1.0) -> Workload:
    """Language-model plan without a graph: 6·N·D, + 12·L·d·T·D for attention when layers,
    d_model and seq_len are given (PaLM, appendix B)."""
    n = _pos_int("params", params)
    d = _pos_int("tokens", tokens)
    tr = _pos_int("trials", trials)
    frac = _fraction("trial fraction (early stopping)", trial_fraction)
    dense = 6 * n * d
    attn = 0
    notes = []
    given = [x is not None for x in (layers, d_model, seq_len)]
    if any(given) and not all(given):
        raise InputError("attention needs all of --layers, --d-model and --seq-len")
    if all(given):
        attn = 12 * _pos_int("layers", layers) * _pos_int("d_model", d_model) * _pos_int("seq_len", seq_len) * d
    else:
        notes.append("6·N·D only: give --layers, --d-model and --seq-len to add attention (12·L·d·T per token)")
    train = dense + attn
    total = round(train * tr * frac) if frac != 1 else train * tr
    return Workload(flops=total, train_flops=train, eval_flops=0, trials=tr * frac,
                    factors={"params": n, "tokens": d, "dense_flops": dense, "attention_flops": attn,
                             "trials": tr, "trial_fraction": frac},
                    formula="(6·N·D + 12·L·d·T·D) × trials × trial fraction", notes=notes)
