"""flopest: what training and serving a model will cost, read off its graph before it runs.

>>> import flopest
>>> c = flopest.count("model.onnx", dims={"batch": 8, "sequence": 512})
>>> c.flops, c.matmul_flops, c.bytes, c.unknown_ops

Importing flopest imports neither torch nor numba (the kernel compiles on first use).
"""

from .errors import (FlopestError, InputError, ModelReadError, ModelRunError,  # noqa: E402
                     UnboundDimError, UnknownOperatorError)
from .version import __version__


from .models import count  # noqa: E402  (the one resolver; imports no framework)


def estimate(counts_or_workload=None, **kw):
    """Time, energy, CO₂eq by scope and water with p5/p50/p95 (see flopest.impact.estimate):
    ``flopest.estimate(counts, dataset_size=1.2e6, epochs=3, device="h100-sxm", region="FR")``,
    ``flopest.estimate(params=7e9, tokens=2e12, device=..., n_devices=..., region=...)`` or
    ``flopest.estimate(accelerator_hours=1.08e6, device=..., region=...)``."""
    from .impact import estimate as _estimate
    return _estimate(counts_or_workload, **kw)


def serve(model=None, *example_args, **kw):
    """Per-request cost, latency, devices, energy and CO₂eq of serving a model, with p5/p50/p95 (see
    flopest.impact.serve): ``flopest.serve(model, prompt_tokens=500, output_tokens=300,
    requests_per_day=1e6, device="h100-sxm", region="US", batch=16)`` for a transformers causal LM
    (prefill + decode with a KV cache) or an ONNX decoder with past key/values; a module with its
    example inputs, or an ONNX classifier, without output_tokens (one forward per request);
    ``flopest.serve(wh_per_request=3.96, requests_per_day=195e6, days=30, ...)`` without a model.
    Returns a ServingEstimate: ``.to_dict()``, ``.metrics()``."""
    from .impact import serve as _serve
    return _serve(model, *example_args, **kw)


def check(result, *, at: str = "p95", budgets=(), **limits):
    """Check an estimate against budgets; raise :class:`BudgetExceeded` when over any:
    ``flopest.check(est, co2eq_kg=50, energy_kwh="200kWh")`` (see flopest.budget.check)."""
    from .budget import check as _check
    return _check(result, at=at, budgets=budgets, **limits)


def guard(model, *example_args, dataset_size, **kw):
    """Count `model` for training, estimate the plan and check its budgets before training starts:
    ``flopest.guard(model, flopest.spec((32, 3, 224, 224)), dataset_size=1.28e6, epochs=90,
    device="a100-sxm4-80gb", region="FR", co2eq_kg=500)``. Returns the Estimate or raises
    :class:`BudgetExceeded` (see flopest.budget.guard)."""
    from .budget import guard as _guard
    return _guard(model, *example_args, dataset_size=dataset_size, **kw)


def __getattr__(name):   # flopest.BudgetExceeded without importing the budget module eagerly
    if name in ("BudgetExceeded", "CheckResult"):
        from . import budget
        return getattr(budget, name)
    raise AttributeError(f"module 'flopest' has no attribute {name!r}")


def spec(shape, dtype=None):
    """An example input by shape for PyTorch capture: ``flopest.spec((8, 3, 224, 224))``,
    ``flopest.spec((1, 128), "int64")``."""
    from .models import torch_frontend
    return torch_frontend().spec(shape, dtype)


__all__ = ["count", "estimate", "serve", "check", "guard", "spec", "BudgetExceeded", "FlopestError", "InputError", "ModelReadError", "UnboundDimError",
           "UnknownOperatorError", "__version__"]
