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

from dataclasses import dataclass, field

from ..errors import did_you_mean
from ..ops.optimizer import OPTIMIZERS, check_optimizer
from ..units import parse_count  # noqa: F401  (re-exported: flopest.impact.parse_count)
from ..counts import given_examples_reason
from ..validate import error, fraction, whole

SEARCHES = ("grid", "random", "bayesian")


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
        raise error(f"search {search!r} is not one of {', '.join(SEARCHES)}{did_you_mean(search, SEARCHES)}",
                    "search")
    if search == "grid":
        if trials is not None and not grid:
            return whole("trials", trials)
        if trials is not None:   # a grid has as many trials as combinations: two counts would disagree
            raise error("give grid or trials, not both: a grid search runs one trial per combination of its "
                        "values", "trials", "grid")
        n = 1
        for k, v in (grid or {}).items():
            count = len(v) if isinstance(v, (list, tuple, set)) else whole(f"grid value count of {k!r}", v)
            if count <= 0:
                raise error(f"hyperparameter {k!r} has no value", "grid")
            n *= count
        return n
    if trials is None:
        raise error(f"{search} search needs trials, the number of trials to run", "trials")
    if grid:
        raise error(f"grid applies to a grid search; a {search} search draws its trials: remove it", "grid")
    return whole("trials", trials)


def examples_of(counts, examples_per_pass=None, what: str = "counts") -> tuple:
    """(examples one counted pass holds, how it is known): `examples_per_pass` when given, else
    what the count recorded at capture (Counts.examples_per_pass). Never a default: an error
    asking for examples_per_pass= when neither is known."""
    recorded = getattr(counts, "examples_per_pass", None)
    if examples_per_pass is not None:
        n = whole("examples_per_pass", examples_per_pass)
        why = given_examples_reason(n, recorded, getattr(counts, "examples_reason", "") or "the count")
        return n, why.replace("given", "given (examples_per_pass=)", 1)
    per = recorded
    if per is None:
        why = getattr(counts, "examples_reason", "") or "the count does not record it"
        raise error(f"cannot tell how many examples one counted pass of the {what} holds ({why}): give "
                    f"examples_per_pass=N, the batch the model was counted at", "examples_per_pass")
    return whole("examples_per_pass", per), getattr(counts, "examples_reason", "") or "recorded by the count"


def from_counts(counts, *, dataset_size, epochs=1, examples_per_pass=None, batch_size=None,
                eval_counts=None, eval_size=0, trials=1, trial_fraction=1.0,
                optimizer: str | None = "adam") -> Workload:
    """Training plan from a graph count. `counts` is a training capture (forward + backward,
    optimizer per step) of `examples_per_pass` examples (default: what the count recorded at
    capture; an error when unknown), or a forward-only count such as every ONNX count (then
    training = 3 × forward, said in notes). `eval_counts` (forward) likewise. The plan's FLOPs
    per example do not depend on the batch the model was counted at; the optimizer's steps are
    dataset / batch_size × epochs (batch_size defaults to the counted batch, said in notes).
    A count without optimizer rows (forward-only, ONNX, or captured without optimizer=) gets
    `optimizer`'s step per parameter from the same table the captures use (ops.optimizer:
    adam 14 FLOPs per parameter, the CLI's default), said in notes; None leaves it out, said too."""
    n = whole("dataset_size", dataset_size)
    ep = whole("epochs", epochs)
    per, per_source = examples_of(counts, examples_per_pass)
    tr = whole("trials", trials)
    frac = fraction("trial_fraction", trial_fraction)
    es = whole("eval_size", eval_size or 0, allow_zero=True)
    notes = []
    fb = counts.forward_flops + counts.backward_flops
    if counts.backward_flops == 0:
        fb = 3 * counts.forward_flops
        notes.append("the count has no backward pass (a forward-only count; an ONNX graph holds none): "
                     "training = 3 × forward, the backward taken as 2 × forward; a PyTorch model "
                     "(zoo:NAME, package.module:factory, or flopest.count(..., training=True)) is "
                     "counted with its real backward")
    opt = counts.optimizer_flops
    opt_source = "counted"
    if not opt:
        opt, opt_source = _optimizer_step(counts, optimizer, notes)
    if batch_size is not None:
        bs = whole("batch_size", batch_size)
    else:
        bs = per
        if opt:
            notes.append(f"no batch size given: the optimizer steps assume the counted batch of {per} "
                         f"(batch_size= / --batch-size)")
    steps = -(-n // bs) * ep
    train = (fb * n * ep) // per + opt * steps
    ev = 0
    if es:
        if eval_counts is not None:
            ec, eper = eval_counts, examples_of(eval_counts, what="evaluation counts")[0]
        else:
            ec, eper = counts, per
        ev = (ec.forward_flops * es * ep) // eper
    per_trial = train + ev
    total = round(per_trial * tr * frac) if frac != 1 else per_trial * tr
    return Workload(
        flops=total, train_flops=train, eval_flops=ev, trials=tr * frac,
        factors={"forward_backward_flops_per_example": fb / per, "optimizer_flops_per_step": opt,
                 "optimizer_flops_source": opt_source,
                 "examples_per_pass": per, "examples_per_pass_source": per_source,
                 "dataset_size": n, "epochs": ep, "batch_size": bs, "steps_per_trial": steps,
                 "eval_size": es, "trials": tr, "trial_fraction": frac},
        formula="((forward+backward)/example × dataset × epochs + optimizer × steps + eval forward "
                "× eval size × epochs) × trials × trial fraction",
        notes=notes)


def _optimizer_step(counts, optimizer, notes: list) -> tuple:
    """(FLOPs of one optimizer step, where the figure comes from) for a count that has no
    optimizer rows: `optimizer`'s FLOPs per parameter (ops.optimizer.OPTIMIZERS, the rows the
    PyTorch capture adds) × the count's parameters, every one taken as trainable."""
    params = getattr(counts, "params", 0) or 0
    if optimizer is None:
        if params:
            notes.append("no optimizer step: the count has none and optimizer=None leaves it out")
        return 0, "none (optimizer=None)"
    check_optimizer(optimizer)
    if not params:
        return 0, "none (the count has no parameters)"
    per, _, _, why = OPTIMIZERS[optimizer]
    notes.append(f"the count has no optimizer step: {optimizer}'s {per} FLOPs per parameter ({why}) × "
                 f"{params:,} parameters (all taken as trainable) added per optimizer step "
                 f"(flopest.impact.from_counts(optimizer=...) chooses another, None leaves it out)")
    return per * params, f"{optimizer}: {per} FLOPs × {params:,} parameters"


def from_params(params, tokens, *, layers=None, d_model=None, seq_len=None, trials=1,
                trial_fraction=1.0) -> Workload:
    """Language-model plan without a graph: 6·N·D, + 12·L·d·T·D for attention when layers,
    d_model and seq_len are given (PaLM, appendix B)."""
    n = whole("params", params)
    d = whole("tokens", tokens)
    tr = whole("trials", trials)
    frac = fraction("trial_fraction", trial_fraction)
    dense = 6 * n * d
    attn = 0
    notes = []
    given = [x is not None for x in (layers, d_model, seq_len)]
    if any(given) and not all(given):
        raise error("attention needs all of layers, d_model and seq_len", "layers", "d_model", "seq_len")
    if all(given):
        attn = 12 * whole("layers", layers) * whole("d_model", d_model) * whole("seq_len", seq_len) * d
    else:
        notes.append("6·N·D only: give --layers, --d-model and --seq-len to add attention (12·L·d·T per token)")
    train = dense + attn
    total = round(train * tr * frac) if frac != 1 else train * tr
    return Workload(flops=total, train_flops=train, eval_flops=0, trials=tr * frac,
                    factors={"params": n, "tokens": d, "dense_flops": dense, "attention_flops": attn,
                             "trials": tr, "trial_fraction": frac},
                    formula="(6·N·D + 12·L·d·T·D) × trials × trial fraction", notes=notes)
