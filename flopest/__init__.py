"""flopest: what training and serving a model will cost, read off its graph before it runs.

>>> import flopest
>>> c = flopest.count("model.onnx", dims={"batch": 8, "sequence": 512})
>>> c.flops, c.matmul_flops, c.bytes, c.unknown_ops

Importing flopest imports neither torch nor numba (the kernel compiles on first use).
"""

__version__ = "0.1.0"

from .errors import (FlopestError, InputError, ModelReadError, UnboundDimError,  # noqa: E402
                     UnknownOperatorError)


def count(model, *args, dims=None, strict: bool = False, causal: bool = False,
          training: bool = False, loss_fn=None, optimizer: str | None = None,
          checkpointing: bool = False, materialize: bool = False, **kwargs):
    """FLOPs, bytes and params of `model`.

    model: an .onnx path, an onnx.ModelProto, "zoo:NAME", or a torch.nn.Module followed by its
    example inputs (tensors, ``flopest.spec(shape, dtype)``, dicts, keyword arguments as
    Hugging Face models take them), captured on meta tensors: no weight allocated.
    dims: values of an ONNX model's symbolic dims ({"batch": 8, "sequence": 512}).
    strict: raise UnknownOperatorError when any operator is not costed.
    causal: count attention operators flagged causal over the unmasked pairs only.
    training (PyTorch): forward + backward through autograd (loss = loss_fn(output), default the
    sum of the outputs); optimizer "sgd" | "sgd-momentum" | "adam" | "adamw" adds its step;
    checkpointing adds the recomputed forward. materialize: run models whose control flow
    depends on data on real CPU tensors (small models only).
    Returns a :class:`flopest.counts.Counts`; for ONNX, ``.at(**dims)`` re-binds without re-reading.
    """
    if _is_torch_module(model):
        from .counts import count_torch
        return count_torch(model, args, kwargs, strict=strict, causal=causal, training=training,
                           loss_fn=loss_fn, optimizer=optimizer, checkpointing=checkpointing,
                           materialize=materialize)
    if args or kwargs:
        raise InputError("example inputs are for PyTorch modules; an ONNX model takes dims={...}")
    from .counts import count_onnx
    from .zoo import is_zoo, resolve
    if is_zoo(model):   # "zoo:gpt2": the zoo model's ONNX export, its example dims as defaults
        model, defaults = resolve(model)
        from .counts import parse_dims
        dims = {**defaults, **parse_dims(dims)}
    return count_onnx(model, dims=dims, strict=strict, causal=causal)


def _is_torch_module(obj) -> bool:
    import sys
    torch = sys.modules.get("torch")   # a Module can only exist if torch was imported
    return torch is not None and isinstance(obj, torch.nn.Module)


def estimate(counts_or_workload=None, **kw):
    """Time, energy, CO₂eq by scope and water with p5/p50/p95 (see flopest.impact.estimate):
    ``flopest.estimate(counts, dataset_size=1.2e6, epochs=3, device="h100-sxm", region="FR")``,
    ``flopest.estimate(params=7e9, tokens=2e12, device=..., n_devices=..., region=...)`` or
    ``flopest.estimate(accelerator_hours=1.08e6, device=..., region=...)``."""
    from .impact import estimate as _estimate
    return _estimate(counts_or_workload, **kw)


def serve(model=None, *example_args, **kw):
    """Per-request cost, latency, devices, energy and CO₂eq of serving a model, with p5/p50/p95 (see
    flopest.serving.serve): ``flopest.serve(model, prompt_tokens=500, output_tokens=300,
    requests_per_day=1e6, device="h100-sxm", region="US", batch=16)`` for a transformers causal LM
    (prefill + decode with a KV cache) or an ONNX decoder with past key/values; a module with its
    example inputs, or an ONNX classifier, without output_tokens (one forward per request);
    ``flopest.serve(wh_per_request=3.96, requests_per_day=195e6, days=30, ...)`` without a model.
    Returns a ServingEstimate: ``.to_dict()``, ``.metrics()``."""
    from .serving import serve as _serve
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
    from .frontends.torch import spec as _spec
    return _spec(shape, dtype)


__all__ = ["count", "estimate", "serve", "check", "guard", "spec", "BudgetExceeded", "FlopestError", "InputError", "ModelReadError", "UnboundDimError",
           "UnknownOperatorError", "__version__"]
