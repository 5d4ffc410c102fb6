"""Training guards for Hugging Face `transformers` and PyTorch Lightning.

Both count the model on the first training batch (meta tensors: no arithmetic, the model left as
it was), estimate the whole run the trainer is about to do (its optimizer steps × global batch,
on its number of processes) and check the budgets, at train start: over budget, they raise
:class:`flopest.BudgetExceeded` before the first optimizer step, so nothing is spent.

    from flopest.callbacks import FlopestTrainerCallback
    trainer = Trainer(model, args, train_dataset=ds,
                      callbacks=[FlopestTrainerCallback(budgets=["co2eq=50kg"], device="a100-sxm4-80gb",
                                                        region="FR")])

    from flopest.callbacks import FlopestLightningCallback
    lightning.Trainer(callbacks=[FlopestLightningCallback(co2eq_kg=50, device="h100-sxm")])

Budgets are written as on the command line (``budgets=["co2eq=50kg", "energy=200kWh"]``) or as
keywords named after the metric (``co2eq_kg=50``); ``at`` is the percentile compared (p95). The
other keywords go to :func:`flopest.estimate` (device, region, datacenter, pue, intensity, mfu,
precision, price_per_hour, ...). ``n_devices`` defaults to the trainer's world size.

``log_to="mlflow"`` also logs the estimate to MLflow at train start (:func:`flopest.log_mlflow`:
figures as metrics, plan and assumptions as params, the estimate and its HTML report as
artifacts), into the active run or a new one, before a budget stops the run; with it, budgets are
optional (a callback that only records the estimate).
"""

from __future__ import annotations

import sys

from .errors import FlopestError, InputError

_HF_OPTIMIZERS = (("adamw", "adamw"), ("adam", "adam"), ("sgd", "sgd"))
LOG_TO = ("mlflow",)


def _optimizer_name(name: str) -> tuple[str, str | None]:
    """flopest's optimizer for a trainer's optimizer name, and a note when it is an approximation."""
    name = getattr(name, "value", name)   # transformers' OptimizerNames is an Enum
    low = str(name or "").lower()
    for prefix, ours in _HF_OPTIMIZERS:
        if low.startswith(prefix):
            return ours, None
    return "adamw", (f"optimizer {name!r} is costed as AdamW (flopest knows sgd, sgd-momentum, adam, "
                     f"adamw); its step is a small share of a training step")


def _loss_of_output(out):
    """The model's own loss when it returns one (Hugging Face models given labels); else None,
    which asks flopest.count for its default (the sum of the outputs, not counted)."""
    return out.get("loss") if isinstance(out, dict) else getattr(out, "loss", None)


class _Gate:
    """What both callbacks share: the budgets and the estimate keywords, and the check itself."""

    def __init__(self, budgets=(), at: str = "p95", quiet: bool = False, log_to: str | None = None, **kw):
        from .budget import KEYWORDS, parse_budget
        if isinstance(budgets, str):
            budgets = [budgets]
        self.limits = {k: kw.pop(k) for k in list(kw) if k in KEYWORDS}
        self.budgets = list(budgets)
        for b in self.budgets:      # fail at construction, not hours later at train start
            parse_budget(b)
        from .budget import METRICS, parse_value
        for k, v in self.limits.items():
            parse_value(v, METRICS[KEYWORDS[k]][1], k, bare="base")
        # the run sets these itself (its examples, steps, batch and the counted pass): given, they would
        # clash at train start
        own = sorted(set(kw) & {"dataset_size", "epochs", "batch_size", "examples_per_pass", "eval_counts",
                                "eval_size", "tokens", "optimizer"})
        if own:
            raise InputError(f"{', '.join(own)} {'is' if len(own) == 1 else 'are'} read off the trainer (its dataset, "
                             f"epochs, batch and optimizer: args.optim, or a Lightning callback's own optimizer=): "
                             f"remove {'it' if len(own) == 1 else 'them'}")
        import inspect

        from .impact import estimate as _estimate
        known = set(inspect.signature(_estimate).parameters) - {"counts_or_workload", "_keep"}
        unknown = sorted(k for k in kw if k not in known)
        if unknown:
            from .errors import did_you_mean
            raise InputError(f"unknown keyword(s) {', '.join(map(repr, unknown))}{did_you_mean(unknown[0], known)}: "
                             f"the callback takes budgets and flopest.estimate()'s keywords")
        if "device" in kw:
            from . import data
            from .errors import UnknownIdError
            try:
                data.device(kw["device"])   # an unknown id fails here, not at train start
            except UnknownIdError as exc:
                raise InputError(f"device: {exc}") from None
        if log_to not in (None,) + LOG_TO:
            raise InputError(f"log_to={log_to!r} is not one of {', '.join(map(repr, LOG_TO))} (or None)")
        self.log_to = log_to
        if not self.limits and not self.budgets and not log_to:
            raise InputError("give at least one budget, e.g. budgets=['co2eq=50kg'] or co2eq_kg=50 "
                             "(or log_to='mlflow' to record the estimate only)")
        if at not in ("p5", "p50", "p95"):
            raise InputError(f"at={at!r} must be p5, p50 or p95")
        self.at = at
        self.quiet = quiet
        self.estimate_kw = kw
        self.estimate = None   # the Estimate of the run, once checked
        self.result = None     # the CheckResult

    def run(self, model, example_args, example_kwargs, *, examples: int, global_batch: int,
            capture_examples: int, optimizer: str, n_devices: int, notes=(), eval_examples: int = 0):
        from .budget import check
        from .impact import estimate
        from .models import count
        counts = count(model, *example_args, training=True, optimizer=optimizer, loss_fn=_loss_of_output,
                       **example_kwargs)
        extra = {}
        if eval_examples:   # the run's evaluation passes: forward only, on the same example batch
            extra = dict(eval_counts=count(model, *example_args, examples_per_pass=max(1, int(capture_examples)),
                                           **example_kwargs),
                         eval_size=int(eval_examples))
        kw = dict(self.estimate_kw)
        if "device" not in kw:   # said: the trainer's own hardware is not read
            kw["device"] = "h100-sxm"
            notes = list(notes) + ["device h100-sxm assumed (the callback does not read the trainer's hardware): "
                                   "give device= for yours"]
        kw.setdefault("n_devices", max(1, int(n_devices)))
        est = estimate(counts, dataset_size=max(1, int(examples)), epochs=1, batch_size=max(1, int(global_batch)),
                       examples_per_pass=max(1, int(capture_examples)), **extra, **kw)
        est.notes.extend(notes)
        self.estimate = est
        if not self.budgets and not self.limits:   # log_to only: nothing to check
            self._log(est)
            return None
        try:
            self.result = check(est, at=self.at, budgets=self.budgets, **self.limits)
        except Exception as exc:
            self.result = getattr(exc, "result", None)
            self._log(est)   # recorded before the budget stops the run
            raise
        self._log(est)
        if not self.quiet:
            print(f"flopest: {self.result.verdict()}", file=sys.stderr)
        return self.result

    def _log(self, est) -> None:
        if self.log_to == "mlflow":
            from .tracking import log_mlflow
            log_mlflow(est)


class _Results:
    """The Estimate and CheckResult of the last check, on the callback."""

    @property
    def estimate(self):
        return self.gate.estimate

    @property
    def result(self):
        return self.gate.result


def _first_batch(loader, where: str):
    if loader is None:
        raise InputError(f"{where}: no training dataloader to take an example batch from; pass example_batch=")
    try:
        return next(iter(loader))
    except StopIteration:
        raise InputError(f"{where}: the training dataloader is empty") from None


def _batch_size(batch, where: str, fallback: int | None = None) -> int:
    """Examples in the example batch: the leading dim every tensor of it shares (the PyTorch
    front end's rule); `fallback` (the trainer's own per-device batch) when that is ambiguous;
    never a silent 1."""
    from .models import torch_frontend
    args, kwargs = ((), batch) if isinstance(batch, dict) else \
        ((tuple(batch), {}) if isinstance(batch, (list, tuple)) else ((batch,), {}))
    n, reason = torch_frontend().examples_per_pass(args, kwargs)
    if n is not None:
        return int(n)
    if fallback:
        return int(fallback)
    raise InputError(f"{where}: cannot tell how many examples the example batch holds ({reason}); "
                     f"give an example batch whose tensors share their leading (batch) dim")


def _trainer_callback_base():
    try:
        from transformers import TrainerCallback
    except ImportError as exc:
        raise InputError(f"FlopestTrainerCallback needs transformers ({exc}); pip install transformers") from None
    return TrainerCallback


def _lightning_callback_base():
    try:
        from lightning.pytorch import Callback
    except ImportError:
        try:
            from pytorch_lightning import Callback
        except ImportError as exc:
            raise InputError(f"FlopestLightningCallback needs lightning ({exc}); pip install lightning") from None
    return Callback


def __getattr__(name):
    # the classes derive from the framework's base: built on first use, so importing
    # flopest.callbacks needs neither transformers nor lightning
    if name == "FlopestTrainerCallback":
        cls = _make_trainer_callback()
    elif name == "FlopestLightningCallback":
        cls = _make_lightning_callback()
    else:
        raise AttributeError(f"module 'flopest.callbacks' has no attribute {name!r}")
    globals()[name] = cls
    return cls


def _make_trainer_callback():
    base = _trainer_callback_base()

    class FlopestTrainerCallback(_Results, base):
        """A `transformers.TrainerCallback` that checks the run against budgets at train begin
        and raises :class:`flopest.BudgetExceeded` before the first step when over.

        The run is the trainer's: ``state.max_steps`` optimizer steps of ``per_device_train_batch_size
        × gradient_accumulation_steps × world_size`` examples, with ``args.optim`` as the optimizer.
        ``example_batch`` (a dict as the model takes it) replaces the dataloader's first batch.
        Evaluation (``eval_strategy``) is counted as forward passes when its set's size can be
        read, or given as ``eval_examples`` (over the run); otherwise a note says it is left out."""

        def __init__(self, budgets=(), at: str = "p95", example_batch=None, quiet: bool = False,
                     eval_examples: int | None = None, **kw):
            self.gate = _Gate(budgets, at, quiet, **kw)
            self.example_batch = example_batch
            if eval_examples is not None and (isinstance(eval_examples, bool) or not isinstance(eval_examples, int)
                                              or eval_examples < 0):
                raise InputError(f"eval_examples must be a whole number of examples >= 0, got {eval_examples!r}")
            self.eval_examples = eval_examples

        def on_train_begin(self, args, state, control, model=None, train_dataloader=None, **kwargs):
            if model is None:
                raise InputError("FlopestTrainerCallback: the Trainer gave no model to on_train_begin")
            batch = self.example_batch if self.example_batch is not None else \
                _first_batch(train_dataloader, "FlopestTrainerCallback")
            if not isinstance(batch, dict):
                raise InputError("FlopestTrainerCallback: the example batch must be a dict of model inputs "
                                 f"(got {type(batch).__name__}); pass example_batch=")
            world = int(getattr(args, "world_size", 1) or 1)
            per_device = _batch_size(batch, "FlopestTrainerCallback",
                                     getattr(args, "per_device_train_batch_size", None))
            global_batch = per_device * int(args.gradient_accumulation_steps or 1) * world
            steps = int(state.max_steps or 0)
            if steps <= 0:
                raise InputError("FlopestTrainerCallback: the Trainer does not know its number of steps "
                                 "(set max_steps for an iterable dataset)")
            optimizer, note = _optimizer_name(getattr(args, "optim", "adamw"))
            notes = [f"Hugging Face run: {steps:,} steps × global batch {global_batch:,} "
                     f"({per_device} per device × {args.gradient_accumulation_steps} accumulation × {world})"]
            if note:
                notes.append(note)
            if self.eval_examples is not None:
                evals, eval_note = int(self.eval_examples), f"evaluation: {int(self.eval_examples):,} examples (given)"
            else:
                evals, eval_note = _hf_evaluations(args, state, steps, kwargs.get("eval_dataloader"))
            if eval_note:
                notes.append(eval_note)
            self.gate.run(model, (), dict(batch), examples=steps * global_batch, global_batch=global_batch,
                          capture_examples=per_device, optimizer=optimizer, n_devices=world, notes=notes,
                          eval_examples=evals)
            return control

    return FlopestTrainerCallback


def _hf_evaluations(args, state, steps: int, eval_dataloader) -> tuple:
    """(evaluation examples over the run, note) of a Trainer: its eval set's size × the
    evaluations its eval_strategy runs ("epoch": one an epoch; "steps": one every eval_steps,
    a fraction of the steps when below 1); (0, None) without evaluation."""
    import math
    strategy = getattr(args, "eval_strategy", getattr(args, "evaluation_strategy", "no"))
    strategy = str(getattr(strategy, "value", strategy) or "no").lower()
    if strategy == "no":
        return 0, None
    dataset = getattr(eval_dataloader, "dataset", None)
    try:
        n = len(dataset) if dataset is not None else None
    except TypeError:
        n = None
    if strategy == "epoch":
        runs = max(1, math.ceil(float(getattr(state, "num_train_epochs", 0) or getattr(args, "num_train_epochs", 1))))
    elif strategy == "steps":
        every = getattr(args, "eval_steps", None) or getattr(args, "logging_steps", None) or 500
        every = every * steps if every < 1 else every
        runs = int(steps // max(1, int(every)))
    else:
        runs = 0
    if not runs:
        return 0, None
    if not n:
        return 0, (f"the Trainer evaluates ({strategy}, {runs:,} time(s)) but its eval set's size cannot be read at "
                   f"train begin: evaluation is left out of the estimate; give eval_examples= (the examples "
                   f"evaluated over the run) to include it")
    return n * runs, f"evaluation: {runs:,} × {n:,} examples ({strategy} strategy), forward passes"


def _make_lightning_callback():
    base = _lightning_callback_base()

    class FlopestLightningCallback(_Results, base):
        """A Lightning `Callback` that checks the run against budgets at train start and raises
        :class:`flopest.BudgetExceeded` before the first step when over.

        The model is called on ``pl_module.example_input_array`` when set (Lightning's own
        convention), else on ``example_input``, else on the first element of the first training
        batch. The run: ``trainer.estimated_stepping_batches`` optimizer steps of batch ×
        ``accumulate_grad_batches`` × ``world_size`` examples; the optimizer is read off
        ``trainer.optimizers`` when they exist, else ``optimizer=`` (default adamw)."""

        def __init__(self, budgets=(), at: str = "p95", example_input=None, optimizer: str | None = None,
                     quiet: bool = False, **kw):
            self.gate = _Gate(budgets, at, quiet, **kw)
            self.example_input = example_input
            self.optimizer = optimizer

        def on_train_start(self, trainer, pl_module):
            x = getattr(pl_module, "example_input_array", None)
            if x is None:
                x = self.example_input
            if x is None:
                batch = _first_batch(trainer.train_dataloader, "FlopestLightningCallback")
                x = batch[0] if isinstance(batch, (list, tuple)) else batch
            args, kwargs = ((), dict(x)) if isinstance(x, dict) else \
                ((tuple(x), {}) if isinstance(x, (list, tuple)) else ((x,), {}))
            captured = _batch_size(x, "FlopestLightningCallback")   # the examples of the counted pass
            # the training batch is the dataloader's, not the example input's (example_input_array is
            # often one example): read it there, else off its first batch, else the counted pass (said)
            loader = getattr(trainer, "train_dataloader", None)
            per_device, how = getattr(loader, "batch_size", None), "the train dataloader's batch_size"
            if not per_device and loader is not None:
                try:
                    first = _first_batch(loader, "FlopestLightningCallback")
                    per_device = _batch_size(first[0] if isinstance(first, (list, tuple)) else first,
                                             "FlopestLightningCallback")
                    how = "the first training batch"
                except FlopestError:
                    per_device = None
            if not per_device:
                per_device, how = captured, "the example input (no training batch could be read)"
            world = int(getattr(trainer, "world_size", 1) or 1)
            accumulate = int(getattr(trainer, "accumulate_grad_batches", 1) or 1)
            steps = int(trainer.estimated_stepping_batches)
            global_batch = per_device * accumulate * world
            optimizer, note = self.optimizer, None
            if optimizer is None:
                opts = getattr(trainer, "optimizers", None) or []
                optimizer, note = _optimizer_name(type(opts[0]).__name__ if opts else "adamw")
                defaults = getattr(opts[0], "defaults", {}) if opts else {}
                if optimizer == "sgd" and (defaults.get("momentum") or 0) > 0:   # its buffer: one more pass
                    optimizer = "sgd-momentum"
            notes = [f"Lightning run: {steps:,} steps × global batch {global_batch:,} "
                     f"({per_device} per device, from {how}, × {accumulate} accumulation × {world})"]
            if note:
                notes.append(note)
            self.gate.run(pl_module, args, kwargs, examples=steps * global_batch, global_batch=global_batch,
                          capture_examples=captured, optimizer=optimizer, n_devices=world, notes=notes)

    return FlopestLightningCallback
